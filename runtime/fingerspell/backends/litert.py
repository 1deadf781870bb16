"""ai-edge-litert backend for .tflite artifacts; metadata from the sidecar JSON.

The LiteRT interpreter is not thread-safe: each call checks one out of a pool, created lazily, at
most one per CPU (one per thread cost 70 MB each for a web server's many threads; more concurrent
invocations than CPUs only contend).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from fingerspell.artifact import check_against_io, read_sidecar
from fingerspell.backends.onnx import default_threads, threads_for
from fingerspell.errors import MissingExtraError, ModelError
from fingerspell.imaging import one_line
from fingerspell.quiet import quiet_stderr

MISSING = "the litert backend needs ai-edge-litert: pip install 'fingerspell[litert]'"


def installed() -> bool:
    """Whether the `[litert]` extra is there, without importing it."""
    import importlib.util

    return importlib.util.find_spec("ai_edge_litert") is not None


class LiteRTBackend:
    name = "litert"
    batchable = False  # the exported graph has a fixed batch of 1

    def __init__(self, path: Path, threads: int | None = None) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise MissingExtraError(f"{path}: {MISSING}") from None
        self._interpreter_cls = Interpreter
        self.path = path
        self.threads = threads_for(threads)
        self.metadata = read_sidecar(path)
        try:
            self.content = path.read_bytes()
        except OSError as exc:  # unreadable since read_sidecar looked
            raise ModelError(f"{path}: cannot read the model file ({exc.strerror or exc})") from None
        self._pool: queue.LifoQueue = queue.LifoQueue()
        self._cap = default_threads()
        self._made_lock = threading.Lock()
        interp = self._new_interpreter()  # load once now, so a broken file fails at load time
        self._made = 1
        self._pool.put(interp)
        inp = interp.get_input_details()[0]
        out = interp.get_output_details()[0]
        check_against_io(path, self.metadata, list(inp["shape"]), list(out["shape"]),
                         np.dtype(inp["dtype"]).name)
        # Tensor details are the same in every thread's interpreter: read them once, not per call.
        self._inp, self._out = inp, out

    def _new_interpreter(self):
        try:
            with quiet_stderr():
                interp = self._interpreter_cls(model_content=self.content, num_threads=self.threads)
                interp.allocate_tensors()
        except Exception as exc:  # LiteRT raises ValueError/RuntimeError for bad flatbuffers
            raise ModelError(f"{self.path}: not a loadable TFLite model ({one_line(exc, 200)})") from None
        return interp

    @contextlib.contextmanager
    def _checked_out(self) -> Iterator[object]:
        try:
            interp = self._pool.get_nowait()
        except queue.Empty:
            with self._made_lock:
                make = self._made < self._cap
                self._made += make
            if make:
                try:
                    interp = self._new_interpreter()
                except BaseException:
                    with self._made_lock:
                        self._made -= 1
                    raise
            else:
                interp = self._pool.get()  # all busy: wait for one
        try:
            yield interp
        finally:
            self._pool.put(interp)

    def run(self, pixels: np.ndarray) -> np.ndarray:
        with self._checked_out() as interp:
            return self._run(interp, pixels)

    def _run(self, interp, pixels: np.ndarray) -> np.ndarray:
        inp, out = self._inp, self._out
        results = []
        for img in pixels:
            x = img[None]
            scale, zero = inp["quantization"]
            if scale and (scale, zero) != (1.0, 0):
                # a quantized input: map the 0–255 pixels with the tensor's own parameters
                info = np.iinfo(inp["dtype"])
                x = np.clip(np.round(x / scale + zero), info.min, info.max).astype(inp["dtype"])
            elif x.dtype != inp["dtype"]:
                x = x.astype(inp["dtype"])
            interp.set_tensor(inp["index"], x)
            interp.invoke()
            y = interp.get_tensor(out["index"])
            if out["dtype"] != np.float32:
                scale, zero = out["quantization"]
                y = (y.astype(np.float32) - zero) * scale
            results.append(y[0])
        return np.stack(results).astype(np.float32)
