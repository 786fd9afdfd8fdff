"""The task-embedding transformer (tasknet): sequences and their 3-D positions, training that never
sees a run task's test output, decoding under views, and a killed training that resumes."""

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from arcforge.datasets import load_tasks
from arcforge.errors import ArcError
from arcforge.llm.text import EOS, IGNORE, IN, NL, OUT, encode_grid
from arcforge.tasknet.data import draw_batch, next_position, pair_sequence, prompt, task_views, training_pairs
from arcforge.tasknet.decode import greedy
from arcforge.tasknet.solver import TaskNetOptions, TaskNetSolver, leak_free
from arcforge.tasknet.train import FitConfig, fit, load

ROOT = Path(__file__).resolve().parent.parent


def test_a_pair_is_one_sequence_with_row_column_and_part_positions():
    inp, out = np.array([[1, 2], [3, 4]], np.int8), np.array([[5, 6, 7]], np.int8)
    s = pair_sequence(inp, out, emb=7)
    ids = s.ids.tolist()
    assert ids[:2] == [13, IN] and ids[2:8] == encode_grid(inp) and ids[8] == OUT and ids[9:] == [5, 6, 7, NL, EOS]
    assert s.pos[2].tolist() == [1, 1, 0] and s.pos[4].tolist() == [1, 3, 0] and s.pos[5].tolist() == [2, 1, 0]
    assert s.pos[9].tolist() == [1, 1, 1] and s.pos[12].tolist() == [1, 4, 1] and s.pos[13].tolist() == [2, 1, 1]
    # the loss is on the output only: OUT predicts the first cell, the last NL predicts EOS
    assert [i for i, lab in enumerate(s.labels) if lab != IGNORE] == list(range(8, 13))
    assert s.labels[8] == 5 and s.labels[12] == EOS
    # decoding walks the same positions as training
    here, seen = prompt(inp)[1][-1], []
    for tok in [OUT, 5, 6, 7, NL]:
        here = next_position(here, tok)
        seen.append(here.tolist())
    assert seen == s.pos[9:].tolist()


def test_training_pairs_hold_no_test_output_of_the_run():
    run = load_tasks("arc1/train", tasks=["0d3d703e"])[0]
    other = load_tasks("arc1/train", tasks=["6150a2bd"])[0]
    seqs = training_pairs([other, run], {run.id}, n_views=2)
    outs = {s.ids.tobytes() for s in seqs}
    assert len(seqs) == 2 * (len(other.train) + len(other.test)) + 2 * len(run.train)
    views = task_views(run, 2)
    for v in views:  # the run task's test pair, in any view, is nowhere in the data
        assert pair_sequence(v.apply_grid(run.test[0].input), v.apply_grid(run.test[0].output),
                             2 * 1 + views.index(v)).ids.tobytes() not in outs
    # a training set task that holds a run task (same id, same content, or its test input) is dropped
    assert leak_free([other, run], [run.without_test_outputs()]) == [other]


def test_with_inputs_the_labels_cover_the_inputs_and_the_run_adds_its_test_inputs_alone():
    run = load_tasks("arc1/train", tasks=["0d3d703e"])[0]
    other = load_tasks("arc1/train", tasks=["6150a2bd"])[0]
    inp, out = np.array([[1, 2], [3, 4]], np.int8), np.array([[5, 6, 7]], np.int8)
    s = pair_sequence(inp, out, emb=7, inputs=True)
    # IN predicts the first cell, ..., the input's last NL predicts OUT; then the output as before
    assert [i for i, lab in enumerate(s.labels) if lab != IGNORE] == list(range(1, 13))
    assert s.labels[1] == 1 and s.labels[7] == OUT and s.labels[8] == 5
    seqs = training_pairs([other, run], {run.id}, n_views=2, inputs=True)
    assert len(seqs) == 2 * (len(other.train) + len(other.test)) + 2 * (len(run.train) + len(run.test))
    alone = [x for x in seqs if x.ids[-1] == OUT]  # inputs alone: the run's test inputs
    views = task_views(run, 2)
    assert sorted(x.ids.tobytes() for x in alone) == sorted(
        np.array(prompt(v.apply_grid(ex.input))[0]).tobytes() for v in views for ex in run.test)
    outs = {x.ids.tobytes() for x in seqs}
    for j, v in enumerate(views):  # still no test output of the run, in any view
        assert pair_sequence(v.apply_grid(run.test[0].input), v.apply_grid(run.test[0].output),
                             2 + j, True).ids.tobytes() not in outs


def test_the_input_weight_weighs_input_tokens_against_output_tokens():
    from arcforge.tasknet.data import packed_batch
    from arcforge.tasknet.model import TaskNet, TaskNetConfig
    from arcforge.tasknet.train import loss_of

    torch.manual_seed(0)
    task = load_tasks("arc1/train", tasks=["0d3d703e"])[0]
    model = TaskNet(TaskNetConfig(n_embeddings=2, dim=32, layers=1, heads=2, mlp=64))
    batch = packed_batch(training_pairs([task], set(), 2, inputs=True), "cpu")
    logits = model(batch["ids"], batch["pos"], batch["emb"], batch["attn"]).flatten(0, 1)
    labels, part = batch["labels"].flatten(), batch["pos"][..., 2].flatten()
    ce = torch.nn.functional.cross_entropy(logits, labels, ignore_index=IGNORE, reduction="none")
    ins, outs = (labels != IGNORE) & (part == 0), (labels != IGNORE) & (part == 1)
    with torch.no_grad():
        assert loss_of(model, batch, 1.0).item() == pytest.approx(ce[ins | outs].mean().item(), rel=1e-5)
        want = (0.25 * ce[ins].sum() + ce[outs].sum()) / (0.25 * ins.sum() + outs.sum())
        assert loss_of(model, batch, 0.25).item() == pytest.approx(want.item(), rel=1e-5)
        # without input labels (input_loss 0): the output tokens alone
        plain = packed_batch(training_pairs([task], set(), 2), "cpu")
        assert loss_of(model, plain).item() == pytest.approx(ce[outs].mean().item(), rel=1e-5)


def test_dropout_acts_while_training_only():
    from arcforge.tasknet.data import packed_batch
    from arcforge.tasknet.model import TaskNet, TaskNetConfig

    torch.manual_seed(0)
    task = load_tasks("arc1/train", tasks=["0d3d703e"])[0]
    batch = packed_batch(training_pairs([task], set(), 1), "cpu")
    run = lambda m: m(batch["ids"], batch["pos"], batch["emb"], batch["attn"])
    model = TaskNet(TaskNetConfig(n_embeddings=1, dim=32, layers=1, heads=2, mlp=64, dropout=0.3))
    with torch.no_grad():
        assert not torch.equal(run(model.train()), run(model))  # a fresh mask each pass
        assert torch.equal(run(model.eval()), run(model))
        plain = TaskNet(TaskNetConfig(n_embeddings=1, dim=32, layers=1, heads=2, mlp=64))
        plain.load_state_dict(model.state_dict())  # dropout has no weights: the same model without it
        assert torch.equal(run(plain.train()), run(model.eval()))


def test_a_run_share_draws_that_share_of_rows_from_the_run_tasks():
    run = load_tasks("arc1/train", tasks=["0d3d703e"])[0]
    other = load_tasks("arc1/train", tasks=["6150a2bd"])[0]
    seqs = training_pairs([other, run], {run.id}, n_views=2)
    mine, others = [s for s in seqs if s.emb >= 2], [s for s in seqs if s.emb < 2]
    rng = np.random.default_rng(0)
    drawn = [s.emb >= 2 for _ in range(300) for s in draw_batch(others, rng, 1, mine, 0.75)]
    assert 0.68 < np.mean(drawn) < 0.82
    assert not any(s.emb >= 2 for _ in range(50) for s in draw_batch(others, rng, 1, mine, 0.0))
    assert all(s.emb >= 2 for _ in range(50) for s in draw_batch([], rng, 1, mine, 0.0))  # nothing else to draw


def test_trained_model_writes_its_pairs_under_every_view_and_training_resumes(tmp_path):
    """A tiny model trained on one task's demonstrations writes each of them back exactly under all
    its views (greedy decoding with the cache, positions as in training); training killed part-way
    goes on from its last checkpoint instead of starting over."""
    torch.manual_seed(0)
    task = load_tasks("arc1/train", tasks=["0d3d703e"])[0].without_test_outputs()
    cfg = FitConfig(preset="tiny", views=4, lr=3e-3, warmup=20, batch_tokens=512, steps=200, device="cpu",
                    save_every_s=0.0)

    class Killed(Exception):
        pass

    def kill_at_150(rec):
        if rec["step"] == 150:
            raise Killed

    with pytest.raises(Killed):
        fit([task], {task.id}, cfg, tmp_path, None, log=kill_at_150)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["step"] == 149
    assert not (tmp_path / "done.json").exists()
    steps_seen = []
    fit([task], {task.id}, cfg, tmp_path, None, log=lambda r: steps_seen.append(r.get("step", r)))
    assert steps_seen == [{"resumed_at": 149, "steps": 200}, 150, 200]  # resumed at 149, not from 0
    model, ck = load(tmp_path, "cpu")
    assert ck["step"] == 200 and json.loads((tmp_path / "done.json").read_text())["step"] == 200
    views = task_views(task, 4)
    for ex in task.train:
        written = greedy(model, [v.apply_grid(ex.input) for v in views], list(range(4)))
        for v, (tokens, _) in zip(views, written):
            assert tokens == [*encode_grid(v.apply_grid(ex.output)), EOS]


def test_muon_orthogonalises_its_updates_and_trains():
    from arcforge.tasknet.optim import orthogonalise

    g = torch.linalg.qr(torch.randn(48, 16))[0] @ torch.diag(torch.logspace(-1, 1, 16))  # singular values 0.1 .. 10
    s = torch.linalg.svdvals(orthogonalise(g))
    assert s.min() > 0.5 and s.max() < 1.3
    stack = torch.stack([g, 3 * g.flip(0), torch.randn(48, 16)])  # a batch: each matrix on its own
    assert torch.allclose(orthogonalise(stack), torch.stack([orthogonalise(m) for m in stack]), atol=1e-5)
    task = load_tasks("arc1/train", tasks=["0d3d703e"])[0].without_test_outputs()
    losses = []
    torch.manual_seed(0)
    cfg = FitConfig(preset="tiny", views=2, optimizer="muon", lr=3e-3, warmup=10, batch_tokens=512, steps=100,
                    device="cpu")
    fit([task], {task.id}, cfg, Path(tempfile.mkdtemp()), None, log=lambda r: losses.append(r["loss"]))
    assert losses[-1] < 0.5 * 2.7  # from about ln(16) = 2.77


def test_training_can_start_from_a_trained_model_with_new_tasks(tmp_path):
    """--tasknet.init: the trained weights and the embeddings of tasks it knew are kept; a new task
    gets fresh embeddings; a model of another size is refused."""
    torch.manual_seed(0)
    a, b = load_tasks("arc1/train", tasks=["0d3d703e", "6150a2bd"])
    first = FitConfig(preset="tiny", views=2, batch_tokens=512, steps=20, device="cpu")
    fit([a], set(), first, tmp_path / "a", None)
    src = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)["model"]
    again = FitConfig(preset="tiny", views=2, batch_tokens=512, steps=1, lr=0.0, device="cpu",
                      init=str(tmp_path / "a" / "checkpoint.pt"))
    model = fit([b, a], {b.id}, again, tmp_path / "ab", None)  # lr 0: the step changes nothing
    got = model.state_dict()
    assert all(torch.equal(got[k], v) for k, v in src.items() if k != "tasks.weight")
    assert torch.equal(got["tasks.weight"][2:4], src["tasks.weight"][0:2])  # a: now second, same rows
    assert not torch.equal(got["tasks.weight"][0:2], src["tasks.weight"][0:2])
    bigger = FitConfig(preset="small", views=2, batch_tokens=512, steps=1, device="cpu", init=again.init)
    with pytest.raises(ArcError, match="different size"):
        fit([a], set(), bigger, tmp_path / "c", None)


def test_compiled_training_steps_as_eager_training(tmp_path):
    tasks = load_tasks("arc1/train", tasks=["0d3d703e", "6150a2bd"])
    losses = {}
    for compiled in (False, True):
        torch.manual_seed(0)
        log = []
        fit(tasks, set(), FitConfig(preset="tiny", views=2, batch_tokens=512, steps=20, device="cpu", compile=compiled),
            tmp_path / str(compiled), None, log=log.append)
        losses[compiled] = [r["loss"] for r in log if "loss" in r]
    assert losses[True] == pytest.approx(losses[False], rel=1e-3) and len(losses[True]) == 1


def test_solver_reads_no_test_output_and_answers_every_test_input(tmp_path):
    tasks = load_tasks("arc1/train", tasks=["0d3d703e", "6150a2bd"])
    opts = TaskNetOptions(preset="tiny", views=2, data=[], steps=30, batch_tokens=512, device="cpu")
    got = []
    for k, given in enumerate((tasks, [t.without_test_outputs() for t in tasks])):
        torch.manual_seed(0)
        s = TaskNetSolver(opts)
        s.prepare(given, None, tmp_path / str(k) / "tasknet")
        s.load(tmp_path / str(k) / "tasknet")
        got.append([[(c.grid.tobytes(), c.grid.shape, round(c.score, 6)) for c in cs]
                    for t in tasks for cs in s.solve(t.without_test_outputs(), time.monotonic() + 60)])
    assert got[0] == got[1] and len(got[0]) == sum(len(t.test) for t in tasks)  # a list per test input


def test_under_a_budget_training_leaves_writing_and_scoring_their_measured_time(tmp_path):
    """With a run deadline the solver times writing and scoring first (an untrained model of the same
    shape) and trains only until they fit: even when training may take the whole budget
    (train_share 1), every test input is written under every view and scored before the deadline."""
    tasks = [t.without_test_outputs() for t in load_tasks("arc1/train", tasks=["0d3d703e", "6150a2bd", "007bbfb7"])]
    torch.manual_seed(0)
    s = TaskNetSolver(TaskNetOptions(preset="tiny", views=4, data=[], batch_tokens=512, lr=3e-3, device="cpu",
                                     train_share=1.0))
    deadline = time.monotonic() + 15
    s.prepare(tasks, deadline, tmp_path / "tasknet")
    finished = time.monotonic()
    log = [json.loads(x) for x in (tmp_path / "tasknet" / "log.jsonl").read_text().splitlines()]
    (plan,) = [r for r in log if "after_training_s" in r]
    (wrote,) = [r for r in log if "decoded" in r]
    (scored,) = [r for r in log if "scored" in r]
    assert 0 < plan["after_training_s"] and plan["train_s"] <= 15 - plan["after_training_s"]
    assert wrote["decoded"] == wrote["rows"] == 4 * sum(len(t.test) for t in tasks)
    assert scored["scored"] >= 1 and finished < deadline


@pytest.fixture(scope="module")
def generalised(tmp_path_factory):
    """A tiny model trained on fresh tasks of 0d3d703e's family and on 0d3d703e's demonstrations only,
    loaded as the solver of its run folder."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("generalised") / "tasknet"
    task = load_tasks("arc1/train", tasks=["0d3d703e"])[0]
    opts = TaskNetOptions(preset="tiny", views=4, data=["gen:0d3d703e:100"], steps=400, batch_tokens=1024,
                          lr=3e-3, device="cpu", optimizer="adamw", run_share=None)
    s = TaskNetSolver(opts)
    s.prepare([task.without_test_outputs()], None, folder)
    s.load(folder)
    return s, task, folder


def test_a_tiny_model_writes_a_held_out_test_answer_it_never_saw(generalised):
    """Generalisation, not recall: trained on fresh tasks of 0d3d703e's family and on 0d3d703e's
    demonstrations only, the tiny model's first candidate is the task's test output exactly."""
    s, task, folder = generalised
    (cands,) = s.solve(task.without_test_outputs(), time.monotonic() + 60)
    assert np.array_equal(cands[0].grid, task.test[0].output)
    # every answer was scored under all 4 views; the first is ranked by that product of experts
    (line,) = [json.loads(x) for x in (folder / "scores.jsonl").read_text().splitlines()]
    assert len(line["grids"]) == len(cands) and all(len(row) == 4 for row in line["scores"])
    assert cands[0].source == "tasknet:poe" and cands[0].score == pytest.approx(sum(line["scores"][0]), abs=1e-3)


def test_role_swap_prefers_the_right_answer_and_leaves_the_model_as_it_was(generalised):
    """0d3d703e swaps colours in fixed pairs. Trained as one more train pair into copies of the task's
    vector, the right answer keeps the other pairs' outputs likely; the input left as it is, or recoloured
    by other maps, pulls the vector away from them. Only the copies train."""
    trained, task, folder = generalised
    x, truth = task.test[0].input, task.test[0].output
    assert trained.verify(task.without_test_outputs(), [[truth, x]], deadline=float("inf")) is None  # off by default
    s = TaskNetSolver(replace(trained.opts, swap_steps=8))  # the shared solver stays as the fixture made it
    s.load(folder)
    wrong = [x, np.where(truth == truth[0, 0], x[0, 0], truth).astype(np.int8), (x + 1).astype(np.int8) % 10]
    (d,) = s.verify(task.without_test_outputs(), [[truth, *wrong]], deadline=float("inf"))
    assert len(d) == 4 and np.argmax(d) == 0 and d[0] > d[1] + 1.0  # the input as its own answer is far behind
    saved = load(folder, "cpu")[0].state_dict()
    assert all(torch.equal(v, saved[k]) for k, v in s.model.state_dict().items())
    assert all(p.requires_grad for p in s.model.parameters())
    # no judgement: a single grid, one train pair, a deadline already past
    one_pair = type(task)(task.id, task.train[:1], task.without_test_outputs().test)
    assert s.verify(one_pair, [[truth, x]], deadline=float("inf")) == [None]
    assert s.verify(task.without_test_outputs(), [[truth]], deadline=float("inf")) == [None]
    assert s.verify(task.without_test_outputs(), [[truth, x]], deadline=time.monotonic() - 1) == [None]


def test_many_rows_write_what_each_row_writes_alone_and_what_training_scores():
    """Batched writing (left padding, key/value buffers, positions stepped on the device, finished rows
    dropped) gives each row the tokens it gets alone, and their log-probability is what a packed training pass gives."""
    from arcforge.tasknet.data import Sequence
    from arcforge.tasknet.decode import score_sequences
    from arcforge.tasknet.model import TaskNet, TaskNetConfig

    torch.manual_seed(0)
    model = TaskNet(TaskNetConfig(n_embeddings=3, dim=32, layers=2, heads=2, mlp=64)).eval()
    grids = [ex.input for t in load_tasks("arc1/train", tasks=["0d3d703e", "6150a2bd", "a85d4709"]) for ex in t.train[:1]]
    limits = [5, 12, 40]  # rows finish at different steps: the batch sheds the finished ones
    together = greedy(model, grids, [0, 1, 2], limits=limits)
    for i, g in enumerate(grids):
        (alone,) = greedy(model, [g], [i], limits=[limits[i]])
        assert alone[0] == together[i][0] and alone[1] == pytest.approx(together[i][1], abs=1e-4)
        tokens = together[i][0]
        assert len(tokens) == limits[i] or tokens[-1] == EOS
        ids, pos = prompt(g)
        for tok in [OUT, *tokens[:-1]]:
            pos = np.concatenate([pos, [next_position(pos[-1], tok).numpy()]])
        labels = np.full(len(ids) + len(tokens), IGNORE)
        labels[len(ids) - 1:-1] = tokens
        (scored,) = score_sequences(model, [Sequence(np.array(ids + tokens), pos, labels, i)])
        assert scored == pytest.approx(together[i][1], abs=1e-3)


def test_dfs_writes_every_answer_above_the_threshold_greedy_first(tmp_path):
    """DFS through llm.decode.threshold_search over the tasknet's stepper: the likeliest answer is the
    greedy one, every answer's probability is at least the threshold and is what teacher forcing gives;
    decode_rows writes one line per answer."""
    import math

    from arcforge.llm.text import decode_grid
    from arcforge.tasknet.data import pair_sequence
    from arcforge.tasknet.decode import Row, decode_rows, dfs, read_rows, score_sequences

    torch.manual_seed(0)
    task = load_tasks("arc1/train", tasks=["0d3d703e"])[0].without_test_outputs()
    cfg = FitConfig(preset="tiny", views=2, lr=3e-3, warmup=20, batch_tokens=512, steps=60, device="cpu")
    model = fit([task], {task.id}, cfg, tmp_path / "m", None)
    grids = [ex.input for ex in task.train]
    found = dfs(model, grids, [0] * len(grids), threshold=0.02, max_side=3)
    greedy_answers = greedy(model, grids, [0] * len(grids), limits=[13] * len(grids))
    assert sum(len(f) for f in found) > len(grids)  # some input has a second answer
    for g, answers, (tokens, _) in zip(grids, found, greedy_answers):
        assert answers[0][0] == tokens
        for toks, lp in answers:
            assert lp >= math.log(0.02)
            (scored,) = score_sequences(model, [pair_sequence(g, decode_grid(toks), 0)])
            assert scored == pytest.approx(lp, abs=1e-3)
    rows = [Row(task.id, i, 0, g, 0, side=3) for i, g in enumerate(grids)]
    assert decode_rows(model, rows, tmp_path / "a.jsonl", threshold=0.02) == len(rows)
    assert len(read_rows(tmp_path / "a.jsonl")) == sum(len(f) for f in found)


def test_writing_killed_part_way_resumes_without_writing_a_row_twice(tmp_path, monkeypatch):
    """answers.jsonl grows a batch at a time; after a kill (and a torn last line) the next run writes
    only the rows still missing, and keeps the ones already written."""
    import arcforge.tasknet.decode as dec
    from arcforge.tasknet.model import TaskNet, TaskNetConfig

    torch.manual_seed(0)
    model = TaskNet(TaskNetConfig(n_embeddings=8, dim=32, layers=1, heads=2, mlp=64)).eval()
    task = load_tasks("arc1/train", tasks=["6150a2bd"])[0]
    rows = [dec.Row(task.id, 0, j, v.apply_grid(task.test[0].input), j) for j, v in enumerate(task_views(task, 8))]
    path = tmp_path / "answers.jsonl"
    monkeypatch.setattr(dec, "rows_per_batch", lambda *a: 2)
    real, calls = dec.greedy, []

    def killed_on_second_batch(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k, max_new=8)

    monkeypatch.setattr(dec, "greedy", killed_on_second_batch)
    with pytest.raises(KeyboardInterrupt):
        dec.decode_rows(model, rows, path)
    first = dec.read_rows(path)
    assert [r["view"] for r in first] == [0, 1]  # first views first
    with open(path, "a") as f:
        f.write('{"task": "6150a2bd", "te')  # torn by the kill
    monkeypatch.setattr(dec, "greedy", lambda *a, **k: real(*a, **k, max_new=8))
    assert dec.decode_rows(model, rows, path) == 6
    again = dec.read_rows(path)
    assert again[:2] == first and sorted(r["view"] for r in again) == list(range(8))


def test_generated_training_tasks_leave_out_the_run_tasks_families():
    from arcforge.generators import generator_ids
    from arcforge.tasknet.solver import training_tasks

    got = training_tasks(["gen:all:2"], exclude={"0d3d703e"})
    assert len(got) == 2 * (len(generator_ids()) - 1) and not any(t.id.startswith("gen-0d3d703e") for t in got)
    assert [t.id for t in training_tasks(["gen:0d3d703e:2"])] == ["gen-0d3d703e-0", "gen-0d3d703e-1"]
    for bad in ("gen:0d3d703e", "gen:nosuch:3", "gen:all:x"):
        with pytest.raises(ArcError, match="gen:ID:N"):
            training_tasks([bad])


@pytest.mark.parametrize("flag,value,says", [("--tasknet.data", "gen:0d3d703e", "gen:ID:N"),
                                              ("--tasknet.data", "arc9/x", "neither a dataset"),
                                              ("--tasknet.init", "no/such.pt", "no such file"),
                                              ("--tasknet.input-loss", "-1", "at least 0"),
                                              ("--tasknet.dropout", "1.5", "from 0 to 1")])
def test_bad_tasknet_settings_stop_before_anything_is_written(cli, tmp_path, flag, value, says):
    r = cli("solve", "arc1/train", "--tasks", "0d3d703e", "--solver", "tasknet", flag, value, "--device", "cpu",
            "--out", tmp_path / "run")
    assert r.returncode == 2 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_solve_with_tasknet_trains_once_in_the_run_folder(cli, tmp_path):
    """Through the scheduler: preparation trains once and saves into RUN/prepared/tasknet; every task
    gets its candidates; the run resumed finds the model and does not train again."""
    run = tmp_path / "run"
    args = ["solve", "arc1/train", "--tasks", "0d3d703e,6150a2bd", "--solver", "transforms,tasknet",
            "--tasknet.preset", "tiny", "--tasknet.views", "2", "--tasknet.steps", "20", "--tasknet.data", "",
            "--tasknet.batch-tokens", "512",
            "--device", "cpu", "--workers", "1", "--out", run]
    r = cli(*args, "--limit", "1")
    assert r.returncode == 0, r.stderr
    # not a terminal: each bar's last line (training's in the worker, the run's in the driver)
    assert "tasknet training 20/20 steps (100%)" in r.stderr and "solve 1/1 tasks (100%)" in r.stderr
    ck = run / "prepared" / "tasknet" / "checkpoint.pt"
    assert ck.is_file() and (run / "prepared" / "tasknet" / "done.json").is_file()
    stamp = ck.stat().st_mtime_ns
    r = cli(*args, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "tasks (" not in r.stderr
    assert ck.stat().st_mtime_ns == stamp
    quiet = cli(*args[:-1], tmp_path / "quiet", "--limit", "1", "--quiet")  # trains anew, in a worker
    assert quiet.returncode == 0, quiet.stderr
    assert (tmp_path / "quiet" / "prepared" / "tasknet" / "done.json").is_file()
    assert "tasks (" not in quiet.stderr and "steps (" not in quiet.stderr  # --quiet: no progress at all
    recs = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    assert [x["task_id"] for x in recs] == ["0d3d703e", "6150a2bd"]
    assert all("errors" not in x and "tasknet" in x["seconds"] for x in recs)


def test_solve_role_swap_under_the_tasknet_records_what_it_removed(cli, tmp_path):
    """a85d4709: the DSL finds four programs exact on the train pairs; with --role-swap 0 and no
    llm the tasknet judges them (copies of the task's vector trained on each), and all but the two
    it finds most plausible go, each recorded with its delta."""
    run = tmp_path / "run"
    r = cli("solve", "arc1/train", "--tasks", "a85d4709", "--solver", "dsl,tasknet", "--tasknet.preset", "tiny",
            "--tasknet.views", "2", "--tasknet.steps", "20", "--tasknet.data", "", "--tasknet.batch-tokens", "512",
            "--tasknet.swap-steps", "2", "--role-swap", "0", "--device", "cpu", "--workers", "1", "--out", run, "--quiet")
    assert r.returncode == 0, r.stderr
    (rec,) = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    swapped = [f for f in rec["filtered"] if f["rule"] == "role_swap"]
    assert len(rec["candidates"][0]) == 2 and len(swapped) >= 2, rec
    assert all(f["delta"] < f["best_delta"] for f in swapped) and "role_swap" in rec["seconds"]
    assert "errors" not in rec
    # the run replayed at margin 0 removes what the run removed; at a huge margin nothing
    r = subprocess.run([sys.executable, "benchmarks/roleswap_on_runs.py", run, "--recorded", "--margins", "0,1e9",
                        "--deltas", tmp_path / "deltas.jsonl"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    at0, at_huge = [json.loads(x) for x in r.stdout.splitlines()]
    assert at0["wrong_removed"] + at0["right_lost"] == len(swapped) and at0["inputs"] == 1
    assert at_huge["wrong_removed"] == at_huge["right_lost"] == 0
    assert at_huge["right_in_top2_before"] == at_huge["right_in_top2_after"] == 1  # the DSL's first program


def test_solve_prepares_tasknet_on_two_workers_together(cli, tmp_path):
    """`solve` with two model workers (two GPUs; here two CPU processes over gloo): both train the
    one model data-parallel, each writes its share of the rows, and every task gets its answers."""
    run = tmp_path / "run"
    r = cli("solve", "arc1/train", "--tasks", "0d3d703e,6150a2bd,a85d4709", "--solver", "tasknet",
            "--tasknet.preset", "tiny", "--tasknet.views", "2", "--tasknet.steps", "20", "--tasknet.data", "",
            "--tasknet.batch-tokens", "512", "--device", "cpu", "--model-workers", "2", "--quiet", "--out", run)
    assert r.returncode == 0, r.stderr
    folder = run / "prepared" / "tasknet"
    shares = [[json.loads(x) for x in (folder / name).read_text().splitlines()] for name in ("answers.jsonl", "answers.1.jsonl")]
    keys = [(x["task"], x["test"], x["view"]) for share in shares for x in share]
    assert all(shares) and len(keys) == len(set(keys)) == 2 * (1 + 1 + 1)  # one test input each, two views
    log = [json.loads(x) for x in (folder / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in log if "step" in x] == [20]  # rank 0 logs training once (20 steps)
    assert sorted(x["rank"] for x in log if "decoded" in x) == [0, 1]
    recs = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    assert sorted(x["task_id"] for x in recs) == ["0d3d703e", "6150a2bd", "a85d4709"]
    assert not list(folder.glob(".rendezvous*"))


def _ddp_rank(rank: int, port: int, batches, state, out) -> None:
    """One rank of a two-process gloo group: one step of DDP on its own batch."""
    import os

    from arcforge.tasknet.model import TaskNet, TaskNetConfig
    from arcforge.tasknet.train import train_step

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=2)
    model = TaskNet(TaskNetConfig(n_embeddings=4, dim=32, layers=1, heads=2, mlp=64))
    model.load_state_dict(state)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = train_step(ddp, [opt], torch.amp.GradScaler("cpu", enabled=False), batches[rank])
    if rank == 0:
        torch.save({"state": model.state_dict(), "loss": float(loss)}, out)
    torch.distributed.barrier()  # neither rank closes its connections while the other still uses them
    torch.distributed.destroy_process_group()


def test_two_process_gloo_ddp_steps_like_one_process_on_both_batches(tmp_path):
    """Data-parallel training: two ranks each on its own batch take the same step as one process on
    both (gradients averaged), and rank 0's loss is its batch's loss."""
    import socket

    import torch.multiprocessing as tmp

    from arcforge.tasknet.data import packed_batch
    from arcforge.tasknet.model import TaskNet, TaskNetConfig
    from arcforge.tasknet.train import loss_of

    torch.manual_seed(0)
    task = load_tasks("arc1/train", tasks=["0d3d703e"])[0]
    seqs = training_pairs([task.without_test_outputs()], {task.id}, n_views=1)
    a, b = packed_batch(seqs[:2], "cpu"), packed_batch(seqs[2:4], "cpu")
    model = TaskNet(TaskNetConfig(n_embeddings=4, dim=32, layers=1, heads=2, mlp=64))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    loss_a = float(loss_of(model, a).detach())
    # one process: the mean of the two batches' losses, one step
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    opt.zero_grad()
    ((loss_of(model, a) + loss_of(model, b)) / 2).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "rank0.pt"
    tmp.spawn(_ddp_rank, args=(port, [a, b], state, out), nprocs=2, join=True)
    got = torch.load(out, weights_only=False)
    assert abs(got["loss"] - loss_a) < 1e-5
    for k, v in model.state_dict().items():
        assert torch.allclose(v, got["state"][k], atol=1e-5), k
