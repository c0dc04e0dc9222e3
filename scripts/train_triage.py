"""Rebuild the shipped triage models from triage-data/ and write what they score.

    scripts/train-triage             # models + triage-data/REPORT.md + evaluation files
    scripts/train-triage --compare   # also the other techniques, on the same split

Writes notifier/triage/model/{shipped,language}.json.gz (same bytes on every run),
triage-data/dev.jsonl and triage-data/meqsum-heldout.jsonl (for
`notifier triage --evaluate`), and triage-data/REPORT.md (the figures in the README).
Needs scikit-learn: pip install -e '.[learn]'.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from notifier.triage import language  # noqa: E402
from notifier.triage.dataset import Example, load_examples  # noqa: E402
from notifier.triage.evaluate import LabelledComment, Metrics, evaluate, format_report  # noqa: E402
from notifier.triage.model import dump  # noqa: E402
from notifier.triage.result import DEFAULT_THRESHOLD  # noqa: E402
from notifier.triage.scorer import SHIPPED_MODEL, Scorer  # noqa: E402
from notifier.triage.train import DEFAULT_C, fit, score_all  # noqa: E402

DATA = ROOT / "triage-data"
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.7, 0.8)
MEQSUM_ATTRIBUTION = (
    "Trained in part on MeQSum consumer health questions: Asma Ben Abacha and Dina "
    "Demner-Fushman, 'On the Summarization of Consumer Health Questions', ACL 2019 "
    "(https://www.aclweb.org/anthology/P19-1215), CC BY 4.0."
)


def labelled(rows: Sequence[Example]) -> list[LabelledComment]:
    return [LabelledComment(e.id, e.body, None, e.label, e.split, e.kind, e.lang) for e in rows]


def write_jsonl(path: Path, rows: Sequence[Example]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for e in rows:
            record = {"id": e.id, "body": e.body, "label": e.label, "lang": e.lang, "kind": e.kind}
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def pr_at(scores: Sequence[float], labels: Sequence[bool], t: float) -> tuple[float, float]:
    m = Metrics()
    for s, y in zip(scores, labels, strict=True):
        m = m.add(y, s >= t)
    return m.precision, m.recall


def calibration(scores: Sequence[float], labels: Sequence[bool]) -> list[str]:
    """Reliability table: in each score band, the share that really were questions."""
    out = [
        "| score band | comments | mean score | share that were questions |",
        "|---|---|---|---|",
    ]
    for low in (0.0, 0.2, 0.4, 0.6, 0.8):
        band = [(s, y) for s, y in zip(scores, labels, strict=True) if low <= s < low + 0.2 + 1e-9]
        if band:
            mean = statistics.fmean(s for s, _ in band)
            share = sum(y for _, y in band) / len(band)
            out.append(f"| {low:.1f}–{low + 0.2:.1f} | {len(band)} | {mean:.2f} | {share:.2f} |")
    return out


def compare(train: Sequence[Example], dev: Sequence[Example], held: Sequence[Example]) -> list[str]:
    """Other techniques on the same split: dev precision/recall, held-out MeQSum recall."""
    comments = [e for e in dev if e.source != "meqsum"]
    rows = [
        "| technique | threshold | dev P | dev R | comments P | comments R | MeQSum held-out R |"
    ]
    rows.append("|---|---|---|---|---|---|---|")

    def add(name: str, scorer: Callable[[Sequence[str]], list[float]], t: float) -> None:
        d = scorer([e.body for e in dev])
        c = scorer([e.body for e in comments])
        h = scorer([e.body for e in held])
        p, r = pr_at(d, [e.label for e in dev], t)
        pc, rc = pr_at(c, [e.label for e in comments], t)
        hr = sum(s >= t for s in h) / len(h)
        rows.append(f"| {name} | {t:g} | {p:.2f} | {r:.2f} | {pc:.2f} | {rc:.2f} | {hr:.2f} |")

    from notifier.triage.rules import RULES_THRESHOLD
    from notifier.triage.rules import triage as rules

    add("hand-written rules (before)", lambda bs: [rules(b).score for b in bs], RULES_THRESHOLD)
    bodies, labels = [e.body for e in train], [e.label for e in train]
    for keep, name in (
        (("w:",), "LR, words and word pairs only"),
        (("w:", "c:"), "LR, words + letter n-grams, no signals"),
        (None, "LR, words + letter n-grams + signals (shipped)"),
    ):
        model = fit(bodies, labels, c=DEFAULT_C, keep=keep)
        for t in (0.4, 0.5):
            add(name, lambda bs, m=model: score_all(m, bs), t)
    try:
        rows.extend(_wordllama(train, add))
    except ImportError:
        rows.append("| WordLlama + LR | (not installed: pip install wordllama) | | | | | |")
    return rows


def _wordllama(train: Sequence[Example], add: Callable[..., None]) -> list[str]:
    import tempfile

    import wordllama
    from sklearn.linear_model import LogisticRegression
    from wordllama import WordLlama

    # wordllama 0.4 looks for its bundled tokenizer in a folder that does not match
    # where the wheel puts it, then downloads it: point its cache at the bundled copy.
    package = Path(wordllama.__file__).parent
    with tempfile.TemporaryDirectory() as cache:
        (Path(cache) / "tokenizers").symlink_to(package / "tokenizers")
        wl = WordLlama.load(cache_dir=cache, disable_download=True)
    x = wl.embed([e.body for e in train])
    lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000)
    lr.fit(x, [int(e.label) for e in train])
    for t in (0.4, 0.5):
        add(
            "WordLlama 256-d embeddings + LR",
            lambda bs: list(lr.predict_proba(wl.embed(bs))[:, 1]),
            t,
        )
    return []


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", action="store_true", help="also run the other techniques")
    args = parser.parse_args(argv)
    started = time.monotonic()

    examples = load_examples(DATA)
    train = [e for e in examples if e.split == "train"]
    dev = [e for e in examples if e.split == "dev"]
    held = [e for e in examples if e.split == "heldout"]

    profiles = language.fit_profiles((e.body, e.lang) for e in train)
    text = json.dumps(profiles, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    language.MODEL_FILE.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))
    language._profiles.cache_clear()

    # Choices (features, C, the threshold) are made on a model fitted to the training
    # part and scored on the development part; the figures below are that model's. The
    # shipped model is then fitted once more on both parts, with the same choices: a
    # third more comments, and cross-writer checks (README, "Triage") show it recalls
    # more of other writers' questions. Held-out MeQSum is never trained on. The language
    # profiles stay fitted to the training part: the report measures them on the rest.
    both = train + dev
    counts = {
        "fitted_on": len(both),
        "fitted_on_questions": sum(e.label for e in both),
        "of_which_dev": len(dev),
        "meqsum_heldout": len(held),
    }
    model = fit(
        [e.body for e in train],
        [e.label for e in train],
        c=DEFAULT_C,
    )
    final = fit(
        [e.body for e in both],
        [e.label for e in both],
        c=DEFAULT_C,
        meta={
            "trained_on": counts,
            "c": DEFAULT_C,
            "attribution": MEQSUM_ATTRIBUTION,
            "rebuild": "scripts/train-triage",
        },
    )
    SHIPPED_MODEL.write_bytes(dump(final))
    write_jsonl(DATA / "dev.jsonl", dev)
    write_jsonl(DATA / "meqsum-heldout.jsonl", held)

    shipped = Scorer(shipped=model)
    report = [
        "# Triage model report (written by scripts/train-triage; do not edit)",
        "",
        "The development figures are those of a model fitted to the training part only;",
        "the shipped model is fitted to the training and development parts together, so",
        "`notifier triage --evaluate triage-data/dev.jsonl` scores it on comments it has",
        "seen. Held-out MeQSum is never trained on.",
        "",
        f"Rows: {counts}. Shipped model: {len(final.weights)} weights, "
        f"{SHIPPED_MODEL.stat().st_size // 1024} KB; language profiles "
        f"{language.MODEL_FILE.stat().st_size // 1024} KB.",
        "",
        f"## Development split at the default threshold {DEFAULT_THRESHOLD:g}",
        "",
        "```",
        format_report(evaluate(labelled(dev), DEFAULT_THRESHOLD, shipped)).rstrip(),
        "```",
        "",
        "## MeQSum held out (never trained on, never used for a choice)",
        "",
        "The training-part model:",
        "",
        "```",
        format_report(evaluate(labelled(held), DEFAULT_THRESHOLD, shipped)).rstrip(),
        "```",
        "",
        "The shipped model:",
        "",
        "```",
        format_report(evaluate(labelled(held), DEFAULT_THRESHOLD, Scorer(shipped=final))).rstrip(),
        "```",
        "",
        "## Threshold trade-off on the development split",
        "",
        "| threshold | precision | recall | comments only: precision | recall "
        "| MeQSum held-out recall |",
        "|---|---|---|---|---|---|",
    ]
    dev_scores = [shipped(e.body).score for e in dev]
    held_scores = [shipped(e.body).score for e in held]
    dev_labels = [e.label for e in dev]
    own = [(s, e.label) for s, e in zip(dev_scores, dev, strict=True) if e.source != "meqsum"]
    for t in THRESHOLDS:
        p, r = pr_at(dev_scores, dev_labels, t)
        pc, rc = pr_at([s for s, _ in own], [y for _, y in own], t)
        hr = sum(s >= t for s in held_scores) / len(held_scores)
        report.append(f"| {t:g} | {p:.2f} | {r:.2f} | {pc:.2f} | {rc:.2f} | {hr:.2f} |")
    report += [
        "",
        f"Distinct scores on the development split: {len(set(dev_scores))} of {len(dev_scores)}.",
        "",
        "## Calibration on the development split",
        "",
        *calibration(dev_scores, dev_labels),
        "",
        "## Language detection on the development split and held-out MeQSum",
        "",
    ]
    checked = [e for e in dev + held if e.lang]
    wrong = [e for e in checked if language.detect(e.body) != e.lang]
    report.append(f"{len(checked) - len(wrong)} of {len(checked)} right; wrong:")
    report += [f"- {e.lang} read as {language.detect(e.body)}: {e.body[:60]!r}" for e in wrong]
    if args.compare:
        report += ["", "## Techniques compared on the same split", "", *compare(train, dev, held)]
    report.append("")
    (DATA / "REPORT.md").write_text("\n".join(report), encoding="utf-8")
    print("\n".join(report))
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
