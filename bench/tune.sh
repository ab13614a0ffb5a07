#!/bin/sh
# bench/tune.sh — `make bench-tune`: does tuning pay end to end?  For every
# bench model: `hyc tune` with a time budget into a database of its own, then
# `hyc bench` of prefill and decode with the defaults and with
# --tuning-db, alternated (default, tuned, default, tuned) so that drift in
# the machine's load hits both; prints the table, the tuner's per-kernel
# report, and appends both to bench/results.md.
#
#   sh bench/tune.sh HYC [RESULTS.md]
#
# Environment: TUNE_BUDGET (default 5m), TUNE_THREADS (default 2: the
# threads tuned and benched), TUNE_MODELS (default bench/*.hyb), TUNE_ARGS
# (hyc bench's, default "-p 512 -n 64 -r 3"), TUNE_DIR (where the databases
# go, default bench/tuning: kept, so that a later run can replay them).
#
# "Never slower" is judged per test from the two rounds: the tuned build is
# slower only when its best round is below the default's worst round by
# more than the two standard deviations together (the noise of one round).
set -eu
HYC=${1:?usage: sh bench/tune.sh HYC [RESULTS.md]}
OUT=${2:-bench/results.md}
BUDGET=${TUNE_BUDGET:-5m}
THREADS=${TUNE_THREADS:-2}
MODELS=${TUNE_MODELS:-$(ls bench/*.hyb)}
ARGS=${TUNE_ARGS:--p 512 -n 64 -r 3}
DIR=${TUNE_DIR:-bench/tuning}
mkdir -p "$DIR"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

date_utc=$(date -u '+%Y-%m-%d %H:%M UTC')
load0=$(cut -d' ' -f1-3 /proc/loadavg)
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
: >"$TMP/bench.json"
: >"$TMP/tune.txt"
for m in $MODELS; do
    name=$(basename "$m" .hyb)
    db="$DIR/$name.db"
    echo "== $HYC tune $m --budget $BUDGET --threads $THREADS --db $db" >&2
    start=$(date +%s)
    "$HYC" tune "$m" --random-weights --budget "$BUDGET" --threads "$THREADS" --db "$db" >"$TMP/$name.tune" 2>&1 </dev/null
    secs=$(($(date +%s) - start))
    {
        echo "### $name: hyc tune --budget $BUDGET --threads $THREADS ($secs s wall)"
        echo
        echo '```'
        tail -n 3 "$TMP/$name.tune"
        "$HYC" tune --report --db "$db" --threads "$THREADS" --svg "$DIR/$name.svg"
        echo '```'
        echo
    } >>"$TMP/tune.txt"
    for round in 1 2; do
        for mode in default tuned; do
            extra=""
            [ "$mode" = tuned ] && extra="--tuning-db $db"
            echo "== round $round, $mode: $HYC bench $m --random-weights $ARGS -t $THREADS $extra" >&2
            "$HYC" bench "$m" --random-weights $ARGS -t "$THREADS" $extra -o json |
                sed "s/^{/{\"mode\": \"$mode\", \"round\": $round, /" >>"$TMP/bench.json"
        done
    done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

awk -v date="$date_utc" -v rev="$rev" -v dir="$DIR" -v budget="$BUDGET" -v threads="$THREADS" -v args="$ARGS" \
    -v load0="$load0" -v load1="$load1" -f "$(dirname "$0")/json_field.awk" -f /dev/stdin "$TMP/bench.json" >"$TMP/table.md" <<'AWK'
{
    m = field("model", $0); test = field("test", $0); mode = field("mode", $0)
    v = field("tokens_per_s", $0) + 0; sd = field("tokens_per_s_std", $0) + 0
    k = m SUBSEP test
    if (!(k in seen)) { seen[k] = 1; order[++n] = k }
    if (!((k, mode, "hi") in x) || v > x[k, mode, "hi"]) x[k, mode, "hi"] = v
    if (!((k, mode, "lo") in x) || v < x[k, mode, "lo"]) x[k, mode, "lo"] = v
    if (sd > x[k, mode, "sd"]) x[k, mode, "sd"] = sd
    x[k, mode, "sum"] += v; x[k, mode, "n"]++
}
END {
    printf "\n## %s: tuned vs default end to end (make bench-tune)\n\n", date
    printf "- **Command:** `make bench-tune` = per model `hyc tune MODEL --random-weights --budget %s --threads %s --db %s/MODEL.db`, then `hyc bench MODEL --random-weights %s -t %s [--tuning-db %s/MODEL.db] -o json` twice each, alternated (tree %s)\n", budget, threads, dir, args, threads, dir, rev
    printf "- **Machine load:** %s at the start, %s at the end\n\n", load0, load1
    printf "| model | test | default t/s (2 rounds) | tuned t/s (2 rounds) | tuned / default | slower beyond noise? |\n"
    printf "| --- | --- | ---: | ---: | ---: | --- |\n"
    for (i = 1; i <= n; i++) {
        k = order[i]; split(k, p, SUBSEP)
        d = x[k, "default", "sum"] / x[k, "default", "n"]; t = x[k, "tuned", "sum"] / x[k, "tuned", "n"]
        slower = x[k, "tuned", "hi"] < x[k, "default", "lo"] - x[k, "default", "sd"] - x[k, "tuned", "sd"] ? "**yes**" : "no"
        printf "| %s | %s | %.1f-%.1f | %.1f-%.1f | %.3f | %s |\n", p[1], p[2], x[k, "default", "lo"], x[k, "default", "hi"],
               x[k, "tuned", "lo"], x[k, "tuned", "hi"], t / d, slower
    }
    printf "\n"
}
AWK
cat "$TMP/table.md"
{
    cat "$TMP/table.md"
    echo "<details><summary>hyc tune output and reports</summary>"
    echo
    cat "$TMP/tune.txt"
    echo "</details>"
} >>"$OUT"
echo "bench/tune.sh: appended to $OUT; databases and SVGs in $DIR" >&2
