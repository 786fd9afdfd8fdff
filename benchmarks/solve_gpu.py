"""Time one `arcforge solve` on a GPU machine and sample the GPUs while it runs; one JSON line.

    python benchmarks/solve_gpu.py -- arc1/eval --solver llm --out runs/llm

Everything after `--` goes to `arcforge solve` unchanged. The line holds the command, its wall time,
the run's score, and the GPUs' utilisation (mean over one-second samples) and peak memory, as
nvidia-smi reports them; for a run with the tasknet solver also its training (steps, tokens/s, last
loss, seconds) and writing (rows, seconds) as its log in the run folder has them.
"""

import json
import subprocess
import sys
import threading
import time


def sample_gpus(samples: list, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            r = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits"],
                               capture_output=True, text=True)
        except FileNotFoundError:  # no GPU here: nothing to sample
            return
        if r.returncode == 0:
            samples.append([[float(x) for x in line.split(",")] for line in r.stdout.strip().splitlines()])
        stop.wait(1.0)


def tasknet_stats(out: str | None) -> dict:
    """The tasknet's training and writing figures from RUN/prepared/tasknet/log.jsonl, if any."""
    try:
        with open(f"{out}/prepared/tasknet/log.jsonl") as f:
            recs = [json.loads(line) for line in f]
    except (OSError, TypeError, json.JSONDecodeError):
        return {}
    train = [r for r in recs if "step" in r]
    wrote = [r for r in recs if "decoded" in r]
    stats = {}
    if train:
        last = train[-1]
        stats["tasknet_train"] = {k: last[k] for k in ("step", "loss", "tokens", "seconds", "tokens_per_s") if k in last}
    if wrote:
        stats["tasknet_write"] = wrote[-1]
    return stats


def main(argv: list[str]) -> None:
    args = argv[argv.index("--") + 1:] if "--" in argv else argv
    samples: list = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample_gpus, args=(samples, stop), daemon=True)
    sampler.start()
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "arcforge", "solve", *args, "--quiet"], capture_output=True, text=True)
    wall = time.monotonic() - t0
    stop.set()
    sampler.join()
    summary = json.loads(r.stdout.splitlines()[0]) if r.returncode == 0 and r.stdout else {"error": r.stderr[-2000:]}
    busy = [s for s in samples if any(u > 0 for u, _ in s)]
    print(json.dumps({
        "command": "arcforge solve " + " ".join(args), "exit": r.returncode, "wall_s": round(wall, 1), **summary,
        "gpus": len(samples[0]) if samples else 0,
        "gpu_util_mean": round(sum(u for s in samples for u, _ in s) / max(1, sum(len(s) for s in samples)), 1),
        "gpu_util_mean_after_start": round(sum(u for s in busy for u, _ in s) / max(1, sum(len(s) for s in busy)), 1),
        "gpu_mem_peak_mib": max((m for s in samples for _, m in s), default=0),
        **tasknet_stats(args[args.index("--out") + 1] if "--out" in args else None),
    }))


if __name__ == "__main__":
    main(sys.argv[1:])
