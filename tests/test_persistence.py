"""Saving and restoring pools: JOBDIR resume, state files, eviction."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import stat
import subprocess
import sys
import time
import weakref
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.utils.defer import deferred_f_from_coro_f

from scrapy_session_pools import SessionControl
from scrapy_session_pools.persistence.stores.file import FORMAT_VERSION, FileStore
from scrapy_session_pools.pool_registry import PoolRegistry

from .helpers import (
    RecordingSpider,
    run_crawl,
    session_id_of,
    session_stats,
    spider_of,
    spider_with,
    zyte_api_settings,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, None, id="missing"),
        pytest.param('{"version": 1, "pools": [', "not valid JSON", id="truncated"),
        pytest.param("\x00\x01garbage", "not valid JSON", id="corrupt"),
        pytest.param('{"version": 99}', "unknown format", id="other-version"),
        pytest.param(
            '{"version": 1, "pools": 5}',
            "is damaged: 'pools' must be a list, got 5",
            id="pools-number",
        ),
        pytest.param(
            '{"version": 1, "pools": null}',
            "is damaged: 'pools' must be a list, got None",
            id="pools-null",
        ),
        pytest.param(
            '{"version": 1, "pools": [], "saved_at": "yesterday"}',
            "is damaged: 'saved_at' must be a time in seconds, got 'yesterday'",
            id="saved-at-string",
        ),
        pytest.param(
            '{"version": 1, "pools": [], "saved_at": [1]}',
            "is damaged: 'saved_at' must be a time in seconds, got [1]",
            id="saved-at-list",
        ),
        pytest.param(
            b'{"version": 1, "pools": ["\xff\xfe"]}',
            "Could not read the session state file",
            id="not-utf-8",
        ),
    ],
)
def test_bad_state_files_load_as_a_cold_start_with_a_warning(
    tmp_path, caplog, content, message
):
    path = tmp_path / "state.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    assert FileStore(path).load() is None
    if message:
        assert message in caplog.text
        assert str(path) in caplog.text
    else:
        assert caplog.text == ""


DAMAGED_RECORDS = [
    pytest.param(
        {"uses": float("inf")}, "'uses' must be an integer, got inf", id="uses-inf"
    ),
    pytest.param(
        {"cookies": "notalist"},
        "'cookies' must be a list of cookies with a name, value and domain, got "
        "'notalist'",
        id="cookies-not-a-list",
    ),
    pytest.param(
        {"cookies": [{"name": "a", "value": "1"}]},
        "'cookies' must be a list of cookies with a name, value and domain",
        id="cookie-without-domain",
    ),
    pytest.param({"age": "old"}, "'age' must be a number of seconds", id="age"),
    pytest.param({"id": 5}, "'id' must be a string, got 5", id="id"),
]


@pytest.mark.parametrize(("damage", "message"), DAMAGED_RECORDS)
@deferred_f_from_coro_f
async def test_damaged_saved_sessions_are_skipped_with_a_warning(
    zyte_api, tmp_path, caplog, damage, message
):
    good = {"id": "good", "age": 1.0, "idle": 1.0, "uses": 1, "cookies": []}
    bad = {**good, "id": "bad", **damage}
    path = tmp_path / "state.json"
    state = {
        "version": FORMAT_VERSION,
        "saved_at": time.time(),
        "pools": [
            {"id": "example.com", "kind": "zyte_api", "sessions": [bad, good, 7]}
        ],
    }
    path.write_text(json.dumps(state))
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_STATE_FILE=str(path),
        ),
        spider_with(pages("a", 2)),
    )
    # The good session serves the crawl; the others are skipped, named.
    assert session_stats(crawler) == {"use/check-passed": 2}
    assert {session_id_of(r) for r in spider_of(crawler).responses} == {"good"}
    assert f"of pool example.com: {message}" in caplog.text
    assert "Skipping saved session None of pool example.com: a session must be" in (
        caplog.text
    )


def test_state_files_are_written_atomically_for_the_owner_only(tmp_path):
    path = tmp_path / "sub" / "state.json"
    store = FileStore(path)
    store.save({"pools": []})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.load() == {"pools": [], "version": FORMAT_VERSION}
    store.save({"pools": [{"id": "a"}]})
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]


def pages(prefix: str, count: int) -> list[Request]:
    return [Request(f"https://example.com/{prefix}/{n}") for n in range(count)]


@deferred_f_from_coro_f
async def test_resumed_job_reuses_its_saved_sessions(zyte_api, tmp_path):
    settings = zyte_api_settings(
        zyte_api, ZYTE_API_SESSION_POOL_SIZE=2, JOBDIR=str(tmp_path / "job")
    )
    first = await run_crawl(settings, spider_with(pages("a", 4)))
    assert session_stats(first)["init/check-passed"] == 2
    saved = json.loads((tmp_path / "job" / "session_pools.json").read_text())
    assert [len(p["sessions"]) for p in saved["pools"]] == [2]
    first_sessions = {session_id_of(r) for r in spider_of(first).responses}

    second = await run_crawl(settings, spider_with(pages("b", 4)))
    assert session_stats(second) == {"use/check-passed": 4}
    assert {session_id_of(r) for r in spider_of(second).responses} == first_sessions
    assert zyte_api.state()["sessions_created"] == 2


@deferred_f_from_coro_f
async def test_saved_sessions_past_their_limits_are_dropped_on_load(
    zyte_api, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    settings = zyte_api_settings(
        zyte_api,
        ZYTE_API_SESSION_POOL_SIZE=1,
        JOBDIR=str(tmp_path / "job"),
        CONCURRENT_REQUESTS=1,
    )
    await run_crawl(settings, spider_with(pages("a", 3)))
    settings["ZYTE_API_SESSION_MAX_USES"] = 3
    second = await run_crawl(settings, spider_with(pages("b", 1)))
    assert session_stats(second)["init/check-passed"] == 1
    assert "Restored 0 of 1 saved session(s) of pool example.com" in caplog.text


class ExportingSpider(RecordingSpider):
    start_requests_list = pages("a", 2)
    export_path = ""

    def closed(self, reason):
        SessionControl.from_crawler(self.crawler).save(self.export_path)


@deferred_f_from_coro_f
async def test_exported_sessions_are_loaded_by_another_crawl(zyte_api, tmp_path):
    path = tmp_path / "exported.json"
    spider_cls = type("Exporting", (ExportingSpider,), {"export_path": str(path)})
    await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=1), spider_cls
    )
    assert path.exists()
    second = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_STATE_FILE=str(path),
        ),
        spider_with(pages("b", 2)),
    )
    assert session_stats(second) == {"use/check-passed": 2}


def run_resumable(
    zyte_api, jobdir: Path, mode: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.persistence_crawl",
            zyte_api.api_url,
            str(jobdir),
            "16",
            mode,
            "4",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("mode", "returncode"),
    [
        pytest.param("term", 0, id="sigterm"),
        pytest.param("kill", -9, id="sigkill-after-a-save"),
    ],
)
def test_job_stopped_mid_way_resumes_with_its_sessions(
    zyte_api, tmp_path, mode, returncode
):
    jobdir = tmp_path / "job"
    first = run_resumable(zyte_api, jobdir, mode)
    assert first.returncode == returncode, first.stderr
    done_first = (jobdir / "done.txt").read_text().split()
    assert 4 <= len(done_first) < 16
    created = zyte_api.state()["sessions_created"]
    assert created == 2

    second = run_resumable(zyte_api, jobdir, "none")
    assert second.returncode == 0, second.stderr
    stats = json.loads(second.stdout.strip().splitlines()[-1])
    # No new session: the saved ones are still valid on the server.
    assert "sessions/init/check-passed" not in stats
    assert zyte_api.state()["sessions_created"] == created
    # No request lost: every page was scraped by one run or the other.
    done = (jobdir / "done.txt").read_text().split()
    assert set(done) == {str(n) for n in range(16)}, second.stderr


class PausingDomainsSpider(RecordingSpider):
    async def start(self):
        for n in range(5):
            yield Request(f"https://d{n}.example/", callback=self.parse)
        yield Request("https://pause.example/", callback=self.parse_pause)

    async def parse_pause(self, response):
        import asyncio

        self.responses.append(response)
        await asyncio.sleep(1.0)
        yield Request("https://last.example/", callback=self.parse)


@deferred_f_from_coro_f
async def test_idle_pools_are_evicted_with_their_sessions(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_POOL_IDLE_TIMEOUT=0.3,
        ),
        PausingDomainsSpider,
    )
    stats = session_stats(crawler)
    assert stats["pools-evicted"] >= 5
    assert stats["retired/evicted"] == stats["pools-evicted"]
    manager = SessionControl.from_crawler(crawler)
    assert {p.id for p in manager.pools()} <= {"pause.example", "last.example"}


@pytest.fixture
def no_cyclic_gc():
    """Turn the cyclic garbage collector off: only reference counts free."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@deferred_f_from_coro_f
async def test_an_evicted_pool_is_freed_without_the_cyclic_collector(
    zyte_api, monkeypatch, no_cyclic_gc
):
    # Nothing of an evicted pool points back at it (no closures, no helper
    # objects holding the pool): reference counting alone frees it and its
    # sessions, so broad crawls leave no garbage for the collector.
    created: list[weakref.ref[Any]] = []
    original = PoolRegistry.get_or_create

    def recording(self, *args, **kwargs):
        pool, is_new = original(self, *args, **kwargs)
        created.append(weakref.ref(pool))
        return pool, is_new

    monkeypatch.setattr(PoolRegistry, "get_or_create", recording)
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_IDLE_TIMEOUT=0.3),
        PausingDomainsSpider,
    )
    evicted = session_stats(crawler)["pools-evicted"]
    assert evicted >= 5
    freed = [ref for ref in created if ref() is None]
    assert len(freed) == evicted


class AgeSpider(RecordingSpider):
    start_requests_list = pages("b", 1)

    def parse(self, response):
        super().parse(response)
        control = SessionControl.from_crawler(self.crawler)
        self.ages = [s.age for s in control.sessions()]


@deferred_f_from_coro_f
async def test_restored_sessions_keep_their_age(zyte_api, tmp_path):
    settings = zyte_api_settings(
        zyte_api, ZYTE_API_SESSION_POOL_SIZE=1, JOBDIR=str(tmp_path / "job")
    )
    await run_crawl(settings, spider_with(pages("a", 1)))
    # The session ages between the runs too: it is not restored as new.
    await asyncio.sleep(0.5)
    second = await run_crawl(settings, AgeSpider)
    spider = second.spider
    assert isinstance(spider, AgeSpider)
    [age] = spider.ages
    assert age >= 0.5


@deferred_f_from_coro_f
async def test_a_failing_background_task_is_logged(caplog):
    from scrapy_session_pools.tasks import start_background

    async def broken() -> None:
        raise RuntimeError("maintenance bug")

    task = start_background(broken(), "testing")
    with contextlib.suppress(RuntimeError):
        await task
    await asyncio.sleep(0)  # done callbacks run in the next loop iteration
    assert "The background task testing of scrapy-session-pools failed" in caplog.text
    assert "RuntimeError: maintenance bug" in caplog.text


class WaitingDemandSpider(RecordingSpider):
    """Schedules a page of a.example behind slow pages of b.example."""

    async def start(self):
        yield Request("https://a.example/0", callback=self.fan_out, priority=10)

    def fan_out(self, response):
        self.responses.append(response)
        for n in range(6):
            yield Request(
                f"https://b.example/{n}?delay=0.2", callback=self.parse, priority=5
            )
        yield Request("https://a.example/1", callback=self.parse, priority=0)


@deferred_f_from_coro_f
async def test_a_pool_with_requests_in_the_scheduler_is_not_evicted(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_SIZE=1,
            ZYTE_API_SESSION_POOL_IDLE_TIMEOUT=0.3,
            ZYTE_API_SESSION_STATS_PER_POOL=True,
            CONCURRENT_REQUESTS=1,
            # Strict priorities, so that a.example/1 waits for b.example.
            SCHEDULER_PRIORITY_QUEUE="scrapy.pqueues.ScrapyPriorityQueue",
        ),
        WaitingDemandSpider,
    )
    assert [r.url for r in spider_of(crawler).responses][-1] == "https://a.example/1"
    stats = session_stats(crawler)
    # a.example stayed idle for over a second, but its second page waited in
    # the scheduler: its one session served both pages.
    assert stats["pools/a.example/init/check-passed"] == 1
    assert stats["pools/a.example/use/check-passed"] == 2
    assert stats["pools/b.example/init/check-passed"] == 1


@deferred_f_from_coro_f
async def test_a_pool_evicted_as_a_request_reaches_it_loses_no_request(zyte_api):
    # Eviction runs very often here, and each website's 2 requests come in
    # turn: the 2nd may find its pool idle for longer than the timeout, just
    # as it is handed to the pool. It must get a session (from the same pool
    # or a new one), never fail because the pool was closed under it.
    requests = [
        Request(f"https://d{n // 2}.example/{n}", dont_filter=True) for n in range(300)
    ]
    crawler = await run_crawl(
        zyte_api_settings(
            zyte_api,
            ZYTE_API_SESSION_POOL_IDLE_TIMEOUT=0.01,
            CONCURRENT_REQUESTS=16,
        ),
        spider_with(requests),
    )
    spider = spider_of(crawler)
    assert [failure.value for failure in spider.failures] == []
    assert len(spider.responses) == 300
    assert session_stats(crawler)["pools-evicted"] > 0
