"""Kaggle submissions ({task_id: [{"attempt_1": grid, "attempt_2": grid}, ...]}) and pass@2 scoring."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from arcforge.datasets import load_json_file
from arcforge.errors import ArcError
from arcforge.grid import Grid, parse_grid, to_list
from arcforge.task import Task

EMPTY = np.zeros((1, 1), dtype=np.int8)  # what an attempt holds when nothing was found
ATTEMPTS = ("attempt_1", "attempt_2")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that a crash leaves either the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def read_jsonl(path: Path, required: tuple[str, ...] = ()) -> list[dict]:
    """The records of a file written one JSON line at a time. A torn line (the writer was killed
    mid-write), or one lacking a `required` key, is dropped and the file rewritten without it, so
    appending goes on cleanly."""
    path = Path(path)
    if not path.exists():
        return []
    records, good, torn = [], [], False
    with open(path) as f:
        for line in f:
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict) or any(k not in rec for k in required):
                    raise KeyError
            except (json.JSONDecodeError, KeyError):
                torn = True
                continue
            records.append(rec)
            good.append(line if line.endswith("\n") else line + "\n")
    if torn:
        atomic_write_text(path, "".join(good))
    return records


def submission_entry(attempts: list[Grid]) -> dict:
    grids = list(attempts[:2]) + [EMPTY] * (2 - len(attempts[:2]))
    return {name: to_list(g) for name, g in zip(ATTEMPTS, grids)}


def build_submission(tasks: list[Task], attempts: dict[str, list[list[Grid]]]) -> dict:
    """Every task present, one entry per test input, even where nothing was found."""
    sub = {}
    for t in tasks:
        per_test = attempts.get(t.id, [])
        sub[t.id] = [submission_entry(per_test[i] if i < len(per_test) else []) for i in range(len(t.test))]
    return sub


def write_submission(path: Path, sub: dict) -> None:
    atomic_write_text(Path(path), json.dumps(sub, separators=(",", ":")))


def read_submission(path: Path) -> dict[str, list[list[Grid]]]:
    """Parse and validate a submission; returns {task_id: [[attempt grids] per test input]}."""
    raw = load_json_file(Path(path))
    if not isinstance(raw, dict):
        raise ArcError(f"{path}: a submission must be an object of task ids, got {type(raw).__name__}")
    out = {}
    for tid, entries in raw.items():
        if not isinstance(entries, list):
            raise ArcError(f"{path}: task '{tid}' must map to a list (one entry per test input)")
        per_test = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise ArcError(f"{path}: task '{tid}' [{i}] must be an object with attempt_1/attempt_2")
            unknown = set(entry) - set(ATTEMPTS)
            if unknown:
                raise ArcError(f"{path}: task '{tid}' [{i}] has unknown key '{sorted(unknown)[0]}'")
            missing = [k for k in ATTEMPTS if k not in entry]
            if missing:  # Kaggle's format: both attempts for every test input
                raise ArcError(f"{path}: task '{tid}' [{i}] has no {missing[0]}")
            per_test.append([parse_grid(entry[k], f"{path}: task '{tid}' [{i}].{k}") for k in ATTEMPTS])
        out[tid] = per_test
    return out


@dataclass
class Score:
    per_task: dict[str, float]  # fraction of the task's test inputs solved

    @property
    def total(self) -> float:
        return sum(self.per_task.values()) / len(self.per_task) if self.per_task else 0.0

    @property
    def tasks_solved(self) -> int:
        return sum(v == 1.0 for v in self.per_task.values())


def is_correct(attempts: list[Grid], truth: Grid) -> bool:
    return any(a.shape == truth.shape and np.array_equal(a, truth) for a in attempts[:2])


def score_attempts(attempts: dict[str, list[list[Grid]]], tasks: list[Task], source: str = "submission") -> Score:
    """Kaggle pass@2: per task the fraction of test inputs solved by either attempt; total = mean over tasks.
    A task missing from the submission scores 0."""
    per_task = {}
    for t in tasks:
        if not t.has_solutions:
            raise ArcError(f"task '{t.id}' has no known solutions to score against")
        got = attempts.get(t.id, [])
        if t.id in attempts and len(got) != len(t.test):
            raise ArcError(f"{source}: task '{t.id}' has {len(got)} entries, the task has {len(t.test)} test inputs")
        solved = sum(is_correct(got[i], ex.output) for i, ex in enumerate(t.test) if i < len(got))
        per_task[t.id] = solved / len(t.test)
    return Score(per_task)
