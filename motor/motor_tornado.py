"""Motor's classes for Tornado.

The classes (``MotorClient``, ...) are generated from the ``"tornado"`` entry of the framework
registry, :mod:`motor.frameworks`; ``motor_tornado.pyi`` declares them for type checkers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from motor.frameworks import generate_classes, registered
from motor.metaprogramming import create_class_with_framework

__all__: list[str] = []

_classes = generate_classes("tornado")
globals().update(_classes)
__all__.extend(sorted(_classes))

if TYPE_CHECKING:
    # mypy, run on Motor's own sources, reads this file rather than the stub that declares the
    # classes; importers get the stub.
    def __getattr__(name: str) -> Any: ...


def create_motor_class(cls: type[Any]) -> type[Any]:
    """Return ``cls``'s Tornado class."""
    entry = registered("tornado")
    return create_class_with_framework(cls, entry.framework(), entry.classes_module)
