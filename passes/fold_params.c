/* fold_params.c — computations on weights alone done once, at load time.
 * requires: nothing  provides: nothing  (invalidates no-dead-code)
 *
 * Mamba's `A = -exp(A_log)` is two instructions whose operands are params:
 * every prefill and every decode call recomputed them (a kernel dispatch
 * each).  An instruction whose op is elementwise, position-free and has no
 * attribute but scale's factor (ir_pexpr_op_ok: silu, relu2, softplus,
 * sigmoid, exp, neg, add, sub, mul of one shape; and scale) and whose
 * operands are all params, or values already folded, becomes a derived
 * param (docs/ir.md "Derived params"):
 *
 *   %1 = exp(@A_log)  %2 = neg(%1)  ... scan(..., %2, ...)
 *     -> param @A_log.neg = neg(exp(@A_log : type))  ... scan(..., @A_log.neg, ...)
 *
 * A chain folds into one expression; a param is made only where a kept
 * instruction reads the chain (equal expressions share one, so prefill and
 * decode read the same weight).  The binder computes the expression with
 * the interpreter's kernels, so results are unchanged up to f32 rounding of
 * merged scales.  Kept as an instruction (its folded operands read as
 * params): a result of another type than its f32 expression (bf16
 * operands), one the function returns or a slot that takes values only
 * reads, and one whose expression would nest deeper than the limit. */
#include "passes.h"

static int pexpr_depth(const IrPExpr *e)
{
    int d = 0;
    for (int i = 0; i < e->n_args; i++) {
        int k = pexpr_depth(e->args[i]);
        if (k > d) d = k;
    }
    return d + 1;
}

typedef struct Folder {
    IrModule *m;
    IrFunc *fn;
    const IrPExpr **expr; /* old value id -> its expression, or NULL */
    bool *needs_value;    /* old value id -> read where a param cannot be */
} Folder;

/* Old values read where only a value may be: the return, IR_OC_VALUE slots. */
static bool *values_needed(IrFunc *fn, Arena *a)
{
    bool *need = ARENA_NEW_N(a, bool, fn->n_values ? fn->n_values : 1);
    for (int i = 0; i < fn->n_insts; i++) {
        const IrInst *in = &fn->insts[i];
        const IrOpInfo *info = ir_op_info(in->op);
        for (int k = 0; k < in->n_operands; k++) {
            if (in->operands[k].kind != IR_OPND_VALUE) continue;
            const IrOperandSpec *s = &info->slots[k < info->n_slots ? k : info->n_slots - 1];
            if (s->cls != IR_OC_TENSOR && s->cls != IR_OC_PARAM) need[in->operands[k].id] = true;
        }
    }
    if (fn->ret >= 0) need[fn->ret] = true;
    return need;
}

/* The expression of an old operand: a param's, or a folded value's; NULL
 * when the operand depends on the call. */
static const IrPExpr *operand_expr(Folder *F, IrOperand o)
{
    if (o.kind == IR_OPND_PARAM) return ir_param_expr(F->m, (IrParam){o.id});
    if (o.kind == IR_OPND_VALUE) return F->expr[o.id];
    return NULL;
}

/* The expression in->result folds into, or NULL when it stays. */
static const IrPExpr *fold_expr(Folder *F, const IrInst *in)
{
    bool scale = in->op == IR_OP_SCALE;
    if (in->result < 0 || (!scale && !ir_pexpr_op_ok(in->op))) return NULL;
    const IrPExpr *args[IR_MAX_SLOTS];
    if (in->n_operands > IR_MAX_SLOTS) return NULL;
    for (int k = 0; k < in->n_operands; k++)
        if (!(args[k] = operand_expr(F, in->operands[k]))) return NULL;
    const IrPExpr *e = scale ? ir_pexpr_scale(F->m, args[0], ir_attr_f(in, "factor"))
                             : ir_pexpr_op(F->m, in->op, args, in->n_operands);
    const IrType *rt = &F->fn->values[in->result].type;
    if (!e || !ir_type_eq(&e->type, rt) || pexpr_depth(e) > IR_PEXPR_MAX_DEPTH) return NULL;
    return e;
}

/* The first leaf's name, to name a derived param after its source. */
static const char *first_leaf(const IrPExpr *e)
{
    while (e->kind != IR_PEXPR_PARAM && e->n_args > 0) e = e->args[0];
    return e->kind == IR_PEXPR_PARAM ? e->name : "folded";
}

/* Operands of the new instruction ni that read folded values read their
 * derived params instead. */
static void read_params(Folder *F, const IrInst *old, IrInst *ni)
{
    IrModule *m = F->m;
    for (int k = 0; k < old->n_operands; k++) {
        IrOperand o = old->operands[k];
        if (o.kind != IR_OPND_VALUE || !F->expr[o.id]) continue;
        const IrPExpr *e = F->expr[o.id];
        const char *op = e->kind == IR_PEXPR_OP ? ir_op_name((IrOp)e->op) : "scaled";
        IrParam p = ir_derived_param(m, arena_printf(m->arena, "%s.%s", first_leaf(e), op), e, old->loc);
        ni->operands[k] = (IrOperand){IR_OPND_PARAM, p.id};
    }
}

static int fold_func(IrModule *m, IrFunc *fn)
{
    Folder F = {m, fn, ARENA_NEW_N(m->arena, const IrPExpr *, fn->n_values ? fn->n_values : 1),
                values_needed(fn, m->arena)};
    int folded = 0;
    IrRewrite rw;
    ir_rewrite_begin(&rw, fn);
    for (int i = 0; i < rw.n_old; i++) {
        const IrInst *in = &rw.old[i];
        const IrPExpr *e = fold_expr(&F, in);
        if (e && !F.needs_value[in->result]) {
            F.expr[in->result] = e; /* its readers read a param from now on */
            folded++;
            continue;
        }
        ir_rewrite_copy(&rw, in);
        read_params(&F, in, &fn->insts[fn->n_insts - 1]);
    }
    ir_rewrite_end(&rw);
    return folded;
}

static bool run_fold_params(IrModule *m, PassCtx *ctx)
{
    int folded = 0;
    for (int i = 0; i < m->n_funcs; i++) folded += fold_func(m, m->funcs[i]);
    if (folded) ir_drop_unused_params(m);
    ctx->changes += folded;
    return true;
}

const Pass pass_fold_params = {
    .name = "fold-params",
    .description = "compute elementwise ops on params alone (A = -exp(A_log)) once, as derived params",
    .requires = 0,
    .provides = 0,
    .invalidates = PASS_PROP_NO_DEAD_CODE,
    .run = run_fold_params,
};
