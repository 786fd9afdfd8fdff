"""Whole-grid primitives for the DSL: pure numpy functions grid -> grid (or None when they do not apply).

Families: geometry, cropping, colour, scaling and tiling, symmetry completion and pattern fill,
topology, gravity. Lines (lines.py), objects and separator splits live in objects.py. Background is colour 0
unless a function says otherwise; every result is an int8 array of 1-30 cells a side.
"""

from __future__ import annotations

import numpy as np

from arcforge.grid import MAX_SIDE, Grid

I8 = np.int8


def ok(g: Grid | None) -> Grid | None:
    """The one gate every primitive's result goes through: a valid grid or None."""
    if g is None or g.ndim != 2:
        return None
    h, w = g.shape
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        return None
    return np.ascontiguousarray(g, dtype=I8)


def majority(g: Grid) -> int:
    return int(np.argmax(np.bincount(g.ravel(), minlength=10)))


# ---- geometry -------------------------------------------------------------------------------

def rot90(g):
    return np.ascontiguousarray(np.rot90(g, 1))


def rot180(g):
    return np.ascontiguousarray(g[::-1, ::-1])


def rot270(g):
    return np.ascontiguousarray(np.rot90(g, 3))


def flip_ud(g):
    return np.ascontiguousarray(g[::-1])


def flip_lr(g):
    return np.ascontiguousarray(g[:, ::-1])


def transpose(g):
    return np.ascontiguousarray(g.T)


def anti_transpose(g):
    return np.ascontiguousarray(g[::-1, ::-1].T)


GEOMETRY = {"rot90": rot90, "rot180": rot180, "rot270": rot270, "flip_ud": flip_ud, "flip_lr": flip_lr,
            "transpose": transpose, "anti_transpose": anti_transpose}


def shift(g: Grid, dy: int, dx: int, bg: int = 0) -> Grid:
    """Move everything by (dy, dx); cells that leave are lost, cells that enter are background."""
    h, w = g.shape
    out = np.full_like(g, bg)
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = g[ys, xs]
    return out


# ---- cropping -------------------------------------------------------------------------------

def crop_mask(g: Grid, mask: np.ndarray) -> Grid | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return g[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]


def crop(g: Grid) -> Grid | None:
    """Bounding box of the non-zero cells."""
    return crop_mask(g, g != 0)


def crop_majority(g: Grid) -> Grid | None:
    """Bounding box of cells unlike the most common colour (for grids whose background is not 0)."""
    return crop_mask(g, g != majority(g))


def crop_colour(g: Grid, c: int) -> Grid | None:
    return crop_mask(g, g == c)


def crop_inside_colour(g: Grid, c: int) -> Grid | None:
    """What lies strictly inside the bounding box of colour c (a frame drawn in c)."""
    r = crop_mask(np.arange(g.size).reshape(g.shape), g == c)
    if r is None or r.shape[0] < 3 or r.shape[1] < 3:
        return None
    y, x = divmod(int(r[0, 0]), g.shape[1])
    return g[y + 1: y + r.shape[0] - 1, x + 1: x + r.shape[1] - 1]


def drop_empty_lines(g: Grid) -> Grid | None:
    """Remove every all-zero row and column."""
    return g[(g != 0).any(axis=1)][:, (g != 0).any(axis=0)]


def dedup_lines(g: Grid) -> Grid:
    """Collapse runs of identical consecutive rows, then columns."""
    keep_r = np.ones(g.shape[0], bool)
    keep_r[1:] = (g[1:] != g[:-1]).any(axis=1)
    g = g[keep_r]
    keep_c = np.ones(g.shape[1], bool)
    keep_c[1:] = (g[:, 1:] != g[:, :-1]).any(axis=0)
    return g[:, keep_c]


def strip_border(g: Grid) -> Grid | None:
    return g[1:-1, 1:-1] if min(g.shape) > 2 else None


def half(g: Grid, which: str) -> Grid | None:
    """One half of the grid; with an odd side the middle line (a separator) is left out."""
    h, w = g.shape
    if which in ("top", "bottom"):
        if h < 2:
            return None
        k = h // 2
        return g[:k] if which == "top" else g[h - k:]
    if w < 2:
        return None
    k = w // 2
    return g[:, :k] if which == "left" else g[:, w - k:]


# ---- colour ---------------------------------------------------------------------------------

def keep_colour(g: Grid, c: int) -> Grid:
    return np.where(g == c, g, 0).astype(I8)


def erase_colour(g: Grid, c: int) -> Grid:
    return np.where(g == c, 0, g).astype(I8)


def paint_nonzero(g: Grid, c: int) -> Grid:
    return np.where(g != 0, c, 0).astype(I8)


def erase_majority(g: Grid) -> Grid:
    """Turn the background (most common colour) into 0."""
    m = majority(g)
    if m == 0:
        return g
    return np.where(g == m, 0, np.where(g == 0, m, g)).astype(I8)


def colour_cell(g: Grid, most: bool) -> Grid | None:
    """1x1 grid of the most (or least) common non-zero colour."""
    counts = np.bincount(g.ravel(), minlength=10)[1:]
    if counts.sum() == 0:
        return None
    if most:
        c = int(np.argmax(counts)) + 1
    else:
        counts = np.where(counts == 0, 10**6, counts)
        c = int(np.argmin(counts)) + 1
    return np.array([[c]], dtype=I8)


def swap_two(g: Grid) -> Grid | None:
    """Exchange the two non-zero colours of a grid that has exactly two."""
    cs = np.flatnonzero(np.bincount(g.ravel(), minlength=10)[1:]) + 1
    if cs.size != 2:
        return None
    a, b = int(cs[0]), int(cs[1])
    return np.where(g == a, b, np.where(g == b, a, g)).astype(I8)


# ---- scaling and tiling ---------------------------------------------------------------------

def upscale(g: Grid, fy: int, fx: int) -> Grid | None:
    if g.shape[0] * fy > MAX_SIDE or g.shape[1] * fx > MAX_SIDE:
        return None
    return np.repeat(np.repeat(g, fy, axis=0), fx, axis=1)


def downscale(g: Grid, fy: int, fx: int) -> Grid | None:
    """Block downscale, keeping each block's most common colour (exact for clean upscaled grids)."""
    h, w = g.shape
    if h % fy or w % fx or (fy, fx) == (1, 1):
        return None
    blocks = g.reshape(h // fy, fy, w // fx, fx).transpose(0, 2, 1, 3).reshape(h // fy, w // fx, fy * fx)
    first = blocks[:, :, 0]
    if (blocks == first[:, :, None]).all():
        return np.ascontiguousarray(first)
    counts = (blocks[:, :, :, None] == np.arange(10)).sum(axis=2)
    return counts.argmax(axis=2).astype(I8)


def tile(g: Grid, ny: int, nx: int) -> Grid | None:
    if g.shape[0] * ny > MAX_SIDE or g.shape[1] * nx > MAX_SIDE:
        return None
    return np.tile(g, (ny, nx))


def mirror_tile(g: Grid, how: str) -> Grid | None:
    """Grid next to its mirror image: 'h' [g | g flipped], 'v' (stacked), 'q' (2x2), 'h2'/'v2' mirror first."""
    lr, ud = g[:, ::-1], g[::-1]
    if how == "h":
        out = np.hstack([g, lr])
    elif how == "h2":
        out = np.hstack([lr, g])
    elif how == "v":
        out = np.vstack([g, ud])
    elif how == "v2":
        out = np.vstack([ud, g])
    elif how == "q":
        out = np.vstack([np.hstack([g, lr]), np.hstack([ud, g[::-1, ::-1]])])
    elif how == "r":  # rotations around the bottom-right corner
        if g.shape[0] != g.shape[1]:
            return None
        out = np.vstack([np.hstack([g, np.rot90(g, -1)]), np.hstack([np.rot90(g, 1), np.rot90(g, 2)])])
    else:
        out = np.vstack([np.hstack([g[::-1, ::-1], ud]), np.hstack([lr, g])])
    return ok(out)


def kron_self(g: Grid, invert: bool = False) -> Grid | None:
    """Fractal: each non-zero cell (or each zero cell) becomes a copy of the whole grid."""
    h, w = g.shape
    if h * h > MAX_SIDE or w * w > MAX_SIDE:
        return None
    mask = (g == 0) if invert else (g != 0)
    return np.kron(mask.astype(I8), g).astype(I8)


def kron_majority(g: Grid) -> Grid | None:
    """Each cell of the most common colour becomes a copy of the grid; the others become 0."""
    h, w = g.shape
    if h * h > MAX_SIDE or w * w > MAX_SIDE:
        return None
    return np.kron((g == majority(g)).astype(I8), g).astype(I8)


def upscale_by_colours(g: Grid) -> Grid | None:
    """Upscale by the number of distinct non-zero colours."""
    k = len(np.unique(g[g != 0]))
    return upscale(g, k, k) if k > 1 else None


def kron_colour(g: Grid) -> Grid | None:
    """Each cell becomes a copy of the grid's shape (non-zero mask) painted in that cell's colour."""
    h, w = g.shape
    if h * h > MAX_SIDE or w * w > MAX_SIDE:
        return None
    return np.kron(g, (g != 0).astype(I8)).astype(I8)


# ---- symmetry completion and pattern fill ---------------------------------------------------

def symmetrize(g: Grid, how: str, hole: int) -> Grid | None:
    """Fill cells of colour `hole` from their mirror images under the named symmetry (or group)."""
    holes = g == hole
    if not holes.any():
        return g
    images = {"lr": [g[:, ::-1]], "ud": [g[::-1]], "rot": [g[::-1, ::-1]],
              "both": [g[:, ::-1], g[::-1], g[::-1, ::-1]]}
    if how in ("diag", "d8"):
        if g.shape[0] != g.shape[1]:
            return None
        images["diag"] = [g.T]
        images["d8"] = [np.rot90(g, k) for k in (1, 2, 3)] + [g.T, g[::-1].T[::-1], g[::-1], g[:, ::-1]]
    out = g.copy()
    for im in images[how]:
        fill = (out == hole) & (im != hole)
        out[fill] = im[fill]
    return out


def _period_fill(g: Grid, hole: int, py: int, px: int) -> Grid | None:
    """Fill `hole` cells of a grid that repeats every (py, px), when every residue class agrees."""
    h, w = g.shape
    ys = np.arange(h) % py
    xs = np.arange(w) % px
    cls = (ys[:, None] * px + xs[None, :]).ravel()
    vals = g.ravel()
    known = vals != hole
    table = np.full(py * px, -1, np.int16)
    table[cls[known]] = vals[known]
    if (table[cls[known]] != vals[known]).any() or (table < 0).any():
        return None
    return table[cls].reshape(h, w).astype(I8)


def pattern_fill(g: Grid, hole: int, max_period: int = 10) -> Grid | None:
    """Complete a periodic (tiled) pattern whose `hole`-coloured cells were erased: smallest period wins."""
    h, w = g.shape
    if not (g == hole).any():
        return g
    periods = sorted(((py, px) for py in range(1, min(h, max_period) + 1) for px in range(1, min(w, max_period) + 1)
                      if py * px < h * w // 2), key=lambda t: (t[0] * t[1], t))
    for py, px in periods:
        r = _period_fill(g, hole, py, px)
        if r is not None:
            return r
    return None


# ---- topology -------------------------------------------------------------------------------

def outside(free: np.ndarray) -> np.ndarray:
    """Cells of `free` reachable (4-connected) from the border through free cells."""
    reach = np.zeros_like(free)
    reach[0, :] = free[0, :]
    reach[-1, :] = free[-1, :]
    reach[:, 0] |= free[:, 0]
    reach[:, -1] |= free[:, -1]
    while True:
        grow = reach.copy()
        grow[1:] |= reach[:-1]
        grow[:-1] |= reach[1:]
        grow[:, 1:] |= reach[:, :-1]
        grow[:, :-1] |= reach[:, 1:]
        grow &= free
        if np.array_equal(grow, reach):
            return reach
        reach = grow


def fill_holes(g: Grid, c: int) -> Grid | None:
    """Paint zero cells enclosed by non-zero cells (not reachable from the border) with colour c."""
    free = g == 0
    holes = free & ~outside(free)
    if not holes.any():
        return g
    out = g.copy()
    out[holes] = c
    return out


def _neighbours_all(mask: np.ndarray, diag: bool) -> np.ndarray:
    """Cells whose every neighbour (4 or 8; off-grid counts as outside) is in mask."""
    p = np.pad(mask, 1, constant_values=False)
    inner = p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    if diag:
        inner &= p[:-2, :-2] & p[:-2, 2:] & p[2:, :-2] & p[2:, 2:]
    return inner


def outline(g: Grid) -> Grid | None:
    """Keep only the border cells of non-zero regions (erase their interiors)."""
    nz = g != 0
    same = np.zeros_like(nz)
    p = np.pad(g, 1, constant_values=-1)
    same = (p[:-2, 1:-1] == g) & (p[2:, 1:-1] == g) & (p[1:-1, :-2] == g) & (p[1:-1, 2:] == g)
    inner = nz & same
    if not inner.any():
        return g
    return np.where(inner, 0, g).astype(I8)


def interior(g: Grid, c: int) -> Grid | None:
    """Paint the interior cells of same-coloured non-zero regions with colour c."""
    p = np.pad(g, 1, constant_values=-1)
    same = (p[:-2, 1:-1] == g) & (p[2:, 1:-1] == g) & (p[1:-1, :-2] == g) & (p[1:-1, 2:] == g)
    same &= (p[:-2, :-2] == g) & (p[:-2, 2:] == g) & (p[2:, :-2] == g) & (p[2:, 2:] == g)
    inner = same & (g != 0)
    if not inner.any():
        return g
    return np.where(inner, c, g).astype(I8)


def halo(g: Grid, c: int, diag: bool, plus: bool = True) -> Grid | None:
    """Paint zero cells next to non-zero cells with colour c: side neighbours (`plus`), corner ones (`diag`)."""
    nz = np.pad(g != 0, 1)
    near = np.zeros(g.shape, bool)
    if plus:
        near |= nz[:-2, 1:-1] | nz[2:, 1:-1] | nz[1:-1, :-2] | nz[1:-1, 2:]
    if diag:
        near |= nz[:-2, :-2] | nz[:-2, 2:] | nz[2:, :-2] | nz[2:, 2:]
    near &= g == 0
    if not near.any():
        return g
    return np.where(near, c, g).astype(I8)


# ---- gravity --------------------------------------------------------------------------------

def gravity(g: Grid, direction: str) -> Grid | None:
    """Let non-zero cells fall in a direction ('d', 'u', 'l', 'r'), each column (row) on its own."""
    t = {"d": g, "u": g[::-1], "r": g.T, "l": g.T[::-1]}[direction]
    nz = t != 0
    # stable sort by "is non-zero" puts zeros first (top) and keeps the order of the rest
    order = np.argsort(nz, axis=0, kind="stable")
    out = np.take_along_axis(t, order, axis=0)
    out = {"d": out, "u": out[::-1], "r": out.T, "l": out[::-1].T}[direction]
    return np.ascontiguousarray(out)
