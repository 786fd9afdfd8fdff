"""Writing speed of the tasknet: every test input of the development split under 8 views, with an
untrained model of a preset (it rarely writes EOS, so rows run to their output bound: a worst case).
One JSON line: rows, tokens written, seconds for the first batch's prompt pass and for all of it;
with --profile, the top operations of a profiled pass over the first 64 rows.

    PYTHONPATH=src python benchmarks/tasknet_decode.py --preset small [--profile]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from dev_split import dev_ids

from arcforge.datasets import load_tasks
from arcforge.llm.decode import output_side_bound
from arcforge.tasknet.config import PRESETS
from arcforge.tasknet.data import task_views
from arcforge.tasknet.decode import Row, decode_rows, greedy, read_rows
from arcforge.tasknet.model import TaskNet, TaskNetConfig


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="small")
    ap.add_argument("--views", type=int, default=8)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tasks = load_tasks("arc1/train", tasks=dev_ids())
    torch.manual_seed(0)
    model = TaskNet(TaskNetConfig(n_embeddings=len(tasks) * args.views, **PRESETS[args.preset])).to(device).eval()
    rows = [Row(t.id, i, j, v.apply_grid(ex.input), k * args.views + j, output_side_bound(t, i))
            for k, t in enumerate(tasks) for i, ex in enumerate(t.test) for j, v in enumerate(task_views(t, args.views))]
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=acts) as prof:
            greedy(model, [r.grid for r in rows[:64]], [r.emb for r in rows[:64]], limits=[r.limit for r in rows[:64]])
        key = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
        print(prof.key_averages().table(sort_by=key, row_limit=25), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "answers.jsonl"
        t0 = time.monotonic()
        decode_rows(model, rows, path)
        if device.type == "cuda":
            torch.cuda.synchronize()
        secs = time.monotonic() - t0
        tokens = sum(len(r["tokens"]) for r in read_rows(path))
    print(json.dumps({"preset": args.preset, "rows": len(rows), "tokens_written": tokens, "seconds": round(secs, 1),
                      "tokens_per_s": round(tokens / secs), "device": str(device)}))


if __name__ == "__main__":
    main()
