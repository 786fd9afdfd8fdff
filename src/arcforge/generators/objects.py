"""Object rules: recolour by size, rank, shape; halos and stamps around cells; enclosed areas;
rectangles and their insides."""

from __future__ import annotations

import numpy as np

from arcforge.generators._registry import Reject, register
from arcforge.generators._util import (
    COLOURS,
    NEIGH4,
    NEIGH8,
    bbox,
    components,
    distinct,
    mask_of,
    noise,
    pick,
    place,
    rint,
    shape_mask,
    zeros,
)


def _scatter(rng, h, w, masks, colours, gap=1, canvas=None):
    """Draw masks at random free places of an h x w canvas, each in its colour."""
    g = zeros(h, w) if canvas is None else canvas
    corners = place(rng, h, w, [m.shape for m in masks], gap, occupied=g != 0)
    for (y, x), m, c in zip(corners, masks, colours):
        sub = g[y:y + m.shape[0], x:x + m.shape[1]]
        sub[m] = c
    return g


def _sized_shape(rng, n, hmax=4, wmax=4, diag=False):
    """A connected mask of exactly n cells (grown cell by cell), cropped to its bounding box."""
    steps = NEIGH8 if diag else NEIGH4
    for _ in range(50):
        cells = {(0, 0)}
        order = [(0, 0)]
        while len(cells) < n:
            y, x = order[int(rng.integers(len(order)))]
            dy, dx = steps[int(rng.integers(len(steps)))]
            if (y + dy, x + dx) not in cells:
                cells.add((y + dy, x + dx))
                order.append((y + dy, x + dx))
        a = np.array(order)
        a -= a.min(axis=0)
        h, w = a.max(axis=0) + 1
        if h <= hmax and w <= wmax:
            m = np.zeros((h, w), dtype=bool)
            m[a[:, 0], a[:, 1]] = True
            return m
    raise Reject("shape size")


def _sizes_of(g, colour=None, diag=False):
    return [(c, cells) for c, cells in components(g, 0, diag) if colour is None or c == colour]


# ---- recolour objects by a property ----

def _corner_colour_input(rng):
    a, b = distinct(rng, 2)
    g = zeros(7, 7)
    g[1:6, 1:6][shape_mask(rng, 5, 5, rng.uniform(0.4, 0.7))] = a
    g[6, 0] = b
    return g


@register("aabf363d", _corner_colour_input)
def recolour_to_corner(g):
    b = int(g[-1, 0])
    out = g.copy()
    out[-1, 0] = 0
    out[out != 0] = b
    return out


@register("67385a82", lambda rng: noise(rng, rint(rng, 3, 7), rint(rng, 3, 7), (3,), rng.uniform(0.3, 0.6)))
def big_threes_to_eight(g):
    out = g.copy()
    for _c, cells in _sizes_of(g, 3):
        if len(cells) >= 2:
            out[cells[:, 0], cells[:, 1]] = 8
    return out


def _some_lonely_twos(rng):
    g = noise(rng, rint(rng, 3, 6), rint(rng, 3, 6), (2,), rng.uniform(0.3, 0.6))
    if not any(len(cells) == 1 for _, cells in components(g, 0)):
        raise Reject("no lonely 2")
    return g


@register("aedd82e4", _some_lonely_twos)
def lonely_twos_to_one(g):
    out = g.copy()
    for _c, cells in _sizes_of(g, 2):
        if len(cells) == 1:
            out[cells[:, 0], cells[:, 1]] = 1
    return out


def _shapes_input(sizes, h=10, w=10, colour=5, n=(3, 6), diag=False):
    def make(rng):
        k = rint(rng, *n)
        masks = [_sized_shape(rng, pick(rng, sizes), diag=diag) for _ in range(k)]
        return _scatter(rng, h, w, masks, [colour] * k)

    return make


def _recolour_by_size(g, table, colour=5, diag=False, other=None):
    out = g.copy()
    for _c, cells in _sizes_of(g, colour, diag):
        new = table.get(len(cells), other)
        if new is None:
            raise Reject("size not in table")
        out[cells[:, 0], cells[:, 1]] = new
    return out


@register("6e82a1ae", _shapes_input((2, 3, 4), n=(4, 7)))
def recolour_by_size(g):
    return _recolour_by_size(g, {4: 1, 3: 2, 2: 3})


@register("d2abd087", _shapes_input((3, 4, 5, 6, 6, 7, 8), n=(4, 7)))
def six_cells_two_else_one(g):
    return _recolour_by_size(g, {6: 2}, other=1)


def _bars_input(cols, bottom=True, distinct_heights=True):
    def make(rng):
        h = w = 9
        g = zeros(h, w)
        k = rint(rng, 3, len(cols))
        where = sorted(pick(rng, cols, k))
        heights = pick(rng, range(1, h + 1), k) if distinct_heights else [rint(rng, 1, h) for _ in where]
        for c, ht in zip(where, heights):
            g[h - ht:, c] = 5
        return g

    return make


@register("08ed6ac7", _bars_input((1, 3, 5, 7)))
def bars_by_height_rank(g):
    # four bars: tallest 1, then 2, 3, 4
    bars = [(int((g[:, c] != 0).sum()), c) for c in range(g.shape[1]) if g[:, c].any()]
    if len(bars) != 4 or len({b[0] for b in bars}) != 4:
        raise Reject("needs four bars of distinct heights")
    out = g.copy()
    for rank, (_, c) in enumerate(sorted(bars, reverse=True)):
        out[:, c][g[:, c] != 0] = rank + 1
    return out


@register("a61f2674", _bars_input((0, 2, 4, 6, 8)))
def tallest_and_shortest_bar(g):
    bars = sorted((int((g[:, c] != 0).sum()), c) for c in range(g.shape[1]) if g[:, c].any())
    if len(bars) < 2 or bars[0][0] == bars[1][0] or bars[-1][0] == bars[-2][0]:
        raise Reject("ties")
    out = zeros(*g.shape)
    out[:, bars[-1][1]][g[:, bars[-1][1]] != 0] = 1
    out[:, bars[0][1]][g[:, bars[0][1]] != 0] = 2
    return out


def _three_lines(rng):
    g = zeros(10, 10)
    lengths = pick(rng, range(1, 8), 3)
    vertical = rng.random() < 0.5
    masks = [np.ones((n, 1) if vertical else (1, n), dtype=bool) for n in lengths]
    return _scatter(rng, 10, 10, masks, [5] * 3, canvas=g)


@register("ea32f347", _three_lines)
def lines_by_length(g):
    objs = _sizes_of(g, 5)
    if len(objs) != 3 or len({len(c) for _, c in objs}) != 3:
        raise Reject("needs three lines of distinct lengths")
    out = g.copy()
    for colour, (_, cells) in zip((1, 4, 2), sorted(objs, key=lambda o: -len(o[1]))):
        out[cells[:, 0], cells[:, 1]] = colour
    return out


def _norm(cells):
    cells = cells - cells.min(axis=0)
    return tuple(sorted(map(tuple, cells.tolist())))


def _odd_one_input(rng):
    a = _sized_shape(rng, rint(rng, 4, 8), 3, 4)
    while True:
        b = _sized_shape(rng, rint(rng, 4, 8), 3, 4)
        if b.shape != a.shape or not np.array_equal(a, b):
            break
    colour = pick(rng, COLOURS)
    return _scatter(rng, 10, 10, [a, a, b], [colour] * 3)


@register("b230c067", _odd_one_input)
def odd_shape_two_pair_one(g):
    objs = components(g, 0, diag=True)
    if len(objs) != 3:
        raise Reject("needs three shapes")
    keys = [_norm(c) for _, c in objs]
    out = g.copy()
    for key, (_, cells) in zip(keys, objs):
        out[cells[:, 0], cells[:, 1]] = 1 if keys.count(key) == 2 else 2
    if (out == 2).sum() == 0:
        raise Reject("no odd one")
    return out


# ---- halos and stamps around single cells ----

def _points(colours, h=(6, 12), k=(1, 4), gap=1):
    def make(rng):
        hh, ww = rint(rng, *h), rint(rng, *h)
        n = rint(rng, *k)
        [np.ones((1, 1), dtype=bool)] * n
        g = zeros(hh, ww)
        corners = place(rng, hh, ww, [(1 + 2 * gap, 1 + 2 * gap)] * n, 0)
        for (y, x) in corners:
            g[y + gap, x + gap] = pick(rng, colours)
        return g

    return make


def _stamp(g, colour, pattern, only_empty=True):
    """Around each cell of `colour`, write pattern (3x3, -1 = leave) centred on it."""
    out = g.copy()
    h, w = g.shape
    for y, x in zip(*np.nonzero(g == colour)):
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                v = pattern[dy + 1][dx + 1]
                yy, xx = y + dy, x + dx
                if v >= 0 and 0 <= yy < h and 0 <= xx < w and (not only_empty or g[yy, xx] == 0):
                    out[yy, xx] = v
    return out


_RING = lambda c: [[c, c, c], [c, -1, c], [c, c, c]]


@register("4258a5f9", _points((5,), (6, 10), (2, 5)))
def ring_of_ones(g):
    return _stamp(g, 5, _RING(1))


def _dc1df850_input(rng):
    g = _points((2, 2, 3, 6, 8), (4, 10), (2, 5))(rng)
    if not (g == 2).any():
        raise Reject("no 2")
    return g


@register("dc1df850", _dc1df850_input)
def ring_around_two(g):
    return _stamp(g, 2, _RING(1))


@register("b60334d2", _points((5,), (8, 10), (2, 5)))
def five_to_frame(g):
    out = _stamp(g, 5, [[5, 1, 5], [1, -1, 1], [5, 1, 5]])
    out[g == 5] = 0
    return out


@register("913fb3ed", _points((2, 3, 8), (6, 14), (1, 3)))
def rings_by_colour(g):
    out = g
    for c, ring in ((3, 6), (8, 4), (2, 1)):
        out = _stamp(out, c, _RING(ring))
    return out


def _marked_points(rng):
    g = _points((1, 2, 6, 8), (6, 10), (2, 4))(rng)
    if not np.isin(g, (1, 2)).any():
        raise Reject("no 1 or 2")
    return g


@register("0ca9ddb6", _marked_points)
def diagonal_and_orthogonal_marks(g):
    out = _stamp(g, 2, [[4, -1, 4], [-1, -1, -1], [4, -1, 4]])
    return _stamp(out, 1, [[-1, 7, -1], [7, -1, 7], [-1, 7, -1]])


@register("d364b489", _points((1,), (8, 10), (2, 5)))
def compass_marks(g):
    return _stamp(g, 1, [[-1, 2, -1], [7, -1, 6], [-1, 8, -1]], only_empty=False)


def _squares_input(rng):
    n = rint(rng, 10, 15)
    k = rint(rng, 1, 4)
    g = zeros(n, n)
    corners = place(rng, n, n, [(4, 4)] * k, 0)
    for y, x in corners:
        g[y + 1:y + 3, x + 1:x + 3] = 5
    return g


@register("95990924", _squares_input)
def corner_marks(g):
    out = g.copy()
    for _c, cells in _sizes_of(g, 5):
        t, lf, b, r = bbox(mask_of(cells, g.shape))
        for (y, x), v in zip(((t - 1, lf - 1), (t - 1, r), (b, lf - 1), (b, r)), (1, 2, 3, 4)):
            if 0 <= y < g.shape[0] and 0 <= x < g.shape[1]:
                out[y, x] = v
    return out


def _dominoes_input(rng):
    h, w = rint(rng, 10, 17), rint(rng, 10, 18)
    masks = []
    for _ in range(rint(rng, 6, 12)):
        masks.append(np.ones(pick(rng, [(1, 1), (1, 1), (1, 2), (2, 1)]), dtype=bool))
    return _scatter(rng, h, w, masks, [2] * len(masks))


@register("b27ca6d3", _dominoes_input)
def halo_around_pairs(g):
    out = g.copy()
    h, w = g.shape
    for _c, cells in _sizes_of(g, 2):
        if len(cells) != 2:
            continue
        t, lf, b, r = bbox(mask_of(cells, g.shape))
        box = out[max(0, t - 1):b + 1, max(0, lf - 1):r + 1]
        box[box == 0] = 3
    return out


def _unique_colour_input(rng):
    g = noise(rng, 10, 10, COLOURS, rng.uniform(0.2, 0.35))
    vals, counts = np.unique(g[g != 0], return_counts=True)
    if (counts == 1).sum() != 1:
        raise Reject("needs exactly one colour seen once")
    return g


@register("31aa019c", _unique_colour_input)
def keep_unique_colour(g):
    vals, counts = np.unique(g[g != 0], return_counts=True)
    if (counts == 1).sum() != 1:
        raise Reject("needs exactly one colour seen once")
    c = vals[counts == 1][0]
    (y,), (x,) = np.nonzero(g == c)
    out = zeros(*g.shape)
    out[max(0, y - 1):y + 2, max(0, x - 1):x + 2] = 2
    out[y, x] = c
    return out


def _l_input(rng):
    n = 7
    k = rint(rng, 2, 4)
    g = zeros(n, n)
    for y, x in place(rng, n, n, [(2, 2)] * k, 1):
        m = np.ones((2, 2), dtype=bool)
        m.flat[rint(rng, 0, 3)] = False
        g[y:y + 2, x:x + 2][m] = 8
    return g


@register("3aa6fb7a", _l_input)
def complete_corners(g):
    out = g.copy()
    for _c, cells in _sizes_of(g, 8):
        t, lf, b, r = bbox(mask_of(cells, g.shape))
        if (b - t, r - lf) != (2, 2) or len(cells) != 3:
            raise Reject("not an L")
        box = out[t:b, lf:r]
        box[box == 0] = 1
    return out


def _cups_input(rng):
    h, w = rint(rng, 5, 9), rint(rng, 5, 12)
    k = rint(rng, 1, 3)
    g = zeros(h, w)
    corners = place(rng, h - 2, w, [(2, 3)] * k, 0)
    for y, x in corners:
        c = pick(rng, (3, 5, 6, 8))
        g[y, x:x + 3] = c
        g[y + 1, x] = g[y + 1, x + 2] = c
    return g


@register("54d82841", _cups_input)
def mark_under_cups(g):
    out = g.copy()
    for _c, cells in components(g, 0):
        t, lf, b, r = bbox(mask_of(cells, g.shape))
        out[-1, (lf + r - 1) // 2] = 4
    return out


# ---- enclosed areas ----

def _outside(free: np.ndarray) -> np.ndarray:
    """The free cells 4-connected to the border."""
    h, w = free.shape
    seen = np.zeros_like(free)
    stack = [(y, x) for y in range(h) for x in (0, w - 1)] + [(y, x) for x in range(w) for y in (0, h - 1)]
    stack = [(y, x) for y, x in stack if free[y, x]]
    for y, x in stack:
        seen[y, x] = True
    while stack:
        y, x = stack.pop()
        for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            yy, xx = y + dy, x + dx
            if 0 <= yy < h and 0 <= xx < w and free[yy, xx] and not seen[yy, xx]:
                seen[yy, xx] = True
                stack.append((yy, xx))
    return seen


def _walls_input(colour, size=(6, 14)):
    def make(rng):
        n = rint(rng, *size)
        g = zeros(n, n)
        for _ in range(rint(rng, 1, 4)):
            bh, bw = rint(rng, 3, 6), rint(rng, 3, 6)
            y, x = rint(rng, 0, n - bh), rint(rng, 0, n - bw)
            g[y:y + bh, x] = g[y:y + bh, x + bw - 1] = colour
            g[y, x:x + bw] = g[y + bh - 1, x:x + bw] = colour
            if rng.random() < 0.3:  # a gap: this box leaks
                side = rint(rng, 1, bw - 2)
                g[y, x + side] = 0
        g[noise(rng, n, n, (1,), 0.08) > 0] = colour
        if not ((g == 0) & ~_outside(g == 0)).any():
            raise Reject("nothing enclosed")
        return g

    return make


def _fill_enclosed(g, colour):
    out = g.copy()
    out[(g == 0) & ~_outside(g == 0)] = colour
    return out


@register("00d62c1b", _walls_input(3))
def fill_enclosed_green(g):
    return _fill_enclosed(g, 4)


@register("a5313dff", _walls_input(2, (6, 12)))
def fill_enclosed_red(g):
    return _fill_enclosed(g, 1)


def _holes(g):
    """The 4-connected regions of 0 not reaching the border."""
    inner = (g == 0) & ~_outside(g == 0)
    return [cells for _, cells in components(np.where(inner, 1, 0).astype(np.int8), 0)]


def _holed_blocks_input(rng):
    n = 12
    masks = []
    for _ in range(rint(rng, 2, 4)):
        bh, bw = rint(rng, 3, 6), rint(rng, 3, 6)
        m = np.ones((bh, bw), dtype=bool)
        hh, hw = rint(rng, 1, bh - 2), rint(rng, 1, bw - 2)
        if rng.random() < 0.5:
            hh = hw = min(hh, hw)
        y, x = rint(rng, 1, bh - 1 - hh), rint(rng, 1, bw - 1 - hw)
        m[y:y + hh, x:x + hw] = False
        masks.append(m)
    return _scatter(rng, n, n, masks, [5] * len(masks))


@register("44d8ac46", _holed_blocks_input, identity_ok=True)
def fill_square_holes(g):
    out = g.copy()
    for cells in _holes(g):
        t, lf, b, r = bbox(mask_of(cells, g.shape))
        if b - t == r - lf and len(cells) == (b - t) * (r - lf):
            out[cells[:, 0], cells[:, 1]] = 2
    return out


def _hollow_squares_input(rng):
    n = 12
    k = rint(rng, 2, 4)
    sizes = [rint(rng, 3, 5) for _ in range(k)]
    g = zeros(n, n)
    for (y, x), s in zip(place(rng, n, n, [(s, s) for s in sizes], 1), sizes):
        g[y:y + s, x:x + s] = 5
        g[y + 1:y + s - 1, x + 1:x + s - 1] = 0
    return g


@register("c0f76784", _hollow_squares_input)
def fill_squares_by_size(g):
    out = g.copy()
    for cells in _holes(g):
        size = int(round(np.sqrt(len(cells))))
        out[cells[:, 0], cells[:, 1]] = {1: 6, 2: 7, 3: 8}[size]
    return out


def _loops_input(rng):
    n = rint(rng, 9, 15)
    masks = []
    for _ in range(rint(rng, 3, 7)):
        bh, bw = rint(rng, 3, 4), rint(rng, 3, 4)
        m = np.ones((bh, bw), dtype=bool)
        m[1:-1, 1:-1] = False
        if rng.random() < 0.4:  # an open loop or a line
            m[0, 1:-1] = False if rng.random() < 0.5 else m[0, 1:-1]
            m[:, 0] = False
        masks.append(m)
    return _scatter(rng, n, n, masks, [1] * len(masks))


@register("810b9b61", _loops_input)
def closed_loops_to_green(g):
    out = g.copy()
    for _c, cells in _sizes_of(g, 1):
        m = mask_of(cells, g.shape)
        t, lf, b, r = bbox(m)
        pad = np.pad(m[t:b, lf:r], 1)
        if ((~pad) & ~_outside(~pad)).any():
            out[cells[:, 0], cells[:, 1]] = 3
    return out


# ---- rectangles ----

def _rects_input(colour, n=(8, 12), k=(1, 3), lo=3, hi=6, gap=1):
    def make(rng):
        h, w = rint(rng, *n), rint(rng, *n)
        c = pick(rng, COLOURS) if colour is None else colour
        masks = [np.ones((rint(rng, lo, hi), rint(rng, lo, hi)), dtype=bool) for _ in range(rint(rng, *k))]
        return _scatter(rng, h, w, masks, [c] * len(masks), gap)

    return make


def _interiors(g, colour=None):
    for c, cells in components(g, 0):
        if colour is not None and c != colour:
            continue
        t, lf, b, r = bbox(mask_of(cells, g.shape))
        yield c, cells, (t, lf, b, r)


@register("bb43febb", _rects_input(5, (8, 12), (1, 3)))
def rectangle_insides_red(g):
    out = g.copy()
    for _c, _cells, (t, lf, b, r) in _interiors(g, 5):
        out[t + 1:b - 1, lf + 1:r - 1] = 2
    return out


@register("4347f46a", lambda rng: _multi_rects(rng))
def hollow_rectangles(g):
    out = g.copy()
    for _c, _cells, (t, lf, b, r) in _interiors(g):
        out[t + 1:b - 1, lf + 1:r - 1] = 0
    return out


def _multi_rects(rng):
    h, w = rint(rng, 8, 18), rint(rng, 8, 18)
    k = rint(rng, 1, 4)
    masks = [np.ones((rint(rng, 3, 6), rint(rng, 3, 7)), dtype=bool) for _ in range(k)]
    return _scatter(rng, h, w, masks, distinct(rng, k))


def _two_rects(rng):
    while True:
        a = (rint(rng, 3, 6), rint(rng, 3, 6))
        b = (rint(rng, 3, 6), rint(rng, 3, 6))
        if (a[0] - 2) * (a[1] - 2) != (b[0] - 2) * (b[1] - 2):
            break
    return _scatter(rng, 10, 10, [np.ones(a, dtype=bool), np.ones(b, dtype=bool)], [4, 4])


@register("694f12f3", _two_rects)
def insides_by_size(g):
    rects = list(_interiors(g, 4))
    if len(rects) != 2:
        raise Reject("needs two rectangles")
    area = lambda t, lf, b, r: (b - t - 2) * (r - lf - 2)
    rects.sort(key=lambda x: area(*x[2]))
    out = g.copy()
    for colour, (_, _, (t, lf, b, r)) in zip((1, 2), rects):
        out[t + 1:b - 1, lf + 1:r - 1] = colour
    return out


def _hollow_boxes(rng):
    n = 10
    masks = []
    for _ in range(rint(rng, 1, 4)):
        m = np.ones((rint(rng, 3, 5), rint(rng, 3, 5)), dtype=bool)
        m[1:-1, 1:-1] = False
        masks.append(m)
    return _scatter(rng, n, n, masks, [2] * len(masks))


@register("d5d6de2d", _hollow_boxes)
def insides_only(g):
    out = zeros(*g.shape)
    for _c, _cells, (t, lf, b, r) in _interiors(g, 2):
        out[t + 1:b - 1, lf + 1:r - 1] = 3
    return out


@register("6d75e8bb", lambda rng: _ragged(rng))
def fill_bbox_red(g):
    out = g.copy()
    t, lf, b, r = bbox(g != 0)
    box = out[t:b, lf:r]
    box[box == 0] = 2
    return out


def _ragged(rng):
    """A left-aligned ragged shape of 8, as in a comb."""
    h, w = rint(rng, 4, 12), rint(rng, 6, 10)
    bh, bw = rint(rng, 3, h - 1), rint(rng, 3, w - 1)
    m = np.zeros((bh, bw), dtype=bool)
    m[:, 0] = True
    for r in range(bh):
        m[r, :rint(rng, 1, bw)] = True
    m[rint(rng, 0, bh - 1), :] = True
    g = zeros(h, w)
    y, x = rint(rng, 0, h - bh), rint(rng, 0, w - bw)
    g[y:y + bh, x:x + bw][m] = 8
    return g


def _box_shapes(rng):
    n = 9
    masks = []
    for _ in range(rint(rng, 1, 3)):
        m = shape_mask(rng, 3, 3, rng.uniform(0.5, 0.8), diag=True)
        if m.all():
            m[1, 1] = False
        masks.append(m)
    return _scatter(rng, n, n, masks, [4] * len(masks))


@register("60b61512", _box_shapes)
def fill_boxes_orange(g):
    out = g.copy()
    for _c, cells in components(g, 0, diag=True):
        t, lf, b, r = bbox(mask_of(cells, g.shape))
        box = out[t:b, lf:r]
        box[box == 0] = 7
    return out


# ---- denoising ----

def _clumps_and_specks(rng):
    h, w = rint(rng, 8, 15), rint(rng, 8, 15)
    c = pick(rng, COLOURS)
    g = noise(rng, h, w, (c,), rng.uniform(0.15, 0.3))
    return g


@register("42a50994", _clumps_and_specks)
def drop_lonely_cells(g):
    out = g.copy()
    h, w = g.shape
    for y, x in zip(*np.nonzero(g)):
        if not any(0 <= y + dy < h and 0 <= x + dx < w and g[y + dy, x + dx] for dy, dx in NEIGH8):
            out[y, x] = 0
    return out
