"""Delivery throughput: notifier against a bare aiosmtplib loop and a naive script.

The backlog is enqueued once through the real pipeline (a seeded SQLite store,
the Poller, Outbox.commit_batch) into a template state store; every notifier
trial delivers from a fresh copy of it.  The references send the very same
message bytes.  Each contender runs in a fresh process, interleaved round by
round, against the same sink process.

Child modes (``python -m bench.throughput MODE ...``) print one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import smtplib
import sqlite3
import time
from pathlib import Path

import aiosmtplib

from bench.common import (
    Figure,
    Section,
    aiosmtpd_sink,
    median,
    notifier_env,
    postfix_sink,
    run_child,
    seed_sqlite,
    settings_from,
    smtp_connections,
    sqlite_url,
)
from notifier.logs import configure
from notifier.mail.render import Renderer
from notifier.poll.poller import Poller
from notifier.service import Service
from notifier.sources.native import NativeSource
from notifier.state import Outbox

SENDER = "notifier@blog.example.org"


def _messages(state: Path) -> list[tuple[str, bytes]]:
    db = sqlite3.connect(state)
    try:
        rows = db.execute(
            "SELECT recipient, message FROM notifier_outbox WHERE state = 'pending' ORDER BY id"
        ).fetchall()
    finally:
        db.close()
    return [(str(r), bytes(m)) for r, m in rows]


# --- preparation (in the parent) -----------------------------------------------


async def enqueue(source: Path, state: Path, count: int) -> float:
    """Seed ``count`` comments and enqueue them with the Poller; returns the poll's seconds."""
    source_url = await seed_sqlite(source, count, flags_every=0)
    settings = settings_from(notifier_env(source_url, sqlite_url(state), 25))
    outbox = Outbox(settings.state_url)
    src = NativeSource(settings.source_url)
    try:
        await outbox.create()
        poller = Poller(settings, src, outbox, Renderer(settings.templates_dir))
        await poller.start()
        started = time.perf_counter()
        report = await poller.poll()
        elapsed = time.perf_counter() - started
    finally:
        await src.aclose()
        await outbox.aclose()
    if report.enqueued != count:
        raise RuntimeError(f"enqueued {report.enqueued} of {count}")
    return elapsed


# --- the contenders (each in its own process) -----------------------------------


async def run_notifier(source: Path, state: Path, port: int, expect: int) -> dict[str, float]:
    settings = settings_from(notifier_env(sqlite_url(source), sqlite_url(state), port))
    configure(settings.log_level)  # as `notifier run` does: one INFO line per message
    service = Service(settings)
    sent = 0
    try:
        await service.outbox.create()
        started = time.perf_counter()
        while sent < expect:
            report = await service.deliverer.deliver_due()
            if report.paused or report.unreachable or not report.sent:
                raise RuntimeError(f"delivery stopped: {report}")
            sent += report.sent
        elapsed = time.perf_counter() - started
    finally:
        await service.close()
    return {"sent": sent, "seconds": elapsed}


async def run_ceiling(state: Path, port: int, connections: int) -> dict[str, float]:
    """The same bytes over ``connections`` reused aiosmtplib connections, nothing else."""
    messages = _messages(state)
    shares = [messages[i::connections] for i in range(connections)]

    async def one(share: list[tuple[str, bytes]]) -> int:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        for recipient, data in share:
            await client.sendmail(SENDER, [recipient], data)
        await client.quit()
        return len(share)

    started = time.perf_counter()
    sent = sum(await asyncio.gather(*(one(s) for s in shares)))
    return {"sent": sent, "seconds": time.perf_counter() - started}


def run_naive(state: Path, port: int) -> dict[str, float]:
    """A cron-style script: one smtplib connection per message."""
    messages = _messages(state)
    started = time.perf_counter()
    for recipient, data in messages:
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.sendmail(SENDER, [recipient], data)
    return {"sent": len(messages), "seconds": time.perf_counter() - started}


# --- the section ------------------------------------------------------------------


async def run(quick: bool, work: Path) -> Section:
    count = 2_000 if quick else 20_000
    # Two rounds against smtp-sink (the figure that matters: the fastest sink
    # exposes notifier's own costs), one against aiosmtpd, to stay in ~15 minutes.
    rounds = {"smtp-sink": 1 if quick else 2, "aiosmtpd": 1}
    section = Section("throughput")
    source, template = work / "tp-source.db", work / "tp-state-template.db"
    enqueue_s = await enqueue(source, template, count)
    settings = settings_from(notifier_env(sqlite_url(source), sqlite_url(template), 25))
    connections = smtp_connections(settings)
    size = sum(len(m) for _, m in _messages(template)) / count
    section.details.append(
        f"{count:,} notifications enqueued by the Poller in {enqueue_s:.1f} s "
        f"({count / enqueue_s:,.0f}/s); mean message {size:,.0f} bytes; "
        f"SMTP connections: {connections} (notifier and the ceiling alike); "
        f"state store SQLite with notifier's own durability settings; rounds interleaved "
        "(ceiling, notifier, naive), medians."
    )
    log = work / "throughput.log"
    rows = [
        "| sink | round | notifier msg/s | ceiling (bare aiosmtplib) msg/s | naive smtplib msg/s |",
        "|---|---|---|---|---|",
    ]
    for sink_cm in (postfix_sink, aiosmtpd_sink):
        rates: dict[str, list[float]] = {"notifier": [], "ceiling": [], "naive": []}
        with sink_cm() as sink:
            for round_ in range(rounds[sink.name]):
                state = work / f"tp-state-{sink.name}-{round_}.db"
                shutil.copyfile(template, state)
                port = str(sink.port)
                results = {
                    "ceiling": run_child(
                        "throughput", "ceiling", str(template), port, str(connections), log=log
                    ),
                    "notifier": run_child(
                        "throughput", "notifier", str(source), str(state), port, str(count), log=log
                    ),
                    "naive": run_child("throughput", "naive", str(template), port, log=log),
                }
                state.unlink()
                for name, result in results.items():
                    if result["sent"] != count:
                        raise RuntimeError(f"{name} sent {result['sent']} of {count}")
                    rates[name].append(count / result["seconds"])
                rows.append(
                    f"| {sink.name} | {round_ + 1} | {rates['notifier'][-1]:,.0f} | "
                    f"{rates['ceiling'][-1]:,.0f} | {rates['naive'][-1]:,.0f} |"
                )
        n, c, v = (median(rates[k]) for k in ("notifier", "ceiling", "naive"))
        section.figures.append(
            Figure(
                f"throughput → {sink.name}: notifier / ceiling",
                f"{n:,.0f} msg/s",
                f"{c:,.0f} msg/s",
                n / c,
                "≥ 0.8",
                n / c >= 0.8,
            )
        )
        section.figures.append(
            Figure(
                f"throughput → {sink.name}: notifier / naive",
                f"{n:,.0f} msg/s",
                f"{v:,.0f} msg/s",
                n / v,
                "≥ 1.5",
                n / v >= 1.5,
            )
        )
    section.details.extend(["", *rows])
    return section


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["notifier", "ceiling", "naive"])
    parser.add_argument("args", nargs="*")
    ns = parser.parse_args()
    a = ns.args
    if ns.mode == "notifier":
        result = asyncio.run(run_notifier(Path(a[0]), Path(a[1]), int(a[2]), int(a[3])))
    elif ns.mode == "ceiling":
        result = asyncio.run(run_ceiling(Path(a[0]), int(a[1]), int(a[2])))
    else:
        result = run_naive(Path(a[0]), int(a[1]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
