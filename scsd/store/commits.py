"""Noticing other processes' commits to an SQLite file: Linux inotify on its directory.

A commit in WAL mode appends frames to `FILE-wal`, so each commit of any process on this
machine is an `IN_MODIFY` of that file; the directory is watched (not the file) because the
WAL file is created, truncated and recreated by SQLite as it pleases. A few lines over the
inotify descriptor with ctypes and `trio.lowlevel.wait_readable`: no thread, no dependency.

Where inotify cannot see other writers (not Linux, a network or FUSE file system, no watch
left) the mode is "poll": the watcher's poll finds commits, as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import math
import os
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

import trio

from scsd.errors import StartupError

logger = logging.getLogger(__name__)

IN_MODIFY: Final = 0x002
IN_MOVED_TO: Final = 0x080
IN_CREATE: Final = 0x100
IN_Q_OVERFLOW: Final = 0x4000
IN_NONBLOCK: Final = os.O_NONBLOCK
IN_CLOEXEC: Final = os.O_CLOEXEC
_EVENT: Final = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of name
# After a burst of WAL writes, the extra looks (seconds after it; see `_follow`).
FOLLOW_UP_SECONDS: Final = (0.002, 0.025)
# File systems where another host (or a user-space server) may write without the local
# kernel noticing: inotify would stay silent, so only polling is honest there.
REMOTE_FILESYSTEMS: Final = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "9p", "afs", "lustre", "gpfs", "virtiofs"}
)

Mode = str  # "inotify" or "poll"


def choose_mode(database: Path, wanted: str = "auto") -> tuple[Mode, str]:
    """How commits to `database` are noticed, and why. `wanted` is the setting: "poll",
    "inotify" (insisted on), or "auto": inotify where this machine's kernel sees every writer."""
    if wanted == "poll":
        return "poll", "polling was asked for (commit_signal = poll)"
    if wanted == "inotify":
        return "inotify", f"inotify on {database.parent} (commit_signal = inotify)"
    if not sys.platform.startswith("linux"):
        return "poll", f"inotify is Linux only (this is {sys.platform})"
    fstype = filesystem_type(database.parent)
    if fstype is not None and (fstype in REMOTE_FILESYSTEMS or fstype.startswith("fuse")):
        return "poll", f"{database.parent} is on {fstype}, where other hosts' writes raise no inotify event"
    return "inotify", f"inotify on {database.parent} ({fstype or 'file system'})"


def filesystem_type(path: Path) -> str | None:
    """The type of the file system holding `path`, from /proc/self/mountinfo (None if unknown)."""
    try:
        target = os.path.realpath(path)
        best, kind = "", None
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                mount_point = left.split()[4].replace("\\040", " ")
                inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
                if inside and len(mount_point) >= len(best):
                    best, kind = mount_point, right.split()[0]
        return kind
    except (OSError, IndexError):
        return None


class Inotify:
    """An inotify descriptor watching one directory for changes to one file name."""

    def __init__(self, directory: Path, name: str) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._name = name.encode()
        self.fd = int(libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC))
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1: " + os.strerror(ctypes.get_errno()))
        mask = IN_MODIFY | IN_CREATE | IN_MOVED_TO
        if libc.inotify_add_watch(self.fd, os.fsencode(directory), mask) < 0:
            error = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(error, f"inotify_add_watch {directory}: {os.strerror(error)}")

    def close(self) -> None:
        os.close(self.fd)

    def read_nowait(self) -> bool:
        """Whether the events waiting (if any) include our file (or an overflow, which may
        have hidden it)."""
        ours = False
        while True:
            try:
                data = os.read(self.fd, 64 * 1024)
            except BlockingIOError:
                return ours
            offset = 0
            while offset + _EVENT.size <= len(data):
                _, mask, _, length = _EVENT.unpack_from(data, offset)
                name = data[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
                ours = ours or name == self._name or bool(mask & IN_Q_OVERFLOW)
                offset += _EVENT.size + length


async def signal_commits(
    database: Path, wanted: str, wake: Callable[[], None], task_status: trio.TaskStatus[str]
) -> None:
    """Call `wake` after each commit any process makes to `database`; runs until cancelled.

    `task_status.started()` receives the mode ("inotify", or "poll" when inotify cannot see
    every writer: then this only waits and the watcher's poll does the work).

    Raises:
        StartupError: inotify was insisted on (`wanted` "inotify") and cannot be set up.
    """
    mode, why = choose_mode(database, wanted)
    watch: Inotify | None = None
    if mode == "inotify":
        try:
            watch = Inotify(database.parent, database.name + "-wal")
        except OSError as e:
            if wanted == "inotify":
                raise StartupError(
                    f"commit_signal = inotify, but {e}; set commit_signal = auto or poll"
                ) from None
            mode, why = "poll", f"inotify is unavailable ({e})"
    logger.info("watcher: commits of other processes are noticed by %s: %s", mode, why)
    task_status.started(mode)
    if watch is None:
        await trio.sleep_forever()
        return
    try:
        await _follow(watch, wake)
    finally:
        watch.close()


async def _follow(watch: Inotify, wake: Callable[[], None]) -> None:
    # The kernel reports the WAL write a moment before the writer publishes the commit in
    # the shared-memory index (an mmap: no event), so a watcher woken at once may find
    # nothing yet. Each burst is therefore followed by a second and a third look, shortly
    # after; they cost one `PRAGMA data_version` each when there is nothing new.
    follow_ups: list[float] = []
    while True:
        delay = follow_ups[0] if follow_ups else math.inf
        with trio.move_on_after(delay):
            await trio.lowlevel.wait_readable(watch.fd)
            if watch.read_nowait():
                wake()
                follow_ups = list(FOLLOW_UP_SECONDS)
            continue
        follow_ups.pop(0)
        wake()
