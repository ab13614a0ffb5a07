"""Checkpoints (and reference logits) of configurations the shared fixtures do not cover.

tests/fixtures/hf holds one model per family, each with its family's default
switches; the weight naming has conditional parameters (biases, MoE next to
attention, Zamba2 with two shared blocks and attention adapters, dense layers
between MoE layers, Nemotron-H MoE layers, ...).  This script builds small
random models with transformers' own code and saves config.json and
model.safetensors (every entry of state_dict, tied copies included, like the
fixtures) under $OUT/<name>/, so that check_import can verify that every
tensor is bound exactly once.  Like ../shared/tools/make_fixtures.py, every
parameter is perturbed (norms around 1, biases, D, A_log and dt biases
moved) so that a wrong norm, bias or skip shows in the logits, rounded to
bfloat16 (what is stored), and golden.safetensors holds input_ids_a [40]
(past the chunk size 16) and logits_a [40, vocab] computed in float64.

Runs where torch + transformers (5.17) + safetensors are installed:
    OUT=/tmp/out python3 tests/import/make_variants.py
(ONLY=name,name builds just those variants; the RoPE-scaling, activation,
out_bias, conv activation and Nemotron-H latent/group-routing variants were
made with transformers 5.24.)
then unpack the tarball it writes into tests/import/ (it holds variants/).
`hyc run tests/import/variants/NAME --tokens-file ...` against logits_a is
the end-to-end check.
"""
import math
import os
import tarfile

import torch
from safetensors.torch import save_file
from transformers import AutoConfig, AutoModelForCausalLM

OUT = os.environ.get("OUT", "/tmp/out")
V, H = 128, 32

VARIANTS = {
    # MoE layers (sigmoid routing, selection bias, non-gated experts, shared expert)
    "nemotron_h_moe": ("nemotron_h", dict(
        vocab_size=V, hidden_size=H, hybrid_override_pattern="ME*M-E", mamba_num_heads=4, mamba_head_dim=16,
        ssm_state_size=8, n_groups=2, conv_kernel=4, chunk_size=16, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, intermediate_size=48, n_routed_experts=4, num_experts_per_tok=2,
        moe_intermediate_size=24, moe_shared_expert_intermediate_size=40, routed_scaling_factor=1.5,
        tie_word_embeddings=False)),
    # two shared blocks (ABAB), attention adapters, biases
    "zamba2_two_blocks": ("zamba2", dict(
        vocab_size=V, hidden_size=H, num_hidden_layers=8,
        layers_block_type=["mamba", "hybrid", "mamba", "hybrid", "mamba", "hybrid", "mamba", "hybrid"],
        num_attention_heads=4, num_key_value_heads=4, mamba_d_state=8, mamba_ngroups=2, n_mamba_heads=4,
        mamba_expand=2, mamba_d_conv=4, chunk_size=16, num_mem_blocks=2, use_shared_attention_adapter=True,
        adapter_rank=8, use_mem_rope=False, intermediate_size=48, add_bias_linear=True,
        tie_word_embeddings=False)),
    # two shared blocks (ABAB), tied as in the published models, adapters
    "zamba2_abab": ("zamba2", dict(
        vocab_size=V, hidden_size=H, num_hidden_layers=6,
        layers_block_type=["mamba", "hybrid", "hybrid", "mamba", "hybrid", "hybrid"],
        num_attention_heads=4, num_key_value_heads=4, mamba_d_state=8, mamba_ngroups=1, n_mamba_heads=4,
        mamba_expand=2, mamba_d_conv=4, chunk_size=16, num_mem_blocks=2, use_shared_attention_adapter=True,
        adapter_rank=8, use_mem_rope=True, intermediate_size=48, tie_word_embeddings=True)),
    # dense MLP layers between MoE layers, attention biases, tied embeddings
    "qwen3_next_dense": ("qwen3_next", dict(
        vocab_size=V, hidden_size=H, num_hidden_layers=4, intermediate_size=48, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, linear_num_value_heads=4, linear_num_key_heads=2,
        linear_key_head_dim=8, linear_value_head_dim=8, linear_conv_kernel_dim=4, num_experts=4,
        num_experts_per_tok=2, moe_intermediate_size=16, shared_expert_intermediate_size=24,
        decoder_sparse_step=1, mlp_only_layers=[1], full_attention_interval=2, attention_bias=True,
        tie_word_embeddings=True)),
    # no experts: the shared MLP alone; NoPE; grouped SSM
    "granite_dense": ("granitemoehybrid", dict(
        vocab_size=V, hidden_size=H, num_hidden_layers=3, layer_types=["mamba", "attention", "mamba"],
        num_attention_heads=4, num_key_value_heads=2, num_local_experts=0, intermediate_size=32,
        shared_intermediate_size=40, mamba_n_heads=4, mamba_d_head=16, mamba_n_groups=2, mamba_d_state=8,
        mamba_d_conv=4, mamba_expand=2, mamba_chunk_size=16, position_embedding_type=None,
        tie_word_embeddings=False)),
    # attention and MoE on the same layers; Mamba projection biases, no conv bias
    "jamba_attn_moe": ("jamba", dict(
        vocab_size=V, hidden_size=H, intermediate_size=48, num_hidden_layers=8, num_attention_heads=4,
        num_key_value_heads=2, num_experts=4, num_experts_per_tok=2, expert_layer_period=2,
        expert_layer_offset=1, attn_layer_period=4, attn_layer_offset=1, mamba_d_state=8, mamba_d_conv=4,
        mamba_expand=2, mamba_dt_rank=4, mamba_conv_bias=False, mamba_proj_bias=True,
        use_mamba_kernels=False, tie_word_embeddings=False)),
    # biases on the short convolution, attention first, no width adjustment
    "lfm2_bias": ("lfm2", dict(
        vocab_size=V, hidden_size=H, num_hidden_layers=3, intermediate_size=72, block_auto_adjust_ff_dim=False,
        num_attention_heads=4, num_key_value_heads=2, conv_L_cache=4, conv_bias=True,
        layer_types=["full_attention", "conv", "conv"], tie_word_embeddings=False)),
    # attention and MLP biases; head_dim other than d/H; tied embeddings
    "llama_bias": ("llama", dict(
        vocab_size=V, hidden_size=H, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, attention_bias=True, mlp_bias=True, tie_word_embeddings=True)),
    # in/out projection biases, no conv bias, dt_rank "auto"
    "mamba_bias": ("mamba", dict(
        vocab_size=V, hidden_size=H, state_size=8, num_hidden_layers=2, expand=2, conv_kernel=3,
        use_bias=True, use_conv_bias=False, tie_word_embeddings=False)),
    # no gated norm, attention and MLP biases, d_ssm from mamba_expand
    "falcon_h1_plain": ("falcon_h1", dict(
        vocab_size=V, hidden_size=H, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, mamba_d_ssm=None, mamba_n_heads=4, mamba_d_head=16,
        mamba_n_groups=2, mamba_d_state=8, mamba_d_conv=4, mamba_expand=2, mamba_chunk_size=16,
        mamba_conv_bias=False, mamba_rms_norm=False, attention_bias=True, mlp_bias=True,
        tie_word_embeddings=False)),
    # projection biases everywhere, attention at both ends
    "bamba_bias": ("bamba", dict(
        vocab_size=V, hidden_size=H, intermediate_size=48, num_hidden_layers=4, attn_layer_indices=[0, 3],
        num_attention_heads=4, num_key_value_heads=2, mamba_n_heads=4, mamba_d_head=16, mamba_n_groups=1,
        mamba_d_state=8, mamba_d_conv=4, mamba_expand=2, mamba_chunk_size=16, mamba_proj_bias=True,
        attention_bias=True, mlp_bias=True, tie_word_embeddings=False)),
    # ---- added later: appended, so that the seeds of the ones above stay ----
    # RoPE scaling (rope_parameters, transformers 5): llama3 with an original
    # context short enough that all three frequency bands occur in 40 tokens
    "llama_rope_llama3": ("llama", dict(
        vocab_size=V, hidden_size=H, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, max_position_embeddings=512,
        rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
        tie_word_embeddings=False)),
    # YaRN: a correction range [0, 3] of the 8 frequency pairs, the default
    # attention factor 0.1 ln 4 + 1
    "llama_rope_yarn": ("llama", dict(
        vocab_size=V, hidden_size=H, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, max_position_embeddings=256,
        rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
                         "original_max_position_embeddings": 64},
        tie_word_embeddings=False)),
    # linear RoPE scaling with bamba's partial rotation (half of each head)
    "bamba_rope_linear": ("bamba", dict(
        vocab_size=V, hidden_size=H, intermediate_size=48, num_hidden_layers=2, attn_layer_indices=[1],
        num_attention_heads=4, num_key_value_heads=2, mamba_n_heads=4, mamba_d_head=16, mamba_n_groups=1,
        mamba_d_state=8, mamba_d_conv=4, mamba_expand=2, mamba_chunk_size=16,
        rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0,
                         "partial_rotary_factor": 0.5},
        tie_word_embeddings=False)),
    # tanh-approximated GELU in a gated MLP (geglu_tanh)
    "llama_gelu_tanh": ("llama", dict(
        vocab_size=V, hidden_size=H, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, hidden_act="gelu_pytorch_tanh", tie_word_embeddings=False)),
    # separate Mamba in_proj / out_proj biases (projectors_bias: out_bias),
    # GELU after the Mamba convolution (conv_act) and in the MLP (geglu)
    "falcon_h1_out_bias": ("falcon_h1", dict(
        vocab_size=V, hidden_size=H, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, mamba_d_ssm=64, mamba_n_heads=4, mamba_d_head=16,
        mamba_n_groups=2, mamba_d_state=8, mamba_d_conv=4, mamba_expand=2, mamba_chunk_size=16,
        mamba_rms_norm=True, mamba_norm_before_gate=False, mamba_proj_bias=False, projectors_bias=True,
        hidden_act="gelu", tie_word_embeddings=False)),
    # Mamba-1 with a tanh-GELU after the convolution
    "mamba_gelu_tanh": ("mamba", dict(
        vocab_size=V, hidden_size=H, state_size=8, num_hidden_layers=2, expand=2, conv_kernel=4,
        hidden_act="gelu_pytorch_tanh", tie_word_embeddings=False)),
    # MoE experts and shared MLP with geglu_tanh, Mamba-2 conv with gelu_tanh
    "granite_gelu_tanh": ("granitemoehybrid", dict(
        vocab_size=V, hidden_size=H, num_hidden_layers=2, layer_types=["mamba", "attention"],
        num_attention_heads=4, num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2,
        intermediate_size=24, shared_intermediate_size=40, mamba_n_heads=4, mamba_d_head=16,
        mamba_n_groups=1, mamba_d_state=8, mamba_d_conv=4, mamba_expand=2, mamba_chunk_size=16,
        hidden_act="gelu_new", position_embedding_type="rope", tie_word_embeddings=False)),
    # GELU after the DeltaNet convolution, geglu experts
    "qwen3_next_gelu": ("qwen3_next", dict(
        vocab_size=V, hidden_size=H, num_hidden_layers=2, intermediate_size=48, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, linear_num_value_heads=4, linear_num_key_heads=2,
        linear_key_head_dim=8, linear_value_head_dim=8, linear_conv_kernel_dim=4, num_experts=4,
        num_experts_per_tok=2, moe_intermediate_size=16, shared_expert_intermediate_size=24,
        full_attention_interval=2, hidden_act="gelu", tie_word_embeddings=False)),
    # Nemotron-H MoE with DeepSeek-V3 group-limited selection (4 groups of 2,
    # the best 2 kept, 3 experts chosen) and latent experts (16 wide)
    "nemotron_h_latent": ("nemotron_h", dict(
        vocab_size=V, hidden_size=H, hybrid_override_pattern="ME*E", mamba_num_heads=4, mamba_head_dim=16,
        ssm_state_size=8, n_groups=2, conv_kernel=4, chunk_size=16, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, intermediate_size=48, n_routed_experts=8, num_experts_per_tok=3,
        n_group=4, topk_group=2, moe_latent_size=16, moe_intermediate_size=24,
        moe_shared_expert_intermediate_size=40, routed_scaling_factor=2.5, tie_word_embeddings=False)),
}


def perturb(model, seed):
    """make_fixtures.py's perturbation: every parameter matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            n = name.lower()
            if p.dim() == 1 and ("norm" in n or n.endswith("layernorm.weight")):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif n.endswith(".bias") or "dt_bias" in n:
                p.copy_(0.1 * torch.randn(p.shape, generator=g) + (p if "dt_bias" in n else 0))
            elif n.endswith(".d") or n.endswith("_d") or name.endswith(".D"):
                p.copy_(1.0 + 0.5 * torch.randn(p.shape, generator=g))
            elif "a_log" in n:
                p.copy_(p + 0.1 * torch.randn(p.shape, generator=g))
            elif "embed" in n and p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g))
            elif p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p[0].numel()))
            else:
                p.copy_(p + 0.05 * torch.randn(p.shape, generator=g))
        for name, b in model.named_buffers():
            if name.endswith("e_score_correction_bias"):  # Nemotron-H's selection bias
                b.copy_(0.1 * torch.randn(b.shape, generator=g))


def build(name, arch, kw, seed):
    d = os.path.join(OUT, "variants", name)
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(seed)
    cfg = AutoConfig.for_model(arch, **kw)
    cfg._attn_implementation = "eager"
    model = AutoModelForCausalLM.from_config(cfg).to(torch.float32).eval()
    perturb(model, seed + 1)
    # The reference is computed from exactly the stored values: parameters and
    # persistent buffers, not derived ones like RoPE's inv_freq.
    stored = set(model.state_dict().keys())
    with torch.no_grad():
        for key, t in list(model.named_parameters()) + list(model.named_buffers()):
            if key in stored and t.is_floating_point():
                t.copy_(t.to(torch.bfloat16).to(torch.float32))
    cfg.save_pretrained(d)
    # tied weights share storage: safetensors wants distinct tensors
    sd = {k: v.detach().to(torch.bfloat16).contiguous().clone() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    ids = torch.randint(0, cfg.vocab_size, (1, 40), generator=torch.Generator().manual_seed(seed + 2))
    model = model.to(torch.float64)
    with torch.no_grad():
        try:
            logits = model(ids, use_cache=False).logits[0]
        except RuntimeError:  # fused expert kernels without float64: the eager loop
            if hasattr(model, "set_experts_implementation"):
                model.set_experts_implementation("eager")
            model.config._experts_implementation = "eager"
            logits = model(ids, use_cache=False).logits[0]
    save_file({"input_ids_a": ids[0].to(torch.int32).contiguous(), "logits_a": logits.float().contiguous()},
              os.path.join(d, "golden.safetensors"))
    print(f"OK {name}: {len(sd)} tensors")


# ONLY=name,name builds just those (the seeds stay those of the full list).
ONLY = [n for n in os.environ.get("ONLY", "").split(",") if n]
for i, (name, (arch, kw)) in enumerate(VARIANTS.items()):
    if ONLY and name not in ONLY:
        continue
    try:
        build(name, arch, kw, 3000 + 17 * i)
    except Exception as e:  # report and go on: one broken variant should not hide the others
        print(f"FAIL {name}: {e!r}")

with tarfile.open(os.path.join(OUT, "variants.tar.gz"), "w:gz") as t:
    t.add(os.path.join(OUT, "variants"), arcname="variants")
