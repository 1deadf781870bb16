"""MediaPipe Hands in onnxruntime (fingerspell.handmodels): the bundled hand models, the geometry
around them, and the default install finding hands with no MediaPipe."""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fingerspell.artifact import bundled_dir
from fingerspell.handcrop import THIRD_TILE_MIN_SIDE, TILES
from fingerspell.handmodels import (
    HAND_MODELS,
    HANDS_METADATA_KEY,
    OnnxHands,
    anchors,
    sample,
    sample_numpy,
)

MASSEY = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dev" / "massey"
L_PHOTO = MASSEY / "L" / "hand2_l_bot_seg_1_cropped.jpg"
needs_models = pytest.mark.skipif(not all((bundled_dir() / m).is_file() for m in HAND_MODELS),
                                  reason=f"the bundled hand models {HAND_MODELS} are missing")
needs_massey = pytest.mark.skipif(not L_PHOTO.is_file(), reason=f"no {L_PHOTO} (../shared/data absent)")
# the tiles a small photo is searched in: its half tiles (its third-size ones are under the floor)
HALF_TILES = sum(side == 0.5 for *_, side in TILES)


def test_anchors_are_the_palm_detectors_2016() -> None:
    a = anchors()
    assert a.shape == (2016, 2)
    # 24 x 24 cells of stride 8, two anchors each, then 12 x 12 cells of stride 16, six each
    np.testing.assert_allclose(a[:2], [[0.5 / 24, 0.5 / 24]] * 2)
    np.testing.assert_allclose(a[2], [1.5 / 24, 0.5 / 24])
    np.testing.assert_allclose(a[1152:1158], [[0.5 / 12, 0.5 / 12]] * 6)
    np.testing.assert_allclose(a[-1], [11.5 / 12, 11.5 / 12])


def _smooth(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 8 + 2, w // 8 + 2, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BILINEAR))


def test_a_square_the_size_of_the_input_is_the_photo_itself() -> None:
    img = _smooth(64, 64)
    for fn in (sample, sample_numpy):
        np.testing.assert_array_equal(fn(img, (32, 32), 64, 0.0, 64), img)
        np.testing.assert_array_equal(fn(img, (32, 32), 64, 0.0, 64, zero_border=True), img)


@pytest.mark.parametrize("size", [(120, 90), (61, 97), (700, 500)])
def test_pil_sampling_is_within_a_level_of_opencvs(size: tuple[int, int]) -> None:
    """The fast path (PIL) against the reference (numpy, OpenCV's arithmetic): squares inside,
    across the edge and far outside the photo, turned, letterboxed with black."""
    w, h = size
    img = _smooth(h, w)
    cases = [((w / 2, h / 2), max(w, h), 0.0, 192, True), ((w / 2, h / 2), w / 3, 0.5, 224, False),
             ((w * 0.1, h * 0.9), w * 1.3, 2.5, 224, False), ((w / 2, h / 2), w * 3, -1.0, 224, False),
             ((0, 0), w / 5, 0.2, 224, False)]
    for centre, side, angle, n, zero in cases:
        a = sample(img, centre, side, angle, n, zero_border=zero)
        b = sample_numpy(img, centre, side, angle, n, zero_border=zero)
        diff = np.abs(a - b)
        assert a.shape == (n, n, 3) and diff.max() <= 3 and (diff > 1).mean() < 0.01


def test_outside_the_photo_is_its_edge_or_black() -> None:
    img = np.zeros((40, 40, 3), np.uint8)
    img[:, -1] = 200  # the right edge column
    right_of_it = sample(img, (100, 20), 20, 0.0, 10)  # a square well right of the photo
    assert (right_of_it == 200).all()
    assert (sample(img, (100, 20), 20, 0.0, 10, zero_border=True) == 0).all()


@needs_models
def test_no_hand_in_a_blank_or_tiny_photo() -> None:
    hands = OnnxHands(bundled_dir(), 0.3)
    for shape in ((120, 160, 3), (1, 1, 3), (2, 300, 3)):
        assert hands.find(np.zeros(shape, np.uint8)) is None
    assert hands.find(np.full((64, 64, 3), 255, np.uint8)) is None


@needs_models
@needs_massey
def test_the_bundled_models_find_a_real_hand() -> None:
    pixels = np.asarray(Image.open(L_PHOTO).convert("RGB"))
    found = OnnxHands(bundled_dir(), 0.3).find(pixels)
    assert found is not None and len(found.points) == len(found.world) == 21
    xs, ys = zip(*found.points, strict=True)
    assert 0 <= min(xs) < max(xs) <= 1 and 0 <= min(ys) < max(ys) <= 1
    palm = math.dist(found.world[0], found.world[9])  # wrist to the middle finger's base, metres
    assert 0.05 < palm < 0.15


@needs_models
@needs_massey
def test_the_runtime_keeps_a_hand_only_at_its_presence() -> None:
    """The bundled finder drops a hand whose landmark presence is under its min_presence (the
    default install's is handcrop.MIN_PRESENCE, above MediaPipe's 0.5: "hands" in empty rooms)."""
    from fingerspell.handcrop import MIN_PRESENCE, hand_finder

    pixels = np.asarray(Image.open(L_PHOTO).convert("RGB"))
    assert hand_finder().min_presence == MIN_PRESENCE > 0.5
    found = OnnxHands(bundled_dir(), 0.3, min_presence=0.5).find(pixels)
    assert found is not None and found.presence is not None and found.presence >= MIN_PRESENCE
    assert OnnxHands(bundled_dir(), 0.3, min_presence=found.presence - 1e-4).find(pixels) is not None
    assert OnnxHands(bundled_dir(), 0.3, min_presence=found.presence + 1e-4).find(pixels) is None


@pytest.mark.skipif(find_spec("mediapipe") is None, reason="MediaPipe (the hands extra) not installed")
@needs_models
@needs_massey
def test_the_same_hand_as_mediapipe() -> None:
    from fingerspell.handcrop import hand_finder

    ours, theirs = hand_finder("onnx"), hand_finder("mediapipe")
    for path in sorted(MASSEY.glob("[A-E]/*_seg_1_*.jpg"))[:20]:
        pixels = np.asarray(Image.open(path).convert("RGB"))
        a, b = ours.find(pixels), theirs.find(pixels)
        assert (a is None) == (b is None), path
        if a is not None and b is not None:
            assert np.abs(np.subtract(a.world, b.world)).max() < 0.02, path  # metres


@needs_models
def test_the_default_install_crops_and_reads_the_pose_without_mediapipe() -> None:
    from fingerspell.recognizer import Recognizer

    rec = Recognizer()
    assert rec.crop == "hand" and rec.pose_head is not None and rec._hands.engine == "onnx"
    assert rec.predict(np.zeros((50, 80, 3), np.uint8)).label  # no hand: the network alone


def test_hands_option_is_checked() -> None:
    from fingerspell.cli import app
    from fingerspell.recognizer import Recognizer

    with pytest.raises(ValueError, match="hands must be one of"):
        Recognizer(hands="opencv")
    res = CliRunner().invoke(app, ["predict", "x.jpg", "--hands", "opencv"])
    assert res.exit_code == 2 and "--hands must be one of" in res.output


@pytest.mark.skipif(find_spec("mediapipe") is not None, reason="MediaPipe is installed here")
def test_asking_for_mediapipe_without_it_names_the_extra() -> None:
    from fingerspell.cli import app

    res = CliRunner().invoke(app, ["predict", "x.jpg", "--hands", "mediapipe"])
    assert res.exit_code == 5 and "fingerspell[hands]" in res.output and "Traceback" not in res.output


@needs_models
def test_hand_models_are_checksummed_and_not_benchmarked_as_letter_models() -> None:
    sums = (bundled_dir() / "SHA256SUMS").read_text()
    assert all(m in sums for m in HAND_MODELS)
    onnx = pytest.importorskip("onnx")

    for name in HAND_MODELS:
        model = onnx.load(str(bundled_dir() / name), load_external_data=False)
        meta = {p.key: p.value for p in model.metadata_props}
        assert "mediapipe 0.10.21" in meta[HANDS_METADATA_KEY]
        assert not any(n.op_type == "PRelu" for n in model.graph.node)
    import json

    from fingerspell.cli import app

    res = CliRunner().invoke(app, ["benchmark", "--runs", "1", "--json"])
    assert res.exit_code == 0, res.output
    benchmarked = [r["artifact"] for r in json.loads(res.stdout)]
    assert benchmarked and not set(benchmarked) & set(HAND_MODELS)


def test_float16_storage_and_prelu_rewrite_keep_the_numbers(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    from fingerspell_export.hands_models import to_float16_storage, without_prelu

    rng = np.random.default_rng(0)
    weight = rng.normal(size=(4, 3, 3, 3)).astype(np.float16).astype(np.float32)  # fp16 values
    slope = rng.normal(size=(1, 4, 1, 1)).astype(np.float32) * 0.3
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("PRelu", ["c", "s"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(slope, "s")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.normal(size=(1, 3, 8, 8)).astype(np.float32)

    def run(m: object) -> np.ndarray:
        path = tmp_path / "m.onnx"
        onnx.save(m, str(path))
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]

    before = run(model)
    assert to_float16_storage(model) == 1  # the weight; the slope (4 values) stays as it is
    assert without_prelu(model) == 1
    assert not any(n.op_type == "PRelu" for n in model.graph.node)
    np.testing.assert_array_equal(run(model), before)


@pytest.mark.skipif(find_spec("mediapipe") is None, reason="MediaPipe (the hands extra) not installed")
def test_mediapipe_finder_closes() -> None:
    from fingerspell.handcrop import HandCropper

    cropper = HandCropper(engine="mediapipe")
    assert cropper.engine == "mediapipe" and cropper.look(Image.new("RGB", (64, 48))) is None
    cropper.close()


MULTI = MASSEY.parents[1] / "train" / "multi"
BACKLIT = MULTI / "A" / "cankaya-signlang2utt__data_A_0.jpg"  # a dark hand before a bright lamp
WASHED_OUT = MULTI / "D" / "midintiakshay-gesture__data_D_10.jpg"  # a dull hand in a sunlit room
NEAR = MULTI / "L" / "carbonara21-projm7__data_L_23.jpg"  # a hand filling half the photo


def test_brightened_lifts_the_shadows_and_keeps_the_ends() -> None:
    from fingerspell.handcrop import brightened

    levels = np.arange(256, dtype=np.uint8)
    lifted = brightened(levels).astype(int)
    assert lifted[0] == 0 and lifted[255] == 255 and lifted[64] == 128  # gamma 0.5
    assert np.all(np.diff(lifted) >= 0) and np.all(lifted >= levels)
    assert brightened(np.zeros((4, 5, 3), np.uint8)).shape == (4, 5, 3)


@pytest.fixture(autouse=True)
def _tiles_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fakes below count and order what the finder is shown: the tile search runs one tile at
    a time for them (TILE_THREADS = 1, the search as it was before it ran on two threads); the
    tests at the end of this file check the two-thread search against it."""
    from fingerspell import handcrop

    monkeypatch.setattr(handcrop, "TILE_THREADS", 1)


class _Finder:
    """A finder that sees a hand only in brightened pixels (any above mid-grey), with the
    presence given, and counts what it was shown."""

    name = "onnx"

    def __init__(self, presence: float | None, reports_presence: bool = True) -> None:
        self.presence, self.reports_presence = presence, reports_presence
        self.shown: list[int] = []

    def find(self, pixels: np.ndarray) -> object:
        from fingerspell.handmodels import Found

        self.shown.append(int(pixels.max()))
        if pixels.max() < 128:
            return None
        return Found([(0.4, 0.4), (0.6, 0.6)], [(0.0, 0.0, 0.0)] * 21, True, self.presence)


def _cropper(finder: _Finder) -> object:
    from fingerspell.handcrop import HandCropper

    hands = HandCropper.__new__(HandCropper)
    hands._finder, hands.margin, hands.retry_pad, hands.engine = finder, 1.0, 0.5, finder.name
    return hands


@pytest.mark.parametrize(("presence", "kept"), [(0.95, True), (0.9, True), (0.8, False), (None, False)])
def test_a_hand_only_the_brightened_copy_shows_needs_the_landmark_models_presence(
        presence: float | None, kept: bool) -> None:
    # 64 -> 128 brightened; a colour photo (blue 4 below), so no skin-toned look after the blurred
    dark = Image.fromarray(np.full((60, 80, 3), (64, 64, 60), np.uint8))
    finder = _Finder(presence)
    hand = _cropper(finder).look(dark)
    # as it is, padded, then brightened (found: no pad); a brightened hand not kept, then blurred,
    # then stretched (found again: a flat photo's levels stay, the gamma lifts them), then tiles
    assert finder.shown == [64, 64, 128] + ([] if kept else [64, 64, 128] + [64] * HALF_TILES)
    assert (hand is not None) == kept
    if kept:
        assert hand.bright and hand.box == (32, 22, 48, 38)  # the square about the points
    assert _cropper(_Finder(presence)).look(dark, copy="plain") is None  # the views of a lit photo


class _SmoothFinder(_Finder):
    """A finder that sees a hand only where neighbouring pixels differ little (noise blurred away)."""

    def find(self, pixels: np.ndarray) -> object:
        from fingerspell.handmodels import Found

        self.shown.append(int(np.abs(np.diff(pixels[..., 0].astype(int), axis=1)).mean()))
        if self.shown[-1] > 10:
            return None
        return Found([(0.4, 0.4), (0.6, 0.6)], [(0.0, 0.0, 0.0)] * 21, True, self.presence)


def _noisy() -> Image.Image:
    pixels = np.where(np.indices((60, 80)).sum(0)[..., None] % 2, 60, 100).repeat(3, 2)
    pixels[..., 2] += 4  # a colour photo: no skin-toned look after the blurred one
    return Image.fromarray(pixels.astype(np.uint8))  # a fine checkerboard: sensor noise


@pytest.mark.parametrize(("presence", "kept"), [(0.95, True), (0.9, True), (0.8, False), (None, False)])
def test_a_hand_only_the_blurred_copy_shows_needs_the_landmark_models_presence(
        presence: float | None, kept: bool) -> None:
    finder = _SmoothFinder(presence)
    hand = _cropper(finder).look(_noisy())
    # as it is, padded, brightened, padded: still noisy; then blurred, found (no pad); where not
    # kept, stretched and padded too, then each tile
    assert len(finder.shown) == (5 if kept else 7 + HALF_TILES)
    assert min(finder.shown[:4]) > 10 and finder.shown[4] <= 10
    assert (hand is not None) == kept
    if kept:
        assert hand.smooth and not hand.bright and hand.box == (32, 22, 48, 38)
    assert _cropper(_SmoothFinder(presence)).look(_noisy(), copy="plain") is None  # a clean photo's views


def test_the_views_of_a_noisy_photo_are_searched_blurred() -> None:
    from fingerspell.handcrop import other_looks

    class Head:
        mirror, turns, pads = True, [15.0], []

    finder = _SmoothFinder(0.99)
    hands = _cropper(finder)
    first = hands.look(_noisy())
    assert first is not None and first.smooth
    finder.shown.clear()
    views = other_looks(hands, _noisy(), first, Head())
    assert len(views) == 2 and all(v is not None and v.smooth for v in views)
    assert all(s <= 10 for s in finder.shown)  # each view searched in its blurred copy only


class _ColourFinder(_Finder):
    """A finder that sees a hand only where red and blue differ (skin), and counts its calls."""

    def find(self, pixels: np.ndarray) -> object:
        from fingerspell.handmodels import Found

        skin = int(np.abs(pixels[..., 0].astype(int) - pixels[..., 2]).mean())
        self.shown.append(skin)
        if skin < 10:
            return None
        return Found([(0.4, 0.4), (0.6, 0.6)], [(0.0, 0.0, 0.0)] * 21, True, self.presence)


@pytest.mark.parametrize(("presence", "kept"), [(0.95, True), (0.8, False)])
def test_a_grey_photos_hand_is_looked_for_in_a_skin_toned_copy(presence: float, kept: bool) -> None:
    from fingerspell.handcrop import is_grey, tinted

    grey = np.full((60, 80, 3), 120, np.uint8)
    assert is_grey(grey) and not is_grey(np.dstack([grey[..., :2], grey[..., 2:] // 2]))
    assert tinted(grey)[0, 0].tolist() == [160, 112, 88]  # a grey level becomes a skin colour
    finder = _ColourFinder(presence)
    hand = _cropper(finder).look(Image.fromarray(grey))
    # as it is, padded, brightened, padded, blurred, padded: all grey; then skin-toned, found;
    # where not kept, stretched and padded too, then each tile
    assert len(finder.shown) == (7 if kept else 9 + HALF_TILES)
    assert max(finder.shown[:6]) < 10 <= finder.shown[6]
    assert (hand is not None) == kept and (not kept or hand.tint)
    views = _cropper(_ColourFinder(presence)).look(Image.fromarray(grey), mirror=True, copy="tint")
    assert (views is not None) == kept  # another view of such a photo, searched skin-toned


def test_a_colour_photo_is_never_skin_toned() -> None:
    finder = _ColourFinder(0.99)
    blue = np.full((60, 80, 3), (100, 100, 104), np.uint8)  # a colour photo (channels 4 apart)
    assert _cropper(finder).look(Image.fromarray(blue)) is None
    # as it is, brightened, blurred, stretched, each padded (no skin tone), then each tile
    assert len(finder.shown) == 8 + HALF_TILES
    with pytest.raises(ValueError, match="sepia"):
        _cropper(finder).look(Image.fromarray(blue), copy="sepia")


class _ContrastFinder(_Finder):
    """A finder that sees a hand only where the photo's levels span most of 0-255."""

    def find(self, pixels: np.ndarray) -> object:
        from fingerspell.handmodels import Found

        self.shown.append(int(pixels.max()) - int(pixels.min()))
        if self.shown[-1] < 150:
            return None
        return Found([(0.4, 0.4), (0.6, 0.6)], [(0.0, 0.0, 0.0)] * 21, True, self.presence)


def _washed_out() -> Image.Image:
    pixels = np.full((60, 80, 3), (200, 196, 190), np.uint8)  # a bright room, a colour photo
    pixels[20:40, 30:50] = (176, 170, 166)  # and a dull hand
    return Image.fromarray(pixels)


@pytest.mark.parametrize(("presence", "kept"), [(0.95, True), (0.9, True), (0.8, False), (None, False)])
def test_a_washed_out_photos_hand_is_looked_for_in_a_stretched_copy(presence: float | None,
                                                                    kept: bool) -> None:
    from fingerspell.handcrop import stretched

    out = stretched(np.asarray(_washed_out()))
    assert out.min() == 0 and out.max() == 255  # each channel's levels now span 0-255
    finder = _ContrastFinder(presence)
    hand = _cropper(finder).look(_washed_out())
    # as it is, brightened, blurred, each padded: all flat; then stretched, found (no pad); where
    # not kept, each tile
    assert len(finder.shown) == 7 + (0 if kept else HALF_TILES)
    assert max(finder.shown[:6]) < 150 <= finder.shown[6]
    assert (hand is not None) == kept and (not kept or (hand.stretch and not hand.bright))
    views = _cropper(_ContrastFinder(presence)).look(_washed_out(), mirror=True, copy="stretch")
    assert (views is not None) == kept  # another view of such a photo, searched stretched
    assert _cropper(_ContrastFinder(presence)).look(_washed_out(), copy="plain") is None


class _SizeFinder(_Finder):
    """A finder that sees a hand only where the bright blob is at least 1 % of what it is shown
    (a hand small in the frame escapes the palm detector), at the blob's corners."""

    def find(self, pixels: np.ndarray) -> object:
        from fingerspell.handmodels import Found

        bright = pixels[..., 0] > 128
        self.shown.append(int(bright.sum()))
        if bright.mean() < 0.01:
            return None
        ys, xs = np.nonzero(bright)
        h, w = bright.shape
        return Found([(xs.min() / w, ys.min() / h), ((xs.max() + 1) / w, (ys.max() + 1) / h)],
                     [(0.0, 0.0, 0.0)] * 21, True, self.presence)


def _far_hand() -> Image.Image:
    pixels = np.full((160, 200, 3), (10, 10, 14), np.uint8)  # a dark room, a colour photo
    pixels[30:40, 120:130] = (250, 200, 150)  # and a small hand, upper right
    return Image.fromarray(pixels)


@pytest.mark.parametrize(("presence", "kept"), [(0.95, True), (0.9, True), (0.8, False), (None, False)])
def test_a_small_hand_is_looked_for_in_tiles(presence: float | None, kept: bool) -> None:
    finder = _SizeFinder(presence)
    hand = _cropper(finder).look(_far_hand())
    # each look of the whole photo, padded too (no skin tone: a colour photo); then the tiles: the
    # middle, the upper left, the upper right (found, wholly inside it); where not kept, every tile
    assert len(finder.shown) == 8 + (3 if kept else HALF_TILES)
    # under 1 % of the photo in every look of it (320 pixels); all 100 in a tile of 8,000
    assert max(finder.shown[:8]) < 320 and 100 in finder.shown[8:]
    assert (hand is not None) == kept
    if kept:
        assert hand.tile == (0.5, 0.0, 1.0, 0.5) and hand.copy == "plain"
        assert hand.box == (117, 27, 133, 43)  # the square about the hand, in the photo's pixels
        # its other views are searched in the same tile, and placed back the same
        mirrored = _cropper(_SizeFinder(presence)).look(_far_hand(), mirror=True, tile=hand.tile)
        assert mirrored is not None and mirrored.box == hand.box and mirrored.tile == hand.tile
        # in the whole photo no view finds it, and a view is never searched in tiles itself
        assert _cropper(_SizeFinder(presence)).look(_far_hand(), mirror=True, copy="plain") is None
        assert _cropper(_SizeFinder(presence)).look(_far_hand(), mirror=True) is None


class _TileFinder(_Finder):
    """A finder that sees a hand only in what is at most 120 px wide (a tile of a 200 px photo),
    its landmarks reaching `spill` beyond what it is shown on the left and right."""

    def __init__(self, spill: float, widest: int = 120) -> None:
        super().__init__(0.95)
        self.spill, self.widest = spill, widest

    def find(self, pixels: np.ndarray) -> object:
        from fingerspell.handmodels import Found

        self.shown.append(pixels.shape[1])
        if pixels.shape[1] > self.widest:
            return None
        return Found([(0.3 - self.spill, 0.3), (0.7 + self.spill, 0.7)], [(0.0, 0.0, 0.0)] * 21, True,
                     self.presence)


@pytest.mark.parametrize("spill", [0.0, 0.4])
def test_a_tiles_hand_is_kept_only_wholly_inside_a_tile(spill: float) -> None:
    finder = _TileFinder(spill)
    hand = _cropper(finder).look(Image.new("RGB", (200, 160), (90, 90, 90)))
    tiles = [w for w in finder.shown if w <= 120]  # 100 px: half the photo
    if spill == 0.0:  # the middle tile's hand, wholly inside it
        assert hand is not None and hand.tile == (0.25, 0.25, 0.75, 0.75)
        assert tiles == [100] and hand.box == (80, 60, 120, 100)
    else:  # a hand wider than any tile (part of a close-up hand): every half tile, and a tile
        assert hand is None  # centred on it, and none kept; no third-size tile of 53-67 px
        assert tiles == [100] * 2 * HALF_TILES


@pytest.mark.parametrize(("size", "searched"),
                         [((640, 600), True), ((640, 480), True), ((480, 640), True),
                          ((560, 540), False), ((570, 300), False)])
def test_third_size_tiles_only_where_the_palm_detector_need_not_scale_them_up(
        size: tuple[int, int], searched: bool) -> None:
    finder = _TileFinder(0.0, widest=220)  # a hand seen only in a third of these photos
    hand = _cropper(finder).look(Image.new("RGB", size, (90, 90, 90)))
    thirds = [w for w in finder.shown if w < size[0] / 2 - 1]
    if searched:  # a tile's longer side >= 192 px (the detector scales it by that side, so never
        # up): the first, one of the four middle ones, keeps it (a 640 x 480 webcam's 213 x 160 too)
        assert max(size) / 3 >= THIRD_TILE_MIN_SIDE and len(thirds) == 1
        assert hand is not None and hand.tile == pytest.approx((4 / 9, 4 / 9, 7 / 9, 7 / 9))
    else:  # tiles of 187 x 180 and 190 x 100 px, which the palm detector would scale up: skipped
        assert max(size) / 3 < THIRD_TILE_MIN_SIDE and thirds == [] and hand is None


class _EdgeFinder(_SizeFinder):
    """A `_SizeFinder` whose landmarks reach past the edge of what it is shown where the blob
    touches that edge, as the landmark model's do for a hand the edge cuts."""

    def find(self, pixels: np.ndarray) -> object:
        from fingerspell.handmodels import Found

        found = super().find(pixels)
        if found is None:
            return None
        (x0, y0), (x1, y1) = found.points
        x0, y0 = (x0 - 0.05 if x0 <= 0 else x0), (y0 - 0.05 if y0 <= 0 else y0)
        x1, y1 = (x1 + 0.05 if x1 >= 1 else x1), (y1 + 0.05 if y1 >= 1 else y1)
        return Found([(x0, y0), (x1, y1)], found.world, found.right, found.presence)


def test_a_hand_a_tiles_edge_cuts_is_looked_at_again_centred() -> None:
    pixels = np.full((160, 200, 3), (10, 10, 14), np.uint8)
    pixels[72:88, 140:156] = (250, 200, 150)  # a small hand across the middle tile's right edge
    finder = _EdgeFinder(0.95)
    hand = _cropper(finder).look(Image.fromarray(pixels))
    assert hand is not None and hand.box == (140, 72, 156, 88)
    # cut in the middle tile (x 50-150), so looked at again in a half tile centred on what it saw
    assert hand.tile == pytest.approx((0.4875, 0.25, 0.9875, 0.75))
    assert finder.shown[-2:] == [160, 256]  # part of it, then all of it


def test_no_brightened_look_where_the_finder_does_not_report_presence() -> None:
    finder = _Finder(0.99, reports_presence=False)  # MediaPipe's graph
    assert _cropper(finder).look(Image.fromarray(np.full((60, 80, 3), 64, np.uint8))) is None
    assert finder.shown == [64, 64]


@needs_models
@pytest.mark.skipif(not BACKLIT.is_file(), reason=f"no {BACKLIT} (../shared/data absent)")
def test_a_backlit_hand_is_found_in_the_brightened_copy() -> None:
    from fingerspell.handcrop import HandCropper

    img = Image.open(BACKLIT).convert("RGB")
    hands = HandCropper()
    assert hands.look(img, copy="plain") is None  # what the runtime missed before
    hand = hands.look(img)
    assert hand is not None and hand.bright
    x0, _, x1, y1 = hand.box  # the raised fist, upper left of the 200 x 150 photo
    assert x1 <= 110 and y1 <= 110 and x1 - x0 >= 30
    assert hands.look(img, mirror=True, copy="bright") is not None


@needs_models
@pytest.mark.skipif(not WASHED_OUT.is_file(), reason=f"no {WASHED_OUT} (../shared/data absent)")
def test_a_washed_out_hand_is_found_in_the_stretched_copy() -> None:
    from fingerspell.handcrop import HandCropper

    img = Image.open(WASHED_OUT).convert("RGB")
    hands = HandCropper()
    assert all(hands.look(img, copy=c) is None for c in ("plain", "bright", "smooth"))  # missed before
    hand = hands.look(img)
    assert hand is not None and hand.stretch
    x0, _, x1, _ = hand.box  # the raised index finger, left of the signer's face (200 x 131)
    assert x0 <= 30 and 100 <= x1 <= 160
    assert hands.look(img, mirror=True, copy="stretch") is not None


@needs_models
@pytest.mark.skipif(not NEAR.is_file(), reason=f"no {NEAR} (../shared/data absent)")
def test_a_hand_far_away_is_found_in_a_tile() -> None:
    from PIL import ImageFilter

    from fingerspell.handcrop import HandCropper

    photo = Image.open(NEAR).convert("RGB")
    w, h = photo.size
    hands = HandCropper()
    near = hands.look(photo)
    assert near is not None and near.tile is None
    # the same photo in the middle of a canvas three times as wide and high: the hand a third the
    # size in the frame (benchmarks/conditions.py, "far away (x3)")
    far = photo.resize((8, 8)).resize((3 * w, 3 * h)).filter(ImageFilter.GaussianBlur(8))
    far.paste(photo, (w, h))
    assert hands.look(far, copy="plain") is None  # what the runtime missed before
    hand = hands.look(far)
    assert hand is not None and hand.tile == (0.25, 0.25, 0.75, 0.75)
    centre = ((hand.box[0] + hand.box[2]) / 2, (hand.box[1] + hand.box[3]) / 2)
    moved = ((near.box[0] + near.box[2]) / 2 + w, (near.box[1] + near.box[3]) / 2 + h)
    assert abs(centre[0] - moved[0]) < 10 and abs(centre[1] - moved[1]) < 10  # the same hand
    assert hands.look(far, mirror=True, tile=hand.tile) is not None  # its mirror view, in the tile


WIDE = MULTI / "P" / "tutututu-signlang__data_P_74.jpg"  # 200 x 111 px


def _condition(name: str) -> Callable[[Image.Image], Image.Image]:
    """One of benchmarks/conditions.py's CONDITIONS, such as "far away (x3)"."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from conditions import CONDITIONS

    return CONDITIONS[name]


def _far_canvases_and_an_empty_scene() -> list[Image.Image]:
    """NEAR and WIDE three and five times as wide and high, then an empty 640 x 480 scene."""
    return [_condition(f"far away (x{k})")(Image.open(p).convert("RGB"))
            for p in (NEAR, WIDE) for k in (3, 5)] + [Image.new("RGB", (640, 480), (120, 110, 100))]


@needs_models
@pytest.mark.skipif(not WIDE.is_file(), reason=f"no {WIDE} (../shared/data absent)")
def test_a_wide_photos_hand_far_away_is_found_in_a_third_size_tile() -> None:
    """A 200 x 111 photo three times as wide and high (600 x 333): no whole-photo look and no
    half tile finds its hand; a third-size tile (200 x 111, its longer side over the palm
    detector's 192 px, so not scaled up) does, and it is the hand of the photo itself."""
    from fingerspell.handcrop import HandCropper

    photo = Image.open(WIDE).convert("RGB")
    w, h = photo.size
    hands = HandCropper()
    near = hands.look(photo)
    assert near is not None and near.tile is None

    far = _condition("far away (x3)")(photo)  # as benchmarks/conditions.py makes it
    assert min(far.size) / 3 < THIRD_TILE_MIN_SIDE <= max(far.size) / 3  # wide: only its longer side
    assert hands.look(far, copy="plain") is None
    hand = hands.look(far)
    assert hand is not None and hand.tile is not None
    assert hand.tile[2] - hand.tile[0] == pytest.approx(1 / 3)
    # the same hand: in the photo its square is cut to the photo's 111 px height, in the canvas not
    dx, dy = (far.width - w) // 2, (far.height - h) // 2
    assert abs((hand.box[0] + hand.box[2]) / 2 - dx - (near.box[0] + near.box[2]) / 2) < 10
    assert hand.box[1] - dy < (near.box[1] + near.box[3]) / 2 < hand.box[3] - dy


class _SlowFirstFinder(_TileFinder):
    """A `_TileFinder` (a hand in every half tile) whose first tile search is the slowest."""

    def __init__(self) -> None:
        super().__init__(0.0)
        self.lock, self.tiles_seen = threading.Lock(), 0

    def find(self, pixels: np.ndarray) -> object:
        if pixels.shape[1] <= self.widest:
            with self.lock:
                self.tiles_seen += 1
                first = self.tiles_seen == 1
            if first:
                time.sleep(0.3)  # the next tile's answer comes back long before this one's
        return super().find(pixels)


def test_tiles_on_two_threads_keep_the_first_hand_in_tiles_order(monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    from fingerspell import handcrop

    monkeypatch.setattr(handcrop, "TILE_THREADS", 2)
    finder = _SlowFirstFinder()
    hand = _cropper(finder).look(Image.new("RGB", (200, 160), (90, 90, 90)))
    assert hand is not None and hand.tile == (0.25, 0.25, 0.75, 0.75)  # the middle tile, TILES' first
    assert finder.tiles_seen == 2  # and one tile ahead of it at most


def test_a_forked_child_makes_its_own_tile_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """A web server that forks its workers after making the Recognizer: the child's copy of the
    pool has no threads, so the child makes a pool of its own (else its tile search would wait
    for ever)."""
    from fingerspell import handcrop

    monkeypatch.setattr(handcrop, "TILE_THREADS", 2)
    hands = _cropper(_TileFinder(0.0))
    blank = Image.new("RGB", (200, 160), (90, 90, 90))
    assert hands.look(blank) is not None
    parent = hands._tile_pool()
    monkeypatch.setattr(handcrop.os, "getpid", lambda: -1)  # as a forked child sees itself
    child = hands._tile_pool()
    assert child is not parent and hands.look(blank) is not None
    hands._finder.close = lambda: None  # the fake holds nothing to close
    hands.close()
    assert hands._pool is None


@needs_models
@pytest.mark.skipif(not (NEAR.is_file() and WIDE.is_file()), reason="no ../shared/data")
def test_tiles_on_two_threads_find_what_one_thread_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled models on far-away canvases (conditions.py's x3 and x5) and an empty one:
    the same hand, tile and box with the tiles searched two at a time as one at a time."""
    from fingerspell import handcrop

    hands = handcrop.HandCropper()
    photos = _far_canvases_and_an_empty_scene()
    looks = {}
    for threads in (1, 2):
        monkeypatch.setattr(handcrop, "TILE_THREADS", threads)
        looks[threads] = [hands.look(photo) for photo in photos]
    assert looks[1] == looks[2] and looks[1][-1] is None
    assert sum(h is not None and h.tile is not None for h in looks[1]) >= 3
    hands.close()


@needs_models
@pytest.mark.skipif(not (NEAR.is_file() and WIDE.is_file()), reason="no ../shared/data")
def test_threads_sharing_one_cropper_find_what_one_thread_finds() -> None:
    """A web server's request threads share one Recognizer, so one tile pool: four threads looking
    at far-away canvases and an empty scene, each in its own order, find the serial hands."""
    from conftest import run_threads

    from fingerspell import handcrop

    hands = handcrop.HandCropper()
    photos = _far_canvases_and_an_empty_scene()
    serial = [hands.look(photo) for photo in photos]
    mismatches: list[int] = []

    def work(seed: int) -> None:
        for i in np.random.default_rng(seed).permutation(len(photos)):
            if hands.look(photos[i]) != serial[i]:
                mismatches.append(int(i))

    assert not run_threads(work, 4)
    assert not mismatches and sum(h is not None and h.tile is not None for h in serial) >= 3
    hands.close()


_PARENTS: dict[str, object] = {}


def _look_in_child(size: tuple[int, int]) -> object:
    return _PARENTS["hands"].look(Image.new("RGB", size, (120, 110, 100)))  # type: ignore[attr-defined]


@needs_models
def test_a_forked_child_searches_tiles_without_waiting_for_ever(monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """A parent that has searched tiles, then forks (gunicorn's preload): the child's tile search
    answers (a pool made in the parent, threads and all gone in the child, never answered:
    measured with the pid check removed, no answer in 20 s)."""
    import multiprocessing as mp

    from fingerspell import handcrop

    monkeypatch.setattr(handcrop, "TILE_THREADS", 2)
    hands = handcrop.HandCropper()
    assert hands.look(Image.new("RGB", (640, 480), (120, 110, 100))) is None  # every tile searched
    assert hands._pool is not None
    _PARENTS["hands"] = hands
    with mp.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(_look_in_child, ((640, 480),)).get(timeout=60) is None
    hands.close()
