"""Detection's cursor and gaps: pure logic, so plain values and Hypothesis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from notifier.poll.detect import MAX_GAPS, Cursor, Gap, advance

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LOOKBACK = timedelta(minutes=10)


def test_ids_skipped_over_become_gaps_and_are_found_later() -> None:
    cursor = advance(Cursor(0), [1, 2, 5], now=T0, lookback=LOOKBACK)
    assert cursor.position == 5
    assert [(g.low, g.high) for g in cursor.gaps] == [(3, 4)]
    assert cursor.gap_ranges() == [(3, 4)]

    cursor = advance(cursor, [4, 6], now=T0 + timedelta(seconds=5), lookback=LOOKBACK)
    assert cursor.position == 6
    assert [(g.low, g.high) for g in cursor.gaps] == [(3, 3)]


def test_a_gap_is_given_up_only_by_a_poll_that_read_it_after_the_lookback() -> None:
    cursor = advance(Cursor(0), [1, 3], now=T0, lookback=LOOKBACK)
    later = T0 + LOOKBACK + timedelta(seconds=1)
    # However long nobody polled, the next poll still reads the gap...
    assert cursor.gap_ranges() == [(2, 2)]
    assert advance(cursor, [], now=later, lookback=LOOKBACK).gaps == ()


def test_a_comment_committed_during_a_long_pause_is_found_by_the_next_poll() -> None:
    # Comments 1, 2, 3 and 5 are read; 4 commits a second later; then nobody polls
    # for an hour (a restart, the store down, a long poll interval).
    cursor = advance(Cursor(0), [1, 2, 3, 5], now=T0, lookback=LOOKBACK)
    an_hour_later = T0 + timedelta(hours=1)
    assert any(lo <= 4 <= hi for lo, hi in cursor.gap_ranges())
    after = advance(cursor, [4], now=an_hour_later, lookback=LOOKBACK)
    assert (after.position, after.gaps) == (5, ())


def test_nothing_new_keeps_the_position() -> None:
    cursor = Cursor(7, (Gap(3, 3, T0),), version=4)
    moved = advance(cursor, [], now=T0, lookback=LOOKBACK)
    assert (moved.position, moved.gaps, moved.version) == (7, cursor.gaps, 5)


def test_the_number_of_gaps_is_bounded_keeping_the_newest() -> None:
    ids = list(range(1, 4 * MAX_GAPS, 2))  # every other id missing
    cursor = advance(Cursor(0), ids, now=T0, lookback=LOOKBACK)
    assert len(cursor.gaps) == MAX_GAPS
    assert cursor.gaps[-1].high == ids[-1] - 1


@given(
    st.lists(st.integers(1, 60), unique=True, min_size=1),
    st.randoms(use_true_random=False),
    st.integers(1, 8),
)
def test_every_id_is_seen_once_committed_within_the_lookback(
    ids: list[int], rnd: object, polls_between: int
) -> None:
    """Rows commit in any order; polls read what is committed; none is missed."""
    import random

    assert isinstance(rnd, random.Random)
    order = sorted(ids)
    rnd.shuffle(order)  # the order transactions commit in
    committed: set[int] = set()
    seen: set[int] = set()
    cursor = Cursor(0)
    now = T0
    for row in order:
        committed.add(row)
        for _ in range(rnd.randint(0, polls_between)):
            now += timedelta(seconds=1)
            visible = sorted(
                i
                for i in committed
                if i > cursor.position or any(lo <= i <= hi for lo, hi in cursor.gap_ranges())
            )
            seen.update(visible)
            cursor = advance(cursor, visible, now=now, lookback=LOOKBACK)
    now += timedelta(seconds=1)
    visible = [
        i
        for i in committed
        if i > cursor.position or any(lo <= i <= hi for lo, hi in cursor.gap_ranges())
    ]
    seen.update(visible)
    assert seen == set(ids)
