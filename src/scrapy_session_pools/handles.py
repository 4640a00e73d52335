"""SessionHandle: the session a request was sent with, as callbacks see it."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from .session import RetireReason

if TYPE_CHECKING:
    from collections.abc import Callable

    from .pool import Pool
    from .session import Session


class SessionHandle:
    """The session that a request was sent with, valid after it retired.

    Get it in a callback with :meth:`SessionControl.session()
    <scrapy_session_pools.SessionControl.session>`:

    .. code-block:: python

        def parse(self, response):
            session = SessionControl.from_crawler(self.crawler).session(response)
            if "Too many requests" in response.text:
                session.mark_bad()
            session.data["last_page"] = response.url

    *id*, *pool* and *kind* name the session, its pool and its kind of
    session (``"zyte_api"`` or ``"http"``); *profile* is the name of its
    profile, if any. :attr:`data` is the user data of the session (see
    :ref:`session-data`): the handle keeps it, so a callback can still read
    and write it after the session retired, although a retired session's
    data is not saved any more. The handle does not keep the pool: an
    evicted pool is freed even while responses of its sessions are around.
    """

    __slots__ = ("_mark_bad", "_pool", "_session", "id", "kind", "pool", "profile")

    def __init__(
        self,
        session: Session,
        pool: Pool,
        mark_bad: Callable[[Pool, Session, float], bool],
    ) -> None:
        self._session = session
        self._pool = weakref.ref(pool)
        self._mark_bad = mark_bad
        #: The session ID.
        self.id: str = session.id
        #: The ID of the pool of the session.
        self.pool: str = pool.id
        #: The kind of the session: ``"zyte_api"`` or ``"http"``.
        self.kind: str = pool.kind
        #: The name of the profile of the session, if any.
        self.profile: str | None = getattr(session.profile, "name", None)

    def __repr__(self) -> str:
        state = "live" if self.is_alive else "retired"
        return f"<SessionHandle {self.id} of pool {self.pool} ({state})>"

    @property
    def data(self) -> dict[str, Any]:
        """The user data of the session, a dict of your own."""
        return self._session.data

    @property
    def is_alive(self) -> bool:
        """Whether the session is still in its pool."""
        return self._session.is_alive

    @property
    def retire_reason(self) -> str | None:
        """Why the session retired (e.g. ``"max-uses"``), or ``None``."""
        reason = self._session.retire_reason
        return reason.value if reason is not None else None

    def mark_bad(self, score: float = 1.0) -> bool:
        """Add *score* to the error score of the session, as an error would.

        The session retires (counted in :stat:`sessions/retired/errors`) once
        its score reaches :setting:`ZYTE_API_SESSION_MAX_ERRORS`. Returns
        whether it retired now; ``False`` if it had retired already.
        """
        pool = self._pool()
        if not self.is_alive or pool is None:
            return False
        return self._mark_bad(pool, self._session, score)

    def retire(self, reason: str = "manual") -> bool:
        """Retire the session now, for *reason* (see :ref:`lifecycle`).

        Returns ``False`` if it had retired already.
        """
        pool = self._pool()
        if pool is None:  # evicted, and its sessions with it
            return False
        return pool.retire(self._session, RetireReason(reason))
