#!/bin/sh
# run_build.sh — the C backend end to end, through the command line (`make
# check`):
#
#   sh tests/run_build.sh HYC CMP_LOGITS [FIXTURE_DIR...]
#
# 1. fixtures: every Hugging Face fixture (default tests/fixtures/hf/*/*) is
#    compiled once with `hyc build DIR -o X` (the native target, the real
#    compiler flags) and its executable run on input_ids_a (and _b) in one
#    prefill and in prefill K + decode for K = 1, 16, 17, T-1, at --threads 1
#    and 2; the logits must match logits_a/_b (cmp_logits: rel L2 <= 1e-4,
#    same argmax where the top-2 gap > 1e-3).  The Mamba fixtures (mamba,
#    mamba2, falcon_mamba, jamba, falcon_h1) once more built with
#    HYC_DISABLE_PASS=fuse-scan (rows NAME-nofuse).  A table ends the section.
#    1b. tiny/falcon_h1 built with graph passes disabled (--disable-pass)
#    still matches; built with --logits last it generates the same tokens
#    and refuses --logits-out with a clear message.
# 2. determinism: --emit c twice (other output paths) gives identical bytes,
#    for each target.
# 3. the executable's own command line (sampling flags, --bench, --help).
# 4. errors: a missing compiler, a failing one (its output shown, the C kept,
#    the old output untouched), bad flags, a missing output folder, a .ir
#    model without weights.  Exit statuses 1 and 2.
# 5. an installed hyc (bin/, include/, lib/ of a prefix) finds its runtime.
# 6. hyc run --backend c: built into the cache, then found there; its logits
#    match the interpreter's at 1 and 2 threads.
# 7. --emit lib: the example program of docs/build.md compiles against the
#    generated header and library and runs.
# 8. valgrind (when installed, and not under SAN): one compiled model run,
#    prefill + decode on 2 threads, no error and no leak.
# 9. the LLVM backend: every fixture of section 1 through hyc build --backend
#    llvm, every mode of section 1 (input_ids_a and _b, full prefill and
#    prefill K + decode, 1 and 2 threads: one compile per fixture), with its
#    own table; hyc run --backend llvm on tiny/jamba (compiled once, then
#    cached for both thread counts and every prefill length) against the
#    golden logits; --emit llvm twice gives identical bytes; --emit obj
#    links into a working program; --emit exe and --emit lib work.
#
# Environment: HYC_CFLAGS is passed on to hyc build (make check SAN=1 sets
# -fsanitize=address,undefined: the generated code is sanitized too);
# BUILD_JOBS=2 fixtures compiled and run in parallel.  One line per failure,
# a summary; exit status 1 if anything failed.
set -eu

if [ $# -lt 2 ]; then
    echo "usage: sh tests/run_build.sh HYC CMP_LOGITS [FIXTURE_DIR...]" >&2
    exit 2
fi
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
HYC=$(abs "$1")
CMP=$(abs "$2")
shift 2
cd "$(dirname "$0")/.."
ROOT=$PWD
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hyc-build-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
export NO_COLOR=1
export HYC_CACHE_DIR=$TMP/cache
JOBS=${BUILD_JOBS:-2}
start=$(date +%s)

ALL_FIXTURES=1
if [ $# -gt 0 ]; then
    ALL_FIXTURES=
    FIXTURES=$*
else
    FIXTURES=$(ls -d tests/fixtures/hf/*/* | sort)
fi

n_pass=0
n_fail=0
ok() { n_pass=$((n_pass + 1)); }
fail() { n_fail=$((n_fail + 1)); echo "FAIL $1: $2"; }

# expect NAME WANT_STATUS CMD...: run CMD (stdout, stderr to $TMP/out,
# $TMP/err), expecting an exit status.
expect() {
    _name=$1
    _want=$2
    shift 2
    _st=0
    "$@" >"$TMP/out" 2>"$TMP/err" </dev/null || _st=$?
    if [ "$_st" != "$_want" ]; then
        fail "$_name" "expected exit $_want, got $_st: $(head -n 4 "$TMP/err" | tr '\n' ' ')"
        return 1
    fi
    return 0
}
# has NAME FILE TEXT: FILE contains TEXT (fixed string).
has() {
    if grep -qF -- "$3" "$2"; then ok; else fail "$1" "no '$3' in its output: $(head -n 3 "$2" | tr '\n' ' ')"; fi
}

# ---- 1. fixtures -----------------------------------------------------------------

# test_fixture BACKEND DIR RESULT: compile DIR with hyc build --backend
# BACKEND (c, or llvm for section 9), run every mode, write one line "name
# compile_s n_modes worst_t1 worst_t2 PASS|FAIL why" to RESULT, and the
# failures (FAIL ...) to RESULT.fail.  The executable is $TMP/fx/NAME/model
# (C) or $TMP/fx-llvm/NAME/model.  DIR may be nofuse:DIR: built with
# HYC_DISABLE_PASS=fuse-scan (named DIR-nofuse).
test_fixture() {
    _be=$1
    _dir=$2
    _res=$3
    _nofuse=
    case $_dir in nofuse:*) _dir=${_dir#nofuse:}; _nofuse=fuse-scan ;; esac
    _name=$(echo "$_dir" | sed 's|^tests/fixtures/hf/||')${_nofuse:+-nofuse}
    _w=$TMP/fx$([ "$_be" = c ] || echo "-$_be")/$(echo "$_name" | tr '/' '_')
    mkdir -p "$_w"
    if ! HYC_DISABLE_PASS=$_nofuse "$HYC" build "$_dir" --backend "$_be" -o "$_w/model" >"$_w/build.out" 2>"$_w/build.err" </dev/null; then
        echo "$_name - 0 - - FAIL hyc build failed: $(head -n 3 "$_w/build.err" | tr '\n' ' ')" >"$_res"
        return 0
    fi
    _secs=$(sed -n 's/.*compiled in \([0-9.]*\) s.*/\1/p' "$_w/build.out")
    _n=0
    _bad=""
    _worst1=0
    _worst2=0
    for _seq in a b; do
        "$CMP" ids "$_dir/golden.safetensors" "input_ids_$_seq" "$_w/ids.i32" 2>/dev/null || continue
        _T=$(($(wc -c <"$_w/ids.i32") / 4))
        _ks="all"
        for _k in 1 16 17 $((_T - 1)); do
            [ "$_k" -ge 1 ] && [ "$_k" -lt "$_T" ] || continue
            case " $_ks " in *" $_k "*) continue ;; esac
            _ks="$_ks $_k"
        done
        for _th in 1 2; do
            for _k in $_ks; do
                _label="$([ "$_be" = c ] || echo "$_be ")$_name $_seq t$_th"
                if [ "$_k" = all ]; then
                    set -- ; _label="$_label prefill"
                else
                    set -- --prefill "$_k"; _label="$_label $_k+decode"
                fi
                _n=$((_n + 1))
                rm -f "$_w/out.f32"
                if ! "$_w/model" --tokens-file "$_w/ids.i32" --logits-out "$_w/out.f32" --threads "$_th" "$@" \
                    >"$_w/run.out" 2>"$_w/run.err" </dev/null; then
                    _bad="$_bad|$_label: the executable failed: $(head -n 2 "$_w/run.err" | tr '\n' ' ')"
                    continue
                fi
                if ! "$CMP" cmp "$_w/out.f32" "$_dir/golden.safetensors" "logits_$_seq" "$_label" >"$_w/cmp" 2>&1; then
                    _bad="$_bad|$(cat "$_w/cmp")"
                fi
                _rel=$(sed -n 's/.*rel L2 \([^ ]*\).*/\1/p' "$_w/cmp")
                [ -n "$_rel" ] || _rel=inf
                if [ "$_th" = 1 ]; then
                    _worst1=$(awk -v a="$_worst1" -v b="$_rel" 'BEGIN { print (b + 0 > a + 0 || b == "inf" || b == "nan") ? b : a }')
                else
                    _worst2=$(awk -v a="$_worst2" -v b="$_rel" 'BEGIN { print (b + 0 > a + 0 || b == "inf" || b == "nan") ? b : a }')
                fi
            done
        done
    done
    if [ "$_n" = 0 ]; then _bad="|no input_ids_a in golden.safetensors"; fi
    if [ -z "$_bad" ]; then
        echo "$_name ${_secs:-?} $_n $_worst1 $_worst2 PASS" >"$_res"
    else
        echo "$_name ${_secs:-?} $_n $_worst1 $_worst2 FAIL" >"$_res"
        echo "$_bad" | tr '|' '\n' | sed '/^$/d; s/^/FAIL /' >"$_res.fail"
    fi
    rm -f "$_w/model.weights" "$_w/out.f32"
}

# fixture_table BACKEND WHAT [EXTRA...]: every fixture (and the EXTRA
# entries: nofuse:DIR) through test_fixture (BUILD_JOBS at a time), then the
# table; counts the passes and failures.
fixture_table() {
    _ft_be=$1
    _ft_what=$2
    shift 2
    _ft_extra=$*
    _ft_res=$TMP/res-$_ft_be
    mkdir -p "$_ft_res"
    _ft_t0=$(date +%s)
    # shellcheck disable=SC2086
    set -- $FIXTURES $_ft_extra
    j=0
    while [ "$j" -lt "$JOBS" ]; do
        (
            i=0
            for d in "$@"; do
                if [ $((i % JOBS)) = "$j" ]; then test_fixture "$_ft_be" "$d" "$_ft_res/$(printf '%03d' "$i")"; fi
                i=$((i + 1))
            done
        ) &
        j=$((j + 1))
    done
    wait
    _ft_dir=$TMP/fx$([ "$_ft_be" = c ] || echo "-$_ft_be")
    target=$(cat "$_ft_dir"/*/build.out 2>/dev/null | sed -n 's/.*(executable, target \([^,]*\),.*/\1/p' | head -n 1)
    echo "build: the fixtures through $_ft_what (hyc build --backend $_ft_be, target ${target:-?}; rel L2 <= 1e-4 and argmax where the top-2 gap > 1e-3; $(($(date +%s) - _ft_t0)) s)"
    printf '  %-24s %-6s %-6s %-12s %-12s %s\n' fixture "$([ "$_ft_be" = c ] && echo cc-s || echo "$_ft_be-s")" modes "worst t1" "worst t2" result
    for r in "$_ft_res"/[0-9][0-9][0-9]; do
        [ -f "$r" ] || continue
        # shellcheck disable=SC2046
        set -- $(cat "$r")
        printf '  %-24s %-6s %-6s %-12s %-12s %s\n' "$1" "$2" "$3" "$4" "$5" "$6"
        if [ "$6" = PASS ]; then
            ok
        else
            n_fail=$((n_fail + 1))
            if [ -f "$r.fail" ]; then sed 's/^/    /' "$r.fail"; else shift 6; echo "    $*"; fi
        fi
    done
}
# The fixtures with Mamba layers once more without scan fusion (the unfused
# scan kernels), when running the default set.
NOFUSE=
if [ -n "$ALL_FIXTURES" ]; then
    for d in $FIXTURES; do
        case $d in */tiny/mamba | */tiny/mamba2 | */tiny/falcon_mamba | */tiny/jamba | */tiny/falcon_h1) NOFUSE="$NOFUSE nofuse:$d" ;; esac
    done
fi
# shellcheck disable=SC2086
fixture_table c "compiled C" $NOFUSE

# A model for the quick checks: the first fixture, already compiled.
set -- $FIXTURES
FX=$1
FXW=$TMP/fx/$(echo "$FX" | sed 's|^tests/fixtures/hf/||' | tr '/' '_')
EX=examples/paper_intra.hyb

# ---- 1b. graph passes off, and --logits last ------------------------------------------

# tiny/falcon_h1 (µP multipliers, parallel attention + Mamba): built without
# the graph optimizations its prefill still matches the golden logits; built
# with --logits last its prompt + greedy generation gives the tokens of the
# default build, and asking it for every position's logits is a clear error.
GP=tests/fixtures/hf/tiny/falcon_h1
if [ -f "$GP/golden.safetensors" ] && "$CMP" ids "$GP/golden.safetensors" input_ids_a "$TMP/gp.i32" 2>/dev/null; then
    for off in fold-scales,merge-projections,fold-params,fuse-prologue fold-scales merge-projections fold-params \
        fuse-prologue; do
        if expect "build --disable-pass=$off" 0 "$HYC" build "$GP" --disable-pass="$off" -o "$TMP/gp_off" &&
            expect "run --disable-pass=$off" 0 "$TMP/gp_off" --tokens-file "$TMP/gp.i32" --logits-out "$TMP/gp.f32" --prefill 5; then
            if "$CMP" cmp "$TMP/gp.f32" "$GP/golden.safetensors" logits_a "falcon_h1 --disable-pass=$off" >/dev/null; then ok
            else fail "build --disable-pass=$off" "logits do not match the golden ones"; fi
        fi
    done
    if expect "build --logits last" 0 "$HYC" build "$GP" --logits last -o "$TMP/gp_last" &&
        expect "build --logits all" 0 "$HYC" build "$GP" -o "$TMP/gp_all"; then
        expect "generate --logits last" 0 "$TMP/gp_last" --tokens-file "$TMP/gp.i32" -n 8 --threads 2 && cp "$TMP/out" "$TMP/gen_last"
        expect "generate --logits all" 0 "$TMP/gp_all" --tokens-file "$TMP/gp.i32" -n 8 --threads 2 && cp "$TMP/out" "$TMP/gen_all"
        if cmp -s "$TMP/gen_last" "$TMP/gen_all"; then ok; else fail "generate --logits last" "other tokens than --logits all"; fi
        if expect "--logits last refuses --logits-out" 1 "$TMP/gp_last" --tokens-file "$TMP/gp.i32" --logits-out "$TMP/x.f32"; then
            has "--logits last refuses --logits-out" "$TMP/err" "was built with --logits last"
        fi
    fi
    rm -f "$TMP"/gp_*.weights
fi

# ---- 2. determinism ---------------------------------------------------------------

for t in generic x86-64-v3 x86-64-v4 native; do
    if expect "determinism $t" 0 "$HYC" build "$EX" --emit c --target "$t" --no-weights -o "$TMP/d1.c" &&
        expect "determinism $t" 0 "$HYC" build "$EX" --emit c --target "$t" --no-weights -o "$TMP/d2.c"; then
        if cmp -s "$TMP/d1.c" "$TMP/d2.c"; then ok; else fail "determinism $t" "two builds give different C"; fi
    fi
done
# The same for a model with weights, and the weights file too.
if expect "determinism weights" 0 "$HYC" build "$FX" --emit c -o "$TMP/w1.c" &&
    expect "determinism weights" 0 "$HYC" build "$FX" --emit c -o "$TMP/w2.c"; then
    if cmp -s "$TMP/w1.c" "$TMP/w2.c" && cmp -s "$TMP/w1.weights" "$TMP/w2.weights"; then ok; else
        fail "determinism weights" "two builds give different C or weights"
    fi
    # The compile line it prints builds the executable.
    sed -n 's/^  compile: //p' "$TMP/out" >"$TMP/compile.sh"
    if expect "--emit c compile line" 0 sh "$TMP/compile.sh" &&
        expect "--emit c executable" 0 "$TMP/w2" --tokens 1,2,3 -n 3; then
        ok
    fi
fi
rm -f "$TMP"/w1.* "$TMP"/w2.* "$TMP"/w2

# ---- 3. the executable's command line -----------------------------------------------

exe=$FXW/model
if [ -x "$exe" ]; then
    "$HYC" build "$FX" -o "$exe" >/dev/null 2>&1 || true # the weights again (section 1 removed them)
    if expect "exe -n" 0 "$exe" --tokens 1,2,3 -n 5 --temp 0.8 --top-k 20 --top-p 0.9 --seed 7 --threads 2; then
        cp "$TMP/out" "$TMP/gen1"
        if expect "exe -n again" 0 "$exe" --tokens 1,2,3 -n 5 --temp 0.8 --top-k 20 --top-p 0.9 --seed 7 --threads 1; then
            if cmp -s "$TMP/gen1" "$TMP/out" && [ "$(wc -w <"$TMP/out")" = 5 ]; then ok; else
                fail "exe -n" "the same seed gave different tokens at 1 and 2 threads: $(cat "$TMP/gen1") / $(cat "$TMP/out")"
            fi
        fi
    fi
    expect "exe --bench" 0 "$exe" --bench --threads 2 && has "exe --bench" "$TMP/out" "tokens/s"
    expect "exe --help" 0 "$exe" --help && has "exe --help" "$TMP/out" "--tokens-file"
    expect "exe bad flag" 2 "$exe" --tokens 1 --tmep 1 && ok
    expect "exe token out of range" 1 "$exe" --tokens 1,2,1000000 && ok
    mv "$exe.weights" "$exe.w"
    expect "exe without weights" 1 "$exe" --tokens 1 && has "exe without weights" "$TMP/err" "weights"
    mv "$exe.w" "$exe.weights"
fi

# ---- 4. errors ----------------------------------------------------------------------

expect "missing compiler" 1 env CC=/nonexistent/cc "$HYC" build "$FX" -o "$TMP/e1" &&
    has "missing compiler" "$TMP/err" "cannot run the C compiler"
[ ! -e "$TMP/e1" ] && [ ! -e "$TMP/e1.weights" ] && ok || fail "missing compiler" "left an output behind"

cat >"$TMP/badcc" <<'EOF'
#!/bin/sh
echo "badcc: error: this compiler always fails" >&2
exit 3
EOF
chmod +x "$TMP/badcc"
echo "the previous output" >"$TMP/e2"
if expect "failing compiler" 1 env CC="$TMP/badcc" "$HYC" build "$FX" -o "$TMP/e2"; then
    has "failing compiler" "$TMP/err" "badcc: error: this compiler always fails"
    kept=$(sed -n 's/.*the generated C is kept for inspection: //p' "$TMP/err")
    if [ -n "$kept" ] && [ -s "$kept" ]; then ok; else fail "failing compiler" "the generated C was not kept"; fi
    [ -n "$kept" ] && rm -rf "$(dirname "$kept")"
    if [ "$(cat "$TMP/e2")" = "the previous output" ] && [ ! -e "$TMP/e2.weights" ]; then ok; else
        fail "failing compiler" "the previous output was touched, or weights were written"
    fi
fi
expect "--emit bogus" 2 "$HYC" build "$FX" --emit so && ok
expect "--target bogus" 2 "$HYC" build "$FX" --target x86-64-v9 && has "--target bogus" "$TMP/err" "x86-64-v4"
expect "unknown option" 2 "$HYC" build "$FX" --emt c && has "unknown option" "$TMP/err" "did you mean '--emit'"
expect "no model" 2 "$HYC" build && ok
expect "missing model" 1 "$HYC" build "$TMP/none.hyb" -o "$TMP/e3" && ok
expect "missing output folder" 1 "$HYC" build "$FX" -o "$TMP/no/such/dir/x" && has "missing output folder" "$TMP/err" "does not exist"
expect ".ir without weights" 1 "$HYC" build tests/kernel/matmul.ir --emit c -o "$TMP/e4.c" && has ".ir without weights" "$TMP/err" "--random-weights"

# ---- 5. an installed hyc ------------------------------------------------------------

P=$TMP/prefix
mkdir -p "$P/bin" "$P/include" "$P/lib" "$TMP/elsewhere"
cp "$HYC" "$P/bin/hyc"
cp runtime/hycrt.h "$P/include/"
cp "$(dirname "$HYC")/libhycrt.a" "$P/lib/"
cd "$TMP/elsewhere"
if expect "installed hyc" 0 "$P/bin/hyc" build "$ROOT/tests/kernel/matmul.ir" --random-weights=2 -o m; then
    expect "installed hyc: the executable" 0 "$TMP/elsewhere/m" --tokens 1,2,3 -n 2 && ok
fi
cd "$ROOT"
rm -f "$P/lib/libhycrt.a"
expect "installed hyc without libhycrt.a" 1 "$P/bin/hyc" build tests/kernel/matmul.ir --random-weights -o "$TMP/m2" &&
    has "installed hyc without libhycrt.a" "$TMP/err" "cannot find the runtime's libhycrt.a"
rm -rf "$P" "$TMP/elsewhere"

# ---- 6. hyc run --backend c ----------------------------------------------------------

"$CMP" ids "$FX/golden.safetensors" input_ids_a "$TMP/ids.i32"
expect "run interp" 0 "$HYC" run "$FX" --tokens-file "$TMP/ids.i32" --prefill 5 --logits-out "$TMP/interp.f32" && ok
vocab=$(sed -n 's/.*logits \[[0-9]*, \([0-9]*\)\].*/\1/p' "$TMP/out")
for th in 1 2; do
    if expect "run --backend c t$th" 0 "$HYC" run "$FX" --backend c --threads "$th" --tokens-file "$TMP/ids.i32" \
        --prefill 5 --logits-out "$TMP/c.f32"; then
        if [ "$th" = 1 ]; then has "run --backend c: compiled" "$TMP/out" "compiled now"; else
            has "run --backend c: cache hit" "$TMP/out" "cached"
        fi
        has "run --backend c: summary" "$TMP/out" "argmax"
        if "$CMP" pair "$TMP/c.f32" "$TMP/interp.f32" "$vocab" "run --backend c t$th vs interp" >"$TMP/cmp" 2>&1; then ok; else
            fail "run --backend c t$th" "$(cat "$TMP/cmp")"
        fi
    fi
done
# Another seed of random weights is another cache entry.
expect "run --backend c random" 0 "$HYC" run "$FX" --backend c --random-weights=3 --tokens 1,2,3 &&
    has "run --backend c random" "$TMP/out" "compiled now"
n_entries=$(ls "$HYC_CACHE_DIR" | grep -c '^[0-9a-f]\{16\}$' || true)
[ "$n_entries" = 2 ] && ok || fail "run --backend c cache" "expected 2 entries in the cache, found $n_entries"
expect "run --backend c bad token" 1 "$HYC" run "$FX" --backend c --tokens 1,100000 &&
    has "run --backend c bad token" "$TMP/err" "outside the vocabulary"
# Two runs racing to make the same entry: both succeed, one entry, no
# temporary folder left.
C2=$TMP/cache2
st1=0
st2=0
HYC_CACHE_DIR=$C2 "$HYC" run tests/kernel/matmul.ir --backend c --random-weights --tokens 1,2 >"$TMP/race1" 2>&1 &
p1=$!
HYC_CACHE_DIR=$C2 "$HYC" run tests/kernel/matmul.ir --backend c --random-weights --tokens 1,2 >"$TMP/race2" 2>&1 &
p2=$!
wait "$p1" || st1=$?
wait "$p2" || st2=$?
if [ "$st1" = 0 ] && [ "$st2" = 0 ] && [ "$(ls "$C2" | grep -c '^[0-9a-f]\{16\}$')" = 1 ] && [ -z "$(ls "$C2" | grep '^tmp-')" ]; then
    ok
else
    fail "run --backend c race" "exit $st1 and $st2, cache: $(ls "$C2" | tr '\n' ' '): $(head -n 2 "$TMP/race1" "$TMP/race2" | tr '\n' ' ')"
fi

# ---- 7. --emit lib: the example of docs/build.md ---------------------------------------

mkdir -p "$TMP/lib"
# (docs/build.md builds examples/zamba2.hyb with random weights; the tiny
# zamba2 fixture, a few MB, has the same API under the same name.)
if expect "--emit lib" 0 "$HYC" build tests/fixtures/hf/tiny/zamba2 --emit lib -o "$TMP/lib/zamba2"; then
    # The program between the markers of docs/build.md.
    sed -n '/<!-- example: lib -->/,/<!-- end -->/p' docs/build.md | sed '1,2d;$d' | sed '$d' >"$TMP/lib/example.c"
    if [ ! -s "$TMP/lib/example.c" ]; then
        fail "--emit lib example" "no example program in docs/build.md"
    # shellcheck disable=SC2086
    elif expect "--emit lib example: compile" 0 ${CC:-cc} -std=c11 -Wall -Wextra -Werror -pedantic ${HYC_CFLAGS:-} \
        -I"$TMP/lib" "$TMP/lib/example.c" "$TMP/lib/libzamba2.a" -lm -lpthread -o "$TMP/lib/example"; then
        if expect "--emit lib example: run" 0 "$TMP/lib/example" "$TMP/lib/zamba2.weights"; then
            has "--emit lib example" "$TMP/out" "generated:"
        fi
    fi
fi

# ---- 8. valgrind ----------------------------------------------------------------------

case " ${HYC_CFLAGS:-} " in
*sanitize*) echo "build: valgrind skipped (sanitized build)" ;;
*)
    if command -v valgrind >/dev/null 2>&1; then
        # AVX-512 is beyond valgrind: the AVX2 target.
        if expect "valgrind: build" 0 "$HYC" build "$FX" --target x86-64-v3 -o "$TMP/vg"; then
            if expect "valgrind" 0 valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
                "$TMP/vg" --tokens 1,2,3,4,5,6 --prefill 3 -n 4 --threads 2; then
                ok
            else
                sed 's/^/    /' "$TMP/err" | head -n 30
            fi
        fi
    else
        echo "build: valgrind skipped (not installed)"
    fi
    ;;
esac

# ---- 9. the LLVM backend ------------------------------------------------------------

# Every fixture, every mode of section 1, through hyc build --backend llvm
# (-O2: the LLVM pipeline with vectorization, as hyc bench uses it).
fixture_table llvm LLVM
rm -rf "$TMP/fx-llvm"

# hyc run --backend llvm (the in-process path of hyc run, bench and
# run_diff.sh): compiled on the first run, then found in the cache by the
# others (both thread counts, every prefill length: one compile); full
# prefill and prefill K + decode against the golden logits.
L=$TMP/llvm
mkdir -p "$L"
lfx=tests/fixtures/hf/tiny/jamba
"$CMP" ids "$lfx/golden.safetensors" input_ids_a "$L/ids.i32"
lT=$(($(wc -c <"$L/ids.i32") / 4))
lfirst=1
for th in 1 2; do
    for k in all 1 $((lT - 1)); do
        if [ "$k" = all ]; then set -- ; llabel="run --backend llvm jamba t$th prefill"; else
            set -- --prefill "$k"; llabel="run --backend llvm jamba t$th $k+decode"
        fi
        rm -f "$L/out.f32"
        if expect "$llabel" 0 "$HYC" run "$lfx" --backend llvm --threads "$th" --tokens-file "$L/ids.i32" \
            --logits-out "$L/out.f32" "$@"; then
            if "$CMP" cmp "$L/out.f32" "$lfx/golden.safetensors" logits_a "$llabel" >"$TMP/cmp" 2>&1; then ok; else
                fail "$llabel" "$(cat "$TMP/cmp")"
            fi
            if [ "$lfirst" = 1 ]; then has "$llabel: compiled" "$TMP/out" "compiled by LLVM"
                has "$llabel: compiled now" "$TMP/out" "compiled now"
            else
                has "$llabel: cache hit" "$TMP/out" "cached"
            fi
            lfirst=0
        fi
    done
done
# The compiled-model cache tells the backends apart.
LFX=tests/fixtures/hf/tiny/mamba2
expect "run --backend llvm vs c: c" 0 "$HYC" run "$LFX" --backend c --random-weights=9 --tokens 1,2 &&
    has "run --backend c after llvm: its own entry" "$TMP/out" "compiled now"
expect "run --backend llvm vs c: llvm" 0 "$HYC" run "$LFX" --backend llvm --random-weights=9 --tokens 1,2 &&
    has "run --backend llvm after c: its own entry" "$TMP/out" "compiled now"
# .ll determinism: two builds, other output paths, identical bytes.
if expect "--emit llvm" 0 "$HYC" build "$LFX" --emit llvm --no-weights -o "$L/one.ll" &&
    expect "--emit llvm again" 0 "$HYC" build "$LFX" --backend llvm --emit llvm --no-weights -o "$L/two.ll"; then
    if cmp -s "$L/one.ll" "$L/two.ll"; then ok; else fail "--emit llvm determinism" "two builds differ"; fi
fi
expect "--emit bc" 0 "$HYC" build "$LFX" --emit bc --no-weights -o "$L/m.bc" && [ -s "$L/m.bc" ] && ok
expect "--emit bc --backend c" 2 "$HYC" build "$LFX" --emit bc --backend c && ok
"$CMP" ids "$LFX/golden.safetensors" input_ids_a "$L/ids.i32"
# --emit obj: the object (no main) linked into a shared object, as hyc run
# does, would need hyc; instead link it with the generated lib's API: the
# object's <model>_desc is what --emit exe's main uses, so check the symbol
# and let --emit exe prove it runs.
if expect "--emit obj" 0 "$HYC" build "$LFX" --emit obj -o "$L/m.o"; then
    if nm "$L/m.o" 2>/dev/null | grep -q " [DR] mamba2_desc$"; then ok; else fail "--emit obj" "no mamba2_desc in the object"; fi
    [ -f "$L/m.weights" ] && ok || fail "--emit obj" "no weights file beside it"
    # shellcheck disable=SC2086
    if expect "--emit obj: link" 0 ${CC:-cc} ${HYC_CFLAGS:-} -shared -o "$L/m.so" "$L/m.o" -lm; then ok; fi
fi
if expect "--emit exe --backend llvm" 0 "$HYC" build "$LFX" --backend llvm -o "$L/exe"; then
    has "--emit exe --backend llvm" "$TMP/out" "LLVM compiled"
    if expect "--emit exe --backend llvm: run" 0 "$L/exe" --tokens-file "$L/ids.i32" --prefill 4 --threads 2 \
        --logits-out "$L/out.f32"; then
        if "$CMP" cmp "$L/out.f32" "$LFX/golden.safetensors" logits_a "llvm exe" >"$TMP/cmp" 2>&1; then ok; else
            fail "--emit exe --backend llvm" "$(cat "$TMP/cmp")"
        fi
    fi
fi
# --emit lib: the example program of docs/build.md against the LLVM-built library.
mkdir -p "$L/lib"
if [ -s "$TMP/lib/example.c" ] &&
    expect "--emit lib --backend llvm" 0 "$HYC" build tests/fixtures/hf/tiny/zamba2 --backend llvm --emit lib -o "$L/lib/zamba2"; then
    # shellcheck disable=SC2086
    if expect "--emit lib --backend llvm: compile" 0 ${CC:-cc} -std=c11 -Wall -Wextra -Werror -pedantic ${HYC_CFLAGS:-} \
        -I"$L/lib" "$TMP/lib/example.c" "$L/lib/libzamba2.a" -lm -lpthread -o "$L/lib/example"; then
        expect "--emit lib --backend llvm: run" 0 "$L/lib/example" "$L/lib/zamba2.weights" &&
            has "--emit lib --backend llvm" "$TMP/out" "generated:"
    fi
fi
rm -rf "$L"

end=$(date +%s)
echo "build: $n_pass checks passed, $n_fail failed ($((end - start)) s)"
[ "$n_fail" -eq 0 ]
