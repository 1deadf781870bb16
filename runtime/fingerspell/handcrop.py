"""Hand-centred crop: find the hand with MediaPipe Hands and cut a square around it.

MediaPipe Hands' two networks ship with the runtime and run in onnxruntime
(fingerspell.handmodels), so every install crops; MediaPipe itself (`pip install
'fingerspell[hands]'`, which needs numpy < 2 and protobuf < 5) can stand in for them
(engine="mediapipe"), as it did before they shipped. Training data and the runtime crop with this
one module, so the model sees the same framing in both. When no hand is found the whole image is
used, as training did.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import TYPE_CHECKING, Any, NamedTuple

from fingerspell import waiting
from fingerspell.errors import MissingExtraError
from fingerspell.handmodels import PALM_SIZE, Found
from fingerspell.quiet import python_stderr_elsewhere, quiet_stderr

if TYPE_CHECKING:
    from PIL import Image

# Side of the square crop as a multiple of the landmarks' larger extent: the landmarks run from
# wrist to fingertip centres, so a margin keeps the whole hand and a little wrist.
MARGIN = 1.4
# Palm detection threshold: low, because a missed hand costs more (a whole-scene image the model
# reads poorly) than a loose box.
MIN_CONFIDENCE = 0.3
# The landmark model's hand presence a hand needs (MediaPipe's own default is 0.5): the "hands"
# found in empty rooms mostly come at 0.53-0.69, strangers' real hands at 0.73 or more in 99 %.
MIN_PRESENCE = 0.6
CROP_METHOD = f"mediapipe-hands-0.10.21 square x{MARGIN} shifted inside"
# The hand is looked for in a copy no larger than this: MediaPipe aborts the whole process (an
# uncatchable C++ exception in OpenCV's remap) on an image 32,767 px or more on a side, and its
# own models read 192-224 px, so a smaller copy loses nothing. Landmarks are relative to the
# image, so the box is the same on the full-size photo.
DETECT_MAX_SIDE = 2048
# MediaPipe's palm detector misses a hand that fills the frame (a close-up, a tight crop): it wants
# some context around the palm. Where it finds none, it looks again in a copy with this share of
# each side added around it, the edge pixels repeated (74 % of the pack's images without a hand
# then had one; black borders 67 %, mirrored 50 %). docs/pose-head.md, "A second look for the hand".
RETRY_PAD = 0.5
# A hand found only in the padded copy is kept where its square is at least this share of the
# image's short side (a close-up, what the retry is for): the room scenes' second-look "hands"
# were 0.30-0.54, the pack's close-ups a median of 0.97.
RETRY_MIN_SIDE = 0.6
# A backlit or underexposed hand (a window behind the signer) is a dark shape the palm detector
# misses: 5 % of train/multi's photos had no hand found, most of them so. Where neither look finds
# one, the finder looks once more in a copy brightened by this gamma, and keeps a hand found there
# only where the landmark model is this sure of it (the room patches' brightened "hands" scored
# 0.55-0.80, the photos' a median of 0.99). docs/pose-head.md, "A brighter look for a dark hand".
BRIGHT_GAMMA = 0.5
BRIGHT_MIN_PRESENCE = 0.9
# Sensor noise and heavy JPEG blocks (a webcam in a dim room, a photo sent through a chat) hide
# the hand from the palm detector, which reads the photo at 192 px: where no look above finds one,
# the finder looks once more in a copy blurred at that scale (a Gaussian of this share of the
# longest side) and keeps a hand found there only where the landmark model is this sure of it
# (noisy photos of people held out: a hand found in 86.6 % instead of 73.8 %; docs/hands.md,
# "A blurred look for a noisy photo").
SMOOTH_RADIUS = 1 / 200
SMOOTH_MIN_PRESENCE = 0.9
# The palm detector leans on skin colour: in a black-and-white photo it finds about half as many
# hands. Where a grey photo (channels within GREY_TOLERANCE everywhere) shows none in any look above,
# the finder looks once more in a copy whose grey levels are mapped to skin colours (SKIN_RAMP:
# luminance -> RGB, linear between), keeping a hand only where the landmark model is this sure
# (grey photos of people held out: a hand found in 73.3 % instead of 55.0 %; docs/hands.md,
# "A skin-toned look for a black-and-white photo").
GREY_TOLERANCE = 2
SKIN_RAMP = ((0, (0, 0, 0)), (60, (80, 52, 40)), (120, (160, 112, 88)), (180, (224, 172, 140)),
             (230, (250, 215, 190)), (255, (255, 245, 235)))
TINT_MIN_PRESENCE = 0.9
# A bright window or lamp behind the signer sets the camera's exposure: the hand is left a dull,
# flat shape, darker skin most of all. Where no look above finds one, the finder looks once more
# in a copy with each channel's levels stretched (STRETCH_CUTOFF % clipped at each end, which also
# undoes a colour cast) and the shadows lifted (BRIGHT_GAMMA), keeping a hand only where the
# landmark model is this sure (train/multi photos with no hand found: 50 of 284 found, room
# patches 3 of 648; docs/hands.md, "A stretched look for a washed-out photo").
STRETCH_CUTOFF = 2
STRETCH_MIN_PRESENCE = 0.9
# A hand small in the frame (the signer further from the camera) is too small for the palm
# detector once the photo is scaled to its 192 px. Where no look above finds one, the finder
# searches tiles of the photo as they are (TILES: left, top and side as shares of the photo): nine
# half the photo's size (3 x 3 at quarter steps, the middle first), then sixteen a third of it
# (4 x 4 at 2/9 steps, the middle first) for a hand further away. It keeps the first hand the
# landmark model is TILE_MIN_PRESENCE sure of that lies wholly inside its tile: a tile's edge can
# cut a close-up hand, and part of one reads as another letter. A hand the edge cuts is looked at
# once more in a tile of the same size centred on it (docs/hands.md, "Tiles for a hand far away").
# A third-size tile is searched only where its longer side is at least the palm detector's input
# (THIRD_TILE_MIN_SIDE pixels of the detection copy; the detector scales a tile by its longer
# side, so none is then scaled up): one scaled up holds a hand too few pixels to read (a 67 px tile
# of a 200 px photo read M for K).
_HALF = ((0.25, 0.25), (0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5), (0.25, 0.0), (0.0, 0.25),
         (0.5, 0.25), (0.25, 0.5))
_THIRD = sorted(((x * 2 / 9, y * 2 / 9) for y in range(4) for x in range(4)),
                key=lambda c: abs(c[0] + 1 / 6 - 0.5) + abs(c[1] + 1 / 6 - 0.5))  # nearest the middle
TILES = tuple((x, y, 0.5) for x, y in _HALF) + tuple((x, y, 1 / 3) for x, y in _THIRD)
TILE_MIN_PRESENCE = 0.9
THIRD_TILE_MIN_SIDE = PALM_SIZE
# Tiles looked at side by side, the first hand in TILES order still the one kept (at most one tile
# searched beyond it): an empty 640 x 480 scene took 268 ms instead of 332 on two cores
# (docs/hands.md, "The tile search on two threads"). 1: one after another, as before.
TILE_THREADS = 2
_POOL_LOCK = threading.Lock()
ENGINES = ("auto", "onnx", "mediapipe")


def square_box(points: Sequence[tuple[float, float]], width: int, height: int,
               margin: float = MARGIN) -> tuple[int, int, int, int]:
    """A square (left, top, right, bottom) around normalised points, shifted to lie in the image.

    The square is never padded: when it would be larger than the image's short side it shrinks to
    that side, so no invented pixels (black borders) ever reach the model.
    """
    xs = [min(max(x, 0.0), 1.0) * width for x, _ in points]
    ys = [min(max(y, 0.0), 1.0) * height for _, y in points]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    side = max(max(xs) - min(xs), max(ys) - min(ys)) * margin
    side = round(min(max(side, 16.0), width, height))
    left = round(min(max(cx - side / 2, 0), width - side))
    top = round(min(max(cy - side / 2, 0), height - side))
    return left, top, left + side, top + side


def detection_copy_size(img: Image.Image) -> tuple[int, int]:
    """(width, height) of `detection_copy(img)`."""
    if max(img.size) > DETECT_MAX_SIDE:
        scale = DETECT_MAX_SIDE / max(img.size)
        return max(1, round(img.width * scale)), max(1, round(img.height * scale))
    return img.size


def detection_copy(img: Image.Image) -> Image.Image:
    """The RGB copy the hand is looked for in: the image, at most DETECT_MAX_SIDE on a side."""
    if max(img.size) > DETECT_MAX_SIDE:
        img = img.resize(detection_copy_size(img), reducing_gap=2.0)
    return img.convert("RGB")


class Hand(NamedTuple):
    box: tuple[int, int, int, int]  # the crop square in the image's pixels
    world: list[tuple[float, float, float]]  # 21 landmarks in metres (fingerspell.handpose)
    right: bool  # MediaPipe's handedness
    copy: str = "plain"  # the copy of the photo it was found in (COPIES): its other views' too
    # the tile of the photo it was found in (left, top, right, bottom, shares of the photo; None:
    # the whole photo): its other views are searched there too
    tile: tuple[float, float, float, float] | None = None

    @property
    def bright(self) -> bool:
        """Found in the brightened copy (BRIGHT_GAMMA): the photo is dark."""
        return self.copy == "bright"

    @property
    def smooth(self) -> bool:
        """Found in the blurred copy (SMOOTH_RADIUS): the photo is noisy."""
        return self.copy == "smooth"

    @property
    def tint(self) -> bool:
        """Found in the skin-toned copy (SKIN_RAMP): the photo is black and white."""
        return self.copy == "tint"

    @property
    def stretch(self) -> bool:
        """Found in the stretched copy (STRETCH_CUTOFF): the photo is washed out."""
        return self.copy == "stretch"


@functools.cache
def _lut(kind: str) -> Any:
    """A 256-entry lookup table, made once: "bright" (gamma BRIGHT_GAMMA) or "tint" (SKIN_RAMP)."""
    import numpy as np

    if kind == "bright":
        return np.round(255 * (np.arange(256) / 255) ** BRIGHT_GAMMA).astype(np.uint8)
    keys = [k for k, _ in SKIN_RAMP]
    return np.stack([np.interp(np.arange(256), keys, [c[i] for _, c in SKIN_RAMP]) for i in range(3)],
                    axis=1).round().astype(np.uint8)


def brightened(pixels: Any) -> Any:
    """uint8 RGB pixels with the shadows lifted (gamma BRIGHT_GAMMA on each channel)."""
    return _lut("bright")[pixels]


def smoothed(pixels: Any) -> Any:
    """uint8 RGB pixels blurred at the palm detector's scale (SMOOTH_RADIUS)."""
    import numpy as np
    from PIL import Image as PILImage
    from PIL import ImageFilter

    radius = max(1.0, SMOOTH_RADIUS * max(pixels.shape[:2]))
    return np.asarray(PILImage.fromarray(pixels).filter(ImageFilter.GaussianBlur(radius)))


def stretched(pixels: Any) -> Any:
    """uint8 RGB pixels with each channel's levels stretched (STRETCH_CUTOFF) and the shadows
    lifted (BRIGHT_GAMMA)."""
    import numpy as np
    from PIL import Image as PILImage
    from PIL import ImageOps

    return brightened(np.asarray(ImageOps.autocontrast(PILImage.fromarray(pixels), cutoff=STRETCH_CUTOFF)))


def is_grey(pixels: Any) -> bool:
    """uint8 RGB pixels of a black-and-white photo (its channels within GREY_TOLERANCE)."""
    import numpy as np

    return bool(np.abs(np.diff(pixels.astype(np.int16), axis=2)).max() <= GREY_TOLERANCE)


def tinted(pixels: Any) -> Any:
    """uint8 RGB pixels of a grey photo with its grey levels mapped to skin colours (SKIN_RAMP)."""
    return _lut("tint")[pixels[..., 0]]


class Copy(NamedTuple):
    made: Callable[[Any], Any]  # uint8 RGB pixels -> the copy's
    min_presence: float  # a "hand" found in an altered copy of a room must be a sure one


# The copies of a photo the hand is looked for in, in this order; "tint" only for a grey photo.
COPIES = {"plain": Copy(lambda p: p, 0.0), "bright": Copy(brightened, BRIGHT_MIN_PRESENCE),
          "smooth": Copy(smoothed, SMOOTH_MIN_PRESENCE), "tint": Copy(tinted, TINT_MIN_PRESENCE),
          "stretch": Copy(stretched, STRETCH_MIN_PRESENCE)}


def cropped(img: Image.Image, hand: Hand | None) -> Image.Image:
    """The square around the hand, or the image unchanged when no hand was found."""
    return img.crop(hand.box) if hand is not None else img


def _tile_pixels(tile: tuple[float, float, float, float], width: int, height: int
                 ) -> tuple[int, int, int, int]:
    """A tile's (left, top, right, bottom) in the pixels of an image width x height."""
    left, top, right, bottom = tile
    return (round(left * width), round(top * height), max(round(right * width), round(left * width) + 1),
            max(round(bottom * height), round(top * height) + 1))


def _tile_of(pixels: Any, tile: tuple[float, float, float, float]) -> Any:
    """A tile's pixels (`_tile_pixels`) of an image's pixels [H, W, 3]."""
    import numpy as np

    x0, y0, x1, y1 = _tile_pixels(tile, pixels.shape[1], pixels.shape[0])
    return np.ascontiguousarray(pixels[y0:y1, x0:x1])


def _from_tile(points: list[tuple[float, float]], tile: tuple[float, float, float, float],
               img: Image.Image) -> list[tuple[float, float]]:
    """Points as shares of a tile, as shares of the whole image (the tile's pixels as
    `_tile_pixels` cuts them from the detection copy)."""
    w, h = detection_copy_size(img)
    x0, y0, x1, y1 = _tile_pixels(tile, w, h)
    return [((x0 + x * (x1 - x0)) / w, (y0 + y * (y1 - y0)) / h) for x, y in points]


def _inside(points: Sequence[tuple[float, float]]) -> bool:
    """Whether every point (shares of what was searched) lies inside it."""
    return all(0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 for x, y in points)


def _centred(points: Sequence[tuple[float, float]], side: float) -> tuple[float, float, float, float]:
    """A tile `side` of the photo's width and height (left, top, right, bottom, shares of it)
    centred on the points (shares of the photo) where the photo allows."""
    xs, ys = [x for x, _ in points], [y for _, y in points]
    left = min(max((min(xs) + max(xs)) / 2 - side / 2, 0.0), 1.0 - side)
    top = min(max((min(ys) + max(ys)) / 2 - side / 2, 0.0), 1.0 - side)
    return left, top, left + side, top + side


def _turned_back(x: float, y: float, w: float, h: float, degrees: float) -> tuple[float, float]:
    """A point of a picture w x h turned counter-clockwise by `degrees` about its centre (image
    axes: y down), where it was before the turn (about the same centre)."""
    a = math.radians(degrees)
    u, v = x - w / 2, y - h / 2
    return u * math.cos(a) - v * math.sin(a) + w / 2, u * math.sin(a) + v * math.cos(a) + h / 2


class MediaPipeHands:
    """MediaPipe Hands itself (`[hands]`): one graph in static-image mode, calls serialised (it is
    not thread-safe)."""

    name = "mediapipe"
    reports_presence = False  # its graph keeps the landmark model's presence to itself

    def __init__(self, min_confidence: float) -> None:
        try:
            from mediapipe.python.solutions import hands
        except ImportError as exc:  # the optional extra is missing
            raise MissingExtraError(
                "MediaPipe itself is not installed: pip install 'fingerspell[hands]' "
                f"(import failed: {exc})") from None
        import numpy as np

        # MediaPipe's native log lines, which no setting turns off: its models start (and log) in
        # graph threads, so one run on a blank image makes them start inside the quiet spell
        with quiet_stderr():
            self._hands = hands.Hands(static_image_mode=True, max_num_hands=1,
                                      min_detection_confidence=min_confidence)
            self._hands.process(np.zeros((64, 64, 3), np.uint8))
        self._lock = threading.Lock()
        # ... and it warns once more at its first hand: runs stay quiet until then, but only where
        # that cannot swallow Python's own stderr (the CLI's case; see fingerspell.quiet)
        self._quiet_until_hand = True

    def find(self, pixels: Any) -> Found | None:
        with self._lock:
            # asked at each call: whoever captured stderr at construction may have let it go
            if self._quiet_until_hand and python_stderr_elsewhere():
                with quiet_stderr():
                    result = self._hands.process(pixels)
                self._quiet_until_hand = not result.multi_hand_landmarks
            else:
                result = self._hands.process(pixels)
        return found_in(result)

    def close(self) -> None:
        self._hands.close()


def found_in(result: Any) -> Found | None:
    """The first hand of what MediaPipe's Hands.process returns, or None."""
    if not result.multi_hand_landmarks:
        return None
    return Found([(p.x, p.y) for p in result.multi_hand_landmarks[0].landmark],
                 [(p.x, p.y, p.z) for p in result.multi_hand_world_landmarks[0].landmark],
                 result.multi_handedness[0].classification[0].label == "Right")


def hand_finder(engine: str = "auto", min_confidence: float = MIN_CONFIDENCE) -> Any:
    """What finds the hand: "onnx", MediaPipe's two networks bundled with the runtime and run in
    onnxruntime (fingerspell.handmodels); "mediapipe", MediaPipe itself (the `[hands]` extra);
    "auto", the bundled ones."""
    if engine not in ENGINES:
        raise ValueError(f"hands engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "mediapipe":
        return MediaPipeHands(min_confidence)
    from fingerspell.artifact import bundled_dir
    from fingerspell.handmodels import OnnxHands

    return OnnxHands(bundled_dir(), min_confidence, MIN_PRESENCE)


def other_looks(hands: Any, img: Image.Image, first: Hand | None, head: Any) -> list[Hand | None]:
    """The other views a pose head reads (`head.mirror`, `.turns`, `.pads`), in that order, as
    `hands.look` finds them. A dark photo's views (its own hand found only brightened) are searched
    brightened too, a noisy photo's blurred, and a hand found in a tile in that tile; where the
    photo shows no hand even so, they are
    searched as they are (another look each would multiply the cost of every photo without a
    hand)."""
    where: dict[str, Any] = {"copy": first.copy if first is not None else "plain"}
    if first is not None and first.tile is not None:  # only then: finders without tiles still fit
        where["tile"] = first.tile
    return ([hands.look(img, mirror=True, **where)] if head.mirror else []) + [
        hands.look(img, turn=t, **where) for t in head.turns] + [
        hands.look(img, pad=p, **where) for p in head.pads]


class HandCropper:
    """Finds the hand (`hand_finder`) and cuts the square around it. Thread-safe."""

    # (pid, pool) of the tile search's threads, made at its first use: a forked child (a web
    # server's worker) inherits the object but not the threads, and makes its own
    _pool: tuple[int, ThreadPoolExecutor] | None = None

    def __init__(self, min_confidence: float = MIN_CONFIDENCE, margin: float = MARGIN,
                 retry_pad: float = RETRY_PAD, engine: str = "auto") -> None:
        self._finder = hand_finder(engine, min_confidence)
        self.engine: str = self._finder.name
        self.margin = margin
        self.retry_pad = retry_pad

    def box(self, img: Image.Image) -> tuple[int, int, int, int] | None:
        """The crop box for the most confident hand in an RGB image, or None when there is none."""
        hand = self.look(img)
        return hand.box if hand is not None else None

    def look(self, img: Image.Image, mirror: bool = False, turn: float = 0.0,
             pad: float = 0.0, copy: str | None = None,
             tile: tuple[float, float, float, float] | None = None) -> Hand | None:
        """The most confident hand in an RGB image (its crop box and 3D landmarks), or None.

        `mirror`: look in the image's mirror image instead (the pose head reads both: MediaPipe
        errs differently on each). The landmarks and handedness are then the mirrored hand's, as
        MediaPipe sees it; the box is still in the image's own pixels. `turn`: look in the image
        turned by that many degrees (counter-clockwise, nothing cut off); the box and the
        landmarks are turned back, so they are the photo's as seen from another angle. `pad`: look
        in the image with this share of each side added around it, the edge pixels repeated (the
        hand smaller in what MediaPipe searches; no second look then). `copy`: None looks in the
        image as it is, then, where no hand is found, in each other copy of COPIES in turn (a
        brightened one, a blurred one, a skin-toned one where the photo is grey, a stretched one;
        `Hand.copy` says which found it); a name looks in that copy only ("plain": as it is;
        "bright": another view of a dark photo; "smooth": of a noisy one; "tint": of a
        black-and-white one; "stretch": of a washed-out one). Every
        copy's hand needs the finder's own presence (MIN_PRESENCE for the bundled one) and the
        copy's `min_presence` on top. `tile` (left, top, right, bottom, shares of the image):
        look in that part of the image only (`Hand.tile`, a view of a hand found there); with no
        tile, view or copy asked for and no hand in any copy, each of TILES in turn (`_in_tiles`),
        a hand kept at TILE_MIN_PRESENCE wholly inside its tile."""
        import numpy as np

        pixels = np.asarray(detection_copy(img))
        if tile is not None:
            pixels = _tile_of(pixels, tile)
        if mirror:  # flipped in the small copy: a 64-megapixel photo is never copied whole
            pixels = np.ascontiguousarray(pixels[:, ::-1])
        h0, w0 = pixels.shape[:2]
        if turn:
            from PIL import Image as PILImage

            pixels = np.asarray(PILImage.fromarray(pixels).rotate(
                turn, resample=PILImage.Resampling.BILINEAR, expand=True))
        h, w = pixels.shape[:2]
        if pad > 0:  # the border added around what is searched, in pixels
            dy, dx = round(h * pad), round(w * pad)
            pixels = np.pad(pixels, ((dy, dy), (dx, dx), (0, 0)), mode="edge")
        if copy is not None and copy not in COPIES:
            raise ValueError(f"copy must be one of {', '.join(COPIES)}, not {copy!r}")
        tries = list(COPIES) if copy is None else [copy]
        if not getattr(self._finder, "reports_presence", False):  # kept by its presence
            tries = [t for t in tries if not COPIES[t].min_presence]
        for kind in tries:
            if kind == "tint" and copy is None and not is_grey(pixels):
                continue  # a colour photo's colours are its own (asked only once the rest failed)
            hand = self._hand(img, COPIES[kind].made(pixels), (w0, h0, w, h), mirror, turn, pad, kind,
                              tile)
            if hand is not None:
                return hand
        if (copy is not None or tile is not None or mirror or turn or pad
                or not getattr(self._finder, "reports_presence", False)):
            return None  # tiles only for the photo's own view, and kept by their presence
        return self._in_tiles(img, pixels)

    def _in_tiles(self, img: Image.Image, pixels: Any) -> Hand | None:
        """The first hand of TILES (as they are; a third-size one only where THIRD_TILE_MIN_SIDE
        allows) sure enough (TILE_MIN_PRESENCE) and wholly inside its tile, or inside a tile of the
        same size centred on it where the first one cuts it; TILE_THREADS tiles in flight."""
        tiles = iter([(left, top, side) for left, top, side in TILES
                      if side >= 0.5 or max(pixels.shape[:2]) * side >= THIRD_TILE_MIN_SIDE])
        if TILE_THREADS <= 1:
            return next((h for t in tiles if (h := self._tile_hand(img, pixels, t)) is not None), None)
        pool = self._tile_pool()
        ahead: deque[Future[Hand | None]] = deque(
            pool.submit(self._tile_hand, img, pixels, t) for t in islice(tiles, TILE_THREADS))
        try:
            while ahead:
                hand = waiting.result(ahead.popleft())  # in TILES order, whichever ends first
                if hand is not None:
                    return hand
                if (tile := next(tiles, None)) is not None:
                    ahead.append(pool.submit(self._tile_hand, img, pixels, tile))
            return None
        finally:
            for future in ahead:
                future.cancel()

    def _tile_pool(self) -> ThreadPoolExecutor:
        """The tile search's threads, made again in a process forked since (whose copy of the
        pool has no threads, so its tasks would wait for ever)."""
        with _POOL_LOCK:
            if self._pool is None or self._pool[0] != os.getpid():
                self._pool = (os.getpid(), ThreadPoolExecutor(TILE_THREADS,
                                                              thread_name_prefix="fingerspell-tiles"))
            return self._pool[1]

    def _tile_hand(self, img: Image.Image, pixels: Any, spec: tuple[float, float, float]
                   ) -> Hand | None:
        """The hand in one tile of TILES (left, top, side) kept by `_in_tiles`' rules, or None."""
        left, top, side = spec
        tile = (left, top, left + side, top + side)
        found = self._in_tile(pixels, tile)
        if found is not None and not _inside(found.points):
            tile = _centred(_from_tile(found.points, tile, img), side)
            found = self._in_tile(pixels, tile)
        if found is not None and _inside(found.points):
            box = square_box(_from_tile(found.points, tile, img), img.width, img.height, self.margin)
            return Hand(box, found.world, found.right, "plain", tile)
        return None

    def _in_tile(self, pixels: Any, tile: tuple[float, float, float, float]) -> Any:
        """The finder's hand in one tile of the detection copy's pixels if TILE_MIN_PRESENCE sure
        (its landmarks shares of the tile), or None."""
        found = self._finder.find(_tile_of(pixels, tile))
        return found if found is not None and (found.presence or 0.0) >= TILE_MIN_PRESENCE else None

    def _hand(self, img: Image.Image, pixels: Any, sizes: tuple[int, int, int, int], mirror: bool,
              turn: float, pad: float, kind: str,
              tile: tuple[float, float, float, float] | None = None) -> Hand | None:
        """look()'s search in the pixels prepared (the COPIES entry `kind`, whose hand must be as
        sure as it asks; in a tile, TILE_MIN_PRESENCE too), its padded second look included (not
        in a tile: a hand there is small); the box and landmarks turned, mirrored and placed
        back."""
        import numpy as np

        w0, h0, w, h = sizes
        dy, dx = (round(h * pad), round(w * pad)) if pad > 0 else (0, 0)
        found = self._finder.find(pixels)
        if found is None and self.retry_pad > 0 and not pad and tile is None:
            dy, dx = round(h * self.retry_pad), round(w * self.retry_pad)
            found = self._finder.find(np.pad(pixels, ((dy, dy), (dx, dx), (0, 0)), mode="edge"))
        need = max(COPIES[kind].min_presence, TILE_MIN_PRESENCE if tile is not None else 0.0)
        if found is None or (found.presence or 0.0) < need:
            return None
        points = found.points
        if dx or dy:  # landmarks are fractions of what was searched: back to the image's
            points = [((x * (w + 2 * dx) - dx) / w, (y * (h + 2 * dy) - dy) / h) for x, y in points]
        world = found.world
        if turn:  # from the turned canvas back to the image searched, and the hand turned back
            points = [_turned_back(x * w, y * h, w, h, turn) for x, y in points]
            points = [((x + (w0 - w) / 2) / w0, (y + (h0 - h) / 2) / h0) for x, y in points]
            world = [(*_turned_back(x, y, 0.0, 0.0, turn), z) for x, y, z in world]
        if mirror:  # and from the mirror image's to the image's
            points = [(1.0 - x, y) for x, y in points]
        if tile is not None:  # and from the tile's to the whole image's
            points = _from_tile(points, tile, img)
        box = square_box(points, img.width, img.height, self.margin)
        if not pad and (dx or dy) and box[2] - box[0] < RETRY_MIN_SIDE * min(img.size):
            return None
        return Hand(box, world, found.right, kind, tile)

    def crop(self, img: Image.Image) -> Image.Image:
        """The square around the hand, or the image unchanged when no hand is found."""
        return cropped(img, self.look(img))

    def close(self) -> None:
        if self._pool is not None and self._pool[0] == os.getpid():
            self._pool[1].shutdown(wait=False, cancel_futures=True)
        self._pool = None
        self._finder.close()
