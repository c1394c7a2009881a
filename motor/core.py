"""Framework-agnostic classes: what Motor wraps of each PyMongo class, and how.

Each class declares, one line per PyMongo attribute, the kind of wrapper it gets (see
:mod:`motor.metaprogramming`); :func:`~motor.metaprogramming.create_class_with_framework` turns
them into the asyncio classes of :mod:`motor.motor_asyncio` and the Tornado classes of
:mod:`motor.motor_tornado`. Only what a declaration cannot express is written here by hand: object
construction, cursor iteration, transactions, and the client's non-blocking properties.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import random
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, ClassVar, NoReturn, TypeVar

from pymongo import CursorType
from pymongo.driver_info import DriverInfo
from pymongo.errors import InvalidOperation, PyMongoError
from pymongo.server_selectors import writable_server_selector
from pymongo.server_type import SERVER_TYPE
from pymongo.synchronous.change_stream import ChangeStream
from pymongo.synchronous.client_session import ClientSession
from pymongo.synchronous.collection import Collection
from pymongo.synchronous.command_cursor import CommandCursor, RawBatchCommandCursor
from pymongo.synchronous.cursor import Cursor, RawBatchCursor
from pymongo.synchronous.database import Database
from pymongo.synchronous.encryption import ClientEncryption
from pymongo.synchronous.mongo_client import MongoClient
from pymongo.topology_description import TOPOLOGY_TYPE

from motor import _pymongo_private
from motor._engine import Engine, default_max_workers, session_lock, validate_max_workers
from motor._version import version
from motor.frameworks.interface import EventLoop, Future
from motor.metaprogramming import (
    AgnosticBase,
    Async,
    AsyncCommand,
    AsyncProperty,
    AsyncRead,
    AsyncWrite,
    ChangeStreamMethod,
    CursorMethod,
    DelegateMethod,
    LatentCursorMethod,
    MotorCursorChainingMethod,
    ReadOnlyProperty,
    create_class_with_framework,
    framework_class,
    wrap_pymongo,
)
from motor.motor_common import callback_type_error

__all__ = [
    "AgnosticBaseCursor",
    "AgnosticChangeStream",
    "AgnosticClient",
    "AgnosticClientEncryption",
    "AgnosticClientSession",
    "AgnosticCollection",
    "AgnosticCommandCursor",
    "AgnosticCursor",
    "AgnosticDatabase",
    "AgnosticLatentCommandCursor",
    "AgnosticRawBatchCommandCursor",
    "AgnosticRawBatchCursor",
    # Motor 3's declaration names and class factory, which Motor-era code imports from here.
    "AsyncCommand",
    "AsyncRead",
    "AsyncWrite",
    "create_class_with_framework",
]


_T = TypeVar("_T")

_FETCH_NEXT_DEPRECATED = (
    "The fetch_next property is deprecated and may be removed in a future major release. "
    "Use `async for` to iterate over Cursor objects instead."
)
# Motor 3's text, two spaces included: applications filter warnings by it.
_NEXT_OBJECT_DEPRECATED = (
    "The next_object method is deprecated and may be removed in a future major release.  "
    "Use `async for` to iterate over Cursor objects instead."
)

#: How many seconds ``with_transaction`` retries for; read at each call, so that test suites can
#: patch it (Motor 3's name). PyMongo's own ``_WITH_TRANSACTION_RETRY_TIME_LIMIT`` is honoured too.
_WITH_TRANSACTION_RETRY_TIME_LIMIT = 120


def _within_time_limit(start_time: float, backoff: float = 0) -> bool:
    """Whether ``with_transaction`` may retry: PyMongo's rule, with the smaller of Motor's limit
    and PyMongo's, since test suites patch one or the other."""
    remaining = _pymongo_private.csot_remaining()
    if remaining is not None and remaining <= 0:
        return False
    limit = min(_WITH_TRANSACTION_RETRY_TIME_LIMIT, _pymongo_private.transaction_retry_time_limit())
    return time.monotonic() + backoff - start_time < limit


def _warn_legacy(message: str) -> None:
    # stacklevel 3: the line that called the deprecated method, not the method itself.
    warnings.warn(message, DeprecationWarning, stacklevel=3)


def _check_length(length: object) -> None:
    if length is None:
        return
    if not isinstance(length, int):
        raise TypeError(f"length must be an int, not {length!r}")
    if length < 0:
        raise ValueError("length must be non-negative")


def _accepts_keyword(fn: Callable[..., Any], name: str) -> bool:
    parameters = inspect.signature(fn).parameters.values()
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


class _Owned(AgnosticBase):
    """An object reached from a client: it shares the client's engine."""

    _client: AgnosticClient


# ---------------------------------------------------------------------------------------------
# Cursors
# ---------------------------------------------------------------------------------------------


class AgnosticBaseCursor(_Owned):
    """Iteration shared by every cursor: ``async for``, ``next``, ``to_list``, legacy helpers.

    The PyMongo cursor buffers a batch of documents; taking one from the buffer needs no I/O and
    happens on the loop thread. Only fetching a batch goes to a worker thread. Calls on one cursor
    use it one at a time (its lock), so concurrent ``next()`` calls return each document once.
    """

    #: Turns a document of PyMongo's buffer into what the cursor yields; ``None`` yields it as is.
    #: (GridOutCursor makes Motor GridOut objects of file documents.)
    _convert: ClassVar[Callable[[Any, Any], Any] | None] = None
    #: PyMongo's cursor class whose ``next`` and ``_next_batch`` give the buffer's raw documents.
    _raw_cursor_class: ClassVar[type] = object

    def __init__(self, cursor: Any, owner: AgnosticBase) -> None:
        self.delegate = cursor
        self._owner = owner
        self._engine = owner._engine
        self._client = owner._client if isinstance(owner, _Owned) else owner  # type: ignore[assignment]
        self._started_fetching = False
        # Held by the worker (or, briefly, the loop thread) that uses the PyMongo cursor, which is
        # not thread-safe.
        self._lock = threading.RLock()
        # Set when a cancelled fetch abandons the cursor: its buffer must not be read any more.
        self._abandoned = False
        # Weak: a cursor kept after its loop finished must not keep the loop alive.
        self._loop: weakref.ref[EventLoop] | None = None
        self._tasks: set[Future[None]] = set()  # Legacy each() iterations running.

    def __del__(self) -> None:
        # A cursor dropped with its server cursor open is killed at once, on a worker; PyMongo's
        # own clean-up would only do it a second or so later. The collector may run this inside
        # any code, the worker pool's locked sections included, so the kill is handed to the
        # cursor's loop (call_soon_threadsafe takes no lock), which gives it to the engine. If
        # the loop is gone, PyMongo's clean-up still kills the cursor.
        delegate = self.__dict__.get("delegate")
        loop_ref = self.__dict__.get("_loop")
        loop = None if loop_ref is None else loop_ref()
        if delegate is None or loop is None or self._engine.closed:
            return
        if _pymongo_private.cursor_needs_kill(delegate):
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._engine.run_detached, delegate.close)

    def _fetch(self, fn: Callable[..., _T], *args: Any) -> Future[_T]:
        """Run a fetch on a worker; if the caller cancels, close the cursor (loop thread)."""
        future = self._engine.run_cancellable(self._kill_on_cancel, fn, *args)
        # The loop the server cursor is used from: a dropped cursor's kill goes through it.
        self._loop = weakref.ref(future.get_loop())
        return future

    @property
    def started(self) -> bool:
        """``False`` until the cursor's first fetch (``next``, ``to_list``, ...), then ``True``.

        ``rewind()`` makes it ``False`` again.
        """
        return self._started_fetching

    def _started(self) -> Any:
        """Return the PyMongo cursor, creating it first if it is deferred (worker thread)."""
        return self.delegate

    def _session_of(self, kwargs: dict[str, Any]) -> Any:
        session = kwargs.get("session")
        if session is None and self.delegate is not None:
            session = self.delegate.session
        return session

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the cursor's lock, and its explicit session's if any, while a worker uses it."""
        with self._lock:
            session = self._session_of({})
            with contextlib.nullcontext() if session is None else session_lock(session):
                yield

    def _buffer(self) -> Any:
        delegate = self.delegate
        return None if delegate is None else _pymongo_private.cursor_buffer(delegate)

    def _take_buffered(self) -> tuple[bool, Any]:
        """``(True, document)`` if a document is buffered and no worker uses the cursor (loop)."""
        if self._abandoned or not self._lock.acquire(blocking=False):
            return False, None
        try:
            buffer = self._buffer()
            if not buffer:
                return False, None
            document = buffer.popleft()
        finally:
            self._lock.release()
        return True, document if self._convert is None else self._convert(document)

    def _next_raw_in_worker(self) -> Any:
        cursor = self._started()
        if cursor is None:
            raise StopAsyncIteration
        if self._raw_cursor_class is object:
            return cursor.next()
        return self._raw_cursor_class.next(cursor)  # type: ignore[attr-defined]

    def _next_in_worker(self) -> Any:
        with self._exclusive():
            document = self._next_raw_in_worker()
        return document if self._convert is None else self._convert(document)

    def __aiter__(self) -> AgnosticBaseCursor:
        return self

    async def __anext__(self) -> Any:
        self._started_fetching = True
        found, document = self._take_buffered()
        if found:
            return document
        return await self._fetch(self._next_in_worker)

    def next(self) -> Future[Any]:
        """Advance the cursor: return a Future of the next document.

        :raises StopAsyncIteration: (from the Future) when the cursor is exhausted.
        """
        self._started_fetching = True
        found, document = self._take_buffered()
        if found:
            return self._engine.resolved(document)
        return self._fetch(self._next_in_worker)

    def _is_tailable(self) -> bool:
        return bool(_pymongo_private.cursor_query_flags(self.delegate) & CursorType.TAILABLE)

    def _to_list_in_worker(self, length: int | None, cancelled: threading.Event) -> list[Any]:
        documents: list[Any] = []
        with self._exclusive():
            cursor = self._started()
            if cursor is None:
                return documents
            cursor_class: Any = type(cursor) if self._raw_cursor_class is object else self._raw_cursor_class
            remaining = length
            # One batch at a time, so that a caller who cancelled stops the fetching at the next
            # batch rather than after the whole result.
            while cursor.alive and not cancelled.is_set():
                if not _pymongo_private.next_batch(cursor_class, cursor, documents, remaining):
                    break
                if length is not None:
                    remaining = length - len(documents)
                    if remaining == 0:
                        break
        convert = self._convert
        return documents if convert is None else [convert(document) for document in documents]

    def to_list(self, length: int | None = None) -> Future[list[Any]]:
        """Return a Future of a list of up to ``length`` documents (all of them if ``None``).

        Fetching the documents takes one trip to a worker thread, however many batches it needs.
        If the caller is cancelled, the fetching stops at the next batch and the cursor is closed.

        :param length: the most documents to return, or ``None`` for all; ``0`` returns ``[]``.
        :raises TypeError: if ``length`` is not ``None`` or an int.
        :raises ValueError: if ``length`` is negative.
        :raises InvalidOperation: on a tailable cursor, which never ends: iterate it instead.
        """
        _check_length(length)
        if self._is_tailable():
            raise InvalidOperation("Can't call to_list on tailable cursor")
        self._started_fetching = True
        if length == 0:
            return self._engine.resolved([])
        cancelled = threading.Event()
        future = self._fetch(self._to_list_in_worker, length, cancelled)
        future.add_done_callback(lambda f: cancelled.set() if f.cancelled() else None)
        return future

    def _close_in_worker(self) -> None:
        if self.delegate is not None:
            with self._exclusive():
                buffer = self._buffer()
                if buffer:
                    buffer.clear()
                self.delegate.close()

    def _kill_on_cancel(self) -> None:
        # A cancelled fetch leaves the cursor in an unknown position: end it, as a break would,
        # rather than resume after a gap.
        self._abandoned = True
        self._engine.run_detached(self._close_in_worker)

    def close(self) -> Future[None]:
        """Close the cursor, killing it on the server if it is still open there.

        After the client is closed this completes at once: closing the client killed the cursor.
        """
        return self._engine.run_cleanup(self._close_in_worker)

    async def __aenter__(self) -> AgnosticBaseCursor:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._engine.shielded():
            await self.close()

    # Legacy iteration, deprecated since Motor 2.x but still used.

    def _fetch_in_worker(self) -> bool:
        with self._exclusive():
            try:
                document = self._next_raw_in_worker()
            except (StopIteration, StopAsyncIteration):
                return False
            # Put it back into PyMongo's buffer, so that rewind(), alive and to_list() see it.
            _pymongo_private.cursor_unread(self.delegate, document)
        return True

    @property
    def fetch_next(self) -> Future[bool]:
        """Deprecated: a Future of whether another document is available (then ``next_object()``).

        Use ``async for`` instead.
        """
        _warn_legacy(_FETCH_NEXT_DEPRECATED)
        self._started_fetching = True
        if not self._abandoned and self._buffer():
            return self._engine.resolved(True)
        return self._fetch(self._fetch_in_worker)

    def next_object(self) -> Any:
        """Deprecated: the document that ``fetch_next`` made available, or ``None``.

        Use ``async for`` instead.
        """
        _warn_legacy(_NEXT_OBJECT_DEPRECATED)
        found, document = self._take_buffered()
        return document if found else None

    def each(self, callback: Callable[[Any, Exception | None], Any]) -> None:
        """Call ``callback(document, None)`` for each document, then ``callback(None, None)``.

        An error of the cursor is passed as ``callback(None, error)`` and ends the iteration, as does
        a callback that returns ``False``. An exception raised by the callback ends the iteration
        too; it goes to the event loop's exception handler, which logs it, as Motor 3 did.

        :raises TypeError: if ``callback`` is not callable.
        """
        if not callable(callback):
            raise callback_type_error
        loop = self._engine.loop()

        def call(document: Any, error: Exception | None) -> bool:
            """Call the callback; return whether the iteration goes on."""
            try:
                return callback(document, error) is not False
            except Exception as exc:
                loop.call_exception_handler(
                    {"message": "Exception in the callback passed to each()", "exception": exc}
                )
                return False

        async def run() -> None:
            try:
                async for document in self:
                    if not call(document, None):
                        return
            except Exception as exc:
                call(None, exc)
                return
            call(None, None)

        task = self._engine.framework.spawn(loop, run())
        # The loop keeps only a weak reference to a task; keep it alive until it is done.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _RewindMethod(MotorCursorChainingMethod):
    """``rewind()``: PyMongo's, after which the cursor is unstarted (``started`` is ``False``)."""

    def create_attribute(self, cls: type[AgnosticBase], attr_name: str) -> Any:
        chain = super().create_attribute(cls, attr_name)

        def rewind(self: AgnosticBaseCursor) -> AgnosticBaseCursor:
            with self._lock:
                chain(self)
            self._started_fetching = False
            self._abandoned = False
            return self

        return self._finish(rewind, cls)


class AgnosticCursor(AgnosticBaseCursor):
    """The cursor ``find()`` returns."""

    __motor_class_name__ = "MotorCursor"
    __delegate_class__: ClassVar[type] = Cursor

    address = ReadOnlyProperty()
    alive = ReadOnlyProperty()
    cursor_id = ReadOnlyProperty()
    retrieved = ReadOnlyProperty()
    session = ReadOnlyProperty()

    add_option = MotorCursorChainingMethod()
    allow_disk_use = MotorCursorChainingMethod()
    batch_size = MotorCursorChainingMethod()
    collation = MotorCursorChainingMethod()
    comment = MotorCursorChainingMethod()
    hint = MotorCursorChainingMethod()
    limit = MotorCursorChainingMethod()
    max = MotorCursorChainingMethod()
    max_await_time_ms = MotorCursorChainingMethod()
    max_scan = MotorCursorChainingMethod()
    max_time_ms = MotorCursorChainingMethod()
    min = MotorCursorChainingMethod()
    remove_option = MotorCursorChainingMethod()
    rewind = _RewindMethod()
    skip = MotorCursorChainingMethod()
    sort = MotorCursorChainingMethod()
    where = MotorCursorChainingMethod()

    clone = DelegateMethod(wrap=Cursor)
    close = Async(cleanup=True)
    distinct = Async()
    explain = Async()

    def __init__(self, cursor: Cursor[Any], collection: AgnosticCollection) -> None:
        super().__init__(cursor, collection)
        self._collection = collection
        default = self._client._default_batch_size
        if (
            default
            and not isinstance(cursor, RawBatchCursor)
            and _pymongo_private.cursor_batch_size(cursor) == 0
        ):
            cursor.batch_size(default)

    @property
    def collection(self) -> AgnosticCollection:
        """The Motor collection this cursor reads."""
        return self._collection

    def __copy__(self) -> AgnosticCursor:
        """A new, unstarted cursor with this one's options, as ``copy.copy`` of PyMongo's gives."""
        return wrap_pymongo(self, copy.copy(self.delegate))  # type: ignore[no-any-return]

    def __deepcopy__(self, memo: dict[int, Any]) -> AgnosticCursor:
        """A new, unstarted cursor with deep copies of this one's options."""
        return wrap_pymongo(self, copy.deepcopy(self.delegate, memo))  # type: ignore[no-any-return]

    @classmethod
    def _from_delegate(cls, delegate: Any, owner: AgnosticBase) -> AgnosticBase:
        if isinstance(owner, AgnosticCollection) and owner.delegate == delegate.collection:
            return cls(delegate, owner)
        if isinstance(owner, AgnosticCursor):
            return cls(delegate, owner.collection)
        return cls(delegate, wrap_pymongo(owner, delegate.collection))


class AgnosticRawBatchCursor(AgnosticCursor):
    """The cursor ``find_raw_batches()`` returns: it yields raw BSON batches."""

    __motor_class_name__ = "MotorRawBatchCursor"
    __delegate_class__ = RawBatchCursor


class AgnosticCommandCursor(AgnosticBaseCursor):
    """A cursor over the results of a command (``list_collections``, ``aggregate``, ...)."""

    __motor_class_name__ = "MotorCommandCursor"
    __delegate_class__: ClassVar[type] = CommandCursor

    address = ReadOnlyProperty()
    alive = ReadOnlyProperty()
    cursor_id = ReadOnlyProperty()
    session = ReadOnlyProperty()
    batch_size = MotorCursorChainingMethod()

    def _try_next_in_worker(self) -> Any:
        with self._exclusive():
            cursor = self._started()
            return None if cursor is None else cursor.try_next()

    def try_next(self) -> Future[Any]:
        """Return a Future of the next document, or of ``None`` if none is available now.

        Runs at most one ``getMore``; useful with tailable cursors.
        """
        return self._fetch(self._try_next_in_worker)

    @classmethod
    def _from_delegate(cls, delegate: Any, owner: AgnosticBase) -> AgnosticBase:
        return cls(delegate, owner)


class AgnosticRawBatchCommandCursor(AgnosticCommandCursor):
    """A command cursor that yields raw BSON batches (``aggregate_raw_batches``)."""

    __motor_class_name__ = "MotorRawBatchCommandCursor"
    __delegate_class__ = RawBatchCommandCursor


class AgnosticLatentCommandCursor(AgnosticCommandCursor):
    """A command cursor whose command runs at its first use, on a worker thread.

    ``aggregate()``, ``list_indexes()`` and ``list_search_indexes()`` return it at once, without
    I/O, so that ``async for doc in coll.aggregate(pipeline)`` needs no ``await`` before the loop.
    """

    __motor_class_name__ = "MotorLatentCommandCursor"

    def __init__(
        self,
        owner: AgnosticBase,
        start: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        super().__init__(None, owner)
        self._start = start
        self._args = args
        self._kwargs = kwargs
        self._batch_size: int | None = None
        self._closed = False

    def _started(self) -> Any:
        if self.delegate is None and not self._closed:
            batch_size = self._batch_size or self._client._default_batch_size
            if batch_size and _accepts_keyword(self._start, "batchSize"):
                self._kwargs.setdefault("batchSize", batch_size)
            cursor = self._start(*self._args, **self._kwargs)
            if self._batch_size is not None:
                cursor.batch_size(self._batch_size)
            self.delegate = cursor
        return self.delegate

    def _close_in_worker(self) -> None:
        self._closed = True
        super()._close_in_worker()

    def batch_size(self, batch_size: int) -> AgnosticLatentCommandCursor:
        """Set the number of documents per batch; returns this cursor.

        :raises TypeError: if ``batch_size`` is not an int.
        :raises ValueError: if ``batch_size`` is negative.
        """
        if not isinstance(batch_size, int) or isinstance(batch_size, bool):
            raise TypeError(f"batch_size must be an int, not {batch_size!r}")
        if batch_size < 0:
            raise ValueError(f"batch_size must be >= 0, not {batch_size}")
        self._batch_size = batch_size
        if self.delegate is not None:
            self.delegate.batch_size(batch_size)
        return self

    @property
    def alive(self) -> bool:
        """Whether the cursor may have more results (true until it has run and been exhausted)."""
        if self.delegate is None:
            return not self._closed
        return bool(self.delegate.alive)

    @property
    def cursor_id(self) -> int | None:
        """The server's cursor id, once the command has run."""
        return None if self.delegate is None else self.delegate.cursor_id

    @property
    def address(self) -> Any:
        """The server's address, once the command has run."""
        return None if self.delegate is None else self.delegate.address

    def _session_of(self, kwargs: dict[str, Any]) -> Any:
        if self.delegate is None:
            return kwargs.get("session") or self._kwargs.get("session")
        return super()._session_of(kwargs)

    @property
    def session(self) -> Any:
        """The PyMongo session the command runs in, if one was given."""
        if self.delegate is None:
            return self._kwargs.get("session")
        return self.delegate.session


# ---------------------------------------------------------------------------------------------
# Change streams
# ---------------------------------------------------------------------------------------------


class AgnosticChangeStream(_Owned):
    """A change stream; the server-side stream opens at the first use, on a worker thread.

    ``async with coll.watch() as stream`` opens it on entry, so that changes made inside the block
    are seen.
    """

    __motor_class_name__ = "MotorChangeStream"
    __delegate_class__ = ChangeStream

    def __init__(
        self,
        target: AgnosticBase,
        start: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.delegate = None
        self._target = target
        self._engine = target._engine
        self._client = target._client if isinstance(target, _Owned) else target  # type: ignore[assignment]
        self._start = start
        self._args = args
        self._kwargs = kwargs
        self._closed = False

    def _started(self) -> Any:
        if self.delegate is None:
            if self._closed:
                raise StopAsyncIteration
            stream = self._start(*self._args, **self._kwargs)
            if self._closed:
                # Closed (or cancelled) while the server opened it.
                stream.close()
                raise StopAsyncIteration
            self.delegate = stream
        return self.delegate

    def _next_in_worker(self) -> Any:
        # PyMongo's next() waits until a change comes or the stream is closed; polling with
        # try_next() (one getMore each) lets a cancellation free this worker within a round trip,
        # even when no other worker is free to run the close.
        stream = self._started()
        while not self._closed:
            change = stream.try_next()
            if change is not None:
                return change
            if not stream.alive:
                break
        stream.close()
        raise StopAsyncIteration

    def _close_on_cancel(self, future: Future[Any]) -> None:
        if future.cancelled():
            # The worker may still wait for a change; closing the stream ends that wait.
            self._closed = True
            self._engine.run_detached(self._close_in_worker)

    def next(self) -> Future[Any]:
        """Return a Future of the next change, waiting for one to happen.

        If the awaiting task is cancelled, the change stream is closed.

        :raises StopAsyncIteration: (from the Future) if the stream is closed.
        """
        future = self._engine.run_waiting(self._next_in_worker)
        future.add_done_callback(self._close_on_cancel)
        return future

    def __aiter__(self) -> AgnosticChangeStream:
        return self

    def __anext__(self) -> Future[Any]:
        return self.next()

    def _try_next_in_worker(self) -> Any:
        if self.delegate is None and self._closed:
            return None
        return self._started().try_next()

    def try_next(self) -> Future[Any]:
        """Return a Future of the next change, or of ``None`` if none happened (one ``getMore``)."""
        return self._engine.run_waiting(self._try_next_in_worker)

    def _close_in_worker(self) -> None:
        self._closed = True
        if self.delegate is not None:
            self.delegate.close()

    def close(self) -> Future[None]:
        """Close the change stream; after the client is closed, this completes at once."""
        self._closed = True
        return self._engine.run_cleanup(self._close_in_worker)

    @property
    def alive(self) -> bool:
        """Whether the change stream may return more changes (false as soon as it is closed)."""
        if self._closed:
            return False
        return True if self.delegate is None else bool(self.delegate.alive)

    @property
    def resume_token(self) -> Mapping[str, Any] | None:
        """The token to resume after the last change returned, or ``None`` before the first."""
        return None if self.delegate is None else self.delegate.resume_token

    def __enter__(self) -> None:
        raise RuntimeError('Use a change stream in "async with", not "with"')

    def __exit__(self, *args: object) -> None:  # pragma: no cover - __enter__ always raises
        pass

    async def __aenter__(self) -> AgnosticChangeStream:
        future = self._engine.run(self._started)
        future.add_done_callback(self._close_on_cancel)
        await future
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._engine.shielded():
            await self.close()


# ---------------------------------------------------------------------------------------------
# Sessions
# ---------------------------------------------------------------------------------------------


class _TransactionContext:
    """What ``session.start_transaction()`` returns: ``async with`` commits, or aborts on error."""

    def __init__(self, session: AgnosticClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> _TransactionContext:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session.in_transaction:
            if exc_type is None:
                await self._session._commit_or_abort()
            else:
                with self._session._engine.shielded():
                    await self._session.abort_transaction()

    def __enter__(self) -> None:
        raise TypeError("use 'async with session.start_transaction()', not 'with'")

    def __exit__(self, *args: object) -> None:  # pragma: no cover - __enter__ always raises
        pass


class _BoundSession:
    """What ``session.bind()`` returns: operations inside the block use the session implicitly."""

    def __init__(self, session: AgnosticClientSession, end_session: bool) -> None:
        self._session = session
        self._end_session = end_session
        self._token: Any = None

    def __enter__(self) -> AgnosticClientSession:
        self._token = _pymongo_private.bind_session(self._session.delegate)
        return self._session

    def __exit__(self, *args: object) -> None:
        _pymongo_private.unbind_session(self._token)
        if self._end_session:
            # Ending a session may abort a transaction on the server: never on the loop thread.
            self._session._engine.run_detached(self._session.delegate.end_session)

    async def __aenter__(self) -> AgnosticClientSession:
        return self.__enter__()

    async def __aexit__(self, *args: object) -> None:
        _pymongo_private.unbind_session(self._token)
        if self._end_session:
            with self._session._engine.shielded():
                await self._session.end_session()


class AgnosticClientSession(_Owned):
    """A causally consistent session, for transactions and ordered reads and writes."""

    __motor_class_name__ = "MotorClientSession"
    __delegate_class__ = ClientSession

    abort_transaction = Async(cleanup=True)
    commit_transaction = Async()
    end_session = Async(cleanup=True)
    advance_cluster_time = DelegateMethod()
    advance_operation_time = DelegateMethod()
    cluster_time = ReadOnlyProperty()
    has_ended = ReadOnlyProperty()
    in_transaction = ReadOnlyProperty()
    operation_time = ReadOnlyProperty()
    options = ReadOnlyProperty()
    session_id = ReadOnlyProperty()

    def __init__(self, delegate: ClientSession, motor_client: AgnosticClient) -> None:
        self.delegate = delegate
        self._client = motor_client
        self._engine = motor_client._engine

    @classmethod
    def _from_delegate(cls, delegate: Any, owner: AgnosticBase) -> AgnosticBase:
        assert isinstance(owner, _Owned)
        return cls(delegate, owner._client)

    def _session_of(self, kwargs: dict[str, Any]) -> Any:
        return self.delegate

    def __copy__(self) -> AgnosticClientSession:
        """:raises TypeError: always, as PyMongo's does: a session cannot be copied."""
        copy.copy(self.delegate)  # Raises PyMongo's TypeError.
        raise TypeError("A ClientSession cannot be copied, create a new session instead")

    @property
    def client(self) -> AgnosticClient:
        """The Motor client this session was started from."""
        return self._client

    def start_transaction(
        self,
        read_concern: Any = None,
        write_concern: Any = None,
        read_preference: Any = None,
        max_commit_time_ms: int | None = None,
    ) -> _TransactionContext:
        """Start a transaction; ``async with`` the result to commit it (or abort on error).

        :raises InvalidOperation: if a transaction is already in progress.
        """
        self.delegate.start_transaction(read_concern, write_concern, read_preference, max_commit_time_ms)
        return _TransactionContext(self)

    async def with_transaction(
        self,
        callback: Callable[[AgnosticClientSession], Any] | None = None,
        read_concern: Any = None,
        write_concern: Any = None,
        read_preference: Any = None,
        max_commit_time_ms: int | None = None,
        *,
        coro: Callable[[AgnosticClientSession], Any] | None = None,
    ) -> Any:
        """Run ``await callback(session)`` in a transaction and commit it, retrying as the
        transactions specification says.

        The callback is retried while it raises an error labelled ``TransientTransactionError``, and
        the commit while it fails with ``UnknownTransactionCommitResult``, with jittered
        exponential backoff, until ``motor.core._WITH_TRANSACTION_RETRY_TIME_LIMIT`` (120) seconds
        have passed or the deadline of an enclosing
        ``pymongo.timeout()`` block. Any other error aborts the transaction and is raised, as is a
        cancellation of the awaiting task.

        :param callback: an ``async def`` function taking this session (``coro=`` is Motor 3's
            name for it). It may be called more than once.
        :param read_concern: the transaction's read concern.
        :param write_concern: the transaction's write concern.
        :param read_preference: the transaction's read preference.
        :param max_commit_time_ms: the most time a commit may take on the server.
        :return: what the last call of ``callback`` returned.
        :raises TypeError: if no callable callback is given.
        """
        if callback is None:
            callback = coro
        if not callable(callback):
            raise TypeError(f"with_transaction() needs an async callback, not {callback!r}")

        within_limit = _within_time_limit
        start_time = time.monotonic()
        retry = 0
        last_error: BaseException | None = None
        while True:
            if retry:
                initial, maximum = _pymongo_private.transaction_backoff_bounds()
                backoff = random.random() * min(initial * (1.5**retry), maximum)  # noqa: S311 - jitter
                if not within_limit(start_time, backoff):
                    assert last_error is not None
                    raise _pymongo_private.make_timeout_error(last_error) from last_error
                await self._engine.sleep(backoff)
            retry += 1
            self.start_transaction(read_concern, write_concern, read_preference, max_commit_time_ms)
            try:
                result = callback(self)
                if inspect.isawaitable(result):
                    result = await result
            except BaseException as exc:
                last_error = exc
                if self.in_transaction:
                    with self._engine.shielded():
                        await self.abort_transaction()
                if isinstance(exc, PyMongoError) and exc.has_error_label("TransientTransactionError"):
                    if within_limit(start_time):
                        continue
                    raise _pymongo_private.make_timeout_error(exc) from exc
                raise

            if not self.in_transaction:
                # The callback committed or aborted the transaction itself.
                return result

            while True:
                try:
                    await self._commit_or_abort()
                except PyMongoError as exc:
                    last_error = exc
                    if exc.has_error_label(
                        "UnknownTransactionCommitResult"
                    ) and not _pymongo_private.is_max_time_expired_error(exc):
                        if not within_limit(start_time):
                            raise _pymongo_private.make_timeout_error(exc) from exc
                        continue
                    if exc.has_error_label("TransientTransactionError"):
                        if not within_limit(start_time):
                            raise _pymongo_private.make_timeout_error(exc) from exc
                        break  # Retry the whole transaction.
                    raise
                return result

    def _abort_in_worker(self) -> None:
        # Queued behind the cancelled commit by the session's lock: if the commit never started,
        # the transaction is still in progress, and nobody would ever end it.
        with session_lock(self.delegate):
            if self.delegate.in_transaction:
                self.delegate.abort_transaction()

    async def _commit_or_abort(self) -> None:
        """Commit; if the caller is cancelled meanwhile, make sure the transaction ends."""
        try:
            await self.commit_transaction()
        except self._engine.CancelledError:
            self._engine.run_detached(self._abort_in_worker)
            raise

    def bind(self, end_session: bool = True) -> _BoundSession:
        """Make this session the implicit session of operations inside ``with`` / ``async with``.

        :param end_session: end the session when the block exits.
        """
        return _BoundSession(self, end_session)

    async def __aenter__(self) -> AgnosticClientSession:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._engine.shielded():
            await self.end_session()

    def __enter__(self) -> None:
        raise AttributeError("Use Motor sessions like 'async with await client.start_session()', not 'with'")

    def __exit__(self, *args: object) -> None:  # pragma: no cover - __enter__ always raises
        pass


# ---------------------------------------------------------------------------------------------
# Collection, Database, Client
# ---------------------------------------------------------------------------------------------


class _Wrapping(_Owned):
    """Clients, databases and collections can wrap PyMongo objects in their framework's classes."""

    def wrap(self, obj: Any) -> Any:
        """Return the Motor object, of this object's framework, that wraps PyMongo's ``obj``.

        :raises TypeError: if Motor does not wrap objects of ``obj``'s type.
        """
        wrapped = wrap_pymongo(self, obj)
        if wrapped is obj:
            raise TypeError(f"Motor cannot wrap {type(obj).__name__} objects")
        return wrapped


def _no_such_attribute(obj: AgnosticBase, name: str) -> AttributeError:
    cls_name = type(obj).__name__
    if name.startswith("_"):
        # Motor 3's messages, word for word: applications match them.
        if isinstance(obj, AgnosticClient):
            return AttributeError(
                f"{cls_name} has no attribute {name!r}. To access the {name} database, use client['{name}']."
            )
        if isinstance(obj, AgnosticCollection):
            name = f"{obj.name}.{name}"
        return AttributeError(
            f"{cls_name} has no attribute {name!r}. To access the {name} collection, use database['{name}']."
        )
    delegate_class = obj.__delegate_class__
    return AttributeError(
        f"{cls_name} has no attribute {name!r}: PyMongo's {delegate_class.__name__}.{name} is not "
        f"offered by Motor (see the exclusion table in the documentation); use obj[{name!r}] for a "
        "database or collection of that name"
    )


class AgnosticCollection(_Wrapping):
    """A collection: CRUD, indexes, aggregation and change streams."""

    __motor_class_name__ = "MotorCollection"
    __delegate_class__ = Collection
    # Like PyMongo's, a collection is not iterable, although it has __getitem__.
    __iter__ = None

    __bool__ = DelegateMethod()
    codec_options = ReadOnlyProperty()
    full_name = ReadOnlyProperty()
    name = ReadOnlyProperty()
    read_concern = ReadOnlyProperty()
    read_preference = ReadOnlyProperty()
    write_concern = ReadOnlyProperty()

    bulk_write = Async()
    count_documents = Async()
    create_index = Async()
    create_indexes = Async()
    create_search_index = Async()
    create_search_indexes = Async()
    delete_many = Async()
    delete_one = Async()
    distinct = Async()
    drop = Async()
    drop_index = Async()
    drop_indexes = Async()
    drop_search_index = Async()
    estimated_document_count = Async()
    find_one = Async()
    find_one_and_delete = Async()
    find_one_and_replace = Async()
    find_one_and_update = Async()
    index_information = Async()
    insert_many = Async()
    insert_one = Async()
    options = Async()
    rename = Async()
    replace_one = Async()
    update_many = Async()
    update_one = Async()
    update_search_index = Async()

    find = CursorMethod(wrap=Cursor)
    find_raw_batches = CursorMethod(wrap=RawBatchCursor)
    aggregate = LatentCursorMethod(AgnosticLatentCommandCursor)
    aggregate_raw_batches = LatentCursorMethod(AgnosticLatentCommandCursor)
    list_indexes = LatentCursorMethod(AgnosticLatentCommandCursor)
    list_search_indexes = LatentCursorMethod(AgnosticLatentCommandCursor)
    watch = ChangeStreamMethod(AgnosticChangeStream)
    with_options = DelegateMethod(wrap=Collection)

    def __init__(
        self,
        database: AgnosticDatabase,
        name: str,
        codec_options: Any = None,
        read_preference: Any = None,
        write_concern: Any = None,
        read_concern: Any = None,
        _delegate: Collection[Any] | None = None,
    ) -> None:
        if not isinstance(database, AgnosticDatabase):
            raise TypeError(f"First argument to MotorCollection must be MotorDatabase, not {database!r}")
        self._database = database
        self._client = database._client
        self._engine = database._engine
        self.delegate = (
            _delegate
            if _delegate is not None
            else Collection(
                database.delegate,
                name,
                codec_options=codec_options,
                read_preference=read_preference,
                write_concern=write_concern,
                read_concern=read_concern,
            )
        )

    @property
    def database(self) -> AgnosticDatabase:
        """The Motor database this collection belongs to."""
        return self._database

    @classmethod
    def _from_delegate(cls, delegate: Any, owner: AgnosticBase) -> AgnosticBase:
        if isinstance(owner, AgnosticDatabase) and owner.delegate == delegate.database:
            database = owner
        elif isinstance(owner, AgnosticCollection) and owner.database.delegate == delegate.database:
            database = owner.database
        else:
            database = wrap_pymongo(owner, delegate.database)
        return cls(database, delegate.name, _delegate=delegate)

    def __getattr__(self, name: str) -> AgnosticCollection:
        if name.startswith("_") or hasattr(Collection, name):
            raise _no_such_attribute(self, name)
        return self[name]

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        """:raises TypeError: always: ``coll.no_such_method()`` reached a sub-collection."""
        raise TypeError(
            "MotorCollection object is not callable. If you meant to call the "
            f"'{self.delegate.name}' method on a MotorCollection object it is failing because no "
            "such method exists."
        )

    def __getitem__(self, name: str) -> AgnosticCollection:
        return type(self)(self.database, f"{self.name}.{name}", _delegate=self.delegate[name])


class AgnosticDatabase(_Wrapping):
    """A database: its collections, commands and change streams."""

    __motor_class_name__ = "MotorDatabase"
    __delegate_class__ = Database
    # Like PyMongo's, a database is not iterable, although it has __getitem__.
    __iter__ = None

    __bool__ = DelegateMethod()
    codec_options = ReadOnlyProperty()
    name = ReadOnlyProperty()
    read_concern = ReadOnlyProperty()
    read_preference = ReadOnlyProperty()
    write_concern = ReadOnlyProperty()

    command = Async()
    create_collection = Async(wrap=Collection)
    cursor_command = Async(wrap=CommandCursor)
    dereference = Async()
    drop_collection = Async()
    list_collection_names = Async()
    list_collections = Async(wrap=CommandCursor)
    validate_collection = Async()

    aggregate = LatentCursorMethod(AgnosticLatentCommandCursor)
    watch = ChangeStreamMethod(AgnosticChangeStream)
    get_collection = DelegateMethod(wrap=Collection)
    with_options = DelegateMethod(wrap=Database)

    def __init__(self, client: AgnosticClient, name: str, **kwargs: Any) -> None:
        if not isinstance(client, AgnosticClient):
            raise TypeError(f"First argument to MotorDatabase must be a Motor client, not {client!r}")
        delegate = kwargs.pop("_delegate", None)
        self._client = client
        self._engine = client._engine
        self.delegate = delegate if delegate is not None else Database(client.delegate, name, **kwargs)

    @classmethod
    def _from_delegate(cls, delegate: Any, owner: AgnosticBase) -> AgnosticBase:
        assert isinstance(owner, _Owned)
        return cls(owner._client, delegate.name, _delegate=delegate)

    @property
    def client(self) -> AgnosticClient:
        """The Motor client this database belongs to."""
        return self._client

    def __getattr__(self, name: str) -> AgnosticCollection:
        if name.startswith("_") or hasattr(Database, name):
            raise _no_such_attribute(self, name)
        return self[name]

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        """:raises TypeError: always: ``client.no_such_method()`` reached a database."""
        client_class_name = type(self._client).__name__
        if self.delegate.name == "open_sync":
            raise TypeError(
                f"{client_class_name}.open_sync() is unnecessary Motor 0.2, see changelog for details."
            )
        raise TypeError(
            "MotorDatabase object is not callable. If you meant to call the "
            f"'{self.delegate.name}' method on a {client_class_name} object it is failing because "
            "no such method exists."
        )

    def __getitem__(self, name: str) -> AgnosticCollection:
        collection_class: Any = framework_class(self, AgnosticCollection)
        return collection_class(self, name)  # type: ignore[no-any-return]


def _current_writable_server(client: MongoClient[Any]) -> Any:
    """The description of the server PyMongo would select for a write now, without waiting."""
    if not _pymongo_private.has_topology(client):
        return None
    selected = client.topology_description.apply_selector(writable_server_selector)
    return selected[0] if selected else None


class AgnosticClient(_Wrapping):
    """A client: the connection pool, its databases, sessions and change streams.

    Properties that PyMongo computes by waiting for server selection (``address``, ``is_primary``,
    ``is_mongos``, ``primary``, ``secondaries``, ``arbiters``) read what the client knows now and never
    block the event loop; their awaitable forms (``await client.get_address()``, ...) wait for a
    server as PyMongo does.
    """

    __motor_class_name__ = "MotorClient"
    __delegate_class__ = MongoClient
    # Like PyMongo's, a client is not iterable, although it has __getitem__.
    __iter__ = None

    HOST = ReadOnlyProperty()
    PORT = ReadOnlyProperty()
    codec_options = ReadOnlyProperty()
    nodes = ReadOnlyProperty()
    options = ReadOnlyProperty()
    read_concern = ReadOnlyProperty()
    read_preference = ReadOnlyProperty()
    topology_description = ReadOnlyProperty()
    write_concern = ReadOnlyProperty()

    bulk_write = Async()
    drop_database = Async()
    list_database_names = Async()
    list_databases = Async(wrap=CommandCursor)
    server_info = Async()
    start_session = Async(wrap=ClientSession)
    get_address = AsyncProperty("address")
    get_arbiters = AsyncProperty("arbiters")
    get_is_mongos = AsyncProperty("is_mongos")
    get_is_primary = AsyncProperty("is_primary")
    get_primary = AsyncProperty("primary")
    get_secondaries = AsyncProperty("secondaries")

    append_metadata = DelegateMethod()
    eq_props = DelegateMethod()
    get_database = DelegateMethod(wrap=Database)
    get_default_database = DelegateMethod(wrap=Database)
    watch = ChangeStreamMethod(AgnosticChangeStream)

    def __init__(
        self,
        *args: Any,
        io_loop: Any = None,
        max_workers: int | None = None,
        default_batch_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Create a client; it takes every argument that :class:`pymongo.MongoClient` takes.

        :param io_loop: pin the client to this event loop (an asyncio loop for the asyncio classes,
            a Tornado ``IOLoop`` for the Tornado classes); by default a call uses the running loop.
        :param max_workers: the most worker threads the client runs PyMongo calls on; by default
            ``MOTOR_MAX_WORKERS`` if set, else the connection pool's ``maxPoolSize``.
        :param default_batch_size: the documents per batch that ``find`` and ``aggregate``
            cursors ask for when the caller sets no ``batch_size``. By default, as PyMongo, they
            ask for none, and the server sends up to 16 MiB per batch; decoding such a batch holds
            the GIL, so a small value (300, say) keeps the event loop more responsive, at the cost
            of more round trips.
        :raises TypeError: if ``io_loop`` is not an event loop of this class's framework.
        :raises ValueError: if ``max_workers`` or ``default_batch_size`` is not a positive integer.
        """
        framework = getattr(type(self), "_framework", None)
        if framework is None:
            raise TypeError("AgnosticClient is framework-agnostic: use AsyncIOMotorClient or MotorClient")
        if io_loop is not None:
            framework.check_event_loop(io_loop)
        if max_workers is not None:
            max_workers = validate_max_workers(max_workers)
        if default_batch_size is not None and (
            not isinstance(default_batch_size, int)
            or isinstance(default_batch_size, bool)
            or default_batch_size < 1
        ):
            raise ValueError(f"default_batch_size must be a positive integer, not {default_batch_size!r}")
        self._default_batch_size = default_batch_size
        connect = kwargs.pop("connect", None)
        motor_info = DriverInfo("Motor", version, framework.platform_info())
        user_info = kwargs.get("driver")
        if user_info is None:
            kwargs["driver"] = motor_info
        # PyMongo's constructor resolves mongodb+srv:// hosts (DNS) when asked to connect at once;
        # it must not run on the event loop, so the client connects on a worker thread instead.
        kwargs["connect"] = False
        delegate: MongoClient[Any] = MongoClient(*args, **kwargs)
        if user_info is not None:
            delegate.append_metadata(motor_info)
        self.delegate = delegate
        self._client = self
        self._connect_lock = threading.Lock()
        self._engine = Engine(
            framework,
            io_loop,
            max_workers or default_max_workers(delegate.options.pool_options.max_pool_size or None),
            type(self).__name__,
            self._close_pymongo,
        )
        if connect is not None and not isinstance(connect, bool):
            raise TypeError(f"connect must be True or False, not {connect!r}")
        if connect is None or connect:
            self._engine.run_detached(self._connect_in_worker)

    @property
    def io_loop(self) -> Any:
        """The framework event loop: the pinned one, else the current one."""
        return self._engine.io_loop

    def _connect_in_worker(self) -> None:
        # Opening the topology opens a closed client again: connect only if not closed,
        # and never while close runs (both hold the lock).
        with self._connect_lock:
            if not self._engine.closed:
                _pymongo_private.open_topology(self.delegate)

    def _close_pymongo(self) -> None:
        with self._connect_lock:
            self.delegate.close()

    @property
    def address(self) -> tuple[str, int] | None:
        """(host, port) of the current standalone, primary or mongos, or ``None`` if not yet known.

        Unlike PyMongo, this does not wait for a server; ``await client.get_address()`` does.

        :raises InvalidOperation: if the client load-balances among several mongoses.
        """
        description = self.delegate.topology_description
        if description.topology_type == TOPOLOGY_TYPE.Sharded and len(description.server_descriptions()) > 1:
            raise InvalidOperation(
                'Cannot use "address" property when load balancing among mongoses, use "nodes" instead.'
            )
        server = _current_writable_server(self.delegate)
        return None if server is None else server.address

    @property
    def is_primary(self) -> bool:
        """Whether the server known now is writable (a primary or standalone); never waits."""
        server = _current_writable_server(self.delegate)
        return bool(server is not None and server.is_writable)

    @property
    def is_mongos(self) -> bool:
        """Whether the server known now is a mongos; never waits."""
        server = _current_writable_server(self.delegate)
        return bool(server is not None and server.server_type == SERVER_TYPE.Mongos)

    @property
    def primary(self) -> tuple[str, int] | None:
        """(host, port) of the replica set's primary as known now, or ``None``."""
        return self.delegate.primary if _pymongo_private.has_topology(self.delegate) else None

    @property
    def secondaries(self) -> set[tuple[str, int]]:
        """The replica set's secondaries as known now."""
        return self.delegate.secondaries if _pymongo_private.has_topology(self.delegate) else set()

    @property
    def arbiters(self) -> set[tuple[str, int]]:
        """The replica set's arbiters as known now."""
        return self.delegate.arbiters if _pymongo_private.has_topology(self.delegate) else set()

    def close(self) -> Future[None] | None:
        """Close the client: end its sessions, kill its cursors, close its connections.

        PyMongo's close does network I/O, so it runs on a worker thread; inside an event loop
        this returns a Future to await if you want to wait for it. Using the client, or anything
        reached from it, after close raises :exc:`~pymongo.errors.InvalidOperation`.
        """
        return self._engine.close()

    async def aclose(self) -> None:
        """Close the client and wait until it is closed (PyMongo Async's spelling)."""
        future = self.close()
        if future is not None:
            await future

    async def aconnect(self) -> None:
        """Start connecting to the servers now rather than at the first operation."""
        await self._engine.run(_pymongo_private.open_topology, self.delegate)

    async def __aenter__(self) -> AgnosticClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._engine.shielded():
            await self.aclose()

    def __getattr__(self, name: str) -> AgnosticDatabase:
        if name.startswith("_") or hasattr(MongoClient, name):
            raise _no_such_attribute(self, name)
        return self[name]

    def __getitem__(self, name: str) -> AgnosticDatabase:
        database_class: Any = framework_class(self, AgnosticDatabase)
        return database_class(self, name)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# Explicit client-side field level encryption
# ---------------------------------------------------------------------------------------------


class AgnosticClientEncryption(_Owned):
    """Explicit client-side field level encryption: data keys, encrypt and decrypt.

    Takes the arguments of PyMongo's :class:`~pymongo.encryption.ClientEncryption`, with a Motor
    client of the same framework as ``key_vault_client``. Needs the ``encryption`` extra
    (``pymongocrypt``).
    """

    __motor_class_name__ = "MotorClientEncryption"
    __delegate_class__ = ClientEncryption

    add_key_alt_name = Async()
    close = Async()
    create_data_key = Async()
    decrypt = Async()
    delete_key = Async()
    encrypt = Async()
    encrypt_expression = Async()
    get_key = Async()
    get_key_by_alt_name = Async()
    get_keys = Async(wrap=Cursor)
    remove_key_alt_name = Async()
    rewrap_many_data_key = Async()

    def __init__(
        self,
        kms_providers: Mapping[str, Any],
        key_vault_namespace: str,
        key_vault_client: AgnosticClient,
        codec_options: Any,
        *args: Any,
        io_loop: Any = None,
        **kwargs: Any,
    ) -> None:
        """
        :param kms_providers: the KMS providers' credentials, as PyMongo takes them.
        :param key_vault_namespace: ``"database.collection"`` of the key vault.
        :param key_vault_client: the Motor client of the key vault's cluster.
        :param codec_options: PyMongo ``CodecOptions`` for decoding decrypted values.
        :param io_loop: Motor 3's argument; the key vault client's loop is used.
        :raises TypeError: if ``key_vault_client`` is not a Motor client of this framework.

        Further arguments (``kms_tls_options``, ``key_expiration_ms``, ``kms_connect_callback``,
        and any that a newer PyMongo adds) go to PyMongo unchanged.
        """
        framework = getattr(type(self), "_framework", None)
        if (
            not isinstance(key_vault_client, AgnosticClient)
            or type(key_vault_client)._framework is not framework
        ):
            raise TypeError(
                f"{type(self).__name__} needs a Motor client of the same framework as "
                f"key_vault_client, not {key_vault_client!r}"
            )
        self._client = key_vault_client
        self._engine = key_vault_client._engine
        self.delegate = ClientEncryption(
            kms_providers, key_vault_namespace, key_vault_client.delegate, codec_options, *args, **kwargs
        )

    @property
    def io_loop(self) -> Any:
        """The framework event loop of the key vault client."""
        return self._engine.io_loop

    def _create_encrypted_collection_in_worker(
        self,
        database: AgnosticDatabase,
        name: str,
        encrypted_fields: Mapping[str, Any],
        kwargs: dict[str, Any],
    ) -> tuple[Any, Mapping[str, Any]]:
        collection, fields = self.delegate.create_encrypted_collection(
            database.delegate, name, encrypted_fields, **kwargs
        )
        return wrap_pymongo(database, collection), fields

    def create_encrypted_collection(
        self,
        database: AgnosticDatabase,
        name: str,
        encrypted_fields: Mapping[str, Any],
        kms_provider: str | None = None,
        master_key: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Future[tuple[Any, Mapping[str, Any]]]:
        """Create a collection with encrypted fields, creating data keys as needed.

        Returns a Future of ``(collection, encrypted_fields)``, the collection being of this
        framework's class. Queryable encryption needs a server that supports it.

        :raises TypeError: if ``database`` is not a Motor database.
        """
        if not isinstance(database, AgnosticDatabase):
            raise TypeError(f"create_encrypted_collection needs a Motor database, not {database!r}")
        kwargs.update(kms_provider=kms_provider, master_key=master_key)
        return self._engine.run(
            self._create_encrypted_collection_in_worker, database, name, encrypted_fields, kwargs
        )

    def __enter__(self) -> None:
        raise RuntimeError(f'Use {type(self).__name__} in "async with", not "with"')

    def __exit__(self, *args: object) -> None:  # pragma: no cover - __enter__ always raises
        pass

    async def __aenter__(self) -> AgnosticClientEncryption:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._engine.shielded():
            await self.close()
