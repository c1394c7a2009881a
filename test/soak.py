"""A bounded soak run under faults: mixed Motor operations for a fixed time, then what is left behind.

Run on demand (``test/test_soak.py`` runs a short one in the suite)::

    python -m test.soak --seconds 60
    python -m test.soak --seconds 300 --check
    python -m test.soak --seconds 600 --framework tornado --uri mongodb://localhost:27017

For the whole run, all at once:

- worker tasks run a random mix of operations: CRUD, cursors read to the end or abandoned,
  aggregations, bulk writes, transactions and short change streams, some of them cancelled at a
  random point;
- a fault task sets the ``failCommand`` fail point every few hundred milliseconds, for the soak's
  clients only (by ``appName``): closed connections, retryable and other error codes, blocked
  commands (skipped, and said so, if the server does not enable test commands);
- watcher tasks keep change streams open for a while, and close them or cancel them as they wait;
- churn tasks create clients, use them, then close them or just drop them.

With ``--framework both`` (the default) half of every kind of task uses the asyncio classes and
half the Tornado classes, on one event loop.

The report gives the operations and errors; the threads before any client, during the run, and
after every client is closed; the server's open cursors and connections at the start, at the end,
and after the close; the growth of the resident memory from the end of the warm-up (a tenth of the
time) to the end; and the event loop's largest stall, measured by a 5 ms timer.

With ``--check`` the exit status is 1 if an operation raised something other than a PyMongo error
or if a thread of the run outlives the clients, and, in a run without faults, if a server cursor
does: a fault can leave cursors on the server that PyMongo does not kill (after a ``getMore`` that
failed on the network or with a "not primary" error, or a ``killCursors`` that could not be sent),
which the server times out (after 10 minutes on mongod). ``--max-growth-mb`` and
``--max-stall-ms`` add limits. Without ``--uri`` (or ``MONGODB_URI``) a SecantusDB is started for
the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import random
import resource
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo import InsertOne, UpdateOne, monitoring
from pymongo.errors import OperationFailure, PyMongoError

from motor.testing import SecantusServer

DB_NAME = "motor_soak"
COLLECTION = "soak"
#: The fail points apply to the clients of this appName, so the control client is never hit.
APP_NAME = "motor-soak"
#: Client options of every soak client. A "not primary" fault makes PyMongo wait for the next
#: heartbeat before it selects the server again: 500 ms rather than the default 10 s.
CLIENT_OPTIONS: dict[str, Any] = {"appname": APP_NAME, "heartbeatFrequencyMS": 500}

#: The faults the fault task injects, by name: the ``failCommand`` fail point's ``data``.
FAULTS: dict[str, dict[str, Any]] = {
    "closed connection": {"closeConnection": True},
    "ShutdownInProgress": {"errorCode": 91, "errorLabels": ["RetryableWriteError"]},
    "NotWritablePrimary": {"errorCode": 10107, "errorLabels": ["RetryableWriteError"]},
    "BadValue": {"errorCode": 2},
    "blocked 100 ms": {"blockConnection": True, "blockTimeMS": 100},
}
FAULT_COMMANDS = ["insert", "find", "update", "delete", "aggregate", "getMore"]

#: "Not primary" and "shutting down" error codes: after a ``getMore`` fails with one of these, or on
#: the network, PyMongo does not kill the cursor, which stays on the server until the server times
#: it out (10 minutes on mongod). A change stream then resumes on a new cursor.
NOT_PRIMARY_CODES = {91, 189, 10058, 10107, 11600, 11602, 13435, 13436}


class CursorLog(monitoring.CommandListener):
    """Collects the cursors that PyMongo left open after their ``getMore`` failed (by monitoring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[Any, int], int] = {}
        self.abandoned: set[int] = set()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "getMore":
            with self._lock:
                self._pending[event.connection_id, event.request_id] = event.command["getMore"]

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if event.command_name == "getMore":
            with self._lock:
                self._pending.pop((event.connection_id, event.request_id), None)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        if event.command_name != "getMore":
            return
        # PyMongo publishes a server's error reply as it is, and a network error with its type.
        left_open = "errtype" in event.failure or event.failure.get("code") in NOT_PRIMARY_CODES
        with self._lock:
            cursor_id = self._pending.pop((event.connection_id, event.request_id), None)
            if left_open and cursor_id is not None:
                self.abandoned.add(cursor_id)


#: Threads that belong to the process rather than to a client: Motor's supervisor exits by itself
#: once it has been idle for a while.
PROCESS_THREADS = {"motor-supervisor"}


def rss_mb() -> float:
    """The process's resident set size now, in MiB (the peak where /proc is missing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def client_classes(framework: str) -> list[Any]:
    from motor.motor_asyncio import AsyncIOMotorClient

    if framework == "asyncio":
        return [AsyncIOMotorClient]
    from motor.motor_tornado import MotorClient

    return [MotorClient] if framework == "tornado" else [AsyncIOMotorClient, MotorClient]


class Ticker:
    """A 5 ms timer on the loop that records its largest delay (the loop's stall).

    It also times the garbage collector, which stops every thread while it runs, so that the report
    can tell a stall of the loop from a pause of the whole process.
    """

    def __init__(self) -> None:
        self.max_stall = 0.0
        self.stalls_over_50_ms = 0
        self.max_gc_pause = 0.0
        self._gc_started = 0.0
        gc.callbacks.append(self._time_gc)

    def _time_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.max_gc_pause = max(self.max_gc_pause, time.perf_counter() - self._gc_started)

    def close(self) -> None:
        gc.callbacks.remove(self._time_gc)

    def reset(self) -> None:
        self.max_stall, self.stalls_over_50_ms, self.max_gc_pause = 0.0, 0, 0.0

    async def run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            stall = time.perf_counter() - start - 0.005
            self.max_stall = max(self.max_stall, stall)
            self.stalls_over_50_ms += stall > 0.050


class Soak:
    def __init__(self, args: argparse.Namespace, uri: str, control: Any) -> None:
        self.args = args
        self.uri = uri
        self.control = control
        self.classes = client_classes(args.framework)
        self.cursor_log = CursorLog()
        self.clients = [
            cls(uri, maxPoolSize=args.max_pool_size, event_listeners=[self.cursor_log], **CLIENT_OPTIONS)
            for cls in self.classes
        ]
        self.random = random.Random(args.seed)
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.unexpected: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.running = True
        self.ticker = Ticker()
        self.operations: list[tuple[str, Callable[[Any], Awaitable[Any]]]] = [
            ("insert_one", self.insert_one),
            ("find_one", self.find_one),
            ("update_one", self.update_one),
            ("find_to_list", self.find_to_list),
            ("async_for_break", self.async_for_break),
            ("aggregate", self.aggregate),
            ("count_documents", self.count_documents),
            ("bulk_write", self.bulk_write),
            ("transaction", self.transaction),
            ("change_stream", self.change_stream),
        ]

    def key(self) -> int:
        return self.random.randrange(10_000)

    def coll(self, index: int) -> Any:
        return self.clients[index % len(self.clients)][DB_NAME][COLLECTION]

    # -- Operations ----------------------------------------------------------------------------

    async def insert_one(self, coll: Any) -> None:
        await coll.insert_one({"k": self.key(), "payload": "x" * self.random.randrange(10, 2000)})

    async def find_one(self, coll: Any) -> None:
        await coll.find_one({"k": self.key()})

    async def update_one(self, coll: Any) -> None:
        await coll.update_one({"k": self.key()}, {"$inc": {"n": 1}}, upsert=True)

    async def find_to_list(self, coll: Any) -> None:
        await coll.find({"k": {"$gte": self.key()}}).limit(50).batch_size(10).to_list()

    async def async_for_break(self, coll: Any) -> None:
        async for _ in coll.find().batch_size(5):
            break

    async def aggregate(self, coll: Any) -> None:
        pipeline = [{"$match": {"k": {"$lt": self.key()}}}, {"$group": {"_id": None, "n": {"$sum": 1}}}]
        await coll.aggregate(pipeline).to_list()

    async def count_documents(self, coll: Any) -> None:
        await coll.count_documents({"k": {"$lt": self.key()}})

    async def bulk_write(self, coll: Any) -> None:
        requests: list[Any] = [InsertOne({"k": self.key()}) for _ in range(5)]
        requests.append(UpdateOne({"k": self.key()}, {"$set": {"bulk": True}}))
        await coll.bulk_write(requests)

    async def transaction(self, coll: Any) -> None:
        async def body(session: Any) -> None:
            await coll.insert_one({"k": self.key(), "txn": True}, session=session)
            await coll.update_one({"k": self.key()}, {"$set": {"txn": True}}, session=session)

        async with await coll.database.client.start_session() as session:
            await session.with_transaction(body)

    async def change_stream(self, coll: Any) -> None:
        async with coll.watch(max_await_time_ms=50) as stream:
            await coll.insert_one({"k": self.key(), "watched": True})
            await stream.try_next()

    async def trim(self, coll: Any) -> None:
        if await coll.estimated_document_count() > 5_000:
            await coll.delete_many({"k": {"$lt": self.key()}})

    # -- Tasks ---------------------------------------------------------------------------------

    async def guarded(self, name: str, operation: Awaitable[Any]) -> None:
        """Await ``operation``, counting it and any error it raises."""
        try:
            await operation
        except PyMongoError as exc:
            self.errors[f"{name}: {type(exc).__name__}"] += 1
        except Exception as exc:
            self.unexpected[f"{name}: {type(exc).__name__}: {exc}"] += 1
        self.counts[name] += 1

    async def cancelled(self, name: str, operation: Awaitable[Any]) -> None:
        """Run ``operation`` as a task and cancel it 0 to 10 ms later, wherever it is then."""
        task = asyncio.ensure_future(self.guarded(name, operation))
        await asyncio.sleep(self.random.random() / 100)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if task.cancelled():
            self.counts[f"{name} (cancelled)"] += 1

    async def worker(self, index: int) -> None:
        coll = self.coll(index)
        while self.running:
            name, operation = self.random.choice(self.operations)
            if self.random.random() < 0.02:
                await self.guarded("trim", self.trim(coll))
            elif self.random.random() < self.args.cancel_fraction:
                await self.cancelled(name, operation(coll))
            else:
                await self.guarded(name, operation(coll))

    async def watcher(self, index: int) -> None:
        """Keep a change stream open for 0.2 to 2 s; cancel a third of them as they wait."""
        coll = self.coll(index)
        while self.running:
            stream = coll.watch(max_await_time_ms=100)
            try:
                if self.random.random() < 1 / 3:
                    await self.cancelled("watch next", stream.next())
                else:
                    deadline = time.monotonic() + self.random.uniform(0.2, 2.0)
                    while self.running and time.monotonic() < deadline:
                        await self.guarded("watch try_next", stream.try_next())
            finally:
                await self.guarded("watch close", stream.close())

    async def churn(self, index: int) -> None:
        """Create a client, use it, then close it or drop it without closing it."""
        while self.running:
            cls = self.classes[index % len(self.classes)]
            client = cls(
                self.uri,
                maxPoolSize=self.random.randint(1, 4),
                event_listeners=[self.cursor_log],
                **CLIENT_OPTIONS,
            )
            coll = client[DB_NAME][COLLECTION]
            await self.guarded("churn insert_one", self.insert_one(coll))
            await self.guarded("churn find_one", self.find_one(coll))
            if self.random.random() < 0.5:
                await self.guarded("churn async_for_break", self.async_for_break(coll))
            if self.random.random() < 0.3:
                await self.guarded("churn change_stream", self.change_stream(coll))
            if self.random.random() < 0.5:
                await client.aclose()
                self.counts["clients closed"] += 1
            else:
                self.counts["clients dropped"] += 1
            del client, coll
            await asyncio.sleep(self.random.random() / 10)

    async def fault(self) -> None:
        """Every 100 to 500 ms, make the next 1 to 3 of some commands fail in some way."""
        while self.running:
            name = self.random.choice(list(FAULTS))
            commands = self.random.sample(FAULT_COMMANDS, self.random.randint(1, 3))
            await self.guarded(
                "configureFailPoint",
                self.control.admin.command(
                    "configureFailPoint",
                    "failCommand",
                    mode={"times": self.random.randint(1, 3)},
                    data={"failCommands": commands, "appName": APP_NAME, **FAULTS[name]},
                ),
            )
            self.faults[name] += 1
            await asyncio.sleep(self.random.uniform(0.1, 0.5))

    async def server_cursors(self) -> tuple[int | None, int | None]:
        """The server's open cursors and current connections, if it reports them."""
        status = await self.control.admin.command("serverStatus")
        cursors = status.get("metrics", {}).get("cursor", {}).get("open", {}).get("total")
        return cursors, status.get("connections", {}).get("current")

    async def fail_points_enabled(self) -> bool:
        try:
            await self.control.admin.command("configureFailPoint", "failCommand", mode="off")
        except OperationFailure:
            return False
        return True

    async def run(self) -> dict[str, Any]:
        report: dict[str, Any] = {"server_before": await self.server_cursors()}
        await self.coll(0).drop()
        await self.coll(0).create_index("k")
        ticking = asyncio.ensure_future(self.ticker.run())
        faults = not self.args.no_fail_points and await self.fail_points_enabled()
        report["fail_points"] = faults
        tasks = [asyncio.ensure_future(self.worker(i)) for i in range(self.args.tasks)]
        tasks += [asyncio.ensure_future(self.watcher(i)) for i in range(self.args.watchers)]
        tasks += [asyncio.ensure_future(self.churn(i)) for i in range(self.args.churners)]
        if faults:
            tasks.append(asyncio.ensure_future(self.fault()))
        start = time.monotonic()
        warm_up = max(3.0, self.args.seconds / 10)
        await asyncio.sleep(warm_up)
        gc.collect()
        self.ticker.reset()
        baseline, baseline_ops = rss_mb(), sum(self.counts.values())
        threads = [threading.active_count()]
        print(f"after {warm_up:.0f} s warm-up: RSS {baseline:.1f} MiB, {threads[-1]} threads")
        samples = [baseline]
        while time.monotonic() - start < self.args.seconds:
            await asyncio.sleep(min(5.0, max(0.0, self.args.seconds - (time.monotonic() - start))))
            samples.append(rss_mb())
            threads.append(threading.active_count())
            cursors, connections = await self.server_cursors()
            print(
                f"{time.monotonic() - start:6.0f} s: RSS {samples[-1]:.1f} MiB, "
                f"{sum(self.counts.values())} operations, {threads[-1]} threads, "
                f"server: {cursors} open cursors, {connections} connections, "
                f"loop stall so far {self.ticker.max_stall * 1000:.0f} ms",
                flush=True,
            )
        self.running = False
        await asyncio.gather(*tasks)
        report["seconds"] = time.monotonic() - start
        ticker = self.ticker
        report.update(
            max_stall=ticker.max_stall,
            stalls_over_50_ms=ticker.stalls_over_50_ms,
            max_gc_pause=ticker.max_gc_pause,
        )
        if faults:
            await self.control.admin.command("configureFailPoint", "failCommand", mode="off")
        report["threads_during"] = (threads[0], max(threads))
        report["server_at_end"] = await self.server_cursors()
        await self.coll(0).drop()
        gc.collect()
        final = rss_mb()

        for client in self.clients:
            await client.aclose()
        gc.collect()
        # Cursors of dropped clients are killed when PyMongo collects them, on its own schedule.
        await asyncio.sleep(2)
        report["server_after_close"] = await self.server_cursors()
        ticking.cancel()
        self.ticker.close()
        operations = sum(self.counts.values())
        report.update(
            operations=operations,
            measured_operations=operations - baseline_ops,
            rss_baseline=baseline,
            rss_final=final,
            rss_peak=max(*samples, final),
        )
        return report


def leftover_threads(before: set[threading.Thread]) -> list[str]:
    return sorted(
        thread.name
        for thread in threading.enumerate()
        if thread not in before and thread.name not in PROCESS_THREADS
    )


async def main_async(args: argparse.Namespace, uri: str) -> dict[str, Any]:
    threads_before = set(threading.enumerate())
    from motor.motor_asyncio import AsyncIOMotorClient

    control: Any = AsyncIOMotorClient(uri, appname=f"{APP_NAME}-control")
    try:
        soak = Soak(args, uri, control)
        report = await soak.run()
        report["threads_before"] = len(threads_before)
        report["counts"], report["errors"] = soak.counts, soak.errors
        report["unexpected"], report["faults"] = soak.unexpected, soak.faults
        report["cursor_failures"] = len(soak.cursor_log.abandoned)
    finally:
        await control.aclose()
    del soak
    gc.collect()
    # Worker threads of closed clients end at once; those of dropped clients when the client is
    # collected; idle ones after Motor's idle timeout.
    deadline = time.monotonic() + args.thread_wait
    while leftover_threads(threads_before) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    report["threads_left"] = leftover_threads(threads_before)
    report["threads_after_close"] = threading.active_count()
    report["waited"] = args.thread_wait - max(0.0, deadline - time.monotonic())
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to run (default 60)")
    parser.add_argument("--tasks", type=int, default=40, help="operation tasks (default 40)")
    parser.add_argument("--watchers", type=int, default=4, help="change stream tasks (default 4)")
    parser.add_argument("--churners", type=int, default=2, help="client churn tasks (default 2)")
    parser.add_argument(
        "--cancel-fraction", type=float, default=0.2, help="operations cancelled part way (default 0.2)"
    )
    parser.add_argument("--no-fail-points", action="store_true", help="inject no faults")
    parser.add_argument("--framework", choices=["asyncio", "tornado", "both"], default="both")
    parser.add_argument("--uri", default=os.environ.get("MONGODB_URI"), help="server to use")
    parser.add_argument("--max-pool-size", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--thread-wait", type=float, default=15.0, help="seconds to wait for threads to end")
    parser.add_argument("--check", action="store_true", help="fail if anything is left behind")
    parser.add_argument("--max-growth-mb", type=float, help="fail if RSS grows more than this")
    parser.add_argument("--max-stall-ms", type=float, help="fail if the loop stalls longer than this")
    args = parser.parse_args(argv)

    server = None
    uri = args.uri
    if not uri:
        server = SecantusServer().start()
        uri = server.uri
    try:
        report = asyncio.run(main_async(args, uri))
    finally:
        if server is not None:
            server.close()

    growth = report["rss_final"] - report["rss_baseline"]
    cursors_before, connections_before = report["server_before"]
    cursors_end, connections_end = report["server_at_end"]
    cursors_closed, connections_closed = report["server_after_close"]
    errors = dict(sorted(report["errors"].items()))
    print()
    print(
        f"framework        {args.framework}: {args.tasks} operation tasks, {args.watchers} change stream "
        f"tasks, {args.churners} client churn tasks, {report['seconds']:.0f} s"
    )
    print(f"operations       {report['operations']} ({report['operations'] / report['seconds']:.0f}/s)")
    print(f"by operation     {dict(sorted(report['counts'].items()))}")
    if report["fail_points"]:
        print(f"faults injected  {sum(report['faults'].values())}: {dict(sorted(report['faults'].items()))}")
    elif args.no_fail_points:
        print("faults injected  none (--no-fail-points)")
    else:
        print("faults injected  none: the server does not enable test commands (configureFailPoint)")
    print(f"PyMongo errors   {sum(errors.values())}: {errors or 'none'}")
    print(f"other errors     {dict(report['unexpected']) or 'none'}")
    print(
        f"threads          {report['threads_before']} before any client, {report['threads_during'][0]} "
        f"after warm-up, at most {report['threads_during'][1]} during the run, "
        f"{report['threads_after_close']} {report['waited']:.0f} s after closing the clients; "
        f"left by the run: {', '.join(report['threads_left']) or 'none'}"
    )
    if cursors_before is None:
        print("server cursors   not reported by the server (serverStatus metrics.cursor.open)")
    else:
        print(
            f"server cursors   {cursors_before} open at the start, {cursors_end} at the end, "
            f"{cursors_closed} once the clients were closed; PyMongo left {report['cursor_failures']} "
            "open after a getMore failed on the network or with a not-primary error"
        )
    print(
        f"connections      {connections_before} at the start, {connections_end} at the end, "
        f"{connections_closed} once the clients were closed (the control client's included)"
    )
    print(f"RSS              {report['rss_baseline']:.1f} MiB after warm-up -> {report['rss_final']:.1f} MiB")
    print(
        f"RSS growth       {growth:+.1f} MiB ({growth / report['rss_baseline'] * 100:+.1f} %) over "
        f"{report['measured_operations']} operations; peak {report['rss_peak']:.1f} MiB"
    )
    print(
        f"loop stall       {report['max_stall'] * 1000:.0f} ms at most after warm-up (5 ms timer); "
        f"{report['stalls_over_50_ms']} stalls over 50 ms; longest garbage collection "
        f"{report['max_gc_pause'] * 1000:.0f} ms"
    )

    failures = []
    if args.check:
        if report["unexpected"]:
            failures.append("operations raised errors other than PyMongo's")
        if report["threads_left"]:
            failures.append(f"threads outlived the clients: {', '.join(report['threads_left'])}")
        left = 0 if cursors_before is None else cursors_closed - cursors_before
        if left > 0 and not report["fail_points"]:
            failures.append(f"{left} server cursors outlived the clients")
    if args.max_growth_mb is not None and growth > args.max_growth_mb:
        failures.append(f"RSS grew {growth:.1f} MiB, more than {args.max_growth_mb} MiB")
    if args.max_stall_ms is not None and report["max_stall"] * 1000 > args.max_stall_ms:
        failures.append(
            f"the loop stalled {report['max_stall'] * 1000:.0f} ms, more than {args.max_stall_ms} ms"
        )
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
