"""The frameworks Motor ships classes for, in one registry.

Each :class:`RegisteredFramework` names a framework module (which satisfies
:class:`~motor.frameworks.interface.Framework`), the module of its generated classes, the prefix of
their names and the extra that installs what the framework needs. The registry drives:

- the generated modules (``motor/motor_asyncio.py``, ``motor/motor_tornado.py``,
  ``motor/motor_trio.py``, ``motor/motor_twisted.py``, ``motor/motor_anyio.py``): each calls
  :func:`generate_classes` for its entry, which creates one class per :data:`AGNOSTIC_CLASSES`;
- the stub generator (``tools/gen_stubs.py``), which writes a stub for each generated module;
- the test suite's ``flavor`` fixture, which runs behaviour tests once per framework and each loop
  of its :attr:`~RegisteredFramework.runs`;
- the completeness tests, once per framework.

Adding a framework means a framework module, an entry of :data:`FRAMEWORKS` and a short generated
module like ``motor/motor_asyncio.py``; then regenerate the stubs.

Framework modules are imported only when their classes are generated, since a framework's own
package (Tornado, trio, Twisted) is an optional extra.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

__all__ = [
    "AGNOSTIC_CLASSES",
    "FRAMEWORKS",
    "RegisteredFramework",
    "generate_classes",
    "registered",
]


@dataclass(frozen=True)
class RegisteredFramework:
    """A framework Motor ships classes for."""

    #: Short name, as in ``MOTOR_TEST_LOOP`` and test ids: ``"asyncio"``.
    name: str
    #: The framework module: ``"motor.frameworks.asyncio"``.
    framework_module: str
    #: The module of the generated classes: ``"motor.motor_asyncio"``.
    classes_module: str
    #: The framework module's ``CLASS_PREFIX``, known without importing it: ``"AsyncIO"``.
    class_prefix: str
    #: The extra of ``pyproject.toml`` that installs the framework, or ``None`` if it needs none.
    extra: str | None
    #: The type of the Futures its awaitable methods return, as ``"module.Name"`` (for the stubs).
    future: str = "asyncio.Future"
    #: The event loops its classes run on: ``"asyncio"`` (an asyncio loop, Tornado's included),
    #: ``"trio"`` (a trio run), ``"twisted"`` (the reactor). The test suite runs the behaviour tests
    #: once per framework and loop of this list.
    runs: tuple[str, ...] = ("asyncio",)

    def framework(self) -> Any:
        """Import and return the framework module.

        :raises ImportError: if the framework's package is not installed (see :attr:`extra`).
        """
        return importlib.import_module(self.framework_module)

    def classes(self) -> ModuleType:
        """Import and return the module of generated classes."""
        return importlib.import_module(self.classes_module)

    def class_name(self, agnostic_name: str) -> str:
        """The generated class's name for ``__motor_class_name__`` ``agnostic_name`` ("MotorClient")."""
        return self.class_prefix + agnostic_name


FRAMEWORKS: tuple[RegisteredFramework, ...] = (
    RegisteredFramework("asyncio", "motor.frameworks.asyncio", "motor.motor_asyncio", "AsyncIO", None),
    RegisteredFramework("tornado", "motor.frameworks.tornado", "motor.motor_tornado", "", "tornado"),
    RegisteredFramework(
        "twisted",
        "motor.frameworks.twisted",
        "motor.motor_twisted",
        "Twisted",
        "twisted",
        future="motor.frameworks.twisted.TwistedFuture",
        runs=("twisted",),
    ),
    RegisteredFramework(
        "trio",
        "motor.frameworks.trio",
        "motor.motor_trio",
        "Trio",
        "trio",
        future="motor.frameworks.trio.TrioFuture",
        runs=("trio",),
    ),
    # An asyncio Future or a TrioFuture, depending on the backend running the call.
    RegisteredFramework(
        "anyio",
        "motor.frameworks.anyio",
        "motor.motor_anyio",
        "AnyIO",
        "anyio",
        future="collections.abc.Awaitable",
        runs=("asyncio", "trio"),
    ),
)

#: The agnostic classes every framework gets a class of, as ``(module, class name)``: named rather
#: than imported, because :mod:`motor.core` imports this package.
AGNOSTIC_CLASSES: tuple[tuple[str, str], ...] = (
    ("motor.core", "AgnosticClient"),
    ("motor.core", "AgnosticDatabase"),
    ("motor.core", "AgnosticCollection"),
    ("motor.core", "AgnosticCursor"),
    ("motor.core", "AgnosticRawBatchCursor"),
    ("motor.core", "AgnosticCommandCursor"),
    ("motor.core", "AgnosticRawBatchCommandCursor"),
    ("motor.core", "AgnosticLatentCommandCursor"),
    ("motor.core", "AgnosticChangeStream"),
    ("motor.core", "AgnosticClientSession"),
    ("motor.core", "AgnosticClientEncryption"),
    ("motor.motor_gridfs", "AgnosticGridFSBucket"),
    ("motor.motor_gridfs", "AgnosticGridIn"),
    ("motor.motor_gridfs", "AgnosticGridOut"),
    ("motor.motor_gridfs", "AgnosticGridOutCursor"),
)


def registered(name: str) -> RegisteredFramework:
    """Return the entry of :data:`FRAMEWORKS` named ``name``.

    :raises LookupError: if no framework has that name.
    """
    for entry in FRAMEWORKS:
        if entry.name == name:
            return entry
    raise LookupError(f"no framework named {name!r}; Motor ships {', '.join(e.name for e in FRAMEWORKS)}")


def generate_classes(name: str) -> dict[str, type[Any]]:
    """Create framework ``name``'s class of each of :data:`AGNOSTIC_CLASSES`, by class name.

    :raises LookupError: if no framework has that name.
    :raises ValueError: if the framework module's ``CLASS_PREFIX`` differs from the registry's.
    """
    from motor.metaprogramming import create_class_with_framework

    entry = registered(name)
    framework = entry.framework()
    if entry.class_prefix != framework.CLASS_PREFIX:
        raise ValueError(
            f"{entry.framework_module}.CLASS_PREFIX is {framework.CLASS_PREFIX!r}, "
            f"but the registry says {entry.class_prefix!r}"
        )
    classes: dict[str, type[Any]] = {}
    for module_name, class_name in AGNOSTIC_CLASSES:
        agnostic = getattr(importlib.import_module(module_name), class_name)
        generated = create_class_with_framework(agnostic, framework, entry.classes_module)
        classes[generated.__name__] = generated
    return classes
