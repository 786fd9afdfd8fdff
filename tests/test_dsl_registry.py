"""The DSL's transform list comes from the primitives' registrations (dsl/registry.py)."""

import numpy as np
import pytest

from arcforge.datasets import load_tasks
from arcforge.dsl import registry
from arcforge.dsl.library import library, slow
from arcforge.dsl.registry import IN, Info, expand, primitive

TASKS = ["007bbfb7", "00d62c1b", "0520fde7", "1cf80156", "b91ae062", "3631a71a"]


@pytest.fixture(scope="module")
def tasks():
    return [t.without_test_outputs() for t in load_tasks("arc1/train", tasks=TASKS)]


def test_orders_consistent():
    registry.check()


def test_library_is_the_expansion(tasks):
    for t in tasks:
        lib = library(t)
        assert [n for n, _ in lib] == [n for n, _ in expand(Info.of(t))]
        names = [n for n, _ in lib]
        assert len(names) == len(set(names)), t.id
        assert names[:8] == ["rot90", "rot180", "rot270", "flip_ud", "flip_lr", "transpose", "anti_transpose", "crop"]
        s = slow([ex.output for ex in t.train])
        assert s[0][0] == "largest_rect" and len({n for n, _ in s}) == len(s)


def test_shared_loops_interleave(tasks):
    t = tasks[0]
    cols = [c for c in sorted({int(c) for ex in t.train + t.test for c in np.unique(ex.input)}) if c]
    names = [n for n, _ in library(t)]
    i = names.index(f"crop_c{cols[0]}")
    assert names[i: i + 5] == [f"crop_c{cols[0]}", f"inside_c{cols[0]}", f"keep_c{cols[0]}", f"erase_c{cols[0]}",
                               f"crop_c{cols[1]}"]
    j = names.index("keep4_largest")
    assert names[j: j + 4] == ["keep4_largest", "box4_largest", "keep4_smallest", "box4_smallest"]


def test_a_new_primitive_joins(tasks):
    def stripes(g, c):
        return np.where(np.arange(g.shape[1]) % 2 == 0, c, g).astype(np.int8)

    before = list(registry.REGISTRY)
    try:
        primitive("test_stripes_c{c}", 10_000, c=IN)(stripes)
        primitive("test_flip_{axis}", (10_001, 0), axis={"ud": 0, "lr": 1})(lambda g, axis: np.flip(g, axis))
        registry.check()
        for t in tasks:
            names = [n for n, _ in library(t)]
            cols = [c for c in IN(Info.of(t))]
            assert names[-2 - len(cols):] == [f"test_stripes_c{c}" for c in cols] + ["test_flip_ud", "test_flip_lr"]
            fn = dict(library(t))[f"test_stripes_c{cols[0]}"]
            g = t.train[0].input
            assert np.array_equal(fn(g), stripes(g, cols[0]))
    finally:
        registry.REGISTRY[:] = before
    assert not any(n.startswith("test_") for n, _ in library(tasks[0]))


def test_clashes_refused():
    with pytest.raises(ValueError, match="order"):
        primitive("another_crop", 20)(lambda g: g)
    with pytest.raises(ValueError, match="loops"):
        primitive("nested", (10_002, 0, 0), c=IN)(lambda g, c: g)
    before = list(registry.REGISTRY)
    try:
        primitive("crop_other_c{c}", (130, 9), c=(1, 2))(lambda g, c: g)  # shares IN's loop over other values
        with pytest.raises(ValueError, match="share a loop"):
            registry.check()
    finally:
        registry.REGISTRY[:] = before
