/* frontend.h — the internal header of frontend/: the AST of a .hyb file, the
 * parser, the formatter, and (in later sections) sema and importers.
 *
 * The grammar (docs/language.md §1) is a uniform tree of blocks and
 * settings; the meaning of keys lives in sema's schema, not in the grammar.
 */
#ifndef HYC_FRONTEND_H
#define HYC_FRONTEND_H

#include "../util/util.h"

/* ==== ast.c ================================================================ */

typedef enum AstKind {
    AST_BLOCK,   /* kind [label] { items }         kind, label, items */
    AST_SETTING, /* key = value                     key, value */
    AST_INT,     /* text, ival */
    AST_FLOAT,   /* text, fval */
    AST_STRING,  /* sval (unescaped) */
    AST_IDENT,   /* name (also true/false, stored as idents) */
    AST_LIST,    /* items: values */
    AST_CALL,    /* name ( items: AST_SETTING for named args, values otherwise ) */
    AST_COMMENT, /* text: a comment on its own line, kept for fmt */
} AstKind;

typedef struct AstNode AstNode;
typedef struct AstList {
    AstNode **data;
    int len, cap;
} AstList;

void ast_list_push(Arena *a, AstList *l, AstNode *n);
AstNode *ast_new(Arena *a, AstKind kind, SrcLoc loc);

struct AstNode {
    AstKind kind;
    SrcLoc loc;        /* the whole node */
    SrcLoc name_loc;   /* block kind / setting key / call name */
    const char *name;  /* block kind, setting key, call name, identifier (interned) */
    const char *label; /* block label (interned), or NULL */
    SrcLoc label_loc;
    bool key_quoted;   /* setting key / block label was a STRING */
    const char *text;  /* number as written; comment text without the '#'; */
    const char *sval;  /* string value, unescaped */
    int64_t ival;
    double fval;
    bool negative;     /* number had a leading '-' (already applied to ival/fval) */
    AstNode *value;    /* AST_SETTING */
    AstList items;     /* AST_BLOCK, AST_LIST, AST_CALL */
    const char *trailing_comment; /* a comment at the end of this node's line */
};

const char *ast_kind_name(AstKind k);
/* A value's kind in words, for messages: "an integer", "a list", ... */
const char *ast_value_desc(const AstNode *v);

/* ==== parse.c (lexer.l + parser.y) ========================================= */

/* A comment kept for `hyc fmt`: on its own line, or trailing an item. */
typedef struct AstComment {
    int line;
    bool own_line;
    const char *text; /* without the '#' and trailing blanks */
} AstComment;

/* The result of parsing one file: the top-level items and the comments. */
typedef struct AstFile {
    const SrcFile *src;
    AstList items;
    AstComment *comments;
    int n_comments;
} AstFile;

/* Parse a whole source.  Reports every syntax error through `diag` and
 * returns NULL if there was any.  All memory comes from `arena`. */
AstFile *parse_source(const SrcFile *src, Arena *arena, Interner *in, Diag *diag);

/* Load a file (or report why not, as `PATH: error: ...`) into the arena. */
SrcFile *src_load(const char *path, Arena *arena, Diag *diag);
SrcFile *src_from_string(const char *name, const char *text, Arena *arena);

/* ---- scanner/parser shared state (lexer.l, parser.y, parse.c) ---------- */

enum { PARSE_MAX_DEPTH = 64, PARSE_MAX_TOKEN = 4096 };

typedef struct ParseOpen {
    SrcLoc loc;           /* the opening bracket */
    const char *what;     /* the block kind before '{', or NULL */
    char bracket;
} ParseOpen;

typedef struct ParseState {
    const SrcFile *src;
    Arena *arena;
    Interner *in;
    Diag *diag;
    int line, col;              /* position of the next byte */
    bool line_has_token;        /* for classifying comments */
    int last_token_line;
    const char *last_ident;
    ParseOpen open[PARSE_MAX_DEPTH];
    int depth;
    bool fatal;                 /* stop reporting: input abandoned */
    int brace_depth;            /* '{' seen and not yet closed */
    int recover_depth;          /* after a syntax error: skip tokens until the '}'
                                   that brings brace_depth back to this; -1: off */
    Vec(AstComment) comments;
    AstList result;
} ParseState;

/* Called from the scanner's actions (parse.c). */
struct HYB_LTYPE;
union HYB_STYPE;
void lex_advance(ParseState *st, struct HYB_LTYPE *lloc, const char *text, int len);
void lex_comment(ParseState *st, struct HYB_LTYPE *lloc, const char *text, int len);
bool lex_open(ParseState *st, struct HYB_LTYPE *lloc, char bracket);
void lex_close(ParseState *st);
bool lex_int(ParseState *st, union HYB_STYPE *lval, struct HYB_LTYPE *lloc, const char *text);
bool lex_float(ParseState *st, union HYB_STYPE *lval, struct HYB_LTYPE *lloc, const char *text);
bool lex_ident(ParseState *st, union HYB_STYPE *lval, struct HYB_LTYPE *lloc, const char *text, int len);
bool lex_string(ParseState *st, union HYB_STYPE *lval, struct HYB_LTYPE *lloc, const char *text, int len);
void lex_error(ParseState *st, struct HYB_LTYPE *lloc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *lex_clip(ParseState *st, const char *text);
const char *lex_char_name(char c);
SrcLoc parse_loc(const ParseState *st, const struct HYB_LTYPE *lloc);
/* After a syntax error at `lookahead` (a token kind): resynchronise at the
 * '}' closing the innermost block still open. */
void parse_begin_recovery(ParseState *st, int lookahead);

/* ==== fmt.c ================================================================= */

/* Canonical text of a parsed file (docs/language.md §1). */
void fmt_file(StrBuf *out, const AstFile *f);

/* ==== sema.c ================================================================ */

/* Semantic analysis (docs/language.md §2-7): the AST of a .hyb file checked
 * against the schema and resolved into a ModelSpec, the typed model every
 * later stage reads.  Every default is filled in, every derived size
 * computed, the stack expanded to one layer per depth.  schema.c holds the
 * key tables (declared once, in schema.def); sema.c the checks, the layout
 * expansion, and the canonical parameter list (spec_params). */

/* Bounds of sizes, so that every derived shape and count fits in 64 bits. */
#define SPEC_MAX_WIDTH 16777216.0 /* 2^24: widths (d_model, hidden, ...) */
#define SPEC_MAX_COUNT 65536.0    /* 2^16: heads, experts, groups, d_state */
#define SPEC_MAX_LAYERS 65536.0   /* 2^16: depth of the stack */
#define SPEC_MAX_CONV 1024.0      /* convolution width */
#define SPEC_MAX_SEQ 1073741824.0 /* 2^30: max_seq, window, chunk */

/* ---- schema.c: the key tables of schema.def -------------------------------- */

/* The enumerations keys take (NormKind, MlpAct, ...), e.g. NORM_RMSNORM. */
#define SCHEMA_ENUM(T) typedef enum T {
#define SCHEMA_VALUE(T, C, name) C,
#define SCHEMA_ENUM_END(T) } T;
#include "schema.def"

/* Their names as the user writes them, indexed by value, NULL-terminated:
 * schema_names_NormKind[NORM_RMSNORM] is "rmsnorm". */
#define SCHEMA_ENUM(T) extern const char *const schema_names_##T[];
#include "schema.def"

typedef enum SchemaBlockId {
#define SCHEMA_BLOCK(ID, name, S, doc) SCHEMA_BLOCK_##ID,
#include "schema.def"
    SCHEMA_N_BLOCKS
} SchemaBlockId;

typedef enum SublayerKind {
#define SCHEMA_SUBLAYER(K, name, ID, branch_ok) K,
#include "schema.def"
    SUBLAYER_N_KINDS
} SublayerKind;

typedef enum SchemaType {
    SCHEMA_TYPE_INT,        /* int64_t */
    SCHEMA_TYPE_FLOAT,      /* double (an integer is accepted) */
    SCHEMA_TYPE_BOOL,       /* bool: true / false */
    SCHEMA_TYPE_ENUM,       /* the enum type: one of its names */
    SCHEMA_TYPE_STRING,     /* const char *: a "string" */
    SCHEMA_TYPE_NAME,       /* const char *: an identifier naming something */
    SCHEMA_TYPE_INT_LIST,   /* SpecIntList */
    SCHEMA_TYPE_FLOAT_LIST, /* SpecFloatList */
    SCHEMA_TYPE_CALL,       /* SpecCall: one of the enumeration's names, with arguments */
    SCHEMA_TYPE_REF,        /* SpecRef: a name, or an integer (a relative position) */
} SchemaType;

enum {
    SCHEMA_F_REQUIRED = 1 << 0, /* no default: must be given */
    SCHEMA_F_DERIVED = 1 << 1,  /* default computed by sema (def_text says how) */
    SCHEMA_F_MIN_OPEN = 1 << 2, /* value > min (else value >= min) */
    SCHEMA_F_MAX_OPEN = 1 << 3, /* value < max (else value <= max) */
    SCHEMA_F_INF = 1 << 4,      /* FLOAT: the name 'inf' is accepted */
    SCHEMA_F_LEN_SHIFT = 8,     /* lists: fixed length in bits 8..15, 0: any */
};
#define SCHEMA_F_LEN(n) ((unsigned)(n) << SCHEMA_F_LEN_SHIFT)

typedef struct SchemaArg SchemaArg;

typedef struct SchemaKey {
    const char *name;
    SchemaType type;
    size_t offset;                  /* of its field in the block's struct */
    const char *const *enum_names;  /* ENUM, CALL: NULL-terminated, by value */
    double def;                     /* default of INT/FLOAT/BOOL/ENUM, of list elements */
    double min, max;                /* allowed range; +-INFINITY: unbounded */
    unsigned flags;                 /* SCHEMA_F_* */
    const char *def_text;           /* the default as docs say it */
    const char *doc;
    const SchemaArg *call_args;     /* CALL: the arguments of every value, ended by kind -1 */
} SchemaKey;

/* One argument of the call a CALL key's value `kind` takes.  `key` describes
 * it as a FLOAT key (name, default, range, flags, docs). */
struct SchemaArg {
    int kind;
    SchemaKey key;
};

typedef struct SchemaBlock {
    SchemaBlockId id;
    const char *name;
    const char *doc;
    const SchemaKey *keys;
    int n_keys;
} SchemaBlock;

const SchemaBlock *schema_block(SchemaBlockId id);
/* The index of key `name` in b->keys, or -1. */
int schema_key_index(const SchemaBlock *b, const char *name);
/* A list's fixed length (0: any). */
int schema_list_len(const SchemaKey *k);
/* The allowed range in words ("at least 1", "in (0, 1]"), or NULL when the
 * key's type is unbounded; written into buf. */
const char *schema_range_text(const SchemaKey *k, char *buf, size_t size);
/* "an integer", "true or false", "rmsnorm or layernorm", ... */
const char *schema_type_text(const SchemaKey *k, char *buf, size_t size);
const char *schema_sublayer_name(SublayerKind k);
SchemaBlockId schema_sublayer_block(SublayerKind k);
bool schema_sublayer_branch_ok(SublayerKind k);
/* The kind spelled `name`; false if there is none. */
bool schema_sublayer_lookup(const char *name, SublayerKind *out);
/* All sublayer kind names, for suggestions. */
const char *const *schema_sublayer_names(int *n);
/* The key reference (`hyc check --keys`): one table per block kind. */
void schema_print_reference(FILE *out);

/* ---- the resolved model ---------------------------------------------------- */

typedef struct SpecIntList {
    int n;
    const int64_t *v;
    const SrcLoc *locs; /* of each element */
} SpecIntList;

typedef struct SpecFloatList {
    int n;
    const double *v;
} SpecFloatList;

/* The value of a CALL key: `llama3(factor = 32, ...)`, or a plain name. */
enum { SPEC_CALL_MAX_ARGS = 8 };
typedef struct SpecCall {
    int kind;                         /* the enumeration value named */
    int n_args;                       /* the arguments `kind` takes (schema order) */
    double args[SPEC_CALL_MAX_ARGS];  /* each given, or its default */
    bool given[SPEC_CALL_MAX_ARGS];   /* written (not defaulted) */
    SrcLoc loc;                       /* the whole value, or the key's block when defaulted */
    SrcLoc arg_locs[SPEC_CALL_MAX_ARGS]; /* each argument's value, else loc */
} SpecCall;

/* The value of a REF key: a name or a number, e.g. `kv_share = 1` (one
 * layer up) or `kv_share = attn` (the nearest layer of that name above). */
typedef struct SpecRef {
    int64_t offset;   /* 0 when a name is given or the key is absent */
    const char *name; /* NULL when a number is given or the key is absent */
} SpecRef;

/* Where a block's keys came from.  Every spec struct below starts with one. */
typedef struct SpecBlock {
    SrcLoc loc;                /* the whole block */
    SrcLoc name_loc;           /* its kind word: "missing key" errors point here */
    const SchemaBlock *schema; /* NULL for blocks without keys */
    const AstNode **given;     /* [schema->n_keys]: each key's setting, NULL when defaulted */
} SpecBlock;

/* Was `key` written in the block (not defaulted)? */
bool spec_given(const SpecBlock *b, const char *key);
/* The value of key's setting, or the block's kind word when defaulted. */
SrcLoc spec_key_loc(const SpecBlock *b, const char *key);

typedef struct SharedBlockDef SharedBlockDef;
typedef struct SublayerSpec SublayerSpec;

/* Arguments of rope_scaling's calls, in schema.def order, which is also the
 * order of the IR rope's scaling_params (docs/ir.md). */
enum { ROPE_ARG_FACTOR = 0 };                                    /* linear */
enum { LLAMA3_FACTOR, LLAMA3_LOW_FREQ, LLAMA3_HIGH_FREQ, LLAMA3_ORIGINAL_MAX };
enum { NTK_ALPHA = 0 };
enum { YARN_FACTOR, YARN_ORIGINAL_MAX, YARN_BETA_FAST, YARN_BETA_SLOW, YARN_ATTENTION_FACTOR };

typedef struct AttentionSpec {
    SpecBlock blk;
    int64_t heads, kv_heads, head_dim;
    bool rope;
    double rope_base, rope_fraction;
    RopePairing rope_pairing;
    SpecCall rope_scaling;  /* kind RopeScaling; yarn's attention_factor filled in */
    int64_t window;         /* 0: full causal */
    double scale;
    bool scale_is_default;  /* scale = 1/sqrt(head_dim), not written */
    double key_scale;
    QkNorm qk_norm;
    bool output_gate, bias;
    int64_t input_width, adapter_rank;
    SpecRef kv_share;       /* whose KV cache it reads; ModelSpec.kv_source resolves it per depth */
    /* derived */
    bool kv_reader;         /* kv_share given: no k, v, cache of its own */
    int64_t q_width;        /* heads * head_dim (the gate doubles q's rows, not this) */
    int64_t kv_width;       /* kv_heads * head_dim */
    int64_t rope_dims;      /* rope_fraction * head_dim, even; 0 without rope */
} AttentionSpec;

typedef struct Mamba1Spec {
    SpecBlock blk;
    int64_t d_state, d_conv, expand, d_inner, dt_rank;
    bool conv_bias, bias;
    InnerNorms inner_norms;
    double inner_norm_eps;
    ConvAct conv_act;
} Mamba1Spec;

typedef struct Mamba2Spec {
    SpecBlock blk;
    int64_t heads, head_dim, d_inner, groups, d_state, d_conv, chunk;
    bool conv_bias, bias, gated_norm, norm_before_gate;
    bool out_bias;                   /* out_proj bias; default: bias */
    ConvAct conv_act;
    int64_t norm_groups;             /* groups of the gated norm (HF mamba2/bamba/granite: 1) */
    double norm_eps, dt_min, dt_max; /* dt_max may be INFINITY */
    SpecFloatList in_proj_scales;    /* 5: z, x, B, C, dt */
    /* derived */
    int64_t conv_dim;                /* d_inner + 2 * groups * d_state */
    int64_t in_proj_dim;             /* 2 * d_inner + 2 * groups * d_state + heads */
} Mamba2Spec;

typedef struct ShortConvSpec {
    SpecBlock blk;
    int64_t d_conv;
    bool bias;
} ShortConvSpec;

typedef struct DeltaNetSpec {
    SpecBlock blk;
    int64_t key_heads, value_heads, key_dim, value_dim, d_conv;
    ConvAct conv_act;
    /* derived */
    int64_t key_width;   /* key_heads * key_dim */
    int64_t value_width; /* value_heads * value_dim */
    int64_t conv_dim;    /* 2 * key_width + value_width (q, k, v are convolved) */
} DeltaNetSpec;

typedef struct MlpSpec {
    SpecBlock blk;
    MlpAct act;
    int64_t hidden;
    bool bias;
    double gate_scale, down_scale;
    int64_t adapter_rank;
    bool gated; /* derived: swiglu / geglu have a gate projection */
} MlpSpec;

typedef struct MoeSpec {
    SpecBlock blk;
    int64_t experts, top_k, hidden;
    MlpAct act;
    MoeRouting routing;
    bool renormalize;
    double routed_scale;
    int64_t shared_hidden; /* 0: no shared expert */
    bool shared_gate;
    int64_t route_groups, route_topk_groups; /* group-limited selection; 1, 1: none */
    int64_t latent;        /* 0: experts work in d_model */
    double aux_loss;       /* recorded only: a training coefficient */
    bool gated;            /* derived, as MlpSpec */
    int64_t expert_width;  /* derived: latent, or d_model */
} MoeSpec;

typedef struct ParallelSpec {
    SpecBlock blk;
    BranchNorm branch_norm;
    BranchScale branch_scale;
    CombineOp combine;
    OutProjMode out_proj;
    SublayerSpec *branches; /* SublayerSpec.branch_width is each one's width */
    int n_branches;
    int64_t out_proj_in;    /* out_proj = shared: columns of W_o (the combined width); else 0 */
} ParallelSpec;

typedef struct UseSpec {
    SpecBlock blk;
    const char *name;            /* the shared block */
    SrcLoc name_loc;
    const SharedBlockDef *block;
} UseSpec;

/* One sublayer: the common keys, its kind, and the kind's own keys. */
struct SublayerSpec {
    SpecBlock blk;           /* the common keys (schema SUBLAYER, or BRANCH in parallel) */
    SublayerKind kind;
    const char *param_name;  /* K of canonical names: "mlp", "mlp1" when repeated */
    bool norm;               /* pre-norm (false for use and parallel branches) */
    bool residual;           /* added to the residual (false: replaces it) */
    double in_scale, out_scale;
    int64_t in_width;        /* width it reads: d_model, or the shared block's input */
    int64_t branch_width;    /* in parallel: width of its output before any out projection */
    union {
        AttentionSpec attention;
        Mamba1Spec mamba1;
        Mamba2Spec mamba2;
        ShortConvSpec short_conv;
        DeltaNetSpec deltanet;
        MlpSpec mlp;
        MoeSpec moe;
        ParallelSpec parallel;
        UseSpec use;
    } as;
};

typedef struct LayerDef {
    SpecBlock blk;
    const char *name;
    SublayerSpec *sublayers;
    int n_sublayers;
    int n_uses;              /* depths of the stack that hold it */
} LayerDef;

struct SharedBlockDef {
    SpecBlock blk;
    const char *name;
    SharedInput input;
    int64_t in_width;        /* 2 * d_model for concat_embedding, else d_model */
    SublayerSpec *sublayers;
    int n_sublayers;
    int n_uses;              /* `use` sites in the stack */
};

typedef struct StackSpec {
    SpecBlock blk;
    int64_t layers;
    const char *fill;        /* NULL when absent */
    const char *pattern;     /* NULL when absent */
    int64_t repeat;
} StackSpec;

typedef struct PlaceSpec {
    SpecBlock blk;
    int64_t every, offset;
    SpecIntList at;
    const char *ratio;
    Placement placement;
} PlaceSpec;

typedef struct WeightRename {
    const char *from;        /* canonical name; "{i}" stands for every depth */
    const char *to;          /* name in the file; "{i}" replaced by the depth */
    SrcLoc loc;
} WeightRename;

typedef struct WeightsSpec {
    SpecBlock blk;
    bool present;            /* the model has a weights block */
    const char *file;        /* as written */
    const char *path;        /* file resolved relative to the .hyb file's directory */
    const char *naming;      /* "hyc" or "hf:<model_type>" */
    WeightRename *renames;
    int n_renames;
} WeightsSpec;

typedef struct ModelSpec {
    SpecBlock blk;
    const SrcFile *src;
    const char *name;
    int64_t d_model, vocab;
    bool tie_embeddings;
    NormKind norm;
    double norm_eps, norm_offset;
    bool final_norm;
    double embedding_scale, logits_scale, residual_scale;
    int64_t max_seq;
    StateDtype kv_dtype, ssm_dtype;

    LayerDef *layer_defs;    /* in definition order */
    int n_layer_defs;
    SharedBlockDef *shared_blocks;
    int n_shared_blocks;

    StackSpec stack;
    int n_layers;            /* the resolved stack: layers[i] sits at depth i */
    const LayerDef **layers;
    const SrcLoc *layer_locs; /* what put layers[i] there (fill, place, pattern symbol) */
    /* Cross-layer KV sharing (attention kv_share), per depth: the depth whose
     * attention's KV cache the layer's kv_share attention reads (-1: none;
     * always a depth whose attention has its own cache), and how many later
     * depths read the cache of this depth's attention. */
    const int *kv_source;
    const int *kv_readers;

    WeightsSpec weights;
} ModelSpec;

/* Check a parsed file and resolve it.  Reports every problem through diag
 * (errors and warnings) and returns NULL if there was any error.  Everything
 * the spec points to lives in the arena. */
ModelSpec *sema_check(const AstFile *file, Arena *arena, Interner *in, Diag *diag);

/* Every weight of the model with its canonical name and shape (docs/
 * language.md §7), in a fixed order: embed, shared blocks, layers by depth,
 * final_norm, lm_head.  `name` and `shape` are valid during the call only. */
typedef void (*SpecParamVisit)(void *ctx, const char *name, int ndim, const int64_t *shape);
void spec_params(const ModelSpec *m, SpecParamVisit visit, void *ctx);
/* The number of scalar parameters (saturates at INT64_MAX). */
int64_t spec_param_count(const ModelSpec *m);

/* Inference state of one sequence of seq_len tokens, in bytes (kv_dtype for
 * KV caches, ssm_dtype for the others): KV caches (a sliding window keeps
 * min(seq_len, window) positions), conv states (d_conv - 1 columns) and SSM
 * / delta-rule states.  Saturates. */
typedef struct SpecState {
    int64_t kv, conv, ssm;
} SpecState;
SpecState spec_state(const ModelSpec *m, int64_t seq_len);
/* Bytes of one value of a state dtype. */
int spec_dtype_size(StateDtype dt);
int64_t spec_state_bytes(const ModelSpec *m, int64_t seq_len);

/* ==== import_hf.c / hf_names.c ============================================== */

/* Hugging Face import (docs/families.md).  import_hf.c reads a config.json of
 * one of the supported families (transformers 5.x) and writes the equivalent
 * .hyb text; hf_names.c maps hyc's canonical parameter names to the tensor
 * names of HF checkpoints, with the layout transform each one needs. */

enum { HF_NAME_MAX = 256, HF_MAX_SEGS = 4 };

/* How a canonical tensor is obtained from the HF tensor `name`. */
typedef enum HfXform {
    HF_XF_COPY,    /* as stored */
    HF_XF_SQUEEZE, /* conv weights: [C, 1, K] -> [C, K] */
    HF_XF_SLICE,   /* part `part` of `parts` equal parts along `axis` */
    HF_XF_REGROUP, /* rows along axis 0 are `groups` groups, each the segments
                      seg[0..n_seg) in order; canonical: segment-major (all
                      groups' segment 0, then all groups' segment 1, ...) */
    HF_XF_STACK,   /* legacy per-expert tensors: `name` holds "{e}"; the
                      tensors for e = 0..count-1 stacked on a new axis 0 */
} HfXform;

typedef struct HfTensorRef {
    char name[HF_NAME_MAX];
    HfXform xform;
    int axis, part, parts;        /* HF_XF_SLICE */
    int groups, n_seg;            /* HF_XF_REGROUP */
    int64_t seg[HF_MAX_SEGS];
    int count;                    /* HF_XF_STACK */
    /* The same HF bytes are also read by another canonical name (Zamba2's
     * MLP LoRA A serves gate and up): coverage checks count it once. */
    bool reread;
} HfTensorRef;

/* What the naming of a family needs to know about one model: sizes for the
 * regrouping transforms and, for Zamba2, where the shared blocks sit. */
typedef struct HfDims {
    int n_experts;                       /* legacy expert stacking */
    int64_t attn_heads, attn_head_dim;   /* qwen3_next: q/gate regroup */
    int64_t lin_key_heads, lin_value_heads, lin_key_dim, lin_value_dim; /* qwen3_next deltanet */
    /* zamba2: the depths of the hybrid layers in order; hybrid layer k uses
     * shared block k mod n_shared_blocks (HF's cycle), so block n is stored
     * under hybrid layer n.  Block names: NULL means block0, block1, ... */
    const int *hybrid_layers;
    int n_hybrid;
    int n_shared_blocks;
    const char *const *shared_block_names;
    bool tie_embeddings;                 /* lm_head.weight, if present, duplicates the embedding */
} HfDims;

typedef struct HfFamily HfFamily;
typedef struct HfNaming {
    const HfFamily *family;
    HfDims dims;
} HfNaming;

/* The supported model_type names, in documentation order. */
const char *const *hf_families(int *n);
/* Set up the naming of FAMILY ("jamba", or "hf:jamba") for a model with
 * DIMS (copied; hybrid_layers must outlive NM).  False: unknown family. */
bool hf_naming_init(HfNaming *nm, const char *family, const HfDims *dims);
/* The HF tensor that holds CANONICAL (docs/language.md names: "embed",
 * "layers.3.mamba2.in_proj", "shared.block0.attention.q", ...).  LEGACY, if
 * not NULL, receives the pre-transformers-5 layout when there is one
 * (*has_legacy says; pass NULL for both when not wanted).  False: the family
 * has no such parameter. */
bool hf_bind_name(const HfNaming *nm, const char *canonical, HfTensorRef *out,
                  HfTensorRef *legacy, bool *has_legacy);
/* A tensor that HF ties to another and that checkpoints may store twice
 * (lm_head.weight of a tied model, Zamba2's shared block repeated under every
 * hybrid layer): writes the bound tensor's name to OUT and returns true. */
bool hf_tied_source(const HfNaming *nm, const char *hf_name, char out[HF_NAME_MAX]);
/* The naming of a checked model (spec->weights.naming, "hf:<family>"), its
 * dims taken from the spec (arrays in ARENA).  False, with a message in
 * WHY, when the naming is not hf:<family> or the model does not have the
 * family's structure (Zamba2: hybrid layer k must use shared block k mod
 * the number of blocks). */
bool hf_naming_for_spec(HfNaming *nm, const ModelSpec *m, Arena *arena, const char **why);
/* A tensor HF loads but its forward never reads (the adapter slots an
 * untied Zamba2 block keeps for other layers): safe to skip. */
bool hf_unused_tensor(const HfNaming *nm, const char *hf_name);
/* "part 2 of 2 along axis 1", "squeeze [C, 1, K] -> [C, K]", ...: for messages. */
const char *hf_xform_text(const HfTensorRef *r, char *buf, size_t size);

/* ---- import_hf.c ---- */

typedef struct ImportHfOptions {
    /* `weights { file = ... }` exactly as given; NULL: the checkpoint found
     * next to config.json (model.safetensors, else its shard index), named
     * relative to output_dir. */
    const char *weights_file;
    /* The directory the .hyb file will be in; NULL: the current directory. */
    const char *output_dir;
} ImportHfOptions;

/* What the importer understood: the text it prints, and the dimensions the
 * family's weight naming needs (the hf:<family> naming of the same model,
 * for tools and tests that bind names without going through sema). */
typedef struct ImportHfModel ImportHfModel;

/* Read PATH (a directory holding config.json, or the file itself) and build
 * the model.  Every problem is reported through DIAG at the key in
 * config.json; NULL if there was an error.  Lives in the arena. */
ImportHfModel *import_hf_read(const char *path, const ImportHfOptions *opt, Arena *arena, Diag *diag);
/* The .hyb text, already in `hyc fmt` canonical form. */
void import_hf_print(const ImportHfModel *m, StrBuf *out);
const char *import_hf_family(const ImportHfModel *m);
/* The naming of the model's family with its dimensions filled in. */
void import_hf_naming(const ImportHfModel *m, HfNaming *out);

/* The whole import: PATH -> .hyb text appended to OUT_DSL.  False (with
 * diagnostics) on any error. */
bool import_hf_config(const char *path, StrBuf *out_dsl, Arena *arena, Interner *in, Diag *diag);
bool import_hf_config_ex(const char *path, const ImportHfOptions *opt, StrBuf *out_dsl, Arena *arena,
                         Interner *in, Diag *diag);

/* ==== lower.c =============================================================== */

/* The Graph IR module of a resolved model (docs/ir.md; the forward pass of
 * docs/language.md §3-4): every parameter of spec_params with its canonical
 * name and shape, in that order; one state per KV cache, conv state and SSM
 * state, named after the sublayer that keeps it (`layers.3.attention.kv`,
 * `layers.3.mamba2.conv`, `layers.3.mamba2.ssm`; a use of a shared block has
 * its own, `layers.6.use.attention.kv`), so that the module's state bytes are
 * spec_state_bytes at max_seq; and the functions prefill(tokens: i32[T]) ->
 * f32[T, vocab] and decode(token: i32[1]) -> f32[1, vocab].  Reports what
 * the IR cannot express (a convolution with d_conv = 1) through diag and
 * returns NULL.  The module lives in the arena; names are interned in `in`. */
typedef struct IrModule IrModule;
IrModule *lower_model(const ModelSpec *m, Arena *arena, Interner *in, Diag *diag);

#endif
