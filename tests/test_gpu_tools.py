"""tools/gpu: the pack that travels to a GPU machine, and the way its weights come back to Keras."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("tensorflow", reason="needs the train extra")

from fingerspell_train.backbone import CONV_NAMES as CONVS
from fingerspell_train.dataset import discover, mask_of
from fingerspell_train.split import make_split
from synth import make_dataset

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools" / "gpu"


def _run(script: str, *args: object) -> None:
    r = subprocess.run([sys.executable, str(TOOLS / script), *map(str, args)], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-3000:]


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    import keras

    from fingerspell_train.presets import build_vgg, get_preset

    tmp = tmp_path_factory.mktemp("gpu")
    data = make_dataset(tmp / "data", per_class=8, classes=("A", "B", "C"))
    masked = []
    for path in sorted((data / "A").iterdir())[:3]:  # hand masks for three images
        m = mask_of(path)
        m.parent.mkdir(parents=True, exist_ok=True)
        mask = np.zeros((48, 48), np.uint8)
        mask[8:40, 12:36] = 255
        Image.fromarray(mask).save(m)
        masked.append(str(path))
    keras.utils.set_random_seed(0)
    model = build_vgg(get_preset("vgg16-ft")).full
    model.save(tmp / "start.keras")
    out = tmp / "pack"
    _run("pack.py", data, "--start", tmp / "start.keras", "--out", out, "--gap", 1,
         "--workers", 1, "--thin", "bob:2")
    return {"tmp": tmp, "data": data, "model": model, "out": out, "masked": masked}


def test_pack_holds_every_image_the_split_and_the_masks(packed: dict) -> None:
    pack = np.load(packed["out"] / "pack.npz")
    samples = discover(packed["data"])
    split = make_split(samples, "block", 0.2, 1, seed=0)
    val = {str(s.path) for s in split.val}
    bob_train = [s for s in split.train if s.source == "bob"]
    expect = len(split.val) + len(split.train) - len(bob_train) + len(bob_train[::2])
    paths = [str(p) for p in pack["paths"]]
    assert len(paths) == expect == len(pack["label"]) == len(pack["offsets"]) - 1
    assert {p for p, v in zip(paths, pack["is_val"], strict=True) if v} == val  # thinning spares it
    masked = sorted(set(packed["masked"]) & set(paths))  # a split's gap may drop one
    assert masked and sorted(p for p, m in zip(paths, pack["has_mask"], strict=True) if m) == masked
    i = paths.index(masked[0])
    img = Image.open(io.BytesIO(pack["blob"][pack["offsets"][i]:pack["offsets"][i + 1]].tobytes()))
    rgba = np.asarray(img.convert("RGBA"))
    assert rgba.shape == (150, 150, 4)
    alpha = rgba[..., 3].astype(float)
    assert alpha[40:110, 50:100].mean() > 200 and alpha[:20].mean() < 50  # the mask, as alpha
    labels = {str(s.path): s.label for s in samples}
    assert [labels[p] for p in paths] == pack["label"].tolist()


def test_pack_start_weights_are_the_models_convs(packed: dict) -> None:
    init = np.load(packed["out"] / "init.npz")
    for name in CONVS:
        kernel, bias = packed["model"].get_layer(name).get_weights()
        scale = init[f"{name}/scale"]
        back = init[f"{name}/q"].astype(np.float32) * scale
        assert np.all(np.abs(back - kernel) <= scale / 2 + 1e-7), name
        np.testing.assert_array_equal(init[f"{name}/bias"], bias)


def _write_gpu_output(model: object, out: Path) -> None:
    """What finetune.py writes: HWIO float16 convs in two files, the head in the second, a log."""
    out.mkdir(parents=True, exist_ok=True)
    a: dict[str, np.ndarray] = {}
    b: dict[str, np.ndarray] = {}
    for name in CONVS:
        kernel, bias = model.get_layer(name).get_weights()  # type: ignore[attr-defined]
        part = b if name.startswith("block5") else a
        part[f"{name}/kernel"] = kernel.astype(np.float16)
        part[f"{name}/bias"] = bias
    gamma, beta, mean, var = model.get_layer("head_norm").get_weights()  # type: ignore[attr-defined]
    b.update({"head_norm/gamma": gamma, "head_norm/beta": beta, "head_norm/mean": mean,
              "head_norm/var": var})
    kernel, bias = model.get_layer("predictions").get_weights()  # type: ignore[attr-defined]
    b.update({"predictions/kernel": kernel, "predictions/bias": bias,
              "meta": np.array(json.dumps({"epoch": 1, "val_acc": 0.5, "val_acc_flip_tta": 0.5}))})
    np.savez(out / "weights_a.npz", **a)
    np.savez(out / "weights_b.npz", **b)
    log = {"device": "test", "torch": "none", "augment": {"background": 0.5},
           "args": {"batch": "8", "lr": "0.0001"}, "train_seconds": 1.0, "train": 10, "val": 5,
           "history": [{"loss": 1.0, "train_acc_aug": 0.5, "val_acc": 0.5}]}
    (out / "log.json").write_text(json.dumps(log))


def test_unpack_rebuilds_the_model_and_a_run_folder(packed: dict) -> None:
    import keras

    gpu_out = packed["tmp"] / "gpu_out"
    _write_gpu_output(packed["model"], gpu_out)
    run = packed["tmp"] / "run"
    _run("unpack.py", gpu_out, "--pack", packed["out"], "--out", run, "--eval", packed["data"],
         "--command", "test command")
    for name in ("model.keras", "config.json", "metadata.json", "summary.json", "val_report.json",
                 "eval_data.json", "curves.png", "gpu_log.json"):
        assert (run / name).is_file(), name
    back = keras.models.load_model(run / "model.keras")
    for name in CONVS:
        want = packed["model"].get_layer(name).get_weights()[0].astype(np.float16)
        np.testing.assert_array_equal(back.get_layer(name).get_weights()[0], want.astype(np.float32))
    x = np.random.default_rng(0).integers(0, 256, (4, 150, 150, 3)).astype(np.float32)
    np.testing.assert_allclose(back.predict(x, verbose=0), packed["model"].predict(x, verbose=0),
                               atol=2e-3)
    config = json.loads((run / "config.json").read_text())
    assert config["preset"]["trainable_from"] == "block1_conv1"
    assert config["command"] == "test command"
    assert config["split"]["method"] == "block" and config["class_counts"]["A"] == 8
    assert json.loads((run / "metadata.json").read_text())["labels"][0] == "A"


def test_unpack_can_snap_the_kernels_to_the_int8_grid(packed: dict) -> None:
    import keras

    from fingerspell_train.snap import snap_kernel

    gpu_out = packed["tmp"] / "gpu_out_snap"
    _write_gpu_output(packed["model"], gpu_out)
    run = packed["tmp"] / "run_snap"
    _run("unpack.py", gpu_out, "--pack", packed["out"], "--out", run, "--command", "t",
         "--snap-int8")
    assert json.loads((run / "summary.json").read_text())["snapped_int8"] == [*CONVS,
                                                                              "predictions"]
    back = keras.models.load_model(run / "model.keras")
    for name in (*CONVS, "predictions"):
        raw = packed["model"].get_layer(name).get_weights()[0]
        if name in CONVS:  # the GPU output carries the convs in float16
            raw = raw.astype(np.float16).astype(np.float32)
        got = back.get_layer(name).get_weights()[0]
        np.testing.assert_array_equal(got, snap_kernel(raw))
        assert not np.array_equal(got, raw)


def test_finetune_matches_keras_exactly(packed: dict) -> None:
    """Where PyTorch is installed: one real epoch on the CPU, and the weights it writes give the
    Keras model the same outputs as the PyTorch model (the layout contract, end to end)."""
    torch = pytest.importorskip("torch", reason="no PyTorch here (only tools/gpu/finetune.py uses it)")
    import keras

    out = packed["tmp"] / "ft"
    _run("finetune.py", "--pack", packed["out"], "--out", out, "--budget", 1, "--max-epochs", 1,
         "--batch", 4, "--workers", 1)
    run = packed["tmp"] / "ft_run"
    _run("unpack.py", out, "--pack", packed["out"], "--out", run, "--command", "t")
    sys.path.insert(0, str(TOOLS))
    import finetune

    model = finetune.VGG()
    finetune.load_saved(model, out)
    model.eval()
    x = np.random.default_rng(1).integers(0, 256, (4, 150, 150, 3)).astype(np.float32)
    with torch.no_grad():
        p_torch = torch.softmax(model(torch.from_numpy(x).permute(0, 3, 1, 2)), 1).numpy()
    p_keras = keras.models.load_model(run / "model.keras").predict(x, verbose=0)
    np.testing.assert_allclose(p_keras, p_torch, atol=1e-4)


def test_soup_is_the_weighted_mean_and_unpacks(packed: dict) -> None:
    """soup.py averages two runs array by array (float16 convs stay float16) and the result is a
    weights folder unpack.py takes like any GPU run."""
    one, two = packed["tmp"] / "soup_1", packed["tmp"] / "soup_2"
    _write_gpu_output(packed["model"], one)
    _write_gpu_output(packed["model"], two)
    b = dict(np.load(two / "weights_b.npz"))
    b["predictions/bias"] = b["predictions/bias"] + 3.0  # the second run differs in one array
    b["block5_conv3/kernel"] = (b["block5_conv3/kernel"].astype(np.float32) * 3).astype(np.float16)
    np.savez(two / "weights_b.npz", **b)
    soup = packed["tmp"] / "soup"
    _run("soup.py", one, two, "--weights", 3, 1, "--out", soup)
    got = dict(np.load(soup / "weights_b.npz"))
    first = dict(np.load(one / "weights_b.npz"))
    np.testing.assert_allclose(got["predictions/bias"], first["predictions/bias"] + 0.75, atol=1e-6)
    assert got["block5_conv3/kernel"].dtype == np.float16
    want = (0.75 * first["block5_conv3/kernel"].astype(np.float32)
            + 0.25 * b["block5_conv3/kernel"].astype(np.float32)).astype(np.float16)
    np.testing.assert_array_equal(got["block5_conv3/kernel"], want)
    for name in ("weights_a.npz",):  # untouched arrays come back unchanged
        a_got, a_one = np.load(soup / name), np.load(one / name)
        for k in a_one.files:
            np.testing.assert_array_equal(a_got[k], a_one[k])
    meta = json.loads(str(got["meta"]))
    assert meta["soup"]["weights"] == [3.0, 1.0] and meta["epoch"] is None
    run = packed["tmp"] / "soup_run"
    _run("unpack.py", soup, "--pack", packed["out"], "--out", run, "--command", "soup test")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["soup"]["runs"] == [str(one), str(two)] and summary["gpu_val_acc"] is None
    try:  # where PyTorch is installed: --score puts the soup's validation accuracy in its meta
        import torch  # noqa: F401
    except ImportError:
        return
    _run("soup.py", one, two, "--out", soup, "--score", packed["out"])
    meta = json.loads(str(np.load(soup / "weights_b.npz")["meta"]))
    assert 0.0 <= meta["val_acc"] <= 1.0 and 0.0 <= meta["val_acc_flip_tta"] <= 1.0


def test_dequantize_gives_back_the_weights_the_int8_onnx_holds(packed: dict) -> None:
    """dequantize.py turns an int8 ONNX of vgg16-ft (flip TTA inside, block5 and the head in
    float from int8 weights, as shipped) back into a weights folder: every kernel on the int8 grid
    of the trained one, the head's batch norm as the same scale and shift; unpack.py takes it and
    the Keras model it makes reads like the trained one with its kernels snapped."""
    import keras

    from fingerspell_export.exporter import ExportOptions, export
    from fingerspell_train.snap import snap_int8

    rng = np.random.default_rng(1)
    model = keras.models.clone_model(packed["model"])
    model.set_weights(packed["model"].get_weights())
    for name in CONVS[1:]:  # biases that the int8 layers quantize to int32 (block1_conv1's: none)
        layer = model.get_layer(name)
        kernel, bias = layer.get_weights()
        layer.set_weights([kernel, rng.normal(0, 0.1, bias.shape).astype(np.float32)])
    dense = model.get_layer("predictions")
    dense.set_weights([dense.get_weights()[0], rng.normal(0, 0.1, 29).astype(np.float32)])
    norm = model.get_layer("head_norm")
    width = norm.get_weights()[0].shape[0]
    # a head that learned something: moving statistics and scales far from the fresh 0 and 1
    norm.set_weights([rng.uniform(0.5, 2, width), rng.normal(0, 0.5, width),
                      rng.normal(0, 1, width), rng.uniform(0.2, 3, width)])
    _write_gpu_output(model, packed["tmp"] / "deq_trained")
    source = packed["tmp"] / "deq_source"  # a run folder, as export takes
    _run("unpack.py", packed["tmp"] / "deq_trained", "--pack", packed["out"], "--out", source,
         "--command", "t")
    model = keras.models.load_model(source / "model.keras")
    norm = model.get_layer("head_norm")
    out = packed["tmp"] / "deq_export"
    export(source / "model.keras", ExportOptions(out_dir=out, calib_dirs=[packed["data"]],
                                 parity_dirs=[packed["data"]], formats=("onnx-fp32", "onnx-int8"),
                                 calib_images=12, parity_images=12, allow_low_agreement=True,
                                 float_from="block5_conv1", tta="flip", stem="d"))
    weights = packed["tmp"] / "deq_weights"
    _run("dequantize.py", out / "d-int8.onnx", "--out", weights)
    got = {**np.load(weights / "weights_a.npz"), **np.load(weights / "weights_b.npz")}
    assert json.loads(str(got["meta"]))["weights"] == "dequantized"
    for name in (*CONVS, "predictions"):
        kernel, bias = model.get_layer(name).get_weights()
        step = np.abs(kernel).reshape(-1, kernel.shape[-1]).max(axis=0) / 127
        back = got[f"{name}/kernel"]
        assert back.shape == kernel.shape
        assert np.abs(back - kernel).max(axis=tuple(range(back.ndim - 1))).tolist() <= (
            step * 0.5001).tolist(), name  # the nearest point of each channel's grid ...
        assert np.abs(back / step - np.round(back / step)).max() < 1e-3, name  # ... on it
        assert np.abs(back - kernel).max() > 0.01 * step.max(), name  # (and rounded, not float)
        # an int8 layer's bias is stored in int32 steps of its input's scale times the kernel's
        np.testing.assert_allclose(got[f"{name}/bias"], bias, atol=1e-3, err_msg=name)
    gamma, beta, mean, var = norm.get_weights()
    scale = gamma / np.sqrt(var + 1e-3)
    x = rng.normal(0, 1, (5, width)).astype(np.float32)
    back = x * got["head_norm/gamma"] / np.sqrt(got["head_norm/var"] + 1e-3) + got["head_norm/beta"]
    np.testing.assert_allclose(back, x * scale + beta - mean * scale, rtol=1e-4, atol=1e-4)

    run = packed["tmp"] / "deq_run"
    _run("unpack.py", weights, "--pack", packed["out"], "--out", run, "--command", "t",
         "--snap-int8")
    unpacked = keras.models.load_model(run / "model.keras")
    assert snap_int8(model)
    pixels = rng.integers(0, 256, (4, 150, 150, 3)).astype(np.float32)
    # the same within the int32 rounding of the biases (and a kernel weight or two on a tie)
    want = model.predict(pixels, verbose=0)
    np.testing.assert_allclose(unpacked.predict(pixels, verbose=0), want, atol=1e-3)
