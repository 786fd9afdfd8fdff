"""Two-part logic, gravity and lines, crops of objects, counting."""

from __future__ import annotations

import numpy as np

from arcforge.generators._registry import Reject, register
from arcforge.generators._util import (
    COLOURS,
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
from arcforge.generators.objects import _scatter, _sized_shape

# ---- two parts side by side or stacked, combined cell by cell ----

_OPS = {
    "and": lambda a, b: a & b,
    "or": lambda a, b: a | b,
    "xor": lambda a, b: a ^ b,
    "nor": lambda a, b: ~(a | b),
}


def _two_parts(ph, pw, stacked, sep, ca, cb, op, out_colour):
    def make(rng):
        a = noise(rng, ph, pw, (ca,), rng.uniform(0.3, 0.6))
        b = noise(rng, ph, pw, (cb,), rng.uniform(0.3, 0.6))
        parts = [a, b]
        if sep is not None:
            parts.insert(1, np.full((1, pw) if stacked else (ph, 1), sep, dtype=np.int8))
        return np.vstack(parts) if stacked else np.hstack(parts)

    def program(g):
        if stacked:
            a, b = g[:ph], g[-ph:]
        else:
            a, b = g[:, :pw], g[:, -pw:]
        m = _OPS[op](a != 0, b != 0)
        return np.where(m, out_colour, 0).astype(np.int8)

    return make, program


for _id, _spec in {
    "0520fde7": (3, 3, False, 5, 1, 1, "and", 2),
    "99b1bc43": (4, 4, True, 4, 1, 2, "xor", 3),
    "3428a4f5": (6, 5, True, 4, 2, 2, "xor", 3),
    "6430c8c4": (4, 4, True, 4, 7, 2, "nor", 3),
    "94f9d214": (4, 4, True, None, 3, 1, "nor", 2),
    "ce4f8723": (4, 4, True, 4, 1, 2, "or", 3),
    "fafffa47": (3, 3, True, None, 9, 1, "nor", 2),
    "f2829549": (4, 3, False, 1, 7, 5, "nor", 3),
    "dae9d2b5": (3, 3, False, None, 4, 3, "or", 6),
    "1b2d62fb": (5, 3, False, 1, 9, 9, "nor", 8),
}.items():
    _make, _program = _two_parts(*_spec)
    register(_id, _make)(_program)


# ---- gravity and lines ----

@register("1e0a9b12", lambda rng: noise(rng, *(2 * [rint(rng, 4, 7)]), COLOURS, rng.uniform(0.2, 0.4)))
def gravity_down(g):
    out = np.zeros_like(g)
    h = g.shape[0]
    for c in range(g.shape[1]):
        col = g[:, c][g[:, c] != 0]
        out[h - len(col):, c] = col
    return out


@register("d037b0a7", lambda rng: noise(rng, rint(rng, 3, 6), rint(rng, 3, 6), COLOURS, 0.25))
def drip_down(g):
    out = g.copy()
    for r in range(1, g.shape[0]):
        out[r] = np.where(out[r] == 0, out[r - 1], out[r])
    return out


def _left_column(rng):
    n = rint(rng, 3, 15)
    g = zeros(n, n)
    g[:, 0] = pick(rng, (c for c in COLOURS if c not in (2, 4)))
    return g


@register("3bd67248", _left_column)
def diagonal_and_floor(g):
    n = g.shape[0]
    out = g.copy()
    for r in range(n - 1):
        out[r, n - 1 - r] = 2
    out[-1, 1:] = 4
    return out


def _edge_marks(rng):
    n = 10
    g = zeros(n, n)
    g[0, rng.choice(n - 1, rint(rng, 1, 5), replace=False)] = 5
    g[1 + rng.choice(n - 1, rint(rng, 1, 4), replace=False), n - 1] = 5
    return g


@register("2281f1f4", _edge_marks)
def mark_crossings(g):
    out = g.copy()
    rows = [r for r in range(1, g.shape[0]) if g[r, -1] == 5]
    cols = [c for c in range(g.shape[1] - 1) if g[0, c] == 5]
    for r in rows:
        out[r, cols] = 2
    return out


def _row_ends(rng):
    n = 10
    g = zeros(n, n)
    for r in range(1, n, 2):
        if rng.random() < 0.7:
            a = pick(rng, COLOURS)
            g[r, 0] = a
            g[r, -1] = a if rng.random() < 0.4 else pick(rng, COLOURS)
    if not any(g[r, 0] and g[r, 0] == g[r, -1] for r in range(n)):
        raise Reject("no row to join")
    return g


@register("22eb0ac0", _row_ends, identity_ok=True)
def join_equal_ends(g):
    out = g.copy()
    for r in range(g.shape[0]):
        if g[r, 0] != 0 and g[r, 0] == g[r, -1]:
            out[r] = g[r, 0]
    return out


def _line_seeds(rng):
    h, w = rint(rng, 8, 12), rint(rng, 8, 12)
    g = zeros(h, w)
    k = rint(rng, 2, 5)
    rows = rng.choice(h, k, replace=False)
    cols = rng.choice(w, k, replace=False)
    colours = [pick(rng, (1, 2, 3)) for _ in range(k)]
    for r, c, v in zip(rows, cols, colours):
        g[r, c] = v
    if len(set(colours)) < 2:
        raise Reject("one kind")
    return g


@register("178fcbfb", _line_seeds)
def rows_and_columns(g):
    out = zeros(*g.shape)
    out[:, (g == 2).any(axis=0)] = 2
    for v in (1, 3):
        out[(g == v).any(axis=1)] = v
    return out


def _connect(colour, line):
    def program(g):
        out = g.copy()
        ys, xs = np.nonzero(g == colour)
        pts = list(zip(ys.tolist(), xs.tolist()))
        for i, (y1, x1) in enumerate(pts):
            for y2, x2 in pts[i + 1:]:
                if y1 == y2:
                    seg = out[y1, min(x1, x2) + 1:max(x1, x2)]
                    seg[seg == 0] = line
                elif x1 == x2:
                    seg = out[min(y1, y2) + 1:max(y1, y2), x1]
                    seg[seg == 0] = line
        return out

    return program


def _aligned_points(colour, n=(6, 14)):
    def make(rng):
        h, w = rint(rng, *n), rint(rng, *n)
        g = zeros(h, w)
        k = rint(rng, 2, 4)
        for _ in range(k):  # pairs on a shared row or column
            if rng.random() < 0.5:
                r = rint(rng, 0, h - 1)
                c1, c2 = sorted(rng.choice(w, 2, replace=False))
                g[r, c1] = g[r, c2] = colour
            else:
                c = rint(rng, 0, w - 1)
                r1, r2 = sorted(rng.choice(h, 2, replace=False))
                g[r1, c] = g[r2, c] = colour
        return g

    return make


register("dbc1a6ce", _aligned_points(1))(_connect(1, 8))
register("253bf280", _aligned_points(8), identity_ok=True)(_connect(8, 3))
register("ded97339", _aligned_points(8, (8, 12)))(_connect(8, 8))


def _two_points(a, b):
    def make(rng):
        h, w = rint(rng, 8, 16), rint(rng, 8, 16)
        g = zeros(h, w)
        (y1, y2), (x1, x2) = rng.choice(h, 2, replace=False), rng.choice(w, 2, replace=False)
        g[y1, x1], g[y2, x2] = a, b
        return g

    return make


def _elbow(g, a: int, b: int, colour: int, down_first: bool):
    """Paint the background cells of an L path between the a-coloured and the b-coloured cell: along
    a's column then b's row (down_first), or along a's row then b's column."""
    (y1,), (x1,) = np.nonzero(g == a)
    (y2,), (x2,) = np.nonzero(g == b)
    out = g.copy()
    ys, xs = slice(min(y1, y2), max(y1, y2) + 1), slice(min(x1, x2), max(x1, x2) + 1)
    for seg in ((out[ys, x1], out[y2, xs]) if down_first else (out[y1, xs], out[ys, x2])):
        seg[seg == 0] = colour
    return out


@register("d4a91cb9", _two_points(8, 2))
def elbow_down_then_across(g):
    return _elbow(g, 8, 2, 4, down_first=True)


@register("a2fd1cf0", _two_points(2, 3))
def elbow_across_then_down(g):
    return _elbow(g, 2, 3, 8, down_first=False)


# ---- crops ----

def _one_shape(colours=COLOURS, n=(8, 16), ncol=1):
    """One shape (8-connected) of ncol colours on a blank grid."""

    def make(rng):
        h, w = rint(rng, *n), rint(rng, *n)
        bh, bw = rint(rng, 2, min(6, h - 1)), rint(rng, 2, min(8, w - 1))
        m = shape_mask(rng, bh, bw, rng.uniform(0.5, 0.8), diag=True)
        g = zeros(h, w)
        y, x = rint(rng, 0, h - bh), rint(rng, 0, w - bw)
        cols = distinct(rng, ncol, pool=colours)
        g[y:y + bh, x:x + bw][m] = np.asarray(cols, dtype=np.int8)[rng.integers(ncol, size=int(m.sum()))]
        return g

    return make


@register("1cf80156", _one_shape())
def crop_to_content(g):
    t, lf, b, r = bbox(g != 0)
    return g[t:b, lf:r].copy()


@register("7468f01a", _one_shape(ncol=2))
def crop_and_mirror(g):
    t, lf, b, r = bbox(g != 0)
    return g[t:b, lf:r][:, ::-1].copy()


def _small_shape_3x3(rng):
    g = zeros(8, 8)
    m = shape_mask(rng, 3, 3, rng.uniform(0.5, 0.8), diag=True)
    y, x = rint(rng, 0, 5), rint(rng, 0, 5)
    g[y:y + 3, x:x + 3][m] = pick(rng, COLOURS)
    return g


@register("28bf18c6", _small_shape_3x3)
def crop_and_double(g):
    t, lf, b, r = bbox(g != 0)
    c = g[t:b, lf:r]
    if c.shape != (3, 3):
        raise Reject("needs a 3x3 shape")
    return np.hstack([c, c])


def _on_blue(rng):
    h, w = rint(rng, 5, 8), rint(rng, 5, 8)
    g = np.full((h, w), 1, dtype=np.int8)
    bh, bw = rint(rng, 1, 3), rint(rng, 1, 3)
    y, x = rint(rng, 0, h - bh), rint(rng, 0, w - bw)
    g[y:y + bh, x:x + bw] = noise(rng, bh, bw, distinct(rng, 2, exclude=(1,)), 0.7, bg=1)
    if (g != 1).sum() == 0:
        raise Reject("blank")
    return g


@register("a740d043", _on_blue)
def crop_off_blue(g):
    t, lf, b, r = bbox(g != 1)
    c = g[t:b, lf:r].copy()
    c[c == 1] = 0
    return c


def _shapes_distinct_sizes(rng):
    k = rint(rng, 2, 4)
    sizes = sorted(pick(rng, range(2, 10), k), reverse=True)
    masks = [_sized_shape(rng, n, 4, 4) for n in sizes]
    h, w = rint(rng, 6, 12), rint(rng, 8, 14)
    return _scatter(rng, h, w, masks, distinct(rng, k))


@register("be94b721", _shapes_distinct_sizes)
def crop_largest(g):
    objs = components(g, 0)
    sizes = sorted((len(c) for _, c in objs), reverse=True)
    if len(sizes) > 1 and sizes[0] == sizes[1]:
        raise Reject("tie")
    _, cells = max(objs, key=lambda o: len(o[1]))
    m = mask_of(cells, g.shape)
    t, lf, b, r = bbox(m)
    return np.where(m, g, 0)[t:b, lf:r].astype(np.int8)


def _rects_distinct_areas(rng):
    k = rint(rng, 2, 5)
    while True:
        dims = [(rint(rng, 2, 6), rint(rng, 2, 6)) for _ in range(k)]
        areas = sorted(a * b for a, b in dims)
        if areas[0] < areas[1]:
            break
    n = rint(rng, 10, 20)
    g = zeros(n, n)
    for (y, x), (bh, bw), c in zip(place(rng, n, n, dims, 0), dims, distinct(rng, k)):
        g[y:y + bh, x:x + bw] = c
    return g


@register("23b5c85d", _rects_distinct_areas)
def crop_smallest_rectangle(g):
    objs = components(g, 0)
    _, cells = min(objs, key=lambda o: len(o[1]))
    t, lf, b, r = bbox(mask_of(cells, g.shape))
    return g[t:b, lf:r].copy()


# ---- counting ----

def _n_objects(rng):
    k = rint(rng, 1, 5)
    masks = [_sized_shape(rng, rint(rng, 1, 6), 3, 3, diag=True) for _ in range(k)]
    return _scatter(rng, rint(rng, 8, 16), rint(rng, 8, 12), masks, [8] * k)


@register("d0f5fe59", _n_objects)
def count_to_diagonal(g):
    n = len(components(g, 0, diag=True))
    out = zeros(n, n)
    np.fill_diagonal(out, 8)
    return out


def _squares_and_specks(colour, other, n):
    def make(rng):
        h = w = rint(rng, *n)
        k = rint(rng, 0, 5)
        masks = [np.ones((2, 2), dtype=bool)] * k
        specks = [np.ones((1, 1), dtype=bool)] * rint(rng, 0, 5)
        cols = [colour] * k + [pick(rng, other) for _ in specks]
        g = _scatter(rng, h, w, masks + specks, cols)
        if not g.any():
            raise Reject("blank")
        return g

    return make


@register("1fad071e", _squares_and_specks(1, (1, 2), (9, 9)))
def count_blue_squares(g):
    n = sum(1 for c, cells in components(g, 0) if c == 1 and len(cells) == 4)
    out = zeros(1, 5)
    out[0, :n] = 1
    return out


@register("ff28f65a", _squares_and_specks(2, (2,), (5, 7)))
def count_red_squares(g):
    n = sum(1 for c, cells in components(g, 0) if c == 2 and len(cells) == 4)
    if not 1 <= n <= 5:
        raise Reject("count")
    out = zeros(3, 3)
    for r, c in [(0, 0), (0, 2), (1, 1), (2, 0), (2, 2)][:n]:
        out[r, c] = 1
    return out
