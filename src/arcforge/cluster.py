"""Runs that outgrow one machine, on a Ray cluster: the tasks are cut into K shards, each solved by
one Ray task (`run_solve` with `--shard I/K`) on whichever node Ray places it, and the shards'
results are combined into one run, as `arcforge combine` would.

    ray start --head                                  # on one machine; `ray start --address HEAD:6379` on the others
    arcforge solve arc1/eval --ray auto --ray-shards 8 --out runs/big

Every node needs arcforge (the same version; `arcforge wheelhouse` helps) and nothing else: the
tasks travel with the shard, and each shard's results come back to the driver, which keeps them in
OUT/shards/I (results.jsonl, run.json): each finished task's line within about a second of its
shard writing it (through a Ray queue on the driver's node), and whatever the queue missed when the
shard ends; a task's line is kept once. A shard asks Ray for `--workers` CPUs and `--gpus` GPUs
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
from arcforge.progress import Progress
from arcforge.submission import atomic_write_text, read_jsonl
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
    shard = cfg.shard[0] if cfg.shard else 0

    def stream(line: str) -> None:
        try:
            lines.put((shard, line))
        except Exception:  # the queue is gone: the line still comes back with the shard's results
            pass

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        if earlier:
            (out / RESULTS).write_text(earlier)
        summary = run_solve(tasks, cfg, out, progress=False, on_result=None if lines is None else stream)
        return {"results": (out / RESULTS).read_text(), "run": (out / "run.json").read_text(), "summary": summary}


def solve_on_ray(tasks: list[Task], cfg: SolveConfig, out: Path, address: str, shards: int | None = None,
                 dataset: str | None = None, progress: bool = True) -> dict:
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
    k = shards or 0
    ray.init(address=None if address == "local" else address, include_dashboard=False, log_to_driver=False,
             ignore_reinit_error=True)
    kept: dict[int, set[str]] = {}  # the task ids on disk in each unfinished shard's results

    def keep(i: int, line: str) -> None:
        """Append one task's line to shard i's results, on disk before the next, unless it is there."""
        task_id = json.loads(line)["task_id"]
        if task_id in kept[i]:
            return
        with open(out / "shards" / str(i) / RESULTS, "a") as f:
            f.write(line if line.endswith("\n") else line + "\n")
            f.flush()
            os.fsync(f.fileno())
        kept[i].add(task_id)
        bar.update(1)

    bar = Progress("solve", len(tasks), "task", enabled=progress)
    lines = None  # the queue of finished tasks' lines, once made

    def keep_lines() -> None:
        while lines is not None and not lines.empty():
            keep(*lines.get())

    try:
        from ray.util.queue import Queue
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        k = shards or max(1, len(ray.nodes()))
        # the queue of finished tasks' lines lives on the driver's node: a lost worker node cannot take it
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        lines = Queue(actor_options={"scheduling_strategy": here, "num_cpus": 0})
        remote = ray.remote(solve_shard)
        pending, finished = {}, 0
        for i in range(k):
            folder = out / "shards" / str(i)
            folder.mkdir(parents=True, exist_ok=True)
            recs = read_jsonl(folder / RESULTS, required=("task_id",))  # a line torn by a kill is dropped
            finished += len(recs)
            if (folder / "done").is_file():
                continue
            kept[i] = {r["task_id"] for r in recs}
            earlier = (folder / RESULTS).read_text() if recs else ""
            ref = remote.options(num_cpus=cfg.workers, num_gpus=cfg.gpus or 0).remote(
                tasks, replace(cfg, shard=(i, k)), earlier, deadline_unix, lines)
            pending[ref] = i
        bar.restart(finished)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            keep_lines()
            if not ready:
                continue
            i = pending.pop(ready[0])
            got = ray.get(ready[0])
            keep_lines()
            for line in got["results"].splitlines():  # what the queue did not bring (a retried shard's, say)
                keep(i, line)
            folder = out / "shards" / str(i)
            if got["run"] is not None:
                atomic_write_text(folder / "run.json", got["run"])
            if not got["summary"].get("late") and got["summary"].get("finished") == got["summary"].get("tasks"):
                (folder / "done").write_text(json.dumps(got["summary"]) + "\n")
    finally:
        try:
            keep_lines()  # whatever finished before an interrupt or a failed shard
        except Exception:  # the queue went with the failure: its lines come back no more
            pass
        bar.close()
        ray.shutdown()
    folders = [out / "shards" / str(i) for i in range(k) if (out / "shards" / str(i) / RESULTS).is_file()]
    summary = combine_runs(folders, tasks, out, dataset, cover_all=True)  # shards never started get entries too
    return {**summary, "seconds": round(time.monotonic() - start, 1)}
