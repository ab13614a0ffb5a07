/* check_llvm.c — unit tests of the LLVM backend (codegen/emit_llvm.c).
 *
 * The op modules and models of check_codegen.c (their IR texts are copied
 * below) are lowered, emitted through LLVM as objects (-O2; the generic
 * target, x86-64-v4 when the CPU has it, and schedule variants with tiles,
 * unrolls and other lane counts), linked with `cc` into one shared object
 * with a small pthread parallel-for, loaded and run for a prefill, decodes
 * and a continued prefill, against the interpreter (rel L2 <= 1e-4) and
 * against the C backend's output for the same program on the same inputs.
 * Also: every module verifies at -O0 with verify-each, the .ll text is
 * byte-identical across runs, .bc and .s are written, the descriptor's
 * layout is the one libhycrt reads, and one model is linked with
 * libhycrt.a into an executable (emit_main) whose --logits-out matches the
 * interpreter.
 *
 *   KEEP=1     keep the generated files (the directory is printed)
 */
#include "codegen/codegen.h"
#include "interp/interp.h"
#include "passes/passes.h"
#include "runtime/hycrt.h"

#include <check.h>
#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef HYCRT_LIB
#define HYCRT_LIB "build/libhycrt.a"
#endif
#ifndef HYCRT_LIB_LDFLAGS /* what linking libhycrt.a needs (SAN=1: the sanitizers) */
#define HYCRT_LIB_LDFLAGS ""
#endif

/* ---- the modules (as in check_codegen.c) ------------------------------------------- */

#include "codegen_cases.h"

static const Case cases[] = {
    CODEGEN_BASE_CASES
};
enum { N_CASES = sizeof cases / sizeof cases[0] };

/* Whole models (composites lowered by the -O1 pipeline first). */
static const char *const model_files[] = {"tests/ir/good/hybrid.ir", "tests/ir/good/composites.ir"};
enum { N_MODELS = sizeof model_files / sizeof model_files[0] };

/* Programs whose kernels get schedules other than the default: variant v of
 * case c takes, for kernel i, kir_schedule_variants(...)[(v n / 6 + i) % n]. */
static const struct {
    int c, variants;
} sched_cases[] = {{0, 6}, {1, 3}, {10, 3}, {13, 2}};
enum { N_SCHED = sizeof sched_cases / sizeof sched_cases[0] };

static char *expand(const Case *c)
{
    StrBuf sb = {0};
    sb_printf(&sb, "module @%s {\n  max_seq = 32\n%s", c->name, c->decls);
    for (int f = 0; f < 2; f++) {
        if (f == 0) sb_printf(&sb, "  func @prefill(%%tokens: i32[T]) -> f32[T, %d] {\n", c->vocab);
        else sb_printf(&sb, "  }\n  func @decode(%%tokens: i32[1]) -> f32[1, %d] {\n", c->vocab);
        for (const char *p = c->body; *p; p++) {
            if (p[0] == '$' && p[1] == 'T') {
                sb_puts(&sb, f == 0 ? "T" : "1");
                p++;
            } else {
                sb_putc(&sb, *p);
            }
        }
    }
    sb_puts(&sb, "  }\n}\n");
    char *s = xstrdup(sb_cstr(&sb));
    sb_free(&sb);
    return s;
}

/* ---- building ------------------------------------------------------------------------ */

typedef struct Prog {
    const char *name;
    IrModule *m;
    CgProgram *p;
    int base, variant;
    int set;   /* 0: generic, 1: x86-64-v4 */
} Prog;

enum { MAX_PROGS = 64 };
static Prog progs[MAX_PROGS];
static int n_progs;
static Arena G;
static Interner GI;
static char workdir[64];
static const char *build_error;
static double t_llvm, t_llvm_cpu, t_cc_llvm, t_cc_c;

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static void *so_llvm[2], *so_c[2];
static bool have_v4;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static IrModule *parse_lowered(Arena *a, Interner *in, const char *name, const char *text, Diag *d)
{
    SrcFile *f = ARENA_NEW(a, SrcFile);
    f->name = arena_strdup(a, name);
    f->text = arena_strdup(a, text);
    f->len = strlen(text);
    IrModule *m = ir_parse(f, a, in, d);
    if (!m) return NULL;
    PassOptions o = {0};
    o.verify_each = true;
    if (!pass_run_pipeline(&m, 1, &o, d)) return NULL;
    return m;
}

static IrModule *program_module(int i)
{
    Diag d;
    diag_init(&d, stderr);
    if (i < N_CASES) {
        char *text = expand(&cases[i]);
        IrModule *m = parse_lowered(&G, &GI, cases[i].name, text, &d);
        free(text);
        return m;
    }
    size_t len;
    char *text = read_file(model_files[i - N_CASES], &len);
    if (!text) return NULL;
    IrModule *m = parse_lowered(&G, &GI, model_files[i - N_CASES], text, &d);
    free(text);
    return m;
}

static CgProgram *build_program(IrModule *m, const CgTarget *t, int v, bool emit_main)
{
    Diag d;
    diag_init(&d, stderr);
    CgOptions o = {0};
    o.target = *t;
    o.max_batch = 8;
    o.hints.par_min_work = -1;
    o.flags = "--test";
    o.emit_main = emit_main;
    CgProgram *p = cg_lower_module(&G, m, &o, &d);
    if (!p || v < 0) return p;
    for (int i = 0; i < p->n_kernels; i++) {
        KirSchedule vs[64];
        int n = kir_schedule_variants(&G, p->kernels[i], t, vs, 64);
        if (n > 0 && !cg_program_set_schedule(p, i, &vs[(v * n / 6 + i) % n], &d)) return NULL;
    }
    return p;
}

static IrModule *renamed(IrModule *m, const char *name)
{
    IrModule *c = ARENA_NEW(&G, IrModule);
    *c = *m;
    c->name = arena_strdup(&G, name);
    return c;
}

static void add_prog(int set, IrModule *m, int base, int variant, const CgTarget *t)
{
    Prog *pr = &progs[n_progs++];
    pr->base = base;
    pr->variant = variant;
    pr->set = set;
    const char *nm = cg_c_ident(&G, m->name);
    if (variant >= 0) nm = arena_printf(&G, "%s_v%d", nm, variant);
    if (set == 1) nm = arena_printf(&G, "%s_x4", nm);
    pr->m = strcmp(nm, cg_c_ident(&G, m->name)) == 0 ? m : renamed(m, nm);
    pr->name = cg_c_ident(&G, pr->m->name);
    pr->p = build_program(pr->m, t, variant, false);
}

static const char *pool_source =
    "#include \"hycrt.h\"\n#include <pthread.h>\n#include <stdlib.h>\n"
    "struct hycrt_pool { int n; };\n"
    "typedef struct Job { hycrt_task_fn fn; void *arg; int i, n; } Job;\n"
    "static void *run(void *p) { Job *j = p; j->fn(j->arg, j->i, j->n); return NULL; }\n"
    "void hycrt_parallel_for(hycrt_pool *pool, int n, hycrt_task_fn fn, void *arg)\n"
    "{\n"
    "    pthread_t th[16];\n    Job jobs[16];\n    (void)pool;\n"
    "    for (int i = 1; i < n && i < 16; i++) {\n"
    "        jobs[i] = (Job){fn, arg, i, n};\n"
    "        if (pthread_create(&th[i], NULL, run, &jobs[i]) != 0) abort();\n"
    "    }\n"
    "    fn(arg, 0, n);\n"
    "    for (int i = 1; i < n && i < 16; i++) pthread_join(th[i], NULL);\n"
    "}\n"
    "int hycrt_pool_threads(const hycrt_pool *pool) { return pool ? pool->n : 1; }\n"
    "hycrt_pool *test_pool(void) { static hycrt_pool p = {3}; return &p; }\n";

static void *load_so(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s.so", workdir, name);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) build_error = arena_printf(&G, "dlopen: %s", dlerror());
    return h;
}

/* Emit every program as an object through LLVM and as C, link each set
 * into a shared object per backend, load them. */
static void build_all(void)
{
    arena_init(&G);
    intern_init(&GI, &G);
    strcpy(workdir, "/tmp/hyc_llvm_XXXXXX");
    if (!mkdtemp(workdir)) {
        build_error = "cannot make a temporary directory";
        return;
    }
    CgTarget generic = cg_target_generic(), native, v4;
    cg_target_lookup("native", &native);
    have_v4 = native.isa >= CG_ISA_AVX512 && cg_target_lookup("x86-64-v4", &v4);
    IrModule *mods[N_CASES + N_MODELS];
    for (int i = 0; i < N_CASES + N_MODELS; i++) {
        mods[i] = program_module(i);
        if (!mods[i]) {
            build_error = arena_printf(&G, "test module %d does not parse or lower", i);
            return;
        }
    }
    for (int i = 0; i < N_CASES + N_MODELS; i++) add_prog(0, mods[i], i, -1, &generic);
    for (int s = 0; s < N_SCHED; s++)
        for (int v = 0; v < sched_cases[s].variants; v++) add_prog(0, mods[sched_cases[s].c], sched_cases[s].c, v, &generic);
    if (have_v4)
        for (int i = 0; i < N_CASES + 1; i++) add_prog(1, mods[i], i, -1, &v4);
    char path[256];
    snprintf(path, sizeof path, "%s/pool.c", workdir);
    write_file_atomic(path, pool_source, strlen(pool_source));
    StrBuf objs[2] = {{0}, {0}}, cfiles[2] = {{0}, {0}};
    Diag d;
    diag_init(&d, stderr);
    for (int i = 0; i < n_progs; i++) {
        Prog *pr = &progs[i];
        if (!pr->p) {
            build_error = arena_printf(&G, "%s: lowering failed", pr->name);
            return;
        }
        StrBuf c = {0};
        cg_emit_c(&c, pr->p);
        snprintf(path, sizeof path, "%s/%s.c", workdir, pr->name);
        write_file_atomic(path, sb_cstr(&c), c.len);
        sb_free(&c);
        sb_printf(&cfiles[pr->set], " %s", path);
    }
    /* the C backend's programs compile in the background, beside LLVM */
    double t0 = now_s();
    {
        StrBuf cc = {0};
        sb_printf(&cc, "( (cc -std=c11 -O1 -fPIC -shared -Iruntime -o %s/c0.so %s/pool.c%s -lm -lpthread)", workdir, workdir,
                  sb_cstr(&cfiles[0]));
        if (have_v4)
            sb_printf(&cc, " && (cc -std=c11 -O1 -march=x86-64-v4 -fPIC -shared -Iruntime -o %s/c1.so %s/pool.c%s -lm -lpthread)",
                      workdir, workdir, sb_cstr(&cfiles[1]));
        sb_printf(&cc, "; echo $? > %s/c.rc.tmp; mv %s/c.rc.tmp %s/c.rc ) > %s/c.log 2>&1 &", workdir, workdir, workdir, workdir);
        if (system(sb_cstr(&cc)) != 0) build_error = "the compiler could not be started";
        sb_free(&cc);
    }
    t_cc_c = now_s() - t0;
    t0 = now_s();
    double c0 = cpu_s();
    for (int i = 0; i < n_progs; i++) {
        Prog *pr = &progs[i];
        if (!pr->p) {
            build_error = arena_printf(&G, "%s: lowering failed", pr->name);
            return;
        }
        CgLlvmOptions lo = {0};
        lo.opt_level = 2;
        snprintf(path, sizeof path, "%s/%s.o", workdir, pr->name);
        if (!cg_emit_llvm(pr->p, &lo, CG_LLVM_OBJ, path, &d)) {
            build_error = arena_printf(&G, "%s: cg_emit_llvm failed", pr->name);
            return;
        }
        sb_printf(&objs[pr->set], " %s", path);
    }
    t_llvm = now_s() - t0;
    t_llvm_cpu = cpu_s() - c0;
    t0 = now_s();
    StrBuf cmd = {0};
    sb_printf(&cmd, "cc -shared -o %s/llvm0.so %s/pool.c -Iruntime %s -lm -lpthread", workdir, workdir, sb_cstr(&objs[0]));
    if (have_v4) sb_printf(&cmd, " && cc -shared -o %s/llvm1.so %s/pool.c -Iruntime %s -lm -lpthread", workdir, workdir, sb_cstr(&objs[1]));
    if (system(sb_cstr(&cmd)) != 0) build_error = "linking the LLVM objects failed";
    t_cc_llvm = now_s() - t0;
    sb_free(&cmd);
    /* the C twins were compiling meanwhile */
    t0 = now_s();
    int rc = -1;
    for (int tries = 0; tries < 6000 && rc < 0; tries++) {
        snprintf(path, sizeof path, "%s/c.rc", workdir);
        size_t len;
        char *t = read_file(path, &len);
        if (t && len > 0 && t[len - 1] == '\n') rc = atoi(t);
        free(t);
        if (rc < 0) nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    t_cc_c += now_s() - t0;
    if (rc != 0 && !build_error) build_error = "compiling the C programs failed";
    for (int s = 0; s < 2; s++) {
        sb_free(&objs[s]);
        sb_free(&cfiles[s]);
    }
    if (build_error) return;
    so_llvm[0] = load_so("llvm0");
    so_c[0] = load_so("c0");
    if (have_v4) {
        so_llvm[1] = load_so("llvm1");
        so_c[1] = load_so("c1");
    }
}

static void cleanup_workdir(void) { cleanup_scratch_dir(workdir, "check_llvm"); }

/* ---- running ------------------------------------------------------------------------- */

typedef struct Runner {
    const hycrt_model_desc *desc;
    hycrt_ctx ctx;
    uint8_t *blob, *state, *scratch;
} Runner;

static bool runner_init(Runner *r, void *so, const Prog *pr, const Weights *w, char *why, size_t n)
{
    char sym[256];
    snprintf(sym, sizeof sym, "%s_desc", pr->name);
    r->desc = dlsym(so, sym);
    hycrt_pool *(*pool)(void) = (hycrt_pool * (*)(void)) dlsym(so, "test_pool");
    if (!r->desc || !pool) {
        snprintf(why, n, "no symbol %s", sym);
        return false;
    }
    const CgProgram *p = pr->p;
    r->blob = aligned_alloc(64, p->weights_bytes + 64);
    r->state = aligned_alloc(64, p->state_bytes + 64);
    r->scratch = aligned_alloc(64, p->scratch_bytes + 64);
    memset(r->blob, 0, p->weights_bytes);
    memset(r->state, 0, p->state_bytes);
    for (int i = 0; i < pr->m->n_params; i++) memcpy(r->blob + p->param_offset[i], w->data[i], r->desc->tensors[i].size);
    memset(&r->ctx, 0, sizeof r->ctx);
    r->ctx.desc = r->desc;
    r->ctx.weights = r->blob;
    r->ctx.state = r->state;
    r->ctx.scratch = r->scratch;
    r->ctx.pool = pool();
    return true;
}

static void runner_free(Runner *r)
{
    free(r->blob);
    free(r->state);
    free(r->scratch);
}

/* Prefill 5, decode 3, prefill 3, decode 2: the LLVM program within 1e-4 of
 * the interpreter and of the C program at every step. */
static double run_prog(const Prog *pr, double *vs_c, char *why, size_t why_len)
{
    static const int steps[] = {5, 1, 1, 3, 1, 2};
    const IrModule *m = pr->m;
    Weights w;
    weights_random(&w, m, 1234);
    Runner rl, rc;
    if (!runner_init(&rl, so_llvm[pr->set], pr, &w, why, why_len) || !runner_init(&rc, so_c[pr->set], pr, &w, why, why_len)) {
        weights_free(&w);
        return -1;
    }
    InterpSession *s = interp_new(m, &w);
    Diag d;
    diag_init(&d, stderr);
    int V = rl.desc->vocab, lim = token_limit(m, V);
    float *ref = xmalloc(sizeof(float) * 8 * (size_t)V), *got = xmalloc(sizeof(float) * 8 * (size_t)V),
          *cgot = xmalloc(sizeof(float) * 8 * (size_t)V);
    uint64_t r = 99;
    double worst = 0.0;
    *vs_c = 0.0;
    for (size_t st = 0; st < sizeof steps / sizeof steps[0] && worst >= 0; st++) {
        int T = steps[st];
        int32_t toks[8];
        for (int i = 0; i < T; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            toks[i] = (int32_t)((r >> 33) % (uint64_t)lim);
        }
        if (!interp_run(s, T == 1 ? "decode" : "prefill", toks, T, ref, &d)) {
            snprintf(why, why_len, "the interpreter failed");
            worst = -1;
            break;
        }
        int rcl = rl.desc->forward(&rl.ctx, toks, T, got, HYCRT_LOGITS_ALL);
        int rcc = rc.desc->forward(&rc.ctx, toks, T, cgot, HYCRT_LOGITS_ALL);
        double e = rel_l2(got, ref, (size_t)T * (size_t)V), ec = rel_l2(got, cgot, (size_t)T * (size_t)V);
        if (rcl != 0 || rcc != 0 || rl.ctx.pos != interp_pos(s)) {
            snprintf(why, why_len, "%s step %zu: forward returned %d (C %d), pos %d", pr->name, st, rcl, rcc, rl.ctx.pos);
            worst = -1;
        } else if (!(e <= 1e-4)) {
            snprintf(why, why_len, "%s step %zu (T = %d): rel L2 %.3g > 1e-4 vs the interpreter", pr->name, st, T, e);
            worst = -1;
        } else if (!(ec <= 1e-4)) {
            snprintf(why, why_len, "%s step %zu (T = %d): rel L2 %.3g > 1e-4 vs the C backend", pr->name, st, T, ec);
            worst = -1;
        } else {
            if (e > worst) worst = e;
            if (ec > *vs_c) *vs_c = ec;
        }
    }
    if (worst >= 0) {
        /* the last-logits mode gives the last row of the all-logits mode */
        uint8_t *st2 = aligned_alloc(64, pr->p->state_bytes + 64);
        memcpy(st2, rl.state, pr->p->state_bytes);
        int32_t tok[2] = {1, 2};
        int pos = rl.ctx.pos;
        float *all = xmalloc(sizeof(float) * 2 * (size_t)V), *last = xmalloc(sizeof(float) * (size_t)V);
        rl.desc->forward(&rl.ctx, tok, 2, all, HYCRT_LOGITS_ALL);
        rl.ctx.state = st2;
        rl.ctx.pos = pos;
        rl.desc->forward(&rl.ctx, tok, 2, last, HYCRT_LOGITS_LAST);
        if (memcmp(all + V, last, sizeof(float) * (size_t)V) != 0) {
            snprintf(why, why_len, "%s: HYCRT_LOGITS_LAST differs from the last row of ALL", pr->name);
            worst = -1;
        }
        /* bad batches are refused, as in C */
        if (rl.desc->forward(&rl.ctx, tok, 0, all, HYCRT_LOGITS_NONE) != 1 ||
            rl.desc->forward(&rl.ctx, tok, 9, all, HYCRT_LOGITS_NONE) != 1) {
            snprintf(why, why_len, "%s: a batch of 0 or 9 tokens was not refused", pr->name);
            worst = -1;
        }
        free(all);
        free(last);
        free(st2);
    }
    interp_free(s);
    weights_free(&w);
    runner_free(&rl);
    runner_free(&rc);
    free(ref);
    free(got);
    free(cgot);
    return worst;
}

START_TEST(test_numeric)
{
    ck_assert_msg(!build_error, "%s", build_error ? build_error : "");
    if (_i >= n_progs) return;
    char why[512] = "";
    double vs_c;
    double e = run_prog(&progs[_i], &vs_c, why, sizeof why);
    ck_assert_msg(e >= 0, "%s", why);
}
END_TEST

/* The descriptor in the LLVM object reads, through hycrt.h's struct, as
 * the C backend's does: same fields, same offsets. */
START_TEST(test_descriptor_abi)
{
    ck_assert_msg(!build_error, "%s", build_error ? build_error : "");
    for (int i = 0; i < n_progs; i++) {
        const Prog *pr = &progs[i];
        char sym[256];
        snprintf(sym, sizeof sym, "%s_desc", pr->name);
        const hycrt_model_desc *a = dlsym(so_llvm[pr->set], sym), *b = dlsym(so_c[pr->set], sym);
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(a->abi_version, HYCRT_ABI_VERSION);
        ck_assert_str_eq(a->name, b->name);
        ck_assert_uint_eq(a->hash, b->hash);
        ck_assert_int_eq(a->vocab, b->vocab);
        ck_assert_int_eq(a->d_model, b->d_model);
        ck_assert_int_eq(a->max_seq, b->max_seq);
        ck_assert_int_eq(a->max_batch, b->max_batch);
        ck_assert_int_eq(a->n_tensors, b->n_tensors);
        ck_assert_uint_eq(a->weights_bytes, b->weights_bytes);
        ck_assert_uint_eq(a->state_bytes, b->state_bytes);
        ck_assert_uint_eq(a->scratch_bytes, b->scratch_bytes);
        ck_assert_ptr_null(a->weights_name);
        ck_assert_ptr_nonnull(a->forward);
        ck_assert_int_eq(a->n_kernels, b->n_kernels);
        for (int k = 0; k < a->n_kernels; k++) ck_assert_str_eq(a->kernel_names[k], b->kernel_names[k]);
        for (int t = 0; t < a->n_tensors; t++) {
            ck_assert_str_eq(a->tensors[t].name, b->tensors[t].name);
            ck_assert_int_eq(a->tensors[t].dtype, b->tensors[t].dtype);
            ck_assert_int_eq(a->tensors[t].ndim, b->tensors[t].ndim);
            ck_assert_mem_eq(a->tensors[t].shape, b->tensors[t].shape, sizeof a->tensors[t].shape);
            ck_assert_uint_eq(a->tensors[t].offset, b->tensors[t].offset);
            ck_assert_uint_eq(a->tensors[t].size, b->tensors[t].size);
        }
    }
}
END_TEST

/* The schedule variants cover every loop layout. */
START_TEST(test_variant_coverage)
{
    ck_assert_msg(!build_error, "%s", build_error ? build_error : "");
    int tiled_par = 0, unrolled = 0, vec = 0, serial_phase = 0;
    for (int i = 0; i < n_progs; i++) {
        const Prog *pr = &progs[i];
        if (pr->variant < 0) continue;
        for (int k = 0; k < pr->p->n_kernels; k++) {
            const KirKernel *kk = pr->p->kernels[k];
            KirLoopInfo *li = kir_loop_infos(&G, kk);
            for (int l = 0; l < kk->n_loops; l++) {
                const KirLoopSched *ls = &kk->sched.loops[l];
                tiled_par += ls->parallel && ls->tile > 0;
                unrolled += ls->unroll > 1 && ls->vec == 1;
                vec += ls->vec > 1;
                serial_phase += li[l].depth == 0 && !ls->parallel;
            }
        }
    }
    ck_assert_msg(tiled_par > 0 && unrolled > 0 && vec > 0 && serial_phase > 0, "tiled %d unrolled %d vec %d serial %d",
                  tiled_par, unrolled, vec, serial_phase);
}
END_TEST

static char *slurp(const char *path, size_t *len)
{
    return read_file(path, len);
}

/* -O0 with verify-each, and -O2: every module verifies; the .ll text is
 * byte-identical across two runs; .bc and .s are written. */
START_TEST(test_ll_deterministic_and_verified)
{
    ck_assert_msg(!build_error, "%s", build_error ? build_error : "");
    Diag d;
    diag_init(&d, stderr);
    int n_def = N_CASES + N_MODELS;
    for (int i = 0; i < n_def; i++) {
        const Prog *pr = &progs[i];
        char a[256], b[256];
        snprintf(a, sizeof a, "%s/%s.a.ll", workdir, pr->name);
        snprintf(b, sizeof b, "%s/%s.b.ll", workdir, pr->name);
        CgLlvmOptions o = {0};
        o.opt_level = 0;
        o.verify_each = true;
        ck_assert_msg(cg_emit_llvm(pr->p, &o, CG_LLVM_IR, a, &d), "%s -O0", pr->name);
        o.opt_level = 2;
        o.verify_each = false;
        /* -O2 twice, on a few: the text must not change */
        if (i != 0 && i != 10 && i != N_CASES) continue;
        ck_assert_msg(cg_emit_llvm(pr->p, &o, CG_LLVM_IR, a, &d), "%s", pr->name);
        ck_assert_msg(cg_emit_llvm(pr->p, &o, CG_LLVM_IR, b, &d), "%s", pr->name);
        size_t la, lb;
        char *ta = slurp(a, &la), *tb = slurp(b, &lb);
        ck_assert_ptr_nonnull(ta);
        ck_assert_ptr_nonnull(tb);
        ck_assert_msg(la == lb && memcmp(ta, tb, la) == 0, "%s: .ll differs between runs", pr->name);
        if (i == 0) {
            /* the descriptor and a vectorized loop are there */
            ck_assert_ptr_nonnull(strstr(ta, "constant %hycrt_model_desc { i32 1, ptr @op_matmul.name"));
            ck_assert_ptr_nonnull(strstr(ta, "@op_matmul_desc = "));
            ck_assert_ptr_nonnull(strstr(ta, "define internal void @matmul_1_p0(ptr"));
            ck_assert_ptr_nonnull(strstr(ta, "hycrt_parallel_for"));
            /* the inner product (vec 8 unroll 2) ends in a tree reduction:
             * its fma carries reassoc (reassoc_marks), so the vectorizer's
             * final llvm.vector.reduce.fadd is unordered, never 8 ordered
             * adds */
            ck_assert_ptr_nonnull(strstr(ta, "call reassoc contract float @llvm.vector.reduce.fadd"));
            ck_assert_ptr_null(strstr(ta, "call float @llvm.vector.reduce.fadd"));
            ck_assert_ptr_nonnull(strstr(ta, "call reassoc contract <8 x float> @llvm.fmuladd.v8f32"));
        }
        free(ta);
        free(tb);
    }
    char path[256];
    snprintf(path, sizeof path, "%s/m.bc", workdir);
    CgLlvmOptions o = {0};
    o.opt_level = 1;
    ck_assert(cg_emit_llvm(progs[0].p, &o, CG_LLVM_BC, path, &d));
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_gt(st.st_size, 100);
    snprintf(path, sizeof path, "%s/m.s", workdir);
    o.target = "x86-64-v3";
    ck_assert(cg_emit_llvm(progs[0].p, &o, CG_LLVM_ASM, path, &d));
    size_t len;
    char *s = slurp(path, &len);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(strstr(s, "ymm")); /* x86-64-v3: 8-lane AVX2 vectors */
    free(s);
    /* explicit cpu + features */
    o.target = NULL;
    o.cpu = "x86-64";
    o.features = "+avx2,+fma";
    ck_assert(cg_emit_llvm(progs[0].p, &o, CG_LLVM_ASM, path, &d));
    /* an unknown target is an error, not a crash */
    FILE *devnull = fopen("/dev/null", "w");
    Diag quiet;
    diag_init(&quiet, devnull);
    CgLlvmOptions bad = {0};
    bad.target = "pdp-11";
    ck_assert(!cg_emit_llvm(progs[0].p, &bad, CG_LLVM_OBJ, path, &quiet));
    ck_assert_int_gt(quiet.n_errors, 0);
    fclose(devnull);
    CgLlvmOutput k;
    ck_assert(cg_llvm_output_lookup("obj", &k) && k == CG_LLVM_OBJ);
    ck_assert(cg_llvm_output_lookup("llvm", &k) && k == CG_LLVM_IR);
    ck_assert(!cg_llvm_output_lookup("exe", &k));
}
END_TEST

/* One model as an executable: the LLVM object with main(), linked with
 * libhycrt.a by cc; its --logits-out equals the interpreter's prefill. */
START_TEST(test_executable)
{
    ck_assert_msg(!build_error, "%s", build_error ? build_error : "");
    const Prog *pr = &progs[N_CASES]; /* hybrid.ir */
    CgProgram *p = build_program(renamed(pr->m, "llvm_exe"), &pr->p->opts.target, -1, true);
    ck_assert_ptr_nonnull(p);
    Diag d;
    diag_init(&d, stderr);
    char obj[256], exe[256], wpath[256], lpath[256], cmd[1024];
    snprintf(obj, sizeof obj, "%s/exe.o", workdir);
    snprintf(exe, sizeof exe, "%s/llvm_exe", workdir);
    snprintf(wpath, sizeof wpath, "%s/llvm_exe.weights", workdir);
    snprintf(lpath, sizeof lpath, "%s/logits.f32", workdir);
    CgLlvmOptions o = {0};
    o.opt_level = 2;
    ck_assert(cg_emit_llvm(p, &o, CG_LLVM_OBJ, obj, &d));
    snprintf(cmd, sizeof cmd, "cc %s -o %s %s %s -lm -lpthread", HYCRT_LIB_LDFLAGS, exe, obj, HYCRT_LIB);
    ck_assert_msg(system(cmd) == 0, "%s", cmd);
    /* the weights file, through the descriptor of the C twin */
    char sym[256];
    snprintf(sym, sizeof sym, "%s_desc", pr->name);
    const hycrt_model_desc *cd = dlsym(so_c[0], sym);
    ck_assert_ptr_nonnull(cd);
    hycrt_model_desc md = *cd;
    md.name = "llvm_exe";
    Weights w;
    weights_random(&w, pr->m, 77);
    char err[256];
    ck_assert_msg(hycrt_weights_write(wpath, &md, (const void *const *)w.data, err, sizeof err) == 0, "%s", err);
    int32_t toks[4] = {1, 5, 2, 7};
    snprintf(cmd, sizeof cmd, "%s --threads 2 --tokens 1,5,2,7 --logits-out %s > /dev/null", exe, lpath);
    ck_assert_msg(system(cmd) == 0, "%s", cmd);
    size_t len;
    float *got = (float *)slurp(lpath, &len);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(len, sizeof(float) * 4 * (size_t)md.vocab);
    float *ref = xmalloc(len);
    InterpSession *s = interp_new(pr->m, &w);
    ck_assert(interp_run(s, "prefill", toks, 4, ref, &d));
    double e = rel_l2(got, ref, 4 * (size_t)md.vocab);
    ck_assert_msg(e <= 1e-4, "rel L2 %.3g", e);
    interp_free(s);
    weights_free(&w);
    free(ref);
    free(got);
}
END_TEST

static Suite *llvm_suite(void)
{
    Suite *s = suite_create("llvm");
    TCase *tc = tcase_create("numeric");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_numeric, 0, MAX_PROGS);
    tcase_add_test(tc, test_descriptor_abi);
    tcase_add_test(tc, test_variant_coverage);
    suite_add_tcase(s, tc);
    tc = tcase_create("output");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_ll_deterministic_and_verified);
    tcase_add_test(tc, test_executable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    double t0 = now_s();
    build_all();
    fprintf(stderr, "check_llvm: %d programs: LLVM -O2 to objects %.2f s (%.2f s CPU), link %.2f s; C backend compile (overlapped) waited %.2f s more%s\n",
            n_progs, t_llvm, t_llvm_cpu, t_cc_llvm, t_cc_c, have_v4 ? " (generic + x86-64-v4)" : " (generic)");
    SRunner *sr = srunner_create(llvm_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cleanup_workdir();
    fprintf(stderr, "check_llvm: total %.2f s\n", now_s() - t0);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
