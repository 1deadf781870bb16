"""Run a per-file job over a dataset in worker processes, recording results as chunks finish."""

from __future__ import annotations

import multiprocessing as mp
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHUNK = 200  # files per task: results are saved after each, so an interrupted run loses little


def run_chunks(work: Callable[[list[tuple[str, str]]], dict[str, Any]],
               todo: list[tuple[str, str]], workers: int, done: dict[str, Any],
               save: Callable[[dict[str, Any]], object]) -> None:
    """`work` maps (source, destination) pairs to {source: result}; results land in `done` under
    "<class>/<file name>" and `save(done)` runs after every chunk (spawned workers: MediaPipe
    does not survive fork)."""
    start = time.time()
    chunks = [todo[i:i + CHUNK] for i in range(0, len(todo), CHUNK)]
    with mp.get_context("spawn").Pool(workers) as pool:
        for n, results in enumerate(pool.imap_unordered(work, chunks), 1):
            for src, value in results.items():
                p = Path(src)
                done[f"{p.parent.name}/{p.name}"] = value
            save(done)
            print(f"\r{n}/{len(chunks)} chunks, {time.time() - start:.0f} s", end="",
                  file=sys.stderr)
    print(file=sys.stderr)
