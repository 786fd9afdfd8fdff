"""Rays whose sources are told apart by their surroundings: a cell shoots along a direction when the
cells around it, seen from that direction, look a certain way (the tip of a diagonal line continues
it; a corner of a block does not). Learned from the train pairs by `fit_tip_rays`.

A cell's view along direction d counts its non-zero neighbours (or those of its own colour) straight
ahead, straight behind, to the sides, ahead-to-the-sides and behind-to-the-sides; the same view taken
along every direction makes the rule the same under rotations and mirrors.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from arcforge.dsl.fitting import explains, fitted
from arcforge.dsl.primitives import DIRS8
from arcforge.grid import Grid

MAX_SOURCES = 120


def _slot(d: tuple[int, int], o: tuple[int, int]) -> int:
    """Where neighbour offset o counts in a view facing d: 0 ahead, 1 behind, 2 to a side, 3
    ahead-to-a-side, 4 behind-to-a-side."""
    ahead = o[0] * d[0] + o[1] * d[1]
    if o == d:
        return 0
    if o == (-d[0], -d[1]):
        return 1
    return 2 if ahead == 0 else 3 if ahead > 0 else 4


SLOTS = [[_slot(d, o) for o in DIRS8] for d in DIRS8]  # per direction, each neighbour's slot


def _around(occ: np.ndarray, y: int, x: int) -> list[int]:
    """Whether each of (y, x)'s 8 neighbours (DIRS8's order) is occupied; off the grid is not."""
    h, w = occ.shape
    return [int(0 <= y + oy < h and 0 <= x + ox < w and occ[y + oy, x + ox]) for oy, ox in DIRS8]


def _view(around: list[int], d: int) -> tuple[int, ...]:
    """(ahead, behind, sides, ahead-sides, behind-sides) occupancy of a cell's neighbours (`_around`)
    facing direction DIRS8[d]."""
    counts = [0, 0, 0, 0, 0]
    for slot, o in zip(SLOTS[d], around, strict=True):
        counts[slot] += o
    return tuple(counts)


def _ray(g: Grid, y: int, x: int, dy: int, dx: int, through: bool) -> list[tuple[int, int]]:
    """The zero cells a ray from (y, x) along (dy, dx) paints: up to the first non-zero cell, or
    (`through`) all of them to the edge."""
    h, w = g.shape
    cells = []
    y, x = y + dy, x + dx
    while 0 <= y < h and 0 <= x < w:
        if g[y, x] == 0:
            cells.append((y, x))
        elif not through:
            break
        y, x = y + dy, x + dx
    return cells


def _sources(g: Grid, same: bool, through: bool, b: Grid | None = None):
    """Every non-zero cell of g as (colour, its (view, ray cells, what b has on them) along each of the
    8 directions; no view where the ray is empty, b's cells as bytes, None without b); None for a grid
    of more than MAX_SOURCES such cells."""
    ys, xs = np.nonzero(g)
    if len(ys) > MAX_SOURCES:
        return None
    out = []
    for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
        c = int(g[y, x])
        around = _around((g == c) if same else (g != 0), y, x)
        per = []
        for d, (dy, dx) in enumerate(DIRS8):
            cells = _ray(g, y, x, dy, dx, through)
            seen = None
            if cells and b is not None:
                ry, rx = zip(*cells, strict=True)
                seen = b[list(ry), list(rx)].astype(np.int8).tobytes()
            per.append((_view(around, d) if cells else None, cells, seen))
        out.append((c, per))
    return out


def _shots(sources, dirs: tuple[int, ...]):
    """Every (view key, colour, ray cells, output cells) of the sources (`_sources`) along the
    directions `dirs`; a key holds the direction only when `dirs` is one direction."""
    if sources is None:
        return None
    return [((d if len(dirs) == 1 else d < 4,) + per[d][0], c, per[d][1], per[d][2])
            for c, per in sources for d in dirs if per[d][1]]


def _pattern(c: int, k: int, style: str) -> int:
    """The colour of the k-th cell (1 = next to the source) of a ray of colour c: solid, only the first
    n cells ("len{n}"), every second cell ("dash"), or alternating with colour a ("alt{a}")."""
    if style.startswith("len"):
        return c if k <= int(style[3:]) else 0
    if style == "solid" or k % 2 == 0:
        return c
    return 0 if style == "dash" else int(style[3:])


@lru_cache(maxsize=8192)
def _drawn(c: int, n: int, style: str) -> bytes:
    """The n cells of a ray of colour c in `style`, as bytes (a ray's output cells are compared to it)."""
    return bytes(_pattern(c, k, style) for k in range(1, n + 1))


@fitted(order=3)
def fit_tip_rays(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Cells shoot rays of their own colour along the directions from which their surroundings look
    like those of the cells that shoot in the train pairs; every ray is drawn in full, stopping at the
    first non-zero cell (or passing over them: "through"), solid, one or two cells long, dashed or
    alternating with one other colour. Only zero cells change."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=True)):
        return []
    if any(((a != 0) & (a != b)).any() for a, b in zip(inputs, outputs, strict=True)):
        return []
    if all(np.array_equal(a, b) for a, b in zip(inputs, outputs, strict=True)):
        return []
    in_cols = {int(c) for a in inputs for c in np.unique(a)}
    added = {int(c) for b in outputs for c in np.unique(b)} - in_cols
    styles = ["solid", "len1", "len2", "dash"] + [f"alt{c}" for c in sorted(added)]
    found = []
    for through in (False, True):
        for same in (False, True):
            tr_sources = [_sources(a, same, through, b) for a, b in zip(inputs, outputs, strict=True)]
            te_sources = None
            for dname, dirs in (("8", tuple(range(8))), ("4", (0, 1, 2, 3)), ("x", (4, 5, 6, 7)),
                                *((f"_{'udlrABCD'[d]}", (d,)) for d in range(8))):
                shots = [_shots(src, dirs) for src in tr_sources]
                if any(s is None for s in shots):
                    continue
                for style in styles:
                    fires: dict = {}
                    for ss in shots:
                        for key, c, cells, seen in ss:
                            fires[key] = fires.get(key, True) and seen == _drawn(c, len(cells), style)
                    keys = {k for k, v in fires.items() if v}
                    if not keys:
                        continue

                    def paint(g, ss, keys=keys, style=style):
                        out = g.copy()
                        for key, c, cells, _ in ss:
                            if key in keys:
                                for k, (y, x) in enumerate(cells, 1):
                                    v = _pattern(c, k, style)
                                    if v:
                                        out[y, x] = v
                        return out

                    if not all(np.array_equal(paint(a, ss), b) for a, ss, b in zip(inputs, shots, outputs, strict=True)):
                        continue
                    if te_sources is None:
                        te_sources = [_sources(t, same, through) for t in tests]
                    te = [_shots(src, dirs) for src in te_sources]
                    if any(s is None for s in te) or not any(key in keys for ss in te for key, *_ in ss):
                        continue
                    if any(key not in fires for ss in te for key, *_ in ss):
                        continue  # a test cell whose surroundings no train cell had: no guessing
                    name = f"tip_rays{dname}{'_same' if same else ''}{'_through' if through else ''}"
                    name += "" if style == "solid" else f"_{style}"
                    found.append((len(found), name, [paint(t, ss) for t, ss in zip(tests, te, strict=True)]))
                    break
    return found


# ---- lines drawn from objects ------------------------------------------------------------------

LINE_KINDS = ("centre_h", "centre_v", "centre_hv", "marker_on", "marker_back")


def _object_lines(g: Grid, kind: str, colour: int | None, diag: bool) -> Grid | None:
    """Lines drawn on the zero cells for every object (non-zero, 4- or 8-connected): along the middle
    row and/or column of its box across the grid ("centre_*"), or, for an object with one cell of a
    colour it has only once (its marker), from that cell through the object's centre to the edge
    ("marker_on") or away from it ("marker_back"), in `colour` or (None) the marker's or object's own."""
    from arcforge.dsl import objects as ob

    objs = ob.objects(g, diag, False)
    if not objs or len(objs) > 30:
        return None
    h, w = g.shape
    out = g.copy()
    drew = False
    for o in objs:
        if kind.startswith("centre"):
            if (o.y1 - o.y0) % 2 == 0 and kind != "centre_v" or (o.x1 - o.x0) % 2 == 0 and kind != "centre_h":
                return None
            cy, cx = (o.y0 + o.y1) // 2, (o.x0 + o.x1) // 2
            c = o.colour if colour is None else colour
            line = np.zeros((h, w), bool)
            if kind in ("centre_h", "centre_hv"):
                line[cy] = True
            if kind in ("centre_v", "centre_hv"):
                line[:, cx] = True
            paint = line & (g == 0)
            out[paint] = c
            drew |= bool(paint.any())
            continue
        crop = np.where(o.mask, g, 0)
        counts = np.bincount(crop[o.mask], minlength=10)
        once = [c for c in range(1, 10) if counts[c] == 1]
        if len(once) != 1 or o.n_colours < 2:
            continue
        my, mx = (int(v[0]) for v in np.nonzero(crop == once[0]))
        ys, xs = o.cells
        sy, sx = int(np.sign(ys.mean() - my)), int(np.sign(xs.mean() - mx))
        if kind == "marker_back":
            sy, sx = -sy, -sx
        if sy == 0 and sx == 0:
            return None
        c = once[0] if colour is None else colour
        y, x = my + sy, mx + sx
        while 0 <= y < h and 0 <= x < w:
            if g[y, x] == 0:
                out[y, x] = c
                drew = True
            y, x = y + sy, x + sx
    return out if drew else None


@fitted(order=4)
def fit_object_lines(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Lines drawn from every object (`_object_lines`) that give every train output, in the one colour
    the outputs add or in the objects' own."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=True)):
        return []
    if any(((a != 0) & (a != b)).any() for a, b in zip(inputs, outputs, strict=True)):
        return []
    new = {int(c) for a, b in zip(inputs, outputs, strict=True) for c in np.unique(b[a != b])}
    colours = [None] + sorted(new) if len(new) == 1 else [None]
    found = []
    for kind in LINE_KINDS:
        for colour in colours:
            for diag in (False, True):
                preds = explains(lambda g, k=kind, c=colour, d=diag: _object_lines(g, k, c, d), inputs, outputs, tests)
                if preds is not None:
                    found.append((len(found), f"lines{'8' if diag else '4'}_{kind}_{'own' if colour is None else colour}",
                                  preds))
                    break
    return found
