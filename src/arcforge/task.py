"""Tasks: an id, train examples (input and output) and test examples (output known or not)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from arcforge.errors import ArcError
from arcforge.grid import Grid, grid_key, parse_grid, to_list


@dataclass(frozen=True, eq=False)
class Example:
    input: Grid
    output: Grid | None = None


@dataclass(frozen=True, eq=False)
class Task:
    id: str
    train: tuple[Example, ...]
    test: tuple[Example, ...]

    @property
    def has_solutions(self) -> bool:
        return all(ex.output is not None for ex in self.test)

    def without_test_outputs(self) -> Task:
        """The task as a solver may see it: test outputs removed."""
        return replace(self, test=tuple(Example(ex.input) for ex in self.test))

    def with_test_outputs(self, outputs: list[Grid]) -> Task:
        if len(outputs) != len(self.test):
            raise ArcError(f"task '{self.id}' has {len(self.test)} test inputs but {len(outputs)} solutions")
        return replace(self, test=tuple(Example(ex.input, out) for ex, out in zip(self.test, outputs)))

    def content_hash(self) -> str:
        """Hash of what defines the task (train pairs and test inputs), independent of its id
        and of the order of its examples."""
        h = hashlib.sha256()
        for key in sorted(b"I" + grid_key(ex.input) + b"O" + grid_key(ex.output) for ex in self.train):
            h.update(key)
        for key in sorted(b"T" + grid_key(ex.input) for ex in self.test):
            h.update(key)
        return h.hexdigest()[:16]

    def to_json(self, with_test_outputs: bool = True) -> dict:
        def ex_json(ex: Example, out: bool) -> dict:
            d = {"input": to_list(ex.input)}
            if out and ex.output is not None:
                d["output"] = to_list(ex.output)
            return d

        return {
            "train": [ex_json(ex, True) for ex in self.train],
            "test": [ex_json(ex, with_test_outputs) for ex in self.test],
        }


def _where(source: str | None, task_id: str) -> str:
    return f"{source}: task '{task_id}'" if source else f"task '{task_id}'"


def parse_task(obj, task_id: str, source: str | None = None, need_test_outputs: bool = False) -> Task:
    """Validate a task's JSON value ({"train": [...], "test": [...]}) and build a Task."""
    where = _where(source, task_id)
    if not isinstance(obj, dict):
        raise ArcError(f"{where} must be an object with 'train' and 'test', got {type(obj).__name__}")
    for key in ("train", "test"):
        if key not in obj:
            raise ArcError(f"{where} is missing '{key}'")
        if not isinstance(obj[key], list):
            raise ArcError(f"{where} '{key}' must be a list, got {type(obj[key]).__name__}")
    if not obj["train"]:
        raise ArcError(f"{where} has no train pairs")
    if not obj["test"]:
        raise ArcError(f"{where} has no test inputs")

    def example(ex, part: str, i: int, need_output: bool) -> Example:
        place = f"{where} {part}[{i}]"
        if not isinstance(ex, dict):
            raise ArcError(f"{place} must be an object with 'input'/'output', got {type(ex).__name__}")
        if "input" not in ex:
            raise ArcError(f"{place} is missing 'input'")
        inp = parse_grid(ex["input"], f"{place}.input")
        if "output" in ex and ex["output"] is not None:
            out = parse_grid(ex["output"], f"{place}.output")
        elif need_output:
            raise ArcError(f"{place} is missing 'output'")
        else:
            out = None
        return Example(inp, out)

    train = tuple(example(ex, "train", i, True) for i, ex in enumerate(obj["train"]))
    test = tuple(example(ex, "test", i, need_test_outputs) for i, ex in enumerate(obj["test"]))
    return Task(task_id, train, test)
