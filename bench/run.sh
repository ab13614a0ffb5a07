#!/bin/sh
# bench/run.sh — `make bench`: time every bench/*.hyb with hyc bench (C
# backend, random weights) and append a dated section to bench/results.md
# with the numbers, the llama.cpp reference figures of the performance issue
# and our ratio to them.
#
#   sh bench/run.sh HYC [RESULTS.md]
#
# Environment: BENCH_ARGS (default "-p 512 -n 64 -t 1,2 -r 3"), BENCH_MODELS
# (default bench/*.hyb), BENCH_NOTE (what changed since the last section),
# BENCH_PREDICT (what you expect to see).
set -eu
HYC=${1:?usage: sh bench/run.sh HYC [RESULTS.md]}
OUT=${2:-bench/results.md}
ARGS=${BENCH_ARGS:--p 512 -n 64 -t 1,2 -r 3}
MODELS=${BENCH_MODELS:-$(ls bench/*.hyb)}
NOTE=${BENCH_NOTE:-"(no note: set BENCH_NOTE)"}
PREDICT=${BENCH_PREDICT:-"(no prediction: set BENCH_PREDICT)"}
TMP=$(mktemp)
trap 'rm -f "$TMP"' EXIT

date_utc=$(date -u '+%Y-%m-%d %H:%M UTC')
load0=$(cut -d' ' -f1-3 /proc/loadavg)
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain 2>/dev/null | grep -q . && echo " + uncommitted changes" || true)
for m in $MODELS; do
    echo "== $HYC bench $m --random-weights $ARGS -o json" >&2
    "$HYC" bench "$m" --random-weights $ARGS -o json | tee -a "$TMP"
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
ceil=$("$HYC" bench --ceilings -t 1,2 | tail -n +2)

# the table (field(): bench/json_field.awk)
awk -v date="$date_utc" -v note="$NOTE" -v predict="$PREDICT" -v args="$ARGS" -v rev="$rev$dirty" \
    -v load0="$load0" -v load1="$load1" -v ceil="$ceil" -f "$(dirname "$0")/json_field.awk" -f /dev/stdin "$TMP" >> "$OUT" <<'AWK'
BEGIN {
    # llama.cpp (f32, tied embeddings, llama-bench defaults, median of 10),
    # tokens/s on this machine: prefill-512 / decode, from the issue
    ref["mamba1", 2, "pp"] = 245; ref["mamba1", 2, "tg"] = 57; ref["mamba1", 1, "pp"] = 145; ref["mamba1", 1, "tg"] = 39
    ref["mamba2", 2, "pp"] = 460; ref["mamba2", 2, "tg"] = 65; ref["mamba2", 1, "pp"] = 281; ref["mamba2", 1, "tg"] = 44
    ref["jamba", 2, "pp"] = 276; ref["jamba", 2, "tg"] = 45; ref["jamba", 1, "pp"] = 140; ref["jamba", 1, "tg"] = 31
    ref["falcon_h1", 2, "pp"] = 359; ref["falcon_h1", 2, "tg"] = 53; ref["falcon_h1", 1, "pp"] = 184; ref["falcon_h1", 1, "tg"] = 37
}
{
    lines[NR] = $0
    m = field("model", $0); t = field("threads", $0); test = field("test", $0); kind = substr(test, 1, 2)
    if (!(m SUBSEP t in seen)) { seen[m, t] = 1; order[++n] = m SUBSEP t }
    params[m] = field("params", $0); cpu = field("cpu", $0); ver = field("hyc_version", $0); target = field("target", $0)
    tps[m, t, kind] = sprintf("%.1f ± %.1f", field("tokens_per_s", $0), field("tokens_per_s_std", $0))
    val[m, t, kind] = field("tokens_per_s", $0)
    name[m, t, kind] = test
    roof[m, t, kind] = sprintf("%.1f%%", 100 * field("roofline", $0))
    rate[m, t, kind] = kind == "pp" ? sprintf("%.1f GFLOP/s", field("gflops", $0)) : sprintf("%.2f GB/s", field("gbps", $0))
}
END {
    printf "\n## %s: %s\n\n", date, note
    printf "- **Predicted:** %s\n", predict
    printf "- **Command:** `make bench` = `hyc bench MODEL --random-weights %s -o json` for every bench/*.hyb (C backend, target %s, hyc %s, tree %s)\n", args, target, ver, rev
    printf "- **Machine:** %s; load average %s at the start, %s at the end (2 cores: anything else running skews the numbers)\n", cpu, load0, load1
    printf "- **Ceilings** (hyc bench --ceilings):\n\n%s\n\n", ceil
    printf "| model | params | threads | prefill t/s | decode t/s | prefill GFLOP/s (FMA roofline) | decode GB/s (BW roofline) | llama.cpp pp512 / tg | ours / llama.cpp pp, tg |\n"
    printf "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    for (i = 1; i <= n; i++) {
        split(order[i], k, SUBSEP); m = k[1]; t = k[2]
        r = "n/a"; q = "n/a"
        if ((m, t, "pp") in ref) {
            r = ref[m, t, "pp"] " / " ref[m, t, "tg"]
            q = sprintf("%.2f, %.2f", val[m, t, "pp"] / ref[m, t, "pp"], val[m, t, "tg"] / ref[m, t, "tg"])
        }
        printf "| %s | %.1fM | %s | %s %s | %s %s | %s (%s) | %s (%s) | %s | %s |\n", m, params[m] / 1e6, t,
               name[m, t, "pp"], tps[m, t, "pp"], name[m, t, "tg"], tps[m, t, "tg"], rate[m, t, "pp"], roof[m, t, "pp"],
               rate[m, t, "tg"], roof[m, t, "tg"], r, q
    }
    printf "\n<details><summary>raw JSON (hyc bench -o json)</summary>\n\n```json\n"
    for (i = 1; i <= NR; i++) print lines[i]
    printf "```\n\n</details>\n"
}
AWK
echo "bench/run.sh: appended a section to $OUT" >&2
