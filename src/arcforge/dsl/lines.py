"""Vectorised line drawing for the DSL: rays until a wall, and joining same-coloured cells."""

from __future__ import annotations

import numpy as np

from arcforge.dsl.registry import IN, NEW, primitive
from arcforge.grid import Grid, label

I8 = np.int8


def _ffill_down(g: Grid) -> Grid:
    """Each cell gets the colour of the nearest non-zero cell at or above it in its column (0 if none)."""
    from arcforge.kernels import fill_down  # compiled: the search calls it for every ray primitive

    return fill_down(g)


def _ffill(g: Grid, d: str) -> Grid:
    if d == "d":
        return _ffill_down(g)
    if d == "u":
        return _ffill_down(g[::-1])[::-1]
    if d == "r":
        return _ffill_down(g.T).T
    return _ffill_down(g.T[::-1])[::-1].T


@primitive("ray_{dirs}", 420, dirs=("u", "d", "l", "r", "ud", "lr", "udlr"), same_shape=True, changes=0)
@primitive("ray_udlr_c{src}", 430, src=IN, fixed={"dirs": "udlr"}, same_shape=True, changes=0)
def extend(g: Grid, dirs: str, src: int | None = None) -> Grid | None:
    """Shoot rays from non-zero cells (or only from cells of colour `src`) in each direction of `dirs`
    ('u', 'd', 'l', 'r' letters); a ray stops at the first non-zero cell; earlier directions win."""
    from arcforge.kernels import straight_rays  # compiled: one walk along every line of each direction

    codes = _DIR_CODES.get(dirs)
    if codes is None:
        codes = _DIR_CODES[dirs] = np.array(["udlr".index(d) for d in dirs], np.int64)
    return straight_rays(np.ascontiguousarray(g, dtype=I8), codes, -1 if src is None else int(src))


_DIR_CODES: dict[str, np.ndarray] = {}  # the kernel's direction codes of each `dirs`


@primitive("ray_diag", 440, same_shape=True, changes=0)
def extend_diag(g: Grid) -> Grid | None:
    """Rays along the four diagonals from non-zero cells, stopping at walls; None past 40 such cells."""
    from arcforge.kernels import diag_rays  # compiled: four walks from every cell

    return diag_rays(np.ascontiguousarray(g, dtype=I8), 40)


@primitive("connect_hv_c{colour}", (380, 1), colour=NEW, fixed={"axes": "hv"}, same_shape=True, changes=0)
@primitive("connect_{axes}", 490, axes=("hv", "h", "v"), same_shape=True, changes=0)
def connect(g: Grid, axes: str = "hv", colour: int | None = None) -> Grid | None:
    """Join two same-coloured cells on a row ('h') or column ('v') by a line over the zero cells between,
    in their colour or in `colour`."""
    from arcforge.kernels import join_cells  # compiled: one walk along every row and column

    return join_cells(np.ascontiguousarray(g, dtype=I8), "h" in axes, "v" in axes, 0 if colour is None else int(colour))


@primitive("clear_spans_c{colour}", (380, 2), colour=NEW, same_shape=True, changes=0)
def clear_spans(g: Grid, colour: int) -> Grid | None:
    """Every row and column whose cells between its first and last non-zero cells are all zero (a clear
    line from wall to wall) filled there with `colour`."""
    from arcforge.kernels import clear_lines  # compiled: one walk along every row and column

    out, drew = clear_lines(np.ascontiguousarray(g, dtype=I8), int(colour))
    return out if drew else None


@primitive("bridge{inset}_c{colour}", (380, 3), colour=NEW, inset=(0, 1), same_shape=True, changes=0)
def bridge(g: Grid, colour: int, inset: int) -> Grid | None:
    """The gap between every two objects (non-zero 4-connected components) that face each other across
    zero cells, filled with `colour` over the rows (or columns) they share, less `inset` on each side."""
    from arcforge.dsl import objects as ob

    objs = ob.objects(g, False, False)
    if not 2 <= len(objs) <= 12:
        return None
    out = g.copy()
    drew = False
    for i, a in enumerate(objs):
        for b in objs[i + 1:]:
            rows = (max(a.y0, b.y0) + inset, min(a.y1, b.y1) - inset)  # shared rows: side by side
            cols = (max(a.x0, b.x0) + inset, min(a.x1, b.x1) - inset)  # shared columns: one above the other
            left, right = sorted((a, b), key=lambda o: o.x0)
            top, bottom = sorted((a, b), key=lambda o: o.y0)
            boxes = []
            if rows[1] > rows[0] and left.x1 < right.x0:
                boxes.append((slice(*rows), slice(left.x1, right.x0)))
            if cols[1] > cols[0] and top.y1 < bottom.y0:
                boxes.append((slice(top.y1, bottom.y0), slice(*cols)))
            for box in boxes:
                if not g[box].any():
                    out[box] = colour
                    drew = True
    return out if drew else None


@primitive("line_sequence", 450, same_shape=True, changes=0)
def line_sequence(g: Grid) -> Grid | None:
    """Seed cells at evenly spaced places along the grid's longer side become full lines across it, and
    the run of lines goes on (the seeds' colours in turn, at the same spacing) to the far edge."""
    t = g if g.shape[1] >= g.shape[0] else g.T
    ys, xs = np.nonzero(t)
    if not 2 <= len(xs) <= 6 or len(set(xs.tolist())) != len(xs):
        return None
    order = np.argsort(xs)
    xs, cols = xs[order], t[ys[order], xs[order]]
    step = int(xs[1] - xs[0])
    if step < 1 or (np.diff(xs) != step).any():
        return None
    out = np.zeros_like(t)
    for k, x in enumerate(range(int(xs[0]), t.shape[1], step)):
        out[:, x] = cols[k % len(cols)]
    return out if t is g else np.ascontiguousarray(out.T)


@primitive("extend_runs", 460, same_shape=True, changes=0)
def extend_runs(g: Grid) -> Grid | None:
    """Every row and column holding one run of two or more non-zero cells repeats that run along its
    whole length (over its zero cells), in both directions."""
    from arcforge.kernels import repeat_runs  # compiled: a pass over every row and column

    return repeat_runs(np.ascontiguousarray(g, dtype=I8))


@primitive("bounce", 470, same_shape=True, changes=0)
def bounce(g: Grid) -> Grid | None:
    """A grid's one non-zero cell, lying on an edge, sends a diagonal line across to the opposite edge
    that turns back off each side wall it meets (a zigzag): first away from the wall it starts on."""
    ys, xs = np.nonzero(g)
    if len(ys) != 1:
        return None
    h, w = g.shape
    y, x = int(ys[0]), int(xs[0])
    if y not in (0, h - 1):
        if x in (0, w - 1) and h > 1:
            t = bounce(np.ascontiguousarray(g.T))
            return None if t is None else np.ascontiguousarray(t.T)
        return None
    if w < 2 or h < 2:
        return None
    dy = -1 if y == h - 1 else 1
    dx = 1 if x < w - 1 else -1
    out = g.copy()
    for _ in range(h - 1):
        y += dy
        x += dx
        if not 0 <= x < w:
            dx = -dx
            x += 2 * dx
        out[y, x] = g[ys[0], xs[0]]
    return out


@primitive("segments_{horizontal_last}_over", 480, horizontal_last={"h": True, "v": False}, same_shape=True)
def segments_to_lines(g: Grid, horizontal_last: bool) -> Grid | None:
    """Every straight one-colour segment of two or more cells (on the grid's most common colour) drawn
    on across the whole grid along its axis, the horizontal ones over the vertical ones
    (`horizontal_last`) or under them; None when the grid has no such segment or holds other shapes."""

    bg = int(np.bincount(g.ravel(), minlength=10).argmax())
    fg = g != bg
    same_h = fg[:, 1:] & (g[:, 1:] == g[:, :-1])
    same_v = fg[1:] & (g[1:] == g[:-1])
    has_h = np.zeros(g.shape, bool)
    has_h[:, 1:] |= same_h
    has_h[:, :-1] |= same_h
    has_v = np.zeros(g.shape, bool)
    has_v[1:] |= same_v
    has_v[:-1] |= same_v
    if (has_h & has_v).any() or not (has_h | has_v).any():
        return None  # a cell with same-coloured neighbours along both axes: not a straight segment
    lab, n = label(g, False, True, bg)
    if n == 0 or n > 60:
        return None
    rows, cols = [], []
    for i in range(1, n + 1):
        ys, xs = np.nonzero(lab == i)
        if len(ys) < 2:
            continue
        c = int(g[ys[0], xs[0]])
        if (ys == ys[0]).all():
            rows.append((int(ys[0]), c))
        elif (xs == xs[0]).all():
            cols.append((int(xs[0]), c))
        else:
            return None
    if not rows and not cols:
        return None
    out = g.copy()
    order = ((cols, True), (rows, False)) if horizontal_last else ((rows, False), (cols, True))
    for group, vertical in order:
        for k, c in group:
            if vertical:
                out[:, k] = c
            else:
                out[k, :] = c
    return out
