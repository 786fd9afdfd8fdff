"""Test-time training: a short fine-tune on one task's own train pairs (leave-one-out, random views).

    with task_adapter(model, [task], TTTConfig(steps=32), deadline) as tuned:
        ... decode with `tuned` ...
    # here the model is as it was before

LoRA (rank > 0) adds a fresh adapter and removes it afterwards without merging; full fine-tuning
(rank 0, for small models) snapshots the weights and restores them.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import torch

from arcforge import precision
from arcforge.llm.config import TrainConfig
from arcforge.task import Task


@dataclass
class TTTConfig:
    steps: int = 32
    lr: float = 1e-4
    rank: int = 32  # LoRA rank; 0 = full fine-tuning
    batch_tokens: int = 8192  # tokens per step (several leave-one-out samples packed together)
    warmup_steps: int = 2
    symmetries: bool = True  # views of the samples: D8 symmetry ...
    colours: bool = True  # ... and colour permutation (example order is always shuffled)
    seed: int = 0


def _train_config(cfg: TTTConfig, steps: int) -> TrainConfig:
    return TrainConfig(steps=steps, lr=cfg.lr, warmup_steps=min(cfg.warmup_steps, max(1, steps // 4)),
                       batch_tokens=cfg.batch_tokens, max_len=cfg.batch_tokens, grad_accum=1,
                       symmetries=cfg.symmetries, colours=cfg.colours, seed=cfg.seed, progress=False, val_tasks=0)


def trainable_tasks(tasks: list[Task]) -> list[Task]:
    """Leave-one-out needs two examples with known outputs."""
    return [t for t in tasks if len(t.train) + sum(ex.output is not None for ex in t.test) >= 2]


def fit(model, tasks: list[Task], cfg: TTTConfig, deadline: float | None = None, steps: int | None = None,
        backend: str = "transformers") -> list[float]:
    """Train `model` in place on leave-one-out samples of `tasks`, stopping early at `deadline`."""
    from arcforge.llm.train import make_optimizer, train_steps

    tasks = trainable_tasks(tasks)
    steps = cfg.steps if steps is None else steps
    if not tasks or steps <= 0:
        return []
    tcfg = _train_config(cfg, steps)
    opt, sched = make_optimizer(model, tcfg)
    scaler = precision.scaler(next(model.parameters()).device)  # one loss scale across the steps
    losses: list[float] = []
    for step in range(steps):
        if deadline is not None and time.monotonic() > deadline:
            break
        losses += train_steps(model, tasks, 1, tcfg, start_step=step, opt=opt, sched=sched, backend=backend,
                              scaler=scaler)
    model.eval()
    return losses


@contextlib.contextmanager
def task_adapter(model, tasks: list[Task], cfg: TTTConfig, deadline: float | None = None,
                 backend: str = "transformers"):
    """Yield the model fine-tuned on `tasks`; on exit the model is back to its own weights.
    The losses are available as the yielded model's `ttt_losses` attribute."""
    if cfg.rank > 0:
        from peft import LoraConfig, get_peft_model

        lcfg = LoraConfig(r=cfg.rank, lora_alpha=cfg.rank, lora_dropout=0.0, target_modules="all-linear",
                          task_type="CAUSAL_LM")
        tuned = get_peft_model(model, lcfg)
        try:
            tuned.ttt_losses = fit(tuned, tasks, cfg, deadline, backend=backend)
            yield tuned
        finally:
            tuned.unload()  # drop the adapter's layers; base weights were never touched
            model.eval()
    else:
        saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
        flags = {n: p.requires_grad for n, p in model.named_parameters()}
        for p in model.parameters():
            p.requires_grad_(True)
        try:
            model.ttt_losses = fit(model, tasks, cfg, deadline, backend=backend)
            yield model
        finally:
            with torch.no_grad():
                model.load_state_dict(saved)
            for n, p in model.named_parameters():
                p.requires_grad_(flags[n])
            model.eval()
