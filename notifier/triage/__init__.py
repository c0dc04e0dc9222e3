"""Triage: does an unflagged comment ask a specific medical question?

``scorer`` scores a comment with the learned model and explains it (``features``
is what the model sees, ``model`` its file format, ``language`` which language a
comment is in); ``learn`` trains a site model from the site's own moderators,
``train`` and ``dataset`` hold the training (scikit-learn only there); ``rules``
and ``lexicon`` are the first, hand-written scorer, kept as the reference;
``evaluate`` measures a scorer on a labelled file (``notifier triage``).

Importing this package loads neither the scorer nor the model (a worker with
``NOTIFIER_TRIAGE=off`` never does); the first comment scored does.
"""

from notifier.triage.result import DEFAULT_THRESHOLD, TriageResult

__all__ = ["DEFAULT_THRESHOLD", "TriageResult", "triage"]


def triage(
    body: str, author_name: str | None = None, *, threshold: float = DEFAULT_THRESHOLD
) -> TriageResult:
    """Score a comment with the shipped model; `medical_question` when score >= threshold."""
    from notifier.triage.scorer import triage as score

    return score(body, author_name, threshold=threshold)
