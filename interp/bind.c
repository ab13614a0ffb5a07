/* bind.c — a module's weights from a checkpoint: each param's canonical name
 * mapped to a file tensor by the model's naming (hyc names with renames, or
 * a Hugging Face family's names with layout transforms, frontend/hf_names.c),
 * converted to float32 and checked against the param's shape. */
#include "interp.h"
#include "../formats/formats.h"
#include "../frontend/frontend.h"
#include "../ir/ir.h"

#include <stdlib.h>
#include <string.h>

/* ---- shapes ------------------------------------------------------------------ */

enum { BIND_MAX_RANK = 8 };

typedef struct Shape {
    int rank;
    int64_t d[BIND_MAX_RANK];
} Shape;

static int64_t shape_numel(const Shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) n *= s->d[i];
    return n;
}

static const char *shape_text(char *buf, size_t size, const Shape *s)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < s->rank && n < size; i++) n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? ", " : "", (long long)s->d[i]);
    if (n < size) snprintf(buf + n, size - n, "]");
    return buf;
}

static bool shape_eq(const Shape *a, const Shape *b)
{
    if (a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (a->d[i] != b->d[i]) return false;
    return true;
}

static Shape shape_of_tensor(const StTensor *t)
{
    Shape s = {0};
    HYC_ASSERT(t->ndim < BIND_MAX_RANK);
    s.rank = t->ndim;
    for (int i = 0; i < t->ndim; i++) s.d[i] = t->shape[i];
    return s;
}

static Shape shape_of_param(const IrParamDecl *p)
{
    Shape s = {0};
    s.rank = p->type.rank;
    for (int i = 0; i < p->type.rank; i++) s.d[i] = p->type.dims[i];
    return s;
}

/* ---- one binding run ----------------------------------------------------------- */

typedef struct Binder {
    const IrModule *m;
    StSet *set;
    Diag *d;
    bool hf;
    HfNaming nm;
    const BindSource *src;
    const StTensor **sorted; /* every tensor of the set, by address */
    const char **names;      /* their names, for suggestions */
    bool *used;              /* by position in sorted */
    int n;
} Binder;

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (const StTensor *const *)a, y = (uintptr_t) * (const StTensor *const *)b;
    return x < y ? -1 : x > y;
}

static void mark_used(Binder *B, const StTensor *t)
{
    const StTensor **hit = bsearch(&t, B->sorted, (size_t)B->n, sizeof *B->sorted, cmp_ptr);
    HYC_ASSERT(hit);
    B->used[hit - B->sorted] = true;
}

static bool is_used(const Binder *B, const StTensor *t)
{
    const StTensor **hit = bsearch(&t, B->sorted, (size_t)B->n, sizeof *B->sorted, cmp_ptr);
    return hit && B->used[hit - B->sorted];
}

/* The whole tensor as float32 (heap), or NULL after an error. */
static float *read_f32(Binder *B, const StTensor *t, const char *param)
{
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16 && t->dtype != ST_F64) {
        diag_error(B->d, loc_none(), "%s: tensor '%s' (for param '%s') has dtype %s; weights must be F32, F16, BF16 or F64",
                   st_path(t->file), t->name, param, st_dtype_name(t->dtype));
        return NULL;
    }
    float *out = xmalloc((size_t)(t->numel + 1) * sizeof(float));
    if (!st_read_f32(t->file, t, out)) HYC_DIE("st_read_f32 failed on a float tensor '%s'", t->name);
    return out;
}

/* The name with "{e}" replaced by E. */
static void expert_name(char out[HF_NAME_MAX], const char *pat, int e)
{
    const char *p = strstr(pat, "{e}");
    HYC_ASSERT(p);
    int n = snprintf(out, HF_NAME_MAX, "%.*s%d%s", (int)(p - pat), pat, e, p + 3);
    HYC_ASSERT(n > 0 && n < HF_NAME_MAX);
}

/* Does the file hold what REF names (every expert of a stack)? */
static bool ref_present(const Binder *B, const HfTensorRef *ref)
{
    if (ref->xform != HF_XF_STACK) return st_set_find(B->set, ref->name) != NULL;
    char name[HF_NAME_MAX];
    for (int e = 0; e < ref->count; e++) {
        expert_name(name, ref->name, e);
        if (!st_set_find(B->set, name)) return false;
    }
    return ref->count > 0;
}

/* Read REF and put it into the canonical layout: *out (heap) of shape *shape.
 * False after an error. */
static bool load_ref(Binder *B, const HfTensorRef *ref, const IrParamDecl *p, float **out, Shape *shape)
{
    char buf[128], xf[160];
    if (ref->xform == HF_XF_STACK) {
        char name[HF_NAME_MAX];
        expert_name(name, ref->name, 0);
        const StTensor *t0 = st_set_find(B->set, name);
        Shape s0 = shape_of_tensor(t0);
        if (s0.rank + 1 >= BIND_MAX_RANK) HYC_DIE("tensor rank %d too large", s0.rank);
        int64_t each = shape_numel(&s0);
        float *all = xmalloc((size_t)(each * ref->count + 1) * sizeof(float));
        for (int e = 0; e < ref->count; e++) {
            expert_name(name, ref->name, e);
            const StTensor *t = st_set_find(B->set, name);
            Shape se = shape_of_tensor(t);
            if (!shape_eq(&se, &s0)) {
                char b2[128];
                diag_error(B->d, loc_none(), "%s: expert tensors of param '%s' differ in shape: '%s' is %s, expert 0 is %s",
                           st_path(t->file), p->name, t->name, shape_text(buf, sizeof buf, &se),
                           shape_text(b2, sizeof b2, &s0));
                free(all);
                return false;
            }
            float *v = read_f32(B, t, p->name);
            if (!v) {
                free(all);
                return false;
            }
            memcpy(all + e * each, v, (size_t)each * sizeof(float));
            free(v);
            mark_used(B, t);
        }
        shape->rank = s0.rank + 1;
        shape->d[0] = ref->count;
        for (int i = 0; i < s0.rank; i++) shape->d[i + 1] = s0.d[i];
        *out = all;
        return true;
    }

    const StTensor *t = st_set_find(B->set, ref->name);
    HYC_ASSERT(t);
    Shape s = shape_of_tensor(t);
    Shape want = shape_of_param(p);
    float *v = read_f32(B, t, p->name);
    if (!v) return false;
    mark_used(B, t);
    const char *bad = NULL;
    switch (ref->xform) {
    case HF_XF_COPY: break;
    case HF_XF_SQUEEZE:
        /* [C, 1, K] -> [C, K]; a param declared [C, 1, K] takes it as is. */
        if (shape_eq(&s, &want)) break;
        if (s.rank != 3 || s.d[1] != 1) {
            bad = "a [C, 1, K] convolution weight";
            break;
        }
        s.rank = 2;
        s.d[1] = s.d[2];
        break;
    case HF_XF_SLICE: {
        if (ref->axis >= s.rank || ref->parts < 1 || s.d[ref->axis] % ref->parts) {
            bad = "a tensor whose sliced axis divides into the parts";
            break;
        }
        int64_t outer = 1, inner = 1, len = s.d[ref->axis] / ref->parts;
        for (int i = 0; i < ref->axis; i++) outer *= s.d[i];
        for (int i = ref->axis + 1; i < s.rank; i++) inner *= s.d[i];
        float *o = xmalloc((size_t)(outer * len * inner + 1) * sizeof(float));
        for (int64_t a = 0; a < outer; a++)
            memcpy(o + a * len * inner, v + (a * s.d[ref->axis] + ref->part * len) * inner,
                   (size_t)(len * inner) * sizeof(float));
        free(v);
        v = o;
        s.d[ref->axis] = len;
        break;
    }
    case HF_XF_REGROUP: {
        int64_t per = 0;
        for (int k = 0; k < ref->n_seg; k++) per += ref->seg[k];
        if (s.rank < 1 || ref->groups < 1 || s.d[0] != per * ref->groups) {
            bad = "rows that split into the groups' segments";
            break;
        }
        int64_t row = shape_numel(&s) / s.d[0];
        float *o = xmalloc((size_t)(shape_numel(&s) + 1) * sizeof(float));
        int64_t at = 0, seg_off = 0; /* rows written; start of the segment within a group */
        for (int k = 0; k < ref->n_seg; k++) {
            for (int g = 0; g < ref->groups; g++) {
                memcpy(o + at * row, v + (g * per + seg_off) * row, (size_t)(ref->seg[k] * row) * sizeof(float));
                at += ref->seg[k];
            }
            seg_off += ref->seg[k];
        }
        free(v);
        v = o;
        break;
    }
    case HF_XF_STACK: HYC_UNREACHABLE();
    }
    if (bad) {
        diag_error(B->d, loc_none(), "%s: tensor '%s' has shape %s; param '%s' (%s) needs %s",
                   st_path(t->file), t->name, shape_text(buf, sizeof buf, &s), p->name,
                   hf_xform_text(ref, xf, sizeof xf), bad);
        free(v);
        return false;
    }
    *out = v;
    *shape = s;
    return true;
}

/* The file's name for param P under the hyc naming (renames applied). */
static void hyc_name(const Binder *B, const char *canon, char out[HF_NAME_MAX])
{
    const BindSource *src = B->src;
    /* Exact renames first, then "{i}" patterns on layers.<i>.rest. */
    for (int r = 0; r < src->n_renames; r++) {
        if (strcmp(src->renames[r].from, canon) == 0) {
            snprintf(out, HF_NAME_MAX, "%s", src->renames[r].to);
            return;
        }
    }
    static const char pre[] = "layers.";
    if (strncmp(canon, pre, sizeof pre - 1) == 0 && canon[sizeof pre - 1] >= '0' && canon[sizeof pre - 1] <= '9') {
        const char *num = canon + sizeof pre - 1, *rest = num;
        while (*rest >= '0' && *rest <= '9') rest++;
        char norm[HF_NAME_MAX];
        snprintf(norm, sizeof norm, "layers.{i}%s", rest);
        for (int r = 0; r < src->n_renames; r++) {
            if (strcmp(src->renames[r].from, norm) != 0) continue;
            const char *to = src->renames[r].to;
            size_t n = 0;
            out[0] = '\0';
            while (*to && n + 1 < HF_NAME_MAX) {
                if (strncmp(to, "{i}", 3) == 0) {
                    int k = snprintf(out + n, HF_NAME_MAX - n, "%.*s", (int)(rest - num), num);
                    n += (size_t)k;
                    to += 3;
                } else {
                    out[n++] = *to++;
                    out[n] = '\0';
                }
            }
            return;
        }
    }
    snprintf(out, HF_NAME_MAX, "%s", canon);
}

/* The values of param p (a base param, or a leaf of a derived one) from the
 * file, in *out (malloc'ed). */
static bool bind_decl(Binder *B, const IrParamDecl *p, float **out)
{
    Shape want = shape_of_param(p);
    char b1[128], b2[128], xf[160];
    HfTensorRef ref, legacy;
    bool has_legacy = false;
    memset(&ref, 0, sizeof ref);
    memset(&legacy, 0, sizeof legacy);
    if (B->hf) {
        if (!hf_bind_name(&B->nm, p->name, &ref, &legacy, &has_legacy)) {
            diag_error(B->d, loc_none(), "param '%s' has no tensor in the naming \"%s\" (docs/families.md lists its names)",
                       p->name, B->src->naming);
            return false;
        }
    } else {
        hyc_name(B, p->name, ref.name);
        ref.xform = HF_XF_COPY;
    }
    const HfTensorRef *use = &ref;
    if (!ref_present(B, &ref)) {
        if (has_legacy && ref_present(B, &legacy)) {
            use = &legacy;
        } else {
            if (has_legacy)
                diag_error(B->d, loc_none(), "%s: no tensor '%s' (nor the older layout '%s') for param '%s' %s",
                           B->src->path, ref.name, legacy.name, p->name, shape_text(b1, sizeof b1, &want));
            else
                diag_error(B->d, loc_none(), "%s: no tensor '%s' for param '%s' %s", B->src->path, ref.name, p->name,
                           shape_text(b1, sizeof b1, &want));
            const char *near = suggest_word(ref.name, B->names, B->n);
            if (near) diag_note(B->d, loc_none(), "the file has a tensor '%s'", near);
            return false;
        }
    }
    float *data = NULL;
    Shape got;
    if (!load_ref(B, use, p, &data, &got)) return false;
    if (!shape_eq(&got, &want)) {
        if (use->xform == HF_XF_COPY)
            diag_error(B->d, loc_none(), "%s: tensor '%s' has shape %s, but param '%s' is %s", B->src->path, use->name,
                       shape_text(b1, sizeof b1, &got), p->name, shape_text(b2, sizeof b2, &want));
        else
            diag_error(B->d, loc_none(), "%s: tensor '%s' gives shape %s (%s), but param '%s' is %s", B->src->path,
                       use->name, shape_text(b1, sizeof b1, &got), hf_xform_text(use, xf, sizeof xf), p->name,
                       shape_text(b2, sizeof b2, &want));
        free(data);
        return false;
    }
    *out = data;
    return true;
}

/* A derived param's leaf: bound as a base param of its name and type. */
static bool bind_leaf(void *ctx, const char *name, const IrType *t, float *out)
{
    IrParamDecl leaf = {0};
    leaf.name = name;
    leaf.type = *t;
    float *data;
    if (!bind_decl(ctx, &leaf, &data)) return false;
    int64_t n = 1;
    for (int d = 0; d < t->rank; d++) n *= t->dims[d];
    memcpy(out, data, sizeof(float) * (size_t)n);
    free(data);
    return true;
}

static bool bind_param(Binder *B, int pid, Weights *w)
{
    const IrParamDecl *p = &B->m->params[pid];
    if (!p->derive) return bind_decl(B, p, &w->data[pid]);
    int64_t n = 1;
    for (int d = 0; d < p->type.rank; d++) n *= p->type.dims[d];
    float *data = xmalloc(sizeof(float) * (size_t)(n ? n : 1));
    if (!weights_eval_derived(p->derive, data, bind_leaf, B)) {
        free(data);
        return false;
    }
    w->data[pid] = data;
    return true;
}

/* Unread tensors, tied duplicates of read ones and slots the family's
 * forward never reads (hf_unused_tensor) excepted: one warning. */
static void report_unused(Binder *B)
{
    StrBuf list = {0};
    int n_unused = 0;
    for (int i = 0; i < st_set_count(B->set); i++) {
        const StTensor *t = st_set_tensor(B->set, i);
        if (is_used(B, t) || (B->hf && hf_unused_tensor(&B->nm, t->name))) continue;
        char src[HF_NAME_MAX];
        if (B->hf && hf_tied_source(&B->nm, t->name, src)) {
            const StTensor *s = st_set_find(B->set, src);
            if (s && is_used(B, s)) {
                bool same = s->dtype == t->dtype && s->end - s->begin == t->end - t->begin &&
                            memcmp(s->data, t->data, (size_t)(t->end - t->begin)) == 0;
                if (!same)
                    diag_warning(B->d, loc_none(), "%s: tensor '%s' should be a tied copy of '%s' but differs; '%s' is used",
                                 B->src->path, t->name, src, src);
                continue;
            }
        }
        if (n_unused < 20) sb_printf(&list, "%s%s", n_unused ? ", " : "", t->name);
        n_unused++;
    }
    if (n_unused > 20) sb_printf(&list, ", ... (%d more)", n_unused - 20);
    if (n_unused)
        diag_warning(B->d, loc_none(), "%s: %d tensor%s of the file %s not used by model '%s': %s", B->src->path, n_unused,
                     n_unused == 1 ? "" : "s", n_unused == 1 ? "is" : "are", B->m->name, sb_cstr(&list));
    sb_free(&list);
}

bool weights_bind(Weights *w, const IrModule *m, const BindSource *src, Diag *d)
{
    memset(w, 0, sizeof *w);
    Binder B = {0};
    B.m = m;
    B.d = d;
    B.src = src;
    const char *naming = src->naming ? src->naming : "hyc";
    if (strcmp(naming, "hyc") != 0) {
        B.hf = true;
        if (src->hf) {
            B.nm = *src->hf;
        } else if (!hf_naming_init(&B.nm, naming, NULL)) {
            diag_error(d, loc_none(), "unknown weight naming \"%s\" (\"hyc\" or \"hf:<model_type>\")", naming);
            return false;
        }
    }
    int errors0 = d->n_errors;
    B.set = st_set_open(src->path, d);
    if (!B.set) return false;
    B.n = st_set_count(B.set);
    B.sorted = xmalloc((size_t)(B.n ? B.n : 1) * sizeof *B.sorted);
    B.used = xcalloc((size_t)(B.n ? B.n : 1), sizeof *B.used);
    B.names = xmalloc((size_t)(B.n ? B.n : 1) * sizeof *B.names);
    for (int i = 0; i < B.n; i++) {
        B.sorted[i] = st_set_tensor(B.set, i);
        B.names[i] = B.sorted[i]->name;
    }
    qsort(B.sorted, (size_t)B.n, sizeof *B.sorted, cmp_ptr);

    w->mod = m;
    w->n = m->n_params;
    w->data = xcalloc((size_t)(m->n_params ? m->n_params : 1), sizeof *w->data);
    bool ok = true;
    for (int i = 0; i < m->n_params; i++) ok &= bind_param(&B, i, w);
    ok = ok && d->n_errors == errors0;
    report_unused(&B);
    free(B.sorted);
    free(B.names);
    free(B.used);
    st_set_close(B.set);
    if (!ok) weights_free(w);
    return ok;
}

/* ---- from a ModelSpec -------------------------------------------------------------- */

static void dims_of_sublayer(const SublayerSpec *sl, HfDims *out, bool *have_gate_attn)
{
    switch (sl->kind) {
    case SUBLAYER_ATTENTION: {
        const AttentionSpec *a = &sl->as.attention;
        /* Qwen3-Next's gated q is the only regroup of attention weights. */
        if (!*have_gate_attn) {
            out->attn_heads = a->heads;
            out->attn_head_dim = a->head_dim;
            *have_gate_attn = a->output_gate;
        }
        return;
    }
    case SUBLAYER_DELTANET: {
        const DeltaNetSpec *p = &sl->as.deltanet;
        out->lin_key_heads = p->key_heads;
        out->lin_value_heads = p->value_heads;
        out->lin_key_dim = p->key_dim;
        out->lin_value_dim = p->value_dim;
        return;
    }
    case SUBLAYER_MOE:
        if (out->n_experts == 0) out->n_experts = (int)sl->as.moe.experts;
        return;
    case SUBLAYER_PARALLEL:
        for (int i = 0; i < sl->as.parallel.n_branches; i++)
            dims_of_sublayer(&sl->as.parallel.branches[i], out, have_gate_attn);
        return;
    default: return;
    }
}

void bind_hf_dims(const ModelSpec *spec, HfDims *out, int *hybrid_buf)
{
    memset(out, 0, sizeof *out);
    bool gate_attn = false;
    int n_hybrid = 0;
    for (int b = 0; b < spec->n_shared_blocks; b++)
        for (int j = 0; j < spec->shared_blocks[b].n_sublayers; j++)
            dims_of_sublayer(&spec->shared_blocks[b].sublayers[j], out, &gate_attn);
    for (int i = 0; i < spec->n_layers; i++) {
        const LayerDef *l = spec->layers[i];
        bool hybrid = false;
        for (int j = 0; j < l->n_sublayers; j++) {
            dims_of_sublayer(&l->sublayers[j], out, &gate_attn);
            hybrid |= l->sublayers[j].kind == SUBLAYER_USE;
        }
        if (hybrid) hybrid_buf[n_hybrid++] = i;
    }
    out->hybrid_layers = hybrid_buf;
    out->n_hybrid = n_hybrid;
    out->n_shared_blocks = spec->n_shared_blocks;
    out->tie_embeddings = spec->tie_embeddings;
}

bool weights_bind_spec(Weights *w, const IrModule *m, const ModelSpec *spec, Diag *d)
{
    const WeightsSpec *ws = &spec->weights;
    if (!ws->present || !ws->path) {
        memset(w, 0, sizeof *w);
        diag_error(d, spec->blk.name_loc,
                   "model '%s' has no weights block (weights { file = ... }); run with random weights instead",
                   spec->name);
        return false;
    }
    BindSource src = {ws->path, ws->naming, NULL, ws->renames, ws->n_renames};
    HfNaming nm;
    HfDims dims;
    int *hybrid = xmalloc((size_t)(spec->n_layers ? spec->n_layers : 1) * sizeof(int));
    if (ws->naming && strcmp(ws->naming, "hyc") != 0) {
        bind_hf_dims(spec, &dims, hybrid);
        if (!hf_naming_init(&nm, ws->naming, &dims)) {
            diag_error(d, spec_key_loc(&ws->blk, "naming"), "unknown weight naming \"%s\"", ws->naming);
            free(hybrid);
            memset(w, 0, sizeof *w);
            return false;
        }
        src.hf = &nm;
    }
    bool ok = weights_bind(w, m, &src, d);
    free(hybrid);
    return ok;
}
