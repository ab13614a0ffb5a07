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

/* Length of a valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
               : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || len > n || (len == 2 && s[0] < 0xC2) || (len == 4 && s[0] > 0xF4)) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (len == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F))) return 0;
    if (len == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F))) return 0;
    return len;
}

/* Print the source line with control bytes and invalid UTF-8 made visible
 * as '?', so that a NUL or escape in the input cannot garble the terminal.
 * `cols[i]` receives the screen column of byte i, so the caret lines up
 * under multi-byte characters. */
static int print_line_text(Diag *d, const char *s, size_t n, int *cols)
{
    const unsigned char *u = (const unsigned char *)s;
    int col = 0;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq_len(u + i, n - i);
        for (size_t j = 0; j < (len ? len : 1); j++) cols[i + j] = col;
        if (len > 1) {
            fwrite(u + i, 1, len, d->out);
        } else {
            unsigned char c = u[i];
            fputc(c == '\t' ? ' ' : (len == 0 || c < 32 || c == 127) ? '?' : c, d->out);
            len = 1;
        }
        col++;
        i += len;
    }
    cols[n] = col;
    return col;
}

static void print_source_line(Diag *d, const SrcLoc *loc)
{
    const char *s;
    size_t n;
    if (!loc->file || loc->line <= 0 || !find_line(loc->file, loc->line, &s, &n)) return;
    if (n > 0 && s[n - 1] == '\r') n--;
    if (n > 200) n = 200; /* long lines are cut; the caret still lines up */
    int *cols = xmalloc(sizeof(int) * (n + 1));
    fputs("  ", d->out);
    print_line_text(d, s, n, cols);
    fputc('\n', d->out);
    if (loc->col > 0 && (size_t)loc->col <= n + 1) {
        int start = cols[loc->col - 1], end = start;
        if (loc->end_line == loc->line && loc->end_col > loc->col)
            end = cols[(size_t)loc->end_col <= n ? (size_t)loc->end_col - 1 : n];
        fprintf(d->out, "  %*s", start, "");
        if (d->color) fputs("\033[1;32m", d->out);
        fputc('^', d->out);
        for (int c = start + 1; c <= end; c++) fputc('~', d->out);
        if (d->color) fputs("\033[0m", d->out);
        fputc('\n', d->out);
    }
    free(cols);
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
