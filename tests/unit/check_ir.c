/* check_ir.c — unit tests of the Graph IR (ir/) and the pass manager
 * (passes/): the op table, the builder, print -> parse -> print, the
 * verifier's invariants one by one, state sizes, and the pass manager's
 * ordering, disabling, dumping, verifying and timing.
 *
 * Each test builds or parses into a fresh arena; diagnostics go to a memory
 * stream so that tests can look at their text.
 */
#include "ir/ir.h"
#include "passes/passes.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixture ---------------------------------------------------------------- */

typedef struct Ctx {
    Arena arena;
    Interner in;
    Diag diag;
    FILE *diag_out;
    char *diag_text;
    size_t diag_len;
    FILE *dump_out; /* pass dumps and timing */
    char *dump_text;
    size_t dump_len;
} Ctx;

static Ctx C;

static void ctx_free(void)
{
    if (C.diag_out) fclose(C.diag_out);
    if (C.dump_out) fclose(C.dump_out);
    free(C.diag_text);
    free(C.dump_text);
    if (C.in.slots) intern_free(&C.in);
    arena_free(&C.arena);
    memset(&C, 0, sizeof C);
}

static void ctx_init(void)
{
    ctx_free();
    arena_init(&C.arena);
    intern_init(&C.in, &C.arena);
    C.diag_out = open_memstream(&C.diag_text, &C.diag_len);
    C.dump_out = open_memstream(&C.dump_text, &C.dump_len);
    ck_assert_ptr_nonnull(C.diag_out);
    ck_assert_ptr_nonnull(C.dump_out);
    diag_init(&C.diag, C.diag_out);
    C.diag.color = false;
}

static void setup(void) { ctx_init(); }
static void teardown(void) { ctx_free(); }

static const char *messages(void)
{
    fflush(C.diag_out);
    return C.diag_text ? C.diag_text : "";
}

static const char *dumps(void)
{
    fflush(C.dump_out);
    return C.dump_text ? C.dump_text : "";
}

#define ck_assert_has(hay, needle)                                                         \
    do {                                                                                   \
        const char *h_ = (hay), *n_ = (needle);                                            \
        ck_assert_msg(strstr(h_, n_) != NULL, "expected \"%s\" in:\n%s", n_, h_);          \
    } while (0)

static const SrcFile *text_file(const char *name, const char *text)
{
    SrcFile *f = ARENA_NEW(&C.arena, SrcFile);
    f->name = name;
    f->text = arena_strdup(&C.arena, text);
    f->len = strlen(text);
    return f;
}

static IrModule *parse(const char *text)
{
    return ir_parse(text_file("t.ir", text), &C.arena, &C.in, &C.diag);
}

static char *print(const IrModule *m)
{
    StrBuf sb = {0};
    ir_print(&sb, m);
    char *s = arena_strdup(&C.arena, sb_cstr(&sb));
    sb_free(&sb);
    return s;
}

static int count_op(const IrFunc *fn, IrOp op)
{
    int n = 0;
    for (int i = 0; i < fn->n_insts; i++) n += fn->insts[i].op == op;
    return n;
}

static int count_composites(const IrModule *m)
{
    int n = 0;
    for (int f = 0; f < m->n_funcs; f++)
        for (int i = 0; i < m->funcs[f]->n_insts; i++)
            n += (ir_op_info(m->funcs[f]->insts[i].op)->flags & IR_OPF_COMPOSITE) != 0;
    return n;
}

/* ---- a module built with the builder ----------------------------------------
 * embed -> rmsnorm -> attention -> add -> rmsnorm -> mamba2 -> add ->
 * rmsnorm -> mlp -> add -> rmsnorm -> LM head (tied), in prefill and decode. */

typedef struct Tiny {
    IrModule *m;
    IrParam embed, norm, q, k, v, o, in_proj, conv_w, conv_b, dt_bias, a_log, d, mnorm, out_proj, up,
        down, gate;
    IrState kv, conv, ssm;
} Tiny;

static SrcLoc at_line(int line)
{
    static SrcFile f = {"tiny.hyb", "", 0};
    SrcLoc l = {&f, line, 3, 0, 0};
    return l;
}

static IrValue tiny_layers(Tiny *t, IrFunc *fn, IrValue tokens)
{
    IrBuilder b = ir_builder(fn, at_line(2));
    IrValue x = ir_embed(&b, tokens, t->embed); /* [T, 16] */
    b.loc = at_line(3);
    IrValue h = ir_rmsnorm(&b, x, t->norm, 1e-5);
    IrValue a = ir_emit_named(fn, IR_OP_ATTENTION,
                              IR_NAMED({"x", ir_v(h)}, {"wq", ir_p(t->q)}, {"wk", ir_p(t->k)},
                                       {"wv", ir_p(t->v)}, {"wo", ir_p(t->o)}, {"cache", ir_s(t->kv)}),
                              IR_ATTRS(IR_AI("heads", 4), IR_AI("kv_heads", 2), IR_AI("rope_dim", 4)),
                              b.loc);
    x = ir_add(&b, x, a);
    b.loc = at_line(4);
    h = ir_rmsnorm(&b, x, t->norm, 1e-5);
    IrValue mm = ir_emit_named(fn, IR_OP_MAMBA2_MIXER,
                               IR_NAMED({"x", ir_v(h)}, {"in_proj", ir_p(t->in_proj)},
                                        {"conv_w", ir_p(t->conv_w)}, {"dt_bias", ir_p(t->dt_bias)},
                                        {"A_log", ir_p(t->a_log)}, {"D", ir_p(t->d)},
                                        {"out_proj", ir_p(t->out_proj)}, {"conv", ir_s(t->conv)},
                                        {"ssm", ir_s(t->ssm)}, {"conv_b", ir_p(t->conv_b)},
                                        {"norm", ir_p(t->mnorm)}),
                               IR_ATTRS(IR_AI("chunk", 16)), b.loc);
    x = ir_add(&b, x, mm);
    b.loc = at_line(5);
    h = ir_rmsnorm(&b, x, t->norm, 1e-5);
    IrValue f = ir_emit_named(fn, IR_OP_MLP,
                              IR_NAMED({"x", ir_v(h)}, {"up", ir_p(t->up)}, {"down", ir_p(t->down)},
                                       {"gate", ir_p(t->gate)}),
                              IR_ATTRS(IR_AS("act", "swiglu")), b.loc);
    x = ir_add(&b, x, f);
    ir_value_set_name(fn, x, "resid");
    b.loc = at_line(6);
    return ir_matmul(&b, ir_rmsnorm(&b, x, t->norm, 1e-5), t->embed); /* [T, 32] */
}

static Tiny build_tiny(void)
{
    Tiny t;
    SrcLoc none = loc_none();
    IrModule *m = t.m = ir_module_new(&C.arena, &C.in, "tiny", at_line(1));
    m->max_seq = 64;
    t.embed = ir_declare_param(m, "embed", IR_TYPE(IR_DT_BF16, 32, 16), none);
    t.norm = ir_declare_param(m, "norm", IR_TYPE(IR_DT_F32, 16), none);
    t.q = ir_declare_param(m, "attn.q", IR_TYPE(IR_DT_F32, 16, 16), none);
    t.k = ir_declare_param(m, "attn.k", IR_TYPE(IR_DT_F32, 8, 16), none);
    t.v = ir_declare_param(m, "attn.v", IR_TYPE(IR_DT_F32, 8, 16), none);
    t.o = ir_declare_param(m, "attn.o", IR_TYPE(IR_DT_F32, 16, 16), none);
    /* Mamba-2: H = 4, P = 8 (E = 32), G = 1, N = 4, K = 4 */
    t.in_proj = ir_declare_param(m, "ssm.in_proj", IR_TYPE(IR_DT_F32, 76, 16), none);
    t.conv_w = ir_declare_param(m, "ssm.conv_w", IR_TYPE(IR_DT_F32, 40, 1, 4), none);
    t.conv_b = ir_declare_param(m, "ssm.conv_b", IR_TYPE(IR_DT_F32, 40), none);
    t.dt_bias = ir_declare_param(m, "ssm.dt_bias", IR_TYPE(IR_DT_F32, 4), none);
    t.a_log = ir_declare_param(m, "ssm.A_log", IR_TYPE(IR_DT_F32, 4), none);
    t.d = ir_declare_param(m, "ssm.D", IR_TYPE(IR_DT_F32, 4), none);
    t.mnorm = ir_declare_param(m, "ssm.norm", IR_TYPE(IR_DT_F32, 32), none);
    t.out_proj = ir_declare_param(m, "ssm.out_proj", IR_TYPE(IR_DT_F32, 16, 32), none);
    t.up = ir_declare_param(m, "mlp.up", IR_TYPE(IR_DT_F32, 24, 16), none);
    t.down = ir_declare_param(m, "mlp.down", IR_TYPE(IR_DT_F32, 16, 24), none);
    t.gate = ir_declare_param(m, "mlp.gate", IR_TYPE(IR_DT_F32, 24, 16), none);
    t.kv = ir_declare_state(m, "attn.kv", IR_STATE_KV_CACHE, IR_TYPE(IR_DT_F32, 2, IR_DIM_MAX_SEQ, 8), none);
    t.conv = ir_declare_state(m, "ssm.conv", IR_STATE_CONV, IR_TYPE(IR_DT_F32, 40, 3), none);
    t.ssm = ir_declare_state(m, "ssm.ssm", IR_STATE_SSM, IR_TYPE(IR_DT_F16, 4, 8, 4), none);
    for (int i = 0; i < 2; i++) {
        IrFunc *fn = ir_func_new(m, i ? "decode" : "prefill", at_line(1));
        IrValue tok = ir_func_arg(fn, i ? "token" : "tokens", IR_TYPE(IR_DT_I32, i ? 1 : IR_DIM_T));
        ir_func_return(fn, tiny_layers(&t, fn, tok), at_line(6));
    }
    return t;
}

/* A small valid module as text, for the parser and verifier tests:
 * BODY is spliced into prefill after `%0 = embed(...)`, and must define
 * %9 (the logits). */
static char *tiny_text(const char *params, const char *body)
{
    return arena_printf(&C.arena,
                        "module @m {\n"
                        "  max_seq = 16\n"
                        "  param @embed : f32[32, 16]\n"
                        "%s"
                        "  func @prefill(%%tokens: i32[T]) -> f32[T, 32] {\n"
                        "    %%0 = embed(%%tokens, @embed) : f32[T, 16]\n"
                        "%s"
                        "    return %%9\n"
                        "  }\n"
                        "  func @decode(%%token: i32[1]) -> f32[1, 32] {\n"
                        "    %%0 = embed(%%token, @embed) : f32[1, 16]\n"
                        "    %%1 = matmul(%%0, @embed) : f32[1, 32]\n"
                        "    return %%1\n"
                        "  }\n"
                        "}\n",
                        params, body);
}

/* ==== op table ================================================================ */

START_TEST(test_op_table)
{
    int composites = 0;
    for (int i = 0; i < IR_OP_COUNT; i++) {
        const IrOpInfo *info = ir_op_info((IrOp)i);
        ck_assert_int_eq(info->op, i);
        ck_assert_ptr_nonnull(info->shape);
        ck_assert_int_ge(info->n_slots, 1);
        ck_assert_int_le(info->n_required, info->n_slots);
        ck_assert_int_eq(ir_op_lookup(info->name), i);
        for (int s = 0; s < info->n_slots; s++) ck_assert_int_eq(ir_op_slot((IrOp)i, info->slots[s].name), s);
        for (int a = 0; a < info->n_attrs; a++) ck_assert_int_eq(ir_op_attr((IrOp)i, info->attrs[a].name), a);
        composites += (info->flags & IR_OPF_COMPOSITE) != 0;
    }
    ck_assert_int_eq(composites, 7);
    ck_assert_int_eq(ir_op_lookup("no_such_op"), IR_OP_COUNT);
    const IrOpInfo *ssd = ir_op_info(IR_OP_SSD_SCAN);
    ck_assert_str_eq(ssd->name, "ssd_scan");
    ck_assert(ssd->flags & IR_OPF_WRITES_STATE);
    ck_assert_int_eq(ssd->slots[ir_op_slot(IR_OP_SSD_SCAN, "state")].cls, IR_OC_SSM);
    ck_assert(ssd->slots[ir_op_slot(IR_OP_SSD_SCAN, "D")].optional);
    ck_assert_int_eq(ir_op_info(IR_OP_KV_STORE)->n_results, 0);
    ck_assert(ir_op_info(IR_OP_CONCAT)->variadic);
    const IrOpInfo *route = ir_op_info(IR_OP_ROUTE);
    const IrAttrSpec *mode = &route->attrs[ir_op_attr(IR_OP_ROUTE, "mode")];
    ck_assert_int_eq(mode->n_choices, 3);
    ck_assert_str_eq(mode->def.s, "softmax_topk");
    ck_assert(route->attrs[ir_op_attr(IR_OP_ROUTE, "k")].required);
    const IrAttrSpec *clamp_min = &ir_op_info(IR_OP_CLAMP)->attrs[0];
    ck_assert(isinf(clamp_min->def.f) && clamp_min->def.f < 0);
}
END_TEST

START_TEST(test_types)
{
    StrBuf sb = {0};
    IrType t = IR_TYPE(IR_DT_BF16, IR_DIM_T, 64);
    ir_type_print(&sb, &t);
    ck_assert_str_eq(sb_cstr(&sb), "bf16[T, 64]");
    sb_free(&sb);
    IrType s = IR_TYPE(IR_DT_F32, 2, IR_DIM_MAX_SEQ, 8);
    ir_type_print(&sb, &s);
    ck_assert_str_eq(sb_cstr(&sb), "f32[2, max_seq, 8]");
    sb_free(&sb);
    IrType u = IR_TYPE(IR_DT_BF16, IR_DIM_T, 64);
    ck_assert(ir_type_eq(&t, &u));
    u.dtype = IR_DT_F16;
    ck_assert(!ir_type_eq(&t, &u));
    ck_assert_int_eq(ir_dtype_size(IR_DT_BF16), 2);
    ck_assert_int_eq(ir_dtype_size(IR_DT_I32), 4);
    IrDType dt;
    ck_assert(ir_dtype_lookup("f16", &dt) && dt == IR_DT_F16);
    ck_assert(!ir_dtype_lookup("f64", &dt));
    IrStateKind k;
    ck_assert(ir_state_kind_lookup("ssm_state", &k) && k == IR_STATE_SSM);
    ck_assert_str_eq(ir_state_kind_name(IR_STATE_CONV), "conv_state");
}
END_TEST

/* ==== builder ================================================================= */

START_TEST(test_builder_module)
{
    Tiny t = build_tiny();
    ck_assert_msg(ir_verify(t.m, &C.diag), "%s", messages());
    IrFunc *pre = ir_find_func(t.m, "prefill"), *dec = ir_find_func(t.m, "decode");
    ck_assert_ptr_nonnull(pre);
    ck_assert_ptr_nonnull(dec);
    ck_assert_int_eq(count_op(pre, IR_OP_ATTENTION), 1);
    ck_assert_int_eq(count_op(pre, IR_OP_RMSNORM), 4);
    /* shapes inferred by the shape rules */
    IrType logits = IR_TYPE(IR_DT_F32, IR_DIM_T, 32), logits1 = IR_TYPE(IR_DT_F32, 1, 32);
    ck_assert(ir_type_eq(&pre->ret_type, &logits));
    ck_assert(ir_type_eq(&dec->ret_type, &logits1));
    const IrInst *att = &pre->insts[2];
    ck_assert_int_eq(att->op, IR_OP_ATTENTION);
    ck_assert_int_eq(att->n_operands, 6); /* absent optional tail not stored */
    ck_assert_int_eq(ir_attr_i(att, "heads"), 4);
    ck_assert(!ir_attr_has(att, "rope_base"));
    ck_assert(ir_attr_f(att, "rope_base") == 10000.0); /* the default */
    ck_assert_int_eq(ir_inst_operand(att, "bq").kind, IR_OPND_NONE);
    ck_assert_int_eq(ir_inst_operand(att, "cache").kind, IR_OPND_STATE);
    ck_assert_str_eq(att->loc.file->name, "tiny.hyb");
    ck_assert_int_eq(att->loc.line, 3);
    /* the named value prints by name; numbers skip it */
    char *text = print(t.m);
    ck_assert_has(text, "%resid = add(");
    ck_assert_has(text, "state $attn.kv : kv_cache f32[2, max_seq, 8]");
    ck_assert_has(text, "loc(\"tiny.hyb\":3:3)");
    ck_assert(ir_find_param(t.m, "attn.q").id == t.q.id);
    ck_assert_int_eq(ir_find_param(t.m, "nope").id, -1);
    ck_assert_int_eq(ir_find_state(t.m, "ssm.ssm").id, t.ssm.id);
}
END_TEST

START_TEST(test_builder_helpers)
{
    IrModule *m = ir_module_new(&C.arena, &C.in, "h", loc_none());
    IrParam w = ir_declare_param(m, "w", IR_TYPE(IR_DT_F32, 24, 16), loc_none());
    IrParam bias = ir_declare_param(m, "b", IR_TYPE(IR_DT_F32, 24), loc_none());
    IrFunc *fn = ir_func_new(m, "prefill", loc_none());
    IrValue x0 = ir_func_arg(fn, "x", IR_TYPE(IR_DT_F32, IR_DIM_T, 16));
    IrBuilder b = ir_builder(fn, loc_none());
    IrValue y = ir_matmul_bias(&b, x0, w, bias);
    IrType t24 = IR_TYPE(IR_DT_F32, IR_DIM_T, 24);
    ck_assert(ir_type_eq(ir_value_type(fn, y), &t24));
    IrValue s = ir_slice(&b, y, 8, 8);
    IrValue r = ir_reshape(&b, y, 2, (int64_t[]){3, 8});
    IrType t38 = IR_TYPE(IR_DT_F32, IR_DIM_T, 3, 8);
    ck_assert(ir_type_eq(ir_value_type(fn, r), &t38));
    IrValue parts[2] = {s, y};
    IrValue c = ir_concat(&b, parts, 2);
    ck_assert_int_eq(ir_value_type(fn, c)->dims[1], 32);
    IrValue e = ir_unary(&b, IR_OP_EXP, ir_p(bias)); /* a param-only value */
    IrType f24 = IR_TYPE(IR_DT_F32, 24);
    ck_assert(ir_type_eq(ir_value_type(fn, e), &f24));
    IrValue sum = ir_binary(&b, IR_OP_ADD, ir_v(y), ir_v(e)); /* [T, 24] + [24] */
    ck_assert(ir_type_eq(ir_value_type(fn, sum), &t24));
    IrValue sc = ir_scale(&b, sum, 0.5);
    ck_assert(ir_attr_f(&fn->insts[fn->n_insts - 1], "factor") == 0.5);
    ck_assert_int_eq(fn->values[sc.id].def, fn->n_insts - 1);
}
END_TEST

/* A shape that does not fit is a bug in the caller: exit 70. */
START_TEST(test_emit_bad_shape_dies)
{
    IrModule *m = ir_module_new(&C.arena, &C.in, "h", loc_none());
    IrParam w = ir_declare_param(m, "w", IR_TYPE(IR_DT_F32, 24, 8), loc_none());
    IrFunc *fn = ir_func_new(m, "prefill", loc_none());
    IrValue x = ir_func_arg(fn, "x", IR_TYPE(IR_DT_F32, IR_DIM_T, 16));
    IrBuilder b = ir_builder(fn, loc_none());
    ck_assert_ptr_nonnull(freopen("/dev/null", "w", stderr)); /* the expected message */
    ir_matmul(&b, x, w); /* 16 vs 8 */
}
END_TEST

START_TEST(test_emit_bad_operand_dies)
{
    IrModule *m = ir_module_new(&C.arena, &C.in, "h", loc_none());
    IrFunc *fn = ir_func_new(m, "prefill", loc_none());
    IrValue x = ir_func_arg(fn, "x", IR_TYPE(IR_DT_F32, IR_DIM_T, 16));
    ck_assert_ptr_nonnull(freopen("/dev/null", "w", stderr));
    ir_emit(fn, IR_OP_MATMUL, IR_OPERANDS(ir_v(x), ir_v(x)), IR_NO_ATTRS, loc_none());
}
END_TEST

/* ==== text form =============================================================== */

START_TEST(test_roundtrip_built)
{
    Tiny t = build_tiny();
    char *a = print(t.m);
    IrModule *m2 = parse(a);
    ck_assert_msg(m2 != NULL, "%s\n%s", messages(), a);
    char *b = print(m2);
    ck_assert_str_eq(a, b);
    /* origins survive the trip */
    const IrInst *att = &ir_find_func(m2, "prefill")->insts[2];
    ck_assert_str_eq(att->loc.file->name, "tiny.hyb");
    ck_assert_int_eq(att->loc.line, 3);
    ck_assert_str_eq(att->ir_loc.file->name, "t.ir"); /* and where it sits in the text */
    ck_assert_int_gt(att->ir_loc.line, 20);
}
END_TEST

START_TEST(test_roundtrip_odd_text)
{
    /* quoted names, escapes, floats, negative numbers, ints where floats go,
     * inf, comments, named values */
    const char *src =
        "# a comment\n"
        "module @\"odd model\" loc(\"dir/with \\\"quote\\\".hyb\":1:2) {\n"
        "  max_seq = 16\n"
        "  param @embed : f32[32, 16]\n"
        "  param @\"weird name/x\" : f16[16]\n"
        "  func @prefill(%tokens: i32[T]) -> f32[T, 32] {\n"
        "    %0 = embed(%tokens, @embed) : f32[T, 16]   # trailing comment\n"
        "    %1 = clamp(%0) {min = -inf, max = 0.1} : f32[T, 16] loc(\"a\\tb\\x01.hyb\":7:1)\n"
        "    %x.y = scale(%1) {factor = 0.3333333333333333} : f32[T, 16]\n"
        "    %3 = mul(%x.y, @\"weird name/x\") : f32[T, 16]\n"
        "    %4 = rmsnorm(%3) {eps = 1e-6, offset = -1} : f32[T, 16]\n"
        "    %9 = matmul(%4, @embed) : f32[T, 32]\n"
        "    return %9\n"
        "  }\n"
        "  func @decode(%token: i32[1]) -> f32[1, 32] {\n"
        "    %0 = embed(%token, @embed) : f32[1, 16]\n"
        "    %1 = matmul(%0, @embed) : f32[1, 32]\n"
        "    return %1\n"
        "  }\n"
        "}\n";
    IrModule *m = parse(src);
    ck_assert_msg(m != NULL, "%s", messages());
    char *a = print(m);
    ck_assert_has(a, "module @\"odd model\" loc(\"dir/with \\\"quote\\\".hyb\":1:2) {");
    ck_assert_has(a, "{min = -inf, max = 0.1}");
    ck_assert_has(a, "loc(\"a\\tb\\x01.hyb\":7:1)");
    ck_assert_has(a, "%x.y = scale(%1) {factor = 0.3333333333333333}");
    ck_assert_has(a, "%2 = mul(%x.y, @\"weird name/x\")"); /* numbers skip named values */
    ck_assert_has(a, "{eps = 1e-06, offset = -1.0}");     /* an int where a float is wanted */
    ck_assert_has(a, "param @\"weird name/x\" : f16[16]");
    IrModule *m2 = parse(a);
    ck_assert_msg(m2 != NULL, "%s", messages());
    ck_assert_str_eq(a, print(m2));
}
END_TEST

START_TEST(test_float_roundtrip)
{
    /* every float attribute prints so that it parses back to the same bits */
    static const double vals[] = {1e-5, 1.0 / 3.0, 0.1, 1e11, 500000.0, 1e-300, 6.02214076e23, -2.5, 0.0};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        ctx_init();
        char *body = arena_printf(&C.arena, "    %%1 = scale(%%0) {factor = %.17g} : f32[T, 16]\n"
                                            "    %%9 = matmul(%%1, @embed) : f32[T, 32]\n", vals[i]);
        IrModule *m = parse(tiny_text("", body));
        ck_assert_msg(m != NULL, "%s", messages());
        ck_assert(ir_find_func(m, "prefill")->insts[1].attrs[0].f == vals[i]);
        char *a = print(m);
        IrModule *m2 = parse(a);
        ck_assert_ptr_nonnull(m2);
        ck_assert(ir_find_func(m2, "prefill")->insts[1].attrs[0].f == vals[i]);
        ck_assert_str_eq(a, print(m2));
    }
}
END_TEST

START_TEST(test_parse_many_errors)
{
    const char *src = "module @m {\n"
                      "  param @a : f32[16\n"
                      "  param @b : q8[4]\n"
                      "  state $s : kvcache f32[2, 3]\n"
                      "  func @prefill(%t: i32[T]) -> f32[T, 4] {\n"
                      "    %1 = silu(%t) : f32[T]\n"
                      "    %2 = sigmod(%1) : f32[T]\n"
                      "    return %3\n"
                      "  }\n"
                      "}\n";
    ck_assert_ptr_null(parse(src));
    const char *msg = messages();
    ck_assert_has(msg, "t.ir:2:20: error: expected ']' to close the shape, found the end of the line");
    ck_assert_has(msg, "t.ir:3:14: error: unknown element type 'q8'");
    ck_assert_has(msg, "t.ir:4:14: error: unknown state kind 'kvcache'; did you mean 'kv_cache'?");
    ck_assert_has(msg, "t.ir:7:10: error: unknown op 'sigmod'; did you mean 'sigmoid'?");
    ck_assert_has(msg, "t.ir:8:12: error: use of undefined value '%3'");
    ck_assert_int_eq(C.diag.n_errors, 5);
}
END_TEST

START_TEST(test_parse_hostile_input)
{
    /* NUL bytes, a lone sigil, junk bytes, an unterminated string at EOF:
     * errors, no crash, no hang */
    static const char bytes[] = "module @m {\n  param @a\0 : f32[1]\n  % @ $\n  \xff\xfe \"abc";
    const SrcFile *f = text_file("t.ir", "");
    ((SrcFile *)f)->text = bytes;
    ((SrcFile *)f)->len = sizeof bytes - 1;
    ck_assert_ptr_null(ir_parse(f, &C.arena, &C.in, &C.diag));
    ck_assert_has(messages(), "unexpected byte 0x00");
    ck_assert_has(messages(), "unterminated string");
    ck_assert_int_ge(C.diag.n_errors, 4);
    /* empty input */
    ctx_init();
    ck_assert_ptr_null(parse(""));
    ck_assert_has(messages(), "expected 'module', found end of file");
}
END_TEST

START_TEST(test_parse_limits)
{
    /* a name longer than IR_MAX_NAME */
    StrBuf sb = {0};
    sb_puts(&sb, "module @m {\n  param @");
    for (int i = 0; i < IR_MAX_NAME + 10; i++) sb_putc(&sb, 'a');
    sb_puts(&sb, " : f32[4]\n}\n");
    ck_assert_ptr_null(parse(sb_cstr(&sb)));
    ck_assert_has(messages(), "name longer than 4096 bytes");
    sb_free(&sb);
    /* a list longer than IR_MAX_LIST */
    ctx_init();
    sb_puts(&sb, "    %1 = reshape(%0) {dims = [");
    for (int i = 0; i < IR_MAX_LIST + 1; i++) sb_puts(&sb, "1, ");
    sb_puts(&sb, "1]} : f32[T, 16]\n    %9 = matmul(%0, @embed) : f32[T, 32]\n");
    ck_assert_ptr_null(parse(tiny_text("", sb_cstr(&sb))));
    ck_assert_has(messages(), "list longer than 4096 elements");
    sb_free(&sb);
    /* too many operands */
    ctx_init();
    sb_puts(&sb, "    %1 = concat(");
    for (int i = 0; i < IR_MAX_OPERANDS + 1; i++) sb_puts(&sb, "%0, ");
    sb_puts(&sb, "%0) : f32[T, 16]\n    %9 = matmul(%0, @embed) : f32[T, 32]\n");
    ck_assert_ptr_null(parse(tiny_text("", sb_cstr(&sb))));
    ck_assert_has(messages(), "more than 64 operands");
    sb_free(&sb);
    /* out-of-range numbers */
    ctx_init();
    ck_assert_ptr_null(parse("module @m {\n  max_seq = 123456789012345678901234\n  param @a : f32[1e999]\n}\n"));
    ck_assert_has(messages(), "t.ir:2:13: error: integer out of range");
}
END_TEST

START_TEST(test_parse_keeps_locations)
{
    const char *body = "    %1 = silu(%0) : f32[T, 16] loc(\"model.hyb\":12:7)\n"
                       "    %9 = matmul(%1, @embed) : f32[T, 32] loc(\"config.json\")\n";
    IrModule *m = parse(tiny_text("", body));
    ck_assert_msg(m != NULL, "%s", messages());
    const IrFunc *fn = ir_find_func(m, "prefill");
    ck_assert_str_eq(fn->insts[1].loc.file->name, "model.hyb");
    ck_assert_int_eq(fn->insts[1].loc.line, 12);
    ck_assert_int_eq(fn->insts[1].loc.col, 7);
    ck_assert_int_eq(fn->insts[1].ir_loc.line, 6); /* where it was in t.ir */
    ck_assert_int_eq(fn->insts[1].ir_loc.col, 10);
    ck_assert_str_eq(fn->insts[2].loc.file->name, "config.json");
    ck_assert_int_eq(fn->insts[2].loc.line, 0);
    /* the same origin file is one SrcFile */
    ck_assert_has(print(m), "loc(\"config.json\")\n");
}
END_TEST

/* ==== verifier ================================================================ */

/* Verify text that parses: expect failure and `want` in the messages. */
static void verify_fails(const char *params, const char *body, const char *want)
{
    ctx_init();
    ck_assert_ptr_null(parse(tiny_text(params, body)));
    ck_assert_has(messages(), want);
}

START_TEST(test_verify_text_invariants)
{
    verify_fails("", "    %1 = silu(%0, %0) : f32[T, 16]\n    %9 = matmul(%0, @embed) : f32[T, 32]\n",
                 "'silu' takes 1 operand, got 2");
    verify_fails("", "    %9 = matmul(%0, %0) : f32[T, 32]\n",
                 "'matmul' operand 2 ('w') must be a parameter, not a float value");
    verify_fails("", "    %1 = scale(%0) : f32[T, 16]\n    %9 = matmul(%0, @embed) : f32[T, 32]\n",
                 "'scale' needs attribute 'factor'");
    verify_fails("", "    %1 = scale(%0) {factor = true} : f32[T, 16]\n    %9 = matmul(%0, @embed) : f32[T, 32]\n",
                 "attribute 'factor' of 'scale' must be a float, not a bool");
    verify_fails("  param @up : f32[32, 16]\n  param @down : f32[16, 16]\n",
                 "    %1 = mlp(%0, @up, @down) {act = \"silu_glu\"} : f32[T, 16]\n"
                 "    %9 = matmul(%0, @embed) : f32[T, 32]\n",
                 "attribute 'act' of 'mlp' must be one of");
    verify_fails("", "    %9 = matmul(%0, @embed) : f32[T, 16]\n",
                 "'matmul' result is declared f32[T, 16], but its operands give f32[T, 32]");
    verify_fails("  param @w : f32[8, 16]\n", "    %9 = matmul(%0, @w) : f32[T, 8]\n",
                 "'@prefill' returns f32[T, 8], but its result type is f32[T, 32]");
    verify_fails("  param @w : f32[T, 16]\n", "    %9 = matmul(%0, @embed) : f32[T, 32]\n",
                 "parameter '@w' may not use T");
    verify_fails("", "    %1 = reshape(%0) {dims = [2, 8]} : f32[T, 2, 8]\n"
                     "    %2 = scale(%1) {factor = 2.0} : f32[2, T, 8]\n"
                     "    %9 = matmul(%0, @embed) : f32[T, 32]\n",
                 "the result type f32[2, T, 8] may use T only as dim 0");
}
END_TEST

/* In-memory IR that the parser would never produce. */
static IrModule *skeleton(IrFunc **pre)
{
    IrModule *m = ir_module_new(&C.arena, &C.in, "s", loc_none());
    m->max_seq = 16;
    IrParam embed = ir_declare_param(m, "embed", IR_TYPE(IR_DT_F32, 32, 16), loc_none());
    for (int i = 1; i >= 0; i--) {
        IrFunc *fn = ir_func_new(m, i ? "decode" : "prefill", loc_none());
        IrValue tok = ir_func_arg(fn, i ? "token" : "tokens", IR_TYPE(IR_DT_I32, i ? 1 : IR_DIM_T));
        IrBuilder b = ir_builder(fn, loc_none());
        IrValue x = ir_embed(&b, tok, embed);
        if (i) ir_func_return(fn, ir_matmul(&b, x, embed), loc_none());
        else *pre = fn;
    }
    return m;
}

static void finish(IrFunc *fn, IrValue x)
{
    IrBuilder b = ir_builder(fn, loc_none());
    ir_func_return(fn, ir_matmul(&b, x, (IrParam){0}), loc_none());
}

START_TEST(test_verify_memory_invariants)
{
    IrFunc *fn;
    IrModule *m;
    IrType t16 = IR_TYPE(IR_DT_F32, IR_DIM_T, 16);

    /* use before definition: operand refers to a later instruction */
    m = skeleton(&fn);
    IrInst *in = ir_append(fn, IR_OP_SILU, (IrOperand[]){{IR_OPND_VALUE, 3}}, 1, &t16, loc_none());
    (void)in;
    IrValue later = {ir_append(fn, IR_OP_SILU, (IrOperand[]){{IR_OPND_VALUE, 1}}, 1, &t16, loc_none())->result};
    finish(fn, later);
    ck_assert(!ir_verify(m, &C.diag));
    ck_assert_has(messages(), "'silu' uses %2 before its definition");

    /* redefinition: two instructions claim one value */
    ctx_init();
    m = skeleton(&fn);
    IrInst *a = ir_append(fn, IR_OP_SILU, (IrOperand[]){{IR_OPND_VALUE, 1}}, 1, &t16, loc_none());
    IrInst *b2 = ir_append(fn, IR_OP_GELU, (IrOperand[]){{IR_OPND_VALUE, 1}}, 1, &t16, loc_none());
    b2->result = fn->insts[fn->n_insts - 2].result;
    (void)a;
    finish(fn, (IrValue){b2->result});
    ck_assert(!ir_verify(m, &C.diag));
    ck_assert_has(messages(), "value %1 is defined more than once");

    /* a value never defined */
    ctx_init();
    m = skeleton(&fn);
    int orphan = ir_func_new_value(fn, t16);
    IrInst *u = ir_append(fn, IR_OP_SILU, (IrOperand[]){{IR_OPND_VALUE, orphan}}, 1, &t16, loc_none());
    finish(fn, (IrValue){u->result});
    ck_assert(!ir_verify(m, &C.diag));
    ck_assert_has(messages(), "which is never defined");

    /* a param id out of range; a missing required operand */
    ctx_init();
    m = skeleton(&fn);
    IrType t32 = IR_TYPE(IR_DT_F32, IR_DIM_T, 32);
    ir_append(fn, IR_OP_MATMUL, (IrOperand[]){{IR_OPND_VALUE, 1}, {IR_OPND_PARAM, 99}}, 2, &t32, loc_none());
    ir_append(fn, IR_OP_MATMUL, (IrOperand[]){{IR_OPND_VALUE, 1}, {IR_OPND_NONE, -1}}, 2, &t32, loc_none());
    finish(fn, (IrValue){1});
    ck_assert(!ir_verify(m, &C.diag));
    ck_assert_has(messages(), "'matmul' operand 2 is malformed");
    ck_assert_has(messages(), "'matmul' operand 2 ('w') is required");

    /* kv_store with a result; an op without its result */
    ctx_init();
    m = skeleton(&fn);
    ir_append(fn, IR_OP_SILU, (IrOperand[]){{IR_OPND_VALUE, 1}}, 1, NULL, loc_none());
    finish(fn, (IrValue){1});
    ck_assert(!ir_verify(m, &C.diag));
    ck_assert_has(messages(), "'silu' must have a result");

    /* no return */
    ctx_init();
    m = skeleton(&fn);
    ck_assert(!ir_verify(m, &C.diag));
    ck_assert_has(messages(), "'@prefill' does not return a value");
}
END_TEST

START_TEST(test_verify_states)
{
    IrFunc *fn;
    IrModule *m = skeleton(&fn);
    IrParam cw = ir_declare_param(m, "conv_w", IR_TYPE(IR_DT_F32, 16, 4), loc_none());
    IrState conv = ir_declare_state(m, "conv", IR_STATE_CONV, IR_TYPE(IR_DT_F32, 16, 3), loc_none());
    IrState ssm = ir_declare_state(m, "ssm", IR_STATE_SSM, IR_TYPE(IR_DT_F32, 16, 3), loc_none());
    IrBuilder b = ir_builder(fn, loc_none());
    IrValue x = {1};
    IrValue y = ir_causal_conv1d(&b, x, cw, IR_NO_PARAM, conv);
    IrValue z = ir_causal_conv1d(&b, y, cw, IR_NO_PARAM, conv); /* written twice */
    IrType t16 = IR_TYPE(IR_DT_F32, IR_DIM_T, 16);
    ir_append(fn, IR_OP_CAUSAL_CONV1D,
              (IrOperand[]){{IR_OPND_VALUE, z.id}, {IR_OPND_PARAM, cw.id}, {IR_OPND_STATE, ssm.id}}, 3, &t16,
              loc_none());
    finish(fn, z);
    ck_assert(!ir_verify(m, &C.diag));
    ck_assert_has(messages(), "state '$conv' is written twice in '@prefill'");
    ck_assert_has(messages(), "note: first written here");
    ck_assert_has(messages(), "operand 3 ('state') must be a conv_state state, not an ssm_state state");

    /* max_seq outside a kv_cache row dim; a missing function */
    ctx_init();
    m = ir_module_new(&C.arena, &C.in, "s", loc_none());
    ir_declare_state(m, "c", IR_STATE_CONV, IR_TYPE(IR_DT_F32, IR_DIM_MAX_SEQ, 3), loc_none());
    ck_assert(!ir_verify(m, &C.diag));
    ck_assert_has(messages(), "only the row dim (1) of a kv_cache may be max_seq");
    ck_assert_has(messages(), "module has no '@prefill' function");
    ck_assert_has(messages(), "module has no '@decode' function");
}
END_TEST

START_TEST(test_verify_signature)
{
    IrModule *m = ir_module_new(&C.arena, &C.in, "s", loc_none());
    IrParam embed = ir_declare_param(m, "embed", IR_TYPE(IR_DT_F32, 32, 16), loc_none());
    IrParam e2 = ir_declare_param(m, "e2", IR_TYPE(IR_DT_F32, 48, 16), loc_none());
    for (int i = 0; i < 2; i++) {
        IrFunc *fn = ir_func_new(m, i ? "decode" : "prefill", loc_none());
        IrValue tok = ir_func_arg(fn, "t", IR_TYPE(IR_DT_I32, IR_DIM_T));
        IrBuilder b = ir_builder(fn, loc_none());
        ir_func_return(fn, ir_matmul(&b, ir_embed(&b, tok, embed), i ? e2 : embed), loc_none());
    }
    ck_assert(!ir_verify(m, &C.diag));
    ck_assert_has(messages(), "'@decode' takes one argument of type i32[1]");
    ck_assert_has(messages(), "'@decode' must return logits f32[1, vocab], not f32[T, 48]");
}
END_TEST

/* ==== state sizes ============================================================= */

START_TEST(test_state_bytes)
{
    Tiny t = build_tiny(); /* max_seq 64 */
    uint64_t kv = 2ull * 64 * 8 * 4, conv = 40ull * 3 * 4, ssm = 4ull * 8 * 4 * 2;
    ck_assert_uint_eq(ir_state_bytes(t.m, t.kv, t.m->max_seq), kv);
    ck_assert_uint_eq(ir_state_bytes(t.m, t.conv, 1), conv); /* no max_seq: independent of seq */
    ck_assert_uint_eq(ir_state_bytes(t.m, t.ssm, 1), ssm);
    ck_assert_uint_eq(ir_state_bytes(t.m, t.kv, 10), 2ull * 10 * 8 * 4);
    ck_assert_uint_eq(ir_state_bytes(t.m, t.kv, 1000), kv); /* capped at max_seq */
    ck_assert_uint_eq(ir_module_state_bytes(t.m), kv + conv + ssm);
    t.m->max_seq = 128;
    ck_assert_uint_eq(ir_module_state_bytes(t.m), 2 * kv + conv + ssm);
}
END_TEST

/* ==== passes ================================================================== */

static const char *small_module =
    "module @small {\n"
    "  max_seq = 16\n"
    "  param @embed : f32[32, 16]\n"
    "  param @up : f32[48, 16]\n"
    "  param @down : f32[16, 24]\n"
    "  func @prefill(%tokens: i32[T]) -> f32[T, 32] {\n"
    "    %0 = embed(%tokens, @embed) : f32[T, 16]\n"
    "    %1 = mlp(%0, @up, @down) {act = \"swiglu\", down_scale = 0.5} : f32[T, 16]\n"
    "    %2 = scale(%1) {factor = 2.0} : f32[T, 16]\n"
    "    %3 = silu(%2) : f32[T, 16]\n"
    "    %4 = matmul(%2, @embed) : f32[T, 32]\n"
    "    return %4\n"
    "  }\n"
    "  func @decode(%token: i32[1]) -> f32[1, 32] {\n"
    "    %0 = embed(%token, @embed) : f32[1, 16]\n"
    "    %1 = matmul(%0, @embed) : f32[1, 32]\n"
    "    return %1\n"
    "  }\n"
    "}\n";

START_TEST(test_pass_list)
{
    pass_list(C.dump_out);
    const char *s = dumps();
    ck_assert_has(s, "lower-composites   expand attention");
    ck_assert_has(s, "dce                remove instructions");
    ck_assert_has(s, "canonicalize       fold trivial");
    int lines = 0;
    for (const char *p = s; *p; p++) lines += *p == '\n';
    ck_assert_has(s, "last-logits        with --logits last");
    ck_assert_has(s, "fold-scales        fold constant scales");
    ck_assert_has(s, "merge-projections  merge matmuls");
    ck_assert_has(s, "fuse-scan          fuse conv");
    ck_assert_has(s, "fold-params        compute elementwise ops on params");
    ck_assert_has(s, "fuse-prologue      fold rmsnorms");
    ck_assert_has(s, "fuse-epilogue      fuse activations");
    ck_assert_int_eq(lines, 10);
    ck_assert_ptr_nonnull(pass_lookup("dce"));
    ck_assert_ptr_null(pass_lookup("fusion"));
    int n;
    pass_pipeline(0, &n);
    ck_assert_int_eq(n, 0);
    const char *const *o1 = pass_pipeline(1, &n);
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(o1[0], "lower-composites");
    ck_assert_str_eq(o1[1], "last-logits");
    const char *const *o2 = pass_pipeline(2, &n); /* scan fusion joins at -O2 */
    ck_assert_int_eq(n, 10);
    ck_assert_str_eq(o2[4], "fuse-scan");
    ck_assert_str_eq(o2[6], "fold-params");
    ck_assert_str_eq(o2[7], "fuse-prologue"); /* after merge-projections: one norm, one merged weight */
    ck_assert_str_eq(o2[8], "fuse-epilogue");
    ck_assert_str_eq(o2[9], "dce"); /* last: removes what the others leave dead */
}
END_TEST

START_TEST(test_pipeline_levels)
{
    IrModule *m = parse(small_module);
    ck_assert_ptr_nonnull(m);
    char *before = print(m);
    PassOptions o = {0};
    ck_assert(pass_run_pipeline(&m, 0, &o, &C.diag));
    ck_assert_str_eq(before, print(m)); /* -O0 only verifies */
    ck_assert(pass_run_pipeline(&m, 2, &o, &C.diag));
    ck_assert_int_eq(count_composites(m), 0);
    const IrFunc *fn = ir_find_func(m, "prefill");
    ck_assert_int_eq(count_op(fn, IR_OP_SCALE), 0); /* 0.5 · 2.0 folded away */
    ck_assert_int_eq(count_op(fn, IR_OP_SILU), 1);  /* the unused silu is gone, the MLP's remains */
    ck_assert(ir_verify(m, &C.diag));
}
END_TEST

START_TEST(test_pass_order_and_dumps)
{
    IrModule *m = parse(small_module);
    PassOptions o = {.print_after_all = true, .print_before = "canonicalize", .dump_out = C.dump_out};
    ck_assert(pass_run_pipeline(&m, 1, &o, &C.diag));
    const char *s = dumps();
    const char *a = strstr(s, "# *** IR after lower-composites ***\nmodule @small {");
    const char *b = strstr(s, "# *** IR before canonicalize ***\n");
    const char *c = strstr(s, "# *** IR after canonicalize ***\n");
    const char *d = strstr(s, "# *** IR after dce ***\n");
    ck_assert(a && b && c && d);
    ck_assert(a < b && b < c && c < d);
    /* a dump parses back */
    ck_assert_ptr_nonnull(parse(strstr(s, "# *** IR after dce ***")));
}
END_TEST

START_TEST(test_disable_pass)
{
    IrModule *m = parse(small_module);
    PassOptions o = {.disable_pass = "lower-composites,dce", .print_after_all = true, .dump_out = C.dump_out};
    ck_assert(pass_run_pipeline(&m, 1, &o, &C.diag));
    ck_assert_int_eq(count_composites(m), 1);
    ck_assert_ptr_null(strstr(dumps(), "after dce"));
    ck_assert_has(dumps(), "after canonicalize");
    /* unknown names in options are errors, with a suggestion */
    PassOptions bad = {.disable_pass = "dcee", .print_after = "lower"};
    ck_assert(!pass_run_pipeline(&m, 1, &bad, &C.diag));
    ck_assert_has(messages(), "--disable-pass: unknown pass 'dcee'; did you mean 'dce'?");
    ck_assert_has(messages(), "--print-after: unknown pass 'lower'");
}
END_TEST

static bool run_nothing(IrModule *m, PassCtx *ctx) { return true; }

static bool run_break(IrModule *m, PassCtx *ctx)
{
    IrFunc *fn = ir_find_func(m, "prefill");
    fn->values[fn->ret].type.dims[1] = 7; /* the return type no longer matches */
    return true;
}

static const Pass needs_lowered = {"needs-lowered", "test", PASS_PROP_LOWERED, 0, 0, run_nothing};
static const Pass breaker = {"breaker", "test", 0, 0, 0, run_break};

START_TEST(test_requires_provides)
{
    IrModule *m = parse(small_module);
    const Pass *alone[] = {&needs_lowered};
    ck_assert(!pass_run_passes(&m, alone, 1, NULL, &C.diag));
    ck_assert_has(messages(), "pass 'needs-lowered' requires 'lowered', which no earlier pass provides\n");
    ctx_init();
    m = parse(small_module);
    const Pass *ordered[] = {&pass_lower_composites, &needs_lowered};
    ck_assert(pass_run_passes(&m, ordered, 2, NULL, &C.diag));
    ctx_init();
    m = parse(small_module);
    PassOptions o = {.disable_pass = "lower-composites"};
    ck_assert(!pass_run_passes(&m, ordered, 2, &o, &C.diag));
    ck_assert_has(messages(), "(pass 'lower-composites' is disabled)");
    /* canonicalize invalidates no-dead-code: dce must follow it to provide it again */
    static const Pass needs_clean = {"needs-clean", "test", PASS_PROP_NO_DEAD_CODE, 0, 0, run_nothing};
    ctx_init();
    m = parse(small_module);
    const Pass *stale[] = {&pass_dce, &pass_canonicalize, &needs_clean};
    ck_assert(!pass_run_passes(&m, stale, 3, NULL, &C.diag));
    ck_assert_has(messages(), "requires 'no-dead-code'");
}
END_TEST

START_TEST(test_verify_each)
{
    IrModule *m = parse(small_module);
    const Pass *list[] = {&breaker, &pass_dce};
    PassOptions o = {.verify_each = true, .print_after_all = true, .dump_out = C.dump_out};
    ck_assert(!pass_run_passes(&m, list, 2, &o, &C.diag));
    ck_assert_has(messages(), "the IR after pass 'breaker' does not verify");
    ck_assert_ptr_null(strstr(dumps(), "after dce")); /* stopped there */
    ctx_init();
    m = parse(small_module);
    ck_assert(!pass_run_passes(&m, list, 2, NULL, &C.diag));
    ck_assert_has(messages(), "the IR after the pipeline does not verify");
}
END_TEST

START_TEST(test_time_passes)
{
    IrModule *m = parse(small_module);
    PassOptions o = {.time_passes = true, .time_out = C.dump_out, .disable_pass = "dce"};
    ck_assert(pass_run_pipeline(&m, 3, &o, &C.diag));
    const char *s = dumps();
    ck_assert_has(s, "===-- pass timing --===");
    ck_assert_has(s, "  lower-composites\n");
    ck_assert_has(s, "  canonicalize\n");
    ck_assert_ptr_null(strstr(s, "  dce\n"));
    ck_assert_has(s, "100.0  total\n");
}
END_TEST

START_TEST(test_custom_pipeline)
{
    IrModule *m = parse(small_module);
    PassOptions o = {.pipeline = "dce"};
    ck_assert(pass_run_pipeline(&m, 3, &o, &C.diag));
    ck_assert_int_eq(count_composites(m), 1); /* only dce ran */
    ck_assert_int_eq(count_op(ir_find_func(m, "prefill"), IR_OP_SILU), 0);
    PassOptions bad = {.pipeline = "dce,fuse"};
    ck_assert(!pass_run_pipeline(&m, 3, &bad, &C.diag));
    ck_assert_has(messages(), "--passes: unknown pass 'fuse'");
}
END_TEST

START_TEST(test_lower_builder_module)
{
    Tiny t = build_tiny();
    PassOptions o = {.verify_each = true};
    ck_assert_msg(pass_run_pipeline(&t.m, 1, &o, &C.diag), "%s", messages());
    ck_assert_int_eq(count_composites(t.m), 0);
    const IrFunc *fn = ir_find_func(t.m, "prefill");
    ck_assert_int_eq(count_op(fn, IR_OP_SDPA), 1);
    ck_assert_int_eq(count_op(fn, IR_OP_KV_STORE), 1);
    ck_assert_int_eq(count_op(fn, IR_OP_ROPE), 2);
    ck_assert_int_eq(count_op(fn, IR_OP_SSD_SCAN), 1);
    ck_assert_int_eq(count_op(fn, IR_OP_GATED_RMSNORM), 1);
    ck_assert_int_eq(count_op(fn, IR_OP_CAUSAL_CONV1D), 1);
    /* sdpa before kv_store, and every primitive keeps the composite's origin */
    int sdpa = -1, store = -1;
    for (int i = 0; i < fn->n_insts; i++) {
        if (fn->insts[i].op == IR_OP_SDPA) sdpa = i;
        if (fn->insts[i].op == IR_OP_KV_STORE) {
            store = i;
            ck_assert_int_eq(fn->insts[i].loc.line, 3);
        }
    }
    ck_assert_int_lt(sdpa, store);
    /* the lowered module still round-trips */
    char *a = print(t.m);
    IrModule *m2 = parse(a);
    ck_assert_msg(m2 != NULL, "%s", messages());
    ck_assert_str_eq(a, print(m2));
}
END_TEST

/* ==== runner ================================================================== */

static Suite *ir_suite(void)
{
    Suite *s = suite_create("ir");
    TCase *tc = tcase_create("ops");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_op_table);
    tcase_add_test(tc, test_types);
    suite_add_tcase(s, tc);

    tc = tcase_create("builder");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_builder_module);
    tcase_add_test(tc, test_builder_helpers);
    tcase_add_exit_test(tc, test_emit_bad_shape_dies, HYC_EXIT_INTERNAL);
    tcase_add_exit_test(tc, test_emit_bad_operand_dies, HYC_EXIT_INTERNAL);
    suite_add_tcase(s, tc);

    tc = tcase_create("text");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_roundtrip_built);
    tcase_add_test(tc, test_roundtrip_odd_text);
    tcase_add_test(tc, test_float_roundtrip);
    tcase_add_test(tc, test_parse_many_errors);
    tcase_add_test(tc, test_parse_hostile_input);
    tcase_add_test(tc, test_parse_limits);
    tcase_add_test(tc, test_parse_keeps_locations);
    suite_add_tcase(s, tc);

    tc = tcase_create("verifier");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_verify_text_invariants);
    tcase_add_test(tc, test_verify_memory_invariants);
    tcase_add_test(tc, test_verify_states);
    tcase_add_test(tc, test_verify_signature);
    tcase_add_test(tc, test_state_bytes);
    suite_add_tcase(s, tc);

    tc = tcase_create("passes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_pass_list);
    tcase_add_test(tc, test_pipeline_levels);
    tcase_add_test(tc, test_pass_order_and_dumps);
    tcase_add_test(tc, test_disable_pass);
    tcase_add_test(tc, test_requires_provides);
    tcase_add_test(tc, test_verify_each);
    tcase_add_test(tc, test_time_passes);
    tcase_add_test(tc, test_custom_pipeline);
    tcase_add_test(tc, test_lower_builder_module);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ir_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
