/* hf_names.c — `weights { naming = "hf:<family>" }`: where each canonical
 * parameter of hyc lives in a Hugging Face checkpoint, and how to turn the
 * stored tensor into the canonical layout (docs/families.md).
 *
 * One table of rules per family.  A rule pairs a canonical pattern with an
 * HF pattern and a transform; patterns hold placeholders:
 *
 *   {i}  a layer depth (canonical and HF)
 *   {b}  a Zamba2 shared block's name: "shared.{b}..." (canonical); the
 *        dims name the blocks (default block0, block1, ...)
 *   {S}  the depth under which a Zamba2 shared block is stored: the first
 *        hybrid layer that uses it (HF)
 *   {k}  the index of layer {i} among Zamba2's hybrid layers, which numbers
 *        the per-site adapters (HF)
 *   {P}  "mamba_decoder." in a Zamba2 hybrid layer, "" elsewhere (HF)
 *   {H}  "", and the rule applies only to Zamba2 hybrid layers (HF)
 *   {e}  left in legacy names: the expert index of per-expert tensors
 *
 * Canonical names that a model does not have (biases of a model without
 * bias, ...) are harmless rules: nothing asks for them.
 */
#include "frontend.h"

#include <string.h>

/* ---- rules ---------------------------------------------------------------- */

typedef enum RuleXf {
    RX_COPY,
    RX_SQUEEZE,
    RX_HALF0,  /* first half of axis 0: gate of a fused gate_up */
    RX_HALF1,  /* second half of axis 0: up */
    RX_EHALF0, /* first half of axis 1 of an expert tensor [n, 2I, d] */
    RX_EHALF1,
    RX_QGATE,  /* Qwen3-Next q_proj: per head [query; gate] -> [queries; gates] */
    RX_QKVZ,   /* Qwen3-Next in_proj_qkvz: per key head [q k v z] -> [q; k; v; z] */
    RX_BA,     /* Qwen3-Next in_proj_ba: per key head [b a] -> [b; a] */
    RX_REREAD, /* a copy of a tensor another canonical name also reads */
    RX_STACK,  /* legacy per-expert tensors stacked */
} RuleXf;

typedef struct HfRule {
    const char *canon;
    const char *hf;
    RuleXf xf;
    const char *legacy; /* the pre-5.0 name, or NULL */
    RuleXf legacy_xf;
} HfRule;

struct HfFamily {
    const char *name;
    const HfRule *rules; /* ends with a rule whose canon is NULL */
    /* Legacy checkpoints of the family use another prefix for every tensor
     * (Nemotron-H: "backbone." for "model."); NULL: none. */
    const char *legacy_from, *legacy_to;
    bool zamba_shared; /* shared-block ties (hf_tied_source) */
};

/* Fragments shared by several families.  C: canonical prefix, H: HF prefix. */
#define ATTN_QKV(C, H)                                                                  \
    {C "q", H "q_proj.weight", RX_COPY, NULL, RX_COPY},                                 \
    {C "k", H "k_proj.weight", RX_COPY, NULL, RX_COPY},                                 \
    {C "v", H "v_proj.weight", RX_COPY, NULL, RX_COPY},                                 \
    {C "q_bias", H "q_proj.bias", RX_COPY, NULL, RX_COPY},                              \
    {C "k_bias", H "k_proj.bias", RX_COPY, NULL, RX_COPY},                              \
    {C "v_bias", H "v_proj.bias", RX_COPY, NULL, RX_COPY}

#define ATTN(C, H)                                                                      \
    ATTN_QKV(C, H),                                                                     \
    {C "o", H "o_proj.weight", RX_COPY, NULL, RX_COPY},                                 \
    {C "o_bias", H "o_proj.bias", RX_COPY, NULL, RX_COPY}

#define MAMBA1(C, H)                                                                    \
    {C "in_proj", H "in_proj.weight", RX_COPY, NULL, RX_COPY},                          \
    {C "in_proj_bias", H "in_proj.bias", RX_COPY, NULL, RX_COPY},                       \
    {C "conv_w", H "conv1d.weight", RX_SQUEEZE, NULL, RX_COPY},                         \
    {C "conv_b", H "conv1d.bias", RX_COPY, NULL, RX_COPY},                              \
    {C "x_proj", H "x_proj.weight", RX_COPY, NULL, RX_COPY},                            \
    {C "dt_proj", H "dt_proj.weight", RX_COPY, NULL, RX_COPY},                          \
    {C "dt_bias", H "dt_proj.bias", RX_COPY, NULL, RX_COPY},                            \
    {C "A_log", H "A_log", RX_COPY, NULL, RX_COPY},                                     \
    {C "D", H "D", RX_COPY, NULL, RX_COPY},                                             \
    {C "out_proj", H "out_proj.weight", RX_COPY, NULL, RX_COPY},                        \
    {C "out_proj_bias", H "out_proj.bias", RX_COPY, NULL, RX_COPY},                     \
    {C "dt_norm", H "dt_layernorm.weight", RX_COPY, NULL, RX_COPY},                     \
    {C "b_norm", H "b_layernorm.weight", RX_COPY, NULL, RX_COPY},                       \
    {C "c_norm", H "c_layernorm.weight", RX_COPY, NULL, RX_COPY}

#define MAMBA2(C, H)                                                                    \
    {C "in_proj", H "in_proj.weight", RX_COPY, NULL, RX_COPY},                          \
    {C "in_proj_bias", H "in_proj.bias", RX_COPY, NULL, RX_COPY},                       \
    {C "conv_w", H "conv1d.weight", RX_SQUEEZE, NULL, RX_COPY},                         \
    {C "conv_b", H "conv1d.bias", RX_COPY, NULL, RX_COPY},                              \
    {C "dt_bias", H "dt_bias", RX_COPY, NULL, RX_COPY},                                 \
    {C "A_log", H "A_log", RX_COPY, NULL, RX_COPY},                                     \
    {C "D", H "D", RX_COPY, NULL, RX_COPY},                                             \
    {C "gate_norm", H "norm.weight", RX_COPY, NULL, RX_COPY},                           \
    {C "out_proj", H "out_proj.weight", RX_COPY, NULL, RX_COPY},                        \
    {C "out_proj_bias", H "out_proj.bias", RX_COPY, NULL, RX_COPY}

/* A gated MLP stored as three linears named G, U, D under H. */
#define MLP3(C, H, G, U, D)                                                             \
    {C "gate", H G ".weight", RX_COPY, NULL, RX_COPY},                                  \
    {C "up", H U ".weight", RX_COPY, NULL, RX_COPY},                                    \
    {C "down", H D ".weight", RX_COPY, NULL, RX_COPY},                                  \
    {C "gate_bias", H G ".bias", RX_COPY, NULL, RX_COPY},                               \
    {C "up_bias", H U ".bias", RX_COPY, NULL, RX_COPY},                                 \
    {C "down_bias", H D ".bias", RX_COPY, NULL, RX_COPY}

/* transformers 5 fused experts: gate_up [n, 2I, d], down [n, d, I]; the legacy
 * layout has one tensor per expert under LH ("...experts.{e}."). */
#define EXPERTS(C, H, LH)                                                               \
    {C "experts_gate", H "gate_up_proj", RX_EHALF0, LH "gate_proj.weight", RX_STACK},   \
    {C "experts_up", H "gate_up_proj", RX_EHALF1, LH "up_proj.weight", RX_STACK},       \
    {C "experts_down", H "down_proj", RX_COPY, LH "down_proj.weight", RX_STACK}

#define END {NULL, NULL, RX_COPY, NULL, RX_COPY}

static const HfRule RULES_LLAMA[] = {
    {"embed", "model.embed_tokens.weight", RX_COPY, NULL, RX_COPY},
    {"final_norm", "model.norm.weight", RX_COPY, NULL, RX_COPY},
    {"lm_head", "lm_head.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.attention.norm", "model.layers.{i}.input_layernorm.weight", RX_COPY, NULL, RX_COPY},
    ATTN("layers.{i}.attention.", "model.layers.{i}.self_attn."),
    {"layers.{i}.mlp.norm", "model.layers.{i}.post_attention_layernorm.weight", RX_COPY, NULL, RX_COPY},
    MLP3("layers.{i}.mlp.", "model.layers.{i}.mlp.", "gate_proj", "up_proj", "down_proj"),
    END,
};

/* mamba and falcon_mamba: the same names (falcon_mamba's inner norms have no
 * weights).  Old checkpoints call the embedding "embedding". */
static const HfRule RULES_MAMBA[] = {
    {"embed", "backbone.embeddings.weight", RX_COPY, "backbone.embedding.weight", RX_COPY},
    {"final_norm", "backbone.norm_f.weight", RX_COPY, NULL, RX_COPY},
    {"lm_head", "lm_head.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.mamba1.norm", "backbone.layers.{i}.norm.weight", RX_COPY, NULL, RX_COPY},
    MAMBA1("layers.{i}.mamba1.", "backbone.layers.{i}.mixer."),
    END,
};

static const HfRule RULES_MAMBA2[] = {
    {"embed", "backbone.embeddings.weight", RX_COPY, "backbone.embedding.weight", RX_COPY},
    {"final_norm", "backbone.norm_f.weight", RX_COPY, NULL, RX_COPY},
    {"lm_head", "lm_head.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.mamba2.norm", "backbone.layers.{i}.norm.weight", RX_COPY, NULL, RX_COPY},
    MAMBA2("layers.{i}.mamba2.", "backbone.layers.{i}.mixer."),
    END,
};

static const HfRule RULES_JAMBA[] = {
    {"embed", "model.embed_tokens.weight", RX_COPY, NULL, RX_COPY},
    {"final_norm", "model.final_layernorm.weight", RX_COPY, NULL, RX_COPY},
    {"lm_head", "lm_head.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.attention.norm", "model.layers.{i}.input_layernorm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.mamba1.norm", "model.layers.{i}.input_layernorm.weight", RX_COPY, NULL, RX_COPY},
    ATTN("layers.{i}.attention.", "model.layers.{i}.self_attn."),
    MAMBA1("layers.{i}.mamba1.", "model.layers.{i}.mamba."),
    {"layers.{i}.mlp.norm", "model.layers.{i}.pre_ff_layernorm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.moe.norm", "model.layers.{i}.pre_ff_layernorm.weight", RX_COPY, NULL, RX_COPY},
    MLP3("layers.{i}.mlp.", "model.layers.{i}.feed_forward.", "gate_proj", "up_proj", "down_proj"),
    {"layers.{i}.moe.router", "model.layers.{i}.feed_forward.router.weight", RX_COPY, NULL, RX_COPY},
    EXPERTS("layers.{i}.moe.", "model.layers.{i}.feed_forward.experts.",
            "model.layers.{i}.feed_forward.experts.{e}."),
    END,
};

static const HfRule RULES_FALCON_H1[] = {
    {"embed", "model.embed_tokens.weight", RX_COPY, NULL, RX_COPY},
    {"final_norm", "model.final_layernorm.weight", RX_COPY, NULL, RX_COPY},
    {"lm_head", "lm_head.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.parallel.norm", "model.layers.{i}.input_layernorm.weight", RX_COPY, NULL, RX_COPY},
    MAMBA2("layers.{i}.parallel.mamba2.", "model.layers.{i}.mamba."),
    ATTN("layers.{i}.parallel.attention.", "model.layers.{i}.self_attn."),
    {"layers.{i}.mlp.norm", "model.layers.{i}.pre_ff_layernorm.weight", RX_COPY, NULL, RX_COPY},
    MLP3("layers.{i}.mlp.", "model.layers.{i}.feed_forward.", "gate_proj", "up_proj", "down_proj"),
    END,
};

static const HfRule RULES_BAMBA[] = {
    {"embed", "model.embed_tokens.weight", RX_COPY, NULL, RX_COPY},
    {"final_norm", "model.final_layernorm.weight", RX_COPY, NULL, RX_COPY},
    {"lm_head", "lm_head.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.attention.norm", "model.layers.{i}.input_layernorm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.mamba2.norm", "model.layers.{i}.input_layernorm.weight", RX_COPY, NULL, RX_COPY},
    ATTN("layers.{i}.attention.", "model.layers.{i}.self_attn."),
    MAMBA2("layers.{i}.mamba2.", "model.layers.{i}.mamba."),
    {"layers.{i}.mlp.norm", "model.layers.{i}.pre_ff_layernorm.weight", RX_COPY, NULL, RX_COPY},
    MLP3("layers.{i}.mlp.", "model.layers.{i}.feed_forward.", "gate_proj", "up_proj", "down_proj"),
    END,
};

/* Every Nemotron-H layer is one operator under "mixer" with one norm. */
static const HfRule RULES_NEMOTRON_H[] = {
    {"embed", "model.embeddings.weight", RX_COPY, NULL, RX_COPY},
    {"final_norm", "model.norm_f.weight", RX_COPY, NULL, RX_COPY},
    {"lm_head", "lm_head.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.mamba2.norm", "model.layers.{i}.norm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.attention.norm", "model.layers.{i}.norm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.mlp.norm", "model.layers.{i}.norm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.moe.norm", "model.layers.{i}.norm.weight", RX_COPY, NULL, RX_COPY},
    MAMBA2("layers.{i}.mamba2.", "model.layers.{i}.mixer."),
    ATTN("layers.{i}.attention.", "model.layers.{i}.mixer."),
    {"layers.{i}.mlp.up", "model.layers.{i}.mixer.up_proj.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.mlp.down", "model.layers.{i}.mixer.down_proj.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.mlp.up_bias", "model.layers.{i}.mixer.up_proj.bias", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.mlp.down_bias", "model.layers.{i}.mixer.down_proj.bias", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.moe.router", "model.layers.{i}.mixer.gate.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.moe.router_bias", "model.layers.{i}.mixer.gate.e_score_correction_bias", RX_COPY, NULL,
     RX_COPY},
    {"layers.{i}.moe.experts_up", "model.layers.{i}.mixer.experts.up_proj", RX_COPY,
     "backbone.layers.{i}.mixer.experts.{e}.up_proj.weight", RX_STACK},
    {"layers.{i}.moe.experts_down", "model.layers.{i}.mixer.experts.down_proj", RX_COPY,
     "backbone.layers.{i}.mixer.experts.{e}.down_proj.weight", RX_STACK},
    {"layers.{i}.moe.shared_up", "model.layers.{i}.mixer.shared_experts.up_proj.weight", RX_COPY, NULL,
     RX_COPY},
    {"layers.{i}.moe.shared_down", "model.layers.{i}.mixer.shared_experts.down_proj.weight", RX_COPY, NULL,
     RX_COPY},
    {"layers.{i}.moe.latent_in", "model.layers.{i}.mixer.fc1_latent_proj.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.moe.latent_out", "model.layers.{i}.mixer.fc2_latent_proj.weight", RX_COPY, NULL, RX_COPY},
    END,
};

/* Zamba2: plain layers hold model.layers.{i}.mamba; hybrid layers wrap it in
 * mamba_decoder and add the per-site linear; the shared block is stored under
 * its first hybrid layer (and, in some files, repeated under the others). */
#define ZSH "model.layers.{S}.shared_transformer."
static const HfRule RULES_ZAMBA2[] = {
    {"embed", "model.embed_tokens.weight", RX_COPY, NULL, RX_COPY},
    {"final_norm", "model.final_layernorm.weight", RX_COPY, NULL, RX_COPY},
    {"lm_head", "lm_head.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.mamba2.norm", "model.layers.{i}.{P}input_layernorm.weight", RX_COPY, NULL, RX_COPY},
    MAMBA2("layers.{i}.mamba2.", "model.layers.{i}.{P}mamba."),
    {"layers.{i}.use.site_proj", "model.layers.{i}.{H}linear.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.use.attention.q_lora_a", ZSH "self_attn.linear_q_adapter_list.{k}.0.weight", RX_COPY, NULL,
     RX_COPY},
    {"layers.{i}.use.attention.q_lora_b", ZSH "self_attn.linear_q_adapter_list.{k}.1.weight", RX_COPY, NULL,
     RX_COPY},
    {"layers.{i}.use.attention.k_lora_a", ZSH "self_attn.linear_k_adapter_list.{k}.0.weight", RX_COPY, NULL,
     RX_COPY},
    {"layers.{i}.use.attention.k_lora_b", ZSH "self_attn.linear_k_adapter_list.{k}.1.weight", RX_COPY, NULL,
     RX_COPY},
    {"layers.{i}.use.attention.v_lora_a", ZSH "self_attn.linear_v_adapter_list.{k}.0.weight", RX_COPY, NULL,
     RX_COPY},
    {"layers.{i}.use.attention.v_lora_b", ZSH "self_attn.linear_v_adapter_list.{k}.1.weight", RX_COPY, NULL,
     RX_COPY},
    /* One A serves gate and up: HF adapts the fused gate_up output. */
    {"layers.{i}.use.mlp.gate_lora_a", ZSH "feed_forward.gate_up_proj_adapter_list.{k}.0.weight", RX_COPY,
     NULL, RX_COPY},
    {"layers.{i}.use.mlp.up_lora_a", ZSH "feed_forward.gate_up_proj_adapter_list.{k}.0.weight", RX_REREAD,
     NULL, RX_COPY},
    {"layers.{i}.use.mlp.gate_lora_b", ZSH "feed_forward.gate_up_proj_adapter_list.{k}.1.weight", RX_HALF0,
     NULL, RX_COPY},
    {"layers.{i}.use.mlp.up_lora_b", ZSH "feed_forward.gate_up_proj_adapter_list.{k}.1.weight", RX_HALF1,
     NULL, RX_COPY},
    {"shared.{b}.attention.norm", ZSH "input_layernorm.weight", RX_COPY, NULL, RX_COPY},
    ATTN("shared.{b}.attention.", ZSH "self_attn."),
    {"shared.{b}.mlp.norm", ZSH "pre_ff_layernorm.weight", RX_COPY, NULL, RX_COPY},
    {"shared.{b}.mlp.gate", ZSH "feed_forward.gate_up_proj.weight", RX_HALF0, NULL, RX_COPY},
    {"shared.{b}.mlp.up", ZSH "feed_forward.gate_up_proj.weight", RX_HALF1, NULL, RX_COPY},
    {"shared.{b}.mlp.down", ZSH "feed_forward.down_proj.weight", RX_COPY, NULL, RX_COPY},
    {"shared.{b}.mlp.gate_bias", ZSH "feed_forward.gate_up_proj.bias", RX_HALF0, NULL, RX_COPY},
    {"shared.{b}.mlp.up_bias", ZSH "feed_forward.gate_up_proj.bias", RX_HALF1, NULL, RX_COPY},
    {"shared.{b}.mlp.down_bias", ZSH "feed_forward.down_proj.bias", RX_COPY, NULL, RX_COPY},
    END,
};
#undef ZSH

static const HfRule RULES_GRANITEMOEHYBRID[] = {
    {"embed", "model.embed_tokens.weight", RX_COPY, NULL, RX_COPY},
    {"final_norm", "model.norm.weight", RX_COPY, NULL, RX_COPY},
    {"lm_head", "lm_head.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.attention.norm", "model.layers.{i}.input_layernorm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.mamba2.norm", "model.layers.{i}.input_layernorm.weight", RX_COPY, NULL, RX_COPY},
    ATTN("layers.{i}.attention.", "model.layers.{i}.self_attn."),
    MAMBA2("layers.{i}.mamba2.", "model.layers.{i}.mamba."),
    {"layers.{i}.moe.norm", "model.layers.{i}.post_attention_layernorm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.moe.router", "model.layers.{i}.block_sparse_moe.router.weight", RX_COPY,
     "model.layers.{i}.block_sparse_moe.router.layer.weight", RX_COPY},
    {"layers.{i}.moe.experts_gate", "model.layers.{i}.block_sparse_moe.experts.gate_up_proj", RX_EHALF0,
     "model.layers.{i}.block_sparse_moe.input_linear.weight", RX_EHALF0},
    {"layers.{i}.moe.experts_up", "model.layers.{i}.block_sparse_moe.experts.gate_up_proj", RX_EHALF1,
     "model.layers.{i}.block_sparse_moe.input_linear.weight", RX_EHALF1},
    {"layers.{i}.moe.experts_down", "model.layers.{i}.block_sparse_moe.experts.down_proj", RX_COPY,
     "model.layers.{i}.block_sparse_moe.output_linear.weight", RX_COPY},
    {"layers.{i}.moe.shared_gate", "model.layers.{i}.shared_mlp.input_linear.weight", RX_HALF0, NULL, RX_COPY},
    {"layers.{i}.moe.shared_up", "model.layers.{i}.shared_mlp.input_linear.weight", RX_HALF1, NULL, RX_COPY},
    {"layers.{i}.moe.shared_down", "model.layers.{i}.shared_mlp.output_linear.weight", RX_COPY, NULL, RX_COPY},
    /* num_local_experts = 0: the shared MLP alone, a dense mlp sublayer. */
    {"layers.{i}.mlp.norm", "model.layers.{i}.post_attention_layernorm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.mlp.gate", "model.layers.{i}.shared_mlp.input_linear.weight", RX_HALF0, NULL, RX_COPY},
    {"layers.{i}.mlp.up", "model.layers.{i}.shared_mlp.input_linear.weight", RX_HALF1, NULL, RX_COPY},
    {"layers.{i}.mlp.down", "model.layers.{i}.shared_mlp.output_linear.weight", RX_COPY, NULL, RX_COPY},
    END,
};

static const HfRule RULES_LFM2[] = {
    {"embed", "model.embed_tokens.weight", RX_COPY, NULL, RX_COPY},
    /* Applied after the last layer, whatever its name says. */
    {"final_norm", "model.embedding_norm.weight", RX_COPY, NULL, RX_COPY},
    {"lm_head", "lm_head.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.attention.norm", "model.layers.{i}.operator_norm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.short_conv.norm", "model.layers.{i}.operator_norm.weight", RX_COPY, NULL, RX_COPY},
    ATTN_QKV("layers.{i}.attention.", "model.layers.{i}.self_attn."),
    {"layers.{i}.attention.o", "model.layers.{i}.self_attn.out_proj.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.attention.q_norm", "model.layers.{i}.self_attn.q_layernorm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.attention.k_norm", "model.layers.{i}.self_attn.k_layernorm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.short_conv.in_proj", "model.layers.{i}.conv.in_proj.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.short_conv.in_proj_bias", "model.layers.{i}.conv.in_proj.bias", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.short_conv.conv_w", "model.layers.{i}.conv.conv.weight", RX_SQUEEZE, NULL, RX_COPY},
    {"layers.{i}.short_conv.conv_b", "model.layers.{i}.conv.conv.bias", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.short_conv.out_proj", "model.layers.{i}.conv.out_proj.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.short_conv.out_proj_bias", "model.layers.{i}.conv.out_proj.bias", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.mlp.norm", "model.layers.{i}.ffn_norm.weight", RX_COPY, NULL, RX_COPY},
    MLP3("layers.{i}.mlp.", "model.layers.{i}.feed_forward.", "w1", "w3", "w2"),
    END,
};

static const HfRule RULES_QWEN3_NEXT[] = {
    {"embed", "model.embed_tokens.weight", RX_COPY, NULL, RX_COPY},
    {"final_norm", "model.norm.weight", RX_COPY, NULL, RX_COPY},
    {"lm_head", "lm_head.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.attention.norm", "model.layers.{i}.input_layernorm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.deltanet.norm", "model.layers.{i}.input_layernorm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.attention.q", "model.layers.{i}.self_attn.q_proj.weight", RX_QGATE, NULL, RX_COPY},
    {"layers.{i}.attention.q_bias", "model.layers.{i}.self_attn.q_proj.bias", RX_QGATE, NULL, RX_COPY},
    {"layers.{i}.attention.k", "model.layers.{i}.self_attn.k_proj.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.attention.v", "model.layers.{i}.self_attn.v_proj.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.attention.o", "model.layers.{i}.self_attn.o_proj.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.attention.k_bias", "model.layers.{i}.self_attn.k_proj.bias", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.attention.v_bias", "model.layers.{i}.self_attn.v_proj.bias", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.attention.o_bias", "model.layers.{i}.self_attn.o_proj.bias", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.attention.q_norm", "model.layers.{i}.self_attn.q_norm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.attention.k_norm", "model.layers.{i}.self_attn.k_norm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.deltanet.in_proj_qkvz", "model.layers.{i}.linear_attn.in_proj_qkvz.weight", RX_QKVZ, NULL,
     RX_COPY},
    {"layers.{i}.deltanet.in_proj_ba", "model.layers.{i}.linear_attn.in_proj_ba.weight", RX_BA, NULL, RX_COPY},
    {"layers.{i}.deltanet.conv_w", "model.layers.{i}.linear_attn.conv1d.weight", RX_SQUEEZE, NULL, RX_COPY},
    {"layers.{i}.deltanet.dt_bias", "model.layers.{i}.linear_attn.dt_bias", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.deltanet.A_log", "model.layers.{i}.linear_attn.A_log", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.deltanet.gate_norm", "model.layers.{i}.linear_attn.norm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.deltanet.out_proj", "model.layers.{i}.linear_attn.out_proj.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.moe.norm", "model.layers.{i}.post_attention_layernorm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.mlp.norm", "model.layers.{i}.post_attention_layernorm.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.moe.router", "model.layers.{i}.mlp.gate.weight", RX_COPY, NULL, RX_COPY},
    EXPERTS("layers.{i}.moe.", "model.layers.{i}.mlp.experts.", "model.layers.{i}.mlp.experts.{e}."),
    {"layers.{i}.moe.shared_gate", "model.layers.{i}.mlp.shared_expert.gate_proj.weight", RX_COPY, NULL,
     RX_COPY},
    {"layers.{i}.moe.shared_up", "model.layers.{i}.mlp.shared_expert.up_proj.weight", RX_COPY, NULL, RX_COPY},
    {"layers.{i}.moe.shared_down", "model.layers.{i}.mlp.shared_expert.down_proj.weight", RX_COPY, NULL,
     RX_COPY},
    {"layers.{i}.moe.shared_expert_gate", "model.layers.{i}.mlp.shared_expert_gate.weight", RX_COPY, NULL,
     RX_COPY},
    MLP3("layers.{i}.mlp.", "model.layers.{i}.mlp.", "gate_proj", "up_proj", "down_proj"),
    END,
};

#undef ATTN_QKV
#undef ATTN
#undef MAMBA1
#undef MAMBA2
#undef MLP3
#undef EXPERTS
#undef END

static const HfFamily FAMILIES[] = {
    {"llama", RULES_LLAMA, NULL, NULL, false},
    {"mamba", RULES_MAMBA, NULL, NULL, false},
    {"falcon_mamba", RULES_MAMBA, NULL, NULL, false},
    {"mamba2", RULES_MAMBA2, NULL, NULL, false},
    {"jamba", RULES_JAMBA, NULL, NULL, false},
    {"falcon_h1", RULES_FALCON_H1, NULL, NULL, false},
    {"bamba", RULES_BAMBA, NULL, NULL, false},
    {"nemotron_h", RULES_NEMOTRON_H, "model.", "backbone.", false},
    {"zamba2", RULES_ZAMBA2, NULL, NULL, true},
    {"granitemoehybrid", RULES_GRANITEMOEHYBRID, NULL, NULL, false},
    {"lfm2", RULES_LFM2, NULL, NULL, false},
    {"qwen3_next", RULES_QWEN3_NEXT, NULL, NULL, false},
};
enum { N_FAMILIES = sizeof FAMILIES / sizeof FAMILIES[0] };

const char *const *hf_families(int *n)
{
    static const char *names[N_FAMILIES + 1];
    for (int i = 0; i < N_FAMILIES; i++) names[i] = FAMILIES[i].name;
    *n = N_FAMILIES;
    return names;
}

bool hf_naming_init(HfNaming *nm, const char *family, const HfDims *dims)
{
    if (strncmp(family, "hf:", 3) == 0) family += 3;
    for (int i = 0; i < N_FAMILIES; i++) {
        if (strcmp(FAMILIES[i].name, family) == 0) {
            nm->family = &FAMILIES[i];
            if (dims)
                nm->dims = *dims;
            else
                memset(&nm->dims, 0, sizeof nm->dims);
            return true;
        }
    }
    return false;
}

/* ---- matching and expansion ----------------------------------------------- */

/* Values bound while matching a canonical pattern. */
typedef struct Caps {
    long i;               /* -1: not bound */
    const char *b;        /* {b}: the block name, b_len bytes; NULL: not bound */
    size_t b_len;
} Caps;

/* A decimal number at *s (no sign, no leading zero unless it is 0, at most 9
 * digits so it cannot overflow); advances *s. */
static bool take_number(const char **s, long *out)
{
    const char *p = *s;
    if (*p < '0' || *p > '9') return false;
    if (*p == '0' && p[1] >= '0' && p[1] <= '9') return false;
    long v = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        if (++digits > 9) return false;
        v = v * 10 + (*p++ - '0');
    }
    *s = p;
    *out = v;
    return true;
}

static bool pattern_match(const char *pat, const char *s, Caps *caps)
{
    caps->i = -1;
    caps->b = NULL;
    caps->b_len = 0;
    while (*pat) {
        if (strncmp(pat, "{i}", 3) == 0) {
            if (!take_number(&s, &caps->i)) return false;
            pat += 3;
        } else if (strncmp(pat, "{b}", 3) == 0) { /* a name: up to the next '.' */
            caps->b = s;
            while (*s && *s != '.') s++;
            caps->b_len = (size_t)(s - caps->b);
            if (!caps->b_len) return false;
            pat += 3;
        } else if (*pat++ != *s++) {
            return false;
        }
    }
    return *s == '\0';
}

/* The index of the shared block named by CAPS, or -1. */
static long block_index(const HfDims *d, const Caps *c)
{
    for (int n = 0; n < d->n_shared_blocks; n++) {
        char dflt[24];
        const char *name = d->shared_block_names ? d->shared_block_names[n] : dflt;
        if (!d->shared_block_names) snprintf(dflt, sizeof dflt, "block%d", n);
        if (strlen(name) == c->b_len && memcmp(name, c->b, c->b_len) == 0) return n;
    }
    return -1;
}

/* The position of depth I among the hybrid layers, or -1. */
static int hybrid_index(const HfDims *d, long i)
{
    for (int k = 0; k < d->n_hybrid; k++)
        if (d->hybrid_layers[k] == i) return k;
    return -1;
}

/* Values of the HF-side placeholders for these captures; false when the
 * canonical name asks for something this model does not have (a use site at
 * a plain layer, a shared block that no layer uses). */
typedef struct Env {
    long i, k, site;
    bool hybrid;
} Env;

static bool make_env(const HfNaming *nm, const Caps *c, Env *env)
{
    const HfDims *d = &nm->dims;
    env->i = c->i;
    env->k = env->site = -1;
    env->hybrid = false;
    if (c->b) { /* shared.{b}: block n is stored under its first use, hybrid layer n */
        long n = block_index(d, c);
        if (n < 0 || n >= d->n_hybrid) return false;
        env->site = d->hybrid_layers[n];
    }
    if (c->i >= 0 && nm->family->zamba_shared) {
        int k = hybrid_index(d, c->i);
        if (k >= 0 && d->n_shared_blocks > 0) {
            env->hybrid = true;
            env->k = k;
            env->site = d->hybrid_layers[k % d->n_shared_blocks];
        }
    }
    return true;
}

static bool put(char *out, size_t *len, const char *s, size_t n)
{
    if (*len + n >= HF_NAME_MAX) return false;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
    return true;
}

static bool put_long(char *out, size_t *len, long v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%ld", v);
    return put(out, len, buf, (size_t)n);
}

static bool pattern_expand(const char *pat, const Env *env, char out[HF_NAME_MAX])
{
    size_t len = 0;
    out[0] = '\0';
    while (*pat) {
        if (strncmp(pat, "{i}", 3) == 0) {
            if (env->i < 0 || !put_long(out, &len, env->i)) return false;
        } else if (strncmp(pat, "{S}", 3) == 0) {
            if (env->site < 0 || !put_long(out, &len, env->site)) return false;
        } else if (strncmp(pat, "{k}", 3) == 0) {
            if (env->k < 0 || !put_long(out, &len, env->k)) return false;
        } else if (strncmp(pat, "{H}", 3) == 0) {
            if (!env->hybrid) return false;
        } else if (strncmp(pat, "{P}", 3) == 0) {
            if (env->hybrid && !put(out, &len, "mamba_decoder.", 14)) return false;
        } else if (strncmp(pat, "{e}", 3) == 0) {
            if (!put(out, &len, "{e}", 3)) return false;
        } else {
            if (!put(out, &len, pat, 1)) return false;
            pat++;
            continue;
        }
        pat += 3;
    }
    return true;
}

/* Fill the transform fields of R for XF.  False when XF needs sizes the
 * naming was not given. */
static bool set_xform(const HfNaming *nm, RuleXf xf, HfTensorRef *r)
{
    const HfDims *d = &nm->dims;
    r->xform = HF_XF_COPY;
    r->axis = r->part = 0;
    r->parts = 1;
    r->groups = r->n_seg = r->count = 0;
    r->reread = false;
    switch (xf) {
    case RX_COPY: return true;
    case RX_REREAD: r->reread = true; return true;
    case RX_SQUEEZE: r->xform = HF_XF_SQUEEZE; return true;
    case RX_HALF0:
    case RX_HALF1:
    case RX_EHALF0:
    case RX_EHALF1:
        r->xform = HF_XF_SLICE;
        r->axis = xf == RX_EHALF0 || xf == RX_EHALF1;
        r->part = xf == RX_HALF1 || xf == RX_EHALF1;
        r->parts = 2;
        return true;
    case RX_QGATE:
        if (d->attn_heads <= 0 || d->attn_head_dim <= 0) return false;
        r->xform = HF_XF_REGROUP;
        r->groups = (int)d->attn_heads;
        r->n_seg = 2;
        r->seg[0] = r->seg[1] = d->attn_head_dim;
        return true;
    case RX_QKVZ:
    case RX_BA: {
        int64_t nk = d->lin_key_heads, nv = d->lin_value_heads;
        if (nk <= 0 || nv <= 0 || nv % nk || d->lin_key_dim <= 0 || d->lin_value_dim <= 0) return false;
        int64_t ratio = nv / nk;
        r->xform = HF_XF_REGROUP;
        r->groups = (int)nk;
        if (xf == RX_QKVZ) {
            r->n_seg = 4;
            r->seg[0] = r->seg[1] = d->lin_key_dim;
            r->seg[2] = r->seg[3] = ratio * d->lin_value_dim;
        } else {
            r->n_seg = 2;
            r->seg[0] = r->seg[1] = ratio;
        }
        return true;
    }
    case RX_STACK:
        if (d->n_experts <= 0) return false;
        r->xform = HF_XF_STACK;
        r->count = d->n_experts;
        return true;
    }
    return false;
}

/* "model.x" -> "backbone.x" for a family whose old files use another prefix. */
static bool legacy_rename(const HfFamily *f, const char *name, char out[HF_NAME_MAX])
{
    size_t n = strlen(f->legacy_from);
    if (strncmp(name, f->legacy_from, n) != 0) return false;
    size_t len = 0;
    out[0] = '\0';
    return put(out, &len, f->legacy_to, strlen(f->legacy_to)) && put(out, &len, name + n, strlen(name + n));
}

bool hf_bind_name(const HfNaming *nm, const char *canonical, HfTensorRef *out, HfTensorRef *legacy,
                  bool *has_legacy)
{
    if (has_legacy) *has_legacy = false;
    if (!nm->family) return false;
    for (const HfRule *r = nm->family->rules; r->canon; r++) {
        Caps caps;
        Env env;
        if (!pattern_match(r->canon, canonical, &caps)) continue;
        if (!make_env(nm, &caps, &env)) return false;
        if (!pattern_expand(r->hf, &env, out->name) || !set_xform(nm, r->xf, out)) return false;
        if (!legacy || !has_legacy) return true;
        if (r->legacy) {
            *has_legacy = pattern_expand(r->legacy, &env, legacy->name) && set_xform(nm, r->legacy_xf, legacy);
        } else if (nm->family->legacy_from) {
            *has_legacy = legacy_rename(nm->family, out->name, legacy->name) && set_xform(nm, r->xf, legacy);
        }
        return true;
    }
    return false;
}

bool hf_tied_source(const HfNaming *nm, const char *hf_name, char out[HF_NAME_MAX])
{
    if (!nm->family) return false;
    if (nm->dims.tie_embeddings && strcmp(hf_name, "lm_head.weight") == 0) {
        HfTensorRef r;
        if (!hf_bind_name(nm, "embed", &r, NULL, NULL)) return false;
        memcpy(out, r.name, HF_NAME_MAX);
        return true;
    }
    if (!nm->family->zamba_shared) return false;
    /* model.layers.<j>.shared_transformer.<rest>, j a later use of its block */
    static const char prefix[] = "model.layers.";
    static const char middle[] = ".shared_transformer.";
    if (strncmp(hf_name, prefix, sizeof prefix - 1) != 0) return false;
    const char *p = hf_name + sizeof prefix - 1;
    long j;
    if (!take_number(&p, &j) || strncmp(p, middle, sizeof middle - 1) != 0) return false;
    const HfDims *d = &nm->dims;
    int k = hybrid_index(d, j);
    if (k < 0 || d->n_shared_blocks <= 0) return false;
    long site = d->hybrid_layers[k % d->n_shared_blocks];
    if (site == j) return false; /* this is the stored copy */
    int n = snprintf(out, HF_NAME_MAX, "%s%ld%s", prefix, site, p);
    return n > 0 && n < HF_NAME_MAX;
}

/* ---- dims from a checked model ------------------------------------------- */

/* The first sublayer of kind K anywhere in the stack (branches included). */
static const SublayerSpec *first_sublayer(const ModelSpec *m, SublayerKind k)
{
    for (int i = 0; i < m->n_layers; i++) {
        const LayerDef *l = m->layers[i];
        for (int j = 0; j < l->n_sublayers; j++) {
            const SublayerSpec *s = &l->sublayers[j];
            if (s->kind == k) return s;
            if (s->kind == SUBLAYER_PARALLEL)
                for (int b = 0; b < s->as.parallel.n_branches; b++)
                    if (s->as.parallel.branches[b].kind == k) return &s->as.parallel.branches[b];
        }
    }
    return NULL;
}

static const SublayerSpec *use_of(const LayerDef *l)
{
    for (int j = 0; j < l->n_sublayers; j++)
        if (l->sublayers[j].kind == SUBLAYER_USE) return &l->sublayers[j];
    return NULL;
}

bool hf_naming_for_spec(HfNaming *nm, const ModelSpec *m, Arena *arena, const char **why)
{
    const char *naming = m->weights.naming ? m->weights.naming : "hyc";
    if (strncmp(naming, "hf:", 3) != 0 || !hf_naming_init(nm, naming, NULL)) {
        *why = "the weights naming is not a Hugging Face family";
        return false;
    }
    HfDims *d = &nm->dims;
    d->tie_embeddings = m->tie_embeddings;
    const SublayerSpec *s;
    if ((s = first_sublayer(m, SUBLAYER_MOE))) d->n_experts = (int)s->as.moe.experts;
    if ((s = first_sublayer(m, SUBLAYER_ATTENTION))) {
        d->attn_heads = s->as.attention.heads;
        d->attn_head_dim = s->as.attention.head_dim;
    }
    if ((s = first_sublayer(m, SUBLAYER_DELTANET))) {
        d->lin_key_heads = s->as.deltanet.key_heads;
        d->lin_value_heads = s->as.deltanet.value_heads;
        d->lin_key_dim = s->as.deltanet.key_dim;
        d->lin_value_dim = s->as.deltanet.value_dim;
    }
    if (m->n_shared_blocks == 0) return true;

    /* Shared blocks: HF's hybrid layer k runs block k mod (number of blocks). */
    int *sites = ARENA_NEW_N(arena, int, m->n_layers > 0 ? m->n_layers : 1);
    const char **names = ARENA_NEW_N(arena, const char *, m->n_shared_blocks);
    for (int b = 0; b < m->n_shared_blocks; b++) names[b] = m->shared_blocks[b].name;
    int n = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const SublayerSpec *u = use_of(m->layers[i]);
        if (!u) continue;
        int b = (int)(u->as.use.block - m->shared_blocks);
        if (b != n % m->n_shared_blocks) {
            *why = "its shared blocks are not used in Zamba2's cycle (the k-th use must run block k mod the "
                   "number of blocks, in definition order)";
            return false;
        }
        sites[n++] = i;
    }
    d->hybrid_layers = sites;
    d->n_hybrid = n;
    d->n_shared_blocks = m->n_shared_blocks;
    d->shared_block_names = names;
    return true;
}

/* A stored adapter of Zamba2 that HF's forward never reads: "model.layers.
 * <L>.shared_transformer.<...>_adapter_list.<j>." where L holds the block
 * but hybrid layer j takes its block from elsewhere.  (Untied blocks keep
 * the adapter slots of every layer of their block_id; each uses one.) */
bool hf_unused_tensor(const HfNaming *nm, const char *hf_name)
{
    if (!nm->family || !nm->family->zamba_shared) return false;
    static const char prefix[] = "model.layers.";
    static const char middle[] = ".shared_transformer.";
    if (strncmp(hf_name, prefix, sizeof prefix - 1) != 0) return false;
    const char *p = hf_name + sizeof prefix - 1;
    long site;
    if (!take_number(&p, &site) || strncmp(p, middle, sizeof middle - 1) != 0) return false;
    const char *list = strstr(p, "_adapter_list.");
    long j;
    if (!list) return false;
    list += strlen("_adapter_list.");
    if (!take_number(&list, &j) || *list != '.') return false;
    const HfDims *d = &nm->dims;
    int k = hybrid_index(d, site);
    if (k < 0 || d->n_shared_blocks <= 0 || d->hybrid_layers[k % d->n_shared_blocks] != site)
        return false; /* not a stored block (a tied copy, or no block at all) */
    return j >= d->n_hybrid || d->hybrid_layers[j % d->n_shared_blocks] != site;
}

const char *hf_xform_text(const HfTensorRef *r, char *buf, size_t size)
{
    switch (r->xform) {
    case HF_XF_COPY:
        snprintf(buf, size, "%s", r->reread ? "as stored (read again by another parameter)" : "as stored");
        break;
    case HF_XF_SQUEEZE: snprintf(buf, size, "squeeze [C, 1, K] -> [C, K]"); break;
    case HF_XF_SLICE:
        snprintf(buf, size, "part %d of %d along axis %d", r->part + 1, r->parts, r->axis);
        break;
    case HF_XF_REGROUP: {
        int n = snprintf(buf, size, "regroup %d groups of [", r->groups);
        for (int s = 0; s < r->n_seg && n > 0 && (size_t)n < size; s++)
            n += snprintf(buf + n, size - (size_t)n, "%s%lld", s ? ", " : "", (long long)r->seg[s]);
        if (n > 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, "] rows, segment-major");
        break;
    }
    case HF_XF_STACK: snprintf(buf, size, "stack %d experts on a new axis 0", r->count); break;
    }
    return buf;
}
