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

from arcforge.llm.attention import packed_causal
from arcforge.llm.text import VOCAB_SIZE
from arcforge.tasknet.config import PRESETS  # noqa: F401 (sizes by name, for the trainer)


@dataclass
class TaskNetConfig:
    n_embeddings: int  # one per (task, view) the run trains on
    dim: int = 256
    layers: int = 6
    heads: int = 8
    mlp: int = 768
    vocab: int = VOCAB_SIZE
    rope_base: float = 100.0  # positions are small (rows and columns up to 31)
    dropout: float = 0.0  # while training: of the embeddings' sum and of each block's two residual branches

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return F.rms_norm(x, self.weight.shape, self.weight, self.eps)  # one fused kernel where torch has it


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
    """x turned by the angles, in x's dtype (cos and sin come in it: casts in and out of float32 were
    a fifth of a training step's GPU time)."""
    x1, x2 = x.chunk(2, dim=-1)  # a split, whose gradient is one concatenation (a slice's is zeros, then a copy)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


@dataclass
class Packed:
    """Attention over one packed row of whole sequences (training, scoring): their boundaries."""
    cu: torch.Tensor  # cumulative lengths, int32, 0 .. n
    max_len: int


@dataclass
class Cached:
    """Attention while writing (a batch of rows): keys and values kept in preallocated buffers, one
    dict per layer; `mask` (b, 1, new, filled + new) says which keys each new query sees."""
    mask: torch.Tensor
    caches: list[dict]
    filled: int  # positions of the buffers already written


def new_caches(model: TaskNet, rows: int, capacity: int, device, dtype) -> list[dict]:
    cfg = model.cfg
    shape = (rows, cfg.heads, capacity, cfg.dim // cfg.heads)
    return [{"k": torch.empty(shape, device=device, dtype=dtype), "v": torch.empty(shape, device=device, dtype=dtype)}
            for _ in range(cfg.layers)]


class Block(nn.Module):
    def __init__(self, cfg: TaskNetConfig):
        super().__init__()
        self.heads, self.head_dim = cfg.heads, cfg.dim // cfg.heads
        self.norm1, self.norm2 = RMSNorm(cfg.dim), RMSNorm(cfg.dim)
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim, bias=False)
        self.proj = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.gate_up = nn.Linear(cfg.dim, 2 * cfg.mlp, bias=False)
        self.down = nn.Linear(cfg.mlp, cfg.dim, bias=False)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, cos, sin, attn: Packed | Cached, layer: int):
        b, n, d = x.shape
        qk, v = self.qkv(self.norm1(x)).split([2 * d, d], dim=-1)
        # queries and keys turned in one pass, with query/key first: the concatenation inside writes
        # them one after the other, so each is contiguous (b, n, heads, hd), as the attention kernel wants
        q, k = rotate(qk.view(b, n, 2, self.heads, self.head_dim).permute(2, 0, 1, 3, 4), cos, sin)
        v = v.view(b, n, self.heads, self.head_dim)
        if isinstance(attn, Packed):
            a = packed_causal(q[0], k[0], v[0], attn.cu, attn.max_len)[None]
        else:
            cache, end = attn.caches[layer], attn.filled + n
            cache["k"][:, :, attn.filled:end] = k.transpose(1, 2)
            cache["v"][:, :, attn.filled:end] = v.transpose(1, 2)
            a = F.scaled_dot_product_attention(q.transpose(1, 2), cache["k"][:, :, :end], cache["v"][:, :, :end],
                                               attn_mask=attn.mask).transpose(1, 2)
        x = x + self.drop(self.proj(a.reshape(b, n, -1)))
        gate, up = self.gate_up(self.norm2(x)).chunk(2, dim=-1)
        return x + self.drop(self.down(F.silu(gate) * up))


class TaskNet(nn.Module):
    def __init__(self, cfg: TaskNetConfig):
        super().__init__()
        self.cfg = cfg
        self.tokens = nn.Embedding(cfg.vocab, cfg.dim)
        self.tasks = nn.Embedding(cfg.n_embeddings, cfg.dim)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.norm = RMSNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, cfg.vocab, bias=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, ids, pos, emb, attn: Packed | Cached, table: torch.Tensor | None = None):
        """Logits for token ids (b, n) at positions pos (b, n, 3), each token told its (task, view)
        embedding index by `emb` (b, n): a row of the model's embeddings, or of `table` (k, dim)
        when given (task vectors trained apart from the model, as the role-swap check does)."""
        task = self.tasks(emb) if table is None else F.embedding(emb, table)
        x = self.drop(self.tokens(ids) + task)
        cos, sin = rope_angles(pos, self.cfg.dim // self.cfg.heads, self.cfg.rope_base)
        kind = ids.device.type  # queries and keys come in the autocast dtype where it is on, else the weights'
        dt = torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else self.head.weight.dtype
        cos, sin = cos.to(dt)[:, :, None], sin.to(dt)[:, :, None]  # over heads (and query/key)
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, attn, i)
        return self.head(self.norm(x))


def packed(seq_lengths: list[int], device) -> Packed:
    """The boundaries of sequences of these lengths packed in one row."""
    cu = torch.zeros(len(seq_lengths) + 1, dtype=torch.int32)
    cu[1:] = torch.as_tensor(seq_lengths).cumsum(0)
    # non_blocking: a blocking copy would wait for the GPU to finish the step before, every step
    return Packed(cu.to(device, non_blocking=True), max(seq_lengths))


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

