"""Each private PyMongo name that :mod:`motor._pymongo_private` uses, against the installed PyMongo.

A PyMongo release that renames, removes or reshapes one of them fails the test named after it here,
rather than a Motor feature somewhere at run time. No server is needed: the clients never connect.
"""

from __future__ import annotations

import ast
import contextvars
import inspect
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pymongo
import pytest
from gridfs import grid_file_shared
from gridfs.synchronous.grid_file import GridFSBucket, GridIn, GridOut, GridOutCursor
from pymongo import CursorType, MongoClient, _csot, client_session_shared
from pymongo.errors import ExecutionTimeout, NetworkTimeout, OperationFailure, PyMongoError
from pymongo.synchronous import client_session
from pymongo.synchronous.collection import Collection
from pymongo.synchronous.command_cursor import CommandCursor
from pymongo.synchronous.cursor import Cursor

from motor import _pymongo_private

MOTOR = Path(__file__).resolve().parent.parent / "motor"


@pytest.fixture(scope="module")
def sync_client() -> Iterator[MongoClient[Any]]:
    """A PyMongo client that never connects: building cursors and GridFS objects needs no I/O."""
    client: MongoClient[Any] = MongoClient("mongodb://127.0.0.1:9", connect=False)
    yield client
    client.close()


def parameters(fn: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(fn).parameters)


# Transactions.


def test_csot_remaining() -> None:
    assert parameters(_csot.remaining) == []
    assert _pymongo_private.csot_remaining() is None


def test_client_session_shared_WITH_TRANSACTION_RETRY_TIME_LIMIT(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(client_session_shared._WITH_TRANSACTION_RETRY_TIME_LIMIT, (int, float))
    monkeypatch.setattr(client_session_shared, "_WITH_TRANSACTION_RETRY_TIME_LIMIT", 7)
    assert _pymongo_private.transaction_retry_time_limit() == 7


def test_client_session_shared_BACKOFF_INITIAL_and_BACKOFF_MAX() -> None:
    initial, maximum = _pymongo_private.transaction_backoff_bounds()
    assert initial is client_session_shared._BACKOFF_INITIAL
    assert maximum is client_session_shared._BACKOFF_MAX
    assert isinstance(initial, float) and isinstance(maximum, float)
    assert 0 < initial <= maximum


def test_client_session_shared_make_timeout_error() -> None:
    assert parameters(client_session_shared._make_timeout_error) == ["error"]
    error = PyMongoError("gave up")
    error._add_error_label("TransientTransactionError")
    timeout = _pymongo_private.make_timeout_error(error)
    assert isinstance(timeout, NetworkTimeout)
    assert timeout.has_error_label("TransientTransactionError")
    with pymongo.timeout(10):
        assert isinstance(_pymongo_private.make_timeout_error(error), ExecutionTimeout)


def test_client_session_shared_max_time_expired_error() -> None:
    assert parameters(client_session_shared._max_time_expired_error) == ["exc"]
    assert _pymongo_private.is_max_time_expired_error(OperationFailure("expired", 50))
    assert not _pymongo_private.is_max_time_expired_error(OperationFailure("other", 112))


# Sessions.


def test_client_session_SESSION(sync_client: MongoClient[Any]) -> None:
    assert isinstance(client_session._SESSION, contextvars.ContextVar)
    session = sync_client.start_session()
    try:
        token = _pymongo_private.bind_session(session)
        assert client_session._SESSION.get() is session
        _pymongo_private.unbind_session(token)
        assert client_session._SESSION.get() is None
    finally:
        session.end_session()


# Clients.


def test_mongo_client_topology(sync_client: MongoClient[Any]) -> None:
    assert "_topology" in vars(sync_client)
    assert _pymongo_private.has_topology(sync_client)
    srv_client: MongoClient[Any] = MongoClient.__new__(MongoClient)
    srv_client._topology = None  # type: ignore[assignment]
    assert not _pymongo_private.has_topology(srv_client)


def test_mongo_client_get_topology(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parameters(MongoClient._get_topology) == ["self"]
    client: MongoClient[Any] = MongoClient("mongodb://127.0.0.1:9", connect=False)
    try:
        _pymongo_private.open_topology(client)
        assert client._opened  # type: ignore[attr-defined]
        # Looked up at each call, so that tests can patch it on the class.
        calls: list[object] = []

        def get_topology(self: MongoClient[Any]) -> None:
            calls.append(self)

        monkeypatch.setattr(MongoClient, "_get_topology", get_topology)
        _pymongo_private.open_topology(client)
        assert calls == [client]
    finally:
        monkeypatch.undo()
        client.close()


# Cursors.


@pytest.fixture
def cursor(sync_client: MongoClient[Any]) -> Cursor[Any]:
    return sync_client.db.coll.find()


@pytest.fixture
def command_cursor(sync_client: MongoClient[Any]) -> CommandCursor[Any]:
    return CommandCursor(sync_client.db.coll, {"id": 0, "firstBatch": [{"a": 1}, {"a": 2}]}, None)


def test_cursor_data(cursor: Cursor[Any], command_cursor: CommandCursor[Any]) -> None:
    assert isinstance(_pymongo_private.cursor_buffer(cursor), deque)
    assert _pymongo_private.cursor_buffer(command_cursor) == deque([{"a": 1}, {"a": 2}])
    _pymongo_private.cursor_unread(command_cursor, {"a": 0})
    assert command_cursor.next() == {"a": 0}
    assert _pymongo_private.cursor_buffer(object()) is None


@pytest.mark.parametrize("cursor_class", [Cursor, CommandCursor])
def test_cursor_next_batch(cursor_class: type) -> None:
    assert parameters(cursor_class._next_batch) == ["self", "result", "total"]  # type: ignore[attr-defined]


def test_cursor_next_batch_moves_documents(command_cursor: CommandCursor[Any]) -> None:
    documents: list[Any] = []
    assert _pymongo_private.next_batch(CommandCursor, command_cursor, documents, 1)
    assert documents == [{"a": 1}]
    assert _pymongo_private.next_batch(CommandCursor, command_cursor, documents, None)
    assert documents == [{"a": 1}, {"a": 2}]


def test_cursor_batch_size(cursor: Cursor[Any]) -> None:
    assert _pymongo_private.cursor_batch_size(cursor) == 0
    cursor.batch_size(7)
    assert _pymongo_private.cursor_batch_size(cursor) == 7


def test_cursor_id_and_killed(cursor: Cursor[Any], command_cursor: CommandCursor[Any]) -> None:
    for pymongo_cursor in (cursor, command_cursor):
        assert hasattr(pymongo_cursor, "_id")
        assert isinstance(pymongo_cursor._killed, bool)  # type: ignore[attr-defined]
        assert not _pymongo_private.cursor_needs_kill(pymongo_cursor)
    cursor._id = 42  # type: ignore[attr-defined]
    assert _pymongo_private.cursor_needs_kill(cursor)
    cursor._killed = True  # type: ignore[attr-defined]
    assert not _pymongo_private.cursor_needs_kill(cursor)
    cursor._id = None  # type: ignore[attr-defined]


def test_cursor_query_flags(sync_client: MongoClient[Any], command_cursor: CommandCursor[Any]) -> None:
    assert _pymongo_private.cursor_query_flags(sync_client.db.coll.find()) == 0
    tailable = sync_client.db.coll.find(cursor_type=CursorType.TAILABLE)
    assert _pymongo_private.cursor_query_flags(tailable) & CursorType.TAILABLE
    assert _pymongo_private.cursor_query_flags(command_cursor) == 0


# GridFS.


def test_grid_file_shared_CHUNK_OVERHEAD() -> None:
    assert isinstance(grid_file_shared._CHUNK_OVERHEAD, int)
    assert grid_file_shared._CHUNK_OVERHEAD > 0


def test_grid_in_flush_data_and_buffered_docs_size(sync_client: MongoClient[Any]) -> None:
    assert parameters(GridIn._flush_data) == ["self", "data", "force"]
    assert inspect.signature(GridIn._flush_data).parameters["force"].default is False
    grid_in = _pymongo_private.FlushPolicyGridIn(sync_client.db.fs)
    assert grid_in._buffered_docs_size == 0


def test_grid_out_chunks_session_and_file(sync_client: MongoClient[Any]) -> None:
    grid_out = GridOut(sync_client.db.fs, file_id=1)
    chunks = _pymongo_private.grid_out_chunks(grid_out)
    assert isinstance(chunks, Collection)
    assert chunks.name == "fs.chunks"
    assert _pymongo_private.grid_out_session(grid_out) is None
    assert _pymongo_private.grid_out_file_document(grid_out) is None
    opened = GridOut(sync_client.db.fs, file_document={"_id": 1, "length": 0, "chunkSize": 8})
    assert _pymongo_private.grid_out_file_document(opened) == {"_id": 1, "length": 0, "chunkSize": 8}


def test_grid_out_cursor_root_collection(sync_client: MongoClient[Any]) -> None:
    cursor = GridFSBucket(sync_client.db).find()
    assert isinstance(cursor, GridOutCursor)
    assert _pymongo_private.grid_out_cursor_root_collection(cursor).name == "fs"


def test_gridfs_bucket_collection(sync_client: MongoClient[Any]) -> None:
    bucket = GridFSBucket(sync_client.db, bucket_name="photos")
    root = _pymongo_private.bucket_root_collection(bucket)
    assert isinstance(root, Collection)
    assert root.name == "photos"


# The rest of Motor reaches PyMongo's private names only through motor._pymongo_private.


def _is_private(name: object) -> bool:
    return isinstance(name, str) and name.startswith("_") and not name.startswith("__")


def _is_private_attribute(node: ast.AST, modules: set[str]) -> bool:
    """``delegate._x``, ``self.delegate._x``, ``cursor._x``, or ``module._x`` of a PyMongo module."""
    return (
        isinstance(node, ast.Attribute)
        and _is_private(node.attr)
        and (
            _is_pymongo_object(node.value) or (isinstance(node.value, ast.Name) and node.value.id in modules)
        )
    )


def _is_private_getattr(node: ast.AST) -> bool:
    """``getattr(delegate, "_x", ...)`` and the like."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
        and _is_pymongo_object(node.args[0])
        and isinstance(node.args[1], ast.Constant)
        and _is_private(node.args[1].value)
    )


def _is_pymongo_object(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "delegate") or (
        isinstance(node, ast.Name) and node.id in {"delegate", "cursor", "cursor_class"}
    )


def _private_uses(path: Path) -> list[str]:
    """Private PyMongo names that ``path`` imports or reads: a heuristic, which catches the usual
    spellings (``delegate._x``, ``getattr(cursor, "_x")``, ``from pymongo import _x``)."""
    tree = ast.parse(path.read_text(), str(path))
    modules = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in {"pymongo", "gridfs"}:
            parts = (node.module or "").split(".") + [alias.name for alias in node.names]
            found += [f"line {node.lineno}: {name}" for name in parts if _is_private(name)]
            modules.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            modules.update(
                alias.asname or alias.name
                for alias in node.names
                if alias.name.split(".")[0] in {"pymongo", "gridfs"}
            )
    for node in ast.walk(tree):
        if _is_private_attribute(node, modules) or _is_private_getattr(node):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return sorted(found)


@pytest.mark.parametrize("module", ["core.py", "motor_gridfs.py"])
def test_no_private_pymongo_names_outside_the_module(module: str) -> None:
    assert _private_uses(MOTOR / module) == []


def test_every_helper_is_tested() -> None:
    source = Path(__file__).read_text()
    untested = [name for name in _pymongo_private.__all__ if f"_pymongo_private.{name}" not in source]
    assert untested == []
