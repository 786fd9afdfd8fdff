"""Settings of the language-model side: `TrainConfig` (what `arcforge train` trains, and its command
line through arcforge.options), the named training recipes, and `LLMOptions` (the LLM solver's part
of `arcforge solve`). No torch import here, so the command line stays fast.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Annotated, Literal

from tyro.conf import Suppress

from arcforge.options import Commas, Device, Duration, Range


@dataclass
class TrainConfig:
    """What `arcforge train` trains and how."""

    model: str = "tiny"
    """model shape (tiny, small, arc-12m, qwen2.5-0.5b-shape: llm/model.py SHAPES), model folder, or
    Hugging Face id"""
    backend: Literal["transformers", "unsloth"] | None = None
    """None: unsloth when installed and on CUDA"""
    lora: bool = False
    """train a LoRA adapter instead of all weights"""
    lora_r: Annotated[int, Range(1)] = 64
    """LoRA rank"""
    lora_alpha: Annotated[int, Range(1)] = 64
    """LoRA alpha"""
    positions: Literal["linear", "rows"] | None = None
    """position ids (llm/text.py); None keeps the model's own (a fresh shape's: linear)"""
    data: Annotated[list[str], Commas] = field(default_factory=lambda: ["arc1/train"])
    """comma-separated datasets (arc1/train, arc2/train-clean, a path, ...)"""
    allow_eval: bool = False
    """allow training on arc1/eval or arc2/eval"""
    val_tasks: Annotated[int, Range(0)] = 16
    """tasks held out of `data` for the validation loss"""
    steps: Annotated[int, Range(1)] = 200
    """optimiser steps"""
    time_budget: Annotated[float | None, Duration] = None
    """train for this long (e.g. 15m): `steps` is set from the rate of the first steps (a resumed run
    keeps the steps it chose), and training stops, checkpointed, when it runs out"""
    stop_at: Annotated[int | None, Range(1)] = None
    """end this invocation after this step, checkpointed (--resume goes on)"""
    lr: Annotated[float, Range(0, above=True)] = 1e-3
    """peak learning rate"""
    min_lr_ratio: Annotated[float, Range(0, 1)] = 0.1
    """the cosine schedule decays to lr * min_lr_ratio"""
    warmup_steps: Annotated[int, Range(0)] = 20
    """linear warm-up steps"""
    resume_warmup: Annotated[int, Range(0)] = 50
    """lr re-warm steps after --resume-from a light export (no optimiser state)"""
    weight_decay: Annotated[float, Range(0)] = 0.0
    """AdamW weight decay"""
    grad_clip: Annotated[float, Range(0)] = 1.0
    """gradient norm clip (0: none)"""
    batch_tokens: Annotated[int, Range(16)] = 8192
    """tokens per packed micro-batch (no padding)"""
    grad_accum: Annotated[int, Range(1)] = 1
    """micro-batches per optimiser step"""
    max_len: Annotated[int, Range(16)] = 8192
    """longest sample in tokens; train pairs are dropped until a sample fits"""
    symmetries: bool = True
    """random views: D8 symmetries ..."""
    colours: bool = True
    """... colour permutations (0 stays the background) ..."""
    shuffle: bool = True
    """... and train-example order"""
    generated: Annotated[float, Range(0, 1)] = 0.0
    """fraction of samples from fresh tasks of the task generators (arcforge.generators)"""
    eval_every: Annotated[int, Range(1)] = 100
    """steps between validation losses"""
    val_batches: Annotated[int, Range(1)] = 2
    """batches per validation loss"""
    save_every: Annotated[int, Range(1)] = 100
    """steps between checkpoints"""
    seed: Annotated[int, Range(0)] = 0
    """random seed"""
    out: str = "runs/train"
    """run folder: checkpoint/, model/, log.jsonl"""
    device: Annotated[str | None, Device] = None
    """cpu, cuda or cuda:N; None: cuda when available"""
    progress: Suppress[bool] = True
    """a progress bar (the command line's --quiet turns it off)"""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# training recipes (`arcforge train --recipe NAME`), named apart from the model shapes (llm/model.py SHAPES)
RECIPES: dict[str, dict] = {
    "tiny-scratch": dict(model="tiny", lr=2e-3, batch_tokens=4096, max_len=4096, warmup_steps=20),
    "small-scratch": dict(model="small", lr=1e-3, batch_tokens=8192, warmup_steps=50),
    "qwen2.5-0.5b-lora": dict(model="Qwen/Qwen2.5-0.5B-Instruct", lora=True, lora_r=64, lora_alpha=64, lr=1e-4,
                         batch_tokens=16384, grad_accum=2, max_len=8192, warmup_steps=100, steps=4000,
                         data=["arc1/train", "arc2/train-clean"], eval_every=250, save_every=250),
}


@dataclass
class LLMOptions:
    """Settings of the LLM solver (`solve --solver ...,llm`). None means: the device's default
    (DEVICE_DEFAULTS): the full recipe on a GPU, a light touch on a CPU."""

    model: str | None = None
    """HF id, folder or model shape; None: the model shipped in the package"""
    backend: Literal["unsloth", "transformers"] | None = None
    """None: unsloth if installed and on a GPU"""
    ttt: Literal["off", "per-task", "joint"] | None = None
    """test-time training (None: per-task on a GPU, off on a CPU)"""
    ttt_steps: Annotated[int | None, Range(0)] = None
    """test-time training steps per task (None: 32)"""
    ttt_lr: Annotated[float, Range(0, above=True)] = 1e-4
    """test-time training learning rate"""
    ttt_rank: Annotated[int, Range(0)] = 32
    """LoRA rank for test-time training; 0: full fine-tuning"""
    views: Annotated[int | None, Range(1)] = None
    """augmented views for decoding and scoring (None: 8 on a GPU, 2 on a CPU)"""
    threshold: Annotated[float | None, Range(0, 1, above=True)] = None
    """DFS keeps completions above this probability (None: 0.1 on a GPU, 0.2 on a CPU)"""
    max_prompt_tokens: Annotated[int | None, Range(1)] = None
    """leave tasks with longer prompts to the other solvers (None: 8192 on a GPU, 2048 on a CPU)"""
    device: Annotated[str | None, Device] = None
    """where the model solvers run: cpu, cuda or cuda:N; None: cuda when there is one"""
    task_time_s: Suppress[float | None] = None
    """limit per task, set by the run (its --task-time when given; 0: none)"""


# What an unset LLM option means on each kind of device. A GPU does the full ARC Prize 2024 recipe;
# a CPU (e.g. `make demo` on a laptop) gets a light touch: no test-time training, two views, a
# higher DFS threshold, prompts of at most 2048 tokens, at most 6 s a task, and (pipeline.py) only
# on tasks the DSL leaves unexplained.
DEVICE_DEFAULTS = {
    "cuda": dict(ttt="per-task", ttt_steps=32, views=8, threshold=0.1, max_prompt_tokens=8192, task_time_s=60),
    "cpu": dict(ttt="off", ttt_steps=32, views=2, threshold=0.2, max_prompt_tokens=2048, task_time_s=6),
}


def resolve_options(opts: LLMOptions, device_type: str) -> LLMOptions:
    """opts with every unset (None) field filled in from DEVICE_DEFAULTS for a "cuda" or "cpu" device."""
    defaults = DEVICE_DEFAULTS["cuda" if device_type == "cuda" else "cpu"]
    return dataclasses.replace(opts, **{k: v for k, v in defaults.items() if getattr(opts, k) is None})
