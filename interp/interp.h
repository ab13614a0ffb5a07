/* interp.h — the internal header of interp/: the reference interpreter of hyc
 * and its numeric kernels.
 *
 * The kernels are the oracle every optimized path (generated C, LLVM, tuned
 * schedules) is compared against, so they are written to be obviously right
 * rather than fast: float32 storage, double accumulation in every reduction,
 * one plain loop nest per formula, no SIMD, no threads.  The math of each
 * primitive is in MODELS.md (the shared model reference); the section numbers
 * below (§2.1 ...) refer to it.
 *
 * Conventions shared by every kernel:
 *   - tensors are dense, row-major float arrays; shapes are given in the
 *     comments as [outer, ..., inner] and passed as explicit int dims;
 *   - T is the number of tokens of the call;
 *   - outputs must not alias inputs unless the comment says "in place ok";
 *   - state arguments (conv state, SSM state, delta-rule state) are read as
 *     the state before the first token and overwritten with the state after
 *     the last one, so a prefill call followed by per-token calls computes
 *     the same thing as one call over the whole sequence.
 */
#ifndef HYC_INTERP_H
#define HYC_INTERP_H

#include "../util/util.h"

/* ==== kernels.c ============================================================ */

/* ---- linear ---- */

/* y[t,o] = sum_i x[t,i] * w[o,i] + b[o].
 * x: [T, d_in], w: [d_out, d_in] (row-major, PyTorch Linear layout),
 * b: [d_out] or NULL -> y: [T, d_out] */
void ik_matmul(float *y, const float *x, const float *w, const float *b,
               int T, int d_in, int d_out);
/* The same with each row's product scaled before the bias (the matmul
 * row_scale of fuse-prologue): y[t,o] = r[t] * sum_i x[t,i] w[o,i] + b[o],
 * rounded once.  r: [T] or NULL (ik_matmul). */
void ik_matmul_row_scaled(float *y, const float *x, const float *w, const float *b,
                          const float *r, int T, int d_in, int d_out);

/* ---- elementwise: y, x, a, b: [n]; in place ok (y may equal any input) ---- */

void ik_silu(float *y, const float *x, int n);      /* x * sigmoid(x) */
void ik_gelu(float *y, const float *x, int n);      /* 0.5 x (1 + erf(x / sqrt 2)) */
void ik_gelu_tanh(float *y, const float *x, int n); /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
void ik_relu(float *y, const float *x, int n);      /* max(x, 0) */
void ik_relu2(float *y, const float *x, int n);     /* max(x, 0)^2 (Nemotron-H) */
/* log(1 + e^x), or x itself when x > 20 (PyTorch's threshold, beta 1). */
void ik_softplus(float *y, const float *x, int n);
void ik_sigmoid(float *y, const float *x, int n);   /* 1 / (1 + e^-x), no overflow */
void ik_exp(float *y, const float *x, int n);
void ik_add(float *y, const float *a, const float *b, int n);
void ik_sub(float *y, const float *a, const float *b, int n); /* a - b */
void ik_mul(float *y, const float *a, const float *b, int n);
void ik_scale(float *y, const float *x, float s, int n);

/* Per row: y = x * rsqrt(sum(x^2) + eps)  (Qwen3-Next / FLA l2norm; not
 * F.normalize, which divides by max(norm, eps)).
 * x: [rows, n] -> y: [rows, n]; in place ok */
void ik_l2norm(float *y, const float *x, int rows, int n, float eps);

/* ---- norms (§2.4, §2.2 step 6); all: x: [rows, n] -> y: [rows, n], in place ok ---- */

/* y = x / sqrt(mean(x^2) + eps) * (w_offset + w).  w: [n] or NULL (weight 1,
 * then w_offset is ignored).  w_offset is 0 for Llama-style RMSNorm and 1 for
 * the zero-centred form of Qwen3-Next and Gemma. */
void ik_rmsnorm(float *y, const float *x, const float *w, int rows, int n,
                float eps, float w_offset);

/* The factor of ik_rmsnorm alone: r[row] = 1 / sqrt(mean(x^2) + eps), the
 * same value ik_rmsnorm multiplies row `row` by.  x: [rows, n] -> r: [rows]. */
void ik_rms_scale(float *r, const float *x, int rows, int n, float eps);

/* y = (x - mean) / sqrt(var + eps) * w + b, var the biased (population)
 * variance as PyTorch.  w, b: [n] or NULL (1 and 0). */
void ik_layernorm(float *y, const float *x, const float *w, const float *b,
                  int rows, int n, float eps);

/* RMSNorm taken separately over each of `groups` equal slices of a row
 * (n % groups == 0), then times w: [n] (the full width) or NULL. */
void ik_group_rmsnorm(float *y, const float *x, const float *w, int rows, int n,
                      int groups, float eps);

/* Mamba-2's gated RMSNorm (RMSNormGated of mamba_ssm layernorm_gated.py):
 *   norm_before_gate false: out = group_rmsnorm(y * silu(z)) * w
 *   norm_before_gate true:  out = group_rmsnorm(y) * w * silu(z)
 * y, z: [rows, n], w: [n] or NULL -> out: [rows, n]; out may equal y or z. */
void ik_gated_rmsnorm(float *out, const float *y, const float *z, const float *w,
                      int rows, int n, int groups, float eps,
                      bool norm_before_gate);

/* ---- softmax ---- */

/* Per row, max-subtracted, sum in double.  x: [rows, n] -> y: [rows, n];
 * in place ok.  -INFINITY entries get probability 0; a row of only
 * -INFINITY (or with +INFINITY or NaN) gives NaN, as PyTorch does. */
void ik_softmax(float *y, const float *x, int rows, int n);

/* ---- causal depthwise conv1d (§2.1 step 2) ---- */

/* y[t,c] = b[c] + sum_k w[c,k] * xpad[t+k][c], where xpad is the K-1 rows of
 * `state` followed by the T rows of x.
 * x: [T, C], w: [C, K], b: [C] or NULL -> y: [T, C] (not in place).
 * state: [C, K-1], the previous K-1 inputs of each channel, oldest first
 * (zeros before the first token); updated to the last K-1 rows of xpad.
 * state NULL means zero history and nothing kept.  No activation: SiLU is a
 * separate op, as in llama.cpp's ggml_ssm_conv. */
void ik_causal_conv1d(float *y, const float *x, const float *w, const float *b,
                      float *state, int T, int C, int K);

/* ---- Mamba-1 selective scan (§2.1 steps 6-8) ---- */

/* Per token t, channel e, state index n:
 *   h[e,n] = exp(delta[t,e] * A[e,n]) * h[e,n] + delta[t,e] * B[t,n] * x[t,e]
 *   y[t,e] = sum_n h[e,n] * C[t,n] + D[e] * x[t,e];   y *= silu(z[t,e])
 * x, delta: [T, E] (delta already softplus'ed), A: [E, N] (already -exp(A_log)),
 * B, C: [T, N], D: [E] or NULL, z: [T, E] or NULL (no gate) -> y: [T, E].
 * h: [E, N] state in/out (kept in double during the call). */
void ik_selective_scan(float *y, const float *x, const float *delta,
                       const float *A, const float *B, const float *C,
                       const float *D, const float *z, float *h,
                       int T, int E, int N);

/* ---- Mamba-2 SSD scan (§2.2 steps 4-5) ---- */

/* Sequential recurrence.  Head hd reads group g = hd / (H/G):
 *   s[hd,p,n] = exp(dt[t,hd] * A[hd]) * s[hd,p,n] + dt[t,hd] * x[t,hd,p] * B[t,g,n]
 *   y[t,hd,p] = sum_n s[hd,p,n] * C[t,g,n] + D[hd] * x[t,hd,p]
 * x: [T, H, P], dt: [T, H] (already softplus'ed and clamped), A: [H] (< 0),
 * B, C: [T, G, N], D: [H] or NULL -> y: [T, H, P].
 * h: [H, P, N] state in/out (kept in double during the call).
 * No z gate: Mamba-2 gates inside ik_gated_rmsnorm. */
void ik_ssd_scan(float *y, const float *x, const float *dt, const float *A,
                 const float *B, const float *C, const float *D, float *h,
                 int T, int H, int P, int G, int N);

/* The same result by the chunked SSD algorithm of §2.2 (ssd_minimal_discrete):
 * chunks of `chunk` tokens (the last may be shorter), intra-chunk quadratic
 * part, chunk states, inter-chunk recurrence from the initial state h, and
 * state-to-output.  h is updated to the final state like ik_ssd_scan's. */
void ik_ssd_scan_chunked(float *y, const float *x, const float *dt,
                         const float *A, const float *B, const float *C,
                         const float *D, float *h,
                         int T, int H, int P, int G, int N, int chunk);

/* ---- reduced-precision storage (the DSL's kv_dtype, ssm_dtype) ---- */

/* The float nearest f that bfloat16 / IEEE half can hold (ties to even;
 * beyond the half range: ±inf; NaN stays NaN).  States stored in those
 * types are kept as float arrays whose values are rounded when written. */
float ik_round_bf16(float f);
float ik_round_f16(float f);
typedef enum IkStorage { IK_STORE_F32, IK_STORE_BF16, IK_STORE_F16 } IkStorage;
/* x[0..n) rounded in place to what STORAGE holds (F32: unchanged). */
void ik_round_storage(float *x, size_t n, IkStorage storage);

/* ---- RoPE (§2.3) ---- */

/* In place on x: [T, n_heads, head_dim].  Rotate-half pairing (HF): for
 * i < rot_dims/2, dims i and i + rot_dims/2 of token t are rotated by angle
 * (pos0 + t) * base^(-2i/rot_dims); dims >= rot_dims are left alone.
 * rot_dims even, <= head_dim.  Angles in double. */
void ik_rope(float *x, int T, int n_heads, int head_dim, int rot_dims,
             int pos0, double base);

/* The general form (an addition for the interpreter's `rope` op): pair i
 * (i < rot_dims/2) is rotated by angle (pos0 + t) * inv_freq[i]; the pairs
 * are dims (i, i + rot_dims/2) (rotate-half, HF) or, when interleaved,
 * (2i, 2i+1) (GPT-J / Meta).  With inv_freq from ik_rope_inv_freq(...,
 * IK_ROPE_NONE) and interleaved false it computes exactly ik_rope. */
void ik_rope_freqs(float *x, int T, int n_heads, int head_dim, int rot_dims,
                   int pos0, const double *inv_freq, bool interleaved);
/* The same with cos and sin multiplied by mscale (YaRN's attention factor,
 * HF `attention_scaling`): the rotated dims come out mscale times longer,
 * the others are left alone.  mscale 1 is ik_rope_freqs. */
void ik_rope_apply(float *x, int T, int n_heads, int head_dim, int rot_dims,
                   int pos0, const double *inv_freq, bool interleaved, double mscale);

typedef enum IkRopeScaling {
    IK_ROPE_NONE,   /* inv_freq[i] = base^(-2i/rot_dims) */
    IK_ROPE_LINEAR, /* params [factor]: inv_freq / factor */
    /* params [factor, low_freq_factor, high_freq_factor, original_max]:
     * HF _compute_llama3_parameters — wavelengths above original_max /
     * low_freq_factor are divided by factor, below original_max /
     * high_freq_factor kept, smoothly interpolated between. */
    IK_ROPE_LLAMA3,
    /* params [alpha]: static NTK-aware scaling, the base raised to
     * base · alpha^(rot_dims / (rot_dims − 2)) (rot_dims > 2).  Hymba's
     * "ntk" is alpha = 2·max_position_embeddings / orig_max − 1; HF's
     * "dynamic" is this with an alpha that grows with the sequence. */
    IK_ROPE_NTK,
    /* params [factor, original_max, beta_fast, beta_slow, attention_factor]:
     * HF _compute_yarn_parameters with truncate = true — pair i keeps its
     * frequency below the correction range [floor(dim(beta_fast)),
     * ceil(dim(beta_slow))] (dim(b) = r·ln(original_max / (2πb)) / (2 ln
     * base), clamped to [0, r−1]), is divided by factor above it, linearly
     * in between.  attention_factor multiplies cos and sin
     * (ik_rope_attention_factor, ik_rope_apply). */
    IK_ROPE_YARN,
} IkRopeScaling;

/* inv_freq: [rot_dims / 2].  params: 1 (linear, ntk), 4 (llama3) or 5
 * (yarn) values. */
void ik_rope_inv_freq(double *inv_freq, int rot_dims, double base,
                      IkRopeScaling scaling, const double *params, int n_params);
/* The kind an IR `scaling` attribute names ("none", "linear", "llama3",
 * "ntk", "yarn"); false for any other word. */
bool ik_rope_scaling_lookup(const char *name, IkRopeScaling *out);
/* What cos and sin are multiplied by: yarn's attention_factor, else 1. */
double ik_rope_attention_factor(IkRopeScaling scaling, const double *params, int n_params);

/* ---- attention (§2.3) ---- */

/* Causal (optionally sliding-window) scaled dot-product attention with GQA.
 * Query i is at absolute position pos = q_pos0 + i and sees keys j with
 * j <= pos and, if window > 0, j > pos - window.  Query head h uses kv head
 * h / (Hq/Hkv).  Scores q.k * scale, softmax in double.
 * q: [Tq, Hq, dk], k: [Tk, Hkv, dk], v: [Tk, Hkv, dv] (the whole cache,
 * positions 0..Tk-1; requires q_pos0 + Tq <= Tk) -> o: [Tq, Hq, dv]. */
void ik_sdpa(float *o, const float *q, const float *k, const float *v,
             int Tq, int Tk, int Hq, int Hkv, int dk, int dv,
             float scale, int window, int q_pos0);

/* ---- MoE routing (§2.4) ---- */

typedef enum IkRouteMode {
    /* Jamba, Qwen-MoE: p = softmax over all experts; take the top-k p;
     * renormalize: divide them by their sum. */
    IK_ROUTE_SOFTMAX_TOPK,
    /* Granite: top-k on the logits, then softmax over those k. */
    IK_ROUTE_TOPK_SOFTMAX,
    /* DeepSeek-V3, Nemotron-H: s = sigmoid(logits); select top-k of s + bias;
     * weights are the selected s (no bias); renormalize: divide by
     * (sum + 1e-20) as HF does.  routed_scaling_factor is the caller's. */
    IK_ROUTE_SIGMOID_BIAS,
} IkRouteMode;

/* Per token: choose top_k experts and their weights, best first; equal
 * scores go to the lower index.  bias (or NULL) is added to the scores used
 * for selection only, never to the weights (in any mode).
 * logits: [T, n_experts], bias: [n_experts] or NULL
 *   -> weights: [T, top_k], idx: [T, top_k] (expert numbers). */
void ik_route(float *weights, int *idx, const float *logits, int T,
              int n_experts, int top_k, IkRouteMode mode, bool renormalize,
              const float *bias);
/* The same with DeepSeek-V3 / Nemotron-H group-limited selection (HF
 * NemotronHTopkRouter, n_group / topk_group): the experts form `groups`
 * equal groups of at least 2; a group's score is the sum of its two best
 * selection keys (score + bias); only the experts of the best topk_groups
 * groups can be chosen (ties: the lower group).  groups = 1 is ik_route.
 * Requires top_k <= topk_groups · (n_experts / groups). */
void ik_route_grouped(float *weights, int *idx, const float *logits, int T,
                      int n_experts, int top_k, IkRouteMode mode, bool renormalize,
                      const float *bias, int groups, int topk_groups);

/* ---- gated delta rule (Qwen3-Next linear attention) ---- */

/* HF torch_recurrent_gated_delta_rule, per token t and value head hv, with
 * S = S[hv] a [dk, dv] matrix:
 *   S *= exp(g[t,hv])
 *   kv_mem[j] = sum_i S[i,j] k[i]
 *   delta[j]  = (v[j] - kv_mem[j]) * beta[t,hv]
 *   S[i,j]   += k[i] * delta[j]
 *   o[j]      = sum_i S[i,j] q[i] / sqrt(dk)
 * q, k: [T, Hv, dk] (already expanded to value heads and l2-normalized; the
 * 1/sqrt(dk) query scale is applied here), v: [T, Hv, dv], g: [T, Hv] (log
 * decay, <= 0), beta: [T, Hv] -> o: [T, Hv, dv].
 * S: [Hv, dk, dv] state in/out (kept in double during the call). */
void ik_gated_delta_rule(float *o, const float *q, const float *k,
                         const float *v, const float *g, const float *beta,
                         float *S, int T, int Hv, int dk, int dv);

/* ==== weights.c: weight values for a module's params ====================== */

struct IrModule;

/* One float32 array per param of a module, indexed by param id.  Each array
 * is [product of the param's dims], row-major, owned by the store. */
typedef struct Weights {
    const struct IrModule *mod;
    float **data;
    int n;
} Weights;

/* Seeded values of sensible scale for every param, chosen by the param's
 * role (its last name component): norms near 1, A_log and dt_bias as Mamba
 * initialises them, D = 1, matrices uniform with variance 1/fan_in, biases small.  Each
 * param's values depend only on (seed, name), not on declaration order. */
void weights_random(Weights *w, const struct IrModule *m, uint64_t seed);
void weights_free(Weights *w);

/* A derived param's values (ir.h IrPExpr) into out (numel of e's type):
 * each leaf through leaf(ctx, name, type, out), which fills the leaf's
 * values as a base param of that name and type would have them (false: it
 * reported why).  Random weights and the binder use it, so a derived param
 * is always computed from the base values, never drawn or read itself. */
struct IrPExpr;
struct IrType;
typedef bool (*WeightsLeafFn)(void *ctx, const char *name, const struct IrType *t, float *out);
bool weights_eval_derived(const struct IrPExpr *e, float *out, WeightsLeafFn leaf, void *ctx);

/* ==== bind.c: weights from a checkpoint ==================================== */

struct ModelSpec;
struct HfNaming;
struct HfDims;
struct WeightRename;

/* Where a module's params come from. */
typedef struct BindSource {
    const char *path;   /* a .safetensors file, or a directory holding
                           model.safetensors or a shard index (st_set_open) */
    const char *naming; /* "hyc" (or NULL) or "hf:<model_type>" */
    /* hf: the family's naming with the model's dimensions (regroup and
     * legacy-stack transforms, Zamba2 sites, tied lm_head need them); NULL:
     * hf_naming_init(naming) without dimensions. */
    const struct HfNaming *hf;
    /* naming "hyc": canonical name -> name in the file; "{i}" in `from`
     * matches any depth of "layers.<i>." and is replaced in `to`. */
    const struct WeightRename *renames;
    int n_renames;
} BindSource;

/* Fill W with one float32 array per param of M (by param id), read from the
 * checkpoint: each param's canonical name (its IR name) is mapped to a file
 * tensor by the naming, converted to float32 (F32, F16, BF16, F64), put into
 * the canonical layout (squeeze, slice, regroup, stack of legacy per-expert
 * tensors) and checked to have exactly the param's shape.  Every problem is
 * an error through D (a missing tensor, a wrong shape naming both shapes and
 * the tensor, an unreadable dtype); tensors of the file that no param reads
 * (tied duplicates such as a tied lm_head excepted) are one warning that
 * lists them.  False (W empty) after any error. */
bool weights_bind(Weights *w, const struct IrModule *m, const BindSource *src, Diag *d);

/* The dimensions the hf: naming of SPEC's family needs, derived from the
 * spec (experts, Qwen3-Next head sizes, Zamba2 hybrid depths and shared
 * blocks, tied embeddings).  hybrid_buf: room for spec->n_layers ints;
 * out->hybrid_layers points into it. */
void bind_hf_dims(const struct ModelSpec *spec, struct HfDims *out, int *hybrid_buf);

/* weights_bind with the source of SPEC's `weights` block (file, naming,
 * renames).  An error when the spec has no weights block. */
bool weights_bind_spec(Weights *w, const struct IrModule *m, const struct ModelSpec *spec,
                       Diag *d);

/* ==== interp.c: the reference interpreter =================================== */

/* Executes a Graph IR module's functions directly, instruction by
 * instruction, with the ik_* kernels above: float32 storage, double
 * accumulation.  Values live in per-call buffers (each freed after its last
 * use; all of them at the end of the call); the persistent states live in
 * the session, zeroed at creation and by reset, with the implicit position
 * `pos` (docs/ir.md §1).
 *
 * The module must be lowered: composite ops are not executed (a composite
 * is an internal error).  interp_lower() runs the `lower-composites` pass
 * on a module in place for callers that hold one with composites.  The
 * module and the weights must outlive the session.
 *
 * Errors: problems of the input are reported through the Diag and the call
 * returns false.  A token id outside [0, vocab) and pos + T beyond max_seq
 * are found before anything runs, so the session is unchanged; a token id
 * inside the vocabulary but beyond a smaller embedding table is found when
 * the embed runs (reset the session after that).  Anything else that goes
 * wrong is a bug in hyc and dies with file:line. */

typedef struct InterpSession InterpSession;

/* Expand the composites of M in place (verify, lower-composites, verify).
 * False with diagnostics when the module does not verify. */
bool interp_lower(struct IrModule *m, Diag *d);
/* True when M holds no composite op (what a session needs). */
bool interp_module_is_lowered(const struct IrModule *m);

/* A session over a lowered module and weights for exactly its params
 * (w->mod == m and one array per param).  pos = 0, states zeroed. */
InterpSession *interp_new(const struct IrModule *m, const Weights *w);
void interp_free(InterpSession *s);
/* Start a new sequence: every state zeroed, pos = 0. */
void interp_reset(InterpSession *s);
int64_t interp_pos(const InterpSession *s);
/* The logits width (the last dim of prefill's result). */
int64_t interp_vocab(const InterpSession *s);

/* Run FUNC ("prefill", or "decode" with T = 1) on tokens[0..T), continuing
 * the sequence at pos; writes logits [T, vocab] (row t: the token at
 * position pos + t) and advances pos by T.  T >= 1.  A prefill that
 * returns f32[1, vocab] (the last-logits pass) writes the last row only. */
bool interp_run(InterpSession *s, const char *func, const int32_t *tokens, int64_t T,
                float *logits, Diag *d);
/* The same two calls by name. */
bool interp_prefill(InterpSession *s, const int32_t *tokens, int64_t T, float *logits,
                    Diag *d);
bool interp_decode(InterpSession *s, int32_t token, float *logits, Diag *d);

#endif
