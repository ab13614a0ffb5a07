/* cmp_logits.c — compare logits written by `hyc run --logits-out` with the
 * reference logits of a fixture's golden.safetensors, by the fixtures'
 * metric (../shared/fixtures/README.md): relative L2 error <= 1e-4 over all
 * positions and the same argmax wherever the reference's top two logits
 * differ by more than 1e-3.
 *
 *   cmp_logits ids GOLDEN.safetensors input_ids_a OUT.i32
 *       write the token ids as raw little-endian int32 (for --tokens-file)
 *   cmp_logits cmp OURS.f32 GOLDEN.safetensors logits_a [LABEL]
 *       print "LABEL: rel L2 ... argmax ..." and exit 0 when it matches,
 *       1 when it does not, 2 on bad usage or unreadable input
 *   cmp_logits pair A.f32 B.f32 VOCAB [LABEL]
 *       the same metric between two raw logits files, B the reference
 *
 * Build: cc -std=c11 -D_GNU_SOURCE -I. tools/cmp_logits.c build/libhyc.a -lm
 */
#include "formats/formats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REL_TOL 1e-4
#define GAP_TOL 1e-3

static int usage(void)
{
    fprintf(stderr, "usage: cmp_logits ids GOLDEN.safetensors NAME OUT.i32\n"
                    "       cmp_logits cmp OURS.f32 GOLDEN.safetensors NAME [LABEL]\n"
                    "       cmp_logits pair A.f32 B.f32 VOCAB [LABEL]\n");
    return 2;
}

static const StTensor *find(SafeTensors *g, const char *name)
{
    const StTensor *t = st_find(g, name);
    if (!t) fprintf(stderr, "%s: no tensor '%s'\n", st_path(g), name);
    return t;
}

static int cmd_ids(const char *golden, const char *name, const char *out)
{
    Diag d;
    diag_init(&d, stderr);
    SafeTensors *g = st_open(golden, &d);
    if (!g) return 2;
    const StTensor *t = find(g, name);
    int rc = 2;
    if (t) {
        int32_t *ids = malloc((size_t)t->numel * sizeof(int32_t) + 1);
        unsigned char *bytes = malloc((size_t)t->numel * 4 + 1);
        if (ids && bytes && st_read_i32(g, t, ids)) {
            for (int64_t i = 0; i < t->numel; i++) {
                uint32_t u = (uint32_t)ids[i];
                for (int b = 0; b < 4; b++) bytes[i * 4 + b] = (unsigned char)(u >> (8 * b));
            }
            if (write_file_atomic(out, bytes, (size_t)t->numel * 4))
                rc = 0;
            else
                fprintf(stderr, "%s: cannot write: %s\n", out, strerror(errno));
        } else {
            fprintf(stderr, "%s: '%s' is not an integer tensor\n", golden, name);
        }
        free(ids);
        free(bytes);
    }
    st_close(g);
    return rc;
}

static int argmax(const float *v, int64_t n)
{
    int64_t b = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return (int)b;
}

/* Raw little-endian float32 file of exactly n values, or NULL (reported). */
static float *read_raw_f32(const char *path, int64_t n, const char *what)
{
    size_t len;
    char *raw = read_file(path, &len);
    if (!raw) {
        fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
        return NULL;
    }
    if (len != (size_t)n * 4) {
        fprintf(stderr, "%s: %zu bytes, but %s holds %lld float32 (%lld bytes)\n", path, len, what,
                (long long)n, (long long)(n * 4));
        free(raw);
        return NULL;
    }
    float *x = malloc((size_t)n * 4 + 1);
    const unsigned char *b = (const unsigned char *)raw;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 | (uint32_t)b[4 * i + 2] << 16 |
                     (uint32_t)b[4 * i + 3] << 24;
        memcpy(&x[i], &u, 4);
    }
    free(raw);
    return x;
}

/* The fixtures' metric; prints one line, returns 0 when `ours` matches. */
static int compare(const float *ours, const float *ref, int64_t T, int64_t V, const char *label)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < T * V; i++) {
        double e = (double)ours[i] - ref[i];
        num += e * e;
        den += (double)ref[i] * ref[i];
    }
    double rel = sqrt(num / den);
    int bad = 0, first = -1;
    for (int64_t r = 0; r < T; r++) {
        const float *rr = ref + r * V;
        int best = argmax(rr, V);
        double second = -INFINITY;
        for (int64_t v = 0; v < V; v++)
            if (v != best && rr[v] > second) second = rr[v];
        if (rr[best] - second > GAP_TOL && argmax(ours + r * V, V) != best) {
            if (first < 0) first = (int)r;
            bad++;
        }
    }
    bool ok = rel <= REL_TOL && bad == 0; /* NaN fails */
    printf("%s: rel L2 %.3e (<= %g), argmax %s", label, rel, REL_TOL, bad ? "DIFFERS" : "ok");
    if (bad) printf(" at %d positions (first %d)", bad, first);
    printf("%s\n", ok ? "" : "  FAIL");
    return ok ? 0 : 1;
}

static int cmd_cmp(const char *ours_path, const char *golden, const char *name, const char *label)
{
    Diag d;
    diag_init(&d, stderr);
    SafeTensors *g = st_open(golden, &d);
    if (!g) return 2;
    const StTensor *t = find(g, name);
    if (!t || t->ndim != 2) {
        if (t) fprintf(stderr, "%s: '%s' is not [T, vocab]\n", golden, name);
        st_close(g);
        return 2;
    }
    int64_t T = t->shape[0], V = t->shape[1];
    float *ref = malloc((size_t)(T * V) * sizeof(float) + 1);
    if (!ref || !st_read_f32(g, t, ref)) {
        fprintf(stderr, "%s: '%s' is not a float tensor\n", golden, name);
        free(ref);
        st_close(g);
        return 2;
    }
    st_close(g);
    float *ours = read_raw_f32(ours_path, T * V, name);
    int rc = ours ? compare(ours, ref, T, V, label ? label : ours_path) : 2;
    free(ours);
    free(ref);
    return rc;
}

/* Two raw logits files of the same model, e.g. full prefill vs prefill-K +
 * decode: B is the reference. */
static int cmd_pair(const char *a_path, const char *b_path, const char *vocab_text, const char *label)
{
    int64_t V;
    size_t len;
    if (!parse_i64(vocab_text, &V) || V <= 0) return usage();
    char *raw = read_file(b_path, &len);
    if (!raw) {
        fprintf(stderr, "%s: cannot read: %s\n", b_path, strerror(errno));
        return 2;
    }
    free(raw);
    if (len == 0 || len % ((size_t)V * 4) != 0) {
        fprintf(stderr, "%s: %zu bytes is not a whole number of [%lld] float32 rows\n", b_path, len,
                (long long)V);
        return 2;
    }
    int64_t T = (int64_t)(len / ((size_t)V * 4));
    float *a = read_raw_f32(a_path, T * V, b_path);
    float *b = a ? read_raw_f32(b_path, T * V, b_path) : NULL;
    int rc = b ? compare(a, b, T, V, label ? label : a_path) : 2;
    free(a);
    free(b);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "ids") == 0) return cmd_ids(argv[2], argv[3], argv[4]);
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "cmp") == 0)
        return cmd_cmp(argv[2], argv[3], argv[4], argc == 6 ? argv[5] : NULL);
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "pair") == 0)
        return cmd_pair(argv[2], argv[3], argv[4], argc == 6 ? argv[5] : NULL);
    return usage();
}
