"""fp16 against bf16 on one GPU: the same `arcforge solve` twice, once per `--dtype`, and how their
answers compare task by task (the Kaggle cards, T4 and P100, have no bf16). One JSON line.

    python benchmarks/precision_check.py OUT -- arc1/train --tasks $(python benchmarks/dev_split.py | cut -d, -f1-20) \
        --solver llm --task-time 20s

Everything after `--` goes to `arcforge solve` (add the solver and its settings there). Reports each
run's score and seconds, the test inputs whose two attempts are identical in both, and the ids of
the tasks whose attempts differ (to look at: a flip between two near-equal candidates is rounding;
a lost right answer is not).
"""

import json
import subprocess
import sys
import time
from pathlib import Path


def attempts(run: Path) -> dict:
    return {r["task_id"]: r["attempts"] for r in map(json.loads, (run / "results.jsonl").read_text().splitlines())}


def main(argv: list[str]) -> None:
    out, args = Path(argv[0]), argv[argv.index("--") + 1:]
    line = {"command": " ".join(args)}
    for dtype in ("bf16", "fp16"):
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "arcforge", "solve", *args, "--dtype", dtype, "--quiet",
                            "--out", str(out / dtype)], capture_output=True, text=True)
        if r.returncode != 0:
            line[dtype] = {"error": r.stderr[-1000:]}
            print(json.dumps(line))
            return
        summary = json.loads(r.stdout.splitlines()[0])
        line[dtype] = {"score": summary.get("score"), "seconds": round(time.monotonic() - t0, 1)}
    a, b = attempts(out / "bf16"), attempts(out / "fp16")
    same = sum(x == y for t in a for x, y in zip(a[t], b.get(t, [])))
    line["test_inputs"] = sum(len(v) for v in a.values())
    line["identical_attempts"] = same
    line["tasks_that_differ"] = sorted(t for t in a if a[t] != b.get(t))
    print(json.dumps(line))


if __name__ == "__main__":
    main(sys.argv[1:])
