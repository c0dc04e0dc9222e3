"""The triage's verdict on one comment, shared by the model scorer and the old rules."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_THRESHOLD", "TriageResult"]

DEFAULT_THRESHOLD = 0.55
"""Chosen on the development split and cross-writer checks (README, "Triage"): precision
and recall about equal on comments by writers the model was not trained on."""


@dataclass(frozen=True, slots=True)
class TriageResult:
    """The verdict, a probability-like score in [0, 1], and reasons a nurse can read."""

    medical_question: bool
    score: float
    reasons: tuple[str, ...]
    language: str = "other"  # "en", "es", "pt", "fr" or "other"
    model: str = "rules"  # which scorer decided: "shipped", "site" or "rules"
