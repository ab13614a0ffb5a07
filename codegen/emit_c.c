/* emit_c.c — the C backend: one translation unit per module, against the
 * runtime's public header (runtime/hycrt.h).
 *
 * Each distinct kernel becomes
 *   - an argument struct (one pointer per buffer, with its shape, and T, pos);
 *   - one `static void K_pN(void *arg, int ith, int nth)` per phase (a
 *     top-level loop): a parallel loop takes block `ith` of `nth` of its
 *     range (hycrt_split), the others ignore (ith, nth);
 *   - `static void K(const K_args *args, hycrt_pool *pool)`, which runs the
 *     phases in order: hycrt_parallel_for for a parallel one (the dispatch
 *     returns when every block is done: the barrier between phases), a
 *     plain call otherwise.
 * Shapes are constants (T excepted), pointers `restrict` (the memory plan
 * never gives one call's output the bytes of its inputs), loops as the
 * schedule lays them out: split across threads, tiled, unrolled, or
 * vectorized — inner products through AVX2 / AVX-512 intrinsics when the
 * target has them and the lanes match, other loops as fixed-width lane
 * loops that the compiler vectorizes.  Each function's forward pass calls
 * the kernels in order with pointers from the memory plan, under a
 * `// file.hyb:LINE` comment naming the instruction it computes.
 *
 * The output depends only on the program and its options: no addresses,
 * no hash-table order, no clock. */
#include "codegen.h"

#include <math.h>
#include <string.h>

/* ---- the emitter's state ------------------------------------------------------------ */

enum { MAX_LANES = 1024, MAX_ACC = 16, MAX_JAM = 16 };

typedef struct Emit {
    Arena *a;
    const CgProgram *p;
    const CgTarget *tgt;
    StrBuf *out;
    int ind;
    /* the kernel being emitted */
    const KirKernel *k;
    const char *kname;       /* its C name */
    const KirLoopInfo *info;
    const char **vname;      /* [n_vars]: the C text of each var (lane overrides) */
    /* helpers the kernels used */
    bool dot_generic[MAX_LANES + 1];
    bool dot_avx2[MAX_ACC + 1];
    bool dot_avx512[MAX_ACC + 1];
    /* register-blocked inner products (jam nests): [isa][A][B], and the
     * lane count of the portable ones */
    bool blk_used[3][MAX_JAM + 1][MAX_JAM + 1];
    bool blk_generic[7][MAX_JAM + 1][MAX_JAM + 1]; /* [log2 lanes] */
} Emit;

static void line(Emit *E, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(Emit *E, const char *fmt, ...)
{
    for (int i = 0; i < E->ind; i++) sb_puts(E->out, "    ");
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(E->out, fmt, ap);
    va_end(ap);
    sb_putc(E->out, '\n');
}

static void blank(Emit *E) { sb_putc(E->out, '\n'); }

static void print_c_string(StrBuf *sb, const char *s)
{
    sb_putc(sb, '"');
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if (*q == '"' || *q == '\\') sb_printf(sb, "\\%c", *q);
        else if (*q < 0x20 || *q >= 0x7f) sb_printf(sb, "\\%03o", *q);
        else sb_putc(sb, (char)*q);
    }
    sb_putc(sb, '"');
}

/* Text safe inside a C block comment. */
static const char *comment_safe(Arena *a, const char *s)
{
    char *c = arena_strdup(a, s);
    for (char *q = c; *q; q++) {
        if (*q == '*' && q[1] == '/') q[1] = '|';
        if (*q == '\n' || *q == '\r') *q = ' ';
    }
    return c;
}

/* ---- expressions -------------------------------------------------------------------- */

/* C precedence, high binds tighter. */
enum {
    P_LOWEST = 0,
    P_COND = 20,
    P_BOR = 40,
    P_BAND = 45,
    P_EQ = 50,
    P_REL = 60,
    P_ADD = 70,
    P_MUL = 80,
    P_UNARY = 90,
    P_PRIMARY = 100
};

static int expr_text(Emit *E, StrBuf *sb, const KirExpr *e);

/* e's text, parenthesized unless it binds at least as tightly as min. */
static void emit_at(Emit *E, StrBuf *sb, const KirExpr *e, int min)
{
    StrBuf t = {0};
    int prec = expr_text(E, &t, e);
    if (prec < min) sb_printf(sb, "(%s)", sb_cstr(&t));
    else sb_puts(sb, sb_cstr(&t));
    sb_free(&t);
}

static int const_text(StrBuf *sb, const KirExpr *e)
{
    char buf[32];
    switch (e->type) {
    case KIR_F32:
    case KIR_F64:
        if (isnan(e->f)) {
            sb_puts(sb, e->type == KIR_F32 ? "NAN" : "(double)NAN");
            return P_PRIMARY;
        }
        if (isinf(e->f)) {
            sb_puts(sb, e->type == KIR_F32 ? (e->f < 0 ? "-INFINITY" : "INFINITY") : (e->f < 0 ? "-(double)INFINITY" : "(double)INFINITY"));
            return e->f < 0 ? P_UNARY : P_PRIMARY;
        }
        if (e->type == KIR_F32) fmt_f32(buf, (float)e->f);
        else fmt_f64(buf, e->f);
        sb_printf(sb, "%s%s", buf, e->type == KIR_F32 ? "f" : "");
        return e->f < 0 ? P_UNARY : P_PRIMARY;
    case KIR_I32:
    case KIR_I64:
        if (e->i >= -2147483647 && e->i <= 2147483647) sb_printf(sb, "%lld", (long long)e->i);
        else sb_printf(sb, "INT64_C(%lld)", (long long)e->i);
        return e->i < 0 ? P_UNARY : P_PRIMARY;
    default: HYC_UNREACHABLE();
    }
}

/* The flat row-major index of buf[idx...], constant parts folded. */
static void index_text(Emit *E, StrBuf *sb, const KirBuf *b, int n, KirExpr *const *idx)
{
    int64_t c = 0;
    bool any = false;
    for (int d = 0; d < n; d++) {
        int64_t v, stride = kir_buf_stride(b, d);
        if (kir_expr_is_const_i(idx[d], &v)) {
            c += v * stride;
            continue;
        }
        if (any) sb_puts(sb, " + ");
        if (stride == 1) {
            emit_at(E, sb, idx[d], P_ADD);
        } else {
            emit_at(E, sb, idx[d], P_MUL);
            sb_printf(sb, " * %lld", (long long)stride);
        }
        any = true;
    }
    if (!any) sb_printf(sb, "%lld", (long long)c);
    else if (c > 0) sb_printf(sb, " + %lld", (long long)c);
    else if (c < 0) sb_printf(sb, " - %lld", (long long)-c);
}

static const char *type_suffix(KirType t) { return kir_type_name(t); }

/* f32 math is the libm function with an `f`; f64 the plain one. */
static const char *libm_name(KirOp op, KirType t, char *buf)
{
    const char *base = NULL;
    switch (op) {
    case KIR_OP_EXP: base = "exp"; break;
    case KIR_OP_EXPM1: base = "expm1"; break;
    case KIR_OP_LOG: base = "log"; break;
    case KIR_OP_LOG1P: base = "log1p"; break;
    case KIR_OP_SQRT: base = "sqrt"; break;
    case KIR_OP_TANH: base = "tanh"; break;
    case KIR_OP_ERF: base = "erf"; break;
    case KIR_OP_COS: base = "cos"; break;
    case KIR_OP_SIN: base = "sin"; break;
    default: return NULL;
    }
    snprintf(buf, 32, "%s%s", base, t == KIR_F32 ? "f" : "");
    return buf;
}

static int binary_text(Emit *E, StrBuf *sb, const KirExpr *e, const char *op, int prec)
{
    emit_at(E, sb, e->args[0], prec);
    sb_printf(sb, " %s ", op);
    emit_at(E, sb, e->args[1], prec + 1);
    return prec;
}

static int call_text(Emit *E, StrBuf *sb, const char *fn, const KirExpr *e)
{
    sb_printf(sb, "%s(", fn);
    for (int i = 0; i < e->n_args; i++) {
        if (i) sb_puts(sb, ", ");
        emit_at(E, sb, e->args[i], P_COND + 1);
    }
    sb_putc(sb, ')');
    return P_PRIMARY;
}

static int op_text(Emit *E, StrBuf *sb, const KirExpr *e)
{
    char buf[48];
    KirType t0 = e->args[0]->type;
    switch (e->op) {
    case KIR_OP_ADD: return binary_text(E, sb, e, "+", P_ADD);
    case KIR_OP_SUB: return binary_text(E, sb, e, "-", P_ADD);
    case KIR_OP_MUL: return binary_text(E, sb, e, "*", P_MUL);
    case KIR_OP_DIV: return binary_text(E, sb, e, "/", P_MUL);
    case KIR_OP_REM: return binary_text(E, sb, e, "%", P_MUL);
    case KIR_OP_LT: return binary_text(E, sb, e, "<", P_REL);
    case KIR_OP_LE: return binary_text(E, sb, e, "<=", P_REL);
    case KIR_OP_GT: return binary_text(E, sb, e, ">", P_REL);
    case KIR_OP_GE: return binary_text(E, sb, e, ">=", P_REL);
    case KIR_OP_EQ: return binary_text(E, sb, e, "==", P_EQ);
    case KIR_OP_NE: return binary_text(E, sb, e, "!=", P_EQ);
    case KIR_OP_AND:
    case KIR_OP_OR:
        /* operands fully parenthesized: no -Wparentheses, no doubt */
        emit_at(E, sb, e->args[0], P_UNARY);
        sb_puts(sb, e->op == KIR_OP_AND ? " & " : " | ");
        emit_at(E, sb, e->args[1], P_UNARY);
        return e->op == KIR_OP_AND ? P_BAND : P_BOR;
    case KIR_OP_MIN:
    case KIR_OP_MAX:
        snprintf(buf, sizeof buf, "hyc_%s_%s", e->op == KIR_OP_MIN ? "min" : "max", type_suffix(t0));
        return call_text(E, sb, buf, e);
    case KIR_OP_FMA:
        /* a*b + c: the compiler fuses it where -ffp-contract allows */
        emit_at(E, sb, e->args[0], P_MUL);
        sb_puts(sb, " * ");
        emit_at(E, sb, e->args[1], P_MUL + 1);
        sb_puts(sb, " + ");
        emit_at(E, sb, e->args[2], P_ADD + 1);
        return P_ADD;
    case KIR_OP_NEG: {
        StrBuf t = {0};
        int prec = expr_text(E, &t, e->args[0]);
        if (prec < P_UNARY || t.data[0] == '-') sb_printf(sb, "-(%s)", t.data);
        else sb_printf(sb, "-%s", t.data);
        sb_free(&t);
        return P_UNARY;
    }
    case KIR_OP_SELECT:
        emit_at(E, sb, e->args[0], P_UNARY);
        sb_puts(sb, " ? ");
        emit_at(E, sb, e->args[1], P_COND + 1);
        sb_puts(sb, " : ");
        emit_at(E, sb, e->args[2], P_COND + 1);
        return P_COND;
    case KIR_OP_RSQRT:
        sb_puts(sb, t0 == KIR_F32 ? "1.0f / sqrtf(" : "1.0 / sqrt(");
        emit_at(E, sb, e->args[0], P_COND + 1);
        sb_putc(sb, ')');
        return P_MUL;
    case KIR_OP_SIGMOID:
    case KIR_OP_SOFTPLUS:
    case KIR_OP_SILU:
        snprintf(buf, sizeof buf, "hyc_%s_%s", kir_op_info(e->op)->name, type_suffix(t0));
        return call_text(E, sb, buf, e);
    case KIR_OP_EXP:
        if (t0 == KIR_F32) return call_text(E, sb, "hyc_exp_f32", e); /* vectorizable, <= 2 ulp */
        return call_text(E, sb, "exp", e);
    case KIR_OP_TO_F32:
    case KIR_OP_TO_F64:
    case KIR_OP_TO_I32:
    case KIR_OP_TO_I64:
        sb_printf(sb, "(%s)", kir_type_ctype(e->type));
        emit_at(E, sb, e->args[0], P_UNARY);
        return P_UNARY;
    default: {
        const char *fn = libm_name(e->op, t0, buf);
        HYC_ASSERT(fn);
        return call_text(E, sb, fn, e);
    }
    }
}

static int expr_text(Emit *E, StrBuf *sb, const KirExpr *e)
{
    switch (e->kind) {
    case KIR_E_CONST: return const_text(sb, e);
    case KIR_E_VAR: sb_puts(sb, E->vname[e->id]); return P_PRIMARY;
    case KIR_E_LOAD:
        sb_printf(sb, "%s[", E->k->bufs[e->id].name);
        index_text(E, sb, &E->k->bufs[e->id], e->n_args, e->args);
        sb_putc(sb, ']');
        return P_PRIMARY;
    case KIR_E_OP: return op_text(E, sb, e);
    }
    HYC_UNREACHABLE();
}

/* e as C text, parenthesized unless it binds at least as tightly as min. */
static const char *expr_str_at(Emit *E, const KirExpr *e, int min)
{
    StrBuf sb = {0};
    emit_at(E, &sb, e, min);
    const char *s = arena_strdup(E->a, sb_cstr(&sb));
    sb_free(&sb);
    return s;
}

static const char *expr_str(Emit *E, const KirExpr *e)
{
    StrBuf sb = {0};
    emit_at(E, &sb, e, P_LOWEST);
    const char *s = arena_strdup(E->a, sb_cstr(&sb));
    sb_free(&sb);
    return s;
}

/* e with var replaced by r (a new tree; untouched subtrees shared). */
static KirExpr *subst(Arena *a, KirExpr *e, int var, KirExpr *r)
{
    if (e->kind == KIR_E_VAR) return e->id == var ? r : e;
    if (!kir_expr_uses_var(e, var)) return e;
    KirExpr *c = ARENA_NEW(a, KirExpr);
    *c = *e;
    c->args = ARENA_NEW_N(a, KirExpr *, e->n_args);
    for (int i = 0; i < e->n_args; i++) c->args[i] = subst(a, e->args[i], var, r);
    return c;
}

/* ---- statements --------------------------------------------------------------------- */

static void emit_block(Emit *E, const KirBlock *b);

static void emit_stmt(Emit *E, const KirStmt *s);

/* The body of a loop as one iteration with `var` bound to the C text v. */
static void emit_iteration(Emit *E, const KirStmt *loop, const char *v)
{
    line(E, "const int64_t %s = %s;", E->k->vars[loop->var].name, v);
    emit_block(E, &loop->body);
}

static const char *red_identity(KirRedKind r)
{
    switch (r) {
    case KIR_RED_ADD:
    case KIR_RED_FMA: return "0.0f";
    case KIR_RED_MAX: return "-INFINITY";
    case KIR_RED_MIN: return "INFINITY";
    default: HYC_UNREACHABLE();
    }
}

typedef struct Reduction {
    int var;
    KirRedKind kind;
} Reduction;

/* The outer locals a vectorized loop reduces into (in first-update order). */
static int loop_reductions(Arena *a, const KirKernel *k, const KirStmt *loop, Reduction *out, int max)
{
    int n = 0;
    bool *inside = ARENA_NEW_N(a, bool, k->n_vars);
    /* innermost loop: statements are its body and nested ifs */
    const KirBlock *blocks[64];
    int nb = 0;
    blocks[nb++] = &loop->body;
    for (int bi = 0; bi < nb; bi++) {
        const KirBlock *b = blocks[bi];
        for (int i = 0; i < b->n; i++) {
            const KirStmt *s = b->stmts[i];
            if (s->kind == KIR_S_VAR) inside[s->var] = true;
            if (s->kind == KIR_S_IF && nb + 2 <= 64) {
                blocks[nb++] = &s->body;
                blocks[nb++] = &s->els;
            }
            if (s->kind != KIR_S_ASSIGN || inside[s->var]) continue;
            bool seen = false;
            for (int j = 0; j < n; j++) seen |= out[j].var == s->var;
            if (!seen && n < max) out[n++] = (Reduction){s->var, kir_reduction_of(s)};
        }
    }
    return n;
}

/* The helper for an inner product of `vec` lanes and `unroll`
 * accumulators: intrinsics when the target has a vector of exactly that
 * many f32 lanes, portable lane loops otherwise.  Records its use. */
static const char *dot_helper(Emit *E, int vec, int unroll)
{
    if (E->tgt->isa == CG_ISA_AVX512 && vec == 16) {
        E->dot_avx512[unroll] = true;
        return arena_printf(E->a, "hyc_dot_avx512_x%d", unroll);
    }
    if (E->tgt->isa != CG_ISA_GENERIC && vec == 8) {
        E->dot_avx2[unroll] = true;
        return arena_printf(E->a, "hyc_dot_avx2_x%d", unroll);
    }
    int lanes = vec * unroll;
    HYC_ASSERT(lanes <= MAX_LANES);
    E->dot_generic[lanes] = true;
    return arena_printf(E->a, "hyc_dot_lanes%d", lanes);
}

/* acc = acc + dot(&a[base], &b[base], hi - lo): the inner product loop as
 * one helper call.  The base addresses are the loads' indices at the first
 * iteration: lo_e substituted for the loop variable, or, when the bound is
 * only C text (a thread's block, a tile), that text. */
static void emit_dot(Emit *E, const KirStmt *loop, const KirLoopSched *ls, const char *lo_s, const char *hi_s,
                     KirExpr *lo_e, KirExpr *hi_e)
{
    const KirStmt *as = loop->body.stmts[0];
    const KirExpr *fm = as->value;
    const char *helper = dot_helper(E, ls->vec, ls->unroll);
    const char *saved = E->vname[loop->var];
    if (!lo_e) E->vname[loop->var] = lo_s;
    StrBuf ptr[2] = {{0}, {0}};
    for (int i = 0; i < 2; i++) {
        const KirExpr *ld = fm->args[i];
        KirExpr **idx = ARENA_NEW_N(E->a, KirExpr *, ld->n_args);
        for (int d = 0; d < ld->n_args; d++) idx[d] = lo_e ? subst(E->a, ld->args[d], loop->var, lo_e) : ld->args[d];
        sb_printf(&ptr[i], "&%s[", E->k->bufs[ld->id].name);
        index_text(E, &ptr[i], &E->k->bufs[ld->id], ld->n_args, idx);
        sb_putc(&ptr[i], ']');
    }
    E->vname[loop->var] = saved;
    const char *acc = E->vname[as->var];
    /* the count, hi - lo, with the operands' precedence respected */
    int64_t c;
    const char *n_s;
    if (lo_e && kir_expr_is_const_i(lo_e, &c) && c == 0)
        n_s = hi_e ? expr_str(E, hi_e) : hi_s;
    else
        n_s = arena_printf(E->a, "%s - %s", hi_e ? expr_str_at(E, hi_e, P_ADD) : hi_s,
                           lo_e ? expr_str_at(E, lo_e, P_ADD + 1) : lo_s);
    line(E, "%s = %s + %s(%s, %s, %s); /* L%d: the sum over %s */", acc, acc, helper, sb_cstr(&ptr[0]),
         sb_cstr(&ptr[1]), n_s, loop->loop, E->k->vars[loop->var].name);
    sb_free(&ptr[0]);
    sb_free(&ptr[1]);
}

/* ---- lane loops without cross-iteration memory dependences ----
 * Buffers never overlap (the memory plan; hence `restrict`), but compilers do
 * not trust `restrict` on pointers loaded from the argument struct, and at
 * -O2 (GCC's very cheap cost model) they will not version a loop for
 * aliasing: a lane loop that stores and loads stays scalar.  When the loop's
 * own accesses provably carry no dependence from one iteration to another,
 * the lane loop gets HYC_IVDEP (GCC ivdep, clang assume_safety), which only
 * tells the compiler what is true. */

static bool expr_same(const KirExpr *a, const KirExpr *b)
{
    if (a->kind != b->kind || a->type != b->type || a->n_args != b->n_args) return false;
    switch (a->kind) {
    case KIR_E_CONST: return kir_type_is_float(a->type) ? a->f == b->f : a->i == b->i;
    case KIR_E_VAR: return a->id == b->id;
    case KIR_E_LOAD:
        if (a->id != b->id) return false;
        break;
    case KIR_E_OP:
        if (a->op != b->op) return false;
        break;
    }
    for (int i = 0; i < a->n_args; i++)
        if (!expr_same(a->args[i], b->args[i])) return false;
    return true;
}

static bool idx_same(KirExpr *const *a, KirExpr *const *b, int n)
{
    for (int i = 0; i < n; i++)
        if (!expr_same(a[i], b[i])) return false;
    return true;
}

typedef struct LaneDeps {
    const KirKernel *k;
    int var;                  /* the lane loop's variable */
    const KirStmt *store[64]; /* the first store to each stored buffer */
    int lane_dim[64];         /* its index that moves with the lane */
    int n_store;
    bool ok;
} LaneDeps;

static int first_store(const LaneDeps *d, int buf)
{
    for (int i = 0; i < d->n_store; i++)
        if (d->store[i]->buf == buf) return i;
    return -1;
}

/* An access of stored buffer number `st` (its index `idx`) has the first
 * store's index in the lane dimension: then accesses on different lanes
 * touch different elements, whatever their other indices (a scan updating
 * several states of one channel per lane stores one buffer at several
 * rows, all at the lane's column). */
static bool lane_dim_same(const LaneDeps *d, int st, KirExpr *const *idx)
{
    int dim = d->lane_dim[st];
    return idx_same(&idx[dim], &d->store[st]->idx[dim], 1);
}

/* Every load of a stored buffer in e reads on its lane's elements. */
static void lane_loads(LaneDeps *d, const KirExpr *e)
{
    if (e->kind == KIR_E_LOAD) {
        int st = first_store(d, e->id);
        if (st >= 0 && !lane_dim_same(d, st, e->args)) d->ok = false;
    }
    for (int i = 0; i < e->n_args; i++) lane_loads(d, e->args[i]);
}

/* A store writes a different element on each iteration: one of its indices
 * is affine in the loop variable with a nonzero coefficient, and every other
 * store of the buffer has the same expression there. */
static void lane_store(LaneDeps *d, const KirStmt *s)
{
    int st = first_store(d, s->buf);
    if (st >= 0) {
        if (!lane_dim_same(d, st, s->idx)) d->ok = false;
        return;
    }
    int dim = -1;
    for (int i = 0; i < s->n_idx && dim < 0; i++) {
        int64_t c;
        if (kir_affine_coeff(s->idx[i], d->var, &c) && c != 0) dim = i;
    }
    if (dim < 0 || d->n_store == 64) {
        d->ok = false;
        return;
    }
    d->lane_dim[d->n_store] = dim;
    d->store[d->n_store++] = s;
}

static void lane_collect(const KirStmt *s, int depth, void *ctx)
{
    if (s->kind == KIR_S_STORE) lane_store(ctx, s);
    else if (s->kind == KIR_S_FOR) ((LaneDeps *)ctx)->ok = false;
}

static void lane_check(const KirStmt *s, int depth, void *ctx)
{
    LaneDeps *d = ctx;
    if (s->value) lane_loads(d, s->value);
    for (int i = 0; i < s->n_idx; i++) lane_loads(d, s->idx[i]);
}

static bool lanes_independent(const KirKernel *k, const KirStmt *loop)
{
    LaneDeps d = {.k = k, .var = loop->var, .ok = true};
    kir_walk(&loop->body, lane_collect, &d);
    if (d.ok) kir_walk(&loop->body, lane_check, &d);
    return d.ok;
}

/* acc += the sum of the lane array lv_l_[lanes], as a tree: halves added
 * lane-wise (each level a fixed-count loop the compiler vectorizes), then
 * the last two lanes.  In order, the sixteen dependent scalar adds of a
 * 16-lane array took longer than the vector loop before them wherever that
 * loop is short (a Mamba-2 state row: 8 vectors).  The schedule allows the
 * reassociation (a vec loop's sum is already split into lanes), and the
 * LLVM backend ends the same reductions with a tree. */
static void emit_lane_sum(Emit *E, const char *acc, const char *lv, int lanes)
{
    if (lanes < 4 || (lanes & (lanes - 1)) != 0) {
        line(E, "for (int l_ = 0; l_ < %d; l_++) %s = %s + %s_l_[l_];", lanes, acc, acc, lv);
        return;
    }
    for (int w = lanes / 2; w >= 2; w /= 2)
        line(E, "for (int l_ = 0; l_ < %d; l_++) %s_l_[l_] += %s_l_[l_ + %d];", w, lv, lv, w);
    line(E, "%s = %s + (%s_l_[0] + %s_l_[1]);", acc, acc, lv, lv);
}

/* A vectorized loop in portable C: blocks of W*U iterations, each a
 * fixed-count lane loop (what compilers vectorize), reductions into one
 * lane array per reduced local, combined after; the remainder scalar.
 * trip >= 0: the constant trip count, which may make the remainder or the
 * block loop unnecessary. */
static void emit_lanes(Emit *E, const KirStmt *loop, int lanes, const char *lo, const char *hi, int64_t trip)
{
    const KirKernel *k = E->k;
    const char *v = k->vars[loop->var].name;
    Reduction red[8];
    int nr = loop_reductions(E->a, k, loop, red, 8);
    bool exact = trip >= 0 && trip % lanes == 0, one_block = trip == lanes;
    bool braces = nr > 0 || !exact; /* a scope for the lane arrays, the block index */
    if (braces) {
        line(E, "{");
        E->ind++;
    }
    for (int r = 0; r < nr; r++) {
        const char *id = red_identity(red[r].kind);
        StrBuf init = {0};
        for (int l = 0; l < lanes; l++) sb_printf(&init, "%s%s", l ? ", " : "", id);
        line(E, "float %s_l_[%d] = {%s};", k->vars[red[r].var].name, lanes, sb_cstr(&init));
        sb_free(&init);
    }
    const char *base = lo;
    if (!one_block) {
        if (exact) {
            line(E, "for (int64_t %s_v_ = %s; %s_v_ < %s; %s_v_ += %d) {", v, lo, v, hi, v, lanes);
        } else {
            line(E, "int64_t %s_v_ = %s;", v, lo);
            line(E, "for (; %s_v_ + %d <= %s; %s_v_ += %d) {", v, lanes, hi, v, lanes);
        }
        E->ind++;
        base = arena_printf(E->a, "%s_v_", v);
    }
    if (lanes_independent(k, loop)) line(E, "HYC_IVDEP");
    line(E, "for (int l_ = 0; l_ < %d; l_++) {", lanes);
    E->ind++;
    const char **saved = ARENA_NEW_N(E->a, const char *, nr ? nr : 1);
    for (int r = 0; r < nr; r++) {
        saved[r] = E->vname[red[r].var];
        E->vname[red[r].var] = arena_printf(E->a, "%s_l_[l_]", k->vars[red[r].var].name);
    }
    emit_iteration(E, loop, strcmp(base, "0") == 0 ? "l_" : arena_printf(E->a, "%s + l_", base));
    for (int r = 0; r < nr; r++) E->vname[red[r].var] = saved[r];
    E->ind--;
    line(E, "}");
    if (!one_block) {
        E->ind--;
        line(E, "}");
    }
    for (int r = 0; r < nr; r++) {
        const char *acc = E->vname[red[r].var];
        const char *lv = k->vars[red[r].var].name;
        if (red[r].kind == KIR_RED_MAX || red[r].kind == KIR_RED_MIN)
            line(E, "for (int l_ = 0; l_ < %d; l_++) %s = hyc_%s_f32(%s, %s_l_[l_]);", lanes, acc,
                 red[r].kind == KIR_RED_MAX ? "max" : "min", acc, lv);
        else
            emit_lane_sum(E, acc, lv, lanes);
    }
    if (!exact) {
        line(E, "for (int64_t %s = %s_v_; %s < %s; %s++) {", v, v, v, hi, v);
        E->ind++;
        emit_block(E, &loop->body);
        E->ind--;
        line(E, "}");
    }
    if (braces) {
        E->ind--;
        line(E, "}");
    }
}

/* Unrolled by U: U copies of the body per step, then the remainder. */
static void emit_unrolled(Emit *E, const KirStmt *loop, int U, const char *lo, const char *hi)
{
    const char *v = E->k->vars[loop->var].name;
    line(E, "{");
    E->ind++;
    line(E, "int64_t %s_u_ = %s;", v, lo);
    line(E, "for (; %s_u_ + %d <= %s; %s_u_ += %d) {", v, U, hi, v, U);
    E->ind++;
    for (int u = 0; u < U; u++) {
        line(E, "{");
        E->ind++;
        emit_iteration(E, loop, arena_printf(E->a, "%s_u_ + %d", v, u));
        E->ind--;
        line(E, "}");
    }
    E->ind--;
    line(E, "}");
    line(E, "for (int64_t %s = %s_u_; %s < %s; %s++) {", v, v, v, hi, v);
    E->ind++;
    emit_block(E, &loop->body);
    E->ind--;
    line(E, "}");
    E->ind--;
    line(E, "}");
}

/* The loop over [lo, hi) as its schedule says (tile and threads done). */
static void emit_inner_loop(Emit *E, const KirStmt *s, const KirLoopSched *ls, const char *lo, const char *hi,
                            KirExpr *lo_e, KirExpr *hi_e)
{
    const char *v = E->k->vars[s->var].name;
    if (ls->vec > 1 && E->info[s->loop].dot) {
        emit_dot(E, s, ls, lo, hi, lo_e, hi_e);
    } else if (ls->vec > 1) {
        emit_lanes(E, s, ls->vec * ls->unroll, lo, hi, lo_e ? E->info[s->loop].trip : -1);
    } else if (ls->unroll > 1) {
        emit_unrolled(E, s, ls->unroll, lo, hi);
    } else {
        if (s->step == 1) line(E, "for (int64_t %s = %s; %s < %s; %s++) {", v, lo, v, hi, v);
        else line(E, "for (int64_t %s = %s; %s < %s; %s += %lld) {", v, lo, v, hi, v, (long long)s->step);
        E->ind++;
        emit_block(E, &s->body);
        E->ind--;
        line(E, "}");
    }
}

/* ---- jam nests: register-blocked inner products --------------------------------- */

/* The helper computing JA x JB inner products in one pass (emit_blk_*). */
static const char *blk_helper(Emit *E, int vec, int JA, int JB)
{
    int isa = E->tgt->isa == CG_ISA_AVX512 && vec == 16 ? 2 : E->tgt->isa != CG_ISA_GENERIC && vec == 8 ? 1 : 0;
    if (isa) E->blk_used[isa][JA][JB] = true;
    if (isa == 2) return arena_printf(E->a, "hyc_dotblk_avx512_%dx%d", JA, JB);
    if (isa == 1) return arena_printf(E->a, "hyc_dotblk_avx2_%dx%d", JA, JB);
    int lg = 0;
    while ((1 << lg) < vec) lg++;
    HYC_ASSERT(lg < 7 && (1 << lg) == vec); /* the verifier allows powers of two to 64 */
    E->blk_generic[lg][JA][JB] = true;
    return arena_printf(E->a, "hyc_dotblk_lanes%d_%dx%d", vec, JA, JB);
}

/* &buf[index of load ld at the block's first iteration]: the jammed vars
 * are bound to their block starts by the caller, the dot's var to lo. */
static const char *blk_pointer(Emit *E, const KirExpr *ld, int dot_var, KirExpr *lo)
{
    StrBuf sb = {0};
    KirExpr **idx = ARENA_NEW_N(E->a, KirExpr *, ld->n_args);
    for (int d = 0; d < ld->n_args; d++) idx[d] = subst(E->a, ld->args[d], dot_var, lo);
    sb_printf(&sb, "&%s[", E->k->bufs[ld->id].name);
    index_text(E, &sb, &E->k->bufs[ld->id], ld->n_args, idx);
    sb_putc(&sb, ']');
    const char *r = arena_strdup(E->a, sb_cstr(&sb));
    sb_free(&sb);
    return r;
}

/* The inner loop's body with the inner product taken from the block's
 * results: acc = acc + blk[(o - o0) * JB + (t - t0)]. */
static void emit_jam_body(Emit *E, const KirJamNest *j, int JB, const char *a0, const char *b0)
{
    const KirKernel *k = E->k;
    const char *va = E->vname[j->outer->var], *vb = E->vname[j->inner->var];
    for (int i = 0; i < j->inner->body.n; i++) {
        if (i != j->dot_at) {
            emit_stmt(E, j->inner->body.stmts[i]);
            continue;
        }
        const char *acc = E->vname[j->acc];
        line(E, "%s = %s + %s_b_[(%s - %s) * %d + (%s - %s)]; /* L%d: the sum over %s */", acc, acc,
             k->vars[j->acc].name, va, a0, JB, vb, b0, j->dot->loop, k->vars[j->dot->var].name);
    }
}

/* A jam nest (kir_jam_nest) as blocks of JA x JB iterations of its two
 * loops, each one helper call computing the block's JA*JB inner products
 * in a single pass over k (JA + JB vector loads per JA*JB FMAs), then the
 * rest of the body per iteration; leftover rows and columns run the loops
 * as scheduled without jam.  A parallel outer loop is split over the
 * threads in whole blocks. */
static void emit_jam(Emit *E, const KirStmt *A, const KirJamNest *j)
{
    const KirKernel *k = E->k;
    const KirLoopSched *la = &k->sched.loops[A->loop], *lb = &k->sched.loops[j->inner->loop];
    const KirLoopSched *ld = &k->sched.loops[j->dot->loop];
    int JA = la->jam > 1 ? la->jam : 1, JB = lb->jam > 1 ? lb->jam : 1;
    const char *va = k->vars[A->var].name, *vb = k->vars[j->inner->var].name;
    const char *lo = expr_str_at(E, A->lo, P_ADD), *hi = expr_str_at(E, A->hi, P_REL + 1);
    line(E, "{ /* L%d x L%d: %s and %s jammed %d x %d (register-blocked inner products)%s */", A->loop,
         j->inner->loop, va, vb, JA, JB, la->parallel ? ", split over the threads in blocks" : "");
    E->ind++;
    if (la->parallel) {
        line(E, "int64_t %s_lo_, %s_hi_;", va, va);
        line(E, "const int64_t %s_n_ = hyc_max_i64(%s - %s, 0);", va, hi, lo);
        line(E, "hycrt_split((%s_n_ + %d) / %d, ith, nth, &%s_lo_, &%s_hi_);", va, JA - 1, JA, va, va);
        line(E, "%s_hi_ = %s + hyc_min_i64(%s_hi_ * %d, %s_n_);", va, lo, va, JA, va);
        line(E, "%s_lo_ = %s + %s_lo_ * %d;", va, lo, va, JA);
        lo = arena_printf(E->a, "%s_lo_", va);
        hi = arena_printf(E->a, "%s_hi_", va);
    }
    const char *blo = expr_str_at(E, j->inner->lo, P_ADD), *bhi = expr_str_at(E, j->inner->hi, P_REL + 1);
    const char *a0 = arena_printf(E->a, "%s_j_", va), *b0 = arena_printf(E->a, "%s_j_", vb);
    line(E, "int64_t %s = %s;", a0, lo);
    line(E, "for (; %s + %d <= %s; %s += %d) {", a0, JA, hi, a0, JA);
    E->ind++;
    line(E, "int64_t %s = %s;", b0, blo);
    line(E, "for (; %s + %d <= %s; %s += %d) {", b0, JB, bhi, b0, JB);
    E->ind++;
    /* the block's inner products */
    const KirExpr *fm = j->dot->body.stmts[0]->value;
    const char *sva = E->vname[A->var], *svb = E->vname[j->inner->var];
    E->vname[A->var] = a0;
    E->vname[j->inner->var] = b0;
    const char *pa = blk_pointer(E, fm->args[j->arg_outer], j->dot->var, j->dot->lo);
    const char *pb = blk_pointer(E, fm->args[j->arg_inner], j->dot->var, j->dot->lo);
    E->vname[A->var] = sva;
    E->vname[j->inner->var] = svb;
    int64_t c;
    const char *n_s = kir_expr_is_const_i(j->dot->lo, &c) && c == 0
                          ? expr_str(E, j->dot->hi)
                          : arena_printf(E->a, "%s - %s", expr_str_at(E, j->dot->hi, P_ADD),
                                         expr_str_at(E, j->dot->lo, P_ADD + 1));
    const char *accn = k->vars[j->acc].name;
    line(E, "float %s_b_[%d];", accn, JA * JB);
    line(E, "%s(%s, %lld, %s, %lld, %s, %s_b_);", blk_helper(E, ld->vec, JA, JB), pa, (long long)j->stride_outer, pb,
         (long long)j->stride_inner, n_s, accn);
    line(E, "for (int64_t %s = %s; %s < %s + %d; %s++) {", va, a0, va, a0, JA, va);
    E->ind++;
    line(E, "for (int64_t %s = %s; %s < %s + %d; %s++) {", vb, b0, vb, b0, JB, vb);
    E->ind++;
    emit_jam_body(E, j, JB, a0, b0);
    E->ind--;
    line(E, "}");
    E->ind--;
    line(E, "}");
    E->ind--;
    line(E, "}");
    /* leftover columns of this block of rows */
    line(E, "for (int64_t %s = %s; %s < %s + %d; %s++) {", va, a0, va, a0, JA, va);
    E->ind++;
    line(E, "for (int64_t %s = %s; %s < %s; %s++) {", vb, b0, vb, bhi, vb);
    E->ind++;
    emit_block(E, &j->inner->body);
    E->ind--;
    line(E, "}");
    E->ind--;
    line(E, "}");
    E->ind--;
    line(E, "}");
    /* leftover rows */
    line(E, "for (int64_t %s = %s; %s < %s; %s++) {", va, a0, va, hi, va);
    E->ind++;
    emit_block(E, &A->body);
    E->ind--;
    line(E, "}");
    E->ind--;
    line(E, "}");
}

static void emit_for(Emit *E, const KirStmt *s)
{
    const KirLoopSched *ls = &E->k->sched.loops[s->loop];
    KirJamNest jn;
    if (kir_jam_nest(E->k, s, &jn) && (ls->jam > 1 || E->k->sched.loops[jn.inner->loop].jam > 1)) {
        emit_jam(E, s, &jn);
        return;
    }
    const char *v = E->k->vars[s->var].name;
    /* lo appears in `v = lo` and `lo + l_`, hi in `v < hi` and `v + 8 <= hi`:
     * integer + is associative, comparisons bind looser than + */
    const char *lo = expr_str_at(E, s->lo, P_ADD), *hi = expr_str_at(E, s->hi, P_REL + 1);
    KirExpr *lo_e = s->lo, *hi_e = s->hi;
    bool braces = ls->parallel || ls->tile > 0;
    if (braces) {
        line(E, "{ /* L%d: %s%s%s */", s->loop, v, ls->parallel ? ", split over the threads" : "",
             ls->tile > 0 ? arena_printf(E->a, ", in tiles of %d", ls->tile) : "");
        E->ind++;
    }
    if (ls->parallel) {
        line(E, "int64_t %s_lo_, %s_hi_;", v, v);
        if (strcmp(lo, "0") == 0) {
            line(E, "hycrt_split(%s, ith, nth, &%s_lo_, &%s_hi_);", hi, v, v);
        } else {
            StrBuf n = {0};
            emit_at(E, &n, s->hi, P_ADD);
            sb_puts(&n, " - ");
            emit_at(E, &n, s->lo, P_ADD + 1);
            line(E, "hycrt_split(hyc_max_i64(%s, 0), ith, nth, &%s_lo_, &%s_hi_);", sb_cstr(&n), v, v);
            line(E, "%s_lo_ += %s;", v, lo);
            line(E, "%s_hi_ += %s;", v, lo);
            sb_free(&n);
        }
        lo = arena_printf(E->a, "%s_lo_", v);
        hi = arena_printf(E->a, "%s_hi_", v);
        lo_e = hi_e = NULL;
    }
    if (ls->tile > 0) {
        line(E, "for (int64_t %s_t_ = %s; %s_t_ < %s; %s_t_ += %d) {", v, lo, v, hi, v, ls->tile);
        E->ind++;
        line(E, "const int64_t %s_e_ = hyc_min_i64(%s_t_ + %d, %s);", v, v, ls->tile, hi);
        lo = arena_printf(E->a, "%s_t_", v);
        hi = arena_printf(E->a, "%s_e_", v);
        lo_e = hi_e = NULL;
    }
    emit_inner_loop(E, s, ls, lo, hi, lo_e, hi_e);
    if (ls->tile > 0) {
        E->ind--;
        line(E, "}");
    }
    if (braces) {
        E->ind--;
        line(E, "}");
    }
}

static void emit_stmt(Emit *E, const KirStmt *s)
{
    const KirKernel *k = E->k;
    switch (s->kind) {
    case KIR_S_FOR: emit_for(E, s); return;
    case KIR_S_VAR:
        line(E, "%s %s = %s;", kir_type_ctype(k->vars[s->var].type), E->vname[s->var], expr_str(E, s->value));
        return;
    case KIR_S_ASSIGN: line(E, "%s = %s;", E->vname[s->var], expr_str(E, s->value)); return;
    case KIR_S_STORE: {
        StrBuf sb = {0};
        index_text(E, &sb, &k->bufs[s->buf], s->n_idx, s->idx);
        line(E, "%s[%s] = %s;", k->bufs[s->buf].name, sb_cstr(&sb), expr_str(E, s->value));
        sb_free(&sb);
        return;
    }
    case KIR_S_IF:
        line(E, "if (%s) {", expr_str(E, s->value));
        E->ind++;
        emit_block(E, &s->body);
        E->ind--;
        if (s->els.n) {
            line(E, "} else {");
            E->ind++;
            emit_block(E, &s->els);
            E->ind--;
        }
        line(E, "}");
        return;
    }
    HYC_UNREACHABLE();
}

static void emit_block(Emit *E, const KirBlock *b)
{
    for (int i = 0; i < b->n; i++) emit_stmt(E, b->stmts[i]);
}

/* ---- kernels ------------------------------------------------------------------------ */

static bool role_const(KirRole r) { return !kir_role_writable(r); }

static void buf_shape(StrBuf *sb, const KirBuf *b)
{
    kir_print_buf_type(sb, b);
}

/* What one phase reads: its buffers, T, pos. */
typedef struct Uses {
    bool *buf;
    bool T, pos;
} Uses;

static void uses_expr(Uses *u, const KirExpr *e)
{
    if (e->kind == KIR_E_VAR) {
        if (e->id == KIR_VAR_T) u->T = true;
        if (e->id == KIR_VAR_POS) u->pos = true;
    }
    if (e->kind == KIR_E_LOAD) u->buf[e->id] = true;
    for (int i = 0; i < e->n_args; i++) uses_expr(u, e->args[i]);
}

static void uses_stmt(const KirStmt *s, int depth, void *ctx)
{
    Uses *u = ctx;
    if (s->lo) uses_expr(u, s->lo);
    if (s->hi) uses_expr(u, s->hi);
    if (s->value) uses_expr(u, s->value);
    for (int i = 0; i < s->n_idx; i++) uses_expr(u, s->idx[i]);
    if (s->kind == KIR_S_STORE) u->buf[s->buf] = true;
}

static void emit_const_data(Emit *E, const KirBuf *b)
{
    StrBuf sb = {0};
    char buf[32];
    for (int64_t i = 0; i < b->n_data; i++) {
        if (i) sb_puts(&sb, ", ");
        if (b->type == KIR_F32) {
            fmt_f32(buf, (float)b->data[i]);
            sb_printf(&sb, "%sf", buf);
        } else if (b->type == KIR_F64) {
            fmt_f64(buf, b->data[i]);
            sb_puts(&sb, buf);
        } else {
            sb_printf(&sb, "%lld", (long long)b->data[i]);
        }
    }
    line(E, "static const %s %s[%lld] = {%s}; /* %s */", kir_type_ctype(b->type), b->name, (long long)b->n_data,
         sb_cstr(&sb), comment_safe(E->a, b->comment));
    sb_free(&sb);
}

static void emit_phase(Emit *E, int ph)
{
    const KirKernel *k = E->k;
    const KirStmt *s = k->body.stmts[ph];
    const KirLoopSched *ls = &k->sched.loops[s->loop];
    Uses u = {ARENA_NEW_N(E->a, bool, k->n_bufs ? k->n_bufs : 1), false, false};
    uses_stmt(s, 0, &u);
    kir_walk(&s->body, uses_stmt, &u);
    line(E, "/* phase %d: loop L%d over %s%s */", ph, s->loop, k->vars[s->var].name,
         ls->parallel ? ", split over the threads" : "");
    line(E, "static void %s_p%d(void *arg, int ith, int nth)", E->kname, ph);
    line(E, "{");
    E->ind++;
    bool any_arg = u.T || u.pos;
    for (int b = 0; b < k->n_bufs; b++) any_arg |= u.buf[b] && k->bufs[b].role != KIR_ROLE_CONST;
    if (any_arg) line(E, "const %s_args *args = arg;", E->kname);
    else line(E, "(void)arg;");
    if (!ls->parallel) line(E, "(void)ith, (void)nth;");
    for (int b = 0; b < k->n_bufs; b++) {
        const KirBuf *bf = &k->bufs[b];
        if (!u.buf[b]) continue;
        if (bf->role == KIR_ROLE_CONST) {
            emit_const_data(E, bf);
            continue;
        }
        StrBuf sh = {0};
        buf_shape(&sh, bf);
        line(E, "%s%s *restrict %s = args->%s; /* %s %s: %s */", role_const(bf->role) ? "const " : "", kir_type_ctype(bf->type),
             bf->name, bf->name, kir_role_name(bf->role), sb_cstr(&sh), comment_safe(E->a, bf->comment));
        sb_free(&sh);
    }
    if (u.T) line(E, "const int64_t T = args->T;");
    if (u.pos) line(E, "const int64_t pos = args->pos;");
    emit_stmt(E, s);
    E->ind--;
    line(E, "}");
    blank(E);
}

static void emit_kernel(Emit *E, int ki)
{
    const KirKernel *k = E->p->kernels[ki];
    E->k = k;
    E->kname = k->name;
    E->info = kir_loop_infos(E->a, k);
    E->vname = ARENA_NEW_N(E->a, const char *, k->n_vars);
    for (int i = 0; i < k->n_vars; i++) E->vname[i] = k->vars[i].name;

    const char *sig = kir_signature(E->a, k, true);
    line(E, "/* ---- kernel %d: %s", ki, k->name);
    if (k->loc.file && k->loc.line > 0) line(E, " * first at %s:%d", comment_safe(E->a, k->loc.file->name), k->loc.line);
    line(E, " * %s", comment_safe(E->a, sig));
    line(E, " */");
    line(E, "typedef struct %s_args {", k->name);
    E->ind++;
    for (int b = 0; b < k->n_bufs; b++) {
        const KirBuf *bf = &k->bufs[b];
        if (bf->role == KIR_ROLE_CONST) continue;
        StrBuf sh = {0};
        buf_shape(&sh, bf);
        line(E, "%s%s *%s; /* %s %s: %s */", role_const(bf->role) ? "const " : "", kir_type_ctype(bf->type), bf->name,
             kir_role_name(bf->role), sb_cstr(&sh), comment_safe(E->a, bf->comment));
        sb_free(&sh);
    }
    line(E, "int64_t T, pos;");
    E->ind--;
    line(E, "} %s_args;", k->name);
    blank(E);
    for (int ph = 0; ph < k->body.n; ph++) emit_phase(E, ph);
    bool any_par = false;
    for (int ph = 0; ph < k->body.n; ph++) any_par |= k->sched.loops[k->body.stmts[ph]->loop].parallel;
    line(E, "static void %s(const %s_args *args, hycrt_pool *pool)", k->name, k->name);
    line(E, "{");
    E->ind++;
    if (!any_par) line(E, "(void)pool;");
    for (int ph = 0; ph < k->body.n; ph++) {
        if (k->sched.loops[k->body.stmts[ph]->loop].parallel)
            line(E, "hycrt_parallel_for(pool, %shycrt_pool_threads(pool), %s_p%d, (void *)args);",
                 kir_tasks_per_thread(k) > 1 ? arena_printf(E->a, "%d * ", kir_tasks_per_thread(k)) : "", k->name, ph);
        else
            line(E, "%s_p%d((void *)args, 0, 1);", k->name, ph);
    }
    E->ind--;
    line(E, "}");
    blank(E);
}

/* ---- helpers ------------------------------------------------------------------------ */

static const char *math_helpers =
    "/* a lane loop whose iterations are independent (emit_c.c: lanes_independent) */\n"
    "#if defined(__clang__)\n"
    "#define HYC_IVDEP _Pragma(\"clang loop vectorize(assume_safety)\")\n"
    "#elif defined(__GNUC__)\n"
    "#define HYC_IVDEP _Pragma(\"GCC ivdep\")\n"
    "#else\n"
    "#define HYC_IVDEP\n"
    "#endif\n"
    "/* ---- scalar helpers: the semantics of interp/kernels.c ---- */\n"
    "static inline float hyc_max_f32(float a, float b) { return b > a ? b : a; }\n"
    "static inline float hyc_min_f32(float a, float b) { return b < a ? b : a; }\n"
    "static inline double hyc_max_f64(double a, double b) { return b > a ? b : a; }\n"
    "static inline double hyc_min_f64(double a, double b) { return b < a ? b : a; }\n"
    "static inline int64_t hyc_max_i64(int64_t a, int64_t b) { return b > a ? b : a; }\n"
    "static inline int64_t hyc_min_i64(int64_t a, int64_t b) { return b < a ? b : a; }\n"
    "static inline int32_t hyc_max_i32(int32_t a, int32_t b) { return b > a ? b : a; }\n"
    "static inline int32_t hyc_min_i32(int32_t a, int32_t b) { return b < a ? b : a; }\n"
    "static inline float hyc_bits_f32(uint32_t b) { float f; __builtin_memcpy(&f, &b, 4); return f; }\n"
    "static inline uint32_t hyc_f32_bits(float f) { uint32_t b; __builtin_memcpy(&b, &f, 4); return b; }\n"
    "/* exp for f32 without a libm call, so that loops using it vectorize:\n"
    " * e^x = 2^k e^r, k = nearest(x log2 e) by adding 1.5 2^23, whose low bits\n"
    " * are then k (no float-to-int conversion), r = x - k ln 2 (ln 2 in two\n"
    " * parts, k ln2_hi exact), e^r = 1 + r + r^2 q(r), q of degree 4 fitted for\n"
    " * the least maximum relative error on |r| <= 0.3466 (3.8e-9 with these f32\n"
    " * coefficients).  At most 2 ulp from the exact value on normal results\n"
    " * (docs/kernel-ir.md: measured 0.89 with FMA contraction, 1.18 without).\n"
    " * |x| is clamped to 104 (x below -104 and -inf give 0, above 88.73 and\n"
    " * inf inf; the sign put back on the bits); a NaN fails the comparison\n"
    " * and passes, and the arithmetic carries it to the result (GCC 12 -O2\n"
    " * vectorizes the ?: as a compare and a masked OR of the constant's\n"
    " * bits, with no masked recomputation of the rest).  2^k is two\n"
    " * normal floats 2^floor(k/2) 2^ceil(k/2), so that subnormal results come\n"
    " * out right; their exponent fields come from the bits of the shifted sum\n"
    " * by shifts (its high bits fall off the top; no mantissa bits, so no NaN\n"
    " * factor even for a NaN x).  Needs IEEE f32 arithmetic without\n"
    " * reassociation (no -ffast-math), as everything here; the LLVM emitter\n"
    " * builds the same operations (gen_exp_f32). */\n"
    "static inline float hyc_exp_f32(float x)\n"
    "{\n"
    "    uint32_t xb = hyc_f32_bits(x), ab = xb & 0x7fffffffu;\n"
    "    float af = hyc_bits_f32(ab), m = 104.0f < af ? 104.0f : af; /* NaN passes */\n"
    "    float c = hyc_bits_f32(hyc_f32_bits(m) | (xb & 0x80000000u));\n"
    "    float sh = c * 1.44269504088896341f + 12582912.0f;\n"
    "    float kf = sh - 12582912.0f;\n"
    "    float r = (c + kf * -0.693359375f) + kf * 2.12194440054690583e-4f;\n"
    "    float p = 1.38146046e-3f;\n"
    "    p = p * r + 8.36871844e-3f;\n"
    "    p = p * r + 4.16683890e-2f;\n"
    "    p = p * r + 1.66665211e-1f;\n"
    "    p = p * r + 4.99999940e-1f;\n"
    "    p = p * r + 1.0f;\n"
    "    p = p * r + 1.0f;\n"
    "    uint32_t sb = hyc_f32_bits(sh), u = (sb >> 1) << 23; /* floor(k/2) in the exponent field */\n"
    "    return p * hyc_bits_f32(u + 0x3f800000u) * hyc_bits_f32((sb << 23) - u + 0x3f800000u);\n"
    "}\n"
    "/* ---- f32 activations, evaluated in double without libm calls ----\n"
    " * sigmoid, silu and softplus feed gates and bf16 / f16 states, whose\n"
    " * rounding turns 1-ulp differences into visible ones, and run over every\n"
    " * element of [T, d] tensors, where a scalar libm call per element costs\n"
    " * more than the GEMM beside them.  So: straight-line double arithmetic (the\n"
    " * loops vectorize), about 1e-14 relative before the one rounding to f32, so\n"
    " * the f32 results are the correctly rounded ones except when the exact value\n"
    " * lies within 1e-14 of a rounding boundary (docs/kernel-ir.md, 'activations'). */\n"
    "static inline double hyc_bits_f64(uint64_t b) { double d; __builtin_memcpy(&d, &b, 8); return d; }\n"
    "static inline uint64_t hyc_f64_bits(double d) { uint64_t b; __builtin_memcpy(&b, &d, 8); return b; }\n"
    "/* c ? a : b as bit operations.  gcc -O2 vectorizes a loop only when it can\n"
    " * if-convert it, and a ?: whose arm is worth computing alone gets the work\n"
    " * moved into a branch first (sinking, jump threading): masks keep it data flow. */\n"
    "static inline double hyc_pick_f64(int c, double a, double b)\n"
    "{\n"
    "    uint64_t m = -(uint64_t)(c != 0);\n"
    "    return hyc_bits_f64((hyc_f64_bits(a) & m) | (hyc_f64_bits(b) & ~m));\n"
    "}\n"
    "/* e^x, x clamped to [-200, 200] (every f32 result beyond saturates, even\n"
    " * x e^-200 for the largest f32 x):\n"
    " * k = nearest(x log2 e) by adding 1.5 2^52, whose low bits are then k (no\n"
    " * float-to-int conversion: AVX2 has none for doubles), r = x - k ln 2 with\n"
    " * ln 2 in two parts (k ln2_hi exact), e^r by Taylor to degree 11 (|r| <=\n"
    " * 0.347: truncation 7e-15), 2^k built in the exponent field.  NaN gives NaN. */\n"
    "static inline double hyc_expd(double x)\n"
    "{\n"
    "    /* the clamp on the bits of |x| (an unsigned min): see hyc_pick_f64 */\n"
    "    uint64_t xb = hyc_f64_bits(x), ab = xb & 0x7fffffffffffffffu, lim = 0x4069000000000000u; /* 200.0 */\n"
    "    double c = hyc_bits_f64((ab < lim ? ab : lim) | (xb & 0x8000000000000000u));\n"
    "    double sh = c * 1.4426950408889634 + 6755399441055744.0;\n"
    "    double kf = sh - 6755399441055744.0;\n"
    "    double r = (c - kf * 6.93147180369123816490e-01) - kf * 1.90821492927058770002e-10;\n"
    "    double p = 2.505210838544171878e-08;\n"
    "    p = p * r + 2.755731922398589065e-07;\n"
    "    p = p * r + 2.755731922398589065e-06;\n"
    "    p = p * r + 2.480158730158730158e-05;\n"
    "    p = p * r + 1.984126984126984127e-04;\n"
    "    p = p * r + 1.388888888888888889e-03;\n"
    "    p = p * r + 8.333333333333333333e-03;\n"
    "    p = p * r + 4.166666666666666667e-02;\n"
    "    p = p * r + 1.666666666666666667e-01;\n"
    "    p = p * r + 0.5;\n"
    "    p = p * r + 1.0;\n"
    "    p = p * r + 1.0;\n"
    "    double s = hyc_bits_f64((hyc_f64_bits(sh) + 1023u) << 52);\n"
    "    return hyc_pick_f64(x != x, x, p * s);\n"
    "}\n"
    "/* log(1 + e) for e >= 0 (and NaN): u = 1 + e = 2^k m, m in [sqrt(1/2),\n"
    " * sqrt(2)), log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172, by its\n"
    " * series to s^17 (truncation 1e-15); then log1p(e) = log(u) e / (u - 1),\n"
    " * which cancels the rounding of 1 + e (e itself when 1 + e rounds to 1). */\n"
    "static inline double hyc_log1pd(double e)\n"
    "{\n"
    "    double u = 1.0 + e;\n"
    "    uint64_t b = hyc_f64_bits(u);\n"
    "    double m = hyc_bits_f64((b & 0x000fffffffffffffu) | 0x3ff0000000000000u);\n"
    "    double k = hyc_bits_f64(0x4338000000000000u + ((b >> 52) & 0x7ffu)) - 6755399441055744.0 - 1023.0;\n"
    "    int big = m > 1.4142135623730951;\n"
    "    m = big ? 0.5 * m : m;\n"
    "    k = big ? k + 1.0 : k;\n"
    "    double s = (m - 1.0) / (m + 1.0), s2 = s * s;\n"
    "    double q = 1.0 / 17.0;\n"
    "    q = q * s2 + 1.0 / 15.0;\n"
    "    q = q * s2 + 1.0 / 13.0;\n"
    "    q = q * s2 + 1.0 / 11.0;\n"
    "    q = q * s2 + 1.0 / 9.0;\n"
    "    q = q * s2 + 1.0 / 7.0;\n"
    "    q = q * s2 + 1.0 / 5.0;\n"
    "    q = q * s2 + 1.0 / 3.0;\n"
    "    double lg = k * 0.69314718055994530942 + 2.0 * s * (q * s2 + 1.0);\n"
    "    return hyc_pick_f64(u == 1.0, e, lg * (e / (u - 1.0)));\n"
    "}\n"
    "static inline float hyc_sigmoid_f32(float x) { return (float)(1.0 / (1.0 + hyc_expd(-(double)x))); }\n"
    "static inline double hyc_sigmoid_f64(double x)\n"
    "{\n"
    "    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));\n"
    "    double e = exp(x);\n"
    "    return e / (1.0 + e);\n"
    "}\n"
    "/* PyTorch's softplus: linear above 20 */\n"
    "static inline float hyc_softplus_f32(float x)\n"
    "{\n"
    "    double d = x;\n"
    "    return (float)hyc_pick_f64(x > 20.0f, d, hyc_log1pd(hyc_expd(d)));\n"
    "}\n"
    "static inline double hyc_softplus_f64(double x) { return x > 20.0 ? x : log1p(exp(x)); }\n"
    "/* x sigmoid(x), rounded once (the clamp in hyc_expd makes silu(-inf) -inf, not NaN) */\n"
    "static inline float hyc_silu_f32(float x) { double d = x; return (float)(d / (1.0 + hyc_expd(-d))); }\n"
    "static inline double hyc_silu_f64(double x) { return x * hyc_sigmoid_f64(x); }\n";

static void emit_dot_generic(StrBuf *sb, int lanes)
{
    sb_printf(sb,
              "/* sum of a[i] b[i], i < n, in %d lanes summed at the end: portable C the\n"
              " * compiler vectorizes */\n"
              "static inline float hyc_dot_lanes%d(const float *restrict a, const float *restrict b, int64_t n)\n"
              "{\n"
              "    float acc[%d] = {0};\n"
              "    const int64_t nb = n > 0 ? n / %d * %d : 0;\n"
              "    for (int64_t i = 0; i < nb; i += %d)\n"
              "        for (int l = 0; l < %d; l++) acc[l] += a[i + l] * b[i + l];\n"
              "    float s = 0.0f;\n"
              "    for (int64_t i = nb; i < n; i++) s += a[i] * b[i];\n"
              "    for (int l = 0; l < %d; l++) s += acc[l];\n"
              "    return s;\n"
              "}\n",
              lanes, lanes, lanes, lanes, lanes, lanes, lanes, lanes);
}

static void emit_dot_avx2(StrBuf *sb, int u)
{
    sb_printf(sb,
              "/* sum of a[i] b[i], i < n: AVX2 + FMA, %d accumulator(s) of 8 lanes */\n"
              "static inline float hyc_dot_avx2_x%d(const float *restrict a, const float *restrict b, int64_t n)\n"
              "{\n"
              "    __m256 s[%d];\n"
              "    for (int u = 0; u < %d; u++) s[u] = _mm256_setzero_ps();\n"
              "    int64_t i = 0;\n"
              "    for (; i + %d <= n; i += %d)\n"
              "        for (int u = 0; u < %d; u++)\n"
              "            s[u] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8 * u), _mm256_loadu_ps(b + i + 8 * u), s[u]);\n"
              "    for (; i + 8 <= n; i += 8) s[0] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s[0]);\n"
              "    for (int u = 1; u < %d; u++) s[0] = _mm256_add_ps(s[0], s[u]);\n"
              "    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s[0]), _mm256_extractf128_ps(s[0], 1));\n"
              "    h = _mm_add_ps(h, _mm_movehl_ps(h, h));\n"
              "    h = _mm_add_ss(h, _mm_movehdup_ps(h));\n"
              "    float r = _mm_cvtss_f32(h);\n"
              "    for (; i < n; i++) r += a[i] * b[i];\n"
              "    return r;\n"
              "}\n",
              u, u, u, u, 8 * u, 8 * u, u, u);
}

static void emit_dot_avx512(StrBuf *sb, int u)
{
    sb_printf(sb,
              "/* sum of a[i] b[i], i < n: AVX-512, %d accumulator(s) of 16 lanes, the tail\n"
              " * under a mask */\n"
              "static inline float hyc_dot_avx512_x%d(const float *restrict a, const float *restrict b, int64_t n)\n"
              "{\n"
              "    __m512 s[%d];\n"
              "    for (int u = 0; u < %d; u++) s[u] = _mm512_setzero_ps();\n"
              "    int64_t i = 0;\n"
              "    for (; i + %d <= n; i += %d)\n"
              "        for (int u = 0; u < %d; u++)\n"
              "            s[u] = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16 * u), _mm512_loadu_ps(b + i + 16 * u), s[u]);\n"
              "    for (; i + 16 <= n; i += 16) s[0] = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s[0]);\n"
              "    if (i < n) {\n"
              "        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);\n"
              "        s[0] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s[0]);\n"
              "    }\n"
              "    for (int u = 1; u < %d; u++) s[0] = _mm512_add_ps(s[0], s[u]);\n"
              "    return _mm512_reduce_add_ps(s[0]);\n"
              "}\n",
              u, u, u, u, 16 * u, 16 * u, u, u);
}

/* The start of an unmasked vector load call: "_mm512_loadu_ps(". */
static const char *vec_load_call(int isa) { return isa == 2 ? "_mm512_loadu_ps(" : "_mm256_loadu_ps("; }

/* The JA x JB accumulators' lane sums into out[0 .. JA*JB), in order
 * (accumulator c{i}_{j} is sum i*JB + j): transposed, four vectors at a
 * time (hyc_sum4_avx512), then four of those into one vector of 16 sums
 * (hyc_sum16_avx512) stored at once: 45 shuffles and adds per 16 sums where
 * one horizontal reduction each takes 8 (a tenth of a 4 x 4 block's work at
 * k = 768).  Leftover groups of 4 take the halves route; single leftovers a
 * horizontal reduction. */
static void emit_blk_sums_avx512(StrBuf *sb, int JA, int JB)
{
    int n = JA * JB, n4 = n / 4, at = 0;
#define ACC(x) (x) / JB, (x) % JB
    for (int g = 0; g < n4; g++)
        sb_printf(sb, "    const __m512 w%d = hyc_sum4_avx512(c%d_%d, c%d_%d, c%d_%d, c%d_%d);\n", g, ACC(4 * g),
                  ACC(4 * g + 1), ACC(4 * g + 2), ACC(4 * g + 3));
#undef ACC
    int g = 0;
    for (; g + 4 <= n4; g += 4, at += 16)
        sb_printf(sb, "    _mm512_storeu_ps(out + %d, hyc_sum16_avx512(w%d, w%d, w%d, w%d));\n", at, g, g + 1, g + 2, g + 3);
    if (g + 2 <= n4) {
        sb_printf(sb, "    _mm256_storeu_ps(out + %d, hyc_sum8_avx512(w%d, w%d));\n", at, g, g + 1);
        g += 2, at += 8;
    }
    if (g < n4) {
        sb_printf(sb, "    _mm_storeu_ps(out + %d, hyc_sum4to128_avx512(w%d));\n", at, g);
        g++, at += 4;
    }
    for (; at < n; at++) sb_printf(sb, "    out[%d] = _mm512_reduce_add_ps(c%d_%d);\n", at, at / JB, at % JB);
}

/* out[i*JB + j] = sum over k < n of a[i*sa + k] b[j*sb + k]: JA x JB inner
 * products in one pass, JA + JB vector loads feeding JA*JB FMAs per step;
 * the constant-count loops are unrolled by the compiler and the
 * accumulators stay in registers.  isa 2: AVX-512 (tail under a mask),
 * 1: AVX2 + FMA (scalar tail), 0: portable lane arrays. */
static void emit_blk(StrBuf *sb, int isa, int lanes, int JA, int JB)
{
    int L = isa == 2 ? 16 : isa == 1 ? 8 : lanes;
    sb_printf(sb, "/* out[i*%d + j] = sum of a[i*sa + k] b[j*sb + k], k < n: %d x %d inner products in one\n"
                  " * pass, %d lanes (%s) */\n",
              JB, JA, JB, L, isa == 2 ? "AVX-512, the tail under a mask" : isa == 1 ? "AVX2 + FMA" : "portable C");
    if (isa == 0) {
        sb_printf(sb, "static inline void hyc_dotblk_lanes%d_%dx%d(", L, JA, JB);
        sb_puts(sb, "const float *restrict a, int64_t sa, const float *restrict b, int64_t sb, int64_t n,\n"
                    "    float *restrict out)\n{\n");
        sb_printf(sb,
                  "    float acc[%d][%d][%d] = {{{0}}};\n"
                  "    const int64_t nb = n > 0 ? n / %d * %d : 0;\n"
                  "    for (int64_t k = 0; k < nb; k += %d)\n"
                  "        for (int i = 0; i < %d; i++)\n"
                  "            for (int j = 0; j < %d; j++)\n"
                  "                for (int l = 0; l < %d; l++) acc[i][j][l] += a[i * sa + k + l] * b[j * sb + k + l];\n"
                  "    for (int i = 0; i < %d; i++)\n"
                  "        for (int j = 0; j < %d; j++) {\n"
                  "            float s = 0.0f;\n"
                  "            for (int64_t k = nb; k < n; k++) s += a[i * sa + k] * b[j * sb + k];\n"
                  "            for (int l = 0; l < %d; l++) s += acc[i][j][l];\n"
                  "            out[i * %d + j] = s;\n"
                  "        }\n"
                  "}\n",
                  JA, JB, L, L, L, L, JA, JB, L, JA, JB, L, JB);
        return;
    }
    /* Vector code written out register by register: the accumulators are
     * named locals, so they stay in registers whatever the C compiler's
     * unrolling heuristics at -O2. */
    const char *vt = isa == 2 ? "__m512" : "__m256", *pre = isa == 2 ? "_mm512" : "_mm256";
    sb_printf(sb, "static inline void hyc_dotblk_%s_%dx%d(", isa == 2 ? "avx512" : "avx2", JA, JB);
    sb_puts(sb, "const float *restrict a, int64_t sa, const float *restrict b, int64_t sb, int64_t n,\n"
                "    float *restrict out)\n{\n");
    for (int i = 0; i < JA; i++) {
        sb_printf(sb, "    %s", vt);
        for (int j = 0; j < JB; j++) sb_printf(sb, "%sc%d_%d = %s_setzero_ps()", j ? ", " : " ", i, j, pre);
        sb_puts(sb, ";\n");
    }
    for (int i = 0; i < JA; i++) sb_printf(sb, "    const float *a%d = a + %d * sa;\n", i, i);
    for (int j = 0; j < JB; j++) sb_printf(sb, "    const float *b%d = b + %d * sb;\n", j, j);
    sb_puts(sb, "    int64_t k = 0;\n");
    for (int pass = 0; pass < (isa == 2 ? 2 : 1); pass++) {
        /* pass 0: whole vectors; pass 1 (AVX-512): the tail under a mask */
        if (pass == 0) {
            sb_printf(sb, "    for (; k + %d <= n; k += %d) {\n", L, L);
        } else {
            sb_puts(sb, "    if (k < n) {\n        const __mmask16 m = (__mmask16)((1u << (n - k)) - 1u);\n");
        }
        const char *ld = pass == 0 ? vec_load_call(isa) : "_mm512_maskz_loadu_ps(m, ";
        for (int i = 0; i < JA; i++) sb_printf(sb, "        const %s x%d = %sa%d + k);\n", vt, i, ld, i);
        for (int j = 0; j < JB; j++) {
            sb_printf(sb, "        const %s y%d = %sb%d + k);\n", vt, j, ld, j);
            for (int i = 0; i < JA; i++) sb_printf(sb, "        c%d_%d = %s_fmadd_ps(x%d, y%d, c%d_%d);\n", i, j, pre, i, j, i, j);
        }
        sb_puts(sb, "    }\n");
    }
    if (isa == 2) {
        emit_blk_sums_avx512(sb, JA, JB);
    } else {
        for (int i = 0; i < JA; i++)
            for (int j = 0; j < JB; j++) {
                sb_printf(sb, "    out[%d] = hyc_hsum_avx2(c%d_%d);\n", i * JB + j, i, j);
                sb_printf(sb, "    for (int64_t q = k; q < n; q++) out[%d] += a%d[q] * b%d[q];\n", i * JB + j, i, j);
            }
    }
    sb_puts(sb, "}\n");
}

/* ---- forward passes ----------------------------------------------------------------- */

static const char *bind_text(Emit *E, const KirBuf *b, const CgBind *bd)
{
    const char *ct = kir_type_ctype(b->type);
    const char *cq = role_const(b->role) ? "const " : "";
    switch (bd->place) {
    case CG_AT_SCRATCH: return arena_printf(E->a, "(%s%s *)(scratch + %llu)", cq, ct, (unsigned long long)bd->offset);
    case CG_AT_WEIGHTS:
        return arena_printf(E->a, "(const %s *)(weights + %llu)", ct, (unsigned long long)E->p->param_offset[bd->ir_id]);
    case CG_AT_STATE:
        return arena_printf(E->a, "(%s *)(state + %llu)", ct, (unsigned long long)E->p->state_offset[bd->ir_id]);
    case CG_AT_TOKENS: return "tokens";
    case CG_AT_NONE: return NULL;
    }
    HYC_UNREACHABLE();
}

static const char *operand_label(Emit *E, const IrFunc *fn, IrOperand o)
{
    const IrModule *m = E->p->m;
    switch (o.kind) {
    case IR_OPND_NONE: return "_";
    case IR_OPND_VALUE: return ir_value_label(E->a, fn, o.id);
    case IR_OPND_PARAM: return arena_printf(E->a, "@%s", m->params[o.id].name);
    case IR_OPND_STATE: return arena_printf(E->a, "$%s", m->states[o.id].name);
    }
    HYC_UNREACHABLE();
}

/* "%3 = matmul(%2, @l0.q)": what a call computes, for its comment. */
static const char *inst_text(Emit *E, const IrFunc *fn, const IrInst *in)
{
    StrBuf sb = {0};
    if (in->result >= 0) sb_printf(&sb, "%s = ", ir_value_label(E->a, fn, in->result));
    sb_printf(&sb, "%s(", ir_op_name(in->op));
    for (int i = 0; i < in->n_operands; i++) sb_printf(&sb, "%s%s", i ? ", " : "", operand_label(E, fn, in->operands[i]));
    sb_putc(&sb, ')');
    if (in->result >= 0) {
        sb_puts(&sb, " : ");
        ir_type_print(&sb, &fn->values[in->result].type);
    }
    const char *s = comment_safe(E->a, sb_cstr(&sb));
    sb_free(&sb);
    return s;
}

static const char *bind_comment(Emit *E, const CgFunc *cf, const CgBind *bd)
{
    const IrModule *m = E->p->m;
    switch (bd->place) {
    case CG_AT_SCRATCH: return bd->ir_id >= 0 ? ir_value_label(E->a, cf->fn, bd->ir_id) : "temp";
    case CG_AT_WEIGHTS: return comment_safe(E->a, arena_printf(E->a, "@%s", m->params[bd->ir_id].name));
    case CG_AT_STATE: return comment_safe(E->a, arena_printf(E->a, "$%s", m->states[bd->ir_id].name));
    case CG_AT_TOKENS: return ir_value_label(E->a, cf->fn, bd->ir_id);
    case CG_AT_NONE: return "";
    }
    HYC_UNREACHABLE();
}

static void emit_call(Emit *E, const CgFunc *cf, const CgCall *cc)
{
    const KirKernel *k = E->p->kernels[cc->kernel];
    const IrInst *in = &cf->fn->insts[cc->inst];
    if (in->loc.file && in->loc.line > 0) line(E, "// %s:%d", comment_safe(E->a, in->loc.file->name), in->loc.line);
    line(E, "{ /* %s */", inst_text(E, cf->fn, in));
    E->ind++;
    line(E, "const %s_args args = {", k->name);
    E->ind++;
    for (int b = 0; b < k->n_bufs; b++) {
        const KirBuf *bf = &k->bufs[b];
        const char *t = bind_text(E, bf, &cc->binds[b]);
        if (!t) continue;
        StrBuf sh = {0};
        buf_shape(&sh, bf);
        line(E, ".%s = %s, /* %s %s */", bf->name, t, bind_comment(E, cf, &cc->binds[b]), sb_cstr(&sh));
        sb_free(&sh);
    }
    line(E, ".T = T,");
    line(E, ".pos = pos,");
    E->ind--;
    line(E, "};");
    line(E, "const uint64_t t0 = hycrt_prof_begin(ctx);");
    line(E, "%s(&args, pool);", k->name);
    line(E, "hycrt_prof_end(ctx, %d, t0);", cc->kernel);
    E->ind--;
    line(E, "}");
}

static bool func_uses(const CgProgram *p, const CgFunc *cf, CgPlace place)
{
    for (int c = 0; c < cf->n_calls; c++) {
        const KirKernel *k = p->kernels[cf->calls[c].kernel];
        for (int b = 0; b < k->n_bufs; b++)
            if (cf->calls[c].binds[b].place == place) return true;
    }
    return false;
}

static void emit_func(Emit *E, const char *model, const CgFunc *cf)
{
    const IrFunc *fn = cf->fn;
    line(E, "/* ==== @%s: %d kernel calls; scratch plan %llu bytes at T = %lld (%llu with one buffer",
         comment_safe(E->a, fn->name), cf->n_calls, (unsigned long long)cf->scratch_bytes, (long long)cf->plan_T,
         (unsigned long long)cf->naive_bytes);
    line(E, " * per value); the result, [T, vocab], is left at scratch + %llu */",
         (unsigned long long)(fn->ret >= 0 ? cf->value_offset[fn->ret] : 0));
    line(E, "static void %s_%s(hycrt_ctx *ctx, const int32_t *tokens, int64_t T)", model, cg_c_ident(E->a, fn->name));
    line(E, "{");
    E->ind++;
    if (func_uses(E->p, cf, CG_AT_WEIGHTS)) line(E, "const uint8_t *weights = ctx->weights;");
    if (func_uses(E->p, cf, CG_AT_STATE)) line(E, "uint8_t *state = ctx->state;");
    if (func_uses(E->p, cf, CG_AT_SCRATCH)) line(E, "uint8_t *scratch = ctx->scratch;");
    if (!func_uses(E->p, cf, CG_AT_TOKENS)) line(E, "(void)tokens;");
    line(E, "hycrt_pool *pool = ctx->pool;");
    line(E, "const int64_t pos = ctx->pos;");
    for (int c = 0; c < cf->n_calls; c++) emit_call(E, cf, &cf->calls[c]);
    E->ind--;
    line(E, "}");
    blank(E);
}

/* ---- the file ----------------------------------------------------------------------- */

static int64_t embed_rows(const IrModule *m, const IrFunc *fn, int64_t *d_model)
{
    int64_t rows = -1;
    for (int i = 0; i < fn->n_insts; i++) {
        const IrInst *in = &fn->insts[i];
        if (in->op != IR_OP_EMBED) continue;
        IrOperand t = ir_inst_operand(in, "table");
        const IrType *ty = &m->params[t.id].type;
        if (rows < 0 || ty->dims[0] < rows) rows = ty->dims[0];
        if (*d_model == 0) *d_model = ty->dims[1];
    }
    return rows;
}

static void emit_forward(Emit *E, const char *model)
{
    const CgProgram *p = E->p;
    const IrModule *m = p->m;
    const IrFunc *pf = ir_find_func(m, "prefill"), *df = ir_find_func(m, "decode");
    HYC_ASSERT(pf && df && pf->has_ret_type);
    int64_t vocab = pf->ret_type.dims[1], d_model = 0;
    int64_t rows = embed_rows(m, pf, &d_model);
    const CgFunc *cp = NULL, *cd = NULL;
    for (int f = 0; f < p->n_funcs; f++) {
        if (p->funcs[f].fn == pf) cp = &p->funcs[f];
        if (p->funcs[f].fn == df) cd = &p->funcs[f];
    }
    line(E, "/* ==== the forward pass (hycrt_forward_fn) ==== */");
    line(E, "static int %s_forward(hycrt_ctx *ctx, const int32_t *tokens, int n_tokens, float *logits, int logits_mode)",
         model);
    line(E, "{");
    E->ind++;
    line(E, "if (n_tokens < 1 || n_tokens > %lld) return 1; /* max_batch */", (long long)p->max_batch);
    if (rows >= 0 && rows < vocab) {
        line(E, "for (int i = 0; i < n_tokens; i++) /* the embedding has fewer rows than the vocabulary */");
        line(E, "    if (tokens[i] < 0 || tokens[i] >= %lld) return 2;", (long long)rows);
    }
    /* prefill returns every row, or (passes/last_logits.c) only the last */
    bool last_only = pf->ret_type.dims[0] == 1;
    if (last_only) {
        line(E, "/* built with --logits last: prefill computes the last position's logits only */");
        line(E, "if (n_tokens > 1 && logits_mode == HYCRT_LOGITS_ALL) return HYCRT_FORWARD_NO_ALL_LOGITS;");
    }
    line(E, "const float *out, *last;");
    line(E, "if (n_tokens == 1) { /* decode: the same computation at T = 1 */");
    line(E, "    %s_decode(ctx, tokens, 1);", model);
    line(E, "    out = last = (const float *)(ctx->scratch + %llu);", (unsigned long long)cd->value_offset[df->ret]);
    line(E, "} else {");
    line(E, "    %s_prefill(ctx, tokens, n_tokens);", model);
    line(E, "    out = (const float *)(ctx->scratch + %llu);", (unsigned long long)cp->value_offset[pf->ret]);
    if (last_only)
        line(E, "    last = out;");
    else
        line(E, "    last = out + (size_t)(n_tokens - 1) * %lld;", (long long)vocab);
    line(E, "}");
    line(E, "if (logits_mode == HYCRT_LOGITS_ALL)");
    line(E, "    memcpy(logits, out, (size_t)n_tokens * %lld * sizeof(float));", (long long)vocab);
    line(E, "else if (logits_mode == HYCRT_LOGITS_LAST)");
    line(E, "    memcpy(logits, last, %lld * sizeof(float));", (long long)vocab);
    line(E, "ctx->pos += n_tokens;");
    line(E, "return 0;");
    E->ind--;
    line(E, "}");
    blank(E);

    line(E, "/* ==== the descriptor ==== */");
    if (m->n_params > 0) {
        line(E, "static const hycrt_tensor_desc %s_tensors[%d] = {", model, m->n_params);
        E->ind++;
        for (int i = 0; i < m->n_params; i++) {
            const IrType *t = &m->params[i].type;
            StrBuf sb = {0};
            print_c_string(&sb, m->params[i].name);
            uint64_t n = 1;
            for (int d = 0; d < t->rank; d++) n *= (uint64_t)t->dims[d];
            line(E, "{%s, HYCRT_F32, %d, {%lld, %lld, %lld, %lld}, %llu, %llu},", sb_cstr(&sb), t->rank,
                 (long long)t->dims[0], (long long)(t->rank > 1 ? t->dims[1] : 0), (long long)(t->rank > 2 ? t->dims[2] : 0),
                 (long long)(t->rank > 3 ? t->dims[3] : 0), (unsigned long long)p->param_offset[i],
                 (unsigned long long)(n * 4));
            sb_free(&sb);
        }
        E->ind--;
        line(E, "};");
    }
    line(E, "static const char *const %s_kernel_names[%d] = {", model, p->n_kernels > 0 ? p->n_kernels : 1);
    E->ind++;
    for (int i = 0; i < p->n_kernels; i++) line(E, "\"%s\",", p->kernels[i]->name);
    E->ind--;
    line(E, "};");
    blank(E);
    StrBuf nm = {0};
    print_c_string(&nm, m->name);
    line(E, "const hycrt_model_desc %s_desc = {", model);
    E->ind++;
    line(E, ".abi_version = HYCRT_ABI_VERSION,");
    line(E, ".name = %s,", sb_cstr(&nm));
    line(E, ".hash = UINT64_C(0x%016llx), /* the weight layout */", (unsigned long long)cg_weights_hash(p));
    line(E, ".vocab = %lld,", (long long)vocab);
    line(E, ".d_model = %lld,", (long long)d_model);
    line(E, ".max_seq = %lld,", (long long)m->max_seq);
    line(E, ".max_batch = %lld,", (long long)p->max_batch);
    line(E, ".n_tensors = %d,", m->n_params);
    line(E, ".tensors = %s,", m->n_params > 0 ? arena_printf(E->a, "%s_tensors", model) : "NULL");
    line(E, ".weights_bytes = %llu,", (unsigned long long)p->weights_bytes);
    line(E, ".state_bytes = %llu,", (unsigned long long)p->state_bytes);
    line(E, ".scratch_bytes = %llu,", (unsigned long long)p->scratch_bytes);
    line(E, ".weights_name = NULL,");
    line(E, ".forward = %s_forward,", model);
    line(E, ".n_kernels = %d,", p->n_kernels);
    line(E, ".kernel_names = %s_kernel_names,", model);
    E->ind--;
    line(E, "};");
    sb_free(&nm);
    if (p->opts.emit_main) {
        blank(E);
        line(E, "int main(int argc, char **argv) { return hycrt_main(argc, argv, &%s_desc); }", model);
    }
}

static void emit_includes(StrBuf *sb, const CgTarget *t);

static void emit_header(StrBuf *sb, const CgProgram *p, Arena *a, const char *model)
{
    const IrModule *m = p->m;
    const CgTarget *t = &p->opts.target;
    sb_printf(sb, "/* %s.c — generated by hyc %s from module @%s; do not edit.\n", model, HYC_VERSION,
              comment_safe(a, m->name));
    if (m->loc.file) sb_printf(sb, " * source:  %s\n", comment_safe(a, m->loc.file->name));
    sb_printf(sb, " * flags:   %s\n", p->opts.flags ? comment_safe(a, p->opts.flags) : "(none)");
    sb_printf(sb, " * target:  %s%s%s%s\n", t->name,
              t->isa == CG_ISA_AVX512 ? " (AVX-512 intrinsics)" : t->isa == CG_ISA_AVX2 ? " (AVX2 + FMA intrinsics)" : " (portable C)",
              t->march ? "; compile with -march=" : "", t->march ? t->march : "");
    sb_printf(sb, " * kernels: %d distinct, %d calls\n", p->n_kernels, p->n_calls_total);
    sb_printf(sb, " * memory:  weights %llu bytes (f32), state %llu bytes per sequence, scratch %llu bytes\n",
              (unsigned long long)p->weights_bytes, (unsigned long long)p->state_bytes,
              (unsigned long long)p->scratch_bytes);
    sb_printf(sb, " *          (prefill planned for up to %lld tokens per call)\n", (long long)p->max_batch);
    sb_puts(sb, " *\n * Links against libhycrt; the one symbol it exports is the descriptor\n");
    sb_printf(sb, " * `%s_desc`. */\n", model);
    emit_includes(sb, t);
}

/* The headers every file needs, and the intrinsics of the target. */
static void emit_includes(StrBuf *sb, const CgTarget *t)
{
    sb_puts(sb, "#include <math.h>\n#include <stdint.h>\n#include <string.h>\n\n#include \"hycrt.h\"\n\n");
    if (t->isa == CG_ISA_AVX512) {
        sb_puts(sb, "#if !defined(__AVX512F__)\n#error \"generated for x86-64-v4: compile with -march=x86-64-v4 (or a CPU with AVX-512F)\"\n#endif\n");
        sb_puts(sb, "#include <immintrin.h>\n\n");
    } else if (t->isa == CG_ISA_AVX2) {
        sb_puts(sb, "#if !defined(__AVX2__) || !defined(__FMA__)\n#error \"generated for x86-64-v3: compile with -march=x86-64-v3 (or a CPU with AVX2 and FMA)\"\n#endif\n");
        sb_puts(sb, "#include <immintrin.h>\n\n");
    }
}

/* Lane sums of several AVX-512 accumulators at once (emit_blk_sums_avx512). */
static const char *transposed_sums_avx512 =
    "/* lane 4q + j: the sum of lanes 4q .. 4q+3 of the j-th of a, b, c, d (q < 4) */\n"
    "static inline __m512 hyc_sum4_avx512(__m512 a, __m512 b, __m512 c, __m512 d)\n"
    "{\n"
    "    const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));\n"
    "    const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));\n"
    "    return _mm512_add_ps(_mm512_shuffle_ps(ab, cd, 0x44), _mm512_shuffle_ps(ab, cd, 0xee));\n"
    "}\n"
    "/* [w0.q0 + w0.q1, w0.q2 + w0.q3, w1.q0 + w1.q1, w1.q2 + w1.q3] by 128-bit quarters */\n"
    "static inline __m512 hyc_pairsum_avx512(__m512 w0, __m512 w1)\n"
    "{\n"
    "    return _mm512_add_ps(_mm512_shuffle_f32x4(w0, w1, 0x88), _mm512_shuffle_f32x4(w0, w1, 0xdd));\n"
    "}\n"
    "/* from four hyc_sum4_avx512 results: lane 4g + j the whole sum of w_g's j-th vector */\n"
    "static inline __m512 hyc_sum16_avx512(__m512 w0, __m512 w1, __m512 w2, __m512 w3)\n"
    "{\n"
    "    return hyc_pairsum_avx512(hyc_pairsum_avx512(w0, w1), hyc_pairsum_avx512(w2, w3));\n"
    "}\n"
    "static inline __m256 hyc_sum8_avx512(__m512 w0, __m512 w1)\n"
    "{\n"
    "    const __m512 x = hyc_pairsum_avx512(w0, w1);\n"
    "    return _mm512_castps512_ps256(hyc_pairsum_avx512(x, x));\n"
    "}\n"
    "static inline __m128 hyc_sum4to128_avx512(__m512 w)\n"
    "{\n"
    "    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(w), _mm512_extractf32x8_ps(w, 1));\n"
    "    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));\n"
    "}\n";

/* Did a kernel emitted into E use an inner-product block helper of this
 * ISA (1: AVX2, 2: AVX-512)? */
static bool blk_isa_used(const Emit *E, int isa)
{
    for (int ja = 1; ja <= MAX_JAM; ja++)
        for (int jb = 1; jb <= MAX_JAM; jb++)
            if (E->blk_used[isa][ja][jb]) return true;
    return false;
}

/* The scalar helpers and every inner-product / micro-kernel helper the
 * kernels emitted into E used. */
static void emit_helpers(StrBuf *sb, const Emit *E)
{
    sb_puts(sb, math_helpers);
    for (int u = 1; u <= MAX_ACC; u++)
        if (E->dot_avx2[u]) emit_dot_avx2(sb, u);
    for (int u = 1; u <= MAX_ACC; u++)
        if (E->dot_avx512[u]) emit_dot_avx512(sb, u);
    for (int l = 1; l <= MAX_LANES; l++)
        if (E->dot_generic[l]) emit_dot_generic(sb, l);
    if (blk_isa_used(E, 1))
        sb_puts(sb, "/* the sum of the 8 lanes of v */\n"
                    "static inline float hyc_hsum_avx2(__m256 v)\n"
                    "{\n"
                    "    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));\n"
                    "    h = _mm_add_ps(h, _mm_movehl_ps(h, h));\n"
                    "    h = _mm_add_ss(h, _mm_movehdup_ps(h));\n"
                    "    return _mm_cvtss_f32(h);\n"
                    "}\n");
    if (blk_isa_used(E, 2)) sb_puts(sb, transposed_sums_avx512);
    for (int ja = 1; ja <= MAX_JAM; ja++)
        for (int jb = 1; jb <= MAX_JAM; jb++) {
            for (int isa = 1; isa < 3; isa++)
                if (E->blk_used[isa][ja][jb]) emit_blk(sb, isa, 0, ja, jb);
            for (int lg = 0; lg < 7; lg++)
                if (E->blk_generic[lg][ja][jb]) emit_blk(sb, 0, 1 << lg, ja, jb);
        }
}

void cg_emit_c(StrBuf *sb, const CgProgram *p)
{
    Arena a;
    arena_init(&a);
    Emit *E = ARENA_NEW(&a, Emit);
    E->a = &a;
    E->p = p;
    E->tgt = &p->opts.target;
    const char *model = cg_c_ident(&a, p->m->name);

    StrBuf kernels = {0};
    E->out = &kernels;
    for (int i = 0; i < p->n_kernels; i++) emit_kernel(E, i);

    StrBuf fwd = {0};
    E->out = &fwd;
    for (int f = 0; f < p->n_funcs; f++) emit_func(E, model, &p->funcs[f]);
    emit_forward(E, model);

    emit_header(sb, p, &a, model);
    emit_helpers(sb, E);
    sb_puts(sb, "\n/* ==== kernels ==== */\n\n");
    sb_puts(sb, sb_cstr(&kernels));
    sb_puts(sb, sb_cstr(&fwd));
    sb_free(&kernels);
    sb_free(&fwd);
    arena_free(&a);
}

/* The includes, helpers and kernels of p alone (no forward pass, no
 * descriptor; p->m may be NULL): what the tuner's measurement harness
 * (driver/cmd_tune.c) compiles, each kernel exactly as cg_emit_c writes it. */
void cg_emit_c_kernels(StrBuf *sb, const CgProgram *p)
{
    Arena a;
    arena_init(&a);
    Emit *E = ARENA_NEW(&a, Emit);
    E->a = &a;
    E->p = p;
    E->tgt = &p->opts.target;
    StrBuf kernels = {0};
    E->out = &kernels;
    for (int i = 0; i < p->n_kernels; i++) emit_kernel(E, i);
    sb_printf(sb, "/* kernels generated by hyc %s for target %s; do not edit. */\n", HYC_VERSION, E->tgt->name);
    emit_includes(sb, E->tgt);
    emit_helpers(sb, E);
    sb_puts(sb, "\n/* ==== kernels ==== */\n\n");
    sb_puts(sb, sb_cstr(&kernels));
    sb_free(&kernels);
    arena_free(&a);
}
