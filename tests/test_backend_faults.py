"""A transport (Zyte API) that is slow or dies: logged, and the crawl ends.

Run as ``python -m tests.test_backend_faults API_URL``, this module is also
the crawl that :func:`test_sigterm_ends_a_crawl_blocked_on_a_slow_transport`
stops with SIGTERM: 4 requests through a pool of 2 sessions, each errback
printed as ``ERRBACK <exception>`` and the close reason as
``FINISHED <reason>`` on the standard output.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from scrapy import Request
from scrapy.utils.defer import deferred_f_from_coro_f
from zyte_api import RetryFactory, stop_after_uninterrupted_delay
from zyte_api._retry import stop_on_download_error

from scrapy_session_pools import SessionWaitTimeout
from scrapy_session_pools.testing import FakeZyteAPI

from .helpers import (
    RecordingSpider,
    run_crawl,
    session_stats,
    spider_for,
    spider_of,
    zyte_api_settings,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from scrapy.http import Response

ROOT = Path(__file__).resolve().parent.parent
WATCH_LOGGER = "scrapy_session_pools.transport_watch"


class _ShortRetryFactory(RetryFactory):
    """Network errors are retried for 2 s (python-zyte-api: 15 minutes)."""

    network_error_stop = stop_after_uninterrupted_delay(2)
    download_error_stop = stop_on_download_error(max_total=1, max_permanent=1)


#: A retry policy for session requests that gives up on a dead transport.
SHORT_RETRY_POLICY = _ShortRetryFactory().build()


def watch_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == WATCH_LOGGER and record.levelno == logging.WARNING
    ]


@deferred_f_from_coro_f
async def test_slow_transport_is_logged_and_every_page_is_scraped(
    zyte_api: FakeZyteAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    zyte_api.configure(latency=2.5)
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, DOWNLOAD_TIMEOUT=1, ZYTE_API_SESSION_POOL_SIZE=1),
        spider_for("https://example.com/slow", requests=2),
    )
    assert crawler.stats is not None
    assert crawler.stats.get_value("finish_reason") == "finished"
    spider = spider_of(crawler)
    assert len(spider.responses) == 2
    assert spider.failures == []
    # Blocked twice: while the init waited 2.5 s, then while both pages did.
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/check-passed": 2,
        "transport-blocked": 2,
    }
    warnings = watch_warnings(caplog)
    assert warnings
    message = warnings[0].getMessage()
    assert "Session pool example.com is blocked on the transport" in message
    assert "no request got a response from Zyte API" in message
    assert "#slow-transport" in message
    assert getattr(warnings[0], "pool", None) == "example.com"
    assert any(
        "The transport answers again" in record.getMessage()
        for record in caplog.records
        if record.name == WATCH_LOGGER
    )


@deferred_f_from_coro_f
async def test_transport_slower_than_the_wait_limit_fails_waiting_requests(
    zyte_api: FakeZyteAPI, caplog: pytest.LogCaptureFixture
) -> None:
    zyte_api.configure(latency=4)
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            DOWNLOAD_TIMEOUT=1,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_QUEUE_MAX_ATTEMPTS=2,
            ZYTE_API_SESSION_QUEUE_WAIT_TIME=1,
        ),
        spider_for("https://example.com/slow", requests=3),
    )
    assert crawler.stats is not None
    assert crawler.stats.get_value("finish_reason") == "finished"
    spider = spider_of(crawler)
    outcomes = sorted(
        [type(failure.value).__name__ for failure in spider.failures]
        + ["scraped"] * len(spider.responses)
    )
    assert outcomes == ["SessionWaitTimeout", "SessionWaitTimeout", "scraped"]
    assert all(isinstance(f.value, SessionWaitTimeout) for f in spider.failures)
    assert "Session pool example.com is blocked on the transport" in (
        watch_warnings(caplog)[0].getMessage()
    )


class KillingSpider(RecordingSpider):
    """Stops the fake Zyte API after its first page, then asks for 5 more."""

    server: FakeZyteAPI | None = None

    async def start(self) -> AsyncIterator[Any]:
        yield self._page(0)

    def _page(self, page: int) -> Request:
        return Request(
            f"https://example.com/dies?page={page}",
            callback=self.parse,
            errback=self.errback,
        )

    def parse(self, response: Response) -> Iterator[Request]:  # type: ignore[override]  # also yields
        super().parse(response)
        if self.server is not None:
            self.server.stop()
            self.server = None
            for page in range(1, 6):
                yield self._page(page)


@deferred_f_from_coro_f
async def test_transport_killed_mid_crawl_is_logged_and_the_crawl_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    server = FakeZyteAPI()
    with server:
        spider_cls = type("Killing", (KillingSpider,), {"server": server})
        crawler = await run_crawl(
            zyte_api_settings(
                server,
                DOWNLOAD_TIMEOUT=1,
                ZYTE_API_SESSION_POOL_SIZE=1,
                RETRY_ENABLED=False,
                ZYTE_API_SESSION_RETRY_POLICY=(
                    "tests.test_backend_faults.SHORT_RETRY_POLICY"
                ),
            ),
            spider_cls,
        )
    assert crawler.stats is not None
    assert crawler.stats.get_value("finish_reason") == "finished"
    spider = spider_of(crawler)
    assert [response.url for response in spider.responses] == [
        "https://example.com/dies?page=0"
    ]
    # Every later page failed on the dead transport, after the short retries.
    assert [type(failure.value).__name__ for failure in spider.failures] == [
        "ClientConnectorError"
    ] * 5
    # A transport error is not the session's fault: it is kept.
    assert session_stats(crawler) == {
        "init/check-passed": 1,
        "use/check-passed": 1,
        "transport-blocked": 1,
    }
    warnings = watch_warnings(caplog)
    assert warnings
    assert "Session pool example.com is blocked on the transport" in (
        warnings[0].getMessage()
    )


@pytest.mark.timeout(60)
def test_sigterm_ends_a_crawl_blocked_on_a_slow_transport() -> None:
    with FakeZyteAPI(latency=40) as server:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.test_backend_faults", server.api_url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            assert process.stderr is not None
            log = []
            for line in process.stderr:
                log.append(line)
                if "is blocked on the transport" in line:
                    process.send_signal(signal.SIGTERM)
                    break
            stdout, stderr = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    log.append(stderr)
    assert process.returncode == 0, "".join(log)
    assert stdout.splitlines() == [
        "ERRBACK IgnoreRequest",
        "ERRBACK IgnoreRequest",
        "ERRBACK IgnoreRequest",
        "ERRBACK IgnoreRequest",
        "FINISHED shutdown",
    ], "".join(log)
    assert (
        "The spider is closing while session work waits for the transport: "
        "closing 1 session pool(s), 2 session initialization(s) cancelled, "
        "2 request(s) released."
    ) in "".join(log)


class _ReportingSpider(RecordingSpider):
    name = "reporting"

    async def start(self) -> AsyncIterator[Any]:
        for page in range(4):
            yield Request(
                f"https://example.com/slow?page={page}",
                callback=self.parse,
                errback=self.errback,
            )

    def parse(self, response: Response) -> None:
        print("SCRAPED", response.url, flush=True)

    def errback(self, failure: Any) -> None:
        print("ERRBACK", type(failure.value).__name__, flush=True)


def _main() -> None:
    from scrapy.crawler import AsyncCrawlerProcess

    process = AsyncCrawlerProcess(
        {
            "ADDONS": {"scrapy_zyte_api.Addon": 500, "scrapy_session_pools.Addon": 510},
            "ZYTE_API_KEY": "test-key",
            "ZYTE_API_URL": sys.argv[1],
            "ZYTE_API_SESSION_ENABLED": True,
            "ZYTE_API_SESSION_POOL_SIZE": 2,
            "DOWNLOAD_TIMEOUT": 1,
            "LOG_LEVEL": "INFO",
            "TELNETCONSOLE_ENABLED": False,
        }
    )
    crawler = process.create_crawler(_ReportingSpider)
    process.crawl(crawler)
    process.start()
    assert crawler.stats is not None
    print("FINISHED", crawler.stats.get_value("finish_reason"))


if __name__ == "__main__":
    _main()
