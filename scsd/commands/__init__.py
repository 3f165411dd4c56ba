"""Operator subcommands of `scsd`: each module has `run(config) -> int` (the exit status)."""
