"""Session pools for Scrapy: created on demand, checked, rotated and retired.

The public names are imported on first use (:pep:`562`), so that importing
a submodule that needs none of them, e.g. a server of
:mod:`scrapy_session_pools.testing`, does not import Scrapy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import signals
    from .addon import Addon
    from .backends.zyte_api import (
        SESSION_AGGRESSIVE_RETRY_POLICY,
        SESSION_DEFAULT_RETRY_POLICY,
    )
    from .config import LocationSessionConfig, SessionConfig
    from .control import SessionControl
    from .errors import (
        InvalidSettings,
        PoolError,
        SessionPoolsError,
        SessionWaitTimeout,
        TooManyBadSessionInits,
    )
    from .handles import SessionHandle
    from .meta import get_request_session_id, is_session_init_request
    from .middleware import SessionPoolsMiddleware, SessionPoolsResetterMiddleware
    from .pool_options import PoolConfig
    from .registry import (
        SessionConfigRulesRegistry,
        session_config,
        session_config_registry,
    )
    from .snapshots import PoolInfo, SessionInfo

    __version__: str

__all__ = [
    "SESSION_AGGRESSIVE_RETRY_POLICY",
    "SESSION_DEFAULT_RETRY_POLICY",
    "Addon",
    "InvalidSettings",
    "LocationSessionConfig",
    "PoolConfig",
    "PoolError",
    "PoolInfo",
    "SessionConfig",
    "SessionConfigRulesRegistry",
    "SessionControl",
    "SessionHandle",
    "SessionInfo",
    "SessionPoolsError",
    "SessionPoolsMiddleware",
    "SessionPoolsResetterMiddleware",
    "SessionWaitTimeout",
    "TooManyBadSessionInits",
    "__version__",
    "get_request_session_id",
    "is_session_init_request",
    "session_config",
    "session_config_registry",
    "signals",
]

# The module of each public name, relative to this package. A module itself
# (signals) maps to its own name.
_HOMES = {
    "SESSION_AGGRESSIVE_RETRY_POLICY": ".backends.zyte_api",
    "SESSION_DEFAULT_RETRY_POLICY": ".backends.zyte_api",
    "Addon": ".addon",
    "InvalidSettings": ".errors",
    "LocationSessionConfig": ".config",
    "PoolConfig": ".pool_options",
    "PoolError": ".errors",
    "PoolInfo": ".snapshots",
    "SessionConfig": ".config",
    "SessionConfigRulesRegistry": ".registry",
    "SessionControl": ".control",
    "SessionHandle": ".handles",
    "SessionInfo": ".snapshots",
    "SessionPoolsError": ".errors",
    "SessionPoolsMiddleware": ".middleware",
    "SessionPoolsResetterMiddleware": ".middleware",
    "SessionWaitTimeout": ".errors",
    "TooManyBadSessionInits": ".errors",
    "get_request_session_id": ".meta",
    "is_session_init_request": ".meta",
    "session_config": ".registry",
    "session_config_registry": ".registry",
    "signals": ".signals",
}


def __getattr__(name: str) -> Any:
    """Import public name *name* on first use, and keep it (:pep:`562`)."""
    if name == "__version__":
        value: Any = _read_version()
    elif name in _HOMES:
        home = _HOMES[name]
        module = import_module(home, __name__)
        value = module if home == f".{name}" else getattr(module, name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Return the public names, imported or not, and the module attributes."""
    return sorted({*__all__, *(name for name in globals() if name.startswith("__"))})


def _read_version() -> str:
    # importlib.metadata is slow to import, so it is only imported here.
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("scrapy-session-pools")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"
