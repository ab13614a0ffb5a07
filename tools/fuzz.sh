#!/bin/sh
# fuzz.sh — build and run the libFuzzer targets in tools/fuzz/ (`make fuzz`).
#
#   sh tools/fuzz.sh [TARGET...]      default: every tools/fuzz/fuzz_*.c
#
# Each target tools/fuzz/NAME.c is compiled with clang and
# -fsanitize=fuzzer,address,undefined, together with the hyc sources it needs
# (the table in sources_for below), into build-fuzz/NAME, and run for
# FUZZ_SECONDS seconds.  New interesting inputs collect in
# build-fuzz/corpus/NAME (kept between runs); seed inputs come from the
# repository (seeds_for).  A crash leaves its input in build-fuzz/artifacts/
# and makes the script exit 1; rerun it with
#
#   build-fuzz/NAME build-fuzz/artifacts/NAME-crash-...
#
# Environment:
#   FUZZ_SECONDS=30     time per target
#   FUZZ_BUILD_ONLY=1   build the targets, run nothing
#   FUZZ_ARGS=...       extra libFuzzer flags (e.g. -jobs=8 -workers=8)
#   CLANG=clang         the compiler (needs the libFuzzer runtime)
set -eu
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-30}
FUZZ_BUILD_ONLY=${FUZZ_BUILD_ONLY:-0}
FUZZ_ARGS=${FUZZ_ARGS:-}
OUT=build-fuzz
GEN=build/gen

if [ -z "${CLANG:-}" ]; then
    CLANG=clang
    for c in clang-19 clang-18 clang-17 clang-16 clang-15 clang-14; do
        if command -v "$c" >/dev/null 2>&1; then CLANG=$c; break; fi
    done
fi
if ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "fuzz: no clang found (set CLANG=...)" >&2
    exit 1
fi

# The sources each target links, beyond its own file.  Globs that match
# nothing are dropped, so a folder that is still empty does no harm.  A target
# not listed here gets every library folder (slower to build, and broken by
# any file that does not compile yet: better to add a line).
sources_for() {
    case $1 in
    fuzz_hyb) # the frontend lowers to IR and binds HF names, so it needs those
        echo util/*.c frontend/*.c formats/*.c ir/*.c passes/*.c "$GEN/lexer.c" "$GEN/parser.c" ;;
    fuzz_json)
        echo util/*.c formats/*.c ;;
    fuzz_safetensors)
        echo util/*.c formats/*.c ;;
    fuzz_ir)
        echo util/*.c ir/*.c ;;
    fuzz_kir) # the Kernel IR and the C backend, not emit_llvm.c (it needs LLVM's headers)
        echo util/*.c ir/*.c interp/kernels.c codegen/kir.c codegen/kir_parse.c codegen/kir_print.c \
            codegen/kir_verify.c codegen/schedule.c codegen/lower_kernels.c codegen/plan.c codegen/emit_c.c ;;
    *)
        echo util/*.c formats/*.c frontend/*.c ir/*.c passes/*.c interp/*.c codegen/*.c \
            "$GEN/lexer.c" "$GEN/parser.c" ;;
    esac
}

# Seed inputs: files copied into a seed folder, read but never written.
seeds_for() {
    case $1 in
    fuzz_hyb)
        ls examples/*.hyb tests/golden/fmt/*.hyb tests/golden/bad/*.hyb 2>/dev/null || true ;;
    fuzz_json)
        find tests/fixtures -name '*.json' 2>/dev/null || true ;;
    fuzz_safetensors)
        find tests/fixtures -name '*.safetensors' -size -1000k 2>/dev/null || true ;;
    fuzz_ir)
        find tests/ir -name '*.ir' 2>/dev/null || true ;;
    fuzz_kir)
        ls tests/kernel/*.kir 2>/dev/null || true ;;
    esac
}

# Extra compiler flags per target.
cflags_for() {
    case $1 in
    fuzz_hyb)
        if [ -f frontend/sema.c ]; then echo -DHYC_FUZZ_SEMA; fi ;;
    esac
}

# A libFuzzer dictionary of .hyb tokens, so that mutations speak the language.
write_hyb_dict() {
    {
        for w in model layer shared_block stack weights use parallel attention mamba1 mamba2 \
            short_conv deltanet mlp moe place symbols fill pattern layers repeat every offset at \
            ratio placement d_model vocab heads kv_heads head_dim hidden experts top_k true false \
            inf nan '{' '}' '[' ']' '(' ')' '=' ',' ';' '-' '#' '"' "\\" "\\n" '1e-6' '.5' \
            '9007199254740993' '1e999' '"M-*"' '"1:5"'; do
            printf 'kw="%s"\n' "$(printf '%s' "$w" | sed 's/\\/\\\\/g; s/"/\\"/g')"
        done
    } >"$1"
}

make --no-print-directory "$GEN/parser.c" "$GEN/lexer.c" >/dev/null

if [ $# -gt 0 ]; then
    targets=$*
else
    targets=
    for f in tools/fuzz/fuzz_*.c; do
        [ -e "$f" ] || continue
        t=$(basename "$f" .c)
        targets="$targets $t"
    done
fi
if [ -z "$targets" ]; then
    echo "fuzz: no targets in tools/fuzz/" >&2
    exit 1
fi

mkdir -p "$OUT/artifacts"
failed=""
for t in $targets; do
    if [ ! -f "tools/fuzz/$t.c" ]; then
        echo "fuzz: no tools/fuzz/$t.c" >&2
        exit 1
    fi
    srcs=""
    for s in $(sources_for "$t"); do
        [ -f "$s" ] && srcs="$srcs $s"
    done
    echo "fuzz: building $OUT/$t"
    # shellcheck disable=SC2046,SC2086
    if ! "$CLANG" -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$GEN" -I. $(cflags_for "$t") -o "$OUT/$t" "tools/fuzz/$t.c" $srcs -lm -lpthread; then
        echo "fuzz: $t does not build" >&2
        failed="$failed $t"
        continue
    fi
    [ "$FUZZ_BUILD_ONLY" = 1 ] && continue

    corpus=$OUT/corpus/$t
    seeds=$OUT/seeds/$t
    rm -rf "$seeds"
    mkdir -p "$corpus" "$seeds"
    seeds_for "$t" | while IFS= read -r s; do
        [ -f "$s" ] && cp "$s" "$seeds/$(echo "$s" | tr '/' '_')"
    done
    dict=""
    if [ "$t" = fuzz_hyb ]; then
        write_hyb_dict "$OUT/hyb.dict"
        dict="-dict=$OUT/hyb.dict"
    fi
    echo "fuzz: running $t for ${FUZZ_SECONDS}s"
    # shellcheck disable=SC2086
    if ! ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$OUT/$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t-" $dict $FUZZ_ARGS \
        "$corpus" "$seeds" >"$OUT/$t.log" 2>&1; then
        echo "fuzz: $t FAILED; see $OUT/$t.log and $OUT/artifacts/" >&2
        grep -E 'ERROR|SUMMARY|fuzz_hyb:|Test unit written' "$OUT/$t.log" | head -n 20 >&2 || true
        failed="$failed $t"
        continue
    fi
    grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$OUT/$t.log" | sed "s/^/fuzz: $t /" || true
done

if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed" >&2
    exit 1
fi
echo "fuzz: all targets ran clean"
