/* codegen.h — the internal header of codegen/: hyc's Kernel IR (KIR), its
 * schedules, the lowering of Graph IR primitives to kernels, the memory plan
 * of a compiled module, and the C emitter.  docs/kernel-ir.md describes the
 * text form and the semantics.
 *
 * A kernel is a small loop program over named buffers:
 *
 *   kernel @matmul_3 op "matmul" loc("jamba.hyb":9:5) {
 *     in    %x : f32[T, 64]    "x [T, d_in]"
 *     param %w : f32[32, 64]   "w [d_out, d_in]"
 *     out   %y : f32[T, 32]    "y [T, d_out]"
 *     for o = 0, 32 @L0 {
 *       for t = 0, T @L1 {
 *         var acc : f32 = 0.0
 *         for k = 0, 64 @L2 {
 *           acc = fma(%x[t, k], %w[o, k], acc)
 *         }
 *         store %y[t, o] = acc
 *       }
 *     }
 *     schedule {
 *       L0 parallel
 *       L2 vec 16 unroll 2
 *     }
 *   }
 *
 * The body says *what* is computed, in a plain sequential order; the
 * schedule, kept apart and keyed by loop id, says *how* the emitter lays the
 * loops out (threads, vector lanes, unrolling, tiles).  Replacing a schedule
 * never changes the result beyond float reassociation, which is what lets an
 * autotuner enumerate them freely.
 *
 * Memory: every kernel, program and string lives in the Arena given to the
 * function that built it; nothing is freed piecemeal.
 */
#ifndef HYC_CODEGEN_H
#define HYC_CODEGEN_H

#include "../ir/ir.h"

/* ==== kir.c: types, ops, kernels, the builder ============================== */

/* Scalar and element types: X(ID, name, C type, bytes). */
#define KIR_TYPES(X)              \
    X(F32, "f32", "float", 4)     \
    X(F64, "f64", "double", 8)    \
    X(I32, "i32", "int32_t", 4)   \
    X(I64, "i64", "int64_t", 8)

typedef enum KirType {
#define X(id, name, ctype, size) KIR_##id,
    KIR_TYPES(X)
#undef X
    KIR_TYPE_COUNT
} KirType;

const char *kir_type_name(KirType t);
const char *kir_type_ctype(KirType t);
int kir_type_size(KirType t);
bool kir_type_is_float(KirType t);
bool kir_type_lookup(const char *name, KirType *out);

/* How an op is typed (kir_verify) and emitted (emit_c):
 *   ARITH  operands and result of one type, float or integer
 *   INT    integer operands and result of one type
 *   CMP    two operands of one type -> i32 0 or 1
 *   SELECT select(cond: integer, a, b) -> the type of a and b; both arms are
 *          evaluated, the value of the other is discarded
 *   MATH   one float operand -> the same type
 *   CAST   any operand -> the op's type */
typedef enum KirOpClass {
    KIR_OC_ARITH,
    KIR_OC_INT,
    KIR_OC_CMP,
    KIR_OC_SELECT,
    KIR_OC_MATH,
    KIR_OC_CAST,
} KirOpClass;

/* The expression ops, declared once: X(ID, name, arity, class).  The set is
 * small on purpose: every backend must implement each one.
 *   fma(a, b, c) = a*b + c, fused or not (the emitter decides);
 *   div, rem on integers truncate (operands are never negative in lowered
 *   code); rsqrt(x) = 1/sqrt(x); sigmoid, softplus (PyTorch's threshold 20)
 *   and silu as in interp/kernels.c. */
#define KIR_OPS(X)                       \
    X(ADD, "add", 2, KIR_OC_ARITH)       \
    X(SUB, "sub", 2, KIR_OC_ARITH)       \
    X(MUL, "mul", 2, KIR_OC_ARITH)       \
    X(DIV, "div", 2, KIR_OC_ARITH)       \
    X(MIN, "min", 2, KIR_OC_ARITH)       \
    X(MAX, "max", 2, KIR_OC_ARITH)       \
    X(FMA, "fma", 3, KIR_OC_ARITH)       \
    X(NEG, "neg", 1, KIR_OC_ARITH)       \
    X(REM, "rem", 2, KIR_OC_INT)         \
    X(AND, "and", 2, KIR_OC_INT)         \
    X(OR, "or", 2, KIR_OC_INT)           \
    X(LT, "lt", 2, KIR_OC_CMP)           \
    X(LE, "le", 2, KIR_OC_CMP)           \
    X(GT, "gt", 2, KIR_OC_CMP)           \
    X(GE, "ge", 2, KIR_OC_CMP)           \
    X(EQ, "eq", 2, KIR_OC_CMP)           \
    X(NE, "ne", 2, KIR_OC_CMP)           \
    X(SELECT, "select", 3, KIR_OC_SELECT) \
    X(EXP, "exp", 1, KIR_OC_MATH)        \
    X(EXPM1, "expm1", 1, KIR_OC_MATH)    \
    X(LOG, "log", 1, KIR_OC_MATH)        \
    X(LOG1P, "log1p", 1, KIR_OC_MATH)    \
    X(SQRT, "sqrt", 1, KIR_OC_MATH)      \
    X(RSQRT, "rsqrt", 1, KIR_OC_MATH)    \
    X(TANH, "tanh", 1, KIR_OC_MATH)      \
    X(ERF, "erf", 1, KIR_OC_MATH)        \
    X(SIGMOID, "sigmoid", 1, KIR_OC_MATH) \
    X(SOFTPLUS, "softplus", 1, KIR_OC_MATH) \
    X(SILU, "silu", 1, KIR_OC_MATH)      \
    X(COS, "cos", 1, KIR_OC_MATH)        \
    X(SIN, "sin", 1, KIR_OC_MATH)        \
    X(TO_F32, "f32", 1, KIR_OC_CAST)     \
    X(TO_F64, "f64", 1, KIR_OC_CAST)     \
    X(TO_I32, "i32", 1, KIR_OC_CAST)     \
    X(TO_I64, "i64", 1, KIR_OC_CAST)

typedef enum KirOp {
#define X(id, name, arity, cls) KIR_OP_##id,
    KIR_OPS(X)
#undef X
    KIR_OP_COUNT
} KirOp;

typedef struct KirOpInfo {
    const char *name;
    int arity;
    KirOpClass cls;
} KirOpInfo;

const KirOpInfo *kir_op_info(KirOp op);
KirOp kir_op_lookup(const char *name); /* KIR_OP_COUNT when unknown */
KirType kir_cast_type(KirOp op);       /* the target of a CAST op */

typedef enum KirExprKind {
    KIR_E_CONST,
    KIR_E_VAR,  /* a loop variable, a local or a scalar parameter */
    KIR_E_LOAD, /* buf[idx...]: one integer index per dim */
    KIR_E_OP,
} KirExprKind;

typedef struct KirExpr KirExpr;
struct KirExpr {
    KirExprKind kind;
    KirType type;
    KirOp op;       /* KIR_E_OP */
    int id;         /* VAR: var id; LOAD: buffer id */
    int n_args;     /* OP: operands; LOAD: indices */
    KirExpr **args;
    int64_t i;      /* CONST of an integer type */
    double f;       /* CONST of a float type (an f32 constant is an exact float) */
};

typedef struct KirStmt KirStmt;
typedef struct KirBlock {
    KirStmt **stmts;
    int n, cap;
} KirBlock;

typedef enum KirStmtKind {
    KIR_S_FOR,    /* for var = lo, hi [step s] @Lid { body }: var runs over [lo, hi) */
    KIR_S_VAR,    /* var name : type = value: a local, in scope to the end of its block */
    KIR_S_ASSIGN, /* name = value */
    KIR_S_STORE,  /* store %buf[idx...] = value */
    KIR_S_IF,     /* if cond { body } [else { els }] */
} KirStmtKind;

struct KirStmt {
    KirStmtKind kind;
    int var;          /* FOR: the loop variable; VAR, ASSIGN: the local */
    int buf;          /* STORE */
    int loop;         /* FOR: loop id, the schedule's key */
    int64_t step;     /* FOR: >= 1 */
    KirExpr *lo, *hi; /* FOR: integer bounds, affine in T, pos and outer vars
                       * (min/max allowed) */
    KirExpr *value;   /* VAR init, ASSIGN and STORE value, IF condition */
    KirExpr **idx;    /* STORE */
    int n_idx;
    KirBlock body;    /* FOR, IF */
    KirBlock els;     /* IF */
    SrcLoc at;        /* position in parsed text, for messages; else none */
};

/* Buffer roles: X(ID, name, what it is). */
#define KIR_ROLES(X)                                                           \
    X(IN, "in", "an activation the kernel reads")                              \
    X(OUT, "out", "an activation the kernel writes")                           \
    X(PARAM, "param", "a weight (read only)")                                  \
    X(STATE, "state", "persistent per-sequence state (read and written)")      \
    X(TEMP, "temp", "scratch private to one call of the kernel")               \
    X(CONST, "const", "a table of constants, stored in the kernel")

typedef enum KirRole {
#define X(id, name, desc) KIR_ROLE_##id,
    KIR_ROLES(X)
#undef X
    KIR_ROLE_COUNT
} KirRole;

const char *kir_role_name(KirRole r);
bool kir_role_lookup(const char *name, KirRole *out);
bool kir_role_writable(KirRole r); /* out, state, temp */

/* A buffer: a dense row-major array.  dims[0] may be IR_DIM_T (the call's
 * token count); every other dim is a positive constant, so every stride is
 * a constant. */
typedef struct KirBuf {
    const char *name;
    KirRole role;
    KirType type;
    int rank;
    int64_t dims[IR_MAX_RANK];
    const char *comment; /* the shape in words: "q [T, heads, head_dim]" */
    const double *data;  /* CONST: numel values */
    int64_t n_data;
} KirBuf;

typedef enum KirVarKind {
    KIR_V_SCALAR, /* a scalar parameter of every kernel: T or pos */
    KIR_V_LOOP,
    KIR_V_LOCAL,
} KirVarKind;

typedef struct KirVar {
    const char *name;
    KirType type;
    KirVarKind kind;
} KirVar;

/* Every kernel has the scalar parameters T (tokens of the call) and pos
 * (tokens consumed before it), as vars 0 and 1, both i64. */
enum { KIR_VAR_T = 0, KIR_VAR_POS = 1 };

/* The schedule of one loop.  Defaults (kir_loop_sched_none): sequential,
 * vec 1, unroll 1, tile 0. */
typedef struct KirLoopSched {
    bool parallel; /* split the range over the threads: (ith, nth) blocks */
    int vec;       /* vector lanes (1: none); innermost loops only */
    int unroll;    /* body copies per iteration (1: none); with vec, the
                      number of independent vector accumulators */
    int tile;      /* split into blocks of this many iterations (0: none) */
    int jam;       /* unroll-and-jam (1: none): run this many iterations of
                      a loop of a jam nest (kir_jam_nest) together, their
                      inner products fused into one register-blocked pass */
} KirLoopSched;

/* A kernel's schedule: per loop, and `chunk`, which picks the form of a
 * Mamba-2 scan's body (0: the recurrence, Q: the chunked SSD form with
 * chunks of Q tokens; 0 for every other kernel).  A kernel's body is the
 * form of its own chunk (KirKernel.chunk); a schedule of another chunk
 * applies to the kernel rebuilt in that form (kir_kernel_rechunk), which
 * kir_set_schedule does. */
typedef struct KirSchedule {
    int n_loops;
    KirLoopSched *loops; /* [n_loops], by loop id */
    int chunk;
} KirSchedule;

/* Chunk lengths of the chunked SSD form: at most this many tokens (the
 * temps are sized for it), and the prefill default (-1: the recurrence;
 * the chunked form measured no faster on Zen 4 with today's emitters:
 * docs/kernel-ir.md §6). */
enum { CG_SSD_CHUNK_MAX = 64, CG_SSD_CHUNK_DEFAULT = -1 };

struct CgRelower;

typedef struct KirKernel {
    const char *name;   /* unique within a program: "matmul_3" */
    const char *op;     /* the Graph IR op it computes, for signatures */
    SrcLoc loc;         /* origin: the instruction's DSL location */
    KirBuf *bufs;
    int n_bufs, cap_bufs;
    KirVar *vars;       /* [0] = T, [1] = pos */
    int n_vars, cap_vars;
    KirBlock body;      /* top-level statements are loops ("phases") */
    int n_loops;        /* loop ids are 0 .. n_loops-1 */
    KirSchedule sched;
    SrcLoc ir_loc;      /* position in parsed text, for messages */
    int chunk;          /* the form of the body: 0, or the SSD chunk length */
    const struct CgRelower *relower; /* how to rebuild the body in another form
                                      * (kir_kernel_rechunk); NULL: no other form */
} KirKernel;

/* A new empty kernel (T and pos declared, no loops). */
KirKernel *kir_kernel_new(Arena *a, const char *name, const char *op, SrcLoc loc);
int kir_add_buf(KirKernel *k, Arena *a, const char *name, KirRole role, KirType type, int rank,
                const int64_t *dims, const char *comment);
int kir_add_var(KirKernel *k, Arena *a, const char *name, KirType type, KirVarKind kind);
int kir_find_buf(const KirKernel *k, const char *name); /* -1 when absent */
int64_t kir_buf_numel(const KirBuf *b, int64_t T);      /* with T substituted */
/* Row-major stride of dim d (a constant: dims after dim 0 are constants). */
int64_t kir_buf_stride(const KirBuf *b, int d);
void kir_block_push(Arena *a, KirBlock *blk, KirStmt *s);

KirExpr *kir_const_f(Arena *a, KirType t, double v); /* t float; f32 values are rounded */
KirExpr *kir_const_i(Arena *a, KirType t, int64_t v);
KirExpr *kir_var_ref(Arena *a, const KirKernel *k, int var);
KirExpr *kir_load(Arena *a, const KirKernel *k, int buf, int n, KirExpr *const *idx);
/* An op node; its type follows the op's class from the operands (ill-typed
 * operands are the verifier's to report: the type is then a guess). */
KirExpr *kir_op(Arena *a, KirOp op, int n, KirExpr *const *args);

/* Structural helpers. */
bool kir_expr_uses_var(const KirExpr *e, int var);
bool kir_expr_is_const_i(const KirExpr *e, int64_t *v);
/* The coefficient of `var` in integer expression e when e is affine in it
 * (+, -, * by a constant, neg, casts between integers); false when e is not
 * affine in var (var under min, max, div, rem, select, a load, ...). */
bool kir_affine_coeff(const KirExpr *e, int var, int64_t *coeff);
/* Calls fn on every statement, in order, depth first. */
void kir_walk(const KirBlock *b, void (*fn)(const KirStmt *s, int depth, void *ctx), void *ctx);
/* The FOR statement of a loop id, or NULL. */
const KirStmt *kir_find_loop(const KirKernel *k, int loop);

/* The builder: appends statements to the innermost open block.  Lowering
 * code reads like the loop nest it makes:
 *
 *   int t = kb_for(b, "t", kb_i(b, 0), kb_dim(b, x, 0));
 *   int acc = kb_let(b, "acc", KIR_F32, kb_f(b, 0.0));
 *   ...
 *   kb_end(b);
 */
enum { KB_MAX_DEPTH = 16 };

typedef struct KirBuilder {
    Arena *a;
    KirKernel *k;
    KirBlock *open[KB_MAX_DEPTH];
    KirStmt *open_stmt[KB_MAX_DEPTH]; /* the FOR / IF that owns each open block */
    int depth;                        /* open[0] is the kernel body */
} KirBuilder;

void kb_init(KirBuilder *b, Arena *a, KirKernel *k);
int kb_for(KirBuilder *b, const char *var, KirExpr *lo, KirExpr *hi); /* returns the var */
void kb_if(KirBuilder *b, KirExpr *cond);
void kb_else(KirBuilder *b);
void kb_end(KirBuilder *b); /* closes the innermost for / if */
int kb_let(KirBuilder *b, const char *name, KirType t, KirExpr *init);
void kb_set(KirBuilder *b, int var, KirExpr *value);
void kb_store(KirBuilder *b, int buf, int n, KirExpr *const *idx, KirExpr *value);
KirExpr *kb_f(KirBuilder *b, double v);   /* f32 constant */
KirExpr *kb_d(KirBuilder *b, double v);   /* f64 constant */
KirExpr *kb_i(KirBuilder *b, int64_t v);  /* i64 constant */
KirExpr *kb_v(KirBuilder *b, int var);
KirExpr *kb_dim(KirBuilder *b, int buf, int d); /* dims[d] as an i64 expression (T or a constant) */
KirExpr *kb_ld(KirBuilder *b, int buf, int n, KirExpr *const *idx);
KirExpr *kb_op1(KirBuilder *b, KirOp op, KirExpr *x);
KirExpr *kb_op2(KirBuilder *b, KirOp op, KirExpr *x, KirExpr *y);
KirExpr *kb_op3(KirBuilder *b, KirOp op, KirExpr *x, KirExpr *y, KirExpr *z);

#define KB_IDX(...) ((KirExpr *const[]){__VA_ARGS__})
#define KB_NIDX(...) ((int)(sizeof(KB_IDX(__VA_ARGS__)) / sizeof(KirExpr *)))
/* KB_LOAD(b, x, t, k) -> %x[t, k];  KB_STORE(b, y, v, t, o) -> store %y[t, o] = v */
#define KB_LOAD(b, buf, ...) kb_ld((b), (buf), KB_NIDX(__VA_ARGS__), KB_IDX(__VA_ARGS__))
#define KB_STORE(b, buf, val, ...) kb_store((b), (buf), KB_NIDX(__VA_ARGS__), KB_IDX(__VA_ARGS__), (val))

/* ==== kir_print.c: the text form =========================================== */

enum {
    /* Leave out the kernel's name, origin and buffer comments: the text that
     * identifies what a kernel computes (dedup keys, signatures). */
    KIR_PRINT_CANONICAL = 1u << 0,
    KIR_PRINT_NO_SCHEDULE = 1u << 1,
};

void kir_print_kernel(StrBuf *sb, const KirKernel *k, unsigned flags);
void kir_print_expr(StrBuf *sb, const KirKernel *k, const KirExpr *e);
void kir_print_schedule(StrBuf *sb, const KirKernel *k);
/* `in %x : f32[T, 16]` style type text: "f32[T, 16]". */
void kir_print_buf_type(StrBuf *sb, const KirBuf *b);

/* ==== kir_parse.c ========================================================== */

/* Limits of the text form (errors, not crashes). */
enum {
    KIR_MAX_NAME = 256,   /* bytes in a name */
    KIR_MAX_DEPTH = 64,   /* nesting of blocks and of expressions */
    KIR_MAX_BUFS = 256,
    KIR_MAX_DATA = 1 << 20 /* values in one const buffer */
};

/* Parse a file of kernels (docs/kernel-ir.md) and verify each.  Reports
 * every error through `diag` and returns false if there was any; on success
 * *out holds *n_out kernels in file order.  All memory from `arena`. */
bool kir_parse(const SrcFile *src, Arena *arena, Diag *diag, KirKernel ***out, int *n_out);

/* ==== kir_verify.c ========================================================= */

/* Check a kernel: names, scopes, types, index counts, roles, loop ids, and
 * its schedule (parallel only on top-level loops without a cross-iteration
 * dependence that can be seen cheaply: no reduction into an outer local, no
 * store that every iteration makes to the same place; vec only on innermost
 * unit-step loops whose outer-local updates are recognised reductions).
 * Reports every problem through `diag`. */
bool kir_verify(const KirKernel *k, Diag *diag);
/* The same for a schedule meant to replace k's (the tuner's entry point). */
bool kir_verify_schedule(const KirKernel *k, const KirSchedule *s, Diag *diag);

/* Reductions a vectorized loop may carry: `acc = add(acc, e)` (either
 * order), `acc = fma(a, b, acc)`, `acc = max(acc, e)`, `acc = min(acc, e)`,
 * acc a float local declared outside the loop and read nowhere else in it. */
typedef enum KirRedKind { KIR_RED_NONE, KIR_RED_ADD, KIR_RED_FMA, KIR_RED_MAX, KIR_RED_MIN } KirRedKind;
/* The reduction an assignment performs on its own local, or NONE. */
KirRedKind kir_reduction_of(const KirStmt *assign);

/* ==== schedule.c: targets, loop facts, default schedules, signatures ======= */

/* What the emitted code may use. */
typedef enum CgIsa {
    CG_ISA_GENERIC, /* portable C: plain loops the compiler vectorizes */
    CG_ISA_AVX2,    /* x86-64-v3: AVX2 + FMA intrinsics */
    CG_ISA_AVX512,  /* x86-64-v4: AVX-512F intrinsics */
} CgIsa;

typedef struct CgTarget {
    CgIsa isa;
    const char *name;  /* "generic", "x86-64-v3", "x86-64-v4" (native resolved) */
    const char *march; /* the -march the generated file must be compiled with, or NULL */
    int lanes;         /* f32 lanes of the widest vector: 8, 8, 16 */
} CgTarget;

/* `native|x86-64-v3|x86-64-v4|generic`; native asks the CPU hyc runs on.
 * false for another word. */
bool cg_target_lookup(const char *name, CgTarget *out);
CgTarget cg_target_generic(void);

/* What a schedule can be decided from, per loop. */
typedef struct KirLoopInfo {
    const KirStmt *stmt;
    int depth;            /* 0: top level */
    bool innermost;       /* no loop inside */
    int64_t trip;         /* iterations when lo, hi are constants, else -1 */
    int64_t max_trip;     /* an upper bound on the iterations (T >= 1, pos and
                           * loop variables >= 0), else -1 */
    int64_t work;         /* estimated iterations of the whole nest below,
                           * this loop included, T taken as 64 */
    bool unit_stride;     /* some load or store indexes its last dim with var + c */
    bool assigns_outer;   /* assigns a local declared outside the loop */
    bool reductions_ok;   /* every such assignment is a recognised reduction */
    bool dot;             /* the body is one `acc = fma(a[..i], b[..i], acc)` on
                           * unit-stride f32 loads: an inner product */
    bool stores_indep;    /* every store inside indexes with var */
} KirLoopInfo;

/* Facts of every loop, [k->n_loops], by loop id, in the arena. */
KirLoopInfo *kir_loop_infos(Arena *a, const KirKernel *k);

typedef struct KirSchedHints {
    /* A top-level loop becomes parallel when its nest does at least this
     * many iterations (T taken as 64): dispatch costs a few microseconds. */
    int64_t par_min_work;
} KirSchedHints;

KirLoopSched kir_loop_sched_none(void);
KirSchedule kir_schedule_none(Arena *a, int n_loops);
KirSchedule kir_schedule_copy(Arena *a, const KirSchedule *s);
/* The heuristic default, replacing k->sched:
 *   - the first top-level loop of each phase runs in parallel when nothing
 *     it does carries across iterations and the nest has enough work;
 *   - innermost unit-stride loops are vectorized to the target's lanes
 *     when they hold no carried dependence other than a reduction;
 *     inner products get 2 accumulators when long enough. */
void kir_schedule_default(KirKernel *k, Arena *a, const CgTarget *t, const KirSchedHints *h);
/* Replace k's schedule (copied into the arena) after kir_verify_schedule;
 * false, with diagnostics, leaves k unchanged. */
bool kir_set_schedule(KirKernel *k, Arena *a, const KirSchedule *s, Diag *diag);
/* Tasks per thread of k's parallel phases: a prefill kernel (T tokens) splits
 * its parallel loop into KIR_TASKS_PER_THREAD tasks per pool thread, which
 * the runtime's free threads claim (runtime/pool.c), so a core that
 * background work slows down takes fewer; a decode kernel (every buffer
 * specialized to T = 1: microseconds of work) one task per thread, a claim
 * costing about as much as a small kernel's share. */
enum { KIR_TASKS_PER_THREAD = 4 };
int kir_tasks_per_thread(const KirKernel *k);
/* Valid variants of k's schedule for a tuner to measure: the default, then
 * parallel on / off, vec widths, unroll factors, register blocks (jam) of
 * matrix-product nests, tiles of the parallel loop.
 * Writes at most max into out; returns how many. */
int kir_schedule_variants(Arena *a, const KirKernel *k, const CgTarget *t, KirSchedule *out, int max);

/* A jam nest: the loop nest of a matrix product, which unroll-and-jam
 * turns into register-blocked inner products (a GEMM micro-kernel):
 *
 *   for o = ..  @La               outer: body exactly the loop inner
 *     for t = ..  @Lb             inner: bounds independent of o
 *       var acc : f32 = INIT      any expression
 *       for k = lo, hi @Lc        dot: acc = fma(a[..k], b[..k], acc),
 *         acc = fma(%x[t, k], %w[o, k], acc)     bounds independent of o, t
 *       REST                      statements without loops (store ... acc)
 *
 * where one load's index moves with o only and the other's with t only,
 * by constant element strides, and the loads' indices use no local: only
 * loop variables (o, t, k, and enclosing loops' — constant through the
 * nest), T and pos.  `La jam A` and `Lb jam B` then compute A x B inner
 * products per pass over k: A + B vector loads feed A*B FMAs. */
typedef struct KirJamNest {
    const KirStmt *outer, *inner, *dot;
    int acc;                            /* the local the inner product sums into */
    int init;                           /* index of acc's VAR statement in inner's body */
    int dot_at;                         /* index of the dot loop in inner's body */
    int arg_outer, arg_inner;           /* which fma operand (0 or 1) moves with outer / inner */
    int64_t stride_outer, stride_inner; /* its element stride per step of outer / inner */
} KirJamNest;

/* Is `outer` (a FOR statement of k) the outer loop of a jam nest? */
bool kir_jam_nest(const KirKernel *k, const KirStmt *outer, KirJamNest *out);
/* The jam nest whose outer or inner loop is `loop`, if any. */
bool kir_jam_nest_of(const KirKernel *k, const KirStmt *loop, KirJamNest *out);

/* "matmul f32[T,64] f32[32,64] -> f32[T,32] #3f1c...": the op, its
 * buffers (role, type, shape), a hash of the canonical body (attributes such
 * as eps live there) and, with_schedule, the schedule ("| L0 par, L2 vec16
 * unroll2").  Kernels that compute the same thing share it: the key for
 * dedup and for tuning records. */
const char *kir_signature(Arena *a, const KirKernel *k, bool with_schedule);
uint64_t kir_hash64(const char *s, size_t n); /* FNV-1a */

/* ==== lower_kernels.c: Graph IR primitive -> kernel ======================== */

/* Where each buffer of a lowered kernel comes from in its instruction: an
 * operand index (>= 0: the instruction's operands[i]), or one of these. */
enum { CG_SRC_RESULT = -1, CG_SRC_TEMP = -2, CG_SRC_CONST = -3 };

struct CgOptions;
/* The kernel of instruction `inst` of fn, a primitive op, or NULL for
 * `reshape`, which the memory plan turns into an alias of its operand.
 * Buffers come in the instruction's operand order (absent optional operands
 * get none; variadic ones one each), then the result, then temps and const
 * tables; *src (in the arena, one per buffer) says which is which.  Params
 * are f32 buffers whatever their Graph IR dtype: the weights are packed as
 * f32.  The kernel has no schedule yet (all none).  An op that is not a
 * lowered primitive is an internal error.  opts (may be NULL) gives the
 * attention tile sizes (attn_block_q / attn_block_k). */
KirKernel *cg_lower_inst(Arena *a, const IrModule *m, const IrFunc *fn, int inst, const struct CgOptions *opts, int **src);
/* k with its body in the form of `chunk` (a Mamba-2 prefill scan: 0 the
 * recurrence, 1..CG_SSD_CHUNK_MAX the chunked form), re-lowered from its
 * instruction: same name, buffers (temps included) and origin, schedule
 * none but chunk.  k itself when it already is; NULL when k has no such
 * form (another op, a decode kernel, a parsed kernel). */
KirKernel *kir_kernel_rechunk(Arena *a, const KirKernel *k, int chunk);
/* The kernel schedule s applies to: k, or k rechunked to s->chunk (NULL
 * when there is no such form). */
KirKernel *kir_kernel_for_schedule(Arena *a, const KirKernel *k, const KirSchedule *s);

/* ==== plan.c: a module as kernel calls, with its memory plan =============== */

typedef enum CgPlace {
    CG_AT_NONE,    /* const buffers: inside the kernel */
    CG_AT_SCRATCH, /* the activation arena (ctx->scratch) */
    CG_AT_WEIGHTS, /* the packed weights (ctx->weights) */
    CG_AT_STATE,   /* the state block (ctx->state) */
    CG_AT_TOKENS,  /* the forward function's token argument */
} CgPlace;

/* Where a kernel buffer points in one call. */
typedef struct CgBind {
    CgPlace place;
    uint64_t offset; /* bytes from the start of its place */
    int ir_id;       /* value, param or state id (-1: temp, const, tokens) */
} CgBind;

typedef struct CgCall {
    int kernel;     /* index into CgProgram.kernels */
    int inst;       /* the instruction of the function */
    CgBind *binds;  /* one per buffer of the kernel */
} CgCall;

/* One live range of the scratch arena. */
typedef struct CgSlot {
    int value;          /* value id, or -1 for a kernel temp */
    int first, last;    /* instructions: defined, last read (inclusive) */
    uint64_t bytes;     /* rounded up to 64 */
    uint64_t offset;
} CgSlot;

typedef struct CgFunc {
    const IrFunc *fn;
    CgCall *calls;
    int n_calls;
    int64_t plan_T;         /* the T the plan is sized for (1 for decode) */
    uint64_t *value_offset; /* [fn->n_values]: scratch offset of each float value */
    CgSlot *slots;
    int n_slots;
    uint64_t scratch_bytes; /* peak of the plan */
    uint64_t naive_bytes;   /* what one slot per value would take */
} CgFunc;

typedef struct CgOptions {
    CgTarget target;
    int64_t max_batch;    /* most tokens per prefill call; 0: min(max_seq, 256) */
    KirSchedHints hints;  /* par_min_work 0: the default (32768) */
    const char *flags;    /* the command-line flags, for the file header */
    bool no_dedup;        /* one kernel per call (for tests of dedup) */
    bool emit_main;       /* end the C file with main() calling hycrt_main */
    int attn_block_q;     /* sdpa tiles: query rows per block, keys per tile; 0: sized */
    int attn_block_k;     /*   for the cache (lower_kernels.c, sdpa_tiles) */
    int ssd_chunk;        /* Mamba-2 prefill scans: 0 the default (CG_SSD_CHUNK_DEFAULT),
                           * negative the recurrence, Q the chunked form (Q <= CG_SSD_CHUNK_MAX) */
} CgOptions;

/* HYC_SSD_CHUNK=Q (1..CG_SSD_CHUNK_MAX; 0: the recurrence) forces the form
 * of the Mamba-2 prefill scans where CgOptions.ssd_chunk is 0, for the
 * commands that have no flag for it (the tests force the chunked form
 * through hyc run / build / bench with it, as HYC_DISABLE_PASS does passes).
 * *chunk: its value as CgOptions.ssd_chunk (0 when unset); false when it is
 * set to something else (cg_lower_module then fails; the driver checks it
 * first and exits 1). */
bool cg_ssd_chunk_env(int *chunk);

/* What kir_kernel_rechunk re-lowers a kernel from. */
typedef struct CgRelower {
    const IrModule *m;
    const IrFunc *fn;
    int inst;
    CgOptions opts;
} CgRelower;

typedef struct CgProgram {
    const IrModule *m;
    Arena *arena;        /* what the program lives in (a kernel rebuilt in another form goes there) */
    CgOptions opts;
    KirKernel **kernels; /* distinct kernels, in order of first use */
    int n_kernels, cap_kernels;
    int n_calls_total;
    CgFunc *funcs;       /* prefill, decode (the module's order) */
    int n_funcs;
    uint64_t *param_offset; /* [n_params]: bytes into the weights blob, 64-aligned, f32 */
    uint64_t weights_bytes;
    uint64_t *state_offset; /* [n_states]: bytes into the state block, 64-aligned */
    uint64_t state_bytes;
    uint64_t scratch_bytes; /* max over the functions */
    int64_t max_batch;
} CgProgram;

/* Lower every function of a verified, lowered module (no composites) to
 * kernel calls, dedup the kernels, give each its default schedule for the
 * target, and plan memory.  Kernels are verified; a module that is not
 * lowered is reported through diag (NULL). */
CgProgram *cg_lower_module(Arena *a, const IrModule *m, const CgOptions *opts, Diag *diag);
/* Replace the schedule of distinct kernel i (after verification). */
bool cg_program_set_schedule(CgProgram *p, int kernel, const KirSchedule *s, Diag *diag);
/* The `hyc ir --level=kernel` text: every distinct kernel (parses back with
 * kir_parse), then each function's calls and memory plan as comments. */
void cg_print_program(StrBuf *sb, const CgProgram *p);
/* Hash of the weight layout (names, shapes, offsets): the model hash the
 * weights file must carry (hycrt_model_desc.hash). */
uint64_t cg_weights_hash(const CgProgram *p);
/* A C identifier from a model name ("jamba-tiny" -> "jamba_tiny"). */
const char *cg_c_ident(Arena *a, const char *name);

/* ==== emit_c.c: the C backend ============================================== */

/* One translation unit against runtime/hycrt.h: a header comment, the
 * kernels (static, specialized, one per distinct kernel), the forward pass
 * of each function with its memory plan, `const hycrt_model_desc
 * <model>_desc` (tensors: every param as f32 at p->param_offset, the
 * layout hash cg_weights_hash) and, with opts.emit_main, a main() that
 * runs hycrt_main.  Byte-identical for identical input and options. */
void cg_emit_c(StrBuf *sb, const CgProgram *p);

/* The includes, helpers and kernels of p only: no forward pass, no
 * descriptor (p->m may be NULL).  The tuner's measurement harness. */
void cg_emit_c_kernels(StrBuf *sb, const CgProgram *p);

/* ==== tunedb.c: the tuning database (docs/tuning.md) ======================= */

/* Where a record was measured.  A record of another machine or hyc version
 * is stale: reported, never applied. */
typedef struct TuneMachine {
    const char *cpu;      /* CPU model name */
    const char *features; /* the ISA level the kernels were compiled for */
    const char *version;  /* HYC_VERSION */
} TuneMachine;

typedef enum TuneKind {
    TUNE_DEFAULT, /* the heuristic default schedule's time */
    TUNE_BEST,    /* the fastest verified variant the tuner found */
} TuneKind;

/* One line of the database.  The key is (sig, T, threads, machine); each
 * key has at most one DEFAULT and one BEST record. */
typedef struct TuneRecord {
    const char *sig;      /* kir_signature(k, false) */
    int64_t T;            /* tokens per call measured: the prefill batch, or 1 (decode) */
    int threads;
    TuneMachine mc;
    TuneKind kind;
    const char *sched;    /* one line: "L0 parallel; L2 vec 16 unroll 2", or "none" */
    double median_us;     /* per call */
    double spread_us;     /* half the interquartile range of the samples */
    int reps;             /* samples the median is over */
    const SrcFile *src;   /* where it was read (NULL: measured now) */
    int line;
} TuneRecord;

typedef struct TuneDb {
    TuneRecord *recs;
    int n, cap;
} TuneDb;

/* A record applies when it is fresh and its best beats the default by
 * more than both spreads and this fraction of the default's time. */
#define TUNE_MIN_GAIN 0.03

/* Add r (copied), replacing the record of the same key and kind. */
void tunedb_put(TuneDb *db, Arena *a, const TuneRecord *r);
/* Read records from text (merging them in as tunedb_put).  Every malformed
 * line is an error at its line and field; false if there was any. */
bool tunedb_parse(TuneDb *db, Arena *a, const SrcFile *src, Diag *diag);
/* tunedb_parse of a file; a missing file is an empty database when
 * missing_ok, else an error. */
bool tunedb_load(TuneDb *db, Arena *a, const char *path, bool missing_ok, Diag *diag);
/* The text form: a header comment, then the records sorted by key and
 * kind (the same records give the same bytes). */
void tunedb_write(StrBuf *sb, const TuneDb *db);
bool tunedb_is_stale(const TuneRecord *r, const TuneMachine *mc);
/* The fresh record of (sig, T, threads, kind) on mc, or NULL. */
const TuneRecord *tunedb_find(const TuneDb *db, const char *sig, int64_t T, int threads, const TuneMachine *mc,
                              TuneKind kind);
/* Does best beat def beyond noise (TUNE_MIN_GAIN and the spreads)? */
bool tunedb_beats(const TuneRecord *best, const TuneRecord *def);
/* k's schedule as one line of the database ("none" when empty). */
const char *tunedb_sched_text(Arena *a, const KirKernel *k, const KirSchedule *s);
/* A schedule line parsed for kernel k (through kir_parse, so every field
 * of the Kernel IR schedule syntax is understood) and verified; false with
 * the reason in *why. */
bool tunedb_sched_parse(Arena *a, const KirKernel *k, const char *line, KirSchedule *out, const char **why);

typedef struct TuneApplyStats {
    int applied;      /* (kernel, function) pairs given a tuned schedule */
    int not_better;   /* a fresh BEST that did not beat its DEFAULT */
    int bad;          /* records whose schedule no longer fits the kernel */
    int stale;        /* records of another machine or version (never applied) */
    int split;        /* kernels cloned for decode (prefill and decode differ) */
} TuneApplyStats;

/* Give every kernel of p, per function (T = the function's plan_T), the
 * BEST schedule of its fresh record for `threads` when it beats the
 * DEFAULT record; a kernel called by prefill and decode with different
 * winners is cloned for decode ("<name>_decode").  Deterministic: the same
 * database and program give the same result.  Stale and unusable records
 * are counted (and the first reported through diag as a warning). */
void tunedb_apply(const TuneDb *db, CgProgram *p, Arena *a, const TuneMachine *mc, int threads, Diag *diag,
                  TuneApplyStats *st);

/* ==== emit_llvm.c: the LLVM backend (docs/llvm.md) ========================= */

/* The same kernels, forward pass and descriptor as cg_emit_c, built with the
 * LLVM-C API, verified (LLVMVerifyModule, before and after optimization),
 * optimized with the new pass manager ("default<ON>") and written out.  The
 * object has the C backend's ABI with libhycrt: `<model>_desc` is its one
 * exported symbol (plus main() with CgOptions.emit_main); it needs
 * hycrt_parallel_for, hycrt_pool_threads, libm and memcpy. */
typedef enum CgLlvmOutput {
    CG_LLVM_IR,  /* .ll text: deterministic, same input -> identical bytes */
    CG_LLVM_BC,  /* .bc bitcode */
    CG_LLVM_OBJ, /* .o relocatable object (PIC) */
    CG_LLVM_ASM, /* .s assembly */
} CgLlvmOutput;

typedef struct CgLlvmOptions {
    int opt_level;        /* 0..3: default<O0..O3> and the codegen level */
    const char *target;   /* native|generic|x86-64-v3|x86-64-v4; NULL: the
                           * program's CgOptions.target (native resolved) */
    const char *cpu;      /* explicit -mcpu ("native": the host's); overrides target */
    const char *features; /* explicit -mattr ("+avx2,+fma"); NULL: none, or the
                           * host's for native */
    const char *triple;   /* NULL: LLVMGetDefaultTargetTriple() */
    bool verify_each;     /* verify after every pass (tests) */
} CgLlvmOptions;

/* Writes `path`; false with diagnostics (target, verifier, I/O). */
bool cg_emit_llvm(const CgProgram *p, const CgLlvmOptions *o, CgLlvmOutput kind, const char *path, Diag *diag);
/* "llvm"/"ll", "bc", "obj", "asm" -> the kind; false for another word. */
bool cg_llvm_output_lookup(const char *name, CgLlvmOutput *out);
/* The -mcpu / -mattr a target name means ("native" stays "native"); false
 * for an unknown target. */
bool cg_llvm_target_cpu(const CgProgram *p, const CgLlvmOptions *o, const char **cpu, const char **features);

#endif
