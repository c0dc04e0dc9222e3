"""Which language a comment is written in: English, Spanish, Portuguese, French or other.

A small naive Bayes over the letters of the comment (pieces of 1 to 3 characters,
accents kept: "ção", "ñ", "qu'"), trained on the project's labelled comments by
``scripts/train-triage`` and shipped as ``model/language.json.gz``. A comment of four
words or more in which none of the four languages' commonest words appears (German,
Italian...) is "other"; a shorter one is left to the letter pieces alone. Pure Python,
loaded on first use.
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

__all__ = ["LANGUAGES", "LANGUAGE_NAMES", "detect", "fit_profiles"]

LANGUAGES = ("en", "es", "pt", "fr")
LANGUAGE_NAMES = {
    "en": "English",
    "es": "Spanish",
    "pt": "Portuguese",
    "fr": "French",
    "other": "another language",
}
MODEL_FILE = Path(__file__).parent / "model" / "language.json.gz"

# Words common in one of the four languages; a text with none of them is "other".
_COMMON = frozenset(
    (  # noqa: SIM905 - a word list reads better as text
        "the and is are was to of in it my i you we that this what how with for on have can "
        "do not but be just me your from after know now at new "
        "el la los las y es de del en que mi un una por para con se lo no pero muy hay "
        "tengo sin entre "
        "o a os as e é do da em meu minha um uma com não mas tem tenho eu muito sem pelo "
        "sou aqui estou oi olá hola soy aquí estoy bonjour suis ici "
        "le les et est du des mon ma pour par avec ne pas mais je j ai très sans"
    ).split()
)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_SIZES = (1, 2, 3)
_MAX_CHARS = 400  # plenty to tell four languages apart; bounds a huge comment's cost


def _grams(text: str) -> Iterable[str]:
    for word in _WORD.findall(text.lower()[:_MAX_CHARS]):
        padded = f" {word} "
        for size in _SIZES:
            for start in range(len(padded) - size + 1):
                yield padded[start : start + size]


def fit_profiles(rows: Iterable[tuple[str, str]], min_count: int = 2) -> dict[str, object]:
    """Log-probabilities of letter pieces per language, from (text, language) rows."""
    counts = {lang: Counter[str]() for lang in LANGUAGES}
    for text, lang in rows:
        if lang in counts:
            counts[lang].update(_grams(text))
    vocabulary = sorted({g for c in counts.values() for g, n in c.items() if n >= min_count})
    profiles: dict[str, object] = {}
    for lang in LANGUAGES:
        total = sum(counts[lang][g] for g in vocabulary) + len(vocabulary) + 1
        profiles[lang] = {
            "unseen": round(math.log(1 / total), 4),
            "logp": {g: round(math.log((counts[lang][g] + 1) / total), 4) for g in vocabulary},
        }
    return {"format": "notifier-language/1", "profiles": profiles}


@functools.cache
def _profiles() -> tuple[tuple[float, ...], dict[str, tuple[float, ...]]]:
    """Per piece, its log-probability in each language (in LANGUAGES order)."""
    doc = json.loads(gzip.decompress(MODEL_FILE.read_bytes()))
    profiles = doc["profiles"]
    unseen = tuple(float(profiles[lang]["unseen"]) for lang in LANGUAGES)
    grams = sorted({g for lang in LANGUAGES for g in profiles[lang]["logp"]})
    table = {
        g: tuple(
            float(profiles[lang]["logp"].get(g, profiles[lang]["unseen"])) for lang in LANGUAGES
        )
        for g in grams
    }
    return unseen, table


def detect(text: str) -> str:
    """ "en", "es", "pt", "fr" or "other"."""
    words = _WORD.findall(str(text).lower()[:_MAX_CHARS])
    if not words or (len(words) >= 4 and not any(w in _COMMON for w in words)):
        return "other"  # a short comment is left to the letter pieces
    unseen, table = _profiles()
    en = es = pt = fr = 0.0
    for gram in _grams(str(text)):
        a, b, c, d = table.get(gram, unseen)
        en, es, pt, fr = en + a, es + b, pt + c, fr + d
    scores = {"en": en, "es": es, "pt": pt, "fr": fr}
    return max(LANGUAGES, key=scores.__getitem__)
