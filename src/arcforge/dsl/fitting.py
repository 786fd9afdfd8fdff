"""Rules fitted on a task's train pairs: the registry every rule joins with `@fitted`, and the check
every parametrised rule goes through (does it reproduce each train output, and does it apply to
each test input).

A fitted rule is `fit(inputs, outputs, tests) -> [(rank, text, test predictions), ...]`. The search
(search.py) tries every registered rule in `order`; a rule's k-th result costs
2.2 + 0.01 k + 0.001 order, i.e. after the one-step programs and before deeper ones, so a rule that
explains the task ends the search at depth 2. A rule registered with `sure=False` (right too
seldom) costs 0.4 more and does not end it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from arcforge.grid import Grid


@dataclass(frozen=True)
class FittedRule:
    fit: Callable[[list[Grid], list[Grid], list[Grid]], list[tuple[int, str, list[Grid]]]]
    order: int  # tried in this order; sets the cost's last digit
    sure: bool  # whether a fit ends the search


RULES: list[FittedRule] = []  # every registered rule, by order


def fitted(order: int, sure: bool = True):
    """Register a fitted rule (see the module's docstring)."""
    def register(fit):
        clash = next((r for r in RULES if r.order == order), None)
        if clash is not None and clash.fit.__qualname__ != fit.__qualname__:  # a module loaded twice re-registers
            raise ValueError(f"fitted rule order {order}: {fit.__name__} and {clash.fit.__name__}")
        RULES[:] = sorted([r for r in RULES if r.order != order] + [FittedRule(fit, order, sure)], key=lambda r: r.order)
        return fit
    return register


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
