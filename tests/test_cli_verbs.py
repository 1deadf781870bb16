"""Bad input to the verbs and paths earlier passes had not attacked: `spell`, `benchmark`, `info`,
input expansion, the hand crop and odd arrays. Each case misbehaved before its fix."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fingerspell.cli import app
from fingerspell.cli.inputs import expand
from fingerspell.files import natural_key
from fingerspell.sources import BadSource, load_pixels


def test_natural_order_survives_unicode_digits_and_never_depends_on_listing_order() -> None:
    names = ["1²2.jpg", "①1.jpg", "frame10.jpg", "frame9.jpg", "IMG_1.jpg", "img_1.jpg", "01.jpg",
             "1.jpg"]
    ordered = sorted(names, key=natural_key)  # '²' used to reach int(): ValueError
    assert ordered.index("frame9.jpg") < ordered.index("frame10.jpg")
    for shuffled in (names[::-1], names[3:] + names[:3]):  # ties broken by the name itself
        assert sorted(shuffled, key=natural_key) == ordered


def test_names_that_begin_others_sort_before_them() -> None:
    names = ["cam2.jpg", "cam", "a1b2", "a1b", "x"]  # the text used to meet a number: TypeError
    assert sorted(names, key=natural_key) == ["a1b", "a1b2", "cam", "cam2.jpg", "x"]


def test_a_glob_that_matches_folders_walks_them_as_the_shell_would(tmp_path: Path) -> None:
    for rel in ("s1/c.jpg", "s1/a.jpg", "s2/x.jpg", "top.jpg"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path / rel)
    (tmp_path / "s3").mkdir()  # an empty folder is still reported, not skipped
    got = expand([str(tmp_path / "*")])  # used to read top.jpg only, the rest dropped silently
    assert [Path(p).name for p in got if not isinstance(p, BadSource)] == [
        "a.jpg", "c.jpg", "x.jpg", "top.jpg"]
    bad = [p for p in got if isinstance(p, BadSource)]
    assert len(bad) == 1 and bad[0].endswith("s3") and "no image files" in bad[0].reason


def test_a_folder_is_read_in_the_same_order_however_it_is_listed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = ["1.jpg", "01.jpg", "IMG_2.jpg", "img_2.jpg"]
    for name in names:
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    listing = Path.iterdir
    got = []
    for flip in (False, True):  # the listing order (tmpfs: newest first; ext4: by hash)
        monkeypatch.setattr(Path, "iterdir", lambda self, flip=flip: iter(
            sorted(listing(self), reverse=flip)))
        got.append([p.name for p in expand([str(tmp_path)])])
    assert got[0] == got[1]  # `spell` used to spell 'BC' or 'CB' from the same two files


def test_a_recursive_glob_reads_each_file_once(tmp_path: Path) -> None:
    for rel in ("p/1.jpg", "p/s/2.jpg", "p/s/t/3.jpg"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path / rel)
    (tmp_path / "p" / "s" / "up").symlink_to("..")  # a loop: `**` matched thousands of paths
    for pattern in ("p/**", "p/**/*", "p/*"):
        got = [str(Path(p).relative_to(tmp_path)) for p in expand([str(tmp_path / pattern)])]
        assert sorted(got) == ["p/1.jpg", "p/s/2.jpg", "p/s/t/3.jpg"], (pattern, got)


def test_a_glob_over_symlink_loops_ends_and_reads_each_file_once(tmp_path: Path) -> None:
    (tmp_path / "t" / "a" / "b").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "t" / "1.jpg")
    for name in ("loop", "loop2"):  # two loops: glob's paths grew without end
        (tmp_path / "t" / "a" / "b" / name).symlink_to("..")
    for pattern in ("t/**", "t/**/*.jpg"):  # used to run until memory ran out, or refused
        assert [p.name for p in expand([str(tmp_path / pattern)])] == ["1.jpg"], pattern
    assert [p.name for p in expand([str(tmp_path / "t")])] == ["1.jpg"]  # the folder itself: once


def test_a_glob_over_symlink_loops_that_matches_nothing_ends(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):  # glob.iglob listed a/b/c/a/... forever, matching nothing
        (tmp_path / name).symlink_to(".")
    (tmp_path / "readme.txt").write_text("no photos here")
    (got,) = expand([str(tmp_path / "**" / "*.jpg")])
    assert isinstance(got, BadSource) and "no files match" in got.reason


def test_a_glob_over_too_many_folders_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fingerspell.cli import globs

    monkeypatch.setattr(globs, "MAX_FOLDERS", 20)  # the real cap: 100,000, a whole disk
    for i in range(30):
        (tmp_path / f"d{i}").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "d7" / "x.jpg")
    (got,) = expand([str(tmp_path / "**" / "*.jpg")])
    assert isinstance(got, BadSource) and "lists more than 20 folders" in got.reason
    assert [p.name for p in expand([str(tmp_path / "d7" / "**" / "*.jpg")])] == ["x.jpg"]


def test_a_glob_may_list_exactly_the_cap_of_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fingerspell.cli import globs

    monkeypatch.setattr(globs, "MAX_FOLDERS", 3)
    for name in ("d0", "d1"):  # with the folder itself: three folders listed, the cap
        (tmp_path / name).mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "d1" / "x.jpg")
    pattern = str(tmp_path / "**" / "*.jpg")
    assert [p.name for p in expand([pattern])] == ["x.jpg"]
    (tmp_path / "d2").mkdir()  # one more than the cap
    (got,) = expand([pattern])
    assert isinstance(got, BadSource) and "lists more than 3 folders" in got.reason


def test_a_folder_does_not_follow_linked_folders_and_names_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for rel in ("photos/a.jpg", "photos/sub/b.jpg", "elsewhere/c.jpg"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path / rel)
    (tmp_path / "photos" / "out").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "photos" / "root").symlink_to("/")  # `predict /proc/self` walked the machine
    assert [p.name for p in expand([str(tmp_path / "photos")])] == ["a.jpg", "b.jpg"]
    notes = capsys.readouterr().err.splitlines()
    assert sorted(notes) == [f"note: {tmp_path / 'photos' / n}: a linked folder, not walked; give "
                             "it by name to read it" for n in ("out", "root")]
    # a link named as the argument is the user's choice: walked
    assert [p.name for p in expand([str(tmp_path / "photos" / "out")])] == ["c.jpg"]


def test_a_folder_with_too_many_folders_is_refused(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from fingerspell.cli import globs

    monkeypatch.setattr(globs, "MAX_FOLDERS", 20)  # the real cap: 100,000, a whole disk
    for i in range(30):
        (tmp_path / f"d{i}").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "d7" / "x.jpg")
    (got,) = expand([str(tmp_path)])
    assert isinstance(got, BadSource) and "more than 20 folders" in got.reason
    assert [p.name for p in expand([str(tmp_path / "d7")])] == ["x.jpg"]


def test_backend_litert_alone_reads_the_bundled_tflite(monkeypatch: pytest.MonkeyPatch) -> None:
    from fingerspell.artifact import bundled_dir, default_model_path

    tflite = bundled_dir() / "fingerspell-vgg16-int8.tflite"
    if not tflite.is_file():
        pytest.skip("the bundled .tflite is not in this checkout")
    # `--backend litert` without --model named the .onnx, which that backend refuses
    assert default_model_path("litert") == tflite
    assert default_model_path().suffix == default_model_path("onnxruntime").suffix == ".onnx"
    if find_spec("ai_edge_litert") is None:
        return
    from fingerspell.recognizer import Recognizer

    assert Recognizer(backend="litert", pose="none", crop="none").path == tflite


def test_silencing_native_output_keeps_the_clis_own_lines() -> None:
    code = ("import os, sys\n"
            "from fingerspell.quiet import keep_python_stderr, quiet_stderr\n"
            "keep_python_stderr()\n"
            "with quiet_stderr():\n"
            "    print('error: bad.jpg: not an image', file=sys.stderr, flush=True)\n"
            "    os.write(2, b'W0000 native chatter\\n')\n"
            "os.write(2, b'native after\\n')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    # a worker thread's hand detection had fd 2 silenced while the main thread printed an error
    assert "error: bad.jpg" in proc.stderr and "native after" in proc.stderr
    assert "W0000" not in proc.stderr


def test_a_closed_stdin_is_one_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", None)  # `fingerspell spell - <&-`: an AttributeError before
    (got,) = expand(["-"])
    assert isinstance(got, BadSource) and "closed" in got.reason


def test_big_endian_16_bit_arrays_read_like_native_ones() -> None:
    rng = np.random.default_rng(0)
    native = (rng.integers(0, 256, (20, 20, 3)) * 257).astype(np.uint16)
    a = load_pixels(native, (16, 16))
    b = load_pixels(native.astype(">u2"), (16, 16))  # was clipped to white as if 8-bit
    assert np.array_equal(a, b) and 40 < a.mean() < 215


def test_spell_takes_numpy_thresholds_and_refuses_true() -> None:
    from fingerspell.results import Prediction
    from fingerspell.spell import spell

    frames = [Prediction("f", "A", 0.9, [("A", 0.9)])]
    assert spell(frames, threshold=np.float32(0.5)) == "A"
    with pytest.raises(ValueError):
        spell(frames, threshold=True)


def _found(points: list[tuple[float, float]], label: str) -> SimpleNamespace:
    """What MediaPipe Hands returns for one hand at these image fractions."""
    marks = [SimpleNamespace(x=x, y=y) for x, y in points]
    world = [SimpleNamespace(x=0.01 * i, y=0.0, z=0.0) for i in range(21)]
    return SimpleNamespace(multi_hand_landmarks=[SimpleNamespace(landmark=marks)],
                           multi_hand_world_landmarks=[SimpleNamespace(landmark=world)],
                           multi_handedness=[SimpleNamespace(
                               classification=[SimpleNamespace(label=label)])])


def _cropper(hands: object, retry_pad: float = 0.5):
    """A HandCropper around a faked MediaPipe graph (no MediaPipe needed)."""
    import threading

    from fingerspell.handcrop import HandCropper, MediaPipeHands

    finder = MediaPipeHands.__new__(MediaPipeHands)
    finder._hands, finder._lock, finder._quiet_until_hand = hands, threading.Lock(), False
    cropper = HandCropper.__new__(HandCropper)
    cropper._finder, cropper.margin, cropper.retry_pad = finder, 1.4, retry_pad
    return cropper


class _FakeHands:
    """Stands in for MediaPipe: records the image it is given and 'finds' a hand in its middle."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def process(self, pixels: np.ndarray) -> SimpleNamespace:
        self.shapes.append(pixels.shape)
        return _found([(0.4, 0.4), (0.6, 0.6)], "Right")


def test_hands_are_looked_for_in_a_copy_mediapipe_can_take() -> None:
    from fingerspell.handcrop import DETECT_MAX_SIDE, square_box

    cropper = _cropper(_FakeHands())
    for size in ((40000, 16), (16, 40000), (3000, 2000), (200, 150)):
        # 32,767 px or more on a side aborted the whole process inside MediaPipe's OpenCV
        box = cropper.box(Image.new("RGB", size))
        h, w = cropper._finder._hands.shapes[-1][:2]
        assert max(h, w) <= DETECT_MAX_SIDE and min(h, w) >= 1
        assert box == square_box([(0.4, 0.4), (0.6, 0.6)], *size, 1.4)  # on the full-size image
    assert cropper._finder._hands.shapes[-1][:2] == (150, 200)  # small photos are read as they are


class _FakeHandsOnlyWithRoom(_FakeHands):
    """'Finds' a hand spanning `extent` of the image only in a padded copy, as MediaPipe finds a
    close-up."""

    extent = ((0.1, 0.1), (0.9, 0.9))

    def process(self, pixels: np.ndarray) -> SimpleNamespace:
        self.shapes.append(pixels.shape)
        if len(self.shapes) == 1:
            return SimpleNamespace(multi_hand_landmarks=None)
        h, w = self.shapes[0][:2]
        ph, pw = pixels.shape[:2]
        # the landmarks of `extent` of the original, as fractions of the padded copy
        return _found([((x * w + (pw - w) / 2) / pw, (y * h + (ph - h) / 2) / ph)
                       for x, y in self.extent], "Left")


class _SmallHandOnlyWithRoom(_FakeHandsOnlyWithRoom):
    extent = ((0.4, 0.4), (0.6, 0.6))


def test_a_hand_missed_is_looked_for_again_with_room_around_it() -> None:
    from fingerspell.handcrop import square_box

    for size, pad in (((200, 150), 0.5), ((90, 300), 0.25)):
        cropper = _cropper(_FakeHandsOnlyWithRoom(), pad)
        hand = cropper.look(Image.new("RGB", size, (90, 60, 30)))
        (h, w, _), (ph, pw, _) = cropper._finder._hands.shapes
        assert (ph, pw) == (h + 2 * round(h * pad), w + 2 * round(w * pad))  # edges repeated around
        assert hand is not None and not hand.right and len(hand.world) == 21
        want = square_box([(0.1, 0.1), (0.9, 0.9)], *size, 1.4)  # mapped back to the image
        assert all(abs(a - b) <= 1 for a, b in zip(hand.box, want, strict=True))
    # a small "hand" seen only with room around it is not a close-up: room scenes gave such
    cropper._finder._hands = _SmallHandOnlyWithRoom()
    assert cropper.look(Image.new("RGB", (200, 150))) is None and len(cropper._finder._hands.shapes) == 2
    cropper.retry_pad = 0.0  # no retry: one look, no hand
    cropper._finder._hands = _FakeHandsOnlyWithRoom()
    assert cropper.look(Image.new("RGB", (64, 64))) is None and len(cropper._finder._hands.shapes) == 1


needs_model = pytest.mark.skipif(find_spec("tensorflow") is None,
                                 reason="the tiny test model is trained with the train extra")


@needs_model
def test_litert_checks_batch_size_too(exported: Path, tiny_dataset: Path) -> None:
    pytest.importorskip("ai_edge_litert", reason="needs the litert extra")
    from fingerspell import Recognizer

    rec = Recognizer(exported / "tiny-int8.tflite")
    good = sorted(tiny_dataset.glob("A/*.jpg"))[0]
    for bad in (0, -1, 2.5, "8", True, 2**63):  # silently accepted: the backend does not batch
        with pytest.raises(ValueError, match="batch_size"):
            list(rec.predict_many([good], batch_size=bad))


@needs_model
def test_benchmark_a_model_that_cannot_load_exits_3_and_says_why(exported: Path,
                                                                 tmp_path: Path) -> None:
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"\xff\xd8 a photo, not a model")
    res = CliRunner().invoke(app, ["benchmark", "--runs", "2", "--model", str(fake),
                                   "--model", str(exported / "tiny-int8.onnx")])
    assert res.exit_code == 3, res.output  # was 1 ("an input failed"), the reason on stdout only
    assert "fake.onnx" in res.stderr and "Traceback" not in res.output
    assert "tiny-int8.onnx" in res.stdout  # the good artifact is still measured


@needs_model
def test_benchmark_names_its_failures_even_into_a_closed_pipe(exported: Path, tmp_path: Path) -> None:
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"\xff\xd8 a photo, not a model")
    (tmp_path / "d.onnx").mkdir()
    res = CliRunner().invoke(app, ["benchmark", "--runs", "2", "--model", str(tmp_path / "d.onnx")])
    assert res.exit_code == 3 and "a folder" in res.output  # was "no such model file"
    r, w = os.pipe()
    os.close(r)
    try:
        proc = subprocess.run([sys.executable, "-m", "fingerspell", "benchmark", "--runs", "2",
                               "--model", str(fake)], stdout=w, stderr=subprocess.PIPE, text=True,
                              timeout=300)
    finally:
        os.close(w)
    assert proc.returncode == 141 and proc.stderr.count("error:") == 1, proc.stderr
    assert "fake.onnx" in proc.stderr


@needs_model
def test_benchmark_names_unreadable_images_and_scores_the_rest(exported: Path, tiny_dataset: Path,
                                                                tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    (data / "A" / "junk.jpg").write_bytes(b"not a jpeg")
    (data / "B" / "dir.jpg").mkdir()  # a folder, read as one (empty): as predict and train do
    (data / "B" / "dir.jpg" / "cut.png").write_bytes(b"\x89PNG cut short")
    res = CliRunner().invoke(app, ["benchmark", "--runs", "2", "--json", "--data", str(data),
                                   "--model", str(exported / "tiny-int8.onnx")])
    assert res.exit_code == 1, res.output  # was 0 with the two counted as wrong, never named
    assert "junk.jpg" in res.stderr and "dir.jpg/cut.png" in res.stderr
    (row,) = json.loads(res.stdout)
    assert row["images"] == sum(1 for _ in tiny_dataset.glob("*/*.jpg"))
    assert len(row["failures"]) == 2 and 0 <= row["accuracy"] <= 1


def test_a_model_url_is_a_usage_error_not_a_mangled_path() -> None:
    for verb in (["info"], ["predict", "x.jpg"], ["spell", "x.jpg"]):
        res = CliRunner().invoke(app, [*verb, "--model", "https://example.org/m.onnx"])
        assert res.exit_code == 2 and "not a URL" in res.output, res.output  # was "https:/exa…"


@pytest.mark.parametrize("argv", [
    ["export", "m.keras", "--calib", "", "--parity", "p"],
    ["export", "m.keras", "--out", "", "--calib", "c", "--parity", "p"],
    ["export", "", "--calib", "c", "--parity", "p"],
    ["train", "", "--out", "r"],
    ["train", "d", "--out", ""],
    ["train", "d", "--eval", ""],
    ["evaluate", "m.keras", "d", "--out", ""],
    ["benchmark", "--data", ""],
    ["benchmark", "--model", ""],
    ["predict", "x.jpg", "--model", ""],
    ["spell", "x.jpg", "--model", ""],
    ["info", "--model", " "],
])
def test_an_empty_path_is_a_usage_error_not_the_current_folder(
        argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Path("") is "."; `export --out ''` wrote artifacts into the current folder and
    # `--calib ''` calibrated on it
    (tmp_path / "x.jpg").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, argv)
    assert res.exit_code == 2 and "empty path" in res.output, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.jpg"]


@needs_model
def test_a_huge_batch_size_is_a_usage_error() -> None:
    res = CliRunner().invoke(app, ["predict", "x.jpg", "--batch-size", str(2**63 - 1)])
    assert res.exit_code == 2 and "--batch-size" in res.output  # was an islice traceback


@pytest.mark.parametrize("floor", ["-1", "2", "nan"])
def test_benchmark_floor_is_checked(floor: str, exported: Path) -> None:
    res = CliRunner().invoke(app, ["benchmark", "--runs", "2", "--floor", floor,
                                   "--model", str(exported / "tiny-int8.onnx")])
    assert res.exit_code == 2 and "--floor" in res.output


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fingerspell", *args], capture_output=True,
                          text=True, timeout=300, **kw)


@needs_model
def test_every_verb_exits_141_when_its_reader_is_gone(exported: Path, tiny_dataset: Path) -> None:
    model = str(exported / "tiny-int8.onnx")
    frame = str(sorted(tiny_dataset.glob("A/*.jpg"))[0])
    for verb in (["info", "--model", model], ["spell", frame, "--model", model, "--threshold", "0"],
                 ["--help"], ["predict", "--help"]):
        r, w = os.pipe()
        os.close(r)  # the reader went away before anything was written (`| head` that exited)
        try:
            proc = subprocess.run([sys.executable, "-m", "fingerspell", *verb], stdout=w,
                                  stderr=subprocess.PIPE, text=True, timeout=300)
        finally:
            os.close(w)
        assert proc.returncode == 141, (verb, proc.stderr)  # was 1: "an input failed"
        assert "Traceback" not in proc.stderr


@needs_model
def test_an_output_encoding_without_the_tick_is_not_a_traceback(exported: Path,
                                                                tiny_dataset: Path) -> None:
    env = {**os.environ, "PYTHONIOENCODING": "latin-1"}
    proc = _cli("benchmark", "--runs", "2", "--limit", "10", "--data", str(tiny_dataset),
                "--model", str(exported / "tiny-int8.onnx"), env=env)
    # the table's ✔/✘ used to raise UnicodeEncodeError after every measurement was done
    assert proc.returncode == 0, proc.stderr
    assert "tiny-int8.onnx" in proc.stdout and "Traceback" not in proc.stderr


@needs_model
def test_spell_file_names_with_unicode_digits(exported: Path, tiny_dataset: Path,
                                              tmp_path: Path) -> None:
    d = tmp_path / "u"
    d.mkdir()
    img = sorted(tiny_dataset.glob("A/*.jpg"))[0].read_bytes()
    (d / "3.jpg").write_bytes(img)
    (d / "1²2.jpg").write_bytes(img)
    res = CliRunner().invoke(app, ["spell", str(d), "--threshold", "0",
                                   "--model", str(exported / "tiny-int8.onnx")])
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output


def test_benchmark_an_unreadable_timed_photo_leaves_the_row(tmp_path: Path) -> None:
    from fingerspell.artifact import default_model_path
    from fingerspell.benchmark import measure

    (tmp_path / "L").mkdir()
    for i in range(1, 10):
        Image.new("RGB", (64, 64), (30 * i, 90, 60)).save(tmp_path / "L" / f"g{i}.jpg")
    (tmp_path / "L" / "g5b.jpg").write_bytes(b"")  # the second photo timed with --runs 2
    row = measure(default_model_path(), tmp_path, runs=2, limit=0, threads=1, backend=None)
    # the empty file used to raise out of the timing and lose the row (accuracy and latency)
    assert row["images"] == 9 and row["photo_ms_mean"] is not None and row["photo_ms_mean"] > 0, row
    assert any("g5b.jpg" in f for f in row["failures"]), row


def test_globs_match_what_glob_matches_where_there_are_no_links(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import glob

    from fingerspell.cli import globs

    for rel in ("1.jpg", "a/2.jpg", "a/b/3.JPG", "a/b/c/4.png", ".h/5.jpg", "a/.6.jpg", "d/7.jpg", "x.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    for pattern in ("**/*.jpg", "**", "*", "a/**/*.png", "?.jpg", "[0-9].jpg", ".h/*", ".*", "a/b",
                    "none*", "a//*.jpg", "*/", f"{tmp_path}/**/*.jpg", "**/b/*", "a/**", "./a/*.jpg"):
        want = sorted(p.rstrip("/") for p in glob.glob(pattern, recursive=True))
        assert sorted(p.rstrip("/") for p in globs.paths(pattern)) == want, pattern


@needs_model
def test_a_model_of_ones_own_says_the_bundled_pose_head_reads_with_it(exported: Path,
                                                                      tmp_path: Path) -> None:
    from fingerspell.artifact import DEFAULT_ARTIFACT, bundled_dir

    photo = tmp_path / "a.jpg"
    Image.new("RGB", (64, 64), (120, 90, 60)).save(photo)
    own = exported / "tiny-int8.onnx"
    note = "its answers are multiplied by the bundled pose head's"
    # fused with the bundled head without a word: answers that were not the user's network's
    res = CliRunner().invoke(app, ["predict", str(photo), "--model", str(own)])
    assert res.exit_code == 0 and f"note: {own}: {note}" in res.stderr, res.output
    alone = CliRunner().invoke(app, ["predict", str(photo), "--model", str(own), "--pose", "none"])
    assert alone.exit_code == 0 and note not in alone.stderr
    from fingerspell.recognizer import Recognizer

    with pytest.warns(UserWarning, match="multiplied by the bundled pose head's"):
        Recognizer(own)  # a program is told too
    if (bundled_dir() / DEFAULT_ARTIFACT).is_file():  # the bundled network, or a copy: no note
        copy = tmp_path / "copy.onnx"
        shutil.copy(bundled_dir() / DEFAULT_ARTIFACT, copy)
        for model in (bundled_dir() / DEFAULT_ARTIFACT, copy):
            res = CliRunner().invoke(app, ["predict", str(photo), "--model", str(model)])
            assert res.exit_code == 0 and note not in res.stderr, model


def test_a_copy_of_the_bundled_tflite_reads_with_the_pose_head_without_a_note(tmp_path: Path) -> None:
    import warnings

    from fingerspell.artifact import bundled_dir
    from fingerspell.recognizer import Recognizer

    tflite = bundled_dir() / "fingerspell-vgg16-int8.tflite"
    if not tflite.is_file():
        pytest.skip("the bundled .tflite is not in this checkout")
    pytest.importorskip("ai_edge_litert", reason="needs the litert extra")
    for name in (tflite.name, tflite.with_suffix(".json").name):
        shutil.copy(bundled_dir() / name, tmp_path / name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Recognizer(tmp_path / tflite.name)  # the bundled network under another name: its own head
    assert not [w for w in caught if "bundled pose head" in str(w.message)], [str(w.message) for w in caught]
