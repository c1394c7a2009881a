"""Every private name of PyMongo that Motor uses, in one place.

PyMongo's public API is not quite enough for a wrapper that runs it on worker threads: Motor reads
cursors' buffers on the loop thread without I/O, follows PyMongo's ``with_transaction`` retry rules
in an ``async`` loop, and streams GridFS uploads in smaller pieces. Each private name is reached
here once, behind a function or class whose docstring says why Motor needs it, and
``test/test_pymongo_private.py`` checks each against the installed PyMongo, so that a release that
renames or reshapes one fails one test that names it instead of breaking Motor at run time.

Module attributes are read at each call rather than copied at import, because test suites patch
them (``client_session_shared._WITH_TRANSACTION_RETRY_TIME_LIMIT``, ``MongoClient._get_topology``).
"""

from __future__ import annotations

import contextvars
from collections import deque
from collections.abc import Mapping
from typing import Any

from gridfs import grid_file_shared as _gridfs_shared
from gridfs.synchronous.grid_file import GridFSBucket, GridIn, GridOut, GridOutCursor
from pymongo import _csot
from pymongo import client_session_shared as _transactions
from pymongo.errors import PyMongoError
from pymongo.synchronous import client_session as _sync_session
from pymongo.synchronous.client_session import ClientSession
from pymongo.synchronous.collection import Collection
from pymongo.synchronous.mongo_client import MongoClient

__all__ = [
    "FlushPolicyGridIn",
    "bind_session",
    "bucket_root_collection",
    "csot_remaining",
    "cursor_batch_size",
    "cursor_buffer",
    "cursor_needs_kill",
    "cursor_query_flags",
    "cursor_unread",
    "grid_out_chunks",
    "grid_out_cursor_root_collection",
    "grid_out_file_document",
    "grid_out_session",
    "has_topology",
    "is_max_time_expired_error",
    "make_timeout_error",
    "next_batch",
    "open_topology",
    "transaction_backoff_bounds",
    "transaction_retry_time_limit",
    "unbind_session",
]

# ---------------------------------------------------------------------------------------------
# Transactions: with_transaction is written again as a coroutine, with PyMongo's rules.
# ---------------------------------------------------------------------------------------------


def csot_remaining() -> float | None:
    """Seconds left of the current ``pymongo.timeout()`` block, or ``None`` outside one.

    ``with_transaction`` stops retrying once the block's time is up, as PyMongo's does.
    """
    return _csot.remaining()


def transaction_retry_time_limit() -> float:
    """PyMongo's ``with_transaction`` retry limit in seconds, which test suites patch."""
    return float(_transactions._WITH_TRANSACTION_RETRY_TIME_LIMIT)


def transaction_backoff_bounds() -> tuple[float, float]:
    """PyMongo's first and largest backoff, in seconds, between ``with_transaction`` retries."""
    return _transactions._BACKOFF_INITIAL, _transactions._BACKOFF_MAX


def make_timeout_error(error: BaseException) -> PyMongoError:
    """The timeout error PyMongo's ``with_transaction`` raises when it gives up after ``error``."""
    return _transactions._make_timeout_error(error)


def is_max_time_expired_error(exc: PyMongoError) -> bool:
    """Whether ``exc`` is MaxTimeMSExpired, which ``with_transaction`` does not retry a commit for."""
    return _transactions._max_time_expired_error(exc)


# ---------------------------------------------------------------------------------------------
# Sessions: session.bind() sets the session PyMongo's operations use when given none.
# ---------------------------------------------------------------------------------------------


def bind_session(session: ClientSession) -> contextvars.Token[Any]:
    """Make ``session`` the implicit session of this context, as PyMongo's ``bind()`` does."""
    return _sync_session._SESSION.set(session)


def unbind_session(token: contextvars.Token[Any]) -> None:
    """Restore the implicit session that :func:`bind_session` replaced."""
    _sync_session._SESSION.reset(token)


# ---------------------------------------------------------------------------------------------
# Clients: the non-blocking properties must not start server selection.
# ---------------------------------------------------------------------------------------------


def has_topology(client: MongoClient[Any]) -> bool:
    """Whether ``client`` has its topology: a ``mongodb+srv://`` client has none until it first
    connects, and PyMongo's properties would then resolve the SRV record on the loop thread."""
    return client._topology is not None


def open_topology(client: MongoClient[Any]) -> None:
    """Connect ``client`` (worker thread): PyMongo's ``connect=True`` does this in its constructor,
    which Motor keeps off the loop thread."""
    client._get_topology()


# ---------------------------------------------------------------------------------------------
# Cursors: documents already fetched are taken on the loop thread, without a worker.
# ---------------------------------------------------------------------------------------------


def cursor_buffer(cursor: Any) -> deque[Any] | None:
    """The documents ``cursor`` has fetched and not yet returned (a deque), if it has a buffer."""
    return getattr(cursor, "_data", None)


def cursor_unread(cursor: Any, document: Any) -> None:
    """Put ``document`` back at the front of ``cursor``'s buffer, for the legacy ``fetch_next``."""
    cursor._data.appendleft(document)


def next_batch(cursor_class: Any, cursor: Any, documents: list[Any], limit: int | None) -> bool:
    """Move up to ``limit`` documents (a batch at most) into ``documents``, as ``cursor_class``
    does for ``to_list``; ``False`` once the cursor is exhausted.

    ``cursor_class`` may be a base of ``cursor``'s class: GridOutCursor's base gives the file
    documents, which Motor wraps itself.
    """
    return bool(cursor_class._next_batch(cursor, documents, limit))


def cursor_batch_size(cursor: Any) -> int:
    """The batch size set on ``cursor``, ``0`` if none: a client's ``default_batch_size`` fills it."""
    return int(cursor._batch_size)


def cursor_needs_kill(cursor: Any) -> bool:
    """Whether ``cursor`` holds a server cursor that is neither exhausted nor killed."""
    return bool(getattr(cursor, "_id", None) and not getattr(cursor, "_killed", True))


def cursor_query_flags(cursor: Any) -> int:
    """The ``CursorType`` flags of ``cursor`` (``0`` for cursors without them), to see tailable ones."""
    return int(getattr(cursor, "_query_flags", 0))


# ---------------------------------------------------------------------------------------------
# GridFS: Motor reads downloads with its own reader and streams uploads in smaller pieces.
# ---------------------------------------------------------------------------------------------


class FlushPolicyGridIn(GridIn):
    """PyMongo's GridIn, whose buffered chunks are also sent when :meth:`_motor_flush_due` says so.

    PyMongo sends them only every 48 MB, which holds a large upload's memory for as long.
    """

    def _motor_flush_due(self, pending_bytes: int) -> bool:
        """Whether to send the buffered chunks now that ``pending_bytes`` would be buffered."""
        return False

    def _flush_data(self, data: Any, force: bool = False) -> None:
        pending = self._buffered_docs_size + len(data) + _gridfs_shared._CHUNK_OVERHEAD
        super()._flush_data(data, force=force or self._motor_flush_due(pending))


def grid_out_chunks(grid_out: GridOut) -> Collection[Any]:
    """The ``chunks`` collection ``grid_out`` reads, for Motor's own reader."""
    return grid_out._chunks


def grid_out_session(grid_out: GridOut) -> ClientSession | None:
    """The session ``grid_out`` was opened with, for Motor's own reader."""
    return grid_out._session


def grid_out_file_document(grid_out: GridOut) -> Mapping[str, Any] | None:
    """``grid_out``'s file document, or ``None`` before it is opened; PyMongo's public
    attributes would fetch it, on the loop thread."""
    file: Mapping[str, Any] | None = grid_out._file
    return file


def grid_out_cursor_root_collection(cursor: GridOutCursor) -> Collection[Any]:
    """The bucket's root collection (``db.fs``) of ``cursor``, to build GridOuts of its documents."""
    return cursor._root_collection


def bucket_root_collection(bucket: GridFSBucket) -> Collection[Any]:
    """The root collection (``db.fs``) of a PyMongo bucket, which has no public name for it."""
    return bucket._collection
