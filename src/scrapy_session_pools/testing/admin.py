"""Admin endpoints of the test servers: ``GET /_state``, ``POST /_reset``, ``POST /_config``.

These are the endpoints that
:class:`~scrapy_session_pools.testing.SubprocessServer` calls in
:meth:`~scrapy_session_pools.testing.SubprocessServer.state`,
:meth:`~scrapy_session_pools.testing.SubprocessServer.reset` and
:meth:`~scrapy_session_pools.testing.SubprocessServer.configure`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from aiohttp import web

from scrapy_session_pools.testing.errors import BadRequest, ErrorAnswer, read_json

if TYPE_CHECKING:
    from collections.abc import Callable

    from _typeshed import DataclassInstance

_OptionsT = TypeVar("_OptionsT", bound="DataclassInstance")


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
