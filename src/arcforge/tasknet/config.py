"""Settings of the tasknet solver (no torch import here, so the command line stays fast)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from tyro.conf import Suppress, arg

from arcforge.options import Commas, Duration, Range

# model sizes by name (parameters without the task embeddings): 0.11M, 5.12M, 27.3M, 92.1M
PRESETS = {
    "tiny": dict(dim=64, layers=2, heads=4, mlp=192),
    "small": dict(dim=256, layers=6, heads=8, mlp=768),
    "base": dict(dim=512, layers=8, heads=8, mlp=1536),
    "large": dict(dim=768, layers=12, heads=12, mlp=2304),
}


@dataclass
class TaskNetOptions:
    """Settings of the tasknet solver (`solve --solver ...,tasknet`)."""

    preset: Literal["tiny", "small", "base", "large"] = "small"
    """model size (PRESETS)"""
    views: Annotated[int, Range(1, 64)] = 32
    """fixed views per task (D8 symmetries with colour permutations), each with its own embedding: 32
    against 8 took the development split from 24.67% to 39% at a 5-minute budget (one H200)"""
    data: Annotated[list[str], Commas] = field(default_factory=lambda: ["arc1/train", "arc2/train-clean"])
    """training sets beside the run's demonstrations; gen:ID:N adds N fresh tasks of task ID's generator
    family (arcforge.generators)"""
    train_time_s: Annotated[float, arg(name="train-time"), Duration] = 600.0
    """training time when the run has no --budget"""
    run_share: Annotated[float | None, Range(0, 1)] = 0.3
    """share of training rows drawn from the run's own demonstrations (None: as many as they are among all)"""
    train_share: Annotated[float, Range(0, 1, above=True)] = 0.9
    """with --budget: the share of what is left at preparation that training gets"""
    steps: Annotated[int | None, Range(1)] = None
    """train this many steps instead of by time (tests, ablations)"""
    lr: Annotated[float, Range(0, above=True)] = 1e-3
    """peak learning rate"""
    optimizer: Literal["adamw", "muon"] = "muon"
    """muon: Muon for the blocks' weight matrices, AdamW for the rest (tasknet/optim.py); adamw: AdamW for all"""
    init: str | None = None
    """start from this trained tasknet (a run's prepared/tasknet/checkpoint.pt) instead of from scratch"""
    batch_tokens: Annotated[int | None, Range(64)] = None
    """tokens per training step; None: 65536 on a GPU (against 32768: 41 tasks of the development split
    against 36 at 5 minutes, one H100; 131072 got 35), 8192 on a CPU"""
    threshold: Annotated[float | None, Range(0, 1, above=True)] = None
    """None: write greedily; else every answer of at least this probability under each view (DFS)"""
    rank: Literal["poe", "votes"] = "poe"
    """order of a test input's answers: by their summed log-prob under all views (poe), or by votes"""
    input_loss: Annotated[float, Range(0)] = 0.3
    """weight of the loss on input tokens against the output's (0: outputs only); above 0 the model also
    learns to write the grids it reads, and the run's test inputs (never their outputs) join training.
    Development split at 5 minutes (one H200, one run each): 0 43.50%, 0.1 44.50%, 0.3 48.00%, 1.0 34.17%"""
    dropout: Annotated[float, Range(0, 1)] = 0.0
    """dropout while training (of the embeddings and of each block's residual branches); none while writing"""
    compile: bool = False
    """torch.compile the model for training (shapes dynamic: one compile for rows of any length, made at
    the first step, inside the budget)"""
    swap_views: Annotated[int, Range(1, 64)] = 2
    """role-swap check (`solve --role-swap NATS`, tasknet/roleswap.py): the task's first views it trains and
    scores under"""
    swap_steps: Annotated[int, Range(0)] = 0
    """role-swap check: Adam steps of each copy of the task's vector on the swapped train pairs; 0: the tasknet
    does not judge. Off because it lost right answers: on the development split (arc1/train, dsl,tasknet, one
    H100, 4m, 8 steps at 1e-2, 2 views) it removed 441 wrong candidates and 26 right ones at a 1-nat margin,
    161 and 7 at 4 nats, and pass@2 fell from 79.4% to 72.2% at 4 nats, 46.6% at 0 (tasknet/MODEL_CARD.md)"""
    swap_lr: Annotated[float, Range(0, above=True)] = 1e-2
    """role-swap check: their learning rate"""
    swap_share: Annotated[float, Range(0, 1)] = 0.1
    """with --budget, --role-swap and swap steps: the share of what is left at preparation kept from training
    for the check"""
    role_swap: Suppress[bool] = False
    """set by the run: whether the role-swap check will ask this solver"""
    device: Suppress[str | None] = None
    """set by the run: where the model trains"""
    task_time_s: Suppress[float | None] = None
    """set by the run"""


def check_data(names: list[str]) -> None:
    """A one-line error for a --tasknet.data entry that is neither a dataset (name or path) nor a
    well-formed generator entry, before a run starts."""
    from pathlib import Path

    from arcforge.datasets import dataset_names
    from arcforge.errors import ArcError
    from arcforge.generators import generator_ids

    for name in names:
        if name.startswith("gen:"):
            parts = name.split(":")
            if len(parts) != 3 or not parts[2].isdigit() or parts[1] not in {"all", *generator_ids()}:
                raise ArcError(f"--tasknet.data: '{name}' is not gen:ID:N or gen:all:N with ID a generator family")
        elif name not in dataset_names() and not Path(name).exists():
            raise ArcError(f"--tasknet.data: '{name}' is neither a dataset ({', '.join(dataset_names())}) nor a path")
