"""Delivery when the mail server, the network or the settings fail: real servers on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult

from notifier.demo.sink import SmtpSink
from notifier.service import Service, run_once
from tests.fault_helpers import (
    DropsAtData,
    Scripted,
    StallsAtData,
    message_ids,
    outbox_rows,
    status_of,
)
from tests.helpers import MODERATOR, MODERATOR_2, Blog, settings_for

# --- a real server that misbehaves -----------------------------------------------


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Blog]:
    """The comment store; its kind does not matter to delivery, so SQLite only."""
    blog = Blog(f"sqlite:///{tmp_path}/comments.db")
    await blog.create()
    yield blog
    await blog.aclose()


async def test_server_down_for_a_while_then_back_delivers_everything_exactly_once(
    store: Blog, sqlite_state: str
) -> None:
    for i in range(5):
        await store.comment(f"Comment {i}")
    server = SmtpSink(Scripted())
    await server.start()
    port = server.port
    await server.stop()
    settings = settings_for(server, store.url, sqlite_state)
    service = Service(settings)
    await service.open()
    try:
        for _ in range(3):
            report = await service.tick()
            assert report.delivery is not None and report.delivery.unreachable
        # Waiting for the server costs no message a retry, and nothing is dropped.
        rows = await outbox_rows(sqlite_state)
        assert [(r.state, r.attempts, r.lease_owner) for r in rows] == [("pending", 0, None)] * 5
        status = await status_of(settings)
        assert "pending   5" in status and "last delivery:  never" in status
        assert "oldest pending: 0:00:0" in status  # an age, not "-"

        back = SmtpSink(Scripted(), port=port)
        await back.start()
        try:
            report = await service.tick()
            assert report.delivery is not None and report.delivery.sent == 5
            await service.tick()
        finally:
            await back.stop()
    finally:
        await service.close()
    assert len(back.received) == 5
    assert len(set(message_ids(back.handler))) == 5


@pytest.mark.parametrize(
    ("rcpt", "data", "said"),
    [
        ((), ("421 4.3.2 closing channel, try later",), "421"),
        (("450 4.2.1 mailbox busy",), (), "450"),
        ((), ("451 4.3.0 local error",), "451"),
    ],
    ids=["421 at DATA", "450 at RCPT", "451 at DATA"],
)
async def test_a_temporary_refusal_is_retried_then_delivered_once(
    store: Blog, sqlite_state: str, rcpt: tuple[str, ...], data: tuple[str, ...], said: str
) -> None:
    await store.comment("Hello")
    handler = Scripted(rcpt=rcpt, data=data)
    async with SmtpSink(handler) as server:
        settings = settings_for(server, store.url, sqlite_state, retry_base_seconds="0.001")
        assert await run_once(settings) == 1

        [row] = await outbox_rows(sqlite_state)
        assert (row.state, row.attempts) == ("pending", 1)
        assert row.last_error.startswith(said)
        assert "retrying  1" in await status_of(settings)

        assert await run_once(settings) == 0
        assert await run_once(settings) == 0
    [row] = await outbox_rows(sqlite_state)
    assert (row.state, row.attempts, row.last_error) == ("sent", 2, None)
    assert len(handler.received) == 1


@pytest.mark.parametrize(
    ("rcpt", "data", "said"),
    [
        (("550 5.1.1 no such mailbox here",), (), "550 recipient refused: 5.1.1 no such mailbox"),
        ((), ("554 5.7.1 rejected as spam",), "554 5.7.1 rejected as spam"),
    ],
    ids=["550 at RCPT", "554 at DATA"],
)
async def test_a_permanent_refusal_is_a_dead_letter_whose_reason_status_shows(
    store: Blog, sqlite_state: str, rcpt: tuple[str, ...], data: tuple[str, ...], said: str
) -> None:
    await store.comment("Hello")
    await store.comment("And hello again")
    handler = Scripted(rcpt=rcpt, data=data)
    async with SmtpSink(handler) as server:
        settings = settings_for(server, store.url, sqlite_state, retry_base_seconds="0.001")
        assert await run_once(settings) == 1  # says that a dead letter was made
        tries = handler.mail_commands
        assert await run_once(settings) == 0
        assert handler.mail_commands == tries  # a dead letter is never tried again

    rows = await outbox_rows(sqlite_state)
    # Whichever message met the refusal (the connections race), it alone is dead.
    [dead] = [r for r in rows if r.state == "dead"]
    assert dead.attempts == 1
    assert [r.state for r in rows if r is not dead] == ["sent"]  # the rest flow on
    assert len(handler.received) == 1
    status = await status_of(settings)
    assert "dead      1" in status and "sent      1" in status
    assert f"#{dead.id}" in status and said in status


async def test_one_refused_recipient_among_several_dead_letters_only_that_one(
    store: Blog, sqlite_state: str
) -> None:
    await store.comment("Hello moderators")
    handler = Scripted(refuse={MODERATOR_2: "550 5.1.1 no such mailbox"})
    async with SmtpSink(handler) as server:
        settings = settings_for(
            server, store.url, sqlite_state, moderators=f"{MODERATOR},{MODERATOR_2}"
        )
        assert await run_once(settings) == 1

    # One recipient per message: a refusal cannot take another recipient's copy with it.
    assert [r.rcpt_tos for r in handler.received] == [[MODERATOR]]
    states = {r.recipient: (r.state, r.last_error) for r in await outbox_rows(sqlite_state)}
    assert states[MODERATOR] == ("sent", None)
    assert states[MODERATOR_2][0] == "dead"
    assert states[MODERATOR_2][1].startswith("550 recipient refused")


class Login:
    """An aiosmtpd authenticator that refuses every login until told otherwise."""

    def __init__(self) -> None:
        self.accept = False
        self.tries = 0

    def __call__(self, server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        self.tries += 1
        # handled=False: aiosmtpd answers 535 itself (True would mean "already answered").
        return AuthResult(success=self.accept, handled=False)


def _pauses(caplog: pytest.LogCaptureFixture) -> int:
    return sum(getattr(r, "action", None) == "delivery_paused" for r in caplog.records)


async def test_a_refused_login_pauses_delivery_without_charging_the_message(
    store: Blog, sqlite_state: str, caplog: pytest.LogCaptureFixture
) -> None:
    await store.comment("Hello")
    login = Login()
    handler = Scripted()
    async with SmtpSink(handler, authenticator=login, auth_require_tls=False) as server:
        settings = settings_for(
            server, store.url, sqlite_state, smtp_username="notifier", smtp_password="wrong"
        )
        service = Service(settings)
        await service.open()
        try:
            for _ in range(3):
                report = await service.tick()
                assert report.delivery is not None
                assert report.delivery.paused and "535" in report.delivery.paused
            assert login.tries >= 3 and handler.mail_commands == 0  # tried each pass, sent nothing
            [row] = await outbox_rows(sqlite_state)
            assert (row.state, row.attempts, row.lease_owner) == ("pending", 0, None)
            assert _pauses(caplog) == 1  # one loud line, not one per poll
            assert "DELIVERY PAUSED: 535" in await status_of(settings)

            login.accept = True
            report = await service.tick()
            assert report.delivery is not None
            assert (report.delivery.sent, report.delivery.paused) == (1, None)
        finally:
            await service.close()
    [row] = await outbox_rows(sqlite_state)
    assert (row.state, row.attempts) == ("sent", 1)
    assert len(handler.received) == 1
    assert "DELIVERY PAUSED" not in await status_of(settings)


async def test_starttls_required_but_not_offered_pauses_and_sends_nothing_in_clear(
    store: Blog, sqlite_state: str
) -> None:
    await store.comment("A private question about my treatment")
    handler = Scripted()
    async with SmtpSink(handler) as server:  # no TLS context: STARTTLS is not offered
        settings = settings_for(server, store.url, sqlite_state, smtp_tls="starttls")
        assert await run_once(settings) == 1
        assert await run_once(settings) == 1
    assert handler.mail_commands == 0 and handler.received == []
    [row] = await outbox_rows(sqlite_state)
    assert (row.state, row.attempts) == ("pending", 0)
    assert "DELIVERY PAUSED: cannot set up the SMTP session" in await status_of(settings)


async def test_a_server_refusing_our_greeting_pauses_delivery_and_kills_no_message(
    store: Blog, sqlite_state: str
) -> None:
    class RefusesUs(Scripted):
        async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
            return ["550 5.7.1 not from your network"]

        async def handle_HELO(self, server, session, envelope, hostname):  # type: ignore[no-untyped-def]
            return "550 5.7.1 not from your network"

    await store.comment("Hello")
    await store.comment("Hello again")
    async with SmtpSink(RefusesUs()) as server:
        settings = settings_for(server, store.url, sqlite_state)
        assert await run_once(settings) == 1
    rows = await outbox_rows(sqlite_state)
    assert [(r.state, r.attempts) for r in rows] == [("pending", 0), ("pending", 0)]


async def test_a_connection_dropped_at_data_is_retried_and_delivered_once(
    store: Blog, sqlite_state: str
) -> None:
    await store.comment("Hello")
    handler = DropsAtData()
    async with SmtpSink(handler) as server:
        settings = settings_for(server, store.url, sqlite_state, retry_base_seconds="0.001")
        service = Service(settings)
        await service.open()
        try:
            first = await service.tick()
            assert first.delivery is not None
            assert (first.delivery.sent, first.delivery.retried) == (0, 1)
            assert first.delivery.uncertain == 1  # the server had the whole message
            second = await service.tick()
            assert second.delivery is not None and second.delivery.sent == 1
        finally:
            await service.close()
    assert handler.data_tries == 2
    assert len(handler.received) == 1
    [row] = await outbox_rows(sqlite_state)
    assert (row.state, row.attempts) == ("sent", 2)


class Trickles(StallsAtData):
    """Answers MAIL and RCPT slowly and stalls a little at DATA, once: each step
    within the SMTP read timeout, all of them together past the send deadline."""

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # type: ignore[no-untyped-def]
        if self.stalls:
            await asyncio.sleep(0.3)
        return await super().handle_MAIL(server, session, envelope, address, mail_options)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if self.stalls:
            await asyncio.sleep(0.3)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


@pytest.mark.parametrize(
    ("deadline", "smtp_timeout", "handler"),
    [
        ("0.8", "0.5", lambda: Trickles(seconds=0.45)),
        ("30", "0.5", lambda: StallsAtData(seconds=10)),
    ],
    ids=["overall send deadline", "SMTP read timeout"],
)
async def test_a_server_that_stalls_after_data_is_retried_and_counted_uncertain(
    store: Blog, sqlite_state: str, deadline: str, smtp_timeout: str, handler: Any
) -> None:
    await store.comment("Hello")
    handler = handler()
    async with SmtpSink(handler) as server:
        settings = settings_for(
            server,
            store.url,
            sqlite_state,
            send_timeout=deadline,
            smtp_timeout=smtp_timeout,
            retry_base_seconds="0.001",
        )
        service = Service(settings)
        await service.open()
        try:
            started = asyncio.get_running_loop().time()
            first = await service.tick()
            assert asyncio.get_running_loop().time() - started < 3
            assert first.delivery is not None
            assert (first.delivery.uncertain, first.delivery.retried) == (1, 1)
            second = await service.tick()
            assert second.delivery is not None
            assert (second.delivery.sent, second.delivery.uncertain) == (1, 0)
        finally:
            await service.close()
    assert len(handler.received) == 1


async def test_a_refused_sender_pauses_delivery_and_kills_no_message(
    store: Blog, sqlite_state: str
) -> None:
    class RefusesSender(Scripted):
        refusing = True

        async def handle_MAIL(self, server, session, envelope, address, mail_options):  # type: ignore[no-untyped-def]
            if self.refusing:
                return "553 5.7.1 Sender address rejected: not owned by user"
            return await super().handle_MAIL(server, session, envelope, address, mail_options)

    await store.comment("Hello")
    await store.comment("Is my light chain result worrying?")
    handler = RefusesSender()
    async with SmtpSink(handler) as server:
        settings = settings_for(server, store.url, sqlite_state)
        service = Service(settings)
        await service.open()
        try:
            first = await service.tick()
            assert first.delivery is not None and first.delivery.paused
            assert "refuses our sender" in first.delivery.paused
            stats = await service.outbox.stats(datetime.now(UTC))
            assert stats.dead == 0
            handler.refusing = False
            await service.tick()
        finally:
            await service.close()
    assert len(handler.received) >= 2
