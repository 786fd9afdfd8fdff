"""The command line as a user meets it: checked numbers and devices, one-line errors, --version,
`show` drawn in columns, pipes, quiet runs, runs without known solutions."""

import json
import subprocess
import sys

import pytest

from arcforge.datasets import load_tasks
from arcforge.errors import ArcError
from conftest import ROOT


@pytest.mark.parametrize("args,fragment", [
    (["--limit", "-1"], "--limit: must be at least 1, got -1"),
    (["--limit", "0"], "--limit: must be at least 1, got 0"),
    (["--budget", "0"], "--budget: must be longer than 0"),
    (["--budget", "soon"], "--budget: bad duration 'soon'"),
    (["--task-time=-5s"], "--task-time: bad duration"),
    (["--views", "0"], "--views: must be at least 1, got 0"),
    (["--threshold", "2"], "--threshold: must be from 0 to 1, got 2"),
    (["--threshold", "nan"], "--threshold: must be a finite number, got nan"),
    (["--ttt-lr", "inf"], "--ttt-lr: must be a finite number, got inf"),
    (["--workers", "0"], "--workers: must be at least 1, got 0"),
    (["--gpus", "-1"], "--gpus: must be at least 0, got -1"),
    (["--dsl-depth", "4"], "--dsl-depth: must be from 1 to 3, got 4"),
    (["--ttt-steps", "x"], "Error parsing --ttt-steps"),
    (["--tasknet.views", "65"], "--tasknet.views: must be from 1 to 64, got 65"),
    (["--tasknet.optimizer", "sgd"], "invalid choice 'sgd' for argument '--tasknet.optimizer'"),
    (["--shard", "4/4"], "takes I/K with 0 <= I < K"),
    (["--bogus", "3"], "Unrecognized options: --bogus"),
    (["--device", "gpu"], "--device: use cpu, cuda or cuda:N, got 'gpu'"),
])
def test_solve_checks_every_number_in_one_line(cli, tmp_path, args, fragment):
    r = cli("solve", "arc1/train", "--out", tmp_path / "run", *args)
    assert r.returncode == 2 and fragment in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_cuda_without_a_gpu_is_one_line_for_solve_and_train(cli, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    for device in ("cuda", "cuda:1"):
        r = cli("solve", "arc1/train", "--tasks", "6150a2bd", "--solver", "llm", "--device", device,
                "--out", tmp_path / "run", "--quiet")
        assert r.returncode == 2 and "no CUDA GPU" in r.stderr and "Traceback" not in r.stderr, r.stderr
        r = cli("train", "--device", device, "--steps", "1", "--out", tmp_path / "t", "--quiet")
        assert r.returncode == 2 and "no CUDA GPU" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "t").exists()


def test_train_needs_an_out_folder_and_version_is_known(cli, tmp_path):
    r = cli("train", cwd=tmp_path)
    assert r.returncode == 2 and "--out" in r.stderr and not (tmp_path / "runs").exists()
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("arcforge ")


def test_show_keeps_columns_and_titles_whole(cli):
    task = load_tasks("arc1/train", tasks=["007bbfb7"])[0]
    out = cli("show", "007bbfb7", "--no-colour").stdout.splitlines()
    head = next(i for i, line in enumerate(out) if line.startswith("train[0].input"))
    assert "train[0].output 9x9" in out[head]
    col = out[head].index("train[0].output")
    grid = task.train[0].output
    for r in range(9):  # every output row starts in the output's column, also below the 3-row input
        assert out[head + 1 + r][col:] == "".join(f"{v:>2}" for v in grid[r].tolist())


def test_a_closed_pipe_ends_quietly():
    p = subprocess.run(f"{sys.executable} -m arcforge show 007bbfb7 --colour | head -c 10", shell=True,
                       capture_output=True, text=True, cwd=ROOT)
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr


def test_quiet_run_without_solutions_says_so(cli, tmp_path):
    """No progress bars of any library under --quiet; without known solutions, no '0 solved'."""
    task = load_tasks("arc1/train", tasks=["6150a2bd"])[0]
    path = tmp_path / "challenges.json"
    path.write_text(json.dumps({task.id: {"train": [{"input": e.input.tolist(), "output": e.output.tolist()}
                                                    for e in task.train],
                                          "test": [{"input": e.input.tolist()} for e in task.test]}}))
    from arcforge.llm.model import create_model, save_model

    model = save_model(create_model("tiny", seed=0), tmp_path / "model")
    r = cli("solve", path, "--solver", "transforms,llm", "--model", model, "--device", "cpu", "--views", "1",
            "--workers", "1", "--out", tmp_path / "run", "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr  # no "Loading weights" bar
    assert "no solutions known" in r.stdout and str(tmp_path / "run" / "submission.json") in r.stdout
    r = cli("report", tmp_path / "run")
    assert r.returncode == 0 and "no solutions known" in (tmp_path / "run" / "report.html").read_text()
    # not quiet, into a pipe (a log, a notebook): arcforge's last progress line, not the loader's bar
    r = cli("solve", path, "--solver", "llm", "--model", model, "--device", "cpu", "--views", "1",
            "--workers", "1", "--out", tmp_path / "loud")
    assert r.returncode == 0, r.stderr
    assert "solve 1/1 tasks (100%)" in r.stderr and "Loading weights" not in r.stderr, r.stderr


def test_an_unknown_hub_id_fails_at_once(cli, tmp_path):
    """Offline (as CI is), a hub id that is not cached is refused without the hub client's retries."""
    import time

    t0 = time.monotonic()
    r = cli("solve", "arc1/train", "--tasks", "6150a2bd", "--solver", "llm", "--model", "nobody/no-such-model",
            "--device", "cpu", "--out", tmp_path / "run", "--quiet")
    assert r.returncode == 2 and "cannot load model 'nobody/no-such-model'" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()
    assert time.monotonic() - t0 < 25  # imports and one connection attempt, not ~30 s of retries on top


@pytest.mark.parametrize("flags,gpus,solvers,workers", [
    ([], ["0"], "dsl,tasknet", 15),  # a GPU: the DSL and the tasknet, one core kept for its training
    ([], ["0", "1"], "dsl,tasknet", 14),
    (["--device", "cpu"], ["0"], "dsl,llm", 16),
    (["--gpus", "0"], ["0"], "dsl,llm", 16),
    ([], [], "dsl,llm", 16),  # no GPU: the DSL and the shipped model, every core (the model shares them)
    (["--solver", "dsl,llm"], ["0"], "dsl,llm", 8),  # 8 decoding workers a GPU
    (["--solver", "dsl,tasknet", "--gpus", "1"], ["0", "1"], "dsl,tasknet", 15),
])
def test_solve_defaults_follow_the_machine(monkeypatch, flags, gpus, solvers, workers):
    import arcforge.pipeline
    from arcforge import cli

    monkeypatch.setattr(arcforge.pipeline, "visible_gpus", lambda: gpus)
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 16)
    cmd = cli.solve_settings(["arc1/eval", "--out", "x", *flags])
    assert ",".join(cmd.solvers) == solvers and cmd.workers == workers


def test_solve_settings_from_a_file_under_the_flags(tmp_path):
    from arcforge.cli import solve_settings

    toml = tmp_path / "solve.toml"
    toml.write_text('[solve]\nsolver = "dsl,transforms"\nbudget = "30m"\nworkers = 3\nshard = "1/4"\nviews = 5\n'
                    '[solve.tasknet]\nviews = 3\ndata = ["arc1/train"]\n')
    cmd = solve_settings(["arc1/train", "--out", "o", "--config", str(toml), "--tasknet.views", "4"])
    assert (cmd.solvers, cmd.budget_s, cmd.workers, cmd.shard) == (["dsl", "transforms"], 1800, 3, (1, 4))
    assert (cmd.tasknet.views, cmd.tasknet.data, cmd.llm.views) == (4, ["arc1/train"], 5)
    for text, says in [("[solve.tasknet]\nviews = 0", "--tasknet.views: must be from 1 to 64, got 0"),
                       ("[solve.tasknet]\nwings = 2", "unknown setting 'tasknet.wings'"),
                       ("solver = 3", "setting 'solver' does not take int"),
                       ('dtype = "fp8"', "setting 'dtype' does not take str 'fp8'")]:
        toml.write_text(text + "\n")
        with pytest.raises(ArcError, match=says):
            solve_settings(["arc1/train", "--out", "o", "--config", str(toml)])
