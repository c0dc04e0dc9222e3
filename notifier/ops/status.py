"""``notifier status``: where things stand, with exit codes monitoring plugins understand.

0 OK, 1 WARNING (dead letters, the relay unreachable, no poll yet), 2 CRITICAL
(delivery paused, polls failing or stopped), 3 UNKNOWN (the state store is
missing, unreachable or has no tables).  It only reads: a state store that is
not there is reported, never created.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from notifier.db import parse_url, safe_url
from notifier.errors import StateError
from notifier.settings import Settings
from notifier.state import Outbox, Stats

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
LABELS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}


@dataclass
class Verdict:
    code: int = OK
    problems: list[str] = field(default_factory=list)

    def add(self, code: int, problem: str) -> None:
        self.code = max(self.code, code)
        self.problems.append(problem)


def missing_store(url: str) -> str | None:
    """Why a SQLite state store is not there (connecting would create it), else None."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:"):
        return "an in-memory state store has no status"
    path = Path(database)
    if not path.is_file():
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
        return f"no state store at {str(path.absolute())!r}{where}: check NOTIFIER_STATE_URL"
    return None


def _parse_time(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def judge(stats: Stats, settings: Settings, now: datetime) -> Verdict:
    verdict = Verdict()
    if stats.delivery_paused:
        verdict.add(CRITICAL, f"delivery paused: {stats.delivery_paused}")
    if stats.poll_error:
        verdict.add(CRITICAL, f"last poll failed: {stats.poll_error}")
    last_poll = _parse_time(stats.last_poll)
    stale = max(3 * settings.poll_interval, settings.health_fail_after_seconds)
    if last_poll is None:
        verdict.add(WARNING, "no poll recorded yet")
    elif (now - last_poll).total_seconds() > stale and not stats.poll_error:
        verdict.add(
            CRITICAL,
            f"no poll for {timedelta(seconds=int((now - last_poll).total_seconds()))}: "
            "is the service running?",
        )
    if stats.smtp_unreachable:
        verdict.add(WARNING, stats.smtp_unreachable)
    if stats.dead:
        verdict.add(WARNING, f"{stats.dead} dead letter(s)")
    return verdict


def _age(since: datetime | None, now: datetime) -> str:
    if since is None:
        return "-"
    return str(timedelta(seconds=max(int((now - since).total_seconds()), 0)))


def _as_json(stats: Stats, verdict: Verdict, now: datetime) -> dict[str, Any]:
    oldest = stats.oldest_pending
    return {
        "status": LABELS[verdict.code],
        "exit_code": verdict.code,
        "problems": verdict.problems,
        "counts": {
            "pending": stats.pending,
            "retrying": stats.retrying,
            "claimed": stats.claimed,
            "dead": stats.dead,
            "sent": stats.sent,
        },
        "oldest_pending_seconds": (now - oldest).total_seconds() if oldest else None,
        "last_poll": stats.last_poll,
        "last_delivery": stats.last_delivery,
        "delivery_paused": stats.delivery_paused or None,
        "poll_error": stats.poll_error or None,
        "smtp_unreachable": stats.smtp_unreachable or None,
        "dead_letters": [
            {
                "id": d.id,
                "event": d.event_key,
                "recipient": d.recipient,
                "error": d.error,
                "at": d.at.isoformat(),
            }
            for d in stats.dead_letters
        ],
    }


def _write_text(stats: Stats, verdict: Verdict, now: datetime, out: TextIO) -> None:
    summary = "; ".join(verdict.problems) or "all well"
    out.write(f"notifier {LABELS[verdict.code]}: {summary}\n\n")
    out.write(
        f"pending   {stats.pending}\n"
        f"retrying  {stats.retrying}\n"
        f"claimed   {stats.claimed}  (being sent now)\n"
        f"dead      {stats.dead}\n"
        f"sent      {stats.sent}\n"
        f"oldest pending: {_age(stats.oldest_pending, now)}\n"
        f"last poll:      {stats.last_poll or 'never'}\n"
        f"last delivery:  {stats.last_delivery or 'never'}\n"
    )
    if stats.delivery_paused:
        out.write(f"DELIVERY PAUSED: {stats.delivery_paused}\n")
    if stats.poll_error:
        out.write(f"LAST POLL FAILED: {stats.poll_error}\n")
    if stats.smtp_unreachable:
        out.write(f"SMTP UNREACHABLE: {stats.smtp_unreachable}\n")
    if stats.dead_letters:
        out.write("\nlatest dead letters (requeue with: notifier retry ID...):\n")
        for d in stats.dead_letters:
            out.write(
                f"  #{d.id}  {d.at:%Y-%m-%d %H:%M}  {d.event_key} -> {d.recipient}: {d.error}\n"
            )


def _unknown(reason: str, out: TextIO, as_json: bool) -> int:
    if as_json:
        out.write(json.dumps({"status": "UNKNOWN", "exit_code": UNKNOWN, "problems": [reason]}))
        out.write("\n")
    else:
        out.write(f"notifier UNKNOWN: {reason}\n")
    return UNKNOWN


async def status(settings: Settings, out: TextIO, *, now: datetime, as_json: bool = False) -> int:
    """Print the status; return the monitoring exit code."""
    missing = missing_store(settings.state_url)
    if missing:
        return _unknown(missing, out, as_json)
    outbox = Outbox(settings.state_url)
    try:
        stats = await outbox.stats(now)
    except StateError as exc:
        text = str(exc)
        if "no such table" in text or 'relation "notifier_' in text:
            text = (
                f"the state store at {safe_url(settings.state_url)} has no notifier tables: "
                "has `notifier run` or `notifier once` ever run against it?"
            )
        return _unknown(text, out, as_json)
    finally:
        await outbox.aclose()
    verdict = judge(stats, settings, now)
    if as_json:
        out.write(json.dumps(_as_json(stats, verdict, now), indent=1) + "\n")
    else:
        _write_text(stats, verdict, now, out)
    return verdict.code
