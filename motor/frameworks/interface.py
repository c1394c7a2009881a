"""The interface a framework module offers to Motor's engine.

A framework is a module (or any object) that satisfies :class:`Framework`. Motor ships two,
:mod:`motor.frameworks.asyncio` and :mod:`motor.frameworks.tornado`; a third party can write its own
and pass it to :func:`motor.metaprogramming.create_class_with_framework`.

The engine needs very little from a framework, because every framework Motor supports runs on an
asyncio event loop: it needs to know what the framework calls an event loop, how to find the current
one, and how to reach the asyncio loop underneath. Everything else (the thread pool, context
propagation, result delivery, fork handling) is written once in :mod:`motor._engine`.

The legacy helpers of Motor 3's framework modules (``add_future``, ``chain_future``, ...) are
offered by both framework modules for libraries that call them, but the engine does not use them,
so a new framework does not have to provide them.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol, runtime_checkable

__all__ = ["Framework"]


@runtime_checkable
class Framework(Protocol):
    """What :func:`~motor.metaprogramming.create_class_with_framework` requires of a framework."""

    #: Prefix of the generated class names: ``"AsyncIO"`` gives ``AsyncIOMotorClient``.
    CLASS_PREFIX: str

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

    def to_asyncio_loop(self, io_loop: Any) -> asyncio.AbstractEventLoop:
        """Return the asyncio event loop that runs this framework's ``io_loop``."""
        ...

    def platform_info(self) -> str:
        """Describe the framework for the driver handshake, e.g. ``"Tornado 6.5"``."""
        ...
