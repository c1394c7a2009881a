"""Motor's pytest plugin (motor/pytest_plugin.py), as applications use it.

Each test writes an application's test files and runs pytest on them with ``pytester``, in a new
process as an application's repository would (its own configuration, pytest-asyncio in its default
strict mode unless the test says otherwise), against this suite's server through ``MONGODB_URI``,
so the suite still starts a single server. ``test_fastapi_example`` and ``test_testing_example``
run the test files of examples/fastapi_app and examples/testing as they are.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from motor import testing

ROOT = Path(__file__).resolve().parent.parent
FASTAPI_EXAMPLE = ROOT / "examples" / "fastapi_app"

# The application's tests record what they were given with record(); seen() reads it back.
PROBE = """
import pytest


def record(name, value):
    with open("seen.txt", "a") as f:
        f.write(f"{name}={value}\\n")
"""


@pytest.fixture
def app_repo(pytester: pytest.Pytester, mongodb_uri: str, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """An application's repository, whose tests use this suite's server."""
    monkeypatch.setenv("MONGODB_URI", mongodb_uri)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    return pytester


def seen(pytester: pytest.Pytester) -> dict[str, list[str]]:
    """What the application's tests recorded with ``record(name, value)``, by name."""
    values: dict[str, list[str]] = {}
    for line in (pytester.path / "seen.txt").read_text().splitlines():
        name, value = line.split("=", 1)
        values.setdefault(name, []).append(value)
    return values


def database_names(sync_client: MongoClient[Any]) -> set[str]:
    return set(sync_client.list_database_names())


def test_fastapi_example(app_repo: pytest.Pytester) -> None:
    for name in ("app.py", "test_app.py", "pyproject.toml"):
        shutil.copy(FASTAPI_EXAMPLE / name, app_repo.path / name)
    result = app_repo.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=14)


def test_testing_example(app_repo: pytest.Pytester, sync_client: MongoClient[Any]) -> None:
    """doc/testing.rst's example, examples/testing/test_orders.py, as it is."""
    before = database_names(sync_client)
    shutil.copy(ROOT / "examples" / "testing" / "test_orders.py", app_repo.path)
    result = app_repo.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=4)
    assert database_names(sync_client) == before


def test_strict_mode(app_repo: pytest.Pytester, sync_client: MongoClient[Any], mongodb_uri: str) -> None:
    """pytest-asyncio's defaults: strict mode, nothing configured."""
    before = database_names(sync_client)
    app_repo.makepyfile(
        PROBE
        + """
@pytest.mark.asyncio
async def test_insert_and_find(motor_client, motor_db, mongodb_uri):
    assert motor_db.client is motor_client
    await motor_db.things.insert_one({"x": 1})
    assert await motor_db.things.find_one({}, {"_id": 0}) == {"x": 1}
    record("db", motor_db.name)
    record("uri", mongodb_uri)


@pytest.mark.asyncio
@pytest.mark.parametrize("weird", ["a/b.c$d e", "x" * 200])
async def test_unique_names(motor_db, weird):
    await motor_db.things.insert_one({})
    record("db", motor_db.name)


def test_sync(mongodb_uri):
    record("uri", mongodb_uri)
"""
    )
    result = app_repo.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    names = seen(app_repo)["db"]
    assert len(set(names)) == 3
    assert all(len(name) <= 63 and re.fullmatch(r"test_[A-Za-z0-9_-]+", name) for name in names)
    assert seen(app_repo)["uri"] == [mongodb_uri, mongodb_uri]
    assert database_names(sync_client) == before  # Each test's database was dropped.


def test_auto_mode_and_tornado(app_repo: pytest.Pytester, sync_client: MongoClient[Any]) -> None:
    """pytest-asyncio's auto mode, and the Tornado fixtures in a test on Tornado's IOLoop."""
    before = database_names(sync_client)
    app_repo.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    app_repo.makepyfile(
        """
from tornado.ioloop import IOLoop
from motor.motor_tornado import MotorClient, MotorDatabase


async def test_asyncio(motor_db):
    await motor_db.things.insert_one({"x": 1})
    assert await motor_db.things.count_documents({}) == 1


async def test_tornado(motor_tornado_client, motor_tornado_db):
    assert isinstance(motor_tornado_client, MotorClient)
    assert isinstance(motor_tornado_db, MotorDatabase)
    assert motor_tornado_client.io_loop is IOLoop.current()
    await motor_tornado_db.things.insert_one({"x": 2})
    assert [d["x"] async for d in motor_tornado_db.things.find()] == [2]

"""
    )
    result = app_repo.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:anyio")
    result.assert_outcomes(passed=2)
    assert database_names(sync_client) == before


def test_anyio(app_repo: pytest.Pytester, sync_client: MongoClient[Any]) -> None:
    """anyio's pytest plugin, without pytest-asyncio."""
    before = database_names(sync_client)
    app_repo.makepyfile(
        """
import pytest

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def seeded(motor_db):
    await motor_db.things.insert_many([{"n": n} for n in range(3)])
    return motor_db.things


async def test_with_async_fixture(seeded):
    assert await seeded.count_documents({}) == 3


async def test_other(motor_client):
    assert (await motor_client.admin.command("ping"))["ok"] == 1
"""
    )
    result = app_repo.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:asyncio")
    result.assert_outcomes(passed=2)
    assert database_names(sync_client) == before


OWN_SERVER_TESTS = """
import pytest


@pytest.mark.asyncio
async def test_shared(motor_client, motor_test_uri):
    await motor_client.admin.command("ping")
    print("URI", motor_test_uri)


@pytest.mark.motor_own_server
@pytest.mark.asyncio
async def test_own(motor_db, motor_test_uri):
    await motor_db.admin_state.insert_one({})
    print("URI", motor_test_uri)
"""


def test_own_server_marker(app_repo: pytest.Pytester, mongodb_uri: str) -> None:
    app_repo.makepyfile(OWN_SERVER_TESTS)
    result = app_repo.runpytest_subprocess("-p", "no:cacheprovider", "-s", "--strict-markers")
    result.assert_outcomes(passed=2)
    uris = re.findall(r"URI (\S+)", result.stdout.str())
    assert uris[0] == mongodb_uri
    assert uris[1] != mongodb_uri and uris[1].startswith("mongodb://127.0.0.1:")


def test_own_server_option(app_repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``--motor-own-server`` every test has its own server, and no session server starts."""
    monkeypatch.delenv("MONGODB_URI")
    app_repo.makepyfile(OWN_SERVER_TESTS)
    result = app_repo.runpytest_subprocess(
        "-p", "no:cacheprovider", "-s", "--setup-show", "--motor-own-server"
    )
    result.assert_outcomes(passed=2)
    uris = re.findall(r"URI (\S+)", result.stdout.str())
    assert len(set(uris)) == 2
    assert "mongodb_uri" not in result.stdout.str()


def test_missing_server(app_repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without SecantusDB or MONGODB_URI, each test errors, saying what to install."""
    monkeypatch.delenv("MONGODB_URI")
    # In this process (an inline run), so that the executable can be renamed away.
    monkeypatch.setattr(testing, "EXECUTABLE", "secantusd-not-installed")
    app_repo.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    app_repo.makepyfile(
        """
import pytest

@pytest.mark.asyncio
async def test_one(motor_db):
    pass

def test_two(mongodb_uri):
    pass
"""
    )
    result = app_repo.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    output = result.stdout.str()
    # One report per test (the short summary repeats it, truncated or not by the terminal's width).
    assert [line.startswith("SecantusDB's secantusd-not-installed") for line in output.splitlines()].count(
        True
    ) == 2
    assert "install it with pip install 'motor[testing]', or set MONGODB_URI" in output
    assert "Traceback" not in output
    assert "During handling" not in output
