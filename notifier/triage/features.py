"""What the triage model sees in a comment: n-grams of normalised text and a few signals.

Training (``notifier.triage.train``) and scoring (``notifier.triage.model``) both call
`extract`, so the two can never disagree about a feature. Pure Python, no I/O.

The text is lower-cased and its accents are folded ("medicación" and "medicacion" are
one word), then seen four ways: words, pairs of words, 3-5 letter pieces of each
word (which carry misspellings, plurals and the four languages' shared stems, e.g.
"transplant"/"trasplante"/"transplante"), and the words of the sentences that ask
something (so "dexa" in the question weighs apart from "dexa" in the story around it).
Each of those views is scaled to unit length
so a long comment does not outweigh a short one. On top come hand-written signals
(question forms in English, Spanish, Portuguese and French, first person, relatives,
drug names and clinical topics; the phrases are in `phrases.py`), each worth 1.

Every feature remembers the words it came from, so a score can be explained with the
comment's own phrases rather than feature ids.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

from notifier.triage import lexicon as lex
from notifier.triage import phrases as ph
from notifier.triage.phrases import fold
from notifier.triage.rules import drug_for

__all__ = ["SIGNAL_WORDS", "Features", "extract", "fold"]

# Enough for any real comment; bounds the work a hostile megabyte body can cause.
MAX_CHARS = 6_000
CHAR_SIZES = (3, 4, 5)

_TAG = re.compile(r"<[^>]{0,200}>")
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
# Not after the abbreviations comments use mid-sentence ("10 mg. of dex", "Dr. Patel").
_NOT_AFTER = "".join(
    rf"(?<!\b{a}\.)"
    for a in ("mg", "ml", "dr", "dra", "mr", "mrs", "ms", "sr", "sra", "st", "vs", "vit", "prof")
)
_SENTENCE_END = re.compile(rf"(?<=[.!?]){_NOT_AFTER}\s+|[\n\r]+|(?<=[?!])(?=[^\s?!.])")
# ¿ and ¡ open a Spanish question or exclamation; Arabic and full-width marks ask too.
_MARKS = str.maketrans({"؟": "?", "？": "?", "’": "'", "‘": "'", "¡": " "})


@functools.cache
def _clinical() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((label, re.compile(rx)) for label, rx in lex.CLINICAL.items())


# How each signal reads in an explanation.
SIGNAL_WORDS: dict[str, str] = {
    "s:qmark": "asks a question",
    "s:opener": "a sentence opens like a question",
    "s:opener_stated": "a sentence opens like a question but ends with a full stop",
    "s:indirect": "asks indirectly",
    "s:first_person": "writes about themselves",
    "s:relative": "writes about a relative",
    "s:clinical": "mentions a clinical topic",
    "s:ask_medical": "the question is about a drug or clinical topic",
    "s:care_ask": "asks what to do about someone's care",
    "s:general": "asks about the blog, events, donations or research",
    "s:thanks": "reads as thanks or encouragement",
    "s:spam": "looks like spam",
    "s:rhetorical": "a question nobody expects answered",
    "s:quoted_question": "quotes a question (often to answer it)",
    "s:animal": "about a pet",
    "s:few_words": "too short to ask anything",
    "s:link": "contains a link",
    "s:no_ask": "asks nothing",
    "s:ask_plain": "its question is not about health or care",
    "s:last_asks": "ends with a question",
    "s:prayer": "asks for prayers",
    "s:advice": "advises someone else",
    "s:lab": "quotes a test result",
    "s:addressed": "replies to another reader by name",
    "s:reported": "reports a question someone else asked",
    "s:asks_nurses": "asks the nurses or the InfoLine",
    "s:sharing": "shares an experience for others",
    "s:bereaved": "tells of a death",
}


@dataclass(frozen=True, slots=True)
class Features:
    """Feature name -> value, and for n-grams the phrase of the comment each came from."""

    values: dict[str, float]
    phrases: dict[str, str]
    drugs: tuple[str, ...]
    topics: tuple[str, ...]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


_FULL_STOP = re.compile(r"(?<![.?!])\.$")


def _stated(sentence: str) -> bool:
    """The sentence ends in one full stop (not "...", not "?!"), after at least four words."""
    stripped = sentence.rstrip()
    return (
        "?" not in stripped
        and len(_WORD.findall(stripped)) >= 4
        and bool(_FULL_STOP.search(stripped))
    )


def _signals(
    raw: str, text: str, author_name: str | None
) -> tuple[dict[str, float], tuple[str, ...], tuple[str, ...], list[str]]:
    """The signals, the drugs and topics named, and the sentences that ask."""
    signals: dict[str, float] = {}
    asking: list[str] = []
    drugs: list[str] = []
    topics: list[str] = []
    asking_medical = False
    asking_nurses = False
    # A pet in the first sentence or one that asks or is medical, not "I walk the dog".
    animal = False
    seen_sentence = False
    asking_general = False  # an event, donation or the site in a sentence that asks
    asked = False
    last_asks = False
    previous_asks = previous_medical = False
    for sentence in _sentences(text):
        asks = False
        if "?" in sentence:
            signals["s:qmark"] = 1.0
            asks = True
        if ph.OPENER.match(sentence):
            if _stated(sentence):
                # "When I started Velcade…." / "Quand j'ai commencé…." / "Como siempre…."
                # open like questions and are statements: the full stop says so.
                signals["s:opener_stated"] = 1.0
            else:
                signals["s:opener"] = 1.0
                asks = True
        if ph.INDIRECT.search(sentence):
            signals["s:indirect"] = 1.0
            asks = True
        medical = False
        for word in _WORD.findall(sentence):
            # The rules' drug matcher: brand and generic names, and their misspellings.
            for token in (word, *word.split("-")) if "-" in word else (word,):
                found = drug_for(token)
                if found is not None:
                    medical = True
                    name, misspelt = found
                    shown = f'{name} ("{token}")' if misspelt else name
                    if not any(d == name or d.startswith(name + " (") for d in drugs):
                        drugs.append(shown)
                    break
        if ph.CLINICAL_OTHER.search(sentence):
            medical = True
        for label, rx in _clinical():
            if rx.search(sentence):
                medical = True
                if label not in topics:
                    topics.append(label)
        if ph.LAB.search(sentence):
            medical = True
        # "Kappa 12, lambda 9, ratio 1.3. Is that normal?": the question and its medical
        # subject are often neighbouring sentences.
        if (asks and (medical or previous_medical)) or (previous_asks and medical):
            asking_medical = True
        previous_asks, previous_medical = asks, medical
        if asks:
            asking.append(sentence)
        asked = asked or asks
        animal = animal or (
            (asks or medical or not seen_sentence) and bool(ph.ANIMAL.search(sentence))
        )
        seen_sentence = True
        asking_general = asking_general or (asks and bool(ph.GENERAL.search(sentence)))
        asking_nurses = asking_nurses or (asks and bool(ph.NURSES.search(sentence)))
        last_asks = asks
    if topics or ph.CLINICAL_OTHER.search(text):
        signals["s:clinical"] = 1.0
    if asking_medical:
        signals["s:ask_medical"] = 1.0
    care_ask = bool(ph.CARE_ASK.search(text))
    # Conjunctions a linear model cannot form itself: a question with nothing medical in
    # it (parking, the website) and a comment that asks nothing at all (a story).
    if not asked and not care_ask:
        signals["s:no_ask"] = 1.0
    elif asked and not asking_medical and not care_ask:
        signals["s:ask_plain"] = 1.0
    if last_asks:
        signals["s:last_asks"] = 1.0
    if asking_nurses or (asked and ph.NURSES.search(text)):
        signals["s:asks_nurses"] = 1.0
    if ph.LAB.search(text):
        signals["s:lab"] = 1.0
    if animal or ph.VET.search(text):
        signals["s:animal"] = 1.0
    if asking_general or (not asked and ph.GENERAL.search(text)):
        signals["s:general"] = 1.0
    if ph.QUESTION_AND_ANSWER.search(text):
        signals["s:sharing"] = 1.0
    for key, rx in (
        ("s:first_person", ph.FIRST_PERSON),
        ("s:relative", ph.RELATIVE),
        ("s:thanks", ph.THANKS),
        ("s:care_ask", ph.CARE_ASK),
        ("s:rhetorical", ph.RHETORICAL),
        ("s:quoted_question", ph.QUOTED_QUESTION),
        ("s:prayer", ph.PRAYER),
        ("s:advice", ph.ADVICE),
        ("s:reported", ph.REPORTED),
        ("s:sharing", ph.SHARING),
        ("s:bereaved", ph.BEREAVED),
    ):
        if rx.search(text):
            signals[key] = 1.0
    if ph.ADDRESSED.search(_TAG.sub(" ", raw)):
        signals["s:addressed"] = 1.0
    link = bool(ph.LINK.search(raw.lower()))
    if link:
        signals["s:link"] = 1.0
    spammy_author = bool(author_name) and bool(ph.SPAMMY_AUTHOR.search(str(author_name).lower()))
    if sum(1 for rx in ph.SPAM if rx.search(text)) + link + spammy_author >= 2:
        signals["s:spam"] = 1.0
    return signals, tuple(drugs), tuple(topics), asking


def extract(body: str, author_name: str | None = None) -> Features:
    """The features of one comment (see the module's docstring).

    The author's name only counts as one more sign of spam ("cheap-meds-shop").
    """
    raw = str(body)[:MAX_CHARS]
    text = fold(_TAG.sub(" ", raw)).translate(_MARKS).replace("¿", " ")
    words = _WORD.findall(text)
    values: dict[str, float] = {}
    phrases: dict[str, str] = {}

    word_keys: list[str] = []
    for i, word in enumerate(words):
        word_keys.append("w:" + word)
        phrases.setdefault("w:" + word, word)
        if i:
            pair = words[i - 1] + " " + word
            word_keys.append("w:" + pair)
            phrases.setdefault("w:" + pair, pair)
    char_keys: list[str] = []
    for word in dict.fromkeys(words):  # first-seen order: explanations are deterministic
        padded = f" {word} "
        for size in CHAR_SIZES:
            for start in range(len(padded) - size + 1):
                key = "c:" + padded[start : start + size]
                char_keys.append(key)
                phrases.setdefault(key, word)
    for keys in (word_keys, char_keys):
        # dict.fromkeys, not set: the same order in every process, so a score's floating
        # point sum does not depend on the hash seed.
        unique = dict.fromkeys(keys)
        if unique:
            weight = 1.0 / math.sqrt(len(unique))
            for key in unique:
                values[key] = weight
    signals, drugs, topics, asking = _signals(raw, text, author_name)
    unique_q = dict.fromkeys("q:" + w for sentence in asking for w in _WORD.findall(sentence))
    for key in unique_q:
        values[key] = 1.0 / math.sqrt(len(unique_q))
        phrases.setdefault(key, key[2:])
    if len(words) <= 3:
        # One lone word weighs a lot in so short a text ("hello"): say it is short.
        signals["s:few_words"] = 1.0
    values.update(signals)
    return Features(values, phrases, drugs, topics)
