"""SettingsReader: typed setting getters that collect problems, not raise."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from scrapy.utils.misc import load_object

from .errors import InvalidSettings
from .identities import describe

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

#: The values that Scrapy's ``Settings.getbool`` documents, and their meaning.
_BOOLEANS: dict[str, bool] = {
    "True": True,
    "true": True,
    "1": True,
    "False": False,
    "false": False,
    "0": False,
}


class SettingsReader:
    """Typed getters of *settings* that record a problem instead of raising.

    :meth:`raise_if_invalid` then raises one error naming every bad setting.
    """

    def __init__(self, settings: BaseSettings) -> None:
        self._settings = settings
        self.problems: list[str] = []

    def problem(self, name: str, expected: str, value: Any) -> None:
        """Record that *name* has *value* instead of the *expected* form."""
        self.problems.append(f"{name}: expected {expected}, got {describe(value)}")

    def boolean(self, name: str, *, default: bool) -> bool:
        """Return the boolean setting *name*, or *default*.

        It takes what Scrapy's ``Settings.getbool`` documents: ``True`` and
        ``False``, ``1`` and ``0``, and the strings ``"True"``, ``"true"``,
        ``"1"``, ``"False"``, ``"false"`` and ``"0"``; not other numbers,
        which ``getbool`` would take as true.
        """
        value = self._settings.get(name, default)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in {0, 1}:
            return bool(value)
        if isinstance(value, str) and value in _BOOLEANS:
            return _BOOLEANS[value]
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
        """Return the number setting *name* (at least *minimum*), or *default*.

        NaN and infinities are invalid: they would turn a wait into a hang
        or a limit into none.
        """
        value = self._settings.get(name, default)
        if value is None:
            return default
        expected = f"a number >= {minimum:g}"
        try:
            number = _strict_float(value)
        except (TypeError, ValueError):
            self.problem(name, expected, value)
            return default
        if not math.isfinite(number):
            self.problem(name, f"a finite number >= {minimum:g}", value)
            return default
        if number < minimum:
            self.problem(name, expected, value)
            return default
        return number

    def mapping(self, name: str) -> dict[str, Any]:
        """Return the dict setting *name*, or ``{}``.

        It takes a dict, a list of key-value pairs (as :func:`dict` does),
        or the JSON string of either. Unlike Scrapy's ``getdict``, it
        rejects other lists, which :func:`dict` would split into keys and
        values: ``["US"]`` is not ``{"U": "S"}``.
        """
        value = self._settings.get(name)
        if value is None:
            return {}
        parsed = value
        if isinstance(value, str):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                parsed = None
        if isinstance(parsed, Mapping):
            return dict(parsed)
        if isinstance(parsed, (list, tuple)) and all(
            isinstance(item, (list, tuple)) and len(item) == 2 for item in parsed
        ):
            return dict(parsed)
        self.problem(name, "a dict (or its JSON string)", value)
        return {}

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
        if not math.isfinite(number):
            self.problem(name, "a finite number > 0 (or None)", value)
            return None
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
            if not isinstance(value, (str, list, tuple, set, frozenset)):
                raise TypeError(value)
            codes = self._settings.getlist(name)
            parsed = frozenset(_strict_int(code) for code in codes)
        except (TypeError, ValueError):
            parsed = frozenset({0})
        if any(not 100 <= code <= 599 for code in parsed):
            self.problem(name, "a list of HTTP status codes", value)
            return frozenset(default)
        return parsed

    def component(self, name: str, *, method: str) -> type | None:
        """Return the class that the setting *name* is or names, or ``None``.

        The class must have the method *method* (e.g. ``check``): a class
        without it would only fail when the crawl first calls it.
        """
        value = self._settings.get(name)
        if value is None or value == "":
            return None
        try:
            loaded = load_object(value)
        except (ImportError, NameError, ValueError, AttributeError, TypeError):
            self.problem(name, "a class or its import path", value)
            return None
        if not isinstance(loaded, type) or not callable(getattr(loaded, method, None)):
            self.problem(
                name, f"a class with a {method}() method, or its import path", value
            )
            return None
        return loaded

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
