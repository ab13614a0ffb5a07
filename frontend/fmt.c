/* fmt.c — `hyc fmt`: the canonical text of a parsed .hyb file.
 *
 * Two-space indentation, one item per line, numbers as written, comments put
 * back where they were (own-line comments before the next item, trailing
 * comments after the item on their line), at most one blank line where the
 * source had any.  Printing the result again gives the same text.
 */
#include "frontend.h"

#include <string.h>

typedef struct Fmt {
    StrBuf *out;
    const AstFile *f;
    int next_comment;
    int last_src_line; /* source line of the last thing printed, 0 at a block start */
} Fmt;

static void indent(Fmt *fm, int depth)
{
    for (int i = 0; i < depth; i++) sb_puts(fm->out, "  ");
}

static bool is_ident(const char *s)
{
    if (!s || !(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))) return false;
    for (const char *p = s + 1; *p; p++)
        if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            return false;
    return true;
}

static void put_name(StrBuf *out, const char *s, bool quoted)
{
    if (quoted || !is_ident(s))
        sb_put_quoted(out, s);
    else
        sb_puts(out, s);
}

static void put_value(StrBuf *out, const AstNode *v)
{
    switch (v->kind) {
    case AST_INT:
    case AST_FLOAT:
        if (v->negative) sb_putc(out, '-');
        sb_puts(out, v->text);
        break;
    case AST_STRING: sb_put_quoted(out, v->sval); break;
    case AST_IDENT: sb_puts(out, v->name); break;
    case AST_LIST:
    case AST_CALL:
        if (v->kind == AST_CALL) sb_puts(out, v->name);
        sb_putc(out, v->kind == AST_LIST ? '[' : '(');
        for (int i = 0; i < v->items.len; i++) {
            const AstNode *e = v->items.data[i];
            if (i) sb_puts(out, ", ");
            if (e->kind == AST_SETTING) {
                sb_printf(out, "%s = ", e->name);
                put_value(out, e->value);
            } else {
                put_value(out, e);
            }
        }
        sb_putc(out, v->kind == AST_LIST ? ']' : ')');
        break;
    default: HYC_UNREACHABLE();
    }
}

/* A blank line where the source had one between two printed things. */
static void maybe_blank(Fmt *fm, int src_line)
{
    if (fm->last_src_line && src_line > fm->last_src_line + 1) sb_putc(fm->out, '\n');
}

/* Own-line comments (and stray ones) that come before source line `line`. */
static void comments_before(Fmt *fm, int line, int depth)
{
    while (fm->next_comment < fm->f->n_comments) {
        const AstComment *c = &fm->f->comments[fm->next_comment];
        if (c->line >= line) break;
        maybe_blank(fm, c->line);
        indent(fm, depth);
        sb_printf(fm->out, "#%s\n", c->text);
        /* A comment from inside the previous item's value (a multi-line list)
         * comes before that item's end: don't step back, or a blank line
         * would appear where the source had none. */
        if (c->line > fm->last_src_line) fm->last_src_line = c->line;
        fm->next_comment++;
    }
}

/* A trailing comment on source line `line`, appended to the current line. */
static void trailing_comment(Fmt *fm, int line)
{
    while (fm->next_comment < fm->f->n_comments) {
        const AstComment *c = &fm->f->comments[fm->next_comment];
        if (c->line != line || c->own_line) break;
        sb_printf(fm->out, "  #%s", c->text);
        fm->next_comment++;
    }
}

static void fmt_items(Fmt *fm, const AstList *items, int depth);

static void fmt_item(Fmt *fm, const AstNode *it, int depth)
{
    comments_before(fm, it->loc.line, depth);
    maybe_blank(fm, it->loc.line);
    indent(fm, depth);
    if (it->kind == AST_SETTING) {
        put_name(fm->out, it->name, it->key_quoted);
        sb_puts(fm->out, " = ");
        put_value(fm->out, it->value);
        trailing_comment(fm, it->loc.end_line);
        sb_putc(fm->out, '\n');
        fm->last_src_line = it->loc.end_line;
        return;
    }
    sb_puts(fm->out, it->name);
    if (it->label) {
        sb_putc(fm->out, ' ');
        put_name(fm->out, it->label, it->key_quoted);
    }
    if (it->items.len == 0 && !(fm->next_comment < fm->f->n_comments &&
                                fm->f->comments[fm->next_comment].line < it->loc.end_line)) {
        sb_puts(fm->out, " {}");
        trailing_comment(fm, it->loc.end_line);
        sb_putc(fm->out, '\n');
        fm->last_src_line = it->loc.end_line;
        return;
    }
    sb_puts(fm->out, " {");
    trailing_comment(fm, it->loc.line);
    sb_putc(fm->out, '\n');
    fm->last_src_line = 0;
    fmt_items(fm, &it->items, depth + 1);
    comments_before(fm, it->loc.end_line, depth + 1);
    indent(fm, depth);
    sb_putc(fm->out, '}');
    trailing_comment(fm, it->loc.end_line);
    sb_putc(fm->out, '\n');
    fm->last_src_line = it->loc.end_line;
}

static void fmt_items(Fmt *fm, const AstList *items, int depth)
{
    for (int i = 0; i < items->len; i++) fmt_item(fm, items->data[i], depth);
}

void fmt_file(StrBuf *out, const AstFile *f)
{
    Fmt fm = {out, f, 0, 0};
    fmt_items(&fm, &f->items, 0);
    comments_before(&fm, 1 << 30, 0);
}
