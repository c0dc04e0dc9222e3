"""Detection: what is new since the cursor, and which ids to look at again.

Pure: no I/O.  A stream (comments, flags) is read by increasing id.  Ids are
allocated when a transaction starts but become visible when it commits, so a
lower id can appear after a higher one was read.  Every id we skip over is kept
as a *gap* and read again on each poll until it shows up or the look-back time
has passed; the outbox's unique keys make reading a row twice harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from notifier.models import IdRange

# A store that burns ids (rolled-back inserts, sequence caches) leaves many gaps;
# past this many we forget the oldest rather than grow each poll's query.
MAX_GAPS = 200


@dataclass(frozen=True, slots=True)
class Gap:
    """Ids ``low..high`` (inclusive) were skipped over when first seen at ``since``."""

    low: int
    high: int
    since: datetime


@dataclass(frozen=True, slots=True)
class Cursor:
    """How far a stream has been read, and the gaps still being watched."""

    position: int
    gaps: tuple[Gap, ...] = field(default=())
    version: int = 0

    def gap_ranges(self) -> list[IdRange]:
        """Every gap still watched.  Expired ones too: a gap is given up only by the
        poll that has read it once more after its look-back ran out, so a pause in
        polling (downtime, a long interval) never lets one go unread."""
        return [(g.low, g.high) for g in self.gaps]


def _without(low: int, high: int, found: Sequence[int]) -> list[IdRange]:
    """Range ``low..high`` minus the sorted ids in ``found``."""
    pieces = []
    start = low
    for i in found:
        if i < start or i > high:
            continue
        if i > start:
            pieces.append((start, i - 1))
        start = i + 1
    if start <= high:
        pieces.append((start, high))
    return pieces


def advance(
    cursor: Cursor, found_ids: Iterable[int], *, now: datetime, lookback: timedelta
) -> Cursor:
    """The cursor after reading ``found_ids`` (ids above the position and in live gaps).

    The new position is the highest id read.  Ids between the old and the new
    position that were not read become gaps; gaps that were read are split
    around what was found; gaps older than ``lookback`` are dropped, which is
    safe because ``found_ids`` came from a read of every gap (``gap_ranges``).
    """
    found = sorted(set(found_ids))
    fresh = [i for i in found if i > cursor.position]
    old_found = [i for i in found if i <= cursor.position]

    gaps: list[Gap] = []
    for gap in cursor.gaps:
        if now - gap.since > lookback:
            continue
        gaps.extend(Gap(lo, hi, gap.since) for lo, hi in _without(gap.low, gap.high, old_found))

    position = cursor.position
    if fresh:
        position = fresh[-1]
        skipped = _without(cursor.position + 1, position, fresh)
        gaps.extend(Gap(lo, hi, now) for lo, hi in skipped)

    if len(gaps) > MAX_GAPS:
        gaps = sorted(gaps, key=lambda g: g.since)[-MAX_GAPS:]
    gaps.sort(key=lambda g: g.low)
    return Cursor(position=position, gaps=tuple(gaps), version=cursor.version + 1)
