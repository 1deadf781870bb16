from __future__ import annotations

from fingerspell.results import Failure, Prediction
from fingerspell.spell import spell


def seq(*labels: str, conf: float = 0.9) -> list[Prediction]:
    return [Prediction(f"f{i}", lab, conf) for i, lab in enumerate(labels)]


def test_letters_space_del_and_repeats() -> None:
    assert spell(seq("H", "H", "I", "space", "Y", "O", "U")) == "HI YOU"
    assert spell(seq("A", "B", "del", "C")) == "AC"
    assert spell(seq("del", "A")) == "A"  # nothing to delete
    assert spell(seq("L", "O", "O", "K")) == "LOK"  # a held sign counts once
    assert spell(seq("L", "O", "nothing", "O", "K")) == "LOOK"  # nothing separates repeats


def test_low_confidence_frames_and_failures_are_ignored() -> None:
    frames = [*seq("A"), Prediction("x", "B", 0.2), *seq("A"),
              Failure("bad.jpg", "bad.jpg: not an image", "InputError", 1), *seq("C")]
    assert spell(frames, threshold=0.5) == "AC"
    assert spell(frames, threshold=0.1) == "ABAC"


def test_hold_lets_a_sign_count_only_once_read_in_that_many_frames() -> None:
    # a video's frame between H and I read as X; at 1 every change counts, as before
    frames = seq("H", "H", "X", "I", "I")
    assert spell(frames) == "HXI"
    assert spell(frames, hold=2) == "HI"
    assert spell(seq("L", "L", "nothing", "nothing", "L", "L"), hold=2) == "LL"
    assert spell(seq("L", "L", "nothing", "L", "L"), hold=2) == "L"  # nothing held too briefly
    # a frame below the threshold neither counts nor breaks the run
    assert spell([*seq("A"), Prediction("x", "B", 0.2), *seq("A")], hold=2) == "A"
    assert spell(seq("A", "B", "A", "B"), hold=2) == ""


def test_hold_must_be_a_count() -> None:
    import pytest

    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="hold"):
            spell(seq("A"), hold=bad)


def test_a_frame_at_the_threshold_counts_and_both_ends_are_thresholds() -> None:
    # frames *below* the threshold are ignored: one exactly at it is read
    assert spell(seq("A", "B", conf=0.5), threshold=0.5) == "AB"
    # "a number between 0 and 1": 1.0 is a threshold (only certain frames), as 0.0 is
    assert spell([*seq("A", conf=1.0), Prediction("x", "B", 0.99)], threshold=1.0) == "A"
    assert spell(seq("A", "B", conf=0.0), threshold=0.0) == "AB"
