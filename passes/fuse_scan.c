/* fuse_scan.c — scan fusion: the per-channel work around a Mamba scan becomes
 * fused primitives, each lowered to one kernel (codegen/lower_kernels.c).
 * requires: lowered  provides: nothing (invalidates no-dead-code)
 *
 *   act(causal_conv1d(x, w, state, b))                 -> causal_conv1d_act(x, w, state, b){act}
 *   selective_scan(x, softplus(matmul(d, W, bias)), A, B, C, state, D, z)
 *                                                      -> fused_selective_scan(x, d, W, A, B, C, state, bias, D, z)
 *   ssd_scan(x, [clamp](softplus(add(dt, bias))), A, B, C, state, D){chunk}
 *                                                      -> fused_ssd_scan(x, dt, bias, A, B, C, state, D){chunk, dt_min, dt_max}
 *
 * act is silu, gelu (exact or tanh) or relu2.  The projections around a
 * layer (in_proj, Mamba-1's x_proj, out_proj) stay matmuls: they are GEMMs.
 * Mamba-1's dt_proj is not: rank dt_rank (a few dozen) per channel, it is
 * cheaper recomputed inside the scan than written out and read back.
 *
 * An intermediate is absorbed only when the fused op is its one use (the
 * return counts as a use), so nothing else still needs it.  The fused op
 * takes the place of the instruction that writes the state (the conv, the
 * scan), so state effects keep their order; the absorbed instructions are
 * dropped (their operands are all defined earlier, so SSA order holds).
 * The interpreter runs the fused ops as the primitives they replace, so
 * `hyc run` gives the same bits with the pass on or off. */
#include "passes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct Plan {
    const IrFunc *fn;
    int *uses;      /* [n_values]: instructions (and the return) using the value */
    int *user;      /* [n_values]: the last instruction using it */
    bool *absorbed; /* [n_insts]: dropped, its work done by a fused op */
    int *root;      /* [n_insts]: the fused op to emit here (IR_OP_COUNT: none) */
    int (*parts)[2]; /* [n_insts]: for a root, the absorbed instructions it reads:
                        conv: {act, -1}; selective_scan: {matmul, -1};
                        ssd_scan: {add, clamp or -1} */
} Plan;

/* The instruction defining operand o, when o is a value defined by op `op`
 * whose one use is the instruction being fused; else NULL. */
static const IrInst *sole_producer(const Plan *P, IrOperand o, IrOp op)
{
    if (o.kind != IR_OPND_VALUE || P->uses[o.id] != 1) return NULL;
    int def = P->fn->values[o.id].def;
    if (def < 0 || P->absorbed[def] || P->root[def] != IR_OP_COUNT) return NULL;
    const IrInst *in = &P->fn->insts[def];
    return in->op == op ? in : NULL;
}

static bool is_value(IrOperand o) { return o.kind == IR_OPND_VALUE; }

static void count_uses(Plan *P)
{
    const IrFunc *fn = P->fn;
    for (int i = 0; i < fn->n_insts; i++) {
        const IrInst *in = &fn->insts[i];
        for (int j = 0; j < in->n_operands; j++) {
            IrOperand o = in->operands[j];
            if (o.kind != IR_OPND_VALUE) continue;
            /* one use per instruction, however many slots */
            if (P->user[o.id] != i) P->uses[o.id]++;
            P->user[o.id] = i;
        }
    }
    if (fn->ret >= 0) P->uses[fn->ret]++;
}

/* The conv_act word of an activation instruction, or NULL when it is none. */
static const char *act_word(const IrInst *in)
{
    switch (in->op) {
    case IR_OP_SILU: return "silu";
    case IR_OP_RELU2: return "relu2";
    case IR_OP_GELU: return strcmp(ir_attr_s(in, "approximate"), "tanh") == 0 ? "gelu_tanh" : "gelu";
    default: return NULL;
    }
}

/* conv i whose one user is an activation. */
static void plan_conv(Plan *P, int i)
{
    const IrInst *in = &P->fn->insts[i];
    if (in->result < 0 || P->uses[in->result] != 1) return;
    int u = P->user[in->result];
    const IrInst *a = &P->fn->insts[u];
    if (!act_word(a) || a->operands[0].kind != IR_OPND_VALUE || a->operands[0].id != in->result) return;
    P->root[i] = IR_OP_CAUSAL_CONV1D_ACT;
    P->parts[i][0] = u;
    P->absorbed[u] = true;
}

/* selective_scan i whose Δ is softplus(matmul(value, W, bias)). */
static void plan_selective_scan(Plan *P, int i)
{
    const IrInst *in = &P->fn->insts[i];
    const IrInst *sp = sole_producer(P, ir_inst_operand(in, "dt"), IR_OP_SOFTPLUS);
    if (!sp) return;
    const IrInst *mm = sole_producer(P, sp->operands[0], IR_OP_MATMUL);
    if (!mm || !is_value(ir_inst_operand(mm, "x"))) return;
    /* the fused scan computes a plain dt projection: no epilogue of either fusion */
    if (ir_inst_operand(mm, "row_scale").kind != IR_OPND_NONE || ir_inst_operand(mm, "res").kind != IR_OPND_NONE ||
        strcmp(ir_attr_s(mm, "act"), "none") != 0)
        return;
    if (P->fn->values[mm->operands[0].id].type.rank != 2) return;
    P->root[i] = IR_OP_FUSED_SELECTIVE_SCAN;
    P->parts[i][0] = P->fn->values[mm->result].def;
    P->absorbed[P->fn->values[sp->result].def] = true;
    P->absorbed[P->fn->values[mm->result].def] = true;
}

/* ssd_scan i whose Δ is [clamp](softplus(add(value [T, H], param [H]))). */
static void plan_ssd_scan(Plan *P, int i)
{
    const IrInst *in = &P->fn->insts[i];
    IrOperand dt = ir_inst_operand(in, "dt");
    const IrInst *cl = sole_producer(P, dt, IR_OP_CLAMP);
    const IrInst *sp = sole_producer(P, cl ? cl->operands[0] : dt, IR_OP_SOFTPLUS);
    if (!sp) return;
    const IrInst *ad = sole_producer(P, sp->operands[0], IR_OP_ADD);
    if (!ad || !is_value(ad->operands[0]) || ad->operands[1].kind != IR_OPND_PARAM) return;
    const IrType *bias = &P->fn->mod->params[ad->operands[1].id].type;
    const IrType *x = &P->fn->values[ad->operands[0].id].type;
    if (bias->rank != 1 || x->rank != 2 || bias->dims[0] != x->dims[1]) return;
    P->root[i] = IR_OP_FUSED_SSD_SCAN;
    P->parts[i][0] = P->fn->values[ad->result].def;
    P->parts[i][1] = cl ? P->fn->values[cl->result].def : -1;
    if (cl) P->absorbed[P->fn->values[cl->result].def] = true;
    P->absorbed[P->fn->values[sp->result].def] = true;
    P->absorbed[P->fn->values[ad->result].def] = true;
}

#define OLD(inst, slot) ir_rewrite_operand(rw, ir_inst_operand((inst), (slot)))

/* old[i] is the root; parts as planned. */
static IrValue emit_conv_act(IrRewrite *rw, const Plan *P, int i)
{
    const IrInst *in = &rw->old[i], *a = &rw->old[P->parts[i][0]];
    IrValue y = ir_emit(rw->fn, IR_OP_CAUSAL_CONV1D_ACT,
                        IR_OPERANDS(OLD(in, "x"), OLD(in, "w"), OLD(in, "state"), OLD(in, "bias")),
                        IR_ATTRS(IR_AS("act", act_word(a))), in->loc);
    ir_rewrite_replace(rw, a->result, y);
    return y;
}

static IrValue emit_selective_scan(IrRewrite *rw, const Plan *P, int i)
{
    const IrInst *in = &rw->old[i], *mm = &rw->old[P->parts[i][0]];
    return ir_emit(rw->fn, IR_OP_FUSED_SELECTIVE_SCAN,
                   IR_OPERANDS(OLD(in, "x"), OLD(mm, "x"), OLD(mm, "w"), OLD(in, "A"), OLD(in, "B"), OLD(in, "C"),
                               OLD(in, "state"), OLD(mm, "bias"), OLD(in, "D"), OLD(in, "z")),
                   IR_NO_ATTRS, in->loc);
}

static IrValue emit_ssd_scan(IrRewrite *rw, const Plan *P, int i)
{
    const IrInst *in = &rw->old[i], *ad = &rw->old[P->parts[i][0]];
    const IrInst *cl = P->parts[i][1] >= 0 ? &rw->old[P->parts[i][1]] : NULL;
    double lo = cl ? ir_attr_f(cl, "min") : 0, hi = cl ? ir_attr_f(cl, "max") : INFINITY;
    return ir_emit(rw->fn, IR_OP_FUSED_SSD_SCAN,
                   IR_OPERANDS(OLD(in, "x"), OLD(ad, "a"), OLD(ad, "b"), OLD(in, "A"), OLD(in, "B"), OLD(in, "C"),
                               OLD(in, "state"), OLD(in, "D")),
                   IR_ATTRS(IR_AI("chunk", ir_attr_i(in, "chunk")), IR_AF("dt_min", lo), IR_AF("dt_max", hi)),
                   in->loc);
}
#undef OLD

static int fuse_func(IrFunc *fn)
{
    int nv = fn->n_values ? fn->n_values : 1, ni = fn->n_insts ? fn->n_insts : 1;
    Plan P = {fn, xcalloc((size_t)nv, sizeof(int)), xmalloc((size_t)nv * sizeof(int)),
              xcalloc((size_t)ni, sizeof(bool)), xmalloc((size_t)ni * sizeof(int)),
              xmalloc((size_t)ni * sizeof *P.parts)};
    for (int v = 0; v < nv; v++) P.user[v] = -1;
    for (int i = 0; i < ni; i++) {
        P.root[i] = IR_OP_COUNT;
        P.parts[i][0] = P.parts[i][1] = -1;
    }
    count_uses(&P);
    /* the scans' Δ chains and the convs' activations never overlap */
    for (int i = 0; i < fn->n_insts; i++) {
        if (fn->insts[i].op == IR_OP_SELECTIVE_SCAN) plan_selective_scan(&P, i);
        if (fn->insts[i].op == IR_OP_SSD_SCAN) plan_ssd_scan(&P, i);
    }
    for (int i = 0; i < fn->n_insts; i++)
        if (fn->insts[i].op == IR_OP_CAUSAL_CONV1D && !P.absorbed[i]) plan_conv(&P, i);

    IrRewrite rw;
    ir_rewrite_begin(&rw, fn);
    int fused = 0;
    for (int i = 0; i < rw.n_old; i++) {
        const IrInst *in = &rw.old[i];
        if (P.absorbed[i]) continue;
        if (P.root[i] == IR_OP_COUNT) {
            ir_rewrite_copy(&rw, in);
            continue;
        }
        IrValue y = P.root[i] == IR_OP_CAUSAL_CONV1D_ACT     ? emit_conv_act(&rw, &P, i)
                    : P.root[i] == IR_OP_FUSED_SELECTIVE_SCAN ? emit_selective_scan(&rw, &P, i)
                                                              : emit_ssd_scan(&rw, &P, i);
        ir_rewrite_replace(&rw, in->result, y);
        fused++;
    }
    ir_rewrite_end(&rw);
    free(P.uses);
    free(P.user);
    free(P.absorbed);
    free(P.root);
    free(P.parts);
    return fused;
}

static bool run_fuse_scan(IrModule *m, PassCtx *ctx)
{
    for (int i = 0; i < m->n_funcs; i++) ctx->changes += fuse_func(m->funcs[i]);
    return true;
}

const Pass pass_fuse_scan = {
    .name = "fuse-scan",
    .description = "fuse conv + activation, and the dt chain into Mamba-1 / Mamba-2 scans",
    .requires = PASS_PROP_LOWERED,
    .provides = 0,
    .invalidates = PASS_PROP_NO_DEAD_CODE,
    .run = run_fuse_scan,
};
