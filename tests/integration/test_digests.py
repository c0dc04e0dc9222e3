"""Bursts become digests, daily digests come once a day, reminders once per item.

Through ``run_forever`` (the real APScheduler jobs), a real SMTP server on
loopback and the state store on SQLite and PostgreSQL.  Time is an injected
clock standing in for the state store's, which the test moves forward; the
scheduler runs in real time, every 0.05 s.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import text

from notifier.demo.sink import SmtpSink
from notifier.errors import StateError
from notifier.service import Service, run_forever
from notifier.settings import Settings
from notifier.state import Outbox
from tests.helpers import INFOLINE, MODERATOR, MODERATOR_2, Blog, settings_for, to

# A Monday in winter: London is on UTC.
START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
TOKEN = re.compile(r"\bT(\d{4})X\b")


@pytest.fixture
async def blog(tmp_path: object) -> AsyncIterator[Blog]:
    """The comment store on SQLite: what is tested here is the state store."""
    b = Blog(f"sqlite:///{tmp_path}/comments.db")
    await b.create()
    yield b
    await b.aclose()


class Clock:
    """The service's clock: moves only when the test says so."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Runs:
    """Counts log lines by action, to wait for a job to have run again."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG, logger="notifier")
        self._caplog = caplog

    def count(self, action: str) -> int:
        return sum(1 for r in self._caplog.records if getattr(r, "action", None) == action)

    async def more(self, action: str, runs: int = 3) -> None:
        """Wait until ``action`` was logged ``runs`` more times."""
        target = self.count(action) + runs
        await until(lambda: self.count(action) >= target, f"{runs} more {action!r} lines")


async def until(ready: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Wait for ``ready()``; fail saying what never happened."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not ready():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def running(settings: Settings, clock: Clock) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_forever(settings, stop=stop, flow_clock=clock))
    try:
        yield
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 60) == 0


def flow_settings(smtp: SmtpSink, blog: Blog, state_url: str, **overrides: str) -> Settings:
    values = {
        "moderators": f"{MODERATOR}, {MODERATOR_2}",
        "poll_interval": "0.05",
        "digest_after": "5",
        "digest_window": "600",
        "triage": "off",
    }
    values.update(overrides)
    return settings_for(smtp, blog.url, state_url, **values)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def tokens(message: EmailMessage) -> list[int]:
    return [int(t) for t in TOKEN.findall(text_of(message))]


def is_digest(message: EmailMessage) -> bool:
    return "Digest" in str(message["Subject"])


async def polled_up_to(state_url: str, comment_id: int) -> None:
    """Wait until the service has read every comment up to ``comment_id``."""
    outbox = Outbox(state_url)
    try:
        for _ in range(3000):
            try:
                cursor = await outbox.load_cursor("comments")
            except StateError:  # the service has not created its tables yet
                cursor = None
            if cursor is not None and cursor.position >= comment_id:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"the service never read comment {comment_id}")
    finally:
        await outbox.aclose()


QUESTION = (
    "My husband has myeloma and the neuropathy from his Velcade is getting worse. "
    "Should he ask his doctor about lowering the dose?"
)


async def post_burst(
    blog: Blog, clock: Clock, count: int, seconds: float, *, questions: tuple[int, ...] = ()
) -> list[int]:
    """``count`` comments over ``seconds`` of the service's time; those numbered in
    ``questions`` ask the InfoLine something."""
    ids = []
    for n in range(count):
        text = QUESTION if n in questions else "Lovely post, thanks!"
        ids.append(await blog.comment(f"{text} T{n:04d}X"))
        clock.advance(seconds=seconds / count)
        if n % 20 == 0:
            await asyncio.sleep(0)  # let the service poll in between
    return ids


async def test_a_burst_of_200_reaches_each_moderator_as_five_emails_and_a_digest(
    blog: Blog, smtp: SmtpSink, state_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    runs = Runs(caplog)
    clock = Clock(START)
    settings = flow_settings(smtp, blog, state_url, triage="forward")
    async with running(settings, clock):
        # Two medical questions in the middle of the burst.
        ids = await post_burst(blog, clock, 200, seconds=60, questions=(60, 120))
        await polled_up_to(state_url, ids[-1])
        await until(lambda: len(to(smtp.received, MODERATOR_2)) >= 5, "the immediate emails")
        # During the window a moderator approves one of the comments the digest holds.
        approved = ids[150]
        await blog.set_status(approved, "approved")
        await runs.more("poll")
        assert len(to(smtp.received, MODERATOR)) == 5  # the rest wait for the window's end

        clock.advance(seconds=600)
        await until(
            lambda: all(
                any(is_digest(m) for m in to(smtp.received, who))
                for who in (MODERATOR, MODERATOR_2)
            ),
            "a digest for each moderator",
        )
        await runs.more("digests_run")
        await runs.more("poll")

    for who in (MODERATOR, MODERATOR_2):
        mail = to(smtp.received, who)
        immediate = [m for m in mail if not is_digest(m)]
        digests = [m for m in mail if is_digest(m)]
        assert len(immediate) == 5
        assert len(digests) == 1
        listed = Counter(t for m in mail for t in tokens(m))
        assert set(listed.values()) == {1}, "every comment exactly once"
        assert set(listed) == set(range(200)) - {150}
        # Newest first, with counts, links to each post.
        digest_tokens = tokens(digests[0])
        assert digest_tokens == sorted(digest_tokens, reverse=True)
        text = text_of(digests[0])
        assert "194 comments, 0 flags" in text
        assert "1 more was handled before this digest was built" in text
    # InfoLine forwards are never digested: one question, one email.
    forwards = to(smtp.received, INFOLINE)
    assert sorted(t for m in forwards for t in tokens(m)) == [60, 120]
    assert len(forwards) == 2


async def test_a_spam_wave_of_500_gives_each_moderator_at_most_a_dozen_emails_none_lost(
    blog: Blog, smtp: SmtpSink, state_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    runs = Runs(caplog)
    clock = Clock(START)
    settings = flow_settings(smtp, blog, state_url, triage="forward")
    async with running(settings, clock):
        # What the source already marks as spam never mails anyone...
        for n in range(20):
            spam = await blog.comment(f"cheap watches S{n:04d}Y", status="spam")
            await blog.flag(spam, "abuse")
        # ...and a wave it has not caught yet is guarded: spread over 25 minutes.
        ids = await post_burst(blog, clock, 500, seconds=1500)
        await polled_up_to(state_url, ids[-1])
        for _ in range(4):  # the windows after the wave
            clock.advance(seconds=600)
            await runs.more("digests_run")
            await runs.more("poll")

    for who in (MODERATOR, MODERATOR_2):
        mail = to(smtp.received, who)
        assert len(mail) <= 12
        assert sorted(t for m in mail for t in tokens(m)) == list(range(500))
    everything = b"".join(r.data for r in smtp.received)
    assert b"S0000Y" not in everything and b"cheap watches" not in everything
    assert to(smtp.received, INFOLINE) == []


async def test_a_digest_with_nothing_left_is_not_sent(
    blog: Blog, smtp: SmtpSink, state_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    runs = Runs(caplog)
    clock = Clock(START)
    settings = flow_settings(smtp, blog, state_url, moderators=MODERATOR)
    async with running(settings, clock):
        ids = await post_burst(blog, clock, 8, seconds=10)
        await polled_up_to(state_url, ids[-1])
        await until(lambda: len(smtp.received) >= 5, "the immediate emails")
        await blog.set_status(ids[5], "approved")
        await blog.set_status(ids[6], "spam")
        await blog.set_status(ids[7], "trash")
        clock.advance(seconds=600)
        await until(lambda: runs.count("digest_empty") == 1, "the empty digest's log line")
        await runs.more("poll")
        await runs.more("digests_run")

    assert len(smtp.received) == 5
    assert not any(is_digest(r.message) for r in smtp.received)


async def test_a_digest_waits_for_an_unreachable_store_then_goes_out_unchecked(
    blog: Blog, smtp: SmtpSink, state_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    runs = Runs(caplog)
    clock = Clock(START)
    settings = flow_settings(smtp, blog, state_url, moderators=MODERATOR)
    async with running(settings, clock):
        ids = await post_burst(blog, clock, 8, seconds=10)
        await polled_up_to(state_url, ids[-1])
        await until(lambda: len(smtp.received) >= 5, "the immediate emails")
        await blog.set_status(ids[7], "approved")
        # The comment store breaks: its comments table is gone.
        async with blog.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE comments RENAME TO comments_away"))
        clock.advance(seconds=601)
        await until(lambda: runs.count("digest_waiting") >= 1, "the digest to wait")
        await runs.more("digests_run")
        assert len(smtp.received) == 5  # nothing stale is sent while it may yet be asked

        clock.advance(seconds=600)  # a window later: better a stale list than none
        await until(lambda: len(smtp.received) == 6, "the unchecked digest")
        await runs.more("digests_run")

    digest = smtp.received[-1].message
    assert is_digest(digest)
    assert sorted(tokens(digest)) == [5, 6, 7]
    assert "could not be reached" in text_of(digest)
    assert runs.count("digest_unchecked") == 1


async def test_a_daily_digest_moderator_gets_one_email_a_day(
    blog: Blog, smtp: SmtpSink, state_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    runs = Runs(caplog)
    clock = Clock(START)  # 06:00 in London
    settings = flow_settings(
        smtp, blog, state_url, digest_only=f"{MODERATOR_2} 08:00 Europe/London"
    )
    async with running(settings, clock):
        for n in range(3):
            await blog.comment(f"Morning comment T{n:04d}X")
        await until(lambda: len(to(smtp.received, MODERATOR)) == 3, "the others' emails")
        await runs.more("digests_run")
        assert to(smtp.received, MODERATOR_2) == []

        clock.advance(hours=2, seconds=1)  # 08:00:01
        await until(lambda: len(to(smtp.received, MODERATOR_2)) == 1, "the first daily digest")

        clock.advance(hours=1)
        for n in range(3, 5):
            await blog.comment(f"Later comment T{n:04d}X")
        await runs.more("poll")
        clock.advance(hours=14)  # 23:00
        await blog.comment("Late-night comment T0005X")
        await runs.more("poll")
        await runs.more("digests_run")
        assert len(to(smtp.received, MODERATOR_2)) == 1

        clock.advance(hours=9)  # 08:00:01 the next day
        await until(lambda: len(to(smtp.received, MODERATOR_2)) == 2, "the second daily digest")
        clock.advance(hours=3)
        await runs.more("digests_run")
        await runs.more("poll")

    first, second = to(smtp.received, MODERATOR_2)
    assert sorted(tokens(first)) == [0, 1, 2]
    assert sorted(tokens(second)) == [3, 4, 5]
    assert "Daily digest" in str(first["Subject"])


async def test_a_reminder_fires_once_for_newly_overdue_items_and_not_again(
    blog: Blog, smtp: SmtpSink, state_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    runs = Runs(caplog)
    clock = Clock(START)
    settings = flow_settings(smtp, blog, state_url, moderators=MODERATOR, remind_after="3600")
    async with running(settings, clock):
        waiting = await blog.comment("Still waiting T0001X")
        handled = await blog.comment("Approved soon T0002X")
        approved = await blog.comment("Already approved T0003X", status="approved")
        await blog.flag(approved, "abuse", note="rude T0004X")
        await until(lambda: len(smtp.received) == 4, "the four emails")
        await blog.set_status(handled, "approved")

        clock.advance(minutes=61)
        await until(lambda: runs.count("reminder_sent") == 1, "the reminder")
        await until(lambda: len(smtp.received) == 5, "the reminder email")
        # An hour later, nothing new is overdue: no reminder, not the same list again.
        clock.advance(minutes=61)
        await runs.more("reminders_run")
        await runs.more("poll")
        assert len(smtp.received) == 5

        # A new comment becomes overdue: a reminder with it alone.
        await blog.comment("Newer one T0005X")
        await until(lambda: len(smtp.received) == 6, "its email")
        clock.advance(minutes=61)
        await until(lambda: len(smtp.received) == 7, "the second reminder")
        await runs.more("reminders_run")
        await runs.more("poll")
    assert waiting
    reminders = [r.message for r in smtp.received if "Reminder" in str(r.message["Subject"])]
    assert len(reminders) == 2
    assert sorted(tokens(reminders[0])) == [1, 3, 4]  # the pending comment; the flag, its note
    assert tokens(reminders[1]) == [5]
    assert len(smtp.received) == 7


async def test_two_replicas_share_a_burst_without_losing_or_doubling(
    blog: Blog, smtp: SmtpSink, state_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    runs = Runs(caplog)
    clock = Clock(START)
    settings = flow_settings(smtp, blog, state_url)
    async with running(settings, clock):
        await polled_up_to(state_url, 0)  # one replica has created the tables
        async with running(settings, clock):
            ids = await post_burst(blog, clock, 120, seconds=30)
            await polled_up_to(state_url, ids[-1])
            await until(lambda: len(to(smtp.received, MODERATOR)) >= 5, "the immediate emails")
            clock.advance(seconds=600)
            await until(
                lambda: sum(len(tokens(m)) for m in to(smtp.received, MODERATOR)) >= 120,
                "every comment listed",
            )
            await runs.more("digests_run", 6)
            await runs.more("poll", 6)
    for who in (MODERATOR, MODERATOR_2):
        mail = to(smtp.received, who)
        assert len([m for m in mail if not is_digest(m)]) == 5
        assert sorted(t for m in mail for t in tokens(m)) == list(range(120))


async def test_digest_and_reminder_times_are_the_state_stores_not_the_workers(
    blog: Blog, smtp: SmtpSink, state_url: str
) -> None:
    """A replica whose clock is a day ahead sends no digest and no reminder early:
    every due time is written and compared with the state store's clock."""
    settings = flow_settings(
        smtp, blog, state_url, moderators=MODERATOR, digest_after="2", remind_after="3600"
    )
    service = Service(settings, clock=lambda: datetime.now(UTC) + timedelta(days=1))
    await service.open()
    try:
        for n in range(5):
            await blog.comment(f"Lovely post, thanks! T{n:04d}X")
        await service.tick()
        assert len(smtp.received) == 2  # the rest wait for the digest
        store = Outbox(state_url)
        try:
            db_now = await store.now()
            async with store._engine.connect() as conn:
                [next_at] = (
                    await conn.execute(text("SELECT next_at FROM notifier_digest_moderators"))
                ).scalars()
                seen = list(
                    (await conn.execute(text("SELECT seen_at FROM notifier_reminder_watch")))
                    .scalars()
                    .all()
                )
        finally:
            await store.aclose()
        as_time = [
            (v if isinstance(v, datetime) else datetime.fromisoformat(v)).replace(tzinfo=UTC)
            for v in [next_at, *seen]
        ]
        # Ten minutes after the database's now, not a day and ten minutes.
        assert abs((as_time[0] - db_now).total_seconds() - 600) < 120
        assert seen and all(abs((t - db_now).total_seconds()) < 120 for t in as_time[1:])
        # Neither is due yet by the database's clock, whatever this worker's says.
        digests = await service.flow.digests()
        reminders = await service.flow.reminders()
        assert digests is not None and digests.emails == 0
        assert reminders is not None and reminders.emails == 0
        await service.deliver()
        assert len(smtp.received) == 2
    finally:
        await service.close()
