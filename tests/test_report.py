"""`arcforge report`: an HTML page with every task, candidate and truth of a run."""

import re

from arcforge.datasets import load_tasks
from arcforge.pipeline import SolveConfig, run_solve


def test_report_shows_tasks_candidates_and_truth(cli, tmp_path):
    tasks = load_tasks("arc1/train", tasks=["6150a2bd", "00d62c1b"])
    run_solve(tasks, SolveConfig("arc1/train", ["transforms"], workers=1), tmp_path, progress=False)
    r = cli("report", tmp_path)
    assert r.returncode == 0, r.stderr
    html = (tmp_path / "report.html").read_text()
    assert "2 tasks finished, 1 fully solved" in html
    assert "<section id='6150a2bd'><h2>6150a2bd <span class='ok'>solved</span>" in html
    assert "<section id='00d62c1b'><h2>00d62c1b <span class='bad'>not solved</span>" in html
    t = tasks[0]
    truth = "|".join("".join(map(str, row)) for row in t.test[0].output.tolist())
    # the truth and the first attempt (which is right) are both drawn
    assert html.count(f'data-g="{truth}"') == 2
    assert re.search(r"attempt 1 ✓<br>transforms:rot180", html)

    r = cli("report", tmp_path, "--unsolved", "--out", tmp_path / "u.html")
    assert r.returncode == 0 and "(1 tasks)" in r.stdout
    assert "6150a2bd" not in (tmp_path / "u.html").read_text()


def test_report_needs_a_run_folder(cli, tmp_path):
    r = cli("report", tmp_path)
    assert r.returncode == 2 and "not a solve run folder" in r.stderr
