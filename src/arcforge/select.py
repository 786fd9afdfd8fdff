"""Merge candidates from every solver and keep the best two attempts per test input."""

from __future__ import annotations

from arcforge.grid import Grid, grid_key
from arcforge.solver import Candidate


def merge(per_solver: list[list[list[Candidate]]], n_test: int) -> list[list[Candidate]]:
    """Concatenate solvers' candidates per test input, in solver order, dropping repeated grids
    (a grid keeps its first, i.e. best-placed, candidate)."""
    merged: list[list[Candidate]] = [[] for _ in range(n_test)]
    for i in range(n_test):
        seen = set()
        for cands in per_solver:
            for c in cands[i] if i < len(cands) else []:
                k = grid_key(c.grid)
                if k not in seen:
                    seen.add(k)
                    merged[i].append(c)
    return merged


def top_attempts(candidates: list[list[Candidate]], k: int = 2) -> list[list[Grid]]:
    return [[c.grid for c in cands[:k]] for cands in candidates]
