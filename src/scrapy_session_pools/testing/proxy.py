"""Local HTTP forward proxy for tests: it names itself to the site it forwards to.

Run it with::

    python -m scrapy_session_pools.testing.proxy --port 0 [--name NAME]
        [--auth USER:PASSWORD]

It listens on 127.0.0.1 only (``--port 0`` picks a free port), prints its
base URL (e.g. ``http://127.0.0.1:43121``) as the only line of its standard
output once it is listening, and serves until it gets SIGTERM or SIGINT (exit
code 0). The access log is off. From tests, start it with :class:`FakeProxy`
and send requests through it with ``meta={"proxy": proxy.proxy_url}``.

Forwarding
==========

The proxy forwards plain-HTTP requests in absolute form
(``GET http://127.0.0.1:8000/page HTTP/1.1``), which is what Scrapy, urllib
and most clients send to an ``http://`` proxy for an ``http://`` URL. Checks,
in this order:

1.  If ``--auth`` is set and the ``Proxy-Authorization`` header is missing or
    is not ``Basic`` with those credentials: 407, with
    ``Proxy-Authenticate: Basic realm="fake-proxy"``.
2.  ``CONNECT`` (HTTPS tunnels): 405, not supported.
3.  A target that is not an absolute ``http://`` URL: 400.
4.  A target host other than ``127.0.0.1`` or ``localhost``: 403. The proxy
    never sends anything off the machine.
5.  Otherwise the request is forwarded: same method, path, query string and
    body; same headers except the hop-by-hop ones (``Connection`` and those
    it names, ``Keep-Alive``, ``Proxy-Authorization``, ``Proxy-Connection``,
    ``TE``, ``Trailer``, ``Transfer-Encoding``, ``Upgrade``), ``Host`` and
    ``Content-Length`` (both recomputed), and any ``X-Proxy-Id``, plus
    ``X-Proxy-Id: <name>``. The proxy adds no other header (no
    ``User-Agent``, ``Accept`` or ``Accept-Encoding`` of its own), keeps no
    cookies and follows no redirects.

The answer of the target is relayed as is: status, reason, body (still
content-encoded, if it was) and headers, every ``Set-Cookie`` header kept
separate, except the hop-by-hop ones and ``Content-Length`` (recomputed). An
answer without ``Content-Type`` gets ``application/octet-stream``. If the
target cannot be reached, the proxy answers 502.

Admin endpoints
===============

Requests in origin form (``GET /_state HTTP/1.1``) are for the proxy itself,
and need no authentication; other paths get 404.

``GET /_state``
    ``{"name": "<name>", "requests": <number>, "rejected_auth": <number>}``:
    *requests* counts every request made to the proxy as a proxy, forwarded
    or not, and *rejected_auth* the ones answered 407.

``POST /_reset``
    Reset the counters. Returns ``{}``.

``POST /_config``
    Nothing can be configured: an empty JSON object returns ``{}``; anything
    else gets a 400 answer (``bad request: ...``).

Options
=======

``--name NAME``
    The value of the ``X-Proxy-Id`` header added to forwarded requests.
    Default: ``proxy``.

``--auth USER:PASSWORD``
    Require these credentials in ``Proxy-Authorization``. Default: none.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp
from aiohttp import hdrs, web
from multidict import CIMultiDict
from yarl import URL

from scrapy_session_pools.testing.admin import add_admin_routes
from scrapy_session_pools.testing.errors import BadRequest
from scrapy_session_pools.testing.server import SubprocessServer
from scrapy_session_pools.testing.serving import argument_parser, credentials, serve

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from aiohttp.typedefs import Handler
    from multidict import CIMultiDictProxy

logger = logging.getLogger(__name__)

_MODULE = "scrapy_session_pools.testing.proxy"
_REALM = "fake-proxy"
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Never forwarded as received: recomputed, or set by the proxy.
_REQUEST_EXCLUDED = frozenset({"host", "content-length", "x-proxy-id"})
_RESPONSE_EXCLUDED = frozenset({"content-length"})
_CONNECT_TIMEOUT = 10.0


@dataclass(slots=True)
class _Counters:
    requests: int = 0
    rejected_auth: int = 0


class _FakeProxy:
    """The forwarding logic and admin handlers of the proxy."""

    def __init__(self, name: str, auth: str | None) -> None:
        self._name = name
        self._auth = auth
        self._counters = _Counters()
        self._client: aiohttp.ClientSession | None = None

    async def client_context(self, _app: web.Application) -> AsyncIterator[None]:
        """Own the upstream HTTP client while the application runs."""
        async with aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=(
                "Accept",
                "Accept-Encoding",
                "Content-Type",
                "User-Agent",
            ),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=_CONNECT_TIMEOUT),
        ) as client:
            self._client = client
            yield
            self._client = None

    async def forward(self, request: web.Request) -> web.Response:
        """Answer a proxy request, by forwarding it if every check passes."""
        counters = self._counters
        counters.requests += 1
        if not self._is_authorized(request):
            counters.rejected_auth += 1
            return web.Response(
                status=407,
                text="proxy authentication required",
                headers={"Proxy-Authenticate": f'Basic realm="{_REALM}"'},
            )
        if request.method == hdrs.METH_CONNECT:
            response = web.Response(status=405, text="CONNECT is not supported")
            response.force_close()
            return response
        target = _target_of(request)
        if target is None:
            return web.Response(status=400, text="expected an absolute http:// URL")
        if target.host not in _LOCAL_HOSTS:
            logger.debug("Refused to forward to %s", target.host)
            return web.Response(status=403, text="target host not allowed")
        return await self._relay(request, target)

    async def _relay(self, request: web.Request, target: URL) -> web.Response:
        assert self._client is not None
        body = await request.read()
        headers = _forwarded_headers(request.headers, self._name)
        try:
            async with self._client.request(
                request.method,
                target,
                headers=headers,
                data=body or None,
                allow_redirects=False,
            ) as upstream:
                payload = await upstream.read()
                return web.Response(
                    status=upstream.status,
                    reason=upstream.reason,
                    headers=_relayed_headers(upstream.headers),
                    body=payload,
                )
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            logger.debug("Could not forward to %s: %r", target, exc)
            return web.Response(status=502, text=f"bad gateway: {exc!r}")

    def _is_authorized(self, request: web.Request) -> bool:
        if self._auth is None:
            return True
        header = request.headers.get(hdrs.PROXY_AUTHORIZATION, "")
        try:
            auth = aiohttp.BasicAuth.decode(header)
        except ValueError:
            return False
        return f"{auth.login}:{auth.password}" == self._auth

    def state_json(self) -> dict[str, Any]:
        return {"name": self._name, **asdict(self._counters)}

    def reset(self) -> None:
        self._counters = _Counters()

    def configure(self, changes: object) -> dict[str, Any]:
        if changes != {}:
            raise BadRequest("nothing to configure: send {}")
        return {}


def _target_of(request: web.Request) -> URL | None:
    """Return the absolute ``http://`` URL that *request* targets, if any."""
    try:
        target = URL(request.raw_path, encoded=True)
    except ValueError:
        return None
    if not target.absolute or target.scheme != "http" or not target.host:
        return None
    return target


def _excluded(
    headers: CIMultiDictProxy[str], excluded: frozenset[str]
) -> frozenset[str]:
    """Return the lower-case names of *headers* not to pass on."""
    named = {
        name.strip().lower()
        for value in headers.getall(hdrs.CONNECTION, [])
        for name in value.split(",")
    }
    return _HOP_BY_HOP | excluded | named


def _forwarded_headers(headers: CIMultiDictProxy[str], name: str) -> CIMultiDict[str]:
    excluded = _excluded(headers, _REQUEST_EXCLUDED)
    forwarded = CIMultiDict(
        (key, value) for key, value in headers.items() if key.lower() not in excluded
    )
    forwarded["X-Proxy-Id"] = name
    return forwarded


def _relayed_headers(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    excluded = _excluded(headers, _RESPONSE_EXCLUDED)
    return CIMultiDict(
        (key, value) for key, value in headers.items() if key.lower() not in excluded
    )


_PROXY = web.AppKey("proxy", _FakeProxy)


@web.middleware
async def _proxy_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Send proxy requests to the proxy, origin-form ones to the admin routes."""
    if request.method != hdrs.METH_CONNECT and request.raw_path.startswith("/"):
        return await handler(request)
    return await request.app[_PROXY].forward(request)


def create_app(*, name: str = "proxy", auth: str | None = None) -> web.Application:
    """Return the proxy as an :class:`aiohttp.web.Application`.

    *name* and *auth* are the ``--name`` and ``--auth`` options; :func:`main`
    serves it.
    """
    proxy = _FakeProxy(name, auth)
    app = web.Application(middlewares=[_proxy_middleware])
    app[_PROXY] = proxy
    app.cleanup_ctx.append(proxy.client_context)
    add_admin_routes(app, proxy)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the proxy until SIGTERM or SIGINT.

    *argv* are the command-line arguments (default: :data:`sys.argv`).
    """
    parser = argument_parser(_MODULE, "Local HTTP forward proxy for tests.")
    parser.add_argument("--name", default="proxy")
    parser.add_argument(
        "--auth", type=credentials, default=None, metavar="USER:PASSWORD"
    )
    args = parser.parse_args(argv)
    asyncio.run(serve(create_app(name=args.name, auth=args.auth), args.port))


class FakeProxy(SubprocessServer):
    """The forward proxy of this module, run in a subprocess.

    *name* is the value of the ``X-Proxy-Id`` header it adds to the requests
    it forwards, which the fake website shows as the proxy part of the
    client identity. *auth*, ``"user:password"``, makes it require those
    credentials; :attr:`proxy_url` includes them.

    .. code-block:: python

        with FakeProxy("p1", auth="user:pass") as proxy:
            request = Request(site.url("/page/1"), meta={"proxy": proxy.proxy_url})
    """

    def __init__(
        self,
        name: str = "proxy",
        *,
        auth: str | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        args = ["--name", name]
        if auth is not None:
            args += ["--auth", auth]
        super().__init__(_MODULE, args, startup_timeout=startup_timeout)
        self.name = name
        self.auth = auth

    @property
    def proxy_url(self) -> str:
        """The URL to use as the proxy, with the credentials if any.

        E.g. ``http://user:pass@127.0.0.1:43121``, or
        ``http://127.0.0.1:43121`` without *auth*. The user and password are
        percent-encoded.
        """
        base = self.url()
        if self.auth is None:
            return base
        user, _, password = self.auth.partition(":")
        scheme, _, address = base.partition("://")
        return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{address}"


if __name__ == "__main__":
    main()
