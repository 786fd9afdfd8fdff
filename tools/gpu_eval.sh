#!/bin/bash
# Measure the LLM solver (shipped model, per-task TTT, 8 views, DFS, PoE, selection) on arc1/eval and
# arc2/eval on one GPU through the device tool: many solve processes share the GPU (a small model's
# decoding is launch-bound, so processes overlap well), each on a shard of the tasks.
#   tools/gpu_eval.sh start        launch the shards detached (each with a wall-clock budget)
#   tools/gpu_eval.sh wait SECONDS wait for them (at most SECONDS), print progress
#   tools/gpu_eval.sh finish       combine the shards, score, pack the run folders into $OUT
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/src:$PWD/.whl/pysite OMP_NUM_THREADS=1
EV=/tmp/ev
SHARDS_ARC1=${SHARDS_ARC1:-9}
SHARDS_ARC2=${SHARDS_ARC2:-3}
BUDGET=${BUDGET:-18m}
FLAGS=${FLAGS:---solver llm --ttt per-task --task-time 25s}
case "$1" in
start)
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  mkdir -p $EV
  for ds in arc1 arc2; do
    k=$([ $ds = arc1 ] && echo $SHARDS_ARC1 || echo $SHARDS_ARC2)
    for ((i = 0; i < k; i++)); do
      setsid nohup python3 -m arcforge solve $ds/eval $FLAGS --budget $BUDGET --shard $i/$k \
        --out $EV/llm-$ds-$i --quiet > $EV/llm-$ds-$i.log 2>&1 < /dev/null &
    done
  done
  sleep 90; wc -l $EV/*/results.jsonl | tail -n 1; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
  ;;
wait)
  end=$((SECONDS + $2))
  while [ $SECONDS -lt $end ] && pgrep -f "arcforge solve" > /dev/null; do sleep 15; done
  wc -l $EV/*/results.jsonl | tail -n 1
  ;;
finish)
  for ds in arc1 arc2; do
    python3 -m arcforge combine $EV/llm-$ds-*/ --out $EV/llm-$ds
    python3 -m arcforge score $EV/llm-$ds --dataset $ds/eval | tail -n 1
  done
  tail -n 2 $EV/llm-arc1-0.log
  tar -C $EV -czf $OUT/eval-runs.tar.gz .
  ls -la $OUT
  ;;
esac
