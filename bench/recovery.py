"""``python -m bench.recovery``: how fast notifier comes back from each fault.

Real ``notifier run`` processes with the default settings (NOTIFIER_WORKER_TIMEOUT
10 s, NOTIFIER_LEASE_SECONDS 60, 4 connections, mark window 8), a recording SMTP
server and the machine's PostgreSQL, cut or hung through the tests' TCP proxy.
Writes bench/RECOVERY.md (the table; the prose around it is written by hand); the
README's failure table quotes it.

- crash: kill -9 one of three replicas (PostgreSQL) or of two (SQLite) while it
  holds claims; seconds from the kill until every message it held was sent, when
  the first was taken over, how old its last heartbeat was, and the duplicates.
- state store cut: two replicas, a backlog queued while the relay is down, then
  PostgreSQL cut for 30 s once 600 are sent; messages sent during the cut,
  duplicates, seconds from the store's return until the backlog is drained, and
  the delivery rate before the cut and after the return.  Twice: 3,000 queued,
  then a backlog sized so that what is left at the return takes about 20 s at
  the rate the first run measured (a fair test of "drained within 30 s").
- relay flapping: the SMTP relay, behind the proxy, down 3 s and up 3 s ten
  times, a 5 s poll and a backlog; how many up-windows carried mail, and how
  soon after each return the first message arrived.
- first start: ten replicas at once on an empty PostgreSQL database, three
  times; how many started.
- comment store hanging: PostgreSQL comment store hung for 30 s with mail queued
  and the relay up; how much was delivered during the hang.
- stop: SIGTERM while a send hangs past NOTIFIER_SHUTDOWN_TIMEOUT; how many of
  the messages never tried were charged an attempt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench.common import ROOT, pg_database, pg_drop
from notifier.db import create_engine
from notifier.demo.sink import SmtpSink
from notifier.state.dbtime import db_now
from notifier.state.schema import outbox, workers
from tests.fault_helpers import SlowServer, StallsAtData, message_ids, outbox_rows
from tests.helpers import Blog, environment_for
from tests.process_helpers import Worker, every_message, post_many
from tests.tcp_proxy import TcpProxy


async def wait_for(condition: Callable[[], Awaitable[bool] | bool], limit: float) -> float:
    """Seconds until ``condition`` holds (raises TimeoutError after ``limit``)."""
    started = time.monotonic()
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > limit:
            raise TimeoutError(f"not within {limit:g}s")
        await asyncio.sleep(0.05)


async def rows(url: str, statement: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(statement)).all())
    except Exception:  # the tables may not exist yet
        return []
    finally:
        await engine.dispose()


async def blog_in(folder: Path, comments: int) -> Blog:
    blog = Blog(f"sqlite:///{folder}/comments-{uuid.uuid4().hex[:6]}.db")
    await blog.create()
    if comments:
        await post_many(blog, comments)
    return blog


async def crash(
    folder: Path, state: str, replicas: int, **overrides: str
) -> tuple[float, int, int, float, float]:
    """(seconds to deliver the victim's claims, claims, duplicates, seconds to the
    first takeover, age of the victim's last heartbeat at the kill)."""
    total = 3000
    blog = await blog_in(folder, total)
    handler = SlowServer(delay=0.01)
    # The relay is down until the backlog is queued: the figure is the recovery,
    # not three replicas rendering on two cores while one of them dies.
    relay = SmtpSink(handler)
    await relay.start()
    await relay.stop()
    try:
        env = environment_for(relay, blog.url, state, poll_interval="1", **overrides)
        group = [Worker(env, folder / f"crash-{uuid.uuid4().hex[:6]}.log") for _ in range(replicas)]
        try:
            await asyncio.gather(*(w.start() for w in group))

            async def all_queued() -> bool:
                queued = await rows(state, select(func.count()).select_from(outbox))
                return bool(queued) and queued[0][0] >= total

            await wait_for(all_queued, 600)
            await relay.start()
            victim = group[0]
            victim_id = ""
            held: list[Any] = []

            async def victim_holds_claims() -> bool:
                nonlocal held
                nonlocal victim_id
                ids = await rows(
                    state, select(workers.c.worker_id).where(workers.c.pid == victim.pid)
                )
                if not ids:
                    return False
                victim_id = ids[0][0]
                held = await rows(
                    state,
                    select(outbox.c.id).where(
                        outbox.c.lease_owner == ids[0][0], outbox.c.state == "pending"
                    ),
                )
                return len(held) >= 8 and len(handler.received) >= 200

            await wait_for(victim_holds_claims, 300)
            victim.process.kill()  # type: ignore[union-attr]
            killed = time.monotonic()
            await victim.process.wait()  # type: ignore[union-attr]
            orphans = {r.id for r in held}
            dialect = "postgresql" if state.startswith("postgresql") else "sqlite"
            [(now, beat)] = await rows(
                state,
                select(db_now(dialect), workers.c.heartbeat_at).where(workers.c.pid == victim.pid),
            )
            age = (now - beat).total_seconds()
            taken_at: float | None = None

            async def orphans_sent() -> bool:
                nonlocal taken_at
                found = await rows(
                    state,
                    select(outbox.c.state, outbox.c.lease_owner).where(outbox.c.id.in_(orphans)),
                )
                if taken_at is None and any(
                    r.lease_owner is not None and r.lease_owner != victim_id for r in found
                ):
                    taken_at = time.monotonic() - killed
                return len(found) == len(orphans) and all(r.state == "sent" for r in found)

            await wait_for(orphans_sent, 300)
            recovery = time.monotonic() - killed
            await wait_for(lambda: every_message(handler, total), 300)
            for worker in group[1:]:
                await worker.stop(signal.SIGTERM)
        finally:
            await asyncio.gather(*(w.aclose() for w in group))
            await relay.stop()
    finally:
        await blog.aclose()
    ids = message_ids(handler)
    taken = taken_at if taken_at is not None else recovery
    return recovery, len(orphans), len(ids) - len(set(ids)), taken, age


@dataclass
class Cut:
    total: int  # the backlog queued before the relay opens
    rate_before: float  # messages a second before the cut
    during: int  # sent during the cut
    duplicates: int
    resumed: float  # seconds from the store's return to the first send
    drained: float  # seconds from the store's return to the last message
    rest: int  # messages left at the return
    rate_after: float  # messages a second from the first send after the return


async def state_store_cut(folder: Path, state: str, seconds: float, total: int) -> Cut:
    """Two replicas, ``total`` queued (the relay down meanwhile, so the rates are
    delivery's, not rendering's); the relay opens; the state store is cut for
    ``seconds`` once 600 have gone."""
    blog = await blog_in(folder, total)
    handler = SlowServer(delay=0.005)
    port = make_url(state).port or 5432
    relay = SmtpSink(handler)
    await relay.start()
    await relay.stop()
    try:
        async with TcpProxy("127.0.0.1", port) as proxy:
            proxied = make_url(state).set(port=proxy.port).render_as_string(False)
            env = environment_for(relay, blog.url, proxied, poll_interval="1")
            group = [Worker(env, folder / f"cut-{uuid.uuid4().hex[:6]}-{i}.log") for i in range(2)]
            try:
                await asyncio.gather(*(w.start() for w in group))

                async def all_queued() -> bool:
                    queued = await rows(state, select(func.count()).select_from(outbox))
                    return bool(queued) and queued[0][0] >= total

                await wait_for(all_queued, 600)
                await relay.start()
                await wait_for(lambda: len(handler.received) >= 100, 600)
                first = time.monotonic()
                await wait_for(lambda: len(handler.received) >= 600, 600)
                rate = (len(handler.received) - 100) / (time.monotonic() - first)
                proxy.cut()
                at_cut = len(handler.received)
                await asyncio.sleep(seconds)
                during = len(handler.received) - at_cut
                proxy.restore()
                before = len(handler.received)
                resumed = await wait_for(lambda: len(handler.received) > before, 600)
                drained = await wait_for(lambda: every_message(handler, total), 600) + resumed
                for worker in group:
                    await worker.stop(signal.SIGTERM)
            finally:
                await asyncio.gather(*(w.aclose() for w in group))
                await relay.stop()
    finally:
        await blog.aclose()
    ids = message_ids(handler)
    rest = total - before
    after = rest / (drained - resumed) if drained > resumed else float("inf")
    return Cut(total, rate, during, len(ids) - len(set(ids)), resumed, drained, rest, after)


async def first_starts(folder: Path, replicas: int) -> int:
    """How many of ``replicas`` started together on an empty PostgreSQL database."""
    name = f"bench_recovery_{uuid.uuid4().hex[:8]}"
    state = await pg_database(name)
    blog = await blog_in(folder, 0)
    try:
        async with SmtpSink() as server:
            env = environment_for(server, blog.url, state, poll_interval="1")
            group = [Worker(env, folder / f"start-{name}-{i}.log") for i in range(replicas)]
            try:
                await asyncio.gather(*(w.start() for w in group))

                def settled() -> bool:
                    return all(
                        "notifier running" in w.log_text()
                        or (w.process is not None and w.process.returncode is not None)
                        for w in group
                    )

                await wait_for(settled, 300)
                started = sum("notifier running" in w.log_text() for w in group)
                codes = [
                    (await w.stop(signal.SIGTERM))[0]
                    for w in group
                    if w.process is not None and w.process.returncode is None
                ]
                started = min(started, sum(code == 0 for code in codes))
            finally:
                await asyncio.gather(*(w.aclose() for w in group))
    finally:
        await blog.aclose()
        await pg_drop(name)
    return started


async def hanging_comment_store(folder: Path, seconds: float) -> tuple[int, int]:
    """(queued before the hang, delivered while the comment store hung)."""
    name = f"bench_source_{uuid.uuid4().hex[:8]}"
    source = await pg_database(name)
    queued = 200
    try:
        blog = Blog(source)
        await blog.create()
        await post_many(blog, queued)
        await blog.aclose()
        state = f"sqlite:///{folder}/hang-state-{name}.db"
        probe = SmtpSink()
        await probe.start()
        await probe.stop()
        async with TcpProxy("127.0.0.1", 5432) as proxy:
            proxied = make_url(source).set(port=proxy.port).render_as_string(False)
            env = environment_for(probe, proxied, state, poll_interval="1")
            worker = Worker(env, folder / f"hang-{name}.log")
            try:
                await worker.start()

                async def all_queued() -> bool:
                    try:
                        return len(await outbox_rows(state)) == queued
                    except Exception:  # not created yet
                        return False

                await wait_for(all_queued, 300)
                proxy.hang()
                async with SmtpSink(port=probe.port) as back:
                    with contextlib.suppress(TimeoutError):
                        await wait_for(lambda: len(back.received) >= queued, seconds)
                    delivered = len(back.received)
                    proxy.restore()
                    await worker.stop(signal.SIGTERM)
            finally:
                await worker.aclose()
    finally:
        await pg_drop(name)
    return queued, delivered


async def stop_charges(folder: Path) -> tuple[int, int]:
    """(messages never tried at the stop, how many of them were charged an attempt)."""
    blog = await blog_in(folder, 40)
    state = f"sqlite:///{folder}/stop-{uuid.uuid4().hex[:6]}.db"
    handler = StallsAtData(seconds=120)
    try:
        async with SmtpSink(handler) as server:
            env = environment_for(
                server,
                blog.url,
                state,
                poll_interval="1",
                smtp_connections="1",
                shutdown_timeout="2",
                smtp_timeout="100",
                send_timeout="110",
            )
            worker = Worker(env, folder / "stop.log")
            try:
                await worker.start()
                await wait_for(lambda: handler.data_tries >= 1, 300)
                await worker.stop(signal.SIGTERM, timeout=60)
            finally:
                await worker.aclose()
    finally:
        await blog.aclose()
    untried = [r for r in await outbox_rows(state) if r.state == "pending"][1:]
    return len(untried), sum(r.attempts > 0 for r in untried)


class TimedServer(SlowServer):
    """When each message was accepted."""

    def __init__(self, delay: float) -> None:
        super().__init__(delay)
        self.arrivals: list[float] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        answer = await super().handle_DATA(server, session, envelope)  # type: ignore[no-untyped-call]
        self.arrivals.append(time.monotonic())
        return answer


async def relay_flapping(folder: Path, windows: int) -> tuple[int, int, list[float]]:
    """(up-windows in which mail went out, windows, seconds from each return to its
    first message).  The relay, behind the TCP proxy, is cut for 3 s and back for
    3 s, ``windows`` times, with a backlog queued and a 5 s poll."""
    total = 3000
    blog = await blog_in(folder, total)
    state = f"sqlite:///{folder}/flap-{uuid.uuid4().hex[:6]}.db"
    handler = TimedServer(delay=0.02)
    arrivals = handler.arrivals
    try:
        async with SmtpSink(handler) as relay, TcpProxy("127.0.0.1", relay.port) as proxy:
            proxy.cut()
            env = environment_for(relay, blog.url, state, poll_interval="5")
            env["NOTIFIER_SMTP_PORT"] = str(proxy.port)
            worker = Worker(env, folder / f"flap-{uuid.uuid4().hex[:6]}.log")
            try:
                await worker.start()

                async def all_queued() -> bool:
                    try:
                        return len(await outbox_rows(state)) >= total
                    except Exception:  # not created yet
                        return False

                await wait_for(all_queued, 600)
                used, firsts = 0, []
                for _ in range(windows):
                    await asyncio.sleep(3)  # down
                    proxy.restore()
                    back = time.monotonic()
                    await asyncio.sleep(3)  # up
                    proxy.cut()
                    inside = [t - back for t in arrivals if back <= t < back + 3]
                    if inside:
                        used += 1
                        firsts.append(min(inside))
                await worker.stop(signal.SIGTERM)
            finally:
                await worker.aclose()
    finally:
        await blog.aclose()
    return used, windows, firsts


SECTIONS = ("crash-postgresql", "crash-sqlite", "cut", "flap", "starts", "hang", "stop")


async def main(
    out: Path, quick: bool, only: list[str], crash_runs: int, worker_timeout: str | None
) -> None:
    lines = ["# Recovery figures (bench/recovery.py)", ""]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results: list[str] = []
        crashes = 1 if quick else crash_runs
        for database, replicas in (("postgresql", 3), ("sqlite", 2)):
            if f"crash-{database}" not in only:
                continue
            for _ in range(crashes):
                name = f"bench_crash_{uuid.uuid4().hex[:8]}"
                state = (
                    await pg_database(name)
                    if database == "postgresql"
                    else f"sqlite:///{folder}/{name}.db"
                )
                overrides = {"worker_timeout": worker_timeout} if worker_timeout else {}
                try:
                    seconds, claims, dups, taken, age = await crash(
                        folder, state, replicas, **overrides
                    )
                finally:
                    if database == "postgresql":
                        await pg_drop(name)
                setting = f", NOTIFIER_WORKER_TIMEOUT={worker_timeout}" if worker_timeout else ""
                results.append(
                    f"| crash, kill -9 of 1 of {replicas} replicas ({database}{setting}) | "
                    f"{claims} claims delivered by the others {seconds:.1f} s after the kill "
                    f"(taken over {taken:.1f} s after it; its last heartbeat {age:.1f} s old "
                    f"at the kill); {dups} duplicate(s) |"
                )
                print(results[-1], flush=True)
        cut = 10.0 if quick else 30.0
        if "cut" in only:
            # First a fixed 3,000; then a backlog sized so that what is left at
            # the return takes about 20 s at the rate the first run measured
            # before its cut: "drained within 30 s of the return" is then a test
            # of recovery, not of this machine's throughput.
            sizes = [1000 if quick else 3000]
            measured: Cut | None = None
            for _ in range(2):
                if measured is not None:
                    sizes.append(600 + round(20 * measured.rate_before))
                name = f"bench_cut_{uuid.uuid4().hex[:8]}"
                state = await pg_database(name)
                try:
                    measured = await state_store_cut(folder, state, cut, sizes[-1])
                finally:
                    await pg_drop(name)
                m = measured
                results.append(
                    f"| state store (PostgreSQL) cut for {cut:g} s, {m.total:,} queued, "
                    f"2 replicas x 4 connections, cut after 600 sent | {m.during} sent during "
                    f"the cut; {m.duplicates} duplicate(s); sending again {m.resumed:.1f} s "
                    f"after the store's return; the {m.rest:,} left delivered {m.drained:.1f} s "
                    f"after it: {m.rate_after:.0f} msg/s after the return, "
                    f"{m.rate_before:.0f} msg/s before the cut |"
                )
                print(results[-1], flush=True)
        if "flap" in only:
            used, windows, firsts = await relay_flapping(folder, 10)
            firsts.sort()
            median = firsts[len(firsts) // 2] if firsts else float("nan")
            results.append(
                f"| relay (SMTP) down 3 s / up 3 s, {windows} times, 5 s poll, a backlog "
                f"| {used} of {windows} up-windows used; first message a median "
                f"{median:.1f} s (at most {max(firsts, default=float('nan')):.1f} s) after "
                "the relay's return |"
            )
            print(results[-1], flush=True)
        if "starts" in only:
            runs = 1 if quick else 3
            started = [await first_starts(folder, 10) for _ in range(runs)]
            results.append(
                f"| 10 replicas starting at once on an empty PostgreSQL database, {runs} times | "
                f"{sum(started)} of {10 * runs} started |"
            )
            print(results[-1], flush=True)
        if "hang" in only:
            queued, delivered = await hanging_comment_store(folder, cut)
            results.append(
                f"| comment store (PostgreSQL) hanging for up to {cut:g} s, {queued} messages "
                f"queued | {delivered} of {queued} delivered while it hung |"
            )
            print(results[-1], flush=True)
        if "stop" in only:
            untried, charged = await stop_charges(folder)
            results.append(
                f"| SIGTERM while a send hangs past NOTIFIER_SHUTDOWN_TIMEOUT | "
                f"{charged} of {untried} never-tried messages charged an attempt |"
            )
            print(results[-1], flush=True)
    lines += ["| fault | measured |", "|---|---|", *results, ""]
    await asyncio.to_thread(out.write_text, "\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run each, a 10 s cut")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RECOVERY.md")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="some sections")
    parser.add_argument("--crash-runs", type=int, default=3, help="kills per database")
    parser.add_argument("--worker-timeout", help="NOTIFIER_WORKER_TIMEOUT for the crashes")
    args = parser.parse_args()
    sections = args.only or list(SECTIONS)
    asyncio.run(main(args.out, args.quick, sections, args.crash_runs, args.worker_timeout))
