"""The `tasknet` solver: a small transformer that learns every task of the run into its weights.

    arcforge solve arc1/eval --solver dsl,tasknet --budget 20m --out runs/tn

`prepare` trains one model, once for the whole run, on every pair of the training sets plus the
demonstration pairs of the run's own tasks (never their test outputs), each task known to the model
by a learned embedding per view; training gets `train_share` of the run's budget (or `train_time_s`
when the run has none) and checkpoints into the run folder. Then `prepare` writes every test input of
the run under every view of its task, many rows per batch, appending each row to answers.jsonl, so a
killed run goes on where it stopped, in training or in writing. `solve` maps a task's answers back
through their views and ranks them: by the product of their probabilities under all the views
(`rank="poe"`) or by votes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from arcforge.errors import ArcError
from arcforge.grid import grid_key
from arcforge.progress import Progress
from arcforge.solver import Candidate, Solver
from arcforge.task import Task
from arcforge.tasknet.config import TaskNetOptions, check_data
from arcforge.tasknet.data import task_views

ANSWERS = "answers.jsonl"  # in the solver's folder: one line per (task, test input, view) written
SCORES = "scores.jsonl"  # one line per test input: its distinct answers' log-probabilities under every view


def training_tasks(names: list[str], seed: int = 0, exclude: set[str] = frozenset()) -> list[Task]:
    """The tasks of the named sets, and generated ones: "gen:ID:N" gives N tasks of the generator
    family of arc1/train task ID, "gen:all:N" N of every family but those of the tasks in `exclude`
    (the run's own, on a development split of arc1/train: they would teach the very rule of a task
    being measured). A task met twice (by content) is kept once."""
    from dataclasses import replace

    from arcforge.datasets import load_tasks
    from arcforge.generators import generate_task, generator_ids

    tasks = []
    for name in names:
        if name.startswith("gen:"):
            check_data([name])
            parts = name.split(":")
            families = [f for f in generator_ids() if f not in exclude] if parts[1] == "all" else [parts[1]]
            for family in families:
                rng = np.random.default_rng([seed, int.from_bytes(family.encode()[:8], "little")])
                tasks += [replace(generate_task(family, rng), id=f"gen-{family}-{k}") for k in range(int(parts[2]))]
        else:
            tasks += load_tasks(name)
    seen, unique = set(), []
    for t in tasks:  # the same task under two ids (arc2's training set holds most of arc1's) counts once
        if t.content_hash() not in seen:
            seen.add(t.content_hash())
            unique.append(t)
    return unique


def leak_free(training: list[Task], run: list[Task]) -> list[Task]:
    """Training tasks that cannot hand the model a run task's answer: none with a run task's id or
    content, and none holding a run task's test input as one of its grids."""
    ids = {t.id for t in run}
    hashes = {t.content_hash() for t in run}
    test_inputs = {grid_key(ex.input) for t in run for ex in t.test}
    keep = []
    for t in training:
        grids = [g for ex in (*t.train, *t.test) for g in (ex.input, ex.output) if g is not None]
        if t.id in ids or t.content_hash() in hashes or any(grid_key(g) in test_inputs for g in grids):
            continue
        keep.append(t)
    return keep


def part_name(name: str, rank: int) -> str:
    """The file of one rank's share: answers.jsonl for rank 0 (and a single process), answers.R.jsonl."""
    stem, ext = name.split(".", 1)
    return name if rank == 0 else f"{stem}.{rank}.{ext}"


def parts(folder: Path, name: str) -> list[Path]:
    """Every rank's file of `name` (any earlier run's too)."""
    stem, ext = name.split(".", 1)
    return sorted(folder.glob(f"{stem}*.{ext}"))


def answers_of(folder: Path) -> list[dict]:
    """Every row written into `folder`."""
    from arcforge.tasknet.decode import read_rows

    return [r for p in parts(folder, ANSWERS) for r in read_rows(p)]


def finish_reserve(left: float) -> float:
    """Seconds kept free at the end of the run, out of the `left` that remain, after writing and
    scoring: the scheduler still hands every task to `solve` (a look-up) before the run's deadline."""
    return min(20.0, 0.05 * max(0.0, left))


def rows_to_write(tasks: list[Task], views: int, index: dict[str, int]):
    """What the model writes: every test input of `tasks` under each of its task's views (task i's view
    j has embedding index[task] * views + j), with the largest output side it may have."""
    from arcforge.llm.decode import output_side_bound
    from arcforge.tasknet.decode import Row

    return [Row(t.id, i, j, v.apply_grid(ex.input), index[t.id] * views + j, output_side_bound(t, i))
            for t in tasks for i, ex in enumerate(t.test) for j, v in enumerate(task_views(t, views))]


class TaskNetSolver(Solver):
    name = "tasknet"
    resource = "model"
    distributed = True

    def __init__(self, opts: TaskNetOptions | None = None):
        self.opts = opts or TaskNetOptions()
        self.task_time_s = self.opts.task_time_s
        self.device = torch.device(self.opts.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.views, self.answers, self.scores = 0, {}, {}
        self.timings: dict[str, float] = {}
        self.folder: Path | None = None
        self.model, self.index = None, {}  # loaded by the first role-swap check

    def prepare(self, tasks: list[Task], deadline: float | None, folder: Path) -> None:
        """Train (unless an earlier run of this folder finished training), then write every test
        input under every view (rows an earlier run wrote are kept) until the deadline, then score
        each test input's answers under all views. In a torch.distributed group every rank trains
        (DDP), then writes and scores its share, into files of its own."""
        from arcforge.tasknet.decode import decode_rows, score_rows
        from arcforge.tasknet.train import FitConfig, fit, load

        dist = torch.distributed.is_available() and torch.distributed.is_initialized()
        rank, world = (torch.distributed.get_rank(), torch.distributed.get_world_size()) if dist else (0, 1)
        folder.mkdir(parents=True, exist_ok=True)
        log_file = open(folder / "log.jsonl", "a")
        # training's progress (rank 0's), fed by the log's line every 50 steps; below the run's own bar
        bar = Progress("tasknet training", self.opts.steps, "step", enabled=rank == 0, position=1)

        def log(rec: dict) -> None:
            if rank == 0 or "step" not in rec:  # training: rank 0 speaks for all
                log_file.write(json.dumps(rec if world == 1 else {**rec, "rank": rank}) + "\n")
                log_file.flush()
            if rank == 0 and "resumed_at" in rec:  # steps done before: not this run's rate
                bar.set_total(rec["steps"])
                bar.restart(rec["resumed_at"])
            if rank == 0 and "step" in rec:
                if rec["steps"] != bar.total:
                    bar.set_total(rec["steps"])
                bar.update(rec["step"] - bar.n, loss=rec["loss"], tok_s=rec["tokens_per_s"])

        with log_file, bar:
            if not (folder / "done.json").is_file():
                run_ids = {t.id for t in tasks}
                training = leak_free(training_tasks(self.opts.data, exclude=run_ids), tasks)
                hidden = [t.without_test_outputs() for t in tasks]  # belt and braces: demonstrations only
                cfg = FitConfig(preset=self.opts.preset, views=self.opts.views, lr=self.opts.lr,
                                optimizer=self.opts.optimizer, init=self.opts.init, run_share=self.opts.run_share,
                                batch_tokens=self.opts.batch_tokens or (65536 if self.device.type == "cuda" else 8192),
                                steps=self.opts.steps, device=str(self.device), compile=self.opts.compile,
                                input_loss=self.opts.input_loss, dropout=self.opts.dropout)
                now = time.monotonic()
                if deadline is None:
                    train_deadline = now + self.opts.train_time_s
                else:  # training gets what writing, scoring (and the role-swap check) leave, at most
                    # train_share of the time
                    left = deadline - now
                    after = 0.0 if self.opts.steps else self.after_training(tasks, rank, world)
                    after += self.opts.swap_share * left if self.opts.role_swap and self.opts.swap_steps else 0.0
                    train_deadline = now + max(0.1 * left, min(self.opts.train_share * left,
                                                               left - after - finish_reserve(left)))
                    log({"train_s": round(train_deadline - now, 1), "after_training_s": round(after, 1)})
                fit([*training, *hidden], run_ids, cfg, folder, None if self.opts.steps else train_deadline, log)
            bar.close()
            model, ck = load(folder, self.device)
            views, index = ck["fit"]["views"], {tid: i for i, tid in enumerate(ck["tasks"])}
            rows = rows_to_write([t for t in tasks if t.id in index], views, index)
            done = {(r["task"], r["test"], r["view"]) for r in answers_of(folder)}
            todo = [r for r in rows if r.key not in done]
            if dist:  # every rank has read what is written before any writes more: else their shares of todo differ
                torch.distributed.barrier()
            t0 = time.monotonic()
            stop = None if deadline is None else deadline - finish_reserve(deadline - t0)
            n = decode_rows(model, todo[rank::world], folder / part_name(ANSWERS, rank), stop, self.opts.threshold)
            log({"decoded": n, "rows": len(rows), "seconds": round(time.monotonic() - t0, 1)})
            if dist:
                torch.distributed.barrier()  # every rank's answers are in
            written = answers_of(folder)
            if len(written) >= len(rows):  # every view written: score each answer under all views
                t0 = time.monotonic()
                mine = [t for t in tasks if t.id in index][rank::world]
                n = score_rows(model, mine, lambda t: task_views(t, views), lambda t, j: index[t.id] * views + j,
                               written, folder / part_name(SCORES, rank), deadline=stop)
                log({"scored": n, "seconds": round(time.monotonic() - t0, 1)})
            del model
            if self.device.type == "cuda":  # what training held goes back to the other workers of this GPU
                torch.cuda.empty_cache()

    def after_training(self, tasks: list[Task], rank: int, world: int) -> float:
        """Seconds that writing this rank's share of the run's test inputs under every view and scoring
        the answers will take once trained (tasknet.decode.writing_seconds, timed with an untrained
        model of the same shape), with a quarter more for safety."""
        from arcforge.llm.text import max_output_tokens
        from arcforge.tasknet.decode import writing_seconds
        from arcforge.tasknet.model import PRESETS, TaskNet, TaskNetConfig

        model = TaskNet(TaskNetConfig(n_embeddings=1, **PRESETS[self.opts.preset])).to(self.device).eval()
        rows = rows_to_write(tasks, self.opts.views, {t.id: 0 for t in tasks})[rank::world]
        # the largest demonstration output, written in either orientation (views transpose)
        expected = {t.id: max(max(max_output_tokens(h, w), max_output_tokens(w, h))
                              for h, w in (ex.output.shape for ex in t.train)) for t in tasks}
        write, score = writing_seconds(model, rows, expected)
        del model
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        return 1.25 * (write + score)

    def load(self, folder: Path) -> None:
        """The answers and scores `prepare` wrote; the model itself is not needed any more."""
        from arcforge.tasknet.decode import read_scores

        if not (folder / "done.json").is_file():
            raise ArcError(f"{folder}: no trained tasknet model (its preparation did not run)")
        self.folder = folder
        self.views = json.loads((folder / "done.json").read_text())["views"]
        self.answers, self.scores = {}, {}
        for r in answers_of(folder):
            self.answers.setdefault(r["task"], []).append(r)
        for r in (r for p in parts(folder, SCORES) for r in read_scores(p)):
            self.scores[r["task"], r["test"]] = {grid_key(np.array(g, dtype=np.int8)): s
                                                 for g, s in zip(r["grids"], r["scores"])}

    def verify(self, task: Task, grids: list[list], deadline: float) -> list[list[float] | None] | None:
        """Role-swap deltas (tasknet/roleswap.py) of each test input's grids: copies of the task's
        vector trained a few steps with each grid as one more train pair (the model frozen). None for
        an input with fewer than two grids, a task the model was not trained on, or no time left; None
        for all with no swap steps (the default: the check lost right answers on the development split)."""
        from arcforge.tasknet.roleswap import role_swap_deltas
        from arcforge.tasknet.train import load

        if not self.opts.swap_steps:
            return None
        if self.model is None:
            self.model, ck = load(self.folder, self.device)
            self.index = {tid: i for i, tid in enumerate(ck["tasks"])}
        if task.id not in self.index:
            return [None for _ in grids]
        n = min(self.opts.swap_views, self.views)
        rows = [self.index[task.id] * self.views + j for j in range(n)]
        views = task_views(task, self.views)[:n]
        out: list[list[float] | None] = []
        for i, gs in enumerate(grids):
            d = None
            if len(gs) > 1 and time.monotonic() < deadline:
                d = role_swap_deltas(self.model, task, i, gs, rows, views, self.opts.swap_steps, self.opts.swap_lr,
                                     deadline=deadline)
            out.append(None if d is None else [float(x) for x in d])
        return out

    def solve(self, task: Task, deadline: float) -> list[list[Candidate]]:
        from arcforge.llm.poe import rank_candidates
        from arcforge.tasknet.decode import task_candidates

        t0 = time.monotonic()
        views = task_views(task, self.views)
        out = []
        for t, (grids, votes) in enumerate(task_candidates(self.answers.get(task.id, []), views, len(task.test))):
            table = self.scores.get((task.id, t), {})
            scored = [i for i, g in enumerate(grids) if grid_key(g) in table]
            if self.opts.rank == "poe" and scored:  # grids past the scored top keep their vote order after them
                ranked = rank_candidates([grids[i] for i in scored], np.array([table[grid_key(grids[i])] for i in scored]),
                                         [votes[i] for i in scored], "poe", self.name)
                lowest = min(c.score for c in ranked)
                ranked += [Candidate(grids[i], lowest - 1.0 - k, f"{self.name}:votes")
                           for k, i in enumerate(i for i in range(len(grids)) if i not in scored)]
            else:
                ranked = [Candidate(g, float(v) - 1e-3 * k, f"{self.name}:votes") for k, (g, v) in enumerate(zip(grids, votes))]
            out.append(ranked)
        self.timings = {"rank": time.monotonic() - t0}
        return out

    def stages(self) -> dict[str, float]:
        return self.timings
