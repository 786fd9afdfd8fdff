"""L-shaped paths joining two lone cells (`fit_l_path`).

Only train pairs and test inputs are read.
"""

from __future__ import annotations

import numpy as np

from arcforge.dsl.fitting import fitted
from arcforge.grid import Grid


def _l_path(g: Grid, a: int, b: int, c: int, a_first_rows: bool) -> Grid | None:
    """g with an L-shaped path of colour c (over zero cells) from the one cell of colour a to the one
    cell of colour b: along a's row, then b's column (or column first, with `a_first_rows` False)."""
    pa, pb = np.argwhere(g == a), np.argwhere(g == b)
    if len(pa) != 1 or len(pb) != 1:
        return None
    (ya, xa), (yb, xb) = pa[0], pb[0]
    out = g.copy()
    cy, cx = (ya, xb) if a_first_rows else (yb, xa)
    cells = np.zeros(g.shape, bool)
    cells[min(ya, cy): max(ya, cy) + 1, min(xa, cx): max(xa, cx) + 1] = True
    cells[min(yb, cy): max(yb, cy) + 1, min(xb, cx): max(xb, cx) + 1] = True
    cells &= g == 0
    out[cells] = c
    return out


@fitted(order=24)
def fit_l_path(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Two lone cells of two colours joined by an L-shaped path of a third colour."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=False)):
        return []
    if any(((a != 0) & (a != b)).any() for a, b in zip(inputs, outputs, strict=False)):
        return []
    new = {int(c) for a, b in zip(inputs, outputs, strict=False) for c in np.unique(b[a != b])}
    if len(new) != 1:
        return []
    c = new.pop()
    once = None
    for a in inputs + tests:
        counts = np.bincount(a.ravel(), minlength=10)
        here = {k for k in range(1, 10) if counts[k] == 1}
        once = here if once is None else once & here
    found = []
    for ca in sorted(once or ()):
        for cb in sorted(once - {ca}):
            for rows in (True, False):
                if all((r := _l_path(a, ca, cb, c, rows)) is not None and np.array_equal(r, b)
                       for a, b in zip(inputs, outputs, strict=False)):
                    preds = [_l_path(t, ca, cb, c, rows) for t in tests]
                    if all(p is not None for p in preds):
                        found.append((0, f"path_c{ca}_c{cb}_{'rows' if rows else 'cols'}_c{c}", preds))
    return found[:1]
