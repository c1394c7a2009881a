"""GridFS: buckets, uploads (GridIn), downloads (GridOut) and file cursors, on every framework.

Every test takes the ``flavor`` fixture (through ``gridfs``), so it runs once per framework and
loop (see ``test/conftest.py``), against the real test server.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import threading
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import bson
import pymongo.synchronous.pool
import pytest
from bson import ObjectId
from gridfs.errors import CorruptGridFile, FileExists, NoFile
from gridfs.synchronous.grid_file import GridFSBucket, GridIn, GridOut, GridOutCursor
from pymongo import MongoClient, WriteConcern
from pymongo.errors import ConfigurationError, InvalidOperation

from motor import motor_gridfs
from motor.metaprogramming import AttributeKind, declarations
from motor.motor_gridfs import (
    GRIDFS_EXCLUSIONS,
    UPLOAD_BUFFER_BYTES,
    AgnosticGridFSBucket,
    AgnosticGridIn,
    AgnosticGridOut,
)
from test.support import DB_NAME, Flavor

pytestmark = pytest.mark.every_framework

MiB = 1024 * 1024


@dataclass(frozen=True)
class GridFSClasses:
    """One framework's GridFS classes."""

    flavor: Flavor
    Bucket: Any
    GridIn: Any
    GridOut: Any
    GridOutCursor: Any


def gridfs_classes_for(flavor: Flavor) -> GridFSClasses:
    return GridFSClasses(
        flavor,
        flavor.cls("GridFSBucket"),
        flavor.cls("GridIn"),
        flavor.cls("GridOut"),
        flavor.cls("GridOutCursor"),
    )


@pytest.fixture
def gridfs(flavor: Flavor) -> GridFSClasses:
    """The GridFS classes of the framework under test."""
    return gridfs_classes_for(flavor)


def bucket_name_for(request: pytest.FixtureRequest) -> str:
    return "gfs_" + re.sub(r"\W+", "_", request.node.name)[:60]


@pytest.fixture
def bucket_name(request: pytest.FixtureRequest, sync_client: MongoClient[Any]) -> Iterator[str]:
    """A bucket name of the test's own, empty before the test and dropped after it."""
    name = bucket_name_for(request)
    sync_db = sync_client[DB_NAME]
    for suffix in ("files", "chunks"):
        sync_db.drop_collection(f"{name}.{suffix}")
    yield name
    for suffix in ("files", "chunks"):
        sync_db.drop_collection(f"{name}.{suffix}")


@pytest.fixture
def bucket(gridfs: GridFSClasses, db: Any, bucket_name: str) -> Any:
    """An empty bucket of the framework under test."""
    return gridfs.Bucket(db, bucket_name)


@pytest.fixture
def sync_bucket(sync_client: MongoClient[Any], bucket_name: str) -> GridFSBucket:
    """The same bucket through PyMongo, to set up and check server state independently of Motor."""
    return GridFSBucket(sync_client[DB_NAME], bucket_name)


def count_chunks(sync_client: MongoClient[Any], bucket_name: str, file_id: Any = None) -> int:
    query = {} if file_id is None else {"files_id": file_id}
    return sync_client[DB_NAME][f"{bucket_name}.chunks"].count_documents(query)


def count_files(sync_client: MongoClient[Any], bucket_name: str) -> int:
    return sync_client[DB_NAME][f"{bucket_name}.files"].count_documents({})


# ---------------------------------------------------------------------------------------------
# Classes and declarations
# ---------------------------------------------------------------------------------------------


def test_class_names(gridfs: GridFSClasses) -> None:
    prefix = gridfs.flavor.prefix
    for cls, short in (
        (gridfs.Bucket, "GridFSBucket"),
        (gridfs.GridIn, "GridIn"),
        (gridfs.GridOut, "GridOut"),
        (gridfs.GridOutCursor, "GridOutCursor"),
    ):
        assert cls.__name__ == f"{prefix}Motor{short}"
        assert cls.__module__ == gridfs.flavor.module.__name__


CONTRACT_KINDS = {
    AgnosticGridFSBucket: {
        AttributeKind.AWAITABLE: [
            "delete",
            "delete_by_name",
            "open_download_stream",
            "open_download_stream_by_name",
            "rename",
            "rename_by_name",
        ],
        AttributeKind.METHOD: ["open_upload_stream", "open_upload_stream_with_id"],
        AttributeKind.CURSOR: ["find"],
    },
    AgnosticGridIn: {
        AttributeKind.AWAITABLE: ["abort", "close", "set", "write", "writelines"],
        AttributeKind.METHOD: ["read", "readable", "seekable", "writeable"],
        AttributeKind.PROPERTY: [
            "_id",
            "chunk_size",
            "closed",
            "content_type",
            "filename",
            "length",
            "md5",
            "name",
            "upload_date",
        ],
    },
    AgnosticGridOut: {
        AttributeKind.PROPERTY: [
            "_id",
            "aliases",
            "chunk_size",
            "content_type",
            "filename",
            "length",
            "md5",
            "metadata",
            "name",
            "upload_date",
        ],
        AttributeKind.METHOD: ["readable", "seekable", "write", "writelines", "writable", "fileno"],
    },
}


@pytest.mark.parametrize("agnostic", list(CONTRACT_KINDS), ids=lambda c: c.__name__)
def test_declared_kinds(agnostic: type) -> None:
    declared = declarations(agnostic)
    for kind, names in CONTRACT_KINDS[agnostic].items():
        for name in names:
            assert declared[name].kind is kind, name


def test_every_pymongo_attribute_offered(gridfs: GridFSClasses) -> None:
    pairs = [
        (GridFSBucket, gridfs.Bucket),
        (GridIn, gridfs.GridIn),
        (GridOut, gridfs.GridOut),
        (GridOutCursor, gridfs.GridOutCursor),
    ]
    for pymongo_class, motor_class in pairs:
        excluded = GRIDFS_EXCLUSIONS.get(pymongo_class, {})
        public = [n for n in dir(pymongo_class) if not n.startswith("_") and n not in excluded]
        missing = [n for n in public if not hasattr(motor_class, n) and n != "collection"]
        assert not missing, (motor_class.__name__, missing)
        for name in excluded:
            assert hasattr(pymongo_class, name), f"stale exclusion {pymongo_class.__name__}.{name}"


def test_sync_protocols_replaced(gridfs: GridFSClasses) -> None:
    for cls in (gridfs.GridIn, gridfs.GridOut, gridfs.GridOutCursor):
        assert hasattr(cls, "__aenter__") and hasattr(cls, "__aexit__")
        assert not hasattr(cls, "__enter__")
    for cls in (gridfs.GridOut, gridfs.GridOutCursor):
        assert hasattr(cls, "__aiter__") and hasattr(cls, "__anext__")
        assert not hasattr(cls, "__iter__")


def test_bucket_constructor(gridfs: GridFSClasses, db: Any) -> None:
    bucket = gridfs.Bucket(db)
    assert isinstance(bucket.delegate, GridFSBucket)
    assert bucket.collection.name == "fs"
    assert type(bucket.collection) is gridfs.flavor.cls("Collection")
    with pytest.raises(TypeError, match="Motor database"):
        gridfs.Bucket(db.delegate)
    with pytest.raises(ConfigurationError):
        gridfs.Bucket(db, write_concern=WriteConcern(w=0))
    with pytest.warns(DeprecationWarning, match="bucket_name"):
        legacy = gridfs.Bucket(db, collection="legacy")
    assert legacy.collection.name == "legacy"
    assert gridfs.Bucket(db, "custom", chunk_size_bytes=10).collection.name == "custom"


# ---------------------------------------------------------------------------------------------
# Upload and download
# ---------------------------------------------------------------------------------------------


async def test_upload_then_download(gridfs: GridFSClasses, bucket: Any) -> None:
    grid_in = bucket.open_upload_stream("hello.txt", chunk_size_bytes=4, metadata={"kind": "greeting"})
    assert type(grid_in) is gridfs.GridIn
    assert not grid_in.closed
    assert grid_in.filename == grid_in.name == "hello.txt"
    assert grid_in.chunk_size == 4
    await grid_in.write(b"hello ")
    await grid_in.writelines([b"wor", b"ld\n", b"second line"])
    await grid_in.close()
    assert grid_in.closed
    assert grid_in.length == 23
    assert grid_in.upload_date is not None
    assert isinstance(grid_in._id, ObjectId)
    assert grid_in.metadata == {"kind": "greeting"}  # A file field, through __getattr__.

    grid_out = await bucket.open_download_stream(grid_in._id)
    assert type(grid_out) is gridfs.GridOut
    assert grid_out._id == grid_in._id
    assert grid_out.filename == grid_out.name == "hello.txt"
    assert grid_out.length == 23
    assert grid_out.chunk_size == 4
    assert grid_out.metadata == {"kind": "greeting"}
    assert abs(grid_out.upload_date - grid_in.upload_date.replace(tzinfo=None)).total_seconds() < 1
    assert grid_out.readable() and grid_out.seekable() and not grid_out.writable()
    assert await grid_out.read() == b"hello world\nsecond line"
    assert await grid_out.read() == b""


async def test_async_with_grid_in_closes(bucket: Any, sync_bucket: GridFSBucket) -> None:
    async with bucket.open_upload_stream("f") as grid_in:
        await grid_in.write(b"data")
    assert grid_in.closed
    assert sync_bucket.open_download_stream(grid_in._id).read() == b"data"


async def test_async_with_grid_in_aborts_on_error(
    bucket: Any, bucket_name: str, sync_client: MongoClient[Any]
) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with bucket.open_upload_stream("f", chunk_size_bytes=64 * 1024) as grid_in:
            await grid_in.write(b"x" * (UPLOAD_BUFFER_BYTES + 10_000))  # Some chunks are sent.
            assert count_chunks(sync_client, bucket_name) > 0
            raise RuntimeError("boom")
    assert grid_in.closed
    assert count_chunks(sync_client, bucket_name) == 0
    assert count_files(sync_client, bucket_name) == 0


async def test_abort(bucket: Any, bucket_name: str, sync_client: MongoClient[Any]) -> None:
    grid_in = bucket.open_upload_stream("f", chunk_size_bytes=64 * 1024)
    await grid_in.write(b"x" * (UPLOAD_BUFFER_BYTES + 10_000))
    assert count_chunks(sync_client, bucket_name, grid_in._id) > 0
    await grid_in.abort()
    assert grid_in.closed
    assert count_chunks(sync_client, bucket_name) == 0
    assert count_files(sync_client, bucket_name) == 0


async def test_cancelled_write_then_abort_leaves_no_chunk(
    flavor: Flavor, bucket: Any, bucket_name: str, sync_client: MongoClient[Any]
) -> None:
    # Small chunks, so that the write is still running on a worker thread, even on a fast server,
    # when it is cancelled.
    grid_in = bucket.open_upload_stream("f", chunk_size_bytes=16 * 1024)
    with pytest.raises(TimeoutError):
        await flavor.wait_for(grid_in.write(os.urandom(3 * UPLOAD_BUFFER_BYTES)), 0.01)
    await grid_in.abort()  # Waits for the write still running on its thread.
    await flavor.sleep(1)  # Were the write still running, it would insert chunks meanwhile.
    assert count_chunks(sync_client, bucket_name) == 0
    assert count_files(sync_client, bucket_name) == 0


async def test_write_to_closed_grid_in(bucket: Any) -> None:
    grid_in = bucket.open_upload_stream("f")
    await grid_in.close()
    with pytest.raises(ValueError, match="closed file"):
        await grid_in.write(b"more")


async def test_grid_in_fields(gridfs: GridFSClasses, bucket: Any, sync_bucket: GridFSBucket) -> None:
    grid_in = gridfs.GridIn(bucket.collection, filename="f.bin", custom="value", chunk_size=8)
    with pytest.raises(AttributeError, match="length"):
        grid_in.length
    assert grid_in.custom == "value"
    with pytest.raises(AttributeError, match="no attribute 'absent'"):
        grid_in.absent
    assert not grid_in.readable() and not grid_in.seekable() and grid_in.writeable()
    with pytest.raises(io.UnsupportedOperation):
        grid_in.read()
    await grid_in.write(b"0123456789")
    await grid_in.close()
    assert grid_in.length == 10
    await grid_in.set("custom", "changed")
    assert grid_in.custom == "changed"
    stored = sync_bucket.open_download_stream(grid_in._id)
    assert stored.custom == "changed"
    assert stored.chunk_size == 8
    assert stored.read() == b"0123456789"


async def test_grid_in_with_session(gridfs: GridFSClasses, client: Any, bucket: Any) -> None:
    async with await client.start_session() as session:
        grid_in = gridfs.GridIn(bucket.collection, session=session, filename="s")
        await grid_in.write(b"in session")
        await grid_in.close()
        grid_out = await bucket.open_download_stream(grid_in._id, session=session)
        assert await grid_out.read() == b"in session"


async def test_grid_in_needs_motor_collection(gridfs: GridFSClasses, bucket: Any) -> None:
    with pytest.raises(TypeError, match="Motor collection"):
        gridfs.GridIn(bucket.collection.delegate)
    with pytest.raises(TypeError, match="Motor collection"):
        gridfs.GridOut(bucket.collection.delegate, file_id=1)


# ---------------------------------------------------------------------------------------------
# GridOut
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def lines_file(sync_bucket: GridFSBucket) -> Any:
    """A file of three lines in chunks of 4 bytes."""
    return sync_bucket.upload_from_stream(
        "lines.txt", b"first\nsecond line\nthird", chunk_size_bytes=4, metadata={"m": 1}
    )


async def test_grid_out_is_lazy(gridfs: GridFSClasses, bucket: Any, lines_file: Any) -> None:
    grid_out = gridfs.GridOut(bucket.collection, file_id=lines_file)
    for name in ("filename", "length", "chunk_size", "upload_date", "metadata", "_id"):
        with pytest.raises(InvalidOperation, match=r"open\(\) before accessing the"):
            getattr(grid_out, name)
    with pytest.raises(InvalidOperation):
        grid_out.seek(0, os.SEEK_END)
    assert await grid_out.open() is grid_out
    assert grid_out.length == 23
    assert grid_out.metadata == {"m": 1}
    assert await grid_out.open() is grid_out  # Opening again does nothing.


async def test_grid_out_reads_without_explicit_open(
    gridfs: GridFSClasses, bucket: Any, lines_file: Any
) -> None:
    grid_out = gridfs.GridOut(bucket.collection, file_id=lines_file)
    assert await grid_out.read(3) == b"fir"
    assert grid_out.length == 23


async def test_grid_out_file_document_given(gridfs: GridFSClasses, bucket: Any, lines_file: Any) -> None:
    document = await bucket.collection.files.find_one({"_id": lines_file})
    grid_out = gridfs.GridOut(bucket.collection, file_document=document)
    assert grid_out.filename == "lines.txt"
    assert await grid_out.readline() == b"first\n"


async def test_read_and_readchunk(bucket: Any, lines_file: Any) -> None:
    grid_out = await bucket.open_download_stream(lines_file)
    assert await grid_out.read(2) == b"fi"
    assert grid_out.tell() == 2
    assert await grid_out.readchunk() == b"rs"  # The rest of chunk 0.
    assert await grid_out.readchunk() == b"t\nse"
    assert await grid_out.read(0) == b""
    assert await grid_out.read(6) == b"cond l"
    assert await grid_out.read(1000) == b"ine\nthird"
    assert grid_out.tell() == 23
    assert await grid_out.readchunk() == b""


async def test_readline_and_readlines(bucket: Any, lines_file: Any) -> None:
    grid_out = await bucket.open_download_stream(lines_file)
    assert await grid_out.readline() == b"first\n"
    assert await grid_out.readline(3) == b"sec"
    assert await grid_out.readline() == b"ond line\n"
    assert await grid_out.readline() == b"third"
    assert await grid_out.readline() == b""
    grid_out.seek(0)
    assert await grid_out.readlines() == [b"first\n", b"second line\n", b"third"]
    grid_out.seek(0)
    assert await grid_out.readlines(3) == [b"first\n"]
    grid_out.seek(0)
    # As io.IOBase: lines are read until their total exceeds the hint, not merely reaches it.
    assert await grid_out.readlines(6) == [b"first\n", b"second line\n"]
    grid_out.seek(0)
    assert await grid_out.to_list() == [b"first\n", b"second line\n", b"third"]


async def test_seek_and_tell(bucket: Any, lines_file: Any) -> None:
    grid_out = await bucket.open_download_stream(lines_file)
    assert grid_out.seek(6) == 6
    assert grid_out.tell() == 6
    assert await grid_out.read(6) == b"second"
    assert grid_out.seek(-6, os.SEEK_CUR) == 6
    assert await grid_out.read(6) == b"second"
    assert grid_out.seek(-5, os.SEEK_END) == 18
    assert await grid_out.read() == b"third"
    assert grid_out.seek(1) == 1
    assert await grid_out.readchunk() == b"irs"
    assert grid_out.seek(100) == 100
    assert await grid_out.read() == b""
    with pytest.raises(OSError, match="must be positive"):
        grid_out.seek(-1)
    with pytest.raises(OSError, match="whence"):
        grid_out.seek(0, 7)


async def test_cancelled_read_loses_no_data(flavor: Flavor, bucket: Any) -> None:
    data = os.urandom(6 * MiB)
    file_id = await bucket.upload_from_stream("c", data, chunk_size_bytes=64 * 1024)
    grid_out = await bucket.open_download_stream(file_id)
    assert await grid_out.read(10) == data[:10]
    cancelled = 0
    for delay in (0.0005, 0.001, 0.002, 0.005, 0.01):
        try:
            await flavor.wait_for(grid_out.read(), delay)
        except TimeoutError:
            cancelled += 1
            # The read ran on, or not, on its worker thread: either way nothing was read.
            assert grid_out.tell() == 10
            assert await grid_out.read(10) == data[10:20]
        else:
            assert grid_out.tell() == len(data)
        grid_out.seek(10)
    assert cancelled


@pytest.mark.asyncio_api
async def test_seek_after_a_cancelled_readchunk_wins(bucket: Any) -> None:
    data = os.urandom(MiB)
    file_id = await bucket.upload_from_stream("c", data, chunk_size_bytes=64 * 1024)
    grid_out = await bucket.open_download_stream(file_id)
    grid_out.seek(10)
    readchunk = asyncio.ensure_future(grid_out.readchunk())
    readchunk.cancel()
    grid_out.seek(100)  # A seek after the cancellation wins.
    assert await grid_out.read(5) == data[100:105]


async def test_iterate_chunks(bucket: Any, lines_file: Any) -> None:
    grid_out = await bucket.open_download_stream(lines_file)
    chunks = [chunk async for chunk in grid_out]
    assert chunks == [b"firs", b"t\nse", b"cond", b" lin", b"e\nth", b"ird"]


async def test_close_and_async_with(bucket: Any, lines_file: Any) -> None:
    async with await bucket.open_download_stream(lines_file) as grid_out:
        assert await grid_out.read(1) == b"f"
        assert not grid_out.closed
    assert grid_out.closed
    with pytest.raises(ValueError, match="closed file"):
        await grid_out.read()
    grid_out2 = await bucket.open_download_stream(lines_file)
    await grid_out2.close()
    await grid_out2.close()  # Closing twice is allowed.


async def test_grid_out_file_fields_and_plain_methods(bucket: Any, sync_bucket: GridFSBucket) -> None:
    with sync_bucket.open_upload_stream("f") as sync_in:
        sync_in.write(b"x")
        sync_in.extra = 42
    grid_out = await bucket.open_download_stream(sync_in._id)
    assert grid_out.extra == 42
    with pytest.raises(AttributeError, match="absent"):
        grid_out.absent
    with pytest.raises(io.UnsupportedOperation):
        grid_out.write(b"x")
    with pytest.raises(io.UnsupportedOperation):
        grid_out.fileno()
    assert not grid_out.isatty()
    grid_out.flush()


async def test_stream_to_handler(bucket: Any, lines_file: Any) -> None:
    class Handler:
        def __init__(self) -> None:
            self.written: list[bytes] = []
            self.flushes = 0

        def write(self, data: bytes) -> None:
            self.written.append(data)

        async def flush(self) -> None:
            self.flushes += 1

    handler = Handler()
    grid_out = await bucket.open_download_stream(lines_file)
    await grid_out.stream_to_handler(handler)
    assert b"".join(handler.written) == b"first\nsecond line\nthird"
    assert handler.flushes == len(handler.written) == 6

    class AsyncWriter:
        def __init__(self) -> None:
            self.data = b""

        async def write(self, data: bytes) -> None:
            self.data += data

    writer = AsyncWriter()
    grid_out = await bucket.open_download_stream(lines_file)
    grid_out.seek(6)
    await grid_out.stream_to_handler(writer)
    assert writer.data == b"second line\nthird"


async def test_empty_file(bucket: Any) -> None:
    file_id = await bucket.upload_from_stream("empty", b"")
    grid_out = await bucket.open_download_stream(file_id)
    assert grid_out.length == 0
    assert await grid_out.read() == b""
    assert await grid_out.readchunk() == b""
    assert [c async for c in grid_out] == []


# ---------------------------------------------------------------------------------------------
# Corrupt files
# ---------------------------------------------------------------------------------------------


async def test_missing_chunk(
    bucket: Any, bucket_name: str, sync_client: MongoClient[Any], lines_file: Any
) -> None:
    sync_client[DB_NAME][f"{bucket_name}.chunks"].delete_one({"files_id": lines_file, "n": 2})
    grid_out = await bucket.open_download_stream(lines_file)
    assert await grid_out.read(8) == b"first\nse"
    with pytest.raises(CorruptGridFile, match="Missing chunk: expected chunk #2"):
        await grid_out.read()


async def test_truncated_chunk(
    bucket: Any, bucket_name: str, sync_client: MongoClient[Any], lines_file: Any
) -> None:
    sync_client[DB_NAME][f"{bucket_name}.chunks"].update_one(
        {"files_id": lines_file, "n": 1}, {"$set": {"data": b"xy"}}
    )
    grid_out = await bucket.open_download_stream(lines_file)
    with pytest.raises(CorruptGridFile, match="truncated chunk #1"):
        await grid_out.read()


async def test_last_chunk_missing(
    bucket: Any, bucket_name: str, sync_client: MongoClient[Any], lines_file: Any
) -> None:
    sync_client[DB_NAME][f"{bucket_name}.chunks"].delete_one({"files_id": lines_file, "n": 5})
    grid_out = await bucket.open_download_stream(lines_file)
    with pytest.raises(CorruptGridFile, match="no chunk #5"):
        await grid_out.read()


async def test_extra_chunk(
    bucket: Any, bucket_name: str, sync_client: MongoClient[Any], lines_file: Any
) -> None:
    chunks = sync_client[DB_NAME][f"{bucket_name}.chunks"]
    chunks.insert_one({"files_id": lines_file, "n": 6, "data": b"more"})
    grid_out = await bucket.open_download_stream(lines_file)
    with pytest.raises(CorruptGridFile, match="Extra chunk"):
        await grid_out.read()
    # An empty extra chunk is allowed by the GridFS specification.
    chunks.update_one({"files_id": lines_file, "n": 6}, {"$set": {"data": b""}})
    grid_out = await bucket.open_download_stream(lines_file)
    assert await grid_out.read() == b"first\nsecond line\nthird"


# ---------------------------------------------------------------------------------------------
# Bucket operations
# ---------------------------------------------------------------------------------------------


async def test_missing_file_raises_no_file(gridfs: GridFSClasses, bucket: Any) -> None:
    missing = ObjectId()
    with pytest.raises(NoFile):
        await bucket.open_download_stream(missing)
    with pytest.raises(NoFile):
        await bucket.open_download_stream_by_name("missing")
    with pytest.raises(NoFile):
        await bucket.delete(missing)
    with pytest.raises(NoFile):
        await bucket.delete_by_name("missing")
    with pytest.raises(NoFile):
        await bucket.rename(missing, "new")
    with pytest.raises(NoFile):
        await bucket.rename_by_name("missing", "new")
    with pytest.raises(NoFile):
        await bucket.download_to_stream(missing, io.BytesIO())
    with pytest.raises(NoFile):
        await bucket.download_to_stream_by_name("missing", io.BytesIO())
    with pytest.raises(NoFile):
        await gridfs.GridOut(bucket.collection, file_id=missing).open()
    with pytest.raises(NoFile):
        await gridfs.GridOut(bucket.collection, file_id=missing).read()


async def test_wrong_id_and_name_types(bucket: Any, lines_file: Any) -> None:
    # Any BSON value can be an _id: the wrong type finds nothing.
    with pytest.raises(NoFile):
        await bucket.open_download_stream(str(lines_file))
    with pytest.raises(NoFile):
        await bucket.open_download_stream({"$ne": None})  # Not an operator: matched with $eq.
    with pytest.raises(bson.errors.InvalidDocument):
        await bucket.open_download_stream(object())
    with pytest.raises(TypeError):
        bucket.open_upload_stream(123)  # Raised at once: opening an upload stream does no I/O.
    with pytest.raises(TypeError):
        await bucket.open_download_stream_by_name(123)


async def test_ids_of_any_type(bucket: Any) -> None:
    for file_id in ("name-as-id", 7, {"compound": [1, 2]}):
        await bucket.upload_from_stream_with_id(file_id, "f", b"payload")
        grid_out = await bucket.open_download_stream(file_id)
        assert grid_out._id == file_id
        assert await grid_out.read() == b"payload"


async def test_delete_and_rename(bucket: Any, bucket_name: str, sync_client: MongoClient[Any]) -> None:
    first = await bucket.upload_from_stream("a", b"1", chunk_size_bytes=1)
    await bucket.upload_from_stream("a", b"22", chunk_size_bytes=1)
    third = await bucket.upload_from_stream("b", b"333", chunk_size_bytes=1)
    await bucket.rename(third, "c")
    assert await (await bucket.open_download_stream_by_name("c")).read() == b"333"
    await bucket.rename_by_name("a", "renamed")
    assert await (await bucket.open_download_stream_by_name("renamed", revision=0)).read() == b"1"
    assert await (await bucket.open_download_stream_by_name("renamed")).read() == b"22"
    await bucket.delete(first)
    assert count_chunks(sync_client, bucket_name, first) == 0
    await bucket.delete_by_name("renamed")
    assert count_files(sync_client, bucket_name) == 1
    assert count_chunks(sync_client, bucket_name) == 3


async def test_upload_from_stream_sources(bucket: Any) -> None:
    from_bytes = await bucket.upload_from_stream("bytes", b"abc", metadata={"k": "v"})
    from_file = await bucket.upload_from_stream("file", io.BytesIO(b"x" * 1000), chunk_size_bytes=100)
    assert await (await bucket.open_download_stream(from_bytes)).read() == b"abc"
    assert (await bucket.open_download_stream(from_bytes)).metadata == {"k": "v"}
    assert await (await bucket.open_download_stream(from_file)).read() == b"x" * 1000


@pytest.mark.asyncio_api
async def test_upload_from_an_asyncio_stream_reader(bucket: Any) -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b"streamed " * 100)
    reader.feed_eof()
    from_reader = await bucket.upload_from_stream("reader", reader, chunk_size_bytes=64)
    grid_out = await bucket.open_download_stream(from_reader)
    assert grid_out.chunk_size == 64
    assert await grid_out.read() == b"streamed " * 100


async def test_upload_with_existing_id(bucket: Any, bucket_name: str, sync_client: MongoClient[Any]) -> None:
    await bucket.upload_from_stream_with_id("same", "first", b"original")
    with pytest.raises(FileExists):
        await bucket.upload_from_stream_with_id("same", "second", b"other data")
    # The existing file is untouched.
    assert await (await bucket.open_download_stream("same")).read() == b"original"
    assert count_files(sync_client, bucket_name) == 1


async def test_failed_upload_from_stream_leaves_no_chunk(
    bucket: Any, bucket_name: str, sync_client: MongoClient[Any]
) -> None:
    class Failing(io.RawIOBase):
        def __init__(self) -> None:
            self.reads = 0

        def read(self, size: int = -1) -> bytes:
            self.reads += 1
            if self.reads > 20:
                raise OSError("disk on fire")
            return b"y" * size

    with pytest.raises(OSError, match="disk on fire"):
        await bucket.upload_from_stream("failing", Failing(), chunk_size_bytes=1024)

    class FailingAsync:
        def __init__(self) -> None:
            self.reads = 0

        async def read(self, size: int) -> bytes:
            self.reads += 1
            if self.reads > 20:
                raise ConnectionResetError("client went away")
            return b"z" * size

    with pytest.raises(ConnectionResetError):
        await bucket.upload_from_stream(
            "failing-async", FailingAsync(), chunk_size_bytes=UPLOAD_BUFFER_BYTES // 4
        )
    assert count_chunks(sync_client, bucket_name) == 0
    assert count_files(sync_client, bucket_name) == 0


async def test_download_to_stream(bucket: Any) -> None:
    file_id = await bucket.upload_from_stream("f", b"0123456789" * 50, chunk_size_bytes=64)
    destination = io.BytesIO()
    await bucket.download_to_stream(file_id, destination)
    assert destination.getvalue() == b"0123456789" * 50

    class AsyncDestination:
        def __init__(self) -> None:
            self.parts: list[bytes] = []

        async def write(self, data: bytes) -> None:
            self.parts.append(data)

    async_destination = AsyncDestination()
    await bucket.download_to_stream(file_id, async_destination)
    assert b"".join(async_destination.parts) == b"0123456789" * 50
    assert len(async_destination.parts) == 8  # One write per chunk.

    await bucket.upload_from_stream("f", b"new")
    by_name = io.BytesIO()
    await bucket.download_to_stream_by_name("f", by_name)
    assert by_name.getvalue() == b"new"
    by_name = io.BytesIO()
    await bucket.download_to_stream_by_name("f", by_name, revision=0)
    assert by_name.getvalue() == b"0123456789" * 50
    with pytest.raises(TypeError, match="write"):
        await bucket.download_to_stream(file_id, object())


async def test_find(gridfs: GridFSClasses, bucket: Any) -> None:
    for i in range(5):
        await bucket.upload_from_stream(f"file{i}", f"content {i}".encode(), metadata={"i": i})
    cursor = bucket.find({"metadata.i": {"$gte": 1}}).sort("metadata.i", -1).skip(1).limit(3)
    assert type(cursor) is gridfs.GridOutCursor
    found = [grid_out async for grid_out in cursor]
    assert [g.filename for g in found] == ["file3", "file2", "file1"]
    assert all(type(g) is gridfs.GridOut for g in found)
    assert await found[0].read() == b"content 3"
    assert cursor.retrieved == 3
    assert not cursor.alive

    everything = await bucket.find().to_list(None)
    assert sorted(g.filename for g in everything) == [f"file{i}" for i in range(5)]
    assert len(await bucket.find().to_list(2)) == 2
    assert len(await bucket.find({"filename": "file0"}).to_list(10)) == 1  # Fewer than asked for.

    cursor = bucket.find({}, sort=[("metadata.i", 1)], batch_size=2)
    first = await cursor.next()
    assert first.filename == "file0"
    clone = cursor.clone()
    assert type(clone) is gridfs.GridOutCursor
    assert [g.filename for g in await clone.to_list()] == [f"file{i}" for i in range(5)]
    assert await bucket.find({"filename": "file4"}).distinct("metadata.i") == [4]
    await cursor.close()

    with pytest.raises(StopAsyncIteration):
        await bucket.find({"filename": "absent"}).next()


async def test_find_legacy_iteration(gridfs: GridFSClasses, bucket: Any) -> None:
    for i in range(3):
        await bucket.upload_from_stream(f"file{i}", b"x")
    cursor = bucket.find({}, sort=[("filename", 1)], batch_size=2)
    names = []
    with pytest.warns(DeprecationWarning):
        while await cursor.fetch_next:
            grid_out = cursor.next_object()
            assert type(grid_out) is gridfs.GridOut
            names.append(grid_out.filename)
    assert names == ["file0", "file1", "file2"]
    cursor = bucket.find({}, sort=[("filename", 1)])
    with pytest.warns(DeprecationWarning):
        assert await cursor.fetch_next
    assert [g.filename for g in await cursor.to_list()] == ["file0", "file1", "file2"]


async def test_find_collection(gridfs: GridFSClasses, bucket: Any, bucket_name: str) -> None:
    cursor = bucket.find()
    assert type(cursor.collection) is gridfs.flavor.cls("Collection")
    assert cursor.collection.name == f"{bucket_name}.files"


async def test_wrap(gridfs: GridFSClasses, bucket: Any, sync_bucket: GridFSBucket, lines_file: Any) -> None:
    grid_out = bucket.wrap(sync_bucket.open_download_stream(lines_file))
    assert type(grid_out) is gridfs.GridOut
    assert await grid_out.read(5) == b"first"
    grid_in = bucket.wrap(sync_bucket.open_upload_stream("wrapped"))
    assert type(grid_in) is gridfs.GridIn
    await grid_in.write(b"w")
    await grid_in.close()
    assert type(bucket.wrap(sync_bucket.find())) is gridfs.GridOutCursor
    wrapped_bucket = bucket.collection.wrap(sync_bucket)
    assert type(wrapped_bucket) is gridfs.Bucket
    assert await (await wrapped_bucket.open_download_stream(grid_in._id)).read() == b"w"
    with pytest.raises(TypeError):
        bucket.wrap(object())


async def test_gridfs_refuses_transactions(client: Any, bucket: Any, lines_file: Any) -> None:
    async with await client.start_session() as session:
        grid_out = await bucket.open_download_stream(lines_file, session=session)
        async with session.start_transaction():
            with pytest.raises(InvalidOperation, match="transactions"):
                await grid_out.read()
            with pytest.raises(InvalidOperation, match="transactions"):
                await bucket.delete(lines_file, session=session)


async def test_no_pymongo_io_on_the_loop_thread(
    bucket: Any, gridfs: GridFSClasses, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.current_thread()
    sends = {"loop": 0, "workers": 0}
    original = pymongo.synchronous.pool.sendall

    def watched_sendall(sock: Any, buf: bytes) -> None:
        sends["loop" if threading.current_thread() is loop_thread else "workers"] += 1
        original(sock, buf)

    monkeypatch.setattr(pymongo.synchronous.pool, "sendall", watched_sendall)
    grid_in = bucket.open_upload_stream("io", chunk_size_bytes=16)
    await grid_in.write(b"a" * 100)
    await grid_in.close()
    grid_out = gridfs.GridOut(bucket.collection, file_id=grid_in._id)
    await grid_out.open()
    grid_out.seek(10)
    await grid_out.readchunk()
    await grid_out.readline()
    grid_out.seek(0)
    await grid_out.readlines()
    await grid_out.read()
    async for _ in grid_out:
        pass
    await grid_out.close()
    async for found in bucket.find():
        await found.read()
    await bucket.download_to_stream(grid_in._id, io.BytesIO())
    await bucket.delete(grid_in._id)
    assert sends["workers"] > 0
    assert sends["loop"] == 0


# ---------------------------------------------------------------------------------------------
# Streaming a large file in bounded memory
# ---------------------------------------------------------------------------------------------

BIG_FILE_SIZE = 64 * MiB
PIECE = 1 * MiB


def piece(i: int) -> bytes:
    """1 MiB of deterministic data that differs for each ``i``."""
    return hashlib.sha256(i.to_bytes(4, "big")).digest() * (PIECE // 32)


@pytest.fixture
def traced_memory() -> Iterator[None]:
    tracemalloc.start()
    yield
    tracemalloc.stop()


def peak_growth_since(baseline: int) -> int:
    _, peak = tracemalloc.get_traced_memory()
    return peak - baseline


def reset_baseline() -> int:
    tracemalloc.reset_peak()
    current, _ = tracemalloc.get_traced_memory()
    return current


@pytest.mark.timeout(300)
async def test_64_mib_round_trip_streams_in_bounded_memory(
    bucket: Any, traced_memory: None, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = hashlib.sha256()
    baseline = reset_baseline()
    grid_in = bucket.open_upload_stream("big.bin")
    for i in range(BIG_FILE_SIZE // PIECE):
        data = piece(i)
        expected.update(data)
        await grid_in.write(data)
        del data
    await grid_in.close()
    upload_peak = peak_growth_since(baseline)
    assert grid_in.length == BIG_FILE_SIZE

    baseline = reset_baseline()
    grid_out = await bucket.open_download_stream(grid_in._id)
    by_chunk = hashlib.sha256()
    async for chunk in grid_out:
        by_chunk.update(chunk)
    readchunk_peak = peak_growth_since(baseline)

    baseline = reset_baseline()
    grid_out = await bucket.open_download_stream(grid_in._id)
    by_read = hashlib.sha256()
    while data := await grid_out.read(PIECE):
        by_read.update(data)
    del data
    read_peak = peak_growth_since(baseline)

    assert by_chunk.hexdigest() == by_read.hexdigest() == expected.hexdigest()
    with capsys.disabled():
        print(
            f"\n64 MiB GridFS round trip, peak traced memory growth: upload {upload_peak / MiB:.1f} MiB, "
            f"readchunk {readchunk_peak / MiB:.1f} MiB, read(1 MiB) {read_peak / MiB:.1f} MiB"
        )
    # PyMongo alone peaks near 92 MiB uploading and 32 MiB downloading this file.
    for peak in (upload_peak, readchunk_peak, read_peak):
        assert peak < 16 * MiB


def test_streaming_limits_are_sane() -> None:
    assert 8 * MiB >= motor_gridfs.UPLOAD_BUFFER_BYTES
    assert 8 * MiB >= motor_gridfs.DOWNLOAD_BATCH_BYTES
