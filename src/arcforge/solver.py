"""The contract between the scheduler (pipeline.py) and every solver: what it needs, how it is
prepared for a run, how it solves one task, and where its time went."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from arcforge.grid import Grid, to_list
from arcforge.task import Task


@dataclass(frozen=True, eq=False)
class Candidate:
    grid: Grid
    score: float  # higher is better; comparable only within one source
    source: str  # which solver (and program / view) made it

    def to_json(self) -> dict:
        return {"grid": to_list(self.grid), "score": round(float(self.score), 6), "source": self.source}

    @staticmethod
    def from_json(d: dict) -> Candidate:
        return Candidate(np.array(d["grid"], dtype=np.int8), float(d["score"]), d["source"])


class Solver:
    """A solver as the scheduler sees it. Subclasses set `name` and implement `solve`; the rest has
    defaults that suit a CPU search with nothing to prepare.

    Life of a solver in a run: it is built once in each worker process of its kind (`resource`);
    `prepare` runs once for the whole run, in one of those workers (in several together when the
    solver is `distributed`), before any task is solved; then every worker calls `load` and solves
    tasks one at a time with `solve`."""

    name: ClassVar[str] = ""
    # "cpu": runs in the pool of CPU worker processes (one per core by default);
    # "model": holds a model, runs in model workers (several per GPU, or one on a CPU)
    resource: ClassVar[str] = "cpu"
    # Run this solver only on tasks the CPU solvers leave without a candidate for some test input.
    only_unexplained: bool = False
    # Its own time limit per task (seconds) when the run sets none with --task-time; None: no limit.
    task_time_s: float | None = None
    # Prepare on several workers together: one per GPU (or each model worker on a CPU), joined in a
    # torch.distributed group before `prepare` is called (rank 0 is the first worker).
    distributed: ClassVar[bool] = False

    def prepare(self, tasks: list[Task], deadline: float | None, folder: Path) -> None:
        """Run-level work over every task still to solve (test outputs hidden), e.g. training on all
        their demonstrations; writes what `load` needs into `folder` (the run's own, so a resumed run
        finds it). `deadline` is a time.monotonic() value or None. Default: nothing to do."""

    def load(self, folder: Path) -> None:
        """Take up what `prepare` wrote (called in every worker, after `prepare` ran in one of them)."""

    def solve(self, task: Task, deadline: float) -> list[list[Candidate]]:
        """Candidates for each test input of `task` (whose test outputs are never given), best first.
        Must return by `deadline` (a time.monotonic() value) with what it has."""
        raise NotImplementedError

    def verify(self, task: Task, grids: list[list[Grid]], deadline: float) -> list[list[float] | None] | None:
        """The role-swap check (a selection stage, `solve --role-swap`): for each test input of `task`
        (test outputs hidden), one number per grid of `grids[i]` saying how well that grid as the
        answer agrees with the train pairs (higher is better; comparable within one test input), or
        None for an input it has no opinion on. None: this solver never judges (the default: a
        search that keeps only programs exact on the train pairs learns nothing from a swap)."""
        return None

    def stages(self) -> dict[str, float]:
        """Seconds per stage (e.g. ttt, decode, score) spent on the last task solved."""
        return {}
