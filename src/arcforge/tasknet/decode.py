"""Writing outputs with the task-embedding transformer: every test input of the run under every view
of its task, greedily, many rows at a time with preallocated key/value buffers; answers mapped back by
their view and voted.

    decode_rows(model, rows, path, deadline)   # appends one JSON line per written row to path

Rows already in `path` (an earlier, killed run) are not written again. The first view of every test
input comes before any second view, so a run that runs out of time still has an answer for each.
Candidates are ranked by votes (how many views wrote the same grid), then by their mean
log-probability under the views that wrote them.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from arcforge.grid import MAX_SIDE, Grid
from arcforge.llm.text import EOS, NL, OUT, PAD
from arcforge.submission import read_jsonl
from arcforge.tasknet.data import prompt
from arcforge.tasknet.model import Cached, autocast_dtype, new_caches

MAX_OUTPUT = MAX_SIDE * (MAX_SIDE + 1) + 1  # 30 rows of 30 cells and NL, then EOS


@dataclass
class Row:
    task: str
    test: int  # test input index
    view: int  # view index of the task
    grid: Grid  # the test input under that view
    emb: int  # embedding index of (task, view)

    @property
    def key(self) -> tuple[str, int, int]:
        return self.task, self.test, self.view


@torch.no_grad()
def greedy(model, grids: list[Grid], embs: list[int], max_new: int = MAX_OUTPUT,
           deadline: float | None = None) -> list[tuple[list[int], float] | None]:
    """For each input grid (with its embedding index): the tokens written after OUT up to EOS, and
    their summed log-probability; None for a row still writing at `deadline` (time.monotonic()).
    Prompts are left-padded to a common length; padding is masked out."""
    device = next(model.parameters()).device
    dtype = autocast_dtype(device)
    prompts = [prompt(g) for g in grids]
    n, width = len(grids), max(len(p[0]) for p in prompts)
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
    with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        logits = model(ids, pos, emb.expand(n, width), Cached(mask.unsqueeze(1), caches, 0))[:, -1]
        written, finished = [], False
        logp = torch.zeros(n, device=device)
        alive = torch.ones(n, dtype=torch.bool, device=device)
        r, c, part = (pos[:, -1, k].clone() for k in range(3))  # where the last token (OUT) sits
        last = ids[:, -1].clone()
        for step in range(max_new):
            lp = torch.log_softmax(logits.float(), dim=-1)
            tok = lp.argmax(-1)
            logp += torch.where(alive, lp.gather(1, tok[:, None])[:, 0], 0.0)
            written.append(tok)
            alive &= tok != EOS
            if step % 8 == 7 and not bool(alive.any()):
                finished = True
                break
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
        else:
            finished = True
    tokens = torch.stack(written, 1).tolist()
    done = (~alive).tolist()
    out = []
    for row, lp_row, ok in zip(tokens, logp.tolist(), done):
        if not ok and not finished:
            out.append(None)  # cut short by the deadline: a later run writes it
            continue
        out.append((row[:row.index(EOS) + 1] if EOS in row else row, float(lp_row)))
    return out


def rows_per_batch(model, width: int, device) -> int:
    """How many rows fit the key/value buffers: a quarter of the free GPU memory, 1 GiB on a CPU."""
    cfg = model.cfg
    per_row = 2 * cfg.layers * cfg.dim * (width + MAX_OUTPUT) * (2 if device.type == "cuda" else 4)
    room = torch.cuda.mem_get_info(device)[0] // 4 if device.type == "cuda" else 1 << 30
    return max(1, min(1024, room // per_row))


def decode_rows(model, rows: list[Row], path: Path, deadline: float | None = None) -> int:
    """Write every row not already in `path`, appending one JSON line per row as each batch finishes;
    returns how many were written now. Stops at `deadline` (time.monotonic())."""
    done = {tuple(r[k] for k in ("task", "test", "view")) for r in read_rows(path)}
    todo = sorted((r for r in rows if r.key not in done), key=lambda r: (r.view, r.grid.size + r.grid.shape[0]))
    device = next(model.parameters()).device
    count = 0
    while todo and (deadline is None or time.monotonic() < deadline):
        width = len(prompt(todo[0].grid)[0])
        k = rows_per_batch(model, width, device)
        batch = todo[:k]  # shortest first within a view round: the widest prompt sets the buffers
        width = max(len(prompt(r.grid)[0]) for r in batch)
        while len(batch) > 1 and len(batch) > rows_per_batch(model, width, device):
            batch = batch[:len(batch) // 2]
            width = max(len(prompt(r.grid)[0]) for r in batch)
        todo = todo[len(batch):]
        written = greedy(model, [r.grid for r in batch], [r.emb for r in batch], deadline=deadline)
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


def vote(answers: list[tuple[Grid | None, float]]) -> list[tuple[Grid, int, float]]:
    """(grid, votes, mean log-probability) of each distinct grid, most votes first, then likeliest."""
    groups: dict[bytes, list] = defaultdict(list)
    for grid, logp in answers:
        if grid is not None:
            groups[grid.shape[0].to_bytes(1, "little") + grid.tobytes()].append((grid, logp))
    ranked = [(g[0][0], len(g), float(np.mean([lp for _, lp in g]))) for g in groups.values()]
    return sorted(ranked, key=lambda r: (-r[1], -r[2]))
