"""The pose head: its document, its fusion with the network, and how the runtime uses it.

The hand finder is faked here: what is tested is that the runtime feeds the pose
numbers of the hand it found to the bundled head and multiplies the two answers, and nothing
when no hand is found or the head is turned off.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fingerspell import handcrop
from fingerspell.artifact import bundled_dir
from fingerspell.errors import MissingExtraError, ModelError
from fingerspell.handcrop import Hand
from fingerspell.handpose import (
    DEFAULT_POSE_HEAD,
    FEATURE_WIDTHS,
    FEATURES_THUMB,
    HEAD_FEATURES,
    NUM_FEATURES,
    PoseHead,
    fuse,
    hand_features,
    pose_features,
)
from fingerspell.schema import CLASSES

BUNDLED = bundled_dir() / DEFAULT_POSE_HEAD
SHIPPED = bundled_dir() / "fingerspell-vgg16-int8.onnx"
WORLD = np.random.default_rng(7).normal(scale=0.03, size=(21, 3))  # a hand's landmarks, metres


def _head(labels: list[str] | None = None, seed: int = 0) -> PoseHead:
    rng = np.random.default_rng(seed)
    labels = labels or list(CLASSES)
    return PoseHead(labels=labels, mean=rng.normal(size=HEAD_FEATURES),
                    scale=rng.uniform(0.5, 2, HEAD_FEATURES),
                    layers=[(rng.normal(size=(HEAD_FEATURES, 8)), rng.normal(size=8)),
                            (rng.normal(size=(8, len(labels))), rng.normal(size=len(labels)))],
                    temperature=1.5, uniform_mix=0.02)


def test_head_round_trips_through_its_document(tmp_path: Path) -> None:
    head, path = _head(), tmp_path / "pose.json"
    head.save(path)
    again = PoseHead.load(path)
    x = np.random.default_rng(1).normal(size=(5, HEAD_FEATURES))
    p, q = head.probabilities(x), again.probabilities(x)
    assert np.allclose(p.sum(1), 1, atol=1e-5) and (p >= 0.02 / len(CLASSES) - 1e-7).all()
    assert np.abs(p - q).max() < 1e-4 and (p.argmax(1) == q.argmax(1)).all()


@pytest.mark.parametrize(("change", "why"), [
    ({"schema": "other"}, "not a fingerspell pose head"),
    ({"schema_version": 3}, "upgrade fingerspell"),
    ({"schema_version": 2}, "malformed"),  # an adapted head's version without what it adapted
    ({"features": "another-set/1"}, "other features"),
    ({"features": ["handpose-45/1"]}, "other features"),  # not a name: refused, not a crash
    ({"mean": [0.0] * 5}, "shapes"),
    ({"temperature": 0}, "out of range"),
    ({"layers": "x"}, "malformed"),
    ({"mirror": "yes"}, "malformed"),
    # NaN or infinite numbers loaded, and the head then read nothing (or numpy warned on stderr)
    ({"temperature": float("inf")}, "not finite"),
    ({"scale": [float("inf")] * HEAD_FEATURES}, "not finite"),
    ({"mean": [float("nan")] * HEAD_FEATURES}, "not finite"),
    ({"layers": [{"weight": [[1e308] * 8] * HEAD_FEATURES, "bias": [0.0] * 8},
                 {"weight": [[0.0] * len(CLASSES)] * 8, "bias": [float("nan")] * len(CLASSES)}]},
     "not finite"),
    ({"schema_version": 2, "adapted_classes": "AB", "layers_before": []}, "list of labels"),
])
def test_head_document_is_checked(change: dict, why: str) -> None:
    doc = {**_head().to_dict(), **change}
    with pytest.raises(ModelError, match=why):
        PoseHead.from_dict(doc, "p.json")


def test_head_reads_several_views_of_one_hand_by_their_mean_score(tmp_path: Path) -> None:
    head = _head()
    x = np.random.default_rng(2).normal(size=(2, HEAD_FEATURES))
    np.testing.assert_allclose(head.probabilities_of_views(x[:1]), head.probabilities(x[:1])[0], atol=1e-7)
    # two views: the scores averaged before the softmax, not the probabilities
    z = head.logits(x).mean(0)
    want = np.exp((z - z.max()) / 1.5)
    want = 0.98 * want / want.sum() + 0.02 / len(CLASSES)
    np.testing.assert_allclose(head.probabilities_of_views(x), want, atol=1e-6)
    # the setting travels in the document; heads written before it read as "no mirror"
    head.mirror = True
    head.save(tmp_path / "m.json")
    assert PoseHead.load(tmp_path / "m.json").mirror
    doc = head.to_dict()
    del doc["mirror"]
    assert not PoseHead.from_dict(doc).mirror


class _Result:
    """What MediaPipe's Hands.process returns, for one hand at fractional points `xy`."""

    def __init__(self, xy: list[tuple[float, float]] | None) -> None:
        from types import SimpleNamespace as NS

        self.multi_hand_landmarks = [NS(landmark=[NS(x=x, y=y) for x, y in xy])] if xy else None
        self.multi_hand_world_landmarks = [NS(landmark=[NS(x=0.0, y=0.0, z=0.0)] * 21)] if xy else None
        self.multi_handedness = [NS(classification=[NS(label="Right")])] if xy else None


class _Finder:
    """A hand finder around a stand-in for MediaPipe's Hands.process."""

    def __init__(self, process: object) -> None:
        self.process = process

    def find(self, pixels: np.ndarray) -> object:
        return handcrop.found_in(self.process(pixels))


def test_looking_in_the_mirror_image_gives_the_box_in_the_photo() -> None:
    """HandCropper.look(mirror=True) searches the flipped pixels, and maps the hand back."""
    seen: list[np.ndarray] = []
    hands = handcrop.HandCropper.__new__(handcrop.HandCropper)  # no MediaPipe here
    hands.margin, hands.retry_pad = 1.0, 0.0

    def process(pixels: np.ndarray) -> _Result:
        seen.append(pixels)
        return _Result([(0.1, 0.2), (0.3, 0.6)])  # a hand in the left part of what it was shown

    hands._finder = _Finder(process)
    img = _photo()  # 160 x 120
    plain, mirrored = hands.look(img), hands.look(img, mirror=True)
    assert np.array_equal(seen[1], np.asarray(img)[:, ::-1])
    assert plain.box == (8, 24, 56, 72)  # around 0.1-0.3 of 160 px and 0.2-0.6 of 120, squared
    assert mirrored.box == (104, 24, 152, 72)  # the same place, seen from the other side
    assert mirrored.right and len(mirrored.world) == 21


def test_looking_in_a_turned_image_gives_the_box_and_hand_in_the_photo() -> None:
    """HandCropper.look(turn=90) searches the image turned a quarter counter-clockwise (nothing
    cut off), and turns the box and the landmarks back."""
    seen: list[np.ndarray] = []
    hands = handcrop.HandCropper.__new__(handcrop.HandCropper)  # no MediaPipe here
    hands.margin, hands.retry_pad = 1.0, 0.0

    def process(pixels: np.ndarray) -> _Result:
        seen.append(pixels)
        # the photo's points (16, 24) and (48, 72) where a quarter turn puts them: (y, 160 - x)
        result = _Result([(24 / 120, 144 / 160), (72 / 120, 112 / 160)])
        from types import SimpleNamespace as NS

        # a hand pointing right in what it was shown (+x) pointed down (+y) in the photo
        result.multi_hand_world_landmarks = [NS(landmark=[NS(x=0.1, y=0.0, z=0.2)] * 21)]
        return result

    hands._finder = _Finder(process)
    img = _photo()  # 160 x 120
    turned = hands.look(img, turn=90)
    assert np.array_equal(seen[0], np.rot90(np.asarray(img)))
    assert turned.box == (8, 24, 56, 72)  # as the plain look at (0.1-0.3, 0.2-0.6) gives
    np.testing.assert_allclose(turned.world[0], (0.0, 0.1, 0.2), atol=1e-9)


def test_looking_in_a_padded_image_gives_the_box_in_the_photo() -> None:
    """HandCropper.look(pad=0.25) searches the photo with a quarter of each side added (its edge
    pixels repeated), maps the hand back, and does not look a second time where none is found."""
    seen: list[np.ndarray] = []
    hands = handcrop.HandCropper.__new__(handcrop.HandCropper)  # no MediaPipe here
    hands.margin, hands.retry_pad = 1.0, 0.5

    def process(pixels: np.ndarray) -> _Result:
        seen.append(pixels)
        # the photo's points (16, 24) and (48, 72) in a 240 x 180 canvas, 40 and 30 px added
        return _Result([(56 / 240, 54 / 180), (88 / 240, 102 / 180)])

    hands._finder = _Finder(process)
    img = _photo()  # 160 x 120
    padded = hands.look(img, pad=0.25)
    assert np.array_equal(seen[0], np.pad(np.asarray(img), ((30, 30), (40, 40), (0, 0)), mode="edge"))
    assert padded.box == (8, 24, 56, 72)  # as the plain look at (0.1-0.3, 0.2-0.6) gives
    hands._finder = _Finder(lambda pixels: seen.append(pixels) or _Result(None))
    assert hands.look(img, pad=0.25) is None and len(seen) == 2  # no retry on a padded view


def test_head_numbers_see_direction_and_ignore_which_hand() -> None:
    rng = np.random.default_rng(5)
    p = rng.normal(size=(21, 3))
    f = hand_features(p, right=True)
    assert f.shape == (HEAD_FEATURES,) and np.isfinite(f).all()
    assert np.allclose(f[:NUM_FEATURES], pose_features(p))
    # a left hand is the mirror image of a right one: the same numbers once MediaPipe says so
    np.testing.assert_allclose(hand_features(p * [-1.0, 1.0, 1.0], right=False), f, atol=1e-6)
    # turned upside down, the shape numbers stay and the directions do not (K from P, U from H)
    flipped = p * [1.0, -1.0, -1.0]  # 180° about the camera's x axis
    g = hand_features(flipped, right=True)
    np.testing.assert_allclose(g[:NUM_FEATURES], f[:NUM_FEATURES], atol=1e-6)
    assert np.abs(g[NUM_FEATURES:] - f[NUM_FEATURES:]).max() > 0.5


def _turn(p: np.ndarray, degrees: float) -> np.ndarray:
    a = np.deg2rad(degrees)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    return p @ rz.T


def test_thumb_numbers_follow_the_palm_not_the_camera() -> None:
    """handpose-62/2 adds where the thumb lies on the palm: the same for a hand turned, moved,
    scaled or mirrored (with its handedness), but not for a thumb moved across the palm."""
    f = hand_features(WORLD, True, FEATURES_THUMB)
    assert f.shape == (FEATURE_WIDTHS[FEATURES_THUMB],) == (HEAD_FEATURES + 17,)
    np.testing.assert_allclose(f[:HEAD_FEATURES], hand_features(WORLD, True), atol=1e-6)
    thumb = f[HEAD_FEATURES:]
    moved = _turn(WORLD, 40) * 1.3 + 0.2
    np.testing.assert_allclose(hand_features(moved, True, FEATURES_THUMB)[HEAD_FEATURES:], thumb,
                               atol=1e-5)
    np.testing.assert_allclose(
        hand_features(WORLD * [-1.0, 1.0, 1.0], False, FEATURES_THUMB)[HEAD_FEATURES:], thumb, atol=1e-5)
    tucked = WORLD.copy()
    tucked[4] = WORLD[14]  # the thumb's tip on the ring finger's middle joint (M, not N)
    assert np.abs(hand_features(tucked, True, FEATURES_THUMB)[HEAD_FEATURES:] - thumb).max() > 0.1
    with pytest.raises(ValueError, match="unknown pose features"):
        hand_features(WORLD, True, "another-set/1")


def test_a_head_reads_the_numbers_it_was_fitted_on(tmp_path: Path) -> None:
    """A head on the thumb numbers (62) loads and is fed its 62; the default head its 45."""
    rng = np.random.default_rng(3)
    width = FEATURE_WIDTHS[FEATURES_THUMB]
    thumb = PoseHead(labels=list(CLASSES), mean=np.zeros(width), scale=np.ones(width),
                     layers=[(rng.normal(size=(width, len(CLASSES))), np.zeros(len(CLASSES)))],
                     features=FEATURES_THUMB)
    thumb.save(tmp_path / "thumb.json")
    again = PoseHead.load(tmp_path / "thumb.json")
    assert again.features == FEATURES_THUMB and again.numbers(WORLD, True).shape == (width,)
    want = thumb.logits(hand_features(WORLD, True, FEATURES_THUMB)[None])
    assert np.allclose(again.logits(again.numbers(WORLD, True)[None]), want, atol=1e-3)
    assert _head().numbers(WORLD, True).shape == (HEAD_FEATURES,)
    # 62-number weights under the 45-number set's name do not chain: refused, not misread
    data = json.loads((tmp_path / "thumb.json").read_text())
    data["features"] = _head().features
    with pytest.raises(ModelError, match="do not chain"):
        PoseHead.from_dict(data)


@pytest.mark.parametrize("turns", [[15, 15, 15, 15, 15], [0], [120], "15", [True]])
def test_head_turns_are_checked(turns: object) -> None:
    data = _head().to_dict()
    data["turns"] = turns
    with pytest.raises(ModelError, match="turns must be"):
        PoseHead.from_dict(data)
    data["turns"] = [15, -15.5]
    assert PoseHead.from_dict(data).turns == [15.0, -15.5]
    del data["turns"]  # heads written before the option read the photo (and mirror) only
    assert PoseHead.from_dict(data).turns == []


@pytest.mark.parametrize("pads", [[0.25, 0.25, 0.25], [0], [1.5], "0.25", [True]])
def test_head_pads_are_checked(pads: object) -> None:
    data = _head().to_dict()
    data["pads"] = pads
    with pytest.raises(ModelError, match="pads must be"):
        PoseHead.from_dict(data)
    data["pads"] = [0.25]
    head = PoseHead.from_dict(data)
    assert head.pads == [0.25] and head.extra_looks == 1
    assert head.views() == "the photo and the photo with 25 % more on each side"
    del data["pads"]  # heads written before the option
    assert PoseHead.from_dict(data).pads == []


def test_benchmark_names_the_views_read() -> None:
    from types import SimpleNamespace as NS

    from fingerspell.benchmark import reading_path

    head = _head()
    assert reading_path(NS(crop="none", pose_head=None)) == "network"
    head.mirror, head.turns, head.pads, head.views_below = True, [15.0], [0.25], 0.8
    assert reading_path(NS(crop="hand", pose_head=head)) == (
        "network+crop+pose+mirror+turn+15+pad0.25 (more views below 0.8)")


@pytest.mark.parametrize("below", [0, 1.5, -0.2, "0.8", True])
def test_head_views_below_is_checked(below: object) -> None:
    data = _head().to_dict()
    data["views_below"] = below
    with pytest.raises(ModelError, match="views_below must be"):
        PoseHead.from_dict(data)
    data["views_below"] = 0.8
    assert PoseHead.from_dict(data).views_below == 0.8
    del data["views_below"]  # heads written before the option read every view
    assert PoseHead.from_dict(data).views_below is None


def test_fuse_multiplies_and_renormalises() -> None:
    net, pose = np.array([0.6, 0.3, 0.1]), np.array([0.1, 0.6, 0.3])
    assert np.allclose(fuse(net, pose), np.array([0.06, 0.18, 0.03]) / 0.27)
    assert np.allclose(fuse(net, np.zeros(3)), net)  # a head that rules out everything: the network


def test_bundled_head_is_shipped_checksummed_and_for_the_shipped_labels() -> None:
    if not BUNDLED.is_file():
        pytest.skip(f"no bundled pose head at {BUNDLED}")
    head = PoseHead.load(BUNDLED)
    assert head.labels == list(CLASSES)
    assert DEFAULT_POSE_HEAD in (bundled_dir() / "SHA256SUMS").read_text()
    # fitted without the validation images, calibrated on sources held out whole
    assert 0 < head.metrics["leave_one_source_out_mean"] < head.metrics["block_split_val_accuracy"]
    assert head.training["pack_key"] and head.training["command"].startswith("python tools/pose_head.py")


class _Hands:
    """Stands in for MediaPipe: a hand in the left half of every image, with WORLD's pose."""

    found = True
    engine = "onnx"

    def __init__(self, **_: object) -> None:  # HandCropper's options (engine=...)
        pass

    def look(self, img: Image.Image, mirror: bool = False, turn: float = 0.0,
             copy: str | None = None) -> Hand | None:
        # the same landmarks in the mirror image and turned views (the bundled head reads them
        # too): answers unchanged
        return Hand((0, 0, img.width // 2, img.height), WORLD.tolist(), False) if self.found else None

    def crop(self, img: Image.Image) -> Image.Image:
        hand = self.look(img)
        return img.crop(hand.box) if hand else img


class _NoHands(_Hands):
    found = False


class _Missing:
    def __init__(self, **_: object) -> None:
        raise MissingExtraError("hand cropping needs MediaPipe: pip install 'fingerspell[hands]'")


def _photo() -> Image.Image:
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))


needs_shipped = pytest.mark.skipif(not (SHIPPED.is_file() and BUNDLED.is_file()),
                                   reason="the shipped artifact and pose head are not in artifacts/")


@needs_shipped
def test_runtime_multiplies_the_network_by_the_pose_head(monkeypatch) -> None:
    from fingerspell.recognizer import Recognizer

    monkeypatch.setattr(handcrop, "HandCropper", _Hands)
    rec = Recognizer(pose="auto", top_k=len(CLASSES))
    assert rec.pose_head is not None and rec.crop == "hand"
    img = _photo()
    net = rec.probabilities(rec.pixels(img)[None])[0]  # the network alone, on the crop
    want = fuse(net, rec.pose_head.probabilities(rec.pose_head.numbers(WORLD, False)[None])[0])
    got = rec.predict(img)
    assert got.label == rec.labels[int(want.argmax())]
    assert np.allclose([p for _, p in got.top_k], np.sort(want)[::-1], atol=1e-6)
    assert not np.allclose(want, net, atol=1e-3)  # the head did move the answer
    many = list(rec.predict_many([img, img], batch_size=2))
    assert all(m.top_k == got.top_k for m in many)

    alone = Recognizer(pose="none", top_k=len(CLASSES))
    assert alone.pose_head is None
    assert np.allclose([p for _, p in alone.predict(img).top_k], np.sort(net)[::-1], atol=1e-6)


@needs_shipped
@pytest.mark.parametrize("weight", [1.0, 16.0, 1000.0])
def test_no_hand_found_reads_the_network_with_nothing_weighted(monkeypatch, tmp_path: Path,
                                                               weight: float) -> None:
    """Where no look finds a hand, the answer is the network's on the whole photo with its
    `nothing` weighted by the head's `no_hand_nothing` (1: the network alone); without a head,
    the network alone; a hand found is never weighted."""
    from fingerspell.recognizer import Recognizer

    head = PoseHead.load(BUNDLED)
    head.no_hand_nothing = weight
    head.save(tmp_path / "head.json")
    monkeypatch.setattr(handcrop, "HandCropper", _NoHands)
    rec = Recognizer(pose=tmp_path / "head.json", top_k=len(CLASSES))
    img = _photo()
    net = rec.probabilities(rec.pixels(img)[None])[0].astype(np.float64)
    want = net.copy()
    want[CLASSES.index("nothing")] *= weight
    want /= want.sum()
    for got in (rec.predict(img), *list(rec.predict_many([img, b"not an image"]))[:1]):
        assert got.read == "no_hand"
        assert np.allclose([p for _, p in got.top_k], np.sort(want)[::-1], atol=1e-6)
        assert dict(got.top_k)["nothing"] == pytest.approx(want[CLASSES.index("nothing")], abs=1e-6)
    alone = Recognizer(pose="none", top_k=len(CLASSES))
    assert np.allclose([p for _, p in alone.predict(img).top_k], np.sort(net)[::-1], atol=1e-6)
    monkeypatch.setattr(handcrop, "HandCropper", _Hands)
    found = Recognizer(pose=tmp_path / "head.json", top_k=len(CLASSES))
    crop = found.probabilities(found.pixels(img)[None])[0]
    fused = fuse(crop, head.probabilities(head.numbers(WORLD, False)[None])[0])
    hand = found.predict(img)
    assert hand.read == "hand" and np.allclose([p for _, p in hand.top_k], np.sort(fused)[::-1],
                                               atol=1e-6)


def test_no_hand_weight_is_checked_and_kept(tmp_path: Path) -> None:
    head = _head()
    data = head.to_dict()
    assert PoseHead.from_dict({k: v for k, v in data.items() if k != "no_hand_nothing"}
                              ).no_hand_nothing == 1.0  # heads written before the option
    for bad in (0.5, 1001, "16", True, None):
        with pytest.raises(ModelError, match="no_hand_nothing must be"):
            PoseHead.from_dict({**data, "no_hand_nothing": bad})
    head.no_hand_nothing = 4.0
    head.save(tmp_path / "h.json")
    again = PoseHead.load(tmp_path / "h.json")
    p = np.full(len(CLASSES), 0.5 / (len(CLASSES) - 1))
    p[CLASSES.index("nothing")] = 0.5
    assert again.no_hand_nothing == 4.0 and again.no_hand(p)[CLASSES.index("nothing")] == pytest.approx(0.8)
    assert "4 times" in again.no_hand_text()
    other = _head(labels=[f"c{i}" for i in range(len(CLASSES))])
    other.no_hand_nothing = 4.0  # no `nothing` among its labels: the network's answer stands
    assert np.array_equal(other.no_hand(p), p) and other.no_hand_text() == ""


@needs_shipped
def test_pose_head_file_needs_the_extra_and_matching_labels(monkeypatch, tmp_path: Path) -> None:
    from fingerspell.recognizer import Recognizer

    monkeypatch.setattr(handcrop, "HandCropper", _Missing)
    with pytest.warns(UserWarning):
        assert Recognizer().pose_head is None  # auto without the extra: the network alone, no error
    with pytest.raises(MissingExtraError):
        Recognizer(pose=BUNDLED)
    other = tmp_path / "other.json"
    _head(labels=[f"c{i}" for i in range(len(CLASSES))]).save(other)
    with pytest.raises(ModelError, match="labels differ"):
        Recognizer(pose=other)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ModelError, match=r"broken\.json"):
        Recognizer(pose=broken)


@needs_shipped
def test_cli_pose_option(monkeypatch, tmp_path: Path) -> None:
    from fingerspell.cli import app

    monkeypatch.setattr(handcrop, "HandCropper", _Hands)
    photo = tmp_path / "p.png"
    _photo().save(photo)
    runner = CliRunner()
    for pose in ("auto", "none", str(BUNDLED)):
        r = runner.invoke(app, ["predict", str(photo), "--pose", pose, "--json"])
        assert r.exit_code == 0 and json.loads(r.stdout.splitlines()[-1])["label"] in CLASSES
    missing = runner.invoke(app, ["predict", str(photo), "--pose", str(tmp_path / "none.json")])
    assert missing.exit_code == 3 and "none.json" in missing.output and "Traceback" not in missing.output
    assert runner.invoke(app, ["predict", str(photo), "--pose", ""]).exit_code == 2
    info = runner.invoke(app, ["info"])
    assert info.exit_code == 0 and "pose head  MLP" in info.output


class _MirrorHands:
    """MediaPipe as the runtime meets it when the head reads the mirror too: each look at a photo
    and at its mirror image finds its own landmarks (or none)."""

    def __init__(self, found: tuple[bool, ...] = (True, True, True)) -> None:
        self.found, self.calls = found, 0
        self.seen: list[np.ndarray] = []

    def look(self, img: Image.Image, mirror: bool = False, turn: float = 0.0,
             pad: float = 0.0, copy: str | None = None) -> Hand | None:
        # 0: the photo, 1: its mirror image, 2: the photo turned, 3: the photo padded
        k = 3 if pad else 2 if turn else int(mirror)
        self.calls += 1
        self.seen.append(k)
        if not self.found[k]:
            return None
        # the photo's hand in its left half; the mirror image's in its left half, the photo's right
        box = (img.width // 2, 0, img.width, img.height) if mirror else (0, 0, img.width // 2, img.height)
        if turn:  # a turned view's hand, mapped back: the middle of the photo
            box = (img.width // 4, 0, 3 * img.width // 4, img.height)
        if pad:  # a padded view's: the top-left quarter
            box = (0, 0, img.width // 2, img.height // 2)
        return Hand(box, (WORLD * (1.0 + 0.5 * k)).tolist(), k != 1)

    def crop(self, img: Image.Image) -> Image.Image:  # the crop-only path (not taken here)
        raise AssertionError("with a pose head the runtime looks through look()")


ALL = (True, True, True)


@needs_shipped
@pytest.mark.parametrize(("turns", "pads", "below", "found", "seen"), [
    ([], [], None, (True, True), [0, 1]), ([], [], None, (False, True), [0, 1]),
    ([], [], None, (True, False), [0, 1]),
    ([15.0], [], None, ALL, [0, 1, 2]), ([15.0], [], None, (False, False, True), [0, 1, 2]),
    ([15.0], [], None, (True, False, False), [0, 1, 2]),
    ([15.0], [0.25], None, (True, True, True, True), [0, 1, 2, 3]),
    ([15.0], [0.25], None, (False, False, False, True), [0, 1, 2, 3]),
    ([15.0], [0.25], None, (False, True, False, False), [0, 1, 2, 3]),
    # views_below: sure of the photo's own view, the others are not looked at; never sure
    # enough, every view; no hand in the photo's own view, the others
    ([15.0], [], 1e-9, ALL, [0]), ([15.0], [], 1.0, ALL, [0, 1, 2]),
    ([15.0], [], 1e-9, (False, True, True), [0, 1, 2])])
def test_runtime_reads_the_views_the_head_asks_for(monkeypatch, tmp_path: Path, turns: list[float],
                                                   pads: list[float], below: float | None,
                                                   found: tuple[bool, ...], seen: list[int]) -> None:
    from fingerspell.recognizer import Recognizer

    head = PoseHead.load(BUNDLED)
    head.mirror, head.turns, head.pads, head.views_below = True, turns, pads, below
    head.save(tmp_path / "head.json")
    fake = _MirrorHands(found)
    monkeypatch.setattr(handcrop, "HandCropper", lambda **_: fake)
    rec = Recognizer(pose=tmp_path / "head.json", top_k=len(CLASSES))
    img = _photo()
    got = rec.predict(img)
    assert fake.seen == seen  # the photo, its mirror image, the photo turned, the photo padded
    # the pose head's part of the answer: the views looked at that found the hand, no more
    views = [head.numbers(WORLD * (1.0 + 0.5 * k), k != 1) for k in seen if found[k]]
    # the crop: the first view that found the hand, in that order (the other views' boxes mapped
    # back: the photo's right half, its middle, its top-left quarter)
    box = [(0, 0, 80, 120), (80, 0, 160, 120), (40, 0, 120, 120), (0, 0, 80, 60)][found.index(True)]
    net = rec.probabilities(Recognizer(crop="none", pose="none").pixels(img.crop(box))[None])[0]
    want = fuse(net, head.probabilities_of_views(np.stack(views)))
    assert np.allclose([p for _, p in got.top_k], np.sort(want)[::-1], atol=1e-6)


class _DarkHands(_MirrorHands):
    """The photo's own hand found only in the brightened copy (a backlit photo), or no hand."""

    def __init__(self, found_first: bool) -> None:
        super().__init__((found_first, True, True))
        self.copies: list[str | None] = []

    def look(self, img: Image.Image, mirror: bool = False, turn: float = 0.0,
             pad: float = 0.0, copy: str | None = None) -> Hand | None:
        self.copies.append(copy)
        hand = super().look(img, mirror, turn, pad)
        return hand._replace(copy="bright") if hand is not None and not (mirror or turn) else hand


@needs_shipped
@pytest.mark.parametrize(("found_first", "views_bright"), [(True, True), (False, False)])
def test_a_dark_photos_other_views_are_searched_brightened(monkeypatch, tmp_path: Path,
                                                          found_first: bool,
                                                          views_bright: bool) -> None:
    """Where the photo's hand showed only brightened, its mirror and turned views are searched
    brightened too; where the photo shows none, they look as they are (no brightened pass each)."""
    from fingerspell.recognizer import Recognizer

    head = PoseHead.load(BUNDLED)
    head.mirror, head.turns, head.pads, head.views_below = True, [15.0], [], 1.0
    head.save(tmp_path / "head.json")
    fake = _DarkHands(found_first)
    monkeypatch.setattr(handcrop, "HandCropper", lambda **_: fake)
    Recognizer(pose=tmp_path / "head.json").predict(_photo())
    assert fake.seen == [0, 1, 2]
    views = "bright" if views_bright else "plain"
    assert fake.copies == [None, views, views]


@needs_shipped
@pytest.mark.parametrize(("below", "sure", "answer"), [
    (None, 0.85, "fused"),  # heads without the option never read the whole photo
    (1e-9, 1e-9, "fused"),  # the fused answer is sure enough: no second pass
    (1.0, 1e-9, "whole"),  # unsure, and the whole photo's reading is sure enough: it stands
    (1.0, 1.0, "fused")])  # unsure, but so is the whole photo's reading: the fused one stays
def test_an_unsure_answer_reads_the_whole_photo_too(monkeypatch, tmp_path: Path, below: float | None,
                                                    sure: float, answer: str) -> None:
    """`whole_below`/`whole_sure`: predict and predict_many (the whole photos of a batch in one
    pass, a failed input beside them) give the network's whole-photo answer exactly where the
    head says, and the fused one elsewhere."""
    from fingerspell.recognizer import Recognizer

    head = PoseHead.load(BUNDLED)
    head.mirror, head.turns, head.views_below = False, [], None
    head.whole_below, head.whole_sure = below, sure
    head.save(tmp_path / "head.json")
    assert PoseHead.load(tmp_path / "head.json").whole_below == below
    monkeypatch.setattr(handcrop, "HandCropper", lambda **_: _MirrorHands((True, False)))
    rec = Recognizer(pose=tmp_path / "head.json", top_k=len(CLASSES))
    img = _photo()
    plain = Recognizer(crop="none", pose="none")
    whole = plain.probabilities(plain.pixels(img)[None])[0]
    crop = plain.probabilities(plain.pixels(img.crop((0, 0, 80, 120)))[None])[0]
    fused = fuse(crop, head.probabilities_of_views(head.numbers(WORLD, True)[None]))
    want = np.sort(whole if answer == "whole" else fused)[::-1]
    runs = []
    run = rec.backend.run
    monkeypatch.setattr(rec.backend, "run", lambda x: runs.append(len(x)) or run(x))
    got = rec.predict(img)
    assert np.allclose([p for _, p in got.top_k], want, atol=1e-6)
    read = "whole_photo" if answer == "whole" else "hand"
    assert got.read == read and got.to_dict()["read"] == read
    assert runs == ([1, 1] if below == 1.0 else [1])
    runs.clear()
    many = list(rec.predict_many([img, b"not an image", img], batch_size=8))
    assert many[1].kind == "InputError"
    for p in (many[0], many[2]):
        assert np.allclose([q for _, q in p.top_k], want, atol=1e-6) and p.read == read
    assert sum(runs) == (4 if below == 1.0 else 2)  # batches may split as decodes finish


@pytest.mark.parametrize("value", [0, 1.5, "0.6", True])
def test_head_whole_photo_options_are_checked(value: object) -> None:
    data = PoseHead.load(BUNDLED).to_dict() if BUNDLED.is_file() else None
    if data is None:
        pytest.skip("no bundled pose head")
    for name in ("whole_below", "whole_sure"):
        bad = {**data, name: value}
        with pytest.raises(ModelError, match=f"{name} must be"):
            PoseHead.from_dict(bad)
    with pytest.raises(ModelError, match="whole_sure must be"):
        PoseHead.from_dict({**data, "whole_sure": None})
    old = {k: v for k, v in data.items() if k not in ("whole_below", "whole_sure")}
    head = PoseHead.from_dict(old)  # heads written before the option: never the whole photo
    assert head.whole_below is None and not head.reads_whole(np.full(len(CLASSES), 0.01))


@needs_shipped
@pytest.mark.parametrize(("hands", "crop", "pose", "read"), [
    (_Hands, "auto", "auto", "hand"), (_NoHands, "auto", "auto", "no_hand"),
    (_Hands, "hand", "none", "hand"), (_NoHands, "hand", "none", "no_hand"),  # the crop alone
    (_Hands, "none", "auto", "hand"), (_NoHands, "none", "auto", "no_hand"),  # the pose alone
    (_Hands, "none", "none", "network")])
def test_each_answer_says_what_it_read(monkeypatch, tmp_path: Path, hands: type, crop: str,
                                       pose: str, read: str) -> None:
    """Prediction.read (and --json's "read"): a hand found, none found, or none looked for; the
    same from predict and predict_many, and the crop alone crops as before."""
    from fingerspell.cli import app
    from fingerspell.recognizer import Recognizer

    monkeypatch.setattr(handcrop, "HandCropper", hands)
    rec = Recognizer(crop=crop, pose=pose)
    img = _photo()
    assert rec.predict(img).read == read
    assert [p.read for p in rec.predict_many([img, img])] == [read, read]
    if crop == "hand" and pose == "none":  # the crop alone: the network on the hand's square
        box = (0, 0, img.width // 2, img.height) if hands is _Hands else (0, 0, img.width, img.height)
        plain = Recognizer(crop="none", pose="none")
        want = plain.probabilities(plain.pixels(img.crop(box))[None])[0].max()
        assert rec.predict(img).confidence == pytest.approx(float(want), abs=1e-6)
    photo = tmp_path / "p.png"
    img.save(photo)
    res = CliRunner().invoke(app, ["predict", str(photo), "--crop", crop, "--pose", pose, "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout.splitlines()[-1])["read"] == read
