"""Whole-grid primitives for the DSL: pure numpy functions grid -> grid (or None when they do not apply).

Families: geometry, cropping, colour, scaling and tiling, symmetry completion and pattern fill,
topology, gravity. Lines (lines.py), objects and separator splits live in objects.py. Background is colour 0
unless a function says otherwise; every result is an int8 array of 1-30 cells a side. The ones the
search composes carry `@primitive` (registry.py): their names, ranges and places in its list.
"""

from __future__ import annotations

import functools

import numpy as np

from arcforge.augment import SYMMETRY_NAMES, symmetry
from arcforge.dsl.registry import DOWN, HOLES, IN, NEW, OUT, OUT0, SIZES, TILES, UP, fillable, primitive
from arcforge.grid import MAX_SIDE, Grid, pad1, valid_shape

I8 = np.int8


def ok(g: Grid | None) -> Grid | None:
    """The one gate every primitive's result goes through: a valid grid or None."""
    if g is None or g.ndim != 2:
        return None
    if not valid_shape(*g.shape):
        return None
    return np.ascontiguousarray(g, dtype=I8)


def majority(g: Grid) -> int:
    return int(np.argmax(np.bincount(g.ravel(), minlength=10)))


# ---- geometry -------------------------------------------------------------------------------

# the 7 symmetries of the square besides the identity, from augment (the one implementation), in
# the order the search has always tried them
GEOMETRY = {name: functools.partial(symmetry, s=SYMMETRY_NAMES.index(name))
            for name in ("rot90", "rot180", "rot270", "flip_ud", "flip_lr", "transpose", "anti_transpose")}
primitive("{s}", 10, s={name: f.keywords["s"] for name, f in GEOMETRY.items()},
          shape=lambda h, w, s: (w, h) if (s % 2 == 1) != (s >= 4) else (h, w))(symmetry)


def shift(g: Grid, dy: int, dx: int, bg: int = 0) -> Grid:
    """Move everything by (dy, dx); cells that leave are lost, cells that enter are background."""
    h, w = g.shape
    out = np.full_like(g, bg)
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = g[ys, xs]
    return out


@primitive("shift{d}", 500, d={f"{dy:+d}{dx:+d}": (dy, dx) for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1))}, same_shape=True)
def shift_by(g: Grid, d: tuple[int, int]) -> Grid:
    return shift(g, *d)


# ---- cropping -------------------------------------------------------------------------------

def crop_mask(g: Grid, mask: np.ndarray) -> Grid | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return g[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]


@primitive("crop", 20)
def crop(g: Grid) -> Grid | None:
    """Bounding box of the non-zero cells."""
    return crop_mask(g, g != 0)


@primitive("crop_bg", 30)
def crop_majority(g: Grid) -> Grid | None:
    """Bounding box of cells unlike the most common colour (for grids whose background is not 0)."""
    return crop_mask(g, g != majority(g))


@primitive("crop_c{c}", (130, 0), c=IN)
def crop_colour(g: Grid, c: int) -> Grid | None:
    return crop_mask(g, g == c)


@primitive("inside_c{c}", (130, 1), c=IN)
def crop_inside_colour(g: Grid, c: int) -> Grid | None:
    """What lies strictly inside the bounding box of colour c (a frame drawn in c)."""
    r = crop_mask(np.arange(g.size).reshape(g.shape), g == c)
    if r is None or r.shape[0] < 3 or r.shape[1] < 3:
        return None
    y, x = divmod(int(r[0, 0]), g.shape[1])
    return g[y + 1: y + r.shape[0] - 1, x + 1: x + r.shape[1] - 1]


@primitive("drop_empty", 40)
def drop_empty_lines(g: Grid) -> Grid | None:
    """Remove every all-zero row and column."""
    return g[(g != 0).any(axis=1)][:, (g != 0).any(axis=0)]


@primitive("dedup", 50)
def dedup_lines(g: Grid) -> Grid:
    """Collapse runs of identical consecutive rows, then columns."""
    keep_r = np.ones(g.shape[0], bool)
    keep_r[1:] = (g[1:] != g[:-1]).any(axis=1)
    g = g[keep_r]
    keep_c = np.ones(g.shape[1], bool)
    keep_c[1:] = (g[:, 1:] != g[:, :-1]).any(axis=0)
    return g[:, keep_c]


@primitive("pad_edge", 70, shape=lambda h, w: (h + 2, w + 2))
def pad_edge(g: Grid) -> Grid | None:
    """Add a one-cell border that repeats the edge cells outwards (corners 0)."""
    out = np.pad(g, 1, mode="edge")
    out[0, 0] = out[0, -1] = out[-1, 0] = out[-1, -1] = 0
    return ok(out)


@primitive("strip_border", 60, shape=lambda h, w: (h - 2, w - 2) if min(h, w) > 2 else None)
def strip_border(g: Grid) -> Grid | None:
    return g[1:-1, 1:-1] if min(g.shape) > 2 else None


def _half_shape(h: int, w: int, which: str) -> tuple[int, int] | None:
    if which in ("top", "bottom"):
        return (h // 2, w) if h >= 2 else None
    return (h, w // 2) if w >= 2 else None


@primitive("half_{which}", 110, which=("top", "bottom", "left", "right"), shape=_half_shape)
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


@primitive("quarter_{vy}_{vx}", 120, vy=("top", "bottom"), vx=("left", "right"),
           shape=lambda h, w, vy, vx: (h // 2, w // 2) if min(h, w) >= 2 else None)
def quarter(g: Grid, vy: str, vx: str) -> Grid | None:
    t = half(g, vy)
    return None if t is None else half(t, vx)


# ---- colour ---------------------------------------------------------------------------------

@primitive("keep_c{c}", (130, 2), c=IN, same_shape=True)
def keep_colour(g: Grid, c: int) -> Grid:
    return np.where(g == c, g, 0).astype(I8)


@primitive("erase_c{c}", (130, 3), c=IN, same_shape=True, changes="c")
def erase_colour(g: Grid, c: int) -> Grid:
    return np.where(g == c, 0, g).astype(I8)


@primitive("paint_c{c}", (140, 0), c=OUT, same_shape=True)
def paint_nonzero(g: Grid, c: int) -> Grid:
    return np.where(g != 0, c, 0).astype(I8)


@primitive("{keep}_{most}", 145, keep={"keep": True, "erase": False}, most={"most": True, "least": False},
           same_shape=True)
def keep_by_count(g: Grid, keep: bool, most: bool) -> Grid | None:
    """Keep (or erase) the cells of the most (or least) common non-zero colour; none when the grid has
    fewer than two non-zero colours or two of them tie for it."""
    counts = np.bincount(g.ravel(), minlength=10)[1:10]
    present = counts[counts > 0]
    if present.size < 2:
        return None
    n = present.max() if most else present.min()
    if (present == n).sum() > 1:
        return None
    mask = g == int(np.flatnonzero(counts == n)[0]) + 1
    return np.where(mask if keep else ~mask, g, 0).astype(I8)


@primitive("bg_to_0", 150, same_shape=True)
def erase_majority(g: Grid) -> Grid:
    """Turn the background (most common colour) into 0."""
    m = majority(g)
    if m == 0:
        return g
    return np.where(g == m, 0, np.where(g == 0, m, g)).astype(I8)


@primitive("{most}_colour", 160, most={"most": True, "least": False})
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


@primitive("swap2", 170, same_shape=True)
def swap_two(g: Grid) -> Grid | None:
    """Exchange the two non-zero colours of a grid that has exactly two."""
    cs = np.flatnonzero(np.bincount(g.ravel(), minlength=10)[1:]) + 1
    if cs.size != 2:
        return None
    a, b = int(cs[0]), int(cs[1])
    return np.where(g == a, b, np.where(g == b, a, g)).astype(I8)


@primitive("colour_rank{skip_first}", 180, skip_first={"": False, "_rest": True})
def colour_ranking(g: Grid, skip_first: bool) -> Grid | None:
    """A column of the non-zero colours, most common first (ties: smaller colour first); `skip_first`
    leaves out the most common one (a background or grid colour)."""
    counts = np.bincount(g.ravel(), minlength=10)[1:]
    order = [int(c) + 1 for c in np.argsort(-counts, kind="stable") if counts[c] > 0]
    if skip_first:
        order = order[1:]
    return np.array(order, dtype=I8)[:, None] if order else None


@primitive("cells_row", 190)
def cells_row(g: Grid) -> Grid | None:
    """All non-zero cells in reading order, as one row."""
    v = g[g != 0]
    return v[None, :].astype(I8) if 0 < v.size <= MAX_SIDE else None


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


def _mirror_shape(h: int, w: int, how: str) -> tuple[int, int] | None:
    if how == "r" and h != w:
        return None
    return (h if how[0] == "h" else 2 * h, w if how[0] == "v" else 2 * w)


@primitive("mirror_{how}", 230, how=("h", "h2", "v", "v2", "q", "q2", "r"), shape=_mirror_shape)
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


@primitive("kron{invert}", 240, invert={"": False, "_inv": True})
def kron_self(g: Grid, invert: bool = False) -> Grid | None:
    """Fractal: each non-zero cell (or each zero cell) becomes a copy of the whole grid."""
    h, w = g.shape
    if h * h > MAX_SIDE or w * w > MAX_SIDE:
        return None
    mask = (g == 0) if invert else (g != 0)
    return np.kron(mask.astype(I8), g).astype(I8)


@primitive("kron_c{c}", 300, c=IN, when=lambda info, c: bool(info.ups))
def kron_colour_mask(g: Grid, c: int) -> Grid | None:
    """Each cell of colour c becomes a copy of the grid; the others become 0."""
    h, w = g.shape
    if h * h > MAX_SIDE or w * w > MAX_SIDE or not (g == c).any():
        return None
    return np.kron((g == c).astype(I8), g).astype(I8)


@primitive("up{f}", 200, f=UP, shape=lambda h, w, f: (h * f[0], w * f[1]))
def upscale_by(g: Grid, f: tuple[int, int]) -> Grid | None:
    return upscale(g, *f)


@primitive("down{f}", 210, f=DOWN,
           shape=lambda h, w, f: None if h % f[0] or w % f[1] or f == (1, 1) else (h // f[0], w // f[1]))
def downscale_by(g: Grid, f: tuple[int, int]) -> Grid | None:
    return downscale(g, *f)


@primitive("tile{f}", 220, f=TILES, shape=lambda h, w, f: (h * f[0], w * f[1]))
def tile_by(g: Grid, f: tuple[int, int]) -> Grid | None:
    return tile(g, *f)


def canvas(g: Grid, height: int, width: int) -> Grid | None:
    """The grid at the top left of a zero grid of height x width (at least as large)."""
    h, w = g.shape
    if height < h or width < w or (height, width) == (h, w) or height > MAX_SIDE or width > MAX_SIDE:
        return None
    out = np.zeros((height, width), I8)
    out[:h, :w] = g
    return out


@primitive("kron_major", 260)
def kron_majority(g: Grid) -> Grid | None:
    """Each cell of the most common colour becomes a copy of the grid; the others become 0."""
    h, w = g.shape
    if h * h > MAX_SIDE or w * w > MAX_SIDE:
        return None
    return np.kron((g == majority(g)).astype(I8), g).astype(I8)


@primitive("up_ncolours", 270)
def upscale_by_colours(g: Grid) -> Grid | None:
    """Upscale by the number of distinct non-zero colours."""
    k = len(np.unique(g[g != 0]))
    return upscale(g, k, k) if k > 1 else None


@primitive("kron_colour", 250)
def kron_colour(g: Grid) -> Grid | None:
    """Each cell becomes a copy of the grid's shape (non-zero mask) painted in that cell's colour."""
    h, w = g.shape
    if h * h > MAX_SIDE or w * w > MAX_SIDE:
        return None
    return np.kron(g, (g != 0).astype(I8)).astype(I8)


@primitive("largest_rect", 10, slow=True)
def largest_rect(g: Grid) -> Grid | None:
    """Only the largest solid rectangle of one non-zero colour (at least 2 x 2) kept, everything else
    erased: a block hidden in noise. None when two rectangles tie."""
    from arcforge.kernels import largest_block  # compiled: every start and end column of every row

    y0, y1, x0, x1, ties = largest_block(np.ascontiguousarray(g, dtype=I8))
    if y0 < 0 or ties:
        return None
    out = np.zeros_like(g)
    out[y0:y1, x0:x1] = g[y0:y1, x0:x1]
    return out


@primitive("fill_empty{k}{greedy}_c{c}", (20, 1), c=OUT0, k=(2, 3), greedy={"": False, "_greedy": True}, slow=True)
def fill_empty_windows(g: Grid, k: int, c: int, greedy: bool = False) -> Grid | None:
    """Every cell of a k x k window of zero cells painted c; with `greedy`, windows are taken in
    reading order of their top-left corners, each only if it still is all zero (so none overlap)."""
    h, w = g.shape
    if h < k or w < k:
        return None
    s = np.zeros((h + 1, w + 1), np.int32)  # summed-area table of the zero cells
    s[1:, 1:] = (g == 0).cumsum(0).cumsum(1)
    full = (s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]) == k * k  # windows by top-left corner
    if not full.any():
        return None
    if greedy:
        from arcforge.kernels import greedy_windows  # compiled: one window at a time, in order

        out = g.copy()
        out[greedy_windows(full, k)] = c
        return out
    cover = np.zeros((h, w), bool)
    for dy in range(k):
        for dx in range(k):
            cover[dy: dy + h - k + 1, dx: dx + w - k + 1] |= full
    out = g.copy()
    out[cover] = c
    return out


@primitive("fill_largest_empty_c{c}", (20, 0), c=OUT0, slow=True)
def fill_largest_empty(g: Grid, c: int) -> Grid | None:
    """The largest rectangle of zero cells (at least 2 cells wide and tall) painted c; None on a tie."""
    z = np.where(g == 0, 1, 0).astype(np.int8)
    r = largest_rect(z)
    if r is None:
        return None
    out = g.copy()
    out[r != 0] = c
    return out


@primitive("middle_{axis}", 100, axis={"row": 0, "col": 1}, same_shape=True)
def middle_line(g: Grid, axis: int) -> Grid | None:
    """Only the middle row (axis 0) or column (axis 1) kept, of a grid with an odd number of them."""
    n = g.shape[axis]
    if n % 2 == 0 or n < 3:
        return None
    out = np.zeros_like(g)
    if axis == 0:
        out[n // 2] = g[n // 2]
    else:
        out[:, n // 2] = g[:, n // 2]
    return out


# ---- symmetry completion and pattern fill ---------------------------------------------------

@primitive("sym_{how}_h{hole}", (310, 0), hole=HOLES, how=("lr", "ud", "rot", "both", "diag", "d8"), same_shape=True,
           changes="hole")
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


def _reflect(g: Grid, sy: int | None, sx: int | None, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The images of `cells` (a mask of g) mirrored in rows (y -> sy - y) and/or columns (x -> sx - x),
    as (ys, xs, colours) kept inside the grid."""
    ys, xs = np.nonzero(cells)
    vals = g[ys, xs]
    ny = ys if sy is None else sy - ys
    nx = xs if sx is None else sx - xs
    h, w = g.shape
    ok = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
    return ny[ok], nx[ok], vals[ok]


@primitive("mirror_about_c{c}_{how}", 400, c=IN, how=("h", "v", "hv", "edge"), same_shape=True,
           changes=lambda how, **_: None if how == "edge" else 0)
def mirror_about(g: Grid, c: int, how: str) -> Grid | None:
    """Mirror the other non-zero cells about the cells of colour c (a marker): across the horizontal
    ("h") or vertical ("v") centre line of the marker's box, or both and the half-turn ("hv"), the
    images filling empty cells; or ("edge") across the side of the marker's box that faces the rest,
    the images painted over the marker."""
    if how != "edge":
        from arcforge.kernels import mirror_cells  # compiled: one pass per axis

        out, found = mirror_cells(np.ascontiguousarray(g, dtype=I8), int(c), how != "v", how != "h")
        return out if found else None
    m = g == c
    body = (g != 0) & ~m
    if not m.any() or not body.any():
        return None
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    brows, bcols = np.flatnonzero(body.any(axis=1)), np.flatnonzero(body.any(axis=0))
    if bcols[-1] < x0:
        sy, sx = None, 2 * x0 - 1
    elif bcols[0] >= x1:
        sy, sx = None, 2 * x1 - 1
    elif brows[-1] < y0:
        sy, sx = 2 * y0 - 1, None
    elif brows[0] >= y1:
        sy, sx = 2 * y1 - 1, None
    else:
        return None
    ny, nx, v = _reflect(g, sy, sx, body)
    out = g.copy()
    out[ny, nx] = v
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


@primitive("pattern_h{hole}", (310, 1), hole=HOLES, when=fillable, same_shape=True, changes="hole")
def pattern_fill(g: Grid, hole: int, max_period: int = 10) -> Grid | None:
    """Complete a periodic (tiled) pattern whose `hole`-coloured cells were erased: smallest period wins."""
    h, w = g.shape
    if not (g == hole).any():
        return g
    known = g != hole

    def holds(d: int, axis: int) -> bool:  # cells d apart along the axis agree where both are known
        a, b = (g[:-d], g[d:]) if axis == 0 else (g[:, :-d], g[:, d:])
        ka, kb = (known[:-d], known[d:]) if axis == 0 else (known[:, :-d], known[:, d:])
        return not ((a != b) & ka & kb).any()
    # a period's classes can only agree if its two steps do: test each side's steps once
    ys = [d for d in range(1, min(h, max_period) + 1) if d == h or holds(d, 0)]
    xs = [d for d in range(1, min(w, max_period) + 1) if d == w or holds(d, 1)]
    periods = sorted(((py, px) for py in ys for px in xs if py * px < h * w // 2), key=lambda t: (t[0] * t[1], t))
    for py, px in periods:
        r = _period_fill(g, hole, py, px)
        if r is not None:
            return r
    return None


# ---- topology -------------------------------------------------------------------------------

def grow_within(seed: np.ndarray, free: np.ndarray) -> np.ndarray:
    """The cells of `free` reachable (4-connected, through free cells) from the cells of `seed`."""
    from arcforge.kernels import reach_within  # compiled: a flood fill

    return reach_within(np.ascontiguousarray(seed), np.ascontiguousarray(free))


def outside(free: np.ndarray) -> np.ndarray:
    """Cells of `free` reachable (4-connected) from the border through free cells."""
    edge = np.zeros_like(free)
    edge[[0, -1], :] = True
    edge[:, [0, -1]] = True
    return grow_within(edge, free)


@primitive("fill_holes_c{c}", 320, c=OUT, same_shape=True, changes=0)
def fill_holes(g: Grid, c: int) -> Grid | None:
    """Paint zero cells enclosed by non-zero cells (not reachable from the border) with colour c."""
    free = g == 0
    holes = free & ~outside(free)
    if not holes.any():
        return g
    out = g.copy()
    out[holes] = c
    return out


@primitive("flood_c{c}", 330, c=IN, same_shape=True, changes=0)
def flood_from(g: Grid, c: int) -> Grid | None:
    """Paint with colour c every region of zero cells (4-connected) that touches a cell of colour c."""
    free = g == 0
    p = pad1(g == c)
    seed = free & (p[:-2, 1:-1] | p[2:, 1:-1] | p[1:-1, :-2] | p[1:-1, 2:])
    if not seed.any():
        return None
    reach = grow_within(seed, free)
    return np.where(reach, c, g).astype(I8)


@primitive("{axis}_majority", 340, axis={"row": 1, "col": 0, "stripe": None}, same_shape=True)
def line_majority(g: Grid, axis: int | None) -> Grid | None:
    """Every row (axis 1) or column (axis 0) painted its most common colour: stripes cleaned of noise.
    With axis None, the direction that changes fewer cells."""
    if axis is None:
        rows, cols = line_majority(g, 1), line_majority(g, 0)
        return rows if (rows != g).sum() <= (cols != g).sum() else cols
    lines = g if axis == 1 else g.T
    counts = (lines[:, :, None] == np.arange(10)).sum(axis=1)
    main = counts.argmax(axis=1).astype(I8)
    out = np.repeat(main[:, None], lines.shape[1], axis=1)
    return out if axis == 1 else np.ascontiguousarray(out.T)


def _neighbours_all(mask: np.ndarray, diag: bool) -> np.ndarray:
    """Cells whose every neighbour (4 or 8; off-grid counts as outside) is in mask."""
    p = pad1(mask, False)
    inner = p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    if diag:
        inner &= p[:-2, :-2] & p[:-2, 2:] & p[2:, :-2] & p[2:, 2:]
    return inner


@primitive("outline", 370, same_shape=True)
def outline(g: Grid) -> Grid | None:
    """Keep only the border cells of non-zero regions (erase their interiors)."""
    nz = g != 0
    same = np.zeros_like(nz)
    p = pad1(g, -1)
    same = (p[:-2, 1:-1] == g) & (p[2:, 1:-1] == g) & (p[1:-1, :-2] == g) & (p[1:-1, 2:] == g)
    inner = nz & same
    if not inner.any():
        return g
    return np.where(inner, 0, g).astype(I8)


@primitive("interior_c{c}", (360, 0), c=NEW, same_shape=True)
def interior(g: Grid, c: int) -> Grid | None:
    """Paint the interior cells of same-coloured non-zero regions with colour c."""
    p = pad1(g, -1)
    same = (p[:-2, 1:-1] == g) & (p[2:, 1:-1] == g) & (p[1:-1, :-2] == g) & (p[1:-1, 2:] == g)
    same &= (p[:-2, :-2] == g) & (p[:-2, 2:] == g) & (p[2:, :-2] == g) & (p[2:, 2:] == g)
    inner = same & (g != 0)
    if not inner.any():
        return g
    return np.where(inner, c, g).astype(I8)


@primitive("halo4_c{c}", (360, 1), c=NEW, fixed={"diag": False}, same_shape=True, changes=0)
@primitive("halo8_c{c}", (360, 2), c=NEW, fixed={"diag": True}, same_shape=True, changes=0)
@primitive("halox_c{c}", (360, 3), c=NEW, fixed={"diag": True, "plus": False}, same_shape=True, changes=0)
def halo(g: Grid, c: int, diag: bool, plus: bool = True) -> Grid | None:
    """Paint zero cells next to non-zero cells with colour c: side neighbours (`plus`), corner ones (`diag`)."""
    from arcforge.kernels import halo_cells  # compiled: one pass over the cells

    out, changed = halo_cells(np.ascontiguousarray(g, dtype=I8), int(c), bool(plus), bool(diag))
    return out if changed else g


@primitive("cross_c{c}", (360, 4), c=NEW, same_shape=True, changes=0)
def cross(g: Grid, c: int) -> Grid | None:
    """A full row and column line through every non-zero cell, in its colour; where lines of two or
    more colours meet, colour c. The cells themselves keep their colour. At most 12 sources."""
    nz = g != 0
    if not nz.any() or nz.sum() > 12:
        return None
    bits = np.where(nz, np.left_shift(1, g.astype(np.int32)), 0)
    mask = np.bitwise_or.reduce(bits, axis=1)[:, None] | np.bitwise_or.reduce(bits, axis=0)[None, :]
    single = (mask & (mask - 1)) == 0  # one colour (or none) crosses the cell
    colour = np.log2(np.maximum(mask, 1)).astype(I8)
    out = np.where(single, np.where(mask > 0, colour, 0), c)
    return np.where(nz, g, out).astype(I8)


# ---- gravity --------------------------------------------------------------------------------

@primitive("gravity_{direction}", 510, direction=("u", "d", "l", "r"), same_shape=True)
def gravity(g: Grid, direction: str) -> Grid | None:
    """Let non-zero cells fall in a direction ('d', 'u', 'l', 'r'), each column (row) on its own."""
    t = {"d": g, "u": g[::-1], "r": g.T, "l": g.T[::-1]}[direction]
    nz = t != 0
    # stable sort by "is non-zero" puts zeros first (top) and keeps the order of the rest
    order = np.argsort(nz, axis=0, kind="stable")
    out = np.take_along_axis(t, order, axis=0)
    out = {"d": out, "u": out[::-1], "r": out.T, "l": out[::-1].T}[direction]
    return np.ascontiguousarray(out)


@primitive("rings_{how}", 350, how=("reverse", "inward"), same_shape=True)
def rings(g: Grid, how: str) -> Grid | None:
    """A grid of concentric one-colour rings (by distance to the edge) recoloured: its colours, in the
    order they first appear from the edge inward, reversed ("reverse") or each passed to the next
    ring in ("inward", the innermost going to the edge). None when a ring has several colours."""
    h, w = g.shape
    ys, xs = np.indices((h, w))
    depth = np.minimum(np.minimum(ys, h - 1 - ys), np.minimum(xs, w - 1 - xs))
    n = int(depth.max()) + 1
    first = np.zeros(n, np.int64)
    first[depth.ravel()[::-1]] = g.ravel()[::-1]  # some cell's colour per ring
    if (g != first[depth]).any():
        return None
    bands = list(dict.fromkeys(int(c) for c in first))  # the colours, outermost first, each once
    if len(bands) < 2:
        return None
    new = bands[::-1] if how == "reverse" else bands[-1:] + bands[:-1]
    lut = np.arange(10)
    lut[bands] = new
    return lut[g].astype(I8)


# ---- boxes and rigid moves ------------------------------------------------------------------

@primitive("fill_boxes_c{c}", (380, 0), c=NEW, same_shape=True, changes=0)
def fill_boxes(g: Grid, c: int, diag: bool = True) -> Grid | None:
    """Paint the zero cells inside the bounding box of each object (non-zero component) with c."""
    from arcforge.dsl.objects import objects

    objs = objects(g, diag, False)
    if not objs:
        return None
    out = g.copy()
    for o in objs:
        box = out[o.y0: o.y1, o.x0: o.x1]
        box[box == 0] = c
    return out


@primitive("fill_colour_boxes", 390, same_shape=True, changes=0)
def fill_colour_boxes(g: Grid) -> Grid | None:
    """Fill the bounding box of each non-zero colour's cells with that colour (where it is 0)."""
    from arcforge.kernels import fill_boxes_by_colour  # compiled: one pass for every colour's box

    return fill_boxes_by_colour(np.ascontiguousarray(g, dtype=I8))


@primitive("slide_c{c}", (410, 0), c=IN, fixed={"toward": None}, same_shape=True)
def slide(g: Grid, c: int, toward: int | None) -> Grid | None:
    """Move all cells of colour c together, in a straight line toward the cells of colour `toward`
    (None: all other non-zero cells), until they touch or would overlap them."""
    mover = g == c
    other = (g == toward) if toward is not None else ((g != 0) & ~mover)
    if not mover.any() or not other.any():
        return None
    my, mx = np.nonzero(mover)
    oy, ox = np.nonzero(other)
    if my.max() < oy.min():
        dy, dx = 1, 0
    elif my.min() > oy.max():
        dy, dx = -1, 0
    elif mx.max() < ox.min():
        dy, dx = 0, 1
    elif mx.min() > ox.max():
        dy, dx = 0, -1
    else:
        return None
    rest = np.where(mover, 0, g)
    h, w = g.shape
    k = 0
    while True:
        ny, nx = my + (k + 1) * dy, mx + (k + 1) * dx
        if ny.min() < 0 or nx.min() < 0 or ny.max() >= h or nx.max() >= w or (rest[ny, nx] != 0).any():
            break
        k += 1
    if k == 0:
        return None
    out = rest.copy()
    out[my + k * dy, mx + k * dx] = c
    return out


# ---- pattern continuation -------------------------------------------------------------------

def _continue_rows(g: Grid, height: int) -> Grid | None:
    """Grow g downwards to `height` rows by its smallest period: a step of py rows, possibly shifted
    sideways by dx columns (cells shifted in from outside are 0)."""
    h, w = g.shape
    if height <= h:
        return g[:height] if height == h else None
    for py in range(1, h):
        for dx in sorted(range(-w + 1, w), key=abs):
            src = shift(g, py, dx)  # src[y, x] = g[y - py, x - dx]
            if np.array_equal(src[py:], g[py:]):
                out = np.zeros((height, w), I8)
                out[:h] = g
                for y in range(h, height):
                    row = out[y - py]
                    if dx >= 0:
                        out[y, dx:] = row[: w - dx]
                    else:
                        out[y, :dx] = row[-dx:]
                return out
    return None


def continue_pattern(g: Grid, height: int, width: int) -> Grid | None:
    """Extend a repeating pattern to height x width: downwards, then rightwards."""
    if height > MAX_SIDE or width > MAX_SIDE or (height, width) == g.shape:
        return None
    r = _continue_rows(g, height)
    if r is None:
        return None
    r = _continue_rows(np.ascontiguousarray(r.T), width)
    return None if r is None else np.ascontiguousarray(r.T)


@primitive("continue_{size}", (290, 0), size=SIZES)
def continue_to(g: Grid, size) -> Grid | None:
    """`continue_pattern` to the shape `size(g.shape)` (a `target_sizes` rule)."""
    s = size(g.shape)
    return None if s is None else continue_pattern(g, *s)


@primitive("canvas_{size}", (290, 1), size=SIZES)
def canvas_to(g: Grid, size) -> Grid | None:
    """`canvas` of the shape `size(g.shape)` (a `target_sizes` rule)."""
    s = size(g.shape)
    return None if s is None else canvas(g, *s)


@primitive("{whole}_{axis}", 280, whole={"extend": False, "tile": True}, axis={"rows": 0, "cols": 1}, same_shape=True,
           changes=0)
def extend_period(g: Grid, axis: int, whole: bool = False) -> Grid | None:
    """Repeat the band of rows (axis 0) or columns (axis 1) that holds the non-zero cells over the whole
    grid, with the band's smallest period (or the whole band as one period)."""
    t = g if axis == 0 else g.T
    rows = np.flatnonzero((t != 0).any(axis=1))
    if rows.size == 0:
        return None
    a, b = int(rows[0]), int(rows[-1]) + 1
    if a == 0 and b == t.shape[0]:
        return None
    band = t[a:b]
    n = b - a
    p = n if whole else next(k for k in range(1, n + 1) if k == n or np.array_equal(band[k:], band[:-k]))
    idx = a + (np.arange(t.shape[0]) - a) % p
    out = t[idx]
    return np.ascontiguousarray(out if axis == 0 else out.T)


DIRS8 = ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))


@primitive("attract_c{k}", (410, 1), k=IN, same_shape=True)
@primitive("attract_paint_c{k}", (410, 2), k=IN, fixed={"paint": True}, same_shape=True)
def attract(g: Grid, k: int, paint: bool = False) -> Grid | None:
    """Every non-zero cell not of colour k that sees a cell of colour k along a row or column (else a
    diagonal) moves toward it until it touches it or a cell that already arrived; the nearest cells
    move first. With `paint`, the cells that arrive take colour k."""
    h, w = g.shape
    if not (g == k).any():
        return None
    movers = [tuple(m) for m in np.argwhere((g != 0) & (g != k)).tolist()]
    if not movers or len(movers) > 40:
        return None
    out = g.tolist()
    settled = [[v == k for v in row] for row in out]

    def step(y, x):
        """(distance, dy, dx) of the nearest settled cell this cell sees, rows and columns first."""
        best = None
        for j, (dy, dx) in enumerate(DIRS8):
            if j == 4 and best is not None:
                break
            yy, xx, d = y + dy, x + dx, 1
            while 0 <= yy < h and 0 <= xx < w:
                if settled[yy][xx]:
                    if best is None or d < best[0]:
                        best = (d, dy, dx)
                    break
                if out[yy][xx] != 0:
                    break
                yy, xx, d = yy + dy, xx + dx, d + 1
        return best

    first = {m: step(*m) for m in movers}
    moved = False
    for y, x in sorted((m for m in movers if first[m] is not None), key=lambda m: first[m][0]):
        got = step(y, x)
        if got is None:
            continue
        d, dy, dx = got
        c = k if paint else out[y][x]
        out[y][x] = 0
        ny, nx = y + (d - 1) * dy, x + (d - 1) * dx
        out[ny][nx] = c
        settled[ny][nx] = True
        moved |= d > 1 or paint
    return np.array(out, dtype=I8) if moved else None


# ---- symmetry about an off-centre axis ------------------------------------------------------

def _mirror_sum(g: Grid, hole: int, axis: int) -> int | None:
    """The s for which cell i along `axis` mirrors cell s - i with no disagreement between known cells,
    the one pairing the most known cells (at least half of them); None if there is none."""
    from arcforge.kernels import mirror_sum  # compiled: one pass over the cells per candidate axis

    s = mirror_sum(np.ascontiguousarray(g if axis == 1 else g.T), int(hole))
    return None if s < 0 else int(s)


@primitive("sym_axes_h{hole}", (310, 2), hole=HOLES, same_shape=True, changes="hole")
def symmetrize_offset(g: Grid, hole: int) -> Grid | None:
    """Fill cells of colour `hole` from their mirror images across the left-right and up-down axes
    (which need not be the grid's middle lines) and through the centre."""
    if not (g == hole).any():
        return None
    h, w = g.shape
    s, t = _mirror_sum(g, hole, 1), _mirror_sum(g, hole, 0)
    if s is None and t is None:
        return None
    ys, xs = np.indices((h, w))
    out = g.copy()
    maps = []
    if s is not None:
        maps.append((ys, s - xs))
    if t is not None:
        maps.append((t - ys, xs))
    if s is not None and t is not None:
        maps.append((t - ys, s - xs))
    for my, mx in maps:
        valid = (my >= 0) & (my < h) & (mx >= 0) & (mx < w)
        src = np.full((h, w), hole, I8)
        src[valid] = out[my[valid], mx[valid]]
        fill = (out == hole) & (src != hole)
        out[fill] = src[fill]
    return out


def _symmetrize_d8(g: Grid, hole: int) -> Grid | None:
    return symmetrize(g, "d8", hole)


@primitive("{fill}_crop_h{hole}", (310, 5), hole=HOLES, when=fillable,
           fill={"pattern": pattern_fill, "sym_axes": symmetrize_offset, "sym_d8": _symmetrize_d8})
def crop_filled(g: Grid, fill, hole: int) -> Grid | None:
    """What `fill(g, hole)` puts where the `hole`-coloured cells were (their bounding box)."""
    r = fill(g, hole)
    if r is None or r.shape != g.shape:
        return None
    return crop_mask(r, g == hole)


@primitive("sym_centre_h{hole}", (310, 3), hole=HOLES, same_shape=True, changes="hole")
@primitive("sym_turns_h{hole}", (310, 4), hole=HOLES, fixed={"turns_only": True}, same_shape=True, changes="hole")
def symmetrize_centre(g: Grid, hole: int = 0, turns_only: bool = False) -> Grid | None:
    """Complete a figure that is symmetric about its own centre (near the middle of its bounding box):
    every symmetry of the square about that centre (or only the turns) that no two known cells
    contradict, and that keeps the figure on the grid, fills the cells of colour `hole` it maps known
    cells onto."""
    from arcforge.kernels import symmetrize_about_centre  # compiled: the search calls this very often

    out, changed = symmetrize_about_centre(np.ascontiguousarray(g), int(hole), bool(turns_only))
    return out if changed else None


@primitive("spiral_c{c}", (140, 1), c=OUT, same_shape=True, changes=0)
def spiral(g: Grid, c: int) -> Grid | None:
    """An empty grid filled with a clockwise square spiral of c from the top-left corner, one empty
    cell between its turns; None for a grid that is not empty."""
    if g.any():
        return None
    h, w = g.shape
    out = np.zeros_like(g)
    out[0, 0] = c
    steps = ((0, 1), (1, 0), (0, -1), (-1, 0))
    y = x = d = 0
    turned = 0
    while turned < 2:
        dy, dx = steps[d]
        ny, nx, fy, fx = y + dy, x + dx, y + 2 * dy, x + 2 * dx
        if 0 <= ny < h and 0 <= nx < w and not out[ny, nx] and not (0 <= fy < h and 0 <= fx < w and out[fy, fx]):
            y, x, turned = ny, nx, 0
            out[y, x] = c
        else:
            d, turned = (d + 1) % 4, turned + 1
    return out


def _shear_shape(h: int, w: int, up: bool, axis: int) -> tuple[int, int] | None:
    if axis == 1:
        return (h + w - 1, w) if w >= 2 else None
    return (h, w + h - 1) if h >= 2 else None


@primitive("shear{axis}_{up}", 80, axis={"x": 0, "y": 1}, up={"up": True, "down": False}, shape=_shear_shape)
def shear(g: Grid, up: bool, axis: int = 0) -> Grid | None:
    """Rows slid sideways into a parallelogram on a wider zero canvas: row i moves right by h-1-i (`up`:
    the top row furthest right) or by i; with axis 1 the same for columns, slid down."""
    if axis == 1:
        t = shear(np.ascontiguousarray(g.T), up)
        return None if t is None else np.ascontiguousarray(t.T)
    h, w = g.shape
    if h < 2 or w + h - 1 > MAX_SIDE:
        return None
    out = np.zeros((h, w + h - 1), g.dtype)
    for i in range(h):
        k = h - 1 - i if up else i
        out[i, k: k + w] = g[i]
    return out


@primitive("mirror_dividers", 90, same_shape=True)
def mirror_dividers(g: Grid) -> Grid | None:
    """The pattern beside one-colour dividing lines (a full row and/or a full column) mirrored across
    each of them onto the cells of the grid's most common colour; None without exactly one divider
    of each kind present (at least one in all) or without anything to mirror."""
    bg = int(np.bincount(g.ravel(), minlength=10).argmax())
    rows = np.flatnonzero((g == g[:, :1]).all(axis=1) & (g[:, 0] != bg)).tolist()
    cols = np.flatnonzero((g == g[:1]).all(axis=0) & (g[0] != bg)).tolist()
    if len(rows) > 1 or len(cols) > 1 or not rows + cols:
        return None
    out = g.copy()
    ys, xs = np.nonzero(g != bg)
    keep = ~np.isin(ys, rows) & ~np.isin(xs, cols)
    ys, xs = ys[keep], xs[keep]
    if not len(ys):
        return None
    images = [(ys, xs)]
    if rows:
        images.append((2 * rows[0] - ys, xs))
    if cols:
        images.append((ys, 2 * cols[0] - xs))
    if rows and cols:
        images.append((2 * rows[0] - ys, 2 * cols[0] - xs))
    vals = g[ys, xs]
    for iy, ix in images[1:]:
        ok = (iy >= 0) & (iy < g.shape[0]) & (ix >= 0) & (ix < g.shape[1])
        ty, tx, v = iy[ok], ix[ok], vals[ok]
        free = out[ty, tx] == bg
        out[ty[free], tx[free]] = v[free]
    return out
