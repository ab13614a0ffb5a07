/* param_expr.c — derived params: a param whose value is computed, when the
 * weights are loaded, from checkpoint params (docs/ir.md "Derived params").
 * Passes make them: fold-scales (a µP multiplier folded into a weight),
 * merge-projections (the weights of matmuls that share their input,
 * concatenated), fold-params (elementwise ops of params), fuse-prologue
 * (an rmsnorm's weight folded into the columns of the matmuls after it).
 * The leaves name checkpoint params by their canonical name and type, so
 * the binder and the random-weights generator give a leaf
 * exactly the values the param of that name would have had. */
#include "ir.h"

#include <math.h>
#include <string.h>

static IrPExpr *node(IrModule *m, IrPExprKind kind, IrType t)
{
    IrPExpr *e = ARENA_NEW(m->arena, IrPExpr);
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->type = t;
    return e;
}

/* Derived values are computed and packed in f32, whatever their leaves'. */
static IrType as_f32(IrType t)
{
    t.dtype = IR_DT_F32;
    return t;
}

const IrPExpr *ir_pexpr_param(IrModule *m, const char *name, IrType t)
{
    IrPExpr *e = node(m, IR_PEXPR_PARAM, t);
    e->name = intern(m->intern, name);
    return e;
}

const IrPExpr *ir_pexpr_zeros(IrModule *m, IrType t) { return node(m, IR_PEXPR_ZEROS, as_f32(t)); }

const IrPExpr *ir_pexpr_scale(IrModule *m, const IrPExpr *e, double factor)
{
    if (e->kind == IR_PEXPR_SCALE) return ir_pexpr_scale(m, e->args[0], e->factor * factor);
    IrPExpr *s = node(m, IR_PEXPR_SCALE, as_f32(e->type));
    const IrPExpr **args = ARENA_NEW_N(m->arena, const IrPExpr *, 1);
    args[0] = e;
    s->args = args;
    s->n_args = 1;
    s->factor = factor;
    return s;
}

bool ir_pexpr_op_ok(IrOp op)
{
    switch (op) {
    case IR_OP_SILU:
    case IR_OP_RELU2:
    case IR_OP_SOFTPLUS:
    case IR_OP_SIGMOID:
    case IR_OP_EXP:
    case IR_OP_NEG:
    case IR_OP_ADD:
    case IR_OP_SUB:
    case IR_OP_MUL: return true;
    default: return false;
    }
}

/* The f32 type of op(args): the operands' one shape, or false. */
static bool op_type(IrOp op, const IrPExpr *const *args, int n, IrType *out)
{
    if (!ir_pexpr_op_ok(op) || n != ir_op_info(op)->n_slots) return false;
    IrType t = as_f32(args[0]->type);
    for (int i = 1; i < n; i++) {
        IrType u = as_f32(args[i]->type);
        if (!ir_type_eq(&t, &u)) return false;
    }
    *out = t;
    return true;
}

const IrPExpr *ir_pexpr_op(IrModule *m, IrOp op, const IrPExpr *const *args, int n)
{
    IrType t;
    if (!op_type(op, args, n, &t)) return NULL;
    IrPExpr *e = node(m, IR_PEXPR_OP, t);
    const IrPExpr **a = ARENA_NEW_N(m->arena, const IrPExpr *, n);
    memcpy(a, args, sizeof *a * (size_t)n);
    e->op = (int)op;
    e->args = a;
    e->n_args = n;
    return e;
}

/* The type of scale_cols(w, g): w's (f32), when w is [n, k] and g [k]. */
static bool scale_cols_type(const IrPExpr *w, const IrPExpr *g, IrType *out)
{
    if (w->type.rank != 2 || g->type.rank != 1 || g->type.dims[0] != w->type.dims[1]) return false;
    *out = as_f32(w->type);
    return true;
}

const IrPExpr *ir_pexpr_scale_cols(IrModule *m, const IrPExpr *w, const IrPExpr *g, double offset)
{
    IrType t;
    if (!scale_cols_type(w, g, &t)) return NULL;
    IrPExpr *e = node(m, IR_PEXPR_SCALE_COLS, t);
    const IrPExpr **args = ARENA_NEW_N(m->arena, const IrPExpr *, 2);
    args[0] = w;
    args[1] = g;
    e->args = args;
    e->n_args = 2;
    e->factor = offset;
    return e;
}

int ir_pexpr_depth(const IrPExpr *e)
{
    int d = 0;
    for (int i = 0; i < e->n_args; i++) {
        int a = ir_pexpr_depth(e->args[i]);
        if (a > d) d = a;
    }
    return d + 1;
}

/* The type of concat(parts) along dim 0, or false. */
static bool concat_type(const IrPExpr *const *parts, int n, IrType *out)
{
    if (n < 1 || n > IR_PEXPR_MAX_ARGS) return false;
    IrType t = as_f32(parts[0]->type);
    for (int i = 1; i < n; i++) {
        const IrType *p = &parts[i]->type;
        if (p->rank != t.rank) return false;
        for (int d = 1; d < t.rank; d++)
            if (p->dims[d] != t.dims[d]) return false;
        t.dims[0] += p->dims[0];
    }
    if (t.dims[0] > IR_DIM_LIMIT) return false;
    *out = t;
    return true;
}

const IrPExpr *ir_pexpr_concat(IrModule *m, const IrPExpr *const *parts, int n)
{
    IrType t;
    if (!concat_type(parts, n, &t)) return NULL;
    IrPExpr *e = node(m, IR_PEXPR_CONCAT, t);
    const IrPExpr **args = ARENA_NEW_N(m->arena, const IrPExpr *, n);
    memcpy(args, parts, sizeof *args * (size_t)n);
    e->args = args;
    e->n_args = n;
    return e;
}

const IrPExpr *ir_param_expr(IrModule *m, IrParam p)
{
    const IrParamDecl *d = &m->params[p.id];
    return d->derive ? d->derive : ir_pexpr_param(m, d->name, d->type);
}

IrParam ir_declare_derived_param(IrModule *m, const char *name, const IrPExpr *e, SrcLoc loc)
{
    IrParam p = ir_declare_param(m, name, e->type, loc);
    m->params[p.id].derive = e;
    return p;
}

bool ir_pexpr_equal(const IrPExpr *a, const IrPExpr *b)
{
    if (a == b) return true;
    if (a->kind != b->kind || !ir_type_eq(&a->type, &b->type) || a->name != b->name || a->factor != b->factor || a->op != b->op ||
        a->n_args != b->n_args)
        return false;
    for (int i = 0; i < a->n_args; i++)
        if (!ir_pexpr_equal(a->args[i], b->args[i])) return false;
    return true;
}

IrParam ir_derived_param(IrModule *m, const char *base, const IrPExpr *e, SrcLoc loc)
{
    for (int i = 0; i < m->n_params; i++)
        if (m->params[i].derive && ir_pexpr_equal(m->params[i].derive, e)) return (IrParam){i};
    return ir_declare_derived_param(m, ir_fresh_param_name(m, base), e, loc);
}

const char *ir_fresh_param_name(IrModule *m, const char *base)
{
    if (ir_find_param(m, base).id < 0) return intern(m->intern, base);
    for (int i = 2;; i++) {
        const char *name = arena_printf(m->arena, "%s.%d", base, i);
        if (ir_find_param(m, name).id < 0) return intern(m->intern, name);
    }
}

static bool check_at(const IrPExpr *e, int depth, char *err, size_t n)
{
    if (depth > IR_PEXPR_MAX_DEPTH) {
        snprintf(err, n, "a derived param nests deeper than %d", IR_PEXPR_MAX_DEPTH);
        return false;
    }
    for (int i = 0; i < e->n_args; i++)
        if (!check_at(e->args[i], depth + 1, err, n)) return false;
    switch (e->kind) {
    case IR_PEXPR_PARAM:
    case IR_PEXPR_ZEROS: return true;
    case IR_PEXPR_SCALE: {
        IrType t = as_f32(e->args[0]->type);
        if (e->n_args != 1 || !ir_type_eq(&t, &e->type)) {
            snprintf(err, n, "scale(...) must keep its operand's shape");
            return false;
        }
        return true;
    }
    case IR_PEXPR_OP: {
        IrType t;
        if (!op_type((IrOp)e->op, e->args, e->n_args, &t) || !ir_type_eq(&t, &e->type)) {
            snprintf(err, n, "%s(...) must have foldable elementwise operands of one shape",
                     ir_pexpr_op_ok((IrOp)e->op) ? ir_op_name((IrOp)e->op) : "an op");
            return false;
        }
        return true;
    }
    case IR_PEXPR_SCALE_COLS: {
        IrType t;
        if (e->n_args != 2 || !scale_cols_type(e->args[0], e->args[1], &t) || !ir_type_eq(&t, &e->type)) {
            snprintf(err, n, "scale_cols(w, g) needs w [n, k] and g [k]");
            return false;
        }
        if (!isfinite(e->factor)) {
            snprintf(err, n, "the offset of scale_cols(...) must be finite");
            return false;
        }
        return true;
    }
    case IR_PEXPR_CONCAT: {
        IrType t;
        if (!concat_type(e->args, e->n_args, &t)) {
            snprintf(err, n, "concat(...) of parts whose shapes differ past dim 0 (or of more than %d parts)",
                     IR_PEXPR_MAX_ARGS);
            return false;
        }
        if (!ir_type_eq(&t, &e->type)) {
            snprintf(err, n, "concat(...) has the wrong type");
            return false;
        }
        return true;
    }
    }
    HYC_UNREACHABLE();
}

bool ir_pexpr_check(const IrPExpr *e, char *err, size_t err_len) { return check_at(e, 1, err, err_len); }

/* ---- dropping params nothing reads --------------------------------------------- */

int ir_drop_unused_params(IrModule *m)
{
    bool *used = ARENA_NEW_N(m->arena, bool, m->n_params ? m->n_params : 1);
    for (int f = 0; f < m->n_funcs; f++)
        for (int i = 0; i < m->funcs[f]->n_insts; i++) {
            const IrInst *in = &m->funcs[f]->insts[i];
            for (int k = 0; k < in->n_operands; k++)
                if (in->operands[k].kind == IR_OPND_PARAM) used[in->operands[k].id] = true;
        }
    int *new_id = ARENA_NEW_N(m->arena, int, m->n_params ? m->n_params : 1);
    int n = 0;
    for (int p = 0; p < m->n_params; p++) {
        new_id[p] = used[p] ? n : -1;
        if (used[p]) m->params[n++] = m->params[p];
    }
    int dropped = m->n_params - n;
    m->n_params = n;
    if (dropped == 0) return 0;
    for (int f = 0; f < m->n_funcs; f++)
        for (int i = 0; i < m->funcs[f]->n_insts; i++) {
            IrInst *in = &m->funcs[f]->insts[i];
            for (int k = 0; k < in->n_operands; k++)
                if (in->operands[k].kind == IR_OPND_PARAM) {
                    in->operands[k].id = new_id[in->operands[k].id];
                    HYC_ASSERT(in->operands[k].id >= 0);
                }
        }
    return dropped;
}
