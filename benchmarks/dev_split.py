"""The development split: 100 tasks of arc1/train held out for choosing the tasknet's settings.

    arcforge solve arc1/train --tasks $(python benchmarks/dev_split.py) --solver tasknet ...
    arcforge solve arc2/train-clean --tasks $(python benchmarks/dev_split.py 100 arc2/train-clean) ...

Of arc2/train-clean only the tasks not in arc1/train (by content) are drawn, so the two splits share
none.

The tasks are the 100 with the lowest CRC32 of their id (fixed, not tuned). A run on them trains on
the rest of the training sets and on their demonstrations only: the solver drops every training task
that holds a run task's content or test input (tasknet.solver.leak_free).
"""

import sys
import zlib

from arcforge.datasets import load_tasks


def dev_ids(n: int = 100, dataset: str = "arc1/train") -> list[str]:
    tasks = load_tasks(dataset)
    if dataset != "arc1/train":
        arc1 = {t.content_hash() for t in load_tasks("arc1/train")}
        tasks = [t for t in tasks if t.content_hash() not in arc1]
    return sorted((t.id for t in tasks), key=lambda i: zlib.crc32(i.encode()))[:n]


if __name__ == "__main__":
    print(",".join(dev_ids(int(sys.argv[1]) if len(sys.argv) > 1 else 100, *sys.argv[2:3])))
