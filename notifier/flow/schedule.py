"""When digests are due: pure time arithmetic, no I/O.

Two kinds of digest:

* the **burst digest**: once more than ``NOTIFIER_DIGEST_AFTER`` notifications
  went to one moderator within ``NOTIFIER_DIGEST_WINDOW``, the rest wait for a
  digest due at the end of that window, and the next one a window later while
  the burst lasts (never two digests less than a window apart);
* the **daily digest**: a moderator named in ``NOTIFIER_DIGEST_ONLY`` gets every
  notification in one email a day, at a local time in a time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from notifier.mail.addresses import parse_address

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class DailyDigest:
    """``address`` chose one digest a day at ``at`` (local time in ``zone``)."""

    address: str  # the addr-spec, lower-case
    at: time
    zone: str

    def __str__(self) -> str:
        return f"{self.address} {self.at:%H:%M} {self.zone}"


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Europe/London``), or ValueError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name like Europe/London)") from None


def parse_time(text: str) -> time:
    """``HH:MM`` (24-hour) or ValueError."""
    match = _TIME.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a time of day as HH:MM (24-hour)")
    return time(int(match.group(1)), int(match.group(2)))


def next_daily(now: datetime, at: time, zone_name: str) -> datetime:
    """The first moment strictly after ``now`` when the clock in ``zone_name`` reads ``at``.

    On the day a time does not exist (clocks go forward), zoneinfo reads it with
    the offset from before the change, i.e. an hour later in practice; on the day
    it exists twice, the first one counts.  Either way: once that day.
    """
    tz = zone(zone_name)
    local = now.astimezone(tz)
    for days in (0, 1, 2):
        day = local.date() + timedelta(days=days)
        candidate = datetime.combine(day, at, tzinfo=tz).astimezone(UTC)
        if candidate > now:
            return candidate
    raise AssertionError("unreachable: a day later is always after now")  # pragma: no cover


def burst_digest_due(
    oldest_in_window: datetime, last_due: datetime | None, window: timedelta
) -> datetime:
    """When a burst digest opened now is due.

    At the end of the window that began with the oldest notification counted in
    it, and never less than a window after the previous digest: while a burst
    lasts, one digest per window.
    """
    due = oldest_in_window + window
    if last_due is not None:
        due = max(due, last_due + window)
    return due


def parse_digest_only(value: str, default_zone: str) -> list[DailyDigest]:
    """``NOTIFIER_DIGEST_ONLY``: ``ADDRESS HH:MM [ZONE]``, comma-separated, or ValueError
    naming every bad entry."""
    result: list[DailyDigest] = []
    problems: list[str] = []
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        words = entry.split()
        if len(words) not in (2, 3):
            problems.append(f"{entry!r} is not 'ADDRESS HH:MM [ZONE]'")
            continue
        try:
            address = parse_address(words[0]).addr_spec.lower()
            at = parse_time(words[1])
            zone_name = words[2] if len(words) == 3 else default_zone
            zone(zone_name)
        except ValueError as exc:
            problems.append(f"{entry!r}: {exc}")
            continue
        if any(d.address == address for d in result):
            problems.append(f"{address} is named twice")
            continue
        result.append(DailyDigest(address, at, zone_name))
    if problems:
        raise ValueError("; ".join(problems))
    return result
