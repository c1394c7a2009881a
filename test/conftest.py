"""Fixtures shared by the whole suite.

The suite talks to a real server: ``MONGODB_URI`` if set, else a SecantusDB process started on a
free port and stopped at the end, by the ``mongodb_uri`` fixture of Motor's pytest plugin
(:mod:`motor.pytest_plugin`, which applications use too). Behaviour tests take the ``flavor``
fixture, so each runs once per framework of the registry (:data:`motor.frameworks.FRAMEWORKS`) and
loop its classes run on (:attr:`~motor.frameworks.RegisteredFramework.runs`):

- a module marked ``pytest.mark.every_framework`` runs on all of them: asyncio, Tornado, trio,
  anyio on asyncio, anyio on trio and Twisted. Its tests use the flavor's helpers
  (:meth:`Flavor.gather`, :meth:`Flavor.sleep`) where they would use asyncio's API;
- a test marked ``pytest.mark.asyncio_api`` (what it checks is asyncio's API: asyncio Futures,
  Tasks, their cancellation), and every test of an unmarked module, runs on asyncio and Tornado.

pytest-asyncio runs the tests whose flavor runs on asyncio; those of trio and Twisted, with their
async fixtures, run in a trio run or the reactor (:mod:`test.framework_runs`).

``MOTOR_TEST_LOOP=uvloop`` runs every asyncio test on a uvloop event loop instead of asyncio's own,
and leaves out the flavors that run on trio or Twisted and the tests that are not coroutines (they
use no test loop, and run the same either way).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
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
from test import framework_runs

DB_NAME = "motor_test"


@dataclass(frozen=True)
class Flavor:
    """One framework's generated classes on one kind of loop, as a test sees them."""

    #: The test id: the framework's name, and the loop's if the framework runs on several
    #: ("asyncio", "anyio-trio").
    name: str
    #: The module of generated classes (``motor.motor_asyncio``).
    module: ModuleType
    #: The framework module (``motor.frameworks.asyncio``).
    framework: ModuleType
    prefix: str
    #: What the test runs in: "asyncio" (pytest-asyncio's loop), "trio" or "twisted".
    run: str
    #: The framework's name in the registry ("anyio" for both anyio flavors).
    framework_name: str

    @classmethod
    def each_of(cls, entry: RegisteredFramework) -> list[Flavor]:
        return [
            cls(
                entry.name if len(entry.runs) == 1 else f"{entry.name}-{run}",
                entry.classes(),
                entry.framework(),
                entry.class_prefix,
                run,
                entry.name,
            )
            for run in entry.runs
        ]

    def cls(self, short_name: str) -> Any:
        """The class named ``short_name`` ("Client", "Cursor", "GridFSBucket", ...) of this framework."""
        return getattr(self.module, f"{self.prefix}Motor{short_name}")

    @property
    def Client(self) -> Any:
        return self.cls("Client")

    def current_loop(self) -> Any:
        """The running loop, as the framework names it (what ``client.get_io_loop()`` returns)."""
        if self.name == "tornado":
            from tornado.ioloop import IOLoop

            return IOLoop.current()
        if self.run == "asyncio":
            return asyncio.get_running_loop()
        if self.run == "trio":
            import trio

            return trio.lowlevel.current_trio_token()
        from twisted.internet import reactor

        return reactor

    def foreign_loop(self) -> Any:
        """An event loop of another framework, which this flavor's classes refuse as ``io_loop``."""
        if self.name == "asyncio":
            from tornado.ioloop import IOLoop

            return IOLoop.current()
        if self.name == "tornado":
            return asyncio.get_running_loop()
        if self.framework_name == "anyio":
            from twisted.internet import reactor

            return reactor
        return _spare_asyncio_loop()

    #: What the client's handshake gives as its platform ("asyncio", "Tornado 6.5", "trio 0.30").
    @property
    def platform_name(self) -> str:
        return {"tornado": "Tornado", "twisted": "Twisted"}.get(self.framework_name, self.framework_name)

    async def sleep(self, seconds: float) -> None:
        """Sleep in the test's loop."""
        await self.framework.sleep(seconds)

    async def gather(self, *awaitables: Any) -> list[Any]:
        """Await ``awaitables`` concurrently, as :func:`asyncio.gather` does; return their results.

        The first exception raised is raised (the others are discarded).
        """
        if self.run == "asyncio":
            return list(await asyncio.gather(*awaitables))
        results: list[Any] = [None] * len(awaitables)
        if self.run == "trio":
            import trio

            async def one(index: int, awaitable: Any) -> None:
                results[index] = await awaitable

            try:
                async with trio.open_nursery() as nursery:
                    for index, awaitable in enumerate(awaitables):
                        nursery.start_soon(one, index, awaitable)
            except BaseExceptionGroup as group:
                raise group.exceptions[0] from None
            return results
        from twisted.internet.defer import FirstError, ensureDeferred, gatherResults

        try:
            return list(await gatherResults([ensureDeferred(a) for a in awaitables], consumeErrors=True))
        except FirstError as error:
            raise error.subFailure.value from None

    async def wait_for(self, awaitable: Any, seconds: float) -> Any:
        """Await ``awaitable``; after ``seconds``, cancel it as the framework cancels and raise TimeoutError.

        That is :func:`asyncio.wait_for`, a cancel scope of trio or anyio (``fail_after``), or
        Twisted's :meth:`~twisted.internet.defer.Deferred.addTimeout`, which cancels the Deferred.
        """
        if self.framework_name == "anyio":
            import anyio

            with anyio.fail_after(seconds):
                return await awaitable
        if self.run == "asyncio":
            return await asyncio.wait_for(awaitable, seconds)
        if self.run == "trio":
            import trio

            try:
                with trio.fail_after(seconds):
                    return await awaitable
            except trio.TooSlowError:
                raise TimeoutError(f"not done in {seconds} s") from None
        from twisted.internet import defer, reactor

        deferred = defer.ensureDeferred(awaitable)
        deferred.addTimeout(seconds, reactor)
        try:
            return await deferred
        except defer.TimeoutError:
            raise TimeoutError(f"not done in {seconds} s") from None

    def __str__(self) -> str:
        return self.name


_SPARE_LOOP: list[asyncio.AbstractEventLoop] = []


def _spare_asyncio_loop() -> asyncio.AbstractEventLoop:
    """An asyncio loop that never runs, made once, for tests that need a loop object of asyncio's."""
    if not _SPARE_LOOP:
        _SPARE_LOOP.append(asyncio.new_event_loop())
    return _SPARE_LOOP[0]


#: One flavor per framework of the registry and loop it runs on, in the registry's order.
EVERY_FLAVOR: tuple[Flavor, ...] = tuple(flavor for entry in FRAMEWORKS for flavor in Flavor.each_of(entry))
#: The flavors of the frameworks built on asyncio alone (asyncio, Tornado): those of the tests written
#: with asyncio's API.
FLAVORS: tuple[Flavor, ...] = tuple(
    flavor for entry in FRAMEWORKS if entry.runs == ("asyncio",) for flavor in Flavor.each_of(entry)
)
FLAVORS_BY_NAME = {flavor.name: flavor for flavor in FLAVORS}
#: One flavor per framework of the registry, for tests that need no running loop (completeness).
ALL_FLAVORS: tuple[Flavor, ...] = tuple(Flavor.each_of(entry)[0] for entry in FRAMEWORKS)
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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # A module with a flavor fixture of its own (test_completeness.py) chooses its flavors.
    if "flavor" not in metafunc.fixturenames or hasattr(metafunc.module, "flavor"):
        return
    every = metafunc.definition.get_closest_marker("every_framework") is not None
    flavors = EVERY_FLAVOR if every and not metafunc.definition.get_closest_marker("asyncio_api") else FLAVORS
    if os.environ.get("MOTOR_TEST_LOOP") == "uvloop":
        flavors = tuple(flavor for flavor in flavors if flavor.run == "asyncio")
    metafunc.parametrize("flavor", flavors, ids=str, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # pytest-asyncio took every coroutine test for its own: give those of trio and Twisted back.
    for index, item in enumerate(items):
        if (
            isinstance(item, pytest.Function)
            and framework_runs.run_kind(item) != "asyncio"
            and inspect.iscoroutinefunction(item.obj)
        ):
            items[index] = framework_runs.FrameworkFunction.replacing(item)
    if os.environ.get("MOTOR_TEST_LOOP") == "uvloop":
        # Only coroutine tests run on pytest-asyncio's loop: the others would run as they do without
        # uvloop (CI runs them in the default run).
        on_loop = [item for item in items if inspect.iscoroutinefunction(getattr(item, "obj", None))]
        kept = set(on_loop)
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = on_loop


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Any:
    # An async fixture of a trio or Twisted test runs in the test's run, not on pytest-asyncio's loop.
    func = fixturedef.func
    if framework_runs.run_kind(request.node) != "asyncio" and (
        inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)
    ):
        request.getfixturevalue("flavor")
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(fixturedef, "func", framework_runs.in_run_fixture(func))
            return (yield)
    return (yield)


def pytest_sessionfinish(session: pytest.Session) -> None:
    framework_runs.ReactorRun.stop()
    if framework_runs.ReactorRun.unhandled_errors:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print("\nTwisted logged failures that no Deferred handled:", file=sys.stderr)
        for error in framework_runs.ReactorRun.unhandled_errors:
            print(error, file=sys.stderr)


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


@pytest.fixture
def flavor(request: pytest.FixtureRequest) -> Iterator[Flavor]:
    """Each framework in turn (see :func:`pytest_generate_tests`), with its run for the test."""
    chosen: Flavor = request.param
    with framework_runs.running(chosen.run):
        yield chosen


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
async def coll(db: Any, request: pytest.FixtureRequest, sync_client: MongoClient[Any]) -> AsyncIterator[Any]:
    """An empty collection named after the test, dropped after it (by PyMongo: the test may have
    closed its client).

    Dropping it keeps the test server small: SecantusDB slows down as the collections of
    thousands of tests pile up.
    """
    name = re.sub(r"\W+", "_", request.node.name)[:100]
    collection = db[name]
    await collection.drop()
    yield collection
    sync_client[db.name].drop_collection(name)
