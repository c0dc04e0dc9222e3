"""Long polls and deliveries say how far they are, instead of minutes of silence."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifier.demo.sink import SmtpSink
from notifier.ops import monitor
from notifier.service import Service
from tests.helpers import Blog, settings_for


async def test_a_backlog_reports_progress_with_done_total_and_rate(
    tmp_path: Path, smtp: SmtpSink, sqlite_state: str, caplog: pytest.LogCaptureFixture
) -> None:
    blog = Blog(f"sqlite:///{tmp_path}/comments.db")
    await blog.create()
    for n in range(30):
        await blog.comment(f"Comment {n}")
    await blog.aclose()
    # A line at every step instead of every few seconds, so a small backlog shows it.
    monkey = pytest.MonkeyPatch()
    monkey.setattr(monitor, "PROGRESS_EVERY_SECONDS", 0.0)
    service = Service(settings_for(smtp, blog.url, sqlite_state, batch_size="10"))
    await service.open()
    try:
        with caplog.at_level("INFO"):
            await service.tick()
    finally:
        monkey.undo()
        await service.close()
    lines = [r for r in caplog.records if getattr(r, "action", None) == "progress"]
    polls = [r for r in lines if r.stage.startswith("poll")]  # type: ignore[attr-defined]
    sends = [r for r in lines if r.stage.startswith("delivery")]  # type: ignore[attr-defined]
    assert [r.done for r in polls][:3] == [10, 20, 30]  # type: ignore[attr-defined]
    assert sends and sends[-1].done == sends[-1].total == 30  # type: ignore[attr-defined]
    assert "/s" in sends[-1].getMessage() and "30/30 done" in sends[-1].getMessage()
    assert len(smtp.received) == 30
