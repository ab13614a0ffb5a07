#!/bin/sh
# long_context.sh — attention memory at long context (docs/bench.md,
# "Attention at 32K tokens"):
#
#   sh bench/long_context.sh HYC [CMP_LOGITS]
#
# For each length T of LONG_TOKENS (default "8192 16384 32768"): builds
# bench/long/attn_long.hyb (a full causal and a sliding-window attention
# layer) with max_seq = T and random weights into a temporary folder, then
# prefills T tokens (in the runtime's chunks of 256) at LONG_THREADS threads
# (default 2) under /usr/bin/time -v, and prints the seconds and the peak
# resident set size.  (With max_seq fixed the cache is allocated and zeroed
# whole when a session starts, so the RSS would not move at all.)  The KV cache grows by
# (dk + dv) kv_heads 4 bytes per token of the full layer (512 B here); a
# T x T f32 buffer of scores would add 4 T^2 bytes (4 GiB at 32K).  Checks:
#   - peak RSS grows linearly: each step's increase per added token is at
#     most LONG_MAX_BPT bytes (default 4096, 8x the cache's 512; a T x T
#     buffer needs 4T bytes per added token: 32768 at 8K tokens);
#   - with CMP_LOGITS (make check runs LONG_TOKENS="1024 2048 4096"): the
#     compiled model's logits at the longest length in prefill chunks of
#     256 match the interpreter's (rel L2 <= 1e-4), which crosses the ring
#     of the window layer and many key tiles.
# Exit status 1 when a check fails.
set -eu
if [ $# -lt 1 ]; then
    echo "usage: sh bench/long_context.sh HYC [CMP_LOGITS]" >&2
    exit 2
fi
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
HYC=$(abs "$1")
CMP=${2:+$(abs "$2")}
cd "$(dirname "$0")/.."
TOKENS=${LONG_TOKENS:-8192 16384 32768}
THREADS=${LONG_THREADS:-2}
MAX_BPT=${LONG_MAX_BPT:-4096}
TIME=/usr/bin/time
if [ ! -x "$TIME" ]; then
    echo "long_context: $TIME is missing (apt-get install time)" >&2
    exit 1
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hyc-long.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
export HYC_CACHE_DIR=${HYC_CACHE_DIR:-$TMP/cache}

fail=0
prev_t=0
prev_kb=0
last=
printf '%8s %9s %12s %14s\n' tokens seconds peak_RSS_KiB bytes/token+
for T in $TOKENS; do
    # T pseudo-random token ids in [0, 256) as raw little-endian int32
    LC_ALL=C awk -v n="$T" 'BEGIN { s = 1; for (i = 0; i < n; i++) { s = (s * 75 + 74) % 65537;
        printf "%c%c%c%c", s % 256, 0, 0, 0 } }' </dev/null >"$TMP/ids$T.i32"
    # the model with max_seq = T: its KV cache (allocated and zeroed whole
    # when a session starts) is then what the T tokens need
    sed "s/max_seq = 32768/max_seq = $T/" bench/long/attn_long.hyb >"$TMP/attn_long.hyb"
    "$HYC" build "$TMP/attn_long.hyb" --random-weights=7 -o "$TMP/m" >"$TMP/build.log" 2>&1 || {
        cat "$TMP/build.log" >&2
        exit 1
    }
    if ! "$TIME" -v "$TMP/m" --tokens-file "$TMP/ids$T.i32" -n 1 --threads "$THREADS" >"$TMP/out$T" 2>"$TMP/time$T"; then
        cat "$TMP/out$T" "$TMP/time$T" >&2
        exit 1
    fi
    kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$TMP/time$T")
    secs=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$TMP/time$T")
    bpt=-
    if [ "$prev_t" -gt 0 ]; then
        bpt=$(( (kb - prev_kb) * 1024 / (T - prev_t) ))
        if [ "$bpt" -gt "$MAX_BPT" ]; then
            echo "long_context: FAIL: peak RSS grew by $bpt bytes per token from $prev_t to $T tokens (at most $MAX_BPT)" >&2
            fail=1
        fi
    fi
    printf '%8s %9s %12s %14s\n' "$T" "$secs" "$kb" "$bpt"
    prev_t=$T
    prev_kb=$kb
    last=$T
done

if [ -n "$CMP" ]; then
    "$TMP/m" --tokens-file "$TMP/ids$last.i32" --threads "$THREADS" --logits-out "$TMP/c.f32" >/dev/null
    "$HYC" run "$TMP/attn_long.hyb" --random-weights=7 --tokens-file "$TMP/ids$last.i32" --prefill "$last" \
        --logits-out "$TMP/i.f32" >/dev/null
    "$CMP" pair "$TMP/c.f32" "$TMP/i.f32" 256 "compiled vs interpreter, $last tokens" || fail=1
fi
[ $fail -eq 0 ] && echo "long_context: ok" || echo "long_context: FAILED" >&2
exit $fail
