/* check_import.c — unit tests of the Hugging Face importer (frontend/
 * import_hf.c) and the hf:<family> weight naming (frontend/hf_names.c).
 *
 * For every fixture in tests/fixtures/hf (the tiny and small models made with
 * transformers 5.17) and every variant in tests/import/variants (made by
 * tests/import/make_variants.py: the switches the fixtures leave at their
 * defaults):
 *   - the config imports without a diagnostic, into exactly the text pinned in
 *     tests/import/golden/, which is already in `hyc fmt` form;
 *   - the text parses and passes sema with the expected layer at each depth;
 *   - every canonical parameter sema lists binds to a tensor of the checkpoint
 *     with the right shape after its transform, and every tensor of the
 *     checkpoint is used exactly once (each slice of a sliced tensor once) or is
 *     a byte-identical tied copy of a used one.
 * Bad configs (tests/import/bad/NAME.json) give exactly the diagnostics pinned
 * in NAME.err; good configs without a checkpoint (tests/import/good/NAME.json)
 * import cleanly into NAME.hyb.  HYC_UPDATE_GOLDEN=1 rewrites the pinned files instead.
 *
 * Run from the repository root (the Makefile does).
 */
#include "frontend/frontend.h"
#include "formats/formats.h"

#include <check.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------ */

/* Diagnostics captured in memory. */
typedef struct Capture {
    Diag diag;
    FILE *out;
    char *text;
    size_t len;
} Capture;

static void capture_open(Capture *c)
{
    memset(c, 0, sizeof *c);
    c->out = open_memstream(&c->text, &c->len);
    ck_assert_ptr_nonnull(c->out);
    diag_init(&c->diag, c->out);
    c->diag.color = false;
    c->diag.max_errors = 0;
}

static const char *capture_text(Capture *c)
{
    fflush(c->out);
    return c->text ? c->text : "";
}

static void capture_close(Capture *c)
{
    fclose(c->out);
    free(c->text);
}

static bool update_golden(void)
{
    const char *e = getenv("HYC_UPDATE_GOLDEN");
    return e && *e && strcmp(e, "0") != 0;
}

/* Compare TEXT with the file PATH (or rewrite it under HYC_UPDATE_GOLDEN). */
static void check_pinned(const char *path, const char *text)
{
    if (update_golden()) {
        ck_assert_msg(write_file_atomic(path, text, strlen(text)), "cannot write %s", path);
        return;
    }
    size_t len;
    char *want = read_file(path, &len);
    ck_assert_msg(want != NULL, "missing pinned file %s (HYC_UPDATE_GOLDEN=1 writes it)", path);
    ck_assert_msg(strcmp(want, text) == 0, "%s differs; got:\n%s", path, text);
    free(want);
}

/* ---- the fixtures ------------------------------------------------------------- */

typedef struct Fixture {
    const char *dir;    /* under the repository root */
    const char *family;
    const char *layers; /* the layer at each depth, space-separated */
} Fixture;

#define SHARED_TINY "tests/fixtures/hf/tiny/"
#define SHARED_SMALL "tests/fixtures/hf/small/"
#define VARIANT "tests/import/variants/" /* made by tests/import/make_variants.py */

static const Fixture FIXTURES[] = {
    {SHARED_TINY "llama", "llama", "attn attn"},
    {SHARED_TINY "mamba", "mamba", "mamba mamba mamba mamba"},
    {SHARED_TINY "falcon_mamba", "falcon_mamba", "mamba mamba mamba"},
    {SHARED_TINY "mamba2", "mamba2", "mamba mamba mamba mamba"},
    {SHARED_TINY "jamba", "jamba", "mamba mamba_moe attn mamba_moe mamba mamba_moe attn mamba_moe"},
    {SHARED_TINY "falcon_h1", "falcon_h1", "hybrid hybrid hybrid hybrid"},
    {SHARED_TINY "bamba", "bamba", "mamba mamba attn mamba"},
    {SHARED_TINY "nemotron_h", "nemotron_h", "mamba mlp mamba attn mlp mamba"},
    {SHARED_TINY "zamba2", "zamba2", "mamba mamba hybrid mamba mamba hybrid"},
    {SHARED_TINY "granitemoehybrid", "granitemoehybrid", "mamba attn mamba mamba"},
    {SHARED_TINY "lfm2", "lfm2", "conv attn conv conv"},
    {SHARED_TINY "qwen3_next", "qwen3_next", "deltanet deltanet deltanet attn"},
    {SHARED_SMALL "mamba2", "mamba2", "mamba mamba mamba mamba mamba mamba"},
    {SHARED_SMALL "falcon_h1", "falcon_h1", "hybrid hybrid hybrid hybrid"},
    {VARIANT "nemotron_h_moe", "nemotron_h", "mamba moe attn mamba mlp moe"},
    /* untied embeddings untie the shared blocks too: one block per hybrid layer */
    {VARIANT "zamba2_two_blocks", "zamba2", "mamba hybrid0 mamba hybrid1 mamba hybrid2 mamba hybrid3"},
    {VARIANT "zamba2_abab", "zamba2", "mamba hybrid0 hybrid1 mamba hybrid0 hybrid1"},
    {VARIANT "qwen3_next_dense", "qwen3_next", "deltanet_moe attn_dense deltanet_moe attn_moe"},
    {VARIANT "granite_dense", "granitemoehybrid", "mamba attn mamba"},
    {VARIANT "jamba_attn_moe", "jamba", "mamba attn_moe mamba mamba_moe mamba attn_moe mamba mamba_moe"},
    {VARIANT "lfm2_bias", "lfm2", "attn conv conv"},
    {VARIANT "llama_bias", "llama", "attn attn"},
    {VARIANT "mamba_bias", "mamba", "mamba mamba"},
    {VARIANT "falcon_h1_plain", "falcon_h1", "hybrid hybrid"},
    {VARIANT "bamba_bias", "bamba", "attn mamba mamba attn"},
    {VARIANT "llama_rope_llama3", "llama", "attn attn"},
    {VARIANT "llama_rope_yarn", "llama", "attn attn"},
    {VARIANT "bamba_rope_linear", "bamba", "mamba attn"},
    {VARIANT "llama_gelu_tanh", "llama", "attn attn"},
    {VARIANT "falcon_h1_out_bias", "falcon_h1", "hybrid hybrid"},
    {VARIANT "mamba_gelu_tanh", "mamba", "mamba mamba"},
    {VARIANT "granite_gelu_tanh", "granitemoehybrid", "mamba attn"},
    {VARIANT "qwen3_next_gelu", "qwen3_next", "deltanet attn"},
    {VARIANT "nemotron_h_latent", "nemotron_h", "mamba moe attn moe"},
};
enum { N_FIXTURES = sizeof FIXTURES / sizeof FIXTURES[0] };

/* tests/import/golden/<size>_<family>.hyb, or <variant>.hyb. */
static const char *golden_path(const Fixture *f)
{
    static char path[256];
    const char *name = strrchr(f->dir, '/') + 1;
    if (strncmp(f->dir, VARIANT, strlen(VARIANT)) == 0)
        snprintf(path, sizeof path, "tests/import/golden/%s.hyb", name);
    else
        snprintf(path, sizeof path, "tests/import/golden/%s_%s.hyb",
                 strncmp(f->dir, SHARED_TINY, strlen(SHARED_TINY)) == 0 ? "tiny" : "small", name);
    return path;
}

/* One imported fixture: the text, its AST and spec, the checkpoint. */
typedef struct Loaded {
    Arena arena;
    Interner in;
    Capture cap;
    ImportHfModel *model;
    StrBuf text;
    AstFile *ast;
    ModelSpec *spec;
    SafeTensors *st;
    HfNaming naming;     /* as a loader sets it up: from the checked spec */
    HfNaming imported;   /* as the importer understood the config */
} Loaded;

static void load(Loaded *l, const Fixture *f)
{
    memset(l, 0, sizeof *l);
    arena_init(&l->arena);
    intern_init(&l->in, &l->arena);
    capture_open(&l->cap);
    const char *dir = f->dir;
    l->model = import_hf_read(dir, NULL, &l->arena, &l->cap.diag);
    ck_assert_msg(l->model != NULL, "%s: import failed:\n%s", dir, capture_text(&l->cap));
    import_hf_print(l->model, &l->text);
    SrcFile *src = src_from_string("imported.hyb", sb_cstr(&l->text), &l->arena);
    l->ast = parse_source(src, &l->arena, &l->in, &l->cap.diag);
    ck_assert_msg(l->ast != NULL, "%s: output does not parse:\n%s", dir, capture_text(&l->cap));
    l->spec = sema_check(l->ast, &l->arena, &l->in, &l->cap.diag);
    ck_assert_msg(l->spec != NULL, "%s: output fails sema:\n%s\n%s", dir, capture_text(&l->cap),
                  sb_cstr(&l->text));
    char path[300];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    l->st = st_open(path, &l->cap.diag);
    ck_assert_msg(l->st != NULL, "%s: %s", path, capture_text(&l->cap));
    const char *why = NULL;
    ck_assert_msg(hf_naming_for_spec(&l->naming, l->spec, &l->arena, &why), "%s: %s", dir, why);
    import_hf_naming(l->model, &l->imported);
}

static void unload(Loaded *l)
{
    st_close(l->st);
    sb_free(&l->text);
    capture_close(&l->cap);
    intern_free(&l->in);
    arena_free(&l->arena);
}

/* The import is clean and pinned, and formatting it changes nothing. */
START_TEST(test_fixture_text)
{
    const Fixture *f = &FIXTURES[_i];
    Loaded l;
    load(&l, f);
    ck_assert_msg(l.cap.diag.n_errors == 0 && l.cap.diag.n_warnings == 0, "%s: diagnostics:\n%s", f->dir,
                  capture_text(&l.cap));
    StrBuf again = {0};
    fmt_file(&again, l.ast);
    ck_assert_msg(strcmp(sb_cstr(&again), sb_cstr(&l.text)) == 0, "%s: not in fmt form:\n%s", f->dir,
                  sb_cstr(&again));
    sb_free(&again);
    check_pinned(golden_path(f), sb_cstr(&l.text));
    unload(&l);
}
END_TEST

/* Sema resolves the expected layer at every depth, with HF naming. */
START_TEST(test_fixture_layers)
{
    const Fixture *f = &FIXTURES[_i];
    Loaded l;
    load(&l, f);
    StrBuf got = {0};
    for (int i = 0; i < l.spec->n_layers; i++) sb_printf(&got, "%s%s", i ? " " : "", l.spec->layers[i]->name);
    ck_assert_str_eq(sb_cstr(&got), f->layers);
    char naming[64];
    snprintf(naming, sizeof naming, "hf:%s", f->family);
    ck_assert_str_eq(l.spec->weights.naming, naming);
    sb_free(&got);
    unload(&l);
}
END_TEST

/* ---- binding coverage ----------------------------------------------------------- */

/* How the canonical parameters use one tensor of the checkpoint. */
typedef struct Use {
    int full;      /* whole-tensor uses (copy, squeeze, regroup) */
    int parts;     /* parts of a slice (0: not sliced) */
    unsigned mask; /* parts used */
    int repeats;   /* a part used twice */
    int rereads;   /* declared re-reads */
} Use;

typedef struct Coverage {
    Loaded *l;
    Use *uses;  /* by tensor index */
    int errors;
    StrBuf log;
} Coverage;

static int tensor_index(const SafeTensors *st, const char *name)
{
    for (int i = 0; i < st_count(st); i++)
        if (strcmp(st_tensor(st, i)->name, name) == 0) return i;
    return -1;
}

static void shape_text(StrBuf *sb, int ndim, const int64_t *shape)
{
    sb_putc(sb, '[');
    for (int i = 0; i < ndim; i++) sb_printf(sb, "%s%lld", i ? ", " : "", (long long)shape[i]);
    sb_putc(sb, ']');
}

/* The canonical shape of T under R; false when R does not apply to T. */
static bool transformed_shape(const StTensor *t, const HfTensorRef *r, int *ndim, int64_t shape[4])
{
    if (t->ndim > 4) return false;
    *ndim = t->ndim;
    memcpy(shape, t->shape, sizeof shape[0] * (size_t)t->ndim);
    switch (r->xform) {
    case HF_XF_COPY: return true;
    case HF_XF_SQUEEZE:
        if (t->ndim != 3 || t->shape[1] != 1) return false;
        *ndim = 2;
        shape[1] = t->shape[2];
        return true;
    case HF_XF_SLICE:
        if (r->axis >= t->ndim || r->parts < 1 || t->shape[r->axis] % r->parts) return false;
        shape[r->axis] /= r->parts;
        return true;
    case HF_XF_REGROUP: {
        int64_t per = 0;
        for (int s = 0; s < r->n_seg; s++) per += r->seg[s];
        return t->ndim >= 1 && t->shape[0] == per * r->groups;
    }
    case HF_XF_STACK: return false;
    }
    return false;
}

static void visit_param(void *ctx, const char *name, int ndim, const int64_t *shape)
{
    Coverage *cv = ctx;
    HfTensorRef r;
    char buf[128];
    if (!hf_bind_name(&cv->l->naming, name, &r, NULL, NULL)) {
        sb_printf(&cv->log, "  %s: no HF name\n", name);
        cv->errors++;
        return;
    }
    HfTensorRef r2;
    if (!hf_bind_name(&cv->l->imported, name, &r2, NULL, NULL) || strcmp(r.name, r2.name) != 0 ||
        r.xform != r2.xform || r.groups != r2.groups) {
        sb_printf(&cv->log, "  %s: the spec's naming gives %s, the importer's %s\n", name, r.name, r2.name);
        cv->errors++;
    }
    int ti = tensor_index(cv->l->st, r.name);
    if (ti < 0) {
        sb_printf(&cv->log, "  %s -> %s: not in the checkpoint\n", name, r.name);
        cv->errors++;
        return;
    }
    const StTensor *t = st_tensor(cv->l->st, ti);
    int got_nd;
    int64_t got[4];
    bool same = transformed_shape(t, &r, &got_nd, got) && got_nd == ndim;
    for (int i = 0; same && i < ndim; i++) same = got[i] == shape[i];
    if (!same) {
        sb_printf(&cv->log, "  %s -> %s (%s): stored ", name, r.name, hf_xform_text(&r, buf, sizeof buf));
        shape_text(&cv->log, t->ndim, t->shape);
        sb_puts(&cv->log, ", canonical ");
        shape_text(&cv->log, ndim, shape);
        sb_putc(&cv->log, '\n');
        cv->errors++;
        return;
    }
    Use *u = &cv->uses[ti];
    if (r.reread) {
        u->rereads++;
    } else if (r.xform == HF_XF_SLICE) {
        u->parts = r.parts;
        if (u->mask & (1u << r.part)) u->repeats++;
        u->mask |= 1u << r.part;
    } else {
        u->full++;
    }
}

/* Every tensor used exactly once, or a byte-identical tied copy. */
static void check_coverage(Coverage *cv)
{
    const SafeTensors *st = cv->l->st;
    for (int i = 0; i < st_count(st); i++) {
        const StTensor *t = st_tensor(st, i);
        const Use *u = &cv->uses[i];
        bool sliced = u->parts > 0;
        bool once = sliced ? !u->full && !u->repeats && u->mask == (1u << u->parts) - 1 : u->full == 1;
        if (u->rereads && !(u->full == 1 && !sliced)) once = false;
        if (once) continue;
        if (!u->full && !sliced && !u->rereads && hf_unused_tensor(&cv->l->naming, t->name)) continue;
        if (!u->full && !sliced && !u->rereads) {
            char src[HF_NAME_MAX];
            if (hf_tied_source(&cv->l->naming, t->name, src)) {
                int si = tensor_index(st, src);
                const StTensor *s = si >= 0 ? st_tensor(st, si) : NULL;
                bool bound = s && (cv->uses[si].full || cv->uses[si].parts);
                if (bound && s->dtype == t->dtype && s->end - s->begin == t->end - t->begin &&
                    memcmp(s->data, t->data, (size_t)(t->end - t->begin)) == 0)
                    continue;
                sb_printf(&cv->log, "  %s: tied to %s, which is %s\n", t->name, src,
                          !s ? "absent" : !bound ? "not bound" : "different");
                cv->errors++;
                continue;
            }
            sb_printf(&cv->log, "  %s: bound by no canonical parameter\n", t->name);
        } else {
            sb_printf(&cv->log, "  %s: used %d times whole, parts %#x of %d, %d repeats, %d re-reads\n", t->name,
                      u->full, u->mask, u->parts, u->repeats, u->rereads);
        }
        cv->errors++;
    }
}

START_TEST(test_fixture_binding)
{
    const Fixture *f = &FIXTURES[_i];
    Loaded l;
    load(&l, f);
    Coverage cv = {&l, calloc((size_t)st_count(l.st), sizeof(Use)), 0, {0}};
    spec_params(l.spec, visit_param, &cv);
    check_coverage(&cv);
    /* Check messages are short: the whole list goes to stderr. */
    if (cv.errors) fprintf(stderr, "%s: binding problems:\n%s", f->dir, sb_cstr(&cv.log));
    ck_assert_msg(cv.errors == 0, "%s: %d binding problems (listed above)", f->dir, cv.errors);
    free(cv.uses);
    sb_free(&cv.log);
    unload(&l);
}
END_TEST

/* ---- bad configs ------------------------------------------------------------------ */

/* Every tests/import/bad/NAME.json against NAME.err. */
START_TEST(test_bad_configs)
{
    DIR *d = opendir("tests/import/bad");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
        char path[512], err_path[512];
        snprintf(path, sizeof path, "tests/import/bad/%s", e->d_name);
        snprintf(err_path, sizeof err_path, "tests/import/bad/%.*s.err", (int)(len - 5), e->d_name);
        Arena a;
        Interner in;
        Capture cap;
        arena_init(&a);
        intern_init(&in, &a);
        capture_open(&cap);
        StrBuf out = {0};
        bool ok = import_hf_config(path, &out, &a, &in, &cap.diag);
        /* Configs named warn_*.json import with warnings; the others fail. */
        bool want_ok = strncmp(e->d_name, "warn_", 5) == 0;
        ck_assert_msg(ok == want_ok, "%s: import %s:\n%s", path, ok ? "succeeded" : "failed", capture_text(&cap));
        ck_assert_msg(ok || cap.diag.n_errors > 0, "%s: failed without an error", path);
        check_pinned(err_path, capture_text(&cap));
        sb_free(&out);
        capture_close(&cap);
        intern_free(&in);
        arena_free(&a);
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 20);
}
END_TEST

/* Every tests/import/good/NAME.json (configs without a checkpoint: published
 * models the importer must take, such as Llama-3.2-1B) imports without a
 * diagnostic into exactly NAME.hyb, which passes sema. */
START_TEST(test_good_configs)
{
    DIR *d = opendir("tests/import/good");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
        char path[512], hyb_path[512];
        snprintf(path, sizeof path, "tests/import/good/%s", e->d_name);
        snprintf(hyb_path, sizeof hyb_path, "tests/import/good/%.*s.hyb", (int)(len - 5), e->d_name);
        Arena a;
        Interner in;
        Capture cap;
        arena_init(&a);
        intern_init(&in, &a);
        capture_open(&cap);
        ImportHfOptions opt = {"model.safetensors", NULL};
        StrBuf out = {0};
        bool ok = import_hf_config_ex(path, &opt, &out, &a, &in, &cap.diag);
        ck_assert_msg(ok && cap.diag.n_warnings == 0, "%s: diagnostics:\n%s", path, capture_text(&cap));
        check_pinned(hyb_path, sb_cstr(&out));
        SrcFile *src = src_from_string(hyb_path, sb_cstr(&out), &a);
        AstFile *ast = parse_source(src, &a, &in, &cap.diag);
        ck_assert_msg(ast && sema_check(ast, &a, &in, &cap.diag), "%s: fails sema:\n%s", path, capture_text(&cap));
        sb_free(&out);
        capture_close(&cap);
        intern_free(&in);
        arena_free(&a);
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 3);
}
END_TEST

/* A directory without config.json, and model_type errors, by hand. */
START_TEST(test_missing_config)
{
    Arena a;
    Interner in;
    Capture cap;
    arena_init(&a);
    intern_init(&in, &a);
    capture_open(&cap);
    StrBuf out = {0};
    ck_assert(!import_hf_config("tests/import", &out, &a, &in, &cap.diag));
    ck_assert_ptr_nonnull(strstr(capture_text(&cap), "tests/import/config.json: error: cannot read"));
    ck_assert_int_eq(out.len, 0);
    capture_close(&cap);
    intern_free(&in);
    arena_free(&a);
}
END_TEST

/* ---- the naming tables ------------------------------------------------------------ */

static HfNaming naming_of(const char *family, const HfDims *dims)
{
    HfNaming nm;
    ck_assert(hf_naming_init(&nm, family, dims));
    return nm;
}

static const char *bind(const HfNaming *nm, const char *canonical, HfTensorRef *r)
{
    static HfTensorRef tmp;
    if (!r) r = &tmp;
    return hf_bind_name(nm, canonical, r, NULL, NULL) ? r->name : "(none)";
}

START_TEST(test_naming_basics)
{
    int n;
    const char *const *fams = hf_families(&n);
    ck_assert_int_eq(n, 12);
    ck_assert_str_eq(fams[0], "llama");
    HfNaming nm;
    ck_assert(!hf_naming_init(&nm, "gpt2", NULL));
    ck_assert(hf_naming_init(&nm, "hf:jamba", NULL));
    HfTensorRef r;
    ck_assert_str_eq(bind(&nm, "layers.12.mamba1.conv_w", &r), "model.layers.12.mamba.conv1d.weight");
    ck_assert_int_eq(r.xform, HF_XF_SQUEEZE);
    ck_assert_str_eq(bind(&nm, "layers.3.moe.experts_up", &r), "model.layers.3.feed_forward.experts.gate_up_proj");
    ck_assert_int_eq(r.xform, HF_XF_SLICE);
    ck_assert_int_eq(r.axis, 1);
    ck_assert_int_eq(r.part, 1);
    ck_assert_int_eq(r.parts, 2);
    /* malformed canonical names bind nothing */
    ck_assert_str_eq(bind(&nm, "layers.01.mamba1.D", NULL), "(none)");
    ck_assert_str_eq(bind(&nm, "layers.x.mamba1.D", NULL), "(none)");
    ck_assert_str_eq(bind(&nm, "layers.1.mamba1.D.", NULL), "(none)");
    ck_assert_str_eq(bind(&nm, "layers.9999999999.mamba1.D", NULL), "(none)");
    ck_assert_str_eq(bind(&nm, "layers.1.deltanet.A_log", NULL), "(none)");
    ck_assert_str_eq(bind(&nm, "", NULL), "(none)");
    char buf[128];
    ck_assert_str_eq(hf_xform_text(&r, buf, sizeof buf), "part 2 of 2 along axis 1");
}
END_TEST

/* Pre-transformers-5 layouts come back as alternatives. */
START_TEST(test_naming_legacy)
{
    HfDims dims = {.n_experts = 16};
    HfNaming nm = naming_of("jamba", &dims);
    HfTensorRef r, old;
    bool has_old;
    ck_assert(hf_bind_name(&nm, "layers.1.moe.experts_gate", &r, &old, &has_old));
    ck_assert(has_old);
    ck_assert_str_eq(old.name, "model.layers.1.feed_forward.experts.{e}.gate_proj.weight");
    ck_assert_int_eq(old.xform, HF_XF_STACK);
    ck_assert_int_eq(old.count, 16);
    ck_assert(hf_bind_name(&nm, "layers.1.mamba1.D", &r, &old, &has_old));
    ck_assert(!has_old);

    nm = naming_of("nemotron_h", &dims);
    ck_assert(hf_bind_name(&nm, "layers.4.mamba2.conv_w", &r, &old, &has_old));
    ck_assert(has_old);
    ck_assert_str_eq(old.name, "backbone.layers.4.mixer.conv1d.weight");
    ck_assert_int_eq(old.xform, HF_XF_SQUEEZE);
    ck_assert(hf_bind_name(&nm, "layers.4.moe.experts_down", &r, &old, &has_old));
    ck_assert_str_eq(r.name, "model.layers.4.mixer.experts.down_proj");
    ck_assert_str_eq(old.name, "backbone.layers.4.mixer.experts.{e}.down_proj.weight");

    nm = naming_of("granitemoehybrid", &dims);
    ck_assert(hf_bind_name(&nm, "layers.0.moe.experts_up", &r, &old, &has_old));
    ck_assert_str_eq(old.name, "model.layers.0.block_sparse_moe.input_linear.weight");
    ck_assert_int_eq(old.xform, HF_XF_SLICE);
    ck_assert_int_eq(old.part, 1);

    nm = naming_of("mamba", NULL);
    ck_assert(hf_bind_name(&nm, "embed", &r, &old, &has_old));
    ck_assert_str_eq(old.name, "backbone.embedding.weight");
}
END_TEST

/* Qwen3-Next's regroups take their sizes from the dims. */
START_TEST(test_naming_regroup)
{
    HfDims dims = {.attn_heads = 16, .attn_head_dim = 256, .lin_key_heads = 16, .lin_value_heads = 32,
                   .lin_key_dim = 128, .lin_value_dim = 128};
    HfNaming nm = naming_of("qwen3_next", &dims);
    HfTensorRef r;
    ck_assert_str_eq(bind(&nm, "layers.7.attention.q", &r), "model.layers.7.self_attn.q_proj.weight");
    ck_assert_int_eq(r.xform, HF_XF_REGROUP);
    ck_assert_int_eq(r.groups, 16);
    ck_assert_int_eq(r.n_seg, 2);
    ck_assert_int_eq(r.seg[0], 256);
    bind(&nm, "layers.0.deltanet.in_proj_qkvz", &r);
    ck_assert_int_eq(r.groups, 16);
    ck_assert_int_eq(r.n_seg, 4);
    ck_assert_int_eq(r.seg[0], 128);
    ck_assert_int_eq(r.seg[1], 128);
    ck_assert_int_eq(r.seg[2], 256); /* 2 value heads of 128 per key head */
    ck_assert_int_eq(r.seg[3], 256);
    bind(&nm, "layers.0.deltanet.in_proj_ba", &r);
    ck_assert_int_eq(r.n_seg, 2);
    ck_assert_int_eq(r.seg[0], 2);
    char buf[128];
    ck_assert_str_eq(hf_xform_text(&r, buf, sizeof buf), "regroup 16 groups of [2, 2] rows, segment-major");
    /* without the sizes there is no regroup to describe */
    HfNaming bare = naming_of("qwen3_next", NULL);
    ck_assert_str_eq(bind(&bare, "layers.0.deltanet.in_proj_qkvz", NULL), "(none)");
}
END_TEST

/* Zamba2: shared blocks under their first use, adapters by hybrid index. */
START_TEST(test_naming_zamba2)
{
    static const int sites[] = {6, 12, 18, 24};
    HfDims dims = {.hybrid_layers = sites, .n_hybrid = 4, .n_shared_blocks = 2, .tie_embeddings = true};
    HfNaming nm = naming_of("zamba2", &dims);
    HfTensorRef r;
    ck_assert_str_eq(bind(&nm, "shared.block0.attention.q", &r),
                     "model.layers.6.shared_transformer.self_attn.q_proj.weight");
    ck_assert_str_eq(bind(&nm, "shared.block1.mlp.up", &r),
                     "model.layers.12.shared_transformer.feed_forward.gate_up_proj.weight");
    ck_assert_int_eq(r.xform, HF_XF_SLICE);
    ck_assert_str_eq(bind(&nm, "shared.block2.mlp.down", NULL), "(none)");
    /* layer 18 is hybrid number 2: block 0, stored under layer 6, adapter 2 */
    ck_assert_str_eq(bind(&nm, "layers.18.use.mlp.gate_lora_a", &r),
                     "model.layers.6.shared_transformer.feed_forward.gate_up_proj_adapter_list.2.0.weight");
    ck_assert(!r.reread);
    bind(&nm, "layers.18.use.mlp.up_lora_a", &r);
    ck_assert(r.reread);
    ck_assert_str_eq(bind(&nm, "layers.24.use.attention.v_lora_b", NULL),
                     "model.layers.12.shared_transformer.self_attn.linear_v_adapter_list.3.1.weight");
    ck_assert_str_eq(bind(&nm, "layers.24.use.site_proj", NULL), "model.layers.24.linear.weight");
    ck_assert_str_eq(bind(&nm, "layers.5.use.site_proj", NULL), "(none)");
    ck_assert_str_eq(bind(&nm, "layers.24.mamba2.A_log", NULL), "model.layers.24.mamba_decoder.mamba.A_log");
    ck_assert_str_eq(bind(&nm, "layers.23.mamba2.A_log", NULL), "model.layers.23.mamba.A_log");
    ck_assert_str_eq(bind(&nm, "layers.23.mamba2.norm", NULL), "model.layers.23.input_layernorm.weight");

    char src[HF_NAME_MAX];
    ck_assert(hf_tied_source(&nm, "model.layers.18.shared_transformer.self_attn.o_proj.weight", src));
    ck_assert_str_eq(src, "model.layers.6.shared_transformer.self_attn.o_proj.weight");
    ck_assert(hf_tied_source(&nm, "model.layers.24.shared_transformer.input_layernorm.weight", src));
    ck_assert_str_eq(src, "model.layers.12.shared_transformer.input_layernorm.weight");
    ck_assert(!hf_tied_source(&nm, "model.layers.6.shared_transformer.input_layernorm.weight", src));
    ck_assert(!hf_tied_source(&nm, "model.layers.7.shared_transformer.input_layernorm.weight", src));
    ck_assert(hf_tied_source(&nm, "lm_head.weight", src));
    ck_assert_str_eq(src, "model.embed_tokens.weight");
    ck_assert(!hf_tied_source(&nm, "model.layers.6.linear.weight", src));
}
END_TEST

/* A loader's naming from a checked spec: block names, and Zamba2's cycle. */
static ModelSpec *spec_of(Arena *a, Interner *in, Capture *cap, const char *text)
{
    SrcFile *src = src_from_string("t.hyb", text, a);
    AstFile *f = parse_source(src, a, in, &cap->diag);
    ModelSpec *m = f ? sema_check(f, a, in, &cap->diag) : NULL;
    ck_assert_msg(m != NULL, "%s", capture_text(cap));
    return m;
}

#define ZAMBA_LIKE(USES)                                                                            \
    "model z { d_model = 32  vocab = 64 "                                                           \
    "  shared_block attn_a { attention { heads = 4  residual = false } mlp { act = geglu  hidden = 16 " \
    "                        residual = false  adapter_rank = 2 } } "                               \
    "  shared_block attn_b { attention { heads = 4  residual = false } mlp { act = geglu  hidden = 16 " \
    "                        residual = false  adapter_rank = 2 } } "                               \
    "  layer m { mamba2 { heads = 4  head_dim = 16  d_state = 8 } } "                                \
    "  layer ha { use attn_a {} mamba2 { heads = 4  head_dim = 16  d_state = 8 } } "                 \
    "  layer hb { use attn_b {} mamba2 { heads = 4  head_dim = 16  d_state = 8 } } "                 \
    "  stack { pattern = \"" USES "\"  symbols { M = m  A = ha  B = hb } } "                        \
    "  weights { file = \"x.safetensors\"  naming = \"hf:zamba2\" } }"

START_TEST(test_naming_for_spec)
{
    Arena a;
    Interner in;
    Capture cap;
    arena_init(&a);
    intern_init(&in, &a);
    capture_open(&cap);
    HfNaming nm;
    const char *why = NULL;
    ModelSpec *m = spec_of(&a, &in, &cap, ZAMBA_LIKE("MAMBAB"));
    ck_assert_msg(hf_naming_for_spec(&nm, m, &a, &why), "%s", why);
    ck_assert_int_eq(nm.dims.n_hybrid, 4);
    ck_assert_int_eq(nm.dims.n_shared_blocks, 2);
    ck_assert_str_eq(bind(&nm, "shared.attn_b.mlp.down", NULL),
                     "model.layers.3.shared_transformer.feed_forward.down_proj.weight");
    ck_assert_str_eq(bind(&nm, "layers.4.use.mlp.up_lora_b", NULL),
                     "model.layers.1.shared_transformer.feed_forward.gate_up_proj_adapter_list.2.1.weight");
    ck_assert_str_eq(bind(&nm, "shared.block0.mlp.down", NULL), "(none)");
    ck_assert_str_eq(bind(&nm, "shared.attn_c.mlp.down", NULL), "(none)");
    /* the second use runs attn_a again: not Zamba2's cycle */
    m = spec_of(&a, &in, &cap, ZAMBA_LIKE("MAAB"));
    ck_assert(!hf_naming_for_spec(&nm, m, &a, &why));
    ck_assert_ptr_nonnull(strstr(why, "cycle"));
    /* hyc's own naming is not a Hugging Face one */
    m = spec_of(&a, &in, &cap, "model l { d_model = 8  vocab = 4  layer x { mlp { hidden = 8 } } "
                               "stack { layers = 1  fill = x } }");
    ck_assert(!hf_naming_for_spec(&nm, m, &a, &why));
    capture_close(&cap);
    intern_free(&in);
    arena_free(&a);
}
END_TEST

/* ---- the importer's options -------------------------------------------------------- */

static char *import_text(const char *path, const ImportHfOptions *opt)
{
    Arena a;
    Interner in;
    Capture cap;
    arena_init(&a);
    intern_init(&in, &a);
    capture_open(&cap);
    StrBuf out = {0};
    ck_assert_msg(import_hf_config_ex(path, opt, &out, &a, &in, &cap.diag), "%s", capture_text(&cap));
    char *s = xstrdup(sb_cstr(&out));
    sb_free(&out);
    capture_close(&cap);
    intern_free(&in);
    arena_free(&a);
    return s;
}

START_TEST(test_weights_path)
{
    /* relative to the output directory */
    ImportHfOptions opt = {NULL, "tests/import"};
    char *s = import_text("tests/fixtures/hf/tiny/llama/config.json", &opt);
    ck_assert_ptr_nonnull(strstr(s, "file = \"../fixtures/hf/tiny/llama/model.safetensors\""));
    free(s);
    opt.output_dir = "tests/fixtures/hf/tiny/llama";
    s = import_text("tests/fixtures/hf/tiny/llama", &opt);
    ck_assert_ptr_nonnull(strstr(s, "file = \"model.safetensors\""));
    free(s);
    /* as given */
    opt.weights_file = "w/x.safetensors";
    s = import_text("tests/fixtures/hf/tiny/llama", &opt);
    ck_assert_ptr_nonnull(strstr(s, "file = \"w/x.safetensors\""));
    free(s);
}
END_TEST

/* ---- the command line, when the binary is there ----------------------------------- */

static const char *hyc_binary(void)
{
    static const char *const CANDIDATES[] = {"build/hyc", "build-san/hyc"};
    const char *env = getenv("HYC");
    if (env && *env) return env;
    for (size_t i = 0; i < sizeof CANDIDATES / sizeof CANDIDATES[0]; i++) {
        FILE *f = fopen(CANDIDATES[i], "rb");
        if (f) {
            fclose(f);
            return CANDIDATES[i];
        }
    }
    return NULL;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(test_cli)
{
    const char *hyc = hyc_binary();
    if (!hyc) return; /* unit tests may run before the binary is built */
    char tmp[] = "/tmp/hyc_import_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    ck_assert_int_eq(run("%s import --help >/dev/null", hyc), 0);
    ck_assert_int_eq(run("%s import 2>/dev/null", hyc), 2);
    ck_assert_int_eq(run("%s import -x tests/fixtures/hf/tiny/llama 2>/dev/null", hyc), 2);
    ck_assert_int_eq(run("%s import tests/fixtures/hf/tiny/llama -o 2>/dev/null", hyc), 2);
    ck_assert_int_eq(run("%s import tests/import/bad/unknown_model_type.json 2>/dev/null", hyc), 1);
    ck_assert_int_eq(run("%s import tests/fixtures/hf/tiny/jamba -o %s/m.hyb", hyc, tmp), 0);
    ck_assert_int_eq(run("%s check %s/m.hyb >/dev/null", hyc, tmp), 0);
    ck_assert_int_eq(run("%s fmt --check %s/m.hyb", hyc, tmp), 0);
    ck_assert_int_eq(run("%s import tests/fixtures/hf/tiny/jamba -o %s/missing/m.hyb 2>/dev/null", hyc, tmp), 1);
    ck_assert_int_eq(run("%s import tests/fixtures/hf/tiny/zamba2 > %s/z.hyb && %s check %s/z.hyb >/dev/null", hyc,
                         tmp, hyc, tmp),
                     0);
    run("rm -rf %s", tmp);
}
END_TEST

/* ---- runner ------------------------------------------------------------------------ */

static Suite *import_suite(void)
{
    Suite *s = suite_create("import");
    TCase *tc = tcase_create("fixtures");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_fixture_text, 0, N_FIXTURES);
    tcase_add_loop_test(tc, test_fixture_layers, 0, N_FIXTURES);
    tcase_add_loop_test(tc, test_fixture_binding, 0, N_FIXTURES);
    suite_add_tcase(s, tc);

    tc = tcase_create("diagnostics");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bad_configs);
    tcase_add_test(tc, test_good_configs);
    tcase_add_test(tc, test_missing_config);
    suite_add_tcase(s, tc);

    tc = tcase_create("naming");
    tcase_add_test(tc, test_naming_basics);
    tcase_add_test(tc, test_naming_legacy);
    tcase_add_test(tc, test_naming_regroup);
    tcase_add_test(tc, test_naming_zamba2);
    tcase_add_test(tc, test_naming_for_spec);
    tcase_add_test(tc, test_weights_path);
    suite_add_tcase(s, tc);

    tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_cli);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(import_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
