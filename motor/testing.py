"""Start a throwaway SecantusDB server, for tests and demos.

SecantusDB is a MongoDB-wire-compatible server distributed on PyPI as ``secantusdb`` (installed by
Motor's ``testing``, ``test`` and ``demo`` extras, never by Motor itself). :class:`SecantusServer`
runs it as a separate process on a free port of 127.0.0.1 and stops it afterwards::

    with SecantusServer() as server:
        client = AsyncIOMotorClient(server.uri)

It reports itself as a one-node replica set named ``secantus``, so sessions, transactions and
change streams work. Applications' tests get it through the pytest plugin,
:mod:`motor.pytest_plugin`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

__all__ = ["SecantusServer", "ServerNotInstalledError", "free_port"]

EXECUTABLE = "secantusd-py"


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerNotInstalledError(RuntimeError):
    """SecantusDB's executable is neither beside the running Python nor on ``PATH``."""


def _find_executable() -> str:
    beside_python = Path(sys.executable).with_name(EXECUTABLE)
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(EXECUTABLE)
    if found is None:
        raise ServerNotInstalledError(
            f"SecantusDB's {EXECUTABLE} is neither beside {sys.executable} nor on PATH: install it "
            "with pip install 'motor[testing]', or set MONGODB_URI to the URI of a MongoDB server"
        )
    return found


class SecantusServer:
    """A SecantusDB process on 127.0.0.1.

    :param port: the port to listen on; a free one by default.
    :param storage_path: a data directory that survives restarts; in memory by default.
    :param extra_args: more command-line options (``--auth``, ``--tls-cert-file``, ...).
    :param startup_timeout: seconds to wait for the server to answer ``ping``.
    :param client_options: options of the PyMongo client that pings it (``tls=True``, ...).
    :param cache_size: the WiredTiger cache. SecantusDB's default (1G) overflows
        (``WT_CACHE_FULL``) once a test run has written a few hundred megabytes, oplog included.
    """

    def __init__(
        self,
        port: int | None = None,
        storage_path: str | os.PathLike[str] | None = None,
        extra_args: list[str] | None = None,
        startup_timeout: float = 30.0,
        client_options: dict[str, Any] | None = None,
        cache_size: str = "4G",
    ) -> None:
        self.port = port or free_port()
        self.storage_path = str(storage_path) if storage_path is not None else ":memory:"
        self.extra_args = list(extra_args or [])
        self.startup_timeout = startup_timeout
        self.client_options = dict(client_options or {})
        self.cache_size = cache_size
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server object

    @property
    def uri(self) -> str:
        """The connection string of this server's replica set."""
        return f"mongodb://127.0.0.1:{self.port}/?replicaSet=secantus"

    def start(self) -> SecantusServer:
        """Start the process and wait until it answers ``ping``.

        :raises ServerNotInstalledError: if SecantusDB is not installed.
        :raises RuntimeError: if it exits or does not answer in time (with its output).
        """
        try:
            executable = _find_executable()
        except ServerNotInstalledError:
            self._log.close()
            raise
        command = [
            executable,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--storage-path", self.storage_path,
            "--enable-test-commands",
            "--log-level", "WARNING",
            "--cache-size", self.cache_size,
            *self.extra_args,
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.process.poll() is not None:
                output = self.output()
                self._log.close()
                raise RuntimeError(f"SecantusDB exited with {self.process.returncode}: {output}")
            if self._answers_ping():
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"SecantusDB did not answer ping in {self.startup_timeout}s: {self.output()}"
                )
            time.sleep(0.1)

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                pass
        except OSError:
            return False
        client: MongoClient[dict[str, object]] = MongoClient(
            "127.0.0.1",
            self.port,
            directConnection=True,
            serverSelectionTimeoutMS=2000,
            **self.client_options,
        )
        try:
            client.admin.command("ping")
        except PyMongoError as exc:
            # An auth-enabled server refuses ping without credentials, but it is up.
            return "auth" in str(exc).lower() or "unauthorized" in str(exc).lower()
        finally:
            client.close()
        return True

    def output(self) -> str:
        """The last lines the server printed."""
        if self._log.closed:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-4000:]

    def kill(self) -> None:
        """Kill the process at once (SIGKILL), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 seconds)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> SecantusServer:
        return self.start()

    def close(self) -> None:
        """Stop the server and release its log file."""
        self.stop()
        self._log.close()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
