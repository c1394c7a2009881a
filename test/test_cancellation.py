"""Cancellation: what happens to a Motor call whose caller stops waiting.

- a call cancelled before a worker thread picks it up never runs;
- Tornado's ``gen.with_timeout`` stops waiting but does not cancel (the call goes on);
- a cancelled cursor fetch kills the server cursor;
- a cancelled transaction body aborts the transaction;
- a cancelled change stream ``next()`` closes the stream;
- after many cancellations no connection stays checked out, the worker threads stay within
  ``max_workers`` and every session is back in the pool.

Slow server commands come from the ``failCommand`` fail point with ``blockConnection``, limited to
the test's client by its ``appName``.
"""

from __future__ import annotations

import asyncio
import datetime
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pymongo
import pytest
import tornado.util
from pymongo import MongoClient, monitoring
from tornado import gen

from test.support import DB_NAME, TORNADO, CommandLog, Flavor, fail_command


class PoolLog(monitoring.ConnectionPoolListener):
    """Counts connection check-outs and check-ins."""

    def __init__(self) -> None:
        self.checked_out = 0
        self.checked_in = 0
        self._lock = threading.Lock()

    def connection_checked_out(self, event: monitoring.ConnectionCheckedOutEvent) -> None:
        with self._lock:
            self.checked_out += 1

    def connection_checked_in(self, event: monitoring.ConnectionCheckedInEvent) -> None:
        with self._lock:
            self.checked_in += 1

    @property
    def in_use(self) -> int:
        return self.checked_out - self.checked_in

    def pool_created(self, event: Any) -> None:
        pass

    def pool_ready(self, event: Any) -> None:
        pass

    def pool_cleared(self, event: Any) -> None:
        pass

    def pool_closed(self, event: Any) -> None:
        pass

    def connection_created(self, event: Any) -> None:
        pass

    def connection_ready(self, event: Any) -> None:
        pass

    def connection_closed(self, event: Any) -> None:
        pass

    def connection_check_out_started(self, event: Any) -> None:
        pass

    def connection_check_out_failed(self, event: Any) -> None:
        pass


def motor_worker_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("motor-worker")}


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the condition"
        await asyncio.sleep(0.01)


@pytest.fixture
def app_name() -> str:
    return f"cancel-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def monitored(flavor: Flavor, mongodb_uri: str, app_name: str) -> Any:
    """A client of its own appName with a command log (``.log``) and a pool log (``.pool``)."""
    log, pool = CommandLog(), PoolLog()
    client = flavor.Client(mongodb_uri, appname=app_name, event_listeners=[log, pool])
    client.log, client.pool = log, pool
    await client.admin.command("ping")
    yield client
    await client.aclose()


@pytest.fixture
async def mcoll(monitored: Any, sync_client: MongoClient[Any]) -> Any:
    name = f"cancel_{uuid.uuid4().hex[:10]}"
    yield monitored[DB_NAME][name]
    sync_client[DB_NAME].drop_collection(name)


async def cancel_while_waiting(how: str, make_call: Callable[[], Awaitable[Any]]) -> None:
    """Start ``make_call()``, let it wait 50 ms, then cancel the wait in the way ``how`` names."""
    if how == "asyncio.timeout":
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await make_call()
        return
    if how == "future.cancel":
        future = make_call()
        await asyncio.sleep(0.05)
        assert isinstance(future, asyncio.Future)
        assert future.cancel()
        return

    async def caller() -> Any:
        return await make_call()

    task = asyncio.ensure_future(caller())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# ---------------------------------------------------------------------------------------------
# A call cancelled before it starts
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["Task.cancel", "asyncio.timeout", "future.cancel"])
async def test_call_cancelled_before_it_starts_never_runs(
    flavor: Flavor, fail_points: MongoClient[Any], mongodb_uri: str, app_name: str, how: str
) -> None:
    log = CommandLog()
    client = flavor.Client(mongodb_uri, appname=app_name, max_workers=1, event_listeners=[log])
    coll = client[DB_NAME][f"cancel_{uuid.uuid4().hex[:10]}"]
    try:
        await client.admin.command("ping")
        with fail_command(fail_points, app_name, ["find"], blockConnection=True, blockTimeMS=500):
            # The only worker thread waits for the blocked find; the insert waits for the worker.
            blocker = coll.find_one()
            await until(lambda: log.started_count("find") == 1)
            await cancel_while_waiting(how, lambda: coll.insert_one({"_id": "never"}))
            assert await blocker is None
        # This call runs after the cancelled one would have: by now it ran, or never will.
        assert await coll.find_one({"_id": "never"}) is None
        assert log.started_count("insert") == 0
        assert fail_points[DB_NAME][coll.name].find_one() is None
    finally:
        await client.aclose()


async def test_tornado_with_timeout_stops_waiting_but_does_not_cancel(
    flavor: Flavor, fail_points: MongoClient[Any], mongodb_uri: str, app_name: str
) -> None:
    if flavor is not TORNADO:
        pytest.skip("gen.with_timeout is Tornado's")
    client = flavor.Client(mongodb_uri, appname=app_name, max_workers=1)
    coll = client[DB_NAME][f"cancel_{uuid.uuid4().hex[:10]}"]
    try:
        await client.admin.command("ping")
        with fail_command(fail_points, app_name, ["find"], blockConnection=True, blockTimeMS=500):
            blocker = coll.find_one()
            goes_on = coll.insert_one({"_id": "goes on"})
            start = time.monotonic()
            with pytest.raises(tornado.util.TimeoutError):
                await gen.with_timeout(datetime.timedelta(seconds=0.05), goes_on)
            assert time.monotonic() - start < 0.4
            # To stop the call, cancel its Future: it has not started, so it never will.
            stopped = coll.insert_one({"_id": "stopped"})
            with pytest.raises(tornado.util.TimeoutError):
                await gen.with_timeout(datetime.timedelta(seconds=0.05), stopped)
            stopped.cancel()
            await blocker
        assert (await goes_on).inserted_id == "goes on"
        assert [d["_id"] async for d in coll.find()] == ["goes on"]
    finally:
        await coll.drop()
        await client.aclose()


# ---------------------------------------------------------------------------------------------
# Cursors
# ---------------------------------------------------------------------------------------------


def open_cursor(coll: Any, kind: str) -> Any:
    if kind == "find":
        return coll.find().sort("_id").batch_size(2)
    return coll.aggregate([{"$sort": {"_id": 1}}]).batch_size(2)


async def fetch_in_the_way(how: str, cursor: Any) -> Any:
    if how == "next":
        return await cursor.next()
    if how == "to_list":
        return await cursor.to_list(3)
    return [doc async for doc in cursor]


@pytest.mark.parametrize("how", ["next", "to_list", "async for", "asyncio.timeout"])
@pytest.mark.parametrize("kind", ["find", "aggregate"])
async def test_cancelled_fetch_kills_the_server_cursor(
    fail_points: MongoClient[Any], monitored: Any, mcoll: Any, app_name: str, kind: str, how: str
) -> None:
    fail_points[DB_NAME][mcoll.name].insert_many([{"_id": i} for i in range(10)])
    cursor = open_cursor(mcoll, kind)
    assert (await cursor.next())["_id"] == 0
    assert (await cursor.next())["_id"] == 1  # From the first batch: the next fetch is a getMore.
    (cursor_id,) = monitored.log.opened_cursors(kind)
    with fail_command(fail_points, app_name, ["getMore"], blockConnection=True, blockTimeMS=500):
        if how == "asyncio.timeout":
            await cancel_while_waiting(how, cursor.next)
        else:
            await cancel_while_waiting("Task.cancel", lambda: fetch_in_the_way(how, cursor))
        # Motor kills the cursor once the worker is done with the getMore.
        await until(lambda: cursor_id in monitored.log.killed_cursors())
    reply = fail_points[DB_NAME].command("killCursors", mcoll.name, cursors=[cursor_id])
    assert reply["cursorsNotFound"] == [cursor_id]
    await until(lambda: monitored.pool.in_use == 0)


async def test_no_document_is_skipped_after_a_cancelled_to_list(
    fail_points: MongoClient[Any], monitored: Any, mcoll: Any, app_name: str
) -> None:
    fail_points[DB_NAME][mcoll.name].insert_many([{"_id": i} for i in range(10)])
    cursor = mcoll.find().sort("_id").batch_size(2)
    assert (await cursor.next())["_id"] == 0
    (cursor_id,) = monitored.log.opened_cursors("find")
    with fail_command(fail_points, app_name, ["getMore"], blockConnection=True, blockTimeMS=500):
        await cancel_while_waiting("Task.cancel", lambda: cursor.to_list(4))
        await until(lambda: cursor_id in monitored.log.killed_cursors())
    # The cancelled call delivered nothing: what the cursor yields now must follow document 0, or
    # the cursor must be over. Yielding a later document silently skips some.
    rest = [doc["_id"] for doc in await cursor.to_list()]
    assert rest == list(range(1, 1 + len(rest))), rest


# ---------------------------------------------------------------------------------------------
# Transactions
# ---------------------------------------------------------------------------------------------


def sleeper(flavor: Flavor) -> Callable[[float], Awaitable[Any]]:
    return gen.sleep if flavor is TORNADO else asyncio.sleep


@pytest.mark.parametrize("api", ["with_transaction", "start_transaction"])
async def test_cancelled_transaction_body_aborts(
    flavor: Flavor, sync_client: MongoClient[Any], monitored: Any, mcoll: Any, api: str
) -> None:
    await mcoll.insert_one({"_id": "setup"})  # Collections cannot always be created in a transaction.
    inserted = asyncio.Event()
    sleep = sleeper(flavor)

    async def body(session: Any) -> None:
        await mcoll.insert_one({"_id": "in-txn"}, session=session)
        inserted.set()
        await sleep(30)

    async with await monitored.start_session() as session:

        async def run() -> None:
            if api == "with_transaction":
                await session.with_transaction(body)
            else:
                async with session.start_transaction():
                    await body(session)

        task = asyncio.ensure_future(run())
        await inserted.wait()
        assert session.in_transaction
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not session.in_transaction
    assert any(e.command_name == "abortTransaction" for e in monitored.log.succeeded_events)
    assert sync_client[DB_NAME][mcoll.name].find_one({"_id": "in-txn"}) is None
    # No transaction holds the document any more: another client may write it at once.
    with pymongo.timeout(5):
        sync_client[DB_NAME][mcoll.name].insert_one({"_id": "in-txn"})


async def test_cancelled_transaction_with_an_operation_in_flight_leaves_no_transaction(
    fail_points: MongoClient[Any], monitored: Any, app_name: str
) -> None:
    # A database of its own: the transaction left open holds locks until the server expires it.
    database = f"{DB_NAME}_cancel_txn"
    coll = monitored[database][f"c_{uuid.uuid4().hex[:10]}"]
    await coll.insert_one({"_id": "setup"})

    async def body(session: Any) -> None:
        await coll.insert_one({"_id": "in-txn"}, session=session)

    with fail_command(fail_points, app_name, ["insert"], blockConnection=True, blockTimeMS=700):
        async with await monitored.start_session() as session:
            task = asyncio.ensure_future(session.with_transaction(body))
            await until(lambda: monitored.log.started_count("insert") == 2)
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not session.in_transaction
            # Let the insert finish on its worker thread.
            await until(lambda: monitored.pool.in_use == 0)
    assert fail_points[database][coll.name].find_one({"_id": "in-txn"}) is None
    with pymongo.timeout(3):
        fail_points[database][coll.name].insert_one({"_id": "in-txn"})


# ---------------------------------------------------------------------------------------------
# Change streams
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["Task.cancel", "asyncio.timeout"])
async def test_cancelled_change_stream_closes(monitored: Any, mcoll: Any, how: str) -> None:
    await mcoll.insert_one({"_id": "setup"})
    stream = mcoll.watch(max_await_time_ms=200)
    assert await stream.try_next() is None  # Opens the stream.
    (cursor_id,) = monitored.log.opened_cursors("aggregate")
    await cancel_while_waiting(how, stream.next)
    await until(lambda: cursor_id in monitored.log.killed_cursors())
    assert not stream.alive
    await mcoll.insert_one({"_id": "after"})
    with pytest.raises(StopAsyncIteration):
        await stream.next()
    await until(lambda: monitored.pool.in_use == 0)


async def test_cancelled_change_stream_frees_its_worker_thread(flavor: Flavor, mongodb_uri: str) -> None:
    client = flavor.Client(mongodb_uri, max_workers=1)
    coll = client[DB_NAME][f"cancel_{uuid.uuid4().hex[:10]}"]
    stream = coll.watch(max_await_time_ms=100)
    try:
        await coll.insert_one({"_id": "setup"})
        assert await stream.try_next() is None  # Opens the stream.
        await cancel_while_waiting("asyncio.timeout", stream.next)
        async with asyncio.timeout(3):
            assert await coll.find_one() == {"_id": "setup"}
    finally:
        if stream.delegate is not None:
            stream.delegate.close()  # Unblocks the worker thread, whatever Motor did.
        await coll.drop()
        await client.aclose()


# ---------------------------------------------------------------------------------------------
# No leak
# ---------------------------------------------------------------------------------------------


async def test_no_leak_after_many_cancellations(
    flavor: Flavor, mongodb_uri: str, sync_client: MongoClient[Any]
) -> None:
    max_workers = 4
    log, pool = CommandLog(), PoolLog()
    threads_before = motor_worker_threads()
    client = flavor.Client(mongodb_uri, max_workers=max_workers, event_listeners=[log, pool])
    coll = client[DB_NAME][f"cancel_leak_{uuid.uuid4().hex[:10]}"]
    await coll.insert_many([{"_id": i, "n": 0} for i in range(40)])

    async def with_session() -> None:
        async with await client.start_session() as session:
            await coll.find_one({}, session=session)
            await coll.update_one({"_id": 0}, {"$inc": {"n": 1}}, session=session)

    async def iterate() -> None:
        async for _ in coll.find().batch_size(3):
            pass

    operations: list[Callable[[], Awaitable[Any]]] = [
        lambda: coll.insert_one({}),
        lambda: coll.find_one({"_id": 1}),
        lambda: coll.find().batch_size(5).to_list(),
        iterate,
        lambda: coll.aggregate([{"$match": {}}]).batch_size(4).to_list(),
        lambda: coll.count_documents({}),
        lambda: coll.update_many({}, {"$inc": {"n": 1}}),
        with_session,
    ]
    peak_threads = 0

    async def watch_threads() -> None:
        nonlocal peak_threads
        while True:
            peak_threads = max(peak_threads, len(motor_worker_threads() - threads_before))
            await asyncio.sleep(0.005)

    async def call(operation: Callable[[], Awaitable[Any]]) -> Any:
        return await operation()

    watcher = asyncio.ensure_future(watch_threads())
    loop = asyncio.get_running_loop()
    try:
        tasks = []
        for i in range(240):
            task = asyncio.ensure_future(call(operations[i % len(operations)]))
            tasks.append(task)
            if i % 3:
                loop.call_later((i % 7) / 1000, task.cancel)
            if i % 40 == 0:
                await asyncio.sleep(0.01)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        errors = [r for r in results if isinstance(r, Exception)]
        assert not errors, errors[:3]
        cancelled = sum(task.cancelled() for task in tasks)
        assert 0 < cancelled < len(tasks), cancelled

        # Work that was cancelled after it started finishes on its worker; then all is returned.
        await until(lambda: pool.in_use == 0)
        in_pool = [bytes(s.session_id["id"]) for s in client.delegate._topology._session_pool]
        assert len(in_pool) == len(set(in_pool)), "a session was returned to the pool twice"
        assert log.session_ids() <= set(in_pool)
        assert peak_threads <= max_workers
        assert len(motor_worker_threads() - threads_before) <= max_workers
        # And the client still works.
        assert await coll.count_documents({"_id": {"$lt": 40}}) == 40
    finally:
        watcher.cancel()
        sync_client[DB_NAME].drop_collection(coll.name)
        await client.aclose()
