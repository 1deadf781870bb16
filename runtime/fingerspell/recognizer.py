"""`Recognizer`: load an artifact once, predict from any source, one image or many.

    from fingerspell import Recognizer
    rec = Recognizer()                      # the bundled int8 model
    print(rec.predict("photo.jpg").label)
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from fingerspell import waiting
from fingerspell.args import MAX_BATCH, MAX_WORKERS, count
from fingerspell.artifact import bundled_dir, check_readable, default_model_path, is_bundled_copy
from fingerspell.backends import Backend, open_backend
from fingerspell.errors import FingerspellError, MissingExtraError, ModelError
from fingerspell.handcrop import ENGINES as HAND_ENGINES
from fingerspell.handpose import DEFAULT_POSE_HEAD, PoseHead, fuse
from fingerspell.results import (
    READ_HAND,
    READ_NETWORK,
    READ_NO_HAND,
    READ_WHOLE_PHOTO,
    Failure,
    Prediction,
)
from fingerspell.schema import ModelMetadata
from fingerspell.sources import Source, describe, load_pixels
from fingerspell.spell import spell as spell_predictions

CROP_MODES = ("auto", "hand", "none")
POSE_MODES = ("auto", "none")


class Prepared(NamedTuple):
    """One decoded input: the model's input and what the hand finder saw in it."""

    pixels: np.ndarray
    pose: np.ndarray | None = None  # the hand's pose numbers [views, features] (None: no hand)
    whole: np.ndarray | None = None  # the whole photo at the input size, where the head may want it
    hand: bool | None = None  # a hand found (None: none looked for)


def _is_mode(pose: str | Path | PoseHead) -> bool:
    return isinstance(pose, str) and pose in POSE_MODES


class Recognizer:
    """Thread-safe: share one instance between the threads of a web server."""

    def __init__(self, model: str | Path | None = None, backend: str | None = None,
                 threads: int | None = None, top_k: int = 3, fetcher: Any = None,
                 block_private_urls: bool = False, crop: str = "auto",
                 pose: str | Path | PoseHead = "auto", hands: str = "auto") -> None:
        """Load an artifact (default: the bundled int8 ONNX model).

        crop: "auto" crops around the hand when the model was trained on hand crops; "hand"
        always; "none" never.

        pose: "auto" multiplies the network's probabilities by the bundled pose head's (a small
        classifier on MediaPipe's hand landmarks, fingerspell.handpose) wherever a hand is found;
        a path uses that pose head file, a PoseHead that head (`fingerspell.adapt`); "none"
        reads the network alone.

        hands: what finds the hand for the crop and the pose head: "auto" or "onnx", MediaPipe
        Hands' networks bundled with the runtime (fingerspell.handmodels); "mediapipe", MediaPipe
        itself (`fingerspell[hands]`, MissingExtraError without it).

        block_private_urls: refuse URLs whose host resolves to a private, loopback or link-local
        address (checked after DNS resolution, at every redirect); turn it on when the URLs come
        from the users of a web service. fetcher: a callable url -> bytes replacing the download.
        """
        path = Path(model) if model is not None else default_model_path(backend)
        check_readable(path)  # one line for what onnxruntime calls 'system error number 13'
        self.path = path
        self.backend: Backend = open_backend(path, backend, threads)
        self.metadata: ModelMetadata = self.backend.metadata
        self.labels: list[str] = list(self.metadata.labels)
        self.size = (self.metadata.input.width, self.metadata.input.height)
        self.top_k = count("top_k", top_k)
        if fetcher is not None and block_private_urls:
            raise ValueError("block_private_urls applies to the built-in download only; a custom "
                             "fetcher must check the addresses it connects to itself")
        self._hands: Any = None  # the hand finder (HandCropper), shared by the crop and the pose head
        self.pose_head: PoseHead | None = None
        self.pose_path: Path | None = None  # the file the pose head was read from
        self._crop = self._use_hands(crop, pose, hands)
        if pose == "auto" and self.pose_head is not None and not is_bundled_copy(path):
            # a network of one's own (`fingerspell export`) read with the bundled head gave
            # answers that were not that network's, unsaid; the CLI prints this as a note
            warnings.warn(f"{path}: its answers are multiplied by the bundled pose head's, fitted "
                          "beside the bundled network; --pose none (pose='none') reads it alone",
                          stacklevel=2)
        if fetcher is None and block_private_urls:
            from functools import partial

            from fingerspell.fetch import fetch

            fetcher = partial(fetch, block_private=True)
        self.fetcher = fetcher

    def _use_hands(self, crop: str, pose: str | Path | PoseHead, engine: str) -> Any:
        """Set up the hand finder for the crop and the pose head as asked; the crop callable or
        None."""
        if crop not in CROP_MODES:
            raise ValueError(f"crop must be one of {', '.join(CROP_MODES)}, not {crop!r}")
        if engine not in HAND_ENGINES:
            raise ValueError(f"hands must be one of {', '.join(HAND_ENGINES)}, not {engine!r}")
        wanted = crop == "hand" or (crop == "auto" and self.metadata.input.crop == "hand")
        head = self._pose_head(pose)
        self.crop = "none"
        if not wanted and head is None:
            return None
        from fingerspell.handcrop import HandCropper

        try:
            self._hands = HandCropper(engine=engine)
        except (MissingExtraError, ModelError) as exc:
            if crop == "hand" or engine != "auto":
                raise
            if not _is_mode(pose):
                named = "the pose head given" if isinstance(pose, PoseHead) else pose
                raise type(exc)(f"{named}: a pose head reads the hand's landmarks: {exc}") from None
            self.pose_path = None  # the bundled head is not read after all
            if wanted:
                warnings.warn(f"{self.path.name} was trained on hand crops, but {exc}; reading "
                              "whole images without the pose head, which is less accurate",
                              stacklevel=3)
            return None
        self.pose_head = head
        if not wanted:
            return None
        self.crop = "hand"
        return self._hands.crop

    def _pose_head(self, pose: str | Path | PoseHead) -> PoseHead | None:
        if isinstance(pose, PoseHead):  # one in memory (fingerspell.adapt)
            if pose.labels != self.labels:
                raise ModelError(f"the pose head given: its labels differ from {self.path.name}'s")
            return pose
        if _is_mode(pose):
            path = bundled_dir() / DEFAULT_POSE_HEAD
            if pose == "none" or not path.is_file():
                return None
        else:
            path = Path(pose)
        head = PoseHead.load(path)
        if head.labels != self.labels:
            if _is_mode(pose):
                return None  # the bundled head is for the bundled labels; another model reads alone
            raise ModelError(f"{path}: pose head labels differ from {self.path.name}'s")
        self.pose_path = path
        return head

    @property
    def hands(self) -> str | None:
        """What finds the hand ("onnx" or "mediapipe"), or None where no hand is looked for."""
        return self._hands.engine if self._hands is not None else None

    @property
    def hand_finder(self) -> Any:
        """The HandCropper the crop and the pose head share (None where no hand is looked for)."""
        return self._hands

    def __repr__(self) -> str:
        return f"Recognizer({self.path.name!r}, backend={self.backend.name!r})"

    # -- core ----------------------------------------------------------------------------------
    def pixels(self, source: Source) -> np.ndarray:
        """The model's input for one source (uint8 RGB at the input size)."""
        return load_pixels(source, self.size, fetcher=self.fetcher, crop=self._crop)

    def _prepare(self, source: Source) -> Prepared:
        """The model's input and, where a hand is looked for, whether one was found; with a pose
        head, the hand's pose numbers and the whole photo where the head may want it read too."""
        if self._hands is None:
            return Prepared(self.pixels(source))
        from fingerspell.handcrop import cropped, other_looks
        from fingerspell.imaging import resize_to_input

        head = self.pose_head
        seen: list[Any] = []
        whole: list[np.ndarray] = []

        def look(img: Any) -> Any:
            hands = [self._hands.look(img)]
            if head is not None and (hands[0] is None or head.wants_more_views(
                    head.numbers(hands[0].world, hands[0].right))):
                hands.extend(other_looks(self._hands, img, hands[0], head))
            seen[:] = [h for h in hands if h is not None]
            if not seen or self.crop != "hand":
                return img
            if head is not None and head.whole_below is not None:
                whole.append(np.asarray(resize_to_input(img, self.size), dtype=np.uint8))
            # the crop around the photo's own hand, else where the mirror image (or another
            # view) found one
            return cropped(img, seen[0])

        pixels = load_pixels(source, self.size, fetcher=self.fetcher, crop=look)
        if not seen or head is None:
            return Prepared(pixels, hand=bool(seen))
        numbers = np.stack([head.numbers(h.world, h.right) for h in seen])
        return Prepared(pixels, numbers, whole[0] if whole else None, True)

    def _fused(self, probs: np.ndarray, pose: np.ndarray | None) -> np.ndarray:
        """The network's probabilities times the pose head's for the hand's views [V, features]."""
        if pose is None or self.pose_head is None:
            return probs
        return fuse(probs, self.pose_head.probabilities_of_views(pose))

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """The network's probabilities [N, classes] for uint8 pixels [N, H, W, 3] (any array of
        0–255 values); the pose head, which needs the photo, is not applied here."""
        pixels = np.asarray(pixels)
        if pixels.dtype != np.uint8 and pixels.size and not (
                np.issubdtype(pixels.dtype, np.number) and 0 <= pixels.min() <= pixels.max() <= 255):
            raise ValueError("pixels must be uint8 values 0–255 (a cast would wrap the others)")
        if pixels.ndim != 4 or pixels.shape[1:] != (self.size[1], self.size[0], 3):
            raise ValueError(f"pixels must be [N, {self.size[1]}, {self.size[0]}, 3], got {pixels.shape}")
        return self.backend.run(np.ascontiguousarray(pixels, dtype=np.uint8))

    def _answers(self, prepared: list[Prepared], probs: np.ndarray) -> list[tuple[np.ndarray, str]]:
        """Each input's answer and what it read (Prediction.read), from the network's
        probabilities for its input [N, classes]: fused with the pose head, and where that stays
        unsure, the whole photos read in one more pass."""
        head = self.pose_head
        finite = np.isfinite(probs).all(axis=1)  # a damaged model's NaN: left as it is, for _result
        out = [(p, READ_NETWORK) if not ok else
               (self._fused(p, x.pose), READ_HAND) if x.hand else
               (p, READ_NETWORK) if x.hand is None else
               (p if head is None else head.no_hand(p), READ_NO_HAND)
               for p, x, ok in zip(probs, prepared, finite, strict=True)]
        again = [i for i, x in enumerate(prepared)
                 if x.whole is not None and head is not None and finite[i]
                 and head.reads_whole(out[i][0])]
        if again:
            wholes = self.probabilities(np.stack([prepared[i].whole for i in again]))
            for i, w in zip(again, wholes, strict=True):
                if head.whole_stands(w):
                    out[i] = (w, READ_WHOLE_PHOTO)
        return out

    def _result(self, name: str, probs: np.ndarray, read: str, top_k: int | None) -> Prediction:
        if not np.isfinite(probs).all():  # `--json` would write NaN, which is not JSON
            raise ModelError(f"{name}: {self.path.name} gave scores that are not numbers (NaN or "
                             "infinite): the model is damaged")
        k = self.top_k if top_k is None else top_k
        order = np.argsort(-probs)[:k]
        top = [(self.labels[i], float(probs[i])) for i in order]
        return Prediction(name, top[0][0], top[0][1], top, read)

    # -- public API ----------------------------------------------------------------------------
    def predict(self, source: Source, top_k: int | None = None) -> Prediction:
        """Predict one image. Raises a FingerspellError subclass naming the input on bad input."""
        top_k = None if top_k is None else count("top_k", top_k)
        prepared = self._prepare(source)
        [(probs, read)] = self._answers([prepared], self.probabilities(prepared.pixels[None]))
        return self._result(describe(source), probs, read, top_k)

    def predict_many(self, sources: Iterable[Source], top_k: int | None = None, batch_size: int = 8,
                     workers: int = 2) -> Iterator[Prediction | Failure]:
        """Predict many images in input order; a bad input yields a Failure, the rest go on.

        Decoding of the next images runs in `workers` threads while the current batch is inferred.
        The arguments are checked here, not at the first result. Should the iterable itself raise,
        the inputs it gave before are answered first, then its exception is raised. An iterator
        with a `ready()` method (fingerspell.live.Feed) is not waited on while it says its next
        source has not come and answers are ready: those are yielded first.
        """
        if _one_source(sources):
            raise TypeError(f"predict_many takes an iterable of sources, not one {type(sources).__name__}"
                            " (wrap it in a list, or call predict)")
        top_k = None if top_k is None else count("top_k", top_k)
        workers = count("workers", workers, MAX_WORKERS)
        batch_size = count("batch_size", batch_size, MAX_BATCH)  # checked even where unused
        if not self.backend.batchable:
            batch_size = 1
        return self._many(iter(sources), top_k, batch_size, workers)

    def _many(self, todo: Iterator[Source], top_k: int | None, batch_size: int, workers: int
              ) -> Iterator[Prediction | Failure]:
        def decode(src: Source) -> tuple[str, Prepared | Failure]:
            name = describe(src)
            try:
                return name, self._prepare(src)
            except FingerspellError as exc:
                return name, Failure.of(name, exc)

        # A bounded window of decodes in flight: a folder of 100,000 photos never sits in memory.
        lookahead = 2 * batch_size + workers
        pool = ThreadPoolExecutor(workers)
        window: deque[Future] = deque()
        source_error: Exception | None = None
        exhausted = False
        ready = getattr(todo, "ready", None)  # a feed that can say its next source has not come
        ready = ready if callable(ready) else None

        def refill(wait: bool) -> None:
            """Queue decodes up to the look-ahead. Without `wait`, stop at a source that has not
            come yet (a camera's next frame), rather than hold the answers ready meanwhile."""
            nonlocal source_error, exhausted
            try:
                while not exhausted and source_error is None and len(window) < lookahead:
                    if not wait and ready is not None and not ready():
                        return
                    wait = False
                    try:
                        src = next(todo)
                    except StopIteration:
                        exhausted = True
                        return
                    window.append(pool.submit(decode, src))
            except Exception as exc:  # the caller's iterable: what it gave is still answered
                source_error = exc

        pending: list[tuple[str, Prepared | Failure]] = []
        try:
            refill(wait=True)
            while window or not (exhausted or source_error is not None):
                if not window:  # all decoded, the next source still to come: answer, then wait
                    yield from self._flush(pending, top_k)
                    pending = []
                    refill(wait=True)
                    continue
                if pending and not window[0].done():
                    # the next input is slow (a download): answer what is ready instead of
                    # holding it until the batch fills
                    yield from self._flush(pending, top_k)
                    pending = []
                pending.append(waiting.result(window.popleft()))
                refill(wait=False)
                if sum(1 for _, x in pending if not isinstance(x, Failure)) >= batch_size:
                    yield from self._flush(pending, top_k)
                    pending = []
            yield from self._flush(pending, top_k)
        except BaseException:
            # Ctrl-C, or the consumer stopped reading: drop the queued decodes and do not wait
            # for those in flight (downloads of up to 30 s each) on the way out
            pool.shutdown(wait=False, cancel_futures=True)
            if ready is not None and callable(getattr(todo, "close", None)):
                todo.close()  # a feed's reading thread, which would wait for ever to hand on more
            raise
        pool.shutdown()
        if source_error is not None:
            raise source_error

    def _flush(self, pending: list[tuple[str, Prepared | Failure]], top_k: int | None
               ) -> Iterator[Prediction | Failure]:
        good = [x for _, x in pending if not isinstance(x, Failure)]
        answers = iter(self._answers(good, self.probabilities(np.stack([x.pixels for x in good])))
                       if good else [])
        for name, x in pending:
            if isinstance(x, Failure):
                yield x
                continue
            try:
                result: Prediction | Failure = self._result(name, *next(answers), top_k)
            except ModelError as exc:
                result = Failure.of(name, exc)
            yield result

    def spell(self, sources: Iterable[Source], threshold: float = 0.5, hold: int = 1) -> str:
        """The text spelled by an ordered sequence of images (see fingerspell.spell); an
        animated image (GIF, WebP, APNG, multi-page TIFF) counts as its frames in order."""
        from fingerspell.frames import each_frame

        if _one_source(sources):
            sources = [sources]  # type: ignore[list-item]
        return spell_predictions(self.predict_many(each_frame(sources)), threshold, hold)


def _one_source(sources: object) -> bool:
    """Whether predict_many was handed one source, which iterating would take apart (a file's lines,
    an image's rows) or refuse: a path, bytes, a file object, a PIL image, one image's array."""
    if isinstance(sources, (str, bytes, bytearray, memoryview, Path)) or hasattr(sources, "read"):
        return True
    if type(sources).__module__.startswith("PIL."):
        return True
    return isinstance(sources, np.ndarray) and sources.ndim in (2, 3) and sources.dtype.kind in "biuf"
