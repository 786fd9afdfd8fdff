"""Object substitution (`fit_object_swap`): every object's box becomes the pattern the train pairs
show for an object with its content or shape.

Only train pairs and test inputs are read.
"""

from __future__ import annotations

import numpy as np

from arcforge.dsl import objects as ob
from arcforge.dsl.fitting import fitted
from arcforge.dsl.rules.common import I8
from arcforge.grid import Grid


@fitted(order=19)
def fit_object_swap(inputs: list[Grid], outputs: list[Grid], tests: list[Grid]) -> list[tuple[int, str, list[Grid]]]:
    """Each object is replaced, inside its bounding box, by the pattern the train pairs show for an
    object like it: keyed by its exact crop, or by its shape with the pattern's cells of the object's
    own colour written relative to it. Cells outside every object's box stay as they are."""
    if any(a.shape != b.shape for a, b in zip(inputs, outputs, strict=False)):
        return []
    if all(np.array_equal(a, b) for a, b in zip(inputs, outputs, strict=False)):
        return []
    found = []
    for mi, (diag, by_colour) in enumerate(((True, False), (False, True), (False, False), (True, True))):
        tr_objs = [ob.objects(a, diag, by_colour) for a in inputs]
        te_objs = [ob.objects(t, diag, by_colour) for t in tests]
        if any(not os or len(os) > 40 for os in tr_objs + te_objs):
            continue
        for ki, keyed in enumerate(("crop", "shape")):
            def key(g, o, keyed=keyed):
                if keyed == "shape":
                    return o.shape_key()
                crop = o.crop(g)
                return crop.tobytes() + bytes(crop.shape)

            def encode(pat, o, keyed=keyed):  # the object's colour as 10 in a shape-keyed pattern
                return pat if keyed == "crop" else np.where(pat == o.colour, 10, pat).astype(I8)

            table: dict = {}
            ok, uses = True, 0
            for a, b, os in zip(inputs, outputs, tr_objs, strict=False):
                covered = np.zeros(a.shape, bool)
                for o in os:
                    if (o.y1 - o.y0, o.x1 - o.x0) == a.shape:
                        ok = False  # an object filling the grid: the rule would memorise whole outputs
                        break
                    box = (slice(o.y0, o.y1), slice(o.x0, o.x1))
                    pat = encode(b[box], o).tobytes()
                    uses += 1
                    if table.setdefault(key(a, o), pat) != pat:
                        ok = False
                        break
                    covered[box] = True
                if not ok or (a[~covered] != b[~covered]).any():
                    ok = False
                    break
            if not ok or uses <= len(table):
                continue  # every key seen once: nothing shows the pattern follows from the object
            preds = []
            for t, os in zip(tests, te_objs, strict=False):
                out = t.copy()
                for o in os:
                    pat = table.get(key(t, o))
                    if pat is None:
                        break
                    box = (slice(o.y0, o.y1), slice(o.x0, o.x1))
                    p = np.frombuffer(pat, np.int8).reshape(o.y1 - o.y0, o.x1 - o.x0)
                    out[box] = np.where(p == 10, o.colour, p)
                else:
                    preds.append(out)
                    continue
                break
            else:
                found.append((mi + 4 * ki, f"swap{'8' if diag else '4'}{'c' if by_colour else ''}_{keyed}", preds))
    found.sort(key=lambda f: f[0])
    return found
