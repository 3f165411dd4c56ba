"""The process: argv to Config, logging, signals to a shutdown event, sd_notify, trio.run."""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence

import trio

from scsd.config import Config
from scsd.config.load import environ_snapshot, load_config
from scsd.errors import StartupError
from scsd.process.logs import SecretFilter, handler
from scsd.process.sdnotify import Notifier
from scsd.process.signals import StopSignals

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
    stops = StopSignals()
    if config.command == "serve":
        stops.install()  # before the slow imports: a signal during start-up is a clean stop
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
            trio.run(_serve, config, Notifier(env), stops, secrets)
    except* StartupError as group:
        failure = _first(group)
    if failure is not None:
        print(f"scsd: {failure}", file=sys.stderr)
        return EXIT_USAGE
    return 0


async def _serve(config: Config, notifier: Notifier, stops: StopSignals, secrets: SecretFilter) -> None:
    from scsd import daemon  # heavy (FastMCP); imported after the stop-signal handler is in

    stop = trio.Event()

    def stopping(signum: int) -> None:
        logger.info("received %s", signal.Signals(signum).name)
        notifier.notify("STOPPING=1")
        stop.set()

    async with trio.open_nursery() as nursery:

        async def run_daemon(*, task_status: trio.TaskStatus[object] = trio.TASK_STATUS_IGNORED) -> None:
            await daemon.run(config, stop.wait, notifier, redact=secrets.add, task_status=task_status)
            stops.finished()  # drained: copies of the signal still on their way change nothing
            nursery.cancel_scope.cancel()  # the signal task

        await nursery.start(stops.serve, stopping)
        await nursery.start(run_daemon)
        if not stop.is_set():  # a stop during start-up has already said STOPPING=1
            notifier.notify("READY=1")
    logger.info("scsd stopped")


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
