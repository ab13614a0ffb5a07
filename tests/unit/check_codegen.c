/* check_codegen.c — unit tests of codegen/: the Kernel IR (print -> parse ->
 * print on every lowered kernel, the verifier's invariants one by one), the
 * schedules (defaults, replacement, variants), the memory plan, the golden
 * kernel dumps of tests/kernel/, and above all the numbers: every primitive
 * op, in a tiny module, is lowered, emitted as C, compiled with the system
 * compiler, loaded and run for a prefill, token-by-token decodes and a
 * continued prefill, and compared with the reference interpreter
 * (interp/, the ik_* kernels) within float32 tolerance.
 *
 * To stay fast every module is emitted first and all of them are compiled
 * in one compiler run per target (generic always; x86-64-v3 and -v4 when
 * the CPU has them; the runs side by side) into one shared object, before
 * any test runs.  The
 * parallel-for the generated code calls is the small pthread one below
 * (three threads per dispatch), so the (ith, nth) splits run for real
 * without depending on the runtime library's state.
 *
 *   UPDATE=1   rewrite the tests/kernel/ .kir files from the current output
 *   KEEP=1     keep the generated C (its directory is printed)
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- the modules ------------------------------------------------------------------- */

#include "codegen_cases.h"

static const Case cases[] = {
    CODEGEN_BASE_CASES
    /* The IR features added after the first lowering; each of these failed
     * (or compiled to something else) before lower_kernels.c knew it. */
    {"op_rope_scaled", 72, EMB,
     X0 "    %x3 = reshape(%x) {dims = [2, 12]} : f32[$T, 2, 12]\n"
        "    %a3 = rope(%x3) {dim = 12, scaling = \"ntk\", scaling_params = [4.0]} : f32[$T, 2, 12]\n"
        "    %b3 = rope(%x3) {dim = 12, base = 500.0, scaling = \"yarn\", scaling_params = [4.0, 4096.0, 32.0, 1.0, 1.25]} : f32[$T, 2, 12]\n"
        "    %c3 = rope(%x3) {dim = 8, interleaved = true, scaling = \"yarn\", scaling_params = [8.0, 64.0, 32.0, 1.0, 0.8]} : f32[$T, 2, 12]\n"
        "    %a = reshape(%a3) {dims = [24]} : f32[$T, 24]\n"
        "    %b = reshape(%b3) {dims = [24]} : f32[$T, 24]\n"
        "    %c = reshape(%c3) {dims = [24]} : f32[$T, 24]\n"
        "    %r = concat(%a, %b, %c) : f32[$T, 72]\n    return %r\n"},
    {"op_gelu_tanh", 72, EMB "  param @up : f32[16, 24]\n  param @upf : f32[32, 24]\n  param @down : f32[24, 16]\n",
     X0 "    %s = scale(%x) {factor = 8.0} : f32[$T, 24]\n"
        "    %sp = softplus(%s) : f32[$T, 24]\n"
        "    %n = neg(%sp) : f32[$T, 24]\n"
        "    %a0 = gelu(%n) {approximate = \"tanh\"} : f32[$T, 24]\n"
        "    %a = scale(%a0) {factor = 100.0} : f32[$T, 24]\n" /* the tail, where tanh and erf differ most */
        "    %b = mlp(%s, @up, @down) {act = \"gelu_tanh\"} : f32[$T, 24]\n"
        "    %c = mlp(%s, @upf, @down) {act = \"geglu_tanh\"} : f32[$T, 24]\n"
        "    %r = concat(%a, %b, %c) : f32[$T, 72]\n    return %r\n"},
    {"op_moe_tanh", 48,
     EMB "  param @wr : f32[8, 24]\n  param @up : f32[8, 16, 24]\n  param @gate : f32[8, 16, 24]\n"
         "  param @upf : f32[8, 32, 24]\n  param @down : f32[8, 24, 16]\n",
     X0 "    %l = matmul(%x, @wr) : f32[$T, 8]\n"
        "    %w = route(%l) {k = 2, renormalize = true} : f32[$T, 8]\n"
        "    %s = scale(%x) {factor = 8.0} : f32[$T, 24]\n"
        "    %a = moe_experts(%s, %w, @up, @down) {act = \"gelu_tanh\"} : f32[$T, 24]\n"
        "    %b = moe_experts(%s, %w, @upf, @down) {act = \"geglu_tanh\"} : f32[$T, 24]\n"
        "    %r = concat(%a, %b) : f32[$T, 48]\n    return %r\n"},
    {"op_route_groups", 48, EMB "  param @wr : f32[16, 24]\n  param @rb : f32[16]\n",
     X0 "    %l = matmul(%x, @wr) : f32[$T, 16]\n"
        "    %a = route(%l, @rb) {mode = \"sigmoid_topk\", k = 4, renormalize = true, scale = 2.5, groups = 4, topk_groups = 2} : f32[$T, 16]\n"
        "    %b = route(%l) {mode = \"sigmoid_topk\", k = 3, groups = 8, topk_groups = 3} : f32[$T, 16]\n"
        "    %c = route(%l, @rb) {mode = \"sigmoid_topk\", k = 2, groups = 2, topk_groups = 1} : f32[$T, 16]\n"
        "    %r = concat(%a, %b, %c) : f32[$T, 48]\n    return %r\n"},
    {"op_state_bf16", 120,
     EMB "  param @c.conv_w : f32[24, 1, 4]\n  param @s.dt : f32[24, 24]\n  param @s.A_log : f32[24, 4]\n"
         "  param @wq : f32[32, 24]\n  param @wk : f32[16, 24]\n  param @wv : f32[16, 24]\n"
         "  param @m.A_log : f32[4]\n"
         "  state $c.conv : conv_state bf16[24, 3]\n  state $s.ssm : ssm_state bf16[24, 4]\n"
         "  state $kv : kv_cache bf16[2, max_seq, 16]\n  state $ring : kv_cache f16[2, 4, 16]\n"
         "  state $m.ssm : ssm_state f16[4, 6, 3]\n  state $d.S : ssm_state bf16[2, 8, 8]\n",
     X0 "    %cv = causal_conv1d(%x, @c.conv_w, $c.conv) : f32[$T, 24]\n"
        "    %dt0 = matmul(%x, @s.dt) : f32[$T, 24]\n"
        "    %dt = softplus(%dt0) : f32[$T, 24]\n"
        "    %ea = exp(@s.A_log) : f32[24, 4]\n"
        "    %A = neg(%ea) : f32[24, 4]\n"
        "    %B = slice(%z) {offset = 0, len = 4} : f32[$T, 4]\n"
        "    %C = slice(%z) {offset = 4, len = 4} : f32[$T, 4]\n"
        "    %ss = selective_scan(%x, %dt, %A, %B, %C, $s.ssm) : f32[$T, 24]\n"
        "    %q2 = matmul(%x, @wq) : f32[$T, 32]\n    %k2 = matmul(%x, @wk) : f32[$T, 16]\n"
        "    %v2 = matmul(%z, @wv) : f32[$T, 16]\n"
        "    %q = reshape(%q2) {dims = [4, 8]} : f32[$T, 4, 8]\n"
        "    %k = reshape(%k2) {dims = [2, 8]} : f32[$T, 2, 8]\n"
        "    %v = reshape(%v2) {dims = [2, 8]} : f32[$T, 2, 8]\n"
        "    %a3 = sdpa(%q, %k, %v, $kv) : f32[$T, 4, 8]\n"
        "    kv_store(%k, %v, $kv)\n"
        "    %b3 = sdpa(%q, %k, %v, $ring) {window = 4} : f32[$T, 4, 8]\n"
        "    kv_store(%k, %v, $ring)\n"
        "    %at = reshape(%a3) {dims = [32]} : f32[$T, 32]\n"
        "    %bt = reshape(%b3) {dims = [32]} : f32[$T, 32]\n"
        "    %x4 = reshape(%z) {dims = [4, 6]} : f32[$T, 4, 6]\n"
        "    %d4 = slice(%dt) {offset = 0, len = 4} : f32[$T, 4]\n"
        "    %ma = exp(@m.A_log) : f32[4]\n"
        "    %mA = neg(%ma) : f32[4]\n"
        "    %Bs = slice(%x) {offset = 4, len = 6} : f32[$T, 6]\n"
        "    %B3 = reshape(%Bs) {dims = [2, 3]} : f32[$T, 2, 3]\n"
        "    %Cs = slice(%x) {offset = 10, len = 6} : f32[$T, 6]\n"
        "    %C3 = reshape(%Cs) {dims = [2, 3]} : f32[$T, 2, 3]\n"
        "    %y3 = ssd_scan(%x4, %d4, %mA, %B3, %C3, $m.ssm) : f32[$T, 4, 6]\n"
        "    %sd = reshape(%y3) {dims = [24]} : f32[$T, 24]\n"
        "    %dq = l2norm(%k) : f32[$T, 2, 8]\n"
        "    %g0 = slice(%dt0) {offset = 0, len = 2} : f32[$T, 2]\n"
        "    %g1 = softplus(%g0) : f32[$T, 2]\n    %g = neg(%g1) : f32[$T, 2]\n"
        "    %b0 = slice(%dt0) {offset = 2, len = 2} : f32[$T, 2]\n    %beta = sigmoid(%b0) : f32[$T, 2]\n"
        "    %o3 = gated_delta_rule(%dq, %dq, %v, %g, %beta, $d.S) : f32[$T, 2, 8]\n"
        "    %o = reshape(%o3) {dims = [16]} : f32[$T, 16]\n"
        "    %ab = add(%at, %bt) : f32[$T, 32]\n"
        "    %r = concat(%cv, %ss, %ab, %sd, %o) : f32[$T, 120]\n    return %r\n"},
    /* Mamba-2 scans wide enough for the chunked SSD form's vectorized and
     * register-blocked loops (N = 16: the inner products over N vectorize,
     * the inter-chunk nest is jammed), heads reading groups (H/G = 2), a
     * bf16 state, with and without D; the numeric programs below also run it
     * chunked (chunk_progs). */
    {"op_ssd_wide", 64,
     EMB "  param @w.x : f32[32, 24]\n  param @w.b : f32[32, 24]\n  param @w.c : f32[32, 24]\n"
         "  param @m.dt_bias : f32[4]\n  param @m.A_log : f32[4]\n  param @m.D : f32[4]\n"
         "  state $m.ssm : ssm_state f32[4, 8, 16]\n  state $m.ssm2 : ssm_state bf16[4, 8, 16]\n",
     X0 "    %x2 = matmul(%x, @w.x) : f32[$T, 32]\n"
        "    %x3 = reshape(%x2) {dims = [4, 8]} : f32[$T, 4, 8]\n"
        "    %bs = matmul(%z, @w.b) : f32[$T, 32]\n"
        "    %B = reshape(%bs) {dims = [2, 16]} : f32[$T, 2, 16]\n"
        "    %cs = matmul(%x, @w.c) : f32[$T, 32]\n"
        "    %C = reshape(%cs) {dims = [2, 16]} : f32[$T, 2, 16]\n"
        "    %dr = slice(%z) {offset = 0, len = 4} : f32[$T, 4]\n"
        "    %db = add(%dr, @m.dt_bias) : f32[$T, 4]\n"
        "    %dt = softplus(%db) : f32[$T, 4]\n"
        "    %ea = exp(@m.A_log) : f32[4]\n"
        "    %A = neg(%ea) : f32[4]\n"
        "    %a3 = ssd_scan(%x3, %dt, %A, %B, %C, $m.ssm, @m.D) : f32[$T, 4, 8]\n"
        "    %b3 = fused_ssd_scan(%x3, %dr, @m.dt_bias, %A, %B, %C, $m.ssm2) {dt_max = 2.0} : f32[$T, 4, 8]\n"
        "    %a = reshape(%a3) {dims = [32]} : f32[$T, 32]\n"
        "    %b = reshape(%b3) {dims = [32]} : f32[$T, 32]\n"
        "    %r = concat(%a, %b) : f32[$T, 64]\n    return %r\n"},
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

/* Programs whose Mamba-2 prefill scans run the chunked SSD form
 * (CgOptions.ssd_chunk): chunks that divide none of the steps' token
 * counts, chunks of one token, one longer than any call; built for generic
 * and x86-64-v4 (the register-blocked AVX-512 helpers). */
static const struct {
    const char *name;
    int chunk;
} chunk_progs[] = {{"op_ssd_scan", 2}, {"op_fused_scans", 3}, {"op_state_bf16", 2}, {"op_ssd_wide", 2},
                   {"op_ssd_wide", 3}, {"op_ssd_wide", 1}, {"op_ssd_wide", 64}};
enum { N_CHUNK_PROGS = sizeof chunk_progs / sizeof chunk_progs[0] };

static int case_index(const char *name);

static int case_index(const char *name)
{
    for (int i = 0; i < N_CASES; i++)
        if (strcmp(cases[i].name, name) == 0) return i;
    HYC_DIE("no test case '%s'", name);
}

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

/* ---- shared state: built once in main, before the tests fork ----------------------- */

typedef struct Target {
    const char *name;
    CgTarget t;
    bool available;
    void *so;            /* the compiled programs of this target */
} Target;

static Target targets[] = {{"generic", {0}, false, NULL}, {"x86-64-v3", {0}, false, NULL}, {"x86-64-v4", {0}, false, NULL}};
enum { N_TARGETS = sizeof targets / sizeof targets[0] };

static Arena G;           /* modules and programs, for the process */
static Interner GI;
static char workdir[64];
static const char *build_error; /* why the compile step failed, or NULL */
static double build_seconds;

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

static char *read_text(const char *path)
{
    size_t len;
    return read_file(path, &len);
}

/* The module of test program i: the op cases, then the model files. */
static IrModule *program_module(Arena *a, Interner *in, int i)
{
    Diag d;
    diag_init(&d, stderr);
    if (i < N_CASES) {
        char *text = expand(&cases[i]);
        IrModule *m = parse_lowered(a, in, cases[i].name, text, &d);
        free(text);
        return m;
    }
    char *text = read_text(model_files[i - N_CASES]);
    if (!text) return NULL;
    IrModule *m = parse_lowered(a, in, model_files[i - N_CASES], text, &d);
    free(text);
    return m;
}

static CgOptions test_options(const CgTarget *t)
{
    CgOptions o = {0};
    o.target = *t;
    o.max_batch = 8;
    o.hints.par_min_work = -1; /* parallel wherever legal: exercise the splits */
    o.attn_block_q = 2;        /* sdpa: several query blocks and key tiles, */
    o.attn_block_k = 3;        /* partial ones and masked ones, at T = 5 */
    o.flags = "--test";
    return o;
}

/* Program p of target t, with schedule variant v (-1: the default) and the
 * Mamba-2 prefill scans' chunk (0: the default form). */
static CgProgram *build_program(Arena *a, IrModule *m, const CgTarget *t, int v, int chunk)
{
    Diag d;
    diag_init(&d, stderr);
    CgOptions o = test_options(t);
    o.ssd_chunk = chunk;
    CgProgram *p = cg_lower_module(a, m, &o, &d);
    if (!p || v < 0) return p;
    for (int i = 0; i < p->n_kernels; i++) {
        KirSchedule vs[64];
        int n = kir_schedule_variants(a, p->kernels[i], t, vs, 64);
        /* variants spread over the whole list, shifted per kernel */
        if (n > 0 && !cg_program_set_schedule(p, i, &vs[(v * n / 6 + i) % n], &d)) return NULL;
    }
    return p;
}

typedef struct Prog {
    const char *name;   /* the module name, the descriptor is NAME_desc */
    IrModule *m;
    CgProgram *p;
    int base;           /* the case or model it came from */
    int variant;        /* schedule variant, -1: default */
    int chunk;          /* CgOptions.ssd_chunk */
} Prog;

static Prog progs[N_TARGETS][N_CASES + N_MODELS + 32];
static int n_progs[N_TARGETS];

static bool write_text(const char *path, const char *text)
{
    return write_file_atomic(path, text, strlen(text));
}

/* The parallel-for of the generated code: up to 16 real threads per
 * dispatch, thread i running tasks i, i + m, i + 2m, ... (m threads). */
static const char *pool_source =
    "#include \"hycrt.h\"\n#include <pthread.h>\n#include <stdlib.h>\n"
    "struct hycrt_pool { int n; };\n"
    "typedef struct Job { hycrt_task_fn fn; void *arg; int i, m, n; } Job;\n"
    "static void *run(void *p)\n"
    "{\n"
    "    Job *j = p;\n"
    "    for (int i = j->i; i < j->n; i += j->m) j->fn(j->arg, i, j->n);\n"
    "    return NULL;\n"
    "}\n"
    "void hycrt_parallel_for(hycrt_pool *pool, int n, hycrt_task_fn fn, void *arg)\n"
    "{\n"
    "    pthread_t th[16];\n    Job jobs[16];\n    (void)pool;\n"
    "    int m = n < 16 ? n : 16;\n"
    "    for (int i = 0; i < m; i++) jobs[i] = (Job){fn, arg, i, m, n};\n"
    "    for (int i = 1; i < m; i++)\n"
    "        if (pthread_create(&th[i], NULL, run, &jobs[i]) != 0) abort();\n"
    "    run(&jobs[0]);\n"
    "    for (int i = 1; i < m; i++) pthread_join(th[i], NULL);\n"
    "}\n"
    "int hycrt_pool_threads(const hycrt_pool *pool) { return pool ? pool->n : 1; }\n"
    "hycrt_pool *test_pool(void) { static hycrt_pool p = {3}; return &p; }\n";

static bool host_has(const char *target)
{
    CgTarget native;
    cg_target_lookup("native", &native);
    if (strcmp(target, "generic") == 0) return true;
    if (strcmp(target, "x86-64-v3") == 0) return native.isa >= CG_ISA_AVX2;
    return native.isa >= CG_ISA_AVX512;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A module under another name (the emitted symbols follow the name). */
static IrModule *renamed(IrModule *m, const char *name)
{
    IrModule *c = ARENA_NEW(&G, IrModule);
    *c = *m;
    c->name = arena_strdup(&G, name);
    return c;
}

static void add_prog(int ti, IrModule *m, int base, int variant, int chunk)
{
    Target *t = &targets[ti];
    HYC_ASSERT(n_progs[ti] < (int)(sizeof progs[ti] / sizeof progs[ti][0]));
    Prog *pr = &progs[ti][n_progs[ti]++];
    pr->base = base;
    pr->variant = variant;
    pr->chunk = chunk;
    pr->name = variant >= 0 ? arena_printf(&G, "%s_v%d", cg_c_ident(&G, m->name), variant)
               : chunk > 0  ? arena_printf(&G, "%s_q%d", cg_c_ident(&G, m->name), chunk)
                            : cg_c_ident(&G, m->name);
    pr->m = variant < 0 && chunk <= 0 ? m : renamed(m, pr->name);
    pr->name = cg_c_ident(&G, pr->m->name);
    pr->p = build_program(&G, pr->m, &t->t, variant, chunk);
}

/* Emit every program of every available target, compile each target's set
 * with one compiler run (the targets side by side), dlopen the results. */
static void build_all(void)
{
    double t0 = now_s();
    arena_init(&G);
    intern_init(&GI, &G);
    strcpy(workdir, "/tmp/hyc_codegen_XXXXXX");
    if (!mkdtemp(workdir)) {
        build_error = "cannot make a temporary directory";
        return;
    }
    IrModule *mods[N_CASES + N_MODELS];
    for (int i = 0; i < N_CASES + N_MODELS; i++) {
        mods[i] = program_module(&G, &GI, i);
        if (!mods[i]) {
            build_error = arena_printf(&G, "test module %d does not parse or lower", i);
            return;
        }
    }
    char path[256];
    snprintf(path, sizeof path, "%s/pool.c", workdir);
    write_text(path, pool_source);
    StrBuf cmd = {0};
    for (int ti = 0; ti < N_TARGETS; ti++) {
        Target *t = &targets[ti];
        t->available = host_has(t->name) && cg_target_lookup(t->name, &t->t);
        if (!t->available) continue;
        /* compile time is the test's cost: every program for generic, the
         * op cases and one model for v4, the op cases for v3 */
        int n_mod = ti == 0 ? N_MODELS : ti == 2 ? 1 : 0;
        for (int i = 0; i < N_CASES + n_mod; i++) add_prog(ti, mods[i], i, -1, 0);
        if (ti == 0)
            for (int s = 0; s < N_SCHED; s++)
                for (int v = 0; v < sched_cases[s].variants; v++)
                    add_prog(ti, mods[sched_cases[s].c], sched_cases[s].c, v, 0);
        if (ti != 1)
            for (int q = 0; q < N_CHUNK_PROGS; q++) {
                int c = case_index(chunk_progs[q].name);
                add_prog(ti, mods[c], c, -1, chunk_progs[q].chunk);
            }
        StrBuf files = {0};
        for (int i = 0; i < n_progs[ti]; i++) {
            Prog *pr = &progs[ti][i];
            if (!pr->p) {
                build_error = arena_printf(&G, "%s: lowering failed", pr->name);
                return;
            }
            StrBuf c = {0};
            cg_emit_c(&c, pr->p);
            snprintf(path, sizeof path, "%s/%s_%s.c", workdir, t->name, pr->name);
            write_text(path, sb_cstr(&c));
            sb_free(&c);
            sb_printf(&files, " %s", path);
        }
        sb_printf(&cmd, "%s(cc -std=c11 -O1 %s%s -fPIC -shared -Iruntime -o %s/%s.so %s/pool.c%s -lm -lpthread > %s/%s.log 2>&1 || touch %s/%s.failed)",
                  cmd.len ? " & " : "", t->t.march ? "-march=" : "", t->t.march ? t->t.march : "", workdir, t->name,
                  workdir, sb_cstr(&files), workdir, t->name, workdir, t->name);
        sb_free(&files);
    }
    sb_puts(&cmd, "; wait");
    if (system(sb_cstr(&cmd)) != 0) build_error = "the compiler could not be run";
    sb_free(&cmd);
    for (int ti = 0; ti < N_TARGETS && !build_error; ti++) {
        Target *t = &targets[ti];
        if (!t->available) continue;
        snprintf(path, sizeof path, "%s/%s.failed", workdir, t->name);
        if (access(path, F_OK) == 0) {
            snprintf(path, sizeof path, "%s/%s.log", workdir, t->name);
            char *log = read_text(path);
            build_error = arena_printf(&G, "compiling the %s programs failed:\n%s", t->name, log ? log : "");
            free(log);
            break;
        }
        snprintf(path, sizeof path, "%s/%s.so", workdir, t->name);
        t->so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!t->so) build_error = arena_printf(&G, "dlopen: %s", dlerror());
    }
    build_seconds = now_s() - t0;
}

static void cleanup_workdir(void) { cleanup_scratch_dir(workdir, "check_codegen"); }

/* ---- running a compiled program against the interpreter ---------------------------- */

/* Prefill 5, decode 3, prefill 3 more (a continued sequence), decode 2:
 * every step's logits within rel L2 1e-4 of the interpreter's.  Returns the
 * worst error, or a negative number after a failure (message in why). */
static double run_against_interp(const Target *t, const Prog *pr, char *why, size_t why_len)
{
    static const int steps[] = {5, 1, 1, 3, 1, 2};
    const CgProgram *p = pr->p;
    const IrModule *m = pr->m;
    char sym[256];
    snprintf(sym, sizeof sym, "%s_desc", pr->name);
    const hycrt_model_desc *desc = dlsym(t->so, sym);
    hycrt_pool *(*pool)(void) = (hycrt_pool * (*)(void)) dlsym(t->so, "test_pool");
    if (!desc || !pool) {
        snprintf(why, why_len, "%s: no symbol %s", t->name, sym);
        return -1;
    }
    Weights w;
    weights_random(&w, m, 1234);
    uint8_t *blob = aligned_alloc(64, p->weights_bytes + 64);
    uint8_t *state = aligned_alloc(64, p->state_bytes + 64);
    uint8_t *scratch = aligned_alloc(64, p->scratch_bytes + 64);
    memset(blob, 0, p->weights_bytes);
    memset(state, 0, p->state_bytes);
    for (int i = 0; i < m->n_params; i++) memcpy(blob + p->param_offset[i], w.data[i], desc->tensors[i].size);
    hycrt_ctx ctx = {0};
    ctx.desc = desc;
    ctx.weights = blob;
    ctx.state = state;
    ctx.scratch = scratch;
    ctx.pool = pool();
    InterpSession *s = interp_new(m, &w);
    Diag d;
    diag_init(&d, stderr);
    int V = desc->vocab, lim = token_limit(m, V);
    float *ref = xmalloc(sizeof(float) * 8 * (size_t)V), *got = xmalloc(sizeof(float) * 8 * (size_t)V);
    uint64_t r = 99;
    double worst = 0.0;
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
        int rc = desc->forward(&ctx, toks, T, got, HYCRT_LOGITS_ALL);
        double e = rel_l2(got, ref, (size_t)T * (size_t)V);
        if (rc != 0 || ctx.pos != interp_pos(s)) {
            snprintf(why, why_len, "%s %s step %zu: forward returned %d, pos %d", t->name, pr->name, st, rc, ctx.pos);
            worst = -1;
        } else if (!(e <= 1e-4)) {
            snprintf(why, why_len, "%s %s step %zu (T = %d): rel L2 %.3g > 1e-4", t->name, pr->name, st, T, e);
            worst = -1;
        } else if (e > worst) {
            worst = e;
        }
    }
    /* The last-logits mode gives the last row of the all-logits mode. */
    if (worst >= 0) {
        uint8_t *st2 = aligned_alloc(64, p->state_bytes + 64);
        memcpy(st2, state, p->state_bytes);
        int32_t tok[2] = {1, 2};
        int pos = ctx.pos;
        float *all = xmalloc(sizeof(float) * 2 * (size_t)V), *last = xmalloc(sizeof(float) * (size_t)V);
        desc->forward(&ctx, tok, 2, all, HYCRT_LOGITS_ALL);
        ctx.state = st2;
        ctx.pos = pos;
        desc->forward(&ctx, tok, 2, last, HYCRT_LOGITS_LAST);
        if (memcmp(all + V, last, sizeof(float) * (size_t)V) != 0) {
            snprintf(why, why_len, "%s %s: HYCRT_LOGITS_LAST differs from the last row of ALL", t->name, pr->name);
            worst = -1;
        }
        free(all);
        free(last);
        free(st2);
    }
    interp_free(s);
    weights_free(&w);
    free(ref);
    free(got);
    free(blob);
    free(state);
    free(scratch);
    return worst;
}

/* ---- numeric tests ------------------------------------------------------------------ */

static void check_prog(int ti, int i)
{
    ck_assert_msg(!build_error, "%s", build_error ? build_error : "");
    if (!targets[ti].available || i >= n_progs[ti]) return;
    char why[512] = "";
    double e = run_against_interp(&targets[ti], &progs[ti][i], why, sizeof why);
    ck_assert_msg(e >= 0, "%s", why);
}

START_TEST(test_numeric_generic) { check_prog(0, _i); }
END_TEST

START_TEST(test_numeric_avx2) { check_prog(1, _i); }
END_TEST

START_TEST(test_numeric_avx512) { check_prog(2, _i); }
END_TEST

/* The variant programs exercise every way the emitter lays out a loop. */
START_TEST(test_variant_coverage)
{
    ck_assert_msg(!build_error, "%s", build_error ? build_error : "");
    int tiled_par = 0, unrolled = 0, lanes = 0, dots = 0, serial_phase = 0;
    for (int i = 0; i < n_progs[0]; i++) {
        const Prog *pr = &progs[0][i];
        if (pr->variant < 0) continue;
        for (int k = 0; k < pr->p->n_kernels; k++) {
            const KirKernel *kk = pr->p->kernels[k];
            KirLoopInfo *li = kir_loop_infos(&G, kk);
            for (int l = 0; l < kk->n_loops; l++) {
                const KirLoopSched *ls = &kk->sched.loops[l];
                tiled_par += ls->parallel && ls->tile > 0;
                unrolled += ls->unroll > 1 && ls->vec == 1;
                lanes += ls->vec > 1 && !li[l].dot;
                dots += ls->vec > 1 && li[l].dot;
                serial_phase += li[l].depth == 0 && !ls->parallel;
            }
        }
    }
    ck_assert_msg(tiled_par > 0 && unrolled > 0 && lanes > 0 && dots > 0 && serial_phase > 0,
                  "tiled parallel %d, unrolled %d, lanes %d, dots %d, serial phases %d", tiled_par, unrolled, lanes,
                  dots, serial_phase);
}
END_TEST

/* ---- per-test fixture for the text tests -------------------------------------------- */

typedef struct Ctx {
    Arena arena;
    Interner in;
    Diag diag;
    FILE *diag_out;
    char *diag_text;
    size_t diag_len;
} Ctx;

static Ctx C;

static void setup(void)
{
    memset(&C, 0, sizeof C);
    arena_init(&C.arena);
    intern_init(&C.in, &C.arena);
    C.diag_out = open_memstream(&C.diag_text, &C.diag_len);
    diag_init(&C.diag, C.diag_out);
    C.diag.color = false;
}

static void teardown(void)
{
    fclose(C.diag_out);
    free(C.diag_text);
    intern_free(&C.in);
    arena_free(&C.arena);
}

static const char *messages(void)
{
    fflush(C.diag_out);
    return C.diag_text ? C.diag_text : "";
}

#define ck_assert_has(hay, needle)                                                \
    do {                                                                          \
        const char *h_ = (hay), *n_ = (needle);                                   \
        ck_assert_msg(strstr(h_, n_) != NULL, "expected \"%s\" in:\n%s", n_, h_); \
    } while (0)

static CgProgram *lower_text(const char *name, const char *text, const CgOptions *o)
{
    IrModule *m = parse_lowered(&C.arena, &C.in, name, text, &C.diag);
    ck_assert_msg(m != NULL, "%s", messages());
    CgProgram *p = cg_lower_module(&C.arena, m, o, &C.diag);
    ck_assert_msg(p != NULL, "%s", messages());
    return p;
}

static CgProgram *lower_case(int i, const CgTarget *t)
{
    char *text = expand(&cases[i]);
    CgOptions o = test_options(t);
    CgProgram *p = lower_text(cases[i].name, text, &o);
    free(text);
    return p;
}

static CgProgram *lower_model(int i, const CgTarget *t)
{
    char *text = read_text(model_files[i]);
    ck_assert_ptr_nonnull(text);
    CgOptions o = test_options(t);
    CgProgram *p = lower_text(model_files[i], text, &o);
    free(text);
    return p;
}

static KirKernel **parse_kernels(const char *text, int *n, bool expect_ok)
{
    SrcFile *f = ARENA_NEW(&C.arena, SrcFile);
    f->name = "t.kir";
    f->text = arena_strdup(&C.arena, text);
    f->len = strlen(text);
    KirKernel **ks = NULL;
    bool ok = kir_parse(f, &C.arena, &C.diag, &ks, n);
    ck_assert_msg(ok == expect_ok, "kir_parse returned %d:\n%s", ok, messages());
    return ks;
}

static char *print_kernel(const KirKernel *k, unsigned flags)
{
    StrBuf sb = {0};
    kir_print_kernel(&sb, k, flags);
    char *s = arena_strdup(&C.arena, sb_cstr(&sb));
    sb_free(&sb);
    return s;
}

/* ---- the Kernel IR ------------------------------------------------------------------- */

/* print -> parse -> print is the identity on every kernel the lowering
 * makes, one at a time and as the whole `hyc ir --level=kernel` dump. */
static void roundtrip_program(const CgProgram *p)
{
    for (int i = 0; i < p->n_kernels; i++) {
        char *a = print_kernel(p->kernels[i], 0);
        int n;
        KirKernel **ks = parse_kernels(a, &n, true);
        ck_assert_int_eq(n, 1);
        ck_assert_str_eq(print_kernel(ks[0], 0), a);
        ck_assert_str_eq(kir_signature(&C.arena, ks[0], true), kir_signature(&C.arena, p->kernels[i], true));
    }
    StrBuf sb = {0};
    cg_print_program(&sb, p);
    int n;
    KirKernel **ks = parse_kernels(sb_cstr(&sb), &n, true);
    ck_assert_int_eq(n, p->n_kernels);
    for (int i = 0; i < n; i++) ck_assert_str_eq(print_kernel(ks[i], 0), print_kernel(p->kernels[i], 0));
    sb_free(&sb);
}

START_TEST(test_roundtrip_ops)
{
    CgTarget t;
    cg_target_lookup(_i % 2 ? "x86-64-v4" : "generic", &t);
    roundtrip_program(lower_case(_i / 2, &t));
}
END_TEST

START_TEST(test_roundtrip_models)
{
    CgTarget t = cg_target_generic();
    for (int i = 0; i < N_MODELS; i++) roundtrip_program(lower_model(i, &t));
}
END_TEST

/* Every primitive op of the Graph IR has a kernel. */
START_TEST(test_op_coverage)
{
    bool seen[IR_OP_COUNT] = {0};
    CgTarget t = cg_target_generic();
    for (int i = 0; i < N_CASES; i++) {
        CgProgram *p = lower_case(i, &t);
        for (int f = 0; f < p->m->n_funcs; f++)
            for (int j = 0; j < p->m->funcs[f]->n_insts; j++) seen[p->m->funcs[f]->insts[j].op] = true;
    }
    for (int op = 0; op < IR_OP_COUNT; op++) {
        if (ir_op_info((IrOp)op)->flags & IR_OPF_COMPOSITE) continue;
        ck_assert_msg(seen[op], "no numeric test covers '%s'", ir_op_name((IrOp)op));
    }
}
END_TEST

static const char *good_kernel =
    "kernel @k op \"test\" {\n"
    "  in %x : f32[T, 8] \"x [T, n]\"\n"
    "  out %y : f32[T, 8]\n"
    "  for t = 0, T @L0 {\n"
    "    var s : f32 = 0.0\n"
    "    for i = 0, 8 @L1 {\n"
    "      s = fma(%x[t, i], %x[t, i], s)\n"
    "    }\n"
    "    for i = 0, 8 @L2 {\n"
    "      store %y[t, i] = select(gt(s, 1.0), mul(%x[t, i], s), 0.5)\n"
    "    }\n"
    "  }\n"
    "  schedule {\n"
    "    L0 parallel\n"
    "    L1 vec 8 unroll 2\n"
    "  }\n"
    "}\n";

START_TEST(test_verify_good)
{
    int n;
    KirKernel **ks = parse_kernels(good_kernel, &n, true);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(print_kernel(ks[0], 0), good_kernel);
    ck_assert_int_eq(ks[0]->n_loops, 3);
    ck_assert(ks[0]->sched.loops[0].parallel);
    ck_assert_int_eq(ks[0]->sched.loops[1].vec, 8);
    ck_assert_int_eq(ks[0]->sched.loops[1].unroll, 2);
    KirLoopInfo *li = kir_loop_infos(&C.arena, ks[0]);
    ck_assert(li[1].dot && li[1].innermost && li[1].assigns_outer && li[1].reductions_ok);
    ck_assert(!li[2].dot && li[2].unit_stride && li[0].stores_indep);
    ck_assert_int_eq(li[1].trip, 8);
    ck_assert_int_eq(li[0].trip, -1);
}
END_TEST

/* Each case plants one error in good_kernel (replacing the first `from` by
 * `to`) and expects its message. */
static const struct {
    const char *from, *to, *msg;
} bad_kernels[] = {
    {"0.5)\n", "0.5:f64)\n", "t.kir:10:7: error: kernel @k: the arms of 'select' are f32 and f64"},
    {"0.5)\n", "0.5)\n      var u : f32 = q\n", "unknown variable 'q'"},
    {"mul(%x[t, i], s)", "mul(%x[t], s)", "load of %x has 1 indices for rank 2"},
    {"mul(%x[t, i], s)", "mul(%x[t, i], t)", "'mul' mixes f32 and i64"},
    {"gt(s, 1.0)", "s", "the condition of 'select' is f32, not an integer"},
    {"0.5)\n", "0.5)\n      store %x[t, i] = s\n", "store to %x, a buffer of role 'in'"},
    {"0.5)\n", "0.5)\n      s = 1\n", "'s' is f32 but is assigned i64"},
    {"0.5)\n", "0.5)\n      t = 1\n", "'t' is not a local: it cannot be assigned"},
    {"0.5)\n", "0.5)\n      store %y[t, i] = 1:i32\n", "store of i32 into %y of f32"},
    {"0.5)\n", "0.5)\n      if s {\n      }\n", "the condition of 'if' is f32, not an integer"},
    {"@L2", "@L1", "loop id L1 is used twice"},
    {"      store %y", "      var t : i64 = 1\n      store %y", "'t' shadows a variable of the same name"},
    {"f32[T, 8] \"x", "f32[8, T] \"x", "buffer %x: T may only be dim 0"},
    {"  out %y : f32[T, 8]\n", "  out %y : f32[T, 8]\n  out %y : f32[T, 8]\n", "buffer %y is declared twice"},
    {"for i = 0, 8 @L2", "for i = 0.0, 8 @L2", "loop bounds must be i64"},
    {"for t = 0, T @L0", "for t = 0, T step 0 @L0", "loop step 0 is not positive"},
    {"  for t = 0, T @L0 {\n", "  var q : f32 = 1.0\n  for t = 0, T @L0 {\n", "top-level statements must be loops"},
    {"var s : f32 = 0.0", "var s : f32 = 0.0\n    var int : f32 = 0.0", "variable name 'int' is reserved"},
    {"var s : f32 = 0.0", "var s : f32 = 0.0\n    var i_ : f32 = 0.0", "ends in '_' (reserved for the emitter)"},
    {"kernel @k op", "kernel @for op", "kernel name 'for' is reserved"},
    /* schedules */
    {"L0 parallel", "L1 parallel", "L1 is marked parallel but is not a top-level loop"},
    {"L0 parallel", "L1 parallel", "L1 is marked parallel but carries a reduction into 's', declared outside it"},
    {"store %y[t, i]", "store %y[0, i]", "L0 is marked parallel but stores to a place that does not depend on 't'"},
    {"L1 vec 8 unroll 2", "L0 vec 8", "L0 is vectorized but is not an innermost loop"},
    {"L1 vec 8 unroll 2", "L1 vec 3", "L1: vec 3 is not a power of two from 1 to 64"},
    {"L1 vec 8 unroll 2", "L1 unroll 17", "L1: unroll 17 is not from 1 to 16"},
    {"L1 vec 8 unroll 2", "L1 vec 8 jam 17", "L1: jam 17 is not from 1 to 16"},
    {"L1 vec 8 unroll 2", "L1 vec 8\n    L0 jam 4", "L0: jam needs a matrix-product nest"},
    {"s = fma(%x[t, i], %x[t, i], s)", "s = mul(s, %x[t, i])", "L1 is vectorized but updates 's', declared outside it"},
    {"s = fma(%x[t, i], %x[t, i], s)", "s = fma(%x[t, i], s, s)", "L1 is vectorized but updates 's'"},
    {"L1 vec 8 unroll 2", "chunk 4\n    L1 vec 8", "chunk 4: only ssd_scan and fused_ssd_scan kernels have a chunked form"},
    /* the parser */
    {"L1 vec 8 unroll 2", "chunk 65\n    L1 vec 8", "chunk 65 out of range (0 to 64)"},
    {"L1 vec 8 unroll 2", "L7 vec 8", "t.kir:15:5: error: the schedule refers to loop L7, which does not exist"},
    {"L1 vec 8 unroll 2", "L1 wide 8", "unknown schedule word 'wide'"},
    {"fma(", "fmaa(", "unknown op 'fmaa'"},
    {"%x[t, i], %x[t, i], s)", "%x[t, i], %x[t, i], s, s)", "'fma' takes 3 operands, not 4"},
    {"mul(%x[t, i], s)", "mul(%z[t, i], s)", "unknown buffer %z"},
    {"@L2", "@M2", "bad loop id '@M2'"},
    {"f32[T, 8] \"x", "f33[T, 8] \"x", "expected an element type"},
    {"\"x [T, n]\"", "\"x [T, n]", "unterminated string"},
};

START_TEST(test_verify_errors)
{
    const char *from = bad_kernels[_i].from;
    const char *at = strstr(good_kernel, from);
    ck_assert_msg(at != NULL, "case %d: '%s' is not in the kernel", _i, from);
    StrBuf sb = {0};
    sb_putn(&sb, good_kernel, (size_t)(at - good_kernel));
    sb_puts(&sb, bad_kernels[_i].to);
    sb_puts(&sb, at + strlen(from));
    int n;
    parse_kernels(sb_cstr(&sb), &n, false);
    ck_assert_int_eq(n, 0);
    ck_assert_has(messages(), bad_kernels[_i].msg);
    sb_free(&sb);
}
END_TEST

/* After an error the parser goes on at the next kernel. */
START_TEST(test_parse_recovery)
{
    StrBuf sb = {0};
    sb_puts(&sb, "# two bad kernels around a good one\nkernel @a op \"x\" {\n  for ? \n}\n");
    sb_puts(&sb, good_kernel);
    sb_puts(&sb, "kernel @b op \"x\" {\n  in %x : f32[T]\n  for t = 0, T @L0 {\n    store %x[t] = 1.0\n  }\n}\n");
    int n;
    KirKernel **ks = parse_kernels(sb_cstr(&sb), &n, false);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(ks[0]->name, "k");
    ck_assert_has(messages(), "t.kir:3:7: error: unexpected character '?'");
    ck_assert_has(messages(), "kernel @b: store to %x, a buffer of role 'in'");
    ck_assert_int_eq(C.diag.n_errors, 2);
    sb_free(&sb);
}
END_TEST

/* ---- schedules and signatures -------------------------------------------------------- */

static const char *two_matmuls =
    "module @two {\n  max_seq = 16\n  param @e : f32[8, 64]\n  param @w1 : f32[32, 64]\n  param @w2 : f32[32, 64]\n"
    "  func @prefill(%t: i32[T]) -> f32[T, 32] {\n"
    "    %x = embed(%t, @e) : f32[T, 64]\n    %a = matmul(%x, @w1) : f32[T, 32]\n"
    "    %b = matmul(%x, @w2) : f32[T, 32]\n    %c = add(%a, %b) : f32[T, 32]\n    return %c\n  }\n"
    "  func @decode(%t: i32[1]) -> f32[1, 32] {\n"
    "    %x = embed(%t, @e) : f32[1, 64]\n    %a = matmul(%x, @w1) : f32[1, 32]\n"
    "    %b = matmul(%x, @w2) : f32[1, 32]\n    %c = add(%a, %b) : f32[1, 32]\n    return %c\n  }\n}\n";

/* Register blocks by default: 6 weight rows x 4 tokens where AVX-512's 32
 * registers hold 24 accumulators and the outputs are many; 4 x 4 on AVX2,
 * and on AVX-512 for a short output loop (its leftover rows run unblocked). */
static const char *wide_and_narrow =
    "module @wn {\n  max_seq = 16\n  param @e : f32[8, 64]\n  param @w1 : f32[96, 64]\n  param @w2 : f32[80, 96]\n"
    "  func @prefill(%t: i32[T]) -> f32[T, 80] {\n"
    "    %x = embed(%t, @e) : f32[T, 64]\n    %a = matmul(%x, @w1) : f32[T, 96]\n"
    "    %b = matmul(%a, @w2) : f32[T, 80]\n    return %b\n  }\n"
    "  func @decode(%t: i32[1]) -> f32[1, 80] {\n"
    "    %x = embed(%t, @e) : f32[1, 64]\n    %a = matmul(%x, @w1) : f32[1, 96]\n"
    "    %b = matmul(%a, @w2) : f32[1, 80]\n    return %b\n  }\n}\n";

START_TEST(test_default_jam_by_target)
{
    static const struct {
        const char *target, *wide, *narrow;
    } by_target[] = {
        {"x86-64-v4", "| L0 par jam6, L1 jam4, L2 vec16 unroll2", "| L0 par jam4, L1 jam4, L2 vec16 unroll2"},
        {"x86-64-v3", "| L0 par jam4, L1 jam4, L2 vec8 unroll2", "| L0 par jam4, L1 jam4, L2 vec8 unroll2"},
    };
    for (size_t c = 0; c < sizeof by_target / sizeof by_target[0]; c++) {
        CgOptions o = {0};
        ck_assert(cg_target_lookup(by_target[c].target, &o.target));
        CgProgram *p = lower_text("wn", wide_and_narrow, &o);
        const KirKernel *w = p->kernels[p->funcs[0].calls[1].kernel], *n = p->kernels[p->funcs[0].calls[2].kernel];
        ck_assert_has(kir_signature(&C.arena, w, true), by_target[c].wide);
        ck_assert_has(kir_signature(&C.arena, n, true), by_target[c].narrow);
        /* decode's single token: no blocks */
        const KirKernel *d = p->kernels[p->funcs[1].calls[1].kernel];
        ck_assert_msg(!strstr(kir_signature(&C.arena, d, true), "jam"), "%s", kir_signature(&C.arena, d, true));
    }
}
END_TEST

START_TEST(test_dedup_and_signature)
{
    CgOptions o = {0};
    cg_target_lookup("x86-64-v4", &o.target);
    CgProgram *p = lower_text("two", two_matmuls, &o);
    /* embed, matmul, add for prefill; the same three for decode's shapes */
    ck_assert_int_eq(p->n_kernels, 6);
    ck_assert_int_eq(p->n_calls_total, 8);
    ck_assert_int_eq(p->funcs[0].calls[1].kernel, p->funcs[0].calls[2].kernel);
    o.no_dedup = true;
    CgProgram *q = lower_text("two", two_matmuls, &o);
    ck_assert_int_eq(q->n_kernels, 8);
    const KirKernel *k1 = q->kernels[q->funcs[0].calls[1].kernel], *k2 = q->kernels[q->funcs[0].calls[2].kernel];
    ck_assert_str_eq(kir_signature(&C.arena, k1, true), kir_signature(&C.arena, k2, true));
    const char *sig = kir_signature(&C.arena, k1, true);
    ck_assert_has(sig, "matmul in:f32[T, 64] param:f32[32, 64] out:f32[T, 32] #");
    ck_assert_has(sig, "| L0 par jam4, L1 jam4, L2 vec16 unroll2");
    /* the schedule is part of the signature, not of the tuning key */
    const char *key = kir_signature(&C.arena, k1, false);
    KirSchedule s = kir_schedule_copy(&C.arena, &k1->sched);
    s.loops[2].vec = 8;
    ck_assert(cg_program_set_schedule(q, q->funcs[0].calls[1].kernel, &s, &C.diag));
    ck_assert_str_ne(kir_signature(&C.arena, k1, true), sig);
    ck_assert_str_eq(kir_signature(&C.arena, k1, false), key);
    ck_assert_has(kir_signature(&C.arena, k1, true), "L2 vec8 unroll2");
    /* a different attribute is a different kernel */
    CgProgram *e = lower_case(1, &o.target);
    int rms = 0;
    for (int i = 0; i < e->n_kernels; i++) rms += strcmp(e->kernels[i]->op, "rmsnorm") == 0;
    ck_assert_int_eq(rms, 4); /* two rmsnorms (offset 1 / no weight), prefill and decode */
}
END_TEST

START_TEST(test_schedule_default)
{
    CgOptions o = {0};
    cg_target_lookup("x86-64-v4", &o.target);
    CgProgram *p = lower_text("two", two_matmuls, &o);
    const KirKernel *mm = p->kernels[p->funcs[0].calls[1].kernel];
    /* [T, 64] x [32, 64]: the output rows in parallel (32 rows x T x 64 is
     * enough work), the inner product vectorized with two accumulators */
    ck_assert(mm->sched.loops[0].parallel);
    ck_assert(!mm->sched.loops[1].parallel);
    ck_assert_int_eq(mm->sched.loops[2].vec, 16);
    ck_assert_int_eq(mm->sched.loops[2].unroll, 2);
    const KirKernel *emb = p->kernels[p->funcs[0].calls[0].kernel];
    ck_assert(!emb->sched.loops[0].parallel); /* T x 64 copies: too little to split */
    ck_assert_int_eq(emb->sched.loops[1].vec, 16);
    /* generic: 8 lanes; decode's matmul still splits its rows */
    cg_target_lookup("generic", &o.target);
    o.hints.par_min_work = 1000;
    p = lower_text("two", two_matmuls, &o);
    mm = p->kernels[p->funcs[1].calls[1].kernel];
    ck_assert_int_eq(mm->sched.loops[2].vec, 8);
    ck_assert(mm->sched.loops[0].parallel);
    /* replacing: a parallel inner loop is refused, with the reason */
    KirSchedule s = kir_schedule_copy(&C.arena, &mm->sched);
    s.loops[2].parallel = true;
    ck_assert(!cg_program_set_schedule(p, p->funcs[1].calls[1].kernel, &s, &C.diag));
    ck_assert_has(messages(), "L2 is marked parallel but is not a top-level loop");
    ck_assert(mm->sched.loops[2].vec == 8 && !mm->sched.loops[2].parallel);
}
END_TEST

/* The flash-style sdpa (docs/kernel-ir.md §6): its temps are what the tile
 * sizes make them — nothing T x T, nothing sized by max_seq — the tasks run
 * in parallel, and P.V is inner products against the transposed V tile. */
static char *emit(const CgProgram *p);

static const KirKernel *find_kernel(const CgProgram *p, const char *op)
{
    for (int i = 0; i < p->n_kernels; i++)
        if (strcmp(p->kernels[i]->op, op) == 0) return p->kernels[i];
    ck_abort_msg("no %s kernel", op);
    return NULL;
}

static void expect_temp(const KirKernel *k, const char *name, int rank, const int64_t *dims)
{
    for (int b = 0; b < k->n_bufs; b++) {
        const KirBuf *bf = &k->bufs[b];
        if (strcmp(bf->name, name) != 0) continue;
        ck_assert_int_eq(bf->role, KIR_ROLE_TEMP);
        ck_assert_int_eq(bf->rank, rank);
        for (int d = 0; d < rank; d++) ck_assert_int_eq(bf->dims[d], dims[d]);
        return;
    }
    ck_abort_msg("no temp %s", name);
}

START_TEST(test_sdpa_tiles)
{
    char *text = read_text("tests/kernel/attention.ir"); /* H 4, Hkv 2, dk = dv = 8, max_seq 64 */
    ck_assert_ptr_nonnull(text);
    CgOptions o = {0};
    cg_target_lookup("x86-64-v4", &o.target);
    CgProgram *p = lower_text("attention.ir", text, &o);
    const KirKernel *k = find_kernel(p, "sdpa");
    /* defaults: Bk 128 (a K and a V tile of 16 floats a key in 32 KB, at
     * most 128), Bq 28 (56 rows of 8 + 8 + 128 floats in 32 KB, over G = 2) */
    expect_temp(k, "sc", 3, (int64_t[]){IR_DIM_T, 4, 128});
    expect_temp(k, "mx", 2, (int64_t[]){IR_DIM_T, 4});
    expect_temp(k, "sm", 2, (int64_t[]){IR_DIM_T, 4});
    expect_temp(k, "vt", 3, (int64_t[]){2 * 3, 8, 128}); /* Hkv ceil(max_batch 64 / 28) tasks */
    expect_temp(k, "cr", 2, (int64_t[]){IR_DIM_T, 4});
    ck_assert(k->sched.loops[0].parallel);
    ck_assert_int_eq(k->n_bufs, 10);
    char *c = emit(p);
    ck_assert_has(c, "hycrt_split(2 * ((T + 27) / 28), ith, nth, &gb_lo_, &gb_hi_);");
    /* scores and P V as register-blocked nests: keys x rows over dk (8
     * lanes at dk = 8), value columns x rows over the tile's keys */
    ck_assert_has(c, "hyc_dotblk_avx2_4x4(&cache[");
    ck_assert_has(c, "hyc_dotblk_avx2_4x4(&k[");
    ck_assert_has(c, "hyc_dotblk_avx512_4x4(&vt[gb * 1024 + d_j_ * 128], 128, &sc[");
    free(c);
    /* the options */
    o.attn_block_q = 4;
    o.attn_block_k = 16;
    o.max_batch = 32;
    p = lower_text("attention.ir", text, &o);
    k = find_kernel(p, "sdpa");
    expect_temp(k, "sc", 3, (int64_t[]){IR_DIM_T, 4, 16});
    expect_temp(k, "vt", 3, (int64_t[]){2 * 8, 8, 16});
    free(text);
}
END_TEST

START_TEST(test_schedule_variants)
{
    CgTarget t;
    cg_target_lookup("x86-64-v3", &t);
    int total = 0;
    for (int c = 0; c < N_CASES; c++) {
        CgProgram *p = lower_case(c, &t);
        for (int i = 0; i < p->n_kernels; i++) {
            KirSchedule vs[64];
            int n = kir_schedule_variants(&C.arena, p->kernels[i], &t, vs, 64);
            ck_assert_int_ge(n, 1);
            for (int v = 0; v < n; v++) {
                /* a chunk variant of a Mamba-2 scan applies to its other form */
                const KirKernel *f = kir_kernel_for_schedule(&C.arena, p->kernels[i], &vs[v]);
                ck_assert_ptr_nonnull(f);
                ck_assert(kir_verify_schedule(f, &vs[v], &C.diag));
            }
            total += n;
        }
    }
    ck_assert_int_gt(total, 500);
}
END_TEST

/* The prefill kernel of op `op` (its x has dim 0 T), or NULL. */
static KirKernel *prefill_kernel(const CgProgram *p, const char *op)
{
    for (int i = 0; i < p->n_kernels; i++)
        if (strcmp(p->kernels[i]->op, op) == 0 && p->kernels[i]->bufs[0].dims[0] == IR_DIM_T) return p->kernels[i];
    return NULL;
}

static bool has_step_loop(const KirKernel *k, int64_t step)
{
    for (int l = 0; l < k->n_loops; l++)
        if (kir_find_loop(k, l)->step == step) return true;
    return false;
}

/* The chunk of a Mamba-2 scan is a schedule field: the default form, the
 * tuner's variants of each form, switching forms and back (same buffers,
 * so the same memory plan), the text form and the tuning-record line. */
START_TEST(test_ssd_chunk_schedule)
{
    CgTarget t = cg_target_generic();
    CgProgram *p = lower_case(case_index("op_ssd_wide"), &t);
    const char *ops[] = {"ssd_scan", "fused_ssd_scan"};
    for (int o = 0; o < 2; o++) {
        KirKernel *k = prefill_kernel(p, ops[o]);
        ck_assert_ptr_nonnull(k);
        ck_assert_int_eq(k->chunk, CG_SSD_CHUNK_DEFAULT > 0 ? CG_SSD_CHUNK_DEFAULT : 0);
        ck_assert_int_eq(k->sched.chunk, k->chunk);
        ck_assert_ptr_nonnull(k->relower);
        /* decode kernels have one form, and no temps */
        for (int i = 0; i < p->n_kernels; i++)
            if (strcmp(p->kernels[i]->op, ops[o]) == 0 && p->kernels[i] != k) {
                ck_assert_ptr_null(p->kernels[i]->relower);
                ck_assert_ptr_null(kir_kernel_rechunk(&C.arena, p->kernels[i], 16));
                for (int b = 0; b < p->kernels[i]->n_bufs; b++) ck_assert_int_ne(p->kernels[i]->bufs[b].role, KIR_ROLE_TEMP);
            }
        /* the variants offer the recurrence and chunks of 16, 32, 64 */
        KirSchedule vs[64];
        int n = kir_schedule_variants(&C.arena, k, &t, vs, 64);
        bool seen[65] = {0};
        for (int v = 0; v < n; v++) {
            ck_assert(vs[v].chunk >= 0 && vs[v].chunk <= CG_SSD_CHUNK_MAX);
            seen[vs[v].chunk] = true;
        }
        ck_assert(seen[0] && seen[16] && seen[32] && seen[64]);
        /* switch to a chunk-16 variant: the body is the chunked form */
        int ki = -1;
        for (int i = 0; i < p->n_kernels; i++)
            if (p->kernels[i] == k) ki = i;
        KirSchedule s16 = {0};
        for (int v = 0; v < n; v++)
            if (vs[v].chunk == 16) s16 = vs[v];
        char *bufs0 = arena_strdup(&C.arena, kir_signature(&C.arena, k, false));
        ck_assert(cg_program_set_schedule(p, ki, &s16, &C.diag));
        ck_assert_int_eq(k->chunk, 16);
        ck_assert(has_step_loop(k, 16));
        ck_assert(kir_verify(k, &C.diag));
        /* same buffers, another body */
        const char *bufs1 = kir_signature(&C.arena, k, false);
        ck_assert_int_eq((int)(strchr(bufs0, '#') - bufs0), (int)(strchr(bufs1, '#') - bufs1));
        ck_assert(strncmp(bufs0, bufs1, (size_t)(strchr(bufs0, '#') - bufs0)) == 0);
        ck_assert_str_ne(bufs0, bufs1);
        ck_assert_has(kir_signature(&C.arena, k, true), "| chunk16, L0 par");
        /* the inter-chunk product is a jam nest the default blocks */
        int jammed = 0;
        for (int l = 0; l < k->n_loops; l++) jammed += k->sched.loops[l].jam > 1;
        ck_assert_int_eq(jammed, 2);
        /* text: print -> parse -> print; the parsed kernel is chunk 16 */
        char *text = print_kernel(k, 0);
        ck_assert_has(text, "  schedule {\n    chunk 16\n    L0 parallel\n");
        int nk;
        KirKernel **ks = parse_kernels(text, &nk, true);
        ck_assert_int_eq(nk, 1);
        ck_assert_int_eq(ks[0]->chunk, 16);
        ck_assert_str_eq(print_kernel(ks[0], 0), text);
        /* ... but cannot be rebuilt: it has no instruction */
        KirSchedule none = kir_schedule_none(&C.arena, ks[0]->n_loops);
        ck_assert(!kir_set_schedule(ks[0], &C.arena, &none, &C.diag));
        ck_assert_has(messages(), "asks for a form the kernel does not have");
        /* the tuning-record line names the chunk and reads back, also
         * against the kernel in another form */
        const char *line = tunedb_sched_text(&C.arena, k, &k->sched);
        ck_assert_msg(strncmp(line, "chunk 16; L0 parallel", 21) == 0, "%s", line);
        KirSchedule back;
        const char *why = NULL;
        ck_assert_msg(tunedb_sched_parse(&C.arena, k, line, &back, &why), "%s", why ? why : "");
        ck_assert_str_eq(tunedb_sched_text(&C.arena, k, &back), line);
        KirSchedule s0 = {0};
        for (int v = 0; v < n; v++)
            if (vs[v].chunk == 0) s0 = vs[v];
        ck_assert(cg_program_set_schedule(p, ki, &s0, &C.diag)); /* back to the recurrence */
        ck_assert_int_eq(k->chunk, 0);
        ck_assert(!has_step_loop(k, 16));
        ck_assert_str_eq(kir_signature(&C.arena, k, false), bufs0);
        ck_assert_msg(tunedb_sched_parse(&C.arena, k, line, &back, &why), "%s", why ? why : "");
        ck_assert_int_eq(back.chunk, 16);
        ck_assert(!tunedb_sched_parse(&C.arena, k, "chunk 65; L0 parallel", &back, &why));
        ck_assert_has(why, "no such form");
        /* a schedule of another chunk does not verify against this body */
        ck_assert(!kir_verify_schedule(k, &s16, &C.diag));
        ck_assert_has(messages(), "the kernel's body is the form of chunk 0");
    }
}
END_TEST

/* ---- the memory plan ---------------------------------------------------------------- */

static void check_plan(const CgProgram *p)
{
    for (int f = 0; f < p->n_funcs; f++) {
        const CgFunc *cf = &p->funcs[f];
        ck_assert_uint_le(cf->scratch_bytes, cf->naive_bytes);
        ck_assert_uint_le(cf->scratch_bytes, p->scratch_bytes);
        for (int i = 0; i < cf->n_slots; i++) {
            const CgSlot *a = &cf->slots[i];
            ck_assert_uint_eq(a->offset % 64, 0);
            ck_assert_uint_le(a->offset + a->bytes, cf->scratch_bytes);
            for (int j = i + 1; j < cf->n_slots; j++) {
                const CgSlot *b = &cf->slots[j];
                bool live_together = a->first <= b->last && b->first <= a->last;
                bool bytes_overlap = a->offset < b->offset + b->bytes && b->offset < a->offset + a->bytes;
                ck_assert_msg(!(live_together && bytes_overlap), "@%s: slots %d [%d, %d] and %d [%d, %d] share bytes",
                              cf->fn->name, i, a->first, a->last, j, b->first, b->last);
            }
        }
        /* the returned value survives every call */
        bool found = false;
        for (int i = 0; i < cf->n_slots; i++)
            if (cf->slots[i].last == cf->fn->n_insts) found = true;
        ck_assert(found);
    }
    for (int i = 0; i < p->m->n_params; i++) ck_assert_uint_eq(p->param_offset[i] % 64, 0);
    for (int i = 0; i < p->m->n_states; i++) ck_assert_uint_eq(p->state_offset[i] % 64, 0);
}

START_TEST(test_memory_plan)
{
    CgTarget t = cg_target_generic();
    for (int c = 0; c < N_CASES; c++) check_plan(lower_case(c, &t));
    for (int i = 0; i < N_MODELS; i++) {
        CgProgram *p = lower_model(i, &t);
        check_plan(p);
        /* sharing pays: a deep model needs far less than a buffer per value */
        ck_assert_uint_lt(p->funcs[0].scratch_bytes * 2, p->funcs[0].naive_bytes);
    }
    /* reshape is an alias: no kernel, the same bytes */
    CgProgram *p = lower_case(9, &t); /* op_rope */
    const CgFunc *cf = &p->funcs[0];
    for (int i = 0; i < cf->fn->n_insts; i++) {
        const IrInst *in = &cf->fn->insts[i];
        if (in->op == IR_OP_RESHAPE)
            ck_assert_uint_eq(cf->value_offset[in->result], cf->value_offset[in->operands[0].id]);
    }
    ck_assert_int_lt(cf->n_calls, cf->fn->n_insts);
}
END_TEST

/* ---- the C text ----------------------------------------------------------------------- */

static char *emit(const CgProgram *p)
{
    StrBuf sb = {0};
    cg_emit_c(&sb, p);
    char *s = xstrdup(sb_cstr(&sb));
    sb_free(&sb);
    return s;
}

START_TEST(test_emit_deterministic)
{
    for (int ti = 0; ti < N_TARGETS; ti++) {
        CgTarget t;
        ck_assert(cg_target_lookup(targets[ti].name, &t));
        char *a = emit(lower_model(0, &t));
        teardown();
        setup(); /* a fresh arena, interner and module */
        char *b = emit(lower_model(0, &t));
        ck_assert_str_eq(a, b);
        StrBuf k1 = {0}, k2 = {0};
        cg_print_program(&k1, lower_case(10, &t));
        cg_print_program(&k2, lower_case(10, &t));
        ck_assert_str_eq(sb_cstr(&k1), sb_cstr(&k2));
        sb_free(&k1);
        sb_free(&k2);
        free(a);
        free(b);
    }
}
END_TEST

START_TEST(test_emit_text)
{
    CgTarget v4, v3, gen = cg_target_generic();
    cg_target_lookup("x86-64-v4", &v4);
    cg_target_lookup("x86-64-v3", &v3);
    char *c4 = emit(lower_model(0, &v4));
    ck_assert_has(c4, "/* hybrid_tiny.c — generated by hyc " HYC_VERSION " from module @hybrid_tiny; do not edit.");
    ck_assert_has(c4, " * flags:   --test\n");
    ck_assert_has(c4, " * target:  x86-64-v4 (AVX-512 intrinsics); compile with -march=x86-64-v4\n");
    ck_assert_has(c4, "#include \"hycrt.h\"");
    ck_assert_has(c4, "#error \"generated for x86-64-v4");
    ck_assert_has(c4, "// hybrid.hyb:3\n");                                 /* back to the DSL */
    ck_assert_has(c4, "const float *restrict x = args->x; /* in f32[T, 16]: x [.., d] */"); /* shape comments */
    ck_assert_has(c4, "hycrt_split(T, ith, nth, &t_lo_, &t_hi_);");        /* (ith, nth) */
    ck_assert_has(c4, "hycrt_parallel_for(pool, 4 * hycrt_pool_threads(pool), "); /* prefill: 4 tasks a thread */
    ck_assert_has(c4, "const hycrt_model_desc hybrid_tiny_desc = {");
    ck_assert_has(c4, ".abi_version = HYCRT_ABI_VERSION,");
    ck_assert_has(c4, "hycrt_prof_end(ctx, ");
    free(c4);
    /* inner products: intrinsics chosen by the target */
    CgOptions o = {0};
    o.target = v4;
    char *m4 = emit(lower_text("two", two_matmuls, &o));
    ck_assert_has(m4, "static inline float hyc_dot_avx512_x2(");
    ck_assert_has(m4, "acc = acc + hyc_dot_avx512_x2(&x[t * 64], &w[o * 64], 64); /* L2: the sum over k */");
    ck_assert_has(m4, "_mm512_fmadd_ps");
    o.target = v3;
    char *m3 = emit(lower_text("two", two_matmuls, &o));
    ck_assert_has(m3, "hyc_dot_avx2_x2(&x[t * 64], &w[o * 64], 64)");
    ck_assert_has(m3, "_mm256_fmadd_ps");
    ck_assert(strstr(m3, "_mm512") == NULL);
    o.target = gen;
    char *mg = emit(lower_text("two", two_matmuls, &o));
    ck_assert_has(mg, "hyc_dot_lanes16(&x[t * 64], &w[o * 64], 64)");
    ck_assert(strstr(mg, "immintrin") == NULL && strstr(mg, "_mm") == NULL);
    free(m4);
    free(m3);
    free(mg);
    /* the fused Mamba-1 scan: its lane loop over channels (one exp per lane,
     * stores and loads of the same elements) is marked independent, and exp
     * is the inline one, not libm's */
    int fc = -1;
    for (int i = 0; i < N_CASES; i++)
        if (strcmp(cases[i].name, "op_fused_scans") == 0) fc = i;
    ck_assert_int_ge(fc, 0);
    char *fs = emit(lower_case(fc, &v4));
    ck_assert_has(fs, "#define HYC_IVDEP _Pragma(\"GCC ivdep\")");
    ck_assert_has(fs, "static inline float hyc_exp_f32(float x)");
    const char *scan = strstr(fs, "float h0 = hyc_exp_f32(d * AT[");
    ck_assert_ptr_nonnull(scan);
    /* the lane loop holding the first state's update, and the line before it */
    const char *lane = NULL;
    for (const char *p = strstr(fs, "for (int l_ = 0;"); p && p < scan; p = strstr(p + 1, "for (int l_ = 0;")) lane = p;
    ck_assert_ptr_nonnull(lane);
    const char *prev = lane;
    while (prev > fs && prev[-1] != '\n') prev--; /* the start of the loop's line */
    ck_assert_msg(prev - fs >= 10 && strncmp(prev - 10, "HYC_IVDEP\n", 10) == 0,
                  "no HYC_IVDEP on the fused scan's lane loop");
    free(fs);
}
END_TEST

START_TEST(test_not_lowered)
{
    char *text = read_text("tests/ir/good/hybrid.ir");
    IrModule *m = ir_parse(&(SrcFile){"hybrid.ir", text, strlen(text)}, &C.arena, &C.in, &C.diag);
    ck_assert_ptr_nonnull(m);
    CgOptions o = {0};
    ck_assert_ptr_null(cg_lower_module(&C.arena, m, &o, &C.diag));
    ck_assert_has(messages(), "is a composite op: lower the module");
    free(text);
}
END_TEST

/* A feature the lowering does not implement is a user error with the
 * instruction's location and exit status 1, never a kernel that ignores it.
 * Every word of every enumeration in ops.def is implemented today, so the
 * test forges one past the verifier: a word no enumeration has, then a
 * 16-bit state of an unsupported kind (i32). */
static void expect_unsupported(const char *text, void (*forge)(IrModule *), const char *want)
{
    IrModule *m = parse_lowered(&C.arena, &C.in, "forged.ir", text, &C.diag);
    ck_assert_msg(m != NULL, "%s", messages());
    forge(m);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        CgOptions o = {0};
        cg_lower_module(&C.arena, m, &o, &C.diag);
        _exit(0);
    }
    close(fds[1]);
    char buf[4096];
    size_t len = 0;
    ssize_t r;
    while (len + 1 < sizeof buf && (r = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)r;
    buf[len] = 0;
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "exit status %d, stderr:\n%s", status, buf);
    ck_assert_has(buf, want);
}

static void forge_gelu(IrModule *m)
{
    for (int f = 0; f < m->n_funcs; f++)
        for (int i = 0; i < m->funcs[f]->n_insts; i++)
            if (m->funcs[f]->insts[i].op == IR_OP_GELU)
                m->funcs[f]->insts[i].attrs[ir_op_attr(IR_OP_GELU, "approximate")].s = "sigmoid";
}

static void forge_rope(IrModule *m)
{
    for (int f = 0; f < m->n_funcs; f++)
        for (int i = 0; i < m->funcs[f]->n_insts; i++)
            if (m->funcs[f]->insts[i].op == IR_OP_ROPE)
                m->funcs[f]->insts[i].attrs[ir_op_attr(IR_OP_ROPE, "scaling")].s = "longrope";
}

static void forge_state(IrModule *m) { m->states[0].type.dtype = IR_DT_I32; }

START_TEST(test_unsupported)
{
    const char *gelu = "module @u {\n  max_seq = 8\n  param @emb : f32[16, 8]\n"
                       "  func @prefill(%tokens: i32[T]) -> f32[T, 8] {\n"
                       "    %x = embed(%tokens, @emb) : f32[T, 8]\n"
                       "    %y = gelu(%x) {approximate = \"tanh\"} : f32[T, 8] loc(\"u.hyb\":7:3)\n    return %y\n  }\n"
                       "  func @decode(%tokens: i32[1]) -> f32[1, 8] {\n"
                       "    %x = embed(%tokens, @emb) : f32[1, 8]\n    return %x\n  }\n}\n";
    expect_unsupported(gelu, forge_gelu, "u.hyb:7:3: error: the C backend does not support gelu {approximate = \"sigmoid\"} yet");
    const char *rope = "module @u {\n  max_seq = 8\n  param @emb : f32[16, 8]\n"
                       "  func @prefill(%tokens: i32[T]) -> f32[T, 8] {\n"
                       "    %x = embed(%tokens, @emb) : f32[T, 8]\n"
                       "    %x3 = reshape(%x) {dims = [2, 4]} : f32[T, 2, 4]\n"
                       "    %y3 = rope(%x3) {dim = 4, scaling = \"linear\", scaling_params = [2.0]} : f32[T, 2, 4] loc(\"u.hyb\":9:5)\n"
                       "    %y = reshape(%y3) {dims = [8]} : f32[T, 8]\n    return %y\n  }\n"
                       "  func @decode(%tokens: i32[1]) -> f32[1, 8] {\n"
                       "    %x = embed(%tokens, @emb) : f32[1, 8]\n    return %x\n  }\n}\n";
    expect_unsupported(rope, forge_rope, "u.hyb:9:5: error: the C backend does not support rope {scaling = \"longrope\"} yet");
    const char *conv = "module @u {\n  max_seq = 8\n  param @emb : f32[16, 8]\n  param @w : f32[8, 4]\n"
                       "  state $c : conv_state bf16[8, 3]\n"
                       "  func @prefill(%tokens: i32[T]) -> f32[T, 8] {\n"
                       "    %x = embed(%tokens, @emb) : f32[T, 8]\n"
                       "    %y = causal_conv1d(%x, @w, $c) : f32[T, 8] loc(\"u.hyb\":4:1)\n    return %y\n  }\n"
                       "  func @decode(%tokens: i32[1]) -> f32[1, 8] {\n"
                       "    %x = embed(%tokens, @emb) : f32[1, 8]\n    return %x\n  }\n}\n";
    expect_unsupported(conv, forge_state, "u.hyb:4:1: error: the C backend does not support i32 states ($c) yet");
}
END_TEST

/* ---- golden kernel IR: tests/kernel/X.ir -> X.kir ------------------------------------ */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

START_TEST(test_golden)
{
    DIR *dir = opendir("tests/kernel");
    ck_assert_msg(dir != NULL, "tests/kernel is missing (run from the repository root)");
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) && n < 64) {
        size_t len = strlen(e->d_name);
        if (len > 3 && strcmp(e->d_name + len - 3, ".ir") == 0) names[n++] = xstrdup(e->d_name);
    }
    closedir(dir);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    ck_assert_int_ge(n, 4);
    bool update = getenv("UPDATE") && strcmp(getenv("UPDATE"), "1") == 0;
    for (int i = 0; i < n; i++) {
        char path[512], out[512];
        snprintf(path, sizeof path, "tests/kernel/%s", names[i]);
        snprintf(out, sizeof out, "tests/kernel/%.*s.kir", (int)strlen(names[i]) - 3, names[i]);
        char *text = read_text(path);
        ck_assert_ptr_nonnull(text);
        CgOptions o = {0};
        o.target = cg_target_generic();
        o.flags = "--target=generic";
        CgProgram *p = lower_text(path, text, &o);
        StrBuf sb = {0};
        cg_print_program(&sb, p);
        if (update) {
            ck_assert(write_file_atomic(out, sb.data, sb.len));
        } else {
            char *want = read_text(out);
            ck_assert_msg(want != NULL, "%s is missing (UPDATE=1 writes it)", out);
            ck_assert_msg(strcmp(want, sb_cstr(&sb)) == 0, "%s differs from the output (UPDATE=1 rewrites it):\n%s", out,
                          sb_cstr(&sb));
            free(want);
        }
        int nk;
        KirKernel **ks = parse_kernels(sb_cstr(&sb), &nk, true);
        ck_assert_int_eq(nk, p->n_kernels);
        for (int k = 0; k < nk; k++) ck_assert_str_eq(print_kernel(ks[k], 0), print_kernel(p->kernels[k], 0));
        sb_free(&sb);
        free(text);
        free(names[i]);
    }
}
END_TEST

/* ---- the suite ------------------------------------------------------------------------- */

static Suite *codegen_suite(void)
{
    Suite *s = suite_create("codegen");
    TCase *tc = tcase_create("kir");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_roundtrip_ops, 0, 2 * N_CASES);
    tcase_add_test(tc, test_roundtrip_models);
    tcase_add_test(tc, test_op_coverage);
    tcase_add_test(tc, test_verify_good);
    tcase_add_loop_test(tc, test_verify_errors, 0, (int)(sizeof bad_kernels / sizeof bad_kernels[0]));
    tcase_add_test(tc, test_parse_recovery);
    suite_add_tcase(s, tc);

    tc = tcase_create("schedule_plan_emit");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_dedup_and_signature);
    tcase_add_test(tc, test_default_jam_by_target);
    tcase_add_test(tc, test_schedule_default);
    tcase_add_test(tc, test_schedule_variants);
    tcase_add_test(tc, test_ssd_chunk_schedule);
    tcase_add_test(tc, test_sdpa_tiles);
    tcase_add_test(tc, test_memory_plan);
    tcase_add_test(tc, test_emit_deterministic);
    tcase_add_test(tc, test_emit_text);
    tcase_add_test(tc, test_not_lowered);
    tcase_add_test(tc, test_unsupported);
    tcase_add_test(tc, test_golden);
    suite_add_tcase(s, tc);

    tc = tcase_create("numeric");
    tcase_set_timeout(tc, 60);
    int n = N_CASES + N_MODELS + 32;
    tcase_add_loop_test(tc, test_numeric_generic, 0, n);
    tcase_add_loop_test(tc, test_numeric_avx2, 0, N_CASES + N_MODELS);
    tcase_add_loop_test(tc, test_numeric_avx512, 0, N_CASES + N_MODELS + N_CHUNK_PROGS);
    tcase_add_test(tc, test_variant_coverage);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    build_all();
    if (build_error) fprintf(stderr, "check_codegen: %s\n", build_error);
    else fprintf(stderr, "check_codegen: %d programs emitted and compiled in %.1f s\n", n_progs[0] + n_progs[1] + n_progs[2], build_seconds);
    SRunner *sr = srunner_create(codegen_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cleanup_workdir();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
