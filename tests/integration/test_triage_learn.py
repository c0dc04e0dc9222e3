"""`notifier triage learn` on the native store: labels from the moderators' flags."""

from __future__ import annotations

import io
import logging
import re
from datetime import UTC, datetime

import pytest

from notifier.demo.sink import SmtpSink
from notifier.errors import NotifierError
from notifier.service import run_once
from notifier.sources import build_source
from notifier.state import Outbox
from notifier.triage import triage
from notifier.triage.learn import learn, read_history
from notifier.triage.model import loads
from tests.helpers import INFOLINE, Blog, parts, settings_for, to
from tests.learn_helpers import NEW_REPORT, chit_chat, line_reports


async def seed_history(blog: Blog, questions: int, others: int) -> None:
    for body in line_reports(questions):
        comment = await blog.comment(body, status="approved")
        await blog.flag(comment, "medical_question")
    for body in chit_chat(others):
        await blog.comment(body, status="approved")
    # Neither kind of label: pending, spam, or flagged for another reason only.
    await blog.comment("not read yet: is my PICC line ok?", status="pending")
    await blog.comment("cheap pills here", status="spam")


async def test_history_labels_are_the_moderators_flags(blog: Blog, sqlite_state: str) -> None:
    await seed_history(blog, 3, 2)
    source = build_source(settings_for(None, blog.url, sqlite_state))
    try:
        history = await read_history(source)
    finally:
        await source.aclose()
    assert history.labels == [True, True, True, False, False]
    assert history.bodies[:1] == line_reports(1)


async def test_learn_trains_reports_and_the_worker_forwards_with_the_site_model(
    blog: Blog, smtp: SmtpSink, sqlite_state: str, caplog: pytest.LogCaptureFixture
) -> None:
    await seed_history(blog, 40, 40)
    settings = settings_for(smtp, blog.url, sqlite_state, start_from="now")
    assert not triage(NEW_REPORT).medical_question  # the shipped model alone misses it
    assert await run_once(settings) == 0  # first start: history is not mailed
    assert not smtp.received

    out = io.StringIO()
    assert await learn(settings, out, now=datetime.now(UTC)) == 0
    report = out.getvalue()
    assert "read 80 labelled comments: 40 flagged medical_question, 40 approved" in report
    assert "shipped model: precision" in report and "site model:    precision" in report
    outbox = Outbox(sqlite_state)
    saved = await outbox.latest_triage_model()
    await outbox.aclose()
    assert saved is not None and "held out" in saved.summary
    assert loads(saved.model).base_scale is not None

    await blog.comment(NEW_REPORT, author_name="Maria", author_email="maria@example.org")
    await blog.comment("Lovely concert at the centre last night, thank you!")
    with caplog.at_level(logging.INFO, logger="notifier"):
        assert await run_once(settings) == 0
    [forward] = to(smtp.received, INFOLINE)
    text = parts(forward)[0]
    assert "PICC line is oozing" in text
    assert re.search(r"^Language: +English\r?$", text, re.M)
    assert any(
        getattr(r, "action", None) == "triage_model"
        and r.getMessage().startswith("triage uses site")
        for r in caplog.records
    )


async def test_learn_refuses_with_too_few_labels_and_saves_nothing(
    blog: Blog, sqlite_state: str
) -> None:
    await seed_history(blog, 5, 30)
    settings = settings_for(None, blog.url, sqlite_state)
    with pytest.raises(NotifierError, match="too few labels to learn from: 5 flagged") as caught:
        await learn(settings, io.StringIO(), now=datetime.now(UTC))
    assert "Nothing was saved" in str(caught.value)
    outbox = Outbox(sqlite_state)
    await outbox.create()
    assert await outbox.latest_triage_model() is None
    await outbox.aclose()
