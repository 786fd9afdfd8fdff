"""Pattern completion (`fit_lattice`): cells of one colour blotted out of a repeating or symmetric
pattern, restored from the translations, mirrors, half-turns and diagonal flips the visible cells
agree under, or from the simplest periodic colouring they fit (or only the blotted box, cropped).

Only train pairs and test inputs are read.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from arcforge.dsl.fitting import fitted
from arcforge.dsl.rules.common import colour_box
from arcforge.grid import Grid


def _maps(h: int, w: int, reach: int):
    """Candidate symmetries of an h x w pattern as index maps (name, source rows, source cols: the cell
    each cell should equal, -1 where it falls off the grid): translations up to `reach` cells (skewed
    ones included), mirrors about every row and column axis, half-turns about every centre, and the
    two diagonal flips about every diagonal."""
    ys, xs = np.indices((h, w))
    for dy in range(0, min(reach, h - 1) + 1):
        for dx in range(-min(reach, w - 1), min(reach, w - 1) + 1):
            if dy or dx > 0:
                yield f"t{dy},{dx}", ys + dy, xs + dx
    for a in range(1, 2 * h - 2):
        yield f"my{a}", a - ys, xs
    for b in range(1, 2 * w - 2):
        yield f"mx{b}", ys, b - xs
    for a in range(max(1, h - 1 - reach // 2), min(2 * h - 2, h + reach // 2)):
        for b in range(max(1, w - 1 - reach // 2), min(2 * w - 2, w + reach // 2)):
            yield f"r{a},{b}", a - ys, b - xs  # half-turns about centres near the grid's
    for k in range(-(h - 1), w):
        yield f"d{k}", xs - k, ys + k
    for k in range(1, h + w - 2):
        yield f"a{k}", k - xs, k - ys


@lru_cache(maxsize=64)
def _symmetries(key: bytes, h: int, w: int, hole: int, reach: int = 12) -> list:
    """The `_maps` of a grid (given by its bytes) under which every pair of visible (not `hole`) cells
    agrees, at least half the cells that map inside the grid being such pairs; most pairs first."""
    flat = np.frombuffer(key, np.int8)
    kflat = flat != hole
    good = []
    for name, sy, sx in _maps(h, w, reach):
        inside = (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
        src = np.where(inside, sy * w + sx, 0).ravel()
        inside = inside.ravel()
        both = inside & kflat & kflat[src]
        n = int(both.sum())
        if n * 2 < inside.sum() or n < 4:
            continue
        if (flat[both] == flat[src[both]]).all():
            good.append((-n, name, src, inside))
    good.sort(key=lambda t: t[0])
    return good


def symmetry_fill(g: Grid, hole: int, keep: int = 12, lattice_only: bool = False) -> Grid | None:
    """Fill the `hole` cells of a pattern from its symmetries (`_symmetries`; only translations with
    `lattice_only`): each hole takes the colour of a visible cell it maps to, until none is left. None
    if no symmetry holds or some hole stays unfilled."""
    h, w = g.shape
    flat = np.ascontiguousarray(g, np.int8).ravel()
    kflat = flat != hole
    if kflat.all():
        return None
    good = [m for m in _symmetries(flat.tobytes(), h, w, hole) if not lattice_only or m[1][0] == "t"]
    if not good:
        return None
    out, have = flat.copy(), kflat.copy()
    while not have.all():
        before = int(have.sum())
        for _, _, src, inside in good[:keep]:
            take = ~have & inside & have[src]
            out[take] = out[src[take]]
            have |= take
        if int(have.sum()) == before:
            return None
    return out.reshape(h, w)


@lru_cache(maxsize=16)
def _period_classes(h: int, w: int, most: int = 10) -> list[tuple[int, np.ndarray]]:
    """Ways to colour an h x w grid periodically, fewest colours first: (count, class of each cell)
    for rows repeating every p cells and columns every q (p, q < `most`), and for diagonal stripes
    repeating every k cells either way (k < `most`)."""
    ys, xs = np.indices((h, w))
    ways = [(p * q, (ys % p) * q + xs % q) for p in range(1, min(most, h)) for q in range(1, min(most, w))]
    ways += [(k, (ys + xs) % k) for k in range(2, most)] + [(k, (xs - ys) % k) for k in range(2, most)]
    return sorted(ways, key=lambda t: t[0])


def periodic_fill(g: Grid, hole: int) -> Grid | None:
    """The `hole` cells of a periodic colouring (`_period_classes`) restored from the simplest period
    that every visible cell agrees with and that has every hole's class in sight, with at least two
    visible cells per class on the whole; None if there is none."""
    seen = g != hole
    if seen.all():
        return None
    vals = g[seen].astype(np.int64)
    for n, cls in _period_classes(*g.shape):
        if n * 2 > vals.size:
            return None
        c = cls[seen]
        lut = np.full(n, -1, np.int64)
        lut[c] = vals
        if (lut[c] != vals).any() or (lut[cls[~seen]] < 0).any():
            continue
        return lut[cls].astype(g.dtype)
    return None


@fitted(order=1)
def fit_lattice(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """A wallpaper or symmetric figure with cells of one colour blotted out: the outputs are the inputs
    completed by `symmetry_fill` or `periodic_fill` (every input shows the colour, no output does, the
    rest is kept), or what the completion puts in the box of the blotted cells. Translations alone are
    tried first, then the periodic colourings, then every symmetry."""
    same = all(a.shape == b.shape for a, b in zip(inputs, outputs, strict=False))
    holes = set(range(10))
    for a, b in zip(inputs, outputs, strict=False):
        holes &= set(np.unique(a).tolist()) - (set(np.unique(b).tolist()) if same else set())
    for hole, mode in [(hole, m) for m in ("lattice", "periodic", "symfill") for hole in sorted(holes)]:
        if same and any((a != b)[a != hole].any() for a, b in zip(inputs, outputs, strict=False)):
            continue
        if not same and any(a[colour_box(a, hole)].shape != b.shape for a, b in zip(inputs, outputs, strict=False)):
            continue

        def solve(g, hole=hole, mode=mode):
            r = periodic_fill(g, hole) if mode == "periodic" else symmetry_fill(g, hole, lattice_only=mode == "lattice")
            return r if r is None or same else r[colour_box(g, hole)]
        if all((r := solve(a)) is not None and r.shape == b.shape and np.array_equal(r, b)
               for a, b in zip(inputs, outputs, strict=False)):
            preds = [solve(t) for t in tests]
            if all(p is not None for p in preds):
                return [(0, f"{mode}{'' if same else '_crop'}_h{hole}", preds)]
    return []
