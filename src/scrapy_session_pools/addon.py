"""The Scrapy add-on: enables the session middlewares."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .middleware import SessionPoolsMiddleware, SessionPoolsResetterMiddleware

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

#: Priority of :class:`SessionPoolsMiddleware` in DOWNLOADER_MIDDLEWARES.
MIDDLEWARE_PRIORITY = 667
#: Priority of :class:`SessionPoolsResetterMiddleware`.
RESETTER_PRIORITY = 565


class Addon:
    """Scrapy add-on that enables session pools.

    It enables :class:`SessionPoolsMiddleware` (at 667) and
    :class:`SessionPoolsResetterMiddleware` (at 565) unless the user already
    set their priorities, and disables the session middlewares of
    scrapy-zyte-api, so that exactly one session manager acts on a request.
    Sessions themselves stay off until :setting:`ZYTE_API_SESSION_ENABLED`
    is ``True``.
    """

    def update_settings(self, settings: BaseSettings) -> None:
        """Register the middlewares in *settings*."""
        settings.setdefault_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", SessionPoolsMiddleware, MIDDLEWARE_PRIORITY
        )
        settings.setdefault_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES",
            SessionPoolsResetterMiddleware,
            RESETTER_PRIORITY,
        )
        from scrapy_zyte_api import (  # noqa: PLC0415
            ScrapyZyteAPISessionDownloaderMiddleware,
            ScrapyZyteAPISessionResetterDownloaderMiddleware,
        )

        for component in (
            ScrapyZyteAPISessionDownloaderMiddleware,
            ScrapyZyteAPISessionResetterDownloaderMiddleware,
        ):
            settings.set_in_component_priority_dict(
                "DOWNLOADER_MIDDLEWARES", component, None
            )
