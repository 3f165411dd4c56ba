"""The process: argv to Config, logging, signals to a shutdown event, sd_notify, trio.run."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from types import FrameType

import trio

from scsd.config import Config, environ_snapshot, load_config
from scsd.errors import StartupError
from scsd.sdnotify import Notifier

logger = logging.getLogger("scsd")

EXIT_USAGE = 2
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _EarlySignals:
    """Remembers a stop signal that arrives while the (slow) imports and start-up run, before
    trio's signal receiver exists, so that it still means "stop cleanly", not "die"."""

    def __init__(self) -> None:
        self.received: int | None = None

    def install(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run `scsd`; returns the exit status (0 after a clean shutdown, 2 for bad input)."""
    env = environ_snapshot() if environ is None else environ
    try:
        config = load_config(sys.argv[1:] if argv is None else argv, env)
    except StartupError as e:
        print(f"scsd: {e}", file=sys.stderr)
        return EXIT_USAGE
    _setup_logging(config.log_level)
    os.umask(0o077)  # the database and secrets are for this user only
    early = _EarlySignals()
    if config.command == "serve":
        early.install()
    failure: StartupError | None = None
    try:
        if config.command == "stdio":
            from scsd import stdio

            trio.run(stdio.run, config)
        else:
            trio.run(_serve, config, Notifier(env), early)
    except* StartupError as group:
        failure = _first(group)
    if failure is not None:
        print(f"scsd: {failure}", file=sys.stderr)
        return EXIT_USAGE
    return 0


async def _serve(config: Config, notifier: Notifier, early: _EarlySignals) -> None:
    from scsd import daemon  # heavy (FastMCP); imported after the early signal handler is in

    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        await nursery.start(_wait_for_signal, stop, notifier, early)
        await nursery.start(daemon.run, config, stop.wait, notifier)
        if not stop.is_set():  # a stop during start-up has already said STOPPING=1
            notifier.notify("READY=1")
        # Both tasks end by themselves: the signal task after the first signal, daemon.run
        # once it has drained. A second signal falls through to the default: force quit.
    logger.info("scsd stopped")


async def _wait_for_signal(
    stop: trio.Event,
    notifier: Notifier,
    early: _EarlySignals,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
        task_status.started()
        if early.received is None:
            signum = await signals.__anext__()
        else:
            signum = early.received
        logger.info("received %s", signal.Signals(signum).name)
        notifier.notify("STOPPING=1")
        stop.set()
    # Closing the receiver restored our early handler; a second signal must force the exit.
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Third-party chatter stays at WARNING unless we are debugging.
    if level != "DEBUG":
        for noisy in ("hypercorn.error", "mcp", "fastmcp", "httpx", "trio-websocket", "docket"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _first(group: BaseExceptionGroup[StartupError]) -> StartupError:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    assert isinstance(exc, StartupError)
    return exc
