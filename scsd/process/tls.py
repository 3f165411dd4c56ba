"""TLS for both ports: server contexts from the configured certificate and key, checked at
start-up so that a bad file is one clear line, not a traceback at the first handshake."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import trio

from scsd.errors import StartupError

# HTTP/2 first, as hypercorn offers it; the WebSocket port speaks HTTP/1.1 only.
HTTP_ALPN: Final = ("h2", "http/1.1")
WS_ALPN: Final = ("http/1.1",)


class _Encrypted(Exception):
    """Raised from the password callback: OpenSSL would otherwise prompt on the terminal."""


def _no_password() -> str:
    raise _Encrypted


def server_context(certfile: Path, keyfile: Path, alpn: Sequence[str]) -> ssl.SSLContext:
    """A server-side context for `certfile` (PEM, leaf first, then any intermediates) and its
    `keyfile` (unencrypted PEM): TLS 1.2 or newer, Python's secure defaults, offering `alpn`.

    Raises:
        StartupError: a file is unreadable, not PEM, the key is encrypted, or the two do not
            belong together; the message names the file and the fix.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(list(alpn))
    try:
        pem = certfile.read_text(encoding="ascii", errors="replace")
    except OSError as e:
        raise StartupError(f"cannot read certificate {certfile}: {e.strerror}; check --certfile") from None
    try:
        ssl.create_default_context().load_verify_locations(cadata=pem)
    except ssl.SSLError:
        raise StartupError(f"{certfile} holds no valid PEM certificate; check --certfile") from None
    try:
        context.load_cert_chain(certfile, keyfile, password=_no_password)
    except _Encrypted:
        raise StartupError(
            f"private key {keyfile} is encrypted; give scsd an unencrypted key "
            "(openssl pkey -in KEY -out KEY.plain) readable only by its user"
        ) from None
    except ssl.SSLError as e:
        if e.reason == "KEY_VALUES_MISMATCH":
            raise StartupError(
                f"private key {keyfile} does not belong to certificate {certfile}; "
                "check that --certfile and --keyfile are a pair"
            ) from None
        detail = f" ({e.reason})" if e.reason else ""  # OpenSSL's "PEM lib" says nothing more
        raise StartupError(f"{keyfile} holds no usable PEM private key{detail}; check --keyfile") from None
    except OSError as e:
        raise StartupError(f"cannot read private key {keyfile}: {e.strerror}; check --keyfile") from None
    return context


def pinned_client_context(certfile: Path) -> ssl.SSLContext:
    """A client context that trusts exactly the first (leaf) certificate in `certfile`, the
    one this daemon serves, whatever name it was issued for.

    For probing our own daemon on loopback (`scsd status`): the certificate names, say,
    scsd.example.com, not 127.0.0.1, so a name check would fail; pinning the very certificate
    from our configuration is the stronger check anyway. Expiry is still checked.

    Raises:
        StartupError: `certfile` cannot be read or holds no PEM certificate.
    """
    try:
        pem = certfile.read_text(encoding="ascii", errors="replace")
    except OSError as e:
        raise StartupError(f"cannot read certificate {certfile}: {e.strerror}; check --certfile") from None
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    start = pem.find(begin)
    stop = pem.find(end, start)
    if start < 0 or stop < 0:
        raise StartupError(f"{certfile} holds no PEM certificate; check --certfile")
    context = ssl.create_default_context(cadata=pem[start : stop + len(end)] + "\n")
    context.check_hostname = False  # pinned: only this exact certificate is trusted
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # a leaf may be the trust anchor
    return context


class _TlsStream(trio.abc.Stream):
    """A server-side TLS stream that drops its TCP connection as soon as TLS fails.

    trio-websocket only notices a broken stream; without this, a client whose handshake
    failed (plain HTTP or ws:// on the WSS port, a certificate it does not trust) would sit
    on an open socket until the WebSocket handshake timeout instead of seeing it close.
    """

    def __init__(self, inner: trio.SSLStream[trio.SocketStream]) -> None:
        self._inner = inner

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        try:
            return await self._inner.receive_some(max_bytes)
        except trio.BrokenResourceError:
            await trio.aclose_forcefully(self._inner)
            raise

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._inner.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __repr__(self) -> str:
        try:
            host, port = self._inner.transport_stream.socket.getpeername()[:2]
        except OSError:
            return "TLS client (gone)"
        return f"TLS client {host}:{port}"


class TlsListener(trio.abc.Listener[trio.abc.Stream]):
    """Accepts TLS connections on `transport` with `context`; each stream closes its socket
    as soon as its TLS fails (see `_TlsStream`). The handshake itself runs lazily, in the
    connection's own task, so one slow client never delays `accept()` for the others."""

    def __init__(self, transport: trio.SocketListener, context: ssl.SSLContext) -> None:
        self._inner = trio.SSLListener(transport, context, https_compatible=True)

    async def accept(self) -> trio.abc.Stream:
        return _TlsStream(await self._inner.accept())

    async def aclose(self) -> None:
        await self._inner.aclose()
