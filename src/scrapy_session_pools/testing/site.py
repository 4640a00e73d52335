"""Session-gated test website: cookie sessions, logins, bans, expiry and throttling.

Run it with::

    python -m scrapy_session_pools.testing.site --port 0 [--ban-after N]
        [--expire-after SECONDS] [--min-interval SECONDS]
        [--credentials USER:PASSWORD]

It listens on 127.0.0.1 only (``--port 0`` picks a free port), prints its
base URL (e.g. ``http://127.0.0.1:43121``) as the only line of its standard
output once it is listening, and serves until it gets SIGTERM or SIGINT (exit
code 0). The access log is off and all state is in memory. From tests, start
it with :class:`FakeSite`; reach it directly, or through a
:class:`~scrapy_session_pools.testing.proxy.FakeProxy`.

Identities
==========

The *identity* of a client is ``(proxy, user_agent)``: *proxy* is the value
of the ``X-Proxy-Id`` request header, which the fake proxy sets to its name,
or ``"direct"`` if the header is absent or empty; *user_agent* is the
``User-Agent`` header, or ``""``.

Sessions
========

A session is identified by the ``sid`` cookie, a random hexadecimal id. It
has a creation time, a number of uses, the time of its last use, an identity,
a banned flag and a logged-in flag. Its identity is bound when it is created,
i.e. by the ``/landing`` or ``POST /login`` request that created it.

Every request to a gated page that gets past the first two checks below (a
known, unexpired session) and is not answered 429 is a *use* of the session:
it counts, and updates the time of the last use.

Endpoints
=========

``GET /landing`` (any query string; knobs are ignored)
    Creates a session and answers 200 with ``Set-Cookie: sid=<id>; Path=/``
    and the HTML page
    ``<html><head><title>Landing</title></head><body><p>Landing</p><p id="session">{sid}</p></body></html>``.
    Creating a session is not a use of it.

``GET /login``
    Answers 200 with a ``csrf=<token>; Path=/`` cookie and the HTML page
    ``<html><head><title>Login</title></head><body><form method="post" action="/login"><input type="hidden" name="csrf" value="{token}"><input name="user"><input name="password" type="password"></form></body></html>``.
    Tokens are random and not remembered by the server.

``POST /login``
    A form (``application/x-www-form-urlencoded``) with ``user``,
    ``password`` and ``csrf``. If ``csrf`` equals the value of the ``csrf``
    cookie and the user and password are those of the ``credentials``
    option, it creates a logged-in session and answers 200 with
    ``Set-Cookie: sid=<id>; Path=/`` and a page like that of ``/landing``
    with ``Welcome`` instead of ``Landing``. Otherwise it answers 403 with
    the text ``bad csrf token`` or ``bad credentials``.

``GET /logout``
    Drops the session of the ``sid`` cookie, if any, and answers 200 with
    the text ``logged out`` and a ``Set-Cookie`` header that deletes the
    ``sid`` cookie (empty value, ``Max-Age=0``, an expiry date in the past,
    ``Path=/``).

``GET /<any other path>``, e.g. ``/page/1`` or ``/products/3?x=y``
    A gated page. The checks run in this order; the first that applies
    gives the answer (text bodies are ``text/plain``):

    1.  No ``sid`` cookie, or an unknown one: 401, ``login required``.
    2.  The session is older than ``expire_after`` seconds: 401,
        ``session expired``; the session is dropped, so its id becomes
        unknown.
    3.  The identity of the request is not that of the session: 403,
        ``identity mismatch``; the session is banned.
    4.  The session is banned, or this use is beyond the ``ban_after``-th
        one: 403, ``banned``; the session is banned.
    5.  The session was used less than ``min_interval`` seconds ago: 429,
        ``slow down``, with a ``Retry-After`` header holding the
        ``retry_after`` knob rounded up to whole seconds, at least 1
        (default: 1). This is not a use.
    6.  The page needs a logged-in session (``login=1``) and the session
        is not logged in: 403, ``login required``.
    7.  The page: the ``status`` knob (default 200), ``Set-Cookie:
        name=value; Path=/`` for each ``set_cookie`` knob, and the
        deterministic one-line HTML page, with HTML-escaped values::

            <html><head><title>{path}</title></head><body>
            <p id="session">{sid}</p><p id="uses">{uses}</p>
            <p id="identity">{proxy}|{user_agent}</p><p id="path">{path}</p>
            </body></html>

        where *path* is the URL path, percent-decoded, and *uses* counts
        this use.

    Only GET (and HEAD) is served; other methods get 405.

``GET /_state``
    What the server saw, as JSON::

        {
            "sessions_created": <number>,
            "live_sessions": {
                "<sid>": {"uses": 2, "age": <seconds>,
                          "identity": ["p1", "Scrapy/2.19"],
                          "banned": false, "logged_in": false}
            },
            "requests": <number of requests, admin ones excluded>,
            "log": [
                {"path": "/page/1?ban_after=2", "session": "<sid or null>",
                 "identity": ["direct", ""], "status": 200,
                 "time": <seconds>}
            ]
        }

    ``log`` has one entry per request (admin ones excluded), in the order
    they were answered: ``path`` is the path and query string as sent
    (not percent-decoded), ``session``
    the session created by the request (``/landing``, ``POST /login``) or
    else the ``sid`` cookie sent, ``time`` the server's monotonic clock when
    the request was handled, after any delay. ``identity`` of a live session
    is never null: sessions are bound when they are created.

``POST /_reset``
    Forget all sessions, counters and the log, and restore the options given
    on the command line. Returns ``{}``.

``POST /_config``
    Change options at run time with a JSON object holding any of
    ``ban_after`` (integer or null), ``expire_after`` (number or null),
    ``min_interval`` (number) and ``credentials`` (``"user:password"``).
    Returns the current options, e.g. ``{"ban_after": null,
    "expire_after": null, "min_interval": 0.0, "credentials":
    "user:secret"}``. Unknown keys or bad values get a 400 answer.

Options
=======

Each option is used by a gated page whose URL lacks the knob of the same
name.

``--ban-after N`` (``ban_after``)
    Uses of a session beyond *N* are refused and ban it. Default: no limit.

``--expire-after SECONDS`` (``expire_after``)
    A session expires this long after its creation. Default: no limit.

``--min-interval SECONDS`` (``min_interval``)
    The shortest time between two uses of a session. Default: 0.

``--credentials USER:PASSWORD`` (``credentials``)
    What ``POST /login`` accepts. Default: ``user:secret``.

Scenario knobs
==============

The query string of a gated page's URL chooses the scenario, e.g.
``/page/1?ban_after=2&min_interval=1``. All knobs are optional and combine;
a bad value gets a 400 answer (``bad request: ...``) before any check.

``ban_after=N``, ``expire_after=SECONDS``, ``min_interval=SECONDS``
    Override the options of the same name for this request.

``retry_after=SECONDS``
    The ``Retry-After`` of a 429 answer, rounded up, at least 1. Default: 1.

``login=1``
    The page needs a logged-in session.

``set_cookie=name=value`` (may repeat)
    The page sets these cookies, with ``Path=/``. Cookies of the same name
    collapse into the last one.

``status=N``
    The status of the page once every check passed, from 200 to 599, e.g.
    503 to imitate an outage. The page is the same.

``delay=SECONDS``
    Wait this long before handling the request.

Code
====

This module runs the website (:func:`main`) and starts it from tests
(:class:`FakeSite`). The application and its pages are in ``site_app``,
sessions and what the website remembers in ``site_state``, and the parsing of
options and knobs, and the page answers, in ``site_requests``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from scrapy_session_pools.testing.server import SubprocessServer
from scrapy_session_pools.testing.serving import (
    argument_parser,
    count,
    credentials,
    seconds,
    serve,
)
from scrapy_session_pools.testing.site_app import create_app

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["FakeSite", "create_app", "main"]

_MODULE = "scrapy_session_pools.testing.site"


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the fake website until SIGTERM or SIGINT.

    *argv* are the command-line arguments (default: :data:`sys.argv`).
    """
    parser = argument_parser(_MODULE, "Session-gated test website.")
    parser.add_argument("--ban-after", type=count, default=None, metavar="N")
    parser.add_argument("--expire-after", type=seconds, default=None, metavar="SECONDS")
    parser.add_argument("--min-interval", type=seconds, default=0.0, metavar="SECONDS")
    parser.add_argument(
        "--credentials",
        type=credentials,
        default="user:secret",
        metavar="USER:PASSWORD",
    )
    args = parser.parse_args(argv)
    app = create_app(
        ban_after=args.ban_after,
        expire_after=args.expire_after,
        min_interval=args.min_interval,
        credentials=args.credentials,
    )
    asyncio.run(serve(app, args.port))


class FakeSite(SubprocessServer):
    """The session-gated test website of this module, run in a subprocess.

    *ban_after*, *expire_after*, *min_interval* and *credentials* are the
    options of the same name (``None`` means no limit);
    :meth:`~SubprocessServer.reset` restores them and
    :meth:`~SubprocessServer.configure` changes them.

    .. code-block:: python

        with FakeSite(ban_after=3) as site:
            start_url = site.url("/landing")
            ...
            assert site.state()["sessions_created"] == 1
    """

    def __init__(
        self,
        *,
        ban_after: int | None = None,
        expire_after: float | None = None,
        min_interval: float = 0.0,
        credentials: str = "user:secret",
        startup_timeout: float = 30.0,
    ) -> None:
        args = ["--min-interval", repr(float(min_interval))]
        args += ["--credentials", credentials]
        if ban_after is not None:
            args += ["--ban-after", str(int(ban_after))]
        if expire_after is not None:
            args += ["--expire-after", repr(float(expire_after))]
        super().__init__(_MODULE, args, startup_timeout=startup_timeout)


if __name__ == "__main__":
    main()
