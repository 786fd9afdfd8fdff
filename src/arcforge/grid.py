"""Grids: 2-D numpy arrays of ints 0-9, 1 to 30 cells on each side; the one validator and the one
labeller of connected components."""

from __future__ import annotations

import numpy as np

from arcforge.errors import ArcError

MAX_SIDE = 30
Grid = np.ndarray  # dtype int8, shape (h, w)


def parse_grid(value, where: str) -> Grid:
    """Validate a JSON value (list of rows) and return it as an int8 array.

    `where` names the place for errors, e.g. "task 'abc' test[0].input".
    """
    if not isinstance(value, list):
        raise ArcError(f"{where} must be a list of rows, got {type(value).__name__}")
    if not value:
        raise ArcError(f"{where} is empty (no rows)")
    if len(value) > MAX_SIDE:
        raise ArcError(f"{where} has {len(value)} rows, at most {MAX_SIDE} allowed")
    width = None
    for r, row in enumerate(value):
        if not isinstance(row, list):
            raise ArcError(f"{where} row {r} must be a list of cells, got {type(row).__name__}")
        if not row:
            raise ArcError(f"{where} row {r} is empty")
        if width is None:
            width = len(row)
            if width > MAX_SIDE:
                raise ArcError(f"{where} row 0 has {width} cells, at most {MAX_SIDE} allowed")
        elif len(row) != width:
            raise ArcError(f"{where} row {r} has {len(row)} cells, row 0 has {width}")
        for c, cell in enumerate(row):
            # bool is an int subclass in Python; a grid of true/false is not an ARC grid
            if not isinstance(cell, int) or isinstance(cell, bool):
                raise ArcError(f"{where} row {r} col {c} is {cell!r}, not an integer")
            if not 0 <= cell <= 9:
                raise ArcError(f"{where} row {r} col {c} is {cell}, outside 0-9")
    return np.array(value, dtype=np.int8)


def valid_shape(h: int, w: int) -> bool:
    return 1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE


def check_grid(grid: Grid, where: str = "grid") -> Grid:
    """Validate an array made by code (a solver's output) the same way a parsed grid is."""
    if not isinstance(grid, np.ndarray) or grid.ndim != 2:
        raise ArcError(f"{where} must be a 2-D array")
    h, w = grid.shape
    if not valid_shape(h, w):
        raise ArcError(f"{where} has shape {h}x{w}, each side must be 1-{MAX_SIDE}")
    if grid.size and (grid.min() < 0 or grid.max() > 9):
        raise ArcError(f"{where} has values outside 0-9")
    return grid.astype(np.int8, copy=False)


def is_valid(grid) -> bool:
    try:
        check_grid(grid)
        return True
    except ArcError:
        return False


def to_list(grid: Grid) -> list[list[int]]:
    return [[int(v) for v in row] for row in grid]


def grid_key(grid: Grid) -> bytes:
    """A hashable identity for a grid: shape plus cells."""
    return bytes(grid.shape) + np.ascontiguousarray(grid, dtype=np.int8).tobytes()


def pad1(a: np.ndarray, value=0) -> np.ndarray:
    """`a` inside a one-cell border of `value`: np.pad(a, 1, constant_values=value) without its
    overhead (the DSL pads small grids hundreds of thousands of times a run)."""
    out = np.full((a.shape[0] + 2, a.shape[1] + 2), value, a.dtype)
    out[1:-1, 1:-1] = a
    return out


def label(g: Grid, diag: bool, by_colour: bool, bg: int = 0) -> tuple[np.ndarray, int]:
    """Connected-component labels of the cells that are not `bg` (0 = background, 1..n, numbered in
    reading order of each component's first cell), 4- or 8-neighbour (`diag`), of one colour each or
    of any (`by_colour`). Returns (labels, n). Compiled (arcforge.kernels)."""
    from arcforge.kernels import label_components

    lab, n = label_components(np.ascontiguousarray(g), bool(diag), bool(by_colour), int(bg))
    return lab, int(n)
