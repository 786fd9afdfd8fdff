#!/bin/bash
# Train the shipped default model on one GPU of a lent machine, in calls of under 10 minutes each.
#   tools/gpu_train_default.sh start DURATION   start a detached run of `train --time-budget DURATION`
#   tools/gpu_train_default.sh wait SECONDS     show progress for up to SECONDS (keeps the machine busy)
#   tools/gpu_train_default.sh finish           wait for the run to end, export bf16 shards + log to $OUT
# The run lives in /tmp/arc-default on the machine and resumes there (--resume) if restarted.
# TRAIN_ARGS adds flags to the run (e.g. TRAIN_ARGS="--generated 0.5").
set -euo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/src:$PWD/.whl/pysite
RUN=/tmp/arc-default
CFG=configs/default-model.toml

case "$1" in
start)
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  mkdir -p $RUN
  setsid nohup python3 -m arcforge train --config $CFG --quiet ${TRAIN_ARGS:-} --time-budget "$2" --out $RUN \
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
