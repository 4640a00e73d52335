"""Session backends: one strategy per kind of session, and their registry."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from scrapy import Request
    from scrapy.http import Response

    from scrapy_session_pools.pool_options import PoolOptions
    from scrapy_session_pools.session import Limits, Session


class Outcome(enum.Enum):
    """What a response or a failed download says about the session it used."""

    #: The server ended the session; replace it and retry the request.
    EXPIRED = "expired"
    #: An error counted against the session; retry the request.
    ERROR = "error"
    #: The website banned the session; replace it and retry the request.
    BLOCKED = "blocked"
    #: The website asks to slow down; pause the session and retry the request.
    RATE_LIMITED = "rate-limited"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a response says about its session: an outcome, maybe a pause."""

    outcome: Outcome
    #: Seconds the session must rest (rate limits).
    pause: float = 0.0


class InitFailure(enum.Enum):
    """Session initialization failures that are retried after a delay."""

    #: The account has too many sessions.
    OVER_LIMIT = "over-limit"
    #: The server could not create the session.
    SERVER_ERROR = "server-error"


class SessionKind(str, enum.Enum):
    """The kinds of session; the value is the name used in settings and meta."""

    #: A Zyte API session: its ID (or, in cookie mode, its cookies) goes into
    #: the Zyte API parameters of the request.
    ZYTE_API = "zyte_api"
    #: An HTTP session: a cookie jar and a profile (proxy, headers) of its own.
    HTTP = "http"

    def __str__(self) -> str:
        return self.value

    # Equal to its value, so hashed like it: "http" and SessionKind.HTTP are
    # the same dict key.
    __hash__ = str.__hash__


class SessionBackend(Protocol):
    """One kind of session: how it is attached, initialized, judged and saved.

    The manager, the initializer and the persistence code call these methods
    without knowing the kind of session they hold.
    """

    #: The kind of session of this backend.
    kind: SessionKind
    #: Whether sessions of this kind may keep their cookies client-side
    #: (:meth:`SessionConfig.cookie_mode`).
    has_cookie_mode: bool

    def limits(self, options: PoolOptions) -> Limits:
        """Return the lifecycle limits of the sessions of a pool with *options*."""

    def start(self, session: Session, cookies: Iterable[dict[str, Any]] = ()) -> None:
        """Give a new *session* its transport state, with *cookies* in it."""

    def export_cookies(self, session: Session) -> list[dict[str, Any]]:
        """Return the cookies of *session*, to save them."""

    def apply(self, session: Session, request: Request, *, cookie_mode: bool) -> None:
        """Attach *session* to *request* (its meta is the request's own)."""

    def reapply(self, session: Session, request: Request) -> None:
        """Attach *session* again to a request that already has it (a redirect
        or a request of an init chain)."""

    def prepare_init(
        self, session: Session, request: Request, *, cookie_mode: bool
    ) -> Request:
        """Return *request*, a request of the initialization of *session*,
        ready to be downloaded with it."""

    def session_id(self, request: Request) -> str | None:
        """Return the ID of the session *request* was sent with."""

    def observe(self, session: Session, response: Response, request: Request) -> None:
        """Record what any *response* to *request* changes in *session*."""

    def keep(self, session: Session, response: Response, request: Request) -> None:
        """Record what a *response* that passed its check changes in *session*."""

    def finish_init(
        self, session: Session, responses: list[Response], *, cookie_mode: bool
    ) -> None:
        """Complete a successful initialization, given its responses."""

    def judge(self, response: Response) -> Verdict | None:
        """Return what *response* says about its session, before any check."""

    def classify(self, exception: BaseException) -> Outcome | None:
        """Return what *exception* says about the session, if anything."""

    def classify_init(self, exception: BaseException) -> InitFailure | None:
        """Return whether an init failure is to be retried after a delay."""


class Backends:
    """The backend of each kind of session of a crawl."""

    def __init__(self, backends: Iterable[SessionBackend]) -> None:
        self._by_kind = {backend.kind: backend for backend in backends}

    def __getitem__(self, kind: str) -> SessionBackend:
        return self._by_kind[SessionKind(kind)]

    def __iter__(self) -> Iterator[SessionBackend]:
        return iter(self._by_kind.values())

    @property
    def kinds(self) -> tuple[SessionKind, ...]:
        """The kinds of session, in the order of :class:`SessionKind`."""
        return tuple(kind for kind in SessionKind if kind in self._by_kind)

    def has(self, kind: object) -> bool:
        """Whether *kind* names a kind of session of this crawl."""
        return any(kind == known for known in self._by_kind)
