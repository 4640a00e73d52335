"""PoolOptions: the validated options of one pool (size, delay, limits, kind)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, TypedDict

from .backends import SessionKind
from .session import Limits

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from typing_extensions import NotRequired

#: Session kinds: Zyte API sessions and plain-HTTP sessions.
SESSION_KINDS = tuple(kind.value for kind in SessionKind)
#: Pool growth policies: each of the first ``size`` requests starts its own
#: session ("eager", scrapy-zyte-api's behaviour), or a new session starts
#: only when every session of the pool is busy or resting ("on-demand"), or
#: "eager" for pools whose size the user set and "on-demand" for the others
#: ("auto", the default).
GROWTH_POLICIES = ("auto", "eager", "on-demand")
_GROWTH_EXPECTED = "'auto', 'eager' or 'on-demand'"


def _is_number(value: Any) -> bool:
    """A finite number (NaN and infinities are no delay or limit)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_Check = tuple["Callable[[Any], bool]", str]
_CHECKS: dict[str, _Check] = {
    "size": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "delay": (lambda v: _is_number(v) and v >= 0, "a finite number >= 0"),
    "randomize_delay": (lambda v: isinstance(v, bool), "True or False"),
    "max_age": (
        lambda v: v is None or (_is_number(v) and v > 0),
        "a finite number > 0",
    ),
    "max_idle": (
        lambda v: v is None or (_is_number(v) and v > 0),
        "a finite number > 0",
    ),
    "max_uses": (lambda v: v is None or (_is_int(v) and v >= 1), "an integer >= 1"),
    "max_concurrency": (
        lambda v: v is None or (_is_int(v) and v >= 1),
        "an integer >= 1",
    ),
    "error_decay": (lambda v: _is_number(v) and v >= 0, "a finite number >= 0"),
    "kind": (lambda v: v is None or v in SESSION_KINDS, "'zyte_api' or 'http'"),
    "growth": (lambda v: v in GROWTH_POLICIES, _GROWTH_EXPECTED),
}


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """Options of one pool.

    *size* is the number of sessions the pool keeps; *delay* the minimum
    number of seconds between two uses of a session, varied randomly (by
    :setting:`DOWNLOAD_DELAY_JITTER`) if *randomize_delay*; *max_age*,
    *max_idle* and *max_uses* the lifecycle limits of its sessions (see
    :class:`~scrapy_session_pools.session.Limits`); *max_concurrency* the
    maximum number of requests a session may have in flight; *error_decay*
    how much of its error score a session loses with each good response;
    *kind* the kind of its sessions (``"zyte_api"`` or ``"http"``; ``None``:
    decided by the request that creates the pool); *growth* how the pool
    grows to its size (see :data:`GROWTH_POLICIES`).
    """

    size: int = 8
    delay: float = 0.0
    randomize_delay: bool = True
    max_age: float | None = None
    max_idle: float | None = None
    max_uses: int | None = None
    max_concurrency: int | None = None
    error_decay: float = 0.0
    kind: str | None = None
    growth: str = "auto"

    @property
    def grows_eagerly(self) -> bool:
        """Whether each of the first :attr:`size` requests starts a session."""
        return self.growth == "eager"

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """Keys accepted in pool dicts."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Any], defaults: PoolOptions
    ) -> PoolOptions:
        """Return options from a pool dict, missing keys taken from *defaults*.

        Raises :exc:`ValueError` describing every bad key or value.
        """
        problems = [
            f"unknown key {key!r} (expected some of {', '.join(cls.keys())})"
            for key in mapping
            if key not in _CHECKS
        ]
        values: dict[str, Any] = {}
        for key, (is_valid, expected) in _CHECKS.items():
            if key not in mapping:
                continue
            value = mapping[key]
            if not is_valid(value):
                problems.append(f"{key}: expected {expected}, got {value!r}")
            elif _is_number(value) and key not in {
                "size",
                "max_uses",
                "max_concurrency",
            }:
                values[key] = float(value)
            else:
                values[key] = value
        if problems:
            raise ValueError("; ".join(problems))
        options = replace(defaults, **values)
        if options.growth == "auto" and "size" in mapping:
            # A size the user gives is filled as scrapy-zyte-api fills it.
            options = replace(options, growth="eager")
        return options

    def sample_delay(self, jitter: float) -> float:
        """Return a delay before the next use of a session.

        The delay varies randomly by up to *jitter* (a fraction, as
        :setting:`DOWNLOAD_DELAY_JITTER`) if :attr:`randomize_delay`.
        """
        if not self.delay or not self.randomize_delay or not jitter:
            return self.delay
        factor = random.uniform(1 - jitter, 1 + jitter)  # noqa: S311
        return max(0.0, self.delay * factor)

    def min_delay(self, jitter: float) -> float:
        """Return the shortest delay that :meth:`sample_delay` can return."""
        if not self.randomize_delay:
            return self.delay
        return self.delay * max(0.0, 1 - jitter)

    def limits(
        self,
        *,
        default_max_age: float | None = None,
        default_max_idle: float | None = None,
    ) -> Limits:
        """Return the lifecycle limits of the sessions of this pool.

        *default_max_age* and *default_max_idle* apply where the options set
        no limit (the limits of the server, e.g. Zyte API's).
        """
        return Limits(
            max_age=self.max_age if self.max_age is not None else default_max_age,
            max_idle=self.max_idle if self.max_idle is not None else default_max_idle,
            max_uses=self.max_uses,
        )


class PoolConfig(TypedDict):
    """A pool ID with pool options, as :meth:`SessionConfig.pool` may return."""

    id: str
    size: NotRequired[int]
    delay: NotRequired[float]
    randomize_delay: NotRequired[bool]
    max_age: NotRequired[float | None]
    max_idle: NotRequired[float | None]
    max_uses: NotRequired[int | None]
    max_concurrency: NotRequired[int | None]
    error_decay: NotRequired[float]
    kind: NotRequired[str | None]
    growth: NotRequired[str]
