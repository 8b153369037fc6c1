#!/usr/bin/env bash
# The strategy race: every attune strategy and Kernel Tuner 1.x's strategies on the same recorded
# spaces, budgets and seeds. Kernel Tuner is pip-installed into a virtual environment here (it is
# needed by this benchmark only, never by attune).
#
# Usage: bench/strategies/run.sh [SPACES_DIR] [OUT_DIR]
#   SPACES_DIR  recorded spaces (default ../shared/data/spaces beside the repository)
#   OUT_DIR     results (default build/race)
# Environment: BUILD_DIR (default build/release), SEEDS (20), BUDGETS (25,50,100,200),
#   JOBS (parallel Kernel Tuner runs, default nproc), VENV (default build/kernel-tuner-venv),
#   SKIP_KERNEL_TUNER=1 to run attune's half only.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
spaces_dir="${1:-$repo/../shared/data/spaces}"
out="${2:-$repo/build/race}"
build="${BUILD_DIR:-$repo/build/release}"
seeds="${SEEDS:-20}"
budgets="${BUDGETS:-25,50,100,200}"
jobs="${JOBS:-$(nproc)}"
venv="${VENV:-$repo/build/kernel-tuner-venv}"

shopt -s nullglob
spaces=("$spaces_dir"/*.json.gz "$spaces_dir"/*.json)
if [ ${#spaces[@]} -eq 0 ]; then
  echo "race: no recorded spaces (*.json, *.json.gz) in $spaces_dir" >&2
  exit 2
fi
mkdir -p "$out"

if [ ! -x "$build/bench/strategy_race" ]; then
  cmake --preset release >/dev/null
  cmake --build "$build" --target strategy_race
fi
echo "race: attune strategies on ${#spaces[@]} spaces, $seeds seeds" >&2
"$build/bench/strategy_race" "$out/attune.csv" "$out/attune_timings.csv" "${spaces[@]}" \
  --seeds "$seeds" --budgets "$budgets"

runs=("$out/attune.csv")
kt_version="not run"
if [ "${SKIP_KERNEL_TUNER:-0}" != 1 ]; then
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet "kernel_tuner>=1,<2"
  fi
  kt_version="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("kernel_tuner"))')"
  echo "race: Kernel Tuner $kt_version strategies, $jobs parallel runs" >&2
  "$venv/bin/python" "$repo/bench/strategies/kernel_tuner_race.py" "$out/kernel_tuner.csv" \
    "${spaces[@]}" --seeds "$seeds" --budgets "$budgets" --jobs "$jobs"
  runs+=("$out/kernel_tuner.csv")
fi

python3 "$repo/bench/strategies/summarize.py" "$out/race.csv" "$out/race.md" "${runs[@]}" \
  --timings "$out/attune_timings.csv" \
  --title "Strategy race, $(date -u +%Y-%m-%d), $(uname -m) $(nproc) CPUs, Kernel Tuner $kt_version"
echo "race: wrote $out/race.csv and $out/race.md" >&2
