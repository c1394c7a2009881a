"""Running PyMongo calls on worker threads and delivering their results to an event loop.

This is the one place where Motor crosses between the event loop and its thread pool. Every
awaitable method of every generated class ends up in :meth:`Engine.run`, which

- finds the event loop the call belongs to (the client's pinned loop, or the running one),
- copies the caller's :mod:`contextvars` context, so that ``pymongo.timeout()`` and
  ``ClientSession.bind()`` reach the worker thread,
- submits the PyMongo call to the client's thread pool, skipping it if the caller cancelled
  before a worker picked it up,
- and resolves the caller's Future on the loop's thread with the result or the exception.

The engine knows event loops and Futures only through the shapes of
:mod:`motor.frameworks.interface` (which an asyncio loop and an asyncio Future have as they are,
and a Tornado Future is an asyncio Future), so one implementation serves every framework.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import itertools
import logging
import os
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from pymongo.errors import InvalidOperation

from motor.frameworks.interface import EventLoop, Framework, Future

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

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


def _resolve(future: Future[Any], value: Any, failed: bool, on_cancel: Callable[[], Any] | None) -> None:
    # Runs on the loop thread, where the Future's state is authoritative. A Future that is already
    # done was cancelled by its awaiter, or completed by application code: either way the outcome
    # is nobody's any more.
    if future.done():
        if on_cancel is not None and future.cancelled():
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

    The mailbox holds its loop weakly: the table of mailboxes is keyed weakly by loop, and a strong
    reference here would keep every loop that ever received a result alive for ever.
    """

    __slots__ = ("__weakref__", "_items", "_lock", "_loop", "_scheduled")

    def __init__(self, loop: EventLoop) -> None:
        self._loop = weakref.ref(loop)
        self._items: list[tuple[Future[Any], Any, bool, Callable[[], Any] | None]] = []
        self._lock = threading.Lock()
        self._scheduled = False

    def put(self, future: Future[Any], value: Any, failed: bool, on_cancel: Callable[[], Any] | None) -> None:
        """Deliver an outcome (worker thread)."""
        with self._lock:
            self._items.append((future, value, failed, on_cancel))
            if self._scheduled:
                return
            self._scheduled = True
        loop = self._loop()
        try:
            if loop is None:
                raise RuntimeError("the loop is gone")
            loop.call_soon_threadsafe(self._drain)
        except RuntimeError:
            # The loop was closed while the worker ran: nobody can await these results, and
            # keeping them would keep the loop (each Future's) alive.
            with self._lock:
                self._items.clear()
                self._scheduled = False

    def _drain(self) -> None:
        with self._lock:
            items, self._items = self._items, []
            self._scheduled = False
        for item in items:
            # One outcome's delivery must never depend on another's.
            try:
                _resolve(*item)
            except BaseException:
                _log.exception("Motor could not deliver a result to its Future")


_mailboxes: weakref.WeakKeyDictionary[EventLoop, _Mailbox] = weakref.WeakKeyDictionary()


def mailbox(loop: EventLoop) -> _Mailbox:
    """Return ``loop``'s mailbox, creating it on first use."""
    box = _mailboxes.get(loop)
    if box is None:
        box = _mailboxes.setdefault(loop, _Mailbox(loop))
    return box


class _Delivery:
    """An outcome on its way from a worker to a Future.

    A worker delivers it as the last thing before it parks or takes its next call: the loop
    thread, woken by the delivery, then finds the GIL free instead of waiting for the worker's
    bookkeeping (a second thread wake-up).
    """

    __slots__ = ("box", "failed", "future", "on_cancel", "value")

    def __init__(
        self,
        box: _Mailbox,
        future: Future[Any],
        value: Any,
        failed: bool,
        on_cancel: Callable[[], Any] | None,
    ) -> None:
        self.box = box
        self.future = future
        self.value = value
        self.failed = failed
        self.on_cancel = on_cancel

    def __call__(self) -> None:
        self.box.put(self.future, self.value, self.failed, self.on_cancel)


def _work(
    box: _Mailbox,
    future: Future[Any],
    context: contextvars.Context,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    on_cancel: Callable[[], Any] | None = None,
) -> _Delivery | None:
    # Runs on a worker thread; the pool delivers what it returns.
    if future.cancelled():
        # Cancelled before a worker picked it up: the PyMongo call never starts.
        if on_cancel is not None:
            on_cancel()
        return None
    try:
        result = context.run(fn, *args, **kwargs)
    except StopIteration as exc:
        # asyncio refuses StopIteration in a Future; a cursor's end is StopAsyncIteration.
        stop = StopAsyncIteration(*exc.args)
        stop.__cause__ = exc
        return _Delivery(box, future, stop, True, on_cancel)
    except BaseException as exc:
        return _Delivery(box, future, exc, True, on_cancel)
    return _Delivery(box, future, result, False, on_cancel)


#: No bound: the waiting pool runs a thread per waiting call.
_UNBOUNDED = 1 << 30

#: Seconds a parked worker waits for a call before its thread exits.
IDLE_TIMEOUT = 10.0
#: Seconds after which a running call counts as blocked (waiting for a server, a lock, a change),
#: so that a queued call gets another worker instead of waiting behind it.
BLOCKED_AFTER = 0.002
#: The share of one core the process must use for queued calls to be waiting for the GIL rather
#: than for blocked workers: then the pool does not grow.
SATURATED = 0.7
#: How often the supervisor looks at pools whose calls wait.
SUPERVISE_EVERY = 0.0005


def default_target_workers() -> int:
    """The number of workers a pool keeps busy with calls that do not block.

    PyMongo's calls hold the GIL while they encode and decode, and mostly wait for the network in
    between: a few threads per core keep the interpreter busy, and more only trade GIL hand-offs.
    """
    return max(4, 2 * (os.cpu_count() or 1))


class _Worker:
    """A worker thread's parking place and what it runs now."""

    __slots__ = ("parked", "started", "wake")

    def __init__(self) -> None:
        # Held while the worker is parked; releasing it wakes the worker (a binary semaphore).
        # Whoever takes a worker off the pool's parked list releases it exactly once.
        self.wake = threading.Lock()
        self.wake.acquire()
        self.parked = False
        #: When the worker's current call started (``time.monotonic()``), or 0 if it runs none.
        self.started = 0.0


class WorkerPool:
    """Threads that run submitted calls: as few as keep the calls moving, at most ``max_workers``.

    The policy, in order of cost to the submitter (usually the event loop's thread):

    - A call goes on a FIFO queue. A worker that finishes a call takes the next one without any
      wake-up, else it parks at once. (Polling the queue for a while before parking, to save the
      next call a wake-up, made the round trip two to three times slower here: the polling thread
      contends for the GIL just when the woken event loop needs it.)
    - A worker hands its result to the loop as the last thing before it parks or takes its next
      call, so that the woken loop finds the GIL free.
    - A parked worker is woken only if fewer than ``target`` workers are running calls, the most
      recently parked first (LIFO), so that a few hot threads do the work.
    - A supervisor thread (one per process) watches pools whose calls wait. When the oldest
      queued call has waited for :data:`BLOCKED_AFTER` and the process has neither kept a core
      busy meanwhile (:data:`SATURATED`) nor been preempted, the workers are waiting for something
      else than the GIL or a CPU: if every running call is older than that (slow queries, server
      selection, ...), it doubles the workers (at most one per call that waited that long), else
      it adds one worker once the last one it added runs. Up to
      ``max_workers``; threads are only ever started there, never on the submitter's thread. A
      process that keeps a core busy gains nothing from more threads, only GIL hand-offs, so
      under a CPU-bound load the pool stays at the few workers that ``target`` allows.
    - A worker parked for :data:`IDLE_TIMEOUT` exits; :meth:`shutdown` makes them all exit once
      the queue is empty.

    Unlike :class:`concurrent.futures.ThreadPoolExecutor`, it allocates no Future per call (the
    caller's Future is the only one) and does not hold up interpreter exit for a call that still
    waits for a server.

    :param max_workers: the most threads running calls.
    :param name: the prefix of the threads' names.
    :param target: how many running calls keep the pool from growing while they are short.
    """

    def __init__(self, max_workers: int, name: str, target: int | None = None) -> None:
        self.max_workers = max_workers
        self.target = min(max_workers, target or default_target_workers())
        self._name = name
        self._calls: collections.deque[tuple[float, Callable[..., Any], tuple[Any, ...]]] = (
            collections.deque()
        )
        # Reentrant: a client's finalizer shuts its pool down, and garbage collection may run it on
        # a worker of that very pool, inside one of its critical sections.
        self._lock = threading.RLock()
        self._workers: set[_Worker] = set()  # Every live worker thread's record.
        self._parked: list[_Worker] = []  # The most recently parked last.
        # Workers running a call, woken but not yet running, and being started:
        # all of them take a queued call without further help.
        self._running = 0
        self._waking = 0
        self._starting = 0
        self._watched = False
        self._numbers = itertools.count()
        self._shutdown = False

    @property
    def threads(self) -> int:
        """The number of worker threads alive or being started."""
        return len(self._workers) + self._starting

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on a worker thread; what it raises is logged and dropped.

        :raises RuntimeError: after :meth:`shutdown`.
        """
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot run new calls after the worker pool was shut down")
            calls = self._calls
            calls.append((time.monotonic(), fn, args))
            if self._waking + self._starting >= len(calls):
                return  # Workers on their way take every queued call.
            if self._running + self._waking + self._starting < self.target:
                if self._parked:
                    self._wake_one()
                    return
                if self.threads < self.max_workers:
                    self._starting += 1
                    _supervisor.start_worker(self)
                    return
            # The workers wanted are busy: the call waits for one, or for the supervisor to find
            # that the busy ones are blocked.
            if self._watched:
                return
            self._watched = True
        _supervisor.watch(self)

    def _wake_one(self) -> None:
        # With the lock held.
        worker = self._parked.pop()
        worker.parked = False
        self._waking += 1
        worker.wake.release()

    def _start_thread(self) -> None:
        # Supervisor thread; the count of starting threads already includes this one.
        with self._lock:
            if self._shutdown and self._workers:
                # A closed client's remaining calls run on the threads it has.
                self._starting -= 1
                return
        try:
            threading.Thread(
                target=self._work_loop, name=f"{self._name}-{next(self._numbers)}", daemon=True
            ).start()
        except BaseException:
            with self._lock:
                self._starting -= 1
            raise

    def supervise(self, now: float, saturated: bool) -> bool:
        """Give waiting calls more workers (supervisor thread); return whether calls still wait.

        :param now: ``time.monotonic()``.
        :param saturated: whether the process kept the interpreter busy lately: then queued calls
            wait for the GIL, not for blocked workers, and another thread would only add hand-offs.
        """
        start = 0
        with self._lock:
            calls = self._calls
            if not calls:
                self._watched = False
                return False
            deadline = now - BLOCKED_AFTER
            if calls[0][0] <= deadline and not saturated and not self._shutdown:
                short = sum(1 for w in self._workers if w.started > deadline)
                if short + self._waking + self._starting:
                    # Some calls still move: one more worker, once the last one added runs.
                    wanted = 0 if self._waking + self._starting else 1
                else:
                    # Every worker is blocked: a worker for each call that waited, but at most as
                    # many as there are, since a starved process looks blocked too.
                    overdue = sum(1 for queued, _, _ in calls if queued <= deadline)
                    wanted = min(overdue, max(1, len(self._workers)))
                while wanted and self._parked:
                    self._wake_one()
                    wanted -= 1
                start = max(0, min(wanted, self.max_workers - self.threads))
                self._starting += start
        for _ in range(start):
            self._start_thread()
        return True

    def _take(self, worker: _Worker) -> tuple[Callable[..., Any], tuple[Any, ...]] | None:
        # With the lock held.
        if self._calls:
            _, fn, args = self._calls.popleft()
            self._running += 1
            worker.started = time.monotonic()
            return fn, args
        return None

    def _work_loop(self) -> None:
        worker = _Worker()
        lock = self._lock
        with lock:
            self._starting -= 1
            self._workers.add(worker)
            call = self._take(worker)
            if call is None:
                worker.parked = True
                self._parked.append(worker)
        while True:
            if call is not None:
                fn, args = call
                delivery = None
                try:
                    delivery = fn(*args)
                except BaseException:
                    _log.debug("a background call of Motor's failed", exc_info=True)
                del call, fn, args
                with lock:
                    self._running -= 1
                    worker.started = 0.0
                    call = self._take(worker)
                    exiting = call is None and self._shutdown
                    if exiting:
                        self._workers.discard(worker)
                    elif call is None:
                        worker.parked = True
                        self._parked.append(worker)
                if type(delivery) is _Delivery:
                    delivery()
                delivery = None
                if exiting:
                    return
                if call is not None:
                    continue
            # Parked: wait to be woken.
            if not worker.wake.acquire(timeout=IDLE_TIMEOUT):
                with lock:
                    if worker.parked:
                        # Nobody woke it: the thread is not needed.
                        self._parked.remove(worker)
                        self._workers.discard(worker)
                        return
                # Taken off the parked list just as the wait timed out: its wake-up is on the way.
                worker.wake.acquire()
            with lock:
                self._waking -= 1
                call = self._take(worker)
                if call is None:
                    if self._shutdown:
                        self._workers.discard(worker)
                        return
                    worker.parked = True
                    self._parked.append(worker)

    def shutdown(self) -> None:
        """Stop the threads once the calls already submitted have run; later submits raise."""
        with self._lock:
            self._shutdown = True
            while self._parked:
                self._wake_one()


def _involuntary_switches() -> int:
    """Return how many times the scheduler preempted the process's threads so far (0 if unknown)."""
    if resource is None:
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw


class _Supervisor:
    """The one thread per process that starts worker threads and unblocks waiting calls."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._to_start: list[WorkerPool] = []
        self._watched: set[WorkerPool] = set()
        self._thread: threading.Thread | None = None
        self._samples: collections.deque[tuple[float, float, int]] = collections.deque()

    def start_worker(self, pool: WorkerPool) -> None:
        """Start a thread for ``pool``, whose count of starting threads already includes it."""
        with self._cond:
            self._to_start.append(pool)
            self._ensure_running()
            self._cond.notify()

    def watch(self, pool: WorkerPool) -> None:
        """Look at ``pool`` until none of its calls waits."""
        with self._cond:
            self._watched.add(pool)
            self._ensure_running()
            self._cond.notify()

    def _ensure_running(self) -> None:
        # With the condition's lock held.
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="motor-supervisor", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        cond = self._cond
        while True:
            with cond:
                if not self._to_start and not self._watched:
                    cond.wait(IDLE_TIMEOUT)
                    if not self._to_start and not self._watched:
                        self._thread = None
                        return
                to_start, self._to_start = self._to_start, []
                watched = list(self._watched)
            for pool in to_start:
                try:
                    pool._start_thread()
                except BaseException:
                    _log.exception("Motor could not start a worker thread")
            if not watched:
                continue
            before = time.monotonic()
            time.sleep(SUPERVISE_EVERY)
            now = time.monotonic()
            # A supervisor that woke up late waited for the GIL or for a core, and so did the
            # queued calls: more threads would only contend for them too.
            late = now - before > SUPERVISE_EVERY + BLOCKED_AFTER / 2
            saturated = self._saturated(now) or late
            done = [pool for pool in watched if not pool.supervise(now, saturated)]
            if done:
                with cond:
                    # A pool that a submit watched again since keeps its place.
                    self._watched.difference_update(pool for pool in done if not pool._watched)

    def _saturated(self, now: float) -> bool:
        # Whether, over the last BLOCKED_AFTER seconds, the process used most of a core or its
        # threads were preempted (the machine has no core to spare): in both cases calls wait for
        # a CPU, not for a server, and the waits would look like blocked workers.
        cpu = time.process_time()
        preempted = _involuntary_switches()
        samples = self._samples
        samples.append((now, cpu, preempted))
        while len(samples) > 2 and samples[1][0] <= now - BLOCKED_AFTER:
            samples.popleft()
        then, cpu_then, preempted_then = samples[0]
        if now - then < BLOCKED_AFTER / 2:
            return False
        return (cpu - cpu_then) / (now - then) >= SATURATED or preempted > preempted_then

    def after_fork(self) -> None:
        """Forget the supervisor thread, which did not survive fork (child process)."""
        self.__init__()  # type: ignore[misc]


_supervisor = _Supervisor()


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
    _supervisor.after_fork()
    for engine in list(_engines):
        engine._executor = None
        engine._waiters = None
        engine._lock = threading.Lock()
    for hook in _fork_hooks:
        hook()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Engine:
    """The event-loop binding and thread pools shared by a client and every object reached from it.

    Its invariants, each of which a test holds it to:

    - The engine never keeps an event loop alive: it refers to the running loop only through the
      Futures of calls in flight and a mailbox that holds the loop weakly.
    - Every submitted call resolves its Future exactly once, unless the caller cancelled it or
      completed it itself, and one Future's fate never stops another's delivery.
    - Calls that wait for events (a change stream's next change) run on a second pool of their own,
      so that however many wait, the calls of ``max_workers`` keep running.
    - After :meth:`close`, no thread is ever started again: clean-up (closing cursors, ending
      sessions) completes at once without I/O, since PyMongo's close already did it on the server.
    - A client that is garbage-collected without ``close()`` releases its threads; idle threads exit
      after :data:`IDLE_TIMEOUT` anyway.

    :param framework: the framework the client's class was generated for.
    :param io_loop: the framework event loop to pin the client to, or ``None`` to follow the
        running loop of each call.
    :param max_workers: the most worker threads this client runs operations on at once.
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
        "_waiters",
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
        self._pinned = framework.engine_loop(io_loop) if io_loop is not None else None
        self.max_workers = max_workers
        self.owner_name = owner_name
        self._final = final
        self._executor: WorkerPool | None = None
        self._waiters: WorkerPool | None = None
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

    def loop(self) -> EventLoop:
        """Return the asyncio loop that a call made now must deliver its result to.

        :raises RuntimeError: if the client is pinned to another loop than the running one, or to a
            closed loop, or if no loop is running and none is set.
        """
        running = self.framework.running_loop()
        pinned = self._pinned
        if pinned is not None:
            if running is not None and running is not pinned:
                raise RuntimeError(
                    f"This {self.owner_name} is bound to io_loop {self.pinned_io_loop!r} but was "
                    f"used from a different event loop {running!r}; create one client per event "
                    "loop, or create the client without io_loop= to follow the running loop"
                )
            if running is None and pinned.is_closed():
                raise RuntimeError(
                    f"This {self.owner_name} is bound to io_loop {self.pinned_io_loop!r}, which is "
                    "closed: its results could never be delivered"
                )
            return pinned
        if running is not None:
            return running
        return self.framework.engine_loop(self.framework.get_event_loop())

    def _pool(self, waiters: bool) -> WorkerPool:
        # Creates the pool on first use (and again after fork), never after close.
        with self._lock:
            if self._closed:
                self.check_open()
            pool = self._waiters if waiters else self._executor
            if pool is None:
                if waiters:
                    pool = self._waiters = WorkerPool(_UNBOUNDED, "motor-waiter", target=_UNBOUNDED)
                else:
                    pool = self._executor = WorkerPool(self.max_workers, "motor-worker")
                # A client dropped without close() must not leave its threads behind.
                weakref.finalize(self, pool.shutdown)
        return pool

    def executor(self) -> WorkerPool:
        """Return the client's thread pool, creating it on first use (and again after fork).

        :raises InvalidOperation: if the client was closed.
        """
        return self._executor or self._pool(False)

    def check_open(self) -> None:
        """:raises InvalidOperation: if the client was closed."""
        if self._closed:
            raise InvalidOperation(f"Cannot use {self.owner_name} after close")

    def _submit(
        self,
        pool: WorkerPool,
        fn: Callable[..., _T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        on_cancel: Callable[[], Any] | None = None,
    ) -> Future[_T]:
        loop = self.loop()
        future: Future[_T] = loop.create_future()
        pool.submit(_work, mailbox(loop), future, contextvars.copy_context(), fn, args, kwargs, on_cancel)
        return future

    def run(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> Future[_T]:
        """Run ``fn(*args, **kwargs)`` on a worker thread; return a Future of the caller's loop.

        :raises InvalidOperation: if the client was closed.
        :raises RuntimeError: if no usable event loop is found (see :meth:`loop`).
        """
        if self._closed:
            self.check_open()
        return self._submit(self._executor or self._pool(False), fn, args, kwargs)

    def run_waiting(self, fn: Callable[..., _T], *args: Any) -> Future[_T]:
        """Like :meth:`run`, for a call that waits for an event (a change stream's next change).

        It runs on a pool of its own that ``max_workers`` does not bound, so that waiting calls
        never starve the client's operations (whose completion they may be waiting for).
        """
        if self._closed:
            self.check_open()
        return self._submit(self._waiters or self._pool(True), fn, args, {})

    def run_cancellable(self, on_cancel: Callable[[], Any], fn: Callable[..., _T], *args: Any) -> Future[_T]:
        """Like :meth:`run`, and if the caller cancels the Future, call ``on_cancel()``.

        ``on_cancel`` runs once the worker is done with ``fn`` (or instead of it, if cancelled
        before it started), so it never races ``fn``; it must not block, and typically hands a
        clean-up (such as killing a cursor) to :meth:`run_detached`.
        """
        if self._closed:
            self.check_open()
        return self._submit(self._executor or self._pool(False), fn, args, {}, on_cancel)

    def run_cleanup(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[None]:
        """Run a clean-up (closing a cursor, ending a session) like :meth:`run`; after the client
        is closed, complete at once instead: PyMongo's close did it on the server already, and
        leaving an ``async with`` block must not raise because the client is closed.

        If the caller is cancelled before a worker starts the clean-up, it still runs, detached.
        """
        if self._closed:
            return self.resolved(None)
        started: list[bool] = []

        def call() -> Any:
            started.append(True)
            return fn(*args, **kwargs)

        def on_cancel() -> None:
            # A clean-up is owed even to a cancelled caller, and trio's cancellation holds for every
            # later await of the cancelled scope, __aexit__'s included: one that never started
            # runs with nobody waiting for it.
            if not started:
                self.run_detached(call)

        return self._submit(self._executor or self._pool(False), call, (), {}, on_cancel)

    def resolved(self, value: _T) -> Future[_T]:
        """Return a Future of the caller's loop that already has ``value``.

        :raises RuntimeError: if no usable event loop is found (see :meth:`loop`).
        """
        future: Future[_T] = self.loop().create_future()
        future.set_result(value)
        return future

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> Future[None]:
        """Run ``coroutine`` in the background on the caller's loop; return a Future of its end."""
        return self.framework.spawn(self.loop(), coroutine)

    def sleep(self, seconds: float) -> Awaitable[None]:
        """Return an awaitable that waits ``seconds`` without blocking the caller's loop."""
        return self.framework.sleep(seconds)

    def shielded(self) -> contextlib.AbstractContextManager[object]:
        """Return a context manager in which an awaited clean-up completes even if the caller is
        cancelled meanwhile (see :meth:`motor.frameworks.interface.Framework.shielded`)."""
        return self.framework.shielded()

    @property
    def CancelledError(self) -> type[BaseException]:
        """The exception a cancelled caller's await raises in this client's framework."""
        return self.framework.CancelledError

    def run_detached(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on a worker thread with no one waiting for it (background work).

        After :meth:`close` it is dropped: the client's close did the clean-up it would do.
        """
        with contextlib.suppress(InvalidOperation, RuntimeError):
            (self._executor or self._pool(False)).submit(fn, *args)

    def close(self) -> Future[None] | None:
        """Mark the client closed and close the PyMongo client on a worker thread.

        Later calls raise :exc:`~pymongo.errors.InvalidOperation`. Returns a Future that resolves
        when PyMongo's client is closed if an event loop is running, else closes it at once (there is
        no loop to block) and returns ``None``.
        """
        final = self._final
        loop = self.framework.running_loop()
        if self._closed:
            if loop is None:
                return None
            done: Future[None] = loop.create_future()
            done.set_result(None)
            return done
        if loop is None:
            self._closed = True
            final()
            self._shutdown()
            return None
        pool = self.executor()
        self._closed = True
        future: Future[None] = loop.create_future()
        pool.submit(_work, mailbox(loop), future, contextvars.copy_context(), final, (), {})
        # Nobody has to await close(); fetch the exception so asyncio does not log it as lost.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._shutdown()
        return future

    def _shutdown(self) -> None:
        with self._lock:
            pools = (self._executor, self._waiters)
            self._executor = self._waiters = None
        for pool in pools:
            if pool is not None:
                # Work already queued (such as the final close) still runs; idle threads then exit.
                pool.shutdown()
