"""Compiled loops (numba) for the grid operations the DSL search calls most often, where numpy's
per-call overhead on tiny grids costs more than the work. Compiled on first use and cached on disk,
so the cost of compiling falls on the first run only. Imported lazily: numba takes a third of a
second to import, which the command line does not pay unless a search runs."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def label_components(g, diag, by_colour, bg):
    """Connected components of the cells of `g` that are not `bg`, 4- or 8-neighbour (`diag`), of one
    colour each or of any (`by_colour`): labels 1..n numbered in reading order of each component's
    first cell (0 elsewhere), and n. A flood fill from each unlabelled cell in reading order."""
    h, w = g.shape
    lab = np.zeros((h, w), np.intp)
    stack = np.empty(h * w, np.intp)
    n = 0
    for y0 in range(h):
        for x0 in range(w):
            if g[y0, x0] == bg or lab[y0, x0] != 0:
                continue
            n += 1
            lab[y0, x0] = n
            stack[0] = y0 * w + x0
            top = 1
            while top > 0:
                top -= 1
                y, x = stack[top] // w, stack[top] % w
                for dy in range(-1, 2):
                    for dx in range(-1, 2):
                        if (dy == 0 and dx == 0) or (not diag and dy != 0 and dx != 0):
                            continue
                        ny, nx = y + dy, x + dx
                        if ny < 0 or ny >= h or nx < 0 or nx >= w or lab[ny, nx] != 0 or g[ny, nx] == bg:
                            continue
                        if by_colour and g[ny, nx] != g[y, x]:
                            continue
                        lab[ny, nx] = n
                        stack[top] = ny * w + nx
                        top += 1
    return lab, n


@njit(cache=True, nogil=True)
def component_stats(lab, g, n):
    """Per component 1..n of `lab` (label_components' labels of g): rows (n + 1, 7) of its box's
    first row, first column, end row, end column (exclusive), its cell count, its most common colour
    (the lowest on a tie) and its number of colours; row 0 is unused."""
    h, w = lab.shape
    out = np.zeros((n + 1, 7), np.int64)
    counts = np.zeros((n + 1, 10), np.int64)
    for i in range(1, n + 1):
        out[i, 0] = h
        out[i, 1] = w
    for y in range(h):
        for x in range(w):
            i = lab[y, x]
            if i <= 0:
                continue
            if y < out[i, 0]:
                out[i, 0] = y
            if x < out[i, 1]:
                out[i, 1] = x
            if y + 1 > out[i, 2]:
                out[i, 2] = y + 1
            if x + 1 > out[i, 3]:
                out[i, 3] = x + 1
            out[i, 4] += 1
            counts[i, g[y, x]] += 1
    for i in range(1, n + 1):
        best = 0
        for c in range(10):
            if counts[i, c] > 0:
                out[i, 6] += 1
                if counts[i, c] > counts[i, best]:
                    best = c
        out[i, 5] = best
    return out


@njit(cache=True, nogil=True)
def _walk(d, i, k, h, w):
    """The k-th cell of line i walked in direction d (0 up, 1 down, 2 left, 3 right): columns for up
    and down, rows for left and right."""
    if d == 0:
        return h - 1 - k, i
    if d == 1:
        return k, i
    if d == 2:
        return i, w - 1 - k
    return i, k


@njit(cache=True, nogil=True)
def straight_rays(g, dirs, src):
    """Rays from the non-zero cells (of colour src only, when src >= 0) along each direction of `dirs`
    (codes as `_walk`'s, in turn) over the zero cells, each stopping at the next non-zero cell (which
    blocks rays of other colours too); a cell an earlier direction painted keeps its colour."""
    h, w = g.shape
    out = g.copy()
    for d in dirs:
        lines, length = (w, h) if d < 2 else (h, w)
        for i in range(lines):
            cur = 0
            for k in range(length):
                y, x = _walk(d, i, k, h, w)
                v = g[y, x]
                if v != 0:
                    cur = v
                elif cur != 0 and out[y, x] == 0 and (src < 0 or cur == src):
                    out[y, x] = cur
    return out


@njit(cache=True, nogil=True)
def join_cells(g, rows, cols, colour):
    """Zero cells between two cells of one colour on a row (`rows`) or column (`cols`), with only zero
    cells between them, painted that colour (or `colour`, when > 0); rows first."""
    h, w = g.shape
    out = g.copy()
    for d in (3, 1):
        if (d == 3 and not rows) or (d == 1 and not cols):
            continue
        lines, length = (h, w) if d == 3 else (w, h)
        for i in range(lines):
            last, at = 0, -1  # the colour and place of the last non-zero cell
            for k in range(length):
                y, x = _walk(d, i, k, h, w)
                v = g[y, x]
                if v == 0:
                    continue
                if v == last and k - at > 1:
                    for j in range(at + 1, k):
                        yy, xx = _walk(d, i, j, h, w)
                        if out[yy, xx] == 0:
                            out[yy, xx] = colour if colour > 0 else v
                last, at = v, k
    return out


@njit(cache=True, nogil=True)
def halo_cells(g, c, plus, diag):
    """(g with its zero cells next to a non-zero cell painted c, whether any was): side neighbours
    (`plus`) and corner ones (`diag`) count."""
    h, w = g.shape
    out = g.copy()
    changed = False
    for y in range(h):
        for x in range(w):
            if g[y, x] != 0:
                continue
            near = False
            for dy in range(-1, 2):
                for dx in range(-1, 2):
                    if (dy == 0 and dx == 0) or (dy != 0 and dx != 0 and not diag) or ((dy == 0 or dx == 0) and not plus):
                        continue
                    yy, xx = y + dy, x + dx
                    if 0 <= yy < h and 0 <= xx < w and g[yy, xx] != 0:
                        near = True
            if near:
                out[y, x] = c
                changed = True
    return out, changed


@njit(cache=True, nogil=True)
def clear_lines(g, colour):
    """(g with every row, then every column, that holds exactly two non-zero cells with zero cells
    between them filled there with `colour` where still zero, whether any was)."""
    h, w = g.shape
    out = g.copy()
    drew = False
    for d in (3, 1):
        lines, length = (h, w) if d == 3 else (w, h)
        for i in range(lines):
            n, a, b = 0, -1, -1
            for k in range(length):
                y, x = _walk(d, i, k, h, w)
                if g[y, x] != 0:
                    n += 1
                    if n == 1:
                        a = k
                    b = k
            if n == 2 and b - a > 1:
                for k in range(a + 1, b):
                    y, x = _walk(d, i, k, h, w)
                    if out[y, x] == 0:
                        out[y, x] = colour
                drew = True
    return out, drew


@njit(cache=True, nogil=True)
def mirror_cells(g, c, rows, cols):
    """(g with its non-zero cells not of colour c mirrored about the box of the cells of colour c
    (across its horizontal centre line when `rows`, its vertical one when `cols`, and through its
    centre when both: in that order), the images filling zero cells; whether there were a marker and
    cells to mirror)."""
    h, w = g.shape
    y0, y1, x0, x1, body = h, -1, w, -1, 0
    for y in range(h):
        for x in range(w):
            v = g[y, x]
            if v == c:
                y0, y1, x0, x1 = min(y0, y), max(y1, y), min(x0, x), max(x1, x)
            elif v != 0:
                body += 1
    out = g.copy()
    if y1 < 0 or body == 0:
        return out, False
    sy, sx = y0 + y1, x0 + x1
    for axis in range(3):
        if (axis == 0 and not rows) or (axis == 1 and not cols) or (axis == 2 and not (rows and cols)):
            continue
        for y in range(h):
            for x in range(w):
                v = g[y, x]
                if v == 0 or v == c:
                    continue
                ny = sy - y if axis != 1 else y
                nx = sx - x if axis != 0 else x
                if 0 <= ny < h and 0 <= nx < w and out[ny, nx] == 0:
                    out[ny, nx] = v
    return out, True


@njit(cache=True, nogil=True)
def _centre_map(k, y, x, t, s, a, b):
    """Symmetry k of the square about the centre (t / 2, s / 2) applied to (y, x): 0 left-right,
    1 up-down, 2 half turn, then (a centre that maps cells to cells) 3 diagonal, 4 antidiagonal,
    5 and 6 quarter turns; a = (t - s) // 2, b = (t + s) // 2."""
    if k == 0:
        return y, s - x
    if k == 1:
        return t - y, x
    if k == 2:
        return t - y, s - x
    if k == 3:
        return x + a, y - a
    if k == 4:
        return b - x, b - y
    if k == 5:
        return x + a, b - y
    return b - x, y - a


@njit(cache=True, nogil=True)
def symmetrize_about_centre(g, hole, turns_only):
    """The body of dsl.primitives.symmetrize_centre: (completed grid, True), or (g, False) for none."""
    h, w = g.shape
    count = np.sum(g != hole)
    if count == 0 or 2 * count > h * w:
        return g, False
    cy = np.empty(count, np.intp)
    cx = np.empty(count, np.intp)
    i = 0
    for y in range(h):
        for x in range(w):
            if g[y, x] != hole:
                cy[i], cx[i] = y, x
                i += 1
    y2, x2 = cy.min() + cy.max(), cx.min() + cx.max()
    best = np.zeros(7, np.bool_)
    best_pairs, bt, bs = 0, 0, 0
    found = False
    usable = np.zeros(7, np.bool_)
    for t in range(y2 - 2, y2 + 3):
        for s in range(x2 - 2, x2 + 3):
            square = (s - t) % 2 == 0
            a, b = (t - s) // 2, (t + s) // 2
            usable[:] = False
            pairs = 0
            for k in range(7 if square else 3):
                if turns_only and k not in (2, 5, 6):
                    continue
                n, ok = 0, True
                for j in range(count):
                    my, mx = _centre_map(k, cy[j], cx[j], t, s, a, b)
                    if my < 0 or my >= h or mx < 0 or mx >= w:
                        ok = False
                        break
                    other = g[my, mx]
                    if other != hole:
                        if other != g[cy[j], cx[j]]:
                            ok = False
                            break
                        n += 1
                if ok:
                    usable[k] = True
                    pairs += n
            if usable.any() and pairs > best_pairs:
                best[:] = usable
                best_pairs = pairs
                found = True
                bt, bs = t, s
    if not found:
        return g, False
    out = g.copy()
    a, b = (bt - bs) // 2, (bt + bs) // 2
    changed = False
    for k in range(7):
        if not best[k]:
            continue
        for j in range(count):
            my, mx = _centre_map(k, cy[j], cx[j], bt, bs, a, b)
            if out[my, mx] == hole:
                out[my, mx] = g[cy[j], cx[j]]
                changed = True
    return out, changed


@njit(cache=True, nogil=True)
def reach_within(seed, free):
    """The cells of `free` reachable (4-connected, through free cells) from the cells of `seed`: the
    free cells' components (label_components) that hold a seed cell."""
    lab, n = label_components(free, False, False, False)
    hit = np.zeros(n + 1, np.bool_)
    h, w = free.shape
    for y in range(h):
        for x in range(w):
            if seed[y, x]:
                hit[lab[y, x]] = True
    hit[0] = False
    reach = np.zeros((h, w), np.bool_)
    for y in range(h):
        for x in range(w):
            reach[y, x] = hit[lab[y, x]]
    return reach


@njit(cache=True, nogil=True)
def fill_down(g):
    """Each cell gets the colour of the nearest non-zero cell at or above it in its column (0 if none)."""
    h, w = g.shape
    out = np.empty((h, w), g.dtype)
    for x in range(w):
        last = g[0, x] * 0
        for y in range(h):
            if g[y, x] != 0:
                last = g[y, x]
            out[y, x] = last
    return out


@njit(cache=True, nogil=True)
def mirror_sum(t, hole):
    """dsl.primitives._mirror_sum along the columns of `t`: the s for which column x mirrors column
    s - x with no disagreement between known cells, pairing the most known cells (counted from both
    sides, at least half of all known cells); -1 for none."""
    rows, n = t.shape
    known_total = np.sum(t != hole)
    best, best_pairs = -1, 0
    for s in range(n // 2, 2 * n - 2 - n // 2):
        pairs, clash = 0, False
        for x in range(max(0, s - n + 1), min(n, s + 1)):
            if x == s - x:
                continue
            for r in range(rows):
                a, b = t[r, x], t[r, s - x]
                if a != hole and b != hole:
                    if a != b:
                        clash = True
                        break
                    pairs += 1
            if clash:
                break
        if not clash and pairs > best_pairs:
            best, best_pairs = s, pairs
    return best if best_pairs * 2 >= known_total else -1


@njit(cache=True, nogil=True)
def _cell_key(features, i, cols, base):
    """Cell i's values in columns `cols` as one number, a digit in `base` each: the cell-table kernels'
    index into their tables (base ** len(cols) entries)."""
    key = 0
    for col in cols:
        key = key * base + features[i, col]
    return key


@njit(cache=True, nogil=True)
def table_functions(features, target, combos, base, tests):
    """Which column sets make the cells' output a function of their features that answers every test
    cell: for each row of `combos` (column indices into `features`, cells x columns, values below
    `base`), whether no two cells with the same values in those columns have different `target`s,
    and every row of `tests` (the test cells' features, same columns) has the values of some cell.
    Stops at each set's first conflict, which for most sets comes within a few cells."""
    m, k = combos.shape
    size = base ** k
    stamp = np.full(size, -1, np.int64)
    value = np.empty(size, np.int64)
    ok = np.ones(m, np.bool_)
    for c in range(m):
        for i in range(features.shape[0]):
            key = _cell_key(features, i, combos[c], base)
            if stamp[key] != c:
                stamp[key] = c
                value[key] = target[i]
            elif value[key] != target[i]:
                ok[c] = False
                break
        if ok[c]:
            for i in range(tests.shape[0]):
                if stamp[_cell_key(tests, i, combos[c], base)] != c:
                    ok[c] = False
                    break
    return ok


@njit(cache=True, nogil=True)
def table_copies(features, target, sources, combos, base):
    """Which column sets describe a copying rule: for each row of `combos` (as in table_functions),
    whether every group of cells alike in those columns either has one output colour or has a
    source that gives each of its cells' output (`sources`: per cell, a bit mask of the sources whose
    colour is that cell's output). Stops at a set's first group left with neither."""
    m, k = combos.shape
    size = base ** k
    stamp = np.full(size, -1, np.int64)
    common = np.empty(size, np.int64)
    first = np.empty(size, np.int64)
    alike = np.empty(size, np.bool_)
    ok = np.ones(m, np.bool_)
    for c in range(m):
        for i in range(features.shape[0]):
            key = _cell_key(features, i, combos[c], base)
            if stamp[key] != c:
                stamp[key] = c
                common[key] = sources[i]
                first[key] = target[i]
                alike[key] = True
            else:
                common[key] &= sources[i]
                if target[i] != first[key]:
                    alike[key] = False
            if common[key] == 0 and not alike[key]:
                ok[c] = False
                break
    return ok


@njit(cache=True, nogil=True)
def can_become(r, t):
    """Whether grid r (int8, the shape of t) can become t as a stacking layer (each non-zero cell of r
    is t's) or through a cell-wise colour map (each colour of r meets one colour of t): the DSL
    search's test of a last-level program's first image."""
    return can_become_outside(r, t, 128)  # no int8 cell holds 128: every cell counts


@njit(cache=True, nogil=True)
def can_become_outside(g, t, k):
    """Whether g's cells of colours other than k, left as they are, still allow `can_become(r, t)` for
    some r made from g by changing only cells of colour k: those cells agree with t where non-zero, or
    each colour among them meets one colour of t. g and t have one shape."""
    h, w = g.shape
    layer = True
    mapping = np.full(10, -1, np.int8)
    mapped = True
    for y in range(h):
        for x in range(w):
            a, b = g[y, x], t[y, x]
            if a == k:
                continue
            if a < 0 or a > 9:
                return False
            if layer and a != 0 and a != b:
                layer = False
            if mapped:
                if mapping[a] < 0:
                    mapping[a] = b
                elif mapping[a] != b:
                    mapped = False
            if not layer and not mapped:
                return False
    return True


@njit(cache=True, nogil=True)
def largest_block(g):
    """The largest solid rectangle of one non-zero colour, at least 2 x 2, as (y0, y1, x0, x1, ties):
    ties counts later rectangles as large as the kept one (colours in increasing order, then bottom
    rows, then left columns); y0 = -1 when there is none."""
    h, w = g.shape
    best, ties = 0, 0
    y0, y1, x0b, x1b = -1, -1, -1, -1
    run = np.zeros(w, np.int64)  # cells of colour c straight up from the current row
    for c in range(1, 10):
        run[:] = 0
        for y in range(h):
            for x in range(w):
                run[x] = run[x] + 1 if g[y, x] == c else 0
            for x0 in range(w):
                top = h
                for x1 in range(x0, w):
                    top = min(top, run[x1])
                    if top < 2:
                        break
                    area = top * (x1 - x0 + 1)
                    if x1 > x0 and area >= best:
                        ties = ties + 1 if area == best else 0
                        best = area
                        y0, y1, x0b, x1b = y - top + 1, y + 1, x0, x1 + 1
    return y0, y1, x0b, x1b, ties


@njit(cache=True, nogil=True)
def greedy_windows(full, k):
    """The cells of k x k windows taken in reading order of their top-left corners (`full`: whether
    the window there is free), each only if none of its cells is taken yet."""
    n, m = full.shape
    taken = np.zeros((n + k - 1, m + k - 1), np.bool_)
    for y in range(n):
        for x in range(m):
            if not full[y, x]:
                continue
            free = True
            for dy in range(k):
                for dx in range(k):
                    if taken[y + dy, x + dx]:
                        free = False
            if free:
                for dy in range(k):
                    for dx in range(k):
                        taken[y + dy, x + dx] = True
    return taken


@njit(cache=True, nogil=True)
def diag_rays(g, most):
    """Rays along the four diagonals (up-left, up-right, down-left, down-right) from every non-zero
    cell, in reading order, over zero cells up to the first non-zero one; a cell keeps the first ray
    that reaches it. None when more than `most` cells are non-zero."""
    h, w = g.shape
    n = 0
    for y in range(h):
        for x in range(w):
            n += g[y, x] != 0
    if n > most:
        return None
    out = g.copy()
    for y in range(h):
        for x in range(w):
            c = g[y, x]
            if c == 0:
                continue
            for dy, dx in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
                yy, xx = y + dy, x + dx
                while 0 <= yy < h and 0 <= xx < w and g[yy, xx] == 0:
                    if out[yy, xx] == 0:
                        out[yy, xx] = c
                    yy += dy
                    xx += dx
    return out


@njit(cache=True, nogil=True)
def _repeat_runs(g, out):
    """extend_runs along the rows of g, painting the zero cells of out; whether any was painted."""
    h, w = g.shape
    drew = False
    for i in range(h):
        first, last, count = -1, -1, 0
        for x in range(w):
            if g[i, x] != 0:
                if first < 0:
                    first = x
                last = x
                count += 1
        if count < 2 or last - first + 1 != count:
            continue
        for x in range(w):
            if out[i, x] == 0:
                out[i, x] = g[i, first + (x - first) % count]
                drew = True
    return drew


@njit(cache=True, nogil=True)
def repeat_runs(g):
    """Every row, then every column, of g holding one run of two or more non-zero cells repeats the
    run along its whole length over the zero cells (the columns see the rows' result); None when no
    cell changes."""
    out = g.copy()
    rows = _repeat_runs(g, out)
    cols = _repeat_runs(g.T, out.T)
    return out if rows or cols else None


@njit(cache=True, nogil=True)
def fill_boxes_by_colour(g):
    """For each non-zero colour in increasing order, the zero cells of the bounding box of its cells
    painted that colour (later colours see the earlier ones' paint)."""
    h, w = g.shape
    y0 = np.full(10, h)
    x0 = np.full(10, w)
    y1 = np.full(10, -1)
    x1 = np.full(10, -1)
    for y in range(h):
        for x in range(w):
            c = g[y, x]
            y0[c] = min(y0[c], y)
            x0[c] = min(x0[c], x)
            y1[c] = max(y1[c], y)
            x1[c] = max(x1[c], x)
    out = g.copy()
    for c in range(1, 10):
        for y in range(y0[c], y1[c] + 1):
            for x in range(x0[c], x1[c] + 1):
                if out[y, x] == 0:
                    out[y, x] = c
    return out


@njit(cache=True, nogil=True)
def block_colours(g, rows, cols):
    """Per block (rows[i]..rows[i + 1] by cols[j]..cols[j + 1], half-open; pairs of starts and ends),
    its most common non-zero colour (the lowest of a tie), or 0."""
    out = np.zeros((len(rows) // 2, len(cols) // 2), np.int8)
    counts = np.zeros(10, np.int64)
    for i in range(len(rows) // 2):
        for j in range(len(cols) // 2):
            counts[:] = 0
            for y in range(rows[2 * i], rows[2 * i + 1]):
                for x in range(cols[2 * j], cols[2 * j + 1]):
                    counts[g[y, x]] += 1
            best = 0
            for c in range(1, 10):
                if counts[c] > counts[best] or (best == 0 and counts[c] > 0):
                    best = c
            out[i, j] = best
    return out


@njit(cache=True, nogil=True)
def uniform_lines(g):
    """Which rows and which columns of g hold one colour only."""
    h, w = g.shape
    rows = np.ones(h, np.bool_)
    cols = np.ones(w, np.bool_)
    for y in range(h):
        for x in range(w):
            if g[y, x] != g[y, 0]:
                rows[y] = False
            if g[y, x] != g[0, x]:
                cols[x] = False
    return rows, cols
