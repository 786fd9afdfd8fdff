"""The `arcforge train` subcommand: argument parsing only (torch is imported when the command runs).

    arcforge train --model tiny --data arc1/train --steps 200 --out runs/tiny
    arcforge train --recipe qwen2.5-0.5b-lora --out runs/qwen --config my.toml --set lr=2e-4
    arcforge export-checkpoint runs/tiny ck          # RUN/checkpoint in files of <= 15 MB, to carry
    arcforge train --resume-from ck --out runs/tiny  # on another machine: the run goes on
"""

from __future__ import annotations

import json

from arcforge.argtypes import device, duration, number
from arcforge.errors import ArcError

# flags that map one-to-one onto TrainConfig fields (None: not given, keep the lower layers' value)
_FIELDS = ("model", "backend", "data", "steps", "lr", "batch_tokens", "grad_accum", "max_len", "warmup_steps",
           "val_tasks", "eval_every", "save_every", "seed", "device", "lora_r", "out", "stop_at", "generated",
           "resume_warmup")


def cmd_train(args) -> int:
    from arcforge import precision
    from arcforge.llm.config import train_config

    precision.use(args.dtype)
    overrides = {}
    for name in _FIELDS:
        value = getattr(args, name)
        if value is not None:
            overrides[name] = value
    for flag in ("lora", "allow_eval"):
        if getattr(args, flag):
            overrides[flag] = True
    if args.time_budget:
        overrides["time_budget"] = args.time_budget
    if args.quiet:
        overrides["progress"] = False
    for item in args.set or []:
        if "=" not in item:
            raise ArcError(f"--set takes KEY=VALUE, got '{item}'")
        k, v = item.split("=", 1)
        overrides[k.strip()] = v.strip()
    base = None
    if args.resume_from:  # the exported run's settings, below any recipe, file or flag given now
        import dataclasses

        from arcforge.llm.checkpoint import read_export
        from arcforge.llm.config import TrainConfig

        known = {f.name for f in dataclasses.fields(TrainConfig)}
        saved = read_export(args.resume_from)["state"].get("config", {})
        base = {k: v for k, v in saved.items() if k in known and k != "stop_at"}
    cfg = train_config(args.recipe, args.config, overrides, base)

    from arcforge.llm.train import train

    summary = train(cfg, resume=args.resume, resume_from=args.resume_from)
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

    s = subparsers.add_parser("train", help="fine-tune or train a model on ARC tasks")
    s.add_argument("--model", help="model shape (tiny, small, arc-12m, qwen2.5-0.5b-shape), model folder or Hugging Face id")
    s.add_argument("--data", help="comma-separated datasets (arc1/train, arc2/train-clean, a path, ...)")
    s.add_argument("--out", required=True, help="run folder: checkpoint/, model/, log.jsonl")
    s.add_argument("--steps", type=number(int, 1), help="optimiser steps")
    s.add_argument("--time-budget", metavar="DURATION", type=duration,
                   help="train for this long (e.g. 15m): the step count comes from the rate of the first steps")
    s.add_argument("--recipe", help="training recipe: tiny-scratch, small-scratch, qwen2.5-0.5b-lora")
    s.add_argument("--config", help="TOML file of TrainConfig settings (top level or a [train] table)")
    s.add_argument("--set", action="append", metavar="KEY=VALUE", help="any TrainConfig setting; repeatable")
    s.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    s.add_argument("--resume-from", metavar="DIR",
                   help="start OUT from a checkpoint written by export-checkpoint (its settings are the defaults)")
    s.add_argument("--resume-warmup", type=number(int, 0),
                   help="lr re-warm steps after --resume-from a light export (default 50)")
    s.add_argument("--lora", action="store_true", help="train a LoRA adapter instead of all weights")
    s.add_argument("--lora-r", type=number(int, 1), help="LoRA rank (default 64)")
    s.add_argument("--backend", choices=("transformers", "unsloth"),
                   help="default: unsloth when installed and a CUDA GPU is present")
    s.add_argument("--allow-eval", action="store_true", help="allow training on arc1/eval or arc2/eval")
    s.add_argument("--lr", type=number(float, 0, above=True))
    s.add_argument("--batch-tokens", type=number(int, 16), help="tokens per packed micro-batch")
    s.add_argument("--grad-accum", type=number(int, 1), help="micro-batches per optimiser step")
    s.add_argument("--max-len", type=number(int, 16), help="longest sample in tokens")
    s.add_argument("--warmup-steps", type=number(int, 0))
    s.add_argument("--val-tasks", type=number(int, 0), help="tasks held out for the validation loss")
    s.add_argument("--generated", type=number(float, 0, 1), metavar="FRACTION",
                   help="fraction of samples from fresh tasks made by the task generators (default 0)")
    s.add_argument("--eval-every", type=number(int, 1))
    s.add_argument("--save-every", type=number(int, 1))
    s.add_argument("--seed", type=number(int, 0))
    s.add_argument("--stop-at", type=number(int, 1), help="end this run after this step, checkpointed (--resume goes on)")
    s.add_argument("--device", type=device, help="cpu, cuda or cuda:N (default: cuda when available)")
    s.add_argument("--dtype", choices=["auto", "bf16", "fp16", "fp32"], default="auto",
                   help="compute format (default auto: bf16 on GPUs that have it, fp16 with loss scaling on those "
                        "that don't, fp32 on a CPU)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(fn=cmd_train)
