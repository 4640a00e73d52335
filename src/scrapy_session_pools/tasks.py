"""Background tasks whose failures are logged, never dropped."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Coroutine

logger = logging.getLogger(__name__)


def start_background(
    coroutine: Coroutine[Any, Any, None], name: str
) -> asyncio.Task[None]:
    """Run *coroutine* as a task named *name*; log it if it fails.

    Cancellation (the crawl stopping) is not a failure.
    """
    task = asyncio.ensure_future(coroutine)
    task.add_done_callback(lambda done: _log_failure(done, name))
    return task


def _log_failure(task: asyncio.Task[None], name: str) -> None:
    if task.cancelled():
        return
    exception = task.exception()
    if exception is not None:
        logger.error(
            "The background task %s of scrapy-session-pools failed and "
            "stopped; please report this as a bug.",
            name,
            exc_info=exception,
        )
