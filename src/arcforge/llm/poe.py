"""Candidates from many views of a task, scored as a product of experts.

1. `candidates_under_views`: DFS under each view (all views' prompts searched in one batch),
   each completion decoded to a grid, taken back to the original frame with `view.invert`, and
   de-duplicated; a candidate remembers in how many views it came up (its votes).
2. `score_under_views`: each candidate, seen through every view (`view.apply_grid`), is scored by
   teacher forcing under that view's prompt; the per-view log-probabilities are summed (the
   product of the views' probabilities, i.e. a product of experts).
3. `rank_candidates`: by PoE sum (votes break ties) or by votes (PoE sum breaks ties).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from arcforge.augment import View
from arcforge.grid import Grid, grid_key
from arcforge.llm.decode import dfs_decode_batch, output_side_bound, score_sequences
from arcforge.llm.text import decode_grid, output_ids, prompt_ids
from arcforge.solver import Candidate
from arcforge.task import Task

METHODS = ("poe", "votes")


@dataclass
class ViewCandidate:
    grid: Grid  # in the task's own frame
    found: dict[int, float] = field(default_factory=dict)  # view index -> DFS log-prob under that view

    @property
    def votes(self) -> int:
        return len(self.found)


def view_prompts(task: Task, test_index: int, views: Sequence[View]) -> list[list[int]]:
    return [prompt_ids(v.apply(task), test_index) for v in views]


def candidates_under_views(model, task: Task, test_index: int, views: Sequence[View], threshold: float = 0.1,
                           max_new: int | None = None, *, max_side: int | None = None,
                           prompts_per_batch: int | None = None, deadline: float | None = None) -> list[ViewCandidate]:
    """Distinct grids that DFS finds (probability >= threshold) under any of `views`, in the
    original frame, most votes first (then best DFS log-prob). Output size is bounded by
    `output_side_bound(task, test_index)` unless max_side is given."""
    if max_side is None:
        max_side = output_side_bound(task, test_index)
    found = dfs_decode_batch(model, view_prompts(task, test_index, views), threshold, max_new,
                             max_side=max_side, prompts_per_batch=prompts_per_batch, deadline=deadline)
    by_key: dict[bytes, ViewCandidate] = {}
    for vi, (view, completions) in enumerate(zip(views, found, strict=True)):
        for tokens, logprob in completions:
            grid = decode_grid(tokens)
            if grid is None:  # cannot happen with the grammar on; kept as the contract
                continue
            grid = view.invert(grid)
            cand = by_key.setdefault(grid_key(grid), ViewCandidate(grid))
            cand.found[vi] = max(logprob, cand.found.get(vi, -np.inf))
    return sorted(by_key.values(), key=lambda c: (-c.votes, -max(c.found.values())))


def score_under_views(model, task: Task, test_index: int, grids: Sequence[Grid], views: Sequence[View],
                      batch_size: int = 32) -> np.ndarray:
    """[len(grids), len(views)] log-probabilities: grid i (original frame), seen through view j,
    as the answer to view j's prompt. Completions sharing a view's prompt share its cache."""
    prompts, completions = [], []
    for view, prompt in zip(views, view_prompts(task, test_index, views), strict=True):
        for g in grids:
            prompts.append(prompt)
            completions.append(output_ids(view.apply_grid(g)))
    scores = score_sequences(model, prompts, completions, batch_size)
    return np.asarray(scores, dtype=np.float64).reshape(len(views), len(grids)).T


def rank_candidates(grids: Sequence[Grid], scores: np.ndarray, votes: Sequence[int], method: str = "poe",
                    source: str = "llm") -> list[Candidate]:
    """Candidates best first. "poe": by summed log-prob over views, votes breaking ties
    (score = the sum). "votes": by number of views that produced the grid, the sum breaking ties
    (score = votes)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got '{method}'")
    scores = np.asarray(scores, dtype=np.float64).reshape(len(grids), -1)
    poe = scores.sum(axis=1)
    if method == "poe":
        order = sorted(range(len(grids)), key=lambda i: (-poe[i], -votes[i], i))
        return [Candidate(grids[i], float(poe[i]), f"{source}:poe") for i in order]
    order = sorted(range(len(grids)), key=lambda i: (-votes[i], -poe[i], i))
    return [Candidate(grids[i], float(votes[i]), f"{source}:votes") for i in order]


def solve_under_views(model, task: Task, test_index: int, views: Sequence[View], threshold: float = 0.1,
                      method: str = "poe", score_views: Sequence[View] | None = None, batch_size: int = 32,
                      max_new: int | None = None) -> list[Candidate]:
    """DFS candidates under `views`, scored under `score_views` (default: the same views),
    ranked by `method`."""
    cands = candidates_under_views(model, task, test_index, views, threshold, max_new)
    if not cands:
        return []
    grids = [c.grid for c in cands]
    scores = score_under_views(model, task, test_index, grids, score_views or views, batch_size)
    return rank_candidates(grids, scores, [c.votes for c in cands], method)
