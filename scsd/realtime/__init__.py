"""How a commit reaches a subscriber: the watcher reads changes, the hub routes them, the
front ends (`ws/`, `sse`) deliver them; `changes` are the values that flow, `presence` and
`composing` the live signals of who watches and who types."""
