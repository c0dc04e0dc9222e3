"""Idle poll: what a poll that finds nothing new costs, on a small and a big store.

For each database and size: bulk-load the native store, start a Poller from
now (cursors at the head), time Poller.poll() many times, and record every
statement one idle poll sends so it can be EXPLAINed on that very database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import (
    Figure,
    Section,
    mariadb_drop,
    median,
    notifier_env,
    percentile,
    pg_database,
    pg_drop,
    remove,
    seed_mariadb,
    seed_postgres,
    seed_sqlite,
    settings_from,
    sqlite_url,
)
from notifier.db import create_engine
from notifier.mail.render import Renderer
from notifier.poll.poller import Poller
from notifier.sources.native import NativeSource
from notifier.state import Outbox

WARMUP = 5
SAMPLES = 60
GAP_SAMPLES = 15
# Tables where a full scan grows with the store; a scan of `posts` does not.
BIG_TABLES = ("comments", "comment_flags", "notifier_outbox")


@dataclass
class Recorder:
    """Keeps the SQL (and parameters) an engine sends while ``on`` is set."""

    on: bool = False
    label: str = ""
    seen: list[tuple[str, str, str, Any]] = field(default_factory=list)

    def attach(self, engine: AsyncEngine, role: str) -> None:
        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _record(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
            if self.on and not statement.lstrip().upper().startswith(("EXPLAIN", "ANALYZE")):
                self.seen.append((self.label, role, statement, params))


@dataclass
class Plan:
    label: str
    role: str
    sql: str
    params: Any
    plan: list[str]
    full_scan: list[str]


def _full_scans(dialect: str, lines: list[str]) -> list[str]:
    hits = []
    for line in lines:
        for table in BIG_TABLES:
            if (
                (dialect == "sqlite" and f"SCAN {table}" in line and "USING" not in line)
                or (dialect == "postgresql" and f"Seq Scan on {table}" in line)
                or (dialect == "mysql" and f"table={table} " in line and "type=ALL" in line)
            ):
                hits.append(table)
    return sorted(set(hits))


async def explain(engine: AsyncEngine, role: str, label: str, sql: str, params: Any) -> Plan:
    dialect = engine.dialect.name
    prefix = {
        "sqlite": "EXPLAIN QUERY PLAN ",
        "postgresql": "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) ",
        "mysql": "EXPLAIN ",
    }[dialect]
    async with engine.connect() as conn:
        result = await conn.exec_driver_sql(prefix + sql, params)
        rows = result.all()
        keys = list(result.keys())
        await conn.rollback()
    if dialect == "sqlite":
        lines = [str(r[-1]) for r in rows]
    elif dialect == "postgresql":
        lines = [str(r[0]) for r in rows]
    else:
        lines = [" ".join(f"{k}={v}" for k, v in zip(keys, r, strict=True)) for r in rows]
    return Plan(label, role, " ".join(sql.split()), params, lines, _full_scans(dialect, lines))


@dataclass
class Measured:
    backend: str
    comments: int
    median_ms: float
    p90_ms: float
    gap_ms: float
    plans: list[Plan]


async def measure(
    backend: str, source_url: str, state_url: str, comments: int, explain_too: bool
) -> Measured:
    settings = settings_from(notifier_env(source_url, state_url, 25, start_from="now"))
    recorder = Recorder()
    source_engine = create_engine(source_url)
    state_engine = create_engine(state_url, durable=True)
    recorder.attach(source_engine, "source")
    recorder.attach(state_engine, "state")
    source = NativeSource(source_url, engine=source_engine)
    outbox = Outbox(state_url, engine=state_engine)
    plans: list[Plan] = []
    try:
        await outbox.create()
        poller = Poller(settings, source, outbox, Renderer(settings.templates_dir))
        await poller.start()
        for _ in range(WARMUP):
            await poller.poll()
        samples = []
        for _ in range(SAMPLES):
            started = time.perf_counter()
            report = await poller.poll()
            samples.append((time.perf_counter() - started) * 1000)
            if report.comments or report.flags or report.enqueued:
                raise RuntimeError(f"an idle poll found work: {report}")
        # While a gap is open (lookback_seconds, 10 minutes by default) every poll
        # re-reads its range: time that query too.
        head_comments, head_flags = await source.head()
        gap_samples = []
        for _ in range(GAP_SAMPLES):
            started = time.perf_counter()
            await source.comments(
                head_comments, [(head_comments - 50, head_comments - 40)], settings.batch_size
            )
            gap_samples.append((time.perf_counter() - started) * 1000)
        if explain_too:
            recorder.on = True
            recorder.label = "idle poll"
            await poller.poll()
            recorder.label = "source.head() (once, at start-up with START_FROM=now)"
            await source.head()
            # What a poll with one open gap (a comment id skipped while its
            # transaction was still open) sends: the gap's range is re-read.
            recorder.label = "poll with one open gap"
            await source.comments(head_comments, [(head_comments - 50, head_comments - 40)], 500)
            await source.flags(head_flags, [(head_flags - 5, head_flags - 4)], 500)
            recorder.label = "pending_count() (once per poll that finds work)"
            await source.pending_count()
            recorder.on = False
            done = set()
            for label, role, sql, params in recorder.seen:
                if (role, sql) in done:
                    continue
                done.add((role, sql))
                engine = source_engine if role == "source" else state_engine
                plans.append(await explain(engine, role, label, sql, params))
    finally:
        await source.aclose()
        await outbox.aclose()
    return Measured(
        backend, comments, median(samples), percentile(samples, 90), median(gap_samples), plans
    )


def _plans_markdown(m: Measured) -> list[str]:
    out = [f"#### {m.backend}, {m.comments:,} comments", ""]
    for p in m.plans:
        flag = f" — **full scan of {', '.join(p.full_scan)}**" if p.full_scan else ""
        out += [
            f"*{p.label}* ({p.role} store){flag}",
            "",
            "```sql",
            p.sql,
            f"-- parameters: {p.params!r}",
            "```",
            "```",
            *p.plan,
            "```",
            "",
        ]
    return out


async def run(quick: bool, work: Path) -> Section:
    small, big = (10_000, 100_000) if quick else (10_000, 1_000_000)
    section = Section("idle poll")
    measured: list[Measured] = []
    rows = [
        "| store | comments | load s | idle poll median ms | p90 ms "
        "| comments query with an open gap, median ms |",
        "|---|---|---|---|---|---|",
    ]
    for backend in ("sqlite", "postgresql", "mariadb"):
        for size in (small, big):
            started = time.perf_counter()
            if backend == "sqlite":
                source_url = await seed_sqlite(work / f"idle-{size}.db", size)
                state = work / f"idle-state-{size}.db"
                remove(work, state.name + "*")
                state_url = sqlite_url(state)
            elif backend == "postgresql":
                source_url = await seed_postgres(f"bench_notifier_src_{size}", size)
                state_url = await pg_database("bench_notifier_state")
            else:
                source_url = await seed_mariadb(f"bench_notifier_src_{size}", size)
                state = work / f"idle-maria-state-{size}.db"
                remove(work, state.name + "*")
                state_url = sqlite_url(state)
            loaded = time.perf_counter() - started
            m = await measure(backend, source_url, state_url, size, explain_too=size == big)
            measured.append(m)
            rows.append(
                f"| {backend} | {size:,} | {loaded:.1f} | {m.median_ms:.2f} | "
                f"{m.p90_ms:.2f} | {m.gap_ms:.2f} |"
            )
            if backend == "postgresql":
                await pg_drop(f"bench_notifier_src_{size}")
                await pg_drop("bench_notifier_state")
            elif backend == "mariadb":
                await mariadb_drop(f"bench_notifier_src_{size}")
            else:
                remove(work, f"idle-*{size}.db*")
        a, b = measured[-2], measured[-1]
        target = backend != "mariadb"  # the brief's target covers SQLite and PostgreSQL
        section.figures.append(
            Figure(
                f"idle poll, {backend}: {big:,} / {small:,} comments",
                f"{b.median_ms:.2f} ms",
                f"{a.median_ms:.2f} ms",
                b.median_ms / a.median_ms,
                "≤ 2" if target else "(info)",
                b.median_ms / a.median_ms <= 2 if target else None,
            )
        )
        section.figures.append(
            Figure(
                f"poll with an open id gap, {backend}: {big:,} / {small:,}",
                f"{b.gap_ms:.2f} ms",
                f"{a.gap_ms:.2f} ms",
                b.gap_ms / a.gap_ms,
                "(info)",
                None,
            )
        )
    section.details += [
        f"Poller.poll() with both cursors at the head, {WARMUP} warm-up polls then "
        f"{SAMPLES} timed; state store SQLite (PostgreSQL for the PostgreSQL rows).",
        "",
        *rows,
    ]
    plans = ["### Query plans of an idle poll", ""]
    plans += [
        "Every statement one idle poll sent, captured from the engine and EXPLAINed "
        "with the same parameters on the big store (SQLite: EXPLAIN QUERY PLAN; "
        "PostgreSQL: EXPLAIN (ANALYZE, BUFFERS); MariaDB: EXPLAIN), plus what a poll "
        "with one open id gap and a poll that finds work add.",
        "",
    ]
    for m in measured:
        if m.plans:
            plans += _plans_markdown(m)
    section.details += ["", *plans]
    return section
