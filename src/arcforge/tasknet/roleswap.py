"""The role-swap check under the tasknet: is a candidate answer consistent with the task's train pairs?

The tasknet knows a task by a learned vector, not by demonstrations in its prompt, so "put the
candidate A in as one more demonstration" means "train the task's vector on it". For each real
train pair B and each of a few views, copies of the task's trained view vector take `steps` steps
of Adam (the model itself frozen) on the other train pairs, once alone (the baseline) and once with
(test input -> A) added for each candidate A; then B's real output is scored (teacher forcing)
under every copy. A candidate's delta is the mean, over the pairs B and the views, of

    log p(B.output | vector trained with A) - log p(B.output | vector trained without A)

in nats: an A that follows the task's rule costs B little, a wrong one pulls the vector away from
it. All copies of one test input train together, packed in the same batches. Only the train pairs
and the test input are read. A task with one train pair has nothing to compare and gets no delta.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from arcforge import precision
from arcforge.augment import View
from arcforge.grid import Grid
from arcforge.llm.text import IGNORE
from arcforge.task import Task
from arcforge.tasknet.data import packed_batch, pair_sequence, token_chunks
from arcforge.tasknet.decode import score_sequences


@contextlib.contextmanager
def frozen(model: torch.nn.Module):
    """The model's own weights take no gradient inside (what trains is a table beside it)."""
    flags = [p.requires_grad for p in model.parameters()]
    model.requires_grad_(False)
    try:
        yield model
    finally:
        for p, f in zip(model.parameters(), flags, strict=True):
            p.requires_grad_(f)


def role_swap_deltas(model, task: Task, test_index: int, grids: Sequence[Grid], rows: Sequence[int],
                     views: Sequence[View], steps: int, lr: float, batch_tokens: int = 1 << 16,
                     deadline: float | None = None) -> np.ndarray | None:
    """[len(grids)] mean log-prob change of the real train outputs when grid i joins the train pairs
    as test[test_index]'s output; `rows[j]` is the model's embedding index of the task under
    `views[j]`. None when the task has fewer than two train pairs or the deadline (time.monotonic())
    passes first."""
    if len(task.train) < 2 or not grids:
        return None
    device = next(model.parameters()).device
    test_in = task.test[test_index].input
    options = [None, *grids]  # the baseline first: the other pairs alone
    train, queries, start = [], [], []
    for b, held in enumerate(task.train):
        others = [(ex.input, ex.output) for ex in task.train[:b] + task.train[b + 1:]]
        for view, row in zip(views, rows, strict=True):
            for a in options:
                copy = len(start)
                pairs = others if a is None else [*others, (test_in, a)]
                train += [pair_sequence(view.apply_grid(i), view.apply_grid(o), copy) for i, o in pairs]
                queries.append(pair_sequence(view.apply_grid(held.input), view.apply_grid(held.output), copy))
                start.append(row)
    table = model.tasks.weight.detach()[torch.as_tensor(start, device=device)].float().clone().requires_grad_(True)
    opt = torch.optim.Adam([table], lr=lr)
    scaler = precision.scaler(device)
    labelled = sum(int((s.labels != IGNORE).sum()) for s in train)
    chunks = list(token_chunks(train, batch_tokens))
    with frozen(model):
        for _ in range(steps):
            if deadline is not None and time.monotonic() > deadline:
                return None
            opt.zero_grad(set_to_none=True)
            for chunk in chunks:  # every copy's loss summed: each copy's gradient is its own
                batch = packed_batch(chunk, device)
                with precision.autocast(device):
                    logits = model(batch["ids"], batch["pos"], batch["emb"], batch["attn"], table=table)
                loss = F.cross_entropy(logits[0].float(), batch["labels"][0], ignore_index=IGNORE,
                                       reduction="sum") / labelled
                scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
    if deadline is not None and time.monotonic() > deadline:
        return None
    scores = np.asarray(score_sequences(model, queries, batch_tokens, table=table.detach()), dtype=np.float64)
    scores = scores.reshape(len(task.train), len(views), len(options))
    return (scores[:, :, 1:] - scores[:, :, :1]).mean(axis=(0, 1))
