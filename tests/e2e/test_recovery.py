"""Back within seconds, whatever fails: real ``notifier run`` processes, real servers,
and a TCP proxy that cuts or hangs a database on cue.

No assertion is about how long something took: each checks the cause (claims
taken over while the dead worker's lease had most of its time to run; mail
delivered while the comment store still hangs).  ``bench/recovery.py`` measures
the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from notifier.db import create_engine
from notifier.demo.sink import SmtpSink
from notifier.state.dbtime import db_now
from notifier.state.schema import outbox, workers
from tests.fault_helpers import SlowServer, StallsAtData, message_ids, outbox_rows
from tests.helpers import Blog, environment_for
from tests.process_helpers import Worker, every_message, post_many, until
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow


def through(proxy: TcpProxy, url: str) -> str:
    """``url`` with the proxy in front of its server."""
    return make_url(url).set(host=proxy.host, port=proxy.port).render_as_string(False)


async def query(url: str, statement: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(statement)).all())
    finally:
        await engine.dispose()


async def worker_id(state: str, process: Worker) -> str:
    """The id a worker process registered with its first heartbeat."""
    for _ in range(1000):
        try:
            rows = await query(
                state, select(workers.c.worker_id).where(workers.c.pid == process.pid)
            )
        except SQLAlchemyError:  # no table yet: the worker is still setting up
            rows = []
        if rows:
            return str(rows[0][0])
        await asyncio.sleep(0.02)
    raise AssertionError(f"worker {process.pid} never wrote a heartbeat")


async def claims_of(state: str, owner: str) -> list[Any]:
    return await query(
        state,
        select(outbox.c.id, outbox.c.lease_expires_at).where(
            outbox.c.lease_owner == owner, outbox.c.state == "pending"
        ),
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Blog]:
    blog = Blog(f"sqlite:///{tmp_path}/comments.db")
    await blog.create()
    yield blog
    await blog.aclose()


def start_all(workers_: list[Worker]) -> Any:
    return asyncio.gather(*(w.start() for w in workers_))


async def close_all(workers_: list[Worker]) -> None:
    await asyncio.gather(*(w.aclose() for w in workers_))


async def test_a_killed_replicas_claims_go_out_through_its_heartbeat_not_its_lease(
    tmp_path: Path, store: Blog, state_url: str
) -> None:
    """One of three replicas on PostgreSQL, one of two on SQLite."""
    state = state_url
    database = "postgresql" if state.startswith("postgresql") else "sqlite"
    replicas = 3 if database == "postgresql" else 2
    total = 800
    await post_many(store, total)
    handler = SlowServer(delay=0.02)
    async with SmtpSink(handler) as server:
        env = environment_for(
            server,
            store.url,
            state,
            poll_interval="0.2",
            smtp_connections="4",
            mark_window="2",
            worker_timeout="3",
            # Ten minutes: whatever recovers within the test did not wait for it.
            lease_seconds="600",
        )
        group = [Worker(env, tmp_path / f"worker{i}.log") for i in range(replicas)]
        try:
            await start_all(group)
            victim = group[0]
            victim_id = await worker_id(state, victim)
            held: list[Any] = []

            async def victim_is_mid_delivery() -> bool:
                nonlocal held
                held = await claims_of(state, victim_id)
                return len(held) >= 10 and len(handler.received) >= 50

            for _ in range(1500):
                if await victim_is_mid_delivery():
                    break
                await asyncio.sleep(0.01)
            victim.process.kill()  # type: ignore[union-attr]
            await victim.process.wait()  # type: ignore[union-attr]
            orphans = await claims_of(state, victim_id)
            assert orphans, "the kill should catch the victim holding claims"
            lease_ends = min(r.lease_expires_at for r in orphans)

            await until(lambda: every_message(handler, total), 60, "every message")
            # Everything went out while the dead worker's ten-minute lease still ran.
            dialect = "postgresql" if database == "postgresql" else "sqlite"
            [(now,)] = await query(state, select(db_now(dialect)))
            assert (lease_ends - now).total_seconds() > 500
            logs = "".join(w.log_text() for w in group[1:])
            assert f"from worker {victim_id}: its heartbeat is older than 3s" in logs
            for worker in group[1:]:
                code, _ = await worker.stop(signal.SIGTERM)
                assert code == 0
        finally:
            await close_all(group)

    ids = message_ids(handler)
    duplicates = len(ids) - len(set(ids))
    print(f"\n{database}: {len(orphans)} claims taken over, {duplicates} duplicate(s)")
    assert len(set(ids)) == total
    # Only the victim's messages sent but not yet recorded can go twice: at most
    # its connections times its mark window.
    assert duplicates <= 4 * 2
    rows = await outbox_rows(state)
    assert {r.state for r in rows} == {"sent"}


class Hanging(StallsAtData):
    """Stalls the first message after DATA; says how many stalls are still hanging."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.hanging = 0

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        stalling = bool(self.stalls)
        self.hanging += stalling
        try:
            return await super().handle_DATA(server, session, envelope)
        finally:
            self.hanging -= stalling


def hanging_relay_environment(server: SmtpSink, store: Blog, sqlite_state: str) -> dict[str, str]:
    """Two connections, and deadlines long enough that a hung send stays hung."""
    return environment_for(
        server,
        store.url,
        sqlite_state,
        poll_interval="0.2",
        smtp_connections="2",
        smtp_timeout="600",
        send_timeout="900",
        shutdown_timeout="1",
    )


@contextlib.asynccontextmanager
async def a_worker_with_a_hung_send(
    tmp_path: Path, store: Blog, sqlite_state: str
) -> AsyncIterator[Hanging]:
    """A worker whose first message hangs after DATA; stopped cleanly (exit 0) after."""
    handler = Hanging(seconds=600)
    async with SmtpSink(handler) as server:
        env = hanging_relay_environment(server, store, sqlite_state)
        worker = await Worker(env, tmp_path / "notifier.log").start()
        try:
            await store.comment("The first one, whose send will hang")
            await until(lambda: handler.hanging == 1, 60, "the send to hang")
            yield handler
            assert handler.hanging == 1  # still hung when the test is done
            code, _ = await worker.stop(signal.SIGTERM)
            assert code == 0
        finally:
            await worker.aclose()


async def test_a_send_that_hangs_after_data_does_not_hold_up_polling(
    tmp_path: Path, store: Blog, sqlite_state: str
) -> None:
    """Issue 11, item 11: the relay never completes its reply after DATA."""
    async with a_worker_with_a_hung_send(tmp_path, store, sqlite_state):
        second = await store.comment("Posted while the first send hangs")

        async def enqueued() -> bool:
            rows = await outbox_rows(sqlite_state)
            return any(r.comment_id == second for r in rows)

        for _ in range(1500):
            if await enqueued():
                break
            await asyncio.sleep(0.02)
        # Read, rendered and queued while the first send still hangs.
        assert await enqueued()


def plain_text(received: Any) -> str:
    body = received.message.get_body(preferencelist=("plain",))
    return str(body.get_content()) if body is not None else ""


async def test_a_send_that_hangs_holds_up_only_its_own_message(
    tmp_path: Path, store: Blog, sqlite_state: str
) -> None:
    """Connections are independent: while one waits on a relay that never answers
    its DATA, the other carries mail that arrived after the hang began."""
    async with a_worker_with_a_hung_send(tmp_path, store, sqlite_state) as handler:
        later = [f"Posted while the first send hangs, number {i}" for i in range(5)]
        for text in later:
            await store.comment(text)

        def all_later_arrived() -> bool:
            texts = "\n".join(plain_text(r) for r in handler.received)
            return all(text in texts for text in later)

        # A generous bound: the hung send's deadline is fifteen minutes away.
        await until(all_later_arrived, 90, "the later mail while the first send hangs")
        assert not any("whose send will hang" in plain_text(r) for r in handler.received)


@pytest.mark.postgres
async def test_a_hanging_comment_store_does_not_hold_up_queued_mail(
    tmp_path: Path, pg_url: str, sqlite_state: str
) -> None:
    blog = Blog(pg_url)
    await blog.create()
    try:
        await post_many(blog, 20)
    finally:
        await blog.aclose()
    # The mail server is down while the 20 messages are queued.
    probe = SmtpSink()
    await probe.start()
    port = probe.port
    await probe.stop()
    async with TcpProxy("127.0.0.1", make_url(pg_url).port or 5432) as proxy:
        env = environment_for(
            probe,
            through(proxy, pg_url),
            sqlite_state,
            poll_interval="0.2",
            # Long enough that the hung poll is still hanging at the end of the test.
            source_timeout="600",
        )
        worker = await Worker(env, tmp_path / "notifier.log").start()
        try:
            rows: list[Any] = []
            for _ in range(1500):
                with contextlib.suppress(SQLAlchemyError):  # no table yet
                    rows = await outbox_rows(sqlite_state)
                if len(rows) == 20:
                    break
                await asyncio.sleep(0.02)
            assert len(rows) == 20 and all(r.state == "pending" for r in rows)
            proxy.hang()
            # A poll starts against the hung store (a new connection or bytes held).
            await until(lambda: proxy.held_bytes > 0, 30, "a poll to hang")
            async with SmtpSink(port=port) as back:
                await until(lambda: len(back.received) >= 20, 30, "the queued mail")
                # Delivered while the comment store still hangs and the poll waits on it.
                assert proxy.mode == "hung" and proxy.held_bytes > 0
                assert "poll failed" not in worker.log_text()
                code, _ = await worker.stop(signal.SIGTERM)
                assert code == 0
            assert len(set(message_ids(back.handler))) == 20
        finally:
            await worker.aclose()


@pytest.mark.postgres
async def test_a_state_store_cut_during_a_backlog_doubles_at_most_a_message_per_connection(
    tmp_path: Path, store: Blog, pg_url: str
) -> None:
    total = 1500
    connections = 4
    await post_many(store, total)
    handler = SlowServer(delay=0.005)
    async with (
        SmtpSink(handler) as server,
        TcpProxy("127.0.0.1", make_url(pg_url).port or 5432) as proxy,
    ):
        env = environment_for(
            server,
            store.url,
            through(proxy, pg_url),
            poll_interval="0.2",
            smtp_connections=str(connections),
            worker_timeout="2",  # the cut outlasts it: every heartbeat looks dead on return
        )
        group = [Worker(env, tmp_path / f"worker{i}.log") for i in range(2)]
        try:
            await start_all(group)
            await until(lambda: len(handler.received) >= 300, 60, "300 messages")
            proxy.cut()
            at_cut = len(handler.received)
            await asyncio.sleep(5)
            during_cut = len(handler.received) - at_cut
            proxy.restore()
            await until(lambda: every_message(handler, total), 60, "every message")
            for worker in group:
                code, _ = await worker.stop(signal.SIGTERM)
                assert code == 0
            logs = "".join(w.log_text() for w in group)
        finally:
            await close_all(group)
    ids = message_ids(handler)
    duplicates = len(ids) - len(set(ids))
    print(f"\ncut after {at_cut}: {during_cut} sent during the cut, {duplicates} duplicate(s)")
    # No more than the mark window per connection is sent ahead of its records...
    assert during_cut <= 2 * connections * 8
    # ...and those records land when the store returns: each replica doubles at
    # most the message each of its connections had on the wire.
    assert duplicates <= connections
    assert "state store unavailable" in logs and "state store answers again" in logs
    rows = await outbox_rows(pg_url)
    assert len(rows) == total and {r.state for r in rows} == {"sent"}


@pytest.mark.postgres
async def test_ten_replicas_starting_together_on_an_empty_postgresql_store_all_start(
    tmp_path: Path, store: Blog, pg_url: str, smtp: SmtpSink
) -> None:
    env = environment_for(smtp, store.url, pg_url, poll_interval="0.5")
    group = [Worker(env, tmp_path / f"worker{i}.log") for i in range(10)]
    try:
        await start_all(group)
        await until(
            lambda: (
                all("notifier running" in w.log_text() for w in group)
                or any(w.process and w.process.returncode is not None for w in group)
            ),
            120,
            "ten starts",
        )
        codes = []
        for worker in group:
            assert worker.process is not None
            if worker.process.returncode is None:
                code, _ = await worker.stop(signal.SIGTERM)
            else:
                code = worker.process.returncode
            codes.append(code)
    finally:
        await close_all(group)
    failed = [w.log_text()[-3000:] for w, code in zip(group, codes, strict=True) if code != 0]
    assert codes == [0] * 10, "\n".join(failed)
    assert all("notifier running" in w.log_text() for w in group)
    assert not any("Traceback" in w.log_text() for w in group)
    [(count,)] = await query(pg_url, select(func.count()).select_from(workers))
    assert count == 0  # each signed off on stopping
