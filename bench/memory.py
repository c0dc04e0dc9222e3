"""Backlog memory: peak RSS of enqueuing and delivering a small and a big backlog.

Each size runs in a fresh process (``python -m bench.memory STORE STATE PORT``):
a Service with NOTIFIER_START_FROM=beginning polls the whole backlog into the
outbox, then delivers all of it to smtp-sink.  ru_maxrss is read after each
phase; a process that only opens the Service gives the baseline.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from pathlib import Path

from bench.common import (
    Figure,
    Section,
    notifier_env,
    postfix_sink,
    remove,
    run_child,
    seed_sqlite,
    settings_from,
    sqlite_url,
)
from notifier.logs import configure
from notifier.service import Service

LIMIT_MB = 200


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _hwm_mb() -> float:
    """The kernel's high-water mark of this process's RSS (VmHWM), as a cross-check."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def child(source: Path, state: Path, port: int) -> dict[str, float]:
    settings = settings_from(notifier_env(sqlite_url(source), sqlite_url(state), port))
    configure(settings.log_level)
    service = Service(settings)
    try:
        await service.open()
        opened = _maxrss_mb()
        started = time.perf_counter()
        poll = await service.poller.poll()
        enqueue_s = time.perf_counter() - started
        enqueued_mb = _maxrss_mb()
        started = time.perf_counter()
        sent = 0
        while True:
            report = await service.deliverer.deliver_due()
            sent += report.sent
            if not report.sent or report.paused or report.unreachable:
                break
        deliver_s = time.perf_counter() - started
        left = await service.outbox.undelivered()
    finally:
        await service.close()
    return {
        "opened_mb": opened,
        "after_enqueue_mb": enqueued_mb,
        "peak_mb": _maxrss_mb(),
        "hwm_mb": _hwm_mb(),
        "enqueued": poll.enqueued,
        "sent": sent,
        "left": left,
        "enqueue_s": enqueue_s,
        "deliver_s": deliver_s,
    }


async def run(quick: bool, work: Path) -> Section:
    small, big = (1_000, 10_000) if quick else (10_000, 100_000)
    section = Section("backlog memory")
    results = {}
    log = work / "memory.log"
    with postfix_sink() as sink:
        for size in (0, small, big):
            source = work / f"mem-source-{size}.db"
            state = work / f"mem-state-{size}.db"
            await seed_sqlite(source, size, flags_every=0)
            results[size] = run_child(
                "memory", str(source), str(state), str(sink.port), log=log, clean_rusage=True
            )
            remove(work, f"mem-*-{size}.db*")
            if results[size]["sent"] != size or results[size]["left"]:
                raise RuntimeError(f"memory run of {size}: {results[size]}")
    rows = [
        "| comments | ru_maxrss after open MB | after enqueue MB | peak MB | VmHWM MB "
        "| enqueue s (msg/s) | deliver s (msg/s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, r in results.items():
        rate_e = f"{size / r['enqueue_s']:,.0f}" if size else "-"
        rate_d = f"{size / r['deliver_s']:,.0f}" if size else "-"
        rows.append(
            f"| {size:,} | {r['opened_mb']:.0f} | {r['after_enqueue_mb']:.0f} | "
            f"{r['peak_mb']:.0f} | {r['hwm_mb']:.0f} | {r['enqueue_s']:.1f} ({rate_e}) | "
            f"{r['deliver_s']:.1f} ({rate_d}) |"
        )
    a, b = results[small]["peak_mb"], results[big]["peak_mb"]
    section.figures.append(
        Figure(
            f"backlog peak RSS: {big:,} / {small:,} comments",
            f"{b:.0f} MB",
            f"{a:.0f} MB",
            b / a,
            "≤ 1.5",
            b / a <= 1.5,
        )
    )
    section.figures.append(
        Figure(
            f"backlog peak RSS, {big:,} comments",
            f"{b:.0f} MB",
            f"{LIMIT_MB} MB",
            b / LIMIT_MB,
            "< 200 MB",
            b < LIMIT_MB,
        )
    )
    section.details += [
        "One fresh process per size (ru_maxrss); NOTIFIER_START_FROM=beginning, SQLite "
        "store and state, one moderator (one email per comment), smtp-sink. The 0 row "
        "is the baseline: a Service opened, nothing to do.",
        "",
        *rows,
    ]
    return section


if __name__ == "__main__":
    out = asyncio.run(child(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])))
    print(json.dumps(out))
