"""The HTTP port: hypercorn serving (`serving`), routing `/mcp` to FastMCP and the rest to the
Quart app (`app`), requests in flight (`inflight`), `/health` (`health`), `/metrics`
(`prometheus`)."""
