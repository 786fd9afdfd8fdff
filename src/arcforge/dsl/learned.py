"""Rules fitted on the train pairs and applied to the test inputs, beside the program search.

Each `fit_*` takes the train inputs, the train outputs and the test inputs and returns
(rank, rule name, test predictions) for every rule that reproduces every train output exactly and
applies to every test input, best first:

- cell rules: each output cell as a table of a few features of the input cell (its colour, its
  neighbours, the first colours along rows, columns and diagonals, position modulo 2 or 3, enclosure,
  region size, ...): fixed descriptions (`fit_cell_rules`), the smallest set of features that works
  (`fit_cell_features`), or colour-free rules that keep the cell, copy a neighbour's or ray's colour,
  or paint one colour (`fit_cell_copy`);
- object recolouring (`fit_object_recolour`): every object (or region of zero cells) keeps its cells
  and gets one colour chosen by one of its properties (size, shape, holes, border contact, rank, ...);
- rays (`fit_rays`): cells of some colours shoot lines in some of eight directions, stopping at a
  wall, passing over everything, or drawn only when they end on a chosen colour;
- object substitution (`fit_object_swap`): every object's box becomes the pattern the train pairs
  show for an object with its content or shape;
- pattern completion (`fit_lattice`): cells of one colour blotted out of a repeating or symmetric
  pattern, restored from the translations, mirrors, half-turns and diagonal flips the visible cells
  agree under (or only the blotted box, cropped);
- L-shaped paths joining two lone cells (`fit_l_path`);
- stamping (`fit_stamp`): a template object copied onto every marker object;
- choosing one object (`fit_object_crop`) or one part of a split grid (`fit_part_pick`) by a property
  and cropping it, a fixed window (`fit_window`), one pixel per separator cell (`fit_cell_summary`),
  separator cells kept or filled with one colour by a fact about them (`fit_part_fill`),
  and repeated outputs looked up by a fact about the input (`fit_output_lookup`).

Only train pairs and test inputs are read.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from itertools import combinations

import numpy as np

from arcforge.dsl import lines
from arcforge.dsl import objects as ob
from arcforge.dsl.primitives import DIRS8, outside
from arcforge.grid import Grid, label

I8 = np.int8
EDGE = 10  # the value of a neighbour off the grid
BASE = 16  # cell features take values 0..15


# ---- cell rules -----------------------------------------------------------------------------

def _neigh(g: Grid, offsets) -> list[np.ndarray]:
    p = np.pad(g.astype(np.int64), 1, constant_values=EDGE)
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


def _feature_table(g: Grid) -> tuple[list[str], np.ndarray]:
    """Per-cell features (columns, values 0-15) for rules on a few of them: neighbours, first colours
    along rows, columns and diagonals, positions modulo 2 and 3 from either end, enclosure, region size,
    counts of non-zero neighbours and whether the row and column hold other non-zero cells."""
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
    pn = np.pad(nz, 1)
    cols["nz4"] = pn[:-2, 1:-1] + pn[2:, 1:-1] + pn[1:-1, :-2] + pn[1:-1, 2:]
    cols["nz8"] = cols["nz4"] + pn[:-2, :-2] + pn[:-2, 2:] + pn[2:, :-2] + pn[2:, 2:]
    cols["row_nz"] = np.minimum(nz.sum(axis=1, keepdims=True) - nz, 10) + 0 * xs
    cols["col_nz"] = np.minimum(nz.sum(axis=0, keepdims=True) - nz, 10) + 0 * ys
    cols["side_mask"] = pn[:-2, 1:-1] + 2 * pn[2:, 1:-1] + 4 * pn[1:-1, :-2] + 8 * pn[1:-1, 2:]
    cols["diag_mask"] = pn[:-2, :-2] + 2 * pn[:-2, 2:] + 4 * pn[2:, :-2] + 8 * pn[2:, 2:]
    cols["row_any"] = (cols["row_nz"] > 0).astype(np.int64)
    cols["col_any"] = (cols["col_nz"] > 0).astype(np.int64)
    cols["border"] = ((ys == 0) | (xs == 0) | (ys == h - 1) | (xs == w - 1)).astype(np.int64)
    cols.update(_object_places(g))
    names = list(cols)
    return names, np.stack([g.astype(np.int64).ravel()] + [cols[k].ravel() for k in names], axis=1)


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
    found: list[tuple[int, str, list[Grid]]] = []
    table = np.full(BASE ** (max_features + 1), -1, np.int64)
    seen = np.zeros(len(table), bool)
    for k in range(1, max_features + 1):
        weights = BASE ** np.arange(k + 1, dtype=np.int64)
        for combo in combinations(_useful_columns(tr), k):
            cols = (0,) + combo
            key = tr[:, cols] @ weights
            table[key] = target  # one of the targets of each key; all agree iff the rule is a function
            if (table[key] != target).any():
                continue
            test_keys = [f[:, cols] @ weights for f in te]
            seen[key] = True
            covered = all(seen[tk].all() for tk in test_keys)
            seen[key] = False
            if covered:
                preds = [table[tk].reshape(t.shape).astype(I8) for t, tk in zip(tests, test_keys, strict=False)]
                n_keys = len(np.unique(key))
                found.append((k * 1000 + n_keys, "cellf[" + ",".join(names[c - 1] for c in combo) + "]", preds))
        if len(found) >= 2:
            break
    found.sort(key=lambda f: f[0])
    return found


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
    found: list[tuple[int, str, list[Grid]]] = []
    for k in range(0, max_features + 1):
        weights = BASE ** np.arange(k + 1, dtype=np.int64)
        for combo in combinations(_useful_columns(tr), k):
            cols = (0,) + combo
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
                found.append((k * 1000 + len(uk), "cellc[" + ",".join(names[c - 1] for c in combo) + "]", preds))
        if len(found) >= 2:
            break
    found.sort(key=lambda f: f[0])
    return found


# ---- object recolouring ---------------------------------------------------------------------

def _holes(o: ob.Obj) -> int:
    m = o.labels[o.y0: o.y1, o.x0: o.x1] == o.idx
    free = np.pad(~m, 1, constant_values=True)
    return int((free & ~outside(free)).sum())


def _shape_d8(o: ob.Obj) -> bytes:
    m = o.labels[o.y0: o.y1, o.x0: o.x1] == o.idx
    forms = []
    for k in range(4):
        r = np.rot90(m, k)
        for f in (r, r[:, ::-1]):
            forms.append(bytes(f.shape) + np.packbits(f).tobytes())
    return min(forms)


def _features(g: Grid, objs) -> list[dict]:
    h, w = g.shape
    sizes = sorted({o.size for o in objs}, reverse=True)
    shapes = [o.shape_key() for o in objs]
    colours = [o.colour for o in objs]
    feats = []
    for o, sk in zip(objs, shapes, strict=False):
        m = o.labels[o.y0: o.y1, o.x0: o.x1] == o.idx
        holes = _holes(o)
        feats.append({
            "size": o.size,
            "height": o.y1 - o.y0,
            "width": o.x1 - o.x0,
            "holes": holes,
            "has_hole": holes > 0,
            "border": o.y0 == 0 or o.x0 == 0 or o.y1 == h or o.x1 == w,
            "size_rank": sizes.index(o.size),
            "size_rank_low": len(sizes) - 1 - sizes.index(o.size),
            "size_extreme": (o.size == sizes[0]) - (o.size == sizes[-1]),
            "shape": sk,
            "shape_d8": _shape_d8(o),
            "shape_count": shapes.count(sk),
            "colour_count": colours.count(o.colour),
            "sym_lr": bool((m == m[:, ::-1]).all()),
            "sym_ud": bool((m == m[::-1]).all()),
            "box_full": o.size == m.size,
            "square": o.size == m.size and m.shape[0] == m.shape[1],
            "odd_box": ((o.y1 - o.y0) % 2, (o.x1 - o.x0) % 2),
            "colour": o.colour,
        })
    return feats


NUMERIC = ("size", "height", "width", "holes", "shape_count", "colour_count")
FLAGS = ("has_hole", "border", "box_full", "square", "sym_lr", "sym_ud", "odd_box")  # paired in recolouring tables
KEEP = -1
OWN = -2  # (separator cells) filled with the cell's own main colour


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


def _fit_table(values: list, labels: list[set]) -> dict | None:
    table: dict = {}
    for v, lab in zip(values, labels, strict=False):
        table[v] = table[v] & lab if v in table else set(lab)
        if not table[v]:
            return None
    return {v: (KEEP if KEEP in s else min(s)) for v, s in table.items()}


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
            tr_f = [f for a, os in zip(tr_v, tr_objs, strict=False) for f in _features(a, os)]
            te_f = [_features(t, os) for t, os in zip(te_v, te_objs, strict=False)]
            props: list[tuple[str, Callable]] = [(k, lambda f, k=k: f[k]) for k in tr_f[0] if k != "colour"]
            for k in NUMERIC:
                for v in sorted({f[k] for f in tr_f}):
                    props.append((f"{k}=={v}", lambda f, k=k, v=v: f[k] == v))
                    props.append((f"{k}>={v}", lambda f, k=k, v=v: f[k] >= v))
            props += [(f"colour+{k}", lambda f, k=k: (f["colour"], f[k])) for k in ("has_hole", "border", "size_rank")]
            props += [(f"{a}+{b}", lambda f, a=a, b=b: (f[a], f[b])) for a, b in combinations(FLAGS, 2)]
            for pname, prop in props:
                table = _fit_table([prop(f) for f in tr_f], labels)
                if table is None or all(v == KEEP for v in table.values()):
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
    return _by_votes(found)


def _grow(m: np.ndarray) -> np.ndarray:
    """m and its 8 neighbours."""
    h, w = m.shape
    p = np.pad(m, 1)
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


# ---- cropping to a chosen object ------------------------------------------------------------

def _crop_features(g: Grid, objs) -> list[dict]:
    feats = _features(g, objs)
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
               "odd_box")


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
    return _by_votes(found)


def _by_votes(found: list[tuple[int, str, list[Grid]]]) -> list[tuple[int, str, list[Grid]]]:
    """Rules that predict the same test grids pooled: the predictions most rules agree on first (ties by
    the best rank among them), one entry each, named by its best rule."""
    groups: dict[bytes, list] = {}
    for f in found:
        key = b"|".join(bytes(g.shape) + g.tobytes() for g in f[2])
        groups.setdefault(key, []).append(f)
    pooled = sorted(groups.values(), key=lambda fs: (-len(fs), min(f[0] for f in fs)))
    return [(i, min(fs, key=lambda f: f[0])[1], fs[0][2]) for i, fs in enumerate(pooled)]


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


def fit_part_pick(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """(rank, rule name, test predictions) for every way of choosing the part (a cell between separator
    lines, or one of equal parts along the longer side) that is the output of every train pair."""
    found = []
    for split_name, split in PART_SPLITS.items():
        found += [(r, f"{split_name}:{text}", preds) for r, text, preds in _fit_part_pick(inputs, outputs, tests, split)]
    return _by_votes(found)


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


# ---- whole-grid summaries -------------------------------------------------------------------

def _grid_facts(g: Grid) -> dict:
    counts = np.bincount(g.ravel(), minlength=10)
    nz = counts[1:]
    facts = {
        "main_colour": int(np.argmax(nz) + 1) if nz.any() else 0,
        "n_colours": int((nz > 0).sum()),
        "n_cells": int(nz.sum()),
        "n_objects": len(ob.objects(g, True, False)),
        "n_objects4c": len(ob.objects(g, False, True)),
        "sym_lr": bool((g == g[:, ::-1]).all()),
        "sym_ud": bool((g == g[::-1]).all()),
    }
    if nz.any():
        facts["least_colour"] = int(np.argmin(np.where(nz > 0, nz, 10 ** 6)) + 1)
    return facts


def fit_output_lookup(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Tasks whose outputs repeat: the output as a table of one fact about the input (its main colour,
    number of colours or objects, a symmetry, ...)."""
    keys = [bytes(b.shape) + b.tobytes() for b in outputs]
    if len(set(keys)) >= len(keys):
        return []
    tr_f = [_grid_facts(a) for a in inputs]
    te_f = [_grid_facts(t) for t in tests]
    found = []
    for i, k in enumerate(tr_f[0]):
        if any(k not in f for f in tr_f + te_f):
            continue
        table: dict = {}
        if any(table.setdefault(f[k], key) != key for f, key in zip(tr_f, keys, strict=False)):
            continue
        if len(table) < 2 or any(f[k] not in table for f in te_f):
            continue
        by_key = dict(zip(keys, outputs, strict=False))
        found.append((i, f"lookup[{k}]", [by_key[table[f[k]]].copy() for f in te_f]))
    return found


def _part_spans(g: Grid):
    """The row spans and column spans of the cells between separator lines (at least two cells), or None."""
    sep = ob.separators(g)
    if sep is None:
        return None
    rs, cs, _ = sep
    ry, rx = ob._spans(rs, g.shape[0]), ob._spans(cs, g.shape[1])
    return (ry, rx) if len(ry) * len(rx) >= 2 else None


def _part_grid(g: Grid):
    """The cells between separator lines as a 2-D layout (rows of cells), or None."""
    spans = _part_spans(g)
    if spans is None:
        return None
    ry, rx = spans
    return [[g[a:b, c:d] for c, d in rx] for a, b in ry]


def _part_facts(p: Grid) -> dict:
    counts = np.bincount(p.ravel(), minlength=10)
    f = {"n_cells": int(counts[1:].sum()), "n_colours": int((counts[1:] > 0).sum()),
         "main_colour": int(np.argmax(counts[1:]) + 1) if counts[1:].any() else 0}
    for c in range(1, 10):
        f[f"count_c{c}"] = int(counts[c])
    return f


def _ranked_part_facts(parts: list[Grid]) -> list[dict]:
    """_part_facts of each cell of one grid, with the rank of its count of non-zero cells among them
    (0 = the most; cells with equal counts share a rank) and whether it has the most or the fewest."""
    facts = [_part_facts(p) for p in parts]
    counts = sorted({f["n_cells"] for f in facts}, reverse=True)
    for f in facts:
        f["count_rank"] = counts.index(f["n_cells"])
        f["most_cells"] = f["n_cells"] == counts[0]
        f["fewest_cells"] = f["n_cells"] == counts[-1]
    return facts


def fit_part_fill(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Grids cut into cells by separator lines, each cell in the output either kept or filled with one
    colour, chosen by a table of one fact about the cell (as in fit_cell_summary)."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=False)):
        return []
    tr_l = [_part_boxes(a) for a in inputs]
    te_l = [_part_boxes(t) for t in tests]
    if any(lay is None for lay in tr_l + te_l):
        return []
    tr = []
    for a, b, boxes in zip(inputs, outputs, tr_l, strict=False):
        inside = np.zeros(a.shape, bool)
        for box, facts in zip(boxes, _ranked_part_facts([a[box] for box in boxes]), strict=True):
            inside[box] = True
            got = np.unique(b[box])
            label = {int(got[0])} if len(got) == 1 else set()  # painted one colour, and/or kept
            if len(got) == 1 and got[0] == facts["main_colour"] != 0:
                label.add(OWN)
            if np.array_equal(a[box], b[box]):
                label.add(KEEP)
            tr.append((facts, label))
        if (a[~inside] != b[~inside]).any():
            return []
    if any(not lab for _, lab in tr) or all(KEEP in lab for _, lab in tr):
        return []
    te = [_ranked_part_facts([t[box] for box in boxes]) for t, boxes in zip(tests, te_l, strict=False)]
    found = []
    for k in tr[0][0]:
        table = _fit_table([f[k] for f, _ in tr], [lab for _, lab in tr])
        if table is None or any(f[k] not in table for fs in te for f in fs):
            continue
        preds = []
        for t, boxes, fs in zip(tests, te_l, te, strict=False):
            out = t.copy()
            for box, f in zip(boxes, fs, strict=False):
                if table[f[k]] == OWN:
                    out[box] = f["main_colour"]
                elif table[f[k]] != KEEP:
                    out[box] = table[f[k]]
            preds.append(out)
        found.append((len(table), f"part_fill[{k}]", preds))
    found.sort(key=lambda f: f[0])
    return found


def _part_boxes(g: Grid):
    """The cells between separator lines as (row slice, column slice) boxes, or None."""
    spans = _part_spans(g)
    if spans is None:
        return None
    return [(slice(a, b), slice(c, d)) for a, b in spans[0] for c, d in spans[1]]


def fit_cell_summary(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Grids cut into cells by separator lines whose output has one pixel per cell: the pixel as a
    table of one fact about the cell (count of non-zero cells, main colour, number of colours, ...)."""
    tr_l = [_part_grid(a) for a in inputs]
    te_l = [_part_grid(t) for t in tests]
    if any(lay is None for lay in tr_l + te_l):
        return []
    if any((len(lay), len(lay[0])) != b.shape for lay, b in zip(tr_l, outputs, strict=False)):
        return []

    tr = [(_part_facts(p), int(b[i, j])) for lay, b in zip(tr_l, outputs, strict=False)
          for i, row in enumerate(lay) for j, p in enumerate(row)]
    te = [[[_part_facts(p) for p in row] for row in lay] for lay in te_l]
    found = []
    for r, k in enumerate(tr[0][0]):
        table: dict = {}
        if any(table.setdefault(f[k], v) != v for f, v in tr):
            continue
        if len(set(table.values())) < 2 or any(f[k] not in table for lay in te for row in lay for f in row):
            continue
        preds = [np.array([[table[f[k]] for f in row] for row in lay], dtype=I8) for lay in te]
        found.append((r, f"cell_summary[{k}]", preds))
    return found


# ---- rays -----------------------------------------------------------------------------------

RAY_MODES = ("wall", "through", "hit", "join")  # and "hit{t}": rays that end on colour t


def _no_cells(g: Grid) -> np.ndarray:
    return np.zeros(g.shape, bool)


def _sources_along(g: Grid, c: int, d: int) -> np.ndarray:
    """Cells of colour c that shoot along direction d: all of them, except that a diagonal ray leaves
    an object only from its corner (neither side neighbour toward d has colour c)."""
    src = g == c
    dy, dx = DIRS8[d]
    if dy and dx:
        p = np.pad(src, 1)
        h, w = g.shape
        src = src & ~p[1 + dy: 1 + dy + h, 1: 1 + w] & ~p[1: 1 + h, 1 + dx: 1 + dx + w]
    return src


def _ray_cells(g: Grid, c: int, d: int) -> dict[str, np.ndarray]:
    """The zero cells that rays of colour c along direction d reach, by mode: stopping at the first
    non-zero cell ("wall"); those of them on rays that end on a non-zero cell ("hit"), on a cell of
    colour c ("join") or of colour t ("hit{t}"); passing over everything to the edge ("through")."""
    h, w = g.shape
    dy, dx = DIRS8[d]
    zero = g == 0
    src = _sources_along(g, c, d)
    ys, xs = slice(max(dy, 0), h + min(dy, 0)), slice(max(dx, 0), w + min(dx, 0))
    yd, xd = slice(max(-dy, 0), h + min(-dy, 0)), slice(max(-dx, 0), w + min(-dx, 0))

    def step(a, fill):
        b = np.full((h, w), fill, a.dtype)
        b[ys, xs] = a[yd, xd]
        return b

    owner = np.full((h, w), -1, np.int64)  # the source (flat index) of each live wall-mode ray
    owner[src] = np.flatnonzero(src)
    owner_all = np.full((h, w), -1, np.int64)
    hit = np.zeros(h * w + 1, np.int64)  # the colour each source's ray ends on (0: the edge)
    loose, through = src, np.zeros((h, w), bool)
    while (owner >= 0).any() or loose.any():
        owner = step(owner, -1)
        stop = (owner >= 0) & ~zero
        hit[owner[stop]] = g[stop]
        owner = np.where(zero, owner, -1)
        owner_all = np.where(owner >= 0, owner, owner_all)
        loose = step(loose, False)
        through |= loose & zero
    wall = owner_all >= 0
    ends = np.where(wall, hit[owner_all], 0)
    modes = {"wall": wall, "through": through, "hit": ends > 0, "join": ends == c}
    for t in np.unique(ends[ends > 0]):
        modes[f"hit{t}"] = ends == t
    return modes


def fit_rays(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Cells of some colours shoot rays in some of the eight directions, painting zero cells their own
    colour: until the first non-zero cell or the edge ("wall"), over everything to the edge
    ("through"), only when they end on a non-zero cell ("hit"), on their own colour ("join") or on
    colour t ("hit{t}"). Which (colour, direction) pairs shoot is learned: those whose every ray cell
    has their colour in the outputs. Rules that treat every colour alike rank first."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=False)):
        return []
    if any(((a != 0) & (a != b)).any() for a, b in zip(inputs, outputs, strict=False)):
        return []  # rays only paint empty cells
    if all(np.array_equal(a, b) for a, b in zip(inputs, outputs, strict=False)):
        return []
    colours = sorted({int(c) for a in inputs for c in np.unique(a) if c})
    test_colours = sorted({int(c) for t in tests for c in np.unique(t) if c})
    memo: dict = {}

    def cells(gi, c, d, mode):  # grid gi of inputs + tests
        key = (gi, c, d)
        if key not in memo:
            memo[key] = _ray_cells(grids[gi], c, d)
        return memo[key].get(mode, _no_cells(grids[gi]))

    grids = list(inputs) + list(tests)
    n = len(inputs)
    found = []
    for mi, mode in enumerate(RAY_MODES + tuple(f"hit{t}" for t in colours)):
        # per colour, or (fewer assumptions about unseen colours) the same directions for every colour
        for any_colour in (True, False):
            shoot = []
            for d in range(8):
                groups = [colours] if any_colour else [[c] for c in colours]
                for grp in groups:
                    ms = [[cells(i, c, d, mode) for i in range(n)] for c in grp]
                    if not any(m.any() for row in ms for m in row):
                        continue
                    if all((b[m] == c).all() for c, row in zip(grp, ms, strict=False)
                           for b, m in zip(outputs, row, strict=False)):
                        shoot += [(c, d) for c in grp] if not any_colour else [(None, d)]
            if not shoot:
                continue

            def paint(gi, shoot=shoot, mode=mode):
                g = grids[gi]
                out = g.copy()
                for c, d in shoot:
                    for cc in ([c] if c is not None else sorted({int(v) for v in np.unique(g) if v})):
                        out[cells(gi, cc, d, mode)] = cc
                return out
            if all(np.array_equal(paint(i), b) for i, b in enumerate(outputs)):
                if not any_colour and any(c not in colours for c in test_colours):
                    continue  # a test colour the rule never saw would not shoot
                # u d l r, and A B C D for up-left, up-right, down-left, down-right (DIRS8's order)
                name = ",".join(f"{'*' if c is None else c}{'udlrABCD'[d]}" for c, d in shoot)
                found.append((mi + 20 * (not any_colour), f"rays_{mode}[{name}]",
                              [paint(n + i) for i in range(len(tests))]))
                break
    found.sort(key=lambda f: f[0])
    return found


# ---- object substitution --------------------------------------------------------------------

def fit_object_swap(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Each object is replaced, inside its bounding box, by the pattern the train pairs show for an
    object like it: keyed by its exact crop, or by its shape with the pattern's cells of the object's
    own colour written relative to it. Cells outside every object's box stay as they are."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=False)):
        return []
    if all(np.array_equal(a, b) for a, b in zip(inputs, outputs, strict=False)):
        return []
    found = []
    for mi, (diag, by_colour) in enumerate(((True, False), (False, True), (False, False), (True, True))):
        tr_objs = [ob.objects(a, diag, by_colour) for a in inputs]
        te_objs = [ob.objects(t, diag, by_colour) for t in tests]
        if any(not os or len(os) > 40 for os in tr_objs + te_objs):
            continue
        for ki, keyed in enumerate(("crop", "shape")):
            def key(g, o, keyed=keyed):
                if keyed == "shape":
                    return o.shape_key()
                crop = o.crop(g)
                return crop.tobytes() + bytes(crop.shape)

            def encode(pat, o, keyed=keyed):  # the object's colour as 10 in a shape-keyed pattern
                return pat if keyed == "crop" else np.where(pat == o.colour, 10, pat).astype(I8)

            table: dict = {}
            ok, uses = True, 0
            for a, b, os in zip(inputs, outputs, tr_objs, strict=False):
                covered = np.zeros(a.shape, bool)
                for o in os:
                    if (o.y1 - o.y0, o.x1 - o.x0) == a.shape:
                        ok = False  # an object filling the grid: the rule would memorise whole outputs
                        break
                    box = (slice(o.y0, o.y1), slice(o.x0, o.x1))
                    pat = encode(b[box], o).tobytes()
                    uses += 1
                    if table.setdefault(key(a, o), pat) != pat:
                        ok = False
                        break
                    covered[box] = True
                if not ok or (a[~covered] != b[~covered]).any():
                    ok = False
                    break
            if not ok or uses <= len(table):
                continue  # every key seen once: nothing shows the pattern follows from the object
            preds = []
            for t, os in zip(tests, te_objs, strict=False):
                out = t.copy()
                for o in os:
                    pat = table.get(key(t, o))
                    if pat is None:
                        break
                    box = (slice(o.y0, o.y1), slice(o.x0, o.x1))
                    p = np.frombuffer(pat, np.int8).reshape(o.y1 - o.y0, o.x1 - o.x0)
                    out[box] = np.where(p == 10, o.colour, p)
                else:
                    preds.append(out)
                    continue
                break
            else:
                found.append((mi + 4 * ki, f"swap{'8' if diag else '4'}{'c' if by_colour else ''}_{keyed}", preds))
    found.sort(key=lambda f: f[0])
    return found


# ---- stamping a template --------------------------------------------------------------------

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


# ---- wallpaper completion -------------------------------------------------------------------

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


def _hole_box(g: Grid, hole: int) -> tuple[slice, slice]:
    ys, xs = np.nonzero(g == hole)
    return slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)


def fit_lattice(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """A wallpaper or symmetric figure with cells of one colour blotted out: the outputs are the inputs
    completed by `symmetry_fill` (every input shows the colour, no output does, the rest is kept), or
    what the completion puts in the box of the blotted cells. Translations alone are tried first."""
    same = all(a.shape == b.shape for a, b in zip(inputs, outputs, strict=False))
    holes = set(range(10))
    for a, b in zip(inputs, outputs, strict=False):
        holes &= set(np.unique(a).tolist()) - (set(np.unique(b).tolist()) if same else set())
    for hole, lattice in [(hole, lat) for lat in (True, False) for hole in sorted(holes)]:
        if same and any((a != b)[a != hole].any() for a, b in zip(inputs, outputs, strict=False)):
            continue
        if not same and any(a[_hole_box(a, hole)].shape != b.shape for a, b in zip(inputs, outputs, strict=False)):
            continue

        def solve(g, hole=hole, lattice=lattice):
            r = symmetry_fill(g, hole, lattice_only=lattice)
            return r if r is None or same else r[_hole_box(g, hole)]
        if all((r := solve(a)) is not None and r.shape == b.shape and np.array_equal(r, b)
               for a, b in zip(inputs, outputs, strict=False)):
            preds = [solve(t) for t in tests]
            if all(p is not None for p in preds):
                name = "lattice" if lattice else "symfill"
                return [(0, f"{name}{'' if same else '_crop'}_h{hole}", preds)]
    return []



# ---- paths ----------------------------------------------------------------------------------

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
