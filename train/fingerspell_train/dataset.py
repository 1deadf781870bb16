"""Find labelled images in folder-per-class roots.

A root holds one folder per class (`A` … `Z`, `del`, `nothing`, `space`); a class may be absent.
An optional `MANIFEST.csv` (columns `path`, `source_repo`) names the source of each image so that
whole sources can be held out; without it, the root is one source.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from fingerspell.errors import DatasetError
from fingerspell.files import class_named, image_files, is_hidden, natural_key
from fingerspell.schema import CLASSES


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int  # index into CLASSES
    source: str  # who recorded it: the manifest's source_repo, or the root's name

    @property
    def class_name(self) -> str:
        return CLASSES[self.label]


def _read_manifest(root: Path) -> dict[str, str]:
    manifest = root / "MANIFEST.csv"
    if not manifest.is_file():
        return {}
    try:
        with manifest.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{manifest}: cannot be read as a UTF-8 CSV ({exc})") from None
    if not rows:  # a header alone, or nothing: every image would silently be one source
        raise DatasetError(f"{manifest}: lists no images (remove it, or give one row per image)")
    if "path" not in rows[0]:
        raise DatasetError(f"{manifest}: no 'path' column (found {', '.join(map(str, rows[0]))})")
    return {row["path"]: row.get("source_repo") or root.name for row in rows}


def _folders(root: Path) -> tuple[dict[str, list[Path]], list[str]]:
    """Class name -> its folders in a root, and the names of the other folders. Case does not
    matter (`a/` is A, `Space/` is space), as in `fingerspell adapt`: a user's own folders were
    skipped for a lowercase name."""
    classes: dict[str, list[Path]] = {}
    others = []
    for p in sorted(root.iterdir()):
        if not p.is_dir():
            continue
        name = class_named(p.name)
        if name is None:
            others.append(p.name)
        else:
            classes.setdefault(name, []).append(p)
    return classes, others


def _images(folder: Path) -> list[Path]:
    """Image files under a class folder, its subfolders too (`A/monday/`, as adapt reads them),
    in natural order of their path in it; phone formats too, so that a photo Pillow cannot
    decode is counted as unreadable, not left out unsaid."""
    def unlisted(exc: OSError) -> None:
        raise DatasetError(f"{exc.filename}: cannot be listed ({exc.strerror or exc})")

    return sorted(image_files(folder, unlisted),
                  key=lambda p: natural_key(p.relative_to(folder).as_posix()))


def discover(root: Path | str, min_classes: int = 2) -> list[Sample]:
    """List the images under one folder-per-class root, sorted by class then natural name order."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a directory")
    try:
        class_dirs, unknown = _folders(root)
    except OSError as exc:
        raise DatasetError(f"{root}: cannot be listed ({exc.strerror or exc})") from None
    known = [c for c in CLASSES if c in class_dirs]
    if len(known) < min_classes:
        hint = f" (found folders {unknown[:5]})" if unknown else ""
        raise DatasetError(
            f"{root}: does not look like a dataset: expected one folder per class "
            f"({', '.join(CLASSES[:3])} … space), found {len(known)} class folders{hint}"
        )
    sources = _read_manifest(root)
    samples: list[Sample] = []
    for name in known:
        for d in class_dirs[name]:
            for p in _images(d):
                rel = p.relative_to(root).as_posix()
                samples.append(Sample(p, CLASSES.index(name), sources.get(rel, root.name)))
    if not samples:
        raise DatasetError(f"{root}: class folders hold no images")
    return samples


def root_notes(root: Path | str, samples: list[Sample]) -> list[str]:
    """What discover() left out of a root (`samples`, its answer), for a `note:` line each:
    folders not named after a class (with the nearest class name, `Spce` -> space), and class
    folders without an image."""
    import difflib

    root = Path(root)
    lower = {c.lower(): c for c in CLASSES}
    class_dirs, others = _folders(root)
    notes = []
    odd = [n for n in others if not is_hidden(n) and n != MASK_DIR]
    if odd:
        def named(n: str) -> str:
            near = difflib.get_close_matches(n.lower(), list(lower), n=1, cutoff=0.75)
            return f"{n} ({lower[near[0]]}?)" if near else n

        notes.append(f"{root}: ignored folder(s) not named after a class: "
                     + ", ".join(named(n) for n in odd[:8]) + (", …" if len(odd) > 8 else ""))
    used = {s.path.relative_to(root).parts[0] for s in samples}  # not a second walk of the root
    empty = [d.name for dirs in class_dirs.values() for d in dirs if d.name not in used]
    if empty:
        notes.append(f"{root}: class folder(s) with no image: {', '.join(empty)}")
    return notes


def discover_all(roots: list[Path | str]) -> list[Sample]:
    samples: list[Sample] = []
    for root in roots:
        samples.extend(discover(root))
    return samples


def class_counts(samples: list[Sample]) -> dict[str, int]:
    counts = Counter(s.class_name for s in samples)
    return {c: counts[c] for c in CLASSES if counts[c]}


def source_counts(samples: list[Sample]) -> dict[str, int]:
    return dict(sorted(Counter(s.source for s in samples).items()))


def person_of(s: Sample) -> str:
    """The person in a photo where the file name tells (massey: "hand3_..."), else its source."""
    head = s.path.name.split("_")[0]
    return head if head.startswith("hand") else s.source


MASK_DIR = "masks"  # hand masks written by tools/mask_dataset.py: ROOT/masks/<class>/<stem>.png


def mask_of(path: Path) -> Path:
    """Where the hand mask of an image in a folder-per-class root lives (it may not exist)."""
    return path.parent.parent / MASK_DIR / path.parent.name / (path.stem + ".png")


CROP_INDEX = "handcrop.json"  # written by tools/handcrop_dataset.py into a hand-cropped copy


def crop_of(roots: list[Path | str]) -> str:
    """'hand' when any root is a hand-cropped copy (tools/handcrop_dataset.py), else 'none'.

    A model that saw hand crops asks the runtime to crop where it can; one trained on crops and
    whole images together reads both, so mixing roots is allowed and also gives 'hand'.
    """
    return "hand" if any((Path(r) / CROP_INDEX).is_file() for r in roots) else "none"
