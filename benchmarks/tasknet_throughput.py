"""Training speed of the tasknet model on the real training data: tokens/s and peak GPU memory per
model size and batch size; one JSON line per setting.

    PYTHONPATH=src python benchmarks/tasknet_throughput.py --presets small,base --batch-tokens 8192,32768

Each setting trains `--steps` steps (--optimizer adamw or muon, bf16 autocast on a GPU that has it; --compile:
torch.compile, as `solve --tasknet.compile`) on packed rows drawn from every pair of arc1/train under 8 views; the
first 5 steps (with the compile) are timed apart. --profile: after the timed steps, 5 more under torch.profiler,
whose table (top operators by GPU time, and by CPU time) goes to stderr, with the share of a step spent drawing and
packing the batch on the CPU.
"""

import argparse
import json
import sys
import time

import numpy as np
import torch

from arcforge import precision
from arcforge.datasets import load_tasks
from arcforge.tasknet.config import PRESETS
from arcforge.tasknet.data import draw_batch, packed_batch, training_pairs
from arcforge.tasknet.model import TaskNet, TaskNetConfig, param_count
from arcforge.tasknet.optim import make_optimizers
from arcforge.tasknet.train import train_step


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", default="small,base")
    ap.add_argument("--batch-tokens", default="8192,32768")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--views", type=int, default=8)
    ap.add_argument("--optimizer", default="adamw", choices=["adamw", "muon"])
    ap.add_argument("--profile", action="store_true", help="profile 5 more steps; tables to stderr")
    ap.add_argument("--input-loss", type=float, default=0.0, help="weight of the input tokens' loss")
    ap.add_argument("--compile", action="store_true",
                    help="torch.compile the model, shapes dynamic (as solve --tasknet.compile)")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tasks = load_tasks("arc1/train")
    seqs = training_pairs(tasks, set(), args.views)
    for preset in args.presets.split(","):
        for bt in map(int, args.batch_tokens.split(",")):
            torch.manual_seed(0)
            model = TaskNet(TaskNetConfig(n_embeddings=len(tasks) * args.views, **PRESETS[preset])).to(device)
            opts = make_optimizers(model, args.optimizer, 1e-3)
            scaler = precision.scaler(device)
            rng = np.random.default_rng(0)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            stepper = torch.compile(model, dynamic=True) if args.compile else model
            tokens, t0, start, data_s = 0, None, time.monotonic(), 0.0
            for step in range(args.steps):
                if step == 5:
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    t0, tokens, data_s = time.monotonic(), 0, 0.0
                    first_steps_s = t0 - start  # the compile, if any, happens in these
                d0 = time.monotonic()
                drawn = draw_batch(seqs, rng, bt)
                batch = packed_batch(drawn, device)
                data_s += time.monotonic() - d0
                loss = train_step(stepper, opts, scaler, batch, args.input_loss)
                tokens += sum(len(s.ids) for s in drawn)
            float(loss)  # waits for the GPU
            secs = time.monotonic() - t0
            if args.profile:
                from torch.profiler import ProfilerActivity, profile
                acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
                with profile(activities=acts) as prof:
                    for _ in range(5):
                        drawn = draw_batch(seqs, rng, bt)
                        loss = train_step(stepper, opts, scaler, packed_batch(drawn, device), args.input_loss)
                    float(loss)
                key = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
                print(prof.key_averages().table(sort_by=key, row_limit=30), file=sys.stderr)
                print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20), file=sys.stderr)
            print(json.dumps({
                "preset": preset, "params_m": round((param_count(model) - model.tasks.weight.numel()) / 1e6, 2),
                "batch_tokens": bt, "optimizer": args.optimizer, "compile": args.compile,
                "first_5_steps_s": round(first_steps_s, 1), "tokens_per_s": round(tokens / secs),
                "step_ms": round(1000 * secs / (args.steps - 5), 1),
                "data_ms": round(1000 * data_s / (args.steps - 5), 1),
                "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device.type == "cuda" else None,
                "loss": round(float(loss), 4), "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
            }), flush=True)
            del model, opts


if __name__ == "__main__":
    main()
