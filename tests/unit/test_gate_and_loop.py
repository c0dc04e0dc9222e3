"""The store gate, persisted writes and the delivery loop's timing: pure logic, no servers."""

from __future__ import annotations

import asyncio

import pytest

from notifier.delivery.deliver import DeliveryReport
from notifier.delivery.gate import StoreGate, persist
from notifier.delivery.loop import DeliveryLoop
from notifier.errors import StateError


async def test_a_failed_write_closes_the_gate_until_a_retry_lands() -> None:
    gate = StoreGate()
    attempts: list[bool] = []

    async def write() -> str:
        attempts.append(gate.is_open)
        if len(attempts) < 3:
            raise StateError("state store: connection refused")
        return "recorded"

    assert await persist(gate, write, patience=10) == "recorded"
    # The first try found it open; the retries found it closed; success opened it.
    assert attempts == [True, False, False]
    assert gate.is_open and gate.reopenings == 1
    assert gate.open_for() < 10


async def test_a_write_the_store_never_takes_gives_up_after_its_patience() -> None:
    gate = StoreGate()

    async def write() -> None:
        raise StateError("state store: connection refused")

    with pytest.raises(StateError):
        await persist(gate, write, patience=0.3)
    assert not gate.is_open


async def test_senders_wait_on_a_closed_gate_and_a_stop_releases_them() -> None:
    gate = StoreGate()
    gate.failed(StateError("down"))
    stopping = asyncio.Event()
    waiting = asyncio.ensure_future(gate.wait_open(stopping))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    stopping.set()
    assert await waiting is False
    gate.succeeded()
    assert await gate.wait_open() is True


async def test_the_loop_runs_a_pass_at_once_when_woken() -> None:
    passes = 0
    stopping = asyncio.Event()
    second = asyncio.Event()

    async def run_pass(_stopping: asyncio.Event) -> DeliveryReport:
        nonlocal passes
        passes += 1
        if passes == 2:
            second.set()
        return DeliveryReport()

    # An idle check far away: only the wake can bring the second pass.
    loop = DeliveryLoop(run_pass, poll_interval=3600)
    loop._idle = 3600
    task = asyncio.ensure_future(loop.run(stopping))
    await asyncio.sleep(0.01)
    assert passes == 1
    loop.wake()
    await asyncio.wait_for(second.wait(), 5)
    stopping.set()
    await asyncio.wait_for(task, 5)


async def test_an_unreachable_relay_is_tried_again_on_a_short_backoff_not_the_poll() -> None:
    calls = 0
    stopping = asyncio.Event()

    async def run_pass(_stopping: asyncio.Event) -> DeliveryReport | None:
        nonlocal calls
        calls += 1
        if calls == 3:
            stopping.set()
        # The relay is down, then the state store: both come back soon.
        return DeliveryReport(unreachable="refused") if calls == 1 else None

    loop = DeliveryLoop(run_pass, poll_interval=3600)
    # Two backoffs (0.25 s, 0.5 s), never the hour-long poll interval.
    await asyncio.wait_for(loop.run(stopping), 5)
    assert calls == 3
