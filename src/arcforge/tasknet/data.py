"""Training data of the task-embedding transformer: one pair per sequence, each (task, view) an index.

A sequence is  BOS IN <input rows, each ending in NL> OUT <output rows> EOS. Each token's position
is (row, column, part): the cell at row r, column c of the input is at (r+1, c+1, 0), of the output
at (r+1, c+1, 1); a row's NL sits one column past its last cell; BOS, IN and OUT are at row 0. The
loss is on what follows OUT: the output cells, their NLs and the EOS; with `inputs`, also on the
input's tokens (the model learns to compress the grids it reads as well), and then the run's test
inputs, whose outputs it never sees, come in as sequences of an input alone.

Views: each task is seen under `n_views` fixed views (the identity first, then the other
symmetries, each with its own colour permutation keeping 0); a view of a task has its own
embedding, since a rule such as "move right" or "red becomes blue" changes with the view.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import torch

from arcforge.augment import View, view_set
from arcforge.grid import Grid
from arcforge.llm.text import BOS, EOS, IGNORE, IN, NL, OUT, encode_grid
from arcforge.task import Task
from arcforge.tasknet.model import packed


def grid_positions(grid: Grid, part: int) -> np.ndarray:
    """(row, column, part) of each token of encode_grid(grid)."""
    h, w = grid.shape
    rows = np.repeat(np.arange(1, h + 1), w + 1)
    cols = np.tile(np.arange(1, w + 2), h)
    return np.stack([rows, cols, np.full(h * (w + 1), part)], axis=1)


def prompt(grid: Grid) -> tuple[list[int], np.ndarray]:
    """Tokens and positions up to and including OUT: what the model sees before writing."""
    ids = [BOS, IN, *encode_grid(grid), OUT]
    pos = np.concatenate([[[0, 0, 0], [0, 0, 0]], grid_positions(grid, 0), [[0, 0, 1]]]).astype(np.int64)
    return ids, pos


def next_position(pos, token) -> torch.Tensor:
    """Where the token after `token` goes while the output is being written, `token` sitting at `pos`
    (row, column, part): one position (3,) or a batch of them (n, 3) with their tokens (n,)."""
    pos, token = torch.as_tensor(pos), torch.as_tensor(token)
    r, c, part = pos.unbind(-1)
    is_out, is_nl = token == OUT, token == NL
    return torch.stack([torch.where(is_out, 1, torch.where(is_nl, r + 1, r)),
                        torch.where(is_out | is_nl, 1, c + 1),
                        torch.where(is_out, 1, part)], -1)


@dataclass
class Sequence:
    ids: np.ndarray  # tokens
    pos: np.ndarray  # (n, 3)
    labels: np.ndarray  # the next token where the loss counts, IGNORE elsewhere
    emb: int  # (task, view) embedding index


def pair_sequence(inp: Grid, out: Grid, emb: int, inputs: bool = False) -> Sequence:
    """One pair; the labels cover the output, and with `inputs` the input too (IN predicts its first
    cell, ... its last NL predicts OUT)."""
    ids, pos = prompt(inp)
    out_ids = [*encode_grid(out), EOS]
    out_pos = np.concatenate([grid_positions(out, 1), [[out.shape[0] + 1, 1, 1]]])
    all_ids = np.array(ids + out_ids, dtype=np.int64)
    labels = np.full(len(all_ids), IGNORE, dtype=np.int64)
    labels[len(ids) - 1:-1] = all_ids[len(ids):]  # OUT predicts the first cell, ... the last NL predicts EOS
    if inputs:
        labels[1:len(ids) - 1] = all_ids[2:len(ids)]
    return Sequence(all_ids, np.concatenate([pos, out_pos]).astype(np.int64), labels, emb)


def input_sequence(inp: Grid, emb: int) -> Sequence:
    """An input alone (a test input, whose output is not known), up to OUT, labelled as in
    pair_sequence with `inputs`."""
    ids, pos = prompt(inp)
    ids = np.array(ids, dtype=np.int64)
    labels = np.full(len(ids), IGNORE, dtype=np.int64)
    labels[1:-1] = ids[2:]
    return Sequence(ids, pos, labels, emb)


def task_views(task: Task, n_views: int) -> list[View]:
    """The fixed views of a task (the same on every run: seeded by its id); no example order."""
    return view_set(n_views, len(task.train), seed=zlib.crc32(task.id.encode()), shuffle=False)


def training_pairs(tasks: list[Task], demonstrations_only: set[str], n_views: int,
                   inputs: bool = False) -> list[Sequence]:
    """Every pair of every task under each of its views. Tasks named in `demonstrations_only` (the
    run's own tasks) give their train pairs only; the others (training sets) their test pairs too.
    With `inputs` the labels cover the inputs too, and the run's tasks add their test inputs alone.
    Task i's view j has embedding index i * n_views + j."""
    seqs = []
    for i, task in enumerate(tasks):
        pairs = list(task.train)
        own = task.id in demonstrations_only
        if not own:
            pairs += [ex for ex in task.test if ex.output is not None]
        for j, view in enumerate(task_views(task, n_views)):
            for ex in pairs:
                seqs.append(pair_sequence(view.apply_grid(ex.input), view.apply_grid(ex.output), i * n_views + j,
                                          inputs))
            if inputs and own:
                seqs += [input_sequence(view.apply_grid(ex.input), i * n_views + j) for ex in task.test]
    return seqs


def packed_batch(seqs: list[Sequence], device) -> dict:
    """Sequences concatenated in one row (no padding); "attn" holds their boundaries."""
    t = lambda arrays: torch.as_tensor(np.concatenate(arrays)).unsqueeze(0).to(device, non_blocking=True)
    return {
        "ids": t([s.ids for s in seqs]),
        "pos": t([s.pos for s in seqs]),
        "labels": t([s.labels for s in seqs]),
        "emb": t([np.full(len(s.ids), s.emb) for s in seqs]),
        "attn": packed([len(s.ids) for s in seqs], device),
    }


def token_chunks(seqs: list[Sequence], tokens: int):
    """`seqs` in order, cut into runs of at most `tokens` tokens (a longer sequence alone)."""
    i = 0
    while i < len(seqs):
        j, used = i + 1, len(seqs[i].ids)
        while j < len(seqs) and used + len(seqs[j].ids) <= tokens:
            used += len(seqs[j].ids)
            j += 1
        yield seqs[i:j]
        i = j


def draw_batch(seqs: list[Sequence], rng: np.random.Generator, tokens: int,
               run: list[Sequence] | None = None, run_share: float = 0.0) -> list[Sequence]:
    """Random sequences until `tokens` would be exceeded (at least one): from `run` (the run's own
    demonstrations) with probability `run_share`, else from `seqs` (the others)."""
    batch, used = [], 0
    while True:
        pool = run if run and (not seqs or rng.random() < run_share) else seqs
        s = pool[int(rng.integers(len(pool)))]
        if batch and used + len(s.ids) > tokens:
            return batch
        batch.append(s)
        used += len(s.ids)
