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
