#!/usr/bin/env python3
"""Summarizes the strategy race: attune's and Kernel Tuner's per-run CSVs into a summary CSV and
a markdown report.

Score per (strategy, space, budget): the mean over seeds of best-found / optimum after B
evaluations (1.0 is the optimum; lower is better).

Usage: summarize.py OUT.csv OUT.md RUNS.csv... [--default ensemble] [--timings TIMINGS.csv]
"""
import argparse
import collections
import csv
import math
import statistics


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_csv")
    parser.add_argument("out_md")
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--default", default="ensemble")
    parser.add_argument("--timings")
    parser.add_argument("--title", default="")
    args = parser.parse_args()

    scores = collections.defaultdict(list)
    runs_seen = set()
    for path in args.runs:
        with open(path) as f:
            for row in csv.DictReader(f):
                key = (row["tool"], row["strategy"], row["space"], int(row["budget"]))
                # A seed run by two parts of a split race counts once.
                if key + (row["seed"],) in runs_seen:
                    continue
                runs_seen.add(key + (row["seed"],))
                scores[key].append(float(row["score"]))
    mean = {k: statistics.fmean(v) for k, v in scores.items()}
    seeds = {k: len(v) for k, v in scores.items()}
    spaces = sorted({k[2] for k in mean})
    budgets = sorted({k[3] for k in mean})
    strategies = sorted({(k[0], k[1]) for k in mean}, key=lambda s: (s[0] != "attune", s[1]))

    with open(args.out_csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["tool", "strategy", "space", "budget", "seeds", "score"])
        for (tool, strategy) in strategies:
            for space in spaces:
                for b in budgets:
                    k = (tool, strategy, space, b)
                    if k in mean:
                        w.writerow([tool, strategy, space, b, seeds[k], f"{mean[k]:.4f}"])

    def cell(tool, strategy, space, b):
        k = (tool, strategy, space, b)
        return f"{mean[k]:.3f}" if k in mean else "-"

    lines = []
    if args.title:
        lines += [args.title, ""]
    n_seeds = sorted(set(seeds.values()))
    lines.append(f"Score: mean over {'/'.join(map(str, n_seeds))} seeds of best found / optimum "
                 "after B evaluations (1.000 is the optimum, lower is better).")
    lines.append("")
    lines.append(f"### attune's default ({args.default}) against the best Kernel Tuner strategy")
    lines.append("")
    lines.append("| space | B | attune " + args.default + " | best attune | best Kernel Tuner | "
                 "Kernel Tuner random_sample | default wins |")
    lines.append("|---|---|---|---|---|---|---|")
    for space in spaces:
        for b in budgets:
            ours = mean.get(("attune", args.default, space, b))
            kt = [(mean[k], k[1]) for k in mean if k[0] == "kernel_tuner" and k[2] == space
                  and k[3] == b]
            at = [(mean[k], k[1]) for k in mean if k[0] == "attune" and k[2] == space
                  and k[3] == b]
            best_kt = min(kt) if kt else None
            best_at = min(at) if at else None
            rnd = mean.get(("kernel_tuner", "random_sample", space, b))
            wins = "-" if ours is None or best_kt is None else (
                "yes" if ours < best_kt[0] else ("tie" if ours == best_kt[0] else "no"))
            lines.append(
                f"| {space} | {b} | {ours:.3f} | {best_at[0]:.3f} ({best_at[1]}) | "
                + (f"{best_kt[0]:.3f} ({best_kt[1]})" if best_kt else "-") + " | "
                + (f"{rnd:.3f}" if rnd is not None else "-") + f" | {wins} |")
    for b in budgets:
        lines.append("")
        lines.append(f"### Every strategy at B = {b}")
        lines.append("")
        lines.append("| strategy | " + " | ".join(spaces) + " |")
        lines.append("|---|" + "---|" * len(spaces))
        for tool, strategy in strategies:
            name = ("attune " if tool == "attune" else "KT ") + strategy
            lines.append(f"| {name} | " + " | ".join(cell(tool, strategy, s, b) for s in spaces)
                         + " |")
    if args.timings:
        lines.append("")
        lines.append("### attune strategies' own time per proposal, 150 to 200 observations (ms)")
        lines.append("")
        timing = collections.defaultdict(dict)
        with open(args.timings) as f:
            for row in csv.DictReader(f):
                timing[row["strategy"]][row["space"]] = (
                    float(row["seconds_per_proposal_mean"]) * 1e3,
                    float(row["seconds_per_proposal_max"]) * 1e3)
        lines.append("| strategy | " + " | ".join(spaces) + " |")
        lines.append("|---|" + "---|" * len(spaces))
        for strategy in sorted(timing):
            lines.append(f"| {strategy} | " + " | ".join(
                "mean {:.2f}, max {:.1f}".format(*timing[strategy][s]) if s in timing[strategy]
                else "-" for s in spaces) + " |")
    with open(args.out_md, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
