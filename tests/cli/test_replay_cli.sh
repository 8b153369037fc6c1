#!/usr/bin/env bash
# `attune replay` end to end: the simulation banner, one line per evaluation, the JSON result,
# --start, --include-failed, and the exit codes of mistakes.
set -euo pipefail
attune="$1"
data="$2/recorded"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

out="$("$attune" replay --space "$data/coulomb3d_rtx2080ti_t4.json.gz" --budget 15 --seed 4 \
  --json "$tmp/r.json")"
grep -q "^REPLAY (simulation)" <<<"$out" || fail "no replay banner: $out"
grep -q "strategy ensemble" <<<"$out" || fail "the default strategy is not ensemble: $out"
[ "$(grep -cE '^ +[0-9]+ ' <<<"$out")" -eq 15 ] || fail "expected 15 evaluation lines: $out"
python3 - "$tmp/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["strategy"] == "ensemble" and r["seed"] == 4 and r["budget"] == 15, r
assert r["evaluations"] == 15 and len(r["trajectory"]) == 15, r
assert abs(r["optimum"] - 0.769696) < 1e-9, r["optimum"]
t = r["trajectory"]
assert all(a >= b for a, b in zip(t, t[1:])) and t[-1] >= r["optimum"], t
PY

# Known-good configurations come first: the optimum as the start gives a flat trajectory.
echo '[{"WORK_GROUP_SIZE_X": 32, "WORK_GROUP_SIZE_Y": 2, "INNER_UNROLL_FACTOR": 0,
  "Z_ITERATIONS": 16, "USE_CONSTANT_MEMORY": 0, "USE_SOA": 0, "VECTOR_SIZE": 1,
  "WORK_GROUP_SIZE_Z": 1}]' > "$tmp/start.json"
"$attune" replay --space "$data/coulomb3d_rtx2080ti_t4.json.gz" --strategy random --budget 3 \
  --start "$tmp/start.json" --json "$tmp/s.json" --quiet >/dev/null
python3 -c "import json,sys; t=json.load(open('$tmp/s.json'))['trajectory']; assert t==[0.769696]*3, t"

# Failed configurations are in the space only when asked for.
out="$("$attune" replay --space "$data/pnpoly_rtx3090.json.gz" --strategy brute_force --budget 2 \
  --include-failed --quiet)"
grep -q "4092 configurations (318 recorded as failed)" <<<"$out" || fail "include-failed: $out"

set +e
"$attune" replay --space "$tmp/none.json" >/dev/null 2>"$tmp/err"; code=$?
set -e
[ "$code" -eq 2 ] || fail "a missing file should exit 2, got $code"
grep -q "none.json" "$tmp/err" || fail "the error does not name the file: $(cat "$tmp/err")"
set +e
"$attune" replay --space "$data/pnpoly_rtx3090.json.gz" --strategy nope >/dev/null 2>"$tmp/err"
code=$?
set -e
[ "$code" -eq 2 ] || fail "an unknown strategy should exit 2, got $code"
echo '{"WORK_GROUP_SIZE_X": 7}' > "$tmp/bad.json"
set +e
"$attune" replay --space "$data/coulomb3d_rtx2080ti_t4.json.gz" --start "$tmp/bad.json" \
  >/dev/null 2>"$tmp/err"; code=$?
set -e
[ "$code" -eq 2 ] || fail "a bad --start file should exit 2, got $code"
grep -q "bad.json" "$tmp/err" || fail "the error does not name the start file"
echo "replay CLI: ok"
