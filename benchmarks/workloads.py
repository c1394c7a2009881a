"""The workloads, named as in MongoDB's driver benchmarking specification, and the drivers they run on.

Each workload has a synchronous body (for PyMongo's ``MongoClient``) and an asynchronous one (for
PyMongo's ``AsyncMongoClient`` and Motor, whose APIs agree here). An *iteration* is the spec's task:
for example 10,000 ``find_one`` calls, or one ``find`` drained of 10,000 documents. Its *ops* are
commands or documents, as :attr:`Workload.unit` says; ``--scale`` multiplies their number.

The ``8Tasks``/``80Tasks`` variants split an iteration's ops among that many concurrent tasks, each
awaiting one operation at a time (for the sync driver: that many threads). A FindMany variant gives
each task a ``find().limit(n / tasks)``.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from benchmarks import data

__all__ = [
    "DATABASE",
    "DRIVERS",
    "WORKLOADS",
    "Driver",
    "Workload",
    "select_workloads",
]

DATABASE = "perftest"
CORPUS = "corpus"
INSERTS = "inserts"
HELLO = {"hello": True}


@dataclass(frozen=True)
class Driver:
    """A client class to measure.

    :param key: its name on the command line.
    :param label: its name in tables.
    :param module: the module of its client class.
    :param client_class: the client class's name.
    :param gridfs_class: the GridFS bucket class's name, in ``gridfs_module``.
    :param is_async: whether it is driven from an event loop.
    :param ours: whether it is Motor (the rows the ratios are about).
    """

    key: str
    label: str
    module: str
    client_class: str
    gridfs_module: str
    gridfs_class: str
    is_async: bool
    ours: bool

    def client_factory(self) -> Callable[..., Any]:
        return getattr(importlib.import_module(self.module), self.client_class)  # type: ignore[no-any-return]

    def bucket_factory(self) -> Callable[..., Any] | None:
        """The GridFS bucket class, or ``None`` if the module does not offer it (yet)."""
        try:
            module = importlib.import_module(self.gridfs_module)
        except ImportError:
            return None
        return getattr(module, self.gridfs_class, None)


DRIVERS: dict[str, Driver] = {
    driver.key: driver
    for driver in (
        Driver("sync", "PyMongo", "pymongo", "MongoClient", "gridfs", "GridFSBucket", False, False),
        Driver(
            "async", "PyMongoAsync", "pymongo", "AsyncMongoClient", "gridfs", "AsyncGridFSBucket", True, False
        ),
        Driver(
            "motor",
            "Motor",
            "motor.motor_asyncio",
            "AsyncIOMotorClient",
            "motor.motor_asyncio",
            "AsyncIOMotorGridFSBucket",
            True,
            True,
        ),
        Driver(
            "tornado",
            "MotorTornado",
            "motor.motor_tornado",
            "MotorClient",
            "motor.motor_tornado",
            "MotorGridFSBucket",
            True,
            True,
        ),
    )
}


@dataclass(frozen=True)
class Workload:
    """One benchmark.

    :param name: the spec's name (plus ``8Tasks``/``80Tasks`` and ``AsyncFor`` variants).
    :param body: the key of the operation it repeats (see ``_SYNC_BODIES``/``_ASYNC_BODIES``).
    :param count: ops per iteration at scale 1.
    :param unit_bytes: bytes of documents (or commands) per op, for MB/s.
    :param unit: what an op is.
    :param tasks: concurrent tasks (threads for the sync driver) sharing an iteration's ops.
    :param corpus: whether it reads the corpus of tweets with ``_id`` 1..count.
    :param serial: the serial workload a concurrent variant is compared with.
    """

    name: str
    body: str
    count: int
    unit_bytes: int
    unit: str = "op"
    tasks: int = 1
    corpus: bool = False
    serial: str | None = None

    def ops(self, scale: float) -> int:
        """Ops per iteration at ``scale`` (at least one, and at least one per task)."""
        return max(self.tasks, round(self.count * scale))

    def iteration_bytes(self, scale: float) -> int:
        """Bytes of documents (or file) per iteration at ``scale``: a GridFS file shrinks with it."""
        if self.unit == "file":
            return file_size(scale)
        return self.ops(scale) * self.unit_bytes

    def describe(self) -> str:
        form = f"{self.tasks} concurrent tasks" if self.tasks > 1 else "serial"
        unit = self.unit if self.count == 1 else f"{self.unit}s"
        return f"{self.name}: {self.count:,} {unit} per iteration, {form}"


def file_size(scale: float) -> int:
    """The size of the GridFS workloads' file at ``scale``."""
    return max(1, round(data.GRIDFS_SIZE * scale))


def _concurrent(base: Workload, tasks: int) -> Workload:
    return Workload(
        f"{base.name}{tasks}Tasks",
        base.body,
        base.count,
        base.unit_bytes,
        base.unit,
        tasks,
        base.corpus,
        serial=base.name,
    )


_RUN_COMMAND = Workload("RunCommand", "run_command", 10_000, data.bson_size(HELLO), "command")
_FIND_ONE = Workload("FindOneByID", "find_one", 10_000, data.TWEET_SIZE, "find_one", corpus=True)
_FIND_MANY = Workload(
    "FindManyAndEmptyCursor", "find_many_to_list", 10_000, data.TWEET_SIZE, "document", corpus=True
)

WORKLOADS: dict[str, Workload] = {
    workload.name: workload
    for workload in (
        _RUN_COMMAND,
        _FIND_ONE,
        Workload("SmallDocInsertOne", "insert_one", 10_000, data.SMALL_DOC_SIZE, "insert_one"),
        Workload("LargeDocInsertOne", "insert_one_large", 10, data.LARGE_DOC_SIZE, "insert_one"),
        _FIND_MANY,
        Workload(
            "FindManyAndEmptyCursorAsyncFor",
            "find_many_async_for",
            10_000,
            data.TWEET_SIZE,
            "document",
            corpus=True,
        ),
        Workload("SmallDocBulkInsert", "insert_many", 10_000, data.SMALL_DOC_SIZE, "document"),
        Workload("LargeDocBulkInsert", "insert_many_large", 10, data.LARGE_DOC_SIZE, "document"),
        Workload("GridFsUpload", "gridfs_upload", 1, data.GRIDFS_SIZE, "file"),
        Workload("GridFsDownload", "gridfs_download", 1, data.GRIDFS_SIZE, "file"),
        _concurrent(_RUN_COMMAND, 8),
        _concurrent(_RUN_COMMAND, 80),
        _concurrent(_FIND_ONE, 8),
        _concurrent(_FIND_ONE, 80),
        _concurrent(_FIND_MANY, 8),
        _concurrent(_FIND_MANY, 80),
    )
}

#: Named groups for ``--workloads``.
GROUPS: dict[str, list[str]] = {
    "all": list(WORKLOADS),
    "serial": [name for name, w in WORKLOADS.items() if w.tasks == 1],
    "concurrent": [name for name, w in WORKLOADS.items() if w.tasks > 1],
    "targets": [
        "RunCommand",
        "FindOneByID",
        "SmallDocInsertOne",
        "FindManyAndEmptyCursor",
        "FindManyAndEmptyCursorAsyncFor",
        "RunCommand80Tasks",
        "FindOneByID80Tasks",
    ],
}


def select_workloads(names: Sequence[str]) -> list[Workload]:
    """The workloads (or groups) named, comma- or space-separated, in the order of :data:`WORKLOADS`.

    :raises KeyError: naming what is neither a workload nor a group.
    """
    wanted: set[str] = set()
    lower = {name.lower(): name for name in WORKLOADS}
    for item in names:
        for name in filter(None, (part.strip() for part in item.split(","))):
            if name.lower() in GROUPS:
                wanted.update(GROUPS[name.lower()])
            elif name.lower() in lower:
                wanted.add(lower[name.lower()])
            else:
                raise KeyError(name)
    return [workload for name, workload in WORKLOADS.items() if name in wanted]


def split(ops: int, tasks: int) -> list[range]:
    """``range(ops)`` cut into ``tasks`` contiguous parts of nearly equal length."""
    bounds = [ops * i // tasks for i in range(tasks + 1)]
    return [range(bounds[i], bounds[i + 1]) for i in range(tasks)]


class Context:
    """What one measurement's iterations use: the client's database and collections, the documents
    to insert (fresh copies made before each iteration, outside the timing), the GridFS bucket."""

    def __init__(
        self, workload: Workload, client: Any, scale: float, bucket_class: Any, file_id: Any
    ) -> None:
        self.workload = workload
        self.client = client
        self.db = client[DATABASE]
        self.corpus = self.db[CORPUS]
        self.inserts = self.db[INSERTS]
        self.ops = ops = workload.ops(scale)
        self.parts = split(ops, workload.tasks)
        self.bucket = bucket_class(self.db) if bucket_class is not None else None
        self.file_id = file_id
        self.documents: list[dict[str, Any]] = []
        self.file_size = file_size(scale)
        self.payload = data.gridfs_data(self.file_size) if workload.body == "gridfs_upload" else b""
        self.pool: ThreadPoolExecutor | None = None

    def fresh_documents(self) -> None:
        body = self.workload.body
        if body in ("insert_one", "insert_many"):
            self.documents = [data.SMALL_DOC.copy() for _ in range(self.ops)]
        elif body in ("insert_one_large", "insert_many_large"):
            large = data.large_doc()
            self.documents = [large.copy() for _ in range(self.ops)]


# Synchronous bodies: run one part (a range of op numbers) of an iteration.


def _sync_run_command(ctx: Context, part: range) -> None:
    command = ctx.db.command
    for _ in part:
        command(HELLO)


def _sync_find_one(ctx: Context, part: range) -> None:
    find_one = ctx.corpus.find_one
    for i in part:
        find_one({"_id": i + 1})


def _sync_insert_one(ctx: Context, part: range) -> None:
    insert_one = ctx.inserts.insert_one
    documents = ctx.documents
    for i in part:
        insert_one(documents[i])


def _sync_find_many_to_list(ctx: Context, part: range) -> None:
    cursor = ctx.corpus.find()
    if len(part) != ctx.ops:
        cursor = cursor.limit(len(part))
    found = cursor.to_list()
    assert len(found) == len(part), (len(found), len(part))


def _sync_find_many_for(ctx: Context, part: range) -> None:
    cursor = ctx.corpus.find()
    if len(part) != ctx.ops:
        cursor = cursor.limit(len(part))
    count = 0
    for _ in cursor:
        count += 1
    assert count == len(part), (count, len(part))


def _sync_insert_many(ctx: Context, part: range) -> None:
    ctx.inserts.insert_many(ctx.documents[part.start : part.stop])


def _sync_gridfs_upload(ctx: Context, part: range) -> None:
    ctx.bucket.upload_from_stream("gridfstest", ctx.payload)  # type: ignore[union-attr]


def _sync_gridfs_download(ctx: Context, part: range) -> None:
    data_read = ctx.bucket.open_download_stream(ctx.file_id).read()  # type: ignore[union-attr]
    assert len(data_read) == ctx.file_size, (len(data_read), ctx.file_size)


_SYNC_BODIES: dict[str, Callable[[Context, range], None]] = {
    "run_command": _sync_run_command,
    "find_one": _sync_find_one,
    "insert_one": _sync_insert_one,
    "insert_one_large": _sync_insert_one,
    "find_many_to_list": _sync_find_many_to_list,
    "find_many_async_for": _sync_find_many_for,
    "insert_many": _sync_insert_many,
    "insert_many_large": _sync_insert_many,
    "gridfs_upload": _sync_gridfs_upload,
    "gridfs_download": _sync_gridfs_download,
}


def sync_prepare(ctx: Context) -> None:
    """Before each iteration, untimed: fresh documents, an emptied collection or bucket."""
    ctx.fresh_documents()
    body = ctx.workload.body
    if body.startswith("insert"):
        ctx.inserts.drop()
    elif body == "gridfs_upload":
        ctx.db.drop_collection("fs.files")
        ctx.db.drop_collection("fs.chunks")
        ctx.bucket.upload_from_stream("small", b"\x00")  # type: ignore[union-attr]


def sync_iteration(ctx: Context) -> None:
    """One timed iteration on a ``MongoClient``: serial, or spread over threads."""
    body = _SYNC_BODIES[ctx.workload.body]
    if ctx.workload.tasks == 1:
        body(ctx, ctx.parts[0])
        return
    if ctx.pool is None:
        ctx.pool = ThreadPoolExecutor(max_workers=ctx.workload.tasks, thread_name_prefix="bench")
    for future in [ctx.pool.submit(body, ctx, part) for part in ctx.parts]:
        future.result()


# Asynchronous bodies: the same, for AsyncMongoClient and Motor.


async def _async_run_command(ctx: Context, part: range) -> None:
    command = ctx.db.command
    for _ in part:
        await command(HELLO)


async def _async_find_one(ctx: Context, part: range) -> None:
    find_one = ctx.corpus.find_one
    for i in part:
        await find_one({"_id": i + 1})


async def _async_insert_one(ctx: Context, part: range) -> None:
    insert_one = ctx.inserts.insert_one
    documents = ctx.documents
    for i in part:
        await insert_one(documents[i])


async def _async_find_many_to_list(ctx: Context, part: range) -> None:
    cursor = ctx.corpus.find()
    if len(part) != ctx.ops:
        cursor = cursor.limit(len(part))
    found = await cursor.to_list(None)
    assert len(found) == len(part), (len(found), len(part))


async def _async_find_many_for(ctx: Context, part: range) -> None:
    cursor = ctx.corpus.find()
    if len(part) != ctx.ops:
        cursor = cursor.limit(len(part))
    count = 0
    async for _ in cursor:
        count += 1
    assert count == len(part), (count, len(part))


async def _async_insert_many(ctx: Context, part: range) -> None:
    await ctx.inserts.insert_many(ctx.documents[part.start : part.stop])


async def _async_gridfs_upload(ctx: Context, part: range) -> None:
    await ctx.bucket.upload_from_stream("gridfstest", ctx.payload)  # type: ignore[union-attr]


async def _async_gridfs_download(ctx: Context, part: range) -> None:
    stream = await ctx.bucket.open_download_stream(ctx.file_id)  # type: ignore[union-attr]
    data_read = await stream.read()
    assert len(data_read) == ctx.file_size, (len(data_read), ctx.file_size)


_ASYNC_BODIES: dict[str, Callable[[Context, range], Any]] = {
    "run_command": _async_run_command,
    "find_one": _async_find_one,
    "insert_one": _async_insert_one,
    "insert_one_large": _async_insert_one,
    "find_many_to_list": _async_find_many_to_list,
    "find_many_async_for": _async_find_many_for,
    "insert_many": _async_insert_many,
    "insert_many_large": _async_insert_many,
    "gridfs_upload": _async_gridfs_upload,
    "gridfs_download": _async_gridfs_download,
}


async def async_prepare(ctx: Context) -> None:
    """Before each iteration, untimed: fresh documents, an emptied collection or bucket."""
    ctx.fresh_documents()
    body = ctx.workload.body
    if body.startswith("insert"):
        await ctx.inserts.drop()
    elif body == "gridfs_upload":
        await ctx.db.drop_collection("fs.files")
        await ctx.db.drop_collection("fs.chunks")
        await ctx.bucket.upload_from_stream("small", b"\x00")  # type: ignore[union-attr]


async def async_iteration(ctx: Context) -> None:
    """One timed iteration on an async client: serial, or spread over concurrent tasks."""
    body = _ASYNC_BODIES[ctx.workload.body]
    if ctx.workload.tasks == 1:
        await body(ctx, ctx.parts[0])
        return
    await asyncio.gather(*(body(ctx, part) for part in ctx.parts))
