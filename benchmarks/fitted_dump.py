"""Every fitted rule's results on a set of tasks, to show that a change to the DSL's rules keeps
them: one JSON object {"dataset:task id": [[cost, rule text, hash of the test predictions], ...]}.

    python benchmarks/fitted_dump.py before.json arc1/train,arc2/train-clean   # on the old tree
    python benchmarks/fitted_dump.py after.json arc1/train,arc2/train-clean    # on the new one
    python benchmarks/fitted_dump.py --compare before.json after.json

About 6 minutes for both training sets on one core. Only train pairs and test inputs are read.
"""

import hashlib
import json
import sys
import time

from arcforge.datasets import load_tasks
from arcforge.dsl.search import DslSearch


def dump(path: str, datasets: str) -> None:
    out, t0 = {}, time.time()
    for ds in datasets.split(","):
        for t in load_tasks(ds):
            rows = []
            for cost, text, preds in DslSearch._learned(t.without_test_outputs()):
                h = hashlib.sha1(b"".join(bytes(p.shape) + p.tobytes() for p in preds)).hexdigest()[:12]
                rows.append([round(cost, 9), text, h])
            out[f"{ds}:{t.id}"] = rows  # the two sets share ids (arc2 holds arc1 tasks), so keyed by both
    with open(path, "w") as f:
        json.dump(out, f)
    print(json.dumps({"tasks": len(out), "results": sum(map(len, out.values())), "seconds": round(time.time() - t0)}))


def compare(a_path: str, b_path: str) -> None:
    a, b = (json.load(open(p)) for p in (a_path, b_path))
    differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    print(json.dumps({"tasks": len(a), "results": sum(map(len, a.values())), "differ": differ}))


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        dump(sys.argv[1], sys.argv[2])
