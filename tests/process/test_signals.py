"""StopSignals in this process, with real signals and a controlled clock: the first stop
signal stops, copies within DUPLICATE_SECONDS are the same request, a later one forces the
exit, one during start-up is kept for when the daemon can stop, and after the stop nothing
can kill the exiting process."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
import trio
import trio.testing

from scsd.process import signals
from scsd.process.signals import DUPLICATE_SECONDS, STOP_SIGNALS, StopSignals


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def forced(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The signals that would have forced the exit (instead of ending the test run)."""
    seen: list[int] = []
    monkeypatch.setattr(signals, "_force", seen.append)
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    try:
        yield seen
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


async def _raise(signum: int) -> None:
    signal.raise_signal(signum)  # the handler runs in this thread, now
    await trio.testing.wait_all_tasks_blocked()


async def test_copies_are_one_stop_and_a_later_signal_forces_the_exit(forced: list[int]) -> None:
    clock, stopped = Clock(), list[int]()
    stops = StopSignals(clock)
    stops.install()
    async with trio.open_nursery() as nursery:
        await nursery.start(stops.serve, stopped.append)
        await _raise(signal.SIGINT)
        clock.now += DUPLICATE_SECONDS / 2
        await _raise(signal.SIGINT)  # uv's forwarded copy of a terminal's Ctrl-C
        await _raise(signal.SIGTERM)  # or a group kill's
        assert stopped == [signal.SIGINT] and stops.duplicates == 2 and forced == []
        clock.now += DUPLICATE_SECONDS
        await _raise(signal.SIGTERM)
        assert forced == [signal.SIGTERM] and stopped == [signal.SIGINT]
        nursery.cancel_scope.cancel()


async def test_a_signal_during_start_up_stops_once_the_daemon_listens(forced: list[int]) -> None:
    stops, stopped = StopSignals(Clock()), list[int]()
    stops.install()
    await _raise(signal.SIGTERM)  # before serve(): the imports are still running
    async with trio.open_nursery() as nursery:
        await nursery.start(stops.serve, stopped.append)
        await trio.testing.wait_all_tasks_blocked()
        assert stopped == [signal.SIGTERM]
        nursery.cancel_scope.cancel()
    assert forced == []


async def test_after_the_stop_late_copies_are_ignored(forced: list[int]) -> None:
    clock = Clock()
    stops = StopSignals(clock)
    stops.install()
    await _raise(signal.SIGTERM)
    stops.finished()
    assert all(signal.getsignal(s) == signal.SIG_IGN for s in STOP_SIGNALS)
    clock.now += 10 * DUPLICATE_SECONDS
    await _raise(signal.SIGINT)  # ignored by the kernel: the process is exiting
    assert forced == []
