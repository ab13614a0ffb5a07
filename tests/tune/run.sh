#!/bin/sh
# tests/tune/run.sh — `make check`'s test of hyc tune and --tuning-db (fast:
# bench/tests/tiny.hyb, 67K parameters, 3 variants per kernel):
#   1. hyc tune writes a database of well-formed, sorted records for this
#      machine; a second run merges into it without duplicating keys;
#   2. hyc build --tuning-db: the same database gives byte-identical C; a
#      database whose best schedules are forced to win changes the C, and
#      the model still computes the same logits (hyc run --backend c,
#      rel L2 <= 1e-4 against the default build);
#   3. stale records (another hyc version) are reported and not applied:
#      the C is the default's;
#   4. a malformed line is an error with file:line and exit status 1;
#   5. hyc tune --report prints the table and writes the SVG;
#   6. Ctrl-C (SIGINT) during the search keeps what was measured (exit 130,
#      the database written);
#   7. usage errors exit 2.
# (and 1b: --logits last, the default, tunes the last-row LM head; all the full one)
set -u
HYC=${1:?usage: sh tests/tune/run.sh HYC CMP_LOGITS}
CMP=${2:?usage: sh tests/tune/run.sh HYC CMP_LOGITS}
TINY=bench/tests/tiny.hyb
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HYC_CACHE_DIR="$tmp/cache"
fail=0
bad() { echo "tests/tune/run.sh: FAIL: $*" >&2; fail=1; }
records() { grep -v '^#' "$1" | grep -c .; }

# 1. tune, then tune again into the same file
"$HYC" tune "$TINY" --budget 3 --threads 1 --db "$tmp/t.db" >"$tmp/tune.out" 2>&1 || bad "hyc tune failed: $(cat "$tmp/tune.out")"
[ -s "$tmp/t.db" ] || bad "no database written"
n1=$(records "$tmp/t.db")
[ "$n1" -ge 10 ] || bad "only $n1 records"
awk -F'\t' '!/^#/ && NF != 11 { exit 1 }' "$tmp/t.db" || bad "a record without 11 fields"
awk -F'\t' '!/^#/ && ($3 != 1 || ($7 != "default" && $7 != "best")) { exit 1 }' "$tmp/t.db" || bad "threads or kind wrong"
grep -q 'default' "$tmp/t.db" || bad "no default records"
# every key has its default; sorted (a rewrite of the same records is the same)
awk -F'\t' '!/^#/ { k = $1 FS $2 FS $3; if ($7 == "default") d[k] = 1; else b[k] = 1 } END { for (k in b) if (!d[k]) exit 1 }' "$tmp/t.db" ||
    bad "a best record without its default"
"$HYC" tune "$TINY" --budget 3 --threads 1 --db "$tmp/t.db" --kernels 'matmul*' >"$tmp/tune2.out" 2>&1 || bad "second hyc tune failed"
n2=$(records "$tmp/t.db")
[ "$n2" -le "$n1" ] && [ "$n2" -ge "$n1" ] || bad "merging changed the record count: $n1 -> $n2"
grep -q 'matmul_' "$tmp/tune2.out" || bad "--kernels matmul* tuned no matmul"
if grep -q 'rmsnorm_' "$tmp/tune2.out"; then bad "--kernels matmul* tuned an rmsnorm"; fi

# 1b. --logits: last (the default, as hyc bench) tunes the prefill's
# last-row LM head, all the full-T one (as hyc run and build)
grep -q '^last_row ' "$tmp/t.db" || bad "--logits last (default): no last_row kernel tuned"
"$HYC" tune "$TINY" --budget 1 --threads 1 --logits all --db "$tmp/all.db" >"$tmp/all.out" 2>&1 || bad "hyc tune --logits all failed"
if grep -q '^last_row ' "$tmp/all.db"; then bad "--logits all tuned a last_row kernel"; fi

# 2. replay; forced winners
"$HYC" build "$TINY" --emit c --no-weights -o "$tmp/plain.c" >/dev/null 2>&1 || bad "plain build failed"
"$HYC" build "$TINY" --emit c --no-weights --tuning-db "$tmp/t.db" --tuning-threads 1 -o "$tmp/a.c" >/dev/null 2>&1 || bad "build with the database failed"
"$HYC" build "$TINY" --emit c --no-weights --tuning-db "$tmp/t.db" --tuning-threads 1 -o "$tmp/b.c" >/dev/null 2>&1 || bad "second build failed"
cmp -s "$tmp/a.c" "$tmp/b.c" || bad "the same database gave different C"
awk -F'\t' 'BEGIN { OFS = FS } !/^#/ && $7 == "best" { $9 = "0.001"; $10 = "0.000" } { print }' "$tmp/t.db" >"$tmp/forced.db"
if grep -q 'best' "$tmp/forced.db"; then
    "$HYC" build "$TINY" --emit c --no-weights --tuning-db "$tmp/forced.db" --tuning-threads 1 -o "$tmp/f.c" >/dev/null 2>"$tmp/f.err" ||
        bad "forced build failed: $(cat "$tmp/f.err")"
    grep -q 'schedules\{0,1\} applied' "$tmp/f.err" || bad "the build does not say what it applied: $(cat "$tmp/f.err")"
    if cmp -s "$tmp/plain.c" "$tmp/f.c"; then bad "forced winners did not change the C"; fi
    "$HYC" run "$TINY" --random-weights --tokens 1,2,3,4,5,6,7 --prefill 4 --backend c --threads 1 \
        --logits-out "$tmp/l0.f32" >/dev/null 2>&1 || bad "run without the database failed"
    "$HYC" run "$TINY" --random-weights --tokens 1,2,3,4,5,6,7 --prefill 4 --backend c --threads 1 \
        --tuning-db "$tmp/forced.db" --logits-out "$tmp/l1.f32" >/dev/null 2>&1 || bad "run with the database failed"
    "$CMP" pair "$tmp/l0.f32" "$tmp/l1.f32" 128 "tuned vs default" >/dev/null || bad "tuned logits differ from the default's"
    "$HYC" bench "$TINY" --random-weights -p 8 -n 2 -t 1 -r 1 -o json --tuning-db "$tmp/forced.db" >/dev/null 2>"$tmp/bench.err" ||
        bad "bench --tuning-db failed: $(cat "$tmp/bench.err")"
else
    bad "tuning found no best schedule at all"
fi

# 3. stale records
sed 's/\t\([0-9][0-9.]*\)\t\(default\|best\)\t/\t0.0.0-old\t\2\t/' "$tmp/forced.db" >"$tmp/stale.db"
"$HYC" build "$TINY" --emit c --no-weights --tuning-db "$tmp/stale.db" --tuning-threads 1 -o "$tmp/s.c" >/dev/null 2>"$tmp/s.err" || bad "stale build failed"
grep -q 'of another machine or hyc version not applied' "$tmp/s.err" || bad "stale records not reported: $(cat "$tmp/s.err")"
cmp -s "$tmp/plain.c" "$tmp/s.c" || bad "stale records changed the C"

# 4. a malformed line
{ head -4 "$tmp/t.db"; printf 'matmul x\t1\ttwo\n'; } >"$tmp/broken.db"
"$HYC" build "$TINY" --emit c --no-weights --tuning-db "$tmp/broken.db" -o "$tmp/x.c" >/dev/null 2>"$tmp/x.err"
rc=$?
[ $rc = 1 ] || bad "a malformed database: exit $rc, not 1"
grep -q "broken.db:5:1: error: a tuning record has 11 tab-separated fields, this line has 3" "$tmp/x.err" ||
    bad "no line-numbered error: $(cat "$tmp/x.err")"
"$HYC" build "$TINY" --emit c --no-weights --tuning-db "$tmp/missing.db" -o "$tmp/x.c" >/dev/null 2>&1
[ $? = 1 ] || bad "a missing database is not an error"

# 5. the report
"$HYC" tune --report --db "$tmp/t.db" --threads 1 --svg "$tmp/r.svg" >"$tmp/report.md" 2>/dev/null || bad "--report failed"
grep -q '^| kernel | T | default us | tuned us | speed-up | applied | tuned schedule |' "$tmp/report.md" || bad "no report table"
[ "$(grep -c '^| matmul' "$tmp/report.md")" -ge 2 ] || bad "the report has no matmul rows"
grep -q '^<svg' "$tmp/r.svg" && grep -q '</svg>' "$tmp/r.svg" || bad "no SVG chart"

# 6. SIGINT after the first kernel (the harness of step 1, cached: straight
# to measuring; 54 keys leave time for the signal)
"$HYC" tune "$TINY" --budget 3 --threads 1 --db "$tmp/int.db" >"$tmp/int.out" 2>&1 &
pid=$!
i=0
while [ $i -lt 600 ] && ! grep -q '\[1/' "$tmp/int.out" 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
kill -INT $pid 2>/dev/null
wait $pid
rc=$?
if [ $rc = 130 ]; then
    grep -q 'interrupted: what was measured is kept' "$tmp/int.out" || bad "SIGINT: no message"
    [ "$(records "$tmp/int.db")" -ge 1 ] || bad "SIGINT: nothing kept"
elif [ $rc != 0 ]; then
    bad "SIGINT: exit $rc: $(tail -3 "$tmp/int.out")"
fi # 0: it finished before the signal came (a fast machine): nothing to check
sigint_note="exit $rc"

# 7. usage
for args in "--budget 0" "--budget 5x" "--threads 0" "--logits first" "--bogus"; do
    # shellcheck disable=SC2086
    "$HYC" tune "$TINY" $args >/dev/null 2>&1
    [ $? = 2 ] || bad "hyc tune $args: not exit 2"
done
"$HYC" tune >/dev/null 2>&1
[ $? = 2 ] || bad "hyc tune without MODEL: not exit 2"

if [ $fail = 0 ]; then echo "tests/tune/run.sh: all passed (SIGINT run: $sigint_note)"; fi
exit $fail
