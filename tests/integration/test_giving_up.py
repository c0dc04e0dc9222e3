"""When notifier stops trying: a message's give-up age and attempts, a hanging store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from notifier.db import parse_url
from notifier.demo.sink import SmtpSink
from notifier.service import Service
from tests.fault_helpers import Scripted
from tests.helpers import Blog, settings_for


async def one_comment(tmp_path: object) -> Blog:
    blog = Blog(f"sqlite:///{tmp_path}/store.db")
    await blog.create()
    await blog.comment("Hello")
    await blog.aclose()
    return blog


def always_retrying(smtp: SmtpSink, blog: Blog, state: str, **overrides: str) -> Service:
    """A service that retries at once, against a server that always says 451."""
    return Service(
        settings_for(
            smtp,
            blog.url,
            state,
            retry_base_seconds="0.0001",
            retry_cap_seconds="0.0001",
            **overrides,
        )
    )


async def ticks(service: Service, n: int) -> None:
    for _ in range(n):
        await service.tick()


async def test_a_message_refused_for_long_enough_and_often_enough_is_dead(
    tmp_path: object, sqlite_state: str
) -> None:
    blog = await one_comment(tmp_path)
    always_busy = Scripted(data=["451 4.3.0 try later"] * 100)
    async with SmtpSink(always_busy) as smtp:
        service = always_retrying(
            smtp,
            blog,
            sqlite_state,
            give_up_after_seconds="0.0001",
            give_up_after_attempts="3",
        )
        await service.open()
        try:
            await ticks(service, 2)
            stats = await service.outbox.stats(datetime.now(UTC))
            assert (stats.retrying, stats.dead) == (1, 0)  # old enough, not tried enough
            await ticks(service, 1)
            stats = await service.outbox.stats(datetime.now(UTC))
        finally:
            await service.close()
    assert (stats.retrying, stats.dead) == (0, 1)
    assert "gave up after 3 attempts" in stats.dead_letters[0].error
    assert "451" in stats.dead_letters[0].error
    assert always_busy.data_tries == 3


async def test_a_young_message_is_retried_however_often_it_is_refused(
    tmp_path: object, sqlite_state: str
) -> None:
    blog = await one_comment(tmp_path)
    async with SmtpSink(Scripted(data=["451 4.3.0 try later"] * 100)) as smtp:
        service = always_retrying(smtp, blog, sqlite_state, give_up_after_attempts="1")
        await service.open()
        try:
            await ticks(service, 6)
            stats = await service.outbox.stats(datetime.now(UTC))
        finally:
            await service.close()
    assert (stats.retrying, stats.dead) == (1, 0)


@pytest.mark.postgres
async def test_a_store_that_hangs_does_not_hold_up_delivery(
    pg_url: str, sqlite_state: str, smtp: SmtpSink
) -> None:
    blog = Blog(pg_url)
    await blog.create()
    await blog.comment("Queued before the store hung")
    settings = settings_for(smtp, pg_url, sqlite_state, source_timeout="1")
    service = Service(settings)
    await service.open()
    locker = create_async_engine(parse_url(pg_url))
    try:
        assert (await service.poller.poll()).enqueued == 1
        await blog.comment("Posted while the store hangs")
        async with locker.connect() as conn:
            await conn.execute(text("LOCK TABLE comments IN ACCESS EXCLUSIVE MODE"))
            report = await service.tick()  # the poll blocks on the lock
            assert report.problems == ["the poll took longer than 1s"]
            assert report.delivery is not None and report.delivery.sent == 1
            await conn.rollback()
        await service.tick()  # the store is back: nothing posted meanwhile is missed
    finally:
        await service.close()
        await locker.dispose()
        await blog.aclose()
    assert len(smtp.received) == 2
