"""Training samples and batches of the LLM trainer: leave-one-out samples of a task under a random
view (or of a fresh generated task), drawn into packed rows (no padding) or padded rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from arcforge.augment import random_view
from arcforge.errors import ArcError
from arcforge.generators import generate_task, generator_ids, get_generator
from arcforge.llm.config import TrainConfig
from arcforge.llm.text import IGNORE, PAD, encode_pairs, positions
from arcforge.task import Task


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


def packed_batch(samples: list[Sample], device: torch.device, token_ids: list[int] | None = None,
                 scheme: str = "linear") -> dict:
    """One row holding all samples back to back: input ids, per-sample positions (of the model's
    `scheme`), next-token targets (IGNORE at each sample's last token) and the cumulative sample
    lengths for packed attention."""
    ids = np.concatenate([s.ids for s in samples])
    pos = np.concatenate([positions(s.ids, scheme) for s in samples])
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


def padded_batch(samples: list[Sample], device: torch.device, token_ids: list[int] | None = None,
                 scheme: str = "linear") -> dict:
    """One row per sample, right-padded to the longest: for backends without packed attention."""
    L = max(len(s.ids) for s in samples)
    ids = np.full((len(samples), L), PAD)
    tgt = np.full((len(samples), L), IGNORE)
    mask = np.zeros((len(samples), L), dtype=np.int64)
    pos = np.zeros((len(samples), L), dtype=np.int64)
    for i, s in enumerate(samples):
        ids[i, :len(s.ids)] = s.ids
        tgt[i, :len(s.ids)] = [*s.labels[1:], IGNORE]
        mask[i, :len(s.ids)] = 1
        pos[i, :len(s.ids)] = positions(s.ids, scheme)
    if token_ids is not None:
        lut = np.asarray(token_ids)
        ids, tgt = lut[ids], np.where(tgt == IGNORE, IGNORE, lut[np.maximum(tgt, 0)])
    t = lambda a: torch.as_tensor(a, dtype=torch.long).to(device, non_blocking=True)
    return dict(input_ids=t(ids), attention_mask=t(mask), position_ids=t(pos), targets=t(tgt))
