/* tunedb.c — the tuning database: the schedules `hyc tune` measured, as
 * plain text (one record per line, tab-separated), read, merged, written
 * sorted, and applied to a program (docs/tuning.md).
 *
 * A record names a kernel by its signature (op, buffer types and shapes,
 * body hash), the tokens per call it was measured at, the thread count,
 * the machine (CPU model, ISA level) and hyc version.  Each key has a
 * DEFAULT record (the heuristic schedule's time) and at most one BEST one;
 * a BEST is applied only when it beats its DEFAULT beyond the noise of both
 * (tunedb_beats), which is what keeps a tuned build never slower. */
#include "codegen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N_FIELDS = 11 };

static const char *const kind_names[] = {"default", "best"};

/* ---- records ------------------------------------------------------------------ */

static bool same_machine(const TuneMachine *x, const TuneMachine *y)
{
    return strcmp(x->cpu, y->cpu) == 0 && strcmp(x->features, y->features) == 0 && strcmp(x->version, y->version) == 0;
}

static bool same_key(const TuneRecord *x, const TuneRecord *y)
{
    return x->kind == y->kind && x->T == y->T && x->threads == y->threads && strcmp(x->sig, y->sig) == 0 &&
           same_machine(&x->mc, &y->mc);
}

void tunedb_put(TuneDb *db, Arena *a, const TuneRecord *r)
{
    TuneRecord c = *r;
    c.sig = arena_strdup(a, r->sig);
    c.sched = arena_strdup(a, r->sched);
    c.mc.cpu = arena_strdup(a, r->mc.cpu);
    c.mc.features = arena_strdup(a, r->mc.features);
    c.mc.version = arena_strdup(a, r->mc.version);
    for (int i = 0; i < db->n; i++)
        if (same_key(&db->recs[i], &c)) {
            db->recs[i] = c; /* the later measurement wins */
            return;
        }
    db->recs = ir_grow(a, db->recs, sizeof *db->recs, &db->cap, db->n + 1);
    db->recs[db->n++] = c;
}

bool tunedb_is_stale(const TuneRecord *r, const TuneMachine *mc) { return !same_machine(&r->mc, mc); }

const TuneRecord *tunedb_find(const TuneDb *db, const char *sig, int64_t T, int threads, const TuneMachine *mc,
                              TuneKind kind)
{
    for (int i = 0; i < db->n; i++) {
        const TuneRecord *r = &db->recs[i];
        if (r->kind == kind && r->T == T && r->threads == threads && strcmp(r->sig, sig) == 0 && same_machine(&r->mc, mc))
            return r;
    }
    return NULL;
}

bool tunedb_beats(const TuneRecord *best, const TuneRecord *def)
{
    if (strcmp(best->sched, def->sched) == 0) return false;
    return best->median_us + best->spread_us < def->median_us - def->spread_us &&
           best->median_us < def->median_us * (1.0 - TUNE_MIN_GAIN);
}

/* ---- the text form ------------------------------------------------------------ */

typedef struct Field {
    const char *s;
    size_t n;
    int col; /* 1-based */
} Field;

static const char *field_str(Arena *a, const Field *f) { return arena_strndup(a, f->s, f->n); }

static bool field_i64(Arena *a, const Field *f, int64_t min, int64_t *out)
{
    return parse_i64(field_str(a, f), out) && *out >= min;
}

static bool field_f64(Arena *a, const Field *f, double *out)
{
    return parse_f64(field_str(a, f), out) && isfinite(*out) && *out >= 0;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }

/* The one-line schedule syntax, checked without a kernel: "none", or
 * segments "L<n> word [int] word [int] ..." separated by "; ", the first
 * of which may be "chunk <int>" (a Mamba-2 scan's form).  The words are
 * the Kernel IR schedule words (checked against a kernel when applied), so
 * fields the Kernel IR gains need no change here. */
static bool sched_syntax_ok(const char *s, size_t n)
{
    if (n == 4 && memcmp(s, "none", 4) == 0) return true;
    size_t i = 0;
    if (n > 6 && memcmp(s, "chunk ", 6) == 0) {
        i = 6;
        if (!is_digit(s[i])) return false;
        while (i < n && is_digit(s[i])) i++;
        if (i == n) return true;
        if (i + 1 >= n || s[i] != ';' || s[i + 1] != ' ') return false;
        i += 2;
    }
    for (;;) {
        if (i >= n || s[i] != 'L') return false;
        i++;
        if (i >= n || !is_digit(s[i])) return false;
        while (i < n && is_digit(s[i])) i++;
        int words = 0;
        while (i < n && s[i] == ' ') {
            i++;
            if (i < n && is_lower(s[i])) {
                while (i < n && is_lower(s[i])) i++;
                words++;
            } else if (i < n && is_digit(s[i]) && words > 0) {
                while (i < n && is_digit(s[i])) i++;
            } else {
                return false;
            }
        }
        if (words == 0) return false;
        if (i == n) return true;
        if (i + 1 >= n || s[i] != ';' || s[i + 1] != ' ') return false;
        i += 2;
    }
}

/* A location on a line of the database (col 0: the whole line). */
static SrcLoc at_line(const SrcFile *src, int line, int col, int end_col)
{
    SrcLoc at = {src, line, col > 0 ? col : 1, line, end_col};
    if (!src) at.line = at.end_line = 0;
    return at;
}

static void line_error(Diag *diag, const SrcFile *src, int line, int col, int len, const char *msg, const Field *f)
{
    SrcLoc at = at_line(src, line, col, len > 1 ? col + len - 1 : 0);
    if (f) diag_error(diag, at, "%s, not '%.*s'", msg, (int)(f->n > 60 ? 60 : f->n), f->s);
    else diag_error(diag, at, "%s", msg);
}

/* One record line (no newline); false after reporting. */
static bool parse_line(TuneDb *db, Arena *a, const SrcFile *src, int line, const char *s, size_t n, Diag *diag)
{
    Field f[N_FIELDS];
    int nf = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '\t') continue;
        if (nf < N_FIELDS) f[nf] = (Field){s + start, i - start, (int)start + 1};
        nf++;
        start = i + 1;
    }
    if (nf != N_FIELDS) {
        diag_error(diag, at_line(src, line, 1, 0),
                   "a tuning record has %d tab-separated fields, this line has %d (docs/tuning.md)", N_FIELDS, nf);
        return false;
    }
    for (int i = 0; i < N_FIELDS; i++)
        if (f[i].n == 0) {
            line_error(diag, src, line, f[i].col, 0, "empty field in a tuning record", NULL);
            return false;
        }
    TuneRecord r = {0};
    int64_t v;
    r.sig = field_str(a, &f[0]);
    if (!field_i64(a, &f[1], 1, &r.T)) {
        line_error(diag, src, line, f[1].col, (int)f[1].n, "T (tokens per call) must be a whole number >= 1", &f[1]);
        return false;
    }
    if (!field_i64(a, &f[2], 1, &v) || v > 4096) {
        line_error(diag, src, line, f[2].col, (int)f[2].n, "threads must be a whole number in [1, 4096]", &f[2]);
        return false;
    }
    r.threads = (int)v;
    r.mc.cpu = field_str(a, &f[3]);
    r.mc.features = field_str(a, &f[4]);
    r.mc.version = field_str(a, &f[5]);
    const char *kind = field_str(a, &f[6]);
    if (strcmp(kind, "default") == 0) r.kind = TUNE_DEFAULT;
    else if (strcmp(kind, "best") == 0) r.kind = TUNE_BEST;
    else {
        line_error(diag, src, line, f[6].col, (int)f[6].n, "the kind is 'default' or 'best'", &f[6]);
        return false;
    }
    if (!sched_syntax_ok(f[7].s, f[7].n)) {
        line_error(diag, src, line, f[7].col, (int)f[7].n,
                   "a schedule is 'none' or loops like 'L0 parallel; L2 vec 16 unroll 2'", &f[7]);
        return false;
    }
    r.sched = field_str(a, &f[7]);
    if (!field_f64(a, &f[8], &r.median_us)) {
        line_error(diag, src, line, f[8].col, (int)f[8].n, "the median (microseconds) must be a number >= 0", &f[8]);
        return false;
    }
    if (!field_f64(a, &f[9], &r.spread_us)) {
        line_error(diag, src, line, f[9].col, (int)f[9].n, "the spread (microseconds) must be a number >= 0", &f[9]);
        return false;
    }
    if (!field_i64(a, &f[10], 1, &v) || v > 1000000000) {
        line_error(diag, src, line, f[10].col, (int)f[10].n, "reps must be a whole number >= 1", &f[10]);
        return false;
    }
    r.reps = (int)v;
    r.src = src;
    r.line = line;
    tunedb_put(db, a, &r);
    return true;
}

bool tunedb_parse(TuneDb *db, Arena *a, const SrcFile *src, Diag *diag)
{
    bool ok = true;
    const char *p = src->text, *end = src->text + src->len;
    for (int line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        size_t n = (size_t)(eol - p);
        if (n > 0 && p[n - 1] == '\r') n--;
        if (memchr(p, '\0', n)) {
            line_error(diag, src, line, 1, 0, "a NUL byte in the tuning database", NULL);
            ok = false;
        } else if (n > 0 && p[0] != '#') {
            ok &= parse_line(db, a, src, line, p, n, diag);
        }
        p = nl ? nl + 1 : end;
    }
    return ok;
}

bool tunedb_load(TuneDb *db, Arena *a, const char *path, bool missing_ok, Diag *diag)
{
    size_t len;
    char *text = read_file(path, &len);
    if (!text) {
        if (missing_ok) return true;
        diag_error(diag, loc_none(), "cannot read the tuning database %s", path);
        return false;
    }
    SrcFile *src = ARENA_NEW(a, SrcFile);
    src->name = arena_strdup(a, path);
    char *copy = arena_alloc(a, len + 1);
    memcpy(copy, text, len);
    copy[len] = 0;
    free(text);
    src->text = copy;
    src->len = len;
    return tunedb_parse(db, a, src, diag);
}

static int cmp_rec(const void *x, const void *y)
{
    const TuneRecord *p = x, *q = y;
    int c;
    if ((c = strcmp(p->sig, q->sig))) return c;
    if (p->T != q->T) return p->T < q->T ? -1 : 1;
    if (p->threads != q->threads) return p->threads < q->threads ? -1 : 1;
    if ((c = strcmp(p->mc.cpu, q->mc.cpu))) return c;
    if ((c = strcmp(p->mc.features, q->mc.features))) return c;
    if ((c = strcmp(p->mc.version, q->mc.version))) return c;
    return (int)p->kind - (int)q->kind;
}

void tunedb_write(StrBuf *sb, const TuneDb *db)
{
    sb_puts(sb, "# hyc tuning database (docs/tuning.md): one record per line, tab-separated fields:\n"
                "# signature, T (tokens per call), threads, cpu, features, hyc version, kind (default|best),\n"
                "# schedule, median us per call, spread us (half the interquartile range), reps\n");
    TuneRecord *sorted = xmalloc(sizeof *sorted * (size_t)(db->n > 0 ? db->n : 1));
    memcpy(sorted, db->recs, sizeof *sorted * (size_t)db->n);
    qsort(sorted, (size_t)db->n, sizeof *sorted, cmp_rec);
    for (int i = 0; i < db->n; i++) {
        const TuneRecord *r = &sorted[i];
        sb_printf(sb, "%s\t%lld\t%d\t%s\t%s\t%s\t%s\t%s\t%.3f\t%.3f\t%d\n", r->sig, (long long)r->T, r->threads, r->mc.cpu,
                  r->mc.features, r->mc.version, kind_names[r->kind], r->sched, r->median_us, r->spread_us, r->reps);
    }
    free(sorted);
}

/* ---- schedules as one line ------------------------------------------------------ */

const char *tunedb_sched_text(Arena *a, const KirKernel *k, const KirSchedule *s)
{
    KirKernel tmp = *k;
    tmp.sched = *s;
    StrBuf block = {0}, out = {0};
    kir_print_schedule(&block, &tmp);
    /* "  schedule {\n    L0 parallel\n  }\n" -> "L0 parallel" */
    const char *p = sb_cstr(&block);
    for (const char *line = p; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        while (n > 0 && *line == ' ') line++, n--;
        if (n > 0 && (line[0] == 'L' || (n > 6 && memcmp(line, "chunk ", 6) == 0))) {
            if (out.len) sb_puts(&out, "; ");
            sb_putn(&out, line, n);
        }
        line += n + (nl ? 1 : 0);
        if (!nl) break;
    }
    const char *r = arena_strdup(a, out.len ? sb_cstr(&out) : "none");
    sb_free(&block);
    sb_free(&out);
    return r;
}

bool tunedb_sched_parse(Arena *a, const KirKernel *k, const char *line, KirSchedule *out, const char **why)
{
    if (!sched_syntax_ok(line, strlen(line))) {
        *why = "not a schedule line";
        return false;
    }
    /* A chunk other than the kernel's: the schedule's loops are those of
     * the kernel rebuilt in that form. */
    int chunk = strncmp(line, "chunk ", 6) == 0 ? atoi(line + 6) : 0;
    if (chunk != k->chunk) {
        const KirKernel *f = chunk >= 0 && chunk <= CG_SSD_CHUNK_MAX ? kir_kernel_rechunk(a, k, chunk) : NULL;
        if (!f) {
            *why = arena_printf(a, "chunk %d: the kernel has no such form", chunk);
            return false;
        }
        k = f;
    }
    /* The kernel's text with this schedule block, through the Kernel IR
     * parser and verifier: every schedule word it knows is understood. */
    StrBuf sb = {0};
    kir_print_kernel(&sb, k, KIR_PRINT_NO_SCHEDULE);
    while (sb.len > 0 && (sb.data[sb.len - 1] == '\n' || sb.data[sb.len - 1] == '}')) {
        bool brace = sb.data[sb.len - 1] == '}';
        sb.len--;
        if (brace) break;
    }
    if (strcmp(line, "none") != 0) {
        sb_puts(&sb, "\n  schedule {\n    ");
        for (const char *c = line; *c; c++) {
            if (c[0] == ';' && c[1] == ' ') {
                sb_puts(&sb, "\n    ");
                c++;
            } else {
                sb_putc(&sb, *c);
            }
        }
        sb_puts(&sb, "\n  }");
    }
    sb_puts(&sb, "\n}\n");
    SrcFile src = {"tuning record", sb_cstr(&sb), sb.len};
    char *msg = NULL;
    size_t msg_len = 0;
    FILE *mem = open_memstream(&msg, &msg_len);
    Diag quiet;
    diag_init(&quiet, mem ? mem : stderr);
    quiet.color = false;
    quiet.max_errors = 1;
    KirKernel **ks = NULL;
    int n = 0;
    bool ok = kir_parse(&src, a, &quiet, &ks, &n) && n == 1 && ks[0]->n_loops == k->n_loops;
    if (mem) fclose(mem);
    if (ok) {
        *out = kir_schedule_copy(a, &ks[0]->sched);
    } else {
        /* the first line of the message: "tuning record:L:C: error: ..." */
        const char *m = msg ? msg : "";
        const char *e = strstr(m, "error: ");
        if (e) m = e + 7;
        size_t len = strcspn(m, "\n");
        *why = len ? arena_strndup(a, m, len) : "it does not verify";
    }
    free(msg);
    sb_free(&sb);
    return ok;
}

/* ---- applying ------------------------------------------------------------------- */

/* The schedule the database chooses for kernel k at T, or NULL for the
 * default. */
static const KirSchedule *choose(const TuneDb *db, Arena *a, const KirKernel *k, const char *sig, int64_t T,
                                 const TuneMachine *mc, int threads, Diag *diag, TuneApplyStats *st)
{
    const TuneRecord *best = tunedb_find(db, sig, T, threads, mc, TUNE_BEST);
    const TuneRecord *def = tunedb_find(db, sig, T, threads, mc, TUNE_DEFAULT);
    if (!best || !def) return NULL;
    /* the default it was compared with must be today's default */
    if (strcmp(def->sched, tunedb_sched_text(a, k, &k->sched)) != 0) {
        st->bad++;
        return NULL;
    }
    if (!tunedb_beats(best, def)) {
        st->not_better++;
        return NULL;
    }
    KirSchedule *s = ARENA_NEW(a, KirSchedule);
    const char *why = NULL;
    if (!tunedb_sched_parse(a, k, best->sched, s, &why)) {
        if (st->bad++ == 0)
            diag_warning(diag, at_line(best->src, best->line, 1, 0),
                         "tuning record for %s not applied: schedule '%s' does not fit it: %s", k->name, best->sched, why);
        return NULL;
    }
    return s;
}

/* Compared as text: every field of KirLoopSched, present and future, and
 * no struct padding. */
static bool sched_same(Arena *a, const KirKernel *k, const KirSchedule *x, const KirSchedule *y)
{
    return x->n_loops == y->n_loops && strcmp(tunedb_sched_text(a, k, x), tunedb_sched_text(a, k, y)) == 0;
}

/* A copy of kernel ki for the decode function's calls, with schedule s. */
static void clone_for(CgProgram *p, Arena *a, int ki, CgFunc *f, const KirSchedule *s)
{
    KirKernel *c = ARENA_NEW(a, KirKernel);
    const KirKernel *form = kir_kernel_for_schedule(a, p->kernels[ki], s); /* s's form of a Mamba-2 scan */
    HYC_ASSERT(form);
    *c = *form;
    c->name = arena_printf(a, "%s_%s", c->name, f->fn->name);
    c->sched = kir_schedule_copy(a, s);
    p->kernels = ir_grow(a, p->kernels, sizeof *p->kernels, &p->cap_kernels, p->n_kernels + 1);
    int ci = p->n_kernels++;
    p->kernels[ci] = c;
    for (int i = 0; i < f->n_calls; i++)
        if (f->calls[i].kernel == ki) f->calls[i].kernel = ci;
}

static bool func_calls(const CgFunc *f, int ki)
{
    for (int i = 0; i < f->n_calls; i++)
        if (f->calls[i].kernel == ki) return true;
    return false;
}

void tunedb_apply(const TuneDb *db, CgProgram *p, Arena *a, const TuneMachine *mc, int threads, Diag *diag,
                  TuneApplyStats *st)
{
    memset(st, 0, sizeof *st);
    const TuneRecord *first_stale = NULL;
    for (int i = 0; i < db->n; i++)
        if (tunedb_is_stale(&db->recs[i], mc) && st->stale++ == 0) first_stale = &db->recs[i];
    if (first_stale)
        diag_warning(diag, at_line(first_stale->src, first_stale->line, 1, 0),
                     "%d tuning record%s of another machine or hyc version not applied (this one: cpu '%s', %s, hyc %s; "
                     "here: '%s', %s, hyc %s)",
                     st->stale, st->stale == 1 ? "" : "s", first_stale->mc.cpu, first_stale->mc.features,
                     first_stale->mc.version, mc->cpu, mc->features, mc->version);
    int n0 = p->n_kernels; /* clones are appended past it */
    for (int ki = 0; ki < n0; ki++) {
        KirKernel *k = p->kernels[ki];
        const char *sig = kir_signature(a, k, false);
        KirSchedule orig = kir_schedule_copy(a, &k->sched); /* set_schedule writes in place */
        const KirSchedule *chosen[8] = {0};
        bool used[8] = {0};
        int nf = p->n_funcs < 8 ? p->n_funcs : 8;
        for (int f = 0; f < nf; f++) {
            used[f] = func_calls(&p->funcs[f], ki);
            if (used[f]) chosen[f] = choose(db, a, k, sig, p->funcs[f].plan_T, mc, threads, diag, st);
        }
        /* the first function that uses k decides k's own schedule; another
         * that wants a different one gets a clone */
        int owner = -1;
        for (int f = 0; f < nf; f++) {
            if (!used[f]) continue;
            const KirSchedule *want = chosen[f] ? chosen[f] : &orig;
            if (owner < 0) {
                owner = f;
                if (chosen[f]) {
                    HYC_ASSERT(cg_program_set_schedule(p, ki, chosen[f], diag));
                    st->applied++;
                }
                continue;
            }
            if (sched_same(a, k, want, &p->kernels[ki]->sched)) {
                if (chosen[f]) st->applied++;
                continue;
            }
            clone_for(p, a, ki, &p->funcs[f], want);
            st->split++;
            if (chosen[f]) st->applied++;
        }
    }
}
