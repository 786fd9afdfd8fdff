"""The named transforms the search composes, instantiated for one task (its colours and size ratios)."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np

from arcforge.dsl import lines
from arcforge.dsl import objects as ob
from arcforge.dsl import primitives as p
from arcforge.dsl.fitting import explaining, fitted
from arcforge.grid import Grid
from arcforge.task import Task

Transform = tuple[str, Callable[[Grid], Grid | None]]


def _colours(grids) -> list[int]:
    seen = np.zeros(10, bool)
    for g in grids:
        seen[np.unique(g)] = True
    return [int(c) for c in np.flatnonzero(seen)]


def ratios(task: Task) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """Integer (output / input) and (input / output) shape ratios seen in every train pair."""
    ups, downs = None, None
    for ex in task.train:
        (hi, wi), (ho, wo) = ex.input.shape, ex.output.shape
        u = {(ho // hi, wo // wi)} if ho % hi == 0 and wo % wi == 0 else set()
        d = {(hi // ho, wi // wo)} if hi % ho == 0 and wi % wo == 0 else set()
        ups = u if ups is None else ups & u
        downs = d if downs is None else downs & d
    return (ups or set()) - {(1, 1)}, (downs or set()) - {(1, 1)}


def target_sizes(task: Task) -> list[tuple[str, Callable[[Grid], tuple[int, int] | None]]]:
    """Output shapes as functions of the input's shape, when every train pair agrees: one fixed shape,
    or a fixed (possibly fractional) scale of each side."""
    ins = [ex.input.shape for ex in task.train]
    outs = [ex.output.shape for ex in task.train]
    rules = []
    if len(set(outs)) == 1 and outs[0] not in ins:
        rules.append((f"{outs[0][0]}x{outs[0][1]}", lambda s, o=outs[0]: o))
    fy = {Fraction(o[0], i[0]) for i, o in zip(ins, outs, strict=False)}
    fx = {Fraction(o[1], i[1]) for i, o in zip(ins, outs, strict=False)}
    if len(fy) == 1 and len(fx) == 1 and (fy | fx) != {1}:
        a, b = fy.pop(), fx.pop()

        def scaled(s, a=a, b=b):
            h, w = s[0] * a, s[1] * b
            return (int(h), int(w)) if h.denominator == 1 and w.denominator == 1 else None
        rules.append((f"x{a}x{b}".replace("/", "_"), scaled))
    return rules


def library(task: Task) -> list[Transform]:
    ins = [ex.input for ex in task.train] + [ex.input for ex in task.test]
    outs = [ex.output for ex in task.train]
    in_cols = _colours(ins)
    out_cols = [c for c in _colours(outs) if c]
    in_nz = [c for c in in_cols if c]
    new_cols = [c for c in out_cols if c not in in_cols] or out_cols
    ups, downs = ratios(task)
    T: list[Transform] = []
    add = lambda name, fn: T.append((name, fn))

    for name, fn in p.GEOMETRY.items():
        add(name, fn)
    add("crop", p.crop)
    add("crop_bg", p.crop_majority)
    add("drop_empty", p.drop_empty_lines)
    add("dedup", p.dedup_lines)
    add("strip_border", p.strip_border)
    add("pad_edge", p.pad_edge)
    for axis in (0, 1):
        for up in (True, False):
            add(f"shear{'xy'[axis]}_{'up' if up else 'down'}", lambda g, u=up, a=axis: p.shear(g, u, a))
    add("mirror_dividers", p.mirror_dividers)
    add("middle_row", lambda g: p.middle_line(g, 0))
    add("middle_col", lambda g: p.middle_line(g, 1))
    for which in ("top", "bottom", "left", "right"):
        add(f"half_{which}", lambda g, w=which: p.half(g, w))
    for vy in ("top", "bottom"):
        for vx in ("left", "right"):
            add(f"quarter_{vy}_{vx}", lambda g, vy=vy, vx=vx: None if (t := p.half(g, vy)) is None else p.half(t, vx))
    for c in in_nz:
        add(f"crop_c{c}", lambda g, c=c: p.crop_colour(g, c))
        add(f"inside_c{c}", lambda g, c=c: p.crop_inside_colour(g, c))
        add(f"keep_c{c}", lambda g, c=c: p.keep_colour(g, c))
        add(f"erase_c{c}", lambda g, c=c: p.erase_colour(g, c))
    for c in out_cols:
        add(f"paint_c{c}", lambda g, c=c: p.paint_nonzero(g, c))
        add(f"spiral_c{c}", lambda g, c=c: p.spiral(g, c))
    add("bg_to_0", p.erase_majority)
    add("most_colour", lambda g: p.colour_cell(g, True))
    add("least_colour", lambda g: p.colour_cell(g, False))
    add("swap2", p.swap_two)
    add("colour_rank", lambda g: p.colour_ranking(g, False))
    add("colour_rank_rest", lambda g: p.colour_ranking(g, True))
    add("cells_row", p.cells_row)

    for fy, fx in sorted(ups | {(2, 2), (3, 3)}):
        add(f"up{fy}x{fx}", lambda g, fy=fy, fx=fx: p.upscale(g, fy, fx))
    for fy, fx in sorted(downs | {(2, 2), (3, 3)}):
        add(f"down{fy}x{fx}", lambda g, fy=fy, fx=fx: p.downscale(g, fy, fx))
    for ny, nx in sorted(ups | {(1, 2), (2, 1), (2, 2)}):
        add(f"tile{ny}x{nx}", lambda g, ny=ny, nx=nx: p.tile(g, ny, nx))
    for how in ("h", "h2", "v", "v2", "q", "q2", "r"):
        add(f"mirror_{how}", lambda g, how=how: p.mirror_tile(g, how))
    add("kron", p.kron_self)
    add("kron_inv", lambda g: p.kron_self(g, True))
    add("kron_colour", p.kron_colour)
    add("kron_major", p.kron_majority)
    add("up_ncolours", p.upscale_by_colours)
    add("extend_rows", lambda g: p.extend_period(g, 0))
    add("extend_cols", lambda g: p.extend_period(g, 1))
    add("tile_rows", lambda g: p.extend_period(g, 0, True))
    add("tile_cols", lambda g: p.extend_period(g, 1, True))
    for sname, size in target_sizes(task):
        def cont(g, size=size):
            s = size(g.shape)
            return None if s is None else p.continue_pattern(g, *s)

        def place(g, size=size):
            s = size(g.shape)
            return None if s is None else p.canvas(g, *s)
        add(f"continue_{sname}", cont)
        add(f"canvas_{sname}", place)
    if ups:
        for c in in_nz:
            add(f"kron_c{c}", lambda g, c=c: p.kron_colour_mask(g, c))

    # holes to fill: colours the inputs show and the outputs never do (erased cells), or 0
    gone = [c for c in in_cols if c not in out_cols and c != 0] + [0]
    for hole in gone:
        for how in ("lr", "ud", "rot", "both", "diag", "d8"):
            add(f"sym_{how}_h{hole}", lambda g, how=how, hole=hole: p.symmetrize(g, how, hole))
        if hole != 0 or 0 not in _colours(outs):
            add(f"pattern_h{hole}", lambda g, hole=hole: p.pattern_fill(g, hole))
        add(f"sym_axes_h{hole}", lambda g, hole=hole: p.symmetrize_offset(g, hole))
        add(f"sym_centre_h{hole}", lambda g, hole=hole: p.symmetrize_centre(g, hole))
        add(f"sym_turns_h{hole}", lambda g, hole=hole: p.symmetrize_centre(g, hole, True))
        if hole != 0 or 0 not in _colours(outs):
            for fname, fill in (("pattern", lambda g, h=hole: p.pattern_fill(g, h)),
                                ("sym_axes", lambda g, h=hole: p.symmetrize_offset(g, h)),
                                ("sym_d8", lambda g, h=hole: p.symmetrize(g, "d8", h))):
                add(f"{fname}_crop_h{hole}", lambda g, f=fill, h=hole: p.crop_filled(g, f, h))

    for c in out_cols:
        add(f"fill_holes_c{c}", lambda g, c=c: p.fill_holes(g, c))
    for c in in_nz:
        add(f"flood_c{c}", lambda g, c=c: p.flood_from(g, c))
    add("row_majority", lambda g: p.line_majority(g, 1))
    add("col_majority", lambda g: p.line_majority(g, 0))
    add("stripe_majority", lambda g: p.line_majority(g, None))
    add("rings_reverse", lambda g: p.rings(g, "reverse"))
    add("rings_inward", lambda g: p.rings(g, "inward"))
    for c in new_cols:
        add(f"interior_c{c}", lambda g, c=c: p.interior(g, c))
        add(f"halo4_c{c}", lambda g, c=c: p.halo(g, c, False))
        add(f"halo8_c{c}", lambda g, c=c: p.halo(g, c, True))
        add(f"halox_c{c}", lambda g, c=c: p.halo(g, c, True, False))
    add("outline", p.outline)
    for c in new_cols:
        add(f"fill_boxes_c{c}", lambda g, c=c: p.fill_boxes(g, c))
        add(f"connect_hv_c{c}", lambda g, c=c: lines.connect(g, "hv", c))
        add(f"clear_spans_c{c}", lambda g, c=c: lines.clear_spans(g, c))
        for inset in (0, 1):
            add(f"bridge{inset}_c{c}", lambda g, c=c, i=inset: lines.bridge(g, c, i))
    add("fill_colour_boxes", p.fill_colour_boxes)
    for c in in_nz:
        for how in ("h", "v", "hv", "edge"):
            add(f"mirror_about_c{c}_{how}", lambda g, c=c, how=how: p.mirror_about(g, c, how))
    for c in in_nz:
        add(f"slide_c{c}", lambda g, c=c: p.slide(g, c, None))
        add(f"attract_c{c}", lambda g, c=c: p.attract(g, c))
        add(f"attract_paint_c{c}", lambda g, c=c: p.attract(g, c, True))

    for dirs in ("u", "d", "l", "r", "ud", "lr", "udlr"):
        add(f"ray_{dirs}", lambda g, dirs=dirs: lines.extend(g, dirs))
    for c in in_nz:
        add(f"ray_udlr_c{c}", lambda g, c=c: lines.extend(g, "udlr", c))
    add("ray_diag", lines.extend_diag)
    add("line_sequence", lines.line_sequence)
    add("extend_runs", lines.extend_runs)
    add("bounce", lines.bounce)
    add("segments_h_over", lambda g: lines.segments_to_lines(g, True))
    add("segments_v_over", lambda g: lines.segments_to_lines(g, False))
    for axes in ("hv", "h", "v"):
        add(f"connect_{axes}", lambda g, a=axes: lines.connect(g, a))
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        add(f"shift{dy:+d}{dx:+d}", lambda g, dy=dy, dx=dx: p.shift(g, dy, dx))
    for d in "udlr":
        add(f"gravity_{d}", lambda g, d=d: p.gravity(g, d))

    for diag in (False, True):
        for by_colour in (False, True):
            tag = ("8" if diag else "4") + ("c" if by_colour else "")
            for how in ob.SELECTORS:
                add(f"obj{tag}_{how}", lambda g, h=how, d=diag, b=by_colour: ob.pick(g, h, d, b))
            for how in ("largest", "smallest", "unique_colour", "unique_shape"):
                add(f"keep{tag}_{how}", lambda g, h=how, d=diag, b=by_colour: ob.keep_only(g, h, d, b))
                add(f"box{tag}_{how}", lambda g, h=how, d=diag, b=by_colour: ob.pick_box(g, h, d, b))
            for how in ("largest", "smallest"):
                add(f"remove{tag}_{how}", lambda g, h=how, d=diag, b=by_colour: ob.remove(g, h, d, b))
        add(f"despeck{int(diag)}", lambda g, d=diag: ob.remove_specks(g, 1, d))
        add(f"despeck2_{int(diag)}", lambda g, d=diag: ob.remove_specks(g, 2, d))
        add(f"size_rank{int(diag)}", lambda g, d=diag: ob.recolour_by_size(g, d))
        add(f"count{int(diag)}", lambda g, d=diag: ob.count_objects(g, d))

    add("cell_colours", ob.cell_colours)
    add("key_mask", ob.key_mask)
    splits = {"cells": ob.cells, "halves_v": lambda g: ob.equal_parts(g, 2, 0),
              "halves_h": lambda g: ob.equal_parts(g, 2, 1), "thirds_v": lambda g: ob.equal_parts(g, 3, 0),
              "thirds_h": lambda g: ob.equal_parts(g, 3, 1),
              "halves_long": lambda g: ob.equal_parts(g, 2, 0 if g.shape[0] > g.shape[1] else 1)}
    for sname, split in splits.items():
        for how in ("and", "or", "xor", "nor", "overlay", "underlay", "kron", "kron2", "kron_mask"):
            add(f"{sname}_{how}", lambda g, s=split, h=how: ob.combine(s(g), h))
        if sname == "cells":
            for how in ("odd", "most", "fewest", "most_colours", "fewest_colours"):
                add(f"cell_{how}", lambda g, h=how: ob.pick_cell(ob.cells(g), h))
    return T


def slow(outputs: list[Grid]) -> list[Transform]:
    """Transforms too slow to try on every state of the search, tried once on the inputs (fit_slow),
    with the colours the outputs show as their parameters."""
    cols = _colours(outputs)
    out = [("largest_rect", p.largest_rect)]
    for c in cols:
        out.append((f"fill_largest_empty_c{c}", lambda g, c=c: p.fill_largest_empty(g, c)))
        for k in (2, 3):
            out.append((f"fill_empty{k}_c{c}", lambda g, c=c, k=k: p.fill_empty_windows(g, k, c)))
            out.append((f"fill_empty{k}_greedy_c{c}", lambda g, c=c, k=k: p.fill_empty_windows(g, k, c, True)))
    return out


@fitted(order=0)
def fit_slow(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """The slow transforms, alone or followed by a crop to the non-zero cells, as rules: kept when they
    give every train output."""
    def run(g, fn, crop):
        r = fn(g)
        return p.crop(r) if crop and r is not None else r
    return explaining(((name + (" > crop" if crop else ""), lambda g, fn=fn, crop=crop: run(g, fn, crop))
                       for name, fn in slow(outputs) for crop in (False, True)), inputs, outputs, tests)
