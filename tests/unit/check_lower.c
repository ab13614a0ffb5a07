/* check_lower.c — unit tests of the lowering from ModelSpec to Graph IR
 * (frontend/lower.c): for every model the project ships, the module's
 * params are exactly spec_params (names, shapes, order), its state bytes are
 * spec_state_bytes, it verifies and round-trips; and the structure of the
 * parts with semantics of their own (parallel blocks, use sites of shared
 * blocks, scales, norms, locations) on small sources.
 *
 * Each test lowers a source in a fresh arena; diagnostics go to a memory
 * stream.  One test runs the reference interpreter (interp/) to check an
 * identity of the parallel block's semantics.
 */
#include "frontend/frontend.h"
#include "interp/interp.h"
#include "ir/ir.h"

#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixture ------------------------------------------------------------------ */

typedef struct Lowered {
    Arena arena;
    Interner in;
    Diag diag;
    FILE *diag_out;
    char *diag_text;
    size_t diag_len;
    ModelSpec *spec;
    IrModule *mod; /* NULL after errors */
} Lowered;

static Lowered C;

static void lowered_free(void)
{
    if (C.diag_out) fclose(C.diag_out);
    free(C.diag_text);
    intern_free(&C.in);
    arena_free(&C.arena);
    memset(&C, 0, sizeof C);
}

static void teardown(void) { lowered_free(); }

static const char *messages(void)
{
    fflush(C.diag_out);
    return C.diag_text ? C.diag_text : "";
}

static IrModule *lower_src(const SrcFile *src)
{
    AstFile *f = src ? parse_source(src, &C.arena, &C.in, &C.diag) : NULL;
    C.spec = f ? sema_check(f, &C.arena, &C.in, &C.diag) : NULL;
    C.mod = C.spec ? lower_model(C.spec, &C.arena, &C.in, &C.diag) : NULL;
    fflush(C.diag_out);
    return C.mod;
}

static void fresh(void)
{
    lowered_free();
    arena_init(&C.arena);
    intern_init(&C.in, &C.arena);
    C.diag_out = open_memstream(&C.diag_text, &C.diag_len);
    ck_assert_ptr_nonnull(C.diag_out);
    diag_init(&C.diag, C.diag_out);
    C.diag.color = false;
    C.diag.max_errors = 0;
}

static IrModule *lower_text(const char *text)
{
    fresh();
    return lower_src(src_from_string("t.hyb", text, &C.arena));
}

static IrModule *lower_ok(const char *text)
{
    IrModule *m = lower_text(text);
    ck_assert_msg(m, "lowering failed:\n%s", messages());
    ck_assert_msg(ir_verify(m, &C.diag), "the module does not verify:\n%s", messages());
    return m;
}

/* ---- looking at a module ------------------------------------------------------ */

static IrFunc *prefill(void) { return ir_find_func(C.mod, "prefill"); }

/* The k-th instruction of op in fn (0-based), or NULL. */
static const IrInst *nth_op(const IrFunc *fn, IrOp op, int k)
{
    for (int i = 0; i < fn->n_insts; i++)
        if (fn->insts[i].op == op && k-- == 0) return &fn->insts[i];
    return NULL;
}

static int count_op(const IrFunc *fn, IrOp op)
{
    int n = 0;
    for (int i = 0; i < fn->n_insts; i++) n += fn->insts[i].op == op;
    return n;
}

/* The instruction that defines value v, or NULL (an argument). */
static const IrInst *def_of(const IrFunc *fn, int v)
{
    int d = fn->values[v].def;
    return d >= 0 ? &fn->insts[d] : NULL;
}

/* Name of the param in operand slot `slot`, or NULL when it is not a param. */
static const char *param_in(const IrInst *in, const char *slot)
{
    IrOperand o = ir_inst_operand(in, slot);
    return o.kind == IR_OPND_PARAM ? C.mod->params[o.id].name : NULL;
}

static const char *state_in(const IrInst *in, const char *slot)
{
    IrOperand o = ir_inst_operand(in, slot);
    return o.kind == IR_OPND_STATE ? C.mod->states[o.id].name : NULL;
}

/* Value id in operand slot `slot` (-1 when not a value). */
static int value_in(const IrInst *in, const char *slot)
{
    IrOperand o = ir_inst_operand(in, slot);
    return o.kind == IR_OPND_VALUE ? o.id : -1;
}

/* The first instruction of fn with a param operand named `name`. */
static const IrInst *user_of_param(const IrFunc *fn, const char *name)
{
    for (int i = 0; i < fn->n_insts; i++) {
        const IrInst *in = &fn->insts[i];
        for (int k = 0; k < in->n_operands; k++)
            if (in->operands[k].kind == IR_OPND_PARAM && strcmp(C.mod->params[in->operands[k].id].name, name) == 0)
                return in;
    }
    return NULL;
}

static bool has_param(const char *name) { return ir_find_param(C.mod, name).id >= 0; }

/* ---- properties every model must have ------------------------------------------------ */

typedef struct ParamList {
    Vec(char *) names;
    Vec(IrType) types;
} ParamList;

static void collect_param(void *ctx, const char *name, int ndim, const int64_t *shape)
{
    ParamList *l = ctx;
    vec_push(&l->names, xstrdup(name));
    vec_push(&l->types, ir_type_make(IR_DT_F32, ndim, shape));
}

/* The module's params are spec_params, in order, with the same shapes. */
static void check_params(const char *what)
{
    ParamList l = {{0}, {0}};
    spec_params(C.spec, collect_param, &l);
    ck_assert_msg(C.mod->n_params == l.names.len, "%s: %d params, spec_params lists %d", what, C.mod->n_params,
                  l.names.len);
    for (int i = 0; i < l.names.len; i++) {
        const IrParamDecl *p = &C.mod->params[i];
        ck_assert_msg(strcmp(p->name, l.names.data[i]) == 0, "%s: param %d is %s, spec_params says %s", what, i,
                      p->name, l.names.data[i]);
        ck_assert_msg(ir_type_eq(&p->type, &l.types.data[i]), "%s: %s has another shape than spec_params says",
                      what, p->name);
        ck_assert_msg(p->loc.file != NULL, "%s: %s has no location", what, p->name);
    }
    for (int i = 0; i < l.names.len; i++) free(l.names.data[i]);
    vec_free(&l.names);
    vec_free(&l.types);
}

/* State bytes: the module's (max_seq substituted) are spec_state_bytes, at
 * max_seq and at a shorter context that every window still fits in. */
static void check_state_bytes(const char *what)
{
    const ModelSpec *m = C.spec;
    ck_assert_msg(ir_module_state_bytes(C.mod) == (uint64_t)spec_state_bytes(m, m->max_seq),
                  "%s: state bytes %llu, spec_state_bytes %lld", what,
                  (unsigned long long)ir_module_state_bytes(C.mod), (long long)spec_state_bytes(m, m->max_seq));
    int64_t seq = m->max_seq / 2;
    bool ring_longer = false;
    uint64_t sum = 0;
    for (int i = 0; i < C.mod->n_states; i++) {
        const IrStateDecl *s = &C.mod->states[i];
        if (s->kind == IR_STATE_KV_CACHE && s->type.dims[1] != IR_DIM_MAX_SEQ && s->type.dims[1] > seq)
            ring_longer = true;
        sum += ir_state_bytes(C.mod, (IrState){i}, seq);
    }
    if (!ring_longer)
        ck_assert_msg(sum == (uint64_t)spec_state_bytes(m, seq), "%s: state bytes at %lld: %llu, spec says %lld", what,
                      (long long)seq, (unsigned long long)sum, (long long)spec_state_bytes(m, seq));
}

/* print -> parse -> print gives the same text. */
static void check_round_trip(const char *what)
{
    StrBuf a = {0}, b = {0};
    ir_print(&a, C.mod);
    SrcFile *src = src_from_string("rt.ir", sb_cstr(&a), &C.arena);
    IrModule *again = ir_parse(src, &C.arena, &C.in, &C.diag);
    ck_assert_msg(again, "%s: the printed module does not parse:\n%s", what, messages());
    ir_print(&b, again);
    ck_assert_msg(strcmp(sb_cstr(&a), sb_cstr(&b)) == 0, "%s: print -> parse -> print differs", what);
    sb_free(&a);
    sb_free(&b);
}

/* decode is prefill with one token: the same ops on the same params and
 * states; and every instruction has a location in the model's source. */
static void check_funcs(const char *what)
{
    const IrFunc *p = ir_find_func(C.mod, "prefill"), *d = ir_find_func(C.mod, "decode");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(p->n_insts, d->n_insts);
    for (int i = 0; i < p->n_insts; i++) {
        const IrInst *a = &p->insts[i], *b = &d->insts[i];
        ck_assert_msg(a->op == b->op && a->n_operands == b->n_operands, "%s: prefill and decode differ at %d", what,
                      i);
        for (int k = 0; k < a->n_operands; k++)
            if (a->operands[k].kind != IR_OPND_VALUE)
                ck_assert_msg(a->operands[k].kind == b->operands[k].kind && a->operands[k].id == b->operands[k].id,
                              "%s: prefill and decode use other params or states at %d", what, i);
        ck_assert_msg(a->loc.file == C.spec->src && a->loc.line > 0, "%s: instruction %d (%s) has no location",
                      what, i, ir_op_name(a->op));
    }
    ck_assert_int_eq(p->ret_type.dims[0], IR_DIM_T);
    ck_assert_int_eq(p->ret_type.dims[1], C.spec->vocab);
    ck_assert_int_eq(d->ret_type.dims[0], 1);
}

/* State names: layers.<i>.<...>.{kv,conv,ssm}, of the kind the suffix says. */
static void check_state_names(const char *what)
{
    for (int i = 0; i < C.mod->n_states; i++) {
        const IrStateDecl *s = &C.mod->states[i];
        const char *dot = strrchr(s->name, '.');
        ck_assert_msg(strncmp(s->name, "layers.", 7) == 0 && dot, "%s: state %s", what, s->name);
        IrStateKind want = strcmp(dot, ".kv") == 0     ? IR_STATE_KV_CACHE
                           : strcmp(dot, ".conv") == 0 ? IR_STATE_CONV
                                                       : IR_STATE_SSM;
        ck_assert_msg(s->kind == want && (want != IR_STATE_SSM || strcmp(dot, ".ssm") == 0), "%s: state %s", what,
                      s->name);
    }
}

/* Every .hyb the project ships. */
static char *model_files[128];
static int n_model_files;

static void add_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    char names[64][256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".hyb") == 0) snprintf(names[n++], 256, "%s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    for (int i = 0; i < n && n_model_files < 128; i++) {
        char *p = xmalloc(strlen(dir) + strlen(names[i]) + 2);
        sprintf(p, "%s/%s", dir, names[i]);
        model_files[n_model_files++] = p;
    }
}

START_TEST(test_model_file)
{
    const char *path = model_files[_i];
    fresh();
    SrcFile *src = src_load(path, &C.arena, &C.diag);
    ck_assert_msg(lower_src(src), "%s does not lower:\n%s", path, messages());
    ck_assert_msg(ir_verify(C.mod, &C.diag), "%s does not verify:\n%s", path, messages());
    check_params(path);
    check_state_bytes(path);
    check_state_names(path);
    check_funcs(path);
    check_round_trip(path);
}
END_TEST

/* ---- the residual wrapper, scales, norms, head ----------------------------------------- */

START_TEST(test_llama_structure)
{
    lower_ok("model m { d_model = 32  vocab = 64  tie_embeddings = false\n"
             "  layer l {\n"
             "    attention { heads = 4  kv_heads = 2  rope_fraction = 0.5 }\n"
             "    mlp { hidden = 64 }\n"
             "  }\n"
             "  stack { layers = 2  fill = l }\n"
             "}\n");
    IrFunc *fn = prefill();
    ck_assert_int_eq(count_op(fn, IR_OP_ATTENTION), 2);
    ck_assert_int_eq(count_op(fn, IR_OP_MLP), 2);
    ck_assert_int_eq(count_op(fn, IR_OP_RMSNORM), 5); /* 2 per layer + final */
    const IrInst *a = nth_op(fn, IR_OP_ATTENTION, 1);
    ck_assert_str_eq(param_in(a, "wq"), "layers.1.attention.q");
    ck_assert_str_eq(param_in(a, "wo"), "layers.1.attention.o");
    ck_assert_str_eq(state_in(a, "cache"), "layers.1.attention.kv");
    ck_assert_int_eq(ir_attr_i(a, "rope_dim"), 4); /* 0.5 · head_dim 8 */
    ck_assert(!ir_attr_has(a, "scale"));          /* the default 1/sqrt(head_dim) */
    /* The attention reads the norm of the previous layer's output, and the
     * residual adds to that output, not to the norm. */
    const IrInst *norm = def_of(fn, value_in(a, "x"));
    ck_assert_int_eq(norm->op, IR_OP_RMSNORM);
    ck_assert_str_eq(param_in(norm, "w"), "layers.1.attention.norm");
    int x = value_in(norm, "x");
    ck_assert_str_eq(fn->values[x].name, "layers.0.out");
    const IrInst *add = def_of(fn, value_in(nth_op(fn, IR_OP_RMSNORM, 3), "x"));
    ck_assert_int_eq(add->op, IR_OP_ADD);
    ck_assert_int_eq(value_in(add, "a"), x);
    ck_assert_int_eq(value_in(add, "b"), a->result);
    /* KV cache: [kv_heads, max_seq, 2 · head_dim] */
    const IrStateDecl *kv = &C.mod->states[ir_find_state(C.mod, "layers.0.attention.kv").id];
    ck_assert_int_eq(kv->kind, IR_STATE_KV_CACHE);
    ck_assert_int_eq(kv->type.dims[0], 2);
    ck_assert_int_eq(kv->type.dims[1], IR_DIM_MAX_SEQ);
    ck_assert_int_eq(kv->type.dims[2], 16);
    /* untied head */
    const IrInst *head = def_of(fn, fn->ret);
    ck_assert_int_eq(head->op, IR_OP_MATMUL);
    ck_assert_str_eq(param_in(head, "w"), "lm_head");
}
END_TEST

START_TEST(test_scales)
{
    lower_ok("model m { d_model = 32  vocab = 64  embedding_scale = 3  logits_scale = 0.25  residual_scale = 0.5\n"
             "  layer l { mlp { hidden = 64  in_scale = 2  out_scale = 1.5 } }\n"
             "  stack { layers = 1  fill = l }\n"
             "}\n");
    IrFunc *fn = prefill();
    ck_assert_int_eq(count_op(fn, IR_OP_SCALE), 5);
    double want[] = {3, 2, 1.5, 0.5, 0.25}; /* embedding, in, out, residual, logits */
    for (int i = 0; i < 5; i++) ck_assert_double_eq(ir_attr_f(nth_op(fn, IR_OP_SCALE, i), "factor"), want[i]);
    /* e0 is the scaled embedding; the head is tied and scaled last */
    const IrInst *s0 = nth_op(fn, IR_OP_SCALE, 0);
    ck_assert_str_eq(fn->values[s0->result].name, "e0");
    const IrInst *last = def_of(fn, fn->ret);
    ck_assert_int_eq(last->op, IR_OP_SCALE);
    ck_assert_str_eq(param_in(def_of(fn, value_in(last, "x")), "w"), "embed");
    /* each scale points at its key */
    ck_assert_int_eq(s0->loc.line, 1);
    ck_assert_int_eq(nth_op(fn, IR_OP_SCALE, 1)->loc.line, 2);
}
END_TEST

START_TEST(test_layernorm_offset)
{
    lower_ok("model m { d_model = 16  vocab = 32  norm = layernorm  norm_offset = 1  final_norm = false\n"
             "  layer l { mlp { hidden = 32 } }\n"
             "  stack { layers = 1  fill = l }\n"
             "}\n");
    IrFunc *fn = prefill();
    /* (1 + w)·x̂ + b = LN(x; w, b) + 1·LN(x) */
    ck_assert_int_eq(count_op(fn, IR_OP_LAYERNORM), 2);
    const IrInst *ln = nth_op(fn, IR_OP_LAYERNORM, 0);
    ck_assert_str_eq(param_in(ln, "w"), "layers.0.mlp.norm");
    ck_assert_str_eq(param_in(ln, "b"), "layers.0.mlp.norm_bias");
    ck_assert_ptr_null(param_in(nth_op(fn, IR_OP_LAYERNORM, 1), "w"));
    ck_assert_str_eq(param_in(def_of(fn, fn->ret), "w"), "embed"); /* no final norm */
}
END_TEST

START_TEST(test_states_and_window)
{
    lower_ok("model m { d_model = 32  vocab = 64  max_seq = 256\n"
             "  layer a { attention { heads = 2  window = 64 } }\n"
             "  layer b { attention { heads = 2  window = 1000 } }\n"
             "  layer c { mamba1 { d_state = 4 } mamba2 { heads = 2  head_dim = 16  d_state = 8  groups = 2 } }\n"
             "  layer d { short_conv { d_conv = 3 } deltanet { key_heads = 1  value_heads = 2  key_dim = 8  value_dim = 4 } }\n"
             "  stack { pattern = \"abcd\"  symbols { a = a  b = b  c = c  d = d } }\n"
             "}\n");
    struct {
        const char *name;
        IrStateKind kind;
        int rank;
        int64_t d0, d1, d2;
    } want[] = {
        {"layers.0.attention.kv", IR_STATE_KV_CACHE, 3, 2, 64, 32}, /* a ring of the window */
        {"layers.1.attention.kv", IR_STATE_KV_CACHE, 3, 2, IR_DIM_MAX_SEQ, 32},
        {"layers.2.mamba1.conv", IR_STATE_CONV, 2, 64, 3, 0},
        {"layers.2.mamba1.ssm", IR_STATE_SSM, 2, 64, 4, 0},
        {"layers.2.mamba2.conv", IR_STATE_CONV, 2, 32 + 2 * 2 * 8, 3, 0},
        {"layers.2.mamba2.ssm", IR_STATE_SSM, 3, 2, 16, 8},
        {"layers.3.short_conv.conv", IR_STATE_CONV, 2, 32, 2, 0},
        {"layers.3.deltanet.conv", IR_STATE_CONV, 2, 2 * 8 + 8, 3, 0},
        {"layers.3.deltanet.ssm", IR_STATE_SSM, 3, 2, 8, 4},
    };
    ck_assert_int_eq(C.mod->n_states, 9);
    for (int i = 0; i < 9; i++) {
        const IrStateDecl *s = &C.mod->states[i];
        ck_assert_str_eq(s->name, want[i].name);
        ck_assert_int_eq(s->kind, want[i].kind);
        ck_assert_int_eq(s->type.rank, want[i].rank);
        ck_assert_int_eq(s->type.dims[0], want[i].d0);
        ck_assert_int_eq(s->type.dims[1], want[i].d1);
        if (want[i].rank == 3) ck_assert_int_eq(s->type.dims[2], want[i].d2);
    }
    check_state_bytes("states");
    ck_assert_int_eq(ir_attr_i(nth_op(prefill(), IR_OP_ATTENTION, 0), "window"), 64);
}
END_TEST

START_TEST(test_dconv_one)
{
    ck_assert_ptr_null(lower_text("model m { d_model = 16  vocab = 32\n"
                                  "  layer l { mamba1 { d_conv = 1 } }\n"
                                  "  stack { layers = 1  fill = l }\n"
                                  "}\n"));
    ck_assert_ptr_nonnull(C.spec); /* sema accepted it */
    const char *want = "t.hyb:2:31: error: 'd_conv' = 1 cannot be compiled: a causal convolution needs d_conv >= 2\n";
    ck_assert_msg(strncmp(messages(), want, strlen(want)) == 0, "got: %s", messages());
}
END_TEST

START_TEST(test_locations)
{
    lower_ok("model m {\n"
             "  d_model = 32\n"
             "  vocab = 64\n"
             "  layer l {\n"
             "    mamba2 { heads = 2  head_dim = 16  d_state = 8 }\n"
             "    moe { experts = 4  top_k = 2  hidden = 16 }\n"
             "  }\n"
             "  stack { layers = 1  fill = l }\n"
             "}\n");
    IrFunc *fn = prefill();
    const IrInst *mix = nth_op(fn, IR_OP_MAMBA2_MIXER, 0), *moe = nth_op(fn, IR_OP_MOE, 0);
    ck_assert_int_eq(mix->loc.line, 5);
    ck_assert_int_eq(mix->loc.col, 5);
    ck_assert_int_eq(moe->loc.line, 6);
    ck_assert_int_eq(nth_op(fn, IR_OP_EMBED, 0)->loc.line, 1);
    const IrStateDecl *s = &C.mod->states[state_in(mix, "ssm") ? ir_find_state(C.mod, "layers.0.mamba2.ssm").id : 0];
    ck_assert_int_eq(s->loc.line, 5);
    ck_assert_int_eq(C.mod->params[ir_find_param(C.mod, "layers.0.moe.router").id].loc.line, 6);
}
END_TEST

/* ---- parallel --------------------------------------------------------------------------- */

static const char *parallel_src(char *buf, size_t n, const char *keys, const char *branch_keys)
{
    snprintf(buf, n,
             "model m { d_model = 32  vocab = 64\n"
             "  layer l {\n"
             "    parallel { %s\n"
             "      attention { heads = 2  head_dim = 16 %s }\n"
             "      mamba2 { heads = 2  head_dim = 16  d_state = 8 }\n"
             "    }\n"
             "  }\n"
             "  stack { layers = 1  fill = l }\n"
             "}\n",
             keys, branch_keys);
    return buf;
}

START_TEST(test_parallel_add_per_branch)
{
    /* Falcon-H1: composites with their own projections, summed. */
    char src[1024];
    lower_ok(parallel_src(src, sizeof src, "combine = add", "in_scale = 0.5  out_scale = 2"));
    IrFunc *fn = prefill();
    const IrInst *a = nth_op(fn, IR_OP_ATTENTION, 0), *m2 = nth_op(fn, IR_OP_MAMBA2_MIXER, 0);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(m2);
    ck_assert_str_eq(param_in(a, "wo"), "layers.0.parallel.attention.o");
    ck_assert_str_eq(state_in(a, "cache"), "layers.0.parallel.attention.kv");
    ck_assert_str_eq(param_in(m2, "out_proj"), "layers.0.parallel.mamba2.out_proj");
    /* both read the parallel block's norm; the attention through its in_scale */
    const IrInst *in_scale = def_of(fn, value_in(a, "x"));
    ck_assert_int_eq(in_scale->op, IR_OP_SCALE);
    ck_assert_int_eq(value_in(in_scale, "x"), value_in(m2, "x"));
    ck_assert_str_eq(param_in(def_of(fn, value_in(m2, "x")), "w"), "layers.0.parallel.norm");
    /* out_scale(attention) + mamba2, then the residual */
    const IrInst *sum = def_of(fn, value_in(def_of(fn, fn->ret), "x"));
    sum = def_of(fn, value_in(sum, "x")); /* final norm -> residual add */
    ck_assert_int_eq(sum->op, IR_OP_ADD);
    const IrInst *comb = def_of(fn, value_in(sum, "b"));
    ck_assert_int_eq(comb->op, IR_OP_ADD);
    ck_assert_int_eq(def_of(fn, value_in(comb, "a"))->op, IR_OP_SCALE);
    ck_assert_int_eq(value_in(comb, "b"), m2->result);
}
END_TEST

START_TEST(test_parallel_group_diff)
{
    /* The paper's best variant: group norm per head, diff, per-branch W_o;
     * the branches are emitted before their projections. */
    char src[1024];
    lower_ok(parallel_src(src, sizeof src, "branch_norm = group  combine = diff", ""));
    IrFunc *fn = prefill();
    ck_assert_int_eq(count_op(fn, IR_OP_ATTENTION), 0);
    ck_assert_int_eq(count_op(fn, IR_OP_MAMBA2_MIXER), 0);
    ck_assert_int_eq(count_op(fn, IR_OP_SDPA), 1);
    ck_assert_int_eq(count_op(fn, IR_OP_SSD_SCAN), 1);
    ck_assert_int_eq(count_op(fn, IR_OP_GROUP_RMSNORM), 2);
    for (int i = 0; i < 2; i++) {
        const IrInst *g = nth_op(fn, IR_OP_GROUP_RMSNORM, i);
        ck_assert_int_eq(ir_attr_i(g, "groups"), 2); /* one group per head */
        /* then the branch's own projection */
        const IrInst *proj = NULL;
        for (int k = 0; k < fn->n_insts; k++)
            if (fn->insts[k].op == IR_OP_MATMUL && value_in(&fn->insts[k], "x") == g->result) proj = &fn->insts[k];
        ck_assert_ptr_nonnull(proj);
        ck_assert_str_eq(param_in(proj, "w"), i == 0 ? "layers.0.parallel.attention.o" : "layers.0.parallel.mamba2.out_proj");
        ck_assert_str_eq(param_in(g, "w"), i == 0 ? "layers.0.parallel.attention.branch_norm"
                                                  : "layers.0.parallel.mamba2.branch_norm");
    }
    ck_assert_int_eq(count_op(fn, IR_OP_SUB), 1);
    const IrInst *sub = nth_op(fn, IR_OP_SUB, 0);
    ck_assert_str_eq(param_in(def_of(fn, value_in(sub, "a")), "w"), "layers.0.parallel.attention.o");
    ck_assert_str_eq(param_in(def_of(fn, value_in(sub, "b")), "w"), "layers.0.parallel.mamba2.out_proj");
    /* the states keep their names on this path too */
    ck_assert_str_eq(state_in(nth_op(fn, IR_OP_SDPA, 0), "cache"), "layers.0.parallel.attention.kv");
    ck_assert_str_eq(state_in(nth_op(fn, IR_OP_SSD_SCAN, 0), "state"), "layers.0.parallel.mamba2.ssm");
    check_params("group/diff");
    check_round_trip("group/diff");
}
END_TEST

START_TEST(test_parallel_mean_shared)
{
    /* Hymba: RMS branch norms, mean, one shared W_o. */
    char src[1024];
    lower_ok(parallel_src(src, sizeof src, "branch_norm = rms  combine = mean  out_proj = shared", ""));
    IrFunc *fn = prefill();
    ck_assert(!has_param("layers.0.parallel.attention.o"));
    ck_assert(!has_param("layers.0.parallel.mamba2.out_proj"));
    const IrInst *w_o = user_of_param(fn, "layers.0.parallel.out_proj");
    ck_assert_int_eq(w_o->op, IR_OP_MATMUL);
    const IrInst *mean = def_of(fn, value_in(w_o, "x"));
    ck_assert_int_eq(mean->op, IR_OP_SCALE);
    ck_assert_double_eq(ir_attr_f(mean, "factor"), 0.5);
    const IrInst *sum = def_of(fn, value_in(mean, "x"));
    ck_assert_int_eq(sum->op, IR_OP_ADD);
    ck_assert_str_eq(param_in(def_of(fn, value_in(sum, "a")), "w"), "layers.0.parallel.attention.branch_norm");
    ck_assert_str_eq(param_in(def_of(fn, value_in(sum, "b")), "w"), "layers.0.parallel.mamba2.branch_norm");
}
END_TEST

START_TEST(test_parallel_concat_gate)
{
    char src[1024];
    lower_ok(parallel_src(src, sizeof src, "branch_scale = gate  combine = concat  out_proj = shared", ""));
    IrFunc *fn = prefill();
    const IrInst *w_o = user_of_param(fn, "layers.0.parallel.out_proj");
    const IrInst *cat = def_of(fn, value_in(w_o, "x"));
    ck_assert_int_eq(cat->op, IR_OP_CONCAT);
    ck_assert_int_eq(cat->n_operands, 2);
    ck_assert_int_eq(C.mod->params[ir_find_param(C.mod, "layers.0.parallel.out_proj").id].type.dims[1], 64);
    /* each branch ⊙ σ(h·wᵀ), h the parallel block's normed input */
    int h = value_in(nth_op(fn, IR_OP_MATMUL, 0), "x");
    ck_assert_str_eq(param_in(def_of(fn, h), "w"), "layers.0.parallel.norm");
    for (int i = 0; i < 2; i++) {
        const IrInst *mul = def_of(fn, cat->operands[i].id);
        ck_assert_int_eq(mul->op, IR_OP_MUL);
        const IrInst *sig = def_of(fn, value_in(mul, "b"));
        ck_assert_int_eq(sig->op, IR_OP_SIGMOID);
        const IrInst *gate = def_of(fn, value_in(sig, "x"));
        ck_assert_int_eq(value_in(gate, "x"), h);
        ck_assert_str_eq(param_in(gate, "w"), i == 0 ? "layers.0.parallel.attention.branch_scale"
                                                     : "layers.0.parallel.mamba2.branch_scale");
    }
}
END_TEST

START_TEST(test_parallel_scale_and_bias)
{
    /* β multiplies the branch before its projection: with an o bias the
     * attention is emitted from primitives; the mamba2 (no bias) keeps its
     * composite, scaled after it (the same product). */
    char src[1024];
    lower_ok(parallel_src(src, sizeof src, "branch_scale = scale", "bias = true"));
    IrFunc *fn = prefill();
    ck_assert_int_eq(count_op(fn, IR_OP_ATTENTION), 0);
    ck_assert_int_eq(count_op(fn, IR_OP_MAMBA2_MIXER), 1);
    const IrInst *o = user_of_param(fn, "layers.0.parallel.attention.o");
    ck_assert_str_eq(param_in(o, "bias"), "layers.0.parallel.attention.o_bias");
    const IrInst *beta = def_of(fn, value_in(o, "x"));
    ck_assert_int_eq(beta->op, IR_OP_MUL);
    ck_assert_str_eq(param_in(beta, "b"), "layers.0.parallel.attention.branch_scale");
    const IrInst *mb = user_of_param(fn, "layers.0.parallel.mamba2.branch_scale");
    ck_assert_int_eq(value_in(mb, "a"), nth_op(fn, IR_OP_MAMBA2_MIXER, 0)->result);
}
END_TEST

START_TEST(test_parallel_other_branches)
{
    /* mamba1, short_conv and deltanet before their projections */
    lower_ok("model m { d_model = 32  vocab = 64\n"
             "  layer l {\n"
             "    parallel { branch_norm = rms  out_proj = shared\n"
             "      mamba1 { d_inner = 32  d_state = 4 }\n"
             "      short_conv { }\n"
             "      deltanet { key_heads = 2  value_heads = 4  key_dim = 8  value_dim = 8 }\n"
             "    }\n"
             "  }\n"
             "  stack { layers = 1  fill = l }\n"
             "}\n");
    IrFunc *fn = prefill();
    ck_assert_int_eq(count_op(fn, IR_OP_SELECTIVE_SCAN), 1);
    ck_assert_int_eq(count_op(fn, IR_OP_GATED_DELTA_RULE), 1);
    ck_assert_int_eq(count_op(fn, IR_OP_CAUSAL_CONV1D), 3);
    ck_assert_int_eq(count_op(fn, IR_OP_RMSNORM), 3 + 1 + 1); /* branch norms, the block's norm, final */
    check_params("branches");
    check_state_bytes("branches");
}
END_TEST

/* MODELS.md §1.3: concatenating the branches and applying one W_o equals
 * projecting each branch with its own slice of W_o and adding.  Run both
 * models (with branch out_scales, which scale W_o's columns) on the same
 * weights and compare the logits. */
START_TEST(test_parallel_concat_identity)
{
    static const char SRC[] = "model m { d_model = 32  vocab = 64\n"
                              "  layer l { parallel { %s\n"
                              "      attention { heads = 2  head_dim = 16  out_scale = 1.5 }\n"
                              "      mamba2 { heads = 2  head_dim = 16  d_state = 8  chunk = 4  out_scale = 0.5 } }\n"
                              "    mlp { hidden = 64 } }\n"
                              "  stack { layers = 2  fill = l }\n}\n";
    char text[1024];
    fresh();
    IrModule *mods[2];
    const char *keys[2] = {"combine = concat  out_proj = shared", "combine = add  out_proj = per_branch"};
    for (int i = 0; i < 2; i++) {
        snprintf(text, sizeof text, SRC, keys[i]);
        mods[i] = lower_src(src_from_string(i ? "b.hyb" : "a.hyb", arena_strdup(&C.arena, text), &C.arena));
        ck_assert_msg(mods[i] && interp_lower(mods[i], &C.diag), "%s", messages());
    }
    IrModule *A = mods[0], *B = mods[1];
    Weights wa, wb;
    weights_random(&wa, A, 5);
    weights_random(&wb, B, 5);
    for (int i = 0; i < B->n_params; i++) {
        const IrParamDecl *p = &B->params[i];
        int64_t n = 1;
        for (int d = 0; d < p->type.rank; d++) n *= p->type.dims[d];
        IrParam same = ir_find_param(A, p->name);
        if (same.id >= 0) {
            memcpy(wb.data[i], wa.data[same.id], sizeof(float) * (size_t)n);
            continue;
        }
        /* layers.<i>.parallel.attention.o / mamba2.out_proj [32, 32]: columns
         * [0, 32) / [32, 64) of layers.<i>.parallel.out_proj [32, 64] */
        int depth = -1;
        ck_assert_int_eq(sscanf(p->name, "layers.%d.", &depth), 1);
        char wo_name[64];
        snprintf(wo_name, sizeof wo_name, "layers.%d.parallel.out_proj", depth);
        IrParam wo = ir_find_param(A, wo_name);
        ck_assert_int_ge(wo.id, 0);
        int col0 = strstr(p->name, ".attention.o") ? 0 : 32;
        for (int r = 0; r < 32; r++)
            for (int c = 0; c < 32; c++) wb.data[i][r * 32 + c] = wa.data[wo.id][r * 64 + col0 + c];
    }
    enum { T = 12, V = 64 };
    int32_t tok[T];
    for (int t = 0; t < T; t++) tok[t] = (t * 5 + 3) % V;
    static float la[T * V], lb[T * V];
    InterpSession *sa = interp_new(A, &wa), *sb = interp_new(B, &wb);
    ck_assert(interp_prefill(sa, tok, T, la, &C.diag));
    ck_assert(interp_prefill(sb, tok, T, lb, &C.diag));
    double num = 0, den = 0;
    for (int i = 0; i < T * V; i++) num += ((double)la[i] - lb[i]) * ((double)la[i] - lb[i]), den += (double)la[i] * la[i];
    ck_assert_msg(den > 0 && sqrt(num / den) < 1e-5, "rel L2 %g", sqrt(num / den));
    interp_free(sa);
    interp_free(sb);
    weights_free(&wa);
    weights_free(&wb);
}
END_TEST

/* ---- shared blocks -------------------------------------------------------------------------- */

static const char ZAMBA[] = "model z { d_model = 32  vocab = 64\n"
                            "  shared_block blk {\n"
                            "    attention { heads = 2  rope = false  adapter_rank = 4  residual = false }\n"
                            "    mlp { act = geglu  hidden = 64  adapter_rank = 4  residual = false }\n"
                            "  }\n"
                            "  layer mamba { mamba2 { heads = 2  head_dim = 16  d_state = 8 } }\n"
                            "  layer hybrid { use blk { }  mamba2 { heads = 2  head_dim = 16  d_state = 8 } }\n"
                            "  stack { layers = 4  fill = mamba  place hybrid { at = [1, 3] } }\n"
                            "}\n";

START_TEST(test_use_wiring)
{
    lower_ok(ZAMBA);
    IrFunc *fn = prefill();
    ck_assert_int_eq(count_op(fn, IR_OP_ATTENTION), 2);
    ck_assert_int_eq(count_op(fn, IR_OP_CONCAT), 2);
    int e0 = nth_op(fn, IR_OP_EMBED, 0)->result;
    for (int site = 0; site < 2; site++) {
        int depth = site == 0 ? 1 : 3;
        char name[64];
        /* [x ; e0]: x is the previous layer's output */
        const IrInst *cat = nth_op(fn, IR_OP_CONCAT, site);
        snprintf(name, sizeof name, "layers.%d.out", depth - 1);
        ck_assert_str_eq(fn->values[cat->operands[0].id].name, name);
        ck_assert_int_eq(cat->operands[1].id, e0);
        /* the shared weights, this site's cache and adapters */
        const IrInst *a = nth_op(fn, IR_OP_ATTENTION, site);
        ck_assert_str_eq(param_in(a, "wq"), "shared.blk.attention.q");
        snprintf(name, sizeof name, "layers.%d.use.attention.kv", depth);
        ck_assert_str_eq(state_in(a, "cache"), name);
        snprintf(name, sizeof name, "layers.%d.use.attention.v_lora_b", depth);
        ck_assert_str_eq(param_in(a, "v_lora_b"), name);
        ck_assert_int_eq(value_in(def_of(fn, value_in(a, "x")), "x"), cat->result); /* norm of [x ; e0] */
        /* t = site_proj(...) joins the next sublayer's input only */
        snprintf(name, sizeof name, "layers.%d.use.site_proj", depth);
        const IrInst *t = user_of_param(fn, name);
        const IrInst *mix = nth_op(fn, IR_OP_MAMBA2_MIXER, depth);
        const IrInst *norm = def_of(fn, value_in(mix, "x"));
        snprintf(name, sizeof name, "layers.%d.mamba2.norm", depth);
        ck_assert_str_eq(param_in(norm, "w"), name);
        const IrInst *x_plus_t = def_of(fn, value_in(norm, "x"));
        ck_assert_int_eq(x_plus_t->op, IR_OP_ADD);
        ck_assert_int_eq(value_in(x_plus_t, "a"), cat->operands[0].id);
        ck_assert_int_eq(value_in(x_plus_t, "b"), t->result);
        snprintf(name, sizeof name, "layers.%d.out", depth);
        const IrInst *resid = NULL;
        for (int k = 0; k < fn->n_insts; k++)
            if (fn->insts[k].result >= 0 && fn->values[fn->insts[k].result].name &&
                strcmp(fn->values[fn->insts[k].result].name, name) == 0)
                resid = &fn->insts[k];
        ck_assert_int_eq(resid->op, IR_OP_ADD);
        ck_assert_int_eq(value_in(resid, "a"), cat->operands[0].id); /* x, not x + t */
        ck_assert_int_eq(value_in(resid, "b"), mix->result);
    }
    /* the gated MLP with adapters on gate and up, from primitives */
    ck_assert_int_eq(count_op(fn, IR_OP_MLP), 0);
    ck_assert_int_eq(count_op(fn, IR_OP_GELU), 2);
    ck_assert_ptr_nonnull(user_of_param(fn, "layers.3.use.mlp.gate_lora_a"));
    ck_assert_ptr_nonnull(user_of_param(fn, "layers.3.use.mlp.up_lora_b"));
    check_params("zamba");
    check_state_bytes("zamba");
}
END_TEST

START_TEST(test_use_residual_input)
{
    /* input = residual: the block reads x itself; a residual sublayer adds
     * to the block's own stream. */
    lower_ok("model z { d_model = 32  vocab = 64\n"
             "  shared_block blk { input = residual\n"
             "    mlp { hidden = 64 }\n"
             "  }\n"
             "  layer hybrid { use blk { }  mlp { hidden = 32 } }\n"
             "  stack { layers = 1  fill = hybrid }\n"
             "}\n");
    IrFunc *fn = prefill();
    ck_assert_int_eq(count_op(fn, IR_OP_CONCAT), 0);
    int e0 = nth_op(fn, IR_OP_EMBED, 0)->result;
    const IrInst *m0 = nth_op(fn, IR_OP_MLP, 0);
    ck_assert_str_eq(param_in(m0, "up"), "shared.blk.mlp.up");
    ck_assert_int_eq(value_in(def_of(fn, value_in(m0, "x")), "x"), e0);
    const IrInst *t = user_of_param(fn, "layers.0.use.site_proj");
    const IrInst *inner = def_of(fn, value_in(t, "x"));
    ck_assert_int_eq(inner->op, IR_OP_ADD); /* e0 + mlp: the block's residual */
    ck_assert_int_eq(value_in(inner, "a"), e0);
    ck_assert_int_eq(value_in(inner, "b"), m0->result);
}
END_TEST

/* ---- suite -------------------------------------------------------------------------------- */

static Suite *lower_suite(void)
{
    Suite *s = suite_create("lower");
    TCase *tc = tcase_create("models");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, NULL, teardown);
    add_dir("examples");
    add_dir("tests/sema");
    add_dir("tests/golden/ir");
    tcase_add_loop_test(tc, test_model_file, 0, n_model_files);
    suite_add_tcase(s, tc);

    tc = tcase_create("structure");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_llama_structure);
    tcase_add_test(tc, test_scales);
    tcase_add_test(tc, test_layernorm_offset);
    tcase_add_test(tc, test_states_and_window);
    tcase_add_test(tc, test_dconv_one);
    tcase_add_test(tc, test_locations);
    suite_add_tcase(s, tc);

    tc = tcase_create("parallel");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_parallel_add_per_branch);
    tcase_add_test(tc, test_parallel_group_diff);
    tcase_add_test(tc, test_parallel_mean_shared);
    tcase_add_test(tc, test_parallel_concat_gate);
    tcase_add_test(tc, test_parallel_scale_and_bias);
    tcase_add_test(tc, test_parallel_other_branches);
    tcase_add_test(tc, test_parallel_concat_identity);
    suite_add_tcase(s, tc);

    tc = tcase_create("shared blocks");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_use_wiring);
    tcase_add_test(tc, test_use_residual_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lower_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    for (int i = 0; i < n_model_files; i++) free(model_files[i]);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
