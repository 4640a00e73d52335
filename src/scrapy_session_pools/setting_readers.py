"""SettingsReader: typed setting getters that collect problems, not raise."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from scrapy.utils.misc import load_object

from .errors import InvalidSettings

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


class SettingsReader:
    """Typed getters of *settings* that record a problem instead of raising.

    :meth:`raise_if_invalid` then raises one error naming every bad setting.
    """

    def __init__(self, settings: BaseSettings) -> None:
        self._settings = settings
        self.problems: list[str] = []

    def problem(self, name: str, expected: str, value: Any) -> None:
        """Record that *name* has *value* instead of the *expected* form."""
        self.problems.append(f"{name}: expected {expected}, got {_describe(value)}")

    def boolean(self, name: str, *, default: bool) -> bool:
        """Return the boolean setting *name*, or *default*."""
        value = self._settings.get(name, default)
        if value is None:
            return default
        try:
            return self._settings.getbool(name, default)
        except ValueError:
            self.problem(name, "a boolean (True/False, 1/0)", value)
            return default

    def integer(self, name: str, default: int, minimum: int = 0) -> int:
        """Return the integer setting *name* (at least *minimum*), or *default*."""
        value = self._settings.get(name, default)
        if value is None:
            return default
        try:
            number = _strict_int(value)
        except (TypeError, ValueError):
            self.problem(name, f"an integer >= {minimum}", value)
            return default
        if number < minimum:
            self.problem(name, f"an integer >= {minimum}", value)
            return default
        return number

    def number(self, name: str, default: float, minimum: float = 0.0) -> float:
        """Return the number setting *name* (at least *minimum*), or *default*."""
        value = self._settings.get(name, default)
        if value is None:
            return default
        try:
            number = _strict_float(value)
        except (TypeError, ValueError):
            self.problem(name, f"a number >= {minimum:g}", value)
            return default
        if number < minimum:
            self.problem(name, f"a number >= {minimum:g}", value)
            return default
        return number

    def mapping(self, name: str) -> dict[str, Any]:
        """Return the dict setting *name* (a dict or its JSON), or ``{}``."""
        value = self._settings.get(name)
        if value is None:
            return {}
        try:
            result = self._settings.getdict(name)
        except (TypeError, ValueError, json.JSONDecodeError):
            self.problem(name, "a dict (or its JSON string)", value)
            return {}
        if not isinstance(result, dict):
            self.problem(name, "a dict (or its JSON string)", value)
            return {}
        return dict(result)

    def int_dict(self, name: str, minimum: int) -> dict[str, int]:
        """Return the dict setting *name* of integers of at least *minimum*."""
        parsed: dict[str, int] = {}
        for key, value in self.mapping(name).items():
            try:
                number = _strict_int(value)
            except (TypeError, ValueError):
                number = minimum - 1
            if number < minimum:
                self.problem(f"{name}[{key!r}]", f"an integer >= {minimum}", value)
                continue
            parsed[str(key)] = number
        return parsed

    def raw(self, name: str) -> Any:
        """Return the setting *name* as it is."""
        return self._settings.get(name)

    def sequence(self, name: str) -> list[Any]:
        """Return the list setting *name*, or ``[]``."""
        value = self._settings.get(name)
        if value is None:
            return []
        try:
            return self._settings.getlist(name)
        except (TypeError, ValueError):
            self.problem(name, "a list", value)
            return []

    def optional_number(self, name: str) -> float | None:
        """Return the number setting *name* (greater than 0), or ``None``."""
        value = self._settings.get(name)
        if value is None:
            return None
        try:
            number = _strict_float(value)
        except (TypeError, ValueError):
            number = 0.0
        if not number > 0:
            self.problem(name, "a number > 0 (or None)", value)
            return None
        return number

    def optional_integer(self, name: str) -> int | None:
        """Return the integer setting *name* (at least 1), or ``None``."""
        value = self._settings.get(name)
        if value is None:
            return None
        try:
            number = _strict_int(value)
        except (TypeError, ValueError):
            number = 0
        if number < 1:
            self.problem(name, "an integer >= 1 (or None)", value)
            return None
        return number

    def status_codes(self, name: str, default: set[int]) -> frozenset[int]:
        """Return the setting *name* as a set of HTTP status codes."""
        value = self._settings.get(name)
        if value is None:
            return frozenset(default)
        try:
            codes = self._settings.getlist(name)
            parsed = frozenset(_strict_int(code) for code in codes)
        except (TypeError, ValueError):
            parsed = frozenset({0})
        if any(not 100 <= code <= 599 for code in parsed):
            self.problem(name, "a list of HTTP status codes", value)
            return frozenset(default)
        return parsed

    def component(self, name: str) -> Any:
        """Return the class (or object) that the setting *name* names."""
        value = self._settings.get(name)
        if value is None or value == "":
            return None
        try:
            return load_object(value)
        except (ImportError, NameError, ValueError, AttributeError, TypeError):
            self.problem(name, "a class or its import path", value)
            return None

    def raise_if_invalid(self) -> None:
        """Raise :exc:`InvalidSettings` listing every recorded problem."""
        if self.problems:
            raise InvalidSettings(self.problems)


def _strict_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    if isinstance(value, (int, str)):
        return int(value)
    raise TypeError(value)


def _strict_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, (int, float, str)):
        return float(value)
    raise TypeError(value)
