"""Running PyMongo calls on worker threads and delivering their results to an event loop.

This is the one place where Motor crosses between the event loop and its thread pool. Every
awaitable method of every generated class ends up in :meth:`Engine.run`, which

- finds the event loop the call belongs to (the client's pinned loop, or the running one),
- copies the caller's :mod:`contextvars` context, so that ``pymongo.timeout()`` and
  ``ClientSession.bind()`` reach the worker thread,
- submits the PyMongo call to the client's thread pool, skipping it if the caller cancelled
  before a worker picked it up,
- and resolves an asyncio Future on the loop thread with the result or the exception.

A Tornado Future is an asyncio Future since Tornado 5, so one implementation serves both frameworks.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import os
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from pymongo.errors import InvalidOperation

from motor.frameworks.interface import Framework

_T = TypeVar("_T")

_log = logging.getLogger("motor")

#: Environment variable giving the default number of worker threads per client.
MAX_WORKERS_ENV = "MOTOR_MAX_WORKERS"

#: The thread count used when neither ``max_workers`` nor the environment give one and the client's
#: connection pool is unbounded.
DEFAULT_MAX_WORKERS = 100


def default_max_workers(max_pool_size: float | None) -> int:
    """Return the thread pool size for a client whose connection pool holds ``max_pool_size``.

    A worker thread waiting for a connection does nothing useful, so by default a client has as many
    worker threads as connections; ``MOTOR_MAX_WORKERS`` overrides this.

    :raises ValueError: if ``MOTOR_MAX_WORKERS`` is set to something other than a positive integer.
    """
    env = os.environ.get(MAX_WORKERS_ENV)
    if env:
        return validate_max_workers(env, MAX_WORKERS_ENV)
    if max_pool_size:
        return int(max_pool_size)
    return DEFAULT_MAX_WORKERS


def validate_max_workers(value: object, name: str = "max_workers") -> int:
    """Return ``value`` as a positive thread count; a string is accepted from the environment only.

    :raises ValueError: naming ``name`` if the value is not a positive integer.
    """
    if isinstance(value, str) and name == MAX_WORKERS_ENV and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
    return value


def _resolve(
    future: asyncio.Future[Any], value: Any, failed: bool, on_cancel: Callable[[], Any] | None
) -> None:
    # Runs on the loop thread, where the Future's state is authoritative.
    if future.cancelled():
        if on_cancel is not None:
            on_cancel()
        return
    if failed:
        future.set_exception(value)
    else:
        future.set_result(value)


class _Mailbox:
    """Results bound for one event loop, delivered in one wake-up however many arrive together.

    Waking a loop from another thread costs a write to its self-pipe and a turn of the loop; under
    concurrency many workers finish at once, and they share that cost.
    """

    __slots__ = ("__weakref__", "_items", "_lock", "_loop", "_scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: list[tuple[asyncio.Future[Any], Any, bool, Callable[[], Any] | None]] = []
        self._lock = threading.Lock()
        self._scheduled = False

    def put(
        self, future: asyncio.Future[Any], value: Any, failed: bool, on_cancel: Callable[[], Any] | None
    ) -> None:
        """Deliver an outcome (worker thread)."""
        with self._lock:
            self._items.append((future, value, failed, on_cancel))
            if self._scheduled:
                return
            self._scheduled = True
        # A RuntimeError means the loop was closed while the worker ran: nobody can await the result.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            items, self._items = self._items, []
            self._scheduled = False
        for item in items:
            _resolve(*item)


_mailboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Mailbox] = weakref.WeakKeyDictionary()


def mailbox(loop: asyncio.AbstractEventLoop) -> _Mailbox:
    """Return ``loop``'s mailbox, creating it on first use."""
    box = _mailboxes.get(loop)
    if box is None:
        box = _mailboxes.setdefault(loop, _Mailbox(loop))
    return box


def _work(
    box: _Mailbox,
    future: asyncio.Future[Any],
    context: contextvars.Context,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    on_cancel: Callable[[], Any] | None = None,
) -> None:
    # Runs on a worker thread.
    if future.cancelled():
        # Cancelled before a worker picked it up: the PyMongo call never starts.
        if on_cancel is not None:
            on_cancel()
        return
    try:
        result = context.run(fn, *args, **kwargs)
    except StopIteration as exc:
        # asyncio refuses StopIteration in a Future; a cursor's end is StopAsyncIteration.
        stop = StopAsyncIteration(*exc.args)
        stop.__cause__ = exc
        box.put(future, stop, True, on_cancel)
    except BaseException as exc:
        box.put(future, exc, True, on_cancel)
    else:
        box.put(future, result, False, on_cancel)


class WorkerPool:
    """Daemon threads that run submitted calls, at most ``max_workers`` at once.

    Unlike :class:`concurrent.futures.ThreadPoolExecutor`, it allocates no Future per call (the
    caller's asyncio Future is the only one), starts new threads from a spawner thread of its own
    rather than on the submitting (event loop) thread, and does not hold up interpreter exit for a
    call that still waits for a server.

    :param max_workers: the most threads running calls.
    :param name: the prefix of the threads' names.
    """

    def __init__(self, max_workers: int, name: str) -> None:
        self.max_workers = max_workers
        self._name = name
        self._calls: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._spawn_requests: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._numbers = itertools.count()
        self._shutdown = False
        self._spawner: threading.Thread | None = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on a worker thread; what it raises is logged and dropped.

        :raises RuntimeError: after :meth:`shutdown`.
        """
        if self._shutdown:
            raise RuntimeError("cannot run new calls after the worker pool was shut down")
        self._calls.put((fn, args))
        with self._lock:
            if self._idle:
                # An idle worker will take it.
                self._idle -= 1
                return
            if self._threads >= self.max_workers:
                return  # Every worker is busy: the call waits for one.
            self._threads += 1
            first = self._spawner is None
            if first:
                # Not named like the workers: it runs no calls.
                self._spawner = threading.Thread(
                    target=self._spawn_loop, name=f"spawner-of-{self._name}", daemon=True
                )
        if first:
            # The pool's first call starts its first threads here; later ones never do.
            self._start_worker()
            self._spawner.start()  # type: ignore[union-attr]
        else:
            self._spawn_requests.put(True)

    def _start_worker(self) -> None:
        threading.Thread(
            target=self._work_loop, name=f"{self._name}-{next(self._numbers)}", daemon=True
        ).start()

    def _spawn_loop(self) -> None:
        while self._spawn_requests.get():
            self._start_worker()

    def _work_loop(self) -> None:
        calls = self._calls
        while True:
            call = calls.get()
            if call is None:
                calls.put(None)  # Pass the shutdown on to the next worker.
                return
            fn, args = call
            try:
                fn(*args)
            except BaseException:
                _log.debug("a background call of Motor's failed", exc_info=True)
            del call, fn, args
            with self._lock:
                self._idle += 1

    def shutdown(self) -> None:
        """Stop the threads once the calls already submitted have run."""
        self._shutdown = True
        self._calls.put(None)
        self._spawn_requests.put(False)


_session_locks: weakref.WeakKeyDictionary[Any, threading.RLock] = weakref.WeakKeyDictionary()
_session_locks_lock = threading.Lock()


def session_lock(session: Any) -> threading.RLock:
    """Return the lock that serializes the worker threads using a PyMongo session.

    A PyMongo session is not thread-safe, and Motor may run two calls on one session on two worker
    threads (a cancelled transaction's abort while its insert still runs, say): each such call
    holds the session's lock, so they run one after the other, in the order they were submitted
    to the thread pool.
    """
    lock = _session_locks.get(session)
    if lock is None:
        with _session_locks_lock:
            lock = _session_locks.setdefault(session, threading.RLock())
    return lock


def call_in_session(session: Any, fn: Callable[..., _T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> _T:
    """Call ``fn(*args, **kwargs)`` holding ``session``'s lock (worker thread)."""
    with session_lock(session):
        return fn(*args, **kwargs)


_engines: weakref.WeakSet[Engine] = weakref.WeakSet()
_fork_hooks: list[Callable[[], None]] = []


def register_after_fork(hook: Callable[[], None]) -> None:
    """Call ``hook()`` in a child process after fork, to drop thread pools that did not survive."""
    _fork_hooks.append(hook)


def _after_fork_in_child() -> None:
    # Worker threads do not survive fork; a child builds new pools on first use.
    for engine in list(_engines):
        engine._executor = None
        engine._lock = threading.Lock()
    for hook in _fork_hooks:
        hook()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Engine:
    """The event-loop binding and thread pool shared by a client and every object reached from it.

    :param framework: the framework the client's class was generated for.
    :param io_loop: the framework event loop to pin the client to, or ``None`` to follow the
        running loop of each call.
    :param max_workers: the most worker threads this client runs at once.
    :param owner_name: the client's class name, for error messages.
    :param final: closes the PyMongo client (run by :meth:`close`, or at interpreter exit).
    """

    __slots__ = (
        "__weakref__",
        "_closed",
        "_executor",
        "_final",
        "_lock",
        "_pinned",
        "framework",
        "max_workers",
        "owner_name",
        "pinned_io_loop",
    )

    def __init__(
        self,
        framework: Framework,
        io_loop: Any,
        max_workers: int,
        owner_name: str,
        final: Callable[[], Any],
    ) -> None:
        if io_loop is not None:
            framework.check_event_loop(io_loop)
        self.framework = framework
        self.pinned_io_loop = io_loop
        self._pinned = framework.to_asyncio_loop(io_loop) if io_loop is not None else None
        self.max_workers = max_workers
        self.owner_name = owner_name
        self._final = final
        self._executor: WorkerPool | None = None
        self._lock = threading.Lock()
        self._closed = False
        _engines.add(self)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def io_loop(self) -> Any:
        """The framework's event loop: the pinned one, or the current one."""
        if self.pinned_io_loop is not None:
            return self.pinned_io_loop
        return self.framework.get_event_loop()

    def loop(self) -> asyncio.AbstractEventLoop:
        """Return the asyncio loop that a call made now must deliver its result to.

        :raises RuntimeError: if the client is pinned to another loop than the running one, or if
            no loop is running and none is set.
        """
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        pinned = self._pinned
        if pinned is not None:
            if running is not None and running is not pinned:
                raise RuntimeError(
                    f"This {self.owner_name} is bound to io_loop {self.pinned_io_loop!r} but was "
                    f"used from a different event loop {running!r}; create one client per event "
                    "loop, or create the client without io_loop= to follow the running loop"
                )
            return pinned
        if running is not None:
            return running
        return self.framework.to_asyncio_loop(self.framework.get_event_loop())

    def executor(self) -> WorkerPool:
        """Return the client's thread pool, creating it on first use (and again after fork)."""
        executor = self._executor
        if executor is None:
            with self._lock:
                executor = self._executor
                if executor is None:
                    executor = WorkerPool(self.max_workers, "motor-worker")
                    self._executor = executor
        return executor

    def check_open(self) -> None:
        """:raises InvalidOperation: if the client was closed."""
        if self._closed:
            raise InvalidOperation(f"Cannot use {self.owner_name} after close")

    def run(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> asyncio.Future[_T]:
        """Run ``fn(*args, **kwargs)`` on a worker thread; return a Future of the caller's loop.

        :raises InvalidOperation: if the client was closed.
        :raises RuntimeError: if no usable event loop is found (see :meth:`loop`).
        """
        if self._closed:
            self.check_open()
        loop = self.loop()
        future: asyncio.Future[_T] = loop.create_future()
        self.executor().submit(_work, mailbox(loop), future, contextvars.copy_context(), fn, args, kwargs)
        return future

    def run_cancellable(
        self, on_cancel: Callable[[], Any], fn: Callable[..., _T], *args: Any
    ) -> asyncio.Future[_T]:
        """Like :meth:`run`, and if the caller cancels the Future, call ``on_cancel()``.

        ``on_cancel`` runs once the worker is done with ``fn`` (or instead of it, if cancelled
        before it started), so it never races ``fn``; it must not block, and typically hands a
        clean-up (such as killing a cursor) to :meth:`run_detached`.
        """
        if self._closed:
            self.check_open()
        loop = self.loop()
        future: asyncio.Future[_T] = loop.create_future()
        self.executor().submit(
            _work, mailbox(loop), future, contextvars.copy_context(), fn, args, {}, on_cancel
        )
        return future

    def run_detached(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on a worker thread with no one waiting for it (background work)."""
        self.executor().submit(fn, *args)

    def close(self) -> asyncio.Future[None] | None:
        """Mark the client closed and close the PyMongo client on a worker thread.

        Later calls raise :exc:`~pymongo.errors.InvalidOperation`. Returns a Future that resolves
        when PyMongo's client is closed if an event loop is running, else closes it at once (there is
        no loop to block) and returns ``None``.
        """
        final = self._final
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if self._closed:
            if loop is None:
                return None
            done: asyncio.Future[None] = loop.create_future()
            done.set_result(None)
            return done
        if loop is None:
            self._closed = True
            final()
            self._shutdown()
            return None
        self._closed = True
        future: asyncio.Future[None] = loop.create_future()
        self.executor().submit(_work, mailbox(loop), future, contextvars.copy_context(), final, (), {})
        # Nobody has to await close(); fetch the exception so asyncio does not log it as lost.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._shutdown()
        return future

    def _shutdown(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            # Work already queued (such as the final close) still runs; idle threads then exit.
            executor.shutdown()
