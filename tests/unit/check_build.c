/* check_build.c — the library `hyc build --emit lib` makes, through its
 * generated API: the jamba fixture (attention, Mamba, MoE) compiled to
 * libfx.a + fx.h (the Makefile rule builds them before this file), linked
 * with a counting allocator (-Wl,--wrap=malloc,...) so that a test can prove
 * prefill and decode allocate nothing.
 *
 *   - the golden logits of transformers through fx_prefill_all (both
 *     sequences), at 1 and 2 threads;
 *   - prefill K + decode matches a full prefill for every K, at 1 and 2
 *     threads;
 *   - no allocation in prefill, decode, their error paths and argmax;
 *   - two sessions interleaved give what each gives alone (bitwise), reset;
 *   - bad tokens and an overflowing context consume nothing;
 *   - load errors: a missing file, a file built for another model, NULL.
 *
 * FX_WEIGHTS is the weights file hyc build wrote, FX_GOLDEN the fixture's
 * golden.safetensors. */
#include <check.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/formats.h"
#include "runtime/hycrt.h"

#include "fx.h"

#ifndef FX_WEIGHTS
#error "build with -DFX_WEIGHTS=\"path/fx.weights\" (see the Makefile)"
#endif
#ifndef FX_GOLDEN
#define FX_GOLDEN "tests/fixtures/hf/tiny/jamba/golden.safetensors"
#endif

/* ---- allocation counting (the binary links with --wrap) ------------------ */

static atomic_long n_allocs;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
int __wrap_posix_memalign(void **p, size_t align, size_t n);

void *__wrap_malloc(size_t n)
{
    atomic_fetch_add(&n_allocs, 1);
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size)
{
    atomic_fetch_add(&n_allocs, 1);
    return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n)
{
    atomic_fetch_add(&n_allocs, 1);
    return __real_realloc(p, n);
}
void *__wrap_aligned_alloc(size_t align, size_t n)
{
    atomic_fetch_add(&n_allocs, 1);
    return __real_aligned_alloc(align, n);
}
int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
    atomic_fetch_add(&n_allocs, 1);
    return __real_posix_memalign(p, align, n);
}

/* ---- the golden sequences -------------------------------------------------- */

typedef struct Seq {
    int32_t *ids;
    float *logits; /* [T, FX_VOCAB] */
    int T;
} Seq;

static Seq seqs[2];
static int n_seqs;

static void load_golden(void)
{
    Diag d;
    diag_init(&d, stderr);
    SafeTensors *g = st_open(FX_GOLDEN, &d);
    ck_assert_msg(g != NULL, "cannot open %s", FX_GOLDEN);
    n_seqs = 0;
    for (int s = 0; s < 2; s++) {
        char ni[32], nl[32];
        snprintf(ni, sizeof ni, "input_ids_%c", 'a' + s);
        snprintf(nl, sizeof nl, "logits_%c", 'a' + s);
        const StTensor *ti = st_find(g, ni), *tl = st_find(g, nl);
        if (!ti || !tl) continue;
        Seq *q = &seqs[n_seqs++];
        q->T = (int)ti->numel;
        q->ids = malloc(sizeof(int32_t) * (size_t)q->T);
        q->logits = malloc(sizeof(float) * (size_t)tl->numel);
        ck_assert(st_read_i32(g, ti, q->ids) && st_read_f32(g, tl, q->logits));
        ck_assert_int_eq(tl->numel, (int64_t)q->T * FX_VOCAB);
    }
    st_close(g);
    ck_assert_int_ge(n_seqs, 1);
}

static void free_golden(void)
{
    for (int q = 0; q < n_seqs; q++) {
        free(seqs[q].ids);
        free(seqs[q].logits);
    }
    n_seqs = 0;
}

static double rel_l2(const float *a, const float *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - ref[i];
        num += e * e;
        den += (double)ref[i] * ref[i];
    }
    return isfinite(num) ? sqrt(num / (den > 0 ? den : 1)) : INFINITY;
}

static fx_model *load(int threads)
{
    char err[512];
    fx_model *m = fx_load(FX_WEIGHTS, threads, err, sizeof err);
    ck_assert_msg(m != NULL, "fx_load: %s", err);
    return m;
}

/* ---- tests ----------------------------------------------------------------- */

START_TEST(test_constants)
{
    ck_assert_int_eq(FX_VOCAB, 512);
    ck_assert_int_ge(FX_MAX_SEQ, 64);
    ck_assert_int_ge(FX_MAX_BATCH, 1);
    ck_assert_int_le(FX_MAX_BATCH, FX_MAX_SEQ);
    const struct hycrt_model_desc *d = fx_descriptor();
    ck_assert_int_eq(d->vocab, FX_VOCAB);
    ck_assert_int_eq(d->max_seq, FX_MAX_SEQ);
    ck_assert_int_eq(d->abi_version, HYCRT_ABI_VERSION);
}
END_TEST

/* transformers' logits, at 1 and 2 threads (_i). */
START_TEST(test_golden)
{
    load_golden();
    fx_model *m = load(1 + _i);
    fx_session *s = fx_session_new(m);
    ck_assert_ptr_nonnull(s);
    for (int q = 0; q < n_seqs; q++) {
        Seq *sq = &seqs[q];
        float *out = malloc(sizeof(float) * (size_t)sq->T * FX_VOCAB);
        fx_session_reset(s);
        ck_assert_int_eq(fx_prefill_all(s, sq->ids, sq->T, out), 0);
        ck_assert_int_eq(fx_session_pos(s), sq->T);
        double r = rel_l2(out, sq->logits, (size_t)sq->T * FX_VOCAB);
        printf("check_build: golden %c, %d thread%s: rel L2 %.3e\n", 'a' + q, 1 + _i, _i ? "s" : "", r);
        ck_assert_msg(r <= 1e-4, "sequence %c: rel L2 %g", 'a' + q, r);
        free(out);
    }
    fx_session_free(s);
    fx_free(m);
    free_golden();
}
END_TEST

/* Prefill of K then decode, for every K, equals the full prefill. */
START_TEST(test_decode_every_k)
{
    load_golden();
    Seq *sq = &seqs[0];
    int T = sq->T;
    fx_model *m = load(1 + _i);
    fx_session *s = fx_session_new(m);
    float *full = malloc(sizeof(float) * (size_t)T * FX_VOCAB);
    float *out = malloc(sizeof(float) * (size_t)T * FX_VOCAB);
    ck_assert_int_eq(fx_prefill_all(s, sq->ids, T, full), 0);
    double worst = 0;
    for (int K = 1; K < T; K++) {
        fx_session_reset(s);
        ck_assert_int_eq(fx_session_pos(s), 0);
        ck_assert_int_eq(fx_prefill_all(s, sq->ids, K, out), 0);
        for (int t = K; t < T; t++) ck_assert_int_eq(fx_decode(s, sq->ids[t], out + (size_t)t * FX_VOCAB), 0);
        double r = rel_l2(out, full, (size_t)T * FX_VOCAB);
        if (r > worst) worst = r;
        ck_assert_msg(r <= 1e-5, "K = %d: rel L2 %g against the full prefill", K, r);
        /* And the last logits through fx_prefill (last only) match. */
        float last[FX_VOCAB];
        fx_session_reset(s);
        ck_assert_int_eq(fx_prefill(s, sq->ids, K, last), 0);
        ck_assert(rel_l2(last, full + (size_t)(K - 1) * FX_VOCAB, FX_VOCAB) <= 1e-5);
    }
    printf("check_build: prefill K + decode vs prefill, K = 1..%d, %d thread%s: worst rel L2 %.3e\n", T - 1, 1 + _i,
           _i ? "s" : "", worst);
    free(full);
    free(out);
    fx_session_free(s);
    fx_free(m);
    free_golden();
}
END_TEST

/* Nothing allocates once the session exists: prefill, decode, greedy
 * sampling, and their error paths. */
START_TEST(test_no_allocation)
{
    load_golden();
    Seq *sq = &seqs[0];
    fx_model *m = load(1 + _i);
    fx_session *s = fx_session_new(m);
    float *logits = malloc(sizeof(float) * (size_t)sq->T * FX_VOCAB);
    static int32_t big[FX_MAX_SEQ + 1];
    /* No ck_assert inside: Check allocates to record each one. */
    int rc[8];
    long before = atomic_load(&n_allocs);
    rc[0] = fx_prefill(s, sq->ids, 8, logits);
    rc[1] = fx_prefill_all(s, sq->ids + 8, 4, logits);
    int32_t tok = sq->ids[12];
    rc[2] = 0;
    for (int i = 0; i < 24; i++) {
        rc[2] |= fx_decode(s, tok, logits);
        tok = fx_argmax(logits);
    }
    rc[3] = fx_decode(s, tok, NULL);
    rc[4] = fx_decode(s, FX_VOCAB, logits);               /* a bad token */
    rc[5] = fx_prefill(s, big, FX_MAX_SEQ + 1, NULL);      /* too long */
    fx_session_reset(s);
    rc[6] = fx_prefill(s, sq->ids, sq->T, logits);
    rc[7] = fx_decode(s, -1, logits);                     /* a bad token */
    long after = atomic_load(&n_allocs);
    ck_assert_msg(after == before, "%ld allocations in prefill/decode", after - before);
    ck_assert(rc[0] == 0 && rc[1] == 0 && rc[2] == 0 && rc[3] == 0 && rc[6] == 0);
    ck_assert(rc[4] < 0 && rc[5] < 0 && rc[7] < 0);
    /* The counter works. */
    free(malloc(16));
    ck_assert_int_gt(atomic_load(&n_allocs), after);
    free(logits);
    fx_session_free(s);
    fx_free(m);
    free_golden();
}
END_TEST

/* Two sessions of one model, interleaved token by token, give what each
 * gives alone; reset starts over. */
START_TEST(test_sessions)
{
    load_golden();
    ck_assert_int_ge(n_seqs, 1);
    Seq *a = &seqs[0], *b = &seqs[n_seqs - 1];
    int T = a->T < b->T ? a->T : b->T;
    fx_model *m = load(2);
    fx_session *s1 = fx_session_new(m), *s2 = fx_session_new(m);
    float *la = malloc(sizeof(float) * (size_t)T * FX_VOCAB), *lb = malloc(sizeof(float) * (size_t)T * FX_VOCAB);
    float *ia = malloc(sizeof(float) * (size_t)T * FX_VOCAB), *ib = malloc(sizeof(float) * (size_t)T * FX_VOCAB);
    ck_assert_int_eq(fx_prefill(s1, a->ids, 1, la), 0);
    for (int t = 1; t < T; t++) ck_assert_int_eq(fx_decode(s1, a->ids[t], la + (size_t)t * FX_VOCAB), 0);
    ck_assert_int_eq(fx_prefill(s2, b->ids, 1, lb), 0);
    for (int t = 1; t < T; t++) ck_assert_int_eq(fx_decode(s2, b->ids[t], lb + (size_t)t * FX_VOCAB), 0);
    fx_session_reset(s1);
    fx_session_reset(s2);
    ck_assert_int_eq(fx_prefill(s1, a->ids, 1, ia), 0);
    ck_assert_int_eq(fx_prefill(s2, b->ids, 1, ib), 0);
    for (int t = 1; t < T; t++) {
        ck_assert_int_eq(fx_decode(s2, b->ids[t], ib + (size_t)t * FX_VOCAB), 0);
        ck_assert_int_eq(fx_decode(s1, a->ids[t], ia + (size_t)t * FX_VOCAB), 0);
    }
    /* Row 0 is the prefill's last-token logits; compare the decoded rows. */
    ck_assert(memcmp(la + FX_VOCAB, ia + FX_VOCAB, sizeof(float) * (size_t)(T - 1) * FX_VOCAB) == 0);
    ck_assert(memcmp(lb + FX_VOCAB, ib + FX_VOCAB, sizeof(float) * (size_t)(T - 1) * FX_VOCAB) == 0);
    ck_assert_int_eq(fx_session_pos(s1), T);
    free(la);
    free(lb);
    free(ia);
    free(ib);
    fx_session_free(s1);
    fx_session_free(s2);
    fx_free(m);
    free_golden();
}
END_TEST

/* Bad tokens and an overflowing context fail, say why, consume nothing. */
START_TEST(test_errors_consume_nothing)
{
    fx_model *m = load(1);
    fx_session *s = fx_session_new(m);
    float l1[FX_VOCAB], l2[FX_VOCAB];
    const int32_t ok[3] = {1, 2, 3}, bad[3] = {1, FX_VOCAB, 3}, neg[1] = {-1};
    ck_assert_str_eq(fx_error(s), "");
    ck_assert_int_eq(fx_prefill(s, ok, 2, NULL), 0);
    ck_assert_int_lt(fx_prefill(s, bad, 3, l1), 0);
    ck_assert_int_eq(fx_session_pos(s), 2);
    ck_assert_msg(strlen(fx_error(s)) > 0, "no message");
    ck_assert_ptr_nonnull(fx_strerror(-1));
    ck_assert_int_lt(fx_prefill(s, neg, 1, l1), 0);
    ck_assert_int_lt(fx_decode(s, -5, l1), 0);
    ck_assert_int_eq(fx_session_pos(s), 2);
    static int32_t many[FX_MAX_SEQ];
    ck_assert_int_lt(fx_prefill(s, many, FX_MAX_SEQ - 1, NULL), 0); /* 2 + MAX_SEQ - 1 > MAX_SEQ */
    ck_assert_int_eq(fx_session_pos(s), 2);
    ck_assert_int_eq(fx_decode(s, ok[2], l1), 0);
    /* The same as without the failed calls. */
    fx_session_reset(s);
    ck_assert_int_eq(fx_prefill(s, ok, 3, l2), 0);
    ck_assert(rel_l2(l1, l2, FX_VOCAB) <= 1e-5);
    fx_session_free(s);
    fx_free(m);
}
END_TEST

START_TEST(test_load_errors)
{
    char err[512] = "";
    ck_assert_ptr_null(fx_load("/nonexistent/fx.weights", 1, err, sizeof err));
    ck_assert_msg(strstr(err, "/nonexistent/fx.weights") != NULL, "message: %s", err);
    err[0] = 0;
    ck_assert_ptr_null(fx_load(NULL, 1, err, sizeof err));
    ck_assert_msg(strstr(err, "weights") != NULL, "message: %s", err);
    /* A weights file of another model (one tensor, another hash). */
    char path[] = "/tmp/check_build_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    hycrt_tensor_desc t = {"w", HYCRT_F32, 1, {16, 0, 0, 0}, 0, 0};
    uint64_t bytes;
    ck_assert_int_eq(hycrt_weights_layout(&t, 1, &bytes, err, sizeof err), 0);
    hycrt_model_desc other = {0};
    other.abi_version = HYCRT_ABI_VERSION;
    other.name = "other";
    other.hash = 42;
    other.n_tensors = 1;
    other.tensors = &t;
    other.weights_bytes = bytes;
    float data[16] = {0};
    const void *ptrs[1] = {data};
    ck_assert_int_eq(hycrt_weights_write(path, &other, ptrs, err, sizeof err), 0);
    err[0] = 0;
    ck_assert_ptr_null(fx_load(path, 1, err, sizeof err));
    ck_assert_msg(strstr(err, "another model") != NULL, "message: %s", err);
    unlink(path);
    fx_free(NULL);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("build");
    TCase *tc = tcase_create("lib");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_constants);
    tcase_add_loop_test(tc, test_golden, 0, 2);
    tcase_add_loop_test(tc, test_decode_every_k, 0, 2);
    tcase_add_loop_test(tc, test_no_allocation, 0, 2);
    tcase_add_test(tc, test_sessions);
    tcase_add_test(tc, test_errors_consume_nothing);
    tcase_add_test(tc, test_load_errors);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
