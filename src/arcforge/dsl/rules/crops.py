"""Choosing one object (`fit_object_crop`) or one part of a split grid (`fit_part_pick`) by a
property and cropping it, or a fixed window (`fit_window`).

Only train pairs and test inputs are read.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from arcforge.dsl import objects as ob
from arcforge.dsl.fitting import fitted
from arcforge.dsl.rules.common import I8, by_votes, object_features
from arcforge.grid import Grid


def _crop_features(g: Grid, objs) -> list[dict]:
    feats = object_features(g, objs)
    for o, f in zip(objs, feats, strict=False):
        box = g[o.y0: o.y1, o.x0: o.x1]
        counts = np.bincount(box.ravel(), minlength=10)
        f["n_colours"] = o.n_colours
        f["box_colours"] = int((counts[1:] > 0).sum())
        f["area"] = box.size
        f["density"] = o.size / box.size
        f["top"], f["left"], f["bottom"], f["right"] = o.y0, o.x0, o.y1, o.x1
        for c in range(1, 10):
            f[f"count_c{c}"] = int(counts[c])
    return feats


CATEGORICAL = ("colour", "shape", "shape_d8", "has_hole", "border", "sym_lr", "sym_ud", "sym_diag", "box_full", "square",
               "odd_box", "path")


def _selectors(tr_feats: list[list[dict]]) -> list[tuple[str, Callable]]:
    """Ways to pick objects from a list of feature dicts (the indices picked): argmax/argmin of a number,
    the objects with a value (of a category), the objects whose value nobody else has. A pick is
    usable when all the objects it picks crop to the same grid."""
    keys = list(tr_feats[0][0])
    names = [k for k in keys if k not in CATEGORICAL]
    cats = [k for k in CATEGORICAL if k in keys]
    sels: list[tuple[str, Callable]] = []

    def extreme(k, sign):
        def sel(fs):
            vals = [sign * f[k] for f in fs]
            best = max(vals)
            return [i for i, v in enumerate(vals) if v == best]
        return sel

    def only(k):
        def sel(fs):
            vals = [f[k] for f in fs]
            return [i for i, v in enumerate(vals) if vals.count(v) == 1]
        return sel

    def equal(k, v):
        return lambda fs: [i for i, f in enumerate(fs) if f[k] == v]

    for k in names:
        sels.append((f"max_{k}", extreme(k, 1)))
        sels.append((f"min_{k}", extreme(k, -1)))
    for k in cats + [k for k in ("size", "n_colours", "shape_count", "colour_count") if k in keys]:
        sels.append((f"unique_{k}", only(k)))
    for k in cats:
        vals = {f[k] for fs in tr_feats for f in fs}
        if len(vals) <= 12:
            for v in sorted(vals, key=repr):
                sels.append((f"{k}=={v!r}"[:40], equal(k, v)))
    return sels


def _minor_colour(g: Grid, o: ob.Obj) -> Grid:
    """The least common colour of an object's cells, as a 1x1 grid."""
    counts = np.bincount(g[o.mask], minlength=10)
    counts[counts == 0] = 10 ** 6
    return np.array([[int(np.argmin(counts))]], I8)


@fitted(order=10)
def fit_object_crop(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """(rank, rule name, test predictions) for every way of choosing one object whose crop (its own
    cells, its whole bounding box, or what is inside that box) or colour (main or least common, as a
    1x1 grid) is the output of every train pair."""
    if all(a.shape == b.shape for a, b in zip(inputs, outputs, strict=False)):
        return []
    found = []
    for diag, by_colour in ((True, False), (False, False), (False, True), (True, True)):
        tr_objs = [ob.objects(a, diag, by_colour) for a in inputs]
        te_objs = [ob.objects(t, diag, by_colour) for t in tests]
        if any(len(os) < 2 or len(os) > 60 for os in tr_objs + te_objs):
            continue
        tag = ("8" if diag else "4") + ("c" if by_colour else "")
        crops = {"obj": lambda g, o: o.crop(g), "box": lambda g, o: g[o.y0: o.y1, o.x0: o.x1],
                 "inner": lambda g, o: g[o.y0 + 1: o.y1 - 1, o.x0 + 1: o.x1 - 1],
                 "colour": lambda g, o: np.array([[o.colour]], I8), "minor": _minor_colour}
        for cname, cut in crops.items():
            good = []
            for a, b, os in zip(inputs, outputs, tr_objs, strict=False):
                hits = {i for i, o in enumerate(os) if cut(a, o).shape == b.shape and np.array_equal(cut(a, o), b)}
                if not hits:
                    break
                good.append(hits)
            else:
                tr_f = [_crop_features(a, os) for a, os in zip(inputs, tr_objs, strict=False)]
                te_f = [_crop_features(t, os) for t, os in zip(tests, te_objs, strict=False)]
                for rank_i, (sname, sel) in enumerate(_selectors(tr_f)):
                    if any(not sel(fs) or not set(sel(fs)) <= hits for fs, hits in zip(tr_f, good, strict=False)):
                        continue
                    preds = []
                    for t, os, fs in zip(tests, te_objs, te_f, strict=False):
                        got = [cut(t, os[i]) for i in sel(fs)]
                        if not got or got[0].size == 0 or any(not np.array_equal(x, got[0]) for x in got[1:]):
                            break
                        preds.append(np.ascontiguousarray(got[0]))
                    else:
                        found.append((rank_i, f"crop{tag}_{cname}[{sname}]", preds))
    return by_votes(found)


@fitted(order=15)
def fit_window(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """The output is a fixed-size window of the input at a fixed offset from one corner."""
    shapes = {b.shape for b in outputs}
    if len(shapes) != 1 or all(a.shape == b.shape for a, b in zip(inputs, outputs, strict=False)):
        return []
    (h, w), = shapes
    found = []
    for fy in (False, True):
        for fx in (False, True):
            def view(g, fy=fy, fx=fx):
                return g[::-1 if fy else 1, ::-1 if fx else 1]
            offs = None
            for a, b in zip(inputs, outputs, strict=False):
                va, vb = view(a), view(b)
                H, W = va.shape
                here = {(y, x) for y in range(H - h + 1) for x in range(W - w + 1)
                        if np.array_equal(va[y: y + h, x: x + w], vb)}
                offs = here if offs is None else offs & here
                if not offs:
                    break
            for y, x in sorted(offs or ()):
                preds = []
                for t in tests:
                    vt = view(t)
                    if vt.shape[0] < y + h or vt.shape[1] < x + w:
                        break
                    preds.append(np.ascontiguousarray(view(vt[y: y + h, x: x + w])))
                else:
                    found.append((y + x, f"window[{'b' if fy else 't'}{'r' if fx else 'l'}{y},{x}]", preds))
    found.sort(key=lambda f: f[0])
    return found


def _part_features(parts) -> list[dict]:
    shapes = [bytes(p.shape) + np.packbits(p != 0).tobytes() for p in parts]
    grids = [bytes(p.shape) + p.tobytes() for p in parts]
    feats = []
    for p, sk, gk in zip(parts, shapes, grids, strict=False):
        counts = np.bincount(p.ravel(), minlength=10)
        f = {"size": int((p != 0).sum()), "n_colours": int((counts[1:] > 0).sum()),
             "shape": sk, "shape_count": shapes.count(sk), "grid_count": grids.count(gk),
             "colour": int(np.argmax(counts[1:]) + 1) if counts[1:].any() else 0,
             "sym_lr": bool((p == p[:, ::-1]).all()), "sym_ud": bool((p == p[::-1]).all()),
             "sym_diag": p.shape[0] == p.shape[1] and bool((p == p.T).all())}
        for c in range(1, 10):
            f[f"count_c{c}"] = int(counts[c])
        feats.append(f)
    return feats


PART_SPLITS: dict[str, Callable[[Grid], tuple]] = {
    "cells": ob.cells,
    "halves": lambda g: ob.equal_parts(g, 2, 0 if g.shape[0] > g.shape[1] else 1),
    "thirds": lambda g: ob.equal_parts(g, 3, 0 if g.shape[0] > g.shape[1] else 1),
}


@fitted(order=11)
def fit_part_pick(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """(rank, rule name, test predictions) for every way of choosing the part (a cell between separator
    lines, or one of equal parts along the longer side) that is the output of every train pair."""
    found = []
    for split_name, split in PART_SPLITS.items():
        found += [(r, f"{split_name}:{text}", preds) for r, text, preds in _fit_part_pick(inputs, outputs, tests, split)]
    return by_votes(found)


def _fit_part_pick(inputs, outputs, tests, split) -> list[tuple[int, str, list[Grid]]]:
    tr_parts = [split(a) for a in inputs]
    te_parts = [split(t) for t in tests]
    if any(len(ps) < 2 for ps in tr_parts + te_parts):
        return []
    good = []
    for b, ps in zip(outputs, tr_parts, strict=False):
        hits = {i for i, p in enumerate(ps) if p.shape == b.shape and np.array_equal(p, b)}
        if not hits:
            return []
        good.append(hits)
    tr_f = [_part_features(ps) for ps in tr_parts]
    te_f = [_part_features(ps) for ps in te_parts]
    found = []
    for rank_i, (sname, sel) in enumerate(_selectors(tr_f)):
        if any(not sel(fs) or not set(sel(fs)) <= hits for fs, hits in zip(tr_f, good, strict=False)):
            continue
        preds = []
        for ps, fs in zip(te_parts, te_f, strict=False):
            got = [ps[i] for i in sel(fs)]
            if not got or any(not np.array_equal(x, got[0]) for x in got[1:]):
                break
            preds.append(np.ascontiguousarray(got[0]))
        else:
            found.append((rank_i, f"part[{sname}]", preds))
    return found
