"""The `scsd` command for tests: run it as a real subprocess, read the configs it prints."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, Final

import pytest
import trio

RUN_SECONDS: Final = 120.0  # a hang guard: `python -m scsd` imports FastMCP, slow on a busy machine
_NOT_INHERITED: Final = ("SHARED_CONTEXT_", "LOG_LEVEL", "STATE_DIRECTORY")


async def run_scsd(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m scsd ARGS` to completion, in an environment without scsd settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
    with trio.fail_after(RUN_SECONDS):
        return await trio.run_process(
            [sys.executable, "-m", "scsd", *map(str, args)],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=env,
            stdin=subprocess.DEVNULL,
        )


class Lines:
    """Reads a trio byte stream line by line, remembering every line."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream, self._buf = stream, b""
        self.seen: list[str] = []

    async def next(self) -> str | None:
        while b"\n" not in self._buf:
            chunk = await self._stream.receive_some()
            if not chunk:
                rest, self._buf = self._buf, b""
                return self._keep(rest) if rest else None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return self._keep(line)

    async def until(self, pattern: re.Pattern[str]) -> re.Match[str]:
        while (line := await self.next()) is not None:
            if match := pattern.search(line):
                return match
        pytest.fail(f"no line matching {pattern.pattern!r}:\n" + "\n".join(self.seen))

    async def rest(self) -> str:
        while await self.next() is not None:
            pass
        return "\n".join(self.seen)

    def _keep(self, line: bytes) -> str:
        self.seen.append(line.decode(errors="replace"))
        return self.seen[-1]


def server_entry(client: str, out: str) -> dict[str, Any]:
    """The server entry of a printed config, with Gemini's `httpUrl` read as `url`."""
    if client in ("claude-code", "claude"):
        command_line, blank, rest = out.partition("\n\n")
        assert blank and "\n" not in command_line
        entry = json.loads(rest)["mcpServers"]["scsd"]
        words = shlex.split(command_line)
        assert words[:6] == ["claude", "mcp", "add", "--transport", "http", "scsd"]
        assert words[6] == entry["url"] and entry["type"] == "http"
        pairs = words[7:]
        assert pairs[::2] == ["--header"] * (len(pairs) // 2)
        assert dict(h.split(": ", 1) for h in pairs[1::2]) == entry["headers"]
        return dict(entry)
    if client == "codex":
        return dict(tomllib.loads(out)["mcp_servers"]["scsd"])
    data = json.loads(out)
    if client == "generic":
        assert data["transport"] == "streamable-http"
        return dict(data)
    if client == "vscode":
        entry = data["servers"]["scsd"]
        assert entry["type"] == "http"
        return dict(entry)
    entry = dict(data["mcpServers"]["scsd"])
    if client == "gemini":
        entry["url"] = entry.pop("httpUrl")
    return entry
