"""The anyio framework: classes prefixed ``AnyIO``, for libraries written against anyio.

Each call works on the backend that runs it: on asyncio (``anyio.run(main)``, or any asyncio
program) it returns an asyncio Future, as :mod:`motor.frameworks.asyncio` does; in a trio run
(``anyio.run(main, backend="trio")``) a :class:`~motor.frameworks.trio.TrioFuture`, as
:mod:`motor.frameworks.trio` does. anyio's cancel scopes are their backend's, so cancellation
keeps Motor's semantics on both: a call not yet started never runs, a running call completes on
its worker and its result is discarded.

trio is imported only when a trio run is found, so the asyncio side needs only anyio.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Coroutine
from typing import Any

import anyio

from motor import _engine
from motor.frameworks import _on_asyncio
from motor.frameworks.interface import EventLoop, Future

__all__ = [
    "CLASS_PREFIX",
    "CancelledError",
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

CLASS_PREFIX = "AnyIO"

#: The default number of worker threads of a client (``MOTOR_MAX_WORKERS`` if set); a client's own
#: default also follows its ``maxPoolSize``.
max_workers: int = _engine.default_max_workers(None)


def _trio() -> Any:
    # The trio framework, if trio is imported at all (a trio run imports it first).
    if "trio" not in sys.modules:
        return None
    from motor.frameworks import trio as trio_framework

    return trio_framework


#: What a cancelled caller's await raises: asyncio's CancelledError or trio's Cancelled, depending
#: on the backend running the caller. Declared only: the module's ``__getattr__`` answers each time.
CancelledError: type[BaseException]


def __getattr__(name: str) -> Any:
    if name == "CancelledError":
        trio_framework = _trio()
        if trio_framework is not None and _on_asyncio.running_loop() is None:
            return trio_framework.CancelledError
        return asyncio.CancelledError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_event_loop(loop: object) -> bool:
    """Return whether ``loop`` is an asyncio loop or a trio run's token."""
    if isinstance(loop, asyncio.AbstractEventLoop):
        return True
    trio_framework = _trio()
    return trio_framework is not None and bool(trio_framework.is_event_loop(loop))


def check_event_loop(loop: object) -> None:
    """:raises TypeError: unless ``loop`` is an asyncio loop or a trio run's token."""
    if not is_event_loop(loop):
        raise TypeError(
            "io_loop must be an asyncio event loop or a trio run's token "
            f"(trio.lowlevel.current_trio_token()), not {loop!r}"
        )


def get_event_loop(io_loop: Any = None) -> Any:
    """Return ``io_loop`` if given, else the running asyncio loop or the current trio run's token.

    :raises TypeError: if ``io_loop`` is neither.
    :raises RuntimeError: if no loop is given and neither backend is running in this thread.
    """
    if io_loop is not None:
        check_event_loop(io_loop)
        return io_loop
    loop = _on_asyncio.running_loop()
    if loop is not None:
        return loop
    trio_framework = _trio()
    if trio_framework is not None and trio_framework.running_loop() is not None:
        return trio_framework.get_event_loop()
    raise RuntimeError(
        "Motor's anyio classes need a running backend: call them from a task of anyio.run(main), "
        "on asyncio or trio"
    )


def running_loop() -> EventLoop | None:
    """Return the running asyncio loop, else the current trio run's loop, else ``None``."""
    loop = _on_asyncio.running_loop()
    if loop is not None:
        return loop
    trio_framework = _trio()
    return None if trio_framework is None else trio_framework.running_loop()


def engine_loop(io_loop: Any) -> EventLoop:
    """Return the engine's loop for ``io_loop``: an asyncio loop itself, a trio token's run.

    :raises TypeError: if ``io_loop`` is neither.
    """
    check_event_loop(io_loop)
    if isinstance(io_loop, asyncio.AbstractEventLoop):
        return io_loop
    return _trio().engine_loop(io_loop)  # type: ignore[no-any-return]


def spawn(loop: EventLoop, coroutine: Coroutine[Any, Any, None]) -> Future[None]:
    """Run ``coroutine`` in the background on ``loop``'s backend; return a Future of its end."""
    if isinstance(loop, asyncio.AbstractEventLoop):
        return _on_asyncio.spawn(loop, coroutine)
    return _trio().spawn(loop, coroutine)  # type: ignore[no-any-return]


def shielded() -> anyio.CancelScope:
    """A shielded cancel scope: anyio cancels every await of a cancelled scope, a clean-up's too."""
    return anyio.CancelScope(shield=True)


def sleep(seconds: float) -> Awaitable[None]:
    """Return an awaitable that waits ``seconds`` on the running backend (:func:`anyio.sleep`)."""
    return anyio.sleep(seconds)


def platform_info() -> str:
    """Describe this framework for the driver handshake."""
    from importlib.metadata import version

    return f"anyio {version('anyio')}"
