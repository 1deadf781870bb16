"""Model artifacts: where the bundled ones live, and how metadata travels with each format.

ONNX carries the metadata inside (metadata_props[METADATA_KEY]). A .tflite file carries it in a
sidecar `<stem>.json` whose `artifact.sha256` must equal the .tflite file's SHA-256, which ties
the two together: a sidecar for another file is refused.
"""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

from fingerspell.errors import ModelError
from fingerspell.schema import MetadataError, ModelMetadata

METADATA_KEY = "fingerspell"
DEFAULT_ARTIFACT = "fingerspell-vgg16-int8.onnx"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_readable(path: Path, what: str = "model file", missing: str | None = None) -> None:
    """ModelError unless `path` is a file this process can open (`missing`: the message where it
    does not exist). pathlib's is_file() raises PermissionError for a file in a folder the user
    cannot enter (which the CLI took for its output failing: exit 1, not 3), and onnxruntime names
    an unreadable file only as 'system error number 13'."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise ModelError(missing or f"{path}: no such {what}") from None
    except OSError as exc:  # a parent without search permission, a symlink loop
        raise ModelError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise ModelError(f"{path}: a folder, not a {what}")
    if not stat.S_ISREG(mode):  # a FIFO would block the open below
        raise ModelError(f"{path}: not a regular file, so no {what}")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None


def is_bundled_copy(path: Path) -> bool:
    """Whether a model file is one of the bundled networks, or a copy of one (by SHA-256, hashed
    only where the size matches one of theirs)."""
    try:
        here = bundled_dir()
        if path.resolve().parent == here.resolve():
            return True
        ours = [p for p in here.iterdir() if p.suffix in (".onnx", ".tflite")]
        if path.stat().st_size not in {p.stat().st_size for p in ours}:
            return False
        return sha256_file(path) in (here / "SHA256SUMS").read_text().split()[::2]
    except OSError:
        return False


def bundled_dir() -> Path:
    """The artifacts shipped inside the package (the repository's artifacts/ folder).

    An installed wheel has them in fingerspell/artifacts; a source checkout (or an editable
    install) finds the repository's artifacts/ folder beside runtime/.
    """
    inside = Path(__file__).parent / "artifacts"
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parents[2] / "artifacts"


def default_model_path(backend: str | None = None) -> Path:
    """The bundled model: the int8 ONNX, or its TFLite twin where the litert backend is asked for
    (`--backend litert` alone named the .onnx, which that backend cannot read)."""
    name = DEFAULT_ARTIFACT
    if backend == "litert":
        name = str(Path(DEFAULT_ARTIFACT).with_suffix(".tflite"))
    path = bundled_dir() / name
    if not path.is_file():
        raise ModelError(f"the bundled model {name} is missing from {path.parent}; "
                         "reinstall fingerspell or pass --model")
    return path


def sidecar_path(path: Path) -> Path:
    return path.with_suffix(".json")


def read_sidecar(path: Path) -> ModelMetadata:
    side = sidecar_path(path)
    check_readable(path)
    check_readable(side, "metadata sidecar", missing=f"{path}: its metadata sidecar {side.name} "
                   "is missing; export it with `fingerspell export`")
    try:
        meta = ModelMetadata.from_json(side.read_bytes())
        got = sha256_file(path)
    except MetadataError as exc:
        raise ModelError(f"{side}: {exc}") from None
    except OSError as exc:  # gone or unreadable since the checks above
        raise ModelError(f"{exc.filename or path}: cannot read ({exc.strerror or exc})") from None
    want = meta.artifact.get("sha256")
    if want != got:
        raise ModelError(f"{path}: does not match its metadata {side.name} (sha256 differs): "
                         "the file was changed or the sidecar belongs to another model")
    return meta


def check_against_io(path: Path, meta: ModelMetadata, in_shape: list, out_shape: list,
                     in_dtype: str | None = None) -> None:
    """Refuse an artifact whose tensors disagree with its metadata (shape, labels, input dtype)."""
    spec = meta.input
    if in_dtype is not None and in_dtype != spec.dtype:
        raise ModelError(f"{path}: the model's input is {in_dtype} but its metadata says {spec.dtype}")
    dims = [_dim(d) for d in in_shape]
    if len(dims) != 4 or dims[1:] != [spec.height, spec.width, spec.channels]:
        shown = [d if n is None else n for d, n in zip(in_shape, dims, strict=True)]  # not np.int32(1)
        raise ModelError(f"{path}: input shape {shown} does not match the metadata's "
                         f"{spec.height}x{spec.width}x{spec.channels}")
    n_out = _dim(out_shape[-1]) if len(out_shape) else None
    if n_out != len(meta.labels):
        raise ModelError(f"{path}: the model has {n_out} outputs but its metadata lists "
                         f"{len(meta.labels)} labels")


def _dim(d: object) -> int | None:
    """A fixed dimension as int (numpy ints included); None for symbolic or unknown ones."""
    return int(d) if hasattr(d, "__index__") and not isinstance(d, bool) else None  # type: ignore[call-overload]


def write_sidecar(path: Path, meta: ModelMetadata) -> Path:
    meta.artifact["sha256"] = sha256_file(path)
    side = sidecar_path(path)
    side.write_text(meta.to_json(indent=1) + "\n")
    return side
