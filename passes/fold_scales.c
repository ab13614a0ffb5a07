/* fold_scales.c — constant multipliers folded into the weights.
 * requires: nothing  provides: nothing  (invalidates no-dead-code)
 *
 * µP-style models (Falcon-H1) multiply activations by constants around
 * their projections: embedding, attention in/out, SSM in/out, MLP gate and
 * down, LM head multipliers.  Each `scale` next to a matmul or an embedding
 * is one more pass over a [T, d] activation; folded into the weight it costs
 * nothing at run time:
 *
 *   scale(matmul(x, @W, @b)){f}            -> matmul(x, @W', @b')   W' = f W, b' = f b
 *   scale(reshape(matmul(x, @W, @b))){f}   -> reshape(matmul(x, @W', @b'))
 *   matmul(scale(x){f}, @W, @b)            -> matmul(x, @W', @b)     W' = f W
 *   scale(embed(tokens, @E)){f}            -> embed(tokens, @E')     E' = f E
 *
 * The first two need the matmul's result to have no other use; the third
 * needs every use of the scale to be the x of a matmul (each gets its own
 * W'); the last, the embedding's result to have no other use.  W' is a
 * derived param `@W.scaled = scale(@W : type, f)` (docs/ir.md "Derived
 * params"), one per (param, factor) in the module, shared by prefill and
 * decode; a param that nothing reads afterwards is dropped from the
 * module.  The weights are loaded as before and W' computed from them, so
 * the results differ from the unfolded model only by rounding. */
#include "passes.h"

#include <string.h>

typedef struct Folder {
    IrModule *m;
    /* (param, factor) -> derived param, module-wide */
    int *cache_src, *cache_dst;
    double *cache_f;
    int n_cache, cap_src, cap_dst, cap_f;
} Folder;

/* f·@p as a param: a derived one made once per (p, f). */
static IrOperand scaled(Folder *F, IrOperand p, double f, SrcLoc loc)
{
    if (p.kind != IR_OPND_PARAM) return p; /* an absent bias */
    for (int i = 0; i < F->n_cache; i++)
        if (F->cache_src[i] == p.id && F->cache_f[i] == f) return (IrOperand){IR_OPND_PARAM, F->cache_dst[i]};
    IrModule *m = F->m;
    const IrPExpr *e = ir_pexpr_scale(m, ir_param_expr(m, (IrParam){p.id}), f);
    /* named after the checkpoint param when it is one scaled leaf */
    const char *base = e->kind == IR_PEXPR_SCALE && e->args[0]->kind == IR_PEXPR_PARAM ? e->args[0]->name
                                                                                         : m->params[p.id].name;
    IrParam d = ir_derived_param(m, arena_printf(m->arena, "%s.scaled", base), e, loc);
    int n = F->n_cache + 1;
    F->cache_src = ir_grow(m->arena, F->cache_src, sizeof(int), &F->cap_src, n);
    F->cache_dst = ir_grow(m->arena, F->cache_dst, sizeof(int), &F->cap_dst, n);
    F->cache_f = ir_grow(m->arena, F->cache_f, sizeof(double), &F->cap_f, n);
    F->cache_src[F->n_cache] = p.id;
    F->cache_dst[F->n_cache] = d.id;
    F->cache_f[F->n_cache] = f;
    F->n_cache = n;
    return (IrOperand){IR_OPND_PARAM, d.id};
}

/* Use counts of the old instruction list: all uses, and uses as a matmul's x. */
typedef struct Uses {
    int *all, *matmul_x;
} Uses;

static Uses count_uses(const IrFunc *fn, Arena *a)
{
    Uses u = {ARENA_NEW_N(a, int, fn->n_values), ARENA_NEW_N(a, int, fn->n_values)};
    for (int i = 0; i < fn->n_insts; i++) {
        const IrInst *in = &fn->insts[i];
        for (int k = 0; k < in->n_operands; k++) {
            if (in->operands[k].kind != IR_OPND_VALUE) continue;
            u.all[in->operands[k].id]++;
            if (in->op == IR_OP_MATMUL && k == ir_op_slot(IR_OP_MATMUL, "x")) u.matmul_x[in->operands[k].id]++;
        }
    }
    if (fn->ret >= 0) u.all[fn->ret]++;
    return u;
}

/* The old instruction defining old value v, or NULL. */
static const IrInst *old_def(const IrRewrite *rw, const int *old_defs, int v)
{
    return old_defs[v] >= 0 ? &rw->old[old_defs[v]] : NULL;
}

/* The new instruction that now defines old value v's replacement. */
static IrInst *new_def(IrRewrite *rw, int old_v)
{
    int v = ir_rewrite_value(rw, old_v).id;
    int d = rw->fn->values[v].def;
    HYC_ASSERT(d >= 0);
    return &rw->fn->insts[d];
}

/* scale{f} of old value x folded into its producer (already emitted);
 * true when it was. */
static bool fold_into_producer(Folder *F, IrRewrite *rw, const Uses *u, const int *old_defs, int x, double f)
{
    const IrInst *d = old_def(rw, old_defs, x);
    if (!d || u->all[x] != 1) return false;
    if (d->op == IR_OP_RESHAPE && d->operands[0].kind == IR_OPND_VALUE) {
        int y = d->operands[0].id;
        const IrInst *mm = old_def(rw, old_defs, y);
        if (!mm || mm->op != IR_OP_MATMUL || u->all[y] != 1) return false;
        d = mm;
        x = y;
    }
    /* a fused epilogue (fuse-epilogue) is not linear in W: leave it */
    if (d->op == IR_OP_MATMUL && ir_inst_operand(d, "res").kind == IR_OPND_NONE &&
        strcmp(ir_attr_s(d, "act"), "none") == 0) {
        IrInst *in = new_def(rw, x);
        int w = ir_op_slot(IR_OP_MATMUL, "w"), b = ir_op_slot(IR_OP_MATMUL, "bias");
        in->operands[w] = scaled(F, in->operands[w], f, d->loc);
        if (b < in->n_operands) in->operands[b] = scaled(F, in->operands[b], f, d->loc);
        return true;
    }
    if (d->op == IR_OP_EMBED) {
        IrInst *in = new_def(rw, x);
        int t = ir_op_slot(IR_OP_EMBED, "table");
        in->operands[t] = scaled(F, in->operands[t], f, d->loc);
        return true;
    }
    return false;
}

static int fold_func(Folder *F, IrFunc *fn)
{
    Arena *a = F->m->arena;
    Uses u = count_uses(fn, a);
    int *old_defs = ARENA_NEW_N(a, int, fn->n_values);
    for (int v = 0; v < fn->n_values; v++) old_defs[v] = fn->values[v].def;
    /* pre[v] >= 0: old value v is scale(pre[v]){pre_f[v]} read only as
     * matmul x operands, which read pre[v] with a scaled weight instead */
    int *pre = ARENA_NEW_N(a, int, fn->n_values);
    double *pre_f = ARENA_NEW_N(a, double, fn->n_values);
    for (int v = 0; v < fn->n_values; v++) pre[v] = -1;
    int folded = 0;
    IrRewrite rw;
    ir_rewrite_begin(&rw, fn);
    for (int i = 0; i < rw.n_old; i++) {
        const IrInst *in = &rw.old[i];
        if (in->op == IR_OP_SCALE && in->operands[0].kind == IR_OPND_VALUE) {
            int x = in->operands[0].id, r = in->result;
            double f = ir_attr_f(in, "factor");
            if (fold_into_producer(F, &rw, &u, old_defs, x, f)) {
                ir_rewrite_replace(&rw, r, ir_rewrite_value(&rw, x));
                folded++;
                continue;
            }
            if (u.all[r] > 0 && u.all[r] == u.matmul_x[r]) {
                pre[r] = x;
                pre_f[r] = f;
                folded++;
                continue;
            }
        }
        ir_rewrite_copy(&rw, in);
        if (in->op == IR_OP_MATMUL && in->operands[0].kind == IR_OPND_VALUE && pre[in->operands[0].id] >= 0) {
            int x = in->operands[0].id, w = ir_op_slot(IR_OP_MATMUL, "w");
            IrInst *ni = &fn->insts[fn->n_insts - 1];
            ni->operands[0] = (IrOperand){IR_OPND_VALUE, ir_rewrite_value(&rw, pre[x]).id};
            ni->operands[w] = scaled(F, ni->operands[w], pre_f[x], in->loc);
        }
    }
    ir_rewrite_end(&rw);
    return folded;
}

static bool run_fold_scales(IrModule *m, PassCtx *ctx)
{
    Folder F = {0};
    F.m = m;
    int folded = 0;
    for (int i = 0; i < m->n_funcs; i++) folded += fold_func(&F, m->funcs[i]);
    if (folded) ir_drop_unused_params(m);
    ctx->changes += folded;
    return true;
}

const Pass pass_fold_scales = {
    .name = "fold-scales",
    .description = "fold constant scales next to matmuls and embeddings into derived (scaled) weights",
    .requires = 0,
    .provides = 0,
    .invalidates = PASS_PROP_NO_DEAD_CODE,
    .run = run_fold_scales,
};
