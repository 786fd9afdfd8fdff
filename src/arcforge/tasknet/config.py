"""Settings of the tasknet solver (no torch import here, so the command line stays fast)."""

from __future__ import annotations

from dataclasses import dataclass, field

# model sizes by name (parameters without the task embeddings): 0.11M, 5.12M, 27.3M, 92.1M
PRESETS = {
    "tiny": dict(dim=64, layers=2, heads=4, mlp=192),
    "small": dict(dim=256, layers=6, heads=8, mlp=768),
    "base": dict(dim=512, layers=8, heads=8, mlp=1536),
    "large": dict(dim=768, layers=12, heads=12, mlp=2304),
}


@dataclass
class TaskNetOptions:
    preset: str = "small"  # model size: tiny, small, base (tasknet/model.py)
    # fixed views per task (D8 symmetries with colour permutations), each with its own embedding: 32
    # against 8 took the development split from 24.67% to 39% at a 5-minute budget (one H200)
    views: int = 32
    # training sets; "gen:ID:N" adds N fresh tasks of the generator family of task ID (arcforge.generators)
    data: list[str] = field(default_factory=lambda: ["arc1/train", "arc2/train-clean"])
    train_time_s: float = 600.0  # training time when the run has no --budget
    # share of training rows drawn from the run's own demonstrations (None: as many as they are among all)
    run_share: float | None = 0.3
    train_share: float = 0.9  # of the run's budget left at preparation, for training
    steps: int | None = None  # a fixed number of steps instead of a time (tests, ablations)
    lr: float = 1e-3
    optimizer: str = "muon"  # Muon for the blocks' matrices and AdamW for the rest, or "adamw" (tasknet/optim.py)
    init: str | None = None  # a trained tasknet checkpoint.pt to start from instead of from scratch
    # tokens per training step; None: 65536 on a GPU (against 32768: 41 tasks of the development split
    # against 36 at 5 minutes, one H100; 131072 got 35), 8192 on a CPU
    batch_tokens: int | None = None
    threshold: float | None = None  # None: write greedily; else every answer of at least this probability (DFS)
    rank: str = "poe"  # order of a test input's answers: "poe" (summed log-prob under all views) or "votes"
    compile: bool = False  # torch.compile the model for training (batches of one shape)
    device: str | None = None
    task_time_s: float | None = None


def check_data(names: list[str]) -> None:
    """A one-line error for a --tasknet-data entry that is neither a dataset (name or path) nor a
    well-formed generator entry, before a run starts."""
    from pathlib import Path

    from arcforge.datasets import dataset_names
    from arcforge.errors import ArcError
    from arcforge.generators import generator_ids

    for name in names:
        if name.startswith("gen:"):
            parts = name.split(":")
            if len(parts) != 3 or not parts[2].isdigit() or parts[1] not in {"all", *generator_ids()}:
                raise ArcError(f"--tasknet-data: '{name}' is not gen:ID:N or gen:all:N with ID a generator family")
        elif name not in dataset_names() and not Path(name).exists():
            raise ArcError(f"--tasknet-data: '{name}' is neither a dataset ({', '.join(dataset_names())}) nor a path")
