"""Calling user code: the one way every session config hook is called.

Every hook, sync or async, goes through :func:`run_hook` (or, on the
synchronous request-fingerprinting path, :func:`run_hook_now`): it awaits the
hook if needed, logs an exception with its traceback and the hook's name
once, and raises :exc:`HookError`, which tells the caller which hook failed
so that it can count it and apply the contract's outcome.
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import CloseSpider, IgnoreRequest

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class HookError(Exception):
    """A hook of user code raised, or returned a value of the wrong type.

    It has been logged already. *hook* is the hook's name, *owner* the object
    it belongs to; the original exception is the ``__cause__``.
    """

    def __init__(self, owner: object, hook: str, request: Request | None) -> None:
        self.owner = owner
        self.hook = hook
        super().__init__(
            f"{type(owner).__qualname__}.{hook}() failed for {request}; see "
            f"the error logged before"
        )


#: Exceptions that user code raises on purpose, and that pass through.
_PASS_THROUGH = (CloseSpider, IgnoreRequest, HookError)


def _log(
    crawler: Crawler,
    owner: object,
    hook: str,
    request: Request | None,
    exception: BaseException,
) -> None:
    logger.error(
        "%s.%s() raised an exception for %s",
        type(owner).__qualname__,
        hook,
        request,
        exc_info=exception,
        extra={"spider": crawler.spider},
    )


async def run_hook(
    crawler: Crawler,
    owner: object,
    hook: str,
    *args: Any,
    request: Request | None,
    is_expected: Callable[[BaseException], bool] | None = None,
) -> Any:
    """Call the method *hook* of *owner* with *args*, awaiting it if needed.

    *request* is the request it is called for, named in the log. An
    exception other than :exc:`~scrapy.exceptions.CloseSpider`,
    :exc:`~scrapy.exceptions.IgnoreRequest` and those that *is_expected*
    accepts (which pass through untouched) is logged with its traceback and
    raised again as :exc:`HookError`.
    """
    try:
        result = getattr(owner, hook)(*args)
        if inspect.isawaitable(result):
            result = await result
    except _PASS_THROUGH:
        raise
    except Exception as exception:
        if is_expected is not None and is_expected(exception):
            raise
        _log(crawler, owner, hook, request, exception)
        raise HookError(owner, hook, request) from exception
    return result


class WouldBlock(Exception):  # not an error: a signal to the caller
    """An async hook awaited something, so it cannot run synchronously."""


def run_hook_now(
    crawler: Crawler,
    owner: object,
    hook: str,
    *args: Any,
    request: Request | None,
) -> Any:
    """Like :func:`run_hook`, without an event loop (request fingerprinting).

    An ``async`` hook is run to its end if it finishes without waiting for
    anything, as most do; otherwise :exc:`WouldBlock` is raised.
    """
    try:
        result = getattr(owner, hook)(*args)
        if inspect.iscoroutine(result):
            try:
                result.send(None)
            except StopIteration as finished:
                return finished.value
            result.close()
            raise WouldBlock
        if inspect.isawaitable(result):
            raise WouldBlock
    except (*_PASS_THROUGH, WouldBlock):
        raise
    except Exception as exception:
        _log(crawler, owner, hook, request, exception)
        raise HookError(owner, hook, request) from exception
    return result


def wrong_result(
    crawler: Crawler,
    owner: object,
    hook: str,
    request: Request | None,
    problem: str,
) -> HookError:
    """Log that the hook *hook* of *owner* returned a wrong value; return the error.

    *problem* says what was expected and what came, e.g.
    ``"must return a dict, got 5 (int)"``.
    """
    cause = TypeError(f"{type(owner).__qualname__}.{hook}() {problem} for {request}")
    logger.error("%s", cause, extra={"spider": crawler.spider})
    error = HookError(owner, hook, request)
    error.__cause__ = cause
    return error
