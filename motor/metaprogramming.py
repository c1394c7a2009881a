"""Declarations of wrapped PyMongo attributes, and the classes generated from them.

A framework-agnostic class (``motor.core.AgnosticCollection``, ...) names the PyMongo class it wraps
in ``__delegate_class__`` and declares, one line per attribute, how each PyMongo attribute is
offered::

    class AgnosticCollection(AgnosticBase):
        __delegate_class__ = Collection
        find_one = Async()
        name = ReadOnlyProperty()
        find = CursorMethod(wrap=Cursor)

Each declaration is a :class:`MotorAttributeFactory`: a typed record (its :attr:`kind`, the PyMongo
name, the PyMongo class whose instances it wraps) that :func:`create_class_with_framework` turns
into a real method or property of a framework's class, and that the stub generator and Synchro read
with :func:`declarations`. Attributes that a line cannot express (cursor iteration,
``with_transaction``) are written by hand in the agnostic classes.
"""

from __future__ import annotations

import enum
import functools
import inspect
import types
from collections.abc import Callable
from typing import Any, ClassVar

from pymongo.synchronous.client_session import ClientSession

from motor._engine import Engine, call_in_session
from motor.frameworks.interface import Framework

__all__ = [
    "AgnosticBase",
    "Async",
    "AsyncCommand",
    "AsyncProperty",
    "AsyncRead",
    "AsyncWrite",
    "AttributeKind",
    "ChangeStreamMethod",
    "CursorMethod",
    "DelegateMethod",
    "LatentCursorMethod",
    "MotorAttributeFactory",
    "MotorCursorChainingMethod",
    "ReadOnlyProperty",
    "agnostic_class_for",
    "create_class_with_framework",
    "declarations",
    "unwrap_args",
    "wrap_pymongo",
]


class AttributeKind(enum.Enum):
    """How a declared attribute is offered; see the API contract's "Kinds of attribute"."""

    #: Runs the PyMongo method on a worker thread; returns a Future.
    AWAITABLE = "awaitable"
    #: Reads the PyMongo property at once, on the caller's thread.
    PROPERTY = "property"
    #: Runs the PyMongo method at once, on the caller's thread (it does no I/O).
    METHOD = "method"
    #: A cursor option: runs at once and returns the same cursor.
    CHAINING = "chaining"
    #: Returns a cursor or change stream at once; I/O happens on iteration.
    CURSOR = "cursor"


_AGNOSTIC_BY_DELEGATE: dict[type, type[AgnosticBase]] = {}


def agnostic_class_for(pymongo_class: type) -> type[AgnosticBase] | None:
    """Return the agnostic class that wraps instances of ``pymongo_class`` (or a base of it)."""
    for klass in pymongo_class.__mro__:
        agnostic = _AGNOSTIC_BY_DELEGATE.get(klass)
        if agnostic is not None:
            return agnostic
    return None


class AgnosticBase:
    """Base of every framework-agnostic class: it holds the PyMongo object it wraps.

    Subclasses set ``__motor_class_name__`` (the generated class's name, less the framework's
    prefix) and ``__delegate_class__`` (the PyMongo class). The first agnostic class that names a
    PyMongo class becomes the class that :func:`wrap_pymongo` wraps its instances in.
    """

    __motor_class_name__: ClassVar[str]
    __delegate_class__: ClassVar[type]
    #: Set on generated classes only.
    _framework: ClassVar[Framework]

    delegate: Any
    _engine: Engine

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        delegate_class = cls.__dict__.get("__delegate_class__")
        if delegate_class is not None:
            _AGNOSTIC_BY_DELEGATE.setdefault(delegate_class, cls)

    @classmethod
    def _from_delegate(cls, delegate: Any, owner: AgnosticBase) -> AgnosticBase:
        """Wrap a PyMongo object that a call on ``owner`` returned.

        :raises TypeError: if objects of this class cannot be made from a PyMongo object.
        """
        raise TypeError(f"Motor cannot wrap {type(delegate).__name__} objects")

    def __class_getitem__(cls, item: Any) -> types.GenericAlias:
        """``AsyncIOMotorCollection[Movie]`` works at run time too: the stubs declare it generic."""
        return types.GenericAlias(cls, item)

    def _session_of(self, kwargs: dict[str, Any]) -> Any:
        """The PyMongo session a call with these (unwrapped) arguments runs in, if explicit."""
        return kwargs.get("session")

    def get_io_loop(self) -> Any:
        """Return the framework event loop this object's client uses (pinned or current)."""
        return self._engine.io_loop

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AgnosticBase) and type(other)._framework is type(self)._framework:
            return bool(self.delegate == other.delegate)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.delegate)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.delegate!r})"


def framework_class(owner: AgnosticBase, agnostic: type[AgnosticBase]) -> type[AgnosticBase]:
    """Return ``agnostic``'s class for the framework (and module) of ``owner``'s class."""
    owner_class = type(owner)
    return create_class_with_framework(agnostic, owner_class._framework, owner_class.__module__)


def wrap_pymongo(owner: AgnosticBase, obj: Any) -> Any:
    """Return ``obj`` wrapped in the Motor class of ``owner``'s framework, if Motor wraps its type."""
    agnostic = agnostic_class_for(type(obj))
    if agnostic is None:
        return obj
    return framework_class(owner, agnostic)._from_delegate(obj, owner)


def unwrap_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Replace Motor objects among the arguments (a session, a collection) by their PyMongo objects."""
    for arg in args:
        if isinstance(arg, AgnosticBase):
            args = tuple(a.delegate if isinstance(a, AgnosticBase) else a for a in args)
            break
    for key, value in kwargs.items():
        if isinstance(value, AgnosticBase):
            kwargs[key] = value.delegate
        elif key == "session" and value is not None and not isinstance(value, ClientSession):
            # PyMongo would fail later, and on a worker thread, on an attribute of the session.
            raise TypeError(
                f"session must be a Motor client session (await client.start_session()), not {value!r}"
            )
    return args, kwargs


def _call_and_wrap(
    owner: AgnosticBase, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    # Runs on a worker thread: wrapping is cheap and keeps the loop thread free.
    return wrap_pymongo(owner, fn(*args, **kwargs))


class MotorAttributeFactory:
    """A declaration: one attribute of an agnostic class, offered as :attr:`kind`.

    :param pymongo_name: the PyMongo attribute's name, when it differs from the declared name.
    :param wrap: the PyMongo class whose instances, returned by the attribute, come back wrapped in
        the framework's Motor class (for example ``Database`` for ``get_database``).
    :param doc: the docstring, when PyMongo's does not fit.
    """

    kind: ClassVar[AttributeKind]

    def __init__(
        self, pymongo_name: str | None = None, *, wrap: type | None = None, doc: str | None = None
    ) -> None:
        self.pymongo_name = pymongo_name
        self.wrap = wrap
        self.doc = doc
        self.attr_name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.attr_name = name
        if self.pymongo_name is None:
            self.pymongo_name = name

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        # On an agnostic class the declaration is data; generated classes replace it with the
        # real attribute, so reaching it through an instance means the class was not generated.
        if obj is None:
            return self
        raise TypeError(
            f"{type(obj).__name__} is framework-agnostic: use the class generated by "
            "create_class_with_framework (AsyncIOMotor... or Motor...)"
        )

    def __repr__(self) -> str:
        wrap = f", wrap={self.wrap.__name__}" if self.wrap is not None else ""
        return f"{type(self).__name__}({self.pymongo_name!r}{wrap})"

    def delegate_attribute(self, cls: type[AgnosticBase]) -> Any:
        """Return the PyMongo attribute this declaration wraps.

        :raises AttributeError: if the PyMongo class has no such attribute (a wrong declaration).
        """
        name = self.pymongo_name or self.attr_name
        try:
            return inspect.getattr_static(cls.__delegate_class__, name)
        except AttributeError:
            raise AttributeError(
                f"{cls.__name__}.{self.attr_name} declares {cls.__delegate_class__.__name__}.{name}, "
                "which PyMongo does not have"
            ) from None

    def _finish(self, method: Callable[..., Any], cls: type[AgnosticBase]) -> Callable[..., Any]:
        original = self.delegate_attribute(cls)
        if callable(original):
            functools.update_wrapper(method, original)
        if self.doc is not None:
            method.__doc__ = self.doc
        method.__name__ = self.attr_name
        return method

    def create_attribute(self, cls: type[AgnosticBase], attr_name: str) -> Any:
        """Return the method or property that implements this declaration on ``cls``."""
        raise NotImplementedError


class Async(MotorAttributeFactory):
    """An awaitable: the PyMongo method runs on a worker thread; the call returns a Future.

    :param cleanup: the method releases server resources (``end_session``, ``abort_transaction``):
        after the client is closed it completes at once instead of raising, since closing the
        client released them, and a caller cancelled before a worker starts it does not cancel
        it (see :meth:`~motor._engine.Engine.run_cleanup`).
    """

    kind = AttributeKind.AWAITABLE

    def __init__(
        self,
        pymongo_name: str | None = None,
        *,
        wrap: type | None = None,
        doc: str | None = None,
        cleanup: bool = False,
    ) -> None:
        super().__init__(pymongo_name, wrap=wrap, doc=doc)
        self.cleanup = cleanup

    def create_attribute(self, cls: type[AgnosticBase], attr_name: str) -> Any:
        name = self.pymongo_name or attr_name
        wrap = self.wrap
        run = Engine.run_cleanup if self.cleanup else Engine.run

        def method(self: AgnosticBase, *args: Any, **kwargs: Any) -> Any:
            args, kwargs = unwrap_args(args, kwargs)
            fn = getattr(self.delegate, name)
            if wrap is not None:
                fn, args, kwargs = _call_and_wrap, (self, fn, args, kwargs), {}
            session = self._session_of(kwargs)
            if session is not None:
                return run(self._engine, call_in_session, session, fn, args, kwargs)
            return run(self._engine, fn, *args, **kwargs)

        return self._finish(method, cls)


class AsyncProperty(MotorAttributeFactory):
    """An awaitable read of a PyMongo property that may block (waiting for server selection)."""

    kind = AttributeKind.AWAITABLE

    def create_attribute(self, cls: type[AgnosticBase], attr_name: str) -> Any:
        name = self.pymongo_name or attr_name
        original = self.delegate_attribute(cls)

        def method(self: AgnosticBase) -> Any:
            return self._engine.run(getattr, self.delegate, name)

        method.__doc__ = self.doc or (
            f"Await the client's ``{name}`` once a server is selected.\n\n{original.__doc__ or ''}"
        )
        method.__name__ = attr_name
        return method


#: Motor 3's names for awaitable declarations.
AsyncRead = AsyncWrite = AsyncCommand = Async


class ReadOnlyProperty(MotorAttributeFactory):
    """A property read from the PyMongo object at once, on the caller's thread."""

    kind = AttributeKind.PROPERTY

    def create_attribute(self, cls: type[AgnosticBase], attr_name: str) -> Any:
        name = self.pymongo_name or attr_name
        wrap = self.wrap

        def fget(self: AgnosticBase) -> Any:
            value = getattr(self.delegate, name)
            return wrap_pymongo(self, value) if wrap is not None else value

        original = self.delegate_attribute(cls)
        return property(fget, doc=self.doc or getattr(original, "__doc__", None))


class DelegateMethod(MotorAttributeFactory):
    """A method run at once on the caller's thread; PyMongo's method must do no I/O."""

    kind = AttributeKind.METHOD

    def create_attribute(self, cls: type[AgnosticBase], attr_name: str) -> Any:
        name = self.pymongo_name or attr_name
        wrap = self.wrap

        def method(self: AgnosticBase, *args: Any, **kwargs: Any) -> Any:
            args, kwargs = unwrap_args(args, kwargs)
            result = getattr(self.delegate, name)(*args, **kwargs)
            return wrap_pymongo(self, result) if wrap is not None else result

        return self._finish(method, cls)


class MotorCursorChainingMethod(MotorAttributeFactory):
    """A cursor option: sets it on the PyMongo cursor and returns the same Motor cursor."""

    kind = AttributeKind.CHAINING

    def create_attribute(self, cls: type[AgnosticBase], attr_name: str) -> Any:
        name = self.pymongo_name or attr_name

        def method(self: AgnosticBase, *args: Any, **kwargs: Any) -> Any:
            args, kwargs = unwrap_args(args, kwargs)
            getattr(self.delegate, name)(*args, **kwargs)
            return self

        return self._finish(method, cls)


class CursorMethod(DelegateMethod):
    """Returns a cursor at once: PyMongo builds it without I/O (``find``), Motor wraps it."""

    kind = AttributeKind.CURSOR


class _DeferredCursorMethod(MotorAttributeFactory):
    """Returns a Motor cursor class built from the call's arguments; PyMongo's call waits.

    :param cursor_class: the agnostic class of what the method returns.
    """

    kind = AttributeKind.CURSOR

    def __init__(
        self, cursor_class: type[AgnosticBase], pymongo_name: str | None = None, *, doc: str | None = None
    ) -> None:
        super().__init__(pymongo_name, doc=doc)
        self.cursor_class = cursor_class

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.cursor_class.__name__}, {self.pymongo_name!r})"

    def create_attribute(self, cls: type[AgnosticBase], attr_name: str) -> Any:
        name = self.pymongo_name or attr_name
        cursor_class = self.cursor_class
        signature = inspect.signature(self.delegate_attribute(cls))

        def method(self: AgnosticBase, *args: Any, **kwargs: Any) -> Any:
            # Bind now so that a wrong argument name fails here, not at the first iteration.
            signature.bind(self.delegate, *args, **kwargs)
            args, kwargs = unwrap_args(args, kwargs)
            target_class: Any = framework_class(self, cursor_class)
            return target_class(self, getattr(self.delegate, name), args, kwargs)

        return self._finish(method, cls)


class LatentCursorMethod(_DeferredCursorMethod):
    """``aggregate``, ``list_indexes``, ...: PyMongo runs the command at once, so Motor defers the
    call to the cursor's first iteration, on a worker thread."""


class ChangeStreamMethod(_DeferredCursorMethod):
    """``watch``: PyMongo opens the change stream at once, so Motor defers it to first use."""


def declarations(cls: type) -> dict[str, MotorAttributeFactory]:
    """Return the declarations of an agnostic class and its bases, by attribute name.

    A name written by hand in a subclass hides a base's declaration of it.
    """
    found: dict[str, MotorAttributeFactory] = {}
    seen: set[str] = set()
    for klass in cls.__mro__:
        for name, value in vars(klass).items():
            if name in seen:
                continue
            seen.add(name)
            if isinstance(value, MotorAttributeFactory):
                found[name] = value
    return found


_class_cache: dict[tuple[type, Any, str], type[Any]] = {}


def create_class_with_framework(agnostic_class: type[Any], framework: Any, module_name: str) -> type[Any]:
    """Return the class that offers ``agnostic_class`` on ``framework``, creating it once.

    :param agnostic_class: a class from :mod:`motor.core` or :mod:`motor.motor_gridfs` (or a
        subclass of :class:`AgnosticBase` of your own).
    :param framework: a module or object satisfying :class:`motor.frameworks.interface.Framework`.
    :param module_name: the ``__module__`` of the new class, e.g. ``"motor.motor_asyncio"``.
    :raises TypeError: if ``framework`` lacks part of the framework interface.
    """
    key = (agnostic_class, framework, module_name)
    cached = _class_cache.get(key)
    if cached is not None:
        return cached
    if not isinstance(framework, Framework):
        raise TypeError(f"{framework!r} does not implement motor.frameworks.interface.Framework")

    name = framework.CLASS_PREFIX + agnostic_class.__motor_class_name__
    namespace: dict[str, Any] = {"__module__": module_name, "__qualname__": name, "_framework": framework}
    for attr_name, declaration in declarations(agnostic_class).items():
        attribute = declaration.create_attribute(agnostic_class, attr_name)
        if callable(attribute):
            attribute.__qualname__ = f"{name}.{attr_name}"
            attribute.__module__ = module_name
        namespace[attr_name] = attribute
    new_class = type(name, (agnostic_class,), namespace)
    _class_cache[key] = new_class
    return new_class
