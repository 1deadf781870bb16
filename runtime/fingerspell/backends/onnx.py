"""onnxruntime backend: metadata from the ONNX model's metadata_props."""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np

from fingerspell.args import count
from fingerspell.artifact import METADATA_KEY, check_against_io
from fingerspell.errors import MissingExtraError, ModelError
from fingerspell.imaging import one_line
from fingerspell.quiet import quiet_stderr
from fingerspell.schema import MetadataError, ModelMetadata

# onnxruntime fuses a float layer with int8 weights (our head) into MatMulNBits, whose default
# accuracy level quantizes its input on the fly (1.8e-3 off on dev/massey photos); level 1 (fp32)
# computes what the artifact declares, as TFLite does. Every session that scores an int8 ONNX sets it.
MATMUL_FP32 = ("session.qdq_matmulnbits_accuracy_level", "1")


TELEMETRY_SWITCH = "ORT_DISABLE_TELEMETRY"


def import_onnxruntime(what: object) -> ModuleType:
    """The onnxruntime module, or a one-line MissingExtraError naming `what` (the model or the hand
    finder) where it is installed but cannot be imported: a build for numpy 1.x under numpy 2
    (onnxruntime 1.17 and older) fails on import with a traceback and a banner on sys.stderr."""
    # onnxruntime 1.32 on Linux and macOS writes a device id and a queue of usage events under
    # ~/.cache/Microsoft on import, to send to Microsoft: not what an offline reader of people's
    # photos should do unasked. Its own switch, so a user's explicit setting (0) stands; it is
    # read once, at the first import in the process.
    os.environ.setdefault(TELEMETRY_SWITCH, "1")
    banner = io.StringIO()
    try:
        # fd 2 silenced too: where telemetry is on and HOME is not writable, the import prints a
        # coloured native warning that it cannot store the device id, on every command
        with quiet_stderr(), contextlib.redirect_stderr(banner):
            import onnxruntime
    except Exception as exc:  # ImportError, or AttributeError from a binary built for numpy 1.x
        if isinstance(exc.__context__, KeyboardInterrupt):  # Ctrl-C in its native start-up
            raise KeyboardInterrupt from None
        # onnxruntime 1.17 re-raises a bare ImportError; what went wrong is the banner's last line
        printed = banner.getvalue().strip().splitlines()
        cause = one_line(exc, 120) if str(exc).strip() or not printed else printed[-1][:120]
        raise MissingExtraError(
            f"{what}: onnxruntime cannot be imported ({cause}); "
            "`pip install -U onnxruntime` installs a build for this numpy") from None
    sys.stderr.write(banner.getvalue())  # nothing went wrong: whatever it printed is not ours to drop
    # The Windows wheel reads no such variable: its events go through Windows' own tracing, on
    # until this call (its Privacy.md); an event at start-up may have gone already.
    if os.name == "nt" and os.environ.get(TELEMETRY_SWITCH) != "0" and \
            hasattr(onnxruntime, "disable_telemetry_events"):
        onnxruntime.disable_telemetry_events()
    return onnxruntime


class OnnxBackend:
    name = "onnxruntime"
    batchable = True

    def __init__(self, path: Path, threads: int | None = None) -> None:
        ort = import_onnxruntime(path)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads_for(threads)
        opts.inter_op_num_threads = 1
        # between runs the pool's threads sleep rather than spin: predict_many finds hands in other
        # threads meanwhile, whose CPU a spinning pool takes (a folder 5 % faster on two cores)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry(*MATMUL_FP32)
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise ModelError(f"{path}: not a loadable ONNX model ({one_line(exc, 200)})") from None
        props = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in props:
            raise ModelError(f"{path}: has no fingerspell metadata (metadata_props[{METADATA_KEY!r}]);"
                             " export it with `fingerspell export`")
        try:
            self.metadata = ModelMetadata.from_json(props[METADATA_KEY])
        except MetadataError as exc:
            raise ModelError(f"{path}: {exc}") from None
        inp = self.session.get_inputs()[0]
        out = self.session.get_outputs()[0]
        self.input_name = inp.name
        dtypes = {"tensor(uint8)": np.uint8, "tensor(float)": np.float32}
        if inp.type not in dtypes:
            raise ModelError(f"{path}: unsupported input type {inp.type}")
        self.input_dtype = dtypes[inp.type]
        check_against_io(path, self.metadata, list(inp.shape), list(out.shape),
                         np.dtype(self.input_dtype).name)

    def run(self, pixels: np.ndarray) -> np.ndarray:
        x = pixels if pixels.dtype == self.input_dtype else pixels.astype(self.input_dtype)
        with _in_flight():
            return np.asarray(self.session.run(None, {self.input_name: x})[0], np.float32)


# onnxruntime aborts the process (std::terminate) when it exits while a daemon thread, such as a
# request thread of http.server's ThreadingHTTPServer, is inside session.run. At exit, new runs
# wait and those in flight get a few seconds to finish.
_runs = 0
_closing = False
_runs_cond = threading.Condition()
EXIT_WAIT_S = 10.0


@contextlib.contextmanager
def _in_flight() -> Iterator[None]:
    global _runs
    with _runs_cond:
        while _closing:  # the interpreter is exiting: this daemon thread will not be resumed
            _runs_cond.wait()
        _runs += 1
    try:
        yield
    finally:
        with _runs_cond:
            _runs -= 1
            _runs_cond.notify_all()


@atexit.register
def _drain_runs() -> None:
    global _closing
    with _runs_cond:
        _closing = True
        _runs_cond.wait_for(lambda: _runs == 0, timeout=EXIT_WAIT_S)


def threads_for(requested: int | None) -> int:
    """Inference threads: the request, at most the CPUs available (more only contend: 1,000
    onnxruntime threads on 2 CPUs took minutes to start), default all of them."""
    if requested is None:
        return default_threads()
    return min(count("threads", requested), default_threads())  # 0 used to mean all, -1 one


def default_threads() -> int:
    """The CPUs this process may run on (its affinity mask), else the machine's CPU count."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    return max(1, n)
