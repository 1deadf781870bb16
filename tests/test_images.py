"""Image loading: every mode to RGB, EXIF orientation, bombs, broken files — never a traceback."""

from __future__ import annotations

import contextlib
import gc
import io
import os
import resource
import threading
import time
import warnings
from pathlib import Path

import hostile_files as hf
import numpy as np
import pytest
from PIL import Image, ImageFile

from fingerspell.errors import InputError
from fingerspell.imaging import MAX_PIXELS, open_image, resize_to_input
from fingerspell.sources import load_pixels

SIZE = (32, 32)


def _png(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", **kw)
    return buf.getvalue()


def test_modes_become_rgb() -> None:
    base = Image.new("RGB", (40, 30), (200, 30, 30))
    cases = {
        "L": base.convert("L"), "LA": base.convert("LA"), "RGBA": base.convert("RGBA"),
        "P": base.convert("P"), "CMYK": base.convert("CMYK"), "1": base.convert("1"),
        "I;16": Image.fromarray(np.full((30, 40), 40000, np.uint16)),
        "F": Image.fromarray(np.full((30, 40), 100.0, np.float32)),
    }
    for mode, img in cases.items():
        fmt = "TIFF" if mode in ("CMYK", "F") else "PNG"
        buf = io.BytesIO()
        img.save(buf, fmt)
        px = load_pixels(buf.getvalue(), SIZE)
        assert px.shape == (32, 32, 3) and px.dtype == np.uint8, mode
    assert load_pixels(_png(cases["I;16"]), SIZE)[0, 0, 0] == round(40000 / 65535 * 255)


def test_transparency_composites_on_black() -> None:
    rgba = Image.new("RGBA", (8, 8), (255, 255, 255, 0))
    assert load_pixels(_png(rgba), SIZE).max() == 0
    pal = Image.new("P", (8, 8), 0)
    pal.putpalette([255, 255, 255] * 256)
    assert load_pixels(_png(pal, transparency=0), SIZE).max() == 0


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation: int) -> None:
    # a 60x30 image whose left half is red; orientations 5-8 turn it to 30x60
    img = Image.new("RGB", (60, 30), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    out = open_image(buf.getvalue(), "photo.jpg")
    assert out.size == ((60, 30) if orientation < 5 else (30, 60))
    want = img.transpose({2: 0, 3: 3, 4: 1, 5: 4, 6: 4, 7: 2, 8: 2}.get(orientation, 0)
                         ) if orientation > 1 else img
    ref = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    assert ref.shape[:2] == (30, 60)
    if orientation == 1:
        assert out.getpixel((5, 15))[0] > 200  # red stays left
    del want


def test_resize_is_bilinear_stretch() -> None:
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (50, 80, 3), np.uint8))
    got = np.asarray(resize_to_input(img, (32, 32)))
    want = np.asarray(img.resize((32, 32), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(got, want)


def test_arrays_and_pil_images() -> None:
    arr = np.zeros((20, 30, 3), np.uint8)
    assert load_pixels(arr, SIZE).shape == (32, 32, 3)
    assert load_pixels(np.ones((20, 30), np.float32), SIZE).max() == 255  # floats 0–1
    assert load_pixels(Image.new("L", (5, 5)), SIZE).shape == (32, 32, 3)
    with pytest.raises(InputError, match="shape"):
        load_pixels(np.zeros((2, 3, 4, 5), np.uint8), SIZE)
    with pytest.raises(InputError, match="finite"):
        load_pixels(np.full((4, 4, 3), np.nan), SIZE)


def test_tiny_and_thin_images_work() -> None:
    assert load_pixels(_png(Image.new("RGB", (1, 1))), SIZE).shape == (32, 32, 3)
    assert load_pixels(_png(Image.new("RGB", (10_000, 10))), SIZE).shape == (32, 32, 3)


def test_decompression_bomb_header_is_refused_without_decoding() -> None:
    with pytest.raises(InputError, match=r"pixel limit|too large"):
        load_pixels(hf.png_claiming(50_000, 50_000), SIZE)
    assert MAX_PIXELS < 50_000 * 50_000


@pytest.mark.parametrize("data,match", [
    (b"", "empty"),
    (b"hello, I am text", "not an image"),
    (b"<html><body>404</body></html>", "not an image"),
    (b"%PDF-1.4\n%\xe2\xe3", "not an image"),
])
def test_garbage_is_a_clear_error(data: bytes, match: str) -> None:
    with pytest.raises(InputError, match=match):
        load_pixels(data, SIZE)


def test_truncated_files_are_clear_errors(tmp_path: Path) -> None:
    img = Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), np.uint8))
    for fmt in ("JPEG", "PNG"):
        buf = io.BytesIO()
        img.save(buf, fmt)
        data = buf.getvalue()
        # (a PNG missing only its 12-byte IEND trailer holds every pixel and still decodes)
        for cut in (10, len(data) // 3, len(data) - 40):
            path = tmp_path / f"cut{cut}.{fmt.lower()}"
            path.write_bytes(data[:cut])
            with pytest.raises(InputError, match=str(path)):
                load_pixels(path, SIZE)


def test_missing_files_and_directories(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_pixels(tmp_path / "nope.jpg", SIZE)
    (tmp_path / "dir.jpg").mkdir()
    with pytest.raises(InputError, match="directory"):
        load_pixels(tmp_path / "dir.jpg", SIZE)


# -- hostile files on disk ---------------------------------------------------------------------
def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


@pytest.mark.parametrize("pillow_guard", [True, False], ids=["pillow-guard", "pillow-guard-off"])
@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_bomb_headers_are_refused_before_decoding(fmt: str, pillow_guard: bool, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A 50000x50000 header (7.5 GB of RGB) is refused from the header: fast, nothing allocated.

    With Pillow's own bomb guard off (embedders often set MAX_IMAGE_PIXELS = None), fingerspell's
    MAX_PIXELS still refuses it.
    """
    data = hf.png_claiming(hf.BOMB_SIDE, hf.BOMB_SIDE) if fmt == "png" else \
        hf.jpeg_claiming(hf.BOMB_SIDE, hf.BOMB_SIDE)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with Image.open(io.BytesIO(data)) as img:  # the header does claim 50000x50000
        assert img.size == (hf.BOMB_SIDE, hf.BOMB_SIDE)
    if pillow_guard:
        monkeypatch.undo()
    decodes: list[str] = []
    prepare = ImageFile.ImageFile.load_prepare

    def spy(self: ImageFile.ImageFile) -> None:  # where Pillow allocates the decoded image
        decodes.append(self.format or "?")
        prepare(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load_prepare", spy)
    path = tmp_path / f"bomb.{fmt}"
    path.write_bytes(data)
    rss, start = _peak_rss_mb(), time.perf_counter()
    with pytest.raises(InputError, match=r"pixel limit|too large") as err:
        load_pixels(path, SIZE)
    assert time.perf_counter() - start < 2.0
    assert not decodes, "decoding started"
    assert _peak_rss_mb() - rss < 100
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


@pytest.mark.parametrize("kind", ["heic", "pdf", "html"])
def test_other_formats_named_jpg_are_refused(kind: str, tmp_path: Path) -> None:
    data = {"heic": hf.heic_like(), "pdf": b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n",
            "html": b"<!DOCTYPE html><html><body>not found</body></html>"}[kind]
    path = tmp_path / f"{kind}.jpg"
    path.write_bytes(data)
    # a HEIC's name says what it is: how to read it, or that pillow-heif could not
    want = r"HEIC (photo|file)" if kind == "heic" else r"not an image \(unrecognised format\)"
    with pytest.raises(InputError, match=want) as err:
        load_pixels(path, SIZE)
    assert str(err.value).startswith(f"{path}: ")


def test_animated_gif_predicts_from_its_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    path.write_bytes(hf.animated_gif())
    with Image.open(path) as img:
        assert img.n_frames == 3
    px = load_pixels(path, SIZE).reshape(-1, 3)
    assert (px == (255, 0, 0)).all()  # red: frame 0, not green or blue


def test_cmyk_jpeg_and_16_bit_png_become_rgb(tmp_path: Path) -> None:
    cmyk, gray16 = tmp_path / "cmyk.jpg", tmp_path / "gray16.png"
    cmyk.write_bytes(hf.cmyk_jpeg((200, 30, 30)))
    gray16.write_bytes(hf.gray16_png(40_000))
    with Image.open(cmyk) as a, Image.open(gray16) as b:
        assert (a.mode, b.mode) == ("CMYK", "I;16")
    px = load_pixels(cmyk, SIZE)
    assert px.dtype == np.uint8 and np.abs(px.reshape(-1, 3).mean(0) - (200, 30, 30)).max() < 12
    assert (load_pixels(gray16, SIZE) == round(40_000 / 65535 * 255)).all()


def test_unreadable_file_is_a_one_line_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: a chmod 000 file is still readable, so there is nothing to refuse")
    path = tmp_path / "locked.jpg"
    path.write_bytes(hf.encode(hf.noise(8, 8), "JPEG"))
    path.chmod(0)
    with pytest.raises(InputError, match="permission denied") as err:
        load_pixels(path, SIZE)
    assert str(err.value) == f"{path}: permission denied"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_named_like_an_image_is_refused_without_hanging(tmp_path: Path) -> None:
    """Opening a FIFO blocks until a writer comes: a folder holding one must not hang the CLI."""
    path = tmp_path / "pipe.jpg"
    os.mkfifo(path)
    outcome: list[BaseException] = []

    def load() -> None:
        try:
            load_pixels(path, SIZE)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=load, daemon=True)  # daemon: a hang must not block exit
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "load_pixels hung on a FIFO"
    assert isinstance(outcome[0], InputError) and "not a regular file" in str(outcome[0])


def test_links_and_empty_files_on_disk(tmp_path: Path) -> None:
    (tmp_path / "loop.jpg").symlink_to("loop.jpg")
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    for name, match in [("loop.jpg", "cannot open .*symbolic links"), ("dangling.jpg", "no such file"),
                        ("empty.jpg", "empty file")]:
        with pytest.raises(InputError, match=match) as err:
            load_pixels(tmp_path / name, SIZE)
        assert str(err.value).startswith(f"{tmp_path / name}: ") and "\n" not in str(err.value)


def test_files_are_closed_whatever_the_outcome(tmp_path: Path) -> None:
    """No file handle is left to the garbage collector: a multi-frame GIF, refused and cut images."""
    (tmp_path / "anim.gif").write_bytes(hf.animated_gif())
    # over MAX_PIXELS only (a JPEG that size is now read at reduced scale: MAX_JPEG_PIXELS)
    (tmp_path / "big.png").write_bytes(hf.png_claiming(9_000, 9_000))
    assert MAX_PIXELS < 9_000 * 9_000
    jpeg = hf.encode(hf.noise(64, 64), "JPEG")
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for name in ("anim.gif", "big.png", "cut.jpg"):
            with contextlib.suppress(InputError):
                load_pixels(tmp_path / name, SIZE)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_reading_in_threads_leaves_the_process_warning_filters_as_they_were() -> None:
    data = _png(Image.new("RGB", (64, 64)))
    before = list(warnings.filters)

    def work() -> None:
        for _ in range(200):
            open_image(data, "x")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # catch_warnings in threads left an 'error' filter for Pillow's bomb warning behind: the
    # embedding program's own Image.open of a 100 MP image then raised
    assert list(warnings.filters) == before


def test_a_hand_crop_gets_a_jpeg_decoded_at_four_times_the_input_size() -> None:
    from fingerspell.sources import load_pixels

    buf = io.BytesIO()
    Image.new("RGB", (512, 512), (120, 90, 60)).save(buf, "JPEG")  # baseline: decoded at reduced scale
    seen = []

    def crop(img: Image.Image) -> Image.Image:
        seen.append(img.size)
        return img

    assert load_pixels(buf.getvalue(), (32, 32), crop=crop).shape == (32, 32, 3)
    # the crop is cut from at least 4x the model's input (a 1/4 scale here), not a thumbnail of it
    assert seen and min(seen[0]) >= 4 * 32, seen
