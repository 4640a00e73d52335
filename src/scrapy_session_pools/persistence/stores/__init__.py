"""Session stores: where the state of the pools is saved between runs."""

from __future__ import annotations

from typing import Any, Protocol


class SessionStore(Protocol):
    """Loads and saves the state of the pools (a JSON-compatible dict)."""

    def load(self) -> dict[str, Any] | None:
        """Return the saved state, or ``None`` if there is none (or it is bad)."""

    def save(self, state: dict[str, Any]) -> None:
        """Save *state*, replacing what was saved before."""
