"""Training: a tiny model learns a task family and solves fresh instances; resume is exact; packing;
configuration; data hygiene; the `arcforge train` command."""

import json

import numpy as np
import pytest
import torch

from arcforge.datasets import load_tasks
from arcforge.errors import ArcError
from arcforge.generators import generator_ids
from arcforge.llm.checkpoint import export_checkpoint
from arcforge.llm.config import TrainConfig
from arcforge.llm.hf import greedy_generate
from arcforge.llm.model import load_model
from arcforge.llm.samples import draw_samples, generator_pool, packed_batch
from arcforge.llm.text import IGNORE, SYMBOLS, output_ids, positions, prompt_ids
from arcforge.llm.train import load_training_tasks, lr_factor, split_validation, train, train_steps
from arcforge.task import Example, Task


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
    cfg = TrainConfig(steps=250, lr=3e-3, warmup_steps=20, batch_tokens=512, max_len=512, symmetries=False,
                      colours=False)  # 250 steps: loss 6e-4 and 20/20 here; 180 steps still fail
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


def test_time_budget_chooses_the_steps_and_stops_in_time(tmp_path):
    """--time-budget: the step count comes from the rate of the first steps (so the cosine schedule
    ends with the budget), training stops within the budget, and a resumed run keeps the steps chosen."""
    common = dict(model="tiny", data=["arc1/train"], time_budget=5.0, warmup_steps=8, batch_tokens=512,
                  max_len=512, val_tasks=2, eval_every=10**6, save_every=10**6, progress=False, device="cpu",
                  out=str(tmp_path / "run"))
    summary = train(TrainConfig(**common, steps=10**6))
    chosen = json.loads((tmp_path / "run" / "config.json").read_text())["steps"]
    assert 8 < chosen < 10**6
    assert summary["seconds"] < 5.0 + 1.0 and 0.7 * chosen <= summary["steps"] <= chosen
    again = train(TrainConfig(**common, steps=3), resume=True)  # a --resume with other flags
    assert json.loads((tmp_path / "run" / "config.json").read_text())["steps"] == chosen
    assert again["steps"] == chosen


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
    """defaults < recipe (also named in the file) < TOML file < flags; one-line errors naming the file."""
    from arcforge.llm.train_cli import train_settings

    toml = tmp_path / "c.toml"
    toml.write_text('[train]\nrecipe = "tiny-scratch"\nsteps = 7\ndata = ["arc1/train", "arc2/train-clean"]\n')
    cfg = train_settings(["--out", "o", "--config", str(toml), "--lr", "5e-4", "--lora"])
    assert (cfg.model, cfg.steps, cfg.lr, cfg.lora, cfg.batch_tokens) == ("tiny", 7, 5e-4, True, 4096)
    assert cfg.data == ["arc1/train", "arc2/train-clean"] and cfg.progress
    q = train_settings(["--out", "o", "--recipe", "qwen2.5-0.5b-lora", "--data", "arc1/train", "--quiet"])
    assert q.model == "Qwen/Qwen2.5-0.5B-Instruct" and q.lora and q.data == ["arc1/train"] and not q.progress
    assert train_settings(["--out", "o", "--positions", "rows", "--time-budget", "2m"]).time_budget == 120
    for text, says in [("stepz = 3", "unknown setting 'stepz'"), ('steps = "many"', "setting 'steps' does not take str"),
                       ("steps = 0", "--steps: must be at least 1, got 0"), ("steps = [", "invalid TOML"),
                       ('time_budget = "soon"', "setting 'time_budget': bad duration"),
                       ('recipe = "huge"', "unknown training recipe 'huge'")]:
        toml.write_text(text + "\n")
        with pytest.raises(ArcError, match=says):
            train_settings(["--out", "o", "--config", str(toml)])
    toml.write_bytes(b"\x00\xff\xfe binary")
    with pytest.raises(ArcError, match="c.toml: not a UTF-8 text file"):
        train_settings(["--out", "o", "--config", str(toml)])


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
            "--config", cfg, "--quiet", "--device", "cpu", "--generated", "0.25")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["generated"] == 0.25
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 2 and summary["val_loss"] is not None  # the flag beat the file
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
    r = cli("train", "--model", "tiny", "--data", "arc1/train", "--steps", "2", "--out", tmp_path / "run")
    assert r.returncode == 2 and "--resume" in r.stderr


# ---- generated tasks ----


def blank_task(name: str) -> Task:
    """A task whose grids are all 0: colour views keep 0, so its samples never hold a digit 1-9."""
    ex = lambda h, w: Example(np.zeros((h, w), dtype=np.int8), np.zeros((w, h), dtype=np.int8))
    return Task(name, (ex(2, 3), ex(3, 3), ex(4, 2)), (ex(3, 4),))


def _coloured(sample) -> bool:
    return any(1 <= t <= 9 for t in sample.ids)


def test_generated_samples_enter_batches_and_stay_determined_by_the_seed():
    tasks = [blank_task(f"blank{i}") for i in range(3)]
    draw = lambda frac, seed: draw_samples(tasks, np.random.default_rng(seed), TrainConfig(
        batch_tokens=1024, max_len=1024, generated=frac), 4)
    plain = [s for row in draw(0.0, 0) for s in row]
    assert plain and not any(_coloured(s) for s in plain)  # real (blank) tasks only
    mixed = [s for row in draw(0.5, 0) for s in row]
    n_gen = sum(_coloured(s) for s in mixed)  # some generated grids could be blank: a lower bound
    assert 0.2 * len(mixed) <= n_gen < len(mixed), (n_gen, len(mixed))
    again = [s for row in draw(0.5, 0) for s in row]
    assert [s.ids for s in again] == [s.ids for s in mixed]  # same (seed, step), same batch
    assert [s.ids for row in draw(0.5, 1) for s in row] != [s.ids for s in mixed]
    # only the generators asked for: a family whose outputs are 1x1 (symmetric or not: 1 or 7)
    (only,) = draw_samples(tasks, np.random.default_rng(0), TrainConfig(batch_tokens=1024, max_len=1024,
                                                                         generated=1.0), 1, ["44f52bb0"])
    nl, eos = SYMBOLS.index("\n"), SYMBOLS.index("<eos>")
    assert only and all(s.labels.count(nl) == s.labels.count(eos) for s in only)  # one-row outputs only


def test_generators_of_held_out_tasks_are_left_out():
    tasks = load_training_tasks(TrainConfig(data=["arc1/train"]))
    _, val = split_validation(tasks, 16, 0)
    held = {t.id for t in val} & set(generator_ids())
    assert held, "seed 0 should hold out some task that has a generator"
    pool = generator_pool(val)
    assert not held & set(pool) and set(pool) == set(generator_ids()) - held
    assert generator_pool([]) == generator_ids()
    # the same content under another id is caught too
    renamed = [Task("renamed", t.train, t.test) for t in val if t.id in held]
    assert not held & set(generator_pool(renamed))


def test_train_with_generated_tasks(tmp_path, monkeypatch, one_torch_thread):
    import arcforge.llm.samples as samples
    import arcforge.llm.train as tr

    data = tmp_path / "blank"
    data.mkdir()
    for i in range(6):
        (data / f"blank{i}.json").write_text(json.dumps(blank_task(f"blank{i}").to_json()))
    seen, generated = [], []
    real_step, real_generate = tr.train_step, samples.generate_task
    monkeypatch.setattr(tr, "train_step", lambda m, o, s, batches, *a, **k: (
        seen.extend(b["input_ids"] for b in batches), real_step(m, o, s, batches, *a, **k))[1])
    monkeypatch.setattr(samples, "generate_task", lambda gid, *a, **k: (generated.append(gid), real_generate(
        gid, *a, **k))[1])
    cfg = TrainConfig(model="tiny", data=[str(data)], steps=2, batch_tokens=1024, max_len=1024, val_tasks=2,
                      eval_every=1, progress=False, device="cpu", generated=0.5, out=str(tmp_path / "run"))
    summary = train(cfg)
    assert summary["steps"] == 2 and np.isfinite(summary["loss"]) and summary["val_loss"] is not None
    assert generated and any(((ids >= 1) & (ids <= 9)).any() for ids in seen)  # blank tasks cannot do that
    assert json.loads((tmp_path / "run" / "config.json").read_text())["generated"] == 0.5
    with pytest.raises(ArcError, match="fraction"):
        train(TrainConfig(**{**cfg.to_dict(), "generated": 1.5, "out": str(tmp_path / "bad")}))


# ---- position schemes ----


def packed_positions_are(batches, scheme) -> bool:
    """Every sample of the packed batches sits at its own positions of `scheme`, from 0."""
    for b in batches:
        ids, pos, cu = b["input_ids"][0].numpy(), b["position_ids"][0].numpy(), b["cu_seq_lens_q"].tolist()
        for s, e in zip(cu[:-1], cu[1:], strict=True):
            assert pos[s:e].tolist() == positions(ids[s:e], scheme).tolist()
    return bool(batches)


def test_training_with_row_positions(tmp_path, monkeypatch, one_torch_thread):
    import arcforge.llm.train as tr

    with pytest.raises(ArcError, match="unknown position scheme 'diagonal': use linear or rows"):
        train(_small_run(tmp_path / "bad", positions="diagonal"))
    seen = []
    real_step = tr.train_step
    monkeypatch.setattr(tr, "train_step", lambda m, o, s, batches, *a, **k: (
        seen.extend(batches), real_step(m, o, s, batches, *a, **k))[1])
    summary = train(_small_run(tmp_path / "rows", steps=10, lr=3e-3, positions="rows"))
    assert summary["positions"] == "rows" and packed_positions_are(seen, "rows")
    model = tmp_path / "rows" / "model"
    assert json.loads((model / "config.json").read_text())["arc_positions"] == "rows"
    losses = [r["loss"] for r in _log(tmp_path / "rows")]
    assert np.mean(losses[-3:]) < losses[0] - 0.5, losses
    # from an existing model: its own scheme unless one is set; a resumed run keeps its own
    seen.clear()
    assert train(_small_run(tmp_path / "again", model=str(model), steps=1))["positions"] == "rows"
    assert packed_positions_are(seen, "rows")
    back = train(_small_run(tmp_path / "back", model=str(model), steps=1, positions="linear"))
    assert back["positions"] == "linear" and packed_positions_are(seen[-1:], "linear")
    with pytest.raises(ArcError, match="has rows positions, not linear"):
        train(_small_run(tmp_path / "rows", steps=11, positions="linear"), resume=True)


# ---- carrying a checkpoint to another machine: export-checkpoint, train --resume-from ----


def _small_run(out, **kw):
    return TrainConfig(**{**dict(model="tiny", data=["arc1/train"], steps=6, batch_tokens=1024, max_len=1024,
                                 val_tasks=0, save_every=100, progress=False, device="cpu", lr=1e-3,
                                 warmup_steps=2, lora_r=4), **kw, "out": str(out)})


def _log(run):
    return [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]


def _files_fit(ck, shard_mb):
    manifest = json.loads((ck / "manifest.json").read_text())
    names = sorted(f.name for f in ck.iterdir())
    assert names == sorted([*(f["name"] for f in manifest["files"]), "manifest.json"])
    assert all(f.stat().st_size <= shard_mb * 10**6 for f in ck.iterdir())
    return names


def test_full_export_resumes_exactly(tmp_path, one_torch_thread):
    from safetensors.torch import load_file

    train(_small_run(tmp_path / "whole"))
    train(_small_run(tmp_path / "a", stop_at=3))
    ck = export_checkpoint(tmp_path / "a", tmp_path / "ck", full=True, shard_mb=1)
    names = _files_fit(ck, 1)
    assert sum(n.startswith("weights-") for n in names) > 1 and sum(n.startswith("trainer.pt.") for n in names) > 1
    train(_small_run(tmp_path / "b"), resume_from=ck)  # another machine: a fresh run folder
    assert [r["step"] for r in _log(tmp_path / "b")] == [4, 5, 6]
    assert [r["loss"] for r in _log(tmp_path / "b")] == [r["loss"] for r in _log(tmp_path / "whole")[3:]]
    whole, resumed = (load_file(tmp_path / d / "model" / "model.safetensors") for d in ("whole", "b"))
    assert whole.keys() == resumed.keys() and all(torch.equal(whole[k], resumed[k]) for k in whole)


@pytest.mark.parametrize("lora", [False, True])
def test_light_export_shards_and_rewarms(tmp_path, monkeypatch, one_torch_thread, lora):
    import shutil

    import arcforge.llm.train as tr

    cfg = _small_run(tmp_path / "a", steps=8, resume_warmup=3, stop_at=3, lora=lora)
    train(cfg)
    ck = export_checkpoint(tmp_path / "a", tmp_path / "ck", shard_mb=1)
    names = _files_fit(ck, 1)
    assert not any(n.startswith("trainer.pt") for n in names)
    if not lora:  # tiny's 0.8M weights in bf16 over 1 MB shards (an adapter of rank 4 is smaller)
        assert sum(n.startswith("weights-") for n in names) > 1
    shutil.rmtree(tmp_path / "a")  # nothing of the first machine is left, a LoRA run's base included
    lrs = []
    real_step = tr.train_step
    monkeypatch.setattr(tr, "train_step", lambda m, o, s, *a, **k: (lrs.append(s.get_last_lr()[0]),
                                                                       real_step(m, o, s, *a, **k))[1])
    b = tmp_path / "b"
    train(_small_run(b, steps=8, resume_warmup=3, stop_at=4, lora=lora), resume_from=ck)
    summary = train(_small_run(b, steps=8, resume_warmup=3, lora=lora), resume=True)  # the re-warm survives
    assert summary["steps"] == 8 and [r["step"] for r in _log(b)] == [4, 5, 6, 7, 8]
    want = [cfg.lr * lr_factor(s, cfg) * min(1, (s - 2) / 3) for s in range(3, 8)]
    assert lrs == pytest.approx(want, rel=1e-9) and lrs[0] == pytest.approx(cfg.lr * lr_factor(3, cfg) / 3)
    model, info = load_model(str(b / "model"), device="cpu")
    assert info.lora == lora


def test_corrupted_export_is_refused(cli, tmp_path, one_torch_thread):
    from arcforge.llm.checkpoint import read_export

    train(_small_run(tmp_path / "a", steps=1))
    r = cli("export-checkpoint", tmp_path / "a", tmp_path / "ck", "--shard-mb", "1")
    assert r.returncode == 0, r.stderr
    ck = tmp_path / "ck"
    read_export(ck)
    shard = sorted(ck.glob("weights-*.safetensors"))[-1]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 1
    shard.write_bytes(bytes(data))
    with pytest.raises(ArcError, match=f"{shard.name}: sha256 does not match"):
        train(_small_run(tmp_path / "b"), resume_from=ck)
    r = cli("train", "--resume-from", ck, "--out", tmp_path / "c", "--quiet")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert shard.name in r.stderr and "sha256" in r.stderr and not (tmp_path / "c" / "checkpoint").exists()
