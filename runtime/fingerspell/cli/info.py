"""`fingerspell info`: what the model is, how it was trained, how well it does."""

from __future__ import annotations

from pathlib import Path

import typer

from fingerspell.cli.common import POSE_HELP, emit, load_recognizer, path_arg

HAND_ENGINES_TEXT = {
    "onnx": "MediaPipe Hands' palm and landmark networks, bundled (hands-palm.onnx, "
            "hands-landmark.onnx), in onnxruntime",
    "mediapipe": "MediaPipe itself (the 'hands' extra)",
}


def info(
    model: Path = typer.Option(None, parser=path_arg,
                               help="A .onnx or .tflite artifact (default: the bundled model)."),
    as_json: bool = typer.Option(False, "--json", help="The full metadata document as JSON."),
    pose: str = typer.Option("auto", help=POSE_HELP),
) -> None:
    """Show the model's metadata: labels, input, training data, metrics.

    Example: fingerspell info --model artifacts/fingerspell-vgg16-int8.tflite
    """
    rec = load_recognizer(model, None, 1, pose=pose)
    meta = rec.metadata
    if as_json:
        emit(meta.to_json(indent=1))
        return
    spec = meta.input
    tr = meta.training
    lines = [
        f"model      {meta.name} {meta.version}  ({rec.path})",
        f"format     {meta.artifact.get('format', '?')}, {meta.artifact.get('quantization', '?')}; "
        f"backend {rec.backend.name}",
        f"input      {spec.height}x{spec.width} {spec.color_order} {spec.dtype} "
        f"{spec.value_range[0]:g}-{spec.value_range[1]:g}, resize {spec.resize_method}/{spec.resize_fit}, "
        f"crop {spec.crop} (applied: {rec.crop})",
        *([f"tta        {meta.artifact['tta']}"] if meta.artifact.get("tta") else []),
        "hands      " + (HAND_ENGINES_TEXT.get(rec.hands, rec.hands) if rec.hands else "not looked for"),
        "pose head  " + (f"{rec.pose_head.training.get('model', '?')}, fused where a hand is found"
                         + (f" (reads {rec.pose_head.views()})"
                            if rec.pose_head.extra_looks else "")
                         + (f"; {rec.pose_head.whole_text()}"
                            if rec.pose_head.whole_below is not None and rec.crop == "hand" else "")
                         + (f"; {rec.pose_head.no_hand_text()}"
                            if rec.pose_head.weighs_nothing else "")
                         if rec.pose_head else "none"),
        *([f"adapted    {_adapted(rec.pose_head.training['adapted'], rec.pose_head.adapted_classes)}"]
          if rec.pose_head and rec.pose_head.training.get("adapted") else []),
        f"labels     {len(meta.labels)}: {' '.join(meta.labels)}",
        f"trained on {', '.join(f'{k} ({v})' for k, v in tr.get('source_counts', {}).items()) or '?'}",
        f"backbone   {tr.get('backbone_weights', '?')}",
    ]
    if meta.metrics:
        # the trained network's own scores (Keras, whole photos): not what the runtime reads as
        # installed, with the hand crop, views and pose head, which the card gives
        lines.append("metrics    the network alone, before export: " + ", ".join(
            f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in meta.metrics.items()))
    if tr.get("command"):
        lines.append(f"command    {tr['command']}")
    card = rec.path.parent / "MODEL_CARD.md"
    if card.is_file():
        lines.append(f"card       {card}")
    emit("\n".join(lines))


def _adapted(how: dict, classes: list[str] | None) -> str:
    """An adapted pose head (`fingerspell adapt`) in words: from what, to how many photos, and
    whether to tell some letters apart only."""
    photos = how.get("photos", {})
    return (f"from {how.get('from', '?')} to {sum(photos.values())} photos of {len(photos)} "
            f"letters ({how.get('date', '?')})"
            + (f"; decides among {' '.join(classes)} only, the others read as before"
               if classes is not None else "")
            + (f": {how['command']}" if how.get("command") else ""))
