"""The Web UI over plain HTTP for tests: sign-in through the real form, CSRF tokens from pages."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import httpx
import trio

from tests.kit.daemon import Running

T = TypeVar("T")


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


def sign_in(client: httpx.Client, key: str, agent_id: str = "", agent_type: str = "claude") -> httpx.Response:
    """GET the login form (it sets the pre-login CSRF cookie) and POST it."""
    form = client.get("/ui/login")
    assert form.status_code == 200
    data = {"csrf_token": csrf_of(form.text), "key": key, "agent_id": agent_id, "agent_type": agent_type}
    return client.post("/ui/login", data=data)


async def in_thread(fn: Callable[[], T]) -> T:
    with trio.fail_after(30):
        return await trio.to_thread.run_sync(fn)


def http_client(running: Running) -> httpx.Client:
    return httpx.Client(base_url=running.endpoints.http_url, timeout=10)


@contextmanager
def signed_in(
    running: Running, key: str, agent_id: str, agent_type: str = "claude"
) -> Iterator[httpx.Client]:
    """A http_client signed in to the UI that sends the page's CSRF token as the API asks."""
    with http_client(running) as c:
        sign_in(c, key, agent_id, agent_type)
        c.headers["X-CSRF-Token"] = csrf_of(c.get("/ui/").text)
        yield c
