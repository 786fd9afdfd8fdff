"""The `tasknet` solver: a small transformer that learns every task of the run into its weights.

    arcforge solve arc1/eval --solver dsl,tasknet --budget 20m --out runs/tn

`prepare` trains one model, once for the whole run, on every pair of the training sets plus the
demonstration pairs of the run's own tasks (never their test outputs), each task known to the model
by a learned embedding per view; it gets the run's budget less what inference needs (or
`train_time_s` when the run has none) and checkpoints into the run folder, so a killed run goes on
where it stopped. `solve` writes each test input's output under every view of its task, maps the
answers back and votes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from arcforge.errors import ArcError
from arcforge.solver import Candidate, Solver
from arcforge.task import Task
from arcforge.tasknet.config import TaskNetOptions


def training_tasks(names: list[str], seed: int = 0) -> list[Task]:
    """The tasks of the named sets, and of "gen:ID:N" entries N generated tasks of ID's family."""
    from dataclasses import replace

    import numpy as np

    from arcforge.datasets import load_tasks
    from arcforge.generators import generate_task

    tasks = []
    for name in names:
        if name.startswith("gen:"):
            _, family, n = name.split(":")
            rng = np.random.default_rng([seed, int.from_bytes(family.encode()[:8], "little")])
            tasks += [replace(generate_task(family, rng), id=f"gen-{family}-{k}") for k in range(int(n))]
        else:
            tasks += load_tasks(name)
    return tasks


def leak_free(training: list[Task], run: list[Task]) -> list[Task]:
    """Training tasks that cannot hand the model a run task's answer: none with a run task's id or
    content, and none holding a run task's test input as one of its grids."""
    ids = {t.id for t in run}
    hashes = {t.content_hash() for t in run}
    test_inputs = {ex.input.tobytes() + bytes(ex.input.shape) for t in run for ex in t.test}
    keep = []
    for t in training:
        grids = [g for ex in (*t.train, *t.test) for g in (ex.input, ex.output) if g is not None]
        if t.id in ids or t.content_hash() in hashes or any(g.tobytes() + bytes(g.shape) in test_inputs for g in grids):
            continue
        keep.append(t)
    return keep


class TaskNetSolver(Solver):
    name = "tasknet"
    resource = "model"

    def __init__(self, opts: TaskNetOptions | None = None):
        self.opts = opts or TaskNetOptions()
        self.task_time_s = self.opts.task_time_s
        self.device = torch.device(self.opts.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model, self.index = None, {}
        self.timings: dict[str, float] = {}

    def prepare(self, tasks: list[Task], deadline: float | None, folder: Path) -> None:
        from arcforge.tasknet.train import FitConfig, fit

        if (folder / "done.json").is_file():
            return  # trained by an earlier run of this folder
        run_ids = {t.id for t in tasks}
        training = leak_free(training_tasks(self.opts.data), tasks)
        hidden = [t.without_test_outputs() for t in tasks]  # belt and braces: demonstrations only
        cfg = FitConfig(preset=self.opts.preset, views=self.opts.views, lr=self.opts.lr,
                        batch_tokens=self.opts.batch_tokens, steps=self.opts.steps,
                        device=str(self.device))
        now = time.monotonic()
        train_deadline = now + self.opts.train_time_s if deadline is None else now + self.opts.train_share * (
            deadline - now)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "log.jsonl", "a") as log:
            def write(rec: dict) -> None:
                log.write(json.dumps(rec) + "\n")
                log.flush()

            fit([*training, *hidden], run_ids, cfg, folder, None if self.opts.steps else train_deadline, write)

    def load(self, folder: Path) -> None:
        from arcforge.tasknet.train import load

        if not (folder / "checkpoint.pt").is_file():
            raise ArcError(f"{folder}: no trained tasknet model (its preparation did not run)")
        self.model, ck = load(folder, self.device)
        self.views = ck["fit"]["views"]
        self.index = {tid: i for i, tid in enumerate(ck["tasks"])}

    def solve(self, task: Task, deadline: float) -> list[list[Candidate]]:
        from arcforge.llm.text import decode_grid
        from arcforge.tasknet.data import task_views
        from arcforge.tasknet.decode import greedy, vote

        out: list[list[Candidate]] = [[] for _ in task.test]
        if self.model is None or task.id not in self.index:
            return out  # a task the model was not trained on
        t0 = time.monotonic()
        views = task_views(task, self.views)
        base = self.index[task.id] * self.views
        for i, ex in enumerate(task.test):
            if time.monotonic() > deadline:
                break
            written = greedy(self.model, [v.apply_grid(ex.input) for v in views], [base + j for j in range(len(views))])
            answers = []
            for v, (tokens, logp) in zip(views, written):
                grid = decode_grid(tokens)
                answers.append((None if grid is None else v.invert(grid), logp))
            out[i] = [Candidate(g, votes + 1e-3 * lp, "tasknet:vote") for g, votes, lp in vote(answers)]
        self.timings = {"decode": time.monotonic() - t0}
        return out

    def stages(self) -> dict[str, float]:
        return self.timings
