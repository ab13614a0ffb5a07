/* lower_kernels.c — each primitive Graph IR op becomes one kernel: a loop
 * nest that computes exactly what interp/ computes for it (docs/ir.md §5,
 * interp/kernels.c), written as plainly as the math.  Fusion of several ops
 * into one kernel is a later pass's business.
 *
 * Numerics: storage is f32 and so is accumulation (dot products, norms,
 * scans), which is what lets the emitter vectorize the reductions; the
 * interpreter accumulates in f64, and the two agree to well within the
 * fixtures' tolerance (rel L2 1e-4).  Where f32 would lose real accuracy
 * the kernels compute in f64: RoPE angles (position × frequency, large for
 * long contexts) and `scale` factors (µP multipliers are not rounded).
 * States declared bf16 / f16 stay f32 arrays, and what an op writes into
 * them is rounded to the declared type as interp does (round_to).
 *
 * Every attribute and enumerated word of ops.def a kernel honours is listed
 * in HANDLED; anything else is reported as unsupported (exit 1), never
 * ignored.
 *
 * Loop order follows what a thread should own: the first top-level loop of
 * each phase is the one the default schedule may run in parallel, so it is
 * the output rows of a matmul (decode has one token), the heads of
 * attention and of the scans (the recurrence over T stays sequential
 * inside), and the tokens elsewhere. */
#include "codegen.h"
#include "../interp/interp.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct Lower {
    Arena *a;
    const IrModule *m;
    const IrFunc *fn;
    const IrInst *in;
    const CgOptions *opts; /* may be NULL */
    KirKernel *k;
    KirBuilder b;
    int *src;     /* [cap]: per buffer, CG_SRC_* or an operand index */
    int cap_src;
    int chunk_override; /* Mamba-2 scans: the chunk length asked for (0: the
                         * recurrence), or -1: the options' */
    int chunk;          /* the chunk length of the form built (0: the recurrence) */
    bool rechunk;       /* the kernel has other forms (kir_kernel_rechunk) */
} Lower;

/* ---- buffers -------------------------------------------------------------------- */

static void note_src(Lower *L, int buf, int src)
{
    L->src = ir_grow(L->a, L->src, sizeof *L->src, &L->cap_src, buf + 1);
    L->src[buf] = src;
}

/* The shape of a Graph IR type as a buffer's: T stays T, max_seq becomes
 * the module's constant. */
static void buf_dims(const Lower *L, const IrType *t, int64_t *dims)
{
    for (int i = 0; i < t->rank; i++) dims[i] = t->dims[i] == IR_DIM_MAX_SEQ ? L->m->max_seq : t->dims[i];
}

/* Operand number `idx` of the instruction as a buffer, or -1 when absent. */
static int opnd_at(Lower *L, int idx, const char *name, const char *comment)
{
    if (idx < 0 || idx >= L->in->n_operands) return -1;
    IrOperand o = L->in->operands[idx];
    if (o.kind == IR_OPND_NONE) return -1;
    const IrType *t = ir_operand_type(L->m, L->fn, o);
    HYC_ASSERT(t);
    KirRole role = o.kind == IR_OPND_PARAM ? KIR_ROLE_PARAM : o.kind == IR_OPND_STATE ? KIR_ROLE_STATE : KIR_ROLE_IN;
    KirType ty = t->dtype == IR_DT_I32 ? KIR_I32 : KIR_F32; /* params are packed as f32 */
    int64_t dims[IR_MAX_RANK];
    buf_dims(L, t, dims);
    int b = kir_add_buf(L->k, L->a, name, role, ty, t->rank, dims, comment);
    note_src(L, b, idx);
    return b;
}

/* The operand of slot `slot` (by name) as a buffer, or -1 when absent. */
static int opnd(Lower *L, const char *slot, const char *name, const char *comment)
{
    int idx = ir_op_slot(L->in->op, slot);
    HYC_ASSERT(idx >= 0);
    return opnd_at(L, idx, name, comment);
}

static int result(Lower *L, const char *name, const char *comment)
{
    HYC_ASSERT(L->in->result >= 0);
    const IrType *t = &L->fn->values[L->in->result].type;
    int64_t dims[IR_MAX_RANK];
    buf_dims(L, t, dims);
    int b = kir_add_buf(L->k, L->a, name, KIR_ROLE_OUT, KIR_F32, t->rank, dims, comment);
    note_src(L, b, CG_SRC_RESULT);
    return b;
}

static int temp(Lower *L, const char *name, int rank, const int64_t *dims, const char *comment)
{
    int b = kir_add_buf(L->k, L->a, name, KIR_ROLE_TEMP, KIR_F32, rank, dims, comment);
    note_src(L, b, CG_SRC_TEMP);
    return b;
}

static int const_table(Lower *L, const char *name, KirType ty, const double *data, int64_t n, const char *comment)
{
    int64_t dims[1] = {n};
    int b = kir_add_buf(L->k, L->a, name, KIR_ROLE_CONST, ty, 1, dims, comment);
    double *copy = ARENA_NEW_N(L->a, double, n);
    for (int64_t i = 0; i < n; i++) copy[i] = ty == KIR_F32 ? (double)(float)data[i] : data[i];
    L->k->bufs[b].data = copy;
    L->k->bufs[b].n_data = n;
    note_src(L, b, CG_SRC_CONST);
    return b;
}

static const KirBuf *B(const Lower *L, int buf) { return &L->k->bufs[buf]; }
static int rank_of(const Lower *L, int buf) { return B(L, buf)->rank; }
static int64_t last_dim(const Lower *L, int buf) { return B(L, buf)->dims[B(L, buf)->rank - 1]; }

/* ---- expression shorthands ------------------------------------------------------ */

#define BLD (&L->b)
static KirExpr *I(Lower *L, int64_t v) { return kb_i(BLD, v); }
static KirExpr *F(Lower *L, double v) { return kb_f(BLD, v); }
static KirExpr *V(Lower *L, int var) { return kb_v(BLD, var); }
static KirExpr *add(Lower *L, KirExpr *x, KirExpr *y) { return kb_op2(BLD, KIR_OP_ADD, x, y); }
static KirExpr *sub(Lower *L, KirExpr *x, KirExpr *y) { return kb_op2(BLD, KIR_OP_SUB, x, y); }
static KirExpr *mul(Lower *L, KirExpr *x, KirExpr *y) { return kb_op2(BLD, KIR_OP_MUL, x, y); }
static KirExpr *dvd(Lower *L, KirExpr *x, KirExpr *y) { return kb_op2(BLD, KIR_OP_DIV, x, y); }
static KirExpr *fma3(Lower *L, KirExpr *x, KirExpr *y, KirExpr *z) { return kb_op3(BLD, KIR_OP_FMA, x, y, z); }
static KirExpr *mx(Lower *L, KirExpr *x, KirExpr *y) { return kb_op2(BLD, KIR_OP_MAX, x, y); }
static KirExpr *mn(Lower *L, KirExpr *x, KirExpr *y) { return kb_op2(BLD, KIR_OP_MIN, x, y); }
static KirExpr *un(Lower *L, KirOp op, KirExpr *x) { return kb_op1(BLD, op, x); }
static KirExpr *sel(Lower *L, KirExpr *c, KirExpr *x, KirExpr *y) { return kb_op3(BLD, KIR_OP_SELECT, c, x, y); }
static KirExpr *cmp(Lower *L, KirOp op, KirExpr *x, KirExpr *y) { return kb_op2(BLD, op, x, y); }
static KirExpr *dim(Lower *L, int buf, int d) { return kb_dim(BLD, buf, d); }
static KirExpr *ld(Lower *L, int buf, int n, KirExpr *const *idx) { return kb_ld(BLD, buf, n, idx); }
static void st(Lower *L, int buf, int n, KirExpr *const *idx, KirExpr *v) { kb_store(BLD, buf, n, idx, v); }
static int loop(Lower *L, const char *var, KirExpr *lo, KirExpr *hi) { return kb_for(BLD, var, lo, hi); }
static int let(Lower *L, const char *name, KirType t, KirExpr *init) { return kb_let(BLD, name, t, init); }
static void set(Lower *L, int var, KirExpr *v) { kb_set(BLD, var, v); }
static void end(Lower *L) { kb_end(BLD); }

/* gelu(x) = 0.5 x (1 + erf(x / sqrt 2)), exact (interp's gelu_d). */
static KirExpr *gelu(Lower *L, KirExpr *x)
{
    KirExpr *e = un(L, KIR_OP_ERF, mul(L, x, F(L, 0.70710678118654752440)));
    return mul(L, mul(L, F(L, 0.5), x), add(L, F(L, 1.0), e));
}

/* relu2(x) = max(x, 0)^2 */
static KirExpr *relu2(Lower *L, KirExpr *x)
{
    int r = let(L, "r", KIR_F32, mx(L, x, F(L, 0.0)));
    return mul(L, V(L, r), V(L, r));
}

/* gelu {approximate = "tanh"}: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x +
 * 0.044715 x^3) (interp's gelu_tanh_d), computed as x sigmoid(2u), the same
 * function without the cancellation of 1 + tanh(u) in f32 for x << 0. */
static KirExpr *gelu_tanh(Lower *L, KirExpr *x)
{
    int xv = let(L, "gx", KIR_F32, x);
    KirExpr *x3 = mul(L, mul(L, V(L, xv), V(L, xv)), V(L, xv));
    KirExpr *u2 = mul(L, F(L, 2.0 * 0.79788456080286535588), fma3(L, F(L, 0.044715), x3, V(L, xv)));
    return mul(L, V(L, xv), un(L, KIR_OP_SIGMOID, u2));
}

/* Features of the Graph IR this lowering does not implement are a user
 * error, never a silently different kernel: "file:line:col: error: the C
 * backend does not support X yet", exit 1.  (cg_lower_inst has no Diag:
 * it reports on stderr itself.) */
static _Noreturn void unsupported(const Lower *L, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    fflush(stdout);
    Diag d;
    diag_init(&d, stderr);
    diag_error(&d, L->in->loc, "the C backend does not support %s yet", what);
    exit(HYC_EXIT_USER);
}

/* The elementwise part of an mlp / moe_experts `act` (ir_act_info). */
static KirExpr *act_expr(Lower *L, IrAct a, KirExpr *x)
{
    switch (a.op) {
    case IR_OP_SILU: return un(L, KIR_OP_SILU, x);
    case IR_OP_GELU: return a.tanh ? gelu_tanh(L, x) : gelu(L, x);
    case IR_OP_RELU2: return relu2(L, x);
    default: unsupported(L, "the activation '%s' of '%s'", ir_op_name(a.op), ir_op_name(L->in->op));
    }
}

/* ---- reduced-precision states -------------------------------------------------- */

/* The dtype of the state bound to `slot`. */
static IrDType state_dtype(const Lower *L, const char *slot)
{
    IrOperand o = ir_inst_operand(L->in, slot);
    HYC_ASSERT(o.kind == IR_OPND_STATE);
    return L->m->states[o.id].type.dtype;
}

/* x (f32) rounded to what a `dt` state holds, as interp's ik_round_bf16 /
 * ik_round_f16 (to nearest, ties to even; storage stays f32).  Built from
 * arithmetic every backend has, in f64, where an f32 value is exact:
 *   normal range: Veltkamp's split, c = d 2^s + d, hi = c - (c - d), keeps
 *     the top 53 - s significand bits of d, rounded to nearest even (the
 *     product is exact, so contracting it into an fma changes nothing;
 *     the code must not be reassociated, as no emitter does);
 *   below the smallest normal of the format: a fixed quantum (bf16: 2^-133,
 *     the f32 subnormals' bits cut at 16; f16: 2^-24), (d + M) - M with
 *     M = 1.5 2^(52 + log2 quantum);
 *   f16 past 65504 is +-inf (as the bit-level rounding: 65520 and up);
 *   inf and NaN pass through; bf16 overflow becomes inf on the f32 cast. */
static KirExpr *round_to(Lower *L, IrDType dt, KirExpr *x)
{
    if (dt == IR_DT_F32) return x;
    if (dt != IR_DT_BF16 && dt != IR_DT_F16) unsupported(L, "%s states", ir_dtype_name(dt));
    bool bf = dt == IR_DT_BF16;
    int d = let(L, "rd", KIR_F64, un(L, KIR_OP_TO_F64, x));
    int ad = let(L, "ra", KIR_F64, mx(L, V(L, d), un(L, KIR_OP_NEG, V(L, d))));
    int c = let(L, "rc", KIR_F64, add(L, mul(L, V(L, d), kb_d(BLD, ldexp(1.0, bf ? 45 : 42))), V(L, d)));
    int hi = let(L, "rh", KIR_F64, sub(L, V(L, c), sub(L, V(L, c), V(L, d))));
    double M = 1.5 * ldexp(1.0, bf ? 52 - 133 : 52 - 24);
    KirExpr *lo = sub(L, add(L, V(L, d), kb_d(BLD, M)), kb_d(BLD, M));
    KirExpr *r = sel(L, cmp(L, KIR_OP_LT, V(L, ad), kb_d(BLD, ldexp(1.0, bf ? -126 : -14))), lo, V(L, hi));
    if (!bf) {
        int rv = let(L, "rr", KIR_F64, r);
        r = sel(L, cmp(L, KIR_OP_GT, V(L, rv), kb_d(BLD, 65504.0)), kb_d(BLD, INFINITY),
                sel(L, cmp(L, KIR_OP_LT, V(L, rv), kb_d(BLD, -65504.0)), kb_d(BLD, -INFINITY), V(L, rv)));
    }
    r = sel(L, cmp(L, KIR_OP_LT, V(L, ad), kb_d(BLD, INFINITY)), r, V(L, d));
    return un(L, KIR_OP_TO_F32, r);
}

/* A last phase that rounds every element of state buffer `st` (of the op's
 * `slot`) to its dtype, as the interpreter after a scan: the recurrence
 * inside the call runs in f32, the state it leaves is what a 16-bit state
 * holds.  Nothing for f32 states. */
static void round_state_phase(Lower *L, int sbuf, const char *slot)
{
    IrDType dt = state_dtype(L, slot);
    if (dt == IR_DT_F32) return;
    int r = rank_of(L, sbuf);
    KirExpr *idx[IR_MAX_RANK];
    static const char *const names[] = {"s0", "s1", "s2", "s3"};
    for (int i = 0; i < r; i++) idx[i] = V(L, loop(L, names[i], I(L, 0), dim(L, sbuf, i)));
    st(L, sbuf, r, idx, round_to(L, dt, ld(L, sbuf, r, idx)));
    for (int i = 0; i < r; i++) end(L);
}

/* ---- row loops ------------------------------------------------------------------ */

static const char *const row_names[] = {"t", "h", "g"};

/* Open loops over the first n dims of buf (n <= 3), its index expressions in
 * idx[0..n).  Close them with close_rows. */
static void open_rows(Lower *L, int buf, int n, KirExpr **idx)
{
    HYC_ASSERT(n <= 3);
    for (int d = 0; d < n; d++) {
        const char *name = d == 0 && B(L, buf)->role == KIR_ROLE_PARAM ? "r" : row_names[d];
        idx[d] = V(L, loop(L, name, I(L, 0), dim(L, buf, d)));
    }
}

static void close_rows(Lower *L, int n)
{
    for (int d = 0; d < n; d++) end(L);
}

/* idx[0..n) of the rows and one more index, last. */
static KirExpr **with_last(Lower *L, KirExpr *const *rows, int n, KirExpr *last)
{
    KirExpr **idx = ARENA_NEW_N(L->a, KirExpr *, n + 1);
    for (int i = 0; i < n; i++) idx[i] = rows[i];
    idx[n] = last;
    return idx;
}

/* ---- linear --------------------------------------------------------------------- */

/* y[t, o] = sum_k x[t, k] w[o, k] + b[o] */
static void lower_embed(Lower *L)
{
    int ids = opnd(L, "tokens", "ids", "ids [T]: token ids");
    int tab = opnd(L, "table", "table", "table [vocab, d]");
    int y = result(L, "y", "y [T, d]");
    KirExpr *t = V(L, loop(L, "t", I(L, 0), dim(L, ids, 0)));
    int tok = let(L, "tok", KIR_I64, un(L, KIR_OP_TO_I64, KB_LOAD(BLD, ids, t)));
    KirExpr *i = V(L, loop(L, "i", I(L, 0), dim(L, tab, 1)));
    KB_STORE(BLD, y, KB_LOAD(BLD, tab, V(L, tok), i), t, i);
    end(L);
    end(L);
}

/* The stored value of a matmul with a fused epilogue (fuse-epilogue):
 * add(act(acc), res[at]).  Only the value changes, never the loops: the
 * GEMM generator pattern-matches the nest (kir_jam_nest). */
static KirExpr *matmul_epilogue(Lower *L, KirExpr *acc, int res, int rank, KirExpr **at)
{
    const char *act = ir_attr_s(L->in, "act");
    KirExpr *v = acc;
    if (strcmp(act, "silu") == 0) v = un(L, KIR_OP_SILU, acc);
    else if (strcmp(act, "gelu") == 0) v = gelu(L, acc);
    else if (strcmp(act, "gelu_tanh") == 0) v = gelu_tanh(L, acc);
    else if (strcmp(act, "relu2") == 0) v = relu2(L, acc);
    else if (strcmp(act, "softplus") == 0) v = un(L, KIR_OP_SOFTPLUS, acc);
    else if (strcmp(act, "sigmoid") == 0) v = un(L, KIR_OP_SIGMOID, acc);
    else if (strcmp(act, "none") != 0) unsupported(L, "matmul {act = \"%s\"}", act);
    return res >= 0 ? add(L, v, ld(L, res, rank, at)) : v;
}

/* The inner product scaled by its row's factor (fuse-prologue) with the bias
 * after it: fma(acc, row_scale[rows, 0], bias[o]).  The sum then starts at
 * 0, not at the bias, and the nest keeps its shape (INIT is a constant, the
 * scale a load in REST). */
static KirExpr *matmul_row_scaled(Lower *L, KirExpr *acc, int row_scale, int bias, KirExpr *const *rows, int nr,
                                  KirExpr *o)
{
    KirExpr *r = ld(L, row_scale, nr + 1, with_last(L, rows, nr, I(L, 0)));
    return bias >= 0 ? fma3(L, acc, r, KB_LOAD(BLD, bias, o)) : mul(L, acc, r);
}

static void lower_matmul(Lower *L)
{
    int x = opnd(L, "x", "x", "x [.., d_in]");
    int w = opnd(L, "w", "w", "w [d_out, d_in]");
    int bias = opnd(L, "bias", "bias", "bias [d_out]");
    int res = opnd(L, "res", "res", "res [.., d_out]: fused residual");
    int rs = opnd(L, "row_scale", "rs", "rs [.., 1]: fused rmsnorm factor per row");
    int y = result(L, "y", "y [.., d_out]");
    int nr = rank_of(L, x) - 1;
    KirExpr *o = V(L, loop(L, "o", I(L, 0), dim(L, w, 0)));
    KirExpr *rows[3];
    open_rows(L, x, nr, rows);
    int acc = let(L, "acc", KIR_F32, bias >= 0 && rs < 0 ? KB_LOAD(BLD, bias, o) : F(L, 0.0));
    KirExpr *kk = V(L, loop(L, "k", I(L, 0), dim(L, w, 1)));
    set(L, acc, fma3(L, ld(L, x, nr + 1, with_last(L, rows, nr, kk)), KB_LOAD(BLD, w, o, kk), V(L, acc)));
    end(L);
    KirExpr **at = with_last(L, rows, nr, o);
    KirExpr *sum = rs >= 0 ? matmul_row_scaled(L, V(L, acc), rs, bias, rows, nr, o) : V(L, acc);
    st(L, y, nr + 1, at, matmul_epilogue(L, sum, res, nr + 1, at));
    close_rows(L, nr);
    end(L);
}

/* ---- norms ---------------------------------------------------------------------- */

/* ss = the sum of x^2 over [lo, lo + n) of the last dim of row `rows`. */
static int sum_squares(Lower *L, int x, KirExpr *const *rows, int nr, int64_t lo, int64_t n)
{
    int ss = let(L, "ss", KIR_F32, F(L, 0.0));
    KirExpr *i = V(L, loop(L, "i", I(L, 0), I(L, n)));
    KirExpr *xi = ld(L, x, nr + 1, with_last(L, rows, nr, lo ? add(L, I(L, lo), i) : i));
    set(L, ss, fma3(L, xi, xi, V(L, ss)));
    end(L);
    return ss;
}

/* rmsnorm and group_rmsnorm: y = x / sqrt(mean(x^2) + eps) * (offset + w)
 * over each of `groups` slices of the last dim. */
static void lower_rms_groups(Lower *L, int64_t groups, double eps, double offset)
{
    int x = opnd(L, "x", "x", "x [.., d]");
    int w = opnd(L, "w", "w", "w [d]");
    int y = result(L, "y", "y [.., d]");
    int nr = rank_of(L, x) - 1;
    int64_t n = last_dim(L, x), gs = n / groups;
    KirExpr *rows[3];
    open_rows(L, x, nr, rows);
    KirExpr *g = NULL;
    if (groups > 1) g = V(L, loop(L, "gr", I(L, 0), I(L, groups)));
    KirExpr *base = g ? mul(L, g, I(L, gs)) : NULL;
    /* sum of squares of this group */
    int ss = let(L, "ss", KIR_F32, F(L, 0.0));
    KirExpr *i = V(L, loop(L, "i", I(L, 0), I(L, gs)));
    KirExpr *xi = ld(L, x, nr + 1, with_last(L, rows, nr, base ? add(L, base, i) : i));
    set(L, ss, fma3(L, xi, xi, V(L, ss)));
    end(L);
    int inv = let(L, "inv", KIR_F32, un(L, KIR_OP_RSQRT, add(L, dvd(L, V(L, ss), F(L, (double)gs)), F(L, eps))));
    i = V(L, loop(L, "i", I(L, 0), I(L, gs)));
    KirExpr *col = base ? add(L, base, i) : i;
    KirExpr *v = mul(L, ld(L, x, nr + 1, with_last(L, rows, nr, col)), V(L, inv));
    if (w >= 0) {
        KirExpr *wi = KB_LOAD(BLD, w, col);
        v = mul(L, v, offset != 0.0 ? add(L, F(L, offset), wi) : wi);
    }
    st(L, y, nr + 1, with_last(L, rows, nr, col), v);
    end(L);
    if (g) end(L);
    close_rows(L, nr);
}

/* rms_scale: r[rows, 0] = 1 / sqrt(mean(x^2) + eps), the factor of
 * lower_rms_groups's rmsnorm alone (the same f32 sum and rsqrt). */
static void lower_rms_scale(Lower *L)
{
    int x = opnd(L, "x", "x", "x [.., d]");
    int r = result(L, "r", "r [.., 1]");
    int nr = rank_of(L, x) - 1;
    int64_t n = last_dim(L, x);
    KirExpr *rows[3];
    open_rows(L, x, nr, rows);
    int ss = sum_squares(L, x, rows, nr, 0, n);
    KirExpr *inv = un(L, KIR_OP_RSQRT, add(L, dvd(L, V(L, ss), F(L, (double)n)), F(L, ir_attr_f(L->in, "eps"))));
    st(L, r, nr + 1, with_last(L, rows, nr, I(L, 0)), inv);
    close_rows(L, nr);
}

static void lower_rmsnorm(Lower *L)
{
    lower_rms_groups(L, 1, ir_attr_f(L->in, "eps"), ir_attr_f(L->in, "offset"));
}

static void lower_group_rmsnorm(Lower *L)
{
    lower_rms_groups(L, ir_attr_i(L->in, "groups"), ir_attr_f(L->in, "eps"), ir_attr_f(L->in, "offset"));
}

/* y = (x - mean) / sqrt(var + eps) * w + b, var biased, two passes. */
static void lower_layernorm(Lower *L)
{
    int x = opnd(L, "x", "x", "x [.., d]");
    int w = opnd(L, "w", "w", "w [d]");
    int bb = opnd(L, "b", "b", "b [d]");
    int y = result(L, "y", "y [.., d]");
    double eps = ir_attr_f(L->in, "eps");
    int nr = rank_of(L, x) - 1;
    int64_t n = last_dim(L, x);
    KirExpr *rows[3];
    open_rows(L, x, nr, rows);
    int sum = let(L, "sum", KIR_F32, F(L, 0.0));
    KirExpr *i = V(L, loop(L, "i", I(L, 0), I(L, n)));
    set(L, sum, add(L, V(L, sum), ld(L, x, nr + 1, with_last(L, rows, nr, i))));
    end(L);
    int mean = let(L, "mean", KIR_F32, dvd(L, V(L, sum), F(L, (double)n)));
    int var = let(L, "sq", KIR_F32, F(L, 0.0));
    i = V(L, loop(L, "i", I(L, 0), I(L, n)));
    int dx = let(L, "dx", KIR_F32, sub(L, ld(L, x, nr + 1, with_last(L, rows, nr, i)), V(L, mean)));
    set(L, var, fma3(L, V(L, dx), V(L, dx), V(L, var)));
    end(L);
    int inv = let(L, "inv", KIR_F32, un(L, KIR_OP_RSQRT, add(L, dvd(L, V(L, var), F(L, (double)n)), F(L, eps))));
    i = V(L, loop(L, "i", I(L, 0), I(L, n)));
    KirExpr *v = mul(L, sub(L, ld(L, x, nr + 1, with_last(L, rows, nr, i)), V(L, mean)), V(L, inv));
    if (w >= 0) v = mul(L, v, KB_LOAD(BLD, w, i));
    if (bb >= 0) v = add(L, v, KB_LOAD(BLD, bb, i));
    st(L, y, nr + 1, with_last(L, rows, nr, i), v);
    end(L);
    close_rows(L, nr);
}

/* Mamba-2's gated RMSNorm per group:
 *   norm_before_gate false: rms(x * silu(z)) * w
 *   norm_before_gate true:  rms(x) * w * silu(z) */
static void lower_gated_rmsnorm(Lower *L)
{
    int x = opnd(L, "x", "x", "x [.., d]");
    int z = opnd(L, "z", "z", "z [.., d]: the gate");
    int w = opnd(L, "w", "w", "w [d]");
    int y = result(L, "y", "y [.., d]");
    int64_t groups = ir_attr_i(L->in, "groups");
    double eps = ir_attr_f(L->in, "eps");
    bool before = ir_attr_b(L->in, "norm_before_gate");
    int nr = rank_of(L, x) - 1;
    int64_t gs = last_dim(L, x) / groups;
    KirExpr *rows[3];
    open_rows(L, x, nr, rows);
    KirExpr *g = groups > 1 ? V(L, loop(L, "gr", I(L, 0), I(L, groups))) : NULL;
    int ss = let(L, "ss", KIR_F32, F(L, 0.0));
    KirExpr *i = V(L, loop(L, "i", I(L, 0), I(L, gs)));
    KirExpr *col = g ? add(L, mul(L, g, I(L, gs)), i) : i;
    KirExpr *u = ld(L, x, nr + 1, with_last(L, rows, nr, col));
    if (!before) u = mul(L, u, un(L, KIR_OP_SILU, ld(L, z, nr + 1, with_last(L, rows, nr, col))));
    int uv = let(L, "u", KIR_F32, u);
    set(L, ss, fma3(L, V(L, uv), V(L, uv), V(L, ss)));
    /* the gated value goes to y, so that the second pass reads it instead of
     * computing silu again (the same element: y may share x's or z's memory) */
    if (!before) st(L, y, nr + 1, with_last(L, rows, nr, col), V(L, uv));
    end(L);
    int inv = let(L, "inv", KIR_F32, un(L, KIR_OP_RSQRT, add(L, dvd(L, V(L, ss), F(L, (double)gs)), F(L, eps))));
    i = V(L, loop(L, "i", I(L, 0), I(L, gs)));
    col = g ? add(L, mul(L, g, I(L, gs)), i) : i;
    u = ld(L, before ? x : y, nr + 1, with_last(L, rows, nr, col));
    KirExpr *v = mul(L, u, V(L, inv));
    if (w >= 0) v = mul(L, v, KB_LOAD(BLD, w, col));
    if (before) v = mul(L, v, un(L, KIR_OP_SILU, ld(L, z, nr + 1, with_last(L, rows, nr, col))));
    st(L, y, nr + 1, with_last(L, rows, nr, col), v);
    end(L);
    if (g) end(L);
    close_rows(L, nr);
}

/* y = x / sqrt(sum(x^2) + eps) per row. */
static void lower_l2norm(Lower *L)
{
    int x = opnd(L, "x", "x", "x [.., d]");
    int y = result(L, "y", "y [.., d]");
    double eps = ir_attr_f(L->in, "eps");
    int nr = rank_of(L, x) - 1;
    int64_t n = last_dim(L, x);
    KirExpr *rows[3];
    open_rows(L, x, nr, rows);
    int ss = sum_squares(L, x, rows, nr, 0, n);
    int inv = let(L, "inv", KIR_F32, un(L, KIR_OP_RSQRT, add(L, V(L, ss), F(L, eps))));
    KirExpr *i = V(L, loop(L, "i", I(L, 0), I(L, n)));
    st(L, y, nr + 1, with_last(L, rows, nr, i), mul(L, ld(L, x, nr + 1, with_last(L, rows, nr, i)), V(L, inv)));
    end(L);
    close_rows(L, nr);
}

/* ---- elementwise ---------------------------------------------------------------- */

static void lower_unary(Lower *L)
{
    int x = opnd(L, "x", "x", "x");
    int y = result(L, "y", "y: the shape of x");
    int r = rank_of(L, x);
    KirExpr *rows[3];
    open_rows(L, x, r - 1, rows);
    KirExpr *i = V(L, loop(L, "i", I(L, 0), I(L, last_dim(L, x))));
    KirExpr **idx = with_last(L, rows, r - 1, i);
    KirExpr *xv = ld(L, x, r, idx), *v = NULL;
    switch (L->in->op) {
    case IR_OP_SILU: v = un(L, KIR_OP_SILU, xv); break;
    case IR_OP_GELU: {
        const char *ap = ir_attr_s(L->in, "approximate");
        if (strcmp(ap, "tanh") == 0) v = gelu_tanh(L, xv);
        else if (strcmp(ap, "none") == 0) v = gelu(L, xv);
        else unsupported(L, "gelu {approximate = \"%s\"}", ap);
        break;
    }
    case IR_OP_RELU2: v = relu2(L, xv); break;
    case IR_OP_SOFTPLUS: v = un(L, KIR_OP_SOFTPLUS, xv); break;
    case IR_OP_SIGMOID: v = un(L, KIR_OP_SIGMOID, xv); break;
    case IR_OP_EXP: v = un(L, KIR_OP_EXP, xv); break;
    case IR_OP_NEG: v = un(L, KIR_OP_NEG, xv); break;
    case IR_OP_SCALE:
        /* in f64, as the interpreter: µP multipliers are not rounded to f32 */
        v = un(L, KIR_OP_TO_F32, mul(L, un(L, KIR_OP_TO_F64, xv), kb_d(BLD, ir_attr_f(L->in, "factor"))));
        break;
    case IR_OP_CLAMP: {
        double lo = ir_attr_f(L->in, "min"), hi = ir_attr_f(L->in, "max");
        v = xv;
        if (lo > -INFINITY) v = mx(L, v, F(L, lo));
        if (hi < INFINITY) v = mn(L, v, F(L, hi));
        break;
    }
    default: HYC_UNREACHABLE();
    }
    st(L, y, r, idx, v);
    end(L);
    close_rows(L, r - 1);
}

/* a op b, b broadcast to a's shape: dims aligned from the right, each equal
 * or 1 (index 0 there). */
static void lower_binary(Lower *L)
{
    int a = opnd(L, "a", "a", "a");
    int bb = opnd(L, "b", "b", "b: broadcast to a");
    int y = result(L, "y", "y: the shape of a");
    int r = rank_of(L, a), rb = rank_of(L, bb);
    HYC_ASSERT(rb <= r);
    KirExpr *rows[3];
    open_rows(L, a, r - 1, rows);
    KirExpr *i = V(L, loop(L, "i", I(L, 0), I(L, last_dim(L, a))));
    KirExpr **ia = with_last(L, rows, r - 1, i);
    KirExpr *ib[IR_MAX_RANK];
    for (int d = 0; d < rb; d++) {
        int da = r - rb + d;
        int64_t bd = B(L, bb)->dims[d];
        ib[d] = bd == 1 && B(L, a)->dims[da] != 1 ? I(L, 0) : ia[da];
    }
    KirExpr *x1 = ld(L, a, r, ia), *x2 = ld(L, bb, rb, ib);
    KirOp op = L->in->op == IR_OP_ADD ? KIR_OP_ADD : L->in->op == IR_OP_SUB ? KIR_OP_SUB : KIR_OP_MUL;
    st(L, y, r, ia, kb_op2(BLD, op, x1, x2));
    end(L);
    close_rows(L, r - 1);
}

/* Per row, max-subtracted. */
static void lower_softmax(Lower *L)
{
    int x = opnd(L, "x", "x", "x [.., n]");
    int y = result(L, "y", "y [.., n]");
    int nr = rank_of(L, x) - 1;
    int64_t n = last_dim(L, x);
    KirExpr *rows[3];
    open_rows(L, x, nr, rows);
    int m = let(L, "m", KIR_F32, F(L, -INFINITY));
    KirExpr *i = V(L, loop(L, "i", I(L, 0), I(L, n)));
    set(L, m, mx(L, V(L, m), ld(L, x, nr + 1, with_last(L, rows, nr, i))));
    end(L);
    int sum = let(L, "sum", KIR_F32, F(L, 0.0));
    i = V(L, loop(L, "i", I(L, 0), I(L, n)));
    KirExpr *e = un(L, KIR_OP_EXP, sub(L, ld(L, x, nr + 1, with_last(L, rows, nr, i)), V(L, m)));
    set(L, sum, add(L, V(L, sum), e));
    end(L);
    int inv = let(L, "inv", KIR_F32, dvd(L, F(L, 1.0), V(L, sum)));
    i = V(L, loop(L, "i", I(L, 0), I(L, n)));
    e = un(L, KIR_OP_EXP, sub(L, ld(L, x, nr + 1, with_last(L, rows, nr, i)), V(L, m)));
    st(L, y, nr + 1, with_last(L, rows, nr, i), mul(L, e, V(L, inv)));
    end(L);
    close_rows(L, nr);
}

/* ---- copies --------------------------------------------------------------------- */

static void lower_slice(Lower *L)
{
    int x = opnd(L, "x", "x", "x [.., n]");
    int y = result(L, "y", "y [.., len]");
    int64_t off = ir_attr_i(L->in, "offset");
    int nr = rank_of(L, x) - 1;
    KirExpr *rows[3];
    open_rows(L, x, nr, rows);
    KirExpr *i = V(L, loop(L, "i", I(L, 0), I(L, last_dim(L, y))));
    st(L, y, nr + 1, with_last(L, rows, nr, i), ld(L, x, nr + 1, with_last(L, rows, nr, off ? add(L, I(L, off), i) : i)));
    end(L);
    close_rows(L, nr);
}

/* y[0, ..] = x[R - 1, ..]: the last row, the last token's of a [T, ..] value
 * (passes/last_logits.c). */
static void lower_last_row(Lower *L)
{
    int x = opnd(L, "x", "x", "x [T, ..]");
    int y = result(L, "y", "y [1, ..]");
    int r = rank_of(L, y);
    static const char *const names[] = {"i1", "i2", "i3"};
    KirExpr *yi[IR_MAX_RANK], *xi[IR_MAX_RANK];
    yi[0] = I(L, 0);
    xi[0] = sub(L, dim(L, x, 0), I(L, 1));
    for (int d = 1; d < r; d++) yi[d] = xi[d] = V(L, loop(L, names[d - 1], I(L, 0), dim(L, y, d)));
    st(L, y, r, yi, ld(L, x, r, xi));
    for (int d = 1; d < r; d++) end(L);
}

/* One phase per input: y[.., at + j] = x_k[.., j]. */
static void lower_concat(Lower *L)
{
    int n_in = L->in->n_operands;
    int *xs = ARENA_NEW_N(L->a, int, n_in);
    for (int k = 0; k < n_in; k++) xs[k] = opnd_at(L, k, arena_printf(L->a, "x%d", k), "x_k [.., n_k]");
    int y = result(L, "y", "y [.., sum of n_k]");
    int nr = rank_of(L, y) - 1;
    int64_t at = 0;
    for (int k = 0; k < n_in; k++) {
        KirExpr *rows[3];
        open_rows(L, xs[k], nr, rows);
        KirExpr *i = V(L, loop(L, "i", I(L, 0), I(L, last_dim(L, xs[k]))));
        st(L, y, nr + 1, with_last(L, rows, nr, at ? add(L, I(L, at), i) : i), ld(L, xs[k], nr + 1, with_last(L, rows, nr, i)));
        end(L);
        close_rows(L, nr);
        at += last_dim(L, xs[k]);
    }
}

/* ---- convolution and scans ------------------------------------------------------ */

/* w[c, k] of a [C, K] or [C, 1, K] weight. */
static KirExpr *conv_w(Lower *L, int w, KirExpr *c, KirExpr *k)
{
    if (rank_of(L, w) == 3) return KB_LOAD(BLD, w, c, I(L, 0), k);
    return KB_LOAD(BLD, w, c, k);
}

/* The taps of a conv at most this wide are written out (unrolled at lowering),
 * so that the loop over channels is innermost and vectorizes. */
enum { CONV_UNROLL_MAX = 8 };

/* y[t, c] = act(b[c] + sum_k w[c, k] xpad[t + k, c]) with the taps unrolled:
 * row t0 of xpad (t0 + k) is a state column while t0 + k < K-1 when t0 is
 * the constant `tc` (>= 0), else every tap reads x (rows t >= K-1). */
static void conv_row_unrolled(Lower *L, int x, int w, int state, int bias, int y, KirExpr *t, int64_t tc,
                              int64_t C, int64_t K)
{
    KirExpr *c = V(L, loop(L, "c", I(L, 0), I(L, C)));
    KirExpr *acc = bias >= 0 ? KB_LOAD(BLD, bias, c) : F(L, 0.0);
    for (int64_t k = 0; k < K; k++) {
        KirExpr *src = tc >= 0 && tc + k < K - 1 ? KB_LOAD(BLD, state, c, I(L, tc + k))
                                                 : KB_LOAD(BLD, x, k == K - 1 ? t : add(L, t, I(L, k - (K - 1))), c);
        acc = fma3(L, conv_w(L, w, c, I(L, k)), src, acc);
    }
    if (L->in->op == IR_OP_CAUSAL_CONV1D_ACT) acc = act_expr(L, ir_act_info(ir_attr_s(L->in, "act")), acc);
    KB_STORE(BLD, y, acc, t, c);
    end(L);
}

/* Phase 1: y[t, c] = b[c] + sum_k w[c, k] xpad[t + k, c], xpad = the K-1
 * state columns then the rows of x (causal_conv1d_act: then its `act`).
 * K <= CONV_UNROLL_MAX: one phase per row t < K-1 (each guarded by T > t,
 * its taps' sources known), then one for the rows t >= K-1 (parallel over
 * t), each with the channels innermost and vectorized.  Wider: one loop nest
 * t, c, k.  Last phase: the state becomes the last K-1 rows of xpad, shifted
 * in place in increasing order (entry j reads entry T + j > j, not yet
 * overwritten). */
static void lower_causal_conv1d(Lower *L)
{
    int x = opnd(L, "x", "x", "x [T, C]");
    int w = opnd(L, "w", "w", "w [C, K]");
    int state = opnd(L, "state", "state", "state [C, K-1]: the last K-1 inputs, oldest first");
    int bias = opnd(L, "bias", "bias", "bias [C]");
    int y = result(L, "y", "y [T, C]");
    int64_t C = B(L, x)->dims[1], K = last_dim(L, w), K1 = K - 1;
    IrDType sdt = state_dtype(L, "state"); /* ssm_dtype: the new entries rounded on store */
    if (K <= CONV_UNROLL_MAX) {
        for (int64_t tc = 0; tc < K1; tc++) {
            KirExpr *t = V(L, loop(L, "t", I(L, tc), mn(L, dim(L, x, 0), I(L, tc + 1))));
            conv_row_unrolled(L, x, w, state, bias, y, t, tc, C, K);
            end(L);
        }
        KirExpr *t = V(L, loop(L, "t", I(L, K1), dim(L, x, 0)));
        conv_row_unrolled(L, x, w, state, bias, y, t, -1, C, K);
        end(L);
    } else {
        KirExpr *t = V(L, loop(L, "t", I(L, 0), dim(L, x, 0)));
        KirExpr *c = V(L, loop(L, "c", I(L, 0), I(L, C)));
        int acc = let(L, "acc", KIR_F32, bias >= 0 ? KB_LOAD(BLD, bias, c) : F(L, 0.0));
        /* k < K-1-t: from the state */
        KirExpr *split = mx(L, I(L, 0), sub(L, I(L, K1), t));
        KirExpr *k = V(L, loop(L, "k", I(L, 0), mn(L, I(L, K), split)));
        set(L, acc, fma3(L, conv_w(L, w, c, k), KB_LOAD(BLD, state, c, add(L, t, k)), V(L, acc)));
        end(L);
        split = mx(L, I(L, 0), sub(L, I(L, K1), t));
        k = V(L, loop(L, "k", mn(L, I(L, K), split), I(L, K)));
        set(L, acc, fma3(L, conv_w(L, w, c, k), KB_LOAD(BLD, x, sub(L, add(L, t, k), I(L, K1)), c), V(L, acc)));
        end(L);
        KirExpr *out = V(L, acc);
        if (L->in->op == IR_OP_CAUSAL_CONV1D_ACT) out = act_expr(L, ir_act_info(ir_attr_s(L->in, "act")), out);
        KB_STORE(BLD, y, out, t, c);
        end(L);
        end(L);
    }

    KirExpr *T = dim(L, x, 0);
    KirExpr *c = V(L, loop(L, "c", I(L, 0), I(L, C)));
    KirExpr *keep = mx(L, I(L, 0), sub(L, I(L, K1), T)); /* state entries that stay */
    KirExpr *j = V(L, loop(L, "j", I(L, 0), keep));
    /* kept entries were rounded when stored; rounding is idempotent */
    KB_STORE(BLD, state, KB_LOAD(BLD, state, c, add(L, dim(L, x, 0), j)), c, j);
    end(L);
    keep = mx(L, I(L, 0), sub(L, I(L, K1), dim(L, x, 0)));
    j = V(L, loop(L, "j", keep, I(L, K1)));
    KB_STORE(BLD, state, round_to(L, sdt, KB_LOAD(BLD, x, sub(L, add(L, dim(L, x, 0), j), I(L, K1)), c)), c, j);
    end(L);
    end(L);
}

/* Mamba-1, per channel e (independent), sequential over t:
 *   h[e,n] = exp(dt A[e,n]) h[e,n] + dt B[t,n] x[t,e];  y = h.C + D x;  y *= silu(z) */
static void lower_selective_scan(Lower *L)
{
    int x = opnd(L, "x", "x", "x [T, E]");
    int dt = opnd(L, "dt", "dt", "dt [T, E]: after softplus");
    int A = opnd(L, "A", "A", "A [E, N]: -exp(A_log)");
    int Bm = opnd(L, "B", "Bm", "B [T, N]");
    int Cm = opnd(L, "C", "Cm", "C [T, N]");
    int h = opnd(L, "state", "state", "state [E, N]: h");
    int D = opnd(L, "D", "D", "D [E]");
    int z = opnd(L, "z", "z", "z [T, E]: the gate");
    int y = result(L, "y", "y [T, E]");
    int64_t E = B(L, x)->dims[1], N = B(L, Bm)->dims[1];
    KirExpr *e = V(L, loop(L, "e", I(L, 0), I(L, E)));
    KirExpr *t = V(L, loop(L, "t", I(L, 0), dim(L, x, 0)));
    int dl = let(L, "dl", KIR_F32, KB_LOAD(BLD, dt, t, e));
    int xv = let(L, "xv", KIR_F32, KB_LOAD(BLD, x, t, e));
    int acc = let(L, "acc", KIR_F32, F(L, 0.0));
    KirExpr *n = V(L, loop(L, "n", I(L, 0), I(L, N)));
    KirExpr *decay = un(L, KIR_OP_EXP, mul(L, V(L, dl), KB_LOAD(BLD, A, e, n)));
    int hv = let(L, "hn", KIR_F32, fma3(L, decay, KB_LOAD(BLD, h, e, n), mul(L, mul(L, V(L, dl), KB_LOAD(BLD, Bm, t, n)), V(L, xv))));
    KB_STORE(BLD, h, V(L, hv), e, n);
    set(L, acc, fma3(L, V(L, hv), KB_LOAD(BLD, Cm, t, n), V(L, acc)));
    end(L);
    if (D >= 0) set(L, acc, fma3(L, KB_LOAD(BLD, D, e), V(L, xv), V(L, acc)));
    if (z >= 0) set(L, acc, mul(L, V(L, acc), un(L, KIR_OP_SILU, KB_LOAD(BLD, z, t, e))));
    KB_STORE(BLD, y, V(L, acc), t, e);
    end(L);
    end(L);
    round_state_phase(L, h, "state");
}

/* ---- Mamba-2 (ssd_scan, fused_ssd_scan) ---------------------------------------- */

/* The buffers and sizes of a Mamba-2 scan, fused or not.  Head hd reads
 * group hd / (H/G) of B and C. */
typedef struct Ssd {
    int x, dt, bias, A, Bm, Cm, s, D, y; /* bias: fused_ssd_scan's dt_bias, else -1 */
    int64_t H, P, G, N;
    bool fused;
    double lo, hi;                       /* fused: the clamp of Δ */
    int chq;                             /* chunked form's per-head rows [H, SSD_ROWS, CG_SSD_CHUNK_MAX], or -1 */
    int cb;                              /* chunked form's C.B [T, G, CG_SSD_CHUNK_MAX], or -1 */
} Ssd;

static Ssd ssd_operands(Lower *L, bool fused)
{
    Ssd S = {0};
    S.fused = fused;
    S.x = opnd(L, "x", "x", "x [T, H, P]");
    S.dt = opnd(L, "dt", "dt", fused ? "dt [T, H]: before the bias" : "dt [T, H]: after softplus");
    S.bias = fused ? opnd(L, "dt_bias", "dtb", "dt_bias [H]") : -1;
    S.A = opnd(L, "A", "A", "A [H]: -exp(A_log)");
    S.Bm = opnd(L, "B", "Bm", "B [T, G, N]");
    S.Cm = opnd(L, "C", "Cm", "C [T, G, N]");
    S.s = opnd(L, "state", "state", "state [H, P, N]");
    S.D = opnd(L, "D", "D", "D [H]");
    S.y = result(L, "y", "y [T, H, P]");
    S.H = B(L, S.x)->dims[1];
    S.P = B(L, S.x)->dims[2];
    S.G = B(L, S.Bm)->dims[1];
    S.N = B(L, S.Bm)->dims[2];
    S.lo = fused ? ir_attr_f(L->in, "dt_min") : 0;
    S.hi = fused ? ir_attr_f(L->in, "dt_max") : INFINITY;
    S.chq = S.cb = -1;
    return S;
}

/* The rows of the chunked form's per-head temp chq [H, SSD_ROWS, Q]: per
 * token s of the chunk, Δ_s, cs_s, exp(cs_s), the state's weight
 * exp(cs_last - cs_s) Δ_s, and the current row t's weight
 * exp(cs_t - cs_s) (C_t.B_s) Δ_s. */
enum { SSD_DELTA, SSD_CS, SSD_EXP_CS, SSD_W_STATE, SSD_W_ROW, SSD_ROWS };

/* chq[hd, row, i] */
static KirExpr *chq_at(Lower *L, const Ssd *S, KirExpr *hd, int row, KirExpr *i)
{
    return KB_LOAD(BLD, S->chq, hd, I(L, row), i);
}

static void chq_store(Lower *L, const Ssd *S, KirExpr *hd, int row, KirExpr *i, KirExpr *v)
{
    KB_STORE(BLD, S->chq, v, hd, I(L, row), i);
}

/* The group of head hd. */
static KirExpr *ssd_group(Lower *L, const Ssd *S, KirExpr *hd)
{
    return S->H / S->G > 1 ? dvd(L, hd, I(L, S->H / S->G)) : (S->G == 1 ? I(L, 0) : hd);
}

/* Δ of token t, head hd: dt as given, or (fused) clamp(softplus(dt + dt_bias)). */
static KirExpr *ssd_delta(Lower *L, const Ssd *S, KirExpr *t, KirExpr *hd)
{
    if (!S->fused) return KB_LOAD(BLD, S->dt, t, hd);
    KirExpr *dv = un(L, KIR_OP_SOFTPLUS, add(L, KB_LOAD(BLD, S->dt, t, hd), KB_LOAD(BLD, S->bias, hd)));
    /* as the unfused clamp: only when the range limits anything */
    if (S->lo > 0 || !isinf(S->hi)) {
        if (S->lo > -INFINITY) dv = mx(L, dv, F(L, S->lo));
        if (S->hi < INFINITY) dv = mn(L, dv, F(L, S->hi));
    }
    return dv;
}

/* Rows p0 .. p0 + nrows - 1 (nrows 1 or 2) of head hd at token t: per row
 * s[p, n] = dA s[p, n] + Δ x[t, hd, p] B[t, g, n] and y = s[p].C[t, g] + D x,
 * the rows together in one loop over N, so that B and C are loaded once
 * for both: per pair of state vectors 4 loads (2 state, B, C) instead of 6,
 * and two independent sums over N. */
static void ssd_rows(Lower *L, const Ssd *S, KirExpr *hd, KirExpr *g, KirExpr *t, int d, int dA, KirExpr *p0, int nrows)
{
    KirExpr *p[2];
    int xv[2], dx[2], acc[2];
    for (int r = 0; r < nrows; r++) {
        p[r] = r ? add(L, p0, I(L, r)) : p0;
        xv[r] = let(L, r ? "xv1" : "xv", KIR_F32, KB_LOAD(BLD, S->x, t, hd, p[r]));
        dx[r] = let(L, r ? "dx1" : "dx", KIR_F32, mul(L, V(L, d), V(L, xv[r])));
        acc[r] = let(L, r ? "acc1" : "acc", KIR_F32, F(L, 0.0));
    }
    KirExpr *n = V(L, loop(L, "n", I(L, 0), I(L, S->N)));
    int bn = let(L, "bn", KIR_F32, KB_LOAD(BLD, S->Bm, t, g, n));
    int cn = let(L, "cn", KIR_F32, KB_LOAD(BLD, S->Cm, t, g, n));
    for (int r = 0; r < nrows; r++) {
        int sv = let(L, r ? "sn1" : "sn", KIR_F32,
                     fma3(L, V(L, dA), KB_LOAD(BLD, S->s, hd, p[r], n), mul(L, V(L, dx[r]), V(L, bn))));
        KB_STORE(BLD, S->s, V(L, sv), hd, p[r], n);
        set(L, acc[r], fma3(L, V(L, sv), V(L, cn), V(L, acc[r])));
    }
    end(L);
    for (int r = 0; r < nrows; r++) {
        if (S->D >= 0) set(L, acc[r], fma3(L, KB_LOAD(BLD, S->D, hd), V(L, xv[r]), V(L, acc[r])));
        KB_STORE(BLD, S->y, V(L, acc[r]), t, hd, p[r]);
    }
}

/* The sequential recurrence, per head (the parallel loop), head hd reading
 * group g = hd / (H/G), the state's N entries the vectorized inner loop,
 * the rows p in pairs (ssd_rows; an odd P's last row alone):
 *   s[hd,p,n] = exp(Δ A[hd]) s + Δ x[t,hd,p] B[t,g,n];  y = s.C[t,g] + D x */
static void ssd_recurrence(Lower *L, const Ssd *S)
{
    KirExpr *hd = V(L, loop(L, "hd", I(L, 0), I(L, S->H)));
    KirExpr *g = ssd_group(L, S, hd);
    KirExpr *t = V(L, loop(L, "t", I(L, 0), dim(L, S->x, 0)));
    int d = let(L, "d", KIR_F32, ssd_delta(L, S, t, hd));
    int dA = let(L, "dA", KIR_F32, un(L, KIR_OP_EXP, mul(L, V(L, d), KB_LOAD(BLD, S->A, hd))));
    if (S->P >= 2) {
        KirExpr *pp = V(L, loop(L, "pp", I(L, 0), I(L, S->P / 2)));
        ssd_rows(L, S, hd, g, t, d, dA, mul(L, pp, I(L, 2)), 2);
        end(L);
    }
    if (S->P % 2) ssd_rows(L, S, hd, g, t, d, dA, I(L, S->P - 1), 1);
    end(L);
    end(L);
}

/* The chunked (state-space dual) form.  With a_t = Δ_t A[hd] and cs_t =
 * a_c0 + .. + a_t (the sum within the chunk of Q tokens c0 .. c0 + ql):
 *   y[t,p]  = exp(cs_t) Σ_n C_t[n] h[p,n]                          (inter)
 *           + Σ_{s<=t} exp(cs_t - cs_s) (C_t.B_s) Δ_s x[s,p]        (intra)
 *           + D x[t,p]
 *   h[p,n] <- exp(cs_last) h[p,n] + Σ_s exp(cs_last - cs_s) Δ_s x[s,p] B_s[n]
 * which is the recurrence summed over the chunk (Π exp(a) = exp(Σ a)).
 * Phase 1 (tokens, parallel): C_t.B_s for the earlier tokens s of t's chunk
 * into a [T, G, Q] temp, once per group (the heads of a group share it).
 * Phase 2 (heads, parallel; per head the chunks in order: the state
 * carries): Δ, cs, exp(cs) and the state's weights exp(cs_last - cs_s) Δ_s
 * in rows of the chq temp (a scalar pass, then a vectorized one); the inter part a
 * matrix-product nest (chunk rows x P, inner products over N: a jam nest,
 * register-blocked); the intra part per row t its weights over s
 * (vectorized, exp included), then per s a vectorized axpy into y's row;
 * the state update per row p an axpy over N per token of the chunk, the
 * row staying in L1.  The state is read and written once per chunk
 * instead of once per token. */
static void ssd_chunked(Lower *L, const Ssd *S, int64_t Q)
{
    /* phase 1: cb[t, g, j] = C_t . B_{c(t) + j}, j <= t - c(t), c(t) = t - t mod Q */
    KirExpr *t = V(L, loop(L, "t", I(L, 0), dim(L, S->x, 0)));
    KirExpr *g1 = V(L, loop(L, "g", I(L, 0), I(L, S->G)));
    KirExpr *j = V(L, loop(L, "j", I(L, 0), add(L, kb_op2(BLD, KIR_OP_REM, t, I(L, Q)), I(L, 1))));
    int cb = let(L, "dot", KIR_F32, F(L, 0.0));
    KirExpr *n = V(L, loop(L, "n", I(L, 0), I(L, S->N)));
    KirExpr *s0 = sub(L, t, kb_op2(BLD, KIR_OP_REM, t, I(L, Q)));
    set(L, cb, fma3(L, KB_LOAD(BLD, S->Cm, t, g1, n), KB_LOAD(BLD, S->Bm, add(L, s0, j), g1, n), V(L, cb)));
    end(L);
    KB_STORE(BLD, S->cb, V(L, cb), t, g1, j);
    end(L);
    end(L);
    end(L);

    /* phase 2: per head, per chunk */
    KirExpr *hd = V(L, loop(L, "hd", I(L, 0), I(L, S->H)));
    KirExpr *g = ssd_group(L, S, hd);
    int c0v = loop(L, "c0", I(L, 0), dim(L, S->x, 0));
    L->b.open_stmt[L->b.depth]->step = Q; /* chunks start every Q tokens */
    KirExpr *c0 = V(L, c0v);
    int ql = let(L, "ql", KIR_I64, mn(L, I(L, Q), sub(L, dim(L, S->x, 0), c0)));

    /* Δ, the running sum of Δ A within the chunk and its exp */
    int run = let(L, "cs", KIR_F32, F(L, 0.0));
    KirExpr *i = V(L, loop(L, "i", I(L, 0), V(L, ql)));
    int d = let(L, "d", KIR_F32, ssd_delta(L, S, add(L, c0, i), hd));
    set(L, run, fma3(L, V(L, d), KB_LOAD(BLD, S->A, hd), V(L, run)));
    chq_store(L, S, hd, SSD_DELTA, i, V(L, d));
    chq_store(L, S, hd, SSD_CS, i, V(L, run));
    chq_store(L, S, hd, SSD_EXP_CS, i, un(L, KIR_OP_EXP, V(L, run)));
    end(L);
    /* the state's weights: exp(cs_last - cs_s) Δ_s */
    j = V(L, loop(L, "j", I(L, 0), V(L, ql)));
    chq_store(L, S, hd, SSD_W_STATE, j,
              mul(L, un(L, KIR_OP_EXP, sub(L, V(L, run), chq_at(L, S, hd, SSD_CS, j))), chq_at(L, S, hd, SSD_DELTA, j)));
    end(L);

    /* inter: y[t, p] = exp(cs_t) C_t.h[p] + D x[t, p], from the state before the chunk */
    i = V(L, loop(L, "i", I(L, 0), V(L, ql)));
    KirExpr *p = V(L, loop(L, "p", I(L, 0), I(L, S->P)));
    int acc = let(L, "acc", KIR_F32, F(L, 0.0));
    n = V(L, loop(L, "n", I(L, 0), I(L, S->N)));
    set(L, acc, fma3(L, KB_LOAD(BLD, S->Cm, add(L, c0, i), g, n), KB_LOAD(BLD, S->s, hd, p, n), V(L, acc)));
    end(L);
    KirExpr *yv = mul(L, V(L, acc), chq_at(L, S, hd, SSD_EXP_CS, i));
    if (S->D >= 0) yv = fma3(L, KB_LOAD(BLD, S->D, hd), KB_LOAD(BLD, S->x, add(L, c0, i), hd, p), yv);
    KB_STORE(BLD, S->y, yv, add(L, c0, i), hd, p);
    end(L);
    end(L);

    /* intra: y[t] += exp(cs_t - cs_s) (C_t.B_s) Δ_s x[s], s <= t in the chunk */
    i = V(L, loop(L, "i", I(L, 0), V(L, ql)));
    j = V(L, loop(L, "j", I(L, 0), add(L, i, I(L, 1))));
    KirExpr *decay = un(L, KIR_OP_EXP, sub(L, chq_at(L, S, hd, SSD_CS, i), chq_at(L, S, hd, SSD_CS, j)));
    chq_store(L, S, hd, SSD_W_ROW, j,
              mul(L, mul(L, KB_LOAD(BLD, S->cb, add(L, c0, i), g, j), decay), chq_at(L, S, hd, SSD_DELTA, j)));
    end(L);
    j = V(L, loop(L, "j", I(L, 0), add(L, i, I(L, 1))));
    int w = let(L, "w", KIR_F32, chq_at(L, S, hd, SSD_W_ROW, j));
    p = V(L, loop(L, "p", I(L, 0), I(L, S->P)));
    KB_STORE(BLD, S->y,
             fma3(L, V(L, w), KB_LOAD(BLD, S->x, add(L, c0, j), hd, p), KB_LOAD(BLD, S->y, add(L, c0, i), hd, p)),
             add(L, c0, i), hd, p);
    end(L);
    end(L);
    end(L);

    /* the state: h[p] = exp(cs_last) h[p] + Σ_s weight_s x[s, p] B_s */
    p = V(L, loop(L, "p", I(L, 0), I(L, S->P)));
    int el = let(L, "el", KIR_F32, un(L, KIR_OP_EXP, V(L, run)));
    n = V(L, loop(L, "n", I(L, 0), I(L, S->N)));
    KB_STORE(BLD, S->s, mul(L, V(L, el), KB_LOAD(BLD, S->s, hd, p, n)), hd, p, n);
    end(L);
    j = V(L, loop(L, "j", I(L, 0), V(L, ql)));
    int wx = let(L, "wx", KIR_F32, mul(L, chq_at(L, S, hd, SSD_W_STATE, j), KB_LOAD(BLD, S->x, add(L, c0, j), hd, p)));
    n = V(L, loop(L, "n", I(L, 0), I(L, S->N)));
    KB_STORE(BLD, S->s, fma3(L, V(L, wx), KB_LOAD(BLD, S->Bm, add(L, c0, j), g, n), KB_LOAD(BLD, S->s, hd, p, n)), hd,
             p, n);
    end(L);
    end(L);
    end(L);
    end(L);
    end(L);
}

/* The chunk length of this kernel's form: 0 for the recurrence.  Decode
 * kernels (a constant T, 1) always run the recurrence; prefill kernels
 * CgOptions.ssd_chunk (0: CG_SSD_CHUNK_DEFAULT, negative: the recurrence). */
static int64_t ssd_chunk_of(const Lower *L, const Ssd *S)
{
    if (B(L, S->x)->dims[0] != IR_DIM_T) return 0;
    int64_t q = L->chunk_override >= 0 ? L->chunk_override
                : L->opts && L->opts->ssd_chunk ? L->opts->ssd_chunk
                                                : CG_SSD_CHUNK_DEFAULT;
    if (q < 0) return 0;
    HYC_ASSERT(q <= CG_SSD_CHUNK_MAX);
    return q;
}

/* Both Mamba-2 scans.  A prefill kernel (T tokens) declares the chunked
 * form's temps whichever form its body is, so that the schedule's `chunk`
 * can switch forms (kir_kernel_rechunk) without a new memory plan. */
static void lower_ssd(Lower *L, bool fused)
{
    Ssd S = ssd_operands(L, fused);
    if (B(L, S.x)->dims[0] == IR_DIM_T) {
        int64_t dims[3] = {S.H, SSD_ROWS, CG_SSD_CHUNK_MAX};
        S.chq = temp(L, "chq", 3, dims, "chq [H, 5, Q]: per token of the chunk Δ, cs (the sum of Δ A), exp(cs), "
                                         "exp(cs_last - cs) Δ, a row's exp(cs_t - cs) (C_t.B) Δ");
        int64_t cb_dims[3] = {IR_DIM_T, S.G, CG_SSD_CHUNK_MAX};
        S.cb = temp(L, "cb", 3, cb_dims, "cb [T, G, Q]: C_t.B_s for the tokens s <= t of t's chunk");
        L->rechunk = true;
    }
    int64_t Q = ssd_chunk_of(L, &S);
    if (Q > 0) ssd_chunked(L, &S, Q);
    else ssd_recurrence(L, &S);
    L->chunk = (int)Q;
    round_state_phase(L, S.s, "state");
}

/* ---- fused scans (passes/fuse_scan.c) ------------------------------------------- */

/* Channels per block of the fused Mamba-1 scan: one AVX-512 vector of f32
 * (two AVX2 ones), the unit a thread owns and the vectorized loop. */
enum { SCAN_BLOCK = 16 };
/* The most states one lane loop of the scan updates, written out one after
 * another (a vectorized loop contains no loop): 16 states of a block keep
 * their A and h operands, the exp temporaries and the shared constants
 * within AVX-512's 32 registers. */
enum { SCAN_STATES_MAX = 16 };

/* The states per lane loop: the largest divisor of N up to SCAN_STATES_MAX,
 * so that every group is full (N = 16: one group, y never leaves a register). */
static int64_t scan_state_group(int64_t N)
{
    int64_t g = N < SCAN_STATES_MAX ? N : SCAN_STATES_MAX;
    while (g > 1 && N % g != 0) g--;
    return g;
}

/* Operands of phase 2 of the fused Mamba-1 scan. */
typedef struct {
    int x, Bm, Cm, D, z, y, dl, hT, AT;
} ScanOps;

/* The block's states n0 .. n0 + G - 1 (n0 an expression, NULL for 0) advanced by token t
 * in the current lane loop (channel ei, Δ `d`, Δ·x `dx`), each state's
 * contribution added to the local `acc` in order of n:
 *   h = exp(Δ A[n]) h + Δ x B[t, n];  acc += h C[t, n]. */
static void scan_states(Lower *L, const ScanOps *S, KirExpr *t, KirExpr *ei, KirExpr *n0, int64_t G, int d, int dx,
                        int acc)
{
    for (int64_t j = 0; j < G; j++) {
        KirExpr *n = !n0 ? I(L, j) : j == 0 ? n0 : add(L, n0, I(L, j));
        KirExpr *decay = un(L, KIR_OP_EXP, mul(L, V(L, d), KB_LOAD(BLD, S->AT, n, ei)));
        KirExpr *inject = mul(L, V(L, dx), KB_LOAD(BLD, S->Bm, t, n));
        char name[32];
        snprintf(name, sizeof name, "h%lld", (long long)j);
        int hn = let(L, name, KIR_F32, fma3(L, decay, KB_LOAD(BLD, S->hT, n, ei), inject));
        KB_STORE(BLD, S->hT, V(L, hn), n, ei);
        set(L, acc, fma3(L, V(L, hn), KB_LOAD(BLD, S->Cm, t, n), V(L, acc)));
    }
}

/* y = (acc + D x) silu(z) at channel ei of token t, stored */
static void scan_output(Lower *L, const ScanOps *S, KirExpr *t, KirExpr *ei, int acc)
{
    if (S->D >= 0) set(L, acc, fma3(L, KB_LOAD(BLD, S->D, ei), KB_LOAD(BLD, S->x, t, ei), V(L, acc)));
    if (S->z >= 0) set(L, acc, mul(L, V(L, acc), un(L, KIR_OP_SILU, KB_LOAD(BLD, S->z, t, ei))));
    KB_STORE(BLD, S->y, V(L, acc), t, ei);
}

/* Mamba-1, everything between x_proj and out_proj in one kernel:
 *   phase 1 (channels e, parallel): dt_b[e] + dt[t]·W[e] into a [T, E] temp
 *     (dt_proj is rank R per channel: an inner product, vectorized);
 *   phase 2 (blocks of 16 channels, parallel): the block's state and A,
 *     transposed to [N, E] temps so that channels are the unit stride;
 *     Δ = softplus of the temp in place for all its tokens (vectorized over
 *     the channels); then per token t one loop over the block's channels
 *     (vectorized: one exp per lane and state) that takes Δ and Δ x, and for
 *     each state n in turn, written out (scan_states):
 *       h = exp(Δ A) h + Δ x B[t, n];  acc += h C[t, n],
 *     then y = (acc + D x) silu(z).  The sum over n stays in a register and
 *     Δ, Δ x are computed once per token, not per state.  When N has more
 *     states than one loop holds (SCAN_STATES_MAX), the token's states go in
 *     groups, one loop per group, y accumulating in memory between them.
 *     At the end the state is written back (rounded to a bf16 / f16 state's
 *     type).
 * The recurrence runs per channel in order of t, as selective_scan's; only
 * the order of the sum over n differs from the unfused kernel (lane-wise
 * instead of a horizontal reduction), and Δ B x is computed as (Δ x) B. */
static void lower_fused_selective_scan(Lower *L)
{
    ScanOps S;
    S.x = opnd(L, "x", "x", "x [T, E]");
    int dt = opnd(L, "dt", "dt", "dt [T, R]: before dt_proj");
    int W = opnd(L, "dt_w", "dtw", "dt_w [E, R]: dt_proj");
    int A = opnd(L, "A", "A", "A [E, N]: -exp(A_log)");
    S.Bm = opnd(L, "B", "Bm", "B [T, N]");
    S.Cm = opnd(L, "C", "Cm", "C [T, N]");
    int h = opnd(L, "state", "state", "state [E, N]: h");
    int bias = opnd(L, "dt_b", "dtb", "dt_b [E]");
    S.D = opnd(L, "D", "D", "D [E]");
    S.z = opnd(L, "z", "z", "z [T, E]: the gate");
    S.y = result(L, "y", "y [T, E]");
    int x = S.x;
    int64_t E = B(L, x)->dims[1], N = B(L, S.Bm)->dims[1], R = B(L, dt)->dims[1];
    int64_t dl_dims[2] = {B(L, x)->dims[0], E}, tr_dims[2] = {N, E};
    S.dl = temp(L, "delta", 2, dl_dims, "delta [T, E]: dt_proj(dt) + dt_b, then softplus of it");
    S.hT = temp(L, "hT", 2, tr_dims, "hT [N, E]: the state, transposed");
    S.AT = temp(L, "AT", 2, tr_dims, "AT [N, E]: A, transposed");
    int64_t G = scan_state_group(N), groups = N / G;

    /* phase 1: Δ */
    KirExpr *e = V(L, loop(L, "e", I(L, 0), I(L, E)));
    KirExpr *t = V(L, loop(L, "t", I(L, 0), dim(L, x, 0)));
    int acc = let(L, "acc", KIR_F32, bias >= 0 ? KB_LOAD(BLD, bias, e) : F(L, 0.0));
    KirExpr *r = V(L, loop(L, "r", I(L, 0), I(L, R)));
    set(L, acc, fma3(L, KB_LOAD(BLD, dt, t, r), KB_LOAD(BLD, W, e, r), V(L, acc)));
    end(L);
    KB_STORE(BLD, S.dl, V(L, acc), t, e); /* softplus comes in phase 2, vectorized */
    end(L);
    end(L);

    /* phase 2: the scan, per block of channels */
    int64_t nblk = (E + SCAN_BLOCK - 1) / SCAN_BLOCK;
    KirExpr *eb = V(L, loop(L, "eb", I(L, 0), I(L, nblk)));
    /* e0 = eb * SCAN_BLOCK, written out in every index (not a local), so that the
     * verifier sees each store indexed by eb and lets eb run in parallel */
#define e0_expr mul(L, eb, I(L, SCAN_BLOCK))
    /* channels in this block: SCAN_BLOCK, a constant the vectorizer likes,
     * unless E is not a multiple of it */
    KirExpr *width = E % SCAN_BLOCK == 0 ? I(L, SCAN_BLOCK) : mn(L, I(L, SCAN_BLOCK), sub(L, I(L, E), e0_expr));
    KirExpr *n = V(L, loop(L, "n", I(L, 0), I(L, N)));
    KirExpr *i = V(L, loop(L, "i", I(L, 0), width));
    KirExpr *ei = add(L, e0_expr, i);
    KB_STORE(BLD, S.hT, KB_LOAD(BLD, h, ei, n), n, ei);
    KB_STORE(BLD, S.AT, KB_LOAD(BLD, A, ei, n), n, ei);
    end(L);
    end(L);

    /* Δ = softplus of the temp, in place, for all the block's tokens first:
     * a loop whose tokens overlap, while inside the recurrence its latency
     * (a log and divides in double) would stall every token's states */
    t = V(L, loop(L, "t", I(L, 0), dim(L, x, 0)));
    i = V(L, loop(L, "i", I(L, 0), width));
    ei = add(L, e0_expr, i);
    KB_STORE(BLD, S.dl, un(L, KIR_OP_SOFTPLUS, KB_LOAD(BLD, S.dl, t, ei)), t, ei);
    end(L);
    end(L);

    t = V(L, loop(L, "t", I(L, 0), dim(L, x, 0)));
    if (groups == 1) {
        /* one lane loop per token: y never leaves a register */
        i = V(L, loop(L, "i", I(L, 0), width));
        ei = add(L, e0_expr, i);
        int d = let(L, "d", KIR_F32, KB_LOAD(BLD, S.dl, t, ei));
        int dx = let(L, "dx", KIR_F32, mul(L, V(L, d), KB_LOAD(BLD, x, t, ei)));
        int y = let(L, "acc", KIR_F32, F(L, 0.0));
        scan_states(L, &S, t, ei, NULL, G, d, dx, y);
        scan_output(L, &S, t, ei, y);
        end(L);
    } else {
        /* y summed in memory over the groups */
        i = V(L, loop(L, "i", I(L, 0), width));
        KB_STORE(BLD, S.y, F(L, 0.0), t, add(L, e0_expr, i));
        end(L);
        KirExpr *ng = V(L, loop(L, "ng", I(L, 0), I(L, groups)));
        i = V(L, loop(L, "i", I(L, 0), width));
        ei = add(L, e0_expr, i);
        int d = let(L, "d", KIR_F32, KB_LOAD(BLD, S.dl, t, ei));
        int dx = let(L, "dx", KIR_F32, mul(L, V(L, d), KB_LOAD(BLD, x, t, ei)));
        int y = let(L, "acc", KIR_F32, KB_LOAD(BLD, S.y, t, ei));
        scan_states(L, &S, t, ei, mul(L, ng, I(L, G)), G, d, dx, y);
        KB_STORE(BLD, S.y, V(L, y), t, ei);
        end(L);
        end(L);
        i = V(L, loop(L, "i", I(L, 0), width));
        ei = add(L, e0_expr, i);
        int out = let(L, "out", KIR_F32, KB_LOAD(BLD, S.y, t, ei));
        scan_output(L, &S, t, ei, out);
        end(L);
    }
    end(L);

    IrDType sdt = state_dtype(L, "state");
    n = V(L, loop(L, "n", I(L, 0), I(L, N)));
    i = V(L, loop(L, "i", I(L, 0), width));
    ei = add(L, e0_expr, i);
    KB_STORE(BLD, h, round_to(L, sdt, KB_LOAD(BLD, S.hT, n, ei)), ei, n);
    end(L);
    end(L);
    end(L);
#undef e0_expr
}

/* ---- attention ------------------------------------------------------------------ */

/* Rotate the first `dim` entries of each head of token t by (pos + t) ·
 * inv_freq[i] (a const table, computed here exactly as the interpreter
 * does); the rest pass through. */
static void lower_rope(Lower *L)
{
    int x = opnd(L, "x", "x", "x [T, heads, head_dim]");
    int y = result(L, "y", "y [T, heads, head_dim]");
    int64_t H = B(L, x)->dims[1], hdim = B(L, x)->dims[2], rot = ir_attr_i(L->in, "dim"), half = rot / 2;
    bool inter = ir_attr_b(L->in, "interleaved");
    const char *sc = ir_attr_s(L->in, "scaling");
    IkRopeScaling kind;
    if (!ik_rope_scaling_lookup(sc, &kind)) unsupported(L, "rope {scaling = \"%s\"}", sc);
    const IrAttr *pa = ir_attr_get(L->in, "scaling_params");
    const double *params = pa && pa->kind == IR_ATTR_FLOATS ? pa->floats : NULL;
    int n_params = params ? pa->len : 0;
    double *inv = ARENA_NEW_N(L->a, double, half > 0 ? half : 1);
    ik_rope_inv_freq(inv, (int)rot, ir_attr_f(L->in, "base"), kind, params, n_params);
    /* yarn: cos and sin times the attention factor (1 for the others) */
    double mscale = ik_rope_attention_factor(kind, params, n_params);
    int freq = const_table(L, "inv_freq", KIR_F64, inv, half, "inv_freq [dim/2]: base^(-2i/dim), scaled");

    KirExpr *t = V(L, loop(L, "t", I(L, 0), dim(L, x, 0)));
    int p = let(L, "p", KIR_F64, un(L, KIR_OP_TO_F64, add(L, V(L, KIR_VAR_POS), t)));
    if (rot < hdim) {
        KirExpr *h = V(L, loop(L, "h", I(L, 0), I(L, H)));
        KirExpr *i = V(L, loop(L, "i", I(L, rot), I(L, hdim)));
        KB_STORE(BLD, y, KB_LOAD(BLD, x, t, h, i), t, h, i);
        end(L);
        end(L);
    }
    KirExpr *i = V(L, loop(L, "i", I(L, 0), I(L, half)));
    int ang = let(L, "ang", KIR_F64, mul(L, V(L, p), KB_LOAD(BLD, freq, i)));
    KirExpr *cse = un(L, KIR_OP_COS, V(L, ang)), *sne = un(L, KIR_OP_SIN, V(L, ang));
    if (mscale != 1.0) {
        cse = mul(L, kb_d(BLD, mscale), cse);
        sne = mul(L, kb_d(BLD, mscale), sne);
    }
    int cs = let(L, "cs", KIR_F64, cse);
    int sn = let(L, "sn", KIR_F64, sne);
    KirExpr *h = V(L, loop(L, "h", I(L, 0), I(L, H)));
    KirExpr *i1 = inter ? mul(L, I(L, 2), i) : i;
    KirExpr *i2 = inter ? add(L, mul(L, I(L, 2), i), I(L, 1)) : add(L, i, I(L, half));
    int x1 = let(L, "x1", KIR_F64, un(L, KIR_OP_TO_F64, KB_LOAD(BLD, x, t, h, i1)));
    int x2 = let(L, "x2", KIR_F64, un(L, KIR_OP_TO_F64, KB_LOAD(BLD, x, t, h, i2)));
    KB_STORE(BLD, y, un(L, KIR_OP_TO_F32, sub(L, mul(L, V(L, x1), V(L, cs)), mul(L, V(L, x2), V(L, sn)))), t, h, i1);
    KB_STORE(BLD, y, un(L, KIR_OP_TO_F32, add(L, mul(L, V(L, x2), V(L, cs)), mul(L, V(L, x1), V(L, sn)))), t, h, i2);
    end(L);
    end(L);
    end(L);
}

/* Is the cache of this op's `cache` operand a ring (a constant S, position
 * p at row p mod S) rather than max_seq rows? */
static bool cache_is_ring(const Lower *L)
{
    IrOperand o = ir_inst_operand(L->in, "cache");
    HYC_ASSERT(o.kind == IR_OPND_STATE);
    return L->m->states[o.id].type.dims[1] != IR_DIM_MAX_SEQ;
}

/* The cache row of absolute position j. */
static KirExpr *cache_row(Lower *L, bool ring, int64_t S, KirExpr *j)
{
    return ring ? kb_op2(BLD, KIR_OP_REM, j, I(L, S)) : j;
}

/* Row (pos + t) of each kv head <- [k_t ; v_t]. */
static void lower_kv_store(Lower *L)
{
    int k = opnd(L, "k", "k", "k [T, kv_heads, dk]");
    int v = opnd(L, "v", "v", "v [T, kv_heads, dv]");
    int cache = opnd(L, "cache", "cache", "cache [kv_heads, S, dk + dv]");
    int64_t Hkv = B(L, k)->dims[1], dk = B(L, k)->dims[2], dv = B(L, v)->dims[2], S = B(L, cache)->dims[1];
    bool ring = cache_is_ring(L);
    IrDType kdt = state_dtype(L, "cache"); /* kv_dtype: rows rounded on store */
    KirExpr *h = V(L, loop(L, "h", I(L, 0), I(L, Hkv)));
    KirExpr *t = V(L, loop(L, "t", I(L, 0), dim(L, k, 0)));
    int row = let(L, "row", KIR_I64, cache_row(L, ring, S, add(L, V(L, KIR_VAR_POS), t)));
    KirExpr *d = V(L, loop(L, "d", I(L, 0), I(L, dk)));
    KB_STORE(BLD, cache, round_to(L, kdt, KB_LOAD(BLD, k, t, h, d)), h, V(L, row), d);
    end(L);
    d = V(L, loop(L, "d", I(L, 0), I(L, dv)));
    KB_STORE(BLD, cache, round_to(L, kdt, KB_LOAD(BLD, v, t, h, d)), h, V(L, row), add(L, I(L, dk), d));
    end(L);
    end(L);
    end(L);
}

/* ---- attention: flash-style sdpa ---------------------------------------------- */

/* Tile sizes (CgOptions.attn_block_q / attn_block_k override them).  Bk keys
 * per tile: a K and a V tile, Bk x (dk + dv) f32, are re-read by every query
 * row of the block, so together they fill about one 32 KB L1 (16 to 128
 * keys, a power of two).  Bq query positions per block, each with the G
 * query heads of the group: the block's q, y and score rows, Bq G (dk + dv +
 * Bk) f32, take about another 32 KB, so what one task touches stays well
 * inside a 1 MB L2. */
static void sdpa_tiles(const Lower *L, int64_t G, int64_t dk, int64_t dv, int64_t *bq, int64_t *bk)
{
    int64_t fit = 32768 / (4 * (dk + dv));
    int64_t k = 16;
    while (k < 128 && 2 * k <= fit) k *= 2;
    int64_t rows = 32768 / (4 * (dk + dv + k));
    int64_t q = rows / G > 1 ? rows / G : 1;
    /* whole register blocks of rows (jam 4: sdpa_scores, sdpa_pv) */
    if (q > 4) q -= q % 4;
    if (L->opts && L->opts->attn_block_k > 0) k = L->opts->attn_block_k;
    if (L->opts && L->opts->attn_block_q > 0) q = L->opts->attn_block_q;
    *bq = q;
    *bk = k;
}

/* What every tile of one task (a kv group g, a block of query rows) shares. */
typedef struct Sdpa {
    int q, y;         /* q [T, H, dk], y [T, H, dv] */
    int sc;           /* temp [T, H, Bk]: the scores of the current tile, then their exp */
    int mx, sm;       /* temps [T, H]: running max and running sum of each query row */
    int vt;           /* temp [tasks, dv, Bk]: the task's V tile, transposed */
    int cr;           /* temp [T, H]: the tile's correction e^(m - m') per row, -1 when it saw no key */
    KirExpr *gb;      /* the task variable */
    int64_t G, dk, dv, Bk, W;
    bool causal;
    double scale;
    KirExpr *t0;      /* the block's first row; every index of a store uses the task variable */
    KirExpr *h0;      /* the group's first query head, g G */
    KirExpr *hk;      /* the kv head g */
    int tn;           /* local: rows in the block */
} Sdpa;

/* One source of keys: the cache (absolute positions, row j or j mod S) or
 * this call's k / v (rows u, position pos + u). */
typedef struct SdpaKeys {
    int kbuf, vbuf;
    int64_t voff;     /* where v starts in a row of vbuf (dk in the cache) */
    bool cache, ring;
    int64_t S;
    KirExpr *lo, *hi; /* the keys any row of the block may see */
} SdpaKeys;

/* Element d of the k (v with is_v) at buffer row `row` of this source, as a load. */
static KirExpr *sdpa_kv(Lower *L, const Sdpa *A, const SdpaKeys *K, KirExpr *row, KirExpr *d, bool is_v)
{
    int buf = is_v ? K->vbuf : K->kbuf;
    KirExpr *col = is_v && K->voff ? add(L, I(L, K->voff), d) : d;
    return K->cache ? KB_LOAD(BLD, buf, A->hk, row, col) : KB_LOAD(BLD, buf, row, A->hk, col);
}

/* The row of key kj in its buffer, as a local. */
static int sdpa_row(Lower *L, const SdpaKeys *K, KirExpr *kj)
{
    return let(L, "row", KIR_I64, K->cache ? cache_row(L, K->ring, K->S, kj) : kj);
}

/* Does query row t see key kj?  NULL when every key of the range does: the
 * range already excludes the ring's overwritten rows and, for the block's
 * first row, the window; rows further down may see fewer. */
static KirExpr *sdpa_visible(Lower *L, const Sdpa *A, const SdpaKeys *K, KirExpr *kj, KirExpr *t)
{
    KirExpr *rel = K->cache ? sub(L, kj, V(L, KIR_VAR_POS)) : kj; /* position - pos */
    KirExpr *ok = NULL;
    if (!K->cache && A->causal) ok = cmp(L, KIR_OP_LE, rel, t);
    if (A->W > 0) {
        KirExpr *w = cmp(L, KIR_OP_GT, rel, sub(L, t, I(L, A->W)));
        ok = ok ? kb_op2(BLD, KIR_OP_AND, ok, w) : w;
    }
    return ok;
}

/* The cache row (or fresh row) of key kb + jj as an expression of loop
 * variables only (kb = lo + kt Bk), so that the score nest stays a jam nest;
 * NULL for a ring cache (mod S: no constant stride), which takes locals. */
static KirExpr *sdpa_key_row(Lower *L, const Sdpa *A, const SdpaKeys *K, KirExpr *kt, KirExpr *jj)
{
    if (K->cache && K->ring) return NULL;
    return add(L, add(L, K->lo, mul(L, kt, I(L, A->Bk))), jj);
}

/* sc[t, h, jj] = scale q[t, h] . k[kb + jj] for the block's rows and heads,
 * -inf where the row does not see the key.  Per head, keys x rows: a matrix
 * product nest (q moves with the row, k with the key; kir_jam_nest), so the
 * default register blocks compute 4 keys x 4 rows of inner products per pass
 * over dk, each K and q vector loaded once for 4 of them.  The key's
 * position is its row (a ring cache's row, j mod S, is not of constant
 * stride: locals and a plain nest there). */
static void sdpa_scores(Lower *L, const Sdpa *A, const SdpaKeys *K, KirExpr *kt, int kb, int kn)
{
    KirExpr *h = add(L, A->h0, V(L, loop(L, "hh", I(L, 0), I(L, A->G))));
    KirExpr *jj = V(L, loop(L, "jj", I(L, 0), V(L, kn)));
    KirExpr *kj = sdpa_key_row(L, A, K, kt, jj), *row = kj;
    if (!kj) {
        kj = V(L, let(L, "kj", KIR_I64, add(L, V(L, kb), jj)));
        row = V(L, sdpa_row(L, K, kj));
    }
    KirExpr *t = add(L, A->t0, V(L, loop(L, "i", I(L, 0), V(L, A->tn))));
    int s = let(L, "s", KIR_F32, F(L, 0.0));
    KirExpr *d = V(L, loop(L, "d", I(L, 0), I(L, A->dk)));
    set(L, s, fma3(L, KB_LOAD(BLD, A->q, t, h, d), sdpa_kv(L, A, K, row, d, false), V(L, s)));
    end(L);
    KirExpr *sv = mul(L, V(L, s), F(L, A->scale));
    KirExpr *ok = sdpa_visible(L, A, K, kj, t);
    if (ok) sv = sel(L, ok, sv, F(L, -INFINITY));
    KB_STORE(BLD, A->sc, sv, t, h, jj);
    end(L);
    end(L);
    end(L);
}

/* One query row (t, h) takes the tile's scores: the tile's max m_t; if it
 * saw any key, m' = max(m, m_t), p_j = exp(s_j - m') over the scores,
 * l = l e^(m - m') + sum p_j, and the correction e^(m - m') into cr for
 * sdpa_pv; a row that saw none (below the diagonal of a fresh tile) gets
 * cr = -1: its y stays as it is.  One exp of the correction per row and
 * tile, the p_j independent of each other. */
static void sdpa_row_softmax(Lower *L, const Sdpa *A, KirExpr *t, KirExpr *h, int kn)
{
    int mt = let(L, "mt", KIR_F32, F(L, -INFINITY));
    KirExpr *jj = V(L, loop(L, "jj", I(L, 0), V(L, kn)));
    set(L, mt, mx(L, V(L, mt), KB_LOAD(BLD, A->sc, t, h, jj)));
    end(L);
    kb_if(BLD, cmp(L, KIR_OP_GT, V(L, mt), F(L, -INFINITY)));
    int mo = let(L, "mo", KIR_F32, KB_LOAD(BLD, A->mx, t, h));
    int mnew = let(L, "mnew", KIR_F32, mx(L, V(L, mo), V(L, mt)));
    int corr = let(L, "corr", KIR_F32, un(L, KIR_OP_EXP, sub(L, V(L, mo), V(L, mnew))));
    int ls = let(L, "ls", KIR_F32, F(L, 0.0));
    jj = V(L, loop(L, "jj", I(L, 0), V(L, kn)));
    int pj = let(L, "pj", KIR_F32, un(L, KIR_OP_EXP, sub(L, KB_LOAD(BLD, A->sc, t, h, jj), V(L, mnew))));
    KB_STORE(BLD, A->sc, V(L, pj), t, h, jj);
    set(L, ls, add(L, V(L, ls), V(L, pj)));
    end(L);
    KB_STORE(BLD, A->sm, fma3(L, KB_LOAD(BLD, A->sm, t, h), V(L, corr), V(L, ls)), t, h);
    KB_STORE(BLD, A->mx, V(L, mnew), t, h);
    KB_STORE(BLD, A->cr, V(L, corr), t, h);
    kb_else(BLD);
    KB_STORE(BLD, A->cr, F(L, -1.0), t, h);
    end(L); /* if */
}

/* y[t, h, d] = y[t, h, d] e^(m - m') + sum_j p_j vt[d, j] for the rows that
 * saw a key of the tile (cr >= 0).  Per head, value columns x rows: a matrix
 * product nest (vt moves with d, the probabilities with the row; both unit
 * stride in j), register-blocked as the scores.  A row that saw no key
 * computes a sum it does not store. */
static void sdpa_pv(Lower *L, const Sdpa *A, int kn)
{
    KirExpr *h = add(L, A->h0, V(L, loop(L, "hh", I(L, 0), I(L, A->G))));
    KirExpr *d = V(L, loop(L, "d", I(L, 0), I(L, A->dv)));
    KirExpr *t = add(L, A->t0, V(L, loop(L, "i", I(L, 0), V(L, A->tn))));
    int acc = let(L, "acc", KIR_F32, mul(L, KB_LOAD(BLD, A->y, t, h, d), KB_LOAD(BLD, A->cr, t, h)));
    KirExpr *jj = V(L, loop(L, "jj", I(L, 0), V(L, kn)));
    set(L, acc, fma3(L, KB_LOAD(BLD, A->sc, t, h, jj), KB_LOAD(BLD, A->vt, A->gb, d, jj), V(L, acc)));
    end(L);
    kb_if(BLD, cmp(L, KIR_OP_GE, KB_LOAD(BLD, A->cr, t, h), F(L, 0.0)));
    KB_STORE(BLD, A->y, V(L, acc), t, h, d);
    end(L); /* if */
    end(L);
    end(L);
    end(L);
}

/* vt[task, d, jj] = v of key kb + jj: once per tile and task, read by the
 * Bq G query rows of the block (so P V is inner products of unit stride). */
static void sdpa_transpose_v(Lower *L, const Sdpa *A, const SdpaKeys *K, int kb, int kn)
{
    KirExpr *jj = V(L, loop(L, "jj", I(L, 0), V(L, kn)));
    int row = sdpa_row(L, K, add(L, V(L, kb), jj));
    KirExpr *d = V(L, loop(L, "d", I(L, 0), I(L, A->dv)));
    KB_STORE(BLD, A->vt, sdpa_kv(L, A, K, V(L, row), d, true), A->gb, d, jj);
    end(L);
    end(L);
}

/* The block's rows against the keys [lo, hi) of one source, Bk at a time. */
static void sdpa_key_tiles(Lower *L, const Sdpa *A, const SdpaKeys *K)
{
    int klo = let(L, K->cache ? "clo" : "ulo", KIR_I64, K->lo);
    int khi = let(L, K->cache ? "chi" : "uhi", KIR_I64, K->hi);
    KirExpr *n = mx(L, I(L, 0), sub(L, V(L, khi), V(L, klo)));
    KirExpr *kt = V(L, loop(L, "kt", I(L, 0), dvd(L, add(L, n, I(L, A->Bk - 1)), I(L, A->Bk))));
    int kb = let(L, "kb", KIR_I64, add(L, V(L, klo), mul(L, kt, I(L, A->Bk))));
    int kn = let(L, "kn", KIR_I64, mn(L, I(L, A->Bk), sub(L, V(L, khi), V(L, kb))));
    sdpa_scores(L, A, K, kt, kb, kn);
    sdpa_transpose_v(L, A, K, kb, kn);
    KirExpr *t = add(L, A->t0, V(L, loop(L, "i", I(L, 0), V(L, A->tn))));
    KirExpr *h = add(L, A->h0, V(L, loop(L, "hh", I(L, 0), I(L, A->G))));
    sdpa_row_softmax(L, A, t, h, kn);
    end(L);
    end(L);
    sdpa_pv(L, A, kn);
    end(L);
}

/* Query t (position p = pos + t) of head h attends the cached positions
 * [jlo, pos) still in the cache, then the call's fresh rows u (position
 * pos + u): causal u <= t; a window W keeps keys > p - W.  Flash style: one
 * parallel task per (kv group g, block of Bq query rows), g major so that a
 * thread's tasks share K / V; each task runs the group's G heads of its rows
 * against tiles of Bk keys with an online softmax (running max and sum per
 * row in temps), so a K / V tile is loaded once for Bq G query rows, and
 * nothing is O(T^2).  Decode (T = 1) is one task per kv group: the cache is
 * read once for all heads of the group. */
static void lower_sdpa(Lower *L)
{
    int q = opnd(L, "q", "q", "q [T, heads, dk]");
    int k = opnd(L, "k", "k", "k [T, kv_heads, dk]: this call's keys");
    int v = opnd(L, "v", "v", "v [T, kv_heads, dv]");
    int cache = opnd(L, "cache", "cache", "cache [kv_heads, S, dk + dv]: earlier positions");
    int y = result(L, "y", "y [T, heads, dv]");
    int64_t H = B(L, q)->dims[1], dk = B(L, q)->dims[2], Hkv = B(L, k)->dims[1], dv = B(L, v)->dims[2];
    int64_t S = B(L, cache)->dims[1], W = ir_attr_i(L->in, "window");
    bool ring = cache_is_ring(L), causal = ir_attr_b(L->in, "causal");
    double scale = ir_attr_has(L->in, "scale") ? ir_attr_f(L->in, "scale") : 1.0 / sqrt((double)dk);
    int64_t G = H / Hkv, Bq, Bk;
    sdpa_tiles(L, G, dk, dv, &Bq, &Bk);
    Sdpa A = {.q = q, .y = y, .G = G, .dk = dk, .dv = dv, .Bk = Bk, .W = W, .causal = causal, .scale = scale};
    A.sc = temp(L, "sc", 3, (int64_t[]){IR_DIM_T, H, Bk}, "sc [T, heads, Bk]: a tile's scores, then exp");
    A.mx = temp(L, "mx", 2, (int64_t[]){IR_DIM_T, H}, "mx [T, heads]: running max");
    A.sm = temp(L, "sm", 2, (int64_t[]){IR_DIM_T, H}, "sm [T, heads]: running sum");
    A.cr = temp(L, "cr", 2, (int64_t[]){IR_DIM_T, H}, "cr [T, heads]: the tile's correction, -1: no key seen");
    /* one V tile per task: tasks are at most Hkv ceil(max_batch / Bq), the
     * runtime never calls with more than max_batch tokens (as plan.c) */
    int64_t mb = L->opts && L->opts->max_batch > 0 ? L->opts->max_batch : 256;
    if (mb > L->m->max_seq) mb = L->m->max_seq;
    A.vt = temp(L, "vt", 3, (int64_t[]){Hkv * ((mb + Bq - 1) / Bq), dv, Bk}, "vt [tasks, dv, Bk]: a V tile, transposed");
    KirExpr *pos = V(L, KIR_VAR_POS), *T = dim(L, q, 0);
    KirExpr *nqb = dvd(L, add(L, T, I(L, Bq - 1)), I(L, Bq)); /* query blocks */

    KirExpr *gb = V(L, loop(L, "gb", I(L, 0), mul(L, I(L, Hkv), nqb)));
    A.gb = gb;
    A.hk = dvd(L, gb, nqb);
    A.h0 = G > 1 ? mul(L, A.hk, I(L, G)) : A.hk;
    A.t0 = mul(L, kb_op2(BLD, KIR_OP_REM, gb, nqb), I(L, Bq));
    A.tn = let(L, "tn", KIR_I64, mn(L, I(L, Bq), sub(L, T, A.t0)));

    KirExpr *t = add(L, A.t0, V(L, loop(L, "i", I(L, 0), V(L, A.tn))));
    KirExpr *h = add(L, A.h0, V(L, loop(L, "hh", I(L, 0), I(L, G))));
    KB_STORE(BLD, A.mx, F(L, -INFINITY), t, h);
    KB_STORE(BLD, A.sm, F(L, 0.0), t, h);
    KirExpr *d = V(L, loop(L, "d", I(L, 0), I(L, dv)));
    KB_STORE(BLD, y, F(L, 0.0), t, h, d);
    end(L);
    end(L);
    end(L);

    /* cached keys: still in the cache, and inside the first row's window */
    KirExpr *clo = ring ? mx(L, I(L, 0), sub(L, pos, I(L, S))) : I(L, 0);
    if (W > 0) clo = mx(L, clo, add(L, sub(L, add(L, pos, A.t0), I(L, W)), I(L, 1)));
    SdpaKeys ck = {.kbuf = cache, .vbuf = cache, .voff = dk, .cache = true, .ring = ring, .S = S, .lo = clo, .hi = pos};
    sdpa_key_tiles(L, &A, &ck);

    /* this call's keys: up to the last row (causal) or all */
    KirExpr *ulo = W > 0 ? mx(L, I(L, 0), add(L, sub(L, A.t0, I(L, W)), I(L, 1))) : I(L, 0);
    KirExpr *uhi = causal ? add(L, A.t0, V(L, A.tn)) : T;
    SdpaKeys fk = {.kbuf = k, .vbuf = v, .lo = ulo, .hi = uhi};
    sdpa_key_tiles(L, &A, &fk);

    t = add(L, A.t0, V(L, loop(L, "i", I(L, 0), V(L, A.tn))));
    h = add(L, A.h0, V(L, loop(L, "hh", I(L, 0), I(L, G))));
    int inv = let(L, "inv", KIR_F32, dvd(L, F(L, 1.0), KB_LOAD(BLD, A.sm, t, h)));
    d = V(L, loop(L, "d", I(L, 0), I(L, dv)));
    KB_STORE(BLD, y, mul(L, KB_LOAD(BLD, y, t, h, d), V(L, inv)), t, h, d);
    end(L);
    end(L);
    end(L);
    end(L); /* gb */
}

/* ---- linear attention, routing, experts ----------------------------------------- */

/* Per value head h (key head h / (Hv/Hk)), column j of its state S[dk, dv]
 * depends only on column j, so each column runs the whole token step:
 *   S *= e^g;  delta = (v - S^T k) beta;  S += k delta^T;  o = S^T q scale */
static void lower_gated_delta_rule(Lower *L)
{
    int q = opnd(L, "q", "q", "q [T, Hk, dk]");
    int k = opnd(L, "k", "k", "k [T, Hk, dk]");
    int v = opnd(L, "v", "v", "v [T, Hv, dv]");
    int g = opnd(L, "g", "g", "g [T, Hv]: log decay");
    int beta = opnd(L, "beta", "beta", "beta [T, Hv]");
    int S = opnd(L, "state", "state", "state [Hv, dk, dv]");
    int y = result(L, "y", "y [T, Hv, dv]");
    int64_t Hk = B(L, q)->dims[1], dk = B(L, q)->dims[2], Hv = B(L, v)->dims[1], dv = B(L, v)->dims[2];
    double scale = ir_attr_has(L->in, "scale") ? ir_attr_f(L->in, "scale") : 1.0 / sqrt((double)dk);
    KirExpr *h = V(L, loop(L, "h", I(L, 0), I(L, Hv)));
    KirExpr *hk = Hv / Hk > 1 ? kb_op2(BLD, KIR_OP_DIV, h, I(L, Hv / Hk)) : h;
    KirExpr *t = V(L, loop(L, "t", I(L, 0), dim(L, q, 0)));
    int decay = let(L, "decay", KIR_F32, un(L, KIR_OP_EXP, KB_LOAD(BLD, g, t, h)));
    int b = let(L, "b", KIR_F32, KB_LOAD(BLD, beta, t, h));
    KirExpr *j = V(L, loop(L, "j", I(L, 0), I(L, dv)));
    int kv = let(L, "kv", KIR_F32, F(L, 0.0));
    KirExpr *i = V(L, loop(L, "i", I(L, 0), I(L, dk)));
    int s = let(L, "s", KIR_F32, mul(L, KB_LOAD(BLD, S, h, i, j), V(L, decay)));
    KB_STORE(BLD, S, V(L, s), h, i, j);
    set(L, kv, fma3(L, V(L, s), KB_LOAD(BLD, k, t, hk, i), V(L, kv)));
    end(L);
    int delta = let(L, "delta", KIR_F32, mul(L, sub(L, KB_LOAD(BLD, v, t, h, j), V(L, kv)), V(L, b)));
    int o = let(L, "o", KIR_F32, F(L, 0.0));
    i = V(L, loop(L, "i", I(L, 0), I(L, dk)));
    s = let(L, "s", KIR_F32, fma3(L, KB_LOAD(BLD, k, t, hk, i), V(L, delta), KB_LOAD(BLD, S, h, i, j)));
    KB_STORE(BLD, S, V(L, s), h, i, j);
    set(L, o, fma3(L, V(L, s), KB_LOAD(BLD, q, t, hk, i), V(L, o)));
    end(L);
    KB_STORE(BLD, y, mul(L, V(L, o), F(L, scale)), t, h, j);
    end(L);
    end(L);
    end(L);
    round_state_phase(L, S, "state");
}

/* The selection key of expert e: its score plus the bias; -inf when the
 * group-kept temp gk (>= 0) says its group is out. */
static KirExpr *route_key(Lower *L, int tmp, int bias, KirExpr *t, KirExpr *e, int gk, int64_t gsize)
{
    KirExpr *k = KB_LOAD(BLD, tmp, t, e);
    if (bias >= 0) k = add(L, k, KB_LOAD(BLD, bias, e));
    if (gk < 0) return k;
    KirExpr *kept = cmp(L, KIR_OP_GT, KB_LOAD(BLD, gk, t, kb_op2(BLD, KIR_OP_DIV, e, I(L, gsize))), F(L, 0.0));
    return sel(L, kept, k, F(L, -INFINITY));
}

/* Dense combine weights, at most k nonzero per row.  Per token: scores into
 * tmp (softmax, raw logits or sigmoid), then expert e is kept when fewer
 * than k experts beat it (higher score + bias, or equal and a lower index:
 * ties go to the lower index, as the interpreter's top-k), a 1/0 mask in y;
 * then the weights of the kept experts. */
static void lower_route(Lower *L)
{
    int lg = opnd(L, "logits", "logits", "logits [T, E]");
    int bias = opnd(L, "bias", "bias", "bias [E]: added for selection only");
    int y = result(L, "y", "y [T, E]: combine weights");
    int64_t E = B(L, lg)->dims[1];
    int64_t dims[2] = {B(L, lg)->dims[0], E};
    int tmp = temp(L, "score", 2, dims, "score [T, E]");
    const char *mode = ir_attr_s(L->in, "mode");
    bool sm_topk = strcmp(mode, "softmax_topk") == 0, topk_sm = strcmp(mode, "topk_softmax") == 0;
    bool sig = strcmp(mode, "sigmoid_topk") == 0, renorm = ir_attr_b(L->in, "renormalize");
    int64_t topk = ir_attr_i(L->in, "k");
    double scale = ir_attr_f(L->in, "scale");
    int64_t groups = ir_attr_i(L->in, "groups"), topk_groups = ir_attr_i(L->in, "topk_groups");
    if (!sm_topk && !topk_sm && !sig) unsupported(L, "route {mode = \"%s\"}", mode);
    if (groups < 1 || E % groups != 0 || topk_groups < 1 || topk_groups > groups ||
        (groups > 1 && (E / groups < 2 || topk > topk_groups * (E / groups))))
        unsupported(L, "route {groups = %lld, topk_groups = %lld} with %lld experts and k = %lld", (long long)groups,
                    (long long)topk_groups, (long long)E, (long long)topk);
    int64_t gsize = E / groups;

    KirExpr *t = V(L, loop(L, "t", I(L, 0), dim(L, lg, 0)));
    KirExpr *e;
    if (sm_topk) {
        int m = let(L, "m", KIR_F32, F(L, -INFINITY));
        e = V(L, loop(L, "e", I(L, 0), I(L, E)));
        set(L, m, mx(L, V(L, m), KB_LOAD(BLD, lg, t, e)));
        end(L);
        int sum = let(L, "sum", KIR_F32, F(L, 0.0));
        e = V(L, loop(L, "e", I(L, 0), I(L, E)));
        set(L, sum, add(L, V(L, sum), un(L, KIR_OP_EXP, sub(L, KB_LOAD(BLD, lg, t, e), V(L, m)))));
        end(L);
        e = V(L, loop(L, "e", I(L, 0), I(L, E)));
        KB_STORE(BLD, tmp, dvd(L, un(L, KIR_OP_EXP, sub(L, KB_LOAD(BLD, lg, t, e), V(L, m))), V(L, sum)), t, e);
        end(L);
    } else {
        e = V(L, loop(L, "e", I(L, 0), I(L, E)));
        KirExpr *lv = KB_LOAD(BLD, lg, t, e);
        KB_STORE(BLD, tmp, sig ? un(L, KIR_OP_SIGMOID, lv) : lv, t, e);
        end(L);
    }
    /* group-limited selection (DeepSeek-V3): a group scores the sum of its
     * two largest keys; experts outside the best topk_groups groups (ties
     * to the lower group) get key -inf.  k <= topk_groups * size, so they
     * are never selected. */
    int gsc = -1, gk = -1;
    if (groups > 1) {
        int64_t gdims[2] = {B(L, lg)->dims[0], groups};
        gsc = temp(L, "gscore", 2, gdims, "gscore [T, groups]: sum of the two best keys");
        gk = temp(L, "gkept", 2, gdims, "gkept [T, groups]: 1 for the best topk_groups groups");
        KirExpr *g = V(L, loop(L, "g", I(L, 0), I(L, groups)));
        int m1 = let(L, "m1", KIR_F32, F(L, -INFINITY));
        int m2 = let(L, "m2", KIR_F32, F(L, -INFINITY));
        KirExpr *j = V(L, loop(L, "j", I(L, 0), I(L, gsize)));
        int kv = let(L, "kv", KIR_F32, route_key(L, tmp, bias, t, add(L, mul(L, g, I(L, gsize)), j), -1, gsize));
        set(L, m2, sel(L, cmp(L, KIR_OP_GT, V(L, kv), V(L, m1)), V(L, m1), mx(L, V(L, m2), V(L, kv))));
        set(L, m1, mx(L, V(L, m1), V(L, kv)));
        end(L);
        KB_STORE(BLD, gsc, add(L, V(L, m1), V(L, m2)), t, g);
        end(L);
        g = V(L, loop(L, "g", I(L, 0), I(L, groups)));
        int gs = let(L, "gs", KIR_F32, KB_LOAD(BLD, gsc, t, g));
        int grank = let(L, "grank", KIR_I64, I(L, 0));
        KirExpr *g2 = V(L, loop(L, "g2", I(L, 0), I(L, groups)));
        int g2s = let(L, "g2s", KIR_F32, KB_LOAD(BLD, gsc, t, g2));
        KirExpr *gbeats = kb_op2(BLD, KIR_OP_OR, cmp(L, KIR_OP_GT, V(L, g2s), V(L, gs)),
                                 kb_op2(BLD, KIR_OP_AND, cmp(L, KIR_OP_EQ, V(L, g2s), V(L, gs)), cmp(L, KIR_OP_LT, g2, g)));
        set(L, grank, add(L, V(L, grank), un(L, KIR_OP_TO_I64, gbeats)));
        end(L);
        KB_STORE(BLD, gk, sel(L, cmp(L, KIR_OP_LT, V(L, grank), I(L, topk_groups)), F(L, 1.0), F(L, 0.0)), t, g);
        end(L);
    }
    /* selection */
    e = V(L, loop(L, "e", I(L, 0), I(L, E)));
    int se = let(L, "se", KIR_F32, route_key(L, tmp, bias, t, e, gk, gsize));
    int rank = let(L, "rank", KIR_I64, I(L, 0));
    KirExpr *e2 = V(L, loop(L, "e2", I(L, 0), I(L, E)));
    int s2v = let(L, "s2", KIR_F32, route_key(L, tmp, bias, t, e2, gk, gsize));
    KirExpr *beats = kb_op2(BLD, KIR_OP_OR, cmp(L, KIR_OP_GT, V(L, s2v), V(L, se)),
                            kb_op2(BLD, KIR_OP_AND, cmp(L, KIR_OP_EQ, V(L, s2v), V(L, se)), cmp(L, KIR_OP_LT, e2, e)));
    set(L, rank, add(L, V(L, rank), un(L, KIR_OP_TO_I64, beats)));
    end(L);
    KB_STORE(BLD, y, sel(L, cmp(L, KIR_OP_LT, V(L, rank), I(L, topk)), F(L, 1.0), F(L, 0.0)), t, e);
    end(L);
    /* weights */
#define KEPT cmp(L, KIR_OP_GT, KB_LOAD(BLD, y, t, e), F(L, 0.0))
    if (topk_sm) {
        int km = let(L, "km", KIR_F32, F(L, -INFINITY));
        e = V(L, loop(L, "e", I(L, 0), I(L, E)));
        set(L, km, mx(L, V(L, km), sel(L, KEPT, KB_LOAD(BLD, tmp, t, e), F(L, -INFINITY))));
        end(L);
        int ks = let(L, "ks", KIR_F32, F(L, 0.0));
        e = V(L, loop(L, "e", I(L, 0), I(L, E)));
        set(L, ks, add(L, V(L, ks), sel(L, KEPT, un(L, KIR_OP_EXP, sub(L, KB_LOAD(BLD, tmp, t, e), V(L, km))), F(L, 0.0))));
        end(L);
        e = V(L, loop(L, "e", I(L, 0), I(L, E)));
        KirExpr *wv = dvd(L, un(L, KIR_OP_EXP, sub(L, KB_LOAD(BLD, tmp, t, e), V(L, km))), V(L, ks));
        KB_STORE(BLD, y, sel(L, KEPT, scale != 1.0 ? mul(L, wv, F(L, scale)) : wv, F(L, 0.0)), t, e);
        end(L);
    } else {
        int ks = -1;
        if (renorm) {
            ks = let(L, "ks", KIR_F32, F(L, sig ? 1e-20 : 0.0));
            e = V(L, loop(L, "e", I(L, 0), I(L, E)));
            set(L, ks, add(L, V(L, ks), sel(L, KEPT, KB_LOAD(BLD, tmp, t, e), F(L, 0.0))));
            end(L);
        }
        e = V(L, loop(L, "e", I(L, 0), I(L, E)));
        KirExpr *wv = KB_LOAD(BLD, tmp, t, e);
        if (renorm) wv = dvd(L, wv, V(L, ks));
        KB_STORE(BLD, y, sel(L, KEPT, scale != 1.0 ? mul(L, wv, F(L, scale)) : wv, F(L, 0.0)), t, e);
        end(L);
    }
#undef KEPT
    end(L);
}

/* acc = row `row` of expert e of w [E, rows, d] dotted with x[t]. */
static int expert_dot(Lower *L, const char *name, int w, KirExpr *e, KirExpr *row, int x, KirExpr *t, int64_t d)
{
    int acc = let(L, name, KIR_F32, F(L, 0.0));
    KirExpr *kk = V(L, loop(L, "k", I(L, 0), I(L, d)));
    set(L, acc, fma3(L, KB_LOAD(BLD, w, e, row, kk), KB_LOAD(BLD, x, t, kk), V(L, acc)));
    end(L);
    return acc;
}

/* y_t = sum over experts e with w[t, e] != 0 of w[t, e] expert_e(x_t); the
 * expert's hidden activations go through a [T, h] temp, one row per token
 * so that tokens can run in parallel. */
static void lower_moe_experts(Lower *L)
{
    int x = opnd(L, "x", "x", "x [T, d]");
    int wts = opnd(L, "weights", "wts", "weights [T, E]: combine weights, mostly zero");
    int up = opnd(L, "up", "up", "up [E, h or 2h, d]");
    int down = opnd(L, "down", "down", "down [E, d, h]");
    int gate = opnd(L, "gate", "gate", "gate [E, h, d]");
    int y = result(L, "y", "y [T, d]");
    int64_t d = B(L, x)->dims[1], E = B(L, wts)->dims[1], hd = B(L, down)->dims[2];
    int64_t dims[2] = {B(L, x)->dims[0], hd};
    int hid = temp(L, "hid", 2, dims, "hid [T, h]: one expert's activations");
    IrAct act = ir_act_info(ir_attr_s(L->in, "act"));
    bool gated = act.gated;

    KirExpr *t = V(L, loop(L, "t", I(L, 0), dim(L, x, 0)));
    KirExpr *i = V(L, loop(L, "i", I(L, 0), I(L, d)));
    KB_STORE(BLD, y, F(L, 0.0), t, i);
    end(L);
    KirExpr *e = V(L, loop(L, "e", I(L, 0), I(L, E)));
    int we = let(L, "we", KIR_F32, KB_LOAD(BLD, wts, t, e));
    kb_if(BLD, cmp(L, KIR_OP_NE, V(L, we), F(L, 0.0)));
    KirExpr *j = V(L, loop(L, "j", I(L, 0), I(L, hd)));
    KirExpr *hv;
    if (gated) {
        int gv = gate >= 0 ? expert_dot(L, "gv", gate, e, j, x, t, d) : expert_dot(L, "gv", up, e, j, x, t, d);
        int uv = gate >= 0 ? expert_dot(L, "uv", up, e, j, x, t, d) : expert_dot(L, "uv", up, e, add(L, I(L, hd), j), x, t, d);
        hv = mul(L, act_expr(L, act, V(L, gv)), V(L, uv));
    } else {
        int uv = expert_dot(L, "uv", up, e, j, x, t, d);
        hv = act_expr(L, act, V(L, uv));
    }
    KB_STORE(BLD, hid, hv, t, j);
    end(L);
    i = V(L, loop(L, "i", I(L, 0), I(L, d)));
    int acc = let(L, "acc", KIR_F32, F(L, 0.0));
    KirExpr *jj = V(L, loop(L, "j", I(L, 0), I(L, hd)));
    set(L, acc, fma3(L, KB_LOAD(BLD, down, e, i, jj), KB_LOAD(BLD, hid, t, jj), V(L, acc)));
    end(L);
    KB_STORE(BLD, y, fma3(L, V(L, we), V(L, acc), KB_LOAD(BLD, y, t, i)), t, i);
    end(L);
    end(L); /* if */
    end(L); /* e */
    end(L); /* t */
}

/* ---- what the lowering implements ------------------------------------------------ */

/* Every attribute of every primitive in ir/ops.def that the kernels above
 * honour, and for enumerated ones the words they implement.  An attribute
 * the op declares but this table lacks (ops.def grew), or a word not
 * listed, is reported as unsupported before any kernel is built: a kernel
 * that ignored it would compute something else, silently.  (`chunk` of
 * ssd_scan is the checkpoint's training chunk size: it does not change the
 * result, and the kernels' chunk length is a schedule choice instead,
 * KirSchedule.chunk.) */
static const struct {
    IrOp op;
    const char *attr;
    const char *words; /* enumerated: the implemented words; NULL: any value */
} HANDLED[] = {
    {IR_OP_RMSNORM, "eps", NULL},
    {IR_OP_RMSNORM, "offset", NULL},
    {IR_OP_RMS_SCALE, "eps", NULL},
    {IR_OP_LAYERNORM, "eps", NULL},
    {IR_OP_GROUP_RMSNORM, "groups", NULL},
    {IR_OP_GROUP_RMSNORM, "eps", NULL},
    {IR_OP_GROUP_RMSNORM, "offset", NULL},
    {IR_OP_GATED_RMSNORM, "groups", NULL},
    {IR_OP_GATED_RMSNORM, "eps", NULL},
    {IR_OP_GATED_RMSNORM, "norm_before_gate", NULL},
    {IR_OP_L2NORM, "eps", NULL},
    {IR_OP_MATMUL, "act", " none silu gelu gelu_tanh relu2 softplus sigmoid "},
    {IR_OP_GELU, "approximate", " none tanh "},
    {IR_OP_SCALE, "factor", NULL},
    {IR_OP_CLAMP, "min", NULL},
    {IR_OP_CLAMP, "max", NULL},
    {IR_OP_SLICE, "offset", NULL},
    {IR_OP_SLICE, "len", NULL},
    {IR_OP_RESHAPE, "dims", NULL},
    {IR_OP_SSD_SCAN, "chunk", NULL},
    {IR_OP_CAUSAL_CONV1D_ACT, "act", " silu gelu gelu_tanh relu2 "},
    {IR_OP_FUSED_SSD_SCAN, "chunk", NULL},
    {IR_OP_FUSED_SSD_SCAN, "dt_min", NULL},
    {IR_OP_FUSED_SSD_SCAN, "dt_max", NULL},
    {IR_OP_ROPE, "dim", NULL},
    {IR_OP_ROPE, "base", NULL},
    {IR_OP_ROPE, "interleaved", NULL},
    {IR_OP_ROPE, "scaling", " none linear llama3 ntk yarn "},
    {IR_OP_ROPE, "scaling_params", NULL},
    {IR_OP_SDPA, "scale", NULL},
    {IR_OP_SDPA, "causal", NULL},
    {IR_OP_SDPA, "window", NULL},
    {IR_OP_GATED_DELTA_RULE, "scale", NULL},
    {IR_OP_ROUTE, "mode", " softmax_topk topk_softmax sigmoid_topk "},
    {IR_OP_ROUTE, "k", NULL},
    {IR_OP_ROUTE, "renormalize", NULL},
    {IR_OP_ROUTE, "scale", NULL},
    {IR_OP_ROUTE, "groups", NULL},
    {IR_OP_ROUTE, "topk_groups", NULL},
    {IR_OP_MOE_EXPERTS, "act", " swiglu geglu relu2 gelu silu gelu_tanh geglu_tanh "},
};

static void check_supported(Lower *L)
{
    const IrOpInfo *oi = ir_op_info(L->in->op);
    for (int a = 0; a < oi->n_attrs; a++) {
        const char *name = oi->attrs[a].name;
        int h = -1;
        for (int i = 0; i < (int)(sizeof HANDLED / sizeof HANDLED[0]) && h < 0; i++)
            if (HANDLED[i].op == L->in->op && strcmp(HANDLED[i].attr, name) == 0) h = i;
        if (h < 0) unsupported(L, "the attribute '%s' of '%s'", name, oi->name);
        const IrAttr *v = HANDLED[h].words ? ir_attr_get(L->in, name) : NULL;
        if (!v) continue;
        const char *w = v->kind == IR_ATTR_STRING ? v->s : "?";
        char key[128];
        snprintf(key, sizeof key, " %s ", w);
        if (!strstr(HANDLED[h].words, key)) unsupported(L, "%s {%s = \"%s\"}", oi->name, name, w);
    }
    /* states: f32, or bf16 / f16 rounded on store (round_to) */
    for (int k = 0; k < L->in->n_operands; k++) {
        IrOperand o = L->in->operands[k];
        if (o.kind != IR_OPND_STATE) continue;
        IrDType dt = L->m->states[o.id].type.dtype;
        if (dt != IR_DT_F32 && dt != IR_DT_BF16 && dt != IR_DT_F16)
            unsupported(L, "%s states ($%s)", ir_dtype_name(dt), L->m->states[o.id].name);
    }
}

/* ---- entry ---------------------------------------------------------------------- */

/* The kernel of an instruction; chunk_override as Lower's. */
static KirKernel *lower_inst(Arena *a, const IrModule *m, const IrFunc *fn, int inst, const CgOptions *opts, int **src,
                             int chunk_override)
{
    const IrInst *in = &fn->insts[inst];
    if (ir_op_info(in->op)->flags & IR_OPF_COMPOSITE)
        HYC_DIE("cg_lower_inst: '%s' is a composite (run lower-composites first)", ir_op_name(in->op));
    Lower L = {0};
    L.a = a;
    L.m = m;
    L.fn = fn;
    L.in = in;
    L.opts = opts;
    L.chunk_override = chunk_override;
    L.k = kir_kernel_new(a, ir_op_name(in->op), ir_op_name(in->op), in->loc);
    kb_init(&L.b, a, L.k);
    check_supported(&L);
    if (in->op == IR_OP_RESHAPE) return NULL; /* an alias in the memory plan */
    switch (in->op) {
    case IR_OP_EMBED: lower_embed(&L); break;
    case IR_OP_MATMUL: lower_matmul(&L); break;
    case IR_OP_RMSNORM: lower_rmsnorm(&L); break;
    case IR_OP_RMS_SCALE: lower_rms_scale(&L); break;
    case IR_OP_LAYERNORM: lower_layernorm(&L); break;
    case IR_OP_GROUP_RMSNORM: lower_group_rmsnorm(&L); break;
    case IR_OP_GATED_RMSNORM: lower_gated_rmsnorm(&L); break;
    case IR_OP_L2NORM: lower_l2norm(&L); break;
    case IR_OP_SILU:
    case IR_OP_GELU:
    case IR_OP_RELU2:
    case IR_OP_SOFTPLUS:
    case IR_OP_SIGMOID:
    case IR_OP_EXP:
    case IR_OP_NEG:
    case IR_OP_SCALE:
    case IR_OP_CLAMP: lower_unary(&L); break;
    case IR_OP_ADD:
    case IR_OP_SUB:
    case IR_OP_MUL: lower_binary(&L); break;
    case IR_OP_SOFTMAX: lower_softmax(&L); break;
    case IR_OP_SLICE: lower_slice(&L); break;
    case IR_OP_CONCAT: lower_concat(&L); break;
    case IR_OP_LAST_ROW: lower_last_row(&L); break;
    case IR_OP_CAUSAL_CONV1D:
    case IR_OP_CAUSAL_CONV1D_ACT: lower_causal_conv1d(&L); break;
    case IR_OP_FUSED_SELECTIVE_SCAN: lower_fused_selective_scan(&L); break;
    case IR_OP_FUSED_SSD_SCAN: lower_ssd(&L, true); break;
    case IR_OP_SELECTIVE_SCAN: lower_selective_scan(&L); break;
    case IR_OP_SSD_SCAN: lower_ssd(&L, false); break;
    case IR_OP_ROPE: lower_rope(&L); break;
    case IR_OP_KV_STORE: lower_kv_store(&L); break;
    case IR_OP_SDPA: lower_sdpa(&L); break;
    case IR_OP_GATED_DELTA_RULE: lower_gated_delta_rule(&L); break;
    case IR_OP_ROUTE: lower_route(&L); break;
    case IR_OP_MOE_EXPERTS: lower_moe_experts(&L); break;
    default: HYC_DIE("cg_lower_inst: no kernel for op '%s'", ir_op_name(in->op));
    }
    HYC_ASSERT(L.b.depth == 0);
    L.k->sched = kir_schedule_none(a, L.k->n_loops);
    L.k->chunk = L.k->sched.chunk = L.chunk;
    if (L.rechunk) {
        CgRelower *r = ARENA_NEW(a, CgRelower);
        *r = (CgRelower){.m = m, .fn = fn, .inst = inst};
        if (opts) r->opts = *opts;
        L.k->relower = r;
    }
    *src = L.src;
    return L.k;
}

KirKernel *cg_lower_inst(Arena *a, const IrModule *m, const IrFunc *fn, int inst, const CgOptions *opts, int **src)
{
    return lower_inst(a, m, fn, inst, opts, src, -1);
}

/* Is buffer x the same as y (role, type, shape)? */
static bool same_buf(const KirBuf *x, const KirBuf *y)
{
    if (x->role != y->role || x->type != y->type || x->rank != y->rank || strcmp(x->name, y->name) != 0) return false;
    for (int d = 0; d < x->rank; d++)
        if (x->dims[d] != y->dims[d]) return false;
    return true;
}

KirKernel *kir_kernel_rechunk(Arena *a, const KirKernel *k, int chunk)
{
    if (chunk == k->chunk) return (KirKernel *)k;
    if (!k->relower || chunk < 0 || chunk > CG_SSD_CHUNK_MAX) return NULL;
    const CgRelower *r = k->relower;
    int *src;
    KirKernel *n = lower_inst(a, r->m, r->fn, r->inst, &r->opts, &src, chunk);
    /* the forms share every buffer, temps included: a call's memory plan
     * holds for each */
    HYC_ASSERT(n && n->chunk == chunk && n->n_bufs == k->n_bufs);
    for (int i = 0; i < k->n_bufs; i++) HYC_ASSERT(same_buf(&n->bufs[i], &k->bufs[i]));
    n->name = k->name;
    n->loc = k->loc;
    return n;
}
