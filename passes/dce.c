/* dce.c — dead code elimination.
 * requires: nothing  provides: no-dead-code
 *
 * An instruction is live when the function returns its result, when it
 * writes state (its effect outlives the call), or when a live instruction
 * uses its result.  One backward sweep suffices: the graph is a single
 * block in SSA order. */
#include "passes.h"

#include <stdlib.h>

static int dce_func(IrFunc *fn)
{
    bool *live = xcalloc((size_t)(fn->n_values ? fn->n_values : 1), sizeof *live);
    bool *keep = xcalloc((size_t)(fn->n_insts ? fn->n_insts : 1), sizeof *keep);
    if (fn->ret >= 0) live[fn->ret] = true;
    for (int i = fn->n_insts - 1; i >= 0; i--) {
        const IrInst *in = &fn->insts[i];
        bool effect = ir_op_info(in->op)->flags & IR_OPF_WRITES_STATE;
        if (!effect && !(in->result >= 0 && live[in->result])) continue;
        keep[i] = true;
        for (int j = 0; j < in->n_operands; j++)
            if (in->operands[j].kind == IR_OPND_VALUE) live[in->operands[j].id] = true;
    }
    IrRewrite rw;
    ir_rewrite_begin(&rw, fn);
    int removed = 0;
    for (int i = 0; i < rw.n_old; i++) {
        if (keep[i]) ir_rewrite_copy(&rw, &rw.old[i]);
        else removed++;
    }
    ir_rewrite_end(&rw);
    free(live);
    free(keep);
    return removed;
}

static bool run_dce(IrModule *m, PassCtx *ctx)
{
    for (int i = 0; i < m->n_funcs; i++) ctx->changes += dce_func(m->funcs[i]);
    return true;
}

const Pass pass_dce = {
    .name = "dce",
    .description = "remove instructions whose results are unused and that write no state",
    .requires = 0,
    .provides = PASS_PROP_NO_DEAD_CODE,
    .invalidates = 0,
    .run = run_dce,
};
