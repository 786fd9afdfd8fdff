"""`solve --ray`: a run cut into shards, each solved by a Ray task, combined into one run that
answers as a plain run does; a killed driver resumes without solving a finished task again."""

import json

import pytest

from arcforge.datasets import load_tasks
from arcforge.pipeline import RESULTS, SolveConfig, run_solve

ray = pytest.importorskip("ray")  # the `dev` extra installs it: make test runs this


def _attempts(run):
    return {json.loads(x)["task_id"]: json.loads(x)["attempts"] for x in (run / RESULTS).read_text().splitlines()}


@pytest.mark.slow
def test_shards_on_ray_answer_as_one_run_and_resume(tmp_path):
    from arcforge.cluster import solve_on_ray

    tasks = load_tasks("arc1/train", limit=7)
    cfg = SolveConfig("arc1/train", ["transforms"], workers=1)
    plain = run_solve(tasks, cfg, tmp_path / "plain", progress=False)
    summary = solve_on_ray(tasks, cfg, tmp_path / "ray", "local", shards=2, dataset="arc1/train")
    assert summary["tasks"] == summary["finished"] == 7 and summary["score"] == plain["score"]
    assert _attempts(tmp_path / "ray") == _attempts(tmp_path / "plain")
    sub = json.loads((tmp_path / "ray" / "submission.json").read_text())
    assert set(sub) == {t.id for t in tasks}

    # the driver killed with shard 1 half done: shard 0 is not sent again, shard 1 keeps its first task
    s0, s1 = tmp_path / "ray" / "shards" / "0", tmp_path / "ray" / "shards" / "1"
    (s1 / "done").unlink()
    first = (s1 / RESULTS).read_text().splitlines()[0]
    (s1 / RESULTS).write_text(first + "\n")
    before = (s0 / RESULTS).stat().st_mtime_ns
    summary = solve_on_ray(tasks, cfg, tmp_path / "ray", "local", shards=2, dataset="arc1/train")
    assert summary["finished"] == 7 and (s0 / RESULTS).stat().st_mtime_ns == before
    assert (s1 / RESULTS).read_text().splitlines()[0] == first  # kept, not solved again
    assert _attempts(tmp_path / "ray") == _attempts(tmp_path / "plain")


def test_ray_and_shard_do_not_mix(cli, tmp_path):
    r = cli("solve", "arc1/train", "--limit", "2", "--ray", "local", "--shard", "0/2", "--out", tmp_path / "r")
    assert r.returncode == 2 and "--ray cuts the run into shards itself" in r.stderr


@pytest.mark.slow
def test_a_killed_driver_loses_no_finished_task(tmp_path):
    """The DSL and a tiny CPU model through Ray. Each task's line reaches the driver's disk as its shard
    finishes it, not when the shard ends: a driver killed mid-run keeps those tasks, and the run
    started again does not solve them again."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from arcforge.llm.model import create_model, save_model
    from conftest import ROOT

    model = save_model(create_model("tiny", seed=0), tmp_path / "model")
    ids = "6150a2bd,0d3d703e,a85d4709,25ff71a9,3c9b0459,d511f180"
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "arcforge", "solve", "arc1/train", "--tasks", ids, "--solver", "dsl,llm",
           "--dsl-first", "False", "--model", str(model), "--device", "cpu", "--views", "1", "--ttt", "per-task",
           "--ttt-steps", "6", "--ttt-rank", "4", "--workers", "1", "--ray", "local", "--ray-shards", "2",
           "--quiet", "--out", str(run)]
    driver = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    shard_results = [run / "shards" / str(i) / RESULTS for i in range(2)]
    deadline = time.monotonic() + 300
    while not any(f.is_file() and f.read_text() for f in shard_results):
        assert driver.poll() is None and time.monotonic() < deadline, "no task finished before the driver ended"
        time.sleep(0.05)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    kept = {f: f.read_text().splitlines() for f in shard_results if f.is_file()}
    assert 1 <= sum(map(len, kept.values())) < 6  # killed mid-run, with some tasks already on disk
    assert not any((run / "shards" / str(i) / "done").exists() for i in range(2))  # streamed: no shard had ended
    assert not (run / "submission.json").exists()
    with open(next(iter(kept)), "a") as f:  # as if killed in the middle of appending a line
        f.write('{"task_id": "d511f1')

    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[0])["finished"] == 6
    assert set(json.loads((run / "submission.json").read_text())) == set(ids.split(","))
    for f, before in kept.items():
        after = f.read_text().splitlines()
        assert after[:len(before)] == before  # the kept lines stand as they were: those tasks were not solved again
        assert len({json.loads(x)["task_id"] for x in after}) == len(after)
