"""What selection rules would change in finished runs: their candidates (as the runs kept them) go
through `select` with only the named rules, on datasets with known answers. One JSON line per run:
per rule, wrong candidates removed and right ones lost (a candidate counts for the first rule that
removes it), and pass@2 before and after.

    python benchmarks/rules_on_runs.py RUN [RUN ...] --rules recolour_only,objects_moved
    python benchmarks/rules_on_runs.py RUN --rules ... --tasknet   # the tasknet's own, unfiltered answers

A run's results.jsonl keeps the candidates that passed the rules it ran with; --tasknet instead takes
every answer of the tasknet (RUN/prepared/tasknet, ranked as the solver ranks them) before any rule.

Use it on development runs of the training sets, never to choose rules on an evaluation set.
"""

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from arcforge import select as S
from arcforge.datasets import load_tasks
from arcforge.pipeline import read_results, run_meta
from arcforge.solver import Candidate


def tasknet_of(run: Path):
    """The run's trained tasknet, as `solve` loads it (its answers and scores, ranked as it ranks them)."""
    from arcforge.tasknet.config import TaskNetOptions
    from arcforge.tasknet.solver import TaskNetSolver

    solver = TaskNetSolver(TaskNetOptions(device="cpu"))
    solver.load(run / "prepared" / "tasknet")
    return solver


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--rules", required=True, help="comma-separated rule names (select.RULES)")
    ap.add_argument("--tasknet", action="store_true", help="the tasknet's answers in RUN/prepared/tasknet, unfiltered")
    args = ap.parse_args()
    rules = [getattr(S, n) for n in args.rules.split(",")]
    for run in map(Path, args.runs):
        meta, recs = run_meta(run), read_results(run / "results.jsonl")
        tasks = {t.id: t for t in load_tasks(meta["dataset"], tasks=list(recs))}
        tasknet = tasknet_of(run) if args.tasknet else None
        removed, lost = Counter(), Counter()
        before = after = 0.0
        for tid, rec in recs.items():
            task = tasks[tid]
            if tasknet is not None:
                cands = tasknet.solve(task.without_test_outputs(), float("inf"))
            else:
                cands = [[Candidate.from_json(c) for c in cs] for cs in rec["candidates"]]
            kept, report = S.select(task.without_test_outputs(), [cands], rules)
            right = lambda c, t: c.grid.shape == task.test[t].output.shape and np.array_equal(c.grid, task.test[t].output)  # noqa: E731
            for e in report:
                if "rule" in e and not e.get("restored"):
                    c = (cands[e["test"]][e["rank"]] if isinstance(e["rank"], int) else
                         next(c for c in cands[e["test"]] if c.source == e["source"]))
                    (lost if right(c, e["test"]) else removed)[e["rule"]] += 1
            top = lambda cs: sum(any(right(c, t) for c in cs[t][:2]) for t in range(len(task.test))) / len(task.test)  # noqa: E731
            before += top(cands)
            after += top(kept)
        n = len(recs)
        print(json.dumps({"run": str(run), "dataset": meta["dataset"], "tasks": n,
                          "removed_wrong": dict(removed), "lost_right": dict(lost),
                          "pass@2_before": round(before / n, 4), "pass@2_after": round(after / n, 4)}))


if __name__ == "__main__":
    main()
