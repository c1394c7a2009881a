"""Scenarios of Motor's Twisted classes, run on one reactor in a process of their own.

A reactor cannot be restarted, so ``test/test_twisted.py`` runs this script once per reactor::

    python test/twisted_scenarios.py MONGODB_URI default|asyncio [SCENARIO ...]

It installs the reactor, runs each scenario under :func:`twisted.internet.task.react` and prints
one JSON object per scenario on its own line: ``{"scenario": NAME, "reactor": CLASS, "result":
{...}}`` with what the scenario observed, or ``{"scenario": NAME, "reactor": CLASS, "error": "Type:
message"}`` if it raised. The test asserts the observations.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any

TIMEOUT = 60.0
DB_NAME = "motor_test_twisted"


def install_reactor(name: str) -> None:
    if name == "asyncio":
        from twisted.internet import asyncioreactor

        asyncioreactor.install(asyncio.new_event_loop())
    elif name != "default":
        raise SystemExit(f"unknown reactor {name!r}: default or asyncio")


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class Scenarios:
    def __init__(self, reactor: Any, uri: str) -> None:
        from motor.motor_twisted import TwistedMotorClient

        self.reactor = reactor
        self.uri = uri
        self.client = TwistedMotorClient(uri)
        self.db = self.client[DB_NAME]

    async def coll(self, name: str) -> Any:
        collection = self.db[name]
        await collection.drop()
        return collection

    # -- CRUD ----------------------------------------------------------------------------------

    def crud_inline_callbacks(self) -> Any:
        from twisted.internet.defer import Deferred, ensureDeferred, inlineCallbacks

        @inlineCallbacks
        def run() -> Generator[Any, Any, dict[str, Any]]:
            coll = yield ensureDeferred(self.coll("crud_inline_callbacks"))
            pending = coll.insert_one({"name": "apple", "qty": 1})
            is_deferred = isinstance(pending, Deferred)
            inserted = yield pending
            yield coll.update_one({"_id": inserted.inserted_id}, {"$inc": {"qty": 2}})
            found = yield coll.find_one({"_id": inserted.inserted_id}, {"_id": 0})
            deleted = yield coll.delete_one({"name": "apple"})
            count = yield coll.count_documents({})
            return {
                "is_deferred": is_deferred,
                "found": found,
                "deleted": deleted.deleted_count,
                "count": count,
            }

        return run()

    async def crud_await(self) -> dict[str, Any]:
        coll = await self.coll("crud_await")
        result = await coll.insert_many([{"i": i} for i in range(3)])
        await coll.replace_one({"i": 1}, {"i": 10})
        found = await coll.find_one({"i": 10}, {"_id": 0})
        deleted = await coll.delete_many({"i": {"$lt": 5}})
        return {
            "inserted": len(result.inserted_ids),
            "found": found,
            "deleted": deleted.deleted_count,
            "remaining": await coll.count_documents({}),
        }

    async def find_async_for_and_to_list(self) -> dict[str, Any]:
        coll = await self.coll("find")
        await coll.insert_many([{"i": i} for i in range(7)])
        iterated = [doc["i"] async for doc in coll.find().sort("i").batch_size(2)]
        listed = [doc["i"] for doc in await coll.find({"i": {"$gte": 3}}).sort("i", -1).to_list(None)]
        limited = await coll.find().sort("i").to_list(2)
        return {"iterated": iterated, "listed": listed, "limited": [doc["i"] for doc in limited]}

    # -- Change streams, transactions, GridFS ----------------------------------------------------

    async def change_stream(self) -> dict[str, Any]:
        coll = await self.coll("change_stream")
        async with coll.watch() as stream:
            await coll.insert_one({"x": "seen"})
            change = await stream.next()
        return {
            "operation": change["operationType"],
            "document": {k: v for k, v in change["fullDocument"].items() if k != "_id"},
            "alive_after": stream.alive,
        }

    async def transaction(self) -> dict[str, Any]:
        coll = await self.coll("transaction")

        async def transfer(session: Any) -> str:
            await coll.insert_one({"leg": "debit"}, session=session)
            await coll.insert_one({"leg": "credit"}, session=session)
            return "committed"

        class Refused(Exception):
            pass

        async def refused(session: Any) -> None:
            await coll.insert_one({"leg": "refused"}, session=session)
            raise Refused("no")

        async with await self.client.start_session() as session:
            outcome = await session.with_transaction(transfer)
            try:
                await session.with_transaction(refused)
                failure = None
            except Refused as exc:
                failure = describe(exc)
        legs = sorted(doc["leg"] for doc in await coll.find().to_list(None))
        return {"outcome": outcome, "failure": failure, "legs": legs}

    async def gridfs(self) -> dict[str, Any]:
        from motor.motor_twisted import TwistedMotorGridFSBucket

        bucket = TwistedMotorGridFSBucket(self.db, bucket_name="twisted_fs")
        data = bytes(range(256)) * 1000
        file_id = await bucket.upload_from_stream("blob.bin", data, chunk_size_bytes=10_000)
        stream = await bucket.open_download_stream(file_id)
        read = await stream.read()
        await bucket.delete(file_id)
        return {"filename": stream.filename, "length": stream.length, "same": read == data}

    # -- Errors and cancellation ----------------------------------------------------------------

    async def bad_input(self) -> dict[str, Any]:
        from twisted.internet.defer import Deferred

        coll = await self.coll("bad_input")
        try:
            pending = coll.insert_one("not a document")
        except BaseException as exc:  # what escapes synchronously is the observation
            return {"raised_synchronously": describe(exc)}
        try:
            await pending
            error = None
        except TypeError as exc:
            error = describe(exc)
        return {"is_deferred": isinstance(pending, Deferred), "error": error}

    async def cancel_queued(self) -> dict[str, Any]:
        from twisted.internet import defer
        from twisted.internet.defer import CancelledError, ensureDeferred

        from motor.motor_twisted import TwistedMotorClient

        coll = await self.coll("cancel_queued")
        small = TwistedMotorClient(self.uri, max_workers=1)
        small_coll = small[DB_NAME].cancel_queued
        try:
            await small.admin.command("ping")
            release = threading.Event()
            busy = small._engine.run(release.wait, 10)  # Holds the only worker.
            cancelled = small_coll.insert_one({"_id": "never"})
            queued = small_coll.insert_one({"_id": "kept"})
            # Cancelling the Deferred of a coroutine cancels the call it awaits.
            in_coroutine = ensureDeferred(self._insert(small_coll, "never-either"))
            # addTimeout cancels the Deferred when the time is up.
            timed = small_coll.insert_one({"_id": "timed-out"})
            timed.addTimeout(0.05, self.reactor)
            cancelled.cancel()
            in_coroutine.cancel()
            failures = []
            for pending in (cancelled, in_coroutine, timed):
                try:
                    await pending
                    failures.append(None)
                except (CancelledError, defer.TimeoutError) as exc:
                    failures.append(type(exc).__name__)
            marked = cancelled.cancelled()
            release.set()
            await busy
            await queued
            await small.admin.command("ping")  # Queued after the cancelled calls.
        finally:
            await small.aclose()
        ids = sorted(doc["_id"] for doc in await coll.find().to_list(None))
        return {"failures": failures, "marked_cancelled": marked, "ids": ids}

    async def cancel_commit(self) -> dict[str, Any]:
        from twisted.internet.defer import CancelledError, ensureDeferred

        from motor.motor_twisted import TwistedMotorClient

        coll = await self.coll("cancel_commit")
        small = TwistedMotorClient(self.uri, max_workers=1)
        small_coll = small[DB_NAME].cancel_commit
        release = threading.Event()
        running: list[Any] = []
        try:
            await small.admin.command("ping")
            session = await small.start_session()

            async def callback(session: Any) -> None:
                await small_coll.insert_one({"_id": "in-transaction"}, session=session)
                # The commit that follows waits for the only worker, and is cancelled meanwhile.
                running.append(small._engine.run(release.wait, 10))
                self.reactor.callLater(0, transaction.cancel)

            transaction = ensureDeferred(session.with_transaction(callback))
            try:
                await transaction
                failure = None
            except CancelledError as exc:
                failure = type(exc).__name__
            release.set()
            await running[0]
            await small.admin.command("ping")  # Queued after the transaction's abort.
            in_transaction = session.in_transaction
            await session.end_session()
        finally:
            release.set()
            await small.aclose()
        return {
            "failure": failure,
            "in_transaction": in_transaction,
            "ids": [doc["_id"] for doc in await coll.find().to_list(None)],
        }

    @staticmethod
    async def _insert(coll: Any, key: str) -> None:
        await coll.insert_one({"_id": key})

    async def responsive_during_server_selection(self) -> dict[str, Any]:
        from twisted.internet.task import LoopingCall

        from motor.motor_twisted import TwistedMotorClient

        ticks = 0

        def tick() -> None:
            nonlocal ticks
            ticks += 1

        # Port 1 of the loopback address: nothing listens there.
        unreachable = TwistedMotorClient(
            "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500&connectTimeoutMS=200"
        )
        looping = LoopingCall(tick)
        looping.start(0.01, now=False)
        start = time.monotonic()
        try:
            await unreachable.admin.command("ping")
            error = None
        except Exception as exc:  # the error is the observation
            error = type(exc).__name__
        elapsed = time.monotonic() - start
        ticks_during = ticks
        looping.stop()
        await unreachable.aclose()
        return {"error": error, "elapsed": round(elapsed, 3), "ticks": ticks_during}

    async def retrieved_failure_is_handled(self) -> dict[str, Any]:
        import gc

        from twisted.logger import globalLogPublisher

        from motor.frameworks import twisted as framework

        logged: list[str] = []

        def observe(event: dict[str, Any]) -> None:
            logged.append(str(event.get("log_format")))

        loop = framework.engine_loop(self.reactor)
        globalLogPublisher.addObserver(observe)
        try:
            retrieved = loop.create_future()
            retrieved.set_exception(ValueError("retrieved after it failed"))
            value = retrieved.exception()
            in_callback = loop.create_future()
            in_callback.add_done_callback(lambda f: f.cancelled() or f.exception())
            in_callback.set_exception(ValueError("retrieved by a done callback"))
            dropped = loop.create_future()
            dropped.cancel()
            del retrieved, in_callback, dropped
            gc.collect()
        finally:
            globalLogPublisher.removeObserver(observe)
        return {"value": describe(value) if value else None, "logged": logged}

    # -- The framework --------------------------------------------------------------------------

    async def framework(self) -> dict[str, Any]:
        from twisted.internet.task import deferLater
        from twisted.internet.threads import deferToThread

        from motor.frameworks import twisted as framework
        from motor.motor_twisted import TwistedMotorClient

        await deferLater(self.reactor, 0)  # Run first, the scenario would start before the reactor.
        loop = framework.running_loop()
        asyncio_loop = asyncio.new_event_loop()
        try:
            framework.check_event_loop(asyncio_loop)
            wrong_loop = None
        except TypeError as exc:
            wrong_loop = str(exc)
        finally:
            asyncio_loop.close()
        off_thread = await deferToThread(framework.running_loop)
        pinned = TwistedMotorClient(self.uri, io_loop=self.reactor)
        try:
            pong = await pinned.admin.command("ping")
        finally:
            await pinned.aclose()
        return {
            "running_loop_is_engine_loop": loop is framework.engine_loop(self.reactor),
            "get_event_loop_is_reactor": framework.get_event_loop() is self.reactor,
            "off_thread_running_loop": repr(off_thread),
            "wrong_loop": wrong_loop,
            "pinned_ping": pong.get("ok"),
            "platform": self.client.options.pool_options.metadata["platform"],
        }

    async def close(self) -> None:
        await self.client.aclose()


SCENARIOS = [
    "crud_inline_callbacks",
    "crud_await",
    "find_async_for_and_to_list",
    "change_stream",
    "transaction",
    "gridfs",
    "bad_input",
    "cancel_queued",
    "cancel_commit",
    "responsive_during_server_selection",
    "retrieved_failure_is_handled",
    "framework",
]


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=repr))


async def main(reactor: Any, uri: str, names: list[str]) -> None:
    from twisted.internet.defer import Deferred, ensureDeferred

    scenarios = Scenarios(reactor, uri)
    reactor_name = type(reactor).__name__
    try:
        for name in names:
            run: Callable[[], Awaitable[Any] | Deferred[Any]] = getattr(scenarios, name)
            outcome = run()
            running = outcome if isinstance(outcome, Deferred) else ensureDeferred(outcome)
            running.addTimeout(TIMEOUT, reactor)
            line: dict[str, Any] = {"scenario": name, "reactor": reactor_name}
            try:
                line["result"] = jsonable(await running)
            except BaseException as exc:  # reported, and the next scenario runs
                line["error"] = describe(exc)
            print(json.dumps(line), flush=True)
    finally:
        await scenarios.close()


if __name__ == "__main__":
    uri, reactor_name, *chosen = sys.argv[1:]
    install_reactor(reactor_name)
    from twisted.internet import task
    from twisted.logger import globalLogBeginner, textFileLogObserver

    # Twisted's log (unhandled errors in Deferreds included) goes to stderr, which the test reads.
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)

    task.react(main, (uri, chosen or SCENARIOS))
