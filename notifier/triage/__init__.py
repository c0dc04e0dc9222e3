"""Triage: does an unflagged comment ask a specific medical question?

``scorer`` scores a comment with the learned model and explains it (``features``
is what the model sees, ``model`` its file format, ``language`` which language a
comment is in); ``learn`` trains a site model from the site's own moderators,
``train`` and ``dataset`` hold the training (scikit-learn only there); ``rules``
and ``lexicon`` are the first, hand-written scorer, kept as the reference;
``evaluate`` measures a scorer on a labelled file (``notifier triage``).
Importing this package does not read the model: the first comment scored does.
"""

from notifier.triage.result import DEFAULT_THRESHOLD, TriageResult
from notifier.triage.scorer import Scorer, triage

__all__ = ["DEFAULT_THRESHOLD", "Scorer", "TriageResult", "triage"]
