"""The runtime on an OS without POSIX's extras (Windows): a rough stand-in, since no Windows or
macOS machine is at hand: the POSIX-only names of os and signal, and POSIX-only modules, removed
before the runtime is imported, in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

NON_POSIX = textwrap.dedent("""
    import os, signal, sys
    for name in ("register_at_fork", "sched_getaffinity", "O_NONBLOCK", "getuid", "geteuid",
                 "fork", "mkfifo"):
        if hasattr(os, name):
            delattr(os, name)
    for name in ("SIGPIPE", "SIGHUP", "SIGALRM"):
        if hasattr(signal, name):
            delattr(signal, name)
    for mod in ("resource", "fcntl", "termios", "pwd", "grp"):
        sys.modules[mod] = None
""")


def test_every_runtime_module_imports_without_posix_extras() -> None:
    code = NON_POSIX + textwrap.dedent("""
        import importlib, pkgutil, fingerspell
        bad = []
        for m in pkgutil.walk_packages(fingerspell.__path__, "fingerspell."):
            if m.name == "fingerspell.__main__" or m.name.startswith("fingerspell.cli.") and \
                    m.name.split(".")[-1] in ("train", "evaluate", "export"):
                continue  # runs the CLI; the [train] verbs: TensorFlow's own platform story
            try:
                importlib.import_module(m.name)
            except Exception as exc:
                bad.append(f"{m.name}: {exc!r}")
        print("\\n".join(bad))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # os.register_at_fork at import stopped recognizer, backends and handcrop from importing
    assert out.stdout.strip() == ""


def test_a_prediction_runs_without_posix_extras(tmp_path) -> None:
    from PIL import Image

    photo = tmp_path / "grey.png"
    Image.new("RGB", (64, 64), (120, 120, 120)).save(photo)
    code = NON_POSIX + textwrap.dedent(f"""
        from fingerspell import Recognizer
        print(Recognizer(pose="none", crop="none").predict({str(photo)!r}).label)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()


def test_photos_are_opened_in_binary_mode(tmp_path, monkeypatch) -> None:
    import os

    from fingerspell.imaging import open_file

    fake_binary = 0x8000  # Windows' O_BINARY; a text-mode descriptor there turns CR LF into LF
    monkeypatch.setattr(os, "O_BINARY", fake_binary, raising=False)
    real_open, flags = os.open, []

    def spy(path, how, *rest):
        flags.append(how)
        return real_open(path, how & ~fake_binary, *rest)

    monkeypatch.setattr(os, "open", spy)
    photo = tmp_path / "crlf.jpg"
    photo.write_bytes(b"\xff\xd8\r\n\x1a\r\n")
    with open_file(photo, "crlf.jpg") as fp:
        assert fp.read() == b"\xff\xd8\r\n\x1a\r\n"
    assert flags and all(f & fake_binary for f in flags)  # was opened without it


def test_glob_patterns_split_at_either_windows_separator() -> None:
    import ntpath
    import posixpath

    from fingerspell.cli.globs import split

    # on Windows `frames/f*.jpg` matched nothing: it was split at backslashes only
    assert split("frames/f*.jpg", "\\", "/", ntpath.splitdrive) == ("", ["frames", "f*.jpg"])
    assert split(r"C:\p\*.jpg", "\\", "/", ntpath.splitdrive) == ("C:", ["", "p", "*.jpg"])
    assert split(r"\\srv\share\x\*.png", "\\", "/", ntpath.splitdrive) == (
        r"\\srv\share", ["", "x", "*.png"])
    assert split("/a/b*", "/", None, posixpath.splitdrive) == ("", ["", "a", "b*"])


def test_the_cli_expands_globs_itself_on_windows_too(monkeypatch) -> None:
    from fingerspell import cli

    seen = {}
    monkeypatch.setattr(cli, "app", lambda **kw: seen.update(kw))
    monkeypatch.setattr(sys, "argv", ["fingerspell", "--help"])
    cli.main()
    # typer expanded them first on Windows, in NTFS's order: `spell "f*.jpg"` misspelt
    assert seen == {"windows_expand_args": False}


def test_a_windows_console_keeps_its_own_writer(monkeypatch) -> None:
    import io

    from fingerspell import quiet

    class _WindowsConsoleIO(io.FileIO):  # CPython's name for the console's writer
        pass

    raw = _WindowsConsoleIO(os.dup(2), "w")
    monkeypatch.setattr(sys, "stderr", io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8"))
    monkeypatch.setattr(quiet, "python_stderr_elsewhere", lambda: False)
    quiet.keep_python_stderr()
    # a plain file sent UTF-8 bytes the console showed in its code page: 'JosÃ©'
    assert type(sys.stderr.buffer.raw) is _WindowsConsoleIO and sys.stderr.buffer.raw.fileno() != 2


def test_windows_names_a_broken_pipe_einval(monkeypatch) -> None:
    import errno

    from fingerspell.cli.common import pipe_gone

    einval = OSError(errno.EINVAL, "Invalid argument")
    assert pipe_gone(BrokenPipeError()) and not pipe_gone(einval) and not pipe_gone(None)
    monkeypatch.setattr(os, "name", "nt")
    assert pipe_gone(einval)  # was 'error: standard output: Invalid argument', exit 1
    assert not pipe_gone(OSError(errno.ENOSPC, "No space left on device"))


def test_a_url_given_as_model_is_named_on_windows_too() -> None:
    from pathlib import PureWindowsPath

    import pytest
    import typer

    from fingerspell.cli.common import load_recognizer

    with pytest.raises(typer.Exit) as done:  # the backslashes of Path() hid the URL: exit 3
        load_recognizer(PureWindowsPath("https://example.org/m.onnx"), None, None)
    assert done.value.exit_code == 2


def test_a_failed_url_says_why_in_any_os_s_words() -> None:
    import socket

    from fingerspell.fetch import _reason

    for text in ("nodename nor servname provided, or not known", "getaddrinfo failed",
                 "Name or service not known"):  # macOS, Windows, Linux
        wrapped = Exception(f"HTTPSConnectionPool(host='x', port=443): Max retries exceeded "
                            f"(Caused by NameResolutionError(\"{text}\"))")
        assert _reason(wrapped) == "cannot resolve the host name"
        inner = Exception("pool")
        inner.__context__ = socket.gaierror(8, text)
        assert _reason(Exception(inner)) == "cannot resolve the host name"
    refused = Exception("pool")
    refused.__context__ = ConnectionRefusedError(10061, "No connection could be made")
    assert _reason(refused) == "Connection refused"


def test_windows_says_a_folder_is_a_folder(tmp_path, monkeypatch) -> None:
    import pytest

    from fingerspell.errors import InputError
    from fingerspell.imaging import open_file

    def as_windows(path, *how):  # Windows refuses to open a folder with EACCES
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", as_windows)
    with pytest.raises(InputError, match="is a directory, not an image"):
        open_file(tmp_path, "photos")


def test_csv_rows_end_once_where_stdout_translates_newlines(tmp_path) -> None:
    from PIL import Image

    photo = tmp_path / "a.png"
    Image.new("RGB", (32, 32), (90, 90, 90)).save(photo)
    code = textwrap.dedent(f"""
        import io, sys
        sys.stdout = io.TextIOWrapper(sys.stdout.buffer, newline="\\r\\n")  # as on Windows
        sys.argv = ["fingerspell", "predict", "--csv", "--pose", "none", {str(photo)!r}]
        from fingerspell.console import main
        main()
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert b"\r\r\n" not in out.stdout and out.stdout.count(b"\r\n") == 2  # header and a row
