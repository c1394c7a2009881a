"""Motor's anyio classes (:mod:`motor.motor_anyio`), in programs run by :func:`anyio.run` on each
backend: the same code works on asyncio and on trio, with anyio's cancel scopes.

The behaviour suite is written with asyncio idioms, so the anyio classes are tested here, by plain
test functions that each run ``anyio.run(...)`` once per backend.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
import trio
from pymongo.errors import ServerSelectionTimeoutError

from motor.frameworks import anyio as anyio_framework
from motor.frameworks import registered
from motor.frameworks.interface import Framework
from motor.frameworks.trio import TrioFuture
from motor.motor_anyio import AnyIOMotorClient, AnyIOMotorCollection, AnyIOMotorGridFSBucket
from motor.testing import free_port
from test.conftest import DB_NAME, CommandLog

BACKENDS = ["asyncio", "trio"]


def run(main: Callable[[], Awaitable[Any]], backend: str) -> Any:
    """Run ``main()`` with anyio on ``backend``, failing it after 60 seconds."""

    async def limited() -> Any:
        with anyio.fail_after(60):
            return await main()

    return anyio.run(limited, backend=backend)


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds; fail after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.01)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def test_framework_module_satisfies_the_interface() -> None:
    assert isinstance(anyio_framework, Framework)
    entry = registered("anyio")
    assert entry.classes_module == "motor.motor_anyio"
    assert entry.on_asyncio is False
    assert AnyIOMotorClient.__name__ == "AnyIOMotorClient"


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_backend_gets_its_own_futures_and_cancellation(backend: str) -> None:
    client = AnyIOMotorClient(connect=False)

    async def main() -> None:
        pending = client._engine.run(int, "7")
        expected = asyncio.Future if backend == "asyncio" else TrioFuture
        assert isinstance(pending, expected)
        assert await pending == 7
        cancelled = asyncio.CancelledError if backend == "asyncio" else trio.Cancelled
        assert client._engine.CancelledError is cancelled
        assert client._engine.CancelledError is anyio.get_cancelled_exc_class()
        await client.aclose()

    run(main, backend)


def test_outside_a_run_and_wrong_loops() -> None:
    client = AnyIOMotorClient(connect=False)
    with pytest.raises(RuntimeError, match=r"anyio\.run\(main\), on asyncio or trio"):
        client._engine.run(int)
    client.close()
    with pytest.raises(TypeError, match="io_loop must be an asyncio event loop or a trio run's token"):
        AnyIOMotorClient(connect=False, io_loop="loop")


@pytest.mark.parametrize("backend", BACKENDS)
def test_crud_cursors_and_aggregation(backend: str, mongodb_uri: str) -> None:
    client = AnyIOMotorClient(mongodb_uri)
    coll = client[DB_NAME][unique("anyio_crud")]
    assert isinstance(coll, AnyIOMotorCollection)

    async def main() -> None:
        await coll.insert_many([{"_id": i, "even": i % 2 == 0} for i in range(7)])
        assert await coll.find_one({"_id": 3}) == {"_id": 3, "even": False}
        assert [doc["_id"] async for doc in coll.find().sort("_id").batch_size(2)] == list(range(7))
        assert [doc["_id"] for doc in await coll.find({"even": True}).sort("_id").to_list()] == [0, 2, 4, 6]
        pipeline = [{"$group": {"_id": "$even", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]
        assert await coll.aggregate(pipeline).to_list() == [
            {"_id": False, "n": 3},
            {"_id": True, "n": 4},
        ]
        result = await coll.update_one({"_id": 0}, {"$set": {"x": 1}})
        assert result.modified_count == 1
        assert await coll.count_documents({"x": 1}) == 1
        await coll.drop()
        await client.aclose()

    run(main, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_change_stream_sees_an_insert_from_another_task(backend: str, mongodb_uri: str) -> None:
    client = AnyIOMotorClient(mongodb_uri)
    coll = client[DB_NAME][unique("anyio_watch")]

    async def main() -> None:
        await coll.insert_one({"_id": "created"})
        # Opening the stream (its aggregate) is done when `async with` has entered it.
        async with coll.watch([{"$match": {"operationType": "insert"}}]) as stream:

            async def insert() -> None:
                await coll.insert_one({"_id": "seen"})

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(insert)
                with anyio.fail_after(10):
                    change = await stream.next()
        assert change["operationType"] == "insert"
        assert change["documentKey"] == {"_id": "seen"}
        await coll.drop()
        await client.aclose()

    run(main, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_transactions_commit_and_abort(backend: str, mongodb_uri: str) -> None:
    client = AnyIOMotorClient(mongodb_uri)
    coll = client[DB_NAME][unique("anyio_txn")]

    async def main() -> None:
        await coll.insert_one({"_id": "setup"})
        async with await client.start_session() as session:
            async with session.start_transaction():
                await coll.insert_one({"_id": "committed"}, session=session)

            async def callback(session: Any) -> None:
                await coll.insert_one({"_id": "with_transaction"}, session=session)

            await session.with_transaction(callback)
            with pytest.raises(ZeroDivisionError):
                async with session.start_transaction():
                    await coll.insert_one({"_id": "aborted"}, session=session)
                    1 / 0
        ids = sorted(doc["_id"] for doc in await coll.find().to_list())
        assert ids == ["committed", "setup", "with_transaction"]
        await coll.drop()
        await client.aclose()

    run(main, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gridfs_round_trip(backend: str, mongodb_uri: str) -> None:
    client = AnyIOMotorClient(mongodb_uri)
    name = unique("anyio_fs")
    bucket = AnyIOMotorGridFSBucket(client[DB_NAME], bucket_name=name)
    data = bytes(range(256)) * 1000

    async def main() -> None:
        file_id = await bucket.upload_from_stream("data.bin", io.BytesIO(data), chunk_size_bytes=4096)
        grid_out = await bucket.open_download_stream(file_id)
        assert await grid_out.read() == data
        await client[DB_NAME].drop_collection(f"{name}.files")
        await client[DB_NAME].drop_collection(f"{name}.chunks")
        await client.aclose()

    run(main, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_call_cancelled_by_a_cancel_scope_before_it_starts_never_runs(backend: str, mongodb_uri: str) -> None:
    log = CommandLog()
    client = AnyIOMotorClient(mongodb_uri, max_workers=1, event_listeners=[log])
    coll = client[DB_NAME][unique("anyio_cancel")]

    async def main() -> None:
        await client.admin.command("ping")
        release = threading.Event()
        # The only worker thread is busy: the insert waits in the queue.
        held = client._engine.run(release.wait, 10)
        with anyio.move_on_after(0.2) as scope:
            await coll.insert_one({"_id": "never"})
        assert scope.cancelled_caught
        release.set()
        assert await held is True
        assert await coll.find_one({"_id": "never"}) is None
        assert log.started_count("insert") == 0
        await client.aclose()

    run(main, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cancelled_transaction_block_aborts_and_ends_its_session(backend: str, mongodb_uri: str) -> None:
    log = CommandLog()
    client = AnyIOMotorClient(mongodb_uri, event_listeners=[log])
    coll = client[DB_NAME][unique("anyio_txn_cancel")]

    async def main() -> None:
        await coll.insert_one({"_id": "setup"})
        sessions: list[Any] = []
        with anyio.move_on_after(0.3) as scope:
            async with await client.start_session() as session:
                sessions.append(session)
                async with session.start_transaction():
                    await coll.insert_one({"_id": "cancelled"}, session=session)
                    await anyio.sleep(10)
        assert scope.cancelled_caught
        (session,) = sessions
        await until(lambda: log.succeeded_count("abortTransaction") == 1)
        await until(lambda: session.has_ended)
        assert await coll.find_one({"_id": "cancelled"}) is None
        await coll.drop()
        await client.aclose()

    run(main, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_loop_stays_responsive_during_server_selection(backend: str) -> None:
    client = AnyIOMotorClient(f"mongodb://127.0.0.1:{free_port()}", serverSelectionTimeoutMS=500)
    ticks: list[float] = []

    async def main() -> float:
        async def ticker() -> None:
            while True:
                await anyio.sleep(0.01)
                ticks.append(time.monotonic())

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(ticker)
            start = time.monotonic()
            with pytest.raises(ServerSelectionTimeoutError):
                await client.admin.command("ping")
            elapsed = time.monotonic() - start
            tasks.cancel_scope.cancel()
        return elapsed

    try:
        elapsed = run(main, backend)
    finally:
        client.close()
    assert elapsed >= 0.45
    # About 50 ticks in 500 ms; a blocked loop would tick about once.
    assert len(ticks) >= 20, len(ticks)
    assert max(b - a for a, b in itertools.pairwise(ticks)) < 0.25


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_client_across_runs_of_both_backends(backend: str, mongodb_uri: str) -> None:
    """A client created without io_loop follows the run that calls it, whichever backend runs it."""
    client = AnyIOMotorClient(mongodb_uri)
    coll = client[DB_NAME][unique("anyio_runs")]
    other = "trio" if backend == "asyncio" else "asyncio"

    async def insert(value: str) -> None:
        await coll.insert_one({"_id": value})

    run(lambda: insert(backend), backend)
    run(lambda: insert(other), other)

    async def check() -> None:
        assert sorted(doc["_id"] for doc in await coll.find().to_list()) == sorted([backend, other])
        await coll.drop()
        await client.aclose()

    run(check, backend)
