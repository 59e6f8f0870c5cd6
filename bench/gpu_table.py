#!/usr/bin/env python3
"""The markdown table of scripts/bench_gpu.sh: ingot against Hugging Face per model and test.

Reads SCRATCH/SHAPE.ingot.json (`ingot bench --json`) and SCRATCH/SHAPE.hf.jsonl
(bench/hf_bench.py) for each shape; a missing or unreadable side shows as "failed". The
header names the card (nvidia-smi), the date, the commit ($COMMIT, else git) and the versions.

Usage: gpu_table.py SCRATCH REPETITIONS SHAPE..."""
import datetime
import json
import os
import subprocess
import sys

TESTS = ("pp512", "tg128")


def command_output(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def load(path, jsonl):
    """The results of one side by test name; {} when the file is missing or malformed."""
    try:
        with open(path) as f:
            rows = [json.loads(line) for line in f if line.strip()] if jsonl else json.load(f)
        return {r["test"]: r for r in rows}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def speed(r):
    return "%.1f ± %.1f" % (r["avg_ts"], r["stddev_ts"]) if r else "failed"


def gib(r):
    return "%.2f" % (r["peak_memory"] / 2**30) if r else "failed"


def main():
    scratch, reps, shapes = sys.argv[1], sys.argv[2], sys.argv[3:]
    card = (command_output("nvidia-smi", "--query-gpu=name", "--format=csv,noheader")
            .splitlines() or ["unknown card"])[0]
    commit = os.environ.get("COMMIT") or command_output("git", "rev-parse", "--short", "HEAD")
    rows, versions = [], "transformers ?"
    for shape in shapes:
        ingot = load(os.path.join(scratch, shape + ".ingot.json"), False)
        hf = load(os.path.join(scratch, shape + ".hf.jsonl"), True)
        for test in TESTS:
            a, b = ingot.get(test), hf.get(test)
            if b:
                versions = "transformers %s, torch %s" % (b["transformers"], b["torch"])
            ratio = "%.2f" % (a["avg_ts"] / b["avg_ts"]) if a and b else "-"
            rows.append("| %s bf16 | %s | %s | %s | %s | %s | %s |"
                        % (shape, test, speed(a), speed(b), ratio, gib(a), gib(b)))
    now = datetime.datetime.now(datetime.timezone.utc)
    print("Card: %s; date: %s UTC; commit %s; %s. Tokens/s, mean ± sd of %s repetitions after a "
          "warm-up; ratio = ingot / HF; peak GPU memory in GiB, weights included.\n"
          % (card, now.strftime("%Y-%m-%d %H:%M"), commit or "unknown", versions, reps))
    print("| model | test | ingot tok/s | HF tok/s | ratio | ingot peak GiB | HF peak GiB |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
