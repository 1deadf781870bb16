"""Turn anything a user hands us — path, URL, bytes, file object, PIL image, array — into pixels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fingerspell.errors import InputError
from fingerspell.imaging import open_image, resize_to_input, to_rgb

if TYPE_CHECKING:
    import numpy as np

Source = Any  # str | Path | bytes | BinaryIO | PIL.Image.Image | np.ndarray


def describe(source: Source) -> str:
    """A short name for a source, used in results and error messages."""
    if isinstance(source, (str, Path)):
        return str(source)
    name = getattr(source, "name", None)
    if isinstance(name, str):
        return name
    if isinstance(source, (bytes, bytearray)):
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
    import numpy as np

    name = describe(source)
    draft = (size[0] * CROP_DRAFT, size[1] * CROP_DRAFT) if crop is not None else size
    if isinstance(source, str) and is_url(source):
        from fingerspell.fetch import fetch

        data = (fetcher or fetch)(source)
        img = open_image(data, name, draft_size=draft)
    elif isinstance(source, (str, Path)):
        img = open_image(Path(source), name, draft_size=draft)
    elif isinstance(source, (bytes, bytearray)):
        img = open_image(bytes(source), name, draft_size=draft)
    elif hasattr(source, "read"):
        try:
            data = source.read()
        except OSError as exc:
            raise InputError(f"{name}: cannot read ({exc})") from None
        if not isinstance(data, (bytes, bytearray)):
            raise InputError(f"{name}: file object must be opened in binary mode")
        img = open_image(bytes(data), name, draft_size=draft)
    elif _is_pil(source):
        img = to_rgb(source)
    elif isinstance(source, np.ndarray):
        img = _from_array(source, name)
    else:
        raise InputError(f"{name}: unsupported source type {type(source).__name__}")
    if crop is not None:
        img = crop(img)
    return np.asarray(resize_to_input(img, size), dtype=np.uint8)


def _is_pil(obj: Any) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        return False
    return isinstance(obj, Image.Image)


def _from_array(arr: np.ndarray, name: str) -> Any:
    """HxW (gray), HxWx3 (RGB) or HxWx4 (RGBA) arrays; uint8 0–255 or float 0–1."""
    import numpy as np
    from PIL import Image

    if arr.ndim == 2:
        arr = arr[..., None].repeat(3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or min(arr.shape[:2]) < 1:
        raise InputError(f"{name}: array of shape {arr.shape} is not an HxW, HxWx3 or HxWx4 image")
    if arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.number) or not np.isfinite(arr).all():
            raise InputError(f"{name}: array must hold finite numbers")
        scale = 255.0 if np.issubdtype(arr.dtype, np.floating) and arr.max() <= 1.0 else 1.0
        arr = np.clip(arr * scale, 0, 255).round().astype(np.uint8)
    return to_rgb(Image.fromarray(np.ascontiguousarray(arr), "RGBA" if arr.shape[2] == 4 else "RGB"))
