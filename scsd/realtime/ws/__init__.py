"""The WebSocket front end: the listener (`server`), each socket's protocol (`connection`,
`calls`), its outgoing frames (`outbox`), limits (`limits`) and the wire (`wire`, the only
module that knows frame bytes or trio-websocket's internals)."""
