from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from synth import make_dataset

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data") / "tiny")


def run_threads(target, count: int) -> list[BaseException]:
    """Run target(i) in `count` threads at once; return what any of them raised."""
    import threading

    errors: list[BaseException] = []

    def guarded(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def shared_data(sub: str) -> Path:
    path = SHARED / sub
    if not path.is_dir():
        pytest.skip(f"{path} is absent (the shared data sets are not on this machine)")
    return path


@pytest.fixture(scope="session")
def tiny_run(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small CNN trained on the generated shapes (32x32 input): a real model, in seconds."""
    pytest.importorskip("tensorflow", reason="needs the train extra")
    from fingerspell_train.fit import TrainOptions, train
    from fingerspell_train.presets import get_preset

    out = tmp_path_factory.mktemp("run")
    train(get_preset("small-cnn", input_size=32, epochs=8, steps_per_epoch=10),
          TrainOptions(roots=[tiny_dataset], out_dir=out, progress=False))
    return out


@pytest.fixture(scope="session")
def exported(tiny_run: Path, tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every export format of the tiny model, with its parity report."""
    from fingerspell_export.exporter import FORMATS, ExportOptions, export

    out = tmp_path_factory.mktemp("export")
    export(tiny_run / "model.keras", ExportOptions(
        out_dir=out, calib_dirs=[tiny_dataset], parity_dirs=[tiny_dataset], formats=FORMATS,
        calib_images=60, parity_images=120, stem="tiny"))
    return out
