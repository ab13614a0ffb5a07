/* fuzz_kir.c — libFuzzer target for the Kernel IR text parser and verifier
 * (codegen/kir_parse.c, kir_verify.c), and for what runs on a kernel that
 * verifies: loop facts, the default schedule, schedule variants, signatures.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -I. \
 *       tools/fuzz/fuzz_kir.c codegen/[a-z]*.c interp/kernels.c ir/[a-z]*.c util/[a-z]*.c -lm
 *
 * (tools/fuzz.sh builds it with every library folder.)  Beyond "no crash,
 * no leak, no hang", it checks what the parser promises: every kernel that
 * parses prints to text that parses again, to one kernel, and prints to the
 * same bytes with the same signature; a rejected input produced at least
 * one error; the default schedule and every variant of a kernel verify.  A
 * broken promise aborts.  Seeds: the .kir files of tests/kernel/.
 */
#include "codegen/codegen.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                    \
    do {                                                                            \
        if (!(c)) {                                                                 \
            fprintf(stderr, "fuzz_kir: check failed: %s (line %d)\n", #c, __LINE__); \
            abort();                                                                \
        }                                                                           \
    } while (0)

static FILE *null_out(void)
{
    static FILE *null;
    if (!null) null = fopen("/dev/null", "w");
    return null;
}

static bool parse_text(const char *name, const char *text, size_t len, Arena *a, Diag *d, KirKernel ***ks, int *n)
{
    SrcFile *f = ARENA_NEW(a, SrcFile);
    f->name = name;
    f->text = text;
    f->len = len;
    return kir_parse(f, a, d, ks, n);
}

static void check_kernel(Arena *a, Diag *d, KirKernel *k)
{
    StrBuf p1 = {0}, p2 = {0};
    kir_print_kernel(&p1, k, 0);
    KirKernel **again;
    int n;
    CHECK(parse_text("again.kir", p1.data, p1.len, a, d, &again, &n));
    CHECK(n == 1);
    kir_print_kernel(&p2, again[0], 0);
    CHECK(strcmp(p1.data, p2.data) == 0);
    CHECK(strcmp(kir_signature(a, k, true), kir_signature(a, again[0], true)) == 0);
    sb_free(&p1);
    sb_free(&p2);

    /* What a tuner would do with it. */
    if (k->n_loops > 256) return; /* bounded work per input */
    CgTarget t;
    CHECK(cg_target_lookup("x86-64-v4", &t));
    kir_loop_infos(a, k);
    KirSchedule vs[16];
    int nv = kir_schedule_variants(a, k, &t, vs, 16);
    CHECK(nv >= 1);
    for (int i = 0; i < nv; i++) CHECK(kir_verify_schedule(k, &vs[i], d));
    KirKernel copy = *k;
    kir_schedule_default(&copy, a, &t, NULL);
    CHECK(kir_verify_schedule(k, &copy.sched, d));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0; /* big inputs only slow the search down */
    char *text = xmalloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;

    Arena arena;
    Diag diag;
    arena_init(&arena);
    diag_init(&diag, null_out());
    diag.max_errors = 0;

    KirKernel **ks = NULL;
    int n = 0;
    bool ok = parse_text("fuzz.kir", text, size, &arena, &diag, &ks, &n);
    if (!ok) CHECK(diag.n_errors > 0);
    else CHECK(diag.n_errors == 0);
    int errors = diag.n_errors;
    for (int i = 0; i < n; i++) check_kernel(&arena, &diag, ks[i]);
    CHECK(diag.n_errors == errors); /* what verified once verifies again */

    arena_free(&arena);
    free(text);
    return 0;
}
