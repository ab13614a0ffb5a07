/* fuse_epilogue.c — activations and residual adds join the GEMM before them.
 *
 *   %h = matmul(%x, @W, @b)            %y = matmul(%x, @W, @b, %r){act = "silu"}
 *   %a = silu(%h)                 ->
 *   %y = add(%a, %r)       (or add(%r, %a))
 *
 * A matmul's result written to memory only to be read back once by an
 * elementwise op costs a kernel call and a pass over [T, d_out]; fused,
 * the GEMM's store computes add(act(acc), res[t, o]) (docs/ir.md, matmul).
 *
 * Rules, over each function's instructions in order:
 *   - act(m): m is a matmul (possibly already fused) with no other use, no
 *     act and no res yet; act is silu, gelu (both approximations), relu2,
 *     softplus or sigmoid;
 *   - add(m, r) or add(r, m): m as above but may already carry an act
 *     (act is applied before res is added), no res yet; r is a value (not a
 *     param) of exactly m's type (no broadcasting), and r is not m.
 * The fused matmul is emitted where its last absorbed op was (it sinks to
 * its only user; its own operands are defined earlier still), so a
 * residual defined between the matmul and the add is available.  The memory
 * plan keeps res apart from the result like any input (codegen/plan.c). */
#include "passes.h"

#include <string.h>

/* A chain being fused: the matmul (old instruction index) and its epilogue. */
typedef struct Chain {
    int mm;            /* old index of the matmul, -1: not a chain */
    const char *act;   /* the matmul act word: "none", "silu", ... (a literal) */
    IrOperand res;     /* old operand, or none */
    bool absorbed;     /* a later op took this chain over: emit nothing here */
} Chain;

/* The matmul `act` word of unary activation instruction in, or NULL. */
static const char *act_word(const IrInst *in)
{
    switch (in->op) {
    case IR_OP_SILU: return "silu";
    case IR_OP_GELU: return strcmp(ir_attr_s(in, "approximate"), "tanh") == 0 ? "gelu_tanh" : "gelu";
    case IR_OP_RELU2: return "relu2";
    case IR_OP_SOFTPLUS: return "softplus";
    case IR_OP_SIGMOID: return "sigmoid";
    default: return NULL;
    }
}

static int *count_uses(const IrFunc *fn, Arena *a)
{
    int *uses = ARENA_NEW_N(a, int, fn->n_values);
    for (int i = 0; i < fn->n_insts; i++) {
        const IrInst *in = &fn->insts[i];
        for (int k = 0; k < in->n_operands; k++)
            if (in->operands[k].kind == IR_OPND_VALUE) uses[in->operands[k].id]++;
    }
    if (fn->ret >= 0) uses[fn->ret]++;
    return uses;
}

typedef struct Fuser {
    const IrFunc *fn;
    const int *uses;
    const int *def; /* old value -> old defining instruction index, or < 0 */
    Chain *chain;   /* per old instruction */
} Fuser;

/* The chain whose result is old operand o when o may take an epilogue op:
 * a value read only here.  -1 otherwise. */
static int chain_of(const Fuser *F, IrOperand o)
{
    if (o.kind != IR_OPND_VALUE || F->uses[o.id] != 1) return -1;
    int d = F->def[o.id];
    return d >= 0 && F->chain[d].mm >= 0 ? d : -1;
}

/* Instruction i (old) continues chain c; c is absorbed. */
static void extend(Fuser *F, int i, int c, const char *act, IrOperand res)
{
    F->chain[i] = F->chain[c];
    F->chain[i].act = act;
    F->chain[i].res = res;
    F->chain[c].absorbed = true;
}

static void try_act(Fuser *F, int i, const IrInst *in)
{
    const char *act = act_word(in);
    if (!act || in->n_operands < 1) return;
    int c = chain_of(F, in->operands[0]);
    if (c < 0 || strcmp(F->chain[c].act, "none") != 0 || F->chain[c].res.kind != IR_OPND_NONE) return;
    extend(F, i, c, act, F->chain[c].res);
}

static void try_add(Fuser *F, int i, const IrInst *in)
{
    const IrType *yt = &F->fn->values[in->result].type;
    for (int side = 0; side < 2; side++) {
        IrOperand m = in->operands[side], r = in->operands[1 - side];
        int c = chain_of(F, m);
        if (c < 0 || F->chain[c].res.kind != IR_OPND_NONE || r.kind != IR_OPND_VALUE || r.id == m.id) continue;
        if (!ir_type_eq(&F->fn->values[m.id].type, yt) || !ir_type_eq(&F->fn->values[r.id].type, yt)) continue;
        extend(F, i, c, F->chain[c].act, r);
        return;
    }
}

/* Append the fused matmul of chain ch in place of old instruction `last`. */
static void emit_fused(IrRewrite *rw, const Chain *ch, const IrInst *last)
{
    IrFunc *fn = rw->fn;
    const IrInst *mm = &rw->old[ch->mm];
    int res_slot = ir_op_slot(IR_OP_MATMUL, "res");
    IrOperand ops[IR_MAX_OPERANDS];
    /* every operand of the matmul (a row scale of fuse-prologue too), then res */
    int n_ops = mm->n_operands > res_slot + 1 ? mm->n_operands : res_slot + 1;
    for (int k = 0; k < n_ops; k++) ops[k] = k < mm->n_operands ? ir_rewrite_operand(rw, mm->operands[k]) : IR_ABSENT;
    ops[res_slot] = ir_rewrite_operand(rw, ch->res);
    if (ch->res.kind == IR_OPND_NONE && mm->n_operands <= res_slot) n_ops = mm->n_operands;
    /* act = "none" is the default: left out, as the printer would */
    IrAttrList attrs = strcmp(ch->act, "none") == 0 ? IR_NO_ATTRS : IR_ATTRS(IR_AS("act", ch->act));
    IrValue v = ir_emit(fn, IR_OP_MATMUL, (IrOperandList){ops, n_ops}, attrs, last->loc);
    /* keep the name of the value the program goes on reading */
    fn->values[v.id].name = fn->values[last->result].name;
    fn->values[last->result].name = NULL;
    ir_rewrite_replace(rw, last->result, v);
}

static int fuse_func(IrFunc *fn, Arena *a)
{
    Fuser F = {fn, count_uses(fn, a), NULL, ARENA_NEW_N(a, Chain, fn->n_insts)};
    int *def = ARENA_NEW_N(a, int, fn->n_values);
    for (int v = 0; v < fn->n_values; v++) def[v] = fn->values[v].def;
    F.def = def;
    for (int i = 0; i < fn->n_insts; i++) {
        const IrInst *in = &fn->insts[i];
        F.chain[i] = (Chain){.mm = -1, .act = "none", .res = IR_ABSENT};
        if (in->op == IR_OP_MATMUL && in->result >= 0 && strcmp(ir_attr_s(in, "act"), "none") == 0 &&
            ir_inst_operand(in, "res").kind == IR_OPND_NONE)
            F.chain[i].mm = i;
        else if (in->op == IR_OP_ADD && in->n_operands == 2)
            try_add(&F, i, in);
        else
            try_act(&F, i, in);
    }
    int fused = 0;
    IrRewrite rw;
    ir_rewrite_begin(&rw, fn);
    for (int i = 0; i < rw.n_old; i++) {
        const IrInst *in = &rw.old[i];
        const Chain *ch = &F.chain[i];
        if (ch->mm < 0 || ch->mm == i) {
            if (!(ch->mm == i && ch->absorbed)) ir_rewrite_copy(&rw, in);
            continue;
        }
        fused++; /* an epilogue op joined its matmul */
        if (!ch->absorbed) emit_fused(&rw, ch, in);
    }
    ir_rewrite_end(&rw);
    return fused;
}

static bool run_fuse_epilogue(IrModule *m, PassCtx *ctx)
{
    for (int i = 0; i < m->n_funcs; i++) ctx->changes += fuse_func(m->funcs[i], m->arena);
    return true;
}

const Pass pass_fuse_epilogue = {
    .name = "fuse-epilogue",
    .description = "fuse activations and residual adds into the matmul before them (act, res)",
    .requires = 0,
    .provides = 0,
    .invalidates = 0,
    .run = run_fuse_epilogue,
};
