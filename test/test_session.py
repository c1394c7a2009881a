"""Sessions and transactions, under both frameworks."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pymongo
import pytest
from pymongo import MongoClient, monitoring
from pymongo.errors import InvalidOperation, OperationFailure, PyMongoError

from test.support import Flavor

pytestmark = pytest.mark.every_framework


@contextmanager
def fail_point(sync_client: MongoClient[Any], mode: Any, data: dict[str, Any]) -> Iterator[None]:
    sync_client.admin.command("configureFailPoint", "failCommand", mode=mode, data=data)
    try:
        yield
    finally:
        sync_client.admin.command("configureFailPoint", "failCommand", mode="off")


TRANSIENT_INSERT_ERROR = {
    "failCommands": ["insert"],
    "errorCode": 112,  # WriteConflict
    "errorLabels": ["TransientTransactionError"],
}


class CommandRecorder(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: list[Any] = []

    def named(self, name: str) -> list[Any]:
        return [command for command in self.commands if next(iter(command)) == name]

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands.append(event.command)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def stored(sync_client: MongoClient[Any], coll: Any) -> list[Any]:
    return list(sync_client[coll.database.name][coll.name].find({}, {"_id": 0}).sort("x"))


# ---------------------------------------------------------------------------------------------
# Sessions
# ---------------------------------------------------------------------------------------------


async def test_start_session(flavor: Flavor, client: Any) -> None:
    session = await client.start_session()
    try:
        assert type(session) is flavor.cls("ClientSession")
        assert session.client is client
        assert not session.has_ended
        assert not session.in_transaction
        assert session.session_id["id"] is not None
        assert session.options.causal_consistency
    finally:
        await session.end_session()
    assert session.has_ended


async def test_async_with_ends_session(client: Any) -> None:
    async with await client.start_session() as session:
        assert not session.has_ended
    assert session.has_ended


async def test_async_with_ends_session_on_error(client: Any) -> None:
    session = await client.start_session()
    with pytest.raises(ZeroDivisionError):
        async with session:
            1 / 0
    assert session.has_ended


async def test_sync_with_raises_attribute_error(client: Any) -> None:
    # Motor 3's error and message (test_motor3_compat checks the message).
    async with await client.start_session() as session:
        with pytest.raises(AttributeError, match=r"async with await client\.start_session"), session:
            pass


async def test_session_options(client: Any) -> None:
    async with await client.start_session(causal_consistency=False) as session:
        assert not session.options.causal_consistency


async def test_operation_time_and_cluster_time_advance(client: Any, coll: Any) -> None:
    async with await client.start_session() as session:
        assert session.operation_time is None
        assert session.cluster_time is None
        await coll.insert_one({"x": 1}, session=session)
        first_op, first_cluster = session.operation_time, session.cluster_time
        assert first_op is not None
        assert first_cluster is not None
        await coll.insert_one({"x": 2}, session=session)
        assert session.operation_time > first_op
        assert session.cluster_time["clusterTime"] >= first_cluster["clusterTime"]


async def test_advance_cluster_and_operation_time(client: Any, coll: Any) -> None:
    async with await client.start_session() as writer, await client.start_session() as reader:
        await coll.insert_one({"x": 1}, session=writer)
        reader.advance_cluster_time(writer.cluster_time)
        reader.advance_operation_time(writer.operation_time)
        assert reader.cluster_time == writer.cluster_time
        assert reader.operation_time == writer.operation_time
        # Causally consistent: the reader sees the writer's write.
        assert await coll.find_one({"x": 1}, session=reader) is not None


async def test_session_from_another_client_raises(flavor: Flavor, mongodb_uri: str, coll: Any) -> None:
    other = flavor.Client(mongodb_uri)
    try:
        async with await other.start_session() as session:
            with pytest.raises(InvalidOperation):
                await coll.insert_one({"x": 1}, session=session)
    finally:
        await other.aclose()


async def test_ended_session_raises(client: Any, coll: Any) -> None:
    session = await client.start_session()
    await session.end_session()
    with pytest.raises(InvalidOperation):
        await coll.insert_one({"x": 1}, session=session)


async def test_cursor_uses_session(client: Any, coll: Any) -> None:
    await coll.insert_many([{"x": i} for i in range(5)])
    async with await client.start_session() as session:
        docs = await coll.find({}, session=session).batch_size(2).to_list(None)
        assert len(docs) == 5
        assert session.operation_time is not None


# ---------------------------------------------------------------------------------------------
# session.bind()
# ---------------------------------------------------------------------------------------------


async def test_bind_uses_session_implicitly(sync_client: MongoClient[Any], client: Any, coll: Any) -> None:
    await coll.insert_one({"x": 0})  # Create the collection outside the transaction.
    async with await client.start_session() as session:
        session.start_transaction()
        with session.bind(end_session=False) as bound:
            assert bound is session
            await coll.insert_one({"x": 1})
            # The transaction sees its own write: the count runs in the bound session too.
            assert await coll.count_documents({}) == 2
        assert not session.has_ended
        assert session.in_transaction
        assert len(stored(sync_client, coll)) == 1
        await session.abort_transaction()
    assert stored(sync_client, coll) == [{"x": 0}]


async def test_bind_sets_operation_time(client: Any, coll: Any) -> None:
    async with await client.start_session() as session:
        with session.bind(end_session=False):
            await coll.insert_one({"x": 1})
        assert session.operation_time is not None
        before = session.operation_time
        # Outside the block, operations no longer use the session.
        await coll.insert_one({"x": 2})
        assert session.operation_time == before


async def test_bind_async_with_ends_session(client: Any, coll: Any) -> None:
    session = await client.start_session()
    async with session.bind() as bound:
        assert bound is session
        await coll.insert_one({"x": 1})
        assert session.operation_time is not None
    assert session.has_ended


# ---------------------------------------------------------------------------------------------
# Transactions
# ---------------------------------------------------------------------------------------------


async def test_start_transaction_commits_on_success(
    sync_client: MongoClient[Any], client: Any, coll: Any
) -> None:
    await coll.insert_one({"x": 0})
    async with await client.start_session() as session:
        async with session.start_transaction():
            assert session.in_transaction
            await coll.insert_one({"x": 1}, session=session)
            await coll.insert_one({"x": 2}, session=session)
            assert len(stored(sync_client, coll)) == 1  # Not visible outside before the commit.
        assert not session.in_transaction
    assert stored(sync_client, coll) == [{"x": 0}, {"x": 1}, {"x": 2}]


async def test_start_transaction_aborts_on_exception(
    sync_client: MongoClient[Any], client: Any, coll: Any
) -> None:
    await coll.insert_one({"x": 0})
    async with await client.start_session() as session:
        with pytest.raises(ZeroDivisionError):
            async with session.start_transaction():
                await coll.insert_one({"x": 1}, session=session)
                1 / 0
        assert not session.in_transaction
    assert stored(sync_client, coll) == [{"x": 0}]


async def test_start_transaction_sync_with_raises_type_error(client: Any) -> None:
    async with await client.start_session() as session:
        with pytest.raises(TypeError), session.start_transaction():
            pass
        await session.abort_transaction()


async def test_start_transaction_twice_raises(client: Any) -> None:
    async with await client.start_session() as session, session.start_transaction():
        with pytest.raises(InvalidOperation):
            session.start_transaction()


async def test_explicit_commit(sync_client: MongoClient[Any], client: Any, coll: Any) -> None:
    await coll.insert_one({"x": 0})
    async with await client.start_session() as session:
        session.start_transaction()
        assert session.in_transaction
        await coll.insert_one({"x": 1}, session=session)
        await session.commit_transaction()
        assert not session.in_transaction
    assert stored(sync_client, coll) == [{"x": 0}, {"x": 1}]


async def test_explicit_abort(sync_client: MongoClient[Any], client: Any, coll: Any) -> None:
    await coll.insert_one({"x": 0})
    async with await client.start_session() as session:
        session.start_transaction()
        await coll.insert_one({"x": 1}, session=session)
        await session.abort_transaction()
        assert not session.in_transaction
    assert stored(sync_client, coll) == [{"x": 0}]


async def test_ending_session_aborts_transaction(
    sync_client: MongoClient[Any], client: Any, coll: Any
) -> None:
    await coll.insert_one({"x": 0})
    async with await client.start_session() as session:
        session.start_transaction()
        await coll.insert_one({"x": 1}, session=session)
    assert stored(sync_client, coll) == [{"x": 0}]


async def test_commit_without_transaction_raises(client: Any) -> None:
    async with await client.start_session() as session:
        with pytest.raises(InvalidOperation):
            await session.commit_transaction()


# ---------------------------------------------------------------------------------------------
# with_transaction
# ---------------------------------------------------------------------------------------------


async def test_with_transaction_returns_callback_value(
    sync_client: MongoClient[Any], client: Any, coll: Any
) -> None:
    await coll.insert_one({"x": 0})

    async def callback(session: Any) -> str:
        assert session.in_transaction
        await coll.insert_one({"x": 1}, session=session)
        return "done"

    async with await client.start_session() as session:
        assert await session.with_transaction(callback) == "done"
        assert not session.in_transaction
    assert stored(sync_client, coll) == [{"x": 0}, {"x": 1}]


async def test_with_transaction_coro_keyword(sync_client: MongoClient[Any], client: Any, coll: Any) -> None:
    await coll.insert_one({"x": 0})

    async def callback(session: Any) -> int:
        await coll.insert_one({"x": 1}, session=session)
        return 1

    async with await client.start_session() as session:
        assert await session.with_transaction(coro=callback) == 1
    assert stored(sync_client, coll) == [{"x": 0}, {"x": 1}]


async def test_with_transaction_passes_options(flavor: Flavor, mongodb_uri: str, coll: Any) -> None:
    await coll.insert_one({"x": 0})
    recorder = CommandRecorder()
    client = flavor.Client(mongodb_uri, event_listeners=[recorder])

    async def callback(session: Any) -> None:
        await client[coll.database.name][coll.name].insert_one({"x": 1}, session=session)

    try:
        async with await client.start_session() as session:
            await session.with_transaction(
                callback, write_concern=pymongo.WriteConcern(w="majority"), max_commit_time_ms=5000
            )
    finally:
        await client.aclose()
    (commit,) = recorder.named("commitTransaction")
    assert commit["writeConcern"] == {"w": "majority"}
    assert commit["maxTimeMS"] == 5000


async def test_with_transaction_error_aborts_and_reraises(
    sync_client: MongoClient[Any], client: Any, coll: Any
) -> None:
    await coll.insert_one({"x": 0})
    calls = 0

    async def callback(session: Any) -> None:
        nonlocal calls
        calls += 1
        await coll.insert_one({"x": 1}, session=session)
        raise KeyError("boom")

    async with await client.start_session() as session:
        with pytest.raises(KeyError, match="boom"):
            await session.with_transaction(callback)
        assert not session.in_transaction
    assert calls == 1
    assert stored(sync_client, coll) == [{"x": 0}]


async def test_with_transaction_non_transient_server_error_not_retried(
    sync_client: MongoClient[Any], client: Any, coll: Any
) -> None:
    await coll.insert_one({"_id": 1, "x": 0})
    calls = 0

    async def callback(session: Any) -> None:
        nonlocal calls
        calls += 1
        await coll.insert_one({"x": 1}, session=session)
        await coll.insert_one({"_id": 1}, session=session)  # Duplicate key.

    async with await client.start_session() as session:
        with pytest.raises(OperationFailure) as excinfo:
            await session.with_transaction(callback)
    assert excinfo.value.code == 11000
    assert calls == 1
    assert stored(sync_client, coll) == [{"x": 0}]


async def test_with_transaction_retries_transient_error(
    sync_client: MongoClient[Any], client: Any, coll: Any
) -> None:
    await coll.insert_one({"x": 0})
    calls = 0

    async def callback(session: Any) -> int:
        nonlocal calls
        calls += 1
        await coll.insert_one({"x": 1}, session=session)
        return calls

    async with await client.start_session() as session:
        with fail_point(sync_client, {"times": 1}, TRANSIENT_INSERT_ERROR):
            assert await session.with_transaction(callback) == 2
    assert calls == 2
    assert stored(sync_client, coll) == [{"x": 0}, {"x": 1}]


async def test_with_transaction_retries_unknown_commit_result(
    flavor: Flavor, mongodb_uri: str, sync_client: MongoClient[Any], coll: Any
) -> None:
    await coll.insert_one({"x": 0})
    recorder = CommandRecorder()
    client = flavor.Client(mongodb_uri, event_listeners=[recorder])
    calls = 0

    async def callback(session: Any) -> None:
        nonlocal calls
        calls += 1
        await client[coll.database.name][coll.name].insert_one({"x": 1}, session=session)

    unknown_commit = {
        "failCommands": ["commitTransaction"],
        "errorCode": 64,  # WriteConcernTimeout: not retried by PyMongo's own commit.
        "errorLabels": ["UnknownTransactionCommitResult"],
    }
    try:
        async with await client.start_session() as session:
            with fail_point(sync_client, {"times": 1}, unknown_commit):
                await session.with_transaction(callback)
    finally:
        await client.aclose()
    assert calls == 1  # The commit is retried, not the callback.
    assert len(recorder.named("commitTransaction")) == 2
    assert stored(sync_client, coll) == [{"x": 0}, {"x": 1}]


async def test_with_transaction_honours_timeout(
    sync_client: MongoClient[Any], client: Any, coll: Any
) -> None:
    await coll.insert_one({"x": 0})

    async def callback(session: Any) -> None:
        await coll.insert_one({"x": 1}, session=session)

    async with await client.start_session() as session:
        with fail_point(sync_client, "alwaysOn", TRANSIENT_INSERT_ERROR):
            start = time.monotonic()
            with pytest.raises(PyMongoError) as excinfo, pymongo.timeout(0.5):
                await session.with_transaction(callback)
            elapsed = time.monotonic() - start
        assert not session.in_transaction
    assert excinfo.value.timeout
    assert elapsed < 10  # Without the deadline it would retry for 120 seconds.
    assert stored(sync_client, coll) == [{"x": 0}]


async def test_with_transaction_callback_may_commit_itself(
    sync_client: MongoClient[Any], client: Any, coll: Any
) -> None:
    async def callback(session: Any) -> str:
        await coll.insert_one({"x": 1}, session=session)
        await session.commit_transaction()
        return "committed"

    async with await client.start_session() as session:
        assert await session.with_transaction(callback) == "committed"
    assert stored(sync_client, coll) == [{"x": 1}]


async def test_with_transaction_requires_callable(client: Any) -> None:
    async with await client.start_session() as session:
        with pytest.raises(TypeError):
            await session.with_transaction(None)
        assert not session.in_transaction


async def test_with_transaction_cancelled_aborts(
    flavor: Flavor, sync_client: MongoClient[Any], client: Any, coll: Any
) -> None:
    await coll.insert_one({"x": 0})
    inserted = []

    async def callback(session: Any) -> None:
        await coll.insert_one({"x": 1}, session=session)
        inserted.append(True)
        await flavor.sleep(60)

    async with await client.start_session() as session:
        with pytest.raises(TimeoutError):
            await flavor.wait_for(session.with_transaction(callback), 2)
        assert inserted
        # The abort is done when the cancellation reaches the caller (on trio and anyio too, whose
        # cancel scopes cancel every later await): the session takes a new transaction at once.
        assert not session.in_transaction
        assert stored(sync_client, coll) == [{"x": 0}]

        async def insert_two(session: Any) -> None:
            await coll.insert_one({"x": 2}, session=session)

        await session.with_transaction(insert_two)
    assert stored(sync_client, coll) == [{"x": 0}, {"x": 2}]


async def test_session_cannot_be_copied(client: Any) -> None:
    async with await client.start_session() as session:
        with pytest.raises(TypeError, match="cannot be copied"):
            copy.copy(session)
