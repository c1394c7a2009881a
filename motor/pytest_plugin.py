"""Pytest fixtures for testing applications that use Motor.

Installing Motor registers this plugin with pytest (the ``pytest11`` entry point ``motor``); the
``testing`` extra (``pip install 'motor[testing]'``) also installs pytest and SecantusDB, the
MongoDB-compatible server the fixtures start. The fixtures:

``mongodb_uri``
    Session-scoped: the ``MONGODB_URI`` environment variable if set, else the URI of one SecantusDB
    server started on a free port of 127.0.0.1 for the whole session and stopped at its end.
``motor_client``, ``motor_db``
    An :class:`~motor.motor_asyncio.AsyncIOMotorClient`, closed after the test, and a database of
    that client whose name is unique to the test, dropped after it.
``motor_tornado_client``, ``motor_tornado_db``
    The same with the Tornado classes (:class:`~motor.motor_tornado.MotorClient`).
``motor_test_uri``
    The URI the test's clients connect to: ``mongodb_uri``, or a server of the test's own when the
    test is marked ``@pytest.mark.motor_own_server`` or pytest runs with ``--motor-own-server``.

The fixtures are synchronous on purpose: a Motor client is not bound to a loop when created, it
uses the loop running when it is first used. So they need no event-loop plugin of their own and
work in pytest-asyncio's strict and auto modes, with anyio's pytest plugin (asyncio backend) and
with Tornado's loop alike, and the client follows whatever loop runs the test. Closing a client
with no loop running closes it at once, and the test database is dropped with the PyMongo client
under the Motor client, so teardown needs no loop either.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from motor.testing import SecantusServer

__all__ = [
    "mongodb_uri",
    "motor_client",
    "motor_db",
    "motor_test_uri",
    "motor_tornado_client",
    "motor_tornado_db",
]

OWN_SERVER_MARKER = "motor_own_server"

# MongoDB refuses database names longer than 63 bytes and with any of these characters.
_DB_NAME_MAX = 63
_DB_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("motor", "Motor's MongoDB fixtures")
    group.addoption(
        "--motor-own-server",
        action="store_true",
        default=False,
        help="give every test that uses motor_client, motor_db or motor_test_uri a SecantusDB "
        "server of its own (as @pytest.mark.motor_own_server does for one test)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{OWN_SERVER_MARKER}: start a SecantusDB server for this test alone (isolates server-wide "
        "state such as fail points, users and server parameters; costs a server start)",
    )


def _start_server() -> SecantusServer:
    from motor.testing import SecantusServer, ServerNotInstalledError

    try:
        return SecantusServer().start()
    except ServerNotInstalledError as exc:
        message = str(exc)
    # Outside the except block, so that the report is the message alone, not a chain of two.
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def mongodb_uri() -> Iterator[str]:
    """The URI of the session's server: ``MONGODB_URI`` if set, else a SecantusDB started once.

    :raises pytest.fail.Exception: if ``MONGODB_URI`` is not set and SecantusDB is not installed.
    """
    uri = os.environ.get("MONGODB_URI")
    if uri:
        yield uri
        return
    server = _start_server()
    try:
        yield server.uri
    finally:
        server.close()


@pytest.fixture
def motor_test_uri(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URI this test's clients use: the session's server, or one of the test's own."""
    own = request.node.get_closest_marker(OWN_SERVER_MARKER) is not None or request.config.getoption(
        "motor_own_server"
    )
    if not own:
        # Looked up only here, so that a run whose tests all have their own server starts no
        # session server.
        yield request.getfixturevalue("mongodb_uri")
        return
    server = _start_server()
    try:
        yield server.uri
    finally:
        # Its data lives in memory and goes with it: no clean shutdown is needed, and SIGTERM's
        # takes about two seconds.
        server.kill()
        server.close()


def unique_db_name(request: pytest.FixtureRequest) -> str:
    """A database name for this test: its name, made safe and short, and a random suffix.

    The suffix keeps two runs of the same test against one server (two checkouts, or pytest-xdist
    workers) apart.
    """
    suffix = uuid.uuid4().hex[:8]
    stem = _DB_NAME_UNSAFE.sub("_", request.node.name).strip("_")
    stem = stem[: _DB_NAME_MAX - len("test__") - len(suffix)]
    return f"test_{stem}_{suffix}"


def _drop_database(client: Any, name: str) -> None:
    # Through the PyMongo client under the Motor client: teardown runs after the test's loop has
    # stopped, and this needs no second client.
    client.delegate.drop_database(name)


@pytest.fixture
def motor_client(motor_test_uri: str) -> Iterator[Any]:
    """An asyncio Motor client on :func:`motor_test_uri`, closed after the test.

    It is not pinned to a loop: it uses the loop that runs the test.
    """
    from motor.motor_asyncio import AsyncIOMotorClient

    client: Any = AsyncIOMotorClient(motor_test_uri)
    yield client
    client.close()


@pytest.fixture
def motor_db(motor_client: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A database of :func:`motor_client` named for this test alone, dropped after the test."""
    name = unique_db_name(request)
    yield motor_client[name]
    _drop_database(motor_client, name)


@pytest.fixture
def motor_tornado_client(motor_test_uri: str) -> Iterator[Any]:
    """A Tornado Motor client on :func:`motor_test_uri`, closed after the test."""
    from motor.motor_tornado import MotorClient

    client: Any = MotorClient(motor_test_uri)
    yield client
    client.close()


@pytest.fixture
def motor_tornado_db(motor_tornado_client: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A database of :func:`motor_tornado_client` named for this test alone, dropped after it."""
    name = unique_db_name(request)
    yield motor_tornado_client[name]
    _drop_database(motor_tornado_client, name)
