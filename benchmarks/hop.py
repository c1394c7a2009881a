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

Three more floors measure loop-side ideas against the floor:

- ``floor_coalesced``: the worker appends each result to a deque and wakes the loop with
  ``call_soon_threadsafe`` only when the deque was empty; the woken loop resolves every result in it
  (the coalescing of Motor's mailbox, on the floor);
- ``floor_eventfd``: the same, but the worker wakes the loop by writing an :func:`os.eventfd`
  registered with ``loop.add_reader`` instead of through the loop's self-pipe (Linux only);
- ``floor_one_turn``: the floor, but the call returns a Future-like object (:class:`_OneTurnFuture`)
  that runs its done callbacks as it resolves: the awaiting Task resumes in the loop turn that
  received the result, where an :class:`asyncio.Future` schedules the Task's wake-up with
  ``call_soon``, for the next turn.

An iteration is 10,000 calls (times ``--scale``), awaited one at a time by 1 or N tasks
(``Hop{N}Tasks``). The runner prints wall and CPU time per call and their ratios to the floor's:
the engine's distance to the floor is the figure to watch. Under concurrency the floor wakes the
loop once per result, where Motor's engine wakes it once for every result that arrived meanwhile:
there the floor is a reference point rather than a lower bound, and ``floor_coalesced`` the floor
that wakes the loop as the engine does.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import queue
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Generator
from functools import partial
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


class _OneTurnFuture:
    """Just enough of :class:`asyncio.Future` for a Task to await it, resuming the Task at once.

    A Task accepts any object it is yielded that has ``_asyncio_future_blocking``, ``get_loop()``,
    ``add_done_callback()``, ``result()`` and ``cancel()`` (``Task.__step`` in ``asyncio/tasks.py``,
    and its C twin); ``gather()`` and ``wait()`` also call ``exception()`` and
    ``remove_done_callback()``. An :class:`asyncio.Future` hands its callbacks to ``loop.call_soon``
    (``Future.__schedule_callbacks``): the Task resumes one loop turn after the result arrives.
    This one calls them as it resolves, from the callback the worker scheduled: no task is running
    then, so the Task may step.
    """

    __slots__ = ("_asyncio_future_blocking", "_callbacks", "_loop", "_result", "_state")

    _PENDING, _FINISHED, _CANCELLED = 0, 1, 2

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._state = self._PENDING
        self._result: Any = None
        self._callbacks: list[tuple[Callable[[Any], object], contextvars.Context]] = []
        self._asyncio_future_blocking = False

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def done(self) -> bool:
        return self._state != self._PENDING

    def cancelled(self) -> bool:
        return self._state == self._CANCELLED

    def result(self) -> Any:
        if self._state == self._CANCELLED:
            raise asyncio.CancelledError
        if self._state == self._PENDING:
            raise asyncio.InvalidStateError("result is not set")
        return self._result

    def exception(self) -> BaseException | None:
        self.result()
        return None

    def add_done_callback(
        self, fn: Callable[[Any], object], *, context: contextvars.Context | None = None
    ) -> None:
        if context is None:
            context = contextvars.copy_context()
        if self._state == self._PENDING:
            self._callbacks.append((fn, context))
        else:
            self._loop.call_soon(fn, self, context=context)

    def remove_done_callback(self, fn: Callable[[Any], object]) -> int:
        kept = [(f, context) for f, context in self._callbacks if f != fn]
        removed, self._callbacks = len(self._callbacks) - len(kept), kept
        return removed

    def cancel(self, msg: Any = None) -> bool:
        if self._state != self._PENDING:
            return False
        self._state = self._CANCELLED
        # Task.cancel() calls this from inside whatever runs, maybe another task's step: the
        # callbacks must wait for their own turn, as an asyncio.Future's do.
        callbacks, self._callbacks = self._callbacks, []
        for fn, context in callbacks:
            self._loop.call_soon(fn, self, context=context)
        return True

    def resolve(self, result: Any) -> None:
        """Set the result and resume the awaiting Task now (a loop callback, outside any task)."""
        if self._state != self._PENDING:
            return
        self._state = self._FINISHED
        self._result = result
        callbacks, self._callbacks = self._callbacks, []
        for fn, context in callbacks:
            context.run(fn, self)

    def __await__(self) -> Generator[Any, None, Any]:
        if self._state == self._PENDING:
            self._asyncio_future_blocking = True
            yield self
        return self.result()

    __iter__ = __await__


class _OneTurnFloor(_Floor):
    """The floor, resolving a :class:`_OneTurnFuture` instead of an :class:`asyncio.Future`."""

    def _work(self) -> None:
        get = self._queue.get
        while True:
            item = get()
            if item is None:
                return
            loop, future, fn = item
            loop.call_soon_threadsafe(future.resolve, fn())

    def run(self, fn: Callable[[], Any]) -> _OneTurnFuture:  # type: ignore[override]
        loop = asyncio.get_running_loop()
        future = _OneTurnFuture(loop)
        self._queue.put((loop, future, fn))
        return future


class _CoalescedFloor:
    """One worker thread that wakes the loop only for a result that finds the deque of results empty.

    ``floor_coalesced`` wakes it with ``call_soon_threadsafe``, ``floor_eventfd`` (:class:`_EventfdFloor`)
    by writing an eventfd; only the wake-up differs.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._results: deque[tuple[asyncio.Future[Any], Any]] = deque()
        self._wake = self._waker()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="hop-floor", daemon=True)
        self._thread.start()

    def _waker(self) -> Callable[[], Any]:
        return partial(self._loop.call_soon_threadsafe, self._drain)

    def _work(self) -> None:
        get, results, wake = self._queue.get, self._results, self._wake
        while True:
            item = get()
            if item is None:
                return
            future, fn = item
            results.append((future, fn()))
            # Appended first, counted after: with one producer, a result that finds another in
            # the deque is drained with it, since _drain() stops only on an empty deque.
            if len(results) == 1:
                wake()

    def _drain(self) -> None:
        results = self._results
        pop = results.popleft
        while results:
            future, result = pop()
            if not future.done():
                future.set_result(result)

    def run(self, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        future = self._loop.create_future()
        self._queue.put((future, fn))
        return future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()


class _EventfdFloor(_CoalescedFloor):
    """:class:`_CoalescedFloor`, waking the loop through an eventfd watched by ``loop.add_reader``."""

    def __init__(self) -> None:
        if not hasattr(os, "eventfd"):
            raise NotImplementedError("floor_eventfd needs os.eventfd (Linux, Python >= 3.10): skipped")
        self._fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        super().__init__()
        self._loop.add_reader(self._fd, self._on_readable)

    def _waker(self) -> Callable[[], Any]:
        return partial(os.eventfd_write, self._fd, 1)

    def _on_readable(self) -> None:
        # Reset the counter before draining: a write that lands after the reset wakes the loop
        # again (at worst to find the deque empty), never is lost.
        os.eventfd_read(self._fd)
        self._drain()

    def close(self) -> None:
        super().close()
        self._loop.remove_reader(self._fd)
        os.close(self._fd)


class Hop:
    """One variant's awaitable no-op call, and its clean-up."""

    def __init__(self, call: Callable[[int], Awaitable[Any]], close: Callable[[], Any]) -> None:
        self.call = call
        self.close = close


_FLOORS: dict[str, Callable[[], _Floor | _CoalescedFloor]] = {
    "floor": _Floor,
    "floor_coalesced": _CoalescedFloor,
    "floor_eventfd": _EventfdFloor,
    "floor_one_turn": _OneTurnFloor,
}


def make_hop(variant: str) -> Hop:
    """Build the no-op call of ``variant`` (inside the running loop)."""
    if variant in _FLOORS:
        floor = _FLOORS[variant]()
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
