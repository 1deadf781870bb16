"""Run the frozen lower part of a model once per image and keep the activations on disk.

Featurising is the expensive step (frozen VGG16 runs ~10 images/s on two cores); everything above
the cut then trains in minutes. The cache is keyed by the images' bytes and labels (and their hand
masks where the augmentation uses them), the backbone weights, the preprocessing, the cut layer,
the input size and the augmentation view, so a change to any of them makes a new entry; a copy of
the data at another path or with other mtimes (the shared data is copied anew for every machine)
finds its entry. It is resumable: progress is flushed every chunk, and an
interrupted run continues where it stopped. Delete the folder to rebuild it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from fingerspell.errors import InputError
from fingerspell.imaging import open_image, resize_to_input
from fingerspell_train.augment import AugmentConfig, augment
from fingerspell_train.dataset import Sample, mask_of

CACHE_FORMAT = 2  # 1: keyed by path, size and mtime (entries are moved to the format 2 key)
CHUNK = 128


def default_cache_dir() -> Path:
    env = os.environ.get("FINGERSPELL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "fingerspell" / "features"


def load_pixels(sample_path: Path, size: int, view: int = 0, index: int = 0,
                aug: AugmentConfig | None = None) -> np.ndarray | None:
    """Decoded, optionally augmented, resized pixels; None when the file cannot be read."""
    try:
        img = open_image(sample_path, str(sample_path))
    except InputError:
        return None
    if view > 0 and aug is not None:
        mask = _open_mask(sample_path) if aug.background else None
        img = augment(img, np.random.default_rng([aug.seed, view, index]), aug, mask)
    return np.asarray(resize_to_input(img, (size, size)), dtype=np.uint8)


def _open_mask(sample_path: Path) -> Any:
    """The hand mask written by tools/mask_dataset.py for this image, or None."""
    from PIL import Image

    path = mask_of(sample_path)
    try:
        with Image.open(path) as m:
            return m.convert("L")
    except (OSError, ValueError):  # no mask (or a broken one): the image keeps its background
        return None


_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """blake2b of a file's bytes ('-' when absent), remembered per (path, size, mtime)."""
    try:
        st = path.stat()
    except OSError:
        return "-"
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        try:
            with path.open("rb") as fh:
                _DIGESTS[key] = hashlib.file_digest(fh, "blake2b").hexdigest()[:32]
        except OSError:  # unreadable: the loader skips and counts it like a broken image
            return "-"
    return _DIGESTS[key]


def cache_key(samples: list[Sample], spec: dict[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"format": CACHE_FORMAT, **spec}, sort_keys=True).encode())
    masks = bool((spec.get("augment") or {}).get("background"))
    for s in samples:
        mask = f"|{file_digest(mask_of(s.path))}" if masks else ""
        h.update(f"{file_digest(s.path)}|{s.label}{mask}\n".encode())
    return h.hexdigest()[:24]


def legacy_cache_key(samples: list[Sample], spec: dict[str, Any]) -> str:
    """The format 1 key, so entries built before format 2 are found and moved, not rebuilt."""
    h = hashlib.sha256()
    h.update(json.dumps({"format": 1, **spec}, sort_keys=True).encode())
    for s in samples:
        st = s.path.stat()
        h.update(f"{s.path.resolve()}|{st.st_size}|{int(st.st_mtime)}|{s.label}\n".encode())
    return h.hexdigest()[:24]


class FeatureCache:
    """Activations of `lower` for a list of samples, one entry per (data, spec, view)."""

    def __init__(self, cache_dir: Path, samples: list[Sample], spec: dict[str, Any],
                 feature_shape: tuple[int, ...]) -> None:
        self.samples = samples
        self.spec = spec
        self.feature_shape = tuple(int(d) for d in feature_shape)
        self.dir = cache_dir / cache_key(samples, spec)
        if not self.dir.exists():  # the old key costs a stat of every file: only when needed
            legacy = cache_dir / legacy_cache_key(samples, spec)
            if legacy.is_dir():
                legacy.rename(self.dir)
        self.meta_path = self.dir / "meta.json"
        self.data_path = self.dir / "features.npy"

    def _meta(self) -> dict[str, Any]:
        try:
            meta = json.loads(self.meta_path.read_text())
            if meta.get("n") == len(self.samples) and tuple(meta["shape"]) == self.feature_shape:
                return meta
        except (OSError, ValueError, KeyError, TypeError):  # absent, or cut short by a crash
            pass
        return {"n": len(self.samples), "shape": list(self.feature_shape), "done": 0, "bad": [],
                "spec": self.spec}

    @property
    def complete(self) -> bool:
        return self._meta()["done"] >= len(self.samples) and self.data_path.is_file()

    def build(self, lower: Any, size: int, view: int = 0, aug: AugmentConfig | None = None,
              workers: int = 4, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Fill the cache (resuming) and return (features float16 [N, ...], ok mask [N])."""
        self.dir.mkdir(parents=True, exist_ok=True)
        meta = self._meta()
        n = len(self.samples)
        shape = (n, *self.feature_shape)
        if meta["done"] > 0 and self.data_path.is_file():
            feats = np.load(self.data_path, mmap_mode="r+")
        else:
            feats = np.lib.format.open_memmap(self.data_path, mode="w+", dtype=np.float16,
                                              shape=shape)
        bad = set(meta["bad"])
        start = meta["done"]
        bar = _progress(n, f"features {self.spec.get('cache_layer')} view {view}") if progress \
            else None
        if bar and start:
            bar.update(start)

        def load(i: int) -> np.ndarray | None:
            return load_pixels(self.samples[i].path, size, view, i, aug)

        with ThreadPoolExecutor(workers) as pool:
            # decode the next chunk while the current one runs through the network
            pending = pool.map(load, range(start, min(start + CHUNK, n)))
            for lo in range(start, n, CHUNK):
                hi = min(lo + CHUNK, n)
                pixels = list(pending)
                if hi < n:
                    pending = pool.map(load, range(hi, min(hi + CHUNK, n)))
                batch = np.zeros((hi - lo, size, size, 3), np.float32)
                for j, px in enumerate(pixels):
                    if px is None:
                        bad.add(lo + j)
                    else:
                        batch[j] = px
                out = np.asarray(lower.predict_on_batch(batch), np.float32)
                feats[lo:hi] = out.astype(np.float16)
                feats.flush()
                meta.update(done=hi, bad=sorted(bad))
                self.meta_path.write_text(json.dumps(meta))
                if bar:
                    bar.update(hi)
        ok = np.ones(n, bool)
        ok[list(bad)] = False
        return np.load(self.data_path, mmap_mode="r"), ok


class _Lines:
    """Progress as a line per tenth, where Keras's bar would fill a log or pipe with its
    backspaces and carriage returns (it draws them whenever the OS is POSIX, tty or not)."""

    def __init__(self, total: int) -> None:
        self.total, self.said = total, -1

    def update(self, done: int) -> None:
        tenth = done * 10 // max(self.total, 1)
        if tenth > self.said:
            self.said = tenth
            print(f"  {done:,}/{self.total:,} images", file=sys.stderr, flush=True)


def _progress(total: int, title: str) -> Any:
    print(title, file=sys.stderr)
    if not sys.stdout.isatty():
        return _Lines(total)
    from keras.utils import Progbar

    return Progbar(total, unit_name="image")


def feature_spec(preset: Any, weights_desc: str, cache_layer: str, view: int,
                 aug: AugmentConfig | None, precision: str = "float32") -> dict[str, Any]:
    spec = {"weights": weights_desc, "preprocess": preset.preprocess, "cache_layer": cache_layer,
            "input_size": preset.input_size, "view": view,
            "augment": aug.to_dict() if (aug is not None and view > 0) else None}
    if precision != "float32":  # float32 entries keep the keys they had before this option
        spec["precision"] = precision
    return spec


PRECISIONS = ("auto", "float32", "bfloat16")


def cpu_has_bf16() -> bool:
    """True where the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); else it is emulated."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_precision(choice: str) -> str:
    if choice not in PRECISIONS:
        raise ValueError(f"unknown feature precision {choice!r}; choose one of {', '.join(PRECISIONS)}")
    if choice == "auto":
        return "bfloat16" if cpu_has_bf16() else "float32"
    return choice


def lower_in_precision(build: Any, lower: Any, precision: str) -> Any:
    """`lower` itself for float32; else a copy built by `build()` under a mixed policy.

    bfloat16 featurises about 2x faster where the CPU has native bf16 (measured 18 -> 37 images/s
    on two AMD EPYC Zen 4 cores); the cache stores float16 anyway, and the shipped model is
    quantized to 8 bits, so the precision lost here is far below what export loses.
    """
    if precision == "float32":
        return lower
    import keras

    old = keras.config.dtype_policy()
    keras.config.set_dtype_policy(f"mixed_{precision}")
    try:
        copy = build()
    finally:
        keras.config.set_dtype_policy(old)
    copy.set_weights(lower.get_weights())
    return copy


def featurize_root(root_samples: list[Sample], lower: Any, preset: Any, weights_desc: str,
                   cache_layer: str, view: int, aug: AugmentConfig | None, cache_dir: Path,
                   progress: bool = True, precision: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """Cached activations for the samples of one dataset root (one cache entry per root/view)."""
    shape = tuple(lower.output.shape[1:])
    if aug is not None and aug.background and not (
            root_samples and mask_of(root_samples[0].path).parent.parent.is_dir()):
        aug = replace(aug, background=0.0)  # a root without masks keeps its cached views
    spec = feature_spec(preset, weights_desc, cache_layer, view, aug, precision)
    cache = FeatureCache(cache_dir, root_samples, spec, shape)
    return cache.build(lower, preset.input_size, view, aug, progress=progress)


def load_pixel_arrays(samples: list[Sample], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of every sample at size x size (uint8) and a mask of the readable ones."""
    x = np.zeros((len(samples), size, size, 3), np.uint8)
    ok = np.ones(len(samples), bool)
    with ThreadPoolExecutor(4) as pool:
        for i, px in enumerate(pool.map(lambda s: load_pixels(s.path, size), samples)):
            if px is None:
                ok[i] = False
            else:
                x[i] = px
    return x, ok
