"""Bad input: one-line errors naming file, task and place; exit status 2; nothing written."""

import json

import numpy as np
import pytest

from arcforge.errors import ArcError
from arcforge.grid import parse_grid
from arcforge.task import parse_task

GOOD = {"train": [{"input": [[1, 2], [3, 4]], "output": [[4, 3], [2, 1]]}], "test": [{"input": [[5, 6], [7, 8]]}]}


def bad(mutate):
    task = json.loads(json.dumps(GOOD))
    mutate(task)
    return task


CASES = [
    # (description, task JSON or raw text, expected fragment of the error)
    ("missing train", bad(lambda t: t.pop("train")), "task 'abc' is missing 'train'"),
    ("missing test", bad(lambda t: t.pop("test")), "task 'abc' is missing 'test'"),
    ("no train pairs", bad(lambda t: t.update(train=[])), "task 'abc' has no train pairs"),
    ("missing input", bad(lambda t: t["test"][0].pop("input")), "task 'abc' test[0] is missing 'input'"),
    ("missing output", bad(lambda t: t["train"][0].pop("output")), "task 'abc' train[0] is missing 'output'"),
    ("empty grid", bad(lambda t: t["test"][0].update(input=[])), "task 'abc' test[0].input is empty"),
    ("empty row", bad(lambda t: t["test"][0].update(input=[[]])), "task 'abc' test[0].input row 0 is empty"),
    ("ragged", bad(lambda t: t["test"][0].update(input=[[1, 2], [3, 4], [5, 6], [7]])),
     "task 'abc' test[0].input row 3 has 1 cells, row 0 has 2"),
    ("value 10", bad(lambda t: t["train"][0].update(output=[[4, 10], [2, 1]])),
     "task 'abc' train[0].output row 0 col 1 is 10, outside 0-9"),
    ("negative", bad(lambda t: t["train"][0].update(output=[[4, -1], [2, 1]])), "row 0 col 1 is -1, outside 0-9"),
    ("float", bad(lambda t: t["train"][0].update(input=[[1.5, 2], [3, 4]])),
     "task 'abc' train[0].input row 0 col 0 is 1.5, not an integer"),
    ("string", bad(lambda t: t["train"][0].update(input=[["1", 2], [3, 4]])), "row 0 col 0 is '1', not an integer"),
    ("bool", bad(lambda t: t["train"][0].update(input=[[True, 2], [3, 4]])), "row 0 col 0 is True, not an integer"),
    ("too tall", bad(lambda t: t["test"][0].update(input=[[1]] * 31)), "test[0].input has 31 rows, at most 30"),
    ("too wide", bad(lambda t: t["test"][0].update(input=[[1] * 31])), "test[0].input row 0 has 31 cells, at most 30"),
]
FILE_CASES = CASES[::3] + [("not an object", [1, 2], "expected a task object or an object of tasks")]


@pytest.mark.parametrize("name,task,fragment", CASES, ids=[c[0] for c in CASES])
def test_parse_errors_name_the_place(name, task, fragment):
    with pytest.raises(ArcError) as err:
        parse_task(task, "abc", "f.json")
    assert fragment in str(err.value)
    assert str(err.value).startswith("f.json: ")


def test_good_task_parses():
    t = parse_task(GOOD, "abc")
    assert t.train[0].output.dtype == np.int8
    assert t.test[0].output is None
    assert parse_grid([[0, 9]], "g").tolist() == [[0, 9]]


@pytest.mark.parametrize("name,task,fragment", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_cli_rejects_bad_task_file(cli, tmp_path, name, task, fragment):
    path = tmp_path / "abc.json"
    path.write_text(json.dumps(task))
    out = tmp_path / "run"
    r = cli("solve", path, "--out", out, "--quiet")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}")
    assert fragment in lines[0]
    assert "Traceback" not in r.stderr
    assert not out.exists()  # nothing half-written


def test_cli_rejects_invalid_json(cli, tmp_path):
    path = tmp_path / "challenges.json"
    path.write_text('{"abc": {"train": [}')
    r = cli("solve", path, "--out", tmp_path / "run")
    assert r.returncode == 2
    assert r.stderr.strip() == f"error: {path}: invalid JSON at line 1 column 20: Expecting value"
    assert not (tmp_path / "run").exists()


def test_cli_kaggle_file_names_the_task(cli, tmp_path):
    path = tmp_path / "challenges.json"
    good = json.loads(json.dumps(GOOD))
    path.write_text(json.dumps({"ok1": good, "bad2": bad(lambda t: t["test"][0].update(input=[[1, 2], [3]]))}))
    r = cli("solve", path, "--out", tmp_path / "run")
    assert r.returncode == 2
    assert r.stderr.strip() == f"error: {path}: task 'bad2' test[0].input row 1 has 1 cells, row 0 has 2"


def test_cli_unknown_dataset(cli, tmp_path):
    r = cli("solve", "arc3/eval", "--out", tmp_path / "run")
    assert r.returncode == 2 and "unknown dataset 'arc3/eval'" in r.stderr


# ---- pathological files: every one is an ArcError (one line, exit 2), never a traceback ----

def _loads_or_refuses(tmp_path, content: bytes) -> None:
    from arcforge.datasets import load_tasks

    path = tmp_path / "fuzz.json"
    path.write_bytes(content)
    try:
        load_tasks(str(path))
    except ArcError as e:
        assert "\n" not in str(e) and str(e).startswith(str(path)), str(e)


def test_deep_nesting_and_huge_numbers_are_one_line_errors(cli, tmp_path):
    for content, fragment in ((b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
                              (b'{"a": {"train": [{"input": [[' + b"9" * 5000 + b"]]}]}}", "unreadable JSON value"),
                              (bytes(range(256)) * 4, "not a UTF-8 text file")):
        path = tmp_path / "bad.json"
        path.write_bytes(content)
        r = cli("solve", path, "--out", tmp_path / "run", "--solver", "transforms")
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-500:]
        assert len(r.stderr.strip().splitlines()) == 1 and fragment in r.stderr, r.stderr
        assert not (tmp_path / "run").exists()


def test_fuzzed_task_files_load_or_fail_in_one_line(tmp_path):
    """Random bytes, truncated real files, and JSON of every shape with wrong types at every level."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    real = json.dumps({"abc": {**GOOD, "test": [{"input": [[5, 6], [7, 8]], "output": [[8, 7], [6, 5]]}]}}).encode()
    leaves = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                       st.text(max_size=5), st.sampled_from([[[1]], [[1, 2], [3]], [[10]], [[]], []]))
    values = st.recursive(leaves, lambda kids: st.one_of(
        st.lists(kids, max_size=4),
        st.dictionaries(st.sampled_from(["train", "test", "input", "output", "abc", "x"]), kids, max_size=4)),
        max_leaves=30)
    shaped = st.builds(lambda tr, te, io: {"t1": {"train": tr, "test": te}} if io else {"train": tr, "test": te},
                       values, values, st.booleans())

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(st.binary(max_size=200), st.integers(0, len(real)).map(lambda n: real[:n]),
                     values.map(lambda v: json.dumps(v).encode()), shaped.map(lambda v: json.dumps(v).encode())))
    def check(content):
        _loads_or_refuses(tmp_path, content)

    check()
