"""Shutdown: closing a client with work in flight, closing the loop, leaving the interpreter, fork.

The loop, exit and fork cases run in a subprocess, whose exit code, duration and stderr are checked:
nothing may hang, and nothing may print "Event loop is closed", "Exception in thread" or a
traceback.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import InvalidOperation, PyMongoError

from test.support import DB_NAME, Flavor

ROOT = Path(__file__).resolve().parent.parent

NOISE = ("Event loop is closed", "Exception in thread", "Traceback", "Exception ignored")


def run_script(source: str, *args: str, timeout: float = 30.0) -> tuple[int, str, str, float]:
    """Run ``source`` in a fresh interpreter; return (exit code, stdout, stderr, seconds)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )
    return process.returncode, process.stdout, process.stderr, time.monotonic() - start


def assert_quiet(stderr: str) -> None:
    for noise in NOISE:
        assert noise not in stderr, stderr
    assert stderr == ""


# Imports the classes of the framework named in argv[1]; ``new_loop()`` makes a loop to pin to.
PRELUDE = """
    import asyncio, sys, time
    framework = sys.argv[1]
    if framework == "asyncio":
        from motor.motor_asyncio import AsyncIOMotorClient as Client
    else:
        from motor.motor_tornado import MotorClient as Client
"""


# ---------------------------------------------------------------------------------------------
# close() and aclose() with operations in flight
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("closer", ["close", "aclose"])
async def test_close_with_operations_in_flight(
    flavor: Flavor, fail_points: MongoClient[Any], mongodb_uri: str, closer: str
) -> None:
    app_name = f"shutdown-{uuid.uuid4().hex[:12]}"
    client = flavor.Client(mongodb_uri, appname=app_name, max_workers=2)
    coll = client[DB_NAME][f"shutdown_{uuid.uuid4().hex[:10]}"]
    await client.admin.command("ping")
    fail_points.admin.command(
        "configureFailPoint",
        "failCommand",
        mode={"times": 2},
        data={"failCommands": ["find"], "appName": app_name, "blockConnection": True, "blockTimeMS": 400},
    )
    try:
        # Two finds hold both worker threads; the inserts wait in the queue.
        in_flight = [coll.find_one() for _ in range(2)] + [coll.insert_one({"i": i}) for i in range(6)]
        await asyncio.sleep(0.1)
        start = time.monotonic()
        async with asyncio.timeout(10):
            if closer == "aclose":
                await client.aclose()
            else:
                closing = client.close()
                assert closing is not None
                await closing
            results = await asyncio.gather(*in_flight, return_exceptions=True)
        elapsed = time.monotonic() - start
    finally:
        fail_points.admin.command("configureFailPoint", "failCommand", mode="off")
        fail_points[DB_NAME].drop_collection(coll.name)
    # Each call completed, or failed with PyMongo's error for a closed client: none hangs.
    for result in results:
        if isinstance(result, BaseException):
            assert isinstance(result, PyMongoError), repr(result)
            assert isinstance(result, InvalidOperation), repr(result)
    assert elapsed < 5, elapsed
    with pytest.raises(InvalidOperation):
        await coll.find_one()


async def test_close_twice_and_after_close_are_harmless(flavor: Flavor, mongodb_uri: str) -> None:
    client = flavor.Client(mongodb_uri)
    await client.admin.command("ping")
    await client.aclose()
    await client.aclose()
    closing = client.close()
    if closing is not None:
        await closing
    with pytest.raises(InvalidOperation):
        client[DB_NAME].c.find_one()


# ---------------------------------------------------------------------------------------------
# The event loop closes while a worker thread is still busy
# ---------------------------------------------------------------------------------------------

LOOP_CLOSED = (
    PRELUDE
    + """
    uri = sys.argv[2]
    loop = asyncio.new_event_loop()
    if framework == "asyncio":
        io_loop = loop
    else:
        from tornado.platform.asyncio import AsyncIOLoop
        io_loop = AsyncIOLoop(asyncio_loop=loop)
    client = Client(uri, io_loop=io_loop, serverSelectionTimeoutMS=1500)

    async def start():
        # The worker waits for a server that is not there; nobody will receive its error.
        return client.motor_test.c.find_one()

    pending = loop.run_until_complete(start())
    loop.run_until_complete(asyncio.sleep(0.2))
    loop.close()
    print("closed", flush=True)
"""
)


async def test_loop_closed_while_worker_runs(flavor: Flavor) -> None:
    from motor.testing import free_port

    code, out, err, elapsed = run_script(
        LOOP_CLOSED, flavor.name, f"mongodb://127.0.0.1:{free_port()}/", timeout=30
    )
    assert code == 0, err
    assert out.strip() == "closed"
    assert_quiet(err)
    # The process waits for the worker (1.5 s of server selection), not longer.
    assert elapsed < 6, elapsed


# ---------------------------------------------------------------------------------------------
# Interpreter exit with an open client
# ---------------------------------------------------------------------------------------------

EXIT_IDLE = (
    PRELUDE
    + """
    uri = sys.argv[2]

    async def main():
        client = Client(uri)
        await client.motor_test.shutdown_exit.insert_one({})
        await client.motor_test.shutdown_exit.find_one()
        cursor = client.motor_test.shutdown_exit.find().batch_size(1)
        await cursor.next()  # A cursor left open on the server.
        print("done", flush=True)
        return client, cursor  # Never closed.

    kept = asyncio.run(main())
"""
)


async def test_interpreter_exit_with_open_client(
    flavor: Flavor, mongodb_uri: str, sync_client: MongoClient[Any]
) -> None:
    try:
        code, out, err, elapsed = run_script(EXIT_IDLE, flavor.name, mongodb_uri)
    finally:
        sync_client[DB_NAME].drop_collection("shutdown_exit")
    assert code == 0, err
    assert out.strip() == "done"
    assert_quiet(err)
    assert elapsed < 8, elapsed


EXIT_IN_FLIGHT = (
    PRELUDE
    + """
    uri = sys.argv[2]

    async def main():
        client = Client(uri)  # The default serverSelectionTimeoutMS: 30 s.
        task = asyncio.ensure_future(client.motor_test.c.find_one())
        await asyncio.sleep(0.2)
        print("leaving", flush=True)
        # asyncio.run cancels the task; the worker thread still waits for a server.

    asyncio.run(main())
"""
)


async def test_interpreter_exit_with_an_operation_waiting_for_a_server(flavor: Flavor) -> None:
    from motor.testing import free_port

    code, out, err, _ = run_script(
        EXIT_IN_FLIGHT, flavor.name, f"mongodb://127.0.0.1:{free_port()}/", timeout=8
    )
    assert code == 0, err
    assert out.strip() == "leaving"
    assert_quiet(err)


# ---------------------------------------------------------------------------------------------
# fork
# ---------------------------------------------------------------------------------------------

FORK = (
    PRELUDE
    + """
    import os, warnings
    uri, tag = sys.argv[2], sys.argv[3]
    # Python 3.12+ warns about fork() in a process with threads: this test does it on purpose.
    warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)

    async def use(client, who):
        coll = client.motor_test.shutdown_fork
        await coll.insert_one({"tag": tag, "who": who})
        return await coll.count_documents({"tag": tag, "who": who})

    parent = Client(uri)
    assert asyncio.run(use(parent, "parent")) == 1  # The parent's client has threads running.
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            child = Client(uri)
            code = 0 if asyncio.run(use(child, "child")) == 1 else 4
            child.close()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    print("child", os.waitstatus_to_exitcode(status), flush=True)
    print("parent", asyncio.run(use(parent, "parent")), flush=True)
    parent.close()
"""
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
async def test_child_after_fork_creates_and_uses_a_client(
    flavor: Flavor, mongodb_uri: str, sync_client: MongoClient[Any]
) -> None:
    tag = uuid.uuid4().hex
    try:
        code, out, err, _ = run_script(FORK, flavor.name, mongodb_uri, tag)
        assert code == 0, err
        assert out.split() == ["child", "0", "parent", "2"]
        assert_quiet(err)
        docs = sync_client[DB_NAME].shutdown_fork.find({"tag": tag})
        assert sorted(d["who"] for d in docs) == ["child", "parent", "parent"]
    finally:
        sync_client[DB_NAME].shutdown_fork.delete_many({"tag": tag})


FORK_IN_RUNS = """
    import os, sys, warnings
    framework, backend, uri, tag = sys.argv[1:5]
    warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
    # PyMongo's, when the child uses the client it inherited, as this test does on purpose.
    warnings.filterwarnings("ignore", message="MongoClient opened before fork")
    if framework == "trio":
        import trio
        from motor.motor_trio import TrioMotorClient as Client
        run = trio.run
    else:
        import anyio
        from motor.motor_anyio import AnyIOMotorClient as Client

        def run(main):
            return anyio.run(main, backend=backend)

    async def use(client, who):
        coll = client.motor_test.shutdown_fork
        await coll.insert_one({"tag": tag, "who": who})
        return await coll.count_documents({"tag": tag, "who": who})

    parent = Client(uri)

    async def in_parent():
        return await use(parent, "parent")

    assert run(in_parent) == 1  # The parent's client has threads running.
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            async def in_child():
                async with Client(uri) as child:
                    mine = await use(child, "child")
                # The parent's client, whose worker threads did not survive the fork, works too.
                inherited = await use(parent, "inherited")
                return mine == inherited == 1

            code = 0 if run(in_child) else 4
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    print("child", os.waitstatus_to_exitcode(status), flush=True)
    print("parent", run(in_parent), flush=True)
    parent.close()
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
@pytest.mark.parametrize(
    ("framework", "backend"),
    [("trio", "trio"), ("anyio", "asyncio"), ("anyio", "trio")],
    ids=["trio", "anyio-asyncio", "anyio-trio"],
)
def test_fork_in_trio_and_anyio_runs(
    framework: str, backend: str, mongodb_uri: str, sync_client: MongoClient[Any]
) -> None:
    # The asyncio and Tornado flavors run the same in the test above; Twisted is left out: a reactor
    # does not survive a fork, and a process runs one reactor.
    tag = uuid.uuid4().hex
    try:
        code, out, err, _ = run_script(FORK_IN_RUNS, framework, backend, mongodb_uri, tag)
        assert code == 0, err
        assert out.split() == ["child", "0", "parent", "2"]
        assert_quiet(err)
        docs = sync_client[DB_NAME].shutdown_fork.find({"tag": tag})
        assert sorted(d["who"] for d in docs) == ["child", "inherited", "parent", "parent"]
    finally:
        sync_client[DB_NAME].shutdown_fork.delete_many({"tag": tag})


def test_close_before_the_background_connect_stays_closed(
    flavor: Flavor, mongodb_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client connects on a worker thread; for a mongodb+srv:// URI that connect resolves the
    # hosts and builds a new topology. Slow it down so that close() (at once here, outside any loop)
    # overtakes it, and take PyMongo's SRV branch with the DNS lookup left out (no DNS here): the
    # connect must not open a new topology for the closed client.
    from pymongo.synchronous.mongo_client import MongoClient as PyMongoClient

    connect = PyMongoClient._get_topology

    def slow_srv_connect(self: Any) -> Any:
        time.sleep(0.3)
        self._resolve_srv_info["is_srv"] = True
        return connect(self)

    monkeypatch.setattr(PyMongoClient, "_get_topology", slow_srv_connect)
    monkeypatch.setattr(PyMongoClient, "_resolve_srv", lambda self: None)
    client = flavor.Client(mongodb_uri)
    time.sleep(0.05)  # The worker is now inside the slow connect.
    client.close()
    time.sleep(0.5)
    assert not client.delegate._topology._opened
    client.delegate._topology.close()  # Whatever happened, leave no monitor running.
