"""Views: every symmetry x colour permutation x order inverts exactly, on real ARC tasks."""

import itertools

import numpy as np
import pytest

from arcforge.augment import View, color_permutation, inverse_symmetry, random_view, symmetry, view_set
from arcforge.datasets import load_tasks


@pytest.fixture(scope="module")
def tasks():
    # non-square grids matter: they catch a transpose mixed up with a rotation
    return load_tasks("arc1/train", tasks=["017c7c7b", "0520fde7", "05f2a901", "0a938d79"])


def test_eight_distinct_symmetries_of_a_nonsquare_grid():
    g = np.arange(6, dtype=np.int8).reshape(2, 3)
    images = {symmetry(g, s).tobytes() + bytes(symmetry(g, s).shape) for s in range(8)}
    assert len(images) == 8
    assert symmetry(g, 1).tolist() == np.rot90(g).tolist()
    assert symmetry(g, 4).tolist() == g.T.tolist()
    for s in range(8):
        assert np.array_equal(inverse_symmetry(symmetry(g, s), s), g)


def test_every_view_round_trips_every_grid(tasks):
    rng = np.random.default_rng(0)
    for task, s, keep_zero in itertools.product(tasks, range(8), (True, False)):
        view = View(s, color_permutation(rng, keep_zero), tuple(rng.permutation(len(task.train)).tolist()))
        seen = view.apply(task)
        for i, ex in enumerate(task.test):
            assert np.array_equal(view.invert(seen.test[i].input), ex.input)
            assert np.array_equal(view.invert(seen.test[i].output), ex.output)
        # train examples come back in the view's order
        for j, i in enumerate(view.order):
            assert np.array_equal(view.invert(seen.train[j].input), task.train[i].input)
            assert np.array_equal(view.invert(seen.train[j].output), task.train[i].output)


def test_view_changes_grids_and_keeps_zero(tasks):
    rng = np.random.default_rng(1)
    task = tasks[0]
    view = random_view(rng, len(task.train))
    assert view.colours[0] == 0
    seen = view.apply(task)
    g = task.test[0].input
    assert np.array_equal(seen.test[0].input, view.apply_grid(g))
    assert np.array_equal(view.apply_grid(g), symmetry(np.asarray(view.colours, dtype=np.int8)[g], view.symmetry))


def test_view_set_starts_with_identity_and_covers_symmetries():
    views = view_set(8, n_train=3, seed=0)
    assert views[0].is_identity
    assert sorted(v.symmetry for v in views) == list(range(8))
    assert len({v for v in views}) == 8


def test_bad_views_are_refused():
    with pytest.raises(ValueError):
        View(8)
    with pytest.raises(ValueError):
        View(0, (0, 0, 2, 3, 4, 5, 6, 7, 8, 9))


def test_symmetry_names_say_what_they_do():
    from arcforge.augment import SYMMETRY_NAMES

    g = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int8)
    expect = {"id": g, "rot90": np.rot90(g), "rot180": g[::-1, ::-1], "rot270": np.rot90(g, -1),
              "transpose": g.T, "flip_ud": g[::-1], "anti_transpose": g[::-1, ::-1].T, "flip_lr": g[:, ::-1]}
    for s, name in enumerate(SYMMETRY_NAMES):
        assert np.array_equal(symmetry(g, s), expect[name]), name
