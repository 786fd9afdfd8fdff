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


def _results(fn, grids):
    """(grid, fn's result) for every grid where fn gives one (the search treats these errors as none)."""
    for g in grids:
        try:
            r = fn(g)
        except (ValueError, IndexError):
            continue
        if r is not None:
            yield g, r


def test_shape_promises_hold_on_real_grids():
    """Every transform registered with a shape promise (same_shape=True, or shape=) gives grids of the
    promised shape, and none where it promises none, on every grid of 40 training tasks (inputs,
    outputs, and their transposes and top-left quarters)."""
    sample = load_tasks("arc1/train")[::10]
    promised = 0
    for t in sample:
        grids = [g for ex in t.train + t.test for g in (ex.input, ex.output) if g is not None]
        grids += [np.ascontiguousarray(g.T) for g in grids] + [g[: max(1, g.shape[0] // 2), : max(1, g.shape[1] // 2)]
                                                               for g in grids]
        for name, fn in library(t):
            if fn.shape_of is None:
                continue
            promised += 1
            for g, r in _results(fn, grids):
                assert r.shape == fn.shape_of(*g.shape), (t.id, name, g.shape, r.shape)
    assert promised > 20 * 100  # most of the library promises a shape


def _same_as_unpromised(t, monkeypatch):
    """Whether a depth-2 search of t finds the same candidates with the library's promises as without."""
    from arcforge.dsl import search

    def plain(task):  # the same transforms without their promises
        return [(n, lambda g, fn=fn: fn(g)) for n, fn in library(task)]

    fast = search.DslSearch(max_depth=2, time_limit=60).solve(t, float("inf"))
    monkeypatch.setattr(search, "library", plain)
    full = search.DslSearch(max_depth=2, time_limit=60).solve(t, float("inf"))
    monkeypatch.undo()
    return [[(c.grid.tobytes(), c.source) for c in per] for per in fast] == \
        [[(c.grid.tobytes(), c.source) for c in per] for per in full]


def test_the_shape_skip_changes_no_candidate(tasks, monkeypatch):
    """The search's skip of transforms whose promised shapes cannot become the outputs' (and its memo of
    first images) finds what calling every transform finds."""
    for t in tasks[:4]:
        assert _same_as_unpromised(t, monkeypatch), t.id


def test_changes_promises_hold_on_real_grids():
    """Every transform registered with changes=k leaves every cell not of colour k as it was, on every
    grid of 40 training tasks (inputs, outputs, and their transposes)."""
    promised = 0
    for t in load_tasks("arc1/train")[5::10]:
        grids = [g for ex in t.train + t.test for g in (ex.input, ex.output) if g is not None]
        grids += [np.ascontiguousarray(g.T) for g in grids]
        for name, fn in library(t):
            if fn.changes is None:
                continue
            for g, r in _results(fn, grids):
                promised += 1
                kept = g != fn.changes
                assert r.shape == g.shape and (r[kept] == g[kept]).all(), (t.id, name)
    assert promised > 20_000


def test_the_colour_skip_changes_no_candidate(monkeypatch):
    """The last level's skip of transforms that change one colour on states whose other cells rule out
    the output finds what calling every transform finds, on tasks where it skips many."""
    from arcforge.dsl import search

    calls = [0, 0]
    check = search._outside_fits

    def counted(g, target, k):
        ok = check(g, target, k)
        calls[ok] += 1
        return ok

    for t in load_tasks("arc1/train", tasks=["10fcaaa3", "e9614598", "178fcbfb"]):
        monkeypatch.setattr(search, "_outside_fits", counted)
        assert _same_as_unpromised(t.without_test_outputs(), monkeypatch), t.id
    assert calls[False] > 100 and calls[True] > 100
