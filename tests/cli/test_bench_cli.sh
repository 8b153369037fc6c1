#!/usr/bin/env bash
# `attune bench gemm` as a smoke test: tiny shapes, a tiny tuning budget, one round; peers are
# measured when installed and reported as missing otherwise. Checks the table, the JSON report's
# fields and values, and exit code 2 for bad input. Timings themselves are not judged here.
set -u
attune="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ATTUNE_DB="$tmp/tuning.db"
failures=0

source "$(dirname "$0")/lib.sh"

expect 0 "--shapes" -- bench gemm --help
expect 2 "not MxNxK" -- bench gemm --shapes 8x8
expect 2 "not a positive integer" -- bench gemm --shapes 8x0x8
expect 2 "--threads 4096 exceeds" -- bench gemm --shapes 8x8x8 --threads 4096
expect 2 "unknown strategy" -- bench gemm --shapes 8x8x8 --strategy nope
expect 2 "shapes: 8x8x8 is given twice" -- bench gemm --shapes 8x8x8,9x9x9,8x8x8
expect 2 "threads: 1 is given twice" -- bench gemm --shapes 8x8x8 --threads 1,1
expect 2 "tune-time: '0' is not a positive number" -- bench gemm --shapes 8x8x8 --tune-time 0
expect 2 "cannot write the JSON report" -- bench gemm --shapes 8x8x8 --json /nonexistent/dir/x.json

expect 0 "ratio" -- bench gemm --shapes 8x8x8,33x17x5 --threads 1 --budget 3 --tune-time 2 \
  --rounds 2 --json "$tmp/bench.json"
cat "$tmp/out"
python3 - "$tmp/bench.json" <<'PY' || failures=$((failures + 1))
import json, sys
r = json.load(open(sys.argv[1]))
m = r["machine"]
assert m["cpu"] and m["threads"] == 1 and m["fma_peak_gflops"] > 0, m
rows = r["results"]
assert [(x["m"], x["n"], x["k"]) for x in rows] == [(8, 8, 8), (33, 17, 5)], rows
for x in rows:
    for key in ["threads", "attune_gflops", "attune_default_gflops", "openblas_gflops",
                "openblas_skylakex_gflops", "onednn_gflops", "best_peer_gflops",
                "ratio_to_best_peer", "attune_config"]:
        assert key in x, key
    assert x["threads"] == 1
    assert x["attune_gflops"] > 0 and x["attune_default_gflops"] > 0, x
    assert "MR=" in x["attune_config"], x
    assert x["rounds"] == 2, x  # --rounds 2: exactly two
    assert x["status"]["attune"] == "ok" and x["status"]["attune_default"] == "ok", x
    peers = [x[k] for k in ("openblas_gflops", "openblas_skylakex_gflops", "onednn_gflops")
             if x[k] is not None]
    if peers:
        assert abs(x["best_peer_gflops"] - max(peers)) < 1e-9, x
        assert abs(x["ratio_to_best_peer"] - x["attune_gflops"] / max(peers)) < 1e-9, x
        assert 0 < x["ratio_round_min"] <= x["ratio_round_max"], x
        # Every round weighs the same in each figure, so the ratio lies within its rounds' range.
        eps = 1e-9
        assert x["ratio_round_min"] - eps <= x["ratio_to_best_peer"] <= x["ratio_round_max"] + eps, x
    else:
        assert x["best_peer_gflops"] is None and x["ratio_to_best_peer"] is None, x
        assert x["ratio_round_min"] is None and x["ratio_round_max"] is None, x
    for name in ("openblas", "openblas_skylakex", "onednn"):
        s = x["status"][name]
        assert s == "ok" or s.startswith("missing"), (name, s)
print("ok: JSON report has every field")
PY

# Without --rounds: five rounds at least, and more, up to fifteen, while they fit 20 seconds; the
# footer and the JSON say how many, and every round counts once in each figure.
expect 0 "; [0-9]+ rounds" -- bench gemm --shapes 8x8x8 --threads 1 --budget 2 --tune-time 2 \
  --json "$tmp/rounds.json"
python3 - "$tmp/rounds.json" <<'PY' || failures=$((failures + 1))
import json, sys
x = json.load(open(sys.argv[1]))["results"][0]
assert 5 <= x["rounds"] <= 15, x
if x["ratio_round_min"] is not None:
    eps = 1e-9
    assert x["ratio_round_min"] - eps <= x["ratio_to_best_peer"] <= x["ratio_round_max"] + eps, x
print("ok: default rounds", x["rounds"])
PY

echo "$failures failed"
[ "$failures" -eq 0 ]
