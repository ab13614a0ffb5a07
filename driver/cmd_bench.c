/* cmd_bench.c — `hyc bench`: llama-bench-style throughput of a compiled
 * model.  For every (test, threads): prefill `ppN` (one prefill call of N
 * tokens, logits of the last position kept) and decode `tgN` (N single-token
 * decode calls from an empty context), tokens/s as mean ± std over -r
 * repeats after one warm-up run.  Beside the speed: FLOPs and bytes per token
 * counted on the Graph IR (docs/bench.md has the formulas) and the fraction
 * of this machine's ceiling (roofline.c) the run reached.
 *
 * The model is compiled by the C (or LLVM) backend through `hyc run --backend c`'s
 * cache (compiled_load, cmd_build.c: a shared object and its weights file),
 * dlopened and driven in-process through hycrt sessions (hyc carries the
 * runtime): no process start, no weights checksum in the timed region. */
#include "driver.h"
#include "../codegen/codegen.h"
#include "../formats/formats.h"
#include "../interp/interp.h"
#include "../ir/ir.h"
#include "../passes/passes.h"
#include "../runtime/hycrt.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* roofline.c */
const char *roofline_cpu_model(void);
const char *roofline_isa(void);
const char *roofline_cache_dir(Arena *a);
bool roofline_get(int threads, bool refresh, double *gflops, double *gbps, FILE *log);

static const char BENCH_HELP[] =
    "usage: hyc bench MODEL [-p 128,512] [-n 64] [-t 1,2] [-r 5] [-o md|json]\n"
    "                 [--random-weights[=SEED]] [--backend c|llvm] [-O0..-O3]\n"
    "                 [--target native] [--profile] [--dry-run] [--logits last|all]\n"
    "                 [--disable-pass=P,...] [--tuning-db FILE]\n"
    "       hyc bench --ceilings [-t 1,2] [--refresh]\n\n"
    "Compile MODEL with a backend (cached), then time it in-process, as\n"
    "llama-bench does: for every thread count and test,\n"
    "  ppN   one prefill call of N tokens (the logits of the last position are\n"
    "        copied out), from an empty context;\n"
    "  tgN   N decode calls of one token each, from an empty context;\n"
    "tokens/s as mean ± std over the repeats, after one warm-up run.\n\n"
    "  -p LIST              prompt lengths (default 512; 0: none)\n"
    "  -n LIST              generated lengths (default 128; 0: none)\n"
    "  -t LIST              thread counts (default: the CPUs this process may use)\n"
    "  -r N                 timed repeats (default 5)\n"
    "  -o md|json           a Markdown table (default) or one JSON object per\n"
    "                       line per test\n"
    "  --random-weights[=S] seeded random weights (default seed 0); required\n"
    "                       for now (timings do not depend on the values)\n"
    "  --backend c|llvm     the backend (default c)\n"
    "  -O0 .. -O3           the pass pipeline (default -O2)\n"
    "  --logits last|all    last (the default, as llama-bench): the prefill\n"
    "                       computes the final norm and LM head for the last\n"
    "                       position only (pass last-logits); all: for every one\n"
    "  --disable-pass=P,... skip these passes of the pipeline\n"
    "  --target native      the ISA of the generated code: this machine's (the\n"
    "                       only one that can be timed here)\n"
    "  --profile            after the timings, one more run of each test with\n"
    "                       per-kernel times, GFLOP/s and share of the FMA\n"
    "                       ceiling (printed to standard error), and the\n"
    "                       matmuls' GFLOP/s against the ceiling\n"
    "  --tuning-db FILE     apply the schedules `hyc tune` recorded in FILE for\n"
    "                       the largest of -t (docs/tuning.md)\n"
    "  --dry-run            print the FLOPs and bytes per token of each test\n"
    "                       (no compile, no run)\n"
    "  --ceilings           print this machine's peak FMA rate and memory read\n"
    "                       bandwidth per thread count (measured once, cached in\n"
    "                       $HYC_CACHE_DIR/ceilings.json, default\n"
    "                       ~/.cache/hyc); --refresh measures again\n\n"
    "docs/bench.md has the formulas.  Exit status: 0 success, 1 bad input,\n"
    "2 bad usage.\n";

typedef Vec(int64_t) I64Vec;

typedef struct BenchArgs {
    const char *model, *target;
    I64Vec pp, tg, threads;
    int64_t reps;
    bool json, random, ceilings, refresh, profile, dry_run;
    uint64_t seed;
    int level;
    const char *backend; /* c or llvm */
    bool logits_all;     /* --logits all: prefill computes every row's logits */
    const char *disable_pass;
    const char *tuning_db; /* --tuning-db FILE */
} BenchArgs;

/* ---- arguments -------------------------------------------------------------- */

static bool parse_list(const char *s, I64Vec *out, int64_t min, int64_t max)
{
    out->len = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        char item[32];
        if (n == 0 || n >= sizeof item) return false;
        memcpy(item, s, n);
        item[n] = 0;
        int64_t v;
        if (!parse_i64(item, &v) || v < min || v > max) return false;
        vec_push(out, v);
        s += n;
        if (*s == ',') {
            s++;
            if (!*s) return false;
        }
    }
    return out->len > 0;
}

/* The backend of the rows printed (parse_args sets it). */
static const char *bench_backend = "c";

static int parse_args(const Command *self, int argc, char **argv, BenchArgs *b)
{
    memset(b, 0, sizeof *b);
    b->reps = 5;
    b->level = 2;
    b->target = "native";
    const char *backend = "c";
    bool seen_p = false, seen_n = false, seen_t = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool missing = false;
        if (a[0] != '-' || !a[1]) {
            if (b->model) {
                cli_usage_error(self, "one model at a time ('%s' and '%s')", b->model, a);
                return HYC_EXIT_USAGE;
            }
            b->model = a;
        } else if (strlen(a) == 3 && a[1] == 'O' && a[2] >= '0' && a[2] <= '3') {
            b->level = a[2] - '0';
        } else if ((v = cli_opt_value(argc, argv, &i, "-p", &missing))) {
            if (!parse_list(v, &b->pp, 0, 1 << 20)) {
                cli_usage_error(self, "-p needs a list of whole numbers >= 0, not '%s'", v);
                return HYC_EXIT_USAGE;
            }
            seen_p = true;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "-n", &missing))) {
            if (!parse_list(v, &b->tg, 0, 1 << 20)) {
                cli_usage_error(self, "-n needs a list of whole numbers >= 0, not '%s'", v);
                return HYC_EXIT_USAGE;
            }
            seen_n = true;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "-t", &missing))) {
            if (!parse_list(v, &b->threads, 1, 4096)) {
                cli_usage_error(self, "-t needs a list of thread counts in [1, 4096], not '%s'", v);
                return HYC_EXIT_USAGE;
            }
            seen_t = true;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "-r", &missing))) {
            if (!parse_i64(v, &b->reps) || b->reps < 1 || b->reps > 100000) {
                cli_usage_error(self, "-r needs a whole number >= 1, not '%s'", v);
                return HYC_EXIT_USAGE;
            }
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "-o", &missing))) {
            if (strcmp(v, "json") == 0) b->json = true;
            else if (strcmp(v, "md") == 0) b->json = false;
            else {
                cli_usage_error(self, "-o is md or json, not '%s'", v);
                return HYC_EXIT_USAGE;
            }
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--backend", &missing))) {
            backend = v;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--tuning-db", &missing))) {
            b->tuning_db = v;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--target", &missing))) {
            CgTarget t;
            if (!cg_target_lookup(v, &t)) {
                cli_usage_error(self, "--target is native, x86-64-v3, x86-64-v4 or generic, not '%s'", v);
                return HYC_EXIT_USAGE;
            }
            CgTarget native;
            cg_target_lookup("native", &native);
            if (strcmp(t.name, native.name) != 0) {
                cli_usage_error(self, "--target %s: only the native target (%s) can be timed here", v, native.name);
                return HYC_EXIT_USAGE;
            }
            b->target = v;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--logits", &missing))) {
            if (strcmp(v, "all") != 0 && strcmp(v, "last") != 0) {
                cli_usage_error(self, "--logits is last or all, not '%s'", v);
                return HYC_EXIT_USAGE;
            }
            b->logits_all = strcmp(v, "all") == 0;
        } else if (!missing && (v = cli_opt_value(argc, argv, &i, "--disable-pass", &missing))) {
            if (!cli_check_passes(self, "--disable-pass", v)) return HYC_EXIT_USAGE;
            b->disable_pass = v;
        } else if (missing) {
            cli_usage_error(self, "%s needs a value", a);
            return HYC_EXIT_USAGE;
        } else if (strcmp(a, "--random-weights") == 0) {
            b->random = true;
        } else if (strncmp(a, "--random-weights=", 17) == 0) {
            int64_t s;
            if (!parse_i64(a + 17, &s) || s < 0) {
                cli_usage_error(self, "--random-weights=SEED needs a whole number >= 0, not '%s'", a + 17);
                return HYC_EXIT_USAGE;
            }
            b->random = true;
            b->seed = (uint64_t)s;
        } else if (strcmp(a, "--ceilings") == 0) {
            b->ceilings = true;
        } else if (strcmp(a, "--refresh") == 0) {
            b->refresh = true;
        } else if (strcmp(a, "--profile") == 0) {
            b->profile = true;
        } else if (strcmp(a, "--dry-run") == 0) {
            b->dry_run = true;
        } else {
            cli_usage_error(self, "unknown option '%s'", a);
            return HYC_EXIT_USAGE;
        }
    }
    if (strcmp(backend, "c") != 0 && strcmp(backend, "llvm") != 0) {
        cli_usage_error(self, "--backend is c or llvm, not '%s'", backend);
        return HYC_EXIT_USAGE;
    }
    b->backend = backend;
    bench_backend = backend;
    if (!seen_p) vec_push(&b->pp, 512);
    if (!seen_n) vec_push(&b->tg, 128);
    if (!seen_t) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        for (int64_t t = 1; t <= (n > 0 ? n : 1); t *= 2) vec_push(&b->threads, t);
        if (n > 1 && b->threads.data[b->threads.len - 1] != n) vec_push(&b->threads, (int64_t)n);
    }
    if (!b->ceilings && !b->model) {
        cli_usage_error(self, "missing MODEL");
        return HYC_EXIT_USAGE;
    }
    if (b->model && !b->random && !b->dry_run && !b->ceilings) {
        cli_usage_error(self, "give --random-weights (binding a weights file is not supported by bench yet)");
        return HYC_EXIT_USAGE;
    }
    return HYC_EXIT_OK;
}

/* ---- cost model: FLOPs and bytes per token from the Graph IR ---------------- */

typedef struct Cost {
    double flops;        /* of the whole call */
    double matmul_flops; /* of its matmuls alone */
    double weight_bytes; /* distinct params read, once per call */
    double state_bytes;  /* states read: conv and SSM once, KV rows per token */
} Cost;

static double type_numel(const IrType *t, int64_t T, int64_t max_seq)
{
    double n = 1;
    for (int d = 0; d < t->rank; d++) {
        int64_t v = t->dims[d];
        n *= (double)(v == IR_DIM_T ? T : v == IR_DIM_MAX_SEQ ? max_seq : v);
    }
    return n;
}

static const IrType *operand_type(const IrModule *m, const IrFunc *fn, IrOperand o)
{
    switch (o.kind) {
    case IR_OPND_VALUE: return &fn->values[o.id].type;
    case IR_OPND_PARAM: return &m->params[o.id].type;
    case IR_OPND_STATE: return &m->states[o.id].type;
    default: return NULL;
    }
}

/* The cost of one call of fn on T tokens that starts at position pos0: every
 * token attends to the positions up to its own (a window caps that).  With
 * inst_flops ([fn->n_insts]), each instruction's FLOPs too. */
static Cost ir_cost(const IrModule *m, const IrFunc *fn, int64_t T, int64_t pos0, double *inst_flops)
{
    Cost c = {0};
    /* how each param is read: 1 as an embedding table only, 2 otherwise */
    unsigned char *use = xmalloc((size_t)(m->n_params > 0 ? m->n_params : 1));
    memset(use, 0, (size_t)(m->n_params > 0 ? m->n_params : 1));
    unsigned char *sread = xmalloc((size_t)(m->n_states > 0 ? m->n_states : 1));
    memset(sread, 0, (size_t)(m->n_states > 0 ? m->n_states : 1));
    double *embed_bytes = xmalloc(sizeof(double) * (size_t)(m->n_params > 0 ? m->n_params : 1));
    for (int p = 0; p < m->n_params; p++) embed_bytes[p] = 0;
    for (int i = 0; i < fn->n_insts; i++) {
        const IrInst *in = &fn->insts[i];
        const IrType *res = in->result >= 0 ? &fn->values[in->result].type : NULL;
        double flops_before = c.flops;
        for (int o = 0; o < in->n_operands; o++) {
            IrOperand op = in->operands[o];
            if (op.kind == IR_OPND_PARAM) {
                if (in->op == IR_OP_EMBED) {
                    if (!use[op.id]) use[op.id] = 1;
                    const IrType *t = &m->params[op.id].type;
                    embed_bytes[op.id] += (double)T * type_numel(t, T, m->max_seq) / (double)t->dims[0] * 4.0;
                } else {
                    use[op.id] = 2;
                }
            }
        }
        switch (in->op) {
        case IR_OP_MATMUL: {
            const IrType *x = operand_type(m, fn, ir_inst_operand(in, "x"));
            const IrType *w = operand_type(m, fn, ir_inst_operand(in, "w"));
            double n = (double)w->dims[0], k = (double)w->dims[w->rank - 1];
            double rows = type_numel(x, T, m->max_seq) / k;
            c.flops += 2.0 * rows * n * k;
            c.matmul_flops += 2.0 * rows * n * k;
            if (ir_inst_operand(in, "bias").kind == IR_OPND_PARAM) c.flops += rows * n;
            /* a fused epilogue (fuse-epilogue) counts as the ops it replaced: one each */
            if (strcmp(ir_attr_s(in, "act"), "none") != 0) c.flops += rows * n;
            if (ir_inst_operand(in, "res").kind == IR_OPND_VALUE) c.flops += rows * n;
            /* a row scale (fuse-prologue) is the rmsnorm's multiply moved
             * here: counted with rms_scale, as the norm it replaced */
            break;
        }
        case IR_OP_RMS_SCALE:
            /* the rmsnorm fuse-prologue replaced: one per element of x, as a norm */
            c.flops += type_numel(operand_type(m, fn, ir_inst_operand(in, "x")), T, m->max_seq);
            break;
        case IR_OP_CAUSAL_CONV1D:
        case IR_OP_CAUSAL_CONV1D_ACT: {
            const IrType *w = operand_type(m, fn, ir_inst_operand(in, "w"));
            IrOperand s = ir_inst_operand(in, "state");
            c.flops += 2.0 * (double)T * type_numel(w, T, m->max_seq);
            if (in->op == IR_OP_CAUSAL_CONV1D_ACT) c.flops += type_numel(res, T, m->max_seq); /* the act */
            if (s.kind == IR_OPND_STATE) sread[s.id] = 1;
            break;
        }
        case IR_OP_SELECTIVE_SCAN:
        case IR_OP_SSD_SCAN:
        case IR_OP_FUSED_SELECTIVE_SCAN:
        case IR_OP_FUSED_SSD_SCAN:
        case IR_OP_GATED_DELTA_RULE: {
            IrOperand s = ir_inst_operand(in, "state");
            double sn = type_numel(&m->states[s.id].type, T, m->max_seq);
            double xn = res ? type_numel(res, T, m->max_seq) : 0;
            /* fused scans (passes/fuse_scan.c) count what they replace:
             * Mamba-1 dt_proj (2·rows·E·R, + bias) and softplus; Mamba-2
             * dt + bias, softplus and, when it limits, the clamp */
            if (in->op == IR_OP_FUSED_SELECTIVE_SCAN) {
                const IrType *w = operand_type(m, fn, ir_inst_operand(in, "dt_w"));
                double e = (double)w->dims[0], r = (double)w->dims[1];
                c.flops += 2.0 * (double)T * e * r + (double)T * e;
                if (ir_inst_operand(in, "dt_b").kind == IR_OPND_PARAM) c.flops += (double)T * e;
            } else if (in->op == IR_OP_FUSED_SSD_SCAN) {
                double lo = ir_attr_f(in, "dt_min"), hi = ir_attr_f(in, "dt_max");
                double th = type_numel(operand_type(m, fn, ir_inst_operand(in, "dt")), T, m->max_seq);
                c.flops += (lo > 0 || !isinf(hi) ? 3.0 : 2.0) * th;
            }
            /* per token: Mamba-1 7 per state element (dt·A, exp, decay,
             * dt·x·B fma, C·h fma) + 3 per channel (D skip, z gate);
             * Mamba-2 5 per state element + 2 per channel; delta rule 6 */
            if (in->op == IR_OP_SELECTIVE_SCAN || in->op == IR_OP_FUSED_SELECTIVE_SCAN)
                c.flops += (double)T * 7.0 * sn + 3.0 * xn;
            else if (in->op == IR_OP_SSD_SCAN || in->op == IR_OP_FUSED_SSD_SCAN)
                c.flops += (double)T * 5.0 * sn + 2.0 * xn;
            else c.flops += (double)T * 6.0 * sn;
            sread[s.id] = 1;
            break;
        }
        case IR_OP_SDPA: {
            const IrType *q = operand_type(m, fn, ir_inst_operand(in, "q"));
            IrOperand s = ir_inst_operand(in, "cache");
            const IrType *kv = &m->states[s.id].type;
            double dk = (double)q->dims[q->rank - 1];
            double heads = type_numel(q, T, m->max_seq) / (double)T / dk;
            double kvh = (double)kv->dims[0], row = (double)kv->dims[kv->rank - 1];
            int64_t window = 0;
            for (int a = 0; a < ir_op_info(in->op)->n_attrs; a++)
                if (strcmp(ir_op_info(in->op)->attrs[a].name, "window") == 0 && in->attrs[a].kind == IR_ATTR_INT)
                    window = in->attrs[a].i;
            double ctx_sum = 0; /* keys attended, summed over the tokens */
            for (int64_t t = 0; t < T; t++) {
                int64_t ctx = pos0 + t + 1;
                if (window > 0 && ctx > window) ctx = window;
                ctx_sum += (double)ctx;
            }
            /* q·k (dk) and p·v (row - dk) per key and head: 2·row, plus
             * 3 per score for the softmax (max, exp, sum) */
            c.flops += heads * ctx_sum * (2.0 * row + 3.0);
            /* the cache rows: once per call in a blocked kernel; a decode
             * call reads ctx rows */
            double rows_read = 0;
            for (int64_t t = T - 1; t < T; t++) {
                int64_t ctx = pos0 + t + 1;
                rows_read = (double)(window > 0 && ctx > window ? window : ctx);
            }
            c.state_bytes += kvh * rows_read * row * 4.0;
            break;
        }
        case IR_OP_EMBED:
        case IR_OP_SLICE:
        case IR_OP_LAST_ROW:
        case IR_OP_CONCAT:
        case IR_OP_RESHAPE:
        case IR_OP_KV_STORE:
            break;
        default:
            /* elementwise ops, norms, rope, softmax: one FLOP per output
             * element (a lower bound: they are bound by memory anyway) */
            if (res && ir_dtype_is_float(res->dtype)) c.flops += type_numel(res, T, m->max_seq);
            break;
        }
        if (inst_flops) inst_flops[i] = c.flops - flops_before;
    }
    /* a param is read whole once per call, except a table only embedded
     * from: its rows */
    for (int p = 0; p < m->n_params; p++)
        if (use[p] == 2) c.weight_bytes += type_numel(&m->params[p].type, T, m->max_seq) * 4.0;
        else if (use[p] == 1) c.weight_bytes += embed_bytes[p];
    for (int s = 0; s < m->n_states; s++)
        if (sread[s]) c.state_bytes += type_numel(&m->states[s].type, T, m->max_seq) * 4.0;
    free(embed_bytes);
    free(use);
    free(sread);
    return c;
}

/* Per-token cost of a test: ppN one prefill call of N tokens (split into
 * calls of max_batch), tgN N decode calls from position 0.  With p (the
 * program compiled from m) and kflops ([p->n_kernels], zeroed here), also
 * the FLOPs of one run of the test per kernel: each call's instruction's,
 * summed over the calls of each kernel. */
typedef struct TestCost {
    double flops_per_token, bytes_per_token;
    double matmul_flops; /* of the whole test: the matmuls' multiply-adds */
} TestCost;

static TestCost test_cost(const IrModule *m, bool prefill, int64_t n, int64_t max_batch, const CgProgram *p,
                          double *kflops)
{
    TestCost tc = {0};
    if (kflops)
        for (int k = 0; k < p->n_kernels; k++) kflops[k] = 0;
    if (n <= 0) return tc;
    for (int64_t done = 0; done < n;) {
        /* a prefill's calls of max_batch tokens (a last one of 1 runs as
         * decode does); a decode test's calls of one token */
        int64_t t = prefill ? (n - done < max_batch ? n - done : max_batch) : 1;
        const IrFunc *fn = ir_find_func(m, t == 1 ? "decode" : "prefill");
        double *per = kflops ? xmalloc(sizeof(double) * (size_t)(fn->n_insts > 0 ? fn->n_insts : 1)) : NULL;
        Cost c = ir_cost(m, fn, t, done, per);
        tc.flops_per_token += c.flops;
        tc.matmul_flops += c.matmul_flops;
        tc.bytes_per_token += c.weight_bytes + c.state_bytes;
        for (int f = 0; per && f < p->n_funcs; f++) {
            if (p->funcs[f].fn != fn) continue;
            for (int k = 0; k < p->funcs[f].n_calls; k++) kflops[p->funcs[f].calls[k].kernel] += per[p->funcs[f].calls[k].inst];
        }
        free(per);
        done += t;
    }
    tc.flops_per_token /= (double)n;
    tc.bytes_per_token /= (double)n;
    return tc;
}

static double module_params(const IrModule *m)
{
    double n = 0;
    for (int p = 0; p < m->n_params; p++) n += type_numel(&m->params[p].type, 1, m->max_seq);
    return n;
}

/* ---- the compile step --------------------------------------------------------- */

/* The runtime's sources: $HYC_RUNTIME_DIR, else runtime/ beside the build
 * folder holding this hyc. */
static const char *runtime_dir(Arena *a)
{
    const char *env = getenv("HYC_RUNTIME_DIR");
    if (env && *env) return env;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            const char *cand = arena_printf(a, "%s/../runtime", exe);
            if (access(arena_printf(a, "%s/hycrt.h", cand), R_OK) == 0) return cand;
            cand = arena_printf(a, "%s/../share/hyc/runtime", exe);
            if (access(arena_printf(a, "%s/hycrt.h", cand), R_OK) == 0) return cand;
        }
    }
    return "runtime";
}

/* --profile only: program p compiled with -DHYCRT_PROFILE to a shared
 * object, cached by the hash of the C text and the compile command (the
 * timed runs use `hyc run --backend c`'s cache: compiled_load, cmd_build.c,
 * which builds without the profile hooks).  Its hycrt_* calls resolve
 * against hyc, which exports the runtime.  NULL after printing why. */
static const char *bench_build_so(Arena *a, const CgProgram *p, const char *ident, bool profile)
{
    StrBuf c = {0};
    cg_emit_c(&c, p);
    const char *rt = runtime_dir(a);
    const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
    const char *extra = getenv("HYC_CFLAGS"); /* as hyc build: after the target's flags */
    const char *flags = arena_printf(a, "-std=gnu11 -O2%s%s%s -fPIC -shared -I%s %s", p->opts.target.march ? " -march=" : "",
                                     p->opts.target.march ? p->opts.target.march : "", profile ? " -DHYCRT_PROFILE" : "", rt,
                                     extra ? extra : "");
    StrBuf key = {0};
    sb_puts(&key, sb_cstr(&c));
    sb_printf(&key, "\n%s %s %s", cc, flags, HYC_VERSION);
    uint64_t h = kir_hash64(sb_cstr(&key), key.len);
    sb_free(&key);
    const char *dir = arena_printf(a, "%s/bench", roofline_cache_dir(a));
    cli_mkdir_p(dir);
    const char *so = arena_printf(a, "%s/%s-%016llx.so", dir, ident, (unsigned long long)h);
    if (access(so, R_OK) == 0) {
        sb_free(&c);
        return so;
    }
    const char *src = arena_printf(a, "%s/%s-%016llx.c", dir, ident, (unsigned long long)h);
    const char *log = arena_printf(a, "%s/%s-%016llx.log", dir, ident, (unsigned long long)h);
    if (!write_file_atomic(src, sb_cstr(&c), c.len)) {
        fprintf(stderr, "hyc bench: cannot write %s: %s\n", src, strerror(errno));
        sb_free(&c);
        return NULL;
    }
    sb_free(&c);
    const char *tmp = arena_printf(a, "%s.tmp%ld", so, (long)getpid());
    const char *cmd = arena_printf(a, "%s %s -o '%s' '%s' -lm > '%s' 2>&1", cc, flags, tmp, src, log);
    fprintf(stderr, "hyc bench: compiling %s\n", src);
    if (system(cmd) != 0 || rename(tmp, so) != 0) {
        size_t len;
        char *text = read_file(log, &len);
        fprintf(stderr, "hyc bench: the C compiler failed (%s):\n%s\n", cmd, text ? text : "");
        free(text);
        unlink(tmp);
        return NULL;
    }
    return so;
}

/* ---- timing ------------------------------------------------------------------ */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One run of a test; its seconds, or a negative number after an error. */
static double run_once(hycrt_session *s, bool prefill, const int32_t *tokens, int n, float *logits)
{
    hycrt_session_reset(s);
    uint64_t t0 = now_ns();
    if (prefill) {
        if (hycrt_prefill(s, tokens, n, logits) != 0) return -1;
    } else {
        for (int i = 0; i < n; i++)
            if (hycrt_decode(s, tokens[i], logits) != 0) return -1;
    }
    return (double)(now_ns() - t0) * 1e-9;
}

typedef struct Result {
    const char *test;
    bool prefill;
    int64_t n, threads;
    double mean, std; /* tokens/s */
    double *samples;
    int n_samples;
    TestCost cost;
    double ceil_gflops, ceil_gbps;
} Result;

/* --profile: per kernel of the profiled run (one run of the test), largest
 * first: time, calls, share, and the cost model's FLOPs over its time, as
 * GFLOP/s and as a share of the FMA ceiling: where the time goes, and how
 * far each kernel is from the machine's peak. */
static void print_profile(const hycrt_session *s, const CgProgram *p, const Result *r, int64_t max_batch)
{
    const hycrt_prof_entry *e = hycrt_session_profile_entries(s);
    if (!e) return;
    double *fl = xmalloc(sizeof(double) * (size_t)(p->n_kernels > 0 ? p->n_kernels : 1));
    test_cost(p->m, r->prefill, r->n, max_batch, p, fl);
    uint64_t total = 0;
    for (int i = 0; i < p->n_kernels; i++) total += e[i].ns;
    fprintf(stderr, "%10s %8s %10s %6s %9s %7s  %s\n", "ms", "calls", "us/call", "%", "GFLOP/s", "% peak", "kernel");
    bool *shown = xmalloc((size_t)(p->n_kernels > 0 ? p->n_kernels : 1));
    memset(shown, 0, (size_t)(p->n_kernels > 0 ? p->n_kernels : 1));
    for (int k = 0; k < p->n_kernels; k++) {
        int best = -1;
        for (int i = 0; i < p->n_kernels; i++)
            if (!shown[i] && e[i].calls > 0 && (best < 0 || e[i].ns > e[best].ns)) best = i;
        if (best < 0) break;
        shown[best] = true;
        double sec = (double)e[best].ns * 1e-9, gf = sec > 0 ? fl[best] / sec / 1e9 : 0;
        fprintf(stderr, "%10.3f %8llu %10.2f %6.1f ", (double)e[best].ns / 1e6, (unsigned long long)e[best].calls,
                (double)e[best].ns / 1e3 / (double)e[best].calls, total ? 100.0 * (double)e[best].ns / (double)total : 0.0);
        if (fl[best] > 0) fprintf(stderr, "%9.1f %7.1f", gf, r->ceil_gflops > 0 ? 100.0 * gf / r->ceil_gflops : 0.0);
        else fprintf(stderr, "%9s %7s", "-", "-");
        fprintf(stderr, "  %s\n", p->kernels[best]->name);
    }
    fprintf(stderr, "%10.3f %8s %10s %6s  total\n", (double)total / 1e6, "", "", "");
    free(shown);
    free(fl);
}

/* --profile: the matmuls' part of the profiled run: their FLOPs (the cost
 * model's) over their kernels' time, against the FMA ceiling.  The
 * number the performance targets speak of ("the matmul part of prefill"). */
static void print_matmul_share(const hycrt_session *s, const hycrt_model_desc *desc, const CgProgram *p, const Result *r)
{
    const hycrt_prof_entry *e = hycrt_session_profile_entries(s);
    if (!e || !p || desc->n_kernels != p->n_kernels) return;
    uint64_t mm_ns = 0, all_ns = 0;
    for (int i = 0; i < p->n_kernels; i++) {
        all_ns += e[i].ns;
        if (strcmp(p->kernels[i]->op, "matmul") == 0) mm_ns += e[i].ns;
    }
    if (mm_ns == 0 || all_ns == 0) return;
    double gflops = r->cost.matmul_flops / ((double)mm_ns * 1e-9) / 1e9;
    fprintf(stderr, "   matmul: %.1f GFLOP/s", gflops);
    if (r->ceil_gflops > 0) fprintf(stderr, " = %.1f%% of the FMA ceiling (%.1f)", 100.0 * gflops / r->ceil_gflops, r->ceil_gflops);
    fprintf(stderr, ", %.1f%% of the time\n", 100.0 * (double)mm_ns / (double)all_ns);
}

static void print_json(const Result *r, const IrModule *m, const char *file, const char *target, int64_t reps)
{
    double gflops = r->cost.flops_per_token * r->mean / 1e9, gbps = r->cost.bytes_per_token * r->mean / 1e9;
    double roof = r->prefill ? (r->ceil_gflops > 0 ? gflops / r->ceil_gflops : 0) : (r->ceil_gbps > 0 ? gbps / r->ceil_gbps : 0);
    StrBuf sb = {0};
    sb_puts(&sb, "{\"model\": ");
    json_write_string(&sb, m->name);
    sb_puts(&sb, ", \"file\": ");
    json_write_string(&sb, file);
    sb_printf(&sb, ", \"params\": %.0f, \"backend\": \"%s\", \"target\": ", module_params(m), bench_backend);
    json_write_string(&sb, target);
    sb_printf(&sb, ", \"hyc_version\": \"%s\", \"cpu\": ", HYC_VERSION);
    json_write_string(&sb, roofline_cpu_model());
    sb_printf(&sb, ", \"test\": \"%s\", \"n_prompt\": %lld, \"n_gen\": %lld, \"threads\": %lld, \"reps\": %lld", r->test,
              (long long)(r->prefill ? r->n : 0), (long long)(r->prefill ? 0 : r->n), (long long)r->threads, (long long)reps);
    sb_printf(&sb, ", \"tokens_per_s\": %.3f, \"tokens_per_s_std\": %.3f", r->mean, r->std);
    if (r->n_samples) {
        sb_puts(&sb, ", \"samples_tokens_per_s\": [");
        for (int i = 0; i < r->n_samples; i++) sb_printf(&sb, "%s%.3f", i ? ", " : "", r->samples[i]);
        sb_puts(&sb, "]");
    }
    sb_printf(&sb, ", \"flops_per_token\": %.0f, \"bytes_per_token\": %.0f", r->cost.flops_per_token, r->cost.bytes_per_token);
    if (r->n_samples)
        sb_printf(&sb, ", \"gflops\": %.3f, \"gbps\": %.3f, \"ceiling_gflops\": %.2f, \"ceiling_gbps\": %.2f, \"roofline\": %.4f",
                  gflops, gbps, r->ceil_gflops, r->ceil_gbps, roof);
    sb_puts(&sb, "}\n");
    fputs(sb_cstr(&sb), stdout);
    fflush(stdout);
    sb_free(&sb);
}

static void print_md_header(void)
{
    printf("| model | params | backend | threads | test | t/s | GFLOP/s | GB/s | roofline |\n");
    printf("| --- | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: |\n");
}

static void print_md(const Result *r, const IrModule *m)
{
    double gflops = r->cost.flops_per_token * r->mean / 1e9, gbps = r->cost.bytes_per_token * r->mean / 1e9;
    double roof = r->prefill ? (r->ceil_gflops > 0 ? gflops / r->ceil_gflops : 0) : (r->ceil_gbps > 0 ? gbps / r->ceil_gbps : 0);
    printf("| %s | %.1fM | %s | %lld | %s | %.2f ± %.2f | %.1f | %.2f | %.1f%% %s |\n", m->name, module_params(m) / 1e6,
           bench_backend, (long long)r->threads, r->test, r->mean, r->std, gflops, gbps, roof * 100.0, r->prefill ? "FMA" : "BW");
    fflush(stdout);
}

static int do_ceilings(const BenchArgs *b)
{
    printf("# %s (%s)\n", roofline_cpu_model(), roofline_isa());
    printf("| threads | peak FP32 FMA GFLOP/s | memory read GB/s |\n| ---: | ---: | ---: |\n");
    for (int i = 0; i < b->threads.len; i++) {
        double g, bw;
        roofline_get((int)b->threads.data[i], b->refresh, &g, &bw, stderr);
        printf("| %lld | %.1f | %.1f |\n", (long long)b->threads.data[i], g, bw);
    }
    return HYC_EXIT_OK;
}

int cmd_bench(int argc, char **argv)
{
    const Command *self = cli_find_command("bench");
    if (cli_wants_help(argc, argv)) {
        fputs(BENCH_HELP, stdout);
        return HYC_EXIT_OK;
    }
    BenchArgs b;
    int rc = parse_args(self, argc, argv, &b);
    if (rc != HYC_EXIT_OK) goto out_args;
    if (b.ceilings && !b.model) {
        rc = do_ceilings(&b);
        goto out_args;
    }

    Arena arena;
    Interner in;
    Diag diag;
    arena_init(&arena);
    intern_init(&in, &arena);
    diag_init(&diag, stderr);
    rc = HYC_EXIT_USER;
    CompiledModel cm = {0};
    void *prof_so = NULL;
    const CgProgram *prof_prog = NULL;
    hycrt_model *model = NULL;
    hycrt_session *sess = NULL;
    int32_t *tokens = NULL;
    float *logits = NULL;
    Result res = {0};

    LoadedModel lm;
    if (!model_load(b.model, &arena, &in, &diag, &lm)) goto done;
    IrModule *m = lm.module;
    PassOptions po = {0};
    po.logits_last = !b.logits_all; /* a bench keeps the last position's logits only */
    po.disable_pass = b.disable_pass;
    if (!pass_run_pipeline(&m, b.level, &po, &diag)) goto done;
    if (!interp_module_is_lowered(m) && !interp_lower(m, &diag)) goto done;
    lm.module = m;

    int64_t max_pp = 1, max_tg = 1;
    for (int i = 0; i < b.pp.len; i++)
        if (b.pp.data[i] > max_pp) max_pp = b.pp.data[i];
    for (int i = 0; i < b.tg.len; i++)
        if (b.tg.data[i] > max_tg) max_tg = b.tg.data[i];
    if (max_pp > m->max_seq || max_tg > m->max_seq) {
        fprintf(stderr, "hyc bench: a test is longer than the context of '%s' (max_seq %lld)\n", m->name, (long long)m->max_seq);
        goto done;
    }
    CgOptions co = {0};
    cg_target_lookup(b.target, &co.target);
    co.flags = "hyc bench --profile";
    /* the backend's default prefill batch (CgOptions.max_batch 0): a longer
     * prefill is split into calls of this many tokens */
    int64_t max_batch = m->max_seq < 256 ? m->max_seq : 256;

    if (!b.json && !b.dry_run) print_md_header();
    if (b.dry_run) {
        for (int pass = 0; pass < 2; pass++) {
            const I64Vec *list = pass == 0 ? &b.pp : &b.tg;
            for (int i = 0; i < list->len; i++) {
                if (list->data[i] <= 0) continue;
                Result r = {.prefill = pass == 0, .n = list->data[i], .threads = 0};
                r.test = arena_printf(&arena, "%s%lld", pass == 0 ? "pp" : "tg", (long long)r.n);
                r.cost = test_cost(m, r.prefill, r.n, max_batch, NULL, NULL);
                print_json(&r, m, b.model, co.target.name, 0);
            }
        }
        rc = HYC_EXIT_OK;
        goto done;
    }

    /* the compile step: hyc run --backend c's cache (cmd_build.c) */
    if (b.tuning_db) {
        int64_t most = 1;
        for (int i = 0; i < b.threads.len; i++)
            if (b.threads.data[i] > most) most = b.threads.data[i];
        if (!tuning_prepare(b.tuning_db, (int)most, &diag)) goto done;
    }
    rc = compiled_load(&lm, b.model, b.level, strcmp(b.backend, "llvm") == 0, true, b.seed, &arena, &diag, &cm);
    if (rc != HYC_EXIT_OK) goto done;
    rc = HYC_EXIT_USER;
    fprintf(stderr, "hyc bench: %s: %s (%s, %.1f s)\n", m->name, cm.entry, cm.cache_hit ? "cached" : "compiled", cm.build_s);
    const hycrt_model_desc *desc = cm.desc;
    if (b.profile) {
        /* the same program with the profile hooks compiled in; the weights
         * layout (and so the weights file) is the same */
        CgProgram *p = cg_lower_module(&arena, m, &co, &diag);
        prof_prog = p;
        if (p) tuning_apply(p, &arena, "hyc bench");
        const char *ident = p ? cg_c_ident(&arena, m->name) : NULL;
        const char *so = p ? bench_build_so(&arena, p, ident, true) : NULL;
        if (!so) goto done;
        prof_so = dlopen(so, RTLD_NOW | RTLD_LOCAL);
        desc = prof_so ? dlsym(prof_so, arena_printf(&arena, "%s_desc", ident)) : NULL;
        if (!desc) {
            fprintf(stderr, "hyc bench: cannot load %s: %s\n", so, dlerror());
            goto done;
        }
    }
    char err[1024];
    model = hycrt_model_open(desc, cm.weights_path, 1, HYCRT_WEIGHTS_NO_VERIFY, err, sizeof err);
    if (!model) {
        fprintf(stderr, "hyc bench: %s\n", err);
        goto done;
    }
    sess = hycrt_session_new(model);
    int V = desc->vocab;
    int64_t ntok = max_pp > max_tg ? max_pp : max_tg;
    tokens = xmalloc(sizeof(int32_t) * (size_t)ntok);
    logits = xmalloc(sizeof(float) * (size_t)V);
    if (!sess) {
        fprintf(stderr, "hyc bench: out of memory\n");
        goto done;
    }
    uint64_t rng = 0x9e3779b97f4a7c15ull ^ b.seed;
    for (int64_t i = 0; i < ntok; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        tokens[i] = (int32_t)((rng >> 33) % (uint64_t)V);
    }
    res.samples = xmalloc(sizeof(double) * (size_t)b.reps);
    for (int ti = 0; ti < b.threads.len; ti++) {
        int nth = (int)b.threads.data[ti];
        hycrt_pool *pool = hycrt_pool_new(nth);
        if (!pool) {
            fprintf(stderr, "hyc bench: cannot start %d threads\n", nth);
            goto done;
        }
        hycrt_session_set_pool(sess, pool);
        double cg = 0, cb = 0;
        roofline_get(nth, false, &cg, &cb, stderr);
        for (int pass = 0; pass < 2; pass++) {
            const I64Vec *list = pass == 0 ? &b.pp : &b.tg;
            for (int i = 0; i < list->len; i++) {
                if (list->data[i] <= 0) continue;
                Result *r = &res;
                r->prefill = pass == 0;
                r->n = list->data[i];
                r->threads = nth;
                r->test = arena_printf(&arena, "%s%lld", pass == 0 ? "pp" : "tg", (long long)r->n);
                r->cost = test_cost(m, r->prefill, r->n, max_batch, NULL, NULL);
                r->ceil_gflops = cg;
                r->ceil_gbps = cb;
                r->n_samples = 0;
                bool failed = run_once(sess, r->prefill, tokens, (int)r->n, logits) < 0; /* warm-up */
                for (int64_t k = 0; k < b.reps && !failed; k++) {
                    double s = run_once(sess, r->prefill, tokens, (int)r->n, logits);
                    if (s < 0) failed = true;
                    else r->samples[r->n_samples++] = (double)r->n / s;
                }
                if (failed) {
                    fprintf(stderr, "hyc bench: %s: %s\n", r->test, hycrt_session_error(sess));
                    hycrt_session_set_pool(sess, NULL);
                    hycrt_pool_free(pool);
                    goto done;
                }
                double sum = 0, sq = 0;
                for (int k = 0; k < r->n_samples; k++) sum += r->samples[k];
                r->mean = sum / r->n_samples;
                for (int k = 0; k < r->n_samples; k++) sq += (r->samples[k] - r->mean) * (r->samples[k] - r->mean);
                r->std = r->n_samples > 1 ? sqrt(sq / (r->n_samples - 1)) : 0;
                if (b.json) print_json(r, m, b.model, co.target.name, b.reps);
                else print_md(r, m);
                if (b.profile) {
                    if (hycrt_session_profile(sess, 1) != 0) {
                        fprintf(stderr, "hyc bench: --profile: the model has no kernel table\n");
                    } else {
                        run_once(sess, r->prefill, tokens, (int)r->n, logits);
                        fprintf(stderr, "== profile: %s %s, %d thread%s\n", m->name, r->test, nth, nth == 1 ? "" : "s");
                        if (prof_prog && desc->n_kernels == prof_prog->n_kernels)
                            print_profile(sess, prof_prog, r, max_batch);
                        else
                            hycrt_session_profile_print(sess, stderr);
                        print_matmul_share(sess, desc, prof_prog, r);
                        hycrt_session_profile(sess, 0);
                    }
                }
            }
        }
        hycrt_session_set_pool(sess, NULL);
        hycrt_pool_free(pool);
    }
    rc = HYC_EXIT_OK;
done:
    free(res.samples);
    free(tokens);
    free(logits);
    if (sess) hycrt_session_free(sess);
    if (model) hycrt_model_close(model);
    if (prof_so) dlclose(prof_so);
    compiled_unload(&cm);
    if (diag.n_errors && rc == HYC_EXIT_OK) rc = HYC_EXIT_USER;
    intern_free(&in);
    arena_free(&arena);
out_args:
    vec_free(&b.pp);
    vec_free(&b.tg);
    vec_free(&b.threads);
    return rc;
}
