"""How far behind a camera `fingerspell predict -` answers: photos written to its stdin as a
camera's MJPEG would come, at a fixed rate, and the time from each photo to its answer line.

    python benchmarks/live.py ../shared/data/dev/massey --fps 30 --frames 260
    python benchmarks/live.py ../shared/data/dev/massey --fps 30 --frames 260 --no-live

A JPEG every 1/fps seconds (every seventh photo of the folder, in name order); the delay counts
from when the photo was due, so the time a write waits on a full pipe counts too. With `--live`
the model reads the newest photo each time and skips the rest; without it every photo is read
in turn. Extra arguments after `--` go to `fingerspell predict`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help="photos, read in name order (every seventh)")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--frames", type=int, default=260)
    ap.add_argument("--live", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("extra", nargs="*", help="more options for fingerspell predict")
    args = ap.parse_args()
    files = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
    frames = [p.read_bytes() for p in files[::7][:args.frames]]
    if not frames:
        sys.exit(f"no JPEG photos under {args.folder}")
    cmd = [sys.executable, "-m", "fingerspell", "predict", *(["--live"] if args.live else []), "-",
           *args.extra]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    sent: dict[int, float] = {}

    def write() -> None:
        start = time.monotonic()
        for i, frame in enumerate(frames, 1):
            time.sleep(max(0.0, start + i / args.fps - time.monotonic()))
            sent[i] = time.monotonic()  # the camera has it: a write that waits counts too
            proc.stdin.write(frame)
            proc.stdin.flush()
        proc.stdin.close()

    threading.Thread(target=write, daemon=True).start()
    delays = []
    for line in proc.stdout:
        name = line.decode().split("\t")[0]  # -[i], or - for a single photo
        i = int(name[2:-1]) if name.startswith("-[") else 1
        delays.append(time.monotonic() - sent[i])
    notes = proc.stderr.read().decode().strip()
    proc.wait()
    print(f"{'--live' if args.live else 'every photo'} at {args.fps:g} a second: "
          f"{len(delays)} of {len(frames)} photos answered; delay median "
          f"{1000 * statistics.median(delays):.0f} ms, max {1000 * max(delays):.0f} ms; "
          f"exit {proc.returncode}" + (f"; {notes}" if notes else ""))


if __name__ == "__main__":
    main()
