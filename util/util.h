/* util.h — shared utilities for every stage of hyc: arenas, growable arrays,
 * string interning, source files and the diagnostics engine.
 *
 * Memory model: one Arena per compilation.  Everything built from a source
 * (tokens' text, AST, IR, diagnostics) lives in it and is freed at once with
 * arena_free().  Nothing here is freed piecemeal.
 */
#ifndef HYC_UTIL_H
#define HYC_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HYC_VERSION "0.1.0"

/* Exit codes of the hyc CLI (and of every internal tool). */
enum {
    HYC_EXIT_OK = 0,
    HYC_EXIT_USER = 1,     /* bad input: diagnostics were printed */
    HYC_EXIT_USAGE = 2,    /* bad command line */
    HYC_EXIT_INTERNAL = 70 /* a bug in hyc (EX_SOFTWARE) */
};

/* ---- internal errors ------------------------------------------------------ */

/* An internal bug: print file:line and the message, exit 70.  Never used for
 * anything the user can cause. */
_Noreturn void hyc_die_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define HYC_DIE(...) hyc_die_at(__FILE__, __LINE__, __VA_ARGS__)
#define HYC_ASSERT(c)                                                        \
    do {                                                                     \
        if (!(c)) hyc_die_at(__FILE__, __LINE__, "assertion failed: %s", #c); \
    } while (0)
#define HYC_UNREACHABLE() hyc_die_at(__FILE__, __LINE__, "unreachable")

/* malloc/realloc/calloc that die (exit 70) on out-of-memory. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* ---- arena ---------------------------------------------------------------- */

typedef struct ArenaBlock ArenaBlock;
typedef struct Arena {
    ArenaBlock *head;
    size_t total; /* bytes handed out, for statistics */
} Arena;

void arena_init(Arena *a);
void arena_free(Arena *a);
/* Zeroed memory, aligned to 16 bytes. */
void *arena_alloc(Arena *a, size_t n);
#define ARENA_NEW(a, T) ((T *)arena_alloc((a), sizeof(T)))
#define ARENA_NEW_N(a, T, n) ((T *)arena_alloc((a), sizeof(T) * (size_t)(n)))
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *arena_vprintf(Arena *a, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* ---- growable arrays (heap, owned by whoever declares them) ---------------
 *   Vec(int) v = {0};  vec_push(&v, 3);  v.data[0];  vec_free(&v);
 * Arena-backed data that must outlive the builder is copied out with
 * vec_to_arena(). */
#define Vec(T)     \
    struct {       \
        T *data;   \
        int len;   \
        int cap;   \
    }
#define vec_push(v, x)                                                       \
    do {                                                                     \
        if ((v)->len == (v)->cap) {                                          \
            (v)->cap = (v)->cap ? (v)->cap * 2 : 8;                          \
            (v)->data = xrealloc((v)->data, sizeof(*(v)->data) * (size_t)(v)->cap); \
        }                                                                    \
        (v)->data[(v)->len++] = (x);                                         \
    } while (0)
#define vec_free(v)          \
    do {                     \
        free((v)->data);     \
        (v)->data = NULL;    \
        (v)->len = (v)->cap = 0; \
    } while (0)
#define vec_last(v) ((v)->data[(v)->len - 1])
#define vec_to_arena(a, v) \
    ((v)->len ? memcpy(arena_alloc((a), sizeof(*(v)->data) * (size_t)(v)->len), (v)->data, sizeof(*(v)->data) * (size_t)(v)->len) : NULL)

/* ---- string buffer (heap) ------------------------------------------------- */

typedef struct StrBuf {
    char *data; /* always NUL-terminated when len > 0 or after sb_cstr */
    size_t len, cap;
} StrBuf;

void sb_putc(StrBuf *sb, char c);
void sb_puts(StrBuf *sb, const char *s);
void sb_putn(StrBuf *sb, const char *s, size_t n);
void sb_printf(StrBuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(StrBuf *sb, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
const char *sb_cstr(StrBuf *sb); /* "" when empty */
/* s in double quotes with \" \\ \n \t escaped and other control bytes as
 * \xNN: the string syntax every hyc text form (.hyb, IR, kernel IR) reads. */
void sb_put_quoted(StrBuf *sb, const char *s);
void sb_free(StrBuf *sb);

/* Shortest decimal text that parses back to the same float/double. */
void fmt_f32(char out[32], float x);
void fmt_f64(char out[32], double x);

/* ---- string interning ----------------------------------------------------- */

/* Interned strings compare by pointer.  The table is per compilation and its
 * strings live in the arena given at init. */
typedef struct Interner {
    Arena *arena;
    const char **slots;
    size_t cap, len;
} Interner;

void intern_init(Interner *in, Arena *a);
void intern_free(Interner *in); /* frees the table, not the strings */
const char *intern(Interner *in, const char *s);
const char *intern_n(Interner *in, const char *s, size_t n);

/* ---- files ---------------------------------------------------------------- */

/* Read a whole file into a heap buffer (NUL-terminated; *len excludes the
 * NUL).  Returns NULL and sets errno on failure. */
char *read_file(const char *path, size_t *len);
/* Write atomically: to PATH.tmp.XXXX then rename, so that a failure never
 * leaves a half-written output.  Returns false (errno set) on failure. */
bool write_file_atomic(const char *path, const void *data, size_t len);

/* ---- source locations and diagnostics ------------------------------------- */

/* A loaded source text.  Lines are found on demand for caret display. */
typedef struct SrcFile {
    const char *name; /* as given on the command line */
    const char *text; /* NUL-terminated copy (NULs inside are kept; len says) */
    size_t len;
} SrcFile;

/* Locations are 1-based; col counts bytes.  A range on one line is shown with
 * a caret and tildes; end_col is inclusive (0 means a single caret). */
typedef struct SrcLoc {
    const SrcFile *file; /* NULL: no location (e.g. a command-line value) */
    int line, col;
    int end_line, end_col;
} SrcLoc;

typedef enum DiagLevel { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } DiagLevel;

/* The diagnostics engine.  Every stage reports through it; it prints as it
 * goes (to `out`, stderr by default) and counts errors.  After max_errors
 * errors it stops printing and says so once. */
typedef struct Diag {
    FILE *out;
    int n_errors, n_warnings;
    int max_errors;   /* 0 = no limit; default 20 */
    bool color;       /* ANSI colour, when out is a terminal */
    bool suppressed;  /* max_errors reached */
} Diag;

void diag_init(Diag *d, FILE *out);
void diag_report(Diag *d, DiagLevel lvl, SrcLoc loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_vreport(Diag *d, DiagLevel lvl, SrcLoc loc, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
#define diag_error(d, loc, ...) diag_report((d), DIAG_ERROR, (loc), __VA_ARGS__)
#define diag_warning(d, loc, ...) diag_report((d), DIAG_WARNING, (loc), __VA_ARGS__)
#define diag_note(d, loc, ...) diag_report((d), DIAG_NOTE, (loc), __VA_ARGS__)
/* A location that only names a file (line 0): "file: error: ...". */
SrcLoc loc_file(const SrcFile *f);
SrcLoc loc_none(void);

/* "did you mean" support: the candidate closest to `word` by edit distance,
 * or NULL if none is close enough (distance <= max(1, len/3)). */
const char *suggest_word(const char *word, const char *const *candidates, int n);
int edit_distance(const char *a, const char *b);

/* Checked number parsing for outside input: false on junk or overflow. */
bool parse_i64(const char *s, int64_t *out);
bool parse_f64(const char *s, double *out);

#endif
