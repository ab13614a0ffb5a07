/* shape.c — one shape rule per op (ggml style: each op checks its shapes
 * where it is built).  A rule computes the result type from the operand
 * types and attributes, or writes why they do not fit into c->err.
 *
 * Rules run after the verifier has checked operand classes (value, param,
 * state kind), presence of required operands and attribute kinds; they
 * check everything about dims.  Dim symbols compare as themselves: T only
 * equals T. */
#include "ir.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

/* ---- helpers --------------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static bool fail(IrShapeCtx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->err_len, fmt, ap);
    va_end(ap);
    return false;
}

const IrType *ir_operand_type(const IrModule *m, const IrFunc *fn, IrOperand o)
{
    switch (o.kind) {
    case IR_OPND_NONE: return NULL;
    case IR_OPND_VALUE:
        HYC_ASSERT(fn && o.id >= 0 && o.id < fn->n_values);
        return &fn->values[o.id].type;
    case IR_OPND_PARAM:
        HYC_ASSERT(o.id >= 0 && o.id < m->n_params);
        return &m->params[o.id].type;
    case IR_OPND_STATE:
        HYC_ASSERT(o.id >= 0 && o.id < m->n_states);
        return &m->states[o.id].type;
    }
    HYC_UNREACHABLE();
}

static IrOperand slot(const IrShapeCtx *c, const char *name) { return ir_inst_operand(c->in, name); }

/* Type of the operand in slot `name`, NULL when absent. */
static const IrType *ty(const IrShapeCtx *c, const char *name)
{
    return ir_operand_type(c->m, c->fn, slot(c, name));
}

static bool has(const IrShapeCtx *c, const char *name) { return ty(c, name) != NULL; }

static const char *dim_str(Arena *a, int64_t d)
{
    if (d == IR_DIM_T) return "T";
    if (d == IR_DIM_MAX_SEQ) return "max_seq";
    return arena_printf(a, "%lld", (long long)d);
}

/* "'wk' (@l.k: bf16[32, 64])" — how messages name an operand. */
static const char *desc(const IrShapeCtx *c, const char *name)
{
    Arena *a = c->m->arena;
    IrOperand o = slot(c, name);
    const IrType *t = ir_operand_type(c->m, c->fn, o);
    const char *label = "";
    if (o.kind == IR_OPND_VALUE) label = ir_value_label(a, c->fn, o.id);
    else if (o.kind == IR_OPND_PARAM) label = arena_printf(a, "@%s", c->m->params[o.id].name);
    else if (o.kind == IR_OPND_STATE) label = arena_printf(a, "$%s", c->m->states[o.id].name);
    return arena_printf(a, "'%s' (%s: %s)", name, label, t ? ir_type_str(a, t) : "absent");
}

static int64_t last(const IrType *t) { return t->dims[t->rank - 1]; }

/* Dim arithmetic saturates.  Each dim is at most 2^40, but a product of
 * two (heads × head_dim from different operands) can overflow; a saturated
 * result is larger than any real dim, so the comparison that follows fails
 * with a message instead of overflowing. */
#define DIM_HUGE (INT64_MAX / 4)
static int64_t dmul(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r) || r > DIM_HUGE || r < -DIM_HUGE) return DIM_HUGE;
    return r;
}

static int64_t dadd(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r) || r > DIM_HUGE || r < -DIM_HUGE) return DIM_HUGE;
    return r;
}

/* Operand `name` must have exactly `dims` (dtype is not checked here). */
static bool need_dims(IrShapeCtx *c, const char *name, const int64_t *dims, int rank)
{
    const IrType *t = ty(c, name);
    HYC_ASSERT(t);
    bool ok = t->rank == rank;
    for (int i = 0; ok && i < rank; i++) ok = t->dims[i] == dims[i];
    if (ok) return true;
    StrBuf sb = {0};
    sb_putc(&sb, '[');
    for (int i = 0; i < rank; i++) {
        if (i) sb_puts(&sb, ", ");
        sb_puts(&sb, dim_str(c->m->arena, dims[i]));
    }
    sb_putc(&sb, ']');
    fail(c, "%s must have shape %s", desc(c, name), sb_cstr(&sb));
    sb_free(&sb);
    return false;
}
#define NEED(c, name, ...) \
    need_dims((c), (name), (int64_t[]){__VA_ARGS__}, IR_COUNT_OF(int64_t, __VA_ARGS__))
/* The same for an optional operand: fine when absent. */
#define NEED_OPT(c, name, ...) (!has((c), (name)) || NEED((c), (name), __VA_ARGS__))

static bool need_rank(IrShapeCtx *c, const char *name, int rank)
{
    const IrType *t = ty(c, name);
    if (t->rank == rank) return true;
    return fail(c, "%s must have rank %d", desc(c, name), rank);
}

/* Activations keep their dtype; a param-only computation yields f32. */
static IrDType act_dtype(const IrShapeCtx *c, const char *name)
{
    IrOperand o = slot(c, name);
    return o.kind == IR_OPND_VALUE ? ir_operand_type(c->m, c->fn, o)->dtype : IR_DT_F32;
}

static bool positive(IrShapeCtx *c, const char *attr)
{
    int64_t v = ir_attr_i(c->in, attr);
    if (v >= 1 && v <= IR_DIM_LIMIT) return true;
    return fail(c, "attribute '%s' must be positive, got %lld", attr, (long long)v);
}

static bool divides(IrShapeCtx *c, int64_t a, int64_t b, const char *what)
{
    if (a > 0 && b > 0 && b % a == 0) return true;
    return fail(c, "%s: %lld does not divide %lld", what, (long long)a, (long long)b);
}

static bool is_gated(const char *act) { return ir_act_info(act).gated; }

/* [T, d] activations: rank 2 with a constant feature dim. */
static bool need_rows(IrShapeCtx *c, const char *name)
{
    if (!need_rank(c, name, 2)) return false;
    if (ty(c, name)->dims[1] < 1) return fail(c, "%s: feature dim must be a constant", desc(c, name));
    return true;
}

/* Depthwise conv weight: [C, K] or PyTorch's [C, 1, K]; K >= 2. */
static bool conv_kernel(IrShapeCtx *c, const char *name, int64_t channels, int64_t *k)
{
    const IrType *w = ty(c, name);
    bool ok = (w->rank == 2 || (w->rank == 3 && w->dims[1] == 1)) && w->dims[0] == channels;
    if (!ok)
        return fail(c, "%s must be [%lld, K] or [%lld, 1, K]", desc(c, name), (long long)channels,
                    (long long)channels);
    *k = last(w);
    if (*k < 2) return fail(c, "%s: kernel width must be at least 2", desc(c, name));
    return true;
}

/* KV cache rows: the full max_seq, or a constant ring of at least `window`
 * rows (or at least max_seq rows). */
static bool cache_rows_ok(IrShapeCtx *c, int64_t rows, int64_t window)
{
    if (rows == IR_DIM_MAX_SEQ || rows >= c->m->max_seq) return true;
    if (window > 0 && rows >= window) return true;
    return fail(c, "%s holds %lld rows: fewer than max_seq (%lld)%s", desc(c, "cache"),
                (long long)rows, (long long)c->m->max_seq,
                window > 0 ? " and fewer than the window" : " and there is no window");
}

/* Both or neither of a LoRA pair; a [r, d_in], b [rows, r]. */
static bool lora_pair(IrShapeCtx *c, const char *a, const char *b, int64_t d_in, int64_t rows)
{
    if (has(c, a) != has(c, b))
        return fail(c, "operands '%s' and '%s' come together", a, b);
    if (!has(c, a)) return true;
    const IrType *ta = ty(c, a);
    if (ta->rank != 2) return fail(c, "%s must have rank 2", desc(c, a));
    int64_t r = ta->dims[0];
    return NEED(c, a, r, d_in) && NEED(c, b, rows, r);
}

/* ---- primitives ------------------------------------------------------------ */

bool ir_shape_embed(IrShapeCtx *c, IrType *out)
{
    const IrType *tok = ty(c, "tokens"), *tab = ty(c, "table");
    if (!need_rank(c, "tokens", 1) || !need_rank(c, "table", 2)) return false;
    *out = IR_TYPE(IR_DT_F32, tok->dims[0], tab->dims[1]);
    return true;
}

bool ir_shape_matmul(IrShapeCtx *c, IrType *out)
{
    const IrType *x = ty(c, "x"), *w = ty(c, "w");
    if (!need_rank(c, "w", 2)) return false;
    if (last(x) != w->dims[1])
        return fail(c, "inner dimensions differ: %s, %s", desc(c, "x"), desc(c, "w"));
    if (!NEED_OPT(c, "bias", w->dims[0])) return false;
    *out = *x;
    out->dims[x->rank - 1] = w->dims[0];
    /* the fused residual (fuse-epilogue) is added to the result elementwise */
    if (ir_inst_operand(c->in, "res").kind != IR_OPND_NONE && !ir_type_eq(ty(c, "res"), out))
        return fail(c, "the residual %s does not have the result's shape", desc(c, "res"));
    /* the row scale (fuse-prologue): one factor per row of the result */
    if (has(c, "row_scale")) {
        IrType want = *out;
        want.dims[want.rank - 1] = 1;
        if (!ir_type_eq(ty(c, "row_scale"), &want))
            return fail(c, "%s must hold one value per row of the result: %s", desc(c, "row_scale"),
                        ir_type_str(c->m->arena, &want));
    }
    return true;
}

/* rms_scale: x's shape with a last dim of 1, one factor per row. */
bool ir_shape_rms_scale(IrShapeCtx *c, IrType *out)
{
    *out = *ty(c, "x");
    out->dtype = IR_DT_F32;
    out->dims[out->rank - 1] = 1;
    return true;
}

/* rmsnorm, layernorm: weight and bias over the last dim. */
bool ir_shape_norm(IrShapeCtx *c, IrType *out)
{
    const IrType *x = ty(c, "x");
    if (!NEED_OPT(c, "w", last(x))) return false;
    if (c->in->op == IR_OP_LAYERNORM && !NEED_OPT(c, "b", last(x))) return false;
    *out = *x;
    return true;
}

bool ir_shape_group_norm(IrShapeCtx *c, IrType *out)
{
    const IrType *x = ty(c, "x");
    if (!positive(c, "groups") || !divides(c, ir_attr_i(c->in, "groups"), last(x), "groups"))
        return false;
    if (!NEED_OPT(c, "w", last(x))) return false;
    *out = *x;
    return true;
}

bool ir_shape_gated_norm(IrShapeCtx *c, IrType *out)
{
    const IrType *x = ty(c, "x"), *z = ty(c, "z");
    if (!ir_type_eq(x, z)) return fail(c, "%s and %s differ", desc(c, "x"), desc(c, "z"));
    if (!positive(c, "groups") || !divides(c, ir_attr_i(c->in, "groups"), last(x), "groups"))
        return false;
    if (!NEED_OPT(c, "w", last(x))) return false;
    *out = *x;
    return true;
}

/* Elementwise unary ops, softmax, l2norm, scale: same shape.  On a param
 * the result is an f32 value of the param's shape. */
bool ir_shape_unary(IrShapeCtx *c, IrType *out)
{
    *out = *ty(c, "x");
    out->dtype = act_dtype(c, "x");
    return true;
}

bool ir_shape_clamp(IrShapeCtx *c, IrType *out)
{
    double lo = ir_attr_f(c->in, "min"), hi = ir_attr_f(c->in, "max");
    if (isnan(lo) || isnan(hi) || lo > hi) return fail(c, "clamp range [%g, %g] is empty", lo, hi);
    return ir_shape_unary(c, out);
}

/* add, sub, mul: b broadcasts to a (dims aligned from the right, each
 * equal or 1); the result has a's shape. */
bool ir_shape_binary(IrShapeCtx *c, IrType *out)
{
    const IrType *a = ty(c, "a"), *b = ty(c, "b");
    bool ok = b->rank <= a->rank;
    for (int i = 1; ok && i <= b->rank; i++) {
        int64_t da = a->dims[a->rank - i], db = b->dims[b->rank - i];
        ok = da == db || db == 1;
    }
    if (!ok) return fail(c, "%s does not broadcast to %s", desc(c, "b"), desc(c, "a"));
    *out = *a;
    out->dtype = act_dtype(c, "a");
    return true;
}

bool ir_shape_slice(IrShapeCtx *c, IrType *out)
{
    const IrType *x = ty(c, "x");
    int64_t off = ir_attr_i(c->in, "offset"), len = ir_attr_i(c->in, "len");
    if (off < 0 || len < 1 || last(x) < 1 || off > last(x) || len > last(x) - off)
        return fail(c, "slice [%lld, %lld + %lld) is outside the last dim of %s", (long long)off,
                    (long long)off, (long long)len, desc(c, "x"));
    *out = *x;
    out->dims[x->rank - 1] = len;
    return true;
}

/* [R, ...] -> [1, ...]: the last row, that of the last token for a [T, ...]
 * activation (passes/last_logits.c). */
bool ir_shape_last_row(IrShapeCtx *c, IrType *out)
{
    const IrType *x = ty(c, "x");
    if (x->rank < 2)
        return fail(c, "last_row takes a value of rank 2 or more (rows, then features), not %s", desc(c, "x"));
    *out = *x;
    out->dims[0] = 1;
    out->dtype = act_dtype(c, "x");
    return true;
}

bool ir_shape_concat(IrShapeCtx *c, IrType *out)
{
    const IrInst *in = c->in;
    const IrType *x0 = ir_operand_type(c->m, c->fn, in->operands[0]);
    int64_t sum = 0;
    for (int i = 0; i < in->n_operands; i++) {
        const IrType *x = ir_operand_type(c->m, c->fn, in->operands[i]);
        bool ok = x->rank == x0->rank && x->dtype == x0->dtype && last(x) >= 1;
        for (int d = 0; ok && d < x->rank - 1; d++) ok = x->dims[d] == x0->dims[d];
        if (!ok)
            return fail(c, "operand %d (%s) does not match operand 1 (%s) outside the last dim",
                        i + 1, ir_type_str(c->m->arena, x), ir_type_str(c->m->arena, x0));
        sum += last(x);
        if (sum > IR_DIM_LIMIT) return fail(c, "concatenation is too wide");
    }
    *out = *x0;
    out->dims[x0->rank - 1] = sum;
    return true;
}

/* Keep dim 0, make the rest `dims`; the element count per row is kept. */
bool ir_shape_reshape(IrShapeCtx *c, IrType *out)
{
    const IrType *x = ty(c, "x");
    const IrAttr *dims = ir_attr_get(c->in, "dims");
    if (dims->len < 1 || dims->len > IR_MAX_RANK - 1)
        return fail(c, "'dims' must have 1 to %d entries", IR_MAX_RANK - 1);
    int64_t have = 1, want = 1;
    for (int i = 1; i < x->rank; i++) {
        if (x->dims[i] < 1) return fail(c, "%s: only dim 0 may be symbolic", desc(c, "x"));
        have = dmul(have, x->dims[i]);
    }
    for (int i = 0; i < dims->len; i++) {
        if (dims->ints[i] < 1 || dims->ints[i] > IR_DIM_LIMIT)
            return fail(c, "'dims' entries must be positive");
        if (__builtin_mul_overflow(want, dims->ints[i], &want) || want > IR_DIM_LIMIT)
            return fail(c, "'dims' is too large");
    }
    if (have != want)
        return fail(c, "reshape of %s to %lld elements per row: it has %lld", desc(c, "x"),
                    (long long)want, (long long)have);
    *out = *x;
    out->rank = 1 + dims->len;
    for (int i = 0; i < dims->len; i++) out->dims[1 + i] = dims->ints[i];
    return true;
}

bool ir_shape_conv1d(IrShapeCtx *c, IrType *out)
{
    int64_t k;
    if (!need_rows(c, "x")) return false;
    int64_t ch = ty(c, "x")->dims[1];
    if (!conv_kernel(c, "w", ch, &k) || !NEED(c, "state", ch, k - 1) || !NEED_OPT(c, "bias", ch))
        return false;
    *out = *ty(c, "x");
    return true;
}

/* Mamba-1: x, dt, z [T, E]; A [E, N]; B, C [T, N]; D [E]; state [E, N]. */
bool ir_shape_selective_scan(IrShapeCtx *c, IrType *out)
{
    if (!need_rows(c, "x") || !need_rank(c, "A", 2)) return false;
    const IrType *x = ty(c, "x"), *a = ty(c, "A");
    int64_t t = x->dims[0], e = x->dims[1], n = a->dims[1];
    if (!NEED(c, "dt", t, e) || !NEED(c, "A", e, n) || !NEED(c, "B", t, n) || !NEED(c, "C", t, n) ||
        !NEED(c, "state", e, n) || !NEED_OPT(c, "D", e) || !NEED_OPT(c, "z", t, e))
        return false;
    *out = *x;
    return true;
}

/* Mamba-2: x [T, H, P]; dt [T, H]; A, D [H]; B, C [T, G, N]; state [H, P, N]. */
bool ir_shape_ssd_scan(IrShapeCtx *c, IrType *out)
{
    if (!need_rank(c, "x", 3) || !need_rank(c, "B", 3) || !positive(c, "chunk")) return false;
    const IrType *x = ty(c, "x"), *b = ty(c, "B");
    int64_t t = x->dims[0], h = x->dims[1], p = x->dims[2], g = b->dims[1], n = b->dims[2];
    if (!NEED(c, "dt", t, h) || !NEED(c, "A", h) || !NEED(c, "B", t, g, n) ||
        !NEED(c, "C", t, g, n) || !NEED(c, "state", h, p, n) || !NEED_OPT(c, "D", h))
        return false;
    if (!divides(c, g, h, "groups of B/C must divide the heads of x")) return false;
    *out = *x;
    return true;
}

/* fused_selective_scan: x, z [T, E]; dt [T, R] (before dt_proj); dt_w [E, R];
 * dt_b, D [E]; A, state [E, N]; B, C [T, N]. */
bool ir_shape_fused_selective_scan(IrShapeCtx *c, IrType *out)
{
    if (!need_rows(c, "x") || !need_rows(c, "dt") || !need_rank(c, "A", 2)) return false;
    const IrType *x = ty(c, "x"), *a = ty(c, "A");
    int64_t t = x->dims[0], e = x->dims[1], n = a->dims[1], r = ty(c, "dt")->dims[1];
    if (!NEED(c, "dt", t, r) || !NEED(c, "dt_w", e, r) || !NEED_OPT(c, "dt_b", e) || !NEED(c, "A", e, n) ||
        !NEED(c, "B", t, n) || !NEED(c, "C", t, n) || !NEED(c, "state", e, n) || !NEED_OPT(c, "D", e) ||
        !NEED_OPT(c, "z", t, e))
        return false;
    *out = *x;
    return true;
}

/* fused_ssd_scan: ssd_scan's shapes, dt [T, H] before the bias, dt_bias [H];
 * dt_min <= dt_max. */
bool ir_shape_fused_ssd_scan(IrShapeCtx *c, IrType *out)
{
    double lo = ir_attr_f(c->in, "dt_min"), hi = ir_attr_f(c->in, "dt_max");
    if (isnan(lo) || isnan(hi) || lo > hi) return fail(c, "dt range [%g, %g] is empty", lo, hi);
    if (!need_rank(c, "x", 3) || !NEED(c, "dt_bias", ty(c, "x")->dims[1])) return false;
    return ir_shape_ssd_scan(c, out);
}

static bool rope_attrs(IrShapeCtx *c, int64_t head_dim, const char *dim_attr,
                       const char *base_attr, const char *scaling_attr, const char *params_attr)
{
    int64_t dim = ir_attr_i(c->in, dim_attr);
    if (dim < 0 || dim > head_dim || dim % 2)
        return fail(c, "'%s' must be even and at most the head dim %lld, got %lld", dim_attr,
                    (long long)head_dim, (long long)dim);
    double base = ir_attr_f(c->in, base_attr);
    if (!(base > 1.0) || isinf(base)) return fail(c, "'%s' must be a finite number > 1", base_attr);
    const char *scaling = ir_attr_s(c->in, scaling_attr);
    const IrAttr *ps = ir_attr_get(c->in, params_attr);
    int n = ps ? ps->len : 0;
    /* linear [factor]; llama3 [factor, low, high, original_max]; ntk [alpha];
     * yarn [factor, original_max, beta_fast, beta_slow, attention_factor] */
    bool linear = strcmp(scaling, "linear") == 0, llama3 = strcmp(scaling, "llama3") == 0;
    bool ntk = strcmp(scaling, "ntk") == 0, yarn = strcmp(scaling, "yarn") == 0;
    int want = linear || ntk ? 1 : llama3 ? 4 : yarn ? 5 : 0;
    if (n != want)
        return fail(c, "'%s' = \"%s\" takes %d values in '%s', got %d", scaling_attr, scaling, want,
                    params_attr, n);
    for (int i = 0; i < n; i++)
        if (!(ps->floats[i] > 0) || isinf(ps->floats[i]))
            return fail(c, "'%s' values must be finite and positive", params_attr);
    if (llama3 && !(ps->floats[2] > ps->floats[1]))
        return fail(c, "llama3 scaling needs high_freq_factor > low_freq_factor in '%s'", params_attr);
    if (ntk && dim <= 2) return fail(c, "ntk scaling needs '%s' > 2, got %lld", dim_attr, (long long)dim);
    return true;
}

bool ir_shape_rope(IrShapeCtx *c, IrType *out)
{
    if (!need_rank(c, "x", 3)) return false;
    const IrType *x = ty(c, "x");
    if (ir_attr_i(c->in, "dim") == 0) return fail(c, "'dim' must be at least 2");
    if (!rope_attrs(c, x->dims[2], "dim", "base", "scaling", "scaling_params")) return false;
    *out = *x;
    return true;
}

/* k [T, Hkv, dk], v [T, Hkv, dv], cache [Hkv, S, dk + dv]. */
static bool kv_shapes(IrShapeCtx *c, bool check_rows, int64_t window)
{
    if (!need_rank(c, "k", 3) || !need_rank(c, "v", 3) || !need_rank(c, "cache", 3)) return false;
    const IrType *k = ty(c, "k"), *v = ty(c, "v"), *cache = ty(c, "cache");
    int64_t t = k->dims[0], hkv = k->dims[1], dk = k->dims[2], dv = v->dims[2];
    if (!NEED(c, "v", t, hkv, dv) || !NEED(c, "cache", hkv, cache->dims[1], dadd(dk, dv))) return false;
    return !check_rows || cache_rows_ok(c, cache->dims[1], window);
}

bool ir_shape_kv_store(IrShapeCtx *c, IrType *out)
{
    (void)out;
    /* A ring buffer needs a window, which only the sdpa knows: it checks. */
    return kv_shapes(c, false, 0);
}

bool ir_shape_sdpa(IrShapeCtx *c, IrType *out)
{
    int64_t window = ir_attr_i(c->in, "window");
    if (window < 0) return fail(c, "'window' must not be negative");
    if (!need_rank(c, "q", 3) || !kv_shapes(c, true, window)) return false;
    const IrType *q = ty(c, "q"), *k = ty(c, "k"), *v = ty(c, "v");
    if (!NEED(c, "q", k->dims[0], q->dims[1], k->dims[2])) return false;
    if (!divides(c, k->dims[1], q->dims[1], "kv heads must divide query heads")) return false;
    *out = IR_TYPE(q->dtype, q->dims[0], q->dims[1], v->dims[2]);
    return true;
}

/* q, k [T, Hk, dk]; v [T, Hv, dv]; g, beta [T, Hv]; state [Hv, dk, dv]. */
bool ir_shape_gated_delta_rule(IrShapeCtx *c, IrType *out)
{
    if (!need_rank(c, "q", 3) || !need_rank(c, "v", 3)) return false;
    const IrType *q = ty(c, "q"), *v = ty(c, "v");
    int64_t t = q->dims[0], hk = q->dims[1], dk = q->dims[2], hv = v->dims[1], dv = v->dims[2];
    if (!NEED(c, "k", t, hk, dk) || !NEED(c, "v", t, hv, dv) || !NEED(c, "g", t, hv) ||
        !NEED(c, "beta", t, hv) || !NEED(c, "state", hv, dk, dv))
        return false;
    if (!divides(c, hk, hv, "key heads must divide value heads")) return false;
    *out = *v;
    return true;
}

/* Group-limited routing (DeepSeek-V3): `groups` equal groups of at least 2
 * experts (a group scores its top 2), `topk_groups` of them kept, enough
 * experts in those for k; sigmoid routing only. */
static bool route_groups_ok(IrShapeCtx *c, int64_t e, int64_t k, const char *mode_attr, const char *groups_attr,
                            const char *topk_attr)
{
    int64_t g = ir_attr_i(c->in, groups_attr), tg = ir_attr_i(c->in, topk_attr);
    if (g < 1 || g > e || e % g) return fail(c, "'%s' must divide the %lld experts, got %lld", groups_attr, (long long)e, (long long)g);
    if (tg < 1 || tg > g) return fail(c, "'%s' must be in 1..%lld ('%s'), got %lld", topk_attr, (long long)g, groups_attr, (long long)tg);
    if (g == 1) return true;
    if (strcmp(ir_attr_s(c->in, mode_attr), "sigmoid_topk") != 0)
        return fail(c, "'%s' > 1 needs '%s' = \"sigmoid_topk\"", groups_attr, mode_attr);
    if (e / g < 2) return fail(c, "each of the %lld groups must hold at least 2 experts", (long long)g);
    if (k > tg * (e / g))
        return fail(c, "%lld experts are chosen from %lld groups of %lld", (long long)k, (long long)tg, (long long)(e / g));
    return true;
}

bool ir_shape_route(IrShapeCtx *c, IrType *out)
{
    if (!need_rows(c, "logits")) return false;
    const IrType *l = ty(c, "logits");
    int64_t e = l->dims[1], k = ir_attr_i(c->in, "k");
    if (k < 1 || k > e) return fail(c, "'k' must be in 1..%lld (the experts), got %lld", (long long)e, (long long)k);
    if (!NEED_OPT(c, "bias", e)) return false;
    if (!route_groups_ok(c, e, k, "mode", "groups", "topk_groups")) return false;
    *out = IR_TYPE(IR_DT_F32, l->dims[0], e);
    return true;
}

/* Expert (or MLP) weights: gate [.., h, d] + up [.., h, d], or for a gated
 * act without `gate` a fused up [.., 2h, d] holding [gate; up]; down
 * [.., d_out, h].  `lead` is the expert count, or 0 for a plain MLP. */
static bool ffn_weights(IrShapeCtx *c, const char *act, const char *up, const char *down,
                        const char *gate, int64_t lead, int64_t d, int64_t *h, int64_t *d_out)
{
    int r = lead ? 3 : 2;
    if (!need_rank(c, up, r) || !need_rank(c, down, r)) return false;
    const IrType *tu = ty(c, up), *td = ty(c, down);
    int64_t rows = tu->dims[r - 2];
    if (lead && tu->dims[0] != lead)
        return fail(c, "%s must hold %lld experts", desc(c, up), (long long)lead);
    if (tu->dims[r - 1] != d) return fail(c, "%s must have %lld columns", desc(c, up), (long long)d);
    if (is_gated(act) && !has(c, gate)) {
        if (rows % 2) return fail(c, "%s: a fused [gate; up] needs an even row count", desc(c, up));
        *h = rows / 2;
    } else {
        if (!is_gated(act) && has(c, gate))
            return fail(c, "activation \"%s\" takes no '%s'", act, gate);
        *h = rows;
        if (has(c, gate) && !(lead ? NEED(c, gate, lead, *h, d) : NEED(c, gate, *h, d))) return false;
    }
    *d_out = td->dims[r - 2];
    return lead ? NEED(c, down, lead, *d_out, *h) : NEED(c, down, *d_out, *h);
}

bool ir_shape_moe_experts(IrShapeCtx *c, IrType *out)
{
    if (!need_rows(c, "x") || !need_rows(c, "weights")) return false;
    const IrType *x = ty(c, "x"), *w = ty(c, "weights");
    int64_t e = w->dims[1], h, d_out;
    if (!NEED(c, "weights", x->dims[0], e)) return false;
    if (!ffn_weights(c, ir_attr_s(c->in, "act"), "up", "down", "gate", e, x->dims[1], &h, &d_out))
        return false;
    *out = IR_TYPE(x->dtype, x->dims[0], d_out);
    return true;
}

/* ---- composites ------------------------------------------------------------ */

bool ir_shape_attention(IrShapeCtx *c, IrType *out)
{
    if (!need_rows(c, "x") || !need_rank(c, "wq", 2) || !need_rank(c, "wv", 2) ||
        !need_rank(c, "wo", 2) || !need_rank(c, "cache", 3) || !positive(c, "heads") ||
        !positive(c, "kv_heads"))
        return false;
    const IrType *x = ty(c, "x");
    int64_t h = ir_attr_i(c->in, "heads"), hkv = ir_attr_i(c->in, "kv_heads");
    int64_t d_in = x->dims[1], qrows = ty(c, "wq")->dims[0], vrows = ty(c, "wv")->dims[0];
    bool gate = ir_attr_b(c->in, "output_gate");
    if (!divides(c, hkv, h, "kv_heads must divide heads") ||
        !divides(c, dmul(h, gate ? 2 : 1), qrows, gate ? "2 * heads (output_gate) must divide the rows of wq"
                                                    : "heads must divide the rows of wq") ||
        !divides(c, hkv, vrows, "kv_heads must divide the rows of wv"))
        return false;
    int64_t dk = qrows / dmul(h, gate ? 2 : 1), dv = vrows / hkv, d_out = ty(c, "wo")->dims[0];
    int64_t window = ir_attr_i(c->in, "window");
    if (window < 0) return fail(c, "'window' must not be negative");
    int64_t krows = dmul(hkv, dk);
    if (!NEED(c, "wq", qrows, d_in) || !NEED(c, "wk", krows, d_in) || !NEED(c, "wv", vrows, d_in) ||
        !NEED(c, "wo", d_out, dmul(h, dv)) || !NEED(c, "cache", hkv, ty(c, "cache")->dims[1], dadd(dk, dv)) ||
        !cache_rows_ok(c, ty(c, "cache")->dims[1], window) || !NEED_OPT(c, "bq", qrows) ||
        !NEED_OPT(c, "bk", krows) || !NEED_OPT(c, "bv", vrows) || !NEED_OPT(c, "bo", d_out) ||
        !NEED_OPT(c, "q_norm", dk) || !NEED_OPT(c, "k_norm", dk) ||
        !lora_pair(c, "q_lora_a", "q_lora_b", d_in, qrows) ||
        !lora_pair(c, "k_lora_a", "k_lora_b", d_in, krows) ||
        !lora_pair(c, "v_lora_a", "v_lora_b", d_in, vrows))
        return false;
    if (gate && dv != dk) return fail(c, "output_gate needs equal q and v head dims (%lld, %lld)",
                                      (long long)dk, (long long)dv);
    if (!rope_attrs(c, dk, "rope_dim", "rope_base", "rope_scaling", "rope_scaling_params"))
        return false;
    *out = IR_TYPE(x->dtype, x->dims[0], d_out);
    return true;
}

bool ir_shape_mamba1(IrShapeCtx *c, IrType *out)
{
    if (!need_rows(c, "x") || !need_rank(c, "in_proj", 2) || !need_rank(c, "A_log", 2) ||
        !need_rank(c, "dt_proj", 2) || !need_rank(c, "out_proj", 2))
        return false;
    const IrType *x = ty(c, "x");
    int64_t d = x->dims[1], rows = ty(c, "in_proj")->dims[0];
    if (rows % 2) return fail(c, "%s must have 2 * d_inner rows", desc(c, "in_proj"));
    int64_t e = rows / 2, n = ty(c, "A_log")->dims[1], r = ty(c, "dt_proj")->dims[1], k;
    int64_t d_out = ty(c, "out_proj")->dims[0];
    if (!NEED(c, "in_proj", 2 * e, d) || !conv_kernel(c, "conv_w", e, &k) ||
        !NEED(c, "x_proj", dadd(r, dmul(2, n)), e) || !NEED(c, "dt_proj", e, r) || !NEED(c, "dt_bias", e) ||
        !NEED(c, "A_log", e, n) || !NEED(c, "D", e) || !NEED(c, "out_proj", d_out, e) ||
        !NEED(c, "conv", e, k - 1) || !NEED(c, "ssm", e, n) || !NEED_OPT(c, "conv_b", e) ||
        !NEED_OPT(c, "in_proj_b", 2 * e) || !NEED_OPT(c, "out_proj_b", d_out))
        return false;
    bool weighted = strcmp(ir_attr_s(c->in, "inner_norms"), "rms") == 0;
    static const char *const norms[] = {"dt_norm", "b_norm", "c_norm"};
    for (int i = 0; i < 3; i++)
        if (has(c, norms[i]) != weighted)
            return fail(c, "operand '%s' is %s with inner_norms = \"%s\"", norms[i],
                        weighted ? "required" : "not allowed", ir_attr_s(c->in, "inner_norms"));
    if (weighted && (!NEED(c, "dt_norm", r) || !NEED(c, "b_norm", n) || !NEED(c, "c_norm", n)))
        return false;
    *out = IR_TYPE(x->dtype, x->dims[0], d_out);
    return true;
}

bool ir_shape_mamba2(IrShapeCtx *c, IrType *out)
{
    if (!need_rows(c, "x") || !need_rank(c, "ssm", 3) || !need_rank(c, "dt_bias", 1) ||
        !need_rank(c, "out_proj", 2) || !need_rank(c, "in_proj", 2) || !positive(c, "chunk"))
        return false;
    const IrType *x = ty(c, "x"), *ssm = ty(c, "ssm");
    int64_t d = x->dims[1], h = ssm->dims[0], p = ssm->dims[1], n = ssm->dims[2], e = dmul(h, p);
    const IrType *cw = ty(c, "conv_w");
    if (cw->rank < 2) return fail(c, "%s must be [channels, K]", desc(c, "conv_w"));
    int64_t conv_ch = cw->dims[0], k;
    if (conv_ch <= e || (conv_ch - e) % (2 * n))
        return fail(c, "%s: channels must be d_inner + 2 * groups * d_state = %lld + 2 * G * %lld",
                    desc(c, "conv_w"), (long long)e, (long long)n);
    int64_t g = (conv_ch - e) / (2 * n), d_out = ty(c, "out_proj")->dims[0];
    if (!divides(c, g, h, "groups must divide heads") || !conv_kernel(c, "conv_w", conv_ch, &k) ||
        !NEED(c, "in_proj", dadd(dadd(e, conv_ch), h), d) || !NEED(c, "dt_bias", h) || !NEED(c, "A_log", h) ||
        !NEED(c, "D", h) || !NEED(c, "out_proj", d_out, e) || !NEED(c, "conv", conv_ch, k - 1) ||
        !NEED_OPT(c, "conv_b", conv_ch) || !NEED_OPT(c, "norm", e) ||
        !NEED_OPT(c, "in_proj_b", dadd(dadd(e, conv_ch), h)) || !NEED_OPT(c, "out_proj_b", d_out))
        return false;
    if (ir_attr_has(c->in, "norm_groups")) {
        if (!positive(c, "norm_groups") ||
            !divides(c, ir_attr_i(c->in, "norm_groups"), e, "norm_groups must divide d_inner"))
            return false;
    }
    if (ir_attr_f(c->in, "dt_min") > ir_attr_f(c->in, "dt_max") || isnan(ir_attr_f(c->in, "dt_min")) ||
        isnan(ir_attr_f(c->in, "dt_max")))
        return fail(c, "dt_min must not exceed dt_max");
    const IrAttr *sc = ir_attr_get(c->in, "in_proj_scales");
    if (sc && sc->len != 5)
        return fail(c, "'in_proj_scales' takes 5 values (z, x, B, C, dt), got %d", sc->len);
    *out = IR_TYPE(x->dtype, x->dims[0], d_out);
    return true;
}

bool ir_shape_short_conv(IrShapeCtx *c, IrType *out)
{
    if (!need_rows(c, "x") || !need_rank(c, "in_proj", 2) || !need_rank(c, "out_proj", 2))
        return false;
    const IrType *x = ty(c, "x");
    int64_t rows = ty(c, "in_proj")->dims[0], d_out = ty(c, "out_proj")->dims[0], k;
    if (rows % 3) return fail(c, "%s must have 3 * channels rows (b, c, x)", desc(c, "in_proj"));
    int64_t ch = rows / 3;
    if (!NEED(c, "in_proj", rows, x->dims[1]) || !conv_kernel(c, "conv_w", ch, &k) ||
        !NEED(c, "out_proj", d_out, ch) || !NEED(c, "conv", ch, k - 1) ||
        !NEED_OPT(c, "in_proj_b", rows) || !NEED_OPT(c, "conv_b", ch) ||
        !NEED_OPT(c, "out_proj_b", d_out))
        return false;
    *out = IR_TYPE(x->dtype, x->dims[0], d_out);
    return true;
}

bool ir_shape_deltanet(IrShapeCtx *c, IrType *out)
{
    if (!need_rows(c, "x") || !need_rank(c, "ssm", 3) || !need_rank(c, "out_proj", 2) ||
        !need_rank(c, "in_proj_qkvz", 2))
        return false;
    const IrType *x = ty(c, "x"), *ssm = ty(c, "ssm"), *cw = ty(c, "conv_w");
    int64_t d = x->dims[1], hv = ssm->dims[0], dk = ssm->dims[1], dv = ssm->dims[2];
    if (cw->rank < 2) return fail(c, "%s must be [channels, K]", desc(c, "conv_w"));
    int64_t conv_ch = cw->dims[0], k;
    int64_t vdim = dmul(hv, dv);
    if (conv_ch <= vdim || (conv_ch - vdim) % (2 * dk))
        return fail(c, "%s: channels must be 2 * key_heads * %lld + %lld", desc(c, "conv_w"),
                    (long long)dk, (long long)vdim);
    int64_t hk = (conv_ch - vdim) / (2 * dk), d_out = ty(c, "out_proj")->dims[0];
    if (!divides(c, hk, hv, "key heads must divide value heads") ||
        !conv_kernel(c, "conv_w", conv_ch, &k) ||
        !NEED(c, "in_proj_qkvz", dadd(conv_ch - vdim, dmul(2, vdim)), d) ||
        !NEED(c, "in_proj_ba", dmul(2, hv), d) ||
        !NEED(c, "dt_bias", hv) || !NEED(c, "A_log", hv) || !NEED(c, "norm", dv) ||
        !NEED(c, "out_proj", d_out, vdim) || !NEED(c, "conv", conv_ch, k - 1) ||
        !NEED_OPT(c, "conv_b", conv_ch))
        return false;
    *out = IR_TYPE(x->dtype, x->dims[0], d_out);
    return true;
}

bool ir_shape_mlp(IrShapeCtx *c, IrType *out)
{
    if (!need_rows(c, "x")) return false;
    const IrType *x = ty(c, "x");
    const char *act = ir_attr_s(c->in, "act");
    int64_t h, d_out;
    if (!ffn_weights(c, act, "up", "down", "gate", 0, x->dims[1], &h, &d_out)) return false;
    int64_t up_rows = ty(c, "up")->dims[0];
    if (!NEED_OPT(c, "up_b", up_rows) || !NEED_OPT(c, "down_b", d_out) || !NEED_OPT(c, "gate_b", h))
        return false;
    if (has(c, "gate_b") && !has(c, "gate")) return fail(c, "'gate_b' needs a separate 'gate'");
    if (has(c, "lora_a") && has(c, "gate"))
        return fail(c, "a LoRA adapter applies to a fused [gate; up] or a non-gated up, not to a separate gate");
    if (!lora_pair(c, "lora_a", "lora_b", x->dims[1], up_rows)) return false;
    *out = IR_TYPE(x->dtype, x->dims[0], d_out);
    return true;
}

bool ir_shape_moe(IrShapeCtx *c, IrType *out)
{
    if (!need_rows(c, "x") || !need_rank(c, "router", 2)) return false;
    const IrType *x = ty(c, "x");
    const char *act = ir_attr_s(c->in, "act");
    int64_t d = x->dims[1], e = ty(c, "router")->dims[0], h, d_out;
    int64_t k = ir_attr_i(c->in, "top_k");
    if (!NEED(c, "router", e, d) || !NEED_OPT(c, "router_bias", e)) return false;
    if (k < 1 || k > e) return fail(c, "'top_k' must be in 1..%lld (the experts), got %lld", (long long)e, (long long)k);
    if (!route_groups_ok(c, e, k, "routing", "route_groups", "route_topk_groups")) return false;
    /* Latent experts (Nemotron-H): they work in the width of latent_in's
     * rows, between latent_in [l, d] and latent_out [d, l]. */
    int64_t w = d;
    if (has(c, "latent_in") != has(c, "latent_out"))
        return fail(c, "operands 'latent_in' and 'latent_out' come together");
    if (has(c, "latent_in")) {
        if (!need_rank(c, "latent_in", 2)) return false;
        w = ty(c, "latent_in")->dims[0];
        if (!NEED(c, "latent_in", w, d) || !NEED(c, "latent_out", d, w)) return false;
    }
    if (!ffn_weights(c, act, "up", "down", "gate", e, w, &h, &d_out)) return false;
    if (d_out != w) return fail(c, "experts must map width %lld back to %lld", (long long)w, (long long)w);
    if (has(c, "shared_up") != has(c, "shared_down"))
        return fail(c, "operands 'shared_up' and 'shared_down' come together");
    if (has(c, "shared_up")) {
        int64_t sh, sd;
        if (!ffn_weights(c, act, "shared_up", "shared_down", "shared_gate", 0, d, &sh, &sd)) return false;
        if (sd != d) return fail(c, "%s must have %lld rows", desc(c, "shared_down"), (long long)d);
        if (!NEED_OPT(c, "shared_gate_proj", 1, d)) return false;
    } else if (has(c, "shared_gate") || has(c, "shared_gate_proj")) {
        return fail(c, "'shared_gate' and 'shared_gate_proj' need a shared expert ('shared_up')");
    }
    *out = IR_TYPE(x->dtype, x->dims[0], d);
    return true;
}

/* ---- entry ----------------------------------------------------------------- */

bool ir_infer_type(const IrModule *m, const IrFunc *fn, const IrInst *in, IrType *out, char *err,
                   size_t err_len)
{
    IrShapeCtx c = {m, fn, in, err, err_len};
    err[0] = 0;
    memset(out, 0, sizeof *out);
    return ir_op_info(in->op)->shape(&c, out);
}
