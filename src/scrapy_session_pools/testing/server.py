"""Run a test server in a subprocess and talk to its admin endpoints."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn, cast
from urllib.error import HTTPError
from urllib.request import ProxyHandler, Request, build_opener

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

    from typing_extensions import Self

_ADMIN_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0

# Admin calls go straight to 127.0.0.1, never through a proxy taken from the
# environment (http_proxy and friends).
_opener = build_opener(ProxyHandler({}))


class SubprocessServer:
    """A local HTTP server running as ``python -m <module>`` in a subprocess.

    *module* is the importable name of the server module. It is started as
    ``python -m <module> --port 0 <args>``, and must print its base URL (e.g.
    ``http://127.0.0.1:43121``) as the first line of its standard output once
    it is listening, then serve until it is terminated.

    *args* are extra command-line arguments for the server. *startup_timeout*
    is how many seconds :meth:`start` waits for the URL line.

    The server must offer the admin endpoints ``GET /_state``,
    ``POST /_reset`` and ``POST /_config`` to use :meth:`state`, :meth:`reset`
    and :meth:`configure`.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`:

    .. code-block:: python

        with SubprocessServer("my_project.testing.site") as server:
            response = urlopen(server.url("/login"))
    """

    def __init__(
        self,
        module: str,
        args: Sequence[str] = (),
        *,
        startup_timeout: float = 30.0,
    ) -> None:
        self.module = module
        self.args = tuple(args)
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        self._base_url: str | None = None

    def start(self) -> Self:
        """Start the server and wait until it is listening.

        Raise :exc:`RuntimeError`, with the server's standard error output,
        if the server exits or does not print its URL within
        :attr:`startup_timeout` seconds. Return the server itself.
        """
        if self._process is not None:
            raise RuntimeError(f"{self!r} is already running.")
        command = [sys.executable, "-m", self.module, "--port", "0", *self.args]
        # stderr goes to a file rather than a pipe: a pipe nobody reads could
        # fill up and block the server.
        self._stderr = tempfile.TemporaryFile(
            mode="w+", encoding="utf-8", errors="replace"
        )
        self._process = subprocess.Popen(  # noqa: S603
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            env=self._child_env(),
        )
        line = self._read_first_line(self._process).strip()
        if not line:
            self._fail("exited before printing its URL")
        if not line.startswith(("http://", "https://")):
            self._fail(f"printed {line!r} instead of its URL")
        self._base_url = line.rstrip("/")
        return self

    def stop(self) -> None:
        """Stop the server: terminate it, and kill it if it does not exit.

        Anything the server wrote to its standard error output is copied to
        the standard error output of the current process, so that it shows up
        in test reports. Calling it on a stopped server does nothing.
        """
        process, self._process = self._process, None
        self._base_url = None
        if process is not None:
            _terminate(process)
        stderr, self._stderr = self._stderr, None
        if stderr is not None:
            output = _read_all(stderr)
            stderr.close()
            if output:
                sys.stderr.write(output)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.module} at {self._base_url}>"

    def url(self, path: str = "") -> str:
        """Return the base URL of the running server followed by *path*."""
        if self._base_url is None:
            raise RuntimeError(f"{self!r} is not running; call start() first.")
        return self._base_url + path

    def state(self) -> dict[str, Any]:
        """Return the JSON object served at ``GET /_state``."""
        return cast("dict[str, Any]", self._admin_request("GET", "/_state"))

    def reset(self) -> None:
        """Forget everything the server saw: ``POST /_reset``."""
        self._admin_request("POST", "/_reset", {})

    def configure(self, **options: Any) -> None:
        """Change server options at run time: ``POST /_config``.

        *options* are sent as a JSON object, e.g.
        ``server.configure(latency=0.5)``.
        """
        self._admin_request("POST", "/_config", options)

    def _admin_request(
        self, method: str, path: str, payload: dict[str, Any] | None = None
    ) -> Any:
        url = self.url(path)
        body = None if payload is None else json.dumps(payload).encode()
        request = Request(url, data=body, method=method)  # noqa: S310
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with _opener.open(request, timeout=_ADMIN_TIMEOUT) as response:
                return json.loads(response.read())
        except HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise RuntimeError(
                f"{method} {url} failed with HTTP {exc.code}: {detail}"
            ) from exc

    def _child_env(self) -> dict[str, str]:
        """Return the environment of the server, able to import the module.

        The directory the module's top-level package is imported from here is
        put first on ``PYTHONPATH``, so that the server runs the same code as
        the tests even when the package is not installed (e.g. pytest's
        ``pythonpath`` option only changes ``sys.path`` of this process).
        """
        env = dict(os.environ)
        root = _import_root(self.module)
        if root is not None:
            paths = [root, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
            env["PYTHONPATH"] = os.pathsep.join(paths)
        return env

    def _read_first_line(self, process: subprocess.Popen[str]) -> str:
        stdout = process.stdout
        assert stdout is not None
        # A thread lets the read time out portably; killing the process
        # closes the pipe, which ends a read still waiting.
        with ThreadPoolExecutor(max_workers=1) as executor:
            future = executor.submit(stdout.readline)
            try:
                return future.result(timeout=self.startup_timeout)
            except FutureTimeoutError:
                process.kill()
                self._fail(f"did not print its URL within {self.startup_timeout} s")

    def _fail(self, reason: str) -> NoReturn:
        """Stop the server that failed to start and raise RuntimeError."""
        process, self._process = self._process, None
        returncode = None
        if process is not None:
            _terminate(process)
            returncode = process.returncode
        stderr, self._stderr = self._stderr, None
        output = ""
        if stderr is not None:
            output = _read_all(stderr)
            stderr.close()
        raise RuntimeError(
            f"Test server {self.module} {reason} (exit code {returncode}). "
            f"Its standard error output was:\n{output}"
        )


def _terminate(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.communicate(timeout=_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


def _read_all(stream: IO[str]) -> str:
    stream.flush()
    stream.seek(0)
    return stream.read()


def _import_root(module: str) -> str | None:
    """Return the directory from which *module*'s top-level package imports."""
    top_level = module.partition(".")[0]
    try:
        spec = importlib.util.find_spec(top_level)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        package_dir = next(iter(spec.submodule_search_locations))
        return str(Path(package_dir).parent)
    if spec.origin and spec.has_location:
        return str(Path(spec.origin).parent)
    return None
