/* schedule.c — targets, the facts a schedule is decided from, the default
 * (heuristic) schedule, replacing and enumerating schedules, and kernel
 * signatures. */
#include "codegen.h"

#include <string.h>

/* ---- targets ------------------------------------------------------------------ */

static const CgTarget targets[] = {
    {CG_ISA_GENERIC, "generic", NULL, 8},
    {CG_ISA_AVX2, "x86-64-v3", "x86-64-v3", 8},
    {CG_ISA_AVX512, "x86-64-v4", "x86-64-v4", 16},
};

CgTarget cg_target_generic(void) { return targets[0]; }

/* The best target the CPU hyc runs on supports. */
static CgTarget native_target(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        return targets[2];
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return targets[1];
#endif
    return targets[0];
}

bool cg_target_lookup(const char *name, CgTarget *out)
{
    if (strcmp(name, "native") == 0) {
        *out = native_target();
        return true;
    }
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        if (strcmp(targets[i].name, name) == 0) {
            *out = targets[i];
            return true;
        }
    return false;
}

/* ---- loop facts --------------------------------------------------------------- */

/* Iterations when T is taken as 64 and anything else unknown as 64. */
enum { EST_T = 64 };

static int64_t trip_of(const KirStmt *s)
{
    int64_t lo, hi;
    if (kir_expr_is_const_i(s->lo, &lo) && kir_expr_is_const_i(s->hi, &hi))
        return hi > lo ? (hi - lo + s->step - 1) / s->step : 0;
    return -1;
}

/* Bounds of an integer expression, with T >= 1 and pos, loop variables
 * >= 0 (what lowered kernels have); false when unknown.  Enough to see that
 * `for k = 0, min(4, ...)` runs at most 4 times. */
static bool bound(const KirKernel *k, const KirExpr *e, bool upper, int64_t *out)
{
    int64_t a, b;
    bool ka, kb;
    switch (e->kind) {
    case KIR_E_CONST:
        if (kir_type_is_float(e->type)) return false;
        *out = e->i;
        return true;
    case KIR_E_VAR:
        if (upper) return false;
        if (e->id == KIR_VAR_T) *out = 1;
        else if (e->id == KIR_VAR_POS || k->vars[e->id].kind == KIR_V_LOOP) *out = 0;
        else return false;
        return true;
    case KIR_E_LOAD: return false;
    case KIR_E_OP: break;
    }
    switch (e->op) {
    case KIR_OP_ADD:
        if (!bound(k, e->args[0], upper, &a) || !bound(k, e->args[1], upper, &b)) return false;
        *out = a + b;
        return true;
    case KIR_OP_SUB:
        if (!bound(k, e->args[0], upper, &a) || !bound(k, e->args[1], !upper, &b)) return false;
        *out = a - b;
        return true;
    case KIR_OP_MIN:
    case KIR_OP_MAX:
        ka = bound(k, e->args[0], upper, &a);
        kb = bound(k, e->args[1], upper, &b);
        /* min's upper bound needs one side; its lower bound both (and the
         * other way round for max) */
        if ((e->op == KIR_OP_MIN) == upper) {
            if (!ka && !kb) return false;
            *out = !ka ? b : !kb ? a : (e->op == KIR_OP_MIN ? (a < b ? a : b) : (a > b ? a : b));
            return true;
        }
        if (!ka || !kb) return false;
        *out = e->op == KIR_OP_MIN ? (a < b ? a : b) : (a > b ? a : b);
        return true;
    default: return false;
    }
}

static int64_t max_trip_of(const KirKernel *k, const KirStmt *s)
{
    int64_t lo, hi;
    if (!bound(k, s->lo, false, &lo) || !bound(k, s->hi, true, &hi)) return -1;
    return hi > lo ? (hi - lo + s->step - 1) / s->step : 0;
}

/* Is buffer access (n indices) unit-stride in var: var only in the last
 * index, with coefficient 1? */
static bool access_unit(int n, KirExpr *const *idx, int var)
{
    for (int i = 0; i + 1 < n; i++)
        if (kir_expr_uses_var(idx[i], var)) return false;
    int64_t c;
    return n > 0 && kir_affine_coeff(idx[n - 1], var, &c) && c == 1;
}

static bool expr_has_unit_access(const KirExpr *e, int var)
{
    if (e->kind == KIR_E_LOAD && access_unit(e->n_args, e->args, var)) return true;
    for (int i = 0; i < e->n_args; i++)
        if (expr_has_unit_access(e->args[i], var)) return true;
    return false;
}

typedef struct InfoWalk {
    Arena *a;
    const KirKernel *k;
    KirLoopInfo *out;
} InfoWalk;

static bool is_unit_f32_load(const KirKernel *k, const KirExpr *e, int var)
{
    return e->kind == KIR_E_LOAD && k->bufs[e->id].type == KIR_F32 && access_unit(e->n_args, e->args, var);
}

/* The facts of the loops in block b (at depth), returning the work of b. */
static int64_t info_block(InfoWalk *w, const KirBlock *b, int depth);

static bool body_unit(const KirBlock *b, int var)
{
    for (int i = 0; i < b->n; i++) {
        const KirStmt *s = b->stmts[i];
        if (s->kind == KIR_S_STORE && access_unit(s->n_idx, s->idx, var)) return true;
        if (s->value && expr_has_unit_access(s->value, var)) return true;
        if (s->kind == KIR_S_IF && (body_unit(&s->body, var) || body_unit(&s->els, var))) return true;
    }
    return false;
}

typedef struct OuterScan {
    bool *inside;  /* [n_vars] */
    bool assigns, all_red, stores_indep;
    int var;
} OuterScan;

static void outer_fn(const KirStmt *s, int depth, void *ctx)
{
    OuterScan *o = ctx;
    if (s->kind == KIR_S_FOR || s->kind == KIR_S_VAR) o->inside[s->var] = true;
    if (s->kind == KIR_S_ASSIGN && !o->inside[s->var]) {
        o->assigns = true;
        if (kir_reduction_of(s) == KIR_RED_NONE) o->all_red = false;
    }
    if (s->kind == KIR_S_STORE) {
        bool uses = false;
        for (int i = 0; i < s->n_idx; i++) uses |= kir_expr_uses_var(s->idx[i], o->var);
        if (!uses) o->stores_indep = false;
    }
}

static int64_t info_loop(InfoWalk *w, const KirStmt *s, int depth)
{
    const KirKernel *k = w->k;
    KirLoopInfo *li = &w->out[s->loop];
    li->stmt = s;
    li->depth = depth;
    li->trip = trip_of(s);
    li->max_trip = li->trip >= 0 ? li->trip : max_trip_of(k, s);
    int64_t inner = info_block(w, &s->body, depth + 1);
    int64_t trip = li->trip >= 0 ? li->trip : EST_T;
    li->work = trip * (inner > 0 ? inner : 1);
    bool has_loop = false;
    for (int i = 0; i < s->body.n; i++) has_loop |= s->body.stmts[i]->kind == KIR_S_FOR;
    li->innermost = !has_loop;
    li->unit_stride = body_unit(&s->body, s->var);
    OuterScan o = {ARENA_NEW_N(w->a, bool, k->n_vars), false, true, true, s->var};
    kir_walk(&s->body, outer_fn, &o);
    li->assigns_outer = o.assigns;
    li->stores_indep = o.stores_indep;
    li->reductions_ok = !o.assigns || o.all_red;
    /* An inner product: acc = fma(a[..i], b[..i], acc), nothing else. */
    if (s->body.n == 1 && s->body.stmts[0]->kind == KIR_S_ASSIGN && s->step == 1) {
        const KirStmt *as = s->body.stmts[0];
        const KirExpr *e = as->value;
        li->dot = kir_reduction_of(as) == KIR_RED_FMA && k->vars[as->var].type == KIR_F32 &&
                  is_unit_f32_load(k, e->args[0], s->var) && is_unit_f32_load(k, e->args[1], s->var);
    }
    return li->work;
}

static int64_t info_block(InfoWalk *w, const KirBlock *b, int depth)
{
    int64_t work = 0;
    for (int i = 0; i < b->n; i++) {
        const KirStmt *s = b->stmts[i];
        if (s->kind == KIR_S_FOR) work += info_loop(w, s, depth);
        else if (s->kind == KIR_S_IF) work += info_block(w, &s->body, depth) + info_block(w, &s->els, depth);
        else work += 1;
    }
    return work;
}

KirLoopInfo *kir_loop_infos(Arena *a, const KirKernel *k)
{
    KirLoopInfo *out = ARENA_NEW_N(a, KirLoopInfo, k->n_loops > 0 ? k->n_loops : 1);
    InfoWalk w = {a, k, out};
    info_block(&w, &k->body, 0);
    return out;
}

/* ---- jam nests ------------------------------------------------------------------ */

/* Does e use no load and no local: only loop variables (the nest's, and
 * those of enclosing loops, which are constant through the nest: a loop
 * variable is never assigned), T and pos? */
static bool index_vars_only(const KirKernel *k, const KirExpr *e)
{
    if (e->kind == KIR_E_LOAD) return false;
    if (e->kind == KIR_E_VAR) return k->vars[e->id].kind != KIR_V_LOCAL;
    for (int i = 0; i < e->n_args; i++)
        if (!index_vars_only(k, e->args[i])) return false;
    return true;
}

/* The element stride of load ld per step of var, when its flattened index
 * is affine in var. */
static bool load_stride(const KirKernel *k, const KirExpr *ld, int var, int64_t *stride)
{
    const KirBuf *b = &k->bufs[ld->id];
    int64_t s = 0;
    for (int d = 0; d < ld->n_args; d++) {
        int64_t c;
        if (!kir_affine_coeff(ld->args[d], var, &c)) return false;
        s += c * kir_buf_stride(b, d);
    }
    *stride = s;
    return true;
}

static bool has_loop(const KirBlock *b)
{
    for (int i = 0; i < b->n; i++) {
        const KirStmt *s = b->stmts[i];
        if (s->kind == KIR_S_FOR) return true;
        if (s->kind == KIR_S_IF && (has_loop(&s->body) || has_loop(&s->els))) return true;
    }
    return false;
}

/* inner's body: `var acc = INIT; for k {dot}; REST` (REST without loops). */
static bool jam_body(const KirKernel *k, const KirStmt *inner, KirJamNest *j)
{
    const KirBlock *b = &inner->body;
    if (b->n < 2 || b->stmts[0]->kind != KIR_S_VAR || b->stmts[1]->kind != KIR_S_FOR) return false;
    const KirStmt *dot = b->stmts[1];
    if (dot->step != 1 || dot->body.n != 1 || dot->body.stmts[0]->kind != KIR_S_ASSIGN) return false;
    const KirStmt *as = dot->body.stmts[0];
    if (as->var != b->stmts[0]->var || k->vars[as->var].type != KIR_F32 || kir_reduction_of(as) != KIR_RED_FMA)
        return false;
    for (int i = 2; i < b->n; i++) {
        const KirStmt *s = b->stmts[i];
        if (s->kind == KIR_S_FOR || (s->kind == KIR_S_IF && (has_loop(&s->body) || has_loop(&s->els)))) return false;
    }
    j->dot = dot;
    j->acc = as->var;
    j->init = 0;
    j->dot_at = 1;
    return true;
}

bool kir_jam_nest(const KirKernel *k, const KirStmt *outer, KirJamNest *out)
{
    if (!outer || outer->kind != KIR_S_FOR || outer->step != 1 || outer->body.n != 1) return false;
    const KirStmt *inner = outer->body.stmts[0];
    if (inner->kind != KIR_S_FOR || inner->step != 1) return false;
    if (kir_expr_uses_var(inner->lo, outer->var) || kir_expr_uses_var(inner->hi, outer->var)) return false;
    KirJamNest j = {.outer = outer, .inner = inner};
    if (!jam_body(k, inner, &j)) return false;
    const KirStmt *dot = j.dot;
    for (int v = 0; v < 2; v++) {
        int var = v ? inner->var : outer->var;
        if (kir_expr_uses_var(dot->lo, var) || kir_expr_uses_var(dot->hi, var)) return false;
    }
    const KirExpr *fm = dot->body.stmts[0]->value;
    int64_t so[2], si[2], sk[2];
    for (int a = 0; a < 2; a++) {
        const KirExpr *ld = fm->args[a];
        if (ld->kind != KIR_E_LOAD || k->bufs[ld->id].type != KIR_F32) return false;
        for (int d = 0; d < ld->n_args; d++)
            if (!index_vars_only(k, ld->args[d])) return false;
        if (!load_stride(k, ld, outer->var, &so[a]) || !load_stride(k, ld, inner->var, &si[a]) ||
            !load_stride(k, ld, dot->var, &sk[a]) || sk[a] != 1)
            return false;
    }
    /* one operand moves with outer only, the other with inner only */
    if (so[0] != 0 && si[0] == 0 && so[1] == 0 && si[1] != 0) {
        j.arg_outer = 0;
        j.arg_inner = 1;
    } else if (so[1] != 0 && si[1] == 0 && so[0] == 0 && si[0] != 0) {
        j.arg_outer = 1;
        j.arg_inner = 0;
    } else {
        return false;
    }
    j.stride_outer = so[j.arg_outer];
    j.stride_inner = si[j.arg_inner];
    *out = j;
    return true;
}

/* The FOR statement whose body is exactly `loop`, searching b. */
static const KirStmt *parent_loop(const KirBlock *b, const KirStmt *loop)
{
    for (int i = 0; i < b->n; i++) {
        const KirStmt *s = b->stmts[i];
        if (s->kind == KIR_S_FOR && s->body.n == 1 && s->body.stmts[0] == loop) return s;
        const KirStmt *p = NULL;
        if (s->kind == KIR_S_FOR) p = parent_loop(&s->body, loop);
        if (s->kind == KIR_S_IF) {
            p = parent_loop(&s->body, loop);
            if (!p) p = parent_loop(&s->els, loop);
        }
        if (p) return p;
    }
    return NULL;
}

bool kir_jam_nest_of(const KirKernel *k, const KirStmt *loop, KirJamNest *out)
{
    if (kir_jam_nest(k, loop, out)) return true;
    return kir_jam_nest(k, parent_loop(&k->body, loop), out);
}

/* ---- schedules ------------------------------------------------------------------ */

KirLoopSched kir_loop_sched_none(void) { return (KirLoopSched){false, 1, 1, 0, 1}; }

KirSchedule kir_schedule_none(Arena *a, int n_loops)
{
    KirSchedule s = {n_loops, NULL, 0};
    if (!a) return s;
    s.loops = ARENA_NEW_N(a, KirLoopSched, n_loops > 0 ? n_loops : 1);
    for (int i = 0; i < n_loops; i++) s.loops[i] = kir_loop_sched_none();
    return s;
}

KirSchedule kir_schedule_copy(Arena *a, const KirSchedule *s)
{
    KirSchedule c = kir_schedule_none(a, s->n_loops);
    for (int i = 0; i < s->n_loops; i++) c.loops[i] = s->loops[i];
    c.chunk = s->chunk;
    return c;
}

static int pow2_floor(int64_t n)
{
    int p = 1;
    while ((int64_t)p * 2 <= n && p < 64) p *= 2;
    return p;
}

enum { DEFAULT_PAR_MIN_WORK = 32768 };

/* Does schedule s verify?  Messages go nowhere: callers only probe. */
static bool verifies_quietly(const KirKernel *k, const KirSchedule *s)
{
    static FILE *null; /* opened once, kept for the process */
    if (!null) null = fopen("/dev/null", "w");
    Diag quiet;
    diag_init(&quiet, null ? null : stderr);
    quiet.max_errors = 1;
    return kir_verify_schedule(k, s, &quiet);
}

/* Loop `id` of k scheduled as l alone: legal?  The verifier is the one
 * authority on legality, so the heuristic only proposes. */
static bool loop_legal(Arena *a, const KirKernel *k, int id, KirLoopSched l)
{
    KirSchedule one = kir_schedule_none(a, k->n_loops);
    one.chunk = k->chunk;
    one.loops[id] = l;
    return verifies_quietly(k, &one);
}

/* Register blocking of the jam nests whose inner product is vectorized:
 * 4 x 4 inner products per pass (16 vector accumulators, 8 loads per 16
 * FMAs: within the 32 registers of AVX-512 and the load ports of one
 * core).  The inner product keeps its own schedule for the leftover rows
 * and columns (decode's single token among them). */
enum { DEFAULT_JAM = 4 };

/* Rows of the outer loop per block where the target has 32 vector registers
 * (AVX-512) and the outer loop is long: 6 x 4 blocks, 24 accumulators.  Each
 * pass over the inner loop's rows (the activations: T x k, megabytes at
 * k = 1536) then serves 6 weight rows instead of 4; `hyc tune` found it 1.03x
 * to 1.18x faster on every prefill projection of the bench models with 768 or
 * more outputs, within noise on the rest (bench/results.md, 2026-11-27).  A
 * short outer loop (x_proj's 80 outputs) keeps 4: its leftover rows run
 * unblocked; so does one of unknown length (attention's tile of keys, a
 * power of two). */
enum { WIDE_JAM = 6, WIDE_JAM_MIN_TRIP = 96 };

static void jam_defaults(const KirKernel *k, Arena *a, const CgTarget *tg, KirSchedule *s)
{
    const KirLoopInfo *info = kir_loop_infos(a, k);
    for (int id = 0; id < k->n_loops; id++) {
        KirJamNest j;
        if (!kir_jam_nest(k, kir_find_loop(k, id), &j) || s->loops[j.dot->loop].vec <= 1) continue;
        /* decode's one token (a GEMV): no blocking.  Streaming one weight row
         * at a time through the inner-product helper reads memory faster
         * than four rows at once (measured: 21 vs 14 GB/s on one Zen 4 core) */
        int64_t inner_trip = info[j.inner->loop].max_trip, outer_trip = info[j.outer->loop].max_trip;
        if (inner_trip >= 0 && inner_trip < DEFAULT_JAM) continue;
        bool wide = tg->isa == CG_ISA_AVX512 && outer_trip >= WIDE_JAM_MIN_TRIP;
        KirSchedule t = kir_schedule_copy(a, s);
        t.loops[j.outer->loop].jam = wide ? WIDE_JAM : DEFAULT_JAM;
        t.loops[j.inner->loop].jam = DEFAULT_JAM;
        if (verifies_quietly(k, &t)) *s = t;
    }
}

void kir_schedule_default(KirKernel *k, Arena *a, const CgTarget *t, const KirSchedHints *h)
{
    int64_t min_work = h && h->par_min_work > 0 ? h->par_min_work : DEFAULT_PAR_MIN_WORK;
    if (h && h->par_min_work < 0) min_work = 0; /* negative: parallel whenever legal */
    KirSchedule s = kir_schedule_none(a, k->n_loops);
    s.chunk = k->chunk; /* the body's form: the lowering chose it */
    KirLoopInfo *info = kir_loop_infos(a, k);
    for (int id = 0; id < k->n_loops; id++) {
        const KirLoopInfo *li = &info[id];
        KirLoopSched *l = &s.loops[id];
        if (!li->stmt || li->stmt->step != 1) continue;
        if (li->depth == 0 && li->stores_indep && !li->assigns_outer && li->work >= min_work &&
            (li->trip < 0 || li->trip >= 2))
            l->parallel = true;
        if (li->innermost && li->unit_stride && li->reductions_ok) {
            int lanes = t->lanes;
            if (li->max_trip >= 0 && li->max_trip < lanes) lanes = pow2_floor(li->max_trip);
            if (lanes >= 4) l->vec = lanes;
            if (l->vec > 1 && li->dot && (li->max_trip < 0 || li->max_trip >= 4 * (int64_t)l->vec)) l->unroll = 2;
        }
        if (!loop_legal(a, k, id, *l)) *l = kir_loop_sched_none();
    }
    jam_defaults(k, a, t, &s);
    k->sched = s;
}

KirKernel *kir_kernel_for_schedule(Arena *a, const KirKernel *k, const KirSchedule *s)
{
    return kir_kernel_rechunk(a, k, s->chunk);
}

bool kir_set_schedule(KirKernel *k, Arena *a, const KirSchedule *s, Diag *diag)
{
    KirKernel *f = s->chunk == k->chunk ? k : kir_kernel_rechunk(a, k, s->chunk);
    if (!f) {
        diag_error(diag, k->ir_loc, "kernel @%s: the schedule's chunk %d asks for a form the kernel does not have%s",
                   k->name, s->chunk, k->chunk ? "" : " (only prefill Mamba-2 scans have chunked forms)");
        return false;
    }
    if (!kir_verify_schedule(f, s, diag)) return false;
    if (f != k) *k = *f; /* the body in the schedule's form */
    k->sched = kir_schedule_copy(a, s);
    return true;
}

static bool sched_eq(const KirSchedule *x, const KirSchedule *y)
{
    if (x->n_loops != y->n_loops || x->chunk != y->chunk) return false;
    for (int i = 0; i < x->n_loops; i++) {
        const KirLoopSched *p = &x->loops[i], *q = &y->loops[i];
        if (p->parallel != q->parallel || p->vec != q->vec || p->unroll != q->unroll || p->tile != q->tile ||
            p->jam != q->jam)
            return false;
    }
    return true;
}

typedef struct Variants {
    Arena *a;
    const KirKernel *k;
    KirSchedule *out;
    int n, max;
} Variants;

/* Keep s when it verifies (against the kernel in s's form) and is new. */
static void offer(Variants *v, const KirSchedule *s)
{
    if (v->n >= v->max) return;
    for (int i = 0; i < v->n; i++)
        if (sched_eq(&v->out[i], s)) return;
    const KirKernel *f = kir_kernel_for_schedule(v->a, v->k, s);
    if (f && verifies_quietly(f, s)) v->out[v->n++] = kir_schedule_copy(v->a, s);
}

/* Chunk lengths the tuner tries for a Mamba-2 prefill scan (0: the
 * recurrence), besides the kernel's own. */
static const int chunk_variants[] = {0, 16, 32, 64};

/* The other forms of k, each with its default schedule. */
static void offer_chunks(Variants *v, const CgTarget *t)
{
    if (!v->k->relower) return;
    for (size_t i = 0; i < sizeof chunk_variants / sizeof chunk_variants[0]; i++) {
        KirKernel *f = kir_kernel_rechunk(v->a, v->k, chunk_variants[i]);
        if (!f || f == v->k) continue;
        kir_schedule_default(f, v->a, t, NULL);
        offer(v, &f->sched);
    }
}

int kir_tasks_per_thread(const KirKernel *k)
{
    for (int i = 0; i < k->n_bufs; i++)
        for (int d = 0; d < k->bufs[i].rank; d++)
            if (k->bufs[i].dims[d] == IR_DIM_T) return KIR_TASKS_PER_THREAD;
    return 1;
}

int kir_schedule_variants(Arena *a, const KirKernel *k, const CgTarget *t, KirSchedule *out, int max)
{
    Variants v = {a, k, out, 0, max};
    KirKernel tmp = *k;
    KirSchedHints eager = {-1};
    kir_schedule_default(&tmp, a, t, NULL);
    KirSchedule base = tmp.sched;
    offer(&v, &base);
    KirSchedule s = kir_schedule_copy(a, &base);
    for (int i = 0; i < s.n_loops; i++) s.loops[i].parallel = false;
    offer(&v, &s);
    kir_schedule_default(&tmp, a, t, &eager);
    offer(&v, &tmp.sched);
    offer_chunks(&v, t);
    KirLoopInfo *info = kir_loop_infos(a, k);
    static const int vecs[] = {1, 4, 8, 16, 32};
    static const int unrolls[] = {1, 2, 4};
    static const int tiles[] = {4, 16, 64};
    /* register blocks (outer x inner) of jam nests: at most 24 accumulators
     * plus the operands in AVX-512's 32 registers */
    static const int jams[][2] = {{1, 1}, {4, 1}, {1, 4}, {2, 2}, {2, 4}, {4, 2}, {4, 4}, {6, 4}, {4, 6}, {3, 8}, {8, 3}};
    for (int id = 0; id < k->n_loops; id++) {
        if (info[id].innermost && info[id].unit_stride)
            for (size_t a_ = 0; a_ < sizeof vecs / sizeof vecs[0]; a_++)
                for (size_t u = 0; u < sizeof unrolls / sizeof unrolls[0]; u++) {
                    s = kir_schedule_copy(a, &base);
                    s.loops[id].vec = vecs[a_];
                    s.loops[id].unroll = unrolls[u];
                    offer(&v, &s);
                }
        KirJamNest j;
        if (kir_jam_nest(k, info[id].stmt, &j) && base.loops[j.dot->loop].vec > 1)
            for (size_t i = 0; i < sizeof jams / sizeof jams[0]; i++) {
                s = kir_schedule_copy(a, &base);
                s.loops[j.outer->loop].jam = jams[i][0];
                s.loops[j.inner->loop].jam = jams[i][1];
                offer(&v, &s);
            }
        if (base.loops[id].parallel)
            for (size_t i = 0; i < sizeof tiles / sizeof tiles[0]; i++) {
                s = kir_schedule_copy(a, &base);
                s.loops[id].tile = tiles[i];
                offer(&v, &s);
            }
    }
    return v.n;
}

/* ---- signatures ----------------------------------------------------------------- */

uint64_t kir_hash64(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

const char *kir_signature(Arena *a, const KirKernel *k, bool with_schedule)
{
    StrBuf body = {0}, sb = {0};
    kir_print_kernel(&body, k, KIR_PRINT_CANONICAL | KIR_PRINT_NO_SCHEDULE);
    sb_puts(&sb, k->op);
    for (int i = 0; i < k->n_bufs; i++) {
        const KirBuf *b = &k->bufs[i];
        sb_printf(&sb, " %s:", kir_role_name(b->role));
        kir_print_buf_type(&sb, b);
    }
    sb_printf(&sb, " #%016llx", (unsigned long long)kir_hash64(body.data ? body.data : "", body.len));
    if (with_schedule) {
        sb_puts(&sb, " |");
        bool any = false;
        if (k->sched.chunk > 0) {
            sb_printf(&sb, " chunk%d", k->sched.chunk);
            any = true;
        }
        for (int i = 0; i < k->sched.n_loops; i++) {
            const KirLoopSched *l = &k->sched.loops[i];
            if (!l->parallel && l->vec <= 1 && l->unroll <= 1 && l->tile <= 0 && l->jam <= 1) continue;
            sb_printf(&sb, "%s L%d", any ? "," : "", i);
            if (l->parallel) sb_puts(&sb, " par");
            if (l->vec > 1) sb_printf(&sb, " vec%d", l->vec);
            if (l->unroll > 1) sb_printf(&sb, " unroll%d", l->unroll);
            if (l->tile > 0) sb_printf(&sb, " tile%d", l->tile);
            if (l->jam > 1) sb_printf(&sb, " jam%d", l->jam);
            any = true;
        }
        if (!any) sb_puts(&sb, " none");
    }
    const char *out = arena_strdup(a, sb_cstr(&sb));
    sb_free(&body);
    sb_free(&sb);
    return out;
}
