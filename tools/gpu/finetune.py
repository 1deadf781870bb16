"""Fine-tune all of VGG16 (13 convs + head) with PyTorch on a GPU, from `tools/gpu/pack.py`'s files.

The GPU machine has PyTorch and no TensorFlow, so this mirrors the Keras model exactly (RGB 0–255
in, mean subtracted, the 13 convs with RGB→BGR folded into conv1, NHWC flatten, BatchNorm,
dropout, Dense(29)) and writes its weights back for `tools/gpu/unpack.py`. Augmentation runs on
the GPU, a fresh draw every epoch, modelled on `fingerspell_train.augment`: a new background behind
masked hands, random resized crops, tilts, mirror images, colour jitter, blur, JPEG artefacts;
optionally MixStyle in the early blocks (`--mixstyle`), an exponential moving average of the
weights (`--ema`) and a head that predicts MediaPipe's view of the hand's pose (`--pose-aux`,
targets from `tools/gpu/pose.py`), all training-time only: the exported model is the same network.
The checkpoint kept is the best on the pack's leak-free validation split (never the dev set).
With `--resume` it checkpoints every epoch and a rerun of the same command goes on from there.

    python3 tools/gpu/finetune.py --pack .gpu --out OUT --budget 360
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pose import pack_key, stored_key
from torch import nn

MEAN_RGB = (123.68, 116.779, 103.939)  # VGG16's caffe mean, in the model's RGB input order
BLOCKS = ((1, 2, 3, 64), (2, 2, 64, 128), (3, 3, 128, 256), (4, 3, 256, 512), (5, 3, 512, 512))
NUM_CLASSES = 29
MIXSTYLE_BLOCKS = (1, 2)  # early blocks carry the "style" (light, skin, camera), later the shape


def mix_style(x: torch.Tensor, alpha: float = 0.1, eps: float = 1e-6) -> torch.Tensor:
    """MixStyle (Zhou et al., ICLR 2021): each image's per-channel mean and deviation replaced
    by a mix of its own and another image's, so the layers above learn the hand's shape under
    the look of other people, rooms and cameras. Identity at inference."""
    n = x.shape[0]
    xf = x.float()
    mu = xf.mean((2, 3), keepdim=True).detach()
    sig = (xf.var((2, 3), keepdim=True) + eps).sqrt().detach()
    a = torch.full((n, 1, 1, 1), alpha, device=x.device)
    lam = torch.distributions.Beta(a, a).sample()
    perm = torch.randperm(n, device=x.device)
    mu_mix = lam * mu + (1 - lam) * mu[perm]
    sig_mix = lam * sig + (1 - lam) * sig[perm]
    return ((xf - mu) / sig * sig_mix + mu_mix).to(x.dtype)


@torch.no_grad()
def ema_update(avg: nn.Module, model: nn.Module, decay: float) -> None:
    """avg ← decay·avg + (1 − decay)·model, weights and BatchNorm statistics alike."""
    for a, m in zip(avg.state_dict().values(), model.state_dict().values(), strict=True):
        if a.dtype.is_floating_point:
            a.lerp_(m, 1 - decay)
        else:
            a.copy_(m)


class VGG(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        convs = []
        for b, n, cin, cout in BLOCKS:
            for c in range(n):
                convs.append(nn.Conv2d(cin if c == 0 else cout, cout, 3, padding=1))
                self.names.append(f"block{b}_conv{c + 1}")
        self.convs = nn.ModuleList(convs)
        self.norm = nn.BatchNorm1d(4 * 4 * 512, eps=1e-3, momentum=0.01)  # Keras' defaults
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(4 * 4 * 512, NUM_CLASSES)
        self.register_buffer("mean", torch.tensor(MEAN_RGB).view(1, 3, 1, 1))
        self.mixstyle = 0.0  # chance, per block output below and per batch, of MixStyle (training)
        self.pose: nn.Linear | None = None  # training-only pose head (`add_pose_head`), never saved

    def add_pose_head(self, n_features: int) -> None:
        self.pose = nn.Linear(4 * 4 * 512, n_features)

    def forward(self, x: torch.Tensor, with_pose: bool = False) -> Any:
        """Logits; with `with_pose`, (logits, the pose head's output) from the same features."""
        x = x - self.mean
        i = 0
        for b, n, _, _ in BLOCKS:
            for _ in range(n):
                x = F.relu(self.convs[i](x))
                i += 1
            x = F.max_pool2d(x, 2)
            if self.training and b in MIXSTYLE_BLOCKS and float(torch.rand(())) < self.mixstyle:
                x = mix_style(x)
        x = x.permute(0, 2, 3, 1).flatten(1)  # Keras flattens height, width, channels
        h = self.norm(x.float())
        logits = self.fc(self.drop(h))
        if with_pose:
            assert self.pose is not None, "add_pose_head first"
            return logits, self.pose(h)
        return logits


def load_init(model: VGG, path: Path) -> None:
    w = np.load(path)
    for conv, name in zip(model.convs, model.names, strict=True):
        kernel = w[f"{name}/q"].astype(np.float32) * w[f"{name}/scale"]  # HWIO
        conv.weight.data = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
        conv.bias.data = torch.from_numpy(w[f"{name}/bias"])
    if "predictions/kernel" in w:  # a start model with a head; otherwise the head starts afresh
        set_head(model, w)


def set_head(model: VGG, w: Any) -> None:
    model.norm.weight.data = torch.from_numpy(w["head_norm/gamma"])
    model.norm.bias.data = torch.from_numpy(w["head_norm/beta"])
    model.norm.running_mean.data = torch.from_numpy(w["head_norm/mean"])
    model.norm.running_var.data = torch.from_numpy(w["head_norm/var"])
    model.fc.weight.data = torch.from_numpy(w["predictions/kernel"].T.copy())
    model.fc.bias.data = torch.from_numpy(w["predictions/bias"])


def load_saved(model: VGG, folder: Path) -> None:
    """Weights as `save_weights` wrote them (HWIO float16 convs, the head in float32)."""
    w = {**np.load(folder / "weights_a.npz"), **np.load(folder / "weights_b.npz")}
    for conv, name in zip(model.convs, model.names, strict=True):
        kernel = w[f"{name}/kernel"].astype(np.float32)
        conv.weight.data = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
        conv.bias.data = torch.from_numpy(w[f"{name}/bias"])
    set_head(model, w)


def save_weights(model: VGG, out: Path, meta: dict) -> None:
    """Two files under 16 MiB each: blocks 1–4 and block 5 + head (float16 convs, float32 head)."""
    parts: dict[str, dict[str, np.ndarray]] = {"weights_a.npz": {}, "weights_b.npz": {}}
    for conv, name in zip(model.convs, model.names, strict=True):
        part = parts["weights_b.npz" if name.startswith("block5") else "weights_a.npz"]
        part[f"{name}/kernel"] = conv.weight.detach().float().cpu().numpy().transpose(
            2, 3, 1, 0).astype(np.float16)
        part[f"{name}/bias"] = conv.bias.detach().float().cpu().numpy()
    head = parts["weights_b.npz"]
    head["head_norm/gamma"] = model.norm.weight.detach().cpu().numpy()
    head["head_norm/beta"] = model.norm.bias.detach().cpu().numpy()
    head["head_norm/mean"] = model.norm.running_mean.detach().cpu().numpy()
    head["head_norm/var"] = model.norm.running_var.detach().cpu().numpy()
    head["predictions/kernel"] = model.fc.weight.detach().cpu().numpy().T.copy()
    head["predictions/bias"] = model.fc.bias.detach().cpu().numpy()
    head["meta"] = np.array(json.dumps(meta))
    for name, arrays in parts.items():
        tmp = out / f"tmp-{name}"
        np.savez(tmp, **arrays)
        tmp.replace(out / name)


def _decode(chunk: list[bytes]) -> np.ndarray:
    from PIL import Image

    out = []
    for b in chunk:
        with Image.open(io.BytesIO(b)) as im:
            out.append(np.asarray(im.convert("RGBA"), np.uint8))
    return np.stack(out)


def decode_all(pack: dict, workers: int) -> np.ndarray:
    blob, off = pack["blob"], pack["offsets"]
    items = [blob[off[i]:off[i + 1]].tobytes() for i in range(len(off) - 1)]
    chunks = [items[i:i + 256] for i in range(0, len(items), 256)]
    with ProcessPoolExecutor(workers) as pool:
        return np.concatenate(list(pool.map(_decode, chunks)))


# ---- augmentation on the GPU (batch float NCHW, 0–255) ----

def backgrounds(n: int, h: int, w: int, dev: torch.device) -> torch.Tensor:
    """Scenes without a hand: dark, one colour, a gradient, or smooth blotches."""
    kind = torch.multinomial(torch.tensor([0.25, 0.25, 0.2, 0.3]), n, replacement=True).to(dev)
    dark = torch.randint(0, 30, (n, 3, 1, 1), device=dev).float().expand(n, 3, h, w)
    solid = torch.randint(0, 256, (n, 3, 1, 1), device=dev).float().expand(n, 3, h, w)
    a = torch.randint(0, 256, (n, 3, 1, 1), device=dev).float()
    b = torch.randint(0, 256, (n, 3, 1, 1), device=dev).float()
    ang = torch.rand(n, 1, 1, device=dev) * 2 * math.pi
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h, device=dev), torch.linspace(0, 1, w, device=dev),
                            indexing="ij")
    t = torch.cos(ang) * xx + torch.sin(ang) * yy
    lo = t.amin((1, 2), keepdim=True)
    t = (t - lo) / (t.amax((1, 2), keepdim=True) - lo).clamp_min(1e-6)
    grad = a + (b - a) * t[:, None]
    cells = int(torch.randint(2, 12, (1,)))
    low = torch.randint(0, 256, (n, 3, cells, cells), device=dev).float()
    blot = F.interpolate(low, size=(h, w), mode="bicubic", align_corners=False)
    blot = (blot + torch.randn_like(blot) * 8).clamp(0, 255)
    out = torch.stack([dark, solid, grad, blot], 1)  # n, 4, 3, h, w
    return out[torch.arange(n, device=dev), kind]


def augment(x: torch.Tensor, alpha: torch.Tensor, has_mask: torch.Tensor, cfg: dict) -> torch.Tensor:
    n, _, h, w = x.shape
    dev = x.device
    clean = torch.rand(n, device=dev) < cfg["clean"]
    # a new background behind masked hands
    swap = has_mask & (torch.rand(n, device=dev) < cfg["background"]) & ~clean
    if swap.any():
        idx = swap.nonzero().squeeze(1)
        bg = backgrounds(len(idx), h, w, dev)
        a = alpha[idx]
        x[idx] = x[idx] * a + bg * (1 - a)
    # random resized crop, tilt and mirror in one resampling
    area = torch.empty(n, device=dev).uniform_(*cfg["crop_scale"])
    logr = torch.empty(n, device=dev).uniform_(math.log(0.8), math.log(1.25))
    cw = torch.sqrt(area * logr.exp()).clamp(max=1)
    ch = torch.sqrt(area / logr.exp()).clamp(max=1)
    cx = (torch.rand(n, device=dev) * 2 - 1) * (1 - cw)
    cy = (torch.rand(n, device=dev) * 2 - 1) * (1 - ch)
    ang = torch.empty(n, device=dev).uniform_(-1, 1) * math.radians(cfg["rotate_deg"])
    flip = torch.where(torch.rand(n, device=dev) < cfg["hflip"], -1.0, 1.0)
    cw, ch, cx, cy, ang = (torch.where(clean, v0, v) for v, v0 in
                           ((cw, 1.0), (ch, 1.0), (cx, 0.0), (cy, 0.0), (ang, 0.0)))
    flip = torch.where(clean, 1.0, flip)
    cos, sin = torch.cos(ang), torch.sin(ang)
    theta = torch.stack([torch.stack([cw * cos * flip, -cw * sin, cx], 1),
                         torch.stack([ch * sin * flip, ch * cos, cy], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # brightness, contrast, saturation (PIL's order)
    c = cfg["color"]

    def jitter() -> torch.Tensor:
        f = torch.empty(n, 1, 1, 1, device=dev).uniform_(1 - c, 1 + c)
        return torch.where(clean.view(n, 1, 1, 1), 1.0, f)

    x = x * jitter()
    gray = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]
    x = gray.mean((2, 3), keepdim=True) + (x - gray.mean((2, 3), keepdim=True)) * jitter()
    gray = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]
    x = (gray + (x - gray) * jitter()).clamp(0, 255)
    grey = (torch.rand(n, device=dev) < cfg["gray"]) & ~clean
    if grey.any():  # skin colour and lighting vary; the hand's shape is what reads the letter
        g = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
        x = torch.where(grey.view(n, 1, 1, 1), g[:, None].expand_as(x), x)
    # slight blur: a per-image Gaussian (a delta kernel for the rest)
    blur = (torch.rand(n, device=dev) < cfg["blur"]) & ~clean
    if blur.any():
        sigma = torch.empty(n, 1, device=dev).uniform_(0.3, 1.2)
        r = torch.arange(-2, 3, device=dev).float()[None]
        k = torch.exp(-r**2 / (2 * sigma**2))
        k = k / k.sum(1, keepdim=True)
        k = torch.where(blur[:, None], k, (r == 0).float())
        k = k.repeat_interleave(3, 0)  # one kernel per channel of each image
        y = x.reshape(1, n * 3, h, w)
        y = F.conv2d(F.pad(y, (2, 2, 0, 0), mode="replicate"), k[:, None, None, :], groups=n * 3)
        y = F.conv2d(F.pad(y, (0, 0, 2, 2), mode="replicate"), k[:, None, :, None], groups=n * 3)
        x = y.reshape(n, 3, h, w)
    return jpeg(x, (torch.rand(n, device=dev) < cfg["jpeg"]) & ~clean)


_JPEG_OK = [True]


def jpeg(x: torch.Tensor, sel: torch.Tensor) -> torch.Tensor:
    """Low-quality JPEG round trip on the GPU (torchvision); sensor noise where that is missing."""
    if not sel.any():
        return x
    idx = sel.nonzero().squeeze(1)
    if _JPEG_OK[0]:
        try:
            from torchvision.io import decode_jpeg, encode_jpeg

            q = int(torch.randint(30, 75, (1,)))
            imgs = [t for t in x[idx].round().clamp(0, 255).to(torch.uint8)]
            enc = [e.cpu() for e in encode_jpeg(imgs, quality=q)]
            dec = decode_jpeg(enc, device=x.device)
            x[idx] = torch.stack(dec).float()
            return x
        except Exception as exc:  # any failure: fall back to noise for the rest of the run
            print(f"jpeg augmentation unavailable ({type(exc).__name__}: {exc}); using noise")
            _JPEG_OK[0] = False
    noise = torch.randn_like(x[idx]) * torch.empty(len(idx), 1, 1, 1, device=x.device).uniform_(2, 8)
    x[idx] = (x[idx] + noise).clamp(0, 255)
    return x


def sample_weights(labels: np.ndarray, sources: np.ndarray, source_power: float = 0.0) -> np.ndarray:
    """A loss weight per training image, mean 1: classes balanced by inverse frequency (as
    `fingerspell train --balance`); with source_power p > 0 each image also weighs
    count(its source)^-p before the classes are balanced, so that one big source (Kaggle's
    single signer) speaks less for the letters every source has (p = 1: sources equal)."""
    sw = np.ones(len(labels))
    if source_power:
        sw = np.bincount(sources)[sources].astype(np.float64) ** -source_power
    per_class = np.bincount(labels, weights=sw, minlength=NUM_CLASSES)
    present = per_class > 0
    cw = np.where(present, sw.sum() / np.where(present, per_class, 1.0) / present.sum(), 0.0)
    w = sw * cw[labels]
    return w / w.mean()


def load_pose(pack_dir: Path, pack_key: str, n: int, keep: np.ndarray,
              train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`tools/gpu/pose.py`'s targets for the images kept and whether each has one, standardised
    on the training images that do (so every feature weighs alike in the loss)."""
    path = pack_dir / "pose.npz"
    if not path.is_file():
        raise SystemExit(f"--pose-aux needs {path}: run tools/gpu/pose.py {pack_dir} "
                         "where fingerspell[hands] is installed")
    z = np.load(path)
    feat, ok = z["feat"].astype(np.float32), z["valid"].astype(bool)
    if stored_key(z) != pack_key:
        raise SystemExit(f"{path} was made for another pack ({len(ok)} images, this one {n}): "
                         f"run tools/gpu/pose.py {pack_dir} again")
    feat, ok = feat[keep], ok[keep]
    ref = feat[train][ok[train]]
    if len(ref) < 2:
        raise SystemExit(f"{path}: fewer than 2 training images have a pose")
    return (feat - ref.mean(0)) / (ref.std(0) + 1e-6), ok


def pose_loss(pred: torch.Tensor, target: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """Smooth L1 over the images that have a pose target (no sync: a batch without one gives 0)."""
    per = F.smooth_l1_loss(pred.float(), target, reduction="none").mean(1) * ok
    return per.sum() / ok.sum().clamp(min=1)


@torch.no_grad()
def evaluate(model: VGG, images: torch.Tensor, labels: torch.Tensor, bs: int,
             amp: bool | None = None) -> dict:
    model.eval()
    amp = images.is_cuda if amp is None else amp
    plain, tta, probs = [], [], []
    for i in range(0, len(images), bs):
        x = images[i:i + bs, :3].float().contiguous(memory_format=torch.channels_last)
        with torch.autocast(x.device.type, torch.bfloat16, enabled=amp):
            p = F.softmax(model(x).float(), 1)
            pf = F.softmax(model(torch.flip(x, (3,))).float(), 1)
        plain.append(p.argmax(1))
        tta.append(((p + pf) / 2).argmax(1))
        probs.append((p + pf) / 2)
    model.train()
    plain_t, tta_t = torch.cat(plain), torch.cat(tta)
    return {"acc": float((plain_t == labels).float().mean()),
            "acc_flip_tta": float((tta_t == labels).float().mean()), "pred_tta": tta_t,
            "probs_tta": torch.cat(probs)}


def save_if_best(epoch: int, best: float, trained: tuple[dict, VGG],
                 averaged: tuple[dict | None, VGG | None], out: Path, val_sources: list[str],
                 val_labels: np.ndarray) -> dict | None:
    """Save the better of the trained and averaged weights (a tie keeps the trained ones) if it
    beats `best` on validation with the mirror; return what was saved, or None."""
    kept, weights = trained
    if averaged[0] is not None and averaged[0]["acc_flip_tta"] > kept["acc_flip_tta"]:
        kept, weights = averaged
    if kept["acc_flip_tta"] <= best:
        return None
    right = kept["pred_tta"].cpu().numpy() == val_labels
    names = np.array(val_sources)
    per_source = {str(s): float(right[names == s].mean()) for s in np.unique(names)}
    meta = {"epoch": epoch, "val_acc": kept["acc"], "val_acc_flip_tta": kept["acc_flip_tta"],
            "val_per_source_flip_tta": per_source,
            "weights": "trained" if weights is trained[1] else "ema"}
    save_weights(weights, out, meta)
    return meta


# what must match for a checkpoint to continue a run (not: --workers, --eval-every, --stop-after)
RESUME_KEYS = ("pack", "budget", "max_epochs", "batch", "lr", "limit", "seed", "crop_min", "rotate",
               "gray", "mixup", "mixstyle", "ema", "source_power", "init_from", "cpu_bf16", "holdout",
               "pose_aux")
ABSENT_BEFORE = {"pose_aux": "0.0"}  # options newer than some checkpoints: their value then


def training_args(args: argparse.Namespace) -> dict[str, str]:
    return {k: str(getattr(args, k)) for k in RESUME_KEYS}


def save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_name(f"tmp-{path.name}")
    torch.save(state, tmp)
    tmp.replace(path)  # a run killed while writing keeps the previous checkpoint


def load_checkpoint(path: Path, args: argparse.Namespace) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=True)
    then = {**ABSENT_BEFORE, **state["args"]}
    differ = {k: (v, then.get(k)) for k, v in training_args(args).items() if then.get(k) != v}
    if differ:
        raise SystemExit(f"{path} belongs to another run; these options differ (now, then): "
                         f"{differ}. Use another --out, or delete the checkpoint to start afresh.")
    return state


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", type=Path, required=True, help="folder with pack.npz and init.npz")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--budget", type=float, default=360, help="seconds of training")
    ap.add_argument("--max-epochs", type=int, default=40)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-4, help="blocks 4–5; lower blocks get less")
    ap.add_argument("--limit", type=int, default=0, help="use only N images (a smoke test)")
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--crop-min", type=float, default=0.6,
                    help="smallest random crop, as a share of the image area")
    ap.add_argument("--rotate", type=float, default=12.0, help="largest tilt in degrees")
    ap.add_argument("--gray", type=float, default=0.0, help="share of images turned grey")
    ap.add_argument("--mixup", type=float, default=0.0,
                    help="share of batches mixed with a shuffled copy of themselves (Beta(0.4, 0.4))")
    ap.add_argument("--mixstyle", type=float, default=0.0,
                    help="chance of MixStyle after blocks 1 and 2, per batch (paper: 0.5)")
    ap.add_argument("--ema", type=float, default=0.0,
                    help="also keep an average of the weights with this decay (e.g. 0.999); each "
                         "epoch the better of the two on validation is the one kept")
    ap.add_argument("--source-power", type=float, default=0.0,
                    help="weigh each image by count(its source)^-P before balancing classes "
                         "(0: off, 1: every source equal, 0.5: in between)")
    ap.add_argument("--pose-aux", type=float, default=0.0,
                    help="weight of a training-only loss: predict the hand-pose features of "
                         "PACK/pose.npz (tools/gpu/pose.py) from the classifier's features")
    ap.add_argument("--init-from", type=Path, default=None,
                    help="start from the weights a run of this script saved (its --out folder) "
                         "instead of the pack's trunk and a fresh head")
    ap.add_argument("--eval-every", type=int, default=1,
                    help="score validation every K epochs (and after the last): on a CPU one "
                         "pass over it costs minutes")
    ap.add_argument("--cpu-bf16", action="store_true",
                    help="bfloat16 autocast on the CPU too (fast where the CPU has AMX or "
                         "AVX-512 BF16; on a GPU it is always on)")
    ap.add_argument("--resume", action="store_true",
                    help="save a checkpoint after every epoch (OUT/resume.pt) and, when one is "
                         "there, continue from it: the same command restarts a killed run")
    ap.add_argument("--stop-after", type=int, default=0,
                    help="stop cleanly after epoch K with the schedule unchanged (with --resume: "
                         "for a session that ends before the run does)")
    ap.add_argument("--holdout", action="append", default=[],
                    help="validate on this whole source instead of the block split (repeatable); "
                         "its images never train")
    args = ap.parse_args()
    if args.eval_every < 1:
        ap.error(f"--eval-every must be at least 1, not {args.eval_every}")
    if args.stop_after and not args.resume:
        ap.error("--stop-after needs --resume (otherwise the stopped run could not go on)")
    ckpt = args.out / "resume.pt"
    state = load_checkpoint(ckpt, args) if args.resume and ckpt.exists() else None
    if state is not None and state["finished"]:
        print(f"{args.out} finished already (epoch {state['epoch']} of {state['total_epochs']})")
        return
    t0 = time.time()
    torch.manual_seed(args.seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    args.out.mkdir(parents=True, exist_ok=True)

    pack = dict(np.load(args.pack / "pack.npz"))
    n = len(pack["label"])
    pack_fingerprint = pack_key(pack)  # before --limit rewrites the offsets
    keep = np.arange(n)
    if args.limit:
        keep = np.random.default_rng(0).permutation(n)[:args.limit]
        pack["offsets"] = np.concatenate([pack["offsets"][keep, None],
                                          pack["offsets"][keep + 1, None]], 1)
        pack["blob"] = np.concatenate([pack["blob"][a:b] for a, b in pack["offsets"]])
        pack["offsets"] = np.cumsum([0] + [b - a for a, b in pack["offsets"]])
    pixels = decode_all(pack, args.workers)  # N, H, W, 4
    labels = pack["label"][keep].astype(np.int64)
    is_val = pack["is_val"][keep]
    if args.holdout:  # whole sources replace the block split's validation frames
        names = [str(x) for x in pack["sources"]]
        missing = [h for h in args.holdout if h not in names]
        if missing:
            raise SystemExit(f"unknown source(s) {missing}; the pack has {names}")
        is_val = np.isin(pack["source"][keep], [names.index(h) for h in args.holdout])
    has_mask = pack["has_mask"][keep]
    source = pack["source"][keep]
    t_decode = time.time() - t0
    print(f"{len(labels)} images decoded in {t_decode:.1f} s on {dev} "
          f"({torch.cuda.get_device_name() if dev.type == 'cuda' else 'cpu'})", flush=True)

    images = torch.from_numpy(pixels).to(dev).permute(0, 3, 1, 2)  # uint8 N,4,H,W
    tr = np.flatnonzero(~is_val)
    va = np.flatnonzero(is_val)
    if len(tr) < 2 or len(va) == 0:
        raise SystemExit(f"{len(tr)} training and {len(va)} validation images: nothing to train on")
    val_x = images[torch.from_numpy(va).to(dev)]
    val_y = torch.from_numpy(labels[va]).to(dev)
    tr_idx = torch.from_numpy(tr).to(dev)
    y_all = torch.from_numpy(labels).to(dev)
    mask_all = torch.from_numpy(has_mask).to(dev)
    pose_t = pose_ok = None
    if args.pose_aux:
        feat, ok = load_pose(args.pack, pack_fingerprint, n, keep, tr)
        pose_t = torch.from_numpy(feat).to(dev)
        pose_ok = torch.from_numpy(ok).float().to(dev)
        print(f"pose targets for {int(ok[tr].sum())} of {len(tr)} training images", flush=True)
    loss_weight = torch.zeros(len(labels), dtype=torch.float32, device=dev)  # validation images: 0
    loss_weight[tr_idx] = torch.tensor(sample_weights(labels[tr], source[tr], args.source_power),
                                       dtype=torch.float32, device=dev)

    model = VGG()
    if args.init_from:
        load_saved(model, args.init_from)
    else:
        load_init(model, args.pack / "init.npz")
    if pose_t is not None:
        model.add_pose_head(pose_t.shape[1])
    model = model.to(dev).to(memory_format=torch.channels_last)
    model.mixstyle = args.mixstyle
    amp = dev.type == "cuda" or args.cpu_bf16
    avg = copy.deepcopy(model).requires_grad_(False) if args.ema else None
    block = {name: int(name[5]) for name in model.names}
    scale = {1: 0.2, 2: 0.2, 3: 0.5, 4: 1.0, 5: 1.0}
    groups = [{"params": list(c.parameters()), "lr_scale": scale[block[nm]]}
              for c, nm in zip(model.convs, model.names, strict=True)]
    head = [*model.norm.parameters(), *model.fc.parameters()]
    head += list(model.pose.parameters()) if model.pose is not None else []
    groups.append({"params": head, "lr_scale": 10.0})
    opt = torch.optim.AdamW(groups, lr=args.lr, weight_decay=1e-4)
    cfg = {"clean": 0.2, "background": 0.5, "crop_scale": (args.crop_min, 1.0),
           "rotate_deg": args.rotate, "hflip": 0.5, "color": 0.3, "gray": args.gray, "blur": 0.2,
           "jpeg": 0.3, "mixup": args.mixup, "mixstyle": args.mixstyle, "ema": args.ema,
           "source_power": args.source_power, "pose_aux": args.pose_aux,
           "init_from": str(args.init_from) if args.init_from else None}

    steps_per_epoch = max(1, len(tr) // args.batch)  # whole batches only (BatchNorm needs 2+)
    if state is None:
        start = evaluate(model, val_x, val_y, 512, amp)
        start = {k: start[k] for k in ("acc", "acc_flip_tta")}
        history: list[dict] = []
        best, best_meta, total_epochs, step, first, trained_before = -1.0, {}, args.max_epochs, 0, 1, 0.0
    else:  # everything the rest of the run depends on, random draws included
        model.load_state_dict(state["model"])
        if avg is not None:
            avg.load_state_dict(state["avg"])
        opt.load_state_dict(state["opt"])
        torch.set_rng_state(state["rng_cpu"])
        if dev.type == "cuda" and state["rng_cuda"] is not None:  # None: begun on a CPU
            torch.cuda.set_rng_state(state["rng_cuda"])
        start, history, best, best_meta = state["start"], state["history"], state["best"], state["best_meta"]
        total_epochs, step, first = state["total_epochs"], state["step"], state["epoch"] + 1
        trained_before = state["train_seconds"]
        print(f"resumed after epoch {state['epoch']} of {total_epochs} (step {step})", flush=True)
    print(f"start: val {start['acc']:.4f} (flip TTA {start['acc_flip_tta']:.4f})", flush=True)
    val_sources = [str(pack["sources"][s]) for s in source[va]]  # for the per-source figures
    t_train = time.time()
    for epoch in range(first, args.max_epochs + 1):
        if epoch > total_epochs:
            break
        te = time.time()
        perm = tr_idx[torch.randperm(len(tr_idx), device=dev)]
        run_loss, run_ok, seen = torch.zeros((), device=dev), torch.zeros((), device=dev), 0
        run_pose = torch.zeros((), device=dev)
        for i in range(steps_per_epoch):
            idx = perm[i * args.batch:(i + 1) * args.batch]
            raw = images[idx].float()
            x = augment(raw[:, :3].contiguous(), raw[:, 3:] / 255.0, mask_all[idx], cfg)
            y = y_all[idx]
            # warm-up over epoch 1, then cosine to zero over the epochs the budget allows
            if epoch == 1:
                f = 0.1 + 0.9 * i / steps_per_epoch
            else:
                done = (step - steps_per_epoch) / max(1, (total_epochs - 1) * steps_per_epoch)
                f = 0.5 * (1 + math.cos(math.pi * min(1.0, done)))
            for g in opt.param_groups:
                g["lr"] = args.lr * g["lr_scale"] * f
            # mixup: a blend of two hands teaches the model to hedge between them (for people
            # whose letters look like two of our signers' letters)
            lam = 1.0
            if cfg["mixup"] and float(torch.rand(())) < cfg["mixup"]:
                lam = float(torch.distributions.Beta(0.4, 0.4).sample())
                lam = max(lam, 1 - lam)  # the first image stays the main one
                other = torch.randperm(len(idx), device=dev)
                x = lam * x + (1 - lam) * x[other]
            with torch.autocast(dev.type, torch.bfloat16, enabled=amp):
                out = model(x.contiguous(memory_format=torch.channels_last), pose_t is not None)
            logits, pose_pred = out if pose_t is not None else (out, None)
            w = loss_weight[idx]
            per = F.cross_entropy(logits.float(), y, reduction="none", label_smoothing=0.1) * w
            if lam < 1.0:
                per = lam * per + (1 - lam) * F.cross_entropy(
                    logits.float(), y[other], reduction="none", label_smoothing=0.1) * w[other]
            loss = per.mean()
            if pose_pred is not None and lam == 1.0:  # a blend of two hands has no one pose
                aux = pose_loss(pose_pred, pose_t[idx], pose_ok[idx])
                loss = loss + args.pose_aux * aux
                run_pose += aux.detach() * len(idx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if avg is not None:  # a short memory at first, so the start weights fade quickly
                ema_update(avg, model, min(args.ema, (1 + step) / (10 + step)))
            run_loss += loss.detach() * len(idx)  # summed on the GPU: no sync per step
            run_ok += (logits.argmax(1) == y).sum()
            seen += len(idx)
        # the schedule is never shorter than 2 epochs, so epoch 1 is last only at --max-epochs 1
        due = epoch % args.eval_every == 0 or epoch >= total_epochs
        if due:
            ev = evaluate(model, val_x, val_y, 512, amp)
            ev_avg = evaluate(avg, val_x, val_y, 512, amp) if avg is not None else None
        t_epoch = time.time() - te  # scoring included, as the budget has to hold it too
        if epoch == 1:  # the budget decides how many epochs the cosine schedule spans
            total_epochs = max(2, min(args.max_epochs, int(args.budget // t_epoch)))
        if not due:
            print(json.dumps({"epoch": epoch, "seconds": round(t_epoch, 1),
                              "loss": float(run_loss) / seen}), flush=True)
        else:
            row = {"epoch": epoch, "loss": float(run_loss) / seen, "train_acc_aug": float(run_ok) / seen,
                   "val_acc": ev["acc"], "val_acc_flip_tta": ev["acc_flip_tta"],
                   "seconds": round(t_epoch, 1), "of_epochs": total_epochs}
            if pose_t is not None:
                row["pose_loss"] = float(run_pose) / seen
            if ev_avg is not None:
                row.update(val_acc_ema=ev_avg["acc"], val_acc_flip_tta_ema=ev_avg["acc_flip_tta"])
            history.append(row)
            print(json.dumps(row), flush=True)
            # the trained weights' answers at the latest scored epoch (no choice among epochs):
            # a held-out run's answers on people it never saw, for tools/fusion_fit.py
            np.savez_compressed(args.out / "val_probs.npz", index=keep[va].astype(np.int64),
                                probs=ev["probs_tta"].cpu().numpy(), epoch=epoch)
            meta = save_if_best(epoch, best, (ev, model), (ev_avg, avg), args.out, val_sources,
                                labels[va])
            if meta is not None:
                best, best_meta = meta["val_acc_flip_tta"], meta
            log = {"args": {k: str(v) for k, v in vars(args).items()}, "augment": cfg,
                   "device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu",
                   "torch": torch.__version__, "images": len(labels), "train": len(tr), "val": len(va),
                   "holdout": args.holdout,
                   "decode_seconds": round(t_decode, 1), "start": start,
                   "history": history, "best_val_acc_flip_tta": best, "best": best_meta,
                   "train_seconds": round(trained_before + time.time() - t_train, 1)}
            (args.out / "log.json").write_text(json.dumps(log, indent=1))
        if args.resume:
            save_checkpoint(ckpt, {
                "args": training_args(args), "epoch": epoch, "finished": epoch >= total_epochs,
                "total_epochs": total_epochs, "step": step, "model": model.state_dict(),
                "avg": avg.state_dict() if avg is not None else None, "opt": opt.state_dict(),
                "rng_cpu": torch.get_rng_state(),
                "rng_cuda": torch.cuda.get_rng_state() if dev.type == "cuda" else None,
                "start": start, "history": history, "best": best, "best_meta": best_meta,
                "train_seconds": trained_before + time.time() - t_train})
        if args.stop_after and epoch >= args.stop_after and epoch < total_epochs:
            print(f"stopped after epoch {epoch} of {total_epochs}; the same command with "
                  "--resume and without --stop-after goes on", flush=True)
            break
    print(f"done in {time.time() - t0:.0f} s; best val (flip TTA) {best:.4f}", flush=True)


if __name__ == "__main__":
    main()
