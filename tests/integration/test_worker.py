"""The worker's promises: nothing lost, nothing doubled, from now or from the beginning."""

from __future__ import annotations

from datetime import UTC, datetime

from notifier.demo.sink import SmtpSink
from notifier.service import Service, run_once
from notifier.state import Outbox
from tests.helpers import MODERATOR, Blog, settings_for, to


async def test_running_once_twice_sends_nothing_new(
    blog: Blog, smtp: SmtpSink, state_url: str
) -> None:
    await blog.comment("First comment")
    settings = settings_for(smtp, blog.url, state_url)

    assert await run_once(settings) == 0
    assert await run_once(settings) == 0

    assert len(smtp.received) == 1


async def test_first_start_from_now_does_not_mail_the_history(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    await blog.comment("An old comment")
    old = await blog.comment("Another old one")
    await blog.flag(old, "abuse")
    settings = settings_for(smtp, blog.url, sqlite_state, start_from="now")

    assert await run_once(settings) == 0
    assert smtp.received == []

    await blog.comment("Posted after the start")
    assert await run_once(settings) == 0
    [message] = smtp.received
    assert "Posted after the start" in message.message.get_body(("plain",)).get_content()


async def test_start_from_beginning_mails_everything_already_there(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    for i in range(3):
        await blog.comment(f"Comment {i}")
    assert await run_once(settings_for(smtp, blog.url, sqlite_state, start_from="beginning")) == 0
    assert len(smtp.received) == 3


async def test_a_restart_between_enqueue_and_delivery_loses_nothing(
    blog: Blog, smtp: SmtpSink, state_url: str
) -> None:
    await blog.comment("Queued while the mail server was away")
    await smtp.stop()  # nothing listens on the port: connection refused
    settings = settings_for(smtp, blog.url, state_url, retry_base_seconds="0.001")

    assert await run_once(settings) == 1  # enqueued, not delivered: says so

    outbox = Outbox(state_url)
    stats = await outbox.stats(datetime.now(UTC))
    await outbox.aclose()
    assert (stats.pending + stats.retrying, stats.sent) == (1, 0)

    async with SmtpSink() as back:
        later = settings_for(back, blog.url, state_url, retry_base_seconds="0.001")
        # A new process: same state store, nothing else shared.
        assert await run_once(later) == 0
        assert await run_once(later) == 0
        assert len(back.received) == 1


async def test_comments_committed_out_of_id_order_are_still_found(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    # Ids are taken when a transaction starts but seen when it commits: id 11
    # can appear after id 12 was read.  Simulate with explicit ids.
    await blog.comment("ten", id=10)
    await blog.comment("twelve", id=12)
    settings = settings_for(smtp, blog.url, sqlite_state)
    assert await run_once(settings) == 0
    assert len(smtp.received) == 2

    await blog.comment("eleven, committed late", id=11)
    await blog.comment("thirteen", id=13)
    assert await run_once(settings) == 0
    assert await run_once(settings) == 0

    bodies = sorted(m.message.get_body(("plain",)).get_content() for m in smtp.received)
    assert len(bodies) == 4
    assert any("eleven, committed late" in b for b in bodies)


async def test_overlapping_polls_enqueue_each_notification_once(
    blog: Blog, smtp: SmtpSink, state_url: str
) -> None:
    import asyncio

    for i in range(30):
        await blog.comment(f"Comment {i}")
    settings = settings_for(smtp, blog.url, state_url, batch_size="7")
    first, second = Service(settings), Service(settings)
    try:
        await first.open()
        await second.open()
        await asyncio.gather(first.poller.poll(), second.poller.poll(), first.poller.poll())
        await asyncio.gather(first.deliverer.deliver_due(), second.deliverer.deliver_due())
    finally:
        await first.close()
        await second.close()

    assert len(to(smtp.received, MODERATOR)) == 30
    assert len({m.message["Message-ID"] for m in smtp.received}) == 30


async def test_a_retry_sends_the_same_bytes_and_message_id(
    blog: Blog, smtp: SmtpSink, sqlite_state: str
) -> None:
    from notifier.demo.sink import RecordingHandler

    class FailsOnce(RecordingHandler):
        def __init__(self) -> None:
            super().__init__()
            self.tries = 0

        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            self.tries += 1
            if self.tries == 1:
                self.first = envelope.original_content
                return "451 try again later"
            return await super().handle_DATA(server, session, envelope)

    await blog.comment("Retry me")
    handler = FailsOnce()
    async with SmtpSink(handler) as flaky:
        settings = settings_for(flaky, blog.url, sqlite_state, retry_base_seconds="0.001")
        assert await run_once(settings) == 1
        assert await run_once(settings) == 0
    assert handler.tries == 2
    assert handler.received[0].data == handler.first
