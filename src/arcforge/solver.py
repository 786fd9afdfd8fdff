"""The interface every solver implements: a task in, scored candidates per test input out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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


class Solver(Protocol):
    name: str

    def solve(self, task: Task, deadline: float) -> list[list[Candidate]]:
        """Candidates for each test input of `task` (whose test outputs are never given),
        best first. Must return by `deadline` (a time.monotonic() value) with what it has."""
        ...
