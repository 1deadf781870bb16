"""What a photo with no hand in it costs a warm `Recognizer`, at several sizes.

    python benchmarks/empty_scene.py [--image PHOTO] [--sizes 640x480 1280x960] [--runs 7] [--json OUT]

A photo with no hand is the finder's worst case: every look and every tile is searched before
the network reads the whole photo. One empty scene (a Kaggle `nothing` frame by default) is
resized to each size and read --runs times after a warm-up; the median is printed. Run it with
the Python of a runtime venv (it times the installed `fingerspell`); no TensorFlow needed.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = ROOT.parent / "shared/data/train/kaggle/nothing/nothing1.jpg"


def size(text: str) -> tuple[int, int]:
    """'640x480' -> (640, 480)."""
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()) or not int(width) or not int(height):
        raise argparse.ArgumentTypeError(f"a size is WIDTHxHEIGHT, such as 640x480, not {text!r}")
    return int(width), int(height)


def medians(image: Path, sizes: list[tuple[int, int]], runs: int) -> list[dict[str, object]]:
    """Each size's median read time (ms) and the answer, from one warm `Recognizer`."""
    from fingerspell import Recognizer
    from fingerspell.benchmark import timed_ms

    recognizer = Recognizer()
    scene = Image.open(image).convert("RGB")
    rows: list[dict[str, object]] = []
    for width, height in sizes:
        photo = scene.resize((width, height), Image.Resampling.BICUBIC)
        # one warm-up read: sessions and buffers at this size
        times = timed_ms(lambda photo=photo: recognizer.predict(photo), runs, warmup=1)
        answer = recognizer.predict(photo)
        rows.append({"size": f"{width}x{height}", "median_ms": round(statistics.median(times), 1),
                     "label": answer.label, "confidence": round(answer.confidence, 4),
                     "read": answer.read})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=Path, default=DEFAULT_IMAGE, help="an empty scene")
    ap.add_argument("--sizes", type=size, nargs="+", default=[(640, 480), (1280, 960), (1920, 1080)])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    if not a.image.is_file():
        ap.error(f"{a.image}: no such image (pass --image)")
    import fingerspell

    rows = medians(a.image, a.sizes, max(1, a.runs))
    print(f"fingerspell {fingerspell.__version__} ({Path(fingerspell.__file__).parent})")
    for row in rows:
        print(f"{row['size']:>10}: median {row['median_ms']:.0f} ms  {row['label']} "
              f"{row['confidence']:.3f} {row['read']}")
    if a.json:
        a.json.write_text(json.dumps({"image": str(a.image), "runs": a.runs, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
