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

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from arcforge.augment import View
from arcforge.grid import MAX_SIDE, Grid, grid_key
from arcforge.llm.text import EOS, IGNORE, NL, OUT, PAD, decode_grid
from arcforge.submission import read_jsonl
from arcforge.task import Task
from arcforge.tasknet.data import Sequence, packed_batch, pair_sequence, prompt
from arcforge.tasknet.model import Cached, autocast_dtype, new_caches

MAX_OUTPUT = MAX_SIDE * (MAX_SIDE + 1) + 1  # 30 rows of 30 cells and NL, then EOS


@dataclass
class Row:
    task: str
    test: int  # test input index
    view: int  # view index of the task
    grid: Grid  # the test input under that view
    emb: int  # embedding index of (task, view)
    limit: int = MAX_OUTPUT  # most tokens its output may take (llm.decode.output_token_bound)

    @property
    def key(self) -> tuple[str, int, int]:
        return self.task, self.test, self.view


@torch.no_grad()
def greedy(model, grids: list[Grid], embs: list[int], max_new: int = MAX_OUTPUT, limits: list[int] | None = None,
           deadline: float | None = None) -> list[tuple[list[int], float] | None]:
    """For each input grid (with its embedding index): the tokens written after OUT up to EOS (or up to
    its limit in `limits`, at most `max_new`), and their summed log-probability; None for a row still
    writing at `deadline` (time.monotonic()). Prompts are left-padded to a common length; padding is
    masked out. Finished rows leave the batch once half of it is done."""
    device = next(model.parameters()).device
    dtype = autocast_dtype(device)
    prompts = [prompt(g) for g in grids]
    n, width = len(grids), max(len(p[0]) for p in prompts)
    limit = torch.as_tensor([min(max_new, x) for x in limits] if limits else [max_new] * n, device=device)
    max_new = int(limit.max())
    ids = torch.full((n, width), PAD, dtype=torch.long)
    pos = torch.zeros((n, width, 3), dtype=torch.long)
    valid = torch.ones((n, width + max_new), dtype=torch.bool)
    for i, (p_ids, p_pos) in enumerate(prompts):
        ids[i, width - len(p_ids):] = torch.as_tensor(p_ids)
        pos[i, width - len(p_ids):] = torch.as_tensor(p_pos)
        valid[i, :width - len(p_ids)] = False
    ids, pos, valid = ids.to(device), pos.to(device), valid.to(device)
    emb = torch.as_tensor(embs, device=device).unsqueeze(1)
    caches = new_caches(model, n, width + max_new, device, dtype or torch.float32)
    causal = torch.ones(width, width, dtype=torch.bool, device=device).tril()
    mask = (causal & valid[:, None, :width]) | torch.eye(width, dtype=torch.bool, device=device)  # pads see themselves
    tokens = torch.full((n, max_new), -1, dtype=torch.long, device=device)  # -1: not written
    logp = torch.zeros(n, device=device)
    finished = torch.zeros(n, dtype=torch.bool, device=device)
    row = torch.arange(n, device=device)  # which input each row of the shrinking batch writes
    # not cuDNN's attention: it plans each new key length anew (7.5 ms of CPU a call on an H200,
    # measured), and here the keys grow by one every step
    backends = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
    with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None), sdpa_kernel(backends):
        logits = model(ids, pos, emb.expand(n, width), Cached(mask.unsqueeze(1), caches, 0))[:, -1]
        r, c, part = (pos[:, -1, k].clone() for k in range(3))  # where the last token (OUT) sits
        last = ids[:, -1].clone()
        live = n
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
                    row, r, c, part, last, tok, emb = (x[keep] for x in (row, r, c, part, last, tok, emb))
                    valid = valid[keep]
                    for cache in caches:
                        cache["k"], cache["v"] = cache["k"][keep], cache["v"][keep]
            if deadline is not None and time.monotonic() > deadline:
                break
            # the new token's position follows from the one before it (as tasknet.data.next_position)
            is_out, is_nl = last == OUT, last == NL
            r = torch.where(is_out, 1, torch.where(is_nl, r + 1, r))
            c = torch.where(is_out | is_nl, 1, c + 1)
            part = torch.where(is_out, 1, part)
            last = tok
            filled = width + step
            logits = model(tok[:, None], torch.stack([r, c, part], -1)[:, None], emb,
                           Cached(valid[:, None, None, :filled + 1], caches, filled))[:, -1]
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


def decode_rows(model, rows: list[Row], path: Path, deadline: float | None = None) -> int:
    """Write every row not already in `path`, appending one JSON line per row as each batch finishes;
    returns how many were written now. Stops at `deadline` (time.monotonic())."""
    done = {tuple(r[k] for k in ("task", "test", "view")) for r in read_rows(path)}
    todo = sorted((r for r in rows if r.key not in done), key=lambda r: (r.view, r.grid.size + r.grid.shape[0]))
    device = next(model.parameters()).device
    count = 0
    while todo and (deadline is None or time.monotonic() < deadline):
        k = len(todo)  # shortest first within a view round: the widest prompt and longest limit set the buffers
        while k > 1 and k > rows_per_batch(model, max(len(prompt(r.grid)[0]) for r in todo[:k]),
                                           max(r.limit for r in todo[:k]), device):
            k //= 2
        batch, todo = todo[:k], todo[k:]
        written = greedy(model, [r.grid for r in batch], [r.emb for r in batch], limits=[r.limit for r in batch],
                         deadline=deadline)
        with open(path, "a") as f:
            for r, w in zip(batch, written):
                if w is not None:
                    f.write(json.dumps({"task": r.task, "test": r.test, "view": r.view, "tokens": w[0],
                                        "logp": round(w[1], 4)}) + "\n")
                    count += 1
    return count


def read_rows(path: Path) -> list[dict]:
    """The rows written so far (a line torn by a kill is dropped)."""
    return read_jsonl(path, ("task", "test", "view", "tokens", "logp"))


@torch.no_grad()
def score_sequences(model, seqs: list[Sequence], batch_tokens: int = 1 << 16) -> list[float]:
    """Each sequence's summed log-probability of its labelled tokens (the output grid and EOS), by
    teacher forcing over packed rows of whole sequences."""
    device = next(model.parameters()).device
    dtype = autocast_dtype(device)
    scores, i = [], 0
    while i < len(seqs):
        j, used = i + 1, len(seqs[i].ids)
        while j < len(seqs) and used + len(seqs[j].ids) <= batch_tokens:
            used += len(seqs[j].ids)
            j += 1
        batch = packed_batch(seqs[i:j], device)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            logits = model(batch["ids"], batch["pos"], batch["emb"], batch["attn"])[0]
        labels = batch["labels"][0]
        lp = torch.log_softmax(logits.float(), -1).gather(1, labels.clamp(min=0)[:, None])[:, 0]
        which = torch.repeat_interleave(torch.arange(j - i, device=device), torch.diff(batch["attn"].cu).long())
        sums = torch.zeros(j - i, device=device).index_add_(0, which, torch.where(labels != IGNORE, lp, 0.0))
        scores += sums.tolist()
        i = j
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
