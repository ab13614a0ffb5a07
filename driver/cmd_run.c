/* cmd_run.c — `hyc run`: load a model, bind its weights, run a token
 * sequence through it (prefill of the first K tokens, then one decode call
 * per token) and write every position's logits. */
#include "driver.h"
#include "../frontend/frontend.h"
#include "../interp/interp.h"
#include "../ir/ir.h"
#include "../passes/passes.h"
#include "../runtime/hycrt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char RUN_HELP[] =
    "usage: hyc run MODEL (--tokens 1,2,3 | --tokens-file F.i32) [--prefill K]\n"
    "               [--logits-out F.f32] [--random-weights[=SEED]] [--threads N]\n"
    "               [--interp | --backend c|llvm] [-O0..-O3] [--logits all|last]\n"
    "               [--disable-pass=P,...]\n\n"
    "Load MODEL (a .hyb file, a .ir file, or a Hugging Face directory or\n"
    "config.json), bind its weights from the file its weights block names (an\n"
    "imported model: the checkpoint next to config.json), and run the tokens:\n"
    "one prefill call on the first K of them, then one decode call per token\n"
    "for the rest.  Every position's logits are kept.\n\n"
    "  --tokens LIST          token ids, comma-separated (\"1,2,3\")\n"
    "  --tokens-file FILE     token ids as raw little-endian int32\n"
    "  --prefill K            prefill the first K tokens (1 <= K <= T; default all)\n"
    "  --logits-out FILE      write the logits of every position as raw\n"
    "                         little-endian float32 [T, vocab], atomically\n"
    "  --random-weights[=S]   seeded random weights (default seed 0) instead of\n"
    "                         the weights file (a .ir model has none)\n"
    "  --interp               run on the reference interpreter (the default:\n"
    "                         float32 storage, float64 accumulation, one thread)\n"
    "  --backend c            compile the model to C for this CPU (as hyc build\n"
    "                         --target native), cached under $HYC_CACHE_DIR,\n"
    "                         $XDG_CACHE_HOME/hyc or ~/.cache/hyc, and run it in\n"
    "                         process (CC, HYC_CFLAGS: as hyc build)\n"
    "  --backend llvm         the same, compiled by LLVM (no C compiler for the\n"
    "                         model; cc links it); cached the same way\n"
    "  --threads N            threads of a compiled backend (N >= 1, default 1;\n"
    "                         the interpreter always uses one)\n"
    "  --tuning-db FILE       apply the schedules `hyc tune` recorded in FILE\n"
    "                         for --threads N (a compiled backend; docs/tuning.md)\n"
    "  -O0 .. -O3             the pass pipeline run before execution (default\n"
    "                         -O0: composites are only expanded into primitives)\n"
    "  --logits all|last      all (the default): every position's logits; last:\n"
    "                         the prefill computes the logits of its last position\n"
    "                         only (pass last-logits, -O1 and up), so the file holds\n"
    "                         [T - K + 1, vocab]: positions K - 1 .. T - 1\n"
    "  --disable-pass=P,...   skip these passes of the pipeline (hyc ir --list-passes)\n\n"
    "Prints a summary: tokens, time per phase, and the argmax of the last\n"
    "position.  Exit status: 0 success, 1 bad input (the model, its weights,\n"
    "the tokens), 2 bad usage.\n";

typedef Vec(int32_t) TokenVec;

typedef struct RunArgs {
    const char *model, *tokens, *tokens_file, *logits_out;
    int64_t prefill; /* 0: all */
    int64_t threads;
    bool random;
    uint64_t seed;
    int level;
    bool backend_c;    /* a compiled backend: c or llvm */
    bool backend_llvm; /* compiled by LLVM */
    bool logits_last;  /* --logits last */
    const char *disable_pass;
    const char *tuning_db; /* --tuning-db FILE (compiled backends) */
} RunArgs;

/* Parse the command line; HYC_EXIT_OK or the exit status of a usage error. */
static int parse_args(const Command *self, int argc, char **argv, RunArgs *r)
{
    memset(r, 0, sizeof *r);
    r->threads = 1;
    bool no_more = false, seen_prefill = false;
    const char *backend = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool missing = false;
        if (no_more || a[0] != '-' || !a[1]) {
            if (r->model) {
                cli_usage_error(self, "one model at a time ('%s' and '%s')", r->model, a);
                return HYC_EXIT_USAGE;
            }
            r->model = a;
        } else if (strcmp(a, "--") == 0) {
            no_more = true;
        } else if (strlen(a) == 3 && a[1] == 'O' && a[2] >= '0' && a[2] <= '3') {
            r->level = a[2] - '0';
        } else if ((v = cli_opt_value(argc, argv, &i, "--tokens-file", &missing))) {
            if (r->tokens_file || r->tokens) {
                cli_usage_error(self, "give the tokens once (--tokens or --tokens-file)");
                return HYC_EXIT_USAGE;
            }
            r->tokens_file = v;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--tokens", &missing))) {
            if (r->tokens_file || r->tokens) {
                cli_usage_error(self, "give the tokens once (--tokens or --tokens-file)");
                return HYC_EXIT_USAGE;
            }
            r->tokens = v;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--prefill", &missing))) {
            if (!parse_i64(v, &r->prefill) || r->prefill < 1) {
                cli_usage_error(self, "--prefill needs a whole number >= 1, not '%s'", v);
                return HYC_EXIT_USAGE;
            }
            seen_prefill = true;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--logits-out", &missing))) {
            if (!*v) {
                cli_usage_error(self, "--logits-out needs a file name");
                return HYC_EXIT_USAGE;
            }
            r->logits_out = v;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--threads", &missing))) {
            if (!parse_i64(v, &r->threads) || r->threads < 1 || r->threads > 4096) {
                cli_usage_error(self, "--threads needs a whole number in [1, 4096], not '%s'", v);
                return HYC_EXIT_USAGE;
            }
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--tuning-db", &missing))) {
            r->tuning_db = v;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--backend", &missing))) {
            if (strcmp(v, "interp") != 0 && strcmp(v, "c") != 0 && strcmp(v, "llvm") != 0) {
                cli_usage_error(self, "--backend is c or llvm (or --interp), not '%s'", v);
                return HYC_EXIT_USAGE;
            }
            backend = v;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--logits", &missing))) {
            if (strcmp(v, "all") != 0 && strcmp(v, "last") != 0) {
                cli_usage_error(self, "--logits is all or last, not '%s'", v);
                return HYC_EXIT_USAGE;
            }
            r->logits_last = strcmp(v, "last") == 0;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--disable-pass", &missing))) {
            if (!cli_check_passes(self, "--disable-pass", v)) return HYC_EXIT_USAGE;
            r->disable_pass = v;
        } else if (missing) {
            cli_usage_error(self, "%s needs a value", a);
            return HYC_EXIT_USAGE;
        } else if (strcmp(a, "--interp") == 0) {
            backend = "interp";
        } else if (strcmp(a, "--random-weights") == 0) {
            r->random = true;
        } else if (strncmp(a, "--random-weights=", 17) == 0) {
            int64_t seed;
            if (!parse_i64(a + 17, &seed) || seed < 0) {
                cli_usage_error(self, "--random-weights=SEED needs a whole number >= 0, not '%s'", a + 17);
                return HYC_EXIT_USAGE;
            }
            r->random = true;
            r->seed = (uint64_t)seed;
        } else {
            static const char *const known[] = {"--tokens", "--tokens-file", "--prefill", "--logits-out",
                                                "--random-weights", "--interp", "--backend", "--threads",
                                                "--logits", "--disable-pass", "--tuning-db"};
            const char *s = suggest_word(a, known, (int)(sizeof known / sizeof *known));
            if (s)
                cli_usage_error(self, "unknown option '%s'; did you mean '%s'?", a, s);
            else
                cli_usage_error(self, "unknown option '%s'", a);
            return HYC_EXIT_USAGE;
        }
    }
    if (!r->model) {
        cli_usage_error(self, "missing MODEL");
        return HYC_EXIT_USAGE;
    }
    if (!r->tokens && !r->tokens_file) {
        cli_usage_error(self, "missing tokens: --tokens 1,2,3 or --tokens-file FILE");
        return HYC_EXIT_USAGE;
    }
    r->backend_llvm = backend && strcmp(backend, "llvm") == 0;
    r->backend_c = backend && (strcmp(backend, "c") == 0 || r->backend_llvm);
    (void)seen_prefill;
    return HYC_EXIT_OK;
}

/* "1,2,3" -> ids; a usage error for anything else. */
static bool parse_token_list(const Command *self, const char *s, TokenVec *out)
{
    if (!*s) {
        cli_usage_error(self, "--tokens is empty");
        return false;
    }
    const char *p = s;
    for (int k = 0;; k++) {
        size_t len = strcspn(p, ",");
        char buf[32];
        int64_t v;
        if (len == 0 || len >= sizeof buf) {
            cli_usage_error(self, "--tokens: item %d is %s (a comma-separated list of ids: 1,2,3)", k + 1,
                            len == 0 ? "empty" : "too long");
            return false;
        }
        memcpy(buf, p, len);
        buf[len] = 0;
        if (!parse_i64(buf, &v) || v < INT32_MIN || v > INT32_MAX) {
            cli_usage_error(self, "--tokens: '%s' is not a token id", buf);
            return false;
        }
        vec_push(out, (int32_t)v);
        if (!p[len]) return true;
        p += len + 1;
    }
}

/* Raw little-endian int32s; errors are bad input. */
static bool read_token_file(const char *path, TokenVec *out)
{
    size_t len;
    char *data = read_file(path, &len);
    if (!data) {
        fprintf(stderr, "%s: error: cannot read the tokens file: %s\n", path, strerror(errno));
        return false;
    }
    bool ok = false;
    if (len == 0) {
        fprintf(stderr, "%s: error: the tokens file is empty\n", path);
    } else if (len % 4) {
        fprintf(stderr, "%s: error: the tokens file has %zu bytes, not a multiple of 4 (raw little-endian int32 ids)\n",
                path, len);
    } else {
        const unsigned char *b = (const unsigned char *)data;
        for (size_t i = 0; i < len; i += 4) {
            uint32_t u = (uint32_t)b[i] | (uint32_t)b[i + 1] << 8 | (uint32_t)b[i + 2] << 16 | (uint32_t)b[i + 3] << 24;
            vec_push(out, (int32_t)u);
        }
        ok = true;
    }
    free(data);
    return ok;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void print_rate(const char *what, int64_t n, double ms)
{
    if (n == 0) return;
    printf("  %-8s %6lld token%s %10.2f ms  %10.1f tok/s\n", what, (long long)n, n == 1 ? " " : "s", ms,
           ms > 0 ? n * 1e3 / ms : 0.0);
}

int cmd_run(int argc, char **argv)
{
    const Command *self = cli_find_command("run");
    if (cli_wants_help(argc, argv)) {
        fputs(RUN_HELP, stdout);
        return HYC_EXIT_OK;
    }
    RunArgs r;
    int rc = parse_args(self, argc, argv, &r);
    if (rc != HYC_EXIT_OK) return rc;

    TokenVec tokens = {0};
    if (r.tokens ? !parse_token_list(self, r.tokens, &tokens) : !read_token_file(r.tokens_file, &tokens)) {
        vec_free(&tokens);
        return r.tokens ? HYC_EXIT_USAGE : HYC_EXIT_USER;
    }
    int64_t T = tokens.len, K = r.prefill ? r.prefill : T;
    if (K > T) {
        cli_usage_error(self, "--prefill %lld is more than the %lld tokens given", (long long)K, (long long)T);
        vec_free(&tokens);
        return HYC_EXIT_USAGE;
    }

    Arena arena;
    Interner in;
    Diag diag;
    arena_init(&arena);
    intern_init(&in, &arena);
    diag_init(&diag, stderr);
    rc = HYC_EXIT_USER;
    Weights w = {0};
    InterpSession *s = NULL;
    CompiledModel cm = {0};
    hycrt_model *cmodel = NULL;
    hycrt_session *csess = NULL;
    float *logits = NULL;
    LoadedModel lm;
    double t0 = now_ms();
    if (!model_load(r.model, &arena, &in, &diag, &lm)) goto done;
    PassOptions opts = {0};
    opts.logits_last = r.logits_last;
    opts.disable_pass = r.disable_pass;
    IrModule *mod = lm.module;
    if (!pass_run_pipeline(&mod, r.level, &opts, &diag)) goto done;
    lm.module = mod;
    if (!interp_module_is_lowered(mod) && !interp_lower(mod, &diag)) goto done;
    const IrFunc *pf = ir_find_func(mod, "prefill");
    HYC_ASSERT(pf && pf->has_ret_type && pf->ret_type.rank == 2);
    int64_t V = pf->ret_type.dims[1];
    /* after last-logits the prefill gives the row of position K - 1 only:
     * logits rows [first, T) are computed */
    bool last_only = pf->ret_type.dims[0] == 1;
    int64_t first = last_only ? K - 1 : 0;
    for (int64_t t = 0; t < T; t++) {
        if (tokens.data[t] < 0 || tokens.data[t] >= V) {
            fprintf(stderr, "hyc run: error: token id %d at position %lld is outside the vocabulary [0, %lld) of model '%s'\n",
                    tokens.data[t], (long long)t, (long long)V, mod->name);
            goto done;
        }
    }
    if (T > mod->max_seq) {
        fprintf(stderr, "hyc run: error: %lld tokens are more than max_seq = %lld of model '%s'\n", (long long)T,
                (long long)mod->max_seq, mod->name);
        goto done;
    }
    if (r.backend_c) {
        if (r.tuning_db && !tuning_prepare(r.tuning_db, (int)r.threads, &diag)) goto done;
        rc = compiled_load(&lm, r.model, r.level, r.backend_llvm, r.random, r.seed, &arena, &diag, &cm);
        if (rc != HYC_EXIT_OK) goto done;
        rc = HYC_EXIT_USER;
        char err[1024];
        cmodel = hycrt_model_open(cm.desc, cm.weights_path, (int)r.threads, 0, err, sizeof err);
        if (!cmodel) {
            fprintf(stderr, "hyc run: error: %s\n", err);
            goto done;
        }
        if (!(csess = hycrt_session_new(cmodel))) {
            fprintf(stderr, "hyc run: error: out of memory for a session of model '%s'\n", mod->name);
            goto done;
        }
        HYC_ASSERT(cm.desc->vocab == V);
    } else {
        if (r.random)
            weights_random(&w, mod, r.seed);
        else if (!model_bind_weights(&lm, mod, &w, &diag))
            goto done;
        s = interp_new(mod, &w);
        HYC_ASSERT(interp_vocab(s) == V);
    }
    double t_load = now_ms() - t0;

    logits = xmalloc((size_t)(T * V) * sizeof(float));
    double t1 = now_ms(), t2, t3;
    if (r.backend_c) {
        int e = last_only ? hycrt_prefill(csess, tokens.data, (int)K, logits + first * V)
                          : hycrt_prefill_all(csess, tokens.data, (int)K, logits);
        t2 = now_ms();
        for (int64_t t = K; t < T && e == 0; t++) e = hycrt_decode(csess, tokens.data[t], logits + t * V);
        t3 = now_ms();
        if (e != 0) {
            fprintf(stderr, "hyc run: error: %s\n", hycrt_session_error(csess));
            goto done;
        }
    } else {
        if (!interp_prefill(s, tokens.data, K, logits + first * V, &diag)) goto done;
        t2 = now_ms();
        for (int64_t t = K; t < T; t++)
            if (!interp_decode(s, tokens.data[t], logits + t * V, &diag)) goto done;
        t3 = now_ms();
    }

    if (r.logits_out) {
        /* Little-endian whatever the host. */
        int64_t n = (T - first) * V; /* rows first .. T - 1 */
        unsigned char *bytes = xmalloc((size_t)n * 4);
        for (int64_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &logits[first * V + i], 4);
            for (int b = 0; b < 4; b++) bytes[4 * i + b] = (unsigned char)(u >> (8 * b));
        }
        bool wrote = write_file_atomic(r.logits_out, bytes, (size_t)n * 4);
        int err = errno;
        free(bytes);
        if (!wrote) {
            fprintf(stderr, "%s: error: cannot write the logits: %s\n", r.logits_out, strerror(err));
            goto done;
        }
    }
    const float *last = logits + (T - 1) * V;
    int64_t best = 0;
    for (int64_t v = 1; v < V; v++)
        if (last[v] > last[best]) best = v;
    if (r.backend_c)
        printf("hyc run: model '%s' compiled %s (-O%d, %s weights, target %s, %lld thread%s, %s), %lld tokens: "
               "prefill %lld + decode %lld\n",
               mod->name, r.backend_llvm ? "by LLVM" : "to C", r.level, r.random ? "random" : "bound", cm.target,
               (long long)r.threads, r.threads == 1 ? "" : "s",
               cm.cache_hit ? "cached" : "compiled now", (long long)T, (long long)K, (long long)(T - K));
    else
        printf("hyc run: model '%s' on the reference interpreter (-O%d, %s weights), %lld tokens: prefill %lld + decode %lld\n",
               mod->name, r.level, r.random ? "random" : "bound", (long long)T, (long long)K, (long long)(T - K));
    printf("  load     %24.2f ms\n", t_load);
    print_rate("prefill", K, t2 - t1);
    print_rate("decode", T - K, t3 - t2);
    printf("  last position %lld: argmax %lld (logit %.6g)\n", (long long)(T - 1), (long long)best, last[best]);
    if (r.logits_out)
        printf("  logits [%lld, %lld] float32 written to %s%s\n", (long long)(T - first), (long long)V, r.logits_out,
               last_only ? " (positions from the last prefill position on: --logits last)" : "");
    rc = fflush(stdout) == 0 ? HYC_EXIT_OK : HYC_EXIT_USER;
done:
    free(logits);
    hycrt_session_free(csess);
    hycrt_model_close(cmodel);
    compiled_unload(&cm);
    interp_free(s);
    if (w.data) weights_free(&w);
    vec_free(&tokens);
    intern_free(&in);
    arena_free(&arena);
    return rc;
}
