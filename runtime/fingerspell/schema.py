"""The contract between training, export and the runtime: labels, input and model metadata.

Training writes a `ModelMetadata` next to every model, export embeds it in every artifact, and the
runtime refuses an artifact whose metadata is missing or inconsistent. Everyone imports it from
here, so the three sides cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_NAME = "fingerspell.model"
# 2 added input.crop: a runtime that cannot crop must not silently feed whole scenes to a model
# trained on hand crops, so older runtimes are told to upgrade rather than misread it.
SCHEMA_VERSION = 2

# The fixed class order of every fingerspell model: A–Z, then the three Kaggle extras.
CLASSES: tuple[str, ...] = (*(chr(c) for c in range(ord("A"), ord("Z") + 1)), "del", "nothing", "space")

# How images are brought to the model's input size. Training and the runtime both call
# fingerspell.imaging.resize_to_input with these values, so they resize the same way.
RESIZE_METHOD = "bilinear"
RESIZE_FIT = "stretch"  # the whole image, aspect ratio not kept (as Keras' image loaders do)
# What the model was trained to look at: the whole image, or a square around the hand found by
# fingerspell.handcrop (the whole image when no hand is found).
CROPS = ("none", "hand")


class MetadataError(ValueError):
    """The metadata document is missing, malformed or inconsistent."""


@dataclass
class InputSpec:
    height: int
    width: int
    channels: int = 3
    color_order: str = "RGB"
    dtype: str = "uint8"  # what the artifact's input tensor takes
    value_range: tuple[float, float] = (0.0, 255.0)
    resize_method: str = RESIZE_METHOD
    resize_fit: str = RESIZE_FIT
    layout: str = "NHWC"
    crop: str = "none"


@dataclass
class ModelMetadata:
    """A small versioned JSON document carried by every model and artifact."""

    name: str
    version: str
    labels: list[str]
    input: InputSpec
    preprocessing_in_model: str  # e.g. "caffe: RGB->BGR folded into conv1, mean subtracted"
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    artifact: dict[str, Any] = field(default_factory=dict)  # format, quantization, parent sha256
    schema: str = SCHEMA_NAME
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["input"]["value_range"] = list(self.input.value_range)
        return d

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> ModelMetadata:
        if not isinstance(data, dict):
            raise MetadataError("metadata is not a JSON object")
        if data.get("schema") != SCHEMA_NAME:
            raise MetadataError(f"not a fingerspell metadata document (schema={data.get('schema')!r})")
        version = data.get("schema_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            # a version that is no version: upgrading would not help (True is an int to Python)
            raise MetadataError(f"malformed metadata: schema_version must be a whole number of "
                                f"at least 1, not {version!r}")
        if version > SCHEMA_VERSION:
            raise MetadataError(
                f"metadata schema_version {version!r} is newer than this fingerspell understands "
                f"({SCHEMA_VERSION}); upgrade fingerspell"
            )
        try:
            spec = dict(data["input"])
            spec["value_range"] = tuple(spec.get("value_range", (0.0, 255.0)))
            meta = cls(
                name=str(data["name"]),
                version=str(data["version"]),
                labels=[str(x) for x in data["labels"]],
                input=InputSpec(**spec),
                preprocessing_in_model=str(data.get("preprocessing_in_model", "")),
                training=dict(data.get("training") or {}),
                metrics=dict(data.get("metrics") or {}),
                artifact=dict(data.get("artifact") or {}),
                schema_version=version,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MetadataError(f"malformed metadata: {exc}") from exc
        meta.validate()
        return meta

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelMetadata:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise MetadataError(f"metadata is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    def validate(self) -> None:
        if not self.labels or len(set(self.labels)) != len(self.labels):
            raise MetadataError("labels must be a non-empty list of unique names")
        spec = self.input
        if spec.height < 8 or spec.width < 8 or spec.channels != 3:
            raise MetadataError(f"unsupported input shape {spec.height}x{spec.width}x{spec.channels}")
        if spec.color_order != "RGB" or spec.layout != "NHWC":
            raise MetadataError(f"unsupported input {spec.color_order}/{spec.layout}")
        if spec.dtype not in ("uint8", "float32"):
            raise MetadataError(f"unsupported input dtype {spec.dtype!r}")
        if spec.crop not in CROPS:
            raise MetadataError(f"unsupported crop {spec.crop!r}; this fingerspell knows {', '.join(CROPS)}")
        if spec.resize_method != RESIZE_METHOD or spec.resize_fit != RESIZE_FIT:
            raise MetadataError(f"unsupported resize {spec.resize_method}/{spec.resize_fit}")
