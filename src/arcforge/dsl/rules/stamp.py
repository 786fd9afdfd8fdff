"""Stamping (`fit_stamp`): a template object copied onto every marker object.

Only train pairs and test inputs are read.
"""

from __future__ import annotations

import numpy as np

from arcforge.dsl import objects as ob
from arcforge.dsl.fitting import fitted
from arcforge.grid import Grid


def _stamp(g: Grid, anchor: str, diag: bool, by: str = "size", erase: bool = False) -> Grid | None:
    """g with one object (the template: the largest, or the one with the most colours, by `by`) painted
    over every other object (the markers): centred on it ("centre"), with the template's one cell of
    the marker's colour on the marker ("colour"), or over a marker whose box has the template's size
    ("box"); `erase` clears the template's own place first. None when the rule does not apply."""
    objs = ob.objects(g, diag, False)
    if len(objs) < 2:
        return None
    rank = sorted((getattr(o, by) for o in objs), reverse=True)
    if rank[0] == rank[1]:
        return None
    tpl = max(objs, key=lambda o: getattr(o, by))
    pat = tpl.crop(g)
    th, tw = pat.shape
    out = g.copy()
    if erase:
        out[tpl.mask] = 0
    h, w = g.shape
    for o in objs:
        if o is tpl:
            continue
        if anchor == "centre":
            if (o.y1 - o.y0 - th) % 2 or (o.x1 - o.x0 - tw) % 2:
                return None
            y, x = (o.y0 + o.y1 - th) // 2, (o.x0 + o.x1 - tw) // 2
        elif anchor == "colour":
            if o.size != 1:
                return None
            at = np.argwhere(pat == g[o.y0, o.x0])
            if len(at) != 1:
                return None
            y, x = o.y0 - at[0][0], o.x0 - at[0][1]
        else:
            if (o.y1 - o.y0, o.x1 - o.x0) != (th, tw):
                return None
            y, x = o.y0, o.x0
        ys, xs = np.nonzero(pat)
        ys, xs = ys + y, xs + x
        inside = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
        out[ys[inside], xs[inside]] = pat[ys[inside] - y, xs[inside] - x]
    return out


@fitted(order=20)
def fit_stamp(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """The largest object is a template copied onto every other object (_stamp's anchors)."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=False)):
        return []
    found = []
    for i, anchor in enumerate(("colour", "centre", "box")):
        for by, erase, diag in [(by, e, d) for by in ("size", "n_colours") for e in (False, True) for d in (True, False)]:
            if all((r := _stamp(a, anchor, diag, by, erase)) is not None and np.array_equal(r, b)
                   for a, b in zip(inputs, outputs, strict=False)):
                preds = [_stamp(t, anchor, diag, by, erase) for t in tests]
                if all(p is not None for p in preds):
                    tag = f"{'8' if diag else '4'}_{anchor}{'_most_colours' if by == 'n_colours' else ''}"
                    found.append((i, f"stamp{tag}{'_moved' if erase else ''}", preds))
                    break
    return found
