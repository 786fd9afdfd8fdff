"""Kaggle submissions: writing, reading, and pass@2 scoring checked by hand."""

import json

import numpy as np
import pytest

from arcforge.datasets import load_tasks
from arcforge.errors import ArcError
from arcforge.submission import build_submission, read_submission, score_attempts, write_submission

# two tasks with one test input, two with two test inputs (all from arc1/eval)
IDS = ["00576224", "009d5c81", "12997ef3", "1d398264"]


@pytest.fixture(scope="module")
def tasks():
    ts = load_tasks("arc1/eval", tasks=IDS)
    assert [len(t.test) for t in ts] == [1, 1, 2, 2]
    return ts


def wrong(grid):
    g = grid.copy()
    g[0, 0] = (g[0, 0] + 1) % 10
    return g


def write(tmp_path, tasks, attempts):
    path = tmp_path / "submission.json"
    write_submission(path, build_submission(tasks, attempts))
    return path


def test_truth_scores_100_and_wrong_scores_0(tasks, tmp_path):
    truth = {t.id: [[ex.output] for ex in t.test] for t in tasks}
    assert score_attempts(read_submission(write(tmp_path, tasks, truth)), tasks).total == 1.0
    bad = {t.id: [[wrong(ex.output), wrong(wrong(ex.output))] for ex in t.test] for t in tasks}
    assert score_attempts(read_submission(write(tmp_path, tasks, bad)), tasks).total == 0.0


def test_partial_score_by_hand(tasks, tmp_path):
    a, b, c, d = tasks
    attempts = {
        a.id: [[wrong(a.test[0].output), a.test[0].output]],  # right on attempt 2 -> 1
        b.id: [[wrong(b.test[0].output)]],  # wrong -> 0
        c.id: [[c.test[0].output], [wrong(c.test[1].output)]],  # 1 of 2 -> 0.5
        # d missing entirely -> 0 (the submission still lists it with empty attempts)
    }
    path = write(tmp_path, tasks, attempts)
    sub = json.loads(path.read_text())
    assert list(sub) == IDS and len(sub[d.id]) == 2 and sub[d.id][0] == {"attempt_1": [[0]], "attempt_2": [[0]]}
    score = score_attempts(read_submission(path), tasks)
    assert score.per_task == {a.id: 1.0, b.id: 0.0, c.id: 0.5, d.id: 0.0}
    assert score.total == pytest.approx((1 + 0 + 0.5 + 0) / 4)
    assert score.tasks_solved == 1


def test_shape_mismatch_is_wrong_not_an_error(tasks):
    t = tasks[0]
    truth = t.test[0].output
    padded = np.zeros((truth.shape[0] + 1, truth.shape[1]), np.int8)
    padded[: truth.shape[0]] = truth
    assert score_attempts({t.id: [[padded]]}, [t]).total == 0.0


def test_cli_score(cli, tasks, tmp_path):
    a, b, c, d = tasks
    attempts = {a.id: [[a.test[0].output]], c.id: [[c.test[0].output], [c.test[1].output]]}
    path = write(tmp_path, tasks, attempts)
    r = cli("score", path, "--dataset", "arc1/eval", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["score"] == 0.5 and out["tasks_solved"] == 2 and out["per_task"][b.id] == 0.0
    # against a Kaggle solutions file
    sols = tmp_path / "solutions.json"
    sols.write_text(json.dumps({t.id: [ex.output.tolist() for ex in t.test] for t in tasks}))
    r = cli("score", path, "--solutions", sols)
    assert r.returncode == 0 and "pass@2 0.5000 (50.00%), 2 fully solved, over the 4 tasks" in r.stdout
    r = cli("score", path, "--dataset", "arc1/eval", "--all", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["tasks"] == 400 and json.loads(r.stdout)["score"] == 2 / 400


@pytest.mark.parametrize("content,fragment", [
    ('{"x": [}', "invalid JSON"),
    ("[1, 2]", "a submission must be an object of task ids"),
    ('{"00576224": {"attempt_1": [[1]]}}', "task '00576224' must map to a list"),
    ('{"00576224": [{"attempt_3": [[1]]}]}', "task '00576224' [0] has unknown key 'attempt_3'"),
    ('{"00576224": [{"attempt_1": [[1]]}]}', "task '00576224' [0] has no attempt_2"),
    ('{"00576224": [{"attempt_1": [[1, 2], [3]], "attempt_2": [[1]]}]}',
     "task '00576224' [0].attempt_1 row 1 has 1 cells, row 0 has 2"),
    ('{"00576224": [{"attempt_1": [[1]], "attempt_2": [[1]]}, {"attempt_1": [[1]], "attempt_2": [[1]]}]}',
     "task '00576224' has 2 entries"),
    ('{"nope": [{"attempt_1": [[1]], "attempt_2": [[1]]}]}', "task 'nope' is not in arc1/eval"),
])
def test_cli_rejects_malformed_submission(cli, tmp_path, content, fragment):
    path = tmp_path / "submission.json"
    path.write_text(content)
    r = cli("score", path, "--dataset", "arc1/eval")
    assert r.returncode == 2, r.stdout
    assert len(r.stderr.strip().splitlines()) == 1 and fragment in r.stderr


def test_scoring_needs_known_solutions(tasks):
    hidden = tasks[0].without_test_outputs()
    with pytest.raises(ArcError, match="no known solutions"):
        score_attempts({hidden.id: [[tasks[0].test[0].output]]}, [hidden])
