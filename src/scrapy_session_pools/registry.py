"""The registry of session configs by URL pattern, and @session_config."""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from url_matcher import Patterns
from web_poet import ApplyRule, RulesRegistry

from .config import SessionConfig

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from scrapy import Request

logger = logging.getLogger(__name__)

_C = TypeVar("_C", bound=type[SessionConfig])


def _as_list(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


class SessionConfigRulesRegistry(RulesRegistry):
    """A web-poet rules registry that maps URL patterns to session configs.

    Its default rule maps every URL to :class:`~scrapy_session_pools.SessionConfig`.
    """

    def __init__(self) -> None:
        super().__init__(
            rules=[ApplyRule(for_patterns=Patterns(include=[""]), use=SessionConfig)]  # type: ignore[arg-type]  # web-poet types rules for page objects
        )

    def add_rule(self, rule: ApplyRule) -> None:
        """Register *rule*.

        web-poet warns when two rules share URL patterns and an item class;
        session configs have no item class, and a config that replaces
        another one (``instead_of``) for the same URLs is the normal case, so
        that warning is not shown.
        """
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="The registry contains .* conflicting rules"
            )
            super().add_rule(rule)

    def session_config_cls(self, request: Request) -> type[SessionConfig]:
        """Return the session config class for the URL of *request*.

        ``instead_of`` chains are followed from
        :class:`~scrapy_session_pools.SessionConfig`; a cycle raises
        :exc:`ValueError`.
        """
        overrides: Any = self.overrides_for(request.url)
        cls: type[SessionConfig] = SessionConfig
        seen = {cls}
        while cls in overrides:
            cls = overrides[cls]
            if cls in seen:
                raise ValueError(
                    f"The session configs registered for {request.url} replace "
                    f"each other in a cycle ({cls.__qualname__})."
                )
            seen.add(cls)
        return cls

    def session_config(
        self,
        include: str | Iterable[str],
        *,
        instead_of: type[SessionConfig] | None = SessionConfig,
        exclude: str | Iterable[str] | None = None,
        priority: int = 500,
        **kwargs: Any,
    ) -> Callable[[_C], _C]:
        """Register the decorated session config class for URL patterns.

        *include* and *exclude* are URL patterns (web-poet's
        :func:`~web_poet.handle_urls` syntax); *instead_of* is the config the
        decorated class replaces for those URLs; *priority* decides between
        configs that match the same URL.
        """

        def register(cls: _C) -> _C:
            self.add_rule(
                ApplyRule(
                    for_patterns=Patterns(
                        include=_as_list(include),
                        exclude=_as_list(exclude),
                        priority=priority,
                    ),
                    use=cls,  # type: ignore[arg-type]  # web-poet types rules for page objects
                    instead_of=instead_of,  # type: ignore[arg-type]  # same
                    **kwargs,
                )
            )
            return cls

        return register


#: The registry that :func:`session_config` registers configs in.
session_config_registry = SessionConfigRulesRegistry()
#: Decorator registering a session config class; see
#: :meth:`SessionConfigRulesRegistry.session_config`.
session_config = session_config_registry.session_config


def _pattern_host(pattern: str) -> str:
    """The host name of a URL pattern (``example.com:8000/a`` -> ``example.com``)."""
    netloc = urlsplit(pattern if "//" in pattern else f"//{pattern}").hostname
    return netloc or ""


class ConfigUsage:
    """Which registered session configs the requests of a crawl used.

    At the end of the crawl, :meth:`report` names each registered config
    that no request matched: with a warning if a request of the same host
    name used the default config instead (e.g. the pattern has no port and
    the URLs have one, or the other way round), at the INFO level otherwise.
    """

    def __init__(self, registry: SessionConfigRulesRegistry) -> None:
        self._registry = registry
        self._used: set[type[SessionConfig]] = set()
        self._default_hosts: set[str] = set()

    def record(self, request: Request, cls: type[SessionConfig]) -> None:
        """Record that *request* uses the config *cls*."""
        self._used.add(cls)
        if cls is SessionConfig and len(self._registry.get_rules()) > 1:
            self._default_hosts.add(urlsplit(request.url).hostname or "")

    def report(self) -> None:
        """Log the registered configs that matched no request."""
        for rule in self._registry.get_rules():
            cls: Any = rule.use  # a session config class, typed as a page object
            if cls is SessionConfig or cls in self._used:
                continue
            patterns = list(rule.for_patterns.include)
            near = [p for p in patterns if _pattern_host(p) in self._default_hosts]
            if near:
                logger.warning(
                    "The session config %s matched no request, while requests "
                    "to the host of its URL pattern(s) %s used the default "
                    "session config. The port is part of a pattern: "
                    "'example.com' does not match 'http://example.com:8000/'. "
                    "Add the port to the pattern, e.g. 'example.com:8000'.",
                    cls.__qualname__,
                    near,
                )
            else:
                logger.info(
                    "The session config %s (URL patterns %s) matched no request.",
                    cls.__qualname__,
                    patterns,
                )
