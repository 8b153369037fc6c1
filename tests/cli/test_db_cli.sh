#!/usr/bin/env bash
# The tuning database through the command line: tune stores by default, a run killed with -9 and
# then re-run resumes and its --json lists the whole run in the order of an uninterrupted run,
# Ctrl-C exits 130 with the resume command, the db subcommands answer (in JSON too), imports and
# exports round-trip, and bad files are explained.
set -u
attune="$1"
data="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

small=(tune gemm --m 48 --n 40 --k 24 --strategy random --seed 7 --measure-time 0.02
       --compare-rounds 1 --quiet)

# Storing by default, in $ATTUNE_DB.
ATTUNE_DB="$tmp/env.db" "$attune" "${small[@]}" --budget 3 >/dev/null 2>&1 || fail "tune with ATTUNE_DB"
[ -s "$tmp/env.db" ] || fail "ATTUNE_DB was not used"

# Uninterrupted reference run, then the same run killed with -9 and resumed.
"$attune" "${small[@]}" --budget 16 --db "$tmp/ref.db" --json "$tmp/ref.json" >/dev/null 2>&1 ||
  fail "reference run"
"$attune" "${small[@]}" --budget 16 --db "$tmp/res.db" --measure-time 0.3 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  n=$("$attune" db list --db "$tmp/res.db" --json 2>/dev/null |
      python3 -c 'import json,sys; print(sum(k["measurements"] for k in json.load(sys.stdin)))' 2>/dev/null)
  [ "${n:-0}" -ge 3 ] && break
  sleep 0.1
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
"$attune" "${small[@]}" --budget 16 --db "$tmp/res.db" --json "$tmp/res.json" >"$tmp/out" 2>&1 ||
  fail "resumed run: $(cat "$tmp/out")"
python3 - "$tmp/ref.json" "$tmp/res.json" <<'PY' || fail "resumed run differs from the uninterrupted one"
import json, sys
ref, res = (json.load(open(f)) for f in sys.argv[1:3])
a = [m["config"] for m in ref["measurements"]]
b = [m["config"] for m in res["measurements"]]
assert len(a) == len(b) == 16, (len(a), len(b))
assert a == b, "configuration sequences differ"
print("ok: resumed run lists the whole run in the uninterrupted order")
PY

# Ctrl-C: finishes the measurement in flight, commits, says how to resume, exits 130.
"$attune" tune gemm --m 200 --n 200 --k 200 --budget 200 --measure-time 0.3 --db "$tmp/int.db" \
  --quiet >"$tmp/int.out" 2>&1 &
pid=$!
sleep 2
kill -INT "$pid"
wait "$pid"
code=$?
[ "$code" -eq 130 ] || fail "Ctrl-C exit code $code (want 130)"
grep -q "Resume with the same command" "$tmp/int.out" || fail "Ctrl-C did not say how to resume"
grep -q -- "--db $tmp/int.db" "$tmp/int.out" || fail "resume command lacks --db"

source "$(dirname "$0")/lib.sh"

expect 0 "m=48,n=40,k=24;f32" -- db list --db "$tmp/ref.db"
expect 0 '"measurements": 16' -- db list --db "$tmp/ref.db" --json
key=$("$attune" db list --db "$tmp/ref.db" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["key"][3:15])')
expect 0 "16 measurements" -- db show "$key" --db "$tmp/ref.db"
expect 0 '"rung": "exact"' -- db best --db "$tmp/ref.db" --m 48 --n 40 --k 24 --json
expect 0 "nearest_problem: tuned for m=48,n=40,k=24" -- db best --db "$tmp/ref.db" --m 50 --n 40 --k 24
expect 0 "default" -- db best --db "$tmp/ref.db" --m 48 --n 40 --k 24 --threads 1

# Import, export, and import of the export: the same configurations and times.
expect 0 "imported as key" -- db import --db "$tmp/x.db" "$data/recorded/pnpoly_rtx3090.json.gz"
expect 0 "0 of .* imported" -- db import --db "$tmp/x.db" "$data/recorded/pnpoly_rtx3090.json.gz"
pkey=$("$attune" db list --db "$tmp/x.db" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["key"][3:15])')
expect 0 "wrote" -- db export "$pkey" --db "$tmp/x.db" --format kt -o "$tmp/pnpoly.json.gz"
expect 0 "wrote" -- db export "$pkey" --db "$tmp/x.db" --format t4 -o "$tmp/pnpoly.t4.json"
expect 0 "imported as key" -- db import --db "$tmp/y.db" "$tmp/pnpoly.t4.json"
expect 0 '"keys": 2' -- db merge "$tmp/ref.db" "$tmp/x.db" "$tmp/ref.db" -o "$tmp/m.db" --anonymize --json

# Bad input: each a clear message naming the file, exit 2 (or 1 for I/O).
printf 'not a database at all, just text that is long enough to have a header.%.0s' {1..20} >"$tmp/bad.db"
expect 2 "bad.db' is not an SQLite database" -- db list --db "$tmp/bad.db"
expect 2 "pnpoly.*over|cap|MiB|bytes" -- db import --db "$tmp/x.db" --max-size 0.01 "$data/recorded/pnpoly_rtx3090.json.gz"
echo '{"cache": {}, "tune_params_keys": [], "tune_params": {}, "kernel_name": "attune.opencl.none/1"}' >"$tmp/unk.json"
expect 2 "attune.opencl.none/1.*does not have" -- db import --db "$tmp/x.db" "$tmp/unk.json"
expect 2 "does not exist" -- db list --db "$tmp/missing.db"
expect 2 "--format must be kt" -- db export "$pkey" --db "$tmp/x.db" --format csv

echo "$failures failed"
[ "$failures" -eq 0 ]
