"""The Kaggle notebook script end to end on known tasks: wall time, completeness and score. One JSON line.

    python benchmarks/kaggle_run.py OUT arc1/eval 100 10m [-- extra arcforge solve flags]

Writes the first N tasks of DATASET (by id) as a competition's `arc-agi_test_challenges.json` under
OUT/input (no test outputs), runs `kaggle/arcforge_kaggle.py --no-install` on it with the budget,
then checks OUT/working/submission.json: every task and test input has two well-formed attempts,
and its pass@2 against the dataset's solutions.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

from arcforge.datasets import load_tasks
from arcforge.grid import to_list
from arcforge.submission import read_submission, score_attempts


def main(argv: list[str]) -> None:
    split = argv.index("--") if "--" in argv else len(argv)
    (out, dataset, n, budget), extra = argv[:split], argv[split + 1:]
    out = Path(out)
    tasks = sorted(load_tasks(dataset), key=lambda t: t.id)[:int(n)]
    challenges = {t.id: {"train": [{"input": to_list(e.input), "output": to_list(e.output)} for e in t.train],
                         "test": [{"input": to_list(e.input)} for e in t.test]} for t in tasks}
    (out / "input").mkdir(parents=True, exist_ok=True)
    (out / "input" / "arc-agi_test_challenges.json").write_text(json.dumps(challenges))
    script = Path(__file__).resolve().parent.parent / "kaggle" / "arcforge_kaggle.py"
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(script), "--input", str(out / "input"), "--out", str(out / "working"),
                           "--budget", budget, "--no-install", *extra], capture_output=True, text=True)
    wall = time.monotonic() - t0
    sub = read_submission(out / "working" / "submission.json")
    complete = (set(sub) == set(challenges)
                and all(len(sub[t.id]) == len(t.test) and all(len(a) == 2 for a in sub[t.id]) for t in tasks))
    score = score_attempts(sub, tasks)
    print(json.dumps({"dataset": dataset, "tasks": len(tasks), "budget": budget, "flags": " ".join(extra),
                      "exit": proc.returncode, "wall_s": round(wall, 1), "complete": complete,
                      "test_inputs": sum(len(t.test) for t in tasks), "score": round(100 * score.total, 2),
                      "solved": score.tasks_solved, "log": proc.stdout.strip().splitlines()[-3:]}))


if __name__ == "__main__":
    main(sys.argv[1:])
