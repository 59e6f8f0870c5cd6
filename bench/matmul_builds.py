#!/usr/bin/env python3
"""Compares bench_matmul across builds on a noisy machine: each build's
bench_matmul runs at 1 and 2 threads, five rounds interleaved, and the best
GFLOP/s of each shape is printed as a Markdown table (bench/RESULTS.md).

Usage: bench/matmul_builds.py NAME=BUILD_DIR...
  e.g. bench/matmul_builds.py old=/tmp/wt-old/build clang=build-clang gcc=build
"""
import collections
import subprocess
import sys

builds = dict(arg.split("=", 1) for arg in sys.argv[1:])
if not builds:
    sys.exit(__doc__)
best = collections.defaultdict(dict)
for _ in range(5):
    for name, tree in builds.items():
        for threads in (1, 2):
            run = subprocess.run([f"{tree}/bench/bench_matmul", str(threads)], check=True,
                                 capture_output=True, text=True)
            for line in run.stdout.splitlines()[2:]:
                shape, dtype, _ms, gflops = line.split()
                key = (threads, shape, dtype)
                best[key][name] = max(best[key].get(name, 0.0), float(gflops))
print("| M x K x N | dtype | threads | " + " | ".join(builds) + " |")
print("|---|---|---|" + "---|" * len(builds))
for threads, shape, dtype in sorted(best):
    row = best[(threads, shape, dtype)]
    print(f"| {shape} | {dtype} | {threads} | " + " | ".join(f"{row[n]:.1f}" for n in builds) + " |")
