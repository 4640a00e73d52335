"""Scrapy signals of the session lifecycle.

Connect handlers with ``crawler.signals.connect(handler, signal=...)``; they
get the keyword arguments listed for each signal (and Scrapy's ``signal``
and ``sender``).
"""

from __future__ import annotations

#: A session joined a pool: it was initialized, or added from outside
#: (seed, saved state, control API). Arguments: ``pool`` (the pool ID),
#: ``session`` (a :class:`~scrapy_session_pools.SessionInfo`).
session_created = object()

#: A session left its pool. Arguments: ``pool``, ``session`` (a
#: :class:`~scrapy_session_pools.SessionInfo` of its last state) and
#: ``reason`` (e.g. ``"expired"``, ``"max-uses"``, ``"manual"``; see
#: :ref:`lifecycle`).
session_retired = object()

#: A request found no usable session in its pool and waits for one.
#: Arguments: ``pool`` and ``waiting`` (the number of requests waiting).
pool_exhausted = object()

#: A request waited too long for a session and failed with
#: :exc:`~scrapy_session_pools.SessionWaitTimeout`. Arguments: ``pool`` and
#: ``request``.
session_wait_timeout = object()
