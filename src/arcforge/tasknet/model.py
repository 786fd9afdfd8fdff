"""The task-embedding transformer: a small decoder that reads one input grid and writes its output,
told which task (and which view of it) by a learned embedding rather than by demonstrations.

Every token carries three position components: its row, its column and whether it belongs to the
input or the output grid; attention rotates query and key by all three (3-D rotary positions), so
"the cell above" is the same offset wherever it is. RMSNorm and gated MLPs, as in current LLMs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from arcforge.llm.text import VOCAB_SIZE


@dataclass
class TaskNetConfig:
    n_embeddings: int  # one per (task, view) the run trains on
    dim: int = 256
    layers: int = 6
    heads: int = 8
    mlp: int = 768
    vocab: int = VOCAB_SIZE
    rope_base: float = 100.0  # positions are small (rows and columns up to 31)

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS = {
    "tiny": dict(dim=64, layers=2, heads=4, mlp=192),
    "small": dict(dim=256, layers=6, heads=8, mlp=768),
    "base": dict(dim=512, layers=8, heads=8, mlp=1536),
}


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + self.eps).to(x.dtype))


def rope_angles(pos: torch.Tensor, head_dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotation angles for positions `pos` (..., 3): the head's dimension pairs are
    split in three groups, turned by the row, the column and the input/output component."""
    pairs = head_dim // 2
    groups = (pairs // 3, pairs // 3, pairs - 2 * (pairs // 3))
    angles = []
    for k, g in enumerate(groups):
        inv = base ** (-torch.arange(g, device=pos.device, dtype=torch.float32) / max(g, 1))
        angles.append(pos[..., k:k + 1].float() * inv)
    a = torch.cat(angles, dim=-1)  # (..., pairs)
    return a.cos(), a.sin()


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half].float(), x[..., half:].float()
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).to(x.dtype)


class Block(nn.Module):
    def __init__(self, cfg: TaskNetConfig):
        super().__init__()
        self.heads, self.head_dim = cfg.heads, cfg.dim // cfg.heads
        self.norm1, self.norm2 = RMSNorm(cfg.dim), RMSNorm(cfg.dim)
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim, bias=False)
        self.proj = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.gate_up = nn.Linear(cfg.dim, 2 * cfg.mlp, bias=False)
        self.down = nn.Linear(cfg.mlp, cfg.dim, bias=False)

    def forward(self, x, cos, sin, mask, cache: dict | None = None):
        b, n, _ = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, self.head_dim).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (b, heads, n, head_dim)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        if cache is not None:  # decoding: keys and values of the tokens before
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.proj(a.transpose(1, 2).reshape(b, n, -1))
        gate, up = self.gate_up(self.norm2(x)).chunk(2, dim=-1)
        return x + self.down(F.silu(gate) * up)


class TaskNet(nn.Module):
    def __init__(self, cfg: TaskNetConfig):
        super().__init__()
        self.cfg = cfg
        self.tokens = nn.Embedding(cfg.vocab, cfg.dim)
        self.tasks = nn.Embedding(cfg.n_embeddings, cfg.dim)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.norm = RMSNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, cfg.vocab, bias=False)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, ids, pos, emb, mask, caches: list[dict] | None = None):
        """Logits for token ids (b, n) at positions pos (b, n, 3), each row of tokens told its (task,
        view) embedding index by `emb` (b, n); `mask` (b, 1, n, m) says which keys each query sees."""
        x = self.tokens(ids) + self.tasks(emb)
        cos, sin = rope_angles(pos, self.cfg.dim // self.cfg.heads, self.cfg.rope_base)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)  # broadcast over heads
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, mask, None if caches is None else caches[i])
        return self.head(self.norm(x))


def packed_mask(seq: torch.Tensor) -> torch.Tensor:
    """Causal attention inside each sequence of a packed row: seq (b, n) numbers the sequences (-1:
    padding, which attends only to itself so no row of the mask is empty)."""
    n = seq.shape[1]
    causal = torch.ones(n, n, dtype=torch.bool, device=seq.device).tril()
    same = seq.unsqueeze(2) == seq.unsqueeze(1)
    return (same & causal).unsqueeze(1)


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

