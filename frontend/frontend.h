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
    int len;
} AstList;

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

/* The result of parsing one file: the top-level items. */
typedef struct AstFile {
    const SrcFile *src;
    AstList items;
} AstFile;

/* Parse a whole source.  Reports every syntax error through `diag` and
 * returns NULL if there was any.  All memory comes from `arena`. */
AstFile *parse_source(const SrcFile *src, Arena *arena, Interner *in, Diag *diag);

/* Load a file (or report why not, as `PATH: error: ...`) into the arena. */
SrcFile *src_load(const char *path, Arena *arena, Diag *diag);
SrcFile *src_from_string(const char *name, const char *text, Arena *arena);

/* ==== fmt.c ================================================================= */

/* Canonical text of a parsed file (docs/language.md §1). */
void fmt_file(StrBuf *out, const AstFile *f);

#endif
