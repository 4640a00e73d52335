"""Admin endpoints of the test servers: ``GET /_state``, ``POST /_reset``, ``POST /_config``.

These are the endpoints that
:class:`~scrapy_session_pools.testing.SubprocessServer` calls in
:meth:`~scrapy_session_pools.testing.SubprocessServer.state`,
:meth:`~scrapy_session_pools.testing.SubprocessServer.reset` and
:meth:`~scrapy_session_pools.testing.SubprocessServer.configure`.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from aiohttp import web

from scrapy_session_pools.testing.errors import BadRequest, ErrorAnswer, read_json

if TYPE_CHECKING:
    from collections.abc import Callable

    from _typeshed import DataclassInstance

_OptionsT = TypeVar("_OptionsT", bound="DataclassInstance")
_StateT = TypeVar("_StateT", bound="_Reportable")


class AdminTarget(Protocol):
    """What a test server shows and changes through its admin endpoints."""

    def state_json(self) -> dict[str, Any]:
        """Return what the server saw: the answer of ``GET /_state``."""

    def reset(self) -> None:
        """Forget what the server saw and restore its initial options."""

    def configure(self, changes: object) -> dict[str, Any]:
        """Apply *changes*, the JSON body of ``POST /_config``.

        Return the options now in use, the answer. Raise an
        :class:`~scrapy_session_pools.testing.errors.ErrorAnswer` to refuse
        the changes.
        """


class _Reportable(Protocol):
    def to_json(self, now: float) -> dict[str, Any]:
        """Return the ``GET /_state`` answer; *now* is the monotonic clock."""


class OptionsAndState(Generic[_OptionsT, _StateT]):
    """The options of a test server and what it saw, as admin endpoints change them.

    It is an :class:`AdminTarget`. *options*, a frozen dataclass, are the
    initial options, which :meth:`reset` restores; :attr:`options` are those
    in use. *new_state* returns an empty state; :attr:`state` is the current
    one, and its ``to_json(now)`` is the ``GET /_state`` answer.
    *value_of* and *bad_request* check ``POST /_config`` values, see
    :func:`updated_options`.

    Request handlers read :attr:`options` and :attr:`state` once, when they
    start, so that a reset also isolates the requests still being answered.
    """

    def __init__(
        self,
        options: _OptionsT,
        new_state: Callable[[], _StateT],
        value_of: Callable[[str, object], object],
        bad_request: Callable[[str], ErrorAnswer] = BadRequest,
    ) -> None:
        self._initial_options = options
        self._new_state = new_state
        self._value_of = value_of
        self._bad_request = bad_request
        self.options = options
        self.state = new_state()

    def state_json(self) -> dict[str, Any]:
        """Return the JSON of :attr:`state`."""
        return self.state.to_json(time.monotonic())

    def reset(self) -> None:
        """Start a new state and restore the initial options."""
        self.state = self._new_state()
        self.options = self._initial_options

    def configure(self, changes: object) -> dict[str, Any]:
        """Apply the ``POST /_config`` *changes*; return the new options."""
        self.options = updated_options(
            self.options, changes, self._value_of, self._bad_request
        )
        return dataclasses.asdict(self.options)


def add_admin_routes(
    app: web.Application,
    target: AdminTarget,
    *,
    bad_request: Callable[[str], ErrorAnswer] = BadRequest,
) -> None:
    """Route the admin endpoints of *app* to *target*.

    ``POST /_reset`` answers ``{}``. A ``POST /_config`` body that is not
    JSON gets the answer that *bad_request* builds from a message saying why.
    Add these routes before any catch-all route.
    """

    async def state(_request: web.Request) -> web.Response:
        return web.json_response(target.state_json())

    async def reset(_request: web.Request) -> web.Response:
        target.reset()
        return web.json_response({})

    async def configure(request: web.Request) -> web.Response:
        try:
            options = target.configure(await read_json(request, bad_request))
        except ErrorAnswer as error:
            return error.to_response()
        return web.json_response(options)

    app.router.add_get("/_state", state)
    app.router.add_post("/_reset", reset)
    app.router.add_post("/_config", configure)


def updated_options(
    options: _OptionsT,
    changes: object,
    value_of: Callable[[str, object], object],
    bad_request: Callable[[str], ErrorAnswer] = BadRequest,
) -> _OptionsT:
    """Return a copy of *options*, a dataclass, with *changes* applied.

    *changes* is a ``POST /_config`` body: a JSON object whose keys are
    field names of *options*. ``value_of(name, value)`` returns the option
    value for a JSON value, or raises an
    :class:`~scrapy_session_pools.testing.errors.ErrorAnswer` for a bad one.
    A body that is not an object, or has unknown keys, raises
    ``bad_request(message)``.
    """
    if not isinstance(changes, dict):
        raise bad_request("the /_config body must be a JSON object")
    names = {field.name for field in dataclasses.fields(options)}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise bad_request(f"unknown /_config options: {', '.join(unknown)}")
    values = {name: value_of(name, value) for name, value in changes.items()}
    return dataclasses.replace(options, **values)
