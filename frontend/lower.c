/* lower.c — a resolved model (ModelSpec) as a Graph IR module.
 *
 * The module declares every canonical parameter (spec_params: same names,
 * same shapes, same order), one state per KV cache, conv state and SSM state
 * (each `use` of a shared block has its own), and builds the two entry
 * points prefill(tokens: i32[T]) and decode(token: i32[1]) from the same
 * code, so they cannot disagree.  The forward pass (docs/language.md §3-4):
 *
 *   x = embed[tokens] · embedding_scale;  e0 = x
 *   for each depth i, for each sublayer of its layer:
 *     use B:  t = site_proj( B([x ; e0]) )      added to the next sublayer's
 *                                               input, not to the residual
 *     other:  y = out_scale · Op(in_scale · Norm(x + t))     (t = 0 if none)
 *             x = residual ? x + residual_scale · y : y
 *   logits = logits_scale · (FinalNorm(x) · lm_headᵀ)   (lm_head = embed if tied)
 *
 * Each sublayer is one composite op (attention, mamba1_mixer, mamba2_mixer,
 * short_conv_mixer, deltanet_mixer, mlp, moe); the glue is primitives.
 * Three things the composites cannot express are emitted from primitives,
 * exactly as passes/lower_composites.c would expand them:
 *   - a parallel branch whose output is needed before its output projection
 *     (a shared out_proj, a branch norm, or a branch scale on a projection
 *     with a bias): the composites always project;
 *   - a gated MLP with per-site LoRA on gate and up (Zamba2): the mlp
 *     composite's adapter acts on a fused [gate; up] only;
 *   - attentions that share a KV cache across layers (kv_share): the
 *     source's k, v go to its readers' sdpa and its kv_store waits for the
 *     last of them, while the composite stores at once.
 *
 * Every instruction carries the location of the DSL block or key it comes
 * from: the sublayer block for its op, the key for a scale, the model for the
 * embedding and the head.  For an imported model that is the generated DSL.
 */
#include "frontend.h"
#include "../ir/ir.h"

#include <math.h>
#include <string.h>

typedef struct ParamSlot {
    const char *name; /* interned; NULL: empty */
    int id;
} ParamSlot;

/* The K and V an attention made in this call, held until the layers that
 * share its cache (attention kv_share) have attended: its kv_store comes
 * after their sdpa (docs/ir.md §1, state effects and order). */
typedef struct KvShare {
    IrValue k, v;  /* [T, Hkv, dk], [T, Hkv, dv] */
    IrState cache;
    int waiting;   /* readers still to come in this function */
} KvShare;

typedef struct Lower {
    const ModelSpec *m;
    IrModule *mod;
    Arena *arena;
    Interner *in;
    /* params by interned name (open addressing), and which ones were used */
    ParamSlot *pmap;
    size_t pmap_cap;
    bool *used;
    /* States are declared while building the first function; the second
     * takes them in the same order and checks their names. */
    bool declare_states;
    int next_state;
    /* the function being built */
    IrFunc *fn;
    IrValue e0; /* the embedding output, [T, d]: what concat_embedding appends */
    int depth;   /* of the layer being lowered; -1 inside a use of a shared block */
    KvShare *kv; /* [n_layers]: per depth, the KV its attention shares */
    StrBuf name; /* scratch for names */
} Lower;

/* Where a sublayer's names live.  Outside shared blocks both are
 * "layers.<i>.<K>"; for a sublayer K of shared block B run by the use U of
 * depth i, the weights are "shared.B.K" and the per-site things (states,
 * LoRA adapters) "layers.<i>.U.K". */
typedef struct Site {
    const char *params;
    const char *site;
} Site;

/* ---- names, params, states ------------------------------------------------------ */

static const char *join(Lower *L, const char *prefix, const char *leaf)
{
    L->name.len = 0;
    if (prefix && *prefix) sb_printf(&L->name, "%s.", prefix);
    sb_puts(&L->name, leaf);
    return intern(L->in, sb_cstr(&L->name));
}

static size_t pmap_slot(const Lower *L, const char *name)
{
    size_t h = (size_t)(uintptr_t)name;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15u;
    for (size_t i = h & (L->pmap_cap - 1);; i = (i + 1) & (L->pmap_cap - 1))
        if (!L->pmap[i].name || L->pmap[i].name == name) return i;
}

static void declare_param(void *ctx, const char *name, int ndim, const int64_t *shape)
{
    Lower *L = ctx;
    HYC_ASSERT(ndim >= 1 && ndim <= 3);
    IrParam p = ir_declare_param(L->mod, name, ir_type_make(IR_DT_F32, ndim, shape), loc_none());
    const char *key = L->mod->params[p.id].name;
    size_t i = pmap_slot(L, key);
    if (L->pmap[i].name) HYC_DIE("spec_params names '%s' twice", name);
    L->pmap[i] = (ParamSlot){key, p.id};
}

static void count_param(void *ctx, const char *name, int ndim, const int64_t *shape)
{
    (void)name, (void)ndim, (void)shape;
    (*(int *)ctx)++;
}

/* Declare the params exactly as spec_params lists them, in its order. */
static void declare_params(Lower *L)
{
    int n = 0;
    spec_params(L->m, count_param, &n);
    L->pmap_cap = 16;
    while (L->pmap_cap < (size_t)n * 2) L->pmap_cap *= 2;
    L->pmap = ARENA_NEW_N(L->arena, ParamSlot, L->pmap_cap);
    L->used = ARENA_NEW_N(L->arena, bool, n ? n : 1);
    spec_params(L->m, declare_param, L);
    HYC_ASSERT(L->mod->n_params == n);
}

/* The canonical param PREFIX.LEAF.  The lowering asks only for params the
 * spec has, so a miss is a bug here or in spec_params.  The first use gives
 * the param its location. */
static IrParam param(Lower *L, const char *prefix, const char *leaf, SrcLoc loc)
{
    const char *name = join(L, prefix, leaf);
    const ParamSlot *s = &L->pmap[pmap_slot(L, name)];
    if (!s->name) HYC_DIE("lowering wants param '%s', which spec_params does not declare", name);
    L->used[s->id] = true;
    IrParamDecl *d = &L->mod->params[s->id];
    if (!d->loc.file) d->loc = loc;
    return (IrParam){s->id};
}

static IrParam param_if(Lower *L, bool present, const char *prefix, const char *leaf, SrcLoc loc)
{
    return present ? param(L, prefix, leaf, loc) : IR_NO_PARAM;
}

static IrDType ir_dtype_of(StateDtype dt)
{
    switch (dt) {
    case STATE_DTYPE_F32: return IR_DT_F32;
    case STATE_DTYPE_BF16: return IR_DT_BF16;
    case STATE_DTYPE_F16: return IR_DT_F16;
    }
    HYC_UNREACHABLE();
}

/* A state of the model: the KV caches in kv_dtype, the others in ssm_dtype. */
static IrState state(Lower *L, const char *prefix, const char *leaf, IrStateKind kind, IrType t,
                     SrcLoc loc)
{
    t.dtype = ir_dtype_of(kind == IR_STATE_KV_CACHE ? L->m->kv_dtype : L->m->ssm_dtype);
    const char *name = join(L, prefix, leaf);
    if (L->declare_states) return ir_declare_state(L->mod, name, kind, t, loc);
    HYC_ASSERT(L->next_state < L->mod->n_states);
    IrStateDecl *s = &L->mod->states[L->next_state];
    HYC_ASSERT(s->name == name && s->kind == kind && ir_type_eq(&s->type, &t));
    return (IrState){L->next_state++};
}

/* K and V of every position (docs/ir.md §4): [kv_heads, S, 2·head_dim], S
 * the window when it is shorter than max_seq (a ring), else max_seq. */
static IrState kv_state(Lower *L, const Site *s, const AttentionSpec *a, SrcLoc loc)
{
    int64_t rows = a->window > 0 && a->window < L->m->max_seq ? a->window : IR_DIM_MAX_SEQ;
    return state(L, s->site, "kv", IR_STATE_KV_CACHE, IR_TYPE(IR_DT_F32, a->kv_heads, rows, 2 * a->head_dim), loc);
}

static IrState conv_state(Lower *L, const Site *s, int64_t channels, int64_t d_conv, SrcLoc loc)
{
    return state(L, s->site, "conv", IR_STATE_CONV, IR_TYPE(IR_DT_F32, channels, d_conv - 1), loc);
}

/* ---- emitting ---------------------------------------------------------------------- */

static IrBuilder at(Lower *L, SrcLoc loc) { return ir_builder(L->fn, loc); }

/* x · f, or x itself when f is 1 (the common case costs no instruction). */
static IrValue scaled(Lower *L, IrValue x, double f, SrcLoc loc)
{
    if (f == 1.0) return x;
    IrBuilder b = at(L, loc);
    return ir_scale(&b, x, f);
}

/* An op with operands and attributes collected by name; absent optional
 * params (IR_NO_PARAM) are simply left out. */
typedef struct Emit {
    IrNamedOperand ops[IR_MAX_SLOTS];
    int n_ops;
    IrNamedAttr attrs[IR_MAX_ATTRS];
    int n_attrs;
} Emit;

static void opnd(Emit *e, const char *slot, IrOperand o)
{
    HYC_ASSERT(e->n_ops < IR_MAX_SLOTS);
    if (o.kind != IR_OPND_NONE) e->ops[e->n_ops++] = (IrNamedOperand){slot, o};
}

static void attr(Emit *e, IrNamedAttr a)
{
    HYC_ASSERT(e->n_attrs < IR_MAX_ATTRS);
    e->attrs[e->n_attrs++] = a;
}

static IrValue emit(Lower *L, IrOp op, const Emit *e, SrcLoc loc)
{
    return ir_emit_named(L->fn, op, (IrNamedOperandList){e->ops, e->n_ops}, (IrAttrList){e->attrs, e->n_attrs},
                         loc);
}

static IrValue reshape2(IrBuilder *b, IrValue x, int64_t d0, int64_t d1)
{
    return ir_reshape(b, x, 2, (int64_t[]){d0, d1});
}

static IrValue flatten(IrBuilder *b, IrValue x, int64_t width) { return ir_reshape(b, x, 1, (int64_t[]){width}); }

/* A = -exp(A_log), a param-only value. */
static IrValue neg_exp(IrBuilder *b, IrParam a_log)
{
    return ir_unary(b, IR_OP_NEG, ir_v(ir_unary(b, IR_OP_EXP, ir_p(a_log))));
}


/* The model's norm (the pre-norms and the final norm): RMSNorm x̂·(offset + w),
 * or LayerNorm.  LayerNorm has no offset in the IR; with one it is
 * LN(x; w, b) + offset·LN(x) (the same x̂, weight offset + w). */
static IrValue model_norm(Lower *L, IrValue x, const char *prefix, const char *leaf, SrcLoc loc)
{
    const ModelSpec *m = L->m;
    IrBuilder b = at(L, loc);
    IrParam w = param(L, prefix, leaf, loc);
    if (m->norm == NORM_RMSNORM) return ir_rmsnorm_offset(&b, x, w, m->norm_eps, m->norm_offset);
    char bias[64];
    snprintf(bias, sizeof bias, "%s_bias", leaf);
    IrValue y = ir_layernorm(&b, x, w, param(L, prefix, bias, loc), m->norm_eps);
    if (m->norm_offset != 0.0)
        y = ir_add(&b, y, ir_scale(&b, ir_layernorm(&b, x, IR_NO_PARAM, IR_NO_PARAM, m->norm_eps), m->norm_offset));
    return y;
}

/* ---- the sublayer ops, as composites -------------------------------------------------------- */

/* An attention's RoPE as attributes of the rope op (dim, base, ...) or, for
 * the attention composite, the same prefixed (rope_dim, rope_base, ...).
 * rope_scaling's arguments are in the order of the IR's scaling_params. */
static void rope_attrs(Emit *e, const AttentionSpec *a, bool composite)
{
    attr(e, IR_AI(composite ? "rope_dim" : "dim", a->rope_dims));
    attr(e, IR_AF(composite ? "rope_base" : "base", a->rope_base));
    if (a->rope_pairing == ROPE_PAIRING_INTERLEAVED)
        attr(e, IR_AB(composite ? "rope_interleaved" : "interleaved", true));
    const SpecCall *c = &a->rope_scaling;
    if (c->kind != ROPE_SCALING_NONE) {
        attr(e, IR_AS(composite ? "rope_scaling" : "scaling", schema_names_RopeScaling[c->kind]));
        attr(e, (IrNamedAttr){composite ? "rope_scaling_params" : "scaling_params", ir_attr_floats(c->args, c->n_args)});
    }
}

static IrValue pre_attention(Lower *L, const Site *s, const SublayerSpec *sl, IrValue x);

/* Does this attention share a KV cache across layers (kv_share), as the
 * reader or as the source with readers? */
static bool kv_shared(const Lower *L, const AttentionSpec *a)
{
    return L->depth >= 0 && (a->kv_reader || L->m->kv_readers[L->depth] > 0);
}

static IrValue op_attention(Lower *L, const Site *s, const SublayerSpec *sl, IrValue x)
{
    const AttentionSpec *a = &sl->as.attention;
    SrcLoc loc = sl->blk.name_loc;
    const char *p = s->params;
    if (kv_shared(L, a)) {
        /* from primitives: the composite keeps its k, v and store inside */
        IrBuilder b = at(L, loc);
        return ir_matmul_bias(&b, pre_attention(L, s, sl, x), param(L, p, "o", loc),
                              param_if(L, a->bias, p, "o_bias", loc));
    }
    bool lora = a->adapter_rank > 0; /* per site: only inside a shared block */
    Emit e = {0};
    opnd(&e, "x", ir_v(x));
    opnd(&e, "wq", ir_p(param(L, p, "q", loc)));
    opnd(&e, "wk", ir_p(param(L, p, "k", loc)));
    opnd(&e, "wv", ir_p(param(L, p, "v", loc)));
    opnd(&e, "wo", ir_p(param(L, p, "o", loc)));
    opnd(&e, "cache", ir_s(kv_state(L, s, a, loc)));
    opnd(&e, "bq", ir_p(param_if(L, a->bias, p, "q_bias", loc)));
    opnd(&e, "bk", ir_p(param_if(L, a->bias, p, "k_bias", loc)));
    opnd(&e, "bv", ir_p(param_if(L, a->bias, p, "v_bias", loc)));
    opnd(&e, "bo", ir_p(param_if(L, a->bias, p, "o_bias", loc)));
    opnd(&e, "q_norm", ir_p(param_if(L, a->qk_norm == QK_NORM_RMS, p, "q_norm", loc)));
    opnd(&e, "k_norm", ir_p(param_if(L, a->qk_norm == QK_NORM_RMS, p, "k_norm", loc)));
    static const char *const lora_slots[] = {"q_lora_a", "q_lora_b", "k_lora_a", "k_lora_b", "v_lora_a", "v_lora_b"};
    for (int i = 0; i < 6; i++) opnd(&e, lora_slots[i], ir_p(param_if(L, lora, s->site, lora_slots[i], loc)));
    attr(&e, IR_AI("heads", a->heads));
    attr(&e, IR_AI("kv_heads", a->kv_heads));
    if (!a->scale_is_default) attr(&e, IR_AF("scale", a->scale));
    if (a->window > 0) attr(&e, IR_AI("window", a->window));
    if (a->key_scale != 1.0) attr(&e, IR_AF("key_scale", a->key_scale));
    if (a->output_gate) attr(&e, IR_AB("output_gate", true));
    if (a->qk_norm == QK_NORM_RMS) {
        /* q/k norms are the model's RMSNorms: its eps and offset. */
        attr(&e, IR_AF("qk_norm_eps", L->m->norm_eps));
        if (L->m->norm_offset != 0.0) attr(&e, IR_AF("qk_norm_offset", L->m->norm_offset));
    }
    if (a->rope) rope_attrs(&e, a, true);
    return emit(L, IR_OP_ATTENTION, &e, loc); /* [T, d] */
}

static IrValue op_mamba1(Lower *L, const Site *s, const SublayerSpec *sl, IrValue x)
{
    const Mamba1Spec *p = &sl->as.mamba1;
    SrcLoc loc = sl->blk.name_loc;
    const char *w = s->params;
    bool inner = p->inner_norms == INNER_NORMS_RMS;
    Emit e = {0};
    opnd(&e, "x", ir_v(x));
    opnd(&e, "in_proj", ir_p(param(L, w, "in_proj", loc)));
    opnd(&e, "conv_w", ir_p(param(L, w, "conv_w", loc)));
    opnd(&e, "x_proj", ir_p(param(L, w, "x_proj", loc)));
    opnd(&e, "dt_proj", ir_p(param(L, w, "dt_proj", loc)));
    opnd(&e, "dt_bias", ir_p(param(L, w, "dt_bias", loc)));
    opnd(&e, "A_log", ir_p(param(L, w, "A_log", loc)));
    opnd(&e, "D", ir_p(param(L, w, "D", loc)));
    opnd(&e, "out_proj", ir_p(param(L, w, "out_proj", loc)));
    opnd(&e, "conv", ir_s(conv_state(L, s, p->d_inner, p->d_conv, loc)));
    opnd(&e, "ssm", ir_s(state(L, s->site, "ssm", IR_STATE_SSM, IR_TYPE(IR_DT_F32, p->d_inner, p->d_state), loc)));
    opnd(&e, "conv_b", ir_p(param_if(L, p->conv_bias, w, "conv_b", loc)));
    opnd(&e, "in_proj_b", ir_p(param_if(L, p->bias, w, "in_proj_bias", loc)));
    opnd(&e, "out_proj_b", ir_p(param_if(L, p->bias, w, "out_proj_bias", loc)));
    opnd(&e, "dt_norm", ir_p(param_if(L, inner, w, "dt_norm", loc)));
    opnd(&e, "b_norm", ir_p(param_if(L, inner, w, "b_norm", loc)));
    opnd(&e, "c_norm", ir_p(param_if(L, inner, w, "c_norm", loc)));
    if (p->inner_norms != INNER_NORMS_NONE) {
        attr(&e, IR_AS("inner_norms", schema_names_InnerNorms[p->inner_norms]));
        attr(&e, IR_AF("inner_norm_eps", p->inner_norm_eps));
    }
    if (p->conv_act != CONV_ACT_SILU) attr(&e, IR_AS("conv_act", schema_names_ConvAct[p->conv_act]));
    return emit(L, IR_OP_MAMBA1_MIXER, &e, loc); /* [T, d] */
}

static IrState ssm2_state(Lower *L, const Site *s, const Mamba2Spec *p, SrcLoc loc)
{
    return state(L, s->site, "ssm", IR_STATE_SSM, IR_TYPE(IR_DT_F32, p->heads, p->head_dim, p->d_state), loc);
}

static bool all_ones(SpecFloatList l)
{
    for (int i = 0; i < l.n; i++)
        if (l.v[i] != 1.0) return false;
    return true;
}

static void mamba2_attrs(Emit *e, const Mamba2Spec *p)
{
    attr(e, IR_AI("chunk", p->chunk));
    if (p->gated_norm) {
        if (p->norm_before_gate) attr(e, IR_AB("norm_before_gate", true));
        attr(e, IR_AF("norm_eps", p->norm_eps));
        if (p->norm_groups != p->groups) attr(e, IR_AI("norm_groups", p->norm_groups));
    }
    if (p->dt_min > 0) attr(e, IR_AF("dt_min", p->dt_min));
    if (p->dt_max < INFINITY) attr(e, IR_AF("dt_max", p->dt_max));
    if (!all_ones(p->in_proj_scales))
        attr(e, (IrNamedAttr){"in_proj_scales", ir_attr_floats(p->in_proj_scales.v, p->in_proj_scales.n)});
    if (p->conv_act != CONV_ACT_SILU) attr(e, IR_AS("conv_act", schema_names_ConvAct[p->conv_act]));
}

static IrValue op_mamba2(Lower *L, const Site *s, const SublayerSpec *sl, IrValue x)
{
    const Mamba2Spec *p = &sl->as.mamba2;
    SrcLoc loc = sl->blk.name_loc;
    const char *w = s->params;
    Emit e = {0};
    opnd(&e, "x", ir_v(x));
    opnd(&e, "in_proj", ir_p(param(L, w, "in_proj", loc)));
    opnd(&e, "conv_w", ir_p(param(L, w, "conv_w", loc)));
    opnd(&e, "dt_bias", ir_p(param(L, w, "dt_bias", loc)));
    opnd(&e, "A_log", ir_p(param(L, w, "A_log", loc)));
    opnd(&e, "D", ir_p(param(L, w, "D", loc)));
    opnd(&e, "out_proj", ir_p(param(L, w, "out_proj", loc)));
    opnd(&e, "conv", ir_s(conv_state(L, s, p->conv_dim, p->d_conv, loc)));
    opnd(&e, "ssm", ir_s(ssm2_state(L, s, p, loc)));
    opnd(&e, "conv_b", ir_p(param_if(L, p->conv_bias, w, "conv_b", loc)));
    opnd(&e, "norm", ir_p(param_if(L, p->gated_norm, w, "gate_norm", loc)));
    opnd(&e, "in_proj_b", ir_p(param_if(L, p->bias, w, "in_proj_bias", loc)));
    opnd(&e, "out_proj_b", ir_p(param_if(L, p->out_bias, w, "out_proj_bias", loc)));
    mamba2_attrs(&e, p);
    return emit(L, IR_OP_MAMBA2_MIXER, &e, loc); /* [T, d] */
}

static IrValue op_short_conv(Lower *L, const Site *s, const SublayerSpec *sl, IrValue x)
{
    const ShortConvSpec *p = &sl->as.short_conv;
    SrcLoc loc = sl->blk.name_loc;
    const char *w = s->params;
    Emit e = {0};
    opnd(&e, "x", ir_v(x));
    opnd(&e, "in_proj", ir_p(param(L, w, "in_proj", loc)));
    opnd(&e, "conv_w", ir_p(param(L, w, "conv_w", loc)));
    opnd(&e, "out_proj", ir_p(param(L, w, "out_proj", loc)));
    opnd(&e, "conv", ir_s(conv_state(L, s, L->m->d_model, p->d_conv, loc)));
    opnd(&e, "in_proj_b", ir_p(param_if(L, p->bias, w, "in_proj_bias", loc)));
    opnd(&e, "conv_b", ir_p(param_if(L, p->bias, w, "conv_b", loc)));
    opnd(&e, "out_proj_b", ir_p(param_if(L, p->bias, w, "out_proj_bias", loc)));
    return emit(L, IR_OP_SHORT_CONV_MIXER, &e, loc); /* [T, d] */
}

static IrState delta_state(Lower *L, const Site *s, const DeltaNetSpec *p, SrcLoc loc)
{
    return state(L, s->site, "ssm", IR_STATE_SSM, IR_TYPE(IR_DT_F32, p->value_heads, p->key_dim, p->value_dim), loc);
}

static IrValue op_deltanet(Lower *L, const Site *s, const SublayerSpec *sl, IrValue x)
{
    const DeltaNetSpec *p = &sl->as.deltanet;
    SrcLoc loc = sl->blk.name_loc;
    const char *w = s->params;
    Emit e = {0};
    opnd(&e, "x", ir_v(x));
    opnd(&e, "in_proj_qkvz", ir_p(param(L, w, "in_proj_qkvz", loc)));
    opnd(&e, "in_proj_ba", ir_p(param(L, w, "in_proj_ba", loc)));
    opnd(&e, "conv_w", ir_p(param(L, w, "conv_w", loc)));
    opnd(&e, "dt_bias", ir_p(param(L, w, "dt_bias", loc)));
    opnd(&e, "A_log", ir_p(param(L, w, "A_log", loc)));
    opnd(&e, "norm", ir_p(param(L, w, "gate_norm", loc)));
    opnd(&e, "out_proj", ir_p(param(L, w, "out_proj", loc)));
    opnd(&e, "conv", ir_s(conv_state(L, s, p->conv_dim, p->d_conv, loc)));
    opnd(&e, "ssm", ir_s(delta_state(L, s, p, loc)));
    /* The gate norm is plain ·w with the model's eps (never norm_offset). */
    attr(&e, IR_AF("norm_eps", L->m->norm_eps));
    if (p->conv_act != CONV_ACT_SILU) attr(&e, IR_AS("conv_act", schema_names_ConvAct[p->conv_act]));
    return emit(L, IR_OP_DELTANET_MIXER, &e, loc); /* [T, d] */
}

/* A gated MLP with per-site LoRA on gate and up, from primitives:
 *   down(act(gate_scale · (x·Gᵀ + (x·Agᵀ)·Bgᵀ)) ⊙ (x·Uᵀ + (x·Auᵀ)·Buᵀ)) · down_scale */
static IrValue mlp_gated_lora(Lower *L, const Site *s, const MlpSpec *p, IrValue x, SrcLoc loc)
{
    IrBuilder b = at(L, loc);
    const char *w = s->params, *site = s->site;
    IrValue g = ir_matmul_bias(&b, x, param(L, w, "gate", loc), param_if(L, p->bias, w, "gate_bias", loc));
    g = ir_add(&b, g, ir_matmul(&b, ir_matmul(&b, x, param(L, site, "gate_lora_a", loc)),
                                param(L, site, "gate_lora_b", loc))); /* [T, h] */
    IrValue u = ir_matmul_bias(&b, x, param(L, w, "up", loc), param_if(L, p->bias, w, "up_bias", loc));
    u = ir_add(&b, u, ir_matmul(&b, ir_matmul(&b, x, param(L, site, "up_lora_a", loc)),
                                param(L, site, "up_lora_b", loc))); /* [T, h] */
    IrValue h = ir_mul(&b, ir_act(&b, schema_names_MlpAct[p->act], scaled(L, g, p->gate_scale, loc)), u);
    IrValue y = ir_matmul_bias(&b, h, param(L, w, "down", loc), param_if(L, p->bias, w, "down_bias", loc));
    return scaled(L, y, p->down_scale, loc); /* [T, d] */
}

static IrValue op_mlp(Lower *L, const Site *s, const SublayerSpec *sl, IrValue x)
{
    const MlpSpec *p = &sl->as.mlp;
    SrcLoc loc = sl->blk.name_loc;
    const char *w = s->params;
    bool lora = p->adapter_rank > 0;
    if (lora && p->gated) return mlp_gated_lora(L, s, p, x, loc);
    Emit e = {0};
    opnd(&e, "x", ir_v(x));
    opnd(&e, "up", ir_p(param(L, w, "up", loc)));
    opnd(&e, "down", ir_p(param(L, w, "down", loc)));
    opnd(&e, "gate", ir_p(param_if(L, p->gated, w, "gate", loc)));
    opnd(&e, "up_b", ir_p(param_if(L, p->bias, w, "up_bias", loc)));
    opnd(&e, "down_b", ir_p(param_if(L, p->bias, w, "down_bias", loc)));
    opnd(&e, "gate_b", ir_p(param_if(L, p->bias && p->gated, w, "gate_bias", loc)));
    /* Not gated: the composite's adapter acts on up, which is what it is. */
    opnd(&e, "lora_a", ir_p(param_if(L, lora, s->site, "up_lora_a", loc)));
    opnd(&e, "lora_b", ir_p(param_if(L, lora, s->site, "up_lora_b", loc)));
    attr(&e, IR_AS("act", schema_names_MlpAct[p->act]));
    if (p->gate_scale != 1.0) attr(&e, IR_AF("gate_scale", p->gate_scale));
    if (p->down_scale != 1.0) attr(&e, IR_AF("down_scale", p->down_scale));
    return emit(L, IR_OP_MLP, &e, loc); /* [T, d] */
}

static IrValue op_moe(Lower *L, const Site *s, const SublayerSpec *sl, IrValue x)
{
    const MoeSpec *p = &sl->as.moe;
    SrcLoc loc = sl->blk.name_loc;
    const char *w = s->params;
    bool shared = p->shared_hidden > 0;
    Emit e = {0};
    opnd(&e, "x", ir_v(x));
    opnd(&e, "router", ir_p(param(L, w, "router", loc)));
    opnd(&e, "up", ir_p(param(L, w, "experts_up", loc)));
    opnd(&e, "down", ir_p(param(L, w, "experts_down", loc)));
    opnd(&e, "gate", ir_p(param_if(L, p->gated, w, "experts_gate", loc)));
    opnd(&e, "router_bias", ir_p(param_if(L, p->routing == MOE_ROUTING_SIGMOID_TOPK, w, "router_bias", loc)));
    opnd(&e, "shared_up", ir_p(param_if(L, shared, w, "shared_up", loc)));
    opnd(&e, "shared_down", ir_p(param_if(L, shared, w, "shared_down", loc)));
    opnd(&e, "shared_gate", ir_p(param_if(L, shared && p->gated, w, "shared_gate", loc)));
    opnd(&e, "shared_gate_proj", ir_p(param_if(L, shared && p->shared_gate, w, "shared_expert_gate", loc)));
    opnd(&e, "latent_in", ir_p(param_if(L, p->latent > 0, w, "latent_in", loc)));
    opnd(&e, "latent_out", ir_p(param_if(L, p->latent > 0, w, "latent_out", loc)));
    attr(&e, IR_AI("top_k", p->top_k));
    if (p->route_groups > 1) {
        attr(&e, IR_AI("route_groups", p->route_groups));
        attr(&e, IR_AI("route_topk_groups", p->route_topk_groups));
    }
    attr(&e, IR_AS("routing", schema_names_MoeRouting[p->routing]));
    if (p->renormalize) attr(&e, IR_AB("renormalize", true));
    if (p->routed_scale != 1.0) attr(&e, IR_AF("routed_scale", p->routed_scale));
    attr(&e, IR_AS("act", schema_names_MlpAct[p->act]));
    return emit(L, IR_OP_MOE, &e, loc); /* [T, d] */
}

/* ---- parallel branches before their output projection ------------------------------------------ *
 * The same computations as the composites' expansions in
 * passes/lower_composites.c, stopping before the output projection.  Each
 * returns [T, branch width]. */

static IrValue pre_attention(Lower *L, const Site *s, const SublayerSpec *sl, IrValue x)
{
    const AttentionSpec *a = &sl->as.attention;
    SrcLoc loc = sl->blk.name_loc;
    IrBuilder b = at(L, loc);
    const char *w = s->params;
    int64_t h = a->heads, hkv = a->kv_heads, dk = a->head_dim;
    /* kv_share: a reader attends over the source's cache and fresh k, v
     * (made, normed, scaled and rotated there); a source with readers
     * leaves its kv_store to the last of them. */
    KvShare *src = L->depth >= 0 && a->kv_reader ? &L->kv[L->m->kv_source[L->depth]] : NULL;
    bool defer = !src && kv_shared(L, a);
    IrState cache = src ? src->cache : kv_state(L, s, a, loc);
    IrValue q = ir_matmul_bias(&b, x, param(L, w, "q", loc), param_if(L, a->bias, w, "q_bias", loc));
    IrValue k = src ? src->k : IR_NO_VALUE, v = src ? src->v : IR_NO_VALUE;
    if (!src) {
        k = ir_matmul_bias(&b, x, param(L, w, "k", loc), param_if(L, a->bias, w, "k_bias", loc));
        v = ir_matmul_bias(&b, x, param(L, w, "v", loc), param_if(L, a->bias, w, "v_bias", loc));
    }
    IrValue g = IR_NO_VALUE;
    if (a->output_gate) {
        /* canonical q rows: all queries, then all gates (docs/language.md §7) */
        g = ir_slice(&b, q, h * dk, h * dk); /* [T, H·dk] */
        q = ir_slice(&b, q, 0, h * dk);      /* [T, H·dk] */
    }
    q = reshape2(&b, q, h, dk); /* [T, H, dk] */
    if (!src) {
        k = reshape2(&b, k, hkv, dk); /* [T, Hkv, dk] */
        v = reshape2(&b, v, hkv, dk); /* [T, Hkv, dk] */
    }
    if (a->qk_norm == QK_NORM_RMS) {
        q = ir_rmsnorm_offset(&b, q, param(L, w, "q_norm", loc), L->m->norm_eps, L->m->norm_offset);
        if (!src) k = ir_rmsnorm_offset(&b, k, param(L, w, "k_norm", loc), L->m->norm_eps, L->m->norm_offset);
    }
    if (!src) k = scaled(L, k, a->key_scale, loc);
    if (a->rope) {
        Emit rq = {0};
        opnd(&rq, "x", ir_v(q));
        rope_attrs(&rq, a, false);
        q = emit(L, IR_OP_ROPE, &rq, loc);
        if (!src) {
            Emit rk = {0};
            opnd(&rk, "x", ir_v(k));
            rope_attrs(&rk, a, false);
            k = emit(L, IR_OP_ROPE, &rk, loc);
        }
    }
    /* Attend first, then store (docs/ir.md §1: state effects and order). */
    Emit e = {0};
    opnd(&e, "q", ir_v(q));
    opnd(&e, "k", ir_v(k));
    opnd(&e, "v", ir_v(v));
    opnd(&e, "cache", ir_s(cache));
    if (!a->scale_is_default) attr(&e, IR_AF("scale", a->scale));
    if (a->window > 0) attr(&e, IR_AI("window", a->window));
    IrValue o = emit(L, IR_OP_SDPA, &e, loc); /* [T, H, dk] */
    if (defer)
        L->kv[L->depth] = (KvShare){k, v, cache, L->m->kv_readers[L->depth]};
    else if (!src || --src->waiting == 0)
        ir_kv_store(&b, k, v, cache); /* own, or the source's after its last reader */
    o = flatten(&b, o, h * dk); /* [T, H·dk] */
    if (a->output_gate) o = ir_mul(&b, o, ir_sigmoid(&b, g));
    return o;
}

/* Mamba-1 up to the gated scan output y ⊙ silu(z). */
static IrValue pre_mamba1(Lower *L, const Site *s, const SublayerSpec *sl, IrValue u)
{
    const Mamba1Spec *p = &sl->as.mamba1;
    SrcLoc loc = sl->blk.name_loc;
    IrBuilder b = at(L, loc);
    const char *w = s->params;
    int64_t e = p->d_inner, n = p->d_state, r = p->dt_rank;
    IrValue xz = ir_matmul_bias(&b, u, param(L, w, "in_proj", loc), param_if(L, p->bias, w, "in_proj_bias", loc));
    IrValue x = ir_slice(&b, xz, 0, e); /* [T, E] */
    IrValue z = ir_slice(&b, xz, e, e); /* [T, E] */
    IrState conv = conv_state(L, s, e, p->d_conv, loc);
    IrState ssm = state(L, s->site, "ssm", IR_STATE_SSM, IR_TYPE(IR_DT_F32, e, n), loc);
    x = ir_act(&b, schema_names_ConvAct[p->conv_act],
               ir_causal_conv1d(&b, x, param(L, w, "conv_w", loc), param_if(L, p->conv_bias, w, "conv_b", loc), conv));
    IrValue dbc = ir_matmul(&b, x, param(L, w, "x_proj", loc)); /* [T, R + 2N] */
    IrValue dt = ir_slice(&b, dbc, 0, r);                       /* [T, R] */
    IrValue bb = ir_slice(&b, dbc, r, n);                       /* [T, N] */
    IrValue cc = ir_slice(&b, dbc, r + n, n);                   /* [T, N] */
    if (p->inner_norms != INNER_NORMS_NONE) {
        bool weighted = p->inner_norms == INNER_NORMS_RMS;
        dt = ir_rmsnorm(&b, dt, param_if(L, weighted, w, "dt_norm", loc), p->inner_norm_eps);
        bb = ir_rmsnorm(&b, bb, param_if(L, weighted, w, "b_norm", loc), p->inner_norm_eps);
        cc = ir_rmsnorm(&b, cc, param_if(L, weighted, w, "c_norm", loc), p->inner_norm_eps);
    }
    dt = ir_softplus(&b, ir_matmul_bias(&b, dt, param(L, w, "dt_proj", loc), param(L, w, "dt_bias", loc))); /* [T, E] */
    IrValue a = neg_exp(&b, param(L, w, "A_log", loc));                                                    /* [E, N] */
    return ir_emit(b.fn, IR_OP_SELECTIVE_SCAN,
                   IR_OPERANDS(ir_v(x), ir_v(dt), ir_v(a), ir_v(bb), ir_v(cc), ir_s(ssm),
                               ir_p(param(L, w, "D", loc)), ir_v(z)),
                   IR_NO_ATTRS, loc); /* [T, E] */
}

/* Mamba-2 up to the gated norm (or y ⊙ silu(z)). */
static IrValue pre_mamba2(Lower *L, const Site *s, const SublayerSpec *sl, IrValue u)
{
    const Mamba2Spec *p = &sl->as.mamba2;
    SrcLoc loc = sl->blk.name_loc;
    IrBuilder b = at(L, loc);
    const char *w = s->params;
    int64_t h = p->heads, hp = p->head_dim, n = p->d_state, e = p->d_inner, g = p->groups, ch = p->conv_dim;
    IrState conv = conv_state(L, s, ch, p->d_conv, loc);
    IrState ssm = ssm2_state(L, s, p, loc);
    IrValue zxd = ir_matmul_bias(&b, u, param(L, w, "in_proj", loc), param_if(L, p->bias, w, "in_proj_bias", loc));
    IrValue z = ir_slice(&b, zxd, 0, e);       /* [T, E] */
    IrValue xbc = ir_slice(&b, zxd, e, ch);    /* [T, E + 2GN] */
    IrValue dt = ir_slice(&b, zxd, e + ch, h); /* [T, H] */
    if (!all_ones(p->in_proj_scales)) {
        const double *sc = p->in_proj_scales.v; /* z, x, B, C, dt (µP, Falcon-H1) */
        z = scaled(L, z, sc[0], loc);
        if (sc[1] != 1.0 || sc[2] != 1.0 || sc[3] != 1.0) {
            IrValue parts[3] = {
                scaled(L, ir_slice(&b, xbc, 0, e), sc[1], loc),
                scaled(L, ir_slice(&b, xbc, e, g * n), sc[2], loc),
                scaled(L, ir_slice(&b, xbc, e + g * n, g * n), sc[3], loc),
            };
            xbc = ir_concat(&b, parts, 3);
        }
        dt = scaled(L, dt, sc[4], loc);
    }
    xbc = ir_act(&b, schema_names_ConvAct[p->conv_act],
                 ir_causal_conv1d(&b, xbc, param(L, w, "conv_w", loc), param_if(L, p->conv_bias, w, "conv_b", loc),
                                  conv));
    IrValue x = reshape2(&b, ir_slice(&b, xbc, 0, e), h, hp);          /* [T, H, P] */
    IrValue bb = reshape2(&b, ir_slice(&b, xbc, e, g * n), g, n);      /* [T, G, N] */
    IrValue cc = reshape2(&b, ir_slice(&b, xbc, e + g * n, g * n), g, n); /* [T, G, N] */
    dt = ir_softplus(&b, ir_binary(&b, IR_OP_ADD, ir_v(dt), ir_p(param(L, w, "dt_bias", loc)))); /* [T, H] */
    if (p->dt_min > 0 || p->dt_max < INFINITY) dt = ir_clamp(&b, dt, p->dt_min, p->dt_max);
    IrValue a = neg_exp(&b, param(L, w, "A_log", loc)); /* [H] */
    IrValue y = ir_emit(b.fn, IR_OP_SSD_SCAN,
                        IR_OPERANDS(ir_v(x), ir_v(dt), ir_v(a), ir_v(bb), ir_v(cc), ir_s(ssm),
                                    ir_p(param(L, w, "D", loc))),
                        IR_ATTRS(IR_AI("chunk", p->chunk)), loc); /* [T, H, P] */
    y = flatten(&b, y, e);                                        /* [T, E] */
    if (p->gated_norm)
        return ir_gated_rmsnorm(&b, y, z, param(L, w, "gate_norm", loc), p->norm_groups, p->norm_eps,
                                p->norm_before_gate);
    return ir_mul(&b, y, ir_silu(&b, z));
}

/* Short convolution up to c ⊙ conv(b ⊙ x). */
static IrValue pre_short_conv(Lower *L, const Site *s, const SublayerSpec *sl, IrValue u)
{
    const ShortConvSpec *p = &sl->as.short_conv;
    SrcLoc loc = sl->blk.name_loc;
    IrBuilder b = at(L, loc);
    const char *w = s->params;
    int64_t ch = L->m->d_model;
    IrState conv = conv_state(L, s, ch, p->d_conv, loc);
    IrValue bcx = ir_matmul_bias(&b, u, param(L, w, "in_proj", loc), param_if(L, p->bias, w, "in_proj_bias", loc));
    IrValue gb = ir_slice(&b, bcx, 0, ch), gc = ir_slice(&b, bcx, ch, ch), x = ir_slice(&b, bcx, 2 * ch, ch);
    IrValue y = ir_causal_conv1d(&b, ir_mul(&b, gb, x), param(L, w, "conv_w", loc),
                                 param_if(L, p->bias, w, "conv_b", loc), conv);
    return ir_mul(&b, gc, y); /* [T, d] */
}

/* Gated DeltaNet up to the per-head gated norm. */
static IrValue pre_deltanet(Lower *L, const Site *s, const SublayerSpec *sl, IrValue u)
{
    const DeltaNetSpec *p = &sl->as.deltanet;
    SrcLoc loc = sl->blk.name_loc;
    IrBuilder b = at(L, loc);
    const char *w = s->params;
    int64_t hk = p->key_heads, hv = p->value_heads, dk = p->key_dim, dv = p->value_dim;
    IrState conv = conv_state(L, s, p->conv_dim, p->d_conv, loc);
    IrState ssm = delta_state(L, s, p, loc);
    /* canonical in_proj_qkvz rows: [q (Hk·dk); k (Hk·dk); v (Hv·dv); z (Hv·dv)],
     * in_proj_ba rows [b (Hv); a (Hv)], each head-major (docs/families.md §13) */
    IrValue qkvz = ir_matmul(&b, u, param(L, w, "in_proj_qkvz", loc));
    IrValue q = ir_slice(&b, qkvz, 0, hk * dk);                                          /* [T, Hk·dk] */
    IrValue k = ir_slice(&b, qkvz, hk * dk, hk * dk);                                    /* [T, Hk·dk] */
    IrValue v = ir_slice(&b, qkvz, 2 * hk * dk, hv * dv);                                /* [T, Hv·dv] */
    IrValue z = reshape2(&b, ir_slice(&b, qkvz, 2 * hk * dk + hv * dv, hv * dv), hv, dv); /* [T, Hv, dv] */
    IrValue ba = ir_matmul(&b, u, param(L, w, "in_proj_ba", loc));
    IrValue beta = ir_sigmoid(&b, ir_slice(&b, ba, 0, hv)); /* [T, Hv] */
    IrValue a = ir_slice(&b, ba, hv, hv);                   /* [T, Hv] */
    IrValue qkv = ir_concat(&b, (IrValue[]){q, k, v}, 3);                  /* [T, 2·Hk·dk + Hv·dv] */
    qkv = ir_act(&b, schema_names_ConvAct[p->conv_act], ir_causal_conv1d(&b, qkv, param(L, w, "conv_w", loc), IR_NO_PARAM, conv));
    q = ir_l2norm(&b, reshape2(&b, ir_slice(&b, qkv, 0, hk * dk), hk, dk), 1e-6);       /* [T, Hk, dk] */
    k = ir_l2norm(&b, reshape2(&b, ir_slice(&b, qkv, hk * dk, hk * dk), hk, dk), 1e-6); /* [T, Hk, dk] */
    v = reshape2(&b, ir_slice(&b, qkv, 2 * hk * dk, hv * dv), hv, dv);                  /* [T, Hv, dv] */
    IrValue dt = ir_softplus(&b, ir_binary(&b, IR_OP_ADD, ir_v(a), ir_p(param(L, w, "dt_bias", loc))));
    IrValue gl = ir_mul(&b, dt, neg_exp(&b, param(L, w, "A_log", loc))); /* [T, Hv] */
    IrValue o = ir_emit(b.fn, IR_OP_GATED_DELTA_RULE,
                        IR_OPERANDS(ir_v(q), ir_v(k), ir_v(v), ir_v(gl), ir_v(beta), ir_s(ssm)), IR_NO_ATTRS,
                        loc); /* [T, Hv, dv] */
    o = ir_gated_rmsnorm(&b, o, z, param(L, w, "gate_norm", loc), 1, L->m->norm_eps, true);
    return flatten(&b, o, hv * dv); /* [T, Hv·dv] */
}

/* ---- parallel ------------------------------------------------------------------------------- */

static IrValue op_sublayer(Lower *L, const Site *s, const SublayerSpec *sl, IrValue x);

static IrValue pre_branch(Lower *L, const Site *s, const SublayerSpec *sl, IrValue x)
{
    switch (sl->kind) {
    case SUBLAYER_ATTENTION: return pre_attention(L, s, sl, x);
    case SUBLAYER_MAMBA1: return pre_mamba1(L, s, sl, x);
    case SUBLAYER_MAMBA2: return pre_mamba2(L, s, sl, x);
    case SUBLAYER_SHORT_CONV: return pre_short_conv(L, s, sl, x);
    case SUBLAYER_DELTANET: return pre_deltanet(L, s, sl, x);
    default: HYC_DIE("a %s cannot be a parallel branch", schema_sublayer_name(sl->kind));
    }
}

/* The branch's own output projection: its name and whether it has a bias. */
static const char *out_proj_name(const SublayerSpec *sl, bool *bias)
{
    switch (sl->kind) {
    case SUBLAYER_ATTENTION: *bias = sl->as.attention.bias; return "o";
    case SUBLAYER_MAMBA1: *bias = sl->as.mamba1.bias; return "out_proj";
    case SUBLAYER_MAMBA2: *bias = sl->as.mamba2.out_bias; return "out_proj";
    case SUBLAYER_SHORT_CONV: *bias = sl->as.short_conv.bias; return "out_proj";
    case SUBLAYER_DELTANET: *bias = false; return "out_proj";
    default: HYC_UNREACHABLE();
    }
}

/* Heads of a branch's output, for branch_norm = group (sema allows it only
 * on branches with heads). */
static int64_t branch_heads(const SublayerSpec *sl)
{
    switch (sl->kind) {
    case SUBLAYER_ATTENTION: return sl->as.attention.heads;
    case SUBLAYER_MAMBA2: return sl->as.mamba2.heads;
    case SUBLAYER_DELTANET: return sl->as.deltanet.value_heads;
    default: HYC_DIE("a %s branch has no heads", schema_sublayer_name(sl->kind));
    }
}

/* One branch of a parallel block (docs/language.md §3 "parallel"):
 *   y = branch output before its projection   [T, width]
 *   y = β · BranchNorm(y)
 *   per_branch: y = out_scale · (y·W_bᵀ + b_b)  [T, d]
 *   shared:     y = out_scale · y              [T, width]
 * When nothing needs y before the projection, the composite computes
 * y·W_bᵀ + b_b and β multiplies the result: the same (β·y)·Wᵀ, as long as
 * the projection has no bias. */
static IrValue lower_branch(Lower *L, const ParallelSpec *p, const Site *s, const SublayerSpec *br, IrValue h)
{
    const ModelSpec *m = L->m;
    bool shared = p->out_proj == OUT_PROJ_SHARED, out_bias;
    const char *out_name = out_proj_name(br, &out_bias);
    bool pre = shared || p->branch_norm != BRANCH_NORM_NONE || (p->branch_scale != BRANCH_SCALE_NONE && out_bias);
    IrValue u = scaled(L, h, br->in_scale, spec_key_loc(&br->blk, "in_scale"));
    IrValue y = pre ? pre_branch(L, s, br, u) : op_sublayer(L, s, br, u);
    if (p->branch_norm != BRANCH_NORM_NONE) {
        SrcLoc loc = spec_key_loc(&p->blk, "branch_norm");
        IrParam w = param(L, s->params, "branch_norm", loc);
        if (p->branch_norm == BRANCH_NORM_RMS) {
            IrBuilder b = at(L, loc);
            y = ir_rmsnorm_offset(&b, y, w, m->norm_eps, m->norm_offset);
        } else {
            Emit e = {0};
            opnd(&e, "x", ir_v(y));
            opnd(&e, "w", ir_p(w));
            attr(&e, IR_AI("groups", branch_heads(br)));
            attr(&e, IR_AF("eps", m->norm_eps));
            if (m->norm_offset != 0.0) attr(&e, IR_AF("offset", m->norm_offset));
            y = emit(L, IR_OP_GROUP_RMSNORM, &e, loc); /* one group per head */
        }
    }
    if (p->branch_scale != BRANCH_SCALE_NONE) {
        SrcLoc loc = spec_key_loc(&p->blk, "branch_scale");
        IrBuilder b = at(L, loc);
        IrParam w = param(L, s->params, "branch_scale", loc);
        if (p->branch_scale == BRANCH_SCALE_SCALE)
            y = ir_binary(&b, IR_OP_MUL, ir_v(y), ir_p(w)); /* · β, β [1] */
        else
            y = ir_mul(&b, y, ir_sigmoid(&b, ir_matmul(&b, h, w))); /* · σ(h·wᵀ) [T, 1] */
    }
    if (pre && !shared) {
        SrcLoc loc = br->blk.name_loc;
        IrBuilder b = at(L, loc);
        char bias[32];
        snprintf(bias, sizeof bias, "%s_bias", out_name);
        y = ir_matmul_bias(&b, y, param(L, s->params, out_name, loc), param_if(L, out_bias, s->params, bias, loc));
    }
    return scaled(L, y, br->out_scale, spec_key_loc(&br->blk, "out_scale"));
}

/* Branches on the same input h, combined (add, diff = first − second, mean,
 * concat), then the shared W_o when out_proj = shared. */
static IrValue op_parallel(Lower *L, const Site *s, const SublayerSpec *sl, IrValue h)
{
    const ParallelSpec *p = &sl->as.parallel;
    int n = p->n_branches;
    IrValue *ys = ARENA_NEW_N(L->arena, IrValue, n);
    for (int i = 0; i < n; i++) {
        const SublayerSpec *br = &p->branches[i];
        const char *bp = join(L, s->params, br->param_name), *bs = join(L, s->site, br->param_name);
        Site site = {bp, bs};
        ys[i] = lower_branch(L, p, &site, br, h);
    }
    SrcLoc loc = spec_key_loc(&p->blk, "combine");
    IrBuilder b = at(L, loc);
    IrValue y = ys[0];
    switch (p->combine) {
    case COMBINE_ADD:
        for (int i = 1; i < n; i++) y = ir_add(&b, y, ys[i]);
        break;
    case COMBINE_DIFF: y = ir_sub(&b, ys[0], ys[1]); break;
    case COMBINE_MEAN:
        for (int i = 1; i < n; i++) y = ir_add(&b, y, ys[i]);
        y = ir_scale(&b, y, 1.0 / n);
        break;
    case COMBINE_CONCAT: y = ir_concat(&b, ys, n); break;
    }
    if (p->out_proj == OUT_PROJ_SHARED) {
        SrcLoc ol = spec_key_loc(&p->blk, "out_proj");
        IrBuilder ob = at(L, ol);
        y = ir_matmul(&ob, y, param(L, s->params, "out_proj", ol)); /* [T, d] */
    }
    return y;
}

/* ---- sublayers, shared blocks, layers ------------------------------------------------------------ */

static IrValue op_sublayer(Lower *L, const Site *s, const SublayerSpec *sl, IrValue x)
{
    switch (sl->kind) {
    case SUBLAYER_ATTENTION: return op_attention(L, s, sl, x);
    case SUBLAYER_MAMBA1: return op_mamba1(L, s, sl, x);
    case SUBLAYER_MAMBA2: return op_mamba2(L, s, sl, x);
    case SUBLAYER_SHORT_CONV: return op_short_conv(L, s, sl, x);
    case SUBLAYER_DELTANET: return op_deltanet(L, s, sl, x);
    case SUBLAYER_MLP: return op_mlp(L, s, sl, x);
    case SUBLAYER_MOE: return op_moe(L, s, sl, x);
    case SUBLAYER_PARALLEL: return op_parallel(L, s, sl, x);
    case SUBLAYER_USE:
    case SUBLAYER_N_KINDS: break;
    }
    HYC_UNREACHABLE();
}

/* The pre-norm residual wrapper of one sublayer:
 *   y = out_scale · Op(in_scale · Norm(x + t))
 *   x ← x + residual_scale · y   (residual = false: x ← y)
 * t is what a preceding `use` adds to this sublayer's input (IR_NO_VALUE:
 * none); it does not reach the residual. */
static IrValue lower_sublayer(Lower *L, const Site *s, const SublayerSpec *sl, IrValue x, IrValue t)
{
    SrcLoc loc = sl->blk.name_loc;
    IrValue u = x;
    if (t.id >= 0) {
        IrBuilder b = at(L, loc);
        u = ir_add(&b, x, t);
    }
    if (sl->norm) u = model_norm(L, u, s->params, "norm", spec_key_loc(&sl->blk, "norm"));
    u = scaled(L, u, sl->in_scale, spec_key_loc(&sl->blk, "in_scale"));
    IrValue y = op_sublayer(L, s, sl, u);
    y = scaled(L, y, sl->out_scale, spec_key_loc(&sl->blk, "out_scale"));
    if (!sl->residual) return y;
    y = scaled(L, y, L->m->residual_scale, spec_key_loc(&L->m->blk, "residual_scale"));
    IrBuilder b = at(L, spec_key_loc(&sl->blk, "residual"));
    return ir_add(&b, x, y);
}

/* A `use` of a shared block at depth i (docs/language.md §3 "use", §4):
 *   s = [x ; e0]  (input = concat_embedding)  or  x  (input = residual)
 *   s = each sublayer of the block in turn, with the block's weights and
 *       this site's states and adapters
 *   t = s · site_projᵀ   [T, d]
 * The caller adds t to the next sublayer's input. */
static IrValue lower_use(Lower *L, const char *use_prefix, const SublayerSpec *sl, IrValue x)
{
    const SharedBlockDef *blk = sl->as.use.block;
    SrcLoc loc = sl->blk.name_loc;
    IrValue s = x;
    int depth = L->depth;
    L->depth = -1; /* a shared block's attention keeps its own cache per use */
    if (blk->input == SHARED_INPUT_CONCAT_EMBEDDING) {
        IrBuilder b = at(L, loc);
        s = ir_concat(&b, (IrValue[]){x, L->e0}, 2); /* [T, 2d] */
    }
    const char *wp = join(L, "shared", blk->name);
    for (int j = 0; j < blk->n_sublayers; j++) {
        const SublayerSpec *sub = &blk->sublayers[j];
        const char *params = join(L, wp, sub->param_name), *site = join(L, use_prefix, sub->param_name);
        Site st = {params, site};
        s = lower_sublayer(L, &st, sub, s, IR_NO_VALUE);
    }
    L->depth = depth;
    IrBuilder b = at(L, loc);
    return ir_matmul(&b, s, param(L, use_prefix, "site_proj", loc)); /* [T, d] */
}

static IrValue lower_layer(Lower *L, int depth, IrValue x)
{
    const LayerDef *l = L->m->layers[depth];
    char prefix[32];
    snprintf(prefix, sizeof prefix, "layers.%d", depth);
    const char *lp = intern(L->in, prefix);
    L->depth = depth;
    IrValue t = IR_NO_VALUE; /* a use's output, waiting for the next sublayer */
    for (int j = 0; j < l->n_sublayers; j++) {
        const SublayerSpec *sl = &l->sublayers[j];
        const char *sp = join(L, lp, sl->param_name);
        if (sl->kind == SUBLAYER_USE) {
            HYC_ASSERT(t.id < 0); /* sema: a use is followed by a sublayer that is not a use */
            t = lower_use(L, sp, sl, x);
            continue;
        }
        Site s = {sp, sp};
        x = lower_sublayer(L, &s, sl, x, t);
        t = IR_NO_VALUE;
    }
    HYC_ASSERT(t.id < 0);
    return x;
}

/* ---- functions ------------------------------------------------------------------------------------ */

static void name_value(Lower *L, IrValue v, const char *name)
{
    if (!L->fn->values[v.id].name) ir_value_set_name(L->fn, v, name);
}

/* prefill (rows = T) and decode (rows = 1): the same graph. */
static void lower_func(Lower *L, const char *name, const char *arg, int64_t rows)
{
    const ModelSpec *m = L->m;
    SrcLoc mloc = m->blk.name_loc;
    L->fn = ir_func_new(L->mod, name, mloc);
    L->next_state = 0;
    IrValue tokens = ir_func_arg(L->fn, arg, IR_TYPE(IR_DT_I32, rows));
    IrBuilder b = at(L, mloc);
    IrValue x = ir_embed(&b, tokens, param(L, NULL, "embed", mloc)); /* [T, d] */
    x = scaled(L, x, m->embedding_scale, spec_key_loc(&m->blk, "embedding_scale"));
    L->e0 = x;
    name_value(L, x, "e0");
    for (int i = 0; i < m->n_layers; i++) {
        x = lower_layer(L, i, x);
        char vn[40];
        snprintf(vn, sizeof vn, "layers.%d.out", i);
        name_value(L, x, vn);
    }
    for (int i = 0; i < m->n_layers; i++) HYC_ASSERT(L->kv[i].waiting == 0); /* every shared cache stored */
    if (m->final_norm) x = model_norm(L, x, NULL, "final_norm", spec_key_loc(&m->blk, "final_norm"));
    SrcLoc hl = spec_key_loc(&m->blk, "tie_embeddings");
    IrBuilder hb = at(L, hl);
    x = ir_matmul(&hb, x, param(L, NULL, m->tie_embeddings ? "embed" : "lm_head", hl)); /* [T, vocab] */
    x = scaled(L, x, m->logits_scale, spec_key_loc(&m->blk, "logits_scale"));
    name_value(L, x, "logits");
    ir_func_return(L->fn, x, hl);
    if (!L->declare_states) HYC_ASSERT(L->next_state == L->mod->n_states);
}

/* ---- what the IR cannot express -------------------------------------------------------------------- */

/* A causal convolution keeps d_conv − 1 columns of state and needs
 * d_conv ≥ 2 (docs/ir.md: causal_conv1d); sema accepts 1. */
static void check_conv(Diag *diag, const SublayerSpec *sl)
{
    if (sl->kind == SUBLAYER_PARALLEL) {
        for (int i = 0; i < sl->as.parallel.n_branches; i++) check_conv(diag, &sl->as.parallel.branches[i]);
        return;
    }
    const SpecBlock *kb;
    int64_t k;
    switch (sl->kind) {
    case SUBLAYER_MAMBA1: kb = &sl->as.mamba1.blk, k = sl->as.mamba1.d_conv; break;
    case SUBLAYER_MAMBA2: kb = &sl->as.mamba2.blk, k = sl->as.mamba2.d_conv; break;
    case SUBLAYER_SHORT_CONV: kb = &sl->as.short_conv.blk, k = sl->as.short_conv.d_conv; break;
    case SUBLAYER_DELTANET: kb = &sl->as.deltanet.blk, k = sl->as.deltanet.d_conv; break;
    default: return;
    }
    if (k < 2)
        diag_error(diag, spec_key_loc(kb, "d_conv"),
                   "'d_conv' = %lld cannot be compiled: a causal convolution needs d_conv >= 2", (long long)k);
}

static bool check_lowerable(const ModelSpec *m, Diag *diag)
{
    int before = diag->n_errors;
    for (int i = 0; i < m->n_layer_defs; i++) {
        const LayerDef *l = &m->layer_defs[i];
        if (l->n_uses == 0) continue;
        for (int j = 0; j < l->n_sublayers; j++) check_conv(diag, &l->sublayers[j]);
    }
    for (int i = 0; i < m->n_shared_blocks; i++) {
        const SharedBlockDef *b = &m->shared_blocks[i];
        if (b->n_uses == 0) continue;
        for (int j = 0; j < b->n_sublayers; j++) check_conv(diag, &b->sublayers[j]);
    }
    return diag->n_errors == before;
}

/* ---- the module ------------------------------------------------------------------------------------ */

IrModule *lower_model(const ModelSpec *m, Arena *arena, Interner *in, Diag *diag)
{
    if (!check_lowerable(m, diag)) return NULL;
    Lower L = {0};
    L.m = m;
    L.arena = arena;
    L.in = in;
    L.mod = ir_module_new(arena, in, m->name, m->blk.name_loc);
    L.mod->max_seq = m->max_seq;
    L.kv = ARENA_NEW_N(arena, KvShare, m->n_layers ? m->n_layers : 1);
    declare_params(&L);

    L.declare_states = true;
    lower_func(&L, "prefill", "tokens", IR_DIM_T);
    L.declare_states = false;
    lower_func(&L, "decode", "token", 1);

    /* The module's weights are exactly the spec's: declared from
     * spec_params, and every one of them used. */
    for (int i = 0; i < L.mod->n_params; i++)
        if (!L.used[i]) HYC_DIE("param '%s' of spec_params is not used by the lowering", L.mod->params[i].name);
    int64_t want = spec_state_bytes(m, m->max_seq);
    if (want < INT64_MAX) HYC_ASSERT(ir_module_state_bytes(L.mod) == (uint64_t)want);
    sb_free(&L.name);
    return L.mod;
}
