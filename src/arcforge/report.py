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


def _hex(rgb) -> str:
    return "#%02x%02x%02x" % rgb


def grid_figure(grid: Grid, title: str = "") -> str:
    """A grid as a <canvas> the page's script paints (rows of digits in data-g keep the page small)."""
    g = np.asarray(grid)
    rows = "|".join("".join(map(str, r)) for r in g.tolist())
    return f'<figure><canvas data-g="{rows}"></canvas><figcaption>{title} {g.shape[0]}x{g.shape[1]}</figcaption></figure>'


_SCRIPT = """<script>const P=%s;
for(const c of document.querySelectorAll('canvas[data-g]')){const rows=c.dataset.g.split('|'),s=12;
c.width=rows[0].length*s;c.height=rows.length*s;const x=c.getContext('2d');
rows.forEach((r,i)=>[...r].forEach((v,j)=>{x.fillStyle=P[+v];x.fillRect(j*s,i*s,s-1,s-1)}));}</script>"""


_CSS = """body{font-family:sans-serif;background:#fafafa} section{border-top:1px solid #ccc;padding:8px}
canvas{background:#888} figure{display:inline-block;margin:4px 10px;vertical-align:top} figcaption{font-size:11px;color:#333}
.ok{color:#080} .bad{color:#b00} .row{margin:4px 0} h2{font-size:15px;margin:4px 0}"""


def run_report_html(tasks: list[Task], records: dict[str, dict], title: str, max_candidates: int = 4) -> str:
    """One page for a solve run: per task its train pairs, test inputs, candidates (with source and
    score; the two attempts first) and the truth when known."""
    parts = [f"<!doctype html><meta charset='utf-8'><title>{title}</title><style>{_CSS}</style><h1>{title}</h1>"]
    solved = sum(all(r.get("correct") or [False]) for r in records.values())
    parts.append(f"<p>{len(records)} tasks finished, {solved} fully solved</p>")
    for task in tasks:
        rec = records.get(task.id)
        if rec is None:
            continue
        correct = rec.get("correct")
        mark = "" if correct is None else (" <span class='ok'>solved</span>" if all(correct)
                                           else " <span class='bad'>not solved</span>")
        parts.append(f"<section id='{task.id}'><h2>{task.id}{mark} — {rec['seconds'].get('total', 0):.1f}s</h2>")
        parts.append("<div class='row'>" + "".join(
            grid_figure(ex.input, title=f"train[{i}] in") + grid_figure(ex.output, title="out")
            for i, ex in enumerate(task.train)) + "</div>")
        for i, ex in enumerate(task.test):
            row = [grid_figure(ex.input, title=f"test[{i}] in")]
            if ex.output is not None:
                row.append(grid_figure(ex.output, title="truth"))
            cands = rec["candidates"][i] if i < len(rec["candidates"]) else []
            for k, c in enumerate(cands[:max_candidates]):
                ok = ex.output is not None and np.array_equal(np.array(c["grid"]), ex.output)
                label = f"{'attempt ' + str(k + 1) if k < 2 else 'cand ' + str(k + 1)}{' ✓' if ok else ''}"
                row.append(grid_figure(np.array(c["grid"]), title=f"{label}<br>{c['source']} ({c['score']:.3g})"))
            if not cands:
                row.append("<figure><figcaption>no candidate</figcaption></figure>")
            parts.append("<div class='row'>" + "".join(row) + "</div>")
        parts.append("</section>")
    parts.append(_SCRIPT % [_hex(c) for c in PALETTE])
    return "".join(parts)
