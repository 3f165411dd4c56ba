"""What agents call: the MCP server (`server`, the one module that imports FastMCP), over
Streamable HTTP or stdio (`stdio`); the tools themselves (`tools/`) and their metrics."""
