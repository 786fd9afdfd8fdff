"""The named transforms the search composes, instantiated for one task (its colours and size ratios)."""

from __future__ import annotations

from arcforge.dsl import lines, objects  # noqa: F401  (their primitives register, as primitives' do)
from arcforge.dsl import primitives as p
from arcforge.dsl.fitting import explaining, fitted
from arcforge.dsl.registry import Info, Transform, expand
from arcforge.grid import Grid
from arcforge.task import Task


def library(task: Task) -> list[Transform]:
    """Every registered primitive (dsl/registry.py) instantiated for the task, in order."""
    return expand(Info.of(task))


def slow(outputs: list[Grid]) -> list[Transform]:
    """Transforms too slow to try on every state of the search, tried once on the inputs (fit_slow),
    with the colours the outputs show as their parameters."""
    return expand(Info.of_outputs(outputs), slow=True)


@fitted(order=0)
def fit_slow(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """The slow transforms, alone or followed by a crop to the non-zero cells, as rules: kept when they
    give every train output."""
    def run(g, fn, crop):
        r = fn(g)
        return p.crop(r) if crop and r is not None else r
    return explaining(((name + (" > crop" if crop else ""), lambda g, fn=fn, crop=crop: run(g, fn, crop))
                       for name, fn in slow(outputs) for crop in (False, True)), inputs, outputs, tests)
