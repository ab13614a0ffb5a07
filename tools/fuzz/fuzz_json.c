/* fuzz_json.c — libFuzzer target for formats/json.c.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -I. \
 *       tools/fuzz/fuzz_json.c formats/json.c util/util.c util/diag.c -lm
 *
 * Beyond "no crash", it checks what the parser promises: every node has a
 * location in the file, strings are NUL-terminated at str_len, json_get finds
 * each member, and a parsed tree written back with json_write_value parses
 * again to text that writes identically.  The raw input, written as a JSON
 * string, must parse back as a string.  A broken promise aborts.
 */
#include "formats/formats.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                         \
    do {                                                                 \
        if (!(c)) {                                                      \
            fprintf(stderr, "fuzz_json: check failed: %s (line %d)\n", #c, __LINE__); \
            abort();                                                     \
        }                                                                \
    } while (0)

static Diag *quiet_diag(void)
{
    static Diag d;
    static FILE *null;
    if (!null) null = fopen("/dev/null", "w");
    diag_init(&d, null);
    d.max_errors = 0;
    return &d;
}

static void check_tree(const JsonValue *v, const SrcFile *f, Diag *d)
{
    CHECK(v->loc.file == f && v->loc.line >= 1 && v->loc.col >= 1);
    switch (v->kind) {
    case JSON_NUMBER: {
        CHECK(v->text && *v->text);
        double x;
        CHECK(json_as_double(v, &x, d));
        if (v->int_fits) CHECK(v->is_int);
        break;
    }
    case JSON_STRING:
        CHECK(v->str && v->str[v->str_len] == 0 && strlen(v->str) <= v->str_len);
        break;
    case JSON_ARRAY:
        for (int i = 0; i < v->len; i++) check_tree(json_at(v, i), f, d);
        CHECK(json_at(v, v->len) == NULL);
        break;
    case JSON_OBJECT:
        for (int i = 0; i < v->len; i++) {
            const JsonMember *m = json_member(v, i);
            CHECK(m->key[m->key_len] == 0);
            if (strlen(m->key) == m->key_len) CHECK(json_get(v, m->key) == m->value);
            check_tree(m->value, f, d);
        }
        break;
    case JSON_NULL:
    case JSON_BOOL:
        break;
    }
}

/* Parse TEXT; NULL when it is not JSON. */
static JsonValue *parse(Arena *a, SrcFile *f, const char *name, const char *text, size_t len, Diag *d)
{
    char *copy = arena_alloc(a, len + 1);
    memcpy(copy, text, len);
    f->name = name;
    f->text = copy;
    f->len = len;
    return json_parse(a, f, d);
}

/* A tree written out parses back, and writes out the same again. */
static void check_roundtrip(const JsonValue *v, Diag *d)
{
    StrBuf once = {0}, twice = {0};
    json_write_value(&once, v);
    Arena a;
    arena_init(&a);
    SrcFile f;
    JsonValue *back = parse(&a, &f, "roundtrip", sb_cstr(&once), once.len, d);
    CHECK(back != NULL);
    json_write_value(&twice, back);
    CHECK(once.len == twice.len && memcmp(once.data, twice.data, once.len) == 0);
    arena_free(&a);
    sb_free(&once);
    sb_free(&twice);
}

/* Any bytes written as a JSON string parse back as one string. */
static void check_string_writer(const uint8_t *data, size_t size, Diag *d)
{
    StrBuf sb = {0};
    json_write_string_n(&sb, (const char *)data, size);
    Arena a;
    arena_init(&a);
    SrcFile f;
    JsonValue *v = parse(&a, &f, "string", sb_cstr(&sb), sb.len, d);
    CHECK(v && v->kind == JSON_STRING);
    CHECK(v->str_len <= 3 * size); /* U+FFFD is 3 bytes per bad byte */
    arena_free(&a);
    sb_free(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Diag *d = quiet_diag();
    Arena a;
    arena_init(&a);
    SrcFile f;
    JsonValue *v = parse(&a, &f, "fuzz.json", (const char *)data, size, d);
    CHECK((v != NULL) == (d->n_errors == 0));
    if (v) {
        check_tree(v, &f, d);
        check_roundtrip(v, d);
    }
    arena_free(&a);
    check_string_writer(data, size, d);
    return 0;
}
