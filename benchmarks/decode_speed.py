"""DFS decoding speed and agreement: the lean decoder (llm/fast.py) against the Hugging Face forward.

    python benchmarks/decode_speed.py --dataset arc1/train --tasks 20 --views 8 --threshold 0.1

For each task, the first test input's prompts under `views` views are searched with the same DFS
twice, once on each decoder, with the shipped model (or --model). Prints one JSON line per task
(seconds each way, completions found, whether both found the same sequences) and a summary line.
The model's dtype is bf16 on CUDA and fp32 on CPU, as in `solve`; on bf16, rounding can move a
completion that sits right at the threshold, so agreement is reported rather than asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from arcforge.augment import view_set
from arcforge.datasets import load_tasks
from arcforge.llm.decode import dfs_decode_batch, output_side_bound
from arcforge.llm.fast import FastLM
from arcforge.llm.hf import HFLM
from arcforge.llm.model import default_device, load_model
from arcforge.llm.poe import view_prompts
from arcforge.llm.solver import resolve_model
from arcforge.llm.text import prompt_ids


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="arc1/train")
    p.add_argument("--tasks", type=int, default=20)
    p.add_argument("--model", help="default: the shipped model")
    p.add_argument("--views", type=int, default=8)
    p.add_argument("--threshold", type=float, default=0.1)
    p.add_argument("--max-prompt", type=int, default=8192)
    a = p.parse_args(argv)

    device = default_device()
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model, _ = load_model(resolve_model(a.model), None, None, device, dtype)
    model.eval()
    tasks = [t for t in load_tasks(a.dataset) if len(prompt_ids(t, 0)) <= a.max_prompt]
    rows = []
    for t in tasks[: a.tasks]:
        prompts = view_prompts(t, 0, view_set(a.views, len(t.train), seed=0))
        side = output_side_bound(t, 0)
        row = {"task": t.id, "prompt_tokens": max(map(len, prompts))}
        found = {}
        for name, lm in (("fast", FastLM(model)), ("hf", HFLM(model))):
            sync()
            t0 = time.monotonic()
            out = dfs_decode_batch(lm, prompts, a.threshold, max_side=side)
            sync()
            row[f"{name}_s"] = round(time.monotonic() - t0, 3)
            found[name] = [sorted(tuple(s) for s, _ in r) for r in out]
        row["completions"] = sum(len(r) for r in found["hf"])
        row["tokens"] = sum(len(s) for r in found["hf"] for s in r)
        row["same"] = found["fast"] == found["hf"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    fast, hf = sum(r["fast_s"] for r in rows), sum(r["hf_s"] for r in rows)
    print(json.dumps({
        "benchmark": "decode_speed", "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "dtype": str(dtype), "dataset": a.dataset, "tasks": len(rows), "views": a.views, "threshold": a.threshold,
        "fast_s_per_task": round(fast / max(1, len(rows)), 3), "hf_s_per_task": round(hf / max(1, len(rows)), 3),
        "speedup": round(hf / max(fast, 1e-9), 2), "same_results": int(sum(r["same"] for r in rows)),
        "fast_s_median": round(float(np.median([r["fast_s"] for r in rows])), 3) if rows else None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
