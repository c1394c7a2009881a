"""The trio framework: classes prefixed ``Trio``, Futures that park a trio task.

trio has no event loop object and no Future, so this module wraps both in the shapes of
:mod:`motor.frameworks.interface`:

- a run of :func:`trio.run` is identified by its :class:`trio.lowlevel.TrioToken` (what
  :func:`get_event_loop` returns and what ``io_loop=`` takes), and the engine sees it as a
  :class:`TrioLoop`, one per run;
- each call returns a :class:`TrioFuture`, which parks the awaiting task with
  :func:`trio.lowlevel.wait_task_rescheduled` and is rescheduled, on the run's thread, with the
  call's outcome.

A trio cancel scope that cancels a task waiting for a :class:`TrioFuture` marks the Future
cancelled: the engine then never starts a call still queued, and drops the result of one that is
running, as :doc:`/cancellation` describes for asyncio.
"""

from __future__ import annotations

import contextvars
import enum
import logging
import weakref
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Generic, TypeVar

import outcome
import trio

from motor import _engine
from motor.frameworks.interface import EventLoop

__all__ = [
    "CLASS_PREFIX",
    "CancelledError",
    "TrioFuture",
    "TrioLoop",
    "check_event_loop",
    "engine_loop",
    "get_event_loop",
    "is_event_loop",
    "max_workers",
    "platform_info",
    "running_loop",
    "shielded",
    "sleep",
    "spawn",
]

CLASS_PREFIX = "Trio"

#: What a task cancelled while it awaits Motor raises.
CancelledError = trio.Cancelled

sleep = trio.sleep


def shielded() -> trio.CancelScope:
    """A shielded cancel scope: trio cancels every await of a cancelled scope, a clean-up's too."""
    return trio.CancelScope(shield=True)


#: The default number of worker threads of a client (``MOTOR_MAX_WORKERS`` if set); a client's own
#: default also follows its ``maxPoolSize``.
max_workers: int = _engine.default_max_workers(None)

_T = TypeVar("_T")

_log = logging.getLogger("motor")


class _State(enum.Enum):
    PENDING = "pending"
    CANCELLED = "cancelled"
    FINISHED = "finished"


class TrioFuture(Generic[_T]):
    """The outcome of one Motor call, awaited by one trio task of :class:`TrioLoop`'s run.

    Its state changes on the run's thread only; :meth:`done` and :meth:`cancelled` may be asked
    from any thread.

    :param loop: the run the Future belongs to.
    """

    __slots__ = ("_callbacks", "_exception", "_loop", "_result", "_state", "_waiter")

    def __init__(self, loop: TrioLoop) -> None:
        self._loop = loop
        self._state = _State.PENDING
        self._result: _T | None = None
        self._exception: BaseException | None = None
        self._callbacks: list[Callable[[TrioFuture[_T]], object]] = []
        self._waiter: trio.lowlevel.Task | None = None

    def __repr__(self) -> str:
        return f"<TrioFuture {self._state.value}>"

    def done(self) -> bool:
        """Return whether the Future has a result, an exception, or was cancelled."""
        return self._state is not _State.PENDING

    def cancelled(self) -> bool:
        """Return whether the Future was cancelled."""
        return self._state is _State.CANCELLED

    def cancel(self) -> bool:
        """Cancel the Future unless it is done; return whether it is now cancelled.

        A task awaiting it raises :exc:`trio.Cancelled`, as it would had its cancel scope
        cancelled it.
        """
        if self._state is _State.FINISHED:
            return False
        if self._state is _State.PENDING:
            self._state = _State.CANCELLED
            self._wake(outcome.Error(_cancelled()))
            self._run_callbacks()
        return True

    def result(self) -> _T:
        """Return the result.

        :raises BaseException: the exception the Future was resolved with.
        :raises trio.Cancelled: if the Future was cancelled.
        :raises RuntimeError: if the Future is not done yet.
        """
        self._check_done()
        if self._exception is not None:
            raise self._exception
        return self._result  # type: ignore[return-value]

    def exception(self) -> BaseException | None:
        """Return the exception the Future was resolved with, or ``None``.

        :raises trio.Cancelled: if the Future was cancelled.
        :raises RuntimeError: if the Future is not done yet.
        """
        self._check_done()
        return self._exception

    def set_result(self, result: _T, /) -> None:
        """Resolve the Future with ``result`` and wake the task awaiting it (run's thread).

        :raises RuntimeError: if the Future is already done.
        """
        self._check_pending()
        self._result = result
        self._state = _State.FINISHED
        self._wake(outcome.Value(result))
        self._run_callbacks()

    def set_exception(self, exception: BaseException, /) -> None:
        """Resolve the Future with ``exception`` and wake the task awaiting it (run's thread).

        :raises RuntimeError: if the Future is already done.
        """
        self._check_pending()
        self._exception = exception
        self._state = _State.FINISHED
        self._wake(outcome.Error(exception))
        self._run_callbacks()

    def add_done_callback(self, fn: Callable[[TrioFuture[_T]], object], /) -> None:
        """Call ``fn(future)`` once the Future is done (at once if it is already).

        What ``fn`` raises is reported to the run's exception handler, which logs it.
        """
        if self._state is _State.PENDING:
            self._callbacks.append(fn)
        else:
            self._call(fn)

    def get_loop(self) -> TrioLoop:
        """Return the run the Future belongs to."""
        return self._loop

    def __await__(self) -> Generator[Any, None, _T]:
        return self._wait().__await__()

    async def _wait(self) -> _T:
        if self._state is not _State.PENDING:
            # A schedule point, but no cancellation point: the result is not lost (a document
            # taken from a cursor's buffer, say).
            await trio.lowlevel.cancel_shielded_checkpoint()
            return self.result()
        if self._waiter is not None:
            raise RuntimeError("a TrioFuture can be awaited by only one task at a time")
        self._waiter = trio.lowlevel.current_task()
        value: _T = await trio.lowlevel.wait_task_rescheduled(self._abort)
        return value

    def _abort(self, raise_cancel: Callable[[], object]) -> trio.lowlevel.Abort:
        # trio calls this on the run's thread when the waiting task's cancel scope is cancelled;
        # the task then raises trio.Cancelled, and the engine sees a cancelled Future.
        self._waiter = None
        if self._state is _State.PENDING:
            self._state = _State.CANCELLED
            self._run_callbacks()
        return trio.lowlevel.Abort.SUCCEEDED

    def _check_done(self) -> None:
        if self._state is _State.CANCELLED:
            raise _cancelled()
        if self._state is _State.PENDING:
            raise RuntimeError("the TrioFuture is not done yet")

    def _check_pending(self) -> None:
        if self._state is not _State.PENDING:
            raise RuntimeError(f"the TrioFuture is already {self._state.value}")

    def _wake(self, result: outcome.Outcome[Any]) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            trio.lowlevel.reschedule(waiter, result)

    def _run_callbacks(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            self._call(fn)

    def _call(self, fn: Callable[[TrioFuture[_T]], object]) -> None:
        # A callback may run inside trio's abort machinery, where an exception would crash the run.
        try:
            fn(self)
        except Exception as exc:
            self._loop.call_exception_handler({"message": f"Exception in callback {fn!r}", "exception": exc})


def _cancelled() -> trio.Cancelled:
    try:
        return trio.Cancelled._create(source="explicit", reason="the TrioFuture was cancelled")
    except TypeError:  # trio before 0.31 gives no reason
        return trio.Cancelled._create()


def _noop() -> None:
    pass


class TrioLoop:
    """One run of :func:`trio.run`, as Motor's engine sees it: the run's token, and a place to
    create Futures and deliver results.

    :param token: the run's :class:`trio.lowlevel.TrioToken`.
    """

    __slots__ = ("__weakref__", "_closed", "token")

    def __init__(self, token: trio.lowlevel.TrioToken) -> None:
        self.token = token
        self._closed = False

    def __repr__(self) -> str:
        return f"<TrioLoop {self.token!r}{' closed' if self._closed else ''}>"

    def create_future(self) -> TrioFuture[Any]:
        """Return a new pending :class:`TrioFuture` of this run."""
        return TrioFuture(self)

    def call_soon_threadsafe(self, callback: Callable[..., object], /, *args: Any) -> None:
        """Schedule ``callback(*args)`` on the run's thread, from any thread, without blocking.

        :raises trio.RunFinishedError: (a :exc:`RuntimeError`) if the run is over.
        """
        try:
            self.token.run_sync_soon(self._guarded, callback, args)
        except trio.RunFinishedError:
            self._closed = True
            raise

    def _guarded(self, callback: Callable[..., object], args: tuple[Any, ...]) -> None:
        # trio crashes the whole run if a run_sync_soon callback raises.
        try:
            callback(*args)
        except Exception as exc:
            self.call_exception_handler({"message": f"Exception in callback {callback!r}", "exception": exc})

    def is_closed(self) -> bool:
        """Return whether the run is over."""
        if not self._closed and running_loop() is not self:
            try:
                self.token.run_sync_soon(_noop, idempotent=True)
            except trio.RunFinishedError:
                self._closed = True
        return self._closed

    def call_exception_handler(self, context: dict[str, Any], /) -> None:
        """Log an exception nobody awaits (``context["exception"]``, ``context["message"]``)."""
        exception = context.get("exception")
        _log.error(
            "%s",
            context.get("message", "Unhandled exception in Motor"),
            exc_info=(type(exception), exception, exception.__traceback__)
            if isinstance(exception, BaseException)
            else None,
        )


# The TrioLoop of the current run: dropped with the run, so a finished run is not kept alive.
_current_loop: trio.lowlevel.RunVar[TrioLoop] = trio.lowlevel.RunVar("motor_trio_loop")
# A token's TrioLoop while anything (a run, a pinned client, a Future) still holds it.
_loops: weakref.WeakValueDictionary[trio.lowlevel.TrioToken, TrioLoop] = weakref.WeakValueDictionary()


def is_event_loop(loop: object) -> bool:
    """Return whether ``loop`` is trio's "event loop": a run's :class:`trio.lowlevel.TrioToken`."""
    return isinstance(loop, trio.lowlevel.TrioToken)


def check_event_loop(loop: object) -> None:
    """:raises TypeError: unless ``loop`` is a :class:`trio.lowlevel.TrioToken`."""
    if not is_event_loop(loop):
        raise TypeError(
            f"io_loop must be a trio run's token (trio.lowlevel.current_trio_token()), not {loop!r}"
        )


def get_event_loop(io_loop: Any = None) -> trio.lowlevel.TrioToken:
    """Return ``io_loop`` if given, else the current run's token.

    :raises TypeError: if ``io_loop`` is not a :class:`trio.lowlevel.TrioToken`.
    :raises RuntimeError: if no token is given and no trio run is running in this thread.
    """
    if io_loop is not None:
        check_event_loop(io_loop)
        return io_loop  # type: ignore[no-any-return]
    try:
        return trio.lowlevel.current_trio_token()
    except RuntimeError:
        raise RuntimeError(
            "Motor's trio classes need a trio run: call them from a task of trio.run(main), "
            "or create the client with io_loop=trio.lowlevel.current_trio_token()"
        ) from None


def engine_loop(io_loop: Any) -> TrioLoop:
    """Return the :class:`TrioLoop` of the run whose token is ``io_loop``.

    :raises TypeError: if ``io_loop`` is not a :class:`trio.lowlevel.TrioToken`.
    """
    check_event_loop(io_loop)
    loop = _loops.get(io_loop)
    if loop is None:
        loop = _loops.setdefault(io_loop, TrioLoop(io_loop))
    return loop


def running_loop() -> TrioLoop | None:
    """Return the current run's :class:`TrioLoop`, or ``None`` outside a trio run."""
    try:
        return _current_loop.get()
    except LookupError:
        loop = engine_loop(trio.lowlevel.current_trio_token())
        _current_loop.set(loop)
        return loop
    except RuntimeError:
        return None


def spawn(loop: EventLoop, coroutine: Coroutine[Any, Any, None]) -> TrioFuture[None]:
    """Run ``coroutine`` as a system task of ``loop``'s run (run's thread); return a Future of its
    end.

    The task sees the caller's context variables, and is cancelled when the run's main task ends.
    An exception it raises resolves the Future and is logged: the run goes on.
    """
    assert isinstance(loop, TrioLoop)
    future: TrioFuture[None] = loop.create_future()

    async def run() -> None:
        try:
            await coroutine
        except trio.Cancelled:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            loop.call_exception_handler({"message": "Exception in a Motor background task", "exception": exc})
        else:
            future.set_result(None)

    trio.lowlevel.spawn_system_task(
        run, name=f"motor:{getattr(coroutine, '__qualname__', 'task')}", context=contextvars.copy_context()
    )
    return future


def platform_info() -> str:
    """Describe this framework for the driver handshake."""
    return f"trio {trio.__version__}"
