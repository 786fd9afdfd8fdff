"""The role-swap check: is a candidate answer consistent with the task's train pairs?

A candidate A for test input t is put in as one more demonstration (t -> A), and each real train
pair B in turn is taken out and becomes the query. If A follows the task's rule, the extra
demonstration helps the model write B's real output (or leaves it as it was); if A is wrong, it
usually makes B's output less likely. For each candidate this gives the mean, over the train
pairs B, of

    log p(B.output | other pairs + (t -> A), B.input) - log p(B.output | other pairs, B.input)

(teacher forcing, nats). A task with one train pair has nothing to compare and gets no delta.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from arcforge.grid import Grid
from arcforge.llm.decode import score_sequences
from arcforge.llm.text import output_ids, prompt_ids
from arcforge.task import Example, Task


def role_swap_deltas(model, task: Task, test_index: int, grids: Sequence[Grid], batch_size: int = 16,
                     max_prompt_tokens: int | None = None) -> np.ndarray | None:
    """[len(grids)] mean log-prob change of the real train outputs when grid i joins the
    demonstrations as test[test_index]'s output; None when the task has fewer than two train pairs
    or a prompt would pass `max_prompt_tokens`. Reads the train pairs and the test input only."""
    if len(task.train) < 2 or not grids:
        return None
    test_in = task.test[test_index].input
    prompts, completions = [], []
    for b, pair in enumerate(task.train):
        others = task.train[:b] + task.train[b + 1:]
        query = (Example(pair.input),)
        rows = [prompt_ids(replace(task, train=others, test=query), 0)]
        rows += [prompt_ids(replace(task, train=(*others, Example(test_in, g)), test=query), 0) for g in grids]
        if max_prompt_tokens is not None and max(map(len, rows)) > max_prompt_tokens:
            return None
        prompts += rows
        completions += [output_ids(pair.output)] * len(rows)
    scores = np.asarray(score_sequences(model, prompts, completions, batch_size), dtype=np.float64)
    scores = scores.reshape(len(task.train), len(grids) + 1)
    return (scores[:, 1:] - scores[:, :1]).mean(axis=0)
