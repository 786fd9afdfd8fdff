"""Optimisers of the tasknet: AdamW for everything, or Muon for the blocks' weight matrices with AdamW
for the rest (embeddings, output layer, norms).

Muon takes a momentum step whose update matrix is replaced by the nearest semi-orthogonal matrix
(all singular values about 1), computed with a few Newton-Schulz iterations in bf16; so every
direction of a weight matrix moves at the same rate, whatever the gradient's scale. Each param group
keeps its `base_lr`; the trainer sets `lr = base_lr * schedule factor` on every group of every
optimiser.
"""

from __future__ import annotations

import torch
from torch import nn

# coefficients of the quintic iteration x <- a x + b (x x^T) x + c (x x^T)^2 x, chosen so that
# singular values in (0, 1] are driven towards 1 quickly (they end in about 0.7 .. 1.2)
NS_COEFFS = (3.4445, -4.7750, 2.0315)


def orthogonalise(g: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """An approximately semi-orthogonal matrix with g's singular vectors; g is one matrix (m, n) or
    a stack of them (k, m, n), each orthogonalised on its own."""
    a, b, c = NS_COEFFS
    x = g.to(torch.bfloat16 if g.is_cuda else torch.float32)
    tall = x.shape[-2] > x.shape[-1]
    if tall:
        x = x.mT
    x = x / (torch.linalg.matrix_norm(x, keepdim=True) + 1e-7)  # every singular value at most 1
    for _ in range(steps):
        m = x @ x.mT
        x = a * x + (b * m + c * m @ m) @ x
    return (x.mT if tall else x).to(g.dtype)


class Muon(torch.optim.Optimizer):
    """Momentum (Nesterov) with orthogonalised updates, for 2-D weights only. Matrices of one shape
    are orthogonalised together, as one batch (a few kernels per shape instead of per matrix)."""

    def __init__(self, params, lr: float = 0.02, momentum: float = 0.95, ns_steps: int = 5,
                 weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, base_lr=lr, momentum=momentum, ns_steps=ns_steps,
                                      weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            by_shape: dict[tuple, list[torch.Tensor]] = {}
            for p in group["params"]:
                if p.grad is not None:
                    by_shape.setdefault(tuple(p.shape), []).append(p)
            for shape, ps in by_shape.items():
                grads = [p.grad for p in ps]
                bufs = [self.state[p].setdefault("momentum", torch.zeros_like(p.grad)) for p in ps]
                torch._foreach_mul_(bufs, group["momentum"])
                torch._foreach_add_(bufs, grads)
                nesterov = torch._foreach_add(grads, bufs, alpha=group["momentum"])
                updates = orthogonalise(torch.stack(nesterov), group["ns_steps"]).unbind(0)
                scale = max(1.0, shape[0] / shape[1]) ** 0.5  # tall matrices: same RMS step as wide ones
                if group["weight_decay"]:
                    torch._foreach_mul_(ps, 1 - group["lr"] * group["weight_decay"])
                torch._foreach_add_(ps, updates, alpha=-group["lr"] * scale)
        return None


def make_optimizers(model: nn.Module, name: str, lr: float, muon_lr: float = 0.02) -> list[torch.optim.Optimizer]:
    """"adamw": one AdamW over every parameter at `lr`. "muon": Muon at `muon_lr` for the blocks'
    2-D weights, AdamW at `lr` for the rest."""
    adamw = dict(betas=(0.9, 0.95), weight_decay=0.0)
    if name == "adamw":
        return [torch.optim.AdamW([{"params": list(model.parameters()), "base_lr": lr}], lr=lr, **adamw)]
    if name != "muon":
        raise ValueError(f"optimizer must be adamw or muon, got '{name}'")
    blocks = {id(p) for b in model.blocks for p in b.parameters() if p.ndim == 2}
    matrices = [p for p in model.parameters() if id(p) in blocks]
    rest = [p for p in model.parameters() if id(p) not in blocks]
    return [Muon(matrices, lr=muon_lr),
            torch.optim.AdamW([{"params": rest, "base_lr": lr}], lr=lr, **adamw)]
