"""/metrics and /healthz of a real ``notifier run``, scraped and parsed as Prometheus would."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from notifier.demo.sink import RecordingHandler, SmtpSink
from tests.e2e.service_process import ServiceProcess, http_get, sqlite_blog
from tests.helpers import Blog, environment_for

ALERTS = Path(__file__).parents[2] / "contrib" / "prometheus-alerts.yml"

blog = pytest.fixture(sqlite_blog, name="blog")


class HoldsTheSecondMessage(RecordingHandler):
    """Accepts the first message at once and keeps the second waiting until released."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if len(self.received) == 1:
            self.holding.set()
            await self.release.wait()
        return await super().handle_DATA(server, session, envelope)


def samples(exposition: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, parsed with prometheus_client's own parser."""
    found = {}
    for family in text_string_to_metric_families(exposition.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


async def test_metrics_are_scraped_during_a_delivery_and_logs_are_json_lines(
    blog: Blog, sqlite_state: str
) -> None:
    for n in range(3):
        await blog.comment(f"Comment number {n}")
    handler = HoldsTheSecondMessage()
    async with SmtpSink(handler) as smtp:
        env = environment_for(
            smtp,
            blog.url,
            sqlite_state,
            http_address="127.0.0.1:0",
            log_format="json",
            smtp_connections="1",
            poll_interval="0.5",
        )
        async with ServiceProcess(env) as service:
            listening = await service.json_line("http_listening")
            address = listening["address"]
            await asyncio.wait_for(handler.holding.wait(), 30)

            status, body = await http_get(address, "/metrics")
            assert status == 200
            during = samples(body)
            assert value(during, "notifier_comments_seen_total") == 3
            assert value(during, "notifier_emails_queued_total", template="new_comment") == 3
            assert value(during, "notifier_emails_sent_total", template="new_comment") == 1
            assert value(during, "notifier_outbox_messages", state="pending") == 2
            assert value(during, "notifier_outbox_oldest_due_age_seconds") > 0
            assert value(during, "notifier_poll_duration_seconds_count") >= 1
            assert value(during, "notifier_send_duration_seconds_count") == 1
            assert value(during, "notifier_delivery_paused") == 0
            assert value(during, "notifier_state_store_up") == 1
            assert value(during, "notifier_last_successful_poll_timestamp_seconds") > 0

            handler.release.set()
            while len(smtp.received) < 3:
                await asyncio.wait_for(smtp.handler.arrived.wait(), 30)
                smtp.handler.arrived.clear()
            status, body = await http_get(address, "/healthz")
            assert status == 200, body
            assert json.loads(body)["status"] == "ok"
        assert service.returncode == 0

    # Every stderr line is one JSON object with UTC time, level, logger and message.
    records = [json.loads(line) for line in service.lines]
    assert records, "no log lines"
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys(), record
        assert record["time"].endswith("Z"), record
    poll = next(r for r in records if r.get("action") == "poll")
    assert poll["enqueued"] == 3
    assert any(r.get("action") == "stopped" for r in records)

    # The example alert rules name only metrics that a scrape really has.
    names = {name for name, _ in during}
    rules = [
        rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]
    ]
    assert len(rules) >= 5
    for rule in rules:
        used = set(re.findall(r"\bnotifier_[a-z_]+\b", rule["expr"]))
        assert used or "up{" in rule["expr"], rule["alert"]
        assert used <= names, (rule["alert"], used - names)
    alerts = {rule["alert"] for rule in rules}
    assert {"NotifierRelayDown", "NotifierDeliveryPaused", "NotifierPollsFailing"} <= alerts
    assert {"NotifierDeadLetters", "NotifierOutboxStale"} <= alerts


async def _allow_connections(admin_url: str, database: str, allow: bool) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from notifier.db import parse_url

    engine = create_async_engine(parse_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(
                text(f"ALTER DATABASE {database} ALLOW_CONNECTIONS {'true' if allow else 'false'}")
            )
            if not allow:
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": database},
                )
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_healthz_is_503_while_polls_fail_too_long_and_200_once_the_store_is_back(
    pg_url: str, smtp: SmtpSink, sqlite_state: str
) -> None:
    from tests.conftest import PG_ADMIN

    blog = Blog(pg_url)
    await blog.create()
    await blog.aclose()
    database = pg_url.rsplit("/", 1)[1]
    env = environment_for(
        smtp,
        pg_url,
        sqlite_state,
        http_address="127.0.0.1:0",
        log_format="json",
        poll_interval="0.3",
        health_fail_after_seconds="1",
    )
    async with ServiceProcess(env) as service:
        address = (await service.json_line("http_listening"))["address"]
        await service.json_line("poll")
        status, body = await http_get(address, "/healthz")
        assert status == 200, body

        await _allow_connections(PG_ADMIN, database, False)
        try:
            await service.json_line("poll_failed")
            for _ in range(200):
                status, body = await http_get(address, "/healthz")
                if status == 503:
                    break
                await asyncio.sleep(0.1)
            assert status == 503, body
            details = json.loads(body)
            assert details["status"] == "failing"
            assert any(r.startswith("polls failing for") for r in details["reasons"]), details
            assert "cannot read the comment store" in details["poll_error"]
        finally:
            await _allow_connections(PG_ADMIN, database, True)

        for _ in range(200):
            status, body = await http_get(address, "/healthz")
            if status == 200:
                break
            await asyncio.sleep(0.1)
        assert status == 200, body
    assert service.returncode == 0
