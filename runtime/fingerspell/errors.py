"""The error classes fingerspell raises. Each carries a one-line message that names the input.

Exit codes of the `fingerspell` command (also in the README):
  0  every input succeeded
  1  one or more inputs failed (every other input was still processed and reported), or the
     output could not be written (stdout closed or full)
  2  usage error (bad option or argument)
  3  the model could not be loaded (missing, damaged, or without fingerspell metadata)
  4  a training/evaluation folder is not a dataset
  5  an optional extra is not installed (e.g. `fingerspell[train]`), or onnxruntime cannot be imported
Embedders catch `FingerspellError`.
"""

from __future__ import annotations


class FingerspellError(Exception):
    """Base class of every error fingerspell raises on purpose."""

    exit_code = 1


class InputError(FingerspellError):
    """An input could not be turned into an image (missing, unreadable, not an image, too large)."""

    exit_code = 1


class FetchError(InputError):
    """A URL could not be downloaded (refused scheme, HTTP error, timeout, too large, wrong type)."""


class ModelError(FingerspellError):
    """A model artifact is missing, damaged, or lacks the metadata fingerspell needs."""

    exit_code = 3


class DatasetError(FingerspellError):
    """A folder does not look like a folder-per-class dataset."""

    exit_code = 4


class MissingExtraError(FingerspellError):
    """An optional extra (e.g. `fingerspell[hands]`) is needed but not installed, or onnxruntime
    is installed but cannot be imported."""

    exit_code = 5
