/* roofline.c — this machine's ceilings, measured by hyc itself, for the
 * roofline column of `hyc bench` (docs/bench.md):
 *
 *   peak FP32 FMA rate   every thread runs a register-resident loop of
 *                        independent FMAs (12 accumulators: enough to cover
 *                        the FMA latency on two pipes), AVX-512 or AVX2+FMA
 *                        as cpuid says; GFLOP/s counts an FMA lane as 2;
 *   memory read bandwidth every thread reads its share of a 1 GiB buffer
 *                        (far larger than any LLC) with vector loads summed
 *                        into 8 accumulators, as 1, 2, 4 and 8 concurrent
 *                        streams (its share cut in that many parts, read
 *                        in step); the best pattern's median of 3
 *                        passes; GB/s = 1e9 B/s.
 *
 * Measured once per (CPU model, thread count) and cached in
 * $HYC_CACHE_DIR/ceilings.json (default ~/.cache/hyc/ceilings.json). */
#include "driver.h"
#include "../formats/formats.h"

#include <errno.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The interface, declared again in cmd_bench.c (its only user). */
const char *roofline_cpu_model(void);
const char *roofline_isa(void);
const char *roofline_cache_dir(Arena *a);
bool roofline_get(int threads, bool refresh, double *gflops, double *gbps, FILE *log);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

const char *roofline_cpu_model(void)
{
    static char model[256];
    if (model[0]) return model;
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            const char *c = strchr(line, ':');
            if (!c) continue;
            c++;
            while (*c == ' ' || *c == '\t') c++;
            snprintf(model, sizeof model, "%s", c);
            model[strcspn(model, "\n")] = 0;
            break;
        }
    }
    if (f) fclose(f);
    if (!model[0]) snprintf(model, sizeof model, "unknown CPU");
    /* the name goes into JSON keys and Markdown: no quotes or bars */
    for (char *p = model; *p; p++)
        if (*p == '"' || *p == '\\' || *p == '|') *p = ' ';
    return model;
}

static int isa_level(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

const char *roofline_isa(void)
{
    static const char *const names[] = {"scalar", "avx2+fma", "avx512f"};
    return names[isa_level()];
}

/* ---- the FMA loop --------------------------------------------------------- */

enum { FMA_ITERS = 1 << 22 };

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static float fma_avx512(long iters, float seed)
{
    __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    /* twelve different starting values: identical chains would be one
     * chain to the compiler (value numbering merges them) */
    __m512 c0 = _mm512_set1_ps(seed), c1 = _mm512_set1_ps(seed + 1.0f), c2 = _mm512_set1_ps(seed + 2.0f),
           c3 = _mm512_set1_ps(seed + 3.0f), c4 = _mm512_set1_ps(seed + 4.0f), c5 = _mm512_set1_ps(seed + 5.0f),
           c6 = _mm512_set1_ps(seed + 6.0f), c7 = _mm512_set1_ps(seed + 7.0f), c8 = _mm512_set1_ps(seed + 8.0f),
           c9 = _mm512_set1_ps(seed + 9.0f), c10 = _mm512_set1_ps(seed + 10.0f), c11 = _mm512_set1_ps(seed + 11.0f);
    for (long i = 0; i < iters; i++) {
        c0 = _mm512_fmadd_ps(c0, a, b), c1 = _mm512_fmadd_ps(c1, a, b), c2 = _mm512_fmadd_ps(c2, a, b);
        c3 = _mm512_fmadd_ps(c3, a, b), c4 = _mm512_fmadd_ps(c4, a, b), c5 = _mm512_fmadd_ps(c5, a, b);
        c6 = _mm512_fmadd_ps(c6, a, b), c7 = _mm512_fmadd_ps(c7, a, b), c8 = _mm512_fmadd_ps(c8, a, b);
        c9 = _mm512_fmadd_ps(c9, a, b), c10 = _mm512_fmadd_ps(c10, a, b), c11 = _mm512_fmadd_ps(c11, a, b);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                             _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float fma_avx2(long iters, float seed)
{
    __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    /* twelve different starting values: identical chains would be one
     * chain to the compiler (value numbering merges them) */
    __m256 c0 = _mm256_set1_ps(seed), c1 = _mm256_set1_ps(seed + 1.0f), c2 = _mm256_set1_ps(seed + 2.0f),
           c3 = _mm256_set1_ps(seed + 3.0f), c4 = _mm256_set1_ps(seed + 4.0f), c5 = _mm256_set1_ps(seed + 5.0f),
           c6 = _mm256_set1_ps(seed + 6.0f), c7 = _mm256_set1_ps(seed + 7.0f), c8 = _mm256_set1_ps(seed + 8.0f),
           c9 = _mm256_set1_ps(seed + 9.0f), c10 = _mm256_set1_ps(seed + 10.0f), c11 = _mm256_set1_ps(seed + 11.0f);
    for (long i = 0; i < iters; i++) {
        c0 = _mm256_fmadd_ps(c0, a, b), c1 = _mm256_fmadd_ps(c1, a, b), c2 = _mm256_fmadd_ps(c2, a, b);
        c3 = _mm256_fmadd_ps(c3, a, b), c4 = _mm256_fmadd_ps(c4, a, b), c5 = _mm256_fmadd_ps(c5, a, b);
        c6 = _mm256_fmadd_ps(c6, a, b), c7 = _mm256_fmadd_ps(c7, a, b), c8 = _mm256_fmadd_ps(c8, a, b);
        c9 = _mm256_fmadd_ps(c9, a, b), c10 = _mm256_fmadd_ps(c10, a, b), c11 = _mm256_fmadd_ps(c11, a, b);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}
#endif

static float fma_scalar(long iters, float seed)
{
    float c[12];
    for (int j = 0; j < 12; j++) c[j] = seed + (float)j;
    for (long i = 0; i < iters; i++)
        for (int j = 0; j < 12; j++) c[j] = c[j] * 0.999999f + 1e-7f;
    float s = 0;
    for (int j = 0; j < 12; j++) s += c[j];
    return s;
}

/* FLOPs of one loop iteration: 12 FMAs of `lanes` lanes, 2 FLOPs each. */
static int fma_lanes(int isa)
{
    return isa == 2 ? 16 : isa == 1 ? 8 : 1;
}

static float fma_run(int isa, long iters, float seed)
{
#if defined(__x86_64__)
    if (isa == 2) return fma_avx512(iters, seed);
    if (isa == 1) return fma_avx2(iters, seed);
#endif
    return fma_scalar(iters, seed);
}

/* ---- the read loop -------------------------------------------------------- */

/* The read loops take `streams` parts of p[0 .. n), each n / streams floats
 * (a multiple of one step: 128 floats), and read them in step: one 512-byte
 * step of each part in turn.  One stream is the plain sequential read; a
 * GEMV reads several weight rows at once, and the hardware prefetchers keep
 * more lines in flight with several streams than with one (on the Zen 4 VM
 * of bench/results.md, 4 streams read up to 1.3x faster at 2 threads). */
enum { READ_STEP = 128, READ_MAX_STREAMS = 8 };

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static float read_avx512(const float *p, size_t part, int streams)
{
    __m512 s[8];
    for (int j = 0; j < 8; j++) s[j] = _mm512_setzero_ps();
    for (size_t i = 0; i < part; i += READ_STEP)
        for (int q = 0; q < streams; q++) {
            const float *b = p + (size_t)q * part + i;
            for (int j = 0; j < 8; j++) s[j] = _mm512_add_ps(s[j], _mm512_load_ps(b + 16 * j));
        }
    for (int j = 1; j < 8; j++) s[0] = _mm512_add_ps(s[0], s[j]);
    return _mm512_reduce_add_ps(s[0]);
}

__attribute__((target("avx2"))) static float read_avx2(const float *p, size_t part, int streams)
{
    __m256 s[8];
    for (int j = 0; j < 8; j++) s[j] = _mm256_setzero_ps();
    for (size_t i = 0; i < part; i += READ_STEP / 2)
        for (int q = 0; q < streams; q++) {
            const float *b = p + (size_t)q * part + i;
            for (int j = 0; j < 8; j++) s[j] = _mm256_add_ps(s[j], _mm256_load_ps(b + 8 * j));
        }
    for (int j = 1; j < 8; j++) s[0] = _mm256_add_ps(s[0], s[j]);
    float out[8];
    _mm256_storeu_ps(out, s[0]);
    return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}
#endif

/* Sum of p[0 .. n) as `streams` parts read in step; n a multiple of
 * READ_STEP * streams.  Returns the sum (kept, so the reads are not dead). */
static float read_run(int isa, const float *p, size_t n, int streams)
{
    size_t part = n / (size_t)streams;
#if defined(__x86_64__)
    if (isa == 2) return read_avx512(p, part, streams);
    if (isa >= 1) return read_avx2(p, part, streams);
#endif
    float s[8] = {0};
    for (size_t i = 0; i < part; i += 8)
        for (int q = 0; q < streams; q++)
            for (int j = 0; j < 8; j++) s[j] += p[(size_t)q * part + i + j];
    return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

/* ---- threads: every worker starts together, the time is the slowest's ---- */

typedef struct Worker {
    pthread_t th;
    int id, nth, isa, kind; /* kind 0: FMA, 1: read */
    int streams;            /* read: concurrent streams per thread */
    const float *buf;
    size_t n;
    pthread_barrier_t *bar;
    double t0, t1;
    volatile float sink;
} Worker;

/* Floats each thread reads: an equal share of n, a multiple of every
 * stream count's step. */
static size_t read_share(size_t n, int nth)
{
    size_t unit = (size_t)READ_STEP * READ_MAX_STREAMS;
    return n / (size_t)nth / unit * unit;
}

static void *worker_main(void *arg)
{
    Worker *w = arg;
    pthread_barrier_wait(w->bar);
    w->t0 = now_s();
    if (w->kind == 0) {
        w->sink = fma_run(w->isa, FMA_ITERS, (float)w->id);
    } else {
        size_t share = read_share(w->n, w->nth);
        w->sink = read_run(w->isa, w->buf + share * (size_t)w->id, share, w->streams);
    }
    w->t1 = now_s();
    return NULL;
}

/* Seconds of one parallel run of nth workers (the earliest start to the
 * latest end). */
static double run_workers(int nth, int kind, int isa, const float *buf, size_t n, int streams)
{
    Worker *w = xmalloc(sizeof(Worker) * (size_t)nth);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nth);
    for (int i = 0; i < nth; i++) {
        w[i] = (Worker){.id = i, .nth = nth, .isa = isa, .kind = kind, .streams = streams, .buf = buf, .n = n, .bar = &bar};
        if (i > 0) pthread_create(&w[i].th, NULL, worker_main, &w[i]);
    }
    worker_main(&w[0]);
    for (int i = 1; i < nth; i++) pthread_join(w[i].th, NULL);
    double t0 = w[0].t0, t1 = w[0].t1;
    for (int i = 1; i < nth; i++) {
        if (w[i].t0 < t0) t0 = w[i].t0;
        if (w[i].t1 > t1) t1 = w[i].t1;
    }
    pthread_barrier_destroy(&bar);
    free(w);
    return t1 - t0;
}

static void measure(int nth, double *gflops, double *gbps)
{
    int isa = isa_level();
    double best = 1e30;
    run_workers(nth, 0, isa, NULL, 0, 1); /* warm-up: clocks, AVX-512 license */
    for (int r = 0; r < 3; r++) {
        double t = run_workers(nth, 0, isa, NULL, 0, 1);
        if (t < best) best = t;
    }
    *gflops = (double)nth * FMA_ITERS * 12.0 * fma_lanes(isa) * 2.0 / best / 1e9;

    size_t bytes = (size_t)1 << 30, n = bytes / sizeof(float);
    float *buf = aligned_alloc(64, bytes);
    if (!buf) {
        *gbps = 0;
        return;
    }
    memset(buf, 0, bytes); /* fault every page in before timing */
    for (size_t i = 0; i < n; i += 4096) buf[i] = (float)(i & 7);
    /* per pattern the median of 3 passes (on a shared machine the fastest of
     * many passes is a burst, not what a kernel can count on), then the best
     * pattern */
    best = 1e30;
    run_workers(nth, 1, isa, buf, n, 1);
    for (int streams = 1; streams <= READ_MAX_STREAMS; streams *= 2) {
        double t[3];
        for (int r = 0; r < 3; r++) t[r] = run_workers(nth, 1, isa, buf, n, streams);
        double med = t[0] > t[1] ? (t[1] > t[2] ? t[1] : t[0] > t[2] ? t[2] : t[0])
                                 : (t[0] > t[2] ? t[0] : t[1] > t[2] ? t[2] : t[1]);
        if (med < best) best = med;
    }
    *gbps = (double)(read_share(n, nth) * (size_t)nth) * sizeof(float) / best / 1e9;
    free(buf);
}

/* ---- the cache ------------------------------------------------------------ */

const char *roofline_cache_dir(Arena *a)
{
    const char *d = getenv("HYC_CACHE_DIR");
    if (d && *d) return d;
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg && xdg[0] == '/') return arena_printf(a, "%s/hyc", xdg);
    const char *home = getenv("HOME");
    return arena_printf(a, "%s/.cache/hyc", home && *home ? home : "/tmp");
}

static const char *entry_key(Arena *a, int threads)
{
    /* "v2": ceilings cached before the FMA loop's chains were made distinct
     * counted one latency-bound chain as twelve (about 3x the real peak);
     * "v3": before that, the bandwidth was one stream per thread only */
    return arena_printf(a, "%s|%s|t%d|v3", roofline_cpu_model(), roofline_isa(), threads);
}

bool roofline_get(int threads, bool refresh, double *gflops, double *gbps, FILE *log)
{
    Arena a;
    arena_init(&a);
    const char *dir = roofline_cache_dir(&a);
    const char *path = arena_printf(&a, "%s/ceilings.json", dir);
    const char *key = entry_key(&a, threads);
    Diag d;
    diag_init(&d, NULL);
    JsonValue *root = NULL;
    struct stat st;
    if (stat(path, &st) == 0) root = json_parse_file(&a, path, &d);
    if (root && root->kind != JSON_OBJECT) root = NULL;
    if (!refresh && root) {
        JsonValue *e = json_get(root, key);
        if (e && json_get_double(e, "gflops", gflops, &d) && json_get_double(e, "gbps", gbps, &d)) {
            arena_free(&a);
            return true;
        }
    }
    if (log) fprintf(log, "hyc bench: measuring this machine's ceilings at %d thread%s (once; cached in %s)\n",
                     threads, threads == 1 ? "" : "s", path);
    double load = 0;
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fscanf(lf, "%lf", &load) != 1) load = 0;
        fclose(lf);
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (log && ncpu > 0 && load > 0.5 * (double)ncpu)
        fprintf(log, "hyc bench: warning: the machine is busy (load average %.1f on %ld CPUs): the ceilings will read "
                     "low; measure again when it is quiet (hyc bench --ceilings --refresh)\n", load, ncpu);
    measure(threads, gflops, gbps);
    /* rewrite the file: the other entries, then this one */
    StrBuf sb = {0};
    sb_puts(&sb, "{\n");
    bool first = true;
    for (int i = 0; root && i < json_len(root); i++) {
        const JsonMember *m = json_member(root, i);
        double g, b;
        if (strcmp(m->key, key) == 0 || m->value->kind != JSON_OBJECT) continue;
        if (!json_get_double(m->value, "gflops", &g, &d) || !json_get_double(m->value, "gbps", &b, &d)) continue;
        sb_puts(&sb, first ? "  " : ",\n  ");
        json_write_string(&sb, m->key);
        sb_printf(&sb, ": {\"gflops\": %.2f, \"gbps\": %.2f}", g, b);
        first = false;
    }
    sb_puts(&sb, first ? "  " : ",\n  ");
    json_write_string(&sb, key);
    sb_printf(&sb, ": {\"gflops\": %.2f, \"gbps\": %.2f}\n}\n", *gflops, *gbps);
    cli_mkdir_p(dir);
    if (!write_file_atomic(path, sb_cstr(&sb), sb.len) && log)
        fprintf(log, "hyc bench: warning: cannot write %s: %s\n", path, strerror(errno));
    sb_free(&sb);
    arena_free(&a);
    return true;
}
