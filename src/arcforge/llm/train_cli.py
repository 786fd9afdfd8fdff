"""`arcforge train` (its settings: TrainCommand, through arcforge.options), `export-model` and
`export-checkpoint`. torch is imported only when a command runs.

    arcforge train --model tiny --data arc1/train --steps 200 --out runs/tiny
    arcforge train --recipe qwen2.5-0.5b-lora --out runs/qwen --config my.toml --lr 2e-4
    arcforge export-checkpoint runs/tiny ck          # RUN/checkpoint in files of <= 15 MB, to carry
    arcforge train --resume-from ck --out runs/tiny  # on another machine: the run goes on
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Literal

from arcforge import options
from arcforge.argtypes import number
from arcforge.errors import ArcError
from arcforge.llm.config import RECIPES, TrainConfig


@dataclass(kw_only=True)
class TrainCommand(TrainConfig):
    """Train or fine-tune a model on ARC tasks. Settings stack, lowest first: the defaults, the saved
    settings of --resume-from, the --recipe, the --config file, the flags."""

    out: str = dataclasses.field()  # required here (a bare annotation would inherit TrainConfig's default)
    """run folder: checkpoint/, model/, log.jsonl"""
    recipe: Literal[tuple(RECIPES)] | None = None  # type: ignore[valid-type]
    """training recipe: tiny-scratch, small-scratch, qwen2.5-0.5b-lora"""
    config: str | None = None
    """TOML file of these settings (top-level keys or a [train] table); may name a recipe"""
    resume: bool = False
    """continue from OUT/checkpoint"""
    resume_from: str | None = None
    """start OUT from a checkpoint written by export-checkpoint (its settings are the defaults)"""
    dtype: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    """compute format: auto is bf16 on GPUs that have it, fp16 with loss scaling on those that don't,
    fp32 on a CPU"""
    quiet: bool = False
    """no progress bar"""


def _lower_layers(first: TrainCommand) -> TrainCommand:
    """The settings below the flags: the resumed run's, then the recipe (the --config file's own
    `recipe` key included)."""
    cmd = first
    if first.resume_from:  # the exported run's settings, below any recipe, file or flag given now
        from arcforge.llm.checkpoint import read_export

        saved = read_export(first.resume_from)["state"].get("config", {})
        known = {f for f in TrainConfig.__dataclass_fields__ if f not in ("stop_at", "progress")}
        cmd = options.update(cmd, {k: v for k, v in saved.items() if k in known}, f"{first.resume_from} (saved settings)")
    recipe = first.recipe
    if first.config:
        recipe = options.read_file(first.config, "train").get("recipe", recipe)
    if recipe is not None:
        if recipe not in RECIPES:
            raise ArcError(f"unknown training recipe '{recipe}': use one of {', '.join(RECIPES)}")
        cmd = options.update(cmd, RECIPES[recipe], f"recipe {recipe}")
    return cmd


def train_settings(argv: list[str]) -> TrainCommand:
    cmd = options.parse(TrainCommand, argv, "arcforge train", "train", base=_lower_layers)
    return dataclasses.replace(cmd, progress=not cmd.quiet)


def cmd_train(argv: list[str]) -> int:
    from arcforge import precision
    from arcforge.progress import quiet_env

    cmd = train_settings(argv)
    quiet_env(cmd.quiet)
    precision.use(cmd.dtype)
    cfg = options.base_settings(cmd, TrainConfig)

    from arcforge.llm.train import train

    summary = train(cfg, resume=cmd.resume, resume_from=cmd.resume_from)
    print(json.dumps(summary))
    return 0


def cmd_export(args) -> int:
    from arcforge.llm.model import export_model

    print(export_model(args.src, args.dst, args.dtype, args.shard_mb))
    return 0


def cmd_export_checkpoint(args) -> int:
    from arcforge.llm.checkpoint import export_checkpoint

    print(export_checkpoint(args.run, args.dst, args.full, args.shard_mb))
    return 0


def register(subparsers) -> None:
    e = subparsers.add_parser("export-model", help="copy a trained model folder in bf16, in shards (to ship it)")
    e.add_argument("src", help="a full model folder (e.g. RUN/model)")
    e.add_argument("dst", help="the folder to write")
    e.add_argument("--dtype", default="bfloat16", help="bfloat16 (default), float16 or float32")
    e.add_argument("--shard-mb", type=number(int, 1), default=15, help="largest safetensors file in MB (default 15)")
    e.set_defaults(fn=cmd_export)

    c = subparsers.add_parser("export-checkpoint",
                              help="write a run's checkpoint as files of <= --shard-mb MB, to resume elsewhere")
    c.add_argument("run", help="a training run folder (RUN/checkpoint)")
    c.add_argument("dst", help="the folder to write (manifest.json, meta.json, weights-*.safetensors, ...)")
    c.add_argument("--full", action="store_true",
                   help="weights in their saved dtype and the optimiser state: resumes exactly (default: bf16 "
                        "weights only; the resumed run starts fresh Adam moments with a short lr re-warm)")
    c.add_argument("--shard-mb", type=number(int, 1), default=15, help="largest file in MB (default 15)")
    c.set_defaults(fn=cmd_export_checkpoint)

    # `arcforge train` reads its own arguments (cli.main); this entry lists it in --help
    subparsers.add_parser("train", help="fine-tune or train a model on ARC tasks (arcforge train --help: its settings)")
