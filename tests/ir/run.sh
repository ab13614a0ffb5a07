#!/bin/sh
# run.sh — golden tests of the IR text form, verifier and passes.
#
#   sh tests/ir/run.sh [BIN]
#
# BIN parses + verifies + prints a .ir file and takes the pass options of
# tests/ir/irtool.c (later `hyc ir`).  Without BIN the script builds irtool
# itself, without the Makefile:
#
#   cc -std=c11 -D_GNU_SOURCE -O1 -g -I. tests/ir/irtool.c \
#      ir/[a-z]*.c passes/[a-z]*.c util/[a-z]*.c -lm -o irtool
#
# Three kinds of cases, each compared with `diff -u`:
#   bad/X.ir     must fail with exit status 1; stderr must equal bad/X.err
#                (a first line `# ARGS: ...` gives options, as for passes/)
#   good/X.ir    stdout must equal good/X.out, and printing that output
#                again must give the same bytes (print -> parse -> print)
#   passes/X.ir  first line `# ARGS: ...` gives the options; stdout must
#                equal passes/X.out, which must itself round-trip
# UPDATE=1 rewrites the expected files from the current output.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

if [ $# -ge 1 ]; then
    case $1 in
    /*) bin=$1 ;;
    *) bin=$(pwd)/$1 ;;
    esac
else
    bin=$tmp/irtool
    (cd "$root" && ${CC:-cc} -std=c11 -D_GNU_SOURCE -O1 -g -I. tests/ir/irtool.c \
        ir/[a-z]*.c passes/[a-z]*.c util/[a-z]*.c -lm -o "$bin") || exit 1
fi

cd "$here" || exit 1
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}

# compare EXPECTED ACTUAL NAME
check() {
    if [ "${UPDATE:-0}" = 1 ]; then
        cp "$2" "$1"
        return 0
    fi
    if [ ! -f "$1" ]; then
        echo "missing expected file $1"
        return 1
    fi
    diff -u "$1" "$2"
}

for f in bad/*.ir; do
    [ -e "$f" ] || continue
    args=$(sed -n '1s/^# ARGS://p' "$f")
    # shellcheck disable=SC2086
    "$bin" $args "$f" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc -ne 1 ]; then
        bad "$f: exit status $rc, expected 1"
    elif [ -s "$tmp/out" ]; then
        bad "$f: wrote to stdout"
    elif check "${f%.ir}.err" "$tmp/err"; then ok; else bad "$f"; fi
done

# roundtrip FILE: printing FILE's output again changes nothing
roundtrip() {
    cp "$1" "$tmp/again.ir"
    "$bin" "$tmp/again.ir" >"$tmp/again.out" 2>"$tmp/again.err" && cmp -s "$1" "$tmp/again.out"
}

for f in good/*.ir; do
    [ -e "$f" ] || continue
    if ! "$bin" "$f" >"$tmp/out" 2>"$tmp/err"; then
        bad "$f: rejected"
        cat "$tmp/err"
    elif ! check "${f%.ir}.out" "$tmp/out"; then
        bad "$f"
    elif ! roundtrip "$tmp/out"; then
        bad "$f: print -> parse -> print differs"
        diff -u "$tmp/out" "$tmp/again.out"
        cat "$tmp/again.err"
    else ok; fi
done

for f in passes/*.ir; do
    [ -e "$f" ] || continue
    args=$(sed -n '1s/^# ARGS://p' "$f")
    # shellcheck disable=SC2086
    if ! "$bin" $args "$f" >"$tmp/out" 2>"$tmp/err"; then
        bad "$f: failed"
        cat "$tmp/err"
    elif ! check "${f%.ir}.out" "$tmp/out"; then
        bad "$f"
    elif ! grep -q '^# \*\*\*' "$tmp/out" && ! roundtrip "$tmp/out"; then
        bad "$f: the output does not round-trip"
        diff -u "$tmp/out" "$tmp/again.out"
        cat "$tmp/again.err"
    else ok; fi
done

echo "ir golden: $pass passed, $fail failed"
[ $fail -eq 0 ]
