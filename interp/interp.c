/* interp.c — the reference interpreter: executes a lowered Graph IR module
 * instruction by instruction with the ik_* kernels (interp.h).
 *
 * Written to be obviously right, not fast: every value of a call gets its
 * own zeroed float32 buffer (freed after its last use), every op is one
 * case below that reads its operands per docs/ir.md §5 and calls a kernel
 * or a plain loop in double.  Shapes were checked by the verifier; the
 * asserts here only guard the interpreter's own assumptions.
 */
#include "interp.h"
#include "../ir/ir.h"
#include "../passes/passes.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct InterpSession {
    const IrModule *m;
    const Weights *w;
    float **state;      /* [n_states]: zeroed at creation and reset; a state
                           declared bf16 / f16 holds values rounded to it */
    IkStorage *state_storage; /* [n_states] */
    size_t *state_len;  /* elements of each */
    int64_t *state_rows; /* kv_cache: rows S (max_seq substituted); else 0 */
    bool *state_ring;   /* kv_cache with a constant S: a ring of S positions */
    int64_t pos;
    int64_t vocab;
};

/* ---- sessions ----------------------------------------------------------------- */

bool interp_module_is_lowered(const IrModule *m)
{
    for (int f = 0; f < m->n_funcs; f++)
        for (int i = 0; i < m->funcs[f]->n_insts; i++)
            if (ir_op_info(m->funcs[f]->insts[i].op)->flags & IR_OPF_COMPOSITE) return false;
    return true;
}

bool interp_lower(IrModule *m, Diag *d)
{
    const Pass *passes[] = {&pass_lower_composites};
    PassOptions opts = {0};
    opts.verify_each = true;
    IrModule *mm = m;
    if (!pass_run_passes(&mm, passes, 1, &opts, d)) return false;
    HYC_ASSERT(mm == m);
    return true;
}

static int64_t state_numel(const IrModule *m, const IrStateDecl *s, int64_t *rows)
{
    int64_t n = 1;
    *rows = 0;
    for (int i = 0; i < s->type.rank; i++) {
        int64_t dim = s->type.dims[i];
        if (dim == IR_DIM_MAX_SEQ) dim = m->max_seq;
        HYC_ASSERT(dim > 0);
        if (s->kind == IR_STATE_KV_CACHE && i == 1) *rows = dim;
        n *= dim;
    }
    return n;
}

InterpSession *interp_new(const IrModule *m, const Weights *w)
{
    if (!interp_module_is_lowered(m))
        HYC_DIE("interp_new: module '%s' still holds composite ops (run interp_lower first)", m->name);
    if (w->mod != m || w->n != m->n_params)
        HYC_DIE("interp_new: the weights are not those of module '%s'", m->name);
    IrFunc *pf = ir_find_func(m, "prefill");
    HYC_ASSERT(pf && pf->has_ret_type && pf->ret_type.rank == 2);
    InterpSession *s = xcalloc(1, sizeof *s);
    s->m = m;
    s->w = w;
    s->vocab = pf->ret_type.dims[1];
    int n = m->n_states;
    s->state = xcalloc((size_t)(n ? n : 1), sizeof *s->state);
    s->state_len = xcalloc((size_t)(n ? n : 1), sizeof *s->state_len);
    s->state_rows = xcalloc((size_t)(n ? n : 1), sizeof *s->state_rows);
    s->state_ring = xcalloc((size_t)(n ? n : 1), sizeof *s->state_ring);
    s->state_storage = xcalloc((size_t)(n ? n : 1), sizeof *s->state_storage);
    for (int i = 0; i < n; i++) {
        const IrStateDecl *sd = &m->states[i];
        s->state_storage[i] = sd->type.dtype == IR_DT_BF16  ? IK_STORE_BF16
                              : sd->type.dtype == IR_DT_F16 ? IK_STORE_F16
                                                            : IK_STORE_F32;
        int64_t len = state_numel(m, sd, &s->state_rows[i]);
        s->state_len[i] = (size_t)len;
        s->state_ring[i] = sd->kind == IR_STATE_KV_CACHE && sd->type.dims[1] != IR_DIM_MAX_SEQ;
        s->state[i] = xcalloc((size_t)len, sizeof(float));
    }
    return s;
}

void interp_reset(InterpSession *s)
{
    for (int i = 0; i < s->m->n_states; i++) memset(s->state[i], 0, s->state_len[i] * sizeof(float));
    s->pos = 0;
}

void interp_free(InterpSession *s)
{
    if (!s) return;
    for (int i = 0; i < s->m->n_states; i++) free(s->state[i]);
    free(s->state);
    free(s->state_len);
    free(s->state_rows);
    free(s->state_ring);
    free(s->state_storage);
    free(s);
}

int64_t interp_pos(const InterpSession *s) { return s->pos; }
int64_t interp_vocab(const InterpSession *s) { return s->vocab; }

/* ---- tensors of one call -------------------------------------------------------- */

/* An operand as the ops see it: its data and its shape, T substituted. */
typedef struct Ten {
    float *f;        /* float values, params and states */
    const int32_t *i; /* the i32 token argument */
    int rank;
    int64_t d[IR_MAX_RANK];
    int64_t n;       /* elements */
} Ten;

typedef struct Call {
    InterpSession *s;
    const IrFunc *fn;
    int64_t T;
    void **buf;      /* [n_values]: float* (or int32_t* for the argument) */
    Diag *diag;
    const IrInst *in; /* the instruction being run */
} Call;

static int64_t numel_of(const Ten *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->d[i];
    return n;
}

static Ten ten_of_type(const IrType *ty, int64_t T, int64_t max_seq)
{
    Ten t = {0};
    t.rank = ty->rank;
    for (int i = 0; i < ty->rank; i++) {
        int64_t dim = ty->dims[i];
        if (dim == IR_DIM_T) dim = T;
        if (dim == IR_DIM_MAX_SEQ) dim = max_seq;
        HYC_ASSERT(dim > 0);
        t.d[i] = dim;
    }
    t.n = numel_of(&t);
    return t;
}

/* Kernels take int sizes. */
static int I(int64_t v)
{
    if (v < 0 || v > INT_MAX) HYC_DIE("size %lld does not fit the reference kernels' int", (long long)v);
    return (int)v;
}

static Ten operand(Call *c, IrOperand o)
{
    const IrModule *m = c->s->m;
    Ten t = {0};
    switch (o.kind) {
    case IR_OPND_NONE: return t; /* f == NULL, i == NULL */
    case IR_OPND_VALUE: {
        const IrType *ty = &c->fn->values[o.id].type;
        t = ten_of_type(ty, c->T, m->max_seq);
        HYC_ASSERT(c->buf[o.id]);
        if (ty->dtype == IR_DT_I32)
            t.i = c->buf[o.id];
        else
            t.f = c->buf[o.id];
        return t;
    }
    case IR_OPND_PARAM:
        t = ten_of_type(&m->params[o.id].type, c->T, m->max_seq);
        t.f = c->s->w->data[o.id];
        HYC_ASSERT(t.f);
        return t;
    case IR_OPND_STATE:
        t = ten_of_type(&m->states[o.id].type, c->T, m->max_seq);
        t.f = c->s->state[o.id];
        return t;
    }
    HYC_UNREACHABLE();
}

static Ten opnd(Call *c, const char *slot) { return operand(c, ir_inst_operand(c->in, slot)); }

/* The instruction's result buffer, zeroed, registered for the call. */
static Ten result(Call *c)
{
    int r = c->in->result;
    HYC_ASSERT(r >= 0 && !c->buf[r]);
    const IrType *ty = &c->fn->values[r].type;
    HYC_ASSERT(ty->dtype != IR_DT_I32);
    Ten t = ten_of_type(ty, c->T, c->s->m->max_seq);
    t.f = xcalloc((size_t)t.n, sizeof(float));
    c->buf[r] = t.f;
    return t;
}

/* The result an earlier step of this instruction registered. */
static Ten result_of(Call *c)
{
    int r = c->in->result;
    HYC_ASSERT(r >= 0 && c->buf[r]);
    Ten t = ten_of_type(&c->fn->values[r].type, c->T, c->s->m->max_seq);
    t.f = c->buf[r];
    return t;
}

static int64_t last_dim(const Ten *t) { return t->d[t->rank - 1]; }
static int64_t rows_of(const Ten *t) { return t->n / last_dim(t); }

static void same_numel(const Ten *a, const Ten *b)
{
    HYC_ASSERT(a->n == b->n);
}

/* ---- ops -------------------------------------------------------------------------- */

static bool op_embed(Call *c)
{
    Ten tok = opnd(c, "tokens"), tab = opnd(c, "table"), y = result(c);
    int64_t V = tab.d[0], d = tab.d[1];
    HYC_ASSERT(tok.i && y.n == tok.n * d);
    for (int64_t t = 0; t < tok.n; t++) {
        int32_t id = tok.i[t];
        if (id < 0 || id >= V) {
            diag_error(c->diag, loc_none(), "token id %d at position %lld is outside the embedding table @%s [%lld, %lld]",
                       id, (long long)(c->s->pos + t), c->s->m->params[ir_inst_operand(c->in, "table").id].name,
                       (long long)V, (long long)d);
            return false;
        }
        memcpy(y.f + t * d, tab.f + (int64_t)id * d, (size_t)d * sizeof(float));
    }
    return true;
}

/* The matmul's fused activation (fuse-epilogue), in place on y. */
static void matmul_act(const char *act, float *y, int n)
{
    if (strcmp(act, "none") == 0) return;
    if (strcmp(act, "silu") == 0) ik_silu(y, y, n);
    else if (strcmp(act, "gelu") == 0) ik_gelu(y, y, n);
    else if (strcmp(act, "gelu_tanh") == 0) ik_gelu_tanh(y, y, n);
    else if (strcmp(act, "relu2") == 0) ik_relu2(y, y, n);
    else if (strcmp(act, "softplus") == 0) ik_softplus(y, y, n);
    else if (strcmp(act, "sigmoid") == 0) ik_sigmoid(y, y, n);
    else HYC_DIE("matmul act '%s'", act);
}

/* y = act(row_scale ⊙ (x · wᵀ) + bias) + res, each epilogue step rounded
 * to f32 as the unfused ops would be: fuse-epilogue does not change the
 * oracle's answer.  The row scale (fuse-prologue) joins the f64 sum before
 * its one rounding; the norm it replaces differs from it by rounding only. */
static void op_matmul(Call *c)
{
    Ten x = opnd(c, "x"), w = opnd(c, "w"), b = opnd(c, "bias"), res = opnd(c, "res"), y = result(c);
    Ten r = opnd(c, "row_scale");
    int64_t k = last_dim(&x), n = w.d[0], rows = rows_of(&x);
    HYC_ASSERT(w.d[1] == k && (!b.f || b.n == n) && (!res.f || res.n == y.n) && (!r.f || r.n == rows));
    ik_matmul_row_scaled(y.f, x.f, w.f, b.f, r.f, I(rows), I(k), I(n));
    matmul_act(ir_attr_s(c->in, "act"), y.f, I(y.n));
    if (res.f) ik_add(y.f, y.f, res.f, I(y.n));
}

static void op_rmsnorm(Call *c)
{
    Ten x = opnd(c, "x"), w = opnd(c, "w"), y = result(c);
    ik_rmsnorm(y.f, x.f, w.f, I(rows_of(&x)), I(last_dim(&x)), (float)ir_attr_f(c->in, "eps"),
               (float)ir_attr_f(c->in, "offset"));
}

static void op_rms_scale(Call *c)
{
    Ten x = opnd(c, "x"), r = result(c);
    HYC_ASSERT(r.n == rows_of(&x));
    ik_rms_scale(r.f, x.f, I(rows_of(&x)), I(last_dim(&x)), (float)ir_attr_f(c->in, "eps"));
}

static void op_layernorm(Call *c)
{
    Ten x = opnd(c, "x"), w = opnd(c, "w"), b = opnd(c, "b"), y = result(c);
    ik_layernorm(y.f, x.f, w.f, b.f, I(rows_of(&x)), I(last_dim(&x)), (float)ir_attr_f(c->in, "eps"));
}

static void op_group_rmsnorm(Call *c)
{
    Ten x = opnd(c, "x"), w = opnd(c, "w"), y = result(c);
    int64_t groups = ir_attr_i(c->in, "groups"), n = last_dim(&x), rows = rows_of(&x);
    float eps = (float)ir_attr_f(c->in, "eps"), off = (float)ir_attr_f(c->in, "offset");
    HYC_ASSERT(groups > 0 && n % groups == 0);
    if (off == 0.0f || !w.f) {
        ik_group_rmsnorm(y.f, x.f, w.f, I(rows), I(n), I(groups), eps);
        return;
    }
    /* (offset + w): one rmsnorm per group, with that group's weights. */
    int64_t gs = n / groups;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t g = 0; g < groups; g++) {
            int64_t o = r * n + g * gs;
            ik_rmsnorm(y.f + o, x.f + o, w.f + g * gs, 1, I(gs), eps, off);
        }
}

static void op_gated_rmsnorm(Call *c)
{
    Ten x = opnd(c, "x"), z = opnd(c, "z"), w = opnd(c, "w"), y = result(c);
    same_numel(&x, &z);
    ik_gated_rmsnorm(y.f, x.f, z.f, w.f, I(rows_of(&x)), I(last_dim(&x)), I(ir_attr_i(c->in, "groups")),
                     (float)ir_attr_f(c->in, "eps"), ir_attr_b(c->in, "norm_before_gate"));
}

static void op_l2norm(Call *c)
{
    Ten x = opnd(c, "x"), y = result(c);
    ik_l2norm(y.f, x.f, I(rows_of(&x)), I(last_dim(&x)), (float)ir_attr_f(c->in, "eps"));
}

static void op_unary(Call *c)
{
    Ten x = opnd(c, "x"), y = result(c);
    same_numel(&x, &y);
    int n = I(x.n);
    switch (c->in->op) {
    case IR_OP_SILU: ik_silu(y.f, x.f, n); return;
    case IR_OP_GELU: /* exact (erf), or HF's gelu_pytorch_tanh / gelu_new */
        (strcmp(ir_attr_s(c->in, "approximate"), "tanh") == 0 ? ik_gelu_tanh : ik_gelu)(y.f, x.f, n);
        return;
    case IR_OP_RELU2: ik_relu2(y.f, x.f, n); return;
    case IR_OP_SOFTPLUS: ik_softplus(y.f, x.f, n); return;
    case IR_OP_SIGMOID: ik_sigmoid(y.f, x.f, n); return;
    case IR_OP_EXP: ik_exp(y.f, x.f, n); return;
    case IR_OP_NEG:
        for (int i = 0; i < n; i++) y.f[i] = -x.f[i];
        return;
    case IR_OP_SCALE: {
        double f = ir_attr_f(c->in, "factor"); /* in double: µP multipliers are not rounded */
        for (int i = 0; i < n; i++) y.f[i] = (float)((double)x.f[i] * f);
        return;
    }
    case IR_OP_CLAMP: {
        double lo = ir_attr_f(c->in, "min"), hi = ir_attr_f(c->in, "max");
        for (int i = 0; i < n; i++) {
            double v = x.f[i];
            if (v < lo) v = lo;
            if (v > hi) v = hi;
            y.f[i] = (float)v;
        }
        return;
    }
    default: HYC_UNREACHABLE();
    }
}

/* a op b with b broadcast to a's shape (dims aligned from the right, each
 * equal or 1). */
static void op_binary(Call *c)
{
    Ten a = opnd(c, "a"), b = opnd(c, "b"), y = result(c);
    same_numel(&a, &y);
    IrOp op = c->in->op;
    if (a.n == b.n) {
        int n = I(a.n);
        if (op == IR_OP_ADD) ik_add(y.f, a.f, b.f, n);
        if (op == IR_OP_SUB) ik_sub(y.f, a.f, b.f, n);
        if (op == IR_OP_MUL) ik_mul(y.f, a.f, b.f, n);
        return;
    }
    /* b's stride along each dim of a (0 where b has 1 or no such dim). */
    int64_t bstride[IR_MAX_RANK] = {0};
    HYC_ASSERT(b.rank <= a.rank);
    int64_t s = 1;
    for (int i = b.rank - 1; i >= 0; i--) {
        int ai = a.rank - b.rank + i;
        HYC_ASSERT(b.d[i] == a.d[ai] || b.d[i] == 1);
        bstride[ai] = b.d[i] == 1 ? 0 : s;
        s *= b.d[i];
    }
    int64_t idx[IR_MAX_RANK] = {0};
    for (int64_t e = 0; e < a.n; e++) {
        int64_t bi = 0;
        for (int i = 0; i < a.rank; i++) bi += idx[i] * bstride[i];
        double x = a.f[e], v = b.f[bi];
        y.f[e] = (float)(op == IR_OP_ADD ? x + v : op == IR_OP_SUB ? x - v : x * v);
        for (int i = a.rank - 1; i >= 0; i--) {
            if (++idx[i] < a.d[i]) break;
            idx[i] = 0;
        }
    }
}

static void op_softmax(Call *c)
{
    Ten x = opnd(c, "x"), y = result(c);
    ik_softmax(y.f, x.f, I(rows_of(&x)), I(last_dim(&x)));
}

static void op_slice(Call *c)
{
    Ten x = opnd(c, "x"), y = result(c);
    int64_t off = ir_attr_i(c->in, "offset"), len = ir_attr_i(c->in, "len"), n = last_dim(&x);
    HYC_ASSERT(off >= 0 && len >= 1 && off + len <= n && last_dim(&y) == len);
    for (int64_t r = 0; r < rows_of(&x); r++) memcpy(y.f + r * len, x.f + r * n + off, (size_t)len * sizeof(float));
}

/* y[0, ...] = x[T - 1, ...] */
static void op_last_row(Call *c)
{
    Ten x = opnd(c, "x"), y = result(c);
    HYC_ASSERT(y.d[0] == 1 && x.n == x.d[0] * y.n);
    memcpy(y.f, x.f + (x.d[0] - 1) * y.n, (size_t)y.n * sizeof(float));
}

static void op_concat(Call *c)
{
    Ten y = result(c);
    int64_t ny = last_dim(&y), rows = rows_of(&y), at = 0;
    for (int k = 0; k < c->in->n_operands; k++) {
        Ten x = operand(c, c->in->operands[k]);
        int64_t nx = last_dim(&x);
        HYC_ASSERT(rows_of(&x) == rows && at + nx <= ny);
        for (int64_t r = 0; r < rows; r++) memcpy(y.f + r * ny + at, x.f + r * nx, (size_t)nx * sizeof(float));
        at += nx;
    }
    HYC_ASSERT(at == ny);
}

static void op_reshape(Call *c)
{
    Ten x = opnd(c, "x"), y = result(c);
    same_numel(&x, &y);
    memcpy(y.f, x.f, (size_t)x.n * sizeof(float));
}

static void op_causal_conv1d(Call *c)
{
    Ten x = opnd(c, "x"), w = opnd(c, "w"), st = opnd(c, "state"), b = opnd(c, "bias"), y = result(c);
    HYC_ASSERT(x.rank == 2);
    int64_t C = x.d[1], K = last_dim(&w);
    HYC_ASSERT(w.n == C * K && st.n == C * (K - 1));
    ik_causal_conv1d(y.f, x.f, w.f, b.f, st.f, I(x.d[0]), I(C), I(K));
}

static void op_selective_scan(Call *c)
{
    Ten x = opnd(c, "x"), dt = opnd(c, "dt"), A = opnd(c, "A"), B = opnd(c, "B"), C = opnd(c, "C");
    Ten st = opnd(c, "state"), D = opnd(c, "D"), z = opnd(c, "z"), y = result(c);
    int64_t T = x.d[0], E = x.d[1], N = B.d[1];
    HYC_ASSERT(A.n == E * N && st.n == E * N && dt.n == x.n && (!z.f || z.n == x.n));
    ik_selective_scan(y.f, x.f, dt.f, A.f, B.f, C.f, D.f, z.f, st.f, I(T), I(E), I(N));
}

static void op_ssd_scan(Call *c)
{
    Ten x = opnd(c, "x"), dt = opnd(c, "dt"), A = opnd(c, "A"), B = opnd(c, "B"), C = opnd(c, "C");
    Ten st = opnd(c, "state"), D = opnd(c, "D"), y = result(c);
    int64_t T = x.d[0], H = x.d[1], P = x.d[2], G = B.d[1], N = B.d[2];
    HYC_ASSERT(dt.n == T * H && A.n == H && st.n == H * P * N && C.n == B.n);
    /* The sequential recurrence; `chunk` only changes how it is evaluated. */
    ik_ssd_scan(y.f, x.f, dt.f, A.f, B.f, C.f, D.f, st.f, I(T), I(H), I(P), I(G), I(N));
}

/* ---- fused scan ops (passes/fuse_scan.c) ----------------------------------------
 * Each one runs the primitives it replaces, in their order and with their
 * f32 intermediates, so a fused module interprets to the same bits as the
 * unfused one (the compiled kernels are what differ). */

/* causal_conv1d then the activation `act` in place. */
static void op_causal_conv1d_act(Call *c)
{
    op_causal_conv1d(c);
    Ten y = result_of(c);
    int n = I(y.n);
    const char *act = ir_attr_s(c->in, "act");
    if (strcmp(act, "silu") == 0) ik_silu(y.f, y.f, n);
    else if (strcmp(act, "gelu") == 0) ik_gelu(y.f, y.f, n);
    else if (strcmp(act, "gelu_tanh") == 0) ik_gelu_tanh(y.f, y.f, n);
    else if (strcmp(act, "relu2") == 0) ik_relu2(y.f, y.f, n);
    else HYC_DIE("interp: causal_conv1d_act act \"%s\" has no kernel", act);
}

/* Δ = softplus(dt·dt_wᵀ + dt_b) [T, E], then selective_scan. */
static void op_fused_selective_scan(Call *c)
{
    Ten x = opnd(c, "x"), dt = opnd(c, "dt"), w = opnd(c, "dt_w"), b = opnd(c, "dt_b");
    Ten A = opnd(c, "A"), B = opnd(c, "B"), C = opnd(c, "C");
    Ten st = opnd(c, "state"), D = opnd(c, "D"), z = opnd(c, "z"), y = result(c);
    int64_t T = x.d[0], E = x.d[1], N = B.d[1], R = dt.d[1];
    HYC_ASSERT(w.n == E * R && A.n == E * N && st.n == E * N && (!z.f || z.n == x.n));
    float *delta = xmalloc((size_t)(T * E) * sizeof(float) + 1); /* [T, E] */
    ik_matmul(delta, dt.f, w.f, b.f, I(T), I(R), I(E));
    ik_softplus(delta, delta, I(T * E));
    ik_selective_scan(y.f, x.f, delta, A.f, B.f, C.f, D.f, z.f, st.f, I(T), I(E), I(N));
    free(delta);
}

/* Δ = clamp(softplus(dt + dt_bias), dt_min, dt_max) [T, H], then ssd_scan. */
static void op_fused_ssd_scan(Call *c)
{
    Ten x = opnd(c, "x"), dt = opnd(c, "dt"), bias = opnd(c, "dt_bias"), A = opnd(c, "A");
    Ten B = opnd(c, "B"), C = opnd(c, "C"), st = opnd(c, "state"), D = opnd(c, "D"), y = result(c);
    int64_t T = x.d[0], H = x.d[1], P = x.d[2], G = B.d[1], N = B.d[2];
    HYC_ASSERT(dt.n == T * H && bias.n == H && A.n == H && st.n == H * P * N && C.n == B.n);
    double lo = ir_attr_f(c->in, "dt_min"), hi = ir_attr_f(c->in, "dt_max");
    float *delta = xmalloc((size_t)(T * H) * sizeof(float) + 1); /* [T, H] */
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < H; h++) delta[t * H + h] = (float)((double)dt.f[t * H + h] + bias.f[h]);
    ik_softplus(delta, delta, I(T * H));
    if (lo > 0 || !isinf(hi))
        for (int64_t i = 0; i < T * H; i++) {
            double v = delta[i];
            if (v < lo) v = lo;
            if (v > hi) v = hi;
            delta[i] = (float)v;
        }
    ik_ssd_scan(y.f, x.f, delta, A.f, B.f, C.f, D.f, st.f, I(T), I(H), I(P), I(G), I(N));
    free(delta);
}

static void op_rope(Call *c)
{
    Ten x = opnd(c, "x"), y = result(c);
    HYC_ASSERT(x.rank == 3);
    memcpy(y.f, x.f, (size_t)x.n * sizeof(float));
    int64_t dim = ir_attr_i(c->in, "dim");
    IkRopeScaling kind;
    if (!ik_rope_scaling_lookup(ir_attr_s(c->in, "scaling"), &kind))
        HYC_DIE("interp: rope scaling \"%s\" has no kernel", ir_attr_s(c->in, "scaling"));
    const IrAttr *p = ir_attr_get(c->in, "scaling_params");
    if (kind != IK_ROPE_NONE) HYC_ASSERT(p && p->kind == IR_ATTR_FLOATS);
    const double *params = p ? p->floats : NULL;
    int n_params = p ? p->len : 0;
    double *inv = xmalloc((size_t)(dim / 2 + 1) * sizeof(double));
    ik_rope_inv_freq(inv, I(dim), ir_attr_f(c->in, "base"), kind, params, n_params);
    ik_rope_apply(y.f, I(x.d[0]), I(x.d[1]), I(x.d[2]), I(dim), I(c->s->pos), inv, ir_attr_b(c->in, "interleaved"),
                  ik_rope_attention_factor(kind, params, n_params));
    free(inv);
}

/* kv_cache [Hkv, S, dk + dv]: position p lives in row p (S = max_seq) or
 * p mod S (a ring). */
static int64_t kv_row(const InterpSession *s, int state, int64_t p)
{
    int64_t S = s->state_rows[state];
    if (s->state_ring[state]) return p % S;
    HYC_ASSERT(p < S); /* interp_run checked pos + T <= max_seq */
    return p;
}

static void op_kv_store(Call *c)
{
    Ten k = opnd(c, "k"), v = opnd(c, "v"), cache = opnd(c, "cache");
    int sid = ir_inst_operand(c->in, "cache").id;
    int64_t T = k.d[0], Hkv = k.d[1], dk = k.d[2], dv = v.d[2], S = cache.d[1], W = dk + dv;
    HYC_ASSERT(cache.d[0] == Hkv && cache.d[2] == W && v.d[1] == Hkv);
    for (int64_t t = 0; t < T; t++) {
        int64_t row = kv_row(c->s, sid, c->s->pos + t);
        for (int64_t h = 0; h < Hkv; h++) {
            float *dst = cache.f + (h * S + row) * W;
            memcpy(dst, k.f + (t * Hkv + h) * dk, (size_t)dk * sizeof(float));
            memcpy(dst + dk, v.f + (t * Hkv + h) * dv, (size_t)dv * sizeof(float));
            ik_round_storage(dst, (size_t)W, c->s->state_storage[sid]); /* kv_dtype */
        }
    }
}

/* Keys and values as ik_sdpa wants them: [Tk, Hkv, d], the cached positions
 * still in the cache (oldest first), then the call's fresh rows. */
static void op_sdpa(Call *c)
{
    Ten q = opnd(c, "q"), k = opnd(c, "k"), v = opnd(c, "v"), cache = opnd(c, "cache"), y = result(c);
    int sid = ir_inst_operand(c->in, "cache").id;
    InterpSession *s = c->s;
    int64_t T = q.d[0], H = q.d[1], dk = q.d[2], Hkv = k.d[1], dv = v.d[2], S = cache.d[1], W = dk + dv;
    HYC_ASSERT(k.d[0] == T && v.d[0] == T && H % Hkv == 0 && cache.d[0] == Hkv && cache.d[2] == W);
    int64_t lo = s->state_ring[sid] && s->pos > S ? s->pos - S : 0; /* oldest cached position */
    int64_t n_old = s->pos - lo, Tk = n_old + T;
    float *K = xmalloc((size_t)(Tk * Hkv * dk) * sizeof(float));
    float *V = xmalloc((size_t)(Tk * Hkv * dv) * sizeof(float));
    for (int64_t j = 0; j < n_old; j++) {
        int64_t row = kv_row(s, sid, lo + j);
        for (int64_t h = 0; h < Hkv; h++) {
            const float *src = cache.f + (h * S + row) * W;
            memcpy(K + (j * Hkv + h) * dk, src, (size_t)dk * sizeof(float));
            memcpy(V + (j * Hkv + h) * dv, src + dk, (size_t)dv * sizeof(float));
        }
    }
    memcpy(K + n_old * Hkv * dk, k.f, (size_t)k.n * sizeof(float));
    memcpy(V + n_old * Hkv * dv, v.f, (size_t)v.n * sizeof(float));
    double scale = ir_attr_has(c->in, "scale") ? ir_attr_f(c->in, "scale") : 1.0 / sqrt((double)dk);
    int64_t window = ir_attr_i(c->in, "window");
    if (ir_attr_b(c->in, "causal")) {
        ik_sdpa(y.f, q.f, K, V, I(T), I(Tk), I(H), I(Hkv), I(dk), I(dv), (float)scale, I(window), I(n_old));
    } else {
        /* Every key of the cache and the call, or those of the window
         * (j > p - W): one query at a time, as the last of its key range. */
        for (int64_t t = 0; t < T; t++) {
            int64_t a = window > 0 && n_old + t - window + 1 > 0 ? n_old + t - window + 1 : 0;
            int64_t nk = Tk - a;
            ik_sdpa(y.f + t * H * dv, q.f + t * H * dk, K + a * Hkv * dk, V + a * Hkv * dv, 1, I(nk), I(H),
                    I(Hkv), I(dk), I(dv), (float)scale, 0, I(nk - 1));
        }
    }
    free(K);
    free(V);
}

static void op_gated_delta_rule(Call *c)
{
    Ten q = opnd(c, "q"), k = opnd(c, "k"), v = opnd(c, "v"), g = opnd(c, "g"), beta = opnd(c, "beta");
    Ten st = opnd(c, "state"), y = result(c);
    int64_t T = q.d[0], Hk = q.d[1], dk = q.d[2], Hv = v.d[1], dv = v.d[2];
    HYC_ASSERT(Hv % Hk == 0 && st.n == Hv * dk * dv && g.n == T * Hv && beta.n == T * Hv);
    /* The kernel wants q, k per value head (value head h reads key head
     * h / (Hv/Hk)) and applies 1/sqrt(dk) itself: another scale is folded
     * into q. */
    double scale = ir_attr_has(c->in, "scale") ? ir_attr_f(c->in, "scale") : 1.0 / sqrt((double)dk);
    double qf = scale * sqrt((double)dk);
    float *qe = xmalloc((size_t)(T * Hv * dk) * sizeof(float));
    float *ke = xmalloc((size_t)(T * Hv * dk) * sizeof(float));
    int64_t r = Hv / Hk;
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < Hv; h++) {
            const float *qs = q.f + (t * Hk + h / r) * dk, *ks = k.f + (t * Hk + h / r) * dk;
            float *qd = qe + (t * Hv + h) * dk, *kd = ke + (t * Hv + h) * dk;
            for (int64_t i = 0; i < dk; i++) {
                qd[i] = qf == 1.0 ? qs[i] : (float)(qs[i] * qf);
                kd[i] = ks[i];
            }
        }
    ik_gated_delta_rule(y.f, qe, ke, v.f, g.f, beta.f, st.f, I(T), I(Hv), I(dk), I(dv));
    free(qe);
    free(ke);
}

static void op_route(Call *c)
{
    Ten lg = opnd(c, "logits"), bias = opnd(c, "bias"), y = result(c);
    int64_t T = rows_of(&lg), E = last_dim(&lg), k = ir_attr_i(c->in, "k");
    HYC_ASSERT(k >= 1 && k <= E && (!bias.f || bias.n == E));
    const char *mode = ir_attr_s(c->in, "mode");
    IkRouteMode m = strcmp(mode, "topk_softmax") == 0   ? IK_ROUTE_TOPK_SOFTMAX
                    : strcmp(mode, "sigmoid_topk") == 0 ? IK_ROUTE_SIGMOID_BIAS
                                                        : IK_ROUTE_SOFTMAX_TOPK;
    double scale = ir_attr_f(c->in, "scale");
    float *wk = xmalloc((size_t)(T * k) * sizeof(float));
    int *idx = xmalloc((size_t)(T * k) * sizeof(int));
    ik_route_grouped(wk, idx, lg.f, I(T), I(E), I(k), m, ir_attr_b(c->in, "renormalize"), bias.f,
                     I(ir_attr_i(c->in, "groups")), I(ir_attr_i(c->in, "topk_groups")));
    for (int64_t t = 0; t < T; t++)
        for (int64_t r = 0; r < k; r++)
            y.f[t * E + idx[t * k + r]] = (float)((double)wk[t * k + r] * scale);
    free(wk);
    free(idx);
}

/* The elementwise part of an expert's activation (ir_act_info). */
static void act_kernel(float *y, const float *x, int n, IrAct act)
{
    switch (act.op) {
    case IR_OP_SILU: ik_silu(y, x, n); return;
    case IR_OP_GELU: (act.tanh ? ik_gelu_tanh : ik_gelu)(y, x, n); return;
    case IR_OP_RELU2: ik_relu2(y, x, n); return;
    default: HYC_UNREACHABLE();
    }
}

/* y_t = Σ_{e: w[t,e] ≠ 0} w[t,e] · expert_e(x_t), accumulated in double. */
static void op_moe_experts(Call *c)
{
    Ten x = opnd(c, "x"), wts = opnd(c, "weights"), up = opnd(c, "up"), down = opnd(c, "down");
    Ten gate = opnd(c, "gate"), y = result(c);
    int64_t T = x.d[0], d = x.d[1], E = wts.d[1], h = down.d[2];
    IrAct act = ir_act_info(ir_attr_s(c->in, "act"));
    bool gated = act.gated;
    bool fused = gated && !gate.f; /* up holds [gate; up] per expert */
    int64_t up_rows = up.d[1];
    HYC_ASSERT(up.d[0] == E && down.d[0] == E && down.d[1] == d && up.d[2] == d);
    HYC_ASSERT(up_rows == (fused ? 2 * h : h));
    float *gu = xmalloc((size_t)(2 * h) * sizeof(float)); /* gate and up outputs */
    float *hid = xmalloc((size_t)h * sizeof(float));
    float *out = xmalloc((size_t)d * sizeof(float));
    double *acc = xmalloc((size_t)d * sizeof(double));
    for (int64_t t = 0; t < T; t++) {
        const float *xt = x.f + t * d;
        for (int64_t i = 0; i < d; i++) acc[i] = 0.0;
        for (int64_t e = 0; e < E; e++) {
            float we = wts.f[t * E + e];
            if (we == 0.0f) continue;
            const float *ue = up.f + e * up_rows * d;
            ik_matmul(gu, xt, ue, NULL, 1, I(d), I(up_rows)); /* fused: [gate | up]; else up */
            if (gated) {
                float *g = gu, *u = gu + h;
                if (!fused) {
                    memmove(gu + h, gu, (size_t)h * sizeof(float));
                    ik_matmul(gu, xt, gate.f + e * h * d, NULL, 1, I(d), I(h));
                }
                act_kernel(hid, g, I(h), act);
                ik_mul(hid, hid, u, I(h));
            } else {
                act_kernel(hid, gu, I(h), act);
            }
            ik_matmul(out, hid, down.f + e * d * h, NULL, 1, I(h), I(d));
            for (int64_t i = 0; i < d; i++) acc[i] += (double)we * out[i];
        }
        for (int64_t i = 0; i < d; i++) y.f[t * d + i] = (float)acc[i];
    }
    free(gu);
    free(hid);
    free(out);
    free(acc);
}

/* After an op that rewrote a conv or recurrent state: its values rounded to
 * the state's dtype (ssm_dtype), as a bf16 / f16 state would hold them.
 * kv_store rounds the rows it writes itself. */
static void round_written_state(Call *c)
{
    if (!(ir_op_info(c->in->op)->flags & IR_OPF_WRITES_STATE) || c->in->op == IR_OP_KV_STORE) return;
    for (int k = 0; k < c->in->n_operands; k++) {
        IrOperand o = c->in->operands[k];
        if (o.kind == IR_OPND_STATE && c->s->state_storage[o.id] != IK_STORE_F32)
            ik_round_storage(c->s->state[o.id], c->s->state_len[o.id], c->s->state_storage[o.id]);
    }
}

/* One instruction; false after reporting a problem of the input. */
static bool exec(Call *c)
{
    switch (c->in->op) {
    case IR_OP_EMBED: return op_embed(c);
    case IR_OP_MATMUL: op_matmul(c); return true;
    case IR_OP_RMSNORM: op_rmsnorm(c); return true;
    case IR_OP_RMS_SCALE: op_rms_scale(c); return true;
    case IR_OP_LAYERNORM: op_layernorm(c); return true;
    case IR_OP_GROUP_RMSNORM: op_group_rmsnorm(c); return true;
    case IR_OP_GATED_RMSNORM: op_gated_rmsnorm(c); return true;
    case IR_OP_L2NORM: op_l2norm(c); return true;
    case IR_OP_SILU:
    case IR_OP_GELU:
    case IR_OP_RELU2:
    case IR_OP_SOFTPLUS:
    case IR_OP_SIGMOID:
    case IR_OP_EXP:
    case IR_OP_NEG:
    case IR_OP_SCALE:
    case IR_OP_CLAMP: op_unary(c); return true;
    case IR_OP_ADD:
    case IR_OP_SUB:
    case IR_OP_MUL: op_binary(c); return true;
    case IR_OP_SOFTMAX: op_softmax(c); return true;
    case IR_OP_SLICE: op_slice(c); return true;
    case IR_OP_CONCAT: op_concat(c); return true;
    case IR_OP_LAST_ROW: op_last_row(c); return true;
    case IR_OP_RESHAPE: op_reshape(c); return true;
    case IR_OP_CAUSAL_CONV1D: op_causal_conv1d(c); return true;
    case IR_OP_SELECTIVE_SCAN: op_selective_scan(c); return true;
    case IR_OP_SSD_SCAN: op_ssd_scan(c); return true;
    case IR_OP_CAUSAL_CONV1D_ACT: op_causal_conv1d_act(c); return true;
    case IR_OP_FUSED_SELECTIVE_SCAN: op_fused_selective_scan(c); return true;
    case IR_OP_FUSED_SSD_SCAN: op_fused_ssd_scan(c); return true;
    case IR_OP_ROPE: op_rope(c); return true;
    case IR_OP_KV_STORE: op_kv_store(c); return true;
    case IR_OP_SDPA: op_sdpa(c); return true;
    case IR_OP_GATED_DELTA_RULE: op_gated_delta_rule(c); return true;
    case IR_OP_ROUTE: op_route(c); return true;
    case IR_OP_MOE_EXPERTS: op_moe_experts(c); return true;
    default:
        HYC_DIE("interp: op '%s' is not a primitive the interpreter runs (composites must be lowered)",
                ir_op_name(c->in->op));
    }
}

/* ---- running a function ---------------------------------------------------------- */

/* HYC_INTERP_TRACE=1: one line per instruction on stderr with its result's
 * size, mean |x|, max |x| and count of non-finite values, for debugging a
 * model against a reference. */
static void trace(const Call *c)
{
    int r = c->in->result;
    Arena a;
    arena_init(&a);
    const char *op = ir_op_name(c->in->op);
    if (r < 0 || !c->buf[r]) {
        fprintf(stderr, "interp: @%s pos %lld: %s\n", c->fn->name, (long long)c->s->pos, op);
        arena_free(&a);
        return;
    }
    Ten t = ten_of_type(&c->fn->values[r].type, c->T, c->s->m->max_seq);
    const float *x = c->buf[r];
    double sum = 0, mx = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < t.n; i++) {
        if (!isfinite(x[i])) {
            bad++;
            continue;
        }
        sum += fabs(x[i]);
        if (fabs(x[i]) > mx) mx = fabs(x[i]);
    }
    fprintf(stderr, "interp: @%s pos %lld: %s = %s : %s  mean|x| %.6g  max|x| %.6g%s\n", c->fn->name,
            (long long)c->s->pos, ir_value_label(&a, c->fn, r), op, ir_type_str(&a, &c->fn->values[r].type),
            t.n ? sum / (double)t.n : 0.0, mx, bad ? "  NON-FINITE" : "");
    arena_free(&a);
}

bool interp_run(InterpSession *s, const char *func, const int32_t *tokens, int64_t T, float *logits, Diag *d)
{
    const IrModule *m = s->m;
    const IrFunc *fn = ir_find_func(m, func);
    if (!fn) HYC_DIE("interp_run: module '%s' has no function '%s'", m->name, func);
    HYC_ASSERT(fn->n_args == 1 && fn->ret >= 0);
    if (T < 1) HYC_DIE("interp_run: T = %lld (a call runs at least one token)", (long long)T);
    const IrType *arg = &fn->values[fn->args[0]].type;
    HYC_ASSERT(arg->dtype == IR_DT_I32 && arg->rank == 1);
    if (arg->dims[0] != IR_DIM_T && arg->dims[0] != T)
        HYC_DIE("interp_run: @%s takes %lld tokens, not %lld", func, (long long)arg->dims[0], (long long)T);

    /* Problems of the input, before anything changes. */
    if (s->pos + T > m->max_seq) {
        diag_error(d, loc_none(),
                   "the sequence is too long: %lld tokens already consumed + %lld new > max_seq = %lld of model '%s'",
                   (long long)s->pos, (long long)T, (long long)m->max_seq, m->name);
        return false;
    }
    for (int64_t t = 0; t < T; t++) {
        if (tokens[t] < 0 || tokens[t] >= s->vocab) {
            diag_error(d, loc_none(), "token id %d at position %lld is outside the vocabulary [0, %lld)", tokens[t],
                       (long long)(s->pos + t), (long long)s->vocab);
            return false;
        }
    }

    /* Last use of each value: its buffer is freed after that instruction. */
    int *last = xmalloc((size_t)(fn->n_values ? fn->n_values : 1) * sizeof(int));
    for (int v = 0; v < fn->n_values; v++) last[v] = -1;
    for (int i = 0; i < fn->n_insts; i++)
        for (int k = 0; k < fn->insts[i].n_operands; k++)
            if (fn->insts[i].operands[k].kind == IR_OPND_VALUE) last[fn->insts[i].operands[k].id] = i;
    last[fn->ret] = fn->n_insts; /* kept to the end */

    Call c = {s, fn, T, xcalloc((size_t)(fn->n_values ? fn->n_values : 1), sizeof(void *)), d, NULL};
    c.buf[fn->args[0]] = (void *)tokens;
    bool ok = true, tracing = getenv("HYC_INTERP_TRACE") && *getenv("HYC_INTERP_TRACE") && strcmp(getenv("HYC_INTERP_TRACE"), "0");
    for (int i = 0; i < fn->n_insts && ok; i++) {
        c.in = &fn->insts[i];
        ok = exec(&c);
        if (ok) round_written_state(&c);
        if (ok && tracing) trace(&c);
        for (int k = 0; k < c.in->n_operands; k++) {
            IrOperand o = c.in->operands[k];
            if (o.kind == IR_OPND_VALUE && last[o.id] == i && o.id != fn->args[0]) {
                free(c.buf[o.id]);
                c.buf[o.id] = NULL;
            }
        }
        /* A result nothing reads (dead code the pipeline did not remove). */
        if (c.in->result >= 0 && last[c.in->result] < 0) {
            free(c.buf[c.in->result]);
            c.buf[c.in->result] = NULL;
        }
    }
    if (ok) {
        const IrType *rt = &fn->values[fn->ret].type;
        Ten r = ten_of_type(rt, T, m->max_seq);
        /* T rows, or the last one only (a prefill after last-logits) */
        HYC_ASSERT(r.rank == 2 && (r.d[0] == T || r.d[0] == 1) && r.d[1] == s->vocab && c.buf[fn->ret]);
        memcpy(logits, c.buf[fn->ret], (size_t)r.n * sizeof(float));
        s->pos += T;
    }
    for (int v = 0; v < fn->n_values; v++)
        if (v != fn->args[0]) free(c.buf[v]);
    free(c.buf);
    free(last);
    return ok;
}

bool interp_prefill(InterpSession *s, const int32_t *tokens, int64_t T, float *logits, Diag *d)
{
    return interp_run(s, "prefill", tokens, T, logits, d);
}

bool interp_decode(InterpSession *s, int32_t token, float *logits, Diag *d)
{
    return interp_run(s, "decode", &token, 1, logits, d);
}
