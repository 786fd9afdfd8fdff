"""Pictures of tasks and grids: coloured terminal text (rich) and an HTML page of a run."""

from __future__ import annotations

import numpy as np

from arcforge.grid import Grid
from arcforge.task import Task

# the usual ARC palette as 24-bit colours
PALETTE = [
    (0, 0, 0), (30, 147, 255), (249, 60, 49), (79, 204, 48), (255, 220, 0),
    (153, 153, 153), (229, 58, 163), (255, 133, 27), (135, 216, 241), (146, 18, 49),
]


def grid_text(grid: Grid, colour: bool = True):
    """A grid as rich Text: each cell two characters wide, on its ARC colour."""
    from rich.text import Text

    text = Text()
    for i, row in enumerate(np.asarray(grid).tolist()):
        if i:
            text.append("\n")
        for v in row:
            text.append(f"{v:>2}", style="on rgb({},{},{})".format(*PALETTE[v]) if colour else "")
    return text


def task_text(task: Task, colour: bool = True) -> str:
    """The task's pairs, input beside output, one row of the table per pair, as terminal text."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=400, force_terminal=colour, no_color=not colour, color_system="truecolor" if colour else None,
                      highlight=False)
    with console.capture() as cap:
        console.print(f"task {task.id}: {len(task.train)} train, {len(task.test)} test")
        for part, examples in (("train", task.train), ("test", task.test)):
            for i, ex in enumerate(examples):
                table = Table(box=None, pad_edge=False, padding=(0, 4, 0, 0), show_edge=False)
                grids = [(name, g) for name, g in (("input", ex.input), ("output", ex.output)) if g is not None]
                for name, g in grids:
                    table.add_column(f"{part}[{i}].{name} {g.shape[0]}x{g.shape[1]}", no_wrap=True,
                                     header_style="bold" if colour else "")
                table.add_row(*(grid_text(g, colour) for _, g in grids))
                console.print()
                console.print(table)
    return "\n".join(line.rstrip() for line in cap.get().splitlines())


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
    known = [r for r in records.values() if "correct" in r]
    solved = sum(all(r["correct"]) for r in known)
    parts.append(f"<p>{len(records)} tasks finished, " + (f"{solved} fully solved</p>" if known else
                                                          "no solutions known</p>"))
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
