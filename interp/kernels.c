/* kernels.c — reference numeric kernels (the oracle; see interp.h).
 *
 * Every kernel reads float32, computes in double and rounds once when it
 * stores.  Recurrent state is copied into a double scratch copy for the
 * whole call and rounded back to float32 at the end, so the only rounding a
 * prefill/decode split adds is that of the stored state.
 */
#include "interp.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- scalar helpers ------------------------------------------------------- */

static double sigmoid_d(double x)
{
    /* Two forms so that exp() never overflows. */
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

static double silu_d(double x) { return x * sigmoid_d(x); }

static double softplus_d(double x)
{
    /* PyTorch F.softplus (beta 1, threshold 20): linear above the threshold;
     * below it log1p(exp(x)) cannot overflow and keeps precision for x << 0. */
    return x > 20.0 ? x : log1p(exp(x));
}

/* sum_i a[i] b[i] in double. */
static double dot_ff(const float *a, const float *b, int n)
{
    double s = 0.0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Copy n floats into a new double buffer, or zeros when src is NULL. */
static double *to_double(const float *src, size_t n)
{
    double *d = xmalloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) d[i] = src ? (double)src[i] : 0.0;
    return d;
}

static void from_double(float *dst, const double *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = (float)src[i];
}

/* ---- linear --------------------------------------------------------------- */

void ik_matmul_row_scaled(float *y, const float *x, const float *w, const float *b,
                          const float *r, int T, int d_in, int d_out)
{
    HYC_ASSERT(T >= 0 && d_in >= 0 && d_out >= 0);
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * d_in;
        for (int o = 0; o < d_out; o++) {
            const float *wo = w + (size_t)o * d_in;
            double acc = dot_ff(xt, wo, d_in);
            if (r) acc *= r[t];
            if (b) acc += b[o];
            y[(size_t)t * d_out + o] = (float)acc;
        }
    }
}

void ik_matmul(float *y, const float *x, const float *w, const float *b,
               int T, int d_in, int d_out)
{
    ik_matmul_row_scaled(y, x, w, b, NULL, T, d_in, d_out);
}

/* ---- elementwise ---------------------------------------------------------- */

/* Each unary op is one double -> double function mapped over the array. */
static void map_unary(float *y, const float *x, int n, double (*f)(double))
{
    HYC_ASSERT(n >= 0);
    for (int i = 0; i < n; i++) y[i] = (float)f(x[i]);
}

static double gelu_d(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }

static double gelu_tanh_d(double x)
{
    const double c = sqrt(2.0 / M_PI);
    return 0.5 * x * (1.0 + tanh(c * (x + 0.044715 * x * x * x)));
}

static double relu_d(double x) { return x > 0 ? x : 0.0; }
static double relu2_d(double x) { return x > 0 ? x * x : 0.0; }

void ik_silu(float *y, const float *x, int n) { map_unary(y, x, n, silu_d); }
void ik_gelu(float *y, const float *x, int n) { map_unary(y, x, n, gelu_d); }
void ik_gelu_tanh(float *y, const float *x, int n) { map_unary(y, x, n, gelu_tanh_d); }
void ik_relu(float *y, const float *x, int n) { map_unary(y, x, n, relu_d); }
void ik_relu2(float *y, const float *x, int n) { map_unary(y, x, n, relu2_d); }
void ik_softplus(float *y, const float *x, int n) { map_unary(y, x, n, softplus_d); }
void ik_sigmoid(float *y, const float *x, int n) { map_unary(y, x, n, sigmoid_d); }
void ik_exp(float *y, const float *x, int n) { map_unary(y, x, n, exp); }

void ik_add(float *y, const float *a, const float *b, int n)
{
    for (int i = 0; i < n; i++) y[i] = (float)((double)a[i] + b[i]);
}

void ik_sub(float *y, const float *a, const float *b, int n)
{
    for (int i = 0; i < n; i++) y[i] = (float)((double)a[i] - b[i]);
}

void ik_mul(float *y, const float *a, const float *b, int n)
{
    for (int i = 0; i < n; i++) y[i] = (float)((double)a[i] * b[i]);
}

void ik_scale(float *y, const float *x, float s, int n)
{
    for (int i = 0; i < n; i++) y[i] = (float)((double)x[i] * s);
}

static double sum_sq(const float *x, int n)
{
    double s = 0.0;
    for (int i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

void ik_l2norm(float *y, const float *x, int rows, int n, float eps)
{
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * n;
        float *yr = y + (size_t)r * n;
        double inv = 1.0 / sqrt(sum_sq(xr, n) + eps);
        for (int i = 0; i < n; i++) yr[i] = (float)(xr[i] * inv);
    }
}

/* ---- norms ---------------------------------------------------------------- */

/* 1 / sqrt(mean(x^2) + eps) over n values. */
static double rms_inv(const float *x, int n, double eps)
{
    return 1.0 / sqrt(sum_sq(x, n) / n + eps);
}

void ik_rmsnorm(float *y, const float *x, const float *w, int rows, int n,
                float eps, float w_offset)
{
    HYC_ASSERT(n > 0);
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * n;
        float *yr = y + (size_t)r * n;
        double inv = rms_inv(xr, n, eps);
        for (int i = 0; i < n; i++) {
            double wi = w ? (double)w_offset + w[i] : 1.0;
            yr[i] = (float)(xr[i] * inv * wi);
        }
    }
}

void ik_rms_scale(float *r, const float *x, int rows, int n, float eps)
{
    HYC_ASSERT(n > 0);
    for (int i = 0; i < rows; i++) r[i] = (float)rms_inv(x + (size_t)i * n, n, eps);
}

void ik_layernorm(float *y, const float *x, const float *w, const float *b,
                  int rows, int n, float eps)
{
    HYC_ASSERT(n > 0);
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * n;
        float *yr = y + (size_t)r * n;
        double mean = 0.0, var = 0.0;
        for (int i = 0; i < n; i++) mean += xr[i];
        mean /= n;
        /* Two passes: the textbook E[x^2] - mean^2 loses digits. */
        for (int i = 0; i < n; i++) var += (xr[i] - mean) * (xr[i] - mean);
        var /= n;
        double inv = 1.0 / sqrt(var + eps);
        for (int i = 0; i < n; i++) {
            double v = (xr[i] - mean) * inv;
            if (w) v *= w[i];
            if (b) v += b[i];
            yr[i] = (float)v;
        }
    }
}

void ik_group_rmsnorm(float *y, const float *x, const float *w, int rows, int n,
                      int groups, float eps)
{
    HYC_ASSERT(groups > 0 && n % groups == 0);
    int gs = n / groups;
    for (int r = 0; r < rows; r++) {
        for (int g = 0; g < groups; g++) {
            size_t off = (size_t)r * n + (size_t)g * gs;
            double inv = rms_inv(x + off, gs, eps);
            for (int i = 0; i < gs; i++) {
                double wi = w ? (double)w[g * gs + i] : 1.0;
                y[off + i] = (float)(x[off + i] * inv * wi);
            }
        }
    }
}

void ik_gated_rmsnorm(float *out, const float *y, const float *z, const float *w,
                      int rows, int n, int groups, float eps,
                      bool norm_before_gate)
{
    HYC_ASSERT(groups > 0 && n % groups == 0);
    int gs = n / groups;
    /* The normalized input of one group, in double; rounding it to float
     * first would add an error the fused GPU kernels do not have. */
    double *u = xmalloc((size_t)gs * sizeof(double));
    for (int r = 0; r < rows; r++) {
        for (int g = 0; g < groups; g++) {
            size_t off = (size_t)r * n + (size_t)g * gs;
            double ss = 0.0;
            for (int i = 0; i < gs; i++) {
                u[i] = y[off + i];
                if (!norm_before_gate) u[i] *= silu_d(z[off + i]);
                ss += u[i] * u[i];
            }
            double inv = 1.0 / sqrt(ss / gs + eps);
            for (int i = 0; i < gs; i++) {
                double v = u[i] * inv;
                if (w) v *= w[g * gs + i];
                if (norm_before_gate) v *= silu_d(z[off + i]);
                out[off + i] = (float)v;
            }
        }
    }
    free(u);
}

/* ---- softmax -------------------------------------------------------------- */

/* Softmax of n doubles in place (max-subtracted).  Non-finite input is not
 * an internal error: it gives NaN, as in PyTorch. */
static void softmax_d(double *v, int n)
{
    HYC_ASSERT(n > 0);
    double m = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] > m) m = v[i];
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        v[i] = exp(v[i] - m);
        sum += v[i];
    }
    for (int i = 0; i < n; i++) v[i] /= sum;
}

void ik_softmax(float *y, const float *x, int rows, int n)
{
    double *v = xmalloc((size_t)n * sizeof(double));
    for (int r = 0; r < rows; r++) {
        for (int i = 0; i < n; i++) v[i] = x[(size_t)r * n + i];
        softmax_d(v, n);
        for (int i = 0; i < n; i++) y[(size_t)r * n + i] = (float)v[i];
    }
    free(v);
}

/* ---- causal depthwise conv1d ---------------------------------------------- */

/* Row j of xpad (state rows, then x rows) for channel c. */
static float conv_xpad(const float *x, const float *state, int j, int c, int C, int K)
{
    if (j < K - 1) return state ? state[(size_t)c * (K - 1) + j] : 0.0f;
    return x[(size_t)(j - (K - 1)) * C + c];
}

void ik_causal_conv1d(float *y, const float *x, const float *w, const float *b,
                      float *state, int T, int C, int K)
{
    HYC_ASSERT(K >= 1 && T >= 0 && C >= 0);
    for (int t = 0; t < T; t++) {
        for (int c = 0; c < C; c++) {
            double acc = b ? (double)b[c] : 0.0;
            for (int k = 0; k < K; k++)
                acc += (double)w[(size_t)c * K + k] * conv_xpad(x, state, t + k, c, C, K);
            y[(size_t)t * C + c] = (float)acc;
        }
    }
    if (!state) return;
    /* New state row j is xpad row T + j.  Writing j in increasing order
     * only reads old state rows T + j > j, which are not yet overwritten. */
    for (int c = 0; c < C; c++)
        for (int j = 0; j < K - 1; j++)
            state[(size_t)c * (K - 1) + j] = conv_xpad(x, state, T + j, c, C, K);
}

/* ---- Mamba-1 selective scan ----------------------------------------------- */

void ik_selective_scan(float *y, const float *x, const float *delta,
                       const float *A, const float *B, const float *C,
                       const float *D, const float *z, float *h,
                       int T, int E, int N)
{
    HYC_ASSERT(T >= 0 && E >= 0 && N >= 0);
    double *s = to_double(h, (size_t)E * N); /* s: [E, N] */
    for (int t = 0; t < T; t++) {
        const float *Bt = B + (size_t)t * N, *Ct = C + (size_t)t * N;
        for (int e = 0; e < E; e++) {
            size_t te = (size_t)t * E + e;
            double dl = delta[te], xv = x[te];
            double *se = s + (size_t)e * N;
            double acc = 0.0;
            for (int n = 0; n < N; n++) {
                double dA = exp(dl * A[(size_t)e * N + n]); /* ZOH for A */
                se[n] = dA * se[n] + dl * Bt[n] * xv;       /* Euler for B */
                acc += se[n] * Ct[n];
            }
            if (D) acc += (double)D[e] * xv;
            if (z) acc *= silu_d(z[te]);
            y[te] = (float)acc;
        }
    }
    from_double(h, s, (size_t)E * N);
    free(s);
}

/* ---- Mamba-2 SSD ---------------------------------------------------------- */

static void ssd_check_dims(int T, int H, int P, int G, int N)
{
    HYC_ASSERT(T >= 0 && H > 0 && P > 0 && N > 0);
    HYC_ASSERT(G > 0 && H % G == 0);
}

void ik_ssd_scan(float *y, const float *x, const float *dt, const float *A,
                 const float *B, const float *C, const float *D, float *h,
                 int T, int H, int P, int G, int N)
{
    ssd_check_dims(T, H, P, G, N);
    int heads_per_group = H / G;
    double *s = to_double(h, (size_t)H * P * N); /* s: [H, P, N] */
    for (int t = 0; t < T; t++) {
        for (int hd = 0; hd < H; hd++) {
            int g = hd / heads_per_group;
            const float *Bt = B + ((size_t)t * G + g) * N;
            const float *Ct = C + ((size_t)t * G + g) * N;
            double d = dt[(size_t)t * H + hd];
            double dA = exp(d * A[hd]);
            for (int p = 0; p < P; p++) {
                size_t xi = ((size_t)t * H + hd) * P + p;
                double xv = x[xi];
                double *sp = s + ((size_t)hd * P + p) * N;
                double acc = 0.0;
                for (int n = 0; n < N; n++) {
                    sp[n] = dA * sp[n] + d * xv * Bt[n];
                    acc += sp[n] * Ct[n];
                }
                if (D) acc += (double)D[hd] * xv;
                y[xi] = (float)acc;
            }
        }
    }
    from_double(h, s, (size_t)H * P * N);
    free(s);
}

/* One head hd (reading group g) of the chunked algorithm's inputs; the
 * accessors below index the caller's arrays for it. */
typedef struct SsdHead {
    const float *x, *dt, *B, *C; /* the kernel's inputs */
    int H, P, G, N, hd, g;
    double a;                    /* A[hd] */
} SsdHead;

static double ssd_dt(const SsdHead *sh, int t) { return sh->dt[(size_t)t * sh->H + sh->hd]; }
static double ssd_x(const SsdHead *sh, int t, int p)
{
    return sh->x[((size_t)t * sh->H + sh->hd) * sh->P + p];
}
static const float *ssd_B(const SsdHead *sh, int t) { return sh->B + ((size_t)t * sh->G + sh->g) * sh->N; }
static const float *ssd_C(const SsdHead *sh, int t) { return sh->C + ((size_t)t * sh->G + sh->g) * sh->N; }

/* Step 1, intra-chunk: Y[t] = sum_{c0 <= tau <= t} (C_t . B_tau)
 * exp(cs[t] - cs[tau]) dt_tau x_tau, for t in [c0, c1).  yacc: [T, P]. */
static void ssd_chunk_diag(const SsdHead *sh, const double *cs, int c0, int c1, double *yacc)
{
    for (int t = c0; t < c1; t++) {
        for (int tau = c0; tau <= t; tau++) {
            double m = dot_ff(ssd_C(sh, t), ssd_B(sh, tau), sh->N)
                       * exp(cs[t] - cs[tau]) * ssd_dt(sh, tau);
            for (int p = 0; p < sh->P; p++)
                yacc[(size_t)t * sh->P + p] += m * ssd_x(sh, tau, p);
        }
    }
}

/* Step 2, chunk state: S[p,n] = sum_tau exp(cs[c1-1] - cs[tau]) dt_tau
 * x_tau[p] B_tau[n].  S: [P, N]. */
static void ssd_chunk_state(const SsdHead *sh, const double *cs, int c0, int c1, double *S)
{
    memset(S, 0, (size_t)sh->P * sh->N * sizeof(double));
    for (int tau = c0; tau < c1; tau++) {
        double m = exp(cs[c1 - 1] - cs[tau]) * ssd_dt(sh, tau);
        const float *Bt = ssd_B(sh, tau);
        for (int p = 0; p < sh->P; p++) {
            double mx = m * ssd_x(sh, tau, p);
            for (int n = 0; n < sh->N; n++) S[(size_t)p * sh->N + n] += mx * Bt[n];
        }
    }
}

/* Step 4, state-to-output: Y[t,p] += exp(cs[t]) sum_n C_t[n] Hin[p,n]. */
static void ssd_chunk_off(const SsdHead *sh, const double *cs, int c0, int c1,
                          const double *Hin, double *yacc)
{
    for (int t = c0; t < c1; t++) {
        const float *Ct = ssd_C(sh, t);
        double decay = exp(cs[t]);
        for (int p = 0; p < sh->P; p++) {
            double acc = 0.0;
            for (int n = 0; n < sh->N; n++) acc += Hin[(size_t)p * sh->N + n] * Ct[n];
            yacc[(size_t)t * sh->P + p] += decay * acc;
        }
    }
}

void ik_ssd_scan_chunked(float *y, const float *x, const float *dt,
                         const float *A, const float *B, const float *C,
                         const float *D, float *h,
                         int T, int H, int P, int G, int N, int chunk)
{
    ssd_check_dims(T, H, P, G, N);
    HYC_ASSERT(chunk >= 1);
    int n_chunks = (T + chunk - 1) / chunk;
    size_t PN = (size_t)P * N;
    double *cs = xmalloc((size_t)T * sizeof(double));                  /* [T]: in-chunk cumsum of a */
    double *yacc = xmalloc((size_t)T * P * sizeof(double));            /* [T, P] */
    double *S = xmalloc((size_t)n_chunks * PN * sizeof(double));       /* [n_chunks, P, N] */
    double *Hs = xmalloc(((size_t)n_chunks + 1) * PN * sizeof(double)); /* [n_chunks+1, P, N] */
    double *tot = xmalloc((size_t)n_chunks * sizeof(double));          /* [n_chunks]: sum of a */

    for (int hd = 0; hd < H; hd++) {
        SsdHead sh = {x, dt, B, C, H, P, G, N, hd, hd / (H / G), A[hd]};
        memset(yacc, 0, (size_t)T * P * sizeof(double));
        /* a_t = dt_t * A; cs restarts at each chunk boundary. */
        for (int c = 0; c < n_chunks; c++) {
            int c0 = c * chunk, c1 = c0 + chunk < T ? c0 + chunk : T;
            double run = 0.0;
            for (int t = c0; t < c1; t++) {
                run += ssd_dt(&sh, t) * sh.a;
                cs[t] = run;
            }
            tot[c] = run;
            ssd_chunk_diag(&sh, cs, c0, c1, yacc);               /* step 1 */
            ssd_chunk_state(&sh, cs, c0, c1, S + (size_t)c * PN); /* step 2 */
        }
        /* Step 3, across chunks: H_0 = initial state,
         * H_{c+1} = exp(tot_c) H_c + S_c; H_{n_chunks} is the final state. */
        for (size_t i = 0; i < PN; i++) Hs[i] = h[(size_t)hd * PN + i];
        for (int c = 0; c < n_chunks; c++) {
            double decay = exp(tot[c]);
            for (size_t i = 0; i < PN; i++)
                Hs[(size_t)(c + 1) * PN + i] = decay * Hs[(size_t)c * PN + i] + S[(size_t)c * PN + i];
        }
        for (int c = 0; c < n_chunks; c++) {                     /* step 4 */
            int c0 = c * chunk, c1 = c0 + chunk < T ? c0 + chunk : T;
            ssd_chunk_off(&sh, cs, c0, c1, Hs + (size_t)c * PN, yacc);
        }
        for (int t = 0; t < T; t++) {
            for (int p = 0; p < P; p++) {
                double v = yacc[(size_t)t * P + p];
                if (D) v += (double)D[hd] * ssd_x(&sh, t, p);
                y[((size_t)t * H + hd) * P + p] = (float)v;
            }
        }
        from_double(h + (size_t)hd * PN, Hs + (size_t)n_chunks * PN, PN); /* step 5 */
    }
    free(cs);
    free(yacc);
    free(S);
    free(Hs);
    free(tot);
}

/* ---- reduced-precision storage ---------------------------------------------- */

float ik_round_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) return f; /* NaN stays NaN */
    x += 0x7FFFu + ((x >> 16) & 1u);               /* to nearest, ties to even */
    x &= 0xFFFF0000u;                              /* (may carry into inf) */
    memcpy(&f, &x, sizeof f);
    return f;
}

float ik_round_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t ax = x & 0x7FFFFFFFu;
    if (ax >= 0x7F800000u) return f;                  /* inf, NaN */
    if (ax >= 0x477FF000u) return f < 0 ? -INFINITY : INFINITY; /* >= 65520: past the largest half */
    if (ax < 0x38800000u) {                           /* below 2^-14: subnormal halves, steps of 2^-24 */
        double q = nearbyint(fabs((double)f) * 16777216.0) / 16777216.0;
        return (float)(f < 0 ? -q : q);
    }
    ax += 0xFFFu + ((ax >> 13) & 1u);                 /* keep 10 mantissa bits, ties to even */
    ax &= ~0x1FFFu;
    x = (x & 0x80000000u) | ax;
    memcpy(&f, &x, sizeof f);
    return f;
}

void ik_round_storage(float *x, size_t n, IkStorage st)
{
    if (st == IK_STORE_BF16)
        for (size_t i = 0; i < n; i++) x[i] = ik_round_bf16(x[i]);
    else if (st == IK_STORE_F16)
        for (size_t i = 0; i < n; i++) x[i] = ik_round_f16(x[i]);
}

/* ---- RoPE ----------------------------------------------------------------- */

void ik_rope(float *x, int T, int n_heads, int head_dim, int rot_dims,
             int pos0, double base)
{
    HYC_ASSERT(rot_dims >= 0 && rot_dims % 2 == 0 && rot_dims <= head_dim);
    int half = rot_dims / 2;
    for (int t = 0; t < T; t++) {
        double pos = (double)pos0 + t;
        for (int i = 0; i < half; i++) {
            double ang = pos * pow(base, -2.0 * i / rot_dims);
            double cs = cos(ang), sn = sin(ang);
            for (int hh = 0; hh < n_heads; hh++) {
                float *xh = x + ((size_t)t * n_heads + hh) * head_dim;
                double x1 = xh[i], x2 = xh[i + half];
                /* x*cos + rotate_half(x)*sin, rotate_half = [-x2, x1] */
                xh[i] = (float)(x1 * cs - x2 * sn);
                xh[i + half] = (float)(x2 * cs + x1 * sn);
            }
        }
    }
}

/* HF _compute_yarn_parameters (truncate = true): the dimension whose
 * wavelength makes `rotations` turns in the original context. */
static double yarn_correction_dim(double rotations, int rot_dims, double base, double original_max)
{
    return rot_dims * log(original_max / (rotations * 2.0 * M_PI)) / (2.0 * log(base));
}

/* YaRN: pairs that turn fast over the original context keep their
 * frequency (extrapolation), slow ones are divided by factor
 * (interpolation), with a linear ramp between the pair indices where
 * beta_fast and beta_slow rotations fit. */
static void yarn_inv_freq(double *inv_freq, int rot_dims, double base, const double *p)
{
    double factor = p[0], original_max = p[1], beta_fast = p[2], beta_slow = p[3];
    double low = floor(yarn_correction_dim(beta_fast, rot_dims, base, original_max));
    double high = ceil(yarn_correction_dim(beta_slow, rot_dims, base, original_max));
    if (low < 0) low = 0;
    if (high > rot_dims - 1) high = rot_dims - 1;
    if (low == high) high += 0.001; /* as HF: no division by zero */
    for (int i = 0; i < rot_dims / 2; i++) {
        double ramp = ((double)i - low) / (high - low);
        ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
        double extrapolated = inv_freq[i], interpolated = inv_freq[i] / factor;
        inv_freq[i] = interpolated * ramp + extrapolated * (1.0 - ramp);
    }
}

void ik_rope_inv_freq(double *inv_freq, int rot_dims, double base,
                      IkRopeScaling scaling, const double *params, int n_params)
{
    HYC_ASSERT(rot_dims >= 2 && rot_dims % 2 == 0);
    int half = rot_dims / 2;
    if (scaling == IK_ROPE_NTK) {
        /* A larger base stretches the low frequencies most, the highest
         * (i = 0) not at all: base' = base * alpha^(r / (r - 2)). */
        HYC_ASSERT(n_params >= 1 && params[0] > 0 && rot_dims > 2);
        base *= pow(params[0], (double)rot_dims / (rot_dims - 2));
    }
    for (int i = 0; i < half; i++) inv_freq[i] = pow(base, -2.0 * i / rot_dims);
    if (scaling == IK_ROPE_LINEAR) {
        HYC_ASSERT(n_params >= 1 && params[0] > 0);
        for (int i = 0; i < half; i++) inv_freq[i] /= params[0];
    } else if (scaling == IK_ROPE_LLAMA3) {
        HYC_ASSERT(n_params >= 4 && params[0] > 0 && params[2] != params[1]);
        double factor = params[0], lo = params[1], hi = params[2], old_ctx = params[3];
        double low_wavelen = old_ctx / lo, high_wavelen = old_ctx / hi;
        for (int i = 0; i < half; i++) {
            double f = inv_freq[i], wavelen = 2.0 * M_PI / f;
            if (wavelen > low_wavelen) {
                inv_freq[i] = f / factor;
            } else if (wavelen >= high_wavelen) { /* medium: interpolate */
                double smooth = (old_ctx / wavelen - lo) / (hi - lo);
                inv_freq[i] = (1.0 - smooth) * f / factor + smooth * f;
            }
        }
    } else if (scaling == IK_ROPE_YARN) {
        HYC_ASSERT(n_params >= 5 && params[0] > 0 && params[1] > 0 && params[2] > 0 && params[3] > 0);
        yarn_inv_freq(inv_freq, rot_dims, base, params);
    }
}

bool ik_rope_scaling_lookup(const char *name, IkRopeScaling *out)
{
    static const char *const NAMES[] = {
        [IK_ROPE_NONE] = "none", [IK_ROPE_LINEAR] = "linear", [IK_ROPE_LLAMA3] = "llama3",
        [IK_ROPE_NTK] = "ntk",   [IK_ROPE_YARN] = "yarn",
    };
    for (int i = 0; i < (int)(sizeof NAMES / sizeof NAMES[0]); i++)
        if (strcmp(NAMES[i], name) == 0) {
            *out = (IkRopeScaling)i;
            return true;
        }
    return false;
}

double ik_rope_attention_factor(IkRopeScaling scaling, const double *params, int n_params)
{
    if (scaling != IK_ROPE_YARN) return 1.0;
    HYC_ASSERT(n_params >= 5 && params[4] > 0);
    return params[4];
}

void ik_rope_freqs(float *x, int T, int n_heads, int head_dim, int rot_dims,
                   int pos0, const double *inv_freq, bool interleaved)
{
    ik_rope_apply(x, T, n_heads, head_dim, rot_dims, pos0, inv_freq, interleaved, 1.0);
}

void ik_rope_apply(float *x, int T, int n_heads, int head_dim, int rot_dims,
                   int pos0, const double *inv_freq, bool interleaved, double mscale)
{
    HYC_ASSERT(rot_dims >= 0 && rot_dims % 2 == 0 && rot_dims <= head_dim);
    int half = rot_dims / 2;
    for (int t = 0; t < T; t++) {
        double pos = (double)pos0 + t;
        for (int i = 0; i < half; i++) {
            double ang = pos * inv_freq[i];
            double cs = mscale * cos(ang), sn = mscale * sin(ang);
            int i1 = interleaved ? 2 * i : i, i2 = interleaved ? 2 * i + 1 : i + half;
            for (int hh = 0; hh < n_heads; hh++) {
                float *xh = x + ((size_t)t * n_heads + hh) * head_dim;
                double x1 = xh[i1], x2 = xh[i2];
                xh[i1] = (float)(x1 * cs - x2 * sn);
                xh[i2] = (float)(x2 * cs + x1 * sn);
            }
        }
    }
}

/* ---- attention ------------------------------------------------------------ */

void ik_sdpa(float *o, const float *q, const float *k, const float *v,
             int Tq, int Tk, int Hq, int Hkv, int dk, int dv,
             float scale, int window, int q_pos0)
{
    HYC_ASSERT(Hkv > 0 && Hq % Hkv == 0);
    HYC_ASSERT(q_pos0 >= 0 && q_pos0 + Tq <= Tk);
    int rep = Hq / Hkv;
    double *p = xmalloc((size_t)Tk * sizeof(double)); /* [Tk]: scores of one query */
    for (int i = 0; i < Tq; i++) {
        int pos = q_pos0 + i;
        int j0 = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
        int nj = pos - j0 + 1; /* keys j0..pos, never empty */
        for (int hq = 0; hq < Hq; hq++) {
            int hk = hq / rep;
            const float *qi = q + ((size_t)i * Hq + hq) * dk;
            for (int j = j0; j <= pos; j++)
                p[j - j0] = dot_ff(qi, k + ((size_t)j * Hkv + hk) * dk, dk) * scale;
            softmax_d(p, nj);
            float *oi = o + ((size_t)i * Hq + hq) * dv;
            for (int d = 0; d < dv; d++) {
                double acc = 0.0;
                for (int j = j0; j <= pos; j++)
                    acc += p[j - j0] * v[((size_t)j * Hkv + hk) * dv + d];
                oi[d] = (float)acc;
            }
        }
    }
    free(p);
}

/* ---- MoE routing ---------------------------------------------------------- */

/* Indices of the k largest of sel[0..n), best first, ties to the lower index. */
static void select_top_k(int *idx, const double *sel, int n, int k)
{
    bool *taken = xcalloc((size_t)n, sizeof(bool));
    for (int r = 0; r < k; r++) {
        int best = -1;
        for (int e = 0; e < n; e++)
            if (!taken[e] && (best < 0 || sel[e] > sel[best])) best = e;
        taken[best] = true;
        idx[r] = best;
    }
    free(taken);
}

/* DeepSeek-V3 group-limited selection: the experts of all but the best
 * topk_groups groups (a group scores the sum of its two best keys) get key
 * -inf.  sel: [n] in place; n = groups · group size. */
static void limit_to_groups(double *sel, int n, int groups, int topk_groups)
{
    int size = n / groups;
    double *gscore = xmalloc((size_t)groups * sizeof(double));
    int *keep = xmalloc((size_t)topk_groups * sizeof(int));
    bool *kept = xcalloc((size_t)groups, sizeof(bool));
    for (int g = 0; g < groups; g++) {
        int top2[2];
        select_top_k(top2, sel + (size_t)g * size, size, 2);
        gscore[g] = sel[(size_t)g * size + top2[0]] + sel[(size_t)g * size + top2[1]];
    }
    select_top_k(keep, gscore, groups, topk_groups);
    for (int r = 0; r < topk_groups; r++) kept[keep[r]] = true;
    for (int e = 0; e < n; e++)
        if (!kept[e / size]) sel[e] = -INFINITY;
    free(gscore);
    free(keep);
    free(kept);
}

void ik_route(float *weights, int *idx, const float *logits, int T,
              int n_experts, int top_k, IkRouteMode mode, bool renormalize,
              const float *bias)
{
    ik_route_grouped(weights, idx, logits, T, n_experts, top_k, mode, renormalize, bias, 1, 1);
}

void ik_route_grouped(float *weights, int *idx, const float *logits, int T,
                      int n_experts, int top_k, IkRouteMode mode, bool renormalize,
                      const float *bias, int groups, int topk_groups)
{
    HYC_ASSERT(top_k >= 1 && top_k <= n_experts);
    HYC_ASSERT(groups >= 1 && n_experts % groups == 0 && topk_groups >= 1 && topk_groups <= groups);
    HYC_ASSERT(groups == 1 || (n_experts / groups >= 2 && top_k <= topk_groups * (n_experts / groups)));
    double *score = xmalloc((size_t)n_experts * sizeof(double)); /* weight source */
    double *sel = xmalloc((size_t)n_experts * sizeof(double));   /* selection key */
    double *wk = xmalloc((size_t)top_k * sizeof(double));
    for (int t = 0; t < T; t++) {
        const float *lt = logits + (size_t)t * n_experts;
        int *it = idx + (size_t)t * top_k;
        for (int e = 0; e < n_experts; e++)
            score[e] = mode == IK_ROUTE_SIGMOID_BIAS ? sigmoid_d(lt[e]) : lt[e];
        if (mode == IK_ROUTE_SOFTMAX_TOPK) softmax_d(score, n_experts);
        for (int e = 0; e < n_experts; e++) sel[e] = score[e] + (bias ? bias[e] : 0.0);
        if (groups > 1) limit_to_groups(sel, n_experts, groups, topk_groups);
        select_top_k(it, sel, n_experts, top_k);
        for (int r = 0; r < top_k; r++) wk[r] = score[it[r]];
        if (mode == IK_ROUTE_TOPK_SOFTMAX) {
            softmax_d(wk, top_k);
        } else if (renormalize) {
            double sum = mode == IK_ROUTE_SIGMOID_BIAS ? 1e-20 : 0.0;
            for (int r = 0; r < top_k; r++) sum += wk[r];
            for (int r = 0; r < top_k; r++) wk[r] /= sum;
        }
        for (int r = 0; r < top_k; r++) weights[(size_t)t * top_k + r] = (float)wk[r];
    }
    free(score);
    free(sel);
    free(wk);
}

/* ---- gated delta rule ----------------------------------------------------- */

/* One token of one head.  S: [dk, dv] in double, mem: [dv] scratch. */
static void gdr_step(double *S, double *mem, float *o, const float *q, const float *k,
                     const float *v, double decay, double beta, int dk, int dv)
{
    double qscale = 1.0 / sqrt((double)dk);
    for (size_t i = 0; i < (size_t)dk * dv; i++) S[i] *= decay;
    for (int j = 0; j < dv; j++) {
        double acc = 0.0;
        for (int i = 0; i < dk; i++) acc += S[(size_t)i * dv + j] * k[i];
        mem[j] = (v[j] - acc) * beta; /* delta */
    }
    for (int i = 0; i < dk; i++)
        for (int j = 0; j < dv; j++) S[(size_t)i * dv + j] += (double)k[i] * mem[j];
    for (int j = 0; j < dv; j++) {
        double acc = 0.0;
        for (int i = 0; i < dk; i++) acc += S[(size_t)i * dv + j] * (q[i] * qscale);
        o[j] = (float)acc;
    }
}

void ik_gated_delta_rule(float *o, const float *q, const float *k,
                         const float *v, const float *g, const float *beta,
                         float *S, int T, int Hv, int dk, int dv)
{
    HYC_ASSERT(T >= 0 && Hv > 0 && dk > 0 && dv > 0);
    size_t KV = (size_t)dk * dv;
    double *s = to_double(S, (size_t)Hv * KV); /* [Hv, dk, dv] */
    double *mem = xmalloc((size_t)dv * sizeof(double));
    for (int t = 0; t < T; t++) {
        for (int hv = 0; hv < Hv; hv++) {
            size_t th = (size_t)t * Hv + hv;
            gdr_step(s + hv * KV, mem, o + th * dv, q + th * dk, k + th * dk,
                     v + th * dv, exp(g[th]), beta[th], dk, dv);
        }
    }
    from_double(S, s, (size_t)Hv * KV);
    free(s);
    free(mem);
}
