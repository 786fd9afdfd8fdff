"""Rays whose sources are told apart by their surroundings: a cell shoots along a direction when the
cells around it, seen from that direction, look a certain way (the tip of a diagonal line continues
it; a corner of a block does not). Learned from the train pairs by `fit_tip_rays`.

A cell's view along direction d counts its non-zero neighbours (or those of its own colour) straight
ahead, straight behind, to the sides, ahead-to-the-sides and behind-to-the-sides; the same view taken
along every direction makes the rule the same under rotations and mirrors.
"""

from __future__ import annotations

import numpy as np

from arcforge.dsl.primitives import DIRS8
from arcforge.grid import Grid

MAX_SOURCES = 120


def _view(occ: np.ndarray, y: int, x: int, dy: int, dx: int) -> tuple[int, ...]:
    """(ahead, behind, sides, ahead-sides, behind-sides) occupancy around (y, x) facing (dy, dx)."""
    h, w = occ.shape

    def at(oy, ox):
        yy, xx = y + oy, x + ox
        return int(0 <= yy < h and 0 <= xx < w and occ[yy, xx])

    counts = [0, 0, 0, 0, 0]
    for oy, ox in DIRS8:
        ahead = oy * dy + ox * dx
        if (oy, ox) == (dy, dx):
            slot = 0
        elif (oy, ox) == (-dy, -dx):
            slot = 1
        elif ahead == 0:
            slot = 2
        else:
            slot = 3 if ahead > 0 else 4
        counts[slot] += at(oy, ox)
    return tuple(counts)


def _ray(g: Grid, y: int, x: int, dy: int, dx: int, through: bool) -> list[tuple[int, int]]:
    """The zero cells a ray from (y, x) along (dy, dx) paints: up to the first non-zero cell, or
    (`through`) all of them to the edge."""
    h, w = g.shape
    cells = []
    y, x = y + dy, x + dx
    while 0 <= y < h and 0 <= x < w:
        if g[y, x] == 0:
            cells.append((y, x))
        elif not through:
            break
        y, x = y + dy, x + dx
    return cells


def _shots(g: Grid, same: bool, dirs: tuple[int, ...], through: bool):
    """Every (view key, colour, ray cells) of g's non-zero cells along the directions `dirs`."""
    ys, xs = np.nonzero(g)
    if len(ys) > MAX_SOURCES:
        return None
    out = []
    for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
        c = int(g[y, x])
        occ = (g == c) if same else (g != 0)
        for d in dirs:
            dy, dx = DIRS8[d]
            cells = _ray(g, y, x, dy, dx, through)
            if cells:
                out.append(((d < 4,) + _view(occ, y, x, dy, dx), c, cells))
    return out


def fit_tip_rays(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Cells shoot rays of their own colour along the directions from which their surroundings look
    like those of the cells that shoot in the train pairs; every ray is drawn in full, stopping at the
    first non-zero cell (or passing over them: "through"). Only zero cells change."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=True)):
        return []
    if any(((a != 0) & (a != b)).any() for a, b in zip(inputs, outputs, strict=True)):
        return []
    if all(np.array_equal(a, b) for a, b in zip(inputs, outputs, strict=True)):
        return []
    found = []
    for through in (False, True):
        for same in (False, True):
            for dname, dirs in (("8", tuple(range(8))), ("4", (0, 1, 2, 3)), ("x", (4, 5, 6, 7))):
                shots = [_shots(a, same, dirs, through) for a in inputs]
                if any(s is None for s in shots):
                    continue
                fires: dict = {}
                for b, ss in zip(outputs, shots, strict=True):
                    for key, c, cells in ss:
                        drawn = all(b[y, x] == c for y, x in cells)
                        fires[key] = fires.get(key, True) and drawn
                keys = {k for k, v in fires.items() if v}
                if not keys:
                    continue

                def paint(g, ss, keys=keys):
                    out = g.copy()
                    for key, c, cells in ss:
                        if key in keys:
                            for y, x in cells:
                                out[y, x] = c
                    return out

                if not all(np.array_equal(paint(a, ss), b) for a, ss, b in zip(inputs, shots, outputs, strict=True)):
                    continue
                te = [_shots(t, same, dirs, through) for t in tests]
                if any(s is None for s in te) or not any(key in keys for ss in te for key, _, _ in ss):
                    continue
                name = f"tip_rays{dname}{'_same' if same else ''}{'_through' if through else ''}"
                found.append((len(found), name, [paint(t, ss) for t, ss in zip(tests, te, strict=True)]))
                break
    return found
