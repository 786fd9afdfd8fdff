"""Types for command-line options: numbers in a range, durations, devices. Each rejects bad text with
a message argparse prints on one line (cli.Parser) before anything starts."""

from __future__ import annotations

import argparse
import math
import re

from arcforge.errors import ArcError, parse_duration


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


def duration(text: str) -> float:
    """An argparse type: a positive duration (90s, 30m, 12h)."""
    try:
        seconds = parse_duration(text)
    except ArcError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be longer than 0, got '{text}'")
    return seconds


def device(text: str) -> str:
    """An argparse type: cpu, cuda or cuda:N."""
    if not re.fullmatch(r"cpu|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"use cpu, cuda or cuda:N, got '{text}'")
    return text
