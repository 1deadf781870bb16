"""The `fingerspell` command line: one module per verb, registered here.

Verbs import their heavy dependencies inside the command, so `fingerspell --help` stays fast.
"""

from __future__ import annotations

import typer

from fingerspell import __version__
from fingerspell.cli import adapt, benchmark, evaluate, export, info, predict, spell, train

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


app.command("predict")(predict.predict)
app.command("spell")(spell.spell)
app.command("adapt")(adapt.adapt)
app.command("info")(info.info)
app.command("benchmark")(benchmark.benchmark)
app.command("train")(train.train)
app.command("evaluate")(evaluate.evaluate)
app.command("export")(export.export)


def main() -> None:
    import sys

    from fingerspell.quiet import keep_python_stderr

    # an output encoding that lacks ✔, – or a file name's letters (PYTHONIOENCODING=latin-1):
    # print '?' for them instead of a traceback after the work is done (stderr already escapes)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    keep_python_stderr()  # `error:` lines never fall into a native library's silenced fd 2
    try:
        app()
    except SystemExit as exc:
        # click's and rich's own closed-pipe exits (`--help | head`) are 1, which means an input
        # failed here; both exit while handling the BrokenPipeError
        if exc.code == 1 and isinstance(exc.__context__, BrokenPipeError):
            raise SystemExit(141) from None
        raise
