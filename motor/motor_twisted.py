"""Motor's classes for Twisted: ``TwistedMotorClient`` and the rest, whose awaitable methods return
Deferreds (see :mod:`motor.frameworks.twisted`).

Needs the ``twisted`` extra (``pip install motor[twisted]``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from motor.frameworks import AGNOSTIC_CLASSES
from motor.frameworks import twisted as twisted_framework
from motor.metaprogramming import create_class_with_framework

__all__: list[str] = []

for _module_name, _class_name in AGNOSTIC_CLASSES:
    _class = create_class_with_framework(
        getattr(importlib.import_module(_module_name), _class_name), twisted_framework, __name__
    )
    globals()[_class.__name__] = _class
    __all__.append(_class.__name__)
__all__.sort()

if TYPE_CHECKING:
    # mypy reads this file for Motor's own sources; the generated classes are dynamic.
    def __getattr__(name: str) -> Any: ...


def create_twisted_class(cls: type[Any]) -> type[Any]:
    """Return ``cls``'s Twisted class."""
    return create_class_with_framework(cls, twisted_framework, __name__)
