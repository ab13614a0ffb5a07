/* plan.c — a lowered module as kernel calls: one kernel per instruction
 * (reshape is an alias), identical kernels kept once, default schedules,
 * and where every buffer lives:
 *
 *   weights  every param as f32, in param order, each at the next multiple
 *            of 64 bytes (the layout of hycrt_weights_layout);
 *   state    every state as f32 in declaration order, 64-aligned, max_seq
 *            substituted (one block per sequence);
 *   scratch  activations: one arena, planned per function from the values'
 *            live ranges (defined .. last read, through reshape aliases;
 *            the returned value lives to the end); values whose ranges do
 *            not overlap share bytes.  Greedy: largest first, each at the
 *            lowest offset free over its whole range.  Prefill is sized for
 *            T = max_batch; the arena is the larger of the two plans.
 */
#include "codegen.h"

#include <stdlib.h>
#include <string.h>

static uint64_t round64(uint64_t n) { return (n + 63) / 64 * 64; }

static uint64_t type_numel(const IrModule *m, const IrType *t, int64_t T)
{
    uint64_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        int64_t d = t->dims[i] == IR_DIM_T ? T : t->dims[i] == IR_DIM_MAX_SEQ ? m->max_seq : t->dims[i];
        n *= (uint64_t)d;
    }
    return n;
}

const char *cg_c_ident(Arena *a, const char *name)
{
    size_t n = strlen(name);
    char *s = arena_alloc(a, n + 3);
    size_t j = 0;
    if (n == 0 || (name[0] >= '0' && name[0] <= '9')) {
        s[j++] = 'm';
        s[j++] = '_';
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        s[j++] = ok ? c : '_';
    }
    s[j] = 0;
    return s;
}

/* ---- kernels and dedup ------------------------------------------------------------ */

typedef struct Distinct {
    const char **text; /* canonical text of each distinct kernel */
    uint64_t *hash;
    int n, cap_text, cap_hash;
} Distinct;

/* The index of k among the program's kernels, adding it when new. */
static int intern_kernel(CgProgram *p, Arena *a, Distinct *dd, KirKernel *k, Diag *diag)
{
    StrBuf sb = {0};
    kir_print_kernel(&sb, k, KIR_PRINT_CANONICAL);
    uint64_t h = kir_hash64(sb_cstr(&sb), sb.len);
    if (!p->opts.no_dedup)
        for (int i = 0; i < dd->n; i++)
            if (dd->hash[i] == h && strcmp(dd->text[i], sb_cstr(&sb)) == 0) {
                sb_free(&sb);
                return i;
            }
    dd->text = ir_grow(a, dd->text, sizeof *dd->text, &dd->cap_text, dd->n + 1);
    dd->hash = ir_grow(a, dd->hash, sizeof *dd->hash, &dd->cap_hash, dd->n + 1);
    dd->text[dd->n] = arena_strdup(a, sb_cstr(&sb));
    dd->hash[dd->n] = h;
    dd->n++;
    sb_free(&sb);
    k->name = arena_printf(a, "%s_%d", k->op, p->n_kernels);
    if (!kir_verify(k, diag)) {
        StrBuf dump = {0};
        kir_print_kernel(&dump, k, 0);
        HYC_DIE("the lowering of '%s' made a kernel that does not verify:\n%s", k->op, sb_cstr(&dump));
    }
    p->kernels = ir_grow(a, p->kernels, sizeof *p->kernels, &p->cap_kernels, p->n_kernels + 1);
    p->kernels[p->n_kernels] = k;
    return p->n_kernels++;
}

/* ---- the memory plan -------------------------------------------------------------- */

typedef struct PlanCtx {
    Arena *a;
    const IrModule *m;
    const IrFunc *fn;
    CgFunc *cf;
    int *root;      /* [n_values]: the value whose bytes it uses (reshape aliases) */
    int *slot_of;   /* [n_values]: slot of a root, or -1 */
    int **srcs;     /* [n_calls]: buffer sources of each call's kernel */
    KirKernel **ks; /* [n_calls]: the kernel each call runs */
    CgSlot *slots;
    int n_slots, cap_slots;
} PlanCtx;

static int add_slot(PlanCtx *c, int value, int first, uint64_t bytes)
{
    c->slots = ir_grow(c->a, c->slots, sizeof *c->slots, &c->cap_slots, c->n_slots + 1);
    c->slots[c->n_slots] = (CgSlot){value, first, first, round64(bytes ? bytes : 1), 0};
    return c->n_slots++;
}

static void extend(PlanCtx *c, int value, int inst)
{
    int s = c->slot_of[c->root[value]];
    if (s >= 0 && c->slots[s].last < inst) c->slots[s].last = inst;
}

/* Slots sorted for placement: largest first, then earliest, then by index. */
static int cmp_place(const void *pa, const void *pb, void *ctx)
{
    const CgSlot *s = ctx;
    int a = *(const int *)pa, b = *(const int *)pb;
    if (s[a].bytes != s[b].bytes) return s[a].bytes > s[b].bytes ? -1 : 1;
    if (s[a].first != s[b].first) return s[a].first < s[b].first ? -1 : 1;
    return a < b ? -1 : a > b;
}

static int cmp_offset(const void *pa, const void *pb, void *ctx)
{
    const CgSlot *s = ctx;
    int a = *(const int *)pa, b = *(const int *)pb;
    if (s[a].offset != s[b].offset) return s[a].offset < s[b].offset ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* Greedy placement; returns the peak. */
static uint64_t place_slots(Arena *a, CgSlot *slots, int n)
{
    int *order = ARENA_NEW_N(a, int, n ? n : 1);
    int *live = ARENA_NEW_N(a, int, n ? n : 1);
    for (int i = 0; i < n; i++) order[i] = i;
    qsort_r(order, (size_t)n, sizeof *order, cmp_place, slots);
    uint64_t peak = 0;
    for (int oi = 0; oi < n; oi++) {
        CgSlot *s = &slots[order[oi]];
        int nl = 0;
        for (int pj = 0; pj < oi; pj++) {
            const CgSlot *o = &slots[order[pj]];
            if (o->first <= s->last && s->first <= o->last) live[nl++] = order[pj];
        }
        qsort_r(live, (size_t)nl, sizeof *live, cmp_offset, slots);
        uint64_t at = 0;
        for (int j = 0; j < nl; j++) {
            const CgSlot *o = &slots[live[j]];
            if (at + s->bytes <= o->offset) break;
            if (o->offset + o->bytes > at) at = o->offset + o->bytes;
        }
        s->offset = at;
        if (at + s->bytes > peak) peak = at + s->bytes;
    }
    return peak;
}

/* Temps of one kernel (sdpa has the most: scores, running max and sum,
 * the correction per row, the transposed V tile). */
enum { PLAN_MAX_TEMPS = 8 };

static void plan_func(PlanCtx *c)
{
    const IrFunc *fn = c->fn;
    CgFunc *cf = c->cf;
    int nv = fn->n_values;
    c->root = ARENA_NEW_N(c->a, int, nv ? nv : 1);
    c->slot_of = ARENA_NEW_N(c->a, int, nv ? nv : 1);
    for (int v = 0; v < nv; v++) {
        c->root[v] = v;
        c->slot_of[v] = -1;
    }
    /* Definitions: a slot per value that is not an alias; temps per call. */
    int *temp_slot = ARENA_NEW_N(c->a, int, fn->n_insts ? fn->n_insts * PLAN_MAX_TEMPS : 1);
    int call = 0;
    for (int i = 0; i < fn->n_insts; i++) {
        const IrInst *in = &fn->insts[i];
        if (in->op == IR_OP_RESHAPE) {
            c->root[in->result] = c->root[in->operands[0].id];
            continue;
        }
        if (in->result >= 0)
            c->slot_of[in->result] = add_slot(c, in->result, i, type_numel(c->m, &fn->values[in->result].type, cf->plan_T) * 4);
        const KirKernel *k = c->ks[call];
        int nt = 0;
        for (int b = 0; b < k->n_bufs; b++)
            if (c->srcs[call][b] == CG_SRC_TEMP) {
                HYC_ASSERT(nt < PLAN_MAX_TEMPS);
                temp_slot[call * PLAN_MAX_TEMPS + nt++] = add_slot(c, -1, i, kir_buf_numel(&k->bufs[b], cf->plan_T) * 4);
            }
        call++;
    }
    /* Uses extend the live range of the bytes they read. */
    for (int i = 0; i < fn->n_insts; i++)
        for (int o = 0; o < fn->insts[i].n_operands; o++)
            if (fn->insts[i].operands[o].kind == IR_OPND_VALUE) extend(c, fn->insts[i].operands[o].id, i);
    if (fn->ret >= 0) extend(c, fn->ret, fn->n_insts);
    cf->scratch_bytes = place_slots(c->a, c->slots, c->n_slots);
    cf->naive_bytes = 0;
    for (int s = 0; s < c->n_slots; s++) cf->naive_bytes += c->slots[s].bytes;
    cf->slots = c->slots;
    cf->n_slots = c->n_slots;
    cf->value_offset = ARENA_NEW_N(c->a, uint64_t, nv ? nv : 1);
    for (int v = 0; v < nv; v++) {
        int s = c->slot_of[c->root[v]];
        cf->value_offset[v] = s >= 0 ? c->slots[s].offset : 0;
    }
    /* Bindings of every call. */
    call = 0;
    for (int i = 0; i < fn->n_insts; i++) {
        const IrInst *in = &fn->insts[i];
        if (in->op == IR_OP_RESHAPE) continue;
        const KirKernel *k = c->ks[call];
        CgCall *cc = &cf->calls[call];
        cc->binds = ARENA_NEW_N(c->a, CgBind, k->n_bufs);
        int nt = 0;
        for (int b = 0; b < k->n_bufs; b++) {
            int src = c->srcs[call][b];
            CgBind *bd = &cc->binds[b];
            bd->ir_id = -1;
            if (src == CG_SRC_RESULT) {
                *bd = (CgBind){CG_AT_SCRATCH, cf->value_offset[in->result], in->result};
            } else if (src == CG_SRC_TEMP) {
                *bd = (CgBind){CG_AT_SCRATCH, c->slots[temp_slot[call * PLAN_MAX_TEMPS + nt++]].offset, -1};
            } else if (src == CG_SRC_CONST) {
                bd->place = CG_AT_NONE;
            } else {
                IrOperand o = in->operands[src];
                if (o.kind == IR_OPND_PARAM) *bd = (CgBind){CG_AT_WEIGHTS, 0, o.id};
                else if (o.kind == IR_OPND_STATE) *bd = (CgBind){CG_AT_STATE, 0, o.id};
                else if (fn->values[o.id].def == IR_DEF_ARG) *bd = (CgBind){CG_AT_TOKENS, 0, o.id};
                else *bd = (CgBind){CG_AT_SCRATCH, cf->value_offset[o.id], o.id};
            }
        }
        call++;
    }
}

/* ---- the program ------------------------------------------------------------------- */

static bool module_is_lowered(const IrModule *m, Diag *diag)
{
    for (int f = 0; f < m->n_funcs; f++)
        for (int i = 0; i < m->funcs[f]->n_insts; i++) {
            const IrInst *in = &m->funcs[f]->insts[i];
            if (ir_op_info(in->op)->flags & IR_OPF_COMPOSITE) {
                diag_error(diag, in->loc, "'%s' in @%s is a composite op: lower the module (-O1 or above) before code generation",
                           ir_op_name(in->op), m->funcs[f]->name);
                return false;
            }
        }
    return true;
}

bool cg_ssd_chunk_env(int *chunk)
{
    const char *env = getenv("HYC_SSD_CHUNK");
    *chunk = 0;
    if (!env || !*env) return true;
    char *end;
    long q = strtol(env, &end, 10);
    if (*end || end == env || q < 0 || q > CG_SSD_CHUNK_MAX) return false;
    *chunk = q == 0 ? -1 : (int)q;
    return true;
}

/* HYC_SSD_CHUNK applies where the options leave the form at the default. */
static bool ssd_chunk_from_env(CgOptions *o, Diag *diag)
{
    int q;
    if (o->ssd_chunk != 0) return true;
    if (!cg_ssd_chunk_env(&q)) {
        diag_error(diag, loc_none(), "HYC_SSD_CHUNK='%s' is not a chunk length (1 to %d, or 0: the recurrence)",
                   getenv("HYC_SSD_CHUNK"), CG_SSD_CHUNK_MAX);
        return false;
    }
    o->ssd_chunk = q;
    return true;
}

CgProgram *cg_lower_module(Arena *a, const IrModule *m, const CgOptions *opts, Diag *diag)
{
    if (!module_is_lowered(m, diag)) return NULL;
    CgProgram *p = ARENA_NEW(a, CgProgram);
    p->m = m;
    p->arena = a;
    p->opts = *opts;
    if (!ssd_chunk_from_env(&p->opts, diag)) return NULL;
    if (!p->opts.target.name) p->opts.target = cg_target_generic();
    int64_t mb = opts->max_batch > 0 ? opts->max_batch : 256;
    p->max_batch = mb < m->max_seq ? mb : m->max_seq;

    p->param_offset = ARENA_NEW_N(a, uint64_t, m->n_params ? m->n_params : 1);
    for (int i = 0; i < m->n_params; i++) {
        p->param_offset[i] = p->weights_bytes;
        p->weights_bytes = round64(p->weights_bytes + type_numel(m, &m->params[i].type, 1) * 4);
    }
    p->state_offset = ARENA_NEW_N(a, uint64_t, m->n_states ? m->n_states : 1);
    for (int i = 0; i < m->n_states; i++) {
        p->state_offset[i] = p->state_bytes;
        p->state_bytes = round64(p->state_bytes + type_numel(m, &m->states[i].type, 1) * 4);
    }

    Distinct dd = {0};
    p->funcs = ARENA_NEW_N(a, CgFunc, m->n_funcs ? m->n_funcs : 1);
    p->n_funcs = m->n_funcs;
    for (int f = 0; f < m->n_funcs; f++) {
        const IrFunc *fn = m->funcs[f];
        CgFunc *cf = &p->funcs[f];
        cf->fn = fn;
        bool has_T = fn->n_args > 0 && fn->values[fn->args[0]].type.dims[0] == IR_DIM_T;
        cf->plan_T = has_T ? p->max_batch : 1;
        PlanCtx c = {0};
        c.a = a;
        c.m = m;
        c.fn = fn;
        c.cf = cf;
        c.srcs = ARENA_NEW_N(a, int *, fn->n_insts ? fn->n_insts : 1);
        c.ks = ARENA_NEW_N(a, KirKernel *, fn->n_insts ? fn->n_insts : 1);
        cf->calls = ARENA_NEW_N(a, CgCall, fn->n_insts ? fn->n_insts : 1);
        for (int i = 0; i < fn->n_insts; i++) {
            int *src = NULL;
            KirKernel *k = cg_lower_inst(a, m, fn, i, &p->opts, &src);
            if (!k) continue;
            kir_schedule_default(k, a, &p->opts.target, &p->opts.hints);
            int idx = intern_kernel(p, a, &dd, k, diag);
            c.srcs[cf->n_calls] = src;
            c.ks[cf->n_calls] = p->kernels[idx];
            cf->calls[cf->n_calls++] = (CgCall){idx, i, NULL};
        }
        p->n_calls_total += cf->n_calls;
        plan_func(&c);
        if (cf->scratch_bytes > p->scratch_bytes) p->scratch_bytes = cf->scratch_bytes;
    }
    return p;
}

bool cg_program_set_schedule(CgProgram *p, int kernel, const KirSchedule *s, Diag *diag)
{
    HYC_ASSERT(kernel >= 0 && kernel < p->n_kernels);
    /* another form of a Mamba-2 scan: the kernel rebuilt in place (its
     * buffers, and so the memory plan, are those of every form) */
    if (s->chunk != p->kernels[kernel]->chunk) return kir_set_schedule(p->kernels[kernel], p->arena, s, diag);
    /* Written over the kernel's own schedule array (same loops), so that no
     * arena is needed here. */
    if (!kir_verify_schedule(p->kernels[kernel], s, diag)) return false;
    KirKernel *k = p->kernels[kernel];
    for (int i = 0; i < s->n_loops; i++) k->sched.loops[i] = s->loops[i];
    return true;
}

uint64_t cg_weights_hash(const CgProgram *p)
{
    StrBuf sb = {0};
    const IrModule *m = p->m;
    sb_puts(&sb, "hyc-weights-f32-v1\n");
    for (int i = 0; i < m->n_params; i++) {
        sb_printf(&sb, "%s f32", m->params[i].name);
        for (int d = 0; d < m->params[i].type.rank; d++) sb_printf(&sb, " %lld", (long long)m->params[i].type.dims[d]);
        sb_printf(&sb, " @%llu\n", (unsigned long long)p->param_offset[i]);
    }
    uint64_t h = kir_hash64(sb_cstr(&sb), sb.len);
    sb_free(&sb);
    return h;
}

/* ---- text ------------------------------------------------------------------------- */

static void print_bind(StrBuf *sb, Arena *a, const CgProgram *p, const CgFunc *cf, const KirBuf *b, const CgBind *bd)
{
    const IrModule *m = p->m;
    sb_printf(sb, " %s=", b->name);
    switch (bd->place) {
    case CG_AT_NONE: sb_puts(sb, "(const)"); break;
    case CG_AT_SCRATCH:
        if (bd->ir_id >= 0) sb_printf(sb, "%s", ir_value_label(a, cf->fn, bd->ir_id));
        else sb_puts(sb, "(temp)");
        sb_printf(sb, "@scratch+%llu", (unsigned long long)bd->offset);
        break;
    case CG_AT_WEIGHTS: sb_printf(sb, "@%s", m->params[bd->ir_id].name); break;
    case CG_AT_STATE: sb_printf(sb, "$%s", m->states[bd->ir_id].name); break;
    case CG_AT_TOKENS: sb_printf(sb, "%s", ir_value_label(a, cf->fn, bd->ir_id)); break;
    }
}

void cg_print_program(StrBuf *sb, const CgProgram *p)
{
    const IrModule *m = p->m;
    Arena a;
    arena_init(&a);
    sb_printf(sb, "# kernel IR of module @%s: %d distinct kernels for %d calls, target %s\n", m->name, p->n_kernels,
              p->n_calls_total, p->opts.target.name);
    sb_printf(sb, "# weights %llu bytes (f32), state %llu bytes per sequence, scratch %llu bytes\n\n",
              (unsigned long long)p->weights_bytes, (unsigned long long)p->state_bytes,
              (unsigned long long)p->scratch_bytes);
    for (int i = 0; i < p->n_kernels; i++) {
        if (i) sb_putc(sb, '\n');
        kir_print_kernel(sb, p->kernels[i], 0);
    }
    for (int f = 0; f < p->n_funcs; f++) {
        const CgFunc *cf = &p->funcs[f];
        sb_printf(sb, "\n# func @%s: %d calls; scratch %llu bytes at T = %lld (one buffer per value: %llu)\n",
                  cf->fn->name, cf->n_calls, (unsigned long long)cf->scratch_bytes, (long long)cf->plan_T,
                  (unsigned long long)cf->naive_bytes);
        for (int c = 0; c < cf->n_calls; c++) {
            const CgCall *cc = &cf->calls[c];
            const KirKernel *k = p->kernels[cc->kernel];
            const IrInst *in = &cf->fn->insts[cc->inst];
            sb_printf(sb, "#   %s", k->name);
            for (int b = 0; b < k->n_bufs; b++) print_bind(sb, &a, p, cf, &k->bufs[b], &cc->binds[b]);
            if (in->loc.file && in->loc.line > 0) sb_printf(sb, "  # %s:%d", in->loc.file->name, in->loc.line);
            sb_putc(sb, '\n');
        }
    }
    arena_free(&a);
}
