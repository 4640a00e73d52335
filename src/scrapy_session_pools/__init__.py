"""Session pools for Scrapy: created on demand, checked, rotated and retired."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import signals
from .addon import Addon
from .backends.zyte_api import (
    SESSION_AGGRESSIVE_RETRY_POLICY,
    SESSION_DEFAULT_RETRY_POLICY,
)
from .config import LocationSessionConfig, PoolConfig, SessionConfig
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
from .registry import (
    SessionConfigRulesRegistry,
    session_config,
    session_config_registry,
)
from .snapshots import PoolInfo, SessionInfo

try:
    __version__ = version("scrapy-session-pools")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

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
