"""The LLM solver: test-time training, DFS under augmented views, product-of-experts ranking.

    arcforge solve arc1/eval --solver dsl,llm --model runs/m/model --ttt per-task --out runs/e1

One model is loaded once per run; for each task it is fine-tuned on the task's train pairs
(per-task TTT, or once on all tasks for joint TTT), then each test input is decoded under
`views` augmented views, every distinct candidate is scored under all views, and the candidates
are ranked by their summed log-probability.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import zlib
from pathlib import Path

import torch

from arcforge import precision
from arcforge.augment import view_set
from arcforge.errors import ArcError
from arcforge.grid import Grid
from arcforge.llm.config import LLMOptions, resolve_options
from arcforge.llm.text import prompt_ids
from arcforge.llm.ttt import TTTConfig, fit, task_adapter
from arcforge.solver import Candidate, Solver
from arcforge.task import Task

SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "models" / "default"

def resolve_model(spec: str | None) -> str:
    if spec:
        return spec
    if (SHIPPED_MODEL / "config.json").exists():
        return str(SHIPPED_MODEL)
    raise ArcError("no model shipped in this package yet: pass --model (a folder, hub id or model shape)")


class LLMSolver(Solver):
    name = "llm"
    resource = "model"

    def __init__(self, opts: LLMOptions):
        from arcforge.llm.model import check_device, load_model

        self.device = device = check_device(opts.device)
        self.opts = opts = resolve_options(opts, device.type)
        if opts.ttt not in ("off", "per-task", "joint"):
            raise ArcError(f"unknown --ttt '{opts.ttt}': use off, per-task or joint")
        self.only_unexplained = device.type != "cuda"  # on a CPU its time is dear
        self.task_time_s = opts.task_time_s or None
        self.dtype = precision.weight_dtype(device) if opts.ttt_rank > 0 else torch.float32
        self.spec = resolve_model(opts.model)
        self.model, self.info = load_model(self.spec, opts.backend, None, device, self.dtype)
        self.model.eval()
        self.ttt = TTTConfig(steps=opts.ttt_steps, lr=opts.ttt_lr, rank=opts.ttt_rank)
        self.timings: dict[str, float] = {}  # seconds per stage for the last task
        self.prepared = False

    def prepare(self, tasks: list[Task], deadline: float | None, folder: Path) -> None:
        """Joint test-time training: one fine-tune on every task of the run (train pairs only), saved
        in `folder` (an adapter, or the whole model with --ttt-rank 0) for every worker to load."""
        from arcforge.llm.model import save_model

        if self.opts.ttt != "joint" or (folder / "model").is_dir():
            return
        if self.ttt.rank > 0:
            from peft import LoraConfig, get_peft_model

            self.model = get_peft_model(self.model, LoraConfig(r=self.ttt.rank, lora_alpha=self.ttt.rank,
                                                               target_modules="all-linear", task_type="CAUSAL_LM"))
        else:
            for p in self.model.parameters():
                p.requires_grad_(True)
        fit(self.model, [t.without_test_outputs() for t in tasks], self.ttt, deadline,
            steps=self.ttt.steps * len(tasks), backend=self.info.backend)
        self.model.eval()
        shutil.rmtree(folder / "tmp", ignore_errors=True)  # left by a run killed while saving
        save_model(self.model, folder / "tmp", self.spec)
        (folder / "tmp").rename(folder / "model")  # whole or absent, so a resumed run trusts it
        self.prepared = True

    def load(self, folder: Path) -> None:
        from arcforge.llm.model import load_model

        if self.opts.ttt == "joint" and not self.prepared and (folder / "model").is_dir():
            self.model, self.info = load_model(str(folder / "model"), self.opts.backend, None, self.device, self.dtype)
            self.model.eval()
            self.prepared = True

    def stages(self) -> dict[str, float]:
        return self.timings

    def _fits(self, task: Task, i: int) -> bool:
        return len(prompt_ids(task, i)) <= self.opts.max_prompt_tokens

    def verify(self, task: Task, grids: list[list[Grid]], deadline: float) -> list[list[float] | None]:
        """Role-swap deltas (llm/roleswap.py) under the run's model (no per-task training): None for
        an input with fewer than two grids, a prompt over --max-prompt-tokens, or no time left."""
        from arcforge.llm.roleswap import role_swap_deltas

        out: list[list[float] | None] = []
        with torch.no_grad():
            for i, gs in enumerate(grids):
                d = None
                if len(gs) > 1 and time.monotonic() < deadline:
                    d = role_swap_deltas(self.model, task, i, gs, max_prompt_tokens=self.opts.max_prompt_tokens)
                out.append(None if d is None else [float(x) for x in d])
        return out

    def solve(self, task: Task, deadline: float) -> list[list[Candidate]]:
        from arcforge.llm.poe import candidates_under_views, rank_candidates, score_under_views

        out: list[list[Candidate]] = [[] for _ in task.test]
        todo = [i for i in range(len(task.test)) if self._fits(task, i)]
        self.timings = {}
        if not todo:
            return out
        t0 = time.monotonic()
        if self.opts.task_time_s:
            deadline = min(deadline, t0 + self.opts.task_time_s)
        use_ttt = self.opts.ttt == "per-task" and self.ttt.steps > 0
        # TTT gets at most half of the time left, so decoding always has its share
        ttt_deadline = t0 + 0.5 * max(0.0, deadline - t0)
        ctx = (task_adapter(self.model, [task], self.ttt, ttt_deadline, self.info.backend) if use_ttt
               else contextlib.nullcontext(self.model))
        seed = zlib.crc32(task.id.encode())  # same views for a task on every run
        views = view_set(self.opts.views, len(task.train), seed=seed)
        with ctx as model:
            self.timings["ttt"] = time.monotonic() - t0
            model.eval()
            with torch.no_grad():
                for i in todo:
                    if time.monotonic() > deadline:
                        break
                    t1 = time.monotonic()
                    cands = candidates_under_views(model, task, i, views, self.opts.threshold, deadline=deadline)
                    self.timings["decode"] = self.timings.get("decode", 0.0) + time.monotonic() - t1
                    if not cands:
                        continue
                    t2 = time.monotonic()
                    if t2 > deadline:  # no time to score: rank by votes, then DFS log-prob
                        out[i] = [Candidate(c.grid, max(c.found.values()), "llm:dfs") for c in cands]
                        continue
                    grids = [c.grid for c in cands]
                    scores = score_under_views(model, task, i, grids, views)
                    out[i] = rank_candidates(grids, scores, [c.votes for c in cands], "poe")
                    self.timings["score"] = self.timings.get("score", 0.0) + time.monotonic() - t2
        return out
