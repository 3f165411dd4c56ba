"""The one module that imports FastMCP: registers our tools and exposes HTTP and stdio.

FastMCP features with asyncio internals (ping middleware, event store, background tasks,
proxies) are not used; see SPEC §1.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Final, cast

import trio
from fastmcp import FastMCP
from fastmcp.exceptions import ResourceError
from fastmcp.server.dependencies import get_http_request
from starlette.applications import Starlette
from starlette.types import ASGIApp

from scsd import __version__
from scsd.errors import StoreUnavailable, ToolError
from scsd.mcp.tools import (
    Services,
    ToolFunction,
    auth_tools,
    memory,
    messages,
    ops,
    search,
    sessions,
    signals,
)
from scsd.mcp.tools.resources import build_prompts, build_resources

logger = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Shared context for multi-agent collaboration: sessions of messages with visibility "
    "levels. Call authenticate_agent first (agent API key in the X-API-Key header), then "
    "pass the token as auth_token or as an Authorization: Bearer header."
)


def http_headers() -> Mapping[str, str]:
    """The current MCP HTTP request's headers, lower-cased; {} outside a request (stdio)."""
    try:
        request = get_http_request()
    except RuntimeError:
        return {}
    return {k.lower(): v for k, v in request.headers.items()}


def build(svc: Services) -> FastMCP:
    """A FastMCP server with every scsd tool registered over `svc`."""
    server: FastMCP = FastMCP("scsd", instructions=INSTRUCTIONS, version=__version__)
    for fn in tool_functions(svc):
        server.tool(_enveloped(fn, svc))
    for uri, handler in build_resources(svc).items():
        server.resource(uri, mime_type="application/json")(_as_resource(handler))
    for name, handler in build_prompts(svc).items():
        server.prompt(name=name)(_as_resource(handler))
    return server


def tool_functions(svc: Services) -> list[ToolFunction]:
    return [
        *auth_tools.build(svc),
        *sessions.build(svc),
        *messages.build(svc),
        *search.build(svc),
        *memory.build(svc),
        *ops.build(svc),
        *signals.build(svc),
    ]


def http_app(server: FastMCP) -> ASGIApp:
    """The Streamable HTTP ASGI app, routed at `/mcp`. Its lifespan runs the session manager
    and must be entered exactly once (by the daemon), not by hypercorn."""
    return server.http_app(path="/mcp")


async def run_stdio(server: FastMCP) -> None:
    """Serve MCP over stdin/stdout until the client closes it."""
    await server.run_async(transport="stdio", show_banner=False)


def _enveloped(fn: ToolFunction, svc: Services) -> ToolFunction:
    """Turn ToolError into the error envelope, and anything unexpected into an
    INTERNAL_ERROR envelope (logged with its traceback, never sent to the caller); count the
    call in the metrics."""
    name = fn.__name__

    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> dict[str, Any]:
        started = time.perf_counter()
        result: dict[str, Any]
        try:
            result = await fn(*args, **kwargs)
        except ToolError as e:
            result = e.reply()
        except StoreUnavailable as e:
            logger.warning("tool %s: %s", name, e)
            result = _unavailable(e).reply()
        except Exception:
            logger.exception("tool %s failed", name)
            result = ToolError(
                "INTERNAL_ERROR",
                f"{name} failed inside the server; the error is in the server log.",
                suggestions=["Retry; if it persists, report it with the server log"],
                severity="error",
            ).reply()
        svc.metrics.record(name, time.perf_counter() - started, ok=bool(result.get("success")))
        return result

    # Resolve string annotations here: FastMCP reads the wrapper's signature.
    call.__signature__ = inspect.signature(fn, eval_str=True)  # type: ignore[attr-defined]
    return call


# What a caller hears for each kind of storage fault (StoreUnavailable.reason).
_FAULTS: Final = {
    "busy": "The database is locked by another process; nothing was written. Retry in a few seconds.",
    "disk_full": "The disk holding the database is full; nothing was written. "
    "Retry once the operator has freed disk space.",
    "read_only": "The database file is read-only; nothing was written. The operator must make it writable.",
    "corrupt": "The database file is damaged; nothing was written. "
    "The operator must restore it from a backup.",
    "io_error": "The database could not be read or written; nothing was written. Retry in a few seconds.",
}


def _unavailable(e: StoreUnavailable) -> ToolError:
    """DATABASE_UNAVAILABLE, saying which fault (context.reason) and whether a retry helps."""
    context: dict[str, Any] = {"reason": e.reason}
    if e.reason in ("busy", "io_error"):
        context["retry_after"] = 5
    return ToolError(
        "DATABASE_UNAVAILABLE",
        _FAULTS.get(e.reason, _FAULTS["io_error"]),
        recoverable=e.reason != "corrupt",
        severity="error",
        context=context,
    )


def _as_resource(fn: Callable[..., Awaitable[str]]) -> Callable[..., Awaitable[str]]:
    """Resources and prompts report a ToolError as FastMCP's error, with our message."""

    @functools.wraps(fn)
    async def read(*args: Any, **kwargs: Any) -> str:
        try:
            return await fn(*args, **kwargs)
        except ToolError as e:
            raise ResourceError(f"{e.code}: {e.message}") from None

    read.__signature__ = inspect.signature(fn, eval_str=True)  # type: ignore[attr-defined]
    return read


async def run_session_manager(
    app: ASGIApp,
    wait_calls_done: Callable[[], Awaitable[object]],
    wait_for_shutdown: Callable[[], Awaitable[object]],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the MCP app's Streamable HTTP session manager (its lifespan, entered exactly once)
    until `wait_for_shutdown` returns and `wait_calls_done` says the MCP requests in flight
    (counted by `scsd.httpd.routing.route`) have been answered.

    Leaving closes every MCP session, including the idle event streams clients keep open,
    so hypercorn's drain does not wait the whole grace period for them.
    """
    starlette_app = cast(Starlette, app)
    lifespan = cast(AbstractAsyncContextManager[None], starlette_app.router.lifespan_context(starlette_app))
    async with lifespan:
        task_status.started()
        await wait_for_shutdown()
        await wait_calls_done()
