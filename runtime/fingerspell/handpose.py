"""The hand's pose as a second opinion beside the network.

MediaPipe Hands, which the runtime already runs to crop (fingerspell.handcrop), also gives 21
landmarks in metres. Reduced
to how each finger is bent and spread, where the fingertips are relative to the thumb's, and which
way the hand and each finger point, they describe a letter's hand shape whoever makes it and
whatever the room looks like: a small
classifier on them (the pose head, `fingerspell-pose.json`) errs elsewhere than the network, and
the product of the two's probabilities reads people never seen better than either.

This module is the contract between `tools/pose_head.py`, which fits a head and writes its
document, and the runtime, which reads it: the features, the document and the fusion live here
only. Numpy only; the hand is found by `fingerspell.handcrop`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fingerspell.errors import ModelError

POSE_SCHEMA = "fingerspell.pose"
POSE_SCHEMA_VERSION = 1
ADAPTED_SCHEMA_VERSION = 2  # a head adapted to some classes only (adapted_classes, layers_before)
# What a head's numbers are: a head is fed only the numbers it was fitted on. FEATURES_ID is
# the default (the shipped head's); FEATURES_THUMB adds where the thumb lies on the palm.
FEATURES_ID = "handpose-45/1: mediapipe-hands-0.10.21 world landmarks, handedness"
FEATURES_THUMB = "handpose-62/2: handpose-45/1 and the thumb in the palm's frame"
DEFAULT_POSE_HEAD = "fingerspell-pose.json"
WHOLE_SURE = 0.85  # how sure the whole photo's reading must be to stand, unless a head says
MAX_POSE_NUMBER = 1e6  # the largest magnitude a head's numbers may have (fitted ones: below 100)

FINGERS = ((0, 1, 2, 3, 4), (0, 5, 6, 7, 8), (0, 9, 10, 11, 12), (0, 13, 14, 15, 16),
           (0, 17, 18, 19, 20))
# neighbouring fingers' first bones: thumb/index, index/middle, middle/ring, ring/little
SPREAD = (((2, 3), (5, 6)), ((5, 6), (9, 10)), ((9, 10), (13, 14)), ((13, 14), (17, 18)))
TIPS = ((4, 8), (4, 12), (4, 16), (4, 20), (8, 12))  # thumb to each fingertip; index to middle
NUM_FEATURES = 15 + len(SPREAD) + len(TIPS)
# which way they point: the hand (wrist to the middle finger's base), the palm's normal, and each
# finger (its base to its tip); ASL tells some letters apart by this alone (K/P, U/H, G/Q)
DIRECTIONS = ((0, 9), (2, 4), (5, 8), (9, 12), (13, 16), (17, 20))
HEAD_FEATURES = NUM_FEATURES + 3 * (len(DIRECTIONS) + 1)
# where the thumb lies on the palm tells apart the fists (A, E, M, N, S, T): the distances from its
# tip to the joints of the other fingers, and its tip and last joint in the palm's own axes
THUMB_TO = (5, 6, 7, 9, 10, 11, 13, 14, 15, 17, 18)
FEATURE_WIDTHS = {FEATURES_ID: HEAD_FEATURES, FEATURES_THUMB: HEAD_FEATURES + 6 + len(THUMB_TO)}


def _cos(u: np.ndarray, v: np.ndarray) -> float:
    return float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-9))


def pose_features(points: Any) -> np.ndarray:
    """21 landmarks (x, y, z) → 24 numbers that do not change under a shift, scale, rotation or
    mirror image: the cosine of each finger's three joint angles, of the angles between
    neighbouring fingers, and the fingertip distances above divided by the palm's length."""
    p = np.asarray(points, np.float64)
    if p.shape != (21, 3):
        raise ValueError(f"pose_features takes 21 landmarks (x, y, z), got shape {p.shape}")
    out = []
    for chain in FINGERS:
        for j in range(1, 4):
            out.append(_cos(p[chain[j]] - p[chain[j - 1]], p[chain[j + 1]] - p[chain[j]]))
    for (a, b), (c, d) in SPREAD:
        out.append(_cos(p[b] - p[a], p[d] - p[c]))
    palm = np.linalg.norm(p[9] - p[0]) + 1e-9
    out.extend(float(np.linalg.norm(p[a] - p[b]) / palm) for a, b in TIPS)
    return np.array(out, np.float32)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) + 1e-9)


def hand_features(points: Any, right: bool, features: str = FEATURES_ID) -> np.ndarray:
    """The pose head's numbers: `pose_features` and the directions above, as unit vectors in
    MediaPipe's camera-aligned axes, then (FEATURES_THUMB) the thumb on the palm. A left hand is
    mirrored into a right one first (by MediaPipe's handedness), so either hand signing a letter
    gives the same numbers. `features` names the set a head was fitted on."""
    if features not in FEATURE_WIDTHS:
        raise ValueError(f"unknown pose features {features!r}")
    p = np.array(points, np.float64)
    shape = pose_features(p)
    if not right:
        p[:, 0] = -p[:, 0]
    dirs = [_unit(p[b] - p[a]) for a, b in DIRECTIONS]
    dirs.insert(1, _unit(np.cross(p[5] - p[0], p[17] - p[0])))  # the palm's normal
    if features == FEATURES_ID:
        return np.concatenate([shape, *dirs]).astype(np.float32)
    q = palm_frame(p)
    thumb = [np.linalg.norm(q[4] - q[j]) for j in THUMB_TO]
    return np.concatenate([shape, *dirs, q[4], q[3], thumb]).astype(np.float32)


def palm_frame(p: np.ndarray) -> np.ndarray:
    """The landmarks in the palm's axes (wrist at 0; y to the middle finger's base, x across the
    knuckles from little to index, z out of the palm) in palm lengths: the same whatever way
    the hand is turned to the camera."""
    y = _unit(p[9] - p[0])
    across = p[5] - p[17]
    x = _unit(across - y * np.dot(across, y))
    axes = np.stack([x, y, np.cross(x, y)], axis=1)
    return (p - p[0]) @ axes / (np.linalg.norm(p[9] - p[0]) + 1e-9)


@dataclass
class PoseHead:
    """A small MLP on the standardised pose numbers, and how its probabilities are tempered."""

    labels: list[str]
    mean: np.ndarray
    scale: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]  # (weight [in, out], bias [out]); ReLU between
    temperature: float = 1.0
    uniform_mix: float = 0.0  # share of a flat distribution mixed in: no class ruled out by pose
    # read the photo's mirror image too: MediaPipe errs differently on it, and the numbers of a
    # mirrored hand are the same letter's, so the two views' scores are averaged
    mirror: bool = False
    # and the photo turned by these degrees (the landmarks turned back): more of MediaPipe's
    # readings of the same hand, each a pass
    turns: list[float] = field(default_factory=list)
    # and the photo with this share of each side added (edge pixels repeated): the hand smaller in
    # what MediaPipe searches, so its palm box, and the landmarks, come out otherwise again
    pads: list[float] = field(default_factory=list)
    # the other views are looked at only where the photo's own leaves the head below this
    # probability (None: always): a sure first reading is rarely changed by them, and each view
    # is a MediaPipe pass
    views_below: float | None = None
    # where the fused answer stays below whole_below, the network also reads the whole photo, and
    # an answer at least whole_sure sure replaces it (None: never): the crop can cut off what the
    # network knows a photo by (a hand bent down, a fingertip taken for the palm), and a network
    # that unsure of strangers' whole photos is rarely this sure of them
    whole_below: float | None = None
    whole_sure: float = WHOLE_SURE
    # where no look finds a hand, the network's `nothing` is multiplied by this (then
    # renormalised; 1: never): the finder's finding no hand is evidence of an empty scene, which
    # a network that saw 79 empty frames of one wall underrates in other rooms
    no_hand_nothing: float = 1.0
    features: str = FEATURES_ID  # the numbers it was fitted on (FEATURE_WIDTHS)
    # a head adapted to photos of some classes only (fingerspell.adapt): `layers` decide only
    # among `adapted_classes`, and the layers it was adapted from (`layers_before`) still share
    # each hand's probability between those classes together and the others. Fine-tuned alone on
    # some letters, a head reads every hand as one of them (README, "Your own hand").
    adapted_classes: list[str] | None = None
    layers_before: list[tuple[np.ndarray, np.ndarray]] | None = None
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def numbers(self, points: Any, right: bool) -> np.ndarray:
        """The numbers this head reads for one hand's 21 world landmarks and handedness."""
        return hand_features(points, right, self.features)

    def logits(self, features: np.ndarray, layers: list | None = None) -> np.ndarray:
        """[N, width] numbers (`numbers`) → [N, classes] scores before the softmax (of `layers`,
        default the head's own)."""
        layers = self.layers if layers is None else layers
        x = (np.asarray(features, np.float64) - self.mean) / self.scale
        for i, (w, b) in enumerate(layers):
            x = x @ w + b
            if i < len(layers) - 1:
                x = np.maximum(x, 0.0)
        return x

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """[N, width] numbers (`numbers`) → [N, classes] tempered probabilities."""
        return self._calibrated(features, views=False).astype(np.float32)

    def probabilities_of_views(self, features: np.ndarray) -> np.ndarray:
        """[V, width] numbers of one hand seen V ways (the photo, its mirror image, turned) →
        [classes]: the views' scores averaged before the softmax, then tempered."""
        return self._calibrated(features, views=True)[0].astype(np.float32)

    def _calibrated(self, features: np.ndarray, views: bool) -> np.ndarray:
        """Tempered probabilities [N, classes] (views: [1, classes], the scores averaged over the
        rows first); for a head adapted to some classes, those classes' share taken from the
        layers it was adapted from, and shared out among them by its own."""
        def scores(layers: list | None) -> np.ndarray:
            z = self.logits(features, layers)
            return z.mean(axis=0, keepdims=True) if views else z

        p = tempered(scores(None), self.temperature, self.uniform_mix)
        if self.adapted_classes is None or self.layers_before is None:
            return p
        inside = np.isin(self.labels, self.adapted_classes)
        out = tempered(scores(self.layers_before), self.temperature, self.uniform_mix)
        share = out[:, inside].sum(axis=1, keepdims=True)
        mine = p[:, inside]
        total = mine.sum(axis=1, keepdims=True)  # 0 only where no flat mix and all underflow
        out[:, inside] = share * np.where(total > 0, mine / np.where(total > 0, total, 1),
                                          1 / inside.sum())
        return out

    @property
    def extra_looks(self) -> int:
        """How many MediaPipe passes this head asks for beyond the photo's own."""
        return self.mirror + len(self.turns) + len(self.pads)

    def wants_more_views(self, photo: np.ndarray) -> bool:
        """Whether the other views are worth their passes, given the numbers [width] of the
        hand in the photo itself."""
        return bool(self.extra_looks) and (
            self.views_below is None or self.probabilities(photo[None])[0].max() < self.views_below)

    def reads_whole(self, fused: np.ndarray) -> bool:
        """Whether the network should read the whole photo too, given the fused answer
        [classes] for the hand's crop."""
        return self.whole_below is not None and float(np.max(fused)) < self.whole_below

    def whole_stands(self, whole: np.ndarray) -> bool:
        """Whether the network's reading of the whole photo [classes] is sure enough to be the
        answer (`reads_whole` asked for it)."""
        return float(np.max(whole)) >= self.whole_sure

    def settled(self, fused: np.ndarray, whole: np.ndarray) -> np.ndarray:
        """The answer once the network has read the whole photo too (`reads_whole`): its own
        where it stands (`whole_stands`), else the fused one."""
        return whole if self.whole_stands(whole) else fused

    @property
    def weighs_nothing(self) -> bool:
        """Whether a photo with no hand found reads otherwise than the network alone."""
        return self.no_hand_nothing != 1.0 and "nothing" in self.labels

    def no_hand(self, probs: np.ndarray) -> np.ndarray:
        """The answer where no look found a hand: the network's probabilities [classes] with
        `nothing` weighted by `no_hand_nothing`, renormalised."""
        if not self.weighs_nothing:
            return probs
        p = np.asarray(probs, np.float64).copy()
        p[self.labels.index("nothing")] *= self.no_hand_nothing
        return (p / p.sum()).astype(np.float32)

    def no_hand_text(self) -> str:
        """What is read where no hand is found, in words ('' for the network alone)."""
        if not self.weighs_nothing:
            return ""
        return (f"where no hand is found, the network's `nothing` counts {self.no_hand_nothing:g} "
                f"times")

    def whole_text(self) -> str:
        """When the whole photo is read too, in words ('' for never)."""
        if self.whole_below is None:
            return ""
        return (f"where the fused answer stays below {100 * self.whole_below:g} %, the network "
                f"also reads the whole photo, and its answer stands where it is at least "
                f"{100 * self.whole_sure:g} % sure")

    def views(self) -> str:
        """The views of a photo MediaPipe is run on for this head, in words."""
        views = ["the photo", *(["its mirror image"] if self.mirror else []),
                 *(f"the photo turned {t:+g}°" for t in self.turns),
                 *(f"the photo with {100 * p:g} % more on each side" for p in self.pads)]
        text = views[0] if len(views) == 1 else ", ".join(views[:-1]) + " and " + views[-1]
        if self.views_below is not None and len(views) > 1:
            text += (f"; the others only where the photo's own view leaves the head below "
                     f"{100 * self.views_below:g} %")
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": POSE_SCHEMA, "schema_version": POSE_SCHEMA_VERSION, "features": self.features,
            "labels": list(self.labels), "mean": _rounded(self.mean), "scale": _rounded(self.scale),
            "layers": [{"weight": _rounded(w), "bias": _rounded(b)} for w, b in self.layers],
            "temperature": self.temperature, "uniform_mix": self.uniform_mix, "mirror": self.mirror,
            "turns": list(self.turns), "pads": list(self.pads), "views_below": self.views_below,
            "whole_below": self.whole_below, "whole_sure": self.whole_sure,
            "no_hand_nothing": self.no_hand_nothing,
            "fusion": "product of the network's and these probabilities, renormalised",
            "training": self.training, "metrics": self.metrics,
        } | ({} if self.adapted_classes is None else {
            # a runtime that would read the adapted layers alone refuses version 2
            "schema_version": ADAPTED_SCHEMA_VERSION, "adapted_classes": list(self.adapted_classes),
            "layers_before": [{"weight": _rounded(w), "bias": _rounded(b)}
                              for w, b in self.layers_before or []]})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True, default=float) + "\n")

    @classmethod
    def from_dict(cls, data: Any, name: str = "pose head") -> PoseHead:
        def bad(why: str) -> ModelError:
            return ModelError(f"{name}: {why}")

        if not isinstance(data, dict) or data.get("schema") != POSE_SCHEMA:
            raise bad("not a fingerspell pose head")
        if data.get("schema_version") not in (POSE_SCHEMA_VERSION, ADAPTED_SCHEMA_VERSION):
            raise bad(f"pose head schema_version {data.get('schema_version')!r} is not "
                      f"{POSE_SCHEMA_VERSION} or {ADAPTED_SCHEMA_VERSION}; upgrade fingerspell")
        if not isinstance(data.get("features"), str) or data["features"] not in FEATURE_WIDTHS:
            raise bad(f"fitted on other features ({data.get('features')!r}, this fingerspell "
                      f"computes {' or '.join(map(repr, FEATURE_WIDTHS))}); upgrade fingerspell")
        try:
            layers = [(np.asarray(d["weight"], np.float64), np.asarray(d["bias"], np.float64))
                      for d in data["layers"]]
            head = cls(labels=[str(x) for x in data["labels"]],
                       mean=np.asarray(data["mean"], np.float64),
                       scale=np.asarray(data["scale"], np.float64), layers=layers,
                       temperature=float(data["temperature"]),
                       uniform_mix=float(data["uniform_mix"]),
                       mirror=_flag(data.get("mirror", False)), features=data["features"],
                       turns=_turns(data.get("turns", [])), pads=_pads(data.get("pads", [])),
                       views_below=_share_or_none(data.get("views_below")),
                       whole_below=_share_or_none(data.get("whole_below"), "whole_below"),
                       whole_sure=_share(data.get("whole_sure", WHOLE_SURE), "whole_sure"),
                       no_hand_nothing=_no_hand_weight(data.get("no_hand_nothing", 1.0)),
                       training=dict(data.get("training") or {}),
                       metrics=dict(data.get("metrics") or {}))
            if data["schema_version"] == ADAPTED_SCHEMA_VERSION:
                if not isinstance(data["adapted_classes"], list):  # "AB" read as ['A', 'B']
                    raise TypeError("adapted_classes must be a list of labels")
                head.adapted_classes = [str(x) for x in data["adapted_classes"]]
                head.layers_before = [(np.asarray(d["weight"], np.float64),
                                       np.asarray(d["bias"], np.float64))
                                      for d in data["layers_before"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise bad(f"malformed pose head: {exc}") from None
        if head.adapted_classes is not None and not (
                head.adapted_classes and set(head.adapted_classes) <= set(head.labels)
                and len(set(head.adapted_classes)) == len(head.adapted_classes)
                and [w.shape for w, _ in head.layers_before or []] == [w.shape for w, _ in layers]
                and [b.shape for _, b in head.layers_before or []] == [b.shape for _, b in layers]):
            raise bad("adapted_classes must be some of its labels, and layers_before shaped as "
                      "its layers")
        width = FEATURE_WIDTHS[head.features]
        shapes_ok = head.mean.shape == head.scale.shape == (width,) and bool(layers)
        for w, b in layers:
            shapes_ok = shapes_ok and w.ndim == 2 and w.shape[0] == width and b.shape == (w.shape[1],)
            width = w.shape[1] if w.ndim == 2 else -1
        if not shapes_ok or width != len(head.labels):
            raise bad(f"layer shapes do not chain from {FEATURE_WIDTHS[head.features]} numbers "
                      "to one score per label")
        if not (head.temperature > 0 and 0 <= head.uniform_mix < 1 and np.all(head.scale > 0)):
            raise bad("temperature, uniform_mix or scale out of range")
        # a NaN or an infinity (JSON's NaN/Infinity, which Python reads) made the head read nothing,
        # silently, or numpy warn on stderr; no fitted head comes near these bounds
        numbers = [head.mean, head.scale, *(a for pair in [*layers, *(head.layers_before or [])]
                                            for a in pair)]
        if not (np.isfinite(head.temperature) and all(
                np.isfinite(a).all() and np.abs(a).max(initial=0) <= MAX_POSE_NUMBER for a in numbers)):
            raise bad(f"numbers that are not finite or beyond ±{MAX_POSE_NUMBER:g} (temperature, "
                      "mean, scale or weights)")
        return head

    @classmethod
    def load(cls, path: Path) -> PoseHead:
        try:
            data = json.loads(Path(path).read_text())
        except OSError as exc:  # its strerror: str(exc) names the path a second time
            raise ModelError(f"{path}: cannot read pose head ({exc.strerror or exc})") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{path}: cannot read pose head ({exc})") from None
        return cls.from_dict(data, str(path))


def tempered(logits: np.ndarray, temperature: float, uniform_mix: float) -> np.ndarray:
    """Softmax of logits / temperature, with a share of a flat distribution mixed in."""
    z = np.asarray(logits, np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    return (1 - uniform_mix) * p + uniform_mix / p.shape[-1]


def fuse(network: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Product of the two probability vectors (the same class order), renormalised."""
    net = np.asarray(network, np.float64)
    p = net * np.asarray(pose, np.float64)
    total = p.sum(axis=-1, keepdims=True)
    # a pose head with no uniform mix can rule out every class the network allows: keep the network
    return np.where(total > 0, p / np.where(total > 0, total, 1), net).astype(np.float32)


def _flag(value: Any) -> bool:
    """A JSON true/false (absent in heads written before the option: false)."""
    if not isinstance(value, bool):
        raise ValueError(f"mirror must be true or false, not {value!r}")
    return value


def _turns(value: Any) -> list[float]:
    """A JSON list of at most 4 angles in degrees, each within ±90 (absent before the option: [])."""
    if not isinstance(value, list) or len(value) > 4 or not all(
            isinstance(t, (int, float)) and not isinstance(t, bool) and 0 < abs(t) <= 90 for t in value):
        raise ValueError(f"turns must be a list of at most 4 angles, 0 < |degrees| <= 90, not {value!r}")
    return [float(t) for t in value]


def _pads(value: Any) -> list[float]:
    """A JSON list of at most 2 shares, each in (0, 1] (absent before the option: [])."""
    if not isinstance(value, list) or len(value) > 2 or not all(
            isinstance(p, (int, float)) and not isinstance(p, bool) and 0 < p <= 1 for p in value):
        raise ValueError(f"pads must be a list of at most 2 shares, 0 < share <= 1, not {value!r}")
    return [float(p) for p in value]


def _share_or_none(value: Any, name: str = "views_below") -> float | None:
    """A probability in (0, 1], or null (absent before the option: null, every view read; no
    whole-photo reading)."""
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 1:
        raise ValueError(f"{name} must be a probability, 0 < p <= 1, or null, not {value!r}")
    return float(value)


def _share(value: Any, name: str) -> float:
    """A probability in (0, 1]."""
    share = _share_or_none(value, name)
    if share is None:
        raise ValueError(f"{name} must be a probability, 0 < p <= 1, not null")
    return share


def _no_hand_weight(value: Any) -> float:
    """A weight from 1 to 1000 (absent before the option: 1, the network alone)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 1 <= value <= 1000:
        raise ValueError(f"no_hand_nothing must be a number from 1 to 1000, not {value!r}")
    return float(value)


def _rounded(a: np.ndarray) -> list:
    """The numbers to 6 significant digits: the file stays small and the answers do not move."""
    return np.vectorize(lambda v: float(f"{v:.6g}"), otypes=[float])(a).tolist()
