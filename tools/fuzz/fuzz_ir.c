/* fuzz_ir.c — libFuzzer target for the IR text parser and verifier (ir/).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -I. \
 *       tools/fuzz/fuzz_ir.c ir/[a-z]*.c util/[a-z]*.c -lm
 *
 * With -DHYC_FUZZ_PASSES and passes/[a-z]*.c added, every module that
 * verifies also goes through -O1 (lower-composites, canonicalize, dce): the
 * verifier must accept exactly what the lowering can expand.
 *
 * Beyond "no crash, no leak, no hang", it checks what the parser promises:
 * a module that parses prints to text that parses again and prints to the
 * same bytes; a rejected input produced at least one error.  A broken
 * promise aborts.  Seeds: the .ir files under tests/ir/ (good, passes, bad).
 */
#include "ir/ir.h"
#ifdef HYC_FUZZ_PASSES
#include "passes/passes.h"
#endif

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c)) {                                                                \
            fprintf(stderr, "fuzz_ir: check failed: %s (line %d)\n", #c, __LINE__); \
            abort();                                                               \
        }                                                                          \
    } while (0)

static FILE *null_out(void)
{
    static FILE *null;
    if (!null) null = fopen("/dev/null", "w");
    return null;
}

static char *print_module(const IrModule *m)
{
    StrBuf sb = {0};
    ir_print(&sb, m);
    char *s = xstrdup(sb_cstr(&sb));
    sb_free(&sb);
    return s;
}

static IrModule *parse_text(const char *name, const char *text, size_t len, Arena *a, Interner *in,
                            Diag *d)
{
    SrcFile *f = ARENA_NEW(a, SrcFile);
    f->name = name;
    f->text = text;
    f->len = len;
    return ir_parse(f, a, in, d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0; /* big inputs only slow the search down */
    char *text = xmalloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;

    Arena arena;
    Interner in;
    Diag diag;
    arena_init(&arena);
    intern_init(&in, &arena);
    diag_init(&diag, null_out());

    IrModule *m = parse_text("fuzz.ir", text, size, &arena, &in, &diag);
    if (!m) {
        CHECK(diag.n_errors > 0);
    } else {
        CHECK(diag.n_errors == 0);
        char *a = print_module(m);
        IrModule *m2 = parse_text("again.ir", a, strlen(a), &arena, &in, &diag);
        CHECK(m2 != NULL);
        char *b = print_module(m2);
        CHECK(strcmp(a, b) == 0);
        free(b);
#ifdef HYC_FUZZ_PASSES
        PassOptions opts = {.verify_each = true};
        CHECK(pass_run_pipeline(&m2, 1, &opts, &diag));
        char *c = print_module(m2);
        IrModule *m3 = parse_text("lowered.ir", c, strlen(c), &arena, &in, &diag);
        CHECK(m3 != NULL);
        free(c);
#endif
        free(a);
    }
    intern_free(&in);
    arena_free(&arena);
    free(text);
    return 0;
}
