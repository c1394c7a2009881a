"""Motor 3's framework helpers, kept for libraries built on Motor.

Motor's own engine does not use these; they exist because the framework modules' public interface
includes them. A Tornado Future is an asyncio Future since Tornado 5, so one implementation serves
both frameworks.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from motor import _engine

__all__ = [
    "add_future",
    "call_soon",
    "chain_future",
    "chain_return_value",
    "get_future",
    "is_future",
    "pymongo_class_wrapper",
    "run_on_executor",
    "yieldable",
]

_T = TypeVar("_T")

_default_executor: _engine.WorkerPool | None = None


def _executor() -> _engine.WorkerPool:
    global _default_executor
    if _default_executor is None:
        _default_executor = _engine.WorkerPool(_engine.default_max_workers(None), "motor-helper")
    return _default_executor


def _reset_after_fork() -> None:
    global _default_executor
    _default_executor = None


_engine.register_after_fork(_reset_after_fork)


def _asyncio_loop(loop: Any) -> asyncio.AbstractEventLoop:
    # Tornado's helpers are given an IOLoop; the asyncio loop underneath does the work.
    return getattr(loop, "asyncio_loop", loop)  # type: ignore[no-any-return]


def get_future(loop: Any) -> asyncio.Future[Any]:
    """Return a new Future bound to ``loop`` (an asyncio loop or a Tornado IOLoop)."""
    return _asyncio_loop(loop).create_future()


def is_future(f: object) -> bool:
    """Return whether ``f`` is a Future (asyncio's, and so Tornado's)."""
    return asyncio.isfuture(f)


def call_soon(loop: Any, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Schedule ``callback(*args, **kwargs)`` on ``loop``, from any thread."""
    _asyncio_loop(loop).call_soon_threadsafe(functools.partial(callback, *args, **kwargs))


def add_future(
    loop: Any,
    future: asyncio.Future[Any],
    callback: Callable[..., Any],
    *args: Any,
) -> None:
    """Call ``callback(*args, future)`` on ``loop`` when ``future`` is done."""
    future.add_done_callback(functools.partial(_asyncio_loop(loop).call_soon_threadsafe, callback, *args))


def chain_future(a: asyncio.Future[_T], b: asyncio.Future[_T]) -> None:
    """Copy the outcome of Future ``a`` to Future ``b`` when ``a`` is done."""

    def copy(future: asyncio.Future[_T]) -> None:
        if b.done():
            return
        if future.cancelled():
            b.cancel()
        elif future.exception() is not None:
            b.set_exception(future.exception())  # type: ignore[arg-type]
        else:
            b.set_result(future.result())

    a.add_done_callback(copy)


def chain_return_value(future: asyncio.Future[Any], loop: Any, return_value: _T) -> asyncio.Future[_T]:
    """Return a Future that resolves to ``return_value`` once ``future`` succeeds.

    If ``future`` fails, the returned Future fails with the same exception.
    """
    chained: asyncio.Future[_T] = _asyncio_loop(loop).create_future()

    def copy(f: asyncio.Future[Any]) -> None:
        if chained.done():
            return
        if f.cancelled():
            chained.cancel()
        elif f.exception() is not None:
            chained.set_exception(f.exception())  # type: ignore[arg-type]
        else:
            chained.set_result(return_value)

    future.add_done_callback(copy)
    return chained


def run_on_executor(loop: Any, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> asyncio.Future[_T]:
    """Run ``fn(*args, **kwargs)`` on a shared thread pool; return a Future of ``loop``.

    Motor's classes use their client's own pool; this shared pool is for third-party helpers.
    """
    kwargs.pop("_strict", None)
    loop = _asyncio_loop(loop)
    future: asyncio.Future[_T] = loop.create_future()
    _executor().submit(
        _engine._work, _engine.mailbox(loop), future, contextvars.copy_context(), fn, args, kwargs
    )
    return future


def pymongo_class_wrapper(
    f: Callable[..., Awaitable[Any]], pymongo_class: type
) -> Callable[..., Awaitable[Any]]:
    """Decorate a coroutine method so that a ``pymongo_class`` result comes back wrapped.

    The method's object must have a ``wrap`` method, as Motor's clients, databases and
    collections do.
    """

    @functools.wraps(f)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = await f(self, *args, **kwargs)
        if isinstance(result, pymongo_class):
            return self.wrap(result)
        return result

    return wrapper


def yieldable(future: _T) -> _T:
    """Deprecated: a Future can be awaited or yielded as it is."""
    # Motor 3's message (the Tornado module's ends with a period): applications filter on it.
    warnings.warn(
        "The yieldable function is deprecated and may be removed in a future major release",
        DeprecationWarning,
        stacklevel=2,
    )
    return future
