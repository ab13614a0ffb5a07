/* module.c — types, modules, functions, values, state sizes, rewriting. */
#include "ir.h"

#include <assert.h>
#include <string.h>

/* ---- dtypes and types ------------------------------------------------------ */

static const char *const dtype_names[] = {
#define X(id, name, size) name,
    IR_DTYPES(X)
#undef X
};
static const int dtype_sizes[] = {
#define X(id, name, size) size,
    IR_DTYPES(X)
#undef X
};
static_assert(sizeof dtype_names / sizeof *dtype_names == IR_DT_COUNT, "dtype table");
static_assert(sizeof dtype_sizes / sizeof *dtype_sizes == IR_DT_COUNT, "dtype table");

const char *ir_dtype_name(IrDType dt)
{
    HYC_ASSERT((unsigned)dt < IR_DT_COUNT);
    return dtype_names[dt];
}

int ir_dtype_size(IrDType dt)
{
    HYC_ASSERT((unsigned)dt < IR_DT_COUNT);
    return dtype_sizes[dt];
}

bool ir_dtype_is_float(IrDType dt) { return dt == IR_DT_F32 || dt == IR_DT_F16 || dt == IR_DT_BF16; }

bool ir_dtype_lookup(const char *name, IrDType *out)
{
    for (int i = 0; i < IR_DT_COUNT; i++)
        if (strcmp(name, dtype_names[i]) == 0) return *out = (IrDType)i, true;
    return false;
}

IrType ir_type_make(IrDType dt, int rank, const int64_t *dims)
{
    HYC_ASSERT(rank >= 0 && rank <= IR_MAX_RANK);
    IrType t = {0};
    t.dtype = dt;
    t.rank = rank;
    for (int i = 0; i < rank; i++) t.dims[i] = dims[i];
    return t;
}

bool ir_type_eq(const IrType *a, const IrType *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

void ir_type_print(StrBuf *sb, const IrType *t)
{
    sb_puts(sb, (unsigned)t->dtype < IR_DT_COUNT ? dtype_names[t->dtype] : "?");
    sb_putc(sb, '[');
    for (int i = 0; i < t->rank; i++) {
        if (i) sb_puts(sb, ", ");
        if (t->dims[i] == IR_DIM_T) sb_putc(sb, 'T');
        else if (t->dims[i] == IR_DIM_MAX_SEQ) sb_puts(sb, "max_seq");
        else sb_printf(sb, "%lld", (long long)t->dims[i]);
    }
    sb_putc(sb, ']');
}

const char *ir_type_str(Arena *a, const IrType *t)
{
    StrBuf sb = {0};
    ir_type_print(&sb, t);
    const char *s = arena_strdup(a, sb_cstr(&sb));
    sb_free(&sb);
    return s;
}

static const char *const state_kind_names[] = {
#define X(id, name) name,
    IR_STATE_KINDS(X)
#undef X
};
static_assert(sizeof state_kind_names / sizeof *state_kind_names == IR_STATE_COUNT,
              "state kind table");

const char *ir_state_kind_name(IrStateKind k)
{
    HYC_ASSERT((unsigned)k < IR_STATE_COUNT);
    return state_kind_names[k];
}

bool ir_state_kind_lookup(const char *name, IrStateKind *out)
{
    for (int i = 0; i < IR_STATE_COUNT; i++)
        if (strcmp(name, state_kind_names[i]) == 0) return *out = (IrStateKind)i, true;
    return false;
}

/* ---- arena arrays ---------------------------------------------------------- */

void *ir_grow(Arena *a, void *data, size_t elem, int *cap, int need)
{
    if (need <= *cap) return data;
    int ncap = *cap ? *cap : 8;
    while (ncap < need) {
        HYC_ASSERT(ncap < (1 << 29));
        ncap *= 2;
    }
    void *p = arena_alloc(a, elem * (size_t)ncap);
    if (*cap) memcpy(p, data, elem * (size_t)*cap);
    *cap = ncap;
    return p;
}

/* ---- modules --------------------------------------------------------------- */

IrModule *ir_module_new(Arena *a, Interner *in, const char *name, SrcLoc loc)
{
    IrModule *m = ARENA_NEW(a, IrModule);
    m->arena = a;
    m->intern = in;
    m->name = intern(in, name);
    m->loc = loc;
    m->max_seq = 4096;
    return m;
}

IrParam ir_declare_param(IrModule *m, const char *name, IrType t, SrcLoc loc)
{
    m->params = ir_grow(m->arena, m->params, sizeof *m->params, &m->cap_params, m->n_params + 1);
    IrParamDecl *p = &m->params[m->n_params];
    memset(p, 0, sizeof *p);
    p->name = intern(m->intern, name);
    p->type = t;
    p->loc = loc;
    return (IrParam){m->n_params++};
}

IrState ir_declare_state(IrModule *m, const char *name, IrStateKind kind, IrType t, SrcLoc loc)
{
    m->states = ir_grow(m->arena, m->states, sizeof *m->states, &m->cap_states, m->n_states + 1);
    IrStateDecl *s = &m->states[m->n_states];
    memset(s, 0, sizeof *s);
    s->name = intern(m->intern, name);
    s->kind = kind;
    s->type = t;
    s->loc = loc;
    return (IrState){m->n_states++};
}

IrParam ir_find_param(const IrModule *m, const char *name)
{
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0) return (IrParam){i};
    return IR_NO_PARAM;
}

IrState ir_find_state(const IrModule *m, const char *name)
{
    for (int i = 0; i < m->n_states; i++)
        if (strcmp(m->states[i].name, name) == 0) return (IrState){i};
    return IR_NO_STATE;
}

IrFunc *ir_find_func(const IrModule *m, const char *name)
{
    for (int i = 0; i < m->n_funcs; i++)
        if (strcmp(m->funcs[i]->name, name) == 0) return m->funcs[i];
    return NULL;
}

IrFunc *ir_func_new(IrModule *m, const char *name, SrcLoc loc)
{
    IrFunc *fn = ARENA_NEW(m->arena, IrFunc);
    fn->mod = m;
    fn->name = intern(m->intern, name);
    fn->loc = loc;
    fn->ret = -1;
    m->funcs = ir_grow(m->arena, m->funcs, sizeof *m->funcs, &m->cap_funcs, m->n_funcs + 1);
    m->funcs[m->n_funcs++] = fn;
    return fn;
}

int ir_func_new_value(IrFunc *fn, IrType t)
{
    HYC_ASSERT(fn->n_values < IR_MAX_VALUES * 4);
    fn->values = ir_grow(fn->mod->arena, fn->values, sizeof *fn->values, &fn->cap_values,
                         fn->n_values + 1);
    IrValueInfo *v = &fn->values[fn->n_values];
    memset(v, 0, sizeof *v);
    v->type = t;
    v->def = IR_DEF_NONE;
    return fn->n_values++;
}

static bool all_digits(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

void ir_value_set_name(IrFunc *fn, IrValue v, const char *name)
{
    HYC_ASSERT(v.id >= 0 && v.id < fn->n_values);
    /* Numbers are how unnamed values print; a numeric name would collide. */
    HYC_ASSERT(name && !all_digits(name));
    fn->values[v.id].name = intern(fn->mod->intern, name);
}

IrValue ir_func_arg(IrFunc *fn, const char *name, IrType t)
{
    int id = ir_func_new_value(fn, t);
    fn->values[id].def = IR_DEF_ARG;
    ir_value_set_name(fn, (IrValue){id}, name);
    fn->args = ir_grow(fn->mod->arena, fn->args, sizeof *fn->args, &fn->cap_args, fn->n_args + 1);
    fn->args[fn->n_args++] = id;
    return (IrValue){id};
}

void ir_func_return(IrFunc *fn, IrValue v, SrcLoc loc)
{
    HYC_ASSERT(v.id >= 0 && v.id < fn->n_values);
    fn->ret = v.id;
    fn->ret_loc = loc;
    if (!fn->has_ret_type) {
        fn->ret_type = fn->values[v.id].type;
        fn->has_ret_type = true;
    }
}

const IrType *ir_value_type(const IrFunc *fn, IrValue v)
{
    HYC_ASSERT(v.id >= 0 && v.id < fn->n_values);
    return &fn->values[v.id].type;
}

/* ---- state sizes ----------------------------------------------------------- */

/* Saturating, so that a verifier-rejected module cannot overflow here. */
static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

uint64_t ir_state_bytes(const IrModule *m, IrState s, int64_t seq)
{
    HYC_ASSERT(s.id >= 0 && s.id < m->n_states);
    const IrStateDecl *st = &m->states[s.id];
    uint64_t n = (uint64_t)ir_dtype_size(st->type.dtype);
    for (int i = 0; i < st->type.rank; i++) {
        int64_t d = st->type.dims[i];
        if (d == IR_DIM_MAX_SEQ) d = seq < m->max_seq ? seq : m->max_seq;
        n = mul_sat(n, d > 0 ? (uint64_t)d : 0);
    }
    return n;
}

uint64_t ir_module_state_bytes(const IrModule *m)
{
    uint64_t total = 0;
    for (int i = 0; i < m->n_states; i++) {
        uint64_t b = ir_state_bytes(m, (IrState){i}, m->max_seq);
        total = total + b < total ? UINT64_MAX : total + b;
    }
    return total;
}

/* ---- rewriting ------------------------------------------------------------- */

void ir_rewrite_begin(IrRewrite *rw, IrFunc *fn)
{
    Arena *a = fn->mod->arena;
    rw->fn = fn;
    rw->old = fn->insts;
    rw->n_old = fn->n_insts;
    rw->n_remap = fn->n_values;
    rw->remap = ARENA_NEW_N(a, int, fn->n_values ? fn->n_values : 1);
    for (int i = 0; i < fn->n_values; i++) {
        rw->remap[i] = i;
        if (fn->values[i].def >= 0) fn->values[i].def = IR_DEF_NONE;
    }
    fn->insts = NULL;
    fn->n_insts = fn->cap_insts = 0;
}

IrValue ir_rewrite_value(const IrRewrite *rw, int old_id)
{
    HYC_ASSERT(old_id >= 0);
    return (IrValue){old_id < rw->n_remap ? rw->remap[old_id] : old_id};
}

void ir_rewrite_replace(IrRewrite *rw, int old_id, IrValue v)
{
    HYC_ASSERT(old_id >= 0 && old_id < rw->n_remap && v.id >= 0);
    rw->remap[old_id] = v.id;
}

IrOperand ir_rewrite_operand(const IrRewrite *rw, IrOperand o)
{
    if (o.kind == IR_OPND_VALUE) o.id = ir_rewrite_value(rw, o.id).id;
    return o;
}

void ir_rewrite_copy(IrRewrite *rw, const IrInst *old)
{
    IrFunc *fn = rw->fn;
    IrOperand ops[IR_MAX_OPERANDS];
    HYC_ASSERT(old->n_operands <= IR_MAX_OPERANDS);
    for (int i = 0; i < old->n_operands; i++) ops[i] = ir_rewrite_operand(rw, old->operands[i]);
    fn->insts = ir_grow(fn->mod->arena, fn->insts, sizeof *fn->insts, &fn->cap_insts,
                        fn->n_insts + 1);
    IrInst *in = &fn->insts[fn->n_insts];
    *in = *old;
    in->operands = ARENA_NEW_N(fn->mod->arena, IrOperand, old->n_operands ? old->n_operands : 1);
    memcpy(in->operands, ops, sizeof *ops * (size_t)old->n_operands);
    if (in->result >= 0) fn->values[in->result].def = fn->n_insts;
    fn->n_insts++;
}

void ir_rewrite_end(IrRewrite *rw)
{
    IrFunc *fn = rw->fn;
    if (fn->ret >= 0) fn->ret = ir_rewrite_value(rw, fn->ret).id;
}
