"""GridFS: storing files of any size in MongoDB, with asyncio or Tornado.

:class:`AgnosticGridFSBucket` wraps PyMongo's :class:`gridfs.synchronous.grid_file.GridFSBucket`,
:class:`AgnosticGridIn` its ``GridIn`` (a file being uploaded), :class:`AgnosticGridOut` its
``GridOut`` (a file being downloaded) and :class:`AgnosticGridOutCursor` its ``GridOutCursor``.
As in :mod:`motor.core`, each PyMongo attribute is declared on one line with the kind of wrapper it
gets; only streaming is written by hand here.

Streaming keeps memory bounded whatever the file's size:

- a :class:`AgnosticGridIn` sends its chunks to the server every :data:`UPLOAD_BUFFER_BYTES`
  (PyMongo alone holds up to 48 MB of chunks before it sends them);
- a :class:`AgnosticGridOut` reads chunks with its own cursor, :data:`DOWNLOAD_BATCH_BYTES` per
  batch (PyMongo's cursor takes the server's 16 MB batches), on worker threads only: no read ever
  falls back to PyMongo's blocking I/O on the event loop's thread.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import threading
import warnings
from collections.abc import Callable, ItemsView, KeysView, Mapping, ValuesView
from types import MappingProxyType, TracebackType
from typing import Any, ClassVar, Final, TypeVar

from gridfs.errors import CorruptGridFile, FileExists
from gridfs.grid_file_shared import DEFAULT_CHUNK_SIZE
from gridfs.synchronous.grid_file import GridFSBucket, GridIn, GridOut, GridOutCursor
from pymongo.errors import CursorNotFound, InvalidOperation, PyMongoError
from pymongo.synchronous.client_session import ClientSession
from pymongo.synchronous.collection import Collection
from pymongo.synchronous.cursor import Cursor

from motor import _pymongo_private
from motor._http import file_digest
from motor.core import (
    AgnosticCollection,
    AgnosticCursor,
    AgnosticDatabase,
    _Owned,
    _Wrapping,
)
from motor.frameworks.interface import Future
from motor.metaprogramming import (
    AgnosticBase,
    Async,
    AttributeKind,
    CursorMethod,
    DelegateMethod,
    ReadOnlyProperty,
    unwrap_args,
    wrap_pymongo,
)

__all__ = [
    "DOWNLOAD_BATCH_BYTES",
    "GRIDFS_EXCLUSIONS",
    "UPLOAD_BUFFER_BYTES",
    "AgnosticGridFSBucket",
    "AgnosticGridIn",
    "AgnosticGridOut",
    "AgnosticGridOutCursor",
    "GridOutProperty",
]

#: Bytes of chunks an upload holds before it sends them to the server in one ``insert_many``.
UPLOAD_BUFFER_BYTES: Final = 4 * 1024 * 1024

#: Bytes of chunks a download asks the server for at a time (the chunk cursor's batch size).
DOWNLOAD_BATCH_BYTES: Final = 4 * 1024 * 1024

#: Public attributes of PyMongo's GridFS classes that Motor's do not offer, with the reason for each
#: (the same shape as :data:`motor.exclusions.EXCLUDED`, into which it is meant to merge). Motor
#: offers every public attribute of ``GridFSBucket``, ``GridIn``, ``GridOut`` and ``GridOutCursor``
#: in PyMongo 4.20, so it is empty; the synchronous protocols (``with``, ``for``) are replaced by
#: ``async with`` and ``async for`` as :data:`motor.exclusions.SYNC_PROTOCOL` says.
GRIDFS_EXCLUSIONS: Final[Mapping[type, Mapping[str, str]]] = MappingProxyType({})

_T = TypeVar("_T")

_NO_TRANSACTIONS = "GridFS does not support multi-document transactions"


def _hash_gridout(grid_out: Any) -> str:
    """The hex digest behind the ETag that the HTTP handlers send for a file, as Motor 3 computed it.

    :param grid_out: an open GridOut, Motor's or PyMongo's.
    """
    return file_digest(grid_out._id, grid_out.length, grid_out.upload_date)


def _check_no_transaction(session: ClientSession | None) -> None:
    if session is not None and session.in_transaction:
        raise InvalidOperation(_NO_TRANSACTIONS)


# ---------------------------------------------------------------------------------------------
# Uploads
# ---------------------------------------------------------------------------------------------


class _StreamingGridIn(_pymongo_private.FlushPolicyGridIn):
    """PyMongo's GridIn, sending chunks every :data:`UPLOAD_BUFFER_BYTES` rather than every 48 MB,
    and never running two operations at once.

    Motor runs each operation on a worker thread. A task cancelled while its ``write`` runs there
    leaves the write running; the lock makes the ``abort`` that follows wait for it, so that no
    chunk is inserted after the abort deleted the file's chunks.
    """

    _motor_lock: threading.RLock

    def _motor_flush_due(self, pending_bytes: int) -> bool:
        return pending_bytes >= UPLOAD_BUFFER_BYTES

    def write(self, data: Any) -> None:
        with self._motor_lock:
            super().write(data)

    def close(self) -> None:
        with self._motor_lock:
            super().close()

    def abort(self) -> None:
        with self._motor_lock:
            super().abort()

    def set(self, name: str, value: Any) -> None:
        with self._motor_lock:
            super().set(name, value)


def _streaming(grid_in: GridIn) -> GridIn:
    """Make a PyMongo GridIn (built by PyMongo's bucket or by Motor) a :class:`_StreamingGridIn`."""
    if type(grid_in) is GridIn:
        # GridIn.__setattr__ stores unknown names in the file document: bypass it.
        object.__setattr__(grid_in, "_motor_lock", threading.RLock())
        object.__setattr__(grid_in, "__class__", _StreamingGridIn)
    return grid_in


class AgnosticGridIn(_Owned):
    """A file being uploaded to GridFS: ``await write(data)``, then ``await close()``.

    Get one from :meth:`AgnosticGridFSBucket.open_upload_stream`. ``async with`` closes it when the
    block succeeds and aborts it (deleting what was uploaded) when the block raises. After
    ``close()``, the fields of the file document are attributes: ``grid_in._id``,
    ``grid_in.length``, ``grid_in.my_field``; ``await grid_in.set(name, value)`` changes one.
    """

    __motor_class_name__ = "MotorGridIn"
    __delegate_class__ = GridIn

    _id = ReadOnlyProperty()
    chunk_size = ReadOnlyProperty()
    closed = ReadOnlyProperty()
    content_type = ReadOnlyProperty()
    filename = ReadOnlyProperty()
    length = ReadOnlyProperty()
    md5 = ReadOnlyProperty()
    name = ReadOnlyProperty()
    upload_date = ReadOnlyProperty()

    read = DelegateMethod()
    readable = DelegateMethod()
    seekable = DelegateMethod()
    writeable = DelegateMethod()

    abort = Async()
    close = Async()
    set = Async()
    write = Async()
    writelines = Async()

    def __init__(
        self,
        root_collection: AgnosticCollection,
        delegate: GridIn | None = None,
        session: Any = None,
        **kwargs: Any,
    ) -> None:
        """Start a new file in the GridFS bucket whose root collection is ``root_collection``.

        Applications usually call :meth:`AgnosticGridFSBucket.open_upload_stream` instead.

        :param root_collection: the bucket's root collection (``db.fs``), a Motor collection.
        :param session: a Motor session for every operation of the upload.
        :param kwargs: fields of the file document: ``_id``, ``filename``, ``chunk_size``,
            ``metadata``, ``encoding`` (to write ``str``), or any other.
        :raises TypeError: if ``root_collection`` is not a Motor collection.
        :raises ConfigurationError: if the collection's write concern is unacknowledged.
        """
        if not isinstance(root_collection, AgnosticCollection):
            raise TypeError(f"{type(self).__name__} needs a Motor collection, not {root_collection!r}")
        if delegate is None:
            (_, kwargs) = unwrap_args((), dict(kwargs, session=session))
            delegate = GridIn(root_collection.delegate, **kwargs)
        self._engine = root_collection._engine
        self._client = root_collection._client
        self.delegate = _streaming(delegate)

    @classmethod
    def _from_delegate(cls, delegate: Any, owner: AgnosticBase) -> AgnosticBase:
        grid_in = cls.__new__(cls)
        grid_in._engine = owner._engine
        grid_in._client = owner._client if isinstance(owner, _Owned) else owner  # type: ignore[assignment]
        grid_in.delegate = _streaming(delegate)
        return grid_in

    def __getattr__(self, name: str) -> Any:
        """A field of the file document: ``grid_in.my_field`` (and, after close, any field).

        Runs PyMongo's ``GridIn.__getattr__`` on the caller's thread; it does no I/O.
        """
        if name == "delegate":  # Not yet set: PyMongo's __getattr__ would recurse.
            raise AttributeError(name)
        return self.delegate.__getattr__(name)

    async def __aenter__(self) -> AgnosticGridIn:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the file if the block succeeded; else abort it, deleting what it uploaded.

        A :exc:`~gridfs.errors.FileExists` error means the chunks under this ``_id`` belong to
        another file: then the file is only marked closed, as PyMongo does.
        """
        if exc_type is None:
            await self._close_or_abort()
        elif isinstance(exc, FileExists):
            self.delegate.__exit__(exc_type, exc, tb)
        else:
            # The block's error is what matters; a failed abort must not replace it.
            with contextlib.suppress(PyMongoError), self._engine.shielded():
                await self.abort()

    async def _close_or_abort(self) -> None:
        try:
            await self.close()
        except FileExists:
            raise
        except BaseException:
            with contextlib.suppress(PyMongoError), self._engine.shielded():
                await self.abort()
            raise

    async def _upload(self, source: Any) -> None:
        """Write all of ``source`` (bytes, str, or a file-like object) and close; abort on error.

        A source whose ``read`` is a coroutine function (an :class:`asyncio.StreamReader`, an
        aiohttp request body) is read on the event loop, one chunk at a time; any other source is
        read by PyMongo on a worker thread.
        """
        async with self:
            read = getattr(source, "read", None)
            if read is not None and inspect.iscoroutinefunction(read):
                chunk_size = int(self.chunk_size)
                while data := await read(chunk_size):
                    await self.write(data)
            else:
                await self.write(source)


# ---------------------------------------------------------------------------------------------
# Downloads
# ---------------------------------------------------------------------------------------------


class GridOutProperty(ReadOnlyProperty):
    """A field of a GridOut's file document, readable once the file is open.

    Reading it before ``await grid_out.open()`` raises :exc:`~pymongo.errors.InvalidOperation`,
    where PyMongo would fetch the file document on the event loop's thread.
    """

    kind = AttributeKind.PROPERTY

    def create_attribute(self, cls: type[AgnosticBase], attr_name: str) -> Any:
        name = self.pymongo_name or attr_name

        def fget(self: AgnosticGridOut) -> Any:
            self._check_open(name)
            return getattr(self.delegate, name)

        original = self.delegate_attribute(cls)
        return property(fget, doc=self.doc or getattr(original, "__doc__", None))


class _Operation:
    """One read of a GridOut, as its reader and the Future awaiting it see it."""

    __slots__ = ("cancelled", "start")

    def __init__(self) -> None:
        #: Set (on the loop thread) if the Future was cancelled: its result is lost.
        self.cancelled = False
        #: The position the read started from, once it started (on a worker thread).
        self.start: int | None = None

    def on_done(self, future: Future[Any]) -> None:
        if future.cancelled():
            self.cancelled = True


class _ChunkReader:
    """The read position of a GridOut and the cursor over its chunks; used on worker threads.

    It checks each chunk as the GridFS specification says (no chunk missing, none truncated, none
    extra) and asks for :data:`DOWNLOAD_BATCH_BYTES` of chunks per batch. A lock keeps one
    operation at a time: one that a cancelled task left running finishes before the next starts.
    A cancelled read's data never reaches anyone, so the next operation starts where the cancelled
    one did (unless ``seek()`` was called since).
    """

    def __init__(self, chunks: Collection[Any], session: ClientSession | None) -> None:
        self._chunks = chunks
        self._session = session
        self._lock = threading.Lock()
        self._file: Mapping[str, Any] = {}
        self.position = 0
        #: Where ``seek()`` moved to, applied by the next operation (seeking does no I/O).
        self.pending_seek: int | None = None
        #: The rest of the current chunk, from ``position`` on.
        self._buffer = b""
        self._cursor: Cursor[Any] | None = None
        self._next_n = 0
        self._last: _Operation | None = None

    def tell(self) -> int:
        pending = self.pending_seek
        if pending is not None:
            return pending
        last = self._last
        if last is not None and last.cancelled and last.start is not None:
            return last.start
        return self.position

    def run(
        self, operation: _Operation, file: Mapping[str, Any], method: Callable[..., _T], *args: Any
    ) -> _T:
        """Run ``method(*args)`` (a read) for ``operation``, from the position ``tell()`` gives."""
        with self._lock:
            last, self._last = self._last, None
            if last is not None and last.cancelled and last.start is not None and self.pending_seek is None:
                self.pending_seek = last.start
            self._start(file)
            operation.start = self.position
            self._last = operation
            return method(*args)

    def _start(self, file: Mapping[str, Any]) -> None:
        self._file = file
        pending, self.pending_seek = self.pending_seek, None
        if pending is not None and pending != self.position:
            self.position = pending
            self._buffer = b""
            chunk_size = int(file["chunkSize"])
            if self._cursor is not None and pending != self._next_n * chunk_size:
                self._close_cursor()

    @property
    def _length(self) -> int:
        return int(self._file.get("length", 0))

    def _num_chunks(self) -> int:
        return math.ceil(self._length / int(self._file["chunkSize"]))

    def _open_cursor(self, n: int) -> Cursor[Any]:
        _check_no_transaction(self._session)
        chunk_size = int(self._file["chunkSize"])
        query: dict[str, Any] = {"files_id": {"$eq": self._file["_id"]}}
        if n > 0:
            query["n"] = {"$gte": n}
        cursor = self._chunks.find(query, sort=[("n", 1)], session=self._session)
        cursor.batch_size(max(1, DOWNLOAD_BATCH_BYTES // max(chunk_size, 1)))
        self._cursor = cursor
        self._next_n = n
        return cursor

    def _close_cursor(self) -> None:
        cursor, self._cursor = self._cursor, None
        if cursor is not None:
            cursor.close()

    def _fetch(self, n: int) -> Mapping[str, Any] | None:
        """Return the next chunk document of the cursor positioned at chunk ``n``, or None."""
        cursor = self._cursor
        if cursor is None or self._next_n != n:
            self._close_cursor()
            cursor = self._open_cursor(n)
        chunk: Mapping[str, Any] | None
        try:
            chunk = cursor.next()
        except StopIteration:
            chunk = None
        except CursorNotFound:
            # Reads more than the server's cursor timeout apart: start again where we were.
            self._close_cursor()
            try:
                chunk = self._open_cursor(n).next()
            except StopIteration:
                chunk = None
        return chunk

    def _chunk(self, n: int) -> bytes:
        chunk = self._fetch(n)
        if chunk is None:
            self._close_cursor()
            raise CorruptGridFile(f"no chunk #{n}")
        if chunk["n"] != n:
            self._close_cursor()
            raise CorruptGridFile(f"Missing chunk: expected chunk #{n} but found chunk with n={chunk['n']}")
        chunk_size = int(self._file["chunkSize"])
        num_chunks = self._num_chunks()
        expected = chunk_size if n < num_chunks - 1 else self._length - chunk_size * (num_chunks - 1)
        data: bytes = chunk["data"]
        if len(data) != expected:
            self._close_cursor()
            raise CorruptGridFile(
                f"truncated chunk #{n}: expected chunk length to be {expected} but found chunk with "
                f"length {len(data)}"
            )
        self._next_n = n + 1
        return data

    def _check_no_extra_chunk(self) -> None:
        """At the end of the file: an extra chunk with data means the file is corrupt."""
        if self._cursor is None:
            return
        try:
            extra = self._fetch(self._next_n)
        finally:
            self._close_cursor()
        if extra is not None and len(extra["data"]):
            raise CorruptGridFile(
                f"Extra chunk found: expected {self._num_chunks()} chunks but found chunk with n={extra['n']}"
            )

    def _readchunk(self) -> bytes:
        if self._buffer:
            data, self._buffer = self._buffer, b""
        elif self.position < self._length:
            chunk_size = int(self._file["chunkSize"])
            n, offset = divmod(self.position, chunk_size)
            data = self._chunk(n)[offset:]
            if not data:
                raise CorruptGridFile("truncated chunk")
        else:
            return b""
        self.position += len(data)
        return data

    def _unread(self, data: bytes) -> None:
        self._buffer = data
        self.position -= len(data)

    # The reads: run() calls them, holding the lock.

    def readchunk(self) -> bytes:
        return self._readchunk()

    def read(self, size: int, line: bool = False) -> bytes:
        remainder = self._length - self.position
        if size < 0 or size > remainder:
            size = remainder
        parts: list[bytes] = []
        received = 0
        while received < size:
            data = self._readchunk()
            if not data:
                raise CorruptGridFile(f"no data at position {self.position}")
            needed = size - received
            if line:
                newline = data.find(b"\n", 0, needed)
                if newline >= 0:
                    size = received + newline + 1
                    needed = newline + 1
            if len(data) > needed:
                self._unread(data[needed:])
                data = data[:needed]
            parts.append(data)
            received += len(data)
        if self.position >= self._length:
            self._check_no_extra_chunk()
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readlines(self, hint: int) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while line := self.read(-1, line=True):
            lines.append(line)
            total += len(line)
            if 0 < hint < total:  # As io.IOBase (and so PyMongo): stop once past the hint.
                break
        return lines

    def copy_to(self, destination: Any) -> None:
        """Write the rest of the file to ``destination`` (``destination.write(chunk)`` per chunk)."""
        while chunk := self._readchunk():
            destination.write(chunk)

    def close(self) -> None:
        with self._lock:
            self._buffer = b""
            self._close_cursor()


class AgnosticGridOut(_Owned):
    """A file being downloaded from GridFS.

    :meth:`AgnosticGridFSBucket.open_download_stream` returns one that is open. One made directly,
    ``MotorGridOut(db.fs, file_id=...)``, must be opened with ``await grid_out.open()`` before its
    properties are read. Every read is awaitable: ``await read(n)``, ``await readchunk()``,
    ``await readline()``, ``await readlines()``; ``async for chunk in grid_out`` iterates over the
    file's chunks; ``seek()`` and ``tell()`` do no I/O. ``async with`` closes it.
    """

    __motor_class_name__ = "MotorGridOut"
    __delegate_class__ = GridOut

    _id = GridOutProperty()
    aliases = GridOutProperty()
    chunk_size = GridOutProperty()
    content_type = GridOutProperty()
    filename = GridOutProperty()
    length = GridOutProperty()
    md5 = GridOutProperty()
    metadata = GridOutProperty()
    name = GridOutProperty()
    upload_date = GridOutProperty()

    fileno = DelegateMethod()
    flush = DelegateMethod()
    isatty = DelegateMethod()
    readable = DelegateMethod()
    seekable = DelegateMethod()
    truncate = DelegateMethod()
    writable = DelegateMethod()
    write = DelegateMethod()
    writelines = DelegateMethod()

    _reader: _ChunkReader
    _closed: bool

    def __init__(
        self,
        root_collection: AgnosticCollection,
        file_id: Any = None,
        file_document: Mapping[str, Any] | None = None,
        delegate: GridOut | None = None,
        session: Any = None,
    ) -> None:
        """Prepare to read a file of the GridFS bucket whose root collection is ``root_collection``.

        No I/O happens here: ``await grid_out.open()`` fetches the file document, unless
        ``file_document`` is given.

        :param root_collection: the bucket's root collection (``db.fs``), a Motor collection.
        :param file_id: the file's ``_id``.
        :param file_document: the file's document from the ``files`` collection, if known.
        :param session: a Motor session for every operation.
        :raises TypeError: if ``root_collection`` is not a Motor collection.
        """
        if not isinstance(root_collection, AgnosticCollection):
            raise TypeError(f"{type(self).__name__} needs a Motor collection, not {root_collection!r}")
        if delegate is None:
            (_, kwargs) = unwrap_args((), {"session": session})
            delegate = GridOut(root_collection.delegate, file_id, file_document, session=kwargs["session"])
        self._engine = root_collection._engine
        self._client = root_collection._client
        self._adopt(delegate)

    @classmethod
    def _from_delegate(cls, delegate: Any, owner: AgnosticBase) -> AgnosticBase:
        grid_out = cls.__new__(cls)
        grid_out._engine = owner._engine
        grid_out._client = owner._client if isinstance(owner, _Owned) else owner  # type: ignore[assignment]
        grid_out._adopt(delegate)
        return grid_out

    def _adopt(self, delegate: GridOut) -> None:
        self.delegate = delegate
        self._reader = _ChunkReader(
            _pymongo_private.grid_out_chunks(delegate), _pymongo_private.grid_out_session(delegate)
        )
        self._closed = False

    # The file document.

    def _file_document(self) -> Mapping[str, Any] | None:
        return _pymongo_private.grid_out_file_document(self.delegate)

    def _check_open(self, name: str) -> Mapping[str, Any]:
        file = self._file_document()
        if not file:
            # Motor 3's message, which names MotorGridOut whatever the framework.
            raise InvalidOperation(f"You must call MotorGridOut.open() before accessing the {name} property")
        return file

    def _open_in_worker(self) -> AgnosticGridOut:
        self.delegate.open()
        return self

    def open(self) -> Future[AgnosticGridOut]:
        """Fetch the file document, if not yet fetched; return a Future of this GridOut.

        :raises NoFile: (from the Future) if the bucket has no file with this ``_id``.
        """
        if self._file_document():
            return self._engine.resolved(self)
        return self._engine.run(self._open_in_worker)

    def __getattr__(self, name: str) -> Any:
        """A field of the file document that has no property (``grid_out.my_field``)."""
        if name.startswith("_") or name == "delegate":
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        file = self._check_open(name)
        if name in file:
            return file[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    # The file document as a read-only mapping: Motor 3's bucket.find() gave the documents
    # themselves, so code written for it reads grid_out["filename"].

    def __getitem__(self, key: str) -> Any:
        """The field ``key`` of the file document (``grid_out["filename"]``).

        :raises KeyError: if the document has no such field.
        :raises InvalidOperation: if the file is not open.
        """
        return self._check_open(key)[key]

    def __contains__(self, key: object) -> bool:
        """Whether the file document has the field ``key``."""
        return key in self._check_open(str(key))

    def get(self, key: str, default: Any = None) -> Any:
        """The field ``key`` of the file document, or ``default``."""
        return self._check_open(key).get(key, default)

    def keys(self) -> KeysView[str]:
        """The names of the file document's fields; ``dict(grid_out)`` copies the document."""
        return self._check_open("keys").keys()

    def values(self) -> ValuesView[Any]:
        """The values of the file document's fields."""
        return self._check_open("values").values()

    def items(self) -> ItemsView[str, Any]:
        """The file document's ``(field, value)`` pairs."""
        return self._check_open("items").items()

    # Reading.

    def _run_opened(self, method: Callable[..., _T], *args: Any) -> Future[_T]:
        """Run a read of the reader on a worker thread, opening the file first if needed."""
        if self._closed:
            raise ValueError("I/O operation on closed file.")
        operation = _Operation()
        reader = self._reader

        def run() -> _T:
            file = self._file_document()
            if not file:
                self.delegate.open()
                file = self._check_open("file document")
            return reader.run(operation, file, method, *args)

        future = self._engine.run(run)
        future.add_done_callback(operation.on_done)
        return future

    def read(self, size: int = -1) -> Future[bytes]:
        """Return a Future of up to ``size`` bytes from the current position (all if negative).

        Opens the file first if needed.

        :raises ValueError: if the GridOut is closed.
        :raises CorruptGridFile: (from the Future) if a chunk is missing, truncated, or extra.
        """
        return self._run_opened(self._reader.read, int(size))

    def readchunk(self) -> Future[bytes]:
        """Return a Future of the rest of the current chunk (a whole chunk after a chunk boundary);
        of ``b""`` at the end of the file."""
        return self._run_opened(self._reader.readchunk)

    def readline(self, size: int = -1) -> Future[bytes]:
        """Return a Future of the next line (ending with ``b"\\n"``), or of up to ``size`` bytes."""
        return self._run_opened(self._reader.read, int(size), True)

    def readlines(self, hint: int = -1) -> Future[list[bytes]]:
        """Return a Future of the remaining lines; stop once they add up to ``hint`` bytes if
        ``hint`` is positive."""
        return self._run_opened(self._reader.readlines, int(hint))

    def to_list(self) -> Future[list[bytes]]:
        """Return a Future of the remaining lines, as PyMongo's ``AsyncGridOut.to_list()`` does.

        (``async for`` iterates over chunks, as Motor always has; this is ``readlines()``.)
        """
        return self.readlines()

    def tell(self) -> int:
        """Return the current position in the file."""
        return self._reader.tell()

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        """Move to ``pos`` (from the start, the current position, or the end, as ``whence``
        says); return the new position. Does no I/O: the next read starts there.

        :raises OSError: if ``whence`` is not 0, 1 or 2, or the new position is negative.
        :raises InvalidOperation: for ``os.SEEK_END`` before the file is open.
        """
        if whence == os.SEEK_SET:
            new_pos = pos
        elif whence == os.SEEK_CUR:
            new_pos = self.tell() + pos
        elif whence == os.SEEK_END:
            new_pos = int(self._check_open("length").get("length", 0)) + pos
        else:
            raise OSError(22, "Invalid value for `whence`")
        if new_pos < 0:
            raise OSError(22, "Invalid value for `pos` - must be positive")
        self._reader.pending_seek = new_pos
        return new_pos

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def close(self) -> Callable[[], Future[None]]:
        """Close the file: ``await grid_out.close()``; later reads raise :exc:`ValueError`.

        The call returns a Future that resolves once the chunk cursor is closed on the server (on a
        worker thread). ``close`` is a property whose value is that method, as in Motor 3, so that
        ``grid_out.close()`` works there and here alike.
        """
        return self._close

    def _close(self) -> Future[None]:
        self._closed = True
        return self._engine.run(self._reader.close)

    def __aiter__(self) -> AgnosticGridOut:
        return self

    async def __anext__(self) -> bytes:
        """The next chunk of the file."""
        chunk = await self.readchunk()
        if chunk:
            return chunk
        raise StopAsyncIteration

    async def __aenter__(self) -> AgnosticGridOut:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._engine.shielded():
            await self.close()

    async def stream_to_handler(self, request_handler: Any) -> None:
        """Write the rest of the file to a web response, one chunk at a time, flushing each.

        ``request_handler`` is a Tornado ``RequestHandler`` (``write()`` then ``await flush()``) or
        anything with a ``write(chunk)`` method, awaited if it returns an awaitable (an aiohttp
        ``StreamResponse``). The next chunk is read while the current one is sent.
        """
        flush = getattr(request_handler, "flush", None)
        pending = self.readchunk()
        try:
            while chunk := await pending:
                pending = self.readchunk()
                written = request_handler.write(chunk)
                if inspect.isawaitable(written):
                    await written
                if flush is not None:
                    flushed = flush()
                    if inspect.isawaitable(flushed):
                        await flushed
        finally:
            if not pending.done():
                pending.cancel()
            # Retrieve a read that failed after the response did, so that it is not logged as lost.
            pending.add_done_callback(lambda f: f.cancelled() or f.exception())

    async def _copy_to(self, destination: Any) -> None:
        write = getattr(destination, "write", None)
        if write is None:
            raise TypeError(f"destination must have a write method, not {destination!r}")
        if inspect.iscoroutinefunction(write):
            async for chunk in self:
                await write(chunk)
        else:
            await self._run_opened(self._reader.copy_to, destination)


# ---------------------------------------------------------------------------------------------
# Cursor
# ---------------------------------------------------------------------------------------------


class AgnosticGridOutCursor(AgnosticCursor):
    """The cursor :meth:`AgnosticGridFSBucket.find` returns: it yields open GridOut objects."""

    __motor_class_name__ = "MotorGridOutCursor"
    __delegate_class__: ClassVar[type] = GridOutCursor

    def __init__(self, cursor: GridOutCursor, owner: AgnosticBase) -> None:
        if isinstance(owner, AgnosticCursor):
            files = owner.collection
        elif isinstance(owner, AgnosticCollection) and owner.delegate == cursor.collection:
            files = owner
        else:
            files = wrap_pymongo(owner, cursor.collection)
        super().__init__(cursor, files)

    @classmethod
    def _from_delegate(cls, delegate: Any, owner: AgnosticBase) -> AgnosticBase:
        return cls(delegate, owner)

    def _grid_out(self, file_document: Mapping[str, Any]) -> AgnosticGridOut:
        """Wrap a file document of the cursor's batch as an open GridOut, as PyMongo's
        ``GridOutCursor.next()`` does (no I/O)."""
        cursor = self.delegate
        _check_no_transaction(cursor.session)
        grid_out = GridOut(
            _pymongo_private.grid_out_cursor_root_collection(cursor),
            file_document=file_document,
            session=cursor.session,
        )
        return wrap_pymongo(self, grid_out)  # type: ignore[no-any-return]

    # PyMongo's GridOutCursor would build PyMongo GridOuts; read file documents, make Motor's.
    _raw_cursor_class = Cursor
    _convert = _grid_out


# ---------------------------------------------------------------------------------------------
# Bucket
# ---------------------------------------------------------------------------------------------


class AgnosticGridFSBucket(_Wrapping):
    """A GridFS bucket: files stored as chunks in ``<bucket>.chunks``, described in
    ``<bucket>.files``."""

    __motor_class_name__ = "MotorGridFSBucket"
    __delegate_class__ = GridFSBucket

    delete = Async()
    delete_by_name = Async()
    open_download_stream = Async(wrap=GridOut)
    open_download_stream_by_name = Async(wrap=GridOut)
    rename = Async()
    rename_by_name = Async()

    find = CursorMethod(wrap=GridOutCursor)
    open_upload_stream = DelegateMethod(wrap=GridIn)
    open_upload_stream_with_id = DelegateMethod(wrap=GridIn)

    def __init__(
        self,
        database: AgnosticDatabase,
        bucket_name: str = "fs",
        chunk_size_bytes: int = DEFAULT_CHUNK_SIZE,
        write_concern: Any = None,
        read_preference: Any = None,
        collection: str | None = None,
    ) -> None:
        """Open the bucket ``bucket_name`` of a Motor database (no I/O).

        :param database: a Motor database.
        :param bucket_name: the bucket's name: the prefix of its two collections.
        :param chunk_size_bytes: the chunk size of new files.
        :param write_concern: the write concern, if not the database's; it must be acknowledged.
        :param read_preference: the read preference, if not the database's.
        :param collection: deprecated alias of ``bucket_name``.
        :raises TypeError: if ``database`` is not a Motor database.
        :raises ConfigurationError: if the write concern is unacknowledged.
        """
        if collection is not None:
            warnings.warn(
                'the "collection" parameter is deprecated, use "bucket_name" instead',
                DeprecationWarning,
                stacklevel=2,
            )
            bucket_name = collection
        if not isinstance(database, AgnosticDatabase):
            raise TypeError(f"{type(self).__name__} needs a Motor database, not {database!r}")
        self.delegate = GridFSBucket(
            database.delegate, bucket_name, chunk_size_bytes, write_concern, read_preference
        )
        self._engine = database._engine
        self._client = database._client
        self.database = database
        #: The bucket's root collection (``db.fs``), a Motor collection.
        self.collection: AgnosticCollection = database.get_collection(
            bucket_name, write_concern=write_concern, read_preference=read_preference
        )

    @classmethod
    def _from_delegate(cls, delegate: Any, owner: AgnosticBase) -> AgnosticBase:
        bucket = cls.__new__(cls)
        bucket.delegate = delegate
        bucket._engine = owner._engine
        bucket._client = owner._client if isinstance(owner, _Owned) else owner  # type: ignore[assignment]
        bucket.collection = wrap_pymongo(owner, _pymongo_private.bucket_root_collection(delegate))
        bucket.database = bucket.collection.database
        return bucket

    async def upload_from_stream(
        self,
        filename: str,
        source: Any,
        chunk_size_bytes: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        session: Any = None,
    ) -> Any:
        """Upload ``source`` as a new file named ``filename``; return its ``_id``.

        ``source`` is bytes, or a file-like object read chunk by chunk (by PyMongo on a worker
        thread, or on the event loop if its ``read`` is a coroutine function). If the upload fails,
        what it uploaded is deleted.

        :raises TypeError: if ``filename`` is not a string.
        """
        grid_in = self.open_upload_stream(filename, chunk_size_bytes, metadata, session=session)
        await grid_in._upload(source)
        return grid_in._id

    async def upload_from_stream_with_id(
        self,
        file_id: Any,
        filename: str,
        source: Any,
        chunk_size_bytes: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        session: Any = None,
    ) -> None:
        """Upload ``source`` as a new file with ``_id`` ``file_id``; see :meth:`upload_from_stream`.

        :raises FileExists: (from the Future) if a file with this ``_id`` exists.
        """
        grid_in = self.open_upload_stream_with_id(
            file_id, filename, chunk_size_bytes, metadata, session=session
        )
        await grid_in._upload(source)

    async def download_to_stream(self, file_id: Any, destination: Any, session: Any = None) -> None:
        """Write the file with ``_id`` ``file_id`` to ``destination``, one chunk at a time.

        ``destination.write(chunk)`` runs on a worker thread, or on the event loop (awaited) if it is
        a coroutine function.

        :raises NoFile: if there is no such file.
        """
        grid_out: AgnosticGridOut = await self.open_download_stream(file_id, session=session)
        async with grid_out:
            await grid_out._copy_to(destination)

    async def download_to_stream_by_name(
        self, filename: str, destination: Any, revision: int = -1, session: Any = None
    ) -> None:
        """Write a revision of the file named ``filename`` to ``destination``; see
        :meth:`download_to_stream` and :meth:`open_download_stream_by_name`.

        :raises NoFile: if there is no such revision.
        """
        grid_out: AgnosticGridOut = await self.open_download_stream_by_name(
            filename, revision, session=session
        )
        async with grid_out:
            await grid_out._copy_to(destination)
