"""`solve` end to end: tasks -> solvers -> selection -> results.jsonl (append, resumable) -> submission.

    arcforge solve arc1/eval --out runs/demo

CPU solvers (the DSL search) run in a pool of worker processes; solvers that hold a model (the LLM)
run in this process, task after task, while the pool works ahead. Each task's candidates from all
solvers meet in `select`, and the finished task is appended to results.jsonl at once.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
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
IN_PROCESS = {"llm"}  # solvers that hold a model: made once, run in the main process


@dataclass
class LLMOptions:
    """Settings of the LLM solver. None means: the device's default (see llm/solver.py DEVICE_DEFAULTS),
    full work on a GPU, a light touch on a CPU."""
    model: str | None = None  # HF id, folder, preset; None = the model shipped in the package
    backend: str | None = None  # unsloth | transformers; None = best available
    ttt: str | None = None  # off | per-task | joint
    ttt_steps: int | None = None
    ttt_lr: float = 1e-4
    ttt_rank: int = 32  # LoRA rank; 0 = full fine-tuning
    views: int | None = None
    threshold: float | None = None  # DFS keeps completions above this probability
    max_prompt_tokens: int | None = None  # longer tasks are left to the other solvers
    device: str | None = None  # cuda | cpu; None = cuda when there is one
    task_time_s: float | None = None  # the LLM's own limit per task (0 = only the run's --task-time)


@dataclass
class SolveConfig:
    dataset: str
    solvers: list[str] = field(default_factory=lambda: ["dsl", "llm"])
    budget_s: float | None = None  # wall-clock budget for the whole run
    task_time_s: float = 60.0  # per-task limit
    workers: int = 1
    # skip in-process solvers on tasks a pool solver already explains; None: the LLM solver decides
    # (on for a CPU, where its time is dear; off for a GPU)
    dsl_first: bool | None = None
    shard: tuple[int, int] | None = None  # (i, k): only tasks i, i+k, i+2k, ... of the dataset
    llm: LLMOptions = field(default_factory=LLMOptions)


def make_solver(name: str, cfg: SolveConfig | None = None) -> Solver:
    if name == "dsl":
        from arcforge.dsl.search import DslSearch

        return DslSearch()
    if name == "transforms":
        from arcforge.dsl.transforms import TransformSearch

        return TransformSearch()
    if name == "llm":
        from arcforge.llm.solver import LLMSolver

        return LLMSolver((cfg or SolveConfig("")).llm)
    raise ArcError(f"unknown solver '{name}' (known: dsl, transforms, llm)")


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


@dataclass
class Part:
    """What some of the solvers made of one task: candidates per solver, seconds, errors."""
    candidates: dict[str, list[list[Candidate]]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage of a solver (llm.ttt, ...)
    timed_out: bool = False


def run_solvers(task: Task, solvers: list[Solver], task_time_s: float, run_deadline: float | None) -> Part:
    """Run solvers one after another on the task with its test outputs hidden, within the limits."""
    start = time.monotonic()
    deadline = start + task_time_s
    if run_deadline is not None:
        deadline = min(deadline, run_deadline)
    hidden = task.without_test_outputs()
    part = Part()
    for s in solvers:
        t0 = time.monotonic()
        try:
            part.candidates[s.name] = s.solve(hidden, deadline)
        except Exception as e:  # one solver's bug must not sink the run; it is recorded
            part.errors[s.name] = f"{type(e).__name__}: {e}"
            part.candidates[s.name] = [[] for _ in task.test]
        part.seconds[s.name] = round(time.monotonic() - t0, 3)
        for stage, sec in (getattr(s, "timings", None) or {}).items():
            part.stages[f"{s.name}.{stage}"] = round(sec, 3)
    part.timed_out = time.monotonic() > deadline
    return part


def explained(part: Part) -> bool:
    """Every test input has a candidate (pool solvers return only train-consistent programs)."""
    return bool(part.candidates) and all(
        all(len(c) > 0 for c in cands) for cands in part.candidates.values())


def finish_task(task: Task, order: list[str], parts: list[Part]) -> dict:
    """Select two attempts per test input from all solvers' candidates; the task's record."""
    merged = Part()
    for p in parts:
        merged.candidates.update(p.candidates)
        merged.seconds.update(p.seconds)
        merged.errors.update(p.errors)
        merged.stages.update(p.stages)
        merged.timed_out |= p.timed_out
    per_solver = [merged.candidates[n] for n in order if n in merged.candidates]
    candidates, filtered = select(task.without_test_outputs(), per_solver)  # rules read train pairs and inputs only
    attempts = top_attempts(candidates)
    rec = {
        "task_id": task.id,
        "attempts": [[to_list(g) for g in a] for a in attempts],
        "candidates": [[c.to_json() for c in cands[:20]] for cands in candidates],
        "seconds": {**merged.seconds, "total": round(sum(merged.seconds.values()), 3)},
        "timed_out": merged.timed_out,
    }
    if merged.stages:
        rec["stages"] = merged.stages
    skipped = [n for n in order if n not in merged.candidates]
    if skipped:
        rec["skipped"] = skipped
    if merged.errors:
        rec["errors"] = merged.errors
    if filtered:  # which rule removed which candidate
        rec["filtered"] = filtered
    if task.has_solutions:
        rec["correct"] = [is_correct(a, ex.output) for a, ex in zip(attempts, task.test)]
    return rec


def solve_task(task: Task, solvers: list[Solver], task_time_s: float, run_deadline: float | None) -> dict:
    """All solvers on one task, in this process: its record."""
    return finish_task(task, [s.name for s in solvers], [run_solvers(task, solvers, task_time_s, run_deadline)])


_WORKER_SOLVERS: list[Solver] = []


def _init_worker(names: list[str], cfg: SolveConfig) -> None:
    global _WORKER_SOLVERS
    _WORKER_SOLVERS = [make_solver(n, cfg) for n in names]


def _work(task: Task, task_time_s: float, run_deadline_unix: float | None) -> Part:
    # monotonic clocks are per process: the run deadline travels as wall-clock time
    run_deadline = None if run_deadline_unix is None else time.monotonic() + (run_deadline_unix - time.time())
    if run_deadline is not None and time.monotonic() > run_deadline:
        return Part()  # past the budget: not started
    return run_solvers(task, _WORKER_SOLVERS, task_time_s, run_deadline)


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
    run_deadline_unix = time.time() + cfg.budget_s if cfg.budget_s else None
    if cfg.shard is not None:
        i, k = cfg.shard
        tasks = tasks[i::k]
    pool_names = [n for n in cfg.solvers if n not in IN_PROCESS]
    local_names = [n for n in cfg.solvers if n in IN_PROCESS]
    use_pool = cfg.workers > 1 and bool(pool_names)
    pool_solvers = [] if use_pool else [make_solver(n, cfg) for n in pool_names]  # also fails fast on bad names
    if use_pool:
        for n in pool_names:
            make_solver(n, cfg)
    local_solvers = [make_solver(n, cfg) for n in local_names]  # a missing model fails before anything is written
    dsl_first = cfg.dsl_first
    if dsl_first is None:
        dsl_first = any(getattr(s, "prefers_dsl_first", False) for s in local_solvers)
    for s in local_solvers:  # the pool's workers have the other cores
        if hasattr(s, "set_threads") and use_pool:
            s.set_threads(max(1, (os.cpu_count() or 1) - cfg.workers))
    check_run_dir(out, cfg)
    results_path = out / RESULTS
    done = read_results(results_path)
    todo = [t for t in tasks if t.id not in done]
    for s in local_solvers:  # e.g. joint test-time training on every task still to do
        if hasattr(s, "prepare") and todo:
            s.prepare([t.without_test_outputs() for t in todo], run_deadline)
    solved = sum(all(done[t.id].get("correct", [False])) for t in tasks if t.id in done)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc="solve", unit="task", dynamic_ncols=True)

    def out_of_time() -> bool:
        return run_deadline is not None and time.monotonic() > run_deadline

    def record(task: Task, parts: list[Part]) -> None:
        nonlocal solved
        if not any(p.candidates for p in parts):
            return  # never started (past the budget): a later run does it
        rec = finish_task(task, cfg.solvers, parts)
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

    def local_part(task: Task, pool_part: Part | None) -> Part:
        if not local_solvers or out_of_time():
            return Part()
        if dsl_first and pool_part is not None and explained(pool_part):
            return Part()
        return run_solvers(task, local_solvers, cfg.task_time_s, run_deadline)

    if not use_pool:
        for task in todo:
            if out_of_time():
                break
            pool_part = run_solvers(task, pool_solvers, cfg.task_time_s, run_deadline) if pool_solvers else None
            record(task, [p for p in (pool_part, local_part(task, pool_part)) if p is not None])
    else:
        with ProcessPoolExecutor(cfg.workers, initializer=_init_worker, initargs=(pool_names, cfg)) as pool:
            # the pool works through every task while this process runs the in-process solvers in order
            futures: dict[Future, Task] = {pool.submit(_work, t, cfg.task_time_s, run_deadline_unix): t
                                           for t in todo}
            if local_solvers:
                for fut, task in futures.items():
                    if dsl_first:
                        pool_part = fut.result()
                        record(task, [pool_part, local_part(task, pool_part)])
                    else:
                        lp = local_part(task, None)
                        record(task, [fut.result(), lp])
            else:
                pending = set(futures)
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        record(futures[fut], [fut.result()])
    if bar is not None:
        bar.close()

    summary = {
        "dataset": cfg.dataset,
        "tasks": len(tasks),
        "finished": sum(t.id in done for t in tasks),
        "seconds": round(time.monotonic() - start, 1),
    }
    return write_outputs(out, tasks, done, summary)


def write_outputs(out: Path, tasks: list[Task], done: dict[str, dict], summary: dict) -> dict:
    """out/submission.json from the finished tasks' records, and out/score.json when every task's
    solutions are known; returns `summary` with the score added."""
    attempts = {t.id: [[np.array(g, dtype=np.int8) for g in a] for a in done[t.id]["attempts"]]
                for t in tasks if t.id in done}
    write_submission(out / "submission.json", build_submission(tasks, attempts))
    if all(t.has_solutions for t in tasks):
        score = score_attempts(attempts, tasks)
        summary.update(score=score.total, tasks_solved=score.tasks_solved)
        atomic_write_text(out / "score.json", json.dumps({**summary, "per_task": score.per_task}, indent=1))
    return summary


def combine_runs(runs: list[Path], tasks: list[Task], out: Path) -> dict:
    """One run made of several finished ones (solvers run apart, shards, machines): for each task
    the candidates of every run that has it, earlier runs first, go through selection again as if
    one `solve` had made them all. Writes out/results.jsonl, submission.json and score.json."""
    records = []
    for r in runs:
        if not (r / RESULTS).is_file():
            raise ArcError(f"{r}: not a solve run folder (no {RESULTS})")
        records.append(read_results(r / RESULTS))
    names = [f"run{j}" for j in range(len(runs))]
    tasks = [t for t in tasks if any(t.id in rec for rec in records)]
    out.mkdir(parents=True, exist_ok=True)
    lines, done = [], {}
    for t in tasks:
        parts = []
        for name, rec in zip(names, records):
            if t.id in rec:
                cands = [[Candidate.from_json(c) for c in cs] for cs in rec[t.id]["candidates"]]
                parts.append(Part(candidates={name: cands}, seconds={name: rec[t.id]["seconds"]["total"]},
                                  timed_out=rec[t.id].get("timed_out", False)))
        done[t.id] = finish_task(t, names, parts)
        lines.append(json.dumps(done[t.id], separators=(",", ":")) + "\n")
    atomic_write_text(out / RESULTS, "".join(lines))
    atomic_write_text(out / "run.json", json.dumps({"combined": [str(r) for r in runs]}, indent=1))
    return write_outputs(out, tasks, done, {"runs": len(runs), "tasks": len(tasks)})
