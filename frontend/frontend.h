/* frontend.h — the internal header of frontend/: the AST of a .hyb file, the
 * parser, the formatter, and (in later sections) sema and importers.
 *
 * The grammar (docs/language.md §1) is a uniform tree of blocks and
 * settings; the meaning of keys lives in sema's schema, not in the grammar.
 */
#ifndef HYC_FRONTEND_H
#define HYC_FRONTEND_H

#include "../util/util.h"

/* ==== ast.c ================================================================ */

typedef enum AstKind {
    AST_BLOCK,   /* kind [label] { items }         kind, label, items */
    AST_SETTING, /* key = value                     key, value */
    AST_INT,     /* text, ival */
    AST_FLOAT,   /* text, fval */
    AST_STRING,  /* sval (unescaped) */
    AST_IDENT,   /* name (also true/false, stored as idents) */
    AST_LIST,    /* items: values */
    AST_CALL,    /* name ( items: AST_SETTING for named args, values otherwise ) */
    AST_COMMENT, /* text: a comment on its own line, kept for fmt */
} AstKind;

typedef struct AstNode AstNode;
typedef struct AstList {
    AstNode **data;
    int len, cap;
} AstList;

void ast_list_push(Arena *a, AstList *l, AstNode *n);
AstNode *ast_new(Arena *a, AstKind kind, SrcLoc loc);

struct AstNode {
    AstKind kind;
    SrcLoc loc;        /* the whole node */
    SrcLoc name_loc;   /* block kind / setting key / call name */
    const char *name;  /* block kind, setting key, call name, identifier (interned) */
    const char *label; /* block label (interned), or NULL */
    SrcLoc label_loc;
    bool key_quoted;   /* setting key / block label was a STRING */
    const char *text;  /* number as written; comment text without the '#'; */
    const char *sval;  /* string value, unescaped */
    int64_t ival;
    double fval;
    bool negative;     /* number had a leading '-' (already applied to ival/fval) */
    AstNode *value;    /* AST_SETTING */
    AstList items;     /* AST_BLOCK, AST_LIST, AST_CALL */
    const char *trailing_comment; /* a comment at the end of this node's line */
};

const char *ast_kind_name(AstKind k);
/* A value's kind in words, for messages: "an integer", "a list", ... */
const char *ast_value_desc(const AstNode *v);

/* ==== parse.c (lexer.l + parser.y) ========================================= */

/* A comment kept for `hyc fmt`: on its own line, or trailing an item. */
typedef struct AstComment {
    int line;
    bool own_line;
    const char *text; /* without the '#' and trailing blanks */
} AstComment;

/* The result of parsing one file: the top-level items and the comments. */
typedef struct AstFile {
    const SrcFile *src;
    AstList items;
    AstComment *comments;
    int n_comments;
} AstFile;

/* Parse a whole source.  Reports every syntax error through `diag` and
 * returns NULL if there was any.  All memory comes from `arena`. */
AstFile *parse_source(const SrcFile *src, Arena *arena, Interner *in, Diag *diag);

/* Load a file (or report why not, as `PATH: error: ...`) into the arena. */
SrcFile *src_load(const char *path, Arena *arena, Diag *diag);
SrcFile *src_from_string(const char *name, const char *text, Arena *arena);

/* ---- scanner/parser shared state (lexer.l, parser.y, parse.c) ---------- */

enum { PARSE_MAX_DEPTH = 64, PARSE_MAX_TOKEN = 4096 };

typedef struct ParseOpen {
    SrcLoc loc;           /* the opening bracket */
    const char *what;     /* the block kind before '{', or NULL */
    char bracket;
} ParseOpen;

typedef struct ParseState {
    const SrcFile *src;
    Arena *arena;
    Interner *in;
    Diag *diag;
    int line, col;              /* position of the next byte */
    bool line_has_token;        /* for classifying comments */
    int last_token_line;
    const char *last_ident;
    ParseOpen open[PARSE_MAX_DEPTH];
    int depth;
    bool fatal;                 /* stop reporting: input abandoned */
    Vec(AstComment) comments;
    AstList result;
} ParseState;

/* Called from the scanner's actions (parse.c). */
struct HYB_LTYPE;
union HYB_STYPE;
void lex_advance(ParseState *st, struct HYB_LTYPE *lloc, const char *text, int len);
void lex_comment(ParseState *st, struct HYB_LTYPE *lloc, const char *text, int len);
bool lex_open(ParseState *st, struct HYB_LTYPE *lloc, char bracket);
void lex_close(ParseState *st);
bool lex_int(ParseState *st, union HYB_STYPE *lval, struct HYB_LTYPE *lloc, const char *text);
bool lex_float(ParseState *st, union HYB_STYPE *lval, struct HYB_LTYPE *lloc, const char *text);
bool lex_ident(ParseState *st, union HYB_STYPE *lval, struct HYB_LTYPE *lloc, const char *text, int len);
bool lex_string(ParseState *st, union HYB_STYPE *lval, struct HYB_LTYPE *lloc, const char *text, int len);
void lex_error(ParseState *st, struct HYB_LTYPE *lloc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *lex_clip(ParseState *st, const char *text);
const char *lex_char_name(char c);
SrcLoc parse_loc(const ParseState *st, const struct HYB_LTYPE *lloc);

/* ==== fmt.c ================================================================= */

/* Canonical text of a parsed file (docs/language.md §1). */
void fmt_file(StrBuf *out, const AstFile *f);

#endif
