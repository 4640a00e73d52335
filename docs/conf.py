"""Sphinx configuration of the scrapy-session-pools documentation."""

from __future__ import annotations

import os

project = "scrapy-session-pools"
copyright = "scrapy-session-pools developers"  # noqa: A001
author = "scrapy-session-pools developers"

# bump-my-version rewrites these two lines.
release = "0.1.0"
version = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    # Adds the setting, reqmeta, signal, command and stat roles and
    # directives, and configures intersphinx for the packages listed below.
    "sphinx_scrapy",
]

exclude_patterns = ["_build"]
html_theme = "sphinx_rtd_theme"

autodoc_member_order = "bysource"
# Docstrings describe parameters and return values in prose. Type hints are
# left out of signatures: most of them name classes that the package only
# imports for type checking, which autodoc cannot resolve.
autodoc_typehints = "none"

# Intersphinx inventories are downloaded, so they are only used where the
# network is available: on Read the Docs, or when SPHINX_INTERSPHINX is set.
# Offline builds (CI, tox) skip them and ignore the references they would
# resolve; see nitpick_ignore_regex below.
INTERSPHINX_PACKAGES = [
    "python",
    "python-zyte-api",
    "scrapy",
    "scrapy-poet",
    "scrapy-zyte-api",
    "tenacity",
    "web-poet",
]
is_online = bool(os.environ.get("READTHEDOCS") or os.environ.get("SPHINX_INTERSPHINX"))
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
if is_online:
    scrapy_intersphinx_enable = INTERSPHINX_PACKAGES
else:
    # sphinx-scrapy configures python and scrapy unless disabled.
    scrapy_intersphinx_disable = INTERSPHINX_PACKAGES

# References to other projects that only intersphinx can resolve. Names of
# this project (ZYTE_API_SESSION_* settings, zyte_api_session_* meta keys,
# scrapy_session_pools objects, the signals of scrapy_session_pools.signals)
# are not ignored, so a typo in them still fails a nitpicky build.
nitpick_ignore_regex = (
    []
    if is_online
    else [
        ("py:.*", r"(?!scrapy_session_pools\.).*\..*"),
        ("std:setting", r"(?!ZYTE_API_SESSION_).*"),
        ("std:reqmeta", r"(?!zyte_api_session_).*"),
        # Scrapy's signals; those of scrapy_session_pools.signals have
        # other prefixes.
        ("std:signal", r"(engine|spider|item|request|response|scheduler)_.*"),
        ("std:stat", r"(?!sessions/).*"),
    ]
)

# The docstring of SessionControl.retire() names RetireReason, which is not
# part of the public API (the reasons are listed in usage/lifecycle.rst,
# "Why sessions retire"). Remove this once the docstring no longer names it.
nitpick_ignore = [("py:class", "RetireReason")]
