"""How fast the DSL search goes and what it finds, in one process: states expanded per second of
search and tasks solved (pass@2 of the first two candidates), on a random sample of a training set.
One JSON line. For before/after comparisons of the search's speed (run both at once on two cores).

    python benchmarks/dsl_states.py [--dataset arc1/train] [--sample 100] [--seed 0] [--task-time 8]

A state is one program's images of every input; expanding it applies every transform of the library
to it (dsl.search.DslSearch.trace).
"""

import argparse
import json
import random
import time

import numpy as np

from arcforge.datasets import load_tasks
from arcforge.dsl.search import DslSearch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="arc1/train")
    ap.add_argument("--sample", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--task-time", type=float, default=8.0)
    args = ap.parse_args()
    tasks = random.Random(args.seed).sample(load_tasks(args.dataset), args.sample)
    search = DslSearch(time_limit=args.task_time)
    expanded = seconds = solved = 0
    by_depth: dict[int, list] = {}
    t0 = time.monotonic()
    for task in tasks:
        cands = search.solve(task.without_test_outputs(), time.monotonic() + args.task_time)
        for depth, _, n, secs in search.trace:
            expanded += n
            seconds += secs
            by_depth.setdefault(depth, [0, 0.0])
            by_depth[depth][0] += n
            by_depth[depth][1] += secs
        solved += all(any(np.array_equal(c.grid, ex.output) for c in cs[:2]) for cs, ex in zip(cands, task.test))
    print(json.dumps({
        "benchmark": "dsl_states", "dataset": args.dataset, "tasks": len(tasks), "seed": args.seed,
        "task_time_s": args.task_time, "tasks_solved": solved, "wall_s": round(time.monotonic() - t0, 1),
        "states_expanded": expanded, "states_per_s": round(expanded / max(seconds, 1e-9), 1),
        "per_depth": {d: {"states": n, "seconds": round(s, 1), "per_s": round(n / max(s, 1e-9), 1)}
                      for d, (n, s) in sorted(by_depth.items())},
    }))


if __name__ == "__main__":
    main()
