"""A MongoDB wire-protocol server that answers from canned replies, so that figures measure the driver.

It speaks just enough of the protocol for the benchmark workloads: OP_MSG (and OP_QUERY, for a
legacy handshake), as a standalone server of wire version 21, with sessions. It stores nothing:

- ``hello``/``isMaster``/``ping``/``buildInfo`` and the like get constant replies;
- ``insert`` answers ``n`` = the number of documents sent; ``update``/``delete``/``drop``/
  ``create``/``createIndexes``/``endSessions``/``killCursors`` succeed;
- ``find`` on a collection answers from a fixed pool of ``--pool-size`` tweet documents with ``_id``
  1..N: a filter on ``_id`` returns that one document, any other filter the whole pool, in batches
  honouring ``batchSize``/``limit``/``singleBatch`` (101 documents, then 16 MiB at most, as
  mongod), with a cursor id that ``getMore`` continues;
- ``find`` on a ``*.files`` collection returns a GridFS file document of ``--gridfs-size`` bytes
  for whatever ``_id`` is asked, and on a ``*.chunks`` collection that file's chunks.

Replies are encoded once and cached, so that the server spends as little CPU as it can on the
machine it shares with the driver. Run it as a separate process::

    python -m benchmarks.canned_server [--port 0] [--pool-size 10000] [--gridfs-size 52428800]

It prints ``PORT <n>`` on a line of its own once it listens, and stops on SIGTERM, SIGINT or when
its standard input closes (``--stdin-watch``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import itertools
import signal
import struct
import sys
from collections.abc import Callable
from typing import Any

import bson
from bson import ObjectId
from bson.binary import Binary
from bson.codec_options import CodecOptions

from benchmarks.data import GRIDFS_CHUNK_SIZE, GRIDFS_SIZE, TWEET, gridfs_data

__all__ = ["CannedServer", "main"]

OP_REPLY = 1
OP_QUERY = 2004
OP_COMPRESSED = 2012
OP_MSG = 2013
_MORE_TO_COME = 2
_CHECKSUM_PRESENT = 1

MAX_BSON_SIZE = 16 * 1024 * 1024
MAX_MESSAGE_SIZE = 48_000_000
FIRST_BATCH_DEFAULT = 101

_HEADER = struct.Struct("<iiii")
_INT32 = struct.Struct("<i")
_INT64 = struct.Struct("<q")
_DECODE_OPTIONS: CodecOptions[dict[str, Any]] = CodecOptions()


def _document(elements: bytes) -> bytes:
    return _INT32.pack(len(elements) + 5) + elements + b"\x00"


def _array(raw_documents: list[bytes]) -> bytes:
    return _document(b"".join(b"\x03%d\x00%s" % (i, raw) for i, raw in enumerate(raw_documents)))


def _cursor_reply(batch_field: bytes, array: bytes, cursor_id: int, ns: bytes) -> bytes:
    cursor = _document(
        b"\x04" + batch_field + b"\x00" + array
        + b"\x12id\x00" + _INT64.pack(cursor_id)
        + b"\x02ns\x00" + _INT32.pack(len(ns) + 1) + ns + b"\x00"
    )  # fmt: skip
    return _document(b"\x03cursor\x00" + cursor + b"\x01ok\x00" + struct.pack("<d", 1.0))


class _Source:
    """A list of encoded documents that cursors page through, with cached batch arrays."""

    def __init__(self, documents: list[bytes]) -> None:
        self.documents = documents
        self._arrays: dict[tuple[int, int], bytes] = {}

    def batch_end(self, start: int, count: int | None) -> int:
        """The end of a batch from ``start`` of at most ``count`` documents and 16 MiB."""
        end = len(self.documents) if count is None else min(len(self.documents), start + count)
        size = 0
        for index in range(start, end):
            size += len(self.documents[index]) + 8
            if size > MAX_BSON_SIZE and index > start:
                return index
        return end

    def array(self, start: int, end: int) -> bytes:
        key = (start, end)
        cached = self._arrays.get(key)
        if cached is None:
            cached = self._arrays[key] = _array(self.documents[start:end])
        return cached


class _Cursor:
    __slots__ = ("batch_size", "ns", "position", "remaining", "source")

    def __init__(
        self, source: _Source, ns: bytes, position: int, remaining: int | None, batch_size: int | None
    ):
        self.source = source
        self.ns = ns
        self.position = position
        self.remaining = remaining
        self.batch_size = batch_size


class CannedServer:
    """The replies, and the state of open cursors, shared by every connection."""

    def __init__(self, pool_size: int = 10_000, gridfs_size: int = GRIDFS_SIZE) -> None:
        self.pool_size = pool_size
        self.gridfs_size = gridfs_size
        self._pool: _Source | None = None
        self._chunks: _Source | None = None
        self._by_id: dict[tuple[bytes, Any], bytes] = {}
        self._cursors: dict[int, _Cursor] = {}
        self._cursor_ids = itertools.count(1_000_000)
        self._connection_ids = itertools.count(1)
        self.requests = 0
        ok = bson.encode({"ok": 1.0})
        self._ok = ok
        self._hello = bson.encode(self._hello_document())
        self._handlers: dict[str, Callable[[dict[str, Any], list[bytes]], bytes]] = {
            "hello": self._on_hello,
            "ismaster": self._on_hello,
            "isMaster": self._on_hello,
            "ping": lambda cmd, docs: ok,
            "buildInfo": self._on_build_info,
            "buildinfo": self._on_build_info,
            "endSessions": lambda cmd, docs: ok,
            "insert": self._on_insert,
            "update": lambda cmd, docs: bson.encode({"n": len(docs), "nModified": len(docs), "ok": 1.0}),
            "delete": lambda cmd, docs: bson.encode({"n": 0, "ok": 1.0}),
            "drop": lambda cmd, docs: ok,
            "dropDatabase": lambda cmd, docs: ok,
            "create": lambda cmd, docs: ok,
            "createIndexes": lambda cmd, docs: bson.encode(
                {
                    "numIndexesBefore": 1,
                    "numIndexesAfter": 2,
                    "createdCollectionAutomatically": False,
                    "ok": 1.0,
                }
            ),
            "listIndexes": self._on_list_indexes,
            "find": self._on_find,
            "getMore": self._on_get_more,
            "killCursors": self._on_kill_cursors,
        }

    def _hello_document(self) -> dict[str, Any]:
        return {
            "helloOk": True,
            "ismaster": True,
            "isWritablePrimary": True,
            "maxBsonObjectSize": MAX_BSON_SIZE,
            "maxMessageSizeBytes": MAX_MESSAGE_SIZE,
            "maxWriteBatchSize": 100_000,
            "localTime": datetime.datetime.now(tz=datetime.UTC),
            "logicalSessionTimeoutMinutes": 30,
            "connectionId": 1,
            "minWireVersion": 0,
            "maxWireVersion": 21,
            "readOnly": False,
            "ok": 1.0,
        }

    # Data, built on first use.

    def pool(self) -> _Source:
        if self._pool is None:
            self._pool = _Source([bson.encode({"_id": i, **TWEET}) for i in range(1, self.pool_size + 1)])
        return self._pool

    def chunks(self) -> _Source:
        if self._chunks is None:
            data = gridfs_data(self.gridfs_size)
            files_id = ObjectId(b"canned-file!")
            self._chunks = _Source(
                [
                    bson.encode(
                        {
                            "_id": ObjectId(),
                            "files_id": files_id,
                            "n": n,
                            "data": Binary(data[offset : offset + GRIDFS_CHUNK_SIZE]),
                        }
                    )
                    for n, offset in enumerate(range(0, len(data), GRIDFS_CHUNK_SIZE))
                ]
            )
        return self._chunks

    # Commands. Each takes the command document and the documents of its kind-1 sections.

    def _on_hello(self, cmd: dict[str, Any], docs: list[bytes]) -> bytes:
        return self._hello

    def _on_build_info(self, cmd: dict[str, Any], docs: list[bytes]) -> bytes:
        return bson.encode({"version": "7.0.0", "versionArray": [7, 0, 0, 0], "ok": 1.0})

    def _on_insert(self, cmd: dict[str, Any], docs: list[bytes]) -> bytes:
        count = len(docs) or len(cmd.get("documents", ()))
        return bson.encode({"n": count, "ok": 1.0})

    def _on_list_indexes(self, cmd: dict[str, Any], docs: list[bytes]) -> bytes:
        ns = f"{cmd['$db']}.{cmd['listIndexes']}".encode()
        index = bson.encode({"v": 2, "key": {"_id": 1}, "name": "_id_"})
        return _cursor_reply(b"firstBatch", _array([index]), 0, ns)

    def _on_find(self, cmd: dict[str, Any], docs: list[bytes]) -> bytes:
        collection = cmd["find"]
        ns = f"{cmd['$db']}.{collection}".encode()
        query = cmd.get("filter") or {}
        if collection.endswith(".files"):
            return self._files_reply(ns, query.get("_id"))
        limit = cmd.get("limit") or None
        if "_id" in query and not collection.endswith(".chunks"):
            return self._one_reply(ns, query["_id"])
        source = self.chunks() if collection.endswith(".chunks") else self.pool()
        batch_size = cmd.get("batchSize")
        if limit is not None and cmd.get("singleBatch"):
            batch_size = limit
        first = FIRST_BATCH_DEFAULT if batch_size is None else batch_size
        if limit is not None:
            first = min(first, limit)
        cursor = _Cursor(source, ns, 0, limit, batch_size)
        cursor_id, array = self._next_batch(cursor, first, single=bool(cmd.get("singleBatch")))
        if cursor_id:
            self._cursors[cursor_id] = cursor
        return _cursor_reply(b"firstBatch", array, cursor_id, ns)

    def _one_reply(self, ns: bytes, value: Any) -> bytes:
        key = (ns, value)
        cached = self._by_id.get(key)
        if cached is None:
            pool = self.pool()
            found = (
                [pool.documents[value - 1]]
                if isinstance(value, int) and 1 <= value <= len(pool.documents)
                else []
            )
            cached = self._by_id[key] = _cursor_reply(b"firstBatch", _array(found), 0, ns)
        return cached

    def _files_reply(self, ns: bytes, file_id: Any) -> bytes:
        if file_id is None:
            return _cursor_reply(b"firstBatch", _array([]), 0, ns)
        if isinstance(file_id, dict):
            file_id = next(iter(file_id.values()))
        document = {
            "_id": file_id,
            "length": self.gridfs_size,
            "chunkSize": GRIDFS_CHUNK_SIZE,
            "uploadDate": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
            "filename": "canned",
            "metadata": None,
        }
        return _cursor_reply(b"firstBatch", _array([bson.encode(document)]), 0, ns)

    def _next_batch(self, cursor: _Cursor, count: int | None, single: bool = False) -> tuple[int, bytes]:
        """Advance ``cursor`` by one batch; return the id it keeps (0 once exhausted) and the batch."""
        if cursor.remaining is not None:
            count = cursor.remaining if not count else min(count, cursor.remaining)
        start = cursor.position
        end = cursor.source.batch_end(start, count or None)
        cursor.position = end
        if cursor.remaining is not None:
            cursor.remaining -= end - start
        array = cursor.source.array(start, end)
        if single or end >= len(cursor.source.documents) or cursor.remaining == 0:
            return 0, array
        return next(self._cursor_ids), array

    def _on_get_more(self, cmd: dict[str, Any], docs: list[bytes]) -> bytes:
        cursor_id = int(cmd["getMore"])
        cursor = self._cursors.pop(cursor_id, None)
        if cursor is None:
            return bson.encode({"ok": 0.0, "errmsg": f"cursor id {cursor_id} not found", "code": 43})
        next_id, array = self._next_batch(cursor, cmd.get("batchSize") or cursor.batch_size)
        if next_id:
            # The cursor keeps its id across batches, as on a server.
            next_id = cursor_id
            self._cursors[cursor_id] = cursor
        return _cursor_reply(b"nextBatch", array, next_id, cursor.ns)

    def _on_kill_cursors(self, cmd: dict[str, Any], docs: list[bytes]) -> bytes:
        killed = [int(c) for c in cmd.get("cursors", ()) if self._cursors.pop(int(c), None) is not None]
        return bson.encode({"cursorsKilled": killed, "cursorsNotFound": [], "ok": 1.0})

    def command(self, cmd: dict[str, Any], docs: list[bytes]) -> bytes:
        """Answer one command: return the encoded reply document."""
        self.requests += 1
        name = next(iter(cmd), "")
        handler = self._handlers.get(name)
        if handler is None:
            return bson.encode({"ok": 0.0, "errmsg": f"no such command: '{name}'", "code": 59})
        return handler(cmd, docs)

    # Wire protocol.

    def handle(self, message: bytes) -> bytes | None:
        """Answer one whole message (header included); ``None`` if it wants no reply."""
        _length, request_id, _to, opcode = _HEADER.unpack_from(message)
        if opcode == OP_MSG:
            flags = _INT32.unpack_from(message, 16)[0]
            cmd, docs = _parse_op_msg(message, flags)
            body = self.command(cmd, docs)
            if flags & _MORE_TO_COME:
                return None
            payload = b"\x00\x00\x00\x00\x00" + body
            return _HEADER.pack(16 + len(payload), next(self._connection_ids), request_id, OP_MSG) + payload
        if opcode == OP_QUERY:
            end = message.index(b"\x00", 20) + 1  # fullCollectionName
            query_length = _INT32.unpack_from(message, end + 8)[0]
            cmd = bson.decode(message[end + 8 : end + 8 + query_length], _DECODE_OPTIONS)
            if "$query" in cmd:
                cmd = cmd["$query"]
            cmd.setdefault("$db", message[20 : end - 1].decode().split(".")[0])
            body = self.command(cmd, [])
            payload = struct.pack("<iqii", 0, 0, 0, 1) + body
            return _HEADER.pack(16 + len(payload), next(self._connection_ids), request_id, OP_REPLY) + payload
        raise ValueError(f"unsupported opcode {opcode} (compression is not offered)")


def _parse_op_msg(message: bytes, flags: int) -> tuple[dict[str, Any], list[bytes]]:
    end = len(message) - (4 if flags & _CHECKSUM_PRESENT else 0)
    position = 20
    cmd: dict[str, Any] = {}
    docs: list[bytes] = []
    view = memoryview(message)
    while position < end:
        kind = message[position]
        position += 1
        size = _INT32.unpack_from(message, position)[0]
        if kind == 0:
            cmd = bson.decode(view[position : position + size], _DECODE_OPTIONS)
            position += size
        else:
            section_end = position + size
            position = message.index(b"\x00", position + 4) + 1
            while position < section_end:
                doc_size = _INT32.unpack_from(message, position)[0]
                docs.append(b"")  # Counted, not kept: nothing reads inserted documents.
                position += doc_size
    return cmd, docs


class _Connection(asyncio.Protocol):
    def __init__(self, server: CannedServer) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while len(buffer) >= 4:
            length = _INT32.unpack_from(buffer)[0]
            if len(buffer) < length:
                return
            message = bytes(buffer[:length])
            del buffer[:length]
            try:
                reply = self.server.handle(message)
            except Exception as exc:
                print(f"canned_server: {exc!r}", file=sys.stderr, flush=True)
                assert self.transport is not None
                self.transport.close()
                return
            if reply is not None:
                assert self.transport is not None
                self.transport.write(reply)


async def serve(host: str, port: int, server: CannedServer, watch_stdin: bool) -> None:
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(lambda: _Connection(server), host, port, backlog=512)
    bound = listener.sockets[0].getsockname()[1]
    print(f"PORT {bound}", flush=True)
    stop = loop.create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
    if watch_stdin:
        # The parent holds our stdin open; its death (or close) ends us.
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

        async def watch() -> None:
            await reader.read()
            if not stop.done():
                stop.set_result(None)

        watcher = asyncio.ensure_future(watch())
    await stop
    if watch_stdin:
        watcher.cancel()
    listener.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.canned_server", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--pool-size", type=int, default=10_000, help="tweets that find() returns")
    parser.add_argument(
        "--gridfs-size", type=int, default=GRIDFS_SIZE, help="bytes of the canned GridFS file"
    )
    parser.add_argument("--stdin-watch", action="store_true", help="exit when standard input closes")
    args = parser.parse_args(argv)
    server = CannedServer(args.pool_size, args.gridfs_size)
    server.pool()
    asyncio.run(serve(args.host, args.port, server, args.stdin_watch))


if __name__ == "__main__":
    main()
