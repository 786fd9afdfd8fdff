"""Colour normalisation: rename, in every example on its own, the colours whose part changes from pair
to pair, so that one program can fit pairs drawn in different colours.

Some colours play the same part in every pair (the background, a colour every output has and no input
does, a colour every input has and no output keeps): those stay as they are. The others are ranked in
each input by a feature of their cells (count, number of pieces, box area, first cell) that never
ties, and take the free colours in that order. An example's output is renamed with its input's map,
and a test prediction is mapped back with the inverse of its test input's map; test outputs are never
looked at.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from arcforge.grid import Grid, label
from arcforge.task import Example, Task

Perm = np.ndarray  # 10 entries: new colour of each old colour


def fixed_colours(task: Task) -> set[int]:
    """Colours with one part in every pair: 0, colours no input has but an output does, colours every
    input has and no output does, and (when every output has the same colours) the outputs' colours."""
    ins = [set(np.unique(ex.input).tolist()) for ex in task.train]
    outs = [set(np.unique(ex.output).tolist()) for ex in task.train]
    or_in, and_in = set().union(*ins), set.intersection(*ins)
    or_out, and_out = set().union(*outs), set.intersection(*outs)
    fixed = {0} | (or_out - or_in) | (and_in - or_out)
    if or_out == and_out:
        fixed |= and_out
    return fixed


def _features(g: Grid, c: int) -> tuple[int, int, int, int]:
    """Ranking keys of colour c in g, larger first: cell count, pieces, box area, earliest cell."""
    mask = g == c
    ys, xs = np.nonzero(mask)
    pieces = label(mask.astype(np.int8), False, False)[1]
    area = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
    first = int(ys[0]) * g.shape[1] + int(xs[0])  # nonzero lists cells in row-major order
    return len(ys), pieces, int(area), -first


def colour_maps(task: Task) -> list[Perm] | None:
    """One permutation of the 10 colours per example (train, then test), or None when renaming would
    change nothing (every example would get the same map) or when no feature ranks every input's
    free colours without a tie."""
    fixed = fixed_colours(task)
    slots = [c for c in range(10) if c not in fixed]
    grids = [ex.input for ex in task.train] + [ex.input for ex in task.test]
    free = [[int(c) for c in np.unique(g) if int(c) not in fixed] for g in grids]
    if not any(free):
        return None
    feats = [{c: _features(g, c) for c in cs} for g, cs in zip(grids, free, strict=True)]
    key = None
    for k in range(4):  # the first feature that orders every input's free colours without a tie
        if all(len({f[c][k] for c in cs}) == len(cs) for f, cs in zip(feats, free, strict=True)):
            key = k
            break
    if key is None:
        return None
    perms = []
    for f, cs in zip(feats, free, strict=True):
        order = sorted(cs, key=lambda c, f=f: -f[c][key])
        perm = np.arange(10)
        rest = [c for c in slots if c not in order]
        for old, new in zip(order + rest, slots, strict=True):
            perm[old] = new
        perms.append(perm)
    if all((p == perms[0]).all() for p in perms):
        return None
    return perms


def _rename(task: Task, perms: list[Perm]) -> Task:
    n = len(task.train)

    def rename(g: Grid | None, p: Perm) -> Grid | None:
        return None if g is None else p[g].astype(np.int8)

    train = tuple(Example(rename(ex.input, p), rename(ex.output, p)) for ex, p in zip(task.train, perms, strict=False))
    test = tuple(Example(rename(ex.input, p)) for ex, p in zip(task.test, perms[n:], strict=True))
    return replace(task, train=train, test=test)


def normalise(task: Task) -> tuple[Task, list[Perm]] | None:
    """The task with every example's colours renamed, and the inverse map of each test input (to turn
    a prediction back into the task's colours); None when normalising changes nothing."""
    perms = colour_maps(task)
    if perms is None:
        return None
    return _rename(task, perms), [np.argsort(p) for p in perms[len(task.train):]]
