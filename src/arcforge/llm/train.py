"""Train a model on ARC tasks: random views, leave-one-out samples, packed batches, cosine schedule.

    arcforge train --model tiny --data arc1/train --steps 200 --out runs/tiny

Each optimiser step draws its samples from a generator seeded by (seed, step), so a killed run resumed
from its last checkpoint sees exactly the batches it would have seen. Samples are packed into rows of
`batch_tokens` tokens with no padding; attention never crosses a sample boundary (attention.packed_mode).
The loss covers output grids only and is weighted by tokens across gradient accumulation.
With cfg.generated > 0 that fraction of samples comes from fresh tasks built by the task generators
(arcforge.generators) instead of the task list; the generators of held-out validation tasks are left out.
Samples and batches are made in llm/samples.py; llm/checkpoint.py carries a checkpoint between machines.

A run can stop on one machine and go on on another, its checkpoint carried in files small enough for
tools that move at most 16 MiB a file. On machine A:

    arcforge train --model arc-12m --steps 4000 --out RUN --stop-at 1500
    arcforge export-checkpoint RUN OUT/ck            # add --full to carry the optimiser state too

bring OUT/ck back (manifest.json, meta.json, weights-*.safetensors; with --full also trainer.pt.NNN),
then on machine B:

    arcforge train --resume-from ck --out RUN        # the saved settings; flags given here win

The manifest's sizes and sha256 are checked first. A --full export resumes exactly; the default
(bf16 weights, ~25 MB for arc-12m) starts fresh Adam moments at the saved step with the lr re-warmed
over resume_warmup steps. RUN then holds a normal checkpoint: `--resume` works there as usual.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from arcforge import precision
from arcforge.errors import ArcError
from arcforge.llm.attention import packed_mode
from arcforge.llm.checkpoint import import_checkpoint, replace_dir
from arcforge.llm.config import TrainConfig
from arcforge.llm.samples import draw_samples, generator_pool, packed_batch, padded_batch
from arcforge.llm.text import IGNORE, check_positions, position_scheme
from arcforge.progress import Progress
from arcforge.task import Task


def batch_loss_sum(model, batch: dict) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over the batch's labelled tokens, and how many there are."""
    inputs = {k: v for k, v in batch.items() if k != "targets"}
    logits = model(**inputs, use_cache=False).logits
    tgt = batch["targets"]
    loss = F.cross_entropy(logits.float().flatten(0, 1), tgt.flatten(), ignore_index=IGNORE, reduction="sum")
    return loss, int((tgt != IGNORE).sum())


# ---- the loop ----


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine down to cfg.min_lr_ratio."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    frac = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))


def steps_in_budget(step: int, since: tuple[int, float], now: float, left_s: float) -> int:
    """The total steps of a time-budgeted run: `step` done, plus as many as `left_s` seconds hold at
    the rate measured since `since` (step, time), 3% kept for evaluations and checkpoints."""
    per_step = (now - since[1]) / (step - since[0])
    return step + max(0, int(0.97 * left_s / per_step))


def rewarm_factor(step: int, rewarm_from: int | None, cfg: TrainConfig) -> float:
    """After a resume with fresh Adam moments at step `rewarm_from`: a linear ramp over
    cfg.resume_warmup steps (1 otherwise), multiplying lr_factor."""
    if rewarm_from is None or cfg.resume_warmup <= 0:
        return 1.0
    return min(1.0, max(0, step - rewarm_from + 1) / cfg.resume_warmup)


def make_optimizer(model, cfg: TrainConfig, start: int = 0, rewarm_from: int | None = None):
    """AdamW and its schedule, placed at step `start` (the lr of the next step is that of `start`)."""
    params = [p for p in model.parameters() if p.requires_grad]
    fused = {"fused": True} if params and params[0].is_cuda else {}
    opt = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay, **fused)
    for g in opt.param_groups:
        g["initial_lr"] = g["lr"]
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, cfg) * rewarm_factor(s, rewarm_from, cfg), last_epoch=start - 1)
    return opt, sched


def _uses_packing(backend: str) -> bool:
    # unsloth patches attention itself and ignores transformers' attention interface: pad for it
    return backend != "unsloth"


def step_batches(tasks: list[Task], step: int, cfg: TrainConfig, device, packed: bool,
                 token_ids: list[int] | None = None, stream: int = 0,
                 generators: list[str] | None = None, scheme: str = "linear") -> list[dict]:
    """The micro-batches of one step, drawn afresh from (seed, stream, step): resumable by construction.
    `scheme`: the model's position scheme."""
    rng = np.random.default_rng([cfg.seed, stream, step])
    make = packed_batch if packed else padded_batch
    return [make(row, device, token_ids, scheme) for row in draw_samples(tasks, rng, cfg, cfg.grad_accum, generators)]


def train_step(model, opt, sched, batches: list[dict], cfg: TrainConfig, packed: bool = True,
               scaler: torch.amp.GradScaler | None = None) -> float:
    """One optimiser step over micro-batches; loss weighted by labelled tokens across all of them.
    `scaler`: fp16's loss scaling (precision.scaler), or None."""
    model.train()
    device = batches[0]["input_ids"].device
    total = sum(int((b["targets"] != IGNORE).sum()) for b in batches)
    loss_sum = 0.0
    ctx = packed_mode(model) if packed else _nullctx()
    with ctx:
        for b in batches:
            with precision.autocast(device):
                loss, _ = batch_loss_sum(model, b)
            loss_part = loss / max(total, 1)
            (scaler.scale(loss_part) if scaler is not None else loss_part).backward()
            loss_sum += float(loss.detach())
    if scaler is not None:
        scaler.unscale_(opt)
    if cfg.grad_clip:
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], cfg.grad_clip)
    if scaler is not None:
        scaler.step(opt)  # skipped when fp16 gradients overflowed; the scale then shrinks
        scaler.update()
    else:
        opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)
    return loss_sum / max(total, 1)


class _nullctx:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False


@torch.no_grad()
def evaluate(model, batches: list[dict], packed: bool = True) -> float:
    model.eval()
    loss_sum, n = 0.0, 0
    ctx = packed_mode(model) if packed else _nullctx()
    with ctx:
        for b in batches:
            with precision.autocast(b["input_ids"].device):
                loss, k = batch_loss_sum(model, b)
            loss_sum, n = loss_sum + float(loss), n + k
    return loss_sum / max(n, 1)


def train_steps(model, tasks: list[Task], steps: int, cfg: TrainConfig, start_step: int = 0, opt=None, sched=None,
                backend: str = "transformers", token_ids: list[int] | None = None, on_step=None,
                generators: list[str] | None = None, scaler: torch.amp.GradScaler | None = None) -> list[float]:
    """Train `model` in place for `steps` optimiser steps on samples of `tasks` (e.g. one task for
    test-time training: its train pairs take turns as the test), and with cfg.generated > 0 on fresh
    tasks of `generators` (default: all; see generator_pool). Returns the losses."""
    device = next(model.parameters()).device
    if opt is None:
        opt, sched = make_optimizer(model, cfg)
    packed = _uses_packing(backend)
    scheme = position_scheme(model)
    scaler = scaler or precision.scaler(device)
    losses = []
    for step in range(start_step, start_step + steps):
        batches = step_batches(tasks, step, cfg, device, packed, token_ids, generators=generators, scheme=scheme)
        losses.append(train_step(model, opt, sched, batches, cfg, packed, scaler))
        if on_step is not None and on_step(step, losses[-1], batches):
            break  # on_step asked to stop (e.g. the time budget is spent)
    return losses


# ---- data hygiene ----


def load_training_tasks(cfg: TrainConfig) -> list[Task]:
    """The tasks of cfg.data. Refuses evaluation sets unless allow_eval, and drops (with a warning) any
    training task whose content matches an evaluation task: arc1/train itself shares one task with
    arc1/eval, and arc2/train holds hundreds (use arc2/train-clean)."""
    from arcforge.datasets import EVAL_SETS, load_tasks

    tasks: list[Task] = []
    for name in cfg.data:
        if name in EVAL_SETS and not cfg.allow_eval:
            raise ArcError(f"refusing to train on evaluation set '{name}' (pass --allow-eval if you mean it)")
        tasks.extend(load_tasks(name))
    eval_hashes = {}
    for name in EVAL_SETS:
        if name in cfg.data:
            continue
        for t in load_tasks(name):
            eval_hashes[t.content_hash()] = f"{name}:{t.id}"
    leaks = [(t.id, eval_hashes[h]) for t in tasks if (h := t.content_hash()) in eval_hashes]
    if leaks:
        ex = ", ".join(f"{a} = {b}" for a, b in leaks[:3])
        hint = "; use arc2/train-clean instead of arc2/train" if "arc2/train" in cfg.data else ""
        print(f"warning: dropping {len(leaks)} training tasks that have the content of an evaluation task "
              f"({ex}){hint}", file=sys.stderr)
        leaked = {a for a, _ in leaks}
        tasks = [t for t in tasks if t.id not in leaked]
    return tasks


def split_validation(tasks: list[Task], n: int, seed: int) -> tuple[list[Task], list[Task]]:
    if n <= 0 or len(tasks) <= n:
        return tasks, []
    order = np.random.default_rng([seed, 7]).permutation(len(tasks))
    val = set(order[:n].tolist())
    return [t for i, t in enumerate(tasks) if i not in val], [t for i, t in enumerate(tasks) if i in val]


# ---- checkpoints ----


def save_checkpoint(out: Path, model, opt, sched, step: int, base_spec: str | None, cfg: TrainConfig,
                    extra: dict | None = None) -> Path:
    """out/checkpoint: the model (full or adapter), optimiser and schedule, and the step. Written to a
    temporary folder first and renamed, so a run killed mid-save keeps its previous checkpoint."""
    from arcforge.llm.model import save_model

    tmp, final = out / "checkpoint.tmp", out / "checkpoint"
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(model, tmp, base_spec)
    torch.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, tmp / "trainer.pt")
    (tmp / "state.json").write_text(json.dumps({"step": step, "base": base_spec, "config": cfg.to_dict(),
                                                **(extra or {})}, indent=1))
    return replace_dir(tmp, final)


def load_checkpoint(out: Path, cfg: TrainConfig, device=None):
    """Model, optimiser, scheduler, next step and state of out/checkpoint. Without trainer.pt (a light
    export carried from another machine): fresh Adam moments, the schedule at the saved step and a
    re-warm of the lr over cfg.resume_warmup steps (state["rewarm_from"] records where it began)."""
    from arcforge.llm.model import load_model

    ck = out / "checkpoint"
    if not (ck / "state.json").is_file():
        raise ArcError(f"{out}: no checkpoint to resume from (expected {ck}/state.json)")
    state = json.loads((ck / "state.json").read_text())
    backend = cfg.backend or state.get("backend")  # keep the run's backend unless told otherwise
    model, info = load_model(str(ck), backend=backend, device=device or cfg.device, trainable=True)
    if not (ck / "trainer.pt").is_file():
        state["rewarm_from"] = state["step"]
        opt, sched = make_optimizer(model, cfg, state["step"], state["step"])
        return model, info, opt, sched, state["step"], state
    opt, sched = make_optimizer(model, cfg, rewarm_from=state.get("rewarm_from"))
    saved = torch.load(ck / "trainer.pt", map_location=next(model.parameters()).device, weights_only=False)
    opt.load_state_dict(saved["opt"])
    sched.load_state_dict(saved["sched"])
    return model, info, opt, sched, state["step"], state


def train(cfg: TrainConfig, resume: bool = False, resume_from: str | Path | None = None) -> dict:
    """Train per cfg, writing out/checkpoint every cfg.save_every steps and the final model to
    out/model. Returns a summary (final loss, validation loss, tokens/s). `resume` continues
    out/checkpoint; `resume_from` starts out/ from a checkpoint written by export_checkpoint.

    Position scheme: cfg.positions, when set, is given to the model at the start (a fresh shape, or an
    existing model re-trained under another scheme); unset, the model keeps its own (config.json's
    arc_positions; "linear" for a fresh shape or a model without one). A resumed run keeps its
    checkpoint's scheme and refuses a cfg.positions that differs."""
    from arcforge.llm.model import SHAPES, LoraSettings, check_device, load_model, save_model

    check_device(cfg.device)  # before anything is written
    out = Path(cfg.out)
    if not 0.0 <= cfg.generated <= 1.0:
        raise ArcError(f"generated must be a fraction from 0 to 1, got {cfg.generated}")
    if cfg.positions is not None:
        check_positions(cfg.positions)
    tasks = load_training_tasks(cfg)
    train_tasks, val_tasks = split_validation(tasks, cfg.val_tasks, cfg.seed)
    if not train_tasks:
        raise ArcError(f"no training tasks in {', '.join(cfg.data)}")
    rewarm_from = None
    if resume_from is not None:
        if resume or (out / "checkpoint").exists():
            raise ArcError(f"{out} already holds a checkpoint: pass --resume to continue it, or choose another --out")
        out.mkdir(parents=True, exist_ok=True)
        import_checkpoint(resume_from, out)
        resume = True
    if resume:
        model, info, opt, sched, start, state = load_checkpoint(out, cfg)
        base_spec, rewarm_from = state.get("base"), state.get("rewarm_from")
        if cfg.time_budget and state.get("config", {}).get("time_budget"):
            cfg.steps = state["config"]["steps"]  # the schedule the run chose from its own rate
        if cfg.positions not in (None, position_scheme(model)):
            raise ArcError(f"{out}: the run's model has {position_scheme(model)} positions, not {cfg.positions}")
    else:
        if (out / "checkpoint").exists():
            raise ArcError(f"{out} already holds a checkpoint: pass --resume to continue it, or choose another --out")
        lora = LoraSettings(r=cfg.lora_r, alpha=cfg.lora_alpha) if cfg.lora else None
        base_spec = cfg.model
        if cfg.lora and cfg.model in SHAPES:
            # a fresh base has no home on disk: keep it beside the run so the adapter can find it
            base, _ = load_model(cfg.model, cfg.backend, None, "cpu", seed=cfg.seed, positions=cfg.positions)
            base_spec = str(save_model(base, out / "base").resolve())
        model, info = load_model(base_spec, cfg.backend, lora, cfg.device, seed=cfg.seed, positions=cfg.positions)
        opt, sched, start = *make_optimizer(model, cfg), 0
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))
    device = next(model.parameters()).device
    token_ids = None if info.token_ids == list(range(len(info.token_ids))) else info.token_ids
    packed = _uses_packing(info.backend)
    # validation: held-out real tasks only; training: generators of held-out tasks left out
    val_cfg = TrainConfig(**{**cfg.to_dict(), "grad_accum": cfg.val_batches, "generated": 0.0})
    generators = generator_pool(val_tasks) if cfg.generated > 0 else None
    scheme = position_scheme(model)
    val_batches = step_batches(val_tasks, 0, val_cfg, device, packed, token_ids, stream=1,
                               scheme=scheme) if val_tasks else []
    # torch.manual_seed(...) is not needed: dropout is off and data depends on (seed, step) alone

    log = open(out / "log.jsonl", "a")
    bar = Progress("train", cfg.steps, "step", initial=start, enabled=cfg.progress)
    tokens, t0, loss, val = 0, time.perf_counter(), float("nan"), None
    # --time-budget: the steps of a fresh run follow from the rate of steps probe_from..probe_to (the
    # first ones pay for warm-up), measured while the lr is still warming up, so the cosine schedule
    # is whole from the step that first depends on the total
    choose_steps = bool(cfg.time_budget) and not resume
    probe_from, probe_to = start + 2, start + max(4, min(10, cfg.warmup_steps))
    marks: dict[int, float] = {}

    def budget_steps(done: int) -> bool:
        """Set cfg.steps once the probe is measured; True once the budget is spent."""
        now = time.perf_counter()
        marks[done] = now
        if choose_steps and done == probe_to:
            cfg.steps = steps_in_budget(done, (probe_from, marks[probe_from]), now, cfg.time_budget - (now - t0))
            (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))
            bar.set_total(cfg.steps)
        return now - t0 >= cfg.time_budget

    def on_step(step, loss_value, batches):
        nonlocal tokens, loss, val, end
        loss = loss_value
        tokens += sum(int(b["input_ids"].numel()) for b in batches)
        done = step + 1
        spent = bool(cfg.time_budget) and budget_steps(done)
        rec = {"step": done, "loss": round(loss, 5), "lr": sched.get_last_lr()[0]}
        if val_batches and (done % cfg.eval_every == 0 or done == cfg.steps):
            val = evaluate(model, val_batches, packed)
            rec["val_loss"] = round(val, 5)
        if done % cfg.save_every == 0 or done in (cfg.steps, cfg.stop_at) or spent:
            extra = {"backend": info.backend, **({"rewarm_from": rewarm_from} if rewarm_from is not None else {})}
            save_checkpoint(out, model, opt, sched, done, base_spec, cfg, extra)
        tps = tokens / (time.perf_counter() - t0)
        rec["tokens_per_s"] = round(tps)
        log.write(json.dumps(rec) + "\n")
        log.flush()
        bar.update(1, loss=f"{loss:.4f}", val=f"{val:.4f}" if val is not None else "-", tok_s=f"{tps:,.0f}")
        end = min(cfg.steps, cfg.stop_at or cfg.steps) if done >= probe_to or not choose_steps else done + 1
        return spent or done >= end

    end = min(cfg.steps, cfg.stop_at or cfg.steps)
    try:
        # with a budget still to turn into steps, the loop runs open-ended and on_step ends it
        train_steps(model, train_tasks, 10**9 if choose_steps else max(0, end - start), cfg, start, opt, sched,
                    info.backend, token_ids, on_step, generators)
    finally:
        bar.close()
        log.close()
    save_model(model, out / "model", base_spec)
    seconds = time.perf_counter() - t0
    steps_done = max(marks) if marks else end
    return {"steps": steps_done, "loss": loss, "val_loss": val, "tokens": tokens, "seconds": round(seconds, 2),
            "tokens_per_s": round(tokens / max(seconds, 1e-9)), "model": str(out / "model"),
            "train_tasks": len(train_tasks), "val_tasks": len(val_tasks), "positions": scheme}
