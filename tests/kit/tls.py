"""TLS test kit: a throwaway CA (trustme), certificate files, clients that trust it, and a
daemon started in-process with `--certfile/--keyfile`."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
import trustme
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from scsd import daemon
from scsd.process.sdnotify import Notifier
from tests.kit.clients import Call, JsonObject, McpHttp
from tests.kit.daemon import Running, make_config

START_SECONDS = 30.0


@dataclass(frozen=True)
class TlsFiles:
    """A CA, and a certificate it issued for 127.0.0.1 and localhost, written as PEM files."""

    ca: trustme.CA
    certfile: Path
    keyfile: Path

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this CA only (names are checked as usual)."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


def make_tls_files(directory: Path, ca: trustme.CA | None = None) -> TlsFiles:
    ca = ca or trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost", "::1")
    directory.mkdir(parents=True, exist_ok=True)
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(certfile))
    for pem in leaf.cert_chain_pems[1:]:
        pem.write_to_path(str(certfile), append=True)
    leaf.private_key_pem.write_to_path(str(keyfile))
    return TlsFiles(ca, certfile, keyfile)


class McpHttps(McpHttp):
    """McpHttp over HTTPS: the real fastmcp client, verifying with `verify`."""

    def __init__(self, url: str, headers: dict[str, str] | None, verify: ssl.SSLContext) -> None:
        super().__init__(url, headers)
        self.verify = verify

    async def calls(self, calls: Sequence[Call]) -> list[JsonObject]:
        def run() -> list[JsonObject]:
            transport = StreamableHttpTransport(self.url, headers=self.headers, verify=self.verify)
            return asyncio.run(_run_calls(Client(transport), calls))

        return await trio.to_thread.run_sync(run)

    def with_headers(self, **headers: str) -> McpHttps:
        return McpHttps(self.url, {**self.headers, **headers}, self.verify)


async def _run_calls(client: Client[Any], calls: Sequence[Call]) -> list[JsonObject]:
    async with client:
        replies = []
        for name, args in calls:
            result = await client.call_tool(name, args, raise_on_error=False)
            assert not result.is_error, result
            assert isinstance(result.structured_content, dict), result
            replies.append(result.structured_content)
        return replies


@dataclass
class TlsRunning(Running):
    files: TlsFiles | None = None

    def client_context(self) -> ssl.SSLContext:
        assert self.files is not None
        return self.files.client_context()

    def mcp(self, **headers: str) -> McpHttp:
        return McpHttps(self.mcp_url, headers, self.client_context())


async def start_tls_daemon(nursery: trio.Nursery, tmp_path: Path, **overrides: Any) -> TlsRunning:
    """A daemon on free ports serving HTTPS and WSS with a fresh CA's certificate; set its
    `.stop` to stop it."""
    files = make_tls_files(tmp_path / "tls")
    config = make_config(tmp_path, certfile=files.certfile, keyfile=files.keyfile, **overrides)
    stop = trio.Event()
    with trio.fail_after(START_SECONDS):
        endpoints = await nursery.start(daemon.run, config, stop.wait, Notifier({}))
    secrets = json.loads((config.data_dir / "secrets.json").read_text())
    return TlsRunning(config, endpoints, secrets, stop, files)
