"""Synchro: a synchronous facade over Motor that masquerades as PyMongo.

Synchro's classes have PyMongo's names (:class:`MongoClient`, :class:`Database`,
:class:`Collection`, :class:`Cursor`, ...) and run each call on Motor's asyncio classes, to
completion, on one private event loop that runs in a background thread. Any number of threads may
use them at once, as PyMongo's test suite does.

The classes are derived from Motor's declarations (:func:`motor.metaprogramming.declarations`),
not from a list kept by hand: for each declared attribute of an agnostic class,

- an awaitable becomes a method that runs Motor's method on the loop and waits for its result (an
  awaitable *property*, such as ``get_address`` for PyMongo's ``address``, becomes PyMongo's
  property again);
- a cursor method returns the Synchro cursor; a method whose PyMongo call does I/O at once
  (``aggregate``, ``watch``), and that Motor therefore defers, is started at once, as in PyMongo;
- a property, method or chaining method calls Motor's at once and wraps what it returns.

Motor objects in results come back as Synchro objects, and Synchro objects passed in (a session,
a database) are handed to Motor as Motor objects. The synchronous protocols (``for``, ``next``,
``with``) are derived from Motor's asynchronous ones (``async for``, ``async with``), following
:data:`motor.exclusions.SYNC_PROTOCOL`. What no declaration covers (sessions' ``with_transaction``
with a synchronous callback, ``start_transaction`` and ``bind`` contexts, ``cursor[i]``) is written
here by hand. Any other public attribute of a Motor object is reached through ``__getattr__``:
called on the loop, awaited if it returns an awaitable, and its result wrapped. A private
attribute (``client._topology``) reads PyMongo's object under Motor's.

:mod:`synchro.synchrotest` runs PyMongo's own test suite through these classes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import copy
import functools
import inspect
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

import pymongo
from pymongo.synchronous.client_session import ClientSession as _PyMongoClientSession

from motor import core, motor_asyncio
from motor.exclusions import SYNC_PROTOCOL
from motor.metaprogramming import (
    AgnosticBase,
    AsyncProperty,
    AttributeKind,
    MotorAttributeFactory,
    _DeferredCursorMethod,
    agnostic_class_for,
    declarations,
    wrap_pymongo,
)
from motor.metaprogramming import unwrap_args as motor_unwrap_args

try:
    from motor import motor_gridfs as _motor_gridfs
except ImportError:  # pragma: no cover - GridFS support is optional
    _motor_gridfs = None  # type: ignore[assignment]

__all__ = [
    "ChangeStream",
    "ClientEncryption",
    "ClientSession",
    "ClusterChangeStream",
    "Collection",
    "CollectionChangeStream",
    "CommandCursor",
    "Cursor",
    "Database",
    "DatabaseChangeStream",
    "MongoClient",
    "RawBatchCommandCursor",
    "RawBatchCursor",
    "Synchro",
    "run",
    "synchro_classes",
    "unwrap",
    "wrap",
]

version = pymongo.version
version_tuple = pymongo.version_tuple


# ---------------------------------------------------------------------------------------------
# The event loop
# ---------------------------------------------------------------------------------------------


class _LoopThread:
    """One asyncio loop running forever in a daemon thread; started at first use (and after fork)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None

    def get(self) -> asyncio.AbstractEventLoop:
        loop = self.loop
        if loop is None:
            with self._lock:
                loop = self.loop
                if loop is None:
                    loop = asyncio.new_event_loop()
                    ready = threading.Event()

                    def serve() -> None:
                        asyncio.set_event_loop(loop)
                        loop.call_soon(ready.set)
                        loop.run_forever()

                    self.thread = threading.Thread(target=serve, name="synchro-loop", daemon=True)
                    self.thread.start()
                    ready.wait()
                    self.loop = loop
        return loop

    def in_loop_thread(self) -> bool:
        return self.thread is not None and threading.current_thread() is self.thread

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self.loop = None
        self.thread = None


_LOOP = _LoopThread()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_LOOP.after_fork)

# Synchronous with_transaction callbacks run here, never on the loop thread, so that they can use
# Synchro (and so block) while Motor's with_transaction awaits them.
_CALLBACKS = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="synchro-callback")


def _settle(done: concurrent.futures.Future[Any], source: asyncio.Future[Any]) -> None:
    if source.cancelled():
        done.cancel()
        return
    exc = source.exception()
    if exc is not None:
        done.set_exception(exc)
    else:
        done.set_result(source.result())


def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn(*args, **kwargs)`` on Synchro's event loop, await what it returns if awaitable,
    and return the result (or raise the error) in the calling thread.

    The call runs in a copy of the caller's :mod:`contextvars` context, so ``pymongo.timeout()`` and
    ``session.bind()`` reach Motor.

    :raises RuntimeError: if called from the loop's own thread (it would wait for itself).
    """
    if _LOOP.in_loop_thread():
        raise RuntimeError("Synchro cannot block its own event loop's thread")
    loop = _LOOP.get()
    done: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def start() -> None:
        try:
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                future = asyncio.ensure_future(result)
                future.add_done_callback(functools.partial(_settle, done))
                return
        except BaseException as exc:
            done.set_exception(exc)
            return
        done.set_result(result)

    # call_soon_threadsafe copies the caller's context for the callback.
    loop.call_soon_threadsafe(start)
    try:
        return done.result()
    except StopAsyncIteration as exc:
        raise StopIteration from exc


# ---------------------------------------------------------------------------------------------
# Wrapping and unwrapping
# ---------------------------------------------------------------------------------------------

#: Synchro class by Motor agnostic class, filled as the classes below are made.
_BY_AGNOSTIC: dict[type, type[Synchro]] = {}
#: Synchro sessions by id of the PyMongo session, so that ``cursor.session is session``.
_SESSIONS: weakref.WeakValueDictionary[int, ClientSession] = weakref.WeakValueDictionary()


def synchro_class_for(motor_class: type) -> type[Synchro] | None:
    """The Synchro class that wraps instances of a Motor (generated or agnostic) class."""
    for klass in motor_class.__mro__:
        found = _BY_AGNOSTIC.get(klass)
        if found is not None:
            return found
    return None


def wrap(value: Any, owner: Synchro | None = None) -> Any:
    """Return ``value`` with Motor objects replaced by Synchro objects (``owner`` for its own)."""
    if owner is not None and value is owner.delegate:
        return owner
    if isinstance(value, AgnosticBase):
        cls = synchro_class_for(type(value))
        if cls is None:
            return value
        return cls._from_motor(value)
    if isinstance(value, _PyMongoClientSession):
        return _SESSIONS.get(id(value), value)
    if type(value) is tuple:
        return tuple(wrap(item) for item in value)
    return value


def _wrap_private(owner: Synchro, value: Any) -> Any:
    # PyMongo's private attributes hold PyMongo objects (change_stream._cursor): Synchro's tests
    # see them as Synchro objects, as they would see PyMongo's. A client stays PyMongo's.
    if isinstance(value, _PyMongoClientSession):
        return _SESSIONS.get(id(value), value)
    if agnostic_class_for(type(value)) is None:
        return value
    try:
        return wrap(wrap_pymongo(owner.delegate, value))
    except (TypeError, AttributeError, AssertionError):
        return value


def unwrap(value: Any) -> Any:
    """Return the Motor object under a Synchro object; anything else unchanged."""
    if isinstance(value, Synchro):
        return value.delegate
    return value


def _unwrap_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return tuple(unwrap(a) for a in args), {k: unwrap(v) for k, v in kwargs.items()}


def _to_pymongo_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # For the constructors that build PyMongo objects themselves: Motor objects become PyMongo's.
    return motor_unwrap_args(args, kwargs)


async def _await_and_wrap(awaitable: Any, owner: Synchro | None) -> Any:
    return wrap(await awaitable, owner)


def _call_on_loop(owner: Synchro, method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    args, kwargs = _unwrap_args(args, kwargs)

    def call() -> Any:
        result = method(*args, **kwargs)
        if inspect.isawaitable(result):
            return _await_and_wrap(result, owner)
        return wrap(result, owner)

    return run(call)


# ---------------------------------------------------------------------------------------------
# Attributes derived from declarations
# ---------------------------------------------------------------------------------------------


def _pymongo_attribute(agnostic: type, name: str) -> Any:
    try:
        return inspect.getattr_static(agnostic.__delegate_class__, name)
    except AttributeError:
        return None


def _awaitable(name: str) -> Callable[..., Any]:
    def method(self: Synchro, *args: Any, **kwargs: Any) -> Any:
        return _call_on_loop(self, getattr(self.delegate, name), args, kwargs)

    return method


def _awaitable_property(name: str) -> property:
    def fget(self: Synchro) -> Any:
        return _call_on_loop(self, getattr(self.delegate, name), (), {})

    return property(fget)


def _immediate(name: str) -> Callable[..., Any]:
    def method(self: Synchro, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = _unwrap_args(args, kwargs)
        return wrap(getattr(self.delegate, name)(*args, **kwargs), self)

    return method


def _chaining(name: str) -> Callable[..., Any]:
    def method(self: Synchro, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = _unwrap_args(args, kwargs)
        getattr(self.delegate, name)(*args, **kwargs)
        return self

    return method


def _property(name: str) -> property:
    def fget(self: Synchro) -> Any:
        return wrap(getattr(self.delegate, name), self)

    return property(fget)


def _started_cursor(name: str) -> Callable[..., Any]:
    # PyMongo runs aggregate / list_indexes / watch at once, so errors are raised by the call, and a
    # change stream sees the changes made after it; Motor defers the call, so Synchro starts it.
    def method(self: Synchro, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = _unwrap_args(args, kwargs)
        cursor = wrap(getattr(self.delegate, name)(*args, **kwargs))
        cursor._start()
        # Motor's latent cursor is one class; PyMongo's says what it holds (RawBatchCommandCursor).
        started = getattr(cursor.delegate, "delegate", None)
        refined = (
            synchro_class_for(agnostic_class_for(type(started)) or object) if started is not None else None
        )
        if refined is not None and refined is not type(cursor) and issubclass(refined, type(cursor)):
            object.__setattr__(cursor, "__class__", refined)
        return cursor

    return method


#: Marks a declaration of a plain PyMongo class attribute, forwarded by :class:`_SynchroMeta`.
_CLASS_ATTRIBUTE = object()


def attribute_for(  # noqa: PLR0911 - one return per kind of declaration
    agnostic: type, attr_name: str, declaration: MotorAttributeFactory
) -> tuple[str, Any]:
    """Return the (PyMongo name, Synchro attribute) that implements one Motor declaration."""
    kind = declaration.kind
    if isinstance(declaration, AsyncProperty):
        # get_address() for PyMongo's address property: Synchro offers PyMongo's property.
        return declaration.pymongo_name or attr_name, _awaitable_property(attr_name)
    if kind is AttributeKind.AWAITABLE:
        return attr_name, _awaitable(attr_name)
    if kind is AttributeKind.CURSOR:
        if isinstance(declaration, _DeferredCursorMethod):
            return attr_name, _started_cursor(attr_name)
        return attr_name, _immediate(attr_name)
    if kind is AttributeKind.CHAINING:
        return attr_name, _chaining(attr_name)
    if kind is AttributeKind.PROPERTY:
        original = _pymongo_attribute(agnostic, declaration.pymongo_name or attr_name)
        if original is not None and not hasattr(original, "__get__"):
            # A plain class attribute in PyMongo (MongoClient.HOST): the class reads PyMongo's.
            return attr_name, _CLASS_ATTRIBUTE
        return attr_name, _property(attr_name)
    return attr_name, _immediate(attr_name)


def _sync_protocol(async_name: str, sync_name: str) -> Callable[..., Any]:
    if sync_name == "__iter__":

        def iterate(self: Synchro) -> Synchro:
            return self

        return iterate
    if sync_name == "__next__":

        def next_(self: Synchro) -> Any:
            return _call_on_loop(self, getattr(self.delegate, async_name), (), {})

        return next_
    if sync_name == "__enter__":

        def enter(self: Synchro) -> Any:
            return _call_on_loop(self, getattr(self.delegate, async_name), (), {})

        return enter

    def exit_(self: Synchro, *exc_info: Any) -> Any:
        return _call_on_loop(self, getattr(self.delegate, async_name), exc_info, {})

    return exit_


def _finish_class(cls: type[Synchro], agnostic: type) -> None:
    """Add to ``cls`` the attributes derived from ``agnostic``'s declarations and protocols."""
    cls.__agnostic_class__ = agnostic
    cls.__motor_class__ = motor_asyncio.create_asyncio_class(agnostic)
    for attr_name, declaration in declarations(agnostic).items():
        name, attribute = attribute_for(agnostic, attr_name, declaration)
        if name in vars(cls):
            continue  # Written by hand below, for a reason given there.
        if attribute is _CLASS_ATTRIBUTE:
            type.__setattr__(cls, "__class_attributes__", cls.__class_attributes__ | {name})
            continue
        if callable(attribute) and not isinstance(attribute, type):
            motor_attribute = getattr(cls.__motor_class__, attr_name, None)
            if callable(motor_attribute):
                # Motor's method has PyMongo's signature and docstring (``inspect.signature``).
                functools.update_wrapper(attribute, motor_attribute)
            attribute.__name__ = name
            attribute.__qualname__ = f"{cls.__name__}.{name}"
        setattr(cls, name, attribute)
    for sync_name, async_name in SYNC_PROTOCOL.items():
        if sync_name in vars(cls) or not callable(getattr(agnostic, async_name, None)):
            continue
        setattr(cls, sync_name, _sync_protocol(async_name, sync_name))
    sync_next = vars(cls).get("__next__")
    if sync_next is not None and "next" not in vars(cls) and "next" not in declarations(agnostic):
        cls.next = sync_next  # type: ignore[attr-defined]
    _BY_AGNOSTIC.setdefault(agnostic, cls)


# ---------------------------------------------------------------------------------------------
# The base class
# ---------------------------------------------------------------------------------------------


class _SynchroMeta(type):
    """Reads and writes of PyMongo's plain class attributes (``MongoClient.HOST``) go to PyMongo's
    class, which is what Motor's objects read."""

    __class_attributes__: frozenset[str] = frozenset()

    def __getattr__(cls, name: str) -> Any:
        if name in cls.__class_attributes__:
            return getattr(cls.__agnostic_class__.__delegate_class__, name)
        raise AttributeError(f"type object {cls.__name__!r} has no attribute {name!r}")

    def __setattr__(cls, name: str, value: Any) -> None:
        if name in cls.__class_attributes__:
            setattr(cls.__agnostic_class__.__delegate_class__, name, value)
        else:
            super().__setattr__(name, value)


class Synchro(metaclass=_SynchroMeta):
    """Base of Synchro's classes: a synchronous wrapper of one Motor object (``delegate``)."""

    __agnostic_class__: ClassVar[type]
    __motor_class__: ClassVar[type]
    delegate: Any

    @classmethod
    def _from_motor(cls, motor_object: Any) -> Any:
        obj = cls.__new__(cls)
        object.__setattr__(obj, "delegate", motor_object)
        return obj

    @property
    def _pymongo(self) -> Any:
        """The PyMongo object under the Motor object."""
        return self.delegate.delegate

    def __getattr__(self, name: str) -> Any:
        if name == "delegate":
            raise AttributeError(name)
        if name.startswith("_") and not name.startswith("__"):
            # PyMongo's private state (client._topology, session._server_session): tests read it.
            return _wrap_private(self, getattr(self.delegate.delegate, name))
        value = getattr(self.delegate, name)
        if inspect.ismethod(value) or (callable(value) and not isinstance(value, (type, AgnosticBase))):
            method = value

            def call(*args: Any, **kwargs: Any) -> Any:
                return _call_on_loop(self, method, args, kwargs)

            call.__name__ = name
            return call
        return wrap(value, self)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") and not name.startswith("__") and not hasattr(type(self), name):
            # Tests set PyMongo's private state (cursor._query_flags); it lives on PyMongo's object.
            pymongo_object = self.delegate.delegate
            if pymongo_object is not None:
                if isinstance(value, Synchro):
                    value = value._pymongo
                setattr(pymongo_object, name, value)
                return
        elif (
            not name.startswith("_")
            and not hasattr(type(self), name)
            and isinstance(inspect.getattr_static(type(self.delegate), name, None), property)
        ):
            # A Motor property (cursor.collection): read-only there, so read-only here.
            setattr(self.delegate, name, unwrap(value))
            return
        object.__setattr__(self, name, value)

    def __copy__(self) -> Any:
        return wrap(copy.copy(self.delegate))

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return wrap(copy.deepcopy(self.delegate, memo))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Synchro):
            return bool(self.delegate == other.delegate)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, Synchro):
            return bool(self.delegate != other.delegate)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.delegate)

    def __repr__(self) -> str:
        inner = self.delegate.delegate if self.delegate is not None else None
        return repr(inner) if inner is not None else f"{type(self).__name__}({self.delegate!r})"


# ---------------------------------------------------------------------------------------------
# Client, database, collection
# ---------------------------------------------------------------------------------------------


class MongoClient(Synchro):
    """PyMongo's MongoClient, run on Motor's AsyncIOMotorClient."""

    __iter__ = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        object.__setattr__(self, "delegate", motor_asyncio.AsyncIOMotorClient(*args, **kwargs))
        if kwargs.get("connect", True):
            # PyMongo's constructor opens the topology before it returns; Motor's opens it on a
            # worker thread, and PyMongo's tests look at it at once.
            self._connect()

    def close(self) -> None:
        """Close the client (Motor's close runs at once when no loop is running in this thread)."""
        self.delegate.close()

    def __enter__(self) -> MongoClient:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __getitem__(self, name: str) -> Database:
        return Database._from_motor(self.delegate[name])

    def __next__(self) -> Any:
        raise TypeError("'MongoClient' object is not iterable")

    next = __next__

    # PyMongo's topology properties wait for server selection, as Motor's get_*() awaitables do
    # (they are derived from the AsyncProperty declarations); these are the ones with other names.
    def _connect(self) -> None:
        run(self.delegate.aconnect)

    @property
    def _MongoClient__options(self) -> Any:
        return self.delegate.delegate.options


class Database(Synchro):
    """PyMongo's Database, run on Motor's AsyncIOMotorDatabase."""

    __iter__ = None

    def __init__(self, client: MongoClient, name: str, *args: Any, **kwargs: Any) -> None:
        # Motor's constructor takes PyMongo's options by keyword only.
        kwargs.update(
            zip(("codec_options", "read_preference", "write_concern", "read_concern"), args, strict=False)
        )
        _, kwargs = _unwrap_args((), kwargs)
        motor_database = motor_asyncio.AsyncIOMotorDatabase(unwrap(client), name, **kwargs)
        object.__setattr__(self, "delegate", motor_database)

    def __getitem__(self, name: str) -> Collection:
        return Collection._from_motor(self.delegate[name])

    def __next__(self) -> Any:
        raise TypeError("'Database' object is not iterable")

    next = __next__


class Collection(Synchro):
    """PyMongo's Collection, run on Motor's AsyncIOMotorCollection."""

    __iter__ = None

    def __init__(
        self,
        database: Database,
        name: str,
        create: bool = False,
        codec_options: Any = None,
        read_preference: Any = None,
        write_concern: Any = None,
        read_concern: Any = None,
        session: Any = None,
        **kwargs: Any,
    ) -> None:
        motor_database = unwrap(database)
        motor_collection = motor_asyncio.AsyncIOMotorCollection(
            motor_database, name, codec_options, read_preference, write_concern, read_concern
        )
        object.__setattr__(self, "delegate", motor_collection)
        if create or kwargs:
            # Motor's constructor does no I/O; PyMongo's creates the collection when asked.
            if session is not None:
                kwargs["session"] = session
            Database._from_motor(motor_database).create_collection(
                name,
                codec_options=codec_options,
                read_preference=read_preference,
                write_concern=write_concern,
                read_concern=read_concern,
                **kwargs,
            )

    def __getitem__(self, name: str) -> Collection:
        return Collection._from_motor(self.delegate[name])

    def __next__(self) -> Any:
        raise TypeError("'Collection' object is not iterable")

    next = __next__


# ---------------------------------------------------------------------------------------------
# Cursors and change streams
# ---------------------------------------------------------------------------------------------


class _SynchroCursor(Synchro):
    def _start(self) -> None:
        motor_cursor = self.delegate
        started = getattr(motor_cursor, "_started", None)
        if started is not None and motor_cursor.delegate is None:
            run(motor_cursor._engine.run, started)

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        return _call_on_loop(self, self.delegate.next, (), {})

    next = __next__

    def to_list(self, length: int | None = None) -> list[Any]:
        """Return up to ``length`` documents (all if ``None``)."""
        if self.delegate._is_tailable():
            # Motor refuses to_list() on a tailable cursor, as Motor 3 did. PyMongo's returns what
            # the cursor has now, which a Motor application gets by iterating until the cursor
            # stops: so does Synchro, and PyMongo's tests of tailable cursors run on Motor's next().
            documents: list[Any] = []
            while length is None or len(documents) < length:
                try:
                    documents.append(next(self))
                except StopIteration:
                    break
            return documents
        result = _call_on_loop(self, self.delegate.to_list, (length,), {})
        return [wrap(item) for item in result] if result and isinstance(result[0], AgnosticBase) else result

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the cursor."""
        run(self.delegate.close)

    def __getattr__(self, name: str) -> Any:
        if name == "__del__":
            # PyMongo's tests call cursor.__del__() to act as the garbage collector: that is PyMongo's
            # cursor's __del__ (kill the server cursor, return the implicit session). Synchro
            # defines no __del__ of its own: a wrapper may go while its cursor is still in use.
            pymongo_cursor = getattr(self.__dict__.get("delegate"), "delegate", None)
            return getattr(pymongo_cursor, "__del__", lambda: None)
        return super().__getattr__(name)


class Cursor(_SynchroCursor):
    """PyMongo's Cursor, run on Motor's AsyncIOMotorCursor."""

    def __init__(self, collection: Collection, *args: Any, **kwargs: Any) -> None:
        # PyMongo's constructor does no I/O.
        args, kwargs = _unwrap_args(args, kwargs)
        args, kwargs = _to_pymongo_args(args, kwargs)
        motor_collection = unwrap(collection)
        pymongo_class = type(self).__agnostic_class__.__delegate_class__
        pymongo_cursor = pymongo_class(motor_collection.delegate, *args, **kwargs)
        object.__setattr__(self, "delegate", type(self).__motor_class__(pymongo_cursor, motor_collection))

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            self._pymongo[index]  # Sets skip and limit; no I/O.
            return self
        if isinstance(index, int) and not isinstance(index, bool):
            if index < 0:
                raise IndexError("Cursor instances do not support negative indices")
            self._pymongo._check_okay_to_chain()
            clone = self.clone()
            clone.skip(index + self._pymongo._skip)
            clone.limit(-1)
            clone._pymongo._query_flags &= ~pymongo.CursorType.TAILABLE_AWAIT
            for document in clone:
                return document
            raise IndexError("no such item for Cursor instance")
        raise TypeError(f"index {index!r} cannot be applied to Cursor instances")


class RawBatchCursor(Cursor):
    """PyMongo's RawBatchCursor, run on Motor's AsyncIOMotorRawBatchCursor."""

    def __getitem__(self, index: Any) -> Any:
        return self._pymongo[index]


class CommandCursor(_SynchroCursor):
    """PyMongo's CommandCursor, run on Motor's AsyncIOMotorCommandCursor (or latent one)."""

    def __init__(
        self, collection: Collection, cursor_info: Any, address: Any, *args: Any, **kwargs: Any
    ) -> None:
        # PyMongo's constructor does no I/O (the first batch is in cursor_info).
        args, kwargs = _unwrap_args(args, kwargs)
        args, kwargs = _to_pymongo_args(args, kwargs)
        motor_collection = unwrap(collection)
        pymongo_class = type(self).__agnostic_class__.__delegate_class__
        pymongo_cursor = pymongo_class(motor_collection.delegate, cursor_info, address, *args, **kwargs)
        motor_class = type(self).__motor_class__
        object.__setattr__(self, "delegate", motor_class(pymongo_cursor, motor_collection))


class RawBatchCommandCursor(CommandCursor):
    """PyMongo's RawBatchCommandCursor, run on Motor's AsyncIOMotorRawBatchCommandCursor."""

    def __getitem__(self, index: Any) -> Any:
        return self._pymongo[index]


class ChangeStream(Synchro):
    """PyMongo's ChangeStream, run on Motor's AsyncIOMotorChangeStream."""

    @classmethod
    def _from_motor(cls, motor_object: Any) -> Any:
        stream = super()._from_motor(motor_object)
        if cls is ChangeStream:
            # PyMongo's class says what is watched: a collection, a database, or the cluster.
            target = getattr(motor_object, "_target", None)
            if isinstance(target, core.AgnosticCollection):
                object.__setattr__(stream, "__class__", CollectionChangeStream)
            elif isinstance(target, core.AgnosticDatabase):
                object.__setattr__(stream, "__class__", DatabaseChangeStream)
            elif isinstance(target, core.AgnosticClient):
                object.__setattr__(stream, "__class__", ClusterChangeStream)
        return stream

    def _start(self) -> None:
        run(self.delegate._engine.run, self.delegate._started)

    def __iter__(self) -> ChangeStream:
        return self

    def __next__(self) -> Any:
        return _call_on_loop(self, self.delegate.next, (), {})

    next = __next__

    def try_next(self) -> Any:
        """Return the next change, or ``None`` if none is available now."""
        return _call_on_loop(self, self.delegate.try_next, (), {})

    def close(self) -> None:
        """Close the change stream."""
        run(self.delegate.close)

    def __enter__(self) -> ChangeStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class CollectionChangeStream(ChangeStream):
    """A change stream on a collection."""


class DatabaseChangeStream(ChangeStream):
    """A change stream on a database."""


class ClusterChangeStream(DatabaseChangeStream):
    """A change stream on a whole cluster."""


# ---------------------------------------------------------------------------------------------
# Sessions
# ---------------------------------------------------------------------------------------------


class _TransactionContext:
    """``with session.start_transaction():`` commits on success, aborts on error."""

    def __init__(self, session: ClientSession) -> None:
        self._session = session

    def __enter__(self) -> _TransactionContext:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._session.in_transaction:
            if exc_type is None:
                self._session.commit_transaction()
            else:
                self._session.abort_transaction()


class _BoundSession:
    """``with session.bind():`` makes the session implicit for operations in the block."""

    def __init__(self, session: ClientSession, end_session: bool) -> None:
        self._session = session
        self._end_session = end_session
        self._bound: Any = None

    def __enter__(self) -> ClientSession:
        self._bound = self._session.delegate.bind(end_session=False)
        self._bound.__enter__()
        return self._session

    def __exit__(self, *exc_info: Any) -> None:
        self._bound.__exit__(*exc_info)
        if self._end_session:
            self._session.end_session()


class ClientSession(Synchro):
    """PyMongo's ClientSession, run on Motor's AsyncIOMotorClientSession."""

    @classmethod
    def _from_motor(cls, motor_object: Any) -> Any:
        found = _SESSIONS.get(id(motor_object.delegate))
        if found is not None and found.delegate is motor_object:
            return found
        session = super()._from_motor(motor_object)
        _SESSIONS[id(motor_object.delegate)] = session
        return session

    @property
    def client(self) -> MongoClient:
        """The client this session was started from."""
        return wrap(self.delegate.client)  # type: ignore[no-any-return]

    def start_transaction(
        self,
        read_concern: Any = None,
        write_concern: Any = None,
        read_preference: Any = None,
        max_commit_time_ms: int | None = None,
    ) -> _TransactionContext:
        """Start a transaction; ``with`` the result commits it, or aborts it on error."""
        self.delegate.start_transaction(read_concern, write_concern, read_preference, max_commit_time_ms)
        return _TransactionContext(self)

    def with_transaction(
        self,
        callback: Callable[[ClientSession], Any],
        read_concern: Any = None,
        write_concern: Any = None,
        read_preference: Any = None,
        max_commit_time_ms: int | None = None,
    ) -> Any:
        """Run ``callback(session)`` in a transaction through Motor's ``with_transaction``.

        The synchronous callback runs in a worker thread, in the caller's context, while Motor's
        ``with_transaction`` awaits it on the loop; it may call Synchro as usual.
        """
        if not callable(callback):
            raise TypeError(f"with_transaction() needs a callable callback, not {callback!r}")
        context = contextvars.copy_context()

        async def adapter(_motor_session: Any) -> Any:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(_CALLBACKS, context.copy().run, callback, self)

        return run(
            self.delegate.with_transaction,
            adapter,
            read_concern,
            write_concern,
            read_preference,
            max_commit_time_ms,
        )

    def bind(self, end_session: bool = True) -> _BoundSession:
        """Make this session implicit for the operations in a ``with`` block."""
        return _BoundSession(self, end_session)

    def __enter__(self) -> ClientSession:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.end_session()


class ClientEncryption(Synchro):
    """PyMongo's ClientEncryption, run on Motor's AsyncIOMotorClientEncryption."""

    def __init__(
        self,
        kms_providers: Any,
        key_vault_namespace: str,
        key_vault_client: MongoClient,
        codec_options: Any,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        args, kwargs = _unwrap_args(args, kwargs)
        object.__setattr__(
            self,
            "delegate",
            motor_asyncio.AsyncIOMotorClientEncryption(
                kms_providers, key_vault_namespace, unwrap(key_vault_client), codec_options, *args, **kwargs
            ),
        )

    def __enter__(self) -> ClientEncryption:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


_finish_class(MongoClient, core.AgnosticClient)
_finish_class(Database, core.AgnosticDatabase)
_finish_class(Collection, core.AgnosticCollection)
_finish_class(Cursor, core.AgnosticCursor)
_finish_class(RawBatchCursor, core.AgnosticRawBatchCursor)
_finish_class(CommandCursor, core.AgnosticCommandCursor)
_finish_class(RawBatchCommandCursor, core.AgnosticRawBatchCommandCursor)
_BY_AGNOSTIC[core.AgnosticLatentCommandCursor] = CommandCursor
_finish_class(ChangeStream, core.AgnosticChangeStream)
_finish_class(ClientSession, core.AgnosticClientSession)
_finish_class(ClientEncryption, core.AgnosticClientEncryption)


# ---------------------------------------------------------------------------------------------
# GridFS, when Motor has it
# ---------------------------------------------------------------------------------------------

if _motor_gridfs is not None:
    from gridfs.synchronous.grid_file import DEFAULT_CHUNK_SIZE as _DEFAULT_CHUNK_SIZE
    from gridfs.synchronous.grid_file import GridIn as _PyMongoGridIn

    class GridFSBucket(Synchro):
        """PyMongo's GridFSBucket, run on Motor's GridFS bucket."""

        def __init__(
            self,
            db: Database,
            bucket_name: str = "fs",
            chunk_size_bytes: int = _DEFAULT_CHUNK_SIZE,
            write_concern: Any = None,
            read_preference: Any = None,
            collection: str | None = None,
        ) -> None:
            if not isinstance(db, Database):
                raise TypeError("database must be an instance of Database")
            bucket_class = motor_asyncio.create_asyncio_class(_motor_gridfs.AgnosticGridFSBucket)
            object.__setattr__(
                self,
                "delegate",
                bucket_class(
                    unwrap(db), bucket_name, chunk_size_bytes, write_concern, read_preference, collection
                ),
            )

    class GridIn(Synchro):
        """PyMongo's GridIn, run on Motor's GridIn."""

        def __init__(self, root_collection: Collection, session: Any = None, **kwargs: Any) -> None:
            if not isinstance(root_collection, Collection):
                raise TypeError("root_collection must be an instance of Collection")
            grid_in_class = motor_asyncio.create_asyncio_class(_motor_gridfs.AgnosticGridIn)
            object.__setattr__(
                self, "delegate", grid_in_class(unwrap(root_collection), session=unwrap(session), **kwargs)
            )

        def __getattr__(self, name: str) -> Any:
            if name == "delegate":
                raise AttributeError(name)
            if name.startswith("_") and name != "_id":
                return getattr(self._pymongo, name)  # PyMongo's private state (_chunk_number).
            return wrap(getattr(self.delegate, name), self)

        def __setattr__(self, name: str, value: Any) -> None:
            # PyMongo's GridIn sets a file field, on the server once the file is closed; the
            # fields that are properties (_id, filename, ...) are read-only, as in PyMongo.
            if name == "delegate":
                object.__setattr__(self, name, value)
            elif isinstance(inspect.getattr_static(_PyMongoGridIn, name, None), property):
                # PyMongo's property maps the name to the field (content_type -> contentType) and
                # refuses read-only ones (_id); its setter updates the server once closed.
                # (The setter is called directly: PyMongo's GridIn.__setattr__ looks for properties in
                # type(self).__dict__, which misses them on Motor's GridIn subclass.)
                setter = inspect.getattr_static(_PyMongoGridIn, name).fset
                if setter is None:
                    raise AttributeError(f"can't set attribute {name!r} of GridIn")
                run(self.delegate._engine.run, setter, self._pymongo, value)
            else:
                run(self.delegate.set, name, value)

        def __enter__(self) -> GridIn:
            return self

        def __exit__(self, *exc_info: Any) -> Any:
            return _call_on_loop(self, self.delegate.__aexit__, exc_info, {})

    class GridOut(Synchro):
        """PyMongo's GridOut, run on Motor's GridOut; the file document is fetched at first use."""

        def __init__(
            self,
            root_collection: Collection,
            file_id: Any = None,
            file_document: Any = None,
            session: Any = None,
        ) -> None:
            if not isinstance(root_collection, Collection):
                raise TypeError("root_collection must be an instance of Collection")
            grid_out_class = motor_asyncio.create_asyncio_class(_motor_gridfs.AgnosticGridOut)
            object.__setattr__(
                self,
                "delegate",
                grid_out_class(unwrap(root_collection), file_id, file_document, session=unwrap(session)),
            )

        def _ensure_open(self) -> None:
            if not self.delegate._file_document():
                run(self.delegate.open)

        def __getattr__(self, name: str) -> Any:
            if name == "delegate":
                raise AttributeError(name)
            if not name.startswith("_"):
                self._ensure_open()
            return super().__getattr__(name)

        def __iter__(self) -> GridOut:
            return self

        def __next__(self) -> bytes:
            # PyMongo's GridOut is an io.IOBase: iterating yields lines.
            line = self.readline()
            if not line:
                raise StopIteration
            return line  # type: ignore[no-any-return]

        def close(self) -> None:
            """Close the file."""
            run(self.delegate.close)

        def __enter__(self) -> GridOut:
            return self

        def __exit__(self, *exc_info: Any) -> None:
            self.close()

    class GridOutCursor(Cursor):
        """PyMongo's GridOutCursor, run on Motor's GridOutCursor."""

        def __init__(
            self,
            collection: Collection,
            filter: Any = None,
            skip: int = 0,
            limit: int = 0,
            no_cursor_timeout: bool = False,
            sort: Any = None,
            batch_size: int = 0,
            session: Any = None,
        ) -> None:
            # PyMongo's constructor does no I/O; it takes the bucket's root collection.
            motor_collection = unwrap(collection)
            pymongo_class = type(self).__agnostic_class__.__delegate_class__
            pymongo_cursor = pymongo_class(
                motor_collection.delegate,
                filter,
                skip=skip,
                limit=limit,
                no_cursor_timeout=no_cursor_timeout,
                sort=sort,
                batch_size=batch_size,
                session=getattr(unwrap(session), "delegate", None),
            )
            object.__setattr__(self, "delegate", type(self).__motor_class__(pymongo_cursor, motor_collection))

    def _gridout_property(name: str) -> property:
        def fget(self: GridOut) -> Any:
            self._ensure_open()
            return wrap(getattr(self.delegate, name), self)

        return property(fget)

    _finish_class(GridFSBucket, _motor_gridfs.AgnosticGridFSBucket)
    _finish_class(GridIn, _motor_gridfs.AgnosticGridIn)
    _finish_class(GridOut, _motor_gridfs.AgnosticGridOut)
    for _name, _declaration in declarations(_motor_gridfs.AgnosticGridOut).items():
        if _declaration.kind is AttributeKind.PROPERTY:
            setattr(GridOut, _name, _gridout_property(_name))
    _finish_class(GridOutCursor, _motor_gridfs.AgnosticGridOutCursor)
    __all__ += ["GridFSBucket", "GridIn", "GridOut", "GridOutCursor"]


def synchro_classes() -> dict[str, type[Synchro]]:
    """Synchro's public classes by name."""
    return {name: value for name, value in globals().items() if name in __all__ and isinstance(value, type)}
