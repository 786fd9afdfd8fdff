"""Grids cut into equal cells by separator lines, where one cell (the source) is copied into the others:
in place of them, or under or over what they hold, in its own colours or in one colour (such as the
separator's). `fit_part_copy` learns which cell is the source and how it is copied.
"""

from __future__ import annotations

from itertools import product

import numpy as np

from arcforge.augment import SYMMETRY_NAMES, symmetry
from arcforge.dsl.fitting import explaining, fitted
from arcforge.dsl.rules.common import part_boxes
from arcforge.grid import Grid

SOURCES = ("only", "fullest", "first")
HOWS = ("replace", "under", "over")


def _source(g: Grid, boxes, which: str) -> int | None:
    """Index of the source cell: the only non-empty one, the one with the most non-zero cells (no tie),
    or the first."""
    counts = [int((g[b] != 0).sum()) for b in boxes]
    if which == "first":
        return 0
    if which == "only":
        full = [i for i, c in enumerate(counts) if c]
        return full[0] if len(full) == 1 else None
    top = max(counts)
    return counts.index(top) if top and counts.count(top) == 1 else None


def _copy(g: Grid, which: str, how: str, colour: int | None) -> Grid | None:
    boxes = part_boxes(g)
    if boxes is None:
        return None
    shapes = {(b[0].stop - b[0].start, b[1].stop - b[1].start) for b in boxes}
    if len(shapes) != 1:
        return None
    i = _source(g, boxes, which)
    if i is None:
        return None
    src = g[boxes[i]]
    if colour == -1:  # the separator colour
        edge = np.ones(g.shape, bool)
        for b in boxes:
            edge[b] = False
        cols = np.unique(g[edge])
        if len(cols) != 1:
            return None
        colour = int(cols[0])
    paint = src if colour is None else np.where(src != 0, colour, 0)
    out = g.copy()
    for j, b in enumerate(boxes):
        if j == i:
            continue
        cell = out[b]
        if how == "replace":
            out[b] = paint
        elif how == "under":
            out[b] = np.where(cell == 0, paint, cell)
        else:
            out[b] = np.where(src != 0, paint, cell)
    return out


@fitted(order=13)
def fit_part_copy(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """A source cell of a separator layout copied into every other cell (module docstring)."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=True)):
        return []
    if all(np.array_equal(a, b) for a, b in zip(inputs, outputs, strict=True)):
        return []
    return explaining(((f"part_copy[{which}:{how}{':separator' if colour == -1 else ''}]",
                        lambda g, w=which, h=how, c=colour: _copy(g, w, h, c))
                       for which, how, colour in product(SOURCES, HOWS, (None, -1))), inputs, outputs, tests)


# the symmetries a cell may be copied under (augment's, by its names), in the order tried
TURNS = {name: SYMMETRY_NAMES.index(name)
         for name in ("id", "rot270", "rot180", "rot90", "flip_lr", "flip_ud", "transpose", "anti_transpose")}


@fitted(order=14)
def fit_part_turns(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Separator layouts whose first cell is copied into each other cell turned or mirrored, a symmetry
    learned per cell position (the same in every train pair)."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=True)):
        return []
    layouts = [part_boxes(g) for g in inputs + tests]
    if any(b is None for b in layouts) or len({len(b) for b in layouts}) != 1:
        return []
    n = len(layouts[0])
    if any(g[b].any() for g, boxes in zip(inputs + tests, layouts, strict=True) for b in boxes[1:]):
        return []  # the other cells must be empty, waiting for their copies
    chosen = []
    for j in range(1, n):
        ok = [name for name, s in TURNS.items()
              if all((t := symmetry(a[boxes[0]], s)).shape == b[boxes[j]].shape and np.array_equal(t, b[boxes[j]])
                     for a, b, boxes in zip(inputs, outputs, layouts, strict=False))]
        if not ok:
            return []
        chosen.append(ok[0])
    if all(np.array_equal(a[boxes[0]], b[boxes[0]]) for a, b, boxes in zip(inputs, outputs, layouts, strict=False)):
        preds = []
        for t, boxes in zip(tests, layouts[len(inputs):], strict=True):
            out = t.copy()
            for j, name in enumerate(chosen, 1):
                cell = symmetry(t[boxes[0]], TURNS[name])
                if cell.shape != out[boxes[j]].shape:
                    return []
                out[boxes[j]] = cell
            preds.append(out)
        return [(0, f"part_turns[{','.join(chosen)}]", preds)]
    return []
