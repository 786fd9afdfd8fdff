"""Candidate selection: merge every solver's candidates, throw out those that break a rule that
holds on every train pair of the task, rank, and keep two attempts per test input.

Rules
-----
A rule is a pure function ``rule(task) -> Check | None``. It reads the train pairs only (never a
test output). When its regularity holds on *every* train pair it returns a :class:`Check`; when it
does not, it returns None and makes no claim. A check, given one test input, returns a predicate on
candidate grids (True = plausible), or None to abstain for that input (e.g. a scale factor that does
not divide the test input's side).

Every rule in :data:`RULES` was run over arc1/train and arc2/train-clean (never an evaluation set)
against the true test outputs. Together they reject the truth on 2 of 416 test inputs of
arc1/train (c909285e: fixed_shape, 3906de3d: object_count_kept) and 5 of 681 of arc2/train-clean
(those two, 6cbe9eb8: palette_within_input, 2ccd9fef and b74ca5d1: palette_equals_input);
``tests/test_select.py`` holds these numbers. The abstentions (unseen input shape, crowded or
re-coloured background, object count out of the train range) were chosen on those same sets.

Role swap
---------
:func:`role_swap` is a last, optional stage (`solve --role-swap NATS`): a model solver's
``Solver.verify`` judges each test input's best candidates by how much each, put in as a
demonstration, helps or hurts predicting the real train pairs; :func:`role_swap_drops` decides.

Ranking
-------
:func:`merge` ranks the distinct grids of all solvers by (1) the best-placed solver that made the
grid (solver order: the DSL's candidates are programs exact on every train pair, so they come
first), (2) that solver's score for it (higher first; scores are comparable only within a solver),
(3) votes: how many candidates, over all solvers and sources, made the same grid (more first),
(4) order of appearance. A grid made several times keeps its best-placed candidate.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from arcforge.grid import Grid, grid_key, label
from arcforge.solver import Candidate
from arcforge.task import Task

Predicate = Callable[[Grid], bool]


@dataclass(frozen=True)
class Check:
    """A regularity found on every train pair. ``make(test_input)`` gives the predicate a
    candidate for that test input must satisfy, or None to abstain for that input."""

    rule: str
    detail: str  # what was found, e.g. "output = input scaled by 3x3"
    make: Callable[[Grid], Predicate | None]

    def predicate(self, test_input: Grid) -> Predicate | None:
        return self.make(test_input)

    def accepts(self, test_input: Grid, candidate: Grid) -> bool:
        p = self.make(test_input)
        return True if p is None else bool(p(candidate))


Rule = Callable[[Task], "Check | None"]


# ---------------------------------------------------------------- grid facts


def colours(g: Grid) -> frozenset[int]:
    return frozenset(np.unique(g).tolist())


def background(g: Grid) -> frozenset[int]:
    """The most common colour(s) of a grid: a set, since several colours may tie."""
    counts = np.bincount(np.asarray(g, dtype=np.int64).ravel(), minlength=10)
    return frozenset(np.flatnonzero(counts == counts.max()).tolist())


def main_background(g: Grid) -> int:
    """One background colour: the most common, the smallest on a tie."""
    return min(background(g))


def count_objects(g: Grid, bg: int) -> int:
    """Connected components (4-neighbour, one colour each) of the cells that are not `bg`."""
    return label(g, diag=False, by_colour=True, bg=bg)[1]


# ---------------------------------------------------------------- rules

RULES: list[Rule] = []


def _rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def _pairs(task: Task) -> list[tuple[Grid, Grid]]:
    return [(ex.input, ex.output) for ex in task.train]


# -- output shape


@_rule
def same_shape(task: Task) -> Check | None:
    """Every train output has its input's shape."""
    if all(o.shape == i.shape for i, o in _pairs(task)):
        return Check("same_shape", "output shape = input shape", lambda ti: lambda g: g.shape == ti.shape)
    return None


def _seen_input_shape(task: Task, make: Callable[[Grid], Predicate]) -> Callable[[Grid], Predicate | None]:
    """Abstain for a test input of a shape no train input has: a constant output side learnt on
    other input shapes is not trusted there (arc1/train c909285e, arc2/train 5ecac7f7, 8fff9e47)."""
    shapes = {ex.input.shape for ex in task.train}
    return lambda ti: make(ti) if ti.shape in shapes else None


@_rule
def fixed_shape(task: Task) -> Check | None:
    """Every train output has one shape (h, w), and the train inputs do not all share their
    outputs' shape (that is `same_shape`). Abstains for test inputs of an unseen shape."""
    pairs = _pairs(task)
    shapes = {o.shape for _, o in pairs}
    if len(shapes) != 1 or all(i.shape == o.shape for i, o in pairs):
        return None
    (shape,) = shapes
    return Check("fixed_shape", f"output shape = {shape[0]}x{shape[1]}",
                 _seen_input_shape(task, lambda ti: lambda g: g.shape == shape))


def _scale(pairs, axis: int) -> Fraction | None:
    factors = {Fraction(o.shape[axis], i.shape[axis]) for i, o in pairs}
    return factors.pop() if len(factors) == 1 else None


@_rule
def scaled_shape(task: Task) -> Check | None:
    """Every train output's shape is its input's scaled by one factor per axis (fy, fx), not both 1;
    factors may be fractions (e.g. 1/2: the output is half the input). Abstains for a test input
    whose side the factor does not map to a whole number of cells."""
    pairs = _pairs(task)
    fy, fx = _scale(pairs, 0), _scale(pairs, 1)
    if fy is None or fx is None or fy == fx == 1:
        return None

    def make(ti: Grid) -> Predicate | None:
        h, w = ti.shape[0] * fy, ti.shape[1] * fx
        if h.denominator != 1 or w.denominator != 1:
            return None
        return lambda g: g.shape == (int(h), int(w))

    return Check("scaled_shape", f"output = input scaled by {fy}x{fx}", make)


@_rule
def transposed_shape(task: Task) -> Check | None:
    """Every train output is w x h for an h x w input, and some input is not square."""
    pairs = _pairs(task)
    if all(o.shape == i.shape[::-1] for i, o in pairs) and any(i.shape[0] != i.shape[1] for i, _ in pairs):
        return Check("transposed_shape", "output shape = input shape transposed",
                     lambda ti: lambda g: g.shape == ti.shape[::-1])
    return None


def _fixed_side(task: Task, axis: int) -> Check | None:
    pairs = _pairs(task)
    other = 1 - axis
    sides = {o.shape[axis] for _, o in pairs}
    if (len(sides) != 1 or any(o.shape[other] != i.shape[other] for i, o in pairs)
            or all(o.shape[axis] == i.shape[axis] for i, o in pairs)):
        return None
    (n,) = sides
    name, side, kept = ("fixed_height", "height", "width") if axis == 0 else ("fixed_width", "width", "height")

    def make(ti: Grid) -> Predicate:
        return lambda g: g.shape[axis] == n and g.shape[other] == ti.shape[other]

    return Check(name, f"output {side} = {n}, {kept} = input {kept}", _seen_input_shape(task, make))


@_rule
def fixed_height(task: Task) -> Check | None:
    """Every train output has one height and its input's width (and some output's height is not
    its input's: else that is `same_shape`). Abstains for test inputs of an unseen shape."""
    return _fixed_side(task, 0)


@_rule
def fixed_width(task: Task) -> Check | None:
    """Every train output has one width and its input's height (and some output's width is not
    its input's). Abstains for test inputs of an unseen shape."""
    return _fixed_side(task, 1)


# -- output palette


@_rule
def palette_seen(task: Task) -> Check | None:
    """Output colours are drawn from the train outputs' colours and the input's colours.

    Checked leave-one-out so the claim is not trivially true: each train output's colours lie in
    (the other train outputs' colours | its own input's colours)."""
    pairs = _pairs(task)
    outs = [colours(o) for _, o in pairs]
    for k, (i, _) in enumerate(pairs):
        others = frozenset().union(*(c for j, c in enumerate(outs) if j != k))
        if not outs[k] <= others | colours(i):
            return None
    allowed = frozenset().union(*outs)
    return Check("palette_seen", f"output colours within train outputs' {sorted(allowed)} + test input's",
                 lambda ti: (lambda ok: lambda g: colours(g) <= ok)(allowed | colours(ti)))


@_rule
def palette_within_input(task: Task) -> Check | None:
    """Every train output's colours are a subset of its input's colours."""
    if all(colours(o) <= colours(i) for i, o in _pairs(task)):
        return Check("palette_within_input", "output colours within input colours",
                     lambda ti: (lambda ok: lambda g: colours(g) <= ok)(colours(ti)))
    return None


@_rule
def palette_equals_input(task: Task) -> Check | None:
    """Every train output uses exactly its input's colours."""
    if all(colours(o) == colours(i) for i, o in _pairs(task)):
        return Check("palette_equals_input", "output colours = input colours",
                     lambda ti: (lambda ok: lambda g: colours(g) == ok)(colours(ti)))
    return None


# -- background


def majority_colour(g: Grid) -> tuple[int | None, float]:
    """The colour covering more than half of the cells (None if none does), and its share."""
    counts = np.bincount(np.asarray(g, dtype=np.int64).ravel(), minlength=10)
    c = int(counts.argmax())
    share = counts[c] / g.size
    return (c if share > 0.5 else None), float(share)


def _background_guard(task: Task, make: Callable[[Grid], Predicate | None]) -> Callable[[Grid], Predicate | None]:
    """Abstain for a test input whose background is not like the train inputs': none (no colour on
    more than half of its cells), a smaller share than every train input's (crowded: filling
    objects may overturn the majority, arc1/train 4258a5f9), or, when all train inputs share one
    background colour, another one (arc1/train 694f12f3, bb43febb). Also abstains everywhere when a
    train input has no background."""
    shares = [majority_colour(ex.input) for ex in task.train]
    if any(b is None for b, _ in shares):
        return lambda ti: None
    low = min(share for _, share in shares)
    train_bgs = {b for b, _ in shares}

    def guarded(ti: Grid) -> Predicate | None:
        b, share = majority_colour(ti)
        if b is None or share < low or (len(train_bgs) == 1 and b not in train_bgs):
            return None
        return make(ti)

    return guarded


@_rule
def background_kept(task: Task) -> Check | None:
    """Every train input has a background (a colour on more than half of its cells) and its
    output has the same one. A candidate's most common colour must then be the test input's
    background. Abstains for test inputs whose background is unlike the train inputs'
    (`_background_guard`)."""
    pairs = _pairs(task)
    for i, o in pairs:
        b = majority_colour(i)[0]
        if b is None or majority_colour(o)[0] != b:
            return None

    def make(ti: Grid) -> Predicate:
        b = majority_colour(ti)[0]
        return lambda g: b in background(g)

    return Check("background_kept", "output's most common colour = input's background", _background_guard(task, make))


# -- what changes between input and output (the task's type); each needs every train output to
# keep its input's shape and some train pair to change; those that speak of the background abstain
# where the test input's background is unlike the train inputs' (_background_guard)


def _edits(task: Task, holds: Callable[[Grid, Grid, int], bool]) -> bool:
    """Every train pair keeps its shape and satisfies holds(input, output, background), and some
    pair changes something."""
    pairs = _pairs(task)
    return (all(i.shape == o.shape and holds(i, o, main_background(i)) for i, o in pairs)
            and any(not np.array_equal(i, o) for i, o in pairs))


@_rule
def recolour_only(task: Task) -> Check | None:
    """Every train output has its input's non-background cells where they were and only there; only
    their colours may change."""
    if not _edits(task, lambda i, o, bg: np.array_equal(i != bg, o != bg)):
        return None

    def make(ti: Grid) -> Predicate:
        fg = ti != main_background(ti)
        return lambda g: g.shape == ti.shape and np.array_equal(g != main_background(ti), fg)

    return Check("recolour_only", "output = input with cells recoloured in place", _background_guard(task, make))


def _one_colour_per_input_colour(i: Grid, o: Grid) -> bool:
    return all(len(np.unique(o[i == c])) == 1 for c in np.unique(i))


@_rule
def recolour_by_colour(task: Task) -> Check | None:
    """In every train pair, all the cells of one input colour take one output colour (the map may
    differ from pair to pair). Needs no background, so it does not abstain."""
    if not _edits(task, lambda i, o, bg: _one_colour_per_input_colour(i, o)):
        return None
    return Check("recolour_by_colour", "each input colour becomes one colour",
                 lambda ti: lambda g: g.shape == ti.shape and _one_colour_per_input_colour(ti, g))


def object_bag(g: Grid, bg: int) -> Counter:
    """The multiset of a grid's objects (4-connected one-colour components of non-`bg` cells), each
    as its colour and its shape, wherever it is."""
    lab, n = label(g, diag=False, by_colour=True, bg=bg)
    bag: Counter = Counter()
    if n == 0:
        return bag
    flat = lab.ravel()
    order = np.argsort(flat, kind="stable")
    starts = np.searchsorted(flat[order], np.arange(1, n + 2))
    w = g.shape[1]
    for k in range(n):
        cells = order[starts[k]:starts[k + 1]]
        ys, xs = np.divmod(cells, w)
        y0, x0 = ys.min(), xs.min()
        bag[int(g.flat[cells[0]]), tuple(sorted(zip((ys - y0).tolist(), (xs - x0).tolist())))] += 1
    return bag


@_rule
def objects_moved(task: Task) -> Check | None:
    """Every train output holds exactly its input's objects (by colour and shape), some moved.
    Rejects the truth once on the training sets: arc1/train a48eeaf7 (moved pixels join an object)."""
    if not _edits(task, lambda i, o, bg: object_bag(i, bg) == object_bag(o, bg)):
        return None

    def make(ti: Grid) -> Predicate:
        bg = main_background(ti)
        bag = object_bag(ti, bg)
        return lambda g: g.shape == ti.shape and object_bag(g, bg) == bag

    return Check("objects_moved", "the input's objects, moved", _background_guard(task, make))


@_rule
def cells_added_only(task: Task) -> Check | None:
    """Every train output keeps its input's non-background cells as they are; it only adds cells."""
    if not _edits(task, lambda i, o, bg: np.array_equal(o[i != bg], i[i != bg])):
        return None

    def make(ti: Grid) -> Predicate:
        fg = ti != main_background(ti)
        return lambda g: g.shape == ti.shape and np.array_equal(g[fg], ti[fg])

    return Check("cells_added_only", "input's cells kept, cells only added", _background_guard(task, make))


@_rule
def cells_removed_only(task: Task) -> Check | None:
    """Every train output is its input with some cells erased to the background."""
    if not _edits(task, lambda i, o, bg: bool(((o == i) | (o == bg)).all())):
        return None

    def make(ti: Grid) -> Predicate:
        bg = main_background(ti)
        return lambda g: g.shape == ti.shape and bool(((g == ti) | (g == bg)).all())

    return Check("cells_removed_only", "input's cells only erased", _background_guard(task, make))


# -- objects


@_rule
def object_count_kept(task: Task) -> Check | None:
    """Every train output has as many objects as its input, on at least 3 train pairs. An object
    is a 4-connected one-colour component of cells other than the input's most common colour
    (smallest on a tie). Abstains for a test input whose object count lies outside the train
    inputs' range (objects may then merge or split, arc1/train 2204b7a8)."""
    pairs = _pairs(task)
    if len(pairs) < 3:
        return None
    counts = []
    for i, o in pairs:
        bg = main_background(i)
        n = count_objects(i, bg)
        if count_objects(o, bg) != n:
            return None
        counts.append(n)
    lo, hi = min(counts), max(counts)

    def make(ti: Grid) -> Predicate | None:
        bg = main_background(ti)
        n = count_objects(ti, bg)
        if not lo <= n <= hi:
            return None
        return lambda g: count_objects(g, bg) == n

    return Check("object_count_kept", f"output has as many objects as input ({lo}-{hi} on train)", make)


def checks_for(task: Task, rules: Sequence[Rule] = RULES) -> list[Check]:
    """The checks of every rule that holds on all of `task`'s train pairs."""
    return [c for c in (r(task) for r in rules) if c is not None]


# ---------------------------------------------------------------- merge, select, top-2


@dataclass
class _Entry:
    candidate: Candidate
    rank: tuple
    votes: int
    order: int


def _score(c: Candidate) -> float:
    s = float(c.score)
    return -math.inf if math.isnan(s) else s


def _merge_entries(per_solver: list[list[list[Candidate]]], n_test: int) -> list[list[_Entry]]:
    merged: list[list[_Entry]] = []
    for i in range(n_test):
        groups: dict[bytes, _Entry] = {}
        order = 0
        for s, cands in enumerate(per_solver):
            for c in cands[i] if i < len(cands) else []:
                k = grid_key(c.grid)
                rank = (s, -_score(c))
                e = groups.get(k)
                if e is None:
                    groups[k] = _Entry(c, rank, 1, order)
                else:
                    e.votes += 1
                    if rank < e.rank:
                        e.candidate, e.rank = c, rank
                order += 1
        merged.append(sorted(groups.values(), key=lambda e: (e.rank, -e.votes, e.order)))
    return merged


def merge(per_solver: list[list[list[Candidate]]], n_test: int) -> list[list[Candidate]]:
    """Every solver's candidates per test input as one ranked list of distinct grids: by solver
    order, then the solver's score, then votes (how many candidates made the grid), then order of
    appearance. A grid keeps its best-placed candidate."""
    return [[e.candidate for e in entries] for entries in _merge_entries(per_solver, n_test)]


def select(
    task: Task,
    per_solver: list[list[list[Candidate]]],
    rules: Sequence[Rule] = RULES,
) -> tuple[list[list[Candidate]], list[dict]]:
    """Merge and rank the candidates (see :func:`merge`), then drop each that fails a check of a
    rule holding on all train pairs. Returns the kept candidates per test input, best first, and a
    report: one entry per removed candidate ``{"test", "rank", "source", "rule"}`` (rank in the merged
    list; "votes" when several candidates made the grid) naming the first rule it broke. When every
    candidate of a test input breaks some rule, nothing is removed for that input (a filter never
    empties an answer): its entries get ``"restored": True`` and one more entry
    ``{"test", "kept_all": n, "note"}`` says so. Only train pairs and test inputs of `task` are read."""
    checks = checks_for(task, rules)
    entries = _merge_entries(per_solver, len(task.test))
    kept_all: list[list[Candidate]] = []
    report: list[dict] = []
    for i, cands in enumerate(entries):
        preds = [(c.rule, p) for c in checks if (p := c.predicate(task.test[i].input)) is not None]
        kept, removed = [], []
        for rank, e in enumerate(cands):
            broke = next((name for name, p in preds if not p(e.candidate.grid)), None)
            if broke is None:
                kept.append(e.candidate)
            else:
                entry = {"test": i, "rank": rank, "source": e.candidate.source, "rule": broke}
                if e.votes > 1:
                    entry["votes"] = e.votes
                removed.append(entry)
        if removed and not kept:
            kept = [e.candidate for e in cands]
            for r in removed:
                r["restored"] = True
            removed.append({"test": i, "kept_all": len(cands),
                            "note": "every candidate broke a rule; the unfiltered ranking is kept"})
        report.extend(removed)
        kept_all.append(kept)
    return kept_all, report


# Candidates per test input that the role-swap stage judges (the best ranked after the rules).
ROLE_SWAP_TOP = 10


def role_swap_drops(deltas: Sequence[float], margin: float, keep: int = 2) -> list[int]:
    """Indices of the candidates the role-swap stage removes: those whose delta is more than
    `margin` below the best one's, least plausible first, while more than `keep` candidates
    remain (removing one only helps when another moves up into the attempts)."""
    best = max(deltas)
    drops, left = [], len(deltas)
    for k in sorted(range(len(deltas)), key=lambda k: deltas[k]):
        if left <= keep or deltas[k] >= best - margin:
            break
        drops.append(k)
        left -= 1
    return drops


def role_swap(candidates: list[list[Candidate]], deltas: Sequence[Sequence[float] | None],
              margin: float) -> tuple[list[list[Candidate]], list[dict]]:
    """Drop candidates by their role-swap deltas (`Solver.verify`; deltas[i] covers the first
    len(deltas[i]) candidates of test input i, None: no judgement). Returns the kept candidates and
    one report entry per removed one, as `select` does (rule "role_swap", with its delta and its grid, so
    that a run made with margin 0 can be replayed at any margin: benchmarks/roleswap_on_runs.py --recorded)."""
    kept_all, report = [], []
    for i, cands in enumerate(candidates):
        d = deltas[i] if i < len(deltas) else None
        drops = set(role_swap_drops(d, margin)) if d else set()
        kept_all.append([c for k, c in enumerate(cands) if k not in drops])
        report += [{"test": i, "rank": k, "source": cands[k].source, "rule": "role_swap",
                    "delta": round(float(d[k]), 4), "best_delta": round(float(max(d)), 4),
                    "grid": cands[k].grid.tolist()} for k in sorted(drops)]
    return kept_all, report


def top_attempts(candidates: list[list[Candidate]], k: int = 2) -> list[list[Grid]]:
    return [[c.grid for c in cands[:k]] for cands in candidates]
