"""What the operating system gives the daemon: listening sockets (`net`), TLS (`tls`), the
data dir and its secrets file (`keyfile`), systemd notifications (`sdnotify`), logging
(`logs`)."""
