#!/bin/sh
# demo.sh — what `make demo` shows: hyc reading the two hybrid recipes of the
# paper (arXiv 2510.04800), running one, its IR, and the formatter at work.
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

step "The inter-layer recipe: 1 attention layer per 5 Mamba-2 layers, in the middle"
hyc check examples/paper_inter.hyb

step "The intra-layer recipe: attention and Mamba-2 heads side by side, 1 such layer per 5"
hyc check examples/paper_intra.hyb

step "Run it: prefill 6 tokens, then decode 2 more, with seeded random weights (reference interpreter)"
hyc run examples/paper_intra.hyb --random-weights=1 --tokens 1,2,3,4,5,6,7,8 --prefill 6

step "Its Graph IR: the first layer, as the frontend builds it (hyc ir prints the whole module)"
printf '$ hyc ir examples/paper_intra.hyb    (the start of prefill)\n'
"$HYC" ir examples/paper_intra.hyb | awk '/func @prefill/{on=1} on{print} /layers.1.out/{exit}' | head -n 40

step "hyc fmt prints a model in canonical form"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hyc-demo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/tiny.hyb" <<'HYB'
model tiny { d_model = 64; vocab = 512   # a one-line model
  layer hybrid { parallel { combine = diff  branch_norm = group
      attention { heads = 2 head_dim = 32 } mamba2 { heads = 1 head_dim = 64 } }
    mlp { hidden = 128 } }
  stack { layers = 2  fill = hybrid } }
HYB
cd "$tmp"
printf '$ cat tiny.hyb\n'
cat tiny.hyb
hyc fmt tiny.hyb

step "and tells when a file is not in that form"
hyc fmt --check tiny.hyb || true
"$HYC" fmt tiny.hyb >tidy.hyb
hyc fmt --check tidy.hyb && echo "tidy.hyb is canonical"

step "hyc check points at mistakes, with a suggestion where it can"
sed 's/combine = diff/combine = dif/' tiny.hyb >typo.hyb
hyc check typo.hyb 2>&1 || true
cd - >/dev/null

models=""
for f in examples/*.hyb; do
    f=${f#examples/}
    models="$models ${f%.hyb}"
done
printf '\nMore models in examples/:%s\n' "$models"
