/* weights.c — weight values for a module's params: seeded random ones of
 * sensible scale, so that any model runs without a weights file. */
#include "interp.h"
#include "../ir/ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: small, good enough, and stable across platforms. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static double rng_uniform(uint64_t *s)
{
    return ((double)(rng_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double rng_normal(uint64_t *s)
{
    double u = rng_uniform(s), v = rng_uniform(s);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static uint64_t seed_for(uint64_t seed, const char *name)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    for (const char *p = name; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

static int64_t type_numel(const IrType *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        HYC_ASSERT(t->dims[i] > 0); /* params have constant shapes */
        n *= t->dims[i];
    }
    return n;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The role of a param: the last component of its canonical name. */
static const char *param_role(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot ? dot + 1 : name;
}

static void fill_param(float *x, int64_t n, const IrType *t, const char *name, uint64_t *rng)
{
    const char *role = param_role(name);
    int64_t last = t->dims[t->rank - 1];
    if (strcmp(role, "A_log") == 0) {
        /* Mamba-1: A_log[e, n] = log(n + 1); Mamba-2 / delta: log U(1, 16). */
        for (int64_t i = 0; i < n; i++)
            x[i] = t->rank == 2 ? (float)log((double)(i % last) + 1.0)
                                : (float)log(1.0 + 15.0 * rng_uniform(rng));
    } else if (strcmp(role, "dt_bias") == 0) {
        /* softplus⁻¹(dt) with dt log-uniform in [1e-3, 1e-1], as Mamba does. */
        for (int64_t i = 0; i < n; i++) {
            double dt = exp(log(1e-3) + rng_uniform(rng) * (log(1e-1) - log(1e-3)));
            x[i] = (float)(dt + log(-expm1(-dt)));
        }
    } else if (strcmp(role, "D") == 0 || strcmp(role, "branch_scale") == 0) {
        for (int64_t i = 0; i < n; i++) x[i] = 1.0f;
    } else if (ends_with(role, "norm")) {
        for (int64_t i = 0; i < n; i++) x[i] = (float)(1.0 + 0.1 * rng_normal(rng));
    } else if (strcmp(role, "conv_w") == 0) {
        double bound = 1.0 / sqrt((double)last);
        for (int64_t i = 0; i < n; i++) x[i] = (float)(bound * (2.0 * rng_uniform(rng) - 1.0));
    } else if (t->rank == 1) {
        /* biases and other vectors */
        for (int64_t i = 0; i < n; i++) x[i] = (float)(0.02 * rng_normal(rng));
    } else {
        /* matrices (and stacked experts): variance 1/fan_in, fan_in = last
         * dim.  Uniform rather than normal: a bench-size model has ~10^8
         * weights, and this keeps --random-weights well under a second. */
        double bound = sqrt(3.0 / (double)last);
        for (int64_t i = 0; i < n; i++) x[i] = (float)(bound * (2.0 * rng_uniform(rng) - 1.0));
    }
}

/* ---- derived params -------------------------------------------------------------- */

/* y = op(x) elementwise, as interp.c's op_unary computes it. */
static void eval_unary(IrOp op, float *y, const float *x, int n)
{
    switch (op) {
    case IR_OP_SILU: ik_silu(y, x, n); return;
    case IR_OP_RELU2: ik_relu2(y, x, n); return;
    case IR_OP_SOFTPLUS: ik_softplus(y, x, n); return;
    case IR_OP_SIGMOID: ik_sigmoid(y, x, n); return;
    case IR_OP_EXP: ik_exp(y, x, n); return;
    case IR_OP_NEG:
        for (int i = 0; i < n; i++) y[i] = -x[i];
        return;
    default: HYC_UNREACHABLE();
    }
}

/* y = a op b elementwise (same shapes), as interp.c's op_binary. */
static void eval_binary(IrOp op, float *y, const float *a, const float *b, int n)
{
    switch (op) {
    case IR_OP_ADD: ik_add(y, a, b, n); return;
    case IR_OP_SUB: ik_sub(y, a, b, n); return;
    case IR_OP_MUL: ik_mul(y, a, b, n); return;
    default: HYC_UNREACHABLE();
    }
}

/* op(args) into out: the operands are computed first (the second in a
 * scratch buffer), then the op's kernel runs in place. */
static bool eval_op(const IrPExpr *e, float *out, WeightsLeafFn leaf, void *ctx)
{
    int64_t n = type_numel(&e->type);
    HYC_ASSERT(n <= INT32_MAX && (e->n_args == 1 || e->n_args == 2));
    if (!weights_eval_derived(e->args[0], out, leaf, ctx)) return false;
    if (e->n_args == 1) {
        eval_unary((IrOp)e->op, out, out, (int)n);
        return true;
    }
    float *b = xmalloc(sizeof(float) * (size_t)(n ? n : 1));
    bool ok = weights_eval_derived(e->args[1], b, leaf, ctx);
    if (ok) eval_binary((IrOp)e->op, out, out, b, (int)n);
    free(b);
    return ok;
}

/* scale_cols(w, g, offset): w [n, k] with column j times (offset + g[j]),
 * the product rounded once, as the rmsnorm kernel multiplies by its weight. */
static bool eval_scale_cols(const IrPExpr *e, float *out, WeightsLeafFn leaf, void *ctx)
{
    HYC_ASSERT(e->n_args == 2 && e->type.rank == 2);
    int64_t n = e->type.dims[0], k = e->type.dims[1];
    HYC_ASSERT(type_numel(&e->args[1]->type) == k);
    if (!weights_eval_derived(e->args[0], out, leaf, ctx)) return false;
    float *g = xmalloc(sizeof(float) * (size_t)k);
    bool ok = weights_eval_derived(e->args[1], g, leaf, ctx);
    for (int64_t r = 0; ok && r < n; r++)
        for (int64_t j = 0; j < k; j++) out[r * k + j] = (float)((double)out[r * k + j] * (e->factor + g[j]));
    free(g);
    return ok;
}

bool weights_eval_derived(const IrPExpr *e, float *out, WeightsLeafFn leaf, void *ctx)
{
    int64_t n = type_numel(&e->type);
    switch (e->kind) {
    case IR_PEXPR_PARAM: return leaf(ctx, e->name, &e->type, out);
    case IR_PEXPR_ZEROS: memset(out, 0, sizeof(float) * (size_t)n); return true;
    case IR_PEXPR_SCALE:
        HYC_ASSERT(e->n_args == 1 && type_numel(&e->args[0]->type) == n);
        if (!weights_eval_derived(e->args[0], out, leaf, ctx)) return false;
        /* the product rounded once, as the f64 `scale` of the kernels */
        for (int64_t i = 0; i < n; i++) out[i] = (float)((double)out[i] * e->factor);
        return true;
    case IR_PEXPR_OP: return eval_op(e, out, leaf, ctx);
    case IR_PEXPR_SCALE_COLS: return eval_scale_cols(e, out, leaf, ctx);
    case IR_PEXPR_CONCAT: {
        /* along dim 0: the parts are consecutive row-major blocks */
        int64_t at = 0;
        for (int k = 0; k < e->n_args; k++) {
            if (!weights_eval_derived(e->args[k], out + at, leaf, ctx)) return false;
            at += type_numel(&e->args[k]->type);
        }
        HYC_ASSERT(at == n);
        return true;
    }
    }
    HYC_UNREACHABLE();
}

typedef struct RandomLeaf {
    uint64_t seed;
} RandomLeaf;

/* A leaf gets the values a base param of its name and type would get. */
static bool random_leaf(void *ctx, const char *name, const IrType *t, float *out)
{
    uint64_t rng = seed_for(((const RandomLeaf *)ctx)->seed, name);
    fill_param(out, type_numel(t), t, name, &rng);
    return true;
}

void weights_random(Weights *w, const IrModule *m, uint64_t seed)
{
    w->mod = m;
    w->n = m->n_params;
    w->data = xcalloc((size_t)(m->n_params ? m->n_params : 1), sizeof *w->data);
    RandomLeaf ctx = {seed};
    for (int i = 0; i < m->n_params; i++) {
        const IrParamDecl *p = &m->params[i];
        int64_t n = type_numel(&p->type);
        w->data[i] = xmalloc(sizeof(float) * (size_t)n);
        if (p->derive) /* computed from the base values, never drawn */
            HYC_ASSERT(weights_eval_derived(p->derive, w->data[i], random_leaf, &ctx));
        else
            random_leaf(&ctx, p->name, &p->type, w->data[i]);
    }
}

void weights_free(Weights *w)
{
    for (int i = 0; i < w->n; i++) free(w->data[i]);
    free(w->data);
    w->data = NULL;
    w->n = 0;
}
