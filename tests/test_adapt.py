"""`fingerspell adapt`: the pose head fine-tuned on a person's own photos.

The fine-tuning is checked on made-up heads and numbers; the verb with a faked hand finder whose
landmarks follow the photo's colour (a red photo shows one hand shape, a blue one another, a grey
one no hand), so what is tested is the plumbing: which photos are used, what is reported, what is
written, and that `--pose` then reads with it. How much it helps real people is measured by
`benchmarks/adapt_holdout.py` (docs/adapt.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fingerspell import handcrop
from fingerspell.adapt import Enrolment, FusedLoss, adapt_head, check, labelled_photos, mlp_gradients
from fingerspell.artifact import bundled_dir
from fingerspell.errors import DatasetError
from fingerspell.handcrop import Hand
from fingerspell.handpose import DEFAULT_POSE_HEAD, HEAD_FEATURES, PoseHead, fuse, tempered
from fingerspell.schema import CLASSES

BUNDLED = bundled_dir() / DEFAULT_POSE_HEAD
SHIPPED = bundled_dir() / "fingerspell-vgg16-int8.onnx"
SHAPES = {  # a hand's landmarks (metres) for each colour of photo
    "red": np.random.default_rng(1).normal(scale=0.03, size=(21, 3)),
    "blue": np.random.default_rng(2).normal(scale=0.03, size=(21, 3)),
}
COLOURS = {"red": (200, 30, 30), "blue": (30, 30, 200), "grey": (128, 128, 128)}


def _head(seed: int = 0) -> PoseHead:
    rng = np.random.default_rng(seed)
    return PoseHead(labels=list(CLASSES), mean=rng.normal(size=HEAD_FEATURES),
                    scale=rng.uniform(0.5, 2, HEAD_FEATURES),
                    # weights of a fitted head's size (a fitted head's logits stay within tens)
                    layers=[(rng.normal(scale=0.2, size=(HEAD_FEATURES, 16)), rng.normal(size=16)),
                            (rng.normal(scale=0.3, size=(16, len(CLASSES))), rng.normal(size=len(CLASSES)))],
                    temperature=1.5, uniform_mix=0.02, mirror=True, views_below=0.8,
                    no_hand_nothing=16.0)


def _person(base: PoseHead) -> tuple[np.random.Generator, np.ndarray, np.ndarray, np.ndarray]:
    """A made-up person: (the generator, each of three letters' pose, 6 photos of each [18,
    features], their classes E, L and U)."""
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, HEAD_FEATURES)) * 2 + base.mean
    x = np.concatenate([c + rng.normal(scale=0.2, size=(6, HEAD_FEATURES)) for c in centres])
    return rng, centres, x, np.repeat([4, 11, 20], 6)


def test_adapting_reads_the_photos_letters_and_stays_near_the_head() -> None:
    base = _head()
    rng, centres, x, y = _person(base)
    assert (base.logits(x).argmax(1) == y).mean() < 0.5  # the head misreads this "person"
    head = adapt_head(base, x, y)
    assert (head.logits(x).argmax(1) == y).all()
    fresh = np.stack([c + rng.normal(scale=0.2, size=HEAD_FEATURES) for c in centres])
    assert (head.logits(fresh).argmax(1) == [4, 11, 20]).all()  # and the same person's next photos
    held = adapt_head(base, x, y, anchor=1.0)  # a stronger pull towards the head moves it less
    for (w, _), (w0, _), (w1, _) in zip(head.layers, base.layers, held.layers, strict=True):
        assert w.shape == w0.shape and 0 < np.abs(w1 - w0).mean() < np.abs(w - w0).mean()
        assert np.abs(w - w0).mean() < 0.5 * np.abs(w0).mean()
    # all else as the head adapted from, and the same fit each time
    assert (head.temperature, head.uniform_mix, head.mirror, head.views_below,
            head.no_hand_nothing) == (1.5, 0.02, True, 0.8, 16.0)
    assert np.array_equal(head.mean, base.mean)
    again = adapt_head(base, x, y)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(head.layers, again.layers, strict=True))
    assert PoseHead.from_dict(head.to_dict()).no_hand_nothing == 16.0


def test_the_fused_loss_gradient_is_the_loss_s_slope() -> None:
    rng = np.random.default_rng(5)
    base = _head()
    params = [a.copy() for layer in base.layers for a in layer]
    x = rng.normal(size=(4, HEAD_FEATURES))
    onehot = np.eye(len(CLASSES))[[3, 8, 8, 20]]
    fused = FusedLoss(rng.dirichlet(np.ones(len(CLASSES)), 4), 1.5, 0.02, share=0.7)

    def loss(ps: list[np.ndarray]) -> float:
        z = np.maximum(x @ ps[0] + ps[1], 0) @ ps[2] + ps[3]
        alone = -np.log((tempered(z, 1.0, 0.0) * onehot).sum(1))
        both = fused.network * tempered(z, 1.5, 0.02)  # as the runtime fuses (`fuse`), in float64
        both /= both.sum(1, keepdims=True)
        return float(np.mean(0.3 * alone - 0.7 * np.log((both * onehot).sum(1))))

    grads = mlp_gradients(params, x, onehot, fused)
    for k, at in ((0, (2, 3)), (1, (5,)), (2, (3, 8)), (2, (0, 20)), (3, (8,)), (3, (20,))):
        step = [np.zeros_like(p) for p in params]
        step[k][at] = 1e-5
        slope = (loss([p + d for p, d in zip(params, step, strict=True)])
                 - loss([p - d for p, d in zip(params, step, strict=True)])) / 2e-5
        assert abs(slope - grads[k][at]) < 1e-4 * max(1.0, abs(slope)), (k, at)


def test_adapting_on_the_fused_answer_overrules_a_network_sure_of_the_wrong_letter() -> None:
    base = _head()
    _, _, x, y = _person(base)
    net = np.full((len(y), len(CLASSES)), 0.005)
    net[:, 9] = 1 - 0.005 * (len(CLASSES) - 1)  # this person's every photo reads J to the network
    for anchor in (1e-3, 0.1):
        alone = adapt_head(base, x, y, anchor=anchor).probabilities(x)
        both = adapt_head(base, x, y, net, anchor=anchor).probabilities(x)
        assert (alone.argmax(1) == y).all() and (both.argmax(1) == y).all()  # the head reads them
        # but only the head adapted on the fused answer outweighs the network where it counts
        assert (fuse(net, alone).argmax(1) == y).mean() < 0.7
        assert (fuse(net, both).argmax(1) == y).all()


def test_the_check_reads_each_photo_with_a_head_adapted_without_it() -> None:
    base = _head()
    rng = np.random.default_rng(4)
    centres = rng.normal(size=(len(CLASSES), HEAD_FEATURES)) * 2 + base.mean
    flat = np.full(len(CLASSES), 1 / len(CLASSES))
    enrolled = Enrolment()
    for i in range(3 * len(CLASSES)):  # three photos of every class
        enrolled.names.append(f"p{i}.jpg")
        enrolled.labels.append(i % len(CLASSES))
        enrolled.views.append(centres[i % len(CLASSES)] + rng.normal(scale=0.2, size=(2, HEAD_FEATURES)))
        enrolled.network.append(flat)  # a network with no opinion: the head decides
    got = check(base, enrolled)
    before = sum(int(base.logits(v[:1]).argmax() == t)
                 for v, t in zip(enrolled.views, enrolled.labels, strict=True))
    assert (got.photos, got.before) == (87, before) and before < 20 and got.after > 80
    # what is still read wrong is named, photo by photo and letter by letter
    assert len(got.misread) == got.photos - got.after
    for name, want, read in got.misread:
        i = enrolled.names.index(name)
        assert want == CLASSES[enrolled.labels[i]] != read
    assert sum(n for _, n, _ in got.letters_misread()) == len(got.misread)
    alone = Enrolment(["p.jpg"], [7], [enrolled.views[0]], [flat])
    assert check(base, alone).photos == 1  # one photo: nothing to adapt on, the head as it was


def test_the_letters_misread_most_come_first() -> None:
    from fingerspell.adapt import Check

    got = Check(5, 1, 2, [("a.jpg", "M", "N"), ("b.jpg", "S", "E"), ("c.jpg", "M", "S")])
    assert got.letters_misread() == [("M", 2, ["N", "S"]), ("S", 1, ["E"])]
    assert Check(5, 5, 5).letters_misread() == []


def test_the_folder_names_the_letters_and_reports_the_rest(tmp_path: Path) -> None:
    for name in ("a", "Space", "B", "junk"):
        (tmp_path / name).mkdir()
    (tmp_path / "a" / "day2").mkdir()
    for rel in ("a/1.jpg", "a/10.jpg", "a/2.png", "a/notes.txt", "a/day2/3.HEIC", "Space/s.jpg",
                "junk/x.jpg"):
        (tmp_path / rel).write_bytes(b"")
    photos, problems = labelled_photos(tmp_path, list(CLASSES))
    # a letter's subfolders are read too; a phone format is listed, to be named if unreadable
    assert [(str(p.relative_to(tmp_path)), c) for p, c in photos] == [
        ("a/1.jpg", "A"), ("a/2.png", "A"), ("a/10.jpg", "A"), ("a/day2/3.HEIC", "A"),
        ("Space/s.jpg", "space")]
    assert len(problems) == 1 and "junk" in problems[0] and "not a class" in problems[0]
    # beside the letter folders: photos were not named; Windows' files were failures (exit 1)
    for stray in ("B_photo.jpg", "C.HEIC", ".DS_Store", "Thumbs.db", "desktop.ini"):
        (tmp_path / stray).write_bytes(b"")
    _, problems = labelled_photos(tmp_path, list(CLASSES))
    assert [Path(p.split(": ")[0]).name for p in problems] == ["B_photo.jpg", "C.HEIC", "junk"]
    assert all("not in a letter folder" in p for p in problems[:2]) and "not a class" in problems[2]
    with pytest.raises(DatasetError, match="not a folder"):
        labelled_photos(tmp_path / "a" / "1.jpg", list(CLASSES))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="no photos"):
        labelled_photos(empty, list(CLASSES))


class _ColourHands:
    """A hand finder whose hand follows the photo's colour (grey: none); in the mirror image
    the same hand, seen as the other hand."""

    engine = "onnx"

    def __init__(self, **_: object) -> None:
        pass

    def look(self, img: Image.Image, mirror: bool = False, turn: float = 0.0, pad: float = 0.0,
             copy: str | None = None) -> Hand | None:
        r, _, b = np.asarray(img, float).reshape(-1, 3).mean(0)
        if abs(r - b) < 50:
            return None
        world = SHAPES["red" if r > b else "blue"].copy()
        if mirror:
            world[:, 0] = -world[:, 0]
        return Hand((0, 0, img.width // 2, img.height), world.tolist(), not mirror)

    def crop(self, img: Image.Image) -> Image.Image:
        hand = self.look(img)
        return img.crop(hand.box) if hand else img


def _photos(root: Path, layout: dict[str, list[str]]) -> Path:
    for letter, colours in layout.items():
        (root / letter).mkdir(parents=True, exist_ok=True)
        for i, colour in enumerate(colours):
            Image.new("RGB", (96, 80), COLOURS[colour]).save(root / letter / f"{i}.png")
    return root


def bundled_head() -> PoseHead:
    return PoseHead.load(BUNDLED)


needs_shipped = pytest.mark.skipif(not (SHIPPED.is_file() and BUNDLED.is_file()),
                                   reason="the shipped artifact and pose head are not in artifacts/")


@needs_shipped
def test_adapt_writes_a_head_that_predict_reads_with(monkeypatch, tmp_path: Path) -> None:
    from fingerspell.cli import app
    from fingerspell.recognizer import Recognizer

    monkeypatch.setattr(handcrop, "HandCropper", _ColourHands)
    # which letters the bundled head reads these two made-up hands as; adapt them to two others
    bundled = PoseHead.load(BUNDLED)
    said = {c: CLASSES[int(bundled.logits(bundled.numbers(SHAPES[c], True)[None]).argmax())]
            for c in SHAPES}
    want = {"red": "W" if said["red"] != "W" else "K", "blue": "F" if said["blue"] != "F" else "G"}
    folder = _photos(tmp_path / "mine", {want["red"]: ["red"] * 3, want["blue"]: ["blue"] * 3})
    out = tmp_path / "my-hand.json"
    r = CliRunner().invoke(app, ["adapt", str(folder), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "6 photos with a hand, 2 letters" in r.stdout and f"wrote {out}" in r.stdout
    assert "no photos of" in r.stderr and "the others keep fingerspell-pose.json's reading" in r.stderr
    doc = json.loads(out.read_text())
    # two letters of 26: adapted to tell those apart only (and the classes that are no letters)
    assert doc["schema_version"] == 2
    assert doc["adapted_classes"] == [*sorted([want["red"], want["blue"]]), "del", "nothing", "space"]
    assert doc["training"]["adapted"]["photos"] == {want["red"]: 3, want["blue"]: 3}
    assert doc["training"]["adapted"]["rows"] == 18  # each photo, its mirror image, turned 15°
    assert doc["metrics"]["adapted_check"]["photos"] == 6
    misread = doc["metrics"]["adapted_check"]["misread_after"]
    assert sum(misread.values()) == 6 - doc["metrics"]["adapted_check"]["right_after"]
    assert ("still read wrong" in r.stdout) == bool(misread)
    info = CliRunner().invoke(app, ["info", "--pose", str(out)])
    assert info.exit_code == 0 and "decides among" in info.stdout
    assert "adapted    from fingerspell-pose.json to 6 photos of 2 letters" in info.stdout
    rec = Recognizer(pose=out)
    assert rec.pose_head is not None
    for colour in ("red", "blue"):
        numbers = rec.pose_head.numbers(SHAPES[colour], True)[None]
        assert CLASSES[int(rec.pose_head.logits(numbers).argmax())] == want[colour]
    p = CliRunner().invoke(app, ["predict", str(folder / want["red"] / "0.png"), "--pose", str(out),
                                 "-k", "29", "--json"])
    assert p.exit_code == 0
    fused = json.loads(p.stdout.splitlines()[-1])
    before = json.loads(CliRunner().invoke(app, ["predict", str(folder / want["red"] / "0.png"),
                                                 "-k", "29", "--json"]).stdout.splitlines()[-1])
    def score(line: dict) -> float:
        return {t["label"]: t["score"] for t in line["top_k"]}[want["red"]]

    assert score(fused) > score(before)


@needs_shipped
@needs_shipped
def test_adapt_names_the_letters_still_read_wrong(monkeypatch, tmp_path: Path) -> None:
    from fingerspell import adapt as fit
    from fingerspell.cli import app

    monkeypatch.setattr(handcrop, "HandCropper", _ColourHands)
    monkeypatch.setattr(fit, "check", lambda base, enrolled: fit.Check(
        6, 2, 3, [("a", "M", "N"), ("b", "M", "S"), ("c", "S", "E")]))
    folder = _photos(tmp_path / "mine", {"M": ["red"] * 3, "S": ["blue"] * 3})
    r = CliRunner().invoke(app, ["adapt", str(folder), "--out", str(tmp_path / "h.json")])
    assert r.exit_code == 0, r.output
    assert "still read wrong by a head adapted without them: M 2 (as N/S), S 1 (as E)" in r.stdout
    doc = json.loads((tmp_path / "h.json").read_text())
    assert doc["metrics"]["adapted_check"]["misread_after"] == {"M": 2, "S": 1}


def test_adapt_names_each_photo_it_cannot_use_and_still_writes(monkeypatch, tmp_path: Path) -> None:
    from fingerspell.cli import app

    monkeypatch.setattr(handcrop, "HandCropper", _ColourHands)
    folder = _photos(tmp_path / "mine", {"A": ["red", "grey"], "b": ["blue"]})
    (folder / "A" / "broken.jpg").write_bytes(b"not an image")
    (folder / "selfies").mkdir()
    out = tmp_path / "h.json"
    r = CliRunner().invoke(app, ["adapt", str(folder), "--out", str(out)])
    assert r.exit_code == 1 and out.is_file() and "Traceback" not in r.output
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 3
    assert any("broken.jpg" in e for e in errors) and any("selfies" in e for e in errors)
    assert any("1.png: no hand found" in e for e in errors)
    assert "2 photos with a hand, 2 letters (A B)" in r.stdout


@needs_shipped
def test_adapt_refuses_what_it_cannot_do(monkeypatch, tmp_path: Path) -> None:
    from fingerspell.cli import app

    monkeypatch.setattr(handcrop, "HandCropper", _ColourHands)
    runner = CliRunner()
    grey = _photos(tmp_path / "grey", {"A": ["grey", "grey"]})
    out = tmp_path / "h.json"
    r = runner.invoke(app, ["adapt", str(grey), "--out", str(out)])
    assert r.exit_code == 4 and not out.exists() and "no photo with a hand found" in r.stderr
    assert "nothing written" in r.stderr and r.stderr.count("no hand found") == 2
    loose = tmp_path / "loose"
    loose.mkdir()
    Image.new("RGB", (96, 80), COLOURS["red"]).save(loose / "a.png")  # a hand, but no letter folder
    r = runner.invoke(app, ["adapt", str(loose), "--out", str(out)])
    assert r.exit_code == 4 and not out.exists(), r.output
    assert "not in a letter folder" in r.stderr  # was blamed on the hands: 'no photo with a hand'
    assert f"{loose}: no photo in a letter folder (A/, B/, …); nothing written" in r.stderr
    mine = _photos(tmp_path / "mine", {"A": ["red"]})
    gone = runner.invoke(app, ["adapt", str(tmp_path / "nope"), "--out", str(out)])
    assert gone.exit_code == 4 and gone.stderr.count(str(tmp_path / "nope")) == 1  # named once
    assert runner.invoke(app, ["adapt", str(mine), "--out", str(out), "--pose", "none"]).exit_code == 2
    assert runner.invoke(app, ["adapt", str(mine), "--out", str(tmp_path)]).exit_code == 2
    nowhere = runner.invoke(app, ["adapt", str(mine), "--out", str(tmp_path / "no" / "h.json")])
    assert nowhere.exit_code == 2 and "no such folder" in nowhere.stderr
    own = runner.invoke(app, ["adapt", str(mine), "--out", str(BUNDLED)])
    assert own.exit_code == 2 and "adapted from" in own.stderr
    assert runner.invoke(app, ["adapt", str(mine), "--out", str(out),
                               "--pose", str(tmp_path / "missing.json")]).exit_code == 3


@needs_shipped
def test_every_letter_adapts_in_full_but_del_nothing_space_are_not_needed(monkeypatch,
                                                                          tmp_path: Path) -> None:
    from fingerspell.cli import app

    monkeypatch.setattr(handcrop, "HandCropper", _ColourHands)
    letters = [c for c in CLASSES if len(c) == 1]
    folder = _photos(tmp_path / "mine", {c: ["red" if i % 2 else "blue"] for i, c in enumerate(letters)})
    Image.new("RGB", (96, 80), COLOURS["grey"]).save(folder / "Q" / "no-hand.png")
    out = tmp_path / "h.json"
    r = CliRunner().invoke(app, ["adapt", str(folder), "--out", str(out)])
    assert r.exit_code == 1 and out.is_file()  # the grey photo is named; Q has another photo
    assert "26 letters" in r.stdout and "no photos of del nothing space: they can read worse" in r.stderr
    assert "adapted_classes" not in json.loads(out.read_text())  # adapted in full
    (folder / "Q" / "0.png").unlink()  # now Q has no photo with a hand
    r = CliRunner().invoke(app, ["adapt", str(folder), "--out", str(out)])
    assert r.exit_code == 1 and "no photos of Q del nothing space: adapted to tell apart" in r.stderr
    doc = json.loads(out.read_text())
    assert doc["adapted_classes"] == [c for c in CLASSES if c != "Q"]


@needs_shipped
def test_adapt_in_a_program_takes_any_source_and_a_head_in_memory(monkeypatch, tmp_path: Path) -> None:
    from fingerspell.adapt import adapt
    from fingerspell.errors import ModelError
    from fingerspell.recognizer import Recognizer

    monkeypatch.setattr(handcrop, "HandCropper", _ColourHands)
    rec = Recognizer()
    assert rec.pose_path == BUNDLED
    red = Image.new("RGB", (96, 80), COLOURS["red"])
    blue = tmp_path / "blue.png"
    Image.new("RGB", (96, 80), COLOURS["blue"]).save(blue)
    failed: list[str] = []
    photos = [(red, "k"), (blue.read_bytes(), "F"), (str(blue), "F"), (tmp_path / "gone.jpg", "A"),
              (red, "hello")]
    done = adapt(rec, photos, on_failure=failed.append)
    assert len(failed) == 2 and "gone.jpg" in failed[0] and "'hello' is not a class" in failed[1]
    assert done.head.training["adapted"]["photos"] == {"F": 2, "K": 1}
    assert done.head.training["adapted"]["from"] == DEFAULT_POSE_HEAD
    assert len(done.missing) == 27 and done.check.photos == 3
    done.head.save(str(tmp_path / "saved.json"))  # as the docs write it; a str raised AttributeError
    assert PoseHead.load(tmp_path / "saved.json").to_dict() == done.head.to_dict()
    mine = Recognizer(pose=done.head)  # a head in memory, as a web service keeps one per user
    assert mine.pose_head is done.head and mine.pose_path is None
    assert mine.predict(red).label  # reads with it
    assert done.head.adapted_classes == ["F", "K", "del", "nothing", "space"]
    with pytest.raises(ModelError, match="adapted to some letters only"):
        adapt(mine, [(red, "K")])  # adapting that again would lose what it was adapted from
    full = adapt(rec, [(red, c) for c in CLASSES if len(c) == 1])
    assert full.head.adapted_classes is None
    again = adapt(Recognizer(pose=full.head), [(red, "K")])  # adapted once more, from memory
    assert again.head.training["adapted"]["from"] == "a pose head in memory"
    other = PoseHead.from_dict({**bundled_head().to_dict(), "labels": [f"c{i}" for i in range(29)]})
    with pytest.raises(ModelError, match="labels differ"):
        Recognizer(pose=other)
    with pytest.raises(ModelError, match="no pose head"):
        adapt(Recognizer(pose="none"), [(red, "K")])
    with pytest.raises(DatasetError, match="no photo with a hand"):
        adapt(rec, [(Image.new("RGB", (96, 80), COLOURS["grey"]), "A")])


def test_a_head_adapted_to_some_classes_keeps_the_others_reading(tmp_path: Path) -> None:
    from fingerspell.adapt import fitted
    from fingerspell.errors import ModelError
    from fingerspell.handpose import tempered

    base = _head()
    rng = np.random.default_rng(5)
    x = rng.normal(size=(12, HEAD_FEATURES)) + base.mean
    y = np.repeat([CLASSES.index("M"), CLASSES.index("N")], 6)
    head = fitted(base, x, y)
    assert head.adapted_classes == ["M", "N", "del", "nothing", "space"]
    probe = rng.normal(size=(40, HEAD_FEATURES)) + base.mean
    p, before = head.probabilities(probe), tempered(base.logits(probe), 1.5, 0.02)
    inside = np.isin(CLASSES, head.adapted_classes)
    assert np.allclose(p.sum(1), 1, atol=1e-5)
    assert np.allclose(p[:, ~inside], before[:, ~inside], atol=1e-6)  # the others: as before
    assert np.allclose(p[:, inside].sum(1), before[:, inside].sum(1), atol=1e-5)
    own = tempered(head.logits(probe), 1.5, 0.02)[:, inside]  # shared out as the adapted layers say
    share = before[:, inside].sum(1, keepdims=True)
    assert np.allclose(p[:, inside], own / own.sum(1, keepdims=True) * share, atol=1e-5)
    views = probe[:3]
    one = head.probabilities_of_views(views)
    assert np.isclose(one.sum(), 1, atol=1e-5) and one.argmax() in range(len(CLASSES))
    # its document: version 2, read back the same; a version-1 runtime would refuse it
    path = tmp_path / "mine.json"
    head.save(path)
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == 2 and doc["adapted_classes"] == head.adapted_classes
    back = PoseHead.load(path)
    assert np.allclose(back.probabilities(probe), p, atol=1e-4)
    assert json.loads(json.dumps(base.to_dict()))["schema_version"] == 1  # others stay version 1
    for bad in ({"adapted_classes": ["M", "Ñ"]}, {"adapted_classes": ["M", "M"]},
                {"adapted_classes": []}, {"layers_before": doc["layers_before"][:1]}):
        with pytest.raises(ModelError, match="adapted_classes"):
            PoseHead.from_dict({**doc, **bad})
    letters = np.arange(26)  # A–Z, without del, nothing, space: adapted in full
    assert fitted(base, rng.normal(size=(26, HEAD_FEATURES)) + base.mean, letters).adapted_classes is None


def test_adapt_writes_nothing_where_the_numbers_come_out_impossible(monkeypatch, tmp_path: Path) -> None:
    from fingerspell import adapt as fit
    from fingerspell.cli import app

    monkeypatch.setattr(handcrop, "HandCropper", _ColourHands)
    real = fit.fitted

    def broken_blas(*args, **kw):  # as numpy's OpenBLAS gave under an emulated CPU with SME
        head = real(*args, **kw)
        (w, b), rest = head.layers[0], head.layers[1:]
        head.layers = [(w * np.inf, b), *rest]
        return head

    monkeypatch.setattr(fit, "fitted", broken_blas)
    folder = _photos(tmp_path / "mine", {"M": ["red"] * 3, "S": ["blue"] * 3})
    out = tmp_path / "h.json"
    r = CliRunner().invoke(app, ["adapt", str(folder), "--out", str(out)])
    # it used to write a head every later predict refused (exit 3 there)
    assert r.exit_code == 3 and not out.exists() and "Traceback" not in r.output
    assert "not finite" in r.stderr and "nothing written" in r.stderr


def test_adapt_s_summary_names_the_folder_as_its_errors_do(monkeypatch, tmp_path: Path) -> None:
    from fingerspell.cli import app

    monkeypatch.setattr(handcrop, "HandCropper", _ColourHands)
    folder = _photos(tmp_path / "my\nletters", {"M": ["red"] * 3, "S": ["blue"] * 3})
    out = tmp_path / "h\n.json"
    r = CliRunner().invoke(app, ["adapt", str(folder), "--out", str(out)])
    assert r.exit_code == 0, r.output
    # the newline split each line in two; a name's bytes that are not UTF-8 were '?'
    assert f"{tmp_path}/my\\nletters: 6 photos with a hand" in r.stdout
    assert f"wrote {tmp_path}/h\\n.json: fingerspell predict PHOTO --pose {tmp_path}/h\\n.json" in r.stdout


def test_adapt_refuses_to_write_over_its_head_by_another_name(monkeypatch, tmp_path: Path) -> None:
    import os
    import shutil

    from fingerspell.cli import app

    monkeypatch.setattr(handcrop, "HandCropper", _ColourHands)
    mine = _photos(tmp_path / "mine", {"A": ["red"]})
    head = tmp_path / "mine.json"
    shutil.copy(BUNDLED, head)
    # on macOS `Mine.json` is `mine.json`; a hard link is the same file by another name here
    other = tmp_path / "Mine.json"
    os.link(head, other)
    before = head.read_bytes()
    r = CliRunner().invoke(app, ["adapt", str(mine), "--pose", str(head), "--out", str(other)])
    assert r.exit_code == 2 and "adapted from" in r.stderr  # it wrote over the head it read
    assert head.read_bytes() == before
