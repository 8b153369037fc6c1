#!/usr/bin/env bash
# The command line as a user meets it: help, a real (small) tuning run with its JSON report, and
# the exit code 2 with a clear message for every kind of bad input.
set -u
attune="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

source "$(dirname "$0")/lib.sh"

expect 0 "tune" -- --help
expect 0 "--strategy" -- tune gemm --help
expect 0 "ensemble .*\(default\)" -- strategies
expect 2 "unknown|not expected|extra" -- tune gemm --bogus-flag
expect 2 "--m" -- tune gemm --m 0
expect 2 "--m" -- tune gemm --m abc
expect 2 "--time: '-1' is not a positive number" -- tune gemm --time -1
expect 2 "unknown strategy 'nope'.*brute_force, ensemble" -- tune gemm --strategy nope --budget 1
expect 2 "--threads 4096 exceeds" -- tune gemm --threads 4096 --budget 1
expect 2 "cannot write the JSON report" -- tune gemm --m 8 --n 8 --k 8 --budget 2 --quiet \
  --json /nonexistent/dir/out.json
expect 2 "requires|subcommand" -- tune

expect 0 "speedup" -- tune gemm --m 33 --n 47 --k 19 --budget 6 --seed 3 \
  --quiet --json "$tmp/r.json" --measure-time 0.05 --compare-rounds 2
grep -q " over 2 rounds, from " "$tmp/out" ||
  { echo "FAIL: the comparison does not say it took the median over 2 rounds"; failures=$((failures + 1)); }
python3 - "$tmp/r.json" <<'PY' || failures=$((failures + 1))
import json, sys
r = json.load(open(sys.argv[1]))
for key in ["kernel", "problem", "device", "strategy", "seed", "best", "default", "measurements"]:
    assert key in r, key
assert r["problem"]["m"] == 33 and r["problem"]["n"] == 47 and r["problem"]["k"] == 19
assert len(r["measurements"]) == 6, len(r["measurements"])
for m in r["measurements"]:
    assert m["status"] in ("ok", "invalid", "over_limits"), m
    assert isinstance(m["config"], dict) and "MR" in m["config"]
    if m["status"] == "ok":
        assert m["median_ms"] > 0 and len(m["samples_ms"]) >= 1
for which in ("best", "default"):
    assert r[which]["gflops"] > 0 and r[which]["median_ms"] > 0, r[which]
    # The comparison's figure is the median of its two rounds' medians: their mean.
    rounds = r[which]["round_medians_ms"]
    assert len(rounds) == 2 and abs(r[which]["median_ms"] - sum(rounds) / 2) < 1e-9, r[which]
print("ok: JSON report has every field")
PY

# A skinny N starts from the default, then from the kernel's own guess for the shape: A read in
# place in one K block (the AVX-512 candidates; elsewhere only the default is a candidate).
expect 0 "speedup" -- tune gemm --m 512 --n 64 --k 1024 --threads 1 --budget 2 --quiet --no-db \
  --json "$tmp/skinny.json" --measure-time 0.05 --compare-rounds 1
python3 - "$tmp/skinny.json" <<'PY' || failures=$((failures + 1))
import json, sys
r = json.load(open(sys.argv[1]))
first, second = (m["config"] for m in r["measurements"])
assert first == r["default"]["config"], (first, r["default"])
if not r["kernel"].endswith("/avx512"):
    print("ok: the default comes first (no AVX-512: no shape candidates)")
    sys.exit(0)
assert second["pack_a"] == 0 and second["pack_b"] == 0 and second["KC"] >= 1024, second
print("ok: the shape's candidate follows the default")
PY

# A shape tuned on one thread seeds the same shape on two: the stored decision, split over N and
# over M, is measured right after the default and the shape's candidates.
if [ "$(nproc)" -ge 2 ]; then
  expect 0 "speedup" -- tune gemm --m 96 --n 80 --k 72 --threads 1 --budget 4 --quiet --seed 5 \
    --db "$tmp/fewer.db" --json "$tmp/one.json" --measure-time 0.05 --compare-rounds 1
  # The one-thread decision, as the database holds it before the two-thread run adds its own.
  python3 - "$tmp/fewer.db" "$tmp/one_decision.json" <<'PY' || failures=$((failures + 1))
import json, sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("SELECT config FROM decisions").fetchall()
assert len(rows) == 1, rows
open(sys.argv[2], "w").write(rows[0][0])
PY
  expect 0 "this shape's 1 stored decision on fewer threads, split over N and over M" -- \
    tune gemm --m 96 --n 80 --k 72 --threads 2 --budget 30 --seed 5 --db "$tmp/fewer.db" \
    --json "$tmp/two.json" --measure-time 0.05 --compare-rounds 1
  python3 - "$tmp/one_decision.json" "$tmp/two.json" <<'PY' || failures=$((failures + 1))
import json, sys
one = json.load(open(sys.argv[1]))
measured = [m["config"] for m in json.load(open(sys.argv[2]))["measurements"]]
spread = [m for m in measured if m["threads"] == 2 and
          all(m[k] == v for k, v in one.items() if k not in ("threads", "loop"))]
assert sorted(m["loop"] for m in spread) == ["ic", "jc"], (one, spread)
print("ok: the one-thread decision, split over N and over M, was measured on two threads")
PY
fi

echo "$failures failed"
[ "$failures" -eq 0 ]
