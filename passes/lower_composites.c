/* lower_composites.c — expand every composite op into primitives.
 * requires: nothing  provides: lowered (invalidates canonical)
 *
 * Each expansion follows docs/MODELS.md and the Hugging Face modeling code
 * of the families that use it; shape comments give [rows, cols] with T the
 * token count.  Every primitive keeps the composite's location, so a later
 * error still points at the DSL line of the layer. */
#include "passes.h"

#include <math.h>
#include <string.h>

typedef struct Lower {
    IrRewrite *rw;
    IrBuilder b;
    const IrInst *in; /* the composite, in the old instruction list */
} Lower;

/* ---- operand access -------------------------------------------------------- */

static IrOperand opnd(const Lower *L, const char *slot)
{
    return ir_rewrite_operand(L->rw, ir_inst_operand(L->in, slot));
}

static IrValue val(const Lower *L, const char *slot)
{
    IrOperand o = opnd(L, slot);
    HYC_ASSERT(o.kind == IR_OPND_VALUE);
    return (IrValue){o.id};
}

static IrParam prm(const Lower *L, const char *slot)
{
    IrOperand o = opnd(L, slot);
    HYC_ASSERT(o.kind == IR_OPND_PARAM || o.kind == IR_OPND_NONE);
    return o.kind == IR_OPND_PARAM ? (IrParam){o.id} : IR_NO_PARAM;
}

static IrState st(const Lower *L, const char *slot)
{
    IrOperand o = opnd(L, slot);
    HYC_ASSERT(o.kind == IR_OPND_STATE);
    return (IrState){o.id};
}

static const IrType *ptype(const Lower *L, const char *slot)
{
    IrParam p = prm(L, slot);
    HYC_ASSERT(p.id >= 0);
    return &L->rw->fn->mod->params[p.id].type;
}

static const IrType *stype(const Lower *L, const char *slot)
{
    return &L->rw->fn->mod->states[st(L, slot).id].type;
}

/* ---- small building blocks ------------------------------------------------- */

static IrValue reshape(Lower *L, IrValue x, int n, int64_t d0, int64_t d1)
{
    int64_t dims[2] = {d0, d1};
    return ir_reshape(&L->b, x, n, dims);
}

static IrValue unary_p(Lower *L, IrOp op, IrParam p) { return ir_unary(&L->b, op, ir_p(p)); }

/* A = -exp(A_log): a param-only value (foldable into the weights later). */
static IrValue neg_exp(Lower *L, IrParam a_log)
{
    return ir_unary(&L->b, IR_OP_NEG, ir_v(unary_p(L, IR_OP_EXP, a_log)));
}

/* x·Wᵀ (+ bias) (+ LoRA: (x·Aᵀ)·Bᵀ). */
static IrValue proj(Lower *L, IrValue x, IrParam w, IrParam bias, IrParam lora_a, IrParam lora_b)
{
    IrValue y = ir_matmul_bias(&L->b, x, w, bias);
    if (lora_a.id >= 0) y = ir_add(&L->b, y, ir_matmul(&L->b, ir_matmul(&L->b, x, lora_a), lora_b));
    return y;
}

static IrValue scaled(Lower *L, IrValue x, double f) { return f == 1.0 ? x : ir_scale(&L->b, x, f); }

static IrValue act(Lower *L, const char *name, IrValue x) { return ir_act(&L->b, name, x); }

static bool gated(const char *a) { return ir_act_info(a).gated; }

/* A feed-forward block (mlp, and the shared expert of moe):
 *   gated:     down(act(gate_scale · x·Gᵀ) ⊙ x·Uᵀ)   (a fused up holds [G; U])
 *   not gated: down(act(x·Uᵀ))
 * then · down_scale. */
static IrValue ffn(Lower *L, IrValue x, const char *a, IrParam up, IrParam down, IrParam gate,
                   IrParam up_b, IrParam down_b, IrParam gate_b, IrParam lora_a, IrParam lora_b,
                   double gate_scale, double down_scale)
{
    IrBuilder *b = &L->b;
    const IrType *tu = &L->rw->fn->mod->params[up.id].type;
    IrValue u, h;
    if (gated(a)) {
        IrValue g;
        if (gate.id >= 0) {
            g = ir_matmul_bias(b, x, gate, gate_b);           /* [T, h] */
            u = proj(L, x, up, up_b, lora_a, lora_b);          /* [T, h] */
        } else {
            int64_t hid = tu->dims[0] / 2;
            IrValue gu = proj(L, x, up, up_b, lora_a, lora_b); /* [T, 2h] */
            g = ir_slice(b, gu, 0, hid);
            u = ir_slice(b, gu, hid, hid);
        }
        h = ir_mul(b, act(L, a, scaled(L, g, gate_scale)), u);
    } else {
        h = act(L, a, proj(L, x, up, up_b, lora_a, lora_b));
    }
    return scaled(L, ir_matmul_bias(b, h, down, down_b), down_scale);
}

/* ---- attention --------------------------------------------------------------
 * q, k, v projections (+bias, +LoRA) -> per-head [T, H, d] -> q/k RMSNorm ->
 * key scale -> RoPE -> sdpa over cache + fresh k, v -> kv_store -> output
 * gate -> o_proj. */
static void rope_attrs(const IrInst *in, IrNamedAttr *a, int *n)
{
    a[(*n)++] = IR_AI("dim", ir_attr_i(in, "rope_dim"));
    a[(*n)++] = IR_AF("base", ir_attr_f(in, "rope_base"));
    if (ir_attr_b(in, "rope_interleaved")) a[(*n)++] = IR_AB("interleaved", true);
    if (strcmp(ir_attr_s(in, "rope_scaling"), "none") != 0) {
        a[(*n)++] = IR_AS("scaling", ir_attr_s(in, "rope_scaling"));
        const IrAttr *p = ir_attr_get(in, "rope_scaling_params");
        a[(*n)++] = (IrNamedAttr){"scaling_params", *p};
    }
}

static IrValue lower_attention(Lower *L)
{
    IrBuilder *b = &L->b;
    const IrInst *in = L->in;
    int64_t h = ir_attr_i(in, "heads"), hkv = ir_attr_i(in, "kv_heads");
    bool gate = ir_attr_b(in, "output_gate");
    int64_t dk = ptype(L, "wq")->dims[0] / (h * (gate ? 2 : 1)), dv = ptype(L, "wv")->dims[0] / hkv;
    IrValue x = val(L, "x");
    IrState cache = st(L, "cache");
    IrValue q = proj(L, x, prm(L, "wq"), prm(L, "bq"), prm(L, "q_lora_a"), prm(L, "q_lora_b"));
    IrValue k = proj(L, x, prm(L, "wk"), prm(L, "bk"), prm(L, "k_lora_a"), prm(L, "k_lora_b"));
    IrValue v = proj(L, x, prm(L, "wv"), prm(L, "bv"), prm(L, "v_lora_a"), prm(L, "v_lora_b"));
    IrValue g = IR_NO_VALUE;
    if (gate) { /* q_proj yields all queries, then all gates (canonical layout) */
        g = ir_slice(b, q, h * dk, h * dk);                 /* [T, H*dk] */
        q = reshape(L, ir_slice(b, q, 0, h * dk), 2, h, dk); /* [T, H, dk] */
    } else {
        q = reshape(L, q, 2, h, dk); /* [T, H, dk] */
    }
    k = reshape(L, k, 2, hkv, dk); /* [T, Hkv, dk] */
    v = reshape(L, v, 2, hkv, dv); /* [T, Hkv, dv] */
    double eps = ir_attr_f(in, "qk_norm_eps"), off = ir_attr_f(in, "qk_norm_offset");
    if (prm(L, "q_norm").id >= 0) q = ir_rmsnorm_offset(b, q, prm(L, "q_norm"), eps, off);
    if (prm(L, "k_norm").id >= 0) k = ir_rmsnorm_offset(b, k, prm(L, "k_norm"), eps, off);
    k = scaled(L, k, ir_attr_f(in, "key_scale"));
    if (ir_attr_i(in, "rope_dim") > 0) {
        IrNamedAttr ra[5];
        int n = 0;
        rope_attrs(in, ra, &n);
        q = ir_emit(b->fn, IR_OP_ROPE, IR_OPERANDS(ir_v(q)), (IrAttrList){ra, n}, b->loc);
        k = ir_emit(b->fn, IR_OP_ROPE, IR_OPERANDS(ir_v(k)), (IrAttrList){ra, n}, b->loc);
    }
    IrNamedAttr sa[2];
    int n = 0;
    if (ir_attr_has(in, "scale")) sa[n++] = IR_AF("scale", ir_attr_f(in, "scale"));
    if (ir_attr_i(in, "window") > 0) sa[n++] = IR_AI("window", ir_attr_i(in, "window"));
    /* Attend first, then store: a ring-buffer cache must still hold the
     * positions the new queries see. */
    IrValue o = ir_emit(b->fn, IR_OP_SDPA, IR_OPERANDS(ir_v(q), ir_v(k), ir_v(v), ir_s(cache)),
                        (IrAttrList){sa, n}, b->loc); /* [T, H, dv] */
    ir_kv_store(b, k, v, cache);
    o = reshape(L, o, 1, h * dv, 0); /* [T, H*dv] */
    if (gate) o = ir_mul(b, o, ir_sigmoid(b, g));
    return ir_matmul_bias(b, o, prm(L, "wo"), prm(L, "bo"));
}

/* ---- Mamba-1 ----------------------------------------------------------------
 * in_proj -> [x; z] -> causal conv -> conv_act (SiLU) -> x_proj -> [δ; B; C] (+ inner
 * RMSNorms) -> dt_proj (+bias) -> softplus -> selective_scan(D, z gate) ->
 * out_proj. */
static IrValue lower_mamba1(Lower *L)
{
    IrBuilder *b = &L->b;
    const IrInst *in = L->in;
    int64_t e = ptype(L, "in_proj")->dims[0] / 2, n = ptype(L, "A_log")->dims[1];
    int64_t r = ptype(L, "dt_proj")->dims[1];
    IrValue xz = ir_matmul_bias(b, val(L, "x"), prm(L, "in_proj"), prm(L, "in_proj_b")); /* [T, 2E] */
    IrValue x = ir_slice(b, xz, 0, e);                                                    /* [T, E] */
    IrValue z = ir_slice(b, xz, e, e);                                                    /* [T, E] */
    x = ir_causal_conv1d(b, x, prm(L, "conv_w"), prm(L, "conv_b"), st(L, "conv"));
    x = ir_act(b, ir_attr_s(in, "conv_act"), x);
    IrValue dbc = ir_matmul(b, x, prm(L, "x_proj")); /* [T, R + 2N] */
    IrValue dt = ir_slice(b, dbc, 0, r);             /* [T, R] */
    IrValue bb = ir_slice(b, dbc, r, n);             /* [T, N] */
    IrValue cc = ir_slice(b, dbc, r + n, n);         /* [T, N] */
    const char *norms = ir_attr_s(in, "inner_norms");
    if (strcmp(norms, "none") != 0) {
        double eps = ir_attr_f(in, "inner_norm_eps");
        dt = ir_rmsnorm(b, dt, prm(L, "dt_norm"), eps); /* weights absent when unweighted */
        bb = ir_rmsnorm(b, bb, prm(L, "b_norm"), eps);
        cc = ir_rmsnorm(b, cc, prm(L, "c_norm"), eps);
    }
    dt = ir_softplus(b, ir_matmul_bias(b, dt, prm(L, "dt_proj"), prm(L, "dt_bias"))); /* [T, E] */
    IrValue a = neg_exp(L, prm(L, "A_log"));                                          /* [E, N] */
    IrValue y = ir_emit(b->fn, IR_OP_SELECTIVE_SCAN,
                        IR_OPERANDS(ir_v(x), ir_v(dt), ir_v(a), ir_v(bb), ir_v(cc), ir_s(st(L, "ssm")),
                                    ir_p(prm(L, "D")), ir_v(z)),
                        IR_NO_ATTRS, b->loc); /* [T, E] */
    return ir_matmul_bias(b, y, prm(L, "out_proj"), prm(L, "out_proj_b"));
}

/* ---- Mamba-2 ----------------------------------------------------------------
 * in_proj -> [z, xBC, dt] (µP segment scales) -> causal conv -> conv_act (SiLU) ->
 * [x, B, C] per head / group -> Δ = clamp(softplus(dt + dt_bias)) ->
 * ssd_scan(D) -> gated RMSNorm with z (or y ⊙ SiLU(z)) -> out_proj. */
static IrValue lower_mamba2(Lower *L)
{
    IrBuilder *b = &L->b;
    const IrInst *in = L->in;
    const IrType *ssm = stype(L, "ssm");
    int64_t h = ssm->dims[0], p = ssm->dims[1], n = ssm->dims[2], e = h * p;
    int64_t conv_ch = ptype(L, "conv_w")->dims[0], g = (conv_ch - e) / (2 * n);
    IrValue zxd = ir_matmul_bias(b, val(L, "x"), prm(L, "in_proj"), prm(L, "in_proj_b"));
    IrValue z = ir_slice(b, zxd, 0, e);                  /* [T, E] */
    IrValue xbc = ir_slice(b, zxd, e, conv_ch);          /* [T, E + 2GN] */
    IrValue dt = ir_slice(b, zxd, e + conv_ch, h);       /* [T, H] */
    const IrAttr *sc = ir_attr_get(in, "in_proj_scales"); /* z, x, B, C, dt */
    if (sc) {
        z = scaled(L, z, sc->floats[0]);
        if (sc->floats[1] != 1.0 || sc->floats[2] != 1.0 || sc->floats[3] != 1.0) {
            IrValue parts[3] = {
                scaled(L, ir_slice(b, xbc, 0, e), sc->floats[1]),
                scaled(L, ir_slice(b, xbc, e, g * n), sc->floats[2]),
                scaled(L, ir_slice(b, xbc, e + g * n, g * n), sc->floats[3]),
            };
            xbc = ir_concat(b, parts, 3);
        }
        dt = scaled(L, dt, sc->floats[4]);
    }
    xbc = ir_act(b, ir_attr_s(in, "conv_act"), ir_causal_conv1d(b, xbc, prm(L, "conv_w"), prm(L, "conv_b"), st(L, "conv")));
    IrValue x = reshape(L, ir_slice(b, xbc, 0, e), 2, h, p);          /* [T, H, P] */
    IrValue bb = reshape(L, ir_slice(b, xbc, e, g * n), 2, g, n);     /* [T, G, N] */
    IrValue cc = reshape(L, ir_slice(b, xbc, e + g * n, g * n), 2, g, n);
    dt = ir_softplus(b, ir_binary(b, IR_OP_ADD, ir_v(dt), ir_p(prm(L, "dt_bias")))); /* [T, H] */
    double lo = ir_attr_f(in, "dt_min"), hi = ir_attr_f(in, "dt_max");
    if (lo > 0 || !isinf(hi)) dt = ir_clamp(b, dt, lo, hi);
    IrValue a = neg_exp(L, prm(L, "A_log")); /* [H] */
    IrValue y = ir_emit(b->fn, IR_OP_SSD_SCAN,
                        IR_OPERANDS(ir_v(x), ir_v(dt), ir_v(a), ir_v(bb), ir_v(cc), ir_s(st(L, "ssm")),
                                    ir_p(prm(L, "D"))),
                        IR_ATTRS(IR_AI("chunk", ir_attr_i(in, "chunk"))), b->loc); /* [T, H, P] */
    y = reshape(L, y, 1, e, 0);                                                   /* [T, E] */
    if (prm(L, "norm").id >= 0) {
        int64_t groups = ir_attr_has(in, "norm_groups") ? ir_attr_i(in, "norm_groups") : g;
        y = ir_gated_rmsnorm(b, y, z, prm(L, "norm"), groups, ir_attr_f(in, "norm_eps"),
                             ir_attr_b(in, "norm_before_gate"));
    } else {
        y = ir_mul(b, y, ir_silu(b, z));
    }
    return ir_matmul_bias(b, y, prm(L, "out_proj"), prm(L, "out_proj_b"));
}

/* ---- LFM2 short convolution -------------------------------------------------
 * [b, c, x] = in_proj(h); y = c ⊙ causal_conv(b ⊙ x); out_proj(y). */
static IrValue lower_short_conv(Lower *L)
{
    IrBuilder *b = &L->b;
    int64_t ch = ptype(L, "in_proj")->dims[0] / 3;
    IrValue bcx = ir_matmul_bias(b, val(L, "x"), prm(L, "in_proj"), prm(L, "in_proj_b")); /* [T, 3C] */
    IrValue gb = ir_slice(b, bcx, 0, ch), gc = ir_slice(b, bcx, ch, ch), x = ir_slice(b, bcx, 2 * ch, ch);
    IrValue y = ir_causal_conv1d(b, ir_mul(b, gb, x), prm(L, "conv_w"), prm(L, "conv_b"), st(L, "conv"));
    return ir_matmul_bias(b, ir_mul(b, gc, y), prm(L, "out_proj"), prm(L, "out_proj_b"));
}

/* ---- Qwen3-Next gated DeltaNet ----------------------------------------------
 * in_proj_qkvz is segment-major (the canonical layout; hf:qwen3_next regroups
 * HF's per-key-head [q k v z]): [q (Hk·dk); k (Hk·dk); v (Hv·dv); z (Hv·dv)],
 * and in_proj_ba [b (Hv); a (Hv)].  Then
 * conv(q;k;v) -> conv_act (SiLU) -> L2-normalized q, k; β = σ(b);
 * g = -exp(A_log)·softplus(a + dt_bias); gated delta rule; per-head RMSNorm
 * gated by SiLU(z) (norm before gate); out_proj. */
static IrValue lower_deltanet(Lower *L)
{
    IrBuilder *b = &L->b;
    const IrInst *in = L->in;
    const IrType *ssm = stype(L, "ssm");
    int64_t hv = ssm->dims[0], dk = ssm->dims[1], dv = ssm->dims[2];
    int64_t conv_ch = ptype(L, "conv_w")->dims[0], hk = (conv_ch - hv * dv) / (2 * dk);
    IrValue x = val(L, "x");
    IrValue qkvz = ir_matmul(b, x, prm(L, "in_proj_qkvz"));                      /* [T, 2·Hk·dk + 2·Hv·dv] */
    IrValue q = ir_slice(b, qkvz, 0, hk * dk);                                     /* [T, Hk*dk] */
    IrValue k = ir_slice(b, qkvz, hk * dk, hk * dk);                               /* [T, Hk*dk] */
    IrValue v = ir_slice(b, qkvz, 2 * hk * dk, hv * dv);                           /* [T, Hv*dv] */
    IrValue z = reshape(L, ir_slice(b, qkvz, 2 * hk * dk + hv * dv, hv * dv), 2, hv, dv); /* [T, Hv, dv] */
    IrValue ba = ir_matmul(b, x, prm(L, "in_proj_ba"));                           /* [T, 2Hv] */
    IrValue beta = ir_sigmoid(b, ir_slice(b, ba, 0, hv));                          /* [T, Hv] */
    IrValue a = ir_slice(b, ba, hv, hv);                                           /* [T, Hv] */
    IrValue parts[3] = {q, k, v};
    IrValue qkv = ir_concat(b, parts, 3); /* [T, 2·Hk·dk + Hv·dv] */
    qkv = ir_act(b, ir_attr_s(in, "conv_act"), ir_causal_conv1d(b, qkv, prm(L, "conv_w"), prm(L, "conv_b"), st(L, "conv")));
    double l2 = ir_attr_f(in, "l2norm_eps");
    q = ir_l2norm(b, reshape(L, ir_slice(b, qkv, 0, hk * dk), 2, hk, dk), l2);       /* [T, Hk, dk] */
    k = ir_l2norm(b, reshape(L, ir_slice(b, qkv, hk * dk, hk * dk), 2, hk, dk), l2); /* [T, Hk, dk] */
    v = reshape(L, ir_slice(b, qkv, 2 * hk * dk, hv * dv), 2, hv, dv);               /* [T, Hv, dv] */
    IrValue dt = ir_softplus(b, ir_binary(b, IR_OP_ADD, ir_v(a), ir_p(prm(L, "dt_bias"))));
    IrValue g = ir_mul(b, dt, neg_exp(L, prm(L, "A_log"))); /* [T, Hv] */
    IrNamedAttr sa[1];
    int n = 0;
    if (ir_attr_has(in, "scale")) sa[n++] = IR_AF("scale", ir_attr_f(in, "scale"));
    IrValue o = ir_emit(b->fn, IR_OP_GATED_DELTA_RULE,
                        IR_OPERANDS(ir_v(q), ir_v(k), ir_v(v), ir_v(g), ir_v(beta), ir_s(st(L, "ssm"))),
                        (IrAttrList){sa, n}, b->loc); /* [T, Hv, dv] */
    o = ir_gated_rmsnorm(b, o, z, prm(L, "norm"), 1, ir_attr_f(in, "norm_eps"), true);
    return ir_matmul(b, reshape(L, o, 1, hv * dv, 0), prm(L, "out_proj"));
}

/* ---- MLP and MoE ------------------------------------------------------------ */

static IrValue lower_mlp(Lower *L)
{
    const IrInst *in = L->in;
    return ffn(L, val(L, "x"), ir_attr_s(in, "act"), prm(L, "up"), prm(L, "down"), prm(L, "gate"),
               prm(L, "up_b"), prm(L, "down_b"), prm(L, "gate_b"), prm(L, "lora_a"), prm(L, "lora_b"),
               ir_attr_f(in, "gate_scale"), ir_attr_f(in, "down_scale"));
}

/* router logits -> route (top-k weights, dense [T, E], group-limited when
 * route_groups > 1) -> moe_experts (between latent_in and latent_out when
 * given); + shared expert (⊙ σ(x·w) when gated), on x */
static IrValue lower_moe(Lower *L)
{
    IrBuilder *b = &L->b;
    const IrInst *in = L->in;
    const char *a = ir_attr_s(in, "act");
    IrValue x = val(L, "x");
    IrValue logits = ir_matmul(b, x, prm(L, "router")); /* [T, E] */
    IrNamedAttr ra[6] = {IR_AS("mode", ir_attr_s(in, "routing")), IR_AI("k", ir_attr_i(in, "top_k")),
                         IR_AB("renormalize", ir_attr_b(in, "renormalize")),
                         IR_AF("scale", ir_attr_f(in, "routed_scale"))};
    int nra = 4;
    if (ir_attr_i(in, "route_groups") > 1) {
        ra[nra++] = IR_AI("groups", ir_attr_i(in, "route_groups"));
        ra[nra++] = IR_AI("topk_groups", ir_attr_i(in, "route_topk_groups"));
    }
    IrValue w = ir_emit(b->fn, IR_OP_ROUTE, IR_OPERANDS(ir_v(logits), ir_p(prm(L, "router_bias"))),
                        (IrAttrList){ra, nra}, b->loc); /* [T, E] */
    /* Latent experts: routed on x, run on x·latent_inᵀ [T, l], mapped back. */
    bool latent = prm(L, "latent_in").id >= 0;
    IrValue xe = latent ? ir_matmul(b, x, prm(L, "latent_in")) : x;
    IrValue y = ir_emit(b->fn, IR_OP_MOE_EXPERTS,
                        IR_OPERANDS(ir_v(xe), ir_v(w), ir_p(prm(L, "up")), ir_p(prm(L, "down")),
                                    ir_p(prm(L, "gate"))),
                        IR_ATTRS(IR_AS("act", a)), b->loc); /* [T, d] or [T, l] */
    if (latent) y = ir_matmul(b, y, prm(L, "latent_out")); /* [T, d] */
    if (prm(L, "shared_up").id < 0) return y;
    IrValue s = ffn(L, x, a, prm(L, "shared_up"), prm(L, "shared_down"), prm(L, "shared_gate"), IR_NO_PARAM,
                    IR_NO_PARAM, IR_NO_PARAM, IR_NO_PARAM, IR_NO_PARAM, 1.0, 1.0);
    if (prm(L, "shared_gate_proj").id >= 0)
        s = ir_mul(b, s, ir_sigmoid(b, ir_matmul(b, x, prm(L, "shared_gate_proj")))); /* [T, d] ⊙ [T, 1] */
    return ir_add(b, y, s);
}

/* ---- the pass ---------------------------------------------------------------- */

static IrValue expand(Lower *L)
{
    switch (L->in->op) {
    case IR_OP_ATTENTION: return lower_attention(L);
    case IR_OP_MAMBA1_MIXER: return lower_mamba1(L);
    case IR_OP_MAMBA2_MIXER: return lower_mamba2(L);
    case IR_OP_SHORT_CONV_MIXER: return lower_short_conv(L);
    case IR_OP_DELTANET_MIXER: return lower_deltanet(L);
    case IR_OP_MLP: return lower_mlp(L);
    case IR_OP_MOE: return lower_moe(L);
    default: HYC_DIE("no lowering for composite op '%s'", ir_op_name(L->in->op));
    }
}

static int lower_func(IrFunc *fn)
{
    IrRewrite rw;
    ir_rewrite_begin(&rw, fn);
    int expanded = 0;
    for (int i = 0; i < rw.n_old; i++) {
        const IrInst *in = &rw.old[i];
        if (!(ir_op_info(in->op)->flags & IR_OPF_COMPOSITE)) {
            ir_rewrite_copy(&rw, in);
            continue;
        }
        Lower L = {&rw, ir_builder(fn, in->loc), in};
        IrValue out = expand(&L);
        HYC_ASSERT(ir_type_eq(ir_value_type(fn, out), &fn->values[in->result].type));
        ir_rewrite_replace(&rw, in->result, out);
        expanded++;
    }
    ir_rewrite_end(&rw);
    return expanded;
}

static bool run_lower(IrModule *m, PassCtx *ctx)
{
    for (int i = 0; i < m->n_funcs; i++) ctx->changes += lower_func(m->funcs[i]);
    return true;
}

const Pass pass_lower_composites = {
    .name = "lower-composites",
    .description = "expand attention, mamba1/2, short_conv, deltanet, mlp and moe into primitives",
    .requires = 0,
    .provides = PASS_PROP_LOWERED,
    .invalidates = PASS_PROP_CANONICAL,
    .run = run_lower,
};
