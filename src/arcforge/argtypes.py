"""An argparse type for the plain argparse commands (export-model, export-checkpoint): numbers in a range.
(solve and train type their settings in dataclasses: arcforge.options, whose Range bounds both.)"""

from __future__ import annotations

import argparse

from arcforge.options import Range


def number(kind: type, low: float | None = None, high: float | None = None, above: bool = False):
    """An argparse type: an int or float within [low, high] (above=True: strictly above low)."""
    bounds = Range(low, high, above)

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got '{text}'") from None
        problem = bounds.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value
    return parse
