"""Session backends: how a session is attached to a request and judged."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scrapy import Request
    from scrapy.http import Response

    from scrapy_session_pools.session import Session


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


class SessionBackend(Protocol):
    """Attaches sessions to requests and reads what responses say of them."""

    def handles(self, request: Request) -> bool:
        """Return whether *request* can be sent with a session of this backend."""

    def start(self, session: Session, cookies: Iterable[dict[str, Any]] = ()) -> None:
        """Give a new *session* its transport state, with *cookies* in it."""

    def apply(self, session: Session, request: Request, *, cookie_mode: bool) -> None:
        """Attach *session* to *request* (its meta is the request's own)."""

    def session_id(self, request: Request) -> str | None:
        """Return the ID of the session *request* was sent with."""

    def update(self, session: Session, response: Response, request: Request) -> None:
        """Record what *response* to *request* changes in *session* (cookies)."""

    def judge(self, response: Response) -> Verdict | None:
        """Return what *response* says about its session, before any check."""

    def classify(self, exception: BaseException) -> Outcome | None:
        """Return what *exception* says about the session, if anything."""

    def classify_init(self, exception: BaseException) -> InitFailure | None:
        """Return whether an init failure is to be retried after a delay."""
