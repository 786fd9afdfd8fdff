"""Writing outputs with the task-embedding transformer: every test input of the run under every view
of its task, greedily, many rows at a time with preallocated key/value buffers; answers mapped back by
their view and voted.

    decode_rows(model, rows, path, deadline)   # appends one JSON line per written row to path

    score_rows(model, tasks, ..., rows, path)  # each distinct answer scored under every view

Rows already in `path` (an earlier, killed run) are not written again. The first view of every test
input comes before any second view, so a run that runs out of time still has an answer for each.
Then each test input's distinct answers are scored under all its task's views (teacher forcing, packed
rows), so that they can be ranked by the product of the views' probabilities (llm.poe.rank_candidates)
as well as by votes.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from arcforge import precision
from arcforge.augment import View
from arcforge.grid import MAX_SIDE, Grid, grid_key
from arcforge.llm.decode import GridGrammar, threshold_search
from arcforge.llm.text import EOS, IGNORE, PAD, decode_grid, max_output_tokens
from arcforge.submission import read_jsonl
from arcforge.task import Task
from arcforge.tasknet.data import Sequence, next_position, packed_batch, pair_sequence, prompt, token_chunks
from arcforge.tasknet.model import Cached, new_caches

MAX_OUTPUT = max_output_tokens()  # 30 rows of 30 cells and NL, then EOS


@dataclass
class Row:
    task: str
    test: int  # test input index
    view: int  # view index of the task
    grid: Grid  # the test input under that view
    emb: int  # embedding index of (task, view)
    side: int = MAX_SIDE  # largest side its output may have (llm.decode.output_side_bound)

    @property
    def limit(self) -> int:
        return max_output_tokens(self.side, self.side)

    @property
    def key(self) -> tuple[str, int, int]:
        return self.task, self.test, self.view


class Writer:
    """Rows being written by the model: prompts (a grid and an embedding index each) left-padded
    and run once, then one token per row per `feed`, keys and values in preallocated buffers;
    `keep` narrows the rows (a copy of the buffers). Use its calls inside `context()`."""

    def __init__(self, model, grids: list[Grid], embs: list[int], max_new: int):
        self.model, self.device = model, next(model.parameters()).device
        self.dtype = precision.autocast_dtype(self.device)
        prompts = [prompt(g) for g in grids]
        n, self.width = len(grids), max(len(p[0]) for p in prompts)
        ids = torch.full((n, self.width), PAD, dtype=torch.long)
        pos = torch.zeros((n, self.width, 3), dtype=torch.long)
        valid = torch.ones((n, self.width + max_new), dtype=torch.bool)
        for i, (p_ids, p_pos) in enumerate(prompts):
            ids[i, self.width - len(p_ids):] = torch.as_tensor(p_ids)
            pos[i, self.width - len(p_ids):] = torch.as_tensor(p_pos)
            valid[i, :self.width - len(p_ids)] = False
        self.ids, self.pos, self.valid = ids.to(self.device), pos.to(self.device), valid.to(self.device)
        self.emb = torch.as_tensor(embs, device=self.device).unsqueeze(1)
        self.caches = new_caches(model, n, self.width + max_new, self.device, self.dtype or torch.float32)
        self.filled = 0

    def context(self):
        """bf16/fp16 autocast on a GPU, and not cuDNN's attention: it plans each new key length anew
        (7.5 ms of CPU a call on an H200, measured), and here the keys grow by one every step."""
        stack = contextlib.ExitStack()
        stack.enter_context(precision.autocast(self.device))
        stack.enter_context(sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]))
        return stack

    def prefill(self) -> torch.Tensor:
        """Logits of the token after each prompt (after OUT)."""
        n, width = self.ids.shape
        causal = torch.ones(width, width, dtype=torch.bool, device=self.device).tril()
        mask = (causal & self.valid[:, None, :width]) | torch.eye(width, dtype=torch.bool, device=self.device)
        logits = self.model(self.ids, self.pos, self.emb.expand(n, width), Cached(mask.unsqueeze(1), self.caches, 0))
        self.here = self.pos[:, -1].clone()  # where each row's last token (OUT) sits
        self.last = self.ids[:, -1].clone()
        self.filled = width
        return logits[:, -1]

    def feed(self, tok: torch.Tensor) -> torch.Tensor:
        """Logits of the token after `tok` (one per row)."""
        self.here, self.last = next_position(self.here, self.last), tok
        pos = self.here[:, None]
        attn = Cached(self.valid[:, None, None, :self.filled + 1], self.caches, self.filled)
        logits = self.model(tok[:, None], pos, self.emb, attn)[:, -1]
        self.filled += 1
        return logits

    def keep(self, rows: torch.Tensor) -> None:
        """Go on with these rows only (indices into the current rows; repeats fork a row)."""
        self.here, self.last, self.emb, self.valid = (x[rows] for x in (self.here, self.last, self.emb, self.valid))
        for cache in self.caches:
            cache["k"], cache["v"] = cache["k"][rows], cache["v"][rows]


class TaskNetStepper:
    """llm.decode's Stepper protocol over a Writer, so that llm.decode.threshold_search (DFS with a
    probability threshold and the grid grammar) writes with the tasknet."""

    def __init__(self, model, grids: list[Grid], embs: list[int], max_new: int):
        self.w = Writer(model, grids, embs, max_new)

    def start(self) -> torch.Tensor:
        with self.w.context():
            return torch.log_softmax(self.w.prefill().float(), -1)

    def step(self, parents: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        parents, tokens = parents.to(self.w.device), tokens.to(self.w.device)
        if parents.numel() != self.w.last.numel() or not torch.equal(parents, torch.arange(len(parents), device=parents.device)):
            self.w.keep(parents)
        with self.w.context():
            return torch.log_softmax(self.w.feed(tokens).float(), -1)


@torch.no_grad()
def dfs(model, grids: list[Grid], embs: list[int], threshold: float, max_side: int = MAX_SIDE,
        deadline: float | None = None) -> list[list[tuple[list[int], float]]]:
    """For each input grid: every output (tokens up to EOS, a valid grid of sides <= max_side) the
    model writes with probability >= threshold, likeliest first (llm.decode.threshold_search)."""
    limit = max_output_tokens(max_side, max_side)
    stepper = TaskNetStepper(model, grids, embs, limit)
    return threshold_search(stepper, len(grids), threshold, limit, grammar=GridGrammar(max_side), deadline=deadline)


@torch.no_grad()
def greedy(model, grids: list[Grid], embs: list[int], max_new: int = MAX_OUTPUT, limits: list[int] | None = None,
           deadline: float | None = None) -> list[tuple[list[int], float] | None]:
    """For each input grid (with its embedding index): the tokens written after OUT up to EOS (or up to
    its limit in `limits`, at most `max_new`), and their summed log-probability; None for a row still
    writing at `deadline` (time.monotonic()). Prompts are left-padded to a common length; padding is
    masked out. Finished rows leave the batch once half of it is done."""
    n = len(grids)
    limit = [min(max_new, x) for x in limits] if limits else [max_new] * n
    w = Writer(model, grids, embs, max(limit))
    device = w.device
    limit = torch.as_tensor(limit, device=device)
    max_new = int(limit.max())
    tokens = torch.full((n, max_new), -1, dtype=torch.long, device=device)  # -1: not written
    logp = torch.zeros(n, device=device)
    finished = torch.zeros(n, dtype=torch.bool, device=device)
    row = torch.arange(n, device=device)  # which input each row of the shrinking batch writes
    with w.context():
        logits = w.prefill()
        for step in range(max_new):
            lp = torch.log_softmax(logits.float(), dim=-1)
            tok = lp.argmax(-1)
            going = ~finished[row]
            tokens[row, step] = torch.where(going, tok, -1)
            logp.index_add_(0, row, torch.where(going, lp.gather(1, tok[:, None])[:, 0], 0.0))
            finished[row] |= (tok == EOS) | (step + 1 >= limit[row])
            if step % 8 == 7 or step + 1 == max_new:
                live = int((~finished[row]).sum())
                if live == 0 or step + 1 == max_new:
                    break
                if live <= len(row) // 2:  # drop the finished rows (copies the buffers: rarely)
                    keep = (~finished[row]).nonzero()[:, 0]
                    row, tok = row[keep], tok[keep]
                    w.keep(keep)
            if deadline is not None and time.monotonic() > deadline:
                break
            logits = w.feed(tok)
    out = []
    for toks, lp_row, ok in zip(tokens.tolist(), logp.tolist(), finished.tolist()):
        # None: cut short by the deadline (a later run writes it)
        out.append((toks[:toks.index(-1)] if -1 in toks else toks, float(lp_row)) if ok else None)
    return out


def rows_per_batch(model, width: int, new: int, device) -> int:
    """How many rows of prompts up to `width` tokens writing up to `new` fit the key/value buffers: a
    quarter of the free GPU memory (at most 2048 rows); on a CPU 1 GiB and at most 64 rows, so that a
    batch ends soon after the deadline."""
    cfg = model.cfg
    per_row = 2 * cfg.layers * cfg.dim * (width + new) * (2 if device.type == "cuda" else 4)
    room = torch.cuda.mem_get_info(device)[0] // 4 if device.type == "cuda" else 1 << 30
    return max(1, min(2048 if device.type == "cuda" else 64, room // per_row))


def prompt_width(grid: Grid) -> int:
    """Tokens of prompt(grid): BOS, IN, the grid's tokens (its rows with their NLs), OUT."""
    return max_output_tokens(*grid.shape) - 1 + 3  # max_output_tokens counts the grid's EOS


def write_order(rows: list[Row]) -> list[Row]:
    """The order rows are written in: every test input's first view, then all the other rows, each
    part shortest prompt first, so that a batch holds prompts (and mostly outputs) of like sizes and a
    run that runs out of time still has an answer for every test input."""
    return sorted(rows, key=lambda r: (r.view > 0, prompt_width(r.grid)))


def next_batch(model, todo: list[Row], branches: int) -> int:
    """How many of the rows `todo` (in write order) go into the next batch: as many as the key/value
    buffers of the widest prompt and longest limit among them allow (rows_per_batch)."""
    device = next(model.parameters()).device
    k = len(todo)
    while k > 1 and k * branches > rows_per_batch(model, max(prompt_width(r.grid) for r in todo[:k]),
                                                  max(r.limit for r in todo[:k]), device):
        k //= 2
    return k


def decode_rows(model, rows: list[Row], path: Path, deadline: float | None = None,
                threshold: float | None = None) -> int:
    """Write every row not already in `path` (in `write_order`), appending one JSON line per answer
    as each batch finishes; returns how many rows were written now. Greedy, or with `threshold`
    every answer of at least that probability (DFS; a row with none is written with no tokens, so
    that it is done). Stops at `deadline` (time.monotonic())."""
    done = {tuple(r[k] for k in ("task", "test", "view")) for r in read_rows(path)}
    todo = write_order([r for r in rows if r.key not in done])
    branches = 1 if threshold is None else math.ceil(1 / threshold)  # DFS: at most this many live per row
    count = 0
    while todo and (deadline is None or time.monotonic() < deadline):
        k = next_batch(model, todo, branches)
        batch, todo = todo[:k], todo[k:]
        grids, embs = [r.grid for r in batch], [r.emb for r in batch]
        if threshold is None:
            written = [None if w is None else [w] for w in
                       greedy(model, grids, embs, limits=[r.limit for r in batch], deadline=deadline)]
        else:
            written = dfs(model, grids, embs, threshold, max(r.side for r in batch), deadline)
        with open(path, "a") as f:
            for r, answers in zip(batch, written):
                if answers is None:
                    continue  # cut short by the deadline: a later run writes it
                for tokens, logp in answers or [([], None)]:
                    f.write(json.dumps({"task": r.task, "test": r.test, "view": r.view, "tokens": tokens,
                                        "logp": None if logp is None else round(float(logp), 4)}) + "\n")
                count += 1
    return count


def _synced(device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


@torch.no_grad()
def _step_seconds(model, rows: list[Row], kv: int, steps: int = 12) -> float:
    """Seconds of one writing step of a batch of `rows` whose keys reach about `kv` positions."""
    device = next(model.parameters()).device
    w = Writer(model, [r.grid for r in rows], [0] * len(rows), max(kv - max(prompt_width(r.grid) for r in rows), 1) + steps + 4)
    tok = torch.zeros(len(rows), dtype=torch.long, device=device)
    with w.context():
        w.prefill()
        w.filled = max(w.filled, kv)  # the buffers' unused positions cost as much to attend to
        for _ in range(4):  # warm-up
            w.feed(tok)
        t0 = _synced(device)
        for _ in range(steps):
            w.feed(tok)
        return (_synced(device) - t0) / steps


def writing_seconds(model, rows: list[Row], expected: dict[str, int], top: int = 8) -> tuple[float, float]:
    """Seconds that writing `rows` greedily (decode_rows) and then scoring up to `top` answers of each
    test input under all its views (score_rows) should take with a trained `model` of this shape, on
    this device; `expected` holds the tokens each task's output likely needs (its largest
    demonstration output). Measured, not guessed: a writing step of a small and of a full batch is
    timed (a step's cost grows with rows x key length), as is a scoring pass; each batch of
    write_order is then played out, its rows finishing at their expected lengths and leaving the
    batch as greedy drops them. The model's weights do not matter: an untrained one of the same
    shape times the same."""
    if not rows:
        return 0.0, 0.0
    device = next(model.parameters()).device
    order = write_order(rows)
    batches, i = [], 0
    while i < len(order):
        k = next_batch(model, order[i:], 1)
        batches.append(order[i:i + k])
        i += k
    length = lambda r: min(r.limit, expected[r.task])
    big = max(batches, key=len)
    kv_small = max(64, *(prompt_width(r.grid) for r in big[:8]))
    kv_big = max(prompt_width(r.grid) for r in big) + max(map(length, big)) // 2
    x_small, x_big = len(big[:8]) * kv_small, len(big) * kv_big
    t_small = _step_seconds(model, big[:8], kv_small)
    t_big = _step_seconds(model, big, kv_big)
    b = max(0.0, (t_big - t_small) / max(1, x_big - x_small))  # a step: a + b * rows * key length
    a = max(0.0, t_small - b * x_small)
    write = 0.0
    for batch in batches:
        lengths = np.array([length(r) for r in batch])
        width, live = max(prompt_width(r.grid) for r in batch), len(batch)
        for s in range(int(lengths.max())):
            write += a + b * live * (width + s)
            if s % 8 == 7:  # as greedy does: finished rows leave once half of the batch is done
                going = int((lengths > s + 1).sum())
                if going <= live // 2:
                    live = going
    # scoring: every row's prompt and expected answer, `top` answers per test input, forward only
    sample = [pair_sequence(r.grid, np.zeros((1, max(1, length(r) - 2)), dtype=np.int8), 0) for r in order[-64:]]
    score_sequences(model, sample[:2])  # warm-up
    t0 = _synced(device)
    score_sequences(model, sample)
    rate = sum(len(s.ids) for s in sample) / max(_synced(device) - t0, 1e-6)
    tokens = top * sum(prompt_width(r.grid) + length(r) for r in rows)
    return write, tokens / rate


def read_rows(path: Path) -> list[dict]:
    """The rows written so far (a line torn by a kill is dropped)."""
    return read_jsonl(path, ("task", "test", "view", "tokens", "logp"))


@torch.no_grad()
def score_sequences(model, seqs: list[Sequence], batch_tokens: int = 1 << 16,
                    table: torch.Tensor | None = None) -> list[float]:
    """Each sequence's summed log-probability of its labelled tokens (the output grid and EOS), by
    teacher forcing over packed rows of whole sequences; `table`: task vectors of their own (a
    sequence's `emb` is then its row there), as TaskNet.forward takes."""
    device = next(model.parameters()).device
    scores = []
    for chunk in token_chunks(seqs, batch_tokens):
        batch = packed_batch(chunk, device)
        with precision.autocast(device):
            logits = model(batch["ids"], batch["pos"], batch["emb"], batch["attn"], table=table)[0]
        labels = batch["labels"][0]
        lp = torch.log_softmax(logits.float(), -1).gather(1, labels.clamp(min=0)[:, None])[:, 0]
        which = torch.repeat_interleave(torch.arange(len(chunk), device=device), torch.diff(batch["attn"].cu).long())
        sums = torch.zeros(len(chunk), device=device).index_add_(0, which, torch.where(labels != IGNORE, lp, 0.0))
        scores += sums.tolist()
    return scores


def task_candidates(rows: list[dict], views: list[View], n_tests: int) -> list[tuple[list[Grid], list[int]]]:
    """For each test input: the distinct grids its views wrote (taken back to the task's frame), most
    votes first, and their votes."""
    out = []
    for t in range(n_tests):
        by_key: dict[bytes, list] = {}
        for r in rows:
            if r["test"] == t and r["view"] < len(views):
                grid = decode_grid(r["tokens"])
                if grid is not None:
                    grid = views[r["view"]].invert(grid)
                    by_key.setdefault(grid_key(grid), [grid, 0, []])
                    by_key[grid_key(grid)][1] += 1
                    by_key[grid_key(grid)][2].append(r["logp"])
        ranked = sorted(by_key.values(), key=lambda c: (-c[1], -float(np.mean(c[2]))))
        out.append(([c[0] for c in ranked], [c[1] for c in ranked]))
    return out


def score_rows(model, tasks: list[Task], views_of, emb_of, rows: list[dict], path: Path, top: int = 8,
               deadline: float | None = None) -> int:
    """Score every test input's distinct written grids (up to `top`, most votes first) under every
    view of its task, as the output of that view's input; appends one JSON line per test input to
    `path` ({"task", "test", "grids", "scores": [grid][view]}) and skips those already there."""
    done = {(r["task"], r["test"]) for r in read_scores(path)}
    by_task: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_task[r["task"]].append(r)
    count = 0
    for task in tasks:
        if deadline is not None and time.monotonic() > deadline:
            break
        views = views_of(task)
        cands = task_candidates(by_task.get(task.id, []), views, len(task.test))
        seqs, keys = [], []
        for t, (grids, _) in enumerate(cands):
            if (task.id, t) in done or not grids:
                continue
            for g in grids[:top]:
                for j, v in enumerate(views):
                    seqs.append(pair_sequence(v.apply_grid(task.test[t].input), v.apply_grid(g), emb_of(task, j)))
            keys.append((t, grids[:top]))
        if not seqs:
            continue
        scores = iter(score_sequences(model, seqs))
        with open(path, "a") as f:
            for t, grids in keys:
                table = [[round(next(scores), 4) for _ in views] for _ in grids]
                f.write(json.dumps({"task": task.id, "test": t, "grids": [g.tolist() for g in grids],
                                    "scores": table}) + "\n")
                count += 1
    return count


def read_scores(path: Path) -> list[dict]:
    return read_jsonl(path, ("task", "test", "grids", "scores"))
