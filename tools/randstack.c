/* randstack.c — random but valid hybrid models (.hyb) for the differential
 * test (tests/run_diff.sh, docs/testing.md).
 *
 *   randstack SEED [-n N] [-o DIR] [-i INDEX] [-v] [-k]
 *
 * writes DIR/rand0000.hyb ... DIR/rand{N-1}.hyb: small models (d_model 16..96,
 * vocab 64..300, 1..6 layers) mixing every sublayer kind of the language
 * (attention, mamba1, mamba2, short_conv, deltanet, mlp, moe, parallel, use
 * of a shared_block) with random hyper-parameters, stacks written in every
 * form (fill + place every/at/ratio, pattern + symbols [+ repeat, + place])
 * and model-level knobs.  Every model must pass `hyc check`: one that does
 * not is a bug here (or in sema).  The text is deliberately not canonical
 * (compact blocks, `;`, quoted enumerations and keys, comments, blank lines,
 * keys in random order) so that `hyc fmt` has work to do.
 *
 * Each file starts with comments the test reads:
 *
 *   # tokens: 5,17,3,...            T = 9 token ids below vocab
 *   # random-weights: 12345         the seed for hyc run --random-weights
 *   # states: f32                   or "reduced": kv_dtype / ssm_dtype
 *                                   round the states between calls
 *
 * Determinism: the output depends only on SEED and the model's index, on
 * any platform and compiler (one random draw per statement wherever the
 * order of evaluation would be unspecified).  The generator steers each
 * choice towards the variants drawn least so far (half of the draws; the
 * other half are uniform), so that a run of 50 covers every variant; model
 * i therefore depends on models 0..i-1 as well, and `-i INDEX` regenerates
 * (silently) the models before INDEX to write the same file as a full run.
 * -v prints the coverage table: how often each variant of each feature was
 * drawn; -k every block kind, key and word value written, which
 * tests/run_diff.sh compares with `hyc check --keys` to notice keys and
 * values the generator does not know yet.
 *
 * Numerics: the test compares runs of the same model by a relative error of
 * 1e-4, so a model must not amplify float32 rounding that much.  Valid
 * models that do are avoided, each where it is drawn: norm = false only on
 * attention (an unnormed SSM or MLP input grows polynomially per layer, to
 * inf), at most one residual = false per model, in a layer at one depth (a
 * stack of plain non-residual maps amplifies ~10x per layer), deltanet
 * heads of at least 4 channels and branch widths split into heads of at
 * least 4 (the L2 / RMS norm of 1-2 near-zero channels is near singular).
 * A shape not on that list that amplifies rounding is to be added to it,
 * not hidden by a looser metric.  (MoE routing stays a rare exception: a
 * near tie between the k-th and (k+1)-th expert flips with one rounding.)
 *
 * C11 and POSIX (open_memstream, mkdir); built by the Makefile as
 * $(BUILD)/tests/randstack.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define N_TOKENS 9 /* T of the test: chunk sizes and windows are chosen around it */

/* ---- random numbers ----------------------------------------------------------- */

typedef struct Rng {
    uint64_t s;
} Rng;

static uint64_t rng_next(Rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static int rng_below(Rng *r, int n) { return n <= 1 ? 0 : (int)(rng_next(r) % (uint64_t)n); }
/* Uniform in [lo, hi]. */
static int rng_int(Rng *r, int lo, int hi) { return lo + rng_below(r, hi - lo + 1); }
/* True with probability p. */
static bool rng_chance(Rng *r, double p) { return (double)(rng_next(r) >> 11) * 0x1.0p-53 < p; }

/* ---- features and their coverage ------------------------------------------------ */

/* Every choice the generator makes between variants is a feature; the
 * coverage table counts how often each variant was drawn.  X(ID, name,
 * variant...) */
#define FEATURES(X)                                                                                        \
    X(F_NORM, "model.norm", "rmsnorm", "layernorm")                                                        \
    X(F_NORM_OFFSET, "model.norm_offset", "0", "1")                                                        \
    X(F_NORM_EPS, "model.norm_eps", "default", "given")                                                    \
    X(F_TIE, "model.tie_embeddings", "true", "false")                                                      \
    X(F_FINAL_NORM, "model.final_norm", "true", "false")                                                   \
    X(F_EMB_SCALE, "model.embedding_scale", "1", "other")                                                  \
    X(F_LOGITS_SCALE, "model.logits_scale", "1", "other")                                                  \
    X(F_RES_SCALE, "model.residual_scale", "1", "other")                                                   \
    X(F_MAX_SEQ, "model.max_seq", "default", "=T", ">T")                                                   \
    X(F_DTYPE, "model.kv_dtype/ssm_dtype", "f32", "kv reduced", "ssm reduced", "both reduced")           \
    X(F_DTYPE16, "model.reduced dtype", "bf16", "f16")                                                     \
    X(F_LAYERS, "stack.layers", "1", "2", "3", "4", "5", "6")                                              \
    X(F_STACK, "stack.form", "fill", "fill+every", "fill+at", "fill+ratio", "fill+places", "pattern",      \
      "pattern+repeat", "pattern+place")                                                                   \
    X(F_RATIO_PL, "stack.ratio.placement", "default", "middle", "scatter", "cluster", "sandwich")          \
    X(F_SYMBOL, "stack.symbol", "letter", "punctuation")                                                   \
    X(F_KIND, "sublayer.kind", "attention", "mamba1", "mamba2", "short_conv", "deltanet", "mlp", "moe",    \
      "parallel", "use")                                                                                   \
    X(F_SUB_NORM, "sublayer.norm", "true", "false")                                                        \
    X(F_SUB_RESID, "sublayer.residual", "true", "false")                                                   \
    X(F_SUB_SCALES, "sublayer.in/out_scale", "none", "in", "out", "both")                                  \
    X(F_ATT_KV, "attention.heads", "MHA", "GQA", "MQA")                                                    \
    X(F_ATT_HD, "attention.head_dim", "derived", "given")                                                  \
    X(F_ATT_ROPE, "attention.rope", "off", "full", "partial")                                              \
    X(F_ATT_PAIRING, "attention.rope_pairing", "half", "interleaved")                                      \
    X(F_ATT_SCALING, "attention.rope_scaling", "none", "linear", "llama3", "ntk", "yarn")                  \
    X(F_CALL_ARGS, "text.call arguments", "positional", "named", "mixed")                                  \
    X(F_ATT_WINDOW, "attention.window", "0", "<T", ">=T")                                                  \
    X(F_ATT_QKN, "attention.qk_norm", "none", "rms")                                                       \
    X(F_ATT_GATE, "attention.output_gate", "false", "true")                                                \
    X(F_ATT_BIAS, "attention.bias", "false", "true")                                                       \
    X(F_ATT_KSCALE, "attention.key_scale", "1", "other")                                                   \
    X(F_ATT_SCALE, "attention.scale", "default", "given")                                                  \
    X(F_ATT_WHERE, "attention.where", "layer", "branch", "shared")                                         \
    X(F_KV_SHARE, "attention.kv_share", "none", "layer name", "depth offset")                              \
    X(F_M1_DCONV, "mamba1.d_conv", "2", "3", "4")                                                          \
    X(F_M1_INNER, "mamba1.d_inner", "default", "expand", "d_inner", "both")                                \
    X(F_M1_DTRANK, "mamba1.dt_rank", "derived", "given")                                                   \
    X(F_M1_NORMS, "mamba1.inner_norms", "none", "rms", "rms_unweighted")                                   \
    X(F_M1_CONVB, "mamba1.conv_bias", "true", "false")                                                     \
    X(F_M1_BIAS, "mamba1.bias", "false", "true")                                                           \
    X(F_CONV_ACT, "mamba1/2,deltanet.conv_act", "silu", "gelu", "gelu_tanh", "relu2")                 \
    X(F_M2_SHAPE, "mamba2.shape", "head_dim", "d_inner", "both", "default")                                \
    X(F_M2_GROUPS, "mamba2.groups", "1", "some", "=heads")                                                 \
    X(F_M2_NGROUPS, "mamba2.norm_groups", "default", "1", "other")                                         \
    X(F_M2_CHUNK, "mamba2.chunk", "1", "2", "3", "4", "5", "7", "8", "16", "default")                      \
    X(F_M2_DCONV, "mamba2.d_conv", "2", "3", "4")                                                          \
    X(F_M2_GNORM, "mamba2.gated_norm", "true", "false")                                                    \
    X(F_M2_NBG, "mamba2.norm_before_gate", "false", "true")                                                \
    X(F_M2_DT, "mamba2.dt_min/dt_max", "none", "min", "max", "both", "max=inf")                            \
    X(F_M2_SCALES, "mamba2.in_proj_scales", "default", "given")                                            \
    X(F_M2_BIAS, "mamba2.bias/out_bias", "false", "true", "in only", "out only")                          \
    X(F_M2_CONVB, "mamba2.conv_bias", "true", "false")                                                     \
    X(F_SC_DCONV, "short_conv.d_conv", "default", "2", "3", "4")                                           \
    X(F_SC_BIAS, "short_conv.bias", "false", "true")                                                       \
    X(F_DN_HEADS, "deltanet.value_heads", "=key_heads", "multiple")                                        \
    X(F_DN_DIMS, "deltanet.key/value_dim", "small", "default")                                             \
    X(F_DN_DCONV, "deltanet.d_conv", "2", "3", "4")                                                        \
    X(F_MLP_ACT, "mlp.act", "swiglu", "geglu", "relu2", "gelu", "silu", "gelu_tanh", "geglu_tanh")         \
    X(F_MLP_BIAS, "mlp.bias", "false", "true")                                                             \
    X(F_MLP_SCALES, "mlp.gate/down_scale", "none", "gate", "down", "both")                                 \
    X(F_MOE_ROUTING, "moe.routing", "softmax_topk", "topk_softmax", "sigmoid_topk")                        \
    X(F_MOE_TOPK, "moe.top_k", "1", "<experts", "=experts")                                                \
    X(F_MOE_RENORM, "moe.renormalize", "false", "true")                                                    \
    X(F_MOE_ACT, "moe.act", "swiglu", "geglu", "relu2", "gelu", "silu", "gelu_tanh", "geglu_tanh")         \
    X(F_MOE_RSCALE, "moe.routed_scale", "1", "other")                                                      \
    X(F_MOE_SHARED, "moe.shared expert", "none", "ungated", "shared_gate")                                 \
    X(F_MOE_GROUPS, "moe.route_groups", "1", ">1", ">1, topk_groups")                                      \
    X(F_MOE_LATENT, "moe.latent", "none", "given")                                                         \
    X(F_PAR_NB, "parallel.branches", "2", "3")                                                             \
    X(F_PAR_BRANCH, "parallel.branch", "attention", "mamba1", "mamba2", "short_conv", "deltanet")          \
    X(F_PAR_BNORM, "parallel.branch_norm", "none", "rms", "group")                                         \
    X(F_PAR_BSCALE, "parallel.branch_scale", "none", "scale", "gate")                                      \
    X(F_PAR_COMBINE, "parallel.combine", "add", "diff", "mean", "concat")                                  \
    X(F_PAR_OUT, "parallel.out_proj", "per_branch", "shared")                                              \
    X(F_PAR_BRSCALES, "parallel.branch in/out_scale", "none", "given")                                     \
    X(F_SH_INPUT, "shared_block.input", "concat_embedding", "residual")                                    \
    X(F_SH_ADAPT, "shared_block.adapters", "none", "attention", "mlp", "both")                             \
    X(F_SH_IWIDTH, "shared_block.input_width", "derived", "given")                                         \
    X(F_SH_SITES, "shared_block.uses", "1", ">1")                                                          \
    X(F_FMT_BLOCK, "text.block", "canonical", "compact")                                                   \
    X(F_FMT_ENUM, "text.enum value", "bare", "quoted")                                                     \
    X(F_FMT_EXTRA, "text.extras", "none", "comment", "semicolon", "quoted key", "blank line")

#define X_ENUM(id, ...) id,
typedef enum FeatId { FEATURES(X_ENUM) N_FEATS } FeatId;
#undef X_ENUM

#define MAX_VARIANTS 12

typedef struct Feat {
    const char *name;
    const char *val[MAX_VARIANTS + 1];
    long count[MAX_VARIANTS];
    int n;
} Feat;

#define X_TABLE(id, nm, ...) {.name = nm, .val = {__VA_ARGS__, NULL}},
static Feat g_feats[N_FEATS] = {FEATURES(X_TABLE)};
#undef X_TABLE

static void feats_init(void)
{
    for (int i = 0; i < N_FEATS; i++) {
        Feat *f = &g_feats[i];
        while (f->val[f->n]) f->n++;
        if (f->n > MAX_VARIANTS) abort();
    }
}

#define ALL (~0u)
#define BIT(i) (1u << (i))

/* Draw a variant of feature `id` among those in `mask`: half the time the
 * least drawn so far (ties at random), else uniform. */
static int pickm(Rng *r, FeatId id, unsigned mask)
{
    Feat *f = &g_feats[id];
    mask &= (1u << f->n) - 1;
    if (!mask) {
        fprintf(stderr, "randstack: internal error: no allowed variant of %s\n", f->name);
        abort();
    }
    int cand[MAX_VARIANTS], nc = 0;
    bool least = rng_chance(r, 0.5);
    long min = LONG_MAX;
    for (int i = 0; i < f->n; i++)
        if ((mask & BIT(i)) && f->count[i] < min) min = f->count[i];
    for (int i = 0; i < f->n; i++)
        if ((mask & BIT(i)) && (!least || f->count[i] == min)) cand[nc++] = i;
    int v = cand[rng_below(r, nc)];
    f->count[v]++;
    return v;
}

static int pick(Rng *r, FeatId id) { return pickm(r, id, ALL); }

/* Record a variant chosen by a constraint, not drawn. */
static void note(FeatId id, int v) { g_feats[id].count[v]++; }

/* ---- the text: a tree of blocks and settings --------------------------------- */

typedef struct Node Node;
struct Node {
    bool block;
    char *key;       /* setting key or block kind */
    char *label;     /* block name, or NULL */
    char *value;     /* a setting's value text */
    bool is_enum;    /* the value is an enumerated word that may be quoted */
    bool may_quote_key;
    Node **kids;
    int n, cap;
};

/* Every node and string of one model, freed together. */
static void **g_pool;
static int g_pool_n, g_pool_cap;

static void *pool_add(void *p)
{
    if (!p) {
        fprintf(stderr, "randstack: out of memory\n");
        exit(1);
    }
    if (g_pool_n == g_pool_cap) {
        g_pool_cap = g_pool_cap ? 2 * g_pool_cap : 256;
        g_pool = realloc(g_pool, sizeof *g_pool * (size_t)g_pool_cap);
        if (!g_pool) exit(1);
    }
    g_pool[g_pool_n++] = p;
    return p;
}

static void pool_free(void)
{
    for (int i = 0; i < g_pool_n; i++) free(g_pool[i]);
    g_pool_n = 0;
}

static char *fmtstr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmtstr(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = pool_add(malloc((size_t)n + 1));
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static Node *node_new(bool block, const char *key)
{
    Node *n = pool_add(calloc(1, sizeof *n));
    n->block = block;
    n->key = fmtstr("%s", key);
    n->may_quote_key = true;
    return n;
}

static void add(Node *parent, Node *kid)
{
    if (parent->n == parent->cap) {
        parent->cap = parent->cap ? 2 * parent->cap : 8;
        Node **k = pool_add(malloc(sizeof *k * (size_t)parent->cap));
        if (parent->n) memcpy(k, parent->kids, sizeof *k * (size_t)parent->n);
        parent->kids = k; /* the old array stays in the pool */
    }
    parent->kids[parent->n++] = kid;
}

static Node *block(Node *parent, const char *kind, const char *label)
{
    Node *b = node_new(true, kind);
    if (label) b->label = fmtstr("%s", label);
    if (parent) add(parent, b);
    return b;
}

/* Every (block kind, key, value word) written, for -k. */
static char **g_written;
static int g_n_written, g_cap_written;

static void record_written(const char *blk, const char *key, const char *value)
{
    /* the value when it is a word (an enumeration, a name) or a call's name */
    char word[64] = "";
    size_t n = strspn(value, "abcdefghijklmnopqrstuvwxyz_0123456789");
    if (n && n < sizeof word && (value[n] == 0 || value[n] == '(') && !(value[0] >= '0' && value[0] <= '9'))
        memcpy(word, value, n), word[n] = 0;
    char line[256];
    snprintf(line, sizeof line, "%s %s%s%s", blk, key, word[0] ? " " : "", word);
    for (int i = 0; i < g_n_written; i++)
        if (strcmp(g_written[i], line) == 0) return;
    if (g_n_written == g_cap_written) {
        g_cap_written = g_cap_written ? 2 * g_cap_written : 256;
        g_written = realloc(g_written, sizeof *g_written * (size_t)g_cap_written);
        if (!g_written) exit(1);
    }
    g_written[g_n_written] = malloc(strlen(line) + 1);
    if (!g_written[g_n_written]) exit(1);
    strcpy(g_written[g_n_written++], line);
}

static void set_raw(Node *b, const char *key, const char *value, bool is_enum)
{
    record_written(b->key, key, value);
    Node *s = node_new(false, key);
    s->value = fmtstr("%s", value);
    s->is_enum = is_enum;
    add(b, s);
}

static void set_int(Node *b, const char *key, long v) { set_raw(b, key, fmtstr("%ld", v), false); }
static void set_word(Node *b, const char *key, const char *w) { set_raw(b, key, w, false); }
static void set_enum(Node *b, const char *key, const char *w) { set_raw(b, key, w, true); }
static void set_bool(Node *b, const char *key, bool v) { set_raw(b, key, v ? "true" : "false", false); }

/* A float as one of several spellings of the same number ("0.5", ".5",
 * "5e-1"): fmt keeps numbers as written. */
static void set_float(Rng *r, Node *b, const char *key, const char *const *spellings, int n)
{
    set_raw(b, key, spellings[rng_below(r, n)], false);
}
#define SET_FLOAT(r, b, key, ...)                                                                          \
    set_float((r), (b), (key), (const char *const[]){__VA_ARGS__},                                         \
              (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)))

/* A scale away from 1, in one of its spellings. */
static void set_scale(Rng *r, Node *b, const char *key)
{
    static const char *const s[][3] = {
        {"0.5", ".5", "5e-1"}, {"0.8", "0.8", ".8"},  {"1.25", "1.25", "125e-2"}, {"2", "2.0", "2."},
        {"0.9", "0.9", "9e-1"}, {"1.1", "1.1", "1.1"}, {"-0.75", "-0.75", "-.75"}, {"0.25", "0.25", "2.5e-1"},
    };
    int i = rng_below(r, (int)(sizeof s / sizeof s[0]));
    /* Negative scales only where any sign is harmless. */
    if (i == 6 && rng_chance(r, 0.5)) i = 4;
    set_raw(b, key, s[i][rng_below(r, 3)], false);
}

/* Whether to write a key whose value is the default anyway. */
static bool explicit_default(Rng *r) { return rng_chance(r, 0.25); }

/* An enumerated key: written when not the default, else sometimes; the
 * value counts as written either way (-k), since leaving it out uses it. */
static void opt_enum(Rng *r, Node *b, const char *key, const char *value, bool is_default)
{
    if (!is_default || explicit_default(r))
        set_enum(b, key, value);
    else
        record_written(b->key, key, value);
}

/* ---- printing -------------------------------------------------------------------- */

typedef struct Out {
    FILE *f;
    Rng *r;
} Out;

static bool is_ident(const char *s)
{
    if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))) return false;
    for (const char *p = s + 1; *p; p++)
        if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            return false;
    return true;
}

static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void put_key(Out *o, const Node *s)
{
    bool quote = !is_ident(s->key);
    if (!quote && s->may_quote_key && rng_chance(o->r, 0.03)) {
        quote = true;
        note(F_FMT_EXTRA, 3);
    }
    if (quote)
        put_string(o->f, s->key);
    else
        fputs(s->key, o->f);
}

static void put_setting(Out *o, const Node *s)
{
    put_key(o, s);
    fputs(" = ", o->f);
    if (s->is_enum && rng_chance(o->r, 0.2)) {
        note(F_FMT_ENUM, 1);
        put_string(o->f, s->value);
    } else {
        if (s->is_enum) note(F_FMT_ENUM, 0);
        fputs(s->value, o->f);
    }
}

static void indent(Out *o, int depth)
{
    for (int i = 0; i < depth; i++) fputs("  ", o->f);
}

/* Settings first, in random order, then the blocks in theirs. */
static void order_kids(Out *o, const Node *b, const Node **out)
{
    int n = 0;
    for (int i = 0; i < b->n; i++)
        if (!b->kids[i]->block) out[n++] = b->kids[i];
    for (int i = n - 1; i > 0; i--) {
        int j = rng_below(o->r, i + 1);
        const Node *t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
    for (int i = 0; i < b->n; i++)
        if (b->kids[i]->block) out[n++] = b->kids[i];
}

static void put_block(Out *o, const Node *b, int depth, bool compact);

/* A block on one line: `kind label { k = v  k2 = v2  sub { ... } }`. */
static void put_compact(Out *o, const Node *b)
{
    fputs(b->key, o->f);
    if (b->label) fprintf(o->f, " %s", b->label);
    if (b->n == 0) {
        fputs(rng_chance(o->r, 0.5) ? " {}" : " { }", o->f);
        return;
    }
    fputs(" { ", o->f);
    const Node **kids = pool_add(malloc(sizeof *kids * (size_t)b->n));
    order_kids(o, b, kids);
    for (int i = 0; i < b->n; i++) {
        if (i) fputs(rng_chance(o->r, 0.15) ? "; " : "  ", o->f);
        if (kids[i]->block)
            put_compact(o, kids[i]);
        else
            put_setting(o, kids[i]);
    }
    fputs(" }", o->f);
}

static const char *const g_comments[] = {
    "a comment", "µP knobs and shapes are random", "see tools/randstack.c", "# nested hash", "tab\tand µ",
};

static void put_block(Out *o, const Node *b, int depth, bool compact)
{
    indent(o, depth);
    if (compact) {
        put_compact(o, b);
        fputc('\n', o->f);
        return;
    }
    fputs(b->key, o->f);
    if (b->label) fprintf(o->f, " %s", b->label);
    if (b->n == 0) {
        fputs(" {}\n", o->f);
        return;
    }
    fputs(" {\n", o->f);
    const Node **kids = pool_add(malloc(sizeof *kids * (size_t)b->n));
    order_kids(o, b, kids);
    for (int i = 0; i < b->n; i++) {
        const Node *k = kids[i];
        int extra = rng_chance(o->r, 0.06) ? 1 + rng_below(o->r, 4) : 0; /* comment; ; quoted key; blank */
        if (extra == 3) extra = 4;                                       /* quoted keys: put_key */
        note(F_FMT_EXTRA, extra);
        if (extra == 4 && i > 0) fputc('\n', o->f);
        if (extra == 1 && rng_chance(o->r, 0.5)) {
            indent(o, depth + 1);
            fprintf(o->f, "#%s\n", g_comments[rng_below(o->r, 5)]);
        }
        if (k->block) {
            bool c = !k->n || rng_chance(o->r, 0.3);
            note(F_FMT_BLOCK, c);
            put_block(o, k, depth + 1, c);
            continue;
        }
        indent(o, depth + 1);
        put_setting(o, k);
        if (extra == 2) fputc(';', o->f);
        if (extra == 1) fprintf(o->f, "  # %s", g_comments[rng_below(o->r, 5)]);
        fputc('\n', o->f);
    }
    indent(o, depth);
    fputs("}\n", o->f);
}

/* ---- the model: shapes ------------------------------------------------------------- */

typedef enum Kind { K_ATTN, K_MAMBA1, K_MAMBA2, K_SHORT_CONV, K_DELTANET, K_MLP, K_MOE, K_PARALLEL, K_USE } Kind;

typedef enum Where { W_LAYER, W_BRANCH, W_SHARED } Where;

/* The shape an attention was given (for a kv_share reader of its cache). */
typedef struct AttnShape {
    int heads, kv_heads, head_dim;
} AttnShape;

typedef struct Gen {
    Rng *r;
    int d;                /* d_model */
    int n_shared;         /* shared blocks sh0, sh1, ... */
    char shared_names[2][16];
    int shared_uses[2];   /* layer definitions that use each */
    int cur_depths;       /* depths of the stack the layer being made sits at */
    AttnShape last_attn;  /* of the last attention sublayer made */
    bool resid_false_used; /* a sublayer with residual = false exists */
} Gen;

/* Divisors of n in [lo, hi], into out; returns how many. */
static int divisors(int n, int lo, int hi, int *out)
{
    int k = 0;
    for (int i = lo; i <= hi && i <= n; i++)
        if (n % i == 0) out[k++] = i;
    return k;
}

/* The most heads a width of `w` is split into (a parallel branch of a given
 * width): heads keep at least 4 channels, because per-head norms (qk_norm,
 * group branch norms, the delta rule's L2 norm) over 1 or 2 channels are
 * near singular, and such a model amplifies float32 rounding past the
 * metric.  At most 16 heads; at least 1. */
static int heads_cap(int w)
{
    int h = w / 4;
    return h < 1 ? 1 : h > 16 ? 16 : h;
}

static int pick_of(Rng *r, const int *xs, int n) { return xs[rng_below(r, n)]; }

/* Keys every sublayer accepts (not `use`; a branch only the scales). */
static void common_keys(Gen *g, Node *b, Where w, Kind k)
{
    Rng *r = g->r;
    if (w == W_LAYER || w == W_SHARED) {
        /* norm = false and residual = false are rare: each stops a layer
         * from being a pre-norm residual.  norm = false only on attention,
         * whose output is linear in its input: a sublayer that multiplies
         * input-dependent terms (SSMs, gated convolutions, MLPs) grows the
         * unnormed stream polynomially per layer, and a few layers of that
         * overflow float32 (NaN logits in every engine; not a bug). */
        int nv = pickm(r, F_SUB_NORM, k == K_ATTN && rng_chance(r, 0.4) ? ALL : BIT(0));
        if (nv == 1 || explicit_default(r)) set_bool(b, "norm", nv == 0);
        if (w == W_LAYER) {
            /* residual = false makes a layer a plain (non-residual) map;
             * a stack of several is a deep random network whose rounding
             * errors grow ~10x per layer, past the metric's 1e-4 between
             * prefill and decode (ill-conditioned, not wrong).  So: at most
             * one per model, in a layer at one depth. */
            bool may = g->cur_depths == 1 && !g->resid_false_used && rng_chance(r, 0.3);
            int rv = pickm(r, F_SUB_RESID, may ? ALL : BIT(0));
            if (rv == 1) g->resid_false_used = true;
            if (rv == 1 || explicit_default(r)) set_bool(b, "residual", rv == 0);
        }
        int sv = pickm(r, F_SUB_SCALES, rng_chance(r, 0.5) ? BIT(0) : ALL);
        if (sv & 1) set_scale(r, b, "in_scale");
        if (sv & 2) set_scale(r, b, "out_scale");
    } else {
        int v = pick(r, F_PAR_BRSCALES);
        if (v) {
            if (rng_chance(r, 0.7)) set_scale(r, b, "in_scale");
            if (rng_chance(r, 0.7)) set_scale(r, b, "out_scale");
        }
    }
}

/* Partial rope: the fractions offered, each in two spellings. */
static const char *const g_fracs[][2] = {{"0.5", ".5"}, {"0.25", "0.25"}, {"0.75", "0.75"}, {"0.125", "1.25e-1"}};
static const double g_frac_v[] = {0.5, 0.25, 0.75, 0.125};

/* Does rope_fraction f rotate an even whole number of a head's hd dims? */
static bool frac_ok(int hd, double f)
{
    double x = f * hd;
    long w = (long)(x + 0.5);
    return x == (double)w && w % 2 == 0 && w > 0;
}

/* A call value: name(args), each argument by position or by name
 * (positional ones first). */
static void set_call(Rng *r, Node *b, const char *key, const char *fn, int n, const char *const *names,
                     const char *const *vals)
{
    int form = pick(r, F_CALL_ARGS); /* positional named mixed */
    int named_from = form == 0 ? n : form == 1 ? 0 : rng_int(r, 0, n);
    char buf[256];
    int k = snprintf(buf, sizeof buf, "%s(", fn);
    for (int i = 0; i < n; i++) {
        if (i >= named_from)
            k += snprintf(buf + k, sizeof buf - (size_t)k, "%s%s = %s", i ? ", " : "", names[i], vals[i]);
        else
            k += snprintf(buf + k, sizeof buf - (size_t)k, "%s%s", i ? ", " : "", vals[i]);
    }
    snprintf(buf + k, sizeof buf - (size_t)k, ")");
    set_raw(b, key, buf, false);
}

/* rope_scaling: none, linear, llama3, ntk, yarn, with arguments that make a
 * difference within a few positions (small original_max). */
static void rope_scaling(Rng *r, Node *b, unsigned mask)
{
    static const char *const factors[] = {"2", "4", "8.0", "1.5", "0.5", "32"};
    static const char *const origs[] = {"4", "8", "16", "64", "8192"};
    const char *factor = factors[rng_below(r, 6)], *orig = origs[rng_below(r, 5)];
    switch (pickm(r, F_ATT_SCALING, mask)) {
    case 0:
        if (rng_chance(r, 0.4)) set_word(b, "rope_scaling", rng_chance(r, 0.5) ? "none" : "none()");
        break;
    case 1: set_call(r, b, "rope_scaling", "linear", 1, (const char *[]){"factor"}, &factor); break;
    case 2: {
        static const char *const lh[][2] = {{"1", "4"}, {"0.5", "2"}, {"1.0", "1.5"}};
        int i = rng_below(r, 3);
        const char *v[] = {factor, lh[i][0], lh[i][1], orig};
        set_call(r, b, "rope_scaling", "llama3", 4,
                 (const char *[]){"factor", "low_freq_factor", "high_freq_factor", "original_max"}, v);
        break;
    }
    case 3: {
        static const char *const alphas[] = {"2", "0.5", "3.5", "1"};
        const char *v[] = {alphas[rng_below(r, 4)]};
        set_call(r, b, "rope_scaling", "ntk", 1, (const char *[]){"alpha"}, v);
        break;
    }
    case 4: {
        static const char *const names[] = {"factor", "original_max", "beta_fast", "beta_slow", "attention_factor"};
        static const char *const betas[][2] = {{"32", "1"}, {"4", "2"}, {"8.0", "0.5"}};
        int i = rng_below(r, 3);
        const char *v[] = {factor, orig, betas[i][0], betas[i][1], rng_chance(r, 0.5) ? "1.2" : "0.9"};
        set_call(r, b, "rope_scaling", "yarn", rng_chance(r, 0.4) ? 2 : rng_int(r, 3, 5), names, v);
        break;
    }
    }
}

/* attention reading `in_w`; `want` > 0: heads × head_dim must equal it. */
static void gen_attention(Gen *g, Node *b, Where w, int in_w, int want, bool concat_first, int *adapters,
                          AttnShape *shape)
{
    Rng *r = g->r;
    int hs[64], nh;
    int kv_kind, H = 1, hd = 0;
    bool derived = false;
    note(F_ATT_WHERE, w == W_LAYER ? 0 : w == W_BRANCH ? 1 : 2);
    /* The shape: heads H, head_dim hd, derived or given. */
    for (int tries = 0;; tries++) {
        kv_kind = pick(r, F_ATT_KV); /* MHA GQA MQA */
        int wd = want;
        if (wd) {
            nh = divisors(wd, 1, heads_cap(wd), hs);
        } else {
            nh = 0;
            for (int i = 1; i <= 8; i++) hs[nh++] = i;
        }
        /* GQA needs H with a divisor strictly between 1 and H, MQA H >= 2. */
        int ok[64], nok = 0;
        for (int i = 0; i < nh; i++) {
            int h = hs[i];
            bool fine = kv_kind == 0 || (kv_kind == 2 && h >= 2) || (kv_kind == 1 && h >= 4 && h % 2 == 0);
            if (fine) ok[nok++] = h;
        }
        if (nok == 0) {
            g_feats[F_ATT_KV].count[kv_kind]--; /* not drawn after all */
            if (tries > 20) kv_kind = 0, ok[nok++] = hs[0];
            else continue;
        }
        H = pick_of(r, ok, nok);
        bool can_derive = in_w % H == 0 && (!wd || in_w == wd);
        int dv = pickm(r, F_ATT_HD, can_derive ? ALL : BIT(1));
        derived = dv == 0;
        if (derived)
            hd = in_w / H;
        else if (wd)
            hd = wd / H;
        else {
            static const int hds[] = {2, 4, 6, 8, 8, 12, 16, 5};
            hd = hds[rng_below(r, 8)];
        }
        break;
    }
    int KV = H;
    if (kv_kind == 2) KV = 1;
    if (kv_kind == 1) {
        int ds[16], nd = 0;
        for (int i = 2; i < H; i++)
            if (H % i == 0) ds[nd++] = i;
        KV = pick_of(r, ds, nd);
    }
    set_int(b, "heads", H);
    if (KV != H || explicit_default(r)) set_int(b, "kv_heads", KV);
    if (!derived) set_int(b, "head_dim", hd);
    if (concat_first || w == W_SHARED) {
        if (pick(r, F_SH_IWIDTH)) set_int(b, "input_width", in_w);
    } else if (rng_chance(r, 0.05)) {
        set_int(b, "input_width", in_w);
    }
    /* rope */
    unsigned rm = BIT(0);
    if (frac_ok(hd, 1.0)) rm |= BIT(1);
    int fr[4], nfr = 0;
    for (int i = 0; i < 4; i++)
        if (frac_ok(hd, g_frac_v[i])) fr[nfr++] = i;
    if (nfr) rm |= BIT(2);
    int rope = pickm(r, F_ATT_ROPE, rm);
    if (rope == 0) {
        set_bool(b, "rope", false);
    } else {
        if (explicit_default(r)) set_bool(b, "rope", true);
        if (rope == 1 && rng_chance(r, 0.15)) SET_FLOAT(r, b, "rope_fraction", "1", "1.0", "1e0");
        if (rope == 2) {
            int f = pick_of(r, fr, nfr);
            set_raw(b, "rope_fraction", g_fracs[f][rng_below(r, 2)], false);
        }
        if (rng_chance(r, 0.4)) SET_FLOAT(r, b, "rope_base", "10000", "500000", "1e6", "1e11", "100.0", "10");
        int pv = pick(r, F_ATT_PAIRING);
        opt_enum(r, b, "rope_pairing", pv ? "interleaved" : "half", !pv);
        /* ntk needs more than 2 rotated dimensions */
        int rd = rope == 1 ? hd : 0;
        for (int i = 0; rope == 2 && i < b->n; i++)
            if (strcmp(b->kids[i]->key, "rope_fraction") == 0) rd = (int)(atof(b->kids[i]->value) * hd + 0.5);
        rope_scaling(r, b, rd > 2 ? ALL : ALL & ~BIT(3));
    }
    int wv = pick(r, F_ATT_WINDOW);
    if (wv == 1) set_int(b, "window", rng_int(r, 1, N_TOKENS - 1));
    if (wv == 2) set_int(b, "window", rng_chance(r, 0.5) ? N_TOKENS : rng_int(r, N_TOKENS + 1, 64));
    if (wv == 0 && explicit_default(r)) set_int(b, "window", 0);
    int qv = pick(r, F_ATT_QKN);
    opt_enum(r, b, "qk_norm", qv ? "rms" : "none", !qv);
    if (pick(r, F_ATT_GATE)) set_bool(b, "output_gate", true);
    if (pick(r, F_ATT_BIAS)) set_bool(b, "bias", true);
    if (pick(r, F_ATT_KSCALE)) set_scale(r, b, "key_scale");
    if (pick(r, F_ATT_SCALE)) SET_FLOAT(r, b, "scale", "0.25", "0.125", "0.5", "1", "0.3535533905932738", "1e-1");
    if (w == W_SHARED) {
        /* adapters: none, attention, mlp, both; one draw per shared block */
        if (*adapters < 0) *adapters = pick(r, F_SH_ADAPT);
        if (*adapters == 1 || *adapters == 3) set_int(b, "adapter_rank", rng_int(r, 1, 8));
        else if (explicit_default(r)) set_int(b, "adapter_rank", 0);
    }
    if (shape) *shape = (AttnShape){H, KV, hd};
}

/* An attention that reads the KV cache of attention `src` (of shape sh):
 * kv_share = `share` (a layer name or a depth offset).  It has its own
 * queries, so its heads, gate, biases and scales are its own; what made the
 * cached keys must be the source's: kv_heads, head_dim, window, qk_norm and
 * every rope key, copied as written. */
static void gen_kv_reader(Gen *g, Node *b, const Node *src, AttnShape sh, const char *share)
{
    Rng *r = g->r;
    common_keys(g, b, W_LAYER, K_ATTN);
    set_int(b, "heads", sh.kv_heads * rng_int(r, 1, 3));
    set_int(b, "kv_heads", sh.kv_heads);
    set_int(b, "head_dim", sh.head_dim);
    static const char *const copied[] = {"window", "qk_norm", "rope", "rope_base", "rope_fraction", "rope_pairing",
                                         "rope_scaling"};
    for (int i = 0; i < src->n; i++)
        for (int k = 0; k < 7; k++)
            if (strcmp(src->kids[i]->key, copied[k]) == 0)
                set_raw(b, src->kids[i]->key, src->kids[i]->value, src->kids[i]->is_enum);
    if (rng_chance(r, 0.3)) set_bool(b, "output_gate", true);
    if (rng_chance(r, 0.3)) set_bool(b, "bias", true);
    if (rng_chance(r, 0.3)) set_scale(r, b, "key_scale");
    set_raw(b, "kv_share", share, false);
}

/* The activation after a mixer's causal convolution. */
static void conv_act(Rng *r, Node *b)
{
    static const char *const acts[] = {"silu", "gelu", "gelu_tanh", "relu2"};
    int v = pick(r, F_CONV_ACT);
    opt_enum(r, b, "conv_act", acts[v], !v);
}

static void gen_mamba1(Gen *g, Node *b, int want)
{
    Rng *r = g->r;
    int d = g->d;
    static const int states[] = {1, 2, 4, 5, 8, 16};
    int d_state = states[rng_below(r, 6)];
    int dc = pick(r, F_M1_DCONV) + 2;
    if (dc != 4 || explicit_default(r)) set_int(b, "d_conv", dc);
    unsigned m = want ? (want % d == 0 ? BIT(1) | BIT(2) | BIT(3) | (want == 2 * d ? BIT(0) : 0) : BIT(2)) : ALL;
    int iv = pickm(r, F_M1_INNER, m);
    int E = want;
    if (!want) {
        if (iv == 0) E = 2 * d;
        else if (iv == 1 || iv == 3) E = d * rng_int(r, 1, 3);
        else E = 8 * rng_int(r, 1, 16);
    }
    if (iv == 1 || iv == 3) set_int(b, "expand", E / d);
    if (iv == 2 || iv == 3) set_int(b, "d_inner", E);
    int dt_rank = pick(r, F_M1_DTRANK) ? rng_int(r, 1, 8) : 0;
    int nv = pick(r, F_M1_NORMS);
    /* An RMS norm over one element is sign(x): a discontinuity that turns
     * float32 rounding differences between engines into O(1) ones.  Inner
     * norms get at least two elements (same random draws either way). */
    if (nv && d_state == 1) d_state = 2;
    if (nv && (dt_rank == 1 || (dt_rank == 0 && (d + 15) / 16 == 1))) dt_rank = 2;
    set_int(b, "d_state", d_state);
    if (dt_rank) set_int(b, "dt_rank", dt_rank);
    opt_enum(r, b, "inner_norms", (const char *[]){"none", "rms", "rms_unweighted"}[nv], !nv);
    if (nv && rng_chance(r, 0.3)) SET_FLOAT(r, b, "inner_norm_eps", "1e-6", "1e-5", "0.001");
    if (pick(r, F_M1_CONVB)) set_bool(b, "conv_bias", false);
    if (pick(r, F_M1_BIAS)) set_bool(b, "bias", true);
    conv_act(r, b);
}

static void gen_mamba2(Gen *g, Node *b, int want)
{
    Rng *r = g->r;
    int hs[64], nh, H, P;
    if (want) {
        nh = divisors(want, 1, heads_cap(want), hs);
        H = pick_of(r, hs, nh);
        P = want / H;
    } else {
        H = rng_int(r, 1, 8);
        static const int ps[] = {2, 4, 4, 8, 8, 16, 3};
        P = ps[rng_below(r, 7)];
    }
    /* default: head_dim 64 (only where H·64 is the width wanted, or small H) */
    unsigned m = BIT(0) | BIT(1) | BIT(2);
    if ((want && P == 64) || (!want && H <= 2)) m |= BIT(3);
    int sv = pickm(r, F_M2_SHAPE, m);
    if (sv == 3) P = 64;
    set_int(b, "heads", H);
    if (sv == 0 || sv == 2) set_int(b, "head_dim", P);
    if (sv == 1 || sv == 2) set_int(b, "d_inner", H * P);
    int ds[64], nd = divisors(H, 1, H, ds);
    unsigned gm = BIT(0) | (nd > 2 ? BIT(1) : 0) | (H > 1 ? BIT(2) : 0);
    int gv = pickm(r, F_M2_GROUPS, gm);
    int G = gv == 0 ? 1 : gv == 2 ? H : 0;
    if (gv == 1) {
        int mid[64], nm = 0;
        for (int i = 1; i + 1 < nd; i++) mid[nm++] = ds[i];
        G = pick_of(r, mid, nm);
    }
    if (G != 1 || explicit_default(r)) set_int(b, "groups", G);
    int ngv = pickm(r, F_M2_NGROUPS, H > 1 ? ALL : BIT(0) | BIT(1));
    if (ngv == 1) set_int(b, "norm_groups", 1);
    if (ngv == 2) set_int(b, "norm_groups", pick_of(r, ds, nd));
    static const int states[] = {1, 2, 4, 8, 16, 6};
    set_int(b, "d_state", states[rng_below(r, 6)]);
    int dc = pick(r, F_M2_DCONV) + 2;
    if (dc != 4 || explicit_default(r)) set_int(b, "d_conv", dc);
    static const int chunks[] = {1, 2, 3, 4, 5, 7, 8, 16, 256};
    int cv = pick(r, F_M2_CHUNK);
    if (cv != 8 || explicit_default(r)) set_int(b, "chunk", chunks[cv]);
    if (pick(r, F_M2_GNORM)) set_bool(b, "gated_norm", false);
    if (pick(r, F_M2_NBG)) set_bool(b, "norm_before_gate", true);
    if (rng_chance(r, 0.2)) SET_FLOAT(r, b, "norm_eps", "1e-6", "1e-5", "1e-3");
    switch (pick(r, F_M2_DT)) {
    case 0: break;
    case 1: SET_FLOAT(r, b, "dt_min", "0.001", "1e-3", "0.01"); break;
    case 2: SET_FLOAT(r, b, "dt_max", "0.1", "1e-1", "0.05", "1"); break;
    case 3:
        SET_FLOAT(r, b, "dt_min", "0.001", "1e-4", "0.02");
        SET_FLOAT(r, b, "dt_max", "0.1", "0.05", "1.0");
        break;
    case 4:
        if (rng_chance(r, 0.5)) SET_FLOAT(r, b, "dt_min", "0", "0.0", "1e-3");
        set_word(b, "dt_max", "inf");
        break;
    }
    if (pick(r, F_M2_SCALES)) {
        static const char *const v[] = {"1.0", "0.9", "1.1", "1.2", "0.8", "1", "0.5", "2"};
        /* one draw per statement: the order in which a call's arguments
         * are evaluated is unspecified (gcc and clang differ), and the
         * output must not depend on the compiler */
        const char *e[5];
        for (int i = 0; i < 5; i++) e[i] = v[rng_below(r, 8)];
        bool comma = rng_chance(r, 0.2);
        set_raw(b, "in_proj_scales", fmtstr("[%s, %s, %s, %s, %s%s]", e[0], e[1], e[2], e[3], e[4], comma ? "," : ""),
                false);
    }
    switch (pick(r, F_M2_BIAS)) { /* in_proj and out_proj biases: false, true, in only, out only */
    case 1: set_bool(b, "bias", true); break;
    case 2: set_bool(b, "bias", true), set_bool(b, "out_bias", false); break;
    case 3: set_bool(b, "out_bias", true); break;
    }
    if (pick(r, F_M2_CONVB)) set_bool(b, "conv_bias", false);
    conv_act(r, b);
}

static void gen_short_conv(Gen *g, Node *b)
{
    Rng *r = g->r;
    int v = pick(r, F_SC_DCONV);
    if (v) set_int(b, "d_conv", v + 1);
    if (pick(r, F_SC_BIAS)) set_bool(b, "bias", true);
}

static void gen_deltanet(Gen *g, Node *b, int want)
{
    Rng *r = g->r;
    int Hk, Hv, dk, dv;
    int hv = pick(r, F_DN_HEADS); /* =key_heads, multiple */
    int dims = pickm(r, F_DN_DIMS, want && want % 128 != 0 ? BIT(0) : ALL);
    /* at least 4: q and k are L2-normalized per head, and a 2-vector of
     * silu outputs is near zero often enough to make the model
     * ill-conditioned (1e-7 in, 1e-3 out) */
    static const int small[] = {4, 4, 8, 8, 16, 6, 12};
    if (want) {
        int hs[64], nh = divisors(want, 1, heads_cap(want), hs);
        if (dims == 1) {
            Hv = want / 128;
            dv = 128;
        } else {
            Hv = pick_of(r, hs, nh);
            dv = want / Hv;
        }
    } else {
        Hv = rng_int(r, 1, 6);
        dv = dims ? 128 : small[rng_below(r, 7)];
    }
    dk = dims ? 128 : small[rng_below(r, 7)];
    if (hv == 0 || Hv == 1) {
        Hk = Hv;
        if (hv) g_feats[F_DN_HEADS].count[1]--, note(F_DN_HEADS, 0);
    } else {
        int ds[64], nd = 0;
        for (int i = 1; i < Hv; i++)
            if (Hv % i == 0) ds[nd++] = i;
        Hk = pick_of(r, ds, nd);
    }
    set_int(b, "key_heads", Hk);
    set_int(b, "value_heads", Hv);
    if (dims == 0 || explicit_default(r)) set_int(b, "key_dim", dk);
    if (dims == 0 || explicit_default(r)) set_int(b, "value_dim", dv);
    int dc = pick(r, F_DN_DCONV) + 2;
    if (dc != 4 || explicit_default(r)) set_int(b, "d_conv", dc);
    conv_act(r, b);
}

static const char *const g_acts[] = {"swiglu", "geglu", "relu2", "gelu", "silu", "gelu_tanh", "geglu_tanh"};

static void gen_mlp(Gen *g, Node *b, int adapters)
{
    Rng *r = g->r;
    int act = pick(r, F_MLP_ACT);
    opt_enum(r, b, "act", g_acts[act], !act);
    set_int(b, "hidden", rng_chance(r, 0.2) ? rng_int(r, 1, 24) : 8 * rng_int(r, 1, 24));
    if (pick(r, F_MLP_BIAS)) set_bool(b, "bias", true);
    int sv = pick(r, F_MLP_SCALES);
    if (sv & 1) set_scale(r, b, "gate_scale");
    if (sv & 2) set_scale(r, b, "down_scale");
    if (adapters) set_int(b, "adapter_rank", rng_int(r, 1, 8));
}

static void gen_moe(Gen *g, Node *b)
{
    Rng *r = g->r;
    int X = rng_int(r, 1, 8);
    set_int(b, "experts", X);
    int tv = pickm(r, F_MOE_TOPK, X == 1 ? BIT(0) : X == 2 ? BIT(0) | BIT(2) : ALL);
    int K = tv == 0 ? 1 : tv == 2 ? X : rng_int(r, 2, X - 1);
    set_int(b, "top_k", K);
    set_int(b, "hidden", rng_chance(r, 0.2) ? rng_int(r, 1, 20) : 8 * rng_int(r, 1, 12));
    int act = pick(r, F_MOE_ACT);
    opt_enum(r, b, "act", g_acts[act], !act);
    /* Group-limited selection (sigmoid_topk only): G groups of X/G >= 2
     * experts, the best TG of them open, holding at least top_k experts.
     * Drawn first: it decides the routing. */
    int gs[8], ng = 0;
    for (int G = 2; G <= X / 2; G++)
        if (X % G == 0) gs[ng++] = G;
    int gv = pickm(r, F_MOE_GROUPS, ng ? ALL : BIT(0));
    static const char *const routing[] = {"softmax_topk", "topk_softmax", "sigmoid_topk"};
    int rv = gv ? 2 : pick(r, F_MOE_ROUTING);
    if (gv) note(F_MOE_ROUTING, 2);
    opt_enum(r, b, "routing", routing[rv], !rv);
    if (gv) {
        int G = pick_of(r, gs, ng), per = X / G;
        int lo = (K + per - 1) / per;
        set_int(b, "route_groups", G);
        if (gv == 2) set_int(b, "route_topk_groups", rng_int(r, lo, G));
        if (gv == 2 && lo == G) g_feats[F_MOE_GROUPS].count[2]--, note(F_MOE_GROUPS, 1); /* all open */
    } else if (explicit_default(r)) {
        set_int(b, "route_groups", 1);
    }
    if (pick(r, F_MOE_LATENT)) set_int(b, "latent", rng_chance(r, 0.2) ? rng_int(r, 1, 12) : 8 * rng_int(r, 1, 8));
    if (rng_chance(r, 0.15)) SET_FLOAT(r, b, "aux_loss", "0.01", "0", "1e-3", "0.5");
    if (pick(r, F_MOE_RENORM)) set_bool(b, "renormalize", true);
    else if (explicit_default(r)) set_bool(b, "renormalize", false);
    if (pick(r, F_MOE_RSCALE)) set_scale(r, b, "routed_scale");
    int sv = pick(r, F_MOE_SHARED);
    if (sv) set_int(b, "shared_hidden", rng_chance(r, 0.2) ? rng_int(r, 1, 20) : 8 * rng_int(r, 1, 12));
    else if (explicit_default(r)) set_int(b, "shared_hidden", 0);
    if (sv == 2) set_bool(b, "shared_gate", true);
}

static const char *const g_kinds[] = {"attention", "mamba1", "mamba2", "short_conv", "deltanet",
                                      "mlp",       "moe",    "parallel", "use"};

static void gen_branch(Gen *g, Node *par, Kind k, int want)
{
    Node *b = block(par, g_kinds[k], NULL);
    common_keys(g, b, W_BRANCH, k);
    note(F_PAR_BRANCH, (int)k);
    switch (k) {
    case K_ATTN: gen_attention(g, b, W_BRANCH, g->d, want, false, NULL, NULL); break;
    case K_MAMBA1: gen_mamba1(g, b, want); break;
    case K_MAMBA2: gen_mamba2(g, b, want); break;
    case K_SHORT_CONV: gen_short_conv(g, b); break;
    case K_DELTANET: gen_deltanet(g, b, want); break;
    default: abort();
    }
}

static void gen_parallel(Gen *g, Node *b)
{
    Rng *r = g->r;
    int d = g->d;
    int comb = pick(r, F_PAR_COMBINE); /* add diff mean concat */
    int nb = pickm(r, F_PAR_NB, comb == 1 ? BIT(0) : rng_chance(r, 0.6) ? BIT(0) : ALL) + 2;
    int out = pickm(r, F_PAR_OUT, comb == 3 ? BIT(1) : ALL); /* per_branch shared */
    int bn = pick(r, F_PAR_BNORM);
    int bs = pick(r, F_PAR_BSCALE);
    static const char *const combs[] = {"add", "diff", "mean", "concat"};
    opt_enum(r, b, "combine", combs[comb], !comb);
    opt_enum(r, b, "out_proj", out ? "shared" : "per_branch", !(out == 1));
    opt_enum(r, b, "branch_norm", (const char *[]){"none", "rms", "group"}[bn], !bn);
    opt_enum(r, b, "branch_scale", (const char *[]){"none", "scale", "gate"}[bs], !bs);
    /* Branch kinds: group norm needs heads (no mamba1, short_conv). */
    Kind kinds[3];
    bool has_sc = false;
    for (int i = 0; i < nb; i++) {
        int k = rng_below(r, 5);
        /* steer towards the least used branch kind half the time */
        if (rng_chance(r, 0.5)) {
            long min = LONG_MAX;
            for (int j = 0; j < 5; j++)
                if (!(bn == 2 && (j == K_MAMBA1 || j == K_SHORT_CONV)) && g_feats[F_PAR_BRANCH].count[j] < min)
                    min = g_feats[F_PAR_BRANCH].count[j];
            for (int j = 0; j < 5; j++)
                if (!(bn == 2 && (j == K_MAMBA1 || j == K_SHORT_CONV)) && g_feats[F_PAR_BRANCH].count[j] == min) {
                    k = j;
                    break;
                }
        }
        while (bn == 2 && (k == K_MAMBA1 || k == K_SHORT_CONV)) k = rng_below(r, 5);
        kinds[i] = (Kind)k;
        has_sc |= k == K_SHORT_CONV;
    }
    /* A shared out_proj with add/diff/mean: one width for every branch. */
    int want = 0;
    if (out == 1 && comb != 3) {
        static const int ws[] = {8, 16, 24, 32, 48, 64};
        want = has_sc || rng_chance(r, 0.3) ? d : ws[rng_below(r, 6)];
    }
    for (int i = 0; i < nb; i++) gen_branch(g, b, kinds[i], want);
}

/* One sublayer of kind k into `parent` (a layer or shared block); the
 * caller has counted k. */
static void gen_sublayer(Gen *g, Node *parent, Kind k, Where w, int in_w, bool concat_first, int *adapters)
{
    Rng *r = g->r;
    if (k == K_USE) {
        int s = rng_below(r, g->n_shared);
        if (g->shared_uses[0] == 0) s = 0;
        else if (g->n_shared > 1 && g->shared_uses[1] == 0) s = 1;
        g->shared_uses[s]++;
        block(parent, "use", g->shared_names[s]);
        return;
    }
    Node *b = block(parent, g_kinds[k], NULL);
    if (concat_first) {
        /* The first sublayer of a concat_embedding block: an attention
         * reading [x ; e0] that does not add to the residual. */
        set_bool(b, "residual", false);
        if (rng_chance(r, 0.2)) set_bool(b, "norm", rng_chance(r, 0.7));
        if (rng_chance(r, 0.3)) set_scale(r, b, "out_scale");
    } else {
        common_keys(g, b, w, k);
        if (w == W_SHARED && rng_chance(r, 0.5)) {
            /* Zamba2: the block's sublayers replace the stream. */
            for (int i = 0; i < b->n; i++)
                if (strcmp(b->kids[i]->key, "residual") == 0) b->kids[i]->value = fmtstr("false");
            bool has = false;
            for (int i = 0; i < b->n; i++) has |= strcmp(b->kids[i]->key, "residual") == 0;
            if (!has) set_bool(b, "residual", false);
        }
    }
    switch (k) {
    case K_ATTN: gen_attention(g, b, w, in_w, 0, concat_first, adapters, &g->last_attn); break;
    case K_MAMBA1: gen_mamba1(g, b, 0); break;
    case K_MAMBA2: gen_mamba2(g, b, 0); break;
    case K_SHORT_CONV: gen_short_conv(g, b); break;
    case K_DELTANET: gen_deltanet(g, b, 0); break;
    case K_MLP: {
        int a = 0;
        if (w == W_SHARED) {
            if (*adapters < 0) *adapters = pick(r, F_SH_ADAPT);
            a = *adapters == 2 || *adapters == 3;
        }
        gen_mlp(g, b, a);
        break;
    }
    case K_MOE: gen_moe(g, b); break;
    case K_PARALLEL: gen_parallel(g, b); break;
    case K_USE: break;
    }
}

static Node *gen_shared_block(Gen *g, int idx)
{
    Rng *r = g->r;
    int d = g->d;
    Node *b = block(NULL, "shared_block", g->shared_names[idx]);
    int in = pick(r, F_SH_INPUT);
    opt_enum(r, b, "input", in ? "residual" : "concat_embedding", !(in == 1));
    int n = rng_int(r, 1, 3), adapters = -1;
    for (int i = 0; i < n; i++) {
        Kind k;
        if (i == 0 && in == 0)
            k = K_ATTN, note(F_KIND, k);
        else if (in == 0 && i == 1 && rng_chance(r, 0.6))
            k = K_MLP, note(F_KIND, k); /* Zamba2's attention + MLP */
        else
            k = (Kind)pickm(r, F_KIND, ALL & ~BIT(K_USE));
        gen_sublayer(g, b, k, W_SHARED, i == 0 && in == 0 ? 2 * d : d, i == 0 && in == 0, &adapters);
    }
    return b;
}

/* ---- the stack ------------------------------------------------------------------- */

typedef struct Place {
    int layer;
    int how; /* 0 every, 1 at, 2 ratio */
    int every, offset;
    int at[8], n_at;
    int ra, rb, placement; /* placement: 0 default(middle) 1 middle 2 scatter 3 cluster 4 sandwich */
} Place;

typedef struct Stack {
    int L, nd;
    bool pattern;
    char sym[8];  /* symbol of each layer definition */
    char pat[8];  /* the pattern (before repeat) */
    int plen, repeat;
    int fill;
    Place places[6];
    int n_places;
    bool layers_given;
} Stack;

static void apply_place(const Place *p, int L, int *at)
{
    if (p->how == 0) {
        for (int i = p->offset; i < L; i += p->every) at[i] = p->layer;
    } else if (p->how == 1) {
        for (int i = 0; i < p->n_at; i++) at[p->at[i]] = p->layer;
    } else {
        int k = L * p->ra / (p->ra + p->rb);
        for (int j = 0; j < k; j++) {
            int pos;
            switch (p->placement) {
            case 3: pos = 1 + (L - 1 - k) / 2 + j; break;
            case 4: {
                int head = (k + 1) / 2, tail = k / 2;
                pos = j < head ? 1 + j : L - tail + (j - head);
                break;
            }
            default: pos = 1 + (2 * j + 1) * (L - 1) / (2 * k); break;
            }
            at[pos] = p->layer;
        }
    }
}

static int gcd(int a, int b) { return b ? gcd(b, a % b) : a; }

static void random_place(Rng *r, Place *p, int layer, int L, int how)
{
    memset(p, 0, sizeof *p);
    p->layer = layer;
    p->how = how;
    if (how == 0) {
        p->every = rng_int(r, 1, L + 1);
        p->offset = rng_below(r, p->every < L ? p->every : L);
    } else if (how == 1) {
        int perm[8];
        for (int i = 0; i < L; i++) perm[i] = i;
        for (int i = L - 1; i > 0; i--) {
            int j = rng_below(r, i + 1), t = perm[i];
            perm[i] = perm[j], perm[j] = t;
        }
        p->n_at = rng_int(r, 1, L < 3 ? L : 3);
        for (int i = 0; i < p->n_at; i++) p->at[i] = perm[i];
    } else {
        int k = rng_int(r, 1, L - 1), gd = gcd(k, L - k), m = rng_int(r, 1, 3);
        p->ra = k / gd * m;
        p->rb = (L - k) / gd * m;
        p->placement = pick(r, F_RATIO_PL);
    }
}

/* The layer definition at each depth (-1: none), as sema computes it. */
static void plan_depths(const Stack *s, int *at)
{
    for (int i = 0; i < s->L; i++) at[i] = s->pattern ? -1 : s->fill;
    if (s->pattern)
        for (int i = 0; i < s->L; i++)
            for (int j = 0; j < s->nd; j++)
                if (s->sym[j] == s->pat[i % s->plen]) at[i] = j;
    for (int i = 0; i < s->n_places; i++) apply_place(&s->places[i], s->L, at);
}

/* Every layer definition used at some depth? */
static bool all_used(const Stack *s)
{
    int at[8];
    plan_depths(s, at);
    bool used[8] = {false};
    for (int i = 0; i < s->L; i++) {
        if (at[i] < 0) return false;
        used[at[i]] = true;
    }
    for (int j = 0; j < s->nd; j++)
        if (!used[j]) return false;
    return true;
}

static void gen_stack_plan(Rng *r, Stack *s)
{
    int L = pick(r, F_LAYERS) + 1;
    s->L = L;
    /* stack forms: fill fill+every fill+at fill+ratio fill+places pattern pattern+repeat pattern+place */
    unsigned m = ALL;
    if (L == 1) m &= ~(BIT(3) | BIT(4) | BIT(6) | BIT(7));
    if (L == 2 || L == 3 || L == 5) m &= ~BIT(6); /* repeat needs a pattern of < L symbols */
    int form = pickm(r, F_STACK, m);
    for (int attempt = 0;; attempt++) {
        memset(s->places, 0, sizeof s->places);
        s->n_places = 0;
        s->pattern = form >= 5;
        s->repeat = 1;
        int maxd = L < 4 ? L : 4;
        if (form == 0) maxd = 1;
        if (form == 1 || form == 2 || form == 3) maxd = L < 2 ? L : 2;
        if (form == 6) {
            int reps[3], nr = 0;
            for (int k = 2; k <= L; k++)
                if (L % k == 0 && L / k >= 1) reps[nr++] = k;
            s->repeat = pick_of(r, reps, nr);
            maxd = L / s->repeat;
            if (maxd > 4) maxd = 4;
        }
        s->nd = rng_int(r, 1, maxd);
        s->layers_given = !s->pattern || rng_chance(r, 0.4);
        if (s->pattern) {
            s->plen = L / s->repeat;
            /* Symbols: distinct, letters or punctuation. */
            static const char letters[] = "MAFSLDmafsldXYZ";
            static const char punct[] = "*-+.#@~=!%&/|:?^\"\\";
            for (int j = 0; j < s->nd; j++) {
                char c;
                for (;;) {
                    int pv = pick(r, F_SYMBOL);
                    c = pv ? punct[rng_below(r, (int)sizeof punct - 1)] : letters[rng_below(r, (int)sizeof letters - 1)];
                    bool dup = false;
                    for (int q = 0; q < j; q++) dup |= s->sym[q] == c;
                    if (!dup) break;
                    g_feats[F_SYMBOL].count[pv]--;
                }
                s->sym[j] = c;
            }
            /* Each symbol at least once in the pattern, when it fits. */
            for (int i = 0; i < s->plen; i++) s->pat[i] = s->sym[i < s->nd ? i : rng_below(r, s->nd)];
            for (int i = s->plen - 1; i > 0; i--) {
                int j = rng_below(r, i + 1);
                char t = s->pat[i];
                s->pat[i] = s->pat[j], s->pat[j] = t;
            }
            if (form == 7) {
                int layer = rng_below(r, s->nd);
                random_place(r, &s->places[s->n_places++], layer, L, rng_below(r, L > 1 ? 3 : 2));
            }
        } else {
            s->fill = 0;
            int how = form == 1 ? 0 : form == 2 ? 1 : form == 3 ? 2 : -1;
            for (int j = 1; j < s->nd || (form >= 1 && form <= 3 && s->n_places == 0); j++) {
                int layer = j < s->nd ? j : 0;
                int h = how >= 0 ? how : rng_below(r, L > 1 ? 3 : 2);
                random_place(r, &s->places[s->n_places++], layer, L, h);
            }
            if (form == 4 && rng_chance(r, 0.5) && s->n_places < 6) {
                int layer = rng_below(r, s->nd);
                random_place(r, &s->places[s->n_places++], layer, L, rng_below(r, L > 1 ? 3 : 2));
            }
            if (form == 4 && s->n_places == 0) {
                random_place(r, &s->places[s->n_places++], 0, L, rng_below(r, L > 1 ? 3 : 2));
            }
        }
        if (all_used(s)) return;
        if (attempt > 50) {
            /* Give up on variety: one definition, filled. */
            s->nd = 1;
            s->n_places = 0;
            s->pattern = false;
            s->fill = 0;
            s->layers_given = true;
            return;
        }
        /* the ratio placements drawn in a failed attempt do not count */
        for (int i = 0; i < s->n_places; i++)
            if (s->places[i].how == 2) g_feats[F_RATIO_PL].count[s->places[i].placement]--;
        for (int j = 0; s->pattern && j < s->nd; j++) g_feats[F_SYMBOL].count[strchr("MAFSLDmafsldXYZ", s->sym[j]) ? 0 : 1]--;
    }
}

static void emit_stack(Rng *r, Node *model, const Stack *s, char names[][16])
{
    Node *st = block(model, "stack", NULL);
    if (s->layers_given) set_int(st, "layers", s->L);
    if (s->pattern) {
        char pat[16];
        memcpy(pat, s->pat, (size_t)s->plen);
        pat[s->plen] = 0;
        FILE *mem;
        char *text = NULL;
        size_t len = 0;
        mem = open_memstream(&text, &len);
        put_string(mem, pat);
        fclose(mem);
        pool_add(text);
        set_raw(st, "pattern", text, false);
        if (s->repeat > 1) set_int(st, "repeat", s->repeat);
        else if (explicit_default(r)) set_int(st, "repeat", 1);
        Node *sy = block(st, "symbols", NULL);
        for (int j = 0; j < s->nd; j++) {
            char key[2] = {s->sym[j], 0};
            Node *set = node_new(false, key);
            set->value = names[j];
            set->may_quote_key = false;
            add(sy, set);
        }
    } else {
        set_word(st, "fill", names[s->fill]);
    }
    for (int i = 0; i < s->n_places; i++) {
        const Place *p = &s->places[i];
        Node *pl = block(st, "place", names[p->layer]);
        if (p->how == 0) {
            set_int(pl, "every", p->every);
            if (p->offset || explicit_default(r)) set_int(pl, "offset", p->offset);
        } else if (p->how == 1) {
            char buf[64];
            int n = 0;
            n += snprintf(buf + n, sizeof buf - (size_t)n, "[");
            for (int j = 0; j < p->n_at; j++) n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%d", j ? ", " : "", p->at[j]);
            snprintf(buf + n, sizeof buf - (size_t)n, "]");
            set_raw(pl, "at", buf, false);
        } else {
            set_raw(pl, "ratio", fmtstr("\"%d:%d\"", p->ra, p->rb), false);
            static const char *const pls[] = {NULL, "middle", "scatter", "cluster", "sandwich"};
            if (p->placement) set_enum(pl, "placement", pls[p->placement]);
        }
    }
}

/* ---- the model -------------------------------------------------------------------- */

static void gen_model(Rng *r, uint64_t seed, int index, FILE *f)
{
    bool reduced;
    Gen g = {0};
    g.r = r;
    g.d = 8 * rng_int(r, 2, 12);
    int d = g.d;
    int vocab = rng_int(r, 64, 300);
    Node *model = block(NULL, "model", fmtstr("rand%04d", index));

    /* model-level knobs */
    set_int(model, "d_model", d);
    set_int(model, "vocab", vocab);
    int v = pick(r, F_NORM);
    opt_enum(r, model, "norm", v ? "layernorm" : "rmsnorm", !v);
    if (pick(r, F_NORM_OFFSET)) SET_FLOAT(r, model, "norm_offset", "1", "1.0", "1.");
    else if (explicit_default(r)) SET_FLOAT(r, model, "norm_offset", "0", "0.0");
    if (pick(r, F_NORM_EPS)) SET_FLOAT(r, model, "norm_eps", "1e-6", "1e-5", "0.001", "1e-3");
    v = pick(r, F_TIE);
    if (v || explicit_default(r)) set_bool(model, "tie_embeddings", v == 0);
    v = pick(r, F_FINAL_NORM);
    if (v || explicit_default(r)) set_bool(model, "final_norm", v == 0);
    if (pick(r, F_EMB_SCALE)) set_scale(r, model, "embedding_scale");
    if (pick(r, F_LOGITS_SCALE)) set_scale(r, model, "logits_scale");
    if (pick(r, F_RES_SCALE)) set_scale(r, model, "residual_scale");
    v = pick(r, F_MAX_SEQ);
    if (v == 1) set_int(model, "max_seq", N_TOKENS);
    if (v == 2) set_int(model, "max_seq", rng_chance(r, 0.5) ? rng_int(r, N_TOKENS + 1, 64) : 4096);
    /* States stored in bf16 / f16 (a quarter of the models): rounded
     * between calls, so decode matches a full prefill only up to that
     * rounding; the header tells the test ("# states: reduced"). */
    int dv = pickm(r, F_DTYPE, rng_chance(r, 0.25) ? ALL : BIT(0));
    static const char *const dtypes[] = {"bf16", "f16"};
    opt_enum(r, model, "kv_dtype", dv & 1 ? dtypes[pick(r, F_DTYPE16)] : "f32", !(dv & 1));
    opt_enum(r, model, "ssm_dtype", dv & 2 ? dtypes[pick(r, F_DTYPE16)] : "f32", !(dv & 2));
    reduced = dv != 0;

    Stack s;
    memset(&s, 0, sizeof s);
    gen_stack_plan(r, &s);

    /* Shared blocks: in about a third of the models. */
    g.n_shared = rng_chance(r, 0.35) || g_feats[F_KIND].count[K_USE] == 0 ? 1 + rng_chance(r, 0.3) : 0;
    Node *shared[2] = {NULL, NULL};
    for (int i = 0; i < g.n_shared; i++) {
        snprintf(g.shared_names[i], sizeof g.shared_names[i], "%s%d", rng_chance(r, 0.5) ? "shared" : "blk", i);
        shared[i] = gen_shared_block(&g, i);
    }

    /* Cross-layer KV sharing: the attention of layer def `kv_dst` reads the
     * cache of the only attention of def `kv_src`, found by name (the
     * nearest depth above of that layer: one must exist above every depth
     * of kv_dst) or by a depth offset (the depth that far above every depth
     * of kv_dst holds kv_src). */
    int def_at[8];
    plan_depths(&s, def_at);
    int opts[64][3], n_opts = 0; /* src, dst, offset (0: by name) */
    for (int a = 0; a < s.nd; a++)
        for (int b = 0; b < s.nd; b++) {
            if (a == b) continue;
            for (int off = 0; off < s.L; off++) {
                bool ok = true;
                for (int i = 0; i < s.L && ok; i++) {
                    if (def_at[i] != b) continue;
                    bool found = false;
                    if (off == 0) {
                        for (int q = 0; q < i; q++) found |= def_at[q] == a;
                    } else {
                        found = i - off >= 0 && def_at[i - off] == a;
                    }
                    ok = found;
                }
                if (ok && n_opts < 64) opts[n_opts][0] = a, opts[n_opts][1] = b, opts[n_opts++][2] = off;
            }
        }
    unsigned km = BIT(0);
    for (int i = 0; i < n_opts; i++) km |= opts[i][2] ? BIT(2) : BIT(1);
    int kv_src = -1, kv_dst = -1, kv_off = 0;
    int kv_mode = pickm(r, F_KV_SHARE, km);
    if (kv_mode) {
        int c[64], nc = 0;
        for (int i = 0; i < n_opts; i++)
            if ((opts[i][2] != 0) == (kv_mode == 2)) c[nc++] = i;
        int o = pick_of(r, c, nc);
        kv_src = opts[o][0], kv_dst = opts[o][1], kv_off = opts[o][2];
    }

    /* Layer definitions (the source of a KV cache first: its reader copies
     * it). */
    char names[8][16];
    Node *layers[8];
    static const char *const stems[] = {"l", "layer", "blk_", "hyb", "m", "A"};
    int stem = rng_below(r, 6);
    for (int j = 0; j < s.nd; j++) snprintf(names[j], sizeof names[j], "%s%d", stems[stem], j);
    int order[8], no = 0;
    if (kv_src >= 0) order[no++] = kv_src;
    for (int j = 0; j < s.nd; j++)
        if (j != kv_src) order[no++] = j;
    Node *kv_src_node = NULL;
    AttnShape kv_shape = {0, 0, 0};
    for (int oi = 0; oi < no; oi++) {
        int j = order[oi];
        g.cur_depths = 0;
        for (int q = 0; q < s.L; q++) g.cur_depths += def_at[q] == j;
        layers[j] = block(NULL, "layer", names[j]);
        int n = rng_int(r, 1, 3);
        bool after_use = false;
        for (int i = 0; i < n || after_use; i++) {
            unsigned m = ALL;
            if (!g.n_shared || after_use) m &= ~BIT(K_USE);
            /* the source layer holds exactly one attention (branches count) */
            if (j == kv_src) m &= ~(BIT(K_ATTN) | BIT(K_PARALLEL));
            Kind k = (Kind)pickm(r, F_KIND, m);
            int dummy = -1;
            gen_sublayer(&g, layers[j], k, W_LAYER, d, false, &dummy);
            after_use = k == K_USE;
        }
        if (j != kv_src && j != kv_dst) continue;
        /* The sharing attention, at a random place (a sublayer that is not
         * a use may go anywhere). */
        note(F_KIND, K_ATTN);
        Node *l = layers[j];
        if (j == kv_src) {
            int dummy = -1;
            gen_sublayer(&g, l, K_ATTN, W_LAYER, d, false, &dummy);
            kv_src_node = l->kids[l->n - 1];
            kv_shape = g.last_attn;
        } else {
            gen_kv_reader(&g, block(l, "attention", NULL), kv_src_node, kv_shape,
                          kv_off ? fmtstr("%d", kv_off) : names[kv_src]);
        }
        int at = rng_below(r, l->n);
        Node *att = l->kids[l->n - 1];
        memmove(&l->kids[at + 1], &l->kids[at], sizeof *l->kids * (size_t)(l->n - 1 - at));
        l->kids[at] = att;
    }
    /* A shared block no layer uses: put a use in front of a sublayer. */
    for (int i = 0; i < g.n_shared; i++) {
        if (g.shared_uses[i]) continue;
        Node *l = layers[rng_below(r, s.nd)];
        int pos[16], np = 0;
        for (int q = 0; q < l->n; q++)
            if (strcmp(l->kids[q]->key, "use") != 0 && (q == 0 || strcmp(l->kids[q - 1]->key, "use") != 0)) pos[np++] = q;
        Node *u = block(NULL, "use", g.shared_names[i]);
        note(F_KIND, K_USE);
        g.shared_uses[i]++;
        if (np == 0) {
            /* every sublayer follows a use: a new one after this use */
            add(l, u);
            int dummy = -1;
            gen_sublayer(&g, l, (Kind)pickm(r, F_KIND, ALL & ~BIT(K_USE)), W_LAYER, d, false, &dummy);
            continue;
        }
        int at = pick_of(r, pos, np);
        add(l, u); /* grow, then move into place */
        memmove(&l->kids[at + 1], &l->kids[at], sizeof *l->kids * (size_t)(l->n - 1 - at));
        l->kids[at] = u;
    }
    for (int i = 0; i < g.n_shared; i++) {
        /* uses at run time: the sites of the definitions in the stack */
        int at[8];
        plan_depths(&s, at);
        int sites = 0;
        for (int q = 0; q < s.L; q++) {
            Node *l = layers[at[q]];
            for (int c = 0; c < l->n; c++)
                if (strcmp(l->kids[c]->key, "use") == 0 && strcmp(l->kids[c]->label, g.shared_names[i]) == 0) sites++;
        }
        note(F_SH_SITES, sites > 1);
    }

    /* After the knobs: shared blocks, layers and stack, in this order or any. */
    Node *items[24];
    int ni = 0;
    for (int i = 0; i < g.n_shared; i++) items[ni++] = shared[i];
    for (int j = 0; j < s.nd; j++) items[ni++] = layers[j];
    Node *tmp = block(NULL, "tmp", NULL);
    emit_stack(r, tmp, &s, names);
    items[ni++] = tmp->kids[0];
    if (rng_chance(r, 0.6)) {
        /* the usual order: shared blocks, layers, stack */
    } else {
        for (int i = ni - 1; i > 0; i--) {
            int j = rng_below(r, i + 1);
            Node *t = items[i];
            items[i] = items[j], items[j] = t;
        }
    }
    for (int i = 0; i < ni; i++) add(model, items[i]);

    /* The header the test reads, then the model. */
    Rng tr = {seed ^ (0xA5A5A5A5ull * (uint64_t)(index + 1))};
    fprintf(f, "# rand%04d.hyb: random hybrid model %d of randstack seed %llu (tools/randstack.c)\n", index, index,
            (unsigned long long)seed);
    fprintf(f, "# tokens: ");
    for (int i = 0; i < N_TOKENS; i++) fprintf(f, "%s%d", i ? "," : "", rng_below(&tr, vocab));
    fprintf(f, "\n# random-weights: %d\n", (int)(rng_next(&tr) % 100000));
    fprintf(f, "# states: %s\n", reduced ? "reduced" : "f32");
    Out o = {f, r};
    put_block(&o, model, 0, false);
}

/* ---- main --------------------------------------------------------------------------- */

static void coverage_table(FILE *f, int n_models)
{
    int total = 0, covered = 0;
    fprintf(f, "coverage of %d models (variant: times drawn)\n", n_models);
    for (int i = 0; i < N_FEATS; i++) {
        const Feat *ft = &g_feats[i];
        fprintf(f, "  %-30s", ft->name);
        for (int j = 0; j < ft->n; j++) {
            fprintf(f, " %s:%ld", ft->val[j], ft->count[j]);
            total++;
            covered += ft->count[j] > 0;
        }
        bool miss = false;
        for (int j = 0; j < ft->n; j++) miss |= ft->count[j] <= 0;
        fputs(miss ? "   <- MISSING\n" : "\n", f);
    }
    fprintf(f, "coverage: %d of %d variants drawn%s\n", covered, total, covered == total ? " (all)" : "");
}

static int usage(void)
{
    fprintf(stderr, "usage: randstack SEED [-n N] [-o DIR] [-i INDEX] [-v] [-k]\n"
                    "  writes DIR/randNNNN.hyb for NNNN in [0, N) (default N 50, DIR .)\n"
                    "  -i INDEX  write only model INDEX (the same file as a full run)\n"
                    "  -v        print the coverage table of the models generated\n"
                    "  -k        print every 'BLOCK KEY [VALUE]' written (VALUE: a word\n"
                    "            or a call's name), to compare with `hyc check --keys`\n");
    return 2;
}

static bool parse_u64(const char *s, unsigned long long *out)
{
    if (!*s) return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || *s == '-') return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    unsigned long long seed = 0, n = 50, only = 0;
    bool have_seed = false, have_only = false, verbose = false, keys = false;
    const char *dir = ".";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-n") == 0 || strcmp(a, "-o") == 0 || strcmp(a, "-i") == 0) && i + 1 < argc) {
            const char *v = argv[++i];
            if (a[1] == 'o') dir = v;
            else if (!parse_u64(v, a[1] == 'n' ? &n : &only) || (a[1] == 'n' ? n > 1000000 : only > 1000000))
                return usage();
            if (a[1] == 'i') have_only = true;
        } else if (strcmp(a, "-v") == 0) {
            verbose = true;
        } else if (strcmp(a, "-k") == 0) {
            keys = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        } else if (!have_seed && parse_u64(a, &seed)) {
            have_seed = true;
        } else {
            return usage();
        }
    }
    if (!have_seed) return usage();
    feats_init();
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "randstack: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    unsigned long long count = have_only ? only + 1 : n;
    Rng r = {seed * 0x2545F4914F6CDD1Dull + 1};
    for (unsigned long long i = 0; i < count; i++) {
        bool write = !have_only || i == only;
        FILE *f;
        char path[4096];
        char *text = NULL;
        size_t len = 0;
        if (write) {
            snprintf(path, sizeof path, "%s/rand%04llu.hyb", dir, i);
            f = fopen(path, "w");
            if (!f) {
                fprintf(stderr, "randstack: cannot write %s: %s\n", path, strerror(errno));
                return 1;
            }
        } else {
            f = open_memstream(&text, &len);
        }
        /* Each model draws from its own stream: SEED and the index. */
        Rng mr = {rng_next(&r) ^ (seed + i)};
        gen_model(&mr, seed, (int)i, f);
        if (fclose(f) != 0) {
            fprintf(stderr, "randstack: cannot write %s\n", write ? path : "(memory)");
            return 1;
        }
        free(text);
        pool_free();
    }
    if (verbose) coverage_table(stdout, (int)count);
    for (int i = 0; keys && i < g_n_written; i++) printf("%s\n", g_written[i]);
    free(g_pool);
    return 0;
}
