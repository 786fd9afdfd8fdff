"""Program search over the DSL: breadth-first compositions of named transforms, states merged by hash,
exact and colour-mapped fits, greedy stacking of partial results, ranked by simplicity.

A state is the tuple of images one program makes from every input (train then test). Only programs
whose train images equal the train outputs (after a learned colour map, or a stack of layers that
each agree with the outputs) become candidates; test outputs are never looked at.
"""

from __future__ import annotations

import time

import numpy as np

from arcforge.dsl.library import library
from arcforge.dsl.size import predict_sizes
from arcforge.grid import Grid, grid_key
from arcforge.solver import Candidate
from arcforge.task import Task

MAX_LAYERS = 3000  # shape-matching states kept for stacking


def learn_colour_map(preds: list[Grid], targets: list[Grid]) -> np.ndarray | None:
    """A lookup table (10 entries, -1 = unseen) turning every prediction into its target cell by cell,
    if one exists and is not the identity."""
    lut = np.full(10, -1, np.int16)
    for p, t in zip(preds, targets, strict=False):
        codes = np.unique(p.astype(np.int16) * 10 + t)
        src, dst = codes // 10, codes % 10
        if len(np.unique(src)) != len(src):
            return None
        prev = lut[src]
        if ((prev >= 0) & (prev != dst)).any():
            return None
        lut[src] = dst
    seen = lut >= 0
    if (lut[seen] == np.flatnonzero(seen)).all():
        return None
    return lut


def apply_lut(g: Grid, lut: np.ndarray) -> Grid:
    """Apply a learned map; colours the train pairs never showed keep their colour."""
    full = np.where(lut >= 0, lut, np.arange(10))
    return full[g].astype(np.int8)


class DslSearch:
    """Breadth-first search over compositions of `library(task)` transforms, up to `max_depth`."""

    name = "dsl"

    def __init__(self, max_depth: int = 3, time_limit: float = 8.0):
        self.max_depth = max_depth
        self.time_limit = time_limit

    def solve(self, task: Task, deadline: float) -> list[list[Candidate]]:
        start = time.monotonic()
        deadline = min(deadline, start + self.time_limit)
        n = len(task.train)
        targets = [ex.output for ex in task.train]
        tkeys = [grid_key(t) for t in targets]
        tshapes = [t.shape for t in targets]
        transforms = library(task)
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
                found.append((depth + 0.5, _text(prog) + f" | map {pairs}", tests))

        evaluate((), inputs, 0)
        stacked = None
        seen = {_key(inputs)}
        frontier = [((), inputs)]
        for depth in range(1, self.max_depth + 1):
            last = depth == self.max_depth
            if last and depth > 1:
                # the last level rarely finishes in time: expand the states nearest the outputs first
                frontier.sort(key=lambda st: _distance(st[1][:n], targets))
            nxt = []
            for prog, imgs in frontier:
                if time.monotonic() > deadline:
                    break
                for tname, fn in transforms:
                    if last and depth > 1 and not _maps_first(fn, imgs[0], targets[0]):
                        continue
                    out = _apply(fn, imgs, tshapes if last else None, n)
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
            frontier = nxt
            # programs of this depth explain the task: deeper ones would only be less simple
            if found or time.monotonic() > deadline:
                break
            if depth >= 2 and stacked is None:
                stacked = self._stack(task, layers, targets)
                if stacked is not None:  # a stack of simple pieces beats waiting for a deep program
                    break

        if stacked is None and len({_test_key(f[2]) for f in found}) < 2:
            stacked = self._stack(task, layers, targets)
        if stacked is not None:
            found.append(stacked)
        return rank(found, len(task.test), self._sizes(task, layers))

    @staticmethod
    def _sizes(task, layers):
        n = len(task.train)
        return predict_sizes(task, [(_text(p), [im.shape for im in imgs[n:]]) for p, imgs in layers])

    def _stack(self, task, layers, targets):
        return stack(layers, targets, len(task.train), self._sizes(task, layers))


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


def _maps_first(fn, g: Grid, target: Grid) -> bool:
    """Cheap test at the last level: can fn's image of the first train input become its output,
    as is, through a cell-wise colour map, or as a stacking layer? Most programs fail here after one image."""
    try:
        r = fn(g)
    except (ValueError, IndexError):
        return False
    if r is None or r.shape != target.shape:
        return False
    if ((r == 0) | (r == target)).all():  # may be a layer for stacking
        return True
    codes = np.unique(r.astype(np.int16) * 10 + target)
    return len(np.unique(codes // 10)) == len(codes)


def _apply(fn, imgs: tuple, need_shapes, n: int) -> tuple | None:
    """fn on every image; None if it fails on any. With `need_shapes` (last depth), give up as soon as
    a train image misses its output's shape: such a program can never fit."""
    out = []
    for i, g in enumerate(imgs):
        try:
            r = fn(g)
        except (ValueError, IndexError):
            return None
        if r is None:
            return None
        h, w = r.shape
        if not (0 < h <= 30 and 0 < w <= 30):
            return None
        if need_shapes is not None and i < n and r.shape != need_shapes[i]:
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
