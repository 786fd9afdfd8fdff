"""Grids of one-colour cells between separator lines, seen as small grids: one pixel per cell. A task
whose every grid is such a layout (each output the layout of its input) is searched again in that view,
and a prediction is drawn back into the test input's layout, cell by cell.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from arcforge.dsl.rules.common import part_spans
from arcforge.grid import Grid
from arcforge.task import Example, Task

I8 = np.int8


def shrink(g: Grid) -> Grid | None:
    """One pixel per cell of g's separator layout, when every cell has one colour; else None."""
    spans = part_spans(g)
    if spans is None:
        return None
    ry, rx = spans
    out = np.zeros((len(ry), len(rx)), I8)
    for i, (a, b) in enumerate(ry):
        for j, (c, d) in enumerate(rx):
            cell = g[a:b, c:d]
            if (cell != cell[0, 0]).any():
                return None
            out[i, j] = cell[0, 0]
    return out


def grow(g: Grid, small: Grid) -> Grid | None:
    """g with each cell of its separator layout painted the colour of small's pixel for it; None when
    small does not have the layout's shape."""
    spans = part_spans(g)
    if spans is None:
        return None
    ry, rx = spans
    if small.shape != (len(ry), len(rx)):
        return None
    out = g.copy()
    for i, (a, b) in enumerate(ry):
        for j, (c, d) in enumerate(rx):
            out[a:b, c:d] = small[i, j]
    return out


def supergrid(task: Task) -> Task | None:
    """The task in the one-pixel-per-cell view, when every output is a layout of one-colour cells with
    its input's separators and the view is smaller than the grids; else None. Inputs are shrunk too
    when all of theirs are one-colour (test inputs included), else left as they are: the view then asks
    for one small grid from the whole input (e.g. the cell to copy, drawn a pixel per cell)."""
    outs = []
    for ex in task.train:
        b = shrink(ex.output)
        if b is None or ex.input.shape != ex.output.shape or part_spans(ex.input) != part_spans(ex.output):
            return None
        outs.append(b)
    if any(part_spans(ex.input) is None for ex in task.test):
        return None
    small_in = [shrink(ex.input) for ex in task.train + task.test]
    if any(a is None for a in small_in):
        small_in = [ex.input for ex in task.train + task.test]
    n = len(task.train)
    train = tuple(Example(a, b) for a, b in zip(small_in[:n], outs, strict=True))
    test = tuple(Example(a) for a in small_in[n:])
    if all(ex.output.shape == big.output.shape for ex, big in zip(train, task.train, strict=True)):
        return None
    return replace(task, train=train, test=test)
