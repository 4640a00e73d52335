"""Serve an aiohttp application as a test server process until it is terminated."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from aiohttp import web

#: Test servers listen on the loopback interface only.
HOST = "127.0.0.1"


async def serve(app: web.Application, port: int) -> None:
    """Serve *app* on ``127.0.0.1:<port>`` until SIGTERM or SIGINT.

    *port* 0 picks a free port. Once the server is listening, its base URL
    (e.g. ``http://127.0.0.1:43121``) is written as the first and only line
    of the standard output, which is what
    :class:`~scrapy_session_pools.testing.SubprocessServer` waits for. The
    access log is off.
    """
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # Windows
            loop.add_signal_handler(signum, stopping.set)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, HOST, port).start()
        bound_port = runner.addresses[0][1]
        sys.stdout.write(f"http://{HOST}:{bound_port}\n")
        sys.stdout.flush()
        await stopping.wait()
    finally:
        await runner.cleanup()


def argument_parser(module: str, description: str) -> argparse.ArgumentParser:
    """Return a parser for the command line of ``python -m <module>``.

    It has the ``--port`` option (default 0) that
    :class:`~scrapy_session_pools.testing.SubprocessServer` passes; add the
    options of the server to it.
    """
    parser = argparse.ArgumentParser(
        prog=f"python -m {module}", description=description
    )
    parser.add_argument("--port", type=int, default=0)
    return parser


def seconds(value: str) -> float:
    """Parse a command-line duration: a number of seconds >= 0."""
    try:
        result = float(value)
    except ValueError:
        result = -1.0
    if not result >= 0:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {value!r}")
    return result


def count(value: str) -> int:
    """Parse a command-line count: an integer >= 0."""
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value!r}")
    return int(value)


def credentials(value: str) -> str:
    """Parse command-line credentials: ``USER:PASSWORD`` with a non-empty user."""
    user, sep, _ = value.partition(":")
    if not user or not sep:
        raise argparse.ArgumentTypeError(f"expected USER:PASSWORD, got {value!r}")
    return value
