/* cmd_build.c — `hyc build`: a model compiled ahead of time to C
 * (codegen/emit_c.c) and, through the system C compiler, to a standalone
 * executable, a static library with its header, or the C source alone, each
 * with its packed weights file (runtime/hycrt.h); and the C backend of
 * `hyc run --backend c`: the same C built as a shared object into a cache
 * and loaded in process.  docs/build.md describes the command, the library
 * API and the cache.
 *
 * Every output file appears atomically (a temporary file beside it, then a
 * rename), so a failure leaves the previous file or none, never half of one.
 * Problems of the input or the toolchain exit 1 with a clear message (a
 * failing compile shows the compiler's output and keeps the generated C);
 * a model the backend cannot handle is a bug in hyc: exit 70. */
#include "driver.h"
#include "../codegen/codegen.h"
#include "../frontend/frontend.h"
#include "../interp/interp.h"
#include "../ir/ir.h"
#include "../passes/passes.h"
#include "../runtime/hycrt.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char BUILD_HELP[] =
    "usage: hyc build MODEL [-o OUT] [--emit exe|lib|c|llvm|bc|obj] [--backend c|llvm]\n"
    "                 [-O0..-O3] [--logits all|last] [--disable-pass=P,...]\n"
    "                 [--target native|x86-64-v3|x86-64-v4|generic]\n"
    "                 [--random-weights[=SEED] | --no-weights]\n"
    "                 [--tuning-db FILE [--tuning-threads N]]\n\n"
    "Compile MODEL (a .hyb file, a .ir file, or a Hugging Face directory or\n"
    "config.json) ahead of time: the Graph IR pipeline, the Kernel IR, C, and\n"
    "the C compiler.  The weights are packed into one file beside the output.\n\n"
    "  --emit exe   (default) OUT is a standalone program and OUT.weights its\n"
    "               weights: OUT --tokens 1,2,3 -n 16 generates; OUT --help\n"
    "  --emit lib   OUT names a static library: DIR/libNAME.a (the model and\n"
    "               the runtime), DIR/NAME.h (its C API: NAME_load,\n"
    "               NAME_session_new, NAME_prefill, NAME_decode, ...) and\n"
    "               DIR/NAME.weights, for OUT = DIR/NAME or DIR/libNAME.a\n"
    "  --emit c     OUT is the C source (a main() included) and OUT without .c\n"
    "               plus .weights its weights; the summary prints the compile line\n"
    "  --emit llvm|bc|obj  the LLVM backend's .ll text, .bc bitcode or .o object\n"
    "               of the model (no main(), no toolchain), OUT without the\n"
    "               extension plus .weights its weights\n"
    "  --backend B  c (default; llvm for --emit llvm|bc|obj): llvm compiles the\n"
    "               model with LLVM; exe and lib then only link (and compile\n"
    "               the lib's API .c) with cc\n"
    "  -o OUT       default: the model's name in the current directory\n"
    "  -O0 .. -O3   the Graph IR pipeline (default -O2)\n"
    "  --logits all|last  all (default): prefill computes every position's\n"
    "               logits (OUT --logits-out works); last: only the last\n"
    "               position's (pass last-logits: a faster prompt for generation\n"
    "               and --bench; asking for every position's is then an error)\n"
    "  --disable-pass=P,...  skip these passes of the pipeline\n"
    "  --no-dedup   one kernel function per call instead of one per distinct\n"
    "               kernel (the summary reports kernels, calls and the memory\n"
    "               plan: peak activation bytes against one buffer per value)\n"
    "  --target T   the instruction set of the generated code (default native:\n"
    "               the best of x86-64-v4 (AVX-512), x86-64-v3 (AVX2 + FMA) and\n"
    "               generic (portable C) that this CPU has)\n"
    "  --random-weights[=S]  seeded random weights (default seed 0) instead of\n"
    "               the file the model's weights block names\n"
    "  --no-weights write no weights file\n"
    "  --tuning-db FILE  apply the schedules `hyc tune` recorded in FILE for\n"
    "               this machine where they beat the default beyond noise\n"
    "               (docs/tuning.md); the same FILE gives the same output\n"
    "  --tuning-threads N  the thread count whose records apply (default: the\n"
    "               CPUs online)\n\n"
    "Environment: CC (default cc) and AR (default ar), split at spaces;\n"
    "HYC_CFLAGS, extra compiler flags after the target's (-O2 -march=...);\n"
    "HYC_RUNTIME_DIR, a folder holding hycrt.h and libhycrt.a (default: beside\n"
    "hyc in its build folder, or PREFIX/include and PREFIX/lib when installed).\n\n"
    "The generated C depends only on the model and the flags (byte-identical\n"
    "for identical input).  Exit status: 0 success, 1 bad input or a failing\n"
    "compiler (its output shown, the generated C kept), 2 bad usage, 70\n"
    "internal error.\n";

typedef enum Emit { EMIT_EXE, EMIT_LIB, EMIT_C, EMIT_LLVM, EMIT_BC, EMIT_OBJ } Emit;
static const char *const EMIT_NAMES[] = {"exe", "lib", "c", "llvm", "bc", "obj"};
#define N_EMIT 6
/* the LLVM backend's own outputs: no toolchain, no main() */
static bool emit_is_llvm_only(Emit e) { return e == EMIT_LLVM || e == EMIT_BC || e == EMIT_OBJ; }

typedef Vec(const char *) Argv;

/* ==== small helpers ========================================================= */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Words of S separated by blanks (no quoting), appended to V. */
static void split_words(Argv *v, Arena *a, const char *s)
{
    while (s && *s) {
        while (*s && isspace((unsigned char)*s)) s++;
        size_t n = 0;
        while (s[n] && !isspace((unsigned char)s[n])) n++;
        if (n) vec_push(v, arena_strndup(a, s, n));
        s += n;
    }
}

/* A command line as text, for messages ('quoted' where it needs it). */
static const char *argv_text(Arena *a, const Argv *v)
{
    StrBuf sb = {0};
    for (int i = 0; i < v->len; i++) {
        const char *w = v->data[i];
        if (i) sb_putc(&sb, ' ');
        if (!*w || strpbrk(w, " \t\n'\"\\$`*?;&|<>()"))
            sb_printf(&sb, "'%s'", w);
        else
            sb_puts(&sb, w);
    }
    const char *s = arena_strdup(a, sb_cstr(&sb));
    sb_free(&sb);
    return s;
}

/* The directory of the running hyc binary, or NULL. */
static const char *exe_dir(Arena *a)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return NULL;
    buf[n] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash) return NULL;
    return arena_strndup(a, buf, (size_t)(slash - buf) + (slash == buf));
}

/* Remove DIR and what it holds (two levels: the build folders are flat,
 * with at most one subfolder). */
static void rm_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (depth > 0 && is_dir(path))
                rm_tree(path, depth - 1);
            else
                unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Copy SRC to DST atomically (DST.tmpXXXXXX beside it, then rename), with
 * MODE.  False with errno on failure; nothing is left behind. */
static bool copy_atomic(const char *src, const char *dst, mode_t mode)
{
    size_t len;
    char *data = read_file(src, &len);
    if (!data) return false;
    size_t plen = strlen(dst) + 16;
    char *tmp = xmalloc(plen);
    snprintf(tmp, plen, "%s.tmpXXXXXX", dst);
    int fd = mkstemp(tmp), e = 0;
    if (fd < 0) {
        e = errno;
    } else {
        for (size_t off = 0; off < len && !e;) {
            ssize_t w = write(fd, data + off, len - off);
            if (w < 0 && errno != EINTR) e = errno;
            if (w > 0) off += (size_t)w;
        }
        if (!e && fchmod(fd, mode) != 0) e = errno;
        if (close(fd) != 0 && !e) e = errno;
        if (!e && rename(tmp, dst) != 0) e = errno;
        if (e) unlink(tmp);
    }
    free(tmp);
    free(data);
    errno = e;
    return e == 0;
}

/* Run ARGV (PATH lookup) in DIR (NULL: here) with stdin from /dev/null and
 * stdout + stderr into LOG.  The exit status (128 + signal when killed), or
 * -1 with errno when it could not be started. */
static int run_tool(const Argv *argv, const char *dir, const char *log)
{
    Argv v = {0};
    for (int i = 0; i < argv->len; i++) vec_push(&v, argv->data[i]);
    vec_push(&v, NULL);
    int pfd[2];
    if (pipe(pfd) != 0) {
        vec_free(&v);
        return -1;
    }
    fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(pfd[0]);
        close(pfd[1]);
        vec_free(&v);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        close(pfd[0]);
        int in = open("/dev/null", O_RDONLY);
        int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 || (dir && chdir(dir) != 0)) {
            int e = errno;
            (void)!write(pfd[1], &e, sizeof e);
            _exit(127);
        }
        execvp(v.data[0], (char *const *)v.data);
        int e = errno;
        (void)!write(pfd[1], &e, sizeof e);
        _exit(127);
    }
    close(pfd[1]);
    int child_errno = 0;
    ssize_t got;
    while ((got = read(pfd[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {
    }
    close(pfd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) break;
    vec_free(&v);
    if (got == (ssize_t)sizeof child_errno) {
        errno = child_errno;
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ==== the toolchain ========================================================= */

typedef struct Toolchain {
    const char *cmd;     /* "hyc build" / "hyc run": the prefix of messages */
    Argv cc, ar;         /* CC, AR split at blanks */
    Argv extra;          /* HYC_CFLAGS */
    const char *include; /* the directory holding hycrt.h */
    const char *lib;     /* libhycrt.a, when needed */
    const char *cc_text; /* the compiler, for messages */
} Toolchain;

/* Find hycrt.h (and libhycrt.a when NEED_LIB): HYC_RUNTIME_DIR, else beside
 * hyc in its build folder (build/hyc: runtime/hycrt.h, build/libhycrt.a),
 * else the installed layout (PREFIX/bin/hyc: PREFIX/include, PREFIX/lib). */
static bool toolchain_init(Toolchain *tc, Arena *a, const char *cmd, bool need_lib, bool quiet)
{
    memset(tc, 0, sizeof *tc);
    tc->cmd = cmd;
    const char *cc = getenv("CC");
    split_words(&tc->cc, a, cc && *cc ? cc : "cc");
    const char *ar = getenv("AR");
    split_words(&tc->ar, a, ar && *ar ? ar : "ar");
    split_words(&tc->extra, a, getenv("HYC_CFLAGS"));
    if (tc->cc.len == 0) split_words(&tc->cc, a, "cc");
    if (tc->ar.len == 0) split_words(&tc->ar, a, "ar");
    tc->cc_text = argv_text(a, &tc->cc);

    const char *env = getenv("HYC_RUNTIME_DIR");
    const char *dir = exe_dir(a);
    const char *hdr[3] = {0}, *lib[3] = {0};
    int nh = 0, nl = 0;
    if (env && *env) {
        hdr[nh++] = arena_printf(a, "%s", env);
        lib[nl++] = arena_printf(a, "%s/libhycrt.a", env);
    } else if (dir) {
        hdr[nh++] = arena_printf(a, "%s/../runtime", dir);
        hdr[nh++] = arena_printf(a, "%s/../include", dir);
        lib[nl++] = arena_printf(a, "%s/libhycrt.a", dir);
        lib[nl++] = arena_printf(a, "%s/../lib/libhycrt.a", dir);
    }
    for (int i = 0; i < nh && !tc->include; i++)
        if (is_file(arena_printf(a, "%s/hycrt.h", hdr[i]))) tc->include = hdr[i];
    for (int i = 0; i < nl && need_lib && !tc->lib; i++)
        if (is_file(lib[i])) tc->lib = lib[i];
    if (!tc->include || (need_lib && !tc->lib)) {
        if (quiet) return false;
        const char *what = !tc->include ? "hycrt.h" : "libhycrt.a";
        const char **where = !tc->include ? hdr : lib;
        int n = !tc->include ? nh : nl;
        fprintf(stderr, "%s: error: cannot find the runtime's %s (looked in", cmd, what);
        for (int i = 0; i < n; i++) fprintf(stderr, "%s %s", i ? "," : "", where[i]);
        fprintf(stderr, "%s): build it with `make` (build/libhycrt.a beside build/hyc) or install hyc with "
                        "`make install`, or set HYC_RUNTIME_DIR to a folder holding hycrt.h and libhycrt.a\n",
                n ? "" : " nowhere: the location of hyc is unknown");
        return false;
    }
    /* Absolute paths: the compiler may run in another folder. */
    char buf[4096];
    if (realpath(tc->include, buf)) tc->include = arena_strdup(a, buf);
    if (tc->lib && realpath(tc->lib, buf)) tc->lib = arena_strdup(a, buf);
    return true;
}

static void toolchain_free(Toolchain *tc)
{
    vec_free(&tc->cc);
    vec_free(&tc->ar);
    vec_free(&tc->extra);
}

/* The compiler's flags for a target: -std=gnu11 -O2 [-march=M], then
 * HYC_CFLAGS.  (gnu11, not c11: ISO mode turns off the contraction of
 * a * b + c into an FMA that the generated loops rely on for speed.) */
static void target_flags(Argv *v, Arena *a, const Toolchain *tc, const CgTarget *t)
{
    vec_push(v, "-std=gnu11");
    vec_push(v, "-O2");
    if (t->march) vec_push(v, arena_printf(a, "-march=%s", t->march));
    for (int i = 0; i < tc->extra.len; i++) vec_push(v, tc->extra.data[i]);
}

/* 'word' for the shell. */
static const char *shell_word(Arena *a, const char *s)
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

const char *compile_so_command(Arena *a, const CgTarget *t, const char *cmd)
{
    Toolchain tc;
    if (!toolchain_init(&tc, a, cmd, false, false)) {
        toolchain_free(&tc);
        return NULL;
    }
    Argv v = {0};
    for (int i = 0; i < tc.cc.len; i++) vec_push(&v, tc.cc.data[i]);
    target_flags(&v, a, &tc, t);
    vec_push(&v, "-fPIC");
    vec_push(&v, "-shared");
    vec_push(&v, arena_printf(a, "-I%s", tc.include));
    StrBuf sb = {0};
    for (int i = 0; i < v.len; i++) sb_printf(&sb, "%s%s", i ? " " : "", shell_word(a, v.data[i]));
    const char *r = arena_strdup(a, sb_cstr(&sb));
    sb_free(&sb);
    vec_free(&v);
    toolchain_free(&tc);
    return r;
}

/* Run a tool; on failure print why (its output included) and return false.
 * When it ran and failed and KEEP_NOTE is given (the generated C), say that
 * it is kept and set *keep. */
static bool run_step(const Toolchain *tc, Arena *a, const Argv *argv, const char *dir, const char *log,
                     const char *what, const char *keep_note, bool *keep)
{
    int st = run_tool(argv, dir, log);
    if (st == 0) return true;
    if (st < 0) {
        fprintf(stderr, "%s: error: cannot run %s '%s': %s%s\n", tc->cmd, what, argv->data[0], strerror(errno),
                argv->data == tc->cc.data ? " (set CC to a C compiler)" : "");
    } else {
        fprintf(stderr, "%s: error: %s failed (%s %d):\n  %s\n", tc->cmd, what, st > 128 ? "signal" : "exit status",
                st > 128 ? st - 128 : st, argv_text(a, argv));
        size_t len;
        char *out = read_file(log, &len);
        if (out && len) {
            fwrite(out, 1, len > 20000 ? 20000 : len, stderr);
            if (len > 20000) fprintf(stderr, "\n... (%zu more bytes in %s)\n", len - 20000, log);
            if (out[len - 1] != '\n') fputc('\n', stderr);
        }
        free(out);
    }
    if (keep_note && st > 0) {
        fprintf(stderr, "%s: note: the generated C is kept for inspection: %s\n", tc->cmd, keep_note);
        if (keep) *keep = true;
    }
    return false;
}

/* ==== model -> program -> C ================================================== */

/* Load PATH and run the pipeline of LEVEL, then lower-composites: the module
 * the backend takes. */
static bool prepare_module(const char *path, int level, const PassOptions *base, Arena *arena, Interner *in,
                           Diag *diag, LoadedModel *lm)
{
    if (!model_load(path, arena, in, diag, lm)) return false;
    PassOptions opts = *base;
    IrModule *mod = lm->module;
    if (!pass_run_pipeline(&mod, level, &opts, diag)) return false;
    if (!interp_module_is_lowered(mod) && !interp_lower(mod, diag)) return false;
    lm->module = mod;
    return true;
}

/* The Kernel IR program of a lowered module; NULL is a bug in hyc (the
 * backend cannot take a module the frontend made). */
static CgProgram *lower_program(Arena *a, IrModule *mod, const CgTarget *t, const char *flags, bool emit_main,
                                bool no_dedup, Diag *diag)
{
    CgOptions o = {0};
    o.no_dedup = no_dedup;
    o.target = *t;
    o.flags = flags;
    o.emit_main = emit_main;
    CgProgram *p = cg_lower_module(a, mod, &o, diag);
    if (!p) HYC_DIE("the Kernel IR lowering of module '%s' failed (diagnostics above)", mod->name);
    tuning_apply(p, a, flags && strncmp(flags, "hyc build", 9) == 0 ? "hyc build" : "hyc");
    return p;
}

/* The memory plan and kernel report of a build: per function the planned
 * activation arena (liveness: values whose live ranges do not overlap share
 * bytes) against one buffer per value, and the distinct kernels (after
 * dedup, unless --no-dedup) for the calls. */
static void print_plan_report(const CgProgram *p)
{
    printf("  kernels: %d distinct for %d calls%s\n", p->n_kernels, p->n_calls_total,
           p->opts.no_dedup ? " (--no-dedup)" : "");
    for (int f = 0; f < p->n_funcs; f++) {
        const CgFunc *cf = &p->funcs[f];
        printf("  activations @%s (T = %lld): peak %llu bytes planned, %llu one buffer per value (%.1fx)\n",
               cf->fn->name, (long long)cf->plan_T, (unsigned long long)cf->scratch_bytes,
               (unsigned long long)cf->naive_bytes,
               cf->scratch_bytes ? (double)cf->naive_bytes / (double)cf->scratch_bytes : 1.0);
    }
}

static int64_t program_vocab(const CgProgram *p)
{
    const IrFunc *pf = ir_find_func(p->m, "prefill");
    HYC_ASSERT(pf && pf->has_ret_type && pf->ret_type.rank == 2);
    return pf->ret_type.dims[1];
}

bool model_bind_weights(const LoadedModel *lm, const IrModule *mod, Weights *w, Diag *diag)
{
    if (!lm->spec) {
        diag_error(diag, loc_file(lm->src), "a .ir model names no weights file: use --random-weights");
        return false;
    }
    if (lm->hf) {
        const WeightsSpec *ws = &lm->spec->weights;
        HfNaming nm;
        import_hf_naming(lm->hf, &nm);
        BindSource src = {ws->path, ws->naming, &nm, ws->renames, ws->n_renames};
        return weights_bind(w, mod, &src, diag);
    }
    return weights_bind_spec(w, mod, lm->spec, diag);
}

/* The packed weights file of program P at PATH: every param as f32, laid
 * out by hycrt_weights_layout (which must agree with the program's plan),
 * with the program's weights hash. */
static bool load_weights(const LoadedModel *lm, const IrModule *mod, bool random, uint64_t seed, Weights *w,
                         Diag *diag)
{
    memset(w, 0, sizeof *w);
    if (random) {
        weights_random(w, mod, seed);
        return true;
    }
    return model_bind_weights(lm, mod, w, diag);
}

static bool write_weights(const char *cmd, const CgProgram *p, const Weights *w, const char *path, Arena *a,
                          uint64_t *bytes_out)
{
    const IrModule *mod = p->m;
    HYC_ASSERT(w->mod == mod && w->n == mod->n_params);
    int n = mod->n_params;
    hycrt_tensor_desc *t = ARENA_NEW_N(a, hycrt_tensor_desc, n + 1);
    const void **data = ARENA_NEW_N(a, const void *, n + 1);
    for (int i = 0; i < n; i++) {
        const IrType *ty = &mod->params[i].type;
        t[i].name = mod->params[i].name;
        t[i].dtype = HYCRT_F32;
        t[i].ndim = ty->rank;
        for (int d = 0; d < ty->rank && d < HYCRT_MAX_DIMS; d++) t[i].shape[d] = ty->dims[d];
        data[i] = w->data[i];
    }
    char err[1024];
    uint64_t bytes = 0;
    if (n > 0 && hycrt_weights_layout(t, n, &bytes, err, sizeof err) != 0)
        HYC_DIE("the weights of module '%s' have no packed layout: %s", mod->name, err);
    for (int i = 0; i < n; i++)
        if (t[i].offset != p->param_offset[i])
            HYC_DIE("param %s: the runtime packs it at %llu, the program reads it at %llu", t[i].name,
                    (unsigned long long)t[i].offset, (unsigned long long)p->param_offset[i]);
    if (bytes != p->weights_bytes)
        HYC_DIE("weights: the runtime's layout takes %llu bytes, the program's %llu", (unsigned long long)bytes,
                (unsigned long long)p->weights_bytes);
    hycrt_model_desc d = {0};
    d.abi_version = HYCRT_ABI_VERSION;
    d.name = mod->name;
    d.hash = cg_weights_hash(p);
    d.n_tensors = n;
    d.tensors = t;
    d.weights_bytes = bytes;
    if (hycrt_weights_write(path, &d, data, err, sizeof err) != 0) {
        fprintf(stderr, "%s: error: %s\n", cmd, err);
        return false;
    }
    if (bytes_out) {
        struct stat st;
        *bytes_out = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    }
    return true;
}

/* ==== the library: NAME.h and its functions ================================= */

static const char *upper(Arena *a, const char *s)
{
    char *u = arena_strdup(a, s);
    for (char *c = u; *c; c++) *c = (char)toupper((unsigned char)*c);
    return u;
}

static void lib_header(StrBuf *sb, Arena *a, const CgProgram *p, const char *file, const char *id)
{
    const IrModule *m = p->m;
    const char *U = upper(a, id);
    sb_printf(sb,
              "/* %s.h — generated by hyc %s: the C API of model '%s', compiled into\n"
              " * lib%s.a (the model and the hyc runtime).  Build a program with\n"
              " *\n"
              " *     cc -I DIR prog.c DIR/lib%s.a -lm -lpthread\n"
              " *\n"
              " * and load the weights file hyc build wrote beside the library\n"
              " * (%s.weights).  docs/build.md describes the API; in short:\n"
              " *\n"
              " *   - functions returning int return 0 on success or a negative code\n"
              " *     (%s_strerror); a failed session call consumes nothing and leaves\n"
              " *     its message in %s_error(s);\n"
              " *   - a model holds the mapped weights and a thread pool; a session is one\n"
              " *     sequence (its position and state).  Sessions are independent; one\n"
              " *     session must not be used by two threads at once;\n"
              " *   - prefill and decode allocate nothing.\n"
              " */\n",
              file, HYC_VERSION, m->name, file, file, file, id, id);
    sb_printf(sb, "#ifndef %s_H_HYC\n#define %s_H_HYC\n\n#include <stddef.h>\n#include <stdint.h>\n\n", U, U);
    sb_puts(sb, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    const char *names[3] = {arena_printf(a, "%s_VOCAB", U), arena_printf(a, "%s_MAX_SEQ", U),
                            arena_printf(a, "%s_MAX_BATCH", U)};
    long long vals[3] = {(long long)program_vocab(p), (long long)m->max_seq, (long long)p->max_batch};
    const char *what[3] = {"logits per position", "positions per session",
                           "tokens per forward call (longer prefills are split)"};
    for (int i = 0; i < 3; i++)
        sb_printf(sb, "#define %-*s %-7lld /* %s */\n", (int)strlen(names[2]), names[i], vals[i], what[i]);
    sb_putc(sb, '\n');
    sb_printf(sb,
              "/* The same types as hycrt.h's hycrt_model and hycrt_session: a program\n"
              " * that includes hycrt.h can use the hycrt_* functions on them too. */\n"
              "typedef struct hycrt_model %s_model;\n"
              "typedef struct hycrt_session %s_session;\n\n",
              id, id);
    sb_printf(sb,
              "/* Map the weights file and start a pool of n_threads threads (<= 0: one per\n"
              " * CPU).  NULL on failure, with a one-line message in err (a missing file,\n"
              " * one built for another model, a corrupted one). */\n"
              "%s_model *%s_load(const char *weights_path, int n_threads, char *err, size_t errlen);\n"
              "/* Free a model (after its sessions); NULL is fine. */\n"
              "void %s_free(%s_model *model);\n\n",
              id, id, id, id);
    sb_printf(sb,
              "/* A new sequence at position 0 (its state and scratch allocated once,\n"
              " * here), or NULL when memory runs out. */\n"
              "%s_session *%s_session_new(%s_model *model);\n"
              "/* Back to position 0 with a zeroed state. */\n"
              "void %s_session_reset(%s_session *s);\n"
              "void %s_session_free(%s_session *s);\n"
              "/* Tokens consumed so far. */\n"
              "int %s_session_pos(const %s_session *s);\n\n",
              id, id, id, id, id, id, id, id, id);
    sb_printf(sb,
              "/* Consume tokens[0 .. n) (ids in [0, %s_VOCAB); the session's position\n"
              " * plus n at most %s_MAX_SEQ).  logits: NULL, or [%s_VOCAB] floats that\n"
              " * receive the logits of the last token. */\n"
              "int %s_prefill(%s_session *s, const int32_t *tokens, int n, float *logits);\n"
              "/* The same, with the logits of every token: logits is [n][%s_VOCAB]. */\n"
              "int %s_prefill_all(%s_session *s, const int32_t *tokens, int n, float *logits);\n"
              "/* One token; logits: NULL or [%s_VOCAB]. */\n"
              "int %s_decode(%s_session *s, int32_t token, float *logits);\n\n",
              U, U, U, id, id, U, id, id, U, id, id);
    sb_printf(sb,
              "/* The id of the largest of logits[%s_VOCAB] (the lowest on ties): greedy\n"
              " * decoding. */\n"
              "int %s_argmax(const float *logits);\n"
              "/* The message of the session's last failed call (\"\" if none). */\n"
              "const char *%s_error(const %s_session *s);\n"
              "/* A short description of a negative return code. */\n"
              "const char *%s_strerror(int code);\n"
              "/* The model's descriptor, for the hycrt_* API (hycrt.h). */\n"
              "const struct hycrt_model_desc *%s_descriptor(void);\n\n",
              U, id, id, id, id, id);
    sb_printf(sb, "#ifdef __cplusplus\n}\n#endif\n#endif /* %s_H_HYC */\n", U);
}

/* The functions of NAME.h: their own translation unit (the model's has
 * static MODEL_prefill, ... that NAME_prefill would meet when NAME is the
 * model's name). */
static void lib_functions(StrBuf *sb, const CgProgram *p, const char *file, const char *id, const char *model)
{
    sb_printf(sb,
              "/* %s_api.c — generated by hyc %s: the functions of %s.h, over libhycrt and the\n"
              " * descriptor of model '%s'. */\n"
              "#include <stdio.h>\n\n#include \"hycrt.h\"\n#include \"%s.h\"\n\n"
              "extern const hycrt_model_desc %s_desc;\n\n",
              file, HYC_VERSION, file, p->m->name, file, model);
    sb_printf(sb,
              "%s_model *%s_load(const char *weights_path, int n_threads, char *err, size_t errlen)\n{\n"
              "    if (!weights_path) {\n"
              "        if (err && errlen) snprintf(err, errlen, \"%s_load: no weights path (hyc build wrote %s.weights beside lib%s.a)\");\n"
              "        return NULL;\n"
              "    }\n"
              "    return hycrt_model_open(&%s_desc, weights_path, n_threads, 0, err, errlen);\n}\n\n",
              id, id, id, file, file, model);
    sb_printf(sb, "void %s_free(%s_model *model) { hycrt_model_close(model); }\n", id, id);
    sb_printf(sb, "%s_session *%s_session_new(%s_model *model) { return model ? hycrt_session_new(model) : NULL; }\n",
              id, id, id);
    sb_printf(sb, "void %s_session_reset(%s_session *s) { if (s) hycrt_session_reset(s); }\n", id, id);
    sb_printf(sb, "void %s_session_free(%s_session *s) { hycrt_session_free(s); }\n", id, id);
    sb_printf(sb, "int %s_session_pos(const %s_session *s) { return hycrt_session_pos(s); }\n", id, id);
    sb_printf(sb,
              "int %s_prefill(%s_session *s, const int32_t *tokens, int n, float *logits) { return hycrt_prefill(s, "
              "tokens, n, logits); }\n",
              id, id);
    sb_printf(sb,
              "int %s_prefill_all(%s_session *s, const int32_t *tokens, int n, float *logits) { return "
              "hycrt_prefill_all(s, tokens, n, logits); }\n",
              id, id);
    sb_printf(sb, "int %s_decode(%s_session *s, int32_t token, float *logits) { return hycrt_decode(s, token, logits); }\n",
              id, id);
    sb_printf(sb, "int %s_argmax(const float *logits) { return hycrt_argmax(logits, %lld); }\n", id,
              (long long)program_vocab(p));
    sb_printf(sb, "const char *%s_error(const %s_session *s) { return hycrt_session_error(s); }\n", id, id);
    sb_printf(sb, "const char *%s_strerror(int code) { return hycrt_strerror(code); }\n", id);
    sb_printf(sb, "const struct hycrt_model_desc *%s_descriptor(void) { return &%s_desc; }\n", id, model);
}

/* ==== hyc build ============================================================== */

typedef struct BuildArgs {
    const char *model, *out;
    Emit emit;
    bool llvm; /* --backend llvm */
    int level;
    const char *target;
    bool random, no_weights;
    uint64_t seed;
    bool logits_last;         /* --logits last */
    const char *disable_pass; /* --disable-pass */
    bool no_dedup;            /* --no-dedup: one kernel per call */
    const char *tuning_db; /* --tuning-db FILE */
    int64_t tuning_threads; /* --tuning-threads N (0: the CPUs online) */
} BuildArgs;

static int parse_build_args(const Command *self, int argc, char **argv, BuildArgs *b)
{
    memset(b, 0, sizeof *b);
    b->level = 2;
    b->target = "native";
    bool no_more = false;
    const char *backend = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool missing = false;
        if (no_more || a[0] != '-' || !a[1]) {
            if (b->model) {
                cli_usage_error(self, "one model at a time ('%s' and '%s')", b->model, a);
                return HYC_EXIT_USAGE;
            }
            b->model = a;
        } else if (strcmp(a, "--") == 0) {
            no_more = true;
        } else if (strlen(a) == 3 && a[1] == 'O' && a[2] >= '0' && a[2] <= '3') {
            b->level = a[2] - '0';
        } else if (strcmp(a, "-o") == 0 || strncmp(a, "-o", 2) == 0) {
            v = a[2] ? a + 2 : i + 1 < argc ? argv[++i] : NULL;
            if (!v || !*v) {
                cli_usage_error(self, "-o needs a file name");
                return HYC_EXIT_USAGE;
            }
            if (b->out) {
                cli_usage_error(self, "-o given twice");
                return HYC_EXIT_USAGE;
            }
            b->out = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--emit", &missing))) {
            int k = -1;
            for (int e = 0; e < N_EMIT; e++)
                if (strcmp(v, EMIT_NAMES[e]) == 0) k = e;
            if (k < 0) {
                cli_usage_error(self, "--emit is exe, lib, c, llvm, bc or obj, not '%s'", v);
                return HYC_EXIT_USAGE;
            }
            b->emit = (Emit)k;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--backend", &missing))) {
            if (strcmp(v, "c") != 0 && strcmp(v, "llvm") != 0) {
                cli_usage_error(self, "--backend is c or llvm, not '%s'", v);
                return HYC_EXIT_USAGE;
            }
            backend = v;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--target", &missing))) {
            CgTarget t;
            if (!cg_target_lookup(v, &t)) {
                cli_usage_error(self, "--target is native, x86-64-v3, x86-64-v4 or generic, not '%s'", v);
                return HYC_EXIT_USAGE;
            }
            b->target = v;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--logits", &missing))) {
            if (strcmp(v, "all") != 0 && strcmp(v, "last") != 0) {
                cli_usage_error(self, "--logits is all or last, not '%s'", v);
                return HYC_EXIT_USAGE;
            }
            b->logits_last = strcmp(v, "last") == 0;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--disable-pass", &missing))) {
            if (!cli_check_passes(self, "--disable-pass", v)) return HYC_EXIT_USAGE;
            b->disable_pass = v;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--tuning-db", &missing))) {
            b->tuning_db = v;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--tuning-threads", &missing))) {
            if (!parse_i64(v, &b->tuning_threads) || b->tuning_threads < 1 || b->tuning_threads > 4096) {
                cli_usage_error(self, "--tuning-threads needs a whole number in [1, 4096], not '%s'", v);
                return HYC_EXIT_USAGE;
            }
        } else if (missing) {
            cli_usage_error(self, "%s needs a value", a);
            return HYC_EXIT_USAGE;
        } else if (strcmp(a, "--random-weights") == 0) {
            b->random = true;
        } else if (strncmp(a, "--random-weights=", 17) == 0) {
            int64_t seed;
            if (!parse_i64(a + 17, &seed) || seed < 0) {
                cli_usage_error(self, "--random-weights=SEED needs a whole number >= 0, not '%s'", a + 17);
                return HYC_EXIT_USAGE;
            }
            b->random = true;
            b->seed = (uint64_t)seed;
        } else if (strcmp(a, "--no-weights") == 0) {
            b->no_weights = true;
        } else if (strcmp(a, "--no-dedup") == 0) {
            b->no_dedup = true;
        } else {
            static const char *const known[] = {"--emit",         "--backend",    "--target",        "--random-weights",
                                                "--no-weights",   "-o",           "--logits",        "--disable-pass",
                                                "--no-dedup",     "--tuning-db",  "--tuning-threads"};
            const char *s = suggest_word(a, known, (int)(sizeof known / sizeof *known));
            if (s)
                cli_usage_error(self, "unknown option '%s'; did you mean '%s'?", a, s);
            else
                cli_usage_error(self, "unknown option '%s'", a);
            return HYC_EXIT_USAGE;
        }
    }
    if (!b->model) {
        cli_usage_error(self, "missing MODEL");
        return HYC_EXIT_USAGE;
    }
    /* --emit llvm|bc|obj are the LLVM backend's (and imply it); --emit c is
     * the C backend's. */
    b->llvm = backend ? strcmp(backend, "llvm") == 0 : emit_is_llvm_only(b->emit);
    if (emit_is_llvm_only(b->emit) && !b->llvm) {
        cli_usage_error(self, "--emit %s needs --backend llvm", EMIT_NAMES[b->emit]);
        return HYC_EXIT_USAGE;
    }
    if (b->emit == EMIT_C && b->llvm) {
        cli_usage_error(self, "--emit c is the C backend's: use --emit llvm for LLVM IR");
        return HYC_EXIT_USAGE;
    }
    if (b->random && b->no_weights) {
        cli_usage_error(self, "--random-weights and --no-weights exclude each other");
        return HYC_EXIT_USAGE;
    }
    return HYC_EXIT_OK;
}

/* The canonical flags (not the output path): the generated file's header,
 * so that identical input and flags give identical bytes. */
static const char *flags_text(Arena *a, const BuildArgs *b, const CgTarget *t)
{
    return arena_printf(a, "hyc build%s --emit %s -O%d --target %s%s%s%s", b->llvm ? " --backend llvm" : "",
                        EMIT_NAMES[b->emit], b->level, t->name,
                        b->random ? arena_printf(a, " --random-weights=%llu", (unsigned long long)b->seed) : "",
                        b->logits_last ? arena_printf(a, " --logits last%s", b->no_dedup ? " --no-dedup" : "")
                                       : b->no_dedup ? " --no-dedup" : "",
                        b->disable_pass ? arena_printf(a, " --disable-pass=%s", b->disable_pass) : "");
}

/* Output paths of a build. */
typedef struct Outputs {
    const char *main;    /* the exe, the .c, or libNAME.a */
    const char *header;  /* lib: NAME.h */
    const char *weights; /* NULL with --no-weights */
    const char *file;    /* lib: NAME as in the file names */
    const char *id;      /* lib: NAME as a C identifier (the functions' prefix) */
} Outputs;

static bool output_paths(const Command *self, Arena *a, const BuildArgs *b, const char *model_id, Outputs *o)
{
    memset(o, 0, sizeof *o);
    const char *out = b->out;
    switch (b->emit) {
    case EMIT_EXE:
        o->main = out ? out : model_id;
        o->weights = arena_printf(a, "%s.weights", o->main);
        break;
    case EMIT_C:
    case EMIT_LLVM:
    case EMIT_BC:
    case EMIT_OBJ: {
        const char *ext = b->emit == EMIT_C ? ".c" : b->emit == EMIT_LLVM ? ".ll" : b->emit == EMIT_BC ? ".bc" : ".o";
        o->main = out ? out : arena_printf(a, "%s%s", model_id, ext);
        size_t n = strlen(o->main), ne = strlen(ext);
        o->weights = ends_with(o->main, ext) ? arena_printf(a, "%.*s.weights", (int)(n - ne), o->main)
                                             : arena_printf(a, "%s.weights", o->main);
        break;
    }
    case EMIT_LIB: {
        const char *path = out ? out : model_id;
        const char *slash = strrchr(path, '/');
        const char *dir = slash ? arena_strndup(a, path, (size_t)(slash - path) + (slash == path)) : ".";
        const char *base = slash ? slash + 1 : path;
        size_t n = strlen(base);
        if (strncmp(base, "lib", 3) == 0 && ends_with(base, ".a") && n > 5)
            base = arena_strndup(a, base + 3, n - 5);
        else if (ends_with(base, ".a") || ends_with(base, ".h")) {
            cli_usage_error(self, "--emit lib: -o is DIR/NAME or DIR/libNAME.a, not '%s'", path);
            return false;
        }
        if (!*base) {
            cli_usage_error(self, "--emit lib: -o needs a library name (DIR/NAME or DIR/libNAME.a)");
            return false;
        }
        const char *sep = strcmp(dir, "/") == 0 ? "" : "/";
        o->file = base;
        o->id = cg_c_ident(a, base);
        o->main = arena_printf(a, "%s%slib%s.a", dir, sep, base);
        o->header = arena_printf(a, "%s%s%s.h", dir, sep, base);
        o->weights = arena_printf(a, "%s%s%s.weights", dir, sep, base);
        break;
    }
    }
    if (b->no_weights) o->weights = NULL;
    if (is_dir(o->main)) {
        cli_usage_error(self, "-o %s is a directory (give a file name)", o->main);
        return false;
    }
    return true;
}

/* The folder of every output must exist (checked before any work). */
static bool output_dirs_exist(Arena *a, const Outputs *o)
{
    const char *paths[3] = {o->main, o->header, o->weights};
    for (int i = 0; i < 3; i++) {
        if (!paths[i]) continue;
        const char *slash = strrchr(paths[i], '/');
        const char *dir = slash ? arena_strndup(a, paths[i], (size_t)(slash - paths[i]) + (slash == paths[i])) : ".";
        if (!is_dir(dir)) {
            fprintf(stderr, "hyc build: error: cannot write %s: the folder %s does not exist\n", paths[i], dir);
            return false;
        }
    }
    return true;
}

/* A temporary build folder under TMPDIR. */
static const char *make_workdir(Arena *a, const char *cmd)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = arena_printf(a, "%s/hyc-build-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "%s: error: cannot create a temporary folder %s: %s\n", cmd, dir, strerror(errno));
        return NULL;
    }
    return dir;
}

static bool write_text(const char *cmd, const char *path, StrBuf *sb)
{
    if (write_file_atomic(path, sb_cstr(sb), sb->len)) return true;
    fprintf(stderr, "%s: error: cannot write %s: %s\n", cmd, path, strerror(errno));
    return false;
}

static bool publish(const char *cmd, const char *src, const char *dst, mode_t mode)
{
    if (copy_atomic(src, dst, mode)) return true;
    fprintf(stderr, "%s: error: cannot write %s: %s\n", cmd, dst, strerror(errno));
    return false;
}

int cmd_build(int argc, char **argv)
{
    const Command *self = cli_find_command("build");
    if (cli_wants_help(argc, argv)) {
        fputs(BUILD_HELP, stdout);
        return HYC_EXIT_OK;
    }
    BuildArgs b;
    int rc = parse_build_args(self, argc, argv, &b);
    if (rc != HYC_EXIT_OK) return rc;

    Arena arena;
    Interner in;
    Diag diag;
    arena_init(&arena);
    intern_init(&in, &arena);
    diag_init(&diag, stderr);
    Arena *a = &arena;
    const char *cmd = "hyc build";
    const char *work = NULL;
    bool keep_work = false;
    StrBuf c = {0}, h = {0};
    Weights w = {0};
    rc = HYC_EXIT_USER;
    double t0 = now_s();

    CgTarget target;
    HYC_ASSERT(cg_target_lookup(b.target, &target));
    Toolchain tc = {0};
    LoadedModel lm;
    if (b.tuning_db && !tuning_prepare(b.tuning_db, (int)b.tuning_threads, &diag)) goto done;
    if (b.emit != EMIT_C && !emit_is_llvm_only(b.emit) && !toolchain_init(&tc, a, cmd, true, false)) goto done;
    PassOptions po = {0};
    po.logits_last = b.logits_last;
    po.disable_pass = b.disable_pass;
    if (!prepare_module(b.model, b.level, &po, a, &in, &diag, &lm)) goto done;
    IrModule *mod = lm.module;
    const char *model_id = cg_c_ident(a, mod->name);
    Outputs o;
    if (!output_paths(self, a, &b, model_id, &o)) {
        rc = HYC_EXIT_USAGE;
        goto done;
    }
    if (!output_dirs_exist(a, &o)) goto done;
    if (!b.random && !b.no_weights && !lm.spec) {
        fprintf(stderr, "%s: error: %s: a .ir model names no weights file: use --random-weights or --no-weights\n", cmd,
                b.model);
        goto done;
    }
    CgProgram *p =
        lower_program(a, mod, &target, flags_text(a, &b, &target), b.emit == EMIT_EXE || b.emit == EMIT_C, b.no_dedup,
                      &diag);
    if (!b.llvm) cg_emit_c(&c, p);
    /* the LLVM backend: the program's target (native resolved), -O as the pipeline's */
    CgLlvmOptions lo = {.opt_level = b.level, .target = NULL};
    /* The weights in memory before anything is compiled or written: a model
     * whose weights do not bind writes nothing. */
    if (o.weights && !load_weights(&lm, mod, b.random, b.seed, &w, &diag)) goto done;

    if (b.emit == EMIT_C) {
        uint64_t wbytes = 0;
        if (o.weights && !write_weights(cmd, p, &w, o.weights, a, &wbytes)) goto done;
        if (!write_text(cmd, o.main, &c)) goto done;
        Toolchain t2 = {0};
        bool have_rt = toolchain_init(&t2, a, cmd, true, true);
        printf("%s: %s -> %s (C, target %s, %d kernels)\n", cmd, mod->name, o.main, target.name, p->n_kernels);
        print_plan_report(p);
        if (o.weights) printf("  weights: %s (%llu bytes)\n", o.weights, (unsigned long long)wbytes);
        if (have_rt) {
            Argv cl = {0};
            for (int i = 0; i < t2.cc.len; i++) vec_push(&cl, t2.cc.data[i]);
            target_flags(&cl, a, &t2, &target);
            vec_push(&cl, arena_printf(a, "-I%s", t2.include));
            const char *exe = ends_with(o.main, ".c") ? arena_strndup(a, o.main, strlen(o.main) - 2)
                                                      : arena_printf(a, "%s.exe", o.main);
            vec_push(&cl, o.main);
            vec_push(&cl, t2.lib);
            vec_push(&cl, "-lm");
            vec_push(&cl, "-lpthread");
            vec_push(&cl, "-o");
            vec_push(&cl, exe);
            printf("  compile: %s\n", argv_text(a, &cl));
            vec_free(&cl);
        }
        toolchain_free(&t2);
        rc = fflush(stdout) == 0 ? HYC_EXIT_OK : HYC_EXIT_USER;
        goto done;
    }

    if (emit_is_llvm_only(b.emit)) {
        /* .ll, .bc or .o: LLVM alone, in a temporary folder, then publish. */
        if (!(work = make_workdir(a, cmd))) goto done;
        CgLlvmOutput kind = CG_LLVM_OBJ;
        HYC_ASSERT(cg_llvm_output_lookup(EMIT_NAMES[b.emit], &kind));
        const char *tmp_out = arena_printf(a, "%s/out", work);
        double tl0 = now_s();
        if (!cg_emit_llvm(p, &lo, kind, tmp_out, &diag)) {
            fprintf(stderr, "%s: error: the LLVM backend failed on %s\n", cmd, b.model);
            goto done;
        }
        double tl = now_s() - tl0;
        uint64_t wbytes = 0;
        if (o.weights && !write_weights(cmd, p, &w, o.weights, a, &wbytes)) goto done;
        if (!publish(cmd, tmp_out, o.main, 0644)) goto done;
        printf("%s: %s -> %s (LLVM %s, target %s, %d kernels; LLVM %.2f s)\n", cmd, mod->name, o.main,
               b.emit == EMIT_LLVM ? "IR" : b.emit == EMIT_BC ? "bitcode" : "object", target.name, p->n_kernels, tl);
        print_plan_report(p);
        if (o.weights)
            printf("  weights: %s (%llu bytes, %s)\n", o.weights, (unsigned long long)wbytes,
                   b.random ? arena_printf(a, "random, seed %llu", (unsigned long long)b.seed) : "bound");
        rc = fflush(stdout) == 0 ? HYC_EXIT_OK : HYC_EXIT_USER;
        goto done;
    }

    /* exe and lib: compile in a temporary folder, then publish. */
    if (!(work = make_workdir(a, cmd))) goto done;
    const char *src = arena_printf(a, "%s/%s.c", work, model_id);
    const char *log = arena_printf(a, "%s/cc.log", work);
    Argv cl = {0};
    for (int i = 0; i < tc.cc.len; i++) vec_push(&cl, tc.cc.data[i]);
    target_flags(&cl, a, &tc, &target);
    vec_push(&cl, arena_printf(a, "-I%s", tc.include));
    double tc0 = now_s();
    if (b.emit == EMIT_EXE) {
        const char *exe = arena_printf(a, "%s/%s", work, model_id);
        if (b.llvm) {
            /* LLVM makes the object; cc only links it with the runtime. */
            const char *mobj = arena_printf(a, "%s/%s.o", work, model_id);
            if (!cg_emit_llvm(p, &lo, CG_LLVM_OBJ, mobj, &diag)) {
                fprintf(stderr, "%s: error: the LLVM backend failed on %s\n", cmd, b.model);
                goto done_cl;
            }
            cl.len = 0;
            for (int i = 0; i < tc.cc.len; i++) vec_push(&cl, tc.cc.data[i]);
            for (int i = 0; i < tc.extra.len; i++) vec_push(&cl, tc.extra.data[i]);
            vec_push(&cl, "-o");
            vec_push(&cl, exe);
            vec_push(&cl, mobj);
            vec_push(&cl, tc.lib);
            vec_push(&cl, "-lm");
            vec_push(&cl, "-lpthread");
            if (!run_step(&tc, a, &cl, NULL, log, "the linker", NULL, NULL)) goto done_cl;
        } else {
            if (!write_text(cmd, src, &c)) goto done_cl;
            vec_push(&cl, "-o");
            vec_push(&cl, exe);
            vec_push(&cl, src);
            vec_push(&cl, tc.lib);
            vec_push(&cl, "-lm");
            vec_push(&cl, "-lpthread");
            if (!run_step(&tc, a, &cl, NULL, log, "the C compiler", src, &keep_work)) goto done_cl;
        }
        double tcc = now_s() - tc0;
        uint64_t wbytes = 0;
        if (o.weights && !write_weights(cmd, p, &w, o.weights, a, &wbytes)) goto done_cl;
        if (!publish(cmd, exe, o.main, 0755)) goto done_cl;
        printf("%s: %s -> %s (executable, target %s, %d kernels; %s in %.2f s)\n", cmd, mod->name, o.main,
               target.name, p->n_kernels, b.llvm ? "LLVM compiled" : "C compiled", tcc);
        print_plan_report(p);
        if (o.weights)
            printf("  weights: %s (%llu bytes, %s)\n", o.weights, (unsigned long long)wbytes,
                   b.random ? arena_printf(a, "random, seed %llu", (unsigned long long)b.seed) : "bound");
    } else {
        /* lib: the model and NAME_api.c (the functions of NAME.h), one
         * object each, then an archive holding them and the runtime's
         * objects. */
        StrBuf api = {0};
        lib_functions(&api, p, o.file, o.id, model_id);
        lib_header(&h, a, p, o.file, o.id);
        const char *api_src = arena_printf(a, "%s/%s_api.c", work, o.file);
        const char *hdr = arena_printf(a, "%s/%s.h", work, o.file);
        const char *obj = arena_printf(a, "%s/hyc_model_%s.o", work, model_id);
        const char *api_obj = arena_printf(a, "%s/hyc_api_%s.o", work, o.id);
        const char *lib = arena_printf(a, "%s/lib%s.a", work, o.file);
        const char *rtdir = arena_printf(a, "%s/rt", work);
        bool wrote = (b.llvm || write_text(cmd, src, &c)) && write_text(cmd, api_src, &api) && write_text(cmd, hdr, &h);
        sb_free(&api);
        if (!wrote) goto done_cl;
        vec_push(&cl, "-fPIC");
        vec_push(&cl, arena_printf(a, "-I%s", work));
        vec_push(&cl, "-c");
        vec_push(&cl, "-o");
        int at = cl.len;
        vec_push(&cl, obj);
        vec_push(&cl, src);
        if (b.llvm) {
            /* the model's object from LLVM; NAME_api.c still through cc */
            if (!cg_emit_llvm(p, &lo, CG_LLVM_OBJ, obj, &diag)) {
                fprintf(stderr, "%s: error: the LLVM backend failed on %s\n", cmd, b.model);
                goto done_cl;
            }
        } else if (!run_step(&tc, a, &cl, NULL, log, "the C compiler", src, &keep_work)) {
            goto done_cl;
        }
        cl.data[at] = api_obj;
        cl.data[at + 1] = api_src;
        if (!run_step(&tc, a, &cl, NULL, log, "the C compiler", api_src, &keep_work)) goto done_cl;
        double tcc = now_s() - tc0;
        if (mkdir(rtdir, 0755) != 0) {
            fprintf(stderr, "%s: error: cannot create %s: %s\n", cmd, rtdir, strerror(errno));
            goto done_cl;
        }
        Argv ax = {0};
        for (int i = 0; i < tc.ar.len; i++) vec_push(&ax, tc.ar.data[i]);
        vec_push(&ax, "x");
        vec_push(&ax, tc.lib);
        bool ok = run_step(&tc, a, &ax, rtdir, log, "the archiver", NULL, NULL);
        vec_free(&ax);
        if (!ok) goto done_cl;
        Argv ac = {0};
        for (int i = 0; i < tc.ar.len; i++) vec_push(&ac, tc.ar.data[i]);
        vec_push(&ac, "rcs");
        vec_push(&ac, lib);
        vec_push(&ac, obj);
        vec_push(&ac, api_obj);
        DIR *d = opendir(rtdir);
        Vec(const char *) members = {0};
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (ends_with(e->d_name, ".o")) vec_push(&members, arena_printf(a, "%s/%s", rtdir, e->d_name));
        if (d) closedir(d);
        for (int i = 1; i < members.len; i++) /* sorted: a deterministic archive */
            for (int j = i; j > 0 && strcmp(members.data[j - 1], members.data[j]) > 0; j--) {
                const char *t = members.data[j];
                members.data[j] = members.data[j - 1];
                members.data[j - 1] = t;
            }
        for (int i = 0; i < members.len; i++) vec_push(&ac, members.data[i]);
        vec_free(&members);
        ok = run_step(&tc, a, &ac, NULL, log, "the archiver", NULL, NULL);
        vec_free(&ac);
        if (!ok) goto done_cl;
        uint64_t wbytes = 0;
        if (o.weights && !write_weights(cmd, p, &w, o.weights, a, &wbytes)) goto done_cl;
        if (!publish(cmd, hdr, o.header, 0644) || !publish(cmd, lib, o.main, 0644)) goto done_cl;
        printf("%s: %s -> %s + %s (static library, target %s, %d kernels; %s in %.2f s)\n", cmd, mod->name,
               o.main, o.header, target.name, p->n_kernels, b.llvm ? "LLVM + C compiled" : "C compiled", tcc);
        print_plan_report(p);
        if (o.weights)
            printf("  weights: %s (%llu bytes, %s)\n", o.weights, (unsigned long long)wbytes,
                   b.random ? arena_printf(a, "random, seed %llu", (unsigned long long)b.seed) : "bound");
        printf("  use: cc -I%s prog.c %s -lm -lpthread   (API: %s.h, %s_load ...)\n",
               strrchr(o.header, '/') ? arena_strndup(a, o.header, (size_t)(strrchr(o.header, '/') - o.header)) : ".",
               o.main, o.file, o.id);
    }
    printf("  total %.2f s\n", now_s() - t0);
    rc = fflush(stdout) == 0 ? HYC_EXIT_OK : HYC_EXIT_USER;
done_cl:
    vec_free(&cl);
done:
    if (work && !keep_work) rm_tree(work, 1);
    if (w.data) weights_free(&w);
    toolchain_free(&tc);
    sb_free(&c);
    sb_free(&h);
    intern_free(&in);
    arena_free(&arena);
    return rc;
}

/* ==== hyc run --backend c: the cache ======================================== */

/* $HYC_CACHE_DIR, $XDG_CACHE_HOME/hyc or ~/.cache/hyc, created. */
static const char *cache_root(Arena *a, const char *cmd)
{
    const char *env = getenv("HYC_CACHE_DIR");
    const char *root = NULL;
    if (env && *env)
        root = env;
    else if ((env = getenv("XDG_CACHE_HOME")) && env[0] == '/')
        root = arena_printf(a, "%s/hyc", env);
    else if ((env = getenv("HOME")) && *env)
        root = arena_printf(a, "%s/.cache/hyc", env);
    if (!root) {
        fprintf(stderr, "%s: error: no cache folder: set HYC_CACHE_DIR (or HOME)\n", cmd);
        return NULL;
    }
    /* mkdir -p */
    char *p = arena_strdup(a, root);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || !*s) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                fprintf(stderr, "%s: error: cannot create the cache folder %s: %s\n", cmd, p, strerror(errno));
                return NULL;
            }
            *s = c;
            if (!c) break;
        }
    }
    if (!is_dir(root)) {
        fprintf(stderr, "%s: error: the cache folder %s is not a folder\n", cmd, root);
        return NULL;
    }
    return root;
}

static void key_stat(StrBuf *sb, const char *what, const char *path)
{
    struct stat st;
    char real[4096];
    if (!realpath(path, real)) snprintf(real, sizeof real, "%s", path);
    if (stat(path, &st) != 0) {
        sb_printf(sb, "%s %s missing\n", what, real);
        return;
    }
    sb_printf(sb, "%s %s size %lld mtime %lld.%09ld\n", what, real, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
              (long)st.st_mtim.tv_nsec);
}

static int cmp_cstr(const void *x, const void *y) { return strcmp(*(const char *const *)x, *(const char *const *)y); }

/* The identity of the weights a model binds: path, size and mtime of the
 * file, or of every .safetensors / .json file of a folder. */
static void key_weights(StrBuf *sb, Arena *a, const LoadedModel *lm)
{
    const char *path = lm->spec && lm->spec->weights.present ? lm->spec->weights.path : NULL;
    if (!path) {
        sb_puts(sb, "weights none\n");
        return;
    }
    if (!is_dir(path)) {
        key_stat(sb, "weights", path);
        return;
    }
    Vec(const char *) names = {0};
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (ends_with(e->d_name, ".safetensors") || ends_with(e->d_name, ".json"))
            vec_push(&names, arena_strdup(a, e->d_name));
    if (d) closedir(d);
    if (names.len) qsort(names.data, (size_t)names.len, sizeof *names.data, cmp_cstr);
    for (int i = 0; i < names.len; i++) key_stat(sb, "weights", arena_printf(a, "%s/%s", path, names.data[i]));
    vec_free(&names);
}

/* Keep the cache to HYC_CACHE_MAX entries (default 64): the least recently
 * used go first (an entry's mtime is touched on every use). */
static void cache_prune(Arena *a, const char *root)
{
    const char *env = getenv("HYC_CACHE_MAX");
    int64_t max = 64;
    if (env && *env && (!parse_i64(env, &max) || max < 1)) max = 64;
    typedef struct Ent {
        const char *path;
        struct timespec t;
    } Ent;
    Vec(Ent) ents = {0};
    DIR *d = opendir(root);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strlen(e->d_name) != 16 || strspn(e->d_name, "0123456789abcdef") != 16) continue;
        const char *p = arena_printf(a, "%s/%s", root, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) vec_push(&ents, ((Ent){p, st.st_mtim}));
    }
    if (d) closedir(d);
    while (ents.len > max) {
        int old = 0;
        for (int i = 1; i < ents.len; i++)
            if (ents.data[i].t.tv_sec < ents.data[old].t.tv_sec ||
                (ents.data[i].t.tv_sec == ents.data[old].t.tv_sec && ents.data[i].t.tv_nsec < ents.data[old].t.tv_nsec))
                old = i;
        rm_tree(ents.data[old].path, 1);
        ents.data[old] = ents.data[--ents.len];
    }
    vec_free(&ents);
}

/* libLLVM's version (hyc links it; its headers are for emit_llvm.c only). */
void LLVMGetVersion(unsigned *major, unsigned *minor, unsigned *patch);

int compiled_load(const LoadedModel *lm, const char *model_path, int level, bool llvm, bool random, uint64_t seed,
                  Arena *a, Diag *diag, CompiledModel *out)
{
    const char *cmd = "hyc run";
    memset(out, 0, sizeof *out);
    double t0 = now_s();
    CgTarget target;
    HYC_ASSERT(cg_target_lookup("native", &target));
    out->target = target.name;
    Toolchain tc = {0};
    if (!toolchain_init(&tc, a, cmd, false, false)) {
        toolchain_free(&tc);
        return HYC_EXIT_USER;
    }
    const char *root = cache_root(a, cmd);
    if (!root) {
        toolchain_free(&tc);
        return HYC_EXIT_USER;
    }
    IrModule *mod = lm->module;
    const char *flags =
        arena_printf(a, "hyc run --backend %s -O%d --target %s", llvm ? "llvm" : "c", level, target.name);
    CgProgram *p = lower_program(a, mod, &target, flags, false, false, diag);
    StrBuf c = {0};
    cg_emit_c(&c, p);

    /* The key: everything the entry is made from. */
    StrBuf key = {0};
    struct stat st;
    sb_printf(&key, "hyc %s\n", HYC_VERSION);
    if (stat("/proc/self/exe", &st) == 0)
        sb_printf(&key, "hyc binary size %lld mtime %lld.%09ld\n", (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                  (long)st.st_mtim.tv_nsec);
    key_stat(&key, "model", model_path);
    sb_printf(&key, "model text %016llx\n", (unsigned long long)hycrt_hash64(lm->src->text, lm->src->len));
    if (random)
        sb_printf(&key, "weights random seed %llu\n", (unsigned long long)seed);
    else
        key_weights(&key, a, lm);
    sb_printf(&key, "flags -O%d target %s\n", level, target.name);
    if (getenv("HYC_DISABLE_PASS")) sb_printf(&key, "disabled passes %s\n", getenv("HYC_DISABLE_PASS"));
    if (llvm) {
        unsigned maj = 0, min = 0, pat = 0;
        LLVMGetVersion(&maj, &min, &pat);
        sb_printf(&key, "backend llvm %u.%u.%u\n", maj, min, pat);
    } else {
        sb_puts(&key, "backend c\n");
    }
    sb_printf(&key, "cc %s\ncflags %s\n", tc.cc_text, argv_text(a, &tc.extra));
    const char *hdr = arena_printf(a, "%s/hycrt.h", tc.include);
    size_t hlen;
    char *htext = read_file(hdr, &hlen);
    sb_printf(&key, "hycrt.h %016llx\n", htext ? (unsigned long long)hycrt_hash64(htext, hlen) : 0ull);
    free(htext);
    sb_printf(&key, "C %016llx\n", (unsigned long long)hycrt_hash64(c.data ? c.data : "", c.len));
    const char *hex = arena_printf(a, "%016llx", (unsigned long long)hycrt_hash64(key.data, key.len));
    const char *entry = arena_printf(a, "%s/%s", root, hex);
    const char *model_id = cg_c_ident(a, mod->name);
    const char *so = arena_printf(a, "%s/model.so", entry);
    const char *wpath = arena_printf(a, "%s/model.weights", entry);
    int rc = HYC_EXIT_USER;
    Weights w = {0};

    if (is_file(so) && is_file(wpath)) {
        out->cache_hit = true;
        utimes(entry, NULL); /* recently used */
    } else {
        char *tmp = arena_printf(a, "%s/tmp-%s-XXXXXX", root, hex);
        if (!mkdtemp(tmp)) {
            fprintf(stderr, "%s: error: cannot create a folder in the cache %s: %s\n", cmd, root, strerror(errno));
            goto done;
        }
        const char *src = arena_printf(a, "%s/model.c", tmp);
        if (!load_weights(lm, mod, random, seed, &w, diag)) {
            rm_tree(tmp, 1);
            goto done;
        }
        bool ok = write_text(cmd, src, &c) && write_text(cmd, arena_printf(a, "%s/key.txt", tmp), &key);
        if (ok && llvm) {
            /* The model compiled by LLVM to an object, linked by cc. */
            const char *obj = arena_printf(a, "%s/model.o", tmp);
            /* LLVM at -O2 whatever the Graph IR level, as cc compiles the C
             * backend's text at -O2: run and bench time optimized code */
            CgLlvmOptions lo = {.opt_level = 2, .target = NULL};
            if (!cg_emit_llvm(p, &lo, CG_LLVM_OBJ, obj, diag)) {
                fprintf(stderr, "%s: error: the LLVM backend failed on %s\n", cmd, model_path);
                rm_tree(tmp, 1);
                goto done;
            }
            Argv cl = {0};
            for (int i = 0; i < tc.cc.len; i++) vec_push(&cl, tc.cc.data[i]);
            vec_push(&cl, "-shared");
            vec_push(&cl, "-o");
            vec_push(&cl, arena_printf(a, "%s/model.so", tmp));
            vec_push(&cl, obj);
            vec_push(&cl, "-lm");
            bool keep = false;
            ok = run_step(&tc, a, &cl, NULL, arena_printf(a, "%s/cc.log", tmp), "the linker", NULL, &keep);
            vec_free(&cl);
            if (!ok && keep) goto done;
            unlink(arena_printf(a, "%s/cc.log", tmp));
        } else if (ok) {
            Argv cl = {0};
            for (int i = 0; i < tc.cc.len; i++) vec_push(&cl, tc.cc.data[i]);
            target_flags(&cl, a, &tc, &target);
            vec_push(&cl, "-fPIC");
            vec_push(&cl, "-shared");
            vec_push(&cl, arena_printf(a, "-I%s", tc.include));
            vec_push(&cl, "-o");
            vec_push(&cl, arena_printf(a, "%s/model.so", tmp));
            vec_push(&cl, src);
            vec_push(&cl, "-lm");
            bool keep = false;
            ok = run_step(&tc, a, &cl, NULL, arena_printf(a, "%s/cc.log", tmp), "the C compiler", src, &keep);
            vec_free(&cl);
            if (!ok && keep) goto done; /* the folder stays, for inspection */
            unlink(arena_printf(a, "%s/cc.log", tmp));
        }
        ok = ok && write_weights(cmd, p, &w, arena_printf(a, "%s/model.weights", tmp), a, NULL);
        if (!ok) {
            rm_tree(tmp, 1);
            goto done;
        }
        if (rename(tmp, entry) != 0) {
            /* Another hyc made the same entry meanwhile: use it. */
            rm_tree(tmp, 1);
            if (!(is_file(so) && is_file(wpath))) {
                fprintf(stderr, "%s: error: cannot add %s to the cache: %s\n", cmd, entry, strerror(errno));
                goto done;
            }
        }
        cache_prune(a, root);
    }
    out->so = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!out->so) {
        fprintf(stderr, "%s: error: cannot load the compiled model %s: %s\n", cmd, so, dlerror());
        goto done;
    }
    const char *sym = arena_printf(a, "%s_desc", model_id);
    out->desc = dlsym(out->so, sym);
    if (!out->desc) HYC_DIE("the compiled model %s has no symbol %s", so, sym);
    out->weights_path = wpath;
    out->entry = entry;
    out->build_s = now_s() - t0;
    rc = HYC_EXIT_OK;
done:
    if (w.data) weights_free(&w);
    toolchain_free(&tc);
    sb_free(&c);
    sb_free(&key);
    return rc;
}

void compiled_unload(CompiledModel *cm)
{
    if (cm->so) dlclose(cm->so);
    memset(cm, 0, sizeof *cm);
}
