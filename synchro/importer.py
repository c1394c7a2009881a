"""Synchro as ``pymongo``: facade modules, and an import hook for PyMongo's test package.

:func:`facade` returns, for a real module name such as ``"pymongo.synchronous.collection"``,
either the real module (when it holds no I/O API: ``pymongo.errors``, ``bson``, ...) or a facade
module in which the I/O classes are Synchro's (:data:`SUBSTITUTES`) and every other attribute is
the real module's. Packages on the way to a substituted module (``pymongo``,
``pymongo.synchronous``, ``gridfs``) are facades too, so that ``pymongo.synchronous.mongo_client
.MongoClient`` reaches Synchro's class however it is spelled.

The real PyMongo stays in :data:`sys.modules` under its own names: Motor and PyMongo itself use it.
Only the modules that :class:`RedirectingFinder` loads (PyMongo's test package) see the facades:
the finder, a :data:`sys.meta_path` finder, gives each of those modules a ``__builtins__`` whose
``__import__`` maps ``import pymongo...`` and ``import gridfs...`` to the facades.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types
from collections.abc import Mapping, Sequence
from typing import Any

import synchro

__all__ = ["PACKAGES", "ROOTS", "SUBSTITUTES", "RedirectingFinder", "facade", "install", "redirecting_import"]

#: Top-level packages whose imports are redirected.
ROOTS = frozenset({"pymongo", "gridfs"})


def _names(*names: str) -> dict[str, Any]:
    return {name: getattr(synchro, name) for name in names if hasattr(synchro, name)}


_CLIENT = _names("MongoClient")
_DATABASE = _names("Database")
_COLLECTION = _names("Collection")
_CURSOR = _names("Cursor", "RawBatchCursor")
_COMMAND_CURSOR = _names("CommandCursor", "RawBatchCommandCursor")
_CHANGE_STREAM = _names(
    "ChangeStream", "CollectionChangeStream", "DatabaseChangeStream", "ClusterChangeStream"
)
_SESSION = _names("ClientSession")
_ENCRYPTION = _names("ClientEncryption")
_GRIDFS = _names("GridFSBucket", "GridIn", "GridOut", "GridOutCursor")

#: Attributes replaced by Synchro's, by real module name. Every other attribute is the real one.
SUBSTITUTES: Mapping[str, Mapping[str, Any]] = {
    "pymongo": _CLIENT,
    "pymongo.mongo_client": _CLIENT,
    "pymongo.synchronous.mongo_client": _CLIENT,
    "pymongo.database": _DATABASE,
    "pymongo.synchronous.database": _DATABASE,
    "pymongo.collection": _COLLECTION,
    "pymongo.synchronous.collection": _COLLECTION,
    "pymongo.cursor": _CURSOR,
    "pymongo.synchronous.cursor": _CURSOR,
    "pymongo.command_cursor": _COMMAND_CURSOR,
    "pymongo.synchronous.command_cursor": _COMMAND_CURSOR,
    "pymongo.change_stream": _CHANGE_STREAM,
    "pymongo.synchronous.change_stream": _CHANGE_STREAM,
    "pymongo.client_session": _SESSION,
    "pymongo.synchronous.client_session": _SESSION,
    "pymongo.encryption": _ENCRYPTION,
    "pymongo.synchronous.encryption": _ENCRYPTION,
    "gridfs": _GRIDFS,
    "gridfs.grid_file": _GRIDFS,
    "gridfs.synchronous.grid_file": _GRIDFS,
}

#: Packages that are facades only so that their substituted submodules are reached.
PACKAGES = frozenset({"pymongo.synchronous", "gridfs.synchronous"})

_FACADES: dict[str, types.ModuleType] = {}


class FacadeModule(types.ModuleType):
    """A real module seen through Synchro: substituted attributes first, then the real module's."""

    __real__: types.ModuleType

    def __getattr__(self, name: str) -> Any:
        full = f"{self.__name__}.{name}"
        if full in SUBSTITUTES or full in PACKAGES:
            return facade(full)
        return getattr(self.__real__, name)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self.__real__)) | set(self.__dict__))


def facade(name: str) -> types.ModuleType:
    """Return what ``import name`` gives PyMongo's tests: a facade module, or the real module."""
    found = _FACADES.get(name)
    if found is not None:
        return found
    real = importlib.import_module(name)
    if name not in SUBSTITUTES and name not in PACKAGES:
        return real
    module = FacadeModule(name, real.__doc__)
    module.__real__ = real
    for attr in ("__file__", "__path__", "__package__", "__spec__", "__loader__"):
        if hasattr(real, attr):
            setattr(module, attr, getattr(real, attr))
    module.__dict__.update(SUBSTITUTES.get(name, {}))
    if "__all__" in vars(real):
        module.__all__ = list(real.__all__)  # type: ignore[attr-defined]
    _FACADES[name] = module
    return module


_real_import = builtins.__import__


def redirecting_import(
    name: str,
    globals: Mapping[str, Any] | None = None,
    locals: Mapping[str, Any] | None = None,
    fromlist: Sequence[str] | None = (),
    level: int = 0,
) -> Any:
    """``__import__`` for PyMongo's tests: ``pymongo`` and ``gridfs`` modules come as facades."""
    module = _real_import(name, globals, locals, fromlist, level)
    if level or name.partition(".")[0] not in ROOTS:
        return module
    return facade(name) if fromlist else facade(name.partition(".")[0])


_REDIRECTING_BUILTINS = dict(vars(builtins), __import__=redirecting_import)


class _RedirectingLoader(importlib.abc.Loader):
    """Wraps the loader another finder chose, and executes the module with redirecting builtins."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__["__builtins__"] = _REDIRECTING_BUILTINS
        self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class RedirectingFinder(importlib.abc.MetaPathFinder):
    """A :data:`sys.meta_path` finder for the modules of one package directory (PyMongo's ``test``).

    It asks the finders after it for the module's spec (so that pytest still rewrites asserts),
    and wraps the loader so that the module sees Synchro as ``pymongo``.

    :param package: the package's name (``"test"``).
    :param directory: the package's directory; modules of that name elsewhere are left alone.
    """

    def __init__(self, package: str, directory: str) -> None:
        self.package = package
        self.directory = os.path.realpath(directory)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.package and not fullname.startswith(self.package + "."):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        origin = os.path.realpath(spec.origin) if spec.origin else ""
        if not origin.startswith(self.directory + os.sep) or spec.loader is None:
            return spec
        spec.loader = _RedirectingLoader(spec.loader)
        return spec

    def move_to_front(self) -> None:
        """Put this finder first in :data:`sys.meta_path` (pytest inserts its own there)."""
        while self in sys.meta_path:
            sys.meta_path.remove(self)
        sys.meta_path.insert(0, self)


def install(package: str, directory: str) -> RedirectingFinder:
    """Make the modules of ``package`` (in ``directory``) see Synchro as ``pymongo``."""
    finder = RedirectingFinder(package, directory)
    finder.move_to_front()
    return finder
