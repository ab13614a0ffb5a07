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

/* ---- schedules ------------------------------------------------------------------ */

KirLoopSched kir_loop_sched_none(void) { return (KirLoopSched){false, 1, 1, 0}; }

KirSchedule kir_schedule_none(Arena *a, int n_loops)
{
    KirSchedule s = {n_loops, NULL};
    if (!a) return s;
    s.loops = ARENA_NEW_N(a, KirLoopSched, n_loops > 0 ? n_loops : 1);
    for (int i = 0; i < n_loops; i++) s.loops[i] = kir_loop_sched_none();
    return s;
}

KirSchedule kir_schedule_copy(Arena *a, const KirSchedule *s)
{
    KirSchedule c = kir_schedule_none(a, s->n_loops);
    for (int i = 0; i < s->n_loops; i++) c.loops[i] = s->loops[i];
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
    one.loops[id] = l;
    return verifies_quietly(k, &one);
}

void kir_schedule_default(KirKernel *k, Arena *a, const CgTarget *t, const KirSchedHints *h)
{
    int64_t min_work = h && h->par_min_work > 0 ? h->par_min_work : DEFAULT_PAR_MIN_WORK;
    if (h && h->par_min_work < 0) min_work = 0; /* negative: parallel whenever legal */
    KirSchedule s = kir_schedule_none(a, k->n_loops);
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
    k->sched = s;
}

bool kir_set_schedule(KirKernel *k, Arena *a, const KirSchedule *s, Diag *diag)
{
    if (!kir_verify_schedule(k, s, diag)) return false;
    k->sched = kir_schedule_copy(a, s);
    return true;
}

static bool sched_eq(const KirSchedule *x, const KirSchedule *y)
{
    if (x->n_loops != y->n_loops) return false;
    for (int i = 0; i < x->n_loops; i++) {
        const KirLoopSched *p = &x->loops[i], *q = &y->loops[i];
        if (p->parallel != q->parallel || p->vec != q->vec || p->unroll != q->unroll || p->tile != q->tile)
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

/* Keep s when it verifies and is new. */
static void offer(Variants *v, const KirSchedule *s)
{
    if (v->n >= v->max) return;
    for (int i = 0; i < v->n; i++)
        if (sched_eq(&v->out[i], s)) return;
    if (verifies_quietly(v->k, s)) v->out[v->n++] = kir_schedule_copy(v->a, s);
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
    KirLoopInfo *info = kir_loop_infos(a, k);
    static const int vecs[] = {1, 4, 8, 16, 32};
    static const int unrolls[] = {1, 2, 4};
    static const int tiles[] = {4, 16, 64};
    for (int id = 0; id < k->n_loops; id++) {
        if (info[id].innermost && info[id].unit_stride)
            for (size_t a_ = 0; a_ < sizeof vecs / sizeof vecs[0]; a_++)
                for (size_t u = 0; u < sizeof unrolls / sizeof unrolls[0]; u++) {
                    s = kir_schedule_copy(a, &base);
                    s.loops[id].vec = vecs[a_];
                    s.loops[id].unroll = unrolls[u];
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
        for (int i = 0; i < k->sched.n_loops; i++) {
            const KirLoopSched *l = &k->sched.loops[i];
            if (!l->parallel && l->vec <= 1 && l->unroll <= 1 && l->tile <= 0) continue;
            sb_printf(&sb, "%s L%d", any ? "," : "", i);
            if (l->parallel) sb_puts(&sb, " par");
            if (l->vec > 1) sb_printf(&sb, " vec%d", l->vec);
            if (l->unroll > 1) sb_printf(&sb, " unroll%d", l->unroll);
            if (l->tile > 0) sb_printf(&sb, " tile%d", l->tile);
            any = true;
        }
        if (!any) sb_puts(&sb, " none");
    }
    const char *out = arena_strdup(a, sb_cstr(&sb));
    sb_free(&body);
    sb_free(&sb);
    return out;
}
