"""Task generators ("re-ARC" style): for a training task family, a random input maker and the
family's rule as a program, so that training can see fresh instances of a task instead of the same
few pairs again and again.

    from arcforge.generators import generate_task, generator_ids
    task = generate_task("6150a2bd", np.random.default_rng(0), n_train=3)

Each generator is keyed by the id of the real task it was written for (arc1/train here); its program
reproduces every train and test pair of that task exactly (tests/test_generators.py checks it). Pure
numpy; nothing here knows of the DSL or of models.
"""

from __future__ import annotations

from arcforge.generators import colours, geometry, objects, patterns  # noqa: F401  (registers)
from arcforge.generators._registry import (
    Generator,
    Reject,
    generate_pair,
    generate_task,
    generator_ids,
    get_generator,
)

__all__ = ["Generator", "Reject", "generate_pair", "generate_task", "generator_ids", "get_generator"]
