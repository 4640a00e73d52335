"""Importing the testing kit's servers, and the package, does not import Scrapy."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import import_module

import pytest
from scrapy.utils.misc import load_object

import scrapy_session_pools
from scrapy_session_pools.testing import FakeProxy, FakeSite, FakeZyteAPI

pytestmark = pytest.mark.timeout(60)


def run_python(code: str, *args: str) -> str:
    """Run *code* in a new interpreter; return its standard output."""
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return result.stdout


_IMPORTED_FRAMEWORKS = (
    "import importlib, json, sys;"
    "importlib.import_module(sys.argv[1]);"
    "print(json.dumps(sorted("
    "    name for name in sys.modules"
    "    if name.partition('.')[0] in {'scrapy', 'twisted'}"
    ")))"
)


@pytest.mark.parametrize(
    "module",
    [
        "scrapy_session_pools",
        "scrapy_session_pools.testing",
        "scrapy_session_pools.testing.zyte_api",
        "scrapy_session_pools.testing.site",
        "scrapy_session_pools.testing.proxy",
    ],
)
def test_importing_a_server_module_imports_neither_scrapy_nor_twisted(module):
    assert json.loads(run_python(_IMPORTED_FRAMEWORKS, module)) == []


def test_public_names_are_imported_on_first_use():
    output = run_python(
        "import sys, scrapy_session_pools as package;"
        "print('scrapy' in sys.modules);"
        "from scrapy_session_pools import Addon;"
        "print('scrapy' in sys.modules, Addon.__module__)"
    )
    assert output.split() == ["False", "True", "scrapy_session_pools.addon"]


def test_every_public_name_resolves_and_is_listed_by_dir():
    namespace: dict[str, object] = {}
    exec("from scrapy_session_pools import *", namespace)
    assert set(scrapy_session_pools.__all__) <= set(namespace)
    assert set(scrapy_session_pools.__all__) <= set(dir(scrapy_session_pools))
    assert "import_module" not in dir(scrapy_session_pools)
    assert isinstance(scrapy_session_pools.__version__, str)


def test_public_names_are_the_objects_of_their_modules():
    assert scrapy_session_pools.signals is import_module("scrapy_session_pools.signals")
    assert (
        scrapy_session_pools.Addon is import_module("scrapy_session_pools.addon").Addon
    )
    assert load_object("scrapy_session_pools.Addon") is scrapy_session_pools.Addon
    assert (
        load_object("scrapy_session_pools.SESSION_DEFAULT_RETRY_POLICY")
        is import_module(
            "scrapy_session_pools.backends.zyte_api"
        ).SESSION_DEFAULT_RETRY_POLICY
    )


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        _ = scrapy_session_pools.Nothing


@pytest.mark.parametrize(
    ("module", "server_cls"),
    [
        ("scrapy_session_pools.testing.zyte_api", FakeZyteAPI),
        ("scrapy_session_pools.testing.site", FakeSite),
        ("scrapy_session_pools.testing.proxy", FakeProxy),
    ],
)
def test_server_modules_keep_their_public_names(module, server_cls):
    server_module = import_module(module)
    assert getattr(server_module, server_cls.__name__) is server_cls
    assert server_cls.__module__ == module
    assert callable(server_module.create_app)
    assert callable(server_module.main)
