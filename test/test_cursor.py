"""Cursors: ``find()`` cursors, raw batch cursors and command cursors, on every framework."""

from __future__ import annotations

import asyncio
import copy
import re
from typing import Any

import bson
import pytest
from pymongo import ASCENDING, DESCENDING, MongoClient, monitoring
from pymongo.collation import Collation
from pymongo.errors import InvalidOperation, OperationFailure, ServerSelectionTimeoutError

from motor.testing import free_port
from test.support import DB_NAME, Flavor

pytestmark = pytest.mark.every_framework


async def insert_range(coll: Any, n: int) -> None:
    await coll.insert_many([{"_id": i, "x": i} for i in range(n)])


def killed_on_server(sync_client: MongoClient[Any], coll: Any, cursor_id: int) -> bool:
    """Whether the server no longer knows ``cursor_id`` (killCursors does not find it)."""
    reply = sync_client[DB_NAME].command("killCursors", coll.name, cursors=[cursor_id])
    return cursor_id in reply["cursorsNotFound"]


# ---------------------------------------------------------------------------------------------
# find() cursors: building the query
# ---------------------------------------------------------------------------------------------


async def test_find_returns_cursor_of_flavor(flavor: Flavor, coll: Any) -> None:
    cursor = coll.find()
    assert type(cursor) is flavor.cls("Cursor")
    assert cursor.collection is coll
    assert cursor.cursor_id is None


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("sort", ("x", DESCENDING)),
        ("skip", (1,)),
        ("limit", (2,)),
        ("batch_size", (2,)),
        ("hint", ([("_id", ASCENDING)],)),
        ("comment", ("a comment",)),
        ("collation", (Collation("en"),)),
        ("max_time_ms", (5000,)),
        ("max_await_time_ms", (100,)),
        ("allow_disk_use", (True,)),
        ("where", ("this.x > 1",)),
        ("add_option", (2,)),
        ("remove_option", (2,)),
    ],
)
async def test_chaining_returns_same_cursor(coll: Any, method: str, args: tuple[Any, ...]) -> None:
    cursor = coll.find()
    assert getattr(cursor, method)(*args) is cursor
    # Building the query did no I/O: the cursor has not been sent to the server.
    assert cursor.cursor_id is None
    assert cursor.retrieved == 0


async def test_chained_query_options_apply(coll: Any) -> None:
    await insert_range(coll, 7)
    cursor = coll.find({"x": {"$gte": 1}}, {"_id": 0}).sort("x", DESCENDING).skip(1).limit(3)
    assert await cursor.to_list(None) == [{"x": 5}, {"x": 4}, {"x": 3}]


async def test_comment_collation_max_time_allow_disk_use_are_accepted(coll: Any) -> None:
    await coll.insert_many([{"s": "b"}, {"s": "A"}, {"s": "a"}])
    cursor = (
        coll.find({}, {"_id": 0})
        .sort("s", ASCENDING)
        .collation(Collation("en", strength=2))
        .comment("motor test")
        .max_time_ms(10_000)
        .allow_disk_use(True)
    )
    docs = await cursor.to_list(None)
    # Case-insensitive collation: "a" and "A" compare equal, both before "b".
    assert [d["s"].lower() for d in docs] == ["a", "a", "b"]


async def test_min_max_with_hint(coll: Any) -> None:
    await insert_range(coll, 7)
    await coll.create_index("x")
    cursor = coll.find({}, {"_id": 0}).min([("x", 2)]).max([("x", 5)]).hint([("x", 1)])
    assert await cursor.to_list(None) == [{"x": 2}, {"x": 3}, {"x": 4}]


async def test_where(coll: Any) -> None:
    await insert_range(coll, 5)
    cursor = coll.find({}, {"_id": 0}).where("this.x >= 3")
    try:
        docs = await cursor.to_list(None)
    except OperationFailure as exc:
        pytest.skip(f"server does not run JavaScript ($where): error {exc.code}")
    assert docs == [{"x": 3}, {"x": 4}]


async def test_limit_after_iteration_started_raises(coll: Any) -> None:
    await insert_range(coll, 3)
    cursor = coll.find()
    await cursor.next()
    with pytest.raises(InvalidOperation):
        cursor.limit(1)
    await cursor.close()


async def test_rewind(coll: Any) -> None:
    await insert_range(coll, 3)
    cursor = coll.find({}, {"_id": 1})
    first = await cursor.to_list(None)
    assert await cursor.to_list(None) == []
    assert cursor.rewind() is cursor
    assert await cursor.to_list(None) == first


async def test_clone_returns_new_cursor_of_flavor(flavor: Flavor, coll: Any) -> None:
    await insert_range(coll, 4)
    cursor = coll.find({"x": {"$gt": 0}}).sort("x", DESCENDING).limit(2)
    await cursor.to_list(None)
    clone = cursor.clone()
    assert type(clone) is flavor.cls("Cursor")
    assert clone is not cursor
    assert clone.collection == coll
    # A clone is unevaluated and keeps the query options.
    assert [d["x"] for d in await clone.to_list(None)] == [3, 2]


class CommandRecorder(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_cursors_send_no_command_until_iterated(flavor: Flavor, mongodb_uri: str) -> None:
    recorder = CommandRecorder()
    client = flavor.Client(mongodb_uri, event_listeners=[recorder])
    try:
        coll = client[DB_NAME]["no_io"]
        find = coll.find({"x": 1}).sort("x").skip(1).limit(2).batch_size(3).comment("c")
        aggregate = coll.aggregate([{"$match": {}}]).batch_size(2)
        list_indexes = coll.list_indexes()
        raw = coll.find_raw_batches()
        await flavor.sleep(0.1)
        assert recorder.names == []
        await find.to_list(None)
        await aggregate.to_list(None)
        await list_indexes.to_list(None)
        await raw.to_list(None)
        assert recorder.names == ["find", "aggregate", "listIndexes", "find"]
    finally:
        await client.aclose()


async def test_unreachable_server_fails_on_iteration(flavor: Flavor) -> None:
    client = flavor.Client(f"mongodb://127.0.0.1:{free_port()}", serverSelectionTimeoutMS=100)
    try:
        coll = client.test.coll
        find, aggregate = coll.find().sort("x"), coll.aggregate([])
        with pytest.raises(ServerSelectionTimeoutError):
            await find.to_list(None)
        with pytest.raises(ServerSelectionTimeoutError):
            await aggregate.next()
    finally:
        await client.aclose()


# ---------------------------------------------------------------------------------------------
# find() cursors: iteration
# ---------------------------------------------------------------------------------------------


async def test_to_list_none_returns_all(coll: Any) -> None:
    await insert_range(coll, 7)
    docs = await coll.find().batch_size(2).to_list(None)
    assert [d["_id"] for d in docs] == list(range(7))


async def test_to_list_default_length_returns_all(coll: Any) -> None:
    await insert_range(coll, 3)
    assert len(await coll.find().to_list()) == 3


async def test_to_list_in_successive_calls_across_batches(coll: Any) -> None:
    await insert_range(coll, 7)
    cursor = coll.find().sort("_id").batch_size(2)
    chunks = [[d["_id"] for d in await cursor.to_list(3)] for _ in range(4)]
    assert chunks == [[0, 1, 2], [3, 4, 5], [6], []]
    assert not cursor.alive


async def test_to_list_mixed_with_next(coll: Any) -> None:
    await insert_range(coll, 5)
    cursor = coll.find().sort("_id").batch_size(2)
    assert (await cursor.next())["_id"] == 0
    assert [d["_id"] for d in await cursor.to_list(2)] == [1, 2]
    assert (await cursor.next())["_id"] == 3
    assert [d["_id"] for d in await cursor.to_list(None)] == [4]


async def test_to_list_negative_length_raises_value_error(coll: Any) -> None:
    cursor = coll.find()
    with pytest.raises(ValueError):
        cursor.to_list(-1)  # Raised by the call itself, before anything is awaited.


@pytest.mark.parametrize("length", ["1", 1.5, [1]])
async def test_to_list_non_int_length_raises_type_error(coll: Any, length: Any) -> None:
    cursor = coll.find()
    with pytest.raises(TypeError):
        cursor.to_list(length)


async def test_async_for_across_batches(coll: Any) -> None:
    await insert_range(coll, 7)
    cursor = coll.find().sort("_id").batch_size(2)
    seen = [doc["_id"] async for doc in cursor]
    assert seen == list(range(7))
    assert not cursor.alive


async def test_async_for_break_then_continue(coll: Any) -> None:
    await insert_range(coll, 5)
    cursor = coll.find().sort("_id").batch_size(2)
    async for doc in cursor:
        if doc["_id"] == 2:
            break
    assert [doc["_id"] async for doc in cursor] == [3, 4]


async def test_next_until_stop_async_iteration(coll: Any) -> None:
    await insert_range(coll, 3)
    cursor = coll.find().sort("_id").batch_size(2)
    assert [(await cursor.next())["_id"] for _ in range(3)] == [0, 1, 2]
    with pytest.raises(StopAsyncIteration):
        await cursor.next()


async def test_next_on_empty_collection(coll: Any) -> None:
    with pytest.raises(StopAsyncIteration):
        await coll.find().next()


@pytest.mark.asyncio_api
async def test_next_returns_future(flavor: Flavor, coll: Any) -> None:
    await insert_range(coll, 1)
    future = coll.find().next()
    assert asyncio.isfuture(future)
    assert (await future)["_id"] == 0


async def test_concurrent_cursors(flavor: Flavor, coll: Any) -> None:
    await insert_range(coll, 20)
    lists = await flavor.gather(
        *(coll.find({"x": {"$lt": n}}).batch_size(3).to_list(None) for n in range(10))
    )
    assert [len(docs) for docs in lists] == list(range(10))


async def test_retrieved_counts_documents_received(coll: Any) -> None:
    await insert_range(coll, 5)
    cursor = coll.find().batch_size(2)
    assert cursor.retrieved == 0
    await cursor.next()
    assert cursor.retrieved == 2
    await cursor.to_list(None)
    assert cursor.retrieved == 5


async def test_explain(coll: Any) -> None:
    await insert_range(coll, 3)
    plan = await coll.find({"x": 1}).explain()
    assert "queryPlanner" in plan


async def test_distinct(coll: Any) -> None:
    await coll.insert_many([{"x": 1}, {"x": 2}, {"x": 2}, {"x": 3}])
    assert sorted(await coll.find({"x": {"$gte": 2}}).distinct("x")) == [2, 3]


async def test_session_property(client: Any, coll: Any) -> None:
    assert coll.find().session is None
    async with await client.start_session() as session:
        cursor = coll.find(session=session)
        assert cursor.session is session.delegate
        assert await cursor.to_list(None) == []


# ---------------------------------------------------------------------------------------------
# Closing
# ---------------------------------------------------------------------------------------------


async def test_close_kills_server_cursor(sync_client: MongoClient[Any], coll: Any) -> None:
    await insert_range(coll, 7)
    cursor = coll.find().batch_size(2)
    await cursor.to_list(2)  # The whole first batch: nothing is left in the buffer.
    cursor_id = cursor.cursor_id
    assert cursor_id
    assert cursor.alive
    await cursor.close()
    assert not cursor.alive
    assert killed_on_server(sync_client, coll, cursor_id)


async def test_iteration_after_close_stops(coll: Any) -> None:
    await insert_range(coll, 7)
    cursor = coll.find().batch_size(2)
    await cursor.to_list(2)
    await cursor.close()
    with pytest.raises(StopAsyncIteration):
        await cursor.next()
    assert await cursor.to_list(None) == []


async def test_close_unstarted_cursor(coll: Any) -> None:
    cursor = coll.find()
    await cursor.close()
    assert not cursor.alive


async def test_async_with_closes_cursor(sync_client: MongoClient[Any], coll: Any) -> None:
    await insert_range(coll, 7)
    async with coll.find().sort("_id").batch_size(2) as cursor:
        assert [d["_id"] for d in await cursor.to_list(2)] == [0, 1]
        cursor_id = cursor.cursor_id
    assert not cursor.alive
    assert killed_on_server(sync_client, coll, cursor_id)


async def test_async_with_closes_cursor_on_error(coll: Any) -> None:
    await insert_range(coll, 7)
    cursor = coll.find().batch_size(2)
    with pytest.raises(ZeroDivisionError):
        async with cursor:
            await cursor.to_list(2)
            1 / 0
    assert not cursor.alive


# ---------------------------------------------------------------------------------------------
# Raw batches
# ---------------------------------------------------------------------------------------------


async def test_find_raw_batches(flavor: Flavor, coll: Any) -> None:
    await insert_range(coll, 5)
    cursor = coll.find_raw_batches().sort("_id").batch_size(2)
    assert type(cursor) is flavor.cls("RawBatchCursor")
    batches = [batch async for batch in cursor]
    assert all(isinstance(batch, bytes) for batch in batches)
    assert len(batches) == 3
    docs = [doc for batch in batches for doc in bson.decode_all(batch)]
    assert docs == [{"_id": i, "x": i} for i in range(5)]


async def test_find_raw_batches_to_list_and_clone(flavor: Flavor, coll: Any) -> None:
    await insert_range(coll, 3)
    cursor = coll.find_raw_batches()
    (batch,) = await cursor.to_list(None)
    assert [doc["_id"] for doc in bson.decode_all(batch)] == [0, 1, 2]
    assert type(cursor.clone()) is flavor.cls("RawBatchCursor")


# ---------------------------------------------------------------------------------------------
# Legacy iteration
# ---------------------------------------------------------------------------------------------


async def test_fetch_next_and_next_object_warn_and_work(coll: Any) -> None:
    await insert_range(coll, 5)
    cursor = coll.find().sort("_id").batch_size(2)
    seen = []
    with pytest.warns(DeprecationWarning):
        while await cursor.fetch_next:
            seen.append(cursor.next_object()["_id"])
    assert seen == list(range(5))


async def test_fetch_next_on_empty_cursor(coll: Any) -> None:
    with pytest.warns(DeprecationWarning, match="fetch_next"):
        assert await coll.find().fetch_next is False


async def test_next_object_warns(coll: Any) -> None:
    await insert_range(coll, 1)
    cursor = coll.find()
    with pytest.warns(DeprecationWarning):
        assert await cursor.fetch_next
    with pytest.warns(DeprecationWarning, match="next_object"):
        assert cursor.next_object() == {"_id": 0, "x": 0}


async def test_legacy_warnings_point_at_caller(coll: Any) -> None:
    await insert_range(coll, 1)
    cursor = coll.find()
    with pytest.warns(DeprecationWarning) as record:
        await cursor.fetch_next
        cursor.next_object()
    assert [warning.filename for warning in record] == [__file__, __file__]


async def test_fetch_next_then_rewind(coll: Any) -> None:
    await insert_range(coll, 3)
    cursor = coll.find().sort("_id")
    with pytest.warns(DeprecationWarning):
        assert await cursor.fetch_next
    cursor.rewind()
    assert [d["_id"] for d in await cursor.to_list(None)] == [0, 1, 2]


async def test_alive_while_fetched_document_pending(coll: Any) -> None:
    await insert_range(coll, 1)
    cursor = coll.find()
    with pytest.warns(DeprecationWarning):
        assert await cursor.fetch_next
    # A document is ready for next_object(): the cursor can still return data.
    assert cursor.alive


async def test_fetch_next_then_to_list_keeps_fetched_document(coll: Any) -> None:
    await insert_range(coll, 3)
    cursor = coll.find().sort("_id")
    with pytest.warns(DeprecationWarning):
        assert await cursor.fetch_next
    assert [d["_id"] for d in await cursor.to_list(None)] == [0, 1, 2]


@pytest.mark.asyncio_api
async def test_each_visits_every_document(coll: Any) -> None:
    await insert_range(coll, 5)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[Any]] = loop.create_future()
    seen: list[Any] = []

    def callback(doc: Any, error: Exception | None) -> None:
        if error is not None:
            done.set_exception(error)
        elif doc is None:
            done.set_result(seen)
        else:
            seen.append(doc["_id"])

    coll.find().sort("_id").batch_size(2).each(callback)
    assert await asyncio.wait_for(done, 10) == list(range(5))


@pytest.mark.asyncio_api
async def test_each_stops_when_callback_returns_false(coll: Any) -> None:
    await insert_range(coll, 5)
    seen: list[Any] = []
    stopped = asyncio.Event()

    def callback(doc: Any, error: Exception | None) -> bool:
        seen.append(doc)
        if len(seen) == 2:
            stopped.set()
            return False
        return True

    coll.find().sort("_id").each(callback)
    await asyncio.wait_for(stopped.wait(), 10)
    await asyncio.sleep(0.1)
    assert [d["_id"] for d in seen] == [0, 1]


async def test_each_requires_callable(coll: Any) -> None:
    with pytest.raises(TypeError, match="callback must be a callable"):
        coll.find().each(None)


# ---------------------------------------------------------------------------------------------
# Command cursors
# ---------------------------------------------------------------------------------------------


async def test_aggregate_returns_latent_cursor_without_io(flavor: Flavor, coll: Any) -> None:
    cursor = coll.aggregate([{"$match": {}}])
    assert type(cursor) is flavor.cls("LatentCommandCursor")
    assert cursor.cursor_id is None
    assert cursor.alive


async def test_aggregate_async_for(coll: Any) -> None:
    await insert_range(coll, 7)
    pipeline = [{"$match": {"x": {"$gte": 2}}}, {"$sort": {"x": -1}}, {"$project": {"_id": 0}}]
    docs = [doc async for doc in coll.aggregate(pipeline).batch_size(2)]
    assert docs == [{"x": x} for x in range(6, 1, -1)]


async def test_aggregate_to_list_in_successive_calls(coll: Any) -> None:
    await insert_range(coll, 7)
    cursor = coll.aggregate([{"$sort": {"_id": 1}}], batchSize=2)
    chunks = [[d["_id"] for d in await cursor.to_list(3)] for _ in range(4)]
    assert chunks == [[0, 1, 2], [3, 4, 5], [6], []]


async def test_aggregate_to_list_length_checked_at_call(coll: Any) -> None:
    cursor = coll.aggregate([])
    with pytest.raises(ValueError):
        cursor.to_list(-1)
    with pytest.raises(TypeError):
        cursor.to_list("all")


async def test_aggregate_next_and_try_next(coll: Any) -> None:
    await insert_range(coll, 3)
    cursor = coll.aggregate([{"$sort": {"_id": 1}}]).batch_size(2)
    assert (await cursor.next())["_id"] == 0
    assert (await cursor.try_next())["_id"] == 1
    assert (await cursor.next())["_id"] == 2
    assert await cursor.try_next() is None
    with pytest.raises(StopAsyncIteration):
        await cursor.next()
    assert not cursor.alive


async def test_aggregate_batch_size_sets_batches(coll: Any) -> None:
    await insert_range(coll, 7)
    cursor = coll.aggregate([]).batch_size(2)
    await cursor.next()
    assert cursor.cursor_id
    assert cursor.alive
    await cursor.close()


@pytest.mark.parametrize("value", ["2", 2.0])
async def test_aggregate_batch_size_type_checked(coll: Any, value: Any) -> None:
    with pytest.raises(TypeError):
        coll.aggregate([]).batch_size(value)


async def test_aggregate_close(sync_client: MongoClient[Any], coll: Any) -> None:
    await insert_range(coll, 7)
    cursor = coll.aggregate([]).batch_size(2)
    await cursor.to_list(2)
    cursor_id = cursor.cursor_id
    assert cursor_id
    await cursor.close()
    assert not cursor.alive
    assert killed_on_server(sync_client, coll, cursor_id)


async def test_aggregate_close_before_use(coll: Any) -> None:
    await insert_range(coll, 3)
    cursor = coll.aggregate([])
    await cursor.close()
    assert not cursor.alive
    assert await cursor.to_list(None) == []
    with pytest.raises(StopAsyncIteration):
        await cursor.next()


async def test_aggregate_async_with(coll: Any) -> None:
    await insert_range(coll, 5)
    async with coll.aggregate([]).batch_size(2) as cursor:
        await cursor.to_list(2)
    assert not cursor.alive


async def test_aggregate_wrong_argument_name_raises_at_call(coll: Any) -> None:
    with pytest.raises(TypeError):
        coll.aggregate(pipline=[])


async def test_aggregate_bad_pipeline_raises_on_iteration(coll: Any) -> None:
    cursor = coll.aggregate([{"$notAStage": {}}])
    with pytest.raises(OperationFailure):
        await cursor.to_list(None)


async def test_aggregate_with_session(client: Any, coll: Any) -> None:
    await insert_range(coll, 2)
    async with await client.start_session() as session:
        cursor = coll.aggregate([], session=session)
        assert cursor.session is session.delegate
        assert len(await cursor.to_list(None)) == 2
        assert cursor.session is session.delegate


async def test_database_aggregate(flavor: Flavor, client: Any) -> None:
    cursor = client.admin.aggregate([{"$currentOp": {}}, {"$limit": 1}])
    assert type(cursor) is flavor.cls("LatentCommandCursor")
    assert len(await cursor.to_list(None)) == 1


async def test_aggregate_raw_batches(coll: Any) -> None:
    await insert_range(coll, 3)
    batches = await coll.aggregate_raw_batches([{"$sort": {"_id": 1}}]).to_list(None)
    assert [d["_id"] for batch in batches for d in bson.decode_all(batch)] == [0, 1, 2]


async def test_list_indexes(flavor: Flavor, coll: Any) -> None:
    await coll.create_index("x", name="x_1")
    cursor = coll.list_indexes()
    assert type(cursor) is flavor.cls("LatentCommandCursor")
    names = sorted([index["name"] async for index in cursor])
    assert names == ["_id_", "x_1"]


async def test_list_collections_returns_command_cursor(flavor: Flavor, db: Any, coll: Any) -> None:
    await coll.insert_one({})
    cursor = await db.list_collections(filter={"name": coll.name})
    assert type(cursor) is flavor.cls("CommandCursor")
    assert [info["name"] async for info in cursor] == [coll.name]
    assert not cursor.alive


async def test_command_cursor_to_list_next_try_next(db: Any, coll: Any) -> None:
    for name in ("a", "b", "c"):
        await db[f"{coll.name}_{name}"].insert_one({})
    try:
        cursor = await db.list_collections(filter={"name": {"$regex": f"^{coll.name}_"}}, batchSize=1)
        first = await cursor.next()
        second = await cursor.try_next()
        rest = await cursor.to_list(None)
        names = sorted(info["name"] for info in [first, second, *rest])
        assert names == [f"{coll.name}_{name}" for name in ("a", "b", "c")]
        with pytest.raises(StopAsyncIteration):
            await cursor.next()
    finally:
        for name in ("a", "b", "c"):
            await db.drop_collection(f"{coll.name}_{name}")


async def test_list_databases_command_cursor(flavor: Flavor, client: Any, coll: Any) -> None:
    await coll.insert_one({})
    cursor = await client.list_databases()
    assert type(cursor) is flavor.cls("CommandCursor")
    assert DB_NAME in [info["name"] async for info in cursor]


async def test_command_cursor_legacy_fetch_next(coll: Any) -> None:
    await insert_range(coll, 3)
    cursor = coll.aggregate([{"$sort": {"_id": 1}}]).batch_size(2)
    seen = []
    with pytest.warns(DeprecationWarning):
        while await cursor.fetch_next:
            seen.append(cursor.next_object()["_id"])
    assert seen == [0, 1, 2]


async def test_copy_and_deepcopy_clone_the_cursor(flavor: Flavor, coll: Any) -> None:
    await coll.insert_many([{"_id": i, "pattern": re.compile("a.*b")} for i in range(3)])
    cursor = coll.find({"pattern": {"$exists": True}}).sort("_id").limit(2)
    await cursor.next()
    for duplicate in (copy.copy(cursor), copy.deepcopy(cursor)):
        assert isinstance(duplicate, flavor.cls("Cursor")) and duplicate is not cursor
        # A copy starts over, with the original's options.
        assert [d["_id"] for d in await duplicate.to_list()] == [0, 1]


# ---------------------------------------------------------------------------------------------
# Reliability: cancellation, legacy callbacks, concurrent calls
# ---------------------------------------------------------------------------------------------


class GetMoreCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.get_mores = 0
        self.killed: list[int] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "getMore":
            self.get_mores += 1
        elif event.command_name == "killCursors":
            self.killed.extend(event.command["cursors"])

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.mark.asyncio_api
async def test_cancelled_to_list_stops_at_the_next_batch_and_kills_the_cursor(
    flavor: Flavor, mongodb_uri: str, coll: Any
) -> None:
    await coll.insert_many([{"_id": i} for i in range(2000)])
    counter = GetMoreCounter()
    client = flavor.Client(mongodb_uri, event_listeners=[counter])
    try:
        cursor = client[DB_NAME][coll.name].find().batch_size(1)
        task = asyncio.ensure_future(cursor.to_list(None))
        while counter.get_mores < 5:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        at_cancel = counter.get_mores
        cursor_id = cursor.cursor_id
        for _ in range(100):
            if cursor_id in counter.killed:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        # The getMore running when the caller left may finish; no other starts.
        assert counter.get_mores - at_cancel <= 1
        assert counter.killed == [cursor_id]
    finally:
        await client.aclose()


@pytest.mark.asyncio_api
async def test_each_calls_a_raising_callback_once_and_reports_its_error(coll: Any) -> None:
    await insert_range(coll, 3)
    loop = asyncio.get_running_loop()
    reported: asyncio.Future[dict[str, Any]] = loop.create_future()
    calls: list[tuple[Any, Exception | None]] = []

    def callback(doc: Any, error: Exception | None) -> None:
        calls.append((doc, error))
        raise RuntimeError("callback failed")

    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: reported.done() or reported.set_result(context))
    try:
        coll.find().sort("_id").each(callback)
        context = await asyncio.wait_for(reported, 10)
        await asyncio.sleep(0.1)
    finally:
        loop.set_exception_handler(previous)
    assert calls == [({"_id": 0, "x": 0}, None)]
    assert str(context["exception"]) == "callback failed"


async def test_concurrent_next_returns_each_document_once(flavor: Flavor, coll: Any) -> None:
    await insert_range(coll, 200)
    for batch_size in (1, 7):
        cursor = coll.find().batch_size(batch_size)
        documents = await flavor.gather(*(cursor.next() for _ in range(200)))
        assert sorted(d["_id"] for d in documents) == list(range(200))
        with pytest.raises(StopAsyncIteration):
            await cursor.next()
