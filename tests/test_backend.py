"""Unit tests of how Zyte API errors are classified (no crawl)."""

from __future__ import annotations

import json

import pytest
from zyte_api import RequestError

from scrapy_session_pools.backends import InitFailure, Outcome
from scrapy_session_pools.backends.zyte_api import ZyteAPIBackend


def request_error(status: int, problem: str | None) -> RequestError:
    body = json.dumps({"type": problem, "status": status}).encode() if problem else b""
    return RequestError(
        request_info=None,
        history=(),
        status=status,
        message="",
        headers={},
        query={},
        response_content=body,
    )


@pytest.mark.parametrize(
    ("status", "problem", "outcome", "init_failure"),
    [
        pytest.param(
            422, "/problem/session-expired", Outcome.EXPIRED, None, id="expired"
        ),
        pytest.param(520, "/download/temporary-error", Outcome.ERROR, None, id="520"),
        pytest.param(521, "/download/internal-error", Outcome.ERROR, None, id="521"),
        pytest.param(
            503,
            "/problem/session-creation-error",
            Outcome.ERROR,
            InitFailure.SERVER_ERROR,
            id="creation-error",
        ),
        pytest.param(
            422,
            "/problem/over-session-limit",
            None,
            InitFailure.OVER_LIMIT,
            id="over-limit",
        ),
        pytest.param(500, None, None, None, id="other-server-error"),
    ],
)
def test_zyte_api_errors_are_classified(status, problem, outcome, init_failure):
    backend = ZyteAPIBackend(transparent_mode=True, retry_policy=None)
    error = request_error(status, problem)
    assert backend.classify(error) is outcome
    assert backend.classify_init(error) is init_failure


def test_other_exceptions_say_nothing_about_the_session():
    backend = ZyteAPIBackend(transparent_mode=True, retry_policy=None)
    assert backend.classify(ValueError()) is None
    assert backend.classify_init(ValueError()) is None
