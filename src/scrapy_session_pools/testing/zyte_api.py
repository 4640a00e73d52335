"""Fake Zyte API server with session semantics, for tests.

Run it with::

    python -m scrapy_session_pools.testing.zyte_api --port 0
        [--session-max-age SECONDS] [--session-max-idle SECONDS]
        [--latency SECONDS]

It listens on 127.0.0.1 (``--port 0`` picks a free port), prints its base URL
(e.g. ``http://127.0.0.1:43121``) as the only line of its standard output once
it is listening, and serves until it gets SIGTERM or SIGINT (exit code 0).
From tests, start it with :class:`FakeZyteAPI`, and point the
:setting:`ZYTE_API_URL` setting (or ``api_url`` of the ``zyte_api`` client) at
:attr:`FakeZyteAPI.api_url`.

Endpoints
=========

``POST /v1/extract``
    A Zyte API request as a JSON object. Authentication headers are ignored,
    and so are unknown fields. Understood fields:

    -   ``url`` (required; a missing or non-string value gets a 400
        ``/problem/bad-request`` problem). Its query string chooses the
        scenario, see `Scenario knobs`_.
    -   ``browserHtml``, ``httpResponseBody``, ``httpResponseHeaders``,
        ``responseCookies``: booleans.
    -   ``actions``: a list of objects with an ``action`` name;
        ``setLocation`` also needs an ``address`` object.
    -   ``session``: ``{"id": "<session id>"}``, see `Sessions`_.
    -   ``requestCookies``: a list of ``{"name", "value", "domain"}`` objects,
        with an optional ``path``.
    -   ``echoData``: any JSON value, echoed back as is.

    A successful answer is HTTP 200 with a JSON object holding ``url`` and
    ``statusCode`` (the site's status), plus:

    -   ``browserHtml``: the page HTML, if requested;
    -   ``httpResponseBody``: the page HTML, UTF-8 then base64-encoded, if
        requested;
    -   ``httpResponseHeaders``:
        ``[{"name": "content-type", "value": "text/html; charset=utf-8"}]``,
        if requested;
    -   ``actions``: one result per requested action, if ``actions`` was sent;
    -   ``session``: ``{"id": "<session id>"}``, if a session was sent;
    -   ``responseCookies``: if requested, the request cookies echoed back
        (``path`` defaults to ``/``) plus the ``set_cookie`` cookies of the
        scenario; a ``set_cookie`` cookie replaces a request cookie with the
        same name, domain and path;
    -   ``echoData``: if sent.

    The page HTML is deterministic, one line, with HTML-escaped values::

        <html><head><title>{path}</title></head><body>
        <p id="url">{url}</p>
        <p id="session">{session id, or nothing}</p>
        <p id="uses">{use number of this request within its session, or 0}</p>
        <p id="location">{json.dumps(location, sort_keys=True), "{}" if unset}</p>
        <p id="cookies">{json.dumps(sorted "name=value" of requestCookies)}</p>
        </body></html>

    where *path* is the path of the target URL (``/`` if empty) and the
    location is the session's location, or for a request without a session,
    the address of a successful ``setLocation`` action of that request.

    Action results have ``"elapsedTime": 0.001``. A ``setLocation`` action
    gets, depending on the ``set_location`` knob:

    -   ``ok``: ``"status": "success"``, and the address becomes the session's
        location;
    -   ``fail``: ``"status": "returned"`` with
        ``"error": "Action setLocation failed: the address could not be set."``;
    -   ``unsupported``: ``"status": "returned"`` with
        ``"error": "Action setLocation not supported on this website."``.

    Any other action gets ``"status": "success"``.

    Errors are answered as problems: HTTP status *N*, header
    ``Content-Type: application/problem+json``, body
    ``{"type": T, "title": ..., "status": N, "detail": ...}``, where *T* is one
    of:

    ===================================== ======
    Type                                  Status
    ===================================== ======
    ``/problem/session-expired``          422
    ``/problem/over-session-limit``       422
    ``/problem/session-creation-error``   503
    ``/download/temporary-error``         520
    ``/download/internal-error``          521
    ``/problem/bad-request``              400
    ===================================== ======

``GET /_state``
    What the server saw, as JSON::

        {
            "requests": <number of answered extract requests>,
            "sessions_created": <number>,
            "live_sessions": {
                "<id>": {"uses": 3, "age": <seconds>, "location": {}, "banned": false}
            },
            "dead_sessions": <number of expired session ids>,
            "log": [
                {"url": "<target url or null>", "session": "<id or null>",
                 "created_session": false, "actions": ["setLocation"],
                 "status": 200, "problem": "<problem type or null>",
                 "time": <seconds>}
            ]
        }

    ``log`` has one entry per extract request, in the order they were
    answered; ``time`` is the server's monotonic clock when the request was
    handled (after any latency), or null for a malformed request; ``status`` is the HTTP status of the answer.

``POST /_reset``
    Forget all sessions, counters, the log and per-URL counters, and restore
    the options given on the command line. Returns ``{}``.

``POST /_config``
    Change options at run time with a JSON object holding any of
    ``session_max_age`` (number or null), ``session_max_idle`` (number or
    null) and ``latency`` (number). Returns the current options, e.g.
    ``{"session_max_age": null, "session_max_idle": 2.0, "latency": 0.0}``.
    Unknown keys or bad values get a 400 ``/problem/bad-request`` problem.

Options
=======

``--session-max-age SECONDS`` (``session_max_age``)
    A session is expired this long after its creation. Default: no limit.

``--session-max-idle SECONDS`` (``session_max_idle``)
    A session is expired this long after its last use. Default: no limit.

``--latency SECONDS`` (``latency``)
    Every extract request waits this long before it is answered. Default: 0.

Sessions
========

A request whose ``session.id`` was never seen creates that session; it is the
session's use 1, and every later request with it is one more use. Expiry is
checked when a request uses a session: if the session is older than
``session_max_age`` or has been idle longer than ``session_max_idle``, the
request gets a 422 ``/problem/session-expired`` problem and the session dies.
A dead session is deleted but remembered: later requests with its id get the
same problem, and it is never created again.

Scenario knobs
==============

The query string of the *target* URL (the ``url`` field of the request
body) chooses the scenario, so that each test states what it expects, e.g.
``https://example.com/product?ban_after=2&set_location=fail``. All knobs are
optional and combine; a bad value gets a 400 ``/problem/bad-request`` problem.

``status=N``
    The site's status code, returned as ``statusCode``. Default: 200, or 302
    with ``redirect``.

``delete_cookie=NAME`` (may repeat)
    When ``responseCookies`` is true, the answer's ``responseCookies`` has a
    cookie *NAME* for the target host with an empty value and ``"expires": 0``,
    i.e. the website deletes that cookie.

``redirect=URL``
    The answer is a redirect to *URL*: status 302 (unless ``status`` says
    otherwise) and a ``location`` header among ``httpResponseHeaders``.

``set_location=ok|fail|unsupported``
    The outcome of ``setLocation`` actions. Default: ``ok``.

``ban_after=N``
    Uses of a session beyond *N* (use *N* + 1 onwards) get a 520
    ``/download/temporary-error`` problem, and the session is banned: every
    later request with it gets 520 as well, whatever its URL.

``error=520|521``
    Always answer ``/download/temporary-error`` (520) or
    ``/download/internal-error`` (521), with or without a session. The
    session use still counts.

``expire_after=N``
    Uses of a session beyond *N* get a 422 ``/problem/session-expired``
    problem, and the session dies.

``over_session_limit=N``
    The first *N* requests to this exact target URL (compared as a string)
    that would create a session get a 422 ``/problem/over-session-limit``
    problem, and no session is created.

``creation_error=N``
    Like ``over_session_limit``, answered with a 503
    ``/problem/session-creation-error`` problem. Both knobs share the count
    of creation attempts for the URL: with ``over_session_limit=1&creation_error=2``
    the first attempt gets over-session-limit, the next two get
    session-creation-error and the fourth creates the session.

``delay=SECONDS``
    Extra latency for this request, added to the ``latency`` option.

``set_cookie=name=value``
    May repeat. If ``responseCookies`` is requested, these cookies are in it,
    with the target URL's host as ``domain`` and ``/`` as ``path``.

For a request with a session, the checks run in this order: dead or expired
session, over-session-limit and creation-error (new sessions only), use
count, banned session, ``expire_after``, ``ban_after``, ``error``; then the
actions run.

Code
====

This module runs the server (:func:`main`) and starts it from tests
(:class:`FakeZyteAPI`). The application and its answers are in
``zyte_api_app``, sessions and what the server remembers in
``zyte_api_state``, and the parsing of requests, options and knobs in
``zyte_api_requests``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from scrapy_session_pools.testing.server import SubprocessServer
from scrapy_session_pools.testing.serving import argument_parser, seconds, serve
from scrapy_session_pools.testing.zyte_api_app import create_app

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

__all__ = ["FakeZyteAPI", "create_app", "main"]

_MODULE = "scrapy_session_pools.testing.zyte_api"


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argument_parser(
        _MODULE, "Fake Zyte API server with session semantics, for tests."
    )
    parser.add_argument(
        "--session-max-age", type=seconds, default=None, metavar="SECONDS"
    )
    parser.add_argument(
        "--session-max-idle", type=seconds, default=None, metavar="SECONDS"
    )
    parser.add_argument("--latency", type=seconds, default=0.0, metavar="SECONDS")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the fake Zyte API until SIGTERM or SIGINT.

    *argv* are the command-line arguments (default: :data:`sys.argv`).
    """
    args = _parse_args(argv)
    app = create_app(
        session_max_age=args.session_max_age,
        session_max_idle=args.session_max_idle,
        latency=args.latency,
    )
    asyncio.run(serve(app, args.port))


class FakeZyteAPI(SubprocessServer):
    """The fake Zyte API of this module, run in a subprocess.

    *session_max_age*, *session_max_idle* and *latency* are the options of the
    same name (``None`` means no limit); :meth:`~SubprocessServer.reset`
    restores them and :meth:`~SubprocessServer.configure` changes them.

    .. code-block:: python

        with FakeZyteAPI(session_max_idle=2.0) as server:
            settings = {"ZYTE_API_URL": server.api_url, "ZYTE_API_KEY": "a"}
            ...
            assert server.state()["sessions_created"] == 1
    """

    def __init__(
        self,
        *,
        session_max_age: float | None = None,
        session_max_idle: float | None = None,
        latency: float = 0.0,
        startup_timeout: float = 30.0,
    ) -> None:
        args = ["--latency", repr(float(latency))]
        if session_max_age is not None:
            args += ["--session-max-age", repr(float(session_max_age))]
        if session_max_idle is not None:
            args += ["--session-max-idle", repr(float(session_max_idle))]
        super().__init__(_MODULE, args, startup_timeout=startup_timeout)

    @property
    def api_url(self) -> str:
        """The Zyte API URL to use, e.g. as the ``ZYTE_API_URL`` setting."""
        return self.url("/v1/")


if __name__ == "__main__":
    main()
