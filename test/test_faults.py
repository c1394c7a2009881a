"""Server faults: retries, errors as PyMongo raises them, timeouts, and a server that is down.

Faults are injected with the ``failCommand`` fail point, limited to one client by its ``appName``
so that nothing else on the server is disturbed, and always turned off afterwards. Each retry test
checks with command monitoring that the fault really happened, so it cannot pass by accident.
"""

from __future__ import annotations

import asyncio
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pymongo
import pytest
from pymongo import InsertOne, MongoClient, WriteConcern, monitoring
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)
from tornado import gen

from motor.testing import SecantusServer, free_port
from test.support import DB_NAME, TORNADO, Flavor, fail_command

pytestmark = pytest.mark.every_framework

#: The largest delay of a 1 ms timer that we accept while calls wait for a server. The target is
#: 5 ms; the machine is shared by parallel test runs, so the assertion leaves room.
MAX_TICK_DELAY = 0.020


class CommandLog(monitoring.CommandListener):
    """Records (event kind, command name) of a client's commands."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.events.append(("started", event.command_name))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.events.append(("succeeded", event.command_name))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.events.append(("failed", event.command_name))

    def count(self, kind: str, name: str) -> int:
        return self.events.count((kind, name))


@pytest.fixture
def app_name() -> str:
    return f"faults-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def monitored(flavor: Flavor, mongodb_uri: str, app_name: str) -> Any:
    """A client of its own appName (the fail points' target) with a command log."""
    log = CommandLog()
    client = flavor.Client(mongodb_uri, appname=app_name, event_listeners=[log], heartbeatFrequencyMS=500)
    client.log = log
    await client.admin.command("ping")
    yield client
    await client.aclose()


@pytest.fixture
async def mcoll(monitored: Any, request: pytest.FixtureRequest) -> Any:
    """An empty collection reached through the monitored client."""
    coll = monitored[DB_NAME][f"faults_{uuid.uuid4().hex[:10]}"]
    yield coll
    await coll.drop()


def raised_through(exc: BaseException, function: str, text: str) -> bool:
    """Whether ``exc``'s traceback passes through ``function`` of this file at a line with ``text``."""
    return any(
        frame.filename == __file__ and frame.name == function and text in (frame.line or "")
        for frame in traceback.extract_tb(exc.__traceback__)
    )


# ---------------------------------------------------------------------------------------------
# Retryable writes and reads succeed after one fault
# ---------------------------------------------------------------------------------------------


async def test_retryable_write_after_network_error(
    fail_points: MongoClient[Any], monitored: Any, mcoll: Any, app_name: str
) -> None:
    with fail_command(fail_points, app_name, ["insert"], closeConnection=True):
        result = await mcoll.insert_one({"_id": 1})
    assert result.inserted_id == 1
    # The first attempt failed on the network, the retry succeeded, and the write happened once.
    assert monitored.log.count("started", "insert") == 2
    assert monitored.log.count("failed", "insert") == 1
    assert fail_points[DB_NAME][mcoll.name].count_documents({}) == 1


async def test_retryable_read_after_network_error(
    fail_points: MongoClient[Any], monitored: Any, mcoll: Any, app_name: str
) -> None:
    fail_points[DB_NAME][mcoll.name].insert_one({"_id": 1})
    with fail_command(fail_points, app_name, ["find"], closeConnection=True):
        assert await mcoll.find_one() == {"_id": 1}
    assert monitored.log.count("started", "find") == 2
    assert monitored.log.count("failed", "find") == 1


async def test_retryable_bulk_and_cursor_after_network_error(
    fail_points: MongoClient[Any], monitored: Any, mcoll: Any, app_name: str
) -> None:
    with fail_command(fail_points, app_name, ["insert"], closeConnection=True):
        result = await mcoll.bulk_write([InsertOne({"_id": i}) for i in range(5)])
    assert result.inserted_count == 5
    with fail_command(fail_points, app_name, ["find"], closeConnection=True):
        assert [d["_id"] async for d in mcoll.find().sort("_id")] == list(range(5))
    assert monitored.log.count("failed", "insert") == 1
    assert monitored.log.count("failed", "find") == 1


# ShutdownInProgress, PrimarySteppedDown, NotWritablePrimary: the server's "try another server" codes.
@pytest.mark.parametrize("code", [91, 189, 10107])
async def test_retryable_write_after_error_code(
    fail_points: MongoClient[Any], monitored: Any, mcoll: Any, app_name: str, code: int
) -> None:
    with fail_command(fail_points, app_name, ["insert"], errorCode=code, errorLabels=["RetryableWriteError"]):
        await mcoll.insert_one({"_id": code})
    assert monitored.log.count("failed", "insert") == 1
    assert monitored.log.count("succeeded", "insert") == 1
    assert fail_points[DB_NAME][mcoll.name].count_documents({"_id": code}) == 1


@pytest.mark.parametrize("code", [91, 189, 10107])
async def test_retryable_read_after_error_code(
    fail_points: MongoClient[Any], monitored: Any, mcoll: Any, app_name: str, code: int
) -> None:
    fail_points[DB_NAME][mcoll.name].insert_one({"_id": code})
    with fail_command(fail_points, app_name, ["find"], errorCode=code):
        assert await mcoll.find_one() == {"_id": code}
    with fail_command(fail_points, app_name, ["aggregate"], errorCode=code):
        assert await mcoll.count_documents({}) == 1
    assert monitored.log.count("failed", "find") == 1
    assert monitored.log.count("failed", "aggregate") == 1


async def test_only_one_retry(
    fail_points: MongoClient[Any], monitored: Any, mcoll: Any, app_name: str
) -> None:
    # Two network errors in a row: the retry fails too, and its error reaches the caller.
    with (
        fail_command(fail_points, app_name, ["insert"], closeConnection=True, times=2),
        pytest.raises(ConnectionFailure) as info,
    ):
        await mcoll.insert_one({"_id": 1})
    assert raised_through(info.value, "test_only_one_retry", "insert_one")
    assert monitored.log.count("started", "insert") == 2


# ---------------------------------------------------------------------------------------------
# Errors that are not retried surface as PyMongo's exceptions, at the caller's await
# ---------------------------------------------------------------------------------------------


async def test_non_retryable_write_error(
    fail_points: MongoClient[Any], monitored: Any, mcoll: Any, app_name: str
) -> None:
    with (
        fail_command(fail_points, app_name, ["insert"], errorCode=2),
        pytest.raises(OperationFailure) as info,
    ):
        await mcoll.insert_one({"_id": 1})
    assert info.value.code == 2
    assert raised_through(info.value, "test_non_retryable_write_error", "insert_one")
    assert monitored.log.count("started", "insert") == 1
    assert fail_points[DB_NAME][mcoll.name].count_documents({}) == 0


async def test_network_error_without_retry_writes(
    flavor: Flavor, fail_points: MongoClient[Any], mongodb_uri: str, app_name: str
) -> None:
    client = flavor.Client(mongodb_uri, appname=app_name, retryWrites=False, retryReads=False)
    coll = client[DB_NAME].faults_no_retry
    try:
        with (
            fail_command(fail_points, app_name, ["insert"], closeConnection=True),
            pytest.raises(AutoReconnect) as info,
        ):
            await coll.insert_one({})
        assert raised_through(info.value, "test_network_error_without_retry_writes", "insert_one")
        with (
            fail_command(fail_points, app_name, ["find"], closeConnection=True),
            pytest.raises(AutoReconnect) as info,
        ):
            await coll.find_one()
        assert raised_through(info.value, "test_network_error_without_retry_writes", "find_one")
        # The client recovers by itself.
        await coll.insert_one({})
    finally:
        await coll.drop()
        await client.aclose()


async def test_read_error_from_get_more(
    fail_points: MongoClient[Any], monitored: Any, mcoll: Any, app_name: str
) -> None:
    fail_points[DB_NAME][mcoll.name].insert_many([{"_id": i} for i in range(6)])
    seen = []
    with (
        fail_command(fail_points, app_name, ["getMore"], errorCode=2),
        pytest.raises(OperationFailure) as info,
    ):
        async for doc in mcoll.find().sort("_id").batch_size(2):
            seen.append(doc["_id"])
    assert seen == [0, 1]
    assert info.value.code == 2
    assert raised_through(info.value, "test_read_error_from_get_more", "async for")


@pytest.mark.asyncio_api
async def test_error_in_tornado_coroutine(
    flavor: Flavor, fail_points: MongoClient[Any], mcoll: Any, app_name: str
) -> None:
    if flavor is not TORNADO:
        pytest.skip("gen.coroutine is Tornado's")

    @gen.coroutine
    def legacy_insert() -> Any:
        yield mcoll.insert_one({"_id": 1})

    with (
        fail_command(fail_points, app_name, ["insert"], errorCode=2),
        pytest.raises(OperationFailure) as info,
    ):
        await legacy_insert()
    assert raised_through(info.value, "legacy_insert", "insert_one")


# ---------------------------------------------------------------------------------------------
# Timeouts
# ---------------------------------------------------------------------------------------------


def assert_timeout(exc: PyMongoError, elapsed: float, limit: float) -> None:
    assert exc.timeout, repr(exc)
    # A blocked command holds the server for 3 s: returning well before proves the client gave up.
    assert limit * 0.8 <= elapsed < limit + 1.0, elapsed


async def test_timeout_ms_client_option(
    flavor: Flavor, fail_points: MongoClient[Any], mongodb_uri: str, app_name: str
) -> None:
    client = flavor.Client(mongodb_uri, appname=app_name, timeoutMS=400)
    try:
        await client.admin.command("ping")
        with fail_command(fail_points, app_name, ["find"], blockConnection=True, blockTimeMS=3000):
            start = time.monotonic()
            with pytest.raises(PyMongoError) as info:
                await client[DB_NAME].faults_timeout.find_one()
            assert_timeout(info.value, time.monotonic() - start, 0.4)
        assert raised_through(info.value, "test_timeout_ms_client_option", "find_one")
    finally:
        await client.aclose()


async def test_pymongo_timeout_block(
    fail_points: MongoClient[Any], monitored: Any, mcoll: Any, app_name: str
) -> None:
    with fail_command(fail_points, app_name, ["insert"], blockConnection=True, blockTimeMS=3000):
        start = time.monotonic()
        with pytest.raises(PyMongoError) as info, pymongo.timeout(0.4):
            await mcoll.insert_one({"_id": 1})
        assert_timeout(info.value, time.monotonic() - start, 0.4)
    # The deadline ended with the block: the next call has no deadline.
    await mcoll.insert_one({"_id": 2})


async def test_timeout_in_with_transaction(
    fail_points: MongoClient[Any], monitored: Any, mcoll: Any, app_name: str
) -> None:
    await mcoll.insert_one({"_id": "setup"})  # Collections cannot always be created in a transaction.
    calls = 0

    async def body(session: Any) -> None:
        nonlocal calls
        calls += 1
        await mcoll.insert_one({"_id": "in-txn"}, session=session)

    async with await monitored.start_session() as session:
        with fail_command(fail_points, app_name, ["insert"], blockConnection=True, blockTimeMS=3000):
            start = time.monotonic()
            with pytest.raises(PyMongoError) as info, pymongo.timeout(0.5):
                await session.with_transaction(body)
            assert_timeout(info.value, time.monotonic() - start, 0.5)
        assert not session.in_transaction
    assert calls == 1
    assert raised_through(info.value, "test_timeout_in_with_transaction", "with_transaction")
    assert fail_points[DB_NAME][mcoll.name].find_one({"_id": "in-txn"}) is None


async def test_timeout_ms_in_with_transaction(
    flavor: Flavor, fail_points: MongoClient[Any], mongodb_uri: str, app_name: str
) -> None:
    # As in PyMongo, timeoutMS bounds each operation of the transaction; a timed-out operation is a
    # TransientTransactionError, so with_transaction runs the callback again, and it succeeds.
    client = flavor.Client(mongodb_uri, appname=app_name, timeoutMS=500)
    coll = client[DB_NAME].faults_txn_timeout_ms
    calls = 0
    try:
        await coll.insert_one({"_id": "setup"})

        async def body(session: Any) -> None:
            nonlocal calls
            calls += 1
            await coll.insert_one({"_id": "in-txn"}, session=session)

        async with await client.start_session() as session:
            with fail_command(fail_points, app_name, ["insert"], blockConnection=True, blockTimeMS=3000):
                start = time.monotonic()
                await session.with_transaction(body)
                elapsed = time.monotonic() - start
        assert calls == 2
        assert 0.4 <= elapsed < 1.5, elapsed
        assert fail_points[DB_NAME][coll.name].find_one({"_id": "in-txn"}) == {"_id": "in-txn"}
    finally:
        fail_points[DB_NAME].drop_collection(coll.name)
        await client.aclose()


# ---------------------------------------------------------------------------------------------
# A server that is down: every call gives the loop back at once
# ---------------------------------------------------------------------------------------------


class Ticker:
    """A 1 ms timer on the running loop that records how late each tick is."""

    def __init__(self, flavor: Flavor) -> None:
        self.flavor = flavor
        self.delays: list[float] = []
        self._running = True

    async def run(self) -> None:
        while self._running:
            start = time.perf_counter()
            await self.flavor.sleep(0.001)
            self.delays.append(time.perf_counter() - start - 0.001)

    def stop(self) -> None:
        self._running = False


async def first_of_async_for(cursor: Any) -> Any:
    async for doc in cursor:
        return doc
    return None


def every_call(client: Any) -> dict[str, Callable[[], Awaitable[Any]]]:
    """One of each kind of public call that needs a server."""
    db = client[DB_NAME]
    coll = db.down
    return {
        "insert_one": lambda: coll.insert_one({}),
        "insert_many": lambda: coll.insert_many([{}, {}]),
        "find_one": coll.find_one,
        "update_one": lambda: coll.update_one({}, {"$set": {"a": 1}}),
        "update_many": lambda: coll.update_many({}, {"$set": {"a": 1}}),
        "replace_one": lambda: coll.replace_one({}, {"a": 1}),
        "delete_one": lambda: coll.delete_one({}),
        "delete_many": lambda: coll.delete_many({}),
        "find_one_and_update": lambda: coll.find_one_and_update({}, {"$set": {"a": 1}}),
        "bulk_write": lambda: coll.bulk_write([InsertOne({})]),
        "count_documents": lambda: coll.count_documents({}),
        "estimated_document_count": coll.estimated_document_count,
        "distinct": lambda: coll.distinct("a"),
        "create_index": lambda: coll.create_index("a"),
        "drop": coll.drop,
        "find().to_list": lambda: coll.find().to_list(),
        "find().next": lambda: coll.find().next(),
        "async for find()": lambda: first_of_async_for(coll.find()),
        "aggregate().to_list": lambda: coll.aggregate([]).to_list(),
        "async for aggregate()": lambda: first_of_async_for(coll.aggregate([])),
        "list_indexes().to_list": lambda: coll.list_indexes().to_list(),
        "watch().next": lambda: coll.watch().next(),
        "db.watch().try_next": lambda: db.watch().try_next(),
        "db.command": lambda: db.command("ping"),
        "list_collection_names": db.list_collection_names,
        "list_database_names": client.list_database_names,
        "server_info": client.server_info,
        "start_session": client.start_session,
    }


async def outcome(awaitable: Awaitable[Any]) -> Any:
    """What ``awaitable`` returns, or the exception it raises."""
    try:
        return await awaitable
    except Exception as exc:
        return exc


async def sweep(flavor: Flavor) -> tuple[float, str, float]:
    """Make every call on a client whose server is down, with a 1 ms ticker running.

    Returns the ticker's largest delay, and the call slowest to return control, with its time.
    """
    client = flavor.Client(f"mongodb://127.0.0.1:{free_port()}/", serverSelectionTimeoutMS=600)
    ticker = Ticker(flavor)
    return_times: dict[str, float] = {}
    results: dict[str, Any] = {}

    async def call_everything() -> None:
        await flavor.sleep(0.02)
        pending = {}
        for name, call in every_call(client).items():
            start = time.perf_counter()
            pending[name] = call()
            return_times[name] = time.perf_counter() - start
            await flavor.sleep(0)  # Let the ticker measure each call, not the whole batch.
        results.update(zip(pending, await flavor.gather(*map(outcome, pending.values())), strict=True))
        session = results.pop("start_session")
        if not isinstance(session, BaseException):
            await session.end_session()  # PyMongo may start a session without a server.
        start = time.perf_counter()
        closing = client.close()
        return_times["close"] = time.perf_counter() - start
        if closing is not None:
            await closing
        ticker.stop()

    await flavor.gather(ticker.run(), call_everything())
    for name, result in results.items():
        assert isinstance(result, ServerSelectionTimeoutError), f"{name}: {result!r}"
    slowest = max(return_times, key=return_times.__getitem__)
    return max(ticker.delays), slowest, return_times[slowest]


async def test_no_call_blocks_the_loop_while_server_is_down(flavor: Flavor) -> None:
    # A call that waited for the server on the loop thread would stop the ticker for 600 ms. Other
    # processes on this machine can delay a tick too, so a sweep over the limit is tried again.
    measured = []
    for _ in range(3):
        max_delay, slowest, slowest_time = await sweep(flavor)
        measured.append(
            f"max tick delay {max_delay * 1000:.1f} ms, slowest return {slowest} {slowest_time * 1000:.1f} ms"
        )
        if max_delay <= MAX_TICK_DELAY and slowest_time <= MAX_TICK_DELAY:
            break
    print(f"\n{flavor}: " + "; ".join(measured))
    assert max_delay <= MAX_TICK_DELAY, measured
    assert slowest_time <= MAX_TICK_DELAY, measured


# ---------------------------------------------------------------------------------------------
# The server is killed and restarted under load
# ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio_api
async def test_kill_and_restart_under_load(flavor: Flavor, tmp_path: Path) -> None:
    # Always a SecantusDB of our own: it is killed. --sync-on-commit makes an acknowledged write
    # durable, as mongod's journal does for w:"majority"; without it SecantusDB loses the last
    # writes before a SIGKILL, acknowledged or not.
    server = SecantusServer(port=free_port(), storage_path=tmp_path, extra_args=["--sync-on-commit"])
    server.start()
    client = flavor.Client(server.uri, retryWrites=True, serverSelectionTimeoutMS=20000)
    coll = client[DB_NAME].kill_restart
    collections = {
        "w1": coll.with_options(write_concern=WriteConcern(w=1)),
        "majority": coll.with_options(write_concern=WriteConcern(w="majority")),
    }
    attempted: list[str] = []
    acknowledged: set[str] = set()
    errors: Counter[str] = Counter()
    running = True

    async def writer(kind: str, number: int) -> None:
        sequence = 0
        while running:
            _id = f"{kind}-{number}-{sequence}"
            sequence += 1
            attempted.append(_id)
            try:
                await collections[kind].insert_one({"_id": _id})
            except PyMongoError as exc:
                errors[type(exc).__name__] += 1
                await asyncio.sleep(0.05)
            else:
                acknowledged.add(_id)

    try:
        writers = [asyncio.ensure_future(writer(kind, n)) for kind in collections for n in range(8)]
        await until_count(acknowledged, 300)
        server.kill()
        acknowledged_before_kill = len(acknowledged)
        await asyncio.sleep(0.5)  # Writers now wait for a server, or fail.
        await asyncio.to_thread(server.start)  # Same port, same data directory.
        before_restart = set(acknowledged)
        await until_count(acknowledged, len(before_restart) + 300)
        running = False
        await asyncio.gather(*writers)
        # The same client objects recovered: nothing was recreated.
        assert (await client.admin.command("ping"))["ok"]

        checker: MongoClient[Any] = MongoClient(server.uri)
        found = {doc["_id"] for doc in checker[DB_NAME].kill_restart.find({}, {"_id": 1})}
        checker.close()
    finally:
        running = False
        await client.aclose()
        server.close()

    lost = acknowledged - found
    print(
        f"\n{flavor}: attempted {len(attempted)}, acknowledged {len(acknowledged)} "
        f"({acknowledged_before_kill} before the kill), found {len(found)}, "
        f"acknowledged but lost {len(lost)}; errors {dict(errors)}"
    )
    assert not lost, sorted(lost)[:20]
    assert found <= set(attempted)
    # Both kinds of writer went on after the restart.
    for kind in collections:
        assert any(_id.startswith(kind) for _id in acknowledged - before_restart)


async def until_count(items: set[str], count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while len(items) < count:
        assert time.monotonic() < deadline, f"only {len(items)} of {count}"
        await asyncio.sleep(0.01)
