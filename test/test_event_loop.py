"""How Motor lives with event loops and threads.

- it never blocks the loop, even while waiting for a server that does not answer;
- an unpinned client follows the running loop, so one client serves successive loops;
- a pinned client refuses other loops, and a loop of the wrong framework is refused;
- a call that needs a loop where there is none raises instead of hanging;
- ``pymongo.timeout()`` reaches the worker thread; a call cancelled before it starts never runs;
- after ``fork()`` the child's thread pools are rebuilt.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pymongo
import pytest
from pymongo import MongoClient
from pymongo.errors import PyMongoError, ServerSelectionTimeoutError
from tornado.ioloop import IOLoop

from motor.frameworks import asyncio as asyncio_framework
from motor.motor_asyncio import AsyncIOMotorClient
from motor.motor_tornado import MotorClient
from motor.testing import free_port
from test.support import DB_NAME, FLAVORS_BY_NAME, TORNADO, Flavor

#: The most a 1 ms timer may be late while Motor works; generous for a shared 2-core machine,
#: far below the 2 s a blocking server selection would cost.
MAX_TICK_DELAY = 0.050

FLAVORS = FLAVORS_BY_NAME


def fail_point(sync_client: MongoClient[Any], mode: Any, **data: Any) -> None:
    command: dict[str, Any] = {"configureFailPoint": "failCommand", "mode": mode}
    if data:
        command["data"] = data
    sync_client.admin.command(command)


@pytest.fixture
def block_find(sync_client: MongoClient[Any]) -> Iterator[Callable[[int], None]]:
    """``block_find(ms)``: make every ``find`` wait ``ms`` on the server; off after the test."""

    def block(ms: int) -> None:
        fail_point(sync_client, "alwaysOn", failCommands=["find"], blockConnection=True, blockTimeMS=ms)

    try:
        yield block
    finally:
        fail_point(sync_client, "off")


# ---------------------------------------------------------------------------------------------
# (a) The loop is never blocked
# ---------------------------------------------------------------------------------------------


class Ticker:
    """Runs a 1 ms timer on the loop and records how late each tick is."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._stop = False
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while not self._stop:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            self.delays.append(time.perf_counter() - start - 0.001)

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.ensure_future(self._run())
        await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._stop = True
        assert self._task is not None
        await self._task

    @property
    def max_delay(self) -> float:
        return max(self.delays)


def read_selection_properties(client: Any) -> None:
    """The properties PyMongo computes by waiting for server selection: none may wait here."""
    assert client.address is None
    assert client.is_primary is False
    assert client.is_mongos is False
    assert client.primary is None
    assert client.secondaries == set()
    assert client.arbiters == set()
    assert client.nodes == frozenset()
    assert client.topology_description is not None


async def sweep_unreachable_server(flavor: Flavor) -> float:
    """Make every call that waits for server selection; return the ticker's largest delay."""
    async with Ticker() as ticker:
        client = flavor.Client(f"mongodb://127.0.0.1:{free_port()}", serverSelectionTimeoutMS=2000)
        read_selection_properties(client)
        coll = client[DB_NAME].unreachable
        calls: dict[str, Awaitable[Any]] = {
            "get_address": client.get_address(),
            "get_is_primary": client.get_is_primary(),
            "get_is_mongos": client.get_is_mongos(),
            "server_info": client.server_info(),
            "list_database_names": client.list_database_names(),
            "find_one": coll.find_one(),
            "insert_one": coll.insert_one({}),
            "find().to_list": coll.find().to_list(),
            "aggregate().next": coll.aggregate([]).next(),
            "watch().next": coll.watch().next(),
        }
        started = time.monotonic()
        gathered = asyncio.gather(*calls.values(), return_exceptions=True)
        await asyncio.sleep(0.5)
        # While PyMongo's monitors try to connect and the calls wait, the properties still answer.
        read_selection_properties(client)
        results = dict(zip(calls, await gathered, strict=True))
        elapsed = time.monotonic() - started
        await client.close()

    for name, result in results.items():
        assert isinstance(result, ServerSelectionTimeoutError), f"{name}: {result!r}"
    assert 1.5 < elapsed < 10, elapsed
    print(f"max tick delay {ticker.max_delay * 1000:.1f} ms over {len(ticker.delays)} ticks")
    return ticker.max_delay


async def test_unreachable_server_never_blocks_the_loop(flavor: Flavor) -> None:
    # A call that blocked the loop would do so in every sweep; other processes on a busy machine
    # can delay the ticker in one sweep, so a sweep is tried again up to twice.
    delays = []
    for _ in range(3):
        delays.append(await sweep_unreachable_server(flavor))
        if delays[-1] <= MAX_TICK_DELAY:
            break
    assert min(delays) <= MAX_TICK_DELAY, (
        f"the loop was blocked for {[round(d * 1000, 1) for d in delays]} ms"
    )


async def test_close_does_not_block_the_loop(flavor: Flavor, mongodb_uri: str) -> None:
    client = flavor.Client(mongodb_uri)
    await client[DB_NAME].close_test.find_one()
    async with Ticker() as ticker:
        closing = client.close()
        assert asyncio.isfuture(closing)
        await closing
    print(f"max tick delay {ticker.max_delay * 1000:.1f} ms over {len(ticker.delays)} ticks")
    assert ticker.max_delay <= MAX_TICK_DELAY, f"{ticker.max_delay * 1000:.1f} ms"
    with pytest.raises(pymongo.errors.InvalidOperation):
        await client[DB_NAME].close_test.find_one()


# ---------------------------------------------------------------------------------------------
# (b) An unpinned client follows the running loop
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_clients(mongodb_uri: str) -> Iterator[dict[str, Any]]:
    """One unpinned client per framework, shared by the tests of this module (each has its loop)."""
    clients = {name: flavor.Client(mongodb_uri) for name, flavor in FLAVORS.items()}
    yield clients
    for client in clients.values():
        client.close()  # No loop runs here: PyMongo's close runs at once.


async def round_trip(client: Any, marker: str) -> int:
    coll = client[DB_NAME].successive_loops
    loop = asyncio.get_running_loop()
    io_loop = client.get_io_loop()
    assert getattr(io_loop, "asyncio_loop", io_loop) is loop
    await coll.insert_one({"marker": marker})
    return int(await coll.count_documents({"marker": marker}))


@pytest.mark.parametrize("name", FLAVORS)
def test_unpinned_client_in_successive_asyncio_runs(
    shared_clients: dict[str, Any], name: str, sync_client: MongoClient[Any]
) -> None:
    marker = f"asyncio.run-{name}"
    sync_client[DB_NAME].successive_loops.delete_many({"marker": marker})
    client = shared_clients[name]
    assert asyncio.run(round_trip(client, marker)) == 1
    assert asyncio.run(round_trip(client, marker)) == 2


@pytest.mark.parametrize("name", FLAVORS)
@pytest.mark.parametrize("test_number", [1, 2])
async def test_unpinned_client_in_each_test_loop(
    shared_clients: dict[str, Any], name: str, test_number: int, sync_client: MongoClient[Any]
) -> None:
    # pytest-asyncio gives each test its own loop: the module's client works in all of them.
    marker = f"test-loop-{name}-{test_number}"
    sync_client[DB_NAME].successive_loops.delete_many({"marker": marker})
    assert await round_trip(shared_clients[name], marker) == 1


# ---------------------------------------------------------------------------------------------
# (c) A pinned client, and loops of the wrong framework
# ---------------------------------------------------------------------------------------------


def new_loop(flavor: Flavor) -> tuple[Any, Callable[[Callable[[], Awaitable[Any]]], Any], Callable[[], None]]:
    """A new, not running, loop of the framework; how to run a coroutine on it; how to close it."""
    if flavor is TORNADO:
        io_loop = IOLoop(make_current=False)
        return io_loop, io_loop.run_sync, io_loop.close
    loop = asyncio.new_event_loop()
    return loop, lambda fn: loop.run_until_complete(fn()), loop.close


def test_pinned_client_refuses_another_running_loop(flavor: Flavor, mongodb_uri: str) -> None:
    io_loop, run, close_loop = new_loop(flavor)
    try:
        client = flavor.Client(mongodb_uri, io_loop=io_loop)
        coll = client[DB_NAME].pinned
        assert client.io_loop is io_loop
        assert run(lambda: coll.find_one({"_id": "none"})) is None  # Works on its own loop.

        async def elsewhere() -> None:
            with pytest.raises(RuntimeError, match=r"bound to io_loop .* different event loop"):
                coll.find_one()
            with pytest.raises(RuntimeError, match="different event loop"):
                coll.find().to_list()

        asyncio.run(elsewhere())
        assert run(lambda: coll.find_one({"_id": "none"})) is None  # Still works on its own.
        run(client.aclose)
    finally:
        close_loop()


def test_io_loop_of_the_wrong_framework_is_refused(mongodb_uri: str) -> None:
    loop = asyncio.new_event_loop()
    io_loop = IOLoop(make_current=False)
    try:
        with pytest.raises(TypeError, match="IOLoop"):
            MotorClient(mongodb_uri, io_loop=loop)
        with pytest.raises(TypeError, match="asyncio event loop"):
            AsyncIOMotorClient(mongodb_uri, io_loop=io_loop)
        for client_class in (MotorClient, AsyncIOMotorClient):
            with pytest.raises(TypeError, match="io_loop"):
                client_class(mongodb_uri, io_loop="loop")
    finally:
        io_loop.close()
        loop.close()


# ---------------------------------------------------------------------------------------------
# (d) No loop at all
# ---------------------------------------------------------------------------------------------


NO_LOOP = r"needs an asyncio event loop|needs a Tornado IOLoop"


def test_call_outside_any_loop_raises(flavor: Flavor, mongodb_uri: str) -> None:
    # Python 3.11's policy would create a loop for the main thread unless one was set, even None.
    asyncio.set_event_loop(None)
    client = flavor.Client(mongodb_uri, connect=False)
    coll = client[DB_NAME].no_loop
    with pytest.raises(RuntimeError, match=NO_LOOP):
        coll.find_one()
    with pytest.raises(RuntimeError, match=NO_LOOP):
        coll.find().to_list()
    with pytest.raises(RuntimeError, match=NO_LOOP):
        client.list_database_names()

    # The same from a thread that never had a loop.
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            coll.insert_one({})
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(10)
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError), errors
    assert client.close() is None  # Without a loop, close runs at once.


# ---------------------------------------------------------------------------------------------
# (e) pymongo.timeout() reaches the worker thread
# ---------------------------------------------------------------------------------------------


async def test_pymongo_timeout_reaches_the_worker_thread(
    coll: Any, block_find: Callable[[int], None]
) -> None:
    await coll.insert_one({"_id": 1})
    block_find(500)
    started = time.monotonic()
    with pymongo.timeout(0.001), pytest.raises(PyMongoError) as raised:
        await coll.find_one()
    assert raised.value.timeout, repr(raised.value)
    assert time.monotonic() - started < 0.4
    # Outside the block no deadline applies: the blocked find waits and succeeds.
    assert await coll.find_one() == {"_id": 1}


# ---------------------------------------------------------------------------------------------
# (f) A call cancelled before a worker picks it up never runs
# ---------------------------------------------------------------------------------------------


async def test_call_cancelled_before_it_starts_never_runs(
    flavor: Flavor, mongodb_uri: str, sync_client: MongoClient[Any], block_find: Callable[[int], None]
) -> None:
    sync_coll = sync_client[DB_NAME].cancelled
    sync_coll.drop()
    sync_coll.insert_one({"_id": "blocker"})
    client = flavor.Client(mongodb_uri, max_workers=1)
    try:
        coll = client[DB_NAME].cancelled
        block_find(1000)
        slow = coll.find_one({"_id": "blocker"})  # Occupies the only worker for a second.
        await asyncio.sleep(0.1)
        doomed = coll.insert_one({"_id": "doomed"})
        kept = coll.insert_one({"_id": "kept"})  # Queued behind it, not cancelled: a control.
        doomed.cancel()
        assert await slow == {"_id": "blocker"}
        await kept
        assert doomed.cancelled()
        # distinct, not find, which the fail point blocks.
        assert sorted(sync_coll.distinct("_id")) == ["blocker", "kept"]
    finally:
        await client.aclose()


# ---------------------------------------------------------------------------------------------
# (g) fork
# ---------------------------------------------------------------------------------------------


def _in_child(flavor_name: str, uri: str, parent_client: Any) -> None:
    # Runs in the forked child; an exception makes its exit code 1.
    warnings.filterwarnings("ignore", message="MongoClient opened before fork")
    flavor = FLAVORS[flavor_name]
    pid = os.getpid()

    async def main() -> None:
        async with flavor.Client(uri) as client:
            coll = client[DB_NAME].fork
            result = await coll.insert_one({"pid": pid})
            assert (await coll.find_one({"_id": result.inserted_id}))["pid"] == pid
        # The parent's client, whose worker threads did not survive the fork, works too.
        assert await parent_client[DB_NAME].fork.count_documents({"pid": pid}) == 1
        # And so does the frameworks' shared pool, which the parent had used.
        loop = asyncio.get_running_loop()
        assert await asyncio_framework.run_on_executor(loop, os.getpid) == pid

    asyncio.run(asyncio.wait_for(main(), 30))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_clients_work_in_a_forked_child(flavor: Flavor, mongodb_uri: str) -> None:
    parent_client = flavor.Client(mongodb_uri)

    async def use_pools() -> None:
        await parent_client[DB_NAME].fork.find_one()
        await asyncio_framework.run_on_executor(asyncio.get_running_loop(), os.getpid)

    asyncio.run(use_pools())
    try:
        context = multiprocessing.get_context("fork")
        with warnings.catch_warnings():
            # Python 3.12+ warns that forking a process with threads may deadlock the child.
            warnings.simplefilter("ignore", DeprecationWarning)
            child = context.Process(target=_in_child, args=(flavor.name, mongodb_uri, parent_client))
            child.start()
        child.join(60)
        if child.is_alive():
            child.kill()
            child.join()
            pytest.fail("the forked child hung")
        assert child.exitcode == 0, f"the forked child failed (exit code {child.exitcode})"
    finally:
        parent_client.close()
