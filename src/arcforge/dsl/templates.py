"""Partial copies of a template completed: the grid holds whole templates (objects of two or more
colours) and loose cells that are part of a copy of one (a few of its cells, in its colours); every
such copy is drawn in full. `fit_complete` learns whether copies may be turned or mirrored and whether
every loose cell must be explained.
"""

from __future__ import annotations

import numpy as np

from arcforge.dsl import objects as ob
from arcforge.grid import Grid

MAX_LOOSE = 60
MAX_PLACEMENTS = 4000


def _variants(pat: np.ndarray, d8: bool) -> list[np.ndarray]:
    if not d8:
        return [pat]
    out, seen = [], set()
    for k in range(4):
        r = np.rot90(pat, k)
        for f in (r, r[:, ::-1]):
            key = bytes(f.shape) + f.tobytes()
            if key not in seen:
                seen.add(key)
                out.append(np.ascontiguousarray(f))
    return out


def _complete(g: Grid, d8: bool, strict: bool, richest: bool) -> Grid | None:
    """g with every loose cell's template copy drawn (module docstring); None when there is no template,
    no loose cell, a loose cell fits two copies equally well, or (`strict`) one fits none. Templates are
    the objects of two or more colours, or (`richest`) those of the most colours, the rest being loose."""
    objs = ob.objects(g, True, False)
    most = max((o.n_colours for o in objs), default=0)
    templates = [o for o in objs if o.n_colours >= 2 and (o.n_colours == most or not richest)]
    if not templates:
        return None
    taken = np.zeros(g.shape, bool)
    pats, keys = [], set()
    for t in templates:
        taken |= t.mask
        crop = t.crop(g)
        key = bytes(crop.shape) + crop.tobytes()
        if key not in keys:
            keys.add(key)
            pats += _variants(crop, d8)
    loose = {(int(y), int(x)) for y, x in zip(*np.nonzero((g != 0) & ~taken), strict=True)}
    if not loose or len(loose) > MAX_LOOSE:
        return None
    h, w = g.shape
    # every placement of a pattern that puts one of its cells on a loose cell of the same colour and
    # agrees with every non-zero cell under it, off the templates: (origin, pattern index) -> loose cells
    places: dict[tuple[int, int, int], frozenset] = {}
    for pi, pat in enumerate(pats):
        cells = [(py, px, int(pat[py, px])) for py, px in zip(*np.nonzero(pat), strict=True)]
        for y, x in loose:
            for py, px, c in cells:
                if c != g[y, x]:
                    continue
                oy, ox = y - py, x - px
                if (oy, ox, pi) in places or oy < 0 or ox < 0 or oy + pat.shape[0] > h or ox + pat.shape[1] > w:
                    continue
                win = g[oy: oy + pat.shape[0], ox: ox + pat.shape[1]]
                on = pat != 0
                if ((win != 0) & on & (win != pat)).any() or (taken[oy: oy + pat.shape[0], ox: ox + pat.shape[1]] & on).any():
                    continue
                places[(oy, ox, pi)] = frozenset((oy + a, ox + b) for a, b in zip(*np.nonzero(on), strict=True)) & loose
                if len(places) > MAX_PLACEMENTS:
                    return None
    out = g.copy()
    todo = set(loose)
    while todo:
        gains = {k: len(v & todo) for k, v in places.items()}
        best = max(gains.values(), default=0)
        if best == 0:
            if strict:
                return None
            break
        claims: dict[frozenset, list] = {}
        for k, v in places.items():
            if gains[k] == best:
                claims.setdefault(v & todo, []).append(k)
        for cells, ks in claims.items():
            stamps = {bytes(pats[pi].shape) + pats[pi].tobytes() + bytes([oy, ox]) for oy, ox, pi in ks}
            if len(stamps) > 1:
                return None  # two different copies explain these cells equally well
            oy, ox, pi = ks[0]
            pat = pats[pi]
            win = out[oy: oy + pat.shape[0], ox: ox + pat.shape[1]]
            win[pat != 0] = pat[pat != 0]
            todo -= cells
    return out


def fit_complete(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Partial copies of the grid's templates completed (`_complete`): as they stand, or turned and
    mirrored; every loose cell explained, or only those that fit a copy."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=True)):
        return []
    if all(np.array_equal(a, b) for a, b in zip(inputs, outputs, strict=True)):
        return []
    found = []
    for d8 in (False, True):
        for strict in (True, False):
            for richest in (False, True):
                if all((r := _complete(a, d8, strict, richest)) is not None and np.array_equal(r, b)
                       for a, b in zip(inputs, outputs, strict=True)):
                    preds = [_complete(t, d8, strict, richest) for t in tests]
                    if all(p is not None for p in preds):
                        name = f"complete{'_d8' if d8 else ''}{'' if strict else '_some'}{'_richest' if richest else ''}"
                        found.append((len(found), name, preds))
    return found
