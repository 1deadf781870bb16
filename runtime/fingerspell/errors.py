"""The error classes fingerspell raises. Each carries a one-line message that names the input.

The CLI maps them to exit codes (see fingerspell.cli.exitcodes); embedders catch `FingerspellError`.
"""

from __future__ import annotations


class FingerspellError(Exception):
    """Base class of every error fingerspell raises on purpose."""

    exit_code = 1


class InputError(FingerspellError):
    """An input could not be turned into an image (missing, unreadable, not an image, too large)."""

    exit_code = 2


class FetchError(InputError):
    """A URL could not be downloaded (refused scheme, HTTP error, timeout, too large, wrong type)."""


class ModelError(FingerspellError):
    """A model artifact is missing, damaged, or lacks the metadata fingerspell needs."""

    exit_code = 3


class DatasetError(FingerspellError):
    """A folder does not look like a folder-per-class dataset."""

    exit_code = 4
