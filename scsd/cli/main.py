"""The process: argv to Config, logging, signals to a shutdown event, sd_notify, trio.run."""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from functools import partial
from types import FrameType

import trio

from scsd.config import Config
from scsd.config.load import environ_snapshot, load_config
from scsd.errors import StartupError
from scsd.process.logs import SecretFilter, handler
from scsd.process.sdnotify import Notifier

logger = logging.getLogger("scsd")

EXIT_USAGE = 2
# Subcommand → module in scsd.cli with `run(config) -> int`.
COMMANDS = {
    "status": "status",
    "client-config": "client_config",
    "backup": "transfer",
    "export": "transfer",
    "import": "transfer",
    "keys": "keys",
}
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
        if self.received is not None:  # a second signal: force quit, as once running
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        self.received = signum


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run `scsd`; returns the exit status (0 after a clean shutdown, 2 for bad input)."""
    env = environ_snapshot() if environ is None else environ
    try:
        config = load_config(sys.argv[1:] if argv is None else argv, env)
    except StartupError as e:
        print(f"scsd: {e}", file=sys.stderr)
        return EXIT_USAGE
    secrets = _setup_logging(config.log_level, config.log_format)
    for given in (config.api_key, config.admin_key, config.jwt_secret):
        if given is not None:
            secrets.add(given.reveal())
    os.umask(0o077)  # the database and secrets are for this user only
    early = _EarlySignals()
    if config.command == "serve":
        early.install()
    failure: StartupError | None = None
    try:
        if config.command == "stdio":
            from scsd import daemon  # heavy (FastMCP)

            trio.run(daemon.run_stdio, config)
        elif config.command in COMMANDS:
            module = importlib.import_module(f"scsd.cli.{COMMANDS[config.command]}")
            status: int = module.run(config)
            return status
        else:
            trio.run(_serve, config, Notifier(env), early, secrets)
    except* StartupError as group:
        failure = _first(group)
    if failure is not None:
        print(f"scsd: {failure}", file=sys.stderr)
        return EXIT_USAGE
    return 0


async def _serve(config: Config, notifier: Notifier, early: _EarlySignals, secrets: SecretFilter) -> None:
    from scsd import daemon  # heavy (FastMCP); imported after the early signal handler is in

    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        await nursery.start(_wait_for_signal, stop, notifier, early)
        await nursery.start(partial(daemon.run, redact=secrets.add), config, stop.wait, notifier)
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


def _setup_logging(level: str, fmt: str) -> SecretFilter:
    """Log to stderr as `fmt` ("text" or "json"), one line per event; every line passes the
    returned filter, which masks JWTs, generated keys and the secrets added to it."""
    secrets = SecretFilter()
    logging.basicConfig(level=level, handlers=[handler(fmt, secrets)])
    # Third-party chatter stays at WARNING unless we are debugging.
    if level != "DEBUG":
        for noisy in ("hypercorn.error", "mcp", "fastmcp", "httpx", "trio-websocket", "docket"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    return secrets


def _first(group: BaseExceptionGroup[StartupError]) -> StartupError:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    assert isinstance(exc, StartupError)
    return exc
