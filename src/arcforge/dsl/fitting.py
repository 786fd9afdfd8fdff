"""The check every parametrised rule goes through: does it reproduce each train output, and does it
apply to each test input."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from arcforge.grid import Grid


def explains(rule: Callable[[Grid], Grid | None], inputs: list[Grid], outputs: list[Grid],
             tests: list[Grid]) -> list[Grid] | None:
    """The rule's test predictions, when it gives every train output exactly and some grid for every
    test input; else None."""
    for a, b in zip(inputs, outputs, strict=True):
        r = rule(a)
        if r is None or r.shape != b.shape or not np.array_equal(r, b):
            return None
    preds = [rule(t) for t in tests]
    return None if any(p is None for p in preds) else preds


def explaining(rules: Iterable[tuple[str, Callable[[Grid], Grid | None]]], inputs: list[Grid], outputs: list[Grid],
               tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """(rank, name, test predictions) of each named rule that `explains` the task, ranked in the order
    the rules come."""
    found = []
    for name, rule in rules:
        preds = explains(rule, inputs, outputs, tests)
        if preds is not None:
            found.append((len(found), name, preds))
    return found
