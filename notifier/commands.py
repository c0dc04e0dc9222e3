"""The operator commands other than ``run`` and ``once``: check, status, retry, purge..."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TextIO

from notifier.db import safe_url
from notifier.delivery.smtp import SmtpTransport
from notifier.demo.samples import sample_contexts
from notifier.errors import NotifierError, TemplateError
from notifier.mail.render import Renderer
from notifier.mail.route import TEMPLATE_NAMES
from notifier.settings import Settings
from notifier.sources import build_source
from notifier.sources.native import create_schema
from notifier.state import Outbox


async def check(settings: Settings, out: TextIO) -> int:
    """Settings (already valid to get here), templates, source, state store, SMTP."""
    problems = 0

    def report(ok: bool, what: str) -> None:
        nonlocal problems
        problems += not ok
        out.write(f"{'ok  ' if ok else 'FAIL'}  {what}\n")

    report(True, "settings")
    if settings.infoline_address is None:
        out.write(
            "warn  NOTIFIER_INFOLINE_ADDRESS is not set: medical questions are not forwarded\n"
        )
    if settings.link_site_url is None:
        out.write("warn  NOTIFIER_SITE_URL is not set: emails carry no links\n")
    template_problems = Renderer(settings.templates_dir).check(sample_contexts(settings.site_name))
    report(not template_problems, "templates: " + ("; ".join(template_problems) or "all render"))

    source = build_source(settings)
    try:
        report(True, await asyncio.wait_for(source.check(), timeout=30))
    except (NotifierError, TimeoutError) as exc:
        report(False, f"comment store: {str(exc) or 'no answer within 30s'}")
    finally:
        await source.aclose()

    outbox = Outbox(settings.state_url)
    try:
        await outbox.create()
        await outbox.undelivered()
        report(True, f"state store at {safe_url(settings.state_url)}")
    except NotifierError as exc:
        report(False, str(exc))
    finally:
        await outbox.aclose()

    transport = SmtpTransport(settings)
    try:
        report(True, await asyncio.wait_for(transport.probe(), timeout=settings.send_timeout))
    except (NotifierError, TimeoutError) as exc:
        report(False, f"SMTP {settings.smtp_host}:{settings.smtp_port}: {str(exc) or 'no answer'}")
    finally:
        await transport.aclose()
    return 1 if problems else 0


async def init_source(settings: Settings, out: TextIO) -> int:
    if settings.source_kind != "native":
        out.write("init-source creates the native schema; a WordPress store already has one\n")
        return 1
    await create_schema(settings.source_url)
    out.write(f"native comment schema ready at {safe_url(settings.source_url)}\n")
    return 0


def preview(settings: Settings, template: str, *, html: bool, out: TextIO) -> int:
    if template not in TEMPLATE_NAMES:
        raise TemplateError(
            template, "unknown template; choose one of " + ", ".join(TEMPLATE_NAMES)
        )
    rendered = Renderer(settings.templates_dir).render(
        template, sample_contexts(settings.site_name)[template]
    )
    out.write(f"Subject: {rendered.subject}\n\n")
    out.write(rendered.html if html else rendered.text)
    return 0


async def retry(settings: Settings, ids: list[int] | None, out: TextIO) -> int:
    from notifier.ops.retry import retry as retry_readdressed

    return await retry_readdressed(settings, ids, out)


async def purge(settings: Settings, older_than: timedelta, out: TextIO, *, now: datetime) -> int:
    if older_than.total_seconds() <= settings.lookback_seconds:
        # A row's key is what keeps a re-read comment from being mailed twice.
        out.write(
            "refusing: sent messages younger than NOTIFIER_LOOKBACK_SECONDS "
            f"({settings.lookback_seconds:g}s) still guard against mailing twice\n"
        )
        return 2
    outbox = Outbox(settings.state_url)
    try:
        count = await outbox.purge_sent(now - older_than)
    finally:
        await outbox.aclose()
    out.write(f"deleted {count} sent message(s) older than {older_than.days} day(s)\n")
    return 0
