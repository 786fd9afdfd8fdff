"""The role-swap stage of selection: a candidate put in as a demonstration should keep the real
train pairs predictable. The shipped model prefers a real task's right answer to wrong ones; the
stage drops the least plausible candidates first and never leaves fewer than two; `solve
--role-swap` records what it removed."""

import json

import numpy as np
import pytest

from arcforge.datasets import load_tasks
from arcforge.select import role_swap, role_swap_drops
from arcforge.solver import Candidate

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_drops_the_least_plausible_first_and_keeps_two():
    assert role_swap_drops([0.5, -2.0, 0.4, -1.0], margin=1.0) == [1, 3]  # both more than 1 below 0.5
    assert role_swap_drops([0.5, -2.0, 0.4, -1.0], margin=2.0) == [1]
    assert role_swap_drops([0.5, -2.0, -3.0], margin=1.0) == [2]  # the worst goes; two stay
    assert role_swap_drops([0.5, -2.0], margin=0.1) == []  # two candidates are both attempts anyway
    assert role_swap_drops([0.0, 0.0, 0.0], margin=0.0) == []


def test_role_swap_reports_each_removed_candidate():
    g = [np.full((1, 1), c, dtype=np.int8) for c in range(4)]
    cands = [[Candidate(x, 1.0, f"s{k}") for k, x in enumerate(g)], [Candidate(g[0], 1.0, "s0")]]
    kept, report = role_swap(cands, [[0.0, -5.0, -0.1, -3.0], None], margin=1.0)
    assert [c.source for c in kept[0]] == ["s0", "s2"] and [c.source for c in kept[1]] == ["s0"]
    assert [(r["test"], r["rank"], r["source"], r["rule"]) for r in report] == [
        (0, 1, "s1", "role_swap"), (0, 3, "s3", "role_swap")]
    assert report[0]["delta"] == -5.0 and report[0]["best_delta"] == 0.0 and report[0]["grid"] == [[1]]


@pytest.fixture(scope="module")
def shipped():
    from arcforge.llm.config import LLMOptions
    from arcforge.llm.solver import LLMSolver

    return LLMSolver(LLMOptions(device="cpu"))


def test_shipped_model_prefers_the_right_answer(shipped):
    """68b16354 flips the grid upside down: as a demonstration, the flip helps the model write the
    other train pairs' outputs, and the identity, the mirror, the transpose and the half turn hurt."""
    task = load_tasks("arc1/train", tasks=["68b16354"])[0]
    x, truth = task.test[0].input, task.test[0].output
    grids = [truth, x, np.fliplr(x), x.T.copy(), np.rot90(x, 2).copy()]
    (d,) = shipped.verify(task.without_test_outputs(), [grids], deadline=float("inf"))
    assert np.argmax(d) == 0 and d[0] > 0 > max(d[1:])


def test_no_judgement_without_two_train_pairs_or_two_grids(shipped):
    task = load_tasks("arc1/train", tasks=["68b16354"])[0].without_test_outputs()
    x = task.test[0].input
    one_pair = type(task)(task.id, task.train[:1], task.test)
    assert shipped.verify(one_pair, [[x, x.T.copy()]], deadline=float("inf")) == [None]
    assert shipped.verify(task, [[x]], deadline=float("inf")) == [None]


def test_solve_role_swap_records_what_it_removed(cli, tmp_path):
    """a85d4709: the DSL finds four programs exact on the train pairs; the shipped model judges
    them, the right one stays first and the two least plausible go."""
    run = tmp_path / "run"
    r = cli("solve", "arc1/train", "--tasks", "a85d4709", "--out", run, "--quiet", "--device", "cpu",
            "--workers", "2", "--role-swap", "0.5")
    assert r.returncode == 0, r.stderr
    (rec,) = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    swapped = [f for f in rec["filtered"] if f["rule"] == "role_swap"]
    assert len(swapped) == 2 and all(f["delta"] < f["best_delta"] - 0.5 for f in swapped)
    assert rec["correct"] == [True] and len(rec["candidates"][0]) == 2 and "role_swap" in rec["seconds"]
