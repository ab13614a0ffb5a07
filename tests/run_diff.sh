#!/bin/sh
# run_diff.sh — the random-stack differential test of `make check`:
#
#   sh tests/run_diff.sh HYC RANDSTACK CMP_LOGITS
#
# RANDSTACK (tools/randstack.c) writes DIFF_N random but valid hybrid models
# from seed DIFF_SEED; for each model M (T = 9 tokens and a weights seed are
# in its header) the test checks
#
#   check      hyc check M exits 0 without warnings (else: a generator bug)
#   fmt        hyc fmt M is idempotent, and means the same as M: its -O0 IR
#              equals M's (source locations aside)
#   ir-O0      hyc ir -O0 M verifies and its text round-trips (parse, print)
#   ir-O2      hyc ir -O2 --verify-each M likewise
#   decode-1   hyc run M --prefill 1 (+ 8 decode steps) matches a full prefill
#   decode-7   hyc run M --prefill 7 (+ 2 decode steps) matches a full prefill
#              (a model whose states are bf16 / f16, "# states: reduced":
#              these must run, and their logits are the reference below)
#   O2         hyc run -O2 M matches -O0
#   O2-decode-7  hyc run -O2 M --prefill 7 matches -O0 (full, or prefill 7)
#   ir-run     running the printed -O2 IR matches running M at -O2
#   O2-nograph hyc run -O2 M without fold-scales, merge-projections, fold-params,
#              fuse-prologue
#              (--disable-pass) matches -O0
#   O2-last    hyc run -O2 --logits last M --prefill 7 (pass last-logits:
#              the prefill returns its last row only) matches the last 3
#              rows of the reference of O2-decode-7; ir-last: its -O2 IR
#              verifies after every pass and round-trips
#
# and then, per engine column (DIFF_ENGINES, default "c llvm"), on every
# DIFF_ENGINE_EVERY-th model (default: every model): hyc run --backend E at
# --threads 1 and 2, full prefill and prefill 7 + decode, each against the
# interpreter (its full prefill; for reduced states, its own prefill 7 +
# decode); and each column after the first against the first directly, the
# same four runs (step llvm-vs-c-t1...).  A backend that answers
# "not available yet" (exit 2) skips its column with one line.  Logits are
# compared with `cmp_logits pair` (the fixtures' metric: rel L2 <= 1e-4, same
# argmax where the reference's top-2 gap > 1e-3).
#
# Adding an engine: a case in engine_args below; everything else follows.
#
# Environment:
#   DIFF_SEED=1     generator seed           DIFF_N=50   models
#   DIFF_JOBS=2     models tested in parallel
#   DIFF_ENGINES="c llvm"   engine columns to try (empty: none)
#   DIFF_EVERY_c=1          per-engine override of DIFF_ENGINE_EVERY
#   DIFF_ENGINE_EVERY=1     run the engine columns on every k-th model only
#                           (compiling takes about a second a model)
#   DIFF_ENGINE_CFLAGS=     HYC_CFLAGS for the C backend's compiles (e.g.
#                           -O0 compiles about 3x faster)
#   DIFF_KEEP=1     keep every model, not only the failing ones
#
# The models are written to $BUILD/tests/diff/models (BUILD: HYC's folder);
# a failing model is copied to $BUILD/tests/diff/fail/ with a .log holding the
# failing command and its output.  A logits difference within 10x of the
# model's own sensitivity to one float32 rounding (measured on the path of the
# reference: full prefill, or prefill 7 + decode for reduced states) is a WARN
# (ill-conditioned model), not a failure.  One line per failure or warning and a summary;
# exit status 1 if anything failed.
set -eu

if [ $# -lt 3 ]; then
    echo "usage: sh tests/run_diff.sh HYC RANDSTACK CMP_LOGITS" >&2
    exit 2
fi
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
HYC=$(abs "$1")
RANDSTACK=$(abs "$2")
CMP=$(abs "$3")
HYC_ARG=$1 # as given, for the reproduce lines of the logs
CMP_ARG=$3
for x in "$HYC" "$RANDSTACK" "$CMP"; do
    if [ ! -x "$x" ]; then
        echo "run_diff: $x is not an executable (run make first)" >&2
        exit 2
    fi
done
cd "$(dirname "$0")/.."

SEED=${DIFF_SEED:-1}
N=${DIFF_N:-50}
JOBS=${DIFF_JOBS:-2}
ENGINES=${DIFF_ENGINES-c llvm}
ENGINE_EVERY=${DIFF_ENGINE_EVERY:-1}
DEFAULT_RUN=0
[ -z "${DIFF_SEED:-}" ] && [ -z "${DIFF_N:-}" ] && DEFAULT_RUN=1
export NO_COLOR=1

OUT=$(cd "$(dirname "$HYC")" && pwd)/tests/diff
MODELS=$OUT/models
FAILS=$OUT/fail
rm -rf "$MODELS" "$FAILS"
mkdir -p "$MODELS" "$FAILS"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hyc-diff.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

# A hung run is killed: 60 s a run, 300 s for an engine's (its first run
# compiles the model: cc -O2 of a random model takes seconds on a quiet
# machine, but over a minute on a loaded one, and that is no hang).
TIMEOUT=""
ENGINE_TIMEOUT=""
if command -v timeout >/dev/null 2>&1; then
    TIMEOUT="timeout 60"
    ENGINE_TIMEOUT="timeout 300"
fi
RUN_TIMEOUT=$TIMEOUT

start=$(date +%s)
if ! "$RANDSTACK" "$SEED" -n "$N" -o "$MODELS" -v >"$OUT/coverage.txt" 2>"$TMP/gen.err"; then
    echo "FAIL randstack $SEED -n $N: $(head -n 3 "$TMP/gen.err")"
    exit 1
fi

# ---- the generator against the schema -----------------------------------------

# Every key of `hyc check --keys` (and every value of an enumeration or a
# call) should appear in some generated model; a key the generator never
# writes (one added to frontend/schema.def since) is noted, not failed: extend
# tools/randstack.c.  Skipped: weights, rename and symbols (the models use
# random weights; symbols are free-form).
"$HYC" check --keys 2>/dev/null | awk '
function out(s) { if (!(s in seen)) { seen[s] = 1; print s } }
/^[a-z0-9_]+ — / { blk = $1; next }
blk == "weights" || blk == "rename" || blk == "symbols" { next }
/^  [a-z0-9_]+ / {
    key = $1
    out(blk " " key)
    t = $0; sub(/^  [a-z0-9_]+ +/, "", t); sub(/;.*/, "", t)
    # an enumeration "a, b or c" (not a choice of types, "name or int")
    if (t ~ / or / && t !~ /(^| )(int|float|bool|name|string|call)( |$)/) {
        gsub(/,/, "", t); n = split(t, w, " ")
        for (i = 1; i <= n; i++) if (w[i] != "or") out(blk " " key " " w[i])
    }
    if (t == "call") { out(blk " " key " none"); call = key }
    next
}
/^    [a-z0-9_]+\(/ { f = $1; sub(/\(.*/, "", f); out(blk " " call " " f) }
' >"$TMP/keys.hyc"
"$RANDSTACK" "$SEED" -n "$N" -o "$TMP/k" -k >"$TMP/keys.gen" 2>/dev/null || true
unknown=$(awk '
NR == FNR {
    w[$0] = 1; w[$1 " " $2] = 1
    if ($1 ~ /^(attention|mamba1|mamba2|short_conv|deltanet|mlp|moe|parallel)$/) { any[$2] = 1; if (NF > 2) any[$2 " " $3] = 1 }
    next
}
$0 in w { next }
($1 == "sublayer" || $1 == "branch") && ((NF > 2 ? $2 " " $3 : $2) in any) { next }
{ printf "%s%s.%s%s", sep, $1, $2, (NF > 2 ? "=" $3 : ""); sep = ", " }
' "$TMP/keys.gen" "$TMP/keys.hyc")
rm -rf "$TMP/k"
# (Only when the run covers every variant the generator knows: else a
# short run would list what it merely did not draw.)
if [ -n "$unknown" ] && tail -n 1 "$OUT/coverage.txt" | grep -q "(all)"; then
    echo "NOTE randstack: $N models of seed $SEED never write: $unknown (tools/randstack.c)"
fi

# ---- engines ------------------------------------------------------------------

# engine_args E: the hyc run options of engine column E.
engine_args() {
    case $1 in
    c) echo "--backend c" ;;
    llvm) echo "--backend llvm" ;;
    *) echo "run_diff: unknown engine '$1' (see engine_args)" >&2; exit 2 ;;
    esac
}
# Threads each engine runs at.
ENGINE_THREADS="1 2"
# The C backend's compile cache: HYC_CACHE_DIR when given (the Makefile
# gives $(BUILD)/tests/cache), else one for this run only (the four runs of
# a model share a compile; ~/.cache would grow by megabytes a model).
HYC_CACHE_DIR=${HYC_CACHE_DIR:-$TMP/cache}
export HYC_CACHE_DIR
if [ -n "${DIFF_ENGINE_CFLAGS:-}" ]; then
    HYC_CFLAGS=$DIFF_ENGINE_CFLAGS
    export HYC_CFLAGS
fi

# Probe each engine once on the first model: "not available yet" (exit 2)
# skips the column; anything else is tested (and fails per model if broken).
first=$MODELS/rand0000.hyb
columns=""
for e in $ENGINES; do
    st=0
    # shellcheck disable=SC2046
    $ENGINE_TIMEOUT "$HYC" run "$first" $(engine_args "$e") --random-weights=1 --tokens 0 \
        >"$TMP/probe.out" 2>"$TMP/probe.err" </dev/null || st=$?
    if [ "$st" = 2 ] && grep -q "not available" "$TMP/probe.err"; then
        echo "diff: engine column '$e' skipped: $(head -n 1 "$TMP/probe.err")"
    else
        columns="$columns $e"
    fi
done

# ---- one model ------------------------------------------------------------------

# Each model's results go to its own file $R (PASS / FAIL lines), printed
# in model order at the end; $W is the worker's scratch folder.

# hyc_step STEP OUTFILE ARGS...: run hyc ARGS with stdout to OUTFILE; on a
# non-zero exit, fail STEP and return 1.
hyc_step() {
    _step=$1
    _out=$2
    shift 2
    _st=0
    $RUN_TIMEOUT "$HYC" "$@" >"$_out" 2>"$W/err" </dev/null || _st=$?
    if [ "$_st" = 0 ]; then return 0; fi
    case $_st in
    124) _why="timed out" ;;
    70) _why="internal error (exit 70)" ;;
    *) if [ "$_st" -gt 128 ]; then _why="killed by signal $((_st - 128))"; else _why="exit $_st"; fi ;;
    esac
    _first=$(head -n 1 "$W/err")
    fail "$_step" "hyc ${1:-} $_why${_first:+: $_first}" "hyc $*"
    return 1
}

# same_logits STEP A B: cmp_logits pair A B (B the reference); $cmd_A and
# $cmd_B are the hyc commands that wrote them (for the log).  A difference
# beyond the metric fails, unless it is within 10x of the model's own
# sensitivity (below): then the model is ill-conditioned, the difference is
# float32 rounding it amplified, and it is reported as WARN, not failed.
same_logits() {
    if "$CMP" pair "$2" "$3" "$vocab" "$name $1" >"$W/cmp" 2>&1; then
        pass
        return 0
    fi
    _msg=$(sed "s/^$name $1: //; s/  FAIL\$//" "$W/cmp")
    _err=$(sed -n 's/^.*rel L2 \([0-9][^ ]*\) .*/\1/p' "$W/cmp")
    _sens=$(sensitivity)
    _repro="hyc $cmd_A --logits-out a.f32 && hyc $cmd_B --logits-out b.f32 && $CMP pair a.f32 b.f32 $vocab"
    if [ -n "$_err" ] && [ -n "$_sens" ] &&
        awk -v e="$_err" -v s="$_sens" 'BEGIN { exit !(e + 0 <= 10 * (s + 0)) }'; then
        fail "$1" "$_msg [ill-conditioned: a 1e-7 change of the input moves the logits by rel L2 $_sens]" \
            "$_repro" WARN
    else
        fail "$1" "$_msg${_sens:+ [sensitivity: a 1e-7 change of the input moves the logits by rel L2 $_sens]}" "$_repro"
    fi
}

# sensitivity: the rel L2 by which the model's logits move when its
# embeddings are scaled by 1 + 1e-7 (about one float32 rounding); empty if it
# cannot be measured.  Measured on the path of the current reference:
# $sens_path is "full" (the full prefill, $W/full.f32) or "dec7" (prefill 7 +
# decode, $W/dec7.f32: the reference of a reduced-state model's decode runs,
# whose states are rounded to 16 bits between calls; a rounding is a step
# function, so that path can amplify rounding far more than the full
# prefill).  Computed once per model and path.
sensitivity() {
    if [ -f "$W/sens.$sens_path" ]; then
        cat "$W/sens.$sens_path"
        return 0
    fi
    _sargs=""
    [ "$sens_path" = dec7 ] && _sargs="--prefill 7"
    : >"$W/sens.$sens_path"
    "$HYC" fmt "$f" >"$W/sens.hyb" 2>/dev/null || return 0
    _es=$(sed -n 's/^  embedding_scale = //p' "$W/sens.hyb")
    awk -v x="${_es:-1}" '
        /^  embedding_scale = / { next }
        { print }
        /^model / && !done { printf "  embedding_scale = %.17g\n", x * (1 + 1e-7); done = 1 }
    ' "$W/sens.hyb" >"$W/sens2.hyb"
    # shellcheck disable=SC2086
    $TIMEOUT "$HYC" $run "$W/sens2.hyb" $_sargs --logits-out "$W/sens.f32" >/dev/null 2>&1 </dev/null || return 0
    "$CMP" pair "$W/sens.f32" "$W/$sens_path.f32" "$vocab" x >"$W/sens.out" 2>&1 || true
    sed -n 's/^x: rel L2 \([0-9][^ ]*\) .*/\1/p' "$W/sens.out" >"$W/sens.$sens_path"
    cat "$W/sens.$sens_path"
}

# same_file STEP A B WHAT REPRODUCE
same_file() {
    if cmp -s "$2" "$3"; then
        pass
    else
        diff -u "$2" "$3" >"$W/diff" 2>&1 || true
        fail "$1" "$4" "$5"
        head -n 40 "$W/diff" >>"$FAILS/$name.log"
    fi
}

pass() { echo "PASS" >>"$R"; }

# fail STEP MESSAGE COMMAND [WARN]: one line, and the model kept with a log.
fail() {
    echo "${4:-FAIL} $name [$1]: $2" | sed "s|$W/||g" >>"$R"
    if [ ! -f "$FAILS/$name.hyb" ]; then
        cp "$f" "$FAILS/$name.hyb"
        echo "  model kept: $FAILS/$name.hyb (log: $FAILS/$name.log)" >>"$R"
    fi
    {
        echo "== step $1: $2" | sed "s|$W/||g"
        echo "reproduce: $3" | sed "s|$f|$FAILS/$name.hyb|g; s|$W/||g; s|$CMP|$CMP_ARG|g; s|hyc |$HYC_ARG |g"
        if [ -s "$W/err" ]; then sed 's/^/  stderr: /' "$W/err"; fi
    } >>"$FAILS/$name.log"
    : >"$W/err"
}

# engine_run E TH K: the hyc arguments of engine E at TH threads, full
# prefill (K = all) or prefill K + decode, in $ecmd; its step name in $estep.
engine_run() {
    ecmd="$run $f $(engine_args "$1") --threads $2"
    estep=$1-t$2
    if [ "$3" != all ]; then
        ecmd="$ecmd --prefill $3"
        estep=$estep-decode-$3
    fi
}

test_model() {
    f=$1
    name=$(basename "$f" .hyb)
    R=$TMP/res/$name
    : >"$R"
    toks=$(sed -n 's/^# tokens: //p' "$f")
    rw=$(sed -n 's/^# random-weights: //p' "$f")
    : >"$W/err"
    rm -f "$W"/sens.full "$W"/sens.dec7 "$W"/e-*.f32
    sens_path=full
    run="run --random-weights=$rw --tokens $toks"

    # check: valid, and without warnings (every layer and shared block used)
    hyc_step check "$W/check.out" check "$f" || return 0
    if [ -s "$W/err" ]; then
        fail check "hyc check warns: $(head -n 1 "$W/err")" "hyc check $f"
    else
        pass
    fi
    vocab=$(sed -n 's/^ *d_model [0-9]*, vocab \([0-9]*\),.*/\1/p' "$W/check.out")
    if [ -z "$vocab" ]; then
        fail check "no vocab in the summary of hyc check" "hyc check $f"
        return 0
    fi

    # fmt: idempotent, and the same model
    if hyc_step fmt "$W/fmt1.hyb" fmt "$f" && hyc_step fmt "$W/fmt2.hyb" fmt "$W/fmt1.hyb"; then
        same_file fmt "$W/fmt1.hyb" "$W/fmt2.hyb" "formatting twice differs from formatting once" \
            "hyc fmt $f >fmt1.hyb && hyc fmt fmt1.hyb | diff -u fmt1.hyb -"
        if hyc_step fmt "$W/fmt.ir" ir -O0 "$W/fmt1.hyb" && hyc_step fmt "$W/orig.ir" ir -O0 "$f"; then
            sed 's/ loc([^)]*)//g' "$W/fmt.ir" >"$W/fmt.ir.s"
            sed 's/ loc([^)]*)//g' "$W/orig.ir" >"$W/orig.ir.s"
            same_file fmt "$W/orig.ir.s" "$W/fmt.ir.s" "the formatted model lowers to different IR" \
                "hyc fmt $f >fmt1.hyb && hyc ir $f | sed 's/ loc([^)]*)//g' >a.ir && hyc ir fmt1.hyb | sed 's/ loc([^)]*)//g' | diff -u a.ir -"
        fi
    fi

    # IR: verifies and round-trips
    for O in 0 2; do
        flags="-O$O"
        [ "$O" = 2 ] && flags="-O2 --verify-each"
        # shellcheck disable=SC2086
        if hyc_step "ir-O$O" "$W/o$O.ir" ir $flags "$f" && hyc_step "ir-O$O" "$W/o$O.rt.ir" ir "$W/o$O.ir"; then
            same_file "ir-O$O" "$W/o$O.ir" "$W/o$O.rt.ir" "IR text does not round-trip (print, parse, print)" \
                "hyc ir $flags $f -o o$O.ir && hyc ir o$O.ir | diff -u o$O.ir -"
        fi
    done

    # The interpreter: full prefill is the reference.
    cmd_full="$run $f"
    # shellcheck disable=SC2086
    hyc_step run "$W/out" $cmd_full --logits-out "$W/full.f32" || return 0
    pass
    # With states stored in bf16 / f16 (kv_dtype, ssm_dtype), decode reads
    # states rounded between calls and matches a full prefill only up to that
    # rounding (docs/language.md §8): its runs must succeed, and the
    # reference of a prefill 7 + decode elsewhere is the interpreter's own.
    reduced=$(sed -n 's/^# states: reduced$/1/p' "$f")
    cmd_B=$cmd_full
    for K in 1 7; do
        cmd_A="$run $f --prefill $K"
        # shellcheck disable=SC2086
        hyc_step "decode-$K" "$W/out" $cmd_A --logits-out "$W/dec$K.f32" || continue
        if [ -n "$reduced" ]; then pass; else same_logits "decode-$K" "$W/dec$K.f32" "$W/full.f32"; fi
    done
    dec_ref=$W/full.f32
    dec_cmd=$cmd_full
    if [ -n "$reduced" ]; then
        dec_ref=$W/dec7.f32
        dec_cmd="$run $f --prefill 7"
    fi
    cmd_A="$run $f -O2 --prefill 7"
    cmd_B=$dec_cmd
    # shellcheck disable=SC2086
    hyc_step O2-decode-7 "$W/out" $cmd_A --logits-out "$W/o2dec.f32" &&
        same_logits O2-decode-7 "$W/o2dec.f32" "$dec_ref"
    cmd_B=$cmd_full
    cmd_A="$run $f -O2"
    # shellcheck disable=SC2086
    if hyc_step O2 "$W/out" $cmd_A --logits-out "$W/o2.f32"; then
        same_logits O2 "$W/o2.f32" "$W/full.f32"
        # the printed -O2 IR runs like the model at -O2
        cmd_B="$run $f -O2"
        cmd_A="ir -O2 $f -o o2.ir && hyc $run o2.ir"
        [ -s "$W/o2.ir" ] && hyc_step ir-run "$W/out" $run "$W/o2.ir" --logits-out "$W/o2ir.f32" &&
            same_logits ir-run "$W/o2ir.f32" "$W/o2.f32"
    fi

    cmd_A="$run $f -O2 --disable-pass=fold-scales,merge-projections,fold-params,fuse-prologue"
    cmd_B=$cmd_full
    # shellcheck disable=SC2086
    hyc_step O2-nograph "$W/out" $cmd_A --logits-out "$W/o2ng.f32" &&
        same_logits O2-nograph "$W/o2ng.f32" "$W/full.f32"

    # --logits last: rows 6..8 (prefill 7 gives its last row, then decode)
    tail -c $((3 * vocab * 4)) "$dec_ref" >"$W/last_ref.f32"
    cmd_A="$run $f -O2 --logits last --prefill 7"
    cmd_B=$dec_cmd
    # shellcheck disable=SC2086
    hyc_step O2-last "$W/out" $cmd_A --logits-out "$W/o2last.f32" &&
        same_logits O2-last "$W/o2last.f32" "$W/last_ref.f32"
    if hyc_step ir-last "$W/last.ir" ir -O2 --logits last --verify-each "$f" &&
        hyc_step ir-last "$W/last.rt.ir" ir "$W/last.ir"; then
        same_file ir-last "$W/last.ir" "$W/last.rt.ir" "IR text does not round-trip (print, parse, print)" \
            "hyc ir -O2 --logits last $f -o last.ir && hyc ir last.ir | diff -u last.ir -"
    fi

    # Engine columns against the interpreter; each run's logits are kept
    # as $W/e-E-tTH-K.f32 for the comparison between engines below.
    _i=$(echo "${name#rand}" | sed 's/^0*//')
    for e in $columns; do
        # DIFF_EVERY_<engine> (e.g. DIFF_EVERY_c=1) overrides DIFF_ENGINE_EVERY per column.
        eval "_every=\${DIFF_EVERY_$e:-$ENGINE_EVERY}"
        [ $((${_i:-0} % _every)) = 0 ] || continue
        for th in $ENGINE_THREADS; do
            for K in all 7; do
                engine_run "$e" "$th" "$K"
                cmd_A=$ecmd
                ref=$W/full.f32
                cmd_B=$cmd_full
                if [ "$K" != all ]; then
                    ref=$dec_ref
                    cmd_B=$dec_cmd
                    [ -n "$reduced" ] && sens_path=dec7
                fi
                RUN_TIMEOUT=$ENGINE_TIMEOUT
                _ok=0
                # shellcheck disable=SC2086
                hyc_step "$estep" "$W/out" $ecmd --logits-out "$W/e.f32" && _ok=1
                RUN_TIMEOUT=$TIMEOUT
                [ "$_ok" = 1 ] &&
                    mv "$W/e.f32" "$W/e-$e-t$th-$K.f32" &&
                    same_logits "$estep" "$W/e-$e-t$th-$K.f32" "$ref"
                sens_path=full
            done
        done
    done

    # The engines against each other: every column after the first against
    # the first, run for run (the interpreter out of the loop: two compiled
    # programs of the same kernel IR).
    _base=""
    for e in $columns; do
        if [ -z "$_base" ]; then _base=$e; continue; fi
        for th in $ENGINE_THREADS; do
            for K in all 7; do
                [ -f "$W/e-$e-t$th-$K.f32" ] && [ -f "$W/e-$_base-t$th-$K.f32" ] || continue
                engine_run "$_base" "$th" "$K"
                cmd_B=$ecmd
                engine_run "$e" "$th" "$K"
                cmd_A=$ecmd
                [ "$K" != all ] && [ -n "$reduced" ] && sens_path=dec7
                _pstep=$e-vs-$_base-t$th
                [ "$K" = all ] || _pstep=$_pstep-decode-$K
                same_logits "$_pstep" "$W/e-$e-t$th-$K.f32" "$W/e-$_base-t$th-$K.f32"
                sens_path=full
            done
        done
    done
    # the compiled forward of a last-row prefill (--logits last, -O2), on
    # every 5th model of each column (one more compile each)
    for e in $columns; do
        [ $((${_i:-0} % 5)) = 0 ] || continue
        step=$e-last
        cmd_A="$run $f $(engine_args "$e") -O2 --logits last --prefill 7"
        cmd_B=$dec_cmd
        # shellcheck disable=SC2086
        hyc_step "$step" "$W/out" $cmd_A --logits-out "$W/e.f32" &&
            same_logits "$step" "$W/e.f32" "$W/last_ref.f32"
    done
    return 0
}

# ---- the workers -------------------------------------------------------------------

set -- "$MODELS"/rand*.hyb
total=$#
mkdir -p "$TMP/res"
j=0
while [ "$j" -lt "$JOBS" ]; do
    (
        W=$TMP/w$j
        mkdir -p "$W"
        i=0
        for f in "$@"; do
            if [ $((i % JOBS)) = "$j" ]; then
                test_model "$f"
                echo DONE >>"$TMP/res/$(basename "$f" .hyb)"
            fi
            i=$((i + 1))
        done
    ) &
    j=$((j + 1))
done
wait

# A model whose test did not finish: its worker died (a bug in this script).
for f in "$@"; do
    name=$(basename "$f" .hyb)
    grep -q '^DONE' "$TMP/res/$name" 2>/dev/null ||
        echo "FAIL $name [script]: unfinished (tests/run_diff.sh stopped on it)" >>"$TMP/res/$name"
done
cat "$TMP"/res/* >"$TMP/results"
n_pass=$(grep -c '^PASS' "$TMP/results" || true)
n_fail=$(grep -c '^FAIL' "$TMP/results" || true)
n_warn=$(grep -c '^WARN' "$TMP/results" || true)
grep -v '^PASS\|^DONE' "$TMP/results" || true

cov=$(tail -n 1 "$OUT/coverage.txt")
case $cov in
*"(all)"*) ;;
*)
    if [ "$DEFAULT_RUN" = 1 ]; then
        echo "FAIL randstack: the default run no longer covers every variant ($OUT/coverage.txt)"
        n_fail=$((n_fail + 1))
    fi
    ;;
esac
[ "${DIFF_KEEP:-0}" = 1 ] || [ "$n_fail" -gt 0 ] || [ "$n_warn" -gt 0 ] || rm -rf "$MODELS"

end=$(date +%s)
warned=""
[ "$n_warn" -gt 0 ] && warned=", $n_warn ill-conditioned (WARN, see docs/testing.md)"
echo "diff: $total models of seed $SEED, $n_pass checks passed, $n_fail failed$warned (${columns:+engines:$columns; }$cov; $((end - start)) s)"
[ "$n_fail" -eq 0 ]
