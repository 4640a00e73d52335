"""Calling user hooks: sync or async, with their exceptions logged once."""

from __future__ import annotations

import contextvars
import enum
import inspect
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


async def call_hook(owner: object, name: str, *args: Any) -> Any:
    """Call the method *name* of *owner* and await its result if needed."""
    result = getattr(owner, name)(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


def log_hook_error(
    crawler: Crawler,
    owner: object,
    name: str,
    request: Request | None,
    exception: BaseException,
) -> None:
    """Log *exception*, raised by the hook *name* of *owner*, with its traceback."""
    logger.error(
        "%s.%s() raised an exception for %s",
        type(owner).__qualname__,
        name,
        request,
        exc_info=exception,
        extra={"spider": crawler.spider},
    )


class InitStep(enum.Enum):
    """The step of a session initialization that is running."""

    PARAMS = "params"
    DOWNLOAD = "download"
    CHECK = "check"


class InitProgress:
    """Which step of a session initialization is running.

    The default :meth:`~scrapy_session_pools.SessionConfig.init_session`
    records its steps here, so that an exception it raises is counted as a
    parameter error, a check error or a failed init.
    """

    __slots__ = ("step",)

    def __init__(self) -> None:
        self.step: InitStep | None = None


current_init = contextvars.ContextVar[InitProgress]("current_init")


def mark_init_step(step: InitStep) -> None:
    """Record that the session initialization being run reached *step*."""
    progress = current_init.get(None)
    if progress is not None:
        progress.step = step
