"""Partial copies of a template completed: the grid holds whole templates (objects of two or more
colours) and loose cells that are part of a copy of one (a few of its cells, in its colours); every
such copy is drawn in full. `fit_complete` learns whether copies may be turned or mirrored and whether
every loose cell must be explained.

Also here: patterns learned around seed cells (`fit_seed_pattern`), the pieces around anchor cells laid
over each other (`fit_gather`), and objects recoloured for sharing the shape of a boxed reference
object (`fit_shape_twins`).
"""

from __future__ import annotations

from itertools import product

import numpy as np

from arcforge.dsl import objects as ob
from arcforge.dsl.fitting import explaining, fitted
from arcforge.dsl.rules.common import shape_d8
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


@fitted(order=21)
def fit_complete(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Partial copies of the grid's templates completed (`_complete`): as they stand, or turned and
    mirrored; every loose cell explained, or only those that fit a copy."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=True)):
        return []
    if all(np.array_equal(a, b) for a, b in zip(inputs, outputs, strict=True)):
        return []
    return explaining(((f"complete{'_d8' if d8 else ''}{'' if strict else '_some'}{'_richest' if richest else ''}",
                        lambda g, d=d8, s=strict, r=richest: _complete(g, d, s, r))
                       for d8, strict, richest in product((False, True), (True, False), (False, True))),
                      inputs, outputs, tests)


# ---- a learned pattern around every seed cell ----------------------------------------------------

OWN = 10  # a pattern cell in the seed's own colour
MAX_SEEDS = 12


def _seed_pattern(inputs, outputs, per_colour: bool) -> dict | None:
    """The pattern the train outputs draw around every non-zero input cell (a seed): offset -> colour
    (OWN for the seed's own; 0 for seen and empty), per seed colour or one for all; an offset enters the
    pattern when every seed that can see it (inside its grid) shows the same non-zero colour there."""
    seen: dict = {}
    for a, b in zip(inputs, outputs, strict=True):
        h, w = a.shape
        ys, xs = np.nonzero(a)
        if not 1 <= len(ys) <= MAX_SEEDS:
            return None
        for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
            c = int(a[y, x])
            key = c if per_colour else 0
            rel = b.astype(np.int16)
            rel = np.where(rel == c, OWN, rel)
            table = seen.setdefault(key, {})
            for yy in range(h):
                for xx in range(w):
                    off = (yy - y, xx - x)
                    v = int(rel[yy, xx])
                    if off == (0, 0):
                        continue
                    old = table.get(off)
                    table[off] = v if old is None or old == v else -1
    return {k: {o: max(v, 0) for o, v in t.items()} for k, t in seen.items()}


def _draw_seeds(g: Grid, patterns: dict, per_colour: bool) -> Grid | None:
    ys, xs = np.nonzero(g)
    if not 1 <= len(ys) <= MAX_SEEDS:
        return None
    h, w = g.shape
    out = g.copy()
    for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
        c = int(g[y, x])
        pat = patterns.get(c if per_colour else 0)
        if pat is None:
            return None
        for yy in range(h):
            for xx in range(w):
                v = pat.get((yy - y, xx - x))
                if v is None and (yy, xx) != (y, x):
                    return None  # the train pairs never showed this far from a seed: no guessing
                if v and out[yy, xx] == 0:
                    out[yy, xx] = c if v == OWN else v
    return out


@fitted(order=23)
def fit_seed_pattern(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Every non-zero input cell draws the same learned pattern around itself (one for all seeds, its
    colours relative to the seed's, or one per seed colour); the patterns must give every train output."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=True)):
        return []
    if any(((a != 0) & (a != b)).any() for a, b in zip(inputs, outputs, strict=True)):
        return []
    found = []
    for per_colour in (False, True):
        pats = _seed_pattern(inputs, outputs, per_colour)
        if not pats or not any(v for pat in pats.values() for v in pat.values()):
            continue
        if all((r := _draw_seeds(a, pats, per_colour)) is not None and np.array_equal(r, b)
               for a, b in zip(inputs, outputs, strict=True)):
            preds = [_draw_seeds(t, pats, per_colour) for t in tests]
            if all(p is not None for p in preds):
                found.append((len(found), f"seed_pattern{'_per_colour' if per_colour else ''}", preds))
    return found


# ---- pieces gathered around their anchors -------------------------------------------------------

def _gather(g: Grid, anchor: int, shape: tuple[int, int]) -> Grid | None:
    """The windows of `shape` centred on every cell of colour `anchor`, laid over each other (their
    non-zero cells must agree where they meet)."""
    h, w = shape
    if h % 2 == 0 or w % 2 == 0:
        return None
    ys, xs = np.nonzero(g == anchor)
    if len(ys) < 2:
        return None
    pad = np.pad(g, ((h // 2, h // 2), (w // 2, w // 2)))
    out = np.zeros(shape, np.int8)
    for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
        win = pad[y: y + h, x: x + w]
        clash = (out != 0) & (win != 0) & (out != win)
        if clash.any():
            return None
        out = np.where(win != 0, win, out)
    return out


@fitted(order=28)
def fit_gather(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Outputs of one odd shape that lay the pieces around every cell of one colour (an anchor) over
    each other, anchors at the centre."""
    shapes = {b.shape for b in outputs}
    if len(shapes) != 1:
        return []
    shape = shapes.pop()
    return explaining(((f"gather_c{c}", lambda g, c=c: _gather(g, c, shape)) for c in range(1, 10)),
                      inputs, outputs, tests)


def _walls(h: ob.Obj, o: ob.Obj) -> bool:
    """Whether h has cells on all four sides of o's box, in its rows and columns."""
    m = h.mask
    return bool(m[:o.y0, o.x0:o.x1].any() and m[o.y1:, o.x0:o.x1].any() and m[o.y0:o.y1, :o.x0].any()
                and m[o.y0:o.y1, o.x1:].any())


def _boxed_by(o: ob.Obj, objs, closed: bool) -> ob.Obj | None:
    """The smallest other object whose bounding box holds o's (a frame drawn around a reference shape, or
    a corner box whose other sides are the grid's edges); with `closed`, one walling o in on all sides."""
    hosts = [h for h in objs if h is not o and h.y0 <= o.y0 and h.x0 <= o.x0 and h.y1 >= o.y1 and h.x1 >= o.x1
             and (h.y1 - h.y0) * (h.x1 - h.x0) > (o.y1 - o.y0) * (o.x1 - o.x0) and (not closed or _walls(h, o))]
    return min(hosts, key=lambda h: (h.y1 - h.y0) * (h.x1 - h.x0), default=None)


def _shape_twins(g: Grid, d8: bool, closed: bool, source: str | int) -> Grid | None:
    """Every free object shaped like a boxed reference object of another colour takes a colour: the
    reference's (`source` "ref"), its box's ("box") or a fixed one; None when nothing matches or a free
    object matches references that disagree."""
    objs = ob.objects(g, True, True)
    if len(objs) > 60:
        return None
    boxes = {o.idx: _boxed_by(o, objs, closed) for o in objs}
    key = shape_d8 if d8 else ob.Obj.shape_key
    refs = [(key(o), o) for o in objs if boxes[o.idx] is not None]
    if not refs:
        return None
    out = g.copy()
    changed = False
    for o in objs:
        if boxes[o.idx] is not None:
            continue
        k = key(o)
        colours = {r.colour if source == "ref" else boxes[r.idx].colour if source == "box" else source
                   for rk, r in refs if rk == k and r.colour != o.colour}
        if len(colours) > 1:
            return None
        if colours:
            out[o.mask] = colours.pop()
            changed = True
    return out if changed else None


@fitted(order=22)
def fit_shape_twins(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Objects recoloured for having the shape of a reference object set apart in a box (_shape_twins):
    whether turned or mirrored shapes count, and where the new colour comes from."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=True)):
        return []
    new = set()
    for a, b in zip(inputs, outputs, strict=True):
        new |= set(np.unique(b[a != b]).tolist())
    return explaining(((f"shape_twins[{source}{':closed' if closed else ''}{':d8' if d8 else ''}]",
                        lambda g, s=source, d=d8, c=closed: _shape_twins(g, d, c, s))
                       for source, closed, d8 in product(("ref", "box", *sorted(new)), (True, False), (False, True))),
                      inputs, outputs, tests)[:2]
