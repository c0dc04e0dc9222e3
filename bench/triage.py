"""Triage: time per comment, model size, and what the model costs a worker's start.

Comments are the development split and held-out MeQSum (triage-data/), so lengths are
those of real comments. The reference, timed in the same run on the same comments, is
the hand-written rule scorer the model replaced (notifier.triage.rules). Start-up is a
fresh interpreter importing the worker, with triage off (nothing of the model loaded)
and on (imported and the first comment scored, so the model is read).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from bench.common import PYTHON, ROOT, Figure, Section, median, percentile
from notifier.triage.rules import triage as rules
from notifier.triage.scorer import SHIPPED_MODEL, Scorer

START_OFF = "import notifier.service, notifier.cli"
START_ON = START_OFF + "; from notifier.triage import triage; triage('is it safe?')"


def _bodies(quick: bool) -> list[str]:
    rows = []
    for name in ("dev.jsonl", "meqsum-heldout.jsonl"):
        with (ROOT / "triage-data" / name).open(encoding="utf-8") as f:
            rows += [json.loads(line)["body"] for line in f if line.strip()]
    return rows[:150] if quick else rows


def _per_comment_ms(score: object, bodies: list[str], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        for body in bodies:
            t = time.perf_counter()
            score(body)  # type: ignore[operator]
            times.append((time.perf_counter() - t) * 1000)
    return times


def _start_ms(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([PYTHON, "-c", code], check=True, cwd=ROOT)
        times.append((time.perf_counter() - t) * 1000)
    return median(times)


async def run(quick: bool, work: Path) -> Section:
    bodies = _bodies(quick)
    rounds = 1 if quick else 3
    scorer = Scorer()
    t = time.perf_counter()
    scorer("warm-up: reads the model")
    load_ms = (time.perf_counter() - t) * 1000
    rules("warm-up")
    # Interleave model and reference so machine noise hits both alike.
    model_ms: list[float] = []
    rules_ms: list[float] = []
    for _ in range(rounds):
        model_ms += _per_comment_ms(scorer, bodies, 1)
        rules_ms += _per_comment_ms(rules, bodies, 1)
    files = sorted(p.name for p in SHIPPED_MODEL.parent.glob("*.json.gz"))
    size_mb = sum((SHIPPED_MODEL.parent / name).stat().st_size for name in files) / 2**20
    runs = 3 if quick else 7
    off = _start_ms(START_OFF, runs)
    on = _start_ms(START_ON, runs)

    m_med, m_p99 = median(model_ms), percentile(model_ms, 99)
    r_med, r_p99 = median(rules_ms), percentile(rules_ms, 99)
    section = Section("triage")
    section.figures += [
        Figure(
            "triage per comment, median (model / rules)",
            f"{m_med:.2f} ms",
            f"{r_med:.2f} ms",
            m_med / r_med,
            "≤ 5 ms",
            m_med <= 5.0,
        ),
        Figure(
            "triage per comment, p99 (model / rules)",
            f"{m_p99:.2f} ms",
            f"{r_p99:.2f} ms",
            m_p99 / r_p99,
            "(info)",
            None,
        ),
        Figure(
            "triage model files in the wheel",
            f"{size_mb:.2f} MB",
            "50 MB",
            size_mb / 50,
            "≤ 50 MB",
            size_mb <= 50,
        ),
        Figure(
            "worker start, triage on / off (import, first comment scored)",
            f"{on:.0f} ms",
            f"{off:.0f} ms",
            on / off,
            "(info)",
            None,
        ),
    ]
    section.details += [
        f"{len(bodies)} comments (development split and held-out MeQSum, median "
        f"{median([float(len(b)) for b in bodies]):.0f} characters), {rounds} rounds, "
        "model and rules interleaved in one process on one core.",
        "",
        f"- model: median {m_med:.3f} ms, p99 {m_p99:.3f} ms; "
        f"rules: median {r_med:.3f} ms, p99 {r_p99:.3f} ms",
        f"- reading the shipped model and language profiles (first comment): {load_ms:.0f} ms",
        f"- fresh interpreter importing the worker: {off:.0f} ms with triage off, "
        f"{on:.0f} ms importing and scoring one comment (median of {runs})",
        f"- model files: {size_mb:.2f} MB ({', '.join(files)})",
    ]
    return section
