"""Fixtures shared by the whole suite.

The suite talks to a real server: ``MONGODB_URI`` if set, else a SecantusDB process started on a
free port and stopped at the end, by the ``mongodb_uri`` fixture of Motor's pytest plugin
(:mod:`motor.pytest_plugin`, which applications use too). Behaviour tests take the ``flavor``
fixture, so each runs once per framework of the registry (:data:`motor.frameworks.FRAMEWORKS`):
with the asyncio classes and with the Tornado classes.

``MOTOR_TEST_LOOP=uvloop`` runs every asyncio test on a uvloop event loop instead of asyncio's own.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from pymongo import MongoClient, monitoring
from pymongo.errors import OperationFailure

from motor.frameworks import FRAMEWORKS, RegisteredFramework

DB_NAME = "motor_test"


@dataclass(frozen=True)
class Flavor:
    """One framework's generated classes, as a test sees them."""

    name: str
    #: The module of generated classes (``motor.motor_asyncio``).
    module: ModuleType
    #: The framework module (``motor.frameworks.asyncio``).
    framework: ModuleType
    prefix: str

    @classmethod
    def of(cls, entry: RegisteredFramework) -> Flavor:
        return cls(entry.name, entry.classes(), entry.framework(), entry.class_prefix)

    def cls(self, short_name: str) -> Any:
        """The class named ``short_name`` ("Client", "Cursor", "GridFSBucket", ...) of this framework."""
        return getattr(self.module, f"{self.prefix}Motor{short_name}")

    @property
    def Client(self) -> Any:
        return self.cls("Client")

    def __str__(self) -> str:
        return self.name


#: One flavor per framework of the registry that runs on an asyncio loop, in its order: the
#: behaviour tests are written with asyncio idioms (trio's and Twisted's classes are tested in
#: test_trio.py and test_twisted.py).
FLAVORS: tuple[Flavor, ...] = tuple(Flavor.of(entry) for entry in FRAMEWORKS if entry.on_asyncio)
FLAVORS_BY_NAME = {flavor.name: flavor for flavor in FLAVORS}
#: One flavor per framework of the registry, for tests that need no running loop (completeness).
ALL_FLAVORS: tuple[Flavor, ...] = tuple(Flavor.of(entry) for entry in FRAMEWORKS)
#: The two flavors that tests of one framework's own behaviour (Tornado's IOLoop, ...) single out.
ASYNCIO = FLAVORS_BY_NAME["asyncio"]
TORNADO = FLAVORS_BY_NAME["tornado"]


LOOPS = ("asyncio", "uvloop")


class _UvloopFactory:
    """Makes pytest-asyncio run each test on a new uvloop loop (its loop-factory hook)."""

    @staticmethod
    def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
        import uvloop

        return {"uvloop": uvloop.new_event_loop}


def pytest_configure(config: pytest.Config) -> None:
    # An environment installed before the plugin's entry point existed has not registered it.
    if not config.pluginmanager.hasplugin("motor"):
        config.pluginmanager.register(importlib.import_module("motor.pytest_plugin"), "motor")
    loop = os.environ.get("MOTOR_TEST_LOOP", "asyncio")
    if loop not in LOOPS:
        raise pytest.UsageError(f"MOTOR_TEST_LOOP must be one of {', '.join(LOOPS)}, not {loop!r}")
    if loop == "uvloop":
        config.pluginmanager.register(_UvloopFactory(), "motor-test-uvloop")


def pytest_report_header(config: pytest.Config) -> str:
    gil_enabled = getattr(sys, "_is_gil_enabled", lambda: True)()
    return (
        f"motor: event loop {os.environ.get('MOTOR_TEST_LOOP', 'asyncio')} (MOTOR_TEST_LOOP), "
        f"GIL {'enabled' if gil_enabled else 'disabled'}"
    )


@pytest.fixture(scope="session")
def sync_client(mongodb_uri: str) -> Iterator[MongoClient[dict[str, Any]]]:
    """A PyMongo client, to set up and check server state independently of Motor."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_uri)
    yield client
    client.close()


@pytest.fixture(scope="session")
def fail_points(sync_client: MongoClient[Any]) -> MongoClient[Any]:
    """The sync client, once we know the server accepts ``configureFailPoint``."""
    try:
        sync_client.admin.command("configureFailPoint", "failCommand", mode="off")
    except OperationFailure as exc:
        pytest.skip(f"the server does not enable test commands: {exc}")
    return sync_client


class CommandLog(monitoring.CommandListener):
    """Records a client's command events."""

    def __init__(self) -> None:
        self.started_events: list[monitoring.CommandStartedEvent] = []
        self.succeeded_events: list[monitoring.CommandSucceededEvent] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.started_events.append(event)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.succeeded_events.append(event)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def started_count(self, name: str) -> int:
        return sum(1 for e in self.started_events if e.command_name == name)

    def succeeded_count(self, name: str) -> int:
        return sum(1 for e in self.succeeded_events if e.command_name == name)

    def killed_cursors(self) -> set[int]:
        """Ids of the cursors that a successful ``killCursors`` killed."""
        return {
            cursor_id
            for e in self.succeeded_events
            if e.command_name == "killCursors"
            for cursor_id in e.reply.get("cursorsKilled", [])
        }

    def opened_cursors(self, name: str) -> list[int]:
        """Ids of the cursors that successful ``name`` commands opened."""
        return [
            e.reply["cursor"]["id"]
            for e in self.succeeded_events
            if e.command_name == name and e.reply.get("cursor", {}).get("id")
        ]

    def session_ids(self) -> set[bytes]:
        return {bytes(e.command["lsid"]["id"]) for e in self.started_events if "lsid" in e.command}


@contextlib.contextmanager
def fail_command(
    sync_client: MongoClient[Any], app_name: str, commands: list[str], **data: Any
) -> Iterator[None]:
    """Make the next ``times`` (default 1) of ``commands`` from ``app_name`` fail as ``data`` says.

    Scoping the fail point to the test's own ``appName`` keeps other clients out of it.
    """
    times = data.pop("times", 1)
    sync_client.admin.command(
        "configureFailPoint",
        "failCommand",
        mode={"times": times},
        data={"failCommands": commands, "appName": app_name, **data},
    )
    try:
        yield
    finally:
        sync_client.admin.command("configureFailPoint", "failCommand", mode="off")


@pytest.fixture(params=FLAVORS, ids=str)
def flavor(request: pytest.FixtureRequest) -> Flavor:
    """Each framework in turn."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def client(flavor: Flavor, mongodb_uri: str) -> AsyncIterator[Any]:
    """A Motor client of the framework under test, closed after the test."""
    motor_client = flavor.Client(mongodb_uri)
    yield motor_client
    await motor_client.aclose()


@pytest.fixture
def db(client: Any) -> Any:
    """The test database."""
    return client[DB_NAME]


@pytest.fixture
async def coll(db: Any, request: pytest.FixtureRequest) -> Any:
    """An empty collection named after the test."""
    name = re.sub(r"\W+", "_", request.node.name)[:100]
    collection = db[name]
    await collection.drop()
    return collection
