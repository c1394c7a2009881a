"""The hop micro-benchmark: what one round trip from the event loop to a worker thread and back costs.

No server, no I/O: each call runs a no-op function on a thread and awaits its result on the loop.
The variants (:data:`benchmarks.workloads.HOP_VARIANTS`):

- ``floor``: the bare minimum: one dedicated worker thread reading a :class:`queue.SimpleQueue`,
  handing each result back with ``loop.call_soon_threadsafe(future.set_result, result)``;
- ``to_thread``: :func:`asyncio.to_thread` (the loop's default executor, a context copy per call);
- ``engine``: Motor's engine, ``client._engine.run(noop)``, on the engine of an
  ``AsyncIOMotorClient`` that never connects (so it is built exactly as the client builds it);
- ``stack``: Motor's whole call path, ``await collection.find_one({"_id": i})``, where the PyMongo
  collection's ``find_one`` is replaced by a no-op: argument unwrapping, session lookup and engine.

An iteration is 10,000 calls (times ``--scale``), awaited one at a time by 1 or N tasks
(``Hop{N}Tasks``). The runner prints wall and CPU time per call and their ratios to the floor's:
the engine's distance to the floor is the figure to watch. Under concurrency the floor wakes the
loop once per result, where Motor's engine wakes it once for every result that arrived meanwhile:
there the floor is a reference point rather than a lower bound.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Hop", "make_hop"]


def _noop(*args: Any, **kwargs: Any) -> None:
    return None


class _Floor:
    """One worker thread, a SimpleQueue in and ``call_soon_threadsafe`` back: nothing else."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="hop-floor", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        get = self._queue.get
        while True:
            item = get()
            if item is None:
                return
            loop, future, fn = item
            loop.call_soon_threadsafe(future.set_result, fn())

    def run(self, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((loop, future, fn))
        return future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()


class Hop:
    """One variant's awaitable no-op call, and its clean-up."""

    def __init__(self, call: Callable[[int], Awaitable[Any]], close: Callable[[], Any]) -> None:
        self.call = call
        self.close = close


def make_hop(variant: str) -> Hop:
    """Build the no-op call of ``variant`` (inside the running loop)."""
    if variant == "floor":
        floor = _Floor()
        return Hop(lambda i: floor.run(_noop), floor.close)
    if variant == "to_thread":
        return Hop(lambda i: asyncio.to_thread(_noop), _noop)
    from motor.motor_asyncio import AsyncIOMotorClient

    # connect=False: nothing reaches the (absent) server, and no background connect competes for
    # the worker threads.
    client: Any = AsyncIOMotorClient("mongodb://127.0.0.1:1/", connect=False)
    if variant == "engine":
        run = client._engine.run
        return Hop(lambda i: run(_noop), client.close)
    if variant == "stack":
        collection = client.perftest.hop
        collection.delegate.find_one = _noop
        find_one = collection.find_one
        return Hop(lambda i: find_one({"_id": i}), client.close)
    raise KeyError(variant)


async def run_part(hop: Hop, part: range) -> None:
    """Await one call after another, for each op number of ``part``."""
    call = hop.call
    for i in part:
        await call(i)
