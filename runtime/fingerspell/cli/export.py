"""`fingerspell export`: a trained model -> ONNX and TFLite artifacts with parity reports."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from fingerspell.cli.common import fail, path_arg, report_error, require_extra
from fingerspell.errors import FingerspellError


def export(
    model: Path = typer.Argument(..., parser=path_arg,
                                 help="model.keras from a run folder (metadata.json beside it)."),
    out: Path = typer.Option(Path("exports/latest"), "--out", "-o", parser=path_arg,
                             help="Folder for the artifacts."),
    calib: list[Path] = typer.Option(..., parser=path_arg,
                                     help="Labelled folder of real training images for "
                                          "int8 calibration (repeatable)."),
    parity: list[Path] = typer.Option(..., parser=path_arg,
                                      help="Labelled folder of real images to compare "
                                           "every artifact with Keras (repeatable)."),
    formats: str = typer.Option("onnx-fp32,onnx-int8,tflite-int8",
                                help="Comma-separated: onnx-fp32, onnx-int8, tflite-int8 (static "
                                "int8 with the int8 ONNX's activation ranges; exported without "
                                "onnx-int8, the first block also computes in float), "
                                "tflite-int8-full (the converter's full integer), "
                                "tflite-int8-dynamic (int8 weights, activations quantized per call), "
                                "tflite-int8-weights (int8 weights, float arithmetic), tflite-fp16."),
    calib_images: int = typer.Option(200, help="Calibration images."),
    parity_images: int = typer.Option(300, help="Parity images."),
    allow_low_agreement: bool = typer.Option(False, help="Keep quantized artifacts whose top-1 "
                                             "agreement with Keras is below 99 %."),
    stem: str = typer.Option(None, help="File name stem of the artifacts (default: the model's "
                             "name, e.g. fingerspell-vgg16-ft)."),
    float_layer: list[str] = typer.Option([], help="Keras layer kept in float in the int8 ONNX "
                                          "(repeatable), e.g. block1_conv1."),
    float_from: str = typer.Option("auto", help="Keep this Keras layer and all after it in float "
                                   "in the int8 ONNX (int8 weights still); 'auto': the first "
                                   "layer the run fine-tuned; 'none': all int8."),
    tta: str = typer.Option("none", help="Test-time augmentation built into every artifact: "
                            "'flip' averages the image and its mirror (two passes), 'none'."),
) -> None:
    """Export ONNX fp32, ONNX int8 and TFLite int8, metadata inside, parity with Keras checked.

    Fails (exit 3) when fp32 ONNX differs from Keras on any top-1 or by more than 1e-4, or a
    quantized artifact agrees with Keras on fewer than 99 % of images.

    Example: fingerspell export runs/ship/model.keras --out exports/ship
    --calib ../shared/data/train/multi --parity ../shared/data/dev/massey
    """
    require_extra("tensorflow", "train")
    require_extra("tf2onnx", "train")
    from fingerspell_export.exporter import FORMATS, ExportError, ExportOptions
    from fingerspell_export.exporter import export as run_export
    from fingerspell_export.parity import table

    chosen = tuple(f.strip() for f in formats.split(",") if f.strip())
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        fail(f"unknown format(s) {unknown or formats!r}; choose from {', '.join(FORMATS)}", 2)
    for flag, value in (("--calib-images", calib_images), ("--parity-images", parity_images)):
        if value < 1:
            fail(f"{flag} must be at least 1, not {value}", 2)
    if stem is not None and (not stem or Path(stem).name != stem or stem in (".", "..")):
        fail(f"--stem must be a file name, not {stem!r}", 2)
    if out.exists() and not out.is_dir():
        fail(f"--out {out}: exists and is not a folder", 2)
    foreign = _not_an_export(out)
    if foreign:  # an export writes over its own files (a re-export), never over anything else
        fail(f"--out {out}: holds {foreign}, which export does not write; give a new or empty "
             "folder", 2)
    from fingerspell_train.dataset import discover

    for folder in (*calib, *parity):  # before the model loads and --out is created
        try:
            discover(folder)
        except FingerspellError as exc:
            report_error(exc)
    opts = ExportOptions(out_dir=out, calib_dirs=calib, parity_dirs=parity, formats=chosen,
                         calib_images=calib_images, parity_images=parity_images,
                         allow_low_agreement=allow_low_agreement, stem=stem,
                         float_layers=tuple(float_layer), float_from=float_from, tta=tta,
                         command=shlex.join(["fingerspell", *sys.argv[1:]]))
    try:
        rows = run_export(model, opts)
    except ExportError as exc:
        see = f" (see {out}/parity.txt)" if (out / "parity.txt").is_file() else ""
        fail(f"export failed: {exc}{see}", 3)
    except FingerspellError as exc:
        report_error(exc)
    except OSError as exc:
        fail(f"{exc.filename or model}: {exc.strerror or exc}", 3)
    except ValueError as exc:
        fail(f"{model}: {exc}", 3)
    typer.echo(table(rows), nl=False)


EXPORT_FILES = (".onnx", ".tflite", ".json", ".txt")  # artifacts, sidecars, parity.*, export.json


def _not_an_export(out: Path) -> str | None:
    """The first name in `out` that no export writes (a folder, or a file of another kind); None
    for a new, empty or earlier export folder. Hidden names (.DS_Store) do not count."""
    try:
        entries = sorted(out.iterdir()) if out.is_dir() else []
    except OSError as exc:
        fail(f"--out {out}: cannot list folder ({exc.strerror or exc})", 2)
    for e in entries:
        if e.name.startswith("."):
            continue
        if e.is_dir() or e.suffix.lower() not in EXPORT_FILES or (
                e.suffix.lower() == ".txt" and e.name != "parity.txt"):
            return e.name
    return None
