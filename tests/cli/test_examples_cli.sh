#!/usr/bin/env bash
# Every example spec tuned end to end, at a reduced size and budget: compiled, verified against
# its reference, timed, and reported. The JSON report must show every measurement verified (ok),
# the best and the default measured again, and the pipeline's telemetry (timings themselves are
# not compared: tests run beside each other, and an OpenMP kernel's time swings with load). Then the
# same C++ run again resumes from the database: nothing is compiled or measured twice.
set -u
attune="$1"
examples="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
export ATTUNE_DB="$tmp/tuning.db"
export XDG_CACHE_HOME="$tmp/cache"  # the JIT's compiled kernels
export POCL_KERNEL_CACHE=0

check_report() {  # check_report NAME REPORT BUDGET
  python3 - "$1" "$2" "$3" <<'PY' || failures=$((failures + 1))
import json, sys
name, path, budget = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = json.load(open(path))
statuses = [m["status"] for m in r["measurements"]]
problems = []
if len(statuses) != budget:
    problems.append(f"{len(statuses)} measurements, want {budget}")
bad = [(m["config"], m["status"], m.get("message", "")[:200]) for m in r["measurements"] if m["status"] != "ok"]
if bad:
    problems.append(f"not ok: {bad}")
if r["best"]["status"] != "ok" or r["default"]["status"] != "ok":
    problems.append("best or default not ok")
elif min(m["median_ms"] for m in r["measurements"]) <= 0:
    problems.append("a measurement of zero time")
if "pipeline" not in r or r["pipeline"]["build_s"] <= 0:
    problems.append("no pipeline telemetry")
if problems:
    print(f"FAIL: {name}: " + "; ".join(problems))
    sys.exit(1)
print(f"ok: {name}: {budget} configurations verified and timed, best {r['best']['median_ms']:.3f} ms, default {r['default']['median_ms']:.3f} ms")
PY
}

tune() {  # tune NAME BUDGET ARGS...
  local name="$1" budget="$2"
  shift 2
  if ! "$attune" tune "$@" --budget "$budget" --measure-time 0.1 --compare-rounds 2 \
      --json "$tmp/$name.json" >"$tmp/$name.out" 2>&1; then
    echo "FAIL: attune tune $* exited $?:"
    sed 's/^/  | /' "$tmp/$name.out"
    failures=$((failures + 1))
    return
  fi
  check_report "$name" "$tmp/$name.json" "$budget"
}

tune cpp_stencil 8 "$examples/cpp_stencil.toml" --set nx=256 --set ny=192 --seed 3
if clinfo -l 2>/dev/null | grep -q Device; then
  tune opencl_sgemm 6 "$examples/opencl_sgemm.toml" --set m=128 --set n=64 --set k=96 --seed 3
  tune opencl_conv2d 6 "$examples/opencl_conv2d.toml" --set w=256 --set h=128 --seed 3
else
  echo "skip: no OpenCL device (install pocl-opencl-icd to run the OpenCL examples on the CPU)"
fi

# The same command again: the run is complete in the database, so it is resumed as finished and
# nothing is compiled again (the JIT's cache holds every configuration).
before=$(find "$tmp/cache" -name '*.so' | wc -l)
"$attune" tune "$examples/cpp_stencil.toml" --set nx=256 --set ny=192 --seed 3 --budget 8 \
  --measure-time 0.1 --compare-rounds 2 >"$tmp/again.out" 2>&1
after=$(find "$tmp/cache" -name '*.so' | wc -l)
if grep -q "resuming the run stored in" "$tmp/again.out" && [ "$before" -eq "$after" ]; then
  echo "ok: a second run resumes from the database and compiles nothing ($after kernels cached)"
else
  echo "FAIL: second run (kernels cached before $before, after $after):"
  sed 's/^/  | /' "$tmp/again.out"
  failures=$((failures + 1))
fi

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
