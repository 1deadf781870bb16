"""Typed results: a prediction for an input, or the reason it failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Prediction:
    source: str
    label: str
    confidence: float
    top_k: list[tuple[str, float]] = field(default_factory=list)

    ok = True

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "label": self.label, "confidence": round(self.confidence, 6),
                "top_k": [{"label": lab, "score": round(s, 6)} for lab, s in self.top_k]}


@dataclass(frozen=True)
class Failure:
    source: str
    error: str  # one line, naming the input
    kind: str  # the error class, e.g. InputError, FetchError
    exit_code: int

    ok = False

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "error": self.error, "kind": self.kind}
