from __future__ import annotations

from pathlib import Path

import pytest

from fingerspell.errors import DatasetError
from fingerspell.files import natural_key
from fingerspell.schema import CLASSES
from fingerspell_train.dataset import discover, discover_all
from fingerspell_train.split import block_split, make_split, random_split, source_split


def test_class_order_is_fixed() -> None:
    assert CLASSES[:3] == ("A", "B", "C") and CLASSES[25] == "Z"
    assert CLASSES[26:] == ("del", "nothing", "space") and len(CLASSES) == 29


def test_discover_reads_classes_sources_and_frame_order(tiny_dataset: Path) -> None:
    samples = discover(tiny_dataset)
    assert len(samples) == 6 * 30
    assert {s.class_name for s in samples} == {"A", "B", "C", "D", "E", "space"}
    assert {s.source for s in samples} == {"alice", "bob"}
    a = [s.path.name for s in samples if s.class_name == "A"]
    assert a == sorted(a, key=natural_key) and a.index("alice_A2.jpg") < a.index("alice_A10.jpg")


def test_discover_rejects_non_datasets(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a directory"):
        discover(tmp_path / "missing")
    (tmp_path / "cats").mkdir()
    (tmp_path / "dogs").mkdir()
    with pytest.raises(DatasetError, match="does not look like a dataset"):
        discover(tmp_path)
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    (tmp_path / "A" / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match="no images"):
        discover(tmp_path)


def test_without_manifest_the_root_is_the_source(tmp_path: Path) -> None:
    from synth import make_dataset

    root = make_dataset(tmp_path / "plain", per_class=4, classes=("A", "B"))
    (root / "MANIFEST.csv").unlink()
    assert {s.source for s in discover(root)} == {"plain"}


def test_block_split_holds_out_contiguous_blocks_with_gaps(tiny_dataset: Path) -> None:
    samples = discover(tiny_dataset)
    split = block_split(samples, val_fraction=0.2, gap=2, seed=1)
    train_paths = {s.path for s in split.train}
    assert not train_paths & {s.path for s in split.val}
    for src in ("alice", "bob"):
        for cls in range(29):
            group = sorted((s for s in samples if s.source == src and s.label == cls),
                           key=lambda s: natural_key(s.path.name))
            if not group:
                continue
            held = [i for i, s in enumerate(group) if s in split.val]
            assert held == list(range(held[0], held[0] + len(held)))  # one contiguous block
            for i in (held[0] - 1, held[0] - 2, held[-1] + 1, held[-1] + 2):
                if 0 <= i < len(group):  # neighbours of the block are on neither side
                    assert group[i].path not in train_paths
    assert split.dropped > 0
    assert len(split.train) + len(split.val) + split.dropped == len(samples)


def test_source_and_random_splits(tiny_dataset: Path) -> None:
    samples = discover(tiny_dataset)
    s = source_split(samples, ["bob"])
    assert {x.source for x in s.val} == {"bob"} and {x.source for x in s.train} == {"alice"}
    with pytest.raises(ValueError, match="unknown source"):
        source_split(samples, ["carol"])
    r = random_split(samples, 0.25, seed=3)
    assert len(r.val) == 45 and len(r.train) == 135
    assert r.val != random_split(samples, 0.25, seed=4).val
    with pytest.raises(ValueError, match="needs --holdout-source"):
        make_split(samples, "source")


def test_discover_all_concatenates_roots(tiny_dataset: Path, tmp_path: Path) -> None:
    from synth import make_dataset

    other = make_dataset(tmp_path / "other", per_class=3, classes=("A",), sources=("zed",))
    with pytest.raises(DatasetError):
        discover_all([tiny_dataset, other])  # a single class folder is not a dataset
    other2 = make_dataset(tmp_path / "other2", per_class=3, classes=("A", "B"), sources=("zed",))
    assert len(discover_all([tiny_dataset, other2])) == 180 + 6


def test_own_folders_are_read_as_a_user_makes_them(tmp_path: Path) -> None:
    from fingerspell_train.dataset import root_notes

    root = tmp_path / "mine"
    for rel in ("a/1.jpg", "B/monday/2.jpg", "B/tuesday/10.jpg", "B/tuesday/9.jpg",
                "space/IMG_1.HEIC", "Spce/3.jpg", "B/.thumbs/x.jpg"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    (root / "C").mkdir()
    got = [(s.class_name, s.path.relative_to(root).as_posix()) for s in discover(root)]
    # a lowercase folder, subfolders and phone photos were left out without a word
    assert got == [("A", "a/1.jpg"), ("B", "B/monday/2.jpg"), ("B", "B/tuesday/9.jpg"),
                   ("B", "B/tuesday/10.jpg"), ("space", "space/IMG_1.HEIC")]
    assert root_notes(root, discover(root)) == [
        f"{root}: ignored folder(s) not named after a class: Spce (space?)",
        f"{root}: class folder(s) with no image: C"]
