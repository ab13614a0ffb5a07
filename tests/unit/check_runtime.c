/* check_runtime.c — unit tests of libhycrt (runtime/).
 *
 * Linked against build/libhycrt.a only, with the toy models of
 * tests/runtime/toy_model.c (hand-written in the shape of generated code)
 * and with the allocator wrapped (-Wl,--wrap=malloc,...) so that a test can
 * count allocations: prefill, decode and sampling must make none.
 *
 *   weights   XXH64 against the reference library's values; layout; write
 *             + open round trip; every error (missing, bad magic, version,
 *             truncated, trailing bytes, corrupted table, other model,
 *             table mismatch, data checksum, and skipping it); atomic write
 *   model     descriptor checks; bigram logits; sessions independent and
 *             reset; prefill K + decode == full prefill, bitwise, for every
 *             K and 1..8 threads; chunked prefill; errors; no allocation;
 *             profile hooks
 *   sampling  greedy == argmax, ties, NaN; top-k 1 == greedy; seeds;
 *             distributions of temperature, top-k, top-p (and its widening
 *             search on a big vocabulary)
 *   pool      every task once, over many dispatches, 1..8 threads; static
 *             assignment; nested and concurrent dispatch; the sleep path
 *   cli       hycrt_main in-process (argv arrays, output captured) and the
 *             real toy_main executable: flags, exit codes, outputs
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/hycrt.h"
#include "tests/runtime/toy_model.h"

#ifndef TOY_MAIN
#define TOY_MAIN "build/tests/toy_main"
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

/* ---- helpers -------------------------------------------------------------- */

/* A fresh directory per test, removed (with its files) at the end. */
static char tmp_dir[64];

static void make_tmp_dir(void)
{
    strcpy(tmp_dir, "/tmp/hycrt_test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

static void remove_tmp_dir(void)
{
    DIR *d = opendir(tmp_dir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", tmp_dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tmp_dir);
}

/* tmp_dir/name in one of 8 rotating buffers: copy it to keep it longer. */
static const char *tmp_path(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, 512, "%s/%s", tmp_dir, name);
    return p;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* Deterministic weights: value k of the data section. */
static float weight_value(int k)
{
    uint32_t x = (uint32_t)k * 2654435761u + 12345u;
    x ^= x >> 15;
    x *= 2246822519u;
    x ^= x >> 13;
    return (float)(x % 2001) / 1000.0f - 1.0f;
}

/* Per-tensor buffers for a model: float data, freed by free_data. */
typedef struct Data {
    float *buf[8];
    const void *ptr[8];
} Data;

static void make_data(const hycrt_model_desc *m, Data *d)
{
    int k = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        size_t n = m->tensors[i].size / sizeof(float);
        d->buf[i] = malloc(n * sizeof(float));
        for (size_t j = 0; j < n; j++)
            d->buf[i][j] = weight_value(k++);
        d->ptr[i] = d->buf[i];
    }
}

static void free_data(const hycrt_model_desc *m, Data *d)
{
    for (int i = 0; i < m->n_tensors; i++)
        free(d->buf[i]);
}

static void write_weights(const char *path, const hycrt_model_desc *m)
{
    Data d;
    char err[512] = "";
    make_data(m, &d);
    int rc = hycrt_weights_write(path, m, d.ptr, err, sizeof err);
    ck_assert_msg(rc == 0, "write: %s", err);
    free_data(m, &d);
}

static void *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void write_file(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
}

/* Opens `path` for `m` and expects failure with `want` in the message. */
static void expect_open_error(const char *path, const hycrt_model_desc *m,
                              unsigned flags, const char *want)
{
    char err[512] = "";
    hycrt_weights *w = hycrt_weights_open(path, m, flags, err, sizeof err);
    ck_assert_msg(w == NULL, "opened '%s', expected an error with '%s'", path, want);
    ck_assert_msg(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
}

/* Rewrites the file at `path` after changing it with `edit`. */
static void patch_file(const char *path, size_t at, const void *bytes, size_t n)
{
    size_t size;
    char *buf = read_file(path, &size);
    ck_assert_uint_le(at + n, size);
    memcpy(buf + at, bytes, n);
    write_file(path, buf, size);
    free(buf);
}

static hycrt_model *open_model(const hycrt_model_desc *m, const char *path, int threads)
{
    char err[512] = "";
    hycrt_model *model = hycrt_model_open(m, path, threads, 0, err, sizeof err);
    ck_assert_msg(model != NULL, "model_open: %s", err);
    return model;
}

static void expect_same_floats(const float *a, const float *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&a[i], &b[i], sizeof(float)) == 0,
                      "%s[%zu]: %.9g != %.9g", what, i, a[i], b[i]);
}

/* ---- weights -------------------------------------------------------------- */

START_TEST(test_hash_vectors)
{
    /* Values from the reference xxHash library (XXH64, seed 0). */
    ck_assert_uint_eq(hycrt_hash64("", 0), 0xef46db3751d8e999ull);
    ck_assert_uint_eq(hycrt_hash64("a", 1), 0xd24ec4f1a98c6e5bull);
    ck_assert_uint_eq(hycrt_hash64("abc", 3), 0x44bc2cf5ad770999ull);
    const char *s42 = "0123456789abcdef0123456789abcdef0123456789";
    ck_assert_uint_eq(hycrt_hash64(s42, 42), 0xa76190c3acf08a1cull);
    unsigned char buf[771];
    for (int i = 0; i < 768; i++)
        buf[i] = (unsigned char)i;
    memcpy(buf + 768, "xyz", 3);
    ck_assert_uint_eq(hycrt_hash64(buf, sizeof buf), 0xe921a1b45bd779f8ull);
}
END_TEST

START_TEST(test_layout)
{
    hycrt_tensor_desc t[3];
    memcpy(t, toy_sum_desc.tensors, sizeof t);
    for (int i = 0; i < 3; i++)
        t[i].offset = t[i].size = 777;
    uint64_t bytes = 0;
    char err[256] = "";
    ck_assert_int_eq(hycrt_weights_layout(t, 3, &bytes, err, sizeof err), 0);
    ck_assert_uint_eq(bytes, toy_sum_desc.weights_bytes);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(t[i].offset, toy_sum_desc.tensors[i].offset);
        ck_assert_uint_eq(t[i].size, toy_sum_desc.tensors[i].size);
    }

    /* Odd sizes get padded to the alignment; q8_0 is 34 bytes per 32. */
    hycrt_tensor_desc u[3] = {
        {"a", HYCRT_F32, 1, {3, 0, 0, 0}, 0, 0},
        {"b", HYCRT_Q8_0, 2, {2, 64, 0, 0}, 0, 0},
        {"c", HYCRT_BF16, 3, {1, 1, 5, 0}, 0, 0},
    };
    ck_assert_int_eq(hycrt_weights_layout(u, 3, &bytes, err, sizeof err), 0);
    ck_assert_uint_eq(u[0].offset, 0);
    ck_assert_uint_eq(u[0].size, 12);
    ck_assert_uint_eq(u[1].offset, 64);
    ck_assert_uint_eq(u[1].size, 4 * 34);
    ck_assert_uint_eq(u[2].offset, 256);
    ck_assert_uint_eq(u[2].size, 10);
    ck_assert_uint_eq(bytes, 320);

    u[1].shape[1] = 48; /* not whole q8_0 blocks */
    ck_assert_int_eq(hycrt_weights_layout(u, 3, &bytes, err, sizeof err), HYCRT_E_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "multiple of 32"));
    u[1].shape[1] = 64;
    u[2].dtype = 9;
    ck_assert_int_eq(hycrt_weights_layout(u, 3, &bytes, err, sizeof err), HYCRT_E_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "unknown dtype 9"));
    u[2].dtype = HYCRT_F32;
    u[2].shape[3] = 2; /* beyond ndim */
    ck_assert_int_eq(hycrt_weights_layout(u, 3, &bytes, err, sizeof err), HYCRT_E_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "bad dimension 3"));
}
END_TEST

START_TEST(test_roundtrip)
{
    make_tmp_dir();
    const char *path = tmp_path("sum.weights");
    write_weights(path, &toy_sum_desc);
    char err[512] = "";
    hycrt_weights *w = hycrt_weights_open(path, &toy_sum_desc, 0, err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    ck_assert_uint_eq(hycrt_weights_model_hash(w), toy_sum_desc.hash);
    ck_assert_str_eq(hycrt_weights_model_name(w), "toy_sum");
    ck_assert_uint_eq(hycrt_weights_data_bytes(w), 2048);
    ck_assert_int_eq(hycrt_weights_n_tensors(w), 3);
    ck_assert_uint_eq((uintptr_t)hycrt_weights_data(w) % HYCRT_ALIGN, 0);
    int k = 0;
    for (int i = 0; i < 3; i++) {
        const hycrt_tensor_desc *t = hycrt_weights_tensor(w, i);
        ck_assert_str_eq(t->name, toy_sum_desc.tensors[i].name);
        ck_assert_int_eq(t->ndim, 2);
        ck_assert_int_eq(t->shape[0], TOY_V);
        const float *p = hycrt_weights_find(w, t->name);
        ck_assert_ptr_eq(p, hycrt_weights_data(w) + t->offset);
        ck_assert_uint_eq((uintptr_t)p % HYCRT_ALIGN, 0);
        for (size_t j = 0; j < t->size / 4; j++)
            ck_assert_float_eq(p[j], weight_value(k++));
    }
    ck_assert_ptr_null(hycrt_weights_tensor(w, 3));
    ck_assert_ptr_null(hycrt_weights_find(w, "nope"));
    hycrt_weights_close(w);

    /* Without a descriptor (tools): only the file's own checks. */
    w = hycrt_weights_open(path, NULL, 0, err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    hycrt_weights_close(w);

    /* Overwriting is atomic and leaves no temporary file. */
    write_weights(path, &toy_bigram_desc);
    ck_assert_int_eq(count_files(tmp_dir), 1);
    w = hycrt_weights_open(path, &toy_bigram_desc, 0, err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    hycrt_weights_close(w);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0644);
    remove_tmp_dir();
}
END_TEST

START_TEST(test_open_errors)
{
    make_tmp_dir();
    const char *path = tmp_path("w.weights");
    char err[512] = "";

    expect_open_error(tmp_path("missing.weights"), &toy_sum_desc, 0, "No such file");
    expect_open_error(tmp_path("missing.weights"), &toy_sum_desc, 0,
                      "cannot open weights file");

    write_file(path, "", 0);
    expect_open_error(path, &toy_sum_desc, 0, "is empty");
    write_file(path, "GGUF and more bytes that are not ours......", 40);
    expect_open_error(path, &toy_sum_desc, 0, "not a hyc weights file (bad magic)");

    write_weights(path, &toy_sum_desc);
    size_t size;
    char *good = read_file(path, &size);

    uint32_t v2 = 2;
    patch_file(path, 4, &v2, 4);
    expect_open_error(path, &toy_sum_desc, 0, "format version 2; this runtime reads version 1");

    write_file(path, good, 40);
    expect_open_error(path, &toy_sum_desc, 0, "truncated: 40 bytes, shorter than its 64-byte header");
    write_file(path, good, size - 1);
    expect_open_error(path, &toy_sum_desc, 0, "is truncated");
    write_file(path, good, size - 1000);
    expect_open_error(path, &toy_sum_desc, 0, "is truncated");
    write_file(path, good, size);
    FILE *f = fopen(path, "ab");
    fputc(0, f);
    fclose(f);
    expect_open_error(path, &toy_sum_desc, 0, "1 bytes after the end of its data");

    /* A flipped byte in the tensor table (in a name). */
    write_file(path, good, size);
    patch_file(path, 64 + 16 + 64, "E", 1);
    expect_open_error(path, &toy_sum_desc, 0, "checksum of its header and tensor table");

    /* A flipped byte in the data: caught unless verification is off. */
    write_file(path, good, size);
    patch_file(path, size - 5, "\x7f", 1);
    expect_open_error(path, &toy_sum_desc, 0, "is corrupted: data checksum 0x");
    hycrt_weights *w = hycrt_weights_open(path, &toy_sum_desc, HYCRT_WEIGHTS_NO_VERIFY,
                                          err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    hycrt_weights_close(w);
    free(good);

    /* Another model's weights. */
    write_weights(path, &toy_bigram_desc);
    expect_open_error(path, &toy_sum_desc, 0,
                      "was built for another model ('toy_bigram', hash "
                      "0xb16a4a11b16a4a11), this binary expects 'toy_sum' (hash "
                      "0x50a50a50a50a50a5)");

    /* Same hash, different table: a descriptor out of step with its file. */
    hycrt_tensor_desc t[3];
    memcpy(t, toy_sum_desc.tensors, sizeof t);
    t[1].name = "bigram_renamed";
    hycrt_model_desc other = toy_sum_desc;
    other.tensors = t;
    write_weights(path, &toy_sum_desc);
    expect_open_error(path, &other, 0,
                      "does not match model 'toy_sum': tensor 1 is 'bigram' f32 "
                      "[16, 16] at +512 (1024 bytes) in the file, 'bigram_renamed' "
                      "f32 [16, 16] at +512 (1024 bytes) in the model");
    other = toy_sum_desc;
    other.n_tensors = 2;
    expect_open_error(path, &other, 0, "it has 3 tensors, the model 2");
    remove_tmp_dir();
}
END_TEST

START_TEST(test_write_errors)
{
    make_tmp_dir();
    char err[512] = "";
    Data d;
    make_data(&toy_sum_desc, &d);
    /* A directory that does not exist: an error, and nothing created. */
    int rc = hycrt_weights_write(tmp_path("no/such/dir.weights"), &toy_sum_desc, d.ptr,
                                 err, sizeof err);
    ck_assert_int_eq(rc, HYCRT_E_IO);
    ck_assert_ptr_nonnull(strstr(err, "cannot create"));

    hycrt_tensor_desc t[3];
    memcpy(t, toy_sum_desc.tensors, sizeof t);
    hycrt_model_desc bad = toy_sum_desc;
    bad.tensors = t;
    t[1].offset = 520; /* not aligned */
    rc = hycrt_weights_write(tmp_path("a.weights"), &bad, d.ptr, err, sizeof err);
    ck_assert_int_eq(rc, HYCRT_E_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "not a multiple of 64"));
    t[1].offset = 448; /* overlaps emb */
    rc = hycrt_weights_write(tmp_path("a.weights"), &bad, d.ptr, err, sizeof err);
    ck_assert_ptr_nonnull(strstr(err, "before the end of the previous tensor"));
    t[1].offset = 512;
    t[2].size = 100;
    rc = hycrt_weights_write(tmp_path("a.weights"), &bad, d.ptr, err, sizeof err);
    ck_assert_ptr_nonnull(strstr(err, "size 100 bytes, its dtype and shape need 512"));
    t[2].size = 512;
    bad.weights_bytes = 1024;
    rc = hycrt_weights_write(tmp_path("a.weights"), &bad, d.ptr, err, sizeof err);
    ck_assert_ptr_nonnull(strstr(err, "ends past the data section"));
    ck_assert_int_eq(count_files(tmp_dir), 0);
    free_data(&toy_sum_desc, &d);
    remove_tmp_dir();
}
END_TEST

/* ---- model and sessions --------------------------------------------------- */

static int failing_forward(hycrt_ctx *ctx, const int32_t *tokens, int n, float *logits,
                           int mode)
{
    if (tokens[0] == 13)
        return 42;
    return toy_sum_desc.forward(ctx, tokens, n, logits, mode);
}

static int bad_pos_forward(hycrt_ctx *ctx, const int32_t *tokens, int n, float *logits,
                           int mode)
{
    (void)tokens, (void)logits, (void)mode;
    ctx->pos += n + 1;
    return 0;
}

START_TEST(test_desc_checks)
{
    char err[512] = "";
    hycrt_model_desc d = toy_sum_desc;
    d.abi_version = 99;
    ck_assert_ptr_null(hycrt_model_open(&d, "x", 1, 0, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "generated for runtime ABI 99, this libhycrt "
                                      "implements ABI 1"));
    d = toy_sum_desc;
    d.forward = NULL;
    ck_assert_ptr_null(hycrt_model_open(&d, "x", 1, 0, err, sizeof err));
    ck_assert_str_eq(err, "model descriptor 'toy_sum' is invalid: no forward function");
    d = toy_sum_desc;
    d.max_batch = 100;
    ck_assert_ptr_null(hycrt_model_open(&d, "x", 1, 0, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "max_batch"));
    ck_assert_ptr_null(hycrt_model_open(&toy_sum_desc, "/nonexistent/x.weights", 1, 0,
                                        err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "cannot open weights file '/nonexistent/x.weights'"));
}
END_TEST

START_TEST(test_bigram_logits)
{
    make_tmp_dir();
    const char *path = tmp_path("b.weights");
    write_weights(path, &toy_bigram_desc);
    hycrt_model *m = open_model(&toy_bigram_desc, path, 1);
    hycrt_session *s = hycrt_session_new(m);
    const float *w = (const float *)hycrt_weights_data(hycrt_model_weights(m)); /* (V, V) */
    int32_t toks[] = {3, 0, 15, 3};
    float all[4 * TOY_V], last[TOY_V];
    ck_assert_int_eq(hycrt_prefill_all(s, toks, 4, all), 0);
    for (int i = 0; i < 4; i++)
        expect_same_floats(all + i * TOY_V, w + toks[i] * TOY_V, TOY_V, "prefill_all");
    ck_assert_int_eq(hycrt_decode(s, 7, last), 0);
    expect_same_floats(last, w + 7 * TOY_V, TOY_V, "decode");
    ck_assert_int_eq(hycrt_prefill(s, toks, 3, last), 0);
    expect_same_floats(last, w + 15 * TOY_V, TOY_V, "prefill last");
    ck_assert_int_eq(hycrt_session_pos(s), 8);
    ck_assert_int_eq(hycrt_session_profile(s, 1), HYCRT_E_INVALID); /* no kernels */
    hycrt_session_free(s);
    hycrt_model_close(m);
    remove_tmp_dir();
}
END_TEST

/* Reference logits of toy_sum for toks[0..n): all positions, one call each
 * at a time with a fresh session. */
static void sum_reference(hycrt_model *m, const int32_t *toks, int n, float *out)
{
    hycrt_session *s = hycrt_session_new(m);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(hycrt_decode(s, toks[i], out + i * TOY_V), 0);
    hycrt_session_free(s);
}

START_TEST(test_sessions_independent)
{
    make_tmp_dir();
    const char *path = tmp_path("s.weights");
    write_weights(path, &toy_sum_desc);
    hycrt_model *m = open_model(&toy_sum_desc, path, 2);
    int32_t a[] = {1, 2, 3, 4, 5, 6}, b[] = {9, 9, 0, 14, 2, 7};
    float ref_a[6 * TOY_V], ref_b[6 * TOY_V], got_a[6 * TOY_V], got_b[6 * TOY_V];
    sum_reference(m, a, 6, ref_a);
    sum_reference(m, b, 6, ref_b);
    ck_assert_msg(memcmp(ref_a, ref_b, sizeof ref_a) != 0, "toy model ignores its input");

    /* Interleaved: one session's calls don't touch the other's state. */
    hycrt_session *sa = hycrt_session_new(m), *sb = hycrt_session_new(m);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(hycrt_decode(sa, a[i], got_a + i * TOY_V), 0);
        ck_assert_int_eq(hycrt_decode(sb, b[i], got_b + i * TOY_V), 0);
    }
    expect_same_floats(got_a, ref_a, 6 * TOY_V, "session a");
    expect_same_floats(got_b, ref_b, 6 * TOY_V, "session b");

    /* Reset: back to a fresh session. */
    hycrt_session_reset(sa);
    ck_assert_int_eq(hycrt_session_pos(sa), 0);
    ck_assert_int_eq(hycrt_prefill_all(sa, b, 6, got_a), 0);
    expect_same_floats(got_a, ref_b, 6 * TOY_V, "after reset");
    ck_assert_uint_eq((uintptr_t)hycrt_session_ctx(sa)->state % HYCRT_ALIGN, 0);
    ck_assert_uint_eq((uintptr_t)hycrt_session_ctx(sa)->scratch % HYCRT_ALIGN, 0);
    hycrt_session_free(sa);
    hycrt_session_free(sb);
    hycrt_model_close(m);
    remove_tmp_dir();
}
END_TEST

START_TEST(test_prefill_k_decode)
{
    make_tmp_dir();
    const char *path = tmp_path("s.weights");
    write_weights(path, &toy_sum_desc);
    enum { T = 13 }; /* > max_batch: prefills are split into 4 + 4 + 4 + 1 */
    int32_t toks[T];
    for (int i = 0; i < T; i++)
        toks[i] = (i * 5 + 3) % TOY_V;
    float ref[T * TOY_V], got[T * TOY_V], last[TOY_V];
    hycrt_model *m1 = open_model(&toy_sum_desc, path, 1);
    sum_reference(m1, toks, T, ref);

    for (int threads = 1; threads <= 8; threads++) {
        hycrt_model *m = open_model(&toy_sum_desc, path, threads);
        hycrt_session *s = hycrt_session_new(m);
        ck_assert_int_eq(hycrt_prefill_all(s, toks, T, got), 0);
        expect_same_floats(got, ref, T * TOY_V, "full prefill");
        for (int K = 1; K <= T; K++) {
            hycrt_session_reset(s);
            memset(got, 0, sizeof got);
            ck_assert_int_eq(hycrt_prefill_all(s, toks, K, got), 0);
            for (int i = K; i < T; i++)
                ck_assert_int_eq(hycrt_decode(s, toks[i], got + i * TOY_V), 0);
            expect_same_floats(got, ref, T * TOY_V, "prefill K + decode");
            /* Last-only logits of the same prefill. */
            hycrt_session_reset(s);
            ck_assert_int_eq(hycrt_prefill(s, toks, K, last), 0);
            expect_same_floats(last, ref + (K - 1) * TOY_V, TOY_V, "prefill last");
            if (K < T)
                ck_assert_int_eq(hycrt_prefill(s, toks + K, T - K, NULL), 0);
            ck_assert_int_eq(hycrt_session_pos(s), T);
        }
        hycrt_session_free(s);
        hycrt_model_close(m);
    }
    hycrt_model_close(m1);
    remove_tmp_dir();
}
END_TEST

START_TEST(test_session_errors)
{
    make_tmp_dir();
    const char *path = tmp_path("s.weights");
    write_weights(path, &toy_sum_desc);
    hycrt_model *m = open_model(&toy_sum_desc, path, 2);
    hycrt_session *s = hycrt_session_new(m);
    float out[TOY_V];
    int32_t toks[TOY_SEQ + 1] = {0};

    ck_assert_int_eq(hycrt_decode(s, TOY_V, out), HYCRT_E_INVALID);
    ck_assert_str_eq(hycrt_session_error(s), "decode: token 16 (index 0) is not in [0, 16)");
    int32_t bad[] = {1, 2, -1};
    ck_assert_int_eq(hycrt_prefill(s, bad, 3, out), HYCRT_E_INVALID);
    ck_assert_int_eq(hycrt_session_pos(s), 0); /* nothing consumed */
    ck_assert_int_eq(hycrt_prefill(s, toks, 0, out), HYCRT_E_INVALID);
    ck_assert_int_eq(hycrt_prefill_all(s, toks, 2, NULL), HYCRT_E_INVALID);

    ck_assert_int_eq(hycrt_prefill(s, toks, TOY_SEQ + 1, NULL), HYCRT_E_FULL);
    ck_assert_int_eq(hycrt_prefill(s, toks, TOY_SEQ - 1, NULL), 0);
    ck_assert_int_eq(hycrt_decode(s, 0, out), 0);
    ck_assert_int_eq(hycrt_decode(s, 0, out), HYCRT_E_FULL);
    ck_assert_str_eq(hycrt_session_error(s),
                     "decode: 1 tokens at position 32 would pass the context of 32");
    hycrt_session_reset(s);
    ck_assert_str_eq(hycrt_session_error(s), "");
    hycrt_session_free(s);
    hycrt_model_close(m);

    hycrt_model_desc d = toy_sum_desc;
    d.forward = failing_forward;
    m = open_model(&d, path, 1);
    s = hycrt_session_new(m);
    ck_assert_int_eq(hycrt_decode(s, 13, out), HYCRT_E_FORWARD);
    ck_assert_ptr_nonnull(strstr(hycrt_session_error(s), "failed (code 42) at position 0"));
    hycrt_session_free(s);
    hycrt_model_close(m);

    d.forward = bad_pos_forward;
    m = open_model(&d, path, 1);
    s = hycrt_session_new(m);
    ck_assert_int_eq(hycrt_decode(s, 1, out), HYCRT_E_FORWARD);
    ck_assert_ptr_nonnull(strstr(hycrt_session_error(s), "moved pos from 0 to 2, not by 1"));
    hycrt_session_free(s);
    hycrt_model_close(m);
    remove_tmp_dir();
}
END_TEST

START_TEST(test_no_allocation)
{
    make_tmp_dir();
    const char *path = tmp_path("s.weights");
    write_weights(path, &toy_sum_desc);
    hycrt_model *m = open_model(&toy_sum_desc, path, 3);
    hycrt_session *s = hycrt_session_new(m);
    hycrt_sampler samp;
    ck_assert_int_eq(hycrt_sampler_init(&samp, TOY_V, 0.8f, 5, 0.9f), 0);
    hycrt_sampler greedy;
    ck_assert_int_eq(hycrt_sampler_init(&greedy, TOY_V, 0, 0, 1), 0);
    hycrt_sampler plain;
    ck_assert_int_eq(hycrt_sampler_init(&plain, TOY_V, 1.0f, 0, 1), 0);
    hycrt_sampler top_p;
    ck_assert_int_eq(hycrt_sampler_init(&top_p, TOY_V, 1.0f, 0, 0.5f), 0);
    ck_assert_int_eq(hycrt_session_profile(s, 1), 0);
    int32_t toks[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    float logits[8 * TOY_V];
    uint64_t rng = hycrt_rng_seed(7);
    ck_assert_int_eq(hycrt_prefill(s, toks, 2, logits), 0); /* warm-up */

    /* No ck_assert in the measured region: Check's passing asserts record
     * a mark point, which allocates.  Return codes are OR'ed instead. */
    int bad = 0;
    long before = atomic_load(&n_allocs);
    bad |= hycrt_prefill(s, toks, 8, logits);
    bad |= hycrt_prefill_all(s, toks, 6, logits);
    bad |= hycrt_prefill(s, toks, 3, NULL);
    for (int i = 0; i < 10; i++) {
        int t = hycrt_sample(&samp, logits, &rng);
        t ^= hycrt_sample(&greedy, logits, &rng);
        t ^= hycrt_sample(&plain, logits, &rng);
        t ^= hycrt_sample(&top_p, logits, &rng);
        bad |= hycrt_decode(s, t % TOY_V, logits);
    }
    bad |= hycrt_decode(s, 99, logits) != HYCRT_E_INVALID; /* errors too */
    hycrt_session_reset(s);
    bad |= hycrt_decode(s, 1, NULL);
    long after = atomic_load(&n_allocs);
    ck_assert_int_eq(bad, 0);
    ck_assert_msg(after == before, "%ld allocations in prefill/decode/sample", after - before);

    /* The counter works: session creation does allocate. */
    hycrt_session *s2 = hycrt_session_new(m);
    ck_assert_int_gt(atomic_load(&n_allocs), after);
    hycrt_session_free(s2);
    hycrt_sampler_free(&samp);
    hycrt_sampler_free(&greedy);
    hycrt_sampler_free(&plain);
    hycrt_sampler_free(&top_p);
    hycrt_session_free(s);
    hycrt_model_close(m);
    remove_tmp_dir();
}
END_TEST

START_TEST(test_profile)
{
    make_tmp_dir();
    const char *path = tmp_path("s.weights");
    write_weights(path, &toy_sum_desc);
    hycrt_model *m = open_model(&toy_sum_desc, path, 2);
    hycrt_session *s = hycrt_session_new(m);
    int32_t toks[] = {1, 2, 3, 4, 5};
    ck_assert_ptr_null(hycrt_session_profile_entries(s));
    ck_assert_int_eq(hycrt_prefill(s, toks, 5, NULL), 0);
    ck_assert_int_eq(hycrt_session_profile(s, 1), 0);
    ck_assert_int_eq(hycrt_prefill(s, toks, 5, NULL), 0); /* calls: 4 + 1, no logits */
    float out[TOY_V];
    ck_assert_int_eq(hycrt_decode(s, 3, out), 0);
    const hycrt_prof_entry *e = hycrt_session_profile_entries(s);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e[0].calls, 3); /* scan: two prefill chunks + one decode */
    ck_assert_uint_eq(e[1].calls, 1); /* logits: the decode only */
    FILE *f = tmpfile();
    hycrt_session_profile_print(s, f);
    rewind(f);
    char buf[1024] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "scan"));
    ck_assert_ptr_nonnull(strstr(buf, "logits"));
    ck_assert_ptr_nonnull(strstr(buf, "total"));
    ck_assert_int_eq(hycrt_session_profile(s, 0), 0);
    ck_assert_ptr_null(hycrt_session_profile_entries(s));
    hycrt_session_free(s);
    hycrt_model_close(m);
    remove_tmp_dir();
}
END_TEST

/* ---- sampling ------------------------------------------------------------- */

static void random_logits(uint64_t *rng, float *l, int n)
{
    for (int i = 0; i < n; i++)
        l[i] = (float)(hycrt_rng_uniform(rng) * 10 - 5);
}

START_TEST(test_greedy)
{
    enum { V = 1000 };
    float l[V];
    uint64_t rng = hycrt_rng_seed(1), r2 = 0;
    hycrt_sampler g, k1;
    ck_assert_int_eq(hycrt_sampler_init(&g, V, 0, 0, 1), 0);
    ck_assert_int_eq(hycrt_sampler_init(&k1, V, 1.5f, 1, 0.9f), 0);
    for (int trial = 0; trial < 50; trial++) {
        random_logits(&rng, l, V);
        int want = 0;
        for (int i = 1; i < V; i++)
            if (l[i] > l[want])
                want = i;
        ck_assert_int_eq(hycrt_argmax(l, V), want);
        ck_assert_int_eq(hycrt_sample(&g, l, &r2), want);
        ck_assert_int_eq(hycrt_sample(&k1, l, &r2), want);
    }
    ck_assert_uint_eq(r2, 0); /* greedy draws no random numbers */
    /* Ties go to the lowest id; NaN is never chosen. */
    for (int i = 0; i < V; i++)
        l[i] = 1;
    l[10] = l[700] = 3;
    l[5] = NAN;
    ck_assert_int_eq(hycrt_sample(&g, l, &r2), 10);
    l[0] = NAN;
    ck_assert_int_eq(hycrt_argmax(l, V), 10);
    hycrt_sampler_free(&g);
    hycrt_sampler_free(&k1);
    hycrt_sampler bad;
    ck_assert_int_eq(hycrt_sampler_init(&bad, V, 1, 0, 0), HYCRT_E_INVALID);
    ck_assert_int_eq(hycrt_sampler_init(&bad, 0, 1, 0, 1), HYCRT_E_INVALID);
}
END_TEST

START_TEST(test_seed_reproducible)
{
    enum { V = 300, N = 200 };
    float l[V];
    uint64_t r = hycrt_rng_seed(3);
    random_logits(&r, l, V);
    hycrt_sampler cfgs[4];
    ck_assert_int_eq(hycrt_sampler_init(&cfgs[0], V, 1.0f, 0, 1), 0);
    ck_assert_int_eq(hycrt_sampler_init(&cfgs[1], V, 0.7f, 40, 1), 0);
    ck_assert_int_eq(hycrt_sampler_init(&cfgs[2], V, 1.2f, 0, 0.9f), 0);
    ck_assert_int_eq(hycrt_sampler_init(&cfgs[3], V, 1.0f, 50, 0.8f), 0);
    for (int c = 0; c < 4; c++) {
        int a[N], b[N], other[N];
        uint64_t ra = hycrt_rng_seed(42), rb = hycrt_rng_seed(42), ro = hycrt_rng_seed(43);
        for (int i = 0; i < N; i++) {
            a[i] = hycrt_sample(&cfgs[c], l, &ra);
            b[i] = hycrt_sample(&cfgs[c], l, &rb);
            other[i] = hycrt_sample(&cfgs[c], l, &ro);
        }
        ck_assert_msg(memcmp(a, b, sizeof a) == 0, "config %d: same seed differs", c);
        ck_assert_msg(memcmp(a, other, sizeof a) != 0, "config %d: seeds 42, 43 agree", c);
        hycrt_sampler_free(&cfgs[c]);
    }
    /* The RNG itself: SplitMix64's published first output for seed 0, and
     * uniforms in [0, 1). */
    uint64_t s0 = hycrt_rng_seed(0);
    ck_assert_uint_eq(hycrt_rng_next(&s0), 0xe220a8397b1dcdafull);
    for (int i = 0; i < 10000; i++) {
        double u = hycrt_rng_uniform(&s0);
        ck_assert(u >= 0 && u < 1);
    }
}
END_TEST

/* Frequencies of N draws from `s` on l[V]. */
static void histogram(hycrt_sampler *s, const float *l, int V, int N, uint64_t seed,
                      int *count)
{
    uint64_t rng = hycrt_rng_seed(seed);
    memset(count, 0, (size_t)V * sizeof *count);
    for (int i = 0; i < N; i++) {
        int t = hycrt_sample(s, l, &rng);
        ck_assert(t >= 0 && t < V);
        count[t]++;
    }
}

START_TEST(test_distributions)
{
    enum { N = 40000 };
    /* logits = log p with p = (0.1, 0.2, 0.3, 0.4) */
    float l[4] = {logf(0.1f), logf(0.2f), logf(0.3f), logf(0.4f)};
    int c[4];
    hycrt_sampler s;

    /* Temperature 1: the distribution itself (4 sigma ~ 0.01 here). */
    ck_assert_int_eq(hycrt_sampler_init(&s, 4, 1.0f, 0, 1), 0);
    histogram(&s, l, 4, N, 11, c);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(fabs(c[i] / (double)N - 0.1 * (i + 1)) < 0.01, "p[%d] = %g", i,
                      c[i] / (double)N);
    hycrt_sampler_free(&s);

    /* Temperature 0.5: p^2 renormalized = (1, 4, 9, 16) / 30. */
    ck_assert_int_eq(hycrt_sampler_init(&s, 4, 0.5f, 0, 1), 0);
    histogram(&s, l, 4, N, 12, c);
    for (int i = 0; i < 4; i++)
        ck_assert(fabs(c[i] / (double)N - (i + 1) * (i + 1) / 30.0) < 0.01);
    hycrt_sampler_free(&s);

    /* Top-k 2: tokens 3 and 2 only, 4 : 3. */
    ck_assert_int_eq(hycrt_sampler_init(&s, 4, 1.0f, 2, 1), 0);
    histogram(&s, l, 4, N, 13, c);
    ck_assert_int_eq(c[0] + c[1], 0);
    ck_assert(fabs(c[3] / (double)N - 4 / 7.0) < 0.01);
    hycrt_sampler_free(&s);

    /* Top-p 0.5: 0.4 < 0.5 <= 0.4 + 0.3, so tokens 3 and 2, 4 : 3. */
    ck_assert_int_eq(hycrt_sampler_init(&s, 4, 1.0f, 0, 0.5f), 0);
    histogram(&s, l, 4, N, 14, c);
    ck_assert_int_eq(c[0] + c[1], 0);
    ck_assert(fabs(c[3] / (double)N - 4 / 7.0) < 0.01);
    hycrt_sampler_free(&s);

    /* Top-p 0.3: token 3 alone. */
    ck_assert_int_eq(hycrt_sampler_init(&s, 4, 1.0f, 0, 0.3f), 0);
    histogram(&s, l, 4, 1000, 15, c);
    ck_assert_int_eq(c[3], 1000);
    hycrt_sampler_free(&s);

    /* Top-k 3 then top-p 0.6 of the renormalized (0.2, 0.3, 0.4) / 0.9:
     * 0.444 < 0.6 <= 0.778: tokens 3 and 2. */
    ck_assert_int_eq(hycrt_sampler_init(&s, 4, 1.0f, 3, 0.6f), 0);
    histogram(&s, l, 4, N, 16, c);
    ck_assert_int_eq(c[0] + c[1], 0);
    ck_assert(fabs(c[3] / (double)N - 4 / 7.0) < 0.01);
    hycrt_sampler_free(&s);
}
END_TEST

START_TEST(test_top_p_wide)
{
    /* Equal logits on 3000 tokens: top-p 0.5 keeps 1500 of them (ties go to
     * low ids), which takes the search past its first 64 and 512. */
    enum { V = 3000, N = 600 };
    float *l = malloc(V * sizeof *l);
    int *c = malloc(V * sizeof *c);
    for (int i = 0; i < V; i++)
        l[i] = 0.25f;
    hycrt_sampler s;
    ck_assert_int_eq(hycrt_sampler_init(&s, V, 1.0f, 0, 0.5f), 0);
    histogram(&s, l, V, N, 17, c);
    int hi = 0;
    for (int i = 0; i < V; i++)
        if (c[i])
            hi = i;
    ck_assert_int_lt(hi, 1500);
    ck_assert_int_gt(hi, 1400);
    hycrt_sampler_free(&s);
    free(l);
    free(c);
}
END_TEST

/* ---- thread pool ---------------------------------------------------------- */

typedef struct Count {
    atomic_int *hits; /* [n] */
    int n;
} Count;

/* Tasks are claimed by whichever thread is free, so only the count is
 * checked: every task exactly once per dispatch. */
static void count_task(void *arg, int ith, int nth)
{
    Count *c = arg;
    ck_assert_int_eq(nth, c->n);
    atomic_fetch_add(&c->hits[ith], 1);
}

START_TEST(test_pool_counts)
{
    static const int sizes[] = {1, 2, 3, 7, 64, 1000};
    for (int threads = 1; threads <= 8; threads++) {
        hycrt_pool *pool = hycrt_pool_new(threads);
        ck_assert_ptr_nonnull(pool);
        ck_assert_int_eq(hycrt_pool_threads(pool), threads);
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            int n = sizes[k];
            atomic_int *hits = calloc((size_t)n, sizeof *hits);
            Count c = {hits, n};
            /* Fewer rounds when oversubscribed: every dispatch then wakes
             * sleeping workers, ~0.1 ms each on a small VM. */
            int reps = threads > hycrt_cpu_count() ? 20 : n >= 1000 ? 50 : 300;
            for (int r = 0; r < reps; r++)
                hycrt_parallel_for(pool, n, count_task, &c);
            for (int i = 0; i < n; i++)
                ck_assert_msg(hits[i] == reps, "%d threads, %d tasks: task %d ran %d "
                              "times, not %d", threads, n, i, (int)hits[i], reps);
            free(hits);
        }
        hycrt_parallel_for(pool, 0, count_task, NULL); /* nothing to do */
        hycrt_pool_free(pool);
    }
}
END_TEST

typedef struct SumArg {
    hycrt_pool *pool;
    const int64_t *x;
    int64_t *partial; /* [nth] */
    int64_t n;
    atomic_long *nested;
} SumArg;

static void sum_task(void *arg, int ith, int nth)
{
    SumArg *a = arg;
    int64_t lo, hi, s = 0;
    hycrt_split(a->n, ith, nth, &lo, &hi);
    for (int64_t i = lo; i < hi; i++)
        s += a->x[i];
    a->partial[ith] = s;
}

static int64_t pool_sum(hycrt_pool *pool, const int64_t *x, int64_t n, int nth)
{
    int64_t partial[64];
    SumArg a = {pool, x, partial, n, NULL};
    hycrt_parallel_for(pool, nth, sum_task, &a);
    int64_t s = 0;
    for (int i = 0; i < nth; i++)
        s += partial[i];
    return s;
}

START_TEST(test_pool_sum_sleep)
{
    enum { N = 100000 };
    int64_t *x = malloc(N * sizeof *x);
    for (int i = 0; i < N; i++)
        x[i] = i % 977;
    int64_t want = 0;
    for (int i = 0; i < N; i++)
        want += x[i];
    hycrt_pool *pool = hycrt_pool_new(4);
    /* Spinning workers, then sleeping ones (spin 0: every wait sleeps),
     * then waits longer than the spin so workers are asleep on dispatch. */
    for (int r = 0; r < 500; r++)
        ck_assert_int_eq(pool_sum(pool, x, N, 1 + r % 64), want);
    hycrt_pool_set_spin(pool, 0);
    for (int r = 0; r < 500; r++)
        ck_assert_int_eq(pool_sum(pool, x, N, 1 + r % 64), want);
    hycrt_pool_set_spin(pool, 20000);
    for (int r = 0; r < 20; r++) {
        usleep(200);
        ck_assert_int_eq(pool_sum(pool, x, N, 8), want);
    }
    hycrt_pool_free(pool);
    ck_assert_int_eq(pool_sum(NULL, x, N, 5), want); /* no pool: inline */
    free(x);
}
END_TEST

static void nested_task(void *arg, int ith, int nth)
{
    SumArg *a = arg;
    /* A dispatch from inside a task runs inline instead of deadlocking. */
    int64_t s = pool_sum(a->pool, a->x, a->n, 3);
    atomic_fetch_add(a->nested, (long)s);
}

typedef struct Caller {
    hycrt_pool *pool;
    const int64_t *x;
    int64_t n, want;
    int ok;
} Caller;

static void *caller_main(void *p)
{
    Caller *c = p;
    c->ok = 1;
    for (int r = 0; r < 2000; r++)
        if (pool_sum(c->pool, c->x, c->n, 1 + r % 9) != c->want)
            c->ok = 0;
    return NULL;
}

START_TEST(test_pool_nested_concurrent)
{
    enum { N = 5000 };
    int64_t x[N], want = 0;
    for (int i = 0; i < N; i++)
        want += x[i] = i;
    hycrt_pool *pool = hycrt_pool_new(3);
    atomic_long nested = 0;
    int64_t partial[8];
    SumArg a = {pool, x, partial, N, &nested};
    hycrt_parallel_for(pool, 6, nested_task, &a);
    ck_assert_int_eq(atomic_load(&nested), 6 * want);

    /* Two threads dispatching on one pool: one gets the workers, the
     * other runs inline; both get right answers. */
    Caller c1 = {pool, x, N, want, 0}, c2 = c1;
    pthread_t t1, t2;
    pthread_create(&t1, NULL, caller_main, &c1);
    pthread_create(&t2, NULL, caller_main, &c2);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    ck_assert(c1.ok && c2.ok);
    hycrt_pool_free(pool);
}
END_TEST

START_TEST(test_split)
{
    for (int n = 0; n < 40; n++)
        for (int nth = 1; nth <= 9; nth++) {
            int64_t prev = 0;
            for (int i = 0; i < nth; i++) {
                int64_t lo, hi;
                hycrt_split(n, i, nth, &lo, &hi);
                ck_assert_int_eq(lo, prev);
                ck_assert(hi - lo == n / nth || hi - lo == n / nth + 1);
                prev = hi;
            }
            ck_assert_int_eq(prev, n);
        }
    ck_assert_int_ge(hycrt_cpu_count(), 1);
    hycrt_pool *p = hycrt_pool_new(0);
    ck_assert_int_eq(hycrt_pool_threads(p), hycrt_cpu_count());
    hycrt_pool_free(p);
}
END_TEST

/* ---- command line ----------------------------------------------------------- */

typedef struct Cli {
    int rc;
    char out[8192], err[4096];
} Cli;

/* Runs hycrt_main_io on a NULL-terminated argument list. */
static void cli(Cli *c, const hycrt_model_desc *m, const char *const *args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"toy";
    for (; *args; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    FILE *out = tmpfile(), *err = tmpfile();
    c->rc = hycrt_main_io(argc, argv, m, out, err);
    rewind(out);
    rewind(err);
    size_t n = fread(c->out, 1, sizeof c->out - 1, out);
    c->out[n] = 0;
    n = fread(c->err, 1, sizeof c->err - 1, err);
    c->err[n] = 0;
    fclose(out);
    fclose(err);
}

#define CLI(c, ...) cli((c), &toy_sum_desc, (const char *const[]){__VA_ARGS__, NULL})

static void expect_cli(const Cli *c, int rc, const char *in_err)
{
    ck_assert_msg(c->rc == rc, "exit %d, want %d; stderr: %s", c->rc, rc, c->err);
    if (in_err)
        ck_assert_msg(strstr(c->err, in_err) != NULL, "stderr '%s' lacks '%s'", c->err,
                      in_err);
}

START_TEST(test_cli_usage)
{
    Cli c;
    CLI(&c, "--help");
    expect_cli(&c, 0, NULL);
    ck_assert_ptr_nonnull(strstr(c.out, "usage: toy [options]"));
    ck_assert_ptr_nonnull(strstr(c.out, "--tokens-file"));

    CLI(&c, "--tokns", "1");
    expect_cli(&c, 2, "unknown option '--tokns' (did you mean '--tokens'?)");
    CLI(&c, "--frobnicate");
    expect_cli(&c, 2, "unknown option '--frobnicate'\nTry 'toy --help'.");
    CLI(&c, "stray");
    expect_cli(&c, 2, "unexpected argument 'stray'");
    CLI(&c, "--tokens");
    expect_cli(&c, 2, "--tokens needs a value");
    CLI(&c, "--bench=1");
    expect_cli(&c, 2, "--bench takes no value");
    CLI(&c, "-n", "3");
    expect_cli(&c, 2, "no prompt: give --tokens LIST or --tokens-file FILE");
    CLI(&c, "--tokens", "1,2", "--tokens-file", "x");
    expect_cli(&c, 2, "not both");
    CLI(&c, "--tokens", "1,,2");
    expect_cli(&c, 2, "--tokens: empty item 2");
    CLI(&c, "--tokens", "1,x");
    expect_cli(&c, 2, "--tokens: 'x' (item 2) is not a token id");
    CLI(&c, "--tokens", "1,2", "--prefill", "0");
    expect_cli(&c, 2, "--prefill: 0 is not in [1, 2147483647]");
    CLI(&c, "--tokens", "1,2", "--prefill", "3");
    expect_cli(&c, 2, "--prefill: 3 is not in [1, 2] (the prompt has 2 tokens)");
    CLI(&c, "--tokens", "1", "--prefill", "2x");
    expect_cli(&c, 2, "--prefill: '2x' is not an integer");
    CLI(&c, "--tokens", "1", "--threads", "0");
    expect_cli(&c, 2, "--threads: 0 is not in [1, 1024]");
    CLI(&c, "--tokens", "1", "--top-p", "1.5");
    expect_cli(&c, 2, "--top-p: 1.5 is not in (0, 1]");
    CLI(&c, "--tokens", "1", "--temp", "-1");
    expect_cli(&c, 2, "--temp: -1 is negative");
    CLI(&c, "--tokens", "1", "--temp", "nan");
    expect_cli(&c, 2, "--temp: 'nan' is not a number");
    CLI(&c, "--tokens", "1", "--seed", "-5");
    expect_cli(&c, 2, "--seed: '-5' is not an unsigned 64-bit integer");
    CLI(&c, "--tokens", "1", "-n", "-1");
    expect_cli(&c, 2, "-n: -1 is not in [0, 2147483647]");
    CLI(&c, "--bench", "--logits-out", "x");
    expect_cli(&c, 2, "--bench cannot be combined with --logits-out");
}
END_TEST

START_TEST(test_cli_input_errors)
{
    make_tmp_dir();
    char w[512];
    snprintf(w, sizeof w, "%s", tmp_path("s.weights"));
    write_weights(w, &toy_sum_desc);
    Cli c;
    CLI(&c, "--weights", w, "--tokens", "1,16");
    expect_cli(&c, 1, "token 16 (position 1) is not in [0, 16): the vocabulary of 'toy_sum'");
    CLI(&c, "--weights", w, "--tokens", "1,-2");
    expect_cli(&c, 1, "token -2 (position 1)");
    CLI(&c, "--weights", tmp_path("none.weights"), "--tokens", "1");
    expect_cli(&c, 1, "cannot open weights file");
    CLI(&c, "--weights", w, "--tokens", "1,2,3", "-n", "31");
    expect_cli(&c, 1, "the prompt (3 tokens) and 31 generated tokens do not fit the "
               "context of 'toy_sum' (32 tokens)");
    CLI(&c, "--weights", w, "--tokens", "1,2,3", "-n", "30"); /* just fits */
    expect_cli(&c, 0, NULL);

    char list[200] = "0";
    for (int i = 1; i < 33; i++)
        strcat(list, ",1");
    CLI(&c, "--weights", w, "--tokens", list);
    expect_cli(&c, 1, "the prompt has 33 tokens, more than the context of 'toy_sum' (32)");

    write_file(tmp_path("bad.i32"), "\1\0\0\0\2\0", 6);
    CLI(&c, "--weights", w, "--tokens-file", tmp_path("bad.i32"));
    expect_cli(&c, 1, "its size is not a multiple of 4");
    write_file(tmp_path("empty.i32"), "", 0);
    CLI(&c, "--weights", w, "--tokens-file", tmp_path("empty.i32"));
    expect_cli(&c, 1, "empty: no tokens");
    CLI(&c, "--weights", w, "--tokens-file", tmp_path("missing.i32"));
    expect_cli(&c, 1, "cannot open");

    /* Another model's weights through the CLI. */
    write_weights(tmp_path("b.weights"), &toy_bigram_desc);
    CLI(&c, "--weights", tmp_path("b.weights"), "--tokens", "1");
    expect_cli(&c, 1, "was built for another model ('toy_bigram'");
    CLI(&c, "--weights", w, "--tokens", "1", "--logits-out", tmp_path("no/dir/l.f32"));
    expect_cli(&c, 1, "cannot create");
    remove_tmp_dir();
}
END_TEST

START_TEST(test_cli_outputs)
{
    make_tmp_dir();
    char w[512];
    snprintf(w, sizeof w, "%s", tmp_path("s.weights"));
    write_weights(w, &toy_sum_desc);
    int32_t toks[] = {3, 1, 4, 1, 5, 9, 2};
    enum { T = 7, GEN = 6 };

    /* Reference: the session API directly. */
    hycrt_model *m = open_model(&toy_sum_desc, w, 1);
    hycrt_session *s = hycrt_session_new(m);
    float ref[T * TOY_V], last[TOY_V];
    ck_assert_int_eq(hycrt_prefill_all(s, toks, T, ref), 0);
    memcpy(last, ref + (T - 1) * TOY_V, sizeof last);
    char want[256] = "";
    for (int g = 0; g < GEN; g++) {
        int t = hycrt_argmax(last, TOY_V);
        snprintf(want + strlen(want), sizeof want - strlen(want), g ? " %d" : "%d", t);
        if (g + 1 < GEN)
            ck_assert_int_eq(hycrt_decode(s, t, last), 0);
    }
    strcat(want, "\n");
    hycrt_session_free(s);
    hycrt_model_close(m);

    Cli c;
    CLI(&c, "--weights", w, "--tokens", "3,1,4,1,5,9,2", "-n", "6", "--threads", "2");
    expect_cli(&c, 0, NULL);
    ck_assert_str_eq(c.out, want);
    /* The same prompt from a file, prefilled in part: same tokens. */
    write_file(tmp_path("p.i32"), toks, sizeof toks);
    CLI(&c, "--weights", w, "--tokens-file", tmp_path("p.i32"), "--prefill", "2", "-n", "6",
        "--threads=3", "--no-verify");
    expect_cli(&c, 0, NULL);
    ck_assert_str_eq(c.out, want);

    /* --logits-out: [T, vocab] float32, equal for every K. */
    for (int K = 1; K <= T; K++) {
        char k[8];
        snprintf(k, sizeof k, "%d", K);
        CLI(&c, "--weights", w, "--tokens", "3,1,4,1,5,9,2", "--prefill", k,
            "--logits-out", tmp_path("l.f32"));
        expect_cli(&c, 0, NULL);
        size_t size;
        float *got = read_file(tmp_path("l.f32"), &size);
        ck_assert_uint_eq(size, sizeof ref);
        expect_same_floats(got, ref, T * TOY_V, "logits-out");
        free(got);
    }
    ck_assert_int_eq(count_files(tmp_dir), 3); /* weights, prompt, logits */

    /* No output requested: a note, exit 0. */
    CLI(&c, "--weights", w, "--tokens", "1");
    expect_cli(&c, 0, "note: the prompt was evaluated");

    /* Sampling: a seed reproduces, another seed differs (over 25 tokens). */
    Cli d;
    CLI(&c, "--weights", w, "--tokens", "1", "-n", "25", "--temp", "2", "--top-k", "10",
        "--top-p", "0.95", "--seed", "7");
    CLI(&d, "--weights", w, "--tokens", "1", "-n", "25", "--temp", "2", "--top-k", "10",
        "--top-p", "0.95", "--seed", "7");
    expect_cli(&c, 0, NULL);
    ck_assert_str_eq(c.out, d.out);
    CLI(&d, "--weights", w, "--tokens", "1", "-n", "25", "--temp", "2", "--top-k", "10",
        "--top-p", "0.95", "--seed", "0x8");
    ck_assert_str_ne(c.out, d.out);

    CLI(&c, "--weights", w, "--bench", "--threads", "2");
    expect_cli(&c, 0, NULL);
    ck_assert_ptr_nonnull(strstr(c.out, "prefill:     16 tokens in"));
    ck_assert_ptr_nonnull(strstr(c.out, "decode:      16 tokens in"));
    ck_assert_ptr_nonnull(strstr(c.out, "tokens/s"));

    CLI(&c, "--weights", w, "--tokens", "1,2,3", "--profile", "-n", "2");
    expect_cli(&c, 0, "logits");
    ck_assert_ptr_nonnull(strstr(c.err, "scan"));
    remove_tmp_dir();
}
END_TEST

/* The real executable: exit statuses and the default weights path. */
static int run_toy(const char *args, char *out, size_t len)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s > %s 2>&1", TOY_MAIN, args, tmp_path("out.txt"));
    int st = system(cmd);
    ck_assert(WIFEXITED(st));
    FILE *f = fopen(tmp_path("out.txt"), "r");
    size_t n = fread(out, 1, len - 1, f);
    out[n] = 0;
    fclose(f);
    return WEXITSTATUS(st);
}

START_TEST(test_toy_main)
{
    make_tmp_dir();
    char out[4096];
    char def[512];
    snprintf(def, sizeof def, "%s.weights", TOY_MAIN);
    unlink(def);
    ck_assert_int_eq(run_toy("--tokens 1,2", out, sizeof out), 1);
    ck_assert_msg(strstr(out, "no weights file: tried '") && strstr(out, "toy_main.weights'"),
                  "%s", out);
    write_weights(def, &toy_sum_desc);
    ck_assert_int_eq(run_toy("--tokens 1,2 -n 3", out, sizeof out), 0);
    char w[600];
    snprintf(w, sizeof w, "--weights %s --tokens 1,2 -n 3 --threads 4", def);
    char out2[4096];
    ck_assert_int_eq(run_toy(w, out2, sizeof out2), 0);
    ck_assert_str_eq(out, out2);
    ck_assert_int_eq(run_toy("--tokens 1,2 --prefill 3", out, sizeof out), 2);
    ck_assert_int_eq(run_toy("--tokens 1,99", out, sizeof out), 1);
    ck_assert_int_eq(run_toy("--help", out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: toy_main"));
    unlink(def);
    remove_tmp_dir();
}
END_TEST

static Suite *runtime_suite(void)
{
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("weights");
    tcase_add_test(tc, test_hash_vectors);
    tcase_add_test(tc, test_layout);
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_write_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("model");
    tcase_add_test(tc, test_desc_checks);
    tcase_add_test(tc, test_bigram_logits);
    tcase_add_test(tc, test_sessions_independent);
    tcase_add_test(tc, test_prefill_k_decode);
    tcase_add_test(tc, test_session_errors);
    tcase_add_test(tc, test_no_allocation);
    tcase_add_test(tc, test_profile);
    suite_add_tcase(s, tc);

    tc = tcase_create("sampling");
    tcase_add_test(tc, test_greedy);
    tcase_add_test(tc, test_seed_reproducible);
    tcase_add_test(tc, test_distributions);
    tcase_add_test(tc, test_top_p_wide);
    suite_add_tcase(s, tc);

    tc = tcase_create("pool");
    tcase_set_timeout(tc, 60); /* up to 8 threads on a 2-core CI machine */
    tcase_add_test(tc, test_pool_counts);
    tcase_add_test(tc, test_pool_sum_sleep);
    tcase_add_test(tc, test_pool_nested_concurrent);
    tcase_add_test(tc, test_split);
    suite_add_tcase(s, tc);

    tc = tcase_create("cli");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_cli_usage);
    tcase_add_test(tc, test_cli_input_errors);
    tcase_add_test(tc, test_cli_outputs);
    tcase_add_test(tc, test_toy_main);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(runtime_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
