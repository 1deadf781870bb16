"""The `fingerspell` command line: one module per verb, registered here.

Verbs import their heavy dependencies inside the command, so `fingerspell --help` stays fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import typer

from fingerspell import __version__
from fingerspell.cli import adapt, benchmark, evaluate, export, info, predict, spell, train
from fingerspell.cli.common import pipe_gone

app = typer.Typer(
    name="fingerspell",
    help="Read the ASL fingerspelling alphabet (A–Z, del, nothing, space) from photos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
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


def _interruptible(verb: Callable[..., None]) -> Callable[..., None]:
    """Ctrl-C that reaches a verb's caller (while the model loads, or in a verb with no handler of
    its own) leaves as the verbs' own handlers do, with 'interrupted' and 130; typer would exit 130
    without a word. functools.wraps keeps the signature typer reads the options from."""

    @functools.wraps(verb)
    def run(*args: object, **kwargs: object) -> None:
        try:
            verb(*args, **kwargs)
        except KeyboardInterrupt:
            from fingerspell.cli.common import interrupted

            interrupted()

    return run


for _name, _verb in [("predict", predict.predict), ("spell", spell.spell), ("adapt", adapt.adapt),
                     ("info", info.info), ("benchmark", benchmark.benchmark),
                     ("train", train.train), ("evaluate", evaluate.evaluate),
                     ("export", export.export)]:
    app.command(_name)(_interruptible(_verb))


def main() -> None:
    import sys
    import warnings

    from fingerspell.quiet import keep_python_stderr

    # an output encoding that lacks ✔, – or a file name's letters (PYTHONIOENCODING=latin-1):
    # print '?' for them instead of a traceback after the work is done (stderr already escapes)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    if sys.stdout is None:  # started with stdout closed (`>&-`): click would drop every answer
        if sys.stderr is not None:
            print("error: standard output is closed: nowhere to print the answers", file=sys.stderr)
        raise SystemExit(1)
    keep_python_stderr()  # `error:` lines never fall into a native library's silenced fd 2
    # Pillow's complaints about a photo it did decode (corrupt EXIF, an icon of another size) are
    # two lines of its source on stderr, naming no input; a photo it cannot decode is our error
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
    # nor its warning for an image of 89-179 MP, which the pixel limit refuses in its own words
    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"PIL\.")
    try:
        try:
            # typer expands globs itself on Windows (in NTFS's order, 'frame10' before 'frame2',
            # folders and their files both): the sources' own expansion is ours, everywhere
            app(windows_expand_args=False)
        finally:
            sys.stdout.flush()  # a full disk shows here at the latest, not in Python's exit
    except OSError as exc:  # the output could not be written (a full disk, an I/O error)
        _output_failed(exc)
    except SystemExit as exc:
        # click's and rich's own closed-pipe exits (`--help | head`) are 1, which means an input
        # failed here; both exit while handling the BrokenPipeError
        if exc.code == 1 and pipe_gone(exc.__context__):
            raise SystemExit(141) from None
        raise


def _output_failed(exc: OSError) -> None:
    """One line for an OSError no verb handled, which is the output's (or names its file), and
    exit 1; 141 quietly for a reader that went away. fd 1 goes to /dev/null first, so that
    Python's own flush at exit does not print a traceback of the same error."""
    import os
    import sys

    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    if pipe_gone(exc):
        raise SystemExit(141) from None
    print(f"error: {exc.filename or 'standard output'}: {exc.strerror or exc}", file=sys.stderr)
    raise SystemExit(1) from None
