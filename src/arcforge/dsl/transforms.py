"""A small, exact search over whole-grid transforms: symmetries, crop, scaling, tiling, colour maps.

Programs are compositions of up to `max_depth` transforms, optionally followed by a colour
mapping learned from the train pairs. Only programs that reproduce every train output are kept;
shorter ones rank first.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from arcforge.augment import SYMMETRY_NAMES, symmetry
from arcforge.dsl.primitives import tile, upscale
from arcforge.grid import Grid, grid_key
from arcforge.solver import Candidate, Solver
from arcforge.task import Task

Transform = tuple[str, Callable[[Grid], Grid | None]]


def background(grid: Grid) -> int:
    values, counts = np.unique(grid, return_counts=True)
    return int(values[np.argmax(counts)])


def crop_to_content(grid: Grid, bg: int | None = None) -> Grid | None:
    bg = background(grid) if bg is None else bg
    rows = np.flatnonzero((grid != bg).any(axis=1))
    cols = np.flatnonzero((grid != bg).any(axis=0))
    if rows.size == 0:
        return None
    return grid[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def downscale(grid: Grid, fy: int, fx: int) -> Grid | None:
    h, w = grid.shape
    if h % fy or w % fx:
        return None
    blocks = grid.reshape(h // fy, fy, w // fx, fx)
    first = blocks[:, :1, :, :1]
    if not (blocks == first).all():  # only exact block scaling, no guessing
        return None
    return np.ascontiguousarray(first[:, 0, :, 0])


def learn_colour_map(pairs: list[tuple[Grid, Grid]]) -> dict[int, int] | None:
    """The cell-wise colour function that turns every prediction into its target, if one exists."""
    mapping: dict[int, int] = {}
    for pred, out in pairs:
        if pred.shape != out.shape:
            return None
        for a, b in set(zip(pred.ravel().tolist(), out.ravel().tolist(), strict=False)):
            if mapping.setdefault(a, b) != b:
                return None
    return mapping


def apply_colour_map(grid: Grid, mapping: dict[int, int]) -> Grid:
    lut = np.arange(10, dtype=np.int8)
    for a, b in mapping.items():
        lut[a] = b
    return lut[grid]


def _ratios(task: Task) -> set[tuple[int, int]]:
    """Integer shape ratios between train inputs and outputs (both ways), the scale factors to try."""
    found = set()
    for ex in task.train:
        (hi, wi), (ho, wo) = ex.input.shape, ex.output.shape
        for a, b, c, d in ((ho, hi, wo, wi), (hi, ho, wi, wo)):
            if a % b == 0 and c % d == 0 and (a // b, c // d) != (1, 1):
                found.add((a // b, c // d))
    return found


def transforms_for(task: Task) -> list[Transform]:
    ts: list[Transform] = [(name, (lambda g, s=s: symmetry(g, s))) for s, name in enumerate(SYMMETRY_NAMES) if s]
    ts.append(("crop", crop_to_content))
    ts.append(("crop0", lambda g: crop_to_content(g, 0)))
    for fy, fx in sorted(_ratios(task)):
        ts.append((f"upscale{fy}x{fx}", lambda g, fy=fy, fx=fx: upscale(g, fy, fx)))
        ts.append((f"downscale{fy}x{fx}", lambda g, fy=fy, fx=fx: downscale(g, fy, fx)))
        ts.append((f"tile{fy}x{fx}", lambda g, fy=fy, fx=fx: tile(g, fy, fx)))
    return ts


class TransformSearch(Solver):
    """Breadth-first search over compositions of whole-grid transforms, exact on train pairs."""

    name = "transforms"

    def __init__(self, max_depth: int = 2):
        self.max_depth = max_depth

    def solve(self, task: Task, deadline: float) -> list[list[Candidate]]:
        transforms = transforms_for(task)
        inputs = [ex.input for ex in task.train] + [ex.input for ex in task.test]
        n_train = len(task.train)
        targets = [ex.output for ex in task.train]
        # each state: program name -> images of all inputs (train then test); identical states merge
        frontier = [("input", inputs)]
        seen = {tuple(grid_key(g) for g in inputs)}
        found: list[tuple[int, str, list[Grid]]] = []
        for depth in range(self.max_depth + 1):
            for prog, images in frontier:
                fits, mapping = self._fit(images[:n_train], targets)
                if fits:
                    tests = images[n_train:]
                    if mapping is not None:
                        tests = [apply_colour_map(g, mapping) for g in tests]
                    name = prog if mapping is None else prog + "|colourmap"
                    found.append((depth + (mapping is not None), name, tests))
            if depth == self.max_depth or time.monotonic() > deadline:
                break
            nxt = []
            for prog, images in frontier:
                for tname, fn in transforms:
                    if time.monotonic() > deadline:
                        break
                    out = []
                    for g in images:
                        r = fn(g)
                        if r is None or r.size == 0:
                            break
                        out.append(r)
                    else:
                        key = tuple(grid_key(g) for g in out)
                        if key not in seen:
                            seen.add(key)
                            nxt.append((tname if prog == "input" else f"{prog}>{tname}", out))
            frontier = nxt
        return self._rank(found, len(task.test))

    @staticmethod
    def _fit(preds: list[Grid], targets: list[Grid]) -> tuple[bool, dict | None]:
        """(True, None) when the images equal the targets, (True, map) when a colour map
        makes them equal, (False, None) otherwise."""
        if all(p.shape == t.shape and np.array_equal(p, t) for p, t in zip(preds, targets, strict=False)):
            return True, None
        mapping = learn_colour_map(list(zip(preds, targets, strict=False)))
        if mapping and any(a != b for a, b in mapping.items()):
            return True, mapping
        return False, None

    @staticmethod
    def _rank(found, n_test: int) -> list[list[Candidate]]:
        found.sort(key=lambda f: (f[0], f[1]))
        per_test: list[list[Candidate]] = [[] for _ in range(n_test)]
        seen: list[set] = [set() for _ in range(n_test)]
        for cost, name, tests in found:
            for i, g in enumerate(tests):
                k = grid_key(g)
                if k not in seen[i]:
                    seen[i].add(k)
                    per_test[i].append(Candidate(g, -float(cost), f"transforms:{name}"))
        return per_test

