"""Program search over the DSL: breadth-first compositions of named transforms, states merged by hash,
exact and colour-mapped fits, greedy stacking of partial results, rules fitted on the train pairs
(dsl/rules/ and the other fitted families), ranked by simplicity.

A state is the tuple of images one program makes from every input (train then test). Only programs
whose train images equal the train outputs (after a learned colour map, or a stack of layers that
each agree with the outputs) become candidates, and fitted rules are exact on every train pair;
test outputs are never looked at.

Levels below the first keep only programs whose train images have the output shapes, nearest states
first, so that depth 2 is searched to the end within the time limit; a fitted rule stands for a
depth-2 program and ends the search there.
"""

from __future__ import annotations

import functools
import time

import numpy as np

from arcforge.dsl import counts, moves, parts, rays, rules, templates  # noqa: F401  (their rules register, as library.py's)
from arcforge.dsl.fitting import RULES
from arcforge.dsl.library import library
from arcforge.dsl.normalise import normalise
from arcforge.dsl.primitives import majority
from arcforge.dsl.rules.cells import fit_cell_copy, fit_cell_features
from arcforge.dsl.size import predict_sizes
from arcforge.dsl.supergrid import grow, supergrid
from arcforge.grid import Grid, grid_key, valid_shape
from arcforge.solver import Candidate, Solver
from arcforge.task import Example, Task

MAX_LAYERS = 3000  # shape-matching states kept for stacking
SURE_TIME = 1.5  # seconds left to the program search once a fitted rule explains the task
NORM_SHARE = 0.3  # of the time limit, at most, for each other view of the task (normalised, cells)
NORM_COST = 1.5  # added to a program found on the normalised task: renaming counts as a step and a half
CELLS_COST = 1.0  # ... on the one-pixel-per-cell view of a separator layout
UNSEEN_COST = 3.0  # added to a learned colour map that meets a test colour the train pairs never showed
FIRSTS_KEPT = 300_000  # first images remembered in a level, at most (about 40 MB), before starting afresh
_MISSING = object()


def learn_colour_map(preds: list[Grid], targets: list[Grid]) -> np.ndarray | None:
    """A lookup table (10 entries, -1 = unseen) turning every prediction into its target cell by cell,
    if one exists and is not the identity."""
    seen_pairs = np.zeros(100, np.intp)
    for p, t in zip(preds, targets, strict=False):
        seen_pairs += np.bincount((p.astype(np.intp) * 10 + t).ravel(), minlength=100)
    pairs = seen_pairs.reshape(10, 10) > 0
    if (pairs.sum(axis=1) > 1).any():
        return None
    seen = pairs.any(axis=1)
    if (pairs.argmax(axis=1)[seen] == np.flatnonzero(seen)).all():
        return None
    return np.where(seen, pairs.argmax(axis=1), -1).astype(np.int16)


def apply_lut(g: Grid, lut: np.ndarray) -> Grid:
    """Apply a learned map; colours the train pairs never showed keep their colour."""
    full = np.where(lut >= 0, lut, np.arange(10))
    return full[g].astype(np.int8)


class DslSearch(Solver):
    """Breadth-first search over compositions of `library(task)` transforms, up to `max_depth`, for at
    most `time_limit` seconds a task (the run's --task-time when given)."""

    name = "dsl"

    def __init__(self, max_depth: int = 3, time_limit: float = 8.0, sure_time: float = SURE_TIME):
        self.max_depth = max_depth
        self.time_limit = self.task_time_s = time_limit
        self.sure_time = sure_time
        self.trace: list = []  # the last task's (depth, frontier size, states expanded, seconds) per level searched

    def load(self, folder) -> None:
        _warm_up()  # in every worker before its first task: the scheduler's clock for it has not started

    def solve(self, task: Task, deadline: float) -> list[list[Candidate]]:
        """Two attempts' worth of ranked candidates per test input: programs found on the task as given
        and on other views of it, up to depth 2 (depth 1 when the task's own search stops at 2: the
        quick pass), mapped back to each test input: the one-pixel-per-cell task when its grids are
        layouts of one-colour cells (supergrid.py; small, so searched first), and the colour-normalised
        task when its pairs use their colours differently (normalise.py; searched once the task's own
        depth 2 is done, before its depth 3, in a share of the time kept for it)."""
        _warm_up()  # where `load` did not run (a direct call): before this task's own time limit starts
        deadline = min(deadline, time.monotonic() + self.time_limit)
        self.trace = []
        found: list = []
        # depth 2 only: the other views to depth 1 (arc1/train, 2 workers: 227 s -> 162 s, 282 -> 280 solved)
        view_depth = 2 if self.max_depth > 2 else 1

        def search_view(tag, vtask, back, cost) -> None:
            if time.monotonic() >= deadline:
                return
            vfound, _ = self._search(vtask, min(deadline, time.monotonic() + NORM_SHARE * self.time_limit),
                                     view_depth)
            for c, text, tests in vfound:
                mapped = [back(i, g) for i, g in enumerate(tests)]
                if all(m is not None for m in mapped):
                    found.append((c + cost, f"{tag}:{text}", mapped))

        cells = supergrid(task)
        if cells is not None:
            search_view("cells", cells, lambda i, g: grow(task.test[i].input, g), CELLS_COST)
        norm = normalise(task)
        ran = False

        def normalised() -> None:
            nonlocal ran
            if norm is not None and not ran:
                ran = True
                search_view("norm", norm[0], lambda i, g: norm[1][i][g].astype(np.int8), NORM_COST)

        reserve = NORM_SHARE * self.time_limit if norm is not None else 0.0
        raw, layers = self._search(task, deadline, self.max_depth, before_deep=normalised, reserve=reserve)
        normalised()  # the task's own search ended before a third level
        return rank(found + raw, len(task.test), self._sizes(task, layers))

    def _search(self, task: Task, deadline: float, max_depth: int, before_deep=None,
                reserve: float = 0.0) -> tuple[list, list]:
        """(cost, program text, test images) of every program and fitted rule that explains the train
        pairs, and the shape-matching states kept for stacking. `before_deep()` runs before level 3;
        levels 1 and 2 stop `reserve` seconds before the deadline, leaving it that time."""
        n = len(task.train)
        targets = [np.ascontiguousarray(ex.output, dtype=np.int8) for ex in task.train]
        tkeys = [grid_key(t) for t in targets]
        tshapes = [t.shape for t in targets]
        tiny_outputs = all(s == (1, 1) for s in tshapes)
        transforms = library(task)
        shape_of = [getattr(fn, "shape_of", None) for _, fn in transforms]  # promised result shapes
        changes = [getattr(fn, "changes", None) for _, fn in transforms]  # the one colour each may change
        inputs = tuple(ex.input for ex in task.train) + tuple(ex.input for ex in task.test)

        found: list[tuple[float, str, list[Grid]]] = []  # (cost, program, test images)
        layers: list[tuple[tuple, tuple]] = []  # (program, images) whose train images have the output shapes

        def evaluate(prog: tuple, imgs: tuple, depth: int) -> None:
            if any(im.shape != s for im, s in zip(imgs[:n], tshapes, strict=False)):
                return
            if len(layers) < MAX_LAYERS:
                layers.append((prog, imgs))
            if all(grid_key(im) == k for im, k in zip(imgs[:n], tkeys, strict=False)):
                found.append((depth, _text(prog), list(imgs[n:])))
                return
            lut = learn_colour_map(list(imgs[:n]), targets)
            if lut is not None:
                tests = [apply_lut(g, lut) for g in imgs[n:]]
                pairs = ",".join(f"{a}{b}" for a, b in enumerate(lut) if b >= 0 and a != b)
                # a test image with colours the map never saw is a guess: it ranks after fitted rules and
                # programs on the colour-normalised task; a map onto 1x1 outputs only memorises the pairs
                unseen = any((lut[np.unique(g)] < 0).any() for g in imgs[n:])
                found.append((depth + 0.5 + UNSEEN_COST * unseen + tiny_outputs, _text(prog) + f" | map {pairs}", tests))

        evaluate((), inputs, 0)
        learned = self._learned(task)
        stacked = None
        seen = {_key(inputs)}
        frontier = [((), inputs)]
        shallow_deadline = deadline - reserve
        sure = False
        for depth in range(1, max_depth + 1):
            if any(c < 2.5 for c, _, _ in learned) and not sure:
                # a rule fitted on the train pairs stands for a program of depth 2: the search stops
                # there, after a short look for simpler programs
                sure, max_depth = True, min(max_depth, 2)
                deadline = min(deadline, time.monotonic() + self.sure_time)
            if depth > max_depth:
                break
            if depth == 3 and before_deep is not None:
                before_deep()
            level_deadline = min(deadline, shallow_deadline) if depth < 3 else deadline
            last = depth == max_depth
            pruned = depth > 1  # deeper levels keep only programs whose train images have (or are a
            # scaling step from) the output shapes
            if pruned:
                # deeper levels rarely finish in time: expand the states nearest the outputs first
                frontier.sort(key=lambda st: _distance(st[1][:n], targets))
            nxt = []
            expanded = 0
            t_level = time.monotonic()
            firsts: dict = {}  # (transform, first image) -> _first_image's answer: states share first images
            for prog, imgs in frontier:
                if time.monotonic() > level_deadline:
                    break
                expanded += 1
                if pruned:
                    k0 = grid_key(imgs[0])
                    fits: dict = {}  # shape promise -> whether its shapes can still become the outputs'
                    outside: dict = {}  # colour k -> whether the cells not of colour k can still become them
                    if len(firsts) > FIRSTS_KEPT:
                        firsts.clear()
                for ti, (tname, fn) in enumerate(transforms):
                    first = None
                    if pruned:
                        promise = shape_of[ti]
                        if promise is not None:
                            ok = fits.get(promise)
                            if ok is None:
                                ok = fits[promise] = _promise_fits(promise, imgs[:n], tshapes, last)
                            if not ok:
                                continue
                        k = changes[ti]
                        if last and k is not None:
                            ok = outside.get(k)
                            if ok is None:
                                ok = outside[k] = _outside_fits(imgs[0], targets[0], k)
                            if not ok:
                                continue
                        first = firsts.get((ti, k0), _MISSING)
                        if first is _MISSING:
                            first = firsts[ti, k0] = _first_image(fn, imgs[0], targets[0], last)
                        if first is None:
                            continue
                    out = _apply(fn, imgs, tshapes if pruned else None, n, first, last)
                    if out is None:
                        continue
                    key = _key(out)
                    if key in seen:
                        continue
                    seen.add(key)
                    p2 = prog + (tname,)
                    evaluate(p2, out, depth)
                    if not last:
                        nxt.append((p2, out))
            self.trace.append((depth, len(frontier), expanded, round(time.monotonic() - t_level, 3)))
            frontier = nxt
            if depth == 1 and not found and any(im.shape != s for im, s in zip(inputs, tshapes, strict=False)):
                learned += self._learned_after(layers, targets, n, deadline)
            # programs of this depth explain the task: deeper ones would only be less simple
            if found or time.monotonic() > level_deadline:
                break
            if depth >= 2 and stacked is None:
                stacked = self._stack(task, layers, targets)
                if stacked is not None:  # a stack of simple pieces beats waiting for a deep program
                    break

        if stacked is None and len({_test_key(f[2]) for f in found}) < 2:
            stacked = self._stack(task, layers, targets)
        if stacked is not None:
            found.append(stacked)
        return found + learned, layers

    @staticmethod
    def _learned(task) -> list[tuple[float, str, list[Grid]]]:
        """Rules fitted on the train pairs (dsl.fitting.RULES): after the simple programs, before deep
        ones; rules that leave unseen test cells unchanged come last. On grids whose common background is
        not 0, the rules also see the grids with that colour and 0 swapped."""
        ins = [ex.input for ex in task.train]
        outs = [ex.output for ex in task.train]
        tests = [ex.input for ex in task.test]
        views = [("", lambda g: g)]
        bg = {majority(g) for g in ins + tests}
        if len(bg) == 1 and bg != {0}:
            b = bg.pop()
            swap = np.arange(10)
            swap[0], swap[b] = b, 0
            views.append((f"bg{b}:", lambda g, s=swap: s[g].astype(np.int8)))
        out = []
        for tag, view in views:
            vi, vo, vt = [view(g) for g in ins], [view(g) for g in outs], [view(g) for g in tests]
            for rule in RULES:
                for i, (_, text, preds) in enumerate(_safe_fit(rule.fit, vi, vo, vt)[:4]):
                    cost = 30.0 if text.endswith("~") else 2.2 + 0.01 * i + 0.001 * rule.order + 0.4 * (not rule.sure)
                    out.append((cost, tag + text, [view(g) for g in preds]))
        return out

    @staticmethod
    def _learned_after(layers, targets, n: int, deadline: float) -> list[tuple[float, str, list[Grid]]]:
        """Cell rules fitted on the images of one-step programs that give every train output its shape,
        when the inputs do not have it (e.g. a rule after scaling or cropping)."""
        out = []
        for prog, imgs in [lay for lay in layers if len(lay[0]) == 1][:30]:
            if time.monotonic() > deadline:
                break
            for fit in (fit_cell_copy, fit_cell_features):
                for _, text, preds in _safe_fit(fit, list(imgs[:n]), targets, list(imgs[n:]), 2)[:2]:
                    out.append((2.6, f"{prog[0]} > {text}", preds))  # found too late to end the search
        return out

    @staticmethod
    def _sizes(task, layers):
        n = len(task.train)
        return predict_sizes(task, [(_text(p), [im.shape for im in imgs[n:]]) for p, imgs in layers])

    def _stack(self, task, layers, targets):
        return stack(layers, targets, len(task.train), self._sizes(task, layers))


@functools.cache
def _warm_up() -> None:
    """Search a tiny made-up task to depth 1, once per process, so that numba compiles (or loads from
    its disk cache) the kernels of the transforms and fitted rules before any task's time limit runs:
    on a fresh install that takes seconds, enough for a 5-second search to end with nothing tried."""
    g = np.array([[0, 1, 2, 0], [3, 0, 0, 1], [0, 2, 0, 0], [1, 0, 3, 2]], np.int8)
    task = Task("warm-up", train=(Example(g, g[::-1].copy()), Example(g.T.copy(), g.T[::-1].copy())),
                test=(Example(g[:, ::-1].copy()),))
    DslSearch(max_depth=1)._search(task, time.monotonic() + 60, 1)
    # kernels the search above may not reach
    from arcforge.kernels import block_colours, can_become, can_become_outside, greedy_windows

    can_become(g, g)  # only levels below the first call them
    can_become_outside(g, g, 0)
    block_colours(g, np.array([0, 1], np.int64), np.array([0, 1], np.int64))  # grids with separator lines
    greedy_windows(g == 0, 2)  # grids with free windows


def _safe_fit(fit, *args) -> list:
    """A fitted rule's results; a rule that breaks on an odd task gives none rather than sinking the
    task's programs."""
    try:
        return fit(*args)
    except (ValueError, IndexError, KeyError):
        return []


def _distance(imgs, targets) -> float:
    """How far train images are from the outputs: wrong cells when shapes agree, else a large number."""
    if any(g.shape != t.shape for g, t in zip(imgs, targets, strict=False)):
        return 1e9
    return float(sum(int((g != t).sum()) for g, t in zip(imgs, targets, strict=False)))


def _text(prog: tuple) -> str:
    return " > ".join(prog) if prog else "identity"


def _key(imgs) -> int:
    return hash(b"|".join(grid_key(g) for g in imgs))


def _test_key(imgs) -> bytes:
    return b"|".join(grid_key(g) for g in imgs)


def _fits_shape(shape, target, exact: bool) -> bool:
    """A shape equal to the target's, or (not `exact`) one whose sides divide the target's or are
    multiples of them: a scaling or tiling step can still reach the target."""
    if shape == target:
        return True
    if exact:
        return False
    return all(a % b == 0 or b % a == 0 for a, b in zip(shape, target, strict=False))


def _promise_fits(promise, imgs, tshapes, last: bool) -> bool:
    """Whether the shapes a transform promises for these train images (registry.py's `shape`) can
    still become the outputs' (`_fits_shape`); a transform that promises none gives no result."""
    for im, s in zip(imgs, tshapes, strict=False):
        sh = promise(*im.shape)
        if sh is None or not valid_shape(*sh) or not _fits_shape(sh, s, last):
            return False
    return True


def _first_image(fn, g: Grid, target: Grid, last: bool) -> Grid | None:
    """fn's image of the first train input if it has the output's shape (before the last level: a
    shape one scaling step away is enough) and, at the last level, can become the output as is,
    through a cell-wise colour map, or as a stacking layer; else None. Most programs fail here
    after one image."""
    try:
        r = fn(g)
    except (ValueError, IndexError):
        return None
    if r is None or not _fits_shape(r.shape, target.shape, last):
        return None
    if not last:
        return r
    from arcforge.kernels import can_become  # compiled: called for most programs of the last level

    return r if can_become(np.ascontiguousarray(r, dtype=np.int8), target) else None


def _outside_fits(g: Grid, target: Grid, k: int) -> bool:
    """Whether a transform that changes only cells of colour k can turn g into an image that can become
    the output (`_first_image`'s last-level test): g's other cells must allow it as they are."""
    from arcforge.kernels import can_become_outside  # compiled: once per state and colour

    return g.shape == target.shape and can_become_outside(np.ascontiguousarray(g, dtype=np.int8), target, k)


def _apply(fn, imgs: tuple, need_shapes, n: int, first: Grid | None = None, exact: bool = True) -> tuple | None:
    """fn on every image (`first`: its image of imgs[0], already made); None if it fails on any. With
    `need_shapes`, give up as soon as a train image misses its output's shape (or, not `exact`, is
    more than a scaling step from it): such a program can never fit."""
    out = []
    for i, g in enumerate(imgs):
        if i == 0 and first is not None:
            r = first
        else:
            try:
                r = fn(g)
            except (ValueError, IndexError):
                return None
            if r is None:
                return None
        if not valid_shape(*r.shape):
            return None
        if need_shapes is not None and i < n and not _fits_shape(r.shape, need_shapes[i], exact):
            return None
        out.append(r if r.dtype == np.int8 else r.astype(np.int8))
    return tuple(out)


def stack(layers, targets: list[Grid], n: int, sizes) -> tuple[float, str, list[Grid]] | None:
    """Explain the outputs by a base image with layers painted over it: every layer agrees with the
    train outputs wherever it is non-zero, and together they cover every cell the base gets wrong."""
    if not layers:
        return None
    target = np.concatenate([t.ravel() for t in targets])
    usable = [(p, im) for p, im in layers
              if sizes is None or [g.shape for g in im[n:]] == [tuple(s) for s in sizes]]
    if not usable:
        return None
    flat = np.stack([np.concatenate([g.ravel() for g in im[:n]]) for _, im in usable])
    opaque = flat != 0
    consistent = ~(opaque & (flat != target)).any(axis=1)
    cover = opaque[consistent]
    lay_idx = np.flatnonzero(consistent)
    if cover.size == 0:
        return None
    reach = cover.any(axis=0)
    wrong = flat != target
    n_wrong = wrong.sum(axis=1)
    for b in np.argsort(n_wrong, kind="stable")[:50]:
        need = wrong[b]
        if (need & ~reach).any():
            continue
        chosen = []
        while need.any() and len(chosen) < 4:
            gain = (cover & need).sum(axis=1)
            best = int(np.argmax(gain))
            if gain[best] == 0:
                break
            chosen.append(int(lay_idx[best]))
            need = need & ~cover[best]
        if need.any():
            continue
        base_prog, base_imgs = usable[b]
        tests = [g.copy() for g in base_imgs[n:]]
        for li in reversed(chosen):  # the layer covering most ends on top
            for i, g in enumerate(usable[li][1][n:]):
                tests[i] = np.where(g != 0, g, tests[i]).astype(np.int8)
        text = " + ".join([_text(base_prog)] + [_text(usable[li][0]) for li in chosen])
        return 10 + len(chosen), f"stack[{text}]", tests
    return None


def rank(found, n_test: int, sizes) -> list[list[Candidate]]:
    """Candidates per test input, simplest program first, one per distinct grid; programs whose test
    image misses the predicted size go last."""

    def cost(f):
        c, text, tests = f
        off = sizes is not None and any(g.shape != tuple(s) for g, s in zip(tests, sizes, strict=False))
        return (c + (100 if off else 0), text.count(">") + text.count("+"), len(text))

    per_test: list[list[Candidate]] = [[] for _ in range(n_test)]
    seen: list[set] = [set() for _ in range(n_test)]
    for f in sorted(found, key=cost):
        c = cost(f)[0]
        for i, g in enumerate(f[2]):
            k = grid_key(g)
            if k not in seen[i]:
                seen[i].add(k)
                per_test[i].append(Candidate(g, -float(c), f"dsl:{f[1]}"))
    return per_test
