"""MediaPipe Hands in onnxruntime: the hand's box and landmarks with no MediaPipe installed.

MediaPipe Hands (static images, one hand, the "full" models) is two networks and some geometry:
a palm detector on the photo letterboxed to 192 x 192, then a landmark model on a 224 x 224 square
around the palm, turned so that the hand points up. The two networks ship with the runtime
(`hands-palm.onnx`, `hands-landmark.onnx`, converted from the mediapipe 0.10.21 wheel by
`fingerspell_export.hands_models`); this module is the geometry, after MediaPipe's graphs
(palm_detection_cpu, hand_landmark_cpu): SSD anchors, weighted non-maximum suppression, the
rotated hand square (2.6 x the palm box, shifted half a box towards the fingers), bilinear sampling
with the edge pixels repeated, in numpy and Pillow. On the pack's photos it finds the same hands as
MediaPipe with landmarks a millimetre or two apart (docs/hands.md, "MediaPipe's hand models
without MediaPipe").
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from fingerspell.errors import ModelError

PALM_MODEL = "hands-palm.onnx"
LANDMARK_MODEL = "hands-landmark.onnx"
HAND_MODELS = (PALM_MODEL, LANDMARK_MODEL)  # bundled beside the letter models, not letter models
HANDS_METADATA_KEY = "fingerspell.hands"  # where each says where it came from (hands_models)
PALM_SIZE = 192
LANDMARK_SIZE = 224
# SsdAnchorsCalculator in palm_detection_cpu: strides of the four layers, two anchors per layer
# and cell; layers of one stride share a grid
STRIDES = (8, 16, 16, 16)
NMS_IOU = 0.3
# PalmDetectionDetectionToRoi: the hand square from the palm box
ROI_SCALE = 2.6
ROI_SHIFT_Y = -0.5
WRIST, MIDDLE_BASE = 0, 2  # the palm detector's keypoints the square is turned by


class Found(NamedTuple):
    points: list[tuple[float, float]]  # 21 landmarks, fractions of the image's width and height
    world: list[tuple[float, float, float]]  # the same in metres, about the hand's centre
    right: bool  # MediaPipe's handedness (it takes the photo for a mirror image)
    presence: float | None = None  # the landmark model's hand presence, where the finder says


def anchors() -> np.ndarray:
    """The palm detector's 2,016 anchor centres (x, y), as fractions of its input."""
    out = []
    layer = 0
    while layer < len(STRIDES):
        same = sum(1 for s in STRIDES[layer:] if s == STRIDES[layer])
        cells = math.ceil(PALM_SIZE / STRIDES[layer])
        grid = (np.arange(cells) + 0.5) / cells
        xs, ys = np.meshgrid(grid, grid)
        centres = np.stack([xs.ravel(), ys.ravel()], 1)
        out.append(np.repeat(centres, 2 * same, axis=0))
        layer += same
    return np.concatenate(out).astype(np.float32)


# Outside the photo MediaPipe repeats the edge pixels: PIL samples a copy with that edge added
# where the copy stays this small (pixels), numpy's gather (3-4 ms) beyond
PIL_MAX_AREA = 1 << 20


def _corners(centre: tuple[float, float], side: float, angle: float, size: int
             ) -> tuple[float, float, float, float, float]:
    """Where output pixel (0, 0) samples (OpenCV's pixel centres), the step along a row (dx, dy)
    and, turned a quarter, along a column."""
    step = side / size
    c, s = math.cos(angle), math.sin(angle)
    x0 = centre[0] - (c - s) * side / 2
    y0 = centre[1] - (s + c) * side / 2
    return x0, y0, c * step, s * step, step


def sample(pixels: np.ndarray, centre: tuple[float, float], side: float, angle: float,
           size: int, zero_border: bool = False) -> np.ndarray:
    """A size x size float image of the square of `side` pixels about `centre`, turned by `angle`
    radians (clockwise on screen), sampled as MediaPipe's OpenCV path does (warpPerspective from
    the square's corners, bilinear, rounded to 8 bits): outside the photo the edge pixels
    repeated, or black. PIL where it can (within one level of OpenCV), else `sample_numpy`."""
    from PIL import Image

    h, w = pixels.shape[:2]
    x0, y0, cx, cy, _ = _corners(centre, side, angle, size)
    last = size - 1
    xs = [x0 + cx * i - cy * j for i in (0, last) for j in (0, last)]
    ys = [y0 + cy * i + cx * j for i in (0, last) for j in (0, last)]
    if zero_border:  # two black pixels around: PIL repeats them, then fills black beyond
        left = top = 2
        src = np.pad(pixels, ((2, 2), (2, 2), (0, 0)))
    else:  # the part of the photo the square covers, its edge repeated where it runs outside
        lo_x, hi_x = math.floor(min(xs)) - 1, math.ceil(max(xs)) + 2
        lo_y, hi_y = math.floor(min(ys)) - 1, math.ceil(max(ys)) + 2
        if (hi_x - lo_x) * (hi_y - lo_y) > PIL_MAX_AREA and (
                lo_x < 0 or lo_y < 0 or hi_x > w or hi_y > h):
            return sample_numpy(pixels, centre, side, angle, size)
        ax, ay = min(max(lo_x, 0), w - 1), min(max(lo_y, 0), h - 1)
        bx, by = max(min(hi_x, w), ax + 1), max(min(hi_y, h), ay + 1)
        src = np.pad(pixels[ay:by, ax:bx], ((ay - lo_y if lo_y < 0 else 0, max(hi_y - h, 0)),
                                            (ax - lo_x if lo_x < 0 else 0, max(hi_x - w, 0)),
                                            (0, 0)), mode="edge")
        left, top = (-lo_x if lo_x < 0 else -ax), (-lo_y if lo_y < 0 else -ay)
    # PIL: output pixel (i, j) reads at a * (i + 0.5) + b * (j + 0.5) + c, a pixel edge position
    a, b, d, e = cx, -cy, cy, cx
    coeffs = (a, b, x0 + left + 0.5 - (a + b) / 2, d, e, y0 + top + 0.5 - (d + e) / 2)
    out = Image.fromarray(np.ascontiguousarray(src)).transform(
        (size, size), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR,
        fillcolor=(0, 0, 0))
    return np.asarray(out, np.float32)


def sample_numpy(pixels: np.ndarray, centre: tuple[float, float], side: float, angle: float,
                 size: int, zero_border: bool = False) -> np.ndarray:
    """`sample` in numpy, as OpenCV computes it: each sample placed to 1/32 of a pixel, the
    result rounded to 8 bits."""
    h, w = pixels.shape[:2]
    x_0, y_0, cx, cy, _ = _corners(centre, side, angle, size)
    i = np.arange(size, dtype=np.float64)
    x = np.rint((x_0 + cx * i[None, :] - cy * i[:, None]) * 32) / 32
    y = np.rint((y_0 + cy * i[None, :] + cx * i[:, None]) * 32) / 32
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    x0, y0 = x0.astype(np.intp), y0.astype(np.intp)
    flat = pixels.reshape(-1, pixels.shape[2])
    out = np.zeros((size, size, pixels.shape[2]), np.float32)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xi, yi = x0 + dx, y0 + dy
            value = flat[np.clip(yi, 0, h - 1) * w + np.clip(xi, 0, w - 1)]
            if zero_border:
                value = value * ((xi >= 0) & (xi < w) & (yi >= 0) & (yi < h))[..., None]
            out += value * (wx * wy)
    return np.rint(out)


def letterboxed(pixels: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The photo in the palm detector's square, its aspect kept and the rest black, as 0-1
    floats; and the black border's share of each side (x, y)."""
    h, w = pixels.shape[:2]
    side = max(h, w)
    out = sample(pixels, (w / 2, h / 2), side, 0.0, PALM_SIZE, zero_border=True)
    return out / 255.0, (1 - w / side) / 2, (1 - h / side) / 2


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2]) + np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return inter / np.maximum(area - inter, 1e-9)


class OnnxHands:
    """The most confident hand in an RGB photo, as MediaPipe Hands finds it. Thread-safe (each
    call runs on one thread: `predict_many`'s decoding threads look for hands side by side)."""

    name = "onnx"
    reports_presence = True

    def __init__(self, folder: Path, min_confidence: float, min_presence: float = 0.5,
                 threads: int = 1) -> None:
        """min_confidence: the palm detector's score; min_presence: the landmark model's hand
        presence (MediaPipe's min_tracking_confidence, 0.5 by default there too)."""
        from fingerspell.backends.onnx import import_onnxruntime

        ort = import_onnxruntime(f"the hand finder ({folder})")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sessions = []
        for name in (PALM_MODEL, LANDMARK_MODEL):
            path = folder / name
            if not path.is_file():
                raise ModelError(f"{path}: no such hand model (reinstall fingerspell)")
            sessions.append(ort.InferenceSession(str(path), options,
                                                 providers=["CPUExecutionProvider"]))
        self._palm, self._landmarks = sessions
        self._inputs = {s: s.get_inputs()[0].name for s in sessions}
        self._anchors = anchors()
        self.min_confidence = min_confidence
        self.min_presence = min_presence

    def _run(self, session: Any, tensor: np.ndarray) -> list[np.ndarray]:
        return session.run(None, {self._inputs[session]: tensor[None].astype(np.float32)})

    def palm(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The best palm's box (x0, y0, x1, y1) and 7 keypoints (x, y), as fractions of the photo;
        None below the confidence."""
        tensor, pad_x, pad_y = letterboxed(pixels)
        raw, logits = self._run(self._palm, tensor)
        scores = 1 / (1 + np.exp(-np.clip(logits[0, :, 0], -100, 100)))
        keep = scores >= self.min_confidence
        if not keep.any():
            return None
        raw, scores, centres = raw[0, keep] / PALM_SIZE, scores[keep], self._anchors[keep]
        mid, half = raw[:, :2] + centres, raw[:, 2:4] / 2
        boxes = np.concatenate([mid - half, mid + half], 1)
        points = raw[:, 4:].reshape(-1, 7, 2) + centres[:, None]
        # weighted non-maximum suppression: the best box, averaged with those overlapping it
        best = int(np.argmax(scores))
        near = _iou(boxes[best], boxes) > NMS_IOU
        weight = scores[near] / scores[near].sum()
        box = weight @ boxes[near]
        keypoints = np.tensordot(weight, points[near], axes=1)
        # out of the letterbox, into the photo's fractions
        shift, span = np.array([pad_x, pad_y]), np.array([1 - 2 * pad_x, 1 - 2 * pad_y])
        return (np.concatenate([(box[:2] - shift) / span, (box[2:] - shift) / span]),
                (keypoints - shift) / span)

    def find(self, pixels: np.ndarray) -> Found | None:
        """The hand in uint8 RGB pixels [H, W, 3], or None."""
        h, w = pixels.shape[:2]
        palm = self.palm(pixels)
        if palm is None:
            return None
        box, keypoints = palm
        # the square about the palm, turned so that wrist -> middle finger points up
        (x0, y0), (x1, y1) = keypoints[WRIST] * (w, h), keypoints[MIDDLE_BASE] * (w, h)
        angle = math.pi / 2 - math.atan2(y0 - y1, x1 - x0)
        angle -= 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))
        box_h = (box[3] - box[1]) * h
        cx = (box[0] + box[2]) / 2 * w - box_h * ROI_SHIFT_Y * math.sin(angle)
        cy = (box[1] + box[3]) / 2 * h + box_h * ROI_SHIFT_Y * math.cos(angle)
        side = max((box[2] - box[0]) * w, box_h) * ROI_SCALE
        tensor = sample(pixels, (cx, cy), side, angle, LANDMARK_SIZE) / 255.0
        screen, presence, handedness, world = self._run(self._landmarks, tensor)
        if presence[0, 0] < self.min_presence:
            return None
        c, s = math.cos(angle), math.sin(angle)
        u, v = (screen[0].reshape(21, 3)[:, :2] / LANDMARK_SIZE - 0.5).T
        points = np.stack([((c * u - s * v) * side + cx) / w, ((s * u + c * v) * side + cy) / h], 1)
        wx, wy, wz = world[0].reshape(21, 3).T
        metres = np.stack([c * wx - s * wy, s * wx + c * wy, wz], 1)
        return Found([(float(a), float(b)) for a, b in points],
                     [(float(a), float(b), float(z)) for a, b, z in metres],
                     # the model scores MediaPipe's "Left"; like MediaPipe, as if in a mirror
                     bool(handedness[0, 0] <= 0.5), float(presence[0, 0]))

    def close(self) -> None:
        pass
