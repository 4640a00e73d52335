from __future__ import annotations

from scrapy.utils.defer import deferred_f_from_coro_f

from .helpers import (
    run_crawl,
    session_id_of,
    session_stats,
    spider_for,
    spider_of,
    zyte_api_settings,
)


@deferred_f_from_coro_f
async def test_each_request_gets_a_session_from_the_domain_pool(zyte_api):
    crawler = await run_crawl(
        zyte_api_settings(zyte_api, ZYTE_API_SESSION_POOL_SIZE=2),
        spider_for("https://example.com/page", requests=6),
    )
    assert session_stats(crawler) == {
        "init/check-passed": 2,
        "use/check-passed": 6,
    }
    spider = spider_of(crawler)
    assert len(spider.responses) == 6
    session_ids = {session_id_of(response) for response in spider.responses}
    assert len(session_ids) == 2
    state = zyte_api.state()
    assert state["sessions_created"] == 2
    assert set(state["live_sessions"]) == session_ids
