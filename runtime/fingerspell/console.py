"""The `fingerspell` command's entry point, kept light: Ctrl-C while the CLI's modules load
(typer and the verbs, about a tenth of a second) leaves as the verbs do, quietly with 130, not
with a KeyboardInterrupt traceback."""

from __future__ import annotations


def main() -> None:
    try:
        from fingerspell.cli import main as cli_main
    except KeyboardInterrupt:
        import os
        import sys

        if sys.stderr is not None:
            print("interrupted", file=sys.stderr, flush=True)
        os._exit(130)
    cli_main()
