/* last_logits.c — prefill computes the logits of the last position only.
 * requires: nothing  provides: nothing (runs only under PassOptions.logits_last)
 *
 * A prefill that feeds generation needs one row of logits, the last one; the
 * LM head (d_model x vocab per token) and the final norm need not run on the
 * other T - 1 rows.  Under `--logits last` this pass rewrites @prefill so
 * that it returns f32[1, vocab] (the verifier accepts that form; the runtime
 * then refuses requests for every position's logits):
 *
 *   %h = add(%r, %m) : f32[T, d]            %r1 = last_row(%r) : f32[1, d]
 *   %n = rmsnorm(%h, @norm) : f32[T, d]  -> %m1 = last_row(%m) : f32[1, d]
 *   %l = matmul(%n, @lm_head) : [T, V]      %h1 = add(%r1, %m1) : f32[1, d] ...
 *   return %l                                return %l1             (f32[1, V])
 *
 * The set of instructions moved to one row is the largest set S such that
 * every instruction in S is row-wise (row t of its result depends only on
 * row t of its token-row operands: matmul, norms, elementwise ops, slices,
 * concats, reshapes, softmax, routing and experts; never an op that reads
 * `pos` or state), yields a [T, ...] value, and has all of its uses in S or
 * the return.  Found in one backward sweep (uses come after definitions);
 * the token-row operands S takes from outside S get a `last_row`.  So the
 * final norm, the LM head and whatever row-wise tail of the last layer only
 * the logits read (typically its MLP) run on one row. */
#include "passes.h"

#include <string.h>

/* Row t of the result depends on row t of token-row operands only. */
static bool is_row_wise(IrOp op)
{
    switch (op) {
    case IR_OP_MATMUL:
    case IR_OP_RMSNORM:
    case IR_OP_RMS_SCALE:
    case IR_OP_LAYERNORM:
    case IR_OP_GROUP_RMSNORM:
    case IR_OP_GATED_RMSNORM:
    case IR_OP_L2NORM:
    case IR_OP_SILU:
    case IR_OP_GELU:
    case IR_OP_RELU2:
    case IR_OP_SOFTPLUS:
    case IR_OP_SIGMOID:
    case IR_OP_EXP:
    case IR_OP_NEG:
    case IR_OP_SCALE:
    case IR_OP_CLAMP:
    case IR_OP_ADD:
    case IR_OP_SUB:
    case IR_OP_MUL:
    case IR_OP_SOFTMAX:
    case IR_OP_SLICE:
    case IR_OP_CONCAT:
    case IR_OP_RESHAPE:
    case IR_OP_ROUTE:
    case IR_OP_MOE_EXPERTS: return true;
    default: return false;
    }
}

/* A float value with the token dim first (rank >= 2: last_row keeps the
 * feature dims). */
static bool is_token_rows(const IrType *t)
{
    return t->dims[0] == IR_DIM_T && t->rank >= 2 && t->dtype != IR_DT_I32;
}

/* in_s[i]: instruction i moves to one row.  Backward: an instruction's uses
 * are decided before it. */
static bool *find_one_row_set(const IrFunc *fn, Arena *a, int *count)
{
    bool *in_s = ARENA_NEW_N(a, bool, fn->n_insts ? fn->n_insts : 1);
    bool *s_use = ARENA_NEW_N(a, bool, fn->n_values);       /* read by S or returned */
    bool *outside_use = ARENA_NEW_N(a, bool, fn->n_values); /* read by an instruction not in S */
    s_use[fn->ret] = true;
    *count = 0;
    for (int i = fn->n_insts - 1; i >= 0; i--) {
        const IrInst *in = &fn->insts[i];
        int r = in->result;
        in_s[i] = r >= 0 && is_row_wise(in->op) && is_token_rows(&fn->values[r].type) && s_use[r] &&
                  !outside_use[r];
        if (in_s[i]) (*count)++;
        for (int k = 0; k < in->n_operands; k++) {
            IrOperand o = in->operands[k];
            if (o.kind != IR_OPND_VALUE) continue;
            if (in_s[i]) s_use[o.id] = true;
            else outside_use[o.id] = true;
        }
    }
    return in_s;
}

/* Append `old` with operands ops, its result retyped by the op's shape rule
 * (one row now); uses of the old result become uses of the new one. */
static void emit_one_row(IrRewrite *rw, const IrInst *old, const IrOperand *ops)
{
    IrFunc *fn = rw->fn;
    Arena *a = fn->mod->arena;
    IrInst ni = *old;
    ni.operands = ARENA_NEW_N(a, IrOperand, old->n_operands ? old->n_operands : 1);
    memcpy(ni.operands, ops, sizeof *ops * (size_t)old->n_operands);
    IrType t;
    char err[512];
    if (!ir_infer_type(fn->mod, fn, &ni, &t, err, sizeof err))
        HYC_DIE("last-logits: '%s' on one row does not type: %s", ir_op_name(old->op), err);
    ni.result = ir_func_new_value(fn, t);
    fn->insts = ir_grow(a, fn->insts, sizeof *fn->insts, &fn->cap_insts, fn->n_insts + 1);
    fn->insts[fn->n_insts] = ni;
    fn->values[ni.result].def = fn->n_insts;
    fn->n_insts++;
    ir_rewrite_replace(rw, old->result, (IrValue){ni.result});
}

/* Rewrite @prefill; the number of instructions moved to one row. */
static int last_logits_func(IrFunc *fn)
{
    Arena *a = fn->mod->arena;
    int count;
    bool *in_s = find_one_row_set(fn, a, &count);
    if (count == 0) return 0;
    /* last_row of each outside token-row value S reads, made once */
    int *row_of = ARENA_NEW_N(a, int, fn->n_values);
    for (int v = 0; v < fn->n_values; v++) row_of[v] = -1;
    IrRewrite rw;
    ir_rewrite_begin(&rw, fn);
    for (int i = 0; i < rw.n_old; i++) {
        const IrInst *in = &rw.old[i];
        if (!in_s[i]) {
            ir_rewrite_copy(&rw, in);
            continue;
        }
        IrOperand ops[IR_MAX_OPERANDS];
        for (int k = 0; k < in->n_operands; k++) {
            IrOperand o = ir_rewrite_operand(&rw, in->operands[k]);
            const IrType *t = o.kind == IR_OPND_VALUE ? &fn->values[o.id].type : NULL;
            if (t && t->dims[0] == IR_DIM_T) {
                /* a token-row value from outside S */
                HYC_ASSERT(is_token_rows(t));
                if (row_of[o.id] < 0)
                    row_of[o.id] = ir_emit(fn, IR_OP_LAST_ROW, IR_OPERANDS(o), IR_NO_ATTRS, in->loc).id;
                o.id = row_of[o.id];
            }
            ops[k] = o;
        }
        emit_one_row(&rw, in, ops);
    }
    ir_rewrite_end(&rw);
    fn->ret_type = fn->values[fn->ret].type;
    return count;
}

static bool run_last_logits(IrModule *m, PassCtx *ctx)
{
    if (!ctx->opts || !ctx->opts->logits_last) return true;
    IrFunc *fn = ir_find_func(m, "prefill");
    if (!fn || fn->ret < 0 || fn->ret_type.dims[0] != IR_DIM_T) return true; /* already one row */
    ctx->changes += last_logits_func(fn);
    return true;
}

const Pass pass_last_logits = {
    .name = "last-logits",
    .description = "with --logits last: prefill computes the final norm, LM head and row-wise tail on the last row only",
    .requires = 0,
    .provides = 0,
    .invalidates = 0,
    .run = run_last_logits,
};
