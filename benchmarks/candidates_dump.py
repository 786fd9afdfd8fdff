"""Every candidate of a solve run as one line each (task, test input, rank, source, grid hash), sorted:
diff two dumps to check that a change kept a solver's behaviour.

    python benchmarks/candidates_dump.py RUN > before.tsv
"""

import hashlib
import json
import sys
from pathlib import Path


def main(run: str) -> None:
    rows = []
    for line in open(Path(run) / "results.jsonl"):
        rec = json.loads(line)
        for i, cands in enumerate(rec["candidates"]):
            for rank, c in enumerate(cands):
                h = hashlib.sha1(json.dumps(c["grid"]).encode()).hexdigest()[:12]
                rows.append(f"{rec['task_id']}\t{i}\t{rank}\t{c['source']}\t{h}")
    print("\n".join(sorted(rows)))


if __name__ == "__main__":
    main(sys.argv[1])
