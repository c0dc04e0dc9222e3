"""``bench/run --profile``: where delivery and enqueueing spend their time.

Two kinds of evidence, both printed as markdown:

1. cProfile of the event-loop thread while (a) the Poller enqueues a backlog
   and (b) the Deliverer sends it to smtp-sink.  cProfile sees only that
   thread: time the loop spends waiting for aiosqlite's worker thread (where
   SQLite runs, fsync included) shows up as ``select``.
2. Ablations, each in a fresh process and interleaved: the same delivery with
   one cost taken away (fsync, logging, the outbox altogether) or moved (the
   PostgreSQL state store), and the enqueue with its stages timed alone.  The
   differences are the expected gains of the recommendations in PROFILE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.common import (
    median,
    notifier_env,
    pg_database,
    pg_drop,
    postfix_sink,
    run_child,
    settings_from,
    sqlite_url,
)
from bench.idle_poll import Recorder, explain
from bench.throughput import SENDER, _messages, enqueue, run_ceiling
from notifier.db import create_engine
from notifier.logs import configure
from notifier.mail.render import Renderer
from notifier.poll.poller import Poller
from notifier.service import Service
from notifier.sources.native import NativeSource
from notifier.state import Outbox

TOP = 22


@contextlib.contextmanager
def _stderr_to_devnull() -> Iterator[None]:
    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
        yield


# (file, function) -> label; the main thread's time inside each call, as cProfile saw it.
ENQUEUE_STAGES = {
    ("poll/poller.py", "_entries"): "Poller._entries: triage + route + render + compose",
    ("triage/rules.py", "triage"): "  triage.triage",
    ("mail/render.py", "build_context"): "  render.build_context",
    ("mail/render.py", "render"): "  Renderer.render (Jinja2: subject, text, HTML)",
    ("mail/compose.py", "compose"): "  compose.compose (EmailMessage, as_bytes)",
    ("state/outbox.py", "commit_batch"): "Outbox.commit_batch (main-thread part)",
    ("sources/native.py", "comments"): "NativeSource.comments (main-thread part)",
}
DELIVERY_STAGES = {
    ("delivery/deliver.py", "send"): "SmtpTransport.send (aiosmtplib, main-thread part)",
    ("state/outbox.py", "mark_sent"): "Outbox.mark_sent (main-thread part)",
    ("state/outbox.py", "mark_sent_many"): "Outbox.mark_sent_many (main-thread part)",
    ("state/outbox.py", "claim"): "Outbox.claim (main-thread part)",
    ("__init__.py", "info"): "logging: Logger.info",
    ("__init__.py", "emit"): "logging: StreamHandler.emit",
    ("selectors.py", "select"): "event loop idle in select (waiting: socket, aiosqlite thread)",
}


def _stages(
    profile: cProfile.Profile, total: float, wanted: dict[tuple[str, str], str]
) -> list[str]:
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    lines = ["| stage | seconds | share of the profiled run |", "|---|---|---|"]
    for (file, name), label in wanted.items():
        cumulative = sum(
            ct
            for (path, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.items()
            if func == name and path.endswith("/" + file)
        )
        lines.append(f"| {label} | {cumulative:.2f} | {cumulative / total:.0%} |")
    return lines


def _stats(profile: cProfile.Profile, sort: str) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(TOP)
    text = out.getvalue()
    return text[text.index("   ncalls") :] if "   ncalls" in text else text


# --- ablation children ---------------------------------------------------------------


def _outbox(url: str, variant: str) -> Outbox:
    if variant != "nosync":
        return Outbox(url)
    # The same WAL store, but commits are not fsynced one by one (synchronous=NORMAL):
    # what batching the mark_sent writes would save, roughly.
    engine = create_engine(url)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return Outbox(url, engine=engine)


async def deliver_variant(
    variant: str, source: str, state: str, port: int, expect: int
) -> dict[str, float]:
    settings = settings_from(notifier_env(source, state, port))
    configure("WARNING" if variant == "quiet" else settings.log_level)
    if variant == "transport":
        # SmtpTransport and the Deliverer's per-message timeout, no outbox at all.
        try:  # moved to notifier.delivery.smtp with the connection pool
            from notifier.delivery.smtp import SmtpTransport
        except ImportError:
            from notifier.delivery.deliver import SmtpTransport  # type: ignore[attr-defined,no-redef]

        messages = _messages(Path(state.removeprefix("sqlite:///")))
        transport = SmtpTransport(settings)
        started = time.perf_counter()
        for recipient, data in messages:
            async with asyncio.timeout(settings.send_timeout):
                await transport.send(SENDER, recipient, data)
        elapsed = time.perf_counter() - started
        await transport.aclose()
        return {"sent": len(messages), "seconds": elapsed}
    service = Service(settings, outbox=_outbox(settings.state_url, variant))
    sent = 0
    try:
        started = time.perf_counter()
        while sent < expect:
            report = await service.deliverer.deliver_due()
            if not report.sent:
                raise RuntimeError(f"delivery stopped: {report}")
            sent += report.sent
        elapsed = time.perf_counter() - started
    finally:
        await service.close()
    return {"sent": sent, "seconds": elapsed}


# --- the report ---------------------------------------------------------------------


async def claim_plans(state_url: str) -> list[str]:
    """EXPLAIN the claim and mark_sent statements against a full outbox."""
    recorder = Recorder()
    engine = create_engine(state_url, durable=True)
    recorder.attach(engine, "state")
    outbox = Outbox(state_url, engine=engine)
    lines: list[str] = []
    try:
        recorder.on = True
        claimed = await outbox.claim("bench", 50, _lease().total_seconds())
        await outbox.mark_sent(claimed[0].id, "bench")
        recorder.on = False
        for _label, role, sql, params in recorder.seen:
            if sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "PRAGMA")):
                continue
            plan = await explain(engine, role, "", sql, params)
            lines += ["```sql", plan.sql, "```", "```", *plan.plan, "```", ""]
    finally:
        await outbox.aclose()
    return lines


def _lease() -> timedelta:
    return timedelta(minutes=5)


async def report(quick: bool, work: Path) -> str:
    deliver_n = 2_000 if quick else 10_000
    enqueue_n = 2_000 if quick else 10_000
    out = [f"# Profile run ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", ""]

    # Enqueue: cProfile of Poller.poll() over a backlog.
    source = work / "p-source.db"
    state = work / "p-state.db"
    # Seed and enqueue once, unprofiled: the delivery parts start from this outbox.
    enqueue_s = await enqueue(source, state, max(deliver_n, enqueue_n))
    out += [f"Unprofiled enqueue of {max(deliver_n, enqueue_n):,}: {enqueue_s:.1f} s", ""]
    prof_state = work / "p-state-prof.db"
    settings = settings_from(notifier_env(sqlite_url(source), sqlite_url(prof_state), 25))
    outbox = Outbox(settings.state_url)
    src = NativeSource(settings.source_url)
    await outbox.create()
    poller = Poller(settings, src, outbox, Renderer(settings.templates_dir))
    await poller.start()
    profile = cProfile.Profile()
    profile.enable()
    started = time.perf_counter()
    await poller.poll()
    elapsed = time.perf_counter() - started
    profile.disable()
    await src.aclose()
    await outbox.aclose()
    out += [
        f"## Enqueue: cProfile of Poller.poll() over {max(deliver_n, enqueue_n):,} comments "
        f"({elapsed:.1f} s profiled)",
        "",
        "### by own time",
        "```",
        _stats(profile, "tottime"),
        "```",
        "### by cumulative time",
        "```",
        _stats(profile, "cumulative"),
        "```",
        "",
    ]
    out += [
        "### Enqueue stages (main-thread time inside each, from the same profile)",
        "",
        *_stages(profile, elapsed, ENQUEUE_STAGES),
        "",
    ]

    with postfix_sink() as sink:
        # Delivery: cProfile of deliver_due.
        copy = work / "p-state-deliver.db"
        shutil.copyfile(state, copy)
        settings = settings_from(notifier_env(sqlite_url(source), sqlite_url(copy), sink.port))
        with _stderr_to_devnull():
            configure(settings.log_level)  # INFO, as shipped, into /dev/null
            service = Service(settings)
            profile = cProfile.Profile()
            profile.enable()
            started = time.perf_counter()
            delivered = await service.deliverer.deliver_due()
            elapsed = time.perf_counter() - started
            profile.disable()
            await service.close()
        configure("WARNING")
        out += [
            f"## Delivery: cProfile of Deliverer.deliver_due(), {delivered.sent:,} messages "
            f"to smtp-sink ({elapsed:.1f} s profiled)",
            "",
            "### by own time",
            "```",
            _stats(profile, "tottime"),
            "```",
            "### by cumulative time",
            "```",
            _stats(profile, "cumulative"),
            "```",
            "",
            "### Delivery stages (from the same profile)",
            "",
            *_stages(profile, elapsed, DELIVERY_STAGES),
            "",
        ]

        # The same rows in a PostgreSQL state store, enqueued by a real poll.
        pg_name = "bench_notifier_profile_state"
        pg_template = pg_name + "_template"
        pg_url = await pg_database(pg_template)
        pg_settings = settings_from(notifier_env(sqlite_url(source), pg_url, sink.port))
        pg_outbox = Outbox(pg_url)
        pg_source = NativeSource(sqlite_url(source))
        await pg_outbox.create()
        pg_poll = Poller(pg_settings, pg_source, pg_outbox, Renderer(None))
        await pg_poll.start()
        await pg_poll.poll()
        await pg_outbox.aclose()
        await pg_source.aclose()
        await _pg_copy(pg_template, pg_name)
        pg_url = pg_url.replace(pg_template, pg_name)

        scratch = work / "p-state-plans.db"
        shutil.copyfile(state, scratch)
        out += ["## Claim and mark_sent plans with a full outbox", "", "### SQLite", ""]
        out += await claim_plans(sqlite_url(scratch))
        out += ["### PostgreSQL", ""]
        out += await claim_plans(pg_url)

        variants = ["default", "quiet", "nosync", "pg", "transport"]
        rates: dict[str, list[float]] = {v: [] for v in [*variants, "ceiling"]}
        for round_ in range(2):
            for variant in variants:
                if variant == "pg":
                    await _pg_copy(pg_template, pg_name)
                    state_url = pg_url
                else:
                    copy = work / f"p-abl-{round_}-{variant}.db"
                    shutil.copyfile(state, copy)
                    state_url = sqlite_url(copy)
                r = run_child(
                    "profile",
                    "child",
                    variant,
                    sqlite_url(source),
                    state_url,
                    str(sink.port),
                    str(deliver_n),
                    log=work / "profile.log",
                )
                rates[variant].append(r["sent"] / r["seconds"])
            c = await run_ceiling(state, sink.port, 1)
            rates["ceiling"].append(c["sent"] / c["seconds"])
        await pg_drop(pg_name)
        await pg_drop(pg_template)
    labels = {
        "default": "notifier as shipped (SQLite state, its default durability, INFO log)",
        "quiet": "... log level WARNING (no per-message INFO line)",
        "nosync": "... SQLite synchronous=NORMAL (no fsync per commit)",
        "pg": "... PostgreSQL state store",
        "transport": "SmtpTransport + per-message timeout only (no outbox)",
        "ceiling": "bare aiosmtplib, one connection",
    }
    base = median(rates["default"])
    out += [
        f"## Delivery ablations: {deliver_n:,} messages to smtp-sink, 2 interleaved rounds",
        "",
        "| variant | msg/s (median) | × as shipped |",
        "|---|---|---|",
        *(
            f"| {labels[v]} | {median(rs):,.0f} | {median(rs) / base:.2f} |"
            for v, rs in rates.items()
        ),
        "",
    ]
    return "\n".join(out)


async def _pg_copy(source: str, target: str) -> None:
    import asyncpg

    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/run --profile")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "notifier-profile.md"))
    parser.add_argument("child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _, variant, source, state, port, expect = args.child
        result = asyncio.run(deliver_variant(variant, source, state, int(port), int(expect)))
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="notifier-profile-") as folder:
        text = asyncio.run(report(args.quick, Path(folder)))
    Path(args.out).write_text(text)
    print(text)
    print(f"\nwritten to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
