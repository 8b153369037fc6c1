#!/usr/bin/env python3
"""The Kernel Tuner half of the strategy race.

Runs Kernel Tuner's strategies in its own simulation mode (kernel_tuner.tune_cache) on recorded
spaces, at each budget and seed, and writes one CSV row per (strategy, space, budget, seed) in the
same format as attune's half (bench/strategies/race.cpp). Each run seeds numpy and random with the
seed, asks for max_fevals=B, counts distinct evaluations, and holds the last best flat when a
strategy stops before B. The space is the set of configurations whose time is a number, which is
what tune_cache searches. A T4 file is converted to the Kernel Tuner cache it stands for.

Usage: kernel_tuner_race.py OUT.csv SPACE_FILE... [--seeds N] [--budgets 25,50,100,200]
                            [--strategies a,b,...] [--jobs J] [--first-seed S]
"""
import argparse
import concurrent.futures
import contextlib
import gzip
import io
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time

STRATEGIES = ["random_sample", "genetic_algorithm", "simulated_annealing", "dual_annealing", "pso",
              "diff_evo", "greedy_ils", "mls", "firefly_algorithm", "basinhopping", "bayes_opt"]


def space_name(path):
    name = os.path.basename(path)
    for ext in (".json.gz", ".json"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


MS_PER_UNIT = {"seconds": 1e3, "s": 1e3, "milliseconds": 1.0, "ms": 1.0, "microseconds": 1e-3,
               "us": 1e-3, "nanoseconds": 1e-6, "ns": 1e-6}


def kernel_tuner_cache_of_t4(doc):
    """A T4 results file as the Kernel Tuner cache it stands for, so tune_cache can replay it."""
    results = doc["results"]
    keys = list(results[0]["configuration"].keys())
    values = {k: sorted({r["configuration"][k] for r in results}) for k in keys}
    cache = {}
    for r in results:
        config = r["configuration"]
        entry = {k: config[k] for k in keys}
        time_ms = None
        if r.get("invalidity", "correct") == "correct":
            objective = (r.get("objectives") or [None])[0]
            for m in r.get("measurements", []):
                if objective is None or m.get("name") == objective:
                    time_ms = m["value"] * MS_PER_UNIT[m.get("unit", "").lower()]
                    break
        entry["time"] = time_ms if time_ms is not None else (
            "CompilationFailedConfig" if r.get("invalidity") == "compile" else "RuntimeFailedConfig")
        cache[",".join(str(config[k]) for k in keys)] = entry
    meta = doc.get("metadata", {})
    return {"device_name": meta.get("device", ""), "kernel_name": meta.get("kernel_name", "kernel"),
            "problem_size": [1], "tune_params_keys": keys, "tune_params": values,
            "objective": "time", "cache": cache}


def load(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rt") as f:
        doc = json.load(f)
    return doc if "cache" in doc else kernel_tuner_cache_of_t4(doc)


def plain_copy(doc, name, folder):
    """tune_cache reads plain JSON only and rewrites the file it is given: hand it a copy."""
    out = os.path.join(folder, name + ".json")
    with open(out, "w") as f:
        json.dump(doc, f)
    return out


def run_one(job):
    import numpy as np
    import kernel_tuner

    cache_file, name, keys, optimum, strategy, budget, seed = job
    np.random.seed(seed)
    random.seed(seed)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        results, _ = kernel_tuner.tune_cache(cache_file, strategy=strategy,
                                             strategy_options={"max_fevals": budget},
                                             verbose=False, quiet=True)
    elapsed = time.perf_counter() - start
    seen = set()
    best = math.inf
    for r in results:
        key = ",".join(str(r[k]) for k in keys)
        if key in seen:
            continue
        if len(seen) == budget:
            break
        seen.add(key)
        t = r.get("time")
        if isinstance(t, (int, float)) and math.isfinite(t):
            best = min(best, t)
    return (f"kernel_tuner,{strategy},{name},{budget},{seed},{best},{optimum},{best / optimum},"
            f"{len(seen)}\n", elapsed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("spaces", nargs="+")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="run seeds first-seed .. first-seed+seeds-1 (to split a race)")
    parser.add_argument("--budgets", default="25,50,100,200")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    strategies = args.strategies.split(",")

    folder = tempfile.mkdtemp(prefix="attune-kt-race-")
    jobs = []
    for path in args.spaces:
        doc = load(path)
        times = [e["time"] for e in doc["cache"].values() if isinstance(e.get("time"), (int, float))]
        optimum = min(times)
        cache_file = plain_copy(doc, space_name(path), folder)
        for strategy in strategies:
            for budget in budgets:
                for seed in range(args.first_seed, args.first_seed + args.seeds):
                    jobs.append((cache_file, space_name(path), doc["tune_params_keys"], optimum,
                                 strategy, budget, seed))
    # Seed by seed, so that a race cut short still holds every strategy, space and budget.
    jobs.sort(key=lambda j: j[6])
    done = 0
    with open(args.out, "w") as out, concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
        out.write("tool,strategy,space,budget,seed,best_ms,optimum_ms,score,evaluations\n")
        for row, elapsed in pool.map(run_one, jobs, chunksize=1):
            out.write(row)
            out.flush()
            done += 1
            if done % 100 == 0 or done == len(jobs):
                print(f"kernel_tuner race: {done}/{len(jobs)} runs", file=sys.stderr)
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
