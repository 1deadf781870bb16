"""Bad input to the verbs a retraining user runs (train, evaluate, export, ship): one line, the
documented exit code, and never a lost or half-replaced run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("tensorflow", reason="needs the train extra")

from typer.testing import CliRunner

from fingerspell.cli import app

TINY = ["--preset", "small-cnn", "--input-size", "32", "--epochs", "1", "--steps", "2"]


def _run(*args: str):
    result = CliRunner().invoke(app, [*args])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.mark.parametrize("bad", [
    ["--gap", "-3"], ["--val-fraction", "-0.5"], ["--val-fraction", "1"], ["--val-fraction", "nan"],
    ["--epochs", "0"], ["--steps", "0"], ["--batch-size", "0"], ["--input-size", "16"],
    ["--learning-rate", "nan"], ["--learning-rate", "-1"], ["--background-swap", "2"],
    ["--holdout-source", "alice"],  # without --split source it was ignored
])
def test_nonsense_train_options_exit_2_before_any_work(bad: list[str], tiny_dataset: Path,
                                                       tmp_path: Path) -> None:
    r = _run("train", str(tiny_dataset), *TINY, *bad, "--out", str(tmp_path / "run"))
    assert r.exit_code == 2, r.output
    assert bad[0] in r.output and not (tmp_path / "run").exists()


@pytest.mark.parametrize("flag", ["--head", "--preprocess", "--feature-precision"])
def test_unknown_choices_are_refused_even_where_the_preset_ignores_them(
        flag: str, tiny_dataset: Path, tmp_path: Path) -> None:
    # small-cnn has no head and no feature cache: a typo used to train the default silently
    r = _run("train", str(tiny_dataset), *TINY, flag, "bogus", "--out", str(tmp_path / "run"))
    assert r.exit_code == 2 and "'bogus'" in r.output, r.output
    assert "Epoch" not in r.output and list(tmp_path.iterdir()) == []


def test_a_bad_eval_folder_fails_before_training(tiny_dataset: Path, tmp_path: Path) -> None:
    r = _run("train", str(tiny_dataset), *TINY, "--eval", str(tmp_path / "nope"),
             "--out", str(tmp_path / "run"))
    assert r.exit_code == 4 and "nope" in r.output
    assert "Epoch" not in r.output  # no training happened
    assert list(tmp_path.iterdir()) == []  # no run folder, no partial folder


def test_eval_folders_with_the_same_name_are_refused(tiny_dataset: Path, tmp_path: Path) -> None:
    twin = tmp_path / "x" / tiny_dataset.name
    shutil.copytree(tiny_dataset, twin)
    r = _run("train", str(tiny_dataset), *TINY, "--eval", str(tiny_dataset), "--eval", str(twin),
             "--out", str(tmp_path / "run"))
    assert r.exit_code == 2 and "share the name" in r.output


def test_an_earlier_run_is_kept_unless_overwrite(tiny_run: Path, tiny_dataset: Path,
                                                 tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "eval_old.json").write_text("{}")
    before = (run / "model.keras").read_bytes()
    r = _run("train", str(tiny_dataset), *TINY, "--out", str(run))
    assert r.exit_code == 2 and "--overwrite" in r.output
    assert (run / "model.keras").read_bytes() == before
    r = _run("train", str(tiny_dataset), *TINY, "--out", str(run), "--overwrite")
    assert r.exit_code == 0, r.output
    # replaced as a whole: nothing of the old run is left to be mistaken for the new one's
    assert not (run / "eval_old.json").exists() and (run / "summary.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_overwrite_only_replaces_run_folders(tiny_dataset: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "thesis.tex").write_text("months of work")
    r = _run("train", str(tiny_dataset), *TINY, "--out", str(notes), "--overwrite")
    assert r.exit_code == 2 and "not a run folder" in r.output
    assert (notes / "thesis.tex").read_text() == "months of work"


def test_out_that_is_a_file_is_one_line(tiny_dataset: Path, tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    for out in (f, f / "sub"):
        r = _run("train", str(tiny_dataset), *TINY, "--out", str(out))
        assert r.exit_code == 2 and "--out" in r.output, r.output


def test_manifest_without_path_column_names_the_file(tiny_dataset: Path, tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    shutil.copytree(tiny_dataset, ds)
    (ds / "MANIFEST.csv").write_text("file,source_repo\nA/x.png,alice\n")
    r = _run("train", str(ds), *TINY, "--out", str(tmp_path / "run"))
    assert r.exit_code == 4 and "MANIFEST.csv" in r.output and "path" in r.output
    (ds / "MANIFEST.csv").write_bytes(b"path,source_repo\nA/\xe9.png,alice\n")
    r = _run("train", str(ds), *TINY, "--out", str(tmp_path / "run"))
    assert r.exit_code == 4 and "MANIFEST.csv" in r.output
    (ds / "MANIFEST.csv").write_text("path,source_repo\n")  # every image silently one source
    r = _run("train", str(ds), *TINY, "--out", str(tmp_path / "run"))
    assert r.exit_code == 4 and "lists no images" in r.output


def test_garbage_backbone_weights_are_one_line(tiny_dataset: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all" * 100)
    r = _run("train", str(tiny_dataset), "--preset", "vgg16", "--input-size", "32",
             "--backbone-weights", str(junk), "--out", str(tmp_path / "run"))
    assert r.exit_code == 2 and "junk.h5" in r.output and "HDF5" in r.output


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, epochs: int) -> None:
    """Ctrl-C once `epochs` epochs have ended (0: during the first batch)."""
    import keras

    import fingerspell_train.fit as fit

    real = fit.hist_cb

    def hist_cb(hist):
        inner = real(hist)

        class Cb(keras.callbacks.Callback):
            def set_model(self, model):
                inner.set_model(model)

            def on_train_batch_begin(self, batch, logs=None):
                if epochs == 0:
                    raise KeyboardInterrupt

            def on_epoch_end(self, epoch, logs=None):
                inner.on_epoch_end(epoch, logs)
                if epoch + 1 == epochs:
                    raise KeyboardInterrupt

        return Cb()

    monkeypatch.setattr(fit, "hist_cb", hist_cb)


def test_ctrl_c_keeps_the_epochs_trained(tiny_dataset: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _interrupt_after(monkeypatch, 2)
    run = tmp_path / "run"
    r = _run("train", str(tiny_dataset), "--preset", "small-cnn", "--input-size", "32",
             "--epochs", "5", "--steps", "2", "--out", str(run))
    assert r.exit_code == 0, r.output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["interrupted"] == "after 2 epoch(s), by Ctrl-C" and summary["best_epoch"] in (1, 2)
    assert (run / "model.keras").is_file() and (run / "val_report.json").is_file()
    assert len(json.loads((run / "history.json").read_text())["loss"]) == 2


def test_ctrl_c_before_an_epoch_writes_nothing(tiny_dataset: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _interrupt_after(monkeypatch, 0)
    r = _run("train", str(tiny_dataset), *TINY, "--out", str(tmp_path / "run"))
    assert r.exit_code == 130 and "interrupted" in r.output
    assert list(tmp_path.iterdir()) == []


def test_evaluate_takes_a_run_folder_and_refuses_wrong_models(tiny_run: Path, tiny_dataset: Path,
                                                             tmp_path: Path) -> None:
    import keras

    r = _run("evaluate", str(tiny_run), str(tiny_dataset), "--out", str(tmp_path / "a"))
    assert r.exit_code == 0 and "accuracy" in r.output, r.output
    five = tmp_path / "five.keras"
    keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
                      keras.layers.Dense(5)]).save(five)
    r = _run("evaluate", str(five), str(tiny_dataset))
    assert r.exit_code == 3 and "5 outputs" in r.output
    r = _run("evaluate", str(tmp_path / "missing.keras"), str(tiny_dataset))
    assert r.exit_code == 3 and "no such model file" in r.output
    artifact = tmp_path / "mine-int8.onnx"
    artifact.write_bytes(b"an exported model")
    r = _run("evaluate", str(artifact), str(tiny_dataset))  # Keras's error, cut mid-word
    assert r.exit_code == 3 and "an exported artifact; evaluate takes a run's model.keras" in r.output
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    r = _run("evaluate", str(tiny_run), str(tiny_dataset), "--out", str(blocker))
    assert r.exit_code == 2 and "--out" in r.output


@pytest.mark.parametrize("bad", [["--calib-images", "0"], ["--parity-images", "-3"],
                                 ["--formats", ","], ["--stem", "../../escaped"]])
def test_nonsense_export_options_exit_2(bad: list[str], tiny_run: Path, tiny_dataset: Path,
                                        tmp_path: Path) -> None:
    r = _run("export", str(tiny_run / "model.keras"), "--calib", str(tiny_dataset), "--parity",
             str(tiny_dataset), "--out", str(tmp_path / "x"), *bad)
    named = "format" if bad[0] == "--formats" else bad[0]
    assert r.exit_code == 2 and named in r.output, r.output


def test_export_checks_its_image_folders_before_loading_the_model(tiny_run: Path,
                                                                 tiny_dataset: Path,
                                                                 tmp_path: Path) -> None:
    r = _run("export", str(tiny_run / "model.keras"), "--calib", str(tmp_path / "nope"),
             "--parity", str(tiny_dataset), "--out", str(tmp_path / "x"))
    assert r.exit_code == 4 and "nope" in r.output
    assert not (tmp_path / "x").exists()  # an empty --out folder used to be left behind
    junk = tmp_path / "junk"
    for c in ("A", "B"):  # class folders, but not one readable image
        (junk / c).mkdir(parents=True)
        (junk / c / "x.jpg").write_bytes(b"not a jpeg")
    r = _run("export", str(tiny_run / "model.keras"), "--calib", str(tiny_dataset), "--parity",
             str(junk), "--out", str(tmp_path / "x"), "--calib-images", "5", "--parity-images", "5")
    assert r.exit_code == 4 and "no readable image" in r.output
    assert not (tmp_path / "x").exists()


def test_export_refuses_an_unknown_float_layer(tiny_run: Path, tiny_dataset: Path,
                                               tmp_path: Path) -> None:
    r = _run("export", str(tiny_run / "model.keras"), "--calib", str(tiny_dataset), "--parity",
             str(tiny_dataset), "--out", str(tmp_path / "x"), "--formats", "onnx-int8",
             "--float-layer", "nolayer")
    assert r.exit_code == 3 and "nolayer" in r.output and "parity.txt" not in r.output


def test_ship_checks_everything_before_touching_dest(exported: Path, tiny_run: Path,
                                                     tiny_dataset: Path, tmp_path: Path) -> None:
    from fingerspell_export.ship import ShipError, ship

    dest = tmp_path / "artifacts"
    dest.mkdir()
    (dest / "MODEL_CARD.md").write_text("the card of the model shipped before")
    with pytest.raises(ShipError, match=r"config\.json"):
        ship(exported, tmp_path / "no-run", dest, tiny_dataset)
    from fingerspell.errors import DatasetError

    with pytest.raises(DatasetError):
        ship(exported, tiny_run, dest, tmp_path / "no-dev")
    assert sorted(p.name for p in dest.iterdir()) == ["MODEL_CARD.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifacts"]  # no staging left


def test_random_init_features_are_cached_per_seed(tmp_path: Path) -> None:
    """Random VGG weights are drawn from the seed: another seed must not reuse the features."""
    import keras

    from fingerspell_train.fit import Trainer, TrainOptions
    from fingerspell_train.presets import get_preset

    preset = get_preset("vgg16", input_size=32)
    descs = []
    for seed in (0, 1):
        keras.utils.set_random_seed(seed)
        opts = TrainOptions(roots=[], out_dir=tmp_path, backbone_weights=None, seed=seed)
        descs.append(Trainer(preset, opts).weights_desc)
    assert descs[0] != descs[1]


def test_a_root_given_twice_is_refused(tiny_dataset: Path, tmp_path: Path) -> None:
    r = _run("train", str(tiny_dataset), str(tiny_dataset), *TINY, "--out", str(tmp_path / "run"))
    assert r.exit_code == 2 and "twice" in r.output


def test_odd_folders_are_named_and_an_unreadable_eval_folder_keeps_the_run(
        tiny_dataset: Path, tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    shutil.copytree(tiny_dataset, ds)
    shutil.copytree(ds / "A", ds / "Spce")  # misspelt: not a class
    bad = tmp_path / "bad"
    for c in ("A", "B"):
        (bad / c).mkdir(parents=True)
        (bad / c / "x.jpg").write_bytes(b"not a jpeg")
    run = tmp_path / "run"
    r = _run("train", str(ds), *TINY, "--eval", str(bad), "--out", str(run))
    assert r.exit_code == 0, r.output
    assert "not named after a class: Spce (space?)" in r.output and "skipped --eval" in r.output
    assert (run / "model.keras").is_file() and not (run / "eval_bad.json").exists()


def test_a_truncated_cache_is_rebuilt_and_unreadable_images_are_named(
        tiny_dataset: Path, tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    shutil.copytree(tiny_dataset, ds)
    (ds / "A" / "broken.png").write_bytes(b"\x89PNG not really")
    cache = tmp_path / "cache"
    args = [str(ds), "--preset", "vgg16", "--backbone-weights", "none", "--input-size", "32",
            "--epochs", "1", "--steps", "2", "--cache-dir", str(cache)]
    r = _run("train", *args, "--out", str(tmp_path / "run1"))
    assert r.exit_code == 0, r.output
    assert "broken.png" in r.output
    summary = json.loads((tmp_path / "run1" / "summary.json").read_text())
    config = json.loads((tmp_path / "run1" / "config.json").read_text())
    # the split's counts took the broken image in, config.json's did not
    assert (summary["split"]["train"], summary["split"]["val"]) == (config["train_images"],
                                                                    config["val_images"])
    assert summary["unreadable"] == 1
    metas = list(cache.glob("*/meta.json"))
    assert metas
    for m in metas:
        m.write_text(m.read_text()[:7])  # a crash mid-write
    r = _run("train", *args, "--out", str(tmp_path / "run2"))
    assert r.exit_code == 0, r.output
    assert all(json.loads(m.read_text())["done"] > 0 for m in metas)


def test_the_best_epoch_is_counted_over_phases_and_ties_go_to_the_lower_loss() -> None:
    import keras
    import numpy as np

    from fingerspell_train.fit import KeepBest

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    keep = KeepBest(model)
    warmup, finetune = keep.callback(), keep.callback()  # one per fit(), as in training
    logs = [(warmup, 0.2, 12.7), (warmup, 0.2, 11.0), (finetune, 0.6, 7.0), (finetune, 0.6, 6.8),
            (finetune, 0.4, 6.0)]
    for epoch_in_phase, (cb, acc, loss) in zip([0, 1, 0, 1, 2], logs, strict=True):
        model.set_weights([np.full_like(w, loss) for w in model.get_weights()])
        cb.on_epoch_end(epoch_in_phase, {"val_accuracy": acc, "val_loss": loss})
    # keras numbers each phase from 1: the 4th epoch of the run was reported as epoch 2, and of
    # two epochs with the same accuracy the first was kept, whatever its loss
    assert keep.epoch == 4 and keep.seen == 5
    keep.restore()
    assert float(model.get_weights()[0].ravel()[0]) == pytest.approx(6.8)


def test_export_refuses_a_folder_holding_other_files(tiny_run: Path, tiny_dataset: Path,
                                                     tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    (notes / "parity.txt").write_text("an earlier export's")  # export's own names do not count
    r = _run("export", str(tiny_run / "model.keras"), "--calib", str(tiny_dataset), "--parity",
             str(tiny_dataset), "--out", str(notes))
    # it wrote its artifacts among the user's files, exit 0
    assert r.exit_code == 2 and "holds todo.txt, which export does not write" in r.output, r.output
    assert sorted(p.name for p in notes.iterdir()) == ["parity.txt", "todo.txt"]


def test_a_few_still_photos_are_told_about_the_gap(tiny_dataset: Path, tmp_path: Path) -> None:
    few = tmp_path / "few"
    for c in ("A", "B"):  # six photos of each letter, as a user takes them
        (few / c).mkdir(parents=True)
        for p in sorted((tiny_dataset / c).glob("*.jpg"))[:6]:
            shutil.copy(p, few / c / p.name)
    r = _run("train", str(few), *TINY, "--out", str(tmp_path / "run"))
    assert r.exit_code == 0, r.output
    # most photos were used by neither side, said only in the split's numbers
    assert "as neighbours of validation frames" in r.output and "--gap 0 keeps them" in r.output
    r = _run("train", str(few), *TINY, "--gap", "0", "--out", str(tmp_path / "run0"))
    assert r.exit_code == 0 and "neighbours of validation frames" not in r.output
