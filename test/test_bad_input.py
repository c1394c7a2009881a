"""Bad input: a clear exception where the caller made the mistake, never a hang, and never a
partial write reported as success.

Motor raises what PyMongo raises. Errors that PyMongo finds without I/O (a cursor option of the
wrong type) come from the call itself, since building a cursor is not awaitable; the others come
from the ``await`` of the call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from bson.errors import InvalidDocument
from pymongo import InsertOne, MongoClient
from pymongo.errors import (
    BulkWriteError,
    DocumentTooLarge,
    InvalidName,
    InvalidOperation,
    OperationFailure,
)

from test.support import DB_NAME, Flavor

pytestmark = pytest.mark.every_framework


async def fails(exc_type: type[BaseException], make: Callable[[], Awaitable[Any]]) -> BaseException:
    """Assert that ``await make()`` raises ``exc_type``; return the exception."""
    with pytest.raises(exc_type) as info:
        await make()
    return info.value


# ---------------------------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("document", [[1, 2], "x", 1, None, b"{}"], ids=repr)
async def test_insert_one_needs_a_mapping(coll: Any, sync_client: MongoClient[Any], document: Any) -> None:
    error = await fails(TypeError, lambda: coll.insert_one(document))
    assert "document must be an instance of dict" in str(error)
    assert sync_client[DB_NAME][coll.name].count_documents({}) == 0


@pytest.mark.parametrize(
    ("document", "error"),
    [({1: "x"}, "string keys"), ({"x": object()}, "cannot encode object")],
    ids=["int key", "object value"],
)
async def test_insert_one_needs_bson(coll: Any, document: Any, error: str) -> None:
    raised = await fails(InvalidDocument, lambda: coll.insert_one(document))
    assert error in str(raised)


async def test_document_too_large(coll: Any, sync_client: MongoClient[Any]) -> None:
    await fails(DocumentTooLarge, lambda: coll.insert_one({"x": "a" * (17 * 1024 * 1024)}))
    assert sync_client[DB_NAME][coll.name].count_documents({}) == 0


@pytest.mark.parametrize(
    "document",
    [{"$bad": 1}, {"a.b": 1}, {"a": {"$x": 1}}, {"a": {"b.c": 1}}],
    ids=["$top", "dotted", "$nested", "dotted nested"],
)
async def test_dollar_and_dotted_keys_behave_as_in_pymongo(
    coll: Any, sync_client: MongoClient[Any], document: dict[str, Any]
) -> None:
    # Whether such keys are stored depends on the server; Motor must do what PyMongo does.
    reference = sync_client[DB_NAME][f"{coll.name}_pymongo"]
    try:
        try:
            reference.insert_one({"_id": 1, **document})
            expected: Any = reference.find_one()
        except Exception as exc:
            expected = type(exc)
        try:
            await coll.insert_one({"_id": 1, **document})
            got: Any = await coll.find_one()
        except Exception as exc:
            got = type(exc)
        assert got == expected
    finally:
        reference.drop()


async def test_insert_many_needs_documents(coll: Any) -> None:
    await fails(TypeError, lambda: coll.insert_many([]))
    await fails(TypeError, lambda: coll.insert_many({"_id": 1}))
    await fails(TypeError, lambda: coll.insert_many([{"_id": 1}, "x"]))


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: c.update_one({}, {"x": 1}), ValueError),
        (lambda c: c.update_many({}, {"x": 1}), ValueError),
        (lambda c: c.replace_one({}, {"$set": {"x": 1}}), ValueError),
        (lambda c: c.update_one("x", {"$set": {"x": 1}}), TypeError),
        (lambda c: c.delete_one([("x", 1)]), TypeError),
        (lambda c: c.find_one_and_update({}, {"x": 1}), ValueError),
        (lambda c: c.bulk_write([{"insertOne": {}}]), TypeError),
        (lambda c: c.bulk_write("x"), TypeError),
    ],
    ids=[
        "update_one without operators",
        "update_many without operators",
        "replace_one with operators",
        "update_one filter str",
        "delete_one filter list",
        "find_one_and_update without operators",
        "bulk_write dict request",
        "bulk_write str",
    ],
)
async def test_wrong_update_and_filter_arguments(
    coll: Any, sync_client: MongoClient[Any], call: Callable[[Any], Awaitable[Any]], error: type
) -> None:
    await coll.insert_one({"_id": 1, "x": 0})
    await fails(error, lambda: call(coll))
    assert sync_client[DB_NAME][coll.name].find_one() == {"_id": 1, "x": 0}


# ---------------------------------------------------------------------------------------------
# Partial writes are reported as errors, with details
# ---------------------------------------------------------------------------------------------


async def test_ordered_insert_many_stops_at_the_duplicate(coll: Any, sync_client: MongoClient[Any]) -> None:
    error = await fails(
        BulkWriteError, lambda: coll.insert_many([{"_id": 1}, {"_id": 1}, {"_id": 2}], ordered=True)
    )
    assert isinstance(error, BulkWriteError)
    assert error.details["nInserted"] == 1
    (write_error,) = error.details["writeErrors"]
    assert write_error["index"] == 1
    assert write_error["code"] == 11000
    assert [d["_id"] for d in sync_client[DB_NAME][coll.name].find()] == [1]


async def test_unordered_insert_many_reports_the_duplicate(coll: Any, sync_client: MongoClient[Any]) -> None:
    error = await fails(
        BulkWriteError, lambda: coll.insert_many([{"_id": 1}, {"_id": 1}, {"_id": 2}], ordered=False)
    )
    assert isinstance(error, BulkWriteError)
    assert error.details["nInserted"] == 2
    assert [e["index"] for e in error.details["writeErrors"]] == [1]
    assert sorted(d["_id"] for d in sync_client[DB_NAME][coll.name].find()) == [1, 2]


async def test_bulk_write_reports_partial_result(coll: Any) -> None:
    error = await fails(
        BulkWriteError, lambda: coll.bulk_write([InsertOne({"_id": 1}), InsertOne({"_id": 1})])
    )
    assert isinstance(error, BulkWriteError)
    assert error.details["nInserted"] == 1
    assert error.details["writeErrors"][0]["index"] == 1


# ---------------------------------------------------------------------------------------------
# Cursors
# ---------------------------------------------------------------------------------------------


def test_find_filter_must_be_a_mapping_at_the_call(coll: Any) -> None:
    with pytest.raises(TypeError, match="filter"):
        coll.find(filter="x")
    with pytest.raises(TypeError, match="filter"):
        coll.find([("a", 1)])


@pytest.mark.parametrize(
    ("chain", "error"),
    [
        (lambda cur: cur.sort("a", 1.5), TypeError),
        (lambda cur: cur.sort(1), TypeError),
        (lambda cur: cur.limit("3"), TypeError),
        (lambda cur: cur.limit(1.5), TypeError),
        (lambda cur: cur.skip(-1), ValueError),
        (lambda cur: cur.skip("1"), TypeError),
        (lambda cur: cur.batch_size(-1), ValueError),
        (lambda cur: cur.batch_size("2"), TypeError),
        (lambda cur: cur.max_time_ms("x"), TypeError),
    ],
    ids=[
        "sort float direction",
        "sort int key",
        "limit str",
        "limit float",
        "skip negative",
        "skip str",
        "batch_size negative",
        "batch_size str",
        "max_time_ms str",
    ],
)
def test_cursor_options_are_checked_at_the_call(coll: Any, chain: Callable[[Any], Any], error: type) -> None:
    with pytest.raises(error):
        chain(coll.find())


def test_latent_cursor_batch_size_is_checked_at_the_call(coll: Any) -> None:
    with pytest.raises(ValueError):
        coll.aggregate([]).batch_size(-1)
    with pytest.raises(TypeError):
        coll.aggregate([]).batch_size("2")


async def test_sort_direction_the_server_refuses(coll: Any) -> None:
    await coll.insert_one({"a": 1})
    # PyMongo accepts any int or str as an index type; the server refuses 2 at the first fetch.
    await fails(OperationFailure, lambda: coll.find().sort("a", 2).to_list())


@pytest.mark.parametrize(("length", "error"), [("3", TypeError), (1.5, TypeError), (-1, ValueError)])
def test_to_list_length_is_checked_at_the_call(coll: Any, length: Any, error: type) -> None:
    with pytest.raises(error, match="length"):
        coll.find().to_list(length)
    with pytest.raises(error, match="length"):
        coll.aggregate([]).to_list(length)


async def test_wrong_pipeline_fails_at_the_first_fetch(coll: Any) -> None:
    cursor = coll.aggregate("x")  # Motor runs aggregate at the first fetch, as documented.
    await fails(TypeError, cursor.to_list)
    await fails(TypeError, lambda: coll.watch("x").next())


async def test_cursor_iterated_after_close(coll: Any, sync_client: MongoClient[Any]) -> None:
    await coll.insert_many([{"_id": i} for i in range(5)])
    # A closed PyMongo cursor still yields the documents it had buffered, then stops; so does Motor's.
    reference = sync_client[DB_NAME][coll.name].find().sort("_id").batch_size(2)
    next(reference)
    reference.close()
    expected = list(reference)

    cursor = coll.find().sort("_id").batch_size(2)
    await cursor.next()
    await cursor.close()
    assert [doc async for doc in cursor] == expected
    assert not cursor.alive
    await fails(StopAsyncIteration, cursor.next)
    assert await cursor.to_list() == []

    latent = coll.aggregate([])
    await latent.close()
    assert not latent.alive
    await fails(StopAsyncIteration, latent.next)
    assert await latent.to_list() == []


# ---------------------------------------------------------------------------------------------
# Sessions, closed clients, event loops, names
# ---------------------------------------------------------------------------------------------


async def test_session_of_another_client(flavor: Flavor, mongodb_uri: str, coll: Any) -> None:
    other = flavor.Client(mongodb_uri)
    try:
        async with await other.start_session() as session:
            error = await fails(InvalidOperation, lambda: coll.insert_one({}, session=session))
            assert "session" in str(error)
            await fails(InvalidOperation, lambda: coll.find(session=session).to_list())
    finally:
        await other.aclose()
    assert await coll.count_documents({}) == 0


async def test_pymongo_session_instead_of_motor_session(coll: Any, sync_client: MongoClient[Any]) -> None:
    with sync_client.start_session() as session:
        await fails(InvalidOperation, lambda: coll.insert_one({}, session=session))


async def test_ended_session(client: Any, coll: Any) -> None:
    session = await client.start_session()
    await session.end_session()
    await fails(InvalidOperation, lambda: coll.insert_one({}, session=session))


async def test_client_used_after_close(flavor: Flavor, mongodb_uri: str) -> None:
    client = flavor.Client(mongodb_uri)
    db = client[DB_NAME]
    coll = db.bad_input_closed
    await client.admin.command("ping")
    cursor = coll.find()
    await client.aclose()
    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: coll.insert_one({}),
        coll.find_one,
        lambda: coll.find().to_list(),
        cursor.next,
        lambda: coll.aggregate([]).to_list(),
        lambda: coll.watch().next(),
        lambda: db.command("ping"),
        client.list_database_names,
        client.start_session,
    ]
    for call in calls:
        error = await fails(InvalidOperation, call)
        assert "after close" in str(error)


@pytest.mark.parametrize("io_loop", ["loop", 1, object()], ids=["str", "int", "object"])
def test_io_loop_of_wrong_type(flavor: Flavor, mongodb_uri: str, io_loop: Any) -> None:
    with pytest.raises(TypeError, match="io_loop"):
        flavor.Client(mongodb_uri, io_loop=io_loop, connect=False)


async def test_io_loop_of_the_other_framework(flavor: Flavor, mongodb_uri: str) -> None:
    with pytest.raises(TypeError, match="io_loop"):
        flavor.Client(mongodb_uri, io_loop=flavor.foreign_loop(), connect=False)


def test_invalid_names(client: Any) -> None:
    with pytest.raises(InvalidName):
        client["bad$name"]
    with pytest.raises(InvalidName):
        client[DB_NAME]["bad$name"]
    with pytest.raises(TypeError):
        client[DB_NAME][1]
