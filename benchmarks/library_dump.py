"""The DSL's transform list on a set of tasks, to show that a change to how it is built keeps it: for
every task, `library(task)` and `slow(train outputs)` as ordered [name, hash] pairs, the hash over
the transform's result on each train input and test input (its shape and cells, "None" where it
gives None, the exception's type where it raises). One JSON object {"dataset:task id": {"library": [...],
"slow": [...]}}.

    python benchmarks/library_dump.py before.json arc1/train,arc2/train-clean   # on the old tree
    python benchmarks/library_dump.py after.json arc1/train,arc2/train-clean    # on the new one
    python benchmarks/library_dump.py --compare before.json after.json

Run it against another tree with PYTHONPATH=that/tree/src. Only train pairs and test inputs are read.
"""

import hashlib
import json
import sys
import time

from arcforge.datasets import load_tasks
from arcforge.dsl.library import library, slow


def _hashes(transforms, grids) -> list[list[str]]:
    rows = []
    for name, fn in transforms:
        h = hashlib.sha1()
        for g in grids:
            try:
                r = fn(g)
            except Exception as e:  # noqa: BLE001 - a raise is part of the behaviour to keep
                h.update(f"raise {type(e).__name__};".encode())
                continue
            h.update(b"None;" if r is None else f"{r.shape} {r.dtype};".encode() + r.tobytes())
        rows.append([name, h.hexdigest()[:12]])
    return rows


def dump(path: str, datasets: str) -> None:
    out, t0 = {}, time.time()
    for ds in datasets.split(","):
        for t in load_tasks(ds):
            t = t.without_test_outputs()
            grids = [ex.input for ex in t.train] + [ex.input for ex in t.test]
            out[f"{ds}:{t.id}"] = {"library": _hashes(library(t), grids),
                         "slow": _hashes(slow([ex.output for ex in t.train]), grids)}
    with open(path, "w") as f:
        json.dump(out, f)
    print(json.dumps({"tasks": len(out), "transforms": sum(len(v["library"]) + len(v["slow"]) for v in out.values()),
                      "seconds": round(time.time() - t0)}))


def compare(a_path: str, b_path: str) -> None:
    a, b = (json.load(open(p)) for p in (a_path, b_path))
    differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    print(json.dumps({"tasks": [len(a), len(b)],
                      "transforms": [sum(len(v["library"]) + len(v["slow"]) for v in d.values()) for d in (a, b)],
                      "differ": differ}))


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        dump(sys.argv[1], sys.argv[2])
