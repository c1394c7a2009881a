"""The contract's appendix, "behaviours of Motor 3.x that Motor-era code relies on", line by line.

Each section below is a section of the appendix (test/contract/motor-api.md); each test proves one
of its lines, on the asyncio and the Tornado classes. Strings are compared exactly, since
applications match them in ``filterwarnings`` and ``assertRaises``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import inspect
import os
import re
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import tornado.httpclient
import tornado.httpserver
import tornado.netutil
import tornado.web
from bson.codec_options import CodecOptions
from pymongo import CursorType, client_session_shared, monitoring
from pymongo.errors import InvalidOperation, OperationFailure, PyMongoError
from tornado import gen
from tornado.ioloop import IOLoop

import motor
import motor.core
import motor.motor_common
import motor.motor_gridfs
from motor.web import GridFSHandler
from test.support import DB_NAME, Flavor

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


class Commands(monitoring.CommandListener):
    """Records the commands a client sends, as (name, command document)."""

    def __init__(self) -> None:
        self.started_events: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.started_events.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def named(self, *names: str) -> list[dict[str, Any]]:
        return [command for name, command in self.started_events if name in names]


@pytest.fixture
async def listened(flavor: Flavor, mongodb_uri: str, coll: Any) -> AsyncIterator[tuple[Any, Commands]]:
    """The test's collection through a client of its own whose commands are recorded."""
    commands = Commands()
    client = flavor.Client(mongodb_uri, event_listeners=[commands])
    try:
        yield client[DB_NAME][coll.name], commands
    finally:
        await client.aclose()


@contextlib.contextmanager
def no_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@contextlib.contextmanager
def recorded_warnings() -> Iterator[list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        yield record


def line_below() -> int:
    """The number of the line after the caller's."""
    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno + 1


def framework_module(flavor: Flavor) -> Any:
    return flavor.framework


async def insert_range(coll: Any, n: int) -> None:
    await coll.insert_many([{"_id": i} for i in range(n)])


async def wait_for(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


# ---------------------------------------------------------------------------------------------
# Warnings (all DeprecationWarning, reported at the caller's line)
# ---------------------------------------------------------------------------------------------

FETCH_NEXT = (
    "The fetch_next property is deprecated and may be removed in a future major release. "
    "Use `async for` to iterate over Cursor objects instead."
)
NEXT_OBJECT = (
    "The next_object method is deprecated and may be removed in a future major release.  "
    "Use `async for` to iterate over Cursor objects instead."
)
YIELDABLE = {
    "asyncio": "The yieldable function is deprecated and may be removed in a future major release",
    "tornado": "The yieldable function is deprecated and may be removed in a future major release.",
}


def assert_one_warning(record: list[warnings.WarningMessage], message: str, line: int) -> None:
    assert [(w.category, str(w.message), w.filename, w.lineno) for w in record] == [
        (DeprecationWarning, message, __file__, line)
    ]


async def test_fetch_next_warns(coll: Any) -> None:
    await insert_range(coll, 1)
    cursor = coll.find()
    with recorded_warnings() as record:
        line = line_below()
        assert await cursor.fetch_next
    assert_one_warning(record, FETCH_NEXT, line)


async def test_next_object_warns(coll: Any) -> None:
    await insert_range(coll, 1)
    cursor = coll.find()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert await cursor.fetch_next
    with recorded_warnings() as record:
        line = line_below()
        assert cursor.next_object() == {"_id": 0}
    assert_one_warning(record, NEXT_OBJECT, line)


async def test_gridfs_bucket_collection_parameter_warns(flavor: Flavor, db: Any) -> None:
    with recorded_warnings() as record:
        line = line_below()
        bucket = flavor.cls("GridFSBucket")(db, collection="compat_fs")
    assert_one_warning(record, 'the "collection" parameter is deprecated, use "bucket_name" instead', line)
    assert bucket.collection.name == "compat_fs"


async def test_yieldable_warns(flavor: Flavor) -> None:
    future = asyncio.get_running_loop().create_future()
    with recorded_warnings() as record:
        line = line_below()
        assert framework_module(flavor).yieldable(future) is future
    assert_one_warning(record, YIELDABLE[flavor.name], line)


async def test_each_to_list_and_the_classes_do_not_warn(flavor: Flavor, mongodb_uri: str, coll: Any) -> None:
    await insert_range(coll, 3)
    done = asyncio.get_running_loop().create_future()

    def callback(document: Any, error: Exception | None) -> None:
        if document is None and not done.done():
            done.set_result(error)

    with no_warnings():
        client = flavor.Client(mongodb_uri)
        collection = client[DB_NAME][coll.name]
        collection.find().each(callback)
        assert len(await collection.find().to_list(None)) == 3
        assert await done is None
        await client.aclose()


# ---------------------------------------------------------------------------------------------
# Errors for misuse
# ---------------------------------------------------------------------------------------------


def raises_exactly(error: type[BaseException], message: str) -> Any:
    return pytest.raises(error, match=f"^{re.escape(message)}$")


async def test_with_on_a_session(client: Any) -> None:
    session = await client.start_session()
    try:
        with (
            raises_exactly(
                AttributeError,
                "Use Motor sessions like 'async with await client.start_session()', not 'with'",
            ),
            session,
        ):  # type: ignore[attr-defined]
            pass
    finally:
        await session.end_session()


async def test_with_on_a_change_stream(coll: Any) -> None:
    with raises_exactly(RuntimeError, 'Use a change stream in "async with", not "with"'), coll.watch():
        pass


async def test_with_on_client_encryption(flavor: Flavor, client: Any) -> None:
    pytest.importorskip("pymongocrypt")
    kms_providers = {"local": {"key": os.urandom(96)}}
    name = flavor.cls("ClientEncryption").__name__
    async with flavor.cls("ClientEncryption")(
        kms_providers, f"{DB_NAME}.compat_keys", client, CodecOptions()
    ) as encryption:
        with raises_exactly(RuntimeError, f'Use {name} in "async with", not "with"'), encryption:
            pass


async def test_calling_a_database(flavor: Flavor, client: Any) -> None:
    # client.no_such_method is a database; calling it is the mistake Motor 3's message explains.
    client_class = flavor.Client.__name__
    with raises_exactly(
        TypeError,
        "MotorDatabase object is not callable. If you meant to call the 'no_such_method' method on a "
        f"{client_class} object it is failing because no such method exists.",
    ):
        client.no_such_method()


async def test_calling_a_collection(db: Any, coll: Any) -> None:
    with raises_exactly(
        TypeError,
        "MotorCollection object is not callable. If you meant to call the 'no_such_method' method on "
        "a MotorCollection object it is failing because no such method exists.",
    ):
        db.no_such_method()
    with raises_exactly(
        TypeError,
        f"MotorCollection object is not callable. If you meant to call the '{coll.name}.no_such_method' "
        "method on a MotorCollection object it is failing because no such method exists.",
    ):
        coll.no_such_method()


async def test_open_sync(flavor: Flavor, client: Any) -> None:
    with raises_exactly(
        TypeError,
        f"{flavor.Client.__name__}.open_sync() is unnecessary Motor 0.2, see changelog for details.",
    ):
        client.open_sync()


async def test_private_attributes(flavor: Flavor, client: Any, db: Any, coll: Any) -> None:
    with raises_exactly(
        AttributeError,
        f"{flavor.Client.__name__} has no attribute '_private'. To access the _private database, use "
        "client['_private'].",
    ):
        client._private
    with raises_exactly(
        AttributeError,
        f"{flavor.cls('Database').__name__} has no attribute '_collection'. To access the _collection "
        "collection, use database['_collection'].",
    ):
        db._collection
    full = f"{coll.name}._sub"
    with raises_exactly(
        AttributeError,
        f"{flavor.cls('Collection').__name__} has no attribute '{full}'. To access the {full} collection, "
        f"use database['{full}'].",
    ):
        coll._sub


def test_collection_of_something_else(flavor: Flavor) -> None:
    with pytest.raises(TypeError, match=r"^First argument to MotorCollection must be MotorDatabase, not "):
        flavor.cls("Collection")(object(), "name")


# ---------------------------------------------------------------------------------------------
# Cursors
# ---------------------------------------------------------------------------------------------


async def test_to_list_lengths(coll: Any) -> None:
    await insert_range(coll, 3)
    assert await coll.find().to_list(0) == []
    assert len(await coll.find().to_list(None)) == 3
    assert len(await coll.find().to_list(2)) == 2
    assert len(await coll.find().to_list(True)) == 1  # A bool is an int, for Motor 3 and PyMongo.
    with raises_exactly(ValueError, "length must be non-negative"):
        coll.find().to_list(-1)
    with raises_exactly(TypeError, "length must be an int, not '2'"):
        coll.find().to_list("2")
    with raises_exactly(ValueError, "length must be non-negative"):
        coll.aggregate([]).to_list(-1)
    assert await coll.aggregate([]).to_list(0) == []


async def test_to_list_on_a_tailable_cursor_raises_before_io(listened: tuple[Any, Commands]) -> None:
    coll, commands = listened
    for cursor_type in (CursorType.TAILABLE, CursorType.TAILABLE_AWAIT):
        with raises_exactly(InvalidOperation, "Can't call to_list on tailable cursor"):
            coll.find(cursor_type=cursor_type).to_list(None)
    await asyncio.sleep(0.05)
    assert commands.named("find") == []


async def test_started(coll: Any) -> None:
    await insert_range(coll, 3)
    cursor = coll.find()
    assert cursor.started is False
    await cursor.to_list(0)
    assert cursor.started is True
    cursor.rewind()
    assert cursor.started is False
    await cursor.next()
    assert cursor.started is True
    command_cursor = coll.aggregate([])
    assert command_cursor.started is False
    async for _ in command_cursor:
        break
    assert command_cursor.started is True


async def test_close_kills_the_server_cursor(listened: tuple[Any, Commands]) -> None:
    coll, commands = listened
    await insert_range(coll, 10)
    cursor = coll.find().batch_size(2)
    await cursor.next()
    cursor_id = cursor.cursor_id
    assert cursor_id
    await cursor.close()
    kills = commands.named("killCursors")
    assert [kill["cursors"] for kill in kills] == [[cursor_id]]


async def test_garbage_collected_cursor_is_killed(listened: tuple[Any, Commands]) -> None:
    coll, commands = listened
    await insert_range(coll, 10)
    cursor = coll.find().batch_size(2)
    await cursor.next()
    cursor_id = cursor.cursor_id
    aggregate = coll.aggregate([]).batch_size(2)
    await aggregate.next()
    aggregate_id = aggregate.cursor_id
    assert cursor_id and aggregate_id
    del cursor, aggregate
    gc.collect()

    def killed() -> set[int]:
        return {i for kill in commands.named("killCursors") for i in kill["cursors"]}

    await wait_for(lambda: {cursor_id, aggregate_id} <= killed())


def test_cursors_are_killed_on_a_tornado_ioloop(mongodb_uri: str) -> None:
    # The same two paths, on an IOLoop that Tornado runs (run_sync) rather than pytest's loop.
    from motor import motor_tornado

    commands = Commands()
    io_loop = IOLoop(make_current=False)
    client = motor_tornado.MotorClient(mongodb_uri, io_loop=io_loop, event_listeners=[commands])
    coll = client[DB_NAME]["compat_tornado_kill"]

    @gen.coroutine
    def main() -> Any:
        yield coll.drop()
        yield coll.insert_many([{"_id": i} for i in range(10)])
        closed = coll.find().batch_size(2)
        yield closed.next()
        yield closed.close()
        dropped = coll.find().batch_size(2)
        yield dropped.next()
        ids = [closed.cursor_id, dropped.cursor_id]
        del dropped
        gc.collect()
        for _ in range(250):
            killed = [i for kill in commands.named("killCursors") for i in kill["cursors"]]
            if sorted(killed) == sorted(ids):
                break
            yield gen.sleep(0.02)
        yield coll.drop()
        yield client.aclose()
        return ids, killed

    try:
        ids, killed = io_loop.run_sync(main, timeout=30)
    finally:
        io_loop.close()
    assert all(ids) and sorted(killed) == sorted(ids)


async def test_wire_carries_only_the_users_options(listened: tuple[Any, Commands]) -> None:
    coll, commands = listened
    await insert_range(coll, 250)
    # No batchSize set: the server's 101 documents first, then the rest in one getMore.
    commands.started_events.clear()
    assert len(await coll.find().to_list(None)) == 250
    assert len([d async for d in coll.aggregate([])]) == 250
    assert "batchSize" not in commands.named("find")[0]
    assert commands.named("aggregate")[0]["cursor"] == {}
    get_mores = commands.named("getMore")
    assert len(get_mores) == 2 and all("batchSize" not in g for g in get_mores)
    # The user's batchSize, on the find and on every getMore.
    commands.started_events.clear()
    assert len(await coll.find().batch_size(40).to_list(None)) == 250
    assert commands.named("find")[0]["batchSize"] == 40
    assert [g["batchSize"] for g in commands.named("getMore")] == [40] * 6


async def test_default_batch_size_is_an_opt_in(flavor: Flavor, mongodb_uri: str, coll: Any) -> None:
    await insert_range(coll, 5)
    commands = Commands()
    client = flavor.Client(mongodb_uri, event_listeners=[commands], default_batch_size=2)
    try:
        collection = client[DB_NAME][coll.name]
        assert len(await collection.find().to_list(None)) == 5
        assert len(await collection.aggregate([]).to_list(None)) == 5
        assert len(await collection.find().batch_size(4).to_list(None)) == 5
    finally:
        await client.aclose()
    assert [f["batchSize"] for f in commands.named("find")] == [2, 4]
    assert commands.named("aggregate")[0]["cursor"] == {"batchSize": 2}
    with pytest.raises(ValueError, match="default_batch_size"):
        flavor.Client(mongodb_uri, default_batch_size=0)


# ---------------------------------------------------------------------------------------------
# GridFS
# ---------------------------------------------------------------------------------------------


@pytest.fixture
async def bucket(flavor: Flavor, db: Any, request: pytest.FixtureRequest) -> Any:
    name = "compat_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:40]
    for suffix in ("files", "chunks"):
        await db.drop_collection(f"{name}.{suffix}")
    return flavor.cls("GridFSBucket")(db, name)


async def test_grid_in_set(bucket: Any) -> None:
    grid_in = bucket.open_upload_stream("set.txt")
    await grid_in.set("filename", "renamed.txt")
    await grid_in.set("owner", "ada")
    assert (grid_in.filename, grid_in.owner) == ("renamed.txt", "ada")
    await grid_in.write(b"x")
    await grid_in.close()
    # After close, set() also updates the stored file document.
    await grid_in.set("owner", "grace")
    assert grid_in.owner == "grace"
    grid_out = await bucket.open_download_stream(grid_in._id)
    assert (grid_out.filename, grid_out.owner) == ("renamed.txt", "grace")


async def test_grid_out_before_open(flavor: Flavor, bucket: Any) -> None:
    file_id = await bucket.upload_from_stream("f.txt", b"data")
    grid_out = flavor.cls("GridOut")(bucket.collection, file_id=file_id)
    for name in ("filename", "length", "_id"):
        with raises_exactly(
            InvalidOperation, f"You must call MotorGridOut.open() before accessing the {name} property"
        ):
            getattr(grid_out, name)
    await grid_out.open()
    assert grid_out.filename == "f.txt"


async def test_bucket_find_results_answer_both_shapes(bucket: Any) -> None:
    ids = [await bucket.upload_from_stream(f"{n}.txt", b"x" * n) for n in (1, 2)]
    files = await bucket.find().sort("filename").to_list(None)
    assert [(f["filename"], f["length"], f["_id"]) for f in files] == [
        ("1.txt", 1, ids[0]),
        ("2.txt", 2, ids[1]),
    ]
    assert files[0].get("metadata") is None and "uploadDate" in files[0]
    assert dict(files[0])["filename"] == "1.txt"
    with pytest.raises(KeyError):
        files[0]["no_such_field"]
    found = [(f.filename, f.length) async for f in bucket.find().sort("filename")]
    assert found == [("1.txt", 1), ("2.txt", 2)]


def motor3_etag(grid_out: Any) -> str:
    hasher = hashlib.sha256()
    for value in (grid_out._id, grid_out.length, grid_out.upload_date):
        hasher.update(str(value).encode("utf-8"))
    return hasher.hexdigest()


async def test_hash_gridout(bucket: Any) -> None:
    file_id = await bucket.upload_from_stream("h.txt", b"hash me")
    grid_out = await bucket.open_download_stream(file_id)
    assert motor.motor_gridfs._hash_gridout(grid_out) == motor3_etag(grid_out)
    assert motor.motor_gridfs._hash_gridout(grid_out.delegate) == motor3_etag(grid_out)


async def etag_from_tornado_handler(db: Any, bucket_name: str, path: str) -> str:
    options = {"database": db, "root_collection": bucket_name}
    app = tornado.web.Application([(r"/fs/(.*)", GridFSHandler, options)])
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    http = tornado.httpclient.AsyncHTTPClient(force_instance=True)
    try:
        response = await http.fetch(f"http://127.0.0.1:{sockets[0].getsockname()[1]}/fs/{path}")
        return str(response.headers["ETag"])
    finally:
        http.close()
        server.stop()


async def etag_from_aiohttp_handler(db: Any, bucket_name: str, path: str) -> str:
    aiohttp = pytest.importorskip("aiohttp")
    from motor.aiohttp import AIOHTTPGridFS

    app = aiohttp.web.Application()
    app.router.add_get("/fs/{filename:.*}", AIOHTTPGridFS(db, bucket_name))
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://{host}:{port}/fs/{path}") as response,
        ):
            return str(response.headers["ETag"])
    finally:
        await runner.cleanup()


async def test_http_handlers_send_motor3_etag(flavor: Flavor, db: Any, bucket: Any) -> None:
    # Each framework's handler: Tornado's GridFSHandler, and aiohttp's for the asyncio classes.
    file_id = await bucket.upload_from_stream("e.txt", b"etag")
    grid_out = await bucket.open_download_stream(file_id)
    fetch_etag = etag_from_tornado_handler if flavor.name == "tornado" else etag_from_aiohttp_handler
    assert await fetch_etag(db, bucket.collection.name, "e.txt") == f'"{motor3_etag(grid_out)}"'


# ---------------------------------------------------------------------------------------------
# Names imported by Motor-era code and test suites
# ---------------------------------------------------------------------------------------------


def test_version_names() -> None:
    assert isinstance(motor.version, str)
    assert isinstance(motor.version_tuple, tuple)
    assert motor.get_version_string() == motor.version


def test_max_workers(flavor: Flavor) -> None:
    value = framework_module(flavor).max_workers
    assert isinstance(value, int) and not isinstance(value, bool) and value > 0


def test_core_factory_names() -> None:
    from motor.core import (  # noqa: F401 - the import is the test
        AgnosticClient,
        AgnosticCollection,
        AgnosticCursor,
        AgnosticDatabase,
        AsyncCommand,
        AsyncRead,
        AsyncWrite,
        create_class_with_framework,
    )

    assert AsyncRead is AsyncWrite is AsyncCommand is motor.core.Async


def test_callback_type_error() -> None:
    error = motor.motor_common.callback_type_error
    assert isinstance(error, TypeError) and str(error) == "callback must be a callable"


async def test_with_transaction_retry_time_limit(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert motor.core._WITH_TRANSACTION_RETRY_TIME_LIMIT == 120
    calls = 0

    async def transient(session: Any) -> None:
        nonlocal calls
        calls += 1
        error = OperationFailure("transient")
        error._add_error_label("TransientTransactionError")
        raise error

    async with await client.start_session() as session:
        # With Motor 3's limit the callback is retried; with the limit patched to 0, it is not.
        async def twice(session: Any) -> str:
            if calls < 1:
                await transient(session)
            return "done"

        assert await session.with_transaction(twice) == "done"
        assert calls == 1
        calls = 0
        monkeypatch.setattr(motor.core, "_WITH_TRANSACTION_RETRY_TIME_LIMIT", 0)
        with pytest.raises(PyMongoError) as raised:
            await session.with_transaction(transient)
        assert calls == 1
        assert str(raised.value) == "transient"
        # PyMongo's suite patches PyMongo's own limit: that is honoured too.
        calls = 0
        monkeypatch.setattr(motor.core, "_WITH_TRANSACTION_RETRY_TIME_LIMIT", 120)
        monkeypatch.setattr(client_session_shared, "_WITH_TRANSACTION_RETRY_TIME_LIMIT", 0)
        with pytest.raises(PyMongoError):
            await session.with_transaction(transient)
        assert calls == 1
