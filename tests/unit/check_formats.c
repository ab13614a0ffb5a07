/* check_formats.c — unit tests of formats/: the JSON parser, getters and
 * writers; the safetensors reader, writer, conversions and StSet.
 * Run from the repository root (the HF fixture is found by relative path). */
#include "formats/formats.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAMBA_DIR "tests/fixtures/hf/tiny/mamba"

/* ---- helpers ------------------------------------------------------------------ */

/* Diagnostics captured in memory. */
typedef struct Cap {
    char *buf;
    size_t len;
    FILE *f;
    Diag d;
} Cap;

static void cap_init(Cap *c)
{
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    ck_assert_ptr_nonnull(c->f);
    diag_init(&c->d, c->f);
    c->d.color = false;
}

static const char *cap_text(Cap *c)
{
    fflush(c->f);
    return c->buf ? c->buf : "";
}

/* The first line of what was printed. */
static char *cap_first_line(Cap *c)
{
    const char *t = cap_text(c);
    size_t n = strcspn(t, "\n");
    char *s = malloc(n + 1);
    memcpy(s, t, n);
    s[n] = 0;
    return s;
}

static void cap_free(Cap *c)
{
    fclose(c->f);
    free(c->buf);
}

typedef struct JsonDoc {
    Arena arena;
    SrcFile file;
    Cap cap;
    JsonValue *root;
} JsonDoc;

/* Parse TEXT (LEN bytes; -1: strlen) as "t.json". */
static JsonValue *doc_parse_n(JsonDoc *doc, const char *text, long len)
{
    arena_init(&doc->arena);
    cap_init(&doc->cap);
    doc->file.name = "t.json";
    doc->file.len = len < 0 ? strlen(text) : (size_t)len;
    char *copy = arena_alloc(&doc->arena, doc->file.len + 1);
    memcpy(copy, text, doc->file.len);
    doc->file.text = copy;
    doc->root = json_parse(&doc->arena, &doc->file, &doc->cap.d);
    return doc->root;
}

static JsonValue *doc_parse(JsonDoc *doc, const char *text) { return doc_parse_n(doc, text, -1); }

static void doc_free(JsonDoc *doc)
{
    cap_free(&doc->cap);
    arena_free(&doc->arena);
}

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* A safetensors image: the length of HEADER, HEADER, then DATA_LEN bytes
 * 0, 1, 2, ... */
static unsigned char *make_st(const char *header, size_t data_len, size_t *len)
{
    size_t n = strlen(header);
    *len = 8 + n + data_len;
    unsigned char *b = malloc(*len);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, header, n);
    for (size_t i = 0; i < data_len; i++) b[8 + n + i] = (unsigned char)i;
    return b;
}

/* Open an in-memory image named "m.safetensors"; returns the first line
 * of the diagnostics ("" when none) in a static buffer. */
static const char *st_mem_error(const char *header, size_t data_len)
{
    static char line[512];
    size_t len;
    unsigned char *b = make_st(header, data_len, &len);
    Cap c;
    cap_init(&c);
    SafeTensors *st = st_open_memory("m.safetensors", b, len, &c.d);
    char *first = cap_first_line(&c);
    snprintf(line, sizeof line, "%s", first);
    free(first);
    if (st) ck_assert_int_eq(c.d.n_errors, 0);
    else ck_assert_int_gt(c.d.n_errors, 0);
    st_close(st);
    cap_free(&c);
    free(b);
    return line;
}

/* ---- JSON: valid input -------------------------------------------------------- */

START_TEST(test_json_basic)
{
    JsonDoc doc;
    const char *text = "{\n"
                       "  \"b\": true, \"a\": [1, -2.5e3, 0],\n"
                       "  \"s\": \"x\\ty\", \"n\": null, \"o\": {}, \"e\": [],\n"
                       "  \"big\": 123456789012345678901234567890, \"neg0\": -0\n"
                       "}\n";
    JsonValue *v = doc_parse(&doc, text);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(v->kind, JSON_OBJECT);
    ck_assert_int_eq(json_len(v), 8);
    /* key order is kept */
    const char *keys[] = {"b", "a", "s", "n", "o", "e", "big", "neg0"};
    for (int i = 0; i < 8; i++) ck_assert_str_eq(json_member(v, i)->key, keys[i]);
    ck_assert_ptr_null(json_member(v, 8));
    ck_assert_ptr_null(json_member(v, -1));

    JsonValue *b = json_get(v, "b");
    ck_assert_int_eq(b->kind, JSON_BOOL);
    ck_assert(b->boolean);
    ck_assert_int_eq(b->loc.line, 2);
    ck_assert_int_eq(b->loc.col, 8);
    ck_assert_int_eq(b->loc.end_col, 11);

    JsonValue *a = json_get(v, "a");
    ck_assert_int_eq(json_len(a), 3);
    ck_assert_int_eq(a->loc.line, 2);
    ck_assert_int_eq(a->loc.col, 19);
    ck_assert(json_at(a, 0)->is_int && json_at(a, 0)->int_fits);
    ck_assert_int_eq(json_at(a, 0)->ival, 1);
    ck_assert_str_eq(json_at(a, 1)->text, "-2.5e3");
    ck_assert(json_at(a, 1)->num == -2500.0);
    ck_assert(!json_at(a, 1)->is_int);
    ck_assert_int_eq(json_at(a, 1)->loc.col, 23);
    ck_assert_ptr_null(json_at(a, 3));
    ck_assert_ptr_null(json_at(v, 0)); /* not an array */

    JsonValue *s = json_get(v, "s");
    ck_assert_str_eq(s->str, "x\ty");
    ck_assert_int_eq(s->loc.line, 3);
    ck_assert_int_eq(s->loc.col, 8);
    ck_assert_int_eq(json_get(v, "n")->kind, JSON_NULL);
    ck_assert_int_eq(json_len(json_get(v, "o")), 0);
    ck_assert_int_eq(json_len(json_get(v, "e")), 0);

    JsonValue *big = json_get(v, "big");
    ck_assert(big->is_int && !big->int_fits);
    ck_assert(big->num > 1.2e29 && big->num < 1.3e29);
    JsonValue *neg0 = json_get(v, "neg0");
    ck_assert(neg0->is_int && neg0->ival == 0 && signbit(neg0->num));

    ck_assert_ptr_null(json_get(v, "missing"));
    ck_assert_ptr_null(json_get(a, "a"));
    ck_assert_int_eq(v->loc.line, 1);
    ck_assert_int_eq(v->loc.end_line, 5);
    ck_assert_int_eq(doc.cap.d.n_errors, 0);
    doc_free(&doc);
}
END_TEST

START_TEST(test_json_scalars_at_top)
{
    static const char *ok[] = {"0", " -0.0 ", "\"\"", "null", "true", "false", "[]", "{}",
                               "1E+2", "1e-2", "\xEF\xBB\xBF{}", "\t\r\n 7 \n"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        JsonDoc doc;
        ck_assert_msg(doc_parse(&doc, ok[i]) != NULL, "rejected: %s", ok[i]);
        doc_free(&doc);
    }
}
END_TEST

/* ---- JSON: invalid input, each with its pinned message and location -------- */

static const struct {
    const char *in;
    const char *msg;
} bad_json[] = {
    {"", "t.json:1:1: error: expected a JSON value, found end of input"},
    {"   \n  ", "t.json:2:3: error: expected a JSON value, found end of input"},
    {"{\"a\":1,}", "t.json:1:8: error: trailing comma before '}'"},
    {"[1,2,]", "t.json:1:6: error: trailing comma before ']'"},
    {"{a:1}", "t.json:1:2: error: object keys must be double-quoted strings"},
    {"{'a':1}", "t.json:1:2: error: strings must use double quotes"},
    {"['a']", "t.json:1:2: error: strings must use double quotes"},
    {"{\"a\" 1}", "t.json:1:6: error: expected ':' after object key, found '1'"},
    {"{\"a\":1 \"b\":2}", "t.json:1:8: error: expected ',' or '}' after object member, found '\"'"},
    {"[1 2]", "t.json:1:4: error: expected ',' or ']' after array element, found '2'"},
    {"[1,\n 2", "t.json:2:3: error: unexpected end of input: '[' at 1:1 is never closed"},
    {"{\"a\":\n{\"b\":1}", "t.json:2:8: error: unexpected end of input: '{' at 1:1 is never closed"},
    {"{,}", "t.json:1:2: error: expected a string key, found ','"},
    {"[,1]", "t.json:1:2: error: expected a JSON value, found ','"},
    {"01", "t.json:1:1: error: leading zeros are not allowed in numbers"},
    {"-01", "t.json:1:1: error: leading zeros are not allowed in numbers"},
    {"1.", "t.json:1:3: error: expected a digit after '.' in number, found end of input"},
    {"1.e5", "t.json:1:3: error: expected a digit after '.' in number, found 'e'"},
    {"1e", "t.json:1:3: error: expected a digit in the exponent, found end of input"},
    {"1e+x", "t.json:1:4: error: expected a digit in the exponent, found 'x'"},
    {"-", "t.json:1:2: error: expected a digit after '-', found end of input"},
    {"-Inf", "t.json:1:2: error: expected a digit after '-', found 'I'"},
    {".5", "t.json:1:1: error: expected a JSON value, found '.'"},
    {"+1", "t.json:1:1: error: expected a JSON value, found '+'"},
    {"1e400", "t.json:1:1: error: number 1e400 is out of range"},
    {"tru", "t.json:1:1: error: unknown literal 'tru' (expected true, false, null or a number)"},
    {"True", "t.json:1:1: error: unknown literal 'True' (JSON writes true)"},
    {"[None]", "t.json:1:2: error: unknown literal 'None' (JSON writes null)"},
    {"nan", "t.json:1:1: error: unknown literal 'nan' (JSON writes NaN)"},
    {"\"abc", "t.json:1:1: error: unterminated string"},
    {"[\"ab\\", "t.json:1:5: error: unterminated string: input ends inside an escape"},
    {"\"a\\qb\"", "t.json:1:3: error: invalid escape '\\q' in string"},
    {"\"\\x41\"", "t.json:1:2: error: invalid escape '\\x' in string"},
    {"\"\\u12G4\"", "t.json:1:2: error: invalid \\u escape: expected 4 hex digits after \\u"},
    {"\"\\u12\"", "t.json:1:2: error: invalid \\u escape: expected 4 hex digits after \\u"},
    {"\"\\uD800\"",
     "t.json:1:2: error: unpaired high surrogate \\uD800 in string (a low surrogate \\uDC00-\\uDFFF must follow)"},
    {"\"\\uD83D\\u0041\"",
     "t.json:1:2: error: unpaired high surrogate \\uD83D in string (a low surrogate \\uDC00-\\uDFFF must follow)"},
    {"\"\\uDE00\"", "t.json:1:2: error: unpaired low surrogate \\uDE00 in string"},
    {"\"a\nb\"", "t.json:1:3: error: control character 0x0a in string (write it as \\n)"},
    {"\"a\tb\"", "t.json:1:3: error: control character 0x09 in string (write it as \\t)"},
    {"\"\x01\"", "t.json:1:2: error: control character 0x01 in string (write it as \\u0001)"},
    {"\"\xC3\"", "t.json:1:2: error: invalid UTF-8 in string (byte 0xc3)"},
    {"\"\xC0\xAF\"", "t.json:1:2: error: invalid UTF-8 in string (byte 0xc0)"},       /* overlong '/' */
    {"\"\xED\xA0\x80\"", "t.json:1:2: error: invalid UTF-8 in string (byte 0xed)"},   /* surrogate */
    {"\"\xF4\x90\x80\x80\"", "t.json:1:2: error: invalid UTF-8 in string (byte 0xf4)"}, /* > U+10FFFF */
    {"\"\xFF\"", "t.json:1:2: error: invalid UTF-8 in string (byte 0xff)"},
    {"\xC3\xA9", "t.json:1:1: error: expected a JSON value, found byte 0xc3"},
    {"{} {}", "t.json:1:4: error: expected end of input after the JSON value, found '{'"},
    {"1 2", "t.json:1:3: error: expected end of input after the JSON value, found '2'"},
    {"// c\n{}", "t.json:1:1: error: comments are not allowed in JSON"},
    {"[1] // c", "t.json:1:5: error: expected end of input after the JSON value, found '/'"},
    {"{\"a\":1,\"b\":2,\"a\":3}", "t.json:1:14: error: duplicate key \"a\" in object"},
};

START_TEST(test_json_invalid)
{
    ck_assert_int_ge((int)(sizeof bad_json / sizeof bad_json[0]), 20);
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        JsonDoc doc;
        JsonValue *v = doc_parse(&doc, bad_json[i].in);
        char *line = cap_first_line(&doc.cap);
        ck_assert_msg(v == NULL, "accepted: %s", bad_json[i].in);
        ck_assert_msg(strcmp(line, bad_json[i].msg) == 0, "input %zu: got\n  %s\nwant\n  %s", i, line,
                      bad_json[i].msg);
        ck_assert_int_eq(doc.cap.d.n_errors, 1);
        free(line);
        doc_free(&doc);
    }
}
END_TEST

START_TEST(test_json_nul_byte)
{
    JsonDoc doc;
    ck_assert_ptr_null(doc_parse_n(&doc, "[1,\0]", 5));
    char *line = cap_first_line(&doc.cap);
    ck_assert_str_eq(line, "t.json:1:4: error: expected a JSON value, found byte 0x00");
    free(line);
    doc_free(&doc);
    ck_assert_ptr_null(doc_parse_n(&doc, "\"a\0\"", 4));
    line = cap_first_line(&doc.cap);
    ck_assert_str_eq(line, "t.json:1:3: error: control character 0x00 in string (write it as \\u0000)");
    free(line);
    doc_free(&doc);
}
END_TEST

START_TEST(test_json_error_display)
{
    /* The full message: location, source line, caret under the offending range. */
    JsonDoc doc;
    ck_assert_ptr_null(doc_parse(&doc, "{\n  \"x\": [1, 2,, 3]\n}"));
    ck_assert_str_eq(cap_text(&doc.cap), "t.json:2:14: error: expected a JSON value, found ','\n"
                                         "    \"x\": [1, 2,, 3]\n"
                                         "               ^\n");
    doc_free(&doc);
    ck_assert_ptr_null(doc_parse(&doc, "{\"k\": \"a\\qb\"}"));
    ck_assert_str_eq(cap_text(&doc.cap), "t.json:1:9: error: invalid escape '\\q' in string\n"
                                         "  {\"k\": \"a\\qb\"}\n"
                                         "          ^~\n");
    doc_free(&doc);
}
END_TEST

START_TEST(test_json_duplicate_note)
{
    JsonDoc doc;
    ck_assert_ptr_null(doc_parse(&doc, "{\n \"x\": 1,\n \"y\": 2,\n \"x\": 3\n}"));
    const char *t = cap_text(&doc.cap);
    ck_assert_ptr_nonnull(strstr(t, "t.json:4:2: error: duplicate key \"x\" in object\n"));
    ck_assert_ptr_nonnull(strstr(t, "t.json:2:2: note: first defined here\n"));
    doc_free(&doc);

    /* Many keys take the hashed path; a key with a control byte is escaped. */
    StrBuf sb = {0};
    sb_putc(&sb, '{');
    for (int i = 0; i < 1000; i++) sb_printf(&sb, "\"k%d\":%d,", i, i);
    sb_puts(&sb, "\"k\\u001b\":0,\"k500\":1}");
    ck_assert_ptr_null(doc_parse(&doc, sb.data));
    char *line = cap_first_line(&doc.cap);
    ck_assert_ptr_nonnull(strstr(line, "error: duplicate key \"k500\" in object"));
    free(line);
    doc_free(&doc);
    sb.len = 0;
    sb_puts(&sb, "{\"\\u001b[31m\":1,\"\\u001b[31m\":2}");
    ck_assert_ptr_null(doc_parse(&doc, sb.data));
    line = cap_first_line(&doc.cap);
    ck_assert_str_eq(line, "t.json:1:17: error: duplicate key \"\\u001b[31m\" in object");
    free(line);
    doc_free(&doc);
    sb_free(&sb);

    /* Keys that differ only after a NUL are different keys. */
    ck_assert_ptr_nonnull(doc_parse(&doc, "{\"a\\u0000b\":1,\"a\\u0000c\":2,\"a\":3}"));
    ck_assert_int_eq(json_member(doc.root, 0)->key_len, 3);
    ck_assert_ptr_eq(json_get(doc.root, "a"), json_member(doc.root, 2)->value);
    doc_free(&doc);
}
END_TEST

START_TEST(test_json_depth)
{
    StrBuf sb = {0};
    for (int i = 0; i < JSON_MAX_DEPTH; i++) sb_putc(&sb, '[');
    for (int i = 0; i < JSON_MAX_DEPTH; i++) sb_putc(&sb, ']');
    JsonDoc doc;
    ck_assert_ptr_nonnull(doc_parse(&doc, sb.data));
    doc_free(&doc);

    sb.len = 0;
    for (int i = 0; i <= JSON_MAX_DEPTH; i++) sb_puts(&sb, "{\"a\":");
    sb_puts(&sb, "1");
    ck_assert_ptr_null(doc_parse(&doc, sb.data));
    char *line = cap_first_line(&doc.cap);
    ck_assert_str_eq(line, "t.json:1:1281: error: nesting is deeper than 256 levels");
    free(line);
    doc_free(&doc);

    /* Far deeper than any stack could recurse: still one error. */
    sb.len = 0;
    for (int i = 0; i < 1000000; i++) sb_putc(&sb, '[');
    ck_assert_ptr_null(doc_parse(&doc, sb.data));
    ck_assert_int_eq(doc.cap.d.n_errors, 1);
    doc_free(&doc);
    sb_free(&sb);
}
END_TEST

START_TEST(test_json_nonfinite)
{
    JsonDoc doc;
    JsonValue *v = doc_parse(&doc, "{\"time_step_limit\": [0.0, Infinity], \"x\": [-Infinity, NaN]}");
    ck_assert_ptr_nonnull(v);
    JsonValue *lim = json_get(v, "time_step_limit");
    ck_assert(json_at(lim, 0)->num == 0.0);
    ck_assert(isinf(json_at(lim, 1)->num) && json_at(lim, 1)->num > 0);
    ck_assert_str_eq(json_at(lim, 1)->text, "Infinity");
    ck_assert(!json_at(lim, 1)->is_int);
    JsonValue *x = json_get(v, "x");
    ck_assert(isinf(json_at(x, 0)->num) && json_at(x, 0)->num < 0);
    ck_assert_str_eq(json_at(x, 0)->text, "-Infinity");
    ck_assert(isnan(json_at(x, 1)->num));
    ck_assert_int_eq(json_at(x, 1)->loc.col, 55);
    ck_assert_int_eq(json_at(x, 1)->loc.end_col, 57);
    double dv;
    ck_assert(json_as_double(json_at(x, 1), &dv, &doc.cap.d) && isnan(dv));
    int64_t iv;
    ck_assert(!json_as_int(json_at(lim, 1), &iv, &doc.cap.d));
    char *line = cap_first_line(&doc.cap);
    ck_assert_str_eq(line, "t.json:1:27: error: expected an integer, got Infinity");
    free(line);
    doc_free(&doc);

    /* Only these spellings. */
    static const char *bad[] = {"infinity", "+Infinity", "-NaN", "Infinityy", "NAN"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(doc_parse(&doc, bad[i]) == NULL, "accepted %s", bad[i]);
        doc_free(&doc);
    }
}
END_TEST

START_TEST(test_json_unicode)
{
    JsonDoc doc;
    JsonValue *v = doc_parse(&doc, "[\"\\u00e9\", \"\\uD83D\\uDE00\", \"a\\u0000b\", \"\xE2\x82\xAC\xF0\x9F\x98\x80\", "
                                   "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u0041\\u20AC\", \"\x7F\"]");
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_at(v, 0)->str, "\xC3\xA9");
    ck_assert_str_eq(json_at(v, 1)->str, "\xF0\x9F\x98\x80");
    ck_assert_uint_eq(json_at(v, 2)->str_len, 3);
    ck_assert(memcmp(json_at(v, 2)->str, "a\0b", 4) == 0);
    ck_assert_str_eq(json_at(v, 3)->str, "\xE2\x82\xAC\xF0\x9F\x98\x80");
    ck_assert_str_eq(json_at(v, 4)->str, "\"\\/\b\f\n\r\t");
    ck_assert_str_eq(json_at(v, 5)->str, "A\xE2\x82\xAC");
    ck_assert_str_eq(json_at(v, 6)->str, "\x7F");
    /* a string with a NUL is refused where a C string is wanted */
    const char *s;
    ck_assert(!json_as_string(json_at(v, 2), &s, &doc.cap.d));
    ck_assert_ptr_nonnull(strstr(cap_text(&doc.cap), "string contains a NUL character (\\u0000)"));
    doc_free(&doc);
}
END_TEST

/* ---- JSON: typed getters ------------------------------------------------------- */

START_TEST(test_json_getters)
{
    JsonDoc doc;
    JsonValue *v = doc_parse(&doc, "{\"hidden_size\": 64, \"eps\": 1e-05, \"act\": \"silu\",\n"
                                   " \"tie\": true, \"win\": null, \"f\": 64.0, \"s\": \"64\",\n"
                                   " \"huge\": 99999999999999999999, \"arr\": [1], \"obj\": {}}");
    ck_assert_ptr_nonnull(v);
    Diag *d = &doc.cap.d;
    int64_t i = 0;
    double x = 0;
    bool b = false;
    const char *s = NULL;
    const JsonValue *jv = NULL;
    ck_assert(json_get_int(v, "hidden_size", &i, d) && i == 64);
    ck_assert(json_get_double(v, "eps", &x, d) && x == 1e-5);
    ck_assert(json_get_double(v, "hidden_size", &x, d) && x == 64.0); /* ints are numbers */
    ck_assert(json_get_string(v, "act", &s, d) && strcmp(s, "silu") == 0);
    ck_assert(json_get_bool(v, "tie", &b, d) && b);
    ck_assert(json_get_array(v, "arr", &jv, d) && json_len(jv) == 1);
    ck_assert(json_get_object(v, "obj", &jv, d) && jv->kind == JSON_OBJECT);
    ck_assert_int_eq(d->n_errors, 0);

    /* optional: absent and null leave the default; present values convert */
    i = 7;
    ck_assert(json_opt_int(v, "absent", &i, d) && i == 7);
    ck_assert(json_opt_int(v, "win", &i, d) && i == 7);
    ck_assert(json_opt_int(v, "hidden_size", &i, d) && i == 64);
    x = 0.5;
    ck_assert(json_opt_double(v, "absent", &x, d) && x == 0.5);
    b = false;
    ck_assert(json_opt_bool(v, "tie", &b, d) && b);
    s = "dflt";
    ck_assert(json_opt_string(v, "win", &s, d) && strcmp(s, "dflt") == 0);
    ck_assert_int_eq(d->n_errors, 0);

    static const struct {
        int which;
        const char *key;
        const char *msg;
    } errs[] = {
        {0, "f", "t.json:2:33: error: 'f' must be an integer, got 64.0"},
        {0, "s", "t.json:2:44: error: 's' must be an integer, got a string"},
        {0, "huge", "t.json:3:10: error: integer 99999999999999999999 is out of range"},
        {0, "hiden_size", "t.json:1:1: error: missing key 'hiden_size' (did you mean 'hidden_size'?)"},
        {0, "zzz", "t.json:1:1: error: missing key 'zzz'"},
        {0, "win", "t.json:2:22: error: 'win' must be an integer, got null"},
        {1, "act", "t.json:1:42: error: 'act' must be a number, got a string"},
        {2, "hidden_size", "t.json:1:17: error: 'hidden_size' must be true or false, got 64"},
        {3, "tie", "t.json:2:9: error: 'tie' must be a string, got a boolean"},
        {4, "obj", "t.json:3:51: error: 'obj' must be an array, got an object"},
        {5, "arr", "t.json:3:39: error: 'arr' must be an object, got an array"},
        {6, "act", "t.json:1:42: error: 'act' must be an integer, got a string"},
        {7, "tie", "t.json:2:9: error: 'tie' must be a string, got a boolean"},
    };
    for (size_t k = 0; k < sizeof errs / sizeof errs[0]; k++) {
        Cap c;
        cap_init(&c);
        bool ok;
        switch (errs[k].which) {
        case 0: ok = json_get_int(v, errs[k].key, &i, &c.d); break;
        case 1: ok = json_get_double(v, errs[k].key, &x, &c.d); break;
        case 2: ok = json_get_bool(v, errs[k].key, &b, &c.d); break;
        case 3: ok = json_get_string(v, errs[k].key, &s, &c.d); break;
        case 4: ok = json_get_array(v, errs[k].key, &jv, &c.d); break;
        case 5: ok = json_get_object(v, errs[k].key, &jv, &c.d); break;
        case 6: ok = json_opt_int(v, errs[k].key, &i, &c.d); break;
        default: ok = json_opt_string(v, errs[k].key, &s, &c.d); break;
        }
        char *line = cap_first_line(&c);
        ck_assert_msg(!ok, "case %zu succeeded", k);
        ck_assert_msg(strcmp(line, errs[k].msg) == 0, "case %zu: got\n  %s\nwant\n  %s", k, line, errs[k].msg);
        free(line);
        cap_free(&c);
    }

    /* json_as_* on elements; a getter on a non-object */
    Cap c;
    cap_init(&c);
    ck_assert(json_as_int(json_at(json_get(v, "arr"), 0), &i, &c.d) && i == 1);
    ck_assert(!json_get_int(json_get(v, "arr"), "x", &i, &c.d));
    ck_assert(!json_as_bool(json_get(v, "s"), &b, &c.d));
    ck_assert_str_eq(cap_text(&c), "t.json:3:39: error: expected an object, got an array\n"
                                   "   \"huge\": 99999999999999999999, \"arr\": [1], \"obj\": {}}\n"
                                   "                                        ^~~\n"
                                   "t.json:2:44: error: expected true or false, got a string\n"
                                   "   \"tie\": true, \"win\": null, \"f\": 64.0, \"s\": \"64\",\n"
                                   "                                             ^~~~\n");
    cap_free(&c);
    doc_free(&doc);
}
END_TEST

START_TEST(test_json_kind_names)
{
    ck_assert_str_eq(json_kind_name(JSON_NULL), "null");
    ck_assert_str_eq(json_kind_name(JSON_BOOL), "a boolean");
    ck_assert_str_eq(json_kind_name(JSON_NUMBER), "a number");
    ck_assert_str_eq(json_kind_name(JSON_STRING), "a string");
    ck_assert_str_eq(json_kind_name(JSON_ARRAY), "an array");
    ck_assert_str_eq(json_kind_name(JSON_OBJECT), "an object");
}
END_TEST

/* ---- JSON: writing ---------------------------------------------------------------- */

START_TEST(test_json_write)
{
    StrBuf sb = {0};
    json_write_string(&sb, "a\"b\\c\n\t\r\b\f\x01\x1f/\x7f\xC3\xA9\xF0\x9F\x98\x80");
    ck_assert_str_eq(sb_cstr(&sb), "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f/\x7f\xC3\xA9\xF0\x9F\x98\x80\"");
    sb.len = 0;
    json_write_string(&sb, "bad\xFF\xC3(\xED\xA0\x80");
    ck_assert_str_eq(sb_cstr(&sb), "\"bad\xEF\xBF\xBD\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
    sb.len = 0;
    json_write_string_n(&sb, "a\0b", 3);
    ck_assert_str_eq(sb_cstr(&sb), "\"a\\u0000b\"");
    sb.len = 0;
    json_write_string(&sb, "");
    ck_assert_str_eq(sb_cstr(&sb), "\"\"");

    sb.len = 0;
    double xs[] = {0.1, 1.0, -2.5, 1e-05, 1e300, INFINITY, -INFINITY, NAN, 123456789.0};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        json_write_double(&sb, xs[i]);
        sb_putc(&sb, ' ');
    }
    ck_assert_str_eq(sb_cstr(&sb), "0.1 1.0 -2.5 1e-05 1e+300 Infinity -Infinity NaN 123456789.0 ");

    /* Every written double parses back to itself. */
    sb.len = 0;
    sb_putc(&sb, '[');
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        if (i) sb_putc(&sb, ',');
        json_write_double(&sb, xs[i]);
    }
    sb_putc(&sb, ']');
    JsonDoc doc;
    JsonValue *v = doc_parse(&doc, sb_cstr(&sb));
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        double y = json_at(v, (int)i)->num;
        ck_assert(isnan(xs[i]) ? isnan(y) : y == xs[i]);
    }
    doc_free(&doc);

    /* A tree writes back compactly, numbers as written, and reparses. */
    const char *text = "{ \"a\" : [ 1 , 2.50 , -Infinity , NaN ] ,\n \"b\\u00e9\" : { \"c\" : null , \"d\" : "
                       "[ true , false , \"\\u0000\\n\" ] } }";
    ck_assert_ptr_nonnull(doc_parse(&doc, text));
    sb.len = 0;
    json_write_value(&sb, doc.root);
    ck_assert_str_eq(sb_cstr(&sb),
                     "{\"a\":[1,2.50,-Infinity,NaN],\"b\xC3\xA9\":{\"c\":null,\"d\":[true,false,\"\\u0000\\n\"]}}");
    doc_free(&doc);
    ck_assert_ptr_nonnull(doc_parse(&doc, sb_cstr(&sb)));
    doc_free(&doc);

    Arena a;
    arena_init(&a);
    ck_assert_str_eq(json_escape(&a, "x\ny\"", 4), "x\\ny\\\"");
    arena_free(&a);
    sb_free(&sb);
}
END_TEST

/* ---- JSON: files ------------------------------------------------------------------- */

START_TEST(test_json_config_fixture)
{
    Arena a;
    arena_init(&a);
    Cap c;
    cap_init(&c);
    JsonValue *cfg = json_parse_file(&a, MAMBA_DIR "/config.json", &c.d);
    ck_assert_ptr_nonnull(cfg);
    int64_t hidden = 0, layers = 0, vocab = 0;
    double eps = 0;
    bool tie = false;
    const char *type = NULL;
    ck_assert(json_get_int(cfg, "hidden_size", &hidden, &c.d) && hidden == 64);
    ck_assert(json_get_int(cfg, "num_hidden_layers", &layers, &c.d) && layers == 4);
    ck_assert(json_get_int(cfg, "vocab_size", &vocab, &c.d) && vocab == 512);
    ck_assert(json_get_double(cfg, "layer_norm_epsilon", &eps, &c.d) && eps == 1e-05);
    ck_assert(json_get_bool(cfg, "tie_word_embeddings", &tie, &c.d) && tie);
    ck_assert(json_get_string(cfg, "model_type", &type, &c.d) && strcmp(type, "mamba") == 0);
    ck_assert_int_eq(c.d.n_errors, 0);
    /* A wrong type names the file and line. */
    ck_assert(!json_get_string(cfg, "hidden_size", &type, &c.d));
    char *line = cap_first_line(&c);
    ck_assert_str_eq(line, MAMBA_DIR "/config.json:7:18: error: 'hidden_size' must be a string, got 64");
    free(line);
    cap_free(&c);

    cap_init(&c);
    ck_assert_ptr_null(json_parse_file(&a, "tests/fixtures/no-such.json", &c.d));
    ck_assert_str_eq(cap_text(&c), "tests/fixtures/no-such.json: error: cannot read: No such file or directory\n");
    cap_free(&c);
    cap_init(&c);
    ck_assert_ptr_null(json_parse_file(&a, "tests/fixtures", &c.d));
    ck_assert_str_eq(cap_text(&c), "tests/fixtures: error: cannot read: Is a directory\n");
    cap_free(&c);
    arena_free(&a);
}
END_TEST

/* ---- safetensors: conversions ------------------------------------------------------ */

START_TEST(test_st_bf16)
{
    ck_assert(st_bf16_to_f32(0x3F80) == 1.0f);
    ck_assert(st_bf16_to_f32(0xC000) == -2.0f);
    ck_assert(st_bf16_to_f32(0x3E80) == 0.25f);
    ck_assert(st_bf16_to_f32(0x4049) == 3.140625f);
    ck_assert(st_bf16_to_f32(0x0000) == 0.0f && !signbit(st_bf16_to_f32(0x0000)));
    ck_assert(st_bf16_to_f32(0x8000) == 0.0f && signbit(st_bf16_to_f32(0x8000)));
    ck_assert(st_bf16_to_f32(0x0001) == 0x1p-133f); /* smallest subnormal */
    ck_assert(st_bf16_to_f32(0x7F7F) == 0x1.FEp127f); /* largest finite */
    ck_assert(isinf(st_bf16_to_f32(0x7F80)) && st_bf16_to_f32(0x7F80) > 0);
    ck_assert(isinf(st_bf16_to_f32(0xFF80)) && st_bf16_to_f32(0xFF80) < 0);
    ck_assert(isnan(st_bf16_to_f32(0x7FC0)));
    ck_assert(isnan(st_bf16_to_f32(0xFF81)));
}
END_TEST

START_TEST(test_st_f16)
{
    ck_assert(st_f16_to_f32(0x3C00) == 1.0f);
    ck_assert(st_f16_to_f32(0xC000) == -2.0f);
    ck_assert(st_f16_to_f32(0x3555) == 0x1.554p-2f); /* 0.333251953125 */
    ck_assert(st_f16_to_f32(0x7BFF) == 65504.0f);    /* largest finite */
    ck_assert(st_f16_to_f32(0x0400) == 0x1p-14f);    /* smallest normal */
    ck_assert(st_f16_to_f32(0x0001) == 0x1p-24f);    /* smallest subnormal */
    ck_assert(st_f16_to_f32(0x03FF) == 1023 * 0x1p-24f);
    ck_assert(st_f16_to_f32(0x8001) == -0x1p-24f);
    ck_assert(st_f16_to_f32(0x0200) == 0x1p-15f);
    ck_assert(st_f16_to_f32(0x0000) == 0.0f && !signbit(st_f16_to_f32(0x0000)));
    ck_assert(st_f16_to_f32(0x8000) == 0.0f && signbit(st_f16_to_f32(0x8000)));
    ck_assert(isinf(st_f16_to_f32(0x7C00)) && st_f16_to_f32(0x7C00) > 0);
    ck_assert(isinf(st_f16_to_f32(0xFC00)) && st_f16_to_f32(0xFC00) < 0);
    ck_assert(isnan(st_f16_to_f32(0x7E00)));
    ck_assert(isnan(st_f16_to_f32(0x7C01)));
    ck_assert(isnan(st_f16_to_f32(0xFE00)));
    /* Every finite half converts exactly: compare with a slow reference. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        uint32_t e = (h >> 10) & 31, m = h & 1023;
        if (e == 31) continue;
        double ref = e ? ldexp(1024 + m, (int)e - 25) : ldexp(m, -24);
        if (h & 0x8000) ref = -ref;
        ck_assert_msg(st_f16_to_f32((uint16_t)h) == (float)ref, "half 0x%04x", h);
    }
}
END_TEST

/* A tensor of DTYPE with the raw little-endian BYTES, read back. */
static SafeTensors *one_tensor(const char *dtype, int n, const void *bytes, size_t nbytes, Cap *c,
                               unsigned char **img)
{
    char header[256];
    snprintf(header, sizeof header, "{\"t\":{\"dtype\":\"%s\",\"shape\":[%d],\"data_offsets\":[0,%zu]}}", dtype,
             n, nbytes);
    size_t len;
    *img = make_st(header, nbytes, &len);
    memcpy(*img + len - nbytes, bytes, nbytes);
    return st_open_memory("m.safetensors", *img, len, &c->d);
}

START_TEST(test_st_read_dtypes)
{
    Cap c;
    cap_init(&c);
    unsigned char *img;
    float f[4];
    int32_t iv[4];

    const unsigned char bf16[] = {0x80, 0x3F, 0x00, 0xC0, 0x80, 0x7F, 0x49, 0x40};
    SafeTensors *st = one_tensor("BF16", 4, bf16, sizeof bf16, &c, &img);
    ck_assert_ptr_nonnull(st);
    const StTensor *t = st_find(st, "t");
    ck_assert(st_read_f32(st, t, f));
    ck_assert(f[0] == 1.0f && f[1] == -2.0f && isinf(f[2]) && f[3] == 3.140625f);
    ck_assert(!st_read_i32(st, t, iv));
    st_close(st);
    free(img);

    const unsigned char f16[] = {0x00, 0x3C, 0x01, 0x00, 0xFF, 0x7B, 0x00, 0x7E};
    st = one_tensor("F16", 4, f16, sizeof f16, &c, &img);
    t = st_tensor(st, 0);
    ck_assert(st_read_f32(st, t, f));
    ck_assert(f[0] == 1.0f && f[1] == 0x1p-24f && f[2] == 65504.0f && isnan(f[3]));
    st_close(st);
    free(img);

    double d64[3] = {0.1, -1e300, 3.0};
    st = one_tensor("F64", 3, d64, sizeof d64, &c, &img); /* host is little-endian */
    ck_assert(st_read_f32(st, st_tensor(st, 0), f));
    ck_assert(f[0] == 0.1f && isinf(f[1]) && f[1] < 0 && f[2] == 3.0f);
    st_close(st);
    free(img);

    int64_t i64[3] = {-5, 2147483647, -2147483648LL};
    st = one_tensor("I64", 3, i64, sizeof i64, &c, &img);
    ck_assert(st_read_i32(st, st_tensor(st, 0), iv));
    ck_assert(iv[0] == -5 && iv[1] == INT32_MAX && iv[2] == INT32_MIN);
    ck_assert(!st_read_f32(st, st_tensor(st, 0), f));
    st_close(st);
    free(img);
    int64_t too_big[2] = {1, 2147483648LL};
    st = one_tensor("I64", 2, too_big, sizeof too_big, &c, &img);
    ck_assert(!st_read_i32(st, st_tensor(st, 0), iv));
    st_close(st);
    free(img);

    const unsigned char small[3] = {0xFF, 0x7F, 0x00};
    st = one_tensor("I8", 3, small, 3, &c, &img);
    ck_assert(st_read_i32(st, st_tensor(st, 0), iv) && iv[0] == -1 && iv[1] == 127 && iv[2] == 0);
    st_close(st);
    free(img);
    st = one_tensor("U8", 3, small, 3, &c, &img);
    ck_assert(st_read_i32(st, st_tensor(st, 0), iv) && iv[0] == 255 && iv[1] == 127);
    st_close(st);
    free(img);
    st = one_tensor("BOOL", 3, small, 3, &c, &img);
    ck_assert(st_read_i32(st, st_tensor(st, 0), iv) && iv[0] == 1 && iv[1] == 1 && iv[2] == 0);
    ck_assert_uint_eq(st_dtype_size(st_tensor(st, 0)->dtype), 1);
    st_close(st);
    free(img);

    ck_assert_int_eq(c.d.n_errors, 0);
    cap_free(&c);

    StDtype dt;
    for (int i = 0; i < ST_DTYPE_COUNT; i++) {
        ck_assert(st_dtype_from_name(st_dtype_name((StDtype)i), &dt));
        ck_assert_int_eq(dt, i);
    }
    ck_assert(!st_dtype_from_name("F8_E4M3", &dt));
    ck_assert(!st_dtype_from_name("f32", &dt));
}
END_TEST

/* ---- safetensors: writer round trip ---------------------------------------------- */

START_TEST(test_st_roundtrip)
{
    float a[6] = {1.5f, -2.0f, 0.0f, 1e-30f, INFINITY, 3.25f};
    int32_t ids[4] = {7, -1, INT32_MAX, INT32_MIN};
    float one = 42.0f;
    int64_t sa[2] = {2, 3}, sids[1] = {4}, sempty[2] = {0, 5};
    StWriteTensor ts[] = {
        {"logits", ST_F32, 2, sa, a},
        {"ids \"quoted\"\n", ST_I32, 1, sids, ids},
        {"scalar", ST_F32, 0, NULL, &one},
        {"empty", ST_F32, 2, sempty, NULL},
    };
    Cap c;
    cap_init(&c);
    const char *path = tmp_path("rt.safetensors");
    ck_assert(st_write(path, ts, 4, &c.d));
    SafeTensors *st = st_open(path, &c.d);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(c.d.n_errors, 0);
    ck_assert_str_eq(st_path(st), path);
    ck_assert_int_eq(st_count(st), 4);
    for (int i = 0; i < 4; i++) ck_assert_str_eq(st_tensor(st, i)->name, ts[i].name);
    ck_assert_ptr_null(st_tensor(st, 4));
    ck_assert_ptr_null(st_find(st, "nope"));
    ck_assert_ptr_null(st_metadata_object(st));
    ck_assert_ptr_null(st_metadata(st, "format"));

    const StTensor *t = st_find(st, "logits");
    ck_assert_int_eq(t->dtype, ST_F32);
    ck_assert_int_eq(t->ndim, 2);
    ck_assert(t->shape[0] == 2 && t->shape[1] == 3 && t->numel == 6);
    ck_assert_ptr_eq(t->file, st);
    float f[6];
    ck_assert(st_read_f32(st, t, f));
    ck_assert(memcmp(f, a, sizeof a) == 0);

    t = st_find(st, "ids \"quoted\"\n");
    int32_t iv[4];
    ck_assert(st_read_i32(st, t, iv));
    ck_assert(memcmp(iv, ids, sizeof ids) == 0);

    t = st_find(st, "scalar");
    ck_assert_int_eq(t->ndim, 0);
    ck_assert_int_eq(t->numel, 1);
    ck_assert(st_read_f32(st, t, f) && f[0] == 42.0f);

    t = st_find(st, "empty");
    ck_assert_int_eq(t->numel, 0);
    ck_assert(t->begin == t->end);
    st_close(st);

    /* the header is padded so that the data starts 8-aligned */
    size_t len;
    char *raw = read_file(path, &len);
    uint64_t n = 0;
    memcpy(&n, raw, 8);
    ck_assert_uint_eq(n % 8, 0);
    ck_assert_uint_eq(len, 8 + n + sizeof a + sizeof ids + 4);
    ck_assert(strncmp(raw + 8, "{\"logits\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}", 60) == 0);
    free(raw);

    /* writing no tensors gives a valid empty file */
    ck_assert(st_write(path, NULL, 0, &c.d));
    st = st_open(path, &c.d);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(st_count(st), 0);
    st_close(st);
    ck_assert_int_eq(c.d.n_errors, 0);
    cap_free(&c);
}
END_TEST

START_TEST(test_st_write_errors)
{
    static float x = 1;
    static int64_t s1[1] = {1}, sneg[1] = {-1};
    static const struct {
        StWriteTensor t[2];
        int n;
        const char *msg;
    } cases[] = {
        {{{"a", ST_F32, 1, s1, &x}, {"a", ST_F32, 1, s1, &x}}, 2, "tensor 'a' is written twice"},
        {{{"a", ST_BF16, 1, s1, &x}}, 1, "tensor 'a': cannot write dtype BF16 (only F32 and I32)"},
        {{{"a", ST_F32, 1, sneg, &x}}, 1, "tensor 'a': invalid shape (dimension 0 is -1)"},
        {{{"", ST_F32, 1, s1, &x}}, 1, "tensor 0: invalid name ''"},
        {{{"__metadata__", ST_F32, 1, s1, &x}}, 1, "tensor 0: invalid name '__metadata__'"},
        {{{"a", ST_F32, 1, s1, NULL}}, 1, "tensor 'a': no data"},
    };
    const char *path = tmp_path("bad.safetensors");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Cap c;
        cap_init(&c);
        ck_assert(!st_write(path, cases[i].t, cases[i].n, &c.d));
        char *line = cap_first_line(&c);
        char want[256];
        snprintf(want, sizeof want, "%s: error: %s", path, cases[i].msg);
        ck_assert_str_eq(line, want);
        free(line);
        cap_free(&c);
        ck_assert(access(path, F_OK) != 0); /* nothing written */
    }
    Cap c;
    cap_init(&c);
    StWriteTensor ok = {"a", ST_F32, 1, s1, &x};
    ck_assert(!st_write("/nonexistent-dir/x.safetensors", &ok, 1, &c.d));
    ck_assert_str_eq(cap_text(&c), "/nonexistent-dir/x.safetensors: error: cannot write: No such file or directory\n");
    cap_free(&c);
}
END_TEST

/* ---- safetensors: validation --------------------------------------------------- */

#define E(hdr) "{\"x.weight\":" hdr "}"
static const struct {
    const char *header;
    size_t data_len;
    const char *msg;
} bad_st[] = {
    {"[]", 0, "m.safetensors: error: the JSON header must be an object, got an array"},
    {"\"x\"", 0, "m.safetensors: error: the JSON header must be an object, got a string"},
    {E("{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}"), 2,
     "m.safetensors: error: tensor 'x.weight': unsupported dtype \"F8_E4M3\" (hyc reads F64, F32, F16, BF16, I64, "
     "I32, I8, U8, BOOL)"},
    {E("{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}"), 8,
     "m.safetensors: error: tensor 'x.weight': unsupported dtype \"f32\" (hyc reads F64, F32, F16, BF16, I64, I32, "
     "I8, U8, BOOL)"},
    {E("{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}"), 8,
     "m.safetensors: error: tensor 'x.weight': dtype must be a string, got 32"},
    {E("{\"shape\":[2],\"data_offsets\":[0,8]}"), 8, "m.safetensors: error: tensor 'x.weight': missing \"dtype\""},
    {E("{\"dtype\":\"F32\",\"data_offsets\":[0,8]}"), 8,
     "m.safetensors: error: tensor 'x.weight': missing \"shape\""},
    {E("{\"dtype\":\"F32\",\"shape\":[2]}"), 8, "m.safetensors: error: tensor 'x.weight': missing \"data_offsets\""},
    {E("[1]"), 8,
     "m.safetensors: error: tensor 'x.weight': expected an object with dtype, shape and data_offsets, got an array"},
    {E("{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}"), 8,
     "m.safetensors: error: tensor 'x.weight': shape must be an array of non-negative integers, got 2"},
    {E("{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}"), 8,
     "m.safetensors: error: tensor 'x.weight': shape[1] must be a non-negative integer, got -1"},
    {E("{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}"), 8,
     "m.safetensors: error: tensor 'x.weight': shape[0] must be a non-negative integer, got 2.0"},
    {E("{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}"), 8,
     "m.safetensors: error: tensor 'x.weight': shape[0] must be a non-negative integer, got \"2\""},
    {E("{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}"), 8,
     "m.safetensors: error: tensor 'x.weight': shape [4294967296, 4294967296] has too many elements"},
    {E("{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,8]}"), 8,
     "m.safetensors: error: tensor 'x.weight': shape [2305843009213693952] has too many elements"},
    {E("{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}"), 24,
     "m.safetensors: error: tensor 'x.weight': shape [2, 3] of F32 takes 24 bytes, but data_offsets [0, 20] hold 20"},
    {E("{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[0,4]}"), 4,
     "m.safetensors: error: tensor 'x.weight': shape [] of BF16 takes 2 bytes, but data_offsets [0, 4] hold 4"},
    {E("{\"dtype\":\"F32\",\"shape\":[20],\"data_offsets\":[10,90]}"), 64,
     "m.safetensors: error: tensor 'x.weight': data_offsets [10, 90] extend past the end of the file (the data area "
     "holds 64 bytes)"},
    {E("{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[65,65]}"), 64,
     "m.safetensors: error: tensor 'x.weight': data_offsets [65, 65] extend past the end of the file (the data area "
     "holds 64 bytes)"},
    {E("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}"), 8,
     "m.safetensors: error: tensor 'x.weight': data_offsets [8, 4] end before they begin"},
    {E("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}"), 8,
     "m.safetensors: error: tensor 'x.weight': data_offsets must be [begin, end] with non-negative integers, got [0]"},
    {E("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}"), 8,
     "m.safetensors: error: tensor 'x.weight': data_offsets must be [begin, end] with non-negative integers, got "
     "[-4,0]"},
    {E("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,1e1]}"), 8,
     "m.safetensors: error: tensor 'x.weight': data_offsets must be [begin, end] with non-negative integers, got "
     "[0,1e1]"},
    {E("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551620]}"), 8,
     "m.safetensors: error: tensor 'x.weight': data_offsets must be [begin, end] with non-negative integers, got "
     "[0,18446744073709551620]"},
    {E("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{}}"), 8,
     "m.safetensors: error: tensor 'x.weight': data_offsets must be [begin, end] with non-negative integers, got {}"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     12, "m.safetensors: error: tensors 'a' (data_offsets [0, 8]) and 'b' (data_offsets [4, 12]) overlap"},
    {"{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},"
     "\"a\":{\"dtype\":\"U8\",\"shape\":[10],\"data_offsets\":[0,10]}}",
     12, "m.safetensors: error: tensors 'a' (data_offsets [0, 10]) and 'b' (data_offsets [2, 4]) overlap"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
     "\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}",
     8, "m.safetensors:1:54: error: duplicate key \"a\" in object"},
    {"{\"__metadata__\":{\"format\":1}}", 0,
     "m.safetensors: error: \"__metadata__\" entry \"format\" must be a string, got 1"},
    {"{\"__metadata__\":{\"a\\u0000b\":\"\"}}", 0,
     "m.safetensors: error: \"__metadata__\" entry \"a\\u0000b\" contains a NUL character"},
    {"{\"__metadata__\":{\"k\":\"v\\u0000\"}}", 0,
     "m.safetensors: error: \"__metadata__\" entry \"k\" contains a NUL character"},
    {"{\"__metadata__\":[]}", 0, "m.safetensors: error: \"__metadata__\" must be an object of strings, got an array"},
    {"{\"x\\u0000y\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0,
     "m.safetensors: error: tensor 'x': name contains a NUL character"},
    {"{\"\\u001b[2J\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2,
     "m.safetensors: error: tensor '\\u001b[2J': shape [1] of U8 takes 1 bytes, but data_offsets [0, 2] hold 2"},
    {"{\"a\":1", 0, "m.safetensors:1:7: error: unexpected end of input: '{' at 1:1 is never closed"},
    {"", 0, "m.safetensors:1:1: error: expected a JSON value, found end of input"},
};
#undef E

START_TEST(test_st_invalid)
{
    for (size_t i = 0; i < sizeof bad_st / sizeof bad_st[0]; i++) {
        const char *line = st_mem_error(bad_st[i].header, bad_st[i].data_len);
        ck_assert_msg(strcmp(line, bad_st[i].msg) == 0, "case %zu: got\n  %s\nwant\n  %s", i, line, bad_st[i].msg);
    }
}
END_TEST

START_TEST(test_st_valid_edge_cases)
{
    /* zero-size tensors anywhere, touching tensors, metadata, trailing
     * padding spaces, other fields in an entry, bytes past the last tensor */
    const char *h = "{\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\"},"
                    "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
                    "\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4],\"extra\":1},"
                    "\"b\":{\"dtype\":\"U8\",\"shape\":[2,2],\"data_offsets\":[4,8]},"
                    "\"z2\":{\"dtype\":\"F64\",\"shape\":[0],\"data_offsets\":[8,8]}}   ";
    size_t len;
    unsigned char *img = make_st(h, 10, &len);
    Cap c;
    cap_init(&c);
    SafeTensors *st = st_open_memory("m.safetensors", img, len, &c.d);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(st_count(st), 4);
    ck_assert_str_eq(st_metadata(st, "format"), "pt");
    ck_assert_str_eq(st_metadata(st, "k"), "v");
    ck_assert_ptr_null(st_metadata(st, "x"));
    ck_assert_int_eq(json_len(st_metadata_object(st)), 2);
    const StTensor *b = st_find(st, "b");
    ck_assert_int_eq(b->numel, 4);
    ck_assert_int_eq(((const unsigned char *)b->data)[0], 4);
    int32_t iv[4];
    ck_assert(st_read_i32(st, b, iv) && iv[3] == 7);
    ck_assert_int_eq(st_find(st, "z")->numel, 0);
    ck_assert_int_eq(c.d.n_errors, 0);
    st_close(st);
    free(img);
    cap_free(&c);
}
END_TEST

START_TEST(test_st_header_length)
{
    unsigned char img[64] = {0};
    Cap c;

    /* too short to hold the length */
    cap_init(&c);
    ck_assert_ptr_null(st_open_memory("m.safetensors", img, 5, &c.d));
    ck_assert_str_eq(cap_text(&c),
                     "m.safetensors: error: file is too short to be safetensors (5 bytes; the header length alone "
                     "takes 8)\n");
    cap_free(&c);

    /* length past the end of the file */
    img[0] = 100;
    cap_init(&c);
    ck_assert_ptr_null(st_open_memory("m.safetensors", img, 50, &c.d));
    ck_assert_str_eq(cap_text(&c),
                     "m.safetensors: error: header length 100 extends past the end of the file (size 50)\n");
    cap_free(&c);

    /* absurd length (a file of another format, say) */
    memset(img, 0xFF, 8);
    cap_init(&c);
    ck_assert_ptr_null(st_open_memory("m.safetensors", img, 64, &c.d));
    ck_assert_str_eq(cap_text(&c), "m.safetensors: error: header length 18446744073709551615 is over the limit of "
                                   "100000000 bytes (not a safetensors file?)\n");
    cap_free(&c);
    memset(img, 0, 8);
    img[0] = 0x01;
    img[3] = 0x10; /* 268435457 */
    cap_init(&c);
    ck_assert_ptr_null(st_open_memory("m.safetensors", img, 64, &c.d));
    ck_assert_ptr_nonnull(strstr(cap_text(&c), "header length 268435457 is over the limit"));
    cap_free(&c);

    /* a JSON error in the header is followed by a note saying where it is */
    memset(img, 0, sizeof img);
    img[0] = 3;
    memcpy(img + 8, "{x}", 3);
    cap_init(&c);
    ck_assert_ptr_null(st_open_memory("m.safetensors", img, 11, &c.d));
    ck_assert_str_eq(cap_text(&c), "m.safetensors:1:2: error: object keys must be double-quoted strings\n"
                                   "  {x}\n"
                                   "   ^\n"
                                   "m.safetensors: note: in the JSON header (3 bytes from byte 8 of the file)\n");
    cap_free(&c);
}
END_TEST

START_TEST(test_st_truncated_files)
{
    float a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int64_t s[1] = {8};
    StWriteTensor t = {"w", ST_F32, 1, s, a};
    Cap c;
    cap_init(&c);
    const char *path = tmp_path("full.safetensors");
    ck_assert(st_write(path, &t, 1, &c.d));
    size_t len;
    char *raw = read_file(path, &len);
    cap_free(&c);
    uint64_t n = 0;
    memcpy(&n, raw, 8);

    const char *cut = tmp_path("cut.safetensors");
    static const char *want_prefix[] = {
        "error: file is too short to be safetensors (0 bytes",
        "error: file is too short to be safetensors (7 bytes",
        "error: header length",
        "error: expected",
        "error: tensor 'w': data_offsets [0, 32] extend past the end of the file (the data area holds 0 bytes)",
        "error: tensor 'w': data_offsets [0, 32] extend past the end of the file (the data area holds 31 bytes)",
    };
    size_t lens[] = {0, 7, 8 + (size_t)n - 1, 8 + (size_t)n / 2, 8 + (size_t)n, len - 1};
    /* a cut in the middle of the header: the JSON is unterminated */
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        write_bytes(cut, raw, lens[i]);
        if (i == 3) { /* rewrite the length so that the cut header is "complete" */
            FILE *f = fopen(cut, "r+b");
            unsigned char l8[8] = {(unsigned char)(n / 2)};
            fwrite(l8, 1, 8, f);
            fclose(f);
        }
        cap_init(&c);
        ck_assert_ptr_null(st_open(cut, &c.d));
        char want[256];
        snprintf(want, sizeof want, "%s: %s", cut, want_prefix[i]);
        const char *got = cap_text(&c);
        if (i == 3) snprintf(want, sizeof want, "%s:1:", cut); /* a JSON error, with a location */
        ck_assert_msg(strncmp(got, want, strlen(want)) == 0, "cut %zu: got\n%swant prefix\n%s", i, got, want);
        cap_free(&c);
    }
    free(raw);

    /* not a file */
    cap_init(&c);
    ck_assert_ptr_null(st_open(tmpdir, &c.d));
    ck_assert_ptr_nonnull(strstr(cap_text(&c), ": error: cannot open: not a regular file"));
    cap_free(&c);
    cap_init(&c);
    ck_assert_ptr_null(st_open("tests/fixtures/none.safetensors", &c.d));
    ck_assert_str_eq(cap_text(&c), "tests/fixtures/none.safetensors: error: cannot open: No such file or directory\n");
    cap_free(&c);
}
END_TEST

/* ---- safetensors: the HF fixture ------------------------------------------------- */

static double sum_f32(const float *x, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    return s;
}

START_TEST(test_st_fixture_model)
{
    Cap c;
    cap_init(&c);
    SafeTensors *st = st_open(MAMBA_DIR "/model.safetensors", &c.d);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(st_count(st), 43);
    ck_assert_str_eq(st_metadata(st, "format"), "pt");
    ck_assert_str_eq(st_tensor(st, 0)->name, "backbone.embeddings.weight");
    ck_assert_str_eq(st_tensor(st, 42)->name, "lm_head.weight");
    for (int i = 0; i < st_count(st); i++) {
        ck_assert_int_eq(st_tensor(st, i)->dtype, ST_BF16);
        ck_assert_ptr_eq(st_find(st, st_tensor(st, i)->name), st_tensor(st, i));
    }

    const StTensor *emb = st_find(st, "backbone.embeddings.weight");
    ck_assert_int_eq(emb->ndim, 2);
    ck_assert(emb->shape[0] == 512 && emb->shape[1] == 64 && emb->numel == 32768);
    float *w = malloc(sizeof *w * (size_t)emb->numel);
    ck_assert(st_read_f32(st, emb, w));
    ck_assert(w[0] == 0.88671875f && w[1] == -0.47265625f && w[2] == 1.78125f && w[3] == -0.011962890625f);
    ck_assert(w[32767] == -0.80859375f);
    ck_assert(fabs(sum_f32(w, emb->numel) - 337.5340223312378) < 1e-9);
    free(w);

    const StTensor *conv = st_find(st, "backbone.layers.0.mixer.conv1d.weight");
    ck_assert(conv->ndim == 3 && conv->shape[0] == 128 && conv->shape[1] == 1 && conv->shape[2] == 4);
    const StTensor *D = st_find(st, "backbone.layers.0.mixer.D");
    float dv[128];
    ck_assert(st_read_f32(st, D, dv));
    ck_assert(dv[0] == 0.8515625f && dv[127] == 0.7890625f);
    ck_assert(fabs(sum_f32(dv, 128) - 137.286865234375) < 1e-9);
    ck_assert_int_eq(c.d.n_errors, 0);
    st_close(st);
    cap_free(&c);
}
END_TEST

START_TEST(test_st_fixture_golden)
{
    Cap c;
    cap_init(&c);
    SafeTensors *st = st_open(MAMBA_DIR "/golden.safetensors", &c.d);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(st_count(st), 4);
    const StTensor *ids = st_find(st, "input_ids_a");
    ck_assert_int_eq(ids->dtype, ST_I32);
    ck_assert_int_eq(ids->numel, 37);
    int32_t iv[37];
    ck_assert(st_read_i32(st, ids, iv));
    ck_assert(iv[0] == 69 && iv[1] == 78 && iv[2] == 208 && iv[36] == 173);
    const StTensor *lg = st_find(st, "logits_a");
    ck_assert(lg->dtype == ST_F32 && lg->ndim == 2 && lg->shape[0] == 37 && lg->shape[1] == 512);
    float *l = malloc(sizeof *l * (size_t)lg->numel);
    ck_assert(st_read_f32(st, lg, l));
    ck_assert(l[0] == 16.169633865356445f && l[lg->numel - 1] == -5.758291244506836f);
    ck_assert(fabs(sum_f32(l, lg->numel) - 2308.4689955010253) < 1e-6);
    free(l);
    st_close(st);
    cap_free(&c);
}
END_TEST

/* ---- StSet -------------------------------------------------------------------------- */

START_TEST(test_st_set_single)
{
    Cap c;
    cap_init(&c);
    StSet *s = st_set_open(MAMBA_DIR, &c.d);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(st_set_file_count(s), 1);
    ck_assert_int_eq(st_set_count(s), 43);
    ck_assert_str_eq(st_path(st_set_file(s, 0)), MAMBA_DIR "/model.safetensors");
    const StTensor *t = st_set_find(s, "lm_head.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_eq(t->file, st_set_file(s, 0));
    ck_assert_ptr_eq(st_set_tensor(s, 42), t);
    ck_assert_ptr_null(st_set_tensor(s, 43));
    ck_assert_ptr_null(st_set_find(s, "nope"));
    st_set_close(s);

    /* a file path works too */
    s = st_set_open(MAMBA_DIR "/golden.safetensors", &c.d);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(st_set_count(s), 4);
    st_set_close(s);
    ck_assert_int_eq(c.d.n_errors, 0);
    cap_free(&c);
}
END_TEST

/* A sharded checkpoint in DIR: shard 1 holds a, b; shard 2 holds c. */
static void make_shards(const char *dir, const char *index_json)
{
    mkdir(dir, 0755);
    float x[2] = {1, 2}, y[3] = {3, 4, 5};
    int64_t s2[1] = {2}, s3[1] = {3};
    StWriteTensor s1t[2] = {{"a", ST_F32, 1, s2, x}, {"b", ST_F32, 1, s3, y}};
    StWriteTensor s2t[1] = {{"c", ST_F32, 1, s3, y}};
    char p[512];
    Cap c;
    cap_init(&c);
    snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", dir);
    ck_assert(st_write(p, s1t, 2, &c.d));
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", dir);
    ck_assert(st_write(p, s2t, 1, &c.d));
    cap_free(&c);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    write_bytes(p, index_json, strlen(index_json));
}

START_TEST(test_st_set_sharded)
{
    const char *dir = tmp_path("sharded");
    make_shards(dir, "{\"metadata\": {\"total_size\": 32},\n"
                     " \"weight_map\": {\"c\": \"model-00002-of-00002.safetensors\",\n"
                     "  \"a\": \"model-00001-of-00002.safetensors\",\n"
                     "  \"b\": \"model-00001-of-00002.safetensors\"}}\n");
    Cap c;
    cap_init(&c);
    StSet *s = st_set_open(dir, &c.d);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(c.d.n_errors, 0);
    ck_assert_int_eq(st_set_file_count(s), 2);
    ck_assert_int_eq(st_set_count(s), 3);
    /* files in name order, tensors in header order */
    ck_assert_str_eq(st_set_tensor(s, 0)->name, "a");
    ck_assert_str_eq(st_set_tensor(s, 1)->name, "b");
    ck_assert_str_eq(st_set_tensor(s, 2)->name, "c");
    const StTensor *t = st_set_find(s, "c");
    ck_assert_ptr_eq(t->file, st_set_file(s, 1));
    float f[3];
    ck_assert(st_read_f32(t->file, t, f) && f[0] == 3 && f[2] == 5);
    ck_assert_ptr_eq(st_set_find(s, "a")->file, st_set_file(s, 0));
    st_set_close(s);

    /* the index file itself names the same checkpoint (what `hyc import`
     * writes into a sharded model's weights block) */
    char index[1024];
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    s = st_set_open(index, &c.d);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(c.d.n_errors, 0);
    ck_assert_int_eq(st_set_file_count(s), 2);
    ck_assert_int_eq(st_set_count(s), 3);
    st_set_close(s);
    cap_free(&c);
}
END_TEST

START_TEST(test_st_set_errors)
{
    Cap c;
    char want[512];

    /* a mapped tensor that is not in its shard */
    const char *dir = tmp_path("shard-missing");
    make_shards(dir, "{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\",\n"
                     "  \"c\": \"model-00001-of-00002.safetensors\"}}");
    cap_init(&c);
    ck_assert_ptr_null(st_set_open(dir, &c.d));
    char *line = cap_first_line(&c);
    snprintf(want, sizeof want,
             "%s/model.safetensors.index.json:2:3: error: tensor 'c' is mapped to "
             "model-00001-of-00002.safetensors, which does not contain it",
             dir);
    ck_assert_str_eq(line, want);
    free(line);
    cap_free(&c);

    /* a shard outside the directory */
    dir = tmp_path("shard-escape");
    make_shards(dir, "{\"weight_map\": {\"a\": \"../x.safetensors\"}}");
    cap_init(&c);
    ck_assert_ptr_null(st_set_open(dir, &c.d));
    line = cap_first_line(&c);
    snprintf(want, sizeof want,
             "%s/model.safetensors.index.json:1:22: error: shard \"../x.safetensors\" must be a file name in the "
             "same directory",
             dir);
    ck_assert_str_eq(line, want);
    free(line);
    cap_free(&c);

    /* a shard that does not exist */
    dir = tmp_path("shard-absent");
    make_shards(dir, "{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", \"z\": \"gone.safetensors\"}}");
    cap_init(&c);
    ck_assert_ptr_null(st_set_open(dir, &c.d));
    line = cap_first_line(&c);
    snprintf(want, sizeof want, "%s/gone.safetensors: error: cannot open: No such file or directory", dir);
    ck_assert_str_eq(line, want);
    free(line);
    cap_free(&c);

    /* no weight_map */
    dir = tmp_path("shard-nomap");
    make_shards(dir, "{\"weightmap\": {}}");
    cap_init(&c);
    ck_assert_ptr_null(st_set_open(dir, &c.d));
    line = cap_first_line(&c);
    snprintf(want, sizeof want,
             "%s/model.safetensors.index.json:1:1: error: missing key 'weight_map' (did you mean 'weightmap'?)", dir);
    ck_assert_str_eq(line, want);
    free(line);
    cap_free(&c);

    /* the same tensor in two shards */
    dir = tmp_path("shard-dup");
    make_shards(dir, "{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", \"c\": "
                     "\"model-00002-of-00002.safetensors\"}}");
    {
        char p[512];
        float x[2] = {1, 2};
        int64_t s2[1] = {2};
        StWriteTensor dup[2] = {{"c", ST_F32, 1, s2, x}, {"a", ST_F32, 1, s2, x}};
        snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", dir);
        cap_init(&c);
        ck_assert(st_write(p, dup, 2, &c.d));
        cap_free(&c);
    }
    cap_init(&c);
    ck_assert_ptr_null(st_set_open(dir, &c.d));
    line = cap_first_line(&c);
    snprintf(want, sizeof want, "%s/model-00002-of-00002.safetensors: error: tensor 'a' is also in "
             "%s/model-00001-of-00002.safetensors", dir, dir);
    ck_assert_str_eq(line, want);
    free(line);
    cap_free(&c);

    /* an empty directory; a missing path */
    dir = tmp_path("empty");
    mkdir(dir, 0755);
    cap_init(&c);
    ck_assert_ptr_null(st_set_open(dir, &c.d));
    snprintf(want, sizeof want, "%s: error: no model.safetensors or model.safetensors.index.json in this directory\n",
             dir);
    ck_assert_str_eq(cap_text(&c), want);
    cap_free(&c);
    cap_init(&c);
    ck_assert_ptr_null(st_set_open("tests/fixtures/nowhere", &c.d));
    ck_assert_str_eq(cap_text(&c), "tests/fixtures/nowhere: error: cannot open: No such file or directory\n");
    cap_free(&c);
}
END_TEST

/* ---- runner -------------------------------------------------------------------------- */

static Suite *formats_suite(void)
{
    Suite *s = suite_create("formats");
    TCase *tj = tcase_create("json");
    tcase_add_test(tj, test_json_basic);
    tcase_add_test(tj, test_json_scalars_at_top);
    tcase_add_test(tj, test_json_invalid);
    tcase_add_test(tj, test_json_nul_byte);
    tcase_add_test(tj, test_json_error_display);
    tcase_add_test(tj, test_json_duplicate_note);
    tcase_add_test(tj, test_json_depth);
    tcase_add_test(tj, test_json_nonfinite);
    tcase_add_test(tj, test_json_unicode);
    tcase_add_test(tj, test_json_getters);
    tcase_add_test(tj, test_json_kind_names);
    tcase_add_test(tj, test_json_write);
    tcase_add_test(tj, test_json_config_fixture);
    suite_add_tcase(s, tj);

    TCase *ts = tcase_create("safetensors");
    tcase_set_timeout(ts, 60);
    tcase_add_test(ts, test_st_bf16);
    tcase_add_test(ts, test_st_f16);
    tcase_add_test(ts, test_st_read_dtypes);
    tcase_add_test(ts, test_st_roundtrip);
    tcase_add_test(ts, test_st_write_errors);
    tcase_add_test(ts, test_st_invalid);
    tcase_add_test(ts, test_st_valid_edge_cases);
    tcase_add_test(ts, test_st_header_length);
    tcase_add_test(ts, test_st_truncated_files);
    tcase_add_test(ts, test_st_fixture_model);
    tcase_add_test(ts, test_st_fixture_golden);
    tcase_add_test(ts, test_st_set_single);
    tcase_add_test(ts, test_st_set_sharded);
    tcase_add_test(ts, test_st_set_errors);
    suite_add_tcase(s, ts);
    return s;
}

/* Remove the scratch directory (two levels: files and shard folders). */
static void rm_tree(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "check_formats: could not remove %s\n", dir);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/check_formats.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    SRunner *sr = srunner_create(formats_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    rm_tree(tmpdir);
    return failed ? 1 : 0;
}
