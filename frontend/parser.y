/* parser.y — the .hyb grammar (docs/language.md §1).
 *
 * A pure parser with locations; actions only build AST nodes (ast.c).  The
 * meaning of blocks and keys is sema's business, so the grammar stays tiny
 * and every construct of the language shares one syntax.
 */
%define api.pure full
%define api.prefix {hyb_}
%define parse.error custom
%locations
%expect 0
%param {void *scanner}

%code requires {
#include "frontend/frontend.h"
/* flex's bison bridge speaks of YYSTYPE/YYLTYPE. */
#define YYSTYPE HYB_STYPE
#define YYLTYPE HYB_LTYPE
}

%code {
#include "lexer.h"

#define ST (hyb_get_extra(scanner))
#define LOC(l) parse_loc(ST, &(l))

static AstNode *node(void *scanner, AstKind k, const HYB_LTYPE *l)
{
    return ast_new(ST->arena, k, parse_loc(ST, l));
}

static void hyb_error(HYB_LTYPE *l, void *scanner, const char *msg)
{
    ParseState *st = ST;
    if (!st->fatal) diag_error(st->diag, parse_loc(st, l), "%s", msg);
}
}

%union {
    AstNode *node;
    AstList list;
    const char *str;
}

%token <node> INT FLOAT STRING IDENT
%type <node> item value arg key_node
%type <list> items values opt_values args opt_args
%type <node> opt_label

%%

/* file := item* */
file
    : items                         { ST->result = $1; }
    ;

items
    : %empty                        { $$ = (AstList){0}; }
    | items item                    { $$ = $1; if ($2) ast_list_push(ST->arena, &$$, $2); }
    ;

/* item := key '=' value [';'] | IDENT [label] '{' item* '}' [';'] */
item
    : key_node '=' value opt_semi   { $$ = node(scanner, AST_SETTING, &@$);
                                      $$->name = $1->name; $$->name_loc = $1->loc;
                                      $$->key_quoted = $1->kind == AST_STRING;
                                      $$->value = $3; }
    | IDENT opt_label '{' items '}' opt_semi
                                    { $$ = node(scanner, AST_BLOCK, &@$);
                                      $$->name = $1->name; $$->name_loc = $1->loc;
                                      if ($2) { $$->label = $2->kind == AST_STRING ? $2->sval : $2->name;
                                                $$->label_loc = $2->loc; $$->key_quoted = $2->kind == AST_STRING; }
                                      $$->items = $4; }
    | IDENT opt_label '{' error '}' { $$ = NULL; }
    ;

key_node
    : IDENT                         { $$ = $1; }
    | STRING                        { $$ = $1; $$->name = intern(ST->in, $1->sval); }
    ;

opt_label
    : %empty                        { $$ = NULL; }
    | IDENT                         { $$ = $1; }
    | STRING                        { $$ = $1; }
    ;

opt_semi
    : %empty
    | ';'
    ;

/* value := INT | FLOAT | '-' number | STRING | IDENT | list | call */
value
    : INT                           { $$ = $1; }
    | FLOAT                         { $$ = $1; }
    | '-' INT                       { $$ = $2; $$->negative = true; $$->ival = -$$->ival; $$->loc = LOC(@$); }
    | '-' FLOAT                     { $$ = $2; $$->negative = true; $$->fval = -$$->fval; $$->loc = LOC(@$); }
    | STRING                        { $$ = $1; }
    | IDENT                         { $$ = $1; }
    | '[' opt_values ']'            { $$ = node(scanner, AST_LIST, &@$); $$->items = $2; }
    | IDENT '(' opt_args ')'        { $$ = node(scanner, AST_CALL, &@$); $$->name = $1->name;
                                      $$->name_loc = $1->loc; $$->items = $3; }
    ;

opt_values
    : %empty                        { $$ = (AstList){0}; }
    | values                        { $$ = $1; }
    | values ','                    { $$ = $1; }
    ;

values
    : value                         { $$ = (AstList){0}; ast_list_push(ST->arena, &$$, $1); }
    | values ',' value              { $$ = $1; ast_list_push(ST->arena, &$$, $3); }
    ;

opt_args
    : %empty                        { $$ = (AstList){0}; }
    | args                          { $$ = $1; }
    | args ','                      { $$ = $1; }
    ;

args
    : arg                           { $$ = (AstList){0}; ast_list_push(ST->arena, &$$, $1); }
    | args ',' arg                  { $$ = $1; ast_list_push(ST->arena, &$$, $3); }
    ;

/* arg := IDENT '=' value | value */
arg
    : IDENT '=' value               { $$ = node(scanner, AST_SETTING, &@$); $$->name = $1->name;
                                      $$->name_loc = $1->loc; $$->value = $3; }
    | value                         { $$ = $1; }
    ;

%%

/* Token names as a reader says them: "expected a name", but "unexpected
 * name" (article == false). */
static const char *token_desc(yysymbol_kind_t k, bool article)
{
    switch (k) {
    case YYSYMBOL_YYEOF: return "end of file";
    case YYSYMBOL_INT: return article ? "an integer" : "integer";
    case YYSYMBOL_FLOAT: return article ? "a number" : "number";
    case YYSYMBOL_STRING: return article ? "a string" : "string";
    case YYSYMBOL_IDENT: return article ? "a name" : "name";
    default: return yysymbol_name(k);
    }
}

static int yyreport_syntax_error(const yypcontext_t *ctx, void *scanner)
{
    ParseState *st = ST;
    if (st->fatal) return 0;
    yysymbol_kind_t got = yypcontext_token(ctx);
    yysymbol_kind_t exp[8];
    int n = yypcontext_expected_tokens(ctx, exp, 8);
    StrBuf sb = {0};
    sb_printf(&sb, "unexpected %s", token_desc(got, false));
    if (n > 0 && n <= 5) {
        /* A value is expected: say so instead of listing its seven forms. */
        bool wants_value = false, wants_name = false;
        for (int i = 0; i < n; i++) {
            wants_value |= exp[i] == YYSYMBOL_INT;
            wants_name |= exp[i] == YYSYMBOL_IDENT;
        }
        if (wants_value) {
            /* After '-' only a number will do. */
            sb_puts(&sb, wants_name ? ", expected a value" : ", expected a number");
        } else {
            sb_puts(&sb, ", expected ");
            for (int i = 0; i < n; i++)
                sb_printf(&sb, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", token_desc(exp[i], true));
        }
    } else if (n > 5) {
        sb_puts(&sb, ", expected a value");
    }
    diag_error(st->diag, parse_loc(st, yypcontext_location(ctx)), "%s", sb_cstr(&sb));
    sb_free(&sb);
    parse_begin_recovery(st, got == YYSYMBOL_YYEOF ? HYB_EOF : got == YYSYMBOL_8_ ? '{'
                             : got == YYSYMBOL_9_ ? '}' : -1);
    /* At end of file with blocks still open, point at the innermost one. */
    if (got == YYSYMBOL_YYEOF && st->depth > 0) {
        const ParseOpen *o = &st->open[st->depth - 1];
        if (o->what)
            diag_note(st->diag, o->loc, "this '%c' (after '%s') is never closed", o->bracket, o->what);
        else
            diag_note(st->diag, o->loc, "this '%c' is never closed", o->bracket);
    }
    return 0;
}
