"""Training configuration: a dataclass with defaults, named recipes, a TOML file, command-line overrides.

    cfg = train_config(recipe="tiny-scratch", toml_path="my.toml", overrides={"steps": 50})

Precedence, lowest first: dataclass defaults, recipe, TOML file, overrides. No torch import here, so the
CLI stays fast.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from arcforge.errors import ArcError

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib


@dataclass
class TrainConfig:
    model: str = "tiny"  # model shape (tiny, small, arc-12m, ...: llm/model.py SHAPES), model folder, or Hugging Face id
    backend: str | None = None  # transformers | unsloth; None: unsloth when installed and on CUDA
    lora: bool = False  # False: full fine-tuning
    lora_r: int = 64
    lora_alpha: int = 64
    # position ids (llm/text.py): linear | rows; None keeps the model's own (a fresh shape's: linear)
    positions: str | None = None
    data: list[str] = field(default_factory=lambda: ["arc1/train"])
    allow_eval: bool = False  # permit training on arc1/eval or arc2/eval
    val_tasks: int = 16  # tasks held out of `data` for the validation loss
    steps: int = 200
    # seconds for this invocation's optimiser steps: `steps` is set from the rate of the first steps
    # (a resumed run keeps the steps it chose), and training stops, checkpointed, when it runs out
    time_budget: float | None = None
    stop_at: int | None = None  # end this invocation after this step (checkpointed); --resume goes on
    lr: float = 1e-3
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    warmup_steps: int = 20
    resume_warmup: int = 50  # lr re-warm steps after resuming without optimiser state (a light export)
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    batch_tokens: int = 8192  # tokens per packed micro-batch (no padding)
    grad_accum: int = 1  # micro-batches per optimiser step
    max_len: int = 8192  # longest sample; train pairs are dropped until a sample fits
    symmetries: bool = True  # random views: D8 symmetry ...
    colours: bool = True  # ... colour permutation (0 stays the background) ...
    shuffle: bool = True  # ... and train-example order
    generated: float = 0.0  # fraction of samples from fresh tasks of the task generators (arcforge.generators)
    eval_every: int = 100
    val_batches: int = 2
    save_every: int = 100
    seed: int = 0
    out: str = "runs/train"
    device: str | None = None  # cuda when available, else cpu
    progress: bool = True

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
    model: str | None = None  # HF id, folder, model shape; None = the model shipped in the package
    backend: str | None = None  # unsloth | transformers; None = best available
    ttt: str | None = None  # off | per-task | joint
    ttt_steps: int | None = None
    ttt_lr: float = 1e-4
    ttt_rank: int = 32  # LoRA rank; 0 = full fine-tuning
    views: int | None = None
    threshold: float | None = None  # DFS keeps completions above this probability
    max_prompt_tokens: int | None = None  # longer tasks are left to the other solvers
    device: str | None = None  # cuda | cpu; None = cuda when there is one
    task_time_s: float | None = None  # limit per task (the run's --task-time when given; 0: none)


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


def _coerce(name: str, value, current_type: str):
    """Command-line strings (and TOML values) into the field's type."""
    if isinstance(value, str) and "list" in current_type:
        return [v for v in value.split(",") if v]
    if isinstance(value, str) and current_type.startswith("bool"):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ArcError(f"config '{name}': expected true or false, got '{value}'")
    if isinstance(value, str) and current_type.split(" ")[0] in ("int", "float"):
        try:
            return int(value) if current_type.startswith("int") else float(value)
        except ValueError:
            raise ArcError(f"config '{name}': expected a number, got '{value}'") from None
    return value


def apply(cfg: TrainConfig, values: dict, source: str) -> TrainConfig:
    types = {f.name: str(f.type) for f in dataclasses.fields(cfg)}
    for k, v in values.items():
        key = k.replace("-", "_")
        if key not in types:
            raise ArcError(f"{source}: unknown setting '{k}' (known: {', '.join(types)})")
        setattr(cfg, key, _coerce(key, v, types[key]))
    return cfg


def train_config(recipe: str | None = None, toml_path: str | Path | None = None,
                 overrides: dict | None = None, base: dict | None = None) -> TrainConfig:
    """`base`: settings below the recipe (a resumed run's saved config)."""
    cfg = apply(TrainConfig(), base or {}, "saved config")
    if recipe is not None:
        if recipe not in RECIPES:
            raise ArcError(f"unknown training recipe '{recipe}': use one of {', '.join(RECIPES)}")
        apply(cfg, RECIPES[recipe], f"recipe {recipe}")
    if toml_path is not None:
        try:
            with open(toml_path, "rb") as f:
                values = tomllib.load(f)
        except FileNotFoundError:
            raise ArcError(f"{toml_path}: no such config file") from None
        except tomllib.TOMLDecodeError as e:
            raise ArcError(f"{toml_path}: invalid TOML: {e}") from None
        values = values.get("train", values)  # a [train] table or top-level keys
        if "recipe" in values:
            base = train_config(values.pop("recipe"))
            cfg = apply(base, {k: v for k, v in values.items()}, str(toml_path))
        else:
            apply(cfg, values, str(toml_path))
    if overrides:
        apply(cfg, overrides, "command line")
    return cfg
