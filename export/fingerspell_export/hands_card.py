"""Refresh what the model card says about the runtime as installed (hand crop and pose head),
when only the pose head or the runtime's hand path changed and the network's artifacts did not.

    python -m fingerspell_export.hands_card artifacts --dev ../shared/data/dev/massey \
        --hands-csv massey-hands.csv [--holdout runs/installed-holdout.json] \
        [--val-photos runs/val-photos.json]

`ship` writes the whole card from an export and its training run; this rewrites only the parts
that depend on that reading: the pose head section, the first known limitation and
`dev_scores.json`'s `with_hands`, from the pose head in DEST and a `fingerspell predict DEV --csv`
file. The network's figures are read back from
`dev_scores.json`, which `ship` measured; the checksums are rewritten. `--holdout` (the `--json`
of `benchmarks/installed_holdout.py`) writes or replaces the section on whole photos of people and
rooms held out, read as installed; `--val-photos` (the `--json` of `benchmarks/val_photos.py`) the
section on the training people's validation photos, read as installed. Everything else stays.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from fingerspell.artifact import sha256_file
from fingerspell.errors import FingerspellError
from fingerspell_export.ship import (
    POSE_HEADING,
    ShipError,
    _pose_head,
    hands_score,
    pose_section,
    reads_line,
)


def _replace_section(card: str, heading: str, lines: list[str]) -> str:
    """The card with the section under `heading` (up to the next `## `) replaced by `lines`."""
    start = card.find(heading + "\n")
    if start < 0:
        raise ShipError(f"the model card has no {heading!r} section: ship it first")
    end = card.find("\n## ", start + len(heading))
    end = len(card) if end < 0 else end + 1
    return card[:start] + "\n".join(lines).rstrip("\n") + "\n\n" + card[end:].lstrip("\n")


def _share(counts: dict[str, int], key: str, digits: int) -> str:
    return f"{100 * counts[key] / counts['photos']:.{digits}f} %"


def _rows(counts: dict[str, dict[str, int]], cells: Callable[[dict[str, int]], list[str]]) -> list[str]:
    """A table row per source (the total last, in bold): its name, its photos, then `cells`."""
    return ["| " + " | ".join(["**all**" if s == "all" else s, str(c["photos"]), *cells(c)]) + " |"
            for s, c in counts.items()]


HOLDOUT_HEADING = "## People and rooms held out, whole photos as installed"


def holdout_section(counts: dict[str, dict[str, int]]) -> list[str]:
    """The card's lines for `benchmarks/installed_holdout.py --json`'s per-source counts."""
    lines = [HOLDOUT_HEADING, "",
             "A stranger's photo of a hand in a room, read the way the runtime reads it: `train/multi`'s "
             "nine people-and-rooms, each held out in turn from a twin of the network (27 epochs on a "
             "GPU without three of the sources) and from a pose head fitted as the shipped one without "
             "them; the bundled hand finder, every look it takes (padded, brightened, blurred, "
             "stretched, tiled) and the pose head's views "
             "as installed; the network alone where no view shows a hand, and on the whole photo too "
             "where the pose head asks for it "
             f"(`benchmarks/installed_holdout.py`, regenerated {date.today().isoformat()}). The shipped "
             "network trained on all nine sources, so its own figure here cannot be had; the twins are "
             "not its recipe (55 GPU epochs, then five on the CPU with MixStyle). A hand found: in the "
             "photo or in one of the views the pose head reads.", "",
             "| held-out source | whole photos | network alone | as installed | a hand found |",
             "|---|---|---|---|---|"]
    return lines + _rows(counts, lambda c: [_share(c, k, 1) for k in (
        "network alone", "as installed", "as installed: hand found")])


VAL_HEADING = "## The training people's new frames, whole photos as installed"


def val_section(counts: dict[str, dict[str, int]]) -> list[str]:
    """The card's lines for `benchmarks/val_photos.py --json`'s per-source counts."""
    lines = [VAL_HEADING, "",
             "The block split's validation photos (frames of the training people and rooms, never "
             "adjacent to a training frame), whole and at full size, as `fingerspell predict` reads "
             "a user's photo: the hand found and cropped, the pose head fused (and the whole photo "
             "read too where the head asks for it); beside it the network "
             "alone on the whole photo (`--crop none --pose none`). The Keras figure above reads the "
             "pack's 150 px images, hand crops included "
             f"(`benchmarks/val_photos.py`, regenerated {date.today().isoformat()}).", "",
             "| source | whole photos | network alone | as installed |", "|---|---|---|---|"]
    return lines + _rows(counts, lambda c: [
        _share(c, "network alone", 2) if "network alone" in c else "–", _share(c, "as installed", 2)])


def _put_section(card: str, heading: str, lines: list[str], before: str) -> str:
    """The card with the section under `heading` replaced, or added before the `before` one."""
    if heading + "\n" in card:
        return _replace_section(card, heading, lines)
    at = card.find(before + "\n")
    if at < 0:
        raise ShipError(f"the model card has no {before!r} section: ship it first")
    return card[:at] + "\n".join(lines) + "\n\n" + card[at:]


def _counts(path: Path, tool: str) -> dict[str, dict[str, int]]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ShipError(f"{path}: not {tool}'s --json ({exc})") from None


def refresh(dest: Path, dev: Path, hands_csv: Path, holdout: Path | None = None,
            val_photos: Path | None = None) -> dict[str, Any]:
    card_path, scores_path = dest / "MODEL_CARD.md", dest / "dev_scores.json"
    try:
        card, scores = card_path.read_text(), json.loads(scores_path.read_text())
    except (OSError, ValueError) as exc:
        raise ShipError(f"{dest}: no shipped card and scores to refresh ({exc})") from None
    head = _pose_head(dest)
    if head is None:
        raise ShipError(f"{dest}: no pose head to describe")
    networks = {k: v for k, v in scores.items() if k.endswith((".onnx", ".tflite"))}
    if not networks:
        raise ShipError(f"{scores_path}: no scores of the shipped artifacts")
    hands = hands_score(hands_csv, dev)
    network = next(iter(networks.values()))  # the card's first artifact, as ship's card takes it
    section = pose_section(head, hands, network, dev.name)
    section[2] += (f" (This section regenerated {date.today().isoformat()} by "
                   "`python -m fingerspell_export.hands_card`; the network's files unchanged.)")
    card = _replace_section(card, POSE_HEADING, section)
    old = next((ln for ln in card.splitlines() if ln.startswith("- It reads ")), None)
    if old is not None:
        worst = min(v["accuracy"] for v in networks.values())
        card = card.replace(old, reads_line(worst, hands, dev.name), 1)
    if holdout is not None:
        counts = _counts(holdout, "installed_holdout.py")
        card = _put_section(card, HOLDOUT_HEADING, holdout_section(counts), "## Parity with Keras")
    if val_photos is not None:
        counts = _counts(val_photos, "val_photos.py")
        card = _put_section(card, VAL_HEADING, val_section(counts), "## Parity with Keras")
    scores["with_hands"] = {k: v for k, v in hands.items() if k not in ("confusion_matrix", "labels")}
    scores_path.write_text(json.dumps(scores, indent=1) + "\n")
    card_path.write_text(card)
    files = sorted(p for p in dest.iterdir() if p.suffix in (".onnx", ".tflite", ".json"))
    (dest / "SHA256SUMS").write_text("".join(f"{sha256_file(p)}  {p.name}\n" for p in files))
    return hands


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dest", type=Path, help="the shipped artifacts' folder (its card and scores)")
    ap.add_argument("--dev", type=Path, required=True, help="the labelled folder the CSV read")
    ap.add_argument("--hands-csv", type=Path, required=True,
                    help="`fingerspell predict DEV --csv` output")
    ap.add_argument("--holdout", type=Path,
                    help="benchmarks/installed_holdout.py --json: the held-out people's section")
    ap.add_argument("--val-photos", type=Path,
                    help="benchmarks/val_photos.py --json: the validation photos' section")
    args = ap.parse_args()
    try:
        hands = refresh(args.dest, args.dev, args.hands_csv, args.holdout, args.val_photos)
    except (ShipError, FingerspellError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(getattr(exc, "exit_code", 1)) from None
    print(f"{args.dest}: as installed, {args.dev} accuracy {hands['accuracy']:.4f}")


if __name__ == "__main__":
    main()
