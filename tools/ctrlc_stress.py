"""Send Ctrl-C to `fingerspell predict` while downloads run, over and over; report any CLI that has
not exited within --grace seconds, with every thread's stack (docs/hands.md, "What held the
Ctrl-C"). Run it beside other load: the lost wake-up it looks for needs the main thread
descheduled at the wrong moment.

    python tools/ctrlc_stress.py --image photo.jpg --runs 60 [--model tiny-int8.onnx] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from httpserver import Server  # the tests' local server, with its slow routes


def threads_of(pid: int) -> list[str]:
    """Each thread's state and kernel wait channel, from /proc."""
    rows = []
    for task in sorted(Path(f"/proc/{pid}/task").glob("*")):
        try:
            state = (task / "stat").read_text().split()[2]
            rows.append(f"  thread {task.name} {state} {(task / 'wchan').read_text().strip()}")
        except OSError as exc:
            rows.append(f"  thread {task.name}: {exc}")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--image", required=True, help="a photo the CLI answers before the downloads")
    ap.add_argument("--model", help="the artifact (default: the bundled one)")
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--grace", type=float, default=8.0, help="seconds allowed after Ctrl-C")
    ap.add_argument("--out", type=Path, default=Path("."), help="where hang-N.txt reports go")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONFAULTHANDLER="1")  # SIGABRT then prints every thread's stack
    server = Server(b"")
    slow = [f"{server.url}/slow-headers?{i}" for i in range(4)]  # 20 s each
    model = ["--model", args.model] if args.model else []
    hangs, wrong, worst = 0, 0, 0.0
    try:
        for run in range(args.runs):
            proc = subprocess.Popen(
                [sys.executable, "-m", "fingerspell", "predict", args.image, *slow, args.image,
                 *model], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a shell
            assert proc.stdout is not None
            first = proc.stdout.readline()
            start = time.monotonic()
            proc.send_signal(signal.SIGINT)
            try:
                _, err = proc.communicate(timeout=args.grace)
            except subprocess.TimeoutExpired:
                hangs += 1
                rows = [f"run {run}: no exit {args.grace:g} s after Ctrl-C", *threads_of(proc.pid)]
                proc.send_signal(signal.SIGABRT)
                try:
                    _, err = proc.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    _, err = proc.communicate()
                (args.out / f"hang-{run}.txt").write_text("\n".join([*rows, err]))
                print(rows[0], flush=True)
                continue
            worst = max(worst, time.monotonic() - start)
            if not first.strip() or proc.returncode != 130:
                wrong += 1
                print(f"run {run}: exit {proc.returncode}, first line {first!r}, {err[-200:]!r}")
    finally:
        server.close()
    print(f"{args.runs} runs, {hangs} hung, {wrong} with no answer first or an exit other than 130, "
          f"longest exit after Ctrl-C {worst:.2f} s")
    return 1 if hangs or wrong else 0


if __name__ == "__main__":
    sys.exit(main())
