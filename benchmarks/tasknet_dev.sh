#!/usr/bin/env bash
# Settings of the tasknet compared on the development split, one after another on one GPU machine;
# one JSON line per setting in OUT/dev.jsonl (the solve_gpu.py line with the ranking script's
# figures added under "rankings"); each run's folder, less the model's checkpoint, also as OUT/runK.tgz.
#
#   bash benchmarks/tasknet_dev.sh OUT BUDGET "--tasknet.preset small" "--tasknet.preset base" ...
#
# Each setting is a string of `arcforge solve` flags added to
#   arcforge solve DEV_SET --tasks <dev split> --solver tasknet --budget BUDGET --out OUT/runK
# DEV_SET=arc2/train-clean takes that set's split instead (100 tasks of arc2's training set that arc1's
# lacks: harder, nearer the evaluation sets). A 5-minute budget takes about 4.5 minutes. On the device machine a process left running when a
# command returns is killed unless it started its own session: detach it with setsid nohup ... &.
set -euo pipefail
out=$1 budget=$2
shift 2
mkdir -p "$out"
here=$(dirname "$0")
dev_set=${DEV_SET:-arc1/train}
ids=$(python "$here/dev_split.py" 100 "$dev_set")
k=0
for flags in "$@"; do
  run="$out/run$k"
  k=$((k + 1))
  # shellcheck disable=SC2086  # the flags are meant to split
  line=$(python "$here/solve_gpu.py" -- "$dev_set" --tasks "$ids" --solver tasknet --budget "$budget" $flags --out "$run")
  rank=$(python "$here/tasknet_rankings.py" "$run" || echo null)
  # what the run wrote, without the checkpoint (a few MB), to study its candidates on another machine
  tar czf "$run.tgz" --exclude=checkpoint.pt -C "$run" . || true
  python -c 'import json, sys; d = json.loads(sys.argv[1]); d["flags"] = sys.argv[3]; d["rankings"] = json.loads(sys.argv[2]); d.pop("command"); print(json.dumps(d))' \
    "$line" "$rank" "$flags" >> "$out/dev.jsonl"
done
