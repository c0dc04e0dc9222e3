"""Measure the triage stage on labelled comments, and run it over JSON lines.

Backs `notifier triage [--explain] [--threshold X]` (JSON lines in, verdicts
out) and `notifier triage --evaluate FILE` (precision and recall per split).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from notifier.triage import DEFAULT_THRESHOLD, triage

__all__ = [
    "LabelledComment",
    "Metrics",
    "evaluate",
    "format_report",
    "load_labelled",
    "run_triage_lines",
]


@dataclass(frozen=True, slots=True)
class LabelledComment:
    """One comment with the answer a person gave: is it a medical question?"""

    id: str
    body: str
    author_name: str | None
    medical_question: bool
    split: str  # "tune" (rules may be adjusted to it) or "holdout" (never)


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
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            items.append(
                LabelledComment(
                    id=str(row["id"]),
                    body=str(row["body"]),
                    author_name=row.get("author_name"),
                    medical_question=bool(row["medical_question"]),
                    split=str(row.get("split", "tune")),
                )
            )
    return items


def evaluate(
    items: Iterable[LabelledComment], threshold: float = DEFAULT_THRESHOLD
) -> dict[str, Metrics]:
    """Metrics per split, plus "all"."""
    metrics: dict[str, Metrics] = {"all": Metrics()}
    for item in items:
        predicted = triage(item.body, item.author_name, threshold=threshold).medical_question
        for key in (item.split, "all"):
            metrics[key] = metrics.get(key, Metrics()).add(item.medical_question, predicted)
    return metrics


def format_report(metrics: dict[str, Metrics]) -> str:
    """A small text table, one row per split, "all" last."""
    keys = [*sorted(k for k in metrics if k != "all"), "all"]
    lines = [f"{'split':<8} {'tp':>4} {'fp':>4} {'fn':>4} {'tn':>4} {'precision':>9} {'recall':>6}"]
    for key in keys:
        m = metrics[key]
        lines.append(
            f"{key:<8} {m.tp:>4} {m.fp:>4} {m.fn:>4} {m.tn:>4} {m.precision:>9.2f} {m.recall:>6.2f}"
        )
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
    lines: Iterable[str], out: TextIO, *, explain: bool, threshold: float = DEFAULT_THRESHOLD
) -> int:
    """Triage each JSON line read; write one JSON line (or table row) per input line.

    A line that cannot be triaged gets an `{"error": ...}` line and is counted;
    blank lines are skipped. Returns the number of bad lines.
    """
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
        result = triage(
            str(row["body"]), author if isinstance(author, str) else None, threshold=threshold
        )
        if explain:
            ident = str(row.get("id", f"line {number}"))
            verdict = "MEDICAL" if result.medical_question else "no"
            rows.append((ident, verdict, f"{result.score:.2f}", "; ".join(result.reasons)))
            continue
        record: dict[str, object] = {}
        if "id" in row:
            record["id"] = row["id"]
        record |= {
            "medical_question": result.medical_question,
            "score": result.score,
            "reasons": list(result.reasons),
        }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    if explain and rows:
        out.write(_explain_rows(rows))
    return bad


def evaluate_file(path: str, threshold: float) -> dict[str, Metrics]:
    return evaluate(load_labelled(path), threshold)


def triage_command(
    lines: Iterable[str], out: TextIO, explain: bool, threshold: float, evaluate: str | None
) -> int:
    """``notifier triage``: the worker's own scorer, on JSON lines or a labelled file."""
    if evaluate is not None:
        metrics = evaluate_file(evaluate, threshold)
        out.write(f"threshold {threshold:g}\n")
        out.write(format_report(metrics))
        return 0
    bad = run_triage_lines(lines, out, explain=explain, threshold=threshold)
    return 1 if bad else 0
