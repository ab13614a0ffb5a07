/* ops.c — the op table: ops.def's spec strings turned into IrOpInfo, and
 * attribute/operand access by name. */
#include "ir.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct OpDef {
    const char *name;
    int n_results;
    const char *operands, *attrs;
    IrShapeFn shape;
    unsigned flags;
} OpDef;

static const OpDef op_defs[] = {
#define OP(id, name, nres, opnds, attrs, shape, flags) {name, nres, opnds, attrs, shape, flags},
#include "ops.def"
#undef OP
};
static_assert(sizeof op_defs / sizeof *op_defs == IR_OP_COUNT, "ops.def and IrOp disagree");

static IrOpInfo op_infos[IR_OP_COUNT];
static bool op_infos_ready;

/* Spec strings are parsed once into a heap pool that lives as long as the
 * process (static pointers keep it reachable). */
static char *pool_dup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

_Noreturn static void spec_die(const OpDef *d, const char *what, const char *at)
{
    HYC_DIE("ops.def: op '%s': %s at \"%s\"", d->name, what, at);
}

/* operand slot := name ':' class ['?' | '*'] */
static void parse_slots(const OpDef *d, IrOpInfo *info)
{
    const char *p = d->operands;
    bool seen_optional = false;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *start = p;
        while (*p && *p != ':') p++;
        if (*p != ':' || p == start) spec_die(d, "operand without ':'", start);
        if (info->n_slots == IR_MAX_SLOTS) spec_die(d, "too many operands", start);
        IrOperandSpec *s = &info->slots[info->n_slots++];
        s->name = pool_dup(start, (size_t)(p - start));
        p++;
        switch (*p++) {
        case 'v': s->cls = IR_OC_VALUE; break;
        case 'i': s->cls = IR_OC_INT_VALUE; break;
        case 't': s->cls = IR_OC_TENSOR; break;
        case 'p': s->cls = IR_OC_PARAM; break;
        case 'K': s->cls = IR_OC_KV; break;
        case 'C': s->cls = IR_OC_CONV; break;
        case 'S': s->cls = IR_OC_SSM; break;
        default: spec_die(d, "unknown operand class", start);
        }
        if (*p == '?') s->optional = true, p++;
        else if (*p == '*') s->variadic = true, p++;
        if (*p && *p != ' ') spec_die(d, "junk after operand", start);
        if (s->optional) seen_optional = true;
        else if (seen_optional) spec_die(d, "required operand after an optional one", start);
        else info->n_required++;
        if (s->variadic && (*p || s->optional)) spec_die(d, "variadic operand not last", start);
        info->variadic = s->variadic;
    }
}

static IrAttr parse_default(const OpDef *d, const IrAttrSpec *a, const char *text)
{
    IrAttr v = {0};
    v.kind = a->kind;
    char *end = NULL;
    switch (a->kind) {
    case IR_ATTR_INT: v.i = strtoll(text, &end, 10); break;
    case IR_ATTR_FLOAT: v.f = strtod(text, &end); break;
    case IR_ATTR_BOOL:
        if (strcmp(text, "true") == 0) v.b = true;
        else if (strcmp(text, "false") != 0) spec_die(d, "bad bool default", text);
        return v;
    case IR_ATTR_STRING:
        for (int i = 0; i < a->n_choices; i++)
            if (strcmp(a->choices[i], text) == 0) {
                v.s = a->choices[i];
                return v;
            }
        spec_die(d, "default is not one of the choices", text);
    default: spec_die(d, "lists have no defaults", text);
    }
    if (!end || *end || end == text) spec_die(d, "bad default", text);
    return v;
}

/* attribute := name ':' kind ('!' | '=' default)?
 * kind := i | f | b | s | I | F | e(word|word...) */
static void parse_attrs(const OpDef *d, IrOpInfo *info)
{
    const char *p = d->attrs;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *start = p;
        while (*p && *p != ':') p++;
        if (*p != ':' || p == start) spec_die(d, "attribute without ':'", start);
        if (info->n_attrs == IR_MAX_ATTRS) spec_die(d, "too many attributes", start);
        IrAttrSpec *a = &info->attrs[info->n_attrs++];
        a->name = pool_dup(start, (size_t)(p - start));
        p++;
        switch (*p++) {
        case 'i': a->kind = IR_ATTR_INT; break;
        case 'f': a->kind = IR_ATTR_FLOAT; break;
        case 'b': a->kind = IR_ATTR_BOOL; break;
        case 's': a->kind = IR_ATTR_STRING; break;
        case 'I': a->kind = IR_ATTR_INTS; break;
        case 'F': a->kind = IR_ATTR_FLOATS; break;
        case 'e': {
            a->kind = IR_ATTR_STRING;
            if (*p++ != '(') spec_die(d, "expected '(' after e", start);
            const char *close = strchr(p, ')');
            if (!close) spec_die(d, "unclosed choice list", start);
            int n = 1;
            for (const char *q = p; q < close; q++) n += *q == '|';
            const char **choices = xmalloc(sizeof *choices * (size_t)n);
            for (int i = 0; i < n; i++) {
                const char *q = p;
                while (q < close && *q != '|') q++;
                if (q == p) spec_die(d, "empty choice", start);
                choices[i] = pool_dup(p, (size_t)(q - p));
                p = q < close ? q + 1 : q;
            }
            a->choices = choices;
            a->n_choices = n;
            p = close + 1;
            break;
        }
        default: spec_die(d, "unknown attribute kind", start);
        }
        if (*p == '!') {
            a->required = true;
            p++;
        } else if (*p == '=') {
            const char *v = ++p;
            while (*p && *p != ' ') p++;
            char *text = pool_dup(v, (size_t)(p - v));
            a->def = parse_default(d, a, text);
            a->has_default = true;
            free(text);
        }
        if (*p && *p != ' ') spec_die(d, "junk after attribute", start);
    }
}

static void init_tables(void)
{
    for (int i = 0; i < IR_OP_COUNT; i++) {
        const OpDef *d = &op_defs[i];
        IrOpInfo *info = &op_infos[i];
        info->op = (IrOp)i;
        info->name = d->name;
        info->n_results = d->n_results;
        info->operand_spec = d->operands;
        info->attr_spec = d->attrs;
        info->shape = d->shape;
        info->flags = d->flags;
        if (d->n_results != 0 && d->n_results != 1) spec_die(d, "results must be 0 or 1", "");
        parse_slots(d, info);
        parse_attrs(d, info);
        for (int j = 0; j < i; j++)
            if (strcmp(op_defs[j].name, d->name) == 0) spec_die(d, "duplicate op name", "");
    }
    op_infos_ready = true;
}

const IrOpInfo *ir_op_info(IrOp op)
{
    HYC_ASSERT((unsigned)op < IR_OP_COUNT);
    if (!op_infos_ready) init_tables();
    return &op_infos[op];
}

const char *ir_op_name(IrOp op)
{
    HYC_ASSERT((unsigned)op < IR_OP_COUNT);
    return op_defs[op].name;
}

IrOp ir_op_lookup(const char *name)
{
    for (int i = 0; i < IR_OP_COUNT; i++)
        if (strcmp(op_defs[i].name, name) == 0) return (IrOp)i;
    return IR_OP_COUNT;
}

int ir_op_slot(IrOp op, const char *name)
{
    const IrOpInfo *info = ir_op_info(op);
    for (int i = 0; i < info->n_slots; i++)
        if (strcmp(info->slots[i].name, name) == 0) return i;
    return -1;
}

int ir_op_attr(IrOp op, const char *name)
{
    const IrOpInfo *info = ir_op_info(op);
    for (int i = 0; i < info->n_attrs; i++)
        if (strcmp(info->attrs[i].name, name) == 0) return i;
    return -1;
}

const char *ir_operand_class_desc(IrOperandClass c)
{
    switch (c) {
    case IR_OC_VALUE: return "a float value";
    case IR_OC_INT_VALUE: return "an i32 value";
    case IR_OC_TENSOR: return "a float value or a parameter";
    case IR_OC_PARAM: return "a parameter";
    case IR_OC_KV: return "a kv_cache state";
    case IR_OC_CONV: return "a conv_state state";
    case IR_OC_SSM: return "an ssm_state state";
    }
    HYC_UNREACHABLE();
}

const char *ir_attr_kind_desc(IrAttrKind k)
{
    switch (k) {
    case IR_ATTR_NONE: return "nothing";
    case IR_ATTR_INT: return "an integer";
    case IR_ATTR_FLOAT: return "a float";
    case IR_ATTR_BOOL: return "a bool";
    case IR_ATTR_STRING: return "a string";
    case IR_ATTR_INTS: return "a list of integers";
    case IR_ATTR_FLOATS: return "a list of floats";
    }
    HYC_UNREACHABLE();
}

/* ---- access by name -------------------------------------------------------- */

static int attr_slot_or_die(const IrInst *in, const char *name)
{
    int i = ir_op_attr(in->op, name);
    if (i < 0) HYC_DIE("op '%s' has no attribute '%s'", ir_op_name(in->op), name);
    return i;
}

const IrAttr *ir_attr_get(const IrInst *in, const char *name)
{
    int i = attr_slot_or_die(in, name);
    if (in->attrs && in->attrs[i].kind != IR_ATTR_NONE) return &in->attrs[i];
    const IrAttrSpec *s = &ir_op_info(in->op)->attrs[i];
    return s->has_default ? &s->def : NULL;
}

bool ir_attr_has(const IrInst *in, const char *name)
{
    int i = attr_slot_or_die(in, name);
    return in->attrs && in->attrs[i].kind != IR_ATTR_NONE;
}

static const IrAttr *attr_need(const IrInst *in, const char *name, IrAttrKind kind)
{
    const IrAttr *a = ir_attr_get(in, name);
    if (!a) HYC_DIE("op '%s': attribute '%s' is absent", ir_op_name(in->op), name);
    if (a->kind != kind)
        HYC_DIE("op '%s': attribute '%s' is %s", ir_op_name(in->op), name,
                ir_attr_kind_desc(a->kind));
    return a;
}

int64_t ir_attr_i(const IrInst *in, const char *name) { return attr_need(in, name, IR_ATTR_INT)->i; }
double ir_attr_f(const IrInst *in, const char *name) { return attr_need(in, name, IR_ATTR_FLOAT)->f; }
bool ir_attr_b(const IrInst *in, const char *name) { return attr_need(in, name, IR_ATTR_BOOL)->b; }
IrAct ir_act_info(const char *act)
{
    static const struct {
        const char *name;
        IrAct act;
    } ACTS[] = {
        {"swiglu", {IR_OP_SILU, true, false}},     {"geglu", {IR_OP_GELU, true, false}},
        {"geglu_tanh", {IR_OP_GELU, true, true}}, {"silu", {IR_OP_SILU, false, false}},
        {"gelu", {IR_OP_GELU, false, false}},      {"gelu_tanh", {IR_OP_GELU, false, true}},
        {"relu2", {IR_OP_RELU2, false, false}},
    };
    for (size_t i = 0; i < sizeof ACTS / sizeof ACTS[0]; i++)
        if (strcmp(ACTS[i].name, act) == 0) return ACTS[i].act;
    HYC_DIE("unknown activation '%s'", act);
}

const char *ir_attr_s(const IrInst *in, const char *name)
{
    return attr_need(in, name, IR_ATTR_STRING)->s;
}

IrOperand ir_inst_operand(const IrInst *in, const char *slot)
{
    int i = ir_op_slot(in->op, slot);
    if (i < 0) HYC_DIE("op '%s' has no operand '%s'", ir_op_name(in->op), slot);
    if (i >= in->n_operands) return IR_ABSENT;
    return in->operands[i];
}
