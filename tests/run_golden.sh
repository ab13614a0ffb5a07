#!/bin/sh
# run_golden.sh — the golden tests of `make check`:
#
#   sh tests/run_golden.sh build/hyc [SUITE...]
#
# Each suite runs hyc on input files and compares what it prints with an
# expected file next to the input (`diff -u`), and checks the exit status:
#
#   bad       tests/golden/bad/X.hyb: `hyc check X.hyb` must exit 1 and print
#             exactly X.err on stderr (diagnostics pinned byte for byte)
#   fmt       tests/golden/fmt/X.hyb: `hyc fmt X.hyb` must exit 0 and print
#             exactly X.out, and formatting X.out again must change nothing
#   examples  examples/X.hyb: `hyc check` exits 0, `hyc fmt --check` passes
#             (the file is canonical) and fmt is idempotent
#
# Everything runs from the repository root, so paths in diagnostics read
# `tests/golden/bad/X.hyb:3:7: error: ...`.  One line per failure and a
# summary; exit status 1 if anything failed.
#
#   VERBOSE=1  also show each difference (diff -u)
#   UPDATE=1   rewrite the expected files from hyc's current output instead of
#              comparing (then review `git diff tests/golden` before accepting!)
#
# Adding a suite: write a function suite_NAME that calls `golden` (or `ok` and
# `fail` directly) and add NAME to SUITES.  For example IR dumps would be
#
#   suite_ir() { golden tests/golden/ir ir stdout 0 ir --dump; }
set -eu

if [ $# -lt 1 ]; then
    echo "usage: sh tests/run_golden.sh HYC [SUITE...]" >&2
    exit 2
fi
HYC_ARG=$1
HYC=$1
shift
case $HYC in
/*) ;;
*) HYC=$PWD/$HYC ;;
esac
if [ ! -x "$HYC" ]; then
    echo "run_golden: $HYC is not an executable (run make first)" >&2
    exit 2
fi
cd "$(dirname "$0")/.."

SUITES="bad fmt examples"
UPDATE=${UPDATE:-0}
VERBOSE=${VERBOSE:-0}
export NO_COLOR=1 # diagnostics without ANSI colour, whatever the terminal

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hyc-golden.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

n_pass=0
n_fail=0
n_skip=0
n_updated=0

ok() { n_pass=$((n_pass + 1)); }
fail() { # fail FILE MESSAGE
    n_fail=$((n_fail + 1))
    echo "FAIL $1: $2"
}
skip() { # skip FILE MESSAGE
    n_skip=$((n_skip + 1))
    echo "SKIP $1: $2"
}

# A bounded run, so that a hang fails the test instead of `make check`.
if command -v timeout >/dev/null 2>&1; then
    TIMEOUT="timeout 20"
else
    TIMEOUT=""
fi

# run OUT ERR ARGS...: run hyc with ARGS, stdout to OUT, stderr to ERR; sets
# $status.
run() {
    _out=$1
    _err=$2
    shift 2
    status=0
    # shellcheck disable=SC2086
    $TIMEOUT "$HYC" "$@" >"$_out" 2>"$_err" </dev/null || status=$?
}

# describe_status N: an exit status in words.
describe_status() {
    case $1 in
    0) echo "exit 0 (success)" ;;
    1) echo "exit 1 (bad input)" ;;
    2) echo "exit 2 (bad usage)" ;;
    70) echo "exit 70 (internal error)" ;;
    124) echo "timed out" ;;
    *) if [ "$1" -gt 128 ]; then echo "killed by signal $(($1 - 128))"; else echo "exit $1"; fi ;;
    esac
}

# expect_status FILE WANT GOT ERRFILE: true if GOT == WANT, else a failure
# that quotes the first line of stderr.
expect_status() {
    if [ "$3" = "$2" ]; then return 0; fi
    _first=$(head -n 1 "$4" 2>/dev/null || true)
    fail "$1" "expected exit $2, got $(describe_status "$3")${_first:+: $_first}"
    return 1
}

# compare FILE EXPECTED ACTUAL: the golden comparison, or UPDATE.
compare() {
    if [ "$UPDATE" = 1 ]; then
        if [ ! -f "$2" ] || ! cmp -s "$2" "$3"; then
            cp "$3" "$2"
            n_updated=$((n_updated + 1))
            echo "updated $2"
        fi
        ok
        return 0
    fi
    if [ ! -f "$2" ]; then
        fail "$1" "no expected file $2 (UPDATE=1 writes it)"
        return 1
    fi
    if diff -u "$2" "$3" >"$TMP/diff" 2>&1; then
        ok
        return 0
    fi
    fail "$1" "output differs from $2"
    if [ "$VERBOSE" = 1 ]; then sed 's/^/    /' "$TMP/diff"; fi
    return 1
}

# golden DIR EXT STREAM STATUS ARGS...: for every DIR/X.hyb, run
# `hyc ARGS... DIR/X.hyb`, require exit STATUS and compare STREAM (stdout or
# stderr) with DIR/X.EXT.
golden() {
    _dir=$1
    _ext=$2
    _stream=$3
    _want=$4
    shift 4
    for f in "$_dir"/*.hyb; do
        [ -e "$f" ] || continue
        run "$TMP/out" "$TMP/err" "$@" "$f"
        expect_status "$f" "$_want" "$status" "$TMP/err" || continue
        if [ "$_stream" = stdout ]; then _got=$TMP/out; else _got=$TMP/err; fi
        compare "$f" "${f%.hyb}.$_ext" "$_got" || true
    done
}

# ---- suites -----------------------------------------------------------------

# Malformed inputs: exact diagnostics, exit status 1.  A case whose .err does
# not exist yet is skipped (not failed) unless UPDATE=1 writes it.
suite_bad() {
    for f in tests/golden/bad/*.hyb; do
        [ -e "$f" ] || continue
        if [ ! -f "${f%.hyb}.err" ] && [ "$UPDATE" != 1 ]; then
            skip "$f" "no ${f%.hyb}.err yet (UPDATE=1 writes it)"
            continue
        fi
        run "$TMP/out" "$TMP/err" check "$f"
        expect_status "$f" 1 "$status" "$TMP/err" || continue
        compare "$f" "${f%.hyb}.err" "$TMP/err" || true
    done
}

# Formatter: expected output, and idempotence on that output.
suite_fmt() {
    golden tests/golden/fmt out stdout 0 fmt
    for f in tests/golden/fmt/*.out; do
        [ -e "$f" ] || continue
        cp "$f" "$TMP/again.hyb"
        run "$TMP/out" "$TMP/err" fmt "$TMP/again.hyb"
        expect_status "$f" 0 "$status" "$TMP/err" || continue
        if cmp -s "$f" "$TMP/out"; then ok; else fail "$f" "formatting it again changes it (fmt is not idempotent)"; fi
    done
}

# Examples: valid, canonical, and formatting is idempotent.
suite_examples() {
    for f in examples/*.hyb; do
        [ -e "$f" ] || continue
        run "$TMP/out" "$TMP/err" check "$f"
        expect_status "$f" 0 "$status" "$TMP/err" && ok
        run "$TMP/out" "$TMP/err" fmt --check "$f"
        if [ "$status" = 0 ]; then ok; else fail "$f" "not in canonical format ($(describe_status "$status")); see: build/hyc fmt $f | diff -u $f -"; fi
        run "$TMP/fmt1.hyb" "$TMP/err" fmt "$f"
        expect_status "$f" 0 "$status" "$TMP/err" || continue
        run "$TMP/fmt2.hyb" "$TMP/err" fmt "$TMP/fmt1.hyb"
        expect_status "$f" 0 "$status" "$TMP/err" || continue
        if cmp -s "$TMP/fmt1.hyb" "$TMP/fmt2.hyb"; then ok; else fail "$f" "fmt is not idempotent on it"; fi
        run_example "$f"
    done
}

# The interpreter runs every example with random weights, and a prefill of 3
# tokens followed by token-by-token decode gives the logits of a full
# prefill (the fixtures' metric, through cmp_logits next to hyc).
run_example() {
    cmp_tool=$(dirname "$HYC")/tests/cmp_logits
    toks=5,17,3,250,9,1,42,7
    run "$TMP/out" "$TMP/err" run "$1" --random-weights=3 --tokens "$toks" --logits-out "$TMP/full.f32"
    expect_status "$1 (run)" 0 "$status" "$TMP/err" || return 0
    run "$TMP/out" "$TMP/err" run "$1" --random-weights=3 --tokens "$toks" --prefill 3 --logits-out "$TMP/dec.f32"
    expect_status "$1 (run --prefill 3)" 0 "$status" "$TMP/err" || return 0
    [ -x "$cmp_tool" ] || { fail "$1" "no $cmp_tool to compare logits (make it first)"; return 0; }
    vocab=$(sed -n 's/^ *vocab = \([0-9]*\).*/\1/p' "$1" | head -n 1)
    if "$cmp_tool" pair "$TMP/dec.f32" "$TMP/full.f32" "$vocab" "$1" >"$TMP/cmp.out" 2>&1; then
        ok
    else
        fail "$1" "prefill 3 + decode differs from a full prefill: $(cat "$TMP/cmp.out")"
    fi
}

# ---- Graph IR of models (frontend/lower.c, hyc ir) ---------------------------

# roundtrip_ir FILE WHAT: `hyc ir FILE` (parse, verify, print) must print FILE
# back byte for byte; FILE is IR text that hyc printed.
roundtrip_ir() {
    cp "$1" "$TMP/rt.ir"
    run "$TMP/rt.out" "$TMP/rt.err" ir "$TMP/rt.ir"
    expect_status "$2" 0 "$status" "$TMP/rt.err" || return 1
    if cmp -s "$1" "$TMP/rt.out"; then ok; else fail "$2" "print -> parse -> print differs (diff -u $1 after hyc ir)"; fi
}

# IR dumps: tests/golden/ir/X.hyb lowered (`hyc ir X.hyb`, -O0: the IR as the
# frontend builds it) must print exactly X.ir, which must round-trip.
suite_ir() {
    golden tests/golden/ir ir stdout 0 ir
    for f in tests/golden/ir/*.ir; do
        [ -e "$f" ] || continue
        roundtrip_ir "$f" "$f"
    done
}

# Every example, every tests/sema model and every HF fixture lowers and
# verifies at -O0..-O3 (verifying after each pass), its IR round-trips, and
# each dump of --print-after-all is IR that parses back to itself.
suite_lower() {
    for f in examples/*.hyb tests/sema/*.hyb tests/fixtures/hf/*/*; do
        [ -e "$f" ] || continue
        for O in 0 1 2 3; do
            run "$TMP/lower.ir" "$TMP/err" ir -O$O --verify-each "$f"
            expect_status "$f -O$O" 0 "$status" "$TMP/err" || continue
            ok
            roundtrip_ir "$TMP/lower.ir" "$f -O$O"
        done
        run "$TMP/dumps" "$TMP/err" ir -O3 --print-after-all --no-print "$f"
        expect_status "$f --print-after-all" 0 "$status" "$TMP/err" || continue
        rm -f "$TMP"/dump.*
        # One file per dump, without its '# *** IR after PASS ***' line.
        awk -v dir="$TMP" '/^# \*\*\* IR after /{n++; next} {print > (dir "/dump." n)}' "$TMP/dumps"
        _n=0
        for d in "$TMP"/dump.*; do
            [ -e "$d" ] || continue
            _n=$((_n + 1))
            roundtrip_ir "$d" "$f --print-after-all (dump $_n)"
        done
        if [ "$_n" -gt 0 ]; then ok; else fail "$f" "--print-after-all printed no dump"; fi
    done
}

SUITES="$SUITES ir lower"

# ---- main -------------------------------------------------------------------

[ $# -gt 0 ] && SUITES=$*
for s in $SUITES; do
    if ! command -v "suite_$s" >/dev/null 2>&1; then
        echo "run_golden: no suite '$s'" >&2
        exit 2
    fi
    "suite_$s"
done

summary="golden: $n_pass passed, $n_fail failed"
[ "$n_skip" -gt 0 ] && summary="$summary, $n_skip skipped"
[ "$UPDATE" = 1 ] && summary="$summary, $n_updated expected files written (review: git diff tests/golden)"
echo "$summary"
if [ "$n_fail" -gt 0 ] && [ "$VERBOSE" != 1 ]; then
    echo "golden: 'VERBOSE=1 sh tests/run_golden.sh $HYC_ARG' shows the differences"
fi
[ "$n_fail" -eq 0 ]
