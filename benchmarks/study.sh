#!/usr/bin/env bash
# The study, measured honestly: each of its three presets trained on train/kaggle only, validated
# on a random frame split (what the study measured) and on the leak-free block split, and scored
# on dev/massey (other people). Writes runs/study/<preset>-<split>/; summarise with
#   python benchmarks/study_table.py runs/study
# Usage: benchmarks/study.sh [WEIGHTS]   (WEIGHTS: imagenet where there is internet, else hed)
set -euo pipefail
DATA=${DATA:-../shared/data}
WEIGHTS=${1:-hed}
for preset in small-cnn small-cnn-large-batch vgg16; do
  for split in random block; do
    fingerspell train "$DATA/train/kaggle" --preset "$preset" --split "$split" \
      --backbone-weights "$WEIGHTS" --eval "$DATA/dev/massey" --out "runs/study/$preset-$split"
  done
done
