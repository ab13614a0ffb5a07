/* cmd_tune.c — `hyc tune`: measure schedule variants of a model's kernels on
 * this machine and keep the winners in a tuning database (codegen/tunedb.c,
 * docs/tuning.md); `hyc tune --report` shows what tuning gained; and the
 * --tuning-db hook of hyc build / run / bench (tuning_prepare, tuning_apply).
 *
 * How a kernel is measured: every variant of it (kir_schedule_variants) is
 * emitted exactly as the C backend writes it (cg_emit_c_kernels) under its
 * own name, with a wrapper taking an array of buffer pointers; the file is
 * compiled to a shared object with the build's flags and dlopen'ed (its
 * hycrt_* calls resolve against hyc, which exports the runtime).  hyc fills
 * the buffers of the real shapes with deterministic random data, runs the
 * default once for the reference outputs, and times the variants
 * interleaved (so that load on this shared machine hits them alike) on the
 * runtime's thread pool.  Prefill (T = the program's max_batch) and decode
 * (T = 1) are separate tuning keys.
 *
 * Search: the defaults are compiled and timed first; the budget then goes
 * to kernels by their share of the model's time (calls x time); per key,
 * successive halving over the variants that match the default's outputs
 * (rel L2 <= 1e-5), a key stopping early when it is within 5% of its
 * roofline bound; finally the default and the best are timed side by side
 * and both recorded. */
#include "driver.h"
#include "../codegen/codegen.h"
#include "../interp/interp.h"
#include "../ir/ir.h"
#include "../passes/passes.h"
#include "../runtime/hycrt.h"

#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* roofline.c */
const char *roofline_cpu_model(void);
const char *roofline_isa(void);
const char *roofline_cache_dir(Arena *a);
bool roofline_get(int threads, bool refresh, double *gflops, double *gbps, FILE *log);

static const char TUNE_HELP[] =
    "usage: hyc tune MODEL [--budget 5m|90s|N] [--db FILE] [--threads N]\n"
    "                [--kernels PATTERN] [--logits last|all] [--random-weights[=SEED]]\n"
    "                [-O0..-O3]\n"
    "       hyc tune --report [--db FILE] [--svg FILE] [--threads N]\n\n"
    "Measure schedule variants (threads, vector lanes, unrolling, tiles) of\n"
    "every distinct kernel of MODEL, compiled by the C backend for this\n"
    "machine, on its real shapes: prefill (T = the prefill batch) and decode\n"
    "(T = 1) apart.  Variants whose outputs differ from the default's beyond\n"
    "rel L2 1e-5 are rejected.  The default and the best schedule of each\n"
    "kernel go into the tuning database, merged with what it held; hyc build,\n"
    "run and bench --tuning-db FILE apply a best schedule only where it beat\n"
    "the default beyond noise.\n\n"
    "  --budget 5m|90s|N  time for the whole run, compiling included (default\n"
    "                     5m), or N: at most N variants per kernel, no time limit\n"
    "  --db FILE          the tuning database (default hyc-tuning.db)\n"
    "  --threads N        threads the kernels run on (default: the CPUs online)\n"
    "  --kernels PATTERN  only kernels whose name or op matches the shell\n"
    "                     pattern (matmul*, sdpa_24)\n"
    "  --logits last|all  the prefill's logits, as the program to tune computes\n"
    "                     them: last (default, as hyc bench and generation: the\n"
    "                     LM head on the last row) or all (every row, as\n"
    "                     hyc run and hyc build's default)\n"
    "  --random-weights[=SEED]  accepted for symmetry with bench: kernels are\n"
    "                     timed on random data whatever the weights\n"
    "  --report           print, per kernel, default vs tuned time and speed-up\n"
    "                     from the database, and write an SVG chart of it\n"
    "                     (--svg FILE, default FILE.svg beside the database)\n\n"
    "Ctrl-C stops the search and keeps everything measured so far.\n"
    "docs/tuning.md describes the database.  Exit status: 0 success, 1 bad\n"
    "input, 2 bad usage, 130 interrupted (the database is written).\n";

typedef struct TuneArgs {
    const char *model, *db, *svg, *kernels;
    double budget_s;  /* > 0: a time budget */
    int64_t max_vars; /* > 0: a count budget */
    int threads;
    int level;
    bool report;
    bool logits_all; /* --logits all: tune the full-T LM head */
} TuneArgs;

/* ---- the machine ------------------------------------------------------------------ */

static TuneMachine this_machine(const CgTarget *t)
{
    TuneMachine mc = {roofline_cpu_model(), NULL, HYC_VERSION};
    static char feat[64];
    snprintf(feat, sizeof feat, "%s/%s", t->name, roofline_isa());
    mc.features = feat;
    return mc;
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* ---- --tuning-db of build / run / bench -------------------------------------------- */

static struct {
    bool loaded;
    Arena arena;
    TuneDb db;
    int threads;
    const char *path;
} tuning;

bool tuning_prepare(const char *path, int threads, Diag *diag)
{
    arena_init(&tuning.arena);
    memset(&tuning.db, 0, sizeof tuning.db);
    tuning.threads = threads > 0 ? threads : online_cpus();
    tuning.path = path;
    if (!tunedb_load(&tuning.db, &tuning.arena, path, false, diag)) return false;
    tuning.loaded = true;
    return true;
}

void tuning_apply(CgProgram *p, Arena *a, const char *cmd)
{
    if (!tuning.loaded) return;
    TuneMachine mc = this_machine(&p->opts.target);
    Diag diag;
    diag_init(&diag, stderr);
    TuneApplyStats st;
    tunedb_apply(&tuning.db, p, a, &mc, tuning.threads, &diag, &st);
    fprintf(stderr, "%s: tuning database %s: %d kernel schedule%s applied for %d thread%s (%d kept the default: not "
                    "faster beyond noise; %d unusable; %d stale)\n",
            cmd, tuning.path, st.applied, st.applied == 1 ? "" : "s", tuning.threads, tuning.threads == 1 ? "" : "s",
            st.not_better, st.bad, st.stale);
}

/* ---- arguments -------------------------------------------------------------------- */

/* "5m", "90s", "1h" -> seconds; "12" -> a count. */
static bool parse_budget(const char *v, TuneArgs *t)
{
    size_t n = strlen(v);
    if (n == 0) return false;
    char unit = v[n - 1];
    double mul = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 0;
    if (mul > 0) {
        double x;
        char *num = strndup(v, n - 1);
        bool ok = parse_f64(num, &x) && x > 0 && x * mul <= 7 * 86400.0;
        free(num);
        if (!ok) return false;
        t->budget_s = x * mul;
        t->max_vars = 0;
        return true;
    }
    int64_t c;
    if (!parse_i64(v, &c) || c < 1 || c > 1000) return false;
    t->max_vars = c;
    t->budget_s = 0;
    return true;
}

static int parse_args(const Command *self, int argc, char **argv, TuneArgs *t)
{
    memset(t, 0, sizeof *t);
    t->db = "hyc-tuning.db";
    t->budget_s = 300;
    t->level = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool missing = false;
        int64_t n;
        if (a[0] != '-' || !a[1]) {
            if (t->model) {
                cli_usage_error(self, "one model at a time ('%s' and '%s')", t->model, a);
                return HYC_EXIT_USAGE;
            }
            t->model = a;
        } else if (strlen(a) == 3 && a[1] == 'O' && a[2] >= '0' && a[2] <= '3') {
            t->level = a[2] - '0';
        } else if ((v = cli_opt_value(argc, argv, &i, "--budget", &missing))) {
            if (!parse_budget(v, t)) {
                cli_usage_error(self, "--budget is a time (5m, 90s, 1h) or a variant count in [1, 1000], not '%s'", v);
                return HYC_EXIT_USAGE;
            }
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--db", &missing))) {
            t->db = v;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--svg", &missing))) {
            t->svg = v;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--kernels", &missing))) {
            t->kernels = v;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--logits", &missing))) {
            if (strcmp(v, "all") != 0 && strcmp(v, "last") != 0) {
                cli_usage_error(self, "--logits is last or all, not '%s'", v);
                return HYC_EXIT_USAGE;
            }
            t->logits_all = strcmp(v, "all") == 0;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--threads", &missing))) {
            if (!parse_i64(v, &n) || n < 1 || n > 4096) {
                cli_usage_error(self, "--threads needs a whole number in [1, 4096], not '%s'", v);
                return HYC_EXIT_USAGE;
            }
            t->threads = (int)n;
        } else if (missing) {
            cli_usage_error(self, "%s needs a value", a);
            return HYC_EXIT_USAGE;
        } else if (strcmp(a, "--report") == 0) {
            t->report = true;
        } else if (strcmp(a, "--random-weights") == 0 || strncmp(a, "--random-weights=", 17) == 0) {
            if (a[16] == '=' && (!parse_i64(a + 17, &n) || n < 0)) {
                cli_usage_error(self, "--random-weights=SEED needs a whole number >= 0, not '%s'", a + 17);
                return HYC_EXIT_USAGE;
            }
        } else {
            cli_usage_error(self, "unknown option '%s'", a);
            return HYC_EXIT_USAGE;
        }
    }
    if (!t->threads) t->threads = online_cpus();
    if (!t->report && !t->model) {
        cli_usage_error(self, "missing MODEL");
        return HYC_EXIT_USAGE;
    }
    return HYC_EXIT_OK;
}

/* ---- Ctrl-C and progress ------------------------------------------------------------ */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct Progress {
    bool tty;
    double t0, budget_s; /* budget_s 0: no time limit */
    int done, total;     /* keys */
} Progress;

static void progress_show(const Progress *pg, const char *what)
{
    double el = now_s() - pg->t0;
    double frac = pg->total ? (double)pg->done / pg->total : 1.0;
    double eta = pg->budget_s > 0 ? pg->budget_s - el : (frac > 0 ? el / frac - el : 0);
    if (eta < 0) eta = 0;
    if (pg->tty) {
        char bar[31];
        int fill = (int)(frac * 30 + 0.5);
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r\033[K[%s] %3d/%d ETA %dm%02ds  %.90s", bar, pg->done, pg->total, (int)eta / 60, (int)eta % 60,
                what);
    } else {
        fprintf(stderr, "hyc tune: [%d/%d, %.0f s] %s\n", pg->done, pg->total, el, what);
    }
    fflush(stderr);
}

/* ---- kernels and keys ------------------------------------------------------------------ */

/* One tuning key: a distinct kernel called by one function. */
typedef struct Key {
    int kernel;
    const CgFunc *func;
    int64_t T, pos;
    int calls;          /* calls of the kernel in the function */
    const char *sig;
    int n_vars;         /* variants; [0] is the default */
    KirSchedule *vars;
    int *fn_index;      /* [n_vars]: index in the harness table, -1: not compiled */
    double bound_us;    /* roofline lower bound */
    double def_us;      /* first estimate of the default */
    double importance;  /* calls x def_us */
} Key;

typedef struct Harness {
    void *so;
    void (*const *fns)(void *const *, int64_t, int64_t, hycrt_pool *);
    int n;
} Harness;

typedef void (*TuneFn)(void *const *, int64_t, int64_t, hycrt_pool *);

/* The kernel copies a harness compiles: (kernel, variant) -> a name. */
typedef struct Unit {
    const KirKernel *k;
    KirSchedule sched;
} Unit;
typedef Vec(Unit) UnitVec;
typedef Vec(TuneFn) FnVec;

static bool name_matches(const char *pattern, const KirKernel *k)
{
    return !pattern || fnmatch(pattern, k->name, 0) == 0 || fnmatch(pattern, k->op, 0) == 0;
}

/* ---- cost bound -------------------------------------------------------------------- */

/* Integer values of loop variables while estimating trips. */
typedef struct Env {
    int64_t *val; /* [n_vars] */
    bool *known;
} Env;

static bool eval_int(const Env *env, const KirExpr *e, int64_t *out)
{
    int64_t a, b;
    switch (e->kind) {
    case KIR_E_CONST:
        if (kir_type_is_float(e->type)) return false;
        *out = e->i;
        return true;
    case KIR_E_VAR:
        if (!env->known[e->id]) return false;
        *out = env->val[e->id];
        return true;
    case KIR_E_LOAD: return false;
    case KIR_E_OP: break;
    }
    if (e->n_args == 1 && kir_op_info(e->op)->cls == KIR_OC_CAST) return eval_int(env, e->args[0], out);
    if (e->n_args != 2 || !eval_int(env, e->args[0], &a) || !eval_int(env, e->args[1], &b)) return false;
    switch (e->op) {
    case KIR_OP_ADD: *out = a + b; return true;
    case KIR_OP_SUB: *out = a - b; return true;
    case KIR_OP_MUL: *out = a * b; return true;
    case KIR_OP_DIV: *out = b ? a / b : 0; return true;
    case KIR_OP_REM: *out = b ? a % b : 0; return true;
    case KIR_OP_MIN: *out = a < b ? a : b; return true;
    case KIR_OP_MAX: *out = a > b ? a : b; return true;
    default: return false;
    }
}

/* Float operations of an expression (fma counts 2). */
static double expr_flops(const KirExpr *e)
{
    double f = 0;
    for (int i = 0; i < e->n_args; i++) f += expr_flops(e->args[i]);
    if (e->kind == KIR_E_OP && kir_type_is_float(e->type) && kir_op_info(e->op)->cls != KIR_OC_CAST)
        f += e->op == KIR_OP_FMA ? 2 : 1;
    return f;
}

/* Flops of a block, loop variables taken at the middle of their range
 * (a triangular loop counts half). */
static double block_flops(Env *env, const KirBlock *b)
{
    double f = 0;
    for (int i = 0; i < b->n; i++) {
        const KirStmt *s = b->stmts[i];
        switch (s->kind) {
        case KIR_S_FOR: {
            int64_t lo, hi;
            if (!eval_int(env, s->lo, &lo) || !eval_int(env, s->hi, &hi)) break; /* unknown: left out (a lower bound) */
            int64_t trip = hi > lo ? (hi - lo + s->step - 1) / s->step : 0;
            env->known[s->var] = true;
            env->val[s->var] = lo + (hi - lo) / 2;
            f += (double)trip * block_flops(env, &s->body);
            env->known[s->var] = false;
            break;
        }
        case KIR_S_IF: f += block_flops(env, &s->body); break;
        default: f += s->value ? expr_flops(s->value) : 0; break;
        }
    }
    return f;
}

enum { LLC_BYTES = 32 << 20 };

/* A lower bound on one call's time: its flops at the FMA peak, or the bytes
 * of its activations and weights at the read bandwidth (states are left
 * out: a decode reads only part of a KV cache). */
static double bound_us(Arena *a, const KirKernel *k, int64_t T, int64_t pos, double gflops, double gbps)
{
    Env env = {ARENA_NEW_N(a, int64_t, k->n_vars), ARENA_NEW_N(a, bool, k->n_vars)};
    env.known[KIR_VAR_T] = env.known[KIR_VAR_POS] = true;
    env.val[KIR_VAR_T] = T;
    env.val[KIR_VAR_POS] = pos;
    double flops = block_flops(&env, &k->body), bytes = 0;
    for (int i = 0; i < k->n_bufs; i++) {
        const KirBuf *b = &k->bufs[i];
        if (b->role == KIR_ROLE_IN || b->role == KIR_ROLE_OUT || b->role == KIR_ROLE_PARAM)
            bytes += (double)kir_buf_numel(b, T) * kir_type_size(b->type);
    }
    /* timed alone, a kernel finds a working set smaller than the last-level
     * cache in cache, beating a DRAM bound: the memory term counts only
     * beyond it */
    double tf = gflops > 0 ? flops / (gflops * 1e3) : 0;
    double tb = gbps > 0 && bytes > LLC_BYTES ? bytes / (gbps * 1e3) : 0;
    return tf > tb ? tf : tb;
}

/* ---- compiling harnesses -------------------------------------------------------------- */

/* 'word' for the shell. */
static const char *sh_quote(Arena *a, const char *s)
{
    StrBuf sb = {0};
    sb_putc(&sb, '\'');
    for (; *s; s++)
        if (*s == '\'') sb_puts(&sb, "'\\''");
        else sb_putc(&sb, *s);
    sb_putc(&sb, '\'');
    const char *r = arena_strdup(a, sb_cstr(&sb));
    sb_free(&sb);
    return r;
}

/* The C of units [lo, hi): each a kernel copy named tk<i>, then a wrapper
 * per copy taking the buffer pointers in the kernel's buffer order, and the
 * table `hyc_tune_fns`. */
static void harness_text(StrBuf *sb, Arena *a, const CgTarget *t, const Unit *u, int n)
{
    CgProgram hp = {0};
    hp.opts.target = *t;
    hp.kernels = ARENA_NEW_N(a, KirKernel *, n > 0 ? n : 1);
    for (int i = 0; i < n; i++) {
        KirKernel *c = ARENA_NEW(a, KirKernel);
        const KirKernel *f = kir_kernel_for_schedule(a, u[i].k, &u[i].sched); /* the variant's form (SSD chunk) */
        HYC_ASSERT(f);
        *c = *f;
        c->name = arena_printf(a, "tk%d", i);
        c->sched = u[i].sched;
        hp.kernels[i] = c;
    }
    hp.n_kernels = hp.cap_kernels = n;
    cg_emit_c_kernels(sb, &hp);
    sb_puts(sb, "/* ---- the tuner's entry points ---- */\n");
    for (int i = 0; i < n; i++) {
        const KirKernel *k = hp.kernels[i];
        sb_printf(sb, "static void tw%d(void *const *b, int64_t T, int64_t pos, hycrt_pool *pool)\n{\n    tk%d_args a;\n", i, i);
        for (int j = 0; j < k->n_bufs; j++)
            if (k->bufs[j].role != KIR_ROLE_CONST) sb_printf(sb, "    a.%s = b[%d];\n", k->bufs[j].name, j);
        sb_printf(sb, "    a.T = T;\n    a.pos = pos;\n    tk%d(&a, pool);\n}\n", i);
    }
    sb_printf(sb, "extern void (*const hyc_tune_fns[%d])(void *const *, int64_t, int64_t, hycrt_pool *);\n", n);
    sb_printf(sb, "void (*const hyc_tune_fns[%d])(void *const *, int64_t, int64_t, hycrt_pool *) = {\n", n);
    for (int i = 0; i < n; i++) sb_printf(sb, "    tw%d,\n", i);
    sb_puts(sb, "};\n");
}

/* Compile the units into shared objects (two compilers at a time, cached
 * by content), load them and append their entry points to fns in unit
 * order.  False after printing why. */
static bool compile_units(Arena *a, const CgTarget *t, const UnitVec *units, int from, FnVec *fns, Harness **hs,
                          int *n_hs)
{
    int n = units->len - from;
    if (n <= 0) return true;
    int jobs = online_cpus() > 1 ? 2 : 1;
    int per = (n + jobs * 2 - 1) / (jobs * 2); /* a few files: parallel, and a failure stays small */
    if (per < 8) per = 8;
    const char *base = compile_so_command(a, t, "hyc tune");
    if (!base) return false;
    const char *dir = arena_printf(a, "%s/tune", roofline_cache_dir(a));
    cli_mkdir_p(dir);
    int n_files = (n + per - 1) / per;
    const char **so = ARENA_NEW_N(a, const char *, n_files);
    pid_t *pid = ARENA_NEW_N(a, pid_t, n_files);
    const char **cmd = ARENA_NEW_N(a, const char *, n_files);
    for (int f = 0; f < n_files; f++) {
        int lo = from + f * per, hi = lo + per < units->len ? lo + per : units->len;
        StrBuf c = {0};
        harness_text(&c, a, t, &units->data[lo], hi - lo);
        StrBuf key = {0};
        sb_printf(&key, "%s\n%s\n", base, HYC_VERSION);
        sb_puts(&key, sb_cstr(&c));
        uint64_t h = kir_hash64(key.data, key.len);
        sb_free(&key);
        const char *stem = arena_printf(a, "%s/h-%016llx", dir, (unsigned long long)h);
        so[f] = arena_printf(a, "%s.so", stem);
        pid[f] = 0;
        if (access(so[f], R_OK) == 0) {
            sb_free(&c);
            continue;
        }
        const char *src = arena_printf(a, "%s.c", stem);
        if (!write_file_atomic(src, sb_cstr(&c), c.len)) {
            fprintf(stderr, "hyc tune: cannot write %s: %s\n", src, strerror(errno));
            sb_free(&c);
            return false;
        }
        sb_free(&c);
        const char *tmp = arena_printf(a, "%s.tmp%ld.so", stem, (long)getpid());
        cmd[f] = arena_printf(a, "%s -o %s %s -lm > %s 2>&1 && mv -f %s %s", base, sh_quote(a, tmp), sh_quote(a, src),
                              sh_quote(a, arena_printf(a, "%s.log", stem)), sh_quote(a, tmp), sh_quote(a, so[f]));
    }
    /* run at most `jobs` compilers at once */
    int running = 0, next = 0;
    bool ok = true;
    while (next < n_files || running > 0) {
        while (next < n_files && running < jobs) {
            if (!cmd[next]) {
                next++;
                continue;
            }
            pid_t p = fork();
            if (p == 0) {
                execl("/bin/sh", "sh", "-c", cmd[next], (char *)NULL);
                _exit(127);
            }
            if (p < 0) {
                fprintf(stderr, "hyc tune: cannot start the C compiler: %s\n", strerror(errno));
                return false;
            }
            pid[next++] = p;
            running++;
        }
        if (running == 0) break;
        int st;
        pid_t done = waitpid(-1, &st, 0);
        if (done < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int f = 0; f < n_files; f++)
            if (pid[f] == done) {
                running--;
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                    fprintf(stderr, "hyc tune: the C compiler failed: %s\n", cmd[f]);
                    ok = false;
                }
            }
    }
    if (!ok) return false;
    for (int f = 0; f < n_files; f++) {
        int lo = from + f * per, hi = lo + per < units->len ? lo + per : units->len;
        void *h = dlopen(so[f], RTLD_NOW | RTLD_LOCAL);
        TuneFn *table = h ? dlsym(h, "hyc_tune_fns") : NULL;
        if (!table) {
            fprintf(stderr, "hyc tune: cannot load %s: %s\n", so[f], dlerror());
            if (h) dlclose(h);
            return false;
        }
        *hs = realloc(*hs, sizeof **hs * (size_t)(*n_hs + 1));
        (*hs)[(*n_hs)++] = (Harness){h, NULL, hi - lo};
        for (int i = 0; i < hi - lo; i++) vec_push(fns, table[i]);
    }
    return true;
}

/* ---- buffers and measurement -------------------------------------------------------- */

typedef struct Bufs {
    int n;
    void **ptr;       /* [n]: what the kernel gets (NULL for const) */
    void **pristine;  /* [n]: the initial contents of writable buffers */
    size_t *bytes;
    bool *writable;
} Bufs;

static uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}

/* Buffers of k at T, filled with deterministic data: floats uniform in
 * [-0.1, 0.1] (small, so that scans over T steps stay finite), integers 0
 * (always a valid index: token ids, gathers). */
static Bufs bufs_new(const KirKernel *k, int64_t T)
{
    Bufs b = {k->n_bufs, NULL, NULL, NULL, NULL};
    int n = k->n_bufs > 0 ? k->n_bufs : 1;
    b.ptr = calloc((size_t)n, sizeof *b.ptr);
    b.pristine = calloc((size_t)n, sizeof *b.pristine);
    b.bytes = calloc((size_t)n, sizeof *b.bytes);
    b.writable = calloc((size_t)n, sizeof *b.writable);
    uint64_t seed = 0x5eed;
    for (int i = 0; i < k->n_bufs; i++) {
        const KirBuf *kb = &k->bufs[i];
        if (kb->role == KIR_ROLE_CONST) continue;
        size_t bytes = (size_t)kir_buf_numel(kb, T) * (size_t)kir_type_size(kb->type);
        size_t alloc = (bytes + 63) / 64 * 64 + 64;
        b.ptr[i] = aligned_alloc(64, alloc);
        memset(b.ptr[i], 0, alloc);
        b.bytes[i] = bytes;
        if (kb->type == KIR_F32) {
            float *f = b.ptr[i];
            for (size_t j = 0; j < bytes / 4; j++) f[j] = (float)((double)rng_next(&seed) / 9007199254740992.0 * 0.2 - 0.1);
        } else if (kb->type == KIR_F64) {
            double *d = b.ptr[i];
            for (size_t j = 0; j < bytes / 8; j++) d[j] = (double)rng_next(&seed) / 9007199254740992.0 * 0.2 - 0.1;
        }
        b.writable[i] = kir_role_writable(kb->role);
        if (b.writable[i]) {
            b.pristine[i] = xmalloc(bytes ? bytes : 1);
            memcpy(b.pristine[i], b.ptr[i], bytes);
        }
    }
    return b;
}

static void bufs_restore(Bufs *b)
{
    for (int i = 0; i < b->n; i++)
        if (b->writable[i]) memcpy(b->ptr[i], b->pristine[i], b->bytes[i]);
}

static void bufs_free(Bufs *b)
{
    for (int i = 0; i < b->n; i++) {
        free(b->ptr[i]);
        free(b->pristine[i]);
    }
    free(b->ptr);
    free(b->pristine);
    free(b->bytes);
    free(b->writable);
}

/* The outputs (out and state buffers) after one call from the initial
 * contents, as doubles, concatenated. */
static double *outputs(const KirKernel *k, Bufs *b, size_t *n)
{
    size_t total = 0;
    for (int i = 0; i < k->n_bufs; i++)
        if (k->bufs[i].role == KIR_ROLE_OUT || k->bufs[i].role == KIR_ROLE_STATE)
            total += b->bytes[i] / (size_t)kir_type_size(k->bufs[i].type);
    double *v = xmalloc(sizeof *v * (total ? total : 1));
    size_t at = 0;
    for (int i = 0; i < k->n_bufs; i++) {
        const KirBuf *kb = &k->bufs[i];
        if (kb->role != KIR_ROLE_OUT && kb->role != KIR_ROLE_STATE) continue;
        size_t m = b->bytes[i] / (size_t)kir_type_size(kb->type);
        for (size_t j = 0; j < m; j++)
            switch (kb->type) {
            case KIR_F32: v[at++] = ((float *)b->ptr[i])[j]; break;
            case KIR_F64: v[at++] = ((double *)b->ptr[i])[j]; break;
            case KIR_I32: v[at++] = ((int32_t *)b->ptr[i])[j]; break;
            case KIR_I64: v[at++] = (double)((int64_t *)b->ptr[i])[j]; break;
            default: HYC_DIE("unknown buffer type");
            }
    }
    *n = total;
    return v;
}

/* rel L2 of got against ref; non-finite values must match in kind. */
static bool outputs_match(const double *ref, const double *got, size_t n, double *rel)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(ref[i]) || !isfinite(got[i])) {
            if (isnan(ref[i]) != isnan(got[i]) || (isinf(ref[i]) && ref[i] != got[i])) {
                *rel = INFINITY;
                return false;
            }
            continue;
        }
        num += (got[i] - ref[i]) * (got[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    *rel = den > 0 ? sqrt(num / den) : sqrt(num);
    return *rel <= 1e-5;
}

/* One sample: `batch` calls, microseconds per call. */
static double sample_us(TuneFn fn, Bufs *b, const Key *key, hycrt_pool *pool, int batch)
{
    double t0 = now_s();
    for (int i = 0; i < batch; i++) fn((void *const *)b->ptr, key->T, key->pos, pool);
    return (now_s() - t0) * 1e6 / batch;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

typedef Vec(double) Samples;

static double median_of(const Samples *s)
{
    if (s->len == 0) return INFINITY;
    double *c = xmalloc(sizeof *c * (size_t)s->len);
    memcpy(c, s->data, sizeof *c * (size_t)s->len);
    qsort(c, (size_t)s->len, sizeof *c, cmp_double);
    double m = s->len % 2 ? c[s->len / 2] : 0.5 * (c[s->len / 2 - 1] + c[s->len / 2]);
    free(c);
    return m;
}

/* Half the interquartile range. */
static double spread_of(const Samples *s)
{
    if (s->len < 2) return 0;
    double *c = xmalloc(sizeof *c * (size_t)s->len);
    memcpy(c, s->data, sizeof *c * (size_t)s->len);
    qsort(c, (size_t)s->len, sizeof *c, cmp_double);
    double q1 = c[(s->len - 1) / 4], q3 = c[(3 * (s->len - 1) + 3) / 4];
    free(c);
    return 0.5 * (q3 - q1);
}

/* ---- the search for one key ------------------------------------------------------------ */

typedef struct Outcome {
    bool measured;          /* the default has a final time */
    TuneRecord def, best;   /* best.sched NULL: none beat the default */
    int rejected;           /* variants whose outputs differed */
    bool early;             /* stopped at the roofline */
} Outcome;

enum { FINAL_REPS = 9 };

/* Time variants `idx` (indices into key->vars) interleaved, `rounds` samples
 * each, appended to their sample lists; false when interrupted or past the
 * deadline. */
static bool sample_round(const Key *key, const FnVec *fns, Bufs *b, hycrt_pool *pool, int batch, const int *idx, int n,
                         Samples *s, int rounds, double deadline)
{
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n; i++) {
            if (interrupted || (deadline > 0 && now_s() > deadline)) return false;
            TuneFn fn = fns->data[key->fn_index[idx[i]]];
            vec_push(&s[idx[i]], sample_us(fn, b, key, pool, batch));
        }
    return true;
}

static Outcome tune_key(Arena *a, const CgProgram *p, Key *key, const FnVec *fns, hycrt_pool *pool, double deadline,
                        const TuneMachine *mc, int threads)
{
    Outcome o = {0};
    const KirKernel *k = p->kernels[key->kernel];
    Bufs b = bufs_new(k, key->T);
    int nv = key->n_vars;
    Samples *s = calloc((size_t)nv, sizeof *s);
    int *alive = calloc((size_t)nv, sizeof *alive);
    int n_alive = 0;
    /* the reference: the default from the initial contents */
    TuneFn def_fn = fns->data[key->fn_index[0]];
    bufs_restore(&b);
    def_fn((void *const *)b.ptr, key->T, key->pos, pool);
    size_t n_out;
    double *ref = outputs(k, &b, &n_out);
    /* batch so that a sample takes >= 0.2 ms: timer and dispatch noise */
    double one = sample_us(def_fn, &b, key, pool, 1);
    int batch = one >= 200 ? 1 : (int)(200 / (one > 0.05 ? one : 0.05)) + 1;
    if (batch > 2000) batch = 2000;
    /* the check round: every compiled variant once from the initial
     * contents, compared with the reference; the survivors get a sample */
    alive[n_alive++] = 0;
    bool early = key->bound_us > 0 && key->def_us <= key->bound_us * 1.05;
    for (int v = 1; v < nv && !early; v++) {
        if (key->fn_index[v] < 0) continue;
        if (interrupted || (deadline > 0 && now_s() > deadline)) break;
        TuneFn fn = fns->data[key->fn_index[v]];
        bufs_restore(&b);
        fn((void *const *)b.ptr, key->T, key->pos, pool);
        size_t n2;
        double *got = outputs(k, &b, &n2), rel;
        bool ok = n2 == n_out && outputs_match(ref, got, n_out, &rel);
        free(got);
        if (!ok) {
            o.rejected++;
            continue;
        }
        alive[n_alive++] = v;
    }
    o.early = early;
    /* successive halving: 2, 4, 8 ... samples each, keep the better half
     * (the default always stays: it is the baseline) */
    int reps = 2;
    while (n_alive > 2 && !interrupted) {
        if (!sample_round(key, fns, &b, pool, batch, alive, n_alive, s, reps, deadline)) break;
        /* sort alive[1..] by median */
        for (int i = 1; i < n_alive; i++)
            for (int j = i + 1; j < n_alive; j++)
                if (median_of(&s[alive[j]]) < median_of(&s[alive[i]])) {
                    int t = alive[i];
                    alive[i] = alive[j];
                    alive[j] = t;
                }
        n_alive = 1 + n_alive / 2; /* the default and ceil(half) of the others */
        if (key->bound_us > 0 && median_of(&s[alive[1]]) <= key->bound_us * 1.05) {
            o.early = true;
            break;
        }
        reps *= 2;
    }
    if (n_alive > 2) n_alive = 2; /* the best so far (sorted) */
    /* the final: default and best side by side, fresh samples */
    Samples fin[2] = {{0}, {0}};
    int fidx[2] = {0, n_alive > 1 ? alive[1] : -1};
    int nf = n_alive > 1 ? 2 : 1;
    bool complete = true;
    for (int r = 0; r < FINAL_REPS && complete; r++)
        for (int i = 0; i < nf; i++) {
            if (interrupted) {
                complete = false;
                break;
            }
            vec_push(&fin[i], sample_us(fns->data[key->fn_index[fidx[i]]], &b, key, pool, batch));
        }
    if (fin[0].len >= 3) {
        o.measured = true;
        TuneRecord base = {.sig = key->sig, .T = key->T, .threads = threads, .mc = *mc, .line = 0};
        o.def = base;
        o.def.kind = TUNE_DEFAULT;
        o.def.sched = tunedb_sched_text(a, k, &key->vars[0]);
        o.def.median_us = median_of(&fin[0]);
        o.def.spread_us = spread_of(&fin[0]);
        o.def.reps = fin[0].len;
        if (nf == 2 && fin[1].len >= 3) {
            o.best = base;
            o.best.kind = TUNE_BEST;
            o.best.sched = tunedb_sched_text(a, k, &key->vars[fidx[1]]);
            o.best.median_us = median_of(&fin[1]);
            o.best.spread_us = spread_of(&fin[1]);
            o.best.reps = fin[1].len;
        }
    }
    vec_free(&fin[0]);
    vec_free(&fin[1]);
    for (int v = 0; v < nv; v++) vec_free(&s[v]);
    free(s);
    free(alive);
    free(ref);
    bufs_free(&b);
    return o;
}

/* ---- the command --------------------------------------------------------------------- */

static bool write_db(const char *path, const TuneDb *db)
{
    StrBuf sb = {0};
    tunedb_write(&sb, db);
    bool ok = write_file_atomic(path, sb_cstr(&sb), sb.len);
    if (!ok) fprintf(stderr, "hyc tune: cannot write %s: %s\n", path, strerror(errno));
    sb_free(&sb);
    return ok;
}

static int cmp_importance(const void *x, const void *y)
{
    const Key *a = *(Key *const *)x, *b = *(Key *const *)y;
    if (a->importance != b->importance) return a->importance > b->importance ? -1 : 1;
    return a->kernel != b->kernel ? a->kernel - b->kernel : (int)(a->T - b->T);
}

/* The keys of p: every (distinct kernel, function calling it) that matches. */
static Key *make_keys(Arena *a, const CgProgram *p, const TuneArgs *t, int *n_keys)
{
    Key *keys = ARENA_NEW_N(a, Key, p->n_kernels * (p->n_funcs > 0 ? p->n_funcs : 1) + 1);
    int n = 0;
    for (int ki = 0; ki < p->n_kernels; ki++) {
        const KirKernel *k = p->kernels[ki];
        if (!name_matches(t->kernels, k)) continue;
        for (int f = 0; f < p->n_funcs; f++) {
            const CgFunc *cf = &p->funcs[f];
            int calls = 0;
            for (int c = 0; c < cf->n_calls; c++) calls += cf->calls[c].kernel == ki;
            if (!calls) continue;
            Key *key = &keys[n++];
            memset(key, 0, sizeof *key);
            key->kernel = ki;
            key->func = cf;
            key->T = cf->plan_T;
            /* decode mid-context (attention reads pos + 1 keys); prefill
             * from the start */
            int64_t ms = p->m->max_seq;
            key->pos = key->T == 1 ? (ms > 128 ? 64 : ms / 2) : 0;
            if (key->pos + key->T > ms) key->pos = ms - key->T > 0 ? ms - key->T : 0;
            key->calls = calls;
            key->sig = kir_signature(a, k, false);
        }
    }
    *n_keys = n;
    return keys;
}

static int do_tune(const TuneArgs *t)
{
    Arena arena;
    Interner in;
    Diag diag;
    arena_init(&arena);
    intern_init(&in, &arena);
    diag_init(&diag, stderr);
    Arena *a = &arena;
    int rc = HYC_EXIT_USER;
    double t0 = now_s();
    double deadline = t->budget_s > 0 ? t0 + t->budget_s : 0;
    Harness *hs = NULL;
    int n_hs = 0;
    FnVec fns = {0};
    UnitVec units = {0};
    hycrt_pool *pool = NULL;
    TuneDb db = {0};
    struct sigaction old_sa;
    bool sa_set = false;
    int n_done = 0, applied = 0, n_keys = 0;
    const char *model_name = t->model;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old_sa);
    sa_set = true;
    if (!tunedb_load(&db, a, t->db, true, &diag)) goto done;
    LoadedModel lm;
    if (!model_load(t->model, a, &in, &diag, &lm)) goto done;
    IrModule *m = lm.module;
    PassOptions po = {0};
    po.logits_last = !t->logits_all; /* as hyc bench: the prefill's LM head on its last row */
    if (!pass_run_pipeline(&m, t->level, &po, &diag)) goto done;
    if (!interp_module_is_lowered(m) && !interp_lower(m, &diag)) goto done;
    CgOptions co = {0};
    HYC_ASSERT(cg_target_lookup("native", &co.target));
    CgProgram *p = cg_lower_module(a, m, &co, &diag);
    if (!p) HYC_DIE("the Kernel IR lowering of module '%s' failed", m->name);
    TuneMachine mc = this_machine(&co.target);
    model_name = m->name;
    double gflops = 0, gbps = 0;
    roofline_get(t->threads, false, &gflops, &gbps, stderr);

    Key *keys = make_keys(a, p, t, &n_keys);
    if (n_keys == 0) {
        fprintf(stderr, "hyc tune: no kernel of %s matches '%s'\n", m->name, t->kernels ? t->kernels : "*");
        goto done;
    }
    /* the variants of each distinct kernel (shared by its keys) */
    int max_vars = t->max_vars > 0 ? (int)t->max_vars : 64;
    KirSchedule **kvars = ARENA_NEW_N(a, KirSchedule *, p->n_kernels);
    int *kn = ARENA_NEW_N(a, int, p->n_kernels);
    int *def_unit = ARENA_NEW_N(a, int, p->n_kernels);
    for (int ki = 0; ki < p->n_kernels; ki++) {
        kn[ki] = 0;
        def_unit[ki] = -1;
    }
    for (int i = 0; i < n_keys; i++) {
        int ki = keys[i].kernel;
        const KirKernel *k = p->kernels[ki];
        if (!kvars[ki]) {
            KirSchedule *v = ARENA_NEW_N(a, KirSchedule, 65);
            v[0] = kir_schedule_copy(a, &k->sched); /* the program's default first */
            KirSchedule *more = ARENA_NEW_N(a, KirSchedule, 64);
            int nm = kir_schedule_variants(a, k, &co.target, more, 64), n = 1;
            const char *def_text = tunedb_sched_text(a, k, &v[0]);
            for (int j = 0; j < nm && n < max_vars; j++)
                if (strcmp(tunedb_sched_text(a, k, &more[j]), def_text) != 0) v[n++] = more[j];
            kvars[ki] = v;
            kn[ki] = n;
            def_unit[ki] = units.len;
            vec_push(&units, ((Unit){k, v[0]}));
        }
        keys[i].vars = kvars[ki];
        keys[i].n_vars = kn[ki];
        keys[i].fn_index = ARENA_NEW_N(a, int, kn[ki]);
        for (int j = 0; j < kn[ki]; j++) keys[i].fn_index[j] = -1;
        keys[i].fn_index[0] = def_unit[ki];
        keys[i].bound_us = bound_us(a, k, keys[i].T, keys[i].pos, gflops, gbps);
    }
    fprintf(stderr, "hyc tune: %s: %d kernel%s x function, %d thread%s, %s; compiling the defaults\n", m->name, n_keys,
            n_keys == 1 ? "" : "s", t->threads, t->threads == 1 ? "" : "s", mc.features);
    if (!compile_units(a, &co.target, &units, 0, &fns, &hs, &n_hs)) goto compile_failed;
    pool = hycrt_pool_new(t->threads);
    if (!pool) {
        fprintf(stderr, "hyc tune: cannot start %d threads\n", t->threads);
        goto done;
    }

    /* where the time goes: each default once (warm-up), then timed */
    double total_imp = 0;
    for (int i = 0; i < n_keys && !interrupted; i++) {
        Key *key = &keys[i];
        Bufs b = bufs_new(p->kernels[key->kernel], key->T);
        TuneFn fn = fns.data[key->fn_index[0]];
        fn((void *const *)b.ptr, key->T, key->pos, pool);
        double best = INFINITY;
        for (int r = 0; r < 3; r++) {
            double us = sample_us(fn, &b, key, pool, 1);
            if (us < best) best = us;
        }
        bufs_free(&b);
        key->def_us = best;
        key->importance = best * key->calls;
    }
    /* prefill and decode are timed apart (pp and tg): a key's importance is
     * its share of its own function's time, so each function gets its part
     * of the budget however long its calls are */
    for (int i = 0; i < n_keys; i++) {
        double fn_total = 0;
        for (int j = 0; j < n_keys; j++)
            if (keys[j].func == keys[i].func) fn_total += keys[j].def_us * keys[j].calls;
        keys[i].importance = fn_total > 0 ? keys[i].def_us * keys[i].calls / fn_total : 0;
    }
    for (int i = 0; i < n_keys; i++) total_imp += keys[i].importance;
    Key **order = ARENA_NEW_N(a, Key *, n_keys);
    for (int i = 0; i < n_keys; i++) order[i] = &keys[i];
    qsort(order, (size_t)n_keys, sizeof *order, cmp_importance);
    /* the keys worth it: the largest ones covering 97% of the time, none
     * already at its roofline; with a count budget, every key */
    int n_tune = 0;
    double covered = 0;
    for (int i = 0; i < n_keys; i++) {
        Key *key = order[i];
        bool at_roof = key->bound_us > 0 && key->def_us <= key->bound_us * 1.05;
        if (t->budget_s > 0 && covered >= 0.97 * total_imp) break;
        covered += key->importance;
        if (!at_roof) n_tune = i + 1;
    }
    /* compile their variants */
    int from = units.len;
    for (int i = 0; i < n_tune; i++) {
        Key *key = order[i];
        const KirKernel *k = p->kernels[key->kernel];
        /* the other key of the same kernel may have compiled them */
        for (int j = 0; j < i; j++)
            if (order[j]->kernel == key->kernel && order[j]->fn_index[1 % order[j]->n_vars] >= 0) {
                memcpy(key->fn_index, order[j]->fn_index, sizeof *key->fn_index * (size_t)key->n_vars);
                break;
            }
        if (key->n_vars > 1 && key->fn_index[1] >= 0) continue;
        for (int v = 1; v < key->n_vars; v++) {
            key->fn_index[v] = units.len;
            vec_push(&units, ((Unit){k, key->vars[v]}));
        }
    }
    fprintf(stderr, "hyc tune: compiling %d variants of the %d kernel%s that take %.0f%% of the time (%.1f s so far)\n",
            units.len - from, n_tune, n_tune == 1 ? "" : "s", total_imp > 0 ? 100.0 * covered / total_imp : 100.0,
            now_s() - t0);
    if (!compile_units(a, &co.target, &units, from, &fns, &hs, &n_hs)) goto compile_failed;

    /* measure, most important first; each key gets the remaining time in
     * proportion to its share */
    Progress pg = {isatty(2), t0, t->budget_s, 0, n_tune};
    double imp_left = 0;
    for (int i = 0; i < n_tune; i++) imp_left += order[i]->importance;
    for (int i = 0; i < n_tune && !interrupted; i++) {
        Key *key = order[i];
        const KirKernel *k = p->kernels[key->kernel];
        double key_deadline = 0;
        if (deadline > 0) {
            double left = deadline - now_s();
            if (left <= 0) break;
            key_deadline = now_s() + left * (imp_left > 0 ? key->importance / imp_left : 1.0);
        }
        imp_left -= key->importance;
        progress_show(&pg, arena_printf(a, "%s @T=%lld: %d variants", k->name, (long long)key->T, key->n_vars));
        Outcome o = tune_key(a, p, key, &fns, pool, key_deadline, &mc, t->threads);
        pg.done++;
        n_done = pg.done;
        if (!o.measured) continue;
        tunedb_put(&db, a, &o.def);
        const char *what;
        if (o.best.sched) {
            tunedb_put(&db, a, &o.best);
            bool wins = tunedb_beats(&o.best, &o.def);
            applied += wins;
            what = arena_printf(a, "%s @T=%lld: default %.1f us, best %.1f us (%.2fx%s) %s%s", k->name, (long long)key->T,
                                o.def.median_us, o.best.median_us, o.def.median_us / o.best.median_us,
                                wins ? "" : ", within noise", o.best.sched, o.rejected ? " [some rejected]" : "");
        } else {
            what = arena_printf(a, "%s @T=%lld: default %.1f us%s", k->name, (long long)key->T, o.def.median_us,
                                o.early ? " (at its roofline)" : "");
        }
        progress_show(&pg, what);
    }
    if (pg.tty) fputc('\n', stderr);
finish:
    if (!write_db(t->db, &db)) goto done;
    fprintf(stderr, "hyc tune: %s: %d of %d kernel keys measured, %d faster than the default beyond noise; %s written "
                    "(%.0f s)\n",
            model_name, n_done, n_keys, applied, t->db, now_s() - t0);
    rc = interrupted ? 130 : HYC_EXIT_OK;
    if (interrupted) fprintf(stderr, "hyc tune: interrupted: what was measured is kept\n");
    goto done;
compile_failed:
    /* Ctrl-C reaches the compilers too: keep the database as it was */
    if (interrupted) goto finish;
done:
    if (sa_set) sigaction(SIGINT, &old_sa, NULL);
    if (pool) hycrt_pool_free(pool);
    for (int i = 0; i < n_hs; i++) dlclose(hs[i].so);
    free(hs);
    vec_free(&fns);
    vec_free(&units);
    if (diag.n_errors && rc == HYC_EXIT_OK) rc = HYC_EXIT_USER;
    intern_free(&in);
    arena_free(&arena);
    return rc;
}

/* ---- the report --------------------------------------------------------------------- */

typedef struct Row {
    const TuneRecord *def, *best;
    double speedup; /* 1 when not applied */
    bool applied;
} Row;

/* "matmul out:f32[T, 256]": the op and its output shape, from a signature. */
static const char *sig_label(Arena *a, const char *sig)
{
    const char *sp = strchr(sig, ' ');
    size_t opn = sp ? (size_t)(sp - sig) : strlen(sig);
    const char *out = strstr(sig, " out:");
    if (!out) return arena_strndup(a, sig, opn);
    out += 5;
    const char *end = strchr(out, ']');
    size_t n = end ? (size_t)(end - out + 1) : strlen(out);
    return arena_printf(a, "%.*s %.*s #%.6s", (int)opn, sig, (int)n, out,
                        strrchr(sig, '#') ? strrchr(sig, '#') + 1 : "");
}

static void svg_text(StrBuf *sb, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '<': sb_puts(sb, "&lt;"); break;
        case '>': sb_puts(sb, "&gt;"); break;
        case '&': sb_puts(sb, "&amp;"); break;
        case '"': sb_puts(sb, "&quot;"); break;
        default: sb_putc(sb, *s);
        }
}

/* Speed-up per key as a bar on a log scale around 1x: right of the line
 * faster, left slower; green where a build applies it. */
static void write_svg(StrBuf *sb, Arena *a, const Row *rows, int n)
{
    double span = 1.0; /* log2 of the largest ratio either way, at least 2x */
    for (int i = 0; i < n; i++) {
        double l = rows[i].best ? fabs(log2(rows[i].def->median_us / rows[i].best->median_us)) : 0;
        if (l > span) span = l;
    }
    int rowh = 18, left = 340, half = 220, top = 44;
    double x0 = left + half;
    sb_printf(sb,
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"monospace\" "
              "font-size=\"11\">\n",
              left + 2 * half + 170, top + rowh * n + 34);
    sb_puts(sb, "<text x=\"10\" y=\"18\" font-size=\"14\">hyc tune: tuned vs default time per kernel "
                "(log scale; green: applied by --tuning-db)</text>\n");
    sb_printf(sb, "<text x=\"%d\" y=\"36\" fill=\"#555\">slower</text><text x=\"%.0f\" y=\"36\" fill=\"#555\">faster "
                  "(up to %.3gx)</text>\n",
              left, x0 + 6, pow(2.0, span));
    for (int i = 0; i < n; i++) {
        const Row *r = &rows[i];
        double s = r->best ? r->def->median_us / r->best->median_us : 1.0;
        double w = half * log2(s) / span;
        int y = top + i * rowh;
        sb_printf(sb, "<text x=\"10\" y=\"%d\">", y + 12);
        svg_text(sb, arena_printf(a, "%s T=%lld", sig_label(a, r->def->sig), (long long)r->def->T));
        sb_puts(sb, "</text>\n");
        sb_printf(sb, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n", w >= 0 ? x0 : x0 + w, y + 2,
                  fabs(w) > 0.5 ? fabs(w) : 0.5, rowh - 4, r->applied ? "#3a3" : "#aaa");
        sb_printf(sb, "<text x=\"%.0f\" y=\"%d\">%.2fx  %.1f / %.1f us</text>\n", x0 + half + 8, y + 12, s,
                  r->def->median_us, r->best ? r->best->median_us : r->def->median_us);
    }
    sb_printf(sb, "<line x1=\"%.0f\" y1=\"%d\" x2=\"%.0f\" y2=\"%d\" stroke=\"#c33\"/>\n", x0, top - 2, x0, top + rowh * n);
    sb_printf(sb, "<text x=\"%.0f\" y=\"%d\" fill=\"#c33\">1x</text>\n", x0 - 8, top + rowh * n + 14);
    sb_puts(sb, "</svg>\n");
}

static int do_report(const TuneArgs *t)
{
    Arena arena;
    Diag diag;
    arena_init(&arena);
    diag_init(&diag, stderr);
    Arena *a = &arena;
    int rc = HYC_EXIT_USER;
    TuneDb db = {0};
    if (!tunedb_load(&db, a, t->db, false, &diag)) goto done;
    CgTarget native;
    HYC_ASSERT(cg_target_lookup("native", &native));
    TuneMachine mc = this_machine(&native);
    Row *rows = ARENA_NEW_N(a, Row, db.n + 1);
    int n = 0, stale = 0;
    for (int i = 0; i < db.n; i++) {
        const TuneRecord *r = &db.recs[i];
        if (tunedb_is_stale(r, &mc)) {
            stale++;
            continue;
        }
        if (r->kind != TUNE_DEFAULT || r->threads != t->threads) continue;
        Row row = {r, tunedb_find(&db, r->sig, r->T, r->threads, &mc, TUNE_BEST), 1.0, false};
        if (row.best) {
            row.applied = tunedb_beats(row.best, r);
            row.speedup = r->median_us / row.best->median_us;
        }
        rows[n++] = row;
    }
    /* where tuning gained most first: time saved per call */
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double gi = rows[i].applied ? rows[i].def->median_us - rows[i].best->median_us : 0;
            double gj = rows[j].applied ? rows[j].def->median_us - rows[j].best->median_us : 0;
            if (gj > gi) {
                Row tmp = rows[i];
                rows[i] = rows[j];
                rows[j] = tmp;
            }
        }
    printf("# tuning report: %s, %s, %d thread%s (%d kernel keys; %d stale records not shown)\n", mc.cpu, mc.features,
           t->threads, t->threads == 1 ? "" : "s", n, stale);
    printf("| kernel | T | default us | tuned us | speed-up | applied | tuned schedule |\n");
    printf("| --- | ---: | ---: | ---: | ---: | --- | --- |\n");
    double sum_def = 0, sum_tuned = 0;
    for (int i = 0; i < n; i++) {
        const Row *r = &rows[i];
        double tuned = r->applied ? r->best->median_us : r->def->median_us;
        sum_def += r->def->median_us;
        sum_tuned += tuned;
        printf("| %s | %lld | %.1f ± %.1f | %s | %.2fx | %s | %s |\n", sig_label(a, r->def->sig), (long long)r->def->T,
               r->def->median_us, r->def->spread_us,
               r->best ? arena_printf(a, "%.1f ± %.1f", r->best->median_us, r->best->spread_us) : "-",
               r->best ? r->speedup : 1.0, r->applied ? "yes" : "no", r->best ? r->best->sched : r->def->sched);
    }
    printf("\nsum over kernel keys (one call each): default %.1f us, tuned %.1f us (%.2fx)\n", sum_def, sum_tuned,
           sum_tuned > 0 ? sum_def / sum_tuned : 1.0);
    StrBuf svg = {0};
    write_svg(&svg, a, rows, n);
    const char *path = t->svg ? t->svg : arena_printf(a, "%s.svg", t->db);
    if (!write_file_atomic(path, sb_cstr(&svg), svg.len)) {
        fprintf(stderr, "hyc tune: cannot write %s: %s\n", path, strerror(errno));
        sb_free(&svg);
        goto done;
    }
    sb_free(&svg);
    fprintf(stderr, "hyc tune: chart written to %s\n", path);
    rc = HYC_EXIT_OK;
done:
    arena_free(&arena);
    return rc;
}

int cmd_tune(int argc, char **argv)
{
    const Command *self = cli_find_command("tune");
    if (cli_wants_help(argc, argv)) {
        fputs(TUNE_HELP, stdout);
        return HYC_EXIT_OK;
    }
    TuneArgs t;
    int rc = parse_args(self, argc, argv, &t);
    if (rc != HYC_EXIT_OK) return rc;
    return t.report ? do_report(&t) : do_tune(&t);
}
