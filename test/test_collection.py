"""Behaviour of the collection classes of every framework against a real server."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import bson
import pytest
from bson import SON, ObjectId
from bson.codec_options import CodecOptions
from pymongo import (
    ASCENDING,
    DESCENDING,
    DeleteMany,
    DeleteOne,
    IndexModel,
    InsertOne,
    MongoClient,
    ReadPreference,
    ReplaceOne,
    ReturnDocument,
    UpdateMany,
    UpdateOne,
)
from pymongo.errors import (
    BulkWriteError,
    DuplicateKeyError,
    InvalidName,
    OperationFailure,
    ServerSelectionTimeoutError,
)
from pymongo.operations import SearchIndexModel
from pymongo.read_concern import ReadConcern
from pymongo.results import BulkWriteResult, DeleteResult, InsertManyResult, InsertOneResult, UpdateResult
from pymongo.write_concern import WriteConcern
from tornado import gen

from motor.testing import free_port
from test.support import DB_NAME, Flavor

pytestmark = pytest.mark.every_framework


def server_docs(sync_client: MongoClient[Any], coll: Any) -> list[dict[str, Any]]:
    """The collection's documents as the server has them, sorted by _id."""
    return list(sync_client[DB_NAME][coll.name].find().sort("_id"))


def supports_change_streams(sync_client: MongoClient[Any]) -> bool:
    hello = sync_client.admin.command("hello")
    return "setName" in hello or hello.get("msg") == "isdbgrid"


async def insert_numbers(coll: Any, n: int = 5) -> None:
    await coll.insert_many([{"_id": i, "x": i, "even": i % 2 == 0} for i in range(n)])


# -- attributes ---------------------------------------------------------------------------------


async def test_collection_attributes(flavor: Flavor, db: Any, coll: Any) -> None:
    assert type(coll) is flavor.cls("Collection")
    assert coll.database is db
    assert coll.full_name == f"{DB_NAME}.{coll.name}"
    assert coll.codec_options == db.codec_options
    assert coll.read_preference == db.read_preference
    assert coll.write_concern == db.write_concern
    assert coll.read_concern == db.read_concern
    assert coll.get_io_loop() is db.get_io_loop()


async def test_sub_collections(flavor: Flavor, coll: Any, sync_client: MongoClient[Any]) -> None:
    sub = coll.sub
    assert type(sub) is flavor.cls("Collection")
    assert sub.name == f"{coll.name}.sub"
    assert sub.full_name == f"{DB_NAME}.{coll.name}.sub"
    assert sub.database is coll.database
    assert coll["sub"] == sub
    assert coll.sub.deeper.name == f"{coll.name}.sub.deeper"
    await sub.drop()
    await sub.insert_one({"_id": 1})
    assert sync_client[DB_NAME][f"{coll.name}.sub"].find_one() == {"_id": 1}
    await sub.drop()


async def test_sub_collection_keeps_options(coll: Any) -> None:
    wc = WriteConcern(w=1, j=True)
    assert coll.with_options(write_concern=wc).sub.write_concern == wc


async def test_pymongo_names_are_not_sub_collections(flavor: Flavor, coll: Any) -> None:
    # Collection.next is PyMongo's "not iterable" guard; it must not become a sub-collection.
    with pytest.raises(AttributeError):
        coll.next
    with pytest.raises(AttributeError):
        coll._private
    assert coll["next"].name == f"{coll.name}.next"
    assert not isinstance(coll.find_one, flavor.cls("Collection"))


async def test_not_iterable(coll: Any) -> None:
    # As in PyMongo; next() stops the test from looping forever if iteration is allowed.
    with pytest.raises(TypeError):
        next(iter(coll))


async def test_bool_is_refused(coll: Any) -> None:
    with pytest.raises(NotImplementedError):
        bool(coll)


async def test_with_options(flavor: Flavor, coll: Any) -> None:
    other = coll.with_options(
        codec_options=CodecOptions(tz_aware=True),
        read_preference=ReadPreference.SECONDARY_PREFERRED,
        write_concern=WriteConcern(w="majority"),
        read_concern=ReadConcern("majority"),
    )
    assert type(other) is flavor.cls("Collection")
    assert other.database is coll.database
    assert other.full_name == coll.full_name
    assert other.codec_options.tz_aware is True
    assert other.read_preference == ReadPreference.SECONDARY_PREFERRED
    assert other.write_concern == WriteConcern(w="majority")
    assert other.read_concern == ReadConcern("majority")
    assert coll.write_concern == coll.database.write_concern
    assert coll.read_preference == ReadPreference.PRIMARY


async def test_with_options_take_effect(coll: Any) -> None:
    await coll.insert_one({"_id": 1, "when": datetime.datetime(2024, 1, 2, 3, 4, 5)})
    aware = await coll.with_options(codec_options=CodecOptions(tz_aware=True)).find_one()
    assert aware["when"].tzinfo is not None
    naive = await coll.find_one()
    assert naive["when"].tzinfo is None
    result = await coll.with_options(write_concern=WriteConcern(w=0)).insert_one({"_id": 2})
    assert result.acknowledged is False


async def test_wrap(flavor: Flavor, coll: Any) -> None:
    wrapped = coll.wrap(coll.delegate.database[f"{coll.name}_wrapped"])
    assert type(wrapped) is flavor.cls("Collection")
    assert wrapped.database is coll.database
    assert wrapped.name == f"{coll.name}_wrapped"
    await coll.insert_many([{"_id": 1}, {"_id": 2}])
    cursor = coll.wrap(coll.delegate.find({"_id": 2}))
    assert type(cursor) is flavor.cls("Cursor")
    assert cursor.collection is coll
    assert await cursor.to_list() == [{"_id": 2}]


# -- awaitables --------------------------------------------------------------------------------


@pytest.mark.asyncio_api
async def test_awaitable_methods_return_running_futures(coll: Any, sync_client: MongoClient[Any]) -> None:
    # A Future (Motor 3 and Tornado code rely on it), and the operation starts without an await.
    future = coll.insert_one({"_id": 1})
    assert isinstance(future, asyncio.Future)
    for _ in range(500):
        if future.done():
            break
        await asyncio.sleep(0.01)
    assert future.done()
    assert future.result().inserted_id == 1
    assert server_docs(sync_client, coll) == [{"_id": 1}]


async def test_gather(flavor: Flavor, coll: Any) -> None:
    results = await flavor.gather(*(coll.insert_one({"_id": i}) for i in range(10)))
    assert sorted(r.inserted_id for r in results) == list(range(10))
    assert await coll.count_documents({}) == 10


@pytest.mark.asyncio_api
async def test_tornado_gen_coroutine(coll: Any) -> None:
    @gen.coroutine
    def legacy() -> Any:
        yield coll.insert_one({"_id": 1})
        doc = yield coll.find_one({"_id": 1})
        return doc

    assert await legacy() == {"_id": 1}


async def test_misspelled_method_is_not_callable(coll: Any) -> None:
    with pytest.raises(TypeError):
        coll.find_onee({})


# -- inserts ------------------------------------------------------------------------------------


async def test_insert_one(coll: Any, sync_client: MongoClient[Any]) -> None:
    doc: dict[str, Any] = {"x": 1}
    result = await coll.insert_one(doc)
    assert isinstance(result, InsertOneResult)
    assert result.acknowledged
    assert isinstance(result.inserted_id, ObjectId)
    assert doc["_id"] == result.inserted_id  # PyMongo adds the _id to the caller's document
    assert server_docs(sync_client, coll) == [{"_id": result.inserted_id, "x": 1}]
    result = await coll.insert_one({"_id": "mine"})
    assert result.inserted_id == "mine"


async def test_insert_one_duplicate_key(coll: Any) -> None:
    await coll.insert_one({"_id": 1})
    with pytest.raises(DuplicateKeyError):
        await coll.insert_one({"_id": 1})


async def test_insert_one_refuses_non_document(coll: Any) -> None:
    with pytest.raises(TypeError):
        await coll.insert_one("not a document")


async def test_insert_many(coll: Any, sync_client: MongoClient[Any]) -> None:
    result = await coll.insert_many([{"_id": i} for i in range(3)] + [{"y": 1}])
    assert isinstance(result, InsertManyResult)
    assert result.inserted_ids[:3] == [0, 1, 2]
    assert isinstance(result.inserted_ids[3], ObjectId)
    assert len(server_docs(sync_client, coll)) == 4


async def test_insert_many_ordered_stops_at_error(coll: Any, sync_client: MongoClient[Any]) -> None:
    with pytest.raises(BulkWriteError) as info:
        await coll.insert_many([{"_id": 1}, {"_id": 1}, {"_id": 2}])
    assert info.value.details["nInserted"] == 1
    assert info.value.details["writeErrors"][0]["index"] == 1
    assert [d["_id"] for d in server_docs(sync_client, coll)] == [1]


async def test_insert_many_unordered_continues(coll: Any, sync_client: MongoClient[Any]) -> None:
    with pytest.raises(BulkWriteError) as info:
        await coll.insert_many([{"_id": 1}, {"_id": 1}, {"_id": 2}], ordered=False)
    assert info.value.details["nInserted"] == 2
    assert [d["_id"] for d in server_docs(sync_client, coll)] == [1, 2]


# -- reads --------------------------------------------------------------------------------------


async def test_find_one(coll: Any) -> None:
    await insert_numbers(coll)
    assert await coll.find_one({"x": 3}) == {"_id": 3, "x": 3, "even": False}
    assert await coll.find_one(4) == {"_id": 4, "x": 4, "even": True}  # a bare value means _id
    assert await coll.find_one({"x": 3}, {"_id": 0, "x": 1}) == {"x": 3}
    assert await coll.find_one({}, sort=[("x", DESCENDING)]) == {"_id": 4, "x": 4, "even": True}
    assert await coll.find_one({"x": 99}) is None


async def test_find(flavor: Flavor, coll: Any) -> None:
    await insert_numbers(coll)
    cursor = coll.find({"even": True})
    assert type(cursor) is flavor.cls("Cursor")
    assert cursor.collection is coll
    assert sorted([doc["_id"] async for doc in cursor]) == [0, 2, 4]
    docs = (
        await coll.find({"x": {"$gte": 1}}, {"_id": 0, "x": 1})
        .sort("x", DESCENDING)
        .skip(1)
        .limit(2)
        .to_list()
    )
    assert docs == [{"x": 3}, {"x": 2}]
    docs = await coll.find(projection={"even": False}, sort=[("_id", ASCENDING)], limit=2).to_list()
    assert docs == [{"_id": 0, "x": 0}, {"_id": 1, "x": 1}]


async def test_find_without_await_does_no_io(flavor: Flavor) -> None:
    client = flavor.Client(f"mongodb://127.0.0.1:{free_port()}/", connect=False, serverSelectionTimeoutMS=200)
    try:
        coll = client[DB_NAME].unreachable
        cursors = [coll.find(), coll.find_raw_batches(), coll.aggregate([]), coll.list_indexes()]
        for cursor in cursors:
            with pytest.raises(ServerSelectionTimeoutError):
                await cursor.to_list()
    finally:
        await client.aclose()


async def test_find_raw_batches(flavor: Flavor, coll: Any) -> None:
    await insert_numbers(coll)
    cursor = coll.find_raw_batches({"x": {"$lt": 4}}, sort=[("_id", ASCENDING)], batch_size=2)
    assert type(cursor) is flavor.cls("RawBatchCursor")
    batches = [batch async for batch in cursor]
    assert all(isinstance(batch, bytes) for batch in batches)
    assert len(batches) >= 2
    docs = [doc for batch in batches for doc in bson.decode_all(batch)]
    assert [doc["_id"] for doc in docs] == [0, 1, 2, 3]


async def test_count_documents(coll: Any) -> None:
    assert await coll.count_documents({}) == 0
    await insert_numbers(coll)
    assert await coll.count_documents({}) == 5
    assert await coll.count_documents({"even": True}) == 3
    assert await coll.count_documents({}, skip=1, limit=3) == 3
    assert await coll.count_documents({"x": {"$gt": 100}}) == 0


async def test_estimated_document_count(coll: Any) -> None:
    assert await coll.estimated_document_count() == 0
    await insert_numbers(coll, 7)
    assert await coll.estimated_document_count() == 7


async def test_distinct(coll: Any) -> None:
    await coll.insert_many([{"k": "a", "n": 1}, {"k": "b", "n": 2}, {"k": "a", "n": 3}, {"n": 4}])
    assert sorted(await coll.distinct("k")) == ["a", "b"]
    assert await coll.distinct("k", {"n": {"$gt": 2}}) == ["a"]
    assert await coll.distinct("missing") == []


# -- updates, replaces, deletes -----------------------------------------------------------------


async def test_update_one(coll: Any, sync_client: MongoClient[Any]) -> None:
    await insert_numbers(coll, 3)
    result = await coll.update_one({"even": True, "_id": {"$gt": 0}}, {"$inc": {"x": 10}})
    assert isinstance(result, UpdateResult)
    assert (result.matched_count, result.modified_count, result.upserted_id) == (1, 1, None)
    assert [d["x"] for d in server_docs(sync_client, coll)] == [0, 1, 12]


async def test_update_one_upsert(coll: Any, sync_client: MongoClient[Any]) -> None:
    result = await coll.update_one({"_id": "new"}, {"$set": {"y": 1}}, upsert=True)
    assert (result.matched_count, result.modified_count, result.upserted_id) == (0, 0, "new")
    assert server_docs(sync_client, coll) == [{"_id": "new", "y": 1}]


async def test_update_one_refuses_replacement(coll: Any) -> None:
    with pytest.raises(ValueError):
        await coll.update_one({}, {"no_operator": 1})


async def test_update_many(coll: Any, sync_client: MongoClient[Any]) -> None:
    await insert_numbers(coll)
    result = await coll.update_many({"even": True}, {"$set": {"tag": "e"}})
    assert (result.matched_count, result.modified_count) == (3, 3)
    assert [d["_id"] for d in sync_client[DB_NAME][coll.name].find({"tag": "e"})] == [0, 2, 4]
    result = await coll.update_many({"x": {"$gt": 100}}, {"$set": {"tag": "big"}})
    assert (result.matched_count, result.modified_count) == (0, 0)


async def test_update_many_with_array_filters(coll: Any, sync_client: MongoClient[Any]) -> None:
    await coll.insert_one({"_id": 1, "a": [1, 5, 10]})
    await coll.update_many({}, {"$set": {"a.$[big]": 0}}, array_filters=[{"big": {"$gte": 5}}])
    assert server_docs(sync_client, coll) == [{"_id": 1, "a": [1, 0, 0]}]


async def test_replace_one(coll: Any, sync_client: MongoClient[Any]) -> None:
    await insert_numbers(coll, 2)
    result = await coll.replace_one({"_id": 1}, {"replaced": True})
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert server_docs(sync_client, coll)[1] == {"_id": 1, "replaced": True}
    result = await coll.replace_one({"_id": 9}, {"new": True}, upsert=True)
    assert result.upserted_id == 9
    with pytest.raises(ValueError):
        await coll.replace_one({}, {"$set": {"x": 1}})


async def test_delete_one(coll: Any, sync_client: MongoClient[Any]) -> None:
    await insert_numbers(coll, 3)
    result = await coll.delete_one({"even": True})
    assert isinstance(result, DeleteResult)
    assert result.deleted_count == 1
    assert len(server_docs(sync_client, coll)) == 2
    assert (await coll.delete_one({"x": 99})).deleted_count == 0


async def test_delete_many(coll: Any, sync_client: MongoClient[Any]) -> None:
    await insert_numbers(coll)
    result = await coll.delete_many({"even": True})
    assert result.deleted_count == 3
    assert [d["_id"] for d in server_docs(sync_client, coll)] == [1, 3]
    assert (await coll.delete_many({})).deleted_count == 2
    assert server_docs(sync_client, coll) == []


# -- find_one_and_* -----------------------------------------------------------------------------


async def test_find_one_and_update(coll: Any, sync_client: MongoClient[Any]) -> None:
    await coll.insert_one({"_id": 1, "n": 0})
    before = await coll.find_one_and_update({"_id": 1}, {"$inc": {"n": 1}})
    assert before == {"_id": 1, "n": 0}
    after = await coll.find_one_and_update(
        {"_id": 1}, {"$inc": {"n": 1}}, projection={"_id": 0}, return_document=ReturnDocument.AFTER
    )
    assert after == {"n": 2}
    assert server_docs(sync_client, coll) == [{"_id": 1, "n": 2}]
    assert await coll.find_one_and_update({"_id": 2}, {"$set": {"n": 0}}) is None
    upserted = await coll.find_one_and_update(
        {"_id": 2}, {"$set": {"n": 5}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    assert upserted == {"_id": 2, "n": 5}


async def test_find_one_and_replace(coll: Any, sync_client: MongoClient[Any]) -> None:
    await insert_numbers(coll, 3)
    before = await coll.find_one_and_replace({"even": True}, {"r": 1}, sort=[("_id", DESCENDING)])
    assert before == {"_id": 2, "x": 2, "even": True}
    after = await coll.find_one_and_replace({"_id": 0}, {"r": 2}, return_document=ReturnDocument.AFTER)
    assert after == {"_id": 0, "r": 2}
    assert server_docs(sync_client, coll) == [
        {"_id": 0, "r": 2},
        {"_id": 1, "x": 1, "even": False},
        {"_id": 2, "r": 1},
    ]


async def test_find_one_and_delete(coll: Any, sync_client: MongoClient[Any]) -> None:
    await insert_numbers(coll, 3)
    deleted = await coll.find_one_and_delete({}, sort=[("x", DESCENDING)], projection={"x": 1})
    assert deleted == {"_id": 2, "x": 2}
    assert [d["_id"] for d in server_docs(sync_client, coll)] == [0, 1]
    assert await coll.find_one_and_delete({"_id": 99}) is None


# -- bulk_write ---------------------------------------------------------------------------------


async def test_bulk_write(coll: Any, sync_client: MongoClient[Any]) -> None:
    await insert_numbers(coll, 4)
    result = await coll.bulk_write(
        [
            InsertOne({"_id": 10}),
            UpdateOne({"_id": 0}, {"$set": {"x": 100}}),
            UpdateMany({"even": False}, {"$set": {"odd": True}}),
            UpdateOne({"_id": 20}, {"$set": {"x": 20}}, upsert=True),
            ReplaceOne({"_id": 2}, {"replaced": True}),
            DeleteOne({"_id": 10}),
            DeleteMany({"odd": True}),
        ]
    )
    assert isinstance(result, BulkWriteResult)
    assert result.acknowledged
    assert result.inserted_count == 1
    assert result.matched_count == 4
    assert result.modified_count == 4
    assert result.upserted_count == 1
    assert result.upserted_ids == {3: 20}
    assert result.deleted_count == 3
    assert server_docs(sync_client, coll) == [
        {"_id": 0, "x": 100, "even": True},
        {"_id": 2, "replaced": True},
        {"_id": 20, "x": 20},
    ]


async def test_bulk_write_ordered_error(coll: Any, sync_client: MongoClient[Any]) -> None:
    with pytest.raises(BulkWriteError) as info:
        await coll.bulk_write([InsertOne({"_id": 1}), InsertOne({"_id": 1}), InsertOne({"_id": 2})])
    assert info.value.details["nInserted"] == 1
    assert info.value.details["writeErrors"][0]["code"] == 11000
    assert [d["_id"] for d in server_docs(sync_client, coll)] == [1]


async def test_bulk_write_unordered_error(coll: Any, sync_client: MongoClient[Any]) -> None:
    with pytest.raises(BulkWriteError) as info:
        await coll.bulk_write(
            [InsertOne({"_id": 1}), InsertOne({"_id": 1}), InsertOne({"_id": 2})], ordered=False
        )
    assert info.value.details["nInserted"] == 2
    assert [d["_id"] for d in server_docs(sync_client, coll)] == [1, 2]


async def test_bulk_write_refuses_bad_requests(coll: Any) -> None:
    with pytest.raises(TypeError):
        await coll.bulk_write([{"insertOne": {"document": {}}}])


# -- aggregation --------------------------------------------------------------------------------


async def test_aggregate(flavor: Flavor, coll: Any) -> None:
    await insert_numbers(coll)
    cursor = coll.aggregate([{"$group": {"_id": "$even", "total": {"$sum": "$x"}}}, {"$sort": {"_id": 1}}])
    assert type(cursor) is flavor.cls("LatentCommandCursor")
    assert [doc async for doc in cursor] == [{"_id": False, "total": 4}, {"_id": True, "total": 6}]
    docs = await coll.aggregate([{"$match": {"x": {"$gte": 3}}}, {"$sort": {"x": -1}}], batchSize=1).to_list()
    assert [doc["x"] for doc in docs] == [4, 3]


async def test_aggregate_error_surfaces_on_iteration(coll: Any) -> None:
    cursor = coll.aggregate([{"$noSuchStageForMotorTests": {}}])
    with pytest.raises(OperationFailure):
        await cursor.to_list()


async def test_aggregate_raw_batches(coll: Any) -> None:
    await insert_numbers(coll)
    cursor = coll.aggregate_raw_batches([{"$match": {"even": True}}, {"$sort": {"_id": 1}}])
    batches = await cursor.to_list()
    assert batches
    assert all(isinstance(batch, bytes) for batch in batches)
    docs = [doc for batch in batches for doc in bson.decode_all(batch)]
    assert [doc["_id"] for doc in docs] == [0, 2, 4]


# -- indexes ------------------------------------------------------------------------------------


async def test_create_index(coll: Any, sync_client: MongoClient[Any]) -> None:
    assert await coll.create_index([("a", ASCENDING)], unique=True) == "a_1"
    assert await coll.create_index("b") == "b_1"
    assert await coll.create_index([("c", DESCENDING), ("d", ASCENDING)], name="cd") == "cd"
    info = sync_client[DB_NAME][coll.name].index_information()
    assert set(info) == {"_id_", "a_1", "b_1", "cd"}
    assert info["a_1"]["unique"] is True
    await coll.insert_one({"a": 1})
    with pytest.raises(DuplicateKeyError):
        await coll.insert_one({"a": 1})


async def test_create_indexes(coll: Any, sync_client: MongoClient[Any]) -> None:
    names = await coll.create_indexes(
        [IndexModel([("a", ASCENDING)]), IndexModel([("b", DESCENDING)], name="b_desc", sparse=True)]
    )
    assert names == ["a_1", "b_desc"]
    info = sync_client[DB_NAME][coll.name].index_information()
    assert info["b_desc"]["key"] == [("b", -1)]
    assert info["b_desc"]["sparse"] is True


async def test_index_information(coll: Any) -> None:
    await coll.create_index([("a", ASCENDING), ("b", DESCENDING)])
    info = await coll.index_information()
    assert set(info) == {"_id_", "a_1_b_-1"}
    assert info["a_1_b_-1"]["key"] == [("a", 1), ("b", -1)]


async def test_indexes_of_missing_collection(coll: Any) -> None:
    assert await coll.list_indexes().to_list() == []
    assert await coll.index_information() == {}


async def test_list_indexes(flavor: Flavor, coll: Any) -> None:
    await coll.create_index("a")
    cursor = coll.list_indexes()
    assert type(cursor) is flavor.cls("LatentCommandCursor")
    assert sorted([index["name"] async for index in cursor]) == ["_id_", "a_1"]
    indexes = await coll.list_indexes().to_list()
    assert {index["name"]: index["key"] for index in indexes} == {"_id_": {"_id": 1}, "a_1": {"a": 1}}


async def test_list_indexes_batch_size(coll: Any) -> None:
    await coll.create_indexes([IndexModel("a"), IndexModel("b")])
    indexes = await coll.list_indexes().batch_size(1).to_list()
    assert sorted(index["name"] for index in indexes) == ["_id_", "a_1", "b_1"]


async def test_drop_index(coll: Any, sync_client: MongoClient[Any]) -> None:
    await coll.create_indexes([IndexModel("a"), IndexModel("b"), IndexModel("c")])
    assert await coll.drop_index("a_1") is None
    await coll.drop_index([("b", ASCENDING)])
    assert set(sync_client[DB_NAME][coll.name].index_information()) == {"_id_", "c_1"}
    with pytest.raises(TypeError):
        await coll.drop_index(IndexModel("c"))
    with pytest.raises(OperationFailure):
        await coll.drop_index("no_such_index")


async def test_drop_indexes(coll: Any, sync_client: MongoClient[Any]) -> None:
    await coll.create_indexes([IndexModel("a"), IndexModel("b")])
    assert await coll.drop_indexes() is None
    assert set(sync_client[DB_NAME][coll.name].index_information()) == {"_id_"}


# Atlas Search indexes need Atlas (or mongot); SecantusDB and a plain mongod refuse these commands.


async def test_create_search_index(coll: Any) -> None:
    await coll.insert_one({})
    with pytest.raises(OperationFailure):
        await coll.create_search_index({"definition": {"mappings": {"dynamic": True}}, "name": "s"})


async def test_create_search_indexes(coll: Any) -> None:
    await coll.insert_one({})
    with pytest.raises(OperationFailure):
        await coll.create_search_indexes([SearchIndexModel({"mappings": {"dynamic": True}}, name="s")])


async def test_update_search_index(coll: Any) -> None:
    await coll.insert_one({})
    with pytest.raises(OperationFailure):
        await coll.update_search_index("s", {"mappings": {"dynamic": False}})


async def test_drop_search_index(coll: Any) -> None:
    await coll.insert_one({})
    with pytest.raises(OperationFailure):
        await coll.drop_search_index("s")


async def test_list_search_indexes(flavor: Flavor, coll: Any) -> None:
    await coll.insert_one({})
    cursor = coll.list_search_indexes()
    assert type(cursor) is flavor.cls("LatentCommandCursor")
    with pytest.raises(OperationFailure):
        await cursor.to_list()


# -- collection management ----------------------------------------------------------------------


async def test_rename(coll: Any, sync_client: MongoClient[Any]) -> None:
    target = f"{coll.name}_renamed"
    await coll.database.drop_collection(target)
    await coll.insert_one({"_id": 1})
    result = await coll.rename(target)
    assert result["ok"] == 1
    names = sync_client[DB_NAME].list_collection_names()
    assert target in names
    assert coll.name not in names
    assert await coll.database[target].find_one() == {"_id": 1}
    await coll.database.drop_collection(target)


async def test_rename_onto_existing(coll: Any, sync_client: MongoClient[Any]) -> None:
    target = coll.database[f"{coll.name}_target"]
    await target.drop()
    await target.insert_one({"_id": "old"})
    await coll.insert_one({"_id": "new"})
    with pytest.raises(OperationFailure):
        await coll.rename(target.name)
    await coll.rename(target.name, dropTarget=True)
    assert server_docs(sync_client, target) == [{"_id": "new"}]
    await target.drop()


async def test_rename_invalid_name(coll: Any) -> None:
    with pytest.raises(InvalidName):
        await coll.rename("$bad")


async def test_options(coll: Any) -> None:
    assert await coll.options() == {}
    await coll.database.create_collection(coll.name, capped=True, size=4096)
    options = await coll.options()
    assert options["capped"] is True
    assert options["size"] >= 4096


async def test_drop(coll: Any, sync_client: MongoClient[Any]) -> None:
    await coll.insert_one({})
    assert coll.name in sync_client[DB_NAME].list_collection_names()
    assert await coll.drop() is None
    assert coll.name not in sync_client[DB_NAME].list_collection_names()
    await coll.drop()  # Dropping a missing collection is not an error.


async def test_watch(flavor: Flavor, coll: Any, sync_client: MongoClient[Any]) -> None:
    if not supports_change_streams(sync_client):
        pytest.skip("change streams need a replica set or a sharded cluster")
    stream = coll.watch([{"$match": {"operationType": "insert"}}], max_await_time_ms=500)
    assert type(stream) is flavor.cls("ChangeStream")
    async with stream:
        await coll.insert_one({"_id": 1, "x": 1})
        change = await stream.next()
    assert change["fullDocument"] == {"_id": 1, "x": 1}
    assert change["ns"] == {"db": DB_NAME, "coll": coll.name}


# -- sessions and documents ---------------------------------------------------------------------


async def test_operations_take_a_motor_session(client: Any, coll: Any) -> None:
    async with await client.start_session() as session:
        await coll.insert_one({"_id": 1}, session=session)
        await coll.update_one({"_id": 1}, {"$set": {"x": 1}}, session=session)
        assert await coll.count_documents({}, session=session) == 1
        assert await coll.find({}, session=session).to_list() == [{"_id": 1, "x": 1}]
        assert await coll.aggregate([], session=session).to_list() == [{"_id": 1, "x": 1}]
        assert await coll.find_one_and_delete({}, session=session) == {"_id": 1, "x": 1}


async def test_document_class_son(coll: Any) -> None:
    await coll.insert_one(SON([("_id", 1), ("z", 1), ("a", 1)]))
    son_coll = coll.with_options(codec_options=CodecOptions(document_class=SON))
    found = await son_coll.find_one()
    assert isinstance(found, SON)
    assert list(found) == ["_id", "z", "a"]
