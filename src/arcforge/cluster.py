"""Runs that outgrow one machine, on a Ray cluster: the tasks are cut into K shards, each solved by
one Ray task (`run_solve` with `--shard I/K`) on whichever node Ray places it, and the shards'
results are combined into one run, as `arcforge combine` would.

    ray start --head                                  # on one machine; `ray start --address HEAD:6379` on the others
    arcforge solve arc1/eval --ray auto --ray-shards 8 --out runs/big

Every node needs arcforge (the same version; `arcforge wheelhouse` helps) and nothing else: the
tasks travel with the shard, and each shard's results come back to the driver, which keeps them in
OUT/shards/I (results.jsonl, run.json): each finished task's line as soon as it is written (through
a Ray queue), and the shard's files when it ends. A shard asks Ray for `--workers` CPUs and `--gpus` GPUs
(Ray hides every GPU from a task that asks for none: give `--gpus N` for the model solvers).
A killed driver run again with the same command sends each unfinished shard the results it had
kept (so no task finished before the kill is solved again) and skips the finished shards. `--budget` is one wall
clock deadline for every shard, however late Ray starts it. `--ray local` starts a Ray instance on
this machine (for trying it out).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from arcforge.errors import ArcError
from arcforge.pipeline import RESULTS, SolveConfig, combine_runs, run_solve
from arcforge.submission import atomic_write_text
from arcforge.task import Task


def solve_shard(tasks: list[Task], cfg: SolveConfig, earlier: str, deadline_unix: float | None,
                lines=None) -> dict:
    """One shard on a Ray worker: solved in a folder of its own, seeded with the shard's `earlier`
    results; each finished task's line goes to the `lines` queue (as (shard, line)) when it is
    written. Returns its results.jsonl, run.json and summary."""
    if deadline_unix is not None:
        left = deadline_unix - time.time()
        if left <= 0:
            return {"results": earlier, "run": None, "summary": {"finished": 0, "late": True}}
        cfg = replace(cfg, budget_s=left)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        if earlier:
            (out / RESULTS).write_text(earlier)
        shard = cfg.shard[0] if cfg.shard else 0
        summary = run_solve(tasks, cfg, out, progress=False,
                            on_result=None if lines is None else lambda line: lines.put((shard, line)))
        return {"results": (out / RESULTS).read_text(), "run": (out / "run.json").read_text(), "summary": summary}


def solve_on_ray(tasks: list[Task], cfg: SolveConfig, out: Path, address: str, shards: int | None = None,
                 dataset: str | None = None) -> dict:
    """Solve `tasks` in shards on the Ray cluster at `address` ("auto", "local" or HOST:PORT) and
    combine them into `out`. Returns the combined run's summary with this call's wall time."""
    try:
        import ray
    except ImportError:
        raise ArcError("--ray needs Ray: pip install 'arcforge[ray]'") from None
    if cfg.shard is not None:
        raise ArcError("--ray cuts the run into shards itself: leave out --shard")
    start = time.monotonic()
    deadline_unix = time.time() + cfg.budget_s if cfg.budget_s else None
    ray.init(address=None if address == "local" else address, include_dashboard=False, log_to_driver=False,
             ignore_reinit_error=True)
    try:
        from ray.util.queue import Queue

        k = shards or max(1, len(ray.nodes()))
        remote = ray.remote(solve_shard)
        lines = Queue()  # (shard, line) for each task a shard finishes
        pending = {}
        for i in range(k):
            folder = out / "shards" / str(i)
            if (folder / "done").is_file():
                continue
            earlier = (folder / RESULTS).read_text() if (folder / RESULTS).is_file() else ""
            ref = remote.options(num_cpus=cfg.workers, num_gpus=cfg.gpus or 0).remote(
                tasks, replace(cfg, shard=(i, k)), earlier, deadline_unix, lines)
            pending[ref] = folder

        def keep_lines() -> None:
            """Append every line waiting in the queue to its shard's results, on disk before the next."""
            while not lines.empty():
                i, line = lines.get()
                folder = out / "shards" / str(i)
                folder.mkdir(parents=True, exist_ok=True)
                with open(folder / RESULTS, "a") as f:
                    f.write(line)
                    f.flush()
                    os.fsync(f.fileno())

        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            keep_lines()
            if not ready:
                continue
            folder = pending.pop(ready[0])
            got = ray.get(ready[0])
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(folder / RESULTS, got["results"])
            if got["run"] is not None:
                atomic_write_text(folder / "run.json", got["run"])
            if not got["summary"].get("late") and got["summary"].get("finished") == got["summary"].get("tasks"):
                (folder / "done").write_text(json.dumps(got["summary"]) + "\n")
    finally:
        ray.shutdown()
    folders = [out / "shards" / str(i) for i in range(k) if (out / "shards" / str(i) / RESULTS).is_file()]
    summary = combine_runs(folders, tasks, out, dataset, cover_all=True)  # shards never started get entries too
    return {**summary, "seconds": round(time.monotonic() - start, 1)}
