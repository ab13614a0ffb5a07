/* kir_verify.c — the Kernel IR verifier: every invariant the emitter and
 * the schedules rely on (docs/kernel-ir.md "Verifier"), each reported with
 * the kernel's name and, for parsed text, the line it is on. */
#include "codegen.h"

#include <stdarg.h>
#include <string.h>

typedef struct Verifier {
    const KirKernel *k;
    Diag *diag;
    Arena scratch;     /* the verifier's own arrays, freed at the end */
    int errors;
    bool *in_scope;    /* [n_vars] */
    int *declared;     /* [n_vars]: statements that declare it */
    int *loop_seen;    /* [n_loops] */
    const KirStmt *stmt; /* the statement being checked, for its location */
} Verifier;

__attribute__((format(printf, 2, 3))) static void err(Verifier *v, const char *fmt, ...)
{
    SrcLoc loc = v->stmt && v->stmt->at.file ? v->stmt->at : v->k->ir_loc;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_error(v->diag, loc, "kernel @%s: %s", v->k->name, msg);
    v->errors++;
}

/* ---- names -------------------------------------------------------------------- */

static const char *const reserved_words[] = {
    /* C keywords and names the emitted C uses itself */
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef",
    "union", "unsigned", "void", "volatile", "while", "_Bool", "_Complex", "_Imaginary",
    "_Alignas", "_Alignof", "_Atomic", "_Generic", "_Noreturn", "_Static_assert",
    "_Thread_local", "arg", "args", "ith", "nth", "pool", "ctx", "int64_t", "int32_t",
    "uint64_t", "uint8_t", "NAN", "INFINITY",
    /* words of the text form */
    "var", "store", "step", "inf", "nan",
};

/* A name the emitted C can use as is: an identifier that is no keyword,
 * does not end in '_' (the emitter's own names do) and does not start with
 * "hyc" (its helpers do). */
static const char *bad_name(const char *s)
{
    if (!*s) return "is empty";
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return "is not an identifier";
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return "is not an identifier";
    if (s[strlen(s) - 1] == '_') return "ends in '_' (reserved for the emitter)";
    if (strncmp(s, "hyc", 3) == 0) return "starts with 'hyc' (reserved for the emitter)";
    for (size_t i = 0; i < sizeof reserved_words / sizeof reserved_words[0]; i++)
        if (strcmp(s, reserved_words[i]) == 0) return "is reserved";
    return NULL;
}

static void check_names(Verifier *v)
{
    const KirKernel *k = v->k;
    const char *why = NULL;
    if (!k->name || (why = bad_name(k->name))) err(v, "kernel name '%s' %s", k->name ? k->name : "", why ? why : "");
    if (!k->op || !*k->op) err(v, "the kernel names no op");
    for (int i = 0; i < k->n_bufs; i++) {
        const KirBuf *b = &k->bufs[i];
        if ((why = bad_name(b->name))) err(v, "buffer name '%s' %s", b->name, why);
        for (int j = 0; j < i; j++)
            if (strcmp(k->bufs[j].name, b->name) == 0) err(v, "buffer %%%s is declared twice", b->name);
        if (strcmp(b->name, "T") == 0 || strcmp(b->name, "pos") == 0)
            err(v, "buffer %%%s has the name of a scalar parameter", b->name);
    }
    if (k->n_vars < 2 || strcmp(k->vars[KIR_VAR_T].name, "T") != 0 || strcmp(k->vars[KIR_VAR_POS].name, "pos") != 0 ||
        k->vars[KIR_VAR_T].kind != KIR_V_SCALAR || k->vars[KIR_VAR_POS].kind != KIR_V_SCALAR)
        err(v, "vars 0 and 1 must be the scalar parameters T and pos");
    for (int i = 2; i < k->n_vars; i++) {
        const KirVar *x = &k->vars[i];
        if ((why = bad_name(x->name))) err(v, "variable name '%s' %s", x->name, why);
        if (x->kind == KIR_V_SCALAR) err(v, "variable '%s' is a scalar parameter; only T and pos are", x->name);
        if (kir_find_buf(k, x->name) >= 0) err(v, "variable '%s' has the name of a buffer", x->name);
    }
}

/* ---- buffers ------------------------------------------------------------------ */

static void check_bufs(Verifier *v)
{
    const KirKernel *k = v->k;
    for (int i = 0; i < k->n_bufs; i++) {
        const KirBuf *b = &k->bufs[i];
        if (b->rank < 1 || b->rank > IR_MAX_RANK) {
            err(v, "buffer %%%s has rank %d (1 to %d)", b->name, b->rank, IR_MAX_RANK);
            continue;
        }
        for (int d = 0; d < b->rank; d++) {
            if (b->dims[d] == IR_DIM_T && d == 0) continue;
            if (b->dims[d] == IR_DIM_T) err(v, "buffer %%%s: T may only be dim 0", b->name);
            else if (b->dims[d] < 1 || b->dims[d] > IR_DIM_LIMIT) err(v, "buffer %%%s: dim %d is out of range", b->name, d);
        }
        if (b->role == KIR_ROLE_CONST) {
            if (b->dims[0] == IR_DIM_T) err(v, "const buffer %%%s cannot have a T dim", b->name);
            else if (kir_buf_numel(b, 1) != b->n_data)
                err(v, "const buffer %%%s holds %lld values for %lld elements", b->name, (long long)b->n_data,
                    (long long)kir_buf_numel(b, 1));
        } else if (b->n_data) {
            err(v, "buffer %%%s is not const but has data", b->name);
        }
    }
}

/* ---- expressions ---------------------------------------------------------------- */

static bool is_int(KirType t) { return t == KIR_I32 || t == KIR_I64; }

static void check_indices(Verifier *v, const KirBuf *b, int n, KirExpr *const *idx, const char *what);

/* Returns the expression's type as checked (the node's own type). */
static void check_expr(Verifier *v, const KirExpr *e)
{
    const KirKernel *k = v->k;
    switch (e->kind) {
    case KIR_E_CONST:
        if (e->type < 0 || e->type >= KIR_TYPE_COUNT) err(v, "constant of an unknown type");
        return;
    case KIR_E_VAR:
        if (e->id < 0 || e->id >= k->n_vars) {
            err(v, "reference to an unknown variable");
            return;
        }
        if (!v->in_scope[e->id]) err(v, "variable '%s' is used outside its scope", k->vars[e->id].name);
        if (e->type != k->vars[e->id].type) err(v, "variable '%s' used with the wrong type", k->vars[e->id].name);
        return;
    case KIR_E_LOAD: {
        if (e->id < 0 || e->id >= k->n_bufs) {
            err(v, "load from an unknown buffer");
            return;
        }
        const KirBuf *b = &k->bufs[e->id];
        for (int i = 0; i < e->n_args; i++) check_expr(v, e->args[i]);
        check_indices(v, b, e->n_args, e->args, "load");
        if (e->type != b->type) err(v, "load from %%%s has the wrong type", b->name);
        return;
    }
    case KIR_E_OP: break;
    }
    if (e->op < 0 || e->op >= KIR_OP_COUNT) {
        err(v, "unknown op");
        return;
    }
    const KirOpInfo *info = kir_op_info(e->op);
    if (e->n_args != info->arity) {
        err(v, "'%s' takes %d operands, not %d", info->name, info->arity, e->n_args);
        return;
    }
    for (int i = 0; i < e->n_args; i++) check_expr(v, e->args[i]);
    KirType t0 = e->args[0]->type;
    switch (info->cls) {
    case KIR_OC_ARITH:
    case KIR_OC_INT:
        for (int i = 1; i < e->n_args; i++)
            if (e->args[i]->type != t0)
                err(v, "'%s' mixes %s and %s (cast one)", info->name, kir_type_name(t0), kir_type_name(e->args[i]->type));
        if (info->cls == KIR_OC_INT && !is_int(t0)) err(v, "'%s' needs integer operands, not %s", info->name, kir_type_name(t0));
        if (e->type != t0) err(v, "'%s' has the wrong result type", info->name);
        return;
    case KIR_OC_CMP:
        if (e->args[1]->type != t0)
            err(v, "'%s' compares %s with %s (cast one)", info->name, kir_type_name(t0), kir_type_name(e->args[1]->type));
        if (e->type != KIR_I32) err(v, "'%s' has the wrong result type", info->name);
        return;
    case KIR_OC_SELECT:
        if (!is_int(t0)) err(v, "the condition of 'select' is %s, not an integer", kir_type_name(t0));
        if (e->args[1]->type != e->args[2]->type)
            err(v, "the arms of 'select' are %s and %s", kir_type_name(e->args[1]->type), kir_type_name(e->args[2]->type));
        if (e->type != e->args[1]->type) err(v, "'select' has the wrong result type");
        return;
    case KIR_OC_MATH:
        if (!kir_type_is_float(t0)) err(v, "'%s' needs a float operand, not %s", info->name, kir_type_name(t0));
        if (e->type != t0) err(v, "'%s' has the wrong result type", info->name);
        return;
    case KIR_OC_CAST:
        if (e->type != kir_cast_type(e->op)) err(v, "'%s' has the wrong result type", info->name);
        return;
    }
}

static void check_indices(Verifier *v, const KirBuf *b, int n, KirExpr *const *idx, const char *what)
{
    if (n != b->rank) err(v, "%s of %%%s has %d indices for rank %d", what, b->name, n, b->rank);
    for (int i = 0; i < n; i++)
        if (!is_int(idx[i]->type)) err(v, "index %d of %%%s is %s, not an integer", i, b->name, kir_type_name(idx[i]->type));
}

/* ---- statements ----------------------------------------------------------------- */

static void declare(Verifier *v, int var, KirVarKind kind)
{
    const KirKernel *k = v->k;
    if (var < 2 || var >= k->n_vars) {
        err(v, "declaration of an unknown variable");
        return;
    }
    const KirVar *x = &k->vars[var];
    if (x->kind != kind) err(v, "'%s' is declared as a %s", x->name, kind == KIR_V_LOOP ? "loop variable" : "local");
    if (++v->declared[var] > 1) err(v, "variable '%s' is declared twice", x->name);
    for (int i = 0; i < k->n_vars; i++)
        if (i != var && v->in_scope[i] && strcmp(k->vars[i].name, x->name) == 0)
            err(v, "'%s' shadows a variable of the same name", x->name);
    v->in_scope[var] = true;
}

static void check_block(Verifier *v, const KirBlock *b, int depth);

static void check_stmt(Verifier *v, const KirStmt *s, int depth)
{
    const KirKernel *k = v->k;
    v->stmt = s;
    switch (s->kind) {
    case KIR_S_FOR:
        if (!s->lo || !s->hi) {
            err(v, "a loop without bounds");
            return;
        }
        check_expr(v, s->lo);
        check_expr(v, s->hi);
        v->stmt = s;
        if (s->lo->type != KIR_I64 || s->hi->type != KIR_I64) err(v, "loop bounds must be i64");
        if (s->step < 1) err(v, "loop step %lld is not positive", (long long)s->step);
        if (s->loop < 0 || s->loop >= k->n_loops) err(v, "loop id L%d is out of range (the kernel has %d loops)", s->loop, k->n_loops);
        else if (v->loop_seen[s->loop]++) err(v, "loop id L%d is used twice", s->loop);
        declare(v, s->var, KIR_V_LOOP);
        if (s->var >= 2 && s->var < k->n_vars && k->vars[s->var].type != KIR_I64)
            err(v, "loop variable '%s' must be i64", k->vars[s->var].name);
        check_block(v, &s->body, depth + 1);
        if (s->var >= 0 && s->var < k->n_vars) v->in_scope[s->var] = false;
        return;
    case KIR_S_VAR:
        if (!s->value) {
            err(v, "a local without an initial value");
            return;
        }
        check_expr(v, s->value);
        v->stmt = s;
        declare(v, s->var, KIR_V_LOCAL);
        if (s->var >= 2 && s->var < k->n_vars && s->value->type != k->vars[s->var].type)
            err(v, "'%s' is %s but its initial value is %s", k->vars[s->var].name, kir_type_name(k->vars[s->var].type),
                kir_type_name(s->value->type));
        return;
    case KIR_S_ASSIGN:
        if (!s->value || s->var < 0 || s->var >= k->n_vars) {
            err(v, "a malformed assignment");
            return;
        }
        check_expr(v, s->value);
        v->stmt = s;
        if (k->vars[s->var].kind != KIR_V_LOCAL) err(v, "'%s' is not a local: it cannot be assigned", k->vars[s->var].name);
        else if (!v->in_scope[s->var]) err(v, "'%s' is assigned outside its scope", k->vars[s->var].name);
        if (s->value->type != k->vars[s->var].type)
            err(v, "'%s' is %s but is assigned %s", k->vars[s->var].name, kir_type_name(k->vars[s->var].type),
                kir_type_name(s->value->type));
        return;
    case KIR_S_STORE: {
        if (!s->value || s->buf < 0 || s->buf >= k->n_bufs) {
            err(v, "a malformed store");
            return;
        }
        const KirBuf *b = &k->bufs[s->buf];
        for (int i = 0; i < s->n_idx; i++) check_expr(v, s->idx[i]);
        check_expr(v, s->value);
        v->stmt = s;
        if (!kir_role_writable(b->role)) err(v, "store to %%%s, a buffer of role '%s'", b->name, kir_role_name(b->role));
        check_indices(v, b, s->n_idx, s->idx, "store");
        if (s->value->type != b->type)
            err(v, "store of %s into %%%s of %s", kir_type_name(s->value->type), b->name, kir_type_name(b->type));
        return;
    }
    case KIR_S_IF:
        if (!s->value) {
            err(v, "an if without a condition");
            return;
        }
        check_expr(v, s->value);
        v->stmt = s;
        if (!is_int(s->value->type)) err(v, "the condition of 'if' is %s, not an integer", kir_type_name(s->value->type));
        check_block(v, &s->body, depth);
        check_block(v, &s->els, depth);
        return;
    }
    err(v, "unknown statement");
}

static void check_block(Verifier *v, const KirBlock *b, int depth)
{
    const KirKernel *k = v->k;
    for (int i = 0; i < b->n; i++) check_stmt(v, b->stmts[i], depth);
    /* Locals end with their block. */
    for (int i = 0; i < b->n; i++)
        if (b->stmts[i]->kind == KIR_S_VAR && b->stmts[i]->var >= 0 && b->stmts[i]->var < k->n_vars)
            v->in_scope[b->stmts[i]->var] = false;
}

/* ---- schedules ------------------------------------------------------------------ */

KirRedKind kir_reduction_of(const KirStmt *s)
{
    if (s->kind != KIR_S_ASSIGN || s->value->kind != KIR_E_OP) return KIR_RED_NONE;
    const KirExpr *e = s->value;
    int acc = s->var;
#define IS_ACC(x) ((x)->kind == KIR_E_VAR && (x)->id == acc)
    switch (e->op) {
    case KIR_OP_ADD:
    case KIR_OP_MAX:
    case KIR_OP_MIN: {
        const KirExpr *other = IS_ACC(e->args[0]) ? e->args[1] : IS_ACC(e->args[1]) ? e->args[0] : NULL;
        if (!other || kir_expr_uses_var(other, acc)) return KIR_RED_NONE;
        return e->op == KIR_OP_ADD ? KIR_RED_ADD : e->op == KIR_OP_MAX ? KIR_RED_MAX : KIR_RED_MIN;
    }
    case KIR_OP_FMA:
        if (!IS_ACC(e->args[2]) || kir_expr_uses_var(e->args[0], acc) || kir_expr_uses_var(e->args[1], acc))
            return KIR_RED_NONE;
        return KIR_RED_FMA;
    default: return KIR_RED_NONE;
    }
#undef IS_ACC
}

/* What a loop body does that matters for its schedule. */
typedef struct BodyFacts {
    const KirKernel *k;
    int var;             /* the loop's variable */
    bool *local_inside;  /* [n_vars]: declared inside the loop */
    bool has_loop;
    bool assigns_outer;
    bool bad_reduction;  /* an outer-local update that is no recognised reduction */
    bool stores_indep;   /* every store indexes with var */
    const char *outer_name;
    KirRedKind *red;     /* [n_vars]: the reduction kind of each updated outer local */
    int *updates;        /* [n_vars]: assignments to it */
    int *reads;          /* [n_vars]: reads of it anywhere in the body */
} BodyFacts;

static void count_reads(const KirExpr *e, int *reads)
{
    if (e->kind == KIR_E_VAR) reads[e->id]++;
    for (int i = 0; i < e->n_args; i++) count_reads(e->args[i], reads);
}

static void body_fact(const KirStmt *s, int depth, void *ctx)
{
    BodyFacts *f = ctx;
    switch (s->kind) {
    case KIR_S_FOR:
        f->has_loop = true;
        f->local_inside[s->var] = true;
        count_reads(s->lo, f->reads);
        count_reads(s->hi, f->reads);
        break;
    case KIR_S_VAR:
        f->local_inside[s->var] = true;
        count_reads(s->value, f->reads);
        break;
    case KIR_S_ASSIGN:
        count_reads(s->value, f->reads);
        if (!f->local_inside[s->var]) {
            f->assigns_outer = true;
            if (!f->outer_name) f->outer_name = f->k->vars[s->var].name;
            KirRedKind r = kir_reduction_of(s);
            if (r == KIR_RED_NONE || !kir_type_is_float(f->k->vars[s->var].type)) f->bad_reduction = true;
            /* fma and add are the same reduction (a sum) */
            KirRedKind cls = r == KIR_RED_FMA ? KIR_RED_ADD : r;
            KirRedKind prev = f->red[s->var] == KIR_RED_FMA ? KIR_RED_ADD : f->red[s->var];
            if (f->updates[s->var] && prev != cls) f->bad_reduction = true;
            f->red[s->var] = r;
            f->updates[s->var]++;
        }
        break;
    case KIR_S_STORE: {
        bool uses = false;
        for (int i = 0; i < s->n_idx; i++) uses |= kir_expr_uses_var(s->idx[i], f->var);
        if (!uses) f->stores_indep = false;
        for (int i = 0; i < s->n_idx; i++) count_reads(s->idx[i], f->reads);
        count_reads(s->value, f->reads);
        break;
    }
    case KIR_S_IF: count_reads(s->value, f->reads); break;
    }
}

/* Facts of a loop's body; its arrays in arena a. */
static void body_facts(BodyFacts *f, Arena *a, const KirKernel *k, const KirStmt *loop)
{
    memset(f, 0, sizeof *f);
    f->k = k;
    f->var = loop->var;
    f->stores_indep = true;
    size_t n = (size_t)k->n_vars;
    f->local_inside = ARENA_NEW_N(a, bool, n);
    f->red = ARENA_NEW_N(a, KirRedKind, n);
    f->updates = ARENA_NEW_N(a, int, n);
    f->reads = ARENA_NEW_N(a, int, n);
    kir_walk(&loop->body, body_fact, f);
    /* A reduced local may be read only by its own updates (once each). */
    for (int i = 0; i < k->n_vars; i++)
        if (f->updates[i] && f->reads[i] != f->updates[i]) f->bad_reduction = true;
}

/* Exposed to schedule.c through kir_loop_infos; here for the verifier. */
static bool is_top_level(const KirKernel *k, const KirStmt *loop)
{
    for (int i = 0; i < k->body.n; i++)
        if (k->body.stmts[i] == loop) return true;
    return false;
}

/* `jam` only on the outer or inner loop of a jam nest (kir_jam_nest) whose
 * inner product is vectorized; the jammed loops keep no vec, unroll or tile. */
static void check_jam(Verifier *v, const KirSchedule *s, int id, const KirStmt *loop)
{
    KirJamNest j;
    if (!kir_jam_nest_of(v->k, loop, &j)) {
        err(v, "L%d: jam needs a matrix-product nest (a loop whose body is one loop holding `var acc`, an inner "
               "product into acc over loads that move with one of the two loops each, then no loop)", id);
        return;
    }
    const KirLoopSched *d = &s->loops[j.dot->loop];
    if (d->vec <= 1) err(v, "L%d: jam needs the inner product L%d vectorized (vec N)", id, j.dot->loop);
    for (int i = 0; i < 2; i++) {
        const KirStmt *l = i ? j.inner : j.outer;
        const KirLoopSched *ls = &s->loops[l->loop];
        if (ls->vec > 1 || ls->unroll > 1 || ls->tile > 0)
            err(v, "L%d: a loop of a jammed nest takes no vec, unroll or tile", l->loop);
    }
}

static int check_schedule(Verifier *v, const KirSchedule *s)
{
    const KirKernel *k = v->k;
    v->stmt = NULL;
    /* chunk names the body's form: only Mamba-2 scans have one, and a
     * schedule of another form applies to the kernel rebuilt in it */
    if (s->chunk < 0 || s->chunk > CG_SSD_CHUNK_MAX)
        err(v, "chunk %d is not from 0 to %d", s->chunk, CG_SSD_CHUNK_MAX);
    else if (s->chunk > 0 && strcmp(k->op, "ssd_scan") != 0 && strcmp(k->op, "fused_ssd_scan") != 0)
        err(v, "chunk %d: only ssd_scan and fused_ssd_scan kernels have a chunked form", s->chunk);
    else if (s->chunk != k->chunk)
        err(v, "chunk %d: the kernel's body is the form of chunk %d (kir_set_schedule rebuilds it)", s->chunk, k->chunk);
    if (s->n_loops != k->n_loops) {
        err(v, "the schedule covers %d loops, the kernel has %d", s->n_loops, k->n_loops);
        return v->errors;
    }
    for (int id = 0; id < s->n_loops; id++) {
        const KirLoopSched *l = &s->loops[id];
        const KirStmt *loop = kir_find_loop(k, id);
        v->stmt = loop;
        if (!loop) {
            err(v, "the schedule refers to loop L%d, which does not exist", id);
            continue;
        }
        bool pow2 = l->vec >= 1 && l->vec <= 64 && (l->vec & (l->vec - 1)) == 0;
        if (!pow2) err(v, "L%d: vec %d is not a power of two from 1 to 64", id, l->vec);
        if (l->unroll < 1 || l->unroll > 16) err(v, "L%d: unroll %d is not from 1 to 16", id, l->unroll);
        if (l->tile < 0 || l->tile > (1 << 20)) err(v, "L%d: tile %d is out of range", id, l->tile);
        if (l->jam < 0 || l->jam > 16) err(v, "L%d: jam %d is not from 1 to 16", id, l->jam);
        bool scheduled = l->parallel || l->vec > 1 || l->unroll > 1 || l->tile > 0 || l->jam > 1;
        if (scheduled && loop->step != 1) err(v, "L%d: only loops of step 1 can be scheduled", id);
        if (l->jam > 1) check_jam(v, s, id, loop);
        if (!l->parallel && l->vec <= 1) continue;
        BodyFacts f;
        body_facts(&f, &v->scratch, k, loop);
        if (l->parallel) {
            if (!is_top_level(k, loop)) err(v, "L%d is marked parallel but is not a top-level loop", id);
            if (f.assigns_outer)
                err(v, "L%d is marked parallel but carries a reduction into '%s', declared outside it", id, f.outer_name);
            if (!f.stores_indep)
                err(v, "L%d is marked parallel but stores to a place that does not depend on '%s'", id,
                    k->vars[loop->var].name);
        }
        if (l->vec > 1) {
            if (f.has_loop) err(v, "L%d is vectorized but is not an innermost loop", id);
            if (f.bad_reduction)
                err(v, "L%d is vectorized but updates '%s', declared outside it, other than by a float add/fma/max/min reduction",
                    id, f.outer_name ? f.outer_name : "?");
        }
    }
    return v->errors;
}

/* ---- entry points --------------------------------------------------------------- */

static void verifier_init(Verifier *v, const KirKernel *k, Diag *diag)
{
    memset(v, 0, sizeof *v);
    v->k = k;
    v->diag = diag;
    size_t nv = (size_t)(k->n_vars > 0 ? k->n_vars : 1);
    arena_init(&v->scratch);
    v->in_scope = ARENA_NEW_N(&v->scratch, bool, nv);
    v->declared = ARENA_NEW_N(&v->scratch, int, nv);
    v->loop_seen = ARENA_NEW_N(&v->scratch, int, k->n_loops > 0 ? k->n_loops : 1);
}

static void verifier_free(Verifier *v) { arena_free(&v->scratch); }

bool kir_verify(const KirKernel *k, Diag *diag)
{
    Verifier v;
    verifier_init(&v, k, diag);
    check_names(&v);
    check_bufs(&v);
    if (k->n_vars >= 2) v.in_scope[KIR_VAR_T] = v.in_scope[KIR_VAR_POS] = true;
    for (int i = 0; i < k->body.n; i++) {
        v.stmt = k->body.stmts[i];
        if (k->body.stmts[i]->kind != KIR_S_FOR) err(&v, "top-level statements must be loops (each one is a phase)");
    }
    check_block(&v, &k->body, 0);
    v.stmt = NULL;
    for (int i = 0; i < k->n_loops; i++)
        if (!v.loop_seen[i]) {
            err(&v, "loop id L%d is never used (ids run from L0 to L%d)", i, k->n_loops - 1);
            break; /* one is enough: the others are usually the same mistake */
        }
    for (int i = 2; i < k->n_vars; i++)
        if (v.declared[i] == 0) err(&v, "variable '%s' is never declared", k->vars[i].name);
    if (v.errors == 0) check_schedule(&v, &k->sched);
    verifier_free(&v);
    return v.errors == 0;
}

bool kir_verify_schedule(const KirKernel *k, const KirSchedule *s, Diag *diag)
{
    Verifier v;
    verifier_init(&v, k, diag);
    check_schedule(&v, s);
    verifier_free(&v);
    return v.errors == 0;
}
