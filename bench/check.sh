#!/bin/sh
# bench/check.sh — `make check`'s test of hyc bench (fast: a 67K-parameter
# model):
#   1. the FLOP and byte formulas (docs/bench.md) on bench/tests/tiny.hyb
#      against a hand count;
#   2. a real run, -p 8 -n 4 -r 1, in a scratch cache: every JSON field there;
#   3. usage errors exit 2.
set -u
HYC=${1:?usage: sh bench/check.sh HYC}
TINY=bench/tests/tiny.hyb
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HYC_CACHE_DIR="$tmp/cache"
fail=0
bad() { echo "bench/check.sh: FAIL: $*" >&2; fail=1; }

# 1. The hand count of tiny.hyb (d 64, vocab 128 tied, layer 0 Mamba-1 E 128
# N 4 R 4 K 4, layer 1 attention 2 q heads / 1 kv head x 32 + SwiGLU 96).
# Decode at position 0 (one key attended):
#   matmuls 2nk: in_proj 2*256*64 = 32768, x_proj 2*12*128 = 3072,
#     dt_proj 2*128*4 + bias 128 = 1152, out_proj 2*64*128 = 16384,
#     q 8192, k 4096, v 4096, o 8192, gate 12288, up 12288, down 12288,
#     lm_head (tied) 2*128*64 = 16384                          = 131200
#   conv 2*128*4 = 1024; scan 7*128*4 + 3*128 = 3968;
#   sdpa 2 heads * 1 key * (2*64 + 3) = 262
#   others, 1 per output element: 4 rmsnorms 256, silu 128, softplus 128,
#     3 adds 192, silu 96, mul 96                              = 896
#   (at -O2 fuse-prologue leaves 3 of the norms as rms_scale, counted as the
#   norm: 1 per element of x, and the row scale of the matmuls as nothing)
#   (A = -exp(A_log) is a derived param at -O2, pass fold-params: no FLOPs)
#   total 137350 FLOPs.  tg4 (positions 0..3: 2.5 keys on average):
#   137350 - 262 + 2.5*262 = 137743.
#   pp8 (one call, T = 8): 8*(131200 + 1024 + 3968 + 896)
#   + 36 keys*2*131 = 1106136, /8 = 138267.
# Bytes: every param once (67200 * 4 = 268800), conv state 128*3*4 = 1536,
#   SSM state 128*4*4 = 2048, KV rows attended 1*64*4 each:
#   tg1 268800 + 1536 + 2048 + 256 = 272640; tg4 (2.5 rows) 273024;
#   pp8 (8 rows, one call) 274432 / 8 = 34304.  At -O2 fuse-prologue folds
#   the weights of 3 norms (in_proj's, q/k/v's, gate/up's; not the final
#   one: the head is tied) into the matmul weights: 3*64*4 = 768 bytes fewer,
#   tg1 271872, tg4 272256, pp8 273664 / 8 = 34208.
# (--logits all: every position's LM head, as counted above.)
out=$("$HYC" bench "$TINY" -p 8 -n 1,4 --dry-run --logits all -o json) || bad "--dry-run failed"
expect() { # test flops bytes
    line=$(printf '%s\n' "$out" | grep "\"test\": \"$1\"")
    printf '%s' "$line" | grep -q "\"flops_per_token\": $2," || bad "$1: flops_per_token is not $2: $line"
    printf '%s' "$line" | grep -q "\"bytes_per_token\": $3[,}]" || bad "$1: bytes_per_token is not $3: $line"
}
expect pp8 138267 34208
expect tg1 137350 271872
expect tg4 137743 272256
out=$("$HYC" bench "$TINY" -p 8 -n 1,4 --dry-run --logits all --disable-pass=fuse-prologue -o json) ||
    bad "--dry-run --disable-pass=fuse-prologue failed"
expect pp8 138267 34304
expect tg1 137350 272640
expect tg4 137743 273024
# The default --logits last (pass last-logits): the layer-1 tail after the
# attention runs on the last row only: o, gate, up, down and lm_head
# (61440 FLOPs a row) and their 448 elementwise FLOPs a row on 1 row, not 8:
# pp8 = 1106136 - 7*(61440 + 448) = 672920, /8 = 84115 (last_row: no FLOPs,
# as slice); decode is unchanged.
out=$("$HYC" bench "$TINY" -p 8 -n 1 --dry-run -o json) || bad "--dry-run (--logits last) failed"
expect pp8 84115 34208
expect tg1 137350 271872

# 2. A real run: compiles the model, measures the 1-thread ceilings.
out=$("$HYC" bench "$TINY" --random-weights -p 8 -n 4 -r 1 -t 1 -o json 2>"$tmp/err") || {
    cat "$tmp/err" >&2
    bad "hyc bench -p 8 -n 4 -r 1 failed"
}
for t in pp8 tg4; do
    line=$(printf '%s\n' "$out" | grep "\"test\": \"$t\"")
    [ -n "$line" ] || bad "no $t line in: $out"
    for f in model params backend hyc_version cpu threads tokens_per_s flops_per_token bytes_per_token gflops gbps roofline; do
        printf '%s' "$line" | grep -q "\"$f\": " || bad "$t: no field $f in: $line"
    done
    printf '%s' "$line" | grep -q '"tokens_per_s": 0.000' && bad "$t: zero tokens/s: $line"
done
"$HYC" bench "$TINY" --random-weights -p 8 -n 4 -r 1 -t 1 2>/dev/null | grep -q '^| tiny | ' || bad "no Markdown row"
grep -q '"gflops"' "$HYC_CACHE_DIR/ceilings.json" 2>/dev/null || bad "no ceilings cached in $HYC_CACHE_DIR/ceilings.json"

# --profile: one row per kernel that ran, with the cost model's GFLOP/s and
# share of the FMA ceiling where the kernel computes ("-" for data movement),
# then the total and the matmuls' line.
"$HYC" bench "$TINY" --random-weights -p 8 -n 0 -r 1 -t 1 --profile >/dev/null 2>"$tmp/prof" || bad "--profile failed"
grep -q '^ *ms  *calls  *us/call  *%  *GFLOP/s  *% peak  kernel$' "$tmp/prof" || bad "--profile: no header: $(cat "$tmp/prof")"
grep -Eq ' [0-9]+\.[0-9] +[0-9]+\.[0-9]  matmul_[0-9]+$' "$tmp/prof" || bad "--profile: no matmul row with GFLOP/s: $(cat "$tmp/prof")"
grep -Eq ' - +-  (slice|last_row|embed)_[0-9]+$' "$tmp/prof" || bad "--profile: no data-movement row with '-': $(cat "$tmp/prof")"
grep -q '  total$' "$tmp/prof" || bad "--profile: no total"
grep -q '^   matmul: .* GFLOP/s' "$tmp/prof" || bad "--profile: no matmul line"

# 3. Usage errors.
"$HYC" bench "$TINY" --random-weights -o xml >/dev/null 2>&1; [ $? -eq 2 ] || bad "-o xml does not exit 2"
"$HYC" bench "$TINY" -p 8 >/dev/null 2>&1; [ $? -eq 2 ] || bad "no --random-weights does not exit 2"
"$HYC" bench "$TINY" --random-weights -p 65 >/dev/null 2>&1; [ $? -eq 1 ] || bad "-p past max_seq does not exit 1"

[ $fail -eq 0 ] && echo "bench/check.sh: hyc bench formulas and run: ok"
exit $fail
