/* check_fixtures.c — end to end against Hugging Face transformers: every
 * fixture under tests/fixtures/hf/<size>/<family> (config.json,
 * model.safetensors, golden.safetensors; ../shared/fixtures/README.md) is
 * imported (import_hf_read -> .hyb text -> parse -> sema -> lower_model),
 * lowered, bound to its checkpoint and run on the reference interpreter.
 *
 * For input_ids_a (and _b when present) the logits must match logits_a/_b
 * (README "What matches means"): over all positions, relative L2 error
 * ||ours - ref|| / ||ref|| <= 1e-4, and the same argmax at every position
 * where the top two reference logits differ by more than 1e-3.  Modes:
 *   prefill      the whole sequence in one prefill call (module at -O0,
 *                composites expanded by lower-composites)
 *   prefill@O2   the same after the -O2 pass pipeline
 *   K+decode     prefill of the first K tokens, then one decode call per
 *                token, for K = 1, 16 (a Mamba-2 chunk of the tiny models),
 *                17 and T-1
 * Every row prints its error so that a failure can be diagnosed; a fixture
 * that cannot be imported, bound or run fails (never skipped), and a table
 * of pass/fail per fixture ends the run.
 *
 * The variants of tests/import/variants (make_variants.py: switches the
 * shared fixtures leave at their defaults) run the same way.
 * HYC_FIXTURES=DIR looks for fixtures under DIR instead of both.
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "formats/formats.h"
#include "frontend/frontend.h"
#include "interp/interp.h"
#include "ir/ir.h"
#include "passes/passes.h"

#define REL_TOL 1e-4
#define GAP_TOL 1e-3

enum { MAX_FIXTURES = 64 };

typedef struct Result {
    char name[128]; /* "tiny/jamba" */
    bool ran, ok;
    double worst;   /* the largest rel L2 over all sequences and modes */
    int n_modes, n_failed;
    char why[256];  /* first failure */
    double secs;
} Result;

static char fixture_root[256];
static char fixture_dirs[MAX_FIXTURES][900];
static int n_fixtures;
static Result results[MAX_FIXTURES];

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

/* ROOT/<size>/<family> holding a config.json; each named <size>/<family>. */
static void scan_root(const char *root)
{
    DIR *d = opendir(root);
    if (!d) return;
    int first = n_fixtures;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char size[600];
        snprintf(size, sizeof size, "%s/%s", root, e->d_name);
        if (!is_dir(size)) continue;
        DIR *d2 = opendir(size);
        if (!d2) continue;
        struct dirent *f;
        while ((f = readdir(d2)) && n_fixtures < MAX_FIXTURES) {
            if (f->d_name[0] == '.') continue;
            char cfg[900];
            snprintf(cfg, sizeof cfg, "%s/%s/config.json", size, f->d_name);
            struct stat st;
            if (stat(cfg, &st) != 0) continue;
            snprintf(fixture_dirs[n_fixtures++], sizeof fixture_dirs[0], "%s/%s", size, f->d_name);
        }
        closedir(d2);
    }
    closedir(d);
    qsort(fixture_dirs[first], (size_t)(n_fixtures - first), sizeof fixture_dirs[0], cmp_str);
    for (int i = first; i < n_fixtures; i++)
        snprintf(results[i].name, sizeof results[i].name, "%s", fixture_dirs[i] + strlen(root) + 1);
}

/* The shared fixtures (tests/fixtures/hf/<size>/<family>) and the importer's
 * variants (tests/import/variants/<name>, made by make_variants.py), or
 * only HYC_FIXTURES/<size>/<family>. */
static void find_fixtures(void)
{
    const char *env = getenv("HYC_FIXTURES");
    snprintf(fixture_root, sizeof fixture_root, "%s", env && *env ? env : "tests/fixtures/hf");
    scan_root(fixture_root);
    if (!(env && *env)) scan_root("tests/import");
}

/* ---- the metric -------------------------------------------------------------- */

typedef struct Score {
    double rel;
    int argmax_bad, first_bad; /* positions whose argmax differs (top-2 gap > GAP_TOL) */
} Score;

static int argmax(const float *v, int64_t n)
{
    int64_t b = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return (int)b;
}

static Score score(const float *ours, const float *ref, int64_t T, int64_t V)
{
    Score s = {0, 0, -1};
    double num = 0, den = 0;
    for (int64_t i = 0; i < T * V; i++) {
        double e = (double)ours[i] - ref[i];
        num += e * e;
        den += (double)ref[i] * ref[i];
    }
    s.rel = isfinite(num) ? sqrt(num / den) : INFINITY;
    for (int64_t t = 0; t < T; t++) {
        const float *r = ref + t * V;
        int best = argmax(r, V);
        double second = -INFINITY;
        for (int64_t v = 0; v < V; v++)
            if (v != best && r[v] > second) second = r[v];
        if ((double)r[best] - second > GAP_TOL && argmax(ours + t * V, V) != best) {
            if (s.first_bad < 0) s.first_bad = (int)t;
            s.argmax_bad++;
        }
    }
    return s;
}

/* ---- one fixture ------------------------------------------------------------------ */

typedef struct Fx {
    Arena arena;
    Interner in;
    Diag diag;
    Result *res;
} Fx;

static void fail_fixture(Fx *F, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_fixture(Fx *F, const char *fmt, ...)
{
    if (F->res->why[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(F->res->why, sizeof F->res->why, fmt, ap);
    va_end(ap);
}

/* import -> .hyb text -> parse -> sema -> lower_model, then the pipeline of
 * LEVEL and lower-composites: a lowered, verified module. */
static IrModule *load(Fx *F, const char *dir, int level, const ModelSpec **spec_out, ImportHfModel **hf_out)
{
    ImportHfOptions opt = {NULL, dir};
    ImportHfModel *hf = import_hf_read(dir, &opt, &F->arena, &F->diag);
    if (!hf) return fail_fixture(F, "import failed (diagnostics above)"), NULL;
    StrBuf text = {0};
    import_hf_print(hf, &text);
    const SrcFile *src = src_from_string(arena_printf(&F->arena, "%s/config.json.hyb", dir), sb_cstr(&text), &F->arena);
    sb_free(&text);
    AstFile *ast = parse_source(src, &F->arena, &F->in, &F->diag);
    if (!ast) return fail_fixture(F, "the imported .hyb does not parse"), NULL;
    ModelSpec *spec = sema_check(ast, &F->arena, &F->in, &F->diag);
    if (!spec) return fail_fixture(F, "sema rejects the imported model"), NULL;
    IrModule *m = lower_model(spec, &F->arena, &F->in, &F->diag);
    if (!m) return fail_fixture(F, "lower_model failed"), NULL;
    PassOptions opts = {0};
    opts.verify_each = true;
    if (!pass_run_pipeline(&m, level, &opts, &F->diag)) return fail_fixture(F, "the -O%d pipeline failed", level), NULL;
    if (!interp_module_is_lowered(m) && !interp_lower(m, &F->diag))
        return fail_fixture(F, "lower-composites failed"), NULL;
    *spec_out = spec;
    if (hf_out) *hf_out = hf;
    return m;
}

/* The weights through the importer's naming, and the same weights through
 * the naming sema's spec gives (bind_hf_dims): they must be identical. */
static bool bind(Fx *F, IrModule *m, const ModelSpec *spec, const ImportHfModel *hf, Weights *w)
{
    HfNaming nm;
    import_hf_naming(hf, &nm);
    const WeightsSpec *ws = &spec->weights;
    BindSource src = {ws->path, ws->naming, &nm, ws->renames, ws->n_renames};
    int warnings = F->diag.n_warnings;
    if (!weights_bind(w, m, &src, &F->diag)) return fail_fixture(F, "binding the weights failed"), false;
    if (F->diag.n_warnings != warnings) fail_fixture(F, "binding warned (unused tensors?)");
    Weights w2;
    if (!weights_bind_spec(&w2, m, spec, &F->diag)) return fail_fixture(F, "binding through the spec's naming failed"), false;
    for (int i = 0; i < m->n_params; i++) {
        int64_t n = 1;
        for (int k = 0; k < m->params[i].type.rank; k++) n *= m->params[i].type.dims[k];
        if (memcmp(w->data[i], w2.data[i], (size_t)n * sizeof(float)) != 0) {
            fail_fixture(F, "param %s differs between the importer's naming and the spec's", m->params[i].name);
            break;
        }
    }
    weights_free(&w2);
    return true;
}

/* Read NAME (I32 or F32 per `ints`) from the golden file; NULL if absent. */
static void *golden_tensor(Fx *F, SafeTensors *g, const char *name, bool ints, int64_t *dims)
{
    const StTensor *t = st_find(g, name);
    if (!t) return NULL;
    void *buf = arena_alloc(&F->arena, (size_t)t->numel * 4 + 4);
    bool ok = ints ? st_read_i32(g, t, buf) : st_read_f32(g, t, buf);
    if (!ok) return fail_fixture(F, "golden tensor %s is unreadable", name), NULL;
    dims[0] = t->shape[0];
    dims[1] = t->ndim > 1 ? t->shape[1] : 1;
    return buf;
}

static void report(Fx *F, const char *seq, const char *mode, Score s)
{
    Result *r = F->res;
    bool ok = s.rel <= REL_TOL && s.argmax_bad == 0;
    r->n_modes++;
    if (s.rel > r->worst || isnan(s.rel)) r->worst = s.rel;
    if (!ok) {
        r->n_failed++;
        fail_fixture(F, "%s %s: rel L2 %.3e%s", seq, mode, s.rel, s.argmax_bad ? ", argmax differs" : "");
    }
    printf("  %-26s %s  %-14s rel L2 %.3e  argmax %s", r->name, seq, mode, s.rel, s.argmax_bad ? "DIFFERS" : "ok");
    if (s.argmax_bad) printf(" (%d positions, first %d)", s.argmax_bad, s.first_bad);
    printf("%s\n", ok ? "" : "   <-- FAIL");
}

static void run_sequence(Fx *F, InterpSession *s, InterpSession *s2, const char *seq, const int32_t *ids, int64_t T,
                         const float *ref, int64_t V)
{
    float *out = xmalloc((size_t)(T * V) * sizeof(float));
    interp_reset(s);
    if (!interp_prefill(s, ids, T, out, &F->diag)) {
        fail_fixture(F, "%s: prefill failed", seq);
        free(out);
        return;
    }
    report(F, seq, "prefill", score(out, ref, T, V));
    if (s2) {
        interp_reset(s2);
        if (interp_prefill(s2, ids, T, out, &F->diag))
            report(F, seq, "prefill@O2", score(out, ref, T, V));
        else
            fail_fixture(F, "%s: prefill at -O2 failed", seq);
    }
    int64_t ks[4] = {1, 16, 17, T - 1};
    for (int i = 0; i < 4; i++) {
        int64_t k = ks[i];
        bool dup = k < 1 || k >= T;
        for (int j = 0; j < i; j++) dup |= ks[j] == k;
        if (dup) continue;
        interp_reset(s);
        bool ok = interp_prefill(s, ids, k, out, &F->diag);
        for (int64_t t = k; t < T && ok; t++) ok = interp_decode(s, ids[t], out + t * V, &F->diag);
        char mode[32];
        snprintf(mode, sizeof mode, "%lld+decode", (long long)k);
        if (ok)
            report(F, seq, mode, score(out, ref, T, V));
        else
            fail_fixture(F, "%s: %s failed", seq, mode);
    }
    free(out);
}

static void run_fixture(const char *dir, Result *res)
{
    Fx F;
    arena_init(&F.arena);
    intern_init(&F.in, &F.arena);
    diag_init(&F.diag, stderr);
    F.res = res;
    res->ran = true;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const ModelSpec *spec = NULL, *spec2 = NULL;
    ImportHfModel *hf = NULL, *hf2 = NULL;
    Weights w = {0}, w2own = {0};
    InterpSession *s = NULL, *s2 = NULL;
    IrModule *m = load(&F, dir, 0, &spec, &hf);
    IrModule *m2 = m ? load(&F, dir, 2, &spec2, &hf2) : NULL;
    if (m && m2 && bind(&F, m, spec, hf, &w)) {
        s = interp_new(m, &w);
        /* An -O2 module with the same params (ids and shapes) shares them;
         * one with derived params (fold-scales, merge-projections) binds its
         * own, from the same checkpoint. */
        Weights w2 = w;
        w2.mod = m2;
        bool same = m2->n_params == m->n_params;
        for (int i = 0; same && i < m->n_params; i++)
            same = strcmp(m->params[i].name, m2->params[i].name) == 0 && ir_type_eq(&m->params[i].type, &m2->params[i].type);
        if (same)
            s2 = interp_new(m2, &w2);
        else if (bind(&F, m2, spec2, hf2, &w2own))
            s2 = interp_new(m2, &w2own);
        char path[1000];
        snprintf(path, sizeof path, "%s/golden.safetensors", dir);
        SafeTensors *g = st_open(path, &F.diag);
        if (!g) fail_fixture(&F, "no golden.safetensors");
        int n_seq = 0;
        for (const char *sfx = "a"; g && *sfx; sfx = *sfx == 'a' ? "b" : "") {
            char n_ids[32], n_log[32];
            snprintf(n_ids, sizeof n_ids, "input_ids_%s", sfx);
            snprintf(n_log, sizeof n_log, "logits_%s", sfx);
            int64_t di[2], dl[2];
            int32_t *ids = golden_tensor(&F, g, n_ids, true, di);
            float *ref = golden_tensor(&F, g, n_log, false, dl);
            if (!ids || !ref) continue;
            n_seq++;
            if (dl[0] != di[0] || dl[1] != interp_vocab(s)) {
                fail_fixture(&F, "%s is [%lld, %lld], not [T, vocab %lld]", n_log, (long long)dl[0], (long long)dl[1],
                             (long long)interp_vocab(s));
                continue;
            }
            run_sequence(&F, s, s2, sfx, ids, di[0], ref, dl[1]);
        }
        if (g && n_seq == 0) fail_fixture(&F, "golden.safetensors holds no input_ids_a / logits_a");
        st_close(g);
    }
    if (res->n_modes == 0) fail_fixture(&F, "nothing ran");
    res->ok = res->why[0] == 0;
    interp_free(s);
    interp_free(s2);
    if (w.data) weights_free(&w);
    if (w2own.data) weights_free(&w2own);
    intern_free(&F.in);
    arena_free(&F.arena);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    res->secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
}

/* ---- tests ------------------------------------------------------------------------- */

START_TEST(test_fixtures_present)
{
    ck_assert_msg(n_fixtures > 0, "no fixtures under %s (each <size>/<family>/config.json)", fixture_root);
}
END_TEST

START_TEST(test_fixture)
{
    Result *r = &results[_i];
    const char *dir = fixture_dirs[_i];
    printf("%s\n", dir);
    fflush(stdout);
    run_fixture(dir, r);
    fflush(stdout);
    ck_assert_msg(r->ok, "fixture %s does not match: %s", r->name, r->why);
}
END_TEST

static void print_table(void)
{
    int n_ok = 0;
    printf("\nfixtures: Hugging Face reference (rel L2 <= %g and argmax where the top-2 gap > %g)\n", REL_TOL, GAP_TOL);
    printf("  %-26s %-6s %-11s %-7s %-7s %s\n", "fixture", "result", "worst rel", "modes", "time", "first failure");
    for (int i = 0; i < n_fixtures; i++) {
        const Result *r = &results[i];
        n_ok += r->ok;
        printf("  %-26s %-6s %-11.3e %-7d %-6.2fs %s\n", r->name[0] ? r->name : fixture_dirs[i], r->ok ? "PASS" : "FAIL",
               r->worst, r->n_modes, r->secs, r->ok ? "" : r->why);
    }
    printf("fixtures: %d of %d match\n", n_ok, n_fixtures);
}

int main(void)
{
    find_fixtures();
    Suite *su = suite_create("fixtures");
    TCase *tc = tcase_create("hf");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_fixtures_present);
    if (n_fixtures) tcase_add_loop_test(tc, test_fixture, 0, n_fixtures);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    /* No fork: each fixture records its row for the table printed below. */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    print_table();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
