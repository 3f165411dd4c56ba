"""The one module that imports FastMCP: registers our tools and exposes HTTP and stdio.

FastMCP features with asyncio internals (ping middleware, event store, background tasks,
proxies) are not used; see SPEC §1.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Final, cast, get_type_hints

import trio
from fastmcp import FastMCP
from fastmcp.exceptions import ResourceError
from fastmcp.server.dependencies import get_http_request
from fastmcp.tools import Tool, ToolResult
from fastmcp.utilities.json_schema import compress_schema
from mcp_types import TextContent, ToolAnnotations
from pydantic import PrivateAttr, TypeAdapter
from starlette.applications import Starlette
from starlette.types import ASGIApp

from scsd import __version__
from scsd.errors import StoreUnavailable, ToolError
from scsd.mcp.arguments import Arguments
from scsd.mcp.tools import (
    Hints,
    Services,
    ToolFunction,
    auth_tools,
    hints_of,
    memory,
    messages,
    ops,
    search,
    sessions,
    signals,
)
from scsd.mcp.tools.objects import Failure
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
        server.add_tool(_EnvelopedTool.wrap(fn, svc))
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


class _EnvelopedTool(Tool):
    """One of our tools as FastMCP serves it. We check the arguments against the published
    input schema ourselves (`scsd.mcp.arguments`), so every problem is our envelope rather
    than pydantic's text; every answer carries its JSON as text and as structured content, and
    a failure is an MCP tool error (isError) so that hosts show the model that it failed."""

    KEY_PREFIX = "tool"
    _call: Callable[[Mapping[str, Any]], Awaitable[tuple[dict[str, Any], bool]]] = PrivateAttr()

    @classmethod
    def wrap(cls, fn: ToolFunction, svc: Services) -> _EnvelopedTool:
        """`fn`'s signature (types, `Field` ranges, docstring `Args:`) is its input schema, its
        return type or `Failure` its output schema, its `Hints` its annotations."""
        parsed = Tool.from_function(fn, output_schema=None)  # parses the signature and docstring
        success = get_type_hints(fn)["return"]
        output = compress_schema(
            TypeAdapter(success | Failure).json_schema(), prune_titles=True, dereference=True
        )
        for prop in parsed.parameters.get("properties", {}).values():
            if "description" in prop:  # docstring lines are wrapped for the source, not for clients
                prop["description"] = " ".join(prop["description"].split())
        tool = cls(
            name=parsed.name,
            description=parsed.description,
            parameters=parsed.parameters,
            output_schema={"type": "object", **output},
            annotations=_annotations(hints_of(fn)),
        )
        tool._call = _enveloped(fn, svc, Arguments(parsed.name, parsed.parameters))
        return tool

    async def run(self, arguments: dict[str, Any]) -> ToolResult:
        body, failed = await self._call(arguments)
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        return ToolResult([TextContent(type="text", text=text)], structured_content=body, is_error=failed)


def _annotations(hints: Hints) -> ToolAnnotations:
    return ToolAnnotations(
        read_only_hint=hints.read_only,
        destructive_hint=hints.destructive,
        idempotent_hint=hints.idempotent or hints.read_only,
        open_world_hint=False,  # nothing reaches outside the daemon and its database
    )


def _enveloped(
    fn: ToolFunction, svc: Services, arguments: Arguments
) -> Callable[[Mapping[str, Any]], Awaitable[tuple[dict[str, Any], bool]]]:
    """Check the arguments, call `fn`; a ToolError becomes the error envelope, a storage fault
    DATABASE_UNAVAILABLE, anything unexpected INTERNAL_ERROR (logged with its traceback,
    never sent to the caller). Counts the call in the metrics. Returns (body, failed)."""
    name = fn.__name__

    async def call(given: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        started = time.perf_counter()
        result: dict[str, Any]
        try:
            result = await fn(**arguments.check(given))
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
        retry_after = result.get("context", {}).get("retry_after")
        if retry_after is not None:  # where the reference's clients look for it, too
            result["retry_after"] = retry_after
        failed = result.get("success") is not True
        svc.metrics.record(name, time.perf_counter() - started, ok=not failed)
        return result, failed

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
