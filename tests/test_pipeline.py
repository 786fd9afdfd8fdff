"""`solve` end to end: results.jsonl, submission, score, budget, and resume after a kill."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from arcforge.datasets import load_tasks
from arcforge.dsl.transforms import TransformSearch
from arcforge.errors import ArcError
from arcforge.pipeline import SolveConfig, run_solve
from arcforge.submission import read_submission, score_attempts
from conftest import ROOT


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_solve_writes_results_submission_and_score(tmp_path):
    # 6150a2bd is a rotation by 180 degrees, 9172f3a0 an upscale x3: the transform search solves both
    tasks = load_tasks("arc1/train", tasks=["6150a2bd", "9172f3a0", "00d62c1b"])
    summary = run_solve(tasks, SolveConfig("arc1/train", ["transforms"], workers=1), tmp_path, progress=False)
    assert summary["finished"] == 3 and summary["score"] == pytest.approx(2 / 3)
    recs = {r["task_id"]: r for r in lines(tmp_path / "results.jsonl")}
    assert recs["6150a2bd"]["correct"] == [True]
    assert recs["6150a2bd"]["candidates"][0][0]["source"] == "transforms:rot180"
    assert set(recs["6150a2bd"]["seconds"]) == {"transforms", "total"}
    sub = read_submission(tmp_path / "submission.json")
    assert score_attempts(sub, tasks).total == pytest.approx(2 / 3)
    assert json.loads((tmp_path / "score.json").read_text())["per_task"]["00d62c1b"] == 0.0


def test_solver_never_reads_test_outputs():
    solver = TransformSearch()
    for task in load_tasks("arc1/train", limit=40):
        with_truth = solver.solve(task, time.monotonic() + 30)
        hidden = solver.solve(task.without_test_outputs(), time.monotonic() + 30)
        assert [[(c.grid.tobytes(), c.grid.shape, c.source) for c in cs] for cs in with_truth] == \
               [[(c.grid.tobytes(), c.grid.shape, c.source) for c in cs] for cs in hidden]


def test_budget_stops_early_and_resume_finishes(tmp_path):
    tasks = load_tasks("arc1/train")
    first = run_solve(tasks, SolveConfig("arc1/train", ["transforms"], budget_s=0.3, workers=1), tmp_path, progress=False)
    assert 0 < first["finished"] < len(tasks)
    assert len(read_submission(tmp_path / "submission.json")) == len(tasks)  # every task present
    second = run_solve(tasks, SolveConfig("arc1/train", ["transforms"], workers=2), tmp_path, progress=False)
    assert second["finished"] == len(tasks)
    ids = [r["task_id"] for r in lines(tmp_path / "results.jsonl")]
    assert sorted(ids) == sorted(t.id for t in tasks)  # nothing lost, nothing done twice


def test_run_folder_refuses_another_dataset(tmp_path):
    run_solve(load_tasks("arc1/train", limit=2), SolveConfig("arc1/train", ["transforms"], workers=1), tmp_path, progress=False)
    with pytest.raises(ArcError, match="holds a run of arc1/train"):
        run_solve(load_tasks("arc1/eval", limit=2), SolveConfig("arc1/eval", ["transforms"], workers=1), tmp_path, progress=False)


def workers_of(run) -> list[str]:
    """Processes still running for the run folder `run` (workers share their parent's command line)."""
    r = subprocess.run(["pgrep", "-f", f"--out {run}( |$)"], capture_output=True, text=True)
    return r.stdout.split()


def test_resume_after_kill_matches_uninterrupted_run(tmp_path):
    """A run of two worker processes killed outright (SIGKILL, no clean-up): its workers exit by
    themselves, and the resumed run loses and repeats nothing."""
    cmd = [sys.executable, "-m", "arcforge", "solve", "arc1/train", "--solver", "transforms", "--workers", "2",
           "--quiet"]
    ref = tmp_path / "ref"
    subprocess.run([*cmd, "--out", str(ref)], check=True, cwd=ROOT, capture_output=True)

    run = tmp_path / "run"
    proc = subprocess.Popen([*cmd, "--out", str(run)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = run / "results.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if results.exists() and results.read_text().count("\n") >= 40:
            break
        time.sleep(0.002)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    end = time.monotonic() + 10
    while workers_of(run) and time.monotonic() < end:
        time.sleep(0.1)
    assert not workers_of(run), "workers outlived their killed scheduler"
    done_before = len(lines(results))
    assert 40 <= done_before < 400
    # a crash mid-write leaves a torn last line: resume must drop it, not choke on it
    with open(results, "a") as f:
        f.write('{"task_id": "torn", "attem')

    r = subprocess.run([*cmd, "--out", str(run)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got, want = lines(results), lines(ref / "results.jsonl")
    assert len(got) == 400 and sorted(x["task_id"] for x in got) == sorted(x["task_id"] for x in want)
    by_id = {x["task_id"]: x for x in want}
    for x in got:
        assert x["attempts"] == by_id[x["task_id"]]["attempts"]
    assert json.loads((run / "submission.json").read_text()) == json.loads((ref / "submission.json").read_text())
    assert json.loads(r.stdout.splitlines()[0])["score"] == json.loads((ref / "score.json").read_text())["score"]


def test_show_draws_a_task(cli):
    r = cli("show", "6150a2bd", "--dataset", "arc1/train", "--colour")
    assert r.returncode == 0
    assert "task 6150a2bd: 2 train, 1 test" in r.stdout
    assert "\x1b[48;2;" in r.stdout  # coloured cells
    plain = cli("show", "6150a2bd", "--no-colour").stdout
    task = load_tasks("arc1/train", tasks=["6150a2bd"])[0]
    first_row = "".join(f"{v:>2}" for v in task.train[0].input[0])
    assert first_row in plain and "\x1b[" not in plain
    assert np.array_equal(task.test[0].output, task.test[0].input[::-1, ::-1])
    r = cli("show", "nosuchid", "--dataset", "arc1/train")
    assert r.returncode == 2 and "no task 'nosuchid' in arc1/train" in r.stderr


def test_solve_with_the_llm_solver_beside_the_search(cli, tmp_path):
    """The ensemble path end to end: a tiny saved model loaded by folder, per-task TTT, DFS under views."""
    from arcforge.llm.model import create_model, save_model

    model_dir = save_model(create_model("tiny", seed=0), tmp_path / "model")
    run = tmp_path / "run"
    r = cli("solve", "arc1/train", "--tasks", "6150a2bd,0d3d703e", "--solver", "transforms,llm", "--model", model_dir,
            "--ttt", "per-task", "--ttt-steps", "2", "--ttt-rank", "4", "--views", "2", "--threshold", "0.05",
            "--workers", "2", "--out", run, "--quiet", "--device", "cpu", "--dsl-first", "False", "--task-time", "3s")
    assert r.returncode == 0, r.stderr
    recs = {x["task_id"]: x for x in lines(run / "results.jsonl")}
    assert set(recs) == {"6150a2bd", "0d3d703e"}
    for rec in recs.values():
        assert {"transforms", "llm", "total"} <= set(rec["seconds"]) and "errors" not in rec
        assert rec["correct"] == [True]  # the search's exact programs come first
    r = cli("solve", "arc1/train", "--tasks", "6150a2bd", "--solver", "llm", "--model", tmp_path / "nothing",
            "--out", tmp_path / "r2", "--quiet")
    assert r.returncode == 2 and "cannot load model" in r.stderr
    assert not (tmp_path / "r2").exists()


def test_solve_defaults_to_the_dsl_and_the_shipped_model(cli, tmp_path):
    """No --solver, no --model: the DSL search and the model shipped in the package, with the CPU
    profile (no TTT, 2 views, the LLM only where the DSL explains nothing unless told otherwise)."""
    from arcforge.llm.solver import SHIPPED_MODEL

    assert (SHIPPED_MODEL / "config.json").is_file() and (SHIPPED_MODEL / "MODEL_CARD.md").is_file()
    run = tmp_path / "run"
    # 0d3d703e: a colour map the DSL explains, so by default the LLM skips it
    r = cli("solve", "arc1/train", "--tasks", "0d3d703e", "--out", run, "--quiet", "--device", "cpu", "--workers", "2")
    assert r.returncode == 0, r.stderr
    (rec,) = lines(run / "results.jsonl")
    assert rec["correct"] == [True] and rec["skipped"] == ["llm"] and "dsl" in rec["seconds"]
    assert json.loads((run / "run.json").read_text())["solvers"] == ["dsl", "llm"]
    r = cli("solve", "arc1/train", "--tasks", "0d3d703e", "--out", tmp_path / "r2", "--quiet", "--device", "cpu",
            "--workers", "2", "--dsl-first", "False")
    assert r.returncode == 0, r.stderr
    (rec,) = lines(tmp_path / "r2" / "results.jsonl")
    assert {"dsl", "llm"} <= set(rec["seconds"]) and {"llm.ttt", "llm.decode"} <= set(rec["stages"])
    assert rec["correct"] == [True] and "errors" not in rec
    assert rec["stages"]["llm.ttt"] < 0.1  # off on a CPU


def test_cpu_profile_fills_only_unset_options():
    from arcforge.llm.config import LLMOptions, resolve_options

    cpu = resolve_options(LLMOptions(views=4), "cpu")
    assert (cpu.ttt, cpu.views, cpu.max_prompt_tokens, cpu.task_time_s) == ("off", 4, 2048, 6)
    gpu = resolve_options(LLMOptions(ttt="joint"), "cuda")
    assert (gpu.ttt, gpu.views, gpu.threshold, gpu.max_prompt_tokens) == ("joint", 8, 0.1, 8192)


def test_shards_combine_into_the_whole_run(cli, tmp_path):
    ids = "6150a2bd,9172f3a0,00d62c1b,0d3d703e,3c9b0459"
    whole = tmp_path / "whole"
    assert cli("solve", "arc1/train", "--tasks", ids, "--solver", "transforms", "--workers", "1", "--out", whole,
               "--quiet").returncode == 0
    for i in range(2):
        r = cli("solve", "arc1/train", "--tasks", ids, "--solver", "transforms", "--workers", "1", "--shard", f"{i}/2",
                "--out", tmp_path / f"s{i}", "--quiet")
        assert r.returncode == 0, r.stderr
    order = [t.id for t in load_tasks("arc1/train", tasks=ids.split(","))]
    assert [x["task_id"] for x in lines(tmp_path / "s1" / "results.jsonl")] == order[1::2]
    r = cli("combine", tmp_path / "s0", tmp_path / "s1", "--out", tmp_path / "c")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "c" / "submission.json").read_text()) == json.loads(
        (whole / "submission.json").read_text())
    assert json.loads((tmp_path / "c" / "score.json").read_text())["score"] == pytest.approx(
        json.loads((whole / "score.json").read_text())["score"])
    r = cli("score", tmp_path / "c")  # the run's own dataset, the tasks it covered
    assert r.returncode == 0 and "over the 5 tasks in the submission, of 400 in arc1/train" in r.stdout
    assert len(r.stdout.splitlines()) == 6
    r = cli("score", tmp_path / "c", "--all", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["tasks"] == 400
    r = cli("solve", "arc1/train", "--solver", "transforms", "--shard", "2/2", "--out", tmp_path / "bad")
    assert r.returncode == 2 and "--shard" in r.stderr and "takes I/K" in r.stderr and len(r.stderr.splitlines()) == 1
    r = cli("combine", tmp_path / "nothing", "--out", tmp_path / "c2", "--dataset", "arc1/train")
    assert r.returncode == 2 and "not a solve run folder" in r.stderr


def test_combine_puts_the_first_run_first(tmp_path):
    """Two runs of different solvers on the same task: the combined ranking takes the first run's
    candidates first, as one solve with --solver a,b would."""
    from arcforge.pipeline import combine_runs

    tasks = load_tasks("arc1/train", tasks=["6150a2bd"])
    a, b = tmp_path / "a", tmp_path / "b"
    run_solve(tasks, SolveConfig("arc1/train", ["transforms"], workers=1), a, progress=False)
    rec = lines(a / "results.jsonl")[0]
    wrong = tasks[0].test[0].input.tolist()  # unrotated: wrong, yet breaks no selection rule
    rec["candidates"] = [[{"grid": wrong, "score": 9.0, "source": "other"}]]
    b.mkdir()
    (b / "results.jsonl").write_text(json.dumps(rec) + "\n")
    first = combine_runs([a, b], tasks, tmp_path / "ab")
    second = combine_runs([b, a], tasks, tmp_path / "ba")
    assert first["score"] == 1.0 and second["score"] == 1.0  # the truth is still among the two attempts
    top = lambda run: lines(run / "results.jsonl")[0]["candidates"][0][0]["source"]
    assert top(tmp_path / "ab") == "transforms:rot180" and top(tmp_path / "ba") == "other"


def test_ctrl_c_stops_a_multi_worker_run_at_once_and_it_resumes(tmp_path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it, in the middle of a DSL run of
    two workers: exit 130 within seconds, no process left, finished tasks kept; the next run resumes."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "arcforge", "solve", "arc1/eval", "--solver", "dsl", "--workers", "2",
           "--limit", "12", "--task-time", "1s", "--quiet", "--out", str(run)]
    # Ctrl-C's default action, even where the tests were started in the background (`make test &`
    # ignores SIGINT, and a child inherits that)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    results = run / "results.jsonl"
    end = time.monotonic() + 120
    while not (results.exists() and results.read_text().count("\n") >= 2) and time.monotonic() < end:
        time.sleep(0.05)
    at_kill = (proc.poll(), results.read_text().count("\n") if results.exists() else None, round(time.monotonic() - end + 120, 1))
    os.killpg(proc.pid, signal.SIGINT)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and time.monotonic() - t0 < 5, (proc.returncode, err, at_kill)
    assert "interrupted" in err and "Traceback" not in err
    end = time.monotonic() + 5
    while workers_of(run) and time.monotonic() < end:
        time.sleep(0.1)
    assert not workers_of(run)
    kept = [x["task_id"] for x in lines(results)]
    assert 2 <= len(kept) < 12
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    ids = [x["task_id"] for x in lines(results)]
    assert ids[:len(kept)] == kept and sorted(ids) == sorted(t.id for t in load_tasks("arc1/eval", limit=12))


def test_task_time_governs_every_solver_up_and_down():
    """--task-time is each solver's limit per task, above its own default as well as below."""
    from arcforge.pipeline import make_solver, run_solvers
    from arcforge.solver import Solver

    assert make_solver("dsl").time_limit == 8.0
    assert make_solver("dsl", SolveConfig("x", task_time_s=20)).time_limit == 20
    assert make_solver("dsl", SolveConfig("x", task_time_s=2)).time_limit == 2
    assert make_solver("dsl").max_depth == 3
    assert make_solver("dsl", SolveConfig("x", dsl_depth=2, task_time_s=2)).max_depth == 2

    class Clock(Solver):  # records the deadline the scheduler gives it
        name, task_time_s = "clock", 8.0

        def solve(self, task, deadline):
            self.left = deadline - time.monotonic()
            return [[] for _ in task.test]

    task = load_tasks("arc1/train", limit=1)[0]
    for limit, expect in ((None, 8.0), (20.0, 20.0), (0.5, 0.5)):
        s = Clock()
        part = run_solvers(task, [s], limit, None)
        assert s.left == pytest.approx(expect, abs=0.2) and not part.timed_out
    s = Clock()
    run_solvers(task, [s], 20.0, time.monotonic() + 3)  # the run's budget comes first
    assert s.left == pytest.approx(3, abs=0.2)
    # a DSL search on a task it cannot solve uses the limit it is given, not a hidden one
    hard = load_tasks("arc1/eval", tasks=["00576224"])[0]
    t0 = time.monotonic()
    run_solvers(hard, [make_solver("dsl", SolveConfig("x", task_time_s=1.5))], 1.5, None)
    assert 1.0 < time.monotonic() - t0 < 3.0


def test_joint_ttt_prepares_once_and_every_model_worker_loads_it(cli, tmp_path):
    """Two model workers: one runs the run-level preparation (joint TTT on every task's demonstrations)
    and saves it in the run folder, both load it; a resumed run finds it and does not train again."""
    from arcforge.llm.model import create_model, save_model

    model_dir = save_model(create_model("tiny", seed=0), tmp_path / "model")
    run = tmp_path / "run"
    args = ["solve", "arc1/train", "--tasks", "6150a2bd,0d3d703e,3c9b0459", "--solver", "llm", "--model", model_dir,
            "--ttt", "joint", "--ttt-steps", "1", "--ttt-rank", "4", "--views", "1", "--threshold", "0.3",
            "--device", "cpu", "--quiet", "--out", run]
    r = cli(*args, "--model-workers", "2", "--limit", "2")
    assert r.returncode == 0, r.stderr
    adapter = run / "prepared" / "llm" / "model" / "adapter_config.json"
    assert adapter.is_file() and len(lines(run / "results.jsonl")) == 2
    stamp = adapter.stat().st_mtime_ns
    r = cli(*args, "--model-workers", "1")  # resumed with one worker (in this process), which loads it too
    assert r.returncode == 0, r.stderr
    assert adapter.stat().st_mtime_ns == stamp  # found, not trained again
    recs = lines(run / "results.jsonl")
    assert sorted(x["task_id"] for x in recs) == ["0d3d703e", "3c9b0459", "6150a2bd"]
    assert all("errors" not in x and "llm" in x["seconds"] for x in recs), recs


def test_combine_keeps_every_task_and_a_combined_run_is_a_run(cli, tmp_path):
    """A run given 5 tasks but cut short after 3: combining it still submits all 5 (two attempts for
    every test input); the combined run can be reported, scored and combined again like any run."""
    ids = "6150a2bd,9172f3a0,00d62c1b,0d3d703e,3c9b0459"
    run = tmp_path / "run"
    assert cli("solve", "arc1/train", "--tasks", ids, "--solver", "transforms", "--workers", "1", "--out", run,
               "--quiet").returncode == 0
    recs = lines(run / "results.jsonl")
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs[:3]))  # as if cut short
    r = cli("combine", run, "--out", tmp_path / "c")
    assert r.returncode == 0, r.stderr
    sub = json.loads((tmp_path / "c" / "submission.json").read_text())
    tasks = load_tasks("arc1/train", tasks=ids.split(","))
    assert sorted(sub) == sorted(ids.split(","))
    for t in tasks:
        assert len(sub[t.id]) == len(t.test) and all({"attempt_1", "attempt_2"} == set(e) for e in sub[t.id])
    assert cli("report", tmp_path / "c").returncode == 0
    r = cli("combine", tmp_path / "c", run, "--out", tmp_path / "cc")
    assert r.returncode == 0, r.stderr
    assert sorted(json.loads((tmp_path / "cc" / "submission.json").read_text())) == sorted(ids.split(","))


def test_a_worker_stuck_past_its_hard_limit_is_replaced(tmp_path, monkeypatch):
    """A solver that never returns (it ignores its deadline) costs one task, not the run: its worker is
    terminated past the hard limit, the task is recorded with the reason, a fresh worker goes on."""
    import arcforge.pipeline as pipeline
    from arcforge.dsl.transforms import TransformSearch

    real = TransformSearch.solve

    def stuck(self, task, deadline):
        if task.id == "9172f3a0":
            time.sleep(3600)
        return real(self, task, deadline)

    monkeypatch.setattr(TransformSearch, "solve", stuck)  # the forked workers inherit both patches
    monkeypatch.setattr(pipeline, "hard_limit", lambda cfg, info: 2.0)
    tasks = load_tasks("arc1/train", tasks=["6150a2bd", "9172f3a0", "00d62c1b", "0d3d703e", "3c9b0459"])
    t0 = time.monotonic()
    run_solve(tasks, SolveConfig("arc1/train", ["transforms"], workers=2), tmp_path, progress=False)
    assert time.monotonic() - t0 < 20
    recs = {r["task_id"]: r for r in lines(tmp_path / "results.jsonl")}
    assert sorted(recs) == sorted(t.id for t in tasks)
    assert "past its time limit" in recs["9172f3a0"]["errors"]["transforms"] and recs["9172f3a0"]["timed_out"]
    assert recs["6150a2bd"]["correct"] == [True] and recs["3c9b0459"]["correct"] == [True]
    import multiprocessing

    assert not [p for p in multiprocessing.active_children() if p.is_alive()]  # every worker stopped
