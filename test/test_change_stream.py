"""Change streams on a client, a database and a collection, under both frameworks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError

from motor.testing import free_port
from test.support import DB_NAME, Flavor

pytestmark = pytest.mark.every_framework


@contextmanager
def fail_point(sync_client: MongoClient[Any], mode: Any, data: dict[str, Any]) -> Iterator[None]:
    sync_client.admin.command("configureFailPoint", "failCommand", mode=mode, data=data)
    try:
        yield
    finally:
        sync_client.admin.command("configureFailPoint", "failCommand", mode="off")


async def wait_until(flavor: Flavor, predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await flavor.sleep(0.05)


async def test_watch_returns_change_stream_without_io(
    flavor: Flavor, client: Any, db: Any, coll: Any
) -> None:
    for target in (client, db, coll):
        stream = target.watch()
        assert type(stream) is flavor.cls("ChangeStream")
        assert stream.alive
        assert stream.resume_token is None
        await stream.close()


async def test_watch_unreachable_server_fails_on_iteration(flavor: Flavor) -> None:
    client = flavor.Client(f"mongodb://127.0.0.1:{free_port()}", serverSelectionTimeoutMS=100)
    try:
        stream = client.test.coll.watch()
        with pytest.raises(ServerSelectionTimeoutError):
            await stream.next()
    finally:
        await client.aclose()


async def test_wrong_argument_name_raises_at_call(coll: Any) -> None:
    with pytest.raises(TypeError):
        coll.watch(pipline=[])


async def test_bad_pipeline_raises_on_iteration(coll: Any) -> None:
    stream = coll.watch([{"$notAStage": {}}])
    with pytest.raises(OperationFailure):
        await stream.next()
    await stream.close()


async def test_events_in_order(coll: Any) -> None:
    async with coll.watch() as stream:
        await coll.insert_one({"_id": 1, "x": 1})
        await coll.update_one({"_id": 1}, {"$set": {"x": 2}})
        await coll.replace_one({"_id": 1}, {"x": 3})
        await coll.delete_one({"_id": 1})
        events = [await stream.next() for _ in range(4)]
    assert [e["operationType"] for e in events] == ["insert", "update", "replace", "delete"]
    assert all(e["documentKey"] == {"_id": 1} for e in events)
    assert events[0]["fullDocument"] == {"_id": 1, "x": 1}
    assert events[1]["updateDescription"]["updatedFields"] == {"x": 2}
    assert events[0]["ns"] == {"db": DB_NAME, "coll": coll.name}


async def test_async_for_with_break(coll: Any) -> None:
    async with coll.watch() as stream:
        await coll.insert_many([{"_id": i} for i in range(5)])
        seen = []
        async for event in stream:
            seen.append(event["documentKey"]["_id"])
            if len(seen) == 3:
                break
        assert seen == [0, 1, 2]
        # Breaking out leaves the stream usable.
        assert (await stream.next())["documentKey"]["_id"] == 3


async def test_try_next_returns_none_when_nothing_happened(coll: Any) -> None:
    async with coll.watch(max_await_time_ms=10) as stream:
        assert await stream.try_next() is None
        assert stream.alive
        await coll.insert_one({"_id": 1})
        event = None
        deadline = time.monotonic() + 10
        while event is None and time.monotonic() < deadline:
            event = await stream.try_next()
        assert event is not None
        assert event["documentKey"] == {"_id": 1}


async def test_async_with_returns_stream_and_closes_it(coll: Any) -> None:
    stream = coll.watch()
    async with stream as entered:
        assert entered is stream
        assert stream.alive
    assert not stream.alive


async def test_resume_token_and_resume_after(coll: Any) -> None:
    async with coll.watch() as stream:
        await coll.insert_many([{"_id": i} for i in range(3)])
        first = await stream.next()
        assert stream.resume_token == first["_id"]
        token = stream.resume_token
    async with coll.watch(resume_after=token) as resumed:
        assert [(await resumed.next())["documentKey"]["_id"] for _ in range(2)] == [1, 2]


async def test_start_after(coll: Any) -> None:
    async with coll.watch() as stream:
        await coll.insert_one({"_id": 1})
        await coll.delete_one({"_id": 1})
        token = (await stream.next())["_id"]
    async with coll.watch(start_after=token) as resumed:
        event = await resumed.next()
    assert event["operationType"] == "delete"


async def test_full_document_update_lookup(coll: Any) -> None:
    await coll.insert_one({"_id": 1, "a": 1, "b": 1})
    async with coll.watch(full_document="updateLookup") as stream:
        await coll.update_one({"_id": 1}, {"$set": {"b": 2}})
        event = await stream.next()
    assert event["operationType"] == "update"
    assert event["fullDocument"] == {"_id": 1, "a": 1, "b": 2}


async def test_pipeline_filters_events(coll: Any) -> None:
    async with coll.watch([{"$match": {"operationType": "insert"}}]) as stream:
        await coll.insert_one({"_id": 1})
        await coll.delete_one({"_id": 1})
        await coll.insert_one({"_id": 2})
        events = [await stream.next() for _ in range(2)]
    assert [(e["operationType"], e["documentKey"]["_id"]) for e in events] == [("insert", 1), ("insert", 2)]


async def test_database_watch_sees_all_collections(db: Any, coll: Any) -> None:
    other = db[f"{coll.name}_other"]
    try:
        async with db.watch([{"$match": {"ns.coll": {"$in": [coll.name, other.name]}}}]) as stream:
            await coll.insert_one({"_id": 1})
            await other.insert_one({"_id": 2})
            events = [await stream.next() for _ in range(2)]
        assert [e["ns"]["coll"] for e in events] == [coll.name, other.name]
    finally:
        await other.drop()


async def test_client_watch_sees_all_databases(client: Any, coll: Any) -> None:
    other = client[f"{DB_NAME}_other"]["coll"]
    try:
        pipeline = [{"$match": {"ns.db": {"$in": [DB_NAME, other.database.name]}}}]
        async with client.watch(pipeline) as stream:
            await coll.insert_one({"_id": 1})
            await other.insert_one({"_id": 2})
            events = [await stream.next() for _ in range(2)]
        assert [e["ns"]["db"] for e in events] == [DB_NAME, other.database.name]
    finally:
        await client.drop_database(other.database.name)


async def test_close(coll: Any) -> None:
    async with coll.watch() as stream:
        await coll.insert_one({"_id": 1})
        await stream.next()
        await stream.close()
        assert not stream.alive
        with pytest.raises(StopAsyncIteration):
            await stream.next()


async def test_close_before_use(coll: Any) -> None:
    stream = coll.watch()
    await stream.close()
    assert not stream.alive
    with pytest.raises(StopAsyncIteration):
        await stream.next()


async def test_close_from_another_task_ends_async_for(flavor: Flavor, coll: Any) -> None:
    async with coll.watch() as stream:
        seen = []

        async def consume() -> None:
            async for event in stream:
                seen.append(event["documentKey"]["_id"])

        async def insert_then_close() -> None:
            await coll.insert_one({"_id": 1})
            await wait_until(flavor, lambda: seen == [1])
            await stream.close()

        await flavor.wait_for(flavor.gather(consume(), insert_then_close()), 10)
    assert not stream.alive


async def test_try_next_after_close_before_use_returns_none(coll: Any) -> None:
    # PyMongo's try_next returns None once the stream is closed, as it does after a started one closes.
    stream = coll.watch()
    await stream.close()
    assert await stream.try_next() is None


async def test_try_next_after_close_returns_none(coll: Any) -> None:
    async with coll.watch() as stream:
        await stream.close()
        assert await stream.try_next() is None


@pytest.mark.asyncio_api
async def test_cancelled_next_closes_stream(flavor: Flavor, coll: Any) -> None:
    async with coll.watch() as stream:

        async def wait_for_change() -> Any:
            return await stream.next()

        task = asyncio.create_task(wait_for_change())
        await asyncio.sleep(0.2)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await wait_until(flavor, lambda: not stream.alive)


async def test_timeout_closes_stream(flavor: Flavor, coll: Any) -> None:
    async with coll.watch() as stream:
        with pytest.raises(TimeoutError):
            await flavor.wait_for(stream.next(), 0.2)
        await wait_until(flavor, lambda: not stream.alive)


SLOW_AGGREGATE = {"failCommands": ["aggregate"], "blockConnection": True, "blockTimeMS": 300}


async def test_cancel_while_stream_opens_closes_stream(
    flavor: Flavor, sync_client: MongoClient[Any], coll: Any
) -> None:
    # The first next() opens the stream (an aggregate); cancelling during it must still close it.
    stream = coll.watch()
    try:
        with fail_point(sync_client, {"times": 1}, SLOW_AGGREGATE):
            with pytest.raises(TimeoutError):
                await flavor.wait_for(stream.next(), 0.1)
            await flavor.sleep(0.5)  # Let the slow aggregate finish.
        await wait_until(flavor, lambda: not stream.alive, timeout=1)
    finally:
        await stream.close()


async def test_cancel_during_async_with_entry_closes_stream(
    flavor: Flavor, sync_client: MongoClient[Any], coll: Any
) -> None:
    stream = coll.watch()

    async def enter() -> None:
        async with stream:
            pass

    try:
        with fail_point(sync_client, {"times": 1}, SLOW_AGGREGATE):
            with pytest.raises(TimeoutError):
                await flavor.wait_for(enter(), 0.1)
            await flavor.sleep(0.5)  # Let the slow aggregate finish.
        await wait_until(flavor, lambda: not stream.alive, timeout=1)
    finally:
        await stream.close()
