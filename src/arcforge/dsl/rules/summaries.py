"""Whole-grid summaries: one pixel per separator cell (`fit_cell_summary`), separator cells kept or
filled with one colour by a fact about them (`fit_part_fill`), and repeated outputs looked up by a
fact about the input (`fit_output_lookup`).

Only train pairs and test inputs are read.
"""

from __future__ import annotations

import numpy as np

from arcforge.dsl import objects as ob
from arcforge.dsl.fitting import fitted
from arcforge.dsl.rules.common import I8, KEEP, OWN, fit_table, part_boxes, part_grid
from arcforge.grid import Grid


def _grid_facts(g: Grid) -> dict:
    counts = np.bincount(g.ravel(), minlength=10)
    nz = counts[1:]
    facts = {
        "main_colour": int(np.argmax(nz) + 1) if nz.any() else 0,
        "n_colours": int((nz > 0).sum()),
        "n_cells": int(nz.sum()),
        "n_objects": len(ob.objects(g, True, False)),
        "n_objects4c": len(ob.objects(g, False, True)),
        "sym_lr": bool((g == g[:, ::-1]).all()),
        "sym_ud": bool((g == g[::-1]).all()),
    }
    if nz.any():
        facts["least_colour"] = int(np.argmin(np.where(nz > 0, nz, 10 ** 6)) + 1)
    return facts


@fitted(order=29, sure=False)
def fit_output_lookup(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Tasks whose outputs repeat: the output as a table of one fact about the input (its main colour,
    number of colours or objects, a symmetry, ...)."""
    keys = [bytes(b.shape) + b.tobytes() for b in outputs]
    if len(set(keys)) >= len(keys):
        return []
    tr_f = [_grid_facts(a) for a in inputs]
    te_f = [_grid_facts(t) for t in tests]
    found = []
    for i, k in enumerate(tr_f[0]):
        if any(k not in f for f in tr_f + te_f):
            continue
        table: dict = {}
        if any(table.setdefault(f[k], key) != key for f, key in zip(tr_f, keys, strict=False)):
            continue
        if len(table) < 2 or any(f[k] not in table for f in te_f):
            continue
        by_key = dict(zip(keys, outputs, strict=False))
        found.append((i, f"lookup[{k}]", [by_key[table[f[k]]].copy() for f in te_f]))
    return found


def _part_facts(p: Grid) -> dict:
    counts = np.bincount(p.ravel(), minlength=10)
    f = {"n_cells": int(counts[1:].sum()), "n_colours": int((counts[1:] > 0).sum()),
         "main_colour": int(np.argmax(counts[1:]) + 1) if counts[1:].any() else 0}
    for c in range(1, 10):
        f[f"count_c{c}"] = int(counts[c])
    return f


def _ranked_part_facts(parts: list[Grid]) -> list[dict]:
    """_part_facts of each cell of one grid, with the rank of its count of non-zero cells among them
    (0 = the most; cells with equal counts share a rank) and whether it has the most or the fewest."""
    facts = [_part_facts(p) for p in parts]
    counts = sorted({f["n_cells"] for f in facts}, reverse=True)
    for f in facts:
        f["count_rank"] = counts.index(f["n_cells"])
        f["most_cells"] = f["n_cells"] == counts[0]
        f["fewest_cells"] = f["n_cells"] == counts[-1]
    return facts


@fitted(order=12)
def fit_part_fill(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Grids cut into cells by separator lines, each cell in the output either kept or filled with one
    colour, chosen by a table of one fact about the cell (as in fit_cell_summary)."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=False)):
        return []
    tr_l = [part_boxes(a) for a in inputs]
    te_l = [part_boxes(t) for t in tests]
    if any(lay is None for lay in tr_l + te_l):
        return []
    tr = []
    for a, b, boxes in zip(inputs, outputs, tr_l, strict=False):
        inside = np.zeros(a.shape, bool)
        for box, facts in zip(boxes, _ranked_part_facts([a[box] for box in boxes]), strict=True):
            inside[box] = True
            got = np.unique(b[box])
            label = {int(got[0])} if len(got) == 1 else set()  # painted one colour, and/or kept
            if len(got) == 1 and got[0] == facts["main_colour"] != 0:
                label.add(OWN)
            if np.array_equal(a[box], b[box]):
                label.add(KEEP)
            tr.append((facts, label))
        if (a[~inside] != b[~inside]).any():
            return []
    if any(not lab for _, lab in tr) or all(KEEP in lab for _, lab in tr):
        return []
    te = [_ranked_part_facts([t[box] for box in boxes]) for t, boxes in zip(tests, te_l, strict=False)]
    found = []
    for k in tr[0][0]:
        table = fit_table([f[k] for f, _ in tr], [lab for _, lab in tr])
        if table is None or any(f[k] not in table for fs in te for f in fs):
            continue
        preds = []
        for t, boxes, fs in zip(tests, te_l, te, strict=False):
            out = t.copy()
            for box, f in zip(boxes, fs, strict=False):
                if table[f[k]] == OWN:
                    out[box] = f["main_colour"]
                elif table[f[k]] != KEEP:
                    out[box] = table[f[k]]
            preds.append(out)
        found.append((len(table), f"part_fill[{k}]", preds))
    found.sort(key=lambda f: f[0])
    return found


@fitted(order=16)
def fit_cell_summary(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Grids cut into cells by separator lines whose output has one pixel per cell: the pixel as a
    table of one fact about the cell (count of non-zero cells, main colour, number of colours, ...)."""
    tr_l = [part_grid(a) for a in inputs]
    te_l = [part_grid(t) for t in tests]
    if any(lay is None for lay in tr_l + te_l):
        return []
    if any((len(lay), len(lay[0])) != b.shape for lay, b in zip(tr_l, outputs, strict=False)):
        return []

    tr = [(_part_facts(p), int(b[i, j])) for lay, b in zip(tr_l, outputs, strict=False)
          for i, row in enumerate(lay) for j, p in enumerate(row)]
    te = [[[_part_facts(p) for p in row] for row in lay] for lay in te_l]
    found = []
    for r, k in enumerate(tr[0][0]):
        table: dict = {}
        if any(table.setdefault(f[k], v) != v for f, v in tr):
            continue
        if len(set(table.values())) < 2 or any(f[k] not in table for lay in te for row in lay for f in row):
            continue
        preds = [np.array([[table[f[k]] for f in row] for row in lay], dtype=I8) for lay in te]
        found.append((r, f"cell_summary[{k}]", preds))
    return found
