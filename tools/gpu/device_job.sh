#!/usr/bin/env bash
# One GPU lease, several fine-tunes side by side (the GPU has room for three). Defaults:
#   a: learning rate 1e-4, block-split validation
#   b: learning rate 3e-5, block-split validation
#   c: learning rate 1e-4, two whole sources held out (never trained on): "people we never saw"
#   f1, f2, f3: three folds that hold out all nine train/multi sources between them, three each
#      (Kaggle always trains: the only del/nothing/space): a recipe's estimate on people it never
#      saw is the mean over the folds' sources. BASE_ARGS (default --lr 1e-4) is the recipe.
# ARGS_x="..." replaces run x's finetune.py options (any name x works: RUNS="r0 r1" ARGS_r0=...).
# The best run on block-split validation (never the dev set; held-out runs are estimates, not
# candidates) sends its weights back; every run sends its log.
# Side by side costs: on the H200 two runs took 13.6 s an epoch each, one alone 4.9 s (5.1-5.9 s on
# an H100). With a short lease (15 minutes, starts included) one run per call, finetune.py --out
# $OUT directly, got more done (lease 3, docs/results.md, "The model we ship").
# Usage (on the GPU machine, from the repository root):
#   tools/gpu/device_job.sh PACK_DIR OUT [BUDGET_S [MAX_EPOCHS]]
# Files back in OUT: weights_a.npz, weights_b.npz, chosen.txt, log_<run>.json, probs_<run>.npz
# (each run's validation answers at its last scored epoch; for held-out runs, tools/fusion_fit.py).
# SERIAL=1 runs them one after another instead of side by side.
set -uo pipefail
pack=$1 out=$2 budget=${3:-360} epochs=${4:-60} runs=${RUNS:-a b c}
export PYTHONUNBUFFERED=1
HOLDOUT="--holdout seeeeeeel/Hand_sign_language --holdout carbonara21/projectM7"
: "${ARGS_a:=--lr 1e-4}" "${ARGS_b:=--lr 3e-5}" "${ARGS_c:=--lr 1e-4 $HOLDOUT}" "${BASE_ARGS:=--lr 1e-4}"
: "${ARGS_f1:=$BASE_ARGS --holdout CankayaUniversity/ceng-407-408-2023-2024-SignLang2Utterance \
  --holdout Midintiakshay/Gesture-Interpreter-main --holdout but14/ASL_Detect_VGG16}"
: "${ARGS_f2:=$BASE_ARGS --holdout Tutututu123ggg/Sign_language --holdout carbonara21/projectM7 \
  --holdout t32rahman/ASL-ML}"
: "${ARGS_f3:=$BASE_ARGS --holdout seeeeeeel/Hand_sign_language \
  --holdout sufyan0011/Two-way-sign-language-recognition-system \
  --holdout vedantborse-ai/Sign-Language-Detection-Model}"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, torchvision, PIL; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'pillow', PIL.__version__)"
work=/tmp/ft
workers=5 && [ -n "${SERIAL:-}" ] && workers=16
for r in $runs; do
  mkdir -p $work/$r
  var=ARGS_$r
  echo "run $r: ${!var:-}"
  # shellcheck disable=SC2086  # the options are meant to split
  timeout $((budget + 80)) python3 tools/gpu/finetune.py --pack "$pack" --out $work/$r --budget "$budget" \
    --max-epochs "$epochs" --workers $workers ${!var:-} >$work/$r.log 2>&1 &
  # SERIAL=1: one run after another (faster in all than side by side), each one's files sent back
  # as soon as it ends, so a call cut short keeps the runs it finished
  [ -n "${SERIAL:-}" ] && wait && cp $work/$r/log.json "$out/log_$r.json" 2>/dev/null \
    && cp $work/$r/val_probs.npz "$out/probs_$r.npz" 2>/dev/null && tail -2 $work/$r.log
done
wait  # each run stops itself at its budget; timeout is the backstop that keeps the copy below
for r in $runs; do
  echo "== $r"; cat $work/$r.log; cp $work/$r/log.json "$out/log_$r.json" 2>/dev/null
  cp $work/$r/val_probs.npz "$out/probs_$r.npz" 2>/dev/null  # the last scored epoch's answers
done
# one read of the logs: the held-out runs' per-source scores (at each run's best epoch, mirror
# averaged) and their mean go to the job log; the best block-split run is the answer
best=$(python3 - "$work" $runs <<'PY'
import json, sys
scores, per_source = {}, {}
for r in sys.argv[2:]:
    try:
        log = json.load(open(f"{sys.argv[1]}/{r}/log.json"))
    except (OSError, ValueError):
        continue
    if log.get("holdout"):
        got = log.get("best", {}).get("val_per_source_flip_tta", {})
        print(f"held out in {r}: " + ", ".join(f"{k} {v:.3f}" for k, v in got.items()), file=sys.stderr)
        per_source.update(got)
    else:
        scores[r] = log["best_val_acc_flip_tta"]
if per_source:
    print(f"mean over {len(per_source)} held-out sources: "
          f"{sum(per_source.values()) / len(per_source):.4f}", file=sys.stderr)
print(max(scores, key=scores.get) if scores else "")
PY
)
echo "chosen on validation: ${best:-none}"
[ -n "$best" ] && cp $work/$best/weights_a.npz $work/$best/weights_b.npz "$out/" && echo "$best" >"$out/chosen.txt"
ls -la "$out"
