/* parse.c — the IR text form back into a module: a hand-written lexer and a
 * recursive-descent parser, one function per grammar rule (docs/ir.md §2).
 *
 * Errors are reported as `file:line:col: error:` and parsing goes on at the
 * next line, so one run reports many.  Nothing here recurses on the input
 * (the grammar has no nesting beyond one list), tokens and lists are
 * bounded, and all memory comes from the arena: a malformed file costs no
 * leak.  A module that parses is then verified. */
#include "ir.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ==== lexer ================================================================= */

typedef enum TokKind {
    TK_EOF,
    TK_IDENT,  /* [A-Za-z_][A-Za-z0-9_]* */
    TK_INT,
    TK_FLOAT,
    TK_STRING, /* "..." */
    TK_VALUE,  /* %name */
    TK_GLOBAL, /* @name */
    TK_STATE,  /* $name */
    TK_LPAREN,
    TK_RPAREN,
    TK_LBRACE,
    TK_RBRACE,
    TK_LBRACK,
    TK_RBRACK,
    TK_COMMA,
    TK_COLON,
    TK_EQ,
    TK_ARROW,
} TokKind;

typedef struct Tok {
    TokKind kind;
    const char *text; /* interned: identifiers, names (without sigil), strings */
    int64_t ival;
    double fval;
    int line, col, end_col;
} Tok;

typedef struct NameMap { /* interned name -> int, open addressing, in the arena */
    const char **keys;
    int *vals;
    int cap, len;
} NameMap;

typedef struct Pending { /* a use of a value not defined yet */
    const char *name;
    SrcLoc loc;
} Pending;

typedef struct Parser {
    const SrcFile *src;
    const char *p, *end, *line_start;
    int line;
    Arena *arena;
    Interner *in;
    Diag *diag;
    int errors;
    Tok tok;
    int prev_line, prev_end_col; /* where the previous token ended */
    long n_tokens;               /* tokens consumed, to make sure recovery progresses */
    int lex_errors;              /* errors the lexer reported so far ... */
    int stmt_lex_errors;         /* ... and when the current statement began */
    int suggestions;             /* "did you mean" searches done */
    IrModule *m;
    NameMap params, states, funcs;
    /* the function being parsed */
    IrFunc *fn;
    NameMap values;
    SrcLoc *value_locs; /* definition site of each value id, for notes */
    int cap_value_locs;
    Pending *pending;
    int n_pending, cap_pending;
    bool after_return;
    /* files named by loc(...) */
    const SrcFile **files;
    int n_files, cap_files;
} Parser;

static SrcLoc tok_loc(const Parser *ps, const Tok *t)
{
    SrcLoc l = {ps->src, t->line, t->col, t->line, t->end_col};
    return l;
}

__attribute__((format(printf, 3, 4))) static void error_at(Parser *ps, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(ps->diag, DIAG_ERROR, loc, fmt, ap);
    va_end(ap);
    ps->errors++;
}

__attribute__((format(printf, 3, 4))) static void note_at(Parser *ps, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(ps->diag, DIAG_NOTE, loc, fmt, ap);
    va_end(ap);
}

static SrcLoc here(const Parser *ps, const char *at)
{
    SrcLoc l = {ps->src, ps->line, (int)(at - ps->line_start) + 1, 0, 0};
    return l;
}

/* The bytes [at, ps->p) on the current line, for a caret under a token. */
static SrcLoc here_span(const Parser *ps, const char *at)
{
    SrcLoc l = here(ps, at);
    l.end_line = l.line;
    l.end_col = (int)(ps->p - ps->line_start);
    return l;
}

/* Lexer errors are counted apart: a statement with one gets no syntax
 * errors on top (they would only repeat it). */
__attribute__((format(printf, 3, 4))) static void lex_error(Parser *ps, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(ps->diag, DIAG_ERROR, loc, fmt, ap);
    va_end(ap);
    ps->errors++;
    ps->lex_errors++;
}

static bool is_ident_start(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_ident_char(int c) { return is_ident_start(c) || is_digit(c); }
static bool is_name_char(int c) { return is_ident_char(c) || c == '.'; }

static void skip_space(Parser *ps)
{
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == '\n') {
            ps->p++;
            ps->line++;
            ps->line_start = ps->p;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            ps->p++;
        } else if (c == '#') {
            while (ps->p < ps->end && *ps->p != '\n') ps->p++;
        } else {
            break;
        }
    }
}

static int hex_val(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* STRING := '"' (char | '\"' | '\\' | '\n' | '\t' | '\xHH')* '"' on one line.
 * ps->p is at the opening quote; the text is interned. */
static const char *lex_string(Parser *ps)
{
    StrBuf sb = {0};
    const char *start = ps->p++;
    bool bad = false;
    for (;;) {
        if (ps->p >= ps->end || *ps->p == '\n') {
            lex_error(ps, here(ps, start), "unterminated string");
            break;
        }
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c == '\\') {
            const char *esc = ps->p;
            char e = ps->p + 1 < ps->end ? ps->p[1] : 0;
            ps->p += 2;
            if (e == '"' || e == '\\') c = (unsigned char)e;
            else if (e == 'n') c = '\n';
            else if (e == 't') c = '\t';
            else if (e == 'x' && ps->p + 1 < ps->end && hex_val(ps->p[0]) >= 0 && hex_val(ps->p[1]) >= 0) {
                c = (unsigned char)(hex_val(ps->p[0]) * 16 + hex_val(ps->p[1]));
                ps->p += 2;
                if (c == 0) {
                    if (!bad) lex_error(ps, here(ps, esc), "'\\x00' is not allowed in a string");
                    bad = true;
                    continue;
                }
            } else if (e == '\n' || e == 0) {
                ps->p = esc + 1; /* the loop reports the unterminated string */
                continue;
            } else {
                if (ps->p > ps->end) ps->p = ps->end;
                if (!bad) lex_error(ps, here(ps, esc), "unknown escape sequence in string");
                bad = true;
                continue;
            }
        } else if (c < 0x20 || c == 0x7f) {
            if (!bad) lex_error(ps, here(ps, ps->p), "control character in string (write it as \\x%02x)", c);
            bad = true;
            ps->p++;
            continue;
        } else {
            ps->p++;
        }
        if (sb.len >= IR_MAX_NAME) {
            if (!bad) lex_error(ps, here(ps, start), "string longer than %d bytes", IR_MAX_NAME);
            bad = true;
            continue;
        }
        sb_putc(&sb, (char)c);
    }
    const char *s = intern_n(ps->in, sb.data ? sb.data : "", sb.len);
    sb_free(&sb);
    return s;
}

/* NUMBER := '-'? digits ('.' digits?)? ([eE] [+-]? digits)? | '-'? 'inf' */
static void lex_number(Parser *ps, Tok *t)
{
    const char *start = ps->p;
    bool is_float = false;
    if (*ps->p == '-') ps->p++;
    if (ps->end - ps->p >= 3 && strncmp(ps->p, "inf", 3) == 0 &&
        !(ps->end - ps->p > 3 && is_ident_char(ps->p[3]))) {
        ps->p += 3;
        t->kind = TK_FLOAT;
        t->fval = -INFINITY;
        return;
    }
    while (ps->p < ps->end && is_digit(*ps->p)) ps->p++;
    if (ps->p < ps->end && *ps->p == '.') {
        is_float = true;
        ps->p++;
        while (ps->p < ps->end && is_digit(*ps->p)) ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        const char *q = ps->p + 1;
        if (q < ps->end && (*q == '+' || *q == '-')) q++;
        if (q < ps->end && is_digit(*q)) {
            is_float = true;
            ps->p = q;
            while (ps->p < ps->end && is_digit(*ps->p)) ps->p++;
        }
    }
    size_t n = (size_t)(ps->p - start);
    char buf[80];
    if (n == 1 && *start == '-') {
        t->kind = TK_INT;
        lex_error(ps, here(ps, start), "malformed number");
        return;
    }
    t->kind = is_float ? TK_FLOAT : TK_INT;
    t->ival = 1; /* a harmless value if the text is bad: no follow-up errors */
    if (n >= sizeof buf) {
        lex_error(ps, here_span(ps, start), "number too long");
        return;
    }
    memcpy(buf, start, n);
    buf[n] = 0;
    errno = 0;
    if (is_float) {
        t->fval = strtod(buf, NULL);
        if (errno == ERANGE && isinf(t->fval)) {
            lex_error(ps, here_span(ps, start), "float out of range");
            t->fval = 0;
        }
    } else {
        int64_t v = strtoll(buf, NULL, 10);
        if (errno == ERANGE) lex_error(ps, here_span(ps, start), "integer out of range");
        else t->ival = v;
    }
}

/* A sigil name: bare [A-Za-z0-9_.]+ or a quoted string. */
static const char *lex_name(Parser *ps, char sigil)
{
    const char *start = ps->p;
    if (ps->p < ps->end && *ps->p == '"') {
        const char *s = lex_string(ps);
        if (!*s) lex_error(ps, here_span(ps, start - 1), "a name must not be empty");
        return s;
    }
    while (ps->p < ps->end && is_name_char((unsigned char)*ps->p)) ps->p++;
    size_t n = (size_t)(ps->p - start);
    if (n == 0) {
        lex_error(ps, here(ps, start - 1), "expected a name after '%c'", sigil);
        return intern(ps->in, "?");
    }
    if (n > IR_MAX_NAME) {
        lex_error(ps, here(ps, start - 1), "name longer than %d bytes", IR_MAX_NAME);
        n = IR_MAX_NAME;
    }
    return intern_n(ps->in, start, n);
}

static void next(Parser *ps)
{
    Tok *t = &ps->tok;
    ps->n_tokens++;
    ps->prev_line = t->line;
    ps->prev_end_col = t->end_col;
    for (;;) {
        skip_space(ps);
        memset(t, 0, sizeof *t);
        t->line = ps->line;
        t->col = (int)(ps->p - ps->line_start) + 1;
        if (ps->p >= ps->end) {
            t->kind = TK_EOF;
            break;
        }
        const char *start = ps->p;
        unsigned char c = (unsigned char)*ps->p;
        if (is_ident_start(c)) {
            while (ps->p < ps->end && is_ident_char((unsigned char)*ps->p)) ps->p++;
            size_t n = (size_t)(ps->p - start);
            if (n > IR_MAX_NAME) {
                lex_error(ps, here(ps, start), "identifier longer than %d bytes", IR_MAX_NAME);
                n = IR_MAX_NAME;
            }
            t->kind = TK_IDENT;
            t->text = intern_n(ps->in, start, n);
        } else if (is_digit(c) || (c == '-' && ps->p + 1 < ps->end &&
                                   (is_digit(ps->p[1]) || ps->p[1] == 'i'))) {
            lex_number(ps, t);
        } else if (c == '"') {
            t->kind = TK_STRING;
            t->text = lex_string(ps);
        } else if (c == '%' || c == '@' || c == '$') {
            ps->p++;
            t->kind = c == '%' ? TK_VALUE : c == '@' ? TK_GLOBAL : TK_STATE;
            t->text = lex_name(ps, (char)c);
        } else if (c == '-' && ps->p + 1 < ps->end && ps->p[1] == '>') {
            ps->p += 2;
            t->kind = TK_ARROW;
        } else {
            static const char punct[] = "(){}[],:=";
            static const TokKind kinds[] = {TK_LPAREN, TK_RPAREN, TK_LBRACE, TK_RBRACE, TK_LBRACK,
                                            TK_RBRACK, TK_COMMA,  TK_COLON,  TK_EQ};
            const char *q = c ? strchr(punct, c) : NULL;
            if (!q) {
                if (c >= 0x20 && c < 0x7f) lex_error(ps, here(ps, start), "unexpected character '%c'", c);
                else lex_error(ps, here(ps, start), "unexpected byte 0x%02x", c);
                ps->p++;
                continue;
            }
            ps->p++;
            t->kind = kinds[q - punct];
        }
        /* A token never spans lines except a bad string; keep carets sane. */
        t->end_col = ps->line == t->line ? (int)(ps->p - ps->line_start) : t->col;
        break;
    }
}

/* ==== helpers =============================================================== */

static const char *tok_desc(const Parser *ps, const Tok *t)
{
    switch (t->kind) {
    case TK_EOF: return "end of file";
    case TK_IDENT: return arena_printf(ps->arena, "'%s'", t->text);
    case TK_INT: return "a number";
    case TK_FLOAT: return "a number";
    case TK_STRING: return "a string";
    case TK_VALUE: return arena_printf(ps->arena, "'%%%s'", t->text);
    case TK_GLOBAL: return arena_printf(ps->arena, "'@%s'", t->text);
    case TK_STATE: return arena_printf(ps->arena, "'$%s'", t->text);
    case TK_LPAREN: return "'('";
    case TK_RPAREN: return "')'";
    case TK_LBRACE: return "'{'";
    case TK_RBRACE: return "'}'";
    case TK_LBRACK: return "'['";
    case TK_RBRACK: return "']'";
    case TK_COMMA: return "','";
    case TK_COLON: return "':'";
    case TK_EQ: return "'='";
    case TK_ARROW: return "'->'";
    }
    HYC_UNREACHABLE();
}

static bool is_kw(const Tok *t, const char *kw) { return t->kind == TK_IDENT && strcmp(t->text, kw) == 0; }

static bool accept(Parser *ps, TokKind k)
{
    if (ps->tok.kind != k) return false;
    next(ps);
    return true;
}

/* "expected WHAT, found X".  When the current token starts a later line,
 * the statement ended early: point just past its last token instead.
 * Silent after a lexer error in the same statement. */
static void error_expected(Parser *ps, const char *what)
{
    if (ps->lex_errors > ps->stmt_lex_errors) {
        ps->errors++;
        return;
    }
    if (ps->tok.kind != TK_EOF && ps->prev_line > 0 && ps->tok.line > ps->prev_line) {
        SrcLoc at = {ps->src, ps->prev_line, ps->prev_end_col + 1, 0, 0};
        error_at(ps, at, "expected %s, found the end of the line", what);
        return;
    }
    error_at(ps, tok_loc(ps, &ps->tok), "expected %s, found %s", what, tok_desc(ps, &ps->tok));
}

/* Expect token kind k (described as `what`); report and return false if
 * the current token is something else. */
static bool expect(Parser *ps, TokKind k, const char *what)
{
    if (accept(ps, k)) return true;
    error_expected(ps, what);
    return false;
}

static void begin_stmt(Parser *ps) { ps->stmt_lex_errors = ps->lex_errors; }

/* Skip the rest of a statement: every token on `line`, and at least one. */
static void sync_line(Parser *ps, int line, long start_tokens)
{
    if (ps->n_tokens == start_tokens && ps->tok.kind != TK_EOF && ps->tok.kind != TK_RBRACE) next(ps);
    while (ps->tok.kind != TK_EOF && ps->tok.line <= line) next(ps);
}

static unsigned hash_ptr(const void *p)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= 0xed5ad4bbu;
    x ^= x >> 11;
    return (unsigned)x;
}

static int map_get(const NameMap *nm, const char *key)
{
    if (!nm->cap) return -1;
    for (unsigned i = hash_ptr(key) & (unsigned)(nm->cap - 1);; i = (i + 1) & (unsigned)(nm->cap - 1)) {
        if (!nm->keys[i]) return -1;
        if (nm->keys[i] == key) return nm->vals[i];
    }
}

static void map_put(Arena *a, NameMap *nm, const char *key, int val)
{
    if (2 * (nm->len + 1) > nm->cap) {
        NameMap grown = {0};
        grown.cap = nm->cap ? nm->cap * 2 : 64;
        grown.keys = ARENA_NEW_N(a, const char *, grown.cap);
        grown.vals = ARENA_NEW_N(a, int, grown.cap);
        for (int i = 0; i < nm->cap; i++)
            if (nm->keys[i]) map_put(a, &grown, nm->keys[i], nm->vals[i]);
        *nm = grown;
    }
    unsigned i = hash_ptr(key) & (unsigned)(nm->cap - 1);
    while (nm->keys[i] && nm->keys[i] != key) i = (i + 1) & (unsigned)(nm->cap - 1);
    if (!nm->keys[i]) nm->len++;
    nm->keys[i] = key;
    nm->vals[i] = val;
}

/* Suggestions cost an edit distance per candidate: compute a bounded
 * number of them, so that a file full of errors stays linear. */
static bool may_suggest(Parser *ps) { return ps->suggestions++ < 32; }

/* "did you mean" over a NameMap's keys (only when reporting an error). */
static const char *suggest_in(Parser *ps, const char *word, const NameMap *nm)
{
    if (!nm->len || !may_suggest(ps)) return NULL;
    const char **cands = ARENA_NEW_N(ps->arena, const char *, nm->len);
    int n = 0;
    for (int i = 0; i < nm->cap; i++)
        if (nm->keys[i]) cands[n++] = nm->keys[i];
    return suggest_word(word, cands, n);
}

static const SrcFile *loc_file_named(Parser *ps, const char *name)
{
    for (int i = 0; i < ps->n_files; i++)
        if (ps->files[i]->name == name) return ps->files[i];
    SrcFile *f = ARENA_NEW(ps->arena, SrcFile);
    f->name = name; /* interned; the text is not known: no source line in messages */
    f->text = "";
    f->len = 0;
    ps->files = ir_grow(ps->arena, ps->files, sizeof *ps->files, &ps->cap_files, ps->n_files + 1);
    ps->files[ps->n_files++] = f;
    return f;
}

/* ==== grammar =============================================================== */

/* loc := 'loc' '(' STRING [':' INT ':' INT] ')'      (optional everywhere) */
static bool parse_opt_loc(Parser *ps, SrcLoc *out)
{
    *out = loc_none();
    if (!is_kw(&ps->tok, "loc")) return true;
    next(ps);
    if (!expect(ps, TK_LPAREN, "'(' after 'loc'")) return false;
    if (ps->tok.kind != TK_STRING) return expect(ps, TK_STRING, "a file name in quotes");
    out->file = loc_file_named(ps, ps->tok.text);
    next(ps);
    if (accept(ps, TK_COLON)) {
        int64_t lc[2];
        for (int i = 0; i < 2; i++) {
            if (i && !expect(ps, TK_COLON, "':' between line and column")) return false;
            Tok t = ps->tok;
            if (!expect(ps, TK_INT, i ? "a column number" : "a line number")) return false;
            if (t.ival < 1 || t.ival > 1000000000) {
                error_at(ps, tok_loc(ps, &t), "%s out of range", i ? "column" : "line");
                return false;
            }
            lc[i] = t.ival;
        }
        out->line = (int)lc[0];
        out->col = (int)lc[1];
    }
    return expect(ps, TK_RPAREN, "')' to close 'loc('");
}

/* type := IDENT '[' dim (',' dim)* ']'     dim := INT | 'T' | 'max_seq' */
static bool parse_type(Parser *ps, IrType *out)
{
    memset(out, 0, sizeof *out);
    Tok t = ps->tok;
    if (t.kind != TK_IDENT) return expect(ps, TK_IDENT, "a type such as f32[T, 64]");
    if (!ir_dtype_lookup(t.text, &out->dtype)) {
        static const char *const names[] = {"f32", "f16", "bf16", "i32"};
        const char *s = suggest_word(t.text, names, 4);
        error_at(ps, tok_loc(ps, &t), "unknown element type '%s'%s%s%s", t.text,
                 s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
        return false;
    }
    next(ps);
    if (!expect(ps, TK_LBRACK, "'[' after the element type")) return false;
    Tok first = ps->tok;
    do {
        Tok d = ps->tok;
        if (out->rank == IR_MAX_RANK) {
            error_at(ps, tok_loc(ps, &d), "a type has at most %d dims", IR_MAX_RANK);
            return false;
        }
        int64_t v;
        if (is_kw(&d, "T")) v = IR_DIM_T;
        else if (is_kw(&d, "max_seq")) v = IR_DIM_MAX_SEQ;
        else if (d.kind == TK_INT) {
            if (d.ival < 1 || d.ival > IR_DIM_LIMIT) {
                error_at(ps, tok_loc(ps, &d), "dimension %lld is out of range (1 to 2^40)", (long long)d.ival);
                return false;
            }
            v = d.ival;
        } else {
            if (d.kind == TK_RBRACK && out->rank == 0)
                error_at(ps, tok_loc(ps, &first), "a type needs at least one dim");
            else
                error_expected(ps, "a dim (a number, T or max_seq)");
            return false;
        }
        next(ps);
        out->dims[out->rank++] = v;
    } while (accept(ps, TK_COMMA));
    return expect(ps, TK_RBRACK, "']' to close the shape");
}

/* Define value `name` (a label from the text) as value id `id`. */
static void define_value(Parser *ps, const char *name, int id, SrcLoc at)
{
    IrFunc *fn = ps->fn;
    int prev = map_get(&ps->values, name);
    if (prev >= 0) {
        error_at(ps, at, "redefinition of '%%%s'", name);
        note_at(ps, ps->value_locs[prev], "previous definition is here");
        return;
    }
    for (int i = 0; i < ps->n_pending; i++) {
        if (ps->pending[i].name != name) continue;
        error_at(ps, ps->pending[i].loc, "'%%%s' is used before its definition", name);
        note_at(ps, at, "defined here");
        ps->pending[i] = ps->pending[--ps->n_pending];
        i--;
    }
    map_put(ps->arena, &ps->values, name, id);
    ps->value_locs = ir_grow(ps->arena, ps->value_locs, sizeof *ps->value_locs, &ps->cap_value_locs,
                             fn->n_values);
    ps->value_locs[id] = at;
    fn->values[id].ir_loc = at;
    bool numeric = true;
    for (const char *c = name; *c && numeric; c++) numeric = is_digit((unsigned char)*c);
    if (!numeric) fn->values[id].name = name;
}

/* A statement that failed still defines its result name (to a value with
 * no instruction), so that later uses do not cascade into more errors. */
static void poison_value(Parser *ps, const char *name)
{
    if (map_get(&ps->values, name) >= 0) return;
    for (int i = 0; i < ps->n_pending; i++)
        if (ps->pending[i].name == name) ps->pending[i--] = ps->pending[--ps->n_pending];
    int id = ir_func_new_value(ps->fn, IR_TYPE(IR_DT_F32, 1));
    map_put(ps->arena, &ps->values, name, id);
    ps->value_locs = ir_grow(ps->arena, ps->value_locs, sizeof *ps->value_locs, &ps->cap_value_locs,
                             ps->fn->n_values);
    ps->value_locs[id] = loc_none();
}

/* A use of a value: its id, or -1 (then recorded, to report at the end or
 * at a later definition). */
static int use_value(Parser *ps, const Tok *t)
{
    int id = map_get(&ps->values, t->text);
    if (id >= 0) return id;
    if (ps->n_pending < 1024) {
        ps->pending = ir_grow(ps->arena, ps->pending, sizeof *ps->pending, &ps->cap_pending,
                              ps->n_pending + 1);
        ps->pending[ps->n_pending++] = (Pending){t->text, tok_loc(ps, t)};
    }
    return -1;
}

/* operand := VALUE | GLOBAL | STATE | '_' */
static bool parse_operand(Parser *ps, IrOperand *o)
{
    Tok t = ps->tok;
    *o = IR_ABSENT;
    switch (t.kind) {
    case TK_VALUE: {
        int id = use_value(ps, &t);
        if (id >= 0) *o = (IrOperand){IR_OPND_VALUE, id};
        break;
    }
    case TK_GLOBAL: {
        int id = map_get(&ps->params, t.text);
        if (id >= 0) {
            *o = (IrOperand){IR_OPND_PARAM, id};
            break;
        }
        const char *s = suggest_in(ps, t.text, &ps->params);
        error_at(ps, tok_loc(ps, &t), "unknown parameter '@%s'%s%s%s", t.text, s ? "; did you mean '@" : "",
                 s ? s : "", s ? "'?" : "");
        break;
    }
    case TK_STATE: {
        int id = map_get(&ps->states, t.text);
        if (id >= 0) {
            *o = (IrOperand){IR_OPND_STATE, id};
            break;
        }
        const char *s = suggest_in(ps, t.text, &ps->states);
        error_at(ps, tok_loc(ps, &t), "unknown state '$%s'%s%s%s", t.text, s ? "; did you mean '$" : "",
                 s ? s : "", s ? "'?" : "");
        break;
    }
    default:
        if (is_kw(&t, "_")) break;
        error_expected(ps, "an operand (%value, @param, $state or _)");
        return false;
    }
    next(ps);
    return true;
}

/* scalar := INT | FLOAT | 'inf' | 'nan' | 'true' | 'false' | STRING */
static bool parse_scalar(Parser *ps, IrAttr *a)
{
    Tok t = ps->tok;
    memset(a, 0, sizeof *a);
    if (t.kind == TK_INT) *a = ir_attr_int(t.ival);
    else if (t.kind == TK_FLOAT) *a = ir_attr_float(t.fval);
    else if (is_kw(&t, "inf")) *a = ir_attr_float(INFINITY);
    else if (is_kw(&t, "nan")) *a = ir_attr_float(NAN);
    else if (is_kw(&t, "true") || is_kw(&t, "false")) *a = ir_attr_bool(is_kw(&t, "true"));
    else if (t.kind == TK_STRING) *a = ir_attr_str(t.text);
    else {
        error_expected(ps, "an attribute value");
        return false;
    }
    next(ps);
    return true;
}

/* attrval := scalar | '[' [scalar (',' scalar)*] ']'    (numbers only in lists)
 * `want` is the kind the op's slot expects: ints become floats where a float
 * is expected, and an empty list takes the wanted kind. */
static bool parse_attr_value(Parser *ps, IrAttr *a, IrAttrKind want)
{
    if (ps->tok.kind != TK_LBRACK) {
        if (!parse_scalar(ps, a)) return false;
        if (a->kind == IR_ATTR_INT && want == IR_ATTR_FLOAT) *a = ir_attr_float((double)a->i);
        return true;
    }
    Tok open = ps->tok;
    next(ps);
    Vec(IrAttr) items = {0};
    bool ok = true, any_float = false;
    while (ps->tok.kind != TK_RBRACK) {
        IrAttr it;
        if (ps->tok.kind == TK_LBRACK) {
            error_at(ps, tok_loc(ps, &ps->tok), "lists do not nest");
            ok = false;
            break;
        }
        Tok at = ps->tok;
        if (!parse_scalar(ps, &it)) {
            ok = false;
            break;
        }
        if (it.kind != IR_ATTR_INT && it.kind != IR_ATTR_FLOAT) {
            error_at(ps, tok_loc(ps, &at), "list elements must be numbers");
            ok = false;
            break;
        }
        if (items.len == IR_MAX_LIST) {
            error_at(ps, tok_loc(ps, &open), "list longer than %d elements", IR_MAX_LIST);
            ok = false;
            break;
        }
        any_float |= it.kind == IR_ATTR_FLOAT;
        vec_push(&items, it);
        if (!accept(ps, TK_COMMA)) break;
    }
    if (ok) ok = expect(ps, TK_RBRACK, "']' to close the list");
    if (ok) {
        bool floats = any_float || want == IR_ATTR_FLOATS;
        if (floats) {
            double *v = ARENA_NEW_N(ps->arena, double, items.len ? items.len : 1);
            for (int i = 0; i < items.len; i++)
                v[i] = items.data[i].kind == IR_ATTR_INT ? (double)items.data[i].i : items.data[i].f;
            *a = ir_attr_floats(v, items.len);
        } else {
            int64_t *v = ARENA_NEW_N(ps->arena, int64_t, items.len ? items.len : 1);
            for (int i = 0; i < items.len; i++) v[i] = items.data[i].i;
            *a = ir_attr_ints(v, items.len);
        }
    }
    vec_free(&items);
    return ok;
}

/* attrs := '{' [IDENT '=' attrval (',' IDENT '=' attrval)*] '}' */
static bool parse_attrs(Parser *ps, IrOp op, IrAttr *attrs)
{
    const IrOpInfo *info = ir_op_info(op);
    next(ps); /* '{' */
    while (ps->tok.kind != TK_RBRACE) {
        Tok name = ps->tok;
        if (!expect(ps, TK_IDENT, "an attribute name")) return false;
        if (!expect(ps, TK_EQ, "'=' after the attribute name")) return false;
        int k = ir_op_attr(op, name.text);
        IrAttr v;
        if (!parse_attr_value(ps, &v, k >= 0 ? info->attrs[k].kind : IR_ATTR_NONE)) return false;
        if (k < 0) {
            const char *cands[IR_MAX_ATTRS];
            for (int i = 0; i < info->n_attrs; i++) cands[i] = info->attrs[i].name;
            const char *s = may_suggest(ps) ? suggest_word(name.text, cands, info->n_attrs) : NULL;
            error_at(ps, tok_loc(ps, &name), "'%s' has no attribute '%s'%s%s%s", info->name, name.text,
                     s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
        } else if (attrs[k].kind != IR_ATTR_NONE) {
            error_at(ps, tok_loc(ps, &name), "attribute '%s' given twice", name.text);
        } else {
            attrs[k] = v;
        }
        if (!accept(ps, TK_COMMA)) break;
    }
    return expect(ps, TK_RBRACE, "'}' to close the attributes");
}

static const char *suggest_op(Parser *ps, const char *word)
{
    if (!may_suggest(ps)) return NULL;
    const char *names[IR_OP_COUNT];
    for (int i = 0; i < IR_OP_COUNT; i++) names[i] = ir_op_name((IrOp)i);
    return suggest_word(word, names, IR_OP_COUNT);
}

static bool parse_inst_rest(Parser *ps, bool has_result, const Tok *result);

/* inst := [VALUE '='] IDENT '(' [operand (',' operand)*] ')' [attrs] [':' type] [loc] */
static bool parse_inst(Parser *ps)
{
    Tok result = {0};
    bool has_result = ps->tok.kind == TK_VALUE, ok = false;
    if (has_result) {
        result = ps->tok;
        next(ps);
        ok = expect(ps, TK_EQ, "'=' after the result name") && parse_inst_rest(ps, true, &result);
        poison_value(ps, result.text); /* no-op when it was defined */
        return ok;
    }
    return parse_inst_rest(ps, false, &result);
}

static bool parse_inst_rest(Parser *ps, bool has_result, const Tok *rtok)
{
    IrFunc *fn = ps->fn;
    Tok result = *rtok;
    Tok name = ps->tok;
    if (name.kind != TK_IDENT)
        return expect(ps, TK_IDENT, has_result ? "an op name" : "an instruction");
    IrOp op = ir_op_lookup(name.text);
    if (op == IR_OP_COUNT) {
        const char *s = suggest_op(ps, name.text);
        error_at(ps, tok_loc(ps, &name), "unknown op '%s'%s%s%s", name.text, s ? "; did you mean '" : "",
                 s ? s : "", s ? "'?" : "");
        return false;
    }
    const IrOpInfo *info = ir_op_info(op);
    next(ps);
    if (!expect(ps, TK_LPAREN, "'(' after the op name")) return false;
    IrOperand ops[IR_MAX_OPERANDS];
    int n = 0;
    while (ps->tok.kind != TK_RPAREN) {
        if (n == IR_MAX_OPERANDS) {
            error_at(ps, tok_loc(ps, &ps->tok), "more than %d operands", IR_MAX_OPERANDS);
            return false;
        }
        if (!parse_operand(ps, &ops[n++])) return false;
        if (!accept(ps, TK_COMMA)) break;
    }
    if (!expect(ps, TK_RPAREN, "')' to close the operands")) return false;
    IrAttr *attrs = ARENA_NEW_N(ps->arena, IrAttr, info->n_attrs ? info->n_attrs : 1);
    if (ps->tok.kind == TK_LBRACE && !parse_attrs(ps, op, attrs)) return false;
    IrType type;
    bool has_type = false;
    if (accept(ps, TK_COLON)) {
        if (!parse_type(ps, &type)) return false;
        has_type = true;
    }
    SrcLoc loc;
    if (!parse_opt_loc(ps, &loc)) return false;
    if (has_result && !info->n_results) {
        error_at(ps, tok_loc(ps, &result), "'%s' has no result", info->name);
        return true;
    }
    if (!has_result && info->n_results) {
        error_at(ps, tok_loc(ps, &name), "the result of '%s' must be named: '%%N = %s(...)'", info->name,
                 info->name);
        return true;
    }
    if (has_result && !has_type) {
        error_at(ps, tok_loc(ps, &name), "expected ': type' after '%s(...)'", info->name);
        return true;
    }
    if (!has_result && has_type) {
        error_at(ps, tok_loc(ps, &name), "'%s' has no result to give a type", info->name);
        return true;
    }
    if (fn->n_values >= IR_MAX_VALUES) {
        error_at(ps, tok_loc(ps, &name), "too many values in one function");
        return true;
    }
    IrInst *in = ir_append(fn, op, ops, n, has_result ? &type : NULL, loc);
    in->attrs = attrs;
    in->ir_loc = tok_loc(ps, &name);
    if (has_result) define_value(ps, result.text, in->result, tok_loc(ps, &result));
    return true;
}

/* ret := 'return' VALUE [loc] */
static bool parse_return(Parser *ps)
{
    Tok kw = ps->tok;
    next(ps);
    Tok v = ps->tok;
    if (!expect(ps, TK_VALUE, "a value to return")) return false;
    SrcLoc loc;
    if (!parse_opt_loc(ps, &loc)) return false;
    int id = use_value(ps, &v);
    if (ps->fn->ret >= 0) {
        error_at(ps, tok_loc(ps, &kw), "a function returns once");
        return true;
    }
    ps->fn->ret = id >= 0 ? id : -1;
    ps->fn->ret_loc = loc;
    ps->fn->ret_ir_loc = tok_loc(ps, &kw);
    ps->after_return = true;
    return true;
}

static void begin_func(Parser *ps, IrFunc *fn)
{
    ps->fn = fn;
    memset(&ps->values, 0, sizeof ps->values);
    ps->n_pending = 0;
    ps->after_return = false;
}

static void end_func(Parser *ps)
{
    for (int i = 0; i < ps->n_pending; i++)
        error_at(ps, ps->pending[i].loc, "use of undefined value '%%%s'", ps->pending[i].name);
    ps->n_pending = 0;
    ps->fn = NULL;
}

/* body := '{' (inst | ret)* '}' */
static void parse_body(Parser *ps)
{
    while (ps->tok.kind != TK_RBRACE && ps->tok.kind != TK_EOF) {
        int line = ps->tok.line;
        long start = ps->n_tokens;
        begin_stmt(ps);
        if (is_kw(&ps->tok, "func") || is_kw(&ps->tok, "param") || is_kw(&ps->tok, "state")) {
            error_at(ps, tok_loc(ps, &ps->tok), "expected '}' to close function '@%s' before '%s'",
                     ps->fn->name, ps->tok.text);
            return;
        }
        if (ps->after_return) {
            error_at(ps, tok_loc(ps, &ps->tok), "instruction after 'return'");
            sync_line(ps, line, start);
            continue;
        }
        bool ok = is_kw(&ps->tok, "return") ? parse_return(ps) : parse_inst(ps);
        if (!ok) sync_line(ps, line, start);
        else if (ps->tok.kind != TK_EOF && ps->tok.kind != TK_RBRACE && ps->tok.line == line) {
            error_expected(ps, "the end of the line");
            sync_line(ps, line, start);
        }
    }
    expect(ps, TK_RBRACE, "'}' to close the function");
}

/* func := 'func' GLOBAL '(' [VALUE ':' type (',' VALUE ':' type)*] ')'
 *         ['->' type] [loc] body */
static void parse_func(Parser *ps)
{
    next(ps); /* 'func' */
    begin_stmt(ps);
    Tok name = ps->tok;
    const char *fname = name.kind == TK_GLOBAL ? name.text : intern(ps->in, "?");
    bool ok = expect(ps, TK_GLOBAL, "a function name such as @prefill");
    if (ok && map_get(&ps->funcs, fname) >= 0) {
        error_at(ps, tok_loc(ps, &name), "redefinition of function '@%s'", fname);
    }
    IrFunc *fn = ir_func_new(ps->m, fname, loc_none());
    fn->ir_loc = tok_loc(ps, &name);
    map_put(ps->arena, &ps->funcs, fname, ps->m->n_funcs - 1);
    begin_func(ps, fn);
    ok = ok && expect(ps, TK_LPAREN, "'(' after the function name");
    while (ok && ps->tok.kind != TK_RPAREN) {
        Tok arg = ps->tok;
        IrType t;
        ok = expect(ps, TK_VALUE, "an argument such as %tokens: i32[T]") &&
             expect(ps, TK_COLON, "':' after the argument name") && parse_type(ps, &t);
        if (!ok) {
            if (arg.kind == TK_VALUE) poison_value(ps, arg.text);
            break;
        }
        bool numeric = true;
        for (const char *c = arg.text; *c && numeric; c++) numeric = is_digit((unsigned char)*c);
        if (numeric) {
            error_at(ps, tok_loc(ps, &arg), "argument names must not be numbers");
            poison_value(ps, arg.text);
        } else if (map_get(&ps->values, arg.text) >= 0) {
            error_at(ps, tok_loc(ps, &arg), "redefinition of '%%%s'", arg.text);
        } else {
            IrValue v = ir_func_arg(fn, arg.text, t);
            define_value(ps, arg.text, v.id, tok_loc(ps, &arg));
        }
        if (!accept(ps, TK_COMMA)) break;
    }
    ok = ok && expect(ps, TK_RPAREN, "')' to close the arguments");
    if (ok && accept(ps, TK_ARROW)) {
        ok = parse_type(ps, &fn->ret_type);
        fn->has_ret_type = ok;
    }
    SrcLoc loc = loc_none();
    ok = ok && parse_opt_loc(ps, &loc);
    fn->loc = loc;
    if (ok) ok = expect(ps, TK_LBRACE, "'{' to open the function body");
    if (!ok) {
        /* Resynchronize on the body's '{' if it is still on this line. */
        int line = name.line;
        while (ps->tok.kind != TK_EOF && ps->tok.kind != TK_LBRACE && ps->tok.line <= line) next(ps);
        if (!accept(ps, TK_LBRACE)) {
            end_func(ps);
            return;
        }
    }
    parse_body(ps);
    end_func(ps);
}

static bool parse_pexpr(Parser *ps, int depth, const IrPExpr **out);

/* op '(' pexpr (',' pexpr)* ')' — a foldable elementwise op (ir_pexpr_op_ok)
 * with its operands, after the op's name. */
static bool parse_pexpr_op(Parser *ps, int depth, const Tok *at, IrOp op, const IrPExpr **out)
{
    const IrPExpr *args[IR_MAX_SLOTS];
    int n = 0, want = ir_op_info(op)->n_slots;
    if (!expect(ps, TK_LPAREN, "'(' after the op")) return false;
    do {
        if (n == want) {
            error_at(ps, tok_loc(ps, &ps->tok), "%s(...) takes %d operand%s", at->text, want, want == 1 ? "" : "s");
            return false;
        }
        if (!parse_pexpr(ps, depth + 1, &args[n++])) return false;
    } while (accept(ps, TK_COMMA));
    if (!expect(ps, TK_RPAREN, "')' or ','")) return false;
    if (n != want) {
        error_at(ps, tok_loc(ps, at), "%s(...) takes %d operand%s", at->text, want, want == 1 ? "" : "s");
        return false;
    }
    *out = ir_pexpr_op(ps->m, op, args, n);
    if (!*out) {
        error_at(ps, tok_loc(ps, at), "%s(...): the operands' shapes differ", at->text);
        return false;
    }
    return true;
}

/* A finite number (an attribute-free constant of a derived param); `what`
 * names it in messages. */
static bool parse_pexpr_number(Parser *ps, const char *what, const char *in, double *out)
{
    Tok f = ps->tok;
    if (f.kind != TK_INT && f.kind != TK_FLOAT) {
        error_expected(ps, arena_printf(ps->arena, "a number (the %s)", what));
        return false;
    }
    next(ps);
    *out = f.kind == TK_INT ? (double)f.ival : f.fval;
    if (!isfinite(*out)) {
        error_at(ps, tok_loc(ps, &f), "the %s of %s(...) must be finite", what, in);
        return false;
    }
    return true;
}

/* 'scale_cols' '(' pexpr ',' pexpr [',' number] ')', after the keyword at `at`. */
static bool parse_pexpr_scale_cols(Parser *ps, int depth, const Tok *at, const IrPExpr **out)
{
    const IrPExpr *w, *g;
    double offset = 0.0;
    if (!expect(ps, TK_LPAREN, "'(' after scale_cols") || !parse_pexpr(ps, depth + 1, &w) ||
        !expect(ps, TK_COMMA, "',' and the column factors") || !parse_pexpr(ps, depth + 1, &g))
        return false;
    if (accept(ps, TK_COMMA) && !parse_pexpr_number(ps, "offset", "scale_cols", &offset)) return false;
    if (!expect(ps, TK_RPAREN, "')' or ', offset'")) return false;
    *out = ir_pexpr_scale_cols(ps->m, w, g, offset);
    if (!*out) {
        error_at(ps, tok_loc(ps, at), "scale_cols(w, g) needs w [n, k] and g [k]; got %s and %s",
                 ir_type_str(ps->arena, &w->type), ir_type_str(ps->arena, &g->type));
        return false;
    }
    return true;
}

/* pexpr := GLOBAL ':' type | 'concat' '(' pexpr (',' pexpr)* ')'
 *        | 'scale' '(' pexpr ',' number ')' | 'zeros' '(' type ')'
 *        | 'scale_cols' '(' pexpr ',' pexpr [',' number] ')'
 *        | op '(' pexpr (',' pexpr)* ')'   (exp, neg, add, ...: ir_pexpr_op_ok)
 * A derived param's value (docs/ir.md "Derived params"). */
static bool parse_pexpr(Parser *ps, int depth, const IrPExpr **out)
{
    Tok at = ps->tok;
    if (depth > IR_PEXPR_MAX_DEPTH) {
        error_at(ps, tok_loc(ps, &at), "a derived param nests deeper than %d", IR_PEXPR_MAX_DEPTH);
        return false;
    }
    if (at.kind == TK_GLOBAL) {
        next(ps);
        IrType t;
        if (!expect(ps, TK_COLON, "':' and the type of the source param") || !parse_type(ps, &t)) return false;
        *out = ir_pexpr_param(ps->m, at.text, t);
        return true;
    }
    if (is_kw(&at, "zeros")) {
        next(ps);
        IrType t;
        if (!expect(ps, TK_LPAREN, "'(' after zeros") || !parse_type(ps, &t) || !expect(ps, TK_RPAREN, "')'"))
            return false;
        *out = ir_pexpr_zeros(ps->m, t);
        return true;
    }
    if (is_kw(&at, "scale")) {
        next(ps);
        const IrPExpr *x;
        if (!expect(ps, TK_LPAREN, "'(' after scale") || !parse_pexpr(ps, depth + 1, &x) ||
            !expect(ps, TK_COMMA, "',' and the factor"))
            return false;
        double v;
        if (!parse_pexpr_number(ps, "factor", "scale", &v) || !expect(ps, TK_RPAREN, "')'")) return false;
        *out = ir_pexpr_scale(ps->m, x, v);
        return true;
    }
    if (is_kw(&at, "scale_cols")) {
        next(ps);
        return parse_pexpr_scale_cols(ps, depth, &at, out);
    }
    if (is_kw(&at, "concat")) {
        next(ps);
        const IrPExpr *parts[IR_PEXPR_MAX_ARGS];
        int n = 0;
        if (!expect(ps, TK_LPAREN, "'(' after concat")) return false;
        do {
            if (n == IR_PEXPR_MAX_ARGS) {
                error_at(ps, tok_loc(ps, &ps->tok), "concat(...) of more than %d parts", IR_PEXPR_MAX_ARGS);
                return false;
            }
            if (!parse_pexpr(ps, depth + 1, &parts[n++])) return false;
        } while (accept(ps, TK_COMMA));
        if (!expect(ps, TK_RPAREN, "')' or ','")) return false;
        *out = ir_pexpr_concat(ps->m, parts, n);
        if (!*out) {
            error_at(ps, tok_loc(ps, &at), "concat(...): the parts' shapes differ past dim 0");
            return false;
        }
        return true;
    }
    if (at.kind == TK_IDENT) {
        IrOp op = ir_op_lookup(at.text);
        if (op != IR_OP_COUNT && ir_pexpr_op_ok(op)) {
            next(ps);
            return parse_pexpr_op(ps, depth, &at, op, out);
        }
    }
    error_expected(ps, "a derived value: @param : type, concat(...), scale(..., factor), zeros(type), "
                       "scale_cols(w, g) or an elementwise op such as exp(...), neg(...), add(..., ...)");
    return false;
}

/* param := 'param' GLOBAL ':' type ['=' pexpr] [loc] */
static bool parse_param(Parser *ps)
{
    next(ps);
    Tok name = ps->tok;
    IrType t;
    SrcLoc loc;
    const IrPExpr *derive = NULL;
    if (!expect(ps, TK_GLOBAL, "a parameter name such as @embed") ||
        !expect(ps, TK_COLON, "':' after the parameter name") || !parse_type(ps, &t))
        return false;
    Tok eq = ps->tok;
    if (accept(ps, TK_EQ) && !parse_pexpr(ps, 1, &derive)) return false;
    if (!parse_opt_loc(ps, &loc)) return false;
    if (derive && !ir_type_eq(&derive->type, &t)) {
        error_at(ps, tok_loc(ps, &eq), "parameter '@%s' is declared %s but its value is %s", name.text,
                 ir_type_str(ps->arena, &t), ir_type_str(ps->arena, &derive->type));
        return true;
    }
    int prev = map_get(&ps->params, name.text);
    if (prev >= 0) {
        error_at(ps, tok_loc(ps, &name), "redefinition of parameter '@%s'", name.text);
        note_at(ps, ps->m->params[prev].ir_loc, "previous definition is here");
        return true;
    }
    IrParam p = ir_declare_param(ps->m, name.text, t, loc);
    ps->m->params[p.id].derive = derive;
    ps->m->params[p.id].ir_loc = tok_loc(ps, &name);
    map_put(ps->arena, &ps->params, ps->m->params[p.id].name, p.id);
    return true;
}

/* state := 'state' STATE ':' IDENT type [loc] */
static bool parse_state(Parser *ps)
{
    next(ps);
    Tok name = ps->tok;
    if (!expect(ps, TK_STATE, "a state name such as $kv.3") ||
        !expect(ps, TK_COLON, "':' after the state name"))
        return false;
    Tok kind = ps->tok;
    IrStateKind k = IR_STATE_KV_CACHE;
    if (!expect(ps, TK_IDENT, "a state kind (kv_cache, conv_state, ssm_state)")) return false;
    if (!ir_state_kind_lookup(kind.text, &k)) {
        const char *names[IR_STATE_COUNT];
        for (int i = 0; i < IR_STATE_COUNT; i++) names[i] = ir_state_kind_name((IrStateKind)i);
        const char *s = suggest_word(kind.text, names, IR_STATE_COUNT);
        error_at(ps, tok_loc(ps, &kind), "unknown state kind '%s'%s%s%s", kind.text,
                 s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
        return false;
    }
    IrType t;
    SrcLoc loc;
    if (!parse_type(ps, &t) || !parse_opt_loc(ps, &loc)) return false;
    int prev = map_get(&ps->states, name.text);
    if (prev >= 0) {
        error_at(ps, tok_loc(ps, &name), "redefinition of state '$%s'", name.text);
        note_at(ps, ps->m->states[prev].ir_loc, "previous definition is here");
        return true;
    }
    IrState s = ir_declare_state(ps->m, name.text, k, t, loc);
    ps->m->states[s.id].ir_loc = tok_loc(ps, &name);
    map_put(ps->arena, &ps->states, ps->m->states[s.id].name, s.id);
    return true;
}

/* max_seq := 'max_seq' '=' INT */
static bool parse_max_seq(Parser *ps)
{
    next(ps);
    if (!expect(ps, TK_EQ, "'=' after 'max_seq'")) return false;
    Tok v = ps->tok;
    if (!expect(ps, TK_INT, "the maximum sequence length")) return false;
    if (v.ival < 1 || v.ival > IR_DIM_LIMIT) {
        error_at(ps, tok_loc(ps, &v), "max_seq must be between 1 and 2^40");
        return true;
    }
    ps->m->max_seq = v.ival;
    return true;
}

/* module := 'module' GLOBAL [loc] '{' item* '}'
 * item   := max_seq | param | state | func */
static IrModule *parse_module(Parser *ps)
{
    Tok kw = ps->tok;
    if (!is_kw(&kw, "module")) {
        error_at(ps, tok_loc(ps, &kw), "expected 'module', found %s", tok_desc(ps, &kw));
        return NULL;
    }
    next(ps);
    Tok name = ps->tok;
    if (!expect(ps, TK_GLOBAL, "a module name such as @model")) return NULL;
    SrcLoc loc;
    if (!parse_opt_loc(ps, &loc) || !expect(ps, TK_LBRACE, "'{' to open the module")) return NULL;
    ps->m = ir_module_new(ps->arena, ps->in, name.text, loc);
    ps->m->ir_loc = tok_loc(ps, &name);
    while (ps->tok.kind != TK_RBRACE && ps->tok.kind != TK_EOF) {
        int line = ps->tok.line;
        long start = ps->n_tokens;
        bool ok = true;
        begin_stmt(ps);
        if (is_kw(&ps->tok, "func")) {
            parse_func(ps);
            continue;
        } else if (is_kw(&ps->tok, "param")) {
            ok = parse_param(ps);
        } else if (is_kw(&ps->tok, "state")) {
            ok = parse_state(ps);
        } else if (is_kw(&ps->tok, "max_seq")) {
            ok = parse_max_seq(ps);
        } else {
            error_expected(ps, "'param', 'state', 'func' or 'max_seq'");
            ok = false;
        }
        if (ok && ps->tok.kind != TK_EOF && ps->tok.kind != TK_RBRACE && ps->tok.line == line) {
            error_expected(ps, "the end of the line");
            ok = false;
        }
        if (!ok) sync_line(ps, line, start);
    }
    if (expect(ps, TK_RBRACE, "'}' to close the module") && ps->tok.kind != TK_EOF)
        error_at(ps, tok_loc(ps, &ps->tok), "expected the end of the file after the module, found %s",
                 tok_desc(ps, &ps->tok));
    return ps->m;
}

IrModule *ir_parse(const SrcFile *src, Arena *arena, Interner *in, Diag *diag)
{
    Parser ps = {0};
    ps.src = src;
    ps.p = ps.line_start = src->text;
    ps.end = src->text + src->len;
    ps.line = 1;
    ps.arena = arena;
    ps.in = in;
    ps.diag = diag;
    next(&ps);
    IrModule *m = parse_module(&ps);
    if (ps.errors || !m) return NULL;
    return ir_verify(m, diag) ? m : NULL;
}
