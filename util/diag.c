/* diag.c — the diagnostics engine: `file:line:col: error: message`, the
 * source line, and a caret/underline under the offending range. */
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void diag_init(Diag *d, FILE *out)
{
    memset(d, 0, sizeof *d);
    d->out = out ? out : stderr;
    d->max_errors = 20;
    d->color = isatty(fileno(d->out)) && !getenv("NO_COLOR");
}

SrcLoc loc_file(const SrcFile *f)
{
    SrcLoc l = {0};
    l.file = f;
    return l;
}

SrcLoc loc_none(void)
{
    SrcLoc l = {0};
    return l;
}

/* Find the start and length of 1-based `line` in the file's text. */
static bool find_line(const SrcFile *f, int line, const char **start, size_t *len)
{
    const char *p = f->text, *end = f->text + f->len;
    for (int l = 1; l < line; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) return false;
        p = nl + 1;
    }
    if (p > end) return false;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    *start = p;
    *len = (size_t)((nl ? nl : end) - p);
    return true;
}

/* Print the source line with control bytes made visible as '?', so that a
 * NUL or escape in the input cannot garble the terminal. */
static void print_source_line(Diag *d, const SrcLoc *loc)
{
    const char *s;
    size_t n;
    if (!loc->file || loc->line <= 0 || !find_line(loc->file, loc->line, &s, &n)) return;
    if (n > 200) n = 200; /* long lines are cut; the caret still lines up */
    fputs("  ", d->out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r') continue;
        fputc(c == '\t' ? ' ' : (c < 32 || c == 127) ? '?' : c, d->out);
    }
    fputc('\n', d->out);
    if (loc->col <= 0 || (size_t)loc->col > n + 1) return;
    fputs("  ", d->out);
    /* Columns count bytes; UTF-8 continuation bytes take no screen column. */
    for (int i = 1; i < loc->col; i++) {
        unsigned char c = (unsigned char)s[i - 1];
        if ((c & 0xC0) != 0x80) fputc(' ', d->out);
    }
    if (d->color) fputs("\033[1;32m", d->out);
    fputc('^', d->out);
    if (loc->end_line == loc->line && loc->end_col > loc->col) {
        int end = loc->end_col;
        if ((size_t)end > n) end = (int)n;
        for (int i = loc->col + 1; i <= end; i++) fputc('~', d->out);
    }
    if (d->color) fputs("\033[0m", d->out);
    fputc('\n', d->out);
}

void diag_vreport(Diag *d, DiagLevel lvl, SrcLoc loc, const char *fmt, va_list ap)
{
    if (lvl == DIAG_ERROR) d->n_errors++;
    if (lvl == DIAG_WARNING) d->n_warnings++;
    if (d->suppressed) return;
    if (lvl == DIAG_ERROR && d->max_errors && d->n_errors > d->max_errors) {
        fprintf(d->out, "hyc: too many errors (%d); stopping\n", d->max_errors);
        d->suppressed = true;
        return;
    }
    static const char *names[] = {"error", "warning", "note"};
    static const char *colors[] = {"\033[1;31m", "\033[1;35m", "\033[1;36m"};
    if (d->color) fputs("\033[1m", d->out);
    if (loc.file && loc.line > 0)
        fprintf(d->out, "%s:%d:%d: ", loc.file->name, loc.line, loc.col > 0 ? loc.col : 1);
    else if (loc.file)
        fprintf(d->out, "%s: ", loc.file->name);
    else
        fputs("hyc: ", d->out);
    if (d->color) fputs(colors[lvl], d->out);
    fprintf(d->out, "%s: ", names[lvl]);
    if (d->color) fputs("\033[0m\033[1m", d->out);
    vfprintf(d->out, fmt, ap);
    if (d->color) fputs("\033[0m", d->out);
    fputc('\n', d->out);
    print_source_line(d, &loc);
}

void diag_report(Diag *d, DiagLevel lvl, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(d, lvl, loc, fmt, ap);
    va_end(ap);
}
