"""Settings about Zyte API as the transport: its handler and retry policies."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.utils.misc import load_object

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

    from .setting_readers import SettingsReader

logger = logging.getLogger(__name__)

DEFAULT_RETRY_POLICY_PATH = "scrapy_session_pools.SESSION_DEFAULT_RETRY_POLICY"
AGGRESSIVE_RETRY_POLICY_PATH = "scrapy_session_pools.SESSION_AGGRESSIVE_RETRY_POLICY"
_SESSION_SAFE_POLICY_PATHS = (
    DEFAULT_RETRY_POLICY_PATH,
    AGGRESSIVE_RETRY_POLICY_PATH,
    "scrapy_zyte_api.SESSION_DEFAULT_RETRY_POLICY",
    "scrapy_zyte_api.SESSION_AGGRESSIVE_RETRY_POLICY",
)


def is_zyte_api_transport(settings: BaseSettings, read: SettingsReader) -> bool:
    """Whether scrapy-zyte-api's download handler sends http(s) requests.

    It is, when the ``http`` or ``https`` entry of ``DOWNLOAD_HANDLERS``
    (set directly or by scrapy-zyte-api's add-on) is one of its handlers and
    Zyte API is not turned off with ``ZYTE_API_ENABLED``.
    """
    if not read.boolean("ZYTE_API_ENABLED", default=True):
        return False
    from scrapy_zyte_api.handler import (  # noqa: PLC0415
        ScrapyZyteAPIDownloadHandler,
        ScrapyZyteAPIHTTPDownloadHandler,
        ScrapyZyteAPIHTTPSDownloadHandler,
    )

    zyte_api_handlers = (
        ScrapyZyteAPIDownloadHandler,
        ScrapyZyteAPIHTTPDownloadHandler,
        ScrapyZyteAPIHTTPSDownloadHandler,
    )
    handlers = settings.getwithbase("DOWNLOAD_HANDLERS")
    for scheme in ("http", "https"):
        handler = handlers.get(scheme)
        try:
            loaded = load_object(handler) if isinstance(handler, str) else handler
        except (ImportError, NameError, ValueError, AttributeError):
            continue  # Scrapy reports a handler it cannot load.
        if isinstance(loaded, type) and issubclass(loaded, zyte_api_handlers):
            return True
    return False


def read_retry_policy(read: SettingsReader, settings: BaseSettings) -> Any:
    """Return the retry policy of requests with a session.

    :setting:`ZYTE_API_SESSION_RETRY_POLICY` if set; otherwise the session
    counterpart of :setting:`ZYTE_API_RETRY_POLICY` (with a warning if that
    is a custom policy, which may retry the errors sessions handle).
    """
    explicit = settings.get("ZYTE_API_SESSION_RETRY_POLICY")
    if explicit is not None:
        if explicit != "":  # "": as in scrapy-zyte-api, the handler's policy.
            _load_policy(read, "ZYTE_API_SESSION_RETRY_POLICY", explicit)
        return explicit
    # No value (None, or "" as scrapy-zyte-api's handler reads it) means
    # python-zyte-api's default policy.
    policy = settings.get("ZYTE_API_RETRY_POLICY") or "zyte_api.zyte_api_retrying"
    loaded = _load_policy(read, "ZYTE_API_RETRY_POLICY", policy)
    if loaded is None:
        return DEFAULT_RETRY_POLICY_PATH
    from zyte_api import aggressive_retrying, zyte_api_retrying  # noqa: PLC0415

    if loaded is zyte_api_retrying:
        return DEFAULT_RETRY_POLICY_PATH
    if loaded is aggressive_retrying:
        return AGGRESSIVE_RETRY_POLICY_PATH
    if any(loaded is load_object(path) for path in _SESSION_SAFE_POLICY_PATHS):
        return policy
    logger.warning(
        "ZYTE_API_RETRY_POLICY is set to a custom value (%r), which is also "
        "used for session requests. Make sure it does not retry Zyte API "
        "download errors (520, 521), which the session middleware handles by "
        "switching sessions, and set ZYTE_API_SESSION_RETRY_POLICY explicitly "
        "to silence this warning.",
        policy,
    )
    return policy


#: Values that cannot be retry policies, whatever the policy class.
_NOT_POLICIES = (bool, int, float, list, tuple, dict, set, frozenset)


def _load_policy(read: SettingsReader, name: str, value: Any) -> Any:
    """Return the retry policy that *value* is or names, or ``None``.

    An import path must import: otherwise the policy would only fail when
    the first request that uses it is sent. Numbers and containers are not
    policies. Other objects are taken as they are, as scrapy-zyte-api does.
    """
    if isinstance(value, _NOT_POLICIES):
        read.problem(name, "a retry policy or its import path", value)
        return None
    if not isinstance(value, str):
        return value
    try:
        return load_object(value)
    except (ImportError, NameError, ValueError, AttributeError):
        read.problem(name, "a retry policy or its import path", value)
        return None
