"""Test-time training: fits the task's own pairs, raises the held-out answer's likelihood, and leaves the model as it was."""

import time

import numpy as np
import pytest
import torch

from arcforge.llm.decode import score_sequences
from arcforge.llm.model import create_model
from arcforge.llm.text import output_ids, prompt_ids
from arcforge.llm.ttt import TTTConfig, task_adapter
from arcforge.task import Example, Task


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
