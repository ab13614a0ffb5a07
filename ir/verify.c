/* verify.c — every invariant of a module (docs/ir.md "Verifier").
 *
 * Errors point at the IR text when the module was parsed (ir_loc), else at
 * the instruction's origin (the DSL line that made it).  Per instruction the
 * checks go from structure to shapes: the shape rule only runs on an
 * instruction whose operands and attributes are well-formed, so it may
 * assume them. */
#include "ir.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct Verifier {
    const IrModule *m;
    Diag *diag;
    int errors;
    const IrFunc *fn;
} Verifier;

__attribute__((format(printf, 3, 4))) static void err(Verifier *v, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(v->diag, DIAG_ERROR, loc, fmt, ap);
    va_end(ap);
    v->errors++;
}

__attribute__((format(printf, 3, 4))) static void note(Verifier *v, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(v->diag, DIAG_NOTE, loc, fmt, ap);
    va_end(ap);
}

static SrcLoc pick(SrcLoc ir, SrcLoc origin) { return ir.file ? ir : origin; }
static SrcLoc inst_loc(const IrInst *in) { return pick(in->ir_loc, in->loc); }

static const char *tstr(Verifier *v, const IrType *t) { return ir_type_str(v->m->arena, t); }

/* A type is well-formed: known dtype, rank 1..4, dims positive constants or
 * the symbols `allow` permits (T only as dim 0). */
enum { ALLOW_T = 1, ALLOW_MAX_SEQ = 2 };
static const char *type_problem(const IrType *t, unsigned allow)
{
    if ((unsigned)t->dtype >= IR_DT_COUNT) return "has an unknown element type";
    if (t->rank < 1 || t->rank > IR_MAX_RANK) return "must have 1 to 4 dims";
    for (int i = 0; i < t->rank; i++) {
        int64_t d = t->dims[i];
        if (d == IR_DIM_T) {
            if (!(allow & ALLOW_T)) return "may not use T";
            if (i != 0) return "may use T only as dim 0";
        } else if (d == IR_DIM_MAX_SEQ) {
            if (!(allow & ALLOW_MAX_SEQ)) return "may not use max_seq";
        } else if (d < 1 || d > IR_DIM_LIMIT) {
            return "has a dim out of range";
        }
    }
    return NULL;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return strcmp(x, y);
}

/* ---- module level ---------------------------------------------------------- */

/* A derived param: a well-formed expression of its declared type, whose
 * leaves are valid float params. */
static bool pexpr_leaves_ok(Verifier *v, const IrParamDecl *p, const IrPExpr *e)
{
    if (e->kind == IR_PEXPR_PARAM || e->kind == IR_PEXPR_ZEROS) {
        const char *why = type_problem(&e->type, 0);
        if (!why && !ir_dtype_is_float(e->type.dtype)) why = "must have a float element type";
        if (why) {
            err(v, pick(p->ir_loc, p->loc), "parameter '@%s': %s%s%s %s", p->name,
                e->kind == IR_PEXPR_ZEROS ? "zeros(...)" : "source '@", e->kind == IR_PEXPR_ZEROS ? "" : e->name,
                e->kind == IR_PEXPR_ZEROS ? "" : "'", why);
            return false;
        }
        return true;
    }
    for (int i = 0; i < e->n_args; i++)
        if (!pexpr_leaves_ok(v, p, e->args[i])) return false;
    return true;
}

static void verify_derived(Verifier *v, const IrParamDecl *p)
{
    char why[256];
    if (!pexpr_leaves_ok(v, p, p->derive)) return;
    if (!ir_pexpr_check(p->derive, why, sizeof why))
        err(v, pick(p->ir_loc, p->loc), "parameter '@%s': %s", p->name, why);
    else if (!ir_type_eq(&p->derive->type, &p->type))
        err(v, pick(p->ir_loc, p->loc), "parameter '@%s' is declared %s but its value is %s", p->name,
            tstr(v, &p->type), tstr(v, &p->derive->type));
}

static void verify_params(Verifier *v)
{
    const IrModule *m = v->m;
    for (int i = 0; i < m->n_params; i++) {
        const IrParamDecl *p = &m->params[i];
        const char *why = type_problem(&p->type, 0);
        if (why) err(v, pick(p->ir_loc, p->loc), "parameter '@%s' %s", p->name, why);
        else if (!ir_dtype_is_float(p->type.dtype))
            err(v, pick(p->ir_loc, p->loc), "parameter '@%s' must have a float element type", p->name);
        else if (p->derive)
            verify_derived(v, p);
    }
    for (int i = 0; i < m->n_states; i++) {
        const IrStateDecl *s = &m->states[i];
        SrcLoc at = pick(s->ir_loc, s->loc);
        const char *why = type_problem(&s->type, ALLOW_MAX_SEQ);
        int rank_lo = s->kind == IR_STATE_KV_CACHE ? 3 : 2, rank_hi = s->kind == IR_STATE_SSM ? 3 : rank_lo;
        if (why) {
            err(v, at, "state '$%s' %s", s->name, why);
            continue;
        }
        if (!ir_dtype_is_float(s->type.dtype))
            err(v, at, "state '$%s' must have a float element type", s->name);
        if (s->type.rank < rank_lo || s->type.rank > rank_hi)
            err(v, at, "state '$%s' of kind %s must have rank %d%s, not %d", s->name,
                ir_state_kind_name(s->kind), rank_lo, rank_hi > rank_lo ? " or 3" : "", s->type.rank);
        for (int d = 0; d < s->type.rank; d++)
            if (s->type.dims[d] == IR_DIM_MAX_SEQ && !(s->kind == IR_STATE_KV_CACHE && d == 1))
                err(v, at, "state '$%s': only the row dim (1) of a kv_cache may be max_seq", s->name);
        if (ir_state_bytes(m, (IrState){i}, m->max_seq) > ((uint64_t)1 << 50))
            err(v, at, "state '$%s' is too large", s->name);
    }
    /* Unique names: sort the (interned) names and compare neighbours. */
    int n = m->n_params > m->n_states ? m->n_params : m->n_states;
    const char **names = xmalloc(sizeof *names * (size_t)(n ? n : 1));
    for (int pass = 0; pass < 2; pass++) {
        int cnt = pass ? m->n_states : m->n_params;
        for (int i = 0; i < cnt; i++) names[i] = pass ? m->states[i].name : m->params[i].name;
        qsort(names, (size_t)cnt, sizeof *names, cmp_str_ptr);
        for (int i = 1; i < cnt; i++)
            if (strcmp(names[i], names[i - 1]) == 0 && (i == 1 || strcmp(names[i], names[i - 2]) != 0))
                err(v, pass ? pick(m->states[ir_find_state(m, names[i]).id].ir_loc,
                                   m->states[ir_find_state(m, names[i]).id].loc)
                            : pick(m->params[ir_find_param(m, names[i]).id].ir_loc,
                                   m->params[ir_find_param(m, names[i]).id].loc),
                    "%s '%c%s' is declared more than once", pass ? "state" : "parameter",
                    pass ? '$' : '@', names[i]);
    }
    free(names);
}

/* ---- instructions ---------------------------------------------------------- */

static bool verify_value_use(Verifier *v, const IrInst *in, int index, int slot, int id)
{
    const IrFunc *fn = v->fn;
    const char *opname = ir_op_name(in->op);
    if (id < 0 || id >= fn->n_values) {
        err(v, inst_loc(in), "'%s' operand %d refers to no value", opname, slot + 1);
        return false;
    }
    int def = fn->values[id].def;
    if (def == IR_DEF_ARG || (def >= 0 && def < index)) return true;
    /* Only now: a label costs a pass over the function. */
    const char *label = ir_value_label(v->m->arena, fn, id);
    if (def == IR_DEF_NONE) {
        err(v, inst_loc(in), "'%s' uses value %s, which is never defined", opname, label);
        return false;
    }
    if (def >= index) {
        err(v, inst_loc(in), "'%s' uses %s before its definition", opname, label);
        note(v, inst_loc(&fn->insts[def]), "%s is defined here", label);
        return false;
    }
    return true;
}

static bool verify_operands(Verifier *v, const IrInst *in, int index)
{
    const IrModule *m = v->m;
    const IrOpInfo *info = ir_op_info(in->op);
    SrcLoc at = inst_loc(in);
    bool ok = true;
    int max = info->variadic ? IR_MAX_OPERANDS : info->n_slots;
    if (in->n_operands < info->n_required || in->n_operands > max) {
        if (info->variadic)
            err(v, at, "'%s' takes at least %d operand%s, got %d", info->name, info->n_required,
                info->n_required == 1 ? "" : "s", in->n_operands);
        else if (info->n_required == info->n_slots)
            err(v, at, "'%s' takes %d operand%s, got %d", info->name, info->n_slots,
                info->n_slots == 1 ? "" : "s", in->n_operands);
        else
            err(v, at, "'%s' takes %d to %d operands, got %d", info->name, info->n_required,
                info->n_slots, in->n_operands);
        return false;
    }
    for (int i = 0; i < in->n_operands; i++) {
        const IrOperandSpec *s = &info->slots[i < info->n_slots ? i : info->n_slots - 1];
        IrOperand o = in->operands[i];
        if (o.kind == IR_OPND_NONE) {
            if (!s->optional) {
                err(v, at, "'%s' operand %d ('%s') is required", info->name, i + 1, s->name);
                ok = false;
            }
            continue;
        }
        if (o.kind == IR_OPND_VALUE) {
            if (!verify_value_use(v, in, index, i, o.id)) {
                ok = false;
                continue;
            }
        } else if ((o.kind == IR_OPND_PARAM && (o.id < 0 || o.id >= m->n_params)) ||
                   (o.kind == IR_OPND_STATE && (o.id < 0 || o.id >= m->n_states)) ||
                   (o.kind != IR_OPND_PARAM && o.kind != IR_OPND_STATE)) {
            err(v, at, "'%s' operand %d is malformed", info->name, i + 1);
            ok = false;
            continue;
        }
        const char *bad = ir_operand_mismatch(m, v->fn, s->cls, o);
        if (bad) {
            err(v, at, "'%s' operand %d ('%s') must be %s, not %s", info->name, i + 1, s->name,
                ir_operand_class_desc(s->cls), bad);
            ok = false;
        }
    }
    return ok;
}

static bool verify_attrs(Verifier *v, const IrInst *in)
{
    const IrOpInfo *info = ir_op_info(in->op);
    SrcLoc at = inst_loc(in);
    bool ok = true;
    for (int k = 0; k < info->n_attrs; k++) {
        const IrAttrSpec *s = &info->attrs[k];
        const IrAttr *a = in->attrs ? &in->attrs[k] : NULL;
        if (!a || a->kind == IR_ATTR_NONE) {
            if (s->required) {
                err(v, at, "'%s' needs attribute '%s'", info->name, s->name);
                ok = false;
            }
            continue;
        }
        if (a->kind != s->kind) {
            err(v, at, "attribute '%s' of '%s' must be %s, not %s", s->name, info->name,
                ir_attr_kind_desc(s->kind), ir_attr_kind_desc(a->kind));
            ok = false;
            continue;
        }
        if (s->kind == IR_ATTR_FLOAT && isnan(a->f)) {
            err(v, at, "attribute '%s' of '%s' is nan", s->name, info->name);
            ok = false;
        }
        if (s->choices) {
            bool found = false;
            for (int c = 0; c < s->n_choices && !found; c++) found = strcmp(a->s, s->choices[c]) == 0;
            if (!found) {
                StrBuf sb = {0};
                for (int c = 0; c < s->n_choices; c++) sb_printf(&sb, "%s\"%s\"", c ? ", " : "", s->choices[c]);
                const char *sug = suggest_word(a->s, s->choices, s->n_choices);
                err(v, at, "attribute '%s' of '%s' must be one of %s%s%s%s", s->name, info->name,
                    sb_cstr(&sb), sug ? "; did you mean \"" : "", sug ? sug : "", sug ? "\"?" : "");
                sb_free(&sb);
                ok = false;
            }
        }
    }
    return ok;
}

static bool verify_result(Verifier *v, const IrInst *in, int index)
{
    const IrFunc *fn = v->fn;
    const IrOpInfo *info = ir_op_info(in->op);
    SrcLoc at = inst_loc(in);
    if (info->n_results == 0) {
        if (in->result < 0) return true;
        err(v, at, "'%s' has no result", info->name);
        return false;
    }
    if (in->result < 0 || in->result >= fn->n_values) {
        err(v, at, "'%s' must have a result", info->name);
        return false;
    }
    const IrValueInfo *val = &fn->values[in->result];
    if (val->def != index) {
        const char *label = ir_value_label(v->m->arena, fn, in->result);
        err(v, at, "value %s is defined more than once", label);
        if (val->def >= 0 && val->def < fn->n_insts) note(v, inst_loc(&fn->insts[val->def]), "also defined here");
        return false;
    }
    const char *why = type_problem(&val->type, ALLOW_T);
    if (why) {
        err(v, at, "the result type %s %s", tstr(v, &val->type), why);
        return false;
    }
    return true;
}

typedef struct StateUse {
    int writer; /* instruction that writes the state, or -1 */
    int kv_store; /* kv_store that wrote a kv_cache, for the sdpa order */
} StateUse;

static void verify_state_use(Verifier *v, const IrInst *in, int index, StateUse *uses)
{
    const IrOpInfo *info = ir_op_info(in->op);
    for (int i = 0; i < in->n_operands; i++) {
        IrOperand o = in->operands[i];
        if (o.kind != IR_OPND_STATE) continue;
        const IrStateDecl *s = &v->m->states[o.id];
        StateUse *u = &uses[o.id];
        if (in->op == IR_OP_SDPA && u->kv_store >= 0) {
            err(v, inst_loc(in), "'sdpa' reads '$%s' after a kv_store wrote it: attend first, then store",
                s->name);
            note(v, inst_loc(&v->fn->insts[u->kv_store]), "the kv_store is here");
        }
        if (!(info->flags & IR_OPF_WRITES_STATE)) continue;
        if (u->writer >= 0) {
            err(v, inst_loc(in), "state '$%s' is written twice in '@%s'", s->name, v->fn->name);
            note(v, inst_loc(&v->fn->insts[u->writer]), "first written here");
        } else {
            u->writer = index;
        }
        if (in->op == IR_OP_KV_STORE) u->kv_store = index;
    }
}

static void verify_inst(Verifier *v, const IrInst *in, int index, StateUse *uses)
{
    const IrFunc *fn = v->fn;
    if ((unsigned)in->op >= IR_OP_COUNT) {
        err(v, inst_loc(in), "instruction %d has an unknown op", index);
        return;
    }
    bool ok = verify_operands(v, in, index);
    ok = verify_attrs(v, in) && ok;
    ok = verify_result(v, in, index) && ok;
    if (!ok) return;
    /* A param or state with a bad declared type was reported already. */
    for (int i = 0; i < in->n_operands; i++) {
        IrOperand o = in->operands[i];
        if (o.kind == IR_OPND_PARAM && type_problem(&v->m->params[o.id].type, 0)) return;
        if (o.kind == IR_OPND_STATE && type_problem(&v->m->states[o.id].type, ALLOW_MAX_SEQ)) return;
    }
    verify_state_use(v, in, index, uses);
    IrType t;
    char msg[512];
    if (!ir_infer_type(v->m, fn, in, &t, msg, sizeof msg)) {
        err(v, inst_loc(in), "%s: %s", ir_op_name(in->op), msg);
        return;
    }
    if (in->result >= 0 && !ir_type_eq(&t, &fn->values[in->result].type))
        err(v, inst_loc(in), "'%s' result is declared %s, but its operands give %s", ir_op_name(in->op),
            tstr(v, &fn->values[in->result].type), tstr(v, &t));
}

/* ---- functions ------------------------------------------------------------- */

/* prefill(%tokens: i32[T]) -> f32[T, vocab] (or f32[1, vocab]: last position only); decode(%token: i32[1]) -> f32[1, vocab] */
static int64_t verify_signature(Verifier *v, const IrFunc *fn)
{
    SrcLoc at = pick(fn->ir_loc, fn->loc);
    bool prefill = strcmp(fn->name, "prefill") == 0;
    int64_t t = prefill ? IR_DIM_T : 1;
    IrType want_arg = IR_TYPE(IR_DT_I32, t);
    const char *arg_text = prefill ? "one argument of type i32[T]" : "one argument of type i32[1]";
    if (fn->n_args != 1 || !ir_type_eq(&fn->values[fn->args[0]].type, &want_arg))
        err(v, at, "'@%s' takes %s", fn->name, arg_text);
    if (!fn->has_ret_type) {
        err(v, at, "'@%s' must declare its result type (-> f32[%s, vocab])", fn->name, prefill ? "T" : "1");
        return -1;
    }
    const IrType *r = &fn->ret_type;
    /* prefill may return only the last position's row (passes/last_logits.c) */
    bool rows_ok = r->rank == 2 && (r->dims[0] == t || (prefill && r->dims[0] == 1));
    if (r->dtype != IR_DT_F32 || !rows_ok || r->dims[1] < 1) {
        err(v, at, "'@%s' must return logits f32[%s, vocab], not %s", fn->name, prefill ? "T" : "1",
            tstr(v, r));
        return -1;
    }
    return r->dims[1];
}

static void verify_func(Verifier *v, const IrFunc *fn)
{
    v->fn = fn;
    SrcLoc at = pick(fn->ir_loc, fn->loc);
    for (int i = 0; i < fn->n_args; i++) {
        const IrValueInfo *a = &fn->values[fn->args[i]];
        const char *why = type_problem(&a->type, ALLOW_T);
        if (why) err(v, at, "argument %d of '@%s' %s", i + 1, fn->name, why);
    }
    /* Named values are unique within a function. */
    const char **names = xmalloc(sizeof *names * (size_t)(fn->n_values ? fn->n_values : 1));
    int n = 0;
    for (int i = 0; i < fn->n_values; i++)
        if (fn->values[i].name && fn->values[i].def != IR_DEF_NONE) names[n++] = fn->values[i].name;
    qsort(names, (size_t)n, sizeof *names, cmp_str_ptr);
    for (int i = 1; i < n; i++)
        if (strcmp(names[i], names[i - 1]) == 0)
            err(v, at, "value name '%%%s' is used twice in '@%s'", names[i], fn->name);
    free(names);

    StateUse *uses = xmalloc(sizeof *uses * (size_t)(v->m->n_states ? v->m->n_states : 1));
    for (int i = 0; i < v->m->n_states; i++) uses[i] = (StateUse){-1, -1};
    for (int i = 0; i < fn->n_insts; i++) verify_inst(v, &fn->insts[i], i, uses);
    free(uses);

    if (fn->ret < 0 || fn->ret >= fn->n_values) {
        err(v, pick(fn->ret_ir_loc, at), "'@%s' does not return a value", fn->name);
        return;
    }
    const IrValueInfo *r = &fn->values[fn->ret];
    SrcLoc rat = pick(fn->ret_ir_loc, pick(fn->ret_loc, at));
    if (r->def == IR_DEF_NONE) {
        err(v, rat, "'@%s' returns a value that is never defined", fn->name);
        return;
    }
    if (fn->has_ret_type && !ir_type_eq(&r->type, &fn->ret_type))
        err(v, rat, "'@%s' returns %s, but its result type is %s", fn->name, tstr(v, &r->type),
            tstr(v, &fn->ret_type));
}

bool ir_verify(const IrModule *m, Diag *diag)
{
    Verifier v = {m, diag, 0, NULL};
    SrcLoc mat = pick(m->ir_loc, m->loc);
    if (m->max_seq < 1 || m->max_seq > IR_DIM_LIMIT) err(&v, mat, "max_seq must be between 1 and 2^40");
    verify_params(&v);
    const IrFunc *prefill = NULL, *decode = NULL;
    for (int i = 0; i < m->n_funcs; i++) {
        const IrFunc *fn = m->funcs[i];
        SrcLoc at = pick(fn->ir_loc, fn->loc);
        bool is_prefill = strcmp(fn->name, "prefill") == 0, is_decode = strcmp(fn->name, "decode") == 0;
        const IrFunc **slot = is_prefill ? &prefill : is_decode ? &decode : NULL;
        if (!slot) {
            err(&v, at, "unknown function '@%s' (a module has '@prefill' and '@decode')", fn->name);
            continue;
        }
        if (*slot) {
            err(&v, at, "function '@%s' is defined more than once", fn->name);
            continue;
        }
        *slot = fn;
    }
    int64_t vocab[2] = {-1, -1};
    for (int i = 0; i < 2; i++) {
        const IrFunc *fn = i ? decode : prefill;
        if (!fn) {
            err(&v, mat, "module has no '@%s' function", i ? "decode" : "prefill");
            continue;
        }
        vocab[i] = verify_signature(&v, fn);
        verify_func(&v, fn);
    }
    if (vocab[0] > 0 && vocab[1] > 0 && vocab[0] != vocab[1])
        err(&v, pick(decode->ir_loc, decode->loc), "'@decode' returns %lld logits per token, '@prefill' %lld",
            (long long)vocab[1], (long long)vocab[0]);
    return v.errors == 0;
}
