"""TLS on both ports (`--certfile/--keyfile`): HTTPS with a real MCP client, WSS with a real
WebSocket client, Secure cookies, https origins, and clients that fail the handshake without
hurting anyone else. Certificates come from a throwaway CA (trustme)."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from scsd.process import net
from tests.kit.clients import next_event
from tests.kit.tls import TlsRunning, start_tls_daemon

pytestmark = pytest.mark.slow  # real daemons and subprocesses

HANDSHAKE_SECONDS = 20.0


@pytest.fixture
async def tls_running(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[TlsRunning]:
    running = await start_tls_daemon(nursery, tmp_path)
    try:
        yield running
    finally:
        running.stop.set()


def https(running: TlsRunning, **kwargs: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=running.endpoints.http_url, verify=running.client_context(), timeout=10, **kwargs
    )


async def test_endpoints_and_urls_say_https_and_wss(tls_running: TlsRunning) -> None:
    e = tls_running.endpoints
    assert e.tls
    assert e.http_url == f"https://127.0.0.1:{e.http_port}"
    assert e.ws_url == f"wss://127.0.0.1:{e.ws_port}"


async def test_mcp_client_calls_tools_over_https(tls_running: TlsRunning) -> None:
    with trio.fail_after(60):
        token = await tls_running.token("alice")  # authenticate_agent over HTTPS
        replies = await tls_running.mcp().calls(
            [
                ("create_session", {"purpose": "over TLS", "auth_token": token}),
                ("list_sessions", {"auth_token": token}),
            ]
        )
    assert replies[0]["success"], replies
    assert [s["id"] for s in replies[1]["sessions"]] == [replies[0]["session_id"]]


async def test_health_over_https(tls_running: TlsRunning) -> None:
    with trio.fail_after(20):
        async with https(tls_running) as client:
            response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_wss_client_authenticates_subscribes_and_gets_live_messages(tls_running: TlsRunning) -> None:
    with trio.fail_after(60):
        token = await tls_running.token("alice")
        sid = (await tls_running.mcp().call("create_session", purpose="wss", auth_token=token))["session_id"]
        async with open_websocket_url(
            f"{tls_running.endpoints.ws_url}/ws", ssl_context=tls_running.client_context()
        ) as ws:
            await next_event(ws, "connected")
            auth = {"tool": "authenticate", "arguments": {"token": token}, "id": 1}
            await ws.send_message(json.dumps(auth))
            assert (await next_event(ws))["id"] == 1
            await ws.send_message(json.dumps({"tool": "subscribe", "arguments": {"session_id": sid}}))
            await next_event(ws, "subscribed")
            await tls_running.mcp().call("add_message", session_id=sid, content="sealed", auth_token=token)
            event = await next_event(ws, "new_message")
    assert event["data"]["content"] == "sealed"
    assert event["session_id"] == sid


async def test_ui_cookies_are_secure_over_https(tls_running: TlsRunning) -> None:
    with trio.fail_after(20):
        async with https(tls_running) as client:
            form = await client.get("/ui/login")
            nonce_cookie = form.headers.get_list("set-cookie")
            csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            data = {"csrf_token": csrf, "key": tls_running.secrets["admin_key"], "agent_id": ""}
            signed_in = await client.post("/ui/login", data=data)
    assert signed_in.status_code == 303, signed_in.text
    session_cookie = [c for c in signed_in.headers.get_list("set-cookie") if c.startswith("scsd_ui=")]
    assert [c for c in nonce_cookie if c.startswith("scsd_ui_login=")]
    for cookie in [*nonce_cookie, *session_cookie]:
        attributes = [a.strip().lower() for a in cookie.split(";")]
        assert "secure" in attributes, cookie
        assert "httponly" in attributes, cookie


async def test_browser_origins_are_the_https_ones(tls_running: TlsRunning) -> None:
    e = tls_running.endpoints
    token = await tls_running.token("alice")
    url = f"{e.ws_url}/ws?token={token}"
    own = f"https://127.0.0.1:{e.http_port}"
    assert own in net.ui_origins("127.0.0.1", e.http_port, tls=True)
    with trio.fail_after(30):
        async with open_websocket_url(
            url, ssl_context=tls_running.client_context(), extra_headers=[("Origin", own)]
        ) as ws:
            await next_event(ws, "connected")
        # The same host over plain http is another origin: a page there is not ours.
        with pytest.raises(ConnectionRejected) as caught:
            async with open_websocket_url(
                url,
                ssl_context=tls_running.client_context(),
                extra_headers=[("Origin", f"http://127.0.0.1:{e.http_port}")],
            ):
                pass
    assert caught.value.status_code == 403


async def _still_serving(running: TlsRunning) -> None:
    async with https(running) as client:
        assert (await client.get("/health")).json()["status"] == "ok"
    token = await running.token("bob")
    async with open_websocket_url(
        f"{running.endpoints.ws_url}/ws?token={token}", ssl_context=running.client_context()
    ) as ws:
        await next_event(ws, "connected")


async def test_plain_http_to_the_https_port_fails_and_the_daemon_keeps_serving(
    tls_running: TlsRunning,
) -> None:
    plain = f"http://127.0.0.1:{tls_running.endpoints.http_port}/health"
    with trio.fail_after(HANDSHAKE_SECONDS):
        async with httpx.AsyncClient(timeout=HANDSHAKE_SECONDS) as client:
            for _ in range(3):
                with pytest.raises(httpx.TransportError):
                    await client.get(plain)
    with trio.fail_after(30):
        await _still_serving(tls_running)


async def test_plain_ws_and_raw_bytes_to_the_wss_port_fail_and_the_daemon_keeps_serving(
    tls_running: TlsRunning,
) -> None:
    port = tls_running.endpoints.ws_port
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}  # fmt: skip
    # The deadline is below three WebSocket handshake timeouts (10 s each): the server must
    # drop a connection whose TLS failed at once, not hold it open until then.
    with trio.fail_after(HANDSHAKE_SECONDS):
        async with httpx.AsyncClient(timeout=HANDSHAKE_SECONDS) as client:
            for _ in range(3):  # a ws:// client's opening handshake, in plain text
                with pytest.raises(httpx.TransportError):
                    await client.get(f"http://127.0.0.1:{port}/ws", headers=upgrade)
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(b"\x16\x03\x01\x00\x05hello")  # a TLS record header, then junk
            await _read_until_closed(stream)  # perhaps an alert; then the server hangs up
    with trio.fail_after(30):
        await _still_serving(tls_running)


async def test_untrusted_and_aborted_handshakes_leave_both_ports_serving(tls_running: TlsRunning) -> None:
    e = tls_running.endpoints
    with trio.fail_after(HANDSHAKE_SECONDS):
        for port in (e.http_port, e.ws_port):
            # A client that does not trust our CA gives up mid-handshake...
            tcp = await trio.open_tcp_stream("127.0.0.1", port)
            stranger = trio.SSLStream(tcp, ssl.create_default_context(), server_hostname="127.0.0.1")
            with pytest.raises(trio.BrokenResourceError):
                await stranger.do_handshake()
            await trio.aclose_forcefully(stranger)
            # ...and one connects and hangs up without a word.
            await (await trio.open_tcp_stream("127.0.0.1", port)).aclose()
    with trio.fail_after(30):
        await _still_serving(tls_running)


async def _read_until_closed(stream: trio.SocketStream) -> None:
    try:
        while await stream.receive_some():
            pass
    except trio.BrokenResourceError:
        pass  # reset instead of a clean close: closed all the same


async def test_shutdown_closes_wss_sockets_with_going_away(tls_running: TlsRunning) -> None:
    token = await tls_running.token("erin")
    with trio.fail_after(30):
        async with open_websocket_url(
            f"{tls_running.endpoints.ws_url}/ws?token={token}", ssl_context=tls_running.client_context()
        ) as ws:
            await next_event(ws, "connected")
            tls_running.stop.set()
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await ws.get_message()
    assert closed.value.reason.code == 1001
