"""An animated image's frames, for spelling: a GIF of a word spelled out (the web's usual form
of fingerspelling) spells the word, where reading its first frame spelled one letter.

Only GIF, WebP, PNG (APNG) and TIFF count: a JPEG's second picture (MPO) is a stereo view or a
gain map, not the next moment.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from fingerspell.imaging import MAX_PIXELS, one_line, open_file, to_rgb
from fingerspell.sources import BadSource, describe, is_url

MAX_FRAMES = 2_000  # a minute at 30 frames a second; more is a video, not a GIF
ANIMATED = ("GIF", "WEBP", "PNG", "TIFF")
SUFFIXES = frozenset({".gif", ".webp", ".png", ".apng", ".tif", ".tiff"})


def each_frame(sources: Iterable[Any]) -> Iterator[Any]:
    """The sources in order, an animated image's frames in its place (named `NAME[1]`, `NAME[2]`,
    …, as PIL images); anything else, a still image included, is passed on as it came, to be read
    and reported as any source is."""
    for source in sources:
        yield from _frames(source)


def _frames(source: Any) -> Iterator[Any]:
    if not _may_animate(source):
        yield source
        return
    from PIL import ImageOps

    name = describe(source)
    with contextlib.ExitStack() as stack:
        try:
            img = stack.enter_context(_open(source, name))
            w, h = img.size
            animated = bool(getattr(img, "is_animated", False))  # looks at frame 2 only
        except Exception:  # not animated, or not readable: the usual reading says what it is
            yield source
            return
        if not animated or w * h > MAX_PIXELS:
            yield source
            return
        for i in range(MAX_FRAMES + 1):
            try:
                img.seek(i)
            except EOFError:
                return
            except Exception as exc:
                yield BadSource(f"{name}[{i + 1}]", f"cannot decode frame ({one_line(exc)})")
                return
            if i == MAX_FRAMES:
                yield BadSource(name, f"more than {MAX_FRAMES:,} frames; the first {MAX_FRAMES:,} "
                                "were read")
                return
            fw, fh = img.size  # a TIFF's pages each have their own
            if fw * fh > MAX_PIXELS:
                yield BadSource(f"{name}[{i + 1}]", f"image is {fw}x{fh}, larger than the "
                                f"{MAX_PIXELS:,}-pixel limit")
                return
            try:
                # the orientation first: to_rgb's copy of a frame with transparency drops it
                frame = to_rgb(ImageOps.exif_transpose(img.copy()))
            except Exception as exc:
                yield BadSource(f"{name}[{i + 1}]", f"cannot decode frame ({one_line(exc)})")
                return
            frame.name = f"{name}[{i + 1}]"  # what results and errors call it
            yield frame


@contextlib.contextmanager
def _open(source: Any, name: str) -> Iterator[Any]:
    from PIL import Image

    # open_file refuses a FIFO or device named like an image, which open() waits on
    with (open_file(Path(source), name) if isinstance(source, (str, Path))
          else io.BytesIO(bytes(source))) as fp, Image.open(fp, formats=ANIMATED) as img:
        yield img


def _may_animate(source: Any) -> bool:
    if isinstance(source, BadSource):
        return False
    if isinstance(source, (str, Path)):
        return not (isinstance(source, str) and is_url(source)) and \
            Path(source).suffix.lower() in SUFFIXES
    return isinstance(source, (bytes, bytearray))  # stdin's bytes, or a program's


def frame_count(source: Any) -> int:
    """How many frames a local animated image or its bytes hold, counted up to MAX_FRAMES + 1
    (1 for anything else, or where it cannot be read: its reading says why), without decoding
    them."""
    if not _may_animate(source):
        return 1
    count = 1
    try:
        with _open(source, describe(source)) as img:
            if getattr(img, "is_animated", False):
                with contextlib.suppress(EOFError):
                    while count <= MAX_FRAMES:
                        img.seek(count)
                        count += 1
    except Exception:
        return 1
    return count
