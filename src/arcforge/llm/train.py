"""Train a model on ARC tasks: random views, leave-one-out samples, packed batches, cosine schedule.

    arcforge train --model tiny --data arc1/train --steps 200 --out runs/tiny

Each optimiser step draws its samples from a generator seeded by (seed, step), so a killed run resumed
from its last checkpoint sees exactly the batches it would have seen. Samples are packed into rows of
`batch_tokens` tokens with no padding; attention never crosses a sample boundary (model.packed_mode).
The loss covers output grids only and is weighted by tokens across gradient accumulation.
With cfg.generated > 0 that fraction of samples comes from fresh tasks built by the task generators
(arcforge.generators) instead of the task list; the generators of held-out validation tasks are left out.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from arcforge.augment import random_view
from arcforge.errors import ArcError
from arcforge.generators import generate_task, generator_ids, get_generator
from arcforge.llm.config import TrainConfig
from arcforge.llm.text import IGNORE, PAD, encode_pairs
from arcforge.task import Task

# ---- samples ----


@dataclass
class Sample:
    ids: list[int]
    labels: list[int]  # IGNORE where no loss is taken


def task_sample(task: Task, rng: np.random.Generator, cfg: TrainConfig, limit: int | None = None) -> Sample | None:
    """One leave-one-out sample of a task under a random view: one example (a train pair, or a test
    pair whose output is known) plays the test, the others are the demonstrations. Demonstrations are
    dropped until the sample fits cfg.max_len (and `limit`); None if even one does not fit."""
    pool = [*task.train, *(ex for ex in task.test if ex.output is not None)]
    if len(pool) < 2:
        return None
    held = int(rng.integers(len(pool)))
    demos = [ex for i, ex in enumerate(pool) if i != held]
    view = random_view(rng, len(demos), cfg.symmetries, cfg.colours, True, cfg.shuffle)
    seen = view.apply(Task(task.id, tuple(demos), (pool[held],)))
    limit = min(cfg.max_len, cfg.batch_tokens, limit or cfg.max_len)
    for n in range(len(demos), 0, -1):
        sub = Task(seen.id, seen.train[:n], seen.test)
        ids, labels = encode_pairs(sub, 0, test_output=True)
        if len(ids) <= limit:
            return Sample(ids, labels)
    return None


def generator_pool(held_out: list[Task] = ()) -> list[str]:
    """The ids of the task generators that may feed training: all registered ones except those of
    `held_out` tasks (same id, or same content as the generator's real task), so that a validation
    loss is never measured on a family the model was fed fresh instances of."""
    pool = generator_ids()
    if not held_out:
        return pool
    ids = {t.id for t in held_out}
    hashes = {t.content_hash() for t in held_out}
    from arcforge.datasets import load_tasks

    sources = {get_generator(g).source for g in pool}
    real = {t.id: t for src in sorted(sources) for t in load_tasks(src)}
    return [g for g in pool if g not in ids and not (g in real and real[g].content_hash() in hashes)]


def pick_task(tasks: list[Task], rng: np.random.Generator, cfg: TrainConfig,
              generators: list[str] | None = None) -> Task:
    """The task of the next sample: with probability cfg.generated a fresh one from a generator of
    `generators` (default: all), with 3-4 train pairs and a test pair; otherwise one of `tasks`.
    With cfg.generated == 0 the random stream is the same as without generators."""
    if cfg.generated > 0 and rng.random() < cfg.generated:
        pool = generator_ids() if generators is None else generators
        if pool:
            gid = pool[int(rng.integers(len(pool)))]
            return generate_task(gid, rng, n_train=int(rng.integers(3, 5)))
    return tasks[int(rng.integers(len(tasks)))]


def draw_samples(tasks: list[Task], rng: np.random.Generator, cfg: TrainConfig, n_batches: int,
                 generators: list[str] | None = None) -> list[list[Sample]]:
    """n_batches micro-batches, each a list of samples whose lengths sum to at most cfg.batch_tokens.
    A sample too long for the room left loses demonstrations until it fits; after a few that cannot
    fit at all the row is closed. cfg.generated of the samples come from `generators` (pick_task)."""
    batches = []
    for _ in range(n_batches):
        row, used, misses = [], 0, 0
        while misses < 8 and used < cfg.batch_tokens:
            s = task_sample(pick_task(tasks, rng, cfg, generators), rng, cfg, cfg.batch_tokens - used)
            if s is None:
                misses += 1
                continue
            row.append(s)
            used += len(s.ids)
        if not row:
            raise ArcError(f"no sample fits in batch_tokens={cfg.batch_tokens} (max_len={cfg.max_len}); "
                           "raise batch_tokens")
        batches.append(row)
    return batches


# ---- batches ----


def packed_batch(samples: list[Sample], device: torch.device, token_ids: list[int] | None = None) -> dict:
    """One row holding all samples back to back: input ids, per-sample positions, next-token targets
    (IGNORE at each sample's last token) and the cumulative sample lengths for packed attention."""
    ids = np.concatenate([s.ids for s in samples])
    pos = np.concatenate([np.arange(len(s.ids)) for s in samples])
    tgt = np.concatenate([[*s.labels[1:], IGNORE] for s in samples])
    lens = [len(s.ids) for s in samples]
    cu = np.concatenate([[0], np.cumsum(lens)])
    if token_ids is not None:  # a model that kept its full vocabulary
        lut = np.asarray(token_ids)
        ids, tgt = lut[ids], np.where(tgt == IGNORE, IGNORE, lut[np.maximum(tgt, 0)])
    t = lambda a, dt=torch.long: torch.as_tensor(a, dtype=dt).to(device, non_blocking=True)
    cu_t = t(cu, torch.int32)
    return dict(input_ids=t(ids)[None], position_ids=t(pos)[None], targets=t(tgt)[None],
                cu_seq_lens_q=cu_t, cu_seq_lens_k=cu_t, max_length_q=max(lens), max_length_k=max(lens))


def padded_batch(samples: list[Sample], device: torch.device, token_ids: list[int] | None = None) -> dict:
    """One row per sample, right-padded to the longest: for backends without packed attention."""
    L = max(len(s.ids) for s in samples)
    ids = np.full((len(samples), L), PAD)
    tgt = np.full((len(samples), L), IGNORE)
    mask = np.zeros((len(samples), L), dtype=np.int64)
    for i, s in enumerate(samples):
        ids[i, :len(s.ids)] = s.ids
        tgt[i, :len(s.ids)] = [*s.labels[1:], IGNORE]
        mask[i, :len(s.ids)] = 1
    if token_ids is not None:
        lut = np.asarray(token_ids)
        ids, tgt = lut[ids], np.where(tgt == IGNORE, IGNORE, lut[np.maximum(tgt, 0)])
    t = lambda a: torch.as_tensor(a, dtype=torch.long).to(device, non_blocking=True)
    return dict(input_ids=t(ids), attention_mask=t(mask), targets=t(tgt))


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


def make_optimizer(model, cfg: TrainConfig):
    params = [p for p in model.parameters() if p.requires_grad]
    fused = {"fused": True} if params and params[0].is_cuda else {}
    opt = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay, **fused)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg))
    return opt, sched


def _autocast(device: torch.device):
    # bf16 on GPU, fp32 on CPU
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


def _uses_packing(backend: str) -> bool:
    # unsloth patches attention itself and ignores transformers' attention interface: pad for it
    return backend != "unsloth"


def step_batches(tasks: list[Task], step: int, cfg: TrainConfig, device, packed: bool,
                 token_ids: list[int] | None = None, stream: int = 0,
                 generators: list[str] | None = None) -> list[dict]:
    """The micro-batches of one step, drawn afresh from (seed, stream, step): resumable by construction."""
    rng = np.random.default_rng([cfg.seed, stream, step])
    make = packed_batch if packed else padded_batch
    return [make(row, device, token_ids) for row in draw_samples(tasks, rng, cfg, cfg.grad_accum, generators)]


def train_step(model, opt, sched, batches: list[dict], cfg: TrainConfig, packed: bool = True) -> float:
    """One optimiser step over micro-batches; loss weighted by labelled tokens across all of them."""
    from arcforge.llm.model import packed_mode

    model.train()
    device = batches[0]["input_ids"].device
    total = sum(int((b["targets"] != IGNORE).sum()) for b in batches)
    loss_sum = 0.0
    ctx = packed_mode(model) if packed else _nullctx()
    with ctx:
        for b in batches:
            with _autocast(device):
                loss, _ = batch_loss_sum(model, b)
            (loss / max(total, 1)).backward()
            loss_sum += float(loss.detach())
    if cfg.grad_clip:
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], cfg.grad_clip)
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
    from arcforge.llm.model import packed_mode

    model.eval()
    loss_sum, n = 0.0, 0
    ctx = packed_mode(model) if packed else _nullctx()
    with ctx:
        for b in batches:
            with _autocast(b["input_ids"].device):
                loss, k = batch_loss_sum(model, b)
            loss_sum, n = loss_sum + float(loss), n + k
    return loss_sum / max(n, 1)


def train_steps(model, tasks: list[Task], steps: int, cfg: TrainConfig, start_step: int = 0, opt=None, sched=None,
                backend: str = "transformers", token_ids: list[int] | None = None, on_step=None,
                generators: list[str] | None = None) -> list[float]:
    """Train `model` in place for `steps` optimiser steps on samples of `tasks` (e.g. one task for
    test-time training: its train pairs take turns as the test), and with cfg.generated > 0 on fresh
    tasks of `generators` (default: all; see generator_pool). Returns the losses."""
    device = next(model.parameters()).device
    if opt is None:
        opt, sched = make_optimizer(model, cfg)
    packed = _uses_packing(backend)
    losses = []
    for step in range(start_step, start_step + steps):
        batches = step_batches(tasks, step, cfg, device, packed, token_ids, generators=generators)
        losses.append(train_step(model, opt, sched, batches, cfg, packed))
        if on_step is not None:
            on_step(step, losses[-1], batches)
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
    old = out / "checkpoint.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(out: Path, cfg: TrainConfig, device=None):
    """Model, optimiser, scheduler, next step and state of out/checkpoint."""
    from arcforge.llm.model import load_model

    ck = out / "checkpoint"
    if not (ck / "state.json").is_file():
        raise ArcError(f"{out}: no checkpoint to resume from (expected {ck}/state.json)")
    state = json.loads((ck / "state.json").read_text())
    backend = cfg.backend or state.get("backend")  # keep the run's backend unless told otherwise
    model, info = load_model(str(ck), backend=backend, device=device or cfg.device, trainable=True)
    opt, sched = make_optimizer(model, cfg)
    saved = torch.load(ck / "trainer.pt", map_location=next(model.parameters()).device, weights_only=False)
    opt.load_state_dict(saved["opt"])
    sched.load_state_dict(saved["sched"])
    return model, info, opt, sched, state["step"], state


# ---- the whole run ----


def train(cfg: TrainConfig, resume: bool = False) -> dict:
    """Train per cfg, writing out/checkpoint every cfg.save_every steps and the final model to
    out/model. Returns a summary (final loss, validation loss, tokens/s)."""
    from tqdm import tqdm

    from arcforge.llm.model import PRESETS, LoraSettings, load_model, save_model

    out = Path(cfg.out)
    if not 0.0 <= cfg.generated <= 1.0:
        raise ArcError(f"generated must be a fraction from 0 to 1, got {cfg.generated}")
    tasks = load_training_tasks(cfg)
    train_tasks, val_tasks = split_validation(tasks, cfg.val_tasks, cfg.seed)
    if not train_tasks:
        raise ArcError(f"no training tasks in {', '.join(cfg.data)}")
    if resume:
        model, info, opt, sched, start, state = load_checkpoint(out, cfg)
        base_spec = state.get("base")
    else:
        if (out / "checkpoint").exists():
            raise ArcError(f"{out} already holds a checkpoint: pass --resume to continue it, or choose another --out")
        lora = LoraSettings(r=cfg.lora_r, alpha=cfg.lora_alpha) if cfg.lora else None
        base_spec = cfg.model
        if cfg.lora and cfg.model in PRESETS:
            # a fresh base has no home on disk: keep it beside the run so the adapter can find it
            base, _ = load_model(cfg.model, cfg.backend, None, "cpu", seed=cfg.seed)
            base_spec = str(save_model(base, out / "base").resolve())
        model, info = load_model(base_spec, cfg.backend, lora, cfg.device, seed=cfg.seed)
        opt, sched, start = *make_optimizer(model, cfg), 0
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))
    device = next(model.parameters()).device
    token_ids = None if info.token_ids == list(range(len(info.token_ids))) else info.token_ids
    packed = _uses_packing(info.backend)
    # validation: held-out real tasks only; training: generators of held-out tasks left out
    val_cfg = TrainConfig(**{**cfg.to_dict(), "grad_accum": cfg.val_batches, "generated": 0.0})
    generators = generator_pool(val_tasks) if cfg.generated > 0 else None
    val_batches = step_batches(val_tasks, 0, val_cfg, device, packed, token_ids, stream=1) if val_tasks else []
    # torch.manual_seed(...) is not needed: dropout is off and data depends on (seed, step) alone

    log = open(out / "log.jsonl", "a")
    bar = tqdm(total=cfg.steps, initial=start, disable=not cfg.progress, unit="step", dynamic_ncols=True)
    tokens, t0, loss, val = 0, time.perf_counter(), float("nan"), None

    def on_step(step, loss_value, batches):
        nonlocal tokens, loss, val
        loss = loss_value
        tokens += sum(int(b["input_ids"].numel()) for b in batches)
        done = step + 1
        rec = {"step": done, "loss": round(loss, 5), "lr": sched.get_last_lr()[0]}
        if val_batches and (done % cfg.eval_every == 0 or done == cfg.steps):
            val = evaluate(model, val_batches, packed)
            rec["val_loss"] = round(val, 5)
        if done % cfg.save_every == 0 or done in (cfg.steps, cfg.stop_at):
            save_checkpoint(out, model, opt, sched, done, base_spec, cfg, {"backend": info.backend})
        tps = tokens / (time.perf_counter() - t0)
        rec["tokens_per_s"] = round(tps)
        log.write(json.dumps(rec) + "\n")
        log.flush()
        bar.set_postfix(loss=f"{loss:.4f}", val=f"{val:.4f}" if val is not None else "-", tok_s=f"{tps:,.0f}")
        bar.update(1)

    try:
        end = min(cfg.steps, cfg.stop_at or cfg.steps)
        train_steps(model, train_tasks, max(0, end - start), cfg, start, opt, sched, info.backend, token_ids, on_step,
                    generators)
    finally:
        bar.close()
        log.close()
    save_model(model, out / "model", base_spec)
    seconds = time.perf_counter() - t0
    return {"steps": end, "loss": loss, "val_loss": val, "tokens": tokens, "seconds": round(seconds, 2),
            "tokens_per_s": round(tokens / max(seconds, 1e-9)), "model": str(out / "model"),
            "train_tasks": len(train_tasks), "val_tasks": len(val_tasks)}
