/* toy_model.c — see toy_model.h.  Compiled with profiling hooks on, as
 * `hyc build --profile` would. */
#define HYCRT_PROFILE 1
#include <string.h>

#include "tests/runtime/toy_model.h"

/* ---- toy_bigram ------------------------------------------------------------ */

static const hycrt_tensor_desc bigram_tensors[] = {
    {"w", HYCRT_F32, 2, {TOY_V, TOY_V, 0, 0}, 0, TOY_V * TOY_V * 4},
};

static int bigram_forward(hycrt_ctx *ctx, const int32_t *tokens, int n,
                          float *logits, int mode)
{
    const float *w = (const float *)(ctx->weights + 0); /* (V, V) */
    int first = mode == HYCRT_LOGITS_ALL ? 0 : n - 1;
    if (mode != HYCRT_LOGITS_NONE)
        for (int i = first; i < n; i++)
            memcpy(logits + (size_t)(i - first) * TOY_V, w + (size_t)tokens[i] * TOY_V,
                   TOY_V * sizeof(float));
    ctx->pos += n;
    return 0;
}

const hycrt_model_desc toy_bigram_desc = {
    .abi_version = HYCRT_ABI_VERSION,
    .name = "toy_bigram",
    .hash = 0xB16A4A11B16A4A11ull,
    .vocab = TOY_V,
    .d_model = TOY_V,
    .max_seq = 64,
    .max_batch = 0,
    .n_tensors = 1,
    .tensors = bigram_tensors,
    .weights_bytes = 1024,
    .state_bytes = 0,
    .scratch_bytes = 0,
    .weights_name = "toy_bigram.weights",
    .forward = bigram_forward,
};

/* ---- toy_sum --------------------------------------------------------------- */

static const hycrt_tensor_desc sum_tensors[] = {
    {"emb", HYCRT_F32, 2, {TOY_V, TOY_D, 0, 0}, 0, TOY_V * TOY_D * 4},
    {"bigram", HYCRT_F32, 2, {TOY_V, TOY_V, 0, 0}, 512, TOY_V * TOY_V * 4},
    {"out", HYCRT_F32, 2, {TOY_V, TOY_D, 0, 0}, 1536, TOY_V * TOY_D * 4},
};

static const char *const sum_kernels[] = {"scan", "logits"};

typedef struct SumLogits {
    const float *bigram; /* (V, V) */
    const float *out;    /* (V, D) */
    const float *hs;     /* (n_out, D) */
    const int32_t *tokens; /* (n_out) */
    float *logits;       /* (n_out, V) */
    int n_out;
} SumLogits;

/* Rows [lo, hi) of the vocabulary for every output position. */
static void sum_logits_task(void *arg, int ith, int nth)
{
    const SumLogits *a = arg;
    int64_t lo, hi;
    hycrt_split(TOY_V, ith, nth, &lo, &hi);
    for (int p = 0; p < a->n_out; p++)
        for (int64_t v = lo; v < hi; v++) {
            float acc = a->bigram[a->tokens[p] * TOY_V + v];
            for (int j = 0; j < TOY_D; j++)
                acc += a->out[v * TOY_D + j] * a->hs[p * TOY_D + j];
            a->logits[p * TOY_V + v] = acc;
        }
}

static int sum_forward(hycrt_ctx *ctx, const int32_t *tokens, int n, float *logits,
                       int mode)
{
    const float *emb = (const float *)(ctx->weights + 0);       /* (V, D) */
    const float *bigram = (const float *)(ctx->weights + 512);  /* (V, V) */
    const float *out = (const float *)(ctx->weights + 1536);    /* (V, D) */
    float *h = (float *)ctx->state;                              /* (D) */
    float *hs = (float *)ctx->scratch;                           /* (max_batch, D) */

    uint64_t t = hycrt_prof_begin(ctx);
    for (int i = 0; i < n; i++) {
        float scale = 1.0f / (float)(1 + ctx->pos + i);
        for (int j = 0; j < TOY_D; j++) {
            h[j] += emb[tokens[i] * TOY_D + j] * scale;
            hs[i * TOY_D + j] = h[j];
        }
    }
    hycrt_prof_end(ctx, 0, t);

    if (mode != HYCRT_LOGITS_NONE) {
        int first = mode == HYCRT_LOGITS_ALL ? 0 : n - 1;
        SumLogits a = {bigram, out, hs + first * TOY_D, tokens + first, logits, n - first};
        t = hycrt_prof_begin(ctx);
        hycrt_parallel_for(ctx->pool, hycrt_pool_threads(ctx->pool), sum_logits_task, &a);
        hycrt_prof_end(ctx, 1, t);
    }
    ctx->pos += n;
    return 0;
}

const hycrt_model_desc toy_sum_desc = {
    .abi_version = HYCRT_ABI_VERSION,
    .name = "toy_sum",
    .hash = 0x50A50A50A50A50A5ull,
    .vocab = TOY_V,
    .d_model = TOY_D,
    .max_seq = TOY_SEQ,
    .max_batch = TOY_BATCH,
    .n_tensors = 3,
    .tensors = sum_tensors,
    .weights_bytes = 2048,
    .state_bytes = TOY_D * sizeof(float),
    .scratch_bytes = TOY_BATCH * TOY_D * sizeof(float),
    .weights_name = NULL,
    .forward = sum_forward,
    .n_kernels = 2,
    .kernel_names = sum_kernels,
};
