"""The triage model: a logistic regression scored in pure Python, and its file format.

The shipped model lives in ``notifier/triage/model/shipped.json.gz``; a site model
trained by ``notifier triage learn`` has the same format plus ``base_scale``: its
score is stacked on the shipped model's (logit = bias + base_scale x shipped logit +
its own weights), the shipped logit first held within ±``base_cap`` so that a few
dozen of the site's own labels can overrule the shipped model where it is sure but
this site's moderators consistently disagree. scikit-learn is needed only to *train*
a model, never to score one.

File format (gzip-compressed JSON, keys sorted, so a rebuild gives the same bytes)::

    {"format": "notifier-triage/1", "bias": -1.2, "weights": {"w:should i": 0.8, ...},
     "base_scale": null, "base_cap": null, "meta": {"trained_on": ...}}
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notifier.triage.features import Features

__all__ = ["FORMAT", "Model", "ModelError", "dump", "held_within", "load", "loads"]

FORMAT = "notifier-triage/1"


class ModelError(ValueError):
    """A model file that cannot be used, with the reason."""


@dataclass(frozen=True, slots=True)
class Model:
    """Weights of a linear model over `notifier.triage.features` names."""

    bias: float
    weights: dict[str, float]
    base_scale: float | None = None  # set for a site model stacked on the shipped one
    base_cap: float | None = None  # the shipped logit is held within ±base_cap (site models)
    meta: dict[str, Any] = field(default_factory=dict)

    def logit(self, features: Features, base_logit: float | None = None) -> float:
        """The model's log-odds for these features (a site model needs the shipped logit)."""
        total = self.bias
        weights = self.weights
        for name, value in features.values.items():
            weight = weights.get(name)
            if weight is not None:
                total += weight * value
        if self.base_scale is not None:
            if base_logit is None:
                raise ModelError("a site model needs the shipped model's score")
            total += self.base_scale * self.capped(base_logit)
        return total

    def capped(self, base_logit: float) -> float:
        """The shipped logit as this site model reads it."""
        return base_logit if self.base_cap is None else held_within(base_logit, self.base_cap)

    def contributions(self, features: Features) -> dict[str, float]:
        """How much each feature present moved the log-odds (features without weight omitted)."""
        weights = self.weights
        return {
            name: weights[name] * value
            for name, value in features.values.items()
            if name in weights and weights[name] != 0.0
        }


def held_within(logit: float, cap: float) -> float:
    """``logit`` clipped to ±``cap``."""
    return max(-cap, min(cap, logit))


def probability(logit: float) -> float:
    """The logistic function, safe for any float."""
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    z = math.exp(logit)
    return z / (1.0 + z)


def loads(data: bytes, origin: str = "model") -> Model:
    """A model from the bytes of a ``.json.gz`` file; ModelError says what is wrong."""
    try:
        doc = json.loads(gzip.decompress(data))
    except (OSError, EOFError, ValueError) as exc:
        raise ModelError(f"{origin}: not a gzip-compressed JSON model ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelError(f"{origin}: not a {FORMAT} model")
    weights = doc.get("weights")
    bias = doc.get("bias")
    base_scale = doc.get("base_scale")
    base_cap = doc.get("base_cap")
    if not isinstance(weights, dict) or not isinstance(bias, int | float):
        raise ModelError(f"{origin}: missing bias or weights")
    if not all(isinstance(k, str) and isinstance(v, int | float) for k, v in weights.items()):
        raise ModelError(f"{origin}: weights must map names to numbers")
    if base_scale is not None and not isinstance(base_scale, int | float):
        raise ModelError(f"{origin}: base_scale must be a number or null")
    if base_cap is not None and not (isinstance(base_cap, int | float) and base_cap > 0):
        raise ModelError(f"{origin}: base_cap must be a positive number or null")
    meta: dict[str, Any] = doc["meta"] if isinstance(doc.get("meta"), dict) else {}
    return Model(
        bias=float(bias),
        weights={k: float(v) for k, v in weights.items()},
        base_scale=None if base_scale is None else float(base_scale),
        base_cap=None if base_cap is None else float(base_cap),
        meta=meta,
    )


def load(path: str | Path) -> Model:
    """A model from a file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read triage model {path}: {exc.strerror or exc}") from None
    return loads(data, str(path))


def dump(model: Model) -> bytes:
    """The model's file bytes; the same model always gives the same bytes."""
    doc = {
        "format": FORMAT,
        "bias": round(model.bias, 6),
        "weights": {k: round(v, 5) for k, v in sorted(model.weights.items())},
        "base_scale": None if model.base_scale is None else round(model.base_scale, 6),
        "base_cap": model.base_cap,
        "meta": model.meta,
    }
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return gzip.compress(text.encode(), compresslevel=9, mtime=0)
