"""What the role-swap check (arcforge.llm.roleswap) would do to finished runs of datasets with known
answers: every test input's kept candidates (up to --top) get their role-swap delta from the LLM
solver's model; then, per margin, a candidate is dropped when its delta is more than the margin
below the best delta of its test input, least plausible first, while more than two remain
(select.role_swap_drops, as `solve --role-swap` does). One JSON line per margin: wrong
candidates removed, right ones lost, pass@2 before and after.

    python benchmarks/roleswap_on_runs.py RUN [RUN ...] --margins 0.5,1,2,4 --deltas OUT.jsonl

The deltas are kept in --deltas (one line per test input) and reused when the file exists. Use it on
development runs of the training sets, never to choose a margin on an evaluation set.

    python benchmarks/roleswap_on_runs.py RUN [RUN ...] --recorded --deltas OUT.jsonl

replays runs made with `solve --role-swap 0` instead (whichever solver judged, e.g. the tasknet with
--tasknet.swap-steps N): each removed candidate is in the record with its grid and delta, the kept
ones are above every removed one, so the check's decision at any margin >= 0 follows exactly.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from arcforge.datasets import load_tasks
from arcforge.pipeline import read_results, run_meta
from arcforge.select import ROLE_SWAP_TOP, role_swap_drops
from arcforge.solver import Candidate


def compute(runs: list[Path], top: int, model_spec: str | None, device: str) -> list[dict]:
    import torch

    from arcforge.llm.config import LLMOptions
    from arcforge.llm.roleswap import role_swap_deltas
    from arcforge.llm.solver import LLMSolver

    solver = LLMSolver(LLMOptions(model=model_spec, device=device))
    rows = []
    for run in runs:
        meta, recs = run_meta(run), read_results(run / "results.jsonl")
        tasks = {t.id: t for t in load_tasks(meta["dataset"], tasks=list(recs))}
        for tid, rec in recs.items():
            task = tasks[tid]
            for i, cands in enumerate(rec["candidates"]):
                grids = [Candidate.from_json(c).grid for c in cands[:top]]
                if len(grids) < 2:
                    continue
                with torch.no_grad():
                    d = role_swap_deltas(solver.model, task.without_test_outputs(), i, grids,
                                         max_prompt_tokens=solver.opts.max_prompt_tokens)
                truth = task.test[i].output
                right = [g.shape == truth.shape and bool(np.array_equal(g, truth)) for g in grids]
                rows.append({"run": str(run), "task": tid, "test": i, "n_test": len(task.test),
                             "right": right, "deltas": None if d is None else [round(float(x), 4) for x in d],
                             "sources": [c["source"] for c in cands[:top]]})
                print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def recorded(runs: list[Path], top: int) -> list[dict]:
    """Rows as `compute` makes them, from runs whose role-swap stage ran at margin 0: each test input's
    candidates before the stage (the kept ones with the removed ones back at their ranks); a removed
    one has its recorded delta, a kept one its input's best delta (it was not removed at margin 0, so
    at no larger margin either)."""
    rows = []
    for run in runs:
        meta, recs = run_meta(run), read_results(run / "results.jsonl")
        if meta["config"].get("role_swap") != 0:
            sys.exit(f"{run}: not made with --role-swap 0")
        tasks = {t.id: t for t in load_tasks(meta["dataset"], tasks=list(recs))}
        for tid, rec in recs.items():
            task = tasks[tid]
            for i, kept in enumerate(rec["candidates"]):
                removed = {f["rank"]: f for f in rec.get("filtered", []) if f["rule"] == "role_swap" and f["test"] == i}
                grids, deltas, kept_iter = [], [], iter(kept)
                best = max((f["best_delta"] for f in removed.values()), default=None)
                for k in range(len(kept) + len(removed)):
                    f = removed.get(k)
                    grids.append(np.array(f["grid"]) if f else Candidate.from_json(next(kept_iter)).grid)
                    deltas.append(f["delta"] if f else best)
                truth = task.test[i].output
                right = [g.shape == truth.shape and bool(np.array_equal(g, truth)) for g in grids[:top]]
                rows.append({"run": str(run), "task": tid, "test": i, "n_test": len(task.test), "right": right,
                             "deltas": deltas[:top] if removed else None})
    return rows


def table(rows: list[dict], margins: list[float]) -> list[dict]:
    out = []
    for m in margins:
        removed = lost = 0
        before = after = 0
        for r in rows:
            right, d = r["right"], r["deltas"]
            drops = set(role_swap_drops(d, m)) if d else set()
            keep = [k for k in range(len(right)) if k not in drops]
            removed += sum(not right[k] for k in drops)
            lost += sum(right[k] for k in drops)
            before += any(right[:2])
            after += any(right[k] for k in keep[:2])
        out.append({"margin": m, "inputs": len(rows), "wrong_removed": removed, "right_lost": lost,
                    "right_in_top2_before": before, "right_in_top2_after": after})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--margins", default="0.25,0.5,1,2,4,8")
    ap.add_argument("--top", type=int, default=ROLE_SWAP_TOP, help="candidates per test input checked")
    ap.add_argument("--deltas", type=Path, required=True)
    ap.add_argument("--model", help="the LLM solver's model (default: the shipped one)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--recorded", action="store_true", help="replay runs made with --role-swap 0")
    args = ap.parse_args()
    if args.deltas.exists():
        rows = [json.loads(line) for line in args.deltas.read_text().splitlines() if line]
    else:
        rows = (recorded(args.runs, args.top) if args.recorded
                else compute(args.runs, args.top, args.model, args.device))
        args.deltas.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for line in table(rows, [float(x) for x in args.margins.split(",")]):
        print(json.dumps(line))


if __name__ == "__main__":
    main()
