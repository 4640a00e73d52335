"""Scenario knobs: typed values read from the query string of a URL."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Container

    from multidict import MultiMapping

    from scrapy_session_pools.testing.errors import ErrorAnswer


class KnobReader:
    """Reader of the scenario knobs of a query string.

    *query* maps each knob name to its values, in order; when a knob that
    takes one value is repeated, the last value counts. A bad value raises
    ``invalid(name, value, expected)``, where *expected* describes a good
    value, e.g. ``"an integer >= 0"``.
    """

    def __init__(
        self,
        query: MultiMapping[str],
        invalid: Callable[[str, str, str], ErrorAnswer],
    ) -> None:
        self._query = query
        self._invalid = invalid

    def _last(self, name: str) -> str | None:
        values = self._query.getall(name, [])
        return values[-1] if values else None

    def count(
        self,
        name: str,
        allowed: Container[int] | None = None,
        expected: str = "an integer >= 0",
    ) -> int | None:
        """Return the integer >= 0 of knob *name*, or ``None`` if absent.

        With *allowed*, a value not in it is bad too; *expected* describes
        the good ones.
        """
        value = self._last(name)
        if value is None:
            return None
        if not (value.isascii() and value.isdigit()) or (
            allowed is not None and int(value) not in allowed
        ):
            raise self._invalid(name, value, expected)
        return int(value)

    def seconds(self, name: str) -> float | None:
        """Return the finite number >= 0 of knob *name*, or ``None`` if absent."""
        value = self._last(name)
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds < math.inf:  # also rejects NaN
            raise self._invalid(name, value, "seconds >= 0")
        return seconds

    def flag(self, name: str) -> bool:
        """Return whether knob *name* is ``1``; absent, empty or ``0`` is false."""
        value = self._last(name)
        if value not in {None, "", "0", "1"}:
            raise self._invalid(name, str(value), "1 or 0")
        return value == "1"

    def choice(self, name: str, allowed: Collection[str]) -> str | None:
        """Return the value of knob *name*, one of *allowed*, or ``None``."""
        value = self._last(name)
        if value is not None and value not in allowed:
            raise self._invalid(name, value, " or ".join(allowed))
        return value

    def text(self, name: str) -> str | None:
        """Return the value of knob *name*, or ``None`` if absent or empty."""
        return self._last(name) or None

    def texts(self, name: str) -> tuple[str, ...]:
        """Return the non-empty values of the repeatable knob *name*."""
        return tuple(value for value in self._query.getall(name, []) if value)

    def pairs(self, name: str) -> tuple[tuple[str, str], ...]:
        """Return the ``key=value`` values of the repeatable knob *name*."""
        pairs = []
        for value in self._query.getall(name, []):
            key, sep, pair_value = value.partition("=")
            if not key or not sep:
                raise self._invalid(name, value, "name=value")
            pairs.append((key, pair_value))
        return tuple(pairs)
