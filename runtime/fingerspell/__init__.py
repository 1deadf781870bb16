"""fingerspell: read the ASL fingerspelling alphabet from photos."""

from __future__ import annotations

__version__ = "0.1.0"

from fingerspell.errors import DatasetError, FetchError, FingerspellError, InputError, ModelError
from fingerspell.schema import CLASSES

__all__ = [
    "CLASSES",
    "DatasetError",
    "FetchError",
    "FingerspellError",
    "InputError",
    "ModelError",
    "__version__",
]
