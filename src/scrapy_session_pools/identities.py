"""Client identities of HTTP sessions: profiles, their rotation, and seeds.

A *profile* is what a session presents to a website besides its cookies: a
proxy (possibly with credentials) and request headers such as User-Agent.
A *seed* is a session made elsewhere (cookies from a browser, a profile)
that a pool uses before it initializes sessions of its own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Seconds a profile rests after its first ban; doubled with each further
#: ban in a row, up to :data:`MAX_PROFILE_REST`.
BASE_PROFILE_REST = 30.0
MAX_PROFILE_REST = 30 * 60.0


#: The user information (``user:password@``) of URLs in a text: what follows
#: ``scheme://``, the start of the text or a space, up to the last ``@``
#: before a path (also for proxies written without a scheme).
_CREDENTIALS = re.compile(r"(?:^|(?<=://)|(?<=\s))[^/?#\s]*@")
#: Header names (lowercase) whose values are secrets.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def redact_proxy(proxy: str | None) -> str | None:
    """Return *proxy* with its credentials replaced by ``***``."""
    if not proxy:
        return proxy
    return _CREDENTIALS.sub("***@", proxy)


def mask_secrets(value: Any) -> Any:
    """Return a copy of *value* fit for messages: no credentials in URLs.

    Strings (also inside dicts, lists and tuples) lose the credentials of
    the URLs they hold, and the string values of the ``Authorization``,
    ``Proxy-Authorization`` and ``Cookie`` keys of dicts become ``***``.
    """
    if isinstance(value, str):
        return _CREDENTIALS.sub("***@", value)
    if isinstance(value, dict):
        return {
            key: "***" if _is_secret_header(key, item) else mask_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(mask_secrets(item) for item in value)
    return value


def _is_secret_header(key: Any, value: Any) -> bool:
    return (
        isinstance(key, str)
        and key.lower() in _SECRET_HEADERS
        and isinstance(value, str)
    )


def describe(value: Any) -> str:
    """Describe *value* for an error message: ``<repr> (<type>)``, secrets masked."""
    return f"{mask_secrets(value)!r} ({type(value).__name__})"


def _proxy_problem(proxy: Any) -> str | None:
    """Say what is wrong with the proxy URL *proxy*, or return ``None``.

    It must be an ``http://`` or ``https://`` URL with a host, and a port
    from 1 to 65535 if it has one.
    """
    if not isinstance(proxy, str):
        return f"expected an http(s):// URL, got {describe(proxy)}"
    shown = redact_proxy(proxy)
    try:
        parts = urlsplit(proxy)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 address
        return f"expected an http(s):// URL, got {shown!r}"
    if parts.scheme not in {"http", "https"}:
        return f"expected an http(s):// URL, got {shown!r}"
    if not parts.hostname:
        return f"expected an http(s):// URL with a host, got {shown!r}"
    try:
        port = parts.port
    except ValueError:  # not a number, or above 65535
        port = 0
    if port is not None and not 1 <= port <= 65535:
        return f"expected an http(s):// URL with a port from 1 to 65535, got {shown!r}"
    return None


@dataclass(frozen=True, slots=True)
class Profile:
    """A client identity: a proxy and headers, e.g. a User-Agent.

    *name* identifies the profile in logs and stats; the proxy credentials
    never appear in its :func:`repr`.
    """

    name: str
    proxy: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        return (
            f"Profile(name={self.name!r}, proxy={redact_proxy(self.proxy)!r}, "
            f"headers={dict(self.headers)!r})"
        )

    @classmethod
    def from_mapping(cls, value: Any, index: int) -> Profile:
        """Build a profile from ``{"name"?, "proxy"?, "headers"?}``.

        Raises :exc:`ValueError` describing what is wrong.
        """
        if isinstance(value, str):
            raise ValueError(
                "expected a dict (for a proxy URL: {'proxy': '<URL>'}), "
                f"got {describe(value)}"
            )
        if not isinstance(value, dict):
            raise ValueError(f"expected a dict, got {describe(value)}")
        unknown = sorted(set(value) - {"name", "proxy", "headers"})
        if unknown:
            raise ValueError(
                f"unknown key(s) {', '.join(map(repr, unknown))} "
                "(expected some of name, proxy, headers)"
            )
        proxy = value.get("proxy")
        problem = None if proxy is None else _proxy_problem(proxy)
        if problem:
            raise ValueError(f"proxy: {problem}")
        headers = value.get("headers", {})
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ValueError(
                f"headers: expected a dict of strings, got {describe(headers)}"
            )
        name = value.get("name", f"profile-{index}")
        if not isinstance(name, str) or not name:
            raise ValueError(f"name: expected a non-empty string, got {describe(name)}")
        return cls(name=name, proxy=proxy, headers=tuple(headers.items()))


@dataclass(slots=True)
class _ProfileState:
    bans_in_a_row: int = 0
    rests_until: float = 0.0


@dataclass(slots=True, eq=False)
class ProfileRotation:
    """Hands out profiles in turn, resting those whose sessions get banned.

    Each new session takes the least used profile that is not resting. A ban
    makes its profile rest for :data:`BASE_PROFILE_REST` seconds, doubled
    for every further ban in a row; a good response ends the streak.
    """

    profiles: tuple[Profile, ...]
    _next: int = 0
    _states: dict[str, _ProfileState] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.profiles)

    def take(
        self, now: float, in_use: Mapping[str, int] | None = None
    ) -> tuple[Profile, float]:
        """Return the next profile and when it may be used (now or later).

        Of the profiles not resting, the one that the fewest sessions use
        (*in_use*, by profile name) is taken, the next in turn among equals:
        no profile gets a second session while another one has none.
        """
        count = len(self.profiles)
        candidates = [self.profiles[(self._next + i) % count] for i in range(count)]
        ready = [p for p in candidates if self._state(p).rests_until <= now]
        used = in_use or {}
        profile = (
            min(ready, key=lambda p: used.get(p.name, 0))
            if ready
            else min(candidates, key=lambda p: self._state(p).rests_until)
        )
        self._next = (self.profiles.index(profile) + 1) % count
        return profile, max(now, self._state(profile).rests_until)

    def record_ban(self, profile: Profile, now: float) -> float:
        """Make *profile* rest after a ban; return the rest in seconds."""
        state = self._state(profile)
        state.bans_in_a_row += 1
        rest: float = min(
            MAX_PROFILE_REST, BASE_PROFILE_REST * 2.0 ** (state.bans_in_a_row - 1)
        )
        state.rests_until = now + rest
        return rest

    def record_success(self, profile: Profile) -> None:
        """End the ban streak of *profile*."""
        self._state(profile).bans_in_a_row = 0

    def _state(self, profile: Profile) -> _ProfileState:
        return self._states.setdefault(profile.name, _ProfileState())


@dataclass(frozen=True, slots=True)
class Seed:
    """A session made elsewhere: cookies, plus an optional profile."""

    cookies: tuple[dict[str, Any], ...] = ()
    profile: Profile | None = None

    @classmethod
    def from_mapping(cls, value: Any, index: int) -> Seed:
        """Build a seed from ``{"cookies"?, "proxy"?, "headers"?, "name"?}``.

        Cookies are dicts with ``name``, ``value``, ``domain`` and optionally
        ``path``, ``secure`` and ``expires``.
        """
        if not isinstance(value, dict):
            raise ValueError(f"expected a dict, got {describe(value)}")
        cookies = value.get("cookies", [])
        if not isinstance(cookies, list) or not all(
            isinstance(c, dict) and {"name", "value", "domain"} <= set(c)
            for c in cookies
        ):
            raise ValueError(
                "cookies: expected a list of dicts with name, value and domain"
            )
        identity = {k: v for k, v in value.items() if k != "cookies"}
        profile = (
            Profile.from_mapping({"name": f"seed-{index}", **identity}, index)
            if identity
            else None
        )
        return cls(cookies=tuple(dict(c) for c in cookies), profile=profile)


def _from_json(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip().startswith(("[", "{")):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"invalid JSON: {error}") from error
    return value


def parse_profiles(value: Any) -> tuple[Profile, ...]:
    """Parse a list of profile dicts (or its JSON); raise :exc:`ValueError`."""
    value = _from_json(value)
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"expected a list of profile dicts, got {describe(value)}")
    problems, profiles = [], []
    for index, item in enumerate(value):
        try:
            profiles.append(Profile.from_mapping(item, index))
        except ValueError as error:
            problems.append(f"[{index}]: {error}")
    names = [profile.name for profile in profiles]
    problems.extend(
        f"the name {name!r} is used by several profiles"
        for name in sorted({n for n in names if names.count(n) > 1})
    )
    if problems:
        raise ValueError("; ".join(problems))
    return tuple(profiles)


def parse_seeds(value: Any) -> dict[str, tuple[Seed, ...]]:
    """Parse ``{pool_id: [seed, ...]}``, its JSON, or the path of a JSON file."""
    value = _from_json(value)
    if isinstance(value, (str, Path)):
        try:
            value = json.loads(Path(value).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(
                f"cannot read seeds from {str(value)!r}: {error}"
            ) from error
    if not isinstance(value, dict):
        raise ValueError(
            f"expected a dict of pool IDs to lists of seeds, got {describe(value)}"
        )
    problems: list[str] = []
    seeds: dict[str, tuple[Seed, ...]] = {}
    for pool_id, items in value.items():
        if not isinstance(items, list):
            problems.append(
                f"[{pool_id!r}]: expected a list of seeds, got {describe(items)}"
            )
            continue
        parsed = []
        for index, item in enumerate(items):
            try:
                parsed.append(Seed.from_mapping(item, index))
            except ValueError as error:
                problems.append(f"[{pool_id!r}][{index}]: {error}")
        seeds[str(pool_id)] = tuple(parsed)
    if problems:
        raise ValueError("; ".join(problems))
    return seeds


#: The rotation of pools without profiles (nothing to rotate; shared).
NO_PROFILES = ProfileRotation(())
