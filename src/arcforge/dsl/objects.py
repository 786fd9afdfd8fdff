"""Objects for the DSL: connected components, picking one by a property, and splitting grids into
cells along separator lines, with the ways cells are recombined (overlay, and/or/xor, pick one)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache, partial

import numpy as np

from arcforge.dsl.registry import primitive
from arcforge.grid import Grid, grid_key, label

I8 = np.int8
# the ranges of the object transforms: 4- or 8-connected (named 4 or 8), by colour or not (named c or "")
DIAG = {"4": False, "8": True}
BY_COLOUR = {"": False, "c": True}
CHOSEN = ("largest", "smallest", "unique_colour", "unique_shape")  # the selectors keep and box use


@dataclass(frozen=True, eq=False)
class Obj:
    labels: np.ndarray  # component labels of the whole grid; this object is `labels == idx`
    idx: int
    y0: int
    x0: int
    y1: int  # exclusive
    x1: int
    size: int
    colour: int  # most common colour
    n_colours: int

    @property
    def mask(self) -> np.ndarray:
        return self.labels == self.idx

    @cached_property
    def cells(self) -> tuple[np.ndarray, np.ndarray]:
        """The rows and columns of the object's cells (np.nonzero of its mask), worked out once (read-only:
        objects are cached and shared)."""
        ys, xs = np.nonzero(self.mask)
        ys.setflags(write=False)
        xs.setflags(write=False)
        return ys, xs

    def crop(self, g: Grid) -> Grid:
        return np.where(self.box_mask, g[self.y0: self.y1, self.x0: self.x1], 0).astype(I8)

    @cached_property
    def box_mask(self) -> np.ndarray:
        """The object's mask within its box (read-only, as `cells`)."""
        m = self.labels[self.y0: self.y1, self.x0: self.x1] == self.idx
        m.setflags(write=False)
        return m

    @cached_property
    def _shape_key(self) -> bytes:
        m = self.box_mask
        return bytes(m.shape) + np.packbits(m).tobytes()

    def shape_key(self) -> bytes:
        """The object's mask in its box, as bytes (objects are cached, so this is worked out once)."""
        return self._shape_key


@lru_cache(maxsize=1024)
def _objects_cached(key: bytes, h: int, w: int, mode: int) -> tuple[Obj, ...]:
    g = np.frombuffer(key[2:], dtype=I8).reshape(h, w)
    diag, by_colour = bool(mode & 1), bool(mode & 2)
    lab, n = label(g, diag, by_colour)
    if n == 0 or n > 300:
        return ()
    from arcforge.kernels import component_stats  # compiled: every object's box, size and colours in one pass

    stats = component_stats(lab, g, n).tolist()
    return tuple(Obj(lab, i, *stats[i]) for i in range(1, n + 1))


def objects(g: Grid, diag: bool, by_colour: bool) -> tuple[Obj, ...]:
    """Non-zero connected components, cached by grid content (many programs ask about one grid)."""
    return _objects_cached(grid_key(g), g.shape[0], g.shape[1], int(diag) + 2 * int(by_colour))


def _unique_by(objs, key):
    """The one object whose key value no other object shares, if exactly one such object exists."""
    vals = [key(o) for o in objs]
    once = [o for o, v in zip(objs, vals, strict=False) if vals.count(v) == 1]
    return once[0] if len(once) == 1 else None


def _extreme(objs, key, largest: bool):
    vals = [key(o) for o in objs]
    best = max(vals) if largest else min(vals)
    hits = [o for o, v in zip(objs, vals, strict=False) if v == best]
    return hits[0] if len(hits) == 1 else None


SELECTORS = {
    "largest": lambda g, objs: _extreme(objs, lambda o: o.size, True),
    "smallest": lambda g, objs: _extreme(objs, lambda o: o.size, False),
    "widest_box": lambda g, objs: _extreme(objs, lambda o: (o.y1 - o.y0) * (o.x1 - o.x0), True),
    "most_colours": lambda g, objs: _extreme(objs, lambda o: o.n_colours, True),
    "unique_colour": lambda g, objs: _unique_by(objs, lambda o: o.colour),
    "unique_shape": lambda g, objs: _unique_by(objs, Obj.shape_key),
    "unique_size": lambda g, objs: _unique_by(objs, lambda o: o.size),
    "top": lambda g, objs: _extreme(objs, lambda o: (-o.y0, -o.x0), True),
    "bottom": lambda g, objs: _extreme(objs, lambda o: (o.y1, o.x1), True),
    "left": lambda g, objs: _extreme(objs, lambda o: (-o.x0, -o.y0), True),
    "right": lambda g, objs: _extreme(objs, lambda o: (o.x1, o.y1), True),
    "densest": lambda g, objs: _extreme(objs, lambda o: o.size / ((o.y1 - o.y0) * (o.x1 - o.x0)), True),
    "sparsest": lambda g, objs: _extreme(objs, lambda o: o.size / ((o.y1 - o.y0) * (o.x1 - o.x0)), False),
}


@primitive("obj{diag}{by_colour}_{how}", (520, 0, 0), diag=DIAG, by_colour=BY_COLOUR, how=tuple(SELECTORS))
def pick(g: Grid, how: str, diag: bool, by_colour: bool) -> Grid | None:
    """Crop of the one object chosen by `how` (a SELECTORS name)."""
    objs = objects(g, diag, by_colour)
    if len(objs) < 2:
        return None
    o = SELECTORS[how](g, objs)
    return None if o is None else o.crop(g)


@primitive("box{diag}{by_colour}_{how}", (520, 0, 1, 1), diag=DIAG, by_colour=BY_COLOUR, how=CHOSEN)
def pick_box(g: Grid, how: str, diag: bool, by_colour: bool) -> Grid | None:
    """The whole bounding box (all its cells) of the chosen object, e.g. a framed region."""
    objs = objects(g, diag, by_colour)
    if len(objs) < 2:
        return None
    o = SELECTORS[how](g, objs)
    return None if o is None else g[o.y0: o.y1, o.x0: o.x1]


@primitive("keep{diag}{by_colour}_{how}", (520, 0, 1, 0), diag=DIAG, by_colour=BY_COLOUR, how=CHOSEN, same_shape=True)
def keep_only(g: Grid, how: str, diag: bool, by_colour: bool) -> Grid | None:
    """Erase everything but the chosen object, in place."""
    objs = objects(g, diag, by_colour)
    if len(objs) < 2:
        return None
    o = SELECTORS[how](g, objs)
    return None if o is None else np.where(o.mask, g, 0).astype(I8)


@primitive("remove{diag}{by_colour}_{how}", (520, 0, 2), diag=DIAG, by_colour=BY_COLOUR, how=("largest", "smallest"),
           same_shape=True)
def remove(g: Grid, how: str, diag: bool, by_colour: bool) -> Grid | None:
    """Erase the chosen object, in place."""
    objs = objects(g, diag, by_colour)
    if len(objs) < 2:
        return None
    o = SELECTORS[how](g, objs)
    return None if o is None else np.where(o.mask, 0, g).astype(I8)


@primitive("despeck{diag}", (520, 1), diag={"0": False, "1": True}, fixed={"max_size": 1}, same_shape=True)
@primitive("despeck2_{diag}", (520, 2), diag={"0": False, "1": True}, fixed={"max_size": 2}, same_shape=True)
def remove_specks(g: Grid, max_size: int, diag: bool) -> Grid | None:
    """Erase objects of at most `max_size` cells (noise)."""
    lab, n = label(g, diag, False)
    if n == 0:
        return g
    sizes = np.bincount(lab.ravel())
    small = (sizes <= max_size)[lab] & (lab > 0)
    return np.where(small, 0, g).astype(I8)


@primitive("size_rank{diag}", (520, 3), diag={"0": False, "1": True}, same_shape=True)
def recolour_by_size(g: Grid, diag: bool) -> Grid | None:
    """Paint every object with a colour code for its size rank (1 = largest); a colour map learned
    on the train pairs then names the real colours."""
    objs = objects(g, diag, False)
    if len(objs) < 2:
        return None
    sizes = sorted({o.size for o in objs}, reverse=True)
    if len(sizes) > 9:
        return None
    out = np.zeros_like(g)
    for o in objs:
        out[o.mask] = sizes.index(o.size) + 1
    return out


@primitive("count{diag}", (520, 4), diag={"0": False, "1": True})
def count_objects(g: Grid, diag: bool) -> Grid | None:
    """A 1xN row of the most common colour, N = number of objects."""
    objs = objects(g, diag, False)
    if not 1 <= len(objs) <= 30:
        return None
    return np.full((1, len(objs)), objs[0].colour, dtype=I8)


# ---- separators and cells --------------------------------------------------------------------

def separators(g: Grid) -> tuple[list[int], list[int], int] | None:
    """Rows and columns entirely of one colour that cut the grid into cells (the colour is the
    same for all of them; a colour found only on such lines comes first). Cached by grid content, as
    `objects` is: several transforms ask about each grid."""
    return _separators_cached(grid_key(g), *g.shape)


@lru_cache(maxsize=2048)
def _separators_cached(key: bytes, h: int, w: int) -> tuple[list[int], list[int], int] | None:
    from arcforge.kernels import uniform_lines  # compiled: one pass over the grid for both

    g = np.frombuffer(key[2:], dtype=I8).reshape(h, w)
    rows, cols = uniform_lines(g)
    full_r, full_c = np.flatnonzero(rows).tolist(), np.flatnonzero(cols).tolist()
    colours = {int(g[r, 0]) for r in full_r} | {int(g[0, c]) for c in full_c}

    def lines_only(col):  # every cell of the colour lies on its full lines: a true separator colour
        on = np.zeros(g.shape, bool)
        on[[r for r in full_r if g[r, 0] == col]] = True
        on[:, [c for c in full_c if g[0, c] == col]] = True
        return not ((g == col) & ~on).any()

    for col in sorted(colours, key=lambda col: (not lines_only(col), col)):
        rs = [r for r in full_r if g[r, 0] == col]
        cs = [c for c in full_c if g[0, c] == col]
        if (rs or cs) and len(rs) < h and len(cs) < w and (col != 0 or not (g == 0).all()):
            # a background colour fills whole rows often; accept it only when it is not the majority
            if col == np.bincount(g.ravel()).argmax() and not (rs and cs):
                continue
            return rs, cs, col
    return None


def _spans(cuts: list[int], n: int) -> list[tuple[int, int]]:
    out, start = [], 0
    for c in cuts + [n]:
        if c > start:
            out.append((start, c))
        start = c + 1
    return out


@lru_cache(maxsize=2048)
def _cells_cached(key: bytes, h: int, w: int) -> tuple[Grid, ...]:
    g = np.frombuffer(key[2:], dtype=I8).reshape(h, w)
    sep = separators(g)
    if sep is None:
        return ()
    rs, cs, _ = sep
    cells = [g[a:b, c:d] for a, b in _spans(rs, h) for c, d in _spans(cs, w)]
    return tuple(cells) if len(cells) >= 2 else ()


def cells(g: Grid) -> tuple[Grid, ...]:
    return _cells_cached(grid_key(g), g.shape[0], g.shape[1])


def equal_parts(g: Grid, n: int, axis: int) -> tuple[Grid, ...]:
    """Split into n equal parts along an axis, skipping one-line separators between them if present."""
    size = g.shape[axis]
    for sep in (0, 1):
        if (size - sep * (n - 1)) % n == 0 and size > n:
            k = (size - sep * (n - 1)) // n
            parts = [np.take(g, range(i * (k + sep), i * (k + sep) + k), axis=axis) for i in range(n)]
            return tuple(parts)
    return ()


@primitive("cell_colours", 530)
def cell_colours(g: Grid) -> Grid | None:
    """The grid of cells (between separator lines) shrunk to one pixel each: the cell's most common
    non-zero colour, or 0."""
    sep = separators(g)
    if sep is None:
        return None
    from arcforge.kernels import block_colours  # compiled: one count per cell of the layout

    rs, cs, _ = sep
    ry, rx = _spans(rs, g.shape[0]), _spans(cs, g.shape[1])
    return block_colours(np.ascontiguousarray(g, dtype=I8), np.array(ry, np.int64).ravel(), np.array(rx, np.int64).ravel())


def _same_shape(parts) -> bool:
    return len(parts) >= 2 and all(p.shape == parts[0].shape for p in parts)


def combine(parts: tuple[Grid, ...], how: str, masks: np.ndarray | None = None) -> Grid | None:
    """Merge same-sized cells: 'and'/'or'/'xor'/'nor' of their non-zero masks (as colour 1; a learned
    colour map recolours), 'overlay' (later cells' non-zero cells on top), 'underlay' (earlier on top), or
    'kron'/'kron2'/'kron_mask' (of two cells, each cell of one becomes a copy of the other's shape in its
    colour; 'kron_mask' takes the shape from the cell of one colour). `masks`: the parts' non-zero
    masks stacked, when already made."""
    if not _same_shape(parts):
        return None
    if masks is None:
        masks = np.stack([p != 0 for p in parts])
    if how == "and":
        m = masks.all(axis=0)
    elif how == "or":
        m = masks.any(axis=0)
    elif how == "xor":
        m = masks.sum(axis=0) == 1
    elif how == "nor":
        m = ~masks.any(axis=0)
    elif how in ("kron", "kron2", "kron_mask"):
        if len(parts) != 2:
            return None
        a, b = parts if how == "kron" else parts[::-1]
        if how == "kron_mask":  # the cell of one colour gives the shape
            single = [len(np.unique(p[p != 0])) == 1 for p in parts]
            if sum(single) != 1:
                return None
            a, b = parts if single[1] else parts[::-1]
        if a.shape[0] * b.shape[0] > 30 or a.shape[1] * b.shape[1] > 30:
            return None
        return np.kron(a, (b != 0).astype(I8)).astype(I8)
    else:
        seq = parts if how == "overlay" else parts[::-1]
        out = seq[0].copy()
        for p in seq[1:]:
            out = np.where(p != 0, p, out)
        return out.astype(I8)
    return m.astype(I8)


def pick_cell(parts: tuple[Grid, ...], how: str) -> Grid | None:
    """One cell: the one unlike the others ('odd'), or with the most/fewest non-zero cells or colours."""
    if len(parts) < 2:
        return None
    if how == "odd":
        keys = [grid_key(p) for p in parts]
        once = [p for p, k in zip(parts, keys, strict=False) if keys.count(k) == 1]
        return once[0] if len(once) == 1 and len(parts) > 2 else None
    if how in ("most", "fewest"):
        vals = [int((p != 0).sum()) for p in parts]
    else:
        vals = [len(np.unique(p[p != 0])) for p in parts]
    best = max(vals) if how in ("most", "most_colours") else min(vals)
    hits = [p for p, v in zip(parts, vals, strict=False) if v == best]
    return hits[0] if len(hits) == 1 else None


def _halves_long(g: Grid) -> tuple[Grid, ...]:
    return equal_parts(g, 2, 0 if g.shape[0] > g.shape[1] else 1)


# the ways to split a grid into parts that the split transforms combine
SPLITS = {"cells": cells, "halves_v": partial(equal_parts, n=2, axis=0),
          "halves_h": partial(equal_parts, n=2, axis=1), "thirds_v": partial(equal_parts, n=3, axis=0),
          "thirds_h": partial(equal_parts, n=3, axis=1), "halves_long": _halves_long}


@primitive("{split}_{how}", (550, 0), split=SPLITS,
           how=("and", "or", "xor", "nor", "overlay", "underlay", "kron", "kron2", "kron_mask"))
def combine_split(g: Grid, split, how: str) -> Grid | None:
    parts, masks = _split(grid_key(g), g.shape[0], g.shape[1], split)
    return None if masks is None else combine(parts, how, masks)


@primitive("cell_{how}", (550, 1), split=SPLITS, how=("odd", "most", "fewest", "most_colours", "fewest_colours"),
           when=lambda info, split, how: split is cells)
def pick_split(g: Grid, split, how: str) -> Grid | None:
    return pick_cell(_split(grid_key(g), g.shape[0], g.shape[1], split)[0], how)


@lru_cache(maxsize=4096)
def _split(key: bytes, h: int, w: int, split) -> tuple[tuple[Grid, ...], np.ndarray | None]:
    """A grid's parts under one of SPLITS and, when they have one shape, their stacked non-zero masks;
    cached by content: the split transforms ask for the same parts once per way of combining them."""
    parts = split(np.frombuffer(key[2:], dtype=I8).reshape(h, w))
    return parts, np.stack([p != 0 for p in parts]) if _same_shape(parts) else None


@primitive("key_mask", 540)
def key_mask(g: Grid) -> Grid | None:
    """A layout of separator cells holding a small many-coloured key (one k x k cell, or k x k corner
    cells of one pixel each) and a one-colour mask: the mask's cells take the colour of the key pixel
    whose block (the key scaled up to the mask's size) they lie in."""
    sep = separators(g)
    if sep is None:
        return None
    rs, cs, _ = sep
    ry, rx = _spans(rs, g.shape[0]), _spans(cs, g.shape[1])
    full = [(i, j, g[a:b, c:d]) for i, (a, b) in enumerate(ry) for j, (c, d) in enumerate(rx)
            if g[a:b, c:d].any()]
    if not full:
        return None
    mask = max((p for _, _, p in full), key=lambda p: p.size)
    if len(np.unique(mask[mask != 0])) != 1 or sum(p.size == mask.size for _, _, p in full) != 1:
        return None
    rest = [(i, j, p) for i, j, p in full if p is not mask]
    if len(rest) == 1:
        key = rest[0][2]
    elif len(rest) == 4 and all(p.shape == (1, 1) for _, _, p in rest):
        rows, cols = sorted({i for i, _, _ in rest}), sorted({j for _, j, _ in rest})
        if len(rows) != 2 or len(cols) != 2:
            return None
        key = np.zeros((2, 2), I8)
        for i, j, p in rest:
            key[rows.index(i), cols.index(j)] = p[0, 0]
    else:
        return None
    kh, kw = key.shape
    mh, mw = mask.shape
    if (key == 0).any() or mh % kh or mw % kw:
        return None
    big = np.kron(key, np.ones((mh // kh, mw // kw), I8)).astype(I8)
    return np.where(mask != 0, big, 0).astype(I8)
