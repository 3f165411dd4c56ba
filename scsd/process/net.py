"""Binding listening sockets up front, so a busy port is one clear error before anything runs."""

from __future__ import annotations

import errno
import socket
from typing import Final

from scsd.errors import StartupError

BACKLOG: Final = 1024
# Bind-to-everything addresses: not addresses a client can connect to.
WILDCARDS: Final = frozenset({"", "0.0.0.0", "::"})


def bind(host: str, port: int, what: str, hint: str) -> socket.socket:
    """A listening, non-blocking TCP socket on (host, port); port 0 picks a free port.

    Raises:
        StartupError: the address is in use, not local, or not permitted; `hint` says which
        flag to change.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise StartupError(f"cannot resolve {what} host {host!r}: {e.strerror}; {hint}") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(addr)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise StartupError(
                f"{what} port {host}:{port} is already in use (another scsd?); stop that process or {hint}"
            ) from None
        raise StartupError(f"cannot listen for {what} on {host}:{port}: {e.strerror}; {hint}") from None
    return sock


def ui_origins(host: str, port: int, *, tls: bool = False) -> tuple[str, ...]:
    """The browser origins of the UI served on (host, port), `https://` ones when `tls`. For a
    loopback bind that is each loopback spelling; for a wildcard bind nobody can know the
    name browsers use, so list it in SHARED_CONTEXT_ALLOWED_ORIGINS."""
    scheme = "https" if tls else "http"
    loopback = ("127.0.0.1", "localhost", "[::1]")
    if host in ("127.0.0.1", "localhost", "::1"):
        return tuple(f"{scheme}://{h}:{port}" for h in loopback)
    if host in WILDCARDS:
        return ()
    return (f"{scheme}://{url_host(host)}:{port}",)


def local_url(host: str, port: int, *, tls: bool, websocket: bool = False) -> str:
    """The base URL (no path) a client on this machine uses to reach a daemon bound to
    (host, port): `https://`/`wss://` when TLS is on; a wildcard bind is reached on loopback.

    The one place the daemon's own URLs are spelled for `scsd status`, `scsd client-config`
    and the like, so that they all follow `--certfile`.
    """
    host = host.strip("[]")
    if host in WILDCARDS:
        host = "127.0.0.1"
    scheme = ("wss" if tls else "ws") if websocket else ("https" if tls else "http")
    return f"{scheme}://{url_host(host)}:{port}"


def url_host(host: str) -> str:
    """`host` as it appears in a URL: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host else host
