"""Time the LLM solver stage by stage (per-task TTT, DFS under views, PoE scoring, selection).

    python benchmarks/solve_speed.py --tasks 20 --model qwen2.5-0.5b-shape --views 8 --ttt-steps 8

Uses a model with RANDOM weights (this is a speed benchmark): a random model's DFS prunes almost at
once, so the decode stage is also timed as `decode_full`: every view's prompt decoded to the full
length of the true output (forced tokens, one batched KV-cache step per token), which is what a
trained model writing the grid costs; and scoring as `score_full`: two candidates (the true output
and a changed copy) scored under every view, as a trained model's few candidates are. `--compare-hf`
also times `decode_full` on the plain Hugging Face forward (`decode_full_hf`) instead of the lean
decoder (llm/fast.py). Prints one JSON line per task and a summary line with the projection to 400
tasks.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import numpy as np
import torch

from arcforge.augment import view_set
from arcforge.datasets import load_tasks
from arcforge.llm.config import LLMOptions
from arcforge.llm.decode import as_lm
from arcforge.llm.hf import HFLM
from arcforge.llm.model import create_model, save_model
from arcforge.llm.poe import score_under_views
from arcforge.llm.text import output_ids, prompt_ids
from arcforge.select import select


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


@torch.no_grad()
def decode_full(model, task, views, hf: bool = False):
    """Decode the true output's length under every view in one batch (forced tokens)."""
    prompts = [prompt_ids(v.apply(task), 0) for v in views]
    targets = [output_ids(v.apply_grid(task.test[0].output)) for v in views]
    n = min(len(t) for t in targets)
    stepper = (HFLM(model) if hf else as_lm(model)).stepper(prompts, n)
    stepper.start()
    parents = torch.arange(len(prompts))
    for k in range(n - 1):
        stepper.step(parents, torch.tensor([t[k] for t in targets]))
    return n


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="arc1/eval")
    p.add_argument("--tasks", type=int, default=20)
    p.add_argument("--model", default="qwen2.5-0.5b-shape")
    p.add_argument("--views", type=int, default=8)
    p.add_argument("--ttt-steps", type=int, default=8)
    p.add_argument("--ttt-rank", type=int, default=32)
    p.add_argument("--threshold", type=float, default=0.1)
    p.add_argument("--max-prompt", type=int, default=8192)
    p.add_argument("--task-time", type=float, default=120)
    p.add_argument("--compare-hf", action="store_true", help="also time decode_full on the Hugging Face forward")
    a = p.parse_args(argv)

    from arcforge.llm.solver import LLMSolver

    tmp = tempfile.mkdtemp()
    save_model(create_model(a.model, seed=0), tmp)  # random weights, loaded the way a user's model is
    opts = LLMOptions(model=tmp, ttt="per-task", ttt_steps=a.ttt_steps, ttt_rank=a.ttt_rank, views=a.views,
                      threshold=a.threshold, max_prompt_tokens=a.max_prompt)
    solver = LLMSolver(opts)
    tasks = [t for t in load_tasks(a.dataset) if len(prompt_ids(t, 0)) <= a.max_prompt][: a.tasks]
    rows = []
    for t in tasks:
        sync()
        t0 = time.monotonic()
        cands = solver.solve(t.without_test_outputs(), time.monotonic() + a.task_time)
        sync()
        t1 = time.monotonic()
        select(t.without_test_outputs(), [cands])
        t2 = time.monotonic()
        views = view_set(a.views, len(t.train), seed=0)
        solver.model.eval()
        n = decode_full(solver.model, t, views)
        sync()
        t3 = time.monotonic()
        truth = t.test[0].output
        with torch.no_grad():
            score_under_views(solver.model, t, 0, [truth, (truth + 1) % 10], views)
        sync()
        t4 = time.monotonic()
        row = {"task": t.id, "prompt_tokens": len(prompt_ids(t, 0)), "output_tokens": n,
               **{k: round(v, 3) for k, v in solver.timings.items()}, "select": round(t2 - t1, 4),
               "solve_total": round(t1 - t0, 3), "decode_full": round(t3 - t2, 3), "score_full": round(t4 - t3, 3)}
        if a.compare_hf:
            decode_full(solver.model, t, views, hf=True)
            sync()
            row["decode_full_hf"] = round(time.monotonic() - t4, 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
    keys = ("ttt", "decode", "score", "select", "solve_total", "decode_full", "score_full",
            *(("decode_full_hf",) if a.compare_hf else ()))
    mean = {k: float(np.mean([r.get(k, 0.0) for r in rows])) for k in keys}
    # a trained model pays for full-length decoding and scoring instead of the random model's
    # early-pruned DFS and its few candidates
    per_task = (mean["ttt"] + max(mean["score"], mean["score_full"]) + mean["select"]
                + max(mean["decode"], mean["decode_full"]))
    dev = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    print(json.dumps({"benchmark": "solve_speed", "weights": "random", "device": dev, "model": a.model,
                      "tasks": len(rows), "views": a.views, "ttt_steps": a.ttt_steps, "ttt_rank": a.ttt_rank,
                      "seconds_per_task": {k: round(v, 3) for k, v in mean.items()},
                      "projected_per_task_s": round(per_task, 2),
                      "projected_400_tasks_h": round(per_task * 400 / 3600, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
