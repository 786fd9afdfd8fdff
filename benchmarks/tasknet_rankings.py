"""How the tasknet's answers in a run folder rank: pass@2 by votes and by product of experts, and how
many test inputs have the right answer anywhere among them (the ceiling any ranking can reach).

    python benchmarks/tasknet_rankings.py RUN

Reads RUN/run.json (dataset, task ids) and RUN/prepared/tasknet; the dataset must have solutions (a
development split of a training set). One JSON line.
"""

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from arcforge.datasets import load_tasks
from arcforge.pipeline import run_meta
from arcforge.tasknet.config import TaskNetOptions
from arcforge.tasknet.solver import TaskNetSolver


def main(run: Path) -> None:
    meta = run_meta(run)
    tasks = load_tasks(meta["dataset"], tasks=meta["task_ids"])
    line = {"run": str(run), "tasks": len(tasks)}
    for rank in ("votes", "poe"):
        s = TaskNetSolver(replace(TaskNetOptions(), rank=rank, device="cpu"))
        s.load(run / "prepared" / "tasknet")
        top2 = anywhere = inputs = 0
        solved = 0
        for t in tasks:
            cands = s.solve(t.without_test_outputs(), time.monotonic() + 60)
            ok2 = [any(np.array_equal(c.grid, ex.output) for c in cs[:2]) for cs, ex in zip(cands, t.test)]
            top2 += sum(ok2) / len(t.test)
            solved += all(ok2)
            anywhere += sum(any(np.array_equal(c.grid, ex.output) for c in cs) for cs, ex in zip(cands, t.test))
            inputs += len(t.test)
        line[rank] = {"pass@2": round(top2 / len(tasks), 4), "tasks_solved": solved}
        line["right_answer_anywhere"] = f"{anywhere}/{inputs} test inputs"
    print(json.dumps(line))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
