"""Whole-grid geometry: symmetries, mirrored and rotated tilings, scaling, halves and crops."""

from __future__ import annotations

import numpy as np

from arcforge.generators._registry import Reject, register
from arcforge.generators._util import COLOURS, distinct, full, noise, pick, rint, zeros

ALL = tuple(range(10))


def _sq(lo: int, hi: int, colours=ALL, density: float | None = None):
    """Input maker: a square grid of side lo..hi, fully random or sparse."""

    def make(rng):
        n = rint(rng, lo, hi)
        if density is None:
            return full(rng, n, n, colours)
        return noise(rng, n, n, colours, density)

    return make


def _rect(hlo, hhi, wlo, whi, colours=ALL, density=None, ncol=None):
    def make(rng):
        h, w = rint(rng, hlo, hhi), rint(rng, wlo, whi)
        cols = colours if ncol is None else distinct(rng, rint(rng, *ncol), pool=colours)
        if density is None:
            return full(rng, h, w, cols)
        return noise(rng, h, w, cols, density)

    return make


# ---- the eight symmetries ----

@register("6150a2bd", _sq(3, 5, ALL))
def rot180_a(g):
    return np.rot90(g, 2)


@register("3c9b0459", _sq(3, 5, COLOURS))
def rot180_b(g):
    return np.rot90(g, 2)


@register("67a3c6ac", _sq(3, 8, (1, 2, 6, 7)))
def flip_lr(g):
    return g[:, ::-1]


@register("68b16354", _sq(4, 8, (1, 2, 3, 4, 7, 8)))
def flip_ud(g):
    return g[::-1]


@register("74dd1130", _sq(3, 5, COLOURS))
def transpose_a(g):
    return g.T


def _five_diagonal(rng):
    """Sparse colours below a diagonal of 5s (the mirror line of the real task)."""
    n = rint(rng, 3, 7)
    g = np.tril(noise(rng, n, n, tuple(c for c in COLOURS if c != 5), 0.4), -1)
    np.fill_diagonal(g, 5)
    return g


@register("9dfd6313", _five_diagonal)
def transpose_b(g):
    return g.T


@register("ed36ccf7", _sq(3, 5, ALL))
def rot90_ccw(g):
    return np.rot90(g, 1)


# ---- tilings of the grid and its mirror images ----

@register("a416b8f3", _rect(3, 6, 3, 6, ALL))
def tile_right(g):
    return np.hstack([g, g])


@register("8be77c9e", _rect(2, 5, 2, 5, (0, 1)))
def mirror_down_a(g):
    return np.vstack([g, g[::-1]])


@register("6fa7a44f", _rect(2, 5, 2, 5, COLOURS))
def mirror_down_b(g):
    return np.vstack([g, g[::-1]])


@register("6d0aefbc", _rect(2, 5, 2, 5, (1, 6, 8)))
def mirror_right_a(g):
    return np.hstack([g, g[:, ::-1]])


@register("c9e6f938", _rect(2, 5, 2, 5, (0, 7)))
def mirror_right_b(g):
    return np.hstack([g, g[:, ::-1]])


@register("4c4377d9", _rect(2, 5, 3, 6, COLOURS, ncol=(2, 3)))
def mirror_up(g):
    return np.vstack([g[::-1], g])


def _four_mirrors(g):
    top = np.hstack([g, g[:, ::-1]])
    return np.vstack([top, top[::-1]])


@register("62c24649", _rect(2, 5, 2, 5, (0, 1, 2, 3)))
def four_mirrors_a(g):
    return _four_mirrors(g)


@register("67e8384a", _rect(2, 5, 2, 5, COLOURS, ncol=(2, 4)))
def four_mirrors_b(g):
    return _four_mirrors(g)


@register("3af2c5a8", lambda rng: noise(rng, rint(rng, 2, 5), rint(rng, 2, 5), [pick(rng, COLOURS)], 0.5))
def four_mirrors_c(g):
    return _four_mirrors(g)


def _four_rotations(g):
    return np.vstack([np.hstack([g, np.rot90(g, -1)]), np.hstack([np.rot90(g, 1), np.rot90(g, 2)])])


def _sq_ncol(lo, hi, ncol, zero=False):
    def make(rng):
        n = rint(rng, lo, hi)
        cols = distinct(rng, rint(rng, *ncol))
        return full(rng, n, n, cols + [0] if zero else cols)

    return make


@register("46442a0e", _sq_ncol(2, 4, (2, 3)))
def four_rotations_a(g):
    return _four_rotations(g)


@register("7fe24cdd", _sq_ncol(2, 4, (2, 3), zero=True))
def four_rotations_b(g):
    return _four_rotations(g)


@register("8d5021e8", lambda rng: noise(rng, rint(rng, 2, 4), rint(rng, 2, 3), [pick(rng, COLOURS)], 0.5))
def mirrored_column_of_three(g):
    b = np.hstack([g[:, ::-1], g])
    return np.vstack([b[::-1], b, b[::-1]])


def _with_colour(make_inner, colours):
    def make(rng):
        g = make_inner(rng)
        c = pick(rng, colours)
        return np.where(g > 0, c, 0).astype(np.int8)

    return make


# ---- scaling ----

def _upscale(g, k):
    return np.kron(g, np.ones((k, k), dtype=np.int8))


@register("c59eb873", _rect(2, 6, 2, 6, ALL, ncol=(2, 4)))
def upscale2(g):
    return _upscale(g, 2)


@register("9172f3a0", _rect(3, 3, 3, 3, ALL, ncol=(2, 4)))
def upscale3(g):
    return _upscale(g, 3)


def _k_colours(rng):
    g = noise(rng, 3, 3, distinct(rng, rint(rng, 1, 5)), 0.6)
    if len(set(np.unique(g).tolist()) - {0}) < 1:
        raise Reject("blank")
    return g


def _by_colour_count(g):
    return _upscale(g, len(set(np.unique(g).tolist()) - {0}))


@register("b91ae062", _k_colours)
def upscale_by_colours_a(g):
    return _by_colour_count(g)


@register("ac0a08a4", _k_colours)
def upscale_by_colours_b(g):
    return _by_colour_count(g)


# ---- fractal placements: a copy of the grid in each block chosen by a cell ----

def _blocks(g, where):
    h, w = g.shape
    out = zeros(h * h, w * w)
    for i in range(h):
        for j in range(w):
            if where[i, j]:
                out[i * h:(i + 1) * h, j * w:(j + 1) * w] = g
    return out


@register("007bbfb7", lambda rng: noise(rng, 3, 3, [pick(rng, COLOURS)], rng.uniform(0.3, 0.7)))
def fractal(g):
    return _blocks(g, g != 0)


def _most_common_input(rng):
    cols = distinct(rng, 3)
    g = full(rng, 3, 3, cols)
    counts = sorted((np.sum(g == c) for c in cols), reverse=True)
    if counts[0] == counts[1]:
        raise Reject("tie")
    return g


@register("c3e719e8", _most_common_input)
def fractal_majority(g):
    vals, counts = np.unique(g, return_counts=True)
    if (counts == counts.max()).sum() > 1:
        raise Reject("tie")
    return _blocks(g, g == vals[counts.argmax()])


@register("cce03e0d", lambda rng: full(rng, 3, 3, (0, 1, 2)))
def fractal_twos(g):
    if not (g == 2).any():
        raise Reject("no 2")
    return _blocks(g, g == 2)


# ---- parts and crops ----

def _repeated(k, axis_choice=False):
    """A grid made of k copies of a random block side by side (or stacked, when axis_choice)."""

    def make(rng):
        bh, bw = rint(rng, 2, 5), rint(rng, 2, 5)
        b = full(rng, bh, bw, distinct(rng, rint(rng, 2, 4)))
        if axis_choice and rng.random() < 0.5:
            return np.vstack([b] * k)
        return np.hstack([b] * k)

    return make


@register("2dee498d", _repeated(3))
def first_third(g):
    w = g.shape[1] // 3
    if g.shape[1] % 3:
        raise Reject("not three copies")
    return g[:, :w]


@register("7b7f7511", _repeated(2, axis_choice=True))
def first_half(g):
    h, w = g.shape
    if w % 2 == 0 and np.array_equal(g[:, :w // 2], g[:, w // 2:]):
        return g[:, :w // 2]
    return g[:h // 2]


@register("d10ecb37", lambda rng: full(rng, 2 * rint(rng, 2, 6), 2 * rint(rng, 2, 6), distinct(rng, 3)))
def top_left_2x2(g):
    return g[:2, :2]


@register("5bd6f4ac", lambda rng: noise(rng, 9, 9, COLOURS, 0.5))
def top_right_3x3(g):
    return g[:3, 6:]


def _centre_column_input(rng):
    n = 2 * rint(rng, 1, 4) + 1
    return noise(rng, n, n, COLOURS, 0.5)


@register("d23f8c26", _centre_column_input)
def centre_column(g):
    out = np.zeros_like(g)
    c = g.shape[1] // 2
    out[:, c] = g[:, c]
    return out


def _shift_input(rng):
    h, w = rint(rng, 3, 6), rint(rng, 3, 6)
    g = zeros(h, w)
    top = rint(rng, 0, h - 2)
    g[top:h - 1] = noise(rng, h - 1 - top, w, [pick(rng, (1, 2))], 0.6)
    if not g.any():
        raise Reject("blank")
    return g


@register("25ff71a9", _shift_input)
def shift_down(g):
    if g[-1].any():
        raise Reject("would fall off")
    return np.vstack([np.zeros((1, g.shape[1]), dtype=g.dtype), g[:-1]])


def _bottom_half_input(rng):
    h, w = 2 * rint(rng, 3, 6), rint(rng, 3, 6)
    g = zeros(h, w)
    g[h // 2:] = noise(rng, h // 2, w, distinct(rng, rint(rng, 1, 3)), 0.5)
    if not g[-1].any():
        raise Reject("floating")
    return g


@register("f25ffba3", _bottom_half_input)
def mirror_bottom_up(g):
    h = g.shape[0]
    out = g.copy()
    out[:h // 2] = g[h // 2:][::-1]
    return out


def _periodic_input(rng):
    p, h = rint(rng, 2, 3), 5
    w = p * rint(rng, 2, 3) + rint(rng, 0, p - 1)
    rows = rint(rng, 1, 2)
    top = rint(rng, 0, h - rows)
    block = full(rng, rows, p, distinct(rng, 2))
    if any(len(np.unique(block[r])) < 2 for r in range(rows)):
        raise Reject("dull")
    g = zeros(h, w)
    g[top:top + rows] = np.tile(block, (1, w // p + 1))[:, :w]
    return g


def _period(g) -> int:
    w = g.shape[1]
    for p in range(1, w + 1):
        if all(np.array_equal(g[:, i], g[:, i % p]) for i in range(w)):
            return p
    return w


@register("963e52fc", _periodic_input)
def continue_pattern(g):
    h, w = g.shape
    p = _period(g)
    if 2 * p > w:
        raise Reject("period unclear")
    return g[:, [j % p for j in range(2 * w)]]


def _diag_input(rng):
    g = zeros(1, 5)
    k = rint(rng, 1, 4)
    g[0, rng.choice(5, k, replace=False)] = distinct(rng, k)
    return g


@register("feca6190", _diag_input)
def diagonal_rays(g):
    k = int((g != 0).sum())
    n = 5 * k
    out = zeros(n, n)
    for c in np.nonzero(g[0])[0]:
        for t in range(n - c):
            out[n - 1 - t, c + t] = g[0, c]
    return out
