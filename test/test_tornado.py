"""Tornado usage: ``gen.coroutine`` functions that ``yield`` Motor futures, and IOLoop pinning."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pymongo import MongoClient
from tornado import gen
from tornado.ioloop import IOLoop

from motor import motor_tornado
from test.support import DB_NAME


@pytest.fixture
async def tornado_client(mongodb_uri: str) -> AsyncIterator[Any]:
    client = motor_tornado.MotorClient(mongodb_uri)
    yield client
    await client.aclose()


@pytest.fixture
async def tornado_coll(tornado_client: Any, request: pytest.FixtureRequest) -> Any:
    collection = tornado_client[DB_NAME][f"tornado_{request.node.name}"]
    await collection.drop()
    return collection


@pytest.fixture
def new_io_loop() -> Iterator[IOLoop]:
    """A Tornado IOLoop that no asyncio loop is running, for tests that call ``run_sync``."""
    io_loop = IOLoop(make_current=False)
    yield io_loop
    io_loop.close()


async def test_yield_futures_in_gen_coroutine(tornado_coll: Any) -> None:
    @gen.coroutine
    def insert_and_find() -> Any:
        result = yield tornado_coll.insert_one({"x": 1})
        yield tornado_coll.insert_many([{"x": 2}, {"x": 3}])
        docs = yield tornado_coll.find({}, {"_id": 0}).sort("x").to_list(None)
        count = yield tornado_coll.count_documents({})
        return result.inserted_id, docs, count

    inserted_id, docs, count = await insert_and_find()
    assert inserted_id is not None
    assert docs == [{"x": 1}, {"x": 2}, {"x": 3}]
    assert count == 3


async def test_yield_list_of_futures(tornado_coll: Any) -> None:
    @gen.coroutine
    def insert_in_parallel() -> Any:
        yield [tornado_coll.insert_one({"x": i}) for i in range(5)]
        return (yield tornado_coll.count_documents({}))

    assert await insert_in_parallel() == 5


async def test_fetch_next_loop(tornado_coll: Any) -> None:
    await tornado_coll.insert_many([{"_id": i} for i in range(5)])

    @gen.coroutine
    def read_all() -> Any:
        cursor = tornado_coll.find().sort("_id").batch_size(2)
        seen = []
        while (yield cursor.fetch_next):
            seen.append(cursor.next_object()["_id"])
        return seen

    with pytest.warns(DeprecationWarning):
        assert await read_all() == list(range(5))


async def test_yield_cursor_next(tornado_coll: Any) -> None:
    await tornado_coll.insert_many([{"_id": i} for i in range(2)])

    @gen.coroutine
    def read_two() -> Any:
        cursor = tornado_coll.find().sort("_id")
        first = yield cursor.next()
        second = yield cursor.next()
        try:
            yield cursor.next()
        except StopAsyncIteration:
            return [first["_id"], second["_id"]]
        raise AssertionError("cursor not exhausted")

    assert await read_two() == [0, 1]


async def test_yield_with_transaction(
    sync_client: MongoClient[Any], tornado_client: Any, tornado_coll: Any
) -> None:
    await tornado_coll.insert_one({"x": 0})

    @gen.coroutine
    def callback(session: Any) -> Any:
        yield tornado_coll.insert_one({"x": 1}, session=session)
        return "committed"

    @gen.coroutine
    def transfer() -> Any:
        session = yield tornado_client.start_session()
        try:
            result = yield session.with_transaction(callback)
        finally:
            yield session.end_session()
        return result

    assert await transfer() == "committed"
    stored = sync_client[DB_NAME][tornado_coll.name].find({}, {"_id": 0}).sort("x")
    assert list(stored) == [{"x": 0}, {"x": 1}]


async def test_with_timeout(tornado_coll: Any) -> None:
    async with tornado_coll.watch() as stream:
        with pytest.raises(gen.TimeoutError):
            # with_timeout does not cancel next(): it ends with StopAsyncIteration at close().
            await gen.with_timeout(
                datetime.timedelta(seconds=0.2), stream.next(), quiet_exceptions=StopAsyncIteration
            )
        await stream.close()


async def test_client_io_loop_is_current_io_loop(tornado_client: Any) -> None:
    assert isinstance(tornado_client.io_loop, IOLoop)
    assert tornado_client.io_loop is IOLoop.current()
    assert tornado_client[DB_NAME].get_io_loop() is IOLoop.current()


async def test_pinned_io_loop(mongodb_uri: str) -> None:
    io_loop = IOLoop.current()
    client = motor_tornado.MotorClient(mongodb_uri, io_loop=io_loop)
    try:
        assert client.io_loop is io_loop
        assert client.get_io_loop() is io_loop
        assert client[DB_NAME]["coll"].get_io_loop() is io_loop
        assert (await client.admin.command("ping"))["ok"] == 1
    finally:
        await client.aclose()


def test_io_loop_must_be_tornado_io_loop(mongodb_uri: str) -> None:
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(TypeError):
            motor_tornado.MotorClient(mongodb_uri, io_loop=loop)
    finally:
        loop.close()


def test_run_sync_with_pinned_client(mongodb_uri: str, new_io_loop: IOLoop) -> None:
    client = motor_tornado.MotorClient(mongodb_uri, io_loop=new_io_loop)
    coll = client[DB_NAME]["tornado_run_sync"]

    @gen.coroutine
    def main() -> Any:
        yield coll.drop()
        yield coll.insert_one({"x": 1})
        doc = yield coll.find_one({}, {"_id": 0})
        yield coll.drop()
        yield client.aclose()
        return doc

    assert new_io_loop.run_sync(main, timeout=30) == {"x": 1}


def test_run_sync_with_unpinned_client(mongodb_uri: str, new_io_loop: IOLoop) -> None:
    client = motor_tornado.MotorClient(mongodb_uri)

    @gen.coroutine
    def main() -> Any:
        assert client.io_loop is new_io_loop
        reply = yield client.admin.command("ping")
        yield client.aclose()
        return reply["ok"]

    assert new_io_loop.run_sync(main, timeout=30) == 1


def test_pinned_client_refuses_other_loop(mongodb_uri: str, new_io_loop: IOLoop) -> None:
    other_loop = IOLoop(make_current=False)
    client = motor_tornado.MotorClient(mongodb_uri, io_loop=new_io_loop)
    try:

        async def use_client() -> None:
            await client.admin.command("ping")

        with pytest.raises(RuntimeError, match="different event loop"):
            other_loop.run_sync(use_client, timeout=30)
        new_io_loop.run_sync(use_client, timeout=30)
    finally:
        other_loop.close()
        client.close()
