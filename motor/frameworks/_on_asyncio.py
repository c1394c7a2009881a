"""The engine's side of the frameworks that run on an asyncio loop (asyncio and Tornado).

An asyncio loop and its Futures are the engine's :class:`~motor.frameworks.interface.EventLoop`
and :class:`~motor.frameworks.interface.Future` as they are: nothing is wrapped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from motor.frameworks.interface import EventLoop, Future

__all__ = ["CancelledError", "running_loop", "shielded", "sleep", "spawn"]

CancelledError = asyncio.CancelledError

# The C function behind asyncio.get_running_loop() that returns None instead of raising: the
# engine asks for the running loop on every operation. asyncio exports it for loop implementors.
running_loop = asyncio._get_running_loop

sleep = asyncio.sleep

#: asyncio cancels a Task once: the awaits of its clean-up, after the CancelledError, already wait.
shielded = contextlib.nullcontext


def spawn(loop: EventLoop, coroutine: Coroutine[Any, Any, None]) -> Future[None]:
    """Run ``coroutine`` as a Task of ``loop`` (an asyncio loop); return the Task."""
    assert isinstance(loop, asyncio.AbstractEventLoop)
    return loop.create_task(coroutine)
