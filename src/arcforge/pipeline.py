"""`solve` end to end: tasks -> solvers -> selection -> results.jsonl (append, resumable) -> submission.

    arcforge solve arc1/eval --out runs/demo

One scheduler (`run_solve`) drives every solver through the `Solver` contract (solver.py). Solvers
that need only a CPU (the DSL search) run in a pool of CPU worker processes; solvers that hold a
model (the LLM) run in model workers, several per GPU, each loading its model once. Each pool runs
its solvers' run-level `prepare` once (in its first worker; the other pool takes tasks meanwhile),
then every worker loads what was prepared and the pool takes tasks one at a time. A task's candidates from all
pools meet in `select`, and the finished task is appended to results.jsonl by this process alone.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import queue
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from tyro.conf import OmitArgPrefixes, Positional, arg

from arcforge.errors import ArcError
from arcforge.grid import to_list
from arcforge.llm.config import LLMOptions
from arcforge.options import Commas, Duration, Range, Shard
from arcforge.progress import Progress, clock
from arcforge.select import ROLE_SWAP_TOP, role_swap, select, top_attempts
from arcforge.solver import Candidate, Solver
from arcforge.submission import atomic_write_text, build_submission, is_correct, read_jsonl, score_attempts, write_submission
from arcforge.task import Task
from arcforge.tasknet.config import TaskNetOptions
from arcforge.workers import FAILED, READY, InlinePool, ProcessPool

RESULTS = "results.jsonl"
PREPARED = "prepared"  # the run folder's subfolder where solvers keep their run-level work, one folder each
# Model workers per GPU when --model-workers is not given: a small model's decoding is bound by kernel
# launches, so several processes keep one GPU busy (measured on one H200: see README, "Solving on GPUs").
MODEL_WORKERS_PER_GPU = 8


@dataclass
class SolveConfig:
    """What a solve run does: its dataset, solvers, time and hardware, and each solver's settings."""

    dataset: Annotated[Positional[str], arg(metavar="DATASET")]
    """arc1/train, arc1/eval, arc2/train, arc2/eval, arc2/train-clean, or a path"""
    solvers: Annotated[list[str], arg(name="solver"), Commas] = field(default_factory=lambda: ["dsl", "llm"])
    """comma-separated solvers: dsl, llm, transforms, tasknet"""
    budget_s: Annotated[float | None, arg(name="budget"), Duration] = None
    """wall-clock budget for the whole run, e.g. 30m, 12h"""
    task_time_s: Annotated[float | None, arg(name="task-time"), Duration] = None
    """each solver's time limit per task, e.g. 30s (None: the solver's own: dsl 8s; llm 6s on a CPU, 60s
    on a GPU; transforms none)"""
    dsl_depth: Annotated[int, Range(1, 3)] = 3
    """the DSL's deepest program (2: depth-2 programs and fitted rules only, a quick pass)"""
    workers: Annotated[int, Range(1)] = 1
    """CPU worker processes (1: in this process)"""
    gpus: Annotated[int | None, Range(0)] = None
    """GPUs for the model solvers (None: every visible one; 0: run them on the CPU)"""
    model_workers: Annotated[int | None, Range(1)] = None
    """model worker processes per GPU (None: 8, as a small model's decoding is launch-bound; 1 on a CPU)"""
    dsl_first: bool | None = None
    """run model solvers only on tasks the CPU solvers leave unexplained (None: each solver's own: the LLM
    says yes on a CPU, where its time is dear, and no on a GPU)"""
    shard: Annotated[tuple[int, int] | None, Shard] = None
    """only every K-th task starting at I (0-based), given as I/K, e.g. 0/4"""
    llm: Annotated[LLMOptions, OmitArgPrefixes] = field(default_factory=LLMOptions)
    tasknet: TaskNetOptions = field(default_factory=TaskNetOptions)
    dtype: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    """what the model solvers compute in: auto is bf16 on GPUs that have it, fp16 with loss scaling on those
    that don't, fp32 on a CPU (precision.py)"""
    role_swap: Annotated[float | None, Range(0)] = None
    """the role-swap stage of selection (select.role_swap): a model solver puts each of a test input's best
    candidates in as a demonstration (llm; the tasknet trains copies of the task's vector on it) and re-predicts
    every train pair; candidates whose mean log-prob falls more than this many nats below the best one's are
    dropped (None: off)"""


SOLVERS = ("dsl", "transforms", "llm", "tasknet")


def solver_class(name: str) -> type[Solver]:
    if name == "dsl":
        from arcforge.dsl.search import DslSearch

        return DslSearch
    if name == "transforms":
        from arcforge.dsl.transforms import TransformSearch

        return TransformSearch
    if name == "llm":
        from arcforge.llm.solver import LLMSolver

        return LLMSolver
    if name == "tasknet":
        from arcforge.tasknet.solver import TaskNetSolver

        return TaskNetSolver
    raise ArcError(f"unknown solver '{name}' (known: {', '.join(SOLVERS)})")


def make_solver(name: str, cfg: SolveConfig | None = None) -> Solver:
    """The solver `name` with the run's settings; --task-time, when given, is every solver's limit."""
    cfg = cfg or SolveConfig("")
    cls = solver_class(name)
    if name == "dsl":
        return cls(max_depth=cfg.dsl_depth, **({"time_limit": cfg.task_time_s} if cfg.task_time_s else {}))
    if name in ("tasknet", "llm"):
        from arcforge import precision

        precision.use(cfg.dtype)
    if name == "tasknet":
        device = None if cfg.llm.device in (None, "cuda") else cfg.llm.device  # a worker sees one GPU as "cuda"
        return cls(replace(cfg.tasknet, task_time_s=cfg.task_time_s, device=device, role_swap=cfg.role_swap is not None))
    if name == "llm":
        return cls(replace(cfg.llm, task_time_s=cfg.task_time_s) if cfg.task_time_s else cfg.llm)
    return cls()


def read_results(path: Path) -> dict[str, dict]:
    """Finished tasks of an earlier run (a torn last line is dropped: see read_jsonl)."""
    return {rec["task_id"]: rec for rec in read_jsonl(path, ("task_id",))}


@dataclass
class Part:
    """What some of the solvers made of one task: candidates per solver, seconds, errors."""
    candidates: dict[str, list[list[Candidate]]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage of a solver (llm.ttt, ...)
    timed_out: bool = False


def run_solvers(task: Task, solvers: list[Solver], task_time_s: float | None, run_deadline: float | None) -> Part:
    """Run solvers one after another on the task with its test outputs hidden. Each gets `task_time_s`
    (or, when None, its own `task_time_s`), cut short by the run's deadline."""
    hidden = task.without_test_outputs()
    part = Part()
    for s in solvers:
        t0 = time.monotonic()
        limit = task_time_s or s.task_time_s
        deadline = min(t0 + limit if limit else float("inf"), run_deadline if run_deadline is not None else float("inf"))
        try:
            part.candidates[s.name] = s.solve(hidden, deadline)
        except Exception as e:  # one solver's bug must not sink the run; it is recorded
            part.errors[s.name] = f"{type(e).__name__}: {e}"
            part.candidates[s.name] = [[] for _ in task.test]
        t1 = time.monotonic()
        part.seconds[s.name] = round(t1 - t0, 3)
        for stage, sec in s.stages().items():
            part.stages[f"{s.name}.{stage}"] = round(sec, 3)
        part.timed_out |= t1 > deadline
    return part


def explained(part: Part) -> bool:
    """Every test input has a candidate (pool solvers return only train-consistent programs)."""
    return bool(part.candidates) and all(
        all(len(c) > 0 for c in cands) for cands in part.candidates.values())


def merge_parts(parts: list[Part]) -> Part:
    merged = Part()
    for p in parts:
        merged.candidates.update(p.candidates)
        merged.seconds.update(p.seconds)
        merged.errors.update(p.errors)
        merged.stages.update(p.stages)
        merged.timed_out |= p.timed_out
    return merged


def selected(task: Task, order: list[str], merged: Part) -> tuple[list[list[Candidate]], list[dict]]:
    """The candidates that pass the selection rules, per test input, best first, and what the rules removed."""
    per_solver = [merged.candidates[n] for n in order if n in merged.candidates]
    return select(task.without_test_outputs(), per_solver)  # rules read train pairs and inputs only


def to_verify(task: Task, order: list[str], parts: list[Part]) -> list[list]:
    """The grids the role-swap stage judges for each test input: the best ROLE_SWAP_TOP after the
    rules, where there are more than two (with two or fewer every one is an attempt anyway)."""
    candidates, _ = selected(task, order, merge_parts(parts))
    return [[c.grid for c in cands[:ROLE_SWAP_TOP]] if len(cands) > 2 else [] for cands in candidates]


def finish_task(task: Task, order: list[str], parts: list[Part], verdict: dict | None = None) -> dict:
    """Select two attempts per test input from all solvers' candidates; the task's record. `verdict`:
    the role-swap stage's {"deltas": per test input, "margin": nats, "solver": who judged, "seconds"}."""
    merged = merge_parts(parts)
    candidates, filtered = selected(task, order, merged)
    if verdict and verdict.get("deltas"):
        candidates, swapped = role_swap(candidates, verdict["deltas"], verdict["margin"])
        filtered += swapped
    if verdict:
        merged.seconds["role_swap"] = verdict["seconds"]
        if "error" in verdict:
            merged.errors["role_swap"] = f"{verdict['solver']}: {verdict['error']}"
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


# ---- what a worker process does ----


@dataclass
class WorkerArg:
    names: list[str]  # the solvers a worker of this pool runs
    cfg: SolveConfig
    threads: int | None = None  # torch threads (model workers)


class WorkerSolvers:
    """A worker's state: its solvers, built once."""

    def __init__(self, arg: WorkerArg, slot: int):
        if arg.threads:
            import torch

            torch.set_num_threads(arg.threads)
        self.solvers = [make_solver(n, arg.cfg) for n in arg.names]

    def info(self) -> dict[str, dict]:
        return {s.name: {"only_unexplained": s.only_unexplained, "task_time_s": s.task_time_s,
                         "verifies": type(s).verify is not Solver.verify} for s in self.solvers}


def _mono(unix: float | None) -> float | None:
    # monotonic clocks are per process: deadlines travel between processes as wall-clock times
    return None if unix is None else time.monotonic() + (unix - time.time())


@contextlib.contextmanager
def process_group(rank: int, world: int, rendezvous: str):
    """This worker as rank `rank` of a torch.distributed group of `world` workers (NCCL on GPUs, gloo
    on CPUs) meeting at the file `rendezvous`."""
    import datetime

    import torch

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    torch.distributed.init_process_group(backend, init_method=f"file://{rendezvous}", rank=rank, world_size=world,
                                         timeout=datetime.timedelta(hours=2))
    try:
        yield
    finally:
        torch.distributed.destroy_process_group()
        if rank == 0:
            Path(rendezvous).unlink(missing_ok=True)


def handle_job(state: WorkerSolvers, job: tuple):
    """One job for a worker: ("prepare", tasks, deadline, folder, rank, world, rendezvous), ("load",
    folder), ("solve", task, task_time_s, deadline) or ("verify", task, grids per test input,
    deadline); deadlines are time.time() values or None."""
    op = job[0]
    if op == "prepare":
        _, tasks, deadline, folder, rank, world, rendezvous = job
        if world == 1:
            for s in state.solvers:
                s.prepare(tasks, _mono(deadline), Path(folder) / s.name)
            return None
        with process_group(rank, world, rendezvous):
            for s in state.solvers:
                if s.distributed or rank == 0:
                    s.prepare(tasks, _mono(deadline), Path(folder) / s.name)
        return None
    if op == "load":
        for s in state.solvers:
            s.load(Path(job[1]) / s.name)
        return None
    if op == "verify":  # the role-swap stage: the first solver with an opinion judges the grids
        _, task, grids, deadline = job
        t0 = time.monotonic()
        for s in state.solvers:
            limit = s.task_time_s or float("inf")
            end = min(t0 + limit, _mono(deadline) if deadline is not None else float("inf"))
            try:
                deltas = s.verify(task.without_test_outputs(), grids, end)
            except Exception as e:  # a failed check must not sink the run: the task is selected without it
                return {"solver": s.name, "error": f"{type(e).__name__}: {e}", "seconds": round(time.monotonic() - t0, 3)}
            if deltas is not None:
                return {"solver": s.name, "deltas": deltas, "seconds": round(time.monotonic() - t0, 3)}
        return None
    _, task, task_time_s, deadline = job
    run_deadline = _mono(deadline)
    if run_deadline is not None and time.monotonic() > run_deadline:
        return Part()  # past the budget: not started
    return run_solvers(task, state.solvers, task_time_s, run_deadline)


# ---- the scheduler ----


def visible_gpus() -> list[str]:
    """CUDA device ids this process may use (as CUDA_VISIBLE_DEVICES names them for a child)."""
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    named = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    return named[:n] if named else [str(i) for i in range(n)]


def pool_solvers(cfg: SolveConfig) -> dict[str, list[str]]:
    """The run's solvers by the pool they run in ("cpu" or "model"), in the run's order."""
    return {kind: [n for n in cfg.solvers if solver_class(n).resource == kind] for kind in ("cpu", "model")}


def model_gpus(cfg: SolveConfig) -> list[str]:
    """The GPUs the model workers use (CUDA_VISIBLE_DEVICES names): --device cuda:N picks one, --gpus G
    the first G, --device cpu or --gpus 0 none; by default every visible one."""
    want = cfg.llm.device
    if want == "cpu" or cfg.gpus == 0:
        return []
    gpus = visible_gpus()
    if want and want.startswith("cuda"):
        if not gpus:
            raise ArcError(f"--device {want}: no CUDA GPU is visible here")
        if ":" in want:
            index = int(want.split(":")[1])
            if index >= len(gpus):
                raise ArcError(f"--device {want}: only {len(gpus)} GPU(s) visible (cuda:0 to cuda:{len(gpus) - 1})")
            gpus = [gpus[index]]
    if cfg.gpus is not None:
        if cfg.gpus > len(gpus):
            raise ArcError(f"--gpus {cfg.gpus}: only {len(gpus)} GPU(s) visible")
        gpus = gpus[:cfg.gpus]
    return gpus


def start_pools(cfg: SolveConfig, events) -> dict[str, ProcessPool | InlinePool]:
    """The CPU pool (cfg.workers processes; in this process when 1) and the model pool (model workers
    spread over the GPUs, each seeing only its own; one worker in this process on a CPU)."""
    cpu_names, model_names = pool_solvers(cfg)["cpu"], pool_solvers(cfg)["model"]
    pools: dict[str, ProcessPool | InlinePool] = {}
    try:
        if cpu_names:
            arg = WorkerArg(cpu_names, cfg)
            pools["cpu"] = (InlinePool("cpu", WorkerSolvers, handle_job, arg, events) if cfg.workers <= 1 else
                            ProcessPool("cpu", cfg.workers, WorkerSolvers, handle_job, arg, events, start_method="fork"))
        if model_names:
            gpus = model_gpus(cfg)
            if gpus:  # each worker its own process, seeing one GPU as "cuda"
                n = len(gpus) * (cfg.model_workers or MODEL_WORKERS_PER_GPU)
                envs = [{"CUDA_VISIBLE_DEVICES": gpus[i % len(gpus)]} for i in range(n)]
                arg = WorkerArg(model_names, replace(cfg, llm=replace(cfg.llm, device="cuda")), threads=1)
                pools["model"] = ProcessPool("model", n, WorkerSolvers, handle_job, arg, events, envs, "spawn")
            else:  # on the CPU, beside the CPU pool; one worker runs in this process
                n = cfg.model_workers or 1
                threads = max(1, ((os.cpu_count() or 1) - (cfg.workers if cpu_names else 0)) // n)
                arg = WorkerArg(model_names, replace(cfg, llm=replace(cfg.llm, device="cpu")), threads)
                pools["model"] = (InlinePool("model", WorkerSolvers, handle_job, arg, events) if n == 1 else
                                  ProcessPool("model", n, WorkerSolvers, handle_job, arg, events, None, "spawn"))
    except BaseException:
        for p in pools.values():
            p.stop()
        raise
    return pools


def next_event(pools: dict, events, timeout: float | None = None) -> tuple[str, int, str, object] | None:
    """The next answer of any worker: (pool, slot, kind, payload), or None after `timeout` seconds
    without one. A worker that failed, or died holding a job, stops the run with an error naming it
    (finished tasks are already on disk)."""
    end = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            wait = 1.0 if end is None else max(0.005, min(1.0, end - time.monotonic()))
            name, slot, kind, payload = events.get(timeout=wait)
        except queue.Empty:
            if end is not None and time.monotonic() >= end:
                return None
            for name, pool in pools.items():
                if isinstance(pool, ProcessPool):
                    for slot in pool.busy:
                        if not pool.procs[slot].is_alive():
                            job = pool.busy[slot]
                            what = f" on task '{job[1].id}'" if job[0] == "solve" else f" in {job[0]}"
                            raise ArcError(f"{name} worker {slot} died (exit code {pool.procs[slot].exitcode}){what}") from None
            continue
        if kind == FAILED:
            raise ArcError(f"{name} worker {slot}: {payload}")
        return name, slot, kind, payload


def check_run_dir(out: Path, cfg: SolveConfig) -> None:
    """A run folder belongs to one dataset and solver set; resuming with others would mix results."""
    if (out / "run.json").exists():
        old = run_meta(out)
        if old.get("dataset") != cfg.dataset or old.get("solvers") != cfg.solvers:
            raise ArcError(f"{out}: holds a run of {old.get('dataset')} with solvers {old.get('solvers')}; "
                           f"use another --out for {cfg.dataset} with {cfg.solvers}")


def start_run_dir(out: Path, cfg: SolveConfig, tasks: list[Task]) -> None:
    """out/run.json: the dataset, the solvers, the settings and every task the run was given (a
    resumed run with more tasks adds them), so that `combine`, `score` and `report` know its scope."""
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "run.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {
        "dataset": cfg.dataset, "solvers": cfg.solvers, "config": asdict(cfg), "task_ids": []}
    known = set(meta.setdefault("task_ids", []))
    meta["task_ids"] += [t.id for t in tasks if t.id not in known]
    atomic_write_text(meta_path, json.dumps(meta, indent=1))


def run_meta(run: Path) -> dict:
    """A run folder's run.json (a solve's or a combine's)."""
    path = run / "run.json"
    if not path.is_file():
        raise ArcError(f"{run}: not a solve run folder (no run.json)")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ArcError(f"{path}: not valid JSON") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("dataset"), str):
        raise ArcError(f"{path}: names no dataset")
    return meta


def run_solve(tasks: list[Task], cfg: SolveConfig, out: Path, progress: bool = True, on_result=None) -> dict:
    """Solve `tasks`, appending one line per finished task to out/results.jsonl; skip tasks an
    earlier run finished. Writes out/submission.json (and out/score.json if solutions are known).
    `on_result(line)`, if given, is called with each line once it is written."""
    start = time.monotonic()
    deadline_unix = time.time() + cfg.budget_s if cfg.budget_s else None
    if cfg.shard is not None:
        i, k = cfg.shard
        tasks = tasks[i::k]
    for n in cfg.solvers:
        solver_class(n)  # unknown names fail before anything starts
    check_run_dir(out, cfg)
    events = mp.get_context("spawn").Queue()  # every worker's answers, in this process's order of arrival
    pools: dict = {}
    try:
        pools = start_pools(cfg, events)
        only_unexplained, verifies, limits = False, False, {}
        for _ in range(sum(len(p) for p in pools.values())):  # every worker built: a bad model fails here
            name, _, kind, info = next_event(pools, events)
            if name == "model":
                only_unexplained |= any(v["only_unexplained"] for v in info.values())
                verifies |= cfg.role_swap is not None and any(v["verifies"] for v in info.values())
            limits[name] = hard_limit(cfg, info)
        if cfg.dsl_first is not None:
            only_unexplained = cfg.dsl_first
        start_run_dir(out, cfg, tasks)
        results_path = out / RESULTS
        done = read_results(results_path)
        todo = [t for t in tasks if t.id not in done]
        if todo:  # run-level preparation (e.g. training on every task's demonstrations), in each pool's
            # first worker; the pool's workers load it and start on tasks when it is done, the other pool
            # works meanwhile
            hidden = [t.without_test_outputs() for t in todo]
            folder = out / PREPARED
            folder.mkdir(parents=True, exist_ok=True)
            for name, pool in pools.items():
                world = preparing_workers(cfg, name, len(pool))
                rendezvous = str(folder / f".rendezvous-{os.getpid()}-{time.time_ns()}")
                for rank in range(world):
                    pool.send(rank, ("prepare", hidden, deadline_unix, str(folder), rank, world, rendezvous))
        return schedule(tasks, todo, done, cfg, out, pools, events, only_unexplained, limits, deadline_unix, start,
                        progress, on_result, verifies)
    finally:
        for p in pools.values():
            p.stop()


def preparing_workers(cfg: SolveConfig, pool: str, size: int) -> int:
    """How many of a pool's workers prepare together: the model pool's first worker on each GPU (on a
    CPU: each model worker) when one of its solvers is distributed; otherwise one."""
    names = pool_solvers(cfg)[pool]
    if pool != "model" or not any(solver_class(n).distributed for n in names):
        return 1
    return min(size, len(model_gpus(cfg)) or size)


def hard_limit(cfg: SolveConfig, info: dict[str, dict]) -> float | None:
    """Seconds after which a worker still on a task is stopped: its solvers' limits added up, with
    room to spare (they are cooperative: each checks its deadline between steps). None: no limit."""
    limits = [cfg.task_time_s or v["task_time_s"] for v in info.values()]
    if not all(limits):
        return None
    return 1.5 * sum(limits) + 10.0


def stopped_part(solvers: list[str], task: Task, seconds: float) -> Part:
    """What a task gets from a worker stopped past its hard limit: no candidates, the reason."""
    why = f"stopped after {seconds:.0f}s, past its time limit"
    return Part(candidates={n: [[] for _ in task.test] for n in solvers}, seconds={n: round(seconds, 3) for n in solvers},
                errors={n: why for n in solvers}, timed_out=True)


def schedule(tasks, todo, done, cfg, out, pools, events, only_unexplained, limits, deadline_unix, start,
             progress, on_result=None, verifies: bool = False) -> dict:
    """The loop: hand tasks to idle workers, take their answers, append each finished task. With
    `verifies` (--role-swap, and a model solver that judges), a task whose candidates are all in goes
    back to the model pool once more for the role-swap check before it is recorded."""
    results_path = out / RESULTS
    cpu, model = pools.get("cpu"), pools.get("model")
    skip = only_unexplained and cpu is not None and model is not None  # model work waits for the CPU's answer
    queues = {"cpu": deque(todo if cpu else []), "model": deque(todo if model and not skip else [])}
    owed = {t.id: (cpu is not None) + (model is not None and not skip) for t in todo}  # answers still to come
    parts: dict[str, list[Part]] = {t.id: [] for t in todo}
    sent: dict[tuple[str, int], float] = {}  # (pool, slot) -> when its job was sent
    pool_names = pool_solvers(cfg)
    solved = sum(all(done[t.id].get("correct", [False])) for t in tasks if t.id in done)
    verify_q: deque = deque()  # role-swap jobs, sent to the model pool before any task
    waiting: dict[str, list[Part]] = {}  # parts of the tasks whose role-swap check is out
    bar = Progress("solve", len(tasks), "task", initial=len(tasks) - len(todo), enabled=progress)

    def take(name: str, task: Task, part: Part) -> None:
        """A pool's answer for a task; once every answer it is owed is in, the task is recorded."""
        parts[task.id].append(part)
        owed[task.id] -= 1
        if name == "cpu" and skip and part.candidates and not explained(part):
            queues["model"].append(task)
            owed[task.id] += 1
        if owed[task.id]:
            return
        task_parts = parts.pop(task.id)
        if not any(p.candidates for p in task_parts):
            return  # never started (past the budget): a later run does it
        if verifies and (deadline_unix is None or time.time() < deadline_unix):
            grids = to_verify(task, cfg.solvers, task_parts)
            if any(grids):
                waiting[task.id] = task_parts
                verify_q.append(("verify", task, grids, deadline_unix))
                return
        record(task, task_parts)

    def record(task: Task, task_parts: list[Part], verdict: dict | None = None) -> None:
        nonlocal solved
        if verdict is not None:
            verdict = {**verdict, "margin": cfg.role_swap}
        rec = finish_task(task, cfg.solvers, task_parts, verdict)
        done[task.id] = rec
        line = json.dumps(rec, separators=(",", ":")) + "\n"
        with open(results_path, "a") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        if on_result is not None:
            on_result(line)
        solved += bool(rec.get("correct")) and all(rec["correct"])
        post = {"solved": solved} if task.has_solutions else {}
        if deadline_unix is not None:
            post["budget_left"] = clock(max(0, deadline_unix - time.time()))
        bar.update(1, **post)

    # answers still owed before the pool takes tasks: its preparing workers', then every worker's load
    preparing = {name: len(pool.busy) for name, pool in pools.items()}
    loading = {name: len(pool) for name, pool in pools.items()}

    def prepared(name: str, job: tuple) -> None:
        """A pool's preparation or one of its loads is done: once every preparing worker is, all load."""
        if job[0] == "prepare":
            preparing[name] -= 1
            if not preparing[name]:
                for slot in range(len(pools[name])):
                    pools[name].send(slot, ("load", job[3]))
        else:
            loading[name] -= 1

    if not any(p.busy for p in pools.values()):
        loading = dict.fromkeys(pools, 0)  # nothing to prepare (every task done before)
    try:
        while True:
            if deadline_unix is None or time.time() < deadline_unix:
                for name, pool in pools.items():
                    if loading[name]:
                        continue
                    for slot in pool.idle():
                        if name == "model" and verify_q:
                            pool.send(slot, verify_q.popleft())
                        elif queues[name]:
                            pool.send(slot, ("solve", queues[name].popleft(), cfg.task_time_s, deadline_unix))
                        else:
                            break
                        sent[name, slot] = time.monotonic()
            else:  # the budget is spent: tasks still waiting for their check are recorded without it
                while verify_q:
                    task = verify_q.popleft()[1]
                    record(task, waiting.pop(task.id))
            if not any(p.busy for p in pools.values()):
                break  # every task answered, or the budget is spent and nothing is in flight
            event = next_event(pools, events, timeout=1.0)
            while event is not None:  # every answer already in
                name, slot, kind, part = event
                if kind != READY and slot in pools[name].busy:  # (READY: a restarted worker)
                    sent.pop((name, slot), None)
                    job = pools[name].answered(slot)
                    if job[0] == "solve":
                        take(name, job[1], part)
                    elif job[0] == "verify":
                        record(job[1], waiting.pop(job[1].id), part)
                    else:
                        prepared(name, job)
                event = next_event(pools, events, timeout=0)
            for (name, slot), t0 in list(sent.items()):  # then a worker stuck past its hard limit is replaced
                pool, limit, held = pools[name], limits.get(name), time.monotonic() - t0
                if limit and isinstance(pool, ProcessPool) and held > limit:
                    del sent[name, slot]
                    job = pool.restart(slot)
                    if job[0] == "verify":  # recorded without the check
                        record(job[1], waiting.pop(job[1].id), {"solver": name, "seconds": round(held, 3),
                                                                "error": f"stopped after {held:.0f}s"})
                    else:
                        take(name, job[1], stopped_part(pool_names[name], job[1], held))
    finally:
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


def combine_runs(runs: list[Path], tasks: list[Task], out: Path, dataset: str | None = None,
                 cover_all: bool = False) -> dict:
    """One run made of several finished ones (solvers run apart, shards, machines, earlier combines):
    for each task the candidates of every run that has it, earlier runs first, go through selection
    again as if one `solve` had made them all. The combined run covers every task any of the runs was
    given (run.json), reached or not, so its submission is complete. Writes out/results.jsonl,
    run.json, submission.json and score.json. `cover_all`: every one of `tasks`, whatever the runs cover."""
    records, scope = [], {t.id for t in tasks} if cover_all else set()
    for r in runs:
        if not (r / RESULTS).is_file():
            raise ArcError(f"{r}: not a solve run folder (no {RESULTS})")
        records.append(read_results(r / RESULTS))
        ids = run_meta(r).get("task_ids") if (r / "run.json").is_file() else None
        scope.update(ids if isinstance(ids, list) else records[-1])
    names = [f"run{j}" for j in range(len(runs))]
    tasks = [t for t in tasks if t.id in scope]
    out.mkdir(parents=True, exist_ok=True)
    lines, done = [], {}
    for t in tasks:
        parts = []
        for name, rec in zip(names, records):
            if t.id in rec:
                cands = [[Candidate.from_json(c) for c in cs] for cs in rec[t.id]["candidates"]]
                parts.append(Part(candidates={name: cands}, seconds={name: rec[t.id]["seconds"]["total"]},
                                  timed_out=rec[t.id].get("timed_out", False)))
        if parts:
            done[t.id] = finish_task(t, names, parts)
            lines.append(json.dumps(done[t.id], separators=(",", ":")) + "\n")
    atomic_write_text(out / RESULTS, "".join(lines))
    dataset = dataset or next((run_meta(r)["dataset"] for r in runs if (r / "run.json").is_file()), None)
    meta = {"dataset": dataset, "solvers": ["combined"], "combined": [str(r) for r in runs],
            "task_ids": [t.id for t in tasks]}
    atomic_write_text(out / "run.json", json.dumps(meta, indent=1))
    return write_outputs(out, tasks, done, {"runs": len(runs), "tasks": len(tasks), "finished": len(done)})
