/* manager.c — the pass registry, the pipelines per -O level, and the
 * runner with its dump, verify and timing options. */
#include "passes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- registry and pipelines ------------------------------------------------ */

static const Pass *const registry[] = {
    &pass_lower_composites,
    &pass_canonicalize,
    &pass_dce,
    &pass_last_logits,
    &pass_fold_scales,
    &pass_merge_projections,
    &pass_fuse_scan,
    &pass_fold_params,
    &pass_fuse_prologue,
    &pass_fuse_epilogue,
};
enum { N_PASSES = sizeof registry / sizeof *registry };

/* The whole pipeline of each level, written out (QBE style).  -O0 only
 * verifies; fusion passes join -O2 and -O3 as they are written. */
static const char *const pipeline_o0[] = {NULL};
static const char *const pipeline_o1[] = {"lower-composites", "last-logits", "canonicalize", "dce"};
/* fuse-scan before merge-projections: a scan claims its own dt projection
 * before matmuls on one input are merged; fuse-prologue after it, so that a
 * norm folds into the one merged weight (q/k/v, gate/up) rather than into
 * each member */
static const char *const pipeline_o2[] = {"lower-composites", "last-logits",  "canonicalize",
                                          "fold-scales",      "fuse-scan",    "merge-projections",
                                          "fold-params",      "fuse-prologue", "fuse-epilogue", "dce"};
static const char *const pipeline_o3[] = {"lower-composites", "last-logits",  "canonicalize",
                                          "fold-scales",      "fuse-scan",    "merge-projections",
                                          "fold-params",      "fuse-prologue", "fuse-epilogue", "dce"};

static const struct {
    const char *const *names;
    int n;
} pipelines[] = {
    {pipeline_o0, 0},
    {pipeline_o1, sizeof pipeline_o1 / sizeof *pipeline_o1},
    {pipeline_o2, sizeof pipeline_o2 / sizeof *pipeline_o2},
    {pipeline_o3, sizeof pipeline_o3 / sizeof *pipeline_o3},
};

static const char *const prop_names[] = {
#define X(id, name, desc) name,
    PASS_PROPS(X)
#undef X
};

const char *pass_prop_name(unsigned bit_index)
{
    HYC_ASSERT(bit_index < PASS_PROP_COUNT);
    return prop_names[bit_index];
}

void pass_list(FILE *out)
{
    int w = 0;
    for (int i = 0; i < N_PASSES; i++) {
        int n = (int)strlen(registry[i]->name);
        if (n > w) w = n;
    }
    for (int i = 0; i < N_PASSES; i++)
        fprintf(out, "%-*s  %s\n", w, registry[i]->name, registry[i]->description);
}

const Pass *pass_lookup(const char *name)
{
    for (int i = 0; i < N_PASSES; i++)
        if (strcmp(registry[i]->name, name) == 0) return registry[i];
    return NULL;
}

const char *const *pass_pipeline(int opt_level, int *n)
{
    if (opt_level < 0) opt_level = 0;
    if (opt_level > 3) opt_level = 3;
    *n = pipelines[opt_level].n;
    return pipelines[opt_level].names;
}

/* ---- option lists ---------------------------------------------------------- */

/* Whether `name` is in the comma-separated `list`. */
static bool in_list(const char *list, const char *name)
{
    if (!list) return false;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

static const char *const *registry_names(void)
{
    static const char *names[N_PASSES];
    for (int i = 0; i < N_PASSES; i++) names[i] = registry[i]->name;
    return names;
}

/* Every name in a list option must be a pass.  Reports each unknown one. */
static bool check_list(const char *option, const char *list, Diag *diag)
{
    bool ok = true;
    if (!list) return true;
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char name[128];
        if (len >= sizeof name) len = sizeof name - 1;
        memcpy(name, p, len);
        name[len] = 0;
        if (!pass_lookup(name)) {
            const char *s = suggest_word(name, registry_names(), N_PASSES);
            diag_error(diag, loc_none(), "%s: unknown pass '%s'%s%s%s", option, name,
                       s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
            ok = false;
        }
        if (!e) break;
        p = e + 1;
    }
    return ok;
}

/* ---- running --------------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void dump(const IrModule *m, const char *when, const char *pass, const PassOptions *o)
{
    FILE *out = o->dump_out ? o->dump_out : stderr;
    StrBuf sb = {0};
    ir_print(&sb, m);
    /* A comment line, so that a dump still parses as IR. */
    fprintf(out, "# *** IR %s %s ***\n%s", when, pass, sb_cstr(&sb));
    fflush(out);
    sb_free(&sb);
}

static void props_text(char *buf, size_t n, unsigned props)
{
    buf[0] = 0;
    for (unsigned b = 0; b < PASS_PROP_COUNT; b++) {
        if (!(props & (1u << b))) continue;
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%s'%s'", l ? ", " : "", prop_names[b]);
    }
}

bool pass_run_passes(IrModule **mp, const Pass *const *passes, int n, const PassOptions *opts,
                     Diag *diag)
{
    static const PassOptions no_opts;
    const PassOptions *o = opts ? opts : &no_opts;
    /* Check every list (each reports its own unknown names) before failing. */
    bool lists_ok = check_list("--print-before", o->print_before, diag);
    lists_ok = check_list("--print-after", o->print_after, diag) && lists_ok;
    lists_ok = check_list("--disable-pass", o->disable_pass, diag) && lists_ok;
    if (!lists_ok) return false;
    if (!ir_verify(*mp, diag)) return false;

    unsigned props = 0;
    double times[64] = {0}, total = 0;
    bool ran[64] = {0};
    HYC_ASSERT(n <= 64);
    for (int i = 0; i < n; i++) {
        const Pass *p = passes[i];
        if (in_list(o->disable_pass, p->name)) continue;
        unsigned missing = p->requires & ~props;
        if (missing) {
            char need[256];
            props_text(need, sizeof need, missing);
            /* Name the disabled pass that would have provided it. */
            const char *by = NULL;
            for (int j = 0; j < i && !by; j++)
                if ((passes[j]->provides & missing) && in_list(o->disable_pass, passes[j]->name))
                    by = passes[j]->name;
            diag_error(diag, loc_none(), "pass '%s' requires %s, which no earlier pass provides%s%s%s",
                       p->name, need, by ? " (pass '" : "", by ? by : "", by ? "' is disabled)" : "");
            return false;
        }
        if (in_list(o->print_before, p->name)) dump(*mp, "before", p->name, o);
        PassCtx ctx = {diag, o, 0, 0};
        double t0 = now_ms();
        bool ok = p->run(*mp, &ctx);
        times[i] = now_ms() - t0;
        total += times[i];
        ran[i] = true;
        if (!ok) {
            diag_error(diag, loc_none(), "pass '%s' failed", p->name);
            return false;
        }
        props = (props & ~p->invalidates) | p->provides;
        if (o->print_after_all || in_list(o->print_after, p->name)) dump(*mp, "after", p->name, o);
        if (o->verify_each && !ir_verify(*mp, diag)) {
            diag_error(diag, loc_none(), "the IR after pass '%s' does not verify", p->name);
            return false;
        }
    }
    if (o->time_passes) {
        FILE *out = o->time_out ? o->time_out : stderr;
        fprintf(out, "===-- pass timing --===\n%10s  %6s  %s\n", "ms", "%", "pass");
        for (int i = 0; i < n; i++)
            if (ran[i])
                fprintf(out, "%10.3f  %6.1f  %s\n", times[i], total > 0 ? 100.0 * times[i] / total : 0.0,
                        passes[i]->name);
        fprintf(out, "%10.3f  %6.1f  total\n", total, 100.0);
    }
    if (!o->verify_each && n > 0 && !ir_verify(*mp, diag)) {
        diag_error(diag, loc_none(), "the IR after the pipeline does not verify");
        return false;
    }
    return true;
}

bool pass_run_pipeline(IrModule **m, int opt_level, const PassOptions *opts, Diag *diag)
{
    const char *const *names;
    int n;
    const char *custom = opts ? opts->pipeline : NULL;
    const Pass *list[64];
    int count = 0;
    if (custom) {
        if (!check_list("--passes", custom, diag)) return false;
        for (const char *p = custom; *p && count < 64;) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            char name[128];
            if (len >= sizeof name) len = sizeof name - 1;
            memcpy(name, p, len);
            name[len] = 0;
            list[count++] = pass_lookup(name);
            if (!e) break;
            p = e + 1;
        }
    } else {
        names = pass_pipeline(opt_level, &n);
        for (int i = 0; i < n; i++) {
            list[count] = pass_lookup(names[i]);
            HYC_ASSERT(list[count]);
            count++;
        }
    }
    /* HYC_DISABLE_PASS (a comma list) adds to --disable-pass, for the commands
     * that compile without a pass option (run, build, bench): A/B runs of a
     * pass, e.g. HYC_DISABLE_PASS=fuse-scan. */
    const char *env = getenv("HYC_DISABLE_PASS");
    if (!env || !*env) return pass_run_passes(m, list, count, opts, diag);
    PassOptions o = opts ? *opts : (PassOptions){0};
    char joined[1024];
    if (o.disable_pass && *o.disable_pass) {
        snprintf(joined, sizeof joined, "%s,%s", o.disable_pass, env);
        o.disable_pass = joined;
    } else {
        o.disable_pass = env;
    }
    return pass_run_passes(m, list, count, &o, diag);
}
