"""The alternatives compared in each scenario, as crawl settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .scenarios import Scenario

ZYTE_ADDON = "scrapy_zyte_api.Addon"
OURS_ADDON = "scrapy_session_pools.Addon"

#: Bench-only downloader middlewares and their priorities: around the session
#: middlewares (667) for wait stamps, after them for fault injection.
WAIT_START_MIDDLEWARE = ("bench.middlewares.WaitStartMiddleware", 660)
WAIT_END_MIDDLEWARE = ("bench.middlewares.WaitEndMiddleware", 670)
FAULT_MIDDLEWARE = ("bench.middlewares.FaultInjectionMiddleware", 700)


@dataclass(frozen=True)
class Alternative:
    """One way to crawl a scenario.

    *sessions* says whether sessions are on (then the emulated faults of the
    scenario apply). *settings* are added to those of the scenario; *knobs*
    are appended to the query string of every URL. With *slow_pages* false,
    the requests to the slow domain of a scenario that has one (scenario 8)
    are left out: the healthy pages alone, a baseline.
    """

    name: str
    description: str
    addons: dict[str, int]
    sessions: bool
    settings: dict[str, Any] = field(default_factory=dict)
    knobs: str = ""
    slow_pages: bool = True


ALTERNATIVES: dict[str, dict[str, Alternative]] = {
    "zyte_api": {
        alternative.name: alternative
        for alternative in (
            Alternative(
                "off",
                "scrapy-zyte-api add-on, sessions disabled (the floor)",
                {ZYTE_ADDON: 500},
                sessions=False,
            ),
            Alternative(
                "zyte",
                "scrapy-zyte-api's own session management",
                {ZYTE_ADDON: 500},
                sessions=True,
            ),
            Alternative(
                "ours",
                "scrapy-zyte-api + scrapy-session-pools, default settings",
                {ZYTE_ADDON: 500, OURS_ADDON: 510},
                sessions=True,
            ),
            Alternative(
                "ours-matched",
                "ours with ZYTE_API_SESSION_MAX_USES=19, ZYTE_API_SESSION_MAX_AGE=2.3",
                {ZYTE_ADDON: 500, OURS_ADDON: 510},
                sessions=True,
                settings={
                    "ZYTE_API_SESSION_MAX_USES": 19,
                    "ZYTE_API_SESSION_MAX_AGE": 2.3,
                },
            ),
            Alternative(
                "ours-on-demand",
                "ours with ZYTE_API_SESSION_POOL_GROWTH='on-demand' and idle "
                "pools evicted after 2 s",
                {ZYTE_ADDON: 500, OURS_ADDON: 510},
                sessions=True,
                settings={
                    "ZYTE_API_SESSION_POOL_GROWTH": "on-demand",
                    "ZYTE_API_SESSION_POOL_IDLE_TIMEOUT": 2.0,
                },
            ),
            Alternative(
                "ours-soak",
                "ours with ZYTE_API_SESSION_POOL_GROWTH='on-demand' and idle "
                "pools evicted after 10 s",
                {ZYTE_ADDON: 500, OURS_ADDON: 510},
                sessions=True,
                settings={
                    "ZYTE_API_SESSION_POOL_GROWTH": "on-demand",
                    "ZYTE_API_SESSION_POOL_IDLE_TIMEOUT": 10.0,
                },
            ),
            Alternative(
                "ours-eager",
                "ours with ZYTE_API_SESSION_POOL_GROWTH='eager' (scrapy-zyte-api's "
                "filling: each of the first 8 requests of a pool starts a session)",
                {ZYTE_ADDON: 500, OURS_ADDON: 510},
                sessions=True,
                settings={"ZYTE_API_SESSION_POOL_GROWTH": "eager"},
            ),
            Alternative(
                "ours-evicted",
                "ours with idle pools evicted after 1 s "
                "(ZYTE_API_SESSION_POOL_IDLE_TIMEOUT=1)",
                {ZYTE_ADDON: 500, OURS_ADDON: 510},
                sessions=True,
                settings={"ZYTE_API_SESSION_POOL_IDLE_TIMEOUT": 1.0},
            ),
            Alternative(
                "ours-size1",
                "ours with ZYTE_API_SESSION_POOL_SIZE=1",
                {ZYTE_ADDON: 500, OURS_ADDON: 510},
                sessions=True,
                settings={"ZYTE_API_SESSION_POOL_SIZE": 1},
            ),
            Alternative(
                "alone",
                "ours, the healthy pages only (no slow pool): the baseline",
                {ZYTE_ADDON: 500, OURS_ADDON: 510},
                sessions=True,
                slow_pages=False,
            ),
            Alternative(
                "zyte-alone",
                "zyte, the healthy pages only (no slow pool)",
                {ZYTE_ADDON: 500},
                sessions=True,
                slow_pages=False,
            ),
        )
    },
    "site": {
        alternative.name: alternative
        for alternative in (
            Alternative(
                "off",
                "Scrapy alone: /landing once, then its cookie jar (the floor)",
                {},
                sessions=False,
            ),
            Alternative(
                "ours",
                "scrapy-session-pools HTTP sessions, inits from /landing",
                {OURS_ADDON: 500},
                sessions=True,
            ),
            Alternative(
                "ours-bans",
                "ours, every page with ban_after=20 (banned at the 21st use)",
                {OURS_ADDON: 500},
                sessions=True,
                knobs="ban_after=20",
            ),
        )
    },
}


def get_alternative(scenario: Scenario, name: str) -> Alternative:
    """Return the alternative *name* of *scenario*."""
    if name not in scenario.alternatives:
        raise ValueError(
            f"Scenario {scenario.name!r} has no alternative {name!r}; "
            f"expected one of {', '.join(scenario.alternatives)}"
        )
    return ALTERNATIVES[scenario.server][name]


def crawl_settings(
    scenario: Scenario,
    alternative: Alternative,
    server_url: str,
    *,
    seed: int,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the settings of one crawl of *alternative* in *scenario*.

    *server_url* is the base URL of the fake API or of the website; *extra*
    settings (from ``--set``) apply to the alternatives with sessions on.
    """
    settings: dict[str, Any] = {
        "LOG_LEVEL": "ERROR",
        "TELNETCONSOLE_ENABLED": False,
        "CONCURRENT_REQUESTS": scenario.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": scenario.concurrency,
        # The pool size is left at its default (8 for both packages): a size
        # set by the user makes our pools grow eagerly, as scrapy-zyte-api's.
        # A guard against a hanging crawl, far above any expected duration.
        "CLOSESPIDER_TIMEOUT": 1800,
        "ADDONS": dict(alternative.addons),
        "ZYTE_API_SESSION_ENABLED": alternative.sessions,
        **scenario.settings,
        **alternative.settings,
    }
    if scenario.server == "zyte_api":
        settings["ZYTE_API_KEY"] = "bench-key"
        settings["ZYTE_API_URL"] = f"{server_url}/v1/"
    elif alternative.sessions:
        settings["ZYTE_API_SESSION_PARAMS"] = {"url": f"{server_url}/landing"}
    middlewares: dict[str, int] = {}
    if scenario.wait_stamps:
        middlewares.update([WAIT_START_MIDDLEWARE, WAIT_END_MIDDLEWARE])
    if alternative.sessions and (
        scenario.ban_rate or scenario.set_location_fail_rate or scenario.init_delay
    ):
        middlewares.update([FAULT_MIDDLEWARE])
        settings.update(
            BENCH_BAN_RATE=scenario.ban_rate,
            BENCH_SET_LOCATION_FAIL_RATE=scenario.set_location_fail_rate,
            BENCH_INIT_DELAY=scenario.init_delay,
            BENCH_SEED=seed,
        )
    if middlewares:
        settings["DOWNLOADER_MIDDLEWARES"] = middlewares
    if alternative.sessions and extra:
        settings.update(extra)
    return settings
