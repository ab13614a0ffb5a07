#!/bin/sh
# demo.sh — what `make demo` shows: hyc reading a hybrid recipe of the paper
# (arXiv 2510.04800), running it on the reference interpreter, compiling it
# ahead of time to a standalone binary that generates tokens from seeded
# random weights, and the formatter and diagnostics at work.
#
#   sh tools/demo.sh build/hyc
set -eu
HYC=${1:-build/hyc}
case $HYC in
/*) ;;
*) HYC=$PWD/$HYC ;;
esac
if [ ! -x "$HYC" ]; then
    echo "demo: $HYC not found (run make first)" >&2
    exit 1
fi
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
hyc() { printf '$ hyc %s\n' "$*"; "$HYC" "$@"; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hyc-demo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

step "The intra-layer recipe: attention and Mamba-2 heads side by side, 1 such layer per 5"
hyc check examples/paper_intra.hyb | head -n 10

step "Run it on the reference interpreter: prefill 6 tokens, decode 2 more, seeded random weights"
hyc run examples/paper_intra.hyb --random-weights=1 --tokens 1,2,3,4,5,6,7,8 --prefill 6

step "Compile it ahead of time (Graph IR -> Kernel IR -> C -> cc) to a binary, with its weights packed beside it"
hyc build examples/paper_intra.hyb --random-weights=1 -o "$tmp/paper_intra"

step "The binary generates 16 tokens after an 8-token prompt (greedy), then times itself"
printf '$ paper_intra --tokens 1,2,3,4,5,6,7,8 -n 16\n'
"$tmp/paper_intra" --tokens 1,2,3,4,5,6,7,8 -n 16
printf '$ paper_intra --bench\n'
"$tmp/paper_intra" --bench
rm -f "$tmp/paper_intra.weights"

step "hyc fmt prints a model in canonical form; hyc check points at mistakes"
cat >"$tmp/tiny.hyb" <<'HYB'
model tiny { d_model = 64; vocab = 512   # a one-line model
  layer hybrid { parallel { combine = diff  branch_norm = group
      attention { heads = 2 head_dim = 32 } mamba2 { heads = 1 head_dim = 64 } }
    mlp { hidden = 128 } }
  stack { layers = 2  fill = hybrid } }
HYB
cd "$tmp"
hyc fmt tiny.hyb | head -n 12
sed 's/combine = diff/combine = dif/' tiny.hyb >typo.hyb
hyc check typo.hyb 2>&1 || true
cd - >/dev/null

models=""
for f in examples/*.hyb; do
    f=${f#examples/}
    models="$models ${f%.hyb}"
done
printf '\nMore models in examples/:%s\n' "$models"
printf 'hyc build --emit lib makes a static library and a C header instead (docs/build.md).\n'
