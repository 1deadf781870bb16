"""The committed artifacts: checksums, metadata, and agreement with each other on real photos."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from conftest import shared_data

from fingerspell.artifact import DEFAULT_ARTIFACT, bundled_dir, sha256_file
from fingerspell.recognizer import Recognizer
from fingerspell.schema import CLASSES

ARTIFACTS = bundled_dir()
# The default ONNX model and the TFLite one shipped beside it (full-integer or dynamic-range int8).
SHIPPED = [DEFAULT_ARTIFACT, *sorted(p.name for p in ARTIFACTS.glob("fingerspell-vgg16-int8*.tflite"))]


def _require_artifacts() -> None:
    if len(SHIPPED) != 2 or not all((ARTIFACTS / n).is_file() for n in SHIPPED):
        pytest.skip(f"shipped artifacts are not in {ARTIFACTS}")


def test_checksums_match() -> None:
    _require_artifacts()
    sums = {}
    for line in (ARTIFACTS / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        sums[name] = digest
    assert set(SHIPPED) <= set(sums)
    for name, digest in sums.items():
        assert sha256_file(ARTIFACTS / name) == digest, name


def test_metadata_is_complete_and_consistent() -> None:
    _require_artifacts()
    metas = [Recognizer(ARTIFACTS / n, threads=1).metadata for n in SHIPPED]
    for meta in metas:
        assert meta.labels == list(CLASSES)
        assert (meta.input.height, meta.input.width, meta.input.dtype) == (150, 150, "uint8")
        assert meta.training["backbone_weights"] and meta.training["command"].startswith("fingerspell train")
        assert meta.training["source_counts"] and "val_accuracy" in meta.metrics
        assert meta.artifact["keras_sha256"] == metas[0].artifact["keras_sha256"]
    assert DEFAULT_ARTIFACT in SHIPPED


def _card_floor() -> float:
    text = (ARTIFACTS / "MODEL_CARD.md").read_text()
    m = re.search(r"accuracy floor[^0-9]*([0-9.]+) ?%", text)
    assert m, "MODEL_CARD.md states no accuracy floor"
    return float(m.group(1)) / 100


@pytest.mark.data
def test_artifacts_agree_on_real_people_and_beat_the_card_floor() -> None:
    _require_artifacts()
    massey = shared_data("dev/massey")
    files = sorted(massey.glob("*/*.jpg"))[::3]  # a third of the set keeps CI fast
    labels = np.array([CLASSES.index(f.parent.name) for f in files])
    preds = {}
    for name in SHIPPED:
        rec = Recognizer(ARTIFACTS / name)
        preds[name] = np.array([CLASSES.index(p.label) if p.ok else -1
                                for p in rec.predict_many(files, batch_size=16)])
    a, b = preds.values()
    assert (a == b).mean() >= 0.99
    floor = _card_floor()
    for name, p in preds.items():
        assert (p == labels).mean() >= floor, name
    summary = json.loads((ARTIFACTS / "parity.json").read_text())
    assert all(r["ok"] for r in summary["artifacts"])
