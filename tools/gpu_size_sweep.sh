#!/bin/bash
# Which model size learns most in a fixed GPU time? For each preset: a 60-step probe measures its
# tokens/s, then a run of the default recipe (configs/default-model.toml, --generated 0.5) sized to
# SECONDS, with a full cosine schedule; prints the final train and validation loss of each. A model may
# also be a folder or GGUF file (a pretrained start); TRAIN_ARGS adds train options (e.g. --lr) to both runs.
#   tools/gpu_size_sweep.sh SECONDS PRESET [PRESET ...]      e.g. tools/gpu_size_sweep.sh 200 arc-12m small
#   TRAIN_ARGS="--lr 3e-4" tools/gpu_size_sweep.sh 200 /tmp/SmolLM2-135M-Instruct.Q4_1.gguf
set -euo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/src:$PWD/.whl/pysite
secs=$1; shift
for preset in "$@"; do
  run=/tmp/sweep-$(basename $preset); rm -rf $run $run-probe
  python3 -m arcforge train --config configs/default-model.toml --generated 0.5 --model $preset --quiet ${TRAIN_ARGS:-} \
    --steps 60 --out $run-probe --set eval_every=100000 --set save_every=100000 > /dev/null 2>&1
  steps=$(python3 - "$secs" "$run-probe/log.jsonl" <<'PY'
import json, sys
recs = {r["step"]: r for r in map(json.loads, open(sys.argv[2]))}
tok = 65536
t20, t60 = 20 * tok / recs[20]["tokens_per_s"], 60 * tok / recs[60]["tokens_per_s"]
print(int(40 * tok / (t60 - t20) * float(sys.argv[1]) / tok))
PY
)
  python3 -m arcforge train --config configs/default-model.toml --generated 0.5 --model $preset --quiet ${TRAIN_ARGS:-} \
    --steps $steps --out $run --set eval_every=$steps --set save_every=100000 > $run.out 2>&1
  python3 - "$preset" "$run" <<'PY'
import json, sys
from arcforge.llm.model import load_model
last = [json.loads(l) for l in open(sys.argv[2] + "/log.jsonl")][-1]
model, _ = load_model(sys.argv[2] + "/model", device="cpu")
params = sum(p.numel() for p in model.parameters())
print(json.dumps({"preset": sys.argv[1], "params": params, "steps": last["step"], "loss": last["loss"],
                  "val_loss": last.get("val_loss"), "tokens_per_s": last["tokens_per_s"]}))
PY
done
