"""Pictures of tasks and grids: coloured terminal output (HTML/PNG reports come later)."""

from __future__ import annotations

import numpy as np

from arcforge.grid import Grid
from arcforge.task import Task

# the usual ARC palette as 24-bit colours
PALETTE = [
    (0, 0, 0), (30, 147, 255), (249, 60, 49), (79, 204, 48), (255, 220, 0),
    (153, 153, 153), (229, 58, 163), (255, 133, 27), (135, 216, 241), (146, 18, 49),
]


def grid_lines(grid: Grid, colour: bool = True) -> list[str]:
    """One string per row; each cell two characters wide, coloured with ANSI escapes."""
    lines = []
    for row in grid:
        if colour:
            cells = "".join(f"\x1b[48;2;{r};{g};{b}m{v:>2}" for v in row.tolist() for r, g, b in [PALETTE[v]])
            lines.append(cells + "\x1b[0m")
        else:
            lines.append("".join(f"{v:>2}" for v in row.tolist()))
    return lines


def side_by_side(blocks: list[tuple[str, list[str], int]], gap: int = 4) -> list[str]:
    """Join (title, lines, visible width) blocks horizontally."""
    height = max(len(lines) for _, lines, _ in blocks) + 1
    out = []
    for r in range(height):
        parts = []
        for title, lines, width in blocks:
            if r == 0:
                text, vis = title[:width], len(title[:width])
            elif r - 1 < len(lines):
                text, vis = lines[r - 1], width
            else:
                text, vis = "", 0
            parts.append(text + " " * (width - vis))
        out.append((" " * gap).join(parts).rstrip())
    return out


def task_text(task: Task, colour: bool = True) -> str:
    out = [f"task {task.id}: {len(task.train)} train, {len(task.test)} test"]
    for part, examples in (("train", task.train), ("test", task.test)):
        for i, ex in enumerate(examples):
            blocks = []
            for name, g in (("input", ex.input), ("output", ex.output)):
                if g is None:
                    continue
                h, w = g.shape
                blocks.append((f"{part}[{i}].{name} {h}x{w}", grid_lines(np.asarray(g), colour), max(2 * w, 18)))
            out.append("")
            out.extend(side_by_side(blocks))
    return "\n".join(out)
