"""A retry policy for session requests with python-zyte-api's rules, no waits.

Its stops are those of :class:`zyte_api.RetryFactory` (an undocumented
error such as a 500 is retried once, download errors up to 8 times), except
that network errors are retried for 2 s instead of 15 minutes, 0.2 s
apart; other errors are retried at once. A fault case takes a bounded,
short time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenacity import wait_fixed, wait_none
from zyte_api import RetryFactory, stop_after_uninterrupted_delay
from zyte_api._retry import stop_on_count

if TYPE_CHECKING:
    from tenacity.stop import stop_base


class _FastRetryFactory(RetryFactory):
    network_error_stop: stop_base = stop_after_uninterrupted_delay(2)
    network_error_wait = wait_fixed(0.2)
    download_error_wait = wait_none()
    undocumented_error_wait = wait_none()
    throttling_wait = wait_none()


#: The policy, by import path ``tests.fast_retries.FAST_RETRY_POLICY``.
FAST_RETRY_POLICY = _FastRetryFactory().build()


class _GiveUpFactory(_FastRetryFactory):
    network_error_stop = stop_on_count(2)


#: The same, with network errors tried twice in all:
#: ``tests.fast_retries.GIVE_UP_POLICY``.
GIVE_UP_POLICY = _GiveUpFactory().build()
