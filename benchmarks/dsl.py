"""Accuracy and speed of the DSL solver on one dataset: prints one JSON line.

    python benchmarks/dsl.py arc1/eval [--limit N | --sample N [--seed S]] [--workers K] [--task-time 8s] [--depth 2]
        [--out DIR]

`--sample N` draws N tasks at random (`random.Random(seed).sample` over the dataset's order), for
quick measurements on part of a training set.

pass@2 is Kaggle's scoring (a task's score is the fraction of its test outputs matched by one of two
attempts). Peak memory is the largest resident set of this process and of any worker process.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from arcforge.datasets import load_tasks
from arcforge.errors import parse_duration
from arcforge.pipeline import RESULTS, SolveConfig, run_solve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--sample", type=int, help="a random sample of N tasks")
    ap.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    ap.add_argument("--workers", type=int, default=0, help="default: one per core")
    ap.add_argument("--task-time", help="time a task may take (default: the DSL's own, 8 s)")
    ap.add_argument("--depth", type=int, default=3, choices=(1, 2, 3), help="the deepest program (default 3)")
    ap.add_argument("--out", help="run folder (default: a fresh temporary one)")
    args = ap.parse_args()

    cores = os.cpu_count() or 1
    workers = args.workers or cores
    tasks = load_tasks(args.dataset, limit=args.limit)
    if args.sample:
        tasks = random.Random(args.seed).sample(tasks, min(args.sample, len(tasks)))
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="dsl-bench-"))
    limit = parse_duration(args.task_time) if args.task_time else None
    cfg = SolveConfig(dataset=args.dataset, solvers=["dsl"], task_time_s=limit, dsl_depth=args.depth,
                      workers=workers)
    t0 = time.monotonic()
    summary = run_solve(tasks, cfg, out, progress=False)
    wall = time.monotonic() - t0
    secs = [json.loads(line)["seconds"]["total"] for line in open(out / RESULTS)]
    peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    pct = {f"p{q}": round(float(np.percentile(secs, q)), 2) for q in (50, 90, 99)} if secs else {}
    print(json.dumps({
        "benchmark": "dsl", "dataset": args.dataset, "tasks": len(tasks),
        **({"sample": args.sample, "seed": args.seed} if args.sample else {}),
        "pass@2": summary.get("score"), "tasks_solved": summary.get("tasks_solved"), "depth": args.depth,
        "wall_s": round(wall, 1), "cores": cores, "workers": workers, "peak_rss_mb": round(peak_kb / 1024, 1),
        "task_s": {**pct, "max": round(max(secs), 2) if secs else None, "mean": round(float(np.mean(secs)), 2)
                   if secs else None},
        "out": str(out),
    }))


if __name__ == "__main__":
    main()
