"""Measure the triage on labelled comments, and run it over JSON lines.

Backs `notifier triage [--explain] [--threshold X]` (JSON lines in, verdicts out)
and `notifier triage --evaluate FILE`: precision, recall and the confusion counts
overall, per ``kind`` and per ``lang`` when the file has them, and per ``split``.
A labelled row has ``body`` and its answer as ``label`` (or ``medical_question``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from notifier.triage.result import DEFAULT_THRESHOLD, TriageResult
from notifier.triage.scorer import Scorer

__all__ = [
    "LabelledComment",
    "Metrics",
    "evaluate",
    "format_report",
    "load_labelled",
    "run_triage_lines",
]

ScoreFn = Callable[..., TriageResult]


@dataclass(frozen=True, slots=True)
class LabelledComment:
    """One comment with the answer a person gave: is it a medical question?"""

    id: str
    body: str
    author_name: str | None
    medical_question: bool
    split: str = ""
    kind: str = ""
    lang: str = ""


@dataclass(frozen=True, slots=True)
class Metrics:
    """Confusion counts, with precision and recall that are 0.0 when undefined."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    def add(self, expected: bool, predicted: bool) -> Metrics:
        return Metrics(
            tp=self.tp + (expected and predicted),
            fp=self.fp + (not expected and predicted),
            fn=self.fn + (expected and not predicted),
            tn=self.tn + (not expected and not predicted),
        )


def load_labelled(path: str | Path) -> list[LabelledComment]:
    """Read a JSON-lines file of labelled comments; blank lines are skipped."""
    items = []
    with Path(path).open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            answer = row.get("label", row.get("medical_question"))
            if not isinstance(row, dict) or not isinstance(row.get("body"), str) or answer is None:
                raise ValueError(f'{path} line {number}: needs a "body" and a "label"')
            items.append(
                LabelledComment(
                    id=str(row.get("id", f"line {number}")),
                    body=row["body"],
                    author_name=row.get("author_name"),
                    medical_question=answer in (True, 1, "1", "true", "yes"),
                    split=str(row.get("split", "")),
                    kind=str(row.get("kind", "")),
                    lang=str(row.get("lang", "")),
                )
            )
    return items


def evaluate(
    items: Iterable[LabelledComment],
    threshold: float = DEFAULT_THRESHOLD,
    score: ScoreFn | None = None,
) -> dict[str, Metrics]:
    """Metrics keyed "all", "split=…", "lang=…" and "kind=…" (for the fields present)."""
    scorer = score or Scorer()
    metrics: dict[str, Metrics] = {"all": Metrics()}
    for item in items:
        predicted = scorer(item.body, item.author_name, threshold=threshold).medical_question
        keys = ["all"] + [
            f"{field}={value}"
            for field, value in (("split", item.split), ("lang", item.lang), ("kind", item.kind))
            if value
        ]
        for key in keys:
            metrics[key] = metrics.get(key, Metrics()).add(item.medical_question, predicted)
    return metrics


def format_report(metrics: dict[str, Metrics]) -> str:
    """A small text table: overall first, then per split, language and kind."""
    keys = ["all", *sorted(k for k in metrics if k != "all")]
    width = max(len(k) for k in keys)

    def row(*cells: object) -> str:
        first, *rest = cells
        widths = (5, 4, 4, 4, 4, 9, 6)
        return f"{first!s:<{width}} " + " ".join(
            f"{c!s:>{w}}" for c, w in zip(rest, widths, strict=True)
        )

    lines = [row("", "n", "tp", "fp", "fn", "tn", "precision", "recall")]
    for key in keys:
        m = metrics[key]
        precision = f"{m.precision:.2f}" if m.tp + m.fp else "-"
        recall = f"{m.recall:.2f}" if m.tp + m.fn else "-"
        n = m.tp + m.fp + m.fn + m.tn
        lines.append(row(key, n, m.tp, m.fp, m.fn, m.tn, precision, recall))
    return "\n".join(lines) + "\n"


def _parse(line: str) -> tuple[dict[str, object] | None, str | None]:
    """The JSON object on a line, or why it cannot be triaged."""
    try:
        row = json.loads(line)
    except ValueError as exc:
        return None, f"not valid JSON: {exc}"
    if not isinstance(row, dict):
        return None, "not a JSON object"
    if not isinstance(row.get("body"), str):
        return None, 'missing "body" (a string)'
    author = row.get("author_name")
    if author is not None and not isinstance(author, str):
        return None, '"author_name" must be a string or null'
    return row, None


def _explain_rows(rows: Sequence[tuple[str, str, str, str]]) -> str:
    width = max([len(r[0]) for r in rows] + [4])
    out = [f"{'id':<{width}}  {'verdict':<9} {'score':>5}  reasons"]
    for ident, verdict, score, reasons in rows:
        out.append(f"{ident:<{width}}  {verdict:<9} {score:>5}  {reasons}")
    return "\n".join(out) + "\n"


def run_triage_lines(
    lines: Iterable[str],
    out: TextIO,
    *,
    explain: bool,
    threshold: float = DEFAULT_THRESHOLD,
    score: ScoreFn | None = None,
) -> int:
    """Triage each JSON line read; write one JSON line (or table row) per input line.

    A line that cannot be triaged gets an `{"error": ...}` line and is counted;
    blank lines are skipped. Returns the number of bad lines.
    """
    scorer = score or Scorer()
    bad = 0
    rows: list[tuple[str, str, str, str]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        row, error = _parse(line)
        if row is None:
            bad += 1
            if explain:
                rows.append((f"line {number}", "ERROR", "", error or ""))
            else:
                out.write(json.dumps({"error": f"line {number}: {error}"}) + "\n")
            continue
        author = row.get("author_name")
        result = scorer(
            str(row["body"]), author if isinstance(author, str) else None, threshold=threshold
        )
        if explain:
            ident = str(row.get("id", f"line {number}"))
            verdict = "MEDICAL" if result.medical_question else "no"
            rows.append((ident, verdict, f"{result.score:.3f}", "; ".join(result.reasons)))
            continue
        record: dict[str, object] = {}
        if "id" in row:
            record["id"] = row["id"]
        record |= {
            "medical_question": result.medical_question,
            "score": result.score,
            "language": result.language,
            "reasons": list(result.reasons),
        }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    if explain and rows:
        out.write(_explain_rows(rows))
    return bad


def triage_command(
    lines: Iterable[str],
    out: TextIO,
    explain: bool,
    threshold: float,
    evaluate_path: str | None,
    score: ScoreFn | None = None,
) -> int:
    """``notifier triage``: the worker's own scorer, on JSON lines or a labelled file."""
    if evaluate_path is not None:
        metrics = evaluate(load_labelled(evaluate_path), threshold, score)
        out.write(f"threshold {threshold:g}\n")
        out.write(format_report(metrics))
        return 0
    bad = run_triage_lines(lines, out, explain=explain, threshold=threshold, score=score)
    return 1 if bad else 0
