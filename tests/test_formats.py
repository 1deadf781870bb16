"""Photos as devices leave them: iPhone HEIC, AVIF, a video given as a photo, macOS's `._`
files and `__MACOSX` folders, Windows' `.jfif` downloads."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fingerspell import formats
from fingerspell.errors import InputError
from fingerspell.imaging import open_image


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    box = major + b"\0\0\0\0" + b"".join(compatible)
    return (8 + len(box)).to_bytes(4, "big") + b"ftyp" + box + b"\0\0\0\x08free"


@pytest.mark.parametrize(("head", "kind"), [
    (_ftyp(b"heic", b"mif1", b"heic"), "heic"),  # an iPhone photo
    (_ftyp(b"mif1", b"heic"), "heic"),
    (_ftyp(b"avif", b"mif1", b"miaf"), "avif"),
    (_ftyp(b"mif1", b"avif"), "avif"),  # generic HEIF brand, AVIF inside: not HEIC
    (_ftyp(b"isom", b"iso2", b"avc1", b"mp41"), "video"),  # MP4
    (_ftyp(b"qt  ", b"qt  "), "video"),  # an iPhone's MOV
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01", "video"),  # WebM / Matroska
    (b"RIFF\0\0\0\0AVI LIST", "video"),
    (b"RIFF\0\0\0\0WEBPVP8 ", None),  # a WebP is a photo
    (b"\xff\xd8\xff\xe0\0\x10JFIF", "jpeg"),
    (b"\0\0\0\x18ftyp", None),  # cut short
    (b"", None),
])
def test_a_file_is_known_by_its_first_bytes(head: bytes, kind: str | None) -> None:
    assert formats.kind(head) == kind


def test_brands_are_read_from_the_ftyp_box_alone() -> None:
    # the bytes after the box (an mdat here, that happens to hold 'heic' where a brand would
    # be) are not brands: an MP4 stays a video, whatever its frames' bytes
    mdat = b"\0\0\0\x10mdat" + b"heic" + b"\0" * 4
    assert formats.kind(_ftyp(b"isom") + mdat) == "video"  # a box of 16 bytes: no compatible brands
    assert formats.kind(_ftyp(b"isom", b"mp41") + mdat) == "video"
    # and every brand the box does list is read, the last one too
    assert formats.kind(_ftyp(b"mif1", b"mif1", b"miaf", b"avif")) == "avif"


def _heic(img: Image.Image) -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    img.save(buf, "HEIF")
    return buf.getvalue()


def _without_heif(monkeypatch: pytest.MonkeyPatch) -> None:
    """As where pillow-heif is not installed: not importable, and not registered with Pillow."""
    Image.init()
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # import raises ImportError
    monkeypatch.setattr(formats, "_heif_registered", False)
    monkeypatch.setattr(Image, "ID", [i for i in Image.ID if i != "HEIF"])


def test_an_iphone_photo_is_read_with_pillow_heif(tmp_path: Path) -> None:
    left_red = Image.new("RGB", (60, 30), (0, 0, 255))
    left_red.paste((255, 0, 0), (0, 0, 30, 30))
    data = _heic(left_red)
    (tmp_path / "IMG_0001.HEIC").write_bytes(data)
    for source in (tmp_path / "IMG_0001.HEIC", data):
        px = np.asarray(open_image(source, "IMG_0001.HEIC"))
        assert px.shape == (30, 60, 3) and px[15, 10, 0] > 200 and px[15, 50, 2] > 200


def test_a_process_that_never_met_pillow_heif_registers_it_for_a_heic_photo(tmp_path: Path) -> None:
    import subprocess

    photo = tmp_path / "IMG_0002.HEIC"
    photo.write_bytes(_heic(Image.new("RGB", (16, 16), (255, 0, 0))))
    # a fresh process: nothing has registered pillow-heif with Pillow before the photo is met
    code = ("import sys\n"
            "from fingerspell.imaging import open_image\n"
            "print(*open_image(sys.argv[1], 'x').getpixel((8, 8)))\n")
    proc = subprocess.run([sys.executable, "-c", code, str(photo)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    r, g, b = map(int, proc.stdout.split())
    assert r > 200 and g < 50 and b < 50


def test_without_pillow_heif_a_heic_photo_says_how_to_read_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photo = tmp_path / "IMG_0001.HEIC"
    photo.write_bytes(_heic(Image.new("RGB", (16, 16))))
    _without_heif(monkeypatch)
    with pytest.raises(InputError) as err:  # was: "not an image (unrecognised format)"
        open_image(photo, str(photo))
    assert str(err.value) == (f"{photo}: a HEIC photo, which needs pillow-heif to read: "
                              "pip install pillow-heif (or save it as JPEG)")


def test_a_video_given_as_a_photo_says_to_take_frames(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(_ftyp(b"isom", b"iso2", b"avc1", b"mp41") + b"\0" * 200)
    with pytest.raises(InputError, match=r"clip.mp4: a video, not a photo: take frames from it"):
        open_image(clip, str(clip))


def test_an_avif_this_pillow_cannot_read_says_to_upgrade(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import features

    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF codec to write the sample with")
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "AVIF")
    Image.init()
    monkeypatch.setattr(Image, "ID", [i for i in Image.ID if i != "AVIF"])  # an older Pillow
    with pytest.raises(InputError, match=r"x.avif: an AVIF image, which Pillow .* cannot read: "
                       r"pip install -U pillow"):
        open_image(buf.getvalue(), "x.avif")


def _tree(root: Path, rels: list[str]) -> None:
    for rel in rels:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(root / rel, "JPEG")


# a Mac's copy to a USB stick writes `._NAME` beside each file; a Mac's zip adds __MACOSX/
MAC_AND_WINDOWS = ["A/IMG_1.jpg", "A/._IMG_1.jpg", "A/download.jfif", "A/.thumbnails/t.jpg",
                   "__MACOSX/A/._IMG_1.jpg", "B/x.JPE", "B/._x.JPE"]


def test_a_folder_walk_skips_hidden_names_and_reads_jfif(tmp_path: Path) -> None:
    from fingerspell.cli.inputs import expand

    _tree(tmp_path, MAC_AND_WINDOWS)
    # `._IMG_1.jpg` was each read and failed as "not an image": exit 1 for a folder of photos
    got = [str(p.relative_to(tmp_path)) for p in expand([str(tmp_path)])]
    assert got == ["A/download.jfif", "A/IMG_1.jpg", "B/x.JPE"]
    got = [str(p.relative_to(tmp_path)) for p in expand([str(tmp_path / "*")])]
    assert got == ["A/download.jfif", "A/IMG_1.jpg", "B/x.JPE"]


def test_labelled_folders_skip_hidden_names_and_read_jfif(tmp_path: Path) -> None:
    from fingerspell.adapt import labelled_photos
    from fingerspell.benchmark import labelled
    from fingerspell.schema import CLASSES

    _tree(tmp_path, MAC_AND_WINDOWS)
    want = [("A/download.jfif", "A"), ("A/IMG_1.jpg", "A"), ("B/x.JPE", "B")]
    photos, problems = labelled_photos(tmp_path, list(CLASSES))  # adapt
    assert [(str(p.relative_to(tmp_path)), c) for p, c in photos] == want
    assert problems == []  # `__MACOSX` was "not a class"
    got = sorted((str(p.relative_to(tmp_path)), c) for p, c in labelled(tmp_path))  # benchmark
    assert got == sorted(want)


def test_training_skips_hidden_names_and_reads_jfif(tmp_path: Path) -> None:
    pytest.importorskip("fingerspell_train")
    from fingerspell_train.dataset import discover, root_notes

    _tree(tmp_path, MAC_AND_WINDOWS)
    samples = discover(tmp_path)
    assert [s.path.relative_to(tmp_path).as_posix() for s in samples] == [
        "A/download.jfif", "A/IMG_1.jpg", "B/x.JPE"]
    assert root_notes(tmp_path, samples) == []  # `__MACOSX` was an "ignored folder"


def test_a_damaged_heic_is_not_said_to_need_pillow_heif_where_it_is_installed(
        tmp_path: Path) -> None:
    data = _heic(Image.new("RGB", (16, 16)))  # registers pillow-heif
    photo = tmp_path / "IMG_0002.HEIC"
    photo.write_bytes(data[:40] + b"\0" * 200)  # its ftyp box, then nothing of a photo
    with pytest.raises(InputError) as err:
        open_image(photo, str(photo))
    assert "pip install" not in str(err.value) and str(err.value).startswith(f"{photo}: ")


def _frames(colours: list[tuple[int, int, int]]) -> list[Image.Image]:
    return [Image.new("RGB", (24, 24), c) for c in colours]


RGB3 = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG", "TIFF"])
def test_an_animated_image_is_its_frames_in_order(fmt: str, tmp_path: Path) -> None:
    from fingerspell.frames import each_frame, frame_count

    first, *rest = _frames(RGB3)
    path = tmp_path / f"word.{fmt.lower()}"
    lossless = {"lossless": True} if fmt == "WEBP" else {}
    first.save(path, fmt, save_all=True, append_images=rest, **lossless)
    still = tmp_path / "still.png"
    first.save(still)
    got = list(each_frame([still, path, path.read_bytes()]))
    assert got[0] == still  # a still image is passed on, to be read as any photo
    names = [getattr(g, "name", None) for g in got[1:]]
    size = path.stat().st_size
    assert names == [f"{path}[1]", f"{path}[2]", f"{path}[3]",
                     f"<{size} bytes>[1]", f"<{size} bytes>[2]", f"<{size} bytes>[3]"]
    colours = [tuple(np.asarray(g)[12, 12]) for g in got[1:4]]
    assert [tuple(int(v) for v in c) for c in colours] == RGB3
    assert frame_count(path) == 3 and frame_count(still) == 1


def test_frames_of_a_file_that_is_no_image_are_left_to_the_usual_reading(tmp_path: Path) -> None:
    from fingerspell.frames import each_frame

    fake = tmp_path / "not.gif"
    fake.write_text("hello")
    fifo = tmp_path / "pipe.gif"
    os.mkfifo(fifo)  # open() would wait for a writer for ever
    assert list(each_frame([fake, fifo, "https://example.org/a.gif"])) == [
        fake, fifo, "https://example.org/a.gif"]


def test_spell_reads_a_gif_frame_by_frame_and_predict_notes_it(exported: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fingerspell.cli import app

    model = str(exported / "tiny-int8.onnx")
    frames = _frames([(200, 40, 40), (40, 200, 40), (40, 40, 200), (200, 200, 40)])
    gif = tmp_path / "word.gif"
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    singles = []
    with Image.open(gif) as img:
        for i in range(4):
            img.seek(i)
            singles.append(tmp_path / f"f{i}.png")
            img.convert("RGB").save(singles[-1])
    args = ["--model", model, "--pose", "none", "--threshold", "0"]
    whole = CliRunner().invoke(app, ["spell", str(gif), *args])
    apart = CliRunner().invoke(app, ["spell", *map(str, singles), *args])
    assert whole.exit_code == apart.exit_code == 0
    assert whole.stdout == apart.stdout and whole.stdout.strip()  # was the first frame's letter
    res = CliRunner().invoke(app, ["predict", str(gif), "--model", model, "--pose", "none"])
    assert res.exit_code == 0
    assert f"note: {gif}: 4 frames, the first read; `fingerspell spell` reads them all" in res.stderr


def test_a_108_megapixel_phone_jpeg_is_read_at_reduced_scale(tmp_path: Path) -> None:
    from fingerspell.sources import load_pixels

    photo = tmp_path / "samsung_108MP.jpg"
    Image.new("L", (12_000, 9_000), 128).save(photo, quality=50)  # was refused as a bomb
    px = load_pixels(photo, (32, 32), crop=lambda img: img)  # the hand crop's reduced decode
    assert px.shape == (32, 32, 3) and abs(int(px.mean()) - 128) <= 2


def test_a_folder_of_videos_says_to_take_frames(tmp_path: Path) -> None:
    from fingerspell.cli.inputs import expand

    for name in ("a.mp4", "b.MOV"):
        (tmp_path / name).write_bytes(b"\0" * 64)
    (got,) = expand([str(tmp_path)])
    assert "only 2 video(s): take frames from them and pipe them in: ffmpeg" in got.reason
    (tmp_path / "a.mp4").unlink()
    (tmp_path / "b.MOV").unlink()
    (got,) = expand([str(tmp_path)])
    assert ".heic" in got.reason and "video" not in got.reason  # phone formats are looked for too


def test_names_that_are_not_utf8_are_told_apart_everywhere(exported: Path, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from fingerspell.cli import app

    photo = Image.new("RGB", (40, 40), (180, 120, 90))
    folder = tmp_path / "zip"
    folder.mkdir()
    for raw in (b"caf\xe9.jpg", b"caf\xe8.jpg"):  # latin-1 names from a Windows zip
        photo.save(os.fsdecode(os.fsencode(folder) + b"/" + raw), "JPEG")
    (Path(os.fsdecode(os.fsencode(folder) + b"/bad\xe9.png"))).write_bytes(b"cut")
    base = ["predict", str(folder), "--model", str(exported / "tiny-int8.onnx"), "--pose", "none"]
    text = CliRunner().invoke(app, base)
    csv_ = CliRunner().invoke(app, [*base, "--csv"])
    js = CliRunner().invoke(app, [*base, "--json"])
    want = [f"{folder}/caf\\xe8.jpg", f"{folder}/caf\\xe9.jpg"]  # each was 'caf?.jpg'
    assert [line.split("\t")[0] for line in text.stdout.splitlines()] == want
    bad = f"{folder}/bad\\xe9.png"
    assert [line.split(",")[0] for line in csv_.stdout.splitlines()[1:]] == [bad, *want]
    rows = [json.loads(line) for line in js.stdout.splitlines()]
    assert [r["source"] for r in rows] == [bad, *want] and rows[0]["error"].startswith(bad)
    assert f"error: {folder}/bad\\xe9.png: " in text.stderr


def test_a_heic_with_several_images_is_read_by_its_primary_one(tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif").register_heif_opener()
    red, green, blue = _frames(RGB3)
    photo = tmp_path / "burst.heic"
    red.save(photo, save_all=True, append_images=[green, blue], primary_index=2, quality=90)
    px = np.asarray(open_image(photo, str(photo)))  # the first image was read: red
    assert px[12, 12, 2] > 200 and px[12, 12, 0] < 60


def test_a_phone_jpeg_with_a_gain_map_over_64_mp_is_read(tmp_path: Path) -> None:
    from fingerspell.sources import load_pixels

    photo = tmp_path / "ultrahdr.jpg"  # Pillow reads a JPEG with a second picture as MPO
    Image.new("L", (8_100, 8_000), 128).save(photo, "MPO", save_all=True,
                                             append_images=[Image.new("L", (64, 64))], quality=50)
    with Image.open(photo) as img:
        assert img.format == "MPO"
    px = load_pixels(photo, (32, 32), crop=lambda img: img)  # was refused over 64 MP
    assert abs(int(px.mean()) - 128) <= 2


def test_a_large_progressive_jpeg_is_refused_before_decoding(tmp_path: Path) -> None:
    from fingerspell.sources import load_pixels

    photo = tmp_path / "progressive.jpg"  # decoding one holds every coefficient: 1.6 GB at 256 MP
    Image.new("L", (9_000, 8_000), 128).save(photo, quality=50, progressive=True)
    with pytest.raises(InputError, match=r"9000x8000, larger than the 64,000,000-pixel limit "
                       r"\(a progressive JPEG; a baseline one is read up to 256,000,000\)"):
        load_pixels(photo, (32, 32), crop=lambda img: img)


def test_frames_over_the_limit_are_refused_before_decoding(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fingerspell import frames

    monkeypatch.setattr(frames, "MAX_PIXELS", 50 * 50)  # the real limit: 64 MP
    pages = tmp_path / "pages.tif"
    Image.new("RGB", (40, 40)).save(pages, save_all=True, append_images=[Image.new("RGB", (60, 60))])
    first, second = frames.each_frame([pages])
    assert first.name == f"{pages}[1]"
    assert second == f"{pages}[2]" and "60x60, larger than the 2,500-pixel limit" in second.reason


def test_frames_keep_their_file_s_orientation(tmp_path: Path) -> None:
    from fingerspell.frames import each_frame

    exif = Image.Exif()
    exif[0x0112] = 6  # turned: 60x30 frames read as 30x60
    first, *rest = [Image.new("RGBA", (60, 30), (*c, 255)) for c in RGB3]
    path = tmp_path / "turned.webp"
    first.save(path, save_all=True, append_images=rest, exif=exif.tobytes(), lossless=True)
    assert [f.size for f in each_frame([path])] == [(30, 60)] * 3


def test_frames_are_counted_up_to_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fingerspell import frames

    first, *rest = _frames(RGB3 * 2)
    path = tmp_path / "long.gif"
    first.save(path, save_all=True, append_images=rest)
    assert frames.frame_count(path) == 6
    monkeypatch.setattr(frames, "MAX_FRAMES", 3)
    assert frames.frame_count(path) == 4  # "more than 3": a million frames took 16 s to count
    *read, said = frames.each_frame([path])
    assert len(read) == 3 and said == str(path) and "more than 3 frames" in said.reason


@pytest.mark.parametrize("fmt", ["GIF", "TIFF"])
def test_a_frame_cut_short_is_said_not_dropped(fmt: str) -> None:
    from fingerspell import frames
    from fingerspell.sources import BadSource

    noise = [Image.effect_noise((64, 64), 50 + 30 * i).convert("RGB") for i in range(3)]
    buf = io.BytesIO()
    noise[0].save(buf, fmt, save_all=True, append_images=noise[1:])
    data = buf.getvalue()
    data = data[:len(data) * 2 // 3]  # a download cut short: the first frame whole, the rest not
    name = f"<{len(data)} bytes>"
    *read, said = frames.each_frame([data])
    assert [f.name for f in read] == [f"{name}[{i + 1}]" for i in range(len(read))] and read
    # the spelling stops there, and says where: not a word spelled short in silence
    assert isinstance(said, BadSource) and said == f"{name}[{len(read) + 1}]"
    assert said.reason.startswith("cannot decode frame (")


def test_frames_of_exactly_the_pixel_limit_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fingerspell import frames

    first, *rest = _frames(RGB3)  # 24x24
    path = tmp_path / "word.gif"
    first.save(path, save_all=True, append_images=rest)
    monkeypatch.setattr(frames, "MAX_PIXELS", 24 * 24)  # larger than the limit is refused, not at it
    got = list(frames.each_frame([path]))
    assert [getattr(f, "name", None) for f in got] == [f"{path}[{i}]" for i in (1, 2, 3)], got


def test_predict_notes_an_animated_image_on_stdin_too(exported: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fingerspell.cli import app

    first, *rest = _frames(RGB3)
    gif = tmp_path / "word.gif"
    first.save(gif, save_all=True, append_images=rest)
    res = CliRunner().invoke(app, ["predict", "-", "--model", str(exported / "tiny-int8.onnx"),
                                   "--pose", "none"], input=gif.read_bytes())
    assert res.exit_code == 0, res.output
    assert "note: -: 3 frames, the first read; `fingerspell spell` reads them all" in res.stderr


def test_spell_counts_what_it_has_read_on_a_terminal(exported: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from fingerspell.cli import app
    from fingerspell.cli import spell as verb

    first, *rest = _frames(RGB3 * 4)
    gif = tmp_path / "long.gif"
    first.save(gif, save_all=True, append_images=rest)
    monkeypatch.setattr(verb, "_on_terminal", lambda: True)
    res = CliRunner().invoke(app, ["spell", str(gif), "--model", str(exported / "tiny-int8.onnx"),
                                   "--pose", "none"])
    assert res.exit_code == 0, res.output
    assert "\r10 images read" in res.stderr and res.stderr.endswith("\r")  # and wiped after


def test_ctrl_c_in_spell_keeps_the_text_spelled_so_far(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from fingerspell.cli import app
    from fingerspell.cli import spell as verb
    from fingerspell.results import Prediction

    class Halfway:  # reads two frames, then the user presses Ctrl-C
        def predict_many(self, sources):
            yield Prediction("a[1]", "H", 0.9)
            yield Prediction("a[2]", "I", 0.9)
            raise KeyboardInterrupt

    def leave() -> None:  # the real one ends the process (os._exit), and pytest with it
        typer.echo("interrupted", err=True)
        raise typer.Exit(130)

    monkeypatch.setattr(verb, "load_recognizer", lambda *a, **k: Halfway())
    monkeypatch.setattr(verb, "interrupted", leave)
    (tmp_path / "a.png").write_bytes(b"")
    res = CliRunner().invoke(app, ["spell", str(tmp_path / "a.png")])
    assert res.exit_code == 130 and res.stdout == "HI\n"  # was lost
    assert res.stderr.strip().endswith("interrupted")
