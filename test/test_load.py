"""Load: many concurrent operations finish, correctly, on a bounded number of threads.

``python -m test.soak`` is the long-running counterpart (memory growth over minutes).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient

from motor.testing import SecantusServer
from test.support import DB_NAME, Flavor

#: Threads PyMongo runs for a one-server topology (a monitor, an RTT monitor, the periodic
#: executor), with room for the event loop's own and for threads of earlier tests still exiting.
PYMONGO_THREADS_AND_MARGIN = 10


@pytest.fixture
def load_uri() -> Iterator[str]:
    """``MONGODB_URI``, else a SecantusDB of this test's own: it slows down as writes accumulate
    (the same 10,000 operations take 11 s on a new server, 27 s after one such run), so each load
    test starts from an empty server."""
    uri = os.environ.get("MONGODB_URI")
    if uri:
        yield uri
        return
    with SecantusServer() as server:
        yield server.uri


@pytest.fixture
def load_sync_client(load_uri: str) -> Iterator[MongoClient[Any]]:
    client: MongoClient[Any] = MongoClient(load_uri)
    yield client
    client.close()


class ThreadPeak:
    """Samples ``threading.active_count()`` on the loop every few milliseconds."""

    def __init__(self) -> None:
        self.peak = threading.active_count()
        self._task: asyncio.Future[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, threading.active_count())
            await asyncio.sleep(0.005)

    def __enter__(self) -> ThreadPeak:
        self._task = asyncio.ensure_future(self._run())
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def test_10000_operations_from_1000_tasks(
    flavor: Flavor, load_uri: str, load_sync_client: MongoClient[Any]
) -> None:
    max_workers = 50
    baseline = threading.active_count()
    client = flavor.Client(load_uri, maxPoolSize=max_workers, max_workers=max_workers)
    coll = client[DB_NAME][f"load_{uuid.uuid4().hex[:10]}"]

    async def worker(task: int) -> None:
        # Ten operations, each checked: a lost or crossed result would fail here.
        ids = [f"{task}-{n}" for n in range(4)]
        for _id in ids:
            result = await coll.insert_one({"_id": _id, "task": task, "n": 0})
            assert result.inserted_id == _id
        assert await coll.find_one({"_id": ids[0]}) == {"_id": ids[0], "task": task, "n": 0}
        result = await coll.update_one({"_id": ids[1]}, {"$inc": {"n": 1}})
        assert result.modified_count == 1
        docs = await coll.find({"task": task}).sort("_id").to_list()
        assert [d["_id"] for d in docs] == ids
        assert sum(d["n"] for d in docs) == 1
        assert await coll.count_documents({"task": task}) == 4
        assert (await coll.delete_one({"_id": ids[3]})).deleted_count == 1

    try:
        await coll.create_index("task")
        start = time.monotonic()
        with ThreadPeak() as threads:
            async with asyncio.timeout(100):
                await asyncio.gather(*(worker(task) for task in range(1000)))
        elapsed = time.monotonic() - start
        assert await coll.count_documents({}) == 3000
        print(
            f"\n{flavor}: 10,000 operations from 1,000 tasks in {elapsed:.1f} s "
            f"({10_000 / elapsed:.0f}/s); threads {baseline} before, peak {threads.peak}"
        )
        assert threads.peak <= baseline + max_workers + PYMONGO_THREADS_AND_MARGIN
    finally:
        load_sync_client[DB_NAME].drop_collection(coll.name)
        await client.aclose()


async def test_more_workers_than_connections(
    flavor: Flavor, load_uri: str, load_sync_client: MongoClient[Any]
) -> None:
    # Workers wait for one of two connections: slower, never stuck.
    tasks = 300
    baseline = threading.active_count()
    client = flavor.Client(load_uri, maxPoolSize=2, max_workers=8)
    coll = client[DB_NAME][f"load_{uuid.uuid4().hex[:10]}"]

    async def worker(task: int) -> None:
        await coll.insert_one({"_id": task})
        assert await coll.find_one({"_id": task}) == {"_id": task}
        assert (await coll.update_one({"_id": task}, {"$set": {"done": True}})).modified_count == 1

    try:
        with ThreadPeak() as threads:
            async with asyncio.timeout(100):
                await asyncio.gather(*(worker(task) for task in range(tasks)))
        assert await coll.count_documents({"done": True}) == tasks
        assert threads.peak <= baseline + 8 + PYMONGO_THREADS_AND_MARGIN
    finally:
        load_sync_client[DB_NAME].drop_collection(coll.name)
        await client.aclose()
