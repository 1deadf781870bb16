"""Print the study table (markdown) from the run folders written by benchmarks/study.sh."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(root: Path) -> None:
    rows: dict[str, dict[str, float]] = {}
    for summary in sorted(root.glob("*/summary.json")):
        s = json.loads(summary.read_text())
        row = rows.setdefault(s["preset"], {})
        row[s["split"]["method"]] = s.get("val_accuracy", float("nan"))
        row.setdefault("massey", [])
        row["massey"].append(s.get("eval_massey_accuracy", float("nan")))
    print("| preset | random split (study) | leak-free block split | dev/massey (other people) |")
    print("|---|---|---|---|")
    for preset, row in rows.items():
        massey = " / ".join(f"{m:.1%}" for m in row["massey"])
        print(f"| {preset} | {row.get('random', float('nan')):.1%} | "
              f"{row.get('block', float('nan')):.1%} | {massey} |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/study"))
