"""What is anyio's own in Motor's anyio classes (:mod:`motor.motor_anyio`), in programs run by
:func:`anyio.run` on each backend: the framework module, cancellation by anyio's cancel scopes, and
one client across runs of both backends.

The behaviour suite (``test/conftest.py``) runs the anyio classes on both backends through
everything else: CRUD, cursors, change streams, transactions, GridFS, errors, faults, a server that
is down.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
import trio

from motor.frameworks import anyio as anyio_framework
from motor.frameworks import registered
from motor.frameworks.interface import Framework
from motor.frameworks.trio import TrioFuture
from motor.motor_anyio import AnyIOMotorClient
from test.support import DB_NAME, CommandLog

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
    assert entry.runs == ("asyncio", "trio")
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
