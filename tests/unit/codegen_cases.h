/* codegen_cases.h — the op modules both backends' tests run (check_codegen.c
 * for the C emitter, check_llvm.c for the LLVM emitter), and the helpers both
 * harnesses share: one definition, so that the two backends are always
 * checked on the same programs by the same measure.  Include after ir/ir.h. */
#ifndef HYC_TEST_CODEGEN_CASES_H
#define HYC_TEST_CODEGEN_CASES_H

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- helpers both harnesses use --------------------------------------------------- */

/* Remove a scratch directory of generated files (flat), unless KEEP is set. */
static void cleanup_scratch_dir(const char *dir, const char *who)
{
    if (!dir[0]) return;
    if (getenv("KEEP")) {
        fprintf(stderr, "%s: generated files kept in %s\n", who, dir);
        return;
    }
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

static double rel_l2(const float *got, const float *ref, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    if (isnan(num)) return INFINITY;
    return sqrt(num / (den > 0.0 ? den : 1e-30));
}

/* Tokens must index the embedding as well as the vocabulary. */
static int token_limit(const IrModule *m, int vocab)
{
    int lim = vocab;
    const IrFunc *fn = ir_find_func(m, "prefill");
    for (int i = 0; i < fn->n_insts; i++)
        if (fn->insts[i].op == IR_OP_EMBED) {
            int64_t rows = m->params[ir_inst_operand(&fn->insts[i], "table").id].type.dims[0];
            if (rows < lim) lim = (int)rows;
        }
    return lim;
}


/* One module per case: `decls` (params and states), then `body` as both
 * functions, `$T` standing for T (prefill) and 1 (decode).  The body starts
 * from %tokens and returns a [$T, vocab] value. */
typedef struct Case {
    const char *name;
    int vocab;
    const char *decls;
    const char *body;
} Case;

#define EMB "  param @emb : f32[16, 24]\n  param @emb2 : f32[16, 24]\n"
#define X0 "    %x = embed(%tokens, @emb) : f32[$T, 24]\n    %z = embed(%tokens, @emb2) : f32[$T, 24]\n"

/* The cases, as initializer entries: `static const Case cases[] = {
 * CODEGEN_BASE_CASES, ... };` */
#define CODEGEN_BASE_CASES \
    /* w4, w5: row counts and a k length that leave remainders to the \
     * register-blocked (jammed) matmul: 22 = 5 x 4 + 2 rows, 9 = 2 x 4 + 1, \
     * 72 = 4 x 16 + 8 */ \
    {"op_matmul", 91, EMB "  param @w : f32[20, 24]\n  param @b : f32[20]\n  param @w2 : f32[20, 12]\n" \
                      "  param @w4 : f32[22, 24]\n  param @w5 : f32[9, 72]\n  param @b5 : f32[9]\n", \
     X0 "    %y = matmul(%x, @w, @b) : f32[$T, 20] loc(\"ops.hyb\":3:1)\n" \
        "    %x3 = reshape(%z) {dims = [2, 12]} : f32[$T, 2, 12]\n" \
        "    %y3 = matmul(%x3, @w2) : f32[$T, 2, 20]\n" \
        "    %y2 = reshape(%y3) {dims = [40]} : f32[$T, 40]\n" \
        "    %y4 = matmul(%z, @w4) : f32[$T, 22]\n" \
        "    %x5 = concat(%x, %z, %x) : f32[$T, 72]\n" \
        "    %y5 = matmul(%x5, @w5, @b5) : f32[$T, 9]\n" \
        "    %r = concat(%y, %y2, %y4, %y5) : f32[$T, 91]\n    return %r\n"}, \
    {"op_norms", 168, EMB "  param @n.norm : f32[24]\n  param @n.b : f32[24]\n", \
     X0 "    %a = rmsnorm(%x, @n.norm) {eps = 1e-5, offset = 1.0} : f32[$T, 24]\n" \
        "    %b = rmsnorm(%x) : f32[$T, 24]\n" \
        "    %c = layernorm(%x, @n.norm, @n.b) : f32[$T, 24]\n" \
        "    %d = layernorm(%z) {eps = 1e-3} : f32[$T, 24]\n" \
        "    %e = group_rmsnorm(%x, @n.norm) {groups = 4, offset = 0.5} : f32[$T, 24]\n" \
        "    %f = group_rmsnorm(%z) {groups = 3} : f32[$T, 24]\n" \
        "    %g = l2norm(%x) : f32[$T, 24]\n" \
        "    %r = concat(%a, %b, %c, %d, %e, %f, %g) : f32[$T, 168]\n    return %r\n"}, \
    {"op_gated_norm", 72, EMB "  param @g.norm : f32[24]\n", \
     X0 "    %a = gated_rmsnorm(%x, %z, @g.norm) {groups = 2} : f32[$T, 24]\n" \
        "    %b = gated_rmsnorm(%x, %z) {norm_before_gate = true} : f32[$T, 24]\n" \
        "    %c = gated_rmsnorm(%x, %z, @g.norm) {groups = 3, norm_before_gate = true} : f32[$T, 24]\n" \
        "    %r = concat(%a, %b, %c) : f32[$T, 72]\n    return %r\n"}, \
    {"op_unary", 264, EMB, \
     X0 "    %s = scale(%x) {factor = 6.0} : f32[$T, 24]\n" \
        "    %a = silu(%s) : f32[$T, 24]\n" \
        "    %b = gelu(%s) : f32[$T, 24]\n" \
        "    %c = relu2(%s) : f32[$T, 24]\n" \
        "    %big = scale(%x) {factor = 80.0} : f32[$T, 24]\n" \
        "    %d = softplus(%big) : f32[$T, 24]\n" \
        "    %e = sigmoid(%big) : f32[$T, 24]\n" \
        "    %f = exp(%s) : f32[$T, 24]\n" \
        "    %g = neg(%s) : f32[$T, 24]\n" \
        "    %h = scale(%s) {factor = 0.3} : f32[$T, 24]\n" \
        "    %i = clamp(%s) {min = -0.5, max = 0.25} : f32[$T, 24]\n" \
        "    %j = clamp(%s) {min = 0.0} : f32[$T, 24]\n" \
        "    %k = softplus(%s) : f32[$T, 24]\n" \
        "    %r = concat(%a, %b, %c, %d, %e, %f, %g, %h, %i, %j, %k) : f32[$T, 264]\n    return %r\n"}, \
    {"op_binary", 120, EMB "  param @bias : f32[24]\n  param @b21 : f32[2, 1]\n", \
     X0 "    %a = add(%x, @bias) : f32[$T, 24]\n" \
        "    %b = sub(%x, %z) : f32[$T, 24]\n" \
        "    %z1 = slice(%z) {offset = 3, len = 1} : f32[$T, 1]\n" \
        "    %c = mul(%x, %z1) : f32[$T, 24]\n" \
        "    %x3 = reshape(%x) {dims = [2, 12]} : f32[$T, 2, 12]\n" \
        "    %d3 = add(%x3, @b21) : f32[$T, 2, 12]\n" \
        "    %d = reshape(%d3) {dims = [24]} : f32[$T, 24]\n" \
        "    %eb = exp(@bias) : f32[24]\n" \
        "    %e = mul(%z, %eb) : f32[$T, 24]\n" \
        "    %r = concat(%a, %b, %c, %d, %e) : f32[$T, 120]\n    return %r\n"}, \
    {"op_last_row", 48, EMB, \
     X0 "    %l = last_row(%x) : f32[1, 24]\n" \
        "    %z3 = reshape(%z) {dims = [2, 12]} : f32[$T, 2, 12]\n" \
        "    %l3 = last_row(%z3) : f32[1, 2, 12]\n" \
        "    %a = add(%z, %l) : f32[$T, 24]\n" \
        "    %b3 = add(%z3, %l3) : f32[$T, 2, 12]\n" \
        "    %b = reshape(%b3) {dims = [24]} : f32[$T, 24]\n" \
        "    %r = concat(%a, %b) : f32[$T, 48]\n    return %r\n"}, \
    {"op_softmax", 48, EMB, \
     X0 "    %s = scale(%x) {factor = 5.0} : f32[$T, 24]\n" \
        "    %a = softmax(%s) : f32[$T, 24]\n" \
        "    %s3 = reshape(%s) {dims = [4, 6]} : f32[$T, 4, 6]\n" \
        "    %b3 = softmax(%s3) : f32[$T, 4, 6]\n" \
        "    %b = reshape(%b3) {dims = [24]} : f32[$T, 24]\n" \
        "    %r = concat(%a, %b) : f32[$T, 48]\n    return %r\n"}, \
    {"op_conv", 48, \
     EMB "  param @c.conv_w : f32[24, 1, 4]\n  param @c.conv_b : f32[24]\n  param @c2.conv_w : f32[24, 2]\n" \
         "  state $c.conv : conv_state f32[24, 3]\n  state $c2.conv : conv_state f32[24, 1]\n", \
     X0 "    %a = causal_conv1d(%x, @c.conv_w, $c.conv, @c.conv_b) : f32[$T, 24]\n" \
        "    %b = causal_conv1d(%z, @c2.conv_w, $c2.conv) : f32[$T, 24]\n" \
        "    %r = concat(%a, %b) : f32[$T, 48]\n    return %r\n"}, \
    {"op_selective_scan", 48, \
     EMB "  param @emb3 : f32[16, 24]\n  param @s.dt : f32[24, 24]\n  param @s.A_log : f32[24, 4]\n  param @s.D : f32[24]\n" \
         "  state $s.ssm : ssm_state f32[24, 4]\n  state $s.ssm2 : ssm_state f32[24, 4]\n", \
     X0 "    %zz = embed(%tokens, @emb3) : f32[$T, 24]\n" \
        "    %dt0 = matmul(%x, @s.dt) : f32[$T, 24]\n" \
        "    %dt = softplus(%dt0) : f32[$T, 24]\n" \
        "    %ea = exp(@s.A_log) : f32[24, 4]\n" \
        "    %A = neg(%ea) : f32[24, 4]\n" \
        "    %B = slice(%z) {offset = 0, len = 4} : f32[$T, 4]\n" \
        "    %C = slice(%z) {offset = 4, len = 4} : f32[$T, 4]\n" \
        "    %a = selective_scan(%x, %dt, %A, %B, %C, $s.ssm, @s.D, %zz) : f32[$T, 24]\n" \
        "    %b = selective_scan(%x, %dt, %A, %B, %C, $s.ssm2) : f32[$T, 24]\n" \
        "    %r = concat(%a, %b) : f32[$T, 48]\n    return %r\n"}, \
    {"op_ssd_scan", 24, \
     EMB "  param @m.dt_bias : f32[4]\n  param @m.A_log : f32[4]\n  param @m.D : f32[4]\n" \
         "  state $m.ssm : ssm_state f32[4, 6, 3]\n", \
     X0 "    %x3 = reshape(%x) {dims = [4, 6]} : f32[$T, 4, 6]\n" \
        "    %dr = slice(%z) {offset = 0, len = 4} : f32[$T, 4]\n" \
        "    %db = add(%dr, @m.dt_bias) : f32[$T, 4]\n" \
        "    %dt = softplus(%db) : f32[$T, 4]\n" \
        "    %ea = exp(@m.A_log) : f32[4]\n" \
        "    %A = neg(%ea) : f32[4]\n" \
        "    %Bs = slice(%z) {offset = 4, len = 6} : f32[$T, 6]\n" \
        "    %B = reshape(%Bs) {dims = [2, 3]} : f32[$T, 2, 3]\n" \
        "    %Cs = slice(%z) {offset = 10, len = 6} : f32[$T, 6]\n" \
        "    %C = reshape(%Cs) {dims = [2, 3]} : f32[$T, 2, 3]\n" \
        "    %y3 = ssd_scan(%x3, %dt, %A, %B, %C, $m.ssm, @m.D) {chunk = 4} : f32[$T, 4, 6]\n" \
        "    %r = reshape(%y3) {dims = [24]} : f32[$T, 24]\n    return %r\n"}, \
    {"op_fused_scans", 264, \
     EMB "  param @f.conv_w : f32[24, 4]\n  param @f.conv_b : f32[24]\n  param @f.dt_w : f32[24, 3]\n" \
         "  param @f.dt_b : f32[24]\n  param @f.A_log : f32[24, 4]\n  param @f.D : f32[24]\n" \
         "  param @m.dt_bias : f32[4]\n  param @m.A_log : f32[4]\n  param @m.D : f32[4]\n" \
         "  state $f.c1 : conv_state f32[24, 3]\n  state $f.c2 : conv_state f32[24, 3]\n" \
         "  state $f.c3 : conv_state f32[24, 3]\n  state $f.c4 : conv_state f32[24, 3]\n" \
         "  state $f.ssm : ssm_state f32[24, 4]\n  state $f.ssm2 : ssm_state bf16[24, 4]\n" \
         "  state $m.ssm : ssm_state f32[4, 6, 3]\n  state $m.ssm2 : ssm_state f32[4, 6, 3]\n", \
     X0 "    %a = causal_conv1d_act(%x, @f.conv_w, $f.c1, @f.conv_b) : f32[$T, 24]\n" \
        "    %b = causal_conv1d_act(%z, @f.conv_w, $f.c2) {act = \"gelu\"} : f32[$T, 24]\n" \
        "    %c = causal_conv1d_act(%x, @f.conv_w, $f.c3) {act = \"gelu_tanh\"} : f32[$T, 24]\n" \
        "    %d = causal_conv1d_act(%z, @f.conv_w, $f.c4, @f.conv_b) {act = \"relu2\"} : f32[$T, 24]\n" \
        "    %dr = slice(%z) {offset = 5, len = 3} : f32[$T, 3]\n" \
        "    %ea = exp(@f.A_log) : f32[24, 4]\n" \
        "    %A = neg(%ea) : f32[24, 4]\n" \
        "    %B = slice(%z) {offset = 0, len = 4} : f32[$T, 4]\n" \
        "    %C = slice(%z) {offset = 4, len = 4} : f32[$T, 4]\n" \
        "    %e = fused_selective_scan(%a, %dr, @f.dt_w, %A, %B, %C, $f.ssm, @f.dt_b, @f.D, %z) : f32[$T, 24]\n" \
        "    %f = fused_selective_scan(%x, %dr, @f.dt_w, %A, %B, %C, $f.ssm2) : f32[$T, 24]\n" \
        "    %x3 = reshape(%x) {dims = [4, 6]} : f32[$T, 4, 6]\n" \
        "    %dt = slice(%z) {offset = 0, len = 4} : f32[$T, 4]\n" \
        "    %ma = exp(@m.A_log) : f32[4]\n" \
        "    %mA = neg(%ma) : f32[4]\n" \
        "    %Bs = slice(%z) {offset = 4, len = 6} : f32[$T, 6]\n" \
        "    %B3 = reshape(%Bs) {dims = [2, 3]} : f32[$T, 2, 3]\n" \
        "    %Cs = slice(%z) {offset = 10, len = 6} : f32[$T, 6]\n" \
        "    %C3 = reshape(%Cs) {dims = [2, 3]} : f32[$T, 2, 3]\n" \
        "    %g3 = fused_ssd_scan(%x3, %dt, @m.dt_bias, %mA, %B3, %C3, $m.ssm, @m.D) {chunk = 4} : f32[$T, 4, 6]\n" \
        "    %h3 = fused_ssd_scan(%x3, %dt, @m.dt_bias, %mA, %B3, %C3, $m.ssm2) {dt_min = 0.5, dt_max = 0.9} : f32[$T, 4, 6]\n" \
        "    %g = reshape(%g3) {dims = [24]} : f32[$T, 24]\n" \
        "    %h = reshape(%h3) {dims = [24]} : f32[$T, 24]\n" \
        "    %mid = scale(%x) {factor = 12.0} : f32[$T, 24]\n" \
        "    %i = exp(%mid) : f32[$T, 24]\n" \
        "    %big = scale(%x) {factor = 80.0} : f32[$T, 24]\n" \
        "    %sq = relu2(%big) : f32[$T, 24]\n" \
        "    %nb = neg(%sq) : f32[$T, 24]\n" \
        "    %j = exp(%nb) : f32[$T, 24]\n" \
        "    %k = sigmoid(%big) : f32[$T, 24]\n" \
        "    %r = concat(%a, %b, %c, %d, %e, %f, %g, %h, %i, %j, %k) : f32[$T, 264]\n    return %r\n"}, \
    /* more states than one lane loop holds: 32 (two groups of 16, y summed \
     * in memory between them) and 17 (groups of one state) */ \
    {"op_fused_scan_groups", 48, \
     EMB "  param @g.dt_w : f32[24, 3]\n  param @g.dt_b : f32[24]\n  param @g.D : f32[24]\n" \
         "  param @g.A32 : f32[24, 32]\n  param @g.A17 : f32[24, 17]\n" \
         "  state $g.s32 : ssm_state f32[24, 32]\n  state $g.s17 : ssm_state bf16[24, 17]\n", \
     X0 "    %xz = concat(%x, %z) : f32[$T, 48]\n" \
        "    %dr = slice(%z) {offset = 5, len = 3} : f32[$T, 3]\n" \
        "    %e32 = exp(@g.A32) : f32[24, 32]\n" \
        "    %A32 = neg(%e32) : f32[24, 32]\n" \
        "    %B32 = slice(%xz) {offset = 0, len = 32} : f32[$T, 32]\n" \
        "    %C32 = slice(%xz) {offset = 16, len = 32} : f32[$T, 32]\n" \
        "    %e = fused_selective_scan(%x, %dr, @g.dt_w, %A32, %B32, %C32, $g.s32, @g.dt_b, @g.D, %z) : f32[$T, 24]\n" \
        "    %e17 = exp(@g.A17) : f32[24, 17]\n" \
        "    %A17 = neg(%e17) : f32[24, 17]\n" \
        "    %B17 = slice(%xz) {offset = 3, len = 17} : f32[$T, 17]\n" \
        "    %C17 = slice(%xz) {offset = 30, len = 17} : f32[$T, 17]\n" \
        "    %f = fused_selective_scan(%z, %dr, @g.dt_w, %A17, %B17, %C17, $g.s17) : f32[$T, 24]\n" \
        "    %r = concat(%e, %f) : f32[$T, 48]\n    return %r\n"}, \
    {"op_rope", 96, EMB, \
     X0 "    %x3 = reshape(%x) {dims = [2, 12]} : f32[$T, 2, 12]\n" \
        "    %a3 = rope(%x3) {dim = 12} : f32[$T, 2, 12]\n" \
        "    %b3 = rope(%x3) {dim = 8, base = 500.0, interleaved = true} : f32[$T, 2, 12]\n" \
        "    %c3 = rope(%x3) {dim = 6, scaling = \"linear\", scaling_params = [2.0]} : f32[$T, 2, 12]\n" \
        "    %d3 = rope(%x3) {dim = 12, scaling = \"llama3\", scaling_params = [8.0, 1.0, 4.0, 16.0]} : f32[$T, 2, 12]\n" \
        "    %a = reshape(%a3) {dims = [24]} : f32[$T, 24]\n" \
        "    %b = reshape(%b3) {dims = [24]} : f32[$T, 24]\n" \
        "    %c = reshape(%c3) {dims = [24]} : f32[$T, 24]\n" \
        "    %d = reshape(%d3) {dims = [24]} : f32[$T, 24]\n" \
        "    %r = concat(%a, %b, %c, %d) : f32[$T, 96]\n    return %r\n"}, \
    {"op_attention", 96, \
     EMB "  param @wq : f32[32, 24]\n  param @wk : f32[16, 24]\n  param @wv : f32[16, 24]\n" \
         "  state $kv : kv_cache f32[2, max_seq, 16]\n  state $ring : kv_cache f32[2, 4, 16]\n" \
         "  state $nc : kv_cache f32[2, max_seq, 16]\n  state $ncw : kv_cache f32[2, 3, 16]\n", \
     X0 "    %q2 = matmul(%x, @wq) : f32[$T, 32]\n    %k2 = matmul(%x, @wk) : f32[$T, 16]\n" \
        "    %v2 = matmul(%z, @wv) : f32[$T, 16]\n" \
        "    %q = reshape(%q2) {dims = [4, 8]} : f32[$T, 4, 8]\n" \
        "    %k = reshape(%k2) {dims = [2, 8]} : f32[$T, 2, 8]\n" \
        "    %v = reshape(%v2) {dims = [2, 8]} : f32[$T, 2, 8]\n" \
        "    %a3 = sdpa(%q, %k, %v, $kv) : f32[$T, 4, 8]\n" \
        "    kv_store(%k, %v, $kv)\n" \
        "    %b3 = sdpa(%q, %k, %v, $ring) {scale = 0.2, window = 4} : f32[$T, 4, 8]\n" \
        "    kv_store(%k, %v, $ring)\n" \
        "    %c3 = sdpa(%q, %k, %v, $nc) {causal = false} : f32[$T, 4, 8]\n" \
        "    kv_store(%k, %v, $nc)\n" \
        "    %d3 = sdpa(%q, %k, %v, $ncw) {causal = false, window = 3} : f32[$T, 4, 8]\n" \
        "    kv_store(%k, %v, $ncw)\n" \
        "    %a = reshape(%a3) {dims = [32]} : f32[$T, 32]\n" \
        "    %b = reshape(%b3) {dims = [32]} : f32[$T, 32]\n" \
        "    %c = reshape(%c3) {dims = [32]} : f32[$T, 32]\n" \
        "    %d = reshape(%d3) {dims = [32]} : f32[$T, 32]\n" \
        "    %ab = add(%a, %b) : f32[$T, 32]\n" \
        "    %r = concat(%ab, %c, %d) : f32[$T, 96]\n    return %r\n"}, \
    {"op_delta_rule", 48, \
     EMB "  param @d.wq : f32[12, 24]\n  param @d.wk : f32[12, 24]\n  param @d.wv : f32[24, 24]\n" \
         "  param @d.wg : f32[4, 24]\n  param @d.wb : f32[4, 24]\n" \
         "  state $d.S : ssm_state f32[4, 6, 6]\n  state $d.S2 : ssm_state f32[4, 6, 6]\n", \
     X0 "    %q2 = matmul(%x, @d.wq) : f32[$T, 12]\n    %k2 = matmul(%z, @d.wk) : f32[$T, 12]\n" \
        "    %v2 = matmul(%x, @d.wv) : f32[$T, 24]\n" \
        "    %q3 = reshape(%q2) {dims = [2, 6]} : f32[$T, 2, 6]\n" \
        "    %k3 = reshape(%k2) {dims = [2, 6]} : f32[$T, 2, 6]\n" \
        "    %q = l2norm(%q3) : f32[$T, 2, 6]\n    %k = l2norm(%k3) : f32[$T, 2, 6]\n" \
        "    %v = reshape(%v2) {dims = [4, 6]} : f32[$T, 4, 6]\n" \
        "    %g0 = matmul(%x, @d.wg) : f32[$T, 4]\n    %g1 = softplus(%g0) : f32[$T, 4]\n" \
        "    %g = neg(%g1) : f32[$T, 4]\n" \
        "    %b0 = matmul(%z, @d.wb) : f32[$T, 4]\n    %beta = sigmoid(%b0) : f32[$T, 4]\n" \
        "    %o3 = gated_delta_rule(%q, %k, %v, %g, %beta, $d.S) : f32[$T, 4, 6]\n" \
        "    %p3 = gated_delta_rule(%q, %k, %v, %g, %beta, $d.S2) {scale = 0.7} : f32[$T, 4, 6]\n" \
        "    %o = reshape(%o3) {dims = [24]} : f32[$T, 24]\n" \
        "    %p = reshape(%p3) {dims = [24]} : f32[$T, 24]\n" \
        "    %r = concat(%o, %p) : f32[$T, 48]\n    return %r\n"}, \
    {"op_route", 40, EMB "  param @wr : f32[8, 24]\n  param @rb : f32[8]\n", \
     X0 "    %l = matmul(%x, @wr) : f32[$T, 8]\n" \
        "    %a = route(%l) {k = 2} : f32[$T, 8]\n" \
        "    %b = route(%l, @rb) {mode = \"topk_softmax\", k = 3} : f32[$T, 8]\n" \
        "    %c = route(%l, @rb) {mode = \"sigmoid_topk\", k = 2, renormalize = true, scale = 2.5} : f32[$T, 8]\n" \
        "    %d = route(%l) {k = 2, renormalize = true} : f32[$T, 8]\n" \
        "    %e = route(%l) {mode = \"sigmoid_topk\", k = 8} : f32[$T, 8]\n" \
        "    %r = concat(%a, %b, %c, %d, %e) : f32[$T, 40]\n    return %r\n"}, \
    {"op_moe", 120, \
     EMB "  param @wr : f32[8, 24]\n  param @up : f32[8, 16, 24]\n  param @gate : f32[8, 16, 24]\n" \
         "  param @upf : f32[8, 32, 24]\n  param @down : f32[8, 24, 16]\n", \
     X0 "    %l = matmul(%x, @wr) : f32[$T, 8]\n" \
        "    %w = route(%l) {k = 2, renormalize = true} : f32[$T, 8]\n" \
        "    %a = moe_experts(%x, %w, @up, @down, @gate) : f32[$T, 24]\n" \
        "    %b = moe_experts(%x, %w, @upf, @down) {act = \"geglu\"} : f32[$T, 24]\n" \
        "    %c = moe_experts(%z, %w, @up, @down) {act = \"relu2\"} : f32[$T, 24]\n" \
        "    %d = moe_experts(%x, %w, @up, @down) {act = \"gelu\"} : f32[$T, 24]\n" \
        "    %e = moe_experts(%z, %w, @up, @down) {act = \"silu\"} : f32[$T, 24]\n" \
        "    %r = concat(%a, %b, %c, %d, %e) : f32[$T, 120]\n    return %r\n"}, \
    /* fused epilogues (fuse-epilogue): every act, a residual, both; jammed \
     * sizes with remainders (22 rows, k = 72) and a rank-3 matmul with res */ \
    {"op_matmul_epilogue", 226, EMB "  param @w : f32[20, 24]\n  param @b : f32[20]\n  param @w2 : f32[20, 12]\n" \
                      "  param @w4 : f32[22, 24]\n  param @w5 : f32[22, 72]\n  param @b5 : f32[22]\n", \
     X0 "    %a = matmul(%x, @w, @b) {act = \"silu\"} : f32[$T, 20]\n" \
        "    %b = matmul(%z, @w, @b, %a) {act = \"gelu\"} : f32[$T, 20]\n" \
        "    %c = matmul(%x, @w, _, %b) {act = \"gelu_tanh\"} : f32[$T, 20]\n" \
        "    %d = matmul(%z, @w, @b) {act = \"relu2\"} : f32[$T, 20]\n" \
        "    %e = matmul(%x, @w) {act = \"softplus\"} : f32[$T, 20]\n" \
        "    %f = matmul(%z, @w, @b) {act = \"sigmoid\"} : f32[$T, 20]\n" \
        "    %y4 = matmul(%z, @w4) : f32[$T, 22]\n" \
        "    %g = matmul(%x, @w4, _, %y4) : f32[$T, 22]\n" \
        "    %x5 = concat(%x, %z, %x) : f32[$T, 72]\n" \
        "    %h = matmul(%x5, @w5, @b5, %g) {act = \"silu\"} : f32[$T, 22]\n" \
        "    %x3 = reshape(%z) {dims = [2, 12]} : f32[$T, 2, 12]\n" \
        "    %y3 = matmul(%x3, @w2) : f32[$T, 2, 20]\n" \
        "    %i3 = matmul(%x3, @w2, _, %y3) {act = \"relu2\"} : f32[$T, 2, 20]\n" \
        "    %i = reshape(%i3) {dims = [40]} : f32[$T, 40]\n" \
        "    %r = concat(%a, %b, %c, %d, %e, %f, %g, %h, %i, %y4) : f32[$T, 226]\n    return %r\n"}, \
    /* fused prologues (fuse-prologue): rms_scale (rank 2 and 3) and the \
     * matmul row scale alone, before a bias, with act and res; jammed sizes \
     * with remainders (22 rows, k = 72) and a rank-3 matmul */ \
    {"op_matmul_prologue", 147, EMB "  param @w : f32[20, 24]\n  param @b : f32[20]\n  param @w2 : f32[20, 12]\n" \
                      "  param @w4 : f32[22, 24]\n  param @w5 : f32[22, 72]\n  param @b5 : f32[22]\n", \
     X0 "    %r1 = rms_scale(%x) : f32[$T, 1]\n" \
        "    %r2 = rms_scale(%z) {eps = 0.01} : f32[$T, 1]\n" \
        "    %a = matmul(%x, @w, _, _, %r1) : f32[$T, 20]\n" \
        "    %b = matmul(%z, @w, @b, _, %r2) : f32[$T, 20]\n" \
        "    %c = matmul(%x, @w, @b, %a, %r1) {act = \"silu\"} : f32[$T, 20]\n" \
        "    %d = matmul(%z, @w4, _, _, %r2) {act = \"gelu_tanh\"} : f32[$T, 22]\n" \
        "    %x5 = concat(%x, %z, %x) : f32[$T, 72]\n" \
        "    %r5 = rms_scale(%x5) {eps = 1e-6} : f32[$T, 1]\n" \
        "    %e = matmul(%x5, @w5, @b5, _, %r5) {act = \"relu2\"} : f32[$T, 22]\n" \
        "    %x3 = reshape(%z) {dims = [2, 12]} : f32[$T, 2, 12]\n" \
        "    %r3 = rms_scale(%x3) : f32[$T, 2, 1]\n" \
        "    %y3 = matmul(%x3, @w2, _, _, %r3) : f32[$T, 2, 20]\n" \
        "    %f = reshape(%y3) {dims = [40]} : f32[$T, 40]\n" \
        "    %r = concat(%r1, %r2, %a, %b, %c, %d, %e, %f, %r5) : f32[$T, 147]\n    return %r\n"},

#endif
