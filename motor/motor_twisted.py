"""Motor's classes for Twisted: ``TwistedMotorClient`` and the rest, whose awaitable methods return
Deferreds (see :mod:`motor.frameworks.twisted`).

The classes are generated from the ``"twisted"`` entry of the framework registry,
:mod:`motor.frameworks`; ``motor_twisted.pyi`` declares them for type checkers. Needs the
``twisted`` extra (``pip install motor[twisted]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from motor.frameworks import generate_classes

__all__: list[str] = []

_classes = generate_classes("twisted")
globals().update(_classes)
__all__.extend(sorted(_classes))

if TYPE_CHECKING:
    # mypy, run on Motor's own sources, reads this file rather than the stub that declares the
    # classes; importers get the stub.
    def __getattr__(name: str) -> Any: ...
