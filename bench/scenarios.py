"""The benchmark scenarios: servers, request sets, alternatives and knobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

#: The address that session inits of scenario 3 set (``setLocation``).
LOCATION = {"addressCountry": "US", "postalCode": "10001"}

#: The two domains of scenario 8: a healthy pool and a slow one.
HEALTHY_DOMAIN = "healthy.example"
SLOW_DOMAIN = "slow.example"


@dataclass(frozen=True)
class Scenario:
    """One benchmark scenario.

    *server* is ``"zyte_api"`` (the fake Zyte API) or ``"site"`` (the
    session-gated website, crawled with plain HTTP sessions). Requests go to
    *domains* domains round-robin, or, with *per_domain*, to consecutive
    groups of that many requests per domain, or, with *spread*, to
    ``requests / spread`` domains round-robin (each domain gets *spread*
    requests, spaced one round of domains apart). *knobs* is the query string of
    the fake API scenario knobs appended to every URL; *location* is set as
    the ``zyte_api_session_location`` meta key of every request.
    """

    name: str
    title: str
    measures: str
    server: str
    alternatives: tuple[str, ...]
    requests: int
    domains: int = 1
    per_domain: int | None = None
    #: Requests per domain, sent round-robin over the domains.
    spread: int | None = None
    concurrency: int = 32
    server_options: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    knobs: str = ""
    location: dict[str, str] | None = None
    #: Share of session-using requests answered 520 (emulated random bans).
    ban_rate: float = 0.0
    #: Share of session inits whose setLocation action fails.
    set_location_fail_rate: float = 0.0
    #: Extra seconds of latency of session init requests.
    init_delay: float = 0.0
    #: Measure how long requests wait for a session.
    wait_stamps: bool = False
    #: Also measure the memory retained per pool (tracemalloc), once.
    memory: bool = False
    #: One request to the slow domain per this many to the healthy one; the
    #: number of requests of a run is that of the healthy domain.
    slow_every: int | None = None
    #: Whether ``bench.run all`` runs it (the longest ones are run alone).
    in_all: bool = True

    def domain_count(self, requests: int) -> int:
        """Return the number of domains of a run of *requests* requests."""
        if self.per_domain is not None:
            return max(1, -(-requests // self.per_domain))
        if self.spread is not None:
            return max(1, -(-requests // self.spread))
        return self.domains

    def planned(
        self,
        base_url: str,
        requests: int,
        extra_knobs: str = "",
        *,
        slow: bool = True,
    ) -> list[tuple[str, dict[str, Any]]]:
        """Return the URL and meta of each request of a run.

        *base_url* is the website URL for the ``site`` server; Zyte API
        scenarios use made-up domains (``https://d7.example/``), which only
        the fake API sees. *extra_knobs* are added to the scenario's knobs.
        With *slow* false, a scenario with *slow_every* leaves out the
        requests to the slow domain.
        """
        meta: dict[str, Any] = {}
        if self.location is not None:
            meta["zyte_api_session_location"] = dict(self.location)
        knobs = "".join(f"&{k}" for k in (self.knobs, extra_knobs) if k)
        if self.slow_every is not None:
            return [
                (f"https://{domain}/p/{index}?n={index}{knobs}", dict(meta))
                for domain, index in self._slow_pool_pages(requests, slow=slow)
            ]
        planned = []
        domains = self.domain_count(requests)
        for index in range(requests):
            if self.server == "site":
                url = f"{base_url}/page/{index}?n={index}{knobs}"
            else:
                if self.per_domain is not None:
                    domain = index // self.per_domain
                else:
                    domain = index % domains
                url = f"https://d{domain}.example/p/{index}?n={index}{knobs}"
            planned.append((url, dict(meta)))
        return planned

    def _slow_pool_pages(
        self, requests: int, *, slow: bool
    ) -> Iterator[tuple[str, int]]:
        """Yield the domain and page number of each request of a slow-pool run.

        *requests* pages of the healthy domain; with *slow*, page *k* of the
        slow domain comes just before healthy page ``k * slow_every``.
        """
        assert self.slow_every is not None
        for index in range(requests):
            if slow and index % self.slow_every == 0:
                yield SLOW_DOMAIN, index // self.slow_every
            yield HEALTHY_DOMAIN, index


_ZYTE = ("off", "zyte", "ours")

SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            name="overhead",
            title="1. Overhead: 1 domain, no bans, zero latency",
            measures=(
                "The cost of session management itself: every call succeeds "
                "and the server answers at once, so any slowdown against "
                "sessions-off is CPU spent by the session code."
            ),
            server="zyte_api",
            alternatives=_ZYTE,
            requests=5000,
        ),
        Scenario(
            name="broad",
            title="2. Broad crawl: 5 requests per domain",
            measures=(
                "Pool creation cost: each domain is a pool of the default "
                "size (8). scrapy-zyte-api, and ours-eager, start a session "
                "for each of the first 8 requests of a pool; ours, by "
                "default, only when every session of the pool is busy."
            ),
            server="zyte_api",
            alternatives=(*_ZYTE, "ours-eager"),
            requests=5000,
            per_domain=5,
        ),
        Scenario(
            name="broad-10k",
            title="2b. Broad crawl: 10,000 domains, 5 requests per domain",
            measures=(
                "Scenario 2 at 10,000 pools: whether the cost per pool stays "
                "the same as the pools add up."
            ),
            server="zyte_api",
            alternatives=_ZYTE,
            requests=50000,
            per_domain=5,
            in_all=False,
        ),
        Scenario(
            name="realistic",
            title="3. Cost under realistic sessions",
            measures=(
                "Calls per success, inits, wasted calls and lost requests "
                "when sessions get banned after 20 uses, 2% of uses are "
                "banned at random, 10% of inits fail setLocation, sessions "
                "expire after 2.5 s; 50 ms per call, 300 ms per init."
            ),
            server="zyte_api",
            alternatives=(*_ZYTE, "ours-matched"),
            requests=3000,
            domains=3,
            server_options={"session_max_age": 2.5, "latency": 0.05},
            knobs="ban_after=20",
            location=LOCATION,
            ban_rate=0.02,
            set_location_fail_rate=0.10,
            init_delay=0.25,
        ),
        Scenario(
            name="contention",
            title="4. Contention: concurrency 64, pool size 2, delay 0.5 s",
            measures=(
                "Fair waiting: 64 requests in flight share 2 sessions that "
                "may each be used every 0.5 s (randomized 0.25-0.75 s). No "
                "request may fail for lack of a session; wait p50/p95 is the "
                "time a request spends in the session middleware."
            ),
            server="zyte_api",
            alternatives=_ZYTE,
            requests=120,
            concurrency=64,
            settings={
                "ZYTE_API_SESSION_POOL_SIZE": 2,
                "ZYTE_API_SESSION_DELAY": 0.5,
            },
            wait_stamps=True,
        ),
        Scenario(
            name="scale",
            title="5. Scale: 2 requests per domain, thousands of domains",
            measures=(
                "Throughput with thousands of pools, and the memory each "
                "pool keeps after the crawl (tracemalloc: the memory that "
                "each extra pool adds, between crawls of all and half the "
                "requests, minus what Scrapy keeps per website with sessions "
                "off). ours keeps its pools live; ours-evicted evicts those "
                "idle for 1 s."
            ),
            server="zyte_api",
            alternatives=(*_ZYTE, "ours-evicted"),
            requests=4000,
            per_domain=2,
            memory=True,
        ),
        Scenario(
            name="soak",
            title="7. Soak: 4 requests per domain, round-robin, idle eviction",
            measures=(
                "Pool eviction under a broad crawl: 4 requests per domain, "
                "round-robin over the domains, so the later requests of a "
                "domain wait in Scrapy's scheduler while other domains are "
                "crawled; on-demand growth, idle pools evicted after 10 s. "
                "Inits per domain and pools evicted count pools evicted too "
                "early (target: <= 1.1 inits per domain)."
            ),
            server="zyte_api",
            alternatives=(*_ZYTE[:2], "ours-soak"),
            requests=16000,
            spread=4,
        ),
        Scenario(
            name="http",
            title="6. HTTP sessions against the gated site",
            measures=(
                "Plain-HTTP sessions: throughput against Scrapy alone (one "
                "cookie session from /landing), and pages per session created; "
                "ours-bans adds ban_after=20 to every page."
            ),
            server="site",
            alternatives=("off", "ours", "ours-bans"),
            requests=3000,
        ),
        Scenario(
            name="slow-pool",
            title="8. Slow pool: 1 session used every 2 s beside a healthy pool",
            measures=(
                "Isolation of pools: 400 pages of a healthy domain with one "
                "page of a slow domain before every 10 (pool of 1 session, "
                "2 s between uses), 50 ms per call, concurrency 16. The "
                "healthy throughput (healthy pages / time of the last one) "
                "is compared with that of the healthy pages crawled alone, "
                "in the same round (target: ours >= 0.9x alone)."
            ),
            server="zyte_api",
            alternatives=("zyte", "ours", "alone", "zyte-alone"),
            requests=400,
            domains=2,
            slow_every=10,
            concurrency=16,
            server_options={"latency": 0.05},
            settings={"ZYTE_API_SESSION_POOLS": {SLOW_DOMAIN: {"size": 1, "delay": 2}}},
        ),
    )
}
