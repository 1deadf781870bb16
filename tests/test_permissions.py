"""What a user without permission to read or enter a path sees: one line naming it, the code the
README gives, the other inputs still answered.

Tests usually run as root, where permissions never bite, so the denials are made here: pathlib's
stat (which is_file() and is_dir() call) and os.scandir raise PermissionError for any path
under a folder named `locked`, as they do for a folder the user cannot enter. Before these
fixes, is_file() and is_dir() raised PermissionError where a user could not enter a folder, and
the CLI took that for its own output failing (exit 1, a bare line)."""

from __future__ import annotations

import errno
import os
import pathlib
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from fingerspell.cli import app
from fingerspell.cli.inputs import expand
from fingerspell.sources import BadSource


def _denied(path: object) -> PermissionError:
    return PermissionError(errno.EACCES, "Permission denied", str(path))


@pytest.fixture
def locked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deny stat of anything inside a folder named `locked`, and listing it (the folder itself can
    be stat'ed, as a folder with mode 700 of another user can)."""
    real_stat, real_scandir = pathlib.Path.stat, os.scandir

    def inside(p: object) -> bool:
        return "locked" in Path(os.fspath(p)).parts[:-1]

    def stat(self: Path, *args: object, **kwargs: object) -> os.stat_result:
        if inside(self):
            raise _denied(self)
        return real_stat(self, *args, **kwargs)

    def scandir(p: object = ".") -> object:
        if "locked" in Path(os.fspath(p)).parts:
            raise _denied(p)
        return real_scandir(p)

    real_iterdir = pathlib.Path.iterdir

    def iterdir(self: Path):
        if "locked" in self.parts:
            raise _denied(self)
        return real_iterdir(self)

    monkeypatch.setattr(pathlib.Path, "stat", stat)
    monkeypatch.setattr(pathlib.Path, "iterdir", iterdir)
    monkeypatch.setattr(os, "scandir", scandir)


def _photo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 64), (120, 90, 60)).save(path)
    return path


def test_a_model_in_a_folder_the_user_cannot_enter_exits_3(tmp_path: Path, locked: None) -> None:
    model = tmp_path / "locked" / "m.onnx"
    model.parent.mkdir()
    model.write_bytes(b"not read")
    photo = _photo(tmp_path / "a.jpg")
    for args in (["predict", "--model", str(model), str(photo)],
                 ["benchmark", "--runs", "1", "--model", str(model)]):
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 3, (args, res.output)  # was 1, as if stdout had failed
        assert f"{model}: cannot read the model file (Permission denied)" in res.output


@pytest.mark.parametrize("name", ["m.onnx", "m.tflite", "m.json"])
def test_an_unreadable_model_or_sidecar_exits_3_and_says_so(tmp_path: Path, name: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from fingerspell import artifact
    from fingerspell.backends import litert

    if name != "m.onnx" and not litert.installed():
        pytest.skip("needs ai-edge-litert ([litert]) to reach the .tflite's sidecar")
    model = tmp_path / ("m.onnx" if name == "m.onnx" else "m.tflite")
    model.write_bytes(b"not read")
    (tmp_path / "m.json").write_text("{}")
    unreadable = tmp_path / name
    real_open = open

    def fake_open(file: object, *args: object, **kwargs: object) -> object:
        if Path(os.fspath(file)) == unreadable:  # type: ignore[arg-type]
            raise _denied(file)
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(artifact, "open", fake_open, raising=False)
    res = CliRunner().invoke(app, ["predict", "--model", str(model), str(_photo(tmp_path / "a.jpg"))])
    # was 1 for the .tflite and its sidecar; onnxruntime said 'system error number 13'
    assert res.exit_code == 3, res.output
    assert f"{unreadable}: cannot read the " in res.output and "(Permission denied)" in res.output


def test_adapt_refuses_an_out_it_cannot_write_before_reading_photos(
        tmp_path: Path, locked: None, monkeypatch: pytest.MonkeyPatch) -> None:
    letters = tmp_path / "letters"
    _photo(letters / "A" / "1.jpg")
    (tmp_path / "locked").mkdir()
    read_only = tmp_path / "ro"
    read_only.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == read_only
                        else real_access(p, mode, **kw))
    for out, said in ((tmp_path / "locked" / "h.json", "cannot write (Permission denied)"),
                      (read_only / "h.json", f"cannot write in {read_only} (Permission denied)")):
        res = CliRunner().invoke(app, ["adapt", str(letters), "--out", str(out)])
        assert res.exit_code == 2 and f"--out {out}: {said}" in res.output, res.output
        assert "photos with a hand" not in res.output  # refused before any photo was read


def test_adapt_on_a_folder_under_one_it_cannot_enter_exits_4(tmp_path: Path, locked: None) -> None:
    letters = tmp_path / "locked" / "letters"
    res = CliRunner().invoke(app, ["adapt", str(letters), "--out", str(tmp_path / "h.json")])
    assert res.exit_code == 4, res.output  # was 1
    assert f"{letters}: cannot list folder (Permission denied)" in res.output


def test_benchmark_data_it_cannot_list_exits_4(tmp_path: Path, locked: None) -> None:
    data = tmp_path / "locked"
    _photo(data / "A" / "1.jpg")
    res = CliRunner().invoke(app, ["benchmark", "--runs", "1", "--data", str(data)])
    assert res.exit_code == 4, res.output  # was 1
    assert f"{data}: cannot list folder (Permission denied)" in res.output


def test_benchmark_leaves_out_a_class_folder_it_cannot_list(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from fingerspell.benchmark import labelled

    data = tmp_path / "data"
    a, b = _photo(data / "A" / "1.jpg"), _photo(data / "B" / "1.jpg")
    real_scandir = os.scandir

    def scandir(p: object = ".") -> object:
        if Path(os.fspath(p)) == b.parent:
            raise _denied(p)
        return real_scandir(p)

    monkeypatch.setattr(os, "scandir", scandir)
    problems: list[str] = []
    # one such folder stopped the whole benchmark, with nothing measured
    assert labelled(data, 0, problems) == [(a, "A")]
    assert problems == [f"{b.parent}: cannot list folder (Permission denied)"]


def test_globs_name_the_folders_they_cannot_list(tmp_path: Path, locked: None) -> None:
    _photo(tmp_path / "locked" / "a.jpg")
    (got,) = expand([str(tmp_path / "locked" / "*.jpg")])  # was 'no files match'
    assert isinstance(got, BadSource) and got == str(tmp_path / "locked")
    assert got.reason == "cannot list folder (Permission denied)"
    tree = tmp_path / "tree"
    _photo(tree / "ok" / "b.jpg")
    (tree / "locked").mkdir()
    for pattern in ("**/*.jpg", "*/*.jpg", "**"):  # the locked folder was left out unsaid (exit 0)
        got = expand([str(tree / pattern)])
        assert [Path(p).name for p in got if not isinstance(p, BadSource)] == ["b.jpg"], pattern
        bad = [p for p in got if isinstance(p, BadSource)]
        assert bad == [str(tree / "locked")] and "Permission denied" in bad[0].reason, pattern


def test_globs_say_nothing_of_a_folder_gone_while_listed(tmp_path: Path, locked: None,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from fingerspell.cli import globs

    tree = tmp_path / "tree"
    _photo(tree / "ok" / "b.jpg")
    (tree / "gone").mkdir()
    real_scandir = os.scandir  # the `locked` fixture's, which denies folders named `locked`

    def scandir(p: object = ".") -> object:
        if Path(os.fspath(p)).name == "gone":  # removed between its parent's listing and its own
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(p))
        return real_scandir(p)

    monkeypatch.setattr(os, "scandir", scandir)
    # as glob: a folder that no longer exists matches nothing, and is no folder 'cannot list'
    assert [Path(p).name for p in expand([str(tree / "**" / "*.jpg")])] == ["b.jpg"]
    # without a list for them, a folder that cannot be listed matches nothing: no error
    (tmp_path / "locked").mkdir()
    assert list(globs.paths(str(tmp_path / "locked" / "*.jpg"))) == []


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc: a HOME nobody can write")
def test_a_home_it_cannot_write_adds_no_line(tmp_path: Path) -> None:
    photo = _photo(tmp_path / "a.jpg")
    env = {**os.environ, "HOME": "/proc"}
    proc = subprocess.run([sys.executable, "-m", "fingerspell", "predict", str(photo)], text=True,
                          capture_output=True, timeout=300, env=env)
    # onnxruntime 1.32's import printed a coloured native warning that it could not store a
    # telemetry device id there, on every command
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
