#!/bin/bash
# Compare training variants at equal steps on one GPU: every variant runs the default recipe
# (configs/default-model.toml, --generated 0.5) for STEPS steps from the same seed, all at once (a
# small model leaves most of the GPU idle), and the final train and validation losses are printed.
#   benchmarks/compare_training.sh STEPS "VARIANT ARGS" ["VARIANT ARGS" ...]
#   benchmarks/compare_training.sh 1000 "--model arc-12m" "--model arc-12m --positions rows"
set -euo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/src:$PWD/.whl/pysite
steps=$1; shift
i=0
for args in "$@"; do
  run=/tmp/cmp-$i; rm -rf $run
  python3 -m arcforge train --config configs/default-model.toml --generated 0.5 --quiet $args \
    --steps $steps --out $run --eval-every $((steps / 4)) --save-every 100000 > $run.out 2>&1 &
  i=$((i + 1))
done
wait
i=0
for args in "$@"; do
  python3 - "$args" /tmp/cmp-$i <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[2] + "/log.jsonl")]
vals = [(r["step"], r["val_loss"]) for r in recs if r.get("val_loss") is not None]
last = recs[-1]
print(json.dumps({"variant": sys.argv[1], "steps": last["step"], "loss": last["loss"], "val_loss": vals,
                  "tokens_per_s": last["tokens_per_s"]}))
PY
  i=$((i + 1))
done
