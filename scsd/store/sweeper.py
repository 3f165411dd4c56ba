"""The sweeper: deletes expired memory and stale token revocations on a schedule."""

from __future__ import annotations

import logging
from typing import Final

import trio

from scsd.errors import StoreUnavailable
from scsd.store import Store

logger = logging.getLogger(__name__)

# Watchers read the change log within one poll; an hour covers any sane pause.
CHANGE_LOG_KEEP_SECONDS: Final = 3600


async def run(
    store: Store,
    interval_seconds: float,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Sweep once, report `started()`, then sweep every `interval_seconds`; runs until
    cancelled. A failed sweep (database busy or unavailable) is logged and tried again later.
    """
    await _sweep(store)
    task_status.started()
    while True:
        await trio.sleep(interval_seconds)
        await _sweep(store)


async def _sweep(store: Store) -> None:
    try:
        memory = await store.sweep_expired_memory()
        tokens = await store.sweep_revoked_tokens()
        await store.sweep_change_log(CHANGE_LOG_KEEP_SECONDS)
    except StoreUnavailable as e:
        logger.warning("sweep failed, will retry: %s", e)
    else:
        if memory or tokens:
            logger.debug("swept %d expired memory entries, %d old revocations", memory, tokens)
