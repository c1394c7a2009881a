"""Motor's classes for trio.

The classes (``TrioMotorClient``, ...) are generated from the ``"trio"`` entry of the framework
registry, :mod:`motor.frameworks`; ``motor_trio.pyi`` declares them for type checkers. Their
awaitables are :class:`~motor.frameworks.trio.TrioFuture` objects, to be awaited in a task of
:func:`trio.run`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from motor.frameworks import generate_classes

__all__: list[str] = []

_classes = generate_classes("trio")
globals().update(_classes)
__all__.extend(sorted(_classes))

if TYPE_CHECKING:
    # mypy, run on Motor's own sources, reads this file rather than the stub that declares the
    # classes; importers get the stub.
    def __getattr__(name: str) -> Any: ...
