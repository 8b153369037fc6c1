#!/usr/bin/env python3
"""Derives the small space-definition files in this folder from Kernel Tuner cache files.

Usage: extract_spaces.py <folder with the benchmark_hub cache files>

Each output keeps only what a search-space test needs: tune_params_keys, tune_params and the
sorted list of cache keys (the valid configurations), gzip-compressed.
"""
import gzip
import json
import os
import sys

SOURCES = {
    "convolution": ["convolution__A100-PCIE-40GB__benchmarkhub.json.gz",
                    "convolution__W6600__benchmarkhub.json.gz"],
    "dedispersion": ["dedispersion__A100-PCIE-40GB__benchmarkhub.json.gz"],
    "gemm": ["gemm__RTX_3090__benchmarkhub-legacy.json.gz"],
}


def main():
    src = sys.argv[1]
    out_dir = os.path.dirname(os.path.abspath(__file__))
    for space, files in SOURCES.items():
        derived = None
        for name in files:
            with gzip.open(os.path.join(src, name), "rt") as f:
                cache = json.load(f)
            this = {
                "source": name,
                "tune_params_keys": cache["tune_params_keys"],
                "tune_params": cache["tune_params"],
                "keys": sorted(cache["cache"].keys()),
            }
            if derived is None:
                derived = this
            elif (this["keys"], this["tune_params"]) != (derived["keys"], derived["tune_params"]):
                sys.exit(f"{name} defines a different space than {derived['source']}")
        data = json.dumps(derived, separators=(",", ":")).encode()
        # mtime=0 keeps the output byte-identical between runs.
        with open(os.path.join(out_dir, space + ".json.gz"), "wb") as f:
            f.write(gzip.compress(data, compresslevel=9, mtime=0))
        print(space, len(derived["keys"]), "keys")


if __name__ == "__main__":
    main()
