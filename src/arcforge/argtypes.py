"""An argparse type for the plain argparse commands (export-model, export-checkpoint): numbers in a range.
(solve and train type their settings in dataclasses: arcforge.options.)"""

from __future__ import annotations

import argparse
import math


def number(kind: type, low: float | None = None, high: float | None = None, above: bool = False):
    """An argparse type: an int or float within [low, high] (above=True: strictly above low)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got '{text}'") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if (low is not None and (value < low or (above and value == low))) or (
                high is not None and value > high):
            rng = (f"above {low}" if above else f"at least {low}") if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"must be {rng}, got {text}")
        return value
    return parse
