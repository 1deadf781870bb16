"""Image loading: every mode to RGB, EXIF orientation, bombs, broken files — never a traceback."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

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


def _huge_header_png(w: int, h: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + \
        chunk(b"IEND", b"")


def test_decompression_bomb_header_is_refused_without_decoding() -> None:
    with pytest.raises(InputError, match=r"pixel limit|too large"):
        load_pixels(_huge_header_png(50_000, 50_000), SIZE)
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
