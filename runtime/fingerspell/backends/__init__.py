"""Inference backends, one per file, behind the small `Backend` protocol; chosen from the artifact."""

from __future__ import annotations

from pathlib import Path

from fingerspell.backends.base import Backend
from fingerspell.errors import ModelError

BACKENDS = {".onnx": "onnxruntime", ".tflite": "litert"}


def backend_for(path: Path, choice: str | None = None) -> str:
    """The backend name for an artifact: an explicit choice, else its file extension."""
    if choice:
        if choice not in BACKENDS.values():
            raise ModelError(f"unknown backend {choice!r}; choose one of {sorted(BACKENDS.values())}")
        implied = BACKENDS.get(path.suffix.lower())
        if implied is not None and implied != choice:
            wanted = next(ext for ext, name in BACKENDS.items() if name == choice)
            raise ModelError(f"{path}: the {choice} backend reads {wanted} files, not "
                             f"{path.suffix}; leave the backend out to pick it from the file")
        return choice
    name = BACKENDS.get(path.suffix.lower())
    if name is None:
        raise ModelError(f"{path}: unknown model format {path.suffix!r} (expected .onnx or .tflite)")
    return name


def open_backend(path: Path, choice: str | None = None, threads: int | None = None) -> Backend:
    name = backend_for(path, choice)
    if name == "onnxruntime":
        from fingerspell.backends.onnx import OnnxBackend

        return OnnxBackend(path, threads)
    from fingerspell.backends.litert import LiteRTBackend

    return LiteRTBackend(path, threads)


__all__ = ["BACKENDS", "Backend", "backend_for", "open_backend"]
