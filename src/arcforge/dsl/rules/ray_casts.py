"""Rays (`fit_rays`): cells of some colours shoot lines in some of eight directions, stopping at a
wall, passing over everything, or drawn only when they end on a chosen colour.

Only train pairs and test inputs are read.
"""

from __future__ import annotations

import numpy as np

from arcforge.dsl.fitting import fitted
from arcforge.dsl.primitives import DIRS8
from arcforge.grid import Grid, pad1

RAY_MODES = ("wall", "through", "hit", "join")  # and "hit{t}": rays that end on colour t


def _no_cells(g: Grid) -> np.ndarray:
    return np.zeros(g.shape, bool)


def _sources_along(g: Grid, c: int, d: int) -> np.ndarray:
    """Cells of colour c that shoot along direction d: all of them, except that a diagonal ray leaves
    an object only from its corner (neither side neighbour toward d has colour c)."""
    src = g == c
    dy, dx = DIRS8[d]
    if dy and dx:
        p = pad1(src)
        h, w = g.shape
        src = src & ~p[1 + dy: 1 + dy + h, 1: 1 + w] & ~p[1: 1 + h, 1 + dx: 1 + dx + w]
    return src


def _ray_cells(g: Grid, c: int, d: int) -> dict[str, np.ndarray]:
    """The zero cells that rays of colour c along direction d reach, by mode: stopping at the first
    non-zero cell ("wall"); those of them on rays that end on a non-zero cell ("hit"), on a cell of
    colour c ("join") or of colour t ("hit{t}"); passing over everything to the edge ("through")."""
    h, w = g.shape
    dy, dx = DIRS8[d]
    zero = g == 0
    src = _sources_along(g, c, d)
    ys, xs = slice(max(dy, 0), h + min(dy, 0)), slice(max(dx, 0), w + min(dx, 0))
    yd, xd = slice(max(-dy, 0), h + min(-dy, 0)), slice(max(-dx, 0), w + min(-dx, 0))

    def step(a, fill):
        b = np.full((h, w), fill, a.dtype)
        b[ys, xs] = a[yd, xd]
        return b

    owner = np.full((h, w), -1, np.int64)  # the source (flat index) of each live wall-mode ray
    owner[src] = np.flatnonzero(src)
    owner_all = np.full((h, w), -1, np.int64)
    hit = np.zeros(h * w + 1, np.int64)  # the colour each source's ray ends on (0: the edge)
    loose, through = src, np.zeros((h, w), bool)
    while (owner >= 0).any() or loose.any():
        owner = step(owner, -1)
        stop = (owner >= 0) & ~zero
        hit[owner[stop]] = g[stop]
        owner = np.where(zero, owner, -1)
        owner_all = np.where(owner >= 0, owner, owner_all)
        loose = step(loose, False)
        through |= loose & zero
    wall = owner_all >= 0
    ends = np.where(wall, hit[owner_all], 0)
    modes = {"wall": wall, "through": through, "hit": ends > 0, "join": ends == c}
    for t in np.unique(ends[ends > 0]):
        modes[f"hit{t}"] = ends == t
    return modes


@fitted(order=2)
def fit_rays(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Cells of some colours shoot rays in some of the eight directions, painting zero cells their own
    colour: until the first non-zero cell or the edge ("wall"), over everything to the edge
    ("through"), only when they end on a non-zero cell ("hit"), on their own colour ("join") or on
    colour t ("hit{t}"). Which (colour, direction) pairs shoot is learned: those whose every ray cell
    has their colour in the outputs. Rules that treat every colour alike rank first."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=False)):
        return []
    if any(((a != 0) & (a != b)).any() for a, b in zip(inputs, outputs, strict=False)):
        return []  # rays only paint empty cells
    if all(np.array_equal(a, b) for a, b in zip(inputs, outputs, strict=False)):
        return []
    colours = sorted({int(c) for a in inputs for c in np.unique(a) if c})
    test_colours = sorted({int(c) for t in tests for c in np.unique(t) if c})
    memo: dict = {}

    def cells(gi, c, d, mode):  # grid gi of inputs + tests
        key = (gi, c, d)
        if key not in memo:
            memo[key] = _ray_cells(grids[gi], c, d)
        return memo[key].get(mode, _no_cells(grids[gi]))

    grids = list(inputs) + list(tests)
    n = len(inputs)
    found = []
    for mi, mode in enumerate(RAY_MODES + tuple(f"hit{t}" for t in colours)):
        # per colour, or (fewer assumptions about unseen colours) the same directions for every colour
        for any_colour in (True, False):
            shoot = []
            for d in range(8):
                groups = [colours] if any_colour else [[c] for c in colours]
                for grp in groups:
                    ms = [[cells(i, c, d, mode) for i in range(n)] for c in grp]
                    if not any(m.any() for row in ms for m in row):
                        continue
                    if all((b[m] == c).all() for c, row in zip(grp, ms, strict=False)
                           for b, m in zip(outputs, row, strict=False)):
                        shoot += [(c, d) for c in grp] if not any_colour else [(None, d)]
            if not shoot:
                continue

            def paint(gi, shoot=shoot, mode=mode):
                g = grids[gi]
                out = g.copy()
                for c, d in shoot:
                    for cc in ([c] if c is not None else sorted({int(v) for v in np.unique(g) if v})):
                        out[cells(gi, cc, d, mode)] = cc
                return out
            if all(np.array_equal(paint(i), b) for i, b in enumerate(outputs)):
                if not any_colour and any(c not in colours for c in test_colours):
                    continue  # a test colour the rule never saw would not shoot
                # u d l r, and A B C D for up-left, up-right, down-left, down-right (DIRS8's order)
                name = ",".join(f"{'*' if c is None else c}{'udlrABCD'[d]}" for c, d in shoot)
                found.append((mi + 20 * (not any_colour), f"rays_{mode}[{name}]",
                              [paint(n + i) for i in range(len(tests))]))
                break
    found.sort(key=lambda f: f[0])
    return found


LINE_MODES = ("row", "col", "both")


def _line_cells(g: Grid, c: int, mode: str) -> np.ndarray:
    """The cells on the whole rows (and/or columns) through g's cells of colour c."""
    on = g == c
    rows, cols = on.any(axis=1), on.any(axis=0)
    out = np.zeros(g.shape, bool)
    if mode in ("row", "both"):
        out |= rows[:, None]
    if mode in ("col", "both"):
        out |= cols[None, :]
    return out


@fitted(order=32)
def fit_lines_across(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Cells of some colours become lines across the whole grid, along their row, their column or
    both, each colour its own way; where lines of two colours cross, one colour is always on top. The
    input's cells stay. Each colour's way is the one whose cells the outputs mostly show in that
    colour; the stacking order is read off the crossings; the rule must then give every train output."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=False)):
        return []
    if any(((a != 0) & (a != b)).any() for a, b in zip(inputs, outputs, strict=False)):
        return []
    colours = sorted({int(c) for a in inputs for c in np.unique(a) if c})
    if not 1 <= len(colours) <= 6 or any(int(c) not in colours for t in tests for c in np.unique(t) if c):
        return []
    modes = {}
    for c in colours:
        best = None
        for mode in LINE_MODES:
            on = hits = 0
            for a, b in zip(inputs, outputs, strict=False):
                m = _line_cells(a, c, mode) & (a == 0)
                on += int(m.sum())
                hits += int((b[m] == c).sum())
            if on and 2 * hits > on and (best is None or hits > best[0] or (hits == best[0] and on < best[1])):
                best = (hits, on, mode)
        if best is not None:
            modes[c] = best[2]
    if not modes:
        return []
    # a colour's rank: how many other line colours it covers where their lines cross in the outputs
    wins = dict.fromkeys(modes, 0)
    for a, b in zip(inputs, outputs, strict=False):
        cells = {c: _line_cells(a, c, m) & (a == 0) for c, m in modes.items()}
        for c in modes:
            for d in modes:
                if c != d:
                    wins[c] += int((cells[c] & cells[d] & (b == c)).sum())
    order = sorted(modes, key=lambda c: (wins[c], c))  # bottom first

    def paint(g: Grid) -> Grid:
        out = g.copy()
        for c in order:
            out[_line_cells(g, c, modes[c]) & (g == 0)] = c
        return out

    if not all(np.array_equal(paint(a), b) for a, b in zip(inputs, outputs, strict=False)):
        return []
    name = ",".join(f"{c}{modes[c][0]}" for c in reversed(order))
    return [(0, f"lines_across[{name}]", [paint(t) for t in tests])]
