"""The session retry policies, with the real zyte-api client."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from zyte_api import AsyncZyteAPI, RequestError

from scrapy_session_pools import (
    SESSION_AGGRESSIVE_RETRY_POLICY,
    SESSION_DEFAULT_RETRY_POLICY,
)


def fetch(api_url: str, policy, url: str) -> BaseException | None:
    async def run() -> BaseException | None:
        client = AsyncZyteAPI(api_key="test-key", api_url=api_url)
        try:
            await client.get(
                {"url": url, "browserHtml": True, "session": {"id": "s"}},
                retrying=policy,
            )
        except RequestError as error:
            return error
        return None

    # The reactor's loop runs in this thread; the client gets its own.
    with ThreadPoolExecutor(1) as executor:
        return executor.submit(asyncio.run, run()).result(timeout=30)


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param(SESSION_DEFAULT_RETRY_POLICY, id="default"),
        pytest.param(SESSION_AGGRESSIVE_RETRY_POLICY, id="aggressive"),
    ],
)
@pytest.mark.parametrize(
    ("url", "status"),
    [
        pytest.param("https://example.com/?error=520", 520, id="520"),
        pytest.param("https://example.com/?error=521", 521, id="521"),
        pytest.param(
            "https://example.com/?creation_error=5", 503, id="session-creation-error"
        ),
        pytest.param("https://example.com/?expire_after=0", 422, id="session-expired"),
    ],
)
def test_session_errors_reach_the_middleware_without_client_retries(
    zyte_api, policy, url, status
):
    error = fetch(zyte_api.api_url, policy, url)
    assert isinstance(error, RequestError)
    assert error.status == status
    assert zyte_api.state()["requests"] == 1
