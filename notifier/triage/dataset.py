"""The triage's labelled data: where it lives, how it is read, how it is split.

Sources, all under ``triage-data/`` in the repository (not shipped in the wheel):

- ``comments/*.tsv``: comments written for this project in English, Spanish,
  Portuguese and French, one per line: ``label<TAB>kind<TAB>body``. Files that share
  a stem number (``es.tsv``, ``pt.tsv``, ``fr.tsv``) hold translations of one another
  line by line, so a line's *group* is its stem number and line number: translations
  always fall in the same split and the development figures are not flattered.
- ``../tests/data/triage_comments.jsonl``: the 182 comments the rule scorer
  (``notifier.triage.rules``) was written with, read where its tests keep it.
- ``meqsum/meqsum_consumer_questions.jsonl``: 780 real consumer health questions
  (MeQSum, CC BY 4.0), all positives.

The split is a hash of the group, so it never changes when rows are added elsewhere:
25 % of comments go to "dev"; MeQSum keeps 20 % "heldout" (never trained on, never
used for choices), 10 % "dev" and the rest "train".
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Example", "load_examples", "split_of"]

_STEM = re.compile(r"([a-z]+)(\d*)")


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled comment."""

    id: str
    body: str
    label: bool
    lang: str
    kind: str
    source: str
    split: str


def _bucket(group: str) -> int:
    return int(hashlib.sha256(group.encode()).hexdigest()[:8], 16) % 100


def split_of(group: str, source: str) -> str:
    """The fixed split of a group of rows."""
    bucket = _bucket(group)
    if source == "meqsum":
        return "heldout" if bucket < 20 else "dev" if bucket < 30 else "train"
    return "dev" if bucket < 25 else "train"


def _written(root: Path) -> Iterator[Example]:
    for path in sorted((root / "comments").glob("*.tsv")):
        match = _STEM.fullmatch(path.stem)
        if match is None:
            raise ValueError(f"{path.name}: name it <language><number>.tsv, e.g. es2.tsv")
        lang, number = match.group(1), match.group(2) or "1"
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            label, kind, body = line.split("\t", 2)
            # English rows are not translations of the others: a group of their own.
            group = f"{lang if lang == 'en' else 'x'}{number}-{line_no}"
            yield Example(
                id=f"{path.stem}-{line_no}",
                body=body,
                label=label == "1",
                lang=lang,
                kind=kind,
                source="written",
                split=split_of(group, "written"),
            )


def _original(root: Path) -> Iterator[Example]:
    path = root.parent / "tests" / "data" / "triage_comments.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            label = bool(row["medical_question"])
            yield Example(
                id=f"orig-{row['id']}",
                body=str(row["body"]),
                label=label,
                lang="en",
                kind="original-question" if label else "original-other",
                source="original",
                split=split_of(f"orig-{row['id']}", "original"),
            )


def _meqsum(root: Path) -> Iterator[Example]:
    path = root / "meqsum" / "meqsum_consumer_questions.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            yield Example(
                id=str(row["id"]),
                body=str(row["body"]),
                label=True,
                lang="en",
                kind="meqsum",
                source="meqsum",
                split=split_of(str(row["id"]), "meqsum"),
            )


def load_examples(root: Path) -> list[Example]:
    """Every labelled row, in a fixed order."""
    return [*_written(root), *_original(root), *_meqsum(root)]
