#!/bin/sh
# run_ssd_chunk.sh — the chunked SSD form of the Mamba-2 scans (`make check`):
#
#   sh tests/run_ssd_chunk.sh HYC CMP_LOGITS [FIXTURE_DIR...]
#
# Every Mamba-2-family fixture (default: each tests/fixtures/hf/*/* whose
# Kernel IR has an ssd_scan or fused_ssd_scan) is run with the prefill scans
# forced into the chunked form (HYC_SSD_CHUNK=Q, docs/kernel-ir.md §6) for
# chunk lengths that divide the prompt and lengths that do not (a last
# partial chunk; a chunk longer than the prompt), through both compiled
# backends (hyc run --backend c | llvm), in one prefill and in prefill 17 +
# decode (the state a chunked prefill leaves is what decode's recurrence
# continues from), on input_ids_a, with and without scan fusion (ssd_scan
# and fused_ssd_scan); the logits must match the fixture's logits_a
# (cmp_logits: rel L2 <= 1e-4, same argmax where the top-2 gap > 1e-3).
# Then: the forced form is really the chunked one (hyc ir --level=kernel
# shows `chunk Q` and not the recurrence), HYC_SSD_CHUNK=0 gives the
# recurrence, a bad HYC_SSD_CHUNK is an error (exit 1) naming it.
#
# Environment: SSD_CHUNKS (default "5 16": 5 divides none of the prompt
# lengths, 16 leaves a partial last chunk; check_codegen runs chunks of 1,
# 2, 3 and 64 against the interpreter), SSD_BACKENDS (default "c llvm"; a
# backend that answers exit 2, "not available", is skipped).
# One line per failure; exit status 1 if anything failed.
set -eu

if [ $# -lt 2 ]; then
    echo "usage: sh tests/run_ssd_chunk.sh HYC CMP_LOGITS [FIXTURE_DIR...]" >&2
    exit 2
fi
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
HYC=$(abs "$1")
CMP=$(abs "$2")
shift 2
cd "$(dirname "$0")/.."
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hyc-ssd.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
export HYC_CACHE_DIR="${HYC_CACHE_DIR:-$TMP/cache}"

n_pass=0
n_fail=0
ok() { n_pass=$((n_pass + 1)); }
fail() { n_fail=$((n_fail + 1)); echo "FAIL $1: $2"; }

# Does fixture DIR have a Mamba-2 scan at -O2?
has_ssd() {
    "$HYC" ir "$1" --level=kernel >"$TMP/kir" 2>/dev/null && grep -q 'op "\(fused_\)\{0,1\}ssd_scan"' "$TMP/kir"
}

if [ $# -gt 0 ]; then
    FIXTURES=$*
else
    FIXTURES=
    for d in tests/fixtures/hf/*/*; do
        if has_ssd "$d"; then FIXTURES="$FIXTURES $d"; fi
    done
fi
[ -n "$FIXTURES" ] || { echo "FAIL: no Mamba-2 fixture found"; exit 1; }

CHUNKS=${SSD_CHUNKS:-"5 16"}
BACKENDS=${SSD_BACKENDS:-"c llvm"}
skip_be=

for dir in $FIXTURES; do
    g=$dir/golden.safetensors
    "$CMP" ids "$g" input_ids_a "$TMP/ids.i32" 2>/dev/null || { fail "$dir" "no input_ids_a"; continue; }
    for q in $CHUNKS; do
        # the forced form is the chunked one (prefill), decode keeps the recurrence
        if HYC_SSD_CHUNK=$q "$HYC" ir "$dir" --level=kernel >"$TMP/kir" 2>"$TMP/err"; then
            if grep -q "^    chunk $q\$" "$TMP/kir"; then ok; else fail "$dir chunk $q" "no 'chunk $q' in the kernel IR"; fi
        else
            fail "$dir chunk $q" "hyc ir failed: $(head -n 2 "$TMP/err" | tr '\n' ' ')"
        fi
        for be in $BACKENDS; do
            case " $skip_be " in *" $be "*) continue ;; esac
            for nofuse in "" fuse-scan; do
                for pre in "" 17; do
                    label="$dir chunk $q $be${nofuse:+ nofuse}${pre:+ prefill $pre + decode}"
                    set -- --backend "$be" --threads 2 --tokens-file "$TMP/ids.i32" --logits-out "$TMP/out.f32"
                    [ -z "$pre" ] || set -- "$@" --prefill "$pre"
                    rm -f "$TMP/out.f32"
                    st=0
                    HYC_SSD_CHUNK=$q HYC_DISABLE_PASS=$nofuse "$HYC" run "$dir" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null || st=$?
                    if [ "$st" = 2 ] && grep -q "not available" "$TMP/err"; then
                        echo "skip $be: $(head -n 1 "$TMP/err")"
                        skip_be="$skip_be $be"
                        break 2
                    fi
                    if [ "$st" != 0 ]; then
                        fail "$label" "exit $st: $(head -n 3 "$TMP/err" | tr '\n' ' ')"
                        continue
                    fi
                    if "$CMP" cmp "$TMP/out.f32" "$g" logits_a "$label" >"$TMP/cmp" 2>&1; then ok; else
                        fail "$label" "logits do not match: $(tail -n 1 "$TMP/cmp")"
                    fi
                done
            done
        done
    done
done

# 0 is the recurrence; a bad value is an error naming the variable
set -- $FIXTURES
if HYC_SSD_CHUNK=0 "$HYC" ir "$1" --level=kernel >"$TMP/kir" 2>/dev/null && ! grep -q "^    chunk " "$TMP/kir"; then ok; else
    fail "HYC_SSD_CHUNK=0" "not the recurrence"
fi
for bad in 65 -3 x 4x; do
    st=0
    HYC_SSD_CHUNK=$bad "$HYC" ir "$1" --level=kernel >/dev/null 2>"$TMP/err" || st=$?
    if [ "$st" = 1 ] && grep -q "HYC_SSD_CHUNK" "$TMP/err"; then ok; else
        fail "HYC_SSD_CHUNK=$bad" "expected exit 1 naming HYC_SSD_CHUNK, got $st: $(head -n 1 "$TMP/err")"
    fi
done

echo "ssd chunk: $n_pass passed, $n_fail failed ($(echo $FIXTURES | wc -w) fixtures, chunks $CHUNKS, backends $BACKENDS)"
[ "$n_fail" -eq 0 ]
