"""Writing outputs with the task-embedding transformer: each test input under each of its task's
views, greedily, all in one batch with a key/value cache; answers mapped back by their view and voted.

Candidates are ranked by votes (how many views wrote the same grid), then by their mean
log-probability under the views that wrote them.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from arcforge.grid import MAX_SIDE, Grid
from arcforge.llm.text import EOS, PAD
from arcforge.tasknet.data import next_position, prompt

MAX_OUTPUT = MAX_SIDE * (MAX_SIDE + 1) + 1  # 30 rows of 30 cells and NL, then EOS


@torch.no_grad()
def greedy(model, grids: list[Grid], embs: list[int], max_new: int = MAX_OUTPUT) -> list[tuple[list[int], float]]:
    """For each input grid (with its embedding index): the tokens written after OUT up to EOS, and
    their summed log-probability. Prompts are left-padded to a common length; padding is masked."""
    device = next(model.parameters()).device
    prompts = [prompt(g) for g in grids]
    n, width = len(grids), max(len(p[0]) for p in prompts)
    ids = torch.full((n, width), PAD, dtype=torch.long)
    pos = torch.zeros((n, width, 3), dtype=torch.long)
    valid = torch.zeros((n, width), dtype=torch.bool)
    for i, (p_ids, p_pos) in enumerate(prompts):
        ids[i, width - len(p_ids):] = torch.as_tensor(p_ids)
        pos[i, width - len(p_ids):] = torch.as_tensor(p_pos)
        valid[i, width - len(p_ids):] = True
    emb = torch.as_tensor(embs).unsqueeze(1)
    ids, pos, valid, emb = ids.to(device), pos.to(device), valid.to(device), emb.to(device)
    causal = torch.ones(width, width, dtype=torch.bool, device=device).tril()
    mask = (causal & valid.unsqueeze(1)) | torch.eye(width, dtype=torch.bool, device=device)  # pads see themselves
    caches = [{} for _ in model.blocks]
    logits = model(ids, pos, emb.expand(n, width), mask.unsqueeze(1), caches)[:, -1]
    written = [[] for _ in range(n)]
    logp = torch.zeros(n, device=device)
    here = [p_pos[-1] for _, p_pos in prompts]  # position of each row's last token (OUT)
    last = [ids[i, -1].item() for i in range(n)]
    alive = torch.ones(n, dtype=torch.bool, device=device)
    for _ in range(max_new):
        lp = torch.log_softmax(logits.float(), dim=-1)
        tok = lp.argmax(-1)
        logp += torch.where(alive, lp.gather(1, tok[:, None])[:, 0], torch.zeros_like(logp))
        step_pos = []
        for i in range(n):
            here[i] = next_position(here[i], last[i])
            step_pos.append(here[i])
            if alive[i]:
                written[i].append(int(tok[i]))
                if tok[i] == EOS:
                    alive[i] = False
            last[i] = int(tok[i])
        if not alive.any():
            break
        valid = torch.cat([valid, torch.ones(n, 1, dtype=torch.bool, device=device)], dim=1)
        logits = model(tok[:, None], torch.as_tensor(np.array(step_pos), device=device)[:, None],
                       emb, valid[:, None, None, :], caches)[:, -1]
    return [(w, float(s)) for w, s in zip(written, logp.tolist())]


def vote(answers: list[tuple[Grid | None, float]]) -> list[tuple[Grid, int, float]]:
    """(grid, votes, mean log-probability) of each distinct grid, most votes first, then likeliest."""
    groups: dict[bytes, list] = defaultdict(list)
    for grid, logp in answers:
        if grid is not None:
            groups[grid.shape[0].to_bytes(1, "little") + grid.tobytes()].append((grid, logp))
    ranked = [(g[0][0], len(g), float(np.mean([lp for _, lp in g]))) for g in groups.values()]
    return sorted(ranked, key=lambda r: (-r[1], -r[2]))

