"""Small helpers shared by the generators: random sizes, grids, shapes, placement, components."""

from __future__ import annotations

import numpy as np

from arcforge.generators._registry import Reject
from arcforge.grid import label

COLOURS = tuple(range(1, 10))


def rint(rng: np.random.Generator, lo: int, hi: int) -> int:
    """A random int in [lo, hi], both included."""
    return int(rng.integers(lo, hi + 1))


def pick(rng: np.random.Generator, seq, k: int | None = None, replace: bool = False):
    """One element of seq, or k distinct ones as a list."""
    seq = list(seq)
    if k is None:
        return seq[int(rng.integers(len(seq)))]
    return [seq[i] for i in rng.choice(len(seq), size=k, replace=replace)]


def zeros(h: int, w: int, fill: int = 0) -> np.ndarray:
    return np.full((h, w), fill, dtype=np.int8)


def noise(rng, h: int, w: int, colours=COLOURS, density: float = 0.5, bg: int = 0) -> np.ndarray:
    """h x w grid: each cell is bg, or with probability `density` a random colour of `colours`."""
    g = np.asarray(colours, dtype=np.int8)[rng.integers(len(colours), size=(h, w))]
    return np.where(rng.random((h, w)) < density, g, np.int8(bg)).astype(np.int8)


def full(rng, h: int, w: int, colours=tuple(range(10))) -> np.ndarray:
    """h x w grid of random colours from `colours` (no background)."""
    return np.asarray(colours, dtype=np.int8)[rng.integers(len(colours), size=(h, w))]


NEIGH4 = ((1, 0), (-1, 0), (0, 1), (0, -1))
NEIGH8 = NEIGH4 + ((1, 1), (1, -1), (-1, 1), (-1, -1))


def components(g: np.ndarray, bg: int | None = 0, diag: bool = False, same_colour: bool = True):
    """Connected components of the cells that are not `bg` (None: every cell): a list of (colour,
    cells) where cells is an (n, 2) int array of (row, col) in reading order and colour the first
    cell's colour; in reading order of first cell."""
    lab, n = label(g, diag, same_colour, -1 if bg is None else bg)
    if n == 0:
        return []
    flat = lab.ravel()
    order = np.argsort(flat, kind="stable")[np.count_nonzero(flat == 0):]  # each label's cells in reading order
    cells = np.stack(np.divmod(order, g.shape[1]), axis=1).astype(np.int64)
    parts = np.split(cells, np.cumsum(np.bincount(flat, minlength=n + 1)[1:])[:-1])
    return [(int(g[p[0, 0], p[0, 1]]), p) for p in parts]


def mask_of(cells: np.ndarray, shape) -> np.ndarray:
    m = np.zeros(shape, dtype=bool)
    m[cells[:, 0], cells[:, 1]] = True
    return m


def bbox(mask: np.ndarray):
    """(top, left, bottom+1, right+1) of the True cells."""
    rows, cols = np.nonzero(mask)
    if not len(rows):
        raise Reject("empty")
    return rows.min(), cols.min(), rows.max() + 1, cols.max() + 1


def crop_to(g: np.ndarray, mask: np.ndarray) -> np.ndarray:
    t, lf, b, r = bbox(mask)
    return g[t:b, lf:r].copy()


def shape_mask(rng, h: int, w: int, density: float = 0.6, connected: bool = True, diag: bool = False) -> np.ndarray:
    """A random boolean mask of exactly h x w bounding box (touches all four sides), 4-connected
    (8-connected with diag) when `connected`."""
    for _ in range(100):
        if connected:
            m = np.zeros((h, w), dtype=bool)
            y, x = rint(rng, 0, h - 1), rint(rng, 0, w - 1)
            m[y, x] = True
            target = max(1, int(round(density * h * w)))
            steps = NEIGH8 if diag else NEIGH4
            frontier = [(y, x)]
            while m.sum() < target:
                y, x = frontier[int(rng.integers(len(frontier)))]
                dy, dx = steps[int(rng.integers(len(steps)))]
                yy, xx = y + dy, x + dx
                if 0 <= yy < h and 0 <= xx < w and not m[yy, xx]:
                    m[yy, xx] = True
                    frontier.append((yy, xx))
        else:
            m = rng.random((h, w)) < density
        if m[0].any() and m[-1].any() and m[:, 0].any() and m[:, -1].any():
            return m
    raise Reject("shape")


def place(rng, h: int, w: int, sizes, gap: int = 1, occupied: np.ndarray | None = None, tries: int = 200):
    """Top-left corners for boxes of `sizes` [(bh, bw), ...] in an h x w canvas, none overlapping and at
    least `gap` cells apart (also from `occupied`). Raises Reject when they do not fit."""
    occ = np.zeros((h, w), dtype=bool) if occupied is None else occupied.copy()
    corners = []
    for bh, bw in sizes:
        if bh > h or bw > w:
            raise Reject("too big")
        for _ in range(tries):
            y, x = rint(rng, 0, h - bh), rint(rng, 0, w - bw)
            y0, x0 = max(0, y - gap), max(0, x - gap)
            if not occ[y0:y + bh + gap, x0:x + bw + gap].any():
                occ[y:y + bh, x:x + bw] = True
                corners.append((y, x))
                break
        else:
            raise Reject("no room")
    return corners


def distinct(rng, n: int, exclude=(), pool=COLOURS) -> list[int]:
    """n distinct colours from pool, none in exclude."""
    pool = [c for c in pool if c not in exclude]
    return pick(rng, pool, n)
