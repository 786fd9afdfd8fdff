"""Invertible views of a task: a symmetry of the square x a colour permutation x an example order.

The one augmentation framework: training, test-time training, decoding and scoring all use it.
`view.apply(task)` gives the task as seen through the view; `view.invert(grid)` takes a grid
predicted under the view back to the original frame.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from arcforge.task import Example, Task

SYMMETRY_NAMES = ("id", "rot90", "rot180", "rot270", "transpose", "flip_ud", "anti_transpose", "flip_lr")
IDENTITY_COLOURS = tuple(range(10))


def symmetry(grid: np.ndarray, s: int) -> np.ndarray:
    """The s-th of the 8 symmetries of the square (0 = identity, 1-3 rotations, 4-7 reflections)."""
    if s >= 4:
        grid = grid.T
    return np.ascontiguousarray(np.rot90(grid, s % 4))


def inverse_symmetry(grid: np.ndarray, s: int) -> np.ndarray:
    grid = np.rot90(grid, -(s % 4))
    if s >= 4:
        grid = grid.T
    return np.ascontiguousarray(grid)


@dataclass(frozen=True)
class View:
    symmetry: int = 0  # 0..7, see SYMMETRY_NAMES
    colours: tuple[int, ...] = IDENTITY_COLOURS  # colours[c] is what colour c becomes
    order: tuple[int, ...] | None = None  # train examples in this order; None keeps them

    def __post_init__(self):
        if not 0 <= self.symmetry < 8:
            raise ValueError(f"symmetry must be 0-7, got {self.symmetry}")
        if sorted(self.colours) != list(range(10)):
            raise ValueError(f"colours must be a permutation of 0-9, got {self.colours}")

    @property
    def is_identity(self) -> bool:
        return self.symmetry == 0 and self.colours == IDENTITY_COLOURS and self.order is None

    def apply_grid(self, grid: np.ndarray) -> np.ndarray:
        lut = np.asarray(self.colours, dtype=np.int8)
        return symmetry(lut[grid], self.symmetry)

    def invert(self, grid: np.ndarray) -> np.ndarray:
        inv = np.argsort(np.asarray(self.colours)).astype(np.int8)
        return inv[inverse_symmetry(grid, self.symmetry)]

    def apply(self, task: Task) -> Task:
        def ex(e: Example) -> Example:
            out = None if e.output is None else self.apply_grid(e.output)
            return Example(self.apply_grid(e.input), out)

        train = [ex(e) for e in task.train]
        if self.order is not None:
            if sorted(self.order) != list(range(len(train))):
                raise ValueError(f"order {self.order} does not fit {len(train)} train examples")
            train = [train[i] for i in self.order]
        return replace(task, train=tuple(train), test=tuple(ex(e) for e in task.test))

    def describe(self) -> str:
        parts = [SYMMETRY_NAMES[self.symmetry]]
        if self.colours != IDENTITY_COLOURS:
            parts.append("c" + "".join(map(str, self.colours)))
        if self.order is not None:
            parts.append("o" + ",".join(map(str, self.order)))
        return "/".join(parts)


def color_permutation(rng: np.random.Generator, keep_zero: bool = True) -> tuple[int, ...]:
    if keep_zero:
        return (0, *(int(c) for c in rng.permutation(np.arange(1, 10))))
    return tuple(int(c) for c in rng.permutation(10))


def random_view(
    rng: np.random.Generator,
    n_train: int,
    symmetries: bool = True,
    colours: bool = True,
    keep_zero: bool = True,
    shuffle: bool = True,
) -> View:
    return View(
        symmetry=int(rng.integers(8)) if symmetries else 0,
        colours=color_permutation(rng, keep_zero) if colours else IDENTITY_COLOURS,
        order=tuple(int(i) for i in rng.permutation(n_train)) if shuffle else None,
    )


def view_set(n: int, n_train: int, seed: int = 0, colours: bool = True, keep_zero: bool = True,
             shuffle: bool = True) -> list[View]:
    """n views for inference: identity first, then the other 7 symmetries, each with a random
    colour permutation and example order (beyond 8, symmetries repeat with new colours)."""
    rng = np.random.default_rng(seed)
    views = [View()]
    for i in range(1, n):
        views.append(View(
            symmetry=i % 8,
            colours=color_permutation(rng, keep_zero) if colours else IDENTITY_COLOURS,
            order=tuple(int(j) for j in rng.permutation(n_train)) if shuffle else None,
        ))
    return views
