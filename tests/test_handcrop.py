"""Hand-centred crop: the box geometry, the contract field, and how the runtime honours it."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fingerspell import handcrop
from fingerspell.errors import MissingExtraError
from fingerspell.handcrop import square_box
from fingerspell.schema import MetadataError, ModelMetadata


@pytest.mark.parametrize(("points", "size"), [
    ([(0.4, 0.4), (0.6, 0.7)], (200, 100)),    # in the middle
    ([(0.0, 0.0), (0.1, 0.1)], (300, 200)),    # at a corner: shifted inside, not padded
    ([(0.95, 0.5), (1.3, 0.9)], (120, 160)),   # points outside the frame are clamped
    ([(0.0, 0.0), (1.0, 1.0)], (90, 60)),      # larger than the image: shrinks to the short side
])
def test_square_box_is_square_and_inside(points: list[tuple[float, float]], size: tuple[int, int]) -> None:
    w, h = size
    left, top, right, bottom = square_box(points, w, h)
    assert right - left == bottom - top > 0
    assert left >= 0 and top >= 0 and right <= w and bottom <= h


def test_square_box_keeps_the_hand_with_a_margin() -> None:
    left, top, right, bottom = square_box([(0.4, 0.4), (0.6, 0.6)], 100, 100, margin=1.5)
    assert (left, top, right, bottom) == (35, 35, 65, 65)


def _meta(**input_changes: object) -> dict:
    from fingerspell.schema import CLASSES, InputSpec

    m = ModelMetadata("m", "1", list(CLASSES), InputSpec(32, 32), "none").to_dict()
    m["input"].update(input_changes)
    return m


def test_crop_field_round_trips_and_old_documents_still_load() -> None:
    assert ModelMetadata.from_dict(_meta(crop="hand")).input.crop == "hand"
    v1 = _meta()
    del v1["input"]["crop"]
    v1["schema_version"] = 1
    assert ModelMetadata.from_dict(v1).input.crop == "none"
    with pytest.raises(MetadataError, match="unsupported crop"):
        ModelMetadata.from_dict(_meta(crop="face"))


def test_crop_of_roots(tmp_path: Path) -> None:
    from fingerspell_train.dataset import CROP_INDEX, crop_of

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    assert crop_of([a, b]) == "none"
    (a / CROP_INDEX).write_text("{}")
    assert crop_of([a, b]) == crop_of([a]) == "hand"  # crops and whole images: crop where possible


# -- the runtime with an artifact that asks for hand crops -------------------------------------

@pytest.fixture
def hand_model(exported: Path, tmp_path: Path) -> Path:
    onnx = pytest.importorskip("onnx")
    from fingerspell.artifact import METADATA_KEY

    model = onnx.load(str(exported / "tiny-int8.onnx"))
    for p in model.metadata_props:
        if p.key == METADATA_KEY:
            meta = json.loads(p.value)
            meta["input"]["crop"] = "hand"
            p.value = json.dumps(meta)
    path = tmp_path / "hand.onnx"
    onnx.save(model, str(path))
    return path


class _Missing:
    def __init__(self, **_: object) -> None:
        raise MissingExtraError("hand cropping needs MediaPipe: pip install 'fingerspell[hands]'")


class _LeftHalf:
    """Stands in for MediaPipe: 'finds' the hand in the left half of every image."""

    def __init__(self, **_: object) -> None:  # HandCropper's options (engine=...)
        pass

    def crop(self, img: Image.Image) -> Image.Image:
        return img.crop((0, 0, img.width // 2, img.height))


def _two_colours() -> Image.Image:
    arr = np.zeros((64, 128, 3), np.uint8)
    arr[:, :64] = (255, 0, 0)
    arr[:, 64:] = (0, 0, 255)
    return Image.fromarray(arr)


def test_missing_extra_warns_once_and_reads_whole_images(hand_model: Path, monkeypatch) -> None:
    from fingerspell.recognizer import Recognizer

    monkeypatch.setattr(handcrop, "HandCropper", _Missing)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = Recognizer(hand_model)
    assert rec.crop == "none" and len(caught) == 1 and "fingerspell[hands]" in str(caught[0].message)
    assert rec.predict(_two_colours()).label
    with pytest.raises(MissingExtraError):
        Recognizer(hand_model, crop="hand")


def test_crop_is_applied_before_the_resize(hand_model: Path, monkeypatch) -> None:
    from fingerspell.recognizer import Recognizer

    monkeypatch.setattr(handcrop, "HandCropper", _LeftHalf)
    rec = Recognizer(hand_model)
    assert rec.crop == "hand"
    px = rec.pixels(_two_colours())
    assert (px[..., 0] == 255).all() and (px[..., 2] == 0).all()  # only the left (red) half
    assert (Recognizer(hand_model, crop="none").pixels(_two_colours())[..., 2] == 255).any()


def test_cli_crop_option(hand_model: Path, tmp_path: Path, monkeypatch) -> None:
    from fingerspell.cli import app

    monkeypatch.setattr(handcrop, "HandCropper", _Missing)
    photo = tmp_path / "p.png"
    _two_colours().save(photo)
    runner = CliRunner()
    auto = runner.invoke(app, ["predict", str(photo), "--model", str(hand_model)])
    assert auto.exit_code == 0 and "note:" in auto.output and "Traceback" not in auto.output
    need = runner.invoke(app, ["predict", str(photo), "--model", str(hand_model), "--crop", "hand"])
    assert need.exit_code == 5 and "fingerspell[hands]" in need.output
    bad = runner.invoke(app, ["predict", str(photo), "--model", str(hand_model), "--crop", "face"])
    assert bad.exit_code == 2
