"""SessionControl: list, retire and add sessions, and their user data."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from scrapy.http import Response

from .identities import Profile, Seed
from .meta import find_session_id
from .middleware import SessionPoolsMiddleware
from .persistence.stores.file import FileStore
from .session import RetireReason, Session
from .snapshots import PoolInfo, SessionInfo

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from scrapy import Request
    from scrapy.crawler import Crawler
    from typing_extensions import Self

    from .handles import SessionHandle
    from .manager import SessionManager


class SessionControl:
    """Inspect and steer the session pools of a crawl.

    Get it from a spider, an extension or any component that has the
    crawler:

    .. code-block:: python

        from scrapy_session_pools import SessionControl


        class MySpider(Spider):
            def parse(self, response):
                control = SessionControl.from_crawler(self.crawler)
                if "captcha" in response.text:
                    control.retire(control.session_id(response.request))
                    return
                control.data(response.request)["token"] = response.css(
                    "#token::text"
                ).get()

    Session IDs are those of :func:`~scrapy_session_pools.get_request_session_id`.
    """

    def __init__(self, manager: SessionManager) -> None:
        self._manager = manager

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Return the control of the pools of *crawler*.

        Raises :exc:`RuntimeError` if
        :class:`~scrapy_session_pools.SessionPoolsMiddleware` is not enabled
        or the crawl has not started.
        """
        middleware = (
            crawler.get_downloader_middleware(SessionPoolsMiddleware)
            if crawler.engine is not None
            else None
        )
        if middleware is None:
            raise RuntimeError(
                "SessionControl needs a running crawl with the "
                "SessionPoolsMiddleware enabled (add scrapy_session_pools.Addon "
                "to ADDONS)."
            )
        return cls(middleware.manager)

    def pools(self) -> list[PoolInfo]:
        """Return a snapshot of every pool and its live sessions."""
        return [PoolInfo.of(pool) for pool in self._manager.pools]

    def sessions(self, pool_id: str | None = None) -> list[SessionInfo]:
        """Return a snapshot of the live sessions, of one pool or of all."""
        return [
            session
            for pool in self.pools()
            if pool_id is None or pool.id == pool_id
            for session in pool.sessions
        ]

    @staticmethod
    def session_id(request: Request) -> str | None:
        """Return the ID of the session *request* was sent with, if any."""
        return find_session_id(request)

    def retire(self, session_id: str | None, reason: str = "manual") -> bool:
        """Retire the live session *session_id*; a replacement is created.

        *reason* is ``"manual"`` or another retirement reason of
        :ref:`lifecycle`, and shows in the ``sessions/retired/<reason>`` stat
        and the :data:`~scrapy_session_pools.signals.session_retired` signal.
        Returns ``False`` if no live session has that ID.
        """
        retire_reason = RetireReason(reason)
        found = self._manager.find_session(session_id) if session_id else None
        if found is None:
            return False
        pool, session = found
        return pool.retire(session, retire_reason)

    def retire_pool(self, pool_id: str, reason: str = "manual") -> int:
        """Retire every live session of the pool *pool_id*; return how many."""
        retire_reason = RetireReason(reason)
        retired = 0
        for pool in self._manager.pools_by_id(pool_id):
            for session in pool:
                retired += pool.retire(session, retire_reason)
        return retired

    def add(
        self,
        pool_id: str,
        *,
        kind: str = "http",
        session_id: str | None = None,
        cookies: Iterable[dict[str, Any]] = (),
        proxy: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Add a session made elsewhere to the pool *pool_id*; return its ID.

        For HTTP sessions, *cookies* (dicts with ``name``, ``value``,
        ``domain`` and optionally ``path``) fill its cookie jar, and *proxy*
        and *headers* make its profile. For Zyte API sessions, *session_id*
        is the Zyte API session ID (cookie mode uses *cookies*).
        """
        new_id = session_id or str(uuid4())
        seed = Seed.from_mapping(
            {
                "cookies": list(cookies),
                **({"proxy": proxy} if proxy else {}),
                **({"headers": headers} if headers else {}),
                **({"name": f"added-{new_id}"} if proxy or headers else {}),
            },
            0,
        )
        profile: Profile | None = seed.profile
        session = Session(
            id=new_id,
            pool_id=pool_id,
            created_at=time.monotonic(),
            profile=profile,
        )
        self._manager.start_session(session, kind, seed.cookies)
        self._manager.add_session(pool_id, session, kind)
        return session.id

    def save(self, path: str | Path) -> bool:
        """Save the live sessions of every pool to the file *path*.

        Another crawl loads them with :setting:`ZYTE_API_SESSION_STATE_FILE`
        set to *path*; see :ref:`persistence`. Returns ``False`` (and logs a
        warning) if the file could not be written.
        """
        return self._manager.save(FileStore(path))

    def session(self, request: Request | Response) -> SessionHandle | None:
        """Return the session that *request* (or the request of a response)
        was sent with, as a :class:`~scrapy_session_pools.SessionHandle`.

        The handle stays valid after the session retired. Returns ``None``
        for a request that did not use a session.
        """
        if isinstance(request, Response):
            if request.request is None:
                return None
            request = request.request
        return self._manager.handle_of(request)

    def data(self, request: Request | Response) -> dict[str, Any]:
        """Return the user data of the session of *request* (or of a response).

        It is a dict that starts empty for each new session and goes with the
        session: after the session retired, callbacks of its requests still
        get it, but it is no longer saved. Raises :exc:`KeyError` if the
        request did not use a session.
        """
        handle = self.session(request)
        if handle is not None:
            return handle.data
        sent = request.request if isinstance(request, Response) else request
        session = self._manager.session_of(sent) if sent is not None else None
        if session is None:
            raise KeyError(f"{request} has no session")
        return session.data
