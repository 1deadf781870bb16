"""Hostile inputs through the runtime's decoder, one by one, in this process: outcome, time, memory.

    python benchmarks/hostile.py [--out NEW_DIR]

Writes the hostile-input corpus of tests/hostile_files.py (empty and truncated files, random bytes,
text/HTML/PDF/HEIC named .jpg, 50000x50000 PNG and JPEG headers, an animated GIF, odd modes, EXIF
orientations, a symlink loop, a directory and a FIFO named like images, ...) to a temporary folder
(or NEW_DIR, kept), loads each with fingerspell.sources.load_pixels(path, (150, 150)) and prints a
table: outcome, seconds, and how much the process's peak RSS grew (the memory a decompression bomb
would take). Runtime only: TensorFlow is never imported.

Exit status 0 when every outcome is pixels or a FingerspellError, 1 otherwise (another exception,
or a load still running after TIMEOUT seconds). An outcome other than the corpus expects is
marked '!' and counted, without changing the exit status.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the corpus is shared with the tests

from hostile_files import OK, is_bomb, write_corpus  # noqa: E402

from fingerspell.errors import FingerspellError  # noqa: E402
from fingerspell.sources import load_pixels  # noqa: E402

SIZE = (150, 150)
TIMEOUT = 10.0  # seconds; every input here takes milliseconds


@dataclass
class Outcome:
    text: str  # "ok 150x150x3" or "InputError: message"
    clean: bool  # pixels or a FingerspellError
    ok: bool  # pixels
    seconds: float
    rss_growth_mb: float


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def load(path: Path) -> Outcome:
    """load_pixels in a daemon thread, so that a hang is reported instead of hanging this script."""
    box: list[tuple[object, float]] = []
    worker = threading.Thread(target=lambda: box.append(_attempt(path)), daemon=True)
    rss = peak_rss_mb()
    worker.start()
    worker.join(TIMEOUT)
    growth = peak_rss_mb() - rss
    if not box:
        return Outcome(f"HANG: still running after {TIMEOUT:g} s", False, False, TIMEOUT, growth)
    result, seconds = box[0]
    if isinstance(result, BaseException):
        if isinstance(result, FingerspellError):
            return Outcome(f"{type(result).__name__}: {result}", True, False, seconds, growth)
        return Outcome(f"UNCAUGHT {type(result).__name__}: {result!r}", False, False, seconds, growth)
    return Outcome(f"ok {'x'.join(map(str, result))}", True, True, seconds, growth)


def _attempt(path: Path) -> tuple[object, float]:
    """(pixel shape or the exception, seconds)."""
    start = time.perf_counter()
    try:
        result: object = load_pixels(path, SIZE).shape
    except BaseException as exc:  # reported, never raised: this script must see every outcome
        result = exc
    return result, time.perf_counter() - start


def as_expected(outcome: Outcome, expect: str) -> bool:
    one_line = "\n" not in outcome.text
    if expect == OK:
        return outcome.ok
    return outcome.clean and not outcome.ok and one_line and re.search(expect, outcome.text) is not None


def run(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)  # --out names a folder not yet there
    _warm_up(folder)
    corpus = write_corpus(folder)
    rows = [(path, expect, load(path)) for path, expect in corpus.items()]
    width = max(len(p.name) for p in corpus)
    print(f"{'input':<{width}}  {'seconds':>7}  {'peak RSS +MB':>12}  outcome")
    for path, expect, out in rows:
        mark = " " if as_expected(out, expect) else "!"
        text = out.text.replace(f"{folder}/", "")  # messages name the input: keep them short here
        print(f"{path.name:<{width}}  {out.seconds:7.3f}  {out.rss_growth_mb:12.1f} {mark}{text}"
              f"{_note(path.name)}")
    return _totals(rows)


def _note(name: str) -> str:
    if is_bomb(name):
        return "  [bomb: 7.5 GB if decoded]"
    if name == "unreadable.jpg" and os.geteuid() == 0:
        return "  [mode 000, but root reads any file]"
    return ""


def _warm_up(folder: Path) -> None:
    """Decode one small image first, so the first row does not pay for Pillow's lazy imports."""
    from hostile_files import encode, noise

    warm = folder / "warm-up.jpg"
    warm.write_bytes(encode(noise(64, 64), "JPEG"))
    load_pixels(warm, SIZE)
    warm.unlink()


def _totals(rows: list[tuple[Path, str, Outcome]]) -> int:
    errors = sum(not out.ok for _, _, out in rows)
    unclean = [p.name for p, _, out in rows if not out.clean]
    surprises = [p.name for p, expect, out in rows if not as_expected(out, expect)]
    slowest = max(rows, key=lambda r: r[2].seconds)
    bombs = [out.rss_growth_mb for p, _, out in rows if is_bomb(p.name)]
    print()
    print(f"inputs: {len(rows)}   pixels: {len(rows) - errors}   errors: {errors}   "
          f"longest: {slowest[2].seconds:.3f} s ({slowest[0].name})   "
          f"bomb peak RSS growth: {max(bombs, default=0.0):.1f} MB")
    print(f"not pixels and not a FingerspellError: {len(unclean)} {unclean or ''}".rstrip())
    print(f"outcomes other than expected: {len(surprises)} {surprises or ''}".rstrip())
    print(f"tensorflow imported: {'yes' if 'tensorflow' in sys.modules else 'no'}")
    return 1 if unclean else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the corpus to this new folder and keep it")
    args = parser.parse_args()
    if args.out:
        if args.out.exists():
            parser.error(f"{args.out} already exists")
        return run(args.out)
    with tempfile.TemporaryDirectory(prefix="fingerspell-hostile-") as tmp:
        return run(Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
