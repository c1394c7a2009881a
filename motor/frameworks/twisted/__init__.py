"""The Twisted framework: classes prefixed ``Twisted``, whose awaitable methods return Deferreds.

The event loop is the installed reactor (the default one, or the asyncio reactor of
:mod:`twisted.internet.asyncioreactor`). The engine sees it as a :class:`ReactorLoop`, and each
call's awaitable is a :class:`TwistedFuture`: a :class:`~twisted.internet.defer.Deferred` that
``@inlineCallbacks`` functions ``yield`` and coroutines run by
:meth:`~twisted.internet.defer.Deferred.fromCoroutine` (or ``ensureDeferred``) ``await``.

Cancelling the Deferred (``d.cancel()``, or cancelling the Deferred of a coroutine that awaits it)
is Motor's cancellation: a call that no worker has started never runs, and a running call
completes on its worker and its result is discarded (a cursor it fetched for is killed, a
transaction it was committing is aborted). The Deferred fails with
:exc:`~twisted.internet.defer.CancelledError`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import twisted
from twisted.internet.defer import CancelledError, DebugInfo, Deferred
from twisted.internet.interfaces import IReactorCore, IReactorFromThreads, IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python import threadable
from twisted.python.failure import Failure

from motor import _engine
from motor.frameworks.interface import EventLoop, Future

__all__ = [
    "CLASS_PREFIX",
    "CancelledError",
    "ReactorLoop",
    "TwistedFuture",
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

CLASS_PREFIX = "Twisted"

_T = TypeVar("_T")

_log = Logger(namespace="motor")

#: The default number of worker threads of a client (``MOTOR_MAX_WORKERS`` if set); a client's own
#: default also follows its ``maxPoolSize``.
max_workers: int = _engine.default_max_workers(None)

_REACTOR_MODULE = "twisted.internet.reactor"


class _Retrieved(DebugInfo):
    """The debug record of a Deferred whose failure was retrieved with :meth:`TwistedFuture.exception`.

    Twisted logs "Unhandled error in Deferred" when a Deferred that ends in a failure is collected;
    it keeps that failure in the Deferred's ``DebugInfo``, and sets it again each time the callback
    chain settles. A retrieved failure is handled, as an asyncio Future's is.
    """

    @property
    def failResult(self) -> Failure | None:
        return None

    @failResult.setter
    def failResult(self, failure: Failure | None) -> None:
        pass


class TwistedFuture(Deferred[_T]):
    """A Deferred with the shape of :class:`motor.frameworks.interface.Future`.

    Its canceller records the cancellation, so that the engine skips a call not yet started and
    discards a running call's result; :meth:`~twisted.internet.defer.Deferred.cancel` then fails
    it with :exc:`~twisted.internet.defer.CancelledError`, as for any Deferred.

    Deferred keeps its outcome in its ``result`` attribute, which its callback chain reads and
    replaces, so that attribute stays Twisted's: ``yield`` or ``await`` a TwistedFuture, or add
    callbacks, to get the outcome.
    """

    def __init__(self, loop: ReactorLoop, on_cancel: Callable[[], object] | None = None) -> None:
        super().__init__(_canceller)
        self._motor_loop = loop
        self._motor_cancelled = False
        self._motor_on_cancel = on_cancel

    def _mark_cancelled(self) -> None:
        # Worker threads read the flag without a lock: a call they have not started is skipped.
        self._motor_cancelled = True
        if self._motor_on_cancel is not None:
            self._motor_on_cancel()

    def done(self) -> bool:
        """Return whether it has fired (with a result, a failure, or its cancellation)."""
        return self.called

    def cancelled(self) -> bool:
        """Return whether it was cancelled before it fired (any thread may ask)."""
        return self._motor_cancelled

    def cancel(self) -> bool:  # type: ignore[override]
        """Cancel it unless it has fired; return whether it is now cancelled.

        Its :exc:`~twisted.internet.defer.CancelledError` is not logged as an unhandled error if
        nobody consumes it: as for an asyncio Future, a cancelled outcome is nobody's.
        """
        super().cancel()
        if self._motor_cancelled:
            self._handled()
        return self._motor_cancelled

    def _handled(self) -> None:
        if self._debugInfo is not None:
            # The record being replaced logs its failure when it is collected.
            self._debugInfo.failResult = None
        self._debugInfo = _Retrieved()

    def exception(self) -> BaseException | None:
        """Return the exception it failed with, or ``None``; the failure is then handled.

        :raises CancelledError: if it was cancelled.
        :raises RuntimeError: if it has not fired yet.
        """
        if self._motor_cancelled:
            raise CancelledError()
        if not self.called:
            raise RuntimeError("the Deferred has not fired yet")
        outcome = self.result
        if not isinstance(outcome, Failure):
            return None
        self._handled()
        return outcome.value

    def set_result(self, result: _T, /) -> None:
        """Fire it with ``result``."""
        self.callback(result)

    def set_exception(self, exception: BaseException, /) -> None:
        """Fire it with the failure ``exception``."""
        self.errback(exception)

    def add_done_callback(self, fn: Callable[[Any], object], /) -> None:
        """Call ``fn(self)`` when it fires (at once if it has); the outcome passes on unchanged.

        ``fn`` sees the outcome only if it is added before anything that consumes it, such as
        an ``await``.
        """

        def call(outcome: object) -> object:
            try:
                fn(self)
            except Exception as exc:
                self._motor_loop.call_exception_handler(
                    {"message": f"Exception in the done callback {fn!r}", "exception": exc}
                )
            return outcome

        self.addBoth(call)

    def get_loop(self) -> ReactorLoop:
        """Return the reactor's :class:`ReactorLoop`."""
        return self._motor_loop


def _canceller(deferred: Deferred[Any]) -> None:
    assert isinstance(deferred, TwistedFuture)
    deferred._mark_cancelled()


class ReactorLoop:
    """The engine's view of a reactor: Futures are :class:`TwistedFuture`, deliveries go through
    ``reactor.callFromThread``.

    :param reactor: the reactor (the installed one, in practice).
    """

    __slots__ = ("__weakref__", "_closed", "reactor")

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self._closed = False
        # After shutdown the reactor never runs a callFromThread call again: refuse them, so that
        # workers drop results nobody can receive.
        reactor.addSystemEventTrigger("during", "shutdown", self._close)

    def _close(self) -> None:
        self._closed = True

    def create_future(self) -> Future[Any]:
        """Return a new pending :class:`TwistedFuture` (reactor thread)."""
        return TwistedFuture(self)

    def call_soon_threadsafe(self, callback: Callable[..., object], /, *args: Any) -> object:
        """Run ``callback(*args)`` on the reactor thread (``reactor.callFromThread``).

        :raises RuntimeError: if the reactor has shut down.
        """
        if self._closed:
            raise RuntimeError("the reactor has shut down")
        self.reactor.callFromThread(callback, *args)
        return None

    def is_closed(self) -> bool:
        """Return whether the reactor has shut down."""
        return self._closed

    def call_exception_handler(self, context: dict[str, Any], /) -> None:
        """Log an exception nobody awaits through :mod:`twisted.logger`."""
        message = str(context.get("message", "Unhandled exception in Motor"))
        exception = context.get("exception")
        if isinstance(exception, BaseException):
            failure = Failure(exception)  # type: ignore[no-untyped-call]
            _log.failure("{message}", failure, message=message)
        else:
            _log.error("{message}", message=message)

    def __repr__(self) -> str:
        return f"<ReactorLoop {self.reactor!r}>"


_loops: dict[int, ReactorLoop] = {}


def is_event_loop(loop: object) -> bool:
    """Return whether ``loop`` is a Twisted reactor (it provides ``IReactorCore``,
    ``IReactorTime`` and ``IReactorFromThreads``)."""
    return bool(
        IReactorCore.providedBy(loop)
        and IReactorTime.providedBy(loop)
        and IReactorFromThreads.providedBy(loop)
    )


def check_event_loop(loop: object) -> None:
    """:raises TypeError: unless ``loop`` is a Twisted reactor."""
    if not is_event_loop(loop):
        raise TypeError(
            "io_loop must be a Twisted reactor (providing IReactorCore, IReactorTime and "
            f"IReactorFromThreads), such as twisted.internet.reactor, not {loop!r}"
        )


def _on_reactor_thread() -> bool:
    # The reactor registers its thread as Twisted's I/O thread when it starts.
    return bool(threadable.isInIOThread())  # type: ignore[no-untyped-call]


def _installed_reactor() -> Any:
    # Importing twisted.internet.reactor installs the default reactor: look, without importing.
    return sys.modules.get(_REACTOR_MODULE)


def get_event_loop(io_loop: Any = None) -> Any:
    """Return ``io_loop``, else the installed reactor.

    :raises TypeError: if ``io_loop`` is not a reactor.
    :raises RuntimeError: if no reactor is installed, or if the reactor runs in another thread
        (Deferreds are used on the reactor's thread only: see ``reactor.callFromThread``).
    """
    if io_loop is not None:
        check_event_loop(io_loop)
        return io_loop
    reactor = _installed_reactor()
    if reactor is None:
        raise RuntimeError(
            "Motor needs a Twisted reactor: install one (twisted.internet.asyncioreactor.install()) "
            "or import the default one (from twisted.internet import reactor) before using the client"
        )
    if reactor.running and not _on_reactor_thread():
        raise RuntimeError(
            "Motor's Twisted classes must be used on the reactor's thread; from another thread, "
            "use twisted.internet.threads.blockingCallFromThread"
        )
    return reactor


def engine_loop(io_loop: Any) -> ReactorLoop:
    """Return the :class:`ReactorLoop` of reactor ``io_loop``, the same one each time.

    :raises TypeError: if ``io_loop`` is not a reactor.
    """
    loop = _loops.get(id(io_loop))
    if loop is None or loop.reactor is not io_loop:
        check_event_loop(io_loop)
        loop = _loops[id(io_loop)] = ReactorLoop(io_loop)
    return loop


def running_loop() -> ReactorLoop | None:
    """Return the installed reactor's :class:`ReactorLoop` when called on the reactor's thread while
    it runs, else ``None``."""
    reactor = _installed_reactor()
    if reactor is None or not reactor.running or not _on_reactor_thread():
        return None
    return engine_loop(reactor)


def spawn(loop: EventLoop, coroutine: Coroutine[Any, Any, None]) -> Future[None]:
    """Run ``coroutine`` with :meth:`Deferred.fromCoroutine` (it starts at once); return a
    :class:`TwistedFuture` of its end, whose cancellation cancels the coroutine."""
    assert isinstance(loop, ReactorLoop)
    running: Deferred[None] = Deferred.fromCoroutine(coroutine)
    end: TwistedFuture[None] = TwistedFuture(loop, running.cancel)

    def relay(outcome: object) -> None:
        if end.called:
            return
        if isinstance(outcome, Failure):
            end.errback(outcome)
        else:
            end.callback(None)

    running.addBoth(relay)
    return end


#: Cancelling a Deferred cancels what it awaits once: the awaits of a clean-up after it already wait.
shielded = contextlib.nullcontext


def sleep(seconds: float) -> Awaitable[None]:
    """Return a Deferred that fires after ``seconds`` (``deferLater`` on the installed reactor)."""
    return deferLater(get_event_loop(), seconds)


def platform_info() -> str:
    """Describe this framework for the driver handshake."""
    return f"Twisted {twisted.__version__}"
