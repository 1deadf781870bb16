"""Measure artifacts: size, accuracy, batch-1 latency, throughput, peak memory — one row each.

Each artifact is measured in a fresh child process, so its peak RSS is its own and no artifact
warms another's caches.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BATCH_SIZES = (1, 4, 8, 16, 32)
PHOTOS_TIMED = 20  # photos of --data timed from file to answer (fewer with a smaller --runs)


@dataclass
class Row:
    artifact: str
    format: str
    backend: str
    size_mb: float
    accuracy: float | None
    images: int
    latency_ms_median: float
    latency_ms_p90: float
    throughput_ips: float
    best_batch: int
    peak_rss_mb: float | None  # None where the OS does not say (Windows)
    load_s: float
    passed: bool | None = None  # accuracy at or above the floor (None without --data)
    error: str | None = None  # the artifact could not be measured
    error_code: int | None = None  # with error: the exit code `predict` gives for it
    failures: list[str] = field(default_factory=list)  # images of --data that could not be read
    # file to answer for a photo of --data, as `predict` reads it: decoding, and the hand
    # finder's crop and pose passes, which `latency_ms_*` (the network alone) leaves out; the
    # mean over photos spread over the classes, since a head's views_below makes some cost more
    photo_ms_mean: float | None = None
    reads: str = "network"  # what reads a photo: the network, with the crop and pose head or not


def labelled(folder: Path, limit: int = 0, problems: list[str] | None = None
             ) -> list[tuple[Path, str]]:
    """(image, class) for every image in a folder per class; `limit` spreads a sample evenly.

    Class folders are matched in any case and read with their subfolders, as `train` and `adapt`
    read them. A folder that cannot be listed is left out and named in `problems` (one unreadable
    folder cost the whole benchmark); `folder` itself unlistable raises its OSError."""
    from fingerspell.files import class_named, image_files

    def unlisted(exc: OSError) -> None:
        if problems is not None:
            problems.append(f"{exc.filename}: cannot list folder ({exc.strerror or exc})")

    files = []
    for d in sorted(folder.iterdir()):
        name = class_named(d.name)
        try:
            if name is None or not d.is_dir():
                continue
        except OSError as exc:
            unlisted(exc)
            continue
        files.extend((p, name) for p in sorted(image_files(d, unlisted)))
    if limit and len(files) > limit:  # an even spread over classes and people
        step = len(files) / limit
        files = [files[int(i * step)] for i in range(limit)]
    return files


def accuracy_on(rec: Any, files: list[tuple[Path, str]], batch_size: int = 8) -> float:
    """Share of (image, class) pairs the recognizer reads right; unreadable images count wrong."""
    hits, _, _ = score(rec, files, batch_size)
    return hits / len(files) if files else 0.0


def score(rec: Any, files: list[tuple[Path, str]], batch_size: int = 8
          ) -> tuple[int, int, list[str]]:
    """(right, readable, 'image: reason' for each image that could not be read)."""
    preds = rec.predict_many([f for f, _ in files], batch_size=batch_size)
    hits, failures = 0, []
    for p, (_, want) in zip(preds, files, strict=True):
        if p.ok:
            hits += p.label == want
        else:
            failures.append(p.error)
    return hits, len(files) - len(failures), failures


def _reads(rec: Any, path: Path) -> bool:
    """Whether a photo can be read: one that cannot is left out of the timing, as it already is
    of the accuracy (Recognizer.predict raises for it), not the end of the artifact's row."""
    from fingerspell.errors import FingerspellError

    try:
        return rec.predict(path).ok
    except FingerspellError:
        return False


def timed_ms(call: Callable[[], object], runs: int, warmup: int = 5) -> list[float]:
    """Milliseconds of `runs` calls of `call` after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1000)
    return times


def measure(model: Path, data: Path | None, runs: int, limit: int, threads: int | None,
            backend: str | None) -> dict[str, Any]:
    """Run inside the child process: everything about one artifact."""
    import numpy as np

    from fingerspell.recognizer import Recognizer

    t0 = time.perf_counter()
    rec = Recognizer(model, backend=backend, threads=threads)
    load_s = time.perf_counter() - t0
    h, w = rec.size[1], rec.size[0]
    rng = np.random.default_rng(0)
    one = rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8)
    times = timed_ms(lambda: rec.probabilities(one), runs)
    best_ips, best_batch = 1000 / float(np.median(times)), 1
    for b in BATCH_SIZES[1:] if rec.backend.batchable else ():
        x = rng.integers(0, 256, (b, h, w, 3), dtype=np.uint8)
        rec.probabilities(x)
        reps = max(2, 32 // b)
        t = time.perf_counter()
        for _ in range(reps):
            rec.probabilities(x)
        ips = b * reps / (time.perf_counter() - t)
        if ips > best_ips:
            best_ips, best_batch = ips, b
    accuracy, n, failures, photo_ms = None, 0, [], None
    if data is not None:  # over the images that could be read; the others are named
        unlisted: list[str] = []
        files = labelled(data, limit, unlisted)
        hits, n, failures = score(rec, files, best_batch)
        failures = unlisted + failures
        accuracy = hits / n if n else None
        k = max(1, min(runs, PHOTOS_TIMED))
        spread = files[::max(1, len(files) // k)][:k]
        readable = [f for f, _ in spread if _reads(rec, f)]  # each read once untimed, too
        if readable:
            photo_ms = float(np.mean([timed_ms(lambda f=f: rec.predict(f), 1, 0)[0]
                                      for f in readable]))
    peak = peak_rss_mb()
    return asdict(Row(
        artifact=model.name, format=model.suffix.lstrip("."), backend=rec.backend.name,
        size_mb=model.stat().st_size / 1e6, accuracy=accuracy, images=n,
        latency_ms_median=float(np.median(times)), latency_ms_p90=float(np.percentile(times, 90)),
        throughput_ips=best_ips, best_batch=best_batch, peak_rss_mb=peak, load_s=load_s,
        failures=failures, photo_ms_mean=photo_ms, reads=reading_path(rec)))


def reading_path(rec: Any) -> str:
    """What reads a photo: the network alone, or with the hand crop and the pose head."""
    parts = ["crop"] if rec.crop == "hand" else []
    if rec.pose_head is not None:
        parts.append("pose" + ("+mirror" if rec.pose_head.mirror else "")
                     + "".join(f"+turn{t:+g}" for t in rec.pose_head.turns)
                     + "".join(f"+pad{p:g}" for p in rec.pose_head.pads)
                     + (f" (more views below {rec.pose_head.views_below:g})"
                        if rec.pose_head.views_below is not None and rec.pose_head.extra_looks
                        else ""))
    return "+".join(["network", *parts])


def measure_row(model: Path, data: Path | None, runs: int = 50, limit: int = 0,
                threads: int | None = None, floor: float = 0.5, timeout: float = 1800) -> Row:
    """One artifact, measured in a child process of its own."""
    args = [sys.executable, "-m", "fingerspell.benchmark", str(model), str(data or ""), str(runs),
            str(limit), str(threads or 0)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    out = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not out:
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        return _failed(model, last, 1)
    got = json.loads(out[-1])
    if "error" in got and "artifact" not in got:  # the model could not be loaded
        return _failed(model, got["error"], got["error_code"])
    row = Row(**got)
    if row.accuracy is not None:
        row.passed = row.accuracy >= floor
    return row


def _failed(model: Path, error: str, code: int) -> Row:
    return Row(model.name, model.suffix.lstrip("."), "-", 0, None, 0, 0, 0, 0, 0, 0, 0,
               passed=False, error=error, error_code=code)


def peak_rss_mb() -> float | None:
    """This process's peak resident memory in MB: ru_maxrss is KiB on Linux but bytes on macOS,
    and Windows has no `resource` module (importing it there ended benchmark in a traceback)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def table(rows: list[Row], floor: float) -> str:
    head = (f"{'artifact':<34} {'backend':<11} {'size MB':>7} {'accuracy':>9} {'ms p50':>7} "
            f"{'ms p90':>7} {'img/s':>7} {'batch':>5} {'RSS MB':>7} {'ms/photo':>8}  reads")
    lines = [head, "-" * len(head)]
    for r in rows:
        if r.error:
            lines.append(f"{r.artifact:<34} error: {r.error}")
            continue
        acc = "-" if r.accuracy is None else f"{100 * r.accuracy:.1f}% {'✔' if r.passed else '✘'}"
        photo = "-" if r.photo_ms_mean is None else f"{r.photo_ms_mean:.1f}"
        rss = "-" if r.peak_rss_mb is None else f"{r.peak_rss_mb:.0f}"
        lines.append(f"{r.artifact:<34} {r.backend:<11} {r.size_mb:7.1f} {acc:>9} "
                     f"{r.latency_ms_median:7.1f} {r.latency_ms_p90:7.1f} {r.throughput_ips:7.1f} "
                     f"{r.best_batch:5d} {rss:>7} {photo:>8}  {r.reads}")
    lines.append(f"(accuracy floor {100 * floor:.0f} %; ms p50/p90 = batch-1 inference on a decoded "
                 "image; ms/photo = mean over up to 20 photos of --data, file to answer, as predict reads "
                 "them)")
    return "\n".join(lines) + "\n"


def _child() -> None:
    from fingerspell.errors import FingerspellError

    model, data, runs, limit, threads = sys.argv[1:6]
    try:
        out = measure(Path(model), Path(data) if data else None, int(runs), int(limit),
                      int(threads) or None, None)
    except FingerspellError as exc:  # e.g. not a fingerspell artifact: one line for the parent
        out = {"error": str(exc), "error_code": exc.exit_code}
    except OSError as exc:  # a file that went away or turned unreadable: a line, not a traceback
        out = {"error": f"{exc.filename or model}: {exc.strerror or exc}", "error_code": 1}
    print(json.dumps(out))


if __name__ == "__main__":
    _child()
