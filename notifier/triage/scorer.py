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
# Words too common to explain anything to a nurse (folded, as features are).
_FILLER = frozenset(
    (  # noqa: SIM905 - a word list reads better as text
        "a an and the of to in on at for with from by is are was be been it its this that "
        "these those i me my we our you your he him his she her they them their who what "
        "do does did have has had got get so but or if as just not no new very "
        "el la los las un una y o de del en que por para con se lo le mi su es son "
        "o a os as um uma e de do da em que por para com se meu minha seu sua "
        "le la les un une et ou de du des en que pour par avec se mon ma son sa est"
    ).split()
)


@functools.cache
def shipped_model() -> Model:
    """The model shipped in the package, read once."""
    return load(SHIPPED_MODEL)


def _quote(phrase: str) -> str:
    # Phrases come from untrusted text: keep them short and printable.
    phrase = " ".join(phrase.split())
    return "“" + (phrase if len(phrase) <= 40 else phrase[:39] + "…") + "”"


def _weighed(
    contributions: dict[str, float], features: Features
) -> tuple[dict[str, float], dict[str, float]]:
    """Pulls on the log-odds: per phrase of the comment, and per signal (in words)."""
    phrases: dict[str, float] = defaultdict(float)
    signals: dict[str, float] = defaultdict(float)
    for name, pull in contributions.items():
        if name in SIGNAL_WORDS:
            signals[SIGNAL_WORDS[name]] += pull
        elif name in features.phrases:
            phrase = features.phrases[name]
            # Letter pieces count for the word they came from; "and", "her" say nothing.
            if not all(word in _FILLER for word in phrase.split()):
                phrases[_quote(phrase)] += pull
    return phrases, signals


def _strongest(pulls: dict[str, float], sign: int, top: int = _TOP) -> list[str]:
    chosen = sorted(
        (p for p in pulls.items() if p[1] * sign >= _NOTABLE), key=lambda p: (-abs(p[1]), p[0])
    )
    return [phrase for phrase, _ in chosen[:top]]


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
            # The shipped pulls, as much as the site model let them count (see base_cap).
            shrink = self._site.capped(base_logit) / base_logit if base_logit else 1.0
            scale = (self._site.base_scale or 0.0) * shrink
            mixed = {name: pull * scale for name, pull in contributions.items()}
            for name, pull in self._site.contributions(features).items():
                mixed[name] = mixed.get(name, 0.0) + pull
            contributions = mixed
        # Six decimals: many distinct values, and the same number on every machine.
        score = round(probability(logit), 6)
        language = detect(body)
        phrases, signals = _weighed(contributions, features)
        reasons = [f"written in {LANGUAGE_NAMES[language]}"]
        if signs := _strongest(signals, +1, 3):
            reasons.append("signs: " + ", ".join(signs))
        if towards := _strongest(phrases, +1):
            reasons.append("for a question: " + ", ".join(towards))
        if against := _strongest(phrases, -1, 2) + _strongest(signals, -1, 2):
            reasons.append("against: " + ", ".join(against))
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
