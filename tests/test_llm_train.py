"""Training: a tiny model learns a task family and solves fresh instances; resume is exact; packing;
configuration; data hygiene; the `arcforge train` command."""

import json

import numpy as np
import pytest
import torch

from arcforge.datasets import load_tasks
from arcforge.errors import ArcError
from arcforge.llm.config import TrainConfig, train_config
from arcforge.llm.model import greedy_generate, load_model
from arcforge.llm.text import IGNORE, output_ids, prompt_ids
from arcforge.llm.train import draw_samples, load_training_tasks, lr_factor, packed_batch, train, train_steps
from arcforge.task import Example, Task

torch.set_num_threads(2)


def flip_task(rng: np.random.Generator, name: str, n_train: int = 3) -> Task:
    """Mirror the grid left-right: 3x3 grids of colours 0-3."""
    exs = []
    for _ in range(n_train + 1):
        g = rng.integers(0, 4, size=(3, 3)).astype(np.int8)
        exs.append(Example(g, np.ascontiguousarray(g[:, ::-1])))
    return Task(name, tuple(exs[:-1]), (exs[-1],))


def test_tiny_model_learns_to_flip_and_solves_unseen_tasks():
    rng = np.random.default_rng(0)
    tasks = [flip_task(rng, f"flip{i}") for i in range(500)]
    # symmetries off: a flip seen under a rotation would be another rule; colour views off: 4 colours
    # keep the family small enough to learn in a CPU test
    cfg = TrainConfig(steps=400, lr=3e-3, warmup_steps=20, batch_tokens=512, max_len=512, symmetries=False,
                      colours=False)
    model, _ = load_model("tiny", device="cpu")
    losses = train_steps(model, tasks, cfg.steps, cfg)
    assert losses[0] > 2.0 and np.mean(losses[-10:]) < 0.05, (losses[0], losses[-10:])
    fresh = [flip_task(np.random.default_rng(1000 + i), f"new{i}") for i in range(20)]
    solved = sum(greedy_generate(model, prompt_ids(t, 0), 20) == output_ids(t.test[0].output) for t in fresh)
    assert solved >= 18, f"only {solved}/20 unseen flips written exactly"


def test_packed_batch_has_no_padding_and_no_crossing_targets():
    tasks = load_tasks("arc1/train", limit=20)
    cfg = TrainConfig(batch_tokens=2048, max_len=2048)
    (row,) = draw_samples(tasks, np.random.default_rng(0), cfg, 1)
    assert len(row) >= 2 and 0.8 * 2048 <= sum(len(s.ids) for s in row) <= 2048  # well filled
    b = packed_batch(row, torch.device("cpu"))
    cu = b["cu_seq_lens_q"].tolist()
    assert cu[-1] == b["input_ids"].shape[1] == sum(len(s.ids) for s in row)  # nothing but samples
    pos, tgt = b["position_ids"][0], b["targets"][0]
    for s, e, sample in zip(cu[:-1], cu[1:], row, strict=True):
        assert pos[s] == 0 and pos[e - 1] == e - s - 1
        assert tgt[e - 1] == IGNORE  # the last token of a sample predicts nothing of the next
        assert tgt[s:e - 1].tolist() == sample.labels[1:]


def test_schedule_warms_up_then_decays():
    cfg = TrainConfig(steps=100, warmup_steps=10, min_lr_ratio=0.1)
    f = [lr_factor(s, cfg) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[9:], f[10:], strict=False)) and f[-1] == pytest.approx(0.1, abs=1e-3)


@pytest.mark.parametrize("lora", [False, True])
def test_resume_gives_the_same_next_step_loss(tmp_path, lora):
    common = dict(model="tiny", data=["arc1/train"], steps=3, batch_tokens=1024, max_len=1024, val_tasks=2,
                  eval_every=1, save_every=100, progress=False, lora=lora, lora_r=4, device="cpu", lr=1e-3)
    whole = train(TrainConfig(**common, out=str(tmp_path / "whole")))
    train(TrainConfig(**common, out=str(tmp_path / "split"), stop_at=2))  # as if killed after step 2
    resumed = train(TrainConfig(**common, out=str(tmp_path / "split")), resume=True)
    log = lambda d: [json.loads(x) for x in (tmp_path / d / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log("split")] == [1, 2, 3]
    assert log("split")[2]["loss"] == pytest.approx(log("whole")[2]["loss"], abs=1e-4)
    assert resumed["val_loss"] == pytest.approx(whole["val_loss"], abs=1e-4)
    model, info = load_model(str(tmp_path / "split" / "model"), device="cpu")
    assert info.lora == lora


def test_config_layers(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('[train]\npreset = "tiny"\nsteps = 7\ndata = ["arc1/train", "arc2/train-clean"]\n')
    cfg = train_config(None, toml, {"lr": "5e-4", "lora": "true"})
    assert (cfg.model, cfg.steps, cfg.lr, cfg.lora, cfg.batch_tokens) == ("tiny", 7, 5e-4, True, 4096)
    assert cfg.data == ["arc1/train", "arc2/train-clean"]
    q = train_config("qwen2.5-0.5b")
    assert q.model == "Qwen/Qwen2.5-0.5B-Instruct" and q.lora
    with pytest.raises(ArcError, match="unknown setting 'stepz'"):
        train_config(None, None, {"stepz": 3})


def test_data_hygiene(capsys):
    with pytest.raises(ArcError, match="refusing to train on evaluation set 'arc2/eval'"):
        load_training_tasks(TrainConfig(data=["arc1/train", "arc2/eval"]))
    kept = load_training_tasks(TrainConfig(data=["arc2/train"]))  # holds arc1/eval tasks under their own ids
    err = capsys.readouterr().err
    assert "have the content of an evaluation task" in err and "arc2/train-clean" in err
    dropped = int(err.split("dropping ")[1].split()[0])
    assert dropped > 300 and len(kept) == 1000 - dropped
    eval_hashes = {t.content_hash() for t in load_tasks("arc1/eval")}
    assert not any(t.content_hash() in eval_hashes for t in kept)
    load_training_tasks(TrainConfig(data=["arc2/train-clean"]))
    assert "warning" not in capsys.readouterr().err
    # arc1/train shares one task with arc1/eval (40853293 = 070dd51e): it is left out
    kept = load_training_tasks(TrainConfig(data=["arc1/train"]))
    assert len(kept) == 399 and "40853293" not in {t.id for t in kept}


def test_train_command(cli, tmp_path):
    r = cli("train", "--model", "tiny", "--data", "arc1/eval", "--out", tmp_path / "x", "--steps", "1")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: refusing to train on evaluation set 'arc1/eval' (pass --allow-eval if you mean it)"]
    cfg = tmp_path / "run.toml"
    cfg.write_text("steps = 5\nbatch_tokens = 1024\nmax_len = 1024\nval_tasks = 2\n")
    r = cli("train", "--model", "tiny", "--data", "arc1/train", "--steps", "2", "--out", tmp_path / "run",
            "--config", cfg, "--quiet", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 2 and summary["val_loss"] is not None  # the flag beat the file
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
    r = cli("train", "--model", "tiny", "--data", "arc1/train", "--steps", "2", "--out", tmp_path / "run")
    assert r.returncode == 2 and "--resume" in r.stderr
