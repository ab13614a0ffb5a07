/* merge_projections.c — matmuls that read the same input become one.
 * requires: nothing  provides: nothing  (invalidates canonical)
 *
 * q, k and v of attention, the attention and Mamba in_proj of a parallel
 * (intra-layer) hybrid layer, the gate and up of an MLP: several matmuls of
 * one activation.  One matmul with the weights stacked along d_out reads the
 * activation once and gives the GEMM a wider N; slices give each consumer
 * its part:
 *
 *   %q = matmul(%x, @q)            %m = matmul(%x, @layers.0.attention.merged, @...merged_bias)
 *   %k = matmul(%x, @k, @bk)  ->   %q = slice(%m) {offset = 0, len = nq}
 *                                  %k = slice(%m) {offset = nq, len = nk}
 *
 * The merged weight is a derived param `concat(@q : ..., @k : ...)` (docs/ir.md
 * "Derived params"); when any member has a bias, the biases concatenate too,
 * `zeros(f32[n])` standing for a missing one; equal merged weights (a shared
 * block applied at several depths, prefill and decode) are one param.  A
 * matmul whose weight something else reads too (the LM head of a tied
 * embedding) stays alone, so no weight is kept twice.  The merged matmul sits where
 * the first member was; a member's own slices of its result (Mamba's in_proj
 * split) become slices of the merged result directly.  Params no instruction
 * reads afterwards are dropped from the module. */
#include "passes.h"

#include <string.h>

/* The dotted prefix the names share ("layers.0.mlp." of gate and up). */
static size_t common_prefix(const IrModule *m, const IrInst *const *mm, int n)
{
    const char *first = m->params[mm[0]->operands[1].id].name;
    size_t len = strlen(first);
    for (int i = 1; i < n; i++) {
        const char *s = m->params[mm[i]->operands[1].id].name;
        size_t k = 0;
        while (k < len && s[k] == first[k]) k++;
        len = k;
    }
    while (len > 0 && first[len - 1] != '.') len--;
    return len;
}

/* The merged weight and bias (bias: IR_ABSENT when no member has one). */
static void merged_params(IrModule *m, const IrInst *const *mm, int n, IrOperand *w, IrOperand *b)
{
    const IrPExpr **ws = ARENA_NEW_N(m->arena, const IrPExpr *, n);
    const IrPExpr **bs = ARENA_NEW_N(m->arena, const IrPExpr *, n);
    bool any_bias = false;
    int bslot = ir_op_slot(IR_OP_MATMUL, "bias");
    for (int i = 0; i < n; i++) {
        IrParam wp = {mm[i]->operands[1].id};
        ws[i] = ir_param_expr(m, wp);
        IrOperand bo = bslot < mm[i]->n_operands ? mm[i]->operands[bslot] : IR_ABSENT;
        any_bias |= bo.kind == IR_OPND_PARAM;
        bs[i] = bo.kind == IR_OPND_PARAM ? ir_param_expr(m, (IrParam){bo.id})
                                         : ir_pexpr_zeros(m, IR_TYPE(IR_DT_F32, m->params[wp.id].type.dims[0]));
    }
    const char *first = m->params[mm[0]->operands[1].id].name;
    const char *prefix = arena_printf(m->arena, "%.*s", (int)common_prefix(m, mm, n), first);
    const IrPExpr *we = ir_pexpr_concat(m, ws, n);
    HYC_ASSERT(we); /* the same x: the same d_in */
    *w = ir_p(ir_derived_param(m, arena_printf(m->arena, "%smerged", prefix), we, mm[0]->loc));
    *b = IR_ABSENT;
    if (any_bias) {
        const IrPExpr *be = ir_pexpr_concat(m, bs, n);
        HYC_ASSERT(be);
        *b = ir_p(ir_derived_param(m, arena_printf(m->arena, "%smerged_bias", prefix), be, mm[0]->loc));
    }
}

/* A matmul that may join a group: its weight is not also read by an
 * instruction that cannot (an embedding of a tied table, a matmul alone on
 * its input), which would keep the weight beside its merged copy. */
static bool mergeable(const IrInst *in, const bool *shared_w)
{
    return in->op == IR_OP_MATMUL && in->operands[0].kind == IR_OPND_VALUE && !shared_w[in->operands[1].id] &&
           /* a fused epilogue (fuse-epilogue) or row scale (fuse-prologue) stays with its own matmul */
           ir_inst_operand(in, "res").kind == IR_OPND_NONE && ir_inst_operand(in, "row_scale").kind == IR_OPND_NONE &&
           strcmp(ir_attr_s(in, "act"), "none") == 0;
}

/* shared_w[p]: param p is read by something other than a matmul with a
 * sibling (another matmul of the same input) in the module. */
static bool *find_shared_weights(const IrModule *m, Arena *a)
{
    bool *shared = ARENA_NEW_N(a, bool, m->n_params ? m->n_params : 1);
    for (int f = 0; f < m->n_funcs; f++) {
        const IrFunc *fn = m->funcs[f];
        int *readers = ARENA_NEW_N(a, int, fn->n_values);
        for (int i = 0; i < fn->n_insts; i++)
            if (fn->insts[i].op == IR_OP_MATMUL && fn->insts[i].operands[0].kind == IR_OPND_VALUE)
                readers[fn->insts[i].operands[0].id]++;
        for (int i = 0; i < fn->n_insts; i++) {
            const IrInst *in = &fn->insts[i];
            bool grouped = in->op == IR_OP_MATMUL && in->operands[0].kind == IR_OPND_VALUE &&
                           readers[in->operands[0].id] >= 2;
            for (int k = 0; k < in->n_operands; k++)
                if (in->operands[k].kind == IR_OPND_PARAM && !(grouped && k == 1)) shared[in->operands[k].id] = true;
        }
    }
    return shared;
}

/* group[i]: the index (into the old list) of the first matmul of
 * instruction i's group of matmuls with the same x, or -1 alone. */
static int *find_groups(const IrFunc *fn, const bool *shared_w, Arena *a, int *n_groups)
{
    int *first_of_x = ARENA_NEW_N(a, int, fn->n_values);
    int *count = ARENA_NEW_N(a, int, fn->n_insts ? fn->n_insts : 1);
    int *group = ARENA_NEW_N(a, int, fn->n_insts ? fn->n_insts : 1);
    for (int v = 0; v < fn->n_values; v++) first_of_x[v] = -1;
    for (int i = 0; i < fn->n_insts; i++) {
        const IrInst *in = &fn->insts[i];
        group[i] = -1;
        if (!mergeable(in, shared_w)) continue;
        int x = in->operands[0].id;
        if (first_of_x[x] < 0) first_of_x[x] = i;
        group[i] = first_of_x[x];
        count[first_of_x[x]]++;
    }
    *n_groups = 0;
    for (int i = 0; i < fn->n_insts; i++) {
        if (group[i] >= 0 && count[group[i]] < 2) group[i] = -1;
        if (group[i] == i) (*n_groups)++;
    }
    return group;
}

/* slice(slice(y){o1}){o2, len} -> slice(y){o1 + o2, len}: members' own
 * splits read the merged result directly. */
static void copy_or_fuse_slice(IrRewrite *rw, const IrInst *in)
{
    IrFunc *fn = rw->fn;
    IrOperand x = ir_rewrite_operand(rw, in->operands[0]);
    int def = x.kind == IR_OPND_VALUE ? fn->values[x.id].def : -1;
    if (in->op != IR_OP_SLICE || def < 0 || fn->insts[def].op != IR_OP_SLICE) {
        ir_rewrite_copy(rw, in);
        return;
    }
    const IrInst *inner = &fn->insts[def];
    int64_t off = ir_attr_i(inner, "offset") + ir_attr_i(in, "offset");
    IrValue v = ir_emit(fn, IR_OP_SLICE, IR_OPERANDS(inner->operands[0]),
                        IR_ATTRS(IR_AI("offset", off), IR_AI("len", ir_attr_i(in, "len"))), in->loc);
    ir_rewrite_replace(rw, in->result, v);
}

static int merge_func(IrModule *m, IrFunc *fn, const bool *shared_w)
{
    Arena *a = m->arena;
    int n_groups;
    int *group = find_groups(fn, shared_w, a, &n_groups);
    if (n_groups == 0) return 0;
    IrRewrite rw;
    ir_rewrite_begin(&rw, fn);
    const IrInst **members = ARENA_NEW_N(a, const IrInst *, rw.n_old);
    int merged = 0;
    for (int i = 0; i < rw.n_old; i++) {
        const IrInst *in = &rw.old[i];
        if (group[i] < 0) {
            copy_or_fuse_slice(&rw, in);
            continue;
        }
        if (group[i] != i) continue; /* emitted with its group's first */
        int n = 0;
        for (int j = i; j < rw.n_old; j++)
            if (group[j] == i) members[n++] = &rw.old[j];
        IrOperand w, b;
        merged_params(m, members, n, &w, &b);
        IrOperand x = ir_rewrite_operand(&rw, in->operands[0]);
        IrValue y = b.kind == IR_OPND_PARAM
                        ? ir_emit(fn, IR_OP_MATMUL, IR_OPERANDS(x, w, b), IR_NO_ATTRS, in->loc)
                        : ir_emit(fn, IR_OP_MATMUL, IR_OPERANDS(x, w), IR_NO_ATTRS, in->loc);
        int64_t off = 0;
        for (int k = 0; k < n; k++) {
            int64_t len = m->params[members[k]->operands[1].id].type.dims[0];
            IrValue s = ir_emit(fn, IR_OP_SLICE, IR_OPERANDS(ir_v(y)),
                                IR_ATTRS(IR_AI("offset", off), IR_AI("len", len)), members[k]->loc);
            ir_rewrite_replace(&rw, members[k]->result, s);
            off += len;
        }
        merged += n;
    }
    ir_rewrite_end(&rw);
    return merged;
}

static bool run_merge_projections(IrModule *m, PassCtx *ctx)
{
    int merged = 0;
    const bool *shared_w = find_shared_weights(m, m->arena);
    for (int i = 0; i < m->n_funcs; i++) merged += merge_func(m, m->funcs[i], shared_w);
    if (merged) ir_drop_unused_params(m);
    ctx->changes += merged;
    return true;
}

const Pass pass_merge_projections = {
    .name = "merge-projections",
    .description = "merge matmuls that read the same input into one over concatenated weights, then slices",
    .requires = 0,
    .provides = 0,
    .invalidates = PASS_PROP_CANONICAL,
    .run = run_merge_projections,
};
