"""The `fingerspell` command line: one module per verb, registered here."""

from __future__ import annotations

import typer

from fingerspell import __version__
from fingerspell.cli import evaluate, train

app = typer.Typer(
    name="fingerspell",
    help="Read the ASL fingerspelling alphabet (A–Z, del, nothing, space) from photos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fingerspell {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Read the ASL fingerspelling alphabet (A–Z, del, nothing, space) from photos."""


app.command("train")(train.train)
app.command("evaluate")(evaluate.evaluate)


def main() -> None:
    app()
