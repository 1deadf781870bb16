"""tools/gpu/finetune.py's training-only options (MixStyle, the weight average, source weights):
they change how the network learns, never what it computes at inference. Needs PyTorch, which
the GPU machine has and the project's venvs do not: skipped there (any venv with torch, numpy,
Pillow and pytest runs it)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch", reason="no PyTorch here (only tools/gpu/finetune.py uses it)")

TOOLS = Path(__file__).resolve().parents[1] / "tools" / "gpu"
sys.path.insert(0, str(TOOLS))
import finetune  # noqa: E402
import pose  # noqa: E402


def test_mixstyle_mixes_channel_statistics_between_images() -> None:
    torch.manual_seed(0)
    a = torch.randn(1, 8, 6, 6) * 3 + 5
    b = torch.randn(1, 8, 6, 6) * 0.5 - 2
    out = finetune.mix_style(torch.cat([a, b]))
    assert out.shape == (2, 8, 6, 6)
    mu_in = torch.cat([a, b]).mean((2, 3))
    mu_out = out.mean((2, 3))
    lo, hi = mu_in.min(0).values - 1e-4, mu_in.max(0).values + 1e-4
    assert ((mu_out >= lo) & (mu_out <= hi)).all()  # a convex mix of the two images' means
    same = a.repeat(4, 1, 1, 1)  # nothing to mix with: unchanged
    torch.testing.assert_close(finetune.mix_style(same), same, atol=1e-4, rtol=1e-4)


def test_mixstyle_acts_in_training_only() -> None:
    torch.manual_seed(0)
    model = finetune.VGG()
    model.drop.p = 0.0  # so that only MixStyle can make two training passes differ
    # four images with different brightness and contrast, so there is a style to mix
    x = torch.rand(4, 3, 150, 150) * torch.tensor([20.0, 60, 120, 250]).view(4, 1, 1, 1)
    model.eval()
    with torch.no_grad():
        plain = model(x)
        model.mixstyle = 1.0
        torch.testing.assert_close(model(x), plain, atol=0, rtol=0)
        model.train()
        mixed = model(x)
        model.mixstyle = 0.0
        unmixed = model(x)
    assert not torch.allclose(mixed, unmixed, atol=1e-3)


def test_weight_average_follows_the_decay() -> None:
    model, avg = finetune.VGG(), finetune.VGG()
    model.norm.num_batches_tracked.fill_(7)
    before = avg.fc.weight.detach().clone()
    finetune.ema_update(avg, model, 0.75)
    torch.testing.assert_close(avg.fc.weight, 0.75 * before + 0.25 * model.fc.weight.detach())
    assert int(avg.norm.num_batches_tracked) == 7  # counters are copied, not averaged


def test_sample_weights_balance_classes_and_optionally_sources() -> None:
    # source 0 (one big signer) has A, B and C; source 1 has A and B only, four times fewer
    labels = np.array([0] * 40 + [1] * 40 + [2] * 20 + [0] * 10 + [1] * 10)
    sources = np.array([0] * 100 + [1] * 20)
    plain = finetune.sample_weights(labels, sources)
    counts = np.bincount(labels)  # power 0 is plain inverse class frequency, mean 1
    np.testing.assert_allclose(plain, (len(labels) / counts / 3)[labels])
    for power in (0.0, 0.5, 1.0):
        w = finetune.sample_weights(labels, sources, power)
        assert w.mean() == pytest.approx(1.0)
        per_class = np.bincount(labels, weights=w)
        np.testing.assert_allclose(per_class, per_class[0])  # classes still weigh the same
        # within a class, an image of the small source outweighs one of the big source 5^power
        assert w[100] / w[0] == pytest.approx(5.0**power)


def _tiny_pack(folder: Path) -> None:
    """A pack of 24 noise images in three classes (the layout `tools/gpu/pack.py` writes)."""
    rng = np.random.default_rng(0)
    blobs, labels = [], []
    for i in range(24):
        buf = io.BytesIO()
        rgba = rng.integers(0, 256, (150, 150, 4), dtype=np.uint8)
        rgba[..., 3] = 255
        Image.fromarray(rgba, "RGBA").save(buf, "WEBP", quality=80)
        blobs.append(np.frombuffer(buf.getvalue(), np.uint8))
        labels.append(i % 3)
    offsets = np.cumsum([0] + [len(b) for b in blobs])
    folder.mkdir()
    np.savez(folder / "pack.npz", blob=np.concatenate(blobs), offsets=offsets,
             label=np.array(labels, np.int16), source=np.zeros(24, np.int16),
             is_val=np.arange(24) >= 18, has_mask=np.zeros(24, bool), sources=np.array(["s"]),
             paths=np.array([f"x/{i}.jpg" for i in range(24)]))
    init = {}
    for b, n, cin, cout in finetune.BLOCKS:
        for c in range(n):
            name = f"block{b}_conv{c + 1}"
            fan_in = (cin if c == 0 else cout)
            init[f"{name}/q"] = rng.integers(-127, 128, (3, 3, fan_in, cout)).astype(np.int8)
            init[f"{name}/scale"] = np.full(cout, 0.01 / np.sqrt(fan_in), np.float32)
            init[f"{name}/bias"] = np.zeros(cout, np.float32)
    np.savez(folder / "init.npz", **init)


def test_finetune_runs_with_the_options_and_says_which_weights_it_kept(tmp_path: Path) -> None:
    _tiny_pack(tmp_path / "pack")
    out = tmp_path / "out"
    args = ["--pack", tmp_path / "pack",
            "--out", out, "--budget", 100, "--max-epochs", 2, "--batch", 6,
            "--workers", 1, "--mixstyle", 0.5, "--ema", 0.9, "--source-power", 0.5]
    r = subprocess.run([sys.executable, str(TOOLS / "finetune.py"), *map(str, args)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-3000:]
    log = json.loads((out / "log.json").read_text())
    assert log["augment"]["mixstyle"] == 0.5 and log["augment"]["ema"] == 0.9
    assert log["augment"]["source_power"] == 0.5
    assert all("val_acc_flip_tta_ema" in row for row in log["history"])
    meta = json.loads(str(np.load(out / "weights_b.npz")["meta"]))
    assert meta["weights"] in ("ema", "trained")
    kept = max(max(h["val_acc_flip_tta"], h["val_acc_flip_tta_ema"]) for h in log["history"])
    assert meta["val_acc_flip_tta"] == pytest.approx(kept)


def test_held_out_run_writes_the_last_scored_epochs_answers(tmp_path: Path) -> None:
    """val_probs.npz: each held-out image's pack row and mirror-averaged probabilities at the last
    scored epoch (what tools/fusion_fit.py reads), matching the log's accuracy of that epoch."""
    _tiny_pack(tmp_path / "pack")
    pack = dict(np.load(tmp_path / "pack" / "pack.npz"))
    pack["source"] = (np.arange(24) % 2).astype(np.int16)  # two sources; hold the second out
    pack["sources"] = np.array(["a", "b"])
    np.savez(tmp_path / "pack" / "pack.npz", **pack)
    out = tmp_path / "out"
    r = _finetune("--pack", tmp_path / "pack", "--out", out, "--budget", 100, "--max-epochs", 2,
                  "--batch", 6, "--workers", 1, "--holdout", "b")
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-3000:]
    got = np.load(out / "val_probs.npz")
    np.testing.assert_array_equal(got["index"], np.flatnonzero(pack["source"] == 1))
    assert got["probs"].shape == (12, 29) and int(got["epoch"]) == 2
    np.testing.assert_allclose(got["probs"].sum(1), 1.0, atol=1e-3)
    last = json.loads((out / "log.json").read_text())["history"][-1]
    right = got["probs"].argmax(1) == pack["label"][got["index"]]
    assert last["epoch"] == 2 and float(right.mean()) == pytest.approx(last["val_acc_flip_tta"])


def test_saved_weights_load_back_as_the_start_of_another_run(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = finetune.VGG()
    model.norm.running_mean.normal_()
    finetune.save_weights(model, tmp_path, {"epoch": 1})
    again = finetune.VGG()
    finetune.load_saved(again, tmp_path)
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        if a.dtype.is_floating_point:  # the convs travel as float16, the head as float32
            torch.testing.assert_close(b, a, atol=2e-3, rtol=1e-3)


def test_finetune_continues_a_run_and_scores_every_kth_epoch(tmp_path: Path) -> None:
    _tiny_pack(tmp_path / "pack")
    first, second = tmp_path / "first", tmp_path / "second"
    common = ["--pack", tmp_path / "pack", "--budget", 100, "--batch", 6, "--workers", 1]
    for out, extra in ((first, ["--max-epochs", 1]),
                       (second, ["--max-epochs", 3, "--init-from", first, "--eval-every", 2,
                                 "--cpu-bf16"])):
        r = subprocess.run([sys.executable, str(TOOLS / "finetune.py"), "--out", str(out),
                            *map(str, common + extra)], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-3000:]
    log = json.loads((second / "log.json").read_text())
    assert log["augment"]["init_from"] == str(first)
    assert [row["epoch"] for row in log["history"]] == [2, 3]  # every 2nd, and the last
    # it starts where the first run ended: its start score is the first run's saved weights'
    pack = dict(np.load(tmp_path / "pack" / "pack.npz"))
    images = torch.from_numpy(finetune.decode_all(pack, 1)).permute(0, 3, 1, 2)
    val = torch.from_numpy(pack["is_val"])
    model = finetune.VGG()
    finetune.load_saved(model, first)
    model = model.to(memory_format=torch.channels_last)
    ev = finetune.evaluate(model, images[val], torch.from_numpy(pack["label"][pack["is_val"]])
                           .long(), 512, amp=True)
    assert log["start"] == {"acc": ev["acc"], "acc_flip_tta": ev["acc_flip_tta"]}


def _finetune(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOLS / "finetune.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=600)


def test_a_stopped_run_resumes_to_the_same_weights_as_an_unbroken_one(tmp_path: Path) -> None:
    _tiny_pack(tmp_path / "pack")
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    common = ["--pack", tmp_path / "pack", "--budget", 100000, "--max-epochs", 3, "--batch", 6,
              "--workers", 1, "--mixstyle", 0.5, "--ema", 0.9, "--resume"]
    r = _finetune("--out", whole, *common)
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-3000:]
    r = _finetune("--out", broken, *common, "--stop-after", 1)
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-3000:]
    assert "stopped after epoch 1 of 3" in r.stdout
    assert [h["epoch"] for h in json.loads((broken / "log.json").read_text())["history"]] == [1]
    r = _finetune("--out", broken, *common)
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-3000:]
    assert "resumed after epoch 1 of 3" in r.stdout
    logs = [json.loads((out / "log.json").read_text()) for out in (whole, broken)]
    for key in ("loss", "val_acc", "val_acc_flip_tta", "val_acc_ema"):  # the same draws, in order
        assert [h[key] for h in logs[0]["history"]] == [h[key] for h in logs[1]["history"]]
    assert logs[0]["start"] == logs[1]["start"]
    for part in ("weights_a.npz", "weights_b.npz"):
        a, b = np.load(whole / part), np.load(broken / part)
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"{part}:{k}")
    # a finished run is left alone; a checkpoint of other options is refused, not mixed in
    r = _finetune("--out", broken, *common)
    assert r.returncode == 0 and "finished already" in r.stdout
    r = _finetune("--out", broken, *common[:-1], "--lr", 1e-3, "--resume")
    assert r.returncode != 0 and "belongs to another run" in r.stderr and "'lr'" in r.stderr
    assert "Traceback" not in r.stderr


def test_stop_after_without_resume_is_a_usage_error(tmp_path: Path) -> None:
    r = _finetune("--pack", tmp_path, "--out", tmp_path / "out", "--stop-after", 1)
    assert r.returncode == 2 and "--stop-after needs --resume" in r.stderr


def test_pose_head_trains_beside_the_classifier_and_is_never_saved(tmp_path: Path) -> None:
    _tiny_pack(tmp_path / "pack")
    rng = np.random.default_rng(1)
    valid = np.arange(24) % 4 != 0  # a quarter of the images without a hand found
    key = pose.pack_key(np.load(tmp_path / "pack" / "pack.npz"))
    np.savez(tmp_path / "pack" / "pose.npz", feat=rng.normal(size=(24, 24)).astype(np.float16),
             valid=valid, pack_key=key)
    out = tmp_path / "out"
    r = _finetune("--pack", tmp_path / "pack", "--out", out, "--budget", 100, "--max-epochs", 2,
                  "--batch", 6, "--workers", 1, "--pose-aux", 1.0)
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-3000:]
    assert "pose targets for 13 of 18 training images" in r.stdout
    log = json.loads((out / "log.json").read_text())
    assert log["augment"]["pose_aux"] == 1.0
    assert all(row["pose_loss"] > 0 for row in log["history"])
    # the saved weights are the exported network's alone: they load into a VGG without the head
    model = finetune.VGG()
    finetune.load_saved(model, out)
    saved = {**np.load(out / "weights_a.npz"), **np.load(out / "weights_b.npz")}
    assert not any("pose" in k for k in saved)
    # targets made for another pack, or none: a one-line reason, not a traceback
    np.savez(tmp_path / "pack" / "pose.npz", feat=np.zeros((24, 24), np.float16), valid=valid,
             pack_key="0123456789abcdef")
    for missing in (False, True):
        if missing:
            (tmp_path / "pack" / "pose.npz").unlink()
        r = _finetune("--pack", tmp_path / "pack", "--out", tmp_path / "again", "--max-epochs", 1,
                      "--batch", 6, "--workers", 1, "--pose-aux", 1.0)
        assert r.returncode != 0 and "tools/gpu/pose.py" in r.stderr
        assert "Traceback" not in r.stderr


def test_pose_head_reads_the_classifier_features_in_training_and_eval() -> None:
    torch.manual_seed(0)
    model = finetune.VGG()
    model.add_pose_head(24)
    model.eval()
    x = torch.rand(2, 3, 150, 150) * 255
    with torch.no_grad():
        logits, pose_out = model(x, with_pose=True)
        torch.testing.assert_close(model(x), logits)  # the pose head changes no answer
    assert pose_out.shape == (2, 24)
