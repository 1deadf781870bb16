#!/usr/bin/env bash
# One GPU lease, three fine-tunes side by side (the GPU has room for all three):
#   a: learning rate 1e-4, block-split validation
#   b: learning rate 3e-5, block-split validation
#   c: learning rate 1e-4, two whole sources held out (never trained on): "people we never saw"
# The better of a and b on validation (never the dev set) sends its weights back; c sends its log.
# Usage (on the GPU machine, from the repository root):
#   tools/gpu/device_job.sh PACK_DIR OUT [BUDGET_S [MAX_EPOCHS]]
# Files back in OUT: weights_a.npz, weights_b.npz, chosen.txt, log_a/b/c.json (7 with the job log).
set -uo pipefail
pack=$1 out=$2 budget=${3:-360} epochs=${4:-60} runs=${RUNS:-a b c}  # RUNS="a c": only those
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, torchvision, PIL; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'pillow', PIL.__version__)"
work=/tmp/ft && mkdir -p $work/a $work/b $work/c
[[ " $runs " == *" a "* ]] && \
timeout $((budget + 80)) python3 tools/gpu/finetune.py --pack "$pack" --out $work/a --budget "$budget" --max-epochs "$epochs" --lr 1e-4 --workers 5 >$work/a.log 2>&1 &
[[ " $runs " == *" b "* ]] && \
timeout $((budget + 80)) python3 tools/gpu/finetune.py --pack "$pack" --out $work/b --budget "$budget" --max-epochs "$epochs" --lr 3e-5 --workers 5 >$work/b.log 2>&1 &
[[ " $runs " == *" c "* ]] && \
timeout $((budget + 80)) python3 tools/gpu/finetune.py --pack "$pack" --out $work/c --budget "$budget" --max-epochs "$epochs" --lr 1e-4 --workers 5 \
  --holdout seeeeeeel/Hand_sign_language --holdout carbonara21/projectM7 >$work/c.log 2>&1 &
wait  # each run stops itself at its budget; timeout is the backstop that keeps the copy below
for r in $runs; do echo "== $r"; cat $work/$r.log; cp $work/$r/log.json "$out/log_$r.json" 2>/dev/null; done
best=$(python3 - "$work" <<'EOF'
import json, sys
scores = {}
for r in "ab":
    try:
        scores[r] = json.load(open(f"{sys.argv[1]}/{r}/log.json"))["best_val_acc_flip_tta"]
    except (OSError, KeyError, ValueError):
        pass
print(max(scores, key=scores.get) if scores else "")
EOF
)
echo "chosen on validation: ${best:-none}"
[ -n "$best" ] && cp $work/$best/weights_a.npz $work/$best/weights_b.npz "$out/" && echo "$best" >"$out/chosen.txt"
ls -la "$out"
