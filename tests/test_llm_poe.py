"""Candidates under views and product-of-experts scoring: grids found under rotated,
colour-permuted views come back in the task's own frame; PoE and voting rank a known case the
way they must; a real tiny model's DFS log-probs equal its scores under the same views."""

import math
from collections import defaultdict

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from arcforge.augment import View, color_permutation, view_set  # noqa: E402
from arcforge.datasets import load_tasks  # noqa: E402
from arcforge.llm.decode import FunctionLM  # noqa: E402
from arcforge.llm.hf import VALID_TOKENS  # noqa: E402
from arcforge.llm.poe import (  # noqa: E402
    candidates_under_views,
    rank_candidates,
    score_under_views,
    solve_under_views,
    view_prompts,
)
from arcforge.llm.text import encode_pairs, output_ids  # noqa: E402
from arcforge.task import Example, Task  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def table_lm(table: dict[tuple, dict[tuple, float]]) -> FunctionLM:
    """A hand-set language model: after prompt P it writes completion C with probability
    table[P][C] (next-token probabilities follow from the prefix tree of the completions). Off the
    tree it is uniform over the valid tokens."""

    def fn(seqs):
        out = np.full((len(seqs), 16), -np.inf)
        for i, s in enumerate(seqs):
            prompt = max((p for p in table if tuple(s[:len(p)]) == p), key=len)
            gen = tuple(s[len(prompt):])
            mass = defaultdict(float)
            for c, p in table[prompt].items():
                if c[:len(gen)] == gen and len(c) > len(gen):
                    mass[c[len(gen)]] += p
            total = sum(mass.values())
            if total == 0:
                out[i, list(VALID_TOKENS)] = -math.log(len(VALID_TOKENS))
            for t, m in mass.items():
                out[i, t] = math.log(m / total)
        return out

    return FunctionLM(fn)


def answers(task, views, per_view):
    """table_lm table: under view j, grid g (in the task's frame) with probability per_view[j][g]."""
    return {tuple(p): {tuple(output_ids(v.apply_grid(g))): pr for g, pr in per_view[j]}
            for j, (v, p) in enumerate(zip(views, view_prompts(task, 0, views), strict=True))}


@pytest.fixture(scope="module")
def task():
    # non-square output (9x3): a rotation that is not undone, or undone the wrong way, shows
    return load_tasks("arc1/train", tasks=["017c7c7b"])[0]


def test_candidates_from_rotated_colour_permuted_views_come_back_in_the_original_frame(task):
    truth = task.test[0].output
    alt = truth.copy()
    alt[0, 0] = (alt[0, 0] + 1) % 10
    rng = np.random.default_rng(3)
    views = [View(1, color_permutation(rng), (2, 0, 1)), View(6, color_permutation(rng, keep_zero=False)), View()]
    seen = views[0].apply_grid(truth)
    assert seen.shape == (3, 9) and not np.array_equal(views[0].invert(seen), seen.T)
    blind = task.without_test_outputs()
    lm = table_lm(answers(task, views, [[(truth, 0.7), (alt, 0.3)], [(truth, 1.0)], [(truth, 1.0)]]))

    cands = candidates_under_views(lm, blind, 0, views, threshold=0.2)
    assert len(cands) == 2
    assert np.array_equal(cands[0].grid, truth) and sorted(cands[0].found) == [0, 1, 2]
    assert np.array_equal(cands[1].grid, alt) and list(cands[1].found) == [0]
    assert cands[0].found[0] == pytest.approx(math.log(0.7)) and cands[1].found[0] == pytest.approx(math.log(0.3))

    scores = score_under_views(lm, blind, 0, [c.grid for c in cands], views)
    assert scores.shape == (2, 3)
    assert np.allclose(scores[0], [math.log(0.7), 0, 0])
    assert scores[1, 0] == pytest.approx(math.log(0.3))
    assert (scores[1, 1:] < -10).all()  # alt is nowhere in the other views' answers

    # views whose DFS finds nothing above the threshold add no candidates
    assert len(candidates_under_views(lm, blind, 0, views, threshold=0.8)) == 1


def small_task():
    a = lambda x: np.array(x, dtype=np.int8)
    return Task("small", (Example(a([[1, 2], [3, 4]]), a([[2, 1], [4, 3]])),
                          Example(a([[5, 6], [7, 8]]), a([[6, 5], [8, 7]]))),
                (Example(a([[1, 1], [2, 3]])),))


def test_product_of_experts_and_votes_rank_a_known_case():
    task = small_task()
    a_grid = np.array([[1, 1], [3, 2]], dtype=np.int8)
    b_grid = np.array([[1, 1], [2, 3]], dtype=np.int8)
    views = view_set(4, 2, seed=1)
    # A is the likelier answer in three views, B by far the likelier in the fourth
    per_view = [[(a_grid, 0.6), (b_grid, 0.4)]] * 3 + [[(a_grid, 0.01), (b_grid, 0.99)]]
    lm = table_lm(answers(task, views, per_view))

    cands = candidates_under_views(lm, task, 0, views, threshold=0.5)
    assert [c.votes for c in cands] == [3, 1]
    assert np.array_equal(cands[0].grid, a_grid) and np.array_equal(cands[1].grid, b_grid)
    grids = [c.grid for c in cands]
    scores = score_under_views(lm, task, 0, grids, views)
    want_a, want_b = 3 * math.log(0.6) + math.log(0.01), 3 * math.log(0.4) + math.log(0.99)
    assert np.allclose(scores.sum(1), [want_a, want_b])

    poe = rank_candidates(grids, scores, [c.votes for c in cands], "poe")
    assert np.array_equal(poe[0].grid, b_grid) and np.array_equal(poe[1].grid, a_grid)
    assert poe[0].score == pytest.approx(want_b) and poe[0].source == "llm:poe"
    votes = rank_candidates(grids, scores, [c.votes for c in cands], "votes")
    assert np.array_equal(votes[0].grid, a_grid) and [c.score for c in votes] == [3, 1]

    # the whole chain in one call
    best = solve_under_views(lm, task, 0, views, threshold=0.5)
    assert np.array_equal(best[0].grid, b_grid) and best[0].score == pytest.approx(want_b)
    assert np.array_equal(solve_under_views(lm, task, 0, views, threshold=0.5, method="votes")[0].grid, a_grid)


def test_ties_are_broken_by_the_other_criterion():
    grids = [np.full((1, 1), i, dtype=np.int8) for i in range(3)]
    scores = np.array([[-1.0, -2.0], [-2.0, -1.0], [-0.5, -3.0]])  # sums -3, -3, -3.5
    ranked = rank_candidates(grids, scores, [1, 4, 9], "poe")
    assert [int(c.grid[0, 0]) for c in ranked] == [1, 0, 2]
    ranked = rank_candidates(grids, scores, [2, 2, 1], "votes")
    assert [int(c.grid[0, 0]) for c in ranked] == [0, 1, 2]  # equal votes: the better sum first
    with pytest.raises(ValueError):
        rank_candidates(grids, scores, [1, 1, 1], "best")


def test_tiny_model_dfs_logprobs_equal_scores_under_the_same_views():
    torch.manual_seed(0)
    cfg = transformers.Qwen2Config(vocab_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                   num_key_value_heads=1, intermediate_size=64, max_position_embeddings=512)
    model = transformers.AutoModelForCausalLM.from_config(cfg)
    task = small_task()
    truth = np.array([[1, 1], [3, 2]], dtype=np.int8)
    views = view_set(4, 2, seed=0)
    # a moment of test-time training on the task's views, so the model has opinions
    seqs = [encode_pairs(v.apply(task.with_test_outputs([truth])), 0, test_output=True) for v in views]
    width = max(len(i) for i, _ in seqs)
    ids, labels = torch.full((len(seqs), width), 15), torch.full((len(seqs), width), -100)
    for k, (i, lab) in enumerate(seqs):
        ids[k, :len(i)], labels[k, :len(lab)] = torch.tensor(i), torch.tensor(lab)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(40):
        loss = model(input_ids=ids, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()

    cands = candidates_under_views(model, task, 0, views, threshold=0.02, max_side=2)
    assert len(cands) >= 3 and max(c.votes for c in cands) >= 2
    scores = score_under_views(model, task, 0, [c.grid for c in cands], views, batch_size=3)
    for i, c in enumerate(cands):
        for j, lp in c.found.items():
            assert scores[i, j] == pytest.approx(lp, abs=1e-4)
    ranked = rank_candidates([c.grid for c in cands], scores, [c.votes for c in cands])
    assert [c.score for c in ranked] == sorted(scores.sum(1), reverse=True)
