"""The `scsd` command: the process (`main`: argv, logging, signals, trio.run) and one module
per operator subcommand (`status`, `client_config`, `transfer`, `keys`)."""
