"""Error answers of the test servers, which request handlers raise."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Callable


class ErrorAnswer(Exception):
    """An answer other than the normal one, raised while handling a request.

    Subclasses build the answer in :meth:`to_response`.
    """

    def to_response(self) -> web.Response:
        """Return the answer to send."""
        raise NotImplementedError


class BadRequest(ErrorAnswer):
    """A malformed request, answered 400 with the text ``bad request: <message>``."""

    def to_response(self) -> web.Response:
        """Return the 400 answer."""
        return web.Response(text=f"bad request: {self}", status=400)


async def read_json(
    request: web.Request, bad_request: Callable[[str], ErrorAnswer] = BadRequest
) -> object:
    """Return the JSON body of *request*.

    If the body is not JSON, raise ``bad_request(message)``, where *message*
    says why, e.g. ``the request body is not valid JSON: Expecting value: …``.
    """
    try:
        return json.loads(await request.read())
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise bad_request(f"the request body is not valid JSON: {exc}") from exc
