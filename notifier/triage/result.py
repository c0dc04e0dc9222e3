"""The triage's verdict on one comment, shared by the model scorer and the old rules."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_THRESHOLD", "TriageResult"]

DEFAULT_THRESHOLD = 0.5
"""Chosen on the development split (README, "Triage"): precision and recall about equal."""


@dataclass(frozen=True, slots=True)
class TriageResult:
    """The verdict, a probability-like score in [0, 1], and reasons a nurse can read."""

    medical_question: bool
    score: float
    reasons: tuple[str, ...]
    language: str = "other"  # "en", "es", "pt", "fr" or "other"
    model: str = "rules"  # which scorer decided: "shipped", "site" or "rules"
