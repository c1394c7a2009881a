"""The Tornado framework: classes prefixed ``Motor``, futures of the IOLoop's asyncio loop."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import tornado
from tornado import gen
from tornado.ioloop import IOLoop

from motor import _engine
from motor.frameworks import _legacy
from motor.frameworks._legacy import *  # noqa: F403 - the helpers both frameworks share
from motor.frameworks._on_asyncio import CancelledError, running_loop, shielded, sleep, spawn

__all__ = [
    "CLASS_PREFIX",
    "CancelledError",
    "check_event_loop",
    "coroutine",
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
__all__.extend(_legacy.__all__)

CLASS_PREFIX = ""

_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")


#: The default number of worker threads of a client (``MOTOR_MAX_WORKERS`` if set), as Motor 3
#: named it; a client's own default also follows its ``maxPoolSize``.
max_workers: int = _engine.default_max_workers(None)


def is_event_loop(loop: object) -> bool:
    """Return whether ``loop`` is a Tornado IOLoop."""
    return isinstance(loop, IOLoop)


def check_event_loop(loop: object) -> None:
    """:raises TypeError: unless ``loop`` is a Tornado IOLoop."""
    if not is_event_loop(loop):
        raise TypeError(f"io_loop must be a tornado.ioloop.IOLoop, not {loop!r}")


def get_event_loop(io_loop: Any = None) -> IOLoop:
    """Return ``io_loop``, else the current IOLoop.

    :raises TypeError: if ``io_loop`` is not an IOLoop.
    :raises RuntimeError: if no loop is given and there is no current IOLoop.
    """
    if io_loop is not None:
        check_event_loop(io_loop)
        return io_loop  # type: ignore[no-any-return]
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        # Inside a running asyncio loop, Tornado makes (once) the IOLoop that wraps it.
        return IOLoop.current()
    with warnings.catch_warnings():
        # Outside a running loop, Python 3.12+ warns where it would create one: treat as "none".
        warnings.simplefilter("error", DeprecationWarning)
        try:
            current = IOLoop.current(instance=False)
        except (RuntimeError, DeprecationWarning):
            current = None
    if current is None:
        raise RuntimeError(
            "Motor needs a Tornado IOLoop: call it from a coroutine running on the IOLoop "
            "(IOLoop.current().run_sync(main) or asyncio.run(main())), or create the client "
            "with io_loop=IOLoop.current()"
        )
    return current


def engine_loop(io_loop: Any) -> asyncio.AbstractEventLoop:
    """Return the asyncio loop under a Tornado IOLoop: the engine delivers results there."""
    check_event_loop(io_loop)
    return io_loop.asyncio_loop  # type: ignore[no-any-return]


def platform_info() -> str:
    """Describe this framework for the driver handshake."""
    return f"Tornado {tornado.version}"


# Replaces the shared helper only for its message: Motor 3's Tornado module ended it with a period.
def yieldable(future: _T) -> _T:  # type: ignore[no-redef]
    """Deprecated: a Future can be awaited or yielded as it is."""
    warnings.warn(
        "The yieldable function is deprecated and may be removed in a future major release.",
        DeprecationWarning,
        stacklevel=2,
    )
    return future


def coroutine(f: _F) -> _F:
    """Deprecated: write ``async def`` (or use ``tornado.gen.coroutine``) instead."""
    warnings.warn(
        "motor.frameworks.tornado.coroutine is deprecated: use async def",
        DeprecationWarning,
        stacklevel=2,
    )
    return gen.coroutine(f)  # type: ignore[return-value]
