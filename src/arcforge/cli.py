"""The `arcforge` command: solve, combine, score, show, report, datasets, wheelhouse, train.

`solve` and `train` take their settings from dataclasses (SolveCommand here, llm/train_cli.py's
TrainCommand) through arcforge.options; the other commands are plain argparse."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

from tyro.conf import arg

from arcforge import options
from arcforge.errors import ArcError
from arcforge.options import Commas, Range
from arcforge.pipeline import SolveConfig
from arcforge.progress import quiet_env


class Parser(argparse.ArgumentParser):
    """argparse with the project's errors: one line, exit status 2."""

    def error(self, message: str):
        print(f"error: {self.prog}: {message}", file=sys.stderr)
        sys.exit(2)


@dataclass(kw_only=True)
class SolveCommand(SolveConfig):
    """Solve a dataset: results.jsonl and submission.json in --out. Every setting can also come from a
    TOML file (--config); flags override it."""

    out: str
    """run folder (resumes if it exists)"""
    solvers: Annotated[list[str] | None, arg(name="solver"), Commas] = None
    """comma-separated solvers: dsl, llm, transforms, tasknet (None: dsl,tasknet where the model solvers
    get a GPU, dsl,llm on a CPU)"""
    workers: Annotated[int | None, Range(1)] = None
    """CPU worker processes (None: one per core, less the model workers on GPUs)"""
    config: str | None = None
    """TOML file of these settings (top-level keys or a [solve] table; [llm] and [tasknet] tables);
    flags override it"""
    tasks: Annotated[list[str] | None, Commas] = None
    """only these task ids, comma-separated"""
    limit: Annotated[int | None, Range(1)] = None
    """only the first N tasks"""
    solutions: str | None = None
    """Kaggle solutions file for a challenges file"""
    ray: str | None = None
    """solve in shards on a Ray cluster (auto, HOST:PORT, or local) and combine them (cluster.py)"""
    ray_shards: Annotated[int | None, Range(1)] = None
    """shards for --ray (None: one per Ray node)"""
    quiet: bool = False
    """no progress bar"""


def default_solvers(cmd: SolveCommand) -> list[str]:
    """The solvers a run gets without --solver: where the model solvers get a GPU, the DSL and the
    tasknet (arc1/eval, one H200: the DSL's run combined with a 10-minute tasknet run, 37.63%, against
    27.38% for dsl,llm); on a CPU (`make demo`) the DSL and the shipped language model."""
    if cmd.llm.device == "cpu" or cmd.gpus == 0:
        return ["dsl", "llm"]
    try:
        from arcforge.pipeline import visible_gpus

        return ["dsl", "tasknet"] if visible_gpus() else ["dsl", "llm"]
    except ImportError:  # no torch here: no GPU solver either
        return ["dsl", "llm"]


def default_workers(cmd: SolveCommand) -> int:
    """One CPU worker per core, less the cores that model workers on GPUs keep busy feeding them (the
    LLM's decoding workers; the tasknet's one training process per GPU, whose small steps are
    launch-bound)."""
    cores = os.cpu_count() or 1
    solvers = set(cmd.solvers)
    if not solvers & {"llm", "tasknet"} or cmd.llm.device == "cpu" or cmd.gpus == 0:
        return cores
    from arcforge.pipeline import MODEL_WORKERS_PER_GPU, visible_gpus

    gpus = len(visible_gpus()) if cmd.gpus is None else cmd.gpus
    per_gpu = (cmd.model_workers or MODEL_WORKERS_PER_GPU) if "llm" in solvers else 1
    return max(1, cores - gpus * per_gpu)


def solve_settings(argv: list[str]) -> SolveCommand:
    """`arcforge solve`'s settings from its arguments (and --config), with the machine's defaults filled in."""
    cmd = options.parse(SolveCommand, argv, "arcforge solve", "solve")
    cmd = replace(cmd, solvers=cmd.solvers or default_solvers(cmd))
    return replace(cmd, workers=cmd.workers or default_workers(cmd))


def cmd_solve(argv: list[str]) -> int:
    from arcforge.datasets import load_tasks
    from arcforge.pipeline import run_solve
    from arcforge.tasknet.config import check_data

    cmd = solve_settings(argv)
    quiet_env(cmd.quiet)
    tasks = load_tasks(cmd.dataset, cmd.tasks, cmd.limit, cmd.solutions)
    if "tasknet" in cmd.solvers:
        check_data(cmd.tasknet.data)
        if cmd.tasknet.init and not Path(cmd.tasknet.init).is_file():
            raise ArcError(f"--tasknet.init: {cmd.tasknet.init}: no such file")
    cfg = options.base_settings(cmd, SolveConfig)
    if cmd.ray:
        from arcforge.cluster import solve_on_ray

        summary = solve_on_ray(tasks, cfg, Path(cmd.out), cmd.ray, cmd.ray_shards, dataset=cmd.dataset,
                               progress=not cmd.quiet)
    else:
        summary = run_solve(tasks, cfg, Path(cmd.out), progress=not cmd.quiet)
    print(json.dumps(summary))
    where = f"submission: {Path(cmd.out) / 'submission.json'}"
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

    # solve and train read their own arguments (main); these entries list them in --help
    sub.add_parser("solve", help="solve a dataset and write results.jsonl and submission.json "
                   "(arcforge solve --help: its settings)")

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
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in ("solve", "train"):  # their settings are dataclasses (arcforge.options)
            from arcforge.llm.train_cli import cmd_train

            return (cmd_solve if argv[0] == "solve" else cmd_train)(argv[1:])
        args = build_parser().parse_args(argv)
        quiet_env(getattr(args, "quiet", False))
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
