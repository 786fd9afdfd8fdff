"""`solve` end to end: tasks -> solvers -> selection -> results.jsonl (append, resumable) -> submission.

    arcforge solve arc1/eval --out runs/demo
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from arcforge.errors import ArcError
from arcforge.grid import to_list
from arcforge.select import select, top_attempts
from arcforge.solver import Candidate, Solver
from arcforge.submission import atomic_write_text, build_submission, is_correct, score_attempts, write_submission
from arcforge.task import Task

RESULTS = "results.jsonl"


@dataclass
class SolveConfig:
    dataset: str
    solvers: list[str] = field(default_factory=lambda: ["transforms"])
    budget_s: float | None = None  # wall-clock budget for the whole run
    task_time_s: float = 60.0  # per-task limit
    workers: int = 1


def make_solver(name: str) -> Solver:
    if name == "dsl":
        from arcforge.dsl.search import DslSearch

        return DslSearch()
    if name == "transforms":
        from arcforge.dsl.transforms import TransformSearch

        return TransformSearch()
    raise ArcError(f"unknown solver '{name}' (known: dsl, transforms)")


def read_results(path: Path) -> dict[str, dict]:
    """Finished tasks of an earlier run. A torn last line (the run was killed mid-write) is dropped
    and the file rewritten without it, so appending goes on cleanly."""
    done: dict[str, dict] = {}
    if not path.exists():
        return done
    good_lines = []
    torn = False
    with open(path) as f:
        for line in f:
            try:
                rec = json.loads(line)
                done[rec["task_id"]] = rec
                good_lines.append(line if line.endswith("\n") else line + "\n")
            except (json.JSONDecodeError, KeyError, TypeError):
                torn = True
    if torn:
        atomic_write_text(path, "".join(good_lines))
    return done


def solve_task(task: Task, solvers: list[Solver], task_time_s: float, run_deadline: float | None) -> dict:
    """Run every solver on one task (its test outputs hidden) and select two attempts per test input."""
    start = time.monotonic()
    deadline = start + task_time_s
    if run_deadline is not None:
        deadline = min(deadline, run_deadline)
    hidden = task.without_test_outputs()
    per_solver, seconds, errors = [], {}, {}
    for s in solvers:
        t0 = time.monotonic()
        try:
            per_solver.append(s.solve(hidden, deadline))
        except Exception as e:  # one solver's bug must not sink the run; it is recorded
            errors[s.name] = f"{type(e).__name__}: {e}"
            per_solver.append([[] for _ in task.test])
        seconds[s.name] = round(time.monotonic() - t0, 3)
    candidates, filtered = select(hidden, per_solver)  # rules read train pairs and test inputs only
    attempts = top_attempts(candidates)
    seconds["total"] = round(time.monotonic() - start, 3)
    rec = {
        "task_id": task.id,
        "attempts": [[to_list(g) for g in a] for a in attempts],
        "candidates": [[c.to_json() for c in cands[:20]] for cands in candidates],
        "seconds": seconds,
        "timed_out": time.monotonic() > deadline,
    }
    if errors:
        rec["errors"] = errors
    if filtered:  # which rule removed which candidate
        rec["filtered"] = filtered
    if task.has_solutions:
        rec["correct"] = [is_correct(a, ex.output) for a, ex in zip(attempts, task.test)]
    return rec


_WORKER_SOLVERS: list[Solver] = []


def _init_worker(names: list[str]) -> None:
    global _WORKER_SOLVERS
    _WORKER_SOLVERS = [make_solver(n) for n in names]


def _work(args) -> dict:
    task, task_time_s, run_deadline = args
    return solve_task(task, _WORKER_SOLVERS, task_time_s, run_deadline)


def check_run_dir(out: Path, cfg: SolveConfig) -> None:
    """A run folder belongs to one dataset and solver set; resuming with others would mix results."""
    meta_path = out / "run.json"
    meta = {"dataset": cfg.dataset, "solvers": cfg.solvers}
    if meta_path.exists():
        old = json.loads(meta_path.read_text())
        if {k: old.get(k) for k in meta} != meta:
            raise ArcError(f"{out}: holds a run of {old.get('dataset')} with solvers {old.get('solvers')}; "
                           f"use another --out for {cfg.dataset} with {cfg.solvers}")
    else:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(meta_path, json.dumps({**meta, "config": asdict(cfg)}, indent=1))


def run_solve(tasks: list[Task], cfg: SolveConfig, out: Path, progress: bool = True) -> dict:
    """Solve `tasks`, appending one line per finished task to out/results.jsonl; skip tasks an
    earlier run finished. Writes out/submission.json (and out/score.json if solutions are known)."""
    start = time.monotonic()
    run_deadline = start + cfg.budget_s if cfg.budget_s else None
    solvers_check = [make_solver(n) for n in cfg.solvers]  # fail fast on unknown names
    check_run_dir(out, cfg)
    results_path = out / RESULTS
    done = read_results(results_path)
    todo = [t for t in tasks if t.id not in done]
    known = all(t.has_solutions for t in tasks)
    solved = sum(all(done[t.id].get("correct", [False])) for t in tasks if t.id in done)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc="solve", unit="task", dynamic_ncols=True)

    def finish(rec: dict) -> None:
        nonlocal solved
        done[rec["task_id"]] = rec
        with open(results_path, "a") as f:
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
            f.flush()
            os.fsync(f.fileno())
        solved += bool(rec.get("correct")) and all(rec["correct"])
        if bar is not None:
            post = {"solved": solved}
            if run_deadline is not None:
                post["left"] = f"{max(0, run_deadline - time.monotonic()):.0f}s"
            bar.set_postfix(post)
            bar.update(1)

    jobs = [(t, cfg.task_time_s, run_deadline) for t in todo]
    if cfg.workers <= 1:
        for job in jobs:
            if run_deadline is not None and time.monotonic() > run_deadline:
                break
            finish(solve_task(job[0], solvers_check, job[1], job[2]))
    else:
        with ProcessPoolExecutor(cfg.workers, initializer=_init_worker, initargs=(cfg.solvers,)) as pool:
            # tasks past the budget are not started; those under way stop at the run deadline
            pending = iter(jobs)
            futures = set()
            from concurrent.futures import FIRST_COMPLETED, wait

            def submit_next() -> None:
                if run_deadline is not None and time.monotonic() > run_deadline:
                    return
                job = next(pending, None)
                if job is not None:
                    futures.add(pool.submit(_work, job))

            for _ in range(cfg.workers * 2):
                submit_next()
            while futures:
                finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                for fut in finished:
                    futures.discard(fut)
                    finish(fut.result())
                    submit_next()
    if bar is not None:
        bar.close()

    attempts = {}
    for t in tasks:
        if t.id in done:
            attempts[t.id] = [[np.array(g, dtype=np.int8) for g in a] for a in done[t.id]["attempts"]]
    write_submission(out / "submission.json", build_submission(tasks, attempts))
    summary = {
        "dataset": cfg.dataset,
        "tasks": len(tasks),
        "finished": sum(t.id in done for t in tasks),
        "seconds": round(time.monotonic() - start, 1),
    }
    if known:
        score = score_attempts(attempts, tasks)
        summary.update(score=score.total, tasks_solved=score.tasks_solved)
        atomic_write_text(out / "score.json", json.dumps({**summary, "per_task": score.per_task}, indent=1))
    return summary
