#!/bin/bash
# Does the runtime give the same answers under other versions of its dependencies?
#   benchmarks/dependency_versions.sh OUT 'onnxruntime==1.18.0 numpy==1.24.4 ...' [...]
# Each argument after OUT is one set of pip requirements: a fresh venv gets the set, then this
# checkout without its dependencies, then reads 150 dev/massey photos (seed 0) with --csv. The
# first set is the reference the others are compared with (letters and confidences). Needs the
# package registry and ../shared/data; about a minute a set on two cores.
set -u
out=$1; shift
root=$(cd "$(dirname "$0")/.." && pwd)
massey=${MASSEY:-$root/../shared/data/dev/massey}
mkdir -p "$out"
python3 - "$massey" > "$out/photos.txt" <<'EOF'
import random, sys
from pathlib import Path
files = sorted(str(p) for p in Path(sys.argv[1]).glob("*/*") if p.is_file())
random.seed(0)
print("\n".join(sorted(random.sample(files, 150))))
EOF
i=0
for set in "$@"; do
  venv=$out/venv$i
  python3 -m venv "$venv"
  # shellcheck disable=SC2086  # a set is several requirements
  "$venv/bin/pip" install -q $set > "$out/pip$i.log" 2>&1 || { echo "set $i: pip failed"; i=$((i + 1)); continue; }
  "$venv/bin/pip" install -q --no-deps "$root" >> "$out/pip$i.log" 2>&1
  # shellcheck disable=SC2046  # one argument a photo
  "$venv/bin/fingerspell" predict $(cat "$out/photos.txt") --csv > "$out/answers$i.csv" 2> "$out/stderr$i.txt"
  rc=$?
  versions=$("$venv/bin/pip" list 2>/dev/null | grep -i -E '^(numpy|pillow|requests|urllib3|typer|click|onnxruntime) ' | awk '{printf "%s %s, ", $1, $2}')
  echo "set $i ($set): exit $rc; installed: ${versions%, }"
  if [ "$i" -gt 0 ] && [ "$rc" -eq 0 ]; then
    python3 - "$out/answers0.csv" "$out/answers$i.csv" <<'EOF'
import csv, sys
ref, got = ({r["source"]: r for r in csv.DictReader(open(f))} for f in sys.argv[1:3])
moved = sum(ref[k]["label"] != got[k]["label"] for k in ref)
conf = max(abs(float(ref[k]["confidence"]) - float(got[k]["confidence"])) for k in ref)
print(f"  {len(got)} answers; letters differing from set 0: {moved}; largest confidence difference {conf:.4f}")
EOF
  elif [ "$rc" -ne 0 ]; then
    tail -n 1 "$out/stderr$i.txt" | sed 's/^/  /'
  fi
  i=$((i + 1))
done
