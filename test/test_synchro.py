"""Synchro, the synchronous facade that runs PyMongo's test suite through Motor: a fast check that it
works, that its classes are derived from Motor's declarations, and that its exclusion table is not
stale."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
import pytest
from pymongo.errors import DuplicateKeyError, OperationFailure

import synchro
from motor import core
from motor.exclusions import SYNC_PROTOCOL
from motor.metaprogramming import AsyncProperty, AttributeKind, declarations
from synchro import exclusions, importer
from synchro.fetch import source_dir

PAIRS = [
    (synchro.MongoClient, core.AgnosticClient),
    (synchro.Database, core.AgnosticDatabase),
    (synchro.Collection, core.AgnosticCollection),
    (synchro.Cursor, core.AgnosticCursor),
    (synchro.CommandCursor, core.AgnosticCommandCursor),
    (synchro.ChangeStream, core.AgnosticChangeStream),
    (synchro.ClientSession, core.AgnosticClientSession),
    (synchro.ClientEncryption, core.AgnosticClientEncryption),
]
if hasattr(synchro, "GridFSBucket"):
    from motor import motor_gridfs

    PAIRS += [
        (synchro.GridFSBucket, motor_gridfs.AgnosticGridFSBucket),
        (synchro.GridIn, motor_gridfs.AgnosticGridIn),
        (synchro.GridOut, motor_gridfs.AgnosticGridOut),
    ]


@pytest.fixture
def client(mongodb_uri: str) -> Iterator[synchro.MongoClient]:
    with synchro.MongoClient(mongodb_uri) as client:
        yield client


@pytest.fixture
def coll(client: synchro.MongoClient, request: pytest.FixtureRequest) -> synchro.Collection:
    collection = client.motor_test[f"synchro_{request.node.name}"[:60]]
    collection.drop()
    return collection


@pytest.mark.parametrize(("synchro_class", "agnostic"), PAIRS, ids=lambda c: c.__name__)
def test_classes_derive_from_declarations(synchro_class: type, agnostic: type) -> None:
    for name, declaration in declarations(agnostic).items():
        if isinstance(declaration, AsyncProperty):
            # get_address() offers PyMongo's address property: Synchro offers the property again.
            assert isinstance(getattr(synchro_class, declaration.pymongo_name), property), name
        elif declaration.kind is AttributeKind.PROPERTY:
            assert hasattr(synchro_class, name), name
        else:
            assert callable(getattr(synchro_class, name, None)), name
    for sync_name, async_name in SYNC_PROTOCOL.items():
        if callable(getattr(agnostic, async_name, None)):
            assert callable(getattr(synchro_class, sync_name, None)), sync_name
    assert synchro.synchro_class_for(synchro_class.__motor_class__) is synchro_class


def test_awaitables_of_collection_are_methods() -> None:
    awaitables = [
        n for n, d in declarations(core.AgnosticCollection).items() if d.kind is AttributeKind.AWAITABLE
    ]
    assert "insert_one" in awaitables
    for name in awaitables:
        assert callable(vars(synchro.Collection).get(name)), name


def test_crud_and_iteration(coll: synchro.Collection) -> None:
    assert isinstance(coll, synchro.Collection)
    assert isinstance(coll.database, synchro.Database)
    assert coll.database.client == coll.database.client
    coll.insert_many([{"_id": i, "x": i % 2} for i in range(10)])
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"_id": 0})
    cursor = coll.find({"x": 1}).sort("_id", -1).batch_size(2)
    assert isinstance(cursor, synchro.Cursor)
    assert [d["_id"] for d in cursor] == [9, 7, 5, 3, 1]
    assert coll.find().sort("_id")[3] == {"_id": 3, "x": 1}
    assert [d["_id"] for d in coll.find().sort("_id")[2:4]] == [2, 3]
    assert coll.count_documents({"x": 0}) == 5
    assert next(coll.aggregate([{"$count": "n"}])) == {"n": 10}
    with pytest.raises(OperationFailure):
        coll.aggregate([{"$nosuchstage": 1}])  # Raised by the call, as in PyMongo.
    assert coll.find_one_and_update({"_id": 1}, {"$set": {"y": 1}}, return_document=True)["y"] == 1
    assert coll.create_index("x") == "x_1"
    assert any(ix["name"] == "x_1" for ix in coll.list_indexes())


def test_sessions_and_transactions(client: synchro.MongoClient, coll: synchro.Collection) -> None:
    coll.insert_one({"_id": "seed"})
    with client.start_session() as session:
        assert isinstance(session, synchro.ClientSession)
        with session.start_transaction():
            coll.insert_one({"_id": 1}, session=session)
            assert coll.find_one({"_id": 1}) is None  # Not committed yet.
        assert coll.find_one({"_id": 1}) == {"_id": 1}

        with pytest.raises(ZeroDivisionError), session.start_transaction():
            coll.insert_one({"_id": 2}, session=session)
            1 / 0
        assert coll.find_one({"_id": 2}) is None

        def callback(s: synchro.ClientSession) -> Any:
            assert s is session
            coll.insert_one({"_id": 3}, session=s)
            return coll.count_documents({}, session=s)

        assert session.with_transaction(callback) == 3
        cursor = coll.find({}, session=session)
        assert cursor.session is session
        assert len(cursor.to_list()) == 3
    assert session.has_ended


def test_change_stream_sees_changes_made_after_watch(coll: synchro.Collection) -> None:
    with coll.watch(max_await_time_ms=100) as stream:
        assert isinstance(stream, synchro.CollectionChangeStream)
        coll.insert_one({"_id": 1})
        change = next(stream)
        assert change["operationType"] == "insert"
        assert change["documentKey"] == {"_id": 1}
    assert not stream.alive


def test_threads_share_the_loop(coll: synchro.Collection) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(5):
                coll.insert_one({"t": n, "i": i})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert coll.count_documents({}) == 20


def test_timeout_context_reaches_motor(coll: synchro.Collection) -> None:
    with pymongo.timeout(10):
        coll.insert_one({"_id": 1})
    with pymongo.timeout(0.000001), pytest.raises(pymongo.errors.PyMongoError) as info:
        coll.find_one({})
    assert info.value.timeout


def test_facade_modules() -> None:
    facade = importer.facade("pymongo")
    assert facade.MongoClient is synchro.MongoClient
    assert facade.errors is pymongo.errors  # No I/O API: the real module.
    assert facade.synchronous.mongo_client.MongoClient is synchro.MongoClient
    assert facade.synchronous.mongo_client.MongoClient is not pymongo.MongoClient
    assert importer.facade("pymongo.collection").ReturnDocument is pymongo.ReturnDocument
    assert importer.facade("pymongo.read_preferences") is pymongo.read_preferences
    assert importer.redirecting_import("pymongo.cursor", fromlist=["Cursor"]).Cursor is synchro.Cursor
    assert importer.redirecting_import("pymongo.errors") is facade
    for module, replaced in importer.SUBSTITUTES.items():
        for name, value in replaced.items():
            assert getattr(importer.facade(module), name) is value


def test_exclusions_have_reasons() -> None:
    assert exclusions.EXCLUSIONS
    for key, reason in exclusions.EXCLUSIONS.items():
        assert key.startswith("test/") and key.split("::")[0].endswith(".py"), key
        assert len(reason) > 20, key


def test_exclusions_name_tests_that_exist() -> None:
    source = source_dir()
    if not (source / "test" / "__init__.py").exists():
        pytest.skip("PyMongo's suite is not fetched (python -m synchro.fetch --help)")
    for key in exclusions.EXCLUSIONS:
        assert (source / key.partition("::")[0]).exists(), key
    # Many of PyMongo's tests are generated (unified format), so only collecting finds them:
    # --check-exclusions fails if an entry matches no collected test of its module.
    modules = sorted({key.partition("::")[0] for key in exclusions.excluded_tests()})
    command = [sys.executable, "-m", "synchro.synchrotest", str(source), "--collect-only", "-q"]
    command += ["--check-exclusions", *modules]
    # DB_IP / DB_PORT keep synchrotest from starting a server: collecting needs none.
    env = dict(os.environ, DB_IP="127.0.0.1", DB_PORT="1")
    env.pop("MONGODB_URI", None)
    repo = Path(synchro.__file__).resolve().parent.parent
    result = subprocess.run(
        command, cwd=repo, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "exclusions applied" in result.stdout


# ---------------------------------------------------------------------------------------------
# The runner's exit status
# ---------------------------------------------------------------------------------------------


def test_stale_exclusion_fails_a_compared_run(mongodb_uri: str) -> None:
    source = source_dir()
    if not (source / "test" / "__init__.py").exists():
        pytest.skip("PyMongo's suite is not fetched (python -m synchro.fetch --help)")
    # Every test that runs passes, so the comparison alone would say 0; the stale entry must not be
    # hidden by it.
    script = (
        "import sys, types; from synchro import exclusions, synchrotest; "
        "exclusions.EXCLUSIONS = types.MappingProxyType({**exclusions.EXCLUSIONS, "
        "'test/test_cursor.py::TestCursor::test_no_such_test': 'a stale entry, for this test'}); "
        "sys.exit(synchrotest.main(sys.argv[1:]))"
    )
    command = [sys.executable, "-c", script, str(source), "-q", "--compare", "--check-exclusions"]
    command.append("test/test_cursor.py::TestCursor::test_limit")
    repo = Path(synchro.__file__).resolve().parent.parent
    env = dict(os.environ, MONGODB_URI=mongodb_uri, PYTHONPATH=str(repo))
    result = subprocess.run(
        command, cwd=repo, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert "1 passed" in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]
    assert "test_no_such_test: collected no test" in result.stdout
    assert result.returncode == 1


def test_compare_allows_only_listed_flaky_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    from synchro import synchrotest

    plugin: Any = types.SimpleNamespace(
        outcomes={"test/test_a.py::test_flaky": "failed", "test/test_a.py::test_ok": "passed"}
    )
    # The test fails through Synchro, passes on real PyMongo, then passes through Synchro again.
    monkeypatch.setattr(synchrotest, "_rerun", lambda source, ids, real, args: dict.fromkeys(ids, "passed"))
    assert synchrotest._compare(Path("."), plugin, []) == 1
    monkeypatch.setattr(exclusions, "FLAKY", {"test/test_a.py::test_fl*": "a reason, for this test"})
    assert synchrotest._compare(Path("."), plugin, []) == 0


def test_flaky_entries_have_reasons() -> None:
    for key, reason in exclusions.FLAKY.items():
        assert key.startswith("test/") and "::" in key, key
        assert len(reason) > 20, key
