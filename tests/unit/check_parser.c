/* check_parser.c — unit tests of the .hyb scanner, parser and formatter
 * (frontend/lexer.l, parser.y, parse.c, fmt.c) through parse_source() and
 * fmt_file() on strings.
 *
 * Each test parses a small text into a fresh arena; diagnostics go to a
 * memory stream so that tests can count errors and look at their text.
 */
#include "frontend/frontend.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixture ---------------------------------------------------------------- */

typedef struct Parsed {
    Arena arena;
    Interner in;
    Diag diag;
    FILE *diag_out;
    char *diag_text; /* what diag printed, after parsed_messages() */
    size_t diag_len;
    AstFile *file;   /* NULL if parse_source reported errors */
} Parsed;

static Parsed P;

static void parsed_free(void)
{
    if (P.diag_out) fclose(P.diag_out);
    free(P.diag_text);
    intern_free(&P.in);
    arena_free(&P.arena);
    memset(&P, 0, sizeof P);
}

/* Parse `len` bytes (which may hold NULs) named "t.hyb". */
static AstFile *parse_n(const char *text, size_t len)
{
    parsed_free();
    arena_init(&P.arena);
    intern_init(&P.in, &P.arena);
    P.diag_out = open_memstream(&P.diag_text, &P.diag_len);
    ck_assert_ptr_nonnull(P.diag_out);
    diag_init(&P.diag, P.diag_out);
    P.diag.color = false;
    SrcFile *src = ARENA_NEW(&P.arena, SrcFile);
    src->name = "t.hyb";
    char *copy = arena_alloc(&P.arena, len + 1);
    memcpy(copy, text, len);
    src->text = copy;
    src->len = len;
    P.file = parse_source(src, &P.arena, &P.in, &P.diag);
    fflush(P.diag_out);
    return P.file;
}

static AstFile *parse(const char *text)
{
    return parse_n(text, strlen(text));
}

/* Everything the diagnostics engine printed so far. */
static const char *messages(void)
{
    fflush(P.diag_out);
    return P.diag_text ? P.diag_text : "";
}

static void teardown(void)
{
    parsed_free();
}

/* Parse text that must be valid. */
static AstFile *parse_ok(const char *text)
{
    AstFile *f = parse(text);
    if (!f) ck_abort_msg("unexpected errors for:\n%s\n---\n%s", text, messages());
    ck_assert_int_eq(P.diag.n_errors, 0);
    return f;
}

/* Parse text that must fail with exactly `n` errors. */
static void parse_bad(const char *text, int n)
{
    AstFile *f = parse(text);
    ck_assert_msg(f == NULL, "parse_source accepted:\n%s", text);
    ck_assert_msg(P.diag.n_errors == n, "expected %d errors, got %d for:\n%s\n---\n%s", n, P.diag.n_errors, text,
                  messages());
}

static const AstNode *item(const AstList *l, int i)
{
    ck_assert_int_lt(i, l->len);
    return l->data[i];
}

/* The formatted text of a parsed file, in the arena. */
static const char *format(const AstFile *f)
{
    StrBuf sb = {0};
    fmt_file(&sb, f);
    char *s = arena_strdup(&P.arena, sb_cstr(&sb));
    sb_free(&sb);
    return s;
}

/* fmt(text), and check that fmt(fmt(text)) is the same text.  The result lives
 * in a heap buffer the caller frees. */
static char *format_idempotent(const char *text)
{
    AstFile *f = parse(text);
    if (!f) ck_abort_msg("unexpected errors for:\n%s\n---\n%s", text, messages());
    char *once = strdup(format(f));
    AstFile *g = parse(once);
    if (!g) ck_abort_msg("fmt output does not parse:\n%s\n---\n%s", once, messages());
    const char *twice = format(g);
    ck_assert_msg(strcmp(once, twice) == 0, "fmt is not idempotent:\n--- once\n%s--- twice\n%s", once, twice);
    return once;
}

static void assert_fmt(const char *in, const char *want)
{
    char *got = format_idempotent(in);
    ck_assert_msg(strcmp(got, want) == 0, "fmt of:\n%s\n--- want\n%s--- got\n%s", in, want, got);
    free(got);
}

/* ---- AST shapes ------------------------------------------------------------- */

START_TEST(test_empty_inputs)
{
    AstFile *f = parse_ok("");
    ck_assert_int_eq(f->items.len, 0);
    ck_assert_int_eq(f->n_comments, 0);
    f = parse_ok("  \n\t\r\n");
    ck_assert_int_eq(f->items.len, 0);
    f = parse_ok("# only a comment");
    ck_assert_int_eq(f->items.len, 0);
    ck_assert_int_eq(f->n_comments, 1);
}
END_TEST

START_TEST(test_block_and_settings)
{
    AstFile *f = parse_ok("model m {\n"
                          "  d_model = 64\n"
                          "  layer attn {\n"
                          "    mlp { hidden = 128 }\n"
                          "  }\n"
                          "  stack {}\n"
                          "}\n");
    ck_assert_int_eq(f->items.len, 1);
    const AstNode *m = item(&f->items, 0);
    ck_assert_int_eq(m->kind, AST_BLOCK);
    ck_assert_str_eq(m->name, "model");
    ck_assert_str_eq(m->label, "m");
    ck_assert(!m->key_quoted);
    ck_assert_int_eq(m->items.len, 3);

    const AstNode *s = item(&m->items, 0);
    ck_assert_int_eq(s->kind, AST_SETTING);
    ck_assert_str_eq(s->name, "d_model");
    ck_assert_int_eq(s->value->kind, AST_INT);
    ck_assert_int_eq(s->value->ival, 64);

    const AstNode *layer = item(&m->items, 1);
    ck_assert_int_eq(layer->kind, AST_BLOCK);
    ck_assert_str_eq(layer->name, "layer");
    ck_assert_str_eq(layer->label, "attn");
    const AstNode *mlp = item(&layer->items, 0);
    ck_assert_str_eq(mlp->name, "mlp");
    ck_assert_ptr_null(mlp->label);
    ck_assert_int_eq(mlp->items.len, 1);
    ck_assert_str_eq(item(&mlp->items, 0)->name, "hidden");

    const AstNode *stack = item(&m->items, 2);
    ck_assert_str_eq(stack->name, "stack");
    ck_assert_int_eq(stack->items.len, 0);
}
END_TEST

START_TEST(test_names_interned)
{
    AstFile *f = parse_ok("a { x = y }\nb { x = y }\n");
    const AstNode *s1 = item(&item(&f->items, 0)->items, 0);
    const AstNode *s2 = item(&item(&f->items, 1)->items, 0);
    ck_assert_ptr_eq(s1->name, s2->name);
    ck_assert_ptr_eq(s1->value->name, s2->value->name);
    ck_assert_ptr_eq(s1->name, intern(&P.in, "x"));
}
END_TEST

START_TEST(test_value_kinds)
{
    AstFile *f = parse_ok("i = 7\n"
                          "f = 0.5\n"
                          "s = \"str\"\n"
                          "n = swiglu\n"
                          "t = true\n"
                          "l = [1, two, \"3\"]\n"
                          "c = rmsnorm(eps = 1e-6, 2)\n");
    ck_assert_int_eq(f->items.len, 7);
    ck_assert_int_eq(item(&f->items, 0)->value->kind, AST_INT);
    ck_assert_int_eq(item(&f->items, 1)->value->kind, AST_FLOAT);
    ck_assert_int_eq(item(&f->items, 2)->value->kind, AST_STRING);
    ck_assert_str_eq(item(&f->items, 2)->value->sval, "str");
    ck_assert_int_eq(item(&f->items, 3)->value->kind, AST_IDENT);
    ck_assert_str_eq(item(&f->items, 3)->value->name, "swiglu");
    /* true/false are identifiers; sema gives them meaning. */
    ck_assert_int_eq(item(&f->items, 4)->value->kind, AST_IDENT);
    ck_assert_str_eq(item(&f->items, 4)->value->name, "true");

    const AstNode *l = item(&f->items, 5)->value;
    ck_assert_int_eq(l->kind, AST_LIST);
    ck_assert_int_eq(l->items.len, 3);
    ck_assert_int_eq(item(&l->items, 0)->kind, AST_INT);
    ck_assert_int_eq(item(&l->items, 1)->kind, AST_IDENT);
    ck_assert_int_eq(item(&l->items, 2)->kind, AST_STRING);

    const AstNode *c = item(&f->items, 6)->value;
    ck_assert_int_eq(c->kind, AST_CALL);
    ck_assert_str_eq(c->name, "rmsnorm");
    ck_assert_int_eq(c->items.len, 2);
    const AstNode *named = item(&c->items, 0);
    ck_assert_int_eq(named->kind, AST_SETTING);
    ck_assert_str_eq(named->name, "eps");
    ck_assert_int_eq(named->value->kind, AST_FLOAT);
    ck_assert_int_eq(item(&c->items, 1)->kind, AST_INT);

    ck_assert_str_eq(ast_value_desc(l), "a list");
    ck_assert_str_eq(ast_value_desc(c), "a call");
    ck_assert_str_eq(ast_kind_name(AST_SETTING), "setting");
}
END_TEST

START_TEST(test_lists_and_calls)
{
    AstFile *f = parse_ok("a = []\n"
                          "b = [1,]\n"
                          "c = [[1, 2], [], [[3]]]\n"
                          "d = f()\n"
                          "e = f(1,)\n"
                          "g = f(x = [1, 2], y = h(z = -1))\n"
                          "h = [f(1), g(k = 2)]\n");
    ck_assert_int_eq(item(&f->items, 0)->value->items.len, 0);
    ck_assert_int_eq(item(&f->items, 1)->value->items.len, 1);
    const AstNode *c = item(&f->items, 2)->value;
    ck_assert_int_eq(c->items.len, 3);
    ck_assert_int_eq(item(&c->items, 0)->items.len, 2);
    ck_assert_int_eq(item(&c->items, 1)->items.len, 0);
    ck_assert_int_eq(item(&item(&c->items, 2)->items, 0)->kind, AST_LIST);
    ck_assert_int_eq(item(&f->items, 3)->value->items.len, 0);
    ck_assert_int_eq(item(&f->items, 4)->value->items.len, 1);
    const AstNode *g = item(&f->items, 5)->value;
    ck_assert_int_eq(g->items.len, 2);
    const AstNode *y = item(&g->items, 1);
    ck_assert_str_eq(y->name, "y");
    ck_assert_int_eq(y->value->kind, AST_CALL);
    const AstNode *z = item(&y->value->items, 0);
    ck_assert_str_eq(z->name, "z");
    ck_assert_int_eq(z->value->ival, -1);
    ck_assert_int_eq(item(&item(&f->items, 6)->value->items, 1)->kind, AST_CALL);
}
END_TEST

START_TEST(test_semicolons)
{
    AstFile *f = parse_ok("a = 1; b = 2;\nblk { c = 3; };\nd = 4");
    ck_assert_int_eq(f->items.len, 4);
    ck_assert_int_eq(item(&item(&f->items, 2)->items, 0)->value->ival, 3);
}
END_TEST

/* ---- locations ---------------------------------------------------------------- */

START_TEST(test_locations)
{
    AstFile *f = parse_ok("# c\n"
                          "model m {\n"
                          "  d_model = 64\n"
                          "  layer \"x y\" {\n"
                          "    mlp {}\n"
                          "  }\n"
                          "}\n");
    const AstNode *m = item(&f->items, 0);
    ck_assert_int_eq(m->loc.line, 2);
    ck_assert_int_eq(m->loc.col, 1);
    ck_assert_int_eq(m->loc.end_line, 7);
    ck_assert_int_eq(m->loc.end_col, 1);
    ck_assert_int_eq(m->name_loc.line, 2);
    ck_assert_int_eq(m->name_loc.col, 1);
    ck_assert_int_eq(m->name_loc.end_col, 5);
    ck_assert_int_eq(m->label_loc.line, 2);
    ck_assert_int_eq(m->label_loc.col, 7);

    const AstNode *s = item(&m->items, 0);
    ck_assert_int_eq(s->loc.line, 3);
    ck_assert_int_eq(s->loc.col, 3);
    ck_assert_int_eq(s->loc.end_col, 14);
    ck_assert_int_eq(s->name_loc.col, 3);
    ck_assert_int_eq(s->name_loc.end_col, 9);
    ck_assert_int_eq(s->value->loc.line, 3);
    ck_assert_int_eq(s->value->loc.col, 13);
    ck_assert_int_eq(s->value->loc.end_col, 14);

    const AstNode *layer = item(&m->items, 1);
    ck_assert_int_eq(layer->loc.line, 4);
    ck_assert_int_eq(layer->loc.end_line, 6);
    ck_assert_int_eq(layer->label_loc.col, 9);
    ck_assert_int_eq(layer->label_loc.end_col, 13); /* the quotes included */
    const AstNode *mlp = item(&layer->items, 0);
    ck_assert_int_eq(mlp->loc.line, 5);
    ck_assert_int_eq(mlp->loc.col, 5);
    ck_assert_int_eq(mlp->loc.end_col, 10);
}
END_TEST

START_TEST(test_locations_tabs_and_crlf)
{
    /* Columns count bytes: a tab is one column. CR is whitespace. */
    AstFile *f = parse_ok("a {\r\n\tx = 1\r\n}\r\n");
    const AstNode *x = item(&item(&f->items, 0)->items, 0);
    ck_assert_int_eq(x->loc.line, 2);
    ck_assert_int_eq(x->loc.col, 2);
    ck_assert_int_eq(x->value->loc.col, 6);
}
END_TEST

START_TEST(test_location_multiline_values)
{
    AstFile *f = parse_ok("x = [\n  1,\n  2,\n]\ny = f(\n  a = 1\n)\n");
    const AstNode *x = item(&f->items, 0);
    ck_assert_int_eq(x->loc.line, 1);
    ck_assert_int_eq(x->loc.end_line, 4);
    ck_assert_int_eq(item(&x->value->items, 1)->loc.line, 3);
    ck_assert_int_eq(item(&x->value->items, 1)->loc.col, 3);
    const AstNode *y = item(&f->items, 1);
    ck_assert_int_eq(y->value->loc.line, 5);
    ck_assert_int_eq(y->value->loc.end_line, 7);
    ck_assert_int_eq(y->value->name_loc.col, 5);
}
END_TEST

/* ---- comments ----------------------------------------------------------------- */

START_TEST(test_comments_own_line_and_trailing)
{
    AstFile *f = parse_ok("# head\n"
                          "a {  # after brace\n"
                          "  # inside\n"
                          "  x = 1  # after x   \n"
                          "}  #after close\n"
                          "#\n"
                          "   # indented\n");
    ck_assert_int_eq(f->n_comments, 7);
    const AstComment *c = f->comments;
    ck_assert_int_eq(c[0].line, 1);
    ck_assert(c[0].own_line);
    ck_assert_str_eq(c[0].text, " head");
    ck_assert_int_eq(c[1].line, 2);
    ck_assert(!c[1].own_line);
    ck_assert_str_eq(c[1].text, " after brace");
    ck_assert(c[2].own_line);
    ck_assert_str_eq(c[2].text, " inside");
    ck_assert(!c[3].own_line);
    ck_assert_str_eq(c[3].text, " after x"); /* trailing blanks dropped */
    ck_assert(!c[4].own_line);
    ck_assert_str_eq(c[4].text, "after close");
    ck_assert(c[5].own_line);
    ck_assert_str_eq(c[5].text, "");
    ck_assert(c[6].own_line);
    ck_assert_int_eq(c[6].line, 7);
    ck_assert_str_eq(c[6].text, " indented");
    /* Comments are not items. */
    ck_assert_int_eq(f->items.len, 1);
    ck_assert_int_eq(item(&f->items, 0)->items.len, 1);
}
END_TEST

START_TEST(test_comment_characters)
{
    /* '#' inside a string is not a comment; UTF-8 is fine in comments. */
    AstFile *f = parse_ok("s = \"a # b\"  # caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x99\x82\n");
    ck_assert_str_eq(item(&f->items, 0)->value->sval, "a # b");
    ck_assert_int_eq(f->n_comments, 1);
    ck_assert_str_eq(f->comments[0].text, " caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x99\x82");
}
END_TEST

/* ---- numbers ------------------------------------------------------------------ */

START_TEST(test_number_texts)
{
    static const struct {
        const char *src, *text;
        AstKind kind;
        double val;
    } cases[] = {
        {"0", "0", AST_INT, 0},
        {"007", "007", AST_INT, 7},
        {"9007199254740992", "9007199254740992", AST_INT, 9007199254740992.0},
        {"1e-6", "1e-6", AST_FLOAT, 1e-6},
        {"1E+5", "1E+5", AST_FLOAT, 1e5},
        {"1.", "1.", AST_FLOAT, 1.0},
        {".5", ".5", AST_FLOAT, 0.5},
        {"0.5e3", "0.5e3", AST_FLOAT, 500.0},
        {"1e11", "1e11", AST_FLOAT, 1e11},
        {"2.50", "2.50", AST_FLOAT, 2.5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "x = %s\n", cases[i].src);
        AstFile *f = parse_ok(buf);
        const AstNode *v = item(&f->items, 0)->value;
        ck_assert_int_eq(v->kind, cases[i].kind);
        ck_assert_str_eq(v->text, cases[i].text);
        ck_assert(!v->negative);
        ck_assert_double_eq(v->fval, cases[i].val);
        if (v->kind == AST_INT) ck_assert_int_eq(v->ival, (int64_t)cases[i].val);
    }
}
END_TEST

START_TEST(test_negative_numbers)
{
    AstFile *f = parse_ok("a = -5\nb = - 2.5e-1\nc = [-1, -0]\nd = -9007199254740992\n");
    const AstNode *a = item(&f->items, 0)->value;
    ck_assert_int_eq(a->kind, AST_INT);
    ck_assert(a->negative);
    ck_assert_int_eq(a->ival, -5);
    ck_assert_str_eq(a->text, "5"); /* the text is the digits; fmt adds '-' */
    ck_assert_int_eq(a->loc.col, 5); /* the node spans the '-' */
    ck_assert_int_eq(a->loc.end_col, 6);
    const AstNode *b = item(&f->items, 1)->value;
    ck_assert_int_eq(b->kind, AST_FLOAT);
    ck_assert(b->negative);
    ck_assert_double_eq(b->fval, -0.25);
    ck_assert_int_eq(b->loc.col, 5);
    ck_assert_int_eq(b->loc.end_col, 12);
    const AstNode *c = item(&f->items, 2)->value;
    ck_assert_int_eq(item(&c->items, 0)->ival, -1);
    ck_assert(item(&c->items, 1)->negative);
    ck_assert_int_eq(item(&f->items, 3)->value->ival, -INT64_C(9007199254740992));
}
END_TEST

START_TEST(test_number_errors)
{
    parse_bad("x = 9007199254740993\n", 1);
    ck_assert_ptr_nonnull(strstr(messages(), "t.hyb:1:5: error: integer '9007199254740993' is too large"));
    parse_bad("x = 99999999999999999999999\n", 1);
    parse_bad("x = 1e999\n", 1);
    ck_assert_ptr_nonnull(strstr(messages(), "number '1e999' is out of range"));
    parse_bad("x = 12abc\n", 1);
    ck_assert_ptr_nonnull(strstr(messages(), "t.hyb:1:5: error: invalid number '12abc'"));
    parse_bad("x = 0x10\n", 1);
    parse_bad("x = 1e\n", 1);
    parse_bad("x = -abc\n", 1);
    ck_assert_ptr_nonnull(strstr(messages(), "unexpected name, expected a number"));
    parse_bad("x = --1\n", 1);
    /* Underflow to a denormal or zero is not an error; overflow is. */
    parse_ok("x = 1e-320\n");
}
END_TEST

/* ---- strings and keys ---------------------------------------------------------- */

START_TEST(test_string_escapes)
{
    AstFile *f = parse_ok("s = \"q\\\" b\\\\ n\\n t\\t\"\n"
                          "e = \"\"\n"
                          "u = \"caf\xc3\xa9\"\n");
    ck_assert_str_eq(item(&f->items, 0)->value->sval, "q\" b\\ n\n t\t");
    ck_assert_str_eq(item(&f->items, 1)->value->sval, "");
    ck_assert_str_eq(item(&f->items, 2)->value->sval, "caf\xc3\xa9");
}
END_TEST

START_TEST(test_string_errors)
{
    parse_bad("s = \"a\\qb\"\n", 1);
    ck_assert_ptr_nonnull(strstr(messages(), "t.hyb:1:7: error: unknown escape '\\q' in string"));
    parse_bad("s = \"abc\n", 1);
    ck_assert_ptr_nonnull(strstr(messages(), "t.hyb:1:5: error: unterminated string"));
    parse_bad("s = \"a\nb\"\n", 2); /* both halves are unterminated */
    parse_bad("s = \"caf\xff\"\n", 1);
    ck_assert_ptr_nonnull(strstr(messages(), "t.hyb:1:9: error: invalid UTF-8 byte 0xFF in string"));
    parse_bad("s = \"a\\\xc3\xa9\"\n", 1);
    ck_assert_ptr_nonnull(strstr(messages(), "unknown escape '\\\xc3\xa9' in string"));
}
END_TEST

START_TEST(test_quoted_keys_and_labels)
{
    AstFile *f = parse_ok("\"*\" = attn\n"
                          "\"plain\" = 1\n"
                          "symbols \"a b\" { \"-\" = ffn }\n"
                          "place x {}\n");
    const AstNode *a = item(&f->items, 0);
    ck_assert_str_eq(a->name, "*");
    ck_assert(a->key_quoted);
    ck_assert_ptr_eq(a->name, intern(&P.in, "*"));
    const AstNode *b = item(&f->items, 1);
    ck_assert_str_eq(b->name, "plain");
    ck_assert(b->key_quoted); /* kept quoted by fmt */
    const AstNode *s = item(&f->items, 2);
    ck_assert_str_eq(s->label, "a b");
    ck_assert(s->key_quoted);
    ck_assert_str_eq(item(&s->items, 0)->name, "-");
    const AstNode *p = item(&f->items, 3);
    ck_assert_str_eq(p->label, "x");
    ck_assert(!p->key_quoted);
}
END_TEST

START_TEST(test_long_tokens)
{
    char *buf = malloc(PARSE_MAX_TOKEN + 64);
    /* A name of exactly the limit is fine; one more byte is an error. */
    memset(buf, 'n', PARSE_MAX_TOKEN);
    strcpy(buf + PARSE_MAX_TOKEN, " = 1\n");
    parse_ok(buf);
    memset(buf, 'n', PARSE_MAX_TOKEN + 1);
    strcpy(buf + PARSE_MAX_TOKEN + 1, " = 1\n");
    parse_bad(buf, 1);
    ck_assert_ptr_nonnull(strstr(messages(), "name longer than 4096 bytes"));
    /* A string token of PARSE_MAX_TOKEN bytes includes its quotes. */
    strcpy(buf, "s = \"");
    memset(buf + 5, 's', PARSE_MAX_TOKEN - 2);
    strcpy(buf + 5 + PARSE_MAX_TOKEN - 2, "\"\n");
    parse_ok(buf);
    strcpy(buf, "s = \"");
    memset(buf + 5, 's', PARSE_MAX_TOKEN);
    strcpy(buf + 5 + PARSE_MAX_TOKEN, "\"\n");
    parse_bad(buf, 1);
    free(buf);
}
END_TEST

/* ---- bad bytes ------------------------------------------------------------------ */

START_TEST(test_bad_bytes)
{
    parse_bad("x = @\n", 1);
    ck_assert_ptr_nonnull(strstr(messages(), "t.hyb:1:5: error: unexpected character '@'"));
    parse_bad("x = 1\x01\n", 1);
    ck_assert_ptr_nonnull(strstr(messages(), "unexpected character '\\x01'"));
    parse_n("x = 1 \0\n", 8);
    ck_assert_int_eq(P.diag.n_errors, 1);
    ck_assert_ptr_nonnull(strstr(messages(), "t.hyb:1:7: error: NUL byte in source"));
    parse_n("s = \"a\0b\"\n", 10);
    ck_assert_int_eq(P.diag.n_errors, 1);
    ck_assert_ptr_nonnull(strstr(messages(), "t.hyb:1:7: error: NUL byte in string"));
    parse_n("x = 1 # a\0b c d\n", 16);
    ck_assert_int_eq(P.diag.n_errors, 1);
    ck_assert_ptr_nonnull(strstr(messages(), "t.hyb:1:10: error: NUL byte in comment"));
    parse_bad("x = \xff\n", 1);
    ck_assert_ptr_nonnull(strstr(messages(), "invalid UTF-8 byte 0xFF"));
    /* An invalid byte in a comment: the rest of the comment is not code. */
    parse_bad("x = 1  # caf\xe9 = 2 {\n", 1);
    ck_assert_ptr_nonnull(strstr(messages(), "t.hyb:1:13: error: invalid UTF-8 byte 0xE9 in comment"));
    /* Overlong encodings and surrogates are invalid UTF-8. */
    parse_bad("# \xc0\xaf\n", 1);
    parse_bad("# \xed\xa0\x80\n", 1);
    parse_bad("# \xf4\x90\x80\x80\n", 1);
    parse_bad("# \xe2\x82\n", 1); /* truncated */
    /* Valid UTF-8 outside comments and strings: one error per character. */
    parse_bad("x = caf\xc3\xa9\n", 1);
    ck_assert_ptr_nonnull(strstr(messages(), "non-ASCII character '\xc3\xa9' outside a comment or string"));
}
END_TEST

/* ---- syntax errors ----------------------------------------------------------------- */

START_TEST(test_syntax_errors)
{
    parse_bad("a {\n  x 1\n}\n", 1);
    ck_assert_ptr_nonnull(strstr(messages(), "t.hyb:2:5: error: unexpected integer, expected '='"));
    parse_bad("a {\n  x =\n}\n", 1);
    ck_assert_ptr_nonnull(strstr(messages(), "t.hyb:3:1: error: unexpected '}', expected a value"));
    parse_bad("a {}\n}\n", 1);
    ck_assert_ptr_nonnull(strstr(messages(), "t.hyb:2:1: error: unexpected '}', expected end of file"));
    parse_bad("x = [1,, 2]\n", 1);
    parse_bad("x = [1 2]\n", 1);
    parse_bad("x = f(a = , 2)\n", 1);
    parse_bad("x = (1)\n", 1);
    parse_bad("= 1\n", 1);
    parse_bad("1 = 1\n", 1);
    parse_bad("a b c {}\n", 1);
    parse_bad("x = 1;;\n", 1);
}
END_TEST

START_TEST(test_unclosed_block_note)
{
    parse_bad("model m {\n  layer a {\n    x = 1\n", 1);
    const char *m = messages();
    ck_assert_ptr_nonnull(strstr(m, "error: unexpected end of file"));
    ck_assert_ptr_nonnull(strstr(m, "t.hyb:2:11: note: this '{' (after 'a') is never closed"));
}
END_TEST

START_TEST(test_error_recovery)
{
    /* Errors in separate blocks are all reported. */
    parse_bad("a {\n  b {\n    x 1\n  }\n  c {\n    y = = 2\n  }\n}\n", 2);
    /* Lexical errors keep coming after the parser gives up. */
    parse_bad("x = 1e999\ny = 9007199254740993\nz = 3q\n", 3);
    /* No more than max_errors are printed; all are counted. */
    StrBuf sb = {0};
    for (int i = 0; i < 30; i++) sb_printf(&sb, "x%d = 1e999\n", i);
    parse_bad(sb_cstr(&sb), 30);
    ck_assert_ptr_nonnull(strstr(messages(), "too many errors"));
    sb_free(&sb);
}
END_TEST

/* ---- nesting limit ------------------------------------------------------------------ */

static char *nested(int depth, const char *open, const char *close, const char *prefix)
{
    StrBuf sb = {0};
    sb_puts(&sb, prefix);
    for (int i = 0; i < depth; i++) sb_puts(&sb, open);
    for (int i = 0; i < depth; i++) sb_puts(&sb, close);
    sb_putc(&sb, '\n');
    char *s = strdup(sb_cstr(&sb));
    sb_free(&sb);
    return s;
}

START_TEST(test_depth_limit)
{
    char *s;
    s = nested(PARSE_MAX_DEPTH, "b {", "}", "");
    parse_ok(s);
    free(s);
    s = nested(PARSE_MAX_DEPTH + 1, "b {", "}", "");
    parse_bad(s, 1);
    ck_assert_ptr_nonnull(strstr(messages(), "nesting deeper than 64 levels"));
    free(s);
    s = nested(PARSE_MAX_DEPTH, "[", "]", "x = ");
    parse_ok(s);
    free(s);
    s = nested(PARSE_MAX_DEPTH + 1, "[", "]", "x = ");
    parse_bad(s, 1);
    free(s);
    /* Far past the limit: still one error and no stack trouble. */
    s = nested(100000, "f(", ")", "x = ");
    parse_bad(s, 1);
    free(s);
    /* Blocks, lists and calls count together: 63 blocks hold one more level. */
    StrBuf sb = {0};
    for (int i = 0; i < PARSE_MAX_DEPTH - 1; i++) sb_puts(&sb, "b {");
    sb_puts(&sb, "x = [1]");
    for (int i = 0; i < PARSE_MAX_DEPTH - 1; i++) sb_putc(&sb, '}');
    parse_ok(sb_cstr(&sb));
    sb.len = 0;
    for (int i = 0; i < PARSE_MAX_DEPTH - 1; i++) sb_puts(&sb, "b {");
    sb_puts(&sb, "x = f([1])");
    for (int i = 0; i < PARSE_MAX_DEPTH - 1; i++) sb_putc(&sb, '}');
    parse_bad(sb_cstr(&sb), 1);
    sb_free(&sb);
}
END_TEST

/* ---- formatter ------------------------------------------------------------------ */

START_TEST(test_fmt_canonical)
{
    assert_fmt("model m{d_model=64;vocab=512 layer a{mlp{hidden=128}}}",
               "model m {\n"
               "  d_model = 64\n"
               "  vocab = 512\n"
               "  layer a {\n"
               "    mlp {\n"
               "      hidden = 128\n"
               "    }\n"
               "  }\n"
               "}\n");
    assert_fmt("", "");
    assert_fmt("a { }\nb {\n\n}\n", "a {}\nb {}\n");
    assert_fmt("x = [ 1 ,2,3, ]\ny = f( a=1 , 2 , )\nz = []\nw = g()\n",
               "x = [1, 2, 3]\ny = f(a = 1, 2)\nz = []\nw = g()\n");
    assert_fmt("n = - 5\nm = -1.50e-3\nk = 007\nj = .5\ni = 1.\n",
               "n = -5\nm = -1.50e-3\nk = 007\nj = .5\ni = 1.\n");
}
END_TEST

START_TEST(test_fmt_quoting)
{
    assert_fmt("\"*\" = a\n\"-\" = b\n\"ok\" = c\nplain = \"s\"\n",
               "\"*\" = a\n\"-\" = b\n\"ok\" = c\nplain = \"s\"\n");
    assert_fmt("s = \"q\\\" b\\\\ n\\n t\\t\"\n", "s = \"q\\\" b\\\\ n\\n t\\t\"\n");
    assert_fmt("layer \"my layer\" {}\nlayer \"x\" {}\n", "layer \"my layer\" {}\nlayer \"x\" {}\n");
    assert_fmt("\"\" = \"\"\n", "\"\" = \"\"\n");
}
END_TEST

START_TEST(test_fmt_comments)
{
    assert_fmt("# a\n\n\n# b\nx = 1 # t\n\n\n\ny = 2\n# end\n",
               "# a\n\n# b\nx = 1  # t\n\ny = 2\n# end\n");
    assert_fmt("a {  # open\n  # in\n  x = 1\n  # before close\n}  # close\n",
               "a {  # open\n  # in\n  x = 1\n  # before close\n}  # close\n");
    /* A block holding only a comment keeps its braces on two lines. */
    assert_fmt("a {\n# only\n}\n", "a {\n  # only\n}\n");
    /* A blank line right after '{' is dropped. */
    assert_fmt("a {\n\n  x = 1\n}\n", "a {\n  x = 1\n}\n");
    assert_fmt("# only\n", "# only\n");
    /* A comment inside a list moves after its setting, with no blank line
     * invented after it. */
    assert_fmt("g = [1, # c\n  2]\nh {}\n", "g = [1, 2]\n# c\nh {}\n");
}
END_TEST

/* Inputs where comments sit in odd places: fmt may move them, but the result
 * must parse, mean the same and be stable. */
START_TEST(test_fmt_idempotent_tricky)
{
    static const char *inputs[] = {
        "x # c\n= 1\n",
        "x = [1, # c\n 2]\ny = 3\n",
        "a { x = [1, # c\n 2] }\n",
        "a { # c1\n} # c2\n",
        "a {} # c\nb {}\n",
        "a { b { c { } } } # deep\n",
        "a = 1 b = 2 # both on one line\n",
        "a { x = 1 } b { y = 2 } # two blocks\n",
        "a\n{\n#c\n}\n",
        "a # c\n{\n}\n",
        "a \"l\" # c\n{ x = 1 }\n",
        "x = f(\n  a = 1, # c\n  b = 2\n)\n",
        "x = - # c\n 5\n",
        "\n\n\n# lead\n\n\nx = 1\n\n\n",
        "a {\n  x = 1\n\n\n  # c\n\n  y = 2\n\n}\n",
        "a {\n  b {\n  }\n  # after b\n}\n",
        "s = \"tab\there \\\" # not a comment\"\n",
        "x = 1\r\n# crlf\r\ny = 2\r\n",
        "#\n#\n#\n",
        "a { }  # empty with comment\n",
        "a {\n  # c1\n  # c2\n}\n# c3\n",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        char *once = format_idempotent(inputs[i]);
        /* Same number of items and comments before and after. */
        AstFile *f = parse(inputs[i]);
        int items = f->items.len, comments = f->n_comments;
        AstFile *g = parse(once);
        ck_assert_ptr_nonnull(g);
        ck_assert_int_eq(g->items.len, items);
        ck_assert_int_eq(g->n_comments, comments);
        free(once);
    }
}
END_TEST

/* fmt keeps the meaning: the same tree, node for node. */
static void assert_same_tree(const AstNode *a, const AstNode *b)
{
    ck_assert_int_eq(a->kind, b->kind);
    ck_assert(a->name == b->name || (a->name && b->name && strcmp(a->name, b->name) == 0));
    ck_assert(a->label == b->label || (a->label && b->label && strcmp(a->label, b->label) == 0));
    switch (a->kind) {
    case AST_INT:
        ck_assert_int_eq(a->ival, b->ival);
        ck_assert_str_eq(a->text, b->text);
        break;
    case AST_FLOAT:
        ck_assert_double_eq(a->fval, b->fval);
        ck_assert_str_eq(a->text, b->text);
        break;
    case AST_STRING: ck_assert_str_eq(a->sval, b->sval); break;
    case AST_SETTING: assert_same_tree(a->value, b->value); break;
    default: break;
    }
    ck_assert_int_eq(a->negative, b->negative);
    ck_assert_int_eq(a->items.len, b->items.len);
    for (int i = 0; i < a->items.len; i++) assert_same_tree(a->items.data[i], b->items.data[i]);
}

START_TEST(test_fmt_same_tree)
{
    const char *src = "model m { d_model = 64 \"*\" = x layer \"a b\" { mlp { hidden = 1 act = f(k = -2, [1., .5e1]) } }\n"
                      "s = \"e\\n\\t\\\"\" }\n";
    AstFile *f = parse_ok(src);
    /* Keep f alive: parse into a second state by copying the formatted text. */
    char *once = strdup(format(f));
    Arena keep;
    Interner in;
    Diag d;
    arena_init(&keep);
    intern_init(&in, &keep);
    diag_init(&d, stderr);
    SrcFile *s1 = src_from_string("a.hyb", src, &keep);
    SrcFile *s2 = src_from_string("b.hyb", once, &keep);
    AstFile *a = parse_source(s1, &keep, &in, &d);
    AstFile *b = parse_source(s2, &keep, &in, &d);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(a->items.len, b->items.len);
    for (int i = 0; i < a->items.len; i++) assert_same_tree(a->items.data[i], b->items.data[i]);
    intern_free(&in);
    arena_free(&keep);
    free(once);
}
END_TEST

/* ---- runner -------------------------------------------------------------------- */

static Suite *parser_suite(void)
{
    Suite *s = suite_create("parser");
    TCase *tc;

    tc = tcase_create("ast");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_empty_inputs);
    tcase_add_test(tc, test_block_and_settings);
    tcase_add_test(tc, test_names_interned);
    tcase_add_test(tc, test_value_kinds);
    tcase_add_test(tc, test_lists_and_calls);
    tcase_add_test(tc, test_semicolons);
    suite_add_tcase(s, tc);

    tc = tcase_create("locations");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_locations);
    tcase_add_test(tc, test_locations_tabs_and_crlf);
    tcase_add_test(tc, test_location_multiline_values);
    suite_add_tcase(s, tc);

    tc = tcase_create("lexer");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_comments_own_line_and_trailing);
    tcase_add_test(tc, test_comment_characters);
    tcase_add_test(tc, test_number_texts);
    tcase_add_test(tc, test_negative_numbers);
    tcase_add_test(tc, test_number_errors);
    tcase_add_test(tc, test_string_escapes);
    tcase_add_test(tc, test_string_errors);
    tcase_add_test(tc, test_quoted_keys_and_labels);
    tcase_add_test(tc, test_long_tokens);
    tcase_add_test(tc, test_bad_bytes);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_syntax_errors);
    tcase_add_test(tc, test_unclosed_block_note);
    tcase_add_test(tc, test_error_recovery);
    tcase_add_test(tc, test_depth_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("fmt");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_fmt_canonical);
    tcase_add_test(tc, test_fmt_quoting);
    tcase_add_test(tc, test_fmt_comments);
    tcase_add_test(tc, test_fmt_idempotent_tricky);
    tcase_add_test(tc, test_fmt_same_tree);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(parser_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
