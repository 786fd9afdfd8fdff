"""`arcforge report`: an HTML page with a summary, every task, candidate and truth of a run, checked
in a real headless browser; `arcforge show --png`."""

import json
import os
import re
import shutil
import struct
import subprocess
import zlib

import numpy as np
import pytest

from arcforge.datasets import load_tasks
from arcforge.pipeline import SolveConfig, run_solve
from arcforge.report import PALETTE


def test_report_shows_tasks_candidates_and_truth(cli, tmp_path):
    tasks = load_tasks("arc1/train", tasks=["6150a2bd", "00d62c1b"])
    run_solve(tasks, SolveConfig("arc1/train", ["transforms"], workers=1), tmp_path, progress=False)
    r = cli("report", tmp_path)
    assert r.returncode == 0, r.stderr
    html = (tmp_path / "report.html").read_text()
    assert "<span id='n-tasks'>2</span> tasks: <span id='n-solved' class='ok'>1</span> fully solved" in html
    assert "<section id='6150a2bd' class='task solved' data-solvers='transforms'>" in html
    assert "<section id='00d62c1b' class='task unsolved'" in html
    t = tasks[0]
    truth = "|".join("".join(map(str, row)) for row in t.test[0].output.tolist())
    # the truth and the first attempt (which is right) are both drawn; a train pair stays together
    assert html.count(f'data-g="{truth}"') == 2
    assert re.search(r"<figure class='right'><canvas[^>]*></canvas><figcaption>attempt 1 ✓<br>transforms:rot180", html)
    assert html.count("<span class='pair'>") == len(tasks[0].train) + len(tasks[1].train)

    r = cli("report", tmp_path, "--unsolved", "--out", tmp_path / "u.html")
    assert r.returncode == 0 and "(1 tasks)" in r.stdout
    page = (tmp_path / "u.html").read_text()
    assert "<section id='6150a2bd'" not in page and "<span id='n-tasks'>2</span>" in page  # the summary is whole


def test_a_wrong_attempt_shows_the_cells_that_differ(tmp_path):
    from arcforge.report import grid_figure

    truth = np.array([[1, 2], [3, 4]], np.int8)
    fig = grid_figure(np.array([[1, 2], [3, 5]], np.int8), "attempt 1 ✗", truth=truth, cls="wrong")
    assert 'data-d="00|01"' in fig and "class='wrong'" in fig


def _browser():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("ARCFORGE_REQUIRE_BROWSER"):  # .ci/run installs it: there a missing browser fails
            pytest.fail("chromium is not installed")
        pytest.skip("chromium is not installed (.ci/run installs it)")
    return found


@pytest.mark.slow
def test_the_page_in_a_real_browser_counts_what_results_hold(cli, tmp_path):
    browser = _browser()
    tasks = load_tasks("arc1/train", limit=8)
    run_solve(tasks, SolveConfig("arc1/train", ["transforms"], workers=1), tmp_path, progress=False)
    assert cli("report", tmp_path).returncode == 0
    records = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}"]
    url = (tmp_path / "report.html").as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout

    def shown(id_):
        return int(re.search(rf'id="{id_}"[^>]*>(\d+)<', dom).group(1))
    solved = sum(all(r["correct"]) for r in records)
    assert shown("n-tasks") == len(records) and shown("n-solved") == solved
    assert shown("n-unsolved") == len(records) - solved
    assert shown("shown") == len(records)  # the filter's script ran: every task shown
    assert shown("painted") == dom.count("<canvas") > 0  # and every grid was painted
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, "--window-size=1280,1600", f"--screenshot={shot}", url], capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _read_png(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    raw = zlib.decompress(data[data.index(b"IDAT") + 4:data.index(b"IEND") - 8])
    rows = np.frombuffer(raw, np.uint8).reshape(h, 1 + 3 * w)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(h, w, 3)


def test_show_draws_a_task_into_a_png(cli, tmp_path):
    task = load_tasks("arc1/train", tasks=["6150a2bd"])[0]
    r = cli("show", "6150a2bd", "--dataset", "arc1/train", "--png", tmp_path / "t.png")
    assert r.returncode == 0, r.stderr
    img = _read_png(tmp_path / "t.png")
    # the first train input's top-left cell, 2 cells in from the margin, in the ARC palette
    assert tuple(img[24 + 5, 24 + 5]) == PALETTE[int(task.train[0].input[0, 0])]
    assert img.shape[0] > 12 * sum(max(ex.input.shape[0], ex.output.shape[0]) for ex in [*task.train, *task.test])


def test_report_needs_a_run_folder(cli, tmp_path):
    r = cli("report", tmp_path)
    assert r.returncode == 2 and "not a solve run folder" in r.stderr
