"""A bounded soak run: mixed Motor operations for a fixed time, reporting memory growth.

Run on demand, not by pytest::

    python -m test.soak --seconds 60
    python -m test.soak --seconds 600 --framework tornado --uri mongodb://localhost:27017

Many tasks run a random mix of operations: CRUD, cursors read to the end or abandoned, aggregations,
bulk writes, transactions, change streams, and calls cancelled part way. After a warm-up (a tenth
of the time) the process's resident memory is sampled; the report gives its growth from the end of
the warm-up to the end of the run. With ``--max-growth-mb`` the exit status is 1 if the growth is
larger. Without ``--uri`` (or ``MONGODB_URI``) a SecantusDB is started for the run.
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

from pymongo import InsertOne, UpdateOne
from pymongo.errors import PyMongoError

from motor.testing import SecantusServer

DB_NAME = "motor_soak"


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


class Soak:
    def __init__(self, client: Any, seconds: float, tasks: int, seed: int) -> None:
        self.client = client
        self.coll = client[DB_NAME].soak
        self.seconds = seconds
        self.tasks = tasks
        self.random = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.running = True
        self.operations: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
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
            ("cancelled", self.cancelled),
            ("trim", self.trim),
        ]

    def key(self) -> int:
        return self.random.randrange(10_000)

    async def insert_one(self) -> None:
        await self.coll.insert_one({"k": self.key(), "payload": "x" * self.random.randrange(10, 2000)})

    async def find_one(self) -> None:
        await self.coll.find_one({"k": self.key()})

    async def update_one(self) -> None:
        await self.coll.update_one({"k": self.key()}, {"$inc": {"n": 1}}, upsert=True)

    async def find_to_list(self) -> None:
        await self.coll.find({"k": {"$gte": self.key()}}).limit(50).batch_size(10).to_list()

    async def async_for_break(self) -> None:
        async for _ in self.coll.find().batch_size(5):
            break

    async def aggregate(self) -> None:
        pipeline = [{"$match": {"k": {"$lt": self.key()}}}, {"$group": {"_id": None, "n": {"$sum": 1}}}]
        await self.coll.aggregate(pipeline).to_list()

    async def count_documents(self) -> None:
        await self.coll.count_documents({"k": {"$lt": self.key()}})

    async def bulk_write(self) -> None:
        requests = [InsertOne({"k": self.key()}) for _ in range(5)]
        requests.append(UpdateOne({"k": self.key()}, {"$set": {"bulk": True}}))
        await self.coll.bulk_write(requests)

    async def transaction(self) -> None:
        async def body(session: Any) -> None:
            await self.coll.insert_one({"k": self.key(), "txn": True}, session=session)
            await self.coll.update_one({"k": self.key()}, {"$set": {"txn": True}}, session=session)

        async with await self.client.start_session() as session:
            await session.with_transaction(body)

    async def change_stream(self) -> None:
        async with self.coll.watch(max_await_time_ms=50) as stream:
            await self.coll.insert_one({"k": self.key(), "watched": True})
            await stream.try_next()

    async def cancelled(self) -> None:
        operation = self.random.choice([self.find_to_list, self.insert_one, self.aggregate])
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(operation(), self.random.random() / 500)

    async def trim(self) -> None:
        if await self.coll.estimated_document_count() > 5_000:
            await self.coll.delete_many({"k": {"$lt": self.key()}})

    async def worker(self) -> None:
        while self.running:
            name, operation = self.random.choice(self.operations)
            try:
                await operation()
            except PyMongoError as exc:
                self.errors[f"{name}: {type(exc).__name__}"] += 1
            self.counts[name] += 1

    async def run(self) -> dict[str, Any]:
        await self.coll.drop()
        await self.coll.create_index("k")
        workers = [asyncio.ensure_future(self.worker()) for _ in range(self.tasks)]
        start = time.monotonic()
        warm_up = max(3.0, self.seconds / 10)
        await asyncio.sleep(warm_up)
        gc.collect()
        baseline, baseline_ops = rss_mb(), sum(self.counts.values())
        threads_after_warm_up = threading.active_count()
        print(f"after {warm_up:.0f} s warm-up: RSS {baseline:.1f} MiB, {threading.active_count()} threads")
        samples = [baseline]
        while time.monotonic() - start < self.seconds:
            await asyncio.sleep(min(5.0, max(0.0, self.seconds - (time.monotonic() - start))))
            samples.append(rss_mb())
            print(
                f"{time.monotonic() - start:6.0f} s: RSS {samples[-1]:.1f} MiB, "
                f"{sum(self.counts.values())} operations, {threading.active_count()} threads",
                flush=True,
            )
        self.running = False
        await asyncio.gather(*workers)
        await self.coll.drop()
        gc.collect()
        final = rss_mb()
        operations = sum(self.counts.values())
        return {
            "seconds": time.monotonic() - start,
            "operations": operations,
            "measured_operations": operations - baseline_ops,
            "rss_baseline": baseline,
            "rss_final": final,
            "rss_peak": max(*samples, final),
            "threads": (threads_after_warm_up, threading.active_count()),
        }


async def main_async(args: argparse.Namespace, uri: str) -> dict[str, Any]:
    if args.framework == "tornado":
        from motor.motor_tornado import MotorClient as Client
    else:
        from motor.motor_asyncio import AsyncIOMotorClient as Client
    client = Client(uri, maxPoolSize=args.max_pool_size)
    try:
        soak = Soak(client, args.seconds, args.tasks, args.seed)
        report = await soak.run()
        report["counts"], report["errors"] = soak.counts, soak.errors
        return report
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to run (default 60)")
    parser.add_argument("--tasks", type=int, default=50, help="concurrent tasks (default 50)")
    parser.add_argument("--framework", choices=["asyncio", "tornado"], default="asyncio")
    parser.add_argument("--uri", default=os.environ.get("MONGODB_URI"), help="server to use")
    parser.add_argument("--max-pool-size", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-growth-mb", type=float, help="fail if RSS grows more than this")
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
    print()
    print(f"framework        {args.framework}, {args.tasks} tasks, {report['seconds']:.0f} s")
    print(f"operations       {report['operations']} ({report['operations'] / report['seconds']:.0f}/s)")
    print(f"RSS              {report['rss_baseline']:.1f} MiB after warm-up -> {report['rss_final']:.1f} MiB")
    print(
        f"RSS growth       {growth:+.1f} MiB ({growth / report['rss_baseline'] * 100:+.1f} %) over "
        f"{report['measured_operations']} operations; peak {report['rss_peak']:.1f} MiB"
    )
    print(f"threads          {report['threads'][0]} after warm-up, {report['threads'][1]} at the end")
    print(f"by operation     {dict(sorted(report['counts'].items()))}")
    print(f"errors           {dict(report['errors']) or 'none'}")
    if args.max_growth_mb is not None and growth > args.max_growth_mb:
        print(f"FAIL: RSS grew {growth:.1f} MiB, more than {args.max_growth_mb} MiB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
