"""Hostile inputs generated on the spot: bombs, disguised formats, broken and odd files.

Shared by the tests and benchmarks/hostile.py. `CORPUS` maps a file name to how it is written and
what loading it must give: "ok" (pixels) or a regex the one-line InputError message must match.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

BOMB_SIDE = 50_000  # 50000 x 50000 = 2.5e9 pixels: 7.5 GB of RGB if anyone decoded it
OK = "ok"


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def noise(w: int, h: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), np.uint8))


def png_claiming(w: int, h: int) -> bytes:
    """A valid PNG signature and IHDR for a w x h RGB image, with an empty IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + \
        chunk(b"IEND", b"")


def jpeg_claiming(w: int, h: int) -> bytes:
    """A small real JPEG whose start-of-frame segment is rewritten to claim w x h pixels."""
    data = encode(noise(16, 16), "JPEG")
    i = 2  # after SOI; walk the marker segments (a blind search could hit table bytes)
    while i + 9 <= len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):  # SOF0/1/2: FF Cn len(2) precision(1) height(2) width(2)
            return data[:i + 5] + struct.pack(">HH", h, w) + data[i + 9:]
        i += 2 + length
    raise ValueError("no start-of-frame segment in the JPEG Pillow wrote")


def heic_like() -> bytes:
    """An ISO-BMFF 'ftyp' box of brand heic followed by junk: what an iPhone photo starts with."""
    ftyp = b"ftyp" + b"heic" + struct.pack(">I", 0) + b"mif1heic"
    return struct.pack(">I", 4 + len(ftyp)) + ftyp + np.random.default_rng(3).bytes(512)


def animated_gif() -> bytes:
    """Three solid frames: red, green, blue. The first frame is the one to predict from."""
    frames = [Image.new("RGB", (24, 24), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)


def palette_png_with_transparency() -> bytes:
    img = Image.new("P", (16, 16), 1)
    img.putpalette([255, 255, 255] + [200, 30, 30] * 255)
    img.paste(0, (0, 0, 8, 16))  # left half is the transparent index
    return encode(img, "PNG", transparency=0)


def cmyk_jpeg(rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    return encode(Image.new("RGB", (24, 24), rgb).convert("CMYK"), "JPEG", quality=95)


def gray16_png(value: int = 40_000) -> bytes:
    """A 16-bit grayscale PNG (Pillow mode I;16)."""
    return encode(Image.fromarray(np.full((20, 30), value, np.uint16)), "PNG")


def exif_jpeg(orientation: int) -> bytes:
    """A 60x30 photo (left half red) whose EXIF says how to turn it."""
    img = Image.new("RGB", (60, 30), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(img, "JPEG", exif=exif.tobytes(), quality=95)


def _bytes(data: bytes | Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda p: p.write_bytes(data() if callable(data) else data)


def _cut(fmt: str, where: Callable[[int], int]) -> Callable[[Path], None]:
    def write(p: Path) -> None:
        data = encode(noise(64, 64, seed=1), fmt)
        p.write_bytes(data[:where(len(data))])

    return write


def _symlink_loop(p: Path) -> None:
    p.symlink_to(p.name)  # relative: the link names itself


def _fifo(p: Path) -> None:
    os.mkfifo(p)


def _unreadable(p: Path) -> None:
    p.write_bytes(encode(noise(20, 20), "JPEG"))
    p.chmod(0)


def unreadable_expectation() -> str:
    """Root reads any file whatever its mode, so for root an unreadable file is a good image."""
    return OK if not hasattr(os, "geteuid") or os.geteuid() == 0 else "permission denied"


NOT_AN_IMAGE = "not an image"
BROKEN = r"cannot decode image|not an image"

CORPUS: dict[str, tuple[Callable[[Path], None], str]] = {
    "empty.jpg": (_bytes(b""), "empty file"),
    "cut-jpeg-at-10.jpg": (_cut("JPEG", lambda n: 10), BROKEN),
    "cut-jpeg-at-third.jpg": (_cut("JPEG", lambda n: n // 3), BROKEN),
    "cut-jpeg-40-short.jpg": (_cut("JPEG", lambda n: n - 40), BROKEN),
    "cut-png-at-10.png": (_cut("PNG", lambda n: 10), BROKEN),
    "cut-png-at-third.png": (_cut("PNG", lambda n: n // 3), BROKEN),
    "cut-png-40-short.png": (_cut("PNG", lambda n: n - 40), BROKEN),
    "random.jpg": (_bytes(np.random.default_rng(7).bytes(4096)), NOT_AN_IMAGE),
    "random.png": (_bytes(np.random.default_rng(8).bytes(4096)), NOT_AN_IMAGE),
    "text.jpg": (_bytes(b"this is a note, not a photo\n"), NOT_AN_IMAGE),
    "html.jpg": (_bytes(b"<!DOCTYPE html>\n<html><body><h1>404 Not Found</h1></body></html>\n"),
                 NOT_AN_IMAGE),
    "pdf.jpg": (_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"),
                NOT_AN_IMAGE),
    "heic.jpg": (_bytes(heic_like), r"HEIC (photo|file)"),  # says how to read it, or that it is cut
    "bomb-50000x50000.png": (_bytes(lambda: png_claiming(BOMB_SIDE, BOMB_SIDE)), r"pixel limit|too large"),
    "bomb-50000x50000.jpg": (_bytes(lambda: jpeg_claiming(BOMB_SIDE, BOMB_SIDE)), r"pixel limit|too large"),
    "animated.gif": (_bytes(animated_gif), OK),
    "palette-transparent.png": (_bytes(palette_png_with_transparency), OK),
    "cmyk.jpg": (_bytes(cmyk_jpeg), OK),
    "gray16.png": (_bytes(gray16_png), OK),
    "1x1.png": (_bytes(lambda: encode(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG")), OK),
    "10000x10.png": (_bytes(lambda: encode(noise(10_000, 10), "PNG")), OK),
    **{f"exif-orientation-{o}.jpg": (_bytes(lambda o=o: exif_jpeg(o)), OK) for o in range(1, 9)},
    "symlink-loop.jpg": (_symlink_loop, r"cannot open \(.*symbolic links"),
    "folder.jpg": (lambda p: p.mkdir(), "is a directory"),
    "fifo.jpg": (_fifo, "not a regular file"),
    "unreadable.jpg": (_unreadable, unreadable_expectation()),
}

if not hasattr(os, "mkfifo"):  # pragma: no cover - Windows
    del CORPUS["fifo.jpg"]


def is_bomb(name: str) -> bool:
    return name.startswith("bomb-")


def write_corpus(folder: Path) -> dict[Path, str]:
    """Write every CORPUS entry under `folder`; return path -> expectation."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, (write, expect) in CORPUS.items():
        write(folder / name)
        out[folder / name] = expect
    return out
