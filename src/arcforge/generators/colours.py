"""Colour rules: fixed colour maps, colours by position, by majority, by count; small summaries."""

from __future__ import annotations

import numpy as np

from arcforge.generators._registry import Reject, register
from arcforge.generators._util import COLOURS, distinct, full, noise, pick, rint, zeros


def _mapped(g, table: dict[int, int]):
    out = g.copy()
    for a, b in table.items():
        out[g == a] = b
    return out


_MAP_0D3D = {1: 5, 5: 1, 2: 6, 6: 2, 3: 4, 4: 3, 8: 9, 9: 8}


def _stripes(rng):
    w = 3
    cols = [pick(rng, sorted(_MAP_0D3D)) for _ in range(w)]
    return np.tile(np.array(cols, dtype=np.int8), (3, 1))


@register("0d3d703e", _stripes)
def colour_map(g):
    if not np.isin(g, list(_MAP_0D3D)).all():
        raise Reject("unmapped colour")
    return _mapped(g, _MAP_0D3D)


@register("c8f0f002", lambda rng: full(rng, 3, rint(rng, 3, 6), (1, 7, 8)))
def seven_to_five(g):
    if not (g == 7).any():
        raise Reject("no 7")
    return _mapped(g, {7: 5})


@register("b1948b0a", lambda rng: full(rng, rint(rng, 3, 6), rint(rng, 3, 6), (6, 7)))
def six_to_two(g):
    return _mapped(g, {6: 2})


@register("d511f180", lambda rng: full(rng, rint(rng, 3, 6), rint(rng, 3, 6), COLOURS))
def swap_five_eight(g):
    if not np.isin(g, (5, 8)).any():
        raise Reject("nothing to swap")
    return _mapped(g, {5: 8, 8: 5})


def _two_colours_with_five(rng):
    n = rint(rng, 3, 6)
    return full(rng, n, n, (5, distinct(rng, 1, exclude=(5,))[0]))


@register("f76d97a5", _two_colours_with_five)
def five_takes_other_colour(g):
    other = [c for c in np.unique(g).tolist() if c != 5]
    if len(other) != 1 or not (g == 5).any():
        raise Reject("needs 5 and one colour")
    out = zeros(*g.shape)
    out[g == 5] = other[0]
    return out


def _one_five_per_row(rng):
    g = zeros(3, 3)
    g[np.arange(3), rng.integers(3, size=3)] = 5
    return g


@register("a85d4709", _one_five_per_row)
def row_colour_by_position(g):
    out = zeros(3, 3)
    for r in range(3):
        (c,) = np.nonzero(g[r])[0]
        out[r] = (2, 4, 3)[c]
    return out


def _rows_some_uniform(rng):
    cols = distinct(rng, rint(rng, 2, 3))
    g = full(rng, 3, 3, cols)
    for r in range(3):
        if rng.random() < 0.4:
            g[r] = pick(rng, cols)
    return g


@register("25d8a9c8", _rows_some_uniform)
def uniform_rows_to_five(g):
    out = zeros(*g.shape)
    out[(g == g[:, :1]).all(axis=1)] = 5
    return out


def _majority_input(rng, exclude=()):
    g = full(rng, 3, 3, distinct(rng, rint(rng, 2, 4), exclude=exclude))
    vals, counts = np.unique(g, return_counts=True)
    if (counts == counts.max()).sum() > 1:
        raise Reject("tie")
    return g


def _majority(g):
    vals, counts = np.unique(g, return_counts=True)
    if (counts == counts.max()).sum() > 1:
        raise Reject("tie")
    return int(vals[counts.argmax()])


@register("5582e5ca", _majority_input)
def fill_with_majority(g):
    return np.full_like(g, _majority(g))


@register("9565186b", lambda rng: _majority_input(rng, exclude=(5,)))
def minority_to_five(g):
    if (g == 5).any():
        raise Reject("5 is the marker")
    m = _majority(g)
    return np.where(g == m, g, 5).astype(np.int8)


@register("44f52bb0", lambda rng: _maybe_symmetric(rng))
def symmetric_one_else_seven(g):
    return np.array([[1 if np.array_equal(g, g[:, ::-1]) else 7]], dtype=np.int8)


def _maybe_symmetric(rng):
    g = noise(rng, 3, 3, (2,), 0.5)
    if rng.random() < 0.5:
        g[:, 2] = g[:, 0]
    return g


@register("d631b094", lambda rng: noise(rng, 3, 3, [pick(rng, COLOURS)], rng.uniform(0.1, 0.6)))
def count_as_row(g):
    c = int(g.max())
    return np.full((1, int((g != 0).sum())), c, dtype=np.int8)


@register("794b24be", lambda rng: _n_ones(rng))
def count_pattern(g):
    n = int((g == 1).sum())
    if not 1 <= n <= 4:
        raise Reject("count")
    out = zeros(3, 3)
    cells = [(0, 0), (0, 1), (0, 2), (1, 1)][:n]
    for r, c in cells:
        out[r, c] = 2
    return out


def _n_ones(rng):
    g = zeros(3, 3)
    g.flat[rng.choice(9, rint(rng, 1, 4), replace=False)] = 1
    return g


def _two_bands(rng):
    w = 2 * rint(rng, 2, 5)
    a, b = distinct(rng, 2)
    return np.array([[a] * w, [b] * w], dtype=np.int8)


@register("e9afcf9a", _two_bands)
def interleave_rows(g):
    a, b = int(g[0, 0]), int(g[1, 0])
    out = g.copy()
    out[0, 1::2], out[1, 1::2] = b, a
    return out
