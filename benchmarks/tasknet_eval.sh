#!/usr/bin/env bash
# The tasknet alone on an evaluation set, one run per budget, one JSON line each in OUT/eval.jsonl
# (the solve_gpu.py line: score, tasks solved, training tokens/s, peak GPU memory, wall time).
# For the measurement at the end of the work, never for choosing settings.
#
#   setsid nohup bash benchmarks/tasknet_eval.sh OUT arc1/eval "5m 10m 20m" > OUT.log 2>&1 &
#   setsid nohup bash benchmarks/tasknet_eval.sh OUT arc2/eval "20m" --tasknet.data arc2/train > OUT.log 2>&1 &
#
# Each run's folder, less the model's checkpoint, is also packed as OUT/<run>.tgz. Extra arguments go
# to `arcforge solve`. On the device machine a process left running when a
# command returns is killed unless it has its own session (setsid); poll OUT/eval.jsonl.
set -euo pipefail
out=$1 dataset=$2 budgets=$3
shift 3
mkdir -p "$out"
here=$(dirname "$0")
for budget in $budgets; do
  run="$out/$(echo "$dataset" | tr / -)-$budget"
  python "$here/solve_gpu.py" -- "$dataset" --solver tasknet --budget "$budget" --out "$run" "$@" >> "$out/eval.jsonl"
  # what the run wrote, without the checkpoint (a few MB), to study its candidates on another machine
  tar czf "$run.tgz" --exclude=checkpoint.pt -C "$run" . || true
done
