"""Does an artifact compute what the Keras model computes? Agreement, differences, sanity guards."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# Thresholds from the export contract: fp32 must match Keras; quantized must agree on top-1.
FP32_MAX_ABS = 1e-4
QUANT_MIN_AGREEMENT = 0.99
# A model whose outputs barely move is broken (e.g. an int8 model predicting one class).
MIN_MEAN_TOP1 = 0.2  # mean top-1 probability; uniform over 29 classes would be 0.034
MIN_CLASSES_PREDICTED = 2


@dataclass
class Parity:
    artifact: str
    format: str
    size_bytes: int
    n: int
    top1_agreement: float
    max_abs_diff: float
    mean_abs_diff: float
    mean_top1_prob: float
    classes_predicted: int
    accuracy: float | None = None  # on labelled parity images, when labels are known
    keras_accuracy: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def compare(name: str, fmt: str, size: int, keras_probs: np.ndarray, probs: np.ndarray,
            labels: np.ndarray | None, quantized: bool, min_size: int) -> Parity:
    diff = np.abs(keras_probs - probs)
    top = probs.argmax(1)
    p = Parity(
        artifact=name, format=fmt, size_bytes=size, n=len(probs),
        top1_agreement=float((top == keras_probs.argmax(1)).mean()),
        max_abs_diff=float(diff.max()), mean_abs_diff=float(diff.mean()),
        mean_top1_prob=float(probs.max(1).mean()), classes_predicted=len(set(top.tolist())),
    )
    if labels is not None and (labels >= 0).any():
        m = labels >= 0
        p.accuracy = float((top[m] == labels[m]).mean())
        p.keras_accuracy = float((keras_probs.argmax(1)[m] == labels[m]).mean())
    if quantized:
        if p.top1_agreement < QUANT_MIN_AGREEMENT:
            p.problems.append(f"top-1 agreement {p.top1_agreement:.4f} < {QUANT_MIN_AGREEMENT}")
    else:
        if p.top1_agreement < 1.0:
            p.problems.append(f"top-1 differs from Keras on {round((1 - p.top1_agreement) * p.n)} "
                              "image(s)")
        if p.max_abs_diff > FP32_MAX_ABS:
            p.problems.append(f"max |p - p_keras| {p.max_abs_diff:.2e} > {FP32_MAX_ABS:.0e}")
    if p.mean_top1_prob < MIN_MEAN_TOP1:
        p.problems.append(f"near-uniform outputs (mean top-1 probability {p.mean_top1_prob:.3f})")
    if len(probs) >= 20 and p.classes_predicted < MIN_CLASSES_PREDICTED:
        p.problems.append("predicts a single class for every image")
    if size < min_size:
        p.problems.append(f"file is {size:,} bytes, far smaller than the expected {min_size:,}")
    return p


def table(rows: list[Parity]) -> str:
    head = (f"{'artifact':<36} {'format':<12} {'size MB':>8} {'n':>5} {'top-1 agree':>11} "
            f"{'max|Δp|':>9} {'mean|Δp|':>9} {'accuracy':>8}  status")
    lines = [head, "-" * len(head)]
    for r in rows:
        acc = f"{r.accuracy:.4f}" if r.accuracy is not None else "-"
        status = "ok" if r.ok else "FAIL: " + "; ".join(r.problems)
        lines.append(f"{r.artifact:<36} {r.format:<12} {r.size_bytes / 1e6:8.2f} {r.n:5d} "
                     f"{r.top1_agreement:11.4f} {r.max_abs_diff:9.2e} {r.mean_abs_diff:9.2e} "
                     f"{acc:>8}  {status}")
    return "\n".join(lines) + "\n"


def write_report(rows: list[Parity], out_dir: Path, extra: dict[str, Any]) -> None:
    doc = {**extra, "artifacts": [{**asdict(r), "ok": r.ok} for r in rows]}
    (out_dir / "parity.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out_dir / "parity.txt").write_text(table(rows))
