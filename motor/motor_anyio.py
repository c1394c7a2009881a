"""Motor's classes for anyio.

The classes (``AnyIOMotorClient``, ...) are generated from the ``"anyio"`` entry of the framework
registry, :mod:`motor.frameworks`; ``motor_anyio.pyi`` declares them for type checkers. Their
awaitables are awaited in a task of :func:`anyio.run`, on asyncio or trio (see
:mod:`motor.frameworks.anyio`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from motor.frameworks import generate_classes

__all__: list[str] = []

_classes = generate_classes("anyio")
globals().update(_classes)
__all__.extend(sorted(_classes))

if TYPE_CHECKING:
    # mypy, run on Motor's own sources, reads this file rather than the stub that declares the
    # classes; importers get the stub.
    def __getattr__(name: str) -> Any: ...
