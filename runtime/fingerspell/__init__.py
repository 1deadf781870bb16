"""fingerspell: read the ASL fingerspelling alphabet from photos.

    from fingerspell import Recognizer
    rec = Recognizer()
    print(rec.predict("photo.jpg").label)

Heavy modules (numpy, onnxruntime, Pillow) load on first use, so `import fingerspell` is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fingerspell.errors import (
    DatasetError,
    FetchError,
    FingerspellError,
    InputError,
    ModelError,
)

__version__ = "0.1.0"

if TYPE_CHECKING:
    from fingerspell.recognizer import Recognizer
    from fingerspell.results import Failure, Prediction
    from fingerspell.schema import CLASSES
    from fingerspell.spell import spell

# CLASSES too: the `fingerspell` command imports this package before it can catch a Ctrl-C
_LAZY = {"CLASSES": "fingerspell.schema", "Recognizer": "fingerspell.recognizer",
         "Prediction": "fingerspell.results", "Failure": "fingerspell.results",
         "spell": "fingerspell.spell"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fingerspell' has no attribute {name!r}")


__all__ = [
    "CLASSES",
    "DatasetError",
    "Failure",
    "FetchError",
    "FingerspellError",
    "InputError",
    "ModelError",
    "Prediction",
    "Recognizer",
    "__version__",
    "spell",
]
