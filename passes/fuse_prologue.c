/* fuse_prologue.c — an rmsnorm folded into the matmuls that read it.
 * requires: nothing  provides: nothing  invalidates: nothing
 *
 * A pre-norm block normalizes the residual stream and feeds the result to
 * its projections only.  Since the norm scales each row by one number and
 * each column by one weight,
 *
 *   rmsnorm(x, γ){eps, offset} · Wᵀ = r_t · (x · (W · diag(offset + γ))ᵀ),
 *   r_t = 1 / sqrt(mean(x_t²) + eps),
 *
 * the matmul can read the raw x with the weight's columns pre-scaled and
 * multiply each output row by r_t in its epilogue (docs/ir.md, matmul
 * `row_scale`, applied before bias, act and res):
 *
 *   %n = rmsnorm(%x, @g){eps = e}          %r = rms_scale(%x){eps = e} : f32[T, 1]
 *   %q = matmul(%n, @W, @b)          ->    %q = matmul(%x, @W.normed, @b, _, %r)
 *
 * with `param @W.normed = scale_cols(@W : ..., @g : ...[, offset])`, a derived
 * param computed when the weights are loaded.  The normalized [T, d] buffer
 * and the pass that writes it and the GEMM's pass that reads it back become
 * one [T] vector of factors.
 *
 * Rules (all must hold, else the norm stays as it is):
 *   - the op is `rmsnorm` (weighted, with any offset, or unweighted); the
 *     other norms cannot: group_rmsnorm has one factor per group of columns,
 *     not per row; layernorm subtracts the mean (a rank-1 correction of the
 *     product that needs the weight's row sums: not done); gated_rmsnorm
 *     multiplies by a second activation; l2norm, q/k norms before rope feed
 *     no matmul;
 *   - every use of the norm's result is the x of a matmul without a row
 *     scale yet (not the return, not a residual, not a scan's input);
 *   - with a weight γ: every matmul weight W it feeds is read by nothing but
 *     matmuls fed by norms with the same γ and offset, anywhere in the
 *     module (prefill and decode, a shared block at several depths), so that
 *     W·diag γ replaces W instead of being stored beside it.  A tied LM
 *     head (its weight is the embedding table) keeps its norm: a second copy
 *     of the table costs more than the norm.  Rejecting one norm can make
 *     another's weight shared, so the check runs to a fixpoint;
 *   - the derived weight nests no deeper than IR_PEXPR_MAX_DEPTH.
 * Params no instruction reads afterwards (W, and γ when nothing else reads
 * it) are dropped; they live on as leaves of the derived params. */
#include "passes.h"

#include <string.h>

/* A norm that may fold into the matmuls reading it. */
typedef struct Cand {
    IrFunc *fn;
    int norm;  /* instruction index of the rmsnorm */
    int gamma; /* param id of its weight, -1: unweighted */
    double offset;
    int *mms; /* instruction indices of the matmuls reading it */
    int n_mm, cap_mm;
    bool ok;
} Cand;

typedef struct Prologue {
    IrModule *m;
    Cand *cands;
    int n_cands, cap_cands;
    int *param_uses; /* [n_params]: operands reading each param, module-wide */
} Prologue;

/* The norm's weight, folded into the columns of the matmul weights. */
static bool weighted(const Cand *c) { return c->gamma >= 0; }

static void count_param_uses(Prologue *P)
{
    IrModule *m = P->m;
    P->param_uses = ARENA_NEW_N(m->arena, int, m->n_params ? m->n_params : 1);
    for (int f = 0; f < m->n_funcs; f++)
        for (int i = 0; i < m->funcs[f]->n_insts; i++) {
            const IrInst *in = &m->funcs[f]->insts[i];
            for (int k = 0; k < in->n_operands; k++)
                if (in->operands[k].kind == IR_OPND_PARAM) P->param_uses[in->operands[k].id]++;
        }
}

/* A matmul whose x may be a normalized value: it has no row scale yet. */
static bool plain_matmul_x(const IrInst *in, int k)
{
    return in->op == IR_OP_MATMUL && k == ir_op_slot(IR_OP_MATMUL, "x") &&
           ir_inst_operand(in, "row_scale").kind == IR_OPND_NONE;
}

/* The derived weight of matmul weight w under candidate c still nests
 * within the limit. */
static bool depth_ok(IrModule *m, const Cand *c, int w)
{
    if (!weighted(c)) return true;
    int dw = ir_pexpr_depth(ir_param_expr(m, (IrParam){w}));
    int dg = ir_pexpr_depth(ir_param_expr(m, (IrParam){c->gamma}));
    return 1 + (dw > dg ? dw : dg) <= IR_PEXPR_MAX_DEPTH;
}

/* The rmsnorms of fn whose every use is the x of a plain matmul, with those
 * matmuls, appended to P->cands. */
static void find_candidates(Prologue *P, IrFunc *fn)
{
    Arena *a = P->m->arena;
    int nv = fn->n_values ? fn->n_values : 1;
    int *uses = ARENA_NEW_N(a, int, nv), *mm_uses = ARENA_NEW_N(a, int, nv);
    for (int i = 0; i < fn->n_insts; i++) {
        const IrInst *in = &fn->insts[i];
        for (int k = 0; k < in->n_operands; k++) {
            if (in->operands[k].kind != IR_OPND_VALUE) continue;
            uses[in->operands[k].id]++;
            if (plain_matmul_x(in, k)) mm_uses[in->operands[k].id]++;
        }
    }
    if (fn->ret >= 0) uses[fn->ret]++;
    /* cand_of[v]: the candidate whose norm defines value v, or -1 */
    int *cand_of = ARENA_NEW_N(a, int, nv);
    for (int v = 0; v < nv; v++) cand_of[v] = -1;
    for (int i = 0; i < fn->n_insts; i++) {
        const IrInst *in = &fn->insts[i];
        if (in->op != IR_OP_RMSNORM || in->result < 0 || in->operands[0].kind != IR_OPND_VALUE) continue;
        int r = in->result;
        if (uses[r] == 0 || uses[r] != mm_uses[r]) continue;
        IrOperand g = ir_inst_operand(in, "w");
        P->cands = ir_grow(a, P->cands, sizeof *P->cands, &P->cap_cands, P->n_cands + 1);
        P->cands[P->n_cands] = (Cand){.fn = fn,
                                      .norm = i,
                                      .gamma = g.kind == IR_OPND_PARAM ? g.id : -1,
                                      .offset = ir_attr_f(in, "offset"),
                                      .ok = true};
        cand_of[r] = P->n_cands++;
    }
    for (int i = 0; i < fn->n_insts; i++) {
        const IrInst *in = &fn->insts[i];
        if (in->op != IR_OP_MATMUL || in->operands[0].kind != IR_OPND_VALUE) continue;
        int ci = cand_of[in->operands[0].id];
        if (ci < 0) continue;
        Cand *c = &P->cands[ci];
        c->mms = ir_grow(a, c->mms, sizeof *c->mms, &c->cap_mm, c->n_mm + 1);
        c->mms[c->n_mm++] = i;
        if (!depth_ok(P->m, c, in->operands[1].id)) c->ok = false;
    }
}

static int mm_weight(const Cand *c, int j) { return c->fn->insts[c->mms[j]].operands[1].id; }

/* One round of the weight rule: a weighted candidate whose matmul weight is
 * read elsewhere too, or by matmuls of norms with another γ or offset, is
 * rejected.  Returns whether any was. */
static bool reject_shared_weights(Prologue *P)
{
    IrModule *m = P->m;
    int np = m->n_params ? m->n_params : 1;
    int *folded = ARENA_NEW_N(m->arena, int, np);   /* uses by accepted weighted candidates */
    int *key = ARENA_NEW_N(m->arena, int, np);      /* the first such candidate, -1: none */
    bool *conflict = ARENA_NEW_N(m->arena, bool, np); /* candidates with different (γ, offset) */
    for (int p = 0; p < np; p++) key[p] = -1;
    for (int ci = 0; ci < P->n_cands; ci++) {
        const Cand *c = &P->cands[ci];
        if (!c->ok || !weighted(c)) continue;
        for (int j = 0; j < c->n_mm; j++) {
            int w = mm_weight(c, j);
            folded[w]++;
            if (key[w] < 0) key[w] = ci;
            else if (P->cands[key[w]].gamma != c->gamma || P->cands[key[w]].offset != c->offset) conflict[w] = true;
        }
    }
    bool rejected = false;
    for (int ci = 0; ci < P->n_cands; ci++) {
        Cand *c = &P->cands[ci];
        if (!c->ok || !weighted(c)) continue;
        for (int j = 0; j < c->n_mm && c->ok; j++) {
            int w = mm_weight(c, j);
            if (conflict[w] || folded[w] != P->param_uses[w]) {
                c->ok = false;
                rejected = true;
            }
        }
    }
    return rejected;
}

/* W·diag(offset + γ) as a derived param, shared by every equal one. */
static IrOperand normed_weight(IrModule *m, const Cand *c, IrOperand w, SrcLoc loc)
{
    if (!weighted(c)) return w;
    const IrPExpr *e = ir_pexpr_scale_cols(m, ir_param_expr(m, (IrParam){w.id}),
                                           ir_param_expr(m, (IrParam){c->gamma}), c->offset);
    HYC_ASSERT(e); /* the matmul's shape rule: w [n, d], γ [d] (rmsnorm's) */
    const char *name = arena_printf(m->arena, "%s.normed", m->params[w.id].name);
    return ir_p(ir_derived_param(m, name, e, loc));
}

/* Append matmul `old` reading x (the norm's input) with the row scale r. */
static void emit_scaled_matmul(IrRewrite *rw, IrModule *m, const Cand *c, const IrInst *old, IrValue x, IrValue r)
{
    IrFunc *fn = rw->fn;
    int rs_slot = ir_op_slot(IR_OP_MATMUL, "row_scale");
    IrOperand ops[IR_MAX_SLOTS];
    for (int k = 0; k < rs_slot; k++) ops[k] = k < old->n_operands ? ir_rewrite_operand(rw, old->operands[k]) : IR_ABSENT;
    ops[0] = ir_v(x);
    ops[1] = normed_weight(m, c, old->operands[1], old->loc);
    ops[rs_slot] = ir_v(r);
    const char *act = ir_attr_s(old, "act");
    IrAttrList attrs = strcmp(act, "none") == 0 ? IR_NO_ATTRS : IR_ATTRS(IR_AS("act", act));
    IrValue v = ir_emit(fn, IR_OP_MATMUL, (IrOperandList){ops, rs_slot + 1}, attrs, old->loc);
    /* keep the name of the value the program goes on reading */
    fn->values[v.id].name = fn->values[old->result].name;
    fn->values[old->result].name = NULL;
    ir_rewrite_replace(rw, old->result, v);
}

/* Rewrite fn's accepted candidates; returns how many norms were fused. */
static int rewrite_func(Prologue *P, IrFunc *fn)
{
    Arena *a = P->m->arena;
    /* per old instruction: the accepted candidate whose norm it is, or
     * whose norm it reads as a matmul; -1 for the rest */
    int *norm_of = ARENA_NEW_N(a, int, fn->n_insts ? fn->n_insts : 1);
    int *reader_of = ARENA_NEW_N(a, int, fn->n_insts ? fn->n_insts : 1);
    for (int i = 0; i < fn->n_insts; i++) norm_of[i] = reader_of[i] = -1;
    int fused = 0;
    for (int ci = 0; ci < P->n_cands; ci++) {
        const Cand *c = &P->cands[ci];
        if (c->fn != fn || !c->ok) continue;
        norm_of[c->norm] = ci;
        for (int j = 0; j < c->n_mm; j++) reader_of[c->mms[j]] = ci;
        fused++;
    }
    if (!fused) return 0;
    /* per candidate: the new x and r values, set when its norm is reached */
    IrValue *xs = ARENA_NEW_N(a, IrValue, P->n_cands), *rs = ARENA_NEW_N(a, IrValue, P->n_cands);
    IrRewrite rw;
    ir_rewrite_begin(&rw, fn);
    for (int i = 0; i < rw.n_old; i++) {
        const IrInst *in = &rw.old[i];
        if (norm_of[i] >= 0) {
            int ci = norm_of[i];
            xs[ci] = ir_rewrite_value(&rw, in->operands[0].id);
            rs[ci] = ir_emit(fn, IR_OP_RMS_SCALE, IR_OPERANDS(ir_v(xs[ci])), IR_ATTRS(IR_AF("eps", ir_attr_f(in, "eps"))),
                             in->loc);
            /* the normalized value is gone: every reader is rewritten below */
        } else if (reader_of[i] >= 0) {
            int ci = reader_of[i];
            emit_scaled_matmul(&rw, P->m, &P->cands[ci], in, xs[ci], rs[ci]);
        } else {
            ir_rewrite_copy(&rw, in);
        }
    }
    ir_rewrite_end(&rw);
    return fused;
}

static bool run_fuse_prologue(IrModule *m, PassCtx *ctx)
{
    Prologue P = {.m = m};
    count_param_uses(&P);
    for (int f = 0; f < m->n_funcs; f++) find_candidates(&P, m->funcs[f]);
    while (reject_shared_weights(&P)) {
    }
    int fused = 0;
    for (int f = 0; f < m->n_funcs; f++) fused += rewrite_func(&P, m->funcs[f]);
    if (fused) ir_drop_unused_params(m);
    ctx->changes += fused;
    return true;
}

const Pass pass_fuse_prologue = {
    .name = "fuse-prologue",
    .description = "fold rmsnorms into the matmuls reading them (weight into W's columns, 1/rms as a row scale)",
    .requires = 0,
    .provides = 0,
    .invalidates = 0,
    .run = run_fuse_prologue,
};
