#!/bin/bash
# Which model size learns most in a fixed GPU time? Each model trains with the default recipe
# (configs/default-model.toml, --generated 0.5) for SECONDS under `train --time-budget` (its step count
# comes from its own measured rate, so every cosine schedule runs to its end); prints one JSON line per
# model with its final train and validation loss. A model may also be a folder or GGUF file (a
# pretrained start); TRAIN_ARGS adds train options (e.g. --lr).
#   benchmarks/size_sweep.sh SECONDS MODEL [MODEL ...]      e.g. benchmarks/size_sweep.sh 200 arc-12m small
#   TRAIN_ARGS="--lr 3e-4" benchmarks/size_sweep.sh 200 /tmp/SmolLM2-135M-Instruct.Q4_1.gguf
set -euo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/src:$PWD/.whl/pysite
secs=$1; shift
for model in "$@"; do
  run=/tmp/sweep-$(basename $model); rm -rf $run
  python3 -m arcforge train --config configs/default-model.toml --generated 0.5 --model $model --quiet ${TRAIN_ARGS:-} \
    --time-budget ${secs}s --out $run --eval-every 100000000 --save-every 100000000 > $run.out 2>&1
  python3 - "$model" "$run" <<'PY'
import json, sys
from arcforge.llm.model import load_model
last = [json.loads(l) for l in open(sys.argv[2] + "/log.jsonl")][-1]
model, _ = load_model(sys.argv[2] + "/model", device="cpu")
params = sum(p.numel() for p in model.parameters())
print(json.dumps({"model": sys.argv[1], "params": params, "steps": last["step"], "loss": last["loss"],
                  "val_loss": last.get("val_loss"), "tokens_per_s": last["tokens_per_s"]}))
PY
done
