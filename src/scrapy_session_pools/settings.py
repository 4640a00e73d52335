"""Reads and validates every setting once, into a frozen :class:`PoolsSettings`."""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from scrapy.exceptions import ScrapyDeprecationWarning
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.utils.misc import load_object

from .identities import Profile, Seed, parse_profiles, parse_seeds
from .pool_options import GROWTH_POLICIES, SESSION_KINDS, PoolOptions
from .setting_readers import SettingsReader
from .zyte_api_settings import (
    DEFAULT_RETRY_POLICY_PATH,
    is_zyte_api_transport,
    read_retry_policy,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from typing_extensions import Self

logger = logging.getLogger(__name__)

#: The address fields of Zyte API's ``setLocation`` action that
#: ZYTE_API_SESSION_LOCATION may set: those of scrapy-zyte-api's
#: ``SessionConfig.ADDRESS_FIELDS``, in the same order.
ADDRESS_FIELDS = ("addressCountry", "addressRegion", "postalCode", "streetAddress")

#: Seconds that each attempt of ZYTE_API_SESSION_QUEUE_MAX_ATTEMPTS counts
#: for at least (see :attr:`PoolsSettings.max_wait`).
MIN_QUEUE_WAIT_TIME = 0.001


@dataclass(frozen=True, slots=True)
class PoolsSettings:
    """Every setting of scrapy-session-pools, read and validated once.

    Build it with :meth:`from_settings`; the field defaults are the defaults
    documented in :ref:`settings`.
    """

    enabled: bool = False
    pool_size: int = 8
    pools: Mapping[str, PoolOptions] = field(default_factory=dict)
    delay: float = 0.0
    randomize_delay: bool = True
    jitter: float = 0.5
    location: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    checker: Any = None
    init_action_failure_invalidates_session: bool = True
    cookie_mode: bool = False
    max_errors: int = 1
    max_check_failures: int = 1
    max_bad_inits: int = 8
    max_bad_inits_per_pool: Mapping[str, int] = field(default_factory=dict)
    queue_max_attempts: int = 60
    queue_wait_time: float = 1.0
    creation_retry_delay: float = 60.0
    retry_policy: Any = DEFAULT_RETRY_POLICY_PATH
    stats_per_pool: bool = False
    transparent_mode: bool = False
    zyte_api_transport: bool = False
    kind: str | None = None
    growth: str = "auto"
    max_age: float | None = None
    max_idle: float | None = None
    max_uses: int | None = None
    max_concurrency: int | None = None
    error_decay: float = 0.0
    blocked_status_codes: frozenset[int] = frozenset({401, 403})
    rate_limit_status_codes: frozenset[int] = frozenset({429, 503})
    profiles: tuple[Profile, ...] = ()
    seeds: Mapping[str, tuple[Seed, ...]] = field(default_factory=dict)
    connection_errors: tuple[type[BaseException], ...] = ()
    log_interval: float | None = None
    park_after: float | None = 0.2
    learn_limits: bool = True
    pool_idle_timeout: float | None = 600.0
    state_file: str | None = None
    save_interval: float = 60.0

    @property
    def default_pool_options(self) -> PoolOptions:
        """Options of a pool that no setting or pool dict configures."""
        return PoolOptions(
            size=self.pool_size,
            delay=self.delay,
            randomize_delay=self.randomize_delay,
            max_age=self.max_age,
            max_idle=self.max_idle,
            max_uses=self.max_uses,
            max_concurrency=self.max_concurrency,
            error_decay=self.error_decay,
            kind=self.kind,
            growth=self.growth,
        )

    @property
    def max_wait(self) -> float:
        """Seconds a request may wait for a session of its pool.

        Each of the :setting:`ZYTE_API_SESSION_QUEUE_MAX_ATTEMPTS` attempts
        counts for :setting:`ZYTE_API_SESSION_QUEUE_WAIT_TIME` seconds, and
        at least :data:`MIN_QUEUE_WAIT_TIME`, so that a wait time of ``0``
        with many attempts still lets a request wait for a session being
        created, as scrapy-zyte-api's polls without sleeping do.
        """
        return self.queue_max_attempts * max(self.queue_wait_time, MIN_QUEUE_WAIT_TIME)

    def max_bad_inits_for(self, pool_id: str) -> int:
        """Maximum of consecutive failed inits of the pool *pool_id*."""
        return max(1, self.max_bad_inits_per_pool.get(pool_id, self.max_bad_inits))

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> PoolsSettings:
        """Return the settings of *crawler*, read once per crawler."""
        cached = _BY_CRAWLER.get(crawler)
        if cached is None:
            cached = _BY_CRAWLER[crawler] = cls.from_settings(crawler.settings)
        return cached

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        """Read *settings*; raise :exc:`~scrapy_session_pools.InvalidSettings`
        naming every setting with a wrong value."""
        read = SettingsReader(settings)
        delay = _read_delay(read)
        jitter = _jitter(settings, read)
        randomize_delay = read.boolean(
            "ZYTE_API_SESSION_RANDOMIZE_DELAY", default=jitter > 0
        )
        pool_size = read.integer("ZYTE_API_SESSION_POOL_SIZE", 8, minimum=1)
        lifecycle = _read_lifecycle(read)
        defaults = PoolOptions(
            size=pool_size, delay=delay, randomize_delay=randomize_delay, **lifecycle
        )
        location = _read_location(read)
        result = cls(
            enabled=read.boolean("ZYTE_API_SESSION_ENABLED", default=False),
            pool_size=pool_size,
            pools=_read_pools(read, defaults),
            delay=delay,
            randomize_delay=randomize_delay,
            jitter=jitter,
            location=location,
            params=_read_params(read),
            checker=read.component("ZYTE_API_SESSION_CHECKER", method="check"),
            init_action_failure_invalidates_session=read.boolean(
                "ZYTE_API_SESSION_INIT_ACTION_FAILURE_INVALIDATES_SESSION",
                default=True,
            ),
            cookie_mode=read.boolean("ZYTE_API_SESSION_COOKIE_MODE", default=False),
            max_errors=read.integer("ZYTE_API_SESSION_MAX_ERRORS", 1),
            max_check_failures=read.integer("ZYTE_API_SESSION_MAX_CHECK_FAILURES", 1),
            max_bad_inits=read.integer("ZYTE_API_SESSION_MAX_BAD_INITS", 8),
            max_bad_inits_per_pool=read.int_dict(
                "ZYTE_API_SESSION_MAX_BAD_INITS_PER_POOL", minimum=0
            ),
            queue_max_attempts=read.integer(
                "ZYTE_API_SESSION_QUEUE_MAX_ATTEMPTS", 60, minimum=1
            ),
            queue_wait_time=read.number("ZYTE_API_SESSION_QUEUE_WAIT_TIME", 1.0),
            creation_retry_delay=read.number(
                "ZYTE_API_SESSION_CREATION_RETRY_DELAY", 60.0
            ),
            retry_policy=read_retry_policy(read, settings),
            stats_per_pool=read.boolean(
                "ZYTE_API_SESSION_STATS_PER_POOL", default=False
            ),
            transparent_mode=read.boolean("ZYTE_API_TRANSPARENT_MODE", default=False),
            zyte_api_transport=is_zyte_api_transport(settings, read),
            **lifecycle,
            **_read_http_sessions(read),
            **_read_control(read, settings),
        )
        read.raise_if_invalid()
        _warn_zero_maximums(result)
        return result


_BY_CRAWLER: WeakKeyDictionary[Crawler, PoolsSettings] = WeakKeyDictionary()


def _read_delay(read: SettingsReader) -> float:
    """ZYTE_API_SESSION_DELAY, by default DOWNLOAD_DELAY."""
    if read.raw("ZYTE_API_SESSION_DELAY") is None:
        return read.number("DOWNLOAD_DELAY", 0.0)
    return read.number("ZYTE_API_SESSION_DELAY", 0.0)


def _read_location(read: SettingsReader) -> dict[str, str]:
    """ZYTE_API_SESSION_LOCATION: setLocation address fields and strings."""
    location = read.mapping("ZYTE_API_SESSION_LOCATION")
    if any(
        key not in ADDRESS_FIELDS or not isinstance(value, str)
        for key, value in location.items()
    ):
        read.problem(
            "ZYTE_API_SESSION_LOCATION",
            f"a dict of address fields ({', '.join(ADDRESS_FIELDS)}) "
            "with string values",
            location,
        )
        return {}
    return location


def _read_params(read: SettingsReader) -> dict[str, Any]:
    """ZYTE_API_SESSION_PARAMS, whose ``url``, if any, must be a URL."""
    params = read.mapping("ZYTE_API_SESSION_PARAMS")
    url = params.get("url")
    if "url" in params and not _is_absolute_http_url(url):
        read.problem(
            "ZYTE_API_SESSION_PARAMS['url']", "an absolute http(s):// URL", url
        )
        return {}
    return params


def _is_absolute_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def _read_lifecycle(read: SettingsReader) -> dict[str, Any]:
    """Settings that are also pool options: limits, decay and kind."""
    kind = read.raw("ZYTE_API_SESSION_KIND")
    if kind is not None and kind not in SESSION_KINDS:
        read.problem("ZYTE_API_SESSION_KIND", "'zyte_api' or 'http'", kind)
        kind = None
    growth = read.raw("ZYTE_API_SESSION_POOL_GROWTH")
    if growth is None:
        growth = "auto"
    elif growth not in GROWTH_POLICIES:
        read.problem(
            "ZYTE_API_SESSION_POOL_GROWTH", "'auto', 'eager' or 'on-demand'", growth
        )
        growth = "auto"
    if growth == "auto" and read.raw("ZYTE_API_SESSION_POOL_SIZE") is not None:
        growth = "eager"  # the size the user set, filled as scrapy-zyte-api does
    return {
        "growth": growth,
        "max_age": read.optional_number("ZYTE_API_SESSION_MAX_AGE"),
        "max_idle": read.optional_number("ZYTE_API_SESSION_MAX_IDLE"),
        "max_uses": read.optional_integer("ZYTE_API_SESSION_MAX_USES"),
        "max_concurrency": read.optional_integer("ZYTE_API_SESSION_MAX_CONCURRENCY"),
        "error_decay": read.number("ZYTE_API_SESSION_ERROR_DECAY", 0.0),
        "kind": kind,
    }


def _read_control(read: SettingsReader, settings: BaseSettings) -> dict[str, Any]:
    """Settings of observability, pool eviction and persistence."""
    state_file = read.raw("ZYTE_API_SESSION_STATE_FILE")
    if isinstance(state_file, Path):
        state_file = str(state_file)
    if state_file is not None and not isinstance(state_file, str):
        read.problem("ZYTE_API_SESSION_STATE_FILE", "a file path", state_file)
        state_file = None
    jobdir = settings.get("JOBDIR")
    if state_file is None and jobdir:
        state_file = str(Path(jobdir) / "session_pools.json")
    # 0 turns eviction off; no value means the default of 10 minutes.
    idle_timeout: float | None = read.number(
        "ZYTE_API_SESSION_POOL_IDLE_TIMEOUT", 600.0
    )
    return {
        "log_interval": read.optional_number("ZYTE_API_SESSION_LOG_INTERVAL"),
        "pool_idle_timeout": idle_timeout or None,
        "state_file": state_file,
        "save_interval": read.number("ZYTE_API_SESSION_SAVE_INTERVAL", 60.0),
        "learn_limits": read.boolean("ZYTE_API_SESSION_LEARN_LIMITS", default=True),
        "park_after": read.number("ZYTE_API_SESSION_PARK_AFTER", 0.2)
        if read.boolean("ZYTE_API_SESSION_PARKING", default=True)
        else None,
    }


def _read_http_sessions(read: SettingsReader) -> dict[str, Any]:
    """Settings of HTTP sessions: ban signals, profiles and seeds."""
    result: dict[str, Any] = {
        "blocked_status_codes": read.status_codes(
            "ZYTE_API_SESSION_BLOCKED_STATUS_CODES", {401, 403}
        ),
        "rate_limit_status_codes": read.status_codes(
            "ZYTE_API_SESSION_RATE_LIMIT_STATUS_CODES", {429, 503}
        ),
    }
    errors: list[type[BaseException]] = []
    for item in read.sequence("RETRY_EXCEPTIONS"):
        try:
            loaded = load_object(item) if isinstance(item, str) else item
        except (ImportError, NameError, ValueError, AttributeError):
            loaded = None
        if isinstance(loaded, type) and issubclass(loaded, BaseException):
            errors.append(loaded)
        else:
            read.problem(
                "RETRY_EXCEPTIONS", "exception classes or their import paths", item
            )
    result["connection_errors"] = tuple(errors)
    for name, key, parse in (
        ("ZYTE_API_SESSION_PROFILES", "profiles", parse_profiles),
        ("ZYTE_API_SESSION_SEEDS", "seeds", parse_seeds),
    ):
        value = read.raw(name)
        if value is None:
            continue
        try:
            result[key] = parse(value)
        except ValueError as error:
            read.problems.append(f"{name}: {error}")
    return result


def _jitter(settings: BaseSettings, read: SettingsReader) -> float:
    """Magnitude of delay randomization, as Scrapy's downloader computes it.

    DOWNLOAD_DELAY_JITTER, unless the deprecated RANDOMIZE_DOWNLOAD_DELAY is
    set at a higher priority (then ±50% or nothing).
    """
    randomize_priority = settings.getpriority("RANDOMIZE_DOWNLOAD_DELAY") or 0
    jitter_priority = settings.getpriority("DOWNLOAD_DELAY_JITTER") or 0
    if (
        randomize_priority > SETTINGS_PRIORITIES["default"]
        and randomize_priority > jitter_priority
    ):
        return 0.5 if read.boolean("RANDOMIZE_DOWNLOAD_DELAY", default=True) else 0.0
    return read.number("DOWNLOAD_DELAY_JITTER", 0.5)


def _read_pools(read: SettingsReader, defaults: PoolOptions) -> dict[str, PoolOptions]:
    entries: dict[str, dict[str, Any]] = {}
    for pool_id, entry in read.mapping("ZYTE_API_SESSION_POOLS").items():
        if not isinstance(entry, dict):
            read.problem(
                f"ZYTE_API_SESSION_POOLS[{pool_id!r}]",
                "a dict of pool options (see ZYTE_API_SESSION_POOLS)",
                entry,
            )
            continue
        entries[str(pool_id)] = dict(entry)
    deprecated = read.int_dict("ZYTE_API_SESSION_POOL_SIZES", minimum=1)
    if deprecated:
        _warn_deprecated(
            "ZYTE_API_SESSION_POOL_SIZES is deprecated, use "
            "ZYTE_API_SESSION_POOLS instead, e.g. "
            '{"example.com": {"size": 4}}.'
        )
        for pool_id, size in deprecated.items():
            entries.setdefault(pool_id, {}).setdefault("size", size)
    pools: dict[str, PoolOptions] = {}
    for pool_id, entry in entries.items():
        try:
            pools[pool_id] = PoolOptions.from_mapping(entry, defaults)
        except ValueError as error:
            read.problems.append(f"ZYTE_API_SESSION_POOLS[{pool_id!r}]: {error}")
    return pools


def _warn_zero_maximums(settings: PoolsSettings) -> None:
    """Say that a maximum of 0 means 1, as in scrapy-zyte-api."""
    for name, value in (
        ("ZYTE_API_SESSION_MAX_ERRORS", settings.max_errors),
        ("ZYTE_API_SESSION_MAX_CHECK_FAILURES", settings.max_check_failures),
        ("ZYTE_API_SESSION_MAX_BAD_INITS", settings.max_bad_inits),
    ):
        if value == 0:
            logger.warning(
                "%s is 0, which works as 1 (as in scrapy-zyte-api): the first "
                "one already counts. Set it to 1 to silence this warning.",
                name,
            )


def _warn_deprecated(message: str) -> None:
    """Log *message* as a warning and issue a ScrapyDeprecationWarning.

    A crawl run with warnings turned into errors still starts: the log line,
    which scrapy-zyte-api users may monitor, is the main signal.
    """
    logger.warning(message)
    with contextlib.suppress(ScrapyDeprecationWarning):
        warnings.warn(message, ScrapyDeprecationWarning, stacklevel=3)
