/* canonicalize.c — local simplifications that later passes can rely on.
 * requires: nothing  provides: canonical (invalidates no-dead-code)
 *
 *   scale(x){factor=1}            -> x
 *   scale(scale(x){a}){b}         -> scale(x){a*b}   (x when a*b = 1)
 *   neg(neg(x))                   -> x
 *   clamp(x){min=-inf, max=inf}   -> x
 *   reshape(x) to x's own type    -> x
 *   reshape(reshape(x))           -> reshape(x)
 *   slice(x){offset=0, len=all}   -> x
 *   concat(x)                     -> x
 *
 * Folded-away producers stay behind when nothing else needs them: dce
 * removes them. */
#include "passes.h"

#include <math.h>
#include <string.h>

/* The instruction (in the new list) that defines operand o, or NULL. */
static const IrInst *producer(const IrFunc *fn, IrOperand o)
{
    if (o.kind != IR_OPND_VALUE) return NULL;
    int def = fn->values[o.id].def;
    return def >= 0 ? &fn->insts[def] : NULL;
}

static bool is_value(IrOperand o) { return o.kind == IR_OPND_VALUE; }

/* Try to fold instruction `in` (operands already remapped into `ops`).
 * Returns true when its result was replaced or re-emitted. */
static bool fold(IrRewrite *rw, const IrInst *in, const IrOperand *ops)
{
    IrFunc *fn = rw->fn;
    IrBuilder b = ir_builder(fn, in->loc);
    const IrInst *p = in->n_operands ? producer(fn, ops[0]) : NULL;
    switch (in->op) {
    case IR_OP_SCALE: {
        double f = ir_attr_f(in, "factor");
        if (f == 1.0 && is_value(ops[0])) {
            ir_rewrite_replace(rw, in->result, (IrValue){ops[0].id});
            return true;
        }
        if (p && p->op == IR_OP_SCALE) {
            double g = ir_attr_f(p, "factor") * f;
            IrOperand src = p->operands[0];
            IrValue v = g == 1.0 && is_value(src)
                            ? (IrValue){src.id}
                            : ir_emit(fn, IR_OP_SCALE, IR_OPERANDS(src), IR_ATTRS(IR_AF("factor", g)), in->loc);
            ir_rewrite_replace(rw, in->result, v);
            return true;
        }
        return false;
    }
    case IR_OP_NEG:
        if (p && p->op == IR_OP_NEG && is_value(p->operands[0])) {
            ir_rewrite_replace(rw, in->result, (IrValue){p->operands[0].id});
            return true;
        }
        return false;
    case IR_OP_CLAMP:
        if (is_value(ops[0]) && isinf(ir_attr_f(in, "min")) && ir_attr_f(in, "min") < 0 &&
            isinf(ir_attr_f(in, "max")) && ir_attr_f(in, "max") > 0) {
            ir_rewrite_replace(rw, in->result, (IrValue){ops[0].id});
            return true;
        }
        return false;
    case IR_OP_RESHAPE: {
        const IrType *x = ir_operand_type(fn->mod, fn, ops[0]);
        if (ir_type_eq(x, &fn->values[in->result].type)) {
            ir_rewrite_replace(rw, in->result, (IrValue){ops[0].id});
            return true;
        }
        if (p && p->op == IR_OP_RESHAPE) { /* reshape the producer's input directly */
            IrValue src = {p->operands[0].id};
            if (!ir_type_eq(ir_value_type(fn, src), &fn->values[in->result].type)) {
                const IrAttr *dims = ir_attr_get(in, "dims");
                src = ir_reshape(&b, src, dims->len, dims->ints);
            }
            ir_rewrite_replace(rw, in->result, src);
            return true;
        }
        return false;
    }
    case IR_OP_SLICE: {
        const IrType *x = ir_operand_type(fn->mod, fn, ops[0]);
        if (ir_attr_i(in, "offset") == 0 && ir_attr_i(in, "len") == x->dims[x->rank - 1]) {
            ir_rewrite_replace(rw, in->result, (IrValue){ops[0].id});
            return true;
        }
        return false;
    }
    case IR_OP_CONCAT:
        if (in->n_operands == 1) {
            ir_rewrite_replace(rw, in->result, (IrValue){ops[0].id});
            return true;
        }
        return false;
    default:
        return false;
    }
}

static int canonicalize_func(IrFunc *fn)
{
    IrRewrite rw;
    ir_rewrite_begin(&rw, fn);
    int folded = 0;
    for (int i = 0; i < rw.n_old; i++) {
        const IrInst *in = &rw.old[i];
        IrOperand ops[IR_MAX_OPERANDS];
        for (int j = 0; j < in->n_operands; j++) ops[j] = ir_rewrite_operand(&rw, in->operands[j]);
        if (in->result >= 0 && fold(&rw, in, ops)) folded++;
        else ir_rewrite_copy(&rw, in);
    }
    ir_rewrite_end(&rw);
    return folded;
}

static bool run_canonicalize(IrModule *m, PassCtx *ctx)
{
    for (int i = 0; i < m->n_funcs; i++) ctx->changes += canonicalize_func(m->funcs[i]);
    return true;
}

const Pass pass_canonicalize = {
    .name = "canonicalize",
    .description = "fold trivial scales, negations, clamps, reshapes, slices and concats",
    .requires = 0,
    .provides = PASS_PROP_CANONICAL,
    .invalidates = PASS_PROP_NO_DEAD_CODE,
    .run = run_canonicalize,
};
