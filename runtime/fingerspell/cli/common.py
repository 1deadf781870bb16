"""Helpers shared by the CLI verbs: error output and lazy imports of optional extras."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import NoReturn

import typer

from fingerspell.errors import FingerspellError


def fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def require_extra(module: str, extra: str) -> ModuleType:
    """Import a module of an optional extra, or exit with the install command to get it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        fail(f"this command needs the '{extra}' extra ({exc.name} is missing): "
             f"pip install 'fingerspell[{extra}]'", 5)


def report_error(exc: FingerspellError) -> NoReturn:
    fail(str(exc), exc.exit_code)


def load_recognizer(model: object, backend: str | None, threads: int | None):
    """A Recognizer for a CLI verb, or a one-line error and exit code 3."""
    from fingerspell.recognizer import Recognizer

    try:
        return Recognizer(model, backend=backend, threads=threads)  # type: ignore[arg-type]
    except FingerspellError as exc:
        report_error(exc)
