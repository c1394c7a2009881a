"""What is trio's own in Motor's trio classes (:mod:`motor.motor_trio`), in programs run by
:func:`trio.run`: the framework module and its Futures, cancellation by cancel scopes, the legacy
``each()`` in a background task, and the life of a client across runs.

The behaviour suite (``test/conftest.py``) runs the trio classes through everything else: CRUD,
cursors, change streams, transactions, GridFS, errors, faults, a server that is down.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
from pymongo import MongoClient

from motor.frameworks import registered
from motor.frameworks import trio as trio_framework
from motor.frameworks.interface import EventLoop, Framework
from motor.frameworks.trio import TrioFuture, TrioLoop
from motor.motor_trio import (
    TrioMotorClient,
)
from test.support import DB_NAME, CommandLog, fail_command


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds; fail after ``timeout`` seconds."""
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(0.01)


def run(main: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``main()`` in a new trio run, failing it after 60 seconds."""

    async def limited() -> Any:
        with trio.fail_after(60):
            return await main()

    return trio.run(limited)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------------------------------------
# The framework module
# ---------------------------------------------------------------------------------------------


def test_framework_module_satisfies_the_interface() -> None:
    assert isinstance(trio_framework, Framework)
    assert trio_framework.CLASS_PREFIX == "Trio"
    assert trio_framework.CancelledError is trio.Cancelled
    assert trio_framework.sleep is trio.sleep
    assert trio_framework.platform_info() == f"trio {trio.__version__}"
    entry = registered("trio")
    assert entry.framework() is trio_framework
    assert entry.runs == ("trio",)
    assert TrioMotorClient._framework is trio_framework
    assert TrioMotorClient.__module__ == "motor.motor_trio"


def test_event_loop_outside_and_inside_a_run() -> None:
    assert trio_framework.running_loop() is None
    with pytest.raises(RuntimeError, match=r"trio\.run"):
        trio_framework.get_event_loop()
    for wrong in (None, object(), asyncio.new_event_loop()):
        assert not trio_framework.is_event_loop(wrong)
        with pytest.raises(TypeError, match="io_loop must be a trio run's token"):
            trio_framework.check_event_loop(wrong)
        if wrong is not None:
            with pytest.raises(TypeError):
                trio_framework.get_event_loop(wrong)
            with pytest.raises(TypeError):
                trio_framework.engine_loop(wrong)
        if isinstance(wrong, asyncio.AbstractEventLoop):
            wrong.close()

    async def main() -> weakref.ref[TrioLoop]:
        token = trio.lowlevel.current_trio_token()
        assert trio_framework.get_event_loop() is token
        assert trio_framework.get_event_loop(token) is token
        assert trio_framework.is_event_loop(token)
        trio_framework.check_event_loop(token)
        loop = trio_framework.running_loop()
        assert isinstance(loop, TrioLoop) and isinstance(loop, EventLoop)
        assert loop.token is token
        # One TrioLoop per run, whoever asks.
        assert trio_framework.running_loop() is loop
        assert trio_framework.engine_loop(token) is loop
        assert not loop.is_closed()
        return weakref.ref(loop)

    first = trio.run(main)
    gc.collect()
    # A finished run's TrioLoop is not kept alive.
    assert first() is None
    assert trio_framework.running_loop() is None


def test_future_results_callbacks_and_cancel() -> None:
    async def main() -> None:
        loop = trio_framework.running_loop()
        assert loop is not None
        seen: list[Any] = []

        future: TrioFuture[int] = loop.create_future()
        future.add_done_callback(seen.append)
        assert not future.done() and future.get_loop() is loop

        async def resolve_later() -> None:
            await trio.sleep(0.01)
            future.set_result(5)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(resolve_later)
            assert await future == 5
        assert seen == [future] and future.done() and not future.cancelled()
        assert await future == 5  # Awaited again once done: at once.
        with pytest.raises(RuntimeError, match="already"):
            future.set_result(6)

        failing: TrioFuture[int] = loop.create_future()
        failing.set_exception(KeyError("k"))
        assert isinstance(failing.exception(), KeyError)
        with pytest.raises(KeyError):
            await failing

        # A cancel scope cancels the Future it interrupts.
        pending: TrioFuture[int] = loop.create_future()
        pending.add_done_callback(seen.append)
        with trio.move_on_after(0.01) as scope:
            await pending
        assert scope.cancelled_caught
        assert pending.cancelled() and seen[-1] is pending
        assert not pending.cancel() or pending.cancelled()
        with pytest.raises(trio.Cancelled):
            pending.result()

        # cancel() wakes the task that awaits the Future.
        other: TrioFuture[int] = loop.create_future()

        async def cancel_soon() -> None:
            await trio.sleep(0.01)
            assert other.cancel()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(cancel_soon)
            with pytest.raises(trio.Cancelled):
                await other

        # A callback that raises is logged, not raised into trio.
        bad: TrioFuture[None] = loop.create_future()
        bad.add_done_callback(lambda f: 1 / 0)
        bad.set_result(None)

    trio.run(main)


# ---------------------------------------------------------------------------------------------
# What users rely on
# ---------------------------------------------------------------------------------------------


def test_cursor_each_runs_in_a_background_task(mongodb_uri: str) -> None:
    async def main() -> None:
        async with TrioMotorClient(mongodb_uri) as client:
            coll = client[DB_NAME][unique("trio_each")]
            await coll.insert_many([{"_id": i} for i in range(5)])
            seen: list[Any] = []
            finished = trio.Event()

            def callback(document: Any, error: Exception | None) -> None:
                seen.append(document if error is None else error)
                if document is None:
                    finished.set()

            coll.find().sort("_id").batch_size(2).each(callback)
            await finished.wait()
            assert seen == [*({"_id": i} for i in range(5)), None]
            await coll.drop()

    run(main)


def test_cancelled_change_stream_closes(mongodb_uri: str) -> None:
    async def main() -> None:
        async with TrioMotorClient(mongodb_uri) as client:
            coll = client[DB_NAME][unique("trio_watch_cancel")]
            await coll.insert_one({"setup": True})
            stream = coll.watch()
            with trio.move_on_after(0.3) as scope:
                await stream.next()
            assert scope.cancelled_caught
            assert not stream.alive
            await coll.drop()

    run(main)


# ---------------------------------------------------------------------------------------------
# Cancellation by cancel scopes
# ---------------------------------------------------------------------------------------------


def test_call_cancelled_before_it_starts_never_runs(mongodb_uri: str) -> None:
    log = CommandLog()
    client = TrioMotorClient(mongodb_uri, max_workers=1, event_listeners=[log])
    coll = client[DB_NAME][unique("trio_cancel")]

    async def main() -> None:
        await client.admin.command("ping")
        release = threading.Event()
        # The only worker thread is busy: the insert waits in the queue.
        held = client._engine.run(release.wait, 10)
        with trio.move_on_after(0.2) as scope:
            await coll.insert_one({"_id": "never"})
        assert scope.cancelled_caught
        release.set()
        assert await held is True
        # Queued after the cancelled call: by now that one ran, or never will.
        assert await coll.find_one({"_id": "never"}) is None
        assert log.started_count("insert") == 0
        await client.aclose()

    run(main)


def test_cancelled_cursor_fetch_leaves_no_open_server_cursor(
    mongodb_uri: str, fail_points: MongoClient[Any]
) -> None:
    app_name = unique("trio_cursor")
    log = CommandLog()
    client = TrioMotorClient(mongodb_uri, appname=app_name, event_listeners=[log])
    name = unique("trio_cursor")
    fail_points[DB_NAME][name].insert_many([{"_id": i} for i in range(10)])

    async def main() -> None:
        coll = client[DB_NAME][name]
        cursor = coll.find().sort("_id").batch_size(2)
        assert (await cursor.next())["_id"] == 0
        assert (await cursor.next())["_id"] == 1  # The next fetch is a getMore.
        (cursor_id,) = log.opened_cursors("find")
        with fail_command(fail_points, app_name, ["getMore"], blockConnection=True, blockTimeMS=500):
            async with trio.open_nursery() as nursery:

                async def fetch() -> None:
                    await cursor.next()
                    raise AssertionError("the fetch was not cancelled")

                nursery.start_soon(fetch)
                # Cancelled while the getMore runs on the worker.
                await until(lambda: log.started_count("getMore") == 1)
                nursery.cancel_scope.cancel()
            await until(lambda: cursor_id in log.killed_cursors())
        reply = fail_points[DB_NAME].command("killCursors", name, cursors=[cursor_id])
        assert reply["cursorsNotFound"] == [cursor_id]
        # The cursor ends rather than resuming after a gap.
        assert await cursor.to_list() == []
        await coll.drop()
        await client.aclose()

    run(main)


def test_cancelled_transaction_block_aborts_and_ends_its_session(mongodb_uri: str) -> None:
    """trio cancels every await of a cancelled scope, the clean-ups of ``async with`` too: Motor
    hands them to a worker rather than dropping them."""
    log = CommandLog()
    client = TrioMotorClient(mongodb_uri, event_listeners=[log])
    coll = client[DB_NAME][unique("trio_txn_cancel")]

    async def main() -> None:
        await coll.insert_one({"_id": "setup"})
        sessions: list[Any] = []
        cursor = coll.find().batch_size(1)
        with trio.move_on_after(0.3) as scope:
            async with await client.start_session() as session:
                sessions.append(session)
                async with session.start_transaction():
                    await coll.insert_one({"_id": "cancelled"}, session=session)
                    async with cursor:
                        await cursor.next()
                        await trio.sleep(10)
        assert scope.cancelled_caught
        (session,) = sessions
        await until(lambda: log.succeeded_count("abortTransaction") == 1)
        await until(lambda: session.has_ended)
        assert not session.in_transaction
        assert await coll.find_one({"_id": "cancelled"}) is None
        (cursor_id,) = log.opened_cursors("find")
        await until(lambda: cursor_id in log.killed_cursors())
        await coll.drop()
        await client.aclose()

    run(main)


# ---------------------------------------------------------------------------------------------
# A client across runs, and the run's responsiveness
# ---------------------------------------------------------------------------------------------


def test_client_follows_the_running_run(mongodb_uri: str) -> None:
    client = TrioMotorClient(mongodb_uri)
    coll = client[DB_NAME][unique("trio_runs")]
    loops: list[weakref.ref[TrioLoop]] = []

    async def first() -> None:
        loop = trio_framework.running_loop()
        assert loop is not None
        loops.append(weakref.ref(loop))
        await coll.insert_one({"_id": "first"})
        cursor = coll.find()
        assert [doc["_id"] async for doc in cursor] == ["first"]

    async def second() -> None:
        await coll.insert_one({"_id": "second"})
        assert sorted(doc["_id"] for doc in await coll.find().to_list()) == ["first", "second"]
        await coll.drop()

    try:
        run(first)
        run(second)
        gc.collect()
        assert loops[0]() is None, "the client keeps a finished run alive"
    finally:
        client.close()


def test_client_pinned_to_a_run(mongodb_uri: str) -> None:
    clients: list[Any] = []

    async def first() -> None:
        token = trio.lowlevel.current_trio_token()
        client = TrioMotorClient(mongodb_uri, io_loop=token)
        clients.append(client)
        assert client.io_loop is token
        await client.admin.command("ping")

    async def second() -> None:
        with pytest.raises(RuntimeError, match="bound to io_loop"):
            clients[0].admin.command("ping")

    with pytest.raises(TypeError, match="io_loop must be a trio run's token"):
        TrioMotorClient(mongodb_uri, io_loop=asyncio.get_event_loop_policy())
    run(first)
    try:
        run(second)
        # Outside any run, the pinned run is over: its results could never be delivered.
        with pytest.raises(RuntimeError, match="closed"):
            clients[0].admin.command("ping")
    finally:
        clients[0].close()


def test_a_run_that_ends_while_a_worker_runs_a_call_does_not_hang_it(
    mongodb_uri: str, fail_points: MongoClient[Any]
) -> None:
    app_name = unique("trio_late")
    log = CommandLog()
    client = TrioMotorClient(mongodb_uri, appname=app_name, max_workers=1, event_listeners=[log])
    coll = client[DB_NAME][unique("trio_late")]
    loops: list[weakref.ref[TrioLoop]] = []

    async def first() -> None:
        await client.admin.command("ping")
        loop = trio_framework.running_loop()
        assert loop is not None
        loops.append(weakref.ref(loop))
        # Started but never awaited: the run ends while the only worker waits for the server.
        coll.find_one({"late": True})
        await until(lambda: log.started_count("find") == 1)

    async def second() -> None:
        # The worker dropped the late result and serves this run.
        with trio.fail_after(10):
            await coll.insert_one({"_id": "later"})
            assert await coll.find_one() == {"_id": "later"}
        await coll.drop()

    try:
        with fail_command(fail_points, app_name, ["find"], blockConnection=True, blockTimeMS=500):
            run(first)
            start = time.monotonic()
            run(second)
        assert log.succeeded_count("find") >= 2
        assert time.monotonic() - start < 10
        # The first run is gone: the late result did not keep it alive.
        gc.collect()
        assert loops[0]() is None
    finally:
        client.close()
