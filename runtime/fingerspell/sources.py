"""Turn anything a user hands us — path, URL, bytes, file object, PIL image, array — into pixels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fingerspell.errors import FetchError, InputError
from fingerspell.imaging import MAX_PIXELS, one_line, open_image, resize_to_input, to_rgb

if TYPE_CHECKING:
    import numpy as np

Source = Any  # str | Path | bytes | BinaryIO | PIL.Image.Image | np.ndarray

# Streams (stdin, file objects) are read whole: without a cap `- < /dev/zero` fills memory.
MAX_STREAM_BYTES = 100_000_000


class BadSource(str):
    """A source known to be unusable before any decoding (a folder without images, an unreadable
    folder): loading it raises InputError with `reason`, so it is reported like any bad input."""

    reason: str

    def __new__(cls, name: str, reason: str) -> BadSource:
        obj = super().__new__(cls, name)
        obj.reason = reason
        return obj


def describe(source: Source) -> str:
    """A short name for a source, used in results and error messages."""
    if isinstance(source, (str, Path)):
        return str(source) or "''"
    try:
        name = getattr(source, "name", None)
    except Exception:  # a property that raises: still a name-less source, not a crash
        name = None
    if isinstance(name, str):
        return name
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes>"
    return f"<{type(source).__name__}>"


def is_url(text: str) -> bool:
    return "://" in text[:16] or text.lower().startswith(("data:", "file:"))


# A hand crop needs more pixels than the model's input: JPEGs decode at >= this many times it.
CROP_DRAFT = 4


def load_pixels(source: Source, size: tuple[int, int], *, fetcher: Any = None,
                crop: Callable[[Any], Any] | None = None) -> np.ndarray:
    """Decode `source` and return uint8 RGB pixels [H, W, 3] at `size` (width, height).

    crop: applied to the decoded RGB image before the resize (fingerspell.handcrop).
    """
    name = describe(source)
    if isinstance(source, BadSource):
        raise InputError(f"{name or repr(name)}: {source.reason}")
    try:
        return _load(source, name, size, fetcher, crop)
    except InputError:
        raise
    except Exception as exc:
        # Anything else this one input does (a lazily opened PIL image that is truncated, a closed
        # file, a NUL in a path) is still this input's failure, not the whole call's.
        raise InputError(f"{name}: cannot read ({one_line(exc)})") from None


def _load(source: Source, name: str, size: tuple[int, int], fetcher: Any,
          crop: Callable[[Any], Any] | None) -> np.ndarray:
    import numpy as np

    draft = (size[0] * CROP_DRAFT, size[1] * CROP_DRAFT) if crop is not None else size
    if isinstance(source, str) and is_url(source):
        from fingerspell.fetch import fetch

        data = _fetched((fetcher or fetch)(source), name)
        img = open_image(data, name, draft_size=draft)
    elif isinstance(source, str) and not source:  # Path("") is "." already: a folder
        raise InputError("'': empty path")
    elif isinstance(source, (str, Path)):
        img = open_image(Path(source), name, draft_size=draft)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        img = open_image(bytes(source), name, draft_size=draft)
    elif hasattr(source, "read"):
        data = source.read(MAX_STREAM_BYTES + 1)  # errors: "cannot read" in load_pixels
        if not isinstance(data, (bytes, bytearray)):
            raise InputError(f"{name}: file object must be opened in binary mode")
        if len(data) > MAX_STREAM_BYTES:
            raise InputError(f"{name}: more than {MAX_STREAM_BYTES:,} bytes, not a photo")
        img = open_image(bytes(data), name, draft_size=draft)
    elif _is_pil(source):
        w, h = source.size
        if min(w, h) < 1 or w * h > MAX_PIXELS:  # the limit files and URLs get, too
            raise InputError(f"{name}: image of size {w}x{h} is empty or over the "
                             f"{MAX_PIXELS:,}-pixel limit")
        from PIL import ImageOps

        # as files, bytes and URLs are read: the EXIF orientation applied (a copy; the caller's
        # image is left as it is, and an image already turned upright has no tag left to apply)
        img = to_rgb(ImageOps.exif_transpose(source))
    elif isinstance(source, np.ndarray):
        img = _from_array(source, name)
    else:
        raise InputError(f"{name}: unsupported source type {type(source).__name__}")
    if crop is not None:
        img = crop(img)
    return np.asarray(resize_to_input(img, size), dtype=np.uint8)


def _fetched(data: Any, name: str) -> bytes:
    """What a fetcher returned, as bytes: a custom fetcher returning text (or a path!) is an
    error, never a file name to open."""
    from fingerspell.fetch import DEFAULT_LIMITS

    limit = DEFAULT_LIMITS.max_bytes
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise FetchError(f"{name}: the fetcher returned {type(data).__name__}, not bytes")
    if len(data) > limit:
        raise FetchError(f"{name}: more than {limit:,} bytes, not a photo")
    return data


def _is_pil(obj: Any) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        return False
    return isinstance(obj, Image.Image)


def _from_array(arr: np.ndarray, name: str) -> Any:
    """HxW (gray), HxWx3 (RGB) or HxWx4 (RGBA) arrays; uint8 0–255, uint16 0–65535 or float 0–1."""
    import numpy as np
    from PIL import Image

    if arr.ndim == 2:
        arr = arr[..., None].repeat(3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or min(arr.shape[:2]) < 1:
        raise InputError(f"{name}: array of shape {arr.shape} is not an HxW, HxWx3 or HxWx4 image")
    if arr.dtype != np.uint8:
        if arr.dtype == np.bool_ or np.iscomplexobj(arr) or not np.issubdtype(arr.dtype, np.number):
            raise InputError(f"{name}: array of {arr.dtype} is not an image (uint8 0–255, "
                             "uint16 0–65535 or floats 0–1)")
        if not np.isfinite(arr).all():
            raise InputError(f"{name}: array must hold finite numbers")
        if arr.dtype.kind == "u" and arr.dtype.itemsize == 2:  # either byte order ('>u2' too)
            scale = 255.0 / 65535.0  # as 16-bit image files are read (imaging.to_rgb)
        else:
            scale = 255.0 if np.issubdtype(arr.dtype, np.floating) and arr.max() <= 1.0 else 1.0
        arr = np.clip(arr * scale, 0, 255).round().astype(np.uint8)
    return to_rgb(Image.fromarray(np.ascontiguousarray(arr), "RGBA" if arr.shape[2] == 4 else "RGB"))
