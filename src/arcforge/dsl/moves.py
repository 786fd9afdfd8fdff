"""Objects that move: rules fitted on the train pairs that translate some objects of a grid, each by a
displacement that follows from the object and its surroundings.

`fit_move` tries, for each way of cutting a grid into objects (4/8-connected, by colour or not):
- which objects move: all of them, those of the colours that change in the train pairs, or the small
  ones (at most as large as the largest that changes, when every unchanged object is larger);
- how far: a fixed vector (read off the first moving object), its own height or width or its number
  of cells in one of four directions, in one direction until it touches another cell or the edge (objects nearest that edge
  first, so they pile up), toward the nearest object of its own colour (or of one colour) in its rows or
  columns until it touches it, stopped by other cells or passing over them (objects with no such
  object stay, or vanish), onto the rows (or
  columns) of a reference object of one colour, or centred in the box of the cells of one colour;
- whether the object leaves its place or is copied.

`fit_stack` piles every object against one side, in its own band, sorted by size.

A rule is kept only if it reproduces every train output exactly and applies to every test input.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import product

import numpy as np

from arcforge.dsl import objects as ob
from arcforge.dsl.fitting import explaining, explains, fitted
from arcforge.grid import Grid

I8 = np.int8
DIRS4 = {"u": (-1, 0), "d": (1, 0), "l": (0, -1), "r": (0, 1)}
MODES = ((False, True), (True, False), (False, False), (True, True))  # (diag, by_colour)
MAX_OBJECTS = 30

Disp = tuple[int, int] | None  # None: the object vanishes


def _paint(out: Grid, g: Grid, o: ob.Obj, dy: int, dx: int) -> None:
    """Paint object o of grid g onto out, shifted by (dy, dx); cells that leave the grid are dropped."""
    h, w = out.shape
    if 0 <= o.y0 + dy and o.y1 + dy <= h and 0 <= o.x0 + dx and o.x1 + dx <= w:  # all of it lands
        m = o.box_mask
        out[o.y0 + dy: o.y1 + dy, o.x0 + dx: o.x1 + dx][m] = g[o.y0: o.y1, o.x0: o.x1][m]
        return
    ys, xs = o.cells
    ny, nx = ys + dy, xs + dx
    ok = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
    out[ny[ok], nx[ok]] = g[ys[ok], xs[ok]]


def _free_run(block: np.ndarray, o: ob.Obj, dy: int, dx: int) -> int:
    """How many steps object o can move by (dy, dx) before a cell of `block` or the edge stops it."""
    ys, xs = o.cells
    h, w = block.shape
    k = 0
    while True:
        ny, nx = ys + (k + 1) * dy, xs + (k + 1) * dx
        if ny.min() < 0 or nx.min() < 0 or ny.max() >= h or nx.max() >= w or block[ny, nx].any():
            return k
        k += 1


def _toward(block: np.ndarray, o: ob.Obj, target: np.ndarray) -> Disp:
    """The shortest straight move (along a row or a column) that brings o next to a cell of `target`
    without crossing a cell of `block`; None when no target cell lies in o's rows or columns."""
    best = None
    ys, xs = o.cells
    h, w = block.shape
    for dy, dx in DIRS4.values():
        k = _free_run(block, o, dy, dx)
        ny, nx = ys + (k + 1) * dy, xs + (k + 1) * dx
        ok = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        if ok.any() and target[ny[ok], nx[ok]].any() and (best is None or k < best[0]):
            best = (k, dy * k, dx * k)
    return None if best is None else best[1:]


Moves = tuple[Grid, list[tuple[ob.Obj, int, int]]]  # g without its movers; (mover, dy, dx) in painting order


def _rest(g: Grid, objs, movers: list[bool]) -> Grid:
    """g without its movers."""
    rest = g.copy()
    for o, m in zip(objs, movers, strict=True):
        if m:
            rest[o.mask] = 0
    return rest


def _moves(g: Grid, objs, movers: list[bool], how: tuple, rest: Grid | None = None) -> Moves | None:
    """Where the movers of g go per `how` (its kind and parameters, without the move-or-copy choice),
    which decides nothing else: one answer serves both choices. None when the rule does not apply.
    `rest`: g without its movers, when already made."""
    kind = how[0]
    moving = [o for o, m in zip(objs, movers, strict=True) if m]
    if not moving:
        return None
    if rest is None:
        rest = _rest(g, objs, movers)
    ops = []
    if kind == "wall":
        dy, dx = DIRS4[how[1]]
        block = rest != 0
        h, w = g.shape
        gap = {"u": lambda o: o.y0, "d": lambda o: h - o.y1, "l": lambda o: o.x0, "r": lambda o: w - o.x1}[how[1]]
        for o in sorted(moving, key=gap):  # nearest the wall first, so that later objects stop on earlier ones
            k = _free_run(block, o, dy, dx)
            ops.append((o, dy * k, dx * k))
            ys, xs = o.cells
            block[ys + dy * k, xs + dx * k] = True
        return rest, ops
    for o in moving:
        if kind == "shift":
            d: Disp = how[1]
        elif kind == "size":
            dy, dx = DIRS4[how[1]]
            d = (dy * (o.y1 - o.y0), dx * (o.x1 - o.x0))
        elif kind == "count":
            dy, dx = DIRS4[how[1]]
            d = (dy * o.size, dx * o.size)
        elif kind == "toward":
            colour = o.colour if how[1] == "same" else how[1]
            target = (rest == colour) & ~o.mask
            d = _toward(rest != 0 if how[3] == "stop" else target, o, target) if target.any() else None
            if d is None and how[2] == "stay":
                d = (0, 0)
        elif kind == "align" and how[2] == "centre":
            ys, xs = np.nonzero((g == how[1]) & ~o.mask)
            if not len(ys) or (ys.min() + ys.max() - o.y0 - o.y1 + 1) % 2 or (xs.min() + xs.max() - o.x0 - o.x1 + 1) % 2:
                return None
            d = ((ys.min() + ys.max() - o.y0 - o.y1 + 1) // 2, (xs.min() + xs.max() - o.x0 - o.x1 + 1) // 2)
        elif kind == "align":
            refs = [r for r in objs if r.colour == how[1] and r is not o]
            if len(refs) != 1:
                return None
            r = refs[0]
            d = (r.y0 - o.y0, 0) if how[2] == "rows" else (0, r.x0 - o.x0)
        else:
            raise ValueError(kind)
        if d is not None:
            ops.append((o, *d))
    return rest, ops


def _painted(g: Grid, moves: Moves, keep: str) -> Grid:
    """g's movers painted where `_moves` sends them: left in place too when `keep` is "copy"."""
    rest, ops = moves
    out = (g if keep == "copy" else rest).copy()
    for o, dy, dx in ops:
        _paint(out, g, o, dy, dx)
    return out


def _displace(g: Grid, objs, movers: list[bool], how: tuple) -> Grid | None:
    """g with the movers moved per `how` (ending in "move" or "copy"); None when the rule does not apply to g."""
    m = _moves(g, objs, movers, how[:-1])
    return None if m is None else _painted(g, m, how[-1])


def _shifts_seen(a: Grid, b: Grid, o: ob.Obj) -> list[tuple[int, int]]:
    """Every non-zero shift that carries o's cells onto equal cells of b, in row-major order of the
    place its first cell lands on."""
    ys, xs = o.cells
    vals = a[ys, xs]
    h, w = a.shape
    out = []
    for py, px in zip(*np.nonzero(b == vals[0]), strict=True):  # where the first cell can land
        dy, dx = int(py - ys[0]), int(px - xs[0])
        if (dy, dx) == (0, 0):
            continue
        ny, nx = ys + dy, xs + dx
        if ny.min() < 0 or nx.min() < 0 or ny.max() >= h or nx.max() >= w:
            continue
        if np.array_equal(b[ny, nx], vals):
            out.append((dy, dx))
    return out


def _mover_rules(inputs, outputs, tr_objs) -> list[tuple[str, Callable]]:
    """Which objects may move: predicates on an object, consistent with what changes in the train pairs."""
    changed_cols, kept_cols, changed_size, kept_min = set(), set(), 0, 10**9
    for a, b, objs in zip(inputs, outputs, tr_objs, strict=True):
        for o in objs:
            m = o.mask
            if (a[m] != b[m]).any():
                changed_cols.add(o.colour)
                changed_size = max(changed_size, o.size)
            else:
                kept_cols.add(o.colour)
                kept_min = min(kept_min, o.size)
    if not changed_cols:
        return []
    rules: list[tuple[str, Callable]] = [("all", lambda o: True)]
    if changed_cols - kept_cols == changed_cols:
        cols = frozenset(changed_cols)
        rules.append(("c" + "".join(map(str, sorted(cols))), lambda o, cols=cols: o.colour in cols))
    if changed_size < kept_min < 10**9:
        rules.append((f"size<={changed_size}", lambda o, s=changed_size: o.size <= s))
    return rules


def _hows(inputs, outputs, tr_objs, movers_of) -> list[tuple]:
    """The displacement rules worth trying, simplest first."""
    hows: list[tuple] = []
    palette = sorted({int(c) for a in inputs for c in np.unique(a) if c})
    first = next(((a, b, o) for a, b, objs in zip(inputs, outputs, tr_objs, strict=True)
                  for o in objs if movers_of(o) and (a[o.mask] != b[o.mask]).any()), None)
    if first is not None:
        hows += [("shift", d) for d in _shifts_seen(*first)[:6]]
    hows += [("size", d) for d in DIRS4] + [("count", d) for d in DIRS4] + [("wall", d) for d in DIRS4]
    for target in ("same", *palette):
        hows += [("toward", target, fall, block) for block in ("stop", "pass") for fall in ("stay", "vanish")]
    for c in palette:
        hows += [("align", c, "rows"), ("align", c, "cols"), ("align", c, "centre")]
    return hows


@fitted(order=7)
def fit_move(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """(rank, rule name, test predictions) of every object-moving rule (module docstring) that reproduces
    every train output and applies to every test input, simplest first."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=True)):
        return []
    if all(np.array_equal(a, b) for a, b in zip(inputs, outputs, strict=True)):
        return []
    found = []
    for mi, (diag, by_colour) in enumerate(MODES):
        tr_objs = [ob.objects(a, diag, by_colour) for a in inputs]
        te_objs = [ob.objects(t, diag, by_colour) for t in tests]
        if any(not 2 <= len(os) <= MAX_OBJECTS for os in tr_objs + te_objs):
            continue
        for rname, pick in _mover_rules(inputs, outputs, tr_objs):
            movers = [[pick(o) for o in os] for os in tr_objs]
            rests = [_rest(a, os, m) for a, os, m in zip(inputs, tr_objs, movers, strict=True)]
            for hi, how in enumerate(_hows(inputs, outputs, tr_objs, pick)):
                moved: dict = {}  # train pair -> where its movers go, shared by moving and copying

                def fits(i: int, keep: str, how=how, moved=moved) -> bool:
                    if i not in moved:
                        moved[i] = _moves(inputs[i], tr_objs[i], movers[i], how, rests[i])
                    return moved[i] is not None and np.array_equal(_painted(inputs[i], moved[i], keep), outputs[i])

                for keep in ("move", "copy"):
                    full = (*how, keep)
                    if not all(fits(i, keep) for i in range(len(inputs))):
                        continue
                    preds = [_displace(t, os, [pick(o) for o in os], full) for t, os in zip(tests, te_objs, strict=True)]
                    if any(p is None for p in preds):
                        continue
                    name = f"move{'8' if diag else '4'}{'c' if by_colour else ''}[{rname}:{'_'.join(map(str, full))}]"
                    found.append((hi + 0.5 * (keep == "copy") + 0.1 * mi, name, preds))
                    break
        if found:
            break
    found.sort(key=lambda f: f[0])
    return found


# ---- repeating an object along a marker's direction ------------------------------------------

def _step_to(t: ob.Obj, m: ob.Obj) -> tuple[int, int] | None:
    """The shortest shift v that lays template t over all of marker m's cells, the copy coming no nearer
    to t than the marker does: the marker is the start of the first copy."""
    ty, tx = t.cells
    my, mx = m.cells
    own = set(zip(ty.tolist(), tx.tolist(), strict=True))
    marker = list(zip(my.tolist(), mx.tolist(), strict=True))

    def gap(ys, xs):  # Chebyshev distance from the template
        return int(np.maximum(abs(ys[:, None] - ty[None]), abs(xs[:, None] - tx[None])).min())

    near = gap(my, mx)
    best = None
    for y, x in own:
        dy, dx = marker[0][0] - y, marker[0][1] - x
        # a straight or diagonal step first, then the shortest
        cost = (not (dy == 0 or dx == 0 or abs(dy) == abs(dx)), abs(dy) + abs(dx))
        if best is not None and cost >= best[0]:
            continue
        moved = {(a + dy, b + dx) for a, b in own}
        if moved.isdisjoint(own) and all(c in moved for c in marker) and gap(ty + dy, tx + dx) == near:
            best = (cost, dy, dx)
    return None if best is None else best[1:]


def _repeat(g: Grid, diag: bool, by_colour: bool, colour: str) -> Grid | None:
    """The largest object copied again and again from itself toward each other object (a marker that
    is the start of the first copy), to the edge, in the marker's colour or its own."""
    objs = ob.objects(g, diag, by_colour)
    if len(objs) < 2 or len(objs) > 12:
        return None
    sizes = sorted((o.size for o in objs), reverse=True)
    if sizes[0] == sizes[1]:
        return None
    t = max(objs, key=lambda o: o.size)
    ty, tx = t.cells
    h, w = g.shape
    out = g.copy()
    for m in objs:
        if m is t:
            continue
        v = _step_to(t, m)
        if v is None:
            return None
        k = 1
        while True:
            sy, sx = ty + k * v[0], tx + k * v[1]
            ok = (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
            if not ok.any():
                break
            out[sy[ok], sx[ok]] = m.colour if colour == "marker" else g[ty[ok], tx[ok]]
            k += 1
    return out


@fitted(order=9)
def fit_repeat(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """The largest object repeated toward each marker object, to the edge (`_repeat`)."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=True)):
        return []
    return explaining(((f"repeat{'8' if diag else '4'}{'c' if by_colour else ''}_{colour}",
                        lambda g, d=diag, b=by_colour, c=colour: _repeat(g, d, b, c))
                       for (diag, by_colour), colour in product(MODES, ("marker", "own"))), inputs, outputs, tests)


# ---- objects stacked against a side by size ----------------------------------------------------

SIDES = {"d": 0, "l": 1, "u": 2, "r": 3}  # quarter turns (anticlockwise) that bring the side to the bottom


def _stack(g: Grid, diag: bool, by_colour: bool, side: str, align: str, big_first: bool) -> Grid | None:
    """Every object, each in its own rows (columns for the left and right sides), piled against `side`
    in order of size (the largest nearest the side, or the smallest; ties keep their order from the
    side), against the start or end of its row band, or where it was across it."""
    k = SIDES[side]
    r = np.rot90(g, k)
    objs = ob.objects(r, diag, by_colour)
    if not objs or len(objs) > MAX_OBJECTS:
        return None
    h, w = r.shape
    out = np.zeros_like(r)
    y = h
    for o in sorted(objs, key=lambda o: (-o.size if big_first else o.size, -o.y1)):
        oh, ow = o.y1 - o.y0, o.x1 - o.x0
        y -= oh
        if y < 0:
            return None
        x = {"start": 0, "end": w - ow, "keep": o.x0}[align]
        _paint(out, r, o, y - o.y0, x - o.x0)
    return np.rot90(out, -k)


@fitted(order=31)
def fit_stack(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Objects re-piled against a side, one band each, sorted by size (`_stack`)."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=True)):
        return []
    return explaining(((f"stack{'8' if diag else '4'}{'c' if by_colour else ''}_{side}_{align}_{'big' if big else 'small'}",
                        lambda g, d=diag, b=by_colour, s=side, a=align, big=big: _stack(g, d, b, s, a, big))
                       for (diag, by_colour), side, align, big in product(MODES, SIDES, ("end", "start", "keep"),
                                                                            (True, False))),
                      inputs, outputs, tests)


# ---- every colour moving its own way ----------------------------------------------------------

MAX_COLOUR_STEP = 5


def _bg(g: Grid) -> int:
    return int(np.bincount(g.ravel(), minlength=10).argmax())


def _colour_steps(inputs: list[Grid], outputs: list[Grid]) -> dict[int, tuple[int, int]] | None:
    """For each colour of the inputs (but their background), the one shift (up to MAX_COLOUR_STEP cells
    each way, the shortest first) that carries its cells onto that colour's cells in every output."""
    steps = {}
    colours = {c for a in inputs for c in np.unique(a).tolist() if c != _bg(a)}
    r = range(-MAX_COLOUR_STEP, MAX_COLOUR_STEP + 1)
    for c in sorted(colours):
        for dy, dx in sorted(((dy, dx) for dy in r for dx in r), key=lambda d: abs(d[0]) + abs(d[1])):
            if all((m := _shifted(a == c, dy, dx)) is not None and np.array_equal(m, b == c)
                   for a, b in zip(inputs, outputs, strict=True) if (a == c).any()):
                steps[c] = (dy, dx)
                break
        else:
            return None
    return steps if any(d != (0, 0) for d in steps.values()) else None


def _shifted(m: np.ndarray, dy: int, dx: int) -> np.ndarray | None:
    """Mask m moved by (dy, dx); None when a cell would leave the grid."""
    ys, xs = np.nonzero(m)
    ys, xs = ys + dy, xs + dx
    if len(ys) and (ys.min() < 0 or xs.min() < 0 or ys.max() >= m.shape[0] or xs.max() >= m.shape[1]):
        return None
    out = np.zeros_like(m)
    out[ys, xs] = True
    return out


def _move_colours(g: Grid, steps: dict[int, tuple[int, int]]) -> Grid | None:
    """g with each colour's cells moved by its step, the still colours drawn first; None when g has a
    colour with no step or a cell would leave the grid."""
    bg = _bg(g)
    out = np.full_like(g, bg)
    colours = [c for c in np.unique(g).tolist() if c != bg]
    if any(c not in steps for c in colours):
        return None
    for c in sorted(colours, key=lambda c: steps[c] != (0, 0)):
        m = _shifted(g == c, *steps[c])
        if m is None:
            return None
        out[m] = c
    return out


@fitted(order=8)
def fit_colour_steps(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Each colour moved by a shift of its own, learned from the train pairs (`_colour_steps`)."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=True)):
        return []
    steps = _colour_steps(inputs, outputs)
    if steps is None:
        return []
    preds = explains(lambda g: _move_colours(g, steps), inputs, outputs, tests)
    if preds is None:
        return []
    name = ",".join(f"{c}{dy:+d}{dx:+d}" for c, (dy, dx) in steps.items() if (dy, dx) != (0, 0))
    return [(0, f"colour_steps[{name}]", preds)]
