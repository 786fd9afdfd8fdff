"""The registry of the DSL's named transforms: every primitive joins it with `@primitive`, and
`expand(info)` instantiates it for one task (the list `library.library` gives the search).

    @primitive("keep_c{c}", order=(50, 2), c=IN)
    def keep_colour(g, c): ...

registers one transform per non-zero input colour c of the task, named keep_c1, keep_c3, ..., each
`keep_colour(g, c=...)`. A range is a keyword argument of the function: a tuple of values, a dict
{label in the name: value}, or one of the per-task ranges below (a function of `Info`). Several
ranges give their product, the first outermost. `fixed` gives arguments that do not vary, `when` a
predicate `when(info, **values)` that drops an instance, `slow=True` puts the transform in the slow
list (tried once on the inputs: library.fit_slow) instead. `shape` promises the shape of every
result as a function of the argument's, `shape(h, w, **values)` (None: no result), and
`same_shape=True` that it is the argument's own: the search skips such a transform, without calling
it, on states whose shapes it cannot turn into the outputs' (tests hold each promise to real grids).
Each instance carries the promise as its attribute `shape_of(h, w)`, None where none was made.
`changes=k` promises that a same-shape transform changes no cell but those of colour k: an int, the
name of the argument that holds it (`changes="hole"`), or a function of the arguments giving it (or
None: no promise). Each instance carries it as `changes` (an int, or None where none was made); at
its last level the search skips such a transform on a state whose other cells already rule out the
output (tests hold each promise to real grids).

The order of the list decides the search's ties, so every entry has an explicit `order`, a tuple
of ints (or one int): entries are sorted by it, one loop over an entry's first range sitting
between its first and second element, over its second range between the second and the third, and
so on (the rest of its ranges innermost). Entries whose orders share a prefix of k elements share
their first k ranges, as loops around both: `order=(50, 0)` crop_c{c} and `order=(50, 2)` keep_c{c}
give crop_c1, keep_c1, crop_c2, keep_c2, ... A new primitive takes a fresh first element.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from arcforge.grid import Grid
from arcforge.task import Task

Transform = tuple[str, Callable[[Grid], Grid | None]]


def _colours(grids: Iterable[Grid]) -> list[int]:
    seen = np.zeros(10, bool)
    for g in grids:
        seen[np.unique(g)] = True
    return [int(c) for c in np.flatnonzero(seen)]


def ratios(task: Task) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """Integer (output / input) and (input / output) shape ratios seen in every train pair."""
    ups, downs = None, None
    for ex in task.train:
        (hi, wi), (ho, wo) = ex.input.shape, ex.output.shape
        u = {(ho // hi, wo // wi)} if ho % hi == 0 and wo % wi == 0 else set()
        d = {(hi // ho, wi // wo)} if hi % ho == 0 and wi % wo == 0 else set()
        ups = u if ups is None else ups & u
        downs = d if downs is None else downs & d
    return (ups or set()) - {(1, 1)}, (downs or set()) - {(1, 1)}


def target_sizes(task: Task) -> list[tuple[str, Callable[[tuple[int, int]], tuple[int, int] | None]]]:
    """Output shapes as functions of the input's shape, when every train pair agrees: one fixed shape,
    or a fixed (possibly fractional) scale of each side."""
    ins = [ex.input.shape for ex in task.train]
    outs = [ex.output.shape for ex in task.train]
    rules = []
    if len(set(outs)) == 1 and outs[0] not in ins:
        rules.append((f"{outs[0][0]}x{outs[0][1]}", lambda s, o=outs[0]: o))
    fy = {Fraction(o[0], i[0]) for i, o in zip(ins, outs, strict=False)}
    fx = {Fraction(o[1], i[1]) for i, o in zip(ins, outs, strict=False)}
    if len(fy) == 1 and len(fx) == 1 and (fy | fx) != {1}:
        a, b = fy.pop(), fx.pop()

        def scaled(s, a=a, b=b):
            h, w = s[0] * a, s[1] * b
            return (int(h), int(w)) if h.denominator == 1 and w.denominator == 1 else None
        rules.append((f"x{a}x{b}".replace("/", "_"), scaled))
    return rules


@dataclass(frozen=True)
class Info:
    """What the per-task ranges read: the colours of the inputs (train and test) and of the train
    outputs, 0 included, and the train pairs' shape ratios and target sizes."""

    in_colours: list[int]
    out_colours: list[int]
    ups: set[tuple[int, int]] = field(default_factory=set)
    downs: set[tuple[int, int]] = field(default_factory=set)
    sizes: list = field(default_factory=list)

    @classmethod
    def of(cls, task: Task) -> Info:
        ups, downs = ratios(task)
        return cls(_colours([ex.input for ex in task.train] + [ex.input for ex in task.test]),
                   _colours(ex.output for ex in task.train), ups, downs, target_sizes(task))

    @classmethod
    def of_outputs(cls, outputs: list[Grid]) -> Info:
        """For the slow transforms, parametrised by the outputs' colours alone."""
        return cls([], _colours(outputs))


# ---- per-task ranges --------------------------------------------------------------------------

def IN(i: Info) -> list[int]:
    """Non-zero input colours."""
    return [c for c in i.in_colours if c]


def OUT(i: Info) -> list[int]:
    """Non-zero output colours."""
    return [c for c in i.out_colours if c]


def OUT0(i: Info) -> list[int]:
    """Output colours, 0 included."""
    return i.out_colours


def NEW(i: Info) -> list[int]:
    """Output colours no input shows; all the non-zero output colours when there are none."""
    return [c for c in OUT(i) if c not in i.in_colours] or OUT(i)


def HOLES(i: Info) -> list[int]:
    """Colours to fill: non-zero ones the inputs show and the outputs never do (erased cells), then 0."""
    return [c for c in IN(i) if c not in i.out_colours] + [0]


def fillable(i: Info, hole: int, **_) -> bool:
    """Whether `hole` is worth filling from a pattern: a colour the outputs erase, or 0 when the
    outputs show no 0 cell."""
    return hole != 0 or 0 not in i.out_colours


def UP(i: Info) -> dict[str, tuple[int, int]]:
    """Upscale factors: the train pairs' output / input ratios, 2x2 and 3x3."""
    return {f"{fy}x{fx}": (fy, fx) for fy, fx in sorted(i.ups | {(2, 2), (3, 3)})}


def DOWN(i: Info) -> dict[str, tuple[int, int]]:
    """Downscale factors: the train pairs' input / output ratios, 2x2 and 3x3."""
    return {f"{fy}x{fx}": (fy, fx) for fy, fx in sorted(i.downs | {(2, 2), (3, 3)})}


def TILES(i: Info) -> dict[str, tuple[int, int]]:
    """Tilings: the output / input ratios, 1x2, 2x1 and 2x2."""
    return {f"{ny}x{nx}": (ny, nx) for ny, nx in sorted(i.ups | {(1, 2), (2, 1), (2, 2)})}


def SIZES(i: Info) -> dict[str, Callable]:
    """Output shapes as functions of the input's (`target_sizes`), by name."""
    return dict(i.sizes)


# ---- the registry -----------------------------------------------------------------------------

Range = tuple | list | dict | Callable[[Info], list | dict]


@dataclass(frozen=True)
class Primitive:
    name: str  # a str.format template over the ranges' labels
    fn: Callable
    order: tuple[int, ...]
    ranges: dict[str, Range]
    fixed: dict
    when: Callable[..., bool] | None
    slow: bool
    shape: Callable[..., tuple[int, int] | None] | None
    changes: int | str | Callable[..., int | None] | None  # the one colour whose cells it may change


REGISTRY: list[Primitive] = []  # every registered entry, by (slow, order)


def _same(h: int, w: int) -> tuple[int, int]:
    """The shape promise of same_shape=True (one function shared by every such instance)."""
    return h, w


def primitive(name: str, order: int | tuple[int, ...], *, fixed: dict | None = None,
              when: Callable[..., bool] | None = None, slow: bool = False, same_shape: bool = False,
              shape: Callable[..., tuple[int, int] | None] | None = None,
              changes: int | str | Callable[..., int | None] | None = None, **ranges: Range):
    """Register `fn` as the transforms `name` (see the module's docstring); gives `fn` back unchanged,
    so that one function may carry several."""
    order = (order,) if isinstance(order, int) else tuple(order)

    def register(fn):
        if len(order) > len(ranges) + 1:
            raise ValueError(f"primitive {name}: order {order} sits inside more loops than its {len(ranges)} ranges")
        if changes is not None and not same_shape:
            raise ValueError(f"primitive {name}: changes= needs same_shape=True")
        entry = Primitive(name, fn, order, dict(ranges), dict(fixed or {}), when, slow, _same if same_shape else shape,
                          changes)
        same = lambda e: e.slow == slow and e.order == order
        clash = next((e for e in REGISTRY if same(e)), None)
        if clash is not None and (clash.name, clash.fn.__qualname__) != (name, fn.__qualname__):  # a reload re-registers
            raise ValueError(f"primitive order {order}: {name} and {clash.name}")
        REGISTRY[:] = sorted([e for e in REGISTRY if not same(e)] + [entry], key=lambda e: (e.slow, e.order))
        return fn
    return register


def check() -> None:
    """Raise if two entries' orders make them share a loop over different ranges, or one order is a
    prefix of another's (which would leave their places undefined)."""
    for a, b in itertools.combinations(REGISTRY, 2):
        if a.slow != b.slow:
            continue
        k = next((i for i, (x, y) in enumerate(zip(a.order, b.order)) if x != y), min(len(a.order), len(b.order)))
        if k == min(len(a.order), len(b.order)):
            raise ValueError(f"primitive orders {a.order} ({a.name}) and {b.order} ({b.name}): one is a prefix")
        for (va, ra), (vb, rb) in list(zip(a.ranges.items(), b.ranges.items()))[:k]:
            if callable(ra) or callable(rb):
                same = ra is rb
            else:
                same = list(ra.values() if isinstance(ra, dict) else ra) == list(rb.values() if isinstance(rb, dict) else rb)
            if not same:
                raise ValueError(f"primitives {a.name} and {b.name} share a loop ({va}, {vb}) over different ranges")


def _labelled(r: Range, info: Info) -> list[tuple[str, object]]:
    r = r(info) if callable(r) else r
    return list(r.items()) if isinstance(r, dict) else [(v, v) for v in r]


def _instances(e: Primitive, info: Info):
    """(sort key, name, fn) of every instance of one entry."""
    names = list(e.ranges)
    for combo in itertools.product(*(list(enumerate(_labelled(r, info))) for r in e.ranges.values())):
        values = {n: v for n, (_, (_, v)) in zip(names, combo)}
        if e.when is not None and not e.when(info, **values):
            continue
        idx = [i for i, _ in combo]
        key = tuple(x for pair in itertools.zip_longest(e.order, idx[:len(e.order)]) for x in pair if x is not None)
        key += tuple(idx[len(e.order):])
        label = {n: lab for n, (_, (lab, _)) in zip(names, combo)}
        fn = functools.partial(e.fn, **values, **e.fixed)
        promise = e.shape if e.shape in (None, _same) else functools.partial(e.shape, **values, **e.fixed)
        fn.shape_of = promise
        args = {**values, **e.fixed}
        fn.changes = args[e.changes] if isinstance(e.changes, str) else e.changes(**args) if callable(e.changes) \
            else e.changes
        yield key, e.name.format(**label), fn


def expand(info: Info, slow: bool = False) -> list[Transform]:
    """Every registered transform (or every slow one) instantiated for one task, in order. The
    modules that register them must have been imported (library.py imports them)."""
    found = [x for e in REGISTRY if e.slow == slow for x in _instances(e, info)]
    found.sort(key=lambda x: x[0])
    return [(name, fn) for _, name, fn in found]
