"""The asyncio framework: classes prefixed ``AsyncIO``, futures of the running asyncio loop."""

from __future__ import annotations

import asyncio
import functools
import warnings
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

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

CLASS_PREFIX = "AsyncIO"

_F = TypeVar("_F", bound=Callable[..., Coroutine[Any, Any, Any]])


#: The default number of worker threads of a client (``MOTOR_MAX_WORKERS`` if set), as Motor 3
#: named it; a client's own default also follows its ``maxPoolSize``.
max_workers: int = _engine.default_max_workers(None)


def is_event_loop(loop: object) -> bool:
    """Return whether ``loop`` is an asyncio event loop."""
    return isinstance(loop, asyncio.AbstractEventLoop)


def check_event_loop(loop: object) -> None:
    """:raises TypeError: unless ``loop`` is an asyncio event loop."""
    if not is_event_loop(loop):
        raise TypeError(f"io_loop must be an asyncio event loop (asyncio.AbstractEventLoop), not {loop!r}")


def get_event_loop(io_loop: Any = None) -> asyncio.AbstractEventLoop:
    """Return ``io_loop``, else the running loop, else the loop set for this thread.

    :raises TypeError: if ``io_loop`` is not an asyncio loop.
    :raises RuntimeError: if no loop is given, running, or set.
    """
    if io_loop is not None:
        check_event_loop(io_loop)
        return io_loop  # type: ignore[no-any-return]
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    with warnings.catch_warnings():
        # Python 3.12+ warns (and would create a loop) when none is set: treat that as "none".
        warnings.simplefilter("error", DeprecationWarning)
        try:
            return asyncio.get_event_loop_policy().get_event_loop()
        except (RuntimeError, DeprecationWarning):
            pass
    raise RuntimeError(
        "Motor needs an asyncio event loop: call it from a coroutine (asyncio.run(main())), "
        "or create the client with io_loop=loop"
    )


def engine_loop(io_loop: Any) -> asyncio.AbstractEventLoop:
    """Return ``io_loop`` itself: an asyncio loop is the engine's event loop as it is."""
    check_event_loop(io_loop)
    return io_loop  # type: ignore[no-any-return]


def platform_info() -> str:
    """Describe this framework for the driver handshake."""
    return "asyncio"


def coroutine(f: _F) -> _F:
    """Deprecated: write ``async def`` instead."""
    warnings.warn(
        "motor.frameworks.asyncio.coroutine is deprecated: use async def",
        DeprecationWarning,
        stacklevel=2,
    )

    @functools.wraps(f)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        return await f(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
