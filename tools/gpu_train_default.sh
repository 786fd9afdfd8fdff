#!/bin/bash
# Train the shipped default model on one GPU through the device tool, in calls of under 10 minutes.
#   tools/gpu_train_default.sh start SECONDS   probe throughput, then start a detached run sized to SECONDS
#   tools/gpu_train_default.sh wait SECONDS    show progress for up to SECONDS (keeps the machine busy)
#   tools/gpu_train_default.sh finish          wait for the run to end, export bf16 shards + log to $OUT
# The run lives in /tmp/arc-default on the device machine and resumes there (--resume) if restarted.
# TRAIN_ARGS adds flags to the probe and the run (e.g. TRAIN_ARGS="--generated 0.5").
set -euo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/src:$PWD/.whl/pysite
RUN=/tmp/arc-default
CFG=configs/default-model.toml
train() { python3 -m arcforge train --config $CFG --quiet ${TRAIN_ARGS:-} "$@"; }

case "$1" in
start)
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  rm -rf /tmp/probe
  train --steps 100 --out /tmp/probe --set eval_every=100000 --set save_every=100000 > /tmp/probe.json
  # steady-state rate from the cumulative tokens/s logged at steps 30 and 100
  steps=$(python3 - "$2" <<'PY'
import json, sys
recs = {r["step"]: r for r in map(json.loads, open("/tmp/probe/log.jsonl"))}
tok = 65536
t30, t100 = 30 * tok / recs[30]["tokens_per_s"], 100 * tok / recs[100]["tokens_per_s"]
rate = 70 * tok / (t100 - t30)
print(int(rate * float(sys.argv[1]) / tok))
print(f"probe: steady {rate:,.0f} tok/s", file=sys.stderr)
PY
)
  echo "steps=$steps" | tee /tmp/steps
  mkdir -p $RUN
  setsid nohup python3 -m arcforge train --config $CFG --quiet ${TRAIN_ARGS:-} --steps "$steps" --out $RUN \
    > $RUN.out 2>&1 < /dev/null &
  sleep 60; tail -n 2 $RUN/log.jsonl || cat $RUN.out
  ;;
wait)
  end=$((SECONDS + $2))
  while [ $SECONDS -lt $end ] && pgrep -f "out $RUN" > /dev/null; do sleep 20; done
  tail -n 1 $RUN/log.jsonl; grep val_loss $RUN/log.jsonl | tail -n 3
  ;;
finish)
  while pgrep -f "out $RUN" > /dev/null; do sleep 10; done
  cat $RUN.out | tail -n 3
  python3 -m arcforge export-model $RUN/model /tmp/ship
  cp $RUN/log.jsonl /tmp/ship/train-log.jsonl; cp $RUN/config.json /tmp/ship/train-config.json
  # at most 8 files come back: the shards alone, everything small in one archive
  cp /tmp/ship/*.safetensors $OUT/
  tar -C /tmp/ship -czf $OUT/meta.tar.gz --exclude='*.safetensors' .
  ls -la $OUT
  ;;
esac
