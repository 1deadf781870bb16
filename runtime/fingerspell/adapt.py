"""Adapt the pose head to one person's hand, from a few labelled photos of it (numpy only).

    fingerspell adapt my-letters/ --out my-hand.json    # my-letters/A/*.jpg, my-letters/B/*.jpg …
    fingerspell predict photo.jpg --pose my-hand.json

    from fingerspell import Recognizer
    from fingerspell.adapt import adapt
    mine = adapt(Recognizer(), [("a1.jpg", "A"), ("b1.jpg", "B"), …]).head  # any source, a label
    Recognizer(pose=mine).predict("photo.jpg")            # or mine.save("my-hand.json")

The bundled head learned hand shapes from the people of its training sources; a person it never
saw holds some letters otherwise. Fine-tuning it on that person's own photos (each photo's hand
as the head reads it: the photo, its mirror image, turned) for a few hundred small steps, its
weights held near the bundled ones, reads that person's later photos far better (docs/adapt.md;
README, "Your own hand"). Half of the loss is taken on the answer the runtime gives, the head
fused with the network's reading of the photo, so the head learns most where the network
misreads this person. The network is not changed: the adapted head is a pose head file like
the bundled one, with the same calibration and views, which `--pose` and `Recognizer(pose=…)`
take.
"""

from __future__ import annotations

import copy
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from fingerspell.errors import DatasetError, FingerspellError
from fingerspell.handpose import PoseHead, fuse
from fingerspell.sources import Source

STEPS = 400  # Adam steps on the user's rows: chosen on held-out sources (docs/adapt.md)
LEARNING_RATE = 1e-3
ANCHOR = 1e-3  # L2 pull towards the weights adapted from: a few photos must not undo them
# share of the loss taken on the answer fused with the network, the rest on the head alone: the
# head learns where the network misreads this person, and still reads well alone (docs/adapt.md)
FUSED_SHARE = 0.5
BATCH = 64
CHECK_FOLDS = 5
NETWORK_BATCH = 8  # photos per network pass, as predict's default
# classes a head is adapted to in full without photos of them (`fitted`): no letters, and many
# users never sign them
OPTIONAL = ("del", "nothing", "space")


@dataclass
class Enrolment:
    """The usable photos: each one's pose numbers (its own look, then each other view's where a
    hand is found), its class, and the network's probabilities for its hand crop."""

    names: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    views: list[np.ndarray] = field(default_factory=list)  # per photo [views, features]
    network: list[np.ndarray] = field(default_factory=list)  # per photo [classes]

    def rows(self, photos: Iterable[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The training rows of these photos: (numbers [rows, features], class [rows], the
        network's probabilities for the row's photo [rows, classes])."""
        chosen = list(photos)
        per_photo = [len(self.views[i]) for i in chosen]  # a photo's class and network answer, per row
        return (np.concatenate([self.views[i] for i in chosen]),
                np.repeat([self.labels[i] for i in chosen], per_photo),
                np.repeat(np.stack([self.network[i] for i in chosen]), per_photo, axis=0))


@dataclass
class Check:
    """Each photo read by a head adapted without it (`CHECK_FOLDS` folds of the photos), against
    the head adapted from, both fused with the network on the photo's hand crop."""

    photos: int
    before: int  # right with the head adapted from
    after: int  # right with a head adapted without the photo
    # the photos still read wrong after: (photo, its class, what it was read as), in photo order
    misread: list[tuple[str, str, str]] = field(default_factory=list)

    def letters_misread(self) -> list[tuple[str, int, list[str]]]:
        """(class, photos of it read wrong, what they were read as), the most misread first: where
        more photos help most."""
        by: dict[str, list[str]] = {}
        for _, want, got in self.misread:
            by.setdefault(want, []).append(got)
        return sorted(((k, len(v), sorted(set(v))) for k, v in by.items()), key=lambda r: (-r[1], r[0]))


def labelled_photos(folder: Path, labels: list[str]) -> tuple[list[tuple[Path, str]], list[str]]:
    """(photo, class) for each image in a folder per class (its subfolders too, such as A/day1/),
    and a line for each subfolder whose name is no class (case does not matter: `a/` is A,
    `Space/` is space) or that cannot be listed. Phone formats Pillow may not read are listed,
    so that they are reported, not skipped; hidden names are not read (files.is_hidden)."""
    from fingerspell.files import LOOKED_FOR, image_files, is_hidden, is_image_name, natural_key

    try:
        is_folder = folder.is_dir()
    except OSError as exc:  # under a folder this user cannot enter
        raise DatasetError(f"{folder}: cannot list folder ({exc.strerror or exc})") from None
    if not is_folder:
        raise DatasetError(f"{folder}: not a folder (adapt takes a folder with a subfolder per "
                           "letter: A/, B/, …)")
    by_name = {label.lower(): label for label in labels}
    photos, problems = [], []
    try:
        entries = sorted((d for d in folder.iterdir() if not is_hidden(d.name)),
                         key=lambda d: natural_key(d.name))
        subfolders = [d for d in entries if d.is_dir()]
    except OSError as exc:
        raise DatasetError(f"{folder}: cannot list folder ({exc.strerror or exc})") from None
    # a photo beside the letter folders has no letter: said, not skipped in silence
    # (only photos: Windows' desktop.ini and Thumbs.db there were failures, exit 1)
    problems.extend(f"{d}: not in a letter folder (A/, B/, …); not used" for d in entries
                    if d not in subfolders and is_image_name(d.name))

    def unlisted(exc: OSError) -> None:  # os.walk's errors name the folder
        problems.append(f"{exc.filename}: cannot list folder ({exc.strerror or exc})")

    for d in subfolders:
        if d.name.lower() not in by_name:
            problems.append(f"{d}: not a class ({_classes(labels)}); its photos are not used")
            continue
        # as training reads a class folder: subfolders too, symlinked and hidden ones not
        files = sorted(image_files(d, unlisted), key=lambda p: natural_key(str(p.relative_to(d))))
        photos.extend((p, by_name[d.name.lower()]) for p in files)
    if not photos and not problems:
        raise DatasetError(f"{folder}: no photos in a folder per letter (A/, B/, …; images "
                           f"{LOOKED_FOR})")
    return photos, problems


def enrol(rec: Any, photos: Iterable[tuple[Source, str]],
          on_failure: Callable[[str], None] = lambda _: None,
          on_photo: Callable[[], None] = lambda: None) -> Enrolment:
    """Find the hand in each photo and in the other views its pose head reads (the mirror image,
    the photo turned), as `rec` (a Recognizer with a pose head) finds hands, and read its crop
    with `rec`'s network. A photo that cannot be read, shows no hand or has a label that is no
    class of `rec` is reported to `on_failure` (one line naming it) and left out; `on_photo` is
    called after each photo (a progress bar)."""
    index = {label.lower(): i for i, label in enumerate(rec.labels)}
    out = Enrolment()
    pixels = []
    for source, label in photos:
        _enrol_one(rec, source, label, index, out, pixels, on_failure)
        on_photo()
    for start in range(0, len(pixels), NETWORK_BATCH):  # a batch's activations, not a folder's
        out.network.extend(rec.probabilities(np.stack(pixels[start:start + NETWORK_BATCH])))
    return out


def _enrol_one(rec: Any, source: Source, label: Any, index: dict[str, int], out: Enrolment,
               pixels: list[np.ndarray], on_failure: Callable[[str], None]) -> None:
    """One photo of `enrol`: its views and labels into `out`, its crop into `pixels`, or one
    line to `on_failure`."""
    from fingerspell.sources import describe

    name = describe(source)
    if not isinstance(label, str) or label.lower() not in index:
        on_failure(f"{name}: label {label!r} is not a class ({_classes(rec.labels)})")
        return
    try:
        px, seen = _looked(rec.hand_finder, rec.pose_head, source, rec.size, rec.fetcher)
    except FingerspellError as exc:
        on_failure(str(exc))
        return
    if not seen:
        on_failure(f"{name}: no hand found (a closer, brighter photo of the hand may be found)")
        return
    out.names.append(name)
    out.labels.append(index[label.lower()])
    out.views.append(np.stack([rec.pose_head.numbers(h.world, h.right) for h in seen]))
    pixels.append(px)


def _classes(labels: list[str]) -> str:
    from fingerspell.schema import CLASSES

    return "A–Z, del, nothing, space" if list(labels) == list(CLASSES) else ", ".join(labels)


def _looked(hands: Any, head: PoseHead, source: Source, size: tuple[int, int], fetcher: Any
            ) -> tuple[np.ndarray, list[Any]]:
    """The network's input (the crop around the hand) and the hands found in the photo and in
    each other view the head reads (its mirror image, turned: `other_looks`), all of them, as
    the runtime looks where the photo's own reading is unsure."""
    from fingerspell.handcrop import cropped, other_looks
    from fingerspell.sources import load_pixels

    seen: list[Any] = []

    def look(img: Any) -> Any:
        first = hands.look(img)
        seen[:] = [h for h in (first, *other_looks(hands, img, first, head)) if h is not None]
        return cropped(img, seen[0]) if seen else img

    return load_pixels(source, size, fetcher=fetcher, crop=look), seen


def mlp_gradients(params: list[np.ndarray], x: np.ndarray, onehot: np.ndarray,
                  fused: FusedLoss | None = None) -> list[np.ndarray]:
    """Softmax cross-entropy gradients of a one-hidden-layer ReLU MLP [w1, b1, w2, b2] on a
    batch (standardised numbers [N, width], one-hot classes [N, classes]), mean over the batch;
    with `fused`, its share of the loss taken on the answer fused with the network instead.
    Shared with tools/pose_head.py, which fits the bundled head."""
    w1, b1, w2, b2 = params
    h = np.maximum(x @ w1 + b1, 0)
    z = h @ w2 + b2
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    g = p - onehot
    if fused is not None:
        g = (1 - fused.share) * g + fused.share * fused.logit_gradient(z, onehot)
    g = g / len(x)
    gh = g @ w2.T * (h > 0)
    return [x.T @ gh, gh.sum(0), h.T @ g, g.sum(0)]


@dataclass
class FusedLoss:
    """Cross-entropy of the answer the runtime gives for a row: the network's probabilities
    (fixed) times the head's, tempered and mixed with a flat share as the head reads."""

    network: np.ndarray  # the rows' network probabilities [N, classes]
    temperature: float
    uniform_mix: float
    share: float = FUSED_SHARE

    def batch(self, rows: np.ndarray) -> FusedLoss:
        return replace(self, network=self.network[rows])

    def logit_gradient(self, z: np.ndarray, onehot: np.ndarray) -> np.ndarray:
        """d loss / d logits [N, classes], per row."""
        from fingerspell.handpose import tempered

        q = tempered(z, self.temperature, 0.0)
        r = (1 - self.uniform_mix) * q + self.uniform_mix / z.shape[1]
        f = np.log(np.maximum(self.network, 1e-12)) + np.log(r)
        f = np.exp(f - f.max(1, keepdims=True))
        f /= f.sum(1, keepdims=True)
        # through log r = log((1 - mix) softmax(z / T) + mix / C)
        g = (f - onehot) / r * q
        return (1 - self.uniform_mix) / self.temperature * (g - q * g.sum(1, keepdims=True))


def adam_step(params: list[np.ndarray], grads: list[np.ndarray], m: list[np.ndarray],
              v: list[np.ndarray], step: int, learning_rate: float) -> None:
    """One Adam update (0.9, 0.999, 1e-8) of `params` in place; `m`, `v` its moments, `step` from 1."""
    for i, grad in enumerate(grads):
        m[i] = 0.9 * m[i] + 0.1 * grad
        v[i] = 0.999 * v[i] + 0.001 * grad * grad
        params[i] -= learning_rate * (m[i] / (1 - 0.9 ** step)) / (
            np.sqrt(v[i] / (1 - 0.999 ** step)) + 1e-8)


def adapt_head(base: PoseHead, x: np.ndarray, y: np.ndarray, network: np.ndarray | None = None,
               steps: int = STEPS, learning_rate: float = LEARNING_RATE, anchor: float = ANCHOR,
               seed: int = 0) -> PoseHead:
    """`base` fine-tuned on the rows (pose numbers, class index): softmax cross-entropy, Adam,
    batches of `BATCH`, and an L2 pull of `anchor` towards the base weights. With `network`
    (each row's network probabilities [rows, classes]), `FUSED_SHARE` of the loss is taken on
    the fused answer (`FusedLoss`). Same standardisation, calibration and views as `base`."""
    if len(base.layers) != 2:
        raise ValueError(f"adapt_head takes a one-hidden-layer head, not {len(base.layers) - 1} hidden")
    rng = np.random.default_rng(seed)
    xs = (np.asarray(x, np.float64) - base.mean) / base.scale
    start = [np.asarray(a, np.float64) for layer in base.layers for a in layer]
    params = [a.copy() for a in start]
    m = [np.zeros_like(a) for a in params]
    v = [np.zeros_like(a) for a in params]
    onehot = np.eye(len(base.labels))[np.asarray(y)]
    fused = None if network is None else FusedLoss(np.asarray(network, np.float64),
                                                   base.temperature, base.uniform_mix)
    for step in range(1, steps + 1):
        b = rng.choice(len(xs), min(BATCH, len(xs)), replace=False)
        grads = mlp_gradients(params, xs[b], onehot[b], None if fused is None else fused.batch(b))
        adam_step(params, [g + anchor * (p - p0) for g, p, p0 in zip(grads, params, start, strict=True)],
                  m, v, step, learning_rate)
    return replace(copy.deepcopy(base), layers=[(params[0], params[1]), (params[2], params[3])])


def fitted(base: PoseHead, x: np.ndarray, y: np.ndarray, network: np.ndarray | None = None
           ) -> PoseHead:
    """`adapt_head`; where some letters (classes but `OPTIONAL`) have no rows, a head adapted to
    the others only (`PoseHead.adapted_classes`: the classes with rows and `OPTIONAL`), since
    fine-tuned alone it would read those letters' hands as letters it was shown."""
    head = adapt_head(base, x, y, network)
    have = {base.labels[i] for i in np.unique(y)} | set(OPTIONAL)
    if any(label not in have for label in base.labels):
        head.adapted_classes = [label for label in base.labels if label in have]
        head.layers_before = copy.deepcopy(base.layers)
    return head


def check(base: PoseHead, enrolled: Enrolment, folds: int = CHECK_FOLDS, seed: int = 0) -> Check:
    """Each photo read by a head adapted on the other folds' photos, fused with the network (the
    photo's own view only, no whole-photo reading), against `base` read the same way."""
    n = len(enrolled.names)
    fold = np.random.default_rng(seed).permutation(n) % min(folds, n)
    before = after = 0
    misread: dict[int, tuple[str, str, str]] = {}
    for k in np.unique(fold):
        rest = np.flatnonzero(fold != k)
        head = fitted(base, *enrolled.rows(rest)) if len(rest) else base
        for i in np.flatnonzero(fold == k):
            net = enrolled.network[i]
            want = enrolled.labels[i]
            before += int(fuse(net, base.probabilities_of_views(enrolled.views[i][:1])).argmax() == want)
            got = int(fuse(net, head.probabilities_of_views(enrolled.views[i][:1])).argmax())
            after += int(got == want)
            if got != want:
                misread[i] = (enrolled.names[i], base.labels[want], base.labels[got])
    return Check(n, before, after, [misread[i] for i in sorted(misread)])


@dataclass
class Adapted:
    """What `adapt` made: the head, the photos it was fitted on, and how they read before/after."""

    head: PoseHead
    enrolled: Enrolment
    check: Check
    missing: list[str]  # classes without a usable photo (those not OPTIONAL keep the old reading)


def _check_numbers(head: PoseHead) -> None:
    """The fitted head as loading would check it, before it is written: where this machine's
    numerical libraries go wrong (numpy's OpenBLAS under an emulated CPU with SME gave float64
    matmuls of 1e8, 2026-11-29), adapt wrote a file that every later predict refused."""
    from fingerspell.errors import ModelError

    try:
        PoseHead.from_dict(head.to_dict(), name="the adapted head")
    except ModelError as exc:
        raise ModelError(f"{exc}: this machine's numerical libraries (numpy, its BLAS) gave "
                         "impossible numbers") from None


def adapt(rec: Any, photos: Iterable[tuple[Source, str]],
          on_failure: Callable[[str], None] = lambda _: None, command: str = "",
          on_photo: Callable[[], None] = lambda: None) -> Adapted:
    """`rec`'s pose head fine-tuned on labelled photos of one person's hand: (source, class)
    pairs, any source `Recognizer.predict` takes. Photos it cannot use go to `on_failure`.
    Where some letters have no usable photo, the head is adapted to the others only (`fitted`).

    Raises DatasetError where no photo is usable; ModelError where `rec` reads no pose head or
    one already adapted to some letters only (adapt from the head it came from instead)."""
    from fingerspell.errors import ModelError

    base = rec.pose_head
    if base is None or rec.hand_finder is None:
        raise ModelError(f"{rec.path.name}: no pose head read with it; adapt starts from one")
    if base.adapted_classes is not None:
        raise ModelError(f"{rec.pose_path or 'the pose head given'}: adapted to some letters "
                         "only; adapt from the head it was adapted from, with all the photos")
    enrolled = enrol(rec, photos, on_failure, on_photo)
    if not enrolled.names:
        raise DatasetError("no photo with a hand found")
    have = {rec.labels[i] for i in enrolled.labels}
    missing = [label for label in rec.labels if label not in have]
    result = check(base, enrolled)
    head = fitted(base, *enrolled.rows(range(len(enrolled.names))))
    _check_numbers(head)
    counts = Counter(base.labels[i] for i in enrolled.labels)
    path = rec.pose_path
    head.training = {
        **base.training,
        "adapted": {
            "from": path.name if path else "a pose head in memory",
            **({"from_sha256": hashlib.sha256(path.read_bytes()).hexdigest()} if path else {}),
            "photos": {label: counts[label] for label in base.labels if counts[label]},
            "rows": int(sum(len(v) for v in enrolled.views)),
            "steps": STEPS, "learning_rate": LEARNING_RATE, "anchor": ANCHOR,
            "fused_share": FUSED_SHARE,
            "date": date.today().isoformat(),
            **({"command": command} if command else {}),
        },
    }
    head.metrics = {**base.metrics, "adapted_check": {
        "photos": result.photos, "right_before": result.before, "right_after": result.after,
        "misread_after": {want: n for want, n, _ in result.letters_misread()},
        "how": f"each photo read by a head adapted without it ({CHECK_FOLDS} folds), fused "
               "with the network on its hand crop"}}
    return Adapted(head, enrolled, result, missing)
