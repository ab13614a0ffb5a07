/* check_tunedb.c — unit tests of the tuning database (codegen/tunedb.c):
 * parsing and its errors (with line and column), merging and dedup, the
 * sorted text form, staleness, the noise margin, schedule lines through
 * the Kernel IR parser, and deterministic replay on a lowered program
 * (including the decode clone of a kernel both functions call). */
#include "codegen/codegen.h"
#include "interp/interp.h"
#include "passes/passes.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const TuneMachine HERE = {"Test CPU 9000", "x86-64-v4/avx512f", HYC_VERSION};

/* ---- helpers --------------------------------------------------------------------------- */

typedef struct Ctx {
    Arena arena;
    Interner in;
    Diag diag;
    char *msg;
    size_t msg_len;
    FILE *out;
} Ctx;

static Ctx C;

static void setup(void)
{
    arena_init(&C.arena);
    intern_init(&C.in, &C.arena);
    C.msg = NULL;
    C.out = open_memstream(&C.msg, &C.msg_len);
    diag_init(&C.diag, C.out);
    C.diag.color = false;
}

static void teardown(void)
{
    fclose(C.out);
    free(C.msg);
    intern_free(&C.in);
    arena_free(&C.arena);
}

static const char *messages(void)
{
    fflush(C.out);
    return C.msg ? C.msg : "";
}

static const SrcFile *text_file(const char *name, const char *text)
{
    SrcFile *f = ARENA_NEW(&C.arena, SrcFile);
    f->name = name;
    f->text = arena_strdup(&C.arena, text);
    f->len = strlen(text);
    return f;
}

static bool parse(TuneDb *db, const char *text) { return tunedb_parse(db, &C.arena, text_file("t.db", text), &C.diag); }

static const char *write_text(const TuneDb *db)
{
    StrBuf sb = {0};
    tunedb_write(&sb, db);
    const char *s = arena_strdup(&C.arena, sb_cstr(&sb));
    sb_free(&sb);
    return s;
}

/* A record line: sig, T, threads, machine, kind, schedule, median, spread. */
static const char *rec(const char *sig, int T, int threads, const TuneMachine *mc, const char *kind, const char *sched,
                       double med, double spread)
{
    return arena_printf(&C.arena, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%.3f\t%.3f\t9\n", sig, T, threads, mc->cpu,
                        mc->features, mc->version, kind, sched, med, spread);
}

/* ---- parsing ------------------------------------------------------------------------- */

START_TEST(test_parse_good)
{
    TuneDb db = {0};
    const char *text = arena_printf(&C.arena, "# a comment\n\n%s%s", rec("matmul in:f32[T, 8] #1", 8, 2, &HERE, "default", "L0 parallel; L2 vec 16 unroll 2", 10, 0.5),
                                    rec("matmul in:f32[T, 8] #1", 8, 2, &HERE, "best", "L2 vec 8 unroll 4", 7, 0.25));
    ck_assert_msg(parse(&db, text), "%s", messages());
    ck_assert_int_eq(db.n, 2);
    const TuneRecord *d = tunedb_find(&db, "matmul in:f32[T, 8] #1", 8, 2, &HERE, TUNE_DEFAULT);
    const TuneRecord *b = tunedb_find(&db, "matmul in:f32[T, 8] #1", 8, 2, &HERE, TUNE_BEST);
    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(d->sched, "L0 parallel; L2 vec 16 unroll 2");
    ck_assert(d->median_us == 10.0 && d->spread_us == 0.5 && d->reps == 9 && d->line == 3);
    ck_assert_int_eq(b->line, 4);
    /* CRLF line ends read the same */
    TuneDb db2 = {0};
    const char *crlf = arena_printf(&C.arena, "%.*s\r\n", (int)strlen(rec("s", 1, 1, &HERE, "default", "none", 1, 0)) - 1,
                                    rec("s", 1, 1, &HERE, "default", "none", 1, 0));
    ck_assert_msg(parse(&db2, crlf), "%s", messages());
    ck_assert_int_eq(db2.n, 1);
    ck_assert_str_eq(db2.recs[0].sched, "none");
}
END_TEST

/* Each malformed line is an error naming its line (and the field's column);
 * the good lines around it still load. */
START_TEST(test_parse_errors)
{
    static const struct {
        const char *line, *where, *what;
    } bad[] = {
        {"only\tthree\tfields\n", "t.db:2:1:", "11 tab-separated fields"},
        {"s\t0\t2\tcpu\tf\tv\tdefault\tnone\t1\t0\t9\n", "t.db:2:3:", "T (tokens per call)"},
        {"s\t1\tx\tcpu\tf\tv\tdefault\tnone\t1\t0\t9\n", "t.db:2:5:", "threads"},
        {"s\t1\t2\tcpu\tf\tv\tfastest\tnone\t1\t0\t9\n", "t.db:2:", "'default' or 'best'"},
        {"s\t1\t2\tcpu\tf\tv\tbest\tL0 parallel;L1 vec 8\t1\t0\t9\n", "t.db:2:", "a schedule is"},
        {"s\t1\t2\tcpu\tf\tv\tbest\tvec 8\t1\t0\t9\n", "t.db:2:", "a schedule is"},
        {"s\t1\t2\tcpu\tf\tv\tbest\tL2\t1\t0\t9\n", "t.db:2:", "a schedule is"},
        {"s\t1\t2\tcpu\tf\tv\tbest\tnone\t-1\t0\t9\n", "t.db:2:", "the median"},
        {"s\t1\t2\tcpu\tf\tv\tbest\tnone\tnan\t0\t9\n", "t.db:2:", "the median"},
        {"s\t1\t2\tcpu\tf\tv\tbest\tnone\t1\tx\t9\n", "t.db:2:", "the spread"},
        {"s\t1\t2\tcpu\tf\tv\tbest\tnone\t1\t0\t0\n", "t.db:2:", "reps"},
        {"s\t1\t2\t\tf\tv\tbest\tnone\t1\t0\t3\n", "t.db:2:", "empty field"},
        {"s\t1\t2\tcpu\tf\tv\tbest\tchunk x; L0 parallel\t1\t0\t9\n", "t.db:2:", "a schedule is"},
        {"s\t1\t2\tcpu\tf\tv\tbest\tchunk 16;L0 parallel\t1\t0\t9\n", "t.db:2:", "a schedule is"},
        {"s\t1\t2\tcpu\tf\tv\tbest\tL0 parallel; chunk 16\t1\t0\t9\n", "t.db:2:", "a schedule is"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        teardown();
        setup();
        TuneDb db = {0};
        const char *text = arena_printf(&C.arena, "%s%s%s", rec("a", 1, 1, &HERE, "default", "none", 1, 0), bad[i].line,
                                        rec("b", 1, 1, &HERE, "default", "none", 1, 0));
        ck_assert_msg(!parse(&db, text), "case %zu parsed", i);
        const char *m = messages();
        ck_assert_msg(strstr(m, bad[i].where) && strstr(m, bad[i].what), "case %zu: %s", i, m);
        ck_assert_int_eq(db.n, 2); /* the good lines */
        ck_assert_int_eq(C.diag.n_errors, 1);
    }
}
END_TEST

START_TEST(test_load_missing)
{
    TuneDb db = {0};
    ck_assert(tunedb_load(&db, &C.arena, "/nonexistent/hyc.db", true, &C.diag));
    ck_assert_int_eq(db.n, 0);
    ck_assert(!tunedb_load(&db, &C.arena, "/nonexistent/hyc.db", false, &C.diag));
    ck_assert_ptr_nonnull(strstr(messages(), "cannot read the tuning database"));
}
END_TEST

/* ---- merging, the text form, staleness ------------------------------------------------- */

START_TEST(test_merge_dedup)
{
    TuneDb db = {0};
    ck_assert(parse(&db, arena_printf(&C.arena, "%s%s", rec("k", 8, 2, &HERE, "default", "L0 parallel", 10, 1),
                                      rec("k", 8, 2, &HERE, "best", "L0 parallel tile 4", 8, 1))));
    /* a second run: the same keys again (the later measurement wins), plus
     * other T, threads and machines (kept apart) */
    TuneMachine other = {"Other CPU", HERE.features, HERE.version};
    ck_assert(parse(&db, arena_printf(&C.arena, "%s%s%s%s", rec("k", 8, 2, &HERE, "best", "L0 parallel tile 16", 7, 1),
                                      rec("k", 1, 2, &HERE, "default", "none", 1, 0),
                                      rec("k", 8, 1, &HERE, "default", "none", 20, 1),
                                      rec("k", 8, 2, &other, "default", "none", 5, 1))));
    ck_assert_int_eq(db.n, 5);
    const TuneRecord *b = tunedb_find(&db, "k", 8, 2, &HERE, TUNE_BEST);
    ck_assert_str_eq(b->sched, "L0 parallel tile 16");
    ck_assert(b->median_us == 7.0);
    ck_assert(tunedb_find(&db, "k", 8, 2, &HERE, TUNE_DEFAULT)->median_us == 10.0);
    ck_assert(tunedb_find(&db, "k", 8, 2, &other, TUNE_DEFAULT)->median_us == 5.0);
    ck_assert_ptr_null(tunedb_find(&db, "k", 4, 2, &HERE, TUNE_DEFAULT));
    /* put: the same */
    TuneRecord r = *b;
    r.median_us = 6.5;
    tunedb_put(&db, &C.arena, &r);
    ck_assert_int_eq(db.n, 5);
    ck_assert(tunedb_find(&db, "k", 8, 2, &HERE, TUNE_BEST)->median_us == 6.5);
}
END_TEST

/* The text is sorted: the same records in any order give the same bytes,
 * and it reads back to itself. */
START_TEST(test_write_sorted_roundtrip)
{
    const char *lines[] = {rec("b", 8, 2, &HERE, "best", "L1 vec 8", 3, 0.125), rec("a", 1, 2, &HERE, "default", "none", 1, 0),
                           rec("b", 8, 2, &HERE, "default", "L1 vec 16", 4, 0.5), rec("a", 8, 1, &HERE, "default", "none", 9, 1)};
    TuneDb x = {0}, y = {0}, z = {0};
    ck_assert(parse(&x, arena_printf(&C.arena, "%s%s%s%s", lines[0], lines[1], lines[2], lines[3])));
    ck_assert(parse(&y, arena_printf(&C.arena, "%s%s%s%s", lines[3], lines[2], lines[1], lines[0])));
    const char *tx = write_text(&x), *ty = write_text(&y);
    ck_assert_str_eq(tx, ty);
    ck_assert(parse(&z, tx));
    ck_assert_str_eq(write_text(&z), tx);
    /* sorted: a before b, T 1 before 8, default before best */
    const char *a1 = strstr(tx, "a\t1\t"), *a8 = strstr(tx, "a\t8\t"), *bd = strstr(tx, "\tdefault\tL1 vec 16"),
               *bb = strstr(tx, "\tbest\t");
    ck_assert(a1 && a8 && bd && bb && a1 < a8 && a8 < bd && bd < bb);
}
END_TEST

START_TEST(test_stale_and_margin)
{
    TuneMachine newer = {HERE.cpu, HERE.features, "9.9.9"}, avx2 = {HERE.cpu, "x86-64-v3/avx2+fma", HERE.version};
    TuneRecord r = {.sig = "k", .T = 1, .threads = 1, .mc = HERE, .kind = TUNE_DEFAULT, .sched = "none", .reps = 3};
    ck_assert(!tunedb_is_stale(&r, &HERE));
    ck_assert(tunedb_is_stale(&r, &newer));
    ck_assert(tunedb_is_stale(&r, &avx2));
    TuneRecord def = r, best = r;
    def.median_us = 100;
    def.spread_us = 2;
    best.kind = TUNE_BEST;
    best.sched = "L0 parallel";
    best.median_us = 90;
    best.spread_us = 2;
    ck_assert(tunedb_beats(&best, &def));
    best.median_us = 98; /* inside the spreads */
    ck_assert(!tunedb_beats(&best, &def));
    best.median_us = 97.5; /* outside the spreads, under TUNE_MIN_GAIN */
    def.spread_us = best.spread_us = 0.1;
    ck_assert(!tunedb_beats(&best, &def));
    best.median_us = 50;
    best.sched = "none"; /* the default itself never "beats" */
    ck_assert(!tunedb_beats(&best, &def));
}
END_TEST

/* ---- programs ----------------------------------------------------------------------- */

/* prefill and decode share the T-free kernel exp(@g); the matmuls differ. */
static const char MODULE[] =
    "module @tune {\n"
    "  max_seq = 32\n"
    "  param @embed : f32[16, 64]\n"
    "  param @w : f32[48, 64]\n"
    "  param @g : f32[1, 48]\n"
    "  func @prefill(%tokens: i32[T]) -> f32[T, 48] {\n"
    "    %x = embed(%tokens, @embed) : f32[T, 64]\n"
    "    %y = matmul(%x, @w) : f32[T, 48]\n"
    "    %e = exp(@g) : f32[1, 48]\n"
    "    %z = add(%y, %e) : f32[T, 48]\n"
    "    return %z\n"
    "  }\n"
    "  func @decode(%tokens: i32[1]) -> f32[1, 48] {\n"
    "    %x = embed(%tokens, @embed) : f32[1, 64]\n"
    "    %y = matmul(%x, @w) : f32[1, 48]\n"
    "    %e = exp(@g) : f32[1, 48]\n"
    "    %z = add(%y, %e) : f32[1, 48]\n"
    "    return %z\n"
    "  }\n"
    "}\n";

/* The module text at -O1, lowered for the generic target, prefill batches of 8. */
static CgProgram *program_of(const char *name, const char *text)
{
    IrModule *m = ir_parse(text_file(name, text), &C.arena, &C.in, &C.diag);
    ck_assert_msg(m, "%s", messages());
    PassOptions o = {0};
    ck_assert_msg(pass_run_pipeline(&m, 1, &o, &C.diag), "%s", messages());
    CgOptions co = {0};
    co.target = cg_target_generic();
    co.max_batch = 8;
    CgProgram *p = cg_lower_module(&C.arena, m, &co, &C.diag);
    ck_assert_msg(p, "%s", messages());
    return p;
}

static CgProgram *program(void) { return program_of("tune.ir", MODULE); }

static int kernel_of(const CgProgram *p, const char *op, bool with_T)
{
    for (int i = 0; i < p->n_kernels; i++) {
        const KirKernel *k = p->kernels[i];
        bool has_T = false;
        for (int b = 0; b < k->n_bufs; b++) has_T |= k->bufs[b].rank > 0 && k->bufs[b].dims[0] == IR_DIM_T;
        if (strcmp(k->op, op) == 0 && has_T == with_T) return i;
    }
    ck_abort_msg("no %s kernel", op);
    return -1;
}

static const char *emit(const CgProgram *p)
{
    StrBuf sb = {0};
    cg_emit_c(&sb, p);
    const char *s = arena_strdup(&C.arena, sb_cstr(&sb));
    sb_free(&sb);
    return s;
}

/* Every variant of every kernel: one line, and back to the same schedule. */
START_TEST(test_sched_lines)
{
    CgProgram *p = program();
    CgTarget t4;
    cg_target_lookup("x86-64-v4", &t4);
    int total = 0, jams = 0;
    for (int i = 0; i < p->n_kernels; i++) {
        KirSchedule vs[64];
        int n = kir_schedule_variants(&C.arena, p->kernels[i], &t4, vs, 64);
        for (int v = 0; v < n; v++) {
            const char *line = tunedb_sched_text(&C.arena, p->kernels[i], &vs[v]);
            ck_assert(!strchr(line, '\t') && !strchr(line, '\n'));
            jams += strstr(line, " jam ") != NULL; /* a field added after the database: it flows through */
            KirSchedule back;
            const char *why = NULL;
            ck_assert_msg(tunedb_sched_parse(&C.arena, p->kernels[i], line, &back, &why), "%s: %s", line, why);
            ck_assert_int_eq(back.n_loops, vs[v].n_loops);
            ck_assert_str_eq(tunedb_sched_text(&C.arena, p->kernels[i], &back), line);
            total++;
        }
    }
    ck_assert_int_gt(total, 10);
    ck_assert_int_gt(jams, 0);
    /* what the kernel cannot take is refused, with the verifier's reason */
    int mm = kernel_of(p, "matmul", true);
    KirSchedule s;
    const char *why = NULL;
    ck_assert(!tunedb_sched_parse(&C.arena, p->kernels[mm], "L2 parallel", &s, &why));
    ck_assert_ptr_nonnull(why);
    ck_assert(!tunedb_sched_parse(&C.arena, p->kernels[mm], "L9 vec 8", &s, &why));
    ck_assert(!tunedb_sched_parse(&C.arena, p->kernels[mm], "L0 sideways", &s, &why));
}
END_TEST

/* A Mamba-2 scan: its chunk length is part of the schedule line. */
static const char MODULE_SSD[] =
    "module @tssd {\n"
    "  max_seq = 32\n"
    "  param @embed : f32[16, 64]\n"
    "  param @A_log : f32[2]\n"
    "  state $ssm : ssm_state f32[2, 8, 16]\n"
    "  func @prefill(%tokens: i32[T]) -> f32[T, 16] {\n"
    "    %e = embed(%tokens, @embed) : f32[T, 64]\n"
    "    %x = slice(%e) {offset = 0, len = 16} : f32[T, 16]\n"
    "    %x3 = reshape(%x) {dims = [2, 8]} : f32[T, 2, 8]\n"
    "    %d0 = slice(%e) {offset = 16, len = 2} : f32[T, 2]\n"
    "    %dt = softplus(%d0) : f32[T, 2]\n"
    "    %ea = exp(@A_log) : f32[2]\n"
    "    %A = neg(%ea) : f32[2]\n"
    "    %bs = slice(%e) {offset = 18, len = 16} : f32[T, 16]\n"
    "    %B = reshape(%bs) {dims = [1, 16]} : f32[T, 1, 16]\n"
    "    %cs = slice(%e) {offset = 34, len = 16} : f32[T, 16]\n"
    "    %C = reshape(%cs) {dims = [1, 16]} : f32[T, 1, 16]\n"
    "    %y3 = ssd_scan(%x3, %dt, %A, %B, %C, $ssm) : f32[T, 2, 8]\n"
    "    %y = reshape(%y3) {dims = [16]} : f32[T, 16]\n"
    "    return %y\n"
    "  }\n"
    "  func @decode(%tokens: i32[1]) -> f32[1, 16] {\n"
    "    %e = embed(%tokens, @embed) : f32[1, 64]\n"
    "    %x = slice(%e) {offset = 0, len = 16} : f32[1, 16]\n"
    "    %x3 = reshape(%x) {dims = [2, 8]} : f32[1, 2, 8]\n"
    "    %d0 = slice(%e) {offset = 16, len = 2} : f32[1, 2]\n"
    "    %dt = softplus(%d0) : f32[1, 2]\n"
    "    %ea = exp(@A_log) : f32[2]\n"
    "    %A = neg(%ea) : f32[2]\n"
    "    %bs = slice(%e) {offset = 18, len = 16} : f32[1, 16]\n"
    "    %B = reshape(%bs) {dims = [1, 16]} : f32[1, 1, 16]\n"
    "    %cs = slice(%e) {offset = 34, len = 16} : f32[1, 16]\n"
    "    %C = reshape(%cs) {dims = [1, 16]} : f32[1, 1, 16]\n"
    "    %y3 = ssd_scan(%x3, %dt, %A, %B, %C, $ssm) : f32[1, 2, 8]\n"
    "    %y = reshape(%y3) {dims = [16]} : f32[1, 16]\n"
    "    return %y\n"
    "  }\n"
    "}\n";

static CgProgram *ssd_program(void) { return program_of("tssd.ir", MODULE_SSD); }

/* The chunk variants of a Mamba-2 prefill scan as lines ("chunk 16; L0
 * parallel; ...") and back, against the kernel in its own (recurrence)
 * form; a record whose best is chunked is applied: the kernel rebuilt. */
START_TEST(test_sched_lines_chunk)
{
    CgProgram *p = ssd_program();
    int ki = kernel_of(p, "ssd_scan", true);
    KirKernel *k = p->kernels[ki];
    ck_assert_int_eq(k->chunk, 0);
    KirSchedule vs[64];
    int n = kir_schedule_variants(&C.arena, k, &p->opts.target, vs, 64), chunked = 0;
    const char *best = NULL;
    for (int v = 0; v < n; v++) {
        const char *line = tunedb_sched_text(&C.arena, k, &vs[v]);
        KirSchedule back;
        const char *why = NULL;
        ck_assert_msg(tunedb_sched_parse(&C.arena, k, line, &back, &why), "%s: %s", line, why);
        ck_assert_int_eq(back.chunk, vs[v].chunk);
        ck_assert_str_eq(tunedb_sched_text(&C.arena, k, &back), line);
        if (vs[v].chunk > 0) {
            ck_assert_msg(strncmp(line, arena_printf(&C.arena, "chunk %d; ", vs[v].chunk), 8) == 0, "%s", line);
            chunked++;
            if (vs[v].chunk == 16) best = line;
        }
    }
    ck_assert_int_eq(chunked, 3); /* 16, 32, 64 */
    ck_assert_ptr_nonnull(best);
    /* the decode kernel has one form */
    KirSchedule s;
    const char *why = NULL;
    ck_assert(!tunedb_sched_parse(&C.arena, p->kernels[kernel_of(p, "ssd_scan", false)], best, &s, &why));
    ck_assert_ptr_nonnull(strstr(why, "no such form"));
    /* applied: the prefill kernel is rebuilt chunked, the memory plan holds */
    const char *plain = emit(p);
    const char *sig = kir_signature(&C.arena, k, false);
    TuneDb db = {0};
    ck_assert_msg(parse(&db, arena_printf(&C.arena, "%s%s",
                                          rec(sig, 8, 2, &HERE, "default", tunedb_sched_text(&C.arena, k, &k->sched), 100, 1),
                                          rec(sig, 8, 2, &HERE, "best", best, 50, 1))),
                  "%s", messages());
    TuneApplyStats st;
    tunedb_apply(&db, p, &C.arena, &HERE, 2, &C.diag, &st);
    ck_assert_int_eq(st.applied, 1);
    ck_assert_int_eq(st.bad, 0);
    ck_assert_int_eq(p->kernels[ki]->chunk, 16);
    ck_assert_str_eq(tunedb_sched_text(&C.arena, p->kernels[ki], &p->kernels[ki]->sched), best);
    const char *tuned = emit(p);
    ck_assert_ptr_nonnull(strstr(tuned, "c0 += 16"));
    ck_assert_ptr_null(strstr(plain, "c0 += 16"));
    /* replay on a fresh program: the same bytes */
    CgProgram *q = ssd_program();
    tunedb_apply(&db, q, &C.arena, &HERE, 2, &C.diag, &st);
    ck_assert_str_eq(emit(q), tuned);
}
END_TEST

/* Records for the prefill matmul (a clear win), the decode side of the
 * shared exp kernel (a win: decode gets a clone), the decode matmul (within
 * noise: kept), and a stale one (never applied). */
static const char *db_text(const CgProgram *p)
{
    int mm = kernel_of(p, "matmul", true), ex = kernel_of(p, "exp", false), md = kernel_of(p, "matmul", false);
    const KirKernel *kmm = p->kernels[mm], *kex = p->kernels[ex], *kmd = p->kernels[md];
    const char *smm = kir_signature(&C.arena, kmm, false), *sex = kir_signature(&C.arena, kex, false),
               *smd = kir_signature(&C.arena, kmd, false);
    TuneMachine old = {HERE.cpu, HERE.features, "0.0.1"};
    return arena_printf(
        &C.arena, "%s%s%s%s%s%s%s", rec(smm, 8, 2, &HERE, "default", tunedb_sched_text(&C.arena, kmm, &kmm->sched), 100, 1),
        rec(smm, 8, 2, &HERE, "best", "L0 parallel tile 4; L2 vec 4 unroll 4", 60, 1),
        rec(sex, 1, 2, &HERE, "default", tunedb_sched_text(&C.arena, kex, &kex->sched), 10, 0.1),
        rec(sex, 1, 2, &HERE, "best", "L1 vec 4", 5, 0.1),
        rec(smd, 1, 2, &HERE, "default", tunedb_sched_text(&C.arena, kmd, &kmd->sched), 10, 1),
        rec(smd, 1, 2, &HERE, "best", "L2 vec 4", 9.5, 1), rec(smd, 1, 2, &old, "best", "L2 vec 4", 1, 0));
}

START_TEST(test_apply_replay)
{
    CgProgram *p = program();
    const char *plain = emit(p);
    TuneDb db = {0};
    ck_assert_msg(parse(&db, db_text(p)), "%s", messages());
    int n0 = p->n_kernels, mm = kernel_of(p, "matmul", true), ex = kernel_of(p, "exp", false);
    TuneApplyStats st;
    tunedb_apply(&db, p, &C.arena, &HERE, 2, &C.diag, &st);
    ck_assert_int_eq(st.applied, 2);
    ck_assert_int_eq(st.not_better, 1);
    ck_assert_int_eq(st.stale, 1);
    ck_assert_int_eq(st.split, 1);
    ck_assert_int_eq(st.bad, 0);
    ck_assert_ptr_nonnull(strstr(messages(), "of another machine or hyc version not applied"));
    /* the prefill matmul took its best */
    ck_assert_str_eq(tunedb_sched_text(&C.arena, p->kernels[mm], &p->kernels[mm]->sched),
                     "L0 parallel tile 4; L2 vec 4 unroll 4");
    /* exp: prefill kept the default, decode calls a clone with the best */
    ck_assert_int_eq(p->n_kernels, n0 + 1);
    const KirKernel *clone = p->kernels[n0];
    ck_assert_str_eq(clone->name, arena_printf(&C.arena, "%s_decode", p->kernels[ex]->name));
    ck_assert_str_eq(tunedb_sched_text(&C.arena, clone, &clone->sched), "L1 vec 4");
    ck_assert_str_ne(tunedb_sched_text(&C.arena, p->kernels[ex], &p->kernels[ex]->sched), "L1 vec 4");
    for (int f = 0; f < p->n_funcs; f++) {
        bool decode = strcmp(p->funcs[f].fn->name, "decode") == 0;
        for (int c = 0; c < p->funcs[f].n_calls; c++) {
            int k = p->funcs[f].calls[c].kernel;
            ck_assert(k != (decode ? ex : n0));
        }
    }
    const char *tuned = emit(p);
    ck_assert_str_ne(tuned, plain);
    /* replay: a fresh program and the same database give the same bytes */
    CgProgram *q = program();
    TuneDb db2 = {0};
    ck_assert(parse(&db2, write_text(&db)));
    tunedb_apply(&db2, q, &C.arena, &HERE, 2, &C.diag, &st);
    ck_assert_str_eq(emit(q), tuned);
    /* other threads or another machine: nothing applies */
    CgProgram *r = program();
    tunedb_apply(&db, r, &C.arena, &HERE, 1, &C.diag, &st);
    ck_assert_int_eq(st.applied, 0);
    ck_assert_str_eq(emit(r), plain);
    TuneMachine elsewhere = {"Other", HERE.features, HERE.version};
    tunedb_apply(&db, r, &C.arena, &elsewhere, 2, &C.diag, &st);
    ck_assert_int_eq(st.applied, 0);
    ck_assert_int_eq(st.stale, db.n);
    ck_assert_str_eq(emit(r), plain);
}
END_TEST

/* A record whose default is not today's default (the heuristic changed),
 * or whose schedule no longer fits, is counted unusable and not applied. */
START_TEST(test_apply_unusable)
{
    CgProgram *p = program();
    const char *plain = emit(p);
    int mm = kernel_of(p, "matmul", true);
    const char *sig = kir_signature(&C.arena, p->kernels[mm], false);
    TuneDb db = {0};
    ck_assert(parse(&db, arena_printf(&C.arena, "%s%s", rec(sig, 8, 2, &HERE, "default", "L0 parallel", 100, 1),
                                      rec(sig, 8, 2, &HERE, "best", "L2 vec 4", 10, 1))));
    TuneApplyStats st;
    tunedb_apply(&db, p, &C.arena, &HERE, 2, &C.diag, &st);
    ck_assert_int_eq(st.applied, 0);
    ck_assert_int_eq(st.bad, 1);
    TuneDb db2 = {0};
    ck_assert(parse(&db2, arena_printf(&C.arena, "%s%s",
                                       rec(sig, 8, 2, &HERE, "default", tunedb_sched_text(&C.arena, p->kernels[mm], &p->kernels[mm]->sched), 100, 1),
                                       rec(sig, 8, 2, &HERE, "best", "L2 parallel", 10, 1))));
    tunedb_apply(&db2, p, &C.arena, &HERE, 2, &C.diag, &st);
    ck_assert_int_eq(st.applied, 0);
    ck_assert_int_eq(st.bad, 1);
    ck_assert_ptr_nonnull(strstr(messages(), "does not fit it"));
    ck_assert_str_eq(emit(p), plain);
}
END_TEST

static Suite *tunedb_suite(void)
{
    Suite *s = suite_create("tunedb");
    TCase *tc = tcase_create("tunedb");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_parse_good);
    tcase_add_test(tc, test_parse_errors);
    tcase_add_test(tc, test_load_missing);
    tcase_add_test(tc, test_merge_dedup);
    tcase_add_test(tc, test_write_sorted_roundtrip);
    tcase_add_test(tc, test_stale_and_margin);
    tcase_add_test(tc, test_sched_lines);
    tcase_add_test(tc, test_sched_lines_chunk);
    tcase_add_test(tc, test_apply_replay);
    tcase_add_test(tc, test_apply_unusable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tunedb_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
