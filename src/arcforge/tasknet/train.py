"""Training the task-embedding transformer on every pair of a set of tasks, within a time budget.

    fit(tasks, run_ids, cfg, folder, deadline)   # trains, checkpoints in folder/, resumes from it

Each step draws packed rows of random (task, view, pair) sequences; the loss is the cross-entropy
of the output tokens, averaged over them (with `input_loss` w > 0, of the input tokens too, each
weighing w against an output token's 1). Steps come from the time budget (the schedule is set from
the rate of the first steps). bf16 autocast on GPUs that have it, fp16 with loss scaling on those
that don't, fp32 on a CPU. Under torch.distributed (torchrun, or `solve` on several GPUs) each rank
draws its own rows and DDP averages the gradients.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from arcforge import precision
from arcforge.errors import ArcError
from arcforge.llm.config import TrainConfig
from arcforge.llm.text import IGNORE
from arcforge.llm.train import lr_factor, steps_in_budget
from arcforge.task import Task
from arcforge.tasknet.data import draw_batch, packed_batch, training_pairs
from arcforge.tasknet.model import PRESETS, TaskNet, TaskNetConfig
from arcforge.tasknet.optim import make_optimizers


@dataclass
class FitConfig:
    preset: str = "small"
    views: int = 8  # fixed views per task, each with its own embedding
    lr: float = 1e-3  # AdamW's peak learning rate
    optimizer: str = "adamw"  # or "muon": Muon for the blocks' matrices, AdamW for the rest (tasknet/optim.py)
    muon_lr: float = 0.02
    init: str | None = None  # a tasknet checkpoint.pt to start from (new tasks get fresh embeddings)
    warmup: int = 50
    batch_tokens: int = 8192  # per rank and step
    run_share: float | None = None  # share of each batch drawn from the run's own pairs (None: as they come)
    steps: int | None = None  # None: as many as the time budget allows
    seed: int = 0
    save_every_s: float = 120.0  # checkpoint at least this often (seconds)
    device: str | None = None
    # torch.compile the training step's model, batches padded to batch_tokens (one shape: one compile)
    compile: bool = False
    # weight of the input tokens' loss against the output's; above 0 the run's test inputs come in too
    input_loss: float = 0.0
    dropout: float = 0.0  # the model's (TaskNetConfig.dropout), while training

    def to_dict(self) -> dict:
        return asdict(self)


def loss_of(model, batch: dict, input_weight: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy of the labelled tokens; with `input_weight`, a weighted mean in which a
    token of an input (position part 0) weighs that much and one of an output (part 1) 1."""
    logits = model(batch["ids"], batch["pos"], batch["emb"], batch["attn"])
    labels = batch["labels"].flatten()
    if not input_weight:
        return F.cross_entropy(logits.flatten(0, 1).float(), labels, ignore_index=IGNORE)
    ce = F.cross_entropy(logits.flatten(0, 1).float(), labels, ignore_index=IGNORE, reduction="none")
    part = batch["pos"][..., 2].flatten()
    w = torch.where(part == 0, input_weight, 1.0) * (labels != IGNORE)
    return (ce * w).sum() / w.sum().clamp(min=1e-9)


def train_step(model, opts: list, scaler, batch: dict, input_weight: float = 0.0) -> torch.Tensor:
    """One step of every optimiser in `opts` on one packed batch, in the run's compute format
    (precision.py; `scaler` is precision.scaler's). Under DDP the gradients are averaged over ranks."""
    with precision.autocast(batch["ids"].device):
        loss = loss_of(model, batch, input_weight)
    for opt in opts:
        opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    for opt in opts:
        scaler.unscale_(opt)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    for opt in opts:
        scaler.step(opt)
    scaler.update()
    return loss.detach()


def save(folder: Path, model, opts: list, step: int, steps: int, cfg: FitConfig, tasks: list[str]) -> None:
    """folder/checkpoint.pt, written whole or not at all, and folder/meta.json."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = model.module if hasattr(model, "module") else model
    tmp = folder / "checkpoint.pt.tmp"
    torch.save({"model": raw.state_dict(), "opt": [o.state_dict() for o in opts], "step": step, "steps": steps,
                "net": raw.cfg.to_dict(), "fit": cfg.to_dict(), "tasks": tasks}, tmp)
    os.replace(tmp, folder / "checkpoint.pt")


def load(folder: Path, device) -> tuple[TaskNet, dict]:
    """The trained model and its checkpoint (tasks: the task ids in embedding order)."""
    ck = torch.load(folder / "checkpoint.pt", map_location=device, weights_only=False)
    model = TaskNet(TaskNetConfig(**ck["net"])).to(device)
    model.load_state_dict(ck["model"])
    return model.eval(), ck


def start_from(model: TaskNet, path: Path, ids: list[str], views: int, device) -> None:
    """Start from a trained tasknet: every weight but the task embeddings, and the embeddings of the
    tasks (by id) it was trained on; the other tasks keep their fresh ones."""
    if not path.is_file():
        raise ArcError(f"{path}: no such tasknet checkpoint")
    ck = torch.load(path, map_location=device, weights_only=False)
    net = TaskNetConfig(**{**ck["net"], "n_embeddings": model.cfg.n_embeddings, "dropout": model.cfg.dropout})
    if net != model.cfg or ck["fit"]["views"] != views:
        raise ArcError(f"{path}: a {ck['fit']['preset']} model with {ck['fit']['views']} views; this run trains "
                       f"a different size or number of views")
    state = {k: v for k, v in ck["model"].items() if k != "tasks.weight"}
    model.load_state_dict(state, strict=False)
    old = {tid: i for i, tid in enumerate(ck["tasks"])}
    with torch.no_grad():
        for i, tid in enumerate(ids):
            if tid in old:
                j = old[tid]
                model.tasks.weight[i * views:(i + 1) * views] = ck["model"]["tasks.weight"][j * views:(j + 1) * views]


def past(deadline: float, step: int, distributed: bool, device) -> bool:
    """Whether training stops here for the deadline. Under DDP all ranks must stop at the same step:
    they decide together, every 10 steps (stopping if any rank is past it)."""
    late = time.monotonic() >= deadline
    if not distributed:
        return late
    if step % 10:
        return False
    flag = torch.tensor([int(late)], device=device)
    torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
    return bool(flag.item())


def fit(tasks: list[Task], run_ids: set[str], cfg: FitConfig, folder: Path, deadline: float | None,
        log=None) -> TaskNet:
    """Train on every pair of `tasks` (the run's own, `run_ids`, with their demonstrations only)
    until `cfg.steps` or `deadline` (time.monotonic()). A checkpoint in `folder` is resumed: a
    killed run loses at most `save_every_s` of training. Returns the model (rank 0's, unwrapped)."""
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    rank = torch.distributed.get_rank() if distributed else 0
    device = torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    seqs = training_pairs(tasks, run_ids, cfg.views, inputs=cfg.input_loss > 0)
    pool, run_seqs = seqs, None
    if cfg.run_share is not None:  # two pools: the run's pairs, drawn run_share of the time, and the others
        run_embs = {i * cfg.views + j for i, t in enumerate(tasks) if t.id in run_ids for j in range(cfg.views)}
        run_seqs = [s for s in seqs if s.emb in run_embs]
        pool = [s for s in seqs if s.emb not in run_embs]
    if not seqs:
        raise ArcError("tasknet: no pairs to train on")
    if cfg.steps is None and deadline is None:
        raise ArcError("tasknet: training needs a number of steps or a deadline")
    ids = [t.id for t in tasks]
    net = TaskNetConfig(n_embeddings=len(tasks) * cfg.views, dropout=cfg.dropout, **PRESETS[cfg.preset])
    model = TaskNet(net).to(device)
    opts = make_optimizers(model, cfg.optimizer, cfg.lr, cfg.muon_lr)
    start, steps = 0, cfg.steps
    resumed = False
    if (folder / "checkpoint.pt").is_file():
        ck = torch.load(folder / "checkpoint.pt", map_location=device, weights_only=False)
        if ck["tasks"] == ids and ck["fit"] == cfg.to_dict():
            model.load_state_dict(ck["model"])
            for o, state in zip(opts, ck["opt"]):
                o.load_state_dict(state)
            start, steps, resumed = ck["step"], ck["steps"], True
            if log is not None:
                log({"resumed_at": start, "steps": steps})
    if cfg.init and not resumed:
        start_from(model, Path(cfg.init), ids, cfg.views, device)
    scaler = precision.scaler(device)
    train_model = torch.nn.parallel.DistributedDataParallel(model) if distributed else model
    if cfg.compile:
        train_model = torch.compile(train_model, dynamic=True)  # one graph for rows of any length
    rng = np.random.default_rng([cfg.seed, rank, start])
    t0 = last_save = time.monotonic()
    probe = None  # (step, time) where the rate is measured from
    step, seen = start, 0  # seen: tokens this process trained on (per rank)
    while steps is None or step < steps:
        if deadline is not None and past(deadline, step, distributed, device):
            break
        # the LLM trainer's schedule: linear warm-up, cosine down to a tenth
        factor = lr_factor(step, TrainConfig(steps=steps or 10**9, warmup_steps=cfg.warmup, min_lr_ratio=0.1))
        lr = cfg.lr * factor
        for opt in opts:
            for g in opt.param_groups:
                g["lr"] = g["base_lr"] * factor
        drawn = draw_batch(pool, rng, cfg.batch_tokens, run_seqs, cfg.run_share or 0.0)
        batch = packed_batch(drawn, device)
        loss = train_step(train_model, opts, scaler, batch, cfg.input_loss)
        step += 1
        now = time.monotonic()
        if deadline is not None and (cfg.steps is None) and (
                step == start + 3 or (probe and step - start in (10, 100, 300, 1000, 3000))):
            # the schedule's length from the rate since step 3, set at step 10 and corrected while the
            # first steps (slower: allocation, warm-up) weigh less and less
            if step == start + 3:
                probe = (step, now)
            else:
                steps = steps_in_budget(step, probe, now, deadline - now)
                if distributed:  # every rank takes rank 0's count
                    t = torch.tensor([steps], device=device)
                    torch.distributed.broadcast(t, 0)
                    steps = int(t.item())
        seen += sum(len(x.ids) for x in drawn)
        if log is not None and (step % 50 == 0 or step == steps):
            log({"step": step, "steps": steps, "loss": round(loss.item(), 5), "lr": lr, "tokens": seen,
                 "seconds": round(now - t0, 1), "tokens_per_s": round(seen / max(now - t0, 1e-9))})
        if rank == 0 and now - last_save > cfg.save_every_s:
            save(folder, model, opts, step, steps or step, cfg, ids)
            last_save = now
    if rank == 0:
        save(folder, model, opts, step, steps or step, cfg, ids)
        (folder / "done.json").write_text(json.dumps({"step": step, "steps": steps, "views": cfg.views}) + "\n")
    if distributed:
        torch.distributed.barrier()  # the checkpoint is on disk for every rank
    return model.eval()
