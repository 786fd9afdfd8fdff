"""Object recolouring (`fit_object_recolour`): every object (or region of zero cells) keeps its cells
and gets one colour chosen by one of its properties (size, shape, holes, border contact, rank, ...);
objects painted the colour of a source they touch or line up with (`fit_object_source`).

Only train pairs and test inputs are read.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

import numpy as np

from arcforge.dsl import objects as ob
from arcforge.dsl.fitting import fitted
from arcforge.dsl.rules.common import FLAGS, I8, KEEP, NUMERIC, by_votes, fit_table, object_features
from arcforge.grid import Grid, pad1

SEEN_TWICE = ("path",)  # features that fit any few objects: each value must be learnt from two


def _labels(a: Grid, b: Grid, objs) -> list[set] | None:
    """What each object became: {colour} if painted one colour, plus KEEP if it is unchanged."""
    out = []
    for o in objs:
        m = o.mask
        got = np.unique(b[m])
        same = bool((b[m] == a[m]).all())
        if len(got) == 1:
            out.append({int(got[0]), KEEP} if same else {int(got[0])})
        elif same:
            out.append({KEEP})
        else:
            return None
    return out


def _object_changes(inputs, outputs, tr_view, te_view, diag: bool, by_colour: bool):
    """The objects of every train and test grid (found in `tr_view`/`te_view`, the grids as a rule
    sees them) and, per train grid, what each of its objects became (_labels); None when a grid has
    no objects or more than 60, or an object became several colours."""
    tr_objs = [ob.objects(a, diag, by_colour) for a in tr_view]
    te_objs = [ob.objects(t, diag, by_colour) for t in te_view]
    if any(not os or len(os) > 60 for os in tr_objs + te_objs):
        return None
    labels = [_labels(a, b, os) for a, b, os in zip(inputs, outputs, tr_objs, strict=False)]
    if any(lab is None for lab in labels):
        return None
    return tr_objs, te_objs, labels


@fitted(order=5)
def fit_object_recolour(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """(table size, rule name, test predictions) for every object property that decides, through one
    table, the colour of every train object; cells outside objects must stay as they are. The objects
    are the non-zero components, or (mode 'r') the regions of zero cells, which then may get colours."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=False)):
        return []
    found = []
    objects_changed = any(((a != 0) & (a != b)).any() for a, b in zip(inputs, outputs, strict=False))
    zeros_changed = any(((a == 0) & (a != b)).any() for a, b in zip(inputs, outputs, strict=False))
    modes = []
    if not zeros_changed:
        modes += [("8", lambda g: g, True, False), ("4", lambda g: g, False, False),
                  ("4c", lambda g: g, False, True), ("8c", lambda g: g, True, True)]
    if not objects_changed:
        modes.append(("r", lambda g: (g == 0).astype(I8), False, False))
    for tag, view, diag, by_colour in modes:
        tr_v, te_v = [view(a) for a in inputs], [view(t) for t in tests]
        seen = _object_changes(inputs, outputs, tr_v, te_v, diag, by_colour)
        if seen is not None:
            tr_objs, te_objs, per_grid = seen
            labels = [lab for labs in per_grid for lab in labs]
            tr_f = [f for a, os in zip(tr_v, tr_objs, strict=False) for f in object_features(a, os)]
            te_f = [object_features(t, os) for t, os in zip(te_v, te_objs, strict=False)]
            props: list[tuple[str, Callable]] = [(k, lambda f, k=k: f[k]) for k in tr_f[0] if k != "colour"]
            for k in NUMERIC:
                for v in sorted({f[k] for f in tr_f}):
                    props.append((f"{k}=={v}", lambda f, k=k, v=v: f[k] == v))
                    props.append((f"{k}>={v}", lambda f, k=k, v=v: f[k] >= v))
            props += [(f"colour+{k}", lambda f, k=k: (f["colour"], f[k])) for k in ("has_hole", "border", "size_rank")]
            props += [(f"{a}+{b}", lambda f, a=a, b=b: (f[a], f[b])) for a, b in combinations(FLAGS, 2)]
            for pname, prop in props:
                values = [prop(f) for f in tr_f]
                table = fit_table(values, labels)
                if table is None or all(v == KEEP for v in table.values()):
                    continue
                if pname in SEEN_TWICE and min(values.count(v) for v in table) < 2:
                    continue
                if any(prop(f) not in table for fs in te_f for f in fs):
                    continue
                preds = []
                for t, os, fs in zip(tests, te_objs, te_f, strict=False):
                    out = t.copy()
                    for o, f in zip(os, fs, strict=False):
                        c = table[prop(f)]
                        if c != KEEP:
                            out[o.mask] = c
                    preds.append(out)
                found.append((len(table), f"recolour{tag}[{pname}]", preds))
    return by_votes(found)


def _grow(m: np.ndarray) -> np.ndarray:
    """m and its 8 neighbours."""
    h, w = m.shape
    p = pad1(m)
    return np.logical_or.reduce([p[1 + dy: 1 + dy + h, 1 + dx: 1 + dx + w]
                                 for dy in (-1, 0, 1) for dx in (-1, 0, 1)])


SOURCES = ("touch", "cols", "rows", "near", "inside")


def _sources(g: Grid, o, movers: list[int]) -> tuple[int | None, ...]:
    """Colours (in SOURCES order) object o could take from elsewhere in g: the one colour other than
    the movers' that touches it, that shares its columns or its rows, that lies nearest to it, or that
    lies inside its box; None where that is not exactly one colour."""
    other = (g != 0) & ~np.isin(g, movers)
    m = o.mask
    outside_o = other & ~m
    box = np.zeros_like(m)
    box[o.y0: o.y1, o.x0: o.x1] = True
    cols, rows = np.zeros_like(m), np.zeros_like(m)
    cols[:, o.x0: o.x1] = True
    rows[o.y0: o.y1, :] = True
    near = None
    oy, ox = np.nonzero(m)
    ty, tx = np.nonzero(outside_o)
    if len(ty):
        d = np.maximum(abs(ty[:, None] - oy[None]), abs(tx[:, None] - ox[None])).min(axis=1)
        near = outside_o.copy()
        near[ty[d > d.min()], tx[d > d.min()]] = False

    def one(cells) -> int | None:
        if cells is None:
            return None
        cs = np.unique(g[cells])
        return int(cs[0]) if len(cs) == 1 else None
    return (one(_grow(m) & outside_o), one(cols & outside_o), one(rows & outside_o), one(near), one(box & other))


@fitted(order=6)
def fit_object_source(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """(0, rule name, test predictions) for each way of finding, elsewhere in the grid, the colour that
    every changed object is painted (SOURCES): objects of the colours that change ("movers") each take
    the one colour touching them, in their columns or rows, nearest, or inside their box; everything
    else stays as it is."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=False)):
        return []
    if any(((a == 0) & (a != b)).any() for a, b in zip(inputs, outputs, strict=False)):
        return []
    found = []
    for tag, diag, by_colour in (("8c", True, True), ("4c", False, True), ("8", True, False)):
        seen = _object_changes(inputs, outputs, inputs, tests, diag, by_colour)
        if seen is not None:
            tr_objs, te_objs, labels = seen
            movers = sorted({o.colour for os, labs in zip(tr_objs, labels, strict=False)
                             for o, lab in zip(os, labs, strict=False) if KEEP not in lab})
            # every object of a mover colour must be explained; the others must stay as they are
            if not movers or any(KEEP not in lab for os, labs in zip(tr_objs, labels, strict=False)
                                 for o, lab in zip(os, labs, strict=False) if o.colour not in movers):
                continue
            tr_src = [[_sources(a, o, movers) for o in os if o.colour in movers]
                      for a, os in zip(inputs, tr_objs, strict=False)]
            tr_lab = [[lab for o, lab in zip(os, labs, strict=False) if o.colour in movers]
                      for os, labs in zip(tr_objs, labels, strict=False)]
            te_src = [[(o, _sources(t, o, movers)) for o in os if o.colour in movers]
                      for t, os in zip(tests, te_objs, strict=False)]
            for k, name in enumerate(SOURCES):
                if not all(src[k] is not None and src[k] in lab
                           for srcs, labs in zip(tr_src, tr_lab, strict=False) for src, lab in zip(srcs, labs, strict=False)):
                    continue
                if any(src[k] is None for srcs in te_src for _, src in srcs):
                    continue
                preds = []
                for t, srcs in zip(tests, te_src, strict=False):
                    out = t.copy()
                    for o, src in srcs:
                        out[o.mask] = src[k]
                    preds.append(out)
                found.append((0, f"source{tag}[{name}]", preds))
    return found
