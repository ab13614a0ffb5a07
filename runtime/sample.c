/* sample.c — choosing the next token: greedy, temperature, top-k, top-p,
 * with a seeded RNG.
 *
 * The result depends only on the logits, the configuration and the RNG
 * state: candidates are ordered by (logit desc, token id asc), a total order,
 * so ties never depend on the selection algorithm.  No allocation per call:
 * the sampler owns a [vocab] candidate array.  Sorting is our own heap
 * select/heapsort, not qsort, which glibc may implement with malloc.
 *
 * Cost per call: greedy O(V); temperature alone O(V) (one exp per token);
 * top-k O(V log k); top-p alone selects the top 64, then 512, ... tokens
 * until they hold top_p of the mass, which for real models is almost always
 * the first round.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "internal.h"

typedef struct Cand {
    float logit;
    int32_t id;
} Cand;

/* The candidate order: higher logit first, then lower id. */
static inline bool better(Cand a, Cand b)
{
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

/* NaN would break every comparison: it counts as -inf. */
static inline float clean(float x) { return isnan(x) ? -INFINITY : x; }

uint64_t hycrt_rng_seed(uint64_t seed) { return seed; }

uint64_t hycrt_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double hycrt_rng_uniform(uint64_t *state)
{
    return (double)(hycrt_rng_next(state) >> 11) * 0x1.0p-53;
}

int hycrt_argmax(const float *logits, int vocab)
{
    int best = 0;
    float bv = clean(logits[0]);
    for (int i = 1; i < vocab; i++) {
        float v = clean(logits[i]);
        if (v > bv)
            bv = v, best = i;
    }
    return best;
}

int hycrt_sampler_init(hycrt_sampler *s, int vocab, float temperature, int top_k,
                       float top_p)
{
    s->scratch = NULL;
    s->vocab = 0;
    if (vocab <= 0 || isnan(temperature) || isinf(temperature) || isnan(top_p) ||
        top_p <= 0)
        return HYCRT_E_INVALID;
    s->scratch = malloc((size_t)vocab * sizeof(Cand));
    if (!s->scratch)
        return HYCRT_E_NOMEM;
    s->vocab = vocab;
    s->temperature = temperature;
    s->top_k = top_k;
    s->top_p = top_p;
    return HYCRT_OK;
}

void hycrt_sampler_free(hycrt_sampler *s)
{
    free(s->scratch);
    s->scratch = NULL;
}

/* Min-heap on `better`: the root is the worst candidate kept. */
static void sift_down(Cand *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && better(h[w], h[l]))
            w = l;
        if (r < n && better(h[w], h[r]))
            w = r;
        if (w == i)
            return;
        Cand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/* c[0 .. n) = the n best candidates of logits[vocab], best first. */
static void select_top(const float *logits, int vocab, int n, Cand *c)
{
    for (int i = 0; i < n; i++)
        c[i] = (Cand){clean(logits[i]), i};
    for (int i = n / 2 - 1; i >= 0; i--)
        sift_down(c, n, i);
    for (int i = n; i < vocab; i++) {
        Cand x = {clean(logits[i]), i};
        if (better(x, c[0])) {
            c[0] = x;
            sift_down(c, n, 0);
        }
    }
    /* Heapsort: the worst goes to the end, then the next worst, ... */
    for (int end = n - 1; end > 0; end--) {
        Cand t = c[0];
        c[0] = c[end];
        c[end] = t;
        sift_down(c, end, 0);
    }
}

int hycrt_sample(hycrt_sampler *s, const float *logits, uint64_t *rng_state)
{
    int vocab = s->vocab;
    if (s->temperature <= 0 || s->top_k == 1)
        return hycrt_argmax(logits, vocab);
    int best = hycrt_argmax(logits, vocab);
    float max = clean(logits[best]);
    if (max == -INFINITY)
        return best; /* nothing has any probability */
    float inv_t = 1.0f / s->temperature;
    Cand *c = s->scratch;
    bool use_k = s->top_k > 0 && s->top_k < vocab;
    bool use_p = s->top_p < 1;

    /* Temperature alone: one pass for the normalizer, one for the draw. */
    if (!use_k && !use_p) {
        double z = 0;
        for (int i = 0; i < vocab; i++)
            z += expf((clean(logits[i]) - max) * inv_t);
        double r = hycrt_rng_uniform(rng_state) * z, acc = 0;
        for (int i = 0; i < vocab; i++) {
            acc += expf((clean(logits[i]) - max) * inv_t);
            if (r < acc)
                return i;
        }
        return best; /* rounding left r at the very end */
    }

    /* The candidates, best first, and `total`: the mass top-p is taken of. */
    int n;
    double total = 0;
    if (use_k) {
        n = s->top_k;
        select_top(logits, vocab, n, c);
        for (int i = 0; i < n; i++)
            total += expf((c[i].logit - max) * inv_t);
    } else {
        for (int i = 0; i < vocab; i++)
            total += expf((clean(logits[i]) - max) * inv_t);
        for (n = vocab < 64 ? vocab : 64;; n = vocab / 8 < n ? vocab : n * 8) {
            select_top(logits, vocab, n, c);
            double mass = 0;
            for (int i = 0; i < n; i++)
                mass += expf((c[i].logit - max) * inv_t);
            if (n == vocab || mass >= s->top_p * total)
                break;
        }
    }

    /* Top-p: the shortest prefix holding top_p of the mass (at least one). */
    int keep = n;
    double kept = total;
    if (use_p) {
        double target = s->top_p * total, acc = 0;
        for (int i = 0; i < n; i++) {
            acc += expf((c[i].logit - max) * inv_t);
            if (acc >= target) {
                keep = i + 1;
                break;
            }
        }
        kept = acc;
    }

    double r = hycrt_rng_uniform(rng_state) * kept, acc = 0;
    for (int i = 0; i < keep; i++) {
        acc += expf((c[i].logit - max) * inv_t);
        if (r < acc)
            return c[i].id;
    }
    return c[0].id;
}
