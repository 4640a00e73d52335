"""FileStore: the state of the pools in a JSON file, written atomically."""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Version of the file format; files of other versions are ignored.
FORMAT_VERSION = 1


def _top_level_problem(state: dict[str, Any]) -> str | None:
    """What is wrong with the top level of a state of the right version."""
    pools = state.get("pools", [])
    if not isinstance(pools, list):
        return f"'pools' must be a list, got {pools!r}"
    saved_at = state.get("saved_at")
    if saved_at is not None and not (
        isinstance(saved_at, (int, float))
        and not isinstance(saved_at, bool)
        and math.isfinite(saved_at)
    ):
        return f"'saved_at' must be a time in seconds, got {saved_at!r}"
    return None


class FileStore:
    """Saves the state of the pools to *path*, readable by its owner only.

    Writes go to a temporary file in the same folder, which then replaces
    the file, so that a crash never leaves a half-written file. A missing,
    truncated, corrupt or foreign file loads as ``None`` with a warning (a
    cold start), never as an error.
    """

    def __init__(self, path: str | Path) -> None:
        #: The path of the state file.
        self.path = Path(path)

    def load(self) -> dict[str, Any] | None:
        """Return the saved state, or ``None``."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            logger.warning(
                "Could not read the session state file %s (%s); starting "
                "with no saved sessions.",
                self.path,
                error,
            )
            return None
        try:
            state = json.loads(text)
        except json.JSONDecodeError as error:
            logger.warning(
                "The session state file %s is not valid JSON (%s), e.g. "
                "truncated; starting with no saved sessions.",
                self.path,
                error,
            )
            return None
        if not isinstance(state, dict) or state.get("version") != FORMAT_VERSION:
            logger.warning(
                "The session state file %s has an unknown format (expected "
                "version %d); starting with no saved sessions.",
                self.path,
                FORMAT_VERSION,
            )
            return None
        problem = _top_level_problem(state)
        if problem is not None:
            logger.warning(
                "The session state file %s is damaged: %s; starting with no "
                "saved sessions.",
                self.path,
                problem,
            )
            return None
        return state

    def save(self, state: dict[str, Any]) -> None:
        """Write *state* (with the format version) atomically, mode 0600."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({**state, "version": FORMAT_VERSION}, sort_keys=True)
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{self.path.name}.", dir=self.path.parent
        )
        try:
            os.fchmod(descriptor, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(payload)
                file.flush()
                os.fsync(file.fileno())
            Path(temporary).replace(self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
