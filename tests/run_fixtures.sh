#!/bin/sh
# run_fixtures.sh — the Hugging Face fixtures through the command line:
#
#   sh tests/run_fixtures.sh build/hyc [CMP_LOGITS] [FIXTURE_DIR...]
#
# For each fixture (default: tests/fixtures/hf/tiny/jamba and
# tests/fixtures/hf/small/falcon_h1) it runs
#
#   hyc run DIR --tokens-file ids.i32 --logits-out out.f32 [--prefill K] [-O2]
#
# on input_ids_a of golden.safetensors (and _b when present), in one prefill,
# in prefill of 17 tokens + decode, at -O2 (one prefill, 17 + decode), at
# -O2 without the graph optimizations (--disable-pass=fold-scales,
# merge-projections,fold-params,fuse-prologue, prefill 17 + decode) and at -O2 without
# scan fusion (HYC_DISABLE_PASS=fuse-scan, one prefill), and compares the
# logits with
# logits_a/_b using tools/cmp_logits.c (the fixtures' metric: rel L2 <= 1e-4,
# same argmax where the reference top-2 gap > 1e-3).  Then the command line's
# own checks: bad tokens, bad --prefill, a truncated tokens file, an
# unknown backend, each with its exit status.  CMP_LOGITS is a built
# cmp_logits; without it the script builds one against build/libhyc.a.
# One line per check; exit status 1 if anything failed.
set -eu

if [ $# -lt 1 ]; then
    echo "usage: sh tests/run_fixtures.sh HYC [CMP_LOGITS] [FIXTURE_DIR...]" >&2
    exit 2
fi
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
HYC=$(abs "$1")
shift
cd "$(dirname "$0")/.."
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hyc-fixtures.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

CMP=""
if [ $# -gt 0 ] && [ -x "$1" ] && [ ! -d "$1" ]; then
    CMP=$(abs "$1")
    shift
fi
if [ -z "$CMP" ]; then
    CMP=$TMP/cmp_logits
    ${CC:-cc} -std=c11 -D_GNU_SOURCE -O1 -I. tools/cmp_logits.c "$(dirname "$HYC")/libhyc.a" -lm -o "$CMP"
fi
FIXTURES=${*:-"tests/fixtures/hf/tiny/jamba tests/fixtures/hf/small/falcon_h1"}

n_pass=0
n_fail=0
ok() { n_pass=$((n_pass + 1)); }
fail() { n_fail=$((n_fail + 1)); echo "FAIL $1: $2"; }

# run_hyc NAME WANT_STATUS ARGS...: hyc run ARGS, expecting an exit status.
run_hyc() {
    _name=$1
    _want=$2
    shift 2
    _st=0
    "$HYC" run "$@" >"$TMP/stdout" 2>"$TMP/stderr" </dev/null || _st=$?
    if [ "$_st" != "$_want" ]; then
        fail "$_name" "expected exit $_want, got $_st: $(head -n 3 "$TMP/stderr" | tr '\n' ' ')"
        return 1
    fi
    return 0
}

for dir in $FIXTURES; do
    g=$dir/golden.safetensors
    if [ ! -f "$g" ]; then
        fail "$dir" "no golden.safetensors"
        continue
    fi
    for seq in a b; do
        "$CMP" ids "$g" "input_ids_$seq" "$TMP/ids.i32" 2>/dev/null || continue
        for mode in "prefill" "17+decode" "prefill-O2" "17+decode-O2" "17+decode-O2-nograph" "prefill-O2-nofuse"; do
            nofuse=
            case $mode in
            prefill) set -- ;;
            17+decode) set -- --prefill 17 ;;
            prefill-O2) set -- -O2 ;;
            17+decode-O2) set -- -O2 --prefill 17 ;;
            17+decode-O2-nograph) set -- -O2 --prefill 17 --disable-pass=fold-scales,merge-projections,fold-params,fuse-prologue ;;
            prefill-O2-nofuse) set -- -O2; nofuse=fuse-scan ;; # -O2 without scan fusion
            esac
            label="$dir $seq $mode"
            rm -f "$TMP/out.f32"
            HYC_DISABLE_PASS=$nofuse run_hyc "$label" 0 "$dir" --tokens-file "$TMP/ids.i32" --logits-out "$TMP/out.f32" "$@" || continue
            if "$CMP" cmp "$TMP/out.f32" "$g" "logits_$seq" "$label"; then ok; else fail "$label" "logits do not match"; fi
        done
    done
done

# The command line's checks, on the first fixture.
set -- $FIXTURES
dir=$1
printf '\001\000\000\000\002\000\000' >"$TMP/short.i32"
if run_hyc "token id out of range" 1 "$dir" --tokens 1,2,100000; then
    if grep -q "outside the vocabulary" "$TMP/stderr"; then ok; else fail "token id out of range" "no clear message"; fi
fi
run_hyc "negative token id" 1 "$dir" --tokens 1,-2 && ok
run_hyc "--prefill 0" 2 "$dir" --tokens 1,2 --prefill 0 && ok
run_hyc "--prefill > T" 2 "$dir" --tokens 1,2 --prefill 3 && ok
run_hyc "malformed --tokens" 2 "$dir" --tokens 1,,2 && ok
run_hyc "tokens file of 7 bytes" 1 "$dir" --tokens-file "$TMP/short.i32" && ok
run_hyc "missing tokens file" 1 "$dir" --tokens-file "$TMP/none.i32" && ok
run_hyc "unknown --backend" 2 "$dir" --tokens 1,2 --backend foo && ok
run_hyc "no tokens" 2 "$dir" && ok
run_hyc "missing model" 1 "$TMP/none.hyb" --tokens 1 && ok
if run_hyc "random weights" 0 "$dir" --tokens 1,2,3 --random-weights=5; then
    if grep -q "argmax" "$TMP/stdout"; then ok; else fail "random weights" "no summary on stdout"; fi
fi

echo "fixtures (cli): $n_pass passed, $n_fail failed"
[ "$n_fail" -eq 0 ]
