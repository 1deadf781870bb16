"""Typed results: a prediction for an input, or the reason it failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fingerspell.errors import FingerspellError

# What an answer read (Prediction.read): a hand found (its crop, its pose, or both); the whole
# photo, where the hand's reading was unsure and the network's of the whole photo sure; the whole
# photo, where no hand was found; the network alone on the input, no hand looked for.
READ_HAND, READ_WHOLE_PHOTO, READ_NO_HAND, READ_NETWORK = "hand", "whole_photo", "no_hand", "network"


@dataclass(frozen=True)
class Prediction:
    source: str
    label: str
    confidence: float
    top_k: list[tuple[str, float]] = field(default_factory=list)
    read: str | None = None  # READ_HAND, READ_WHOLE_PHOTO, READ_NO_HAND or READ_NETWORK

    ok = True

    def to_dict(self) -> dict[str, Any]:
        d = {"source": self.source, "label": self.label, "confidence": round(self.confidence, 6),
             "top_k": [{"label": lab, "score": round(s, 6)} for lab, s in self.top_k]}
        if self.read is not None:
            d["read"] = self.read
        return d


@dataclass(frozen=True)
class Failure:
    source: str
    error: str  # one line, naming the input
    kind: str  # the error class, e.g. InputError, FetchError
    exit_code: int

    ok = False

    @classmethod
    def of(cls, source: str, exc: FingerspellError) -> Failure:
        """The failure an error raised for `source` stands for."""
        return cls(source, str(exc), type(exc).__name__, exc.exit_code)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "error": self.error, "kind": self.kind}
