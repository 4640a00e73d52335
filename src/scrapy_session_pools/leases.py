"""Leases: a request's turn on a session, given back exactly once."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import meta

if TYPE_CHECKING:
    from scrapy import Request

    from .pool import Pool
    from .session import Session


@dataclass(slots=True, eq=False)
class Lease:
    """The in-flight slot that a request holds on a session of a pool.

    :meth:`release` gives it back; it does so once, whatever calls it
    later.
    """

    pool: Pool
    session: Session
    is_released: bool = False

    def release(self) -> bool:
        """Give the slot back; return ``False`` if it was given back already."""
        if self.is_released:
            return False
        self.is_released = True
        self.pool.release(self.session)
        return True


class Leases:
    """The leases of the requests in flight, by the token in their meta.

    The token (a string, so that request meta stays serializable) follows
    the request through copies; whichever copy comes back first, as a
    response, an exception or a dropped request, gives the lease back.
    """

    def __init__(self) -> None:
        self._by_token: dict[str, Lease] = {}
        self._tokens = itertools.count()

    def __len__(self) -> int:
        return len(self._by_token)

    def grant(self, pool: Pool, session: Session, request: Request) -> Lease:
        """Record that *request* holds a turn on *session* of *pool*."""
        token = str(next(self._tokens))
        lease = self._by_token[token] = Lease(pool, session)
        request.meta[meta.LEASE_META_KEY] = token
        return lease

    def of(self, request: Request) -> Lease | None:
        """Return the lease that *request* holds, if any."""
        return self._by_token.get(str(request.meta.get(meta.LEASE_META_KEY)))

    def release(self, request: Request) -> Lease | None:
        """Give back the lease of *request*, if it holds one; return it."""
        token = request.meta.pop(meta.LEASE_META_KEY, None)
        lease = self._by_token.pop(str(token), None) if token is not None else None
        if lease is not None:
            lease.release()
        return lease

    def release_all(self) -> None:
        """Give back every lease (the crawl is over)."""
        for lease in self._by_token.values():
            lease.release()
        self._by_token.clear()
