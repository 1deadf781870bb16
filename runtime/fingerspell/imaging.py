"""Decode any image to RGB and resize it exactly as training did.

`resize_to_input` is the one resize used by training, evaluation, export calibration and the
runtime: the model only ever sees pixels made by this function.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from fingerspell import formats
from fingerspell.errors import InputError
from fingerspell.schema import RESIZE_FIT, RESIZE_METHOD

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

# Refuse images whose header claims more pixels than this (decompression bombs). 64 MP is 192 MB
# decoded as 8-bit RGB; a 16-bit RGBA file that size peaked at 0.9 GB while converted (measured),
# still far from what a bomb would take.
MAX_PIXELS = 64_000_000
# A JPEG read at reduced scale (draft) may claim more: phones save 64, 108 and 200 MP photos
# (16320x12240), which DCT scaling decodes at 1/8 of each side without the full image in memory.
# The image it decodes is held to MAX_PIXELS still.
MAX_JPEG_PIXELS = 256_000_000


def _pil() -> tuple:
    from PIL import Image, ImageOps

    return Image, ImageOps


def open_image(data: bytes | BinaryIO | Path | str, name: str, draft_size: tuple[int, int] | None = None
               ) -> Image.Image:
    """Open and fully decode an image into RGB. Raises InputError naming `name`.

    draft_size lets JPEGs decode at a reduced scale (DCT scaling) when they are much larger than
    needed; the result is still resized by resize_to_input afterwards.
    """
    Image, ImageOps = _pil()
    if isinstance(data, bytes):
        if not data:
            raise InputError(f"{name}: empty file")
        source: contextlib.AbstractContextManager[BinaryIO] = contextlib.nullcontext(io.BytesIO(data))
    elif isinstance(data, (Path, str)):
        source = open_file(Path(data), name)
    else:
        source = contextlib.nullcontext(data)
    try:
        # We own the file, not Pillow: it is closed on every path out, refused images included.
        # Pillow's warning for an image of 89-179 MP is left alone: the pixel limit below refuses
        # it first. Made an error here, under catch_warnings, which threads share, the filter was
        # left behind in the process for good (its own Image.open then raised).
        with source as fp:
            kind = _sniff(fp)
            if kind == "heic":
                formats.heif_opener()  # where installed; else Pillow's error is explained below
            drafted = kind == "jpeg" and draft_size is not None
            try:
                img = _open_jpeg(fp) if drafted else None
                if img is None:
                    img = Image.open(fp)
            except Image.UnidentifiedImageError:
                if formats.unreadable(kind):
                    raise InputError(f"{name}: {formats.unreadable(kind)}") from None
                raise
            w, h = img.size
            # Baseline only: a progressive JPEG holds every coefficient while decoding, whatever
            # the scale (a 16000x16000 one of 7 KB took 1.6 GB), and phones write baseline.
            big = drafted and img.format in ("JPEG", "MPO") and "progression" not in img.info
            limit = MAX_JPEG_PIXELS if big else MAX_PIXELS
            if w * h > limit:
                hint = (" (a progressive JPEG; a baseline one is read up to "
                        f"{MAX_JPEG_PIXELS:,})" if drafted and "progression" in img.info else "")
                raise InputError(f"{name}: image is {w}x{h}, larger than the {limit:,}-pixel "
                                 f"limit{hint}")
            if getattr(img, "n_frames", 1) > 1 and img.format != "HEIF":
                img.seek(0)  # animated: the first frame (a HEIC opens on its primary image)
            # an MPO (a gain map or a stereo view after the photo) at full scale where it can be,
            # as before JPEGs this large were read
            if draft_size is not None and (img.format == "JPEG" or (big and w * h > MAX_PIXELS)):
                img.draft("RGB", draft_size)
                if img.size[0] * img.size[1] > MAX_PIXELS:  # too large even at 1/8 of each side
                    raise InputError(f"{name}: image is {w}x{h}, larger than the "
                                     f"{MAX_PIXELS:,}-pixel limit at reduced scale")
            _load(img)
            img = ImageOps.exif_transpose(img) or img
            return to_rgb(img)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(f"{name}: image too large ({exc})") from None
    except Image.UnidentifiedImageError:
        raise InputError(f"{name}: not an image (unrecognised format)") from None
    except Exception as exc:
        # Decoders of untrusted bytes fail in many ways (OSError for truncation, TypeError or
        # KeyError for a corrupt TIFF header, ...): all of them mean "not a usable image".
        raise InputError(f"{name}: cannot decode image ({one_line(exc)})") from None


def _open_jpeg(fp: BinaryIO) -> Image.Image | None:
    """A JPEG opened by Pillow's JPEG plugin itself, without Image.open's check against
    Image.MAX_IMAGE_PIXELS (89 MP warns, 179 MP fails), which a 108 or 200 MP phone photo
    exceeds; open_image holds it to MAX_JPEG_PIXELS instead, and decodes it at reduced scale.
    None where the plugin does not take it: Image.open then says why."""
    from PIL import JpegImagePlugin

    try:
        return JpegImagePlugin.jpeg_factory(fp)
    except Exception:  # whatever it is, Image.open reports it below
        fp.seek(0)
        return None


def _sniff(fp: BinaryIO) -> str | None:
    """formats.kind of the file's first bytes, the file left where it was (None where it cannot
    be read back: Pillow then says what it can)."""
    try:
        at = fp.tell()
        head = fp.read(formats.HEAD_BYTES)
        fp.seek(at)
    except (OSError, ValueError, AttributeError):
        return None
    return formats.kind(head) if isinstance(head, bytes) else None


def _load(img: Image.Image) -> None:
    """img.load(), where a TIFF's libtiff complaints ('tempfile.tif: Using code not yet in
    table.') would reach fd 2 beside our own one-line error: silenced there, but only where that
    cannot swallow Python's own stderr (the CLI's case; see fingerspell.quiet)."""
    from fingerspell.quiet import python_stderr_elsewhere, quiet_stderr

    if img.format == "TIFF" and python_stderr_elsewhere():
        with quiet_stderr():
            img.load()
    else:
        img.load()


def open_file(path: Path, name: str) -> BinaryIO:
    """Open a file for decoding. Raises InputError naming `name`.

    O_NONBLOCK keeps open() from waiting forever for the writer of a FIFO named like an image;
    anything but a regular file is then refused, since reading a FIFO or device may never end.
    """
    try:
        # O_BINARY: on Windows a descriptor opens in text mode, where reads turn CR LF into LF
        # and stop at the first 0x1A, which every photo holds somewhere
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except PermissionError:
        if os.path.isdir(path):  # what Windows says for a folder (CPython issue 87261)
            raise InputError(f"{name}: is a directory, not an image") from None
        raise InputError(f"{name}: permission denied") from None
    except OSError as exc:  # e.g. a symlink loop, a name too long
        raise InputError(f"{name}: cannot open ({exc.strerror or one_line(exc)})") from None
    problem = _refusal(os.fstat(fd))
    if problem:
        os.close(fd)
        raise InputError(f"{name}: {problem}")
    return os.fdopen(fd, "rb")


def _refusal(info: os.stat_result) -> str | None:
    if stat.S_ISDIR(info.st_mode):
        return "is a directory, not an image"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file (a pipe, socket or device), not an image"
    if info.st_size == 0:
        return "empty file"
    return None


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency is composited onto black."""
    Image, _ = _pil()
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if img.mode == "F":
        return img.convert("L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (0, 0, 0))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def resize_to_input(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize an RGB image to (width, height) the way every fingerspell model was trained."""
    assert RESIZE_METHOD == "bilinear" and RESIZE_FIT == "stretch"
    Image, _ = _pil()
    if img.size == size:
        return img
    return img.resize(size, Image.Resampling.BILINEAR)


def load_array(path: Path | str, size: tuple[int, int]) -> np.ndarray:
    """Decode a file and return HxWx3 uint8 pixels at `size` (width, height)."""
    import numpy as np

    img = open_image(Path(path), str(path), draft_size=size)
    return np.asarray(resize_to_input(img, size), dtype=np.uint8)


def one_line(exc: BaseException, limit: int | None = None) -> str:
    """The first line of an exception's message (its type where it has none), cut at `limit`."""
    text = str(exc).strip().splitlines()
    return text[0][:limit] if text else type(exc).__name__
