"""Fixtures shared by the whole suite.

The suite talks to a real server: ``MONGODB_URI`` if set, else a SecantusDB process started on a
free port and stopped at the end, by the ``mongodb_uri`` fixture of Motor's pytest plugin
(:mod:`motor.pytest_plugin`, which applications use too). Behaviour tests take the ``flavor``
fixture, so each runs once per framework of the registry (:data:`motor.frameworks.FRAMEWORKS`) and
loop its classes run on (:attr:`~motor.frameworks.RegisteredFramework.runs`):

- a module marked ``pytest.mark.every_framework`` runs on all of them: asyncio, Tornado, trio,
  anyio on asyncio, anyio on trio and Twisted. Its tests use the flavor's helpers
  (``Flavor.gather``, ``Flavor.sleep``, ``Flavor.wait_for``, in ``test/support.py``) where they
  would use asyncio's API;
- a test marked ``pytest.mark.asyncio_api`` (what it checks is asyncio's API: asyncio Futures,
  Tasks, their cancellation), and every test of an unmarked module, runs on asyncio and Tornado.

pytest-asyncio runs the tests whose flavor runs on asyncio; those of trio and Twisted, with their
async fixtures, run in a trio run or the reactor (:mod:`test.framework_runs`).

``MOTOR_TEST_LOOP=uvloop`` runs every asyncio test on a uvloop event loop instead of asyncio's own,
and leaves out the flavors that run on trio or Twisted and the tests that are not coroutines (they
use no test loop, and run the same either way).
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from test import framework_runs
from test.support import DB_NAME, EVERY_FLAVOR, FLAVORS, Flavor

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
