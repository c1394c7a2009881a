"""The interface a framework module offers to Motor's engine.

A framework is a module (or any object) that satisfies :class:`Framework`. Motor ships four:
:mod:`motor.frameworks.asyncio`, :mod:`motor.frameworks.tornado`, and :mod:`motor.frameworks.trio`
and :mod:`motor.frameworks.twisted`, whose runs and Futures are their own. A third party can write
its own and pass it to :func:`motor.metaprogramming.create_class_with_framework`.

The engine (:mod:`motor._engine`) runs each PyMongo call on a worker thread and needs four things
from a framework, and nothing else:

- to identify the caller's run, an :class:`EventLoop` (:meth:`Framework.running_loop`, or
  :meth:`Framework.engine_loop` for a client pinned to an ``io_loop``);
- to make the awaitable a call returns, a :class:`Future` of that run
  (:meth:`EventLoop.create_future`);
- to deliver an outcome into the run from a worker thread without blocking
  (:meth:`EventLoop.call_soon_threadsafe`, then :meth:`Future.set_result` on the run's thread);
- to learn of the caller's cancellation (:meth:`Future.cancelled`, and
  :attr:`Framework.CancelledError` in Motor's own coroutines).

An asyncio loop and an asyncio Future satisfy :class:`EventLoop` and :class:`Future` as they are,
so the asyncio and Tornado frameworks cost the engine nothing; a framework without them (trio,
Twisted) wraps its run and its awaitable in small classes of these shapes. Everything else (the
thread pool, context propagation, result delivery, fork handling) is written once in the engine.

The legacy helpers of Motor 3's framework modules (``add_future``, ``chain_future``, ...) are
offered by both framework modules for libraries that call them, but the engine does not use them,
so a new framework does not have to provide them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Generator
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = ["EventLoop", "Framework", "Future"]

_T = TypeVar("_T")


class Future(Protocol[_T]):
    """The awaitable an engine call returns, resolved once on its run's thread.

    Its methods other than :meth:`cancelled` and :meth:`done` are called on the run's thread only.
    """

    def done(self) -> bool:
        """Return whether the Future has a result, an exception, or was cancelled."""
        ...

    def cancelled(self) -> bool:
        """Return whether the caller cancelled it (any thread may ask)."""
        ...

    def cancel(self) -> object:
        """Cancel it unless it is done (the caller's cancellation, seen by :meth:`cancelled`)."""
        ...

    def exception(self) -> BaseException | None:
        """Return the exception it was resolved with, or ``None``; retrieving it marks it handled.

        :raises BaseException: the framework's cancellation, if it was cancelled.
        """
        ...

    def set_result(self, result: _T, /) -> None:
        """Resolve it with ``result``."""
        ...

    def set_exception(self, exception: BaseException, /) -> None:
        """Resolve it with ``exception``."""
        ...

    def add_done_callback(self, fn: Callable[[Any], object], /) -> None:
        """Call ``fn(future)`` on the run's thread once it is done."""
        ...

    def get_loop(self) -> EventLoop:
        """Return the run it belongs to."""
        ...

    def __await__(self) -> Generator[Any, None, _T]: ...


@runtime_checkable
class EventLoop(Protocol):
    """One run of a framework (an asyncio loop, a trio run, a reactor), as the engine sees it."""

    def create_future(self) -> Future[Any]:
        """Return a new pending :class:`Future` of this run (run's thread)."""
        ...

    def call_soon_threadsafe(self, callback: Callable[..., object], /, *args: Any) -> object:
        """Schedule ``callback(*args)`` on the run's thread, from any thread, without blocking.

        :raises RuntimeError: if the run is over: the callback would never run.
        """
        ...

    def is_closed(self) -> bool:
        """Return whether the run is over."""
        ...

    def call_exception_handler(self, context: dict[str, Any], /) -> None:
        """Report an exception nobody awaits (``context["exception"]``, ``context["message"]``)."""
        ...


@runtime_checkable
class Framework(Protocol):
    """What :func:`~motor.metaprogramming.create_class_with_framework` requires of a framework."""

    #: Prefix of the generated class names: ``"AsyncIO"`` gives ``AsyncIOMotorClient``.
    CLASS_PREFIX: str

    @property
    def CancelledError(self) -> type[BaseException]:
        """The exception a cancelled caller's await raises (``asyncio.CancelledError``), which
        Motor's own coroutines let through after their clean-up."""
        ...

    def is_event_loop(self, loop: object) -> bool:
        """Return whether ``loop`` is an event loop of this framework."""
        ...

    def check_event_loop(self, loop: object) -> None:
        """Raise :exc:`TypeError`, naming the problem, unless ``loop`` is this framework's loop."""
        ...

    def get_event_loop(self, io_loop: Any = None) -> Any:
        """Return ``io_loop`` if given, else this framework's current event loop.

        :raises RuntimeError: if no loop is given and none is running or set.
        """
        ...

    def running_loop(self) -> EventLoop | None:
        """Return the run the calling code runs in, or ``None`` outside one. Called on every
        operation: it must be cheap."""
        ...

    def engine_loop(self, io_loop: Any) -> EventLoop:
        """Return the run of this framework's event loop ``io_loop`` (for a pinned client)."""
        ...

    def spawn(self, loop: EventLoop, coroutine: Coroutine[Any, Any, None]) -> Future[None]:
        """Run ``coroutine`` in ``loop`` in the background; return a Future of its end."""
        ...

    def sleep(self, seconds: float) -> Awaitable[None]:
        """Return an awaitable that waits ``seconds`` without blocking the run."""
        ...

    def shielded(self) -> AbstractContextManager[object]:
        """Return a context manager in which a clean-up the caller awaits completes, even if the
        caller is cancelled meanwhile, before the cancellation takes effect.

        Where a cancellation is delivered once (asyncio, Twisted), awaiting after it already
        waits, and this is a :func:`contextlib.nullcontext`; where it holds for every later await
        of the cancelled scope (trio, anyio), this is a shielded cancel scope.
        """
        ...

    def platform_info(self) -> str:
        """Describe the framework for the driver handshake, e.g. ``"Tornado 6.5"``."""
        ...
