"""SessionConfig and LocationSessionConfig: the user-facing extension points."""

from __future__ import annotations

import json
import logging
from copy import deepcopy
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import CloseSpider
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler

from . import meta
from .backends import SessionKind
from .backends.http import HTTPBackend
from .backends.zyte_api import ZyteAPIBackend
from .hooks import run_hook, wrong_result
from .settings import PoolsSettings

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from typing_extensions import Self

    from .pool_options import PoolConfig

logger = logging.getLogger(__name__)

_UNSUPPORTED_SET_LOCATION = "Action setLocation not supported "


class SessionConfig:
    """Default session behaviour, for every URL that no other config claims.

    One instance of each session config class is built per crawler, with
    :meth:`from_crawler`. Subclass it and register the subclass for URL
    patterns with :func:`~scrapy_session_pools.session_config` to change how
    sessions of some websites are pooled, initialized and checked. Every
    method may be overridden, as a regular or as an ``async`` method.

    The default implementation reads the settings and request meta keys of
    :ref:`settings` and :ref:`meta`.
    """

    #: Address fields used, in this order, to build the pool ID of a location.
    ADDRESS_FIELDS: list[str] = [  # noqa: RUF012
        "addressCountry",
        "addressRegion",
        "postalCode",
        "streetAddress",
    ]

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Return an instance of this config for *crawler*."""
        return cls(crawler)

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._settings = PoolsSettings.for_crawler(crawler)
        self._checker = (
            build_from_crawler(self._settings.checker, crawler)
            if self._settings.checker is not None
            else None
        )
        self._param_pools: dict[str, dict[str, int]] = {}

    def enabled(self, request: Request) -> bool | Awaitable[bool]:
        """Return whether *request* uses a session.

        Default: the :reqmeta:`zyte_api_session_enabled` meta key if present,
        else :setting:`ZYTE_API_SESSION_ENABLED`.
        """
        return bool(request.meta.get(meta.ENABLED, self._settings.enabled))

    def cookie_mode(self, request: Request) -> bool | Awaitable[bool]:
        """Return whether the session of *request* keeps cookies client-side.

        Default: the :reqmeta:`zyte_api_session_cookie_mode` meta key if
        present, else :setting:`ZYTE_API_SESSION_COOKIE_MODE`.
        """
        return bool(request.meta.get(meta.COOKIE_MODE, self._settings.cookie_mode))

    def session_kind(self, request: Request) -> str | Awaitable[str | None] | None:
        """Return the kind of session of *request*: ``"zyte_api"`` or ``"http"``.

        ``None`` lets the pool decide (its ``kind`` option, see
        :setting:`ZYTE_API_SESSION_POOLS` and :setting:`ZYTE_API_SESSION_KIND`),
        and then the transport of the crawl: Zyte API sessions for every
        request if scrapy-zyte-api's download handler is the ``http``/``https``
        handler (as in scrapy-zyte-api), HTTP sessions otherwise.

        Default: the :reqmeta:`zyte_api_session_kind` meta key, else ``None``.
        """
        value = request.meta.get(meta.KIND)
        return str(value) if value else None

    def profiles(
        self, request: Request
    ) -> list[dict[str, Any]] | Awaitable[list[dict[str, Any]]]:
        """Return the profiles that the HTTP sessions of a new pool take in turn.

        It is called once per pool, with the request that creates the pool.
        A profile is a dict with an optional ``name``, ``proxy`` (a URL,
        credentials allowed) and ``headers`` (e.g. a ``User-Agent``); see
        :ref:`profiles`.

        Default: :setting:`ZYTE_API_SESSION_PROFILES`.
        """
        return [
            {"name": p.name, "proxy": p.proxy, "headers": dict(p.headers)}
            for p in self._settings.profiles
        ]

    def pool(self, request: Request) -> str | PoolConfig | Awaitable[str | PoolConfig]:
        """Return the ID of the session pool of *request*, or a pool dict.

        A pool dict (:class:`PoolConfig`) has an ``id`` key and optionally
        any pool option of :setting:`ZYTE_API_SESSION_POOLS` (``size``,
        ``delay``, ``randomize_delay``, ``max_age``, ``max_idle``,
        ``max_uses``, ``max_concurrency``, ``error_decay``, ``kind``); its
        options apply the first time the pool is seen, unless
        :setting:`ZYTE_API_SESSION_POOLS` configures the pool.

        Default: the :reqmeta:`zyte_api_session_pool` meta key if set;
        otherwise the netloc of the request URL (e.g. ``example.com``),
        followed by ``[n]`` if the request sets
        :reqmeta:`zyte_api_session_params` (one number per distinct value),
        or by ``@`` and the address fields of
        :reqmeta:`zyte_api_session_location` if set (e.g.
        ``example.com@US,NY,10001``).
        """
        explicit = request.meta.get(meta.POOL)
        if explicit:
            return explicit  # type: ignore[no-any-return]  # validated by the manager
        netloc = urlparse_cached(request).netloc
        params = request.meta.get(meta.PARAMS)
        if params:
            key = json.dumps(params, sort_keys=True)
            numbers = self._param_pools.setdefault(netloc, {})
            if key not in numbers:
                numbers[key] = len(numbers)
                # Formatted before logging, as scrapy-zyte-api does, so that
                # log handlers reading record.msg see the parameters.
                message = (
                    f"Session pool {netloc}[{numbers[key]}] uses these session "
                    f"initialization parameters: {params!r}"
                )
                logger.info(message)
            return f"{netloc}[{numbers[key]}]"
        location = request.meta.get(meta.LOCATION)
        if location:
            fields = ",".join(
                str(location[name]) for name in self.ADDRESS_FIELDS if name in location
            )
            return f"{netloc}@{fields}"
        return netloc

    def location(self, request: Request) -> dict[str, str]:
        """Return the address that sessions of *request* must be set to.

        Default: the :reqmeta:`zyte_api_session_location` meta key if present
        (even if empty), else :setting:`ZYTE_API_SESSION_LOCATION`. To keep
        that precedence in an override, start with
        ``return super().location(request) or {...}``.
        """
        if meta.LOCATION in request.meta:
            return dict(request.meta[meta.LOCATION] or {})
        return dict(self._settings.location)

    def params(self, request: Request) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        """Return the parameters of a session initialization request.

        An optional ``url`` key sets the URL of the init request (default:
        the URL of *request*). For Zyte API sessions the other keys are Zyte
        API parameters; default: a browser request (``{"browserHtml": True}``)
        with a ``setLocation`` action if :meth:`location` returns an address.
        For HTTP sessions they describe a plain request (``method``,
        ``headers``, ``body`` or ``formdata``, see :ref:`http-sessions`);
        default: ``{}``, a GET request to the URL of *request*.

        It is only called if neither :reqmeta:`zyte_api_session_params` nor
        :setting:`ZYTE_API_SESSION_PARAMS` apply.
        """
        if _is_http(request):
            return {}
        location = self.location(request)
        if location:
            return {
                "browserHtml": True,
                "actions": [{"action": "setLocation", "address": location}],
            }
        return {"browserHtml": True}

    def check(self, response: Response, request: Request) -> bool | Awaitable[bool]:
        """Return ``True`` if *response* shows that its session is good.

        It is called for session initialization responses (see
        :func:`~scrapy_session_pools.is_session_init_request`) and for the
        responses of requests that used a session. It must return ``True``
        or ``False``: any other value (e.g. ``None`` or ``"False"``) is
        logged and counted as an error of the check, like an exception. It
        may raise :exc:`~scrapy.exceptions.CloseSpider` to stop the crawl.

        Default: if :setting:`ZYTE_API_SESSION_CHECKER` is set, its ``check``
        method decides. Otherwise, for HTTP sessions, an init response passes
        if its status is below 400 and any other response passes (blocked
        status codes are handled before the check, see :ref:`http-sessions`).
        For Zyte API sessions, with a :meth:`location`, a website that
        does not support ``setLocation`` closes the spider with
        ``unsupported_set_location``; an init response with a failed action
        fails (see
        :setting:`ZYTE_API_SESSION_INIT_ACTION_FAILURE_INVALIDATES_SESSION`);
        a ``setLocation`` action must have succeeded; anything else passes.
        """
        if self._checker is not None:
            return self._checker.check(response, request)  # type: ignore[no-any-return]  # user component
        if _is_http(request):
            return not meta.is_session_init_request(request) or response.status < 400
        raw = getattr(response, "raw_api_response", None)
        actions = raw.get("actions", []) if isinstance(raw, dict) else []
        location = self.location(request)
        set_location = next(
            (a for a in actions if a.get("action") == "setLocation"), None
        )
        if location and set_location is not None:
            error = str(set_location.get("error") or "")
            if error.startswith(_UNSUPPORTED_SET_LOCATION):
                logger.error(
                    "Stopping the crawl: %s does not support the setLocation "
                    "action, so sessions cannot be set to the location %r. "
                    "Remove the location for this website.",
                    urlparse_cached(request).netloc,
                    location,
                    extra={"spider": self.crawler.spider},
                )
                raise CloseSpider("unsupported_set_location")
        if (
            self._settings.init_action_failure_invalidates_session
            and meta.is_session_init_request(request)
            and actions
        ):
            return not any(a.get("status") == "returned" for a in actions)
        if location and set_location is not None:
            return bool(set_location.get("status") == "success")
        return True

    def process_request(
        self, request: Request
    ) -> Request | Awaitable[Request | None] | None:
        """Change *request* after it got its session, or return a new one.

        Return ``None`` to send *request* (changed in place or not) or a
        replacement request. Default: ``None``.
        """
        return None

    async def init_session(
        self,
        session_id: str,
        request: Request,
        download: Callable[[Request], Awaitable[Response]],
    ) -> bool:
        """Initialize the session *session_id* and return whether it is good.

        *request* is the request that triggered the session; *download*
        sends a session initialization request with the session and returns
        its response. Override it to initialize a session with several
        requests:

        .. code-block:: python

            async def init_session(self, session_id, request, download):
                home = await download(
                    Request(
                        "https://example.com/",
                        meta={"zyte_api": {"httpResponseBody": True}},
                    )
                )
                token = home.css("#token::attr(value)").get()
                login = await download(
                    Request(
                        "https://example.com/login",
                        meta={
                            "zyte_api": {
                                "httpResponseBody": True,
                                "httpRequestMethod": "POST",
                                "httpRequestText": f"token={token}",
                            }
                        },
                    )
                )
                return login.status == 200

        Default: one request with the parameters of, by precedence,
        :reqmeta:`zyte_api_session_params`,
        :reqmeta:`zyte_api_session_location`,
        :setting:`ZYTE_API_SESSION_PARAMS`,
        :setting:`ZYTE_API_SESSION_LOCATION`, :meth:`location` and
        :meth:`params`, checked with :meth:`check`.
        """
        params = deepcopy(await self._init_params(request))
        url = params.pop("url", request.url)
        if request.meta.get(meta.KIND_META_KEY) == SessionKind.HTTP:
            try:
                init_request = HTTPBackend.init_request(url, params)
            except ValueError as error:
                raise wrong_result(
                    self.crawler, self, "params", request, f"returned {error}"
                ) from None
        else:
            cookie_mode = bool(
                await self._hook("cookie_mode", request, request=request)
            )
            init_request = ZyteAPIBackend.init_request(
                url, params, request, cookie_mode=cookie_mode
            )
        response = await download(init_request)
        return await self._init_check(response)

    async def _hook(self, hook: str, *args: Any, request: Request | None) -> Any:
        return await run_hook(self.crawler, self, hook, *args, request=request)

    async def _init_check(self, response: Response) -> bool:
        request = response.request
        is_good = await self._hook("check", response, request, request=request)
        if not isinstance(is_good, bool):
            raise wrong_result(
                self.crawler,
                self,
                "check",
                request,
                f"must return True or False, got {is_good!r} "
                f"({type(is_good).__name__})",
            )
        return is_good

    async def _init_params(self, request: Request) -> dict[str, Any]:
        from_meta = request.meta.get(meta.PARAMS)
        if from_meta:
            params = from_meta
        elif not request.meta.get(meta.LOCATION) and self._settings.params:
            params = dict(self._settings.params)
        else:
            params = await self._hook("params", request, request=request)
        if not isinstance(params, dict):
            raise wrong_result(
                self.crawler,
                self,
                "params",
                request,
                f"must return a dict, got {params!r} ({type(params).__name__})",
            )
        return params


def _is_http(request: Request) -> bool:
    """Whether *request* (or the init request of its session) is plain HTTP."""
    return request.meta.get(meta.KIND_META_KEY) == SessionKind.HTTP


class LocationSessionConfig(SessionConfig):
    """A :class:`SessionConfig` with hooks for requests that have a location.

    Override :meth:`location_params` and :meth:`location_check`; they are
    called instead of :meth:`~SessionConfig.params` and
    :meth:`~SessionConfig.check` when :meth:`~SessionConfig.location`
    returns an address.
    """

    def params(self, request: Request) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        """Call :meth:`location_params` if *request* has a location."""
        location = self.location(request)
        if not location:
            return super().params(request)
        return self.location_params(request, location)

    def check(self, response: Response, request: Request) -> bool | Awaitable[bool]:
        """Call :meth:`location_check` if *request* has a location."""
        location = self.location(request)
        if not location:
            return super().check(response, request)
        return self.location_check(response, request, location)

    def location_params(
        self, request: Request, location: dict[str, str]
    ) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        """Return init parameters for *location*. Default: :meth:`SessionConfig.params`."""
        return super().params(request)

    def location_check(
        self, response: Response, request: Request, location: dict[str, str]
    ) -> bool | Awaitable[bool]:
        """Check *response* for *location*. Default: :meth:`SessionConfig.check`."""
        return super().check(response, request)
