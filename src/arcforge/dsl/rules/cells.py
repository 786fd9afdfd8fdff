"""Cell rules: each output cell as a table of a few features of the input cell (its colour, its
neighbours, the first colours along rows, columns and diagonals, position modulo 2 or 3, enclosure,
region size, ...): fixed descriptions (`fit_cell_rules`), the smallest set of features that works
(`fit_cell_features`), or colour-free rules that keep the cell, copy a neighbour's or ray's colour,
or paint one colour (`fit_cell_copy`).

Only train pairs and test inputs are read.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from itertools import chain, combinations
from math import comb

import numpy as np

from arcforge.dsl import lines
from arcforge.dsl.fitting import fitted
from arcforge.dsl.primitives import outside
from arcforge.dsl.rules.common import I8, colour_box
from arcforge.grid import Grid, grid_key, label, pad1

EDGE = 10  # the value of a neighbour off the grid
BASE = 16  # cell features take values 0..15


def _neigh(g: Grid, offsets) -> list[np.ndarray]:
    p = pad1(g.astype(np.int64), EDGE)
    h, w = g.shape
    return [p[1 + dy: 1 + dy + h, 1 + dx: 1 + dx + w] for dy, dx in offsets]


N4 = [(-1, 0), (1, 0), (0, -1), (0, 1)]


N8 = N4 + [(-1, -1), (-1, 1), (1, -1), (1, 1)]


def _rays(g: Grid) -> list[np.ndarray]:
    """For each cell the first non-zero colour strictly above, below, left and right of it (0: none)."""
    out = []
    for d in "durl":  # _ffill 'd' carries colours downwards: what is above a cell
        f = lines._ffill(g, d).astype(np.int64)
        s = np.zeros_like(f)
        if d == "d":
            s[1:] = f[:-1]
        elif d == "u":
            s[:-1] = f[1:]
        elif d == "r":
            s[:, 1:] = f[:, :-1]
        else:
            s[:, :-1] = f[:, 1:]
        out.append(s)
    return out


def _diag_rays(g: Grid) -> list[np.ndarray]:
    """For each cell the first non-zero colour along each of the four diagonals (0: none)."""
    h, w = g.shape
    m = max(h, w)
    p = np.zeros((h + 2 * m, w + 2 * m), np.int64)
    p[m: m + h, m: m + w] = g
    out = []
    for dy, dx in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
        first = np.zeros((h, w), np.int64)
        for k in range(1, m):
            seen = p[m + k * dy: m + k * dy + h, m + k * dx: m + k * dx + w]
            first = np.where(first == 0, seen, first)
        out.append(first)
    return out


def _rays_other(g: Grid) -> list[np.ndarray]:
    """For each cell the first colour along its column (up, down) and row (left, right) that is
    neither 0 nor its own colour (0: none)."""
    h, w = g.shape
    m = max(h, w)
    p = np.zeros((h + 2 * m, w + 2 * m), np.int64)
    p[m: m + h, m: m + w] = g
    own = g.astype(np.int64)
    out = []
    for dy, dx in N4:
        first = np.zeros((h, w), np.int64)
        for k in range(1, m):
            seen = p[m + k * dy: m + k * dy + h, m + k * dx: m + k * dx + w]
            first = np.where((first == 0) & (seen != own), seen, first)
        out.append(first)
    return out


def _enclosed(g: Grid) -> list[np.ndarray]:
    """Whether a zero cell cannot reach the border through zero cells (4-connected), and the same
    through zero cells with diagonal steps blocked."""
    free = g == 0
    return [(free & ~outside(free)).astype(np.int64)]


def _component_size(g: Grid) -> list[np.ndarray]:
    """The size (at most 10) of the one-colour 4-connected region each cell belongs to, zeros included."""
    lab, _ = label(g + 1, False, True, bg=-1)
    sizes = np.bincount(lab.ravel())
    return [np.minimum(sizes[lab], 10).astype(np.int64)]


def _mod(g: Grid, k: int) -> list[np.ndarray]:
    h, w = g.shape
    ys, xs = np.indices((h, w))
    return [ys % k, xs % k]


def _mod_end(g: Grid, k: int) -> list[np.ndarray]:
    h, w = g.shape
    ys, xs = np.indices((h, w))
    return [(h - 1 - ys) % k, (w - 1 - xs) % k]


DESCRIPTIONS: dict[str, Callable[[Grid], list[np.ndarray]]] = {
    "n4": lambda g: _neigh(g, N4),
    "nz8": lambda g: [(n != 0) * 1 + (n == EDGE) for n in _neigh(g, N8)],
    "n8": lambda g: _neigh(g, N8),
    "rays": _rays,
    "rays_nz": lambda g: [(r != 0) * 1 for r in _rays(g)],
    "mod2": lambda g: _mod(g, 2),
    "mod3": lambda g: _mod(g, 3),
    "mod2_end": lambda g: _mod_end(g, 2),
    "mod3_end": lambda g: _mod_end(g, 3),
    "diag": _diag_rays,
    "enclosed": _enclosed,
    "region": _component_size,
    "rays8": lambda g: _rays(g) + _diag_rays(g),
    "rays_n4": lambda g: _rays(g) + _neigh(g, N4),
}


def _cell_keys(g: Grid, name: str) -> np.ndarray:
    key = g.astype(np.int64)
    for f in DESCRIPTIONS[name](g):
        key = key * 11 + f
    return key.ravel()


@fitted(order=30)
def fit_cell_rules(inputs: list[Grid], outputs: list[Grid], tests: list[Grid],
                   keep_unseen: bool = True) -> list[tuple[int, str, list[Grid]]]:
    """(number of distinct train descriptions, rule name, test predictions) for every description whose
    table explains every train cell and covers every test cell, coarsest first."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=False)):
        return []
    target = np.concatenate([b.ravel() for b in outputs]).astype(np.int64)
    if all(np.array_equal(a, b) for a, b in zip(inputs, outputs, strict=False)):
        return []
    found = []
    for name in DESCRIPTIONS:
        keys = np.concatenate([_cell_keys(a, name) for a in inputs])
        uk, inv = np.unique(keys, return_inverse=True)
        table = np.full(len(uk), -1, np.int64)
        table[inv] = target
        if (table[inv] != target).any():
            continue
        preds, unseen = [], 0
        for t in tests:
            tk = _cell_keys(t, name)
            pos = np.minimum(np.searchsorted(uk, tk), len(uk) - 1)
            miss = uk[pos] != tk
            unseen += int(miss.sum())
            preds.append(np.where(miss, t.ravel(), table[pos]).reshape(t.shape).astype(I8))
        if unseen == 0:
            found.append((len(uk), f"cells[{name}]", preds))
        elif keep_unseen:
            found.append((1000 + len(uk), f"cells[{name}]~", preds))
    found.sort(key=lambda f: f[0])
    return found


def _feature_table(g: Grid) -> tuple[tuple[str, ...], np.ndarray]:
    """`_features(g)`, cached by content (read-only): both cell rules ask for the same grids, once per
    view of the task (a 30 x 30 grid's table takes about 0.4 MB)."""
    return _features_cached(grid_key(g), *g.shape)


@lru_cache(maxsize=64)
def _features_cached(key: bytes, h: int, w: int) -> tuple[tuple[str, ...], np.ndarray]:
    names, table = _features(np.frombuffer(key[2:], dtype=I8).reshape(h, w))
    table.setflags(write=False)
    return tuple(names), table


def _features(g: Grid) -> tuple[list[str], np.ndarray]:
    """Per-cell features (columns, values 0-15) for rules on a few of them: neighbours, first colours
    along rows, columns and diagonals, positions modulo 2 and 3 from either end, enclosure, region size,
    counts of non-zero neighbours, whether the row and column hold other non-zero cells, and the colour
    whose bounding box holds the cell most tightly."""
    h, w = g.shape
    ys, xs = np.indices((h, w))
    nz = (g != 0).astype(np.int64)
    cols: dict[str, np.ndarray] = {}
    for name, n in zip(("up", "down", "left", "right", "ul", "ur", "dl", "dr"), _neigh(g, N8), strict=False):
        cols[f"n_{name}"] = n
    for name, r in zip(("up", "down", "left", "right"), _rays(g), strict=False):
        cols[f"ray_{name}"] = r
    for name, r in zip(("ul", "ur", "dl", "dr"), _diag_rays(g), strict=False):
        cols[f"ray_{name}"] = r
    for name, r in zip(("up", "down", "left", "right"), _rays_other(g), strict=False):
        cols[f"ray_{name}_other"] = r
    side = np.stack(_neigh(g, N4))
    side = np.where(side == EDGE, 0, side)
    cols["n4_max"] = side.max(axis=0)
    cols["n4_min"] = np.where(side == 0, 10, side).min(axis=0) % 10
    for k in (2, 3):
        cols[f"y%{k}"], cols[f"x%{k}"] = ys % k, xs % k
        cols[f"-y%{k}"], cols[f"-x%{k}"] = (h - 1 - ys) % k, (w - 1 - xs) % k
    cols["enclosed"] = _enclosed(g)[0]
    cols["region"] = _component_size(g)[0]
    pn = pad1(nz)
    cols["nz4"] = pn[:-2, 1:-1] + pn[2:, 1:-1] + pn[1:-1, :-2] + pn[1:-1, 2:]
    cols["nz8"] = cols["nz4"] + pn[:-2, :-2] + pn[:-2, 2:] + pn[2:, :-2] + pn[2:, 2:]
    cols["row_nz"] = np.minimum(nz.sum(axis=1, keepdims=True) - nz, 10) + 0 * xs
    cols["col_nz"] = np.minimum(nz.sum(axis=0, keepdims=True) - nz, 10) + 0 * ys
    cols["side_mask"] = pn[:-2, 1:-1] + 2 * pn[2:, 1:-1] + 4 * pn[1:-1, :-2] + 8 * pn[1:-1, 2:]
    cols["diag_mask"] = pn[:-2, :-2] + 2 * pn[:-2, 2:] + 4 * pn[2:, :-2] + 8 * pn[2:, 2:]
    cols["row_any"] = (cols["row_nz"] > 0).astype(np.int64)
    cols["col_any"] = (cols["col_nz"] > 0).astype(np.int64)
    cols["border"] = ((ys == 0) | (xs == 0) | (ys == h - 1) | (xs == w - 1)).astype(np.int64)
    cols["box_colour"] = _box_colour(g)
    cols.update(_object_places(g))
    names = list(cols)
    return names, np.stack([g.astype(np.int64).ravel()] + [cols[k].ravel() for k in names], axis=1)


def _box_colour(g: Grid) -> np.ndarray:
    """Per cell, the non-zero colour whose bounding box (over all its cells) is the smallest that
    holds the cell; 0 where none does."""
    out = np.zeros(g.shape, np.int64)
    area = np.full(g.shape, g.size + 1)
    for c in np.unique(g):
        if c == 0:
            continue
        box = colour_box(g, c)
        a = (box[0].stop - box[0].start) * (box[1].stop - box[1].start)
        smaller = area[box] > a
        out[box][smaller] = c
        area[box][smaller] = a
    return out


def _object_places(g: Grid) -> dict[str, np.ndarray]:
    """Where each cell lies in the box of its one-colour object (4-connected): row and column offsets
    from the top and left modulo 2, whether it is on the box's top or bottom row, and whether it is in
    the box's lower or right half (the last floor(size / 2) rows or columns). Zero cells get 2 in each."""
    lab, n = label(g, False, True)
    ys, xs = np.indices(g.shape)
    fg = lab > 0
    top, left = np.full(n + 1, g.shape[0]), np.full(n + 1, g.shape[1])
    bottom, right = np.full(n + 1, -1), np.full(n + 1, -1)
    np.minimum.at(top, lab[fg], ys[fg])
    np.minimum.at(left, lab[fg], xs[fg])
    np.maximum.at(bottom, lab[fg], ys[fg])
    np.maximum.at(right, lab[fg], xs[fg])
    oy, ox = ys - top[lab], xs - left[lab]
    hh, ww = bottom[lab] - top[lab] + 1, right[lab] - left[lab] + 1
    places = {"oy%2": oy % 2, "ox%2": ox % 2,
              "o_edge_row": ((oy == 0) | (oy == hh - 1)).astype(np.int64),
              "o_low_half": (bottom[lab] - ys < hh // 2).astype(np.int64),
              "o_right_half": (right[lab] - xs < ww // 2).astype(np.int64)}
    return {k: np.where(fg, v, 2) for k, v in places.items()}


def _useful_columns(tr: np.ndarray) -> list[int]:
    """Feature columns (not the own colour, column 0) that vary over the train cells, one of each group
    of identical columns."""
    keep, seen = [], set()
    for c in range(1, tr.shape[1]):
        col = tr[:, c]
        key = col.tobytes()
        if (col == col[0]).all() or key in seen:
            continue
        seen.add(key)
        keep.append(c)
    return keep


@fitted(order=18)
def fit_cell_features(inputs: list[Grid], outputs: list[Grid], tests: list[Grid],
                      max_features: int = 3) -> list[tuple[int, str, list[Grid]]]:
    """(rank, rule name, test predictions) for the smallest sets of cell features (with the cell's own
    colour) whose table gives every train output cell and covers every test cell."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=False)):
        return []
    if all(np.array_equal(a, b) for a, b in zip(inputs, outputs, strict=False)):
        return []
    names, _ = _feature_table(inputs[0])
    tr = np.concatenate([_feature_table(a)[1] for a in inputs])
    te = [_feature_table(t)[1] for t in tests]
    target = np.concatenate([b.ravel() for b in outputs]).astype(np.int64)
    if len(target) > 2500:  # large grids: triples of features would take too long
        max_features = min(max_features, 2)
    if tr.min() < 0 or tr.max() >= BASE:  # keys out of the tables (numpy would raise; compiled code would not)
        return []
    from arcforge.kernels import table_functions  # compiled: thousands of feature sets, most fail at once

    found: list[tuple[int, str, list[Grid]]] = []
    table = np.full(BASE ** (max_features + 1), -1, np.int64)
    useful = _useful_columns(tr)
    te_all = np.concatenate(te) if te else tr[:0]
    for k in range(1, max_features + 1):
        weights = BASE ** np.arange(k + 1, dtype=np.int64)
        cols_of = _combos(useful, k)
        if not len(cols_of):
            break
        for c in np.flatnonzero(table_functions(tr, target, cols_of, BASE, te_all)):
            cols = cols_of[c]
            key = tr[:, cols] @ weights
            table[key] = target
            preds = [table[f[:, cols] @ weights].reshape(t.shape).astype(I8) for t, f in zip(tests, te, strict=False)]
            n_keys = len(np.unique(key))
            found.append((k * 1000 + n_keys, "cellf[" + ",".join(names[i - 1] for i in cols[1:]) + "]", preds))
        if len(found) >= 2:
            break
    found.sort(key=lambda f: f[0])
    return found


def _combos(useful: list[int], k: int) -> np.ndarray:
    """Every k of the `useful` feature columns (itertools' order), each row led by column 0 (the
    cell's own colour): the compiled table checks' `combos`."""
    n = comb(len(useful), k)
    flat = np.fromiter(chain.from_iterable(combinations(useful, k)), np.int64, count=n * k).reshape(n, k)
    return np.concatenate([np.zeros((n, 1), np.int64), flat], axis=1)


@fitted(order=17)
def fit_cell_copy(inputs: list[Grid], outputs: list[Grid], tests: list[Grid],
                  max_features: int = 2) -> list[tuple[int, str, list[Grid]]]:
    """Cell rules that name no colours: the cell's own colour and up to `max_features` other features are
    seen only as zero / colour / off-grid (counts and positions as they are), and each such description
    says either "keep", "take the colour of this neighbour or ray", or one fixed colour. The rules
    carry over to colours the train pairs never showed."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=False)):
        return []
    if all(np.array_equal(a, b) for a, b in zip(inputs, outputs, strict=False)):
        return []
    names, _ = _feature_table(inputs[0])
    colour_cols = [0] + [i + 1 for i, k in enumerate(names) if k.startswith(("n_", "ray_"))]

    def coarse(f):
        f = f.copy()
        for c in colour_cols:
            f[:, c] = np.where(f[:, c] == EDGE, 2, f[:, c] != 0)
        return f

    tr_full = np.concatenate([_feature_table(a)[1] for a in inputs])
    te_full = [_feature_table(t)[1] for t in tests]
    tr, te = coarse(tr_full), [coarse(f) for f in te_full]
    target = np.concatenate([b.ravel() for b in outputs]).astype(np.int64)
    match = tr_full[:, colour_cols] == target[:, None]  # cells x sources: the output is that source's colour
    if len(colour_cols) > 62 or tr.min() < 0 or tr.max() >= BASE:  # beyond the compiled check's masks and tables
        return []
    from arcforge.kernels import table_copies  # compiled: most feature sets fail within a few cells

    bits = match.astype(np.int64) @ (np.int64(1) << np.arange(len(colour_cols), dtype=np.int64))
    useful = _useful_columns(tr)
    found: list[tuple[int, str, list[Grid]]] = []
    for k in range(0, max_features + 1):
        weights = BASE ** np.arange(k + 1, dtype=np.int64)
        cols_of = _combos(useful, k)
        if not len(cols_of):
            break
        for c in np.flatnonzero(table_copies(tr, target, bits, cols_of, BASE)):
            cols = cols_of[c]
            key = tr[:, cols] @ weights
            order = np.argsort(key, kind="stable")
            sk = key[order]
            starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
            uk = sk[starts]
            all_match = np.logical_and.reduceat(match[order], starts, axis=0)  # keys x sources
            st = target[order]
            const = np.minimum.reduceat(st, starts) == np.maximum.reduceat(st, starts)
            has_src = all_match.any(axis=1)
            if not (has_src | const).all():
                continue
            src = np.where(has_src, all_match.argmax(axis=1), -1)
            if (src == 0).all():
                continue  # keeps every cell: no rule
            colour = st[starts]
            preds = []
            for t, f, ff in zip(tests, te, te_full, strict=False):
                tk = f[:, cols] @ weights
                pos = np.minimum(np.searchsorted(uk, tk), len(uk) - 1)
                if (uk[pos] != tk).any():
                    break
                s_ = src[pos]
                vals = np.where(s_ >= 0, ff[np.arange(len(tk)), np.array(colour_cols)[np.maximum(s_, 0)]],
                                colour[pos])
                if (vals > 9).any():
                    break
                preds.append(vals.reshape(t.shape).astype(I8))
            else:
                found.append((k * 1000 + len(uk), "cellc[" + ",".join(names[i - 1] for i in cols[1:]) + "]", preds))
        if len(found) >= 2:
            break
    found.sort(key=lambda f: f[0])
    return found
