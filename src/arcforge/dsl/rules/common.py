"""Helpers the fitted rules share: object features (holes, shapes up to the 8 symmetries, ...), the
tables a rule learns from them, pooling rules by agreeing predictions, and the cells between
separator lines.
"""

from __future__ import annotations

import numpy as np

from arcforge.dsl import objects as ob
from arcforge.dsl.primitives import outside
from arcforge.grid import Grid, pad1

I8 = np.int8


def hole_count(o: ob.Obj) -> int:
    """Cells of the object's box, not its own, that are cut off from the box's outside."""
    m = o.box_mask
    free = pad1(~m, True)
    return int((free & ~outside(free)).sum())


def shape_d8(o: ob.Obj) -> bytes:
    """The object's shape up to the 8 symmetries (the least of its 8 forms' keys)."""
    m = o.box_mask
    forms = []
    for k in range(4):
        r = np.rot90(m, k)
        for f in (r, r[:, ::-1]):
            forms.append(bytes(f.shape) + np.packbits(f).tobytes())
    return min(forms)


def colour_box(g: Grid, c: int) -> tuple[slice, slice]:
    """The bounding box of the cells of colour c (there must be some)."""
    ys, xs = np.nonzero(g == c)
    return slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)


def path_counts(m: np.ndarray) -> tuple[int, int]:
    """(ends, turns) of a mask drawn as lines: its cells with one 4-neighbour in the mask, and its
    cells with two, one across and one along (a corner of the line)."""
    p = pad1(m)
    up, down, left, right = p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]
    across = up.astype(int) + down
    along = left.astype(int) + right
    n = across + along
    return int((m & (n == 1)).sum()), int((m & (n == 2) & (across == 1)).sum())


def object_features(g: Grid, objs) -> list[dict]:
    h, w = g.shape
    sizes = sorted({o.size for o in objs}, reverse=True)
    shapes = [o.shape_key() for o in objs]
    colours = [o.colour for o in objs]
    feats = []
    for o, sk in zip(objs, shapes, strict=False):
        m = o.box_mask
        holes = hole_count(o)
        ends, turns = path_counts(m)
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
            "shape_d8": shape_d8(o),
            "shape_count": shapes.count(sk),
            "colour_count": colours.count(o.colour),
            "sym_lr": bool((m == m[:, ::-1]).all()),
            "sym_ud": bool((m == m[::-1]).all()),
            "box_full": o.size == m.size,
            "square": o.size == m.size and m.shape[0] == m.shape[1],
            "odd_box": ((o.y1 - o.y0) % 2, (o.x1 - o.x0) % 2),
            "path": (ends, turns),
            "colour": o.colour,
        })
    return feats


NUMERIC = ("size", "height", "width", "holes", "shape_count", "colour_count")


FLAGS = ("has_hole", "border", "box_full", "square", "sym_lr", "sym_ud", "odd_box")  # paired in recolouring tables


KEEP = -1


OWN = -2  # (separator cells) filled with the cell's own main colour


def fit_table(values: list, labels: list[set]) -> dict | None:
    table: dict = {}
    for v, lab in zip(values, labels, strict=False):
        table[v] = table[v] & lab if v in table else set(lab)
        if not table[v]:
            return None
    return {v: (KEEP if KEEP in s else min(s)) for v, s in table.items()}


def by_votes(found: list[tuple[int, str, list[Grid]]]) -> list[tuple[int, str, list[Grid]]]:
    """Rules that predict the same test grids pooled: the predictions most rules agree on first (ties by
    the best rank among them), one entry each, named by its best rule."""
    groups: dict[bytes, list] = {}
    for f in found:
        key = b"|".join(bytes(g.shape) + g.tobytes() for g in f[2])
        groups.setdefault(key, []).append(f)
    pooled = sorted(groups.values(), key=lambda fs: (-len(fs), min(f[0] for f in fs)))
    return [(i, min(fs, key=lambda f: f[0])[1], fs[0][2]) for i, fs in enumerate(pooled)]


def part_spans(g: Grid):
    """The row spans and column spans of the cells between separator lines (at least two cells), or None."""
    sep = ob.separators(g)
    if sep is None:
        return None
    rs, cs, _ = sep
    ry, rx = ob._spans(rs, g.shape[0]), ob._spans(cs, g.shape[1])
    return (ry, rx) if len(ry) * len(rx) >= 2 else None


def part_grid(g: Grid):
    """The cells between separator lines as a 2-D layout (rows of cells), or None."""
    spans = part_spans(g)
    if spans is None:
        return None
    ry, rx = spans
    return [[g[a:b, c:d] for c, d in rx] for a, b in ry]


def part_boxes(g: Grid):
    """The cells between separator lines as (row slice, column slice) boxes, or None."""
    spans = part_spans(g)
    if spans is None:
        return None
    return [(slice(a, b), slice(c, d)) for a, b in spans[0] for c, d in spans[1]]
