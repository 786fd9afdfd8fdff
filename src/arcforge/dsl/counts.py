"""Outputs that show a number: a count read off the input (objects, cells of a colour, colours, ...)
drawn as a bar, a square, a diagonal, or the first cells of a fixed-size grid. `fit_count_render` learns
which count and which drawing reproduce every train output.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import product

import numpy as np

from arcforge.dsl import objects as ob
from arcforge.dsl.fitting import explaining, fitted
from arcforge.grid import MAX_SIDE, Grid

I8 = np.int8
MODES = {"4": (False, False), "8": (True, False), "4c": (False, True), "8c": (True, True)}


def _counts(g: Grid) -> dict[str, tuple[int, int]]:
    """Named counts of g, each with the colour it is about (0 when it is about no one colour)."""
    cells = np.bincount(g.ravel(), minlength=10)
    out: dict[str, tuple[int, int]] = {"colours": (int((cells[1:] > 0).sum()), 0), "cells": (int(cells[1:].sum()), 0)}
    main = int(np.argmax(cells[1:]) + 1) if cells[1:].any() else 0
    for c in range(1, 10):
        if cells[c]:
            out[f"cells_c{c}"] = (int(cells[c]), c)
    for tag, (diag, by_colour) in MODES.items():
        objs = ob.objects(g, diag, by_colour)
        out[f"objects{tag}"] = (len(objs), main)
        if not by_colour:
            continue
        per: dict[int, int] = {}
        big: dict[int, int] = {}
        for o in objs:
            per[o.colour] = per.get(o.colour, 0) + 1
            big[o.colour] = big.get(o.colour, 0) + (o.size > 1)
        for c, n in per.items():
            out[f"objects{tag}_c{c}"] = (n, c)
            out[f"objects{tag}_c{c}_big"] = (big[c], c)  # leaving out single cells
        if per:
            c = max(per, key=lambda k: (per[k], -k))
            out[f"objects{tag}_most"] = (per[c], c)
    return out


def _draw(n: int, colour: int, how: str, shape: tuple[int, int] | None) -> Grid | None:
    """A count n drawn in `colour`: a 1 x n row, an n x 1 column, an n x n square or diagonal, or the
    first n cells of a grid of `shape` in reading order ("fill") or in alternate directions ("snake")."""
    if n <= 0 or colour <= 0:
        return None
    if how in ("row", "col", "square", "diag"):
        if n > MAX_SIDE:
            return None
        side = {"row": (1, n), "col": (n, 1), "square": (n, n), "diag": (n, n)}[how]
        if how == "diag":
            return (np.eye(n, dtype=I8) * colour).astype(I8)
        return np.full(side, colour, I8)
    h, w = shape
    if n > h * w:
        return None
    flat = np.zeros(h * w, I8)
    flat[:n] = colour
    out = flat.reshape(h, w)
    if how == "snake":
        out[1::2] = out[1::2, ::-1]
    return out


@fitted(order=25)
def fit_count_render(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """(rank, rule name, test predictions) for every count of the input and drawing of it (`_draw`) that
    gives every train output, the colour fixed or the counted one; at least two train counts differ."""
    shapes = {b.shape for b in outputs}
    fixed = shapes.pop() if len(shapes) == 1 else None
    if fixed is not None and any(a.shape == fixed for a in inputs):
        return []
    out_cols = {int(c) for b in outputs for c in np.unique(b) if c}
    if len(out_cols) > 1 and not all(len(np.unique(b[b != 0])) == 1 for b in outputs):
        return []
    tr = [_counts(a) for a in inputs]
    te = [_counts(t) for t in tests]
    hows = ["row", "col", "square", "diag"] + (["fill", "snake"] if fixed is not None else [])
    colourings: list[tuple[str, Callable]] = [("counted", lambda nc: nc[1])]
    if len(out_cols) == 1:
        c = next(iter(out_cols))
        colourings.insert(0, (f"c{c}", lambda nc, c=c: c))
    found = []
    for name in tr[0]:
        if any(name not in f for f in tr + te):
            continue
        if len({f[name][0] for f in tr}) < 2:
            continue
        for hi, how in enumerate(hows):
            for cname, colour in colourings:
                if all((d := _draw(f[name][0], colour(f[name]), how, fixed)) is not None and d.shape == b.shape
                       and np.array_equal(d, b) for f, b in zip(tr, outputs, strict=True)):
                    preds = [_draw(f[name][0], colour(f[name]), how, fixed) for f in te]
                    if all(p is not None for p in preds):
                        found.append((hi, f"count[{name}:{how}:{cname}]", preds))
                    break
    found.sort(key=lambda f: f[0])
    return found


# ---- colours listed ----------------------------------------------------------------------------

def _colour_items(g: Grid, which: str) -> list[tuple[int, int, int, int]] | None:
    """(colour, cells, first row, first column) of the non-zero colours of g, or (`which` = "largest")
    only of the colours of its largest objects (8-connected, one colour each)."""
    cols = [int(c) for c in np.unique(g) if c]
    if which == "largest":
        objs = ob.objects(g, True, True)
        if not objs:
            return None
        top = max(o.size for o in objs)
        cols = sorted({o.colour for o in objs if o.size == top})
    items = []
    for c in cols:
        ys, xs = np.nonzero(g == c)
        items.append((c, len(ys), int(ys.min()), int(xs.min())))
    return items or None


ORDERS = {"most": lambda it: (-it[1], it[3], it[2]), "fewest": lambda it: (it[1], it[3], it[2]),
          "left": lambda it: (it[3], it[2]), "top": lambda it: (it[2], it[3])}


def _list_colours(g: Grid, which: str, order: str, length: str, bars: bool, across: bool,
                  fixed: int | None) -> Grid | None:
    """g's colours (`_colour_items`) in `order`, one column each (rows, `across`), all as long as the
    largest count ("most"), the number of colours ("n"), or a fixed length; each filled in full, or
    (`bars`) with as many cells as the colour has, from the start."""
    items = _colour_items(g, which)
    if items is None:
        return None
    items.sort(key=ORDERS[order])
    n = {"most": max(it[1] for it in items), "n": len(items), "fixed": fixed}[length]
    if n is None or not 0 < n <= MAX_SIDE or len(items) > MAX_SIDE:
        return None
    out = np.zeros((n, len(items)), I8)
    for j, (c, k, _, _) in enumerate(items):
        out[: min(k, n) if bars else n, j] = c
    return np.ascontiguousarray(out.T) if across else out


@fitted(order=26)
def fit_colour_list(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Outputs that list the input's colours (all, or those of its largest objects) in an order, as
    columns or rows of one length, filled or as bars of each colour's count (`_list_colours`)."""
    if any(a.shape == b.shape for a, b in zip(inputs, outputs, strict=True)):
        return []

    def rules():
        for across in (False, True):
            lens = {(b.shape[1] if across else b.shape[0]) for b in outputs}
            fixed = lens.pop() if len(lens) == 1 else None
            for which, order, length, bars in product(("all", "largest"), ORDERS, ("most", "n", "fixed"), (False, True)):
                args = (which, order, length, bars, across, fixed)
                yield (f"colours[{which}:{order}:{length}{':bars' if bars else ''}{':rows' if across else ''}]",
                       lambda g, args=args: _list_colours(g, *args))
    return explaining(rules(), inputs, outputs, tests)[:4]


# ---- cells read off in order ---------------------------------------------------------------------

def _sequence(g: Grid, order: str, how: str, shape: tuple[int, int] | None) -> Grid | None:
    """The colours of g's non-zero cells read column by column ("cols") or row by row ("rows"), written
    into a grid of `shape` in reading order ("fill") or in alternate directions ("snake"), or as one row
    or column."""
    ys, xs = np.nonzero(g)
    if not len(ys) or len(ys) > MAX_SIDE * MAX_SIDE:
        return None
    keys = (xs, ys) if order == "cols" else (ys, xs)
    seq = g[ys, xs][np.lexsort(keys[::-1])]
    if how in ("row", "col"):
        if len(seq) > MAX_SIDE:
            return None
        return seq[None].copy() if how == "row" else seq[:, None].copy()
    h, w = shape
    if len(seq) > h * w:
        return None
    flat = np.zeros(h * w, I8)
    flat[: len(seq)] = seq
    out = flat.reshape(h, w)
    if how == "snake":
        out[1::2] = out[1::2, ::-1]
    return out


@fitted(order=27)
def fit_sequence(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Outputs that hold the input's non-zero cells read off in order (`_sequence`)."""
    if any(a.shape == b.shape for a, b in zip(inputs, outputs, strict=True)):
        return []
    shapes = {b.shape for b in outputs}
    fixed = shapes.pop() if len(shapes) == 1 else None
    hows = ("row", "col") + (("fill", "snake") if fixed else ())
    return explaining(((f"sequence[{order}:{how}]", lambda g, o=order, h=how: _sequence(g, o, h, fixed))
                       for order, how in product(("cols", "rows"), hows)), inputs, outputs, tests)
