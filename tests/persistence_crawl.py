"""A crawl that can stop itself with SIGTERM or SIGKILL, for resume tests.

Run as ``python -m tests.persistence_crawl API_URL JOBDIR PAGES MODE AFTER``:
it requests the pages not listed in ``JOBDIR/done.txt`` (one per line,
appended as they are scraped) and, with MODE ``term`` or ``kill``, sends that
signal to itself after AFTER pages once the session state file exists. With
``term`` (and the run after it) the folder is Scrapy's JOBDIR; with ``kill``
(and the run after it) it only holds the session state file, because Scrapy
resumes its request queue only after a graceful stop. At the end it prints
the session stats as one JSON line.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import AsyncCrawlerProcess


class ResumableSpider(Spider):
    name = "resumable"
    settings_jobdir = ""
    pages = 0
    mode = "none"
    after = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.jobdir = Path(self.settings_jobdir)
        self.done_file = self.jobdir / "done.txt"
        self.scraped = 0

    async def start(self):
        done = (
            set(self.done_file.read_text().split())
            if self.done_file.exists()
            else set()
        )
        for page in range(self.pages):
            if str(page) not in done:
                yield Request(
                    f"https://example.com/page/{page}?delay=0.15", dont_filter=True
                )

    def parse(self, response):
        page = response.url.split("/page/")[1].split("?")[0]
        with self.done_file.open("a") as file:
            file.write(f"{page}\n")
        self.scraped += 1
        state_file = self.jobdir / "session_pools.json"
        if self.mode != "none" and self.scraped >= self.after and state_file.exists():
            os.kill(
                os.getpid(), signal.SIGTERM if self.mode == "term" else signal.SIGKILL
            )
            self.mode = "none"


def main() -> None:
    api_url, jobdir, pages, mode, after = sys.argv[1:6]
    Path(jobdir).mkdir(parents=True, exist_ok=True)
    # Scrapy cannot resume its own request queue after SIGKILL (only after a
    # graceful stop), so that scenario keeps only the session state file in
    # the folder; the done file tells which pages are left.
    persistence = (
        {"ZYTE_API_SESSION_STATE_FILE": str(Path(jobdir) / "session_pools.json")}
        if mode == "kill" or (Path(jobdir) / "killed").exists()
        else {"JOBDIR": jobdir}
    )
    if mode == "kill":
        (Path(jobdir) / "killed").touch()
    process = AsyncCrawlerProcess(
        {
            **persistence,
            "ADDONS": {"scrapy_zyte_api.Addon": 500, "scrapy_session_pools.Addon": 510},
            "ZYTE_API_KEY": "test-key",
            "ZYTE_API_URL": api_url,
            "ZYTE_API_SESSION_ENABLED": True,
            "ZYTE_API_SESSION_POOL_SIZE": 2,
            "ZYTE_API_SESSION_SAVE_INTERVAL": 0.2,
            "CONCURRENT_REQUESTS": 2,
            "LOG_LEVEL": "WARNING",
            "TELNETCONSOLE_ENABLED": False,
        }
    )
    spider_cls = type(
        "Resumable",
        (ResumableSpider,),
        {
            "settings_jobdir": jobdir,
            "pages": int(pages),
            "mode": mode,
            "after": int(after),
        },
    )
    crawler = process.create_crawler(spider_cls)
    process.crawl(crawler)
    process.start()
    assert crawler.stats is not None
    stats = {
        k: v
        for k, v in crawler.stats.get_stats().items()
        if k.startswith("sessions/") and "/gauges/" not in k
    }
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
