"""Behaviour of the database classes (AsyncIOMotorDatabase, MotorDatabase) against a real server."""

from __future__ import annotations

from typing import Any

import pytest
from bson import SON, DBRef
from bson.codec_options import CodecOptions
from pymongo import MongoClient, ReadPreference
from pymongo.errors import CollectionInvalid, InvalidName, OperationFailure
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from test.support import ASYNCIO, DB_NAME, TORNADO, Flavor

pytestmark = pytest.mark.every_framework


def supports_change_streams(sync_client: MongoClient[Any]) -> bool:
    hello = sync_client.admin.command("hello")
    return "setName" in hello or hello.get("msg") == "isdbgrid"


async def test_database_class_and_owner(flavor: Flavor, client: Any, db: Any) -> None:
    assert type(db) is flavor.cls("Database")
    assert db.client is client
    assert db.name == DB_NAME
    assert db.get_io_loop() is flavor.current_loop()


async def test_collection_access(flavor: Flavor, db: Any) -> None:
    coll = db.some_collection
    assert type(coll) is flavor.cls("Collection")
    assert coll.name == "some_collection"
    assert coll.database is db
    assert db["some_collection"] == coll
    # "name" and "client" are the database's own attributes; item access reaches such collections.
    assert db.name == DB_NAME
    assert db["name"].full_name == f"{DB_NAME}.name"
    assert db["client"].full_name == f"{DB_NAME}.client"


async def test_pymongo_names_are_not_collections(flavor: Flavor, db: Any) -> None:
    # Database.next is PyMongo's "not iterable" guard; it must not become a collection.
    with pytest.raises(AttributeError):
        db.next
    with pytest.raises(AttributeError):
        db._private
    assert db["next"].name == "next"
    assert db["_private"].name == "_private"
    assert not isinstance(db.watch, flavor.cls("Collection"))
    assert not isinstance(db.command, flavor.cls("Collection"))


async def test_not_iterable(db: Any) -> None:
    # next() stops the test from looping forever if iteration is allowed.
    with pytest.raises(TypeError):
        next(iter(db))


async def test_bool_is_refused(db: Any) -> None:
    # As in PyMongo: "if db:" is a bug, compare with None.
    with pytest.raises(NotImplementedError):
        bool(db)


async def test_equality_and_hash(client: Any, db: Any) -> None:
    assert db == client[DB_NAME]
    assert hash(db) == hash(client[DB_NAME])
    assert db != client[f"{DB_NAME}_other"]
    assert db != client.delegate[DB_NAME]
    assert db.coll_a == db["coll_a"]
    assert hash(db.coll_a) == hash(db["coll_a"])
    assert db.coll_a != db.coll_b
    assert len({db.coll_a, db["coll_a"], db.coll_b}) == 2


async def test_direct_construction(flavor: Flavor, client: Any, coll: Any) -> None:
    # Motor 3 code builds databases and collections from the classes themselves.
    db = flavor.cls("Database")(client, DB_NAME, write_concern=WriteConcern(w=1, j=True))
    assert db.client is client
    assert db.write_concern == WriteConcern(w=1, j=True)
    direct = flavor.cls("Collection")(db, coll.name)
    assert direct.database is db
    assert direct.write_concern == WriteConcern(w=1, j=True)
    await direct.insert_one({"_id": 1})
    assert await coll.find_one() == {"_id": 1}
    with pytest.raises(TypeError):
        flavor.cls("Database")(client.delegate, DB_NAME)
    with pytest.raises(TypeError):
        flavor.cls("Collection")(client, coll.name)


async def test_direct_construction_with_options(
    flavor: Flavor, db: Any, coll: Any, sync_client: MongoClient[Any]
) -> None:
    direct = flavor.cls("Collection")(db, coll.name, codec_options=CodecOptions(tz_aware=True))
    assert direct.codec_options.tz_aware is True
    # Getting a collection object must not create it on the server.
    assert coll.name not in sync_client[DB_NAME].list_collection_names()
    direct = flavor.cls("Collection")(
        db,
        coll.name,
        read_preference=ReadPreference.NEAREST,
        write_concern=WriteConcern(w=1, j=True),
        read_concern=ReadConcern("local"),
    )
    assert direct.read_preference == ReadPreference.NEAREST
    assert direct.write_concern == WriteConcern(w=1, j=True)
    assert direct.read_concern == ReadConcern("local")


async def test_misspelled_method_is_not_callable(db: Any) -> None:
    # db.list_collection_namez is a collection; calling it must fail loudly.
    with pytest.raises(TypeError):
        db.list_collection_namez()


async def test_invalid_collection_name(db: Any) -> None:
    with pytest.raises(InvalidName):
        db["bad$name"]
    with pytest.raises(InvalidName):
        db[""]


# -- commands -----------------------------------------------------------------------------------


async def test_command(db: Any, coll: Any, sync_client: MongoClient[Any]) -> None:
    assert (await db.command("ping"))["ok"] == 1
    await coll.insert_many([{"x": i} for i in range(5)])
    result = await db.command("count", coll.name, query={"x": {"$gte": 2}})
    assert result["n"] == 3
    result = await db.command(SON([("count", coll.name), ("query", {"x": 0})]))
    assert result["n"] == 1
    info = await db.command("buildinfo")
    assert info["version"] == sync_client.server_info()["version"]


async def test_command_failure(db: Any) -> None:
    with pytest.raises(OperationFailure):
        await db.command("noSuchCommandForMotorTests")


async def test_command_with_session_and_codec_options(client: Any, db: Any) -> None:
    async with await client.start_session() as session:
        result = await db.command("ping", session=session, codec_options=CodecOptions(document_class=SON))
    assert isinstance(result, SON)
    assert result["ok"] == 1


async def test_cursor_command(flavor: Flavor, db: Any, coll: Any) -> None:
    await coll.insert_many([{"_id": i} for i in range(5)])
    cursor = await db.cursor_command("find", coll.name, filter={"_id": {"$gte": 2}}, sort={"_id": 1})
    assert type(cursor) is flavor.cls("CommandCursor")
    assert await cursor.to_list() == [{"_id": 2}, {"_id": 3}, {"_id": 4}]
    cursor = await db.cursor_command("find", coll.name, sort={"_id": -1}, batchSize=2)
    assert [doc["_id"] async for doc in cursor] == [4, 3, 2, 1, 0]


async def test_aggregate(flavor: Flavor, db: Any) -> None:
    cursor = db.aggregate([{"$documents": [{"x": 1}, {"x": 2}, {"x": 3}]}, {"$match": {"x": {"$gt": 1}}}])
    assert type(cursor) is flavor.cls("LatentCommandCursor")
    assert [doc async for doc in cursor] == [{"x": 2}, {"x": 3}]
    cursor = db.aggregate([{"$documents": [{"x": 1}]}, {"$project": {"y": "$x", "_id": 0}}])
    assert await cursor.to_list() == [{"y": 1}]


async def test_aggregate_error_surfaces_on_iteration(db: Any) -> None:
    cursor = db.aggregate([{"$noSuchStageForMotorTests": {}}])
    with pytest.raises(OperationFailure):
        await cursor.to_list()


# -- collections --------------------------------------------------------------------------------


async def test_create_collection(flavor: Flavor, db: Any, coll: Any, sync_client: MongoClient[Any]) -> None:
    created = await db.create_collection(coll.name, capped=True, size=4096)
    assert type(created) is flavor.cls("Collection")
    assert created.database is db
    assert created == coll
    assert coll.name in sync_client[DB_NAME].list_collection_names()
    assert (await created.options())["capped"] is True
    with pytest.raises(CollectionInvalid):
        await db.create_collection(coll.name)


async def test_create_collection_with_options(db: Any, coll: Any) -> None:
    wc = WriteConcern(w=1, j=True)
    created = await db.create_collection(coll.name, write_concern=wc)
    assert created.write_concern == wc


async def test_drop_collection_by_name(db: Any, coll: Any, sync_client: MongoClient[Any]) -> None:
    await coll.insert_one({})
    assert coll.name in sync_client[DB_NAME].list_collection_names()
    await db.drop_collection(coll.name)
    assert coll.name not in sync_client[DB_NAME].list_collection_names()


async def test_drop_collection_by_object(db: Any, coll: Any, sync_client: MongoClient[Any]) -> None:
    await coll.insert_one({})
    await db.drop_collection(coll)
    assert coll.name not in sync_client[DB_NAME].list_collection_names()


async def test_list_collection_names(db: Any, coll: Any, sync_client: MongoClient[Any]) -> None:
    await coll.insert_one({})
    names = await db.list_collection_names()
    assert coll.name in names
    assert await db.list_collection_names(filter={"name": coll.name}) == [coll.name]
    sync_client[DB_NAME].drop_collection(coll.name)
    assert coll.name not in await db.list_collection_names()


async def test_list_collections(flavor: Flavor, db: Any, coll: Any) -> None:
    await db.create_collection(coll.name, capped=True, size=4096)
    cursor = await db.list_collections()
    assert type(cursor) is flavor.cls("CommandCursor")
    assert coll.name in [info["name"] async for info in cursor]
    cursor = await db.list_collections(filter={"name": coll.name})
    infos = await cursor.to_list()
    assert [info["name"] for info in infos] == [coll.name]
    assert infos[0]["options"]["capped"] is True


@pytest.mark.parametrize("by", ["name", "object"])
async def test_validate_collection(db: Any, coll: Any, by: str) -> None:
    await coll.insert_many([{"x": i} for i in range(3)])
    result = await db.validate_collection(coll.name if by == "name" else coll)
    assert result["valid"] is True
    assert result["ns"] == coll.full_name


async def test_validate_missing_collection(db: Any, coll: Any) -> None:
    with pytest.raises(OperationFailure):
        await db.validate_collection(coll.name)


async def test_dereference(db: Any, coll: Any) -> None:
    result = await coll.insert_one({"x": 1})
    assert await db.dereference(DBRef(coll.name, result.inserted_id)) == {"_id": result.inserted_id, "x": 1}
    assert await db.dereference(DBRef(coll.name, result.inserted_id, DB_NAME)) is not None
    assert await db.dereference(DBRef(coll.name, "missing")) is None
    with pytest.raises(ValueError):
        await db.dereference(DBRef(coll.name, result.inserted_id, "another_database"))
    with pytest.raises(TypeError):
        await db.dereference({"$ref": coll.name, "$id": result.inserted_id})


async def test_get_collection(flavor: Flavor, db: Any) -> None:
    coll = db.get_collection("some_collection")
    assert type(coll) is flavor.cls("Collection")
    assert coll.database is db
    assert coll == db.some_collection
    custom = db.get_collection(
        "some_collection",
        codec_options=CodecOptions(tz_aware=True),
        read_preference=ReadPreference.NEAREST,
        write_concern=WriteConcern(w=1, j=True),
        read_concern=ReadConcern("local"),
    )
    assert type(custom) is flavor.cls("Collection")
    assert custom.codec_options.tz_aware is True
    assert custom.read_preference == ReadPreference.NEAREST
    assert custom.write_concern == WriteConcern(w=1, j=True)
    assert custom.read_concern == ReadConcern("local")
    assert db.some_collection.write_concern == db.write_concern


async def test_with_options(flavor: Flavor, client: Any, db: Any) -> None:
    other = db.with_options(
        codec_options=CodecOptions(tz_aware=True),
        read_preference=ReadPreference.SECONDARY_PREFERRED,
        write_concern=WriteConcern(w="majority"),
        read_concern=ReadConcern("majority"),
    )
    assert type(other) is flavor.cls("Database")
    assert other.client is client
    assert other.name == DB_NAME
    assert other.codec_options.tz_aware is True
    assert other.read_preference == ReadPreference.SECONDARY_PREFERRED
    assert other.write_concern == WriteConcern(w="majority")
    assert other.read_concern == ReadConcern("majority")
    # Its collections inherit the options; the original database keeps its own.
    assert other.some_collection.write_concern == WriteConcern(w="majority")
    assert other.some_collection.read_preference == ReadPreference.SECONDARY_PREFERRED
    assert db.write_concern == client.write_concern
    assert db.read_preference == ReadPreference.PRIMARY


async def test_with_options_codec_options_take_effect(db: Any, coll: Any) -> None:
    await coll.insert_one({"_id": 1, "z": 1, "a": 2})
    son_db = db.with_options(codec_options=CodecOptions(document_class=SON))
    found = await son_db[coll.name].find_one()
    assert isinstance(found, SON)
    assert list(found) == ["_id", "z", "a"]
    assert type(await db[coll.name].find_one()) is dict


async def test_with_options_write_concern_takes_effect(db: Any, coll: Any) -> None:
    unacknowledged = db.with_options(write_concern=WriteConcern(w=0))
    result = await unacknowledged[coll.name].insert_one({"x": 1})
    assert result.acknowledged is False


async def test_watch(flavor: Flavor, db: Any, coll: Any, sync_client: MongoClient[Any]) -> None:
    if not supports_change_streams(sync_client):
        pytest.skip("change streams need a replica set or a sharded cluster")
    stream = db.watch(max_await_time_ms=500)
    assert type(stream) is flavor.cls("ChangeStream")
    async with stream:
        await coll.insert_one({"_id": 1})
        change = await stream.next()
    assert change["operationType"] == "insert"
    assert change["ns"] == {"db": DB_NAME, "coll": coll.name}


async def test_wrap(flavor: Flavor, client: Any, db: Any) -> None:
    wrapped = db.wrap(client.delegate[f"{DB_NAME}_other"])
    assert type(wrapped) is flavor.cls("Database")
    assert wrapped.client is client
    coll = db.wrap(db.delegate.some_collection)
    assert type(coll) is flavor.cls("Collection")
    assert coll.database is db
    with pytest.raises(TypeError):
        db.wrap("not pymongo")


@pytest.mark.asyncio_api
async def test_objects_from_other_framework_differ(flavor: Flavor, db: Any, mongodb_uri: str) -> None:
    other = TORNADO if flavor is ASYNCIO else ASYNCIO
    foreign = other.Client(mongodb_uri, connect=False)
    try:
        assert type(foreign[DB_NAME]) is not type(db)
        assert foreign[DB_NAME] != db
        assert foreign[DB_NAME].some_collection != db.some_collection
    finally:
        await foreign.aclose()
