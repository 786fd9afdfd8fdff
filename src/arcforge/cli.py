"""The `arcforge` command: solve, combine, score, show, report, datasets, wheelhouse, train."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from arcforge.argtypes import device, duration, number
from arcforge.errors import ArcError
from arcforge.progress import QUIET
from arcforge.tasknet.config import PRESETS


class Parser(argparse.ArgumentParser):
    """argparse with the project's errors: one line, exit status 2."""

    def error(self, message: str):
        print(f"error: {self.prog}: {message}", file=sys.stderr)
        sys.exit(2)


def _task_ids(text: str | None) -> list[str] | None:
    return [t for t in text.split(",") if t] if text else None


def default_solvers(args) -> str:
    """The solvers a run gets without --solver: where the model solvers get a GPU, the DSL and the
    tasknet (arc1/eval, one H200: the DSL's run combined with a 10-minute tasknet run, 37.63%, against
    27.38% for dsl,llm); on a CPU (`make demo`) the DSL and the shipped language model."""
    if args.device == "cpu" or args.gpus == 0:
        return "dsl,llm"
    try:
        from arcforge.pipeline import visible_gpus

        return "dsl,tasknet" if visible_gpus() else "dsl,llm"
    except ImportError:  # no torch here: no GPU solver either
        return "dsl,llm"


def default_workers(args) -> int:
    """One CPU worker per core, less the cores that model workers on GPUs keep busy feeding them (the
    LLM's decoding workers; the tasknet's one training process per GPU, whose small steps are
    launch-bound)."""
    cores = os.cpu_count() or 1
    solvers = set(args.solver.split(","))
    if not solvers & {"llm", "tasknet"} or args.device == "cpu" or args.gpus == 0:
        return cores
    from arcforge.pipeline import MODEL_WORKERS_PER_GPU, visible_gpus

    gpus = len(visible_gpus()) if args.gpus is None else args.gpus
    per_gpu = (args.model_workers or MODEL_WORKERS_PER_GPU) if "llm" in solvers else 1
    return max(1, cores - gpus * per_gpu)


def cmd_solve(args) -> int:
    from arcforge.datasets import load_tasks
    from arcforge.llm.config import LLMOptions
    from arcforge.pipeline import SolveConfig, run_solve
    from arcforge.tasknet.config import TaskNetOptions, check_data

    tasks = load_tasks(args.dataset, _task_ids(args.tasks), args.limit, args.solutions)
    args.solver = args.solver or default_solvers(args)
    if "tasknet" in args.solver.split(","):
        check_data([d for d in args.tasknet_data.split(",") if d])
        if args.tasknet_init and not Path(args.tasknet_init).is_file():
            raise ArcError(f"--tasknet-init: {args.tasknet_init}: no such file")
    shard = None
    if args.shard:
        m = re.fullmatch(r"(\d+)/(\d+)", args.shard)
        if not m or not int(m[1]) < int(m[2]):
            raise ArcError(f"--shard takes I/K with 0 <= I < K (e.g. 0/4), got '{args.shard}'")
        shard = (int(m[1]), int(m[2]))
    llm = LLMOptions(model=args.model, backend=args.backend, ttt=args.ttt, ttt_steps=args.ttt_steps,
                     ttt_lr=args.ttt_lr, ttt_rank=args.ttt_rank, views=args.views, threshold=args.threshold,
                     max_prompt_tokens=args.max_prompt_tokens, device=args.device)
    cfg = SolveConfig(
        dataset=args.dataset,
        solvers=[s for s in args.solver.split(",") if s],
        budget_s=args.budget,
        task_time_s=args.task_time,
        workers=args.workers or default_workers(args),
        gpus=args.gpus,
        model_workers=args.model_workers,
        dsl_first=args.dsl_first,
        shard=shard,
        llm=llm,
        dtype=args.dtype,
        role_swap=args.role_swap,
        tasknet=TaskNetOptions(preset=args.tasknet_preset, views=args.tasknet_views, steps=args.tasknet_steps,
                               batch_tokens=args.tasknet_batch_tokens, train_time_s=args.tasknet_train_time,
                               train_share=args.tasknet_train_share, run_share=args.tasknet_run_share,
                               lr=args.tasknet_lr, rank=args.tasknet_rank,
                               optimizer=args.tasknet_optimizer, init=args.tasknet_init,
                               threshold=args.tasknet_threshold, compile=args.tasknet_compile,
                               data=[d for d in args.tasknet_data.split(",") if d]),
    )
    if args.ray:
        from arcforge.cluster import solve_on_ray

        summary = solve_on_ray(tasks, cfg, Path(args.out), args.ray, args.ray_shards, dataset=args.dataset,
                               progress=not args.quiet)
    else:
        summary = run_solve(tasks, cfg, Path(args.out), progress=not args.quiet)
    print(json.dumps(summary))
    where = f"submission: {Path(args.out) / 'submission.json'}"
    if "score" in summary:
        print(f"pass@2 {summary['score']:.2%} on {summary['tasks']} tasks "
              f"({summary['tasks_solved']} fully solved) in {summary['seconds']:.0f}s; {where}")
    else:
        print(f"{summary['finished']} of {summary['tasks']} tasks finished in {summary['seconds']:.0f}s "
              f"(no solutions known, so no score); {where}")
    return 0


def cmd_combine(args) -> int:
    from arcforge.datasets import load_tasks
    from arcforge.pipeline import combine_runs, run_meta

    runs = [Path(r) for r in args.runs]
    dataset = args.dataset
    if dataset is None:
        if not (runs[0] / "run.json").is_file():
            raise ArcError(f"{runs[0]}: not a solve run folder (no run.json); pass --dataset")
        dataset = run_meta(runs[0])["dataset"]
    summary = combine_runs(runs, load_tasks(dataset, solutions=args.solutions), Path(args.out), dataset)
    print(json.dumps(summary))
    return 0


def cmd_score(args) -> int:
    from arcforge.datasets import load_tasks
    from arcforge.submission import read_submission, score_attempts

    if args.solutions and args.dataset:
        raise ArcError("score takes --solutions FILE or --dataset NAME, not both")
    dataset = args.dataset
    if Path(args.submission).is_dir():  # a run folder: its dataset unless told otherwise
        from arcforge.pipeline import run_meta

        if not (args.solutions or dataset):
            dataset = run_meta(Path(args.submission))["dataset"]
        args.submission = str(Path(args.submission) / "submission.json")
    if not (args.solutions or dataset):
        raise ArcError("score needs --solutions FILE or --dataset NAME for a submission file")
    attempts = read_submission(Path(args.submission))
    if dataset:
        tasks = load_tasks(dataset)
    else:
        from arcforge.datasets import load_solutions
        from arcforge.task import Example, Task

        sols = load_solutions(Path(args.solutions))
        # a solutions file alone has no inputs; scoring needs only the outputs
        tasks = [Task(tid, (), tuple(Example(g, g) for g in grids)) for tid, grids in sols.items()]
    by_id = {t.id: t for t in tasks}
    unknown = [tid for tid in attempts if tid not in by_id]
    if unknown:
        raise ArcError(f"{args.submission}: task '{unknown[0]}' is not in {dataset or args.solutions}")
    whole = len(tasks)
    if not args.all:  # what the submission covers
        tasks = [by_id[tid] for tid in attempts]
    score = score_attempts(attempts, tasks, args.submission)
    scope = (f"all {whole} tasks of {dataset or args.solutions}" if args.all else
             f"the {len(tasks)} tasks in the submission, of {whole} in {dataset or args.solutions}"
             + ("" if len(tasks) == whole else "; --all scores every task"))
    if args.json:
        print(json.dumps({"score": score.total, "tasks": len(tasks), "tasks_solved": score.tasks_solved,
                          "per_task": score.per_task}))
    else:
        for tid, v in score.per_task.items():
            print(f"{tid}  {v:.3f}")
        print(f"pass@2 {score.total:.4f} ({score.total:.2%}), {score.tasks_solved} fully solved, over {scope}")
    return 0


def cmd_show(args) -> int:
    from arcforge.datasets import find_task, load_tasks
    from arcforge.report import task_text

    if args.dataset and Path(args.dataset).exists():
        task = load_tasks(args.dataset, [args.task_id])[0]
    else:
        task = find_task(args.task_id, args.dataset)
    if args.png:
        from arcforge.report import task_image, write_png

        image = task_image(task)
        write_png(args.png, image)
        print(f"wrote {args.png} ({image.shape[1]}x{image.shape[0]})")
        return 0
    colour = not args.no_colour and sys.stdout.isatty() or args.colour
    print(task_text(task, colour=colour))
    return 0


def cmd_report(args) -> int:
    from arcforge.datasets import load_tasks
    from arcforge.pipeline import RESULTS, read_results, run_meta
    from arcforge.report import run_report_html, task_status
    from arcforge.submission import atomic_write_text

    run = Path(args.run)
    dataset = run_meta(run)["dataset"]
    records = read_results(run / RESULTS)
    if not records:
        raise ArcError(f"{run}: no finished tasks in {RESULTS}")
    tasks = [t for t in load_tasks(dataset) if t.id in records]
    shown = [t for t in tasks if not args.unsolved or task_status(records[t.id]) != "solved"]
    out = Path(args.out) if args.out else run / "report.html"
    atomic_write_text(out, run_report_html(tasks, records, f"arcforge run {run.name} on {dataset}",
                                           unsolved_only=args.unsolved))
    print(f"wrote {out} ({len(shown)} tasks)")
    return 0


def cmd_datasets(args) -> int:
    from arcforge.datasets import dataset_names, load_tasks, removed_from_arc2_train

    print(f"{'name':<18} {'tasks':>6} {'test inputs':>12}")
    for name in dataset_names():
        tasks = load_tasks(name)
        print(f"{name:<18} {len(tasks):>6} {sum(len(t.test) for t in tasks):>12}")
    print(f"arc2/train-clean drops {len(removed_from_arc2_train())} arc2/train tasks that overlap arc1/eval")
    return 0


def cmd_wheelhouse(args) -> int:
    from arcforge.wheelhouse import build

    extras = tuple(e for e in args.extras.split(",") if e)
    wheels = build(Path(args.dir), args.python, args.platform, extras)
    print(f"{len(wheels)} wheels in {args.dir}; offline: pip install --no-index --find-links {args.dir} "
          f"{'arcforge[' + ','.join(extras) + ']' if extras else 'arcforge'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from importlib.metadata import PackageNotFoundError, version

    p = Parser(prog="arcforge", description="ARC-AGI solver toolkit")
    try:
        p.add_argument("--version", action="version", version=f"arcforge {version('arcforge')}")
    except PackageNotFoundError:  # run from a source tree that was never installed
        p.add_argument("--version", action="version", version="arcforge (not installed)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("solve", help="solve a dataset and write results.jsonl and submission.json")
    s.add_argument("dataset", help="arc1/train, arc1/eval, arc2/train, arc2/eval, arc2/train-clean, or a path")
    s.add_argument("--out", required=True, help="run folder (resumes if it exists)")
    s.add_argument("--solver",
                   help="comma-separated solvers: dsl, llm, transforms, tasknet (default: dsl,tasknet where "
                        "the model solvers get a GPU, dsl,llm on a CPU)")
    s.add_argument("--shard", metavar="I/K", help="only every K-th task starting at I (0-based), e.g. 0/4")
    s.add_argument("--ray", metavar="ADDRESS",
                   help="solve in shards on a Ray cluster (auto, HOST:PORT, or local) and combine them (cluster.py)")
    s.add_argument("--ray-shards", type=number(int, 1), help="shards for --ray (default: one per Ray node)")
    s.add_argument("--tasks", help="only these task ids, comma-separated")
    s.add_argument("--limit", type=number(int, 1), help="only the first N tasks")
    s.add_argument("--solutions", help="Kaggle solutions file for a challenges file")
    s.add_argument("--budget", type=duration, help="wall-clock budget for the run, e.g. 30m, 12h")
    s.add_argument("--task-time", type=duration, help="each solver's time limit per task, e.g. 30s (default: the solver's own: "
                                       "dsl 8s; llm 6s on a CPU, 60s on a GPU; transforms none)")
    s.add_argument("--workers", type=number(int, 1), default=0,
                   help="CPU worker processes (default: one per core, less the model workers on GPUs)")
    s.add_argument("--gpus", type=number(int, 0), help="GPUs for the model solvers (default: every visible one; 0: the CPU)")
    s.add_argument("--model-workers", type=number(int, 1),
                   help="model worker processes per GPU (default 8: a small model's decoding is launch-bound; "
                        "1 on a CPU)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    g = s.add_argument_group("LLM solver (--solver ...,llm)")
    g.add_argument("--model", help="HF id, folder or model shape (default: the model shipped in the package)")
    g.add_argument("--backend", choices=["unsloth", "transformers"], help="default: unsloth if installed and on GPU")
    g.add_argument("--device", type=device, help="cpu, cuda or cuda:N (default: cuda when available)")
    g.add_argument("--ttt", choices=["off", "per-task", "joint"],
                   help="test-time training (default: per-task on a GPU, off on a CPU)")
    g.add_argument("--ttt-steps", type=number(int, 0), help="test-time training steps per task (default 32)")
    g.add_argument("--ttt-lr", type=number(float, 0, above=True), default=1e-4, help="test-time training learning rate")
    g.add_argument("--ttt-rank", type=number(int, 0), default=32, help="LoRA rank for test-time training")
    g.add_argument("--views", type=number(int, 1), help="augmented views for decoding and scoring (default: 8 GPU, 2 CPU)")
    g.add_argument("--threshold", type=number(float, 0, 1, above=True),
                   help="DFS probability threshold (default: 0.1 GPU, 0.2 CPU)")
    g.add_argument("--max-prompt-tokens", type=number(int, 1),
                   help="leave tasks with longer prompts to the other solvers (default: 8192 GPU, 2048 CPU)")
    t = s.add_argument_group("tasknet solver (--solver ...,tasknet; work in progress: see README)")
    t.add_argument("--tasknet-preset", choices=list(PRESETS), default="small", help="model size")
    t.add_argument("--tasknet-views", type=number(int, 1, 64), default=32,
                   help="views per task, each its own embedding (default 32)")
    t.add_argument("--tasknet-data", default="arc1/train,arc2/train-clean",
                   help="training sets beside the run's demonstrations; gen:ID:N adds N generated tasks of ID's family")
    t.add_argument("--tasknet-steps", type=number(int, 1), help="train this many steps (default: by time)")
    t.add_argument("--tasknet-batch-tokens", type=number(int, 64),
                   help="tokens per training step (default: 65536 on a GPU, 8192 on a CPU)")
    t.add_argument("--tasknet-train-time", type=duration, default=600.0,
                   help="training time when the run has no --budget (default 10m)")
    t.add_argument("--tasknet-train-share", type=number(float, 0, 1, above=True), default=0.9,
                   help="with --budget: the share of what is left at preparation that training gets (default 0.9)")
    t.add_argument("--tasknet-run-share", type=number(float, 0, 1), default=0.3,
                   help="share of training rows drawn from the run's own demonstrations (default 0.3)")
    t.add_argument("--tasknet-threshold", type=number(float, 0, 1, above=True),
                   help="write every answer of at least this probability under each view (DFS); default greedy")
    t.add_argument("--tasknet-rank", choices=["poe", "votes"], default="poe",
                   help="order answers by their product of probabilities under all views, or by votes")
    t.add_argument("--tasknet-lr", type=number(float, 0, above=True), default=1e-3, help="AdamW's peak learning rate")
    t.add_argument("--tasknet-optimizer", choices=["adamw", "muon"], default="muon",
                   help="muon (default): Muon for the blocks' weight matrices, AdamW for the rest; adamw: AdamW for all")
    t.add_argument("--tasknet-compile", action="store_true",
                   help="torch.compile the model for training (batches padded to one shape; the compile "
                        "takes its time at the first step)")
    t.add_argument("--tasknet-init", help="start from this trained tasknet (a run's prepared/tasknet/checkpoint.pt)")
    s.add_argument("--dtype", choices=["auto", "bf16", "fp16", "fp32"], default="auto",
                   help="what the model solvers compute in (default auto: bf16 on GPUs that have it, fp16 with "
                        "loss scaling on those that don't, fp32 on a CPU)")
    g.add_argument("--dsl-first", action=argparse.BooleanOptionalAction, default=None,
                   help="skip the LLM on tasks the DSL explains (default: on for a CPU, off for a GPU)")
    s.add_argument("--role-swap", type=number(float, 0), metavar="NATS",
                   help="role-swap selection stage: the LLM puts each of a test input's best candidates in "
                        "as a demonstration and re-predicts every train pair; a candidate that lowers their "
                        "mean log-prob by more than NATS below the best candidate's is dropped (default: off)")
    s.set_defaults(fn=cmd_solve)

    s = sub.add_parser("combine", help="one run from several (solvers run apart, shards): selection over all")
    s.add_argument("runs", nargs="+", help="solve run folders, highest priority first")
    s.add_argument("--out", required=True, help="the combined run folder")
    s.add_argument("--dataset", help="the runs' dataset (default: the first run's)")
    s.add_argument("--solutions", help="Kaggle solutions file for a challenges file")
    s.set_defaults(fn=cmd_combine)

    s = sub.add_parser("score", help="pass@2 of a Kaggle submission")
    s.add_argument("submission", help="submission.json, or a run folder")
    s.add_argument("--solutions", help="Kaggle solutions file")
    s.add_argument("--dataset", help="named dataset or task path with known test outputs (default: a run's own)")
    s.add_argument("--all", action="store_true",
                   help="score every task of the dataset (missing ones count 0), not only the submission's")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(fn=cmd_score)

    s = sub.add_parser("show", help="draw a task's grids in the terminal")
    s.add_argument("task_id")
    s.add_argument("--dataset", help="where to look (default: all named sets)")
    s.add_argument("--colour", "--color", action="store_true", help="colour even when not a terminal")
    s.add_argument("--no-colour", "--no-color", action="store_true")
    s.add_argument("--png", metavar="FILE", help="draw the task into a PNG file instead")
    s.set_defaults(fn=cmd_show)

    s = sub.add_parser("report", help="an HTML page of a run: every task, candidate and truth as pictures")
    s.add_argument("run", help="a solve run folder")
    s.add_argument("--out", help="HTML file (default RUN/report.html)")
    s.add_argument("--unsolved", action="store_true", help="only tasks not fully solved")
    s.set_defaults(fn=cmd_report)

    s = sub.add_parser("datasets", help="list the named datasets")
    s.set_defaults(fn=cmd_datasets)

    s = sub.add_parser("wheelhouse", help="arcforge and every wheel it needs in DIR, for installing offline (Kaggle)")
    s.add_argument("dir", help="the folder to fill")
    s.add_argument("--python", help="Python version of the target, e.g. 3.11 (Kaggle's; default: this one)")
    s.add_argument("--platform", help="pip platform tag, e.g. manylinux2014_x86_64 (Kaggle's; default: this machine)")
    s.add_argument("--extras", default="", help="arcforge's extras to include, e.g. llm (torch, transformers, ...)")
    s.set_defaults(fn=cmd_wheelhouse)
    from arcforge.llm.train_cli import register as register_train
    register_train(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet = getattr(args, "quiet", False)
    if quiet:  # transformers' own bars too (read when it is imported, also by workers)
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
        os.environ[QUIET] = "1"  # arcforge's own progress, in this process and its workers
    elif not sys.stderr.isatty():  # a log or a notebook: arcforge's lines, not the model loaders' bars
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        return args.fn(args)
    except ArcError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as other Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
