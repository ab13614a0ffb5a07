/* main.c — hycrt_main: the command line every compiled model gets.
 *
 * The generated main() hands argc/argv and its descriptor here.  Everything
 * is checked before the model is loaded, so a typo costs nothing; messages
 * name the flag and the allowed range.  Exit status: 0 success, 1 bad input
 * (files, token ids, model limits, a failing forward pass), 2 bad usage
 * (unknown flags, values that don't parse or are out of range).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

enum { EXIT_OK = 0, EXIT_INPUT = 1, EXIT_USAGE = 2 };

typedef enum OptId {
    OPT_WEIGHTS, OPT_TOKENS, OPT_TOKENS_FILE, OPT_PREFILL, OPT_LOGITS_OUT,
    OPT_N, OPT_TEMP, OPT_TOP_K, OPT_TOP_P, OPT_SEED, OPT_THREADS, OPT_BENCH,
    OPT_NO_VERIFY, OPT_PROFILE, OPT_HELP
} OptId;

static const struct {
    const char *name;
    OptId id;
    bool has_arg;
} options[] = {
    {"--weights", OPT_WEIGHTS, true},
    {"--tokens", OPT_TOKENS, true},
    {"--tokens-file", OPT_TOKENS_FILE, true},
    {"--prefill", OPT_PREFILL, true},
    {"--logits-out", OPT_LOGITS_OUT, true},
    {"-n", OPT_N, true},
    {"--temp", OPT_TEMP, true},
    {"--top-k", OPT_TOP_K, true},
    {"--top-p", OPT_TOP_P, true},
    {"--seed", OPT_SEED, true},
    {"--threads", OPT_THREADS, true},
    {"--bench", OPT_BENCH, false},
    {"--no-verify", OPT_NO_VERIFY, false},
    {"--profile", OPT_PROFILE, false},
    {"--help", OPT_HELP, false},
    {"-h", OPT_HELP, false},
};
#define N_OPTIONS ((int)(sizeof options / sizeof options[0]))

typedef struct Opts {
    const char *weights, *tokens, *tokens_file, *logits_out;
    int prefill; /* 0: all of the prompt */
    int n_gen;
    bool n_given;
    float temp, top_p;
    int top_k;
    uint64_t seed;
    int threads; /* 0: hycrt_cpu_count() */
    bool bench, no_verify, profile;
} Opts;

/* What one run needs, freed in one place. */
typedef struct Run {
    const hycrt_model_desc *desc;
    const char *prog;
    FILE *out, *err;
    int32_t *tokens;
    int n_tokens;
    hycrt_model *model;
    hycrt_session *session;
    float *logits_all; /* [n_tokens, vocab] for --logits-out */
    float *last;       /* [vocab] */
    hycrt_sampler sampler;
} Run;

static void usage(FILE *f, const char *prog, const hycrt_model_desc *d)
{
    fprintf(f,
        "usage: %s [options]\n"
        "Runs the compiled model '%s' (vocab %d, context %d tokens).\n"
        "\n"
        "input:\n"
        "  --tokens LIST        prompt token ids, comma-separated: 1,2,3\n"
        "  --tokens-file FILE   prompt token ids, raw little-endian int32\n"
        "  --weights FILE       packed weights (default: this program's path\n"
        "                       + \".weights\"%s%s%s)\n"
        "  --no-verify          skip the weights checksum (faster start)\n"
        "evaluation:\n"
        "  --prefill K          prefill the first K prompt tokens in one call,\n"
        "                       then decode the rest one at a time (default: all)\n"
        "  --logits-out FILE    write the logits of every prompt position,\n"
        "                       raw little-endian float32 [T, vocab]\n"
        "  -n N                 generate N tokens after the prompt; prints ids\n"
        "  --temp T             temperature, 0 = greedy (default 0)\n"
        "  --top-k K            keep the K most likely tokens (default 0: off)\n"
        "  --top-p P            keep the most likely tokens holding P of the\n"
        "                       probability, P in (0, 1] (default 1: off)\n"
        "  --seed S             RNG seed (default 0): same seed, same tokens\n"
        "  --threads N          threads (default: the CPUs this process may use)\n"
        "  --bench              time prefill and decode, print tokens/s\n"
        "  --profile            per-kernel times (model built with HYCRT_PROFILE)\n"
        "  -h, --help           this text\n"
        "\n"
        "exit status: 0 success, 1 bad input, 2 bad usage\n",
        prog, d->name, (int)d->vocab, (int)d->max_seq,
        d->weights_name ? ", or " : "", d->weights_name ? d->weights_name : "",
        d->weights_name ? " beside it" : "");
}

/* ---- argument parsing ----------------------------------------------------- */

static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    int row[33];
    if (la > 32 || lb > 32)
        return 99;
    for (int j = 0; j <= lb; j++)
        row[j] = j;
    for (int i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = i;
        for (int j = 1; j <= lb; j++) {
            int up = row[j];
            int sub = diag + (a[i - 1] != b[j - 1]);
            int best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    return row[lb];
}

static void usage_error(Run *r, const char *fmt, ...) RT_PRINTF(2, 3);
static void usage_error(Run *r, const char *fmt, ...)
{
    va_list ap;
    fprintf(r->err, "%s: error: ", r->prog);
    va_start(ap, fmt);
    vfprintf(r->err, fmt, ap);
    va_end(ap);
    fprintf(r->err, "\nTry '%s --help'.\n", r->prog);
}

static void input_error(Run *r, const char *fmt, ...) RT_PRINTF(2, 3);
static void input_error(Run *r, const char *fmt, ...)
{
    va_list ap;
    fprintf(r->err, "%s: error: ", r->prog);
    va_start(ap, fmt);
    vfprintf(r->err, fmt, ap);
    va_end(ap);
    fputc('\n', r->err);
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* An int flag in [lo, hi]; false after printing why. */
static bool int_flag(Run *r, const char *flag, const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end) {
        usage_error(r, "%s: '%s' is not an integer", flag, s);
        return false;
    }
    if (errno || v < lo || v > hi) {
        usage_error(r, "%s: %s is not in [%ld, %ld]", flag, s, lo, hi);
        return false;
    }
    *out = (int)v;
    return true;
}

static bool float_flag(Run *r, const char *flag, const char *s, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (end == s || *end || errno || !isfinite(v)) {
        usage_error(r, "%s: '%s' is not a number", flag, s);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_args(Run *r, int argc, char **argv, Opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        char name[64];
        const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (len >= sizeof name)
            len = sizeof name - 1;
        memcpy(name, arg, len);
        name[len] = 0;
        int k = 0;
        while (k < N_OPTIONS && strcmp(options[k].name, name) != 0)
            k++;
        if (k == N_OPTIONS) {
            if (arg[0] != '-') {
                usage_error(r, "unexpected argument '%s'", arg);
                return false;
            }
            int best = -1, bd = 3;
            for (int j = 0; j < N_OPTIONS; j++) {
                int dist = edit_distance(name, options[j].name);
                if (dist < bd)
                    bd = dist, best = j;
            }
            if (best >= 0)
                usage_error(r, "unknown option '%s' (did you mean '%s'?)", name,
                            options[best].name);
            else
                usage_error(r, "unknown option '%s'", name);
            return false;
        }
        if (options[k].has_arg) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                usage_error(r, "%s needs a value", name);
                return false;
            }
        } else if (eq) {
            usage_error(r, "%s takes no value", name);
            return false;
        }

        bool ok = true;
        switch (options[k].id) {
        case OPT_WEIGHTS: o->weights = val; break;
        case OPT_TOKENS: o->tokens = val; break;
        case OPT_TOKENS_FILE: o->tokens_file = val; break;
        case OPT_LOGITS_OUT: o->logits_out = val; break;
        case OPT_PREFILL: ok = int_flag(r, name, val, 1, INT_MAX, &o->prefill); break;
        case OPT_N:
            ok = int_flag(r, name, val, 0, INT_MAX, &o->n_gen);
            o->n_given = true;
            break;
        case OPT_TEMP:
            ok = float_flag(r, name, val, &o->temp);
            if (ok && o->temp < 0) {
                usage_error(r, "--temp: %s is negative", val);
                ok = false;
            }
            break;
        case OPT_TOP_K: ok = int_flag(r, name, val, 0, INT_MAX, &o->top_k); break;
        case OPT_TOP_P:
            ok = float_flag(r, name, val, &o->top_p);
            if (ok && !(o->top_p > 0 && o->top_p <= 1)) {
                usage_error(r, "--top-p: %s is not in (0, 1]", val);
                ok = false;
            }
            break;
        case OPT_SEED: {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(val, &end, 0);
            if (end == val || *end || errno || val[strspn(val, " \t")] == '-') {
                usage_error(r, "--seed: '%s' is not an unsigned 64-bit integer", val);
                ok = false;
            }
            o->seed = v;
            break;
        }
        case OPT_THREADS: ok = int_flag(r, name, val, 1, 1024, &o->threads); break;
        case OPT_BENCH: o->bench = true; break;
        case OPT_NO_VERIFY: o->no_verify = true; break;
        case OPT_PROFILE: o->profile = true; break;
        case OPT_HELP: break; /* handled before parsing */
        }
        if (!ok)
            return false;
    }
    if (o->tokens && o->tokens_file) {
        usage_error(r, "give --tokens or --tokens-file, not both");
        return false;
    }
    if (o->bench && (o->logits_out || o->prefill)) {
        usage_error(r, "--bench cannot be combined with %s",
                    o->logits_out ? "--logits-out" : "--prefill");
        return false;
    }
    if (!o->bench && !o->tokens && !o->tokens_file) {
        usage_error(r, "no prompt: give --tokens LIST or --tokens-file FILE");
        return false;
    }
    return true;
}

/* ---- prompt --------------------------------------------------------------- */

/* Token ids from "1,2,3".  Returns an exit status. */
static int parse_token_list(Run *r, const char *s)
{
    int n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    r->tokens = malloc((size_t)n * sizeof *r->tokens);
    if (!r->tokens) {
        input_error(r, "out of memory");
        return EXIT_INPUT;
    }
    const char *p = s;
    for (int i = 0; i < n; i++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[32];
        long v;
        if (len == 0 || len >= sizeof item) {
            usage_error(r, "--tokens: %s item %d", len ? "too long" : "empty", i + 1);
            return EXIT_USAGE;
        }
        memcpy(item, p, len);
        item[len] = 0;
        if (!parse_int(item, INT32_MIN, INT32_MAX, &v)) {
            usage_error(r, "--tokens: '%s' (item %d) is not a token id", item, i + 1);
            return EXIT_USAGE;
        }
        r->tokens[i] = (int32_t)v;
        p += len + 1;
    }
    r->n_tokens = n;
    return EXIT_OK;
}

static int read_token_file(Run *r, const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        input_error(r, "cannot open '%s': %s", path, strerror(errno));
        if (f)
            fclose(f);
        return EXIT_INPUT;
    }
    long long size = (long long)st.st_size;
    if (!S_ISREG(st.st_mode) || size % 4 != 0 || size == 0 || size / 4 > INT_MAX) {
        input_error(r, "'%s': %s", path,
                    !S_ISREG(st.st_mode) ? "not a regular file"
                    : size == 0          ? "empty: no tokens"
                    : size % 4           ? "its size is not a multiple of 4 (raw "
                                           "little-endian int32 expected)"
                                         : "too many tokens");
        fclose(f);
        return EXIT_INPUT;
    }
    r->n_tokens = (int)(size / 4);
    r->tokens = malloc((size_t)size);
    if (!r->tokens || fread(r->tokens, 4, (size_t)r->n_tokens, f) != (size_t)r->n_tokens) {
        input_error(r, "cannot read '%s'", path);
        fclose(f);
        return EXIT_INPUT;
    }
    fclose(f);
    return EXIT_OK;
}

static int check_prompt(Run *r)
{
    const hycrt_model_desc *d = r->desc;
    for (int i = 0; i < r->n_tokens; i++) {
        if (r->tokens[i] < 0 || r->tokens[i] >= d->vocab) {
            input_error(r, "token %" PRId32 " (position %d) is not in [0, %d): "
                        "the vocabulary of '%s'", r->tokens[i], i, (int)d->vocab,
                        d->name);
            return EXIT_INPUT;
        }
    }
    if (r->n_tokens > d->max_seq) {
        input_error(r, "the prompt has %d tokens, more than the context of '%s' "
                    "(%d)", r->n_tokens, d->name, (int)d->max_seq);
        return EXIT_INPUT;
    }
    return EXIT_OK;
}

/* ---- weights path --------------------------------------------------------- */

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The default weights file: <exe>.weights, else <exe dir>/<weights_name>.
 * Returns false after printing the paths tried. */
static bool default_weights(Run *r, const char *argv0, char *buf, size_t len)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0)
        exe[n] = 0;
    else
        snprintf(exe, sizeof exe, "%s", argv0 ? argv0 : "");
    char tried[2][4200];
    int n_tried = 0;
    snprintf(tried[n_tried++], sizeof tried[0], "%s.weights", exe);
    if (r->desc->weights_name) {
        const char *slash = strrchr(exe, '/');
        int dir = slash ? (int)(slash - exe) : 1;
        snprintf(tried[n_tried++], sizeof tried[0], "%.*s/%s", dir,
                 slash ? exe : ".", r->desc->weights_name);
    }
    for (int i = 0; i < n_tried; i++) {
        size_t n_path = strlen(tried[i]);
        if (n_path < len && is_file(tried[i])) {
            memcpy(buf, tried[i], n_path + 1);
            return true;
        }
    }
    input_error(r, "no weights file: tried '%s'%s%s%s (give --weights FILE)",
                tried[0], n_tried > 1 ? " and '" : "", n_tried > 1 ? tried[1] : "",
                n_tried > 1 ? "'" : "");
    return false;
}

/* ---- running -------------------------------------------------------------- */

/* Every failure of a session call is bad input (a token, the context) or a
 * failing forward pass: exit status 1, with the session's message. */
static int session_failed(Run *r)
{
    input_error(r, "%s", hycrt_session_error(r->session));
    return EXIT_INPUT;
}

static int write_logits(Run *r, const char *path)
{
    const hycrt_model_desc *d = r->desc;
    size_t tmplen = strlen(path) + 16;
    char *tmp = malloc(tmplen);
    char msg[512];
    FILE *f = tmp ? rt_atomic_open(path, tmp, tmplen, msg, sizeof msg) : NULL;
    if (!f) {
        input_error(r, "%s", tmp ? msg : "out of memory");
        free(tmp);
        return EXIT_INPUT;
    }
    fchmod(fileno(f), 0644);
    /* float32 is written as the host holds it: the runtime only builds on
     * little-endian hosts (internal.h). */
    size_t count = (size_t)r->n_tokens * (size_t)d->vocab;
    int rc;
    if (fwrite(r->logits_all, sizeof(float), count, f) != count) {
        rt_atomic_abort(f, tmp);
        input_error(r, "cannot write '%s': %s", path, strerror(errno));
        rc = EXIT_INPUT;
    } else if (rt_atomic_commit(f, tmp, path, msg, sizeof msg) != 0) {
        input_error(r, "%s", msg);
        rc = EXIT_INPUT;
    } else {
        rc = EXIT_OK;
    }
    free(tmp);
    return rc;
}

/* Prompt (prefill K, decode the rest), then generation. */
static int run_model(Run *r, const Opts *o)
{
    const hycrt_model_desc *d = r->desc;
    int T = r->n_tokens, K = o->prefill ? o->prefill : T;
    size_t V = (size_t)d->vocab;
    int rc;
    if (o->logits_out) {
        rc = hycrt_prefill_all(r->session, r->tokens, K, r->logits_all);
    } else {
        rc = hycrt_prefill(r->session, r->tokens, K, K == T ? r->last : NULL);
    }
    if (rc)
        return session_failed(r);
    for (int i = K; i < T; i++) {
        float *out = r->logits_all ? r->logits_all + (size_t)i * V
                     : i == T - 1  ? r->last
                                   : NULL;
        if ((rc = hycrt_decode(r->session, r->tokens[i], out)) != 0)
            return session_failed(r);
    }
    if (r->logits_all) {
        memcpy(r->last, r->logits_all + (size_t)(T - 1) * V, V * sizeof(float));
        if ((rc = write_logits(r, o->logits_out)) != 0)
            return rc;
    }

    if (o->n_gen > 0) {
        uint64_t rng = hycrt_rng_seed(o->seed);
        for (int g = 0; g < o->n_gen; g++) {
            int tok = hycrt_sample(&r->sampler, r->last, &rng);
            fprintf(r->out, g ? " %d" : "%d", tok);
            fflush(r->out);
            if (g + 1 < o->n_gen && (rc = hycrt_decode(r->session, tok, r->last)) != 0) {
                fputc('\n', r->out);
                return session_failed(r);
            }
        }
        fputc('\n', r->out);
    } else if (!o->logits_out) {
        fprintf(r->err, "%s: note: the prompt was evaluated; -n N generates, "
                "--logits-out FILE saves the logits\n", r->prog);
    }
    return EXIT_OK;
}

/* Best of 3 runs (after the model is warm) of prefill(prompt) then n
 * greedy decode steps. */
static int run_bench(Run *r, int n_gen)
{
    const hycrt_model_desc *d = r->desc;
    int T = r->n_tokens;
    uint64_t best_prefill = UINT64_MAX, best_decode = UINT64_MAX;
    for (int rep = 0; rep < 4; rep++) {
        hycrt_session_reset(r->session);
        uint64_t t0 = hycrt_now_ns();
        int rc = hycrt_prefill(r->session, r->tokens, T, r->last);
        if (rc)
            return session_failed(r);
        uint64_t t1 = hycrt_now_ns();
        for (int g = 0; g < n_gen; g++) {
            rc = hycrt_decode(r->session, hycrt_argmax(r->last, d->vocab), r->last);
            if (rc)
                return session_failed(r);
        }
        uint64_t t2 = hycrt_now_ns();
        if (rep == 0)
            continue; /* warm-up: page faults, caches, worker start */
        if (t1 - t0 < best_prefill)
            best_prefill = t1 - t0;
        if (t2 - t1 < best_decode)
            best_decode = t2 - t1;
    }
    fprintf(r->out, "model '%s': %d threads, best of 3\n", d->name,
            hycrt_pool_threads(hycrt_model_pool(r->model)));
    fprintf(r->out, "prefill: %6d tokens in %10.3f ms: %12.1f tokens/s\n", T,
            best_prefill / 1e6, T / (best_prefill / 1e9));
    if (n_gen > 0)
        fprintf(r->out, "decode:  %6d tokens in %10.3f ms: %12.1f tokens/s "
                "(%.1f us/token)\n", n_gen, best_decode / 1e6,
                n_gen / (best_decode / 1e9), best_decode / 1e3 / n_gen);
    return EXIT_OK;
}

static int main_body(Run *r, int argc, char **argv)
{
    const hycrt_model_desc *d = r->desc;
    Opts o = {.top_p = 1.0f};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(r->out, r->prog, d);
            return EXIT_OK;
        }
    }
    if (!parse_args(r, argc, argv, &o))
        return EXIT_USAGE;

    int rc;
    if (o.tokens || o.tokens_file) {
        rc = o.tokens ? parse_token_list(r, o.tokens) : read_token_file(r, o.tokens_file);
        if (rc)
            return rc;
    } else {
        /* --bench without a prompt: a synthetic one. */
        r->n_tokens = d->max_seq / 2 < 128 ? (d->max_seq + 1) / 2 : 128;
        r->tokens = malloc((size_t)r->n_tokens * sizeof *r->tokens);
        if (!r->tokens) {
            input_error(r, "out of memory");
            return EXIT_INPUT;
        }
        for (int i = 0; i < r->n_tokens; i++)
            r->tokens[i] = (int32_t)((i * 7 + 1) % d->vocab);
    }
    if ((rc = check_prompt(r)) != 0)
        return rc;
    int T = r->n_tokens;
    if (o.prefill > T) {
        usage_error(r, "--prefill: %d is not in [1, %d] (the prompt has %d tokens)",
                    o.prefill, T, T);
        return EXIT_USAGE;
    }
    int room = d->max_seq - T; /* positions left after the prompt */
    if (o.bench && !o.n_given)
        o.n_gen = room < 32 ? room : 32;
    /* Generating N tokens feeds N - 1 of them back (N in --bench). */
    long need = o.bench ? o.n_gen : o.n_gen - 1L;
    if (o.n_gen > 0 && need > room) {
        input_error(r, "the prompt (%d tokens) and %d generated tokens do not fit "
                    "the context of '%s' (%d tokens)", T, o.n_gen, d->name,
                    (int)d->max_seq);
        return EXIT_INPUT;
    }

    char path[4200];
    if (o.weights)
        snprintf(path, sizeof path, "%s", o.weights);
    else if (!default_weights(r, argv[0], path, sizeof path))
        return EXIT_INPUT;
    char msg[1024];
    r->model = hycrt_model_open(d, path, o.threads,
                                o.no_verify ? HYCRT_WEIGHTS_NO_VERIFY : 0, msg, sizeof msg);
    if (!r->model) {
        input_error(r, "%s", msg);
        return EXIT_INPUT;
    }
    r->session = hycrt_session_new(r->model);
    r->last = malloc((size_t)d->vocab * sizeof(float));
    if (o.logits_out)
        r->logits_all = malloc((size_t)T * (size_t)d->vocab * sizeof(float));
    if (!r->session || !r->last || (o.logits_out && !r->logits_all) ||
        hycrt_sampler_init(&r->sampler, d->vocab, o.temp, o.top_k, o.top_p) != 0) {
        input_error(r, "out of memory");
        return EXIT_INPUT;
    }
    if (o.profile && hycrt_session_profile(r->session, 1) != 0)
        fprintf(r->err, "%s: warning: --profile: '%s' has no kernel table\n",
                r->prog, d->name);

    rc = o.bench ? run_bench(r, o.n_gen) : run_model(r, &o);
    if (o.profile && hycrt_session_profile_entries(r->session))
        hycrt_session_profile_print(r->session, r->err);
    return rc;
}

int hycrt_main_io(int argc, char **argv, const hycrt_model_desc *model, FILE *out,
                  FILE *err)
{
    Run r = {.desc = model, .out = out, .err = err};
    const char *slash = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
    r.prog = argc > 0 && argv[0] ? (slash ? slash + 1 : argv[0]) : "model";
    char msg[1024];
    if (!rt_check_desc(model, msg, sizeof msg)) {
        input_error(&r, "%s", msg);
        return EXIT_INPUT;
    }
    int rc = main_body(&r, argc, argv);
    hycrt_sampler_free(&r.sampler);
    free(r.logits_all);
    free(r.last);
    hycrt_session_free(r.session);
    hycrt_model_close(r.model);
    free(r.tokens);
    fflush(out);
    return rc;
}

int hycrt_main(int argc, char **argv, const hycrt_model_desc *model)
{
    return hycrt_main_io(argc, argv, model, stdout, stderr);
}
