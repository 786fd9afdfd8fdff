"""Test-time training: fits the task's own pairs, raises the held-out answer's likelihood, turns a wrong
greedy answer into the right one, and leaves the model as it was."""

import time

import numpy as np
import pytest
import torch
from tests.test_llm_train import packed_positions_are

from arcforge.llm.config import TrainConfig
from arcforge.llm.decode import greedy_decode, score_sequences
from arcforge.llm.model import create_model
from arcforge.llm.text import decode_grid, output_ids, prompt_ids
from arcforge.llm.train import train_steps
from arcforge.llm.ttt import TTTConfig, task_adapter
from arcforge.task import Example, Task

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: threads only fight over shared cores


def grid(rng, colours):
    h, w = rng.integers(2, 8, size=2)
    return rng.choice(colours, size=(h, w)).astype(np.int8)


def make_task(rng, rule, colours, n_train=3, tid="gen"):
    pairs = [(g, rule(g)) for g in (grid(rng, colours) for _ in range(n_train + 1))]
    return Task(tid, tuple(Example(i, o) for i, o in pairs[:-1]), (Example(*pairs[-1]),))


PICTURE = np.array([[3, 0, 3], [0, 5, 0], [3, 0, 3]], dtype=np.int8)  # the answer whatever the input


def truth_logprob(model, task):
    model.eval()
    with torch.no_grad():
        return score_sequences(model, [prompt_ids(task, 0)], [output_ids(task.test[0].output)])[0]


@pytest.fixture(scope="module")
def model():
    return create_model("tiny", seed=0).eval()


def test_ttt_raises_the_truth_likelihood_and_restores_the_model(model):
    task = make_task(np.random.default_rng(7), lambda g: PICTURE.copy(), [0, 1, 2, 4])
    before = truth_logprob(model, task)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    hidden = task.without_test_outputs()  # TTT sees only the train pairs
    cfg = TTTConfig(steps=20, lr=3e-3, rank=0, batch_tokens=1024, symmetries=False, colours=False)
    with task_adapter(model, [hidden], cfg, time.monotonic() + 300) as tuned:
        assert len(tuned.ttt_losses) == 20 and tuned.ttt_losses[-1] < 0.5 * tuned.ttt_losses[0]
        after = truth_logprob(tuned, task)
    # the held-out test answer became far more likely (13 tokens: from ~uniform to a few nats)
    assert after > before + 10, (before, after)
    # the tuning is gone: the model is exactly as before
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())
    assert truth_logprob(model, task) == pytest.approx(before, abs=1e-4)


def test_lora_ttt_trains_an_adapter_and_removes_it(model):
    rng = np.random.default_rng(8)
    task = make_task(rng, lambda g: PICTURE.copy(), [0, 1, 2, 4]).without_test_outputs()
    names = {n for n, _ in model.named_parameters()}
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    with task_adapter(model, [task], TTTConfig(steps=5, lr=1e-3, rank=8, batch_tokens=1024)) as tuned:
        assert any("lora_" in n for n, _ in tuned.named_parameters())
        assert len(tuned.ttt_losses) == 5
    assert {n for n, _ in model.named_parameters()} == names
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())


def test_ttt_stops_at_its_deadline(model):
    task = make_task(np.random.default_rng(9), lambda g: PICTURE.copy(), [0, 1, 2, 4]).without_test_outputs()
    with task_adapter(model, [task], TTTConfig(steps=1000, rank=0, batch_tokens=1024), time.monotonic() + 1.0) as t:
        assert 0 < len(t.ttt_losses) < 1000


@pytest.mark.parametrize("rank", [0, 4])
def test_ttt_feeds_the_models_row_positions(monkeypatch, rank):
    import arcforge.llm.train as tr

    model = create_model("tiny", seed=0).eval()
    model.config.arc_positions = "rows"
    seen = []
    real_step = tr.train_step
    monkeypatch.setattr(tr, "train_step", lambda m, o, s, batches, *a, **k: (
        seen.extend(batches), real_step(m, o, s, batches, *a, **k))[1])
    task = make_task(np.random.default_rng(9), lambda g: PICTURE.copy(), [0, 1, 2, 4]).without_test_outputs()
    with task_adapter(model, [task], TTTConfig(steps=2, lr=1e-3, rank=rank, batch_tokens=1024)) as tuned:
        assert len(tuned.ttt_losses) == 2
    assert len(seen) == 2 and packed_positions_are(seen, "rows")


# ---- wrong before, right after ----

CYCLE = np.array([0, 2, 3, 1, 4, 5, 6, 7, 8, 9], dtype=np.int8)  # recolour 1 -> 2 -> 3 -> 1, keep 0


def small_task(rng, rule, n_train, tid):
    """3x3 grids of colours 0-3 and their images under `rule`: n_train pairs and one test pair."""
    exs = [Example(g, rule(g)) for g in (rng.integers(0, 4, size=(3, 3)).astype(np.int8) for _ in range(n_train + 1))]
    return Task(tid, tuple(exs[:-1]), (exs[-1],))


def greedy_grid(model, task):
    (found,) = greedy_decode(model, [prompt_ids(task, 0)], max_new=20)
    return None if found is None else decode_grid(found[0])


def test_ttt_turns_a_wrong_greedy_answer_into_the_right_one():
    # A model trained from scratch on one task's leave-one-out samples fits them but fails on the test
    # prompt, which holds one demonstration more than any sample. So first pretrain a tiny model briefly
    # on another family, copying the input, with 1-5 demonstrations per task: it learns the format,
    # prompts of every length here, and to read the test input cell by cell.
    rng = np.random.default_rng(0)
    copies = [small_task(rng, np.copy, int(rng.integers(1, 6)), f"copy{i}") for i in range(300)]
    pre = TrainConfig(steps=200, lr=3e-3, warmup_steps=20, batch_tokens=512, max_len=512, colours=False)
    model = create_model("tiny", seed=0)
    losses = train_steps(model, copies, pre.steps, pre)
    assert losses[0] > 2.0 and np.mean(losses[-10:]) < 0.05, (losses[0], losses[-10:])
    model.eval()

    # A task of a rule it has never seen: a colour cycle. Greedy decoding gets it wrong (it copies).
    task = small_task(np.random.default_rng(1000), lambda g: CYCLE[g], 5, "cycle")
    test_in, truth = task.test[0].input, task.test[0].output
    before = greedy_grid(model, task)
    assert before is None or not np.array_equal(before, truth), before
    weights = {k: v.clone() for k, v in model.state_dict().items()}

    # TTT on the train pairs alone (symmetry views are fine for a colour rule; colour views are not)
    cfg = TTTConfig(steps=48, lr=1e-3, rank=0, batch_tokens=512, symmetries=True, colours=False)
    with task_adapter(model, [task.without_test_outputs()], cfg, time.monotonic() + 300) as tuned:
        assert len(tuned.ttt_losses) == 48 and tuned.ttt_losses[-1] < 0.05, tuned.ttt_losses[::8]
        after = greedy_grid(tuned, task)
    assert after is not None and np.array_equal(after, truth), (test_in.tolist(), truth.tolist(), after)

    # the tuning is gone: the same weights, the same wrong answer
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())
    again = greedy_grid(model, task)
    assert (again is None and before is None) or np.array_equal(again, before)
