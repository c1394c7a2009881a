"""Reliability of the engine: faults that lost results, leaked resources or hung a client.

Each test is named after the fault it guards against (issue 11's list) and asserts what users rely
on: that waiting change streams never starve other operations, that dropped clients and finished
event loops are released, that clean-up after ``close()`` never raises, that one Future's fate never
touches another's, and that a closed client starts no threads.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref
from typing import Any

import pytest
from pymongo.errors import InvalidOperation

from test.support import DB_NAME, Flavor, fail_command
from test.test_shutdown import run_script

pytestmark = pytest.mark.every_framework

# ---------------------------------------------------------------------------------------------
# 1. Change streams waiting for changes never starve the worker pool.
# ---------------------------------------------------------------------------------------------


async def test_waiting_change_streams_leave_workers_for_operations(flavor: Flavor, mongodb_uri: str) -> None:
    client = flavor.Client(mongodb_uri, max_workers=2)
    coll = client[DB_NAME].waiting_streams
    try:
        await coll.drop()
        streams = 5  # More waiting streams than workers.
        ready = 0
        seen: list[Any] = []
        insert_time: list[float] = []

        async def watch() -> None:
            nonlocal ready
            async with coll.watch() as stream:
                ready += 1
                async for change in stream:
                    seen.append(change["fullDocument"]["n"])
                    return

        async def insert_once_all_wait() -> None:
            while ready < streams:
                await flavor.sleep(0.01)
            await flavor.sleep(0.2)  # Every stream is now waiting in next().
            start = time.monotonic()
            await flavor.wait_for(coll.insert_one({"n": 1}), 5)
            insert_time.append(time.monotonic() - start)

        await flavor.wait_for(flavor.gather(insert_once_all_wait(), *(watch() for _ in range(streams))), 20)
        assert insert_time[0] < 1.0
        assert seen == [1] * streams
    finally:
        await client.aclose()


# ---------------------------------------------------------------------------------------------
# 2. Clients dropped without close() release their threads.
# ---------------------------------------------------------------------------------------------

DROPPED_CLIENTS = """
    import asyncio, gc, sys, threading, time, warnings
    warnings.simplefilter("ignore", ResourceWarning)  # PyMongo's, for its unclosed clients.
    uri = sys.argv[2]
    if sys.argv[1] == "asyncio":
        from motor.motor_asyncio import AsyncIOMotorClient as Client
    else:
        from motor.motor_tornado import MotorClient as Client

    async def main():
        baseline = threading.active_count()
        for i in range(50):
            client = Client(uri, connect=bool(i % 2))
            if i % 3 == 0:
                await client.motor_test.dropped.find_one()  # Some ran operations, some never did.
            del client
        gc.collect()
        deadline = time.monotonic() + 15
        while threading.active_count() > baseline + 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            gc.collect()
        print(baseline, threading.active_count())

    asyncio.run(main())
"""


@pytest.mark.parametrize("framework", ["asyncio", "tornado"])
def test_dropped_clients_release_their_threads(framework: str, mongodb_uri: str) -> None:
    code, out, err, _ = run_script(DROPPED_CLIENTS, framework, mongodb_uri, timeout=60)
    assert code == 0, err
    baseline, after = map(int, out.split())
    assert after <= baseline + 3, (baseline, after)


def test_idle_workers_exit(mongodb_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from motor import _engine

    monkeypatch.setattr(_engine, "IDLE_TIMEOUT", 0.2)
    pool = _engine.WorkerPool(4, "motor-worker-idle-test")
    done = threading.Event()
    for _ in range(4):
        pool.submit(time.sleep, 0.01)
    pool.submit(done.set)
    assert done.wait(5)
    deadline = time.monotonic() + 5
    while pool.threads and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.threads == 0
    pool.submit(done.clear)  # A pool whose threads timed out still runs calls.
    deadline = time.monotonic() + 5
    while done.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not done.is_set()


# ---------------------------------------------------------------------------------------------
# 3. Event loops that received results are not kept alive.
# ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio_api
def test_one_client_across_many_asyncio_runs_keeps_no_loop_alive(flavor: Flavor, mongodb_uri: str) -> None:
    client = flavor.Client(mongodb_uri)
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    kept_cursors: list[Any] = []

    async def use() -> None:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        await client[DB_NAME].loops.find_one()
        # A cursor that outlives its run does not keep the run's loop alive either.
        cursor = client[DB_NAME].loops.find()
        await cursor.to_list(None)
        kept_cursors.append(cursor)

    try:
        for _ in range(200):
            asyncio.run(use())
        gc.collect()
        alive = sum(1 for ref in loops if ref() is not None)
        assert alive <= 3, f"{alive} of 200 event loops are still alive"
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------
# 4. Clean-up after close() completes, and never raises because the client is closed.
# ---------------------------------------------------------------------------------------------


async def test_leaving_blocks_after_close_does_not_raise(flavor: Flavor, mongodb_uri: str) -> None:
    client = flavor.Client(mongodb_uri)
    coll = client[DB_NAME].cleanup_after_close
    await coll.drop()
    await coll.insert_many([{"n": i} for i in range(10)])
    async with await client.start_session() as session:
        async with coll.find(batch_size=2) as cursor:
            async with coll.watch() as stream:
                await cursor.next()
                await client.aclose()
                await stream.close()
                await stream.close()
            await cursor.close()
            await cursor.close()
        await session.end_session()
    assert client.delegate._closed
    with pytest.raises(InvalidOperation):
        await coll.find_one()


async def test_leaving_a_transaction_after_close_keeps_the_callers_exception(
    flavor: Flavor, mongodb_uri: str
) -> None:
    """The block's abort is a clean-up: after close it does not replace the caller's exception."""
    client = flavor.Client(mongodb_uri)
    coll = client[DB_NAME].abort_after_close
    await coll.insert_one({"setup": True})
    async with await client.start_session() as session:
        with pytest.raises(ZeroDivisionError):
            async with session.start_transaction():
                await coll.insert_one({"x": 1}, session=session)
                await client.aclose()
                1 / 0
        await session.abort_transaction()  # Idempotent after close, as end_session is.


async def test_bound_session_ends_after_close(flavor: Flavor, mongodb_uri: str) -> None:
    client = flavor.Client(mongodb_uri)
    session = await client.start_session()
    async with session.bind():
        await client[DB_NAME].bound_after_close.find_one()
        await client.aclose()


# ---------------------------------------------------------------------------------------------
# 5. One Future completed by application code never loses other callers' results.
# ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio_api
async def test_a_future_completed_by_its_caller_loses_no_other_result(flavor: Flavor, client: Any) -> None:
    coll = client[DB_NAME].completed_by_caller
    await coll.drop()
    await coll.insert_one({"_id": 1})
    for _ in range(5):
        futures = [coll.find_one({"_id": 1}) for _ in range(45)]
        for i, future in enumerate(futures):
            if i % 4 == 0:
                future.set_exception(ValueError("set by the application"))
            elif i % 4 == 1:
                future.cancel()
        others = [f for i, f in enumerate(futures) if i % 4 > 1]
        results = await asyncio.wait_for(asyncio.gather(*others), 10)
        assert results == [{"_id": 1}] * len(others)
        for future in futures[::4]:
            with pytest.raises(ValueError, match="set by the application"):
                future.result()


# ---------------------------------------------------------------------------------------------
# 6. A closed client never starts threads again.
# ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio_api
async def test_no_threads_start_after_close(flavor: Flavor, mongodb_uri: str) -> None:
    client = flavor.Client(mongodb_uri)
    coll = client[DB_NAME].no_pool_after_close
    await coll.drop()
    await coll.insert_many([{"n": i} for i in range(50)])
    cursors = [coll.find(batch_size=2) for _ in range(10)]
    for cursor in cursors:
        await cursor.next()
    fetches = [asyncio.ensure_future(cursor.to_list(None)) for cursor in cursors]
    await asyncio.sleep(0)
    pool = client._engine._executor
    close = client.close()
    for fetch in fetches:
        fetch.cancel()
    await asyncio.gather(*fetches, return_exceptions=True)
    await close
    threads_at_close = pool.threads
    for cursor in cursors:
        cursor._kill_on_cancel()  # What a cancelled fetch does: a background kill.
    await asyncio.sleep(0.3)
    # No new pool, and the closed one only ever loses threads.
    assert client._engine._executor is None
    assert client._engine._waiters is None
    assert pool.threads <= threads_at_close


# ---------------------------------------------------------------------------------------------
# Rough edges
# ---------------------------------------------------------------------------------------------


async def test_a_session_that_is_not_a_session_is_named(flavor: Flavor, client: Any) -> None:
    coll = client[DB_NAME].not_a_session
    with pytest.raises(TypeError, match=r"session must be a Motor client session.*'oops'"):
        await coll.insert_one({}, session="oops")
    with pytest.raises(TypeError, match="session must be"):
        await coll.find_one({}, session=42)


PINNED_TO_CLOSED_LOOP = """
    import asyncio, sys
    if sys.argv[1] == "asyncio":
        from motor.motor_asyncio import AsyncIOMotorClient as Client
        loop = asyncio.new_event_loop()
        pin = loop
    else:
        from tornado.ioloop import IOLoop
        from motor.motor_tornado import MotorClient as Client
        pin = IOLoop(make_current=False)
        loop = pin.asyncio_loop
    client = Client(sys.argv[2], io_loop=pin, connect=False)
    loop.close() if sys.argv[1] == "asyncio" else pin.close(all_fds=True)
    try:
        client.motor_test.c.find_one()
    except RuntimeError as exc:
        print("RuntimeError:", exc)
"""


@pytest.mark.parametrize("framework", ["asyncio", "tornado"])
def test_a_client_pinned_to_a_closed_loop_raises_at_once(framework: str, mongodb_uri: str) -> None:
    code, out, err, seconds = run_script(PINNED_TO_CLOSED_LOOP, framework, mongodb_uri, timeout=30)
    assert code == 0, err
    assert out.startswith("RuntimeError:") and "closed" in out, out
    assert seconds < 10


async def test_cancelled_commit_leaves_the_session_usable(
    flavor: Flavor, fail_points: Any, mongodb_uri: str
) -> None:
    app_name = f"cancelled-commit-{flavor}"
    # One worker, kept busy by a slow find: the commit waits in the queue when it is cancelled.
    motor_client = flavor.Client(mongodb_uri, appName=app_name, max_workers=1)
    coll = motor_client[DB_NAME].cancelled_commit
    try:
        await coll.drop()
        await motor_client[DB_NAME].create_collection("cancelled_commit")
        async with await motor_client.start_session() as session:
            with fail_command(fail_points, app_name, ["find"], blockConnection=True, blockTimeMS=500):
                slow: list[Any] = []

                async def transaction() -> None:
                    async with session.start_transaction():
                        await coll.insert_one({"n": 1}, session=session)
                        slow.append(coll.find_one())
                        await flavor.sleep(0.1)

                # Cancelled while the commit is queued behind the slow find.
                with pytest.raises(TimeoutError):
                    await flavor.wait_for(transaction(), 0.3)
                await slow[0]
            deadline = time.monotonic() + 5
            while session.in_transaction and time.monotonic() < deadline:
                await flavor.sleep(0.05)
            assert not session.in_transaction
            async with session.start_transaction():
                await coll.insert_one({"n": 2}, session=session)
        assert [d["n"] async for d in coll.find({}, {"_id": 0})] == [2]
    finally:
        await motor_client.aclose()
