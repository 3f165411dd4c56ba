"""Counters and latencies of tool calls, for `get_performance_metrics` (real numbers, not zeros)."""

from __future__ import annotations

import statistics
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

SAMPLES_PER_TOOL: Final = 1024


@dataclass
class _ToolStats:
    calls: int = 0
    errors: int = 0
    durations: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES_PER_TOOL))


class Metrics:
    """Per-tool call counts, error counts and recent latencies (the last 1024 calls)."""

    def __init__(self) -> None:
        self.started = time.time()
        self._tools: dict[str, _ToolStats] = {}

    def record(self, tool: str, seconds: float, *, ok: bool) -> None:
        stats = self._tools.setdefault(tool, _ToolStats())
        stats.calls += 1
        stats.errors += 0 if ok else 1
        stats.durations.append(seconds)

    def calls(self, tool: str) -> int:
        stats = self._tools.get(tool)
        return stats.calls if stats else 0

    def snapshot(self) -> dict[str, Any]:
        tools = {name: _summary(stats) for name, stats in sorted(self._tools.items())}
        return {
            "uptime_seconds": round(time.time() - self.started, 3),
            "tool_calls": sum(s.calls for s in self._tools.values()),
            "tool_errors": sum(s.errors for s in self._tools.values()),
            "tools": tools,
        }


def _summary(stats: _ToolStats) -> dict[str, Any]:
    ms = sorted(d * 1000 for d in stats.durations)
    if len(ms) >= 2:
        cuts = statistics.quantiles(ms, n=100, method="inclusive")
        p50, p95 = cuts[49], cuts[94]
    else:
        p50 = p95 = ms[0] if ms else 0.0
    return {
        "calls": stats.calls,
        "errors": stats.errors,
        "p50_ms": round(p50, 3),
        "p95_ms": round(p95, 3),
        "max_ms": round(ms[-1], 3) if ms else 0.0,
    }
