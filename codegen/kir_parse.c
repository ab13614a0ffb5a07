/* kir_parse.c — the Kernel IR text form back into kernels: a hand-written
 * lexer and a recursive-descent parser, one function per grammar rule
 * (docs/kernel-ir.md).  Nesting (blocks, expressions) is bounded by
 * KIR_MAX_DEPTH, names and lists by the KIR_MAX_* limits, and all memory
 * comes from the arena, so malformed input costs neither a crash nor a
 * leak.  After an error the parser skips to the next `kernel` at the start
 * of a line, so one run reports one error per broken kernel, plus whatever
 * the verifier finds in the kernels that parse. */
#include "codegen.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ==== lexer ================================================================= */

typedef enum TokKind {
    TK_EOF,
    TK_IDENT,  /* [A-Za-z_][A-Za-z0-9_]* */
    TK_INT,    /* -?[0-9]+ */
    TK_FLOAT,  /* with '.', an exponent, or inf / -inf / nan */
    TK_STRING, /* "..." */
    TK_BUF,    /* %name */
    TK_GLOBAL, /* @name */
    TK_LPAREN,
    TK_RPAREN,
    TK_LBRACE,
    TK_RBRACE,
    TK_LBRACK,
    TK_RBRACK,
    TK_COMMA,
    TK_COLON,
    TK_EQ,
    TK_BAD,    /* a lexical error, already reported */
} TokKind;

typedef struct Tok {
    TokKind kind;
    const char *text; /* arena copy: identifiers, names without sigil, strings */
    int64_t ival;
    double fval;
    int line, col;
    bool line_start;  /* first token on its line */
} Tok;

typedef struct Scope {
    const char *name;
    int var;
} Scope;

typedef struct Parser {
    const SrcFile *src;
    const char *p, *end, *line_start;
    int line;
    Arena *arena;
    Diag *diag;
    int errors;
    Tok tok;
    bool failed;        /* the current kernel has an error: skip to the next */
    int depth;
    /* the kernel being parsed */
    KirKernel *k;
    Scope *scope;
    int n_scope, cap_scope;
    int max_loop;
    /* files named by loc(...) */
    const SrcFile **files;
    int n_files, cap_files;
} Parser;

static SrcLoc tok_loc(const Parser *ps, const Tok *t)
{
    return (SrcLoc){ps->src, t->line, t->col, 0, 0};
}

__attribute__((format(printf, 3, 4))) static void error_at(Parser *ps, const Tok *t, const char *fmt, ...)
{
    if (ps->failed) return; /* one error per kernel: the rest would be noise */
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(ps->diag, DIAG_ERROR, tok_loc(ps, t), fmt, ap);
    va_end(ap);
    ps->errors++;
    ps->failed = true;
}

static bool is_ident_start(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_ident_char(int c) { return is_ident_start(c) || is_digit(c); }

static bool skip_space(Parser *ps)
{
    bool newline = false;
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == '\n') {
            ps->p++;
            ps->line++;
            ps->line_start = ps->p;
            newline = true;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            ps->p++;
        } else if (c == '#') {
            while (ps->p < ps->end && *ps->p != '\n') ps->p++;
        } else {
            break;
        }
    }
    return newline;
}

static int hex_val(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* STRING := '"' (char | '\"' | '\\' | '\n' | '\t' | '\xHH')* '"' on one line. */
static bool lex_string(Parser *ps, Tok *t)
{
    StrBuf sb = {0};
    ps->p++;
    for (;;) {
        if (ps->p >= ps->end || *ps->p == '\n') {
            sb_free(&sb);
            error_at(ps, t, "unterminated string");
            return false;
        }
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c == '\\') {
            char e = ps->p + 1 < ps->end ? ps->p[1] : 0;
            ps->p += 2;
            if (e == '"' || e == '\\') c = (unsigned char)e;
            else if (e == 'n') c = '\n';
            else if (e == 't') c = '\t';
            else if (e == 'x' && ps->p + 1 < ps->end && hex_val(ps->p[0]) >= 0 && hex_val(ps->p[1]) >= 0) {
                c = (unsigned char)(hex_val(ps->p[0]) * 16 + hex_val(ps->p[1]));
                ps->p += 2;
                if (c == 0) {
                    sb_free(&sb);
                    error_at(ps, t, "'\\x00' is not allowed in a string");
                    return false;
                }
            } else {
                sb_free(&sb);
                error_at(ps, t, "unknown escape in a string");
                return false;
            }
            sb_putc(&sb, (char)c);
            continue;
        }
        if (c < 0x20 || c == 0x7f) {
            sb_free(&sb);
            error_at(ps, t, "control character in a string");
            return false;
        }
        sb_putc(&sb, (char)c);
        ps->p++;
        if (sb.len > KIR_MAX_NAME * 4) {
            sb_free(&sb);
            error_at(ps, t, "string longer than %d bytes", KIR_MAX_NAME * 4);
            return false;
        }
    }
    t->text = arena_strdup(ps->arena, sb_cstr(&sb));
    sb_free(&sb);
    return true;
}

static bool lex_name(Parser *ps, Tok *t)
{
    const char *s = ps->p;
    while (ps->p < ps->end && is_ident_char((unsigned char)*ps->p)) ps->p++;
    size_t n = (size_t)(ps->p - s);
    if (n == 0) {
        error_at(ps, t, "expected a name");
        return false;
    }
    if (n > KIR_MAX_NAME) {
        error_at(ps, t, "name longer than %d bytes", KIR_MAX_NAME);
        return false;
    }
    t->text = arena_strndup(ps->arena, s, n);
    return true;
}

static bool lex_number(Parser *ps, Tok *t)
{
    const char *s = ps->p;
    if (*ps->p == '-') ps->p++;
    if (ps->end - ps->p >= 3 && strncmp(ps->p, "inf", 3) == 0 && !(ps->end - ps->p > 3 && is_ident_char((unsigned char)ps->p[3]))) {
        ps->p += 3;
        t->kind = TK_FLOAT;
        t->fval = *s == '-' ? -INFINITY : INFINITY;
        return true;
    }
    bool is_float = false;
    while (ps->p < ps->end && is_digit((unsigned char)*ps->p)) ps->p++;
    if (ps->p < ps->end && *ps->p == '.') {
        is_float = true;
        ps->p++;
        while (ps->p < ps->end && is_digit((unsigned char)*ps->p)) ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        is_float = true;
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
        while (ps->p < ps->end && is_digit((unsigned char)*ps->p)) ps->p++;
    }
    size_t n = (size_t)(ps->p - s);
    if (n > 64) {
        error_at(ps, t, "number too long");
        return false;
    }
    char buf[72];
    memcpy(buf, s, n);
    buf[n] = 0;
    if (is_float) {
        t->kind = TK_FLOAT;
        if (!parse_f64(buf, &t->fval)) {
            error_at(ps, t, "bad number '%s'", buf);
            return false;
        }
    } else {
        t->kind = TK_INT;
        if (!parse_i64(buf, &t->ival)) {
            error_at(ps, t, "bad integer '%s'", buf);
            return false;
        }
    }
    return true;
}

static void next(Parser *ps)
{
    Tok *t = &ps->tok;
    bool nl = skip_space(ps) || ps->p == ps->src->text;
    memset(t, 0, sizeof *t);
    t->line = ps->line;
    t->col = (int)(ps->p - ps->line_start) + 1;
    t->line_start = nl;
    if (ps->p >= ps->end) {
        t->kind = TK_EOF;
        return;
    }
    unsigned char c = (unsigned char)*ps->p;
    bool ok = true;
    switch (c) {
    case '(': t->kind = TK_LPAREN; ps->p++; return;
    case ')': t->kind = TK_RPAREN; ps->p++; return;
    case '{': t->kind = TK_LBRACE; ps->p++; return;
    case '}': t->kind = TK_RBRACE; ps->p++; return;
    case '[': t->kind = TK_LBRACK; ps->p++; return;
    case ']': t->kind = TK_RBRACK; ps->p++; return;
    case ',': t->kind = TK_COMMA; ps->p++; return;
    case ':': t->kind = TK_COLON; ps->p++; return;
    case '=': t->kind = TK_EQ; ps->p++; return;
    case '"':
        t->kind = TK_STRING;
        ok = lex_string(ps, t);
        break;
    case '%':
    case '@':
        t->kind = c == '%' ? TK_BUF : TK_GLOBAL;
        ps->p++;
        ok = lex_name(ps, t);
        break;
    default:
        if (is_digit(c) || (c == '-' && ps->p + 1 < ps->end && (is_digit((unsigned char)ps->p[1]) || ps->p[1] == 'i'))) {
            ok = lex_number(ps, t);
        } else if (is_ident_start(c)) {
            t->kind = TK_IDENT;
            ok = lex_name(ps, t);
            if (ok && (strcmp(t->text, "inf") == 0 || strcmp(t->text, "nan") == 0)) {
                t->kind = TK_FLOAT;
                t->fval = t->text[0] == 'i' ? INFINITY : NAN;
            }
        } else {
            ps->p++;
            if (c < 0x20 || c >= 0x7f) error_at(ps, t, "unexpected byte 0x%02x", c);
            else error_at(ps, t, "unexpected character '%c'", c);
            ok = false;
        }
    }
    if (!ok) t->kind = TK_BAD;
}

/* Is the token after the current one a buffer name?  (`out %y : ...`
 * declares a buffer; `out = ...` assigns a local named out.) */
static bool peek_is_buf(Parser *ps)
{
    const char *p = ps->p, *ls = ps->line_start;
    int line = ps->line;
    Tok save = ps->tok;
    bool failed = ps->failed;
    ps->failed = true; /* a lexical error here is reported when it is reached */
    next(ps);
    bool buf = ps->tok.kind == TK_BUF;
    ps->p = p;
    ps->line_start = ls;
    ps->line = line;
    ps->tok = save;
    ps->failed = failed;
    return buf;
}

/* ==== helpers ============================================================== */

static const char *tok_desc(const Tok *t)
{
    switch (t->kind) {
    case TK_EOF: return "end of file";
    case TK_IDENT: return "a word";
    case TK_INT: return "an integer";
    case TK_FLOAT: return "a number";
    case TK_STRING: return "a string";
    case TK_BUF: return "a buffer";
    case TK_GLOBAL: return "an @name";
    case TK_LPAREN: return "'('";
    case TK_RPAREN: return "')'";
    case TK_LBRACE: return "'{'";
    case TK_RBRACE: return "'}'";
    case TK_LBRACK: return "'['";
    case TK_RBRACK: return "']'";
    case TK_COMMA: return "','";
    case TK_COLON: return "':'";
    case TK_EQ: return "'='";
    case TK_BAD: return "a bad token";
    }
    return "?";
}

static bool is_word(const Parser *ps, const char *w)
{
    return ps->tok.kind == TK_IDENT && strcmp(ps->tok.text, w) == 0;
}

static bool expect(Parser *ps, TokKind kind, const char *what)
{
    if (ps->failed) return false;
    if (ps->tok.kind != kind) {
        error_at(ps, &ps->tok, "expected %s, found %s", what, tok_desc(&ps->tok));
        return false;
    }
    next(ps);
    return true;
}

static bool expect_word(Parser *ps, const char *w)
{
    if (ps->failed) return false;
    if (!is_word(ps, w)) {
        error_at(ps, &ps->tok, "expected '%s', found %s", w, tok_desc(&ps->tok));
        return false;
    }
    next(ps);
    return true;
}

static const SrcFile *file_named(Parser *ps, const char *name)
{
    for (int i = 0; i < ps->n_files; i++)
        if (strcmp(ps->files[i]->name, name) == 0) return ps->files[i];
    SrcFile *f = ARENA_NEW(ps->arena, SrcFile);
    f->name = arena_strdup(ps->arena, name);
    f->text = "";
    ps->files = ir_grow(ps->arena, ps->files, sizeof *ps->files, &ps->cap_files, ps->n_files + 1);
    ps->files[ps->n_files++] = f;
    return f;
}

/* ---- scopes ---- */

static void scope_push(Parser *ps, const char *name, int var)
{
    ps->scope = ir_grow(ps->arena, ps->scope, sizeof *ps->scope, &ps->cap_scope, ps->n_scope + 1);
    ps->scope[ps->n_scope++] = (Scope){name, var};
}

static int scope_find(const Parser *ps, const char *name)
{
    for (int i = ps->n_scope - 1; i >= 0; i--)
        if (strcmp(ps->scope[i].name, name) == 0) return ps->scope[i].var;
    return -1;
}

/* ==== expressions ========================================================== */

static KirExpr *parse_expr(Parser *ps);

/* args := expr (',' expr)*   up to the closing token */
static int parse_args(Parser *ps, TokKind close, const char *close_desc, KirExpr ***out)
{
    KirExpr **args = NULL;
    int n = 0, cap = 0;
    if (ps->tok.kind != close) {
        for (;;) {
            KirExpr *e = parse_expr(ps);
            if (!e) return -1;
            if (n >= IR_MAX_OPERANDS) {
                error_at(ps, &ps->tok, "more than %d operands", IR_MAX_OPERANDS);
                return -1;
            }
            args = ir_grow(ps->arena, args, sizeof *args, &cap, n + 1);
            args[n++] = e;
            if (ps->tok.kind != TK_COMMA) break;
            next(ps);
        }
    }
    if (!expect(ps, close, close_desc)) return -1;
    *out = args;
    return n;
}

/* A number and its optional ':' type suffix. */
static KirExpr *parse_number(Parser *ps)
{
    Tok t = ps->tok;
    next(ps);
    KirType ty = t.kind == TK_INT ? KIR_I64 : KIR_F32;
    if (ps->tok.kind == TK_COLON) {
        next(ps);
        if (ps->tok.kind != TK_IDENT || !kir_type_lookup(ps->tok.text, &ty)) {
            error_at(ps, &ps->tok, "expected a type after ':'");
            return NULL;
        }
        next(ps);
    }
    if (kir_type_is_float(ty)) {
        double v = t.kind == TK_INT ? (double)t.ival : t.fval;
        return kir_const_f(ps->arena, ty, v);
    }
    if (t.kind != TK_INT) {
        error_at(ps, &t, "an integer constant cannot have a fraction");
        return NULL;
    }
    if (ty == KIR_I32 && (t.ival < INT32_MIN || t.ival > INT32_MAX)) {
        error_at(ps, &t, "constant out of range for i32");
        return NULL;
    }
    return kir_const_i(ps->arena, ty, t.ival);
}

/* expr := number [':' TYPE] | IDENT | BUF '[' args ']' | IDENT '(' args ')' */
static KirExpr *parse_expr(Parser *ps)
{
    if (ps->failed) return NULL;
    if (++ps->depth > KIR_MAX_DEPTH) {
        error_at(ps, &ps->tok, "expression nested deeper than %d", KIR_MAX_DEPTH);
        ps->depth--;
        return NULL;
    }
    KirExpr *e = NULL;
    Tok t = ps->tok;
    if (t.kind == TK_INT || t.kind == TK_FLOAT) {
        e = parse_number(ps);
    } else if (t.kind == TK_BUF) {
        next(ps);
        int buf = kir_find_buf(ps->k, t.text);
        if (buf < 0) {
            error_at(ps, &t, "unknown buffer %%%s", t.text);
        } else if (expect(ps, TK_LBRACK, "'['")) {
            KirExpr **idx = NULL;
            int n = parse_args(ps, TK_RBRACK, "']'", &idx);
            if (n >= 0) e = kir_load(ps->arena, ps->k, buf, n, idx);
        }
    } else if (t.kind == TK_IDENT) {
        next(ps);
        if (ps->tok.kind == TK_LPAREN) {
            KirOp op = kir_op_lookup(t.text);
            next(ps);
            if (op == KIR_OP_COUNT) {
                error_at(ps, &t, "unknown op '%s'", t.text);
            } else {
                KirExpr **args = NULL;
                int n = parse_args(ps, TK_RPAREN, "')'", &args);
                if (n >= 0 && n != kir_op_info(op)->arity)
                    error_at(ps, &t, "'%s' takes %d operands, not %d", t.text, kir_op_info(op)->arity, n);
                else if (n >= 0)
                    e = kir_op(ps->arena, op, n, args);
            }
        } else {
            int var = scope_find(ps, t.text);
            if (var < 0) error_at(ps, &t, "unknown variable '%s'", t.text);
            else e = kir_var_ref(ps->arena, ps->k, var);
        }
    } else {
        error_at(ps, &t, "expected an expression, found %s", tok_desc(&t));
    }
    ps->depth--;
    return ps->failed ? NULL : e;
}

/* ==== statements =========================================================== */

static void parse_block(Parser *ps, KirBlock *blk);

static KirStmt *new_stmt(Parser *ps, KirStmtKind kind, const Tok *at)
{
    KirStmt *s = ARENA_NEW(ps->arena, KirStmt);
    s->kind = kind;
    s->var = s->buf = s->loop = -1;
    s->at = tok_loc(ps, at);
    return s;
}

/* for := 'for' IDENT '=' expr ',' expr ['step' INT] '@L'INT '{' stmt* '}' */
static KirStmt *parse_for(Parser *ps)
{
    Tok at = ps->tok;
    next(ps);
    KirStmt *s = new_stmt(ps, KIR_S_FOR, &at);
    Tok name = ps->tok;
    if (!expect(ps, TK_IDENT, "a loop variable") || !expect(ps, TK_EQ, "'='")) return NULL;
    s->lo = parse_expr(ps);
    if (!expect(ps, TK_COMMA, "','")) return NULL;
    s->hi = parse_expr(ps);
    if (ps->failed) return NULL;
    s->step = 1;
    if (is_word(ps, "step")) {
        next(ps);
        Tok st = ps->tok;
        if (!expect(ps, TK_INT, "the step")) return NULL;
        s->step = st.ival;
    }
    Tok id = ps->tok;
    if (!expect(ps, TK_GLOBAL, "a loop id '@L<n>'")) return NULL;
    int64_t n;
    if (id.text[0] != 'L' || !parse_i64(id.text + 1, &n) || n < 0 || n > 100000) {
        error_at(ps, &id, "bad loop id '@%s' (expected @L0 .. @L100000)", id.text);
        return NULL;
    }
    s->loop = (int)n;
    if (s->loop + 1 > ps->max_loop) ps->max_loop = s->loop + 1;
    s->var = kir_add_var(ps->k, ps->arena, name.text, KIR_I64, KIR_V_LOOP);
    int mark = ps->n_scope;
    scope_push(ps, ps->k->vars[s->var].name, s->var);
    parse_block(ps, &s->body);
    ps->n_scope = mark;
    return ps->failed ? NULL : s;
}

/* var := 'var' IDENT ':' TYPE '=' expr */
static KirStmt *parse_var(Parser *ps)
{
    Tok at = ps->tok;
    next(ps);
    KirStmt *s = new_stmt(ps, KIR_S_VAR, &at);
    Tok name = ps->tok;
    if (!expect(ps, TK_IDENT, "a variable name") || !expect(ps, TK_COLON, "':'")) return NULL;
    KirType ty;
    if (ps->tok.kind != TK_IDENT || !kir_type_lookup(ps->tok.text, &ty)) {
        error_at(ps, &ps->tok, "expected a type (f32, f64, i32, i64)");
        return NULL;
    }
    next(ps);
    if (!expect(ps, TK_EQ, "'='")) return NULL;
    s->value = parse_expr(ps);
    if (!s->value) return NULL;
    s->var = kir_add_var(ps->k, ps->arena, name.text, ty, KIR_V_LOCAL);
    scope_push(ps, ps->k->vars[s->var].name, s->var);
    return s;
}

/* store := 'store' BUF '[' args ']' '=' expr */
static KirStmt *parse_store(Parser *ps)
{
    Tok at = ps->tok;
    next(ps);
    KirStmt *s = new_stmt(ps, KIR_S_STORE, &at);
    Tok b = ps->tok;
    if (!expect(ps, TK_BUF, "a buffer")) return NULL;
    s->buf = kir_find_buf(ps->k, b.text);
    if (s->buf < 0) {
        error_at(ps, &b, "unknown buffer %%%s", b.text);
        return NULL;
    }
    if (!expect(ps, TK_LBRACK, "'['")) return NULL;
    s->n_idx = parse_args(ps, TK_RBRACK, "']'", &s->idx);
    if (s->n_idx < 0 || !expect(ps, TK_EQ, "'='")) return NULL;
    s->value = parse_expr(ps);
    return s->value ? s : NULL;
}

/* if := 'if' expr '{' stmt* '}' ['else' '{' stmt* '}'] */
static KirStmt *parse_if(Parser *ps)
{
    Tok at = ps->tok;
    next(ps);
    KirStmt *s = new_stmt(ps, KIR_S_IF, &at);
    s->value = parse_expr(ps);
    if (!s->value) return NULL;
    int mark = ps->n_scope;
    parse_block(ps, &s->body);
    ps->n_scope = mark;
    if (!ps->failed && is_word(ps, "else")) {
        next(ps);
        parse_block(ps, &s->els);
        ps->n_scope = mark;
    }
    return ps->failed ? NULL : s;
}

/* assign := IDENT '=' expr */
static KirStmt *parse_assign(Parser *ps)
{
    Tok at = ps->tok;
    next(ps);
    KirStmt *s = new_stmt(ps, KIR_S_ASSIGN, &at);
    s->var = scope_find(ps, at.text);
    if (s->var < 0) {
        error_at(ps, &at, "unknown variable '%s'", at.text);
        return NULL;
    }
    if (!expect(ps, TK_EQ, "'='")) return NULL;
    s->value = parse_expr(ps);
    return s->value ? s : NULL;
}

static KirStmt *parse_stmt(Parser *ps)
{
    if (ps->tok.kind != TK_IDENT) {
        error_at(ps, &ps->tok, "expected a statement, found %s", tok_desc(&ps->tok));
        return NULL;
    }
    if (is_word(ps, "for")) return parse_for(ps);
    if (is_word(ps, "var")) return parse_var(ps);
    if (is_word(ps, "store")) return parse_store(ps);
    if (is_word(ps, "if")) return parse_if(ps);
    return parse_assign(ps);
}

/* block := '{' stmt* '}'; locals declared in it end with it. */
static void parse_block(Parser *ps, KirBlock *blk)
{
    if (!expect(ps, TK_LBRACE, "'{'")) return;
    if (++ps->depth > KIR_MAX_DEPTH) {
        error_at(ps, &ps->tok, "blocks nested deeper than %d", KIR_MAX_DEPTH);
        ps->depth--;
        return;
    }
    int mark = ps->n_scope;
    while (!ps->failed && ps->tok.kind != TK_RBRACE && ps->tok.kind != TK_EOF) {
        KirStmt *s = parse_stmt(ps);
        if (s) kir_block_push(ps->arena, blk, s);
    }
    ps->n_scope = mark;
    ps->depth--;
    expect(ps, TK_RBRACE, "'}'");
}

/* ==== kernels ============================================================== */

/* buf := ROLE BUF ':' TYPE '[' dim (',' dim)* ']' ['=' '[' number,* ']'] [STRING] */
static void parse_buf(Parser *ps, KirRole role)
{
    next(ps);
    Tok name = ps->tok;
    if (!expect(ps, TK_BUF, "a buffer name '%name'") || !expect(ps, TK_COLON, "':'")) return;
    KirType ty;
    if (ps->tok.kind != TK_IDENT || !kir_type_lookup(ps->tok.text, &ty)) {
        error_at(ps, &ps->tok, "expected an element type (f32, f64, i32, i64)");
        return;
    }
    next(ps);
    if (!expect(ps, TK_LBRACK, "'['")) return;
    int64_t dims[IR_MAX_RANK];
    int rank = 0;
    for (;;) {
        if (rank == IR_MAX_RANK) {
            error_at(ps, &ps->tok, "more than %d dims", IR_MAX_RANK);
            return;
        }
        if (is_word(ps, "T")) {
            dims[rank++] = IR_DIM_T;
        } else if (ps->tok.kind == TK_INT && ps->tok.ival >= 1 && ps->tok.ival <= IR_DIM_LIMIT) {
            dims[rank++] = ps->tok.ival;
        } else {
            error_at(ps, &ps->tok, "expected a dim (a positive integer or T)");
            return;
        }
        next(ps);
        if (ps->tok.kind != TK_COMMA) break;
        next(ps);
    }
    if (!expect(ps, TK_RBRACK, "']'")) return;
    if (ps->k->n_bufs >= KIR_MAX_BUFS) {
        error_at(ps, &name, "more than %d buffers", KIR_MAX_BUFS);
        return;
    }
    int b = kir_add_buf(ps->k, ps->arena, name.text, role, ty, rank, dims, NULL);
    if (ps->tok.kind == TK_EQ) {
        next(ps);
        if (!expect(ps, TK_LBRACK, "'['")) return;
        double *data = NULL;
        int n = 0, cap = 0;
        while (ps->tok.kind == TK_INT || ps->tok.kind == TK_FLOAT) {
            if (n >= KIR_MAX_DATA) {
                error_at(ps, &ps->tok, "more than %d values", KIR_MAX_DATA);
                return;
            }
            data = ir_grow(ps->arena, data, sizeof *data, &cap, n + 1);
            double v = ps->tok.kind == TK_INT ? (double)ps->tok.ival : ps->tok.fval;
            data[n++] = ty == KIR_F32 ? (double)(float)v : v;
            next(ps);
            if (ps->tok.kind != TK_COMMA) break;
            next(ps);
        }
        if (!expect(ps, TK_RBRACK, "']'")) return;
        ps->k->bufs[b].data = data;
        ps->k->bufs[b].n_data = n;
    }
    if (ps->tok.kind == TK_STRING) {
        ps->k->bufs[b].comment = ps->tok.text;
        next(ps);
    }
}

/* schedule := 'schedule' '{' ('chunk' INT | IDENT ('parallel' | 'vec' INT | 'unroll' INT | 'tile' INT | 'jam' INT)*)* '}'
 * `chunk` (a Mamba-2 scan's form) is the kernel's: its body is that form. */
static void parse_schedule(Parser *ps)
{
    next(ps);
    if (!expect(ps, TK_LBRACE, "'{'")) return;
    KirKernel *k = ps->k;
    k->sched = kir_schedule_none(ps->arena, k->n_loops);
    while (!ps->failed && ps->tok.kind == TK_IDENT) {
        Tok id = ps->tok;
        if (strcmp(id.text, "chunk") == 0) {
            next(ps);
            Tok v = ps->tok;
            if (!expect(ps, TK_INT, "a number")) return;
            if (v.ival < 0 || v.ival > CG_SSD_CHUNK_MAX) {
                error_at(ps, &v, "chunk %lld out of range (0 to %d)", (long long)v.ival, CG_SSD_CHUNK_MAX);
                return;
            }
            k->sched.chunk = k->chunk = (int)v.ival;
            continue;
        }
        int64_t n;
        if (id.text[0] != 'L' || !parse_i64(id.text + 1, &n) || n < 0) {
            error_at(ps, &id, "expected a loop id 'L<n>', found '%s'", id.text);
            return;
        }
        if (n >= k->n_loops) {
            error_at(ps, &id, "the schedule refers to loop L%lld, which does not exist", (long long)n);
            return;
        }
        next(ps);
        KirLoopSched *l = &k->sched.loops[n];
        while (!ps->failed && ps->tok.kind == TK_IDENT && !ps->tok.line_start) {
            Tok w = ps->tok;
            next(ps);
            if (strcmp(w.text, "parallel") == 0) {
                l->parallel = true;
                continue;
            }
            int *field = strcmp(w.text, "vec") == 0      ? &l->vec
                         : strcmp(w.text, "unroll") == 0 ? &l->unroll
                         : strcmp(w.text, "tile") == 0   ? &l->tile
                         : strcmp(w.text, "jam") == 0    ? &l->jam
                                                         : NULL;
            if (!field) {
                error_at(ps, &w, "unknown schedule word '%s' (parallel, vec N, unroll N, tile N, jam N)", w.text);
                return;
            }
            Tok v = ps->tok;
            if (!expect(ps, TK_INT, "a number")) return;
            if (v.ival < 0 || v.ival > (1 << 20)) {
                error_at(ps, &v, "schedule value out of range");
                return;
            }
            *field = (int)v.ival;
        }
    }
    expect(ps, TK_RBRACE, "'}'");
}

/* kernel := 'kernel' GLOBAL 'op' STRING [loc] '{' buf* stmt* [schedule] '}'
 * loc    := 'loc' '(' STRING [':' INT ':' INT] ')' */
static KirKernel *parse_kernel(Parser *ps)
{
    Tok at = ps->tok;
    next(ps);
    Tok name = ps->tok;
    if (!expect(ps, TK_GLOBAL, "the kernel name '@name'") || !expect_word(ps, "op")) return NULL;
    Tok op = ps->tok;
    if (!expect(ps, TK_STRING, "the op name (a string)")) return NULL;
    SrcLoc loc = {0};
    if (is_word(ps, "loc")) {
        next(ps);
        if (!expect(ps, TK_LPAREN, "'('")) return NULL;
        Tok f = ps->tok;
        if (!expect(ps, TK_STRING, "a file name")) return NULL;
        loc.file = file_named(ps, f.text);
        if (ps->tok.kind == TK_COLON) {
            next(ps);
            Tok l = ps->tok;
            if (!expect(ps, TK_INT, "a line") || !expect(ps, TK_COLON, "':'")) return NULL;
            Tok c = ps->tok;
            if (!expect(ps, TK_INT, "a column")) return NULL;
            if (l.ival < 1 || l.ival > INT32_MAX || c.ival < 1 || c.ival > INT32_MAX) {
                error_at(ps, &l, "bad line or column");
                return NULL;
            }
            loc.line = loc.end_line = (int)l.ival;
            loc.col = (int)c.ival;
        }
        if (!expect(ps, TK_RPAREN, "')'")) return NULL;
    }
    KirKernel *k = kir_kernel_new(ps->arena, name.text, op.text, loc);
    k->ir_loc = tok_loc(ps, &at);
    ps->k = k;
    ps->n_scope = 0;
    ps->max_loop = 0;
    scope_push(ps, "T", KIR_VAR_T);
    scope_push(ps, "pos", KIR_VAR_POS);
    if (!expect(ps, TK_LBRACE, "'{'")) return NULL;
    KirRole role;
    while (!ps->failed && ps->tok.kind == TK_IDENT && kir_role_lookup(ps->tok.text, &role) && peek_is_buf(ps))
        parse_buf(ps, role);
    while (!ps->failed && ps->tok.kind != TK_RBRACE && ps->tok.kind != TK_EOF && !is_word(ps, "schedule")) {
        KirStmt *s = parse_stmt(ps);
        if (s) kir_block_push(ps->arena, &k->body, s);
    }
    k->n_loops = ps->max_loop;
    k->sched = kir_schedule_none(ps->arena, k->n_loops);
    if (!ps->failed && is_word(ps, "schedule")) parse_schedule(ps);
    if (!expect(ps, TK_RBRACE, "'}'")) return NULL;
    return ps->failed ? NULL : k;
}

bool kir_parse(const SrcFile *src, Arena *arena, Diag *diag, KirKernel ***out, int *n_out)
{
    Parser ps = {0};
    ps.src = src;
    ps.p = ps.line_start = src->text;
    ps.end = src->text + src->len;
    ps.line = 1;
    ps.arena = arena;
    ps.diag = diag;
    KirKernel **ks = NULL;
    int n = 0, cap = 0;
    next(&ps);
    while (ps.tok.kind != TK_EOF) {
        ps.failed = false;
        if (!is_word(&ps, "kernel")) {
            error_at(&ps, &ps.tok, "expected 'kernel', found %s", tok_desc(&ps.tok));
        } else {
            KirKernel *k = parse_kernel(&ps);
            if (k) {
                if (kir_verify(k, diag)) {
                    ks = ir_grow(arena, ks, sizeof *ks, &cap, n + 1);
                    ks[n++] = k;
                } else {
                    ps.errors++;
                }
                continue;
            }
        }
        /* Recover: skip to the next `kernel` at the start of a line. */
        while (ps.tok.kind != TK_EOF && !(ps.tok.line_start && is_word(&ps, "kernel"))) next(&ps);
    }
    *out = ks;
    *n_out = n;
    return ps.errors == 0;
}
