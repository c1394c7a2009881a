"""Behaviour of the client classes (AsyncIOMotorClient, MotorClient) against a real server."""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from bson import SON
from bson.codec_options import CodecOptions
from pymongo import InsertOne, MongoClient, ReadPreference, UpdateOne
from pymongo.driver_info import DriverInfo
from pymongo.errors import ConfigurationError, InvalidName, InvalidOperation, ServerSelectionTimeoutError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

import motor
from motor.testing import free_port
from test.support import ASYNCIO, DB_NAME, TORNADO, Flavor

pytestmark = pytest.mark.every_framework

# MongoDB 8.0 introduced the bulkWrite command behind MongoClient.bulk_write.
BULK_WRITE_WIRE_VERSION = 25


def other_flavor(flavor: Flavor) -> Flavor:
    return TORNADO if flavor is ASYNCIO else ASYNCIO


def unreachable_client(flavor: Flavor, timeout_ms: int = 200) -> Any:
    return flavor.Client(
        f"mongodb://127.0.0.1:{free_port()}/", connect=False, serverSelectionTimeoutMS=timeout_ms
    )


def motor_worker_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("motor-worker")}


def wire_version(sync_client: MongoClient[Any]) -> int:
    return int(sync_client.admin.command("hello")["maxWireVersion"])


def supports_change_streams(sync_client: MongoClient[Any]) -> bool:
    hello = sync_client.admin.command("hello")
    return "setName" in hello or hello.get("msg") == "isdbgrid"


# -- construction -------------------------------------------------------------------------------


async def test_client_class_and_loop(flavor: Flavor, client: Any) -> None:
    assert type(client) is flavor.Client
    assert client.get_io_loop() is flavor.current_loop()
    assert client.io_loop is flavor.current_loop()


async def test_io_loop_pins_client(flavor: Flavor, mongodb_uri: str) -> None:
    loop = flavor.current_loop()
    client = flavor.Client(mongodb_uri, io_loop=loop)
    try:
        assert client.io_loop is loop
        assert client.get_io_loop() is loop
        assert "ok" in await client.admin.command("ping")
    finally:
        await client.aclose()


async def test_io_loop_of_wrong_type(flavor: Flavor, mongodb_uri: str) -> None:
    # The other framework's loop is an event loop, but not one this class can use.
    for bad in (flavor.foreign_loop(), "loop", 1):
        with pytest.raises(TypeError):
            flavor.Client(mongodb_uri, io_loop=bad, connect=False)


async def test_max_workers_bounds_threads(flavor: Flavor, mongodb_uri: str) -> None:
    before = motor_worker_threads()
    client = flavor.Client(mongodb_uri, max_workers=1)
    try:
        results = await flavor.gather(*(client.admin.command("ping") for _ in range(8)))
        assert all(r["ok"] for r in results)
        assert len(motor_worker_threads() - before) == 1
    finally:
        await client.aclose()


@pytest.mark.parametrize("bad", [0, -1, "many", 1.5, True])
async def test_max_workers_invalid(flavor: Flavor, mongodb_uri: str, bad: Any) -> None:
    with pytest.raises(ValueError, match="max_workers"):
        flavor.Client(mongodb_uri, max_workers=bad, connect=False)


async def test_pymongo_options_are_applied(flavor: Flavor, mongodb_uri: str) -> None:
    client = flavor.Client(
        mongodb_uri,
        connect=False,
        maxPoolSize=7,
        appname="motor-test-app",
        w="majority",
        readPreference="secondaryPreferred",
        readConcernLevel="majority",
        tz_aware=True,
    )
    try:
        assert client.options.pool_options.max_pool_size == 7
        assert client.options.pool_options.metadata["application"] == {"name": "motor-test-app"}
        assert client.write_concern == WriteConcern(w="majority")
        assert client.read_preference == ReadPreference.SECONDARY_PREFERRED
        assert client.read_concern == ReadConcern("majority")
        assert client.codec_options.tz_aware is True
        # Databases and collections inherit them.
        coll = client[DB_NAME].some_collection
        assert coll.write_concern == WriteConcern(w="majority")
        assert coll.read_preference == ReadPreference.SECONDARY_PREFERRED
        assert coll.read_concern == ReadConcern("majority")
        assert coll.codec_options.tz_aware is True
    finally:
        await client.aclose()


async def test_codec_options_take_effect(flavor: Flavor, mongodb_uri: str, coll: Any) -> None:
    await coll.insert_one({"_id": 1, "b": 2, "a": 1})
    client = flavor.Client(mongodb_uri, document_class=SON)
    try:
        found = await client[DB_NAME][coll.name].find_one()
        assert isinstance(found, SON)
        assert list(found.items()) == [("_id", 1), ("b", 2), ("a", 1)]
    finally:
        await client.aclose()


async def test_handshake_metadata_names_motor(flavor: Flavor, client: Any) -> None:
    metadata = client.options.pool_options.metadata
    assert "Motor" in metadata["driver"]["name"].split("|")
    assert motor.version in metadata["driver"]["version"].split("|")
    assert flavor.platform_name in metadata["platform"]


async def test_handshake_metadata_keeps_user_driver_info(flavor: Flavor, mongodb_uri: str) -> None:
    client = flavor.Client(mongodb_uri, connect=False, driver=DriverInfo("MyODM", "9.8.7"))
    try:
        names = client.options.pool_options.metadata["driver"]["name"].split("|")
        versions = client.options.pool_options.metadata["driver"]["version"].split("|")
        assert "MyODM" in names
        assert "Motor" in names
        assert "9.8.7" in versions
        assert motor.version in versions
    finally:
        await client.aclose()


async def test_append_metadata(client: Any) -> None:
    client.append_metadata(DriverInfo("MyFramework", "2.0", "MyPlatform"))
    metadata = client.options.pool_options.metadata
    assert metadata["driver"]["name"].split("|")[-1] == "MyFramework"
    assert metadata["driver"]["version"].split("|")[-1] == "2.0"
    assert metadata["platform"].endswith("|MyPlatform")
    assert "Motor" in metadata["driver"]["name"].split("|")
    with pytest.raises(TypeError):
        client.append_metadata({"name": "not a DriverInfo"})
    # The client still works after the change.
    assert (await client.admin.command("ping"))["ok"]


# -- context manager and closing ----------------------------------------------------------------


async def test_async_with(flavor: Flavor, mongodb_uri: str) -> None:
    async with flavor.Client(mongodb_uri) as client:
        assert type(client) is flavor.Client
        assert (await client.admin.command("ping"))["ok"]
    with pytest.raises(InvalidOperation):
        await client.admin.command("ping")


async def test_aclose(flavor: Flavor, mongodb_uri: str) -> None:
    client = flavor.Client(mongodb_uri)
    await client.admin.command("ping")
    await client.aclose()
    with pytest.raises(InvalidOperation):
        await client.list_database_names()
    await client.aclose()  # Closing again is harmless.


async def test_close_then_use_raises(client: Any) -> None:
    coll = client[DB_NAME].test_close_then_use_raises
    await coll.find_one()
    closing = client.close()
    if closing is not None:
        await closing
    with pytest.raises(InvalidOperation):
        await client.server_info()
    with pytest.raises(InvalidOperation):
        await client[DB_NAME].command("ping")
    with pytest.raises(InvalidOperation):
        await coll.find_one()
    with pytest.raises(InvalidOperation):
        await coll.find().to_list()
    with pytest.raises(InvalidOperation):
        await coll.aggregate([]).to_list()
    with pytest.raises(InvalidOperation):
        await client.start_session()


# -- databases ----------------------------------------------------------------------------------


async def test_list_database_names(flavor: Flavor, client: Any, sync_client: MongoClient[Any]) -> None:
    name = f"motor_test_names_{flavor}"
    await client[name].c.insert_one({})
    names = await client.list_database_names()
    assert name in names
    assert all(isinstance(n, str) for n in names)
    sync_client.drop_database(name)
    assert name not in await client.list_database_names()


async def test_list_databases(flavor: Flavor, client: Any, coll: Any) -> None:
    await coll.insert_one({})
    cursor = await client.list_databases()
    assert type(cursor) is flavor.cls("CommandCursor")
    names = [info["name"] async for info in cursor]
    assert DB_NAME in names
    cursor = await client.list_databases(nameOnly=True, filter={"name": DB_NAME})
    assert [info["name"] for info in await cursor.to_list()] == [DB_NAME]


@pytest.mark.parametrize("by", ["name", "object"])
async def test_drop_database(flavor: Flavor, client: Any, sync_client: MongoClient[Any], by: str) -> None:
    name = f"motor_test_drop_{flavor}_{by}"
    sync_client[name].c.insert_one({})
    assert name in sync_client.list_database_names()
    result = await client.drop_database(name if by == "name" else client[name])
    assert result is None
    assert name not in sync_client.list_database_names()


async def test_get_database(flavor: Flavor, client: Any) -> None:
    db = client.get_database(DB_NAME)
    assert type(db) is flavor.cls("Database")
    assert db.name == DB_NAME
    assert db.client is client
    assert db == client[DB_NAME]
    custom = client.get_database(
        DB_NAME,
        codec_options=CodecOptions(tz_aware=True),
        read_preference=ReadPreference.SECONDARY_PREFERRED,
        write_concern=WriteConcern(w=1, j=True),
        read_concern=ReadConcern("local"),
    )
    assert type(custom) is flavor.cls("Database")
    assert custom.codec_options.tz_aware is True
    assert custom.read_preference == ReadPreference.SECONDARY_PREFERRED
    assert custom.write_concern == WriteConcern(w=1, j=True)
    assert custom.read_concern == ReadConcern("local")
    assert client.write_concern == WriteConcern()


async def test_get_default_database(flavor: Flavor, mongodb_uri: str) -> None:
    uri_with_db = urlsplit(mongodb_uri)._replace(path="/motor_default_db").geturl()
    client = flavor.Client(uri_with_db, connect=False)
    try:
        db = client.get_default_database()
        assert type(db) is flavor.cls("Database")
        assert db.name == "motor_default_db"
        assert db.client is client
        assert client.get_default_database("ignored").name == "motor_default_db"
        wc = WriteConcern(w=1)
        assert client.get_default_database(write_concern=wc).write_concern == wc
    finally:
        await client.aclose()


async def test_get_default_database_without_name_in_uri(flavor: Flavor, mongodb_uri: str) -> None:
    uri_without_db = urlsplit(mongodb_uri)._replace(path="/").geturl()
    client = flavor.Client(uri_without_db, connect=False)
    try:
        assert client.get_default_database("fallback").name == "fallback"
        with pytest.raises(ConfigurationError):
            client.get_default_database()
        with pytest.raises(ConfigurationError):
            client.get_database()
    finally:
        await client.aclose()


async def test_attribute_and_item_access(flavor: Flavor, client: Any) -> None:
    db = client.some_database
    assert type(db) is flavor.cls("Database")
    assert db.name == "some_database"
    assert client["some_database"] == db
    assert client["some-database"].name == "some-database"


async def test_invalid_database_names(client: Any) -> None:
    for bad in ("", "a.b", "a b", "a$b"):
        with pytest.raises(InvalidName):
            client[bad]


async def test_not_iterable(client: Any) -> None:
    # next() stops the test from looping forever if iteration is allowed.
    with pytest.raises(TypeError):
        next(iter(client))


async def test_misspelled_method_is_not_callable(client: Any) -> None:
    # client.list_database_namez is a database; calling it must fail loudly, not return a Future.
    with pytest.raises(TypeError):
        client.list_database_namez()


async def test_pymongo_names_are_not_databases(flavor: Flavor, client: Any) -> None:
    # PyMongo's Client.next only raises TypeError; it must not become a database named "next".
    with pytest.raises(AttributeError):
        client.next
    with pytest.raises(AttributeError):
        client._private
    assert client["next"].name == "next"
    assert client["_private"].name == "_private"
    # append_metadata, eq_props and watch are PyMongo's methods, wrapped, not databases.
    assert not isinstance(client.append_metadata, flavor.cls("Database"))
    assert not isinstance(client.watch, flavor.cls("Database"))
    assert client.eq_props() == client.delegate.eq_props()


async def test_client_equality_and_hash(flavor: Flavor, client: Any, mongodb_uri: str) -> None:
    # As in PyMongo: clients configured for the same servers are equal.
    same = flavor.Client(mongodb_uri, connect=False)
    elsewhere = flavor.Client(f"mongodb://127.0.0.1:{free_port()}/", connect=False)
    try:
        assert client == same
        assert hash(client) == hash(same)
        assert client != elsewhere
    finally:
        await same.aclose()
        await elsewhere.aclose()


async def test_database_equality_and_hash(client: Any) -> None:
    db = client[DB_NAME]
    assert db == client.get_database(DB_NAME)
    assert hash(db) == hash(client.get_database(DB_NAME))
    assert db != client.other_database
    assert len({db, client[DB_NAME], client.other_database}) == 2
    assert db != client.delegate[DB_NAME]  # a PyMongo object is not a Motor object


@pytest.mark.asyncio_api
async def test_database_of_another_framework_differs(flavor: Flavor, client: Any, mongodb_uri: str) -> None:
    db = client[DB_NAME]
    foreign = other_flavor(flavor).Client(mongodb_uri, connect=False)
    try:
        assert db != foreign[DB_NAME]
    finally:
        await foreign.aclose()


# -- wrap ---------------------------------------------------------------------------------------


async def test_wrap(flavor: Flavor, client: Any) -> None:
    db = client.wrap(client.delegate[DB_NAME])
    assert type(db) is flavor.cls("Database")
    assert db.client is client
    assert db.name == DB_NAME
    coll = client.wrap(client.delegate[DB_NAME]["wrapped"])
    assert type(coll) is flavor.cls("Collection")
    assert coll.full_name == f"{DB_NAME}.wrapped"
    assert type(coll.database) is flavor.cls("Database")
    await coll.drop()
    await coll.insert_one({"_id": 1})
    assert await coll.find_one() == {"_id": 1}
    with pytest.raises(TypeError):
        client.wrap({"not": "pymongo"})


async def test_wrap_refuses_a_pymongo_client(client: Any) -> None:
    with pytest.raises(TypeError):
        client.wrap(client.delegate)


# -- server information -------------------------------------------------------------------------


async def test_server_info(client: Any, sync_client: MongoClient[Any]) -> None:
    info = await client.server_info()
    assert info["version"] == sync_client.server_info()["version"]
    assert isinstance(info["versionArray"], list)


async def test_host_and_port_constants(client: Any) -> None:
    assert client.HOST == MongoClient.HOST == "localhost"
    assert client.PORT == MongoClient.PORT == 27017


async def test_topology_properties_match_pymongo(client: Any, sync_client: MongoClient[Any]) -> None:
    await client.admin.command("ping")
    assert client.address == sync_client.address
    assert client.address in client.nodes
    assert client.primary == sync_client.primary
    assert client.is_primary == sync_client.is_primary
    assert client.is_mongos == sync_client.is_mongos
    # Other members of a larger replica set may still be unknown to the new client.
    assert client.nodes <= sync_client.nodes
    assert client.secondaries <= sync_client.secondaries
    assert client.arbiters <= sync_client.arbiters
    description = client.topology_description
    assert description.topology_type_name == sync_client.topology_description.topology_type_name
    assert client.options.replica_set_name == sync_client.options.replica_set_name


async def test_awaitable_topology_properties(client: Any, sync_client: MongoClient[Any]) -> None:
    # A fresh client has not selected a server yet; the awaitable forms wait for one.
    assert await client.get_address() == sync_client.address
    assert await client.get_primary() == sync_client.primary
    assert await client.get_is_primary() == sync_client.is_primary
    assert await client.get_is_mongos() == sync_client.is_mongos
    assert await client.get_secondaries() <= sync_client.secondaries
    assert await client.get_arbiters() <= sync_client.arbiters


async def test_topology_properties_do_not_block(flavor: Flavor) -> None:
    client = unreachable_client(flavor, timeout_ms=5000)
    try:
        start = time.monotonic()
        assert client.address is None
        assert client.nodes == frozenset()
        assert client.primary is None
        assert client.is_primary is False
        assert client.is_mongos is False
        assert client.secondaries == set()
        assert client.arbiters == set()
        assert time.monotonic() - start < 2
    finally:
        await client.aclose()


async def test_awaitable_address_times_out(flavor: Flavor) -> None:
    client = unreachable_client(flavor)
    try:
        with pytest.raises(ServerSelectionTimeoutError):
            await client.get_address()
    finally:
        await client.aclose()


# -- sessions -----------------------------------------------------------------------------------


async def test_start_session(flavor: Flavor, client: Any, coll: Any, sync_client: MongoClient[Any]) -> None:
    session = await client.start_session(causal_consistency=True)
    assert type(session) is flavor.cls("ClientSession")
    assert session.client is client
    assert session.options.causal_consistency is True
    await coll.insert_one({"_id": 1}, session=session)
    assert await coll.find_one({"_id": 1}, session=session) == {"_id": 1}
    assert not session.has_ended
    await session.end_session()
    assert session.has_ended
    assert sync_client[DB_NAME][coll.name].find_one() == {"_id": 1}


async def test_start_session_async_with(client: Any) -> None:
    async with await client.start_session() as session:
        assert not session.has_ended
        await client[DB_NAME].command("ping", session=session)
    assert session.has_ended


# -- bulk_write across namespaces ---------------------------------------------------------------


async def test_client_bulk_write(client: Any, coll: Any, sync_client: MongoClient[Any]) -> None:
    other = coll.database[f"{coll.name}_other"]
    await other.drop()
    await coll.insert_one({"_id": 1, "n": 0})
    models = [
        InsertOne({"_id": 2}, namespace=coll.full_name),
        UpdateOne({"_id": 1}, {"$inc": {"n": 1}}, namespace=coll.full_name),
        InsertOne({"_id": "x"}, namespace=other.full_name),
    ]
    if wire_version(sync_client) < BULK_WRITE_WIRE_VERSION:
        # PyMongo refuses before sending: the server has no bulkWrite command.
        with pytest.raises(InvalidOperation):
            await client.bulk_write(models)
        return
    result = await client.bulk_write(models, verbose_results=True)
    assert result.acknowledged
    assert result.inserted_count == 2
    assert result.matched_count == 1
    assert result.modified_count == 1
    assert result.insert_results[0].inserted_id == 2
    assert result.insert_results[2].inserted_id == "x"
    sync_db = sync_client[DB_NAME]
    assert list(sync_db[coll.name].find().sort("_id")) == [{"_id": 1, "n": 1}, {"_id": 2}]
    assert list(sync_db[other.name].find()) == [{"_id": "x"}]
    await other.drop()


# -- change streams -----------------------------------------------------------------------------


async def test_watch(flavor: Flavor, client: Any, coll: Any, sync_client: MongoClient[Any]) -> None:
    if not supports_change_streams(sync_client):
        pytest.skip("change streams need a replica set or a sharded cluster")
    stream = client.watch(max_await_time_ms=500)
    assert type(stream) is flavor.cls("ChangeStream")
    async with stream:
        await coll.insert_one({"_id": 1})
        change = await stream.next()
    assert change["operationType"] == "insert"
    assert change["ns"] == {"db": DB_NAME, "coll": coll.name}
    assert change["documentKey"] == {"_id": 1}
