"""The pose head's fitting tools: `tools/gpu/pose.py`'s altered views and `tools/pose_head.py`.

MediaPipe is not needed: the views are checked as images, and the head is fitted on landmarks
made up for a small fake pack (three classes, each a hand shape with some noise).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "gpu"))
import pose  # noqa: E402  (tools/gpu/pose.py: the runtime's features, no MediaPipe at import)

from fingerspell.handpose import FEATURE_WIDTHS, FEATURES_THUMB, PoseHead  # noqa: E402
from fingerspell.schema import CLASSES  # noqa: E402


def _square() -> Image.Image:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)
    pixels[:, :150] = 0  # a dark left half, to see the mirror
    return Image.fromarray(pixels)


def test_altered_views_are_repeatable_same_size_and_mirror_when_asked() -> None:
    img = _square()
    a = pose.altered(img, np.random.default_rng(5), mirror=True)
    b = pose.altered(img, np.random.default_rng(5), mirror=True)
    assert a.size == img.size and np.array_equal(np.asarray(a), np.asarray(b))
    plain = np.asarray(pose.altered(img, np.random.default_rng(5), mirror=False), np.float64)
    mirrored = np.asarray(a, np.float64)
    # the dark half moves to the right in the mirrored view, stays left in the other
    assert mirrored[:, 200:].mean() < mirrored[:, :100].mean()
    assert plain[:, :100].mean() < plain[:, 200:].mean()


def _fake_pack(folder: Path, views: int) -> None:
    """A pack of 3 sources x 3 classes x 20 images: no pixels, only what pose_head.py reads."""
    rng = np.random.default_rng(1)
    shapes = rng.normal(scale=0.04, size=(3, 21, 3))  # one hand shape per class, metres
    label = np.tile(np.repeat(np.arange(3), 20), 3)
    source = np.repeat(np.arange(3), 60)
    n = len(label)
    np.savez(folder / "pack.npz", offsets=np.arange(n + 1) * 10, label=label, source=source,
             is_val=(np.arange(n) % 5 == 0), sources=np.array(["s0", "s1", "s2"]))
    key = pose.pack_key({"offsets": np.arange(n + 1) * 10, "label": label})

    def landmarks() -> np.ndarray:
        return (shapes[label] + rng.normal(scale=0.004, size=(n, 21, 3))).astype(np.float32)

    valid = np.ones(n, bool)
    valid[::7] = False  # no hand found in some
    np.savez(folder / "pose.npz", valid=valid, world=landmarks(), right=rng.random(n) < 0.5,
             pack_key=key)
    np.savez(folder / "pose-views.npz", valid=np.ones((views, n), bool),
             world=np.stack([landmarks() for _ in range(views)]),
             right=rng.random((views, n)) < 0.5, pack_key=key)


def _fit(folder: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "pose_head.py"), "--pack", str(folder),
         "--out", str(folder / "head.json"), "--epochs", "20", *extra],
        capture_output=True, text=True, timeout=300)


def test_pose_head_fits_on_the_images_and_their_altered_views(tmp_path: Path) -> None:
    _fake_pack(tmp_path, views=2)
    run = _fit(tmp_path, "--views", str(tmp_path / "pose-views.npz"))
    assert run.returncode == 0, run.stderr
    head = PoseHead.load(tmp_path / "head.json")
    assert head.labels == list(CLASSES)
    # training images: with a hand and not in validation; the views add two of each
    valid = np.ones(180, bool)
    valid[::7] = False
    train_images = int((valid & (np.arange(180) % 5 != 0)).sum())
    assert head.training["images"] == train_images
    assert head.training["altered_views"] == 2 * int((np.arange(180) % 5 != 0).sum())
    assert "10 epochs" in head.training["model"]  # 20 epochs shared by 3 copies, at least 10
    assert set(head.metrics["leave_one_source_out_accuracy"]) == {"s0", "s1", "s2"}
    assert head.metrics["block_split_val_accuracy"] > 0.9  # three distinct shapes: easy
    assert json.loads(run.stdout)["out"] == str(tmp_path / "head.json")


def test_pose_head_refuses_views_of_another_pack(tmp_path: Path) -> None:
    _fake_pack(tmp_path, views=1)
    other = dict(np.load(tmp_path / "pose-views.npz"))
    other["pack_key"] = np.array("0123456789abcdef")
    np.savez(tmp_path / "pose-views.npz", **other)
    run = _fit(tmp_path, "--views", str(tmp_path / "pose-views.npz"))
    assert run.returncode != 0 and "not made from this pack" in run.stderr


def test_pose_head_without_views_fits_the_images_alone(tmp_path: Path) -> None:
    _fake_pack(tmp_path, views=1)
    run = _fit(tmp_path)
    assert run.returncode == 0, run.stderr
    head = PoseHead.load(tmp_path / "head.json")
    assert head.training["altered_views"] == 0 and "20 epochs" in head.training["model"]


def test_pose_head_turned_copies_and_averaged_seeds(tmp_path: Path) -> None:
    """--turns adds turned copies of every set of landmarks; --seeds stores the average of several
    MLPs as one wider MLP, whose logits are the mean of theirs; --thumb fits on handpose-62/2."""
    _fake_pack(tmp_path, views=1)
    run = _fit(tmp_path, "--views", str(tmp_path / "pose-views.npz"), "--turns", "2",
               "--turn-degrees", "20", "--seeds", "3", "--hidden", "16", "--thumb")
    assert run.returncode == 0, run.stderr
    head = PoseHead.load(tmp_path / "head.json")
    n_train = int((np.arange(180) % 5 != 0).sum())
    valid = np.ones(180, bool)
    valid[::7] = False
    # the views (1) and 2 turned copies of the images (with a hand) and of the view
    assert head.training["altered_views"] == 3 * n_train + 2 * int((valid & (np.arange(180) % 5 != 0)).sum())
    assert head.layers[0][0].shape[1] == 48 and "3 fitted and averaged" in head.training["model"]
    assert head.features == FEATURES_THUMB and head.mean.shape == (FEATURE_WIDTHS[FEATURES_THUMB],)
    assert head.metrics["block_split_val_accuracy"] > 0.9

    sys.path.insert(0, str(ROOT / "tools"))
    from pose_head import fit_head, fit_mlp, turned

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 62)), np.repeat(np.arange(3), 20)
    both = fit_head(x, y, seeds=2, hidden=4, epochs=3)
    xs = (x - both.mean) / both.scale
    want = []
    for seed in (0, 1):
        (w1, b1), (w2, b2) = fit_mlp(xs, y, len(CLASSES), hidden=4, epochs=3, seed=seed)
        want.append(np.maximum(xs @ w1 + b1, 0) @ w2 + b2)
    assert np.allclose(both.logits(x), np.mean(want, axis=0), atol=1e-8)
    # turned copies keep each hand's shape (its distances) and move its directions
    world = rng.normal(size=(5, 21, 3))
    (t, right, ok), = turned((world, np.ones(5, bool), np.ones(5, bool)), 1, 30)
    d = np.linalg.norm(world[:, :, None] - world[:, None], axis=-1)
    assert np.allclose(np.linalg.norm(t[:, :, None] - t[:, None], axis=-1), d)
    assert not np.allclose(t, world) and right.all() and ok.all()


class _FakeHands:
    """Stands in for MediaPipe's HandCropper: a "hand" whose landmarks are the image's mean colour
    (a mirror image's too)."""

    def __init__(self, **_: object) -> None:  # HandCropper's options (engine=...)
        pass

    def look(self, img: Image.Image, mirror: bool = False, turn: float = 0.0,
             pad: float = 0.0, copy: str | None = None) -> Any:
        from fingerspell.handcrop import Hand

        mean = np.asarray(img, np.float64).mean(axis=(0, 1)) / 255
        return Hand((0, 0, 10, 10), np.tile(mean, (21, 1)).tolist(), True)

    def close(self) -> None:
        pass


def test_work_reads_the_images_themselves_and_altered_views(tmp_path: Path, monkeypatch) -> None:
    import io

    from fingerspell import handcrop

    monkeypatch.setattr(handcrop, "HandCropper", _FakeHands)
    blobs = []
    for shade in (40, 200):
        buf = io.BytesIO()
        Image.new("RGB", (150, 150), (shade, shade // 2, 255 - shade)).save(buf, "PNG")
        blobs.append(np.frombuffer(buf.getvalue(), np.uint8))
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])])
    np.savez(tmp_path / "pack.npz", blob=np.concatenate(blobs), offsets=offsets)
    job = (str(tmp_path / "pack.npz"), 0, 2, -1, 0.0, 0.0, "auto")
    view, start, _, valid, world, right = pose._work(job)
    assert (view, start) == (-1, 0) and valid.all() and right.all()
    # the image itself: its colour, untouched
    assert world[0, 0] == pytest.approx(np.array([40, 20, 215]) / 255, abs=1e-3)
    altered = (str(tmp_path / "pack.npz"), 0, 2, 1, 0.0, 0.0, "auto")
    again = pose._work(altered)
    assert again[0] == 1 and not np.allclose(again[4], world)  # brightness and contrast changed
    assert np.array_equal(again[4], pose._work(altered)[4])


class _MirrorFlagHands(_FakeHands):
    """Records whether each look was asked for the mirror image (HandCropper.look(mirror=...))."""

    asked: ClassVar[list[tuple[bool, float, float]]] = []

    def look(self, img: Image.Image, mirror: bool = False, turn: float = 0.0,
             pad: float = 0.0, copy: str | None = None) -> Any:
        self.asked.append((mirror, turn, pad))
        return super().look(img, mirror, turn, pad)


def test_work_asks_the_runtime_for_the_mirror_image_for_view_minus_2(tmp_path: Path,
                                                                     monkeypatch) -> None:
    """The mirror's landmarks come from the runtime's own look(mirror=True), the flip included
    (tests/test_handpose.py checks what that flag does)."""
    import io

    from fingerspell import handcrop

    monkeypatch.setattr(handcrop, "HandCropper", _MirrorFlagHands)
    buf = io.BytesIO()
    Image.new("RGB", (150, 150), (255, 0, 0)).save(buf, "PNG")
    blob = np.frombuffer(buf.getvalue(), np.uint8)
    np.savez(tmp_path / "pack.npz", blob=blob, offsets=np.array([0, len(blob)]))
    _MirrorFlagHands.asked = []
    for view, turn, pad in ((-1, 0.0, 0.0), (-2, 0.0, 0.0), (0, 0.0, 0.0), (-1, 15.0, 0.0),
                            (-1, 0.0, 0.25), (-2, 15.0, 0.0)):
        pose._work((str(tmp_path / "pack.npz"), 0, 1, view, turn, pad, "auto"))
    # an altered view mirrors by itself; --turn and --pad ask the runtime's look(turn=, pad=)
    assert _MirrorFlagHands.asked == [(False, 0.0, 0.0), (True, 0.0, 0.0), (False, 0.0, 0.0),
                                      (False, 15.0, 0.0), (False, 0.0, 0.25), (True, 15.0, 0.0)]


def test_views_go_alone(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "gpu" / "pose.py"), str(tmp_path), "--mirror",
                          "--views", "2"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "not with --mirror, --turn or --pad" in run.stderr


def test_fusion_fit_scores_held_out_answers_and_the_mirror(tmp_path: Path) -> None:
    """tools/fusion_fit.py: the held-out network's answers fused with a head fitted without the
    same source; the fusion with power 1 is the runtime's own, and a power near 0 leaves the head."""
    sys.path.insert(0, str(ROOT / "tools"))
    import fusion_fit

    from fingerspell.handpose import fuse

    net, head = np.array([[0.6, 0.3, 0.1]]), np.array([[0.1, 0.6, 0.3]])
    np.testing.assert_allclose(fusion_fit.fused(net, head, 1.0), fuse(net, head), rtol=1e-6)
    np.testing.assert_allclose(fusion_fit.fused(net, head, 1e-9), head, rtol=1e-6)

    _fake_pack(tmp_path, views=1)
    pack = dict(np.load(tmp_path / "pack.npz"))
    n = len(pack["label"])
    pack["paths"] = np.array([f"{'handcrops/' if i % 2 else ''}x/{i}.jpg" for i in range(n)])
    np.savez(tmp_path / "pack.npz", **pack)
    held = np.flatnonzero(pack["source"] == 2)
    # a network that is right on two thirds of the held-out source, unsure elsewhere
    probs = np.full((len(held), 29), 0.5 / 28)
    probs[np.arange(len(held)), np.where(held % 3 == 0, (pack["label"][held] + 1) % 3,
                                         pack["label"][held])] = 0.5
    np.savez(tmp_path / "probs.npz", index=held, probs=probs, epoch=3)
    mirror = dict(np.load(tmp_path / "pose-views.npz"))
    np.savez(tmp_path / "pose-mirror.npz", **mirror)
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "fusion_fit.py"), "--pack", str(tmp_path), "--probs",
         str(tmp_path / "probs.npz"), "--mirror", str(tmp_path / "pose-mirror.npz"), "--epochs", "20",
         "--views-below", "1e-9", "--views-below", "1", "--json", str(tmp_path / "fit.json")],
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    table = json.loads((tmp_path / "fit.json").read_text())
    assert [r["subset"] for r in table] == ["crops", "whole photos"]
    found = np.load(tmp_path / "pose.npz")["valid"][held]  # only images with a hand are scored
    assert sum(r["images"] for r in table) == int(found.sum())
    right = held % 3 != 0  # where the fake network is right
    for r in table:
        crop = held % 2 == (1 if r["subset"] == "crops" else 0)
        assert r["network alone"]["acc"] == pytest.approx(float(right[found & crop].mean()), abs=1e-4)
        # the clean fake hands mend the network's errors
        assert r["lowest log loss"]["acc"] > r["network alone"]["acc"]
        assert "shipped fusion, pose on image and mirror" in r
        assert list(r["per source (accuracy)"]) == ["s2"]
        # --views-below: always sure, the image's own view alone; never sure, every view
        shipped_one = next(v for k, v in r.items() if k.startswith("shipped fusion (power 1"))
        never, always = r["shipped fusion, other views only below 1e-09"], r[
            "shipped fusion, other views only below 1"]
        assert never == {**shipped_one, "views_skipped": 1.0}
        assert always == {**r["shipped fusion, pose on image and mirror"], "views_skipped": 0.0}
    # a view read too (--read-view): the same rows, its logits averaged in; a view whose hands are
    # another letter's (shifted by one class) makes the head's answers worse
    shifted = dict(mirror)
    shifted["world"] = mirror["world"][:, np.roll(np.arange(mirror["world"].shape[1]), 20)]
    np.savez(tmp_path / "pose-turn+15.npz", **shifted)
    again = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "fusion_fit.py"), "--pack", str(tmp_path), "--probs",
         str(tmp_path / "probs.npz"), "--mirror", str(tmp_path / "pose-mirror.npz"), "--read-view",
         str(tmp_path / "pose-turn+15.npz"), "--epochs", "20", "--json", str(tmp_path / "fit2.json")],
        capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    table2 = json.loads((tmp_path / "fit2.json").read_text())
    assert [r["images"] for r in table2] == [r["images"] for r in table]
    assert [r["network alone"] for r in table2] == [r["network alone"] for r in table]
    for before, after in zip(table, table2, strict=True):
        assert (after["pose alone, image and mirror"]["log_loss"]
                > before["pose alone, image and mirror"]["log_loss"] + 0.1)


def test_installed_holdout_reads_as_the_recognizer_does() -> None:
    """benchmarks/installed_holdout.py's read(): the photo's own view alone where the head is
    sure of it, every view found where it is not or where the photo shows no hand, the crop's
    network answer where there is one, the whole photo's where there is none or no hand, or
    where the head asks for the whole photo (`whole_below`) and it is sure enough."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from installed_holdout import read

    from fingerspell.handpose import fuse

    head = PoseHead.load(ROOT / "artifacts" / "fingerspell-pose.json")
    rng = np.random.default_rng(0)
    hand = [tuple(p) for p in rng.normal(0, 0.03, (21, 3))]
    other = [tuple(p) for p in rng.normal(0, 0.03, (21, 3))]
    view, view2 = ((0, 0, 5, 5), hand, True, False), ((0, 0, 5, 5), other, False, False)
    whole, crop = np.full(len(CLASSES), 1 / len(CLASSES)), rng.dirichlet(np.ones(len(CLASSES)))
    probs, found = read(head, [None, None, None], whole, crop)
    assert not found and np.allclose(probs, head.no_hand(whole))  # nothing weighted as shipped
    both = np.stack([head.numbers(hand, True), head.numbers(other, False)])
    for below, want_views in ((1e-9, both[:1]), (1.0, both)):  # sure of the photo; never sure
        head.views_below = below
        probs, found = read(head, [view, None, view2], whole, crop)
        assert found and np.allclose(probs, fuse(crop, head.probabilities_of_views(want_views)))
    head.views_below = 1e-9  # no hand in the photo's own view: the others, and the whole photo
    probs, found = read(head, [None, view2, None], whole, None)
    assert found and np.allclose(probs, fuse(whole, head.probabilities_of_views(both[1:])))
    # whole_below: an unsure fused answer gives way to a sure whole-photo one, never to an unsure
    sure = np.eye(len(CLASSES))[3] * 0.9 + 0.1 / len(CLASSES)
    fused = fuse(crop, head.probabilities_of_views(both[:1]))
    for below, whole_probs, want in ((None, sure, fused), (1.0, sure, sure), (1.0, whole, fused),
                                     (1e-9, sure, fused)):
        head.whole_below = below
        probs, found = read(head, [view, None, None], whole_probs, crop)
        assert found and np.allclose(probs, want)


def test_val_photos_links_the_validation_whole_photos_and_scores_predict_csvs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """benchmarks/val_photos.py: only the validation split's whole photos are linked (not its
    training photos, not the pack's crops, not a photo gone from disk), under their labels, and
    a predict CSV is scored by pack index, with the photos two CSVs read differently named."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import val_photos

    for name in ("a/A/1.jpg", "a/B/2.jpg", "a/A/3.jpg", "handcrops/a/A/1.jpg", "b/B/4.jpg"):
        (tmp_path / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "data" / name)
    paths = ["data/a/A/1.jpg", "data/a/B/2.jpg", "data/a/A/3.jpg", "data/handcrops/a/A/1.jpg",
             "data/b/B/4.jpg", "data/b/B/gone.jpg"]
    pack = tmp_path / "pack"
    pack.mkdir()
    np.savez(pack / "pack.npz", paths=np.array(paths), label=np.array([0, 1, 0, 0, 1, 1]),
             source=np.array([0, 0, 0, 0, 1, 1]), sources=np.array(["a/x", "b/y"]),
             is_val=np.array([True, True, False, True, True, True]))
    out = tmp_path / "val"
    assert val_photos.link(pack, out, tmp_path) == 0
    linked = sorted(str(p.relative_to(out)) for p in out.rglob("*.jpg"))
    assert linked == ["A/0-1.jpg", "B/1-2.jpg", "B/4-4.jpg"]
    assert (out / "A" / "0-1.jpg").resolve() == (tmp_path / "data/a/A/1.jpg").resolve()
    assert "1 not found" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="not empty"):
        val_photos.link(pack, out, tmp_path)

    def predict_csv(name: str, answers: list[str]) -> Path:
        path = tmp_path / name
        rows = [f"{out}/{p},{a},0.9," for p, a in zip(linked, answers, strict=True)]
        path.write_text("source,label,confidence,error\n" + "\n".join(rows) + "\n")
        return path

    one, two = predict_csv("one.csv", ["A", "A", "B"]), predict_csv("two.csv", ["A", "B", "A"])
    capsys.readouterr()
    counts = val_photos.score(out, one, two)
    assert counts == {"a/x": {"photos": 2, "as installed": 1, "network alone": 2},
                      "b/y": {"photos": 1, "as installed": 1, "network alone": 0},
                      "all": {"photos": 3, "as installed": 2, "network alone": 2}}
    text = capsys.readouterr().out
    assert "| a | 2 | 50.00 % (1) | 100.00 % (2) |" in text and "B→A 1" in text
    assert "right only as installed: 1" in text and "right only network alone: 1" in text
    assert f"{tmp_path / 'data/a/B/2.jpg'}: B, as installed A, network alone B" in text
    # a photo the CSV lacks counts wrong, and is said to be missing
    (tmp_path / "short.csv").write_text("".join(one.read_text().splitlines(True)[:2]))
    assert val_photos.score(out, tmp_path / "short.csv")["all"] == {"photos": 3, "as installed": 1}
    assert "2 photos not in its CSV" in capsys.readouterr().out


def test_adapt_holdout_ranks_photos_by_frame_then_name() -> None:
    """benchmarks/adapt_holdout.py's split(): the photos a user would enrol are the first by
    frame number, ties broken by name, whatever order the photos come in (a set's order changes
    with each run's string hashing, which made the benchmark's adapted rows move between runs)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from adapt_holdout import frame_number, split

    for names in (["b_1.jpg", "a_1.jpg", "c_2.jpg"], ["c_2.jpg", "a_1.jpg", "b_1.jpg"]):
        arr = np.array(names)
        order = {n: frame_number(n) for n in names}
        first, last = split(np.arange(3), arr, order)
        assert first == ["a_1.jpg"] and last == {"b_1.jpg", "c_2.jpg"}


def test_conditions_fresh_samples_share_no_photo_with_the_first(tmp_path: Path) -> None:
    """benchmarks/conditions.py's photos(): --between takes the photos that share of the way
    between the evenly spread ones, so a change designed on one sample is judged on another."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from conditions import photos

    for i in range(100):
        (tmp_path / "A").mkdir(exist_ok=True)
        (tmp_path / "A" / f"{i:03d}.jpg").touch()
    (tmp_path / "B").mkdir()
    for i in range(3):  # fewer than asked: every photo, whatever --between says
        (tmp_path / "B" / f"{i}.jpg").touch()

    def names(between: float) -> list[int]:
        return [int(p.stem) for p, cls in photos(tmp_path, 12, between) if cls == "A"]

    spread = names(0.0)
    assert spread[:3] == [0, 9, 18] and spread[-1] == 99 and len(spread) == 12
    assert names(0.5)[:3] == [4, 13, 22] and len(names(0.5)) == 11  # 4.5 rounds to 4
    samples = [set(names(b)) for b in (0.0, 0.5, 0.25, 0.75)]
    assert all(len(s) == 11 for s in samples[1:])
    assert all(not a & b for i, a in enumerate(samples) for b in samples[i + 1:])
    assert [p.name for p, cls in photos(tmp_path, 12, 0.25) if cls == "B"] == ["0.jpg", "1.jpg", "2.jpg"]


def test_empty_scene_benchmark_reads_each_size_with_no_hand(tmp_path: Path) -> None:
    """benchmarks/empty_scene.py: one warm Recognizer reads the empty scene at each size asked,
    and says what it read; a size that is not WIDTHxHEIGHT is refused."""
    import argparse

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from empty_scene import medians, size

    scene = tmp_path / "wall.png"
    Image.new("RGB", (120, 90), (150, 140, 120)).save(scene)
    rows = medians(scene, [(64, 48), (96, 200)], runs=1)
    assert [r["size"] for r in rows] == ["64x48", "96x200"]
    assert [r["read"] for r in rows] == ["no_hand", "no_hand"]
    assert all(isinstance(r["median_ms"], float) and r["median_ms"] > 0 for r in rows)
    assert size("640X480") == (640, 480)
    for bad in ("640", "0x480", "axb"):
        with pytest.raises(argparse.ArgumentTypeError):
            size(bad)
