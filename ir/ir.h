/* ir.h — the internal header of ir/: hyc's Graph IR.
 *
 * A module holds the model's weights (`param`), its persistent per-sequence
 * state (`state`: KV caches, conv and SSM states) and its entry points
 * (`prefill`, `decode`), each an SSA graph: an ordered list of instructions
 * whose values are small integer ids into the function's value array.  Ops
 * are declared once in ops.def; docs/ir.md documents the text form and the
 * semantics of every op.
 *
 * Memory: everything a module holds lives in the Arena it was created with
 * (names are interned in its Interner).  Nothing is freed piecemeal; passes
 * that rewrite a function leave the old arrays in the arena.
 *
 * The implicit position `pos`: every call of a function runs on a sequence
 * that has already consumed `pos` tokens (0 for the first prefill).  Token i
 * of the call sits at absolute position pos + i.  rope, kv_store and sdpa
 * read it; the runtime advances it by T after the call.  States start
 * zeroed for a new sequence, so a prefill with pos > 0 continues one.
 */
#ifndef HYC_IR_H
#define HYC_IR_H

#include "../util/util.h"

/* ==== module.c: types, modules, functions, states ========================== */

#define IR_DTYPES(X) \
    X(F32, "f32", 4) \
    X(F16, "f16", 2) \
    X(BF16, "bf16", 2) \
    X(I32, "i32", 4)

typedef enum IrDType {
#define X(id, name, size) IR_DT_##id,
    IR_DTYPES(X)
#undef X
    IR_DT_COUNT
} IrDType;

/* A shape has 1..IR_MAX_RANK dims.  A dim is a positive constant or one of
 * two symbols: T (the token count of the call; only dim 0 of a function
 * value) and max_seq (the module's maximum sequence length; only in state
 * shapes). */
#define IR_MAX_RANK 4
enum { IR_DIM_T = -1, IR_DIM_MAX_SEQ = -2 };
#define IR_DIM_LIMIT ((int64_t)1 << 40) /* larger constant dims are rejected */

typedef struct IrType {
    IrDType dtype;
    int rank;
    int64_t dims[IR_MAX_RANK];
} IrType;

IrType ir_type_make(IrDType dt, int rank, const int64_t *dims);
/* IR_TYPE(IR_DT_F32, IR_DIM_T, 64) -> f32[T, 64] */
#define IR_TYPE(dt, ...)                                                            \
    ir_type_make((dt), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), \
                 (int64_t[]){__VA_ARGS__})
bool ir_type_eq(const IrType *a, const IrType *b);
bool ir_dtype_is_float(IrDType dt);
const char *ir_dtype_name(IrDType dt);
int ir_dtype_size(IrDType dt);
bool ir_dtype_lookup(const char *name, IrDType *out);
/* "f32[T, 64]"; a dim of max_seq prints as "max_seq". */
void ir_type_print(StrBuf *sb, const IrType *t);
/* Text for messages, in the arena. */
const char *ir_type_str(Arena *a, const IrType *t);

#define IR_STATE_KINDS(X)                                                             \
    X(KV_CACHE, "kv_cache")   /* [kv_heads, S, head_dim + v_head_dim], S = max_seq    \
                                  or a window: rows at (pos+i) mod S */               \
    X(CONV, "conv_state")     /* [channels, d_conv - 1]: the last inputs of the conv */ \
    X(SSM, "ssm_state")       /* [d_inner, d_state] (Mamba-1), [heads, head_dim,       \
                                  d_state] (Mamba-2), [v_heads, k_dim, v_dim] (delta) */

typedef enum IrStateKind {
#define X(id, name) IR_STATE_##id,
    IR_STATE_KINDS(X)
#undef X
    IR_STATE_COUNT
} IrStateKind;

const char *ir_state_kind_name(IrStateKind k);
bool ir_state_kind_lookup(const char *name, IrStateKind *out);

/* Handles: small integer ids (index into the owning array); -1 is none. */
typedef struct IrValue { int id; } IrValue;
typedef struct IrParam { int id; } IrParam;
typedef struct IrState { int id; } IrState;
#define IR_NO_VALUE ((IrValue){-1})
#define IR_NO_PARAM ((IrParam){-1})
#define IR_NO_STATE ((IrState){-1})

/* A derived param's value: an expression over checkpoint params
 * (param_expr.c, docs/ir.md "Derived params").  Immutable once built; the
 * nodes live in the module's arena and may be shared. */
typedef enum IrPExprKind {
    IR_PEXPR_PARAM,  /* @name : type — a checkpoint param, loaded as any param */
    IR_PEXPR_CONCAT, /* concat(e, ...) — along dim 0, the other dims equal */
    IR_PEXPR_SCALE,  /* scale(e, factor) — every element times factor */
    IR_PEXPR_ZEROS,  /* zeros(type) — e.g. the missing bias of a merged matmul */
    IR_PEXPR_OP,     /* exp(e), neg(e), ..., add(a, b) — an elementwise op
                      * without attributes (ir_pexpr_op_ok), as its kernel */
    IR_PEXPR_SCALE_COLS, /* scale_cols(w, g[, offset]) — w [n, k] with column j
                          * times (offset + g[j]), g [k]: an rmsnorm's weight
                          * folded into the matmul after it (fuse-prologue) */
} IrPExprKind;

typedef struct IrPExpr IrPExpr;
struct IrPExpr {
    IrPExprKind kind;
    IrType type;        /* PARAM: as declared; else computed (f32) */
    const char *name;   /* PARAM: interned */
    double factor;      /* SCALE; SCALE_COLS: the offset */
    int op;             /* OP: an IrOp (ir_pexpr_op_ok) */
    const IrPExpr *const *args;
    int n_args;         /* CONCAT: >= 1; SCALE: 1; OP: the op's operand count; SCALE_COLS: 2 */
};

/* A weight, referenced by name (`@layers.3.mixer.in_proj`), never inlined. */
typedef struct IrParamDecl {
    const char *name; /* interned */
    IrType type;
    SrcLoc loc;    /* origin: DSL or config.json */
    SrcLoc ir_loc; /* position in parsed IR text, for messages; else none */
    const IrPExpr *derive; /* NULL: loaded from the weights; else computed from them */
} IrParamDecl;

/* Persistent per-sequence state. */
typedef struct IrStateDecl {
    const char *name; /* interned */
    IrStateKind kind;
    IrType type;
    SrcLoc loc, ir_loc;
} IrStateDecl;

typedef enum IrOperandKind {
    IR_OPND_NONE,  /* an absent optional operand: `_` */
    IR_OPND_VALUE, /* %v: id into IrFunc.values */
    IR_OPND_PARAM, /* @p: id into IrModule.params */
    IR_OPND_STATE, /* $s: id into IrModule.states */
} IrOperandKind;

typedef struct IrOperand {
    IrOperandKind kind;
    int id;
} IrOperand;

typedef enum IrAttrKind {
    IR_ATTR_NONE, /* absent */
    IR_ATTR_INT,
    IR_ATTR_FLOAT,
    IR_ATTR_BOOL,
    IR_ATTR_STRING, /* also the enumerated kinds (e(a|b)) */
    IR_ATTR_INTS,
    IR_ATTR_FLOATS,
} IrAttrKind;

typedef struct IrAttr {
    IrAttrKind kind;
    int len; /* IR_ATTR_INTS / IR_ATTR_FLOATS */
    union {
        int64_t i;
        double f;
        bool b;
        const char *s; /* interned */
        const int64_t *ints;
        const double *floats;
    };
} IrAttr;

/* IrOp comes from ops.def; declared here so that instructions can hold it. */
enum {
    IR_OPF_COMPOSITE = 1 << 0,   /* expanded by lower-composites */
    IR_OPF_ELEMENTWISE = 1 << 1, /* result[i] depends on operand[i] only */
    IR_OPF_READS_STATE = 1 << 2,
    IR_OPF_WRITES_STATE = 1 << 3, /* has side effects: never dead, never reordered */
    IR_OPF_USES_POS = 1 << 4,     /* reads the implicit position `pos` */
};

typedef enum IrOp {
#define OP(id, name, nres, opnds, attrs, shape, flags) IR_OP_##id,
#include "ops.def"
#undef OP
    IR_OP_COUNT
} IrOp;

typedef struct IrInst {
    IrOp op;
    int result;          /* value id, or -1 for an op without a result */
    int n_operands;      /* slots given; trailing optional ones may be missing */
    IrOperand *operands; /* positional, per the op's operand slots */
    IrAttr *attrs;       /* one per attribute slot of the op, in slot order */
    SrcLoc loc;          /* origin, printed as loc("file":line:col) */
    SrcLoc ir_loc;       /* position in parsed IR text, for messages; else none */
} IrInst;

enum { IR_DEF_NONE = -1, IR_DEF_ARG = -2 };

typedef struct IrValueInfo {
    IrType type;
    const char *name; /* interned, or NULL: printed as a number */
    int def;          /* defining instruction index, IR_DEF_ARG, or IR_DEF_NONE */
    SrcLoc ir_loc;    /* where it was defined in IR text, for messages */
} IrValueInfo;

typedef struct IrModule IrModule;

typedef struct IrFunc {
    IrModule *mod;
    const char *name; /* "prefill" or "decode" */
    IrValueInfo *values;
    int n_values, cap_values;
    int *args; /* value ids */
    int n_args, cap_args;
    IrInst *insts;
    int n_insts, cap_insts;
    IrType ret_type;
    bool has_ret_type;
    int ret; /* value id returned, or -1 while unset */
    SrcLoc loc, ir_loc, ret_loc, ret_ir_loc;
} IrFunc;

struct IrModule {
    Arena *arena;
    Interner *intern;
    const char *name;
    SrcLoc loc, ir_loc;
    int64_t max_seq;
    IrParamDecl *params;
    int n_params, cap_params;
    IrStateDecl *states;
    int n_states, cap_states;
    IrFunc **funcs;
    int n_funcs, cap_funcs;
};

IrModule *ir_module_new(Arena *a, Interner *in, const char *name, SrcLoc loc);
IrParam ir_declare_param(IrModule *m, const char *name, IrType t, SrcLoc loc);
IrState ir_declare_state(IrModule *m, const char *name, IrStateKind kind, IrType t, SrcLoc loc);
/* Lookup by name; id -1 when absent.  Linear: modules hold hundreds, and
 * the text parser keeps its own hash maps. */
IrParam ir_find_param(const IrModule *m, const char *name);
IrState ir_find_state(const IrModule *m, const char *name);
IrFunc *ir_find_func(const IrModule *m, const char *name);
IrFunc *ir_func_new(IrModule *m, const char *name, SrcLoc loc);
/* Declare the next argument; name must not be all digits. */
IrValue ir_func_arg(IrFunc *fn, const char *name, IrType t);
/* End the function with `return v` (sets the return type when unset). */
void ir_func_return(IrFunc *fn, IrValue v, SrcLoc loc);
/* A new value with no definition yet (used by emit and the parser). */
int ir_func_new_value(IrFunc *fn, IrType t);
/* Give a value a printable name (interned); the verifier checks that names
 * are unique within a function. */
void ir_value_set_name(IrFunc *fn, IrValue v, const char *name);
const IrType *ir_value_type(const IrFunc *fn, IrValue v);

/* Bytes of state one sequence needs: every state, max_seq substituted. */
uint64_t ir_module_state_bytes(const IrModule *m);
/* Bytes of one state when the sequence holds `seq` tokens (a max_seq dim
 * counts min(seq, max_seq) rows), for reports of state vs context. */
uint64_t ir_state_bytes(const IrModule *m, IrState s, int64_t seq);

/* Grow an arena-backed array so that it holds at least `need` elements.
 * The old block is abandoned in the arena. */
void *ir_grow(Arena *a, void *data, size_t elem, int *cap, int need);

/* ==== param_expr.c: derived params ========================================= */

enum { IR_PEXPR_MAX_DEPTH = 8, IR_PEXPR_MAX_ARGS = 64 };

const IrPExpr *ir_pexpr_param(IrModule *m, const char *name, IrType t);
const IrPExpr *ir_pexpr_zeros(IrModule *m, IrType t);
/* scale(scale(e, a), b) is built as scale(e, a * b). */
const IrPExpr *ir_pexpr_scale(IrModule *m, const IrPExpr *e, double factor);
/* NULL when the parts do not concatenate (rank or a dim past 0 differs). */
const IrPExpr *ir_pexpr_concat(IrModule *m, const IrPExpr *const *parts, int n);
/* Whether op can be a derived param's node: elementwise, position-free,
 * without attributes (silu, relu2, softplus, sigmoid, exp, neg; add, sub,
 * mul of operands of one shape). */
bool ir_pexpr_op_ok(IrOp op);
/* op(args) (n = the op's operand count); NULL when op is not foldable or
 * the operands' shapes differ. */
const IrPExpr *ir_pexpr_op(IrModule *m, IrOp op, const IrPExpr *const *args, int n);
/* scale_cols(w, g, offset): w [n, k] times (offset + g) [k] per column;
 * NULL when w is not rank 2 or g not [k]. */
const IrPExpr *ir_pexpr_scale_cols(IrModule *m, const IrPExpr *w, const IrPExpr *g, double offset);
/* Levels of nesting of e (a leaf is 1), for the IR_PEXPR_MAX_DEPTH limit. */
int ir_pexpr_depth(const IrPExpr *e);
/* Param p as an expression: its derivation, or a leaf naming it. */
const IrPExpr *ir_param_expr(IrModule *m, IrParam p);
/* Declare a derived param (type: the expression's). */
IrParam ir_declare_derived_param(IrModule *m, const char *name, const IrPExpr *e, SrcLoc loc);
/* Same value: same structure, leaves and factors (names are interned). */
bool ir_pexpr_equal(const IrPExpr *a, const IrPExpr *b);
/* The derived param of value e: one already declared, else a new one named
 * ir_fresh_param_name(base), so that equal derivations share their weights. */
IrParam ir_derived_param(IrModule *m, const char *base, const IrPExpr *e, SrcLoc loc);
/* A param name not yet declared: base, base.2, base.3, ... (interned). */
const char *ir_fresh_param_name(IrModule *m, const char *base);
/* Check an expression's node types (depth, arity, shapes); false: `err`. */
bool ir_pexpr_check(const IrPExpr *e, char *err, size_t err_len);
/* "concat(@a : f32[2, 4], scale(@b : f32[3, 4], 0.5))" */
void ir_pexpr_print(StrBuf *sb, const IrPExpr *e);
/* Remove params that no instruction reads (their ids in instructions are
 * renumbered); returns how many were removed. */
int ir_drop_unused_params(IrModule *m);

/* ==== ops.c: the op table ================================================== */

typedef enum IrOperandClass {
    IR_OC_VALUE,     /* v: float value */
    IR_OC_INT_VALUE, /* i: i32 value */
    IR_OC_TENSOR,    /* t: float value or param */
    IR_OC_PARAM,     /* p */
    IR_OC_KV,        /* K: kv_cache state */
    IR_OC_CONV,      /* C: conv_state */
    IR_OC_SSM,       /* S: ssm_state */
} IrOperandClass;

typedef struct IrOperandSpec {
    const char *name;
    IrOperandClass cls;
    bool optional, variadic;
} IrOperandSpec;

typedef struct IrAttrSpec {
    const char *name;
    IrAttrKind kind;
    bool required;
    bool has_default;
    IrAttr def;
    const char *const *choices; /* enumerated words, or NULL */
    int n_choices;
} IrAttrSpec;

typedef struct IrShapeCtx IrShapeCtx;
typedef bool (*IrShapeFn)(IrShapeCtx *c, IrType *out);

enum { IR_MAX_SLOTS = 24, IR_MAX_ATTRS = 16 };

typedef struct IrOpInfo {
    IrOp op;
    const char *name;
    int n_results;
    const char *operand_spec, *attr_spec; /* the text from ops.def */
    IrOperandSpec slots[IR_MAX_SLOTS];
    int n_slots;
    int n_required; /* leading slots that are not optional */
    bool variadic;  /* last slot repeats */
    IrAttrSpec attrs[IR_MAX_ATTRS];
    int n_attrs;
    IrShapeFn shape;
    unsigned flags;
} IrOpInfo;

const IrOpInfo *ir_op_info(IrOp op);
const char *ir_op_name(IrOp op);
/* IR_OP_COUNT when unknown. */
IrOp ir_op_lookup(const char *name);
/* Slot / attribute index by name; -1 when the op has none of that name. */
int ir_op_slot(IrOp op, const char *name);
int ir_op_attr(IrOp op, const char *name);
const char *ir_operand_class_desc(IrOperandClass c);
const char *ir_attr_kind_desc(IrAttrKind k);

/* The activations of mlp, moe and moe_experts (their `act`): gated ones
 * compute act(gate) ⊙ up.  `op` is the elementwise op applied (silu, gelu or
 * relu2), `tanh` its `approximate = "tanh"` (gelu_tanh, geglu_tanh: HF
 * gelu_pytorch_tanh / gelu_new). */
typedef struct IrAct {
    IrOp op;
    bool gated, tanh;
} IrAct;
/* Dies on a word that is not one of the `act` enumeration's. */
IrAct ir_act_info(const char *act);

/* Attribute values of an instruction, the op's default when absent.  The
 * typed getters die on a name the op does not have (an internal bug). */
const IrAttr *ir_attr_get(const IrInst *in, const char *name); /* NULL: absent, no default */
bool ir_attr_has(const IrInst *in, const char *name);          /* explicitly given */
int64_t ir_attr_i(const IrInst *in, const char *name);
double ir_attr_f(const IrInst *in, const char *name);
bool ir_attr_b(const IrInst *in, const char *name);
const char *ir_attr_s(const IrInst *in, const char *name);
/* Operand by slot name; kind IR_OPND_NONE when absent. */
IrOperand ir_inst_operand(const IrInst *in, const char *slot);

/* ==== shape.c: shape rules ================================================= */

/* What a shape rule sees.  Rules run after the verifier checked operand
 * kinds and attribute kinds, so they may assume those. */
struct IrShapeCtx {
    const IrModule *m;
    const IrFunc *fn;
    const IrInst *in;
    char *err; /* message when the rule fails */
    size_t err_len;
};

#define OP(id, name, nres, opnds, attrs, shape, flags) bool shape(IrShapeCtx *c, IrType *out);
#include "ops.def"
#undef OP

/* Type of an operand (value, param or state), or NULL when absent. */
const IrType *ir_operand_type(const IrModule *m, const IrFunc *fn, IrOperand o);
/* Run the op's shape rule.  false: `err` says why. */
bool ir_infer_type(const IrModule *m, const IrFunc *fn, const IrInst *in, IrType *out,
                   char *err, size_t err_len);

/* ==== build.c: the builder ================================================= */

typedef struct IrOperandList {
    const IrOperand *data;
    int len;
} IrOperandList;

typedef struct IrNamedOperand {
    const char *name; /* slot name from ops.def */
    IrOperand opnd;
} IrNamedOperand;

typedef struct IrNamedOperandList {
    const IrNamedOperand *data;
    int len;
} IrNamedOperandList;

typedef struct IrNamedAttr {
    const char *name;
    IrAttr val;
} IrNamedAttr;

typedef struct IrAttrList {
    const IrNamedAttr *data;
    int len;
} IrAttrList;

#define IR_COUNT_OF(T, ...) ((int)(sizeof((T[]){__VA_ARGS__}) / sizeof(T)))
#define IR_OPERANDS(...) \
    ((IrOperandList){(const IrOperand[]){__VA_ARGS__}, IR_COUNT_OF(IrOperand, __VA_ARGS__)})
#define IR_NAMED(...)                                              \
    ((IrNamedOperandList){(const IrNamedOperand[]){__VA_ARGS__}, \
                          IR_COUNT_OF(IrNamedOperand, __VA_ARGS__)})
#define IR_ATTRS(...) \
    ((IrAttrList){(const IrNamedAttr[]){__VA_ARGS__}, IR_COUNT_OF(IrNamedAttr, __VA_ARGS__)})
#define IR_NO_ATTRS ((IrAttrList){NULL, 0})

IrOperand ir_v(IrValue v);     /* none when v.id < 0 */
IrOperand ir_p(IrParam p);     /* none when p.id < 0 */
IrOperand ir_s(IrState s);     /* none when s.id < 0 */
#define IR_ABSENT ((IrOperand){IR_OPND_NONE, -1})

IrAttr ir_attr_int(int64_t v);
IrAttr ir_attr_float(double v);
IrAttr ir_attr_bool(bool v);
IrAttr ir_attr_str(const char *s);                /* interned on emit */
IrAttr ir_attr_ints(const int64_t *v, int n);     /* copied on emit */
IrAttr ir_attr_floats(const double *v, int n);    /* copied on emit */
#define IR_AI(name, v) ((IrNamedAttr){(name), ir_attr_int(v)})
#define IR_AF(name, v) ((IrNamedAttr){(name), ir_attr_float(v)})
#define IR_AB(name, v) ((IrNamedAttr){(name), ir_attr_bool(v)})
#define IR_AS(name, v) ((IrNamedAttr){(name), ir_attr_str(v)})

/* The one generic emit: append `op` to fn, infer its result type with the
 * op's shape rule and return the result (IR_NO_VALUE for kv_store).
 * Operands are positional per ops.def.  A bad operand kind, an unknown
 * attribute or a shape that does not fit is a bug in the caller (sema is
 * where user errors are caught): it dies with the op, the location and the
 * shape rule's message. */
IrValue ir_emit(IrFunc *fn, IrOp op, IrOperandList ops, IrAttrList attrs, SrcLoc loc);
/* The same with operands given by slot name, in any order; absent optional
 * slots are simply not named.  Handy for composites:
 *   ir_emit_named(fn, IR_OP_ATTENTION,
 *                 IR_NAMED({"x", ir_v(h)}, {"wq", ir_p(q)}, ..., {"cache", ir_s(kv)}),
 *                 IR_ATTRS(IR_AI("heads", 4), IR_AI("kv_heads", 2)), loc); */
IrValue ir_emit_named(IrFunc *fn, IrOp op, IrNamedOperandList ops, IrAttrList attrs,
                      SrcLoc loc);
/* Append an instruction with a given result type (or none), without
 * running the shape rule: the parser and tests of the verifier use it.
 * The pointer is valid until the next append to fn. */
IrInst *ir_append(IrFunc *fn, IrOp op, const IrOperand *ops, int n_ops, const IrType *result,
                  SrcLoc loc);

/* NULL when operand `o` fits slot class `cls` (absent always fits: presence
 * is checked apart); else what `o` is, in words ("a parameter"). */
const char *ir_operand_mismatch(const IrModule *m, const IrFunc *fn, IrOperandClass cls,
                                IrOperand o);

/* Typed helpers on top of ir_emit, for the common ops.  A builder carries the
 * function and the location every instruction gets. */
typedef struct IrBuilder {
    IrFunc *fn;
    SrcLoc loc;
} IrBuilder;

IrBuilder ir_builder(IrFunc *fn, SrcLoc loc);

IrValue ir_embed(IrBuilder *b, IrValue tokens, IrParam table);
IrValue ir_matmul(IrBuilder *b, IrValue x, IrParam w);                      /* x·Wᵀ */
IrValue ir_matmul_bias(IrBuilder *b, IrValue x, IrParam w, IrParam bias); /* bias may be none */
IrValue ir_rmsnorm(IrBuilder *b, IrValue x, IrParam w, double eps);         /* w may be none */
IrValue ir_rmsnorm_offset(IrBuilder *b, IrValue x, IrParam w, double eps, double offset);
IrValue ir_layernorm(IrBuilder *b, IrValue x, IrParam w, IrParam bias, double eps);
IrValue ir_group_rmsnorm(IrBuilder *b, IrValue x, IrParam w, int64_t groups, double eps);
IrValue ir_gated_rmsnorm(IrBuilder *b, IrValue x, IrValue z, IrParam w, int64_t groups,
                         double eps, bool norm_before_gate);
IrValue ir_l2norm(IrBuilder *b, IrValue x, double eps);
/* silu, gelu, relu2, softplus, sigmoid, exp, neg, softmax: */
IrValue ir_unary(IrBuilder *b, IrOp op, IrOperand x);
IrValue ir_silu(IrBuilder *b, IrValue x);
/* The elementwise part of an `act` (ir_act_info): silu, gelu (with
 * approximate = "tanh" for the tanh kinds) or relu2. */
IrValue ir_act(IrBuilder *b, const char *act, IrValue x);
IrValue ir_sigmoid(IrBuilder *b, IrValue x);
IrValue ir_softplus(IrBuilder *b, IrValue x);
/* add, sub, mul; b may be a value or a param and broadcasts (docs/ir.md). */
IrValue ir_binary(IrBuilder *b, IrOp op, IrOperand x, IrOperand y);
IrValue ir_add(IrBuilder *b, IrValue x, IrValue y);
IrValue ir_sub(IrBuilder *b, IrValue x, IrValue y);
IrValue ir_mul(IrBuilder *b, IrValue x, IrValue y);
IrValue ir_scale(IrBuilder *b, IrValue x, double factor);
IrValue ir_clamp(IrBuilder *b, IrValue x, double lo, double hi);
IrValue ir_slice(IrBuilder *b, IrValue x, int64_t offset, int64_t len);
IrValue ir_concat(IrBuilder *b, const IrValue *xs, int n);
/* Keep dim 0, make the rest `dims`: ir_reshape(b, q, 2, (int64_t[]){H, d}). */
IrValue ir_reshape(IrBuilder *b, IrValue x, int n, const int64_t *dims);
IrValue ir_causal_conv1d(IrBuilder *b, IrValue x, IrParam w, IrParam bias, IrState st);
IrValue ir_sdpa(IrBuilder *b, IrValue q, IrValue k, IrValue v, IrState cache, double scale,
                int64_t window);
void ir_kv_store(IrBuilder *b, IrValue k, IrValue v, IrState cache);

/* ==== print.c: text form =================================================== */

/* The whole module in the text form of docs/ir.md; parses back to a module
 * that prints identically. */
void ir_print(StrBuf *sb, const IrModule *m);
void ir_print_func(StrBuf *sb, const IrFunc *fn);
/* A value's printed name within its function ("%3", "%tokens"), for
 * messages; the number is the value's position among unnamed values. */
const char *ir_value_label(Arena *a, const IrFunc *fn, int value);
void ir_print_attr_value(StrBuf *sb, const IrAttr *a);

/* ==== parse.c: reading the text form ======================================= */

enum {
    IR_MAX_NAME = 4096,     /* bytes in a name, identifier or string */
    IR_MAX_LIST = 4096,     /* elements in an attribute list */
    IR_MAX_OPERANDS = 64,   /* operands of one instruction */
    IR_MAX_VALUES = 1 << 22 /* values in one function */
};

/* Parse and verify a module.  Reports every error it can find through
 * `diag` (file:line:col) and returns NULL if there was any.  All memory is
 * taken from `arena`; names are interned in `in`. */
IrModule *ir_parse(const SrcFile *src, Arena *arena, Interner *in, Diag *diag);

/* ==== verify.c ============================================================= */

/* Check every invariant (docs/ir.md "Verifier"): operand kinds and counts,
 * attributes, SSA order, types and shapes against each op's shape rule,
 * state kinds and writers, function signatures.  Reports every error. */
bool ir_verify(const IrModule *m, Diag *diag);

/* ==== rewrite helpers (module.c), for passes =============================== */

/* A pass rebuilds a function's instruction list in order: copy what stays,
 * emit replacements, and map old values to new ones. */
typedef struct IrRewrite {
    IrFunc *fn;
    IrInst *old;  /* the previous instructions */
    int n_old;
    int *remap;   /* old value id -> current value id */
    int n_remap;
} IrRewrite;

void ir_rewrite_begin(IrRewrite *rw, IrFunc *fn);
/* Current id for an old value id. */
IrValue ir_rewrite_value(const IrRewrite *rw, int old_id);
/* Uses of old value `old_id` become uses of `v` from now on. */
void ir_rewrite_replace(IrRewrite *rw, int old_id, IrValue v);
/* Append a copy of an old instruction with its operands remapped; the
 * result keeps its value id. */
void ir_rewrite_copy(IrRewrite *rw, const IrInst *old);
/* Operand of an old instruction, remapped. */
IrOperand ir_rewrite_operand(const IrRewrite *rw, IrOperand o);
void ir_rewrite_end(IrRewrite *rw);

#endif
