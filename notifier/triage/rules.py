"""The first triage: hand-written rules, the reference the model is measured against.

The worker scores with the learned model (``notifier.triage.scorer``); these rules
remain for ``bench/`` and the comparison in the README. A comment must *ask*
something (directly, or indirectly as in "just wanted to know if"), the asking
must not be about the blog, events, donations or research news, and the comment
must be about a person's disease, tests, treatment, side effects or care. Spam
scores zero however many drug names it carries.

Pure: no I/O, no logging. Word lists live in `notifier.triage.lexicon` and are
compiled on first call, so importing this module is cheap.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from notifier.triage import lexicon as lex
from notifier.triage.result import TriageResult

__all__ = ["RULES_THRESHOLD", "drug_for", "triage"]

RULES_THRESHOLD = 0.6
"""An ask (0.30) plus medical content (0.30) reaches it; neither alone does."""

# Weights of the score's parts; they add up to 1.0.
_ASK = 0.30  # asks something that is not about the blog, events or donations
_CARE_ASK = 0.10  # ...in a form that asks for advice: "should I", "is it safe"
_MEDICAL = 0.30  # names a drug, test, side effect or other clinical topic
_DISEASE_ONLY = 0.15  # ...or only names the disease ("myeloma")
_NEAR = 0.15  # the medical content is in or just before the asking sentence
_PERSONAL = 0.15  # about the writer or a relative, not myeloma in general

# Enough for any real comment; bounds the work a hostile megabyte body can cause.
_MAX_CHARS = 20_000


@dataclass(frozen=True, slots=True)
class _Patterns:
    care_asks: re.Pattern[str]
    indirect_asks: re.Pattern[str]
    opener: re.Pattern[str]
    general: re.Pattern[str]
    social: re.Pattern[str]
    clinical: tuple[tuple[str, re.Pattern[str]], ...]
    disease: re.Pattern[str]
    first_person: re.Pattern[str]
    relatives: re.Pattern[str]
    thanks: re.Pattern[str]
    spam: tuple[tuple[str, re.Pattern[str]], ...]
    link: re.Pattern[str]
    spammy_author: re.Pattern[str]
    drug_spellings: dict[str, str]  # spelling -> display name


@functools.cache
def _patterns() -> _Patterns:
    def any_of(alternatives: tuple[str, ...]) -> re.Pattern[str]:
        return re.compile("|".join(f"(?:{a})" for a in alternatives))

    opener = (
        rf"^(?:(?:{lex.AUXILIARY_OPENERS})\s+(?:{lex.AUXILIARY_SUBJECTS})\b"
        # "When I was diagnosed..." tells a story; "When is..." asks.
        rf"|(?:{lex.WH_OPENERS})\b(?!\s+(?:i|we|he|she|they|my|a|an)\b))"
    )
    spellings = {s: name for name, names in lex.DRUGS.items() for s in names}
    return _Patterns(
        care_asks=any_of(lex.CARE_ASKS),
        indirect_asks=any_of(lex.INDIRECT_ASKS),
        opener=re.compile(opener),
        general=re.compile(lex.GENERAL_TOPICS),
        social=re.compile(lex.SOCIAL_ASKS),
        clinical=tuple((label, re.compile(rx)) for label, rx in lex.CLINICAL.items()),
        disease=re.compile(lex.DISEASE),
        first_person=re.compile(lex.FIRST_PERSON),
        relatives=re.compile(lex.RELATIVES),
        thanks=re.compile(lex.THANKS),
        spam=tuple((label, re.compile(rx)) for label, rx in lex.SPAM_PHRASES.items()),
        link=re.compile(lex.LINK),
        spammy_author=re.compile(lex.SPAMMY_AUTHOR),
        drug_spellings=spellings,
    )


def _osa_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (optimal string alignment), capped at limit + 1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


# English words within two edits of a long drug name ("explicit" ~ "empliciti").
_NOT_DRUGS = frozenset({"explicit", "implicit", "decades"})


# Bounded, not functools.cache: a long-running worker sees unboundedly many words.
@functools.lru_cache(maxsize=8192)
def drug_for(token: str) -> tuple[str, bool] | None:
    """The drug a word names, and whether it is misspelt; None if it names none."""
    spellings = _patterns().drug_spellings
    if token in spellings:
        return spellings[token], False
    if token in lex.KNOWN_MISSPELLINGS:
        return lex.KNOWN_MISSPELLINGS[token], True
    if len(token) < 5 or not token.isalpha() or token in _NOT_DRUGS:
        return None
    best: tuple[int, str] | None = None
    for spelling, name in spellings.items():
        # Misspellings keep the first letter; requiring it avoids most English words.
        if len(spelling) < 5 or spelling[0] != token[0]:
            continue
        limit = 1 if len(spelling) <= 7 else 2
        distance = _osa_distance(token, spelling, limit)
        if distance <= limit and (best is None or distance < best[0]):
            best = (distance, name)
    return (best[1], True) if best else None


_TAG = re.compile(r"<[^>]{0,200}>")
# C0/C1 controls (NUL included) and runs of spaces would split phrases invisibly.
_CONTROLS = re.compile(r"(?:[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|[^\S\n\r])+")
# Arabic and full-width question marks ask as much as "?" does.
_QUESTION_MARKS = str.maketrans({"؟": "?", "？": "?", "¿": " "})
# A sentence ends at . ! ? followed by a space, at a line break, or at ? ! 。
# followed directly by more words ("is it safe?my nurse says...").
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|[\n\r]+|(?<=[?!。])(?=[^\s?!.。])")
_LEADING_FILLER = re.compile(
    r"^(?:[\W\d_]+|(?:hi|hello|hey|dear|bonjour|hola|ps|also|and|but|so|ok|okay|sorry"
    r"|quick question|one more thing|question)\b)+"
)
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _quote(cue: str) -> str:
    # Cues come from untrusted text: keep them short and printable.
    cue = " ".join(cue.split())
    cue = cue if len(cue) <= 40 else cue[:39] + "…"
    return '"' + re.sub(r"\bi\b", "I", cue) + '"'


def _medical_content(
    p: _Patterns, sentences: list[str]
) -> tuple[dict[str, str | None], list[str], set[int]]:
    """Drugs named (with the first misspelling seen), clinical topics, and where."""
    drugs: dict[str, str | None] = {}
    topics: list[str] = []
    rows: set[int] = set()
    for row, sentence in enumerate(sentences):
        for word in _WORD.findall(sentence):
            # "ide-cel" is one name; "velcade-revlimid" is two.
            whole = drug_for(word) if "-" in word else None
            pairs = [(word, whole)] if whole else [(t, drug_for(t)) for t in word.split("-")]
            for token, found in pairs:
                if found:
                    name, misspelt = found
                    if misspelt and drugs.get(name) is None:
                        drugs[name] = token
                    drugs.setdefault(name, None)
                    rows.add(row)
        for label, rx in p.clinical:
            if rx.search(sentence):
                rows.add(row)
                if label not in topics:
                    topics.append(label)
    return drugs, topics, rows


def _spam_signs(p: _Patterns, raw: str, text: str, author_name: str | None) -> list[str]:
    """What makes the comment look like spam; empty unless there are two signs or more."""
    signs = (["a link"] if p.link.search(raw) else []) + [
        label for label, rx in p.spam if rx.search(text)
    ]
    if author_name and p.spammy_author.search(str(author_name).lower()):
        signs.append("a spammer's name")
    return signs if len(signs) >= 2 else []


def triage(
    body: str, author_name: str | None = None, *, threshold: float = RULES_THRESHOLD
) -> TriageResult:
    """Score a comment; `medical_question` is True when the score reaches `threshold`."""
    p = _patterns()
    raw = _CONTROLS.sub(" ", str(body)[:_MAX_CHARS])
    text = _TAG.sub(" ", raw).lower().translate(_QUESTION_MARKS)
    sentences = _sentences(text)

    # Which sentences ask something, and is the asking about care or about the blog?
    ask_cue = care_cue = general_cue = None
    ask_rows: list[int] = []
    for row, sentence in enumerate(sentences):
        bare = _LEADING_FILLER.sub("", sentence).strip()
        if p.social.search(bare):
            continue
        care = p.care_asks.search(sentence)
        indirect = p.indirect_asks.search(sentence)
        opener = p.opener.match(bare)
        if not ("?" in sentence or care or indirect or opener):
            continue
        general = p.general.search(sentence)
        if general:
            general_cue = general_cue or general.group()
            continue
        ask_rows.append(row)
        if care and not care_cue:
            care_cue = care.group()
        if not ask_cue:
            # A plain question is quoted by its opening words: "is Aredia still…".
            opening = " ".join(bare.split()[:3]) + "…"
            ask_cue = (
                f"asks indirectly — {_quote(indirect.group())}"
                if indirect
                else (f"asks a question — {_quote(care.group() if care else opening)}")
            )

    drugs, topics, medical_rows = _medical_content(p, sentences)
    disease = bool(p.disease.search(text))
    relative = p.relatives.search(text)
    personal = relative or p.first_person.search(text)
    spam = _spam_signs(p, raw.lower(), text, author_name)

    score = 0.0
    if ask_rows:
        score += _ASK + (_CARE_ASK if care_cue else 0.0)
        if any(r in medical_rows or r - 1 in medical_rows for r in ask_rows):
            score += _NEAR
    if medical_rows:
        score += _MEDICAL
    elif disease:
        score += _DISEASE_ONLY
    if personal:
        score += _PERSONAL
    if spam:
        score = 0.0
    score = round(min(score, 1.0), 2)

    reasons: list[str] = []
    if spam:
        reasons.append("looks like spam — " + ", ".join(spam))
    elif ask_rows:
        if care_cue and personal and not relative:
            reasons.append(f"asks about their own treatment — {_quote(care_cue)}")
        elif care_cue:
            reasons.append(f"asks for advice — {_quote(care_cue)}")
        else:
            reasons.append(ask_cue or "asks a question")
        if relative:
            reasons.append(f"asks on behalf of a relative — {_quote(relative.group())}")
    elif general_cue:
        reasons.append(f"asks about the blog, events or donations — {_quote(general_cue)}")
    if drugs:
        named = [f"{n} ({_quote(m)})" if m else n for n, m in drugs.items()]
        reasons.append("names drugs — " + ", ".join(named))
    if topics:
        reasons.append("mentions " + ", ".join(topics))
    if not spam and not ask_rows:
        if p.thanks.search(text):
            reasons.append("reads as thanks/encouragement")
        elif drugs or topics:
            reasons.append("tells a story but asks nothing")
        elif not general_cue:
            reasons.append("asks nothing")
    elif not spam and not (drugs or topics):
        reasons.append("asks nothing about a person's disease or treatment")
    return TriageResult(score >= threshold, score, tuple(reasons), language="en", model="rules")
