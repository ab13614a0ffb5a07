/* import_hf.c — `hyc import`: a Hugging Face config.json as .hyb text.
 *
 * One reader per model_type turns the config into a small model description
 * (ImportHfModel: layer kinds, the kind at each depth, shared blocks), computing
 * derived sizes the way transformers 5.17 does; the printer writes it as DSL
 * text in `hyc fmt` form, with the stack written as a rule (fill + every /
 * offset placements, or a pattern) rather than a list wherever one fits.
 * docs/families.md is the reference for every family: what each config key
 * does, and which keys change nothing at inference.
 *
 * Every key of config.json is accounted for: read by the family's reader,
 * listed as without effect (IGNORED_KEYS, or the family's own list), or
 * warned about as unknown.  A key whose value hyc cannot express is an error
 * at that key.
 */
#include "frontend.h"
#include "../formats/formats.h"

#include <limits.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

/* ==== the model description ================================================ */

typedef enum SubKind {
    SK_ATTENTION,
    SK_MAMBA1,
    SK_MAMBA2,
    SK_SHORT_CONV,
    SK_DELTANET,
    SK_MLP,
    SK_MOE,
    SK_PARALLEL,
    SK_USE,
} SubKind;

typedef struct ImpAttention {
    int64_t heads, kv_heads, head_dim;
    int64_t input_width;  /* 0: d_model */
    int64_t adapter_rank; /* LoRA on q, k, v per use site */
    bool rope, qk_norm, output_gate, bias;
    double rope_base, rope_fraction;
    const char *rope_scaling; /* DSL value of rope_scaling, NULL: none */
    double scale;         /* 0: 1/sqrt(head_dim) */
    const char *scale_why; /* where a non-default scale comes from */
    double key_scale;
} ImpAttention;

typedef struct ImpMamba1 {
    int64_t d_state, d_conv, expand, d_inner, dt_rank;
    bool conv_bias, bias;
    int inner_norms;       /* 0 none, 1 rms, 2 rms_unweighted */
    double inner_norm_eps; /* 0: the model's norm_eps */
    const char *conv_act;  /* NULL: silu */
} ImpMamba1;

typedef struct ImpMamba2 {
    int64_t heads, head_dim, groups, d_state, d_conv, chunk;
    int64_t norm_groups; /* groups of the gated norm (docs/families.md §0) */
    bool conv_bias, bias, gated_norm, norm_before_gate;
    int out_bias;         /* -1: as bias (Falcon-H1 sets it apart) */
    const char *conv_act; /* NULL: silu */
    double norm_eps;     /* 0: the model's norm_eps */
    double dt_min, dt_max;
    double in_proj_scales[5];
} ImpMamba2;

typedef struct ImpShortConv {
    int64_t d_conv;
    bool bias;
} ImpShortConv;

typedef struct ImpDeltanet {
    int64_t key_heads, value_heads, key_dim, value_dim, d_conv;
    const char *conv_act; /* NULL: silu */
} ImpDeltanet;

typedef struct ImpMlp {
    const char *act; /* swiglu geglu relu2 gelu silu */
    int64_t hidden, adapter_rank;
    bool bias;
    double gate_scale, down_scale;
} ImpMlp;

typedef struct ImpMoe {
    int64_t experts, top_k, hidden, shared_hidden;
    int64_t route_groups, route_topk_groups, latent; /* 0: none */
    const char *act, *routing;
    bool renormalize, shared_gate;
    double routed_scale;
    double aux_loss;      /* router_aux_loss_coef (training only), 0: none */
} ImpMoe;

typedef struct ImpSub ImpSub;
struct ImpSub {
    SubKind kind;
    double in_scale, out_scale;
    bool residual;
    const char *use_block; /* SK_USE */
    ImpAttention at;
    ImpMamba1 m1;
    ImpMamba2 m2;
    ImpShortConv sc;
    ImpDeltanet dn;
    ImpMlp mlp;
    ImpMoe moe;
    ImpSub *branches; /* SK_PARALLEL */
    int n_branches;
};

/* Kinds: Zamba2 with untied blocks has one per hybrid layer. */
enum { IMP_MAX_SUBS = 4, IMP_MAX_KINDS = 64 };

typedef struct ImpLayer {
    const char *name;
    ImpSub subs[IMP_MAX_SUBS];
    int n_subs;
} ImpLayer;

struct ImportHfModel {
    const char *family;
    const char *blurb;        /* what the family is, for the header comment */
    const char *config_path;
    const char *tf_version;   /* transformers_version of the config, or NULL */
    const char *name;         /* model NAME */
    int64_t d_model, vocab;
    int n_layers;
    bool tie;
    double norm_eps, norm_offset;
    double embedding_scale, logits_scale, residual_scale;
    int64_t max_pos;          /* max_position_embeddings, 0: none */

    ImpLayer kinds[IMP_MAX_KINDS];
    int n_kinds;
    int *kind_of;             /* [n_layers] */

    ImpLayer *shared;         /* shared blocks (Zamba2) */
    int n_shared;

    const char *pattern;      /* stack written as a pattern (Nemotron-H) */
    char pattern_sym[IMP_MAX_KINDS];

    const char *weights_file;
    HfDims dims;
    const char *note; /* a comment on how HF reads this config, or NULL */
};

/* ==== reading config.json ================================================== */

typedef struct Cfg {
    const JsonValue *root;
    Arena *arena;
    Diag *diag;
    const char *family;
    bool *used; /* [root->len]: consumed by the reader */
    bool ok;
    bool act_reported; /* hidden_act was already reported: say it once */
} Cfg;

static int member_index(const Cfg *c, const char *key)
{
    size_t n = strlen(key);
    for (int i = 0; i < c->root->len; i++) {
        const JsonMember *m = &c->root->members[i];
        if (m->key_len == n && memcmp(m->key, key, n) == 0) return i;
    }
    return -1;
}

/* The member KEY (marked as read), or NULL when absent.  May be JSON_NULL. */
static const JsonValue *cfg_raw(Cfg *c, const char *key)
{
    int i = member_index(c, key);
    if (i < 0) return NULL;
    c->used[i] = true;
    return c->root->members[i].value;
}

/* The member KEY when present and not null. */
static const JsonValue *cfg_get(Cfg *c, const char *key)
{
    const JsonValue *v = cfg_raw(c, key);
    return v && v->kind != JSON_NULL ? v : NULL;
}

static bool cfg_is_null(Cfg *c, const char *key)
{
    const JsonValue *v = cfg_raw(c, key);
    return v && v->kind == JSON_NULL;
}

static SrcLoc at_loc(const Cfg *c, const JsonValue *v)
{
    if (v) return v->loc;
    SrcLoc l = c->root->loc;
    l.end_line = l.line;
    l.end_col = 0;
    return l;
}

static void cfg_error(Cfg *c, const JsonValue *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cfg_error(Cfg *c, const JsonValue *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(c->diag, DIAG_ERROR, at_loc(c, at), fmt, ap);
    va_end(ap);
    c->ok = false;
}

static void cfg_warn(Cfg *c, const JsonValue *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cfg_warn(Cfg *c, const JsonValue *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(c->diag, DIAG_WARNING, at_loc(c, at), fmt, ap);
    va_end(ap);
}

/* "a string", or the number as written: for "must be ..., got X". */
static const char *got_text(const JsonValue *v)
{
    return v->kind == JSON_NUMBER ? v->text : json_kind_name(v->kind);
}

static bool val_int(Cfg *c, const char *key, const JsonValue *v, int64_t *out)
{
    if (v->kind != JSON_NUMBER || !v->is_int) {
        cfg_error(c, v, "'%s' must be an integer, got %s", key, got_text(v));
        return false;
    }
    if (!v->int_fits) {
        cfg_error(c, v, "'%s' = %s is out of range", key, v->text);
        return false;
    }
    *out = v->ival;
    return true;
}

/* A number, or one of the tagged floats transformers writes for non-finite
 * values: {"__float__": "Infinity"} (configuration_utils._FLOAT_TAG_VALUES). */
static bool val_num(Cfg *c, const char *key, const JsonValue *v, double *out)
{
    if (v->kind == JSON_NUMBER) {
        *out = v->num;
        return true;
    }
    const JsonValue *tag = v->kind == JSON_OBJECT && v->len == 1 ? json_get(v, "__float__") : NULL;
    if (tag && tag->kind == JSON_STRING) {
        static const struct { const char *name; double value; } TAGS[] = {
            {"Infinity", INFINITY}, {"-Infinity", -INFINITY}, {"NaN", NAN},
        };
        for (size_t i = 0; i < sizeof TAGS / sizeof TAGS[0]; i++)
            if (strcmp(tag->str, TAGS[i].name) == 0) {
                *out = TAGS[i].value;
                return true;
            }
    }
    cfg_error(c, v, "'%s' must be a number, got %s", key, got_text(v));
    return false;
}

/* An integer KEY (absent or null: DEF) that must be at least MIN. */
static int64_t cfg_int(Cfg *c, const char *key, int64_t def, int64_t min)
{
    const JsonValue *v = cfg_get(c, key);
    int64_t x = def;
    if (!v || !val_int(c, key, v, &x)) return def;
    if (x < min) {
        cfg_error(c, v, "'%s' must be at least %lld, got %lld", key, (long long)min, (long long)x);
        return def;
    }
    /* Sizes beyond this would overflow the products sema and the printer
     * form (widths times widths). */
    if (x > (int64_t)1 << 30) {
        cfg_error(c, v, "'%s' = %lld is larger than hyc supports (2^30)", key, (long long)x);
        return def;
    }
    return x;
}

static int64_t cfg_req_int(Cfg *c, const char *key, int64_t min)
{
    if (!cfg_get(c, key)) {
        if (!cfg_is_null(c, key)) cfg_error(c, NULL, "missing key '%s'", key);
        else cfg_error(c, cfg_raw(c, key), "'%s' must be an integer, got null", key);
        return min;
    }
    return cfg_int(c, key, min, min);
}

/* After a bad model-wide size, checks that use it would only repeat the
 * error: readers stop when read_common failed. */
#define RETURN_IF_FAILED(c) \
    do {                    \
        if (!(c)->ok) return; \
    } while (0)

static double cfg_num(Cfg *c, const char *key, double def)
{
    const JsonValue *v = cfg_get(c, key);
    double x = def;
    if (v && !val_num(c, key, v, &x)) return def;
    return x;
}

/* A number that must be finite and > 0 (epsilons, bases, scales). */
static double cfg_pos_num(Cfg *c, const char *key, double def)
{
    const JsonValue *v = cfg_get(c, key);
    double x = cfg_num(c, key, def);
    if (v && !(x > 0 && isfinite(x))) {
        cfg_error(c, v, "'%s' must be a positive number, got %s", key, got_text(v));
        return def;
    }
    return x;
}

/* A finite number (multipliers). */
static double cfg_finite(Cfg *c, const char *key, double def)
{
    const JsonValue *v = cfg_get(c, key);
    double x = cfg_num(c, key, def);
    if (v && !isfinite(x)) {
        cfg_error(c, v, "'%s' must be a finite number, got %s", key, got_text(v));
        return def;
    }
    return x;
}

static bool cfg_bool(Cfg *c, const char *key, bool def)
{
    const JsonValue *v = cfg_get(c, key);
    if (!v) return def;
    if (v->kind != JSON_BOOL) {
        cfg_error(c, v, "'%s' must be true or false, got %s", key, got_text(v));
        return def;
    }
    return v->boolean;
}

static const char *cfg_str(Cfg *c, const char *key, const char *def)
{
    const JsonValue *v = cfg_get(c, key);
    if (!v) return def;
    if (v->kind != JSON_STRING || strlen(v->str) != v->str_len) {
        cfg_error(c, v, "'%s' must be a string, got %s", key, got_text(v));
        return def;
    }
    return v->str;
}

/* KEY, or its old spelling ALIAS, which wins when present (how the 5.x
 * configs pop their backward-compatible names). */
static const char *alias_of(Cfg *c, const char *key, const char *alias)
{
    return cfg_get(c, alias) ? alias : key;
}

/* An integer list KEY: *n items into an arena array; false when absent or
 * wrong (reported).  Each element must be in [min, max]. */
static bool cfg_int_list(Cfg *c, const char *key, int64_t min, int64_t max, int64_t **out, int *n,
                         const JsonValue **where)
{
    const JsonValue *v = cfg_get(c, key);
    *where = v;
    if (!v) return false;
    if (v->kind != JSON_ARRAY) {
        cfg_error(c, v, "'%s' must be a list of integers, got %s", key, got_text(v));
        return false;
    }
    *out = ARENA_NEW_N(c->arena, int64_t, v->len ? v->len : 1);
    *n = v->len;
    for (int i = 0; i < v->len; i++) {
        const JsonValue *e = v->items[i];
        if (!val_int(c, key, e, &(*out)[i])) return false;
        if ((*out)[i] < min || (*out)[i] > max) {
            cfg_error(c, e, "'%s' holds %lld, outside [%lld, %lld]", key, (long long)(*out)[i], (long long)min,
                      (long long)max);
            return false;
        }
    }
    return true;
}

/* A list of N numbers KEY into OUT (absent or null: OUT untouched). */
static void cfg_num_list(Cfg *c, const char *key, int n, double *out)
{
    const JsonValue *v = cfg_get(c, key);
    if (!v) return;
    if (v->kind != JSON_ARRAY) {
        cfg_error(c, v, "'%s' must be a list of %d numbers, got %s", key, n, got_text(v));
        return;
    }
    if (v->len != n) {
        cfg_error(c, v, "'%s' must be a list of %d numbers, got %d", key, n, v->len);
        return;
    }
    for (int i = 0; i < n; i++) {
        double x;
        if (!val_num(c, key, v->items[i], &x)) return;
        if (!isfinite(x)) {
            cfg_error(c, v->items[i], "'%s' must hold finite numbers", key);
            return;
        }
        out[i] = x;
    }
}

/* A list of strings KEY (the layer types); NULL when absent. */
static const JsonValue *cfg_str_list(Cfg *c, const char *key)
{
    const JsonValue *v = cfg_get(c, key);
    if (!v) return NULL;
    if (v->kind != JSON_ARRAY) {
        cfg_error(c, v, "'%s' must be a list of strings, got %s", key, got_text(v));
        return NULL;
    }
    for (int i = 0; i < v->len; i++)
        if (v->items[i]->kind != JSON_STRING || strlen(v->items[i]->str) != v->items[i]->str_len) {
            cfg_error(c, v->items[i], "'%s' must hold strings, got %s", key, got_text(v->items[i]));
            return NULL;
        }
    return v;
}

/* The index of S in NAMES (NULL-terminated), or -1. */
static int name_index(const char *s, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

static const char *join_names(Arena *a, const char *const *names)
{
    StrBuf sb = {0};
    for (int i = 0; names[i]; i++) sb_printf(&sb, "%s\"%s\"", i ? ", " : "", names[i]);
    const char *s = arena_strdup(a, sb_cstr(&sb));
    sb_free(&sb);
    return s;
}

/* ---- values hyc can express ---------------------------------------------- */

/* HF activation names (ACT2FN) -> the DSL's MLP act, gated or not.
 * gelu_pytorch_tanh, gelu_new and gelu_fast are the same tanh approximation
 * 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
static const char *const GATED_ACT_HF[] = {"silu", "swish", "gelu", "gelu_pytorch_tanh", "gelu_new", "gelu_fast",
                                           NULL};
static const char *const GATED_ACT_DSL[] = {"swiglu", "swiglu", "geglu", "geglu_tanh", "geglu_tanh", "geglu_tanh"};
static const char *const PLAIN_ACT_HF[] = {"relu2", "silu", "swish", "gelu", "gelu_pytorch_tanh", "gelu_new",
                                           "gelu_fast", NULL};
static const char *const PLAIN_ACT_DSL[] = {"relu2", "silu", "silu", "gelu", "gelu_tanh", "gelu_tanh", "gelu_tanh"};

static const char *cfg_act(Cfg *c, const char *key, const char *def, bool gated)
{
    const char *const *hf = gated ? GATED_ACT_HF : PLAIN_ACT_HF;
    const char *s = cfg_str(c, key, def);
    int i = name_index(s, hf);
    if (i < 0) {
        cfg_error(c, cfg_get(c, key), "'%s' = \"%s\" is not supported (hyc has %s)", key,
                  json_escape(c->arena, s, strlen(s)), join_names(c->arena, hf));
        c->act_reported = true;
        return gated ? "swiglu" : "relu2";
    }
    return gated ? GATED_ACT_DSL[i] : PLAIN_ACT_DSL[i];
}

/* The activation after the Mamba (or DeltaNet) convolution, which follows
 * KEY (hidden_act) in these families: the DSL's conv_act.  The z gate is
 * SiLU whatever KEY says (HF hard-codes F.silu there). */
static const char *cfg_conv_act(Cfg *c, const char *key, const char *def)
{
    const char *s = cfg_str(c, key, def);
    int i = name_index(s, PLAIN_ACT_HF);
    if (i >= 0) return PLAIN_ACT_DSL[i];
    if (!c->act_reported)
        cfg_error(c, cfg_get(c, key), "'%s' = \"%s\" is not supported (hyc has %s)", key,
                  json_escape(c->arena, s, strlen(s)), join_names(c->arena, PLAIN_ACT_HF));
    c->act_reported = true;
    return "silu";
}

typedef struct Rope {
    double base, fraction;
    const char *scaling; /* the DSL value of rope_scaling ("llama3(...)"), or NULL */
} Rope;

/* Which partial_rotary_factor a family's RoPE honours (docs/families.md). */
typedef enum PartialRope {
    PRF_IGNORED,   /* the default rope init uses the whole head_dim */
    PRF_BAMBA,     /* rope_parameters', else 0.5 (the top-level key is overwritten) */
    PRF_QWEN3NEXT, /* rope_parameters', else the top-level key, else 0.25 */
} PartialRope;

/* The rope types of HF ROPE_INIT_FUNCTIONS that hyc has, and the
 * rope_parameters keys each reads (modeling_rope_utils, _validate_*). */
enum { RT_DEFAULT, RT_LINEAR, RT_LLAMA3, RT_YARN, RT_COUNT };
static const char *const ROPE_TYPES[] = {"default", "linear", "llama3", "yarn", NULL};
enum {
    RK_FACTOR, RK_LOW, RK_HIGH, RK_ORIGINAL_MAX, RK_BETA_FAST, RK_BETA_SLOW, RK_ATTENTION_FACTOR, RK_MSCALE,
    RK_MSCALE_ALL_DIM, RK_TRUNCATE, RK_COUNT
};
static const char *const ROPE_KEYS[] = {"factor", "low_freq_factor", "high_freq_factor",
                                        "original_max_position_embeddings", "beta_fast", "beta_slow",
                                        "attention_factor", "mscale", "mscale_all_dim", "truncate", NULL};
/* Bit k: the type reads ROPE_KEYS[k]. */
static const unsigned ROPE_TYPE_KEYS[RT_COUNT] = {
    [RT_DEFAULT] = 0,
    [RT_LINEAR] = 1u << RK_FACTOR,
    [RT_LLAMA3] = 1u << RK_FACTOR | 1u << RK_LOW | 1u << RK_HIGH | 1u << RK_ORIGINAL_MAX,
    [RT_YARN] = 1u << RK_FACTOR | 1u << RK_ORIGINAL_MAX | 1u << RK_BETA_FAST | 1u << RK_BETA_SLOW |
                1u << RK_ATTENTION_FACTOR | 1u << RK_MSCALE | 1u << RK_MSCALE_ALL_DIM | 1u << RK_TRUNCATE,
};

/* A number of rope_parameters that must be positive. */
static double rope_num(Cfg *c, const JsonValue *v, const char *key, double def)
{
    double x = def;
    if (!v || v->kind == JSON_NULL) return def;
    if (val_num(c, key, v, &x) && !(x > 0 && isfinite(x))) {
        cfg_error(c, v, "'%s' must be a positive number, got %s", key, got_text(v));
        return def;
    }
    return x;
}

/* "32", "0.5", "1e-06": a DSL number, whole ones without ".0". */
static const char *dsl_num(Arena *a, double v)
{
    char buf[32];
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, sizeof buf, "%lld", (long long)v);
    else
        fmt_f64(buf, v);
    return arena_strdup(a, buf);
}

/* HF get_mscale: the YaRN attention factor of a context extension. */
static double yarn_mscale(double factor, double mscale)
{
    return factor <= 1 ? 1.0 : 0.1 * mscale * log(factor) + 1.0;
}

/* The DSL's rope_scaling for rope type RT with the keys K (NULL: absent),
 * or NULL for "default".  original_max_position_embeddings falls back to
 * max_position_embeddings, as standardize_rope_params does. */
static const char *rope_scaling_value(Cfg *c, int rt, const JsonValue *const *k)
{
    Arena *a = c->arena;
    double omax_def = (double)cfg_int(c, "max_position_embeddings", 0, 1);
    if (cfg_get(c, "original_max_position_embeddings")) /* Phi3 style: wins */
        omax_def = cfg_pos_num(c, "original_max_position_embeddings", omax_def);
    const char *missing = NULL;
    for (int i = 0; i < RK_COUNT; i++) {
        bool required = i == RK_FACTOR || (i == RK_ORIGINAL_MAX && omax_def <= 0) ||
                        (rt == RT_LLAMA3 && (i == RK_LOW || i == RK_HIGH));
        if ((ROPE_TYPE_KEYS[rt] >> i & 1) && required && (!k[i] || k[i]->kind == JSON_NULL) && !missing)
            missing = ROPE_KEYS[i];
    }
    if (missing) {
        cfg_error(c, cfg_get(c, "rope_scaling") ? cfg_get(c, "rope_scaling") : cfg_get(c, "rope_parameters"),
                  "rope_type \"%s\" needs '%s'", ROPE_TYPES[rt], missing);
        return NULL;
    }
    double factor = rope_num(c, k[RK_FACTOR], "factor", 1);
    double omax = rope_num(c, k[RK_ORIGINAL_MAX], "original_max_position_embeddings", omax_def);
    switch (rt) {
    case RT_LINEAR: return arena_printf(a, "linear(factor = %s)", dsl_num(a, factor));
    case RT_LLAMA3: {
        double lo = rope_num(c, k[RK_LOW], "low_freq_factor", 1), hi = rope_num(c, k[RK_HIGH], "high_freq_factor", 4);
        if (!(hi > lo)) cfg_error(c, k[RK_HIGH], "'high_freq_factor' must be greater than 'low_freq_factor'");
        return arena_printf(a, "llama3(factor = %s, low_freq_factor = %s, high_freq_factor = %s, original_max = %s)",
                            dsl_num(a, factor), dsl_num(a, lo), dsl_num(a, hi), dsl_num(a, omax));
    }
    case RT_YARN: {
        if (k[RK_TRUNCATE] && k[RK_TRUNCATE]->kind == JSON_BOOL && !k[RK_TRUNCATE]->boolean)
            cfg_error(c, k[RK_TRUNCATE], "yarn with 'truncate' = false is not supported (hyc's yarn rounds the "
                                         "correction range outward, HF's default)");
        /* `beta or 32`, as HF reads them: 0 and null mean the default. */
        double fast = rope_num(c, k[RK_BETA_FAST], "beta_fast", 32), slow = rope_num(c, k[RK_BETA_SLOW], "beta_slow", 1);
        if (!(fast > slow)) cfg_error(c, k[RK_BETA_FAST], "'beta_fast' must be greater than 'beta_slow'");
        double af = yarn_mscale(factor, 1);
        if (k[RK_ATTENTION_FACTOR] && k[RK_ATTENTION_FACTOR]->kind != JSON_NULL) {
            af = rope_num(c, k[RK_ATTENTION_FACTOR], "attention_factor", af);
        } else {
            double ms = rope_num(c, k[RK_MSCALE], "mscale", 0), msa = rope_num(c, k[RK_MSCALE_ALL_DIM], "mscale_all_dim", 0);
            if (ms > 0 && msa > 0) af = yarn_mscale(factor, ms) / yarn_mscale(factor, msa); /* DeepSeek */
        }
        StrBuf sb = {0};
        sb_printf(&sb, "yarn(factor = %s, original_max = %s", dsl_num(a, factor), dsl_num(a, omax));
        if (fast != 32) sb_printf(&sb, ", beta_fast = %s", dsl_num(a, fast));
        if (slow != 1) sb_printf(&sb, ", beta_slow = %s", dsl_num(a, slow));
        if (af != yarn_mscale(factor, 1)) sb_printf(&sb, ", attention_factor = %s", dsl_num(a, af));
        sb_puts(&sb, ")");
        const char *r = arena_strdup(a, sb_cstr(&sb));
        sb_free(&sb);
        return r;
    }
    default: return NULL;
    }
}

/* rope_parameters (transformers 5) or rope_theta + rope_scaling (4.x), with
 * rope_type "default", "linear", "llama3" or "yarn" (docs/families.md). */
static Rope cfg_rope(Cfg *c, double default_theta, PartialRope prf)
{
    Rope r = {default_theta, 1.0, NULL};
    /* A legacy rope_scaling wins over rope_parameters, as in
     * convert_rope_params_to_dict. */
    const JsonValue *params = cfg_get(c, "rope_parameters");
    const JsonValue *legacy = cfg_get(c, "rope_scaling");
    if (legacy) params = legacy;
    r.base = cfg_pos_num(c, "rope_theta", r.base);
    const JsonValue *top_prf = cfg_get(c, "partial_rotary_factor");
    double top = cfg_num(c, "partial_rotary_factor", 1.0);
    const JsonValue *inner_prf = NULL;
    double inner = 1.0;
    if (params && params->kind != JSON_OBJECT) {
        cfg_error(c, params, "'rope_parameters' must be an object, got %s", got_text(params));
        params = NULL;
    }
    int rt = RT_DEFAULT;
    bool unknown_type = false; /* reported: its keys are not worth warnings */
    for (int i = 0; params && i < params->len; i++) {
        const JsonMember *mb = &params->members[i];
        const JsonValue *v = mb->value;
        if ((strcmp(mb->key, "rope_type") != 0 && strcmp(mb->key, "type") != 0) || v->kind == JSON_NULL) continue;
        if (v->kind != JSON_STRING) {
            cfg_error(c, v, "'rope_type' must be a string, got %s", got_text(v));
            continue;
        }
        rt = name_index(v->str, ROPE_TYPES);
        if (rt >= 0) continue;
        if (strcmp(v->str, "dynamic") == 0)
            cfg_error(c, v, "rope_type \"dynamic\" is not supported: its base grows with the sequence past "
                            "max_position_embeddings (a fixed NTK base is rope_scaling = ntk(alpha) in the DSL)");
        else
            cfg_error(c, v, "rope_type \"%s\" is not supported (hyc has %s)", json_escape(c->arena, v->str, v->str_len),
                      join_names(c->arena, ROPE_TYPES));
        rt = RT_DEFAULT;
        unknown_type = true;
    }
    const JsonValue *keys[RK_COUNT] = {0};
    for (int i = 0; params && i < params->len; i++) {
        const JsonMember *mb = &params->members[i];
        const JsonValue *v = mb->value;
        int k = name_index(mb->key, ROPE_KEYS);
        if (strcmp(mb->key, "rope_theta") == 0) {
            if (val_num(c, "rope_theta", v, &r.base) && !(r.base > 0 && isfinite(r.base)))
                cfg_error(c, v, "'rope_theta' must be a positive number, got %s", got_text(v));
        } else if (strcmp(mb->key, "rope_type") == 0 || strcmp(mb->key, "type") == 0) {
            continue;
        } else if (strcmp(mb->key, "partial_rotary_factor") == 0) {
            inner_prf = v;
            val_num(c, "partial_rotary_factor", v, &inner);
        } else if (k >= 0 && (ROPE_TYPE_KEYS[rt] >> k & 1)) {
            keys[k] = v;
        } else if (v->kind != JSON_NULL && !unknown_type) {
            cfg_warn(c, v, "'%s' in rope_parameters is ignored with rope_type \"%s\"",
                     json_escape(c->arena, mb->key, mb->key_len), ROPE_TYPES[rt]);
        }
    }
    if (rt != RT_DEFAULT) r.scaling = rope_scaling_value(c, rt, keys);
    switch (prf) {
    case PRF_IGNORED:
        if ((inner_prf && inner != 1.0) || (top_prf && top != 1.0))
            cfg_warn(c, inner_prf ? inner_prf : top_prf,
                     "partial_rotary_factor is ignored by %s in transformers 5.17: the whole head is rotated",
                     c->family);
        break;
    case PRF_BAMBA: r.fraction = inner_prf ? inner : 0.5; break;
    case PRF_QWEN3NEXT: r.fraction = inner_prf ? inner : top_prf ? top : 0.25; break;
    }
    if (!(r.fraction > 0 && r.fraction <= 1)) {
        cfg_error(c, inner_prf ? inner_prf : top_prf, "partial_rotary_factor must be in (0, 1], got %g", r.fraction);
        r.fraction = 1;
    }
    return r;
}

/* HF builds cos/sin for int(head_dim * fraction) dims, in pairs: an odd
 * count (or none) cannot be rotated. */
static void check_rope_dims(Cfg *c, const ImpAttention *a, const char *key)
{
    int64_t r = (int64_t)((double)a->head_dim * a->rope_fraction);
    if (a->rope && (r < 2 || r % 2))
        cfg_error(c, cfg_get(c, key),
                  "RoPE would rotate %lld of the %lld dimensions of a head; that must be a positive even number",
                  (long long)r, (long long)a->head_dim);
}

/* num_key_value_heads (null or absent: DEF; DEF 0 means "= heads"). */
static int64_t cfg_kv_heads(Cfg *c, const char *key, int64_t def, int64_t heads)
{
    int64_t kv = cfg_int(c, key, def ? def : heads, 1);
    if (cfg_is_null(c, key)) kv = heads;
    if (heads % kv) {
        cfg_error(c, cfg_get(c, key), "'%s' (%lld) must divide the number of attention heads (%lld)", key,
                  (long long)kv, (long long)heads);
        return heads;
    }
    return kv;
}

/* head_dim for the families that read it with getattr(config, "head_dim",
 * hidden_size // heads): a config.json value wins, null or absent falls back. */
static int64_t cfg_head_dim(Cfg *c, int64_t d, int64_t heads)
{
    return cfg_int(c, "head_dim", d / heads, 1);
}

/* time_step_limit: a pair [min, max] (max may be the tagged Infinity). */
static void cfg_dt_limit(Cfg *c, const char *key, double *lo, double *hi)
{
    const JsonValue *v = cfg_get(c, key);
    *lo = 0;
    *hi = INFINITY;
    if (!v) return;
    if (v->kind != JSON_ARRAY || v->len != 2) {
        if (v->kind == JSON_ARRAY)
            cfg_error(c, v, "'%s' must be a pair [min, max], got %d value%s", key, v->len, v->len == 1 ? "" : "s");
        else
            cfg_error(c, v, "'%s' must be a pair [min, max], got %s", key, got_text(v));
        return;
    }
    double a, b;
    if (!val_num(c, key, v->items[0], &a) || !val_num(c, key, v->items[1], &b)) return;
    if (!(a >= 0 && isfinite(a) && b > a)) {
        cfg_error(c, v, "'%s' must satisfy 0 <= min < max", key);
        return;
    }
    *lo = a;
    *hi = b;
}

/* router_aux_loss_coef: recorded as the DSL's aux_loss (training only). */
static double cfg_aux_loss(Cfg *c)
{
    double x = cfg_num(c, "router_aux_loss_coef", 0);
    if (!(x >= 0 && isfinite(x))) {
        cfg_error(c, cfg_get(c, "router_aux_loss_coef"), "'router_aux_loss_coef' must be a number >= 0");
        return 0;
    }
    return x;
}

/* ==== building the description ============================================ */

static ImpSub sub_new(SubKind k)
{
    ImpSub s;
    memset(&s, 0, sizeof s);
    s.kind = k;
    s.in_scale = s.out_scale = 1;
    s.residual = true;
    return s;
}

static ImpSub attention_sub(int64_t heads, int64_t kv_heads, int64_t head_dim)
{
    ImpSub s = sub_new(SK_ATTENTION);
    s.at.heads = heads;
    s.at.kv_heads = kv_heads;
    s.at.head_dim = head_dim;
    s.at.rope_base = 10000;
    s.at.rope_fraction = 1;
    s.at.key_scale = 1;
    return s;
}

static ImpSub mlp_sub(const char *act, int64_t hidden, bool bias)
{
    ImpSub s = sub_new(SK_MLP);
    s.mlp.act = act;
    s.mlp.hidden = hidden;
    s.mlp.bias = bias;
    s.mlp.gate_scale = s.mlp.down_scale = 1;
    return s;
}

static ImpSub mamba2_sub(void)
{
    ImpSub s = sub_new(SK_MAMBA2);
    s.m2.conv_bias = true;
    s.m2.out_bias = -1;
    s.m2.gated_norm = true;
    s.m2.dt_max = INFINITY;
    for (int i = 0; i < 5; i++) s.m2.in_proj_scales[i] = 1;
    return s;
}

/* Add a layer kind (or find it by name: kinds of one name are built from the
 * same config, so they are equal). */
static int add_kind(ImportHfModel *m, const char *name, const ImpSub *subs, int n)
{
    for (int k = 0; k < m->n_kinds; k++)
        if (strcmp(m->kinds[k].name, name) == 0) return k;
    HYC_ASSERT(m->n_kinds < IMP_MAX_KINDS && n <= IMP_MAX_SUBS);
    ImpLayer *l = &m->kinds[m->n_kinds];
    l->name = name;
    l->n_subs = n;
    for (int i = 0; i < n; i++) l->subs[i] = subs[i];
    return m->n_kinds++;
}

static void set_layers(ImportHfModel *m, Arena *a, int n)
{
    m->n_layers = n;
    m->kind_of = ARENA_NEW_N(a, int, n > 0 ? n : 1);
}

/* The model-wide keys every family has. */
static void read_common(Cfg *c, ImportHfModel *m, bool tie_default)
{
    m->vocab = cfg_req_int(c, "vocab_size", 1);
    m->d_model = cfg_req_int(c, "hidden_size", 1);
    m->tie = cfg_bool(c, "tie_word_embeddings", tie_default);
    m->max_pos = cfg_int(c, "max_position_embeddings", 0, 1);
    m->embedding_scale = m->logits_scale = m->residual_scale = 1;
}

/* num_hidden_layers, required wherever the layer list does not give it. */
static int cfg_layers(Cfg *c)
{
    return (int)cfg_req_int(c, "num_hidden_layers", 1);
}

/* attention heads (required) and a check that d is a multiple, where HF's
 * validate_architecture insists. */
static int64_t cfg_heads(Cfg *c, const char *key, int64_t def, int64_t d, bool must_divide)
{
    int64_t h = def ? cfg_int(c, key, def, 1) : cfg_req_int(c, key, 1);
    if (must_divide && d % h)
        cfg_error(c, cfg_get(c, key), "'hidden_size' (%lld) must be a multiple of '%s' (%lld)", (long long)d, key,
                  (long long)h);
    return h;
}

/* ---- llama ----------------------------------------------------------------- */

static void read_llama(Cfg *c, ImportHfModel *m)
{
    read_common(c, m, false);
    RETURN_IF_FAILED(c);
    int n = cfg_layers(c);
    int64_t d = m->d_model;
    int64_t heads = cfg_heads(c, "num_attention_heads", 32, d, true);
    ImpSub at = attention_sub(heads, cfg_kv_heads(c, "num_key_value_heads", 0, heads), cfg_head_dim(c, d, heads));
    at.at.bias = cfg_bool(c, "attention_bias", false);
    Rope r = cfg_rope(c, 10000, PRF_IGNORED);
    at.at.rope = true;
    at.at.rope_base = r.base;
    at.at.rope_scaling = r.scaling;
    check_rope_dims(c, &at.at, "head_dim");
    ImpSub ffn = mlp_sub(cfg_act(c, "hidden_act", "silu", true), cfg_int(c, "intermediate_size", 11008, 1),
                         cfg_bool(c, "mlp_bias", false));
    m->norm_eps = cfg_pos_num(c, "rms_norm_eps", 1e-6);
    ImpSub subs[] = {at, ffn};
    int k = add_kind(m, "attn", subs, 2);
    set_layers(m, c->arena, n);
    for (int i = 0; i < n; i++) m->kind_of[i] = k;
}

/* ---- mamba, falcon_mamba -------------------------------------------------- */

/* time_step_rank / mamba_dt_rank: an integer or "auto" = ceil(d/16). */
static int64_t cfg_dt_rank(Cfg *c, const char *key, int64_t d)
{
    const JsonValue *v = cfg_get(c, key);
    int64_t r = (d + 15) / 16;
    if (!v || (v->kind == JSON_STRING && strcmp(v->str, "auto") == 0)) return r;
    if (v->kind == JSON_STRING) {
        cfg_error(c, v, "'%s' must be an integer or \"auto\"", key);
        return r;
    }
    return cfg_int(c, key, r, 1);
}

static void read_mamba_common(Cfg *c, ImportHfModel *m, bool falcon)
{
    read_common(c, m, true);
    RETURN_IF_FAILED(c);
    int n = cfg_layers(c);
    int64_t d = m->d_model;
    ImpSub s = sub_new(SK_MAMBA1);
    s.m1.d_state = cfg_int(c, "state_size", 16, 1);
    s.m1.expand = cfg_int(c, "expand", 2, 1);
    /* intermediate_size is not a field of MambaConfig: a config.json value
     * is set after __post_init__ and so overrides expand * hidden_size. */
    s.m1.d_inner = cfg_int(c, "intermediate_size", s.m1.expand * d, 1);
    s.m1.d_conv = cfg_int(c, "conv_kernel", 4, 1);
    s.m1.dt_rank = cfg_dt_rank(c, "time_step_rank", d);
    s.m1.bias = cfg_bool(c, "use_bias", false);
    s.m1.conv_bias = cfg_bool(c, "use_conv_bias", true);
    s.m1.conv_act = cfg_conv_act(c, "hidden_act", "silu");
    m->norm_eps = cfg_pos_num(c, "layer_norm_epsilon", 1e-5);
    if (falcon) {
        s.m1.inner_norms = 2;
        s.m1.inner_norm_eps = cfg_pos_num(c, "mixer_rms_eps", 1e-6);
    }
    int k = add_kind(m, "mamba", &s, 1);
    set_layers(m, c->arena, n);
    for (int i = 0; i < n; i++) m->kind_of[i] = k;
}

static void read_mamba(Cfg *c, ImportHfModel *m) { read_mamba_common(c, m, false); }
static void read_falcon_mamba(Cfg *c, ImportHfModel *m) { read_mamba_common(c, m, true); }

/* ---- mamba2 ---------------------------------------------------------------- */

/* d_inner = heads * head_dim, as HF validates. */
static void check_mamba2_width(Cfg *c, const char *heads_key, const ImpMamba2 *s, int64_t d_inner)
{
    if (s->heads * s->head_dim != d_inner)
        cfg_error(c, cfg_get(c, heads_key),
                  "Mamba-2 heads (%lld) x head dim (%lld) must equal the inner width %lld", (long long)s->heads,
                  (long long)s->head_dim, (long long)d_inner);
    if (s->heads % s->groups)
        cfg_error(c, cfg_get(c, heads_key), "Mamba-2 heads (%lld) must be a multiple of the groups (%lld)",
                  (long long)s->heads, (long long)s->groups);
}

static void read_mamba2(Cfg *c, ImportHfModel *m)
{
    read_common(c, m, false);
    RETURN_IF_FAILED(c);
    int n = cfg_layers(c);
    int64_t d = m->d_model;
    ImpSub s = mamba2_sub();
    s.m2.heads = cfg_int(c, "num_heads", 128, 1);
    s.m2.head_dim = cfg_int(c, "head_dim", 64, 1);
    s.m2.groups = cfg_int(c, "n_groups", 8, 1);
    s.m2.d_state = cfg_int(c, "state_size", 128, 1);
    s.m2.d_conv = cfg_int(c, "conv_kernel", 4, 1);
    s.m2.chunk = cfg_int(c, "chunk_size", 256, 1);
    s.m2.bias = cfg_bool(c, "use_bias", false);
    s.m2.conv_bias = cfg_bool(c, "use_conv_bias", true);
    cfg_dt_limit(c, "time_step_limit", &s.m2.dt_min, &s.m2.dt_max);
    check_mamba2_width(c, "num_heads", &s.m2, cfg_int(c, "expand", 2, 1) * d);
    /* MambaRMSNormGated normalizes over the whole d_inner. */
    s.m2.norm_groups = 1;
    cfg_dt_rank(c, "time_step_rank", d); /* no dt_proj in Mamba-2 */
    /* Not fields of Mamba2Config and never read: HF always gates, then norms. */
    if (!cfg_bool(c, "rms_norm", true))
        cfg_warn(c, cfg_get(c, "rms_norm"), "'rms_norm' = false is ignored by transformers 5.17: "
                                            "the gated RMSNorm is always applied");
    if (cfg_bool(c, "norm_before_gate", false))
        cfg_warn(c, cfg_get(c, "norm_before_gate"), "'norm_before_gate' = true is ignored by transformers "
                                                    "5.17: the gate is applied before the norm");
    s.m2.conv_act = cfg_conv_act(c, "hidden_act", "silu");
    m->norm_eps = cfg_pos_num(c, "layer_norm_epsilon", 1e-5);
    int k = add_kind(m, "mamba", &s, 1);
    set_layers(m, c->arena, n);
    for (int i = 0; i < n; i++) m->kind_of[i] = k;
}

/* ---- jamba ----------------------------------------------------------------- */

/* A period / offset pair; HF requires offset < period. */
static void cfg_period(Cfg *c, const char *pkey, int64_t pdef, const char *okey, int64_t odef, int64_t *p,
                       int64_t *o)
{
    *p = cfg_int(c, pkey, pdef, 1);
    *o = cfg_int(c, okey, odef, 0);
    if (*o >= *p) {
        cfg_error(c, cfg_get(c, okey), "'%s' (%lld) must be smaller than '%s' (%lld)", okey, (long long)*o, pkey,
                  (long long)*p);
        *o = 0;
    }
}

static void read_jamba(Cfg *c, ImportHfModel *m)
{
    read_common(c, m, false);
    RETURN_IF_FAILED(c);
    int n = cfg_layers(c);
    int64_t d = m->d_model;
    int64_t ap, ao, ep, eo;
    cfg_period(c, "attn_layer_period", 8, "attn_layer_offset", 4, &ap, &ao);
    cfg_period(c, "expert_layer_period", 2, "expert_layer_offset", 1, &ep, &eo);
    int64_t heads = cfg_heads(c, "num_attention_heads", 32, d, false);
    ImpSub at = attention_sub(heads, cfg_kv_heads(c, "num_key_value_heads", 8, heads), cfg_head_dim(c, d, heads));
    at.at.rope = false; /* Jamba has no positional encoding */

    ImpSub mb = sub_new(SK_MAMBA1);
    mb.m1.d_state = cfg_int(c, "mamba_d_state", 16, 1);
    mb.m1.d_conv = cfg_int(c, "mamba_d_conv", 4, 1);
    mb.m1.expand = cfg_int(c, "mamba_expand", 2, 1);
    mb.m1.d_inner = mb.m1.expand * d;
    mb.m1.dt_rank = cfg_dt_rank(c, "mamba_dt_rank", d);
    mb.m1.conv_bias = cfg_bool(c, "mamba_conv_bias", true);
    mb.m1.bias = cfg_bool(c, "mamba_proj_bias", false);
    mb.m1.inner_norms = 1; /* weighted dt/B/C RMSNorms, eps rms_norm_eps */

    const char *act = cfg_act(c, "hidden_act", "silu", true); /* the MLP's and experts' */
    mb.m1.conv_act = cfg_conv_act(c, "hidden_act", "silu");
    int64_t hidden = cfg_int(c, "intermediate_size", 14336, 1);
    ImpSub mlp = mlp_sub(act, hidden, false);
    const char *experts_key = alias_of(c, "num_experts", "num_local_experts");
    ImpSub moe = sub_new(SK_MOE);
    moe.moe.experts = cfg_int(c, experts_key, 16, 1);
    moe.moe.top_k = cfg_int(c, "num_experts_per_tok", 2, 1);
    moe.moe.hidden = hidden;
    moe.moe.act = act;
    moe.moe.routing = "softmax_topk"; /* softmax over all experts, top-k, no renormalization */
    moe.moe.routed_scale = 1;
    moe.moe.aux_loss = cfg_aux_loss(c);
    if (moe.moe.top_k > moe.moe.experts)
        cfg_error(c, cfg_get(c, "num_experts_per_tok"), "'num_experts_per_tok' (%lld) exceeds '%s' (%lld)",
                  (long long)moe.moe.top_k, experts_key, (long long)moe.moe.experts);
    m->norm_eps = cfg_pos_num(c, "rms_norm_eps", 1e-6);

    set_layers(m, c->arena, n);
    for (int i = 0; i < n; i++) {
        bool attn = i % ap == ao;
        bool sparse = moe.moe.experts > 1 && i % ep == eo; /* layers_num_experts */
        ImpSub subs[] = {attn ? at : mb, sparse ? moe : mlp};
        static const char *const NAMES[2][2] = {{"mamba", "mamba_moe"}, {"attn", "attn_moe"}};
        m->kind_of[i] = add_kind(m, NAMES[attn][sparse], subs, 2);
    }
}

/* ---- falcon_h1 -------------------------------------------------------------- */

static void read_falcon_h1(Cfg *c, ImportHfModel *m)
{
    read_common(c, m, false);
    RETURN_IF_FAILED(c);
    int n = cfg_layers(c);
    int64_t d = m->d_model;

    /* mamba_d_ssm: absent means the class default 1024, null means
     * mamba_expand * hidden_size. */
    int64_t expand = cfg_int(c, "mamba_expand", 2, 1);
    int64_t d_ssm = cfg_is_null(c, "mamba_d_ssm") ? expand * d : cfg_int(c, "mamba_d_ssm", 1024, 1);
    ImpSub mb = mamba2_sub();
    mb.m2.heads = cfg_int(c, "mamba_n_heads", 128, 1);
    const JsonValue *dh = cfg_get(c, "mamba_d_head");
    mb.m2.head_dim = dh && dh->kind == JSON_STRING && strcmp(dh->str, "auto") == 0
                         ? d_ssm / mb.m2.heads
                         : cfg_int(c, "mamba_d_head", d_ssm / mb.m2.heads, 1);
    mb.m2.groups = cfg_int(c, "mamba_n_groups", 1, 1);
    mb.m2.d_state = cfg_int(c, "mamba_d_state", 256, 1);
    mb.m2.d_conv = cfg_int(c, "mamba_d_conv", 4, 1);
    mb.m2.chunk = cfg_int(c, "mamba_chunk_size", 256, 1);
    mb.m2.conv_bias = cfg_bool(c, "mamba_conv_bias", true);
    mb.m2.bias = cfg_bool(c, "mamba_proj_bias", false);        /* in_proj */
    mb.m2.out_bias = cfg_bool(c, "projectors_bias", false);    /* out_proj */
    mb.m2.gated_norm = cfg_bool(c, "mamba_rms_norm", false);
    mb.m2.norm_before_gate = cfg_bool(c, "mamba_norm_before_gate", true);
    mb.m2.norm_groups = mb.m2.groups; /* FalconH1RMSNormGated is grouped */
    cfg_dt_limit(c, "time_step_limit", &mb.m2.dt_min, &mb.m2.dt_max);
    cfg_num_list(c, "ssm_multipliers", 5, mb.m2.in_proj_scales);
    mb.in_scale = cfg_finite(c, "ssm_in_multiplier", 1);
    mb.out_scale = cfg_finite(c, "ssm_out_multiplier", 1);
    check_mamba2_width(c, "mamba_n_heads", &mb.m2, d_ssm);

    int64_t heads = cfg_heads(c, "num_attention_heads", 32, d, false);
    ImpSub at = attention_sub(heads, cfg_kv_heads(c, "num_key_value_heads", 8, heads), cfg_head_dim(c, d, heads));
    at.at.bias = cfg_bool(c, "attention_bias", false);
    Rope r = cfg_rope(c, 10000, PRF_IGNORED);
    at.at.rope = true;
    at.at.rope_base = r.base;
    at.at.rope_scaling = r.scaling;
    at.at.key_scale = cfg_finite(c, "key_multiplier", 1);
    check_rope_dims(c, &at.at, "head_dim");
    at.in_scale = cfg_finite(c, "attention_in_multiplier", 1);
    at.out_scale = cfg_finite(c, "attention_out_multiplier", 1);

    mb.m2.conv_act = cfg_conv_act(c, "hidden_act", "silu");
    ImpSub mlp = mlp_sub(cfg_act(c, "hidden_act", "silu", true), cfg_int(c, "intermediate_size", 14336, 1),
                         cfg_bool(c, "mlp_bias", false));
    double mm[2] = {1, 1};
    cfg_num_list(c, "mlp_multipliers", 2, mm);
    mlp.mlp.gate_scale = mm[0];
    mlp.mlp.down_scale = mm[1];

    m->embedding_scale = cfg_finite(c, "embedding_multiplier", 1);
    m->logits_scale = cfg_finite(c, "lm_head_multiplier", 1);
    m->norm_eps = cfg_pos_num(c, "rms_norm_eps", 1e-5);

    ImpSub par = sub_new(SK_PARALLEL);
    par.branches = ARENA_NEW_N(c->arena, ImpSub, 2);
    par.branches[0] = mb;
    par.branches[1] = at;
    par.n_branches = 2;
    ImpSub subs[] = {par, mlp};
    int k = add_kind(m, "hybrid", subs, 2);
    set_layers(m, c->arena, n);
    for (int i = 0; i < n; i++) m->kind_of[i] = k;
}

/* ---- the Mamba-2 keys bamba and granitemoehybrid share --------------------- */

static ImpSub read_mamba2_prefixed(Cfg *c, int64_t d)
{
    ImpSub s = mamba2_sub();
    int64_t d_inner = cfg_int(c, "mamba_expand", 2, 1) * d;
    s.m2.heads = cfg_int(c, "mamba_n_heads", 128, 1);
    const JsonValue *dh = cfg_get(c, "mamba_d_head");
    s.m2.head_dim = dh && dh->kind == JSON_STRING && strcmp(dh->str, "auto") == 0
                        ? d_inner / s.m2.heads
                        : cfg_int(c, "mamba_d_head", d_inner / s.m2.heads, 1);
    s.m2.groups = cfg_int(c, "mamba_n_groups", 1, 1);
    s.m2.d_state = cfg_int(c, "mamba_d_state", 256, 1);
    s.m2.d_conv = cfg_int(c, "mamba_d_conv", 4, 1);
    s.m2.chunk = cfg_int(c, "mamba_chunk_size", 256, 1);
    s.m2.conv_bias = cfg_bool(c, "mamba_conv_bias", true);
    s.m2.bias = cfg_bool(c, "mamba_proj_bias", false);
    s.m2.norm_groups = 1; /* BambaRMSNormGated / GraniteMoeHybridRMSNormGated: whole d_inner */
    cfg_dt_limit(c, "time_step_limit", &s.m2.dt_min, &s.m2.dt_max);
    check_mamba2_width(c, "mamba_n_heads", &s.m2, d_inner);
    s.m2.conv_act = cfg_conv_act(c, "hidden_act", "silu");
    return s;
}

/* ---- bamba ------------------------------------------------------------------ */

static void read_bamba(Cfg *c, ImportHfModel *m)
{
    read_common(c, m, false);
    RETURN_IF_FAILED(c);
    int n = cfg_layers(c);
    int64_t d = m->d_model;
    ImpSub mb = read_mamba2_prefixed(c, d);
    int64_t heads = cfg_heads(c, "num_attention_heads", 32, d, false);
    ImpSub at = attention_sub(heads, cfg_kv_heads(c, "num_key_value_heads", 8, heads), cfg_head_dim(c, d, heads));
    at.at.bias = cfg_bool(c, "attention_bias", false);
    Rope r = cfg_rope(c, 10000, PRF_BAMBA);
    at.at.rope = true;
    at.at.rope_base = r.base;
    at.at.rope_scaling = r.scaling;
    at.at.rope_fraction = r.fraction;
    check_rope_dims(c, &at.at, "head_dim");
    ImpSub mlp = mlp_sub(cfg_act(c, "hidden_act", "silu", true), cfg_int(c, "intermediate_size", 14336, 1),
                         cfg_bool(c, "mlp_bias", false));
    m->norm_eps = cfg_pos_num(c, "rms_norm_eps", 1e-5);

    set_layers(m, c->arena, n);
    ImpSub ms[] = {mb, mlp}, as[] = {at, mlp};
    int km = add_kind(m, "mamba", ms, 2);
    for (int i = 0; i < n; i++) m->kind_of[i] = km;
    int64_t *idx = NULL;
    int n_idx = 0;
    const JsonValue *where;
    if (cfg_int_list(c, "attn_layer_indices", 0, n - 1, &idx, &n_idx, &where)) {
        int ka = n_idx ? add_kind(m, "attn", as, 2) : km;
        for (int j = 0; j < n_idx; j++) m->kind_of[idx[j]] = ka;
    }
}

/* ---- layer-type lists -------------------------------------------------------- */

/* Map each entry of the string list V through NAMES (NULL-terminated) to the
 * index in CODES; report an unknown entry with the accepted spellings. */
static bool map_layer_types(Cfg *c, const char *key, const JsonValue *v, const char *const *names, const int *codes,
                            int *out)
{
    for (int i = 0; i < v->len; i++) {
        int j = name_index(v->items[i]->str, names);
        if (j < 0) {
            cfg_error(c, v->items[i], "unknown layer type \"%s\" in '%s' (%s has %s)",
                      json_escape(c->arena, v->items[i]->str, v->items[i]->str_len), key, c->family,
                      join_names(c->arena, names));
            return false;
        }
        out[i] = codes[j];
    }
    return true;
}

/* num_hidden_layers next to a layer list: both must agree. */
static int layers_from_list(Cfg *c, const char *list_key, int list_len)
{
    const JsonValue *nv = cfg_get(c, "num_hidden_layers");
    int64_t n = cfg_int(c, "num_hidden_layers", list_len, 1);
    if (nv && n != list_len)
        cfg_error(c, nv, "'num_hidden_layers' (%lld) does not match the %d entries of '%s'", (long long)n, list_len,
                  list_key);
    return list_len;
}

/* ---- nemotron_h -------------------------------------------------------------- */

enum { NEM_MAMBA, NEM_ATTN, NEM_MLP, NEM_MOE };

static void read_nemotron_h(Cfg *c, ImportHfModel *m)
{
    read_common(c, m, false);
    RETURN_IF_FAILED(c);
    static const char *const TYPE_NAMES[] = {"linear_attention", "mamba", "full_attention", "attention", "mlp",
                                             "moe", NULL};
    static const int TYPE_CODES[] = {NEM_MAMBA, NEM_MAMBA, NEM_ATTN, NEM_ATTN, NEM_MLP, NEM_MOE};
    int *types = NULL, n = 0;
    const JsonValue *list = cfg_str_list(c, "layers_block_type");
    const JsonValue *pat = cfg_get(c, "hybrid_override_pattern");
    const char *list_key = list ? "layers_block_type" : "hybrid_override_pattern";
    if (list) {
        n = list->len;
        types = ARENA_NEW_N(c->arena, int, n ? n : 1);
        if (!map_layer_types(c, "layers_block_type", list, TYPE_NAMES, TYPE_CODES, types)) return;
    } else if (pat) {
        const char *s = cfg_str(c, "hybrid_override_pattern", "");
        static const char SYMS[] = "M*-E";
        n = (int)strlen(s);
        types = ARENA_NEW_N(c->arena, int, n ? n : 1);
        for (int i = 0; i < n; i++) {
            const char *p = strchr(SYMS, s[i]);
            if (!p || !s[i]) {
                cfg_error(c, pat, "'hybrid_override_pattern' has '%c' at %d; it takes M (Mamba-2), * "
                                  "(attention), - (MLP) and E (MoE)",
                          s[i] > ' ' && s[i] < 127 ? s[i] : '?', i);
                return;
            }
            types[i] = (int)(p - SYMS);
        }
    } else {
        static const int DEFAULT[] = {NEM_MAMBA, NEM_MOE, NEM_ATTN, NEM_MLP};
        n = 4;
        types = ARENA_NEW_N(c->arena, int, n);
        memcpy(types, DEFAULT, sizeof DEFAULT);
        list_key = "the default layer list";
    }
    if (n == 0) {
        cfg_error(c, list ? list : pat, "'%s' is empty", list_key);
        return;
    }
    /* num_hidden_layers is deprecated here and ignored (HF warns). */
    const JsonValue *nv = cfg_get(c, "num_hidden_layers");
    int64_t nl = cfg_int(c, "num_hidden_layers", n, 1);
    if (nv && nl != n)
        cfg_warn(c, nv, "'num_hidden_layers' (%lld) is ignored: %s has %d layers", (long long)nl, list_key, n);

    int64_t heads = cfg_int(c, "num_attention_heads", 32, 1);
    ImpSub at = attention_sub(heads, cfg_kv_heads(c, "num_key_value_heads", 8, heads), cfg_int(c, "head_dim", 128, 1));
    at.at.rope = false; /* no positional encoding */
    if (cfg_bool(c, "attention_bias", false))
        cfg_warn(c, cfg_get(c, "attention_bias"), "'attention_bias' is ignored by nemotron_h in transformers 5.17: "
                                                  "its attention has no biases");
    if (cfg_get(c, "sliding_window"))
        cfg_warn(c, cfg_get(c, "sliding_window"), "'sliding_window' is ignored by nemotron_h in transformers 5.17: "
                                                  "attention is fully causal");

    ImpSub mb = mamba2_sub();
    mb.m2.heads = cfg_int(c, "mamba_num_heads", 128, 1);
    mb.m2.head_dim = cfg_int(c, "mamba_head_dim", 64, 1);
    mb.m2.groups = cfg_int(c, alias_of(c, "n_groups", "mamba_n_groups"), 8, 1);
    mb.m2.d_state = cfg_int(c, "ssm_state_size", 128, 1);
    mb.m2.d_conv = cfg_int(c, alias_of(c, "conv_kernel", "mamba_d_conv"), 4, 1);
    mb.m2.chunk = cfg_int(c, alias_of(c, "chunk_size", "mamba_chunk_size"), 128, 1);
    mb.m2.conv_bias = cfg_bool(c, alias_of(c, "use_conv_bias", "mamba_conv_bias"), true);
    mb.m2.bias = cfg_bool(c, "use_bias", false);
    mb.m2.norm_groups = mb.m2.groups; /* Zamba2RMSNormGated, group size E/G */
    /* The mixer clamps dt to (time_step_min, inf); time_step_limit is unused. */
    mb.m2.dt_min = cfg_pos_num(c, alias_of(c, "time_step_min", "mamba_dt_min"), 1e-3);
    cfg_raw(c, "time_step_limit"); /* never read by the Nemotron-H mixer */
    cfg_raw(c, "mamba_dt_limit");
    check_mamba2_width(c, "mamba_num_heads", &mb.m2, mb.m2.heads * mb.m2.head_dim);
    mb.m2.conv_act = cfg_conv_act(c, "mamba_hidden_act", "silu");
    if (cfg_bool(c, "mamba_proj_bias", false))
        cfg_warn(c, cfg_get(c, "mamba_proj_bias"), "'mamba_proj_bias' is ignored by nemotron_h in transformers "
                                                   "5.17: the Mamba biases follow 'use_bias'");

    const char *act = cfg_act(c, "mlp_hidden_act", "relu2", false);
    ImpSub mlp = mlp_sub(act, cfg_int(c, "intermediate_size", 21504, 1), cfg_bool(c, "mlp_bias", false));
    m->norm_eps = cfg_pos_num(c, "layer_norm_epsilon", 1e-5);

    /* MoE (DeepSeek-V3 routing): sigmoid scores, selection by score + a
     * learned bias, weights the unbiased scores; a non-gated shared expert. */
    bool any_moe = false;
    for (int i = 0; i < n; i++) any_moe |= types[i] == NEM_MOE;
    ImpSub moe = sub_new(SK_MOE);
    if (any_moe) {
        const char *experts_key = alias_of(c, "n_routed_experts", "num_local_experts");
        moe.moe.experts = cfg_int(c, experts_key, 8, 1);
        moe.moe.top_k = cfg_int(c, "num_experts_per_tok", 2, 1);
        moe.moe.hidden = cfg_int(c, "moe_intermediate_size", 7688, 1);
        moe.moe.shared_hidden = cfg_int(c, "moe_shared_expert_intermediate_size", 7688, 1);
        moe.moe.act = act;
        moe.moe.routing = "sigmoid_topk";
        moe.moe.renormalize = cfg_bool(c, "norm_topk_prob", true);
        moe.moe.routed_scale = cfg_finite(c, "routed_scaling_factor", 1.0);
        if (moe.moe.top_k > moe.moe.experts)
            cfg_error(c, cfg_get(c, "num_experts_per_tok"), "'num_experts_per_tok' (%lld) exceeds '%s' (%lld)",
                      (long long)moe.moe.top_k, experts_key, (long long)moe.moe.experts);
        /* Group-limited selection (NemotronHTopkRouter): n_group groups of
         * experts, the best topk_group kept.  HF needs n_group to divide the
         * experts and takes the top 2 of each group. */
        moe.moe.route_groups = cfg_int(c, "n_group", 1, 1);
        moe.moe.route_topk_groups = cfg_int(c, "topk_group", 1, 1);
        int64_t g = moe.moe.route_groups, per = moe.moe.experts / g;
        if (moe.moe.route_topk_groups > g)
            cfg_error(c, cfg_get(c, "topk_group"), "'topk_group' (%lld) exceeds 'n_group' (%lld)",
                      (long long)moe.moe.route_topk_groups, (long long)g);
        else if (g > 1 && (moe.moe.experts % g || per < 2))
            cfg_error(c, cfg_get(c, "n_group"), "'n_group' (%lld) must divide the %lld experts into groups of at least 2",
                      (long long)g, (long long)moe.moe.experts);
        else if (g > 1 && moe.moe.top_k > moe.moe.route_topk_groups * per)
            cfg_error(c, cfg_get(c, "num_experts_per_tok"), "'num_experts_per_tok' (%lld) exceeds the %lld experts of "
                                                            "the 'topk_group' groups kept",
                      (long long)moe.moe.top_k, (long long)(moe.moe.route_topk_groups * per));
        /* fc1_latent_proj / fc2_latent_proj around the routed experts. */
        moe.moe.latent = cfg_int(c, "moe_latent_size", 0, 1);
        /* The shared expert and latent projections take mlp_bias; hyc's MoE has no biases. */
        if (cfg_bool(c, "mlp_bias", false))
            cfg_error(c, cfg_get(c, "mlp_bias"), "'mlp_bias' with MoE layers is not supported (the shared expert "
                                                 "and latent projections would have biases)");
    }

    set_layers(m, c->arena, n);
    static const char *const KIND_NAMES[] = {"mamba", "attn", "mlp", "moe"};
    static const char KIND_SYMS[] = "M*-E";
    const ImpSub *ops[] = {&mb, &at, &mlp, &moe}; /* by NEM_* */
    for (int i = 0; i < n; i++) {
        const ImpSub *s = ops[types[i]];
        int k = add_kind(m, KIND_NAMES[types[i]], s, 1);
        m->kind_of[i] = k;
        m->pattern_sym[k] = KIND_SYMS[types[i]];
    }
    char *p = arena_alloc(c->arena, (size_t)n + 1);
    for (int i = 0; i < n; i++) p[i] = m->pattern_sym[m->kind_of[i]];
    m->pattern = p;
}

/* ---- zamba2 ------------------------------------------------------------------ */

static void read_zamba2(Cfg *c, ImportHfModel *m)
{
    read_common(c, m, true);
    RETURN_IF_FAILED(c);
    int64_t d = m->d_model;
    static const char *const TYPE_NAMES[] = {"mamba", "linear_attention", "hybrid", NULL};
    static const int TYPE_CODES[] = {0, 0, 1};
    const JsonValue *list = cfg_str_list(c, "layers_block_type");
    int n;
    int *hybrid;
    if (list) {
        n = layers_from_list(c, "layers_block_type", list->len);
        hybrid = ARENA_NEW_N(c->arena, int, n ? n : 1);
        if (!map_layer_types(c, "layers_block_type", list, TYPE_NAMES, TYPE_CODES, hybrid)) return;
    } else {
        /* The class default: 54 layers, Zamba2-2.7B's layout. */
        static const int DEFAULT_HYBRID[] = {6, 12, 18, 24, 30, 36, 42, 47, 51};
        n = (int)cfg_int(c, "num_hidden_layers", 54, 1);
        if (n != 54) {
            cfg_error(c, cfg_get(c, "num_hidden_layers"), "'layers_block_type' is missing; its default is for 54 "
                                                          "layers, not %d", n);
            return;
        }
        hybrid = ARENA_NEW_N(c->arena, int, n);
        for (size_t j = 0; j < sizeof DEFAULT_HYBRID / sizeof DEFAULT_HYBRID[0]; j++) hybrid[DEFAULT_HYBRID[j]] = 1;
    }
    if (n == 0) {
        cfg_error(c, list, "'layers_block_type' is empty");
        return;
    }
    int n_hybrid = 0;
    int *sites = ARENA_NEW_N(c->arena, int, n);
    for (int i = 0; i < n; i++)
        if (hybrid[i]) sites[n_hybrid++] = i;
    int64_t *ids = NULL;
    int n_ids = 0;
    const JsonValue *where;
    if (cfg_int_list(c, "hybrid_layer_ids", 0, INT_MAX, &ids, &n_ids, &where)) {
        bool same = n_ids == n_hybrid;
        for (int j = 0; same && j < n_ids; j++) same = ids[j] == sites[j];
        if (!same)
            cfg_error(c, where, "'hybrid_layer_ids' must list the \"hybrid\" entries of 'layers_block_type'");
    }

    int64_t heads = cfg_int(c, "num_attention_heads", 32, 1);
    int64_t kv = cfg_kv_heads(c, "num_key_value_heads", 0, heads);
    int64_t hd = cfg_int(c, alias_of(c, "attention_head_dim", "head_dim"), 2 * d / heads, 1);
    if (cfg_int(c, "attention_hidden_size", 2 * d, 1) != 2 * d)
        cfg_error(c, cfg_get(c, "attention_hidden_size"),
                  "'attention_hidden_size' must be 2 x hidden_size (%lld): the shared block reads [x ; embeddings]",
                  (long long)(2 * d));
    ImpSub at = attention_sub(heads, kv, hd);
    at.at.input_width = 2 * d;
    at.at.scale = 1 / sqrt((double)hd / 2);
    at.at.scale_why = "1/sqrt(head_dim / 2), Zamba2's attention scale";
    at.residual = false;
    at.at.rope = cfg_bool(c, "use_mem_rope", false);
    Rope r = cfg_rope(c, 10000, PRF_IGNORED);
    at.at.rope_base = r.base;
    at.at.rope_scaling = r.scaling;
    check_rope_dims(c, &at.at, alias_of(c, "attention_head_dim", "head_dim"));
    int64_t rank = cfg_int(c, "adapter_rank", 128, 1);
    if (cfg_bool(c, "use_shared_attention_adapter", false)) {
        if (kv != heads || heads * hd != 2 * d)
            cfg_error(c, cfg_get(c, "use_shared_attention_adapter"),
                      "attention adapters need num_key_value_heads = num_attention_heads and heads x head_dim = "
                      "2 x hidden_size (their output width)");
        at.at.adapter_rank = rank;
    }
    int64_t inter = cfg_int(c, "intermediate_size", 4 * d, 1);
    bool bias = cfg_bool(c, "add_bias_linear", false);
    ImpSub mlp = mlp_sub(cfg_act(c, "hidden_act", "gelu", true), inter, bias);
    mlp.mlp.adapter_rank = rank; /* the MLP adapters always exist */
    mlp.residual = false;

    ImpSub mb = mamba2_sub();
    mb.m2.heads = cfg_int(c, "n_mamba_heads", 8, 1);
    int64_t d_inner = cfg_int(c, "mamba_expand", 2, 1) * d;
    mb.m2.head_dim = cfg_int(c, "mamba_headdim", d_inner / mb.m2.heads, 1);
    mb.m2.groups = cfg_int(c, "mamba_ngroups", 1, 1);
    mb.m2.d_state = cfg_int(c, "mamba_d_state", 64, 1);
    mb.m2.d_conv = cfg_int(c, "mamba_d_conv", 4, 1);
    mb.m2.chunk = cfg_int(c, "chunk_size", 256, 1);
    mb.m2.bias = bias;
    mb.m2.norm_groups = mb.m2.groups;
    mb.m2.norm_eps = 1e-5; /* hard-coded in Zamba2MambaMixer */
    mb.m2.dt_min = cfg_pos_num(c, "time_step_min", 1e-3);
    if (!cfg_bool(c, "use_conv_bias", true))
        cfg_warn(c, cfg_get(c, "use_conv_bias"), "'use_conv_bias' = false is ignored by zamba2 in transformers "
                                                 "5.17: the convolution always has a bias");
    check_mamba2_width(c, "n_mamba_heads", &mb.m2, d_inner);
    m->norm_eps = cfg_pos_num(c, "rms_norm_eps", 1e-5);
    if (m->norm_eps == mb.m2.norm_eps) mb.m2.norm_eps = 0;

    /* Hybrid layer k uses block k mod num_mem_blocks; blocks no layer uses
     * are never built.  transformers 5.17 ties module weights only when
     * tie_word_embeddings is true (get_expanded_tied_weights_keys): without
     * it every hybrid layer keeps its own copy of the "shared" block. */
    int64_t nmb = cfg_int(c, "num_mem_blocks", 1, 1);
    int n_blocks = !m->tie ? n_hybrid : n_hybrid < nmb ? n_hybrid : (int)nmb;
    if (!m->tie && n_hybrid > 1)
        m->note = "tie_word_embeddings = false: transformers 5.17 then ties no weights at all, so every\n"
                  "hybrid layer has its own copy of the shared block";
    if (n_blocks >= IMP_MAX_KINDS) {
        cfg_error(c, cfg_get(c, m->tie ? "num_mem_blocks" : "tie_word_embeddings"),
                  "%d distinct shared blocks: hyc's importer handles at most %d", n_blocks, IMP_MAX_KINDS - 1);
        return;
    }
    m->shared = ARENA_NEW_N(c->arena, ImpLayer, n_blocks ? n_blocks : 1);
    m->n_shared = n_blocks;
    for (int b = 0; b < n_blocks; b++) {
        m->shared[b].name = arena_printf(c->arena, "block%d", b);
        m->shared[b].subs[0] = at;
        m->shared[b].subs[1] = mlp;
        m->shared[b].n_subs = 2;
    }
    set_layers(m, c->arena, n);
    int kp = add_kind(m, "mamba", &mb, 1);
    for (int i = 0, k = 0; i < n; i++) {
        if (!hybrid[i]) {
            m->kind_of[i] = kp;
            continue;
        }
        int b = k++ % n_blocks;
        ImpSub use = sub_new(SK_USE);
        use.use_block = m->shared[b].name;
        ImpSub subs[] = {use, mb};
        const char *name = n_blocks == 1 ? "hybrid" : arena_printf(c->arena, "hybrid%d", b);
        m->kind_of[i] = add_kind(m, name, subs, 2);
    }
    m->dims.hybrid_layers = sites;
    m->dims.n_hybrid = n_hybrid;
    m->dims.n_shared_blocks = n_blocks;
}

/* ---- granitemoehybrid -------------------------------------------------------- */

static void read_granitemoehybrid(Cfg *c, ImportHfModel *m)
{
    read_common(c, m, false);
    RETURN_IF_FAILED(c);
    int64_t d = m->d_model;
    static const char *const TYPE_NAMES[] = {"mamba", "linear_attention", "attention", "full_attention", NULL};
    static const int TYPE_CODES[] = {0, 0, 1, 1};
    const JsonValue *list = cfg_str_list(c, "layer_types");
    int n;
    int *attn;
    if (list) {
        n = layers_from_list(c, "layer_types", list->len);
        attn = ARENA_NEW_N(c->arena, int, n ? n : 1);
        if (!map_layer_types(c, "layer_types", list, TYPE_NAMES, TYPE_CODES, attn)) return;
    } else {
        n = cfg_layers(c);
        attn = ARENA_NEW_N(c->arena, int, n);
    }

    ImpSub mb = read_mamba2_prefixed(c, d);
    int64_t heads = cfg_heads(c, "num_attention_heads", 32, d, false);
    ImpSub at = attention_sub(heads, cfg_kv_heads(c, "num_key_value_heads", 0, heads), cfg_head_dim(c, d, heads));
    at.at.bias = cfg_bool(c, "attention_bias", false);
    at.at.scale = cfg_pos_num(c, "attention_multiplier", 1);
    at.at.scale_why = "attention_multiplier";
    /* RoPE only with position_embedding_type "rope"; null (the default) and
     * anything else mean no positions. */
    const char *pe = cfg_str(c, "position_embedding_type", NULL);
    at.at.rope = pe && strcmp(pe, "rope") == 0;
    if (pe && !at.at.rope && strcmp(pe, "nope") != 0)
        cfg_warn(c, cfg_get(c, "position_embedding_type"),
                 "position_embedding_type \"%s\" means no positional encoding in transformers 5.17",
                 json_escape(c->arena, pe, strlen(pe)));
    Rope r = cfg_rope(c, 10000, PRF_IGNORED);
    at.at.rope_base = r.base;
    at.at.rope_scaling = r.scaling;
    check_rope_dims(c, &at.at, "head_dim");

    const char *act = cfg_act(c, "hidden_act", "silu", true);
    int64_t experts = cfg_int(c, "num_local_experts", 8, 0);
    int64_t shared = cfg_int(c, "shared_intermediate_size", 1024, 1);
    ImpSub ffn;
    if (experts > 0) {
        ffn = sub_new(SK_MOE);
        ffn.moe.experts = experts;
        ffn.moe.top_k = cfg_int(c, "num_experts_per_tok", 2, 1);
        ffn.moe.hidden = cfg_int(c, "intermediate_size", 11008, 1);
        ffn.moe.act = act;
        ffn.moe.routing = "topk_softmax"; /* top-k of the logits, softmax over those k */
        ffn.moe.aux_loss = cfg_aux_loss(c);
        ffn.moe.shared_hidden = shared;
        ffn.moe.routed_scale = 1;
        if (ffn.moe.top_k > experts)
            cfg_error(c, cfg_get(c, "num_experts_per_tok"), "'num_experts_per_tok' (%lld) exceeds "
                                                            "'num_local_experts' (%lld)",
                      (long long)ffn.moe.top_k, (long long)experts);
    } else {
        ffn = mlp_sub(act, shared, false); /* no experts: the shared MLP alone */
        cfg_int(c, "intermediate_size", 11008, 1);
        cfg_int(c, "num_experts_per_tok", 2, 1);
    }
    m->embedding_scale = cfg_finite(c, "embedding_multiplier", 1);
    m->residual_scale = cfg_finite(c, "residual_multiplier", 1);
    double ls = cfg_finite(c, "logits_scaling", 1);
    if (ls == 0)
        cfg_error(c, cfg_get(c, "logits_scaling"), "'logits_scaling' must not be 0 (logits are divided by it)");
    else
        m->logits_scale = 1 / ls;
    m->norm_eps = cfg_pos_num(c, "rms_norm_eps", 1e-6);

    set_layers(m, c->arena, n);
    ImpSub ms[] = {mb, ffn}, as[] = {at, ffn};
    for (int i = 0; i < n; i++) m->kind_of[i] = attn[i] ? add_kind(m, "attn", as, 2) : add_kind(m, "mamba", ms, 2);
}

/* ---- lfm2 -------------------------------------------------------------------- */

/* Lfm2MLP's width: int(2/3 ff), then the multiplier and rounding up to
 * block_multiple_of when a multiplier is set. */
static int64_t lfm2_ff_dim(Cfg *c, int64_t ff)
{
    if (!cfg_bool(c, "block_auto_adjust_ff_dim", true)) {
        cfg_raw(c, "block_ffn_dim_multiplier"); /* used only by the adjustment */
        cfg_raw(c, "block_multiple_of");
        return ff;
    }
    ff = 2 * ff / 3;
    double mult = 1.0;
    bool has_mult = !cfg_is_null(c, "block_ffn_dim_multiplier");
    mult = cfg_pos_num(c, "block_ffn_dim_multiplier", 1.0);
    int64_t multiple = cfg_int(c, "block_multiple_of", 256, 1);
    if (has_mult) {
        double scaled = mult * (double)ff;
        if (scaled < 1 || scaled > (double)((int64_t)1 << 30)) {
            cfg_error(c, cfg_get(c, "block_ffn_dim_multiplier"), "'block_ffn_dim_multiplier' gives an MLP width "
                                                                 "out of range");
            return ff > 0 ? ff : 1;
        }
        ff = (int64_t)scaled;
        ff = multiple * ((ff + multiple - 1) / multiple);
    }
    if (ff < 1) {
        cfg_error(c, cfg_get(c, "intermediate_size"), "'intermediate_size' is too small: the adjusted MLP width is 0");
        ff = 1;
    }
    return ff;
}

static void read_lfm2(Cfg *c, ImportHfModel *m)
{
    read_common(c, m, true);
    RETURN_IF_FAILED(c);
    m->tie = cfg_bool(c, alias_of(c, "tie_word_embeddings", "tie_embedding"), true);
    int64_t d = m->d_model;
    static const char *const TYPE_NAMES[] = {"conv", "full_attention", NULL};
    static const int TYPE_CODES[] = {0, 1};
    const JsonValue *list = cfg_str_list(c, "layer_types");
    int n;
    int *attn;
    if (list) {
        n = layers_from_list(c, "layer_types", list->len);
        attn = ARENA_NEW_N(c->arena, int, n ? n : 1);
        if (!map_layer_types(c, "layer_types", list, TYPE_NAMES, TYPE_CODES, attn)) return;
        cfg_raw(c, "full_attn_idxs"); /* used only without layer_types */
    } else {
        n = cfg_layers(c);
        attn = ARENA_NEW_N(c->arena, int, n);
        int64_t *idx = NULL;
        int n_idx = 0;
        const JsonValue *where;
        if (cfg_int_list(c, "full_attn_idxs", 0, INT_MAX, &idx, &n_idx, &where)) {
            for (int j = 0; j < n_idx; j++)
                if (idx[j] < n) attn[idx[j]] = 1;
        } else if (!where) {
            for (int i = 0; i < n; i++) attn[i] = 1; /* the default: attention everywhere */
        }
    }
    int64_t heads = cfg_heads(c, "num_attention_heads", 32, d, false);
    ImpSub at = attention_sub(heads, cfg_kv_heads(c, "num_key_value_heads", 8, heads), cfg_head_dim(c, d, heads));
    at.at.qk_norm = true;
    Rope r = cfg_rope(c, 1e6, PRF_IGNORED);
    at.at.rope = true;
    at.at.rope_base = r.base;
    at.at.rope_scaling = r.scaling;
    check_rope_dims(c, &at.at, "head_dim");
    ImpSub sc = sub_new(SK_SHORT_CONV);
    sc.sc.d_conv = cfg_int(c, "conv_L_cache", 3, 1);
    sc.sc.bias = cfg_bool(c, "conv_bias", false);
    int64_t ff = cfg_int(c, alias_of(c, "intermediate_size", "block_ff_dim"), 12288, 1);
    ImpSub mlp = mlp_sub("swiglu", lfm2_ff_dim(c, ff), false);
    m->norm_eps = cfg_pos_num(c, "norm_eps", 1e-5);

    set_layers(m, c->arena, n);
    ImpSub cs[] = {sc, mlp}, as[] = {at, mlp};
    for (int i = 0; i < n; i++) m->kind_of[i] = attn[i] ? add_kind(m, "attn", as, 2) : add_kind(m, "conv", cs, 2);
}

/* ---- qwen3_next -------------------------------------------------------------- */

static void read_qwen3_next(Cfg *c, ImportHfModel *m)
{
    read_common(c, m, false);
    RETURN_IF_FAILED(c);
    int n = cfg_layers(c);
    static const char *const TYPE_NAMES[] = {"linear_attention", "mamba", "full_attention", "attention", NULL};
    static const int TYPE_CODES[] = {0, 0, 1, 1};
    const JsonValue *list = cfg_str_list(c, "layer_types");
    int *attn = ARENA_NEW_N(c->arena, int, n);
    if (list) {
        if (list->len != n) {
            cfg_error(c, list, "'layer_types' has %d entries for %d layers", list->len, n);
            return;
        }
        if (!map_layer_types(c, "layer_types", list, TYPE_NAMES, TYPE_CODES, attn)) return;
        cfg_raw(c, "full_attention_interval");
    } else {
        int64_t every = cfg_int(c, "full_attention_interval", 4, 1);
        for (int i = 0; i < n; i++) attn[i] = (i + 1) % every == 0;
    }

    int64_t heads = cfg_int(c, "num_attention_heads", 16, 1);
    ImpSub at = attention_sub(heads, cfg_kv_heads(c, "num_key_value_heads", 2, heads), cfg_int(c, "head_dim", 256, 1));
    at.at.bias = cfg_bool(c, "attention_bias", false);
    at.at.qk_norm = true;
    at.at.output_gate = true;
    Rope r = cfg_rope(c, 10000, PRF_QWEN3NEXT);
    at.at.rope = true;
    at.at.rope_base = r.base;
    at.at.rope_scaling = r.scaling;
    at.at.rope_fraction = r.fraction;
    check_rope_dims(c, &at.at, "head_dim");

    ImpSub dn = sub_new(SK_DELTANET);
    dn.dn.key_heads = cfg_int(c, "linear_num_key_heads", 16, 1);
    dn.dn.value_heads = cfg_int(c, "linear_num_value_heads", 32, 1);
    dn.dn.key_dim = cfg_int(c, "linear_key_head_dim", 128, 1);
    dn.dn.value_dim = cfg_int(c, "linear_value_head_dim", 128, 1);
    dn.dn.d_conv = cfg_int(c, "linear_conv_kernel_dim", 4, 1);
    if (dn.dn.value_heads % dn.dn.key_heads)
        cfg_error(c, cfg_get(c, "linear_num_value_heads"),
                  "'linear_num_value_heads' (%lld) must be a multiple of 'linear_num_key_heads' (%lld)",
                  (long long)dn.dn.value_heads, (long long)dn.dn.key_heads);

    const char *act = cfg_act(c, "hidden_act", "silu", true);
    dn.dn.conv_act = cfg_conv_act(c, "hidden_act", "silu"); /* the deltanet conv's */
    ImpSub dense = mlp_sub(act, cfg_int(c, "intermediate_size", 5632, 1), false);
    ImpSub moe = sub_new(SK_MOE);
    moe.moe.experts = cfg_int(c, "num_experts", 512, 0);
    moe.moe.top_k = cfg_int(c, "num_experts_per_tok", 10, 1);
    moe.moe.hidden = cfg_int(c, "moe_intermediate_size", 512, 1);
    moe.moe.act = act;
    moe.moe.routing = "softmax_topk";
    moe.moe.aux_loss = cfg_aux_loss(c);
    moe.moe.renormalize = cfg_bool(c, "norm_topk_prob", true);
    moe.moe.routed_scale = 1;
    moe.moe.shared_hidden = cfg_int(c, "shared_expert_intermediate_size", 512, 1);
    moe.moe.shared_gate = true;
    if (moe.moe.experts > 0 && moe.moe.top_k > moe.moe.experts)
        cfg_error(c, cfg_get(c, "num_experts_per_tok"), "'num_experts_per_tok' (%lld) exceeds 'num_experts' (%lld)",
                  (long long)moe.moe.top_k, (long long)moe.moe.experts);
    int64_t step = cfg_int(c, "decoder_sparse_step", 1, 1);
    int64_t *dense_idx = NULL;
    int n_dense = 0;
    const JsonValue *where;
    cfg_int_list(c, "mlp_only_layers", 0, INT_MAX, &dense_idx, &n_dense, &where);

    m->norm_eps = cfg_pos_num(c, "rms_norm_eps", 1e-6);
    m->norm_offset = 1; /* Qwen3NextRMSNorm: x^ * (1 + w) */

    set_layers(m, c->arena, n);
    bool any_dense = false, any_moe = false;
    bool *sparse = ARENA_NEW_N(c->arena, bool, n);
    for (int i = 0; i < n; i++) {
        bool only = false;
        for (int j = 0; j < n_dense; j++) only |= dense_idx[j] == i;
        sparse[i] = !only && moe.moe.experts > 0 && (i + 1) % step == 0;
        any_dense |= !sparse[i];
        any_moe |= sparse[i];
    }
    for (int i = 0; i < n; i++) {
        ImpSub subs[] = {attn[i] ? at : dn, sparse[i] ? moe : dense};
        /* Name the FFN only when the model has both kinds. */
        static const char *const NAMES[2][3] = {{"deltanet", "deltanet_moe", "deltanet_dense"},
                                                {"attn", "attn_moe", "attn_dense"}};
        int variant = any_dense && any_moe ? (sparse[i] ? 1 : 2) : 0;
        m->kind_of[i] = add_kind(m, NAMES[attn[i]][variant], subs, 2);
    }
    m->dims.attn_heads = at.at.heads;
    m->dims.attn_head_dim = at.at.head_dim;
    m->dims.lin_key_heads = dn.dn.key_heads;
    m->dims.lin_value_heads = dn.dn.value_heads;
    m->dims.lin_key_dim = dn.dn.key_dim;
    m->dims.lin_value_dim = dn.dn.value_dim;
}

/* ==== families and ignored keys ============================================ */

typedef struct FamilyDef {
    const char *model_type;
    void (*read)(Cfg *c, ImportHfModel *m);
    const char *blurb;
    const char *const *ignored; /* the family's own keys without effect */
} FamilyDef;

/* Keys of the family configs that change nothing at inference in 5.17. */
static const char *const IGNORE_MAMBA[] = {"time_step_min", "time_step_max", "time_step_floor",
                                           "time_step_init_scheme", "time_step_scale", NULL};
static const char *const IGNORE_MAMBA2[] = {"time_step_min", "time_step_max", "time_step_floor", NULL};
static const char *const IGNORE_JAMBA[] = {NULL};
/* Nemotron-H's MoE keys matter only when a layer is "moe" (read then). */
static const char *const IGNORE_NEMOTRON_H[] = {
    "time_step_max", "time_step_floor", "mamba_dt_max", "mamba_dt_init_floor", "expand", "mamba_expand",
    "num_nextn_predict_layers", "mtp_layers_block_type", "mtp_hybrid_override_pattern", "n_shared_experts",
    "moe_shared_expert_overlap", "n_routed_experts", "num_local_experts", "num_experts_per_tok",
    "moe_intermediate_size", "moe_shared_expert_intermediate_size", "moe_latent_size", "routed_scaling_factor",
    "n_group", "topk_group", "norm_topk_prob", NULL};
static const char *const IGNORE_ZAMBA2[] = {"kv_channels", "num_query_groups", "use_long_context",
                                            "time_step_max", "time_step_floor", "time_step_limit", NULL};
static const char *const IGNORE_NONE[] = {NULL};

static const FamilyDef FAMILY_DEFS[] = {
    {"llama", read_llama, "Llama: a pure transformer (the baseline)", IGNORE_NONE},
    {"mamba", read_mamba, "Mamba-1: selective-scan layers only", IGNORE_MAMBA},
    {"falcon_mamba", read_falcon_mamba, "Falcon-Mamba: Mamba-1 with unweighted RMSNorms on dt, B and C",
     IGNORE_MAMBA},
    {"mamba2", read_mamba2, "Mamba-2: SSD layers only", IGNORE_MAMBA2},
    {"jamba", read_jamba, "Jamba: Mamba-1 + attention + MoE, sequential", IGNORE_JAMBA},
    {"falcon_h1", read_falcon_h1, "Falcon-H1: attention and Mamba-2 in parallel in every layer, muP multipliers",
     IGNORE_NONE},
    {"bamba", read_bamba, "Bamba: Mamba-2 + attention with partial RoPE", IGNORE_NONE},
    {"nemotron_h", read_nemotron_h, "Nemotron-H: one operator per layer (Mamba-2, attention, MLP, MoE)",
     IGNORE_NEMOTRON_H},
    {"zamba2", read_zamba2, "Zamba2: Mamba-2 backbone; a shared attention+MLP block reads [x ; embeddings]",
     IGNORE_ZAMBA2},
    {"granitemoehybrid", read_granitemoehybrid, "Granite-4.0-H: Mamba-2 + attention, MoE with a shared MLP",
     IGNORE_NONE},
    {"lfm2", read_lfm2, "LFM2: gated short convolutions + attention", IGNORE_NONE},
    {"qwen3_next", read_qwen3_next, "Qwen3-Next: gated delta rule + gated attention, MoE with a gated shared expert",
     IGNORE_NONE},
};
enum { N_FAMILY_DEFS = sizeof FAMILY_DEFS / sizeof FAMILY_DEFS[0] };

/* Keys of any config that do not change what the model computes: metadata,
 * training settings (dropout, init, aux losses), caching and kernel choices,
 * token ids and generation defaults.  docs/families.md §1.7. */
static const char *const IGNORED_KEYS[] = {
    /* metadata */
    "architectures", "transformers_version", "torch_dtype", "dtype", "_name_or_path", "name_or_path",
    "_commit_hash", "auto_map", "model_type",
    /* training */
    "initializer_range", "attention_dropout", "hidden_dropout", "dropout", "resid_pdrop", "embd_pdrop",
    "attn_pdrop", "output_router_logits", "router_aux_loss_coef", "router_z_loss_coef", "z_loss_coefficient",
    "rescale_prenorm_residual", "pretraining_tp",
    /* runtime choices */
    "use_cache", "num_logits_to_keep", "residual_in_fp32", "use_mamba_kernels", "use_mambapy",
    "use_falcon_mambapy", "use_associative_scan", "use_mem_eff_path", "mamba_ssm_cache_dtype",
    "_attn_implementation", "attn_implementation", "_experts_implementation", "experts_implementation",
    "ignore_keys_at_rope_validation", "max_position_embeddings",
    /* tokens and generation */
    "bos_token_id", "eos_token_id", "pad_token_id", "sep_token_id", "decoder_start_token_id", "max_length",
    "min_length", "do_sample", "early_stopping", "num_beams", "num_beam_groups", "diversity_penalty",
    "temperature", "top_k", "top_p", "typical_p", "repetition_penalty", "length_penalty", "no_repeat_ngram_size",
    "encoder_no_repeat_ngram_size", "bad_words_ids", "num_return_sequences", "output_scores",
    "return_dict_in_generate", "forced_bos_token_id", "forced_eos_token_id", "remove_invalid_values",
    "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens",
    /* PreTrainedConfig fields for other tasks */
    "output_hidden_states", "output_attentions", "return_dict", "is_encoder_decoder", "is_decoder",
    "add_cross_attention", "tie_encoder_decoder", "cross_attention_hidden_size", "chunk_size_feed_forward",
    "problem_type", "id2label", "label2id", "num_labels", "finetuning_task", "tokenizer_class", "prefix",
    "task_specific_params", "pruned_heads", "torchscript", "use_bfloat16", "tf_legacy_loss",
    NULL,
};

/* Keys that change the computation in ways hyc does not support at all. */
static void reject_unsupported(Cfg *c)
{
    const JsonValue *v;
    if ((v = cfg_get(c, "quantization_config")))
        cfg_error(c, v, "quantized checkpoints are not supported: hyc imports float weights");
    if ((v = cfg_get(c, "per_layer_config")))
        cfg_error(c, v, "'per_layer_config' (per-layer overrides) is not supported");
}

static void warn_unknown_keys(Cfg *c, const FamilyDef *f)
{
    for (int i = 0; i < c->root->len; i++) {
        const JsonMember *mb = &c->root->members[i];
        if (c->used[i] || name_index(mb->key, IGNORED_KEYS) >= 0 || name_index(mb->key, f->ignored) >= 0) continue;
        diag_warning(c->diag, mb->key_loc, "unknown key '%s' for %s; ignored",
                     json_escape(c->arena, mb->key, mb->key_len), f->model_type);
    }
}

/* ==== sanity of the result ================================================= */

/* Products the canonical shapes form must stay far from overflow; the
 * per-key limit (2^30) bounds single sizes, this bounds what they multiply. */
static void check_sizes(Cfg *c, const ImportHfModel *m)
{
    double biggest = (double)m->vocab * (double)m->d_model;
    for (int k = 0; k < m->n_kinds; k++)
        for (int s = 0; s < m->kinds[k].n_subs; s++) {
            const ImpSub *u = &m->kinds[k].subs[s];
            double x = 0;
            if (u->kind == SK_MOE) x = (double)u->moe.experts * (double)u->moe.hidden * (double)m->d_model;
            if (u->kind == SK_ATTENTION) x = 2.0 * (double)u->at.heads * (double)u->at.head_dim * (double)m->d_model;
            if (u->kind == SK_MAMBA1) x = (double)u->m1.d_inner * (double)u->m1.d_state;
            if (x > biggest) biggest = x;
        }
    if (biggest > 9.0e15)
        cfg_error(c, NULL, "the model is too large for hyc (a tensor with %.3g elements)", biggest);
}

/* ==== printing ============================================================= */

typedef struct Out {
    StrBuf *sb;
    int depth;
} Out;

static void o_indent(Out *o)
{
    for (int i = 0; i < o->depth; i++) sb_puts(o->sb, "  ");
}

static void o_line(Out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void o_line(Out *o, const char *fmt, ...)
{
    va_list ap;
    o_indent(o);
    va_start(ap, fmt);
    sb_vprintf(o->sb, fmt, ap);
    va_end(ap);
    sb_putc(o->sb, '\n');
}

static void o_open(Out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void o_open(Out *o, const char *fmt, ...)
{
    va_list ap;
    o_indent(o);
    va_start(ap, fmt);
    sb_vprintf(o->sb, fmt, ap);
    va_end(ap);
    sb_puts(o->sb, " {\n");
    o->depth++;
}

static void o_close(Out *o)
{
    o->depth--;
    o_line(o, "}");
}

static void o_int(Out *o, const char *key, int64_t v) { o_line(o, "%s = %lld", key, (long long)v); }

/* The shortest text that reads back as V, with whole numbers written out
 * ("10000.0", not "1e+04"): the way a person writes rope bases. */
static void fmt_number(char buf[32], double v)
{
    if (isfinite(v) && v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, 32, "%.1f", v);
    else
        fmt_f64(buf, v);
}

static void o_float(Out *o, const char *key, double v)
{
    char buf[32];
    fmt_number(buf, v);
    o_line(o, "%s = %s", key, buf);
}

static void o_bool(Out *o, const char *key, bool v) { o_line(o, "%s = %s", key, v ? "true" : "false"); }

static void o_string(Out *o, const char *key, const char *s)
{
    o_indent(o);
    sb_printf(o->sb, "%s = \"", key);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') sb_putc(o->sb, '\\');
        if (*s == '\n') sb_puts(o->sb, "\\n");
        else if (*s == '\t') sb_puts(o->sb, "\\t");
        else sb_putc(o->sb, *s);
    }
    sb_puts(o->sb, "\"\n");
}

static void print_common_keys(Out *o, const ImpSub *s)
{
    if (!s->residual) o_bool(o, "residual", false);
    if (s->in_scale != 1) o_float(o, "in_scale", s->in_scale);
    if (s->out_scale != 1) o_float(o, "out_scale", s->out_scale);
}

static void print_sub(Out *o, const ImportHfModel *m, const ImpSub *s)
{
    switch (s->kind) {
    case SK_ATTENTION: {
        const ImpAttention *a = &s->at;
        o_open(o, "attention");
        o_int(o, "heads", a->heads);
        o_int(o, "kv_heads", a->kv_heads);
        o_int(o, "head_dim", a->head_dim);
        if (a->input_width) o_int(o, "input_width", a->input_width);
        o_bool(o, "rope", a->rope);
        if (a->rope) {
            o_float(o, "rope_base", a->rope_base);
            if (a->rope_fraction != 1) o_float(o, "rope_fraction", a->rope_fraction);
            if (a->rope_scaling) o_line(o, "rope_scaling = %s", a->rope_scaling);
        }
        if (a->scale) {
            char buf[32];
            fmt_number(buf, a->scale);
            o_line(o, "scale = %s  # %s", buf, a->scale_why);
        }
        if (a->key_scale != 1) o_float(o, "key_scale", a->key_scale);
        if (a->qk_norm) o_line(o, "qk_norm = rms");
        if (a->output_gate) o_bool(o, "output_gate", true);
        if (a->bias) o_bool(o, "bias", true);
        if (a->adapter_rank) o_int(o, "adapter_rank", a->adapter_rank);
        break;
    }
    case SK_MAMBA1: {
        const ImpMamba1 *b = &s->m1;
        o_open(o, "mamba1");
        o_int(o, "d_state", b->d_state);
        o_int(o, "d_conv", b->d_conv);
        if (b->d_inner == b->expand * m->d_model)
            o_int(o, "expand", b->expand);
        else
            o_int(o, "d_inner", b->d_inner);
        o_int(o, "dt_rank", b->dt_rank);
        if (!b->conv_bias) o_bool(o, "conv_bias", false);
        if (b->bias) o_bool(o, "bias", true);
        if (b->inner_norms) o_line(o, "inner_norms = %s", b->inner_norms == 1 ? "rms" : "rms_unweighted");
        if (b->inner_norm_eps) o_float(o, "inner_norm_eps", b->inner_norm_eps);
        if (b->conv_act && strcmp(b->conv_act, "silu") != 0) o_line(o, "conv_act = %s", b->conv_act);
        break;
    }
    case SK_MAMBA2: {
        const ImpMamba2 *b = &s->m2;
        o_open(o, "mamba2");
        o_int(o, "heads", b->heads);
        o_int(o, "head_dim", b->head_dim);
        o_int(o, "groups", b->groups);
        o_int(o, "d_state", b->d_state);
        o_int(o, "d_conv", b->d_conv);
        o_int(o, "chunk", b->chunk);
        if (!b->conv_bias) o_bool(o, "conv_bias", false);
        if (b->bias) o_bool(o, "bias", true);
        if (b->out_bias >= 0 && b->out_bias != b->bias) o_bool(o, "out_bias", b->out_bias);
        if (b->conv_act && strcmp(b->conv_act, "silu") != 0) o_line(o, "conv_act = %s", b->conv_act);
        if (!b->gated_norm) o_bool(o, "gated_norm", false);
        if (b->gated_norm && b->norm_before_gate) o_bool(o, "norm_before_gate", true);
        if (b->gated_norm && b->norm_groups != b->groups) {
            o_line(o, "# HF normalizes over %s, not per group",
                   b->norm_groups == 1 ? "the whole inner width" : "other groups");
            o_int(o, "norm_groups", b->norm_groups);
        }
        if (b->gated_norm && b->norm_eps) o_float(o, "norm_eps", b->norm_eps);
        if (b->dt_min) o_float(o, "dt_min", b->dt_min);
        if (b->dt_max != INFINITY) o_float(o, "dt_max", b->dt_max);
        bool scaled = false;
        for (int i = 0; i < 5; i++) scaled |= b->in_proj_scales[i] != 1;
        if (scaled) {
            StrBuf list = {0};
            for (int i = 0; i < 5; i++) {
                char buf[32];
                fmt_number(buf, b->in_proj_scales[i]);
                sb_printf(&list, "%s%s", i ? ", " : "", buf);
            }
            o_line(o, "in_proj_scales = [%s]", sb_cstr(&list));
            sb_free(&list);
        }
        break;
    }
    case SK_SHORT_CONV:
        o_open(o, "short_conv");
        o_int(o, "d_conv", s->sc.d_conv);
        if (s->sc.bias) o_bool(o, "bias", true);
        break;
    case SK_DELTANET:
        o_open(o, "deltanet");
        o_int(o, "key_heads", s->dn.key_heads);
        o_int(o, "value_heads", s->dn.value_heads);
        o_int(o, "key_dim", s->dn.key_dim);
        o_int(o, "value_dim", s->dn.value_dim);
        o_int(o, "d_conv", s->dn.d_conv);
        if (s->dn.conv_act && strcmp(s->dn.conv_act, "silu") != 0) o_line(o, "conv_act = %s", s->dn.conv_act);
        break;
    case SK_MLP:
        o_open(o, "mlp");
        o_line(o, "act = %s", s->mlp.act);
        o_int(o, "hidden", s->mlp.hidden);
        if (s->mlp.bias) o_bool(o, "bias", true);
        if (s->mlp.gate_scale != 1) o_float(o, "gate_scale", s->mlp.gate_scale);
        if (s->mlp.down_scale != 1) o_float(o, "down_scale", s->mlp.down_scale);
        if (s->mlp.adapter_rank) o_int(o, "adapter_rank", s->mlp.adapter_rank);
        break;
    case SK_MOE:
        o_open(o, "moe");
        o_int(o, "experts", s->moe.experts);
        o_int(o, "top_k", s->moe.top_k);
        o_int(o, "hidden", s->moe.hidden);
        o_line(o, "act = %s", s->moe.act);
        o_line(o, "routing = %s", s->moe.routing);
        o_bool(o, "renormalize", s->moe.renormalize);
        if (s->moe.routed_scale != 1) o_float(o, "routed_scale", s->moe.routed_scale);
        if (s->moe.shared_hidden) o_int(o, "shared_hidden", s->moe.shared_hidden);
        if (s->moe.shared_gate) o_bool(o, "shared_gate", true);
        if (s->moe.route_groups > 1) {
            o_int(o, "route_groups", s->moe.route_groups);
            o_int(o, "route_topk_groups", s->moe.route_topk_groups);
        }
        if (s->moe.latent) o_int(o, "latent", s->moe.latent);
        if (s->moe.aux_loss > 0) o_float(o, "aux_loss", s->moe.aux_loss);
        break;
    case SK_PARALLEL:
        o_open(o, "parallel");
        for (int b = 0; b < s->n_branches; b++) print_sub(o, m, &s->branches[b]);
        break;
    case SK_USE:
        o_line(o, "use %s {}", s->use_block);
        return;
    }
    print_common_keys(o, s);
    o_close(o);
}

static void print_layer(Out *o, const ImportHfModel *m, const char *what, const ImpLayer *l)
{
    sb_putc(o->sb, '\n');
    o_open(o, "%s %s", what, l->name);
    if (strcmp(what, "shared_block") == 0) o_line(o, "input = concat_embedding");
    for (int s = 0; s < l->n_subs; s++) print_sub(o, m, &l->subs[s]);
    o_close(o);
}

/* ---- the stack: a rule rather than a list ------------------------------- */

typedef struct StackPlace {
    int kind;
    int every, offset; /* every = 0: at = the depths of kind */
    int n_at;
} StackPlace;

/* Describe the depths of KIND: "every P offset O" when that set, minus the
 * depths kinds placed later (LATER) override, is exactly KIND's depths and
 * holds at least two of them; else an explicit list. */
static StackPlace place_kind(const ImportHfModel *m, int kind, const bool *later)
{
    StackPlace p = {kind, 0, 0, 0};
    int first = -1, count = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (m->kind_of[i] == kind) {
            if (first < 0) first = i;
            count++;
        }
    p.n_at = count;
    if (count < 2) return p;
    for (int every = 2; every < m->n_layers; every++) {
        int offset = first % every;
        bool ok = true;
        for (int i = 0; ok && i < m->n_layers; i++) {
            bool in_rule = i % every == offset;
            bool is_kind = m->kind_of[i] == kind;
            ok = in_rule ? is_kind || later[i] : !is_kind;
        }
        if (ok) {
            p.every = every;
            p.offset = offset;
            return p;
        }
    }
    return p;
}

/* Placements for fill kind FILL: the other kinds by decreasing count (later
 * ones override earlier ones).  Returns the description's cost: one per
 * periodic placement, one per listed depth. */
static int plan_stack(const ImportHfModel *m, Arena *a, int fill, StackPlace *out, int *n_out)
{
    int order[IMP_MAX_KINDS], n = 0, counts[IMP_MAX_KINDS] = {0};
    for (int i = 0; i < m->n_layers; i++) counts[m->kind_of[i]]++;
    for (int k = 0; k < m->n_kinds; k++)
        if (k != fill && counts[k]) order[n++] = k;
    for (int i = 1; i < n; i++) /* stable insertion sort by count, descending */
        for (int j = i; j > 0 && counts[order[j]] > counts[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    bool *later = ARENA_NEW_N(a, bool, m->n_layers);
    int cost = 0;
    for (int j = 0; j < n; j++) {
        for (int i = 0; i < m->n_layers; i++) {
            later[i] = false;
            for (int q = j + 1; q < n; q++) later[i] |= m->kind_of[i] == order[q];
        }
        out[j] = place_kind(m, order[j], later);
        cost += out[j].every ? 1 : out[j].n_at;
    }
    *n_out = n;
    return cost;
}

static void print_stack(Out *o, const ImportHfModel *m, Arena *a)
{
    sb_putc(o->sb, '\n');
    o_open(o, "stack");
    o_int(o, "layers", m->n_layers);
    if (m->pattern) {
        o_string(o, "pattern", m->pattern);
        o_open(o, "symbols");
        for (int k = 0; k < m->n_kinds; k++) {
            char sym = m->pattern_sym[k];
            bool ident = (sym >= 'A' && sym <= 'Z') || (sym >= 'a' && sym <= 'z');
            o_line(o, ident ? "%c = %s" : "\"%c\" = %s", sym, m->kinds[k].name);
        }
        o_close(o);
        o_close(o);
        return;
    }
    /* The fill whose placements are shortest; ties go to depth 0's kind. */
    StackPlace best[IMP_MAX_KINDS], cur[IMP_MAX_KINDS];
    int n_best = 0, best_cost = INT_MAX, best_fill = m->kind_of[0];
    for (int f = -1; f < m->n_kinds; f++) {
        int fill = f < 0 ? m->kind_of[0] : f;
        if (f == m->kind_of[0]) continue;
        int n_cur;
        int cost = plan_stack(m, a, fill, cur, &n_cur);
        if (cost < best_cost) {
            best_cost = cost;
            best_fill = fill;
            n_best = n_cur;
            memcpy(best, cur, sizeof cur[0] * (size_t)n_cur);
        }
    }
    o_line(o, "fill = %s", m->kinds[best_fill].name);
    for (int j = 0; j < n_best; j++) {
        const StackPlace *p = &best[j];
        o_open(o, "place %s", m->kinds[p->kind].name);
        if (p->every) {
            o_int(o, "every", p->every);
            o_int(o, "offset", p->offset);
        } else {
            StrBuf list = {0};
            for (int i = 0, c = 0; i < m->n_layers; i++)
                if (m->kind_of[i] == p->kind) sb_printf(&list, "%s%d", c++ ? ", " : "", i);
            o_line(o, "at = [%s]", sb_cstr(&list));
            sb_free(&list);
        }
        o_close(o);
    }
    o_close(o);
}

void import_hf_print(const ImportHfModel *m, StrBuf *out)
{
    Out o = {out, 0};
    Arena scratch;
    arena_init(&scratch);
    o_line(&o, "# %s.", m->blurb);
    o_line(&o, "# Imported by `hyc import` from %s", m->config_path);
    if (m->tf_version)
        o_line(&o, "# (model_type \"%s\", saved by transformers %s); docs/families.md describes the mapping.",
               m->family, m->tf_version);
    else
        o_line(&o, "# (model_type \"%s\"); docs/families.md describes the mapping.", m->family);
    for (const char *p = m->note; p && *p;) { /* one comment line per line of the note */
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        o_line(&o, "# %.*s", len, p);
        p += len + (nl != NULL);
    }
    o_open(&o, "model %s", m->name);
    o_int(&o, "d_model", m->d_model);
    o_int(&o, "vocab", m->vocab);
    o_bool(&o, "tie_embeddings", m->tie);
    o_line(&o, "norm = rmsnorm");
    o_float(&o, "norm_eps", m->norm_eps);
    if (m->norm_offset) o_float(&o, "norm_offset", m->norm_offset);
    if (m->embedding_scale != 1) o_float(&o, "embedding_scale", m->embedding_scale);
    if (m->logits_scale != 1) o_float(&o, "logits_scale", m->logits_scale);
    if (m->residual_scale != 1) o_float(&o, "residual_scale", m->residual_scale);
    if (m->max_pos) o_line(&o, "# max_position_embeddings = %lld in config.json (max_seq sizes the KV cache)",
                           (long long)m->max_pos);
    for (int b = 0; b < m->n_shared; b++) print_layer(&o, m, "shared_block", &m->shared[b]);
    for (int k = 0; k < m->n_kinds; k++) print_layer(&o, m, "layer", &m->kinds[k]);
    print_stack(&o, m, &scratch);
    sb_putc(out, '\n');
    o_open(&o, "weights");
    o_string(&o, "file", m->weights_file);
    o_line(&o, "naming = \"hf:%s\"", m->family);
    o_close(&o);
    o_close(&o);
    arena_free(&scratch);
}

/* ==== accessors ============================================================ */

void import_hf_naming(const ImportHfModel *m, HfNaming *out)
{
    bool ok = hf_naming_init(out, m->family, &m->dims);
    HYC_ASSERT(ok);
}

const char *import_hf_family(const ImportHfModel *m) { return m->family; }

/* ==== entry points ========================================================= */

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* "dir/x" without a doubled '/'; DIR "" gives "x". */
static const char *path_join(Arena *a, const char *dir, const char *name)
{
    size_t n = strlen(dir);
    if (n == 0) return arena_strdup(a, name);
    return arena_printf(a, "%s%s%s", dir, dir[n - 1] == '/' ? "" : "/", name);
}

/* TARGET (a file path as the user gave it) relative to directory FROM, so
 * that the .hyb file finds it whatever the current directory is.  TARGET
 * itself when it is absolute or either path cannot be resolved. */
static const char *relative_path(Arena *a, const char *target, const char *from)
{
    if (target[0] == '/') return target; /* the user chose an absolute path */
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    char *tdir = slash ? arena_strndup(a, target, (size_t)(slash - target) + (slash == target)) : ".";
    char *rt = realpath(tdir, NULL), *rf = realpath(from, NULL);
    const char *out = target;
    if (rt && rf) {
        /* Skip the common leading components, then climb out of the rest
         * of FROM and descend into the rest of TARGET's directory. */
        size_t i = 0, common = 0;
        while (rt[i] && rt[i] == rf[i]) {
            if (rt[i] == '/') common = i;
            i++;
        }
        if (!rt[i] && (!rf[i] || rf[i] == '/')) common = i;
        else if (!rf[i] && rt[i] == '/') common = i;
        StrBuf sb = {0};
        for (const char *p = rf + common; *p; p++) /* one ../ per remaining component */
            if (*p != '/' && (p == rf + common || p[-1] == '/')) sb_puts(&sb, "../");
        const char *rest = rt + common;
        if (*rest == '/') rest++;
        if (*rest) sb_printf(&sb, "%s/", rest);
        sb_puts(&sb, base);
        out = arena_strdup(a, sb_cstr(&sb));
        sb_free(&sb);
    }
    free(rt);
    free(rf);
    return out;
}

/* A model NAME from the checkpoint's directory ("Zamba2-2.7B" ->
 * "Zamba2_2_7B"), or the family when that gives no identifier. */
static const char *model_name(Arena *a, const char *dir, const char *family)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/') b--;
    char *s = arena_strndup(a, dir + b, n - b);
    if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || (*s >= '0' && *s <= '9')) return family;
    for (char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            *p = '_';
    return s;
}

ImportHfModel *import_hf_read(const char *path, const ImportHfOptions *opt, Arena *arena, Diag *diag)
{
    const char *dir, *config;
    if (is_dir(path)) {
        dir = path;
        config = path_join(arena, path, "config.json");
    } else {
        config = path;
        const char *slash = strrchr(path, '/');
        dir = slash ? arena_strndup(arena, path, (size_t)(slash - path) + (slash == path)) : "";
    }
    int errors_before = diag->n_errors;
    JsonValue *root = json_parse_file(arena, config, diag);
    if (!root) return NULL;
    Cfg c = {root, arena, diag, NULL, NULL, true, false};
    if (root->kind != JSON_OBJECT) {
        diag_error(diag, root->loc, "a config.json holds a JSON object, got %s", json_kind_name(root->kind));
        return NULL;
    }
    c.used = ARENA_NEW_N(arena, bool, root->len ? root->len : 1);

    const JsonValue *mt = cfg_get(&c, "model_type");
    const FamilyDef *fam = NULL;
    const char *names[N_FAMILY_DEFS + 1];
    for (int i = 0; i < N_FAMILY_DEFS; i++) names[i] = FAMILY_DEFS[i].model_type;
    names[N_FAMILY_DEFS] = NULL;
    if (!mt) {
        diag_error(diag, at_loc(&c, NULL), "missing key 'model_type'; hyc imports %s", join_names(arena, names));
        return NULL;
    }
    if (mt->kind != JSON_STRING) {
        diag_error(diag, mt->loc, "'model_type' must be a string, got %s", got_text(mt));
        return NULL;
    }
    for (int i = 0; i < N_FAMILY_DEFS; i++)
        if (strcmp(mt->str, FAMILY_DEFS[i].model_type) == 0) fam = &FAMILY_DEFS[i];
    if (!fam) {
        const char *near = suggest_word(mt->str, names, N_FAMILY_DEFS);
        diag_error(diag, mt->loc, "unsupported model_type \"%s\"%s%s%s; hyc imports %s",
                   json_escape(arena, mt->str, mt->str_len), near ? " (did you mean \"" : "", near ? near : "",
                   near ? "\"?)" : "", join_names(arena, names));
        return NULL;
    }
    c.family = fam->model_type;

    ImportHfModel *m = ARENA_NEW(arena, ImportHfModel);
    m->family = fam->model_type;
    m->blurb = fam->blurb;
    m->config_path = config;
    m->tf_version = cfg_str(&c, "transformers_version", NULL);
    m->name = model_name(arena, dir[0] ? dir : ".", fam->model_type);
    reject_unsupported(&c);
    fam->read(&c, m);
    if (c.ok) check_sizes(&c, m);
    /* After an error the reader stopped early: unread keys mean nothing. */
    if (c.ok) warn_unknown_keys(&c, fam);
    if (!c.ok || diag->n_errors > errors_before || m->n_layers == 0) {
        if (c.ok && diag->n_errors == errors_before) diag_error(diag, at_loc(&c, NULL), "the model has no layers");
        return NULL;
    }

    m->dims.tie_embeddings = m->tie;
    for (int k = 0; k < m->n_kinds; k++)
        for (int s = 0; s < m->kinds[k].n_subs; s++)
            if (m->kinds[k].subs[s].kind == SK_MOE) m->dims.n_experts = (int)m->kinds[k].subs[s].moe.experts;

    if (opt && opt->weights_file) {
        m->weights_file = opt->weights_file;
    } else {
        static const char *const CHECKPOINTS[] = {"model.safetensors", "model.safetensors.index.json"};
        const char *found = NULL;
        for (int i = 0; i < 2 && !found; i++) {
            const char *p = path_join(arena, dir, CHECKPOINTS[i]);
            if (is_file(p)) found = p;
        }
        if (!found) {
            found = path_join(arena, dir, CHECKPOINTS[0]);
            diag_warning(diag, loc_file(root->loc.file), "no model.safetensors (or shard index) next to it; "
                                                          "the weights block names %s",
                         found);
        }
        m->weights_file = relative_path(arena, found, opt && opt->output_dir ? opt->output_dir : ".");
    }
    return m;
}

bool import_hf_config_ex(const char *path, const ImportHfOptions *opt, StrBuf *out_dsl, Arena *arena, Interner *in,
                         Diag *diag)
{
    (void)in;
    ImportHfModel *m = import_hf_read(path, opt, arena, diag);
    if (!m) return false;
    import_hf_print(m, out_dsl);
    return true;
}

bool import_hf_config(const char *path, StrBuf *out_dsl, Arena *arena, Interner *in, Diag *diag)
{
    return import_hf_config_ex(path, NULL, out_dsl, arena, in, diag);
}
