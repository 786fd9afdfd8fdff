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


def task_image(task: Task, cell: int = 12, gap: int = 2) -> np.ndarray:
    """The task drawn as an RGB image (h, w, 3) uint8: one band per pair, input beside output (a test
    pair's output only when known), each cell `cell` pixels with a one-pixel seam, on light grey."""
    pad = 2 * cell
    bands = []
    for ex in (*task.train, *task.test):
        grids = [g for g in (ex.input, ex.output) if g is not None]
        h = max(g.shape[0] for g in grids) * cell
        w = sum(g.shape[1] * cell for g in grids) + pad * (len(grids) - 1)
        band = np.full((h, w, 3), 235, np.uint8)
        x = 0
        for g in grids:
            gh, gw = g.shape
            img = np.asarray(PALETTE, np.uint8)[g].repeat(cell, 0).repeat(cell, 1)
            img[cell - 1::cell] = 128  # seams between cells
            img[:, cell - 1::cell] = 128
            band[:gh * cell, x:x + gw * cell] = img
            x += gw * cell + pad
        bands.append(band)
    width = max(b.shape[1] for b in bands) + 2 * gap * cell
    out = [np.full((gap * cell, width, 3), 235, np.uint8)]
    for b in bands:
        row = np.full((b.shape[0], width, 3), 235, np.uint8)
        row[:, gap * cell:gap * cell + b.shape[1]] = b
        out += [row, np.full((gap * cell, width, 3), 235, np.uint8)]
    return np.concatenate(out)


def write_png(path, image: np.ndarray) -> None:
    """An RGB uint8 image as a PNG file (zlib only, no imaging library)."""
    import struct
    import zlib

    from arcforge.submission import atomic_write_bytes

    h, w, _ = image.shape
    raw = b"".join(b"\x00" + image[y].tobytes() for y in range(h))  # filter 0 on every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    atomic_write_bytes(path, b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                       + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def _hex(rgb) -> str:
    return "#%02x%02x%02x" % rgb


def grid_figure(grid: Grid, title: str = "", truth: Grid | None = None, cls: str = "") -> str:
    """A grid as a <canvas> the page's script paints (rows of digits in data-g keep the page small);
    with `truth` of the same shape, the cells that differ from it are outlined (data-d)."""
    g = np.asarray(grid)
    rows = "|".join("".join(map(str, r)) for r in g.tolist())
    diff = ""
    if truth is not None and np.asarray(truth).shape == g.shape:
        d = (g != np.asarray(truth)).astype(int)
        diff = ' data-d="' + "|".join("".join(map(str, r)) for r in d.tolist()) + '"'
    c = f" class='{cls}'" if cls else ""
    return (f'<figure{c}><canvas data-g="{rows}"{diff}></canvas>'
            f'<figcaption>{title} {g.shape[0]}x{g.shape[1]}</figcaption></figure>')


# what a candidate's score means, by its source (the part before ":")
SCORE_MEANING = {
    "dsl": "minus the program's cost (steps; fitted rules about 2.2, colour maps and guesses more): higher is simpler",
    "transforms": "minus the number of transforms composed",
    "llm": "poe: summed log-probability under all views (0 is certain); votes: views that wrote it; dfs: its "
           "log-probability under the view that found it",
    "tasknet": "poe: summed log-probability under all views (0 is certain); votes: views that wrote it",
}

_SCRIPT = """<script>const P=%s,S=12;let painted=0;
for(const c of document.querySelectorAll('canvas[data-g]')){const rows=c.dataset.g.split('|');
c.width=rows[0].length*S;c.height=rows.length*S;const x=c.getContext('2d');
rows.forEach((r,i)=>[...r].forEach((v,j)=>{x.fillStyle=P[+v];x.fillRect(j*S,i*S,S-1,S-1)}));
if(c.dataset.d){x.strokeStyle='#fff';x.lineWidth=2;c.dataset.d.split('|').forEach((r,i)=>[...r].forEach((v,j)=>{
if(v==='1'){x.strokeRect(j*S+1,i*S+1,S-3,S-3)}}))}painted++}
document.getElementById('painted').textContent=painted;
function show(f){for(const s of document.querySelectorAll('section.task')){
const on=f==='all'||s.classList.contains(f)||(' '+s.dataset.solvers+' ').includes(' '+f+' ');
s.style.display=on?'':'none'}document.getElementById('shown').textContent=
[...document.querySelectorAll('section.task')].filter(s=>s.style.display!=='none').length}
document.querySelectorAll('button[data-f]').forEach(b=>b.onclick=()=>show(b.dataset.f));show('all');</script>"""


_CSS = """body{font-family:sans-serif;background:#fafafa;margin:12px} section{border-top:1px solid #ccc;padding:8px}
canvas{background:#888} figure{display:inline-block;margin:2px 6px;vertical-align:top} figcaption{font-size:11px;color:#333}
.ok{color:#080} .bad{color:#b00} .row{margin:4px 0} h2{font-size:15px;margin:4px 0}
.pair{display:inline-block;white-space:nowrap;border:1px solid #ddd;border-radius:4px;margin:2px;padding:2px;background:#fff}
.arrow{display:inline-block;vertical-align:middle;font-size:20px;color:#777}
figure.wrong canvas{outline:3px solid #b00} figure.right canvas{outline:3px solid #080}
table{border-collapse:collapse;margin:6px 0} td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px;text-align:left}
.index a{display:inline-block;margin:1px 3px;font-family:monospace;font-size:12px;text-decoration:none}
.index a.solved{color:#080} .index a.unsolved{color:#b00} .index a.unknown{color:#333}
button{margin:2px}"""


def _table(head: list[str], rows: list[list]) -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    return "<table><tr>" + th + "</tr>" + "".join(
        "<tr>" + "".join(f"<td>{v}</td>" for v in r) + "</tr>" for r in rows) + "</table>"


def _solver(source: str) -> str:
    return source.split(":", 1)[0]


def task_status(rec: dict) -> str:
    """"solved" (every test input right), "unsolved", or "unknown" (no solutions) for a task's record."""
    correct = rec.get("correct")
    return "unknown" if correct is None else ("solved" if all(correct) else "unsolved")


def _summary(tasks: list[Task], records: dict[str, dict]) -> str:
    """Score, counts, time per solver and stage, which solver found each right attempt, and what
    selection removed (and whether it was right, when the truth is known)."""
    recs = [records[t.id] for t in tasks]
    status = [task_status(r) for r in recs]
    known = [r for r in recs if "correct" in r]
    solved, unsolved = status.count("solved"), status.count("unsolved")
    parts = []
    if known:
        score = sum(sum(r["correct"]) / len(r["correct"]) for r in known) / len(known)
        parts.append(f"<p>pass@2 <b>{100 * score:.2f}%</b> over <span id='n-tasks'>{len(recs)}</span> tasks: "
                     f"<span id='n-solved' class='ok'>{solved}</span> fully solved, "
                     f"<span id='n-unsolved' class='bad'>{unsolved}</span> not.</p>")
    else:
        parts.append(f"<p><span id='n-tasks'>{len(recs)}</span> tasks, no solutions known "
                     f"(<span id='n-solved'>0</span> solved, <span id='n-unsolved'>0</span> not).</p>")
    seconds: dict[str, float] = {}
    for r in recs:
        for k, v in r["seconds"].items():
            seconds[k] = seconds.get(k, 0.0) + v
        for solver, st in r.get("stages", {}).items():
            for k, v in (st.items() if isinstance(st, dict) else []):
                seconds[f"{solver}:{k}"] = seconds.get(f"{solver}:{k}", 0.0) + v
    parts.append("<h3>Seconds</h3>" + _table(["solver or stage", "seconds (all tasks)"],
                                              [[k if k != "total" else "total (all solvers)", f"{v:.1f}"]
                                               for k, v in sorted(seconds.items())]))
    found: dict[str, int] = {}
    for t, r in zip(tasks, recs, strict=True):
        for i, ex in enumerate(t.test):
            if ex.output is None or i >= len(r["candidates"]):
                continue
            for c in r["candidates"][i][:2]:
                if np.array_equal(np.array(c["grid"]), ex.output):
                    found[_solver(c["source"])] = found.get(_solver(c["source"]), 0) + 1
    if known:
        parts.append("<h3>Right attempts by solver</h3>" + _table(
            ["solver", "test inputs answered right"], [[k, v] for k, v in sorted(found.items())] or [["-", 0]]))
    removed: dict[str, int] = {}
    for r in recs:
        for e in r.get("filtered", []):
            if "rule" in e and not e.get("restored"):
                removed[e["rule"]] = removed.get(e["rule"], 0) + 1
    parts.append("<h3>Removed by selection</h3>" + (_table(["rule", "candidates removed"], sorted(removed.items()))
                                                    if removed else "<p>nothing</p>"))
    parts.append("<h3>What the scores mean</h3>" + _table(["source", "score"], sorted(SCORE_MEANING.items())))
    solvers = sorted({_solver(c["source"]) for r in recs for cs in r["candidates"] for c in cs})
    buttons = ["all", "solved", "unsolved", *solvers]
    parts.append("<p>Show: " + "".join(f"<button data-f='{b}'>{b}</button>" for b in buttons) +
                 " — <span id='shown'></span> tasks shown, <span id='painted'>0</span> grids drawn</p>")
    parts.append("<div class='index'>" + "".join(f"<a href='#{t.id}' class='{s}'>{t.id}</a>"
                                                 for t, s in zip(tasks, status, strict=True)) + "</div>")
    return "".join(parts)


def run_report_html(tasks: list[Task], records: dict[str, dict], title: str, max_candidates: int = 4,
                    unsolved_only: bool = False) -> str:
    """One page for a solve run: a summary and an index, then per task its train pairs (input beside
    output), and per test input the input, both attempts (a wrong one outlined red, the cells that
    differ from the truth outlined white), the truth when known and the next candidates, each with
    its source and score. Buttons filter by solved, unsolved or solver. `unsolved_only`: sections
    only for tasks not fully solved (the summary still covers every task)."""
    tasks = [t for t in tasks if t.id in records]
    parts = [f"<!doctype html><meta charset='utf-8'><title>{title}</title><style>{_CSS}</style><h1>{title}</h1>",
             _summary(tasks, records)]
    for task in tasks:
        rec = records[task.id]
        status = task_status(rec)
        if unsolved_only and status == "solved":
            continue
        mark = {"solved": " <span class='ok'>solved</span>", "unsolved": " <span class='bad'>not solved</span>"}.get(
            status, "")
        solvers = sorted({_solver(c["source"]) for cs in rec["candidates"] for c in cs})
        parts.append(f"<section id='{task.id}' class='task {status}' data-solvers='{' '.join(solvers)}'>"
                     f"<h2>{task.id}{mark} — {rec['seconds'].get('total', 0):.1f}s</h2>")
        parts.append("<div class='row'>" + "".join(
            "<span class='pair'>" + grid_figure(ex.input, title=f"train[{i}] in") + "<span class='arrow'>→</span>"
            + grid_figure(ex.output, title="out") + "</span>" for i, ex in enumerate(task.train)) + "</div>")
        for i, ex in enumerate(task.test):
            row = [grid_figure(ex.input, title=f"test[{i}] in"), "<span class='arrow'>→</span>"]
            cands = rec["candidates"][i] if i < len(rec["candidates"]) else []
            for k, c in enumerate(cands[:max_candidates]):
                g = np.array(c["grid"])
                ok = None if ex.output is None else bool(np.array_equal(g, ex.output))
                label = f"{'attempt ' + str(k + 1) if k < 2 else 'candidate ' + str(k + 1)}" + (
                    "" if ok is None else (" ✓" if ok else " ✗"))
                cls = "" if ok is None or k >= 2 else ("right" if ok else "wrong")
                row.append(grid_figure(g, f"{label}<br>{c['source']} ({c['score']:.3g})",
                                       truth=ex.output if ok is False else None, cls=cls))
            if not cands:
                row.append("<figure><figcaption>no candidate</figcaption></figure>")
            if ex.output is not None:
                row.append(grid_figure(ex.output, title="truth"))
            parts.append("<div class='row'>" + "".join(row) + "</div>")
        parts.append("</section>")
    parts.append(_SCRIPT % [_hex(c) for c in PALETTE])
    return "".join(parts)
