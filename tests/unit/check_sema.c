/* check_sema.c — unit tests of semantic analysis (frontend/sema.c,
 * schema.c, schema.def): resolved values and defaults, stack layouts,
 * canonical parameters and counts, state sizes, and the exact text of
 * diagnostics for bad input.
 *
 * Each test checks a small source given as a string, in a fresh arena;
 * diagnostics go to a memory stream.
 */
#include "frontend/frontend.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixture ------------------------------------------------------------------ */

typedef struct Checked {
    Arena arena;
    Interner in;
    Diag diag;
    FILE *diag_out;
    char *diag_text;
    size_t diag_len;
    ModelSpec *spec; /* NULL after errors */
} Checked;

static Checked C;

static void checked_free(void)
{
    if (C.diag_out) fclose(C.diag_out);
    free(C.diag_text);
    intern_free(&C.in);
    arena_free(&C.arena);
    memset(&C, 0, sizeof C);
}

static void teardown(void) { checked_free(); }

/* Parse and check `text` as file `name`. */
static ModelSpec *check_named(const char *name, const char *text)
{
    checked_free();
    arena_init(&C.arena);
    intern_init(&C.in, &C.arena);
    C.diag_out = open_memstream(&C.diag_text, &C.diag_len);
    ck_assert_ptr_nonnull(C.diag_out);
    diag_init(&C.diag, C.diag_out);
    C.diag.color = false;
    C.diag.max_errors = 0;
    SrcFile *src = src_from_string(name, text, &C.arena);
    AstFile *f = parse_source(src, &C.arena, &C.in, &C.diag);
    C.spec = f ? sema_check(f, &C.arena, &C.in, &C.diag) : NULL;
    fflush(C.diag_out);
    return C.spec;
}

static ModelSpec *check_src(const char *text) { return check_named("t.hyb", text); }

static const char *messages(void)
{
    fflush(C.diag_out);
    return C.diag_text ? C.diag_text : "";
}

/* The first line the diagnostics engine printed. */
static const char *first_line(void)
{
    static char line[1024];
    const char *m = messages();
    size_t n = strcspn(m, "\n");
    if (n >= sizeof line) n = sizeof line - 1;
    memcpy(line, m, n);
    line[n] = 0;
    return line;
}

static ModelSpec *check_ok(const char *text)
{
    ModelSpec *m = check_src(text);
    if (!m) ck_abort_msg("unexpected errors for:\n%s\n---\n%s", text, messages());
    ck_assert_int_eq(C.diag.n_errors, 0);
    return m;
}

/* Models are written as a few model settings, layers and a stack. */
#define HEAD "model m { d_model = 64  vocab = 100 "

/* ---- resolved values -------------------------------------------------------------- */

START_TEST(test_model_defaults)
{
    ModelSpec *m = check_ok(HEAD "layer a { mlp { hidden = 8 } } stack { layers = 2  fill = a } }");
    ck_assert_str_eq(m->name, "m");
    ck_assert_int_eq(m->d_model, 64);
    ck_assert_int_eq(m->vocab, 100);
    ck_assert(m->tie_embeddings);
    ck_assert_int_eq(m->norm, NORM_RMSNORM);
    ck_assert(fabs(m->norm_eps - 1e-5) < 1e-20);
    ck_assert(m->final_norm);
    ck_assert_int_eq(m->max_seq, 4096);
    ck_assert(m->embedding_scale == 1 && m->logits_scale == 1 && m->residual_scale == 1 && m->norm_offset == 0);
    ck_assert(!m->weights.present);
    ck_assert_str_eq(m->weights.naming, "hyc");
    ck_assert(spec_given(&m->blk, "d_model"));
    ck_assert(!spec_given(&m->blk, "max_seq"));
    SrcLoc l = spec_key_loc(&m->blk, "vocab");
    ck_assert_int_eq(l.line, 1);
    ck_assert_int_eq(l.col, 33);
    /* A defaulted key points at the block's kind word. */
    l = spec_key_loc(&m->blk, "max_seq");
    ck_assert_int_eq(l.col, 1);
    ck_assert_int_eq(m->n_layers, 2);
    ck_assert_ptr_eq(m->layers[0], &m->layer_defs[0]);
    ck_assert_int_eq(m->layer_defs[0].n_uses, 2);
    const SublayerSpec *s = &m->layer_defs[0].sublayers[0];
    ck_assert(s->norm && s->residual && s->in_scale == 1 && s->out_scale == 1);
    ck_assert_int_eq(s->in_width, 64);
}
END_TEST

START_TEST(test_attention_derived)
{
    ModelSpec *m = check_ok(HEAD "layer a { attention { heads = 8 } attention { heads = 4  kv_heads = 2  head_dim = 32 "
                                 "rope_fraction = 0.25  scale = 0.5  output_gate = true } }"
                                 "stack { layers = 1  fill = a } }");
    const AttentionSpec *a = &m->layer_defs[0].sublayers[0].as.attention;
    ck_assert_int_eq(a->kv_heads, 8);
    ck_assert_int_eq(a->head_dim, 8);
    ck_assert_int_eq(a->input_width, 64);
    ck_assert_int_eq(a->q_width, 64);
    ck_assert_int_eq(a->kv_width, 64);
    ck_assert_int_eq(a->rope_dims, 8);
    ck_assert(a->scale_is_default);
    ck_assert(fabs(a->scale - 1 / sqrt(8.0)) < 1e-15);
    ck_assert(a->rope && a->rope_base == 10000 && a->window == 0 && a->qk_norm == QK_NORM_NONE);
    const AttentionSpec *b = &m->layer_defs[0].sublayers[1].as.attention;
    ck_assert_int_eq(b->q_width, 128);
    ck_assert_int_eq(b->kv_width, 64);
    ck_assert_int_eq(b->rope_dims, 8);
    ck_assert(!b->scale_is_default);
    ck_assert(b->scale == 0.5);
    ck_assert_str_eq(m->layer_defs[0].sublayers[0].param_name, "attention");
    ck_assert_str_eq(m->layer_defs[0].sublayers[1].param_name, "attention1");
}
END_TEST

/* rope_pairing and the rope_scaling calls: arguments by position and by
 * name, defaults, yarn's derived attention factor. */
START_TEST(test_rope_scaling)
{
    ModelSpec *m = check_ok(HEAD "layer a { attention { heads = 4  rope_pairing = interleaved "
                                 "rope_scaling = llama3(32, 1, high_freq_factor = 4, original_max = 8192) } "
                                 "attention { heads = 4  rope_scaling = yarn(factor = 4, original_max = 2048) } "
                                 "attention { heads = 4  rope_scaling = yarn(0.5, 64, 16, 2, attention_factor = 1.5) } "
                                 "attention { heads = 4  rope_scaling = ntk(alpha = 7) } "
                                 "attention { heads = 4  rope_scaling = \"none\" } attention { heads = 4 } }"
                                 "stack { layers = 1  fill = a } }");
    const SublayerSpec *sl = m->layer_defs[0].sublayers;
    const SpecCall *c = &sl[0].as.attention.rope_scaling;
    ck_assert_int_eq(sl[0].as.attention.rope_pairing, ROPE_PAIRING_INTERLEAVED);
    ck_assert_int_eq(c->kind, ROPE_SCALING_LLAMA3);
    ck_assert_int_eq(c->n_args, 4);
    ck_assert(c->args[LLAMA3_FACTOR] == 32 && c->args[LLAMA3_LOW_FREQ] == 1 && c->args[LLAMA3_HIGH_FREQ] == 4 &&
              c->args[LLAMA3_ORIGINAL_MAX] == 8192);
    c = &sl[1].as.attention.rope_scaling;
    ck_assert_int_eq(sl[1].as.attention.rope_pairing, ROPE_PAIRING_HALF);
    ck_assert_int_eq(c->kind, ROPE_SCALING_YARN);
    ck_assert_int_eq(c->n_args, 5);
    ck_assert(c->args[YARN_BETA_FAST] == 32 && c->args[YARN_BETA_SLOW] == 1 && !c->given[YARN_BETA_FAST]);
    ck_assert(fabs(c->args[YARN_ATTENTION_FACTOR] - (0.1 * log(4.0) + 1)) < 1e-15);
    ck_assert(!c->given[YARN_ATTENTION_FACTOR]);
    c = &sl[2].as.attention.rope_scaling;
    ck_assert(c->args[YARN_FACTOR] == 0.5 && c->args[YARN_BETA_FAST] == 16 && c->args[YARN_BETA_SLOW] == 2);
    ck_assert(c->args[YARN_ATTENTION_FACTOR] == 1.5 && c->given[YARN_ATTENTION_FACTOR]);
    c = &sl[3].as.attention.rope_scaling;
    ck_assert(c->kind == ROPE_SCALING_NTK && c->n_args == 1 && c->args[NTK_ALPHA] == 7);
    ck_assert(sl[4].as.attention.rope_scaling.kind == ROPE_SCALING_NONE && sl[4].as.attention.rope_scaling.n_args == 0);
    ck_assert(spec_given(&sl[4].as.attention.blk, "rope_scaling"));
    ck_assert(sl[5].as.attention.rope_scaling.kind == ROPE_SCALING_NONE);
    ck_assert(!spec_given(&sl[5].as.attention.blk, "rope_scaling"));
    /* yarn with factor <= 1 extends nothing: attention factor 1 */
    m = check_ok(HEAD "layer a { attention { heads = 4  rope_scaling = yarn(1, 64) } } stack { layers = 1  fill = a } }");
    ck_assert(m->layer_defs[0].sublayers[0].as.attention.rope_scaling.args[YARN_ATTENTION_FACTOR] == 1.0);
}
END_TEST

START_TEST(test_mamba_derived)
{
    ModelSpec *m = check_ok("model m { d_model = 100  vocab = 10  norm_eps = 1e-6 "
                            "layer a { mamba1 { } mamba1 { d_inner = 96  dt_rank = 3 } "
                            "          mamba2 { heads = 4 } mamba2 { heads = 4  d_inner = 96  groups = 2  d_state = 16 "
                            "                    dt_max = inf  norm_eps = 1e-3 } } "
                            "stack { layers = 1  fill = a } }");
    const SublayerSpec *s = m->layer_defs[0].sublayers;
    const Mamba1Spec *p = &s[0].as.mamba1;
    ck_assert_int_eq(p->d_inner, 200);
    ck_assert_int_eq(p->dt_rank, 7); /* ceil(100/16) */
    ck_assert_int_eq(p->d_state, 16);
    ck_assert_int_eq(p->d_conv, 4);
    ck_assert(p->conv_bias && !p->bias && p->inner_norms == INNER_NORMS_NONE);
    ck_assert(p->inner_norm_eps == 1e-6);
    ck_assert_int_eq(s[1].as.mamba1.d_inner, 96);
    ck_assert_int_eq(s[1].as.mamba1.dt_rank, 3);
    ck_assert_str_eq(s[1].param_name, "mamba11");

    const Mamba2Spec *q = &s[2].as.mamba2;
    ck_assert_int_eq(q->head_dim, 64);
    ck_assert_int_eq(q->d_inner, 256);
    ck_assert_int_eq(q->groups, 1);
    ck_assert_int_eq(q->norm_groups, 1);
    ck_assert_int_eq(q->d_state, 128);
    ck_assert_int_eq(q->chunk, 256);
    ck_assert_int_eq(q->conv_dim, 256 + 2 * 128);
    ck_assert_int_eq(q->in_proj_dim, 2 * 256 + 2 * 128 + 4);
    ck_assert(q->norm_eps == 1e-6);
    ck_assert(q->dt_min == 0 && isinf(q->dt_max));
    ck_assert_int_eq(q->in_proj_scales.n, 5);
    for (int i = 0; i < 5; i++) ck_assert(q->in_proj_scales.v[i] == 1);
    ck_assert(q->gated_norm && !q->norm_before_gate);
    /* d_inner without head_dim: head_dim follows. */
    const Mamba2Spec *r = &s[3].as.mamba2;
    ck_assert_int_eq(r->head_dim, 24);
    ck_assert_int_eq(r->norm_groups, 2);
    ck_assert_int_eq(r->conv_dim, 96 + 2 * 2 * 16);
    ck_assert(isinf(r->dt_max));
    ck_assert(r->norm_eps == 1e-3);
    ck_assert_str_eq(s[3].param_name, "mamba21");
}
END_TEST

START_TEST(test_other_kinds_derived)
{
    ModelSpec *m = check_ok(HEAD "layer a { deltanet { key_heads = 2  value_heads = 4  key_dim = 16  value_dim = 8 } "
                                 "short_conv { } mlp { act = relu2  hidden = 32 } "
                                 "moe { experts = 8  top_k = 2  hidden = 16  routing = sigmoid_topk  shared_hidden = 8 "
                                 "      shared_gate = true  act = gelu } } "
                                 "stack { layers = 1  fill = a } }");
    const SublayerSpec *s = m->layer_defs[0].sublayers;
    const DeltaNetSpec *d = &s[0].as.deltanet;
    ck_assert_int_eq(d->key_width, 32);
    ck_assert_int_eq(d->value_width, 32);
    ck_assert_int_eq(d->conv_dim, 96);
    ck_assert_int_eq(d->d_conv, 4);
    ck_assert_int_eq(s[1].as.short_conv.d_conv, 3);
    ck_assert(!s[2].as.mlp.gated);
    ck_assert_int_eq(s[2].as.mlp.act, MLP_ACT_RELU2);
    const MoeSpec *e = &s[3].as.moe;
    ck_assert(!e->gated);
    ck_assert_int_eq(e->routing, MOE_ROUTING_SIGMOID_TOPK);
    ck_assert(e->shared_gate && e->shared_hidden == 8 && !e->renormalize && e->routed_scale == 1);
}
END_TEST

START_TEST(test_parallel_and_shared)
{
    ModelSpec *m = check_ok(HEAD "shared_block blk { attention { heads = 4  residual = false  adapter_rank = 4 } "
                                 "                   mlp { hidden = 16  residual = false } } "
                                 "layer a { parallel { combine = concat  out_proj = shared  branch_norm = group "
                                 "                     attention { heads = 2  in_scale = 0.5 } mamba2 { heads = 2  head_dim = 8 } } } "
                                 "layer h { use blk { } mamba2 { heads = 2 } } "
                                 "stack { layers = 4  fill = a  place h { at = [1, 3] } } }");
    const ParallelSpec *p = &m->layer_defs[0].sublayers[0].as.parallel;
    ck_assert_int_eq(p->n_branches, 2);
    ck_assert_int_eq(p->branches[0].branch_width, 64);
    ck_assert_int_eq(p->branches[1].branch_width, 16);
    ck_assert_int_eq(p->out_proj_in, 80);
    ck_assert(!p->branches[0].norm && !p->branches[0].residual);
    ck_assert(p->branches[0].in_scale == 0.5);
    const SharedBlockDef *b = &m->shared_blocks[0];
    ck_assert_int_eq(b->input, SHARED_INPUT_CONCAT_EMBEDDING);
    ck_assert_int_eq(b->in_width, 128);
    ck_assert_int_eq(b->sublayers[0].in_width, 128);
    ck_assert_int_eq(b->sublayers[0].as.attention.head_dim, 32);
    ck_assert_int_eq(b->sublayers[1].in_width, 64);
    ck_assert_int_eq(b->n_uses, 2);
    const SublayerSpec *u = &m->layer_defs[1].sublayers[0];
    ck_assert_int_eq(u->kind, SUBLAYER_USE);
    ck_assert_ptr_eq(u->as.use.block, b);
    ck_assert(!u->norm && !u->residual);
}
END_TEST

START_TEST(test_weights)
{
    ModelSpec *m = check_named("dir/sub/t.hyb", HEAD "layer a { mlp { hidden = 8 } } stack { layers = 2  fill = a } "
                                                "weights { file = \"w.safetensors\"  naming = \"hf:llama\" "
                                                "  rename { \"layers.{i}.mlp.up\" = \"x.{i}.up\"  embed = \"emb\" } } }");
    ck_assert_ptr_nonnull(m);
    ck_assert(m->weights.present);
    ck_assert_str_eq(m->weights.file, "w.safetensors");
    ck_assert_str_eq(m->weights.path, "dir/sub/w.safetensors");
    ck_assert_str_eq(m->weights.naming, "hf:llama");
    ck_assert_int_eq(m->weights.n_renames, 2);
    ck_assert_str_eq(m->weights.renames[0].from, "layers.{i}.mlp.up");
    ck_assert_str_eq(m->weights.renames[0].to, "x.{i}.up");
    m = check_named("t.hyb", HEAD "layer a { mlp { hidden = 8 } } stack { layers = 2  fill = a } "
                             "weights { file = \"/abs/w.st\" } }");
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->weights.path, "/abs/w.st");
    ck_assert_str_eq(m->weights.naming, "hyc");
    m = check_named("t.hyb", HEAD "layer a { mlp { hidden = 8 } } stack { layers = 2  fill = a } "
                             "weights { file = \"w.st\" } }");
    ck_assert_str_eq(m->weights.path, "w.st");
}
END_TEST

/* ---- stack layouts ---------------------------------------------------------------- */

/* The stack as one letter per depth: the first letter of each layer name. */
static const char *layout(const ModelSpec *m)
{
    static char buf[1024];
    int n = m->n_layers < 1023 ? m->n_layers : 1023;
    for (int i = 0; i < n; i++) buf[i] = m->layers[i]->name[0];
    buf[n] = 0;
    return buf;
}

static const char *layout_of(const char *stack)
{
    static char text[2048];
    snprintf(text, sizeof text,
             HEAD "layer mamba { mamba2 { heads = 2 } } layer attn { attention { heads = 4 } } "
                  "layer x { mlp { hidden = 8 } } stack { %s } }",
             stack);
    check_ok(text);
    return layout(C.spec);
}

START_TEST(test_layout_every)
{
    ck_assert_str_eq(layout_of("layers = 8  fill = mamba  place attn { every = 4  offset = 2 }"), "mmammmam");
    ck_assert_str_eq(layout_of("layers = 5  fill = mamba  place attn { every = 2 }"), "amama");
    /* A later placement wins where they overlap. */
    ck_assert_str_eq(layout_of("layers = 8  fill = mamba  place x { every = 2  offset = 1 } "
                               "place attn { every = 4  offset = 3 }"),
                     "mxmamxma");
}
END_TEST

START_TEST(test_layout_at)
{
    ck_assert_str_eq(layout_of("layers = 6  fill = mamba  place attn { at = [0, 5, 2] }"), "amamma");
    ck_assert_str_eq(layout_of("layers = 3  place attn { at = [0, 1] }  place x { at = [2] }"), "aax");
}
END_TEST

START_TEST(test_layout_ratio)
{
    /* middle / scatter: 1 + floor((2j+1)(L-1) / 2k) -- Jamba's 4, 12, 20, 28. */
    const char *jamba = "mmmmammmmmmmammmmmmmammmmmmmammm";
    ck_assert_str_eq(layout_of("layers = 32  fill = mamba  place attn { ratio = \"1:7\" }"), jamba);
    ck_assert_str_eq(layout_of("layers = 32  fill = mamba  place attn { ratio = \"1:7\"  placement = scatter }"), jamba);
    ck_assert_str_eq(layout_of("layers = 12  fill = mamba  place attn { ratio = \"1:3\"  placement = scatter }"),
                     "mmammmammmam");
    /* cluster: k in a row from 1 + floor((L-1-k)/2). */
    ck_assert_str_eq(layout_of("layers = 32  fill = mamba  place attn { ratio = \"1:7\"  placement = cluster }"),
                     "mmmmmmmmmmmmmmaaaammmmmmmmmmmmmm");
    ck_assert_str_eq(layout_of("layers = 12  fill = mamba  place attn { ratio = \"1:3\"  placement = cluster }"),
                     "mmmmmaaammmm");
    /* sandwich: ceil(k/2) from depth 1, floor(k/2) at the end. */
    ck_assert_str_eq(layout_of("layers = 32  fill = mamba  place attn { ratio = \"1:7\"  placement = sandwich }"),
                     "maammmmmmmmmmmmmmmmmmmmmmmmmmmaa");
    ck_assert_str_eq(layout_of("layers = 12  fill = mamba  place attn { ratio = \"1:3\"  placement = sandwich }"),
                     "maammmmmmmma");
    ck_assert_str_eq(layout_of("layers = 2  fill = mamba  place attn { ratio = \"1:1\" }"), "ma");
}
END_TEST

/* Every ratio that fits gives k distinct depths in [1, L), for every
 * placement (sema asserts this too). */
START_TEST(test_layout_ratio_all)
{
    static const char *const pl[] = {"middle", "scatter", "cluster", "sandwich"};
    for (int L = 2; L <= 24; L++)
        for (int k = 1; k < L; k++)
            for (int p = 0; p < 4; p++) {
                char stack[256];
                snprintf(stack, sizeof stack, "layers = %d  fill = mamba  place attn { ratio = \"%d:%d\"  placement = %s }",
                         L, k, L - k, pl[p]);
                const char *lay = layout_of(stack);
                ck_assert_int_eq(lay[0], 'm');
                int n = 0;
                for (int i = 0; i < L; i++) n += lay[i] == 'a';
                ck_assert_int_eq(n, k);
            }
}
END_TEST

START_TEST(test_layout_pattern)
{
    ck_assert_str_eq(layout_of("pattern = \"M*M-\"  symbols { M = mamba  \"*\" = attn  \"-\" = x }"), "mamx");
    ck_assert_str_eq(layout_of("pattern = \"Ma\"  repeat = 3  layers = 6  symbols { M = mamba  a = attn }"), "mamama");
    /* Placements apply on top of a pattern. */
    ck_assert_str_eq(layout_of("pattern = \"MMMM\"  symbols { M = mamba }  place x { at = [3] }"), "mmmx");
    /* Where each depth came from. */
    SrcLoc l = C.spec->layer_locs[3];
    ck_assert_int_eq(l.line, 1);
}
END_TEST

/* ---- parameters ----------------------------------------------------------------------- */

typedef struct Param {
    char name[128];
    int ndim;
    int64_t shape[3];
} Param;

static Param params[4096];
static int n_params;

static void collect(void *ctx, const char *name, int ndim, const int64_t *shape)
{
    (void)ctx;
    ck_assert_int_lt(n_params, 4096);
    Param *p = &params[n_params++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    for (int i = 0; i < ndim; i++) p->shape[i] = shape[i];
}

static void collect_params(const ModelSpec *m)
{
    n_params = 0;
    spec_params(m, collect, NULL);
}

/* The shape of `name` as "[a, b]", or "absent". */
static const char *shape_of(const char *name)
{
    static char buf[96];
    for (int i = 0; i < n_params; i++) {
        if (strcmp(params[i].name, name) != 0) continue;
        int o = snprintf(buf, sizeof buf, "[");
        for (int d = 0; d < params[i].ndim; d++)
            o += snprintf(buf + o, sizeof buf - (size_t)o, "%s%lld", d ? ", " : "", (long long)params[i].shape[d]);
        snprintf(buf + o, sizeof buf - (size_t)o, "]");
        return buf;
    }
    return "absent";
}

START_TEST(test_params_basic)
{
    ModelSpec *m = check_ok(HEAD "tie_embeddings = false  norm = layernorm "
                                 "layer a { attention { heads = 4  kv_heads = 2  bias = true  qk_norm = rms } "
                                 "          mlp { hidden = 32 } mlp { act = relu2  hidden = 16  bias = true } } "
                                 "stack { layers = 2  fill = a } }");
    collect_params(m);
    ck_assert_str_eq(params[0].name, "embed");
    ck_assert_str_eq(shape_of("embed"), "[100, 64]");
    ck_assert_str_eq(shape_of("layers.0.attention.norm"), "[64]");
    ck_assert_str_eq(shape_of("layers.0.attention.norm_bias"), "[64]");
    ck_assert_str_eq(shape_of("layers.1.attention.q"), "[64, 64]");
    ck_assert_str_eq(shape_of("layers.1.attention.k"), "[32, 64]");
    ck_assert_str_eq(shape_of("layers.1.attention.v"), "[32, 64]");
    ck_assert_str_eq(shape_of("layers.1.attention.o"), "[64, 64]");
    ck_assert_str_eq(shape_of("layers.1.attention.q_bias"), "[64]");
    ck_assert_str_eq(shape_of("layers.1.attention.k_bias"), "[32]");
    ck_assert_str_eq(shape_of("layers.1.attention.o_bias"), "[64]");
    ck_assert_str_eq(shape_of("layers.1.attention.q_norm"), "[16]");
    ck_assert_str_eq(shape_of("layers.1.attention.k_norm"), "[16]");
    ck_assert_str_eq(shape_of("layers.0.mlp.gate"), "[32, 64]");
    ck_assert_str_eq(shape_of("layers.0.mlp.up"), "[32, 64]");
    ck_assert_str_eq(shape_of("layers.0.mlp.down"), "[64, 32]");
    ck_assert_str_eq(shape_of("layers.0.mlp1.gate"), "absent");
    ck_assert_str_eq(shape_of("layers.0.mlp1.up"), "[16, 64]");
    ck_assert_str_eq(shape_of("layers.0.mlp1.up_bias"), "[16]");
    ck_assert_str_eq(shape_of("layers.0.mlp1.down_bias"), "[64]");
    ck_assert_str_eq(shape_of("final_norm"), "[64]");
    ck_assert_str_eq(shape_of("final_norm_bias"), "[64]");
    ck_assert_str_eq(params[n_params - 1].name, "lm_head");
    ck_assert_str_eq(shape_of("lm_head"), "[100, 64]");
}
END_TEST

START_TEST(test_params_ssm)
{
    ModelSpec *m = check_ok(HEAD "layer a { mamba1 { d_state = 8  dt_rank = 4  inner_norms = rms  bias = true } "
                                 "          mamba2 { heads = 4  head_dim = 8  groups = 2  d_state = 16 } "
                                 "          short_conv { bias = true } "
                                 "          deltanet { key_heads = 2  value_heads = 4  key_dim = 16  value_dim = 16 } "
                                 "          moe { experts = 4  top_k = 2  hidden = 32  shared_hidden = 24  shared_gate = true } } "
                                 "stack { layers = 1  fill = a } }");
    collect_params(m);
    ck_assert_str_eq(shape_of("layers.0.mamba1.in_proj"), "[256, 64]");
    ck_assert_str_eq(shape_of("layers.0.mamba1.in_proj_bias"), "[256]");
    ck_assert_str_eq(shape_of("layers.0.mamba1.conv_w"), "[128, 4]");
    ck_assert_str_eq(shape_of("layers.0.mamba1.conv_b"), "[128]");
    ck_assert_str_eq(shape_of("layers.0.mamba1.x_proj"), "[20, 128]");
    ck_assert_str_eq(shape_of("layers.0.mamba1.dt_proj"), "[128, 4]");
    ck_assert_str_eq(shape_of("layers.0.mamba1.dt_bias"), "[128]");
    ck_assert_str_eq(shape_of("layers.0.mamba1.A_log"), "[128, 8]");
    ck_assert_str_eq(shape_of("layers.0.mamba1.D"), "[128]");
    ck_assert_str_eq(shape_of("layers.0.mamba1.out_proj"), "[64, 128]");
    ck_assert_str_eq(shape_of("layers.0.mamba1.out_proj_bias"), "[64]");
    ck_assert_str_eq(shape_of("layers.0.mamba1.dt_norm"), "[4]");
    ck_assert_str_eq(shape_of("layers.0.mamba1.b_norm"), "[8]");
    ck_assert_str_eq(shape_of("layers.0.mamba1.c_norm"), "[8]");
    /* mamba2: E = 32, G·N = 32, H = 4 */
    ck_assert_str_eq(shape_of("layers.0.mamba2.in_proj"), "[132, 64]");
    ck_assert_str_eq(shape_of("layers.0.mamba2.conv_w"), "[96, 4]");
    ck_assert_str_eq(shape_of("layers.0.mamba2.conv_b"), "[96]");
    ck_assert_str_eq(shape_of("layers.0.mamba2.dt_bias"), "[4]");
    ck_assert_str_eq(shape_of("layers.0.mamba2.A_log"), "[4]");
    ck_assert_str_eq(shape_of("layers.0.mamba2.D"), "[4]");
    ck_assert_str_eq(shape_of("layers.0.mamba2.gate_norm"), "[32]");
    ck_assert_str_eq(shape_of("layers.0.mamba2.out_proj"), "[64, 32]");
    ck_assert_str_eq(shape_of("layers.0.mamba2.in_proj_bias"), "absent");
    ck_assert_str_eq(shape_of("layers.0.short_conv.in_proj"), "[192, 64]");
    ck_assert_str_eq(shape_of("layers.0.short_conv.conv_w"), "[64, 3]");
    ck_assert_str_eq(shape_of("layers.0.short_conv.conv_b"), "[64]");
    ck_assert_str_eq(shape_of("layers.0.short_conv.out_proj"), "[64, 64]");
    /* Qwen3-Next shapes: kw = 32, vw = 64. */
    ck_assert_str_eq(shape_of("layers.0.deltanet.in_proj_qkvz"), "[192, 64]");
    ck_assert_str_eq(shape_of("layers.0.deltanet.in_proj_ba"), "[8, 64]");
    ck_assert_str_eq(shape_of("layers.0.deltanet.conv_w"), "[128, 4]");
    ck_assert_str_eq(shape_of("layers.0.deltanet.dt_bias"), "[4]");
    ck_assert_str_eq(shape_of("layers.0.deltanet.A_log"), "[4]");
    ck_assert_str_eq(shape_of("layers.0.deltanet.gate_norm"), "[16]");
    ck_assert_str_eq(shape_of("layers.0.deltanet.out_proj"), "[64, 64]");
    ck_assert_str_eq(shape_of("layers.0.moe.router"), "[4, 64]");
    ck_assert_str_eq(shape_of("layers.0.moe.router_bias"), "absent");
    ck_assert_str_eq(shape_of("layers.0.moe.experts_gate"), "[4, 32, 64]");
    ck_assert_str_eq(shape_of("layers.0.moe.experts_up"), "[4, 32, 64]");
    ck_assert_str_eq(shape_of("layers.0.moe.experts_down"), "[4, 64, 32]");
    ck_assert_str_eq(shape_of("layers.0.moe.shared_gate"), "[24, 64]");
    ck_assert_str_eq(shape_of("layers.0.moe.shared_up"), "[24, 64]");
    ck_assert_str_eq(shape_of("layers.0.moe.shared_down"), "[64, 24]");
    ck_assert_str_eq(shape_of("layers.0.moe.shared_expert_gate"), "[1, 64]");
    ck_assert_str_eq(shape_of("lm_head"), "absent");
}
END_TEST

/* mamba2's out_bias follows bias unless given (Falcon-H1's projectors_bias
 * against mamba_proj_bias); conv_act defaults to silu. */
/* Nemotron-H MoE: group-limited selection and latent experts. */
START_TEST(test_moe_groups_latent)
{
    ModelSpec *m = check_ok(HEAD "layer a { moe { experts = 8  top_k = 3  hidden = 24  act = relu2  routing = "
                                 "sigmoid_topk  route_groups = 4  route_topk_groups = 2  latent = 16  aux_loss = 0.01 } "
                                 "moe { experts = 4  top_k = 2  hidden = 8  routing = sigmoid_topk  route_groups = 2 } } "
                                 "stack { layers = 1  fill = a } }");
    const MoeSpec *p = &m->layer_defs[0].sublayers[0].as.moe;
    ck_assert(p->route_groups == 4 && p->route_topk_groups == 2 && p->latent == 16 && p->expert_width == 16);
    ck_assert(p->aux_loss == 0.01);
    const MoeSpec *q = &m->layer_defs[0].sublayers[1].as.moe;
    ck_assert(q->route_groups == 2 && q->route_topk_groups == 2 && q->latent == 0 && q->expert_width == 64);
    collect_params(m);
    ck_assert_str_eq(shape_of("layers.0.moe.experts_up"), "[8, 24, 16]");
    ck_assert_str_eq(shape_of("layers.0.moe.experts_down"), "[8, 16, 24]");
    ck_assert_str_eq(shape_of("layers.0.moe.latent_in"), "[16, 64]");
    ck_assert_str_eq(shape_of("layers.0.moe.latent_out"), "[64, 16]");
    ck_assert_str_eq(shape_of("layers.0.moe1.experts_up"), "[4, 8, 64]");
    ck_assert_str_eq(shape_of("layers.0.moe1.latent_in"), "absent");
}
END_TEST

/* kv_share resolved per depth: by offset, by name (the nearest above),
 * through a reader to its source; readers have no k, v and no cache. */
START_TEST(test_kv_share)
{
    ModelSpec *m = check_ok(HEAD "layer a { attention { heads = 4  kv_heads = 2 } } "
                                 "layer r { attention { heads = 4  kv_heads = 2  kv_share = 1 } } "
                                 "layer n { parallel { attention { heads = 4  kv_heads = 2  kv_share = a } "
                                 "mamba1 { d_state = 4  expand = 1 } } } "
                                 "stack { layers = 5  pattern = \"arrna\"  symbols { a = a  r = r  n = n } } }");
    const int want_src[] = {-1, 0, 0, 0, -1}, want_readers[] = {3, 0, 0, 0, 0};
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(m->kv_source[i], want_src[i]);
        ck_assert_int_eq(m->kv_readers[i], want_readers[i]);
    }
    collect_params(m);
    ck_assert_str_eq(shape_of("layers.0.attention.k"), "[32, 64]");
    ck_assert_str_eq(shape_of("layers.1.attention.q"), "[64, 64]");
    ck_assert_str_eq(shape_of("layers.1.attention.k"), "absent");
    ck_assert_str_eq(shape_of("layers.1.attention.v"), "absent");
    ck_assert_str_eq(shape_of("layers.3.parallel.attention.v"), "absent");
    /* two caches of 2·32 floats per position: depths 0 and 4 */
    SpecState st = spec_state(m, 10);
    ck_assert_int_eq(st.kv, 2 * 4 * 2 * 32 * 10);
}
END_TEST

/* kv_dtype / ssm_dtype: 2 bytes a value instead of 4 in the state report. */
START_TEST(test_state_dtype_bytes)
{
#define BODY "layer a { attention { heads = 4  kv_heads = 2 } mamba2 { heads = 4  head_dim = 8  d_state = 16 } } " \
             "stack { layers = 1  fill = a } }"
    ModelSpec *f = check_ok(HEAD BODY); /* each check frees the last spec */
    ck_assert(f->kv_dtype == STATE_DTYPE_F32 && f->ssm_dtype == STATE_DTYPE_F32);
    SpecState a = spec_state(f, 100);
    ModelSpec *h = check_ok(HEAD " kv_dtype = bf16  ssm_dtype = f16 " BODY);
#undef BODY
    ck_assert(h->kv_dtype == STATE_DTYPE_BF16 && h->ssm_dtype == STATE_DTYPE_F16);
    SpecState b = spec_state(h, 100);
    ck_assert_int_eq(a.kv, 4 * 2 * 32 * 100);
    ck_assert(b.kv * 2 == a.kv && b.conv * 2 == a.conv && b.ssm * 2 == a.ssm && a.ssm == 4 * 32 * 16);
}
END_TEST

START_TEST(test_mamba2_out_bias)
{
    ModelSpec *m = check_ok(HEAD "layer a { mamba2 { heads = 4  head_dim = 8  bias = true } "
                                 "          mamba2 { heads = 4  head_dim = 8  out_bias = true  conv_act = gelu_tanh } "
                                 "          mamba2 { heads = 4  head_dim = 8  bias = true  out_bias = false } } "
                                 "stack { layers = 1  fill = a } }");
    const SublayerSpec *sl = m->layer_defs[0].sublayers;
    ck_assert(sl[0].as.mamba2.out_bias && sl[0].as.mamba2.conv_act == CONV_ACT_SILU);
    ck_assert(sl[1].as.mamba2.out_bias && !sl[1].as.mamba2.bias && sl[1].as.mamba2.conv_act == CONV_ACT_GELU_TANH);
    ck_assert(!sl[2].as.mamba2.out_bias && sl[2].as.mamba2.bias);
    collect_params(m);
    ck_assert_str_eq(shape_of("layers.0.mamba2.in_proj_bias"), "[324]");
    ck_assert_str_eq(shape_of("layers.0.mamba2.out_proj_bias"), "[64]");
    ck_assert_str_eq(shape_of("layers.0.mamba21.in_proj_bias"), "absent");
    ck_assert_str_eq(shape_of("layers.0.mamba21.out_proj_bias"), "[64]");
    ck_assert_str_eq(shape_of("layers.0.mamba22.in_proj_bias"), "[324]");
    ck_assert_str_eq(shape_of("layers.0.mamba22.out_proj_bias"), "absent");
}
END_TEST

START_TEST(test_params_parallel_and_use)
{
    ModelSpec *m = check_ok(HEAD "shared_block blk { attention { heads = 4  residual = false  adapter_rank = 4 } "
                                 "                   mlp { hidden = 16  residual = false  adapter_rank = 2 } } "
                                 "layer a { parallel { combine = diff  out_proj = shared  branch_norm = rms  branch_scale = gate "
                                 "                     attention { heads = 2 } attention { heads = 2 } } } "
                                 "layer b { parallel { branch_scale = scale  attention { heads = 4 } mamba2 { heads = 2  head_dim = 8 } } } "
                                 "layer h { use blk { } mamba2 { heads = 2  head_dim = 8 } } "
                                 "stack { pattern = \"abh\"  symbols { a = a  b = b  h = h } } }");
    collect_params(m);
    /* shared out_proj: no per-branch o */
    ck_assert_str_eq(shape_of("layers.0.parallel.norm"), "[64]");
    ck_assert_str_eq(shape_of("layers.0.parallel.attention.q"), "[64, 64]");
    ck_assert_str_eq(shape_of("layers.0.parallel.attention.o"), "absent");
    ck_assert_str_eq(shape_of("layers.0.parallel.attention1.q"), "[64, 64]");
    ck_assert_str_eq(shape_of("layers.0.parallel.attention.branch_norm"), "[64]");
    ck_assert_str_eq(shape_of("layers.0.parallel.attention1.branch_scale"), "[1, 64]");
    ck_assert_str_eq(shape_of("layers.0.parallel.out_proj"), "[64, 64]");
    ck_assert_str_eq(shape_of("layers.0.parallel.attention.norm"), "absent");
    /* per-branch out projections */
    ck_assert_str_eq(shape_of("layers.1.parallel.attention.o"), "[64, 64]");
    ck_assert_str_eq(shape_of("layers.1.parallel.mamba2.out_proj"), "[64, 16]");
    ck_assert_str_eq(shape_of("layers.1.parallel.mamba2.branch_scale"), "[1]");
    ck_assert_str_eq(shape_of("layers.1.parallel.out_proj"), "absent");
    /* shared block weights once, per-site weights under the layer */
    ck_assert_str_eq(shape_of("shared.blk.attention.norm"), "[128]");
    ck_assert_str_eq(shape_of("shared.blk.attention.q"), "[128, 128]");
    ck_assert_str_eq(shape_of("shared.blk.attention.o"), "[64, 128]");
    ck_assert_str_eq(shape_of("shared.blk.mlp.norm"), "[64]");
    ck_assert_str_eq(shape_of("shared.blk.mlp.gate"), "[16, 64]");
    ck_assert_str_eq(shape_of("layers.2.use.site_proj"), "[64, 64]");
    ck_assert_str_eq(shape_of("layers.2.use.norm"), "absent");
    ck_assert_str_eq(shape_of("layers.2.use.attention.q_lora_a"), "[4, 128]");
    ck_assert_str_eq(shape_of("layers.2.use.attention.q_lora_b"), "[128, 4]");
    ck_assert_str_eq(shape_of("layers.2.use.attention.v_lora_b"), "[128, 4]");
    ck_assert_str_eq(shape_of("layers.2.use.mlp.gate_lora_a"), "[2, 64]");
    ck_assert_str_eq(shape_of("layers.2.use.mlp.up_lora_b"), "[16, 2]");
    ck_assert_str_eq(shape_of("layers.2.mamba2.norm"), "[64]");
    /* Order: embed, shared, layers by depth, final_norm. */
    ck_assert_str_eq(params[0].name, "embed");
    ck_assert_str_eq(params[1].name, "shared.blk.attention.norm");
    ck_assert_str_eq(params[n_params - 1].name, "final_norm");
}
END_TEST

/* A Llama-like model's count equals the textbook formula. */
START_TEST(test_param_count_llama)
{
    const int64_t V = 1000, d = 128, L = 6, H = 8, kv = 2, hd = 16, h = 352;
    char text[1024];
    snprintf(text, sizeof text,
             "model llama { d_model = %lld  vocab = %lld  tie_embeddings = false "
             "layer block { attention { heads = %lld  kv_heads = %lld } mlp { hidden = %lld } } "
             "stack { layers = %lld  fill = block } }",
             (long long)d, (long long)V, (long long)H, (long long)kv, (long long)h, (long long)L);
    ModelSpec *m = check_ok(text);
    int64_t per_layer = 2 * d              /* two pre-norms */
                        + d * H * hd * 2   /* q, o */
                        + 2 * d * kv * hd  /* k, v */
                        + 3 * d * h;       /* gate, up, down */
    ck_assert_int_eq(spec_param_count(m), 2 * V * d + L * per_layer + d);
}
END_TEST

START_TEST(test_param_count_jamba_fixture)
{
    /* The Hugging Face fixture tiny/jamba has 785,968 parameters. */
    ModelSpec *m = check_ok("model j { d_model = 64  vocab = 512  tie_embeddings = false "
                            "layer mamba { mamba1 { dt_rank = 8  inner_norms = rms } mlp { hidden = 128 } } "
                            "layer mamba_moe { mamba1 { dt_rank = 8  inner_norms = rms } "
                            "                  moe { experts = 4  top_k = 2  hidden = 128 } } "
                            "layer attn { attention { heads = 4  kv_heads = 2  rope = false } mlp { hidden = 128 } } "
                            "stack { layers = 8  fill = mamba  place mamba_moe { every = 2  offset = 1 } "
                            "        place attn { every = 4  offset = 2 } } }");
    ck_assert_int_eq(spec_param_count(m), 785968);
}
END_TEST

START_TEST(test_state_bytes)
{
    ModelSpec *m = check_ok(HEAD "layer a { attention { heads = 4  kv_heads = 2 } } "
                                 "layer w { attention { heads = 4  kv_heads = 1  window = 100 } } "
                                 "layer s { mamba1 { d_state = 8 } mamba2 { heads = 2  head_dim = 8  d_state = 4 } "
                                 "          short_conv { } deltanet { key_heads = 1  value_heads = 2  key_dim = 4  value_dim = 8 } } "
                                 "stack { pattern = \"aws\"  symbols { a = a  w = w  s = s } } }");
    SpecState st = spec_state(m, 1000);
    /* attention: 2 · 32 · 1000 · 4; window: 2 · 16 · 100 · 4 */
    ck_assert_int_eq(st.kv, 2 * 32 * 1000 * 4 + 2 * 16 * 100 * 4);
    /* conv: mamba1 128·3, mamba2 (16 + 8)·3, short_conv 64·2, deltanet (8 + 16)·3 */
    ck_assert_int_eq(st.conv, 4 * (128 * 3 + 24 * 3 + 64 * 2 + 24 * 3));
    /* ssm: mamba1 128·8, mamba2 16·4, deltanet 2·4·8 */
    ck_assert_int_eq(st.ssm, 4 * (128 * 8 + 16 * 4 + 2 * 4 * 8));
    ck_assert_int_eq(spec_state_bytes(m, 1000), st.kv + st.conv + st.ssm);
    /* Short sequences: the window does not matter. */
    ck_assert_int_eq(spec_state(m, 10).kv, 2 * 32 * 10 * 4 + 2 * 16 * 10 * 4);
}
END_TEST

START_TEST(test_state_shared_per_use)
{
    ModelSpec *m = check_ok(HEAD "shared_block blk { attention { heads = 4  residual = false } } "
                                 "layer h { use blk { } mlp { hidden = 8 } } stack { layers = 3  fill = h } }");
    /* each use keeps a KV cache: 3 · 2 · 128 · T · 4 */
    ck_assert_int_eq(spec_state(m, 10).kv, 3 * 2 * 128 * 10 * 4);
}
END_TEST

/* ---- diagnostics ---------------------------------------------------------------------- */

typedef struct BadCase {
    const char *src;
    const char *first; /* the first diagnostic line */
} BadCase;

#define L1 "layer a { mlp { hidden = 8 } } "
#define ST "stack { layers = 4  fill = a } }"

static const BadCase BAD[] = {
    /* the file and the model */
    {"", "t.hyb: error: no model in the file: expected 'model NAME { ... }'"},
    {"d_model = 3", "t.hyb:1:1: error: settings belong inside the 'model' block"},
    {"modle m { }", "t.hyb:1:1: error: unknown block 'modle' at the top level; did you mean 'model'?"},
    {HEAD L1 ST " model n { }", "t.hyb:1:101: error: a file holds one model; this is a second 'model' block"},
    {"model { d_model = 4 vocab = 4 " L1 ST, "t.hyb:1:1: error: the model needs a name: model NAME { ... }"},
    {"model m { vocab = 4 " L1 ST, "t.hyb:1:1: error: missing required key 'd_model' in 'model'"},
    {HEAD L1 "}", "t.hyb:1:1: error: model 'm' has no 'stack' block"},
    {HEAD L1 ST "x", "t.hyb:1:100: error: unexpected end of file, expected '='"},
    /* keys and values */
    {HEAD "d_modle = 3 " L1 ST, "t.hyb:1:37: error: unknown key 'd_modle' in 'model'; did you mean 'd_model'?"},
    {HEAD "vocab = 5 " L1 ST, "t.hyb:1:37: error: duplicate key 'vocab' in 'model'"},
    {HEAD "norm_eps = 0 " L1 ST, "t.hyb:1:48: error: 'norm_eps' must be greater than 0, got 0"},
    {HEAD "norm_eps = \"x\" " L1 ST, "t.hyb:1:48: error: 'norm_eps' must be a number, got a string"},
    {HEAD "max_seq = 1.5 " L1 ST, "t.hyb:1:47: error: 'max_seq' must be an integer, got a number"},
    {HEAD "max_seq = 0 " L1 ST, "t.hyb:1:47: error: 'max_seq' must be at least 1, got 0"},
    {"model m { d_model = 99999999 vocab = 4 " L1 ST, "t.hyb:1:21: error: 'd_model' must be at most 16777216, got 99999999"},
    {HEAD "tie_embeddings = yes " L1 ST, "t.hyb:1:54: error: 'tie_embeddings' must be true or false, got 'yes'"},
    {HEAD "tie_embeddings = ture " L1 ST,
     "t.hyb:1:54: error: 'tie_embeddings' must be true or false, got 'ture'; did you mean 'true'?"},
    {HEAD "norm = 1 " L1 ST, "t.hyb:1:44: error: 'norm' must be rmsnorm or layernorm, got an integer"},
    {HEAD "norm = \"layernrom\" " L1 ST,
     "t.hyb:1:44: error: 'norm' must be rmsnorm or layernorm, got 'layernrom'; did you mean 'layernorm'?"},
    {HEAD "layer a { attention { haeds = 4 } } " ST,
     "t.hyb:1:59: error: unknown key 'haeds' in 'attention'; did you mean 'heads'?"},
    {HEAD "layer a { attention { heads = 4  heads = 4 } } " ST, "t.hyb:1:70: error: duplicate key 'heads' in 'attention'"},
    {HEAD "layer a { attention { heads = \"4\" } } " ST,
     "t.hyb:1:67: error: 'heads' must be an integer, got a string"},
    {HEAD "layer a { attention { } } " ST, "t.hyb:1:47: error: missing required key 'heads' in 'attention'"},
    {HEAD "layer a { attention { heads { } } } " ST,
     "t.hyb:1:59: error: 'heads' is a setting, not a block: write 'heads = VALUE'"},
    {HEAD "layer a { attention { heads = 4  rope_fraction = 1.5 } } " ST,
     "t.hyb:1:86: error: 'rope_fraction' must be in (0, 1], got 1.5"},
    {HEAD "layer a { mamba2 { heads = 2  in_proj_scales = [1, 2] } } " ST,
     "t.hyb:1:84: error: 'in_proj_scales' must have 5 elements, got 2"},
    {HEAD "layer a { mamba2 { heads = 2  in_proj_scales = [1, 2, x, 4, 5] } } " ST,
     "t.hyb:1:91: error: elements of 'in_proj_scales' must be numbers, got a name"},
    {HEAD "layer a { mamba2 { heads = 2  dt_min = inf } } " ST, "t.hyb:1:76: error: 'dt_min' must be a number, got a name"},
    /* layers and sublayers */
    {HEAD "layer { mlp { hidden = 8 } } " ST, "t.hyb:1:37: error: a layer needs a name: layer NAME { ... }"},
    {HEAD "layer \"a\" { mlp { hidden = 8 } } " ST,
     "t.hyb:1:43: error: the name of a layer must be an identifier, not a string"},
    {HEAD L1 L1 ST, "t.hyb:1:74: error: duplicate layer name 'a'"},
    {HEAD L1 "shared_block a { mlp { hidden = 8 } } " ST, "t.hyb:1:81: error: 'a' is already the name of a layer"},
    {HEAD "layer a { } " ST, "t.hyb:1:37: error: layer 'a' has no sublayers"},
    {HEAD "layer a { heads = 4 } " ST,
     "t.hyb:1:47: error: settings are not allowed directly in layer 'a'; 'heads' belongs in one of its sublayer blocks"},
    {HEAD "layer a { mamab2 { } } " ST, "t.hyb:1:47: error: unknown sublayer kind 'mamab2'; did you mean 'mamba2'?"},
    {HEAD "layer a { mlp x { hidden = 8 } } " ST, "t.hyb:1:51: error: 'mlp' takes no name"},
    {HEAD "attention { heads = 4 } " L1 ST,
     "t.hyb:1:37: error: 'attention' is a sublayer: put it inside a layer: layer NAME { attention { ... } }"},
    {HEAD "stak { } " L1 ST, "t.hyb:1:37: error: unknown block 'stak' in 'model'; did you mean 'stack'?"},
    /* hyper-parameter relations */
    {HEAD "layer a { attention { heads = 8  kv_heads = 3 } } " ST,
     "t.hyb:1:81: error: 'kv_heads' (3) must divide 'heads' (8)"},
    {HEAD "layer a { attention { heads = 6 } } " ST,
     "t.hyb:1:67: error: 'heads' (6) must divide the input width (64) when 'head_dim' is not given"},
    {HEAD "layer a { attention { heads = 4  rope_fraction = 0.3 } } " ST,
     "t.hyb:1:86: error: rope rotates rope_fraction × head_dim = 0.3 × 16 = 4.8 dimensions, which must be an even "
     "whole number"},
    {HEAD "layer a { attention { heads = 4  head_dim = 15 } } " ST,
     "t.hyb:1:81: error: rope rotates rope_fraction × head_dim = 1 × 15 = 15 dimensions, which must be an even whole "
     "number"},
    {HEAD "layer a { attention { heads = 4  adapter_rank = 8 } } " ST,
     "t.hyb:1:85: error: 'adapter_rank' is only allowed inside a shared_block (adapters are per use)"},
    {HEAD "layer a { mamba1 { expand = 2  d_inner = 100 } } " ST,
     "t.hyb:1:78: error: 'd_inner' (100) disagrees with 'expand' × d_model = 2 × 64 = 128; give only one"},
    {HEAD "layer a { mamba2 { heads = 8  head_dim = 16  d_inner = 100 } } " ST,
     "t.hyb:1:92: error: 'heads' × 'head_dim' = 8 × 16 = 128 does not equal 'd_inner' (100)"},
    {HEAD "layer a { mamba2 { heads = 3  d_inner = 100 } } " ST,
     "t.hyb:1:64: error: 'heads' (3) must divide 'd_inner' (100)"},
    {HEAD "layer a { mamba2 { heads = 8  groups = 3 } } " ST, "t.hyb:1:76: error: 'groups' (3) must divide 'heads' (8)"},
    {HEAD "layer a { mamba2 { heads = 8  norm_groups = 3 } } " ST,
     "t.hyb:1:81: error: 'norm_groups' (3) must divide 'heads' (8)"},
    {HEAD "layer a { mamba2 { heads = 8  dt_min = 0.5  dt_max = 0.1 } } " ST,
     "t.hyb:1:76: error: 'dt_min' (0.5) must be less than 'dt_max' (0.1)"},
    {HEAD "layer a { deltanet { key_heads = 2  value_heads = 3 } } " ST,
     "t.hyb:1:87: error: 'value_heads' (3) must be a multiple of 'key_heads' (2)"},
    {HEAD "layer a { moe { experts = 4  top_k = 5  hidden = 8 } } " ST,
     "t.hyb:1:74: error: 'top_k' (5) must not exceed 'experts' (4)"},
    {HEAD "layer a { moe { experts = 4  top_k = 2  hidden = 8  shared_gate = true } } " ST,
     "t.hyb:1:103: error: 'shared_gate' needs a shared expert: give 'shared_hidden'"},
    /* parallel */
    {HEAD "layer a { parallel { attention { heads = 4 } } } " ST,
     "t.hyb:1:47: error: 'parallel' needs at least 2 branches, got 1"},
    {HEAD "layer a { parallel { attention { heads = 4 } mlp { hidden = 4 } } } " ST,
     "t.hyb:1:82: error: 'mlp' cannot be a branch of 'parallel' (branches are attention, mamba1, mamba2, short_conv or "
     "deltanet)"},
    {HEAD "layer a { parallel { combine = diff  attention { heads = 4 } attention { heads = 4 } mamba1 { } } } " ST,
     "t.hyb:1:68: error: 'combine = diff' needs exactly 2 branches, got 3"},
    {HEAD "layer a { parallel { combine = concat  attention { heads = 4 } mamba1 { } } } " ST,
     "t.hyb:1:68: error: 'combine = concat' needs 'out_proj = shared' (per-branch projections each give d_model; use "
     "'combine = add' for the same model)"},
    {HEAD "layer a { parallel { out_proj = shared  attention { heads = 4 } mamba1 { } } } " ST,
     "t.hyb:1:47: error: 'combine = add' with 'out_proj = shared' needs branches of equal width, but attention is 64 "
     "wide and mamba1 is 128"},
    {HEAD "layer a { parallel { branch_norm = group  attention { heads = 4 } mamba1 { } } } " ST,
     "t.hyb:1:103: error: 'branch_norm = group' normalizes each head, but a mamba1 branch has no heads; use "
     "'branch_norm = rms'"},
    {HEAD "layer a { parallel { attention { heads = 4  norm = false } mamba1 { } } } " ST,
     "t.hyb:1:81: error: unknown key 'norm' in 'attention'"},
    {HEAD "shared_block s { input = residual  parallel { attention { heads = 4  adapter_rank = 2 } mamba1 { } } } "
          "layer a { use s { } mlp { hidden = 8 } } " ST,
     "t.hyb:1:121: error: 'adapter_rank' is not allowed in a parallel branch (adapters go on the attention and mlp "
     "sublayers of a shared_block)"},
    /* shared blocks */
    {HEAD "shared_block s { mlp { hidden = 8 } } layer a { use s { } mlp { hidden = 8 } } " ST,
     "t.hyb:1:54: error: 'mlp' cannot read the 128-wide input of shared_block 's' (input = concat_embedding); only "
     "attention reads a wider input"},
    {HEAD "shared_block s { attention { heads = 4 } } layer a { use s { } mlp { hidden = 8 } } " ST,
     "t.hyb:1:54: error: this attention reads the 128-wide input of shared_block 's', so it cannot add to a 64-wide "
     "residual: set 'residual = false'"},
    {HEAD "shared_block s { attention { heads = 4  residual = false  input_width = 64 } } layer a { use s { } mlp { hidden = 8 } } " ST,
     "t.hyb:1:109: error: 'input_width' is 64, but this attention reads 128-wide input"},
    {HEAD "shared_block s { input = residual  mlp { hidden = 8 } use s { } } " L1 ST,
     "t.hyb:1:91: error: a shared_block cannot use another shared block"},
    {HEAD "shared_block s { input = residual  mlp { hidden = 8 } } layer a { use s { } } " ST,
     "t.hyb:1:103: error: 'use' must be followed by another sublayer (not a 'use') in layer 'a': its output is added "
     "to that sublayer's input"},
    {HEAD "shared_block s { input = residual  mlp { hidden = 8 } } layer a { use shard { } mlp { hidden = 8 } } " ST,
     "t.hyb:1:107: error: unknown shared_block 'shard'"},
    {HEAD L1 "layer b { use a { } mlp { hidden = 8 } } " ST, "t.hyb:1:82: error: 'a' is a layer, not a shared_block"},
    {HEAD "layer a { use { } mlp { hidden = 8 } } " ST,
     "t.hyb:1:47: error: 'use' needs the name of a shared_block: use NAME { }"},
    {HEAD "shared_block s { input = residual  mlp { hidden = 8 } } layer a { use s { norm = true } mlp { hidden = 8 } } " ST,
     "t.hyb:1:111: error: unknown key 'norm' in 'use'"},
    /* the stack */
    {HEAD L1 "stack { } }", "t.hyb:1:68: error: the stack is empty: give 'layers' and 'fill', or a 'pattern'"},
    {HEAD L1 "stack { fill = a } }", "t.hyb:1:68: error: missing required key 'layers' in 'stack'"},
    {HEAD L1 "stack { layers = 0  fill = a } }", "t.hyb:1:85: error: 'layers' must be at least 1, got 0"},
    {HEAD L1 "stack { layers = 2  fill = b } }", "t.hyb:1:95: error: unknown layer 'b'; did you mean 'a'?"},
    {HEAD L1 "stack { layers = 2  fill = \"a\" } }", "t.hyb:1:95: error: 'fill' must be a name, got a string"},
    {HEAD L1 "shared_block s { input = residual  mlp { hidden = 8 } } stack { layers = 2  fill = s } }",
     "t.hyb:1:151: error: 's' is a shared_block, not a layer"},
    {HEAD L1 "stack { layers = 3  place a { at = [0, 1] } } }",
     "t.hyb:1:68: error: depth 2 has no layer: give 'fill', or a placement that covers it"},
    {HEAD L1 "stack { layers = 4  fill = a  pattern = \"aa\"  symbols { a = a } } }",
     "t.hyb:1:88: error: 'fill' and 'pattern' cannot both be given"},
    {HEAD L1 "stack { pattern = \"aa\" } }",
     "t.hyb:1:76: error: 'pattern' needs a 'symbols' block naming the layer of each symbol"},
    {HEAD L1 "stack { layers = 2  fill = a  symbols { a = a } } }", "t.hyb:1:98: error: 'symbols' needs a 'pattern'"},
    {HEAD L1 "stack { layers = 2  fill = a  repeat = 2 } }", "t.hyb:1:98: error: 'repeat' needs a 'pattern'"},
    {HEAD L1 "stack { pattern = \"\"  symbols { a = a } } }", "t.hyb:1:86: error: 'pattern' is empty"},
    {HEAD L1 "stack { layers = 3  pattern = \"aa\"  symbols { a = a } } }",
     "t.hyb:1:85: error: 'layers' is 3, but the pattern has 2 symbols"},
    {HEAD L1 "stack { layers = 5  pattern = \"aa\"  repeat = 2  symbols { a = a } } }",
     "t.hyb:1:85: error: 'layers' is 5, but the pattern has 2 symbols × repeat 2 = 4 layers"},
    {HEAD L1 "stack { pattern = \"a\\\\b\"  symbols { a = a } } }",
     "t.hyb:1:88: error: symbol '\\' of the pattern is not in 'symbols'"},
    {HEAD L1 "stack { pattern = \"ab\"  symbols { a = a  b = a  a = a } } }",
     "t.hyb:1:116: error: duplicate symbol 'a'"},
    {HEAD L1 "stack { pattern = \"ab\"  symbols { ab = a } } }",
     "t.hyb:1:102: error: a symbol must be one printable ASCII character, got 'ab'"},
    {HEAD L1 "stack { pattern = \"a\"  symbols { a = \"a\" } } }",
     "t.hyb:1:105: error: symbol 'a' must name a layer, got a string"},
    {HEAD L1 "stack { layers = 4  fill = a  plase a { } } }",
     "t.hyb:1:98: error: unknown block 'plase' in 'stack'; did you mean 'place'?"},
    {HEAD L1 "stack { layers = 4  fill = a  place { every = 2 } } }",
     "t.hyb:1:98: error: 'place' needs a layer name: place NAME { ... }"},
    {HEAD L1 "stack { layers = 4  fill = a  place a { } } }",
     "t.hyb:1:98: error: 'place' needs one of 'every', 'at' or 'ratio'"},
    {HEAD L1 "stack { layers = 4  fill = a  place a { at = [1]  ratio = \"1:1\" } } }",
     "t.hyb:1:118: error: 'ratio' cannot be combined with 'at' in one 'place'"},
    {HEAD L1 "stack { layers = 4  fill = a  place a { at = [1]  offset = 1 } } }",
     "t.hyb:1:118: error: 'offset' needs 'every'"},
    {HEAD L1 "stack { layers = 4  fill = a  place a { at = [1]  placement = cluster } } }",
     "t.hyb:1:118: error: 'placement' needs 'ratio'"},
    {HEAD L1 "stack { layers = 4  fill = a  place a { every = 2  offset = 2 } } }",
     "t.hyb:1:128: error: 'offset' (2) must be less than 'every' (2)"},
    {HEAD L1 "stack { layers = 4  fill = a  place a { every = 8  offset = 5 } } }",
     "t.hyb:1:128: error: 'offset' (5) is past the last layer: the stack has 4 layers (0 to 3)"},
    {HEAD L1 "stack { layers = 4  fill = a  place a { every = 0 } } }",
     "t.hyb:1:116: error: 'every' must be at least 1, got 0"},
    {HEAD L1 "stack { layers = 4  fill = a  place a { at = [] } } }", "t.hyb:1:113: error: 'at' is empty"},
    {HEAD L1 "stack { layers = 4  fill = a  place a { at = [1, -1] } } }",
     "t.hyb:1:117: error: layer index -1 is out of range: the stack has 4 layers (0 to 3)"},
    {HEAD L1 "stack { layers = 4  fill = a  place a { at = [4] } } }",
     "t.hyb:1:114: error: layer index 4 is out of range: the stack has 4 layers (0 to 3)"},
    {HEAD L1 "stack { layers = 4  fill = a  place a { at = [1.5] } } }",
     "t.hyb:1:114: error: elements of 'at' must be integers, got a number"},
    {HEAD L1 "stack { layers = 4  fill = a  place a { ratio = \"1/3\" } } }",
     "t.hyb:1:116: error: 'ratio' must be \"A:B\" with whole numbers (at most 1048576), e.g. \"1:5\""},
    {HEAD L1 "stack { layers = 4  fill = a  place a { ratio = \"0:3\" } } }",
     "t.hyb:1:116: error: 'ratio' \"0:3\" places no layer"},
    {HEAD L1 "stack { layers = 32  fill = a  place a { ratio = \"1:5\" } } }",
     "t.hyb:1:117: error: 'ratio' \"1:5\" does not fit 32 layers: 32 × 1/6 is not a whole number of layers; try "
     "\"5:27\" or \"6:26\""},
    {HEAD L1 "stack { layers = 4  fill = a  place a { ratio = \"1:0\" } } }",
     "t.hyb:1:116: error: 'ratio' \"1:0\" places 4 of 4 layers, but a ratio never uses layer 0: at most 3 fit"},
    {HEAD L1 "stack { layers = 4  fill = a  place a { ratio = \"1:1\"  placement = midle } } }",
     "t.hyb:1:135: error: 'placement' must be middle, scatter, cluster or sandwich, got 'midle'; did you mean "
     "'middle'?"},
    {HEAD L1 ST " ", NULL}, /* fine */
    /* weights */
    {HEAD L1 "stack { layers = 2  fill = a } weights { } }", "t.hyb:1:99: error: missing required key 'file' in 'weights'"},
    {HEAD L1 "stack { layers = 2  fill = a } weights { file = \"w\"  naming = \"hf:jamab\" } }",
     "t.hyb:1:130: error: unknown naming \"hf:jamab\"; did you mean \"hf:jamba\"?"},
    {HEAD L1 "stack { layers = 2  fill = a } weights { file = \"w\"  rename { \"layers.{i}.mlp.upp\" = \"x\" } } }",
     "t.hyb:1:130: error: rename: the model has no parameter 'layers.{i}.mlp.upp'; did you mean 'layers.{i}.mlp.up'?"},
    {HEAD L1 "stack { layers = 2  fill = a } weights { file = \"w\"  rename { \"layers.2.mlp.up\" = \"x\" } } }",
     "t.hyb:1:130: error: rename: the model has no parameter 'layers.2.mlp.up'; did you mean 'layers.{i}.mlp.up'?"},
    {HEAD L1 "stack { layers = 2  fill = a } weights { file = \"w\"  rename { embed = x } } }",
     "t.hyb:1:138: error: a rename must give the tensor's name in the file as a string, got a name"},
    {HEAD L1 "stack { layers = 2  fill = a } weights { file = \"w\"  rename { embed = \"e{i}\" } } }",
     "t.hyb:1:138: error: '{i}' in the name in the file needs '{i}' in the canonical name"},
    {HEAD L1 "stack { layers = 2  fill = a } weights { file = \"w\"  rename { embed = \"e\"  embed = \"f\" } } }",
     "t.hyb:1:143: error: duplicate rename of 'embed'"},
    {HEAD L1 "stack { layers = 2  fill = a } weights { file = \"w\"  renames { } } }",
     "t.hyb:1:121: error: unknown block 'renames' in 'weights'; did you mean 'rename'?"},
    /* size limits */
    {"model m { d_model = 16777216  vocab = 16777216 layer a { moe { experts = 65536  top_k = 1  hidden = 16777216 } } "
     "stack { layers = 65536  fill = a } }",
     "t.hyb:1:1: error: model 'm' has more than 2^53 parameters"},
};

/* Every case is run and every mismatch printed before the test fails, so
 * that one run shows them all. */
START_TEST(test_bad_inputs)
{
    int failed = 0;
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        ModelSpec *m = check_src(BAD[i].src);
        if (!BAD[i].first) {
            if (!m) fprintf(stderr, "case %zu: unexpected errors:\n%s", i, messages()), failed++;
            continue;
        }
        if (m) {
            fprintf(stderr, "case %zu: no error for:\n%s\n", i, BAD[i].src);
            failed++;
        } else if (strcmp(first_line(), BAD[i].first) != 0) {
            fprintf(stderr, "case %zu:\n  expected: %s\n       got: %s\n", i, BAD[i].first, first_line());
            failed++;
        }
    }
    ck_assert_int_eq(failed, 0);
}
END_TEST

START_TEST(test_notes_and_carets)
{
    check_src(HEAD "vocab = 5 " L1 ST);
    ck_assert_str_eq(messages(), "t.hyb:1:37: error: duplicate key 'vocab' in 'model'\n"
                                 "  " HEAD "vocab = 5 " L1 ST "\n"
                                 "                                      ^~~~~\n"
                                 "t.hyb:1:25: note: 'vocab' was first set here\n"
                                 "  " HEAD "vocab = 5 " L1 ST "\n"
                                 "                          ^~~~~\n");
    check_src(HEAD "layer a { foo = 1 mlp { hidden = 8 } } layer b { zork { } } " ST);
    ck_assert_int_eq(C.diag.n_errors, 2);
    /* an unknown key with no near miss lists the keys */
    check_src(HEAD "layer a { mlp { hidden = 8  zzzzzz = 1 } } " ST);
    ck_assert_ptr_nonnull(strstr(messages(), "note: the keys of 'mlp' are: act, hidden, bias, gate_scale, down_scale, "
                                             "adapter_rank, norm, residual, in_scale, out_scale"));
}
END_TEST

/* Sema goes on after an error and reports the others of the same run. */
START_TEST(test_many_errors)
{
    check_src("model m { d_model = 0  vocab = \"x\" "
              "layer a { attention { heads = 8  kv_heads = 3 } mlp { } } "
              "layer b { mamab2 { } } "
              "stack { layers = 4  fill = c  place a { at = [9] } } }");
    ck_assert_int_eq(C.diag.n_errors, 7);
}
END_TEST

START_TEST(test_warnings)
{
    ModelSpec *m = check_src(HEAD L1 "layer unused { mlp { hidden = 8 } } "
                                  "layer b { attention { heads = 4  rope = false  rope_base = 500 } } "
                                  "stack { layers = 4  fill = a  place b { at = [1, 1] } } }");
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(C.diag.n_errors, 0);
    ck_assert_int_eq(C.diag.n_warnings, 3);
    ck_assert_ptr_nonnull(strstr(messages(), "warning: 'rope_base' has no effect with 'rope = false'"));
    ck_assert_ptr_nonnull(strstr(messages(), "warning: layer index 1 is listed twice"));
    ck_assert_ptr_nonnull(strstr(messages(), "warning: layer 'unused' is defined but never used in the stack"));
    m = check_src(HEAD L1 "shared_block s { input = residual  mlp { hidden = 8 } } " ST);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(strstr(messages(), "warning: shared_block 's' is defined but no layer of the stack uses it"));
    /* an unused shared block has no weights */
    collect_params(m);
    for (int i = 0; i < n_params; i++) ck_assert(strncmp(params[i].name, "shared.", 7) != 0);
}
END_TEST

/* ---- schema tables -------------------------------------------------------------------- */

START_TEST(test_schema_tables)
{
    for (int b = 0; b < SCHEMA_N_BLOCKS; b++) {
        const SchemaBlock *blk = schema_block((SchemaBlockId)b);
        ck_assert_int_eq(blk->id, b);
        for (int i = 0; i < blk->n_keys; i++) {
            const SchemaKey *k = &blk->keys[i];
            ck_assert_int_eq(schema_key_index(blk, k->name), i);
            ck_assert(!((k->flags & SCHEMA_F_REQUIRED) && (k->flags & SCHEMA_F_DERIVED)));
            ck_assert(k->min <= k->max);
            if (k->type == SCHEMA_TYPE_ENUM || k->type == SCHEMA_TYPE_CALL) {
                ck_assert_ptr_nonnull(k->enum_names);
                ck_assert_ptr_nonnull(k->enum_names[(int)k->def]);
            } else {
                ck_assert_ptr_null(k->enum_names);
            }
            /* A call's arguments: numbers, named, of a value the key has,
             * at most SPEC_CALL_MAX_ARGS per value. */
            ck_assert((k->type == SCHEMA_TYPE_CALL) == (k->call_args != NULL));
            int per_kind[16] = {0};
            for (const SchemaArg *a = k->call_args; a && a->kind >= 0; a++) {
                ck_assert(a->kind < 16 && k->enum_names[a->kind] != NULL);
                ck_assert(a->key.type == SCHEMA_TYPE_FLOAT && a->key.name && a->key.doc);
                ck_assert_int_le(++per_kind[a->kind], SPEC_CALL_MAX_ARGS);
            }
            /* A plain default lies in the key's range. */
            bool numeric = k->type == SCHEMA_TYPE_INT || k->type == SCHEMA_TYPE_FLOAT;
            if (numeric && !(k->flags & (SCHEMA_F_REQUIRED | SCHEMA_F_DERIVED)) && strcmp(k->def_text, "-") != 0) {
                bool lo = k->flags & SCHEMA_F_MIN_OPEN ? k->def > k->min : k->def >= k->min;
                bool hi = k->flags & SCHEMA_F_MAX_OPEN ? k->def < k->max : k->def <= k->max;
                if (!(lo && hi)) ck_abort_msg("%s.%s: default out of range", blk->name, k->name);
            }
            for (int j = 0; j < i; j++)
                if (blk->keys[j].offset == k->offset && blk->id != SCHEMA_BLOCK_SUBLAYER)
                    ck_abort_msg("%s: keys %s and %s share a field", blk->name, blk->keys[j].name, k->name);
        }
    }
    SublayerKind k;
    ck_assert(schema_sublayer_lookup("mamba2", &k) && k == SUBLAYER_MAMBA2);
    ck_assert(!schema_sublayer_lookup("mamba3", &k));
    ck_assert(schema_sublayer_branch_ok(SUBLAYER_DELTANET));
    ck_assert(!schema_sublayer_branch_ok(SUBLAYER_MOE));
    ck_assert_str_eq(schema_names_Placement[PLACEMENT_SANDWICH], "sandwich");
    char buf[64];
    const SchemaBlock *att = schema_block(SCHEMA_BLOCK_ATTENTION);
    ck_assert_str_eq(schema_range_text(&att->keys[schema_key_index(att, "rope_fraction")], buf, sizeof buf), "in (0, 1]");
    ck_assert_str_eq(schema_range_text(&att->keys[schema_key_index(att, "heads")], buf, sizeof buf), "at least 1");
    char *ref = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&ref, &len);
    schema_print_reference(f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(ref, "rope_fraction    float; default 1; in (0, 1]"));
    ck_assert_ptr_nonnull(strstr(ref, "rope_scaling     call; default none"));
    ck_assert_ptr_nonnull(strstr(ref, "    yarn(beta_fast): number; default 32; greater than 0"));
    free(ref);
}
END_TEST

/* Inputs at the limits: errors or models, never a crash (run under SAN=1). */
START_TEST(test_limits)
{
    check_src("model m { d_model = 9007199254740992  vocab = 1 layer a { mlp { hidden = 1 } } "
              "stack { layers = 1  fill = a } }");
    ck_assert_int_gt(C.diag.n_errors, 0);
    /* 65536 KV caches of 2^24 × 2^30 floats: the state saturates. */
    ModelSpec *m = check_ok("model m { d_model = 1  vocab = 1  max_seq = 1073741824 "
                            "layer a { attention { heads = 1  head_dim = 16777216  rope = false } } "
                            "stack { layers = 65536  fill = a } }");
    ck_assert_int_eq(spec_state_bytes(m, m->max_seq), INT64_MAX);
    /* A long pattern. */
    static char big[70000];
    int o = snprintf(big, sizeof big, HEAD L1 "stack { pattern = \"");
    for (int i = 0; i < 4000; i++) big[o++] = 'a';
    snprintf(big + o, sizeof big - (size_t)o, "\"  repeat = 16  symbols { a = a } } }");
    m = check_ok(big);
    ck_assert_int_eq(m->n_layers, 64000);
    o = snprintf(big, sizeof big, HEAD L1 "stack { pattern = \"aa\"  repeat = 40000  symbols { a = a } } }");
    ck_assert_ptr_null(check_src(big));
    ck_assert_ptr_nonnull(strstr(first_line(), "error: the pattern gives 80000 layers; the limit is 65536"));
}
END_TEST

static Suite *sema_suite(void)
{
    Suite *s = suite_create("sema");
    TCase *tc = tcase_create("resolve");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_model_defaults);
    tcase_add_test(tc, test_attention_derived);
    tcase_add_test(tc, test_rope_scaling);
    tcase_add_test(tc, test_mamba2_out_bias);
    tcase_add_test(tc, test_moe_groups_latent);
    tcase_add_test(tc, test_kv_share);
    tcase_add_test(tc, test_state_dtype_bytes);
    tcase_add_test(tc, test_mamba_derived);
    tcase_add_test(tc, test_other_kinds_derived);
    tcase_add_test(tc, test_parallel_and_shared);
    tcase_add_test(tc, test_weights);
    suite_add_tcase(s, tc);

    tc = tcase_create("layout");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_layout_every);
    tcase_add_test(tc, test_layout_at);
    tcase_add_test(tc, test_layout_ratio);
    tcase_add_test(tc, test_layout_ratio_all);
    tcase_add_test(tc, test_layout_pattern);
    suite_add_tcase(s, tc);

    tc = tcase_create("params");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_params_basic);
    tcase_add_test(tc, test_params_ssm);
    tcase_add_test(tc, test_params_parallel_and_use);
    tcase_add_test(tc, test_param_count_llama);
    tcase_add_test(tc, test_param_count_jamba_fixture);
    tcase_add_test(tc, test_state_bytes);
    tcase_add_test(tc, test_state_shared_per_use);
    suite_add_tcase(s, tc);

    tc = tcase_create("diagnostics");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_test(tc, test_notes_and_carets);
    tcase_add_test(tc, test_many_errors);
    tcase_add_test(tc, test_warnings);
    tcase_add_test(tc, test_schema_tables);
    tcase_add_test(tc, test_limits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sema_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
