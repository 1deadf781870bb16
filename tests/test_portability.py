"""The runtime on an OS without POSIX's extras (Windows): a rough stand-in, since no Windows or
macOS machine is at hand: the POSIX-only names of os and signal, and POSIX-only modules, removed
before the runtime is imported, in a child process."""

from __future__ import annotations

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
