/* build.c — the builder: one generic emit that checks operands, attributes
 * and shapes as an instruction is built, and typed helpers over it. */
#include "ir.h"

#include <string.h>

IrOperand ir_v(IrValue v) { return v.id < 0 ? IR_ABSENT : (IrOperand){IR_OPND_VALUE, v.id}; }
IrOperand ir_p(IrParam p) { return p.id < 0 ? IR_ABSENT : (IrOperand){IR_OPND_PARAM, p.id}; }
IrOperand ir_s(IrState s) { return s.id < 0 ? IR_ABSENT : (IrOperand){IR_OPND_STATE, s.id}; }

IrAttr ir_attr_int(int64_t v) { return (IrAttr){.kind = IR_ATTR_INT, .i = v}; }
IrAttr ir_attr_float(double v) { return (IrAttr){.kind = IR_ATTR_FLOAT, .f = v}; }
IrAttr ir_attr_bool(bool v) { return (IrAttr){.kind = IR_ATTR_BOOL, .b = v}; }
IrAttr ir_attr_str(const char *s) { return (IrAttr){.kind = IR_ATTR_STRING, .s = s}; }
IrAttr ir_attr_ints(const int64_t *v, int n) { return (IrAttr){.kind = IR_ATTR_INTS, .len = n, .ints = v}; }
IrAttr ir_attr_floats(const double *v, int n)
{
    return (IrAttr){.kind = IR_ATTR_FLOATS, .len = n, .floats = v};
}

/* ---- appending ------------------------------------------------------------- */

IrInst *ir_append(IrFunc *fn, IrOp op, const IrOperand *ops, int n_ops, const IrType *result,
                  SrcLoc loc)
{
    Arena *a = fn->mod->arena;
    const IrOpInfo *info = ir_op_info(op);
    HYC_ASSERT(n_ops >= 0 && n_ops <= IR_MAX_OPERANDS);
    fn->insts = ir_grow(a, fn->insts, sizeof *fn->insts, &fn->cap_insts, fn->n_insts + 1);
    IrInst *in = &fn->insts[fn->n_insts];
    memset(in, 0, sizeof *in);
    in->op = op;
    in->n_operands = n_ops;
    in->operands = ARENA_NEW_N(a, IrOperand, n_ops ? n_ops : 1);
    if (n_ops) memcpy(in->operands, ops, sizeof *ops * (size_t)n_ops);
    in->attrs = ARENA_NEW_N(a, IrAttr, info->n_attrs ? info->n_attrs : 1);
    in->loc = loc;
    in->result = -1;
    if (result) {
        in->result = ir_func_new_value(fn, *result);
        fn->values[in->result].def = fn->n_insts;
    }
    fn->n_insts++;
    return in;
}

/* ---- operand classes ------------------------------------------------------- */

/* What an operand is, in words ("a parameter", "an i32 value"). */
static const char *operand_desc(const IrModule *m, const IrFunc *fn, IrOperand o)
{
    switch (o.kind) {
    case IR_OPND_NONE: return "absent";
    case IR_OPND_VALUE:
        return ir_dtype_is_float(fn->values[o.id].type.dtype) ? "a float value" : "an i32 value";
    case IR_OPND_PARAM:
        return ir_dtype_is_float(m->params[o.id].type.dtype) ? "a parameter" : "an i32 parameter";
    case IR_OPND_STATE:
        switch (m->states[o.id].kind) {
        case IR_STATE_KV_CACHE: return "a kv_cache state";
        case IR_STATE_CONV: return "a conv_state state";
        case IR_STATE_SSM: return "an ssm_state state";
        default: break;
        }
    }
    HYC_UNREACHABLE();
}

const char *ir_operand_mismatch(const IrModule *m, const IrFunc *fn, IrOperandClass cls,
                                IrOperand o)
{
    bool ok = false;
    switch (o.kind) {
    case IR_OPND_NONE: return NULL; /* presence is checked separately */
    case IR_OPND_VALUE: {
        bool fl = ir_dtype_is_float(fn->values[o.id].type.dtype);
        ok = cls == IR_OC_INT_VALUE ? fn->values[o.id].type.dtype == IR_DT_I32
                                    : (cls == IR_OC_VALUE || cls == IR_OC_TENSOR) && fl;
        break;
    }
    case IR_OPND_PARAM:
        ok = (cls == IR_OC_PARAM || cls == IR_OC_TENSOR) &&
             ir_dtype_is_float(m->params[o.id].type.dtype);
        break;
    case IR_OPND_STATE: {
        IrStateKind k = m->states[o.id].kind;
        ok = (cls == IR_OC_KV && k == IR_STATE_KV_CACHE) || (cls == IR_OC_CONV && k == IR_STATE_CONV) ||
             (cls == IR_OC_SSM && k == IR_STATE_SSM);
        break;
    }
    }
    return ok ? NULL : operand_desc(m, fn, o);
}

/* ---- emit ------------------------------------------------------------------ */

/* Copy an attribute value into the module (strings interned, lists copied). */
static IrAttr attr_own(IrModule *m, IrAttr v)
{
    if (v.kind == IR_ATTR_STRING) v.s = intern(m->intern, v.s);
    if (v.kind == IR_ATTR_INTS && v.len) {
        int64_t *p = ARENA_NEW_N(m->arena, int64_t, v.len);
        memcpy(p, v.ints, sizeof *p * (size_t)v.len);
        v.ints = p;
    }
    if (v.kind == IR_ATTR_FLOATS && v.len) {
        double *p = ARENA_NEW_N(m->arena, double, v.len);
        memcpy(p, v.floats, sizeof *p * (size_t)v.len);
        v.floats = p;
    }
    return v;
}

static const char *loc_str(Arena *a, SrcLoc loc)
{
    if (!loc.file) return "(no location)";
    return arena_printf(a, "%s:%d:%d", loc.file->name, loc.line, loc.col);
}

IrValue ir_emit(IrFunc *fn, IrOp op, IrOperandList ops, IrAttrList attrs, SrcLoc loc)
{
    IrModule *m = fn->mod;
    const IrOpInfo *info = ir_op_info(op);
    const char *where = loc_str(m->arena, loc);
    if (ops.len < info->n_required || (!info->variadic && ops.len > info->n_slots) ||
        ops.len > IR_MAX_OPERANDS)
        HYC_DIE("ir_emit %s at %s: %d operands", info->name, where, ops.len);
    for (int i = 0; i < ops.len; i++) {
        const IrOperandSpec *s = &info->slots[i < info->n_slots ? i : info->n_slots - 1];
        IrOperand o = ops.data[i];
        if (o.kind == IR_OPND_NONE && !s->optional)
            HYC_DIE("ir_emit %s at %s: operand '%s' is required", info->name, where, s->name);
        const char *bad = ir_operand_mismatch(m, fn, s->cls, o);
        if (bad)
            HYC_DIE("ir_emit %s at %s: operand '%s' must be %s, not %s", info->name, where, s->name,
                    ir_operand_class_desc(s->cls), bad);
    }
    /* Build the instruction on the side first: the shape rule needs it. */
    IrAttr *av = ARENA_NEW_N(m->arena, IrAttr, info->n_attrs ? info->n_attrs : 1);
    for (int i = 0; i < attrs.len; i++) {
        int k = ir_op_attr(op, attrs.data[i].name);
        if (k < 0) HYC_DIE("ir_emit %s at %s: no attribute '%s'", info->name, where, attrs.data[i].name);
        IrAttr v = attr_own(m, attrs.data[i].val);
        if (v.kind == IR_ATTR_INT && info->attrs[k].kind == IR_ATTR_FLOAT) v = ir_attr_float((double)v.i);
        if (v.kind != info->attrs[k].kind)
            HYC_DIE("ir_emit %s at %s: attribute '%s' must be %s", info->name, where,
                    attrs.data[i].name, ir_attr_kind_desc(info->attrs[k].kind));
        av[k] = v;
    }
    for (int k = 0; k < info->n_attrs; k++)
        if (info->attrs[k].required && av[k].kind == IR_ATTR_NONE)
            HYC_DIE("ir_emit %s at %s: attribute '%s' is required", info->name, where,
                    info->attrs[k].name);
    /* Absent trailing optionals are not stored: the text form omits them. */
    while (ops.len > info->n_required && ops.data[ops.len - 1].kind == IR_OPND_NONE) ops.len--;
    IrInst tmp = {.op = op, .result = -1, .n_operands = ops.len, .operands = (IrOperand *)ops.data,
                  .attrs = av, .loc = loc};
    IrType t;
    char err[512];
    if (!ir_infer_type(m, fn, &tmp, &t, err, sizeof err))
        HYC_DIE("ir_emit %s at %s: %s", info->name, where, err);
    IrInst *in = ir_append(fn, op, ops.data, ops.len, info->n_results ? &t : NULL, loc);
    in->attrs = av;
    return (IrValue){in->result};
}

IrValue ir_emit_named(IrFunc *fn, IrOp op, IrNamedOperandList ops, IrAttrList attrs, SrcLoc loc)
{
    const IrOpInfo *info = ir_op_info(op);
    IrOperand slots[IR_MAX_SLOTS];
    int n = 0;
    HYC_ASSERT(!info->variadic);
    for (int i = 0; i < IR_MAX_SLOTS; i++) slots[i] = IR_ABSENT;
    for (int i = 0; i < ops.len; i++) {
        int k = ir_op_slot(op, ops.data[i].name);
        if (k < 0) HYC_DIE("ir_emit_named %s: no operand '%s'", info->name, ops.data[i].name);
        slots[k] = ops.data[i].opnd;
        if (slots[k].kind != IR_OPND_NONE && k + 1 > n) n = k + 1;
    }
    if (n < info->n_required) n = info->n_required; /* the emit names what is missing */
    return ir_emit(fn, op, (IrOperandList){slots, n}, attrs, loc);
}

/* ---- typed helpers --------------------------------------------------------- */

IrBuilder ir_builder(IrFunc *fn, SrcLoc loc) { return (IrBuilder){fn, loc}; }

IrValue ir_embed(IrBuilder *b, IrValue tokens, IrParam table)
{
    return ir_emit(b->fn, IR_OP_EMBED, IR_OPERANDS(ir_v(tokens), ir_p(table)), IR_NO_ATTRS, b->loc);
}

IrValue ir_matmul_bias(IrBuilder *b, IrValue x, IrParam w, IrParam bias)
{
    if (bias.id < 0)
        return ir_emit(b->fn, IR_OP_MATMUL, IR_OPERANDS(ir_v(x), ir_p(w)), IR_NO_ATTRS, b->loc);
    return ir_emit(b->fn, IR_OP_MATMUL, IR_OPERANDS(ir_v(x), ir_p(w), ir_p(bias)), IR_NO_ATTRS, b->loc);
}

IrValue ir_matmul(IrBuilder *b, IrValue x, IrParam w) { return ir_matmul_bias(b, x, w, IR_NO_PARAM); }

IrValue ir_rmsnorm_offset(IrBuilder *b, IrValue x, IrParam w, double eps, double offset)
{
    IrNamedAttr attrs[2] = {IR_AF("eps", eps), IR_AF("offset", offset)};
    return ir_emit(b->fn, IR_OP_RMSNORM, IR_OPERANDS(ir_v(x), ir_p(w)),
                   (IrAttrList){attrs, offset != 0.0 ? 2 : 1}, b->loc);
}

IrValue ir_rmsnorm(IrBuilder *b, IrValue x, IrParam w, double eps)
{
    return ir_rmsnorm_offset(b, x, w, eps, 0.0);
}

IrValue ir_layernorm(IrBuilder *b, IrValue x, IrParam w, IrParam bias, double eps)
{
    return ir_emit(b->fn, IR_OP_LAYERNORM, IR_OPERANDS(ir_v(x), ir_p(w), ir_p(bias)),
                   IR_ATTRS(IR_AF("eps", eps)), b->loc);
}

IrValue ir_group_rmsnorm(IrBuilder *b, IrValue x, IrParam w, int64_t groups, double eps)
{
    return ir_emit(b->fn, IR_OP_GROUP_RMSNORM, IR_OPERANDS(ir_v(x), ir_p(w)),
                   IR_ATTRS(IR_AI("groups", groups), IR_AF("eps", eps)), b->loc);
}

IrValue ir_gated_rmsnorm(IrBuilder *b, IrValue x, IrValue z, IrParam w, int64_t groups, double eps,
                         bool norm_before_gate)
{
    return ir_emit(b->fn, IR_OP_GATED_RMSNORM, IR_OPERANDS(ir_v(x), ir_v(z), ir_p(w)),
                   IR_ATTRS(IR_AI("groups", groups), IR_AF("eps", eps),
                            IR_AB("norm_before_gate", norm_before_gate)),
                   b->loc);
}

IrValue ir_l2norm(IrBuilder *b, IrValue x, double eps)
{
    return ir_emit(b->fn, IR_OP_L2NORM, IR_OPERANDS(ir_v(x)), IR_ATTRS(IR_AF("eps", eps)), b->loc);
}

IrValue ir_unary(IrBuilder *b, IrOp op, IrOperand x)
{
    return ir_emit(b->fn, op, IR_OPERANDS(x), IR_NO_ATTRS, b->loc);
}

IrValue ir_silu(IrBuilder *b, IrValue x) { return ir_unary(b, IR_OP_SILU, ir_v(x)); }
IrValue ir_sigmoid(IrBuilder *b, IrValue x) { return ir_unary(b, IR_OP_SIGMOID, ir_v(x)); }

IrValue ir_act(IrBuilder *b, const char *act, IrValue x)
{
    IrAct a = ir_act_info(act);
    if (a.tanh) return ir_emit(b->fn, a.op, IR_OPERANDS(ir_v(x)), IR_ATTRS(IR_AS("approximate", "tanh")), b->loc);
    return ir_unary(b, a.op, ir_v(x));
}
IrValue ir_softplus(IrBuilder *b, IrValue x) { return ir_unary(b, IR_OP_SOFTPLUS, ir_v(x)); }

IrValue ir_binary(IrBuilder *b, IrOp op, IrOperand x, IrOperand y)
{
    return ir_emit(b->fn, op, IR_OPERANDS(x, y), IR_NO_ATTRS, b->loc);
}

IrValue ir_add(IrBuilder *b, IrValue x, IrValue y) { return ir_binary(b, IR_OP_ADD, ir_v(x), ir_v(y)); }
IrValue ir_sub(IrBuilder *b, IrValue x, IrValue y) { return ir_binary(b, IR_OP_SUB, ir_v(x), ir_v(y)); }
IrValue ir_mul(IrBuilder *b, IrValue x, IrValue y) { return ir_binary(b, IR_OP_MUL, ir_v(x), ir_v(y)); }

IrValue ir_scale(IrBuilder *b, IrValue x, double factor)
{
    return ir_emit(b->fn, IR_OP_SCALE, IR_OPERANDS(ir_v(x)), IR_ATTRS(IR_AF("factor", factor)), b->loc);
}

IrValue ir_clamp(IrBuilder *b, IrValue x, double lo, double hi)
{
    return ir_emit(b->fn, IR_OP_CLAMP, IR_OPERANDS(ir_v(x)),
                   IR_ATTRS(IR_AF("min", lo), IR_AF("max", hi)), b->loc);
}

IrValue ir_slice(IrBuilder *b, IrValue x, int64_t offset, int64_t len)
{
    return ir_emit(b->fn, IR_OP_SLICE, IR_OPERANDS(ir_v(x)),
                   IR_ATTRS(IR_AI("offset", offset), IR_AI("len", len)), b->loc);
}

IrValue ir_concat(IrBuilder *b, const IrValue *xs, int n)
{
    IrOperand ops[IR_MAX_OPERANDS];
    HYC_ASSERT(n >= 1 && n <= IR_MAX_OPERANDS);
    for (int i = 0; i < n; i++) ops[i] = ir_v(xs[i]);
    return ir_emit(b->fn, IR_OP_CONCAT, (IrOperandList){ops, n}, IR_NO_ATTRS, b->loc);
}

IrValue ir_reshape(IrBuilder *b, IrValue x, int n, const int64_t *dims)
{
    return ir_emit(b->fn, IR_OP_RESHAPE, IR_OPERANDS(ir_v(x)),
                   IR_ATTRS(((IrNamedAttr){"dims", ir_attr_ints(dims, n)})), b->loc);
}

IrValue ir_causal_conv1d(IrBuilder *b, IrValue x, IrParam w, IrParam bias, IrState st)
{
    return ir_emit(b->fn, IR_OP_CAUSAL_CONV1D, IR_OPERANDS(ir_v(x), ir_p(w), ir_s(st), ir_p(bias)),
                   IR_NO_ATTRS, b->loc);
}

IrValue ir_sdpa(IrBuilder *b, IrValue q, IrValue k, IrValue v, IrState cache, double scale,
                int64_t window)
{
    return ir_emit(b->fn, IR_OP_SDPA, IR_OPERANDS(ir_v(q), ir_v(k), ir_v(v), ir_s(cache)),
                   IR_ATTRS(IR_AF("scale", scale), IR_AI("window", window)), b->loc);
}

void ir_kv_store(IrBuilder *b, IrValue k, IrValue v, IrState cache)
{
    ir_emit(b->fn, IR_OP_KV_STORE, IR_OPERANDS(ir_v(k), ir_v(v), ir_s(cache)), IR_NO_ATTRS, b->loc);
}
