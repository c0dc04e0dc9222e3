"""Score a comment with the learned model and say why, in words a nurse can read.

The shipped model (``model/shipped.json.gz``) is read on the first comment scored,
not on import, so a worker with ``NOTIFIER_TRIAGE=off`` never loads it. A site model
(``notifier triage learn``) is stacked on the shipped one when the worker has one.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from pathlib import Path

from notifier.triage.features import SIGNAL_WORDS, Features, extract
from notifier.triage.language import LANGUAGE_NAMES, detect
from notifier.triage.model import Model, load, probability
from notifier.triage.result import DEFAULT_THRESHOLD, TriageResult

__all__ = ["SHIPPED_MODEL", "Scorer", "shipped_model", "triage"]

SHIPPED_MODEL = Path(__file__).parent / "model" / "shipped.json.gz"
_TOP = 4  # phrases named in each direction
_NOTABLE = 0.05  # a smaller pull on the log-odds is not worth a nurse's attention


@functools.cache
def shipped_model() -> Model:
    """The model shipped in the package, read once."""
    return load(SHIPPED_MODEL)


def _quote(phrase: str) -> str:
    # Phrases come from untrusted text: keep them short and printable.
    phrase = " ".join(phrase.split())
    return "“" + (phrase if len(phrase) <= 40 else phrase[:39] + "…") + "”"


def _weighed(contributions: dict[str, float], features: Features) -> dict[str, float]:
    """Pulls on the log-odds, summed per phrase of the comment (or per signal, in words)."""
    by_phrase: dict[str, float] = defaultdict(float)
    for name, pull in contributions.items():
        if name in SIGNAL_WORDS:
            by_phrase[SIGNAL_WORDS[name]] += pull
        elif name in features.phrases:
            by_phrase[_quote(features.phrases[name])] += pull
    return by_phrase


def _strongest(pulls: dict[str, float], sign: int) -> list[str]:
    chosen = sorted(
        (p for p in pulls.items() if p[1] * sign >= _NOTABLE), key=lambda p: (-abs(p[1]), p[0])
    )
    return [phrase for phrase, _ in chosen[:_TOP]]


class Scorer:
    """The shipped model, optionally with a site model on top."""

    def __init__(self, site: Model | None = None, shipped: Model | None = None) -> None:
        self._site = site
        self._shipped = shipped

    @property
    def model_name(self) -> str:
        return "site" if self._site is not None else "shipped"

    def __call__(
        self,
        body: str,
        author_name: str | None = None,
        *,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> TriageResult:
        shipped = self._shipped or shipped_model()
        features = extract(body, author_name)
        base_logit = shipped.logit(features)
        contributions = shipped.contributions(features)
        logit = base_logit
        if self._site is not None:
            logit = self._site.logit(features, base_logit)
            scale = self._site.base_scale or 0.0
            mixed = {name: pull * scale for name, pull in contributions.items()}
            for name, pull in self._site.contributions(features).items():
                mixed[name] = mixed.get(name, 0.0) + pull
            contributions = mixed
        # Six decimals: many distinct values, and the same number on every machine.
        score = round(probability(logit), 6)
        language = detect(body)
        pulls = _weighed(contributions, features)
        reasons = [f"written in {LANGUAGE_NAMES[language]}"]
        towards = _strongest(pulls, +1)
        against = _strongest(pulls, -1)
        if towards:
            reasons.append("weighed most for a medical question: " + ", ".join(towards))
        if against:
            reasons.append("weighed against: " + ", ".join(against))
        if features.drugs:
            reasons.append("names drugs — " + ", ".join(features.drugs))
        if features.topics:
            reasons.append("mentions " + ", ".join(features.topics))
        return TriageResult(
            medical_question=score >= threshold,
            score=score,
            reasons=tuple(reasons),
            language=language,
            model=self.model_name,
        )


@functools.cache
def _default() -> Scorer:
    return Scorer()


def triage(
    body: str, author_name: str | None = None, *, threshold: float = DEFAULT_THRESHOLD
) -> TriageResult:
    """Score a comment with the shipped model; `medical_question` when score >= threshold."""
    return _default()(body, author_name, threshold=threshold)
