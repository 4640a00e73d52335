"""Cookie jars of cookie-mode sessions: RFC 6265 matching on Zyte API cookies.

Cookies use Zyte API's ``requestCookies`` / ``responseCookies`` shape:
``{"name", "value", "domain", "path"?, "expires"?, "secure"?, ...}``, where
``expires`` is a Unix timestamp. A ``domain`` with a leading dot
(``.example.com``) matches that domain and its subdomains; without it, the
cookie is host-only and matches that host alone (the convention of browser
cookie exports). A cookie that arrives already expired deletes the stored
cookie with the same name, domain and path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Sequence

Cookie = dict[str, Any]


def _key(cookie: Cookie) -> tuple[str, str, str]:
    return (
        str(cookie.get("domain") or "").lower(),
        str(cookie.get("path") or "/"),
        str(cookie.get("name", "")),
    )


def is_expired(cookie: Cookie, now: float) -> bool:
    """Return whether *cookie* has an ``expires`` time at or before *now*."""
    expires = cookie.get("expires")
    return isinstance(expires, (int, float)) and expires <= now


def merge_cookies(
    jar: Sequence[Cookie], received: list[Cookie], now: float
) -> list[Cookie]:
    """Return *jar* updated with the *received* cookies.

    A received cookie replaces the stored one with the same name, domain and
    path; an expired one deletes it. Expired stored cookies are dropped.
    """
    cookies = {_key(c): c for c in jar if not is_expired(c, now)}
    for cookie in received:
        if not isinstance(cookie, dict) or not cookie.get("name"):
            continue
        key = _key(cookie)
        if is_expired(cookie, now):
            cookies.pop(key, None)
        else:
            cookies[key] = dict(cookie)
    return list(cookies.values())


def domain_matches(host: str, domain: str) -> bool:
    """Return whether a cookie for *domain* may be sent to *host*."""
    host, domain = host.lower(), domain.lower()
    if domain.startswith("."):
        bare = domain[1:]
        return host == bare or host.endswith(domain)
    return host == domain


def path_matches(request_path: str, cookie_path: str) -> bool:
    """Return whether a cookie for *cookie_path* may be sent for *request_path*."""
    if request_path == cookie_path:
        return True
    if not request_path.startswith(cookie_path):
        return False
    return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"


def cookies_for_url(jar: Sequence[Cookie], url: str, now: float) -> list[Cookie]:
    """Return the cookies of *jar* to send with a request to *url*.

    The result has the ``requestCookies`` shape (name, value, domain, path).
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = parts.path or "/"
    is_secure = parts.scheme == "https"
    return [
        {
            "name": cookie["name"],
            "value": cookie.get("value", ""),
            "domain": cookie.get("domain", ""),
            "path": cookie.get("path") or "/",
        }
        for cookie in jar
        if not is_expired(cookie, now)
        and domain_matches(host, str(cookie.get("domain") or ""))
        and path_matches(path, str(cookie.get("path") or "/"))
        and (is_secure or not cookie.get("secure"))
    ]
