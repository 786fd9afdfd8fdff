"""The registry of generators and the functions that build fresh tasks from them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from arcforge.errors import ArcError
from arcforge.grid import Grid, grid_key, is_valid
from arcforge.task import Example, Task


class Reject(Exception):
    """Raised by a generator's input maker or program when a drawn input does not suit the rule
    (e.g. the rule would be ambiguous); the pair is drawn again."""


@dataclass(frozen=True)
class Generator:
    task_id: str  # the real task whose rule this is
    make_input: Callable[[np.random.Generator], Grid]
    program: Callable[[Grid], Grid]
    source: str = "arc1/train"  # the dataset holding task_id
    identity_ok: bool = False  # the real task has pairs whose output equals the input


_REGISTRY: dict[str, Generator] = {}


def register(task_id: str, make_input: Callable, source: str = "arc1/train", identity_ok: bool = False):
    """Decorator on a program: `@register("6150a2bd", lambda rng: ...)`."""

    def wrap(program):
        if task_id in _REGISTRY:
            raise ValueError(f"generator for '{task_id}' registered twice")
        _REGISTRY[task_id] = Generator(task_id, make_input, program, source, identity_ok)
        return program

    return wrap


def generator_ids() -> list[str]:
    """The ids of the tasks that have a generator, sorted."""
    return sorted(_REGISTRY)


def get_generator(task_id: str) -> Generator:
    try:
        return _REGISTRY[task_id]
    except KeyError:
        raise ArcError(f"no generator for task '{task_id}'") from None


def generate_pair(gen: Generator | str, rng: np.random.Generator, tries: int = 200) -> Example:
    """One fresh (input, output) pair of a generator; inputs the rule does not suit are drawn again."""
    if isinstance(gen, str):
        gen = get_generator(gen)
    for _ in range(tries):
        try:
            inp = gen.make_input(rng)
            if not is_valid(inp) or (inp == inp.flat[0]).all():  # a blank input shows no rule
                continue
            inp = np.ascontiguousarray(inp, dtype=np.int8)
            out = gen.program(inp.copy())
        except Reject:
            continue
        if not is_valid(out):
            continue
        out = np.ascontiguousarray(out, dtype=np.int8)
        if not gen.identity_ok and out.shape == inp.shape and np.array_equal(out, inp):
            continue
        return Example(inp, out)
    raise ArcError(f"generator '{gen.task_id}' found no valid pair in {tries} tries")


def generate_task(task_id: str, rng: np.random.Generator, n_train: int = 3, n_test: int = 1) -> Task:
    """A fresh task of the family of `task_id`: n_train train pairs and n_test test pairs (outputs
    known), all with distinct inputs. Deterministic given the state of `rng`."""
    gen = get_generator(task_id)
    seen: set[bytes] = set()
    exs: list[Example] = []
    for _ in range(20 * (n_train + n_test)):
        ex = generate_pair(gen, rng)
        key = grid_key(ex.input)
        if key in seen:
            continue
        seen.add(key)
        exs.append(ex)
        if len(exs) == n_train + n_test:
            return Task(f"gen-{task_id}", tuple(exs[:n_train]), tuple(exs[n_train:]))
    raise ArcError(f"generator '{task_id}' repeats its inputs")
