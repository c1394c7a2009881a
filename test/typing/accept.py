"""Code that ``mypy --strict`` must accept, with the types Motor's stubs promise.

``assert_type`` fails the type check if a type differs; at run time it does nothing. This module
is type-checked by ``test/test_stubs.py``, never run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Any, TypedDict, assert_type

from pymongo import ASCENDING, InsertOne
from pymongo.results import DeleteResult, InsertManyResult, InsertOneResult, UpdateResult
from tornado.ioloop import IOLoop

import motor.frameworks.anyio
import motor.frameworks.asyncio
import motor.frameworks.tornado
import motor.frameworks.trio
import motor.frameworks.twisted
from motor import MotorClient as MotorClientFromPackage
from motor.aiohttp import AIOHTTPGridFS
from motor.core import AgnosticClientSession, AgnosticCollection, AgnosticDatabase
from motor.frameworks.interface import EventLoop, Framework, Future
from motor.frameworks.twisted import TwistedFuture
from motor.motor_anyio import AnyIOMotorClient, AnyIOMotorCollection
from motor.motor_asyncio import (
    AsyncIOMotorChangeStream,
    AsyncIOMotorClient,
    AsyncIOMotorClientSession,
    AsyncIOMotorCollection,
    AsyncIOMotorCommandCursor,
    AsyncIOMotorCursor,
    AsyncIOMotorDatabase,
    AsyncIOMotorLatentCommandCursor,
)
from motor.motor_gridfs import AgnosticGridFSBucket, AgnosticGridOut
from motor.motor_tornado import (
    MotorClient,
    MotorClientSession,
    MotorCollection,
    MotorCursor,
    MotorDatabase,
)
from motor.motor_trio import TrioMotorClient, TrioMotorCollection, TrioMotorCursor, TrioMotorGridFSBucket
from motor.motor_twisted import TwistedMotorClient, TwistedMotorCollection
from motor.web import GridFSHandler

Doc = dict[str, Any]


class Movie(TypedDict):
    name: str
    year: int


async def crud() -> None:
    client: AsyncIOMotorClient[Doc] = AsyncIOMotorClient("mongodb://localhost:27017", max_workers=4)
    db = client.shop
    assert_type(db, AsyncIOMotorDatabase[Doc])
    coll = db.orders
    assert_type(coll, AsyncIOMotorCollection[Doc])
    assert_type(client["shop"]["orders"], AsyncIOMotorCollection[Doc])
    assert_type(db.get_collection("orders"), AsyncIOMotorCollection[Doc])
    assert_type(coll.name, str)

    doc = await coll.find_one({"sku": "apple"})
    assert_type(doc, Doc | None)
    if doc is not None:
        assert_type(doc["quantity"], Any)

    inserted = await coll.insert_one({"sku": "apple", "quantity": 3})
    assert_type(inserted, InsertOneResult)
    assert_type(await coll.insert_many([{"a": 1}, {"a": 2}], ordered=False), InsertManyResult)
    assert_type(await coll.update_one({"_id": inserted.inserted_id}, {"$inc": {"quantity": 1}}), UpdateResult)
    assert_type(await coll.delete_many({}), DeleteResult)
    assert_type(await coll.count_documents({}), int)
    assert_type(await coll.create_index([("sku", ASCENDING)], unique=True), str)
    await coll.bulk_write([InsertOne({"a": 3})])
    assert_type(await db.command("ping"), dict[str, Any])
    assert_type(await db.list_collection_names(), list[str])
    assert_type(await client.list_database_names(), list[str])


async def cursors(coll: AsyncIOMotorCollection[Doc]) -> None:
    cursor = coll.find({"quantity": {"$gte": 2}}).sort("quantity", -1).skip(1).limit(10)
    assert_type(cursor, AsyncIOMotorCursor[Doc])
    async for doc in cursor:
        assert_type(doc, Doc)
    assert_type(await coll.find().to_list(None), list[Doc])
    assert_type(await coll.find().to_list(5), list[Doc])
    assert_type(await coll.find().next(), Doc)
    async with coll.find() as in_block:
        assert_type(in_block, AsyncIOMotorCursor[Doc])

    aggregation = coll.aggregate([{"$match": {}}]).batch_size(10)
    assert_type(aggregation, AsyncIOMotorLatentCommandCursor[Doc])
    async for doc in aggregation:
        assert_type(doc, Doc)
    assert_type(await aggregation.try_next(), Doc | None)

    collections = await coll.database.list_collections()
    assert isinstance(collections, AsyncIOMotorCommandCursor)

    async with coll.watch([{"$match": {"operationType": "insert"}}]) as stream:
        assert_type(stream, AsyncIOMotorChangeStream[Doc])
        assert_type(await stream.try_next(), Doc | None)
        async for change in stream:
            assert_type(change, Doc)
            assert_type(stream.resume_token, Mapping[str, Any] | None)
            break


async def sessions(client: AsyncIOMotorClient[Doc]) -> None:
    coll = client.shop.orders
    async with await client.start_session() as session:
        assert_type(session, AsyncIOMotorClientSession)
        async with session.start_transaction():
            await coll.insert_one({"sku": "pear"}, session=session)
            await coll.update_one({"sku": "pear"}, {"$set": {"quantity": 1}}, session=session)

        async def in_transaction(s: AsyncIOMotorClientSession) -> int:
            await coll.insert_one({"sku": "plum"}, session=s)
            return 1

        await session.with_transaction(in_transaction)
        assert_type(session.in_transaction, bool)
        assert_type(session.client, AsyncIOMotorClient[Any])


async def typed_documents() -> None:
    client: AsyncIOMotorClient[Movie] = AsyncIOMotorClient()
    movies = client.cinema.movies
    assert_type(movies, AsyncIOMotorCollection[Movie])
    await movies.insert_one(Movie(name="Jaws", year=1975))
    movie = await movies.find_one({"name": "Jaws"})
    if movie is not None:
        assert_type(movie["year"], int)
    async for m in movies.find():
        assert_type(m["name"], str)


async def client_state(client: AsyncIOMotorClient[Doc]) -> None:
    assert_type(client.io_loop, asyncio.AbstractEventLoop)
    assert_type(client.get_io_loop(), asyncio.AbstractEventLoop)
    assert_type(client.address, tuple[str, int] | None)
    assert_type(await client.get_address(), tuple[str, int] | None)
    other: AsyncIOMotorClient[Doc] = AsyncIOMotorClient()
    async with other as scoped:
        assert_type(scoped, AsyncIOMotorClient[Doc])
    future = client.close()
    if future is not None:
        await future


async def legacy_iteration(coll: AsyncIOMotorCollection[Doc]) -> None:
    cursor = coll.find()
    while await cursor.fetch_next:
        assert_type(cursor.next_object(), Doc | None)

    def callback(document: Any, error: Exception | None) -> None:
        pass

    coll.find().each(callback)


def count_in_any_framework(coll: AgnosticCollection[Doc]) -> asyncio.Future[int]:
    return coll.count_documents({})


async def agnostic_annotations(session: AgnosticClientSession) -> None:
    asyncio_client: AsyncIOMotorClient[Doc] = AsyncIOMotorClient()
    tornado_client: MotorClient[Doc] = MotorClient()
    # A function typed with the agnostic classes takes either framework's.
    await count_in_any_framework(asyncio_client.db.coll)
    await count_in_any_framework(tornado_client.db.coll)
    assert_type(session.in_transaction, bool)


async def tornado_usage() -> None:
    client: MotorClient[Doc] = MotorClient("mongodb://localhost:27017", io_loop=IOLoop.current())
    assert_type(client.io_loop, IOLoop)
    db = client.shop
    assert_type(db, MotorDatabase[Doc])
    coll = db.orders
    assert_type(coll, MotorCollection[Doc])
    assert_type(coll.find().sort("a"), MotorCursor[Doc])
    assert_type(await coll.find_one(), Doc | None)
    async for doc in coll.find():
        assert_type(doc, Doc)
    async with await client.start_session() as session:
        assert_type(session, MotorClientSession)
        await coll.insert_one({"a": 1}, session=session)
    from_package: MotorClientFromPackage[Doc] = MotorClient()
    assert_type(from_package, MotorClient[Doc])


async def gridfs(database: AgnosticDatabase[Doc]) -> None:
    bucket = AgnosticGridFSBucket(database)
    grid_in = bucket.open_upload_stream("report.txt", metadata={"kind": "report"})
    await grid_in.write(b"data")
    await grid_in.close()
    file_id = await bucket.upload_from_stream("other.txt", b"more data")
    grid_out = await bucket.open_download_stream(file_id)
    assert_type(grid_out, AgnosticGridOut)
    assert_type(await grid_out.read(), bytes)
    async for chunk in grid_out:
        assert_type(chunk, bytes)
    async for found in bucket.find({"filename": "report.txt"}):
        assert_type(found, AgnosticGridOut)


def web_handlers(database: AgnosticDatabase[Doc]) -> None:
    assert issubclass(GridFSHandler, object)
    AIOHTTPGridFS(database, root_collection="fs")


def frameworks_satisfy_the_interface(loop: asyncio.AbstractEventLoop) -> None:
    # The shipped framework modules are Frameworks, and an asyncio loop and Future are the
    # engine's EventLoop and Future as they are (nothing wrapped on the hot path).
    asyncio_framework: Framework = motor.frameworks.asyncio
    tornado_framework: Framework = motor.frameworks.tornado
    engine_loop: EventLoop = loop
    future: Future[int] = loop.create_future()
    print(asyncio_framework, tornado_framework, engine_loop, future)


async def twisted_usage() -> None:
    client: TwistedMotorClient[Doc] = TwistedMotorClient()
    coll = client.test.things
    assert_type(coll, TwistedMotorCollection[Doc])
    pending = coll.find_one({})
    assert_type(pending, TwistedFuture[Doc | None])
    document = await pending
    assert_type(document, Doc | None)
    # A Deferred: Twisted's callback API is there too.
    pending.addCallback(print)
    twisted_framework: Framework = motor.frameworks.twisted
    print(twisted_framework)


async def trio_classes() -> None:
    # The trio classes' awaitables are TrioFutures, awaited for the same types.
    client: TrioMotorClient[dict[str, Any]] = TrioMotorClient("mongodb://localhost:27017")
    orders = client.shop.orders
    assert_type(orders, TrioMotorCollection[dict[str, Any]])
    assert_type(orders.find_one({"sku": "apple"}), motor.frameworks.trio.TrioFuture[dict[str, Any] | None])
    assert_type(await orders.find_one({"sku": "apple"}), dict[str, Any] | None)
    assert_type(orders.find().sort("sku"), TrioMotorCursor[dict[str, Any]])
    assert_type(await orders.find().to_list(), list[dict[str, Any]])
    async for order in orders.find():
        assert_type(order, dict[str, Any])
    await TrioMotorGridFSBucket(client.shop).upload_from_stream("notes.txt", b"data")
    trio_framework: Framework = motor.frameworks.trio
    print(trio_framework, client.io_loop.run_sync_soon)
    await client.aclose()


async def anyio_classes() -> None:
    # The anyio classes' awaitables are typed as what they are on either backend: awaitables.
    client: AnyIOMotorClient[dict[str, Any]] = AnyIOMotorClient("mongodb://localhost:27017")
    orders = client.shop.orders
    assert_type(orders, AnyIOMotorCollection[dict[str, Any]])
    assert_type(orders.find_one({}), Awaitable[dict[str, Any] | None])
    assert_type(await orders.find_one({}), dict[str, Any] | None)
    async for order in orders.find():
        assert_type(order, dict[str, Any])
    anyio_framework: Framework = motor.frameworks.anyio
    print(anyio_framework)
    await client.aclose()
