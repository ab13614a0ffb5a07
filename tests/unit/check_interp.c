/* check_interp.c — unit tests of the reference interpreter (interp/interp.c)
 * and of weight binding (interp/bind.c).
 *
 *   - every primitive op of ops.def run through a tiny hand-written IR
 *     module (embed of an input table -> the op -> the result as logits),
 *     compared with values computed independently in float64 by a plain
 *     numpy restatement of each formula of docs/ir.md §5 and pasted here as
 *     literals (OP_CASES below); each case also runs as prefill of k tokens
 *     + decode of the rest, which must give the same rows (state, pos);
 *   - one module per composite kind (attention with gate, q/k norms, RoPE,
 *     GQA, a sliding-window ring cache; mamba1 with inner norms; mamba2 with
 *     dt limits and µP scales; short_conv; deltanet; mlp; moe in the three
 *     routing modes with shared experts), lowered with interp_lower and run
 *     on random weights: full prefill == prefill-k + token-by-token decode;
 *   - sessions: reset, errors (token ids, max_seq) leave the session as it
 *     was, an unlowered module is an internal error;
 *   - binding: hyc names with renames, shape/missing errors, unused tensors,
 *     hf: names with squeeze, slice, regroup and legacy expert stacks.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include "formats/formats.h"
#include "frontend/frontend.h"
#include "interp/interp.h"
#include "ir/ir.h"
#include "passes/passes.h"

/* ---- helpers -------------------------------------------------------------- */

typedef struct Ctx {
    Arena arena;
    Interner in;
    Diag diag;
    FILE *diag_out;
    char *diag_text;
    size_t diag_len;
} Ctx;

static Ctx C;

static void setup(void)
{
    arena_init(&C.arena);
    intern_init(&C.in, &C.arena);
    C.diag_text = NULL;
    C.diag_len = 0;
    C.diag_out = open_memstream(&C.diag_text, &C.diag_len);
    diag_init(&C.diag, C.diag_out);
}

static void teardown(void)
{
    fclose(C.diag_out);
    free(C.diag_text);
    intern_free(&C.in);
    arena_free(&C.arena);
}

static const char *messages(void)
{
    fflush(C.diag_out);
    return C.diag_text ? C.diag_text : "";
}

#define ck_assert_has(hay, needle)                                                \
    do {                                                                          \
        const char *h_ = (hay), *n_ = (needle);                                   \
        ck_assert_msg(strstr(h_, n_) != NULL, "expected \"%s\" in:\n%s", n_, h_); \
    } while (0)

static IrModule *parse(const char *text)
{
    SrcFile *f = ARENA_NEW(&C.arena, SrcFile);
    f->name = "t.ir";
    f->text = arena_strdup(&C.arena, text);
    f->len = strlen(text);
    IrModule *m = ir_parse(f, &C.arena, &C.in, &C.diag);
    ck_assert_msg(m != NULL, "IR does not parse:\n%s\n%s", text, messages());
    return m;
}

/* Replace every "[T" of a type by "[1": the decode form of a prefill body. */
static void put_body(StrBuf *sb, const char *body, bool decode)
{
    for (const char *p = body; *p; p++) {
        if (decode && p[0] == '[' && p[1] == 'T' && (p[2] == ',' || p[2] == ']')) {
            sb_puts(sb, "[1");
            p++;
        } else {
            sb_putc(sb, *p);
        }
    }
}

/* A module whose prefill and decode run the same BODY on the rows of
 * @IN_NAME (an embedding of width D) and return %out [T, V]. */
static IrModule *make_module(const char *decls, const char *in_name, int d, const char *body, int v, int max_seq)
{
    StrBuf sb = {0};
    sb_printf(&sb, "module @t {\n  max_seq = %d\n%s\n", max_seq, decls);
    for (int f = 0; f < 2; f++) {
        if (f == 0)
            sb_printf(&sb, "  func @prefill(%%tokens: i32[T]) -> f32[T, %d] {\n"
                           "    %%x = embed(%%tokens, @%s) : f32[T, %d]\n", v, in_name, d);
        else
            sb_printf(&sb, "  func @decode(%%tokens: i32[1]) -> f32[1, %d] {\n"
                           "    %%x = embed(%%tokens, @%s) : f32[1, %d]\n", v, in_name, d);
        put_body(&sb, body, f == 1);
        sb_puts(&sb, "\n    return %out\n  }\n");
    }
    sb_puts(&sb, "}\n");
    IrModule *m = parse(sb_cstr(&sb));
    sb_free(&sb);
    return m;
}

static void set_param(Weights *w, const IrModule *m, const char *name, const float *vals, int n)
{
    IrParam p = ir_find_param(m, name);
    ck_assert_msg(p.id >= 0, "no param %s", name);
    int64_t numel = 1;
    for (int i = 0; i < m->params[p.id].type.rank; i++) numel *= m->params[p.id].type.dims[i];
    ck_assert_int_eq(numel, n);
    memcpy(w->data[p.id], vals, sizeof(float) * (size_t)n);
}

static double rel_l2(const float *got, const float *want, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)got[i] - want[i];
        num += e * e;
        den += (double)want[i] * want[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Logits of prefill(k tokens) then decode one token at a time. */
static void run_split(InterpSession *s, const int32_t *tok, int T, int k, float *out)
{
    int64_t V = interp_vocab(s);
    interp_reset(s);
    ck_assert(interp_prefill(s, tok, k, out, &C.diag));
    for (int t = k; t < T; t++) ck_assert(interp_decode(s, tok[t], out + (size_t)t * V, &C.diag));
    ck_assert_int_eq(interp_pos(s), T);
}

/* ---- primitive ops against float64 values ------------------------------------ */

typedef struct ParamInit {
    const char *name;
    const float *vals;
    int n;
} ParamInit;

typedef struct OpCase {
    const char *name;
    int rows, width, vocab;
    const char *decls, *body;
    const float *x, *want;
    ParamInit params[4];
} OpCase;

/* matmul */
static const float matmul_x[] = {1.0, 2.0, 3.0, -1.0, 0.5, 2.0};
static const float matmul_p_w[] = {0.5, -1.0, 2.0, 1.0, 1.0, 1.0};
static const float matmul_p_b[] = {0.25, -0.5};
/* rmsnorm */
static const float rmsnorm_x[] = {1.0, -2.0, 0.5, 3.0, -0.25, 0.75, -1.5, 2.0};
static const float rmsnorm_p_w[] = {0.5, 1.5, -1.0, 2.0};
/* rmsnorm_offset */
static const float rmsnorm_offset_x[] = {1.0, -2.0, 0.5, 3.0, -0.25, 0.75, -1.5, 2.0};
static const float rmsnorm_offset_p_w[] = {0.5, 1.5, -1.0, 2.0};
/* rmsnorm_unweighted */
static const float rmsnorm_unweighted_x[] = {1.0, -2.0, 0.5, 3.0, -0.25, 0.75, -1.5, 2.0};
/* layernorm */
static const float layernorm_x[] = {1.0, -2.0, 0.5, 3.0, -0.25, 0.75, -1.5, 2.0};
static const float layernorm_p_w[] = {0.5, 1.5, -1.0, 2.0};
static const float layernorm_p_bb[] = {0.125, -0.25, 0.0, 1.0};
/* group_rmsnorm */
static const float group_rmsnorm_x[] = {1.0, -2.0, 0.5, 3.0, -0.25, 0.75, -1.5, 2.0};
static const float group_rmsnorm_p_w[] = {0.5, 1.5, -1.0, 2.0};
/* group_rmsnorm_offset */
static const float group_rmsnorm_offset_x[] = {1.0, -2.0, 0.5, 3.0, -0.25, 0.75, -1.5, 2.0};
static const float group_rmsnorm_offset_p_w[] = {0.5, 1.5, -1.0, 2.0};
/* gated_rmsnorm */
static const float gated_rmsnorm_x[] = {1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 2.0, 1.5, -0.25, 0.75, -1.5, 2.0, -2.0, 0.5, 1.0, -0.75};
static const float gated_rmsnorm_p_w[] = {0.5, 1.5, -1.0, 2.0};
/* gated_rmsnorm_nbg */
static const float gated_rmsnorm_nbg_x[] = {1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 2.0, 1.5, -0.25, 0.75, -1.5, 2.0, -2.0, 0.5, 1.0, -0.75};
static const float gated_rmsnorm_nbg_p_w[] = {0.5, 1.5, -1.0, 2.0};
/* l2norm */
static const float l2norm_x[] = {1.0, -2.0, 0.5, 3.0, -0.25, 0.75, -1.5, 2.0};
/* silu */
static const float silu_x[] = {1.0, -2.0, 0.5, 25.0, -0.25, 0.75, -30.0, 2.0};
/* gelu */
static const float gelu_x[] = {1.0, -2.0, 0.5, 25.0, -0.25, 0.75, -30.0, 2.0};
/* gelu_tanh */
static const float gelu_tanh_x[] = {1.0, -2.0, 0.5, 25.0, -0.25, 0.75, -30.0, 2.0};
/* relu2 */
static const float relu2_x[] = {1.0, -2.0, 0.5, 25.0, -0.25, 0.75, -30.0, 2.0};
/* softplus */
static const float softplus_x[] = {1.0, -2.0, 0.5, 25.0, -0.25, 0.75, -30.0, 2.0};
/* sigmoid */
static const float sigmoid_x[] = {1.0, -2.0, 0.5, 25.0, -0.25, 0.75, -30.0, 2.0};
/* neg */
static const float neg_x[] = {1.0, -2.0, 0.5, 25.0, -0.25, 0.75, -30.0, 2.0};
/* exp */
static const float exp_x[] = {1.0, -2.0, 0.5, 3.0, -0.25, 0.75, -1.5, 2.0};
/* scale */
static const float scale_x[] = {1.0, -2.0, 0.5, 3.0, -0.25, 0.75, -1.5, 2.0};
/* clamp */
static const float clamp_x[] = {1.0, -2.0, 0.5, 3.0, -0.25, 0.75, -1.5, 2.0};
/* clamp_min */
static const float clamp_min_x[] = {1.0, -2.0, 0.5, 3.0, -0.25, 0.75, -1.5, 2.0};
/* add_param_expr */
static const float add_param_expr_x[] = {1.0, -2.0, 0.5, 3.0, -0.25, 0.75, -1.5, 2.0};
static const float add_param_expr_p_p[] = {0.5, -1.0, 0.0, 0.25};
/* mul_column */
static const float mul_column_x[] = {1.0, -2.0, 0.5, 3.0, -0.25, 0.75, -1.5, 2.0};
/* sub_same */
static const float sub_same_x[] = {1.0, -2.0, 0.5, 3.0, -0.25, 0.75, -1.5, 2.0};
/* add_heads */
static const float add_heads_x[] = {1.0, -2.0, 0.5, 3.0, -0.25, 0.75, -1.5, 2.0};
static const float add_heads_p_p[] = {0.5, -1.0};
/* softmax */
static const float softmax_x[] = {1.0, -2.0, 0.5, 3.0, -0.25, 0.75, -1.5, 2.0};
/* slice_concat */
static const float slice_concat_x[] = {1.0, -2.0, 0.5, 3.0, -0.25, 0.75, -1.5, 2.0};
/* causal_conv1d */
static const float causal_conv1d_x[] = {1.0, -2.0, 0.5, 3.0, -1.0, 0.25};
static const float causal_conv1d_p_w[] = {0.5, -1.0, 2.0, 1.0, 0.25, -0.5};
static const float causal_conv1d_p_b[] = {0.125, -1.0};
/* causal_conv1d_3d */
static const float causal_conv1d_3d_x[] = {1.0, -2.0, 0.5, 3.0, -1.0, 0.25};
static const float causal_conv1d_3d_p_w[] = {0.5, -1.0, 2.0, 1.0, 0.25, -0.5};
/* selective_scan */
static const float selective_scan_x[] = {1.0, -2.0, 0.5, 0.25, 1.0, -1.0, 0.5, 2.0, 1.0, -0.5, 0.5, 1.0, 0.125, 1.0, -0.5, 0.25, 1.0, -1.0, 2.0, 0.25, -1.0, 0.75, 0.75, 0.5, 2.0, 0.5, -1.0, 0.5, -1.0, 1.5};
static const float selective_scan_p_A[] = {-1.0, -0.5, -2.0, -0.25};
static const float selective_scan_p_D[] = {0.5, -1.0};
/* ssd_scan */
static const float ssd_scan_x[] = {1.0, -2.0, 0.5, 3.0, 0.5, 0.25, 1.0, -1.0, 0.5, 2.0, 0.5, 1.0, -1.0, 0.25, 0.125, 1.0, -0.5, 0.25, 1.0, -1.0, -1.0, 0.75, 2.0, -0.5, 0.75, 0.5, 2.0, 0.5, -1.0, 0.5};
static const float ssd_scan_p_A[] = {-1.0, -0.5};
static const float ssd_scan_p_D[] = {0.5, -1.0};
/* rope */
static const float rope_x[] = {1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 2.0, 1.5, -0.25, 0.75, -1.5, 2.0, -2.0, 0.5, 1.0, -0.75, 1.0, 1.0, -1.0, 0.5, 2.0, -0.5, 0.25, 1.0};
/* rope_partial */
static const float rope_partial_x[] = {1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 2.0, 1.5, -0.25, 0.75, -1.5, 2.0, -2.0, 0.5, 1.0, -0.75, 1.0, 1.0, -1.0, 0.5, 2.0, -0.5, 0.25, 1.0};
/* rope_interleaved */
static const float rope_interleaved_x[] = {1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 2.0, 1.5, -0.25, 0.75, -1.5, 2.0, -2.0, 0.5, 1.0, -0.75, 1.0, 1.0, -1.0, 0.5, 2.0, -0.5, 0.25, 1.0};
/* rope_linear */
static const float rope_linear_x[] = {1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 2.0, 1.5, -0.25, 0.75, -1.5, 2.0, -2.0, 0.5, 1.0, -0.75, 1.0, 1.0, -1.0, 0.5, 2.0, -0.5, 0.25, 1.0};
/* rope_llama3 */
static const float rope_llama3_x[] = {1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 2.0, 1.5, -0.25, 0.75, -1.5, 2.0, -2.0, 0.5, 1.0, -0.75, 1.0, 1.0, -1.0, 0.5, 2.0, -0.5, 0.25, 1.0};
/* rope_ntk */
static const float rope_ntk_x[] = {1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 2.0, 1.5, -0.25, 0.75, -1.5, 2.0, -2.0, 0.5, 1.0, -0.75, 1.0, 1.0, -1.0, 0.5, 2.0, -0.5, 0.25, 1.0};
/* rope_yarn */
static const float rope_yarn_x[] = {1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 2.0, 1.5, -0.25, 0.75, -1.5, 2.0, -2.0, 0.5, 1.0, -0.75, 1.0, 1.0, -1.0, 0.5, 2.0, -0.5, 0.25, 1.0};
/* sdpa */
static const float sdpa_x[] = {1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 2.0, 1.5, -0.25, 0.75, -1.5, 2.0, -2.0, 0.5, 1.0, -0.75, 1.0, 1.0, -1.0, 0.5, 2.0, -0.5, 0.25, 1.0};
/* sdpa_window */
static const float sdpa_window_x[] = {1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 2.0, 1.5, -0.25, 0.75, -1.5, 2.0, -2.0, 0.5, 1.0, -0.75, 1.0, 1.0, -1.0, 0.5, 2.0, -0.5, 0.25, 1.0};
/* sdpa_noncausal */
static const float sdpa_noncausal_x[] = {1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 2.0, 1.5, -0.25, 0.75, -1.5, 2.0, -2.0, 0.5, 1.0, -0.75, 1.0, 1.0, -1.0, 0.5, 2.0, -0.5, 0.25, 1.0};
/* sdpa_ring */
static const float sdpa_ring_x[] = {1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 2.0, 1.5, -0.25, 0.75, -1.5, 2.0, -2.0, 0.5, 1.0, -0.75, 1.0, 1.0, -1.0, 0.5, 2.0, -0.5, 0.25, 1.0};
/* gated_delta_rule */
static const float gated_delta_rule_x[] = {0.6000000238418579, -0.800000011920929, 1.0, 0.0, 1.0, -2.0, 0.5, 3.0, -0.25, -0.5, 0.5, 0.75, 0.0, 1.0, 0.6000000238418579, 0.800000011920929, -0.25, 0.75, -1.5, 2.0, -1.0, -0.125, 0.25, 1.0, 0.800000011920929, 0.6000000238418579, -0.800000011920929, 0.6000000238418579, 1.0, 1.0, -1.0, 0.5, 0.0, -2.0, 0.875, 0.5};
/* gated_delta_rule_scale */
static const float gated_delta_rule_scale_x[] = {0.6000000238418579, -0.800000011920929, 1.0, 0.0, 1.0, -2.0, 0.5, 3.0, -0.25, -0.5, 0.5, 0.75, 0.0, 1.0, 0.6000000238418579, 0.800000011920929, -0.25, 0.75, -1.5, 2.0, -1.0, -0.125, 0.25, 1.0, 0.800000011920929, 0.6000000238418579, -0.800000011920929, 0.6000000238418579, 1.0, 1.0, -1.0, 0.5, 0.0, -2.0, 0.875, 0.5};
/* route_softmax_topk */
static const float route_softmax_topk_x[] = {1.0, -2.0, 0.5, 3.0, 0.25, 0.25, -1.0, 0.25};
/* route_softmax_topk_renorm */
static const float route_softmax_topk_renorm_x[] = {1.0, -2.0, 0.5, 3.0, 0.25, 0.25, -1.0, 0.25};
/* route_topk_softmax */
static const float route_topk_softmax_x[] = {1.0, -2.0, 0.5, 3.0, 0.25, 0.25, -1.0, 0.25};
/* route_groups: 6 experts in 3 groups of 2, one group kept */
static const float route_groups_x[] = {0.5, 2.0, 1.5, 1.4, -1.0, 3.0, 1.0, -1.0, 0.0, 0.2, 2.0, 2.5};
/* route_sigmoid_topk */
static const float route_sigmoid_topk_x[] = {1.0, -2.0, 0.5, 3.0, 0.25, 0.25, -1.0, 0.25};
static const float route_sigmoid_topk_p_rb[] = {0.0, 0.5, 0.0, -1.0};
/* moe_swiglu */
static const float moe_swiglu_x[] = {1.0, -2.0, 0.5, 0.0, 0.5, 1.5, 0.25, 0.75};
static const float moe_swiglu_p_up[] = {0.5, -1.0, 1.0, 0.25, -0.5, 2.0, 0.75, 1.0};
static const float moe_swiglu_p_dn[] = {1.0, -1.0, 0.5, 2.0, 0.25, 1.0, -1.0, 0.5};
static const float moe_swiglu_p_gt[] = {1.0, 1.0, -0.5, 0.5, 2.0, -1.0, 0.25, 0.25};
/* moe_geglu_fused */
static const float moe_geglu_fused_x[] = {1.0, -2.0, 0.5, 0.0, 0.5, 1.5, 0.25, 0.75};
static const float moe_geglu_fused_p_upf[] = {1.0, 1.0, -0.5, 0.5, 0.5, -1.0, 1.0, 0.25, 2.0, -1.0, 0.25, 0.25, -0.5, 2.0, 0.75, 1.0};
static const float moe_geglu_fused_p_dn[] = {1.0, -1.0, 0.5, 2.0, 0.25, 1.0, -1.0, 0.5};
/* moe_relu2 */
static const float moe_relu2_x[] = {1.0, -2.0, 0.5, 0.0, 0.5, 1.5, 0.25, 0.75};
static const float moe_relu2_p_up[] = {0.5, -1.0, 1.0, 0.25, -0.5, 2.0, 0.75, 1.0};
static const float moe_relu2_p_dn[] = {1.0, -1.0, 0.5, 2.0, 0.25, 1.0, -1.0, 0.5};
/* moe_gelu */
static const float moe_gelu_x[] = {1.0, -2.0, 0.5, 0.0, 0.5, 1.5, 0.25, 0.75};
/* moe_gelu_tanh, moe_geglu_tanh_fused: the weights of moe_gelu and moe_geglu_fused */
static const float moe_gelu_tanh_x[] = {1.0, -2.0, 0.5, 0.0, 0.5, 1.5, 0.25, 0.75};
static const float moe_geglu_tanh_fused_x[] = {1.0, -2.0, 0.5, 0.0, 0.5, 1.5, 0.25, 0.75};
static const float moe_gelu_p_up[] = {0.5, -1.0, 1.0, 0.25, -0.5, 2.0, 0.75, 1.0};
static const float moe_gelu_p_dn[] = {1.0, -1.0, 0.5, 2.0, 0.25, 1.0, -1.0, 0.5};
/* moe_silu */
static const float moe_silu_x[] = {1.0, -2.0, 0.5, 0.0, 0.5, 1.5, 0.25, 0.75};
static const float moe_silu_p_up[] = {0.5, -1.0, 1.0, 0.25, -0.5, 2.0, 0.75, 1.0};
static const float moe_silu_p_dn[] = {1.0, -1.0, 0.5, 2.0, 0.25, 1.0, -1.0, 0.5};
static const float matmul_want2[] = {4.75, 5.5, 3.25, 1};
/* fused epilogue: relu2(x w^T + b) + x w^T, by hand from the rows above */
static const float matmul_epilogue_want2[] = {27.0625, 36.25, 13.5625, 2.5};
/* rms_scale: 1/sqrt(mean(x^2) + 1e-5) of each rmsnorm_x row, in float64
 * (twice: a vocabulary of 2 for the two tokens) */
static const float rms_scale_want2[] = {0.529812199, 0.529812199, 0.762767852, 0.762767852};
/* row scale (fuse-prologue): silu(r_t · x wᵀ + b) + x wᵀ, r_t the rms
 * factor of matmul_x's row t, in float64 */
static const float matmul_row_scale_want2[] = {6.62680313, 8.06563734, 5.32990089, 1.91416548};
static const float rmsnorm_want2[] = {0.2649061, -1.5894366, -0.2649061, 3.1788732, -0.0953459816, 0.858113834, 1.14415178, 3.05107141};
static const float rmsnorm_offset_want2[] = {0.794607898, -2.64869299, 0, 4.76764739, -0.285955602, 1.42977801, -0, 4.57528963};
static const float rmsnorm_unweighted_want2[] = {0.529812868, -1.05962574, 0.264906434, 1.58943861, -0.190692462, 0.572077387, -1.14415477, 1.5255397};
static const float layernorm_want2[] = {0.230279195, -2.46086309, 0.07018613, 3.66707294, -0.069256586, 0.332769758, 1.3597961, 3.7195922};
static const float group_rmsnorm_want2[] = {0.316227134, -1.8973628, -0.232495026, 2.78994031, -0.22360322, 2.01242898, 0.84852678, 2.26273808};
static const float group_rmsnorm_offset_want2[] = {0.948681401, -3.16227134, 0, 4.18491047, -0.67080966, 3.3540483, -0, 3.39410712};
static const float gated_rmsnorm_want2[] = {0.1787536, 2.05234821, -0.329267164, 2.75069471, 0.17490806, 2.05502174, 1.29499274, -1.13660182};
static const float gated_rmsnorm_nbg_want2[] = {0.0444438659, 0.510279449, -0.409561879, 3.42147599, 0.0533083144, 0.626327599, 0.620322782, -0.544450931};
static const float l2norm_want2[] = {0.264906462, -0.529812924, 0.132453231, 0.794719386, -0.095346252, 0.286038756, -0.572077512, 0.762770016};
static const float silu_want2[] = {0.731058579, -0.238405844, 0.311229666, 25, -0.109455875, 0.509384024, -2.80728689e-12, 1.76159416};
static const float gelu_want2[] = {0.841344746, -0.0455002639, 0.345731231, 25, -0.100323419, 0.580029486, -0, 1.95449974};
static const float relu2_want2[] = {1, 0, 0.25, 625, 0, 0.5625, 0, 4};
static const float softplus_want2[] = {1.31326169, 0.126928011, 0.974076984, 25, 0.57593942, 1.13687101, 9.35762297e-14, 2.12692801};
static const float sigmoid_want2[] = {0.731058579, 0.119202922, 0.622459331, 1, 0.437823499, 0.679178699, 9.35762297e-14, 0.880797078};
static const float neg_want2[] = {-1, 2, -0.5, -25, 0.25, -0.75, 30, -2};
static const float exp_want2[] = {2.71828183, 0.135335283, 1.64872127, 20.0855369, 0.778800783, 2.11700002, 0.22313016, 7.3890561};
static const float scale_want2[] = {0.1, -0.2, 0.05, 0.3, -0.025, 0.075, -0.15, 0.2};
static const float clamp_want2[] = {1, -0.5, 0.5, 1, -0.25, 0.75, -0.5, 1};
static const float clamp_min_want2[] = {1, 0.6, 0.6, 3, 0.6, 0.75, 0.6, 2};
static const float add_param_expr_want2[] = {-0.648721271, -2.36787944, -0.5, 1.71597458, -1.89872127, 0.382120559, -2.5, 0.715974583};
static const float mul_column_want2[] = {-2, 4, -1, -6, -0.1875, 0.5625, -1.125, 1.5};
static const float sub_same_want2[] = {0.5, -1, 0.25, 1.5, -0.125, 0.375, -0.75, 1};
static const float add_heads_want2[] = {1.5, -3, 1, 2, 0.25, -0.25, -1, 1};
static const float softmax_want2[] = {0.11055375, 0.00550414713, 0.0670542391, 0.816887863, 0.0741151258, 0.2014658, 0.0212343391, 0.703184735};
static const float slice_concat_want2[] = {0.5, 3, -2, 1, -1.5, 2, 0.75, -0.25};
static const float causal_conv1d_want2[] = {2.125, 0, 2.125, 0, 0.125, -3, 0.125, -3, -1.875, -2.375, -1.875, -2.375};
static const float causal_conv1d_3d_want2[] = {2, 1, 2, 1, 0, -2, 0, -2, -2, -1.375, -2, -1.375};
static const float selective_scan_want2[] = {-0.182764645, -0.51911842, -0.182764645, -0.51911842, 1.96255679, -0.310190446, 1.96255679, -0.310190446, -0.124462798, -1.12246719, -0.124462798, -1.12246719};
static const float ssd_scan_want2[] = {-0.25, 0.5, -0.6875, -4.125, 1.0856219, -1.35874381, 1.90163266, 0.47229599, 0.518305304, 0.0528216665, -4.32531922, 0.527775251};
static const float rope_want2[] = {1, -2, 0.5, 3, 0.25, -1, 2, 1.5, 1.1271309, 0.546586291, -1.02082121, 2.06488339, -1.9220756, 0.572377145, -1.14263966, -0.696336416, 0.49315059, 0.880731912, 1.32544426, 0.68870262, -1.05961803, -0.68870262, 1.71455814, 0.880731912};
static const float rope_partial_want2[] = {1, -2, 0.5, 3, 0.25, -1, 2, 1.5, -0.766178815, 0.194858983, -1.5, 2, -1.5013401, -1.41279082, 1, -0.75, -1.32544426, 0.49315059, -1, 0.5, -0.37764496, 2.02666827, 0.25, 1};
static const float rope_interleaved_want2[] = {1, -2, 0.5, 3, 0.25, -1, 2, 1.5, -0.766178815, 0.194858983, -1.69217308, 1.84025821, -1.5013401, -1.41279082, 1.06987923, -0.646419707, -1.32544426, 0.49315059, -1.07940124, 0.291363958, -0.37764496, 2.02666827, 0.0463473137, 1.02973391};
static const float rope_linear_want2[] = {1, -2, 0.5, 3, 0.25, -1, 2, 1.5, 0.499742667, 0.649104357, -1.43623023, 2.0349849, -2.23459066, 0.536859507, -0.0812685153, -0.724073111, 1.38177329, 0.945087457, 0.301168679, 0.597335499, 0.870236866, -0.597335499, 1.81801755, 0.945087457};
static const float rope_llama3_want2[] = {1, -2, 0.5, 3, 0.25, -1, 2, 1.5, 0.607427184, 0.747499415, -1.39410624, 2.00093594, -2.22195566, 0.500937109, -0.250824695, -0.749374414, 1.320183, 0.998746876, 0.507066915, 0.502498435, 0.584709843, -0.502498435, 1.92888942, 0.998746876};
/* ntk: base 100 · 3^(4/2); yarn: HF _compute_yarn_parameters (dim 8, base 1e4,
 * factor 4, original 2048: correction range [1, 3], inv_freq [1, 0.1,
 * 0.00625, 0.00025]) with cos, sin · (0.1 ln 4 + 1), checked against
 * transformers' own ROPE_INIT_FUNCTIONS["yarn"] */
static const float rope_ntk_want2[] = {1, -2, 0.5, 3, 0.25, -1, 2, 1.5, 1.1271309, 0.68292905, -1.02082121, 2.02388436, -1.9220756, 0.524717619, -1.14263966, -0.732919791, 0.49315059, 0.964469953, 1.32544426, 0.565506595, -1.05961803, -0.565506595, 1.71455814, 0.964469953};
static const float rope_yarn_want2[] = {1.13862944, -2.27725887, 0.569314718, 3.41588831, 0.284657359, -1.13862944, 2.27725887, 1.70794415, 1.76244624, 0.79286914, -1.71502718, 2.27747229, -1.46993913, 0.651725466, 1.12793262, -0.853402736, -2.54454267, 1.22903803, -1.14209861, 0.568745332, 0.0876787407, -0.331755579, 0.270402623, 1.13891395};
static const float sdpa_want2[] = {2, 1.5, 2, 1.5, 1.23267948, -0.22647116, 1.01090245, -0.725469495, 0.587279045, 0.918467404, 1.07641425, -0.455224203};
static const float sdpa_window_want2[] = {2, 1.5, 2, 1.5, 1.30074558, -0.0733224474, 1.03963884, -0.660812612, 0.386819143, 0.680755333, 0.928487901, -0.583138436};
static const float sdpa_noncausal_want2[] = {0.899181886, 1.1678699, 0.824703125, -0.0750796801, 1.05374869, -0.00314965974, 1.00828228, -0.719527835, 0.587279045, 0.918467404, 1.07641425, -0.455224203};
static const float sdpa_ring_want2[] = {2, 1.5, 2, 1.5, 1.23267948, -0.22647116, 1.01090245, -0.725469495, 0.330281351, 0.812676847, 0.970112884, -0.680263397};
static const float gated_delta_rule_want2[] = {0.212132043, -0.424264086, 0.159099032, 0.954594193, -0.0509631433, 0.137281626, -0.960851674, 0.457429722, -0.155837653, -0.16562175, -0.0352610396, 0.155521672};
static const float gated_delta_rule_scale_want2[] = {0.075000003, -0.150000006, 0.0562500022, 0.337500013, -0.0180181921, 0.0485363844, -0.339712367, 0.161725829, -0.0550969308, -0.0585561314, -0.0124666601, 0.0549852144};
static const float route_softmax_topk_want2[] = {0.11055375, 0, 0, 0.816887863, 0.304274621, 0.304274621, 0, 0};
static const float route_softmax_topk_renorm_want2[] = {0.277914056, 0, 0.168563396, 2.05352255, 0.833333333, 0.833333333, 0, 0.833333333};
static const float route_topk_softmax_want2[] = {0.119202922, 0, 0, 0.880797078, 0.5, 0.5, 0, 0};
/* group sums of sigmoids: row 0 [1.503, 1.620, 1.222] -> experts 2, 3 (not
 * the best one, 5); row 1 [1.000, 1.050, 1.805] -> experts 4, 5 */
static const float route_groups_want2[] = {0, 0, 0.817574476, 0.802183889, 0, 0, 0, 0, 0, 0, 0.880797078, 0.924141818};
static const float route_sigmoid_topk_want2[] = {1.08023481, 0, 0.919765194, 0, 1, 1, 0, 0};
static const float moe_swiglu_want2[] = {-0.267767205, -0.304907531, -0.27824765, 0.469086065};
static const float moe_geglu_fused_want2[] = {-0.173266367, -0.149264935, -0.279770165, 0.407138438};
static const float moe_relu2_want2[] = {3, 1.8125, 3.86328125, -3.97070312};
static const float moe_gelu_want2[] = {1.0693723, 0.96685019, 1.66756277, -1.03707875};
/* torch.nn.functional.gelu(approximate="tanh") in float64 */
static const float gelu_tanh_want2[] = {0.841191991, -0.0454023059, 0.34571401, 25, -0.100324649, 0.579960555, -0, 1.95459769};
static const float moe_gelu_tanh_want2[] = {1.06960086, 0.966942943, 1.66761657, -1.03751739};
static const float moe_geglu_tanh_fused_want2[] = {-0.173402906, -0.149469217, -0.279830106, 0.407139007};
static const float moe_silu_want2[] = {0.999562442, 0.888818303, 1.47992759, -1.05495271};
static const OpCase OP_CASES[] = {
    {"matmul", 2, 3, 2,
        "param @x : f32[2, 3]\n"
        "param @w : f32[2, 3]\n"
        "param @b : f32[2]\n",
        "%out = matmul(%x, @w, @b) : f32[T, 2]\n",
     matmul_x, matmul_want2, {{"w", matmul_p_w, 6}, {"b", matmul_p_b, 2}}},
    {"matmul_epilogue", 2, 3, 2,
        "param @x : f32[2, 3]\n"
        "param @w : f32[2, 3]\n"
        "param @b : f32[2]\n",
        "%r = matmul(%x, @w) : f32[T, 2]\n"
        "%out = matmul(%x, @w, @b, %r) {act = \"relu2\"} : f32[T, 2]\n",
     matmul_x, matmul_epilogue_want2, {{"w", matmul_p_w, 6}, {"b", matmul_p_b, 2}}},
    {"matmul_row_scale", 2, 3, 2,
        "param @x : f32[2, 3]\n"
        "param @w : f32[2, 3]\n"
        "param @b : f32[2]\n",
        "%m = matmul(%x, @w) : f32[T, 2]\n"
        "%r = rms_scale(%x) {eps = 1e-05} : f32[T, 1]\n"
        "%out = matmul(%x, @w, @b, %m, %r) {act = \"silu\"} : f32[T, 2]\n",
     matmul_x, matmul_row_scale_want2, {{"w", matmul_p_w, 6}, {"b", matmul_p_b, 2}}},
    {"rms_scale", 2, 4, 2,
        "param @x : f32[2, 4]\n",
        "%r = rms_scale(%x) {eps = 1e-05} : f32[T, 1]\n"
        "%out = concat(%r, %r) : f32[T, 2]\n",
     rmsnorm_x, rms_scale_want2, {}},
    {"rmsnorm", 2, 4, 4,
        "param @x : f32[2, 4]\n"
        "param @w : f32[4]\n",
        "%out = rmsnorm(%x, @w) {eps = 1e-05} : f32[T, 4]\n",
     rmsnorm_x, rmsnorm_want2, {{"w", rmsnorm_p_w, 4}}},
    {"rmsnorm_offset", 2, 4, 4,
        "param @x : f32[2, 4]\n"
        "param @w : f32[4]\n",
        "%out = rmsnorm(%x, @w) {eps = 0.001, offset = 1.0} : f32[T, 4]\n",
     rmsnorm_offset_x, rmsnorm_offset_want2, {{"w", rmsnorm_offset_p_w, 4}}},
    {"rmsnorm_unweighted", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%out = rmsnorm(%x) {eps = 1e-06} : f32[T, 4]\n",
     rmsnorm_unweighted_x, rmsnorm_unweighted_want2, {}},
    {"layernorm", 2, 4, 4,
        "param @x : f32[2, 4]\n"
        "param @w : f32[4]\n"
        "param @bb : f32[4]\n",
        "%out = layernorm(%x, @w, @bb) {eps = 1e-05} : f32[T, 4]\n",
     layernorm_x, layernorm_want2, {{"w", layernorm_p_w, 4}, {"bb", layernorm_p_bb, 4}}},
    {"group_rmsnorm", 2, 4, 4,
        "param @x : f32[2, 4]\n"
        "param @w : f32[4]\n",
        "%out = group_rmsnorm(%x, @w) {groups = 2, eps = 1e-05} : f32[T, 4]\n",
     group_rmsnorm_x, group_rmsnorm_want2, {{"w", group_rmsnorm_p_w, 4}}},
    {"group_rmsnorm_offset", 2, 4, 4,
        "param @x : f32[2, 4]\n"
        "param @w : f32[4]\n",
        "%out = group_rmsnorm(%x, @w) {groups = 2, eps = 1e-05, offset = 1.0} : f32[T, 4]\n",
     group_rmsnorm_offset_x, group_rmsnorm_offset_want2, {{"w", group_rmsnorm_offset_p_w, 4}}},
    {"gated_rmsnorm", 2, 8, 4,
        "param @x : f32[2, 8]\n"
        "param @w : f32[4]\n",
        "%xa = slice(%x) {offset = 0, len = 4} : f32[T, 4]\n"
        "%za = slice(%x) {offset = 4, len = 4} : f32[T, 4]\n"
        "%out = gated_rmsnorm(%xa, %za, @w) {groups = 2, eps = 1e-05} : f32[T, 4]\n",
     gated_rmsnorm_x, gated_rmsnorm_want2, {{"w", gated_rmsnorm_p_w, 4}}},
    {"gated_rmsnorm_nbg", 2, 8, 4,
        "param @x : f32[2, 8]\n"
        "param @w : f32[4]\n",
        "%xa = slice(%x) {offset = 0, len = 4} : f32[T, 4]\n"
        "%za = slice(%x) {offset = 4, len = 4} : f32[T, 4]\n"
        "%out = gated_rmsnorm(%xa, %za, @w) {groups = 2, eps = 1e-05, norm_before_gate = true} : f32[T, 4]\n",
     gated_rmsnorm_nbg_x, gated_rmsnorm_nbg_want2, {{"w", gated_rmsnorm_nbg_p_w, 4}}},
    {"l2norm", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%out = l2norm(%x) {eps = 1e-06} : f32[T, 4]\n",
     l2norm_x, l2norm_want2, {}},
    {"silu", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%out = silu(%x) : f32[T, 4]\n",
     silu_x, silu_want2, {}},
    {"gelu", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%out = gelu(%x) : f32[T, 4]\n",
     gelu_x, gelu_want2, {}},
    {"gelu_tanh", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%out = gelu(%x) {approximate = \"tanh\"} : f32[T, 4]\n",
     gelu_tanh_x, gelu_tanh_want2, {}},
    {"relu2", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%out = relu2(%x) : f32[T, 4]\n",
     relu2_x, relu2_want2, {}},
    {"softplus", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%out = softplus(%x) : f32[T, 4]\n",
     softplus_x, softplus_want2, {}},
    {"sigmoid", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%out = sigmoid(%x) : f32[T, 4]\n",
     sigmoid_x, sigmoid_want2, {}},
    {"neg", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%out = neg(%x) : f32[T, 4]\n",
     neg_x, neg_want2, {}},
    {"exp", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%out = exp(%x) : f32[T, 4]\n",
     exp_x, exp_want2, {}},
    {"scale", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%out = scale(%x) {factor = 0.1} : f32[T, 4]\n",
     scale_x, scale_want2, {}},
    {"clamp", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%out = clamp(%x) {min = -0.5, max = 1.0} : f32[T, 4]\n",
     clamp_x, clamp_want2, {}},
    {"clamp_min", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%out = clamp(%x) {min = 0.6} : f32[T, 4]\n",
     clamp_min_x, clamp_min_want2, {}},
    {"add_param_expr", 2, 4, 4,
        "param @x : f32[2, 4]\n"
        "param @p : f32[4]\n",
        "%e = exp(@p) : f32[4]\n"
        "%n = neg(%e) : f32[4]\n"
        "%out = add(%x, %n) : f32[T, 4]\n",
     add_param_expr_x, add_param_expr_want2, {{"p", add_param_expr_p_p, 4}}},
    {"mul_column", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%c = slice(%x) {offset = 1, len = 1} : f32[T, 1]\n"
        "%out = mul(%x, %c) : f32[T, 4]\n",
     mul_column_x, mul_column_want2, {}},
    {"sub_same", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%s = scale(%x) {factor = 0.5} : f32[T, 4]\n"
        "%out = sub(%x, %s) : f32[T, 4]\n",
     sub_same_x, sub_same_want2, {}},
    {"add_heads", 2, 4, 4,
        "param @x : f32[2, 4]\n"
        "param @p : f32[2]\n",
        "%r = reshape(%x) {dims = [2, 2]} : f32[T, 2, 2]\n"
        "%a = add(%r, @p) : f32[T, 2, 2]\n"
        "%out = reshape(%a) {dims = [4]} : f32[T, 4]\n",
     add_heads_x, add_heads_want2, {{"p", add_heads_p_p, 2}}},
    {"softmax", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%out = softmax(%x) : f32[T, 4]\n",
     softmax_x, softmax_want2, {}},
    {"slice_concat", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%a = slice(%x) {offset = 2, len = 2} : f32[T, 2]\n"
        "%b = slice(%x) {offset = 0, len = 1} : f32[T, 1]\n"
        "%c = slice(%x) {offset = 1, len = 1} : f32[T, 1]\n"
        "%out = concat(%a, %c, %b) : f32[T, 4]\n",
     slice_concat_x, slice_concat_want2, {}},
    {"causal_conv1d", 3, 2, 4,
        "param @x : f32[3, 2]\n"
        "param @w : f32[2, 3]\n"
        "param @b : f32[2]\n"
        "state $conv : conv_state f32[2, 2]\n",
        "%o0 = causal_conv1d(%x, @w, $conv, @b) : f32[T, 2]\n"
        "%out = concat(%o0, %o0) : f32[T, 4]\n",
     causal_conv1d_x, causal_conv1d_want2, {{"w", causal_conv1d_p_w, 6}, {"b", causal_conv1d_p_b, 2}}},
    {"causal_conv1d_3d", 3, 2, 4,
        "param @x : f32[3, 2]\n"
        "param @w : f32[2, 1, 3]\n"
        "state $conv : conv_state f32[2, 2]\n",
        "%o0 = causal_conv1d(%x, @w, $conv) : f32[T, 2]\n"
        "%out = concat(%o0, %o0) : f32[T, 4]\n",
     causal_conv1d_3d_x, causal_conv1d_3d_want2, {{"w", causal_conv1d_3d_p_w, 6}}},
    {"selective_scan", 3, 10, 4,
        "param @x : f32[3, 10]\n"
        "param @A : f32[2, 2]\n"
        "param @D : f32[2]\n"
        "state $ssm : ssm_state f32[2, 2]\n",
        "%xs = slice(%x) {offset = 0, len = 2} : f32[T, 2]\n"
        "%dt = slice(%x) {offset = 2, len = 2} : f32[T, 2]\n"
        "%bs = slice(%x) {offset = 4, len = 2} : f32[T, 2]\n"
        "%cs = slice(%x) {offset = 6, len = 2} : f32[T, 2]\n"
        "%zs = slice(%x) {offset = 8, len = 2} : f32[T, 2]\n"
        "%o0 = selective_scan(%xs, %dt, @A, %bs, %cs, $ssm, @D, %zs) : f32[T, 2]\n"
        "%out = concat(%o0, %o0) : f32[T, 4]\n",
     selective_scan_x, selective_scan_want2, {{"A", selective_scan_p_A, 4}, {"D", selective_scan_p_D, 2}}},
    {"ssd_scan", 3, 10, 4,
        "param @x : f32[3, 10]\n"
        "param @A : f32[2]\n"
        "param @D : f32[2]\n"
        "state $ssm : ssm_state f32[2, 2, 2]\n",
        "%x4 = slice(%x) {offset = 0, len = 4} : f32[T, 4]\n"
        "%xh = reshape(%x4) {dims = [2, 2]} : f32[T, 2, 2]\n"
        "%dt = slice(%x) {offset = 4, len = 2} : f32[T, 2]\n"
        "%b2 = slice(%x) {offset = 6, len = 2} : f32[T, 2]\n"
        "%bs = reshape(%b2) {dims = [1, 2]} : f32[T, 1, 2]\n"
        "%c2 = slice(%x) {offset = 8, len = 2} : f32[T, 2]\n"
        "%cs = reshape(%c2) {dims = [1, 2]} : f32[T, 1, 2]\n"
        "%y = ssd_scan(%xh, %dt, @A, %bs, %cs, $ssm, @D) {chunk = 2} : f32[T, 2, 2]\n"
        "%out = reshape(%y) {dims = [4]} : f32[T, 4]\n",
     ssd_scan_x, ssd_scan_want2, {{"A", ssd_scan_p_A, 2}, {"D", ssd_scan_p_D, 2}}},
    {"rope", 3, 8, 8,
        "param @x : f32[3, 8]\n",
        "%r = reshape(%x) {dims = [2, 4]} : f32[T, 2, 4]\n"
        "%q = rope(%r) {dim = 4, base = 100.0} : f32[T, 2, 4]\n"
        "%out = reshape(%q) {dims = [8]} : f32[T, 8]\n",
     rope_x, rope_want2, {}},
    {"rope_partial", 3, 8, 8,
        "param @x : f32[3, 8]\n",
        "%r = reshape(%x) {dims = [2, 4]} : f32[T, 2, 4]\n"
        "%q = rope(%r) {dim = 2} : f32[T, 2, 4]\n"
        "%out = reshape(%q) {dims = [8]} : f32[T, 8]\n",
     rope_partial_x, rope_partial_want2, {}},
    {"rope_interleaved", 3, 8, 8,
        "param @x : f32[3, 8]\n",
        "%r = reshape(%x) {dims = [2, 4]} : f32[T, 2, 4]\n"
        "%q = rope(%r) {dim = 4, base = 100.0, interleaved = true} : f32[T, 2, 4]\n"
        "%out = reshape(%q) {dims = [8]} : f32[T, 8]\n",
     rope_interleaved_x, rope_interleaved_want2, {}},
    {"rope_linear", 3, 8, 8,
        "param @x : f32[3, 8]\n",
        "%r = reshape(%x) {dims = [2, 4]} : f32[T, 2, 4]\n"
        "%q = rope(%r) {dim = 4, base = 100.0, scaling = \"linear\", scaling_params = [2.0]} : f32[T, 2, 4]\n"
        "%out = reshape(%q) {dims = [8]} : f32[T, 8]\n",
     rope_linear_x, rope_linear_want2, {}},
    {"rope_llama3", 3, 8, 8,
        "param @x : f32[3, 8]\n",
        "%r = reshape(%x) {dims = [2, 4]} : f32[T, 2, 4]\n"
        "%q = rope(%r) {dim = 4, scaling = \"llama3\", scaling_params = [8.0, 1.0, 4.0, 16.0]} : f32[T, 2, 4]\n"
        "%out = reshape(%q) {dims = [8]} : f32[T, 8]\n",
     rope_llama3_x, rope_llama3_want2, {}},
    {"rope_ntk", 3, 8, 8,
        "param @x : f32[3, 8]\n",
        "%r = reshape(%x) {dims = [2, 4]} : f32[T, 2, 4]\n"
        "%q = rope(%r) {dim = 4, base = 100.0, scaling = \"ntk\", scaling_params = [3.0]} : f32[T, 2, 4]\n"
        "%out = reshape(%q) {dims = [8]} : f32[T, 8]\n",
     rope_ntk_x, rope_ntk_want2, {}},
    {"rope_yarn", 3, 8, 8,
        "param @x : f32[3, 8]\n",
        "%r = reshape(%x) {dims = [1, 8]} : f32[T, 1, 8]\n"
        "%q = rope(%r) {dim = 8, scaling = \"yarn\", scaling_params = [4.0, 2048.0, 32.0, 1.0, 1.138629436111989]} : f32[T, 1, 8]\n"
        "%out = reshape(%q) {dims = [8]} : f32[T, 8]\n",
     rope_yarn_x, rope_yarn_want2, {}},
    {"sdpa", 3, 8, 4,
        "param @x : f32[3, 8]\n"
        "state $kv : kv_cache f32[1, max_seq, 4]\n",
        "%q4 = slice(%x) {offset = 0, len = 4} : f32[T, 4]\n"
        "%q = reshape(%q4) {dims = [2, 2]} : f32[T, 2, 2]\n"
        "%k2 = slice(%x) {offset = 4, len = 2} : f32[T, 2]\n"
        "%k = reshape(%k2) {dims = [1, 2]} : f32[T, 1, 2]\n"
        "%v2 = slice(%x) {offset = 6, len = 2} : f32[T, 2]\n"
        "%v = reshape(%v2) {dims = [1, 2]} : f32[T, 1, 2]\n"
        "%o = sdpa(%q, %k, %v, $kv)  : f32[T, 2, 2]\n"
        "kv_store(%k, %v, $kv)\n"
        "%out = reshape(%o) {dims = [4]} : f32[T, 4]\n",
     sdpa_x, sdpa_want2, {}},
    {"sdpa_window", 3, 8, 4,
        "param @x : f32[3, 8]\n"
        "state $kv : kv_cache f32[1, max_seq, 4]\n",
        "%q4 = slice(%x) {offset = 0, len = 4} : f32[T, 4]\n"
        "%q = reshape(%q4) {dims = [2, 2]} : f32[T, 2, 2]\n"
        "%k2 = slice(%x) {offset = 4, len = 2} : f32[T, 2]\n"
        "%k = reshape(%k2) {dims = [1, 2]} : f32[T, 1, 2]\n"
        "%v2 = slice(%x) {offset = 6, len = 2} : f32[T, 2]\n"
        "%v = reshape(%v2) {dims = [1, 2]} : f32[T, 1, 2]\n"
        "%o = sdpa(%q, %k, %v, $kv) {scale = 0.5, window = 2} : f32[T, 2, 2]\n"
        "kv_store(%k, %v, $kv)\n"
        "%out = reshape(%o) {dims = [4]} : f32[T, 4]\n",
     sdpa_window_x, sdpa_window_want2, {}},
    {"sdpa_noncausal", 3, 8, 4,
        "param @x : f32[3, 8]\n"
        "state $kv : kv_cache f32[1, max_seq, 4]\n",
        "%q4 = slice(%x) {offset = 0, len = 4} : f32[T, 4]\n"
        "%q = reshape(%q4) {dims = [2, 2]} : f32[T, 2, 2]\n"
        "%k2 = slice(%x) {offset = 4, len = 2} : f32[T, 2]\n"
        "%k = reshape(%k2) {dims = [1, 2]} : f32[T, 1, 2]\n"
        "%v2 = slice(%x) {offset = 6, len = 2} : f32[T, 2]\n"
        "%v = reshape(%v2) {dims = [1, 2]} : f32[T, 1, 2]\n"
        "%o = sdpa(%q, %k, %v, $kv) {causal = false} : f32[T, 2, 2]\n"
        "kv_store(%k, %v, $kv)\n"
        "%out = reshape(%o) {dims = [4]} : f32[T, 4]\n",
     sdpa_noncausal_x, sdpa_noncausal_want2, {}},
    {"sdpa_ring", 3, 8, 4,
        "param @x : f32[3, 8]\n"
        "state $kv : kv_cache f32[1, 2, 4]\n",
        "%q4 = slice(%x) {offset = 0, len = 4} : f32[T, 4]\n"
        "%q = reshape(%q4) {dims = [2, 2]} : f32[T, 2, 2]\n"
        "%k2 = slice(%x) {offset = 4, len = 2} : f32[T, 2]\n"
        "%k = reshape(%k2) {dims = [1, 2]} : f32[T, 1, 2]\n"
        "%v2 = slice(%x) {offset = 6, len = 2} : f32[T, 2]\n"
        "%v = reshape(%v2) {dims = [1, 2]} : f32[T, 1, 2]\n"
        "%o = sdpa(%q, %k, %v, $kv) {window = 2} : f32[T, 2, 2]\n"
        "kv_store(%k, %v, $kv)\n"
        "%out = reshape(%o) {dims = [4]} : f32[T, 4]\n",
     sdpa_ring_x, sdpa_ring_want2, {}},
    {"gated_delta_rule", 3, 12, 4,
        "param @x : f32[3, 12]\n"
        "state $S : ssm_state f32[2, 2, 2]\n",
        "%q2 = slice(%x) {offset = 0, len = 2} : f32[T, 2]\n"
        "%q = reshape(%q2) {dims = [1, 2]} : f32[T, 1, 2]\n"
        "%k2 = slice(%x) {offset = 2, len = 2} : f32[T, 2]\n"
        "%k = reshape(%k2) {dims = [1, 2]} : f32[T, 1, 2]\n"
        "%v4 = slice(%x) {offset = 4, len = 4} : f32[T, 4]\n"
        "%v = reshape(%v4) {dims = [2, 2]} : f32[T, 2, 2]\n"
        "%g = slice(%x) {offset = 8, len = 2} : f32[T, 2]\n"
        "%be = slice(%x) {offset = 10, len = 2} : f32[T, 2]\n"
        "%o = gated_delta_rule(%q, %k, %v, %g, %be, $S)  : f32[T, 2, 2]\n"
        "%out = reshape(%o) {dims = [4]} : f32[T, 4]\n",
     gated_delta_rule_x, gated_delta_rule_want2, {}},
    {"gated_delta_rule_scale", 3, 12, 4,
        "param @x : f32[3, 12]\n"
        "state $S : ssm_state f32[2, 2, 2]\n",
        "%q2 = slice(%x) {offset = 0, len = 2} : f32[T, 2]\n"
        "%q = reshape(%q2) {dims = [1, 2]} : f32[T, 1, 2]\n"
        "%k2 = slice(%x) {offset = 2, len = 2} : f32[T, 2]\n"
        "%k = reshape(%k2) {dims = [1, 2]} : f32[T, 1, 2]\n"
        "%v4 = slice(%x) {offset = 4, len = 4} : f32[T, 4]\n"
        "%v = reshape(%v4) {dims = [2, 2]} : f32[T, 2, 2]\n"
        "%g = slice(%x) {offset = 8, len = 2} : f32[T, 2]\n"
        "%be = slice(%x) {offset = 10, len = 2} : f32[T, 2]\n"
        "%o = gated_delta_rule(%q, %k, %v, %g, %be, $S) {scale = 0.25} : f32[T, 2, 2]\n"
        "%out = reshape(%o) {dims = [4]} : f32[T, 4]\n",
     gated_delta_rule_scale_x, gated_delta_rule_scale_want2, {}},
    {"route_softmax_topk", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%out = route(%x) {k = 2} : f32[T, 4]\n",
     route_softmax_topk_x, route_softmax_topk_want2, {}},
    {"route_softmax_topk_renorm", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%out = route(%x) {k = 3, renormalize = true, scale = 2.5} : f32[T, 4]\n",
     route_softmax_topk_renorm_x, route_softmax_topk_renorm_want2, {}},
    {"route_topk_softmax", 2, 4, 4,
        "param @x : f32[2, 4]\n",
        "%out = route(%x) {mode = \"topk_softmax\", k = 2} : f32[T, 4]\n",
     route_topk_softmax_x, route_topk_softmax_want2, {}},
    {"route_groups", 2, 6, 6,
        "param @x : f32[2, 6]\n",
        "%out = route(%x) {mode = \"sigmoid_topk\", k = 2, groups = 3, topk_groups = 1} : f32[T, 6]\n",
     route_groups_x, route_groups_want2, {}},
    {"route_sigmoid_topk", 2, 4, 4,
        "param @x : f32[2, 4]\n"
        "param @rb : f32[4]\n",
        "%out = route(%x, @rb) {mode = \"sigmoid_topk\", k = 2, renormalize = true, scale = 2.0} : f32[T, 4]\n",
     route_sigmoid_topk_x, route_sigmoid_topk_want2, {{"rb", route_sigmoid_topk_p_rb, 4}}},
    {"moe_swiglu", 2, 4, 2,
        "param @x : f32[2, 4]\n"
        "param @up : f32[2, 2, 2]\n"
        "param @dn : f32[2, 2, 2]\n"
        "param @gt : f32[2, 2, 2]\n",
        "%xe = slice(%x) {offset = 0, len = 2} : f32[T, 2]\n"
        "%we = slice(%x) {offset = 2, len = 2} : f32[T, 2]\n"
        "%out = moe_experts(%xe, %we, @up, @dn, @gt) {act = \"swiglu\"} : f32[T, 2]\n",
     moe_swiglu_x, moe_swiglu_want2, {{"up", moe_swiglu_p_up, 8}, {"dn", moe_swiglu_p_dn, 8}, {"gt", moe_swiglu_p_gt, 8}}},
    {"moe_geglu_fused", 2, 4, 2,
        "param @x : f32[2, 4]\n"
        "param @upf : f32[2, 4, 2]\n"
        "param @dn : f32[2, 2, 2]\n",
        "%xe = slice(%x) {offset = 0, len = 2} : f32[T, 2]\n"
        "%we = slice(%x) {offset = 2, len = 2} : f32[T, 2]\n"
        "%out = moe_experts(%xe, %we, @upf, @dn) {act = \"geglu\"} : f32[T, 2]\n",
     moe_geglu_fused_x, moe_geglu_fused_want2, {{"upf", moe_geglu_fused_p_upf, 16}, {"dn", moe_geglu_fused_p_dn, 8}}},
    {"moe_relu2", 2, 4, 2,
        "param @x : f32[2, 4]\n"
        "param @up : f32[2, 2, 2]\n"
        "param @dn : f32[2, 2, 2]\n",
        "%xe = slice(%x) {offset = 0, len = 2} : f32[T, 2]\n"
        "%we = slice(%x) {offset = 2, len = 2} : f32[T, 2]\n"
        "%out = moe_experts(%xe, %we, @up, @dn) {act = \"relu2\"} : f32[T, 2]\n",
     moe_relu2_x, moe_relu2_want2, {{"up", moe_relu2_p_up, 8}, {"dn", moe_relu2_p_dn, 8}}},
    {"moe_gelu", 2, 4, 2,
        "param @x : f32[2, 4]\n"
        "param @up : f32[2, 2, 2]\n"
        "param @dn : f32[2, 2, 2]\n",
        "%xe = slice(%x) {offset = 0, len = 2} : f32[T, 2]\n"
        "%we = slice(%x) {offset = 2, len = 2} : f32[T, 2]\n"
        "%out = moe_experts(%xe, %we, @up, @dn) {act = \"gelu\"} : f32[T, 2]\n",
     moe_gelu_x, moe_gelu_want2, {{"up", moe_gelu_p_up, 8}, {"dn", moe_gelu_p_dn, 8}}},
    {"moe_gelu_tanh", 2, 4, 2,
        "param @x : f32[2, 4]\n"
        "param @up : f32[2, 2, 2]\n"
        "param @dn : f32[2, 2, 2]\n",
        "%xe = slice(%x) {offset = 0, len = 2} : f32[T, 2]\n"
        "%we = slice(%x) {offset = 2, len = 2} : f32[T, 2]\n"
        "%out = moe_experts(%xe, %we, @up, @dn) {act = \"gelu_tanh\"} : f32[T, 2]\n",
     moe_gelu_tanh_x, moe_gelu_tanh_want2, {{"up", moe_gelu_p_up, 8}, {"dn", moe_gelu_p_dn, 8}}},
    {"moe_geglu_tanh_fused", 2, 4, 2,
        "param @x : f32[2, 4]\n"
        "param @upf : f32[2, 4, 2]\n"
        "param @dn : f32[2, 2, 2]\n",
        "%xe = slice(%x) {offset = 0, len = 2} : f32[T, 2]\n"
        "%we = slice(%x) {offset = 2, len = 2} : f32[T, 2]\n"
        "%out = moe_experts(%xe, %we, @upf, @dn) {act = \"geglu_tanh\"} : f32[T, 2]\n",
     moe_geglu_tanh_fused_x, moe_geglu_tanh_fused_want2, {{"upf", moe_geglu_fused_p_upf, 16}, {"dn", moe_geglu_fused_p_dn, 8}}},
    {"moe_silu", 2, 4, 2,
        "param @x : f32[2, 4]\n"
        "param @up : f32[2, 2, 2]\n"
        "param @dn : f32[2, 2, 2]\n",
        "%xe = slice(%x) {offset = 0, len = 2} : f32[T, 2]\n"
        "%we = slice(%x) {offset = 2, len = 2} : f32[T, 2]\n"
        "%out = moe_experts(%xe, %we, @up, @dn) {act = \"silu\"} : f32[T, 2]\n",
     moe_silu_x, moe_silu_want2, {{"up", moe_silu_p_up, 8}, {"dn", moe_silu_p_dn, 8}}},
};

enum { N_OP_CASES = sizeof OP_CASES / sizeof OP_CASES[0] };

START_TEST(test_op_values)
{
    const OpCase *oc = &OP_CASES[_i];
    IrModule *m = make_module(oc->decls, "x", oc->width, oc->body, oc->vocab, 16);
    Weights w;
    weights_random(&w, m, 7);
    set_param(&w, m, "x", oc->x, oc->rows * oc->width);
    for (int i = 0; i < 4 && oc->params[i].name; i++) set_param(&w, m, oc->params[i].name, oc->params[i].vals, oc->params[i].n);
    InterpSession *s = interp_new(m, &w);
    int T = oc->rows;
    int32_t tok[8];
    for (int t = 0; t < T; t++) tok[t] = t;
    size_t n = (size_t)T * oc->vocab;
    float *got = xcalloc(n, sizeof(float)), *split = xcalloc(n, sizeof(float));
    ck_assert_msg(interp_prefill(s, tok, T, got, &C.diag), "%s: %s", oc->name, messages());
    for (size_t i = 0; i < n; i++) {
        double g = got[i], want = oc->want[i];
        ck_assert_msg(fabs(g - want) <= 1e-7 + 2e-6 * fabs(want), "%s: logits[%zu] = %.9g, want %.9g", oc->name, i, g,
                      want);
    }
    /* The same rows from prefill(k) + decode (a non-causal attention sees
     * the future, so it alone is exempt). */
    if (!strstr(oc->name, "noncausal")) {
        for (int k = 1; k < T; k++) {
            run_split(s, tok, T, k, split);
            ck_assert_msg(rel_l2(split, got, n) <= 1e-6, "%s: prefill %d + decode differs (rel %g)", oc->name, k,
                          rel_l2(split, got, n));
        }
    }
    free(got);
    free(split);
    interp_free(s);
    weights_free(&w);
}
END_TEST

/* ---- composites: lowered, prefill == prefill-k + decode ---------------------------- */

typedef struct Composite {
    const char *name, *decls, *body;
} Composite;

#define EMBED_DECLS "  param @embed : f32[16, 8]\n  param @norm : f32[8]\n"
#define HEAD "%out = matmul(%y, @embed) : f32[T, 16]"

static const Composite COMPOSITES[] = {
    {"attention_gated",
     EMBED_DECLS "  param @a.q : f32[16, 8]\n  param @a.k : f32[4, 8]\n  param @a.v : f32[4, 8]\n"
                 "  param @a.o : f32[8, 8]\n  param @a.q_norm : f32[4]\n  param @a.k_norm : f32[4]\n"
                 "  param @a.bq : f32[16]\n  param @a.bk : f32[4]\n  param @a.bv : f32[4]\n  param @a.bo : f32[8]\n"
                 "  state $a.kv : kv_cache f32[1, max_seq, 8]\n",
     "%h = rmsnorm(%x, @norm) : f32[T, 8]\n"
     "%a = attention(%h, @a.q, @a.k, @a.v, @a.o, $a.kv, @a.bq, @a.bk, @a.bv, @a.bo, @a.q_norm, @a.k_norm) "
     "{heads = 2, kv_heads = 1, output_gate = true, qk_norm_offset = 1.0, key_scale = 0.75, rope_dim = 2, "
     "rope_base = 100.0} : f32[T, 8]\n"
     "%y = add(%x, %a) : f32[T, 8]\n" HEAD},
    {"attention_window_ring",
     EMBED_DECLS "  param @a.q : f32[8, 8]\n  param @a.k : f32[4, 8]\n  param @a.v : f32[4, 8]\n"
                 "  param @a.o : f32[8, 8]\n  state $a.kv : kv_cache f32[2, 4, 4]\n",
     "%h = rmsnorm(%x, @norm) : f32[T, 8]\n"
     "%a = attention(%h, @a.q, @a.k, @a.v, @a.o, $a.kv) {heads = 4, kv_heads = 2, window = 4, rope_dim = 2, "
     "rope_interleaved = true, rope_scaling = \"llama3\", rope_scaling_params = [4.0, 1.0, 4.0, 32.0]} : f32[T, 8]\n"
     "%y = add(%x, %a) : f32[T, 8]\n" HEAD},
    {"mamba1",
     EMBED_DECLS "  param @m.in_proj : f32[32, 8]\n  param @m.conv_w : f32[16, 4]\n  param @m.x_proj : f32[10, 16]\n"
                 "  param @m.dt_proj : f32[16, 2]\n  param @m.dt_bias : f32[16]\n  param @m.A_log : f32[16, 4]\n"
                 "  param @m.D : f32[16]\n  param @m.out_proj : f32[8, 16]\n  param @m.conv_b : f32[16]\n"
                 "  param @m.dt_norm : f32[2]\n  param @m.b_norm : f32[4]\n  param @m.c_norm : f32[4]\n"
                 "  state $m.conv : conv_state f32[16, 3]\n  state $m.ssm : ssm_state f32[16, 4]\n",
     "%h = rmsnorm(%x, @norm) : f32[T, 8]\n"
     "%a = mamba1_mixer(%h, @m.in_proj, @m.conv_w, @m.x_proj, @m.dt_proj, @m.dt_bias, @m.A_log, @m.D, @m.out_proj, "
     "$m.conv, $m.ssm, @m.conv_b, _, _, @m.dt_norm, @m.b_norm, @m.c_norm) {inner_norms = \"rms\"} : f32[T, 8]\n"
     "%y = add(%x, %a) : f32[T, 8]\n" HEAD},
    {"mamba2",
     EMBED_DECLS "  param @m.in_proj : f32[52, 8]\n  param @m.conv_w : f32[32, 4]\n  param @m.dt_bias : f32[4]\n"
                 "  param @m.A_log : f32[4]\n  param @m.D : f32[4]\n  param @m.out_proj : f32[8, 16]\n"
                 "  param @m.conv_b : f32[32]\n  param @m.gate_norm : f32[16]\n"
                 "  state $m.conv : conv_state f32[32, 3]\n  state $m.ssm : ssm_state f32[4, 4, 4]\n",
     "%h = rmsnorm(%x, @norm) : f32[T, 8]\n"
     "%a = mamba2_mixer(%h, @m.in_proj, @m.conv_w, @m.dt_bias, @m.A_log, @m.D, @m.out_proj, $m.conv, $m.ssm, "
     "@m.conv_b, @m.gate_norm) {chunk = 4, norm_groups = 1, dt_min = 0.001, dt_max = 0.5, "
     "in_proj_scales = [1.0, 0.5, 1.25, 0.75, 2.0]} : f32[T, 8]\n"
     "%y = add(%x, %a) : f32[T, 8]\n" HEAD},
    {"mamba2_plain_gate",
     EMBED_DECLS "  param @m.in_proj : f32[52, 8]\n  param @m.conv_w : f32[32, 4]\n  param @m.dt_bias : f32[4]\n"
                 "  param @m.A_log : f32[4]\n  param @m.D : f32[4]\n  param @m.out_proj : f32[8, 16]\n"
                 "  state $m.conv : conv_state f32[32, 3]\n  state $m.ssm : ssm_state f32[4, 4, 4]\n",
     "%h = rmsnorm(%x, @norm) : f32[T, 8]\n"
     "%a = mamba2_mixer(%h, @m.in_proj, @m.conv_w, @m.dt_bias, @m.A_log, @m.D, @m.out_proj, $m.conv, $m.ssm) "
     "{chunk = 4} : f32[T, 8]\n"
     "%y = add(%x, %a) : f32[T, 8]\n" HEAD},
    {"short_conv",
     EMBED_DECLS "  param @s.in_proj : f32[24, 8]\n  param @s.conv_w : f32[8, 3]\n  param @s.out_proj : f32[8, 8]\n"
                 "  state $s.conv : conv_state f32[8, 2]\n",
     "%h = rmsnorm(%x, @norm) : f32[T, 8]\n"
     "%a = short_conv_mixer(%h, @s.in_proj, @s.conv_w, @s.out_proj, $s.conv) : f32[T, 8]\n"
     "%y = add(%x, %a) : f32[T, 8]\n" HEAD},
    {"deltanet",
     EMBED_DECLS "  param @d.qkvz : f32[32, 8]\n  param @d.ba : f32[8, 8]\n  param @d.conv_w : f32[24, 4]\n"
                 "  param @d.dt_bias : f32[4]\n  param @d.A_log : f32[4]\n  param @d.gate_norm : f32[2]\n"
                 "  param @d.out_proj : f32[8, 8]\n"
                 "  state $d.conv : conv_state f32[24, 3]\n  state $d.ssm : ssm_state f32[4, 4, 2]\n",
     "%h = rmsnorm(%x, @norm) : f32[T, 8]\n"
     "%a = deltanet_mixer(%h, @d.qkvz, @d.ba, @d.conv_w, @d.dt_bias, @d.A_log, @d.gate_norm, @d.out_proj, $d.conv, "
     "$d.ssm) : f32[T, 8]\n"
     "%y = add(%x, %a) : f32[T, 8]\n" HEAD},
    {"mlp_moe",
     EMBED_DECLS "  param @f.gate : f32[12, 8]\n  param @f.up : f32[12, 8]\n  param @f.down : f32[8, 12]\n"
                 "  param @e.router : f32[4, 8]\n  param @e.gate : f32[4, 6, 8]\n  param @e.up : f32[4, 6, 8]\n"
                 "  param @e.down : f32[4, 8, 6]\n  param @e.shared_gate : f32[6, 8]\n  param @e.shared_up : f32[6, 8]\n"
                 "  param @e.shared_down : f32[8, 6]\n  param @e.sgp : f32[1, 8]\n  param @e.router_bias : f32[4]\n"
                 "  param @g.fused : f32[4, 12, 8]\n  param @g.down : f32[4, 8, 6]\n",
     "%h = rmsnorm(%x, @norm) : f32[T, 8]\n"
     "%a = mlp(%h, @f.up, @f.down, @f.gate) {gate_scale = 0.5, down_scale = 2.0} : f32[T, 8]\n"
     "%b = moe(%h, @e.router, @e.up, @e.down, @e.gate, _, @e.shared_up, @e.shared_down, @e.shared_gate, @e.sgp) "
     "{top_k = 2, renormalize = true} : f32[T, 8]\n"
     "%c = moe(%h, @e.router, @e.up, @e.down, @e.gate, @e.router_bias) {top_k = 2, routing = \"sigmoid_topk\", "
     "renormalize = true, routed_scale = 2.5} : f32[T, 8]\n"
     "%e = moe(%h, @e.router, @g.fused, @g.down) {top_k = 3, routing = \"topk_softmax\", act = \"geglu\"} : f32[T, 8]\n"
     "%ab = add(%a, %b) : f32[T, 8]\n%abc = add(%ab, %c) : f32[T, 8]\n%abce = add(%abc, %e) : f32[T, 8]\n"
     "%y = add(%x, %abce) : f32[T, 8]\n" HEAD},
};
enum { N_COMPOSITES = sizeof COMPOSITES / sizeof COMPOSITES[0] };

START_TEST(test_composite_split)
{
    const Composite *cp = &COMPOSITES[_i];
    IrModule *m = make_module(cp->decls, "embed", 8, cp->body, 16, 64);
    ck_assert(!interp_module_is_lowered(m));
    ck_assert_msg(interp_lower(m, &C.diag), "%s: %s", cp->name, messages());
    ck_assert(interp_module_is_lowered(m));
    Weights w;
    weights_random(&w, m, 3);
    InterpSession *s = interp_new(m, &w);
    enum { T = 13 };
    int32_t tok[T];
    for (int t = 0; t < T; t++) tok[t] = (t * 7 + 3) % 16;
    float full[T * 16], split[T * 16];
    ck_assert(interp_prefill(s, tok, T, full, &C.diag));
    double norm = 0;
    for (int i = 0; i < T * 16; i++) {
        ck_assert_msg(isfinite(full[i]), "%s: non-finite logit", cp->name);
        norm += fabs(full[i]);
    }
    ck_assert_msg(norm > 1e-3, "%s: logits all zero", cp->name);
    static const int ks[] = {1, 4, 5, 12};
    for (int i = 0; i < 4; i++) {
        run_split(s, tok, T, ks[i], split);
        double e = rel_l2(split, full, T * 16);
        ck_assert_msg(e <= 1e-5, "%s: prefill %d + decode: rel L2 %g", cp->name, ks[i], e);
    }
    interp_free(s);
    weights_free(&w);
}
END_TEST

/* ---- models of the DSL: prefill == prefill-k + decode ------------------------------------ */

/* tests/sema/ *.hyb (one tiny model per family: every sublayer kind) and
 * two of examples/ (parallel branches; tens of millions of params, so fewer
 * tokens), through parse -> sema -> lower_model -> lower-composites. */
typedef struct HybCase {
    const char *path;
    int T, ks[4];
} HybCase;

static HybCase hyb_cases[64];
static int n_hyb_cases;

/* ONLY: NULL-terminated file names to take from DIR, or NULL for all. */
static void add_hyb_dir(const char *dir, int T, const int ks[4], const char *const *only)
{
    DIR *d = opendir(dir);
    if (!d) return;
    char names[64][256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        size_t len = strlen(e->d_name);
        bool take = len > 4 && strcmp(e->d_name + len - 4, ".hyb") == 0;
        if (take && only) {
            take = false;
            for (const char *const *o = only; *o; o++) take |= strcmp(*o, e->d_name) == 0;
        }
        if (take) snprintf(names[n++], 256, "%s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    for (int i = 0; i < n && n_hyb_cases < 64; i++) {
        HybCase *c = &hyb_cases[n_hyb_cases++];
        char *p = xmalloc(strlen(dir) + strlen(names[i]) + 2);
        sprintf(p, "%s/%s", dir, names[i]);
        c->path = p;
        c->T = T;
        memcpy(c->ks, ks, sizeof c->ks);
    }
}

START_TEST(test_hyb_split)
{
    const HybCase *hc = &hyb_cases[_i];
    SrcFile *src = src_load(hc->path, &C.arena, &C.diag);
    ck_assert_msg(src, "%s: %s", hc->path, messages());
    AstFile *ast = parse_source(src, &C.arena, &C.in, &C.diag);
    ModelSpec *spec = ast ? sema_check(ast, &C.arena, &C.in, &C.diag) : NULL;
    IrModule *m = spec ? lower_model(spec, &C.arena, &C.in, &C.diag) : NULL;
    ck_assert_msg(m, "%s does not load: %s", hc->path, messages());
    ck_assert_msg(interp_lower(m, &C.diag), "%s: %s", hc->path, messages());
    Weights w;
    weights_random(&w, m, 11);
    InterpSession *s = interp_new(m, &w);
    int T = hc->T;
    int64_t V = interp_vocab(s);
    int32_t tok[32];
    for (int t = 0; t < T; t++) tok[t] = (int32_t)((t * 7919 + 13) % V);
    float *full = xmalloc(sizeof(float) * (size_t)(T * V)), *split = xmalloc(sizeof(float) * (size_t)(T * V));
    ck_assert(interp_prefill(s, tok, T, full, &C.diag));
    for (int64_t i = 0; i < T * V; i++) ck_assert_msg(isfinite(full[i]), "%s: non-finite logit %lld", hc->path, (long long)i);
    for (int i = 0; i < 4 && hc->ks[i]; i++) {
        run_split(s, tok, T, hc->ks[i], split);
        double e = rel_l2(split, full, (size_t)(T * V));
        ck_assert_msg(e <= 1e-5, "%s: prefill %d + decode: rel L2 %g", hc->path, hc->ks[i], e);
    }
    free(full);
    free(split);
    interp_free(s);
    weights_free(&w);
}
END_TEST

/* ---- cross-layer KV sharing against an independent reference ---------------------------- */

/* tests/interp/kv_share: a model whose layers 1 and 3 attend over the KV
 * caches of layers 0 and 2 (attention kv_share, a sliding window shorter
 * than the sequence), its weights, and the logits of a plain numpy forward
 * pass (make_reference.py).  Full prefill and prefill-k + decode match. */
START_TEST(test_kv_share_reference)
{
    const char *dir = "tests/interp/kv_share";
    SrcFile *src = src_load("tests/interp/kv_share/model.hyb", &C.arena, &C.diag);
    AstFile *ast = src ? parse_source(src, &C.arena, &C.in, &C.diag) : NULL;
    ModelSpec *spec = ast ? sema_check(ast, &C.arena, &C.in, &C.diag) : NULL;
    IrModule *m = spec ? lower_model(spec, &C.arena, &C.in, &C.diag) : NULL;
    ck_assert_msg(m && interp_lower(m, &C.diag), "%s: %s", dir, messages());
    Weights w;
    ck_assert_msg(weights_bind_spec(&w, m, spec, &C.diag), "%s: %s", dir, messages());
    SafeTensors *g = st_open("tests/interp/kv_share/golden.safetensors", &C.diag);
    ck_assert_msg(g, "%s", messages());
    const StTensor *ids = st_find(g, "input_ids_a"), *ref = st_find(g, "logits_a");
    ck_assert(ids && ref && ids->ndim == 1 && ref->ndim == 2);
    int T = (int)ids->shape[0], V = (int)ref->shape[1];
    int32_t tok[32];
    ck_assert(T <= 32 && st_read_i32(g, ids, tok));
    float *want = xmalloc(sizeof(float) * (size_t)(T * V)), *got = xmalloc(sizeof(float) * (size_t)(T * V));
    ck_assert(st_read_f32(g, ref, want));
    InterpSession *s = interp_new(m, &w);
    ck_assert(interp_prefill(s, tok, T, got, &C.diag));
    ck_assert_msg(rel_l2(got, want, (size_t)(T * V)) <= 1e-5, "kv_share prefill: rel L2 %g",
                  rel_l2(got, want, (size_t)(T * V)));
    for (int k = 1; k < T; k += 4) {
        run_split(s, tok, T, k, got);
        ck_assert_msg(rel_l2(got, want, (size_t)(T * V)) <= 1e-5, "kv_share prefill %d + decode: rel L2 %g", k,
                      rel_l2(got, want, (size_t)(T * V)));
    }
    free(want);
    free(got);
    st_close(g);
    interp_free(s);
    weights_free(&w);
}
END_TEST

/* ---- states stored in bf16 / f16 ------------------------------------------------------ */

/* A conv state and a KV cache declared bf16 or f16 hold what that type can:
 * a value stored by one call comes back rounded in the next; the rows of a
 * call itself are used as computed.  y_t = 0.5·x_{t-1} + 2·x_t, and the
 * query 0 averages the values of both positions. */
START_TEST(test_state_dtypes)
{
    static const char *const types[] = {"bf16", "f16"};
    const float fine[] = {1.00390625f, 1.00048828125f}; /* halfway: rounds to 1 in bf16 / f16 */
    for (int i = 0; i < 2; i++) {
        char decls[512];
        snprintf(decls, sizeof decls,
                 "  param @x : f32[2, 4]\n  param @w : f32[1, 2]\n"
                 "  state $c : conv_state %s[1, 1]\n  state $kv : kv_cache %s[1, max_seq, 2]\n",
                 types[i], types[i]);
        IrModule *m = make_module(decls, "x", 4,
                                  "%a = slice(%x) {offset = 0, len = 1} : f32[T, 1]\n"
                                  "%y = causal_conv1d(%a, @w, $c) : f32[T, 1]\n"
                                  "%q1 = slice(%x) {offset = 1, len = 1} : f32[T, 1]\n"
                                  "%q = reshape(%q1) {dims = [1, 1]} : f32[T, 1, 1]\n"
                                  "%k1 = slice(%x) {offset = 2, len = 1} : f32[T, 1]\n"
                                  "%k = reshape(%k1) {dims = [1, 1]} : f32[T, 1, 1]\n"
                                  "%v1 = slice(%x) {offset = 3, len = 1} : f32[T, 1]\n"
                                  "%v = reshape(%v1) {dims = [1, 1]} : f32[T, 1, 1]\n"
                                  "%o = sdpa(%q, %k, %v, $kv) : f32[T, 1, 1]\n"
                                  "kv_store(%k, %v, $kv)\n"
                                  "%o1 = reshape(%o) {dims = [1]} : f32[T, 1]\n"
                                  "%out = concat(%y, %o1) : f32[T, 2]",
                                  2, 8);
        Weights w;
        weights_random(&w, m, 1);
        const float x[] = {fine[i], 0, 0, fine[i], 0, 0, 0, 3.0f}, wc[] = {0.5f, 2.0f};
        set_param(&w, m, "x", x, 8);
        set_param(&w, m, "w", wc, 2);
        InterpSession *s = interp_new(m, &w);
        int32_t tok[2] = {0, 1};
        float full[4], split[4];
        ck_assert(interp_prefill(s, tok, 2, full, &C.diag));
        ck_assert(full[2] == 0.5f * fine[i] && full[3] == (fine[i] + 3.0f) / 2); /* the call's own rows */
        run_split(s, tok, 2, 1, split);
        ck_assert_msg(split[2] == 0.5f && split[3] == 2.0f, "%s: decode read %.9g, %.9g", types[i], split[2], split[3]);
        interp_free(s);
        weights_free(&w);
    }
}
END_TEST

/* ---- sessions ------------------------------------------------------------------------ */

static IrModule *conv_module(void)
{
    return make_module("  param @embed : f32[16, 8]\n  param @c.conv_w : f32[8, 4]\n  state $c : conv_state f32[8, 3]\n",
                       "embed", 8, "%c = causal_conv1d(%x, @c.conv_w, $c) : f32[T, 8]\n%out = matmul(%c, @embed) : f32[T, 16]",
                       16, 6);
}

START_TEST(test_reset)
{
    IrModule *m = conv_module();
    Weights w;
    weights_random(&w, m, 1);
    InterpSession *s = interp_new(m, &w);
    int32_t tok[3] = {1, 2, 3};
    float a[48], b[48], c[48];
    ck_assert(interp_prefill(s, tok, 3, a, &C.diag));
    ck_assert_int_eq(interp_pos(s), 3);
    ck_assert(interp_prefill(s, tok, 3, b, &C.diag)); /* continues: other history */
    ck_assert_int_eq(interp_pos(s), 6);
    ck_assert(memcmp(a, b, sizeof a) != 0);
    interp_reset(s);
    ck_assert_int_eq(interp_pos(s), 0);
    ck_assert(interp_prefill(s, tok, 3, c, &C.diag));
    ck_assert(memcmp(a, c, sizeof a) == 0);
    interp_free(s);
    weights_free(&w);
}
END_TEST

START_TEST(test_errors_leave_session)
{
    IrModule *m = conv_module();
    Weights w;
    weights_random(&w, m, 1);
    InterpSession *s = interp_new(m, &w);
    int32_t tok[7] = {1, 2, 3, 4, 5, 6, 7};
    float out[7 * 16], ref[16], again[16];
    ck_assert(interp_prefill(s, tok, 4, out, &C.diag));
    int32_t bad[2] = {3, 16};
    ck_assert(!interp_prefill(s, bad, 2, out, &C.diag));
    ck_assert_has(messages(), "token id 16 at position 5 is outside the vocabulary [0, 16)");
    ck_assert(!interp_decode(s, -1, out, &C.diag));
    ck_assert_int_eq(interp_pos(s), 4);
    ck_assert(!interp_prefill(s, tok, 3, out, &C.diag)); /* 4 + 3 > max_seq 6 */
    ck_assert_has(messages(), "the sequence is too long: 4 tokens already consumed + 3 new > max_seq = 6");
    ck_assert_int_eq(interp_pos(s), 4);
    ck_assert(interp_decode(s, 5, ref, &C.diag));
    /* The failed calls changed nothing: the same decode from a fresh run. */
    interp_reset(s);
    ck_assert(interp_prefill(s, tok, 4, out, &C.diag));
    ck_assert(interp_decode(s, 5, again, &C.diag));
    ck_assert(memcmp(ref, again, sizeof ref) == 0);
    ck_assert(interp_decode(s, 6, again, &C.diag)); /* pos 5 + 1 = 6 = max_seq fits */
    ck_assert(!interp_decode(s, 6, again, &C.diag));
    ck_assert_int_eq(interp_pos(s), 6);
    interp_free(s);
    weights_free(&w);
}
END_TEST

START_TEST(test_embed_table_smaller_than_vocab)
{
    IrModule *m = make_module("  param @e : f32[4, 2]\n  param @head : f32[8, 2]\n", "e", 2,
                              "%out = matmul(%x, @head) : f32[T, 8]", 8, 8);
    Weights w;
    weights_random(&w, m, 1);
    InterpSession *s = interp_new(m, &w);
    int32_t tok[2] = {1, 5};
    float out[16];
    ck_assert(!interp_prefill(s, tok, 2, out, &C.diag));
    ck_assert_has(messages(), "token id 5 at position 1 is outside the embedding table @e [4, 2]");
    interp_free(s);
    weights_free(&w);
}
END_TEST

START_TEST(test_unlowered_dies)
{
    IrModule *m = make_module(COMPOSITES[5].decls, "embed", 8, COMPOSITES[5].body, 16, 16);
    Weights w;
    weights_random(&w, m, 1);
    if (!freopen("/dev/null", "w", stderr)) abort(); /* the expected message */
    interp_new(m, &w); /* composites: an internal error, exit 70 */
}
END_TEST

/* ---- binding ------------------------------------------------------------------------- */

static char tmpdir[64];

static void bind_setup(void)
{
    setup();
    strcpy(tmpdir, "/tmp/hyc-bind.XXXXXX");
    ck_assert(mkdtemp(tmpdir) != NULL);
}

static void bind_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    teardown();
}

static const char *tmp_path(const char *name) { return arena_printf(&C.arena, "%s/%s", tmpdir, name); }

static float iota_buf[4096];

static StWriteTensor tensor(const char *name, int ndim, const int64_t *shape)
{
    return (StWriteTensor){name, ST_F32, ndim, shape, iota_buf};
}

static IrModule *params_module(const char *decls)
{
    /* A module that only declares params (the functions are trivial). */
    return make_module(arena_printf(&C.arena, "  param @embed : f32[4, 2]\n%s", decls), "embed", 2,
                       "%out = scale(%x) {factor = 1.0} : f32[T, 2]", 2, 4);
}

static const float *param_data(const Weights *w, const IrModule *m, const char *name)
{
    IrParam p = ir_find_param(m, name);
    ck_assert(p.id >= 0);
    return w->data[p.id];
}

START_TEST(test_bind_hyc_renames_and_unused)
{
    for (int i = 0; i < 4096; i++) iota_buf[i] = (float)i;
    IrModule *m = params_module("  param @layers.0.mlp.up : f32[3, 2]\n  param @layers.1.mlp.up : f32[3, 2]\n"
                                "  param @final_norm : f32[2]\n");
    int64_t s42[] = {4, 2}, s32[] = {3, 2}, s2[] = {2}, s5[] = {5};
    StWriteTensor ts[] = {tensor("embed", 2, s42), tensor("blk.0.up", 2, s32), tensor("blk.1.up", 2, s32),
                          tensor("norm_out", 1, s2), tensor("extra.a", 1, s5), tensor("extra.b", 1, s2)};
    ck_assert(st_write(tmp_path("w.safetensors"), ts, 6, &C.diag));
    WeightRename rn[] = {{"layers.{i}.mlp.up", "blk.{i}.up", loc_none()}, {"final_norm", "norm_out", loc_none()}};
    BindSource src = {tmp_path("w.safetensors"), "hyc", NULL, rn, 2};
    Weights w;
    ck_assert_msg(weights_bind(&w, m, &src, &C.diag), "%s", messages());
    ck_assert_int_eq(C.diag.n_warnings, 1);
    ck_assert_has(messages(), "2 tensors of the file are not used by model 't': extra.a, extra.b");
    ck_assert(param_data(&w, m, "layers.1.mlp.up")[5] == 5.0f);
    ck_assert(param_data(&w, m, "final_norm")[1] == 1.0f);
    weights_free(&w);
}
END_TEST

START_TEST(test_bind_errors)
{
    IrModule *m = params_module("  param @a : f32[3, 2]\n  param @b : f32[2]\n");
    int64_t s42[] = {4, 2}, s23[] = {2, 3};
    StWriteTensor ts[] = {tensor("embed", 2, s42), tensor("a", 2, s23)};
    ck_assert(st_write(tmp_path("w.safetensors"), ts, 2, &C.diag));
    BindSource src = {tmp_path("w.safetensors"), NULL, NULL, NULL, 0};
    Weights w;
    ck_assert(!weights_bind(&w, m, &src, &C.diag));
    ck_assert_has(messages(), "tensor 'a' has shape [2, 3], but param 'a' is [3, 2]");
    ck_assert_has(messages(), "no tensor 'b' for param 'b' [2]");
    ck_assert_has(messages(), "note: the file has a tensor 'a'");
    ck_assert_ptr_null(w.data);
    /* A path without a checkpoint: st_set_open's own error. */
    BindSource none = {arena_printf(&C.arena, "%s/nothing", tmpdir), NULL, NULL, NULL, 0};
    ck_assert(!weights_bind(&w, m, &none, &C.diag));
}
END_TEST

/* hf: squeeze (mamba2 conv), halves of an expert tensor (jamba), regroup
 * (qwen3_next qkvz), a legacy per-expert stack, and a tied lm_head. */
START_TEST(test_bind_hf_transforms)
{
    for (int i = 0; i < 4096; i++) iota_buf[i] = (float)i;
    /* mamba2: conv weight [C, 1, K] -> [C, K]; tied lm_head is no "unused" tensor */
    {
        IrModule *m = make_module("  param @embed : f32[4, 2]\n  param @layers.0.mamba2.conv_w : f32[3, 4]\n", "embed", 2,
                                  "%out = scale(%x) {factor = 1.0} : f32[T, 2]", 2, 4);
        int64_t s42[] = {4, 2}, s314[] = {3, 1, 4};
        StWriteTensor ts[] = {tensor("backbone.embeddings.weight", 2, s42), tensor("lm_head.weight", 2, s42),
                              tensor("backbone.layers.0.mixer.conv1d.weight", 3, s314)};
        ck_assert(st_write(tmp_path("m2.safetensors"), ts, 3, &C.diag));
        HfNaming nm;
        HfDims dims = {0};
        dims.tie_embeddings = true;
        ck_assert(hf_naming_init(&nm, "hf:mamba2", &dims));
        BindSource src = {tmp_path("m2.safetensors"), "hf:mamba2", &nm, NULL, 0};
        Weights w;
        ck_assert_msg(weights_bind(&w, m, &src, &C.diag), "%s", messages());
        ck_assert_int_eq(C.diag.n_warnings, 0);
        ck_assert(param_data(&w, m, "layers.0.mamba2.conv_w")[11] == 11.0f);
        weights_free(&w);
    }
    /* jamba experts: gate_up [n, 2I, d] -> halves of axis 1 */
    {
        IrModule *m = make_module("  param @embed : f32[4, 2]\n  param @layers.0.moe.experts_gate : f32[2, 3, 2]\n"
                                  "  param @layers.0.moe.experts_up : f32[2, 3, 2]\n",
                                  "embed", 2, "%out = scale(%x) {factor = 1.0} : f32[T, 2]", 2, 4);
        int64_t s42[] = {4, 2}, s262[] = {2, 6, 2};
        StWriteTensor ts[] = {tensor("model.embed_tokens.weight", 2, s42),
                              tensor("model.layers.0.feed_forward.experts.gate_up_proj", 3, s262)};
        ck_assert(st_write(tmp_path("j.safetensors"), ts, 2, &C.diag));
        BindSource src = {tmp_path("j.safetensors"), "hf:jamba", NULL, NULL, 0};
        Weights w;
        ck_assert_msg(weights_bind(&w, m, &src, &C.diag), "%s", messages());
        const float *g = param_data(&w, m, "layers.0.moe.experts_gate"), *u = param_data(&w, m, "layers.0.moe.experts_up");
        /* expert 1 starts at element 12; its gate rows are 12..17, up 18..23 */
        ck_assert(g[0] == 0.0f && g[5] == 5.0f && g[6] == 12.0f && u[0] == 6.0f && u[6] == 18.0f && u[11] == 23.0f);
        weights_free(&w);
    }
    /* jamba legacy: experts.<e>.gate_proj.weight [I, d] stacked */
    {
        IrModule *m = make_module("  param @embed : f32[4, 2]\n  param @layers.0.moe.experts_down : f32[2, 2, 3]\n", "embed",
                                  2, "%out = scale(%x) {factor = 1.0} : f32[T, 2]", 2, 4);
        int64_t s42[] = {4, 2}, s23[] = {2, 3};
        StWriteTensor ts[] = {tensor("model.embed_tokens.weight", 2, s42),
                              tensor("model.layers.0.feed_forward.experts.0.down_proj.weight", 2, s23),
                              tensor("model.layers.0.feed_forward.experts.1.down_proj.weight", 2, s23)};
        ck_assert(st_write(tmp_path("jl.safetensors"), ts, 3, &C.diag));
        HfNaming nm;
        HfDims dims = {0};
        dims.n_experts = 2;
        ck_assert(hf_naming_init(&nm, "jamba", &dims));
        BindSource src = {tmp_path("jl.safetensors"), "hf:jamba", &nm, NULL, 0};
        Weights w;
        ck_assert_msg(weights_bind(&w, m, &src, &C.diag), "%s", messages());
        const float *d = param_data(&w, m, "layers.0.moe.experts_down");
        ck_assert(d[0] == 0.0f && d[5] == 5.0f && d[6] == 0.0f && d[11] == 5.0f);
        weights_free(&w);
    }
    /* qwen3_next in_proj_ba: per key head [b (r), a (r)] -> [b; a] */
    {
        IrModule *m = make_module("  param @embed : f32[4, 2]\n  param @layers.0.deltanet.in_proj_ba : f32[8, 1]\n", "embed",
                                  2, "%out = scale(%x) {factor = 1.0} : f32[T, 2]", 2, 4);
        int64_t s42[] = {4, 2}, s81[] = {8, 1};
        StWriteTensor ts[] = {tensor("model.embed_tokens.weight", 2, s42),
                              tensor("model.layers.0.linear_attn.in_proj_ba.weight", 2, s81)};
        ck_assert(st_write(tmp_path("q.safetensors"), ts, 2, &C.diag));
        HfNaming nm;
        HfDims dims = {0};
        dims.lin_key_heads = 2;
        dims.lin_value_heads = 4;
        dims.lin_key_dim = dims.lin_value_dim = 1;
        ck_assert(hf_naming_init(&nm, "qwen3_next", &dims));
        BindSource src = {tmp_path("q.safetensors"), "hf:qwen3_next", &nm, NULL, 0};
        Weights w;
        ck_assert_msg(weights_bind(&w, m, &src, &C.diag), "%s", messages());
        const float *ba = param_data(&w, m, "layers.0.deltanet.in_proj_ba");
        /* groups [b0 b1 a0 a1][b2 b3 a2 a3] = rows 0..7 -> b: 0 1 4 5, a: 2 3 6 7 */
        static const float want[8] = {0, 1, 4, 5, 2, 3, 6, 7};
        for (int i = 0; i < 8; i++) ck_assert_msg(ba[i] == want[i], "ba[%d] = %g", i, ba[i]);
        weights_free(&w);
    }
    /* a wrong shape after a transform names the transform */
    {
        IrModule *m = make_module("  param @embed : f32[4, 2]\n  param @layers.0.mamba2.conv_w : f32[3, 5]\n", "embed", 2,
                                  "%out = scale(%x) {factor = 1.0} : f32[T, 2]", 2, 4);
        BindSource src = {tmp_path("m2.safetensors"), "hf:mamba2", NULL, NULL, 0};
        Weights w;
        ck_assert(!weights_bind(&w, m, &src, &C.diag));
        ck_assert_has(messages(), "tensor 'backbone.layers.0.mixer.conv1d.weight' gives shape [3, 4] (squeeze [C, 1, K] -> [C, K]), "
                                  "but param 'layers.0.mamba2.conv_w' is [3, 5]");
    }
}
END_TEST

/* Derived params (passes/fold_scales.c, merge_projections.c): bound from
 * their leaves, which are read as the params of their names would be (and
 * count as used); a bad leaf is reported like a param. */
START_TEST(test_bind_derived)
{
    for (int i = 0; i < 4096; i++) iota_buf[i] = (float)i;
    IrModule *m = params_module("  param @qk : f32[5, 2] = concat(@q : f32[3, 2], scale(@k : f32[2, 2], 0.5))\n"
                                "  param @qk_bias : f32[5] = concat(zeros(f32[3]), @bk : f32[2])\n");
    int64_t s42[] = {4, 2}, s32[] = {3, 2}, s22[] = {2, 2}, s2[] = {2};
    StWriteTensor ts[] = {tensor("embed", 2, s42), tensor("q", 2, s32), tensor("k", 2, s22), tensor("bk", 1, s2)};
    ck_assert(st_write(tmp_path("d.safetensors"), ts, 4, &C.diag));
    BindSource src = {tmp_path("d.safetensors"), "hyc", NULL, NULL, 0};
    Weights w;
    ck_assert_msg(weights_bind(&w, m, &src, &C.diag), "%s", messages());
    ck_assert_int_eq(C.diag.n_warnings, 0); /* q, k, bk are used */
    static const float qk[10] = {0, 1, 2, 3, 4, 5, 0, 0.5f, 1, 1.5f}, b[5] = {0, 0, 0, 0, 1};
    const float *got = param_data(&w, m, "qk"), *gb = param_data(&w, m, "qk_bias");
    for (int i = 0; i < 10; i++) ck_assert_msg(got[i] == qk[i], "qk[%d] = %g", i, got[i]);
    for (int i = 0; i < 5; i++) ck_assert_msg(gb[i] == b[i], "qk_bias[%d] = %g", i, gb[i]);
    weights_free(&w);
    /* a leaf of the wrong shape */
    IrModule *bad = params_module("  param @qk : f32[5, 2] = concat(@q : f32[3, 2], @k : f32[2, 2])\n");
    int64_t s23[] = {2, 3};
    StWriteTensor ts2[] = {tensor("embed", 2, s42), tensor("q", 2, s32), tensor("k", 2, s23)};
    ck_assert(st_write(tmp_path("e.safetensors"), ts2, 3, &C.diag));
    BindSource src2 = {tmp_path("e.safetensors"), "hyc", NULL, NULL, 0};
    ck_assert(!weights_bind(&w, bad, &src2, &C.diag));
    ck_assert_has(messages(), "tensor 'k' has shape [2, 3], but param 'k' is [2, 2]");
}
END_TEST

/* Random weights: a derived param is computed from the values its leaves
 * would have as params (never drawn), and the base params keep their values
 * whether a pass derived anything or not. */
START_TEST(test_random_derived)
{
    IrModule *base = params_module("  param @q : f32[3, 2]\n  param @k : f32[2, 2]\n");
    IrModule *der = params_module("  param @q : f32[3, 2]\n"
                                  "  param @qk : f32[5, 2] = concat(scale(@q : f32[3, 2], 2), @k : f32[2, 2])\n");
    Weights wb, wd;
    weights_random(&wb, base, 9);
    weights_random(&wd, der, 9);
    const float *q = param_data(&wb, base, "q"), *k = param_data(&wb, base, "k");
    const float *q2 = param_data(&wd, der, "q"), *qk = param_data(&wd, der, "qk");
    for (int i = 0; i < 6; i++) {
        ck_assert(q2[i] == q[i]);
        ck_assert(qk[i] == (float)(2.0 * q[i]));
    }
    for (int i = 0; i < 4; i++) ck_assert(qk[6 + i] == k[i]);
    weights_free(&wb);
    weights_free(&wd);
}
END_TEST

/* Derived elementwise ops (passes/fold_params.c) are computed with the
 * interpreter's kernels, so a folded A = -exp(A_log) equals the unfolded
 * instructions' result bit for bit. */
START_TEST(test_random_derived_ops)
{
    IrModule *base = params_module("  param @A_log : f32[3, 2]\n  param @k : f32[3, 2]\n");
    IrModule *der = params_module("  param @A : f32[3, 2] = neg(exp(@A_log : f32[3, 2]))\n"
                                  "  param @s : f32[3, 2] = sub(mul(softplus(@k : f32[3, 2]), @A_log : f32[3, 2]), "
                                  "scale(@k : f32[3, 2], 0.5))\n");
    Weights wb, wd;
    weights_random(&wb, base, 5);
    weights_random(&wd, der, 5);
    const float *al = param_data(&wb, base, "A_log"), *k = param_data(&wb, base, "k");
    const float *a = param_data(&wd, der, "A"), *s = param_data(&wd, der, "s");
    float e[6], sp[6], p[6], h[6], want[6];
    ik_exp(e, al, 6);
    ik_softplus(sp, k, 6);
    ik_mul(p, sp, al, 6);
    for (int i = 0; i < 6; i++) h[i] = (float)((double)k[i] * 0.5);
    ik_sub(want, p, h, 6);
    for (int i = 0; i < 6; i++) {
        ck_assert_msg(a[i] == -e[i], "A[%d] = %g, want %g", i, a[i], -e[i]);
        ck_assert_msg(s[i] == want[i], "s[%d] = %g, want %g", i, s[i], want[i]);
    }
    weights_free(&wb);
    weights_free(&wd);
}
END_TEST

/* scale_cols (passes/fuse_prologue.c): column j of w times (offset + g[j]),
 * rounded once, as the rmsnorm kernel applies its weight. */
START_TEST(test_random_derived_scale_cols)
{
    IrModule *base = params_module("  param @w : f32[3, 4]\n  param @g : f32[4]\n");
    IrModule *der = params_module("  param @wn : f32[3, 4] = scale_cols(@w : f32[3, 4], @g : f32[4])\n"
                                  "  param @wo : f32[3, 4] = scale_cols(@w : f32[3, 4], @g : f32[4], 1.0)\n");
    Weights wb, wd;
    weights_random(&wb, base, 3);
    weights_random(&wd, der, 3);
    const float *w = param_data(&wb, base, "w"), *g = param_data(&wb, base, "g");
    const float *wn = param_data(&wd, der, "wn"), *wo = param_data(&wd, der, "wo");
    for (int i = 0; i < 12; i++) {
        ck_assert_msg(wn[i] == (float)((double)w[i] * g[i % 4]), "wn[%d] = %g", i, wn[i]);
        ck_assert_msg(wo[i] == (float)((double)w[i] * (1.0 + g[i % 4])), "wo[%d] = %g", i, wo[i]);
    }
    weights_free(&wb);
    weights_free(&wd);
}
END_TEST

/* The prologue fusion computes the norms it replaces: rms_scale, a matmul
 * row scale and scale_cols weights give the logits of rmsnorm + matmul
 * (weighted, offset, unweighted, with a bias, two readers of one norm) up
 * to rounding, in prefill and in prefill k + decode. */
START_TEST(test_prologue_matches_norm)
{
    const char *decls = "  param @embed : f32[16, 8]\n  param @g : f32[8]\n  param @h : f32[8]\n"
                        "  param @wa : f32[12, 8]\n  param @ba : f32[12]\n  param @wb : f32[12, 8]\n"
                        "  param @wc : f32[12, 8]\n  param @head : f32[16, 12]\n";
    const char *body = "%n = rmsnorm(%x, @g) {eps = 1e-05} : f32[T, 8]\n"
                       "%a = matmul(%n, @wa, @ba) : f32[T, 12]\n"
                       "%b = matmul(%n, @wb) : f32[T, 12]\n"
                       "%o = rmsnorm(%x, @h) {eps = 0.001, offset = 1.0} : f32[T, 8]\n"
                       "%c = matmul(%o, @wc) : f32[T, 12]\n"
                       "%u = rmsnorm(%x) {eps = 1e-06} : f32[T, 8]\n"
                       "%d = matmul(%u, @wa, @ba) : f32[T, 12]\n"
                       "%ab = add(%a, %b) : f32[T, 12]\n%abc = add(%ab, %c) : f32[T, 12]\n"
                       "%y = add(%abc, %d) : f32[T, 12]\n"
                       "%out = matmul(%y, @head) : f32[T, 16]";
    IrModule *plain = make_module(decls, "embed", 8, body, 16, 16);
    IrModule *fused = make_module(decls, "embed", 8, body, 16, 16);
    const Pass *passes[] = {&pass_fuse_prologue};
    ck_assert_msg(pass_run_passes(&fused, passes, 1, NULL, &C.diag), "%s", messages());
    /* @wa is read under the norm of @g and the unweighted one: it cannot
     * take @g's columns for one of them without a second copy, so only the
     * unweighted norm and @h's fold; @g's stays */
    int n_rms = 0, n_scale = 0;
    const IrFunc *fn = ir_find_func(fused, "prefill");
    for (int i = 0; i < fn->n_insts; i++) {
        n_rms += fn->insts[i].op == IR_OP_RMSNORM;
        n_scale += fn->insts[i].op == IR_OP_RMS_SCALE;
    }
    ck_assert_int_eq(n_rms, 1);
    ck_assert_int_eq(n_scale, 2);
    Weights wp, wf;
    weights_random(&wp, plain, 11);
    weights_random(&wf, fused, 11);
    InterpSession *sp = interp_new(plain, &wp), *sf = interp_new(fused, &wf);
    enum { T = 6 };
    int32_t tok[T] = {3, 1, 4, 1, 5, 9};
    float want[T * 16], got[T * 16];
    ck_assert_msg(interp_prefill(sp, tok, T, want, &C.diag), "%s", messages());
    ck_assert_msg(interp_prefill(sf, tok, T, got, &C.diag), "%s", messages());
    ck_assert_msg(rel_l2(got, want, T * 16) <= 1e-6, "fused prefill differs: rel %g", rel_l2(got, want, T * 16));
    run_split(sf, tok, T, 2, got);
    ck_assert_msg(rel_l2(got, want, T * 16) <= 1e-6, "fused prefill 2 + decode differs: rel %g",
                  rel_l2(got, want, T * 16));
    interp_free(sp);
    interp_free(sf);
    weights_free(&wp);
    weights_free(&wf);
}
END_TEST

/* ---- runner ------------------------------------------------------------------------- */

static Suite *interp_suite(void)
{
    Suite *s = suite_create("interp");
    TCase *tc;

    tc = tcase_create("ops");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_op_values, 0, N_OP_CASES);
    suite_add_tcase(s, tc);

    tc = tcase_create("composites");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_composite_split, 0, N_COMPOSITES);
    suite_add_tcase(s, tc);

    tc = tcase_create("models");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    static const int sema_ks[4] = {1, 16, 17, 19}, example_ks[4] = {1, 3, 0, 0};
    /* Of the examples (tens of millions of params: slow to fill with random
     * weights), those with parallel branches: branch norms, a shared
     * out_proj, diff combine. */
    static const char *const parallel_examples[] = {"hymba.hyb", "paper_intra.hyb", NULL};
    add_hyb_dir("tests/sema", 20, sema_ks, NULL);
    add_hyb_dir("examples", 4, example_ks, parallel_examples);
    if (n_hyb_cases) tcase_add_loop_test(tc, test_hyb_split, 0, n_hyb_cases);
    tcase_add_test(tc, test_kv_share_reference);
    tcase_add_test(tc, test_state_dtypes);
    suite_add_tcase(s, tc);

    tc = tcase_create("sessions");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_reset);
    tcase_add_test(tc, test_errors_leave_session);
    tcase_add_test(tc, test_embed_table_smaller_than_vocab);
    tcase_add_exit_test(tc, test_unlowered_dies, HYC_EXIT_INTERNAL);
    suite_add_tcase(s, tc);

    tc = tcase_create("bind");
    tcase_add_checked_fixture(tc, bind_setup, bind_teardown);
    tcase_add_test(tc, test_bind_hyc_renames_and_unused);
    tcase_add_test(tc, test_bind_errors);
    tcase_add_test(tc, test_bind_hf_transforms);
    tcase_add_test(tc, test_bind_derived);
    tcase_add_test(tc, test_random_derived);
    tcase_add_test(tc, test_random_derived_ops);
    tcase_add_test(tc, test_random_derived_scale_cols);
    tcase_add_test(tc, test_prologue_matches_norm);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(interp_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
