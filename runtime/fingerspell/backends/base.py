"""What every backend provides: its metadata, its input, and a batch run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

    from fingerspell.schema import ModelMetadata


class Backend(Protocol):
    name: str
    metadata: ModelMetadata
    batchable: bool  # whether run() takes more than one image per call

    def run(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels [N, H, W, 3] RGB at the model's input size -> probabilities [N, classes]."""
        ...
