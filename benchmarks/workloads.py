"""The workloads, named as in MongoDB's driver benchmarking specification, and the drivers they run on.

Each workload has a synchronous body (for PyMongo's ``MongoClient``) and an asynchronous one (for
PyMongo's ``AsyncMongoClient`` and Motor, whose APIs agree here). An *iteration* is the spec's task:
for example 10,000 ``find_one`` calls, or one ``find`` drained of 10,000 documents. Its *ops* are
commands or documents, as :attr:`Workload.unit` says; ``--scale`` multiplies their number.

A ``{N}Tasks`` variant (``FindOneByID100Tasks``, any N) splits an iteration's ops among N concurrent
tasks, each awaiting one operation at a time (for the sync driver: N threads). A FindMany variant
gives each task a ``find().limit(n / N)``. A ``Batch{B}`` suffix (``FindManyAndEmptyCursorBatch300``)
sets ``batch_size(B)`` on every driver's cursor; without it every driver's cursor gets the server's
default batch, Motor's included, so that a row always compares the drivers at one batch size.

``Hop`` and ``Hop{N}Tasks`` are :mod:`benchmarks.hop`'s no-op round trips (no server); their
"drivers" are the variants of :data:`HOP_VARIANTS`.
"""

from __future__ import annotations

import asyncio
import importlib
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from benchmarks import data

__all__ = [
    "DATABASE",
    "DEFAULT_TASKS",
    "DRIVERS",
    "HOP_VARIANTS",
    "WORKLOADS",
    "Driver",
    "Workload",
    "get_workload",
    "groups",
    "label",
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


#: The variants of the hop micro-benchmark (see :mod:`benchmarks.hop`), by key: their table labels.
HOP_VARIANTS: dict[str, str] = {
    "floor": "Floor",
    "to_thread": "to_thread",
    "engine": "Engine",
    "stack": "MotorStack",
    "floor_coalesced": "FloorCoalesced",
    "floor_eventfd": "FloorEventfd",
    "floor_one_turn": "FloorOneTurn",
}


def label(key: str) -> str:
    """The table label of a driver or hop variant."""
    driver = DRIVERS.get(key)
    return driver.label if driver is not None else HOP_VARIANTS.get(key, key)


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
    :param batch: the ``batch_size`` every driver's cursor gets; ``None``: the server's default.
    """

    name: str
    body: str
    count: int
    unit_bytes: int
    unit: str = "op"
    tasks: int = 1
    corpus: bool = False
    serial: str | None = None
    batch: int | None = None

    @property
    def hop(self) -> bool:
        """Whether it is a no-op round trip of :mod:`benchmarks.hop` (no server, no driver)."""
        return self.body == "hop"

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
        batch = f", batch_size({self.batch})" if self.batch is not None else ""
        return f"{self.name}: {self.count:,} {unit} per iteration, {form}{batch}"


def file_size(scale: float) -> int:
    """The size of the GridFS workloads' file at ``scale``."""
    return max(1, round(data.GRIDFS_SIZE * scale))


_RUN_COMMAND = Workload("RunCommand", "run_command", 10_000, data.bson_size(HELLO), "command")
_FIND_ONE = Workload("FindOneByID", "find_one", 10_000, data.TWEET_SIZE, "find_one", corpus=True)
_FIND_MANY = Workload(
    "FindManyAndEmptyCursor", "find_many_to_list", 10_000, data.TWEET_SIZE, "document", corpus=True
)
_FIND_MANY_ASYNC_FOR = Workload(
    "FindManyAndEmptyCursorAsyncFor", "find_many_async_for", 10_000, data.TWEET_SIZE, "document", corpus=True
)
_HOP = Workload("Hop", "hop", 10_000, 0, "call")

#: The workloads that take a ``{N}Tasks`` suffix, and those that take a ``Batch{B}`` suffix.
CONCURRENT_BASES = (_RUN_COMMAND, _FIND_ONE, _FIND_MANY, _HOP)
BATCH_BASES = (_FIND_MANY, _FIND_MANY_ASYNC_FOR)

#: The task counts of the ``concurrent`` group, and the batch size of the FindMany rows that set one.
DEFAULT_TASKS = (10, 80, 100, 1000)
DEFAULT_BATCH = 300
#: The task counts of the hop micro-benchmark besides serial.
DEFAULT_HOP_TASKS = (100,)

WORKLOADS: dict[str, Workload] = {
    workload.name: workload
    for workload in (
        _RUN_COMMAND,
        _FIND_ONE,
        Workload("SmallDocInsertOne", "insert_one", 10_000, data.SMALL_DOC_SIZE, "insert_one"),
        Workload("LargeDocInsertOne", "insert_one_large", 10, data.LARGE_DOC_SIZE, "insert_one"),
        _FIND_MANY,
        _FIND_MANY_ASYNC_FOR,
        Workload("SmallDocBulkInsert", "insert_many", 10_000, data.SMALL_DOC_SIZE, "document"),
        Workload("LargeDocBulkInsert", "insert_many_large", 10, data.LARGE_DOC_SIZE, "document"),
        Workload("GridFsUpload", "gridfs_upload", 1, data.GRIDFS_SIZE, "file"),
        Workload("GridFsDownload", "gridfs_download", 1, data.GRIDFS_SIZE, "file"),
        _HOP,
    )
}

_VARIANT = re.compile(r"(?P<base>[A-Za-z]+?)(?:(?P<tasks>\d+)Tasks)?(?:Batch(?P<batch>\d+))?")


def get_workload(name: str) -> Workload:
    """The workload of this name, variants included (``FindOneByID1000Tasks``, ``...Batch300``).

    :raises KeyError: if no workload has this name.
    """
    if name in WORKLOADS:
        return WORKLOADS[name]
    match = _VARIANT.fullmatch(name)
    base = WORKLOADS.get(match["base"]) if match else None
    if match is None or base is None or not (match["tasks"] or match["batch"]):
        raise KeyError(name)
    tasks, batch = match["tasks"], match["batch"]
    if (tasks and base not in CONCURRENT_BASES) or (batch and base not in BATCH_BASES):
        raise KeyError(name)
    return Workload(
        name,
        base.body,
        base.count,
        base.unit_bytes,
        base.unit,
        int(tasks) if tasks else 1,
        base.corpus,
        serial=base.name if tasks else None,
        batch=int(batch) if batch else None,
    )


def groups(
    tasks: Sequence[int] = DEFAULT_TASKS, hop_tasks: Sequence[int] = DEFAULT_HOP_TASKS
) -> dict[str, list[str]]:
    """The named groups of ``--workloads``, for these task counts."""
    concurrent = [f"{base.name}{n}Tasks" for base in (_RUN_COMMAND, _FIND_ONE, _FIND_MANY) for n in tasks]
    batched = [f"{base.name}Batch{DEFAULT_BATCH}" for base in BATCH_BASES]
    hop = ["Hop", *(f"Hop{n}Tasks" for n in hop_tasks)]
    serial = [name for name, w in WORKLOADS.items() if not w.hop]
    find_many = [_FIND_MANY.name, _FIND_MANY_ASYNC_FOR.name, *batched]
    curve = [f"{base.name}{n}Tasks" for base in (_RUN_COMMAND, _FIND_ONE) for n in tasks]
    return {
        "all": [*hop, *serial, *batched, *concurrent],
        "serial": [*serial, *batched],
        "concurrent": concurrent,
        "hop": hop,
        "findmany": find_many,
        "targets": [
            *hop,
            "RunCommand",
            "FindOneByID",
            "SmallDocInsertOne",
            *find_many,
            *curve,
        ],
    }


#: The groups for the default task counts.
GROUPS = groups()


def select_workloads(
    names: Sequence[str],
    tasks: Sequence[int] = DEFAULT_TASKS,
    hop_tasks: Sequence[int] = DEFAULT_HOP_TASKS,
) -> list[Workload]:
    """The workloads (or groups) named, comma- or space-separated, in the order of the ``all`` group
    (names outside it last, in the order given).

    :raises KeyError: naming what is neither a workload nor a group.
    """
    named = groups(tasks, hop_tasks)
    order = named["all"]
    lower = {name.lower(): name for name in [*order, *WORKLOADS]}
    wanted: list[str] = []
    for item in names:
        for name in filter(None, (part.strip() for part in item.split(","))):
            if name.lower() in named:
                found = named[name.lower()]
            else:
                found = [lower.get(name.lower()) or get_workload(name).name]
            wanted.extend(n for n in found if n not in wanted)
    rank = {name: index for index, name in enumerate(order)}
    wanted.sort(key=lambda name: rank.get(name, len(rank)))
    return [get_workload(name) for name in wanted]


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

    def find(self) -> Any:
        """``find()`` on the corpus, with the workload's batch size whatever the driver's default."""
        cursor = self.corpus.find()
        if self.workload.batch is not None:
            return cursor.batch_size(self.workload.batch)
        delegate = getattr(cursor, "delegate", None)
        if delegate is not None:
            # A Motor cursor: Motor before issue 10 asked for batches of its own size by default;
            # PyMongo's 0 is the server's default batch, as the PyMongo rows get.
            delegate.batch_size(0)
        return cursor

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
    cursor = ctx.find()
    if len(part) != ctx.ops:
        cursor = cursor.limit(len(part))
    found = cursor.to_list()
    assert len(found) == len(part), (len(found), len(part))


def _sync_find_many_for(ctx: Context, part: range) -> None:
    cursor = ctx.find()
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
    cursor = ctx.find()
    if len(part) != ctx.ops:
        cursor = cursor.limit(len(part))
    found = await cursor.to_list(None)
    assert len(found) == len(part), (len(found), len(part))


async def _async_find_many_for(ctx: Context, part: range) -> None:
    cursor = ctx.find()
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
