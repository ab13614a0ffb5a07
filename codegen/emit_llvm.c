/* emit_llvm.c — the LLVM backend: the same kernels and forward pass as
 * emit_c.c, built as an LLVM module through the LLVM-C API, verified,
 * optimized with the new pass manager and written as .ll, .bc, .s or .o.
 *
 * The structure mirrors the C emitter exactly (docs/llvm.md):
 *   - per distinct kernel K: an argument struct type %K.args (one ptr per
 *     non-const buffer, i64 T, i64 pos), one `internal void @K_pN(ptr arg,
 *     i32 ith, i32 nth)` per phase, and `internal void @K(ptr args, ptr
 *     pool)` running the phases: hycrt_parallel_for for a parallel one, a
 *     plain call otherwise;
 *   - per function: `internal void @MODEL_prefill(ptr ctx, ptr tokens, i64
 *     T)` (and decode) calling the kernels with pointers from the memory
 *     plan;
 *   - `@MODEL_forward` (a hycrt_forward_fn) and `@MODEL_desc`, a constant
 *     hycrt_model_desc whose LLVM struct type follows runtime/hycrt.h field
 *     by field (the target's data layout gives it C's padding);
 *   - with CgOptions.emit_main, `main` calling hycrt_main.
 * Loops are plain counted loops (an i64 phi, `icmp slt`); the schedule
 * becomes the block of a parallel split (hycrt_split's arithmetic, inline),
 * a tile loop, and loop metadata (llvm.loop.vectorize.width /
 * interleave.count for vec, llvm.loop.unroll.count for unroll) that LLVM's
 * vectorizer and unroller act on.  Kernel vars live in allocas that SROA /
 * mem2reg turn into registers.
 *
 * The output depends only on the program and its options. */
#include "codegen.h"
#include "../runtime/hycrt.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/BitWriter.h>
#include <llvm-c/Core.h>
#include <llvm-c/DebugInfo.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include <math.h>
#include <string.h>

typedef struct G {
    Arena *a;
    const CgProgram *p;
    LLVMContextRef C;
    LLVMModuleRef M;
    LLVMBuilderRef B;
    LLVMTypeRef f32, f64, i1, i8, i32, i64, ptr, vd;
    LLVMTypeRef ctx_ty, tensor_ty, desc_ty;
    unsigned md_loop;
    LLVMAttributeRef nounwind;
    const char *model;
    /* the kernel being built */
    const KirKernel *k;
    LLVMTypeRef args_ty;
    int *field;             /* [n_bufs]: field of the args struct, -1 for const */
    LLVMValueRef *cbuf;     /* [n_bufs]: const tables (globals) */
    LLVMValueRef fn;        /* the function being built */
    LLVMValueRef *slot;     /* [n_vars]: allocas of loop vars and locals */
    bool *reassoc;          /* [n_vars]: an add / fma reduction of the
                             * vectorized loop being built (reassoc_marks) */
    LLVMValueRef *bufp;     /* [n_bufs]: the pointers in this phase */
    LLVMValueRef T, pos, ith, nth;
} G;

static LLVMTypeRef ktype(G *g, KirType t)
{
    switch (t) {
    case KIR_F32: return g->f32;
    case KIR_F64: return g->f64;
    case KIR_I32: return g->i32;
    case KIR_I64: return g->i64;
    default: HYC_UNREACHABLE();
    }
}

static LLVMValueRef ci64(G *g, int64_t v) { return LLVMConstInt(g->i64, (unsigned long long)v, true); }
static LLVMValueRef ci32(G *g, int64_t v) { return LLVMConstInt(g->i32, (unsigned long long)v, true); }

static LLVMValueRef call(G *g, LLVMValueRef fn, LLVMValueRef *args, unsigned n, const char *name)
{
    return LLVMBuildCall2(g->B, LLVMGlobalGetValueType(fn), fn, args, n, name);
}

static LLVMValueRef declare(G *g, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, unsigned n)
{
    LLVMValueRef f = LLVMGetNamedFunction(g->M, name);
    if (f) return f;
    f = LLVMAddFunction(g->M, name, LLVMFunctionType(ret, params, n, false));
    LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, g->nounwind);
    return f;
}

static LLVMValueRef intrin(G *g, const char *name, LLVMTypeRef t, LLVMValueRef *args, unsigned n)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    HYC_ASSERT(id != 0);
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(g->M, id, &t, 1);
    return LLVMBuildCall2(g->B, LLVMIntrinsicGetType(g->C, id, &t, 1), f, args, n, "");
}

static LLVMValueRef libm1(G *g, const char *base, KirType t, LLVMValueRef x)
{
    char name[32];
    snprintf(name, sizeof name, "%s%s", base, t == KIR_F32 ? "f" : "");
    LLVMTypeRef ty = ktype(g, t);
    LLVMValueRef f = declare(g, name, ty, &ty, 1);
    return call(g, f, &x, 1, "");
}

/* ---- loop metadata ------------------------------------------------------------------ */

static LLVMMetadataRef md_str(G *g, const char *s) { return LLVMMDStringInContext2(g->C, s, strlen(s)); }

static LLVMMetadataRef md_prop_i(G *g, const char *name, int64_t v, bool is_bool)
{
    LLVMMetadataRef ops[2] = {md_str(g, name),
                              LLVMValueAsMetadata(LLVMConstInt(is_bool ? g->i1 : g->i32, (unsigned long long)v, false))};
    return LLVMMDNodeInContext2(g->C, ops, 2);
}

/* The self-referential !llvm.loop node of a scheduled loop, or NULL. */
static LLVMMetadataRef loop_md(G *g, const KirLoopSched *ls)
{
    if (!ls || (ls->vec <= 1 && ls->unroll <= 1)) return NULL;
    LLVMMetadataRef ops[5];
    int n = 0;
    LLVMMetadataRef tmp = LLVMTemporaryMDNode(g->C, NULL, 0);
    ops[n++] = tmp;
    if (ls->vec > 1) {
        ops[n++] = md_prop_i(g, "llvm.loop.vectorize.enable", 1, true);
        ops[n++] = md_prop_i(g, "llvm.loop.vectorize.width", ls->vec, false);
        if (ls->unroll > 1) ops[n++] = md_prop_i(g, "llvm.loop.interleave.count", ls->unroll, false);
    } else {
        ops[n++] = md_prop_i(g, "llvm.loop.unroll.count", ls->unroll, false);
    }
    LLVMMetadataRef node = LLVMMDNodeInContext2(g->C, ops, (size_t)n);
    LLVMMetadataReplaceAllUsesWith(tmp, node);
    return node;
}

/* ---- counted loops ------------------------------------------------------------------ */

typedef void (*BodyFn)(G *g, LLVMValueRef iv, void *ctx);

/* for (iv = lo; iv < hi; iv += step) body(iv): an i64 phi in the header,
 * the latch carrying `md` as its !llvm.loop. */
static void build_loop(G *g, LLVMValueRef lo, LLVMValueRef hi, int64_t step, LLVMMetadataRef md, BodyFn body,
                       void *ctx)
{
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(g->B);
    LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(g->C, g->fn, "loop");
    LLVMBasicBlockRef bb = LLVMAppendBasicBlockInContext(g->C, g->fn, "body");
    LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(g->C, g->fn, "done");
    LLVMBuildBr(g->B, head);
    LLVMPositionBuilderAtEnd(g->B, head);
    LLVMValueRef iv = LLVMBuildPhi(g->B, g->i64, "iv");
    LLVMValueRef c = LLVMBuildICmp(g->B, LLVMIntSLT, iv, hi, "");
    LLVMBuildCondBr(g->B, c, bb, exit);
    LLVMPositionBuilderAtEnd(g->B, bb);
    body(g, iv, ctx);
    LLVMValueRef next = LLVMBuildNSWAdd(g->B, iv, ci64(g, step), "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(g->B);
    LLVMValueRef br = LLVMBuildBr(g->B, head);
    if (md) LLVMSetMetadata(br, g->md_loop, LLVMMetadataAsValue(g->C, md));
    LLVMValueRef in_v[2] = {lo, next};
    LLVMBasicBlockRef in_b[2] = {pre, latch};
    LLVMAddIncoming(iv, in_v, in_b, 2);
    LLVMPositionBuilderAtEnd(g->B, exit);
}

/* ---- expressions -------------------------------------------------------------------- */

static LLVMValueRef gen_expr(G *g, const KirExpr *e);

static LLVMValueRef as_i64(G *g, LLVMValueRef v, KirType t)
{
    return t == KIR_I64 ? v : LLVMBuildSExt(g->B, v, g->i64, "");
}

/* &buf[idx...]: the flat row-major index, constant parts folded. */
static LLVMValueRef elem_ptr(G *g, int buf, int n, KirExpr *const *idx)
{
    const KirBuf *b = &g->k->bufs[buf];
    int64_t c = 0;
    LLVMValueRef off = NULL;
    for (int d = 0; d < n; d++) {
        int64_t v, stride = kir_buf_stride(b, d);
        if (kir_expr_is_const_i(idx[d], &v)) {
            c += v * stride;
            continue;
        }
        LLVMValueRef x = as_i64(g, gen_expr(g, idx[d]), idx[d]->type);
        if (stride != 1) x = LLVMBuildNSWMul(g->B, x, ci64(g, stride), "");
        off = off ? LLVMBuildNSWAdd(g->B, off, x, "") : x;
    }
    if (!off) off = ci64(g, c);
    else if (c != 0) off = LLVMBuildNSWAdd(g->B, off, ci64(g, c), "");
    LLVMTypeRef et = b->role == KIR_ROLE_CONST ? LLVMGlobalGetValueType(g->cbuf[buf]) : ktype(g, b->type);
    if (b->role == KIR_ROLE_CONST) {
        LLVMValueRef ix[2] = {ci64(g, 0), off};
        return LLVMBuildInBoundsGEP2(g->B, et, g->cbuf[buf], ix, 2, "");
    }
    return LLVMBuildInBoundsGEP2(g->B, et, g->bufp[buf], &off, 1, "");
}

static LLVMValueRef fconst(G *g, KirType t, double v) { return LLVMConstReal(ktype(g, t), v); }

static LLVMValueRef gen_minmax(G *g, bool is_max, KirType t, LLVMValueRef a, LLVMValueRef b)
{
    /* hyc_max(a, b) = b > a ? b : a (NaN handling as in the C helpers) */
    LLVMValueRef c = kir_type_is_float(t) ? LLVMBuildFCmp(g->B, is_max ? LLVMRealOGT : LLVMRealOLT, b, a, "")
                                          : LLVMBuildICmp(g->B, is_max ? LLVMIntSGT : LLVMIntSLT, b, a, "");
    return LLVMBuildSelect(g->B, c, b, a, "");
}

/* Horner: c[0] r^(n-1) + ... + c[n-1] */
static LLVMValueRef gen_horner(G *g, KirType t, LLVMValueRef r, const double *c, int n)
{
    LLVMValueRef p = fconst(g, t, c[0]);
    for (int i = 1; i < n; i++) {
        LLVMValueRef args[3] = {p, r, fconst(g, t, c[i])};
        p = intrin(g, "llvm.fmuladd", ktype(g, t), args, 3);
    }
    return p;
}

/* f32 exp as straight-line arithmetic, the C emitter's hyc_exp_f32 operation
 * for operation (see there and docs/kernel-ir.md: <= 2 ulp, measured 0.89;
 * |x| clamped to 104 (a NaN passes and the arithmetic carries it), k from
 * the low bits of x log2 e + 1.5 2^23, r = x - k ln 2, e^r = 1 + r +
 * r^2 q(r), 2^k as the normal floats 2^floor(k/2) 2^ceil(k/2)), so that
 * loops using it vectorize without a
 * vector libm and the two backends give the same bits (the multiply-adds
 * are fmuladd, as the C compiler contracts `a * b + c`).  No fast-math
 * flags: the rounding by +1.5 2^23 must not be folded. */
static LLVMValueRef gen_exp_f32(G *g, LLVMValueRef x)
{
    LLVMTypeRef f = ktype(g, KIR_F32), i32 = g->i32;
#define FC(v) fconst(g, KIR_F32, (double)(v))
#define UC(v) LLVMConstInt(i32, (v), 0)
    LLVMValueRef xb = LLVMBuildBitCast(g->B, x, i32, "");
    LLVMValueRef af = LLVMBuildBitCast(g->B, LLVMBuildAnd(g->B, xb, UC(0x7fffffffu), ""), f, "");
    LLVMValueRef big = LLVMBuildFCmp(g->B, LLVMRealOLT, FC(104.0f), af, ""); /* false for NaN: it passes */
    LLVMValueRef m = LLVMBuildBitCast(g->B, LLVMBuildSelect(g->B, big, FC(104.0f), af, ""), i32, "");
    LLVMValueRef c = LLVMBuildBitCast(g->B, LLVMBuildOr(g->B, m, LLVMBuildAnd(g->B, xb, UC(0x80000000u), ""), ""), f, "");
    LLVMValueRef a0[3] = {c, FC(1.44269504088896341f), FC(12582912.0f)};
    LLVMValueRef sh = intrin(g, "llvm.fmuladd", f, a0, 3);
    LLVMValueRef kf = LLVMBuildFSub(g->B, sh, FC(12582912.0f), "");
    LLVMValueRef a1[3] = {kf, FC(-0.693359375f), c};
    LLVMValueRef r = intrin(g, "llvm.fmuladd", f, a1, 3);
    LLVMValueRef a2[3] = {kf, FC(2.12194440054690583e-4f), r};
    r = intrin(g, "llvm.fmuladd", f, a2, 3);
    static const double q[] = {1.38146046e-3f, 8.36871844e-3f, 4.16683890e-2f, 1.66665211e-1f,
                               4.99999940e-1f, 1.0f, 1.0f};
    LLVMValueRef p = gen_horner(g, KIR_F32, r, q, 7);
    LLVMValueRef sb = LLVMBuildBitCast(g->B, sh, i32, "");
    LLVMValueRef u = LLVMBuildShl(g->B, LLVMBuildLShr(g->B, sb, UC(1), ""), UC(23), ""); /* floor(k/2) << 23 */
    LLVMValueRef s1 = LLVMBuildBitCast(g->B, LLVMBuildAdd(g->B, u, UC(0x3f800000u), ""), f, "");
    LLVMValueRef b2 = LLVMBuildAdd(g->B, LLVMBuildSub(g->B, LLVMBuildShl(g->B, sb, UC(23), ""), u, ""), UC(0x3f800000u), "");
    return LLVMBuildFMul(g->B, LLVMBuildFMul(g->B, p, s1, ""), LLVMBuildBitCast(g->B, b2, f, ""), "");
#undef UC
#undef FC
}

/* exp of type t: the inline form for f32, llvm.exp for f64 */
static LLVMValueRef gen_exp(G *g, KirType t, LLVMValueRef x)
{
    if (t == KIR_F32) return gen_exp_f32(g, x);
    return intrin(g, "llvm.exp", ktype(g, t), &x, 1);
}

/* e^x in double, the C emitter's hyc_expd (see there): x clamped to
 * [-200, 200], k from the low bits of x log2 e + 1.5 2^52, Taylor to degree
 * 11 on |r| <= 0.347, 2^k in the exponent field; NaN kept.  For the f32
 * activations, which round the result once. */
static LLVMValueRef gen_expd(G *g, LLVMValueRef x)
{
#define DC(v) fconst(g, KIR_F64, (v))
    LLVMValueRef lo = LLVMBuildFCmp(g->B, LLVMRealOLT, x, DC(-200.0), "");
    LLVMValueRef hi = LLVMBuildFCmp(g->B, LLVMRealOGT, x, DC(200.0), "");
    LLVMValueRef c = LLVMBuildSelect(g->B, lo, DC(-200.0), LLVMBuildSelect(g->B, hi, DC(200.0), x, ""), "");
    LLVMValueRef nan = LLVMBuildFCmp(g->B, LLVMRealUNO, x, x, "");
    c = LLVMBuildSelect(g->B, nan, DC(0.0), c, "");
    LLVMValueRef sh = LLVMBuildFAdd(g->B, LLVMBuildFMul(g->B, c, DC(1.4426950408889634), ""), DC(6755399441055744.0), "");
    LLVMValueRef kf = LLVMBuildFSub(g->B, sh, DC(6755399441055744.0), "");
    LLVMValueRef r = LLVMBuildFSub(g->B, c, LLVMBuildFMul(g->B, kf, DC(6.93147180369123816490e-01), ""), "");
    r = LLVMBuildFSub(g->B, r, LLVMBuildFMul(g->B, kf, DC(1.90821492927058770002e-10), ""), "");
    static const double taylor[] = {2.505210838544171878e-08, 2.755731922398589065e-07, 2.755731922398589065e-06,
                                    2.480158730158730158e-05, 1.984126984126984127e-04, 1.388888888888888889e-03,
                                    8.333333333333333333e-03, 4.166666666666666667e-02, 1.666666666666666667e-01,
                                    0.5, 1.0, 1.0};
    LLVMValueRef p = gen_horner(g, KIR_F64, r, taylor, 12);
    LLVMValueRef bits = LLVMBuildBitCast(g->B, sh, g->i64, "");
    bits = LLVMBuildShl(g->B, LLVMBuildAdd(g->B, bits, ci64(g, 1023), ""), ci64(g, 52), "");
    LLVMValueRef y = LLVMBuildFMul(g->B, p, LLVMBuildBitCast(g->B, bits, g->f64, ""), "");
    return LLVMBuildSelect(g->B, nan, x, y, "");
}

/* log(1 + e) in double for e >= 0, hyc_log1pd: u = 1 + e = 2^k m with m in
 * [sqrt(1/2), sqrt(2)), log m = 2 atanh((m-1)/(m+1)) to s^17, corrected by
 * e / (u - 1) for the rounding of 1 + e. */
static LLVMValueRef gen_log1pd(G *g, LLVMValueRef e)
{
    LLVMValueRef u = LLVMBuildFAdd(g->B, DC(1.0), e, "");
    LLVMValueRef b = LLVMBuildBitCast(g->B, u, g->i64, "");
    LLVMValueRef mb = LLVMBuildOr(g->B, LLVMBuildAnd(g->B, b, ci64(g, 0x000fffffffffffffLL), ""), ci64(g, 0x3ff0000000000000LL), "");
    LLVMValueRef m = LLVMBuildBitCast(g->B, mb, g->f64, "");
    LLVMValueRef ex = LLVMBuildAnd(g->B, LLVMBuildLShr(g->B, b, ci64(g, 52), ""), ci64(g, 0x7ff), "");
    LLVMValueRef k = LLVMBuildSIToFP(g->B, LLVMBuildSub(g->B, ex, ci64(g, 1023), ""), g->f64, "");
    LLVMValueRef big = LLVMBuildFCmp(g->B, LLVMRealOGT, m, DC(1.4142135623730951), "");
    m = LLVMBuildSelect(g->B, big, LLVMBuildFMul(g->B, m, DC(0.5), ""), m, "");
    k = LLVMBuildSelect(g->B, big, LLVMBuildFAdd(g->B, k, DC(1.0), ""), k, "");
    LLVMValueRef s = LLVMBuildFDiv(g->B, LLVMBuildFSub(g->B, m, DC(1.0), ""), LLVMBuildFAdd(g->B, m, DC(1.0), ""), "");
    LLVMValueRef s2 = LLVMBuildFMul(g->B, s, s, "");
    static const double series[] = {1.0 / 17.0, 1.0 / 15.0, 1.0 / 13.0, 1.0 / 11.0, 1.0 / 9.0, 1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0, 1.0};
    LLVMValueRef q = gen_horner(g, KIR_F64, s2, series, 9);
    LLVMValueRef lg = LLVMBuildFAdd(g->B, LLVMBuildFMul(g->B, k, DC(0.69314718055994530942), ""),
                                    LLVMBuildFMul(g->B, LLVMBuildFMul(g->B, DC(2.0), s, ""), q, ""), "");
    LLVMValueRef corr = LLVMBuildFDiv(g->B, e, LLVMBuildFSub(g->B, u, DC(1.0), ""), "");
    LLVMValueRef one = LLVMBuildFCmp(g->B, LLVMRealOEQ, u, DC(1.0), "");
    return LLVMBuildSelect(g->B, one, e, LLVMBuildFMul(g->B, lg, corr, ""), "");
}

/* The f32 activations as the C emitter's hyc_sigmoid_f32 / hyc_silu_f32 /
 * hyc_softplus_f32: in double, one rounding (docs/kernel-ir.md). */
static LLVMValueRef gen_act_f32(G *g, KirOp op, LLVMValueRef x)
{
    LLVMValueRef d = LLVMBuildFPExt(g->B, x, g->f64, "");
    LLVMValueRef y;
    if (op == KIR_OP_SOFTPLUS) {
        LLVMValueRef sp = gen_log1pd(g, gen_expd(g, d));
        LLVMValueRef big = LLVMBuildFCmp(g->B, LLVMRealOGT, x, fconst(g, KIR_F32, 20.0), "");
        y = LLVMBuildSelect(g->B, big, d, sp, "");
    } else {
        LLVMValueRef den = LLVMBuildFAdd(g->B, DC(1.0), gen_expd(g, LLVMBuildFNeg(g->B, d, "")), "");
        y = LLVMBuildFDiv(g->B, op == KIR_OP_SILU ? d : DC(1.0), den, "");
    }
    return LLVMBuildFPTrunc(g->B, y, g->f32, "");
#undef DC
}

/* f64 sigmoid through llvm.exp (the C helpers' hyc_sigmoid_f64) */
static LLVMValueRef gen_sigmoid(G *g, KirType t, LLVMValueRef x)
{
    /* x >= 0 ? 1 / (1 + exp(-x)) : e / (1 + e), e = exp(x): both arms are
     * finite or inf, never a trap; the select keeps the one C takes */
    LLVMTypeRef ty = ktype(g, t);
    LLVMValueRef one = fconst(g, t, 1.0);
    LLVMValueRef nx = LLVMBuildFNeg(g->B, x, "");
    LLVMValueRef en = intrin(g, "llvm.exp", ty, &nx, 1);
    LLVMValueRef pos = LLVMBuildFDiv(g->B, one, LLVMBuildFAdd(g->B, one, en, ""), "");
    LLVMValueRef ep = intrin(g, "llvm.exp", ty, &x, 1);
    LLVMValueRef neg = LLVMBuildFDiv(g->B, ep, LLVMBuildFAdd(g->B, one, ep, ""), "");
    LLVMValueRef c = LLVMBuildFCmp(g->B, LLVMRealOGE, x, fconst(g, t, 0.0), "");
    return LLVMBuildSelect(g->B, c, pos, neg, "");
}

/* f64 softplus, PyTorch's: x > 20 ? x : log1p(exp(x)) */
static LLVMValueRef gen_softplus_f64(G *g, LLVMValueRef x)
{
    LLVMValueRef ex = intrin(g, "llvm.exp", g->f64, &x, 1);
    LLVMValueRef sp = libm1(g, "log1p", KIR_F64, ex);
    LLVMValueRef c = LLVMBuildFCmp(g->B, LLVMRealOGT, x, fconst(g, KIR_F64, 20.0), "");
    return LLVMBuildSelect(g->B, c, x, sp, "");
}

static LLVMValueRef gen_cmp(G *g, KirOp op, KirType t, LLVMValueRef a, LLVMValueRef b)
{
    LLVMValueRef c;
    if (kir_type_is_float(t)) {
        LLVMRealPredicate pr = op == KIR_OP_LT ? LLVMRealOLT : op == KIR_OP_LE ? LLVMRealOLE : op == KIR_OP_GT ? LLVMRealOGT
                             : op == KIR_OP_GE ? LLVMRealOGE : op == KIR_OP_EQ ? LLVMRealOEQ : LLVMRealUNE;
        c = LLVMBuildFCmp(g->B, pr, a, b, "");
    } else {
        LLVMIntPredicate pr = op == KIR_OP_LT ? LLVMIntSLT : op == KIR_OP_LE ? LLVMIntSLE : op == KIR_OP_GT ? LLVMIntSGT
                            : op == KIR_OP_GE ? LLVMIntSGE : op == KIR_OP_EQ ? LLVMIntEQ : LLVMIntNE;
        c = LLVMBuildICmp(g->B, pr, a, b, "");
    }
    return LLVMBuildZExt(g->B, c, g->i32, "");
}

static LLVMValueRef gen_cast(G *g, LLVMValueRef v, KirType from, KirType to)
{
    if (from == to) return v;
    bool ff = kir_type_is_float(from), ft = kir_type_is_float(to);
    LLVMTypeRef ty = ktype(g, to);
    if (ff && ft) return kir_type_size(to) > kir_type_size(from) ? LLVMBuildFPExt(g->B, v, ty, "") : LLVMBuildFPTrunc(g->B, v, ty, "");
    if (!ff && !ft) return kir_type_size(to) > kir_type_size(from) ? LLVMBuildSExt(g->B, v, ty, "") : LLVMBuildTrunc(g->B, v, ty, "");
    if (!ff) return LLVMBuildSIToFP(g->B, v, ty, "");
    return LLVMBuildFPToSI(g->B, v, ty, "");
}

static LLVMValueRef gen_op(G *g, const KirExpr *e)
{
    KirType t0 = e->args[0]->type;
    bool fl = kir_type_is_float(t0);
    LLVMTypeRef ty = ktype(g, t0);
    LLVMValueRef a[3] = {NULL, NULL, NULL};
    for (int i = 0; i < e->n_args && i < 3; i++) a[i] = gen_expr(g, e->args[i]);
    switch (e->op) {
    case KIR_OP_ADD: return fl ? LLVMBuildFAdd(g->B, a[0], a[1], "") : LLVMBuildAdd(g->B, a[0], a[1], "");
    case KIR_OP_SUB: return fl ? LLVMBuildFSub(g->B, a[0], a[1], "") : LLVMBuildSub(g->B, a[0], a[1], "");
    case KIR_OP_MUL: return fl ? LLVMBuildFMul(g->B, a[0], a[1], "") : LLVMBuildMul(g->B, a[0], a[1], "");
    case KIR_OP_DIV: return fl ? LLVMBuildFDiv(g->B, a[0], a[1], "") : LLVMBuildSDiv(g->B, a[0], a[1], "");
    case KIR_OP_REM: return LLVMBuildSRem(g->B, a[0], a[1], "");
    case KIR_OP_AND: return LLVMBuildAnd(g->B, a[0], a[1], "");
    case KIR_OP_OR: return LLVMBuildOr(g->B, a[0], a[1], "");
    case KIR_OP_MIN: return gen_minmax(g, false, t0, a[0], a[1]);
    case KIR_OP_MAX: return gen_minmax(g, true, t0, a[0], a[1]);
    case KIR_OP_FMA:
        /* a*b + c, fused or not: llvm.fmuladd lets the backend decide */
        if (fl) return intrin(g, "llvm.fmuladd", ty, a, 3);
        return LLVMBuildAdd(g->B, LLVMBuildMul(g->B, a[0], a[1], ""), a[2], "");
    case KIR_OP_NEG: return fl ? LLVMBuildFNeg(g->B, a[0], "") : LLVMBuildNeg(g->B, a[0], "");
    case KIR_OP_LT:
    case KIR_OP_LE:
    case KIR_OP_GT:
    case KIR_OP_GE:
    case KIR_OP_EQ:
    case KIR_OP_NE: return gen_cmp(g, e->op, t0, a[0], a[1]);
    case KIR_OP_SELECT: {
        LLVMValueRef c = LLVMBuildICmp(g->B, LLVMIntNE, a[0], LLVMConstNull(ktype(g, t0)), "");
        return LLVMBuildSelect(g->B, c, a[1], a[2], "");
    }
    case KIR_OP_EXP: return gen_exp(g, t0, a[0]);
    case KIR_OP_LOG: return intrin(g, "llvm.log", ty, a, 1);
    case KIR_OP_SQRT: return intrin(g, "llvm.sqrt", ty, a, 1);
    case KIR_OP_COS: return intrin(g, "llvm.cos", ty, a, 1);
    case KIR_OP_SIN: return intrin(g, "llvm.sin", ty, a, 1);
    case KIR_OP_RSQRT: return LLVMBuildFDiv(g->B, fconst(g, t0, 1.0), intrin(g, "llvm.sqrt", ty, a, 1), "");
    case KIR_OP_EXPM1: return libm1(g, "expm1", t0, a[0]);
    case KIR_OP_LOG1P: return libm1(g, "log1p", t0, a[0]);
    case KIR_OP_TANH: return libm1(g, "tanh", t0, a[0]);
    case KIR_OP_ERF: return libm1(g, "erf", t0, a[0]);
    case KIR_OP_SIGMOID:
    case KIR_OP_SILU:
    case KIR_OP_SOFTPLUS:
        if (t0 == KIR_F32) return gen_act_f32(g, e->op, a[0]);
        if (e->op == KIR_OP_SIGMOID) return gen_sigmoid(g, t0, a[0]);
        if (e->op == KIR_OP_SILU) return LLVMBuildFMul(g->B, a[0], gen_sigmoid(g, t0, a[0]), "");
        return gen_softplus_f64(g, a[0]);
    case KIR_OP_TO_F32:
    case KIR_OP_TO_F64:
    case KIR_OP_TO_I32:
    case KIR_OP_TO_I64: return gen_cast(g, a[0], t0, e->type);
    default: HYC_UNREACHABLE();
    }
}

static LLVMValueRef gen_expr(G *g, const KirExpr *e)
{
    switch (e->kind) {
    case KIR_E_CONST:
        return kir_type_is_float(e->type) ? fconst(g, e->type, e->f)
                                          : LLVMConstInt(ktype(g, e->type), (unsigned long long)e->i, true);
    case KIR_E_VAR:
        if (e->id == KIR_VAR_T) return g->T;
        if (e->id == KIR_VAR_POS) return g->pos;
        return LLVMBuildLoad2(g->B, ktype(g, g->k->vars[e->id].type), g->slot[e->id], g->k->vars[e->id].name);
    case KIR_E_LOAD: {
        const KirBuf *b = &g->k->bufs[e->id];
        return LLVMBuildLoad2(g->B, ktype(g, b->type), elem_ptr(g, e->id, e->n_args, e->args), "");
    }
    case KIR_E_OP: return gen_op(g, e);
    }
    HYC_UNREACHABLE();
}

/* ---- statements --------------------------------------------------------------------- */

static void gen_block(G *g, const KirBlock *b);

typedef struct LoopCtx {
    const KirStmt *s;
    const KirLoopSched *ls; /* for the inner loop */
    LLVMValueRef hi;        /* the tile loop: the range's end */
} LoopCtx;

static void body_iter(G *g, LLVMValueRef iv, void *ctx)
{
    const LoopCtx *lc = ctx;
    LLVMBuildStore(g->B, iv, g->slot[lc->s->var]);
    gen_block(g, &lc->s->body);
}

static void body_tile(G *g, LLVMValueRef iv, void *ctx)
{
    const LoopCtx *lc = ctx;
    LLVMValueRef end = LLVMBuildNSWAdd(g->B, iv, ci64(g, lc->ls->tile), "");
    LLVMValueRef c = LLVMBuildICmp(g->B, LLVMIntSLT, end, lc->hi, "");
    end = LLVMBuildSelect(g->B, c, end, lc->hi, "tile.end");
    build_loop(g, iv, end, lc->s->step, loop_md(g, lc->ls), body_iter, (void *)lc);
}

/* ---- jam nests: register-blocked inner products --------------------------------- */

static void gen_stmt(G *g, const KirStmt *s);
static LLVMValueRef new_func(G *g, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, unsigned n, bool internal);

/* An alloca in the entry block of the function being built (so SROA can
 * promote it whatever loop the builder is in). */
static LLVMValueRef entry_alloca(G *g, LLVMTypeRef t, const char *name)
{
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(g->fn);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(g->C);
    LLVMValueRef first = LLVMGetFirstInstruction(entry);
    if (first) LLVMPositionBuilderBefore(b, first);
    else LLVMPositionBuilderAtEnd(b, entry);
    LLVMValueRef v = LLVMBuildAlloca(b, t, name);
    LLVMDisposeBuilder(b);
    return v;
}

static LLVMValueRef gep_f32(G *g, LLVMValueRef base, LLVMValueRef off)
{
    return LLVMBuildInBoundsGEP2(g->B, g->f32, base, &off, 1, "");
}

typedef struct BlkGen {
    int JA, JB, W;
    LLVMTypeRef vt;
    LLVMValueRef a, sa, b, sb, n, out;
    LLVMValueRef *acc;  /* [JA*JB] allocas: <W x float> in the vector loop, float in the tail */
    LLVMValueRef *sacc;
} BlkGen;

static void blk_vec_body(G *g, LLVMValueRef k, void *ctx)
{
    BlkGen *bg = ctx;
    LLVMValueRef *x = ARENA_NEW_N(g->a, LLVMValueRef, bg->JA);
    for (int i = 0; i < bg->JA; i++) {
        LLVMValueRef off = LLVMBuildNSWAdd(g->B, LLVMBuildNSWMul(g->B, ci64(g, i), bg->sa, ""), k, "");
        x[i] = LLVMBuildLoad2(g->B, bg->vt, gep_f32(g, bg->a, off), "");
        LLVMSetAlignment(x[i], 4);
    }
    for (int j = 0; j < bg->JB; j++) {
        LLVMValueRef off = LLVMBuildNSWAdd(g->B, LLVMBuildNSWMul(g->B, ci64(g, j), bg->sb, ""), k, "");
        LLVMValueRef y = LLVMBuildLoad2(g->B, bg->vt, gep_f32(g, bg->b, off), "");
        LLVMSetAlignment(y, 4);
        for (int i = 0; i < bg->JA; i++) {
            LLVMValueRef slot = bg->acc[i * bg->JB + j];
            LLVMValueRef args[3] = {x[i], y, LLVMBuildLoad2(g->B, bg->vt, slot, "")};
            LLVMBuildStore(g->B, intrin(g, "llvm.fma", bg->vt, args, 3), slot);
        }
    }
}

static void blk_tail_body(G *g, LLVMValueRef k, void *ctx)
{
    BlkGen *bg = ctx;
    for (int i = 0; i < bg->JA; i++)
        for (int j = 0; j < bg->JB; j++) {
            LLVMValueRef oa = LLVMBuildNSWAdd(g->B, LLVMBuildNSWMul(g->B, ci64(g, i), bg->sa, ""), k, "");
            LLVMValueRef ob = LLVMBuildNSWAdd(g->B, LLVMBuildNSWMul(g->B, ci64(g, j), bg->sb, ""), k, "");
            LLVMValueRef slot = bg->sacc[i * bg->JB + j];
            LLVMValueRef args[3] = {LLVMBuildLoad2(g->B, g->f32, gep_f32(g, bg->a, oa), ""),
                                    LLVMBuildLoad2(g->B, g->f32, gep_f32(g, bg->b, ob), ""),
                                    LLVMBuildLoad2(g->B, g->f32, slot, "")};
            LLVMBuildStore(g->B, intrin(g, "llvm.fma", g->f32, args, 3), slot);
        }
}

/* Lanes idx[0 .. n) of the concatenation a ++ b (b: a again for one source). */
static LLVMValueRef shuffle2(G *g, LLVMValueRef a, LLVMValueRef b, const int *idx, int n)
{
    LLVMValueRef *m = ARENA_NEW_N(g->a, LLVMValueRef, n);
    for (int i = 0; i < n; i++) m[i] = ci32(g, idx[i]);
    return LLVMBuildShuffleVector(g->B, a, b, LLVMConstVector(m, (unsigned)n), "");
}

/* One step of a transposed sum.  The sources (a and b, or a alone) hold
 * `segs` segments of `len` lanes each, a segment the partial sums of one
 * inner product; the result holds their segments in order, each of len / 2
 * lanes: the sum of the segment's low and high halves. */
static LLVMValueRef tsum_step(G *g, LLVMValueRef a, LLVMValueRef b, int W, int segs, int len)
{
    int nsrc = b ? 2 : 1, h = len / 2, q = 0;
    int *lo = ARENA_NEW_N(g->a, int, nsrc * segs * h), *hi = ARENA_NEW_N(g->a, int, nsrc * segs * h);
    for (int src = 0; src < nsrc; src++)
        for (int s = 0; s < segs; s++)
            for (int l = 0; l < h; l++, q++) {
                lo[q] = src * W + s * len + l;
                hi[q] = src * W + s * len + h + l;
            }
    LLVMValueRef bb = b ? b : a;
    return LLVMBuildFAdd(g->B, shuffle2(g, a, bb, lo, q), shuffle2(g, a, bb, hi, q), "");
}

/* The lane sums of m = 2^p W-lane vectors v[0 .. m), m <= W, as one m-lane
 * vector in order: pairs of vectors halve their segments (log2 m steps on
 * whole vectors), then the one vector left folds its segments down to one
 * lane each.  W - 1 shuffle pairs and adds per W sums where a horizontal
 * reduction per vector takes log2 W each (the C backend's
 * hyc_sum16_avx512 route, for any W). */
static LLVMValueRef tsum_group(G *g, LLVMValueRef *v, int m, int W)
{
    int segs = 1, len = W;
    for (; m > 1; m /= 2, segs *= 2, len /= 2)
        for (int i = 0; i < m / 2; i++) v[i] = tsum_step(g, v[2 * i], v[2 * i + 1], W, segs, len);
    LLVMValueRef r = v[0];
    for (; len > 1; len /= 2) r = tsum_step(g, r, NULL, W, segs, len);
    return r;
}

/* sacc[i] = the lane sum of acc[i], i < JA*JB: in groups of W accumulators,
 * then of the largest powers of two left. */
static void lane_sums(G *g, BlkGen *bg)
{
    int n = bg->JA * bg->JB, W = bg->W;
    HYC_ASSERT(W >= 1 && (W & (W - 1)) == 0);
    LLVMValueRef *v = ARENA_NEW_N(g->a, LLVMValueRef, W);
    for (int at = 0; at < n;) {
        int m = W;
        while (m > n - at) m /= 2;
        for (int i = 0; i < m; i++) v[i] = LLVMBuildLoad2(g->B, bg->vt, bg->acc[at + i], "");
        LLVMValueRef r = tsum_group(g, v, m, W);
        for (int i = 0; i < m; i++, at++)
            LLVMBuildStore(g->B, LLVMBuildExtractElement(g->B, r, ci32(g, i), ""), bg->sacc[at]);
    }
}

/* @hyc.dotblk.JAxJB.wW(ptr a, i64 sa, ptr b, i64 sb, i64 n, ptr out):
 * out[i*JB + j] = sum over k < n of a[i*sa + k] b[j*sb + k], JA x JB inner
 * products in one pass, W-lane vectors (then a scalar tail), each summed
 * across its lanes at the end: the C backend's hyc_dotblk_* helpers.
 * Built once per shape, always inlined. */
static LLVMValueRef blk_func(G *g, int JA, int JB, int W)
{
    const char *name = arena_printf(g->a, "hyc.dotblk.%dx%d.w%d", JA, JB, W);
    LLVMValueRef f = LLVMGetNamedFunction(g->M, name);
    if (f) return f;
    LLVMBasicBlockRef saved_bb = LLVMGetInsertBlock(g->B);
    LLVMValueRef saved_fn = g->fn;
    LLVMTypeRef ps[6] = {g->ptr, g->i64, g->ptr, g->i64, g->i64, g->ptr};
    f = new_func(g, name, g->vd, ps, 6, true);
    LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(g->C, LLVMGetEnumAttributeKindForName("alwaysinline", 12), 0));
    unsigned noalias = LLVMGetEnumAttributeKindForName("noalias", 7);
    static const unsigned ptr_params[] = {0, 2, 5}; /* a, b, out */
    for (int i = 0; i < 3; i++)
        LLVMAddAttributeAtIndex(f, ptr_params[i] + 1, LLVMCreateEnumAttribute(g->C, noalias, 0));
    BlkGen bg = {.JA = JA, .JB = JB, .W = W, .vt = LLVMVectorType(g->f32, (unsigned)W)};
    bg.a = LLVMGetParam(f, 0), bg.sa = LLVMGetParam(f, 1), bg.b = LLVMGetParam(f, 2);
    bg.sb = LLVMGetParam(f, 3), bg.n = LLVMGetParam(f, 4), bg.out = LLVMGetParam(f, 5);
    bg.acc = ARENA_NEW_N(g->a, LLVMValueRef, JA * JB);
    bg.sacc = ARENA_NEW_N(g->a, LLVMValueRef, JA * JB);
    for (int i = 0; i < JA * JB; i++) {
        bg.acc[i] = LLVMBuildAlloca(g->B, bg.vt, "acc");
        bg.sacc[i] = LLVMBuildAlloca(g->B, g->f32, "s");
        LLVMBuildStore(g->B, LLVMConstNull(bg.vt), bg.acc[i]);
    }
    /* whole vectors: k < n - n % W */
    LLVMValueRef nv = LLVMBuildNSWMul(g->B, LLVMBuildSDiv(g->B, bg.n, ci64(g, W), ""), ci64(g, W), "nv");
    build_loop(g, ci64(g, 0), nv, W, NULL, blk_vec_body, &bg);
    lane_sums(g, &bg);
    build_loop(g, nv, bg.n, 1, NULL, blk_tail_body, &bg);
    for (int i = 0; i < JA * JB; i++)
        LLVMBuildStore(g->B, LLVMBuildLoad2(g->B, g->f32, bg.sacc[i], ""), gep_f32(g, bg.out, ci64(g, i)));
    LLVMBuildRetVoid(g->B);
    g->fn = saved_fn;
    LLVMPositionBuilderAtEnd(g->B, saved_bb);
    return f;
}

typedef struct JamCtx {
    const KirJamNest *j;
    int JA, JB;
    LLVMValueRef out;      /* [JA*JB] floats: the block's inner products */
    LLVMValueRef a0, b0;   /* the block's first iterations */
    LLVMValueRef blk;      /* the helper */
} JamCtx;

static LLVMValueRef load_var(G *g, int var)
{
    return LLVMBuildLoad2(g->B, ktype(g, g->k->vars[var].type), g->slot[var], "");
}

/* One iteration (a, b) of a block: the inner loop's body, the inner
 * product read from the block's results. */
static void jam_cell(G *g, LLVMValueRef b, void *ctx)
{
    JamCtx *jc = ctx;
    const KirJamNest *j = jc->j;
    LLVMBuildStore(g->B, b, g->slot[j->inner->var]);
    for (int i = 0; i < j->inner->body.n; i++) {
        if (i != j->dot_at) {
            gen_stmt(g, j->inner->body.stmts[i]);
            continue;
        }
        LLVMValueRef da = LLVMBuildNSWSub(g->B, load_var(g, j->outer->var), jc->a0, "");
        LLVMValueRef db = LLVMBuildNSWSub(g->B, b, jc->b0, "");
        LLVMValueRef ix = LLVMBuildNSWAdd(g->B, LLVMBuildNSWMul(g->B, da, ci64(g, jc->JB), ""), db, "");
        LLVMValueRef v = LLVMBuildLoad2(g->B, g->f32, gep_f32(g, jc->out, ix), "");
        LLVMBuildStore(g->B, LLVMBuildFAdd(g->B, load_var(g, j->acc), v, ""), g->slot[j->acc]);
    }
}

static void jam_cell_row(G *g, LLVMValueRef a, void *ctx)
{
    JamCtx *jc = ctx;
    LLVMBuildStore(g->B, a, g->slot[jc->j->outer->var]);
    build_loop(g, jc->b0, LLVMBuildNSWAdd(g->B, jc->b0, ci64(g, jc->JB), ""), 1, NULL, jam_cell, jc);
}

/* One JA x JB block starting at (a0 = the outer var's slot, b0). */
static void jam_block(G *g, LLVMValueRef b0, void *ctx)
{
    JamCtx *jc = ctx;
    const KirJamNest *j = jc->j;
    jc->b0 = b0;
    /* the previous block's cells moved the outer var: back to the block's row */
    LLVMBuildStore(g->B, jc->a0, g->slot[j->outer->var]);
    LLVMBuildStore(g->B, b0, g->slot[j->inner->var]);
    LLVMBuildStore(g->B, as_i64(g, gen_expr(g, j->dot->lo), j->dot->lo->type), g->slot[j->dot->var]);
    const KirExpr *fm = j->dot->body.stmts[0]->value;
    const KirExpr *la = fm->args[j->arg_outer], *lb = fm->args[j->arg_inner];
    LLVMValueRef pa = elem_ptr(g, la->id, la->n_args, la->args), pb = elem_ptr(g, lb->id, lb->n_args, lb->args);
    LLVMValueRef n = LLVMBuildNSWSub(g->B, as_i64(g, gen_expr(g, j->dot->hi), j->dot->hi->type),
                                     as_i64(g, gen_expr(g, j->dot->lo), j->dot->lo->type), "");
    LLVMValueRef args[6] = {pa, ci64(g, j->stride_outer), pb, ci64(g, j->stride_inner), n, jc->out};
    call(g, jc->blk, args, 6, "");
    build_loop(g, jc->a0, LLVMBuildNSWAdd(g->B, jc->a0, ci64(g, jc->JA), ""), 1, NULL, jam_cell_row, jc);
}

/* A leftover column b of the rows of one block: the inner loop's body as is. */
static void jam_left_col(G *g, LLVMValueRef b, void *ctx)
{
    JamCtx *jc = ctx;
    LLVMBuildStore(g->B, b, g->slot[jc->j->inner->var]);
    gen_block(g, &jc->j->inner->body);
}

static void jam_left_row(G *g, LLVMValueRef a, void *ctx)
{
    JamCtx *jc = ctx;
    const KirStmt *B = jc->j->inner;
    LLVMBuildStore(g->B, a, g->slot[jc->j->outer->var]);
    LLVMValueRef hi = as_i64(g, gen_expr(g, B->hi), B->hi->type);
    build_loop(g, jc->b0, hi, 1, NULL, jam_left_col, jc);
}

/* The rows [a0, a0 + JA): blocks of JB columns, then the leftover columns. */
static void jam_rows(G *g, LLVMValueRef a0, void *ctx)
{
    JamCtx *jc = ctx;
    const KirStmt *B = jc->j->inner;
    jc->a0 = a0;
    LLVMBuildStore(g->B, a0, g->slot[jc->j->outer->var]);
    LLVMValueRef lo = as_i64(g, gen_expr(g, B->lo), B->lo->type), hi = as_i64(g, gen_expr(g, B->hi), B->hi->type);
    LLVMValueRef n = LLVMBuildNSWSub(g->B, hi, lo, "");
    LLVMValueRef neg = LLVMBuildICmp(g->B, LLVMIntSLT, n, ci64(g, 0), "");
    n = LLVMBuildSelect(g->B, neg, ci64(g, 0), n, "");
    LLVMValueRef end = LLVMBuildNSWAdd(g->B, lo, LLVMBuildNSWMul(g->B, LLVMBuildSDiv(g->B, n, ci64(g, jc->JB), ""),
                                                                 ci64(g, jc->JB), ""), "jb.end");
    build_loop(g, lo, end, jc->JB, NULL, jam_block, jc);
    jc->b0 = end;
    jc->a0 = a0;
    build_loop(g, a0, LLVMBuildNSWAdd(g->B, a0, ci64(g, jc->JA), ""), 1, NULL, jam_left_row, jc);
}

/* A jam nest (kir_jam_nest) as the C backend lays it out (emit_c.c
 * emit_jam): blocks of JA x JB iterations, one helper call each, then the
 * leftover columns and rows as plain loops; a parallel outer loop split
 * over the threads in whole blocks. */
static void gen_jam(G *g, const KirStmt *A, const KirJamNest *j)
{
    const KirKernel *k = g->k;
    const KirLoopSched *la = &k->sched.loops[A->loop], *lb = &k->sched.loops[j->inner->loop];
    JamCtx jc = {.j = j, .JA = la->jam > 1 ? la->jam : 1, .JB = lb->jam > 1 ? lb->jam : 1};
    jc.blk = blk_func(g, jc.JA, jc.JB, k->sched.loops[j->dot->loop].vec);
    jc.out = entry_alloca(g, LLVMArrayType2(g->f32, (uint64_t)(jc.JA * jc.JB)), "blk");
    LLVMValueRef lo = as_i64(g, gen_expr(g, A->lo), A->lo->type);
    LLVMValueRef hi = as_i64(g, gen_expr(g, A->hi), A->hi->type);
    LLVMValueRef n = LLVMBuildNSWSub(g->B, hi, lo, "n");
    LLVMValueRef neg = LLVMBuildICmp(g->B, LLVMIntSLT, n, ci64(g, 0), "");
    n = LLVMBuildSelect(g->B, neg, ci64(g, 0), n, "");
    if (la->parallel) {
        /* hycrt_split(ceil(n / JA), ith, nth), in whole blocks */
        LLVMValueRef units = LLVMBuildSDiv(g->B, LLVMBuildNSWAdd(g->B, n, ci64(g, jc.JA - 1), ""), ci64(g, jc.JA), "");
        LLVMValueRef ith = LLVMBuildSExt(g->B, g->ith, g->i64, ""), nth = LLVMBuildSExt(g->B, g->nth, g->i64, "");
        LLVMValueRef base = LLVMBuildSDiv(g->B, units, nth, ""), rem = LLVMBuildSRem(g->B, units, nth, "");
        LLVMValueRef lt = LLVMBuildICmp(g->B, LLVMIntSLT, ith, rem, "");
        LLVMValueRef u_lo = LLVMBuildNSWAdd(g->B, LLVMBuildNSWMul(g->B, ith, base, ""), LLVMBuildSelect(g->B, lt, ith, rem, ""), "");
        LLVMValueRef u_hi = LLVMBuildNSWAdd(g->B, LLVMBuildNSWAdd(g->B, u_lo, base, ""), LLVMBuildZExt(g->B, lt, g->i64, ""), "");
        LLVMValueRef e_hi = LLVMBuildNSWMul(g->B, u_hi, ci64(g, jc.JA), "");
        LLVMValueRef over = LLVMBuildICmp(g->B, LLVMIntSGT, e_hi, n, "");
        e_hi = LLVMBuildSelect(g->B, over, n, e_hi, "");
        LLVMValueRef e_lo = LLVMBuildNSWMul(g->B, u_lo, ci64(g, jc.JA), "");
        hi = LLVMBuildNSWAdd(g->B, lo, e_hi, "split.hi");
        lo = LLVMBuildNSWAdd(g->B, lo, e_lo, "split.lo");
        n = LLVMBuildNSWSub(g->B, hi, lo, "");
    }
    LLVMValueRef end = LLVMBuildNSWAdd(g->B, lo, LLVMBuildNSWMul(g->B, LLVMBuildSDiv(g->B, n, ci64(g, jc.JA), ""),
                                                                 ci64(g, jc.JA), ""), "ja.end");
    build_loop(g, lo, end, jc.JA, NULL, jam_rows, &jc);
    LoopCtx lc = {A, NULL, hi};
    build_loop(g, end, hi, 1, NULL, body_iter, &lc);
}

/* Marks (on = true) or unmarks the float add / fma reductions of vec loop
 * `loop`: the locals declared outside it that its body (ifs included)
 * updates as acc = acc + x or acc = fma(a, b, acc).  Their updates get the
 * fast-math flags reassoc and contract (gen_stmt), so the vectorizer keeps
 * W x U partial sums and ends with a tree reduction (llvm.vector.reduce.fadd
 * reassoc): what the C backend's lane arrays and hyc_dot_* helpers do, and
 * what the schedule allows (docs/kernel-ir.md §5).  Nothing else gets
 * fast-math flags; max / min reductions stay compare-and-select. */
static void reassoc_marks(G *g, const KirBlock *body, bool *inside, bool on)
{
    for (int i = 0; i < body->n; i++) {
        const KirStmt *s = body->stmts[i];
        if (s->kind == KIR_S_VAR) inside[s->var] = on;
        if (s->kind == KIR_S_IF) {
            reassoc_marks(g, &s->body, inside, on);
            reassoc_marks(g, &s->els, inside, on);
        }
        if (s->kind != KIR_S_ASSIGN || inside[s->var] || !kir_type_is_float(g->k->vars[s->var].type)) continue;
        KirRedKind r = kir_reduction_of(s);
        if (r == KIR_RED_ADD || r == KIR_RED_FMA) g->reassoc[s->var] = on;
    }
}

static void gen_for(G *g, const KirStmt *s)
{
    const KirLoopSched *ls = &g->k->sched.loops[s->loop];
    KirJamNest jn;
    if (kir_jam_nest(g->k, s, &jn) && (ls->jam > 1 || g->k->sched.loops[jn.inner->loop].jam > 1)) {
        gen_jam(g, s, &jn);
        return;
    }
    LLVMValueRef lo = as_i64(g, gen_expr(g, s->lo), s->lo->type);
    LLVMValueRef hi = as_i64(g, gen_expr(g, s->hi), s->hi->type);
    if (ls->parallel) {
        /* hycrt_split(max(hi - lo, 0), ith, nth): block ith of nth */
        LLVMValueRef n = LLVMBuildNSWSub(g->B, hi, lo, "n");
        LLVMValueRef neg = LLVMBuildICmp(g->B, LLVMIntSLT, n, ci64(g, 0), "");
        n = LLVMBuildSelect(g->B, neg, ci64(g, 0), n, "");
        LLVMValueRef ith = LLVMBuildSExt(g->B, g->ith, g->i64, ""), nth = LLVMBuildSExt(g->B, g->nth, g->i64, "");
        LLVMValueRef base = LLVMBuildSDiv(g->B, n, nth, ""), rem = LLVMBuildSRem(g->B, n, nth, "");
        LLVMValueRef lt = LLVMBuildICmp(g->B, LLVMIntSLT, ith, rem, "");
        LLVMValueRef b_lo = LLVMBuildNSWAdd(g->B, LLVMBuildNSWMul(g->B, ith, base, ""), LLVMBuildSelect(g->B, lt, ith, rem, ""), "");
        LLVMValueRef b_hi = LLVMBuildNSWAdd(g->B, LLVMBuildNSWAdd(g->B, b_lo, base, ""), LLVMBuildZExt(g->B, lt, g->i64, ""), "");
        hi = LLVMBuildNSWAdd(g->B, b_hi, lo, "split.hi");
        lo = LLVMBuildNSWAdd(g->B, b_lo, lo, "split.lo");
    }
    LoopCtx lc = {s, ls, hi};
    bool *inside = NULL;
    if (ls->vec > 1) {
        inside = ARENA_NEW_N(g->a, bool, g->k->n_vars);
        reassoc_marks(g, &s->body, inside, true);
    }
    if (ls->tile > 0) {
        build_loop(g, lo, hi, ls->tile, NULL, body_tile, &lc);
    } else {
        build_loop(g, lo, hi, s->step, loop_md(g, ls), body_iter, &lc);
    }
    if (inside) {
        memset(inside, 0, sizeof *inside * (size_t)g->k->n_vars);
        reassoc_marks(g, &s->body, inside, false);
    }
}

static void gen_stmt(G *g, const KirStmt *s)
{
    const KirKernel *k = g->k;
    switch (s->kind) {
    case KIR_S_FOR: gen_for(g, s); return;
    case KIR_S_VAR:
    case KIR_S_ASSIGN: {
        LLVMValueRef v = gen_expr(g, s->value);
        /* a reduction of a vectorized loop (reassoc_marks): its add / fma
         * (the expression's top operation) may be reassociated */
        if (s->kind == KIR_S_ASSIGN && g->reassoc[s->var] && LLVMIsAInstruction(v) && LLVMCanValueUseFastMathFlags(v))
            LLVMSetFastMathFlags(v, LLVMFastMathAllowReassoc | LLVMFastMathAllowContract);
        LLVMBuildStore(g->B, v, g->slot[s->var]);
        return;
    }
    case KIR_S_STORE: {
        LLVMValueRef v = gen_expr(g, s->value);
        LLVMBuildStore(g->B, v, elem_ptr(g, s->buf, s->n_idx, s->idx));
        return;
    }
    case KIR_S_IF: {
        LLVMValueRef c = gen_expr(g, s->value);
        c = LLVMBuildICmp(g->B, LLVMIntNE, c, LLVMConstNull(ktype(g, s->value->type)), "");
        LLVMBasicBlockRef th = LLVMAppendBasicBlockInContext(g->C, g->fn, "then");
        LLVMBasicBlockRef el = s->els.n ? LLVMAppendBasicBlockInContext(g->C, g->fn, "else") : NULL;
        LLVMBasicBlockRef end = LLVMAppendBasicBlockInContext(g->C, g->fn, "endif");
        LLVMBuildCondBr(g->B, c, th, el ? el : end);
        LLVMPositionBuilderAtEnd(g->B, th);
        gen_block(g, &s->body);
        LLVMBuildBr(g->B, end);
        if (el) {
            LLVMPositionBuilderAtEnd(g->B, el);
            gen_block(g, &s->els);
            LLVMBuildBr(g->B, end);
        }
        LLVMPositionBuilderAtEnd(g->B, end);
        (void)k;
        return;
    }
    }
    HYC_UNREACHABLE();
}

static void gen_block(G *g, const KirBlock *b)
{
    for (int i = 0; i < b->n; i++) gen_stmt(g, b->stmts[i]);
}

/* ---- kernels ------------------------------------------------------------------------ */

static LLVMValueRef new_func(G *g, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, unsigned n, bool internal)
{
    LLVMValueRef f = LLVMAddFunction(g->M, name, LLVMFunctionType(ret, params, n, false));
    if (internal) LLVMSetLinkage(f, LLVMInternalLinkage);
    LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, g->nounwind);
    g->fn = f;
    LLVMPositionBuilderAtEnd(g->B, LLVMAppendBasicBlockInContext(g->C, f, "entry"));
    return f;
}

static LLVMValueRef const_table(G *g, const KirKernel *k, const KirBuf *b)
{
    LLVMTypeRef et = ktype(g, b->type);
    LLVMValueRef *vals = ARENA_NEW_N(g->a, LLVMValueRef, b->n_data ? b->n_data : 1);
    for (int64_t i = 0; i < b->n_data; i++)
        vals[i] = kir_type_is_float(b->type) ? LLVMConstReal(et, b->data[i])
                                             : LLVMConstInt(et, (unsigned long long)(int64_t)b->data[i], true);
    LLVMValueRef init = LLVMConstArray2(et, vals, (uint64_t)b->n_data);
    LLVMValueRef gv = LLVMAddGlobal(g->M, LLVMTypeOf(init), arena_printf(g->a, "%s.%s", k->name, b->name));
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, true);
    LLVMSetLinkage(gv, LLVMInternalLinkage);
    LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
    LLVMSetAlignment(gv, 64);
    return gv;
}

/* Phase ph as two functions: @K_pN.body(ptr noalias buf..., i64 T, i64 pos,
 * i32 ith, i32 nth), always inlined, holding the loops, and the task
 * @K_pN(ptr arg, i32 ith, i32 nth) that loads the arguments and calls it.
 * `noalias` is the C backend's `restrict` (the memory plan never gives a
 * call's output the bytes of its inputs); inlining turns it into scoped
 * alias metadata, so the vectorizer needs no overlap checks. */
static void gen_phase(G *g, int ph)
{
    const KirKernel *k = g->k;
    const KirStmt *s = k->body.stmts[ph];
    unsigned nf = LLVMCountStructElementTypes(g->args_ty), nb = nf - 2;
    LLVMTypeRef *bp = ARENA_NEW_N(g->a, LLVMTypeRef, nf + 2);
    for (unsigned i = 0; i < nb; i++) bp[i] = g->ptr;
    bp[nb] = g->i64;
    bp[nb + 1] = g->i64;
    bp[nb + 2] = g->i32;
    bp[nb + 3] = g->i32;
    const char *name = arena_printf(g->a, "%s_p%d", k->name, ph);
    LLVMValueRef body = new_func(g, arena_printf(g->a, "%s.body", name), g->vd, bp, nf + 2, true);
    LLVMAddAttributeAtIndex(body, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(g->C, LLVMGetEnumAttributeKindForName("alwaysinline", 12), 0));
    unsigned noalias = LLVMGetEnumAttributeKindForName("noalias", 7);
    for (int b = 0; b < k->n_bufs; b++) {
        if (g->field[b] < 0) continue;
        g->bufp[b] = LLVMGetParam(body, (unsigned)g->field[b]);
        LLVMSetValueName2(g->bufp[b], k->bufs[b].name, strlen(k->bufs[b].name));
        LLVMAddAttributeAtIndex(body, (unsigned)g->field[b] + 1, LLVMCreateEnumAttribute(g->C, noalias, 0));
    }
    g->T = LLVMGetParam(body, nb);
    g->pos = LLVMGetParam(body, nb + 1);
    g->ith = LLVMGetParam(body, nb + 2);
    g->nth = LLVMGetParam(body, nb + 3);
    LLVMSetValueName2(g->T, "T", 1);
    LLVMSetValueName2(g->pos, "pos", 3);
    LLVMSetValueName2(g->ith, "ith", 3);
    LLVMSetValueName2(g->nth, "nth", 3);
    for (int v = 2; v < k->n_vars; v++)
        g->slot[v] = LLVMBuildAlloca(g->B, ktype(g, k->vars[v].type), k->vars[v].name);
    gen_stmt(g, s);
    LLVMBuildRetVoid(g->B);

    LLVMTypeRef params[3] = {g->ptr, g->i32, g->i32};
    LLVMValueRef f = new_func(g, name, g->vd, params, 3, true);
    LLVMValueRef arg = LLVMGetParam(f, 0);
    LLVMSetValueName2(arg, "arg", 3);
    LLVMSetValueName2(LLVMGetParam(f, 1), "ith", 3);
    LLVMSetValueName2(LLVMGetParam(f, 2), "nth", 3);
    LLVMValueRef *a = ARENA_NEW_N(g->a, LLVMValueRef, nf + 2);
    for (unsigned i = 0; i < nf; i++)
        a[i] = LLVMBuildLoad2(g->B, i < nb ? g->ptr : g->i64, LLVMBuildStructGEP2(g->B, g->args_ty, arg, i, ""), "");
    a[nf] = LLVMGetParam(f, 1);
    a[nf + 1] = LLVMGetParam(f, 2);
    call(g, body, a, nf + 2, "");
    LLVMBuildRetVoid(g->B);
}

/* The kernel's driver: @K(ptr args, ptr pool). */
static LLVMValueRef gen_kernel(G *g, int ki)
{
    const KirKernel *k = g->p->kernels[ki];
    g->k = k;
    g->field = ARENA_NEW_N(g->a, int, k->n_bufs ? k->n_bufs : 1);
    g->cbuf = ARENA_NEW_N(g->a, LLVMValueRef, k->n_bufs ? k->n_bufs : 1);
    g->bufp = ARENA_NEW_N(g->a, LLVMValueRef, k->n_bufs ? k->n_bufs : 1);
    g->slot = ARENA_NEW_N(g->a, LLVMValueRef, k->n_vars);
    g->reassoc = ARENA_NEW_N(g->a, bool, k->n_vars);
    LLVMTypeRef *fields = ARENA_NEW_N(g->a, LLVMTypeRef, k->n_bufs + 2);
    unsigned nf = 0;
    for (int b = 0; b < k->n_bufs; b++) {
        if (k->bufs[b].role == KIR_ROLE_CONST) {
            g->field[b] = -1;
            g->cbuf[b] = const_table(g, k, &k->bufs[b]);
        } else {
            g->field[b] = (int)nf;
            fields[nf++] = g->ptr;
        }
    }
    fields[nf++] = g->i64;
    fields[nf++] = g->i64;
    g->args_ty = LLVMStructCreateNamed(g->C, arena_printf(g->a, "%s.args", k->name));
    LLVMStructSetBody(g->args_ty, fields, nf, false);
    LLVMValueRef *phase = ARENA_NEW_N(g->a, LLVMValueRef, k->body.n ? k->body.n : 1);
    for (int ph = 0; ph < k->body.n; ph++) {
        gen_phase(g, ph);
        phase[ph] = g->fn;
    }
    LLVMTypeRef params[2] = {g->ptr, g->ptr};
    LLVMValueRef f = new_func(g, k->name, g->vd, params, 2, true);
    LLVMValueRef args = LLVMGetParam(f, 0), pool = LLVMGetParam(f, 1);
    LLVMSetValueName2(args, "args", 4);
    LLVMSetValueName2(pool, "pool", 4);
    LLVMTypeRef pt_p = g->ptr;
    LLVMValueRef threads = declare(g, "hycrt_pool_threads", g->i32, &pt_p, 1);
    LLVMTypeRef pf_p[4] = {g->ptr, g->i32, g->ptr, g->ptr};
    LLVMValueRef pfor = declare(g, "hycrt_parallel_for", g->vd, pf_p, 4);
    for (int ph = 0; ph < k->body.n; ph++) {
        if (k->sched.loops[k->body.stmts[ph]->loop].parallel) {
            LLVMValueRef n = call(g, threads, &pool, 1, "");
            if (kir_tasks_per_thread(k) > 1) n = LLVMBuildNSWMul(g->B, n, ci32(g, kir_tasks_per_thread(k)), "");
            LLVMValueRef a[4] = {pool, n, phase[ph], args};
            call(g, pfor, a, 4, "");
        } else {
            LLVMValueRef a[3] = {args, ci32(g, 0), ci32(g, 1)};
            call(g, phase[ph], a, 3, "");
        }
    }
    LLVMBuildRetVoid(g->B);
    /* remember the args type by name for the calls */
    return f;
}

/* ---- forward passes ----------------------------------------------------------------- */

static LLVMValueRef byte_ptr(G *g, LLVMValueRef base, uint64_t off)
{
    if (off == 0) return base;
    LLVMValueRef o = ci64(g, (int64_t)off);
    return LLVMBuildInBoundsGEP2(g->B, g->i8, base, &o, 1, "");
}

static LLVMValueRef ctx_field(G *g, LLVMValueRef ctx, unsigned i, LLVMTypeRef t, const char *name)
{
    return LLVMBuildLoad2(g->B, t, LLVMBuildStructGEP2(g->B, g->ctx_ty, ctx, i, ""), name);
}

static LLVMValueRef gen_func(G *g, const CgFunc *cf, LLVMValueRef *kfn)
{
    LLVMTypeRef params[3] = {g->ptr, g->ptr, g->i64};
    LLVMValueRef f = new_func(g, arena_printf(g->a, "%s_%s", g->model, cg_c_ident(g->a, cf->fn->name)), g->vd, params, 3,
                              true);
    LLVMValueRef ctx = LLVMGetParam(f, 0), tokens = LLVMGetParam(f, 1), T = LLVMGetParam(f, 2);
    LLVMSetValueName2(ctx, "ctx", 3);
    LLVMSetValueName2(tokens, "tokens", 6);
    LLVMSetValueName2(T, "T", 1);
    LLVMValueRef *slots = ARENA_NEW_N(g->a, LLVMValueRef, cf->n_calls ? cf->n_calls : 1);
    for (int c = 0; c < cf->n_calls; c++) {
        const KirKernel *k = g->p->kernels[cf->calls[c].kernel];
        slots[c] = LLVMBuildAlloca(g->B, LLVMGetTypeByName2(g->C, arena_printf(g->a, "%s.args", k->name)), "args");
    }
    LLVMValueRef weights = ctx_field(g, ctx, 1, g->ptr, "weights");
    LLVMValueRef state = ctx_field(g, ctx, 2, g->ptr, "state");
    LLVMValueRef scratch = ctx_field(g, ctx, 3, g->ptr, "scratch");
    LLVMValueRef pos = LLVMBuildSExt(g->B, ctx_field(g, ctx, 4, g->i32, ""), g->i64, "pos");
    LLVMValueRef pool = ctx_field(g, ctx, 6, g->ptr, "pool");
    for (int c = 0; c < cf->n_calls; c++) {
        const CgCall *cc = &cf->calls[c];
        const KirKernel *k = g->p->kernels[cc->kernel];
        LLVMTypeRef at = LLVMGetTypeByName2(g->C, arena_printf(g->a, "%s.args", k->name));
        unsigned fi = 0;
        for (int b = 0; b < k->n_bufs; b++) {
            if (k->bufs[b].role == KIR_ROLE_CONST) continue;
            const CgBind *bd = &cc->binds[b];
            LLVMValueRef v = NULL;
            switch (bd->place) {
            case CG_AT_SCRATCH: v = byte_ptr(g, scratch, bd->offset); break;
            case CG_AT_WEIGHTS: v = byte_ptr(g, weights, g->p->param_offset[bd->ir_id]); break;
            case CG_AT_STATE: v = byte_ptr(g, state, g->p->state_offset[bd->ir_id]); break;
            case CG_AT_TOKENS: v = tokens; break;
            case CG_AT_NONE: v = LLVMConstNull(g->ptr); break;
            }
            LLVMBuildStore(g->B, v, LLVMBuildStructGEP2(g->B, at, slots[c], fi++, ""));
        }
        LLVMBuildStore(g->B, T, LLVMBuildStructGEP2(g->B, at, slots[c], fi++, ""));
        LLVMBuildStore(g->B, pos, LLVMBuildStructGEP2(g->B, at, slots[c], fi++, ""));
        LLVMValueRef a[2] = {slots[c], pool};
        call(g, kfn[cc->kernel], a, 2, "");
    }
    LLVMBuildRetVoid(g->B);
    return f;
}

static int64_t embed_rows(const IrModule *m, const IrFunc *fn, int64_t *d_model)
{
    int64_t rows = -1;
    for (int i = 0; i < fn->n_insts; i++) {
        const IrInst *in = &fn->insts[i];
        if (in->op != IR_OP_EMBED) continue;
        IrOperand t = ir_inst_operand(in, "table");
        const IrType *ty = &m->params[t.id].type;
        if (rows < 0 || ty->dims[0] < rows) rows = ty->dims[0];
        if (*d_model == 0) *d_model = ty->dims[1];
    }
    return rows;
}

typedef struct TokCheck {
    LLVMValueRef tokens;
    int64_t rows;
    LLVMBasicBlockRef bad;
} TokCheck;

static void body_tokcheck(G *g, LLVMValueRef iv, void *ctx)
{
    const TokCheck *tc = ctx;
    LLVMValueRef t = LLVMBuildLoad2(g->B, g->i32, LLVMBuildInBoundsGEP2(g->B, g->i32, tc->tokens, &iv, 1, ""), "");
    /* unsigned compare: t < 0 or t >= rows */
    LLVMValueRef c = LLVMBuildICmp(g->B, LLVMIntUGE, t, ci32(g, tc->rows), "");
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(g->C, g->fn, "tok.ok");
    LLVMBuildCondBr(g->B, c, tc->bad, ok);
    LLVMPositionBuilderAtEnd(g->B, ok);
}

static LLVMValueRef gstring(G *g, const char *s, const char *name)
{
    LLVMValueRef init = LLVMConstStringInContext(g->C, s, (unsigned)strlen(s), false);
    LLVMValueRef gv = LLVMAddGlobal(g->M, LLVMTypeOf(init), name);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, true);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
    return gv;
}

static void gen_forward(G *g, LLVMValueRef prefill, LLVMValueRef decode)
{
    const CgProgram *p = g->p;
    const IrModule *m = p->m;
    const IrFunc *pf = ir_find_func(m, "prefill"), *df = ir_find_func(m, "decode");
    HYC_ASSERT(pf && df && pf->has_ret_type);
    int64_t vocab = pf->ret_type.dims[1], d_model = 0;
    int64_t rows = embed_rows(m, pf, &d_model);
    const CgFunc *cp = NULL, *cd = NULL;
    for (int f = 0; f < p->n_funcs; f++) {
        if (p->funcs[f].fn == pf) cp = &p->funcs[f];
        if (p->funcs[f].fn == df) cd = &p->funcs[f];
    }
    LLVMTypeRef params[5] = {g->ptr, g->ptr, g->i32, g->ptr, g->i32};
    LLVMValueRef f = new_func(g, arena_printf(g->a, "%s_forward", g->model), g->i32, params, 5, true);
    LLVMValueRef ctx = LLVMGetParam(f, 0), tokens = LLVMGetParam(f, 1), n = LLVMGetParam(f, 2),
                 logits = LLVMGetParam(f, 3), mode = LLVMGetParam(f, 4);
    LLVMSetValueName2(ctx, "ctx", 3);
    LLVMSetValueName2(tokens, "tokens", 6);
    LLVMSetValueName2(n, "n_tokens", 8);
    LLVMSetValueName2(logits, "logits", 6);
    LLVMSetValueName2(mode, "logits_mode", 11);
    LLVMBasicBlockRef bad1 = LLVMAppendBasicBlockInContext(g->C, f, "bad.batch");
    LLVMBasicBlockRef chk = LLVMAppendBasicBlockInContext(g->C, f, "check");
    /* n_tokens < 1 || n_tokens > max_batch, as one unsigned compare */
    LLVMValueRef nm1 = LLVMBuildSub(g->B, n, ci32(g, 1), "");
    LLVMBuildCondBr(g->B, LLVMBuildICmp(g->B, LLVMIntUGE, nm1, ci32(g, p->max_batch), ""), bad1, chk);
    LLVMPositionBuilderAtEnd(g->B, bad1);
    LLVMBuildRet(g->B, ci32(g, 1));
    LLVMPositionBuilderAtEnd(g->B, chk);
    LLVMValueRef n64 = LLVMBuildSExt(g->B, n, g->i64, "");
    if (rows >= 0 && rows < vocab) {
        TokCheck tc = {tokens, rows, LLVMAppendBasicBlockInContext(g->C, f, "bad.token")};
        build_loop(g, ci64(g, 0), n64, 1, NULL, body_tokcheck, &tc);
        LLVMBasicBlockRef cont = LLVMGetInsertBlock(g->B);
        LLVMPositionBuilderAtEnd(g->B, tc.bad);
        LLVMBuildRet(g->B, ci32(g, 2));
        LLVMPositionBuilderAtEnd(g->B, cont);
    }
    /* prefill returns every row, or (passes/last_logits.c) only the last:
     * then it cannot give every position's logits */
    bool last_only = pf->ret_type.dims[0] == 1;
    if (last_only) {
        LLVMBasicBlockRef bad3 = LLVMAppendBasicBlockInContext(g->C, f, "bad.all_logits");
        LLVMBasicBlockRef go = LLVMAppendBasicBlockInContext(g->C, f, "run");
        LLVMValueRef multi = LLVMBuildICmp(g->B, LLVMIntSGT, n, ci32(g, 1), "");
        LLVMValueRef all = LLVMBuildICmp(g->B, LLVMIntEQ, mode, ci32(g, HYCRT_LOGITS_ALL), "");
        LLVMBuildCondBr(g->B, LLVMBuildAnd(g->B, multi, all, ""), bad3, go);
        LLVMPositionBuilderAtEnd(g->B, bad3);
        LLVMBuildRet(g->B, ci32(g, HYCRT_FORWARD_NO_ALL_LOGITS));
        LLVMPositionBuilderAtEnd(g->B, go);
    }
    LLVMBasicBlockRef bdec = LLVMAppendBasicBlockInContext(g->C, f, "decode");
    LLVMBasicBlockRef bpre = LLVMAppendBasicBlockInContext(g->C, f, "prefill");
    LLVMBasicBlockRef bout = LLVMAppendBasicBlockInContext(g->C, f, "out");
    LLVMBuildCondBr(g->B, LLVMBuildICmp(g->B, LLVMIntEQ, n, ci32(g, 1), ""), bdec, bpre);
    LLVMPositionBuilderAtEnd(g->B, bdec);
    LLVMValueRef a[3] = {ctx, tokens, ci64(g, 1)};
    call(g, decode, a, 3, "");
    LLVMValueRef od = byte_ptr(g, ctx_field(g, ctx, 3, g->ptr, "scratch"), cd->value_offset[df->ret]);
    LLVMBuildBr(g->B, bout);
    LLVMPositionBuilderAtEnd(g->B, bpre);
    a[2] = n64;
    call(g, prefill, a, 3, "");
    LLVMValueRef op = byte_ptr(g, ctx_field(g, ctx, 3, g->ptr, "scratch"), cp->value_offset[pf->ret]);
    LLVMBuildBr(g->B, bout);
    LLVMPositionBuilderAtEnd(g->B, bout);
    LLVMValueRef out = LLVMBuildPhi(g->B, g->ptr, "out");
    LLVMValueRef iv[2] = {od, op};
    LLVMBasicBlockRef ib[2] = {bdec, bpre};
    LLVMAddIncoming(out, iv, ib, 2);
    /* the last position's row: row n - 1 of all rows, row 0 of last_only */
    LLVMValueRef last_off = last_only ? ci64(g, 0) : LLVMBuildNSWMul(g->B, LLVMBuildNSWSub(g->B, n64, ci64(g, 1), ""), ci64(g, vocab * 4), "");
    LLVMBasicBlockRef ball = LLVMAppendBasicBlockInContext(g->C, f, "logits.all");
    LLVMBasicBlockRef bnall = LLVMAppendBasicBlockInContext(g->C, f, "logits.notall");
    LLVMBasicBlockRef blast = LLVMAppendBasicBlockInContext(g->C, f, "logits.last");
    LLVMBasicBlockRef bdone = LLVMAppendBasicBlockInContext(g->C, f, "done");
    LLVMBuildCondBr(g->B, LLVMBuildICmp(g->B, LLVMIntEQ, mode, ci32(g, HYCRT_LOGITS_ALL), ""), ball, bnall);
    LLVMPositionBuilderAtEnd(g->B, ball);
    LLVMBuildMemCpy(g->B, logits, 4, out, 4, LLVMBuildNSWMul(g->B, n64, ci64(g, vocab * 4), ""));
    LLVMBuildBr(g->B, bdone);
    LLVMPositionBuilderAtEnd(g->B, bnall);
    LLVMBuildCondBr(g->B, LLVMBuildICmp(g->B, LLVMIntEQ, mode, ci32(g, HYCRT_LOGITS_LAST), ""), blast, bdone);
    LLVMPositionBuilderAtEnd(g->B, blast);
    LLVMValueRef src = LLVMBuildInBoundsGEP2(g->B, g->i8, out, &last_off, 1, "");
    LLVMBuildMemCpy(g->B, logits, 4, src, 4, ci64(g, vocab * 4));
    LLVMBuildBr(g->B, bdone);
    LLVMPositionBuilderAtEnd(g->B, bdone);
    LLVMValueRef pp = LLVMBuildStructGEP2(g->B, g->ctx_ty, ctx, 4, "");
    LLVMBuildStore(g->B, LLVMBuildAdd(g->B, LLVMBuildLoad2(g->B, g->i32, pp, "pos"), n, ""), pp);
    LLVMBuildRet(g->B, ci32(g, 0));

    /* the descriptor */
    LLVMValueRef tensors = LLVMConstNull(g->ptr);
    if (m->n_params > 0) {
        LLVMValueRef *ts = ARENA_NEW_N(g->a, LLVMValueRef, m->n_params);
        for (int i = 0; i < m->n_params; i++) {
            const IrType *t = &m->params[i].type;
            uint64_t ne = 1;
            LLVMValueRef sh[4];
            for (int d = 0; d < 4; d++) sh[d] = ci64(g, d < t->rank ? t->dims[d] : 0);
            for (int d = 0; d < t->rank; d++) ne *= (uint64_t)t->dims[d];
            LLVMValueRef fv[6] = {gstring(g, m->params[i].name, arena_printf(g->a, "%s.tname.%d", g->model, i)),
                                  ci32(g, HYCRT_F32), ci32(g, t->rank), LLVMConstArray2(g->i64, sh, 4),
                                  ci64(g, (int64_t)p->param_offset[i]), ci64(g, (int64_t)(ne * 4))};
            ts[i] = LLVMConstNamedStruct(g->tensor_ty, fv, 6);
        }
        LLVMValueRef init = LLVMConstArray2(g->tensor_ty, ts, (uint64_t)m->n_params);
        tensors = LLVMAddGlobal(g->M, LLVMTypeOf(init), arena_printf(g->a, "%s_tensors", g->model));
        LLVMSetInitializer(tensors, init);
        LLVMSetGlobalConstant(tensors, true);
        LLVMSetLinkage(tensors, LLVMInternalLinkage);
    }
    int nk = p->n_kernels > 0 ? p->n_kernels : 1;
    LLVMValueRef *kn = ARENA_NEW_N(g->a, LLVMValueRef, nk);
    for (int i = 0; i < nk; i++)
        kn[i] = i < p->n_kernels ? gstring(g, p->kernels[i]->name, arena_printf(g->a, "%s.kname.%d", g->model, i))
                                 : LLVMConstNull(g->ptr);
    LLVMValueRef kinit = LLVMConstArray2(g->ptr, kn, (uint64_t)nk);
    LLVMValueRef knames = LLVMAddGlobal(g->M, LLVMTypeOf(kinit), arena_printf(g->a, "%s_kernel_names", g->model));
    LLVMSetInitializer(knames, kinit);
    LLVMSetGlobalConstant(knames, true);
    LLVMSetLinkage(knames, LLVMInternalLinkage);
    LLVMValueRef dv[16] = {
        ci32(g, HYCRT_ABI_VERSION),
        gstring(g, m->name, arena_printf(g->a, "%s.name", g->model)),
        LLVMConstInt(g->i64, cg_weights_hash(p), false),
        ci32(g, vocab),
        ci32(g, d_model),
        ci32(g, m->max_seq),
        ci32(g, p->max_batch),
        ci32(g, m->n_params),
        tensors,
        ci64(g, (int64_t)p->weights_bytes),
        ci64(g, (int64_t)p->state_bytes),
        ci64(g, (int64_t)p->scratch_bytes),
        LLVMConstNull(g->ptr),
        f,
        ci32(g, p->n_kernels),
        knames,
    };
    LLVMValueRef desc = LLVMAddGlobal(g->M, g->desc_ty, arena_printf(g->a, "%s_desc", g->model));
    LLVMSetInitializer(desc, LLVMConstNamedStruct(g->desc_ty, dv, 16));
    LLVMSetGlobalConstant(desc, true);
    LLVMSetAlignment(desc, 8);
    if (p->opts.emit_main) {
        LLVMTypeRef mp[2] = {g->i32, g->ptr};
        LLVMValueRef mf = new_func(g, "main", g->i32, mp, 2, false);
        LLVMTypeRef hp[3] = {g->i32, g->ptr, g->ptr};
        LLVMValueRef hm = declare(g, "hycrt_main", g->i32, hp, 3);
        LLVMValueRef ha[3] = {LLVMGetParam(mf, 0), LLVMGetParam(mf, 1), desc};
        LLVMBuildRet(g->B, call(g, hm, ha, 3, ""));
    }
}

/* ---- runtime types (runtime/hycrt.h, field by field) -------------------------------- */

static void runtime_types(G *g)
{
    /* struct hycrt_ctx { desc, weights, state, scratch, pos, reserved, pool, prof, user } */
    LLVMTypeRef ctx[9] = {g->ptr, g->ptr, g->ptr, g->ptr, g->i32, g->i32, g->ptr, g->ptr, g->ptr};
    g->ctx_ty = LLVMStructCreateNamed(g->C, "hycrt_ctx");
    LLVMStructSetBody(g->ctx_ty, ctx, 9, false);
    /* struct hycrt_tensor_desc { name, dtype, ndim, shape[4], offset, size } */
    LLVMTypeRef td[6] = {g->ptr, g->i32, g->i32, LLVMArrayType2(g->i64, 4), g->i64, g->i64};
    g->tensor_ty = LLVMStructCreateNamed(g->C, "hycrt_tensor_desc");
    LLVMStructSetBody(g->tensor_ty, td, 6, false);
    /* struct hycrt_model_desc */
    LLVMTypeRef md[16] = {g->i32, g->ptr, g->i64, g->i32, g->i32, g->i32, g->i32, g->i32,
                          g->ptr, g->i64, g->i64, g->i64, g->ptr, g->ptr, g->i32, g->ptr};
    g->desc_ty = LLVMStructCreateNamed(g->C, "hycrt_model_desc");
    LLVMStructSetBody(g->desc_ty, md, 16, false);
}

/* ---- target, passes, output --------------------------------------------------------- */

static bool target_init(void)
{
    static int done = 0;
    if (!done) {
        done = (LLVMInitializeNativeTarget() == 0 && LLVMInitializeNativeAsmPrinter() == 0) ? 1 : -1;
    }
    return done == 1;
}

bool cg_llvm_target_cpu(const CgProgram *p, const CgLlvmOptions *o, const char **cpu, const char **features)
{
    const char *t = o && o->target ? o->target : p->opts.target.name;
    *features = o && o->features ? o->features : "";
    if (o && o->cpu) {
        *cpu = o->cpu;
    } else if (!t || strcmp(t, "generic") == 0) {
        *cpu = "x86-64";
    } else if (strcmp(t, "x86-64-v3") == 0 || strcmp(t, "x86-64-v4") == 0 || strcmp(t, "x86-64-v2") == 0) {
        *cpu = t;
    } else if (strcmp(t, "native") == 0) {
        *cpu = "native";
    } else {
        return false;
    }
    return true;
}

static LLVMTargetMachineRef make_tm(const CgProgram *p, const CgLlvmOptions *o, Diag *diag, char **triple_out)
{
    if (!target_init()) {
        diag_error(diag, loc_none(), "llvm: the native target is not available");
        return NULL;
    }
    char *triple = o && o->triple ? LLVMCreateMessage(o->triple) : LLVMGetDefaultTargetTriple();
    const char *cpu, *features;
    if (!cg_llvm_target_cpu(p, o, &cpu, &features)) {
        diag_error(diag, loc_none(), "llvm: unknown target '%s' (native, generic, x86-64-v3, x86-64-v4)",
                   o && o->target ? o->target : "?");
        LLVMDisposeMessage(triple);
        return NULL;
    }
    char *host_cpu = NULL, *host_feat = NULL;
    if (strcmp(cpu, "native") == 0) {
        host_cpu = LLVMGetHostCPUName();
        host_feat = LLVMGetHostCPUFeatures();
        cpu = host_cpu;
        if (!(o && o->features)) features = host_feat;
    } else if (strncmp(triple, "x86_64", 6) != 0 && strcmp(cpu, "x86-64") == 0) {
        cpu = "generic";
    }
    LLVMTargetRef T;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(triple, &T, &err)) {
        diag_error(diag, loc_none(), "llvm: target %s: %s", triple, err ? err : "unknown");
        LLVMDisposeMessage(err);
        LLVMDisposeMessage(triple);
        return NULL;
    }
    int lvl = o ? o->opt_level : 2;
    LLVMCodeGenOptLevel cl = lvl <= 0 ? LLVMCodeGenLevelNone : lvl == 1 ? LLVMCodeGenLevelLess
                           : lvl == 2 ? LLVMCodeGenLevelDefault : LLVMCodeGenLevelAggressive;
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(T, triple, cpu, features, cl, LLVMRelocPIC, LLVMCodeModelDefault);
    if (host_cpu) LLVMDisposeMessage(host_cpu);
    if (host_feat) LLVMDisposeMessage(host_feat);
    if (!tm) {
        diag_error(diag, loc_none(), "llvm: cannot create a target machine for %s", triple);
        LLVMDisposeMessage(triple);
        return NULL;
    }
    *triple_out = triple;
    return tm;
}

/* Build (and verify) the module; NULL after an error. */
static LLVMModuleRef build_module(G *g, LLVMTargetMachineRef tm, const char *triple, Diag *diag)
{
    const CgProgram *p = g->p;
    g->M = LLVMModuleCreateWithNameInContext(g->model, g->C);
    LLVMSetSourceFileName(g->M, p->m->name, strlen(p->m->name));
    LLVMSetTarget(g->M, triple);
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(g->M, td);
    LLVMDisposeTargetData(td);
    g->B = LLVMCreateBuilderInContext(g->C);
    g->f32 = LLVMFloatTypeInContext(g->C);
    g->f64 = LLVMDoubleTypeInContext(g->C);
    g->i1 = LLVMInt1TypeInContext(g->C);
    g->i8 = LLVMInt8TypeInContext(g->C);
    g->i32 = LLVMInt32TypeInContext(g->C);
    g->i64 = LLVMInt64TypeInContext(g->C);
    g->ptr = LLVMPointerTypeInContext(g->C, 0);
    g->vd = LLVMVoidTypeInContext(g->C);
    g->md_loop = LLVMGetMDKindIDInContext(g->C, "llvm.loop", 9);
    g->nounwind = LLVMCreateEnumAttribute(g->C, LLVMGetEnumAttributeKindForName("nounwind", 8), 0);
    runtime_types(g);
    LLVMValueRef *kfn = ARENA_NEW_N(g->a, LLVMValueRef, p->n_kernels ? p->n_kernels : 1);
    for (int i = 0; i < p->n_kernels; i++) kfn[i] = gen_kernel(g, i);
    LLVMValueRef pre = NULL, dec = NULL;
    for (int f = 0; f < p->n_funcs; f++) {
        LLVMValueRef fn = gen_func(g, &p->funcs[f], kfn);
        if (strcmp(p->funcs[f].fn->name, "prefill") == 0) pre = fn;
        if (strcmp(p->funcs[f].fn->name, "decode") == 0) dec = fn;
    }
    HYC_ASSERT(pre && dec);
    gen_forward(g, pre, dec);
    LLVMDisposeBuilder(g->B);
    char *err = NULL;
    if (LLVMVerifyModule(g->M, LLVMReturnStatusAction, &err)) {
        diag_error(diag, loc_none(), "llvm: the module of %s does not verify: %s", g->model, err ? err : "");
        LLVMDisposeMessage(err);
        LLVMDisposeModule(g->M);
        return NULL;
    }
    LLVMDisposeMessage(err);
    return g->M;
}

/* LLVM's diagnostics: errors are reported, warnings and remarks (a
 * vectorization hint the vectorizer could not honour: a libm call in the
 * loop) dropped — the hints are requests, not promises. */
typedef struct DiagSink {
    Diag *diag;
} DiagSink;

static void on_llvm_diag(LLVMDiagnosticInfoRef di, void *ctx)
{
    DiagSink *ds = ctx;
    if (LLVMGetDiagInfoSeverity(di) != LLVMDSError) return;
    char *msg = LLVMGetDiagInfoDescription(di);
    diag_error(ds->diag, loc_none(), "llvm: %s", msg);
    LLVMDisposeMessage(msg);
}

bool cg_emit_llvm(const CgProgram *p, const CgLlvmOptions *o, CgLlvmOutput kind, const char *path, Diag *diag)
{
    Arena a;
    arena_init(&a);
    G g = {0};
    g.a = &a;
    g.p = p;
    g.model = cg_c_ident(&a, p->m->name);
    char *triple = NULL;
    LLVMTargetMachineRef tm = make_tm(p, o, diag, &triple);
    if (!tm) {
        arena_free(&a);
        return false;
    }
    g.C = LLVMContextCreate();
    DiagSink sink = {diag};
    LLVMContextSetDiagnosticHandler(g.C, on_llvm_diag, &sink);
    bool ok = false;
    LLVMModuleRef M = build_module(&g, tm, triple, diag);
    if (M) {
        int lvl = o ? o->opt_level : 2;
        if (lvl < 0) lvl = 0;
        if (lvl > 3) lvl = 3;
        char passes[32];
        snprintf(passes, sizeof passes, "default<O%d>", lvl);
        LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
        LLVMPassBuilderOptionsSetLoopVectorization(po, lvl >= 2);
        LLVMPassBuilderOptionsSetSLPVectorization(po, lvl >= 2);
        /* unroll and interleave where the schedule says (loop metadata)
         * only: the schedule is the tuner's to choose, and the code stays
         * small */
        LLVMPassBuilderOptionsSetLoopUnrolling(po, false);
        LLVMPassBuilderOptionsSetLoopInterleaving(po, false);
        LLVMPassBuilderOptionsSetVerifyEach(po, o && o->verify_each);
        LLVMErrorRef e = LLVMRunPasses(M, passes, tm, po);
        LLVMDisposePassBuilderOptions(po);
        char *err = NULL;
        if (e) {
            char *msg = LLVMGetErrorMessage(e);
            diag_error(diag, loc_none(), "llvm: passes: %s", msg);
            LLVMDisposeErrorMessage(msg);
        } else if (LLVMVerifyModule(M, LLVMReturnStatusAction, &err)) {
            diag_error(diag, loc_none(), "llvm: the optimized module does not verify: %s", err ? err : "");
        } else {
            switch (kind) {
            case CG_LLVM_IR:
                LLVMDisposeMessage(err);
                err = NULL;
                ok = !LLVMPrintModuleToFile(M, path, &err);
                break;
            case CG_LLVM_BC: ok = LLVMWriteBitcodeToFile(M, path) == 0; break;
            case CG_LLVM_ASM:
            case CG_LLVM_OBJ:
                LLVMDisposeMessage(err);
                err = NULL;
                ok = !LLVMTargetMachineEmitToFile(tm, M, path, kind == CG_LLVM_OBJ ? LLVMObjectFile : LLVMAssemblyFile, &err);
                break;
            }
            if (!ok) diag_error(diag, loc_none(), "llvm: cannot write %s%s%s", path, err ? ": " : "", err ? err : "");
        }
        if (err) LLVMDisposeMessage(err);
        LLVMDisposeModule(M);
    }
    LLVMContextDispose(g.C);
    LLVMDisposeTargetMachine(tm);
    LLVMDisposeMessage(triple);
    arena_free(&a);
    return ok;
}

bool cg_llvm_output_lookup(const char *name, CgLlvmOutput *out)
{
    static const struct {
        const char *name;
        CgLlvmOutput k;
    } t[] = {{"llvm", CG_LLVM_IR}, {"ll", CG_LLVM_IR}, {"bc", CG_LLVM_BC}, {"obj", CG_LLVM_OBJ}, {"asm", CG_LLVM_ASM}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(name, t[i].name) == 0) {
            *out = t[i].k;
            return true;
        }
    return false;
}
