"""Triage: does an unflagged comment ask a specific medical question?

``rules`` scores a comment with reasons (pure, no I/O), ``lexicon`` holds its word
lists, ``evaluate`` measures it on a labelled set (``notifier triage``).
"""

from notifier.triage.rules import DEFAULT_THRESHOLD, TriageResult, triage

__all__ = ["DEFAULT_THRESHOLD", "TriageResult", "triage"]
