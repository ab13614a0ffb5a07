/* fuzz_hyb.c — libFuzzer target for the .hyb frontend (built by tools/fuzz.sh).
 *
 * On arbitrary bytes: parse_source must report errors, never crash, hang or
 * leak (diagnostics are printed, to /dev/null, so their caret code runs too).
 * When the input parses, formatting must not change its meaning: fmt's output
 * parses again to the same tree with the same comments, and formatting that
 * gives the same text (idempotence).  With HYC_FUZZ_SEMA (tools/fuzz.sh sets
 * it once frontend/sema.c exists) sema runs on every tree that parses.
 */
#include "frontend/frontend.h"

#include <stdlib.h>
#include <string.h>

static FILE *devnull(void)
{
    static FILE *f;
    if (!f) f = fopen("/dev/null", "w");
    if (!f) abort();
    return f;
}

static void die(const char *what, const char *text, size_t len, const char *out)
{
    fprintf(stderr, "fuzz_hyb: %s\n--- input (%zu bytes)\n", what, len);
    fwrite(text, 1, len, stderr);
    if (out) fprintf(stderr, "\n--- fmt output\n%s", out);
    fprintf(stderr, "\n---\n");
    abort();
}

static bool same_name(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The parse trees of the input and of its fmt output mean the same model. */
static bool same_tree(const AstNode *a, const AstNode *b)
{
    if (a->kind != b->kind || !same_name(a->name, b->name) || !same_name(a->label, b->label) ||
        a->negative != b->negative || a->items.len != b->items.len)
        return false;
    switch (a->kind) {
    case AST_INT:
        if (a->ival != b->ival || strcmp(a->text, b->text) != 0) return false;
        break;
    case AST_FLOAT:
        /* Bitwise, so that -0.0 and NaN-free values compare exactly. */
        if (memcmp(&a->fval, &b->fval, sizeof a->fval) != 0 || strcmp(a->text, b->text) != 0) return false;
        break;
    case AST_STRING:
        if (strcmp(a->sval, b->sval) != 0) return false;
        break;
    case AST_SETTING:
        if (!same_tree(a->value, b->value)) return false;
        break;
    default: break;
    }
    for (int i = 0; i < a->items.len; i++)
        if (!same_tree(a->items.data[i], b->items.data[i])) return false;
    return true;
}

static bool same_file(const AstFile *a, const AstFile *b)
{
    if (a->items.len != b->items.len || a->n_comments != b->n_comments) return false;
    for (int i = 0; i < a->items.len; i++)
        if (!same_tree(a->items.data[i], b->items.data[i])) return false;
    for (int i = 0; i < a->n_comments; i++)
        if (strcmp(a->comments[i].text, b->comments[i].text) != 0) return false;
    return true;
}

#ifdef HYC_FUZZ_SEMA
static void run_sema(const AstFile *f, Arena *arena, Interner *in, Diag *diag);
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Arena arena;
    Interner in;
    Diag diag;
    arena_init(&arena);
    intern_init(&in, &arena);
    diag_init(&diag, devnull());
    diag.color = false;
    diag.max_errors = 0; /* print every error: more code runs */

    SrcFile *src = ARENA_NEW(&arena, SrcFile);
    src->name = "fuzz.hyb";
    char *text = arena_alloc(&arena, size + 1);
    if (size) memcpy(text, data, size);
    src->text = text;
    src->len = size;

    AstFile *f = parse_source(src, &arena, &in, &diag);
    if (f) {
        StrBuf once = {0};
        fmt_file(&once, f);
        const char *once_text = sb_cstr(&once);
        SrcFile *src2 = src_from_string("fuzz.fmt.hyb", once_text, &arena);
        if (strlen(once_text) != once.len) die("fmt output holds a NUL byte", text, size, once_text);
        int errors = diag.n_errors;
        AstFile *g = parse_source(src2, &arena, &in, &diag);
        if (!g || diag.n_errors != errors) die("fmt output does not parse", text, size, once_text);
        if (!same_file(f, g)) die("fmt changed the meaning (tree or comments differ)", text, size, once_text);
        StrBuf twice = {0};
        fmt_file(&twice, g);
        if (twice.len != once.len || memcmp(sb_cstr(&twice), once_text, once.len) != 0)
            die("fmt is not idempotent", text, size, once_text);
        sb_free(&twice);
        sb_free(&once);
#ifdef HYC_FUZZ_SEMA
        run_sema(f, &arena, &in, &diag);
#endif
    }
    intern_free(&in);
    arena_free(&arena);
    return 0;
}

#ifdef HYC_FUZZ_SEMA
static void count_param(void *ctx, const char *name, int ndim, const int64_t *shape)
{
    (void)name;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) abort(); /* sema accepted a model with an empty tensor */
        n = shape[i] > INT64_MAX / n ? INT64_MAX : n * shape[i];
    }
    *(int64_t *)ctx += n > INT64_MAX - *(int64_t *)ctx ? 0 : n;
}

/* Sema must report or resolve, never crash; on a model it accepts, the
 * parameter list and state sizes must be computable. */
static void run_sema(const AstFile *f, Arena *arena, Interner *in, Diag *diag)
{
    ModelSpec *m = sema_check(f, arena, in, diag);
    if (!m) return;
    int64_t total = 0;
    spec_params(m, count_param, &total);
    (void)spec_param_count(m);
    (void)spec_state_bytes(m, 1);
    (void)spec_state_bytes(m, m->max_seq);
}
#endif
