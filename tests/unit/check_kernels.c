/* check_kernels.c — unit tests of the reference kernels (interp/kernels.c).
 *
 * Two kinds of test:
 *   - hand-checked values: tiny inputs whose entries are exact in float32,
 *     expected outputs computed independently in float64 (a short plain
 *     Python script that restates each formula of MODELS.md, or by hand for
 *     matmul and conv) and pasted here as literals;
 *   - properties on random inputs: chunked SSD == sequential SSD, a prefill
 *     call then per-token calls == one call (conv, both scans, delta rule),
 *     sliding window >= T == full causal, GQA == MHA with repeated heads,
 *     RoPE depends only on relative positions, Mamba-1 == Mamba-2 with a
 *     scalar A, ...
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "interp/interp.h"

/* ---- helpers -------------------------------------------------------------- */

/* |got - want| <= atol + rtol |want| everywhere; NaN never passes. */
static void expect_close(const float *got, const float *want, int n,
                         double rtol, double atol, const char *what)
{
    for (int i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        bool ok = fabs(g - w) <= atol + rtol * fabs(w);
        ck_assert_msg(ok, "%s[%d]: got %.9g, want %.9g", what, i, g, w);
    }
}

/* Hand-checked values: the float32 result of a float64 computation. */
#define EXPECT_REF(got, want, what) \
    expect_close((got), (want), (int)(sizeof(want) / sizeof((want)[0])), 2e-6, 1e-7, (what))

static void expect_same(const float *got, const float *want, int n, const char *what)
{
    expect_close(got, want, n, 0, 0, what);
}

/* xorshift32: deterministic inputs, identical on every machine. */
typedef struct Rng { uint32_t s; } Rng;

static float rng_uniform(Rng *r, float lo, float hi)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 17;
    r->s ^= r->s << 5;
    return lo + (hi - lo) * (float)((r->s >> 8) * (1.0 / 16777216.0));
}

static float *rand_buf(Rng *r, size_t n, float lo, float hi)
{
    float *p = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = rng_uniform(r, lo, hi);
    return p;
}

static float *copy_buf(const float *src, size_t n)
{
    return memcpy(xmalloc(n * sizeof(float)), src, n * sizeof(float));
}

static float *zero_buf(size_t n) { return xcalloc(n, sizeof(float)); }

/* ---- linear --------------------------------------------------------------- */

START_TEST(test_matmul)
{
    const float x[] = {1, 2, 3, -1, 0.5f, 2};      /* [2, 3] */
    const float w[] = {1, 0, -1, 0.5f, 0.25f, 2};  /* [2, 3] */
    const float b[] = {0.5f, -1};
    /* By hand: row 0 = (1 - 3 + 0.5, 0.5 + 0.5 + 6 - 1), row 1 = (-1 - 2 +
     * 0.5, -0.5 + 0.125 + 4 - 1). */
    const float want_b[] = {-1.5f, 6, -2.5f, 2.625f};
    const float want_nb[] = {-2, 7, -3, 3.625f};
    float y[4];
    ik_matmul(y, x, w, b, 2, 3, 2);
    EXPECT_REF(y, want_b, "matmul+bias");
    ik_matmul(y, x, w, NULL, 2, 3, 2);
    EXPECT_REF(y, want_nb, "matmul");
}
END_TEST

/* ---- elementwise ---------------------------------------------------------- */

static const float ew_x[] = {-30, -2, -0.5f, 0, 0.5f, 2, 25};
#define EW_N 7

START_TEST(test_unary)
{
    const float silu[] = {-2.80728689e-12f, -0.238405844f, -0.188770334f, 0, 0.311229666f, 1.76159416f, 25};
    const float gelu[] = {-0.0f, -0.0455002639f, -0.154268769f, 0, 0.345731231f, 1.95449974f, 25};
    const float gelu_tanh[] = {-0.0f, -0.0454023059f, -0.15428599f, 0, 0.34571401f, 1.95459769f, 25};
    const float softplus[] = {9.35762297e-14f, 0.126928011f, 0.474076984f, 0.693147181f, 0.974076984f, 2.12692801f, 25};
    const float sigmoid[] = {9.35762297e-14f, 0.119202922f, 0.377540669f, 0.5f, 0.622459331f, 0.880797078f, 1};
    const float ex[] = {9.35762297e-14f, 0.135335283f, 0.60653066f, 1, 1.64872127f, 7.3890561f, 7.20048993e+10f};
    const float relu[] = {0, 0, 0, 0, 0.5f, 2, 25};
    const float relu2[] = {0, 0, 0, 0, 0.25f, 4, 625};
    float y[EW_N];
    ik_silu(y, ew_x, EW_N);      EXPECT_REF(y, silu, "silu");
    ik_gelu(y, ew_x, EW_N);      EXPECT_REF(y, gelu, "gelu");
    ik_gelu_tanh(y, ew_x, EW_N); EXPECT_REF(y, gelu_tanh, "gelu_tanh");
    ik_softplus(y, ew_x, EW_N);  EXPECT_REF(y, softplus, "softplus");
    ik_sigmoid(y, ew_x, EW_N);   EXPECT_REF(y, sigmoid, "sigmoid");
    ik_exp(y, ew_x, EW_N);       EXPECT_REF(y, ex, "exp");
    ik_relu(y, ew_x, EW_N);      EXPECT_REF(y, relu, "relu");
    ik_relu2(y, ew_x, EW_N);     EXPECT_REF(y, relu2, "relu2");
}
END_TEST

START_TEST(test_unary_extremes)
{
    /* No overflow to inf/NaN at the ends of the float range. */
    const float x[] = {-1e30f, -100, 100, 1e30f};
    float y[4];
    ik_sigmoid(y, x, 4);
    ck_assert(y[0] == 0 && y[1] >= 0 && y[1] < 1e-40f && y[2] == 1 && y[3] == 1);
    ik_softplus(y, x, 4);
    ck_assert(y[0] == 0 && y[2] == 100 && y[3] == 1e30f);
    /* below the threshold softplus is not yet x: log1p(e^10) = 10.0000454 */
    const float ten = 10, sp10[] = {10.0000454f};
    ik_softplus(y, &ten, 1);
    EXPECT_REF(y, sp10, "softplus(10)");
    ik_silu(y, x, 4);
    ck_assert(y[0] == 0 && y[3] == 1e30f);
}
END_TEST

START_TEST(test_binary_in_place)
{
    const float a[] = {1, -2, 0.5f, 3};
    const float b[] = {0.25f, 4, -0.5f, 3};
    const float sum[] = {1.25f, 2, 0, 6}, diff[] = {0.75f, -6, 1, 0};
    const float prod[] = {0.25f, -8, -0.25f, 9}, sc[] = {-1.5f, 3, -0.75f, -4.5f};
    float y[4];
    ik_add(y, a, b, 4); EXPECT_REF(y, sum, "add");
    ik_sub(y, a, b, 4); EXPECT_REF(y, diff, "sub");
    ik_mul(y, a, b, 4); EXPECT_REF(y, prod, "mul");
    ik_scale(y, a, -1.5f, 4); EXPECT_REF(y, sc, "scale");
    /* in place */
    memcpy(y, a, sizeof y);
    ik_add(y, y, b, 4); EXPECT_REF(y, sum, "add in place");
    memcpy(y, ew_x + 1, sizeof y);
    ik_relu2(y, y, 4);
    ck_assert(y[0] == 0 && y[3] == 0.25f);
}
END_TEST

START_TEST(test_l2norm)
{
    const float x[] = {3, 4, 1, -1};
    const float want[] = {0.599999988f, 0.799999984f, 0.707106604f, -0.707106604f}; /* eps 1e-6 */
    const float want0[] = {0.6f, 0.8f, 0.707106781f, -0.707106781f};              /* eps 0 */
    float y[4];
    ik_l2norm(y, x, 2, 2, 1e-6f);
    EXPECT_REF(y, want, "l2norm");
    memcpy(y, x, sizeof y);
    ik_l2norm(y, y, 2, 2, 0);
    EXPECT_REF(y, want0, "l2norm eps 0 in place");
}
END_TEST

/* ---- norms ---------------------------------------------------------------- */

static const float nx[] = {1, 2, 3, 4, -0.5f, 0.5f, 0, 1}; /* [2, 4] */
static const float nw[] = {1, 0.5f, 2, -1};
static const float nb[] = {0, 1, -1, 0.5f};
static const float nz[] = {0.5f, -1, 2, 0, 1, 1, -2, 0.25f};

START_TEST(test_rmsnorm)
{
    const float w0[] = {0.365148128f, 0.365148128f, 2.19088877f, -1.46059251f,
                        -0.816485695f, 0.408242847f, 0, -1.63297139f};
    const float w1[] = {0.730296256f, 1.09544438f, 3.28633315f, 0,
                        -1.63297139f, 1.22472854f, 0, 0};
    const float nw1[] = {0.365148128f, 0.730296256f, 1.09544438f, 1.46059251f,
                         -0.816485695f, 0.816485695f, 0, 1.63297139f};
    float y[8];
    ik_rmsnorm(y, nx, nw, 2, 4, 1e-5f, 0); EXPECT_REF(y, w0, "rmsnorm");
    ik_rmsnorm(y, nx, nw, 2, 4, 1e-5f, 1); EXPECT_REF(y, w1, "rmsnorm (1+w)");
    memcpy(y, nx, sizeof y);
    ik_rmsnorm(y, y, NULL, 2, 4, 1e-5f, 0); EXPECT_REF(y, nw1, "rmsnorm no weight, in place");
}
END_TEST

START_TEST(test_layernorm)
{
    const float want[] = {-1.34163542f, 0.776394097f, -0.105576387f, -0.84163542f,
                          -1.34161932f, 1.22360322f, -1.89441288f, -0.841619321f};
    float y[8];
    ik_layernorm(y, nx, nw, nb, 2, 4, 1e-5f);
    EXPECT_REF(y, want, "layernorm");
    /* No weight, no bias: each row has mean 0 and (biased) variance ~1. */
    ik_layernorm(y, nx, NULL, NULL, 2, 4, 0);
    for (int r = 0; r < 2; r++) {
        double m = 0, v = 0;
        for (int i = 0; i < 4; i++) m += y[r * 4 + i];
        for (int i = 0; i < 4; i++) v += (double)y[r * 4 + i] * y[r * 4 + i];
        ck_assert(fabs(m) < 1e-6 && fabs(v / 4 - 1) < 1e-6);
    }
}
END_TEST

START_TEST(test_group_rmsnorm)
{
    const float want[] = {0.632454267f, 0.632454267f, 1.6970556f, -1.1313704f,
                          -0.999980001f, 0.49999f, 0, -1.41419942f};
    float y[8], y1[8];
    ik_group_rmsnorm(y, nx, nw, 2, 4, 2, 1e-5f);
    EXPECT_REF(y, want, "group_rmsnorm");
    /* One group is plain RMSNorm. */
    ik_group_rmsnorm(y, nx, nw, 2, 4, 1, 1e-5f);
    ik_rmsnorm(y1, nx, nw, 2, 4, 1e-5f, 0);
    expect_close(y, y1, 8, 1e-6, 0, "group_rmsnorm G=1 vs rmsnorm");
}
END_TEST

START_TEST(test_gated_rmsnorm)
{
    const float after[] = {0.708253623f, -0.612019859f, 2.82842611f, -0.0f,
                           -0.99996258f, 0.49998129f, -0.0f, -1.41349814f};
    const float before[] = {0.19683853f, -0.17009315f, 2.98952322f, -0.0f,
                            -0.731043958f, 0.365521979f, -0.0f, -0.19875742f};
    float y[8];
    ik_gated_rmsnorm(y, nx, nz, nw, 2, 4, 2, 1e-5f, false);
    EXPECT_REF(y, after, "gated rmsnorm, gate then norm");
    ik_gated_rmsnorm(y, nx, nz, nw, 2, 4, 2, 1e-5f, true);
    EXPECT_REF(y, before, "gated rmsnorm, norm then gate");
    /* out may alias z */
    memcpy(y, nz, sizeof y);
    ik_gated_rmsnorm(y, nx, y, nw, 2, 4, 2, 1e-5f, true);
    EXPECT_REF(y, before, "gated rmsnorm into z");
}
END_TEST

/* ---- softmax -------------------------------------------------------------- */

START_TEST(test_softmax)
{
    const float x[] = {1, 2, 3, 1000, 1001, 999, 0, -INFINITY, 0};
    const float want[] = {0.0900305732f, 0.244728471f, 0.665240956f,
                          0.244728471f, 0.665240956f, 0.0900305732f,
                          0.5f, 0, 0.5f};
    float y[9];
    ik_softmax(y, x, 3, 3);
    EXPECT_REF(y, want, "softmax");
    memcpy(y, x, sizeof y);
    ik_softmax(y, y, 3, 3);
    EXPECT_REF(y, want, "softmax in place");
}
END_TEST

/* ---- causal conv1d -------------------------------------------------------- */

START_TEST(test_conv_values)
{
    const float x[] = {1, 2, 3, -1, 0.5f, 0, -2, 1}; /* [4, 2] */
    const float w[] = {1, 0.5f, -1, 0.25f, 2, 1};    /* [2, 3] */
    const float b[] = {0.5f, 0};
    /* By hand, xpad = 0,0,x: y[t,c] = b[c] + w[c,0] xpad[t] + w[c,1] xpad[t+1] + w[c,2] xpad[t+2]. */
    const float want_y[] = {-0.5f, 2, -2, 3, 2.5f, -1.5f, 5.75f, 0.75f};
    const float want_state[] = {0.5f, -2, 0, 1}; /* [2, 2]: last two inputs per channel */
    float y[8], state[4] = {0};
    ik_causal_conv1d(y, x, w, b, state, 4, 2, 3);
    EXPECT_REF(y, want_y, "conv y");
    EXPECT_REF(state, want_state, "conv state");
    /* One token on a given history. */
    float s1[4] = {1.5f, -1, 0.25f, 2};
    const float want1_y[] = {0.5f, 6.0625f}, want1_state[] = {-1, 1, 2, 2};
    ik_causal_conv1d(y, x, w, b, s1, 1, 2, 3);
    EXPECT_REF(y, want1_y, "conv step y");
    EXPECT_REF(s1, want1_state, "conv step state");
    /* NULL state == zero history. */
    float y0[8];
    ik_causal_conv1d(y0, x, w, b, NULL, 4, 2, 3);
    expect_same(y0, want_y, 8, "conv, NULL state");
}
END_TEST

/* Prefill of `split` tokens, then the rest one at a time, == one call. */
static void conv_split_case(int T, int C, int K, int split)
{
    Rng r = {0x1234u + (uint32_t)(T * 31 + C * 7 + K)};
    float *x = rand_buf(&r, (size_t)T * C, -2, 2);
    float *w = rand_buf(&r, (size_t)C * K, -1, 1);
    float *b = rand_buf(&r, (size_t)C, -1, 1);
    float *s_full = zero_buf((size_t)C * (K - 1)), *s_inc = zero_buf((size_t)C * (K - 1));
    float *y_full = zero_buf((size_t)T * C), *y_inc = zero_buf((size_t)T * C);
    ik_causal_conv1d(y_full, x, w, b, s_full, T, C, K);
    ik_causal_conv1d(y_inc, x, w, b, s_inc, split, C, K);
    for (int t = split; t < T; t++)
        ik_causal_conv1d(y_inc + (size_t)t * C, x + (size_t)t * C, w, b, s_inc, 1, C, K);
    /* Same float products in the same order: bit-identical. */
    expect_same(y_inc, y_full, T * C, "conv split y");
    expect_same(s_inc, s_full, C * (K - 1), "conv split state");
    free(x); free(w); free(b); free(s_full); free(s_inc); free(y_full); free(y_inc);
}

START_TEST(test_conv_split)
{
    conv_split_case(7, 3, 4, 3);
    conv_split_case(7, 3, 4, 1);  /* prefill shorter than the window */
    conv_split_case(7, 3, 4, 0);  /* all decode */
    conv_split_case(5, 2, 1, 2);  /* K = 1: no state */
    conv_split_case(9, 5, 2, 6);
}
END_TEST

/* ---- Mamba-1 selective scan ----------------------------------------------- */

START_TEST(test_selective_scan_values)
{
    const float x[] = {1, -0.5f, 0.5f, 2, -1, 1};               /* [3, 2] */
    const float delta[] = {0.5f, 1, 0.25f, 0.125f, 1, 0.5f};    /* [3, 2] */
    const float A[] = {-1, -0.5f, -2, -0.25f};                  /* [2, 2] */
    const float B[] = {1, 0.5f, -1, 2, 0.5f, 0.5f};             /* [3, 2] */
    const float C[] = {0.5f, 1, 1, -1, 2, 0.25f};               /* [3, 2] */
    const float D[] = {1, 0.5f};
    const float z[] = {0.5f, -1, 1, 0, 2, -0.5f};
    const float want_y[] = {0.514037082f, 0.411157856f, 0.387431397f, 0,
                            -2.96886592f, -0.0910576388f};
    const float want_h[] = {-0.31584556f, -0.214551978f, 0.0147777413f, -0.188731491f};
    float y[6], h[4] = {0.5f, 0, 0, -1};
    ik_selective_scan(y, x, delta, A, B, C, D, z, h, 3, 2, 2);
    EXPECT_REF(y, want_y, "selective_scan y");
    EXPECT_REF(h, want_h, "selective_scan h");
}
END_TEST

typedef struct ScanCase {
    int T, E, N;
    float *x, *delta, *A, *B, *C, *D, *z, *h0;
} ScanCase;

static ScanCase scan_case_new(int T, int E, int N, uint32_t seed)
{
    Rng r = {seed};
    ScanCase c = {T, E, N, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    c.x = rand_buf(&r, (size_t)T * E, -2, 2);
    c.delta = rand_buf(&r, (size_t)T * E, 0.01f, 1.5f);
    c.A = rand_buf(&r, (size_t)E * N, -4, -0.1f);
    c.B = rand_buf(&r, (size_t)T * N, -1, 1);
    c.C = rand_buf(&r, (size_t)T * N, -1, 1);
    c.D = rand_buf(&r, (size_t)E, -1, 1);
    c.z = rand_buf(&r, (size_t)T * E, -3, 3);
    c.h0 = rand_buf(&r, (size_t)E * N, -1, 1);
    return c;
}

static void scan_case_free(ScanCase *c)
{
    free(c->x); free(c->delta); free(c->A); free(c->B); free(c->C);
    free(c->D); free(c->z); free(c->h0);
}

START_TEST(test_selective_scan_split)
{
    ScanCase c = scan_case_new(9, 3, 4, 99);
    int T = c.T, E = c.E, N = c.N;
    float *y_full = zero_buf((size_t)T * E), *y_inc = zero_buf((size_t)T * E);
    float *h_full = copy_buf(c.h0, (size_t)E * N), *h_inc = copy_buf(c.h0, (size_t)E * N);
    ik_selective_scan(y_full, c.x, c.delta, c.A, c.B, c.C, c.D, c.z, h_full, T, E, N);
    int split = 5;
    ik_selective_scan(y_inc, c.x, c.delta, c.A, c.B, c.C, c.D, c.z, h_inc, split, E, N);
    for (int t = split; t < T; t++) {
        size_t te = (size_t)t * E, tn = (size_t)t * N;
        ik_selective_scan(y_inc + te, c.x + te, c.delta + te, c.A, c.B + tn, c.C + tn,
                          c.D, c.z + te, h_inc, 1, E, N);
    }
    expect_close(y_inc, y_full, T * E, 1e-5, 1e-6, "selective_scan split y");
    expect_close(h_inc, h_full, E * N, 1e-5, 1e-6, "selective_scan split h");
    free(y_full); free(y_inc); free(h_full); free(h_inc);
    scan_case_free(&c);
}
END_TEST

START_TEST(test_selective_scan_skip_and_gate)
{
    /* y(D, z) == (y(no D, no z) + D x) * silu(z) */
    ScanCase c = scan_case_new(6, 4, 3, 7);
    int T = c.T, E = c.E, N = c.N;
    float *y = zero_buf((size_t)T * E), *y0 = zero_buf((size_t)T * E), *g = zero_buf((size_t)T * E);
    float *h = copy_buf(c.h0, (size_t)E * N), *h0 = copy_buf(c.h0, (size_t)E * N);
    ik_selective_scan(y, c.x, c.delta, c.A, c.B, c.C, c.D, c.z, h, T, E, N);
    ik_selective_scan(y0, c.x, c.delta, c.A, c.B, c.C, NULL, NULL, h0, T, E, N);
    ik_silu(g, c.z, T * E);
    for (int t = 0; t < T; t++)
        for (int e = 0; e < E; e++) {
            size_t i = (size_t)t * E + e;
            y0[i] = (float)(((double)y0[i] + (double)c.D[e] * c.x[i]) * g[i]);
        }
    expect_close(y, y0, T * E, 1e-5, 1e-6, "selective_scan D and z");
    expect_same(h, h0, E * N, "selective_scan state does not see D, z");
    free(y); free(y0); free(g); free(h); free(h0);
    scan_case_free(&c);
}
END_TEST

/* ---- Mamba-2 SSD ---------------------------------------------------------- */

START_TEST(test_ssd_values)
{
    /* T=3, H=2, P=2, G=1, N=2 */
    const float x[] = {1, -1, 0.5f, 2, 0.25f, 0.5f, -1, 1, 2, 0, 1, -0.5f};
    const float dt[] = {0.5f, 1, 0.25f, 2, 1, 0.125f};
    const float A[] = {-1, -0.5f};
    const float B[] = {1, 0.5f, -0.5f, 1, 0.25f, 2};
    const float C[] = {0.5f, -1, 1, 1, 2, 0.5f};
    const float D[] = {1, 0.5f};
    const float h0[] = {0.5f, 0, 0, 1, -1, 0.25f, 0.5f, 0.5f};
    const float want_y[] = {1.15163266f, -1.60653066f, -0.204897995f, 0.848367335f,
                            1.10153386f, 0.450765965f, -1.39143804f, 2.82676848f,
                            5.48459561f, -0.25842339f, 1.62268131f, 0.534009558f};
    const float want_h[] = {0.718643138f, 4.09461866f, -0.166244864f, 0.148132674f,
                            0.933847052f, -1.49002559f, -0.159050864f, 2.20422257f};
    float y[12], h[8];
    memcpy(h, h0, sizeof h);
    ik_ssd_scan(y, x, dt, A, B, C, D, h, 3, 2, 2, 1, 2);
    EXPECT_REF(y, want_y, "ssd y");
    EXPECT_REF(h, want_h, "ssd h");
    for (int chunk = 1; chunk <= 4; chunk++) {
        memcpy(h, h0, sizeof h);
        ik_ssd_scan_chunked(y, x, dt, A, B, C, D, h, 3, 2, 2, 1, 2, chunk);
        EXPECT_REF(y, want_y, "ssd chunked y");
        EXPECT_REF(h, want_h, "ssd chunked h");
    }
}
END_TEST

typedef struct SsdCase {
    int T, H, P, G, N;
    float *x, *dt, *A, *B, *C, *D, *h0;
} SsdCase;

static SsdCase ssd_case_new(int T, int H, int P, int G, int N, uint32_t seed)
{
    Rng r = {seed};
    SsdCase c = {T, H, P, G, N, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    c.x = rand_buf(&r, (size_t)T * H * P, -2, 2);
    c.dt = rand_buf(&r, (size_t)T * H, 0.01f, 2);
    c.A = rand_buf(&r, (size_t)H, -8, -0.05f);
    c.B = rand_buf(&r, (size_t)T * G * N, -1, 1);
    c.C = rand_buf(&r, (size_t)T * G * N, -1, 1);
    c.D = rand_buf(&r, (size_t)H, -1, 1);
    c.h0 = rand_buf(&r, (size_t)H * P * N, -1, 1);
    return c;
}

static void ssd_case_free(SsdCase *c)
{
    free(c->x); free(c->dt); free(c->A); free(c->B); free(c->C); free(c->D); free(c->h0);
}

/* chunk 0 means the sequential kernel */
static void ssd_run(const SsdCase *c, float *y, float *h, int t0, int T, int chunk)
{
    const float *x = c->x + (size_t)t0 * c->H * c->P, *dt = c->dt + (size_t)t0 * c->H;
    const float *B = c->B + (size_t)t0 * c->G * c->N, *C = c->C + (size_t)t0 * c->G * c->N;
    float *yt = y + (size_t)t0 * c->H * c->P;
    if (chunk == 0)
        ik_ssd_scan(yt, x, dt, c->A, B, C, c->D, h, T, c->H, c->P, c->G, c->N);
    else
        ik_ssd_scan_chunked(yt, x, dt, c->A, B, C, c->D, h, T, c->H, c->P, c->G, c->N, chunk);
}

START_TEST(test_ssd_chunked_equals_sequential)
{
    SsdCase c = ssd_case_new(13, 4, 3, 2, 5, 2024);
    c.A[3] = -30; /* one head that forgets almost at once: exp() underflow */
    size_t ny = (size_t)c.T * c.H * c.P, nh = (size_t)c.H * c.P * c.N;
    float *y_seq = zero_buf(ny), *h_seq = copy_buf(c.h0, nh);
    ssd_run(&c, y_seq, h_seq, 0, c.T, 0);
    const int chunks[] = {1, 2, 3, 4, 5, 7, 12, 13, 16, 64};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        float *y = zero_buf(ny), *h = copy_buf(c.h0, nh);
        ssd_run(&c, y, h, 0, c.T, chunks[i]);
        expect_close(y, y_seq, (int)ny, 1e-5, 1e-5, "ssd chunked y");
        expect_close(h, h_seq, (int)nh, 1e-5, 1e-5, "ssd chunked h");
        free(y); free(h);
    }
    free(y_seq); free(h_seq);
    ssd_case_free(&c);
}
END_TEST

START_TEST(test_ssd_split)
{
    SsdCase c = ssd_case_new(11, 2, 4, 1, 3, 5);
    size_t ny = (size_t)c.T * c.H * c.P, nh = (size_t)c.H * c.P * c.N;
    float *y_full = zero_buf(ny), *h_full = copy_buf(c.h0, nh);
    ssd_run(&c, y_full, h_full, 0, c.T, 0);
    /* prefill (sequential, then chunked with a chunk that does not divide
     * it) followed by single-token steps */
    for (int prefill_chunk = 0; prefill_chunk <= 4; prefill_chunk += 4) {
        float *y = zero_buf(ny), *h = copy_buf(c.h0, nh);
        int split = 6;
        ssd_run(&c, y, h, 0, split, prefill_chunk);
        for (int t = split; t < c.T; t++) ssd_run(&c, y, h, t, 1, 0);
        expect_close(y, y_full, (int)ny, 1e-5, 1e-5, "ssd split y");
        expect_close(h, h_full, (int)nh, 1e-5, 1e-5, "ssd split h");
        free(y); free(h);
    }
    /* two chunked calls == one chunked call */
    float *y = zero_buf(ny), *h = copy_buf(c.h0, nh);
    ssd_run(&c, y, h, 0, 5, 3);
    ssd_run(&c, y, h, 5, c.T - 5, 3);
    expect_close(y, y_full, (int)ny, 1e-5, 1e-5, "ssd chunked split y");
    expect_close(h, h_full, (int)nh, 1e-5, 1e-5, "ssd chunked split h");
    free(y); free(h);
    free(y_full); free(h_full);
    ssd_case_free(&c);
}
END_TEST

START_TEST(test_ssd_equals_mamba1)
{
    /* Mamba-2 with P = 1, G = 1 and H = E heads is Mamba-1 with A[e, n] =
     * A[e] for all n: two independent codes for the same recurrence. */
    int T = 8, E = 3, N = 4;
    ScanCase c = scan_case_new(T, E, N, 31);
    float *A1 = zero_buf((size_t)E), *Am = zero_buf((size_t)E * N);
    for (int e = 0; e < E; e++) {
        A1[e] = c.A[(size_t)e * N];
        for (int n = 0; n < N; n++) Am[(size_t)e * N + n] = A1[e];
    }
    float *y1 = zero_buf((size_t)T * E), *y2 = zero_buf((size_t)T * E);
    float *h1 = copy_buf(c.h0, (size_t)E * N), *h2 = copy_buf(c.h0, (size_t)E * N);
    ik_selective_scan(y1, c.x, c.delta, Am, c.B, c.C, c.D, NULL, h1, T, E, N);
    ik_ssd_scan_chunked(y2, c.x, c.delta, A1, c.B, c.C, c.D, h2, T, E, 1, 1, N, 3);
    expect_close(y2, y1, T * E, 1e-5, 1e-5, "ssd vs mamba1 y");
    expect_close(h2, h1, E * N, 1e-5, 1e-5, "ssd vs mamba1 h");
    free(A1); free(Am); free(y1); free(y2); free(h1); free(h2);
    scan_case_free(&c);
}
END_TEST

/* ---- RoPE ----------------------------------------------------------------- */

START_TEST(test_rope_values)
{
    float x[] = {1, 2, 3, 4, 0.5f, -1, 0.25f, 2}; /* [2, 1, 4], positions 3, 4 */
    const float want[] = {-1.41335252f, 1.87911807f, -2.82885748f, 4.05819114f,
                          -0.137621187f, -1.07917878f, -0.541812153f, 1.95841088f};
    ik_rope(x, 2, 1, 4, 4, 3, 10000.0);
    EXPECT_REF(x, want, "rope");
    /* partial: [1, 2, 4], rot_dims 2, position 5; dims 2, 3 untouched */
    float xp[] = {1, 2, 3, 4, -1, 0.5f, 0.25f, 2};
    const float wantp[] = {2.20151073f, -0.391599904f, 3, 4,
                           0.195799952f, 1.10075537f, 0.25f, 2};
    ik_rope(xp, 1, 2, 4, 2, 5, 10000.0);
    EXPECT_REF(xp, wantp, "rope partial");
}
END_TEST

static double dot_f(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

START_TEST(test_rope_relative)
{
    /* q.k after RoPE depends only on the distance of their positions;
     * position 0 and rot_dims 0 are the identity. */
    Rng r = {77};
    int hd = 8;
    float *q = rand_buf(&r, (size_t)hd, -1, 1), *k = rand_buf(&r, (size_t)hd, -1, 1);
    double ref = 0;
    for (int shift = 0; shift <= 300; shift += 100) {
        float *qa = copy_buf(q, (size_t)hd), *ka = copy_buf(k, (size_t)hd);
        ik_rope(qa, 1, 1, hd, 6, 7 + shift, 500000.0);
        ik_rope(ka, 1, 1, hd, 6, 2 + shift, 500000.0);
        double d = dot_f(qa, ka, hd);
        if (shift == 0) ref = d;
        ck_assert_msg(fabs(d - ref) < 1e-5, "rope shift %d: %g vs %g", shift, d, ref);
        ck_assert(qa[6] == q[6] && qa[7] == q[7]);
        free(qa); free(ka);
    }
    float *q0 = copy_buf(q, (size_t)hd);
    ik_rope(q0, 1, 1, hd, hd, 0, 10000.0);
    expect_same(q0, q, hd, "rope position 0");
    ik_rope(q0, 1, 1, hd, 0, 123, 10000.0);
    expect_same(q0, q, hd, "rope rot_dims 0");
    free(q); free(k); free(q0);
}
END_TEST

/* ---- attention ------------------------------------------------------------ */

/* Tq=Tk=3, Hq=2, Hkv=1, dk=dv=2 */
static const float aq[] = {1, 0, 0.5f, -1, 0, 1, 1, 1, -1, 0.5f, 2, 0};
static const float ak[] = {1, 1, 0.5f, -0.5f, -1, 2};
static const float av[] = {1, 2, -1, 0.5f, 0.25f, -2};

START_TEST(test_sdpa_values)
{
    const float full[] = {1, 2, 1, 2, 0.485633363f, 1.61422502f, 0.608859357f, 1.70664452f,
                          0.211347551f, -1.20801258f, 0.336114115f, 1.37118792f};
    const float w2[] = {1, 2, 1, 2, 0.485633363f, 1.61422502f, 0.608859357f, 1.70664452f,
                        0.0935630734f, -1.68712615f, -0.866197744f, 0.232395488f};
    float scale = (float)(1 / sqrt(2.0)), o[12];
    ik_sdpa(o, aq, ak, av, 3, 3, 2, 1, 2, 2, scale, 0, 0);
    EXPECT_REF(o, full, "sdpa causal");
    ik_sdpa(o, aq, ak, av, 3, 3, 2, 1, 2, 2, scale, 2, 0);
    EXPECT_REF(o, w2, "sdpa window 2");
    /* window >= T is full causal */
    for (int w = 3; w <= 5; w++) {
        ik_sdpa(o, aq, ak, av, 3, 3, 2, 1, 2, 2, scale, w, 0);
        EXPECT_REF(o, full, "sdpa window >= T");
    }
    /* window 1: each query sees only itself */
    ik_sdpa(o, aq, ak, av, 3, 3, 2, 1, 2, 2, scale, 1, 0);
    for (int i = 0; i < 3; i++)
        for (int h = 0; h < 2; h++) expect_same(o + (i * 2 + h) * 2, av + i * 2, 2, "sdpa window 1");
}
END_TEST

START_TEST(test_sdpa_decode_and_gqa)
{
    int T = 9, Hq = 4, Hkv = 2, dk = 5, dv = 3, window = 4;
    Rng r = {4242};
    float *q = rand_buf(&r, (size_t)T * Hq * dk, -2, 2);
    float *k = rand_buf(&r, (size_t)T * Hkv * dk, -2, 2);
    float *v = rand_buf(&r, (size_t)T * Hkv * dv, -2, 2);
    float scale = 0.4f;
    for (int win = 0; win <= window; win += window) {
        float *o = zero_buf((size_t)T * Hq * dv), *o2 = zero_buf((size_t)T * Hq * dv);
        ik_sdpa(o, q, k, v, T, T, Hq, Hkv, dk, dv, scale, win, 0);
        /* decode: one query at a time against the cache so far */
        for (int i = 0; i < T; i++)
            ik_sdpa(o2 + (size_t)i * Hq * dv, q + (size_t)i * Hq * dk, k, v,
                    1, i + 1, Hq, Hkv, dk, dv, scale, win, i);
        expect_same(o2, o, T * Hq * dv, "sdpa decode == prefill");
        /* a later block of queries against the whole cache */
        memset(o2, 0, (size_t)T * Hq * dv * sizeof(float));
        ik_sdpa(o2 + (size_t)5 * Hq * dv, q + (size_t)5 * Hq * dk, k, v,
                T - 5, T, Hq, Hkv, dk, dv, scale, win, 5);
        expect_same(o2 + 5 * Hq * dv, o + 5 * Hq * dv, (T - 5) * Hq * dv, "sdpa block of queries");
        /* GQA == MHA on kv heads repeated (query head h -> kv head h / 2) */
        float *k4 = zero_buf((size_t)T * Hq * dk), *v4 = zero_buf((size_t)T * Hq * dv);
        for (int j = 0; j < T; j++)
            for (int h = 0; h < Hq; h++) {
                memcpy(k4 + ((size_t)j * Hq + h) * dk, k + ((size_t)j * Hkv + h / 2) * dk, (size_t)dk * sizeof(float));
                memcpy(v4 + ((size_t)j * Hq + h) * dv, v + ((size_t)j * Hkv + h / 2) * dv, (size_t)dv * sizeof(float));
            }
        ik_sdpa(o2, q, k4, v4, T, T, Hq, Hq, dk, dv, scale, win, 0);
        expect_same(o2, o, T * Hq * dv, "sdpa gqa == mha");
        free(o); free(o2); free(k4); free(v4);
    }
    free(q); free(k); free(v);
}
END_TEST

/* ---- MoE routing ---------------------------------------------------------- */

static const float rl[] = {1, 3, 2, 3, 0.5f, 0.5f, -1, 2, 1, 0}; /* [2, 5]; row 0 has a tie */

START_TEST(test_route_softmax_topk)
{
    float w[4];
    int idx[4];
    const int want_idx[] = {1, 3, 2, 3};
    const float raw[] = {0.386802347f, 0.386802347f, 0.563021232f, 0.207123936f};
    const float ren[] = {0.5f, 0.5f, 0.731058579f, 0.268941421f};
    ik_route(w, idx, rl, 2, 5, 2, IK_ROUTE_SOFTMAX_TOPK, false, NULL);
    ck_assert(memcmp(idx, want_idx, sizeof idx) == 0);
    EXPECT_REF(w, raw, "route softmax-topk");
    ik_route(w, idx, rl, 2, 5, 2, IK_ROUTE_SOFTMAX_TOPK, true, NULL);
    ck_assert(memcmp(idx, want_idx, sizeof idx) == 0);
    EXPECT_REF(w, ren, "route softmax-topk renormalized");
}
END_TEST

START_TEST(test_route_topk_softmax)
{
    float w[4];
    int idx[4];
    const int want_idx[] = {1, 3, 2, 3};
    const float want[] = {0.5f, 0.5f, 0.731058579f, 0.268941421f};
    ik_route(w, idx, rl, 2, 5, 2, IK_ROUTE_TOPK_SOFTMAX, false, NULL);
    ck_assert(memcmp(idx, want_idx, sizeof idx) == 0);
    EXPECT_REF(w, want, "route topk-softmax");
    /* k = all experts: softmax over everything, sorted */
    float wa[5], p[5];
    int ia[5];
    ik_route(wa, ia, rl + 5, 1, 5, 5, IK_ROUTE_TOPK_SOFTMAX, false, NULL);
    ik_softmax(p, rl + 5, 1, 5);
    const int order[] = {2, 3, 0, 4, 1};
    for (int r = 0; r < 5; r++) {
        ck_assert_int_eq(ia[r], order[r]);
        ck_assert(fabsf(wa[r] - p[order[r]]) < 1e-7f);
    }
}
END_TEST

START_TEST(test_route_sigmoid_bias)
{
    float w[4];
    int idx[4];
    const float bias[] = {0, 0, 0, 0, 2};
    /* bias picks expert 4 first, but its weight is sigmoid(logit) alone */
    const int want_idx[] = {4, 1, 4, 2};
    const float raw[] = {0.622459331f, 0.952574127f, 0.5f, 0.880797078f};
    const float nrm[] = {0.395203878f, 0.604796122f, 0.362109689f, 0.637890311f};
    ik_route(w, idx, rl, 2, 5, 2, IK_ROUTE_SIGMOID_BIAS, false, bias);
    ck_assert(memcmp(idx, want_idx, sizeof idx) == 0);
    EXPECT_REF(w, raw, "route sigmoid");
    ik_route(w, idx, rl, 2, 5, 2, IK_ROUTE_SIGMOID_BIAS, true, bias);
    ck_assert(memcmp(idx, want_idx, sizeof idx) == 0);
    EXPECT_REF(w, nrm, "route sigmoid normalized");
    /* no bias: plain top-k of the logits */
    const int want_nb[] = {1, 3, 2, 3};
    ik_route(w, idx, rl, 2, 5, 2, IK_ROUTE_SIGMOID_BIAS, false, NULL);
    ck_assert(memcmp(idx, want_nb, sizeof idx) == 0);
}
END_TEST

/* DeepSeek-V3 group-limited selection: 6 experts in 3 groups of 2; a
 * group scores the sum of its two sigmoid(+bias) keys. */
START_TEST(test_route_groups)
{
    const float lg[] = {0.5f, 2.0f, 1.5f, 1.4f, -1.0f, 3.0f};
    float w[3];
    int idx[3];
    /* group scores 1.5033, 1.6198, 1.2215: only group 1 (experts 2, 3) is
     * kept, so the best expert (5) is not chosen */
    const int want_a[] = {2, 3};
    const float nrm_a[] = {0.50475089f, 0.49524911f};
    ik_route_grouped(w, idx, lg, 1, 6, 2, IK_ROUTE_SIGMOID_BIAS, true, NULL, 3, 1);
    ck_assert(memcmp(idx, want_a, 2 * sizeof(int)) == 0);
    EXPECT_REF(w, nrm_a, "route groups");
    /* ungrouped: experts 5 and 1 */
    ik_route_grouped(w, idx, lg, 1, 6, 2, IK_ROUTE_SIGMOID_BIAS, true, NULL, 1, 1);
    ck_assert(idx[0] == 5 && idx[1] == 1);
    /* a bias of 0.5 on expert 4 lifts group 2 to 1.7215: groups 2 and 1
     * kept, top 3 of their keys; weights the unbiased sigmoids */
    const float bias[] = {0, 0, 0, 0, 0.5f, 0};
    const int want_b[] = {5, 2, 3};
    const float raw_b[] = {0.952574127f, 0.817574476f, 0.802183889f};
    ik_route_grouped(w, idx, lg, 1, 6, 3, IK_ROUTE_SIGMOID_BIAS, false, bias, 3, 2);
    ck_assert(memcmp(idx, want_b, sizeof idx) == 0);
    EXPECT_REF(w, raw_b, "route groups with bias");
}
END_TEST

/* ---- reduced-precision storage ------------------------------------------------- */

/* Against torch's .to(bfloat16) and numpy's float16 casts (both round to
 * nearest, ties to even). */
START_TEST(test_round_storage)
{
    const float xb[] = {1.00390625f, 1.01171875f, 1.005f, -3.3f, 3.0e38f, 1e-40f, INFINITY};
    const float wb[] = {1.0f, 1.015625f, 1.0078125f, -3.296875f, 3.00405527e+38f, 9.18354962e-41f, INFINITY};
    for (int i = 0; i < 7; i++)
        ck_assert_msg(ik_round_bf16(xb[i]) == wb[i], "bf16(%.9g) = %.9g, want %.9g", xb[i], ik_round_bf16(xb[i]), wb[i]);
    ck_assert(isnan(ik_round_bf16(NAN)));
    const float xh[] = {1.00048828125f, 1.00146484375f, 65519.0f, 65520.0f, -70000.0f, 1e-8f, 3e-8f, 6.1e-5f, -0.1f};
    const float wh[] = {1.0f, 1.001953125f, 65504.0f, INFINITY, -INFINITY, 0.0f, 5.96046448e-08f, 6.09755516e-05f,
                        -0.0999755859f};
    for (int i = 0; i < 9; i++)
        ck_assert_msg(ik_round_f16(xh[i]) == wh[i], "f16(%.9g) = %.9g, want %.9g", xh[i], ik_round_f16(xh[i]), wh[i]);
    ck_assert(isnan(ik_round_f16(NAN)));
    float v[3] = {1.00390625f, -3.3f, 2.0f};
    ik_round_storage(v, 3, IK_STORE_F32);
    ck_assert(v[0] == 1.00390625f && v[1] == -3.3f);
    ik_round_storage(v, 3, IK_STORE_BF16);
    ck_assert(v[0] == 1.0f && v[1] == -3.296875f && v[2] == 2.0f);
}
END_TEST

/* ---- gated delta rule ----------------------------------------------------- */

START_TEST(test_gdr_values)
{
    /* T=2, Hv=1, dk=dv=2 */
    const float q[] = {0.8f, 0.6f, 0, 1};
    const float k[] = {0.6f, 0.8f, 1, 0};
    const float v[] = {1, 2, -1, 0.5f};
    const float g[] = {-0.5f, -0.25f};
    const float beta[] = {0.5f, 1};
    float S[] = {0.5f, 0, 0, 0.25f}, o[4];
    const float want_o[] = {0.449205032f, 0.701982135f, 0.180196495f, 0.497338563f};
    const float want_S[] = {-1, 0.5f, 0.254836327f, 0.70334294f};
    ik_gated_delta_rule(o, q, k, v, g, beta, S, 2, 1, 2, 2);
    EXPECT_REF(o, want_o, "gdr o");
    EXPECT_REF(S, want_S, "gdr S");
}
END_TEST

START_TEST(test_gdr_delta_property)
{
    /* With no decay, beta 1 and a unit key, the delta rule stores v at k
     * exactly: afterwards S^T k == v.  Reading back with q = k and dk = 4
     * gives v / sqrt(4). */
    int dk = 4, dv = 3;
    Rng r = {9};
    float *S = rand_buf(&r, (size_t)dk * dv, -1, 1);
    const float k[] = {0.5f, 0.5f, 0.5f, -0.5f};
    const float v[] = {1, -2, 0.75f};
    const float g[] = {0}, beta[] = {1};
    float o[3];
    ik_gated_delta_rule(o, k, k, v, g, beta, S, 1, 1, dk, dv);
    const float want[] = {0.5f, -1, 0.375f};
    expect_close(o, want, 3, 1e-6, 1e-6, "gdr stores v at k");
    free(S);
}
END_TEST

START_TEST(test_gdr_split)
{
    int T = 10, Hv = 3, dk = 4, dv = 5;
    Rng r = {1001};
    float *q = rand_buf(&r, (size_t)T * Hv * dk, -1, 1);
    float *k = rand_buf(&r, (size_t)T * Hv * dk, -1, 1);
    ik_l2norm(q, q, T * Hv, dk, 1e-6f);
    ik_l2norm(k, k, T * Hv, dk, 1e-6f);
    float *v = rand_buf(&r, (size_t)T * Hv * dv, -2, 2);
    float *g = rand_buf(&r, (size_t)T * Hv, -2, 0);
    float *beta = rand_buf(&r, (size_t)T * Hv, 0, 1);
    float *S0 = rand_buf(&r, (size_t)Hv * dk * dv, -1, 1);
    size_t no = (size_t)T * Hv * dv, ns = (size_t)Hv * dk * dv;
    float *o_full = zero_buf(no), *o_inc = zero_buf(no);
    float *S_full = copy_buf(S0, ns), *S_inc = copy_buf(S0, ns);
    ik_gated_delta_rule(o_full, q, k, v, g, beta, S_full, T, Hv, dk, dv);
    int split = 4;
    ik_gated_delta_rule(o_inc, q, k, v, g, beta, S_inc, split, Hv, dk, dv);
    for (int t = split; t < T; t++) {
        size_t th = (size_t)t * Hv;
        ik_gated_delta_rule(o_inc + th * dv, q + th * dk, k + th * dk, v + th * dv,
                            g + th, beta + th, S_inc, 1, Hv, dk, dv);
    }
    expect_close(o_inc, o_full, (int)no, 1e-5, 1e-6, "gdr split o");
    expect_close(S_inc, S_full, (int)ns, 1e-5, 1e-6, "gdr split S");
    free(q); free(k); free(v); free(g); free(beta); free(S0);
    free(o_full); free(o_inc); free(S_full); free(S_inc);
}
END_TEST

/* ---- runner --------------------------------------------------------------- */

static Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc;

    tc = tcase_create("linear_elementwise");
    tcase_add_test(tc, test_matmul);
    tcase_add_test(tc, test_unary);
    tcase_add_test(tc, test_unary_extremes);
    tcase_add_test(tc, test_binary_in_place);
    tcase_add_test(tc, test_l2norm);
    suite_add_tcase(s, tc);

    tc = tcase_create("norms_softmax");
    tcase_add_test(tc, test_rmsnorm);
    tcase_add_test(tc, test_layernorm);
    tcase_add_test(tc, test_group_rmsnorm);
    tcase_add_test(tc, test_gated_rmsnorm);
    tcase_add_test(tc, test_softmax);
    suite_add_tcase(s, tc);

    tc = tcase_create("conv_scans");
    tcase_add_test(tc, test_conv_values);
    tcase_add_test(tc, test_conv_split);
    tcase_add_test(tc, test_selective_scan_values);
    tcase_add_test(tc, test_selective_scan_split);
    tcase_add_test(tc, test_selective_scan_skip_and_gate);
    tcase_add_test(tc, test_ssd_values);
    tcase_add_test(tc, test_ssd_chunked_equals_sequential);
    tcase_add_test(tc, test_ssd_split);
    tcase_add_test(tc, test_ssd_equals_mamba1);
    suite_add_tcase(s, tc);

    tc = tcase_create("attention");
    tcase_add_test(tc, test_rope_values);
    tcase_add_test(tc, test_rope_relative);
    tcase_add_test(tc, test_sdpa_values);
    tcase_add_test(tc, test_sdpa_decode_and_gqa);
    suite_add_tcase(s, tc);

    tc = tcase_create("moe_deltanet");
    tcase_add_test(tc, test_route_softmax_topk);
    tcase_add_test(tc, test_route_topk_softmax);
    tcase_add_test(tc, test_route_sigmoid_bias);
    tcase_add_test(tc, test_route_groups);
    tcase_add_test(tc, test_round_storage);
    tcase_add_test(tc, test_gdr_values);
    tcase_add_test(tc, test_gdr_delta_property);
    tcase_add_test(tc, test_gdr_split);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kernels_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
