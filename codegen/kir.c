/* kir.c — the Kernel IR: type and op tables, kernels, the builder and the
 * structural queries the verifier, the scheduler and the emitter share. */
#include "codegen.h"

#include <string.h>

/* ---- tables ------------------------------------------------------------------- */

static const struct {
    const char *name, *ctype;
    int size;
} type_table[] = {
#define X(id, name, ctype, size) {name, ctype, size},
    KIR_TYPES(X)
#undef X
};

static const KirOpInfo op_table[] = {
#define X(id, name, arity, cls) {name, arity, cls},
    KIR_OPS(X)
#undef X
};
_Static_assert(sizeof op_table / sizeof op_table[0] == KIR_OP_COUNT, "KIR_OPS out of sync");

static const char *const role_names[] = {
#define X(id, name, desc) name,
    KIR_ROLES(X)
#undef X
};
_Static_assert(sizeof role_names / sizeof role_names[0] == KIR_ROLE_COUNT, "KIR_ROLES out of sync");

const char *kir_type_name(KirType t)
{
    HYC_ASSERT(t >= 0 && t < KIR_TYPE_COUNT);
    return type_table[t].name;
}

const char *kir_type_ctype(KirType t)
{
    HYC_ASSERT(t >= 0 && t < KIR_TYPE_COUNT);
    return type_table[t].ctype;
}

int kir_type_size(KirType t)
{
    HYC_ASSERT(t >= 0 && t < KIR_TYPE_COUNT);
    return type_table[t].size;
}

bool kir_type_is_float(KirType t) { return t == KIR_F32 || t == KIR_F64; }

bool kir_type_lookup(const char *name, KirType *out)
{
    for (int i = 0; i < KIR_TYPE_COUNT; i++)
        if (strcmp(type_table[i].name, name) == 0) {
            *out = (KirType)i;
            return true;
        }
    return false;
}

const KirOpInfo *kir_op_info(KirOp op)
{
    HYC_ASSERT(op >= 0 && op < KIR_OP_COUNT);
    return &op_table[op];
}

KirOp kir_op_lookup(const char *name)
{
    for (int i = 0; i < KIR_OP_COUNT; i++)
        if (strcmp(op_table[i].name, name) == 0) return (KirOp)i;
    return KIR_OP_COUNT;
}

KirType kir_cast_type(KirOp op)
{
    switch (op) {
    case KIR_OP_TO_F32: return KIR_F32;
    case KIR_OP_TO_F64: return KIR_F64;
    case KIR_OP_TO_I32: return KIR_I32;
    case KIR_OP_TO_I64: return KIR_I64;
    default: HYC_DIE("kir_cast_type: '%s' is not a cast", kir_op_info(op)->name);
    }
}

const char *kir_role_name(KirRole r)
{
    HYC_ASSERT(r >= 0 && r < KIR_ROLE_COUNT);
    return role_names[r];
}

bool kir_role_lookup(const char *name, KirRole *out)
{
    for (int i = 0; i < KIR_ROLE_COUNT; i++)
        if (strcmp(role_names[i], name) == 0) {
            *out = (KirRole)i;
            return true;
        }
    return false;
}

bool kir_role_writable(KirRole r)
{
    return r == KIR_ROLE_OUT || r == KIR_ROLE_STATE || r == KIR_ROLE_TEMP;
}

/* ---- kernels ------------------------------------------------------------------ */

KirKernel *kir_kernel_new(Arena *a, const char *name, const char *op, SrcLoc loc)
{
    KirKernel *k = ARENA_NEW(a, KirKernel);
    k->name = arena_strdup(a, name);
    k->op = arena_strdup(a, op);
    k->loc = loc;
    kir_add_var(k, a, "T", KIR_I64, KIR_V_SCALAR);
    kir_add_var(k, a, "pos", KIR_I64, KIR_V_SCALAR);
    return k;
}

int kir_add_buf(KirKernel *k, Arena *a, const char *name, KirRole role, KirType type, int rank,
                const int64_t *dims, const char *comment)
{
    HYC_ASSERT(rank >= 1 && rank <= IR_MAX_RANK);
    k->bufs = ir_grow(a, k->bufs, sizeof *k->bufs, &k->cap_bufs, k->n_bufs + 1);
    KirBuf *b = &k->bufs[k->n_bufs];
    memset(b, 0, sizeof *b);
    b->name = arena_strdup(a, name);
    b->role = role;
    b->type = type;
    b->rank = rank;
    for (int i = 0; i < rank; i++) b->dims[i] = dims[i];
    b->comment = comment ? arena_strdup(a, comment) : "";
    return k->n_bufs++;
}

int kir_add_var(KirKernel *k, Arena *a, const char *name, KirType type, KirVarKind kind)
{
    k->vars = ir_grow(a, k->vars, sizeof *k->vars, &k->cap_vars, k->n_vars + 1);
    k->vars[k->n_vars] = (KirVar){arena_strdup(a, name), type, kind};
    return k->n_vars++;
}

int kir_find_buf(const KirKernel *k, const char *name)
{
    for (int i = 0; i < k->n_bufs; i++)
        if (strcmp(k->bufs[i].name, name) == 0) return i;
    return -1;
}

int64_t kir_buf_numel(const KirBuf *b, int64_t T)
{
    int64_t n = 1;
    for (int i = 0; i < b->rank; i++) n *= b->dims[i] == IR_DIM_T ? T : b->dims[i];
    return n;
}

int64_t kir_buf_stride(const KirBuf *b, int d)
{
    int64_t s = 1;
    for (int i = d + 1; i < b->rank; i++) {
        HYC_ASSERT(b->dims[i] > 0);
        s *= b->dims[i];
    }
    return s;
}

void kir_block_push(Arena *a, KirBlock *blk, KirStmt *s)
{
    blk->stmts = ir_grow(a, blk->stmts, sizeof *blk->stmts, &blk->cap, blk->n + 1);
    blk->stmts[blk->n++] = s;
}

/* ---- expressions -------------------------------------------------------------- */

KirExpr *kir_const_f(Arena *a, KirType t, double v)
{
    HYC_ASSERT(kir_type_is_float(t));
    KirExpr *e = ARENA_NEW(a, KirExpr);
    e->kind = KIR_E_CONST;
    e->type = t;
    e->f = t == KIR_F32 ? (double)(float)v : v;
    return e;
}

KirExpr *kir_const_i(Arena *a, KirType t, int64_t v)
{
    HYC_ASSERT(!kir_type_is_float(t));
    KirExpr *e = ARENA_NEW(a, KirExpr);
    e->kind = KIR_E_CONST;
    e->type = t;
    e->i = t == KIR_I32 ? (int64_t)(int32_t)v : v;
    return e;
}

KirExpr *kir_var_ref(Arena *a, const KirKernel *k, int var)
{
    HYC_ASSERT(var >= 0 && var < k->n_vars);
    KirExpr *e = ARENA_NEW(a, KirExpr);
    e->kind = KIR_E_VAR;
    e->type = k->vars[var].type;
    e->id = var;
    return e;
}

static KirExpr **copy_args(Arena *a, int n, KirExpr *const *args)
{
    KirExpr **out = ARENA_NEW_N(a, KirExpr *, n > 0 ? n : 1);
    for (int i = 0; i < n; i++) out[i] = args[i];
    return out;
}

KirExpr *kir_load(Arena *a, const KirKernel *k, int buf, int n, KirExpr *const *idx)
{
    HYC_ASSERT(buf >= 0 && buf < k->n_bufs);
    KirExpr *e = ARENA_NEW(a, KirExpr);
    e->kind = KIR_E_LOAD;
    e->type = k->bufs[buf].type;
    e->id = buf;
    e->n_args = n;
    e->args = copy_args(a, n, idx);
    return e;
}

KirExpr *kir_op(Arena *a, KirOp op, int n, KirExpr *const *args)
{
    const KirOpInfo *info = kir_op_info(op);
    KirExpr *e = ARENA_NEW(a, KirExpr);
    e->kind = KIR_E_OP;
    e->op = op;
    e->n_args = n;
    e->args = copy_args(a, n, args);
    switch (info->cls) {
    case KIR_OC_CMP: e->type = KIR_I32; break;
    case KIR_OC_CAST: e->type = kir_cast_type(op); break;
    case KIR_OC_SELECT: e->type = n >= 2 ? args[1]->type : KIR_F32; break;
    default: e->type = n >= 1 ? args[0]->type : KIR_F32; break;
    }
    return e;
}

bool kir_expr_uses_var(const KirExpr *e, int var)
{
    if (e->kind == KIR_E_VAR) return e->id == var;
    for (int i = 0; i < e->n_args; i++)
        if (kir_expr_uses_var(e->args[i], var)) return true;
    return false;
}

bool kir_expr_is_const_i(const KirExpr *e, int64_t *v)
{
    if (e->kind != KIR_E_CONST || kir_type_is_float(e->type)) return false;
    *v = e->i;
    return true;
}

bool kir_affine_coeff(const KirExpr *e, int var, int64_t *coeff)
{
    int64_t c = 0, d = 0;
    if (!kir_expr_uses_var(e, var)) {
        *coeff = 0;
        return true;
    }
    switch (e->kind) {
    case KIR_E_VAR: *coeff = 1; return true;
    case KIR_E_CONST: *coeff = 0; return true;
    case KIR_E_LOAD: return false;
    case KIR_E_OP: break;
    }
    if (kir_type_is_float(e->type)) return false;
    switch (e->op) {
    case KIR_OP_ADD:
    case KIR_OP_SUB:
        if (!kir_affine_coeff(e->args[0], var, &c) || !kir_affine_coeff(e->args[1], var, &d))
            return false;
        *coeff = e->op == KIR_OP_ADD ? c + d : c - d;
        return true;
    case KIR_OP_MUL: {
        int64_t k;
        if (kir_expr_is_const_i(e->args[0], &k) && kir_affine_coeff(e->args[1], var, &c)) {
            *coeff = k * c;
            return true;
        }
        if (kir_expr_is_const_i(e->args[1], &k) && kir_affine_coeff(e->args[0], var, &c)) {
            *coeff = k * c;
            return true;
        }
        return false;
    }
    case KIR_OP_NEG:
        if (!kir_affine_coeff(e->args[0], var, &c)) return false;
        *coeff = -c;
        return true;
    case KIR_OP_TO_I32:
    case KIR_OP_TO_I64:
        if (kir_type_is_float(e->args[0]->type)) return false;
        return kir_affine_coeff(e->args[0], var, coeff);
    default: return false;
    }
}

/* ---- walking ------------------------------------------------------------------ */

static void walk_block(const KirBlock *b, int depth, void (*fn)(const KirStmt *, int, void *), void *ctx)
{
    for (int i = 0; i < b->n; i++) {
        const KirStmt *s = b->stmts[i];
        fn(s, depth, ctx);
        if (s->kind == KIR_S_FOR) walk_block(&s->body, depth + 1, fn, ctx);
        if (s->kind == KIR_S_IF) {
            walk_block(&s->body, depth, fn, ctx);
            walk_block(&s->els, depth, fn, ctx);
        }
    }
}

void kir_walk(const KirBlock *b, void (*fn)(const KirStmt *s, int depth, void *ctx), void *ctx)
{
    walk_block(b, 0, fn, ctx);
}

typedef struct FindLoop {
    int loop;
    const KirStmt *found;
} FindLoop;

static void find_loop_fn(const KirStmt *s, int depth, void *ctx)
{
    FindLoop *f = ctx;
    if (s->kind == KIR_S_FOR && s->loop == f->loop && !f->found) f->found = s;
}

const KirStmt *kir_find_loop(const KirKernel *k, int loop)
{
    FindLoop f = {loop, NULL};
    kir_walk(&k->body, find_loop_fn, &f);
    return f.found;
}

/* ---- builder ------------------------------------------------------------------ */

void kb_init(KirBuilder *b, Arena *a, KirKernel *k)
{
    memset(b, 0, sizeof *b);
    b->a = a;
    b->k = k;
    b->open[0] = &k->body;
}

static KirStmt *kb_push(KirBuilder *b, KirStmtKind kind)
{
    KirStmt *s = ARENA_NEW(b->a, KirStmt);
    s->kind = kind;
    s->var = s->buf = s->loop = -1;
    kir_block_push(b->a, b->open[b->depth], s);
    return s;
}

static void kb_open(KirBuilder *b, KirStmt *owner, KirBlock *blk)
{
    HYC_ASSERT(b->depth + 1 < KB_MAX_DEPTH);
    b->depth++;
    b->open[b->depth] = blk;
    b->open_stmt[b->depth] = owner;
}

int kb_for(KirBuilder *b, const char *var, KirExpr *lo, KirExpr *hi)
{
    KirStmt *s = kb_push(b, KIR_S_FOR);
    s->var = kir_add_var(b->k, b->a, var, KIR_I64, KIR_V_LOOP);
    s->lo = lo;
    s->hi = hi;
    s->step = 1;
    s->loop = b->k->n_loops++;
    kb_open(b, s, &s->body);
    return s->var;
}

void kb_if(KirBuilder *b, KirExpr *cond)
{
    KirStmt *s = kb_push(b, KIR_S_IF);
    s->value = cond;
    kb_open(b, s, &s->body);
}

void kb_else(KirBuilder *b)
{
    KirStmt *s = b->open_stmt[b->depth];
    HYC_ASSERT(b->depth > 0 && s->kind == KIR_S_IF && b->open[b->depth] == &s->body);
    b->open[b->depth] = &s->els;
}

void kb_end(KirBuilder *b)
{
    HYC_ASSERT(b->depth > 0);
    b->depth--;
}

int kb_let(KirBuilder *b, const char *name, KirType t, KirExpr *init)
{
    KirStmt *s = kb_push(b, KIR_S_VAR);
    s->var = kir_add_var(b->k, b->a, name, t, KIR_V_LOCAL);
    s->value = init;
    return s->var;
}

void kb_set(KirBuilder *b, int var, KirExpr *value)
{
    KirStmt *s = kb_push(b, KIR_S_ASSIGN);
    s->var = var;
    s->value = value;
}

void kb_store(KirBuilder *b, int buf, int n, KirExpr *const *idx, KirExpr *value)
{
    KirStmt *s = kb_push(b, KIR_S_STORE);
    s->buf = buf;
    s->n_idx = n;
    s->idx = copy_args(b->a, n, idx);
    s->value = value;
}

KirExpr *kb_f(KirBuilder *b, double v) { return kir_const_f(b->a, KIR_F32, v); }
KirExpr *kb_d(KirBuilder *b, double v) { return kir_const_f(b->a, KIR_F64, v); }
KirExpr *kb_i(KirBuilder *b, int64_t v) { return kir_const_i(b->a, KIR_I64, v); }
KirExpr *kb_v(KirBuilder *b, int var) { return kir_var_ref(b->a, b->k, var); }

KirExpr *kb_dim(KirBuilder *b, int buf, int d)
{
    const KirBuf *bf = &b->k->bufs[buf];
    HYC_ASSERT(d >= 0 && d < bf->rank);
    return bf->dims[d] == IR_DIM_T ? kb_v(b, KIR_VAR_T) : kb_i(b, bf->dims[d]);
}

KirExpr *kb_ld(KirBuilder *b, int buf, int n, KirExpr *const *idx) { return kir_load(b->a, b->k, buf, n, idx); }
KirExpr *kb_op1(KirBuilder *b, KirOp op, KirExpr *x) { return kir_op(b->a, op, 1, &x); }

KirExpr *kb_op2(KirBuilder *b, KirOp op, KirExpr *x, KirExpr *y)
{
    KirExpr *args[2] = {x, y};
    return kir_op(b->a, op, 2, args);
}

KirExpr *kb_op3(KirBuilder *b, KirOp op, KirExpr *x, KirExpr *y, KirExpr *z)
{
    KirExpr *args[3] = {x, y, z};
    return kir_op(b->a, op, 3, args);
}
