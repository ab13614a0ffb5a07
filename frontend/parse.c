/* parse.c — driving the scanner and parser, and the scanner's helpers:
 * locations, numbers, strings, identifiers, comments and nesting limits. */
#include "frontend.h"
#include "parser.h"
#include "lexer.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* ---- AST allocation ------------------------------------------------------- */

AstNode *ast_new(Arena *a, AstKind kind, SrcLoc loc)
{
    AstNode *n = ARENA_NEW(a, AstNode);
    n->kind = kind;
    n->loc = loc;
    return n;
}

void ast_list_push(Arena *a, AstList *l, AstNode *n)
{
    if (l->len == l->cap) {
        int cap = l->cap ? l->cap * 2 : 4;
        AstNode **data = ARENA_NEW_N(a, AstNode *, cap);
        if (l->len) memcpy(data, l->data, sizeof *data * (size_t)l->len);
        l->data = data;
        l->cap = cap;
    }
    l->data[l->len++] = n;
}

const char *ast_kind_name(AstKind k)
{
    static const char *names[] = {"block", "setting", "int", "float", "string",
                                  "ident", "list", "call", "comment"};
    return (unsigned)k < sizeof names / sizeof *names ? names[k] : "?";
}

const char *ast_value_desc(const AstNode *v)
{
    switch (v->kind) {
    case AST_INT: return "an integer";
    case AST_FLOAT: return "a number";
    case AST_STRING: return "a string";
    case AST_IDENT: return "a name";
    case AST_LIST: return "a list";
    case AST_CALL: return "a call";
    case AST_BLOCK: return "a block";
    default: return "a setting";
    }
}

/* ---- sources -------------------------------------------------------------- */

SrcFile *src_from_string(const char *name, const char *text, Arena *arena)
{
    SrcFile *f = ARENA_NEW(arena, SrcFile);
    f->name = arena_strdup(arena, name);
    f->len = strlen(text);
    f->text = arena_strndup(arena, text, f->len);
    return f;
}

SrcFile *src_load(const char *path, Arena *arena, Diag *diag)
{
    size_t len;
    char *text = read_file(path, &len);
    SrcFile *f = ARENA_NEW(arena, SrcFile);
    f->name = arena_strdup(arena, path);
    if (!text) {
        diag_error(diag, loc_file(f), "cannot read file: %s", strerror(errno));
        return NULL;
    }
    f->text = arena_strndup(arena, text, len);
    f->len = len;
    free(text);
    return f;
}

/* ---- scanner helpers ------------------------------------------------------ */

SrcLoc parse_loc(const ParseState *st, const HYB_LTYPE *l)
{
    SrcLoc loc = {st->src, l->first_line, l->first_column, l->last_line, l->last_column};
    return loc;
}

/* Called before every action: the token spans [line:col, ...]; columns are
 * 1-based and inclusive at the end. */
void lex_advance(ParseState *st, HYB_LTYPE *lloc, const char *text, int len)
{
    lloc->first_line = st->line;
    lloc->first_column = st->col;
    for (int i = 0; i < len; i++) {
        if (text[i] == '\n') {
            st->line++;
            st->col = 1;
            st->line_has_token = false;
        } else {
            st->col++;
        }
    }
    lloc->last_line = st->line;
    lloc->last_column = st->col - 1;
    bool blank = len > 0 && strspn(text, " \t\r\n") == (size_t)len;
    if (!blank && text[0] != '#') {
        st->line_has_token = true;
        st->last_token_line = lloc->first_line;
    }
}

void lex_error(ParseState *st, HYB_LTYPE *lloc, const char *fmt, ...)
{
    if (st->fatal) return;
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(st->diag, DIAG_ERROR, parse_loc(st, lloc), fmt, ap);
    va_end(ap);
}

/* Token text for messages: at most 40 bytes, in the arena. */
const char *lex_clip(ParseState *st, const char *text)
{
    size_t n = strlen(text);
    if (n <= 40) return arena_strdup(st->arena, text);
    return arena_printf(st->arena, "%.37s...", text);
}

const char *lex_char_name(char c)
{
    static char buf[8][8];
    static int next;
    char *b = buf[next++ & 7];
    if ((unsigned char)c < 32 || c == 127)
        snprintf(b, 8, "\\x%02X", (unsigned char)c);
    else
        snprintf(b, 8, "%c", c);
    return b;
}

void lex_comment(ParseState *st, HYB_LTYPE *lloc, const char *text, int len)
{
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\r')) len--;
    AstComment c = {lloc->first_line, !st->line_has_token, arena_strndup(st->arena, text, (size_t)len)};
    vec_push(&st->comments, c);
}

bool lex_open(ParseState *st, HYB_LTYPE *lloc, char bracket)
{
    if (st->depth == PARSE_MAX_DEPTH) {
        lex_error(st, lloc, "nesting deeper than %d levels", PARSE_MAX_DEPTH);
        st->fatal = true;
        return false;
    }
    ParseOpen *o = &st->open[st->depth++];
    o->loc = parse_loc(st, lloc);
    o->bracket = bracket;
    o->what = bracket == '{' ? st->last_ident : NULL;
    return true;
}

void lex_close(ParseState *st)
{
    if (st->depth > 0) st->depth--;
}

/* Integers above 2^53 are refused: every number must survive a trip through
 * a double (JSON importers, the IR) unchanged. */
bool lex_int(ParseState *st, HYB_STYPE *lval, HYB_LTYPE *lloc, const char *text)
{
    int64_t v;
    if (strlen(text) > 16 || !parse_i64(text, &v) || v > (INT64_C(1) << 53)) {
        lex_error(st, lloc, "integer '%s' is too large (the limit is 2^53)", lex_clip(st, text));
        return false;
    }
    AstNode *n = ast_new(st->arena, AST_INT, parse_loc(st, lloc));
    n->ival = v;
    n->fval = (double)v;
    n->text = arena_strdup(st->arena, text);
    lval->node = n;
    return true;
}

bool lex_float(ParseState *st, HYB_STYPE *lval, HYB_LTYPE *lloc, const char *text)
{
    double v;
    if (strlen(text) > 64 || !parse_f64(text, &v) || !isfinite(v)) {
        lex_error(st, lloc, "number '%s' is out of range", lex_clip(st, text));
        return false;
    }
    AstNode *n = ast_new(st->arena, AST_FLOAT, parse_loc(st, lloc));
    n->fval = v;
    n->text = arena_strdup(st->arena, text);
    lval->node = n;
    return true;
}

bool lex_ident(ParseState *st, HYB_STYPE *lval, HYB_LTYPE *lloc, const char *text, int len)
{
    if (len > PARSE_MAX_TOKEN) {
        lex_error(st, lloc, "name longer than %d bytes", PARSE_MAX_TOKEN);
        return false;
    }
    AstNode *n = ast_new(st->arena, AST_IDENT, parse_loc(st, lloc));
    n->name = intern_n(st->in, text, (size_t)len);
    st->last_ident = n->name;
    lval->node = n;
    return true;
}

/* text includes both quotes; escapes are \" \\ \n \t. */
bool lex_string(ParseState *st, HYB_STYPE *lval, HYB_LTYPE *lloc, const char *text, int len)
{
    if (len > PARSE_MAX_TOKEN) {
        lex_error(st, lloc, "string longer than %d bytes", PARSE_MAX_TOKEN);
        return false;
    }
    char *out = arena_alloc(st->arena, (size_t)len);
    int o = 0;
    for (int i = 1; i < len - 1; i++) {
        char c = text[i];
        if (c == '\\') {
            char e = text[++i];
            switch (e) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            default: {
                HYB_LTYPE at = *lloc;
                at.first_column += i - 1;
                at.last_column = at.first_column + 1;
                lex_error(st, &at, "unknown escape '\\%s' in string", lex_char_name(e));
                return false;
            }
            }
        }
        out[o++] = c;
    }
    out[o] = 0;
    AstNode *n = ast_new(st->arena, AST_STRING, parse_loc(st, lloc));
    n->sval = out;
    lval->node = n;
    return true;
}

/* ---- error recovery ------------------------------------------------------- */

int hyb_lex_raw(HYB_STYPE *lval, HYB_LTYPE *lloc, yyscan_t scanner);

/* Blocks recover with `IDENT label '{' error '}'`; bison alone would take
 * the first '}' whatever its nesting and report spurious errors after it.
 * So the scanner skips to the '}' that closes the block being recovered. */
void parse_begin_recovery(ParseState *st, int lookahead)
{
    if (lookahead == '}' || lookahead == HYB_EOF) return; /* the '}' is already here */
    /* Braces open around the error, not counting an offending '{' itself. */
    int open = st->brace_depth - (lookahead == '{');
    if (open > 0) st->recover_depth = open - 1;
}

/* Only braces count while skipping: a stray '[' or '(' in the skipped text
 * must not move the point where parsing resumes. */
int hyb_lex(HYB_STYPE *lval, HYB_LTYPE *lloc, yyscan_t scanner)
{
    ParseState *st = hyb_get_extra(scanner);
    for (;;) {
        int tok = hyb_lex_raw(lval, lloc, scanner);
        if (tok == '{') st->brace_depth++;
        if (tok == '}' && st->brace_depth > 0) st->brace_depth--;
        if (st->recover_depth < 0 || tok == HYB_EOF) return tok;
        if (tok == '}' && st->brace_depth <= st->recover_depth) {
            st->recover_depth = -1;
            return tok;
        }
    }
}

/* ---- driver --------------------------------------------------------------- */

int hyb_parse(void *scanner);

AstFile *parse_source(const SrcFile *src, Arena *arena, Interner *in, Diag *diag)
{
    ParseState st = {0};
    st.src = src;
    st.arena = arena;
    st.in = in;
    st.diag = diag;
    st.line = st.col = 1;
    st.recover_depth = -1;
    int errors_before = diag->n_errors;

    yyscan_t scanner;
    if (hyb_lex_init_extra(&st, &scanner) != 0) HYC_DIE("cannot initialise the scanner");
    YY_BUFFER_STATE buf = hyb__scan_bytes(src->text, (int)src->len, scanner);
    if (hyb_parse(scanner) != 0 && !st.fatal) {
        /* The parser gave up; still report the lexical errors in the rest. */
        HYB_STYPE lval;
        HYB_LTYPE lloc;
        while (hyb_lex(&lval, &lloc, scanner) != HYB_EOF) {}
    }
    hyb__delete_buffer(buf, scanner);
    hyb_lex_destroy(scanner);

    AstFile *f = ARENA_NEW(arena, AstFile);
    f->src = src;
    f->items = st.result;
    f->n_comments = st.comments.len;
    f->comments = vec_to_arena(arena, &st.comments);
    vec_free(&st.comments);
    return diag->n_errors > errors_before ? NULL : f;
}
