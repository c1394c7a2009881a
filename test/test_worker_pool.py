"""The worker pool's wake-up policy: few threads for short calls, more as soon as calls block.

A pool keeps ``target`` workers busy with short calls and grows, up to ``max_workers``, only when
queued calls wait behind calls that block (slow queries, server selection): then a fast operation
must not wait for a slow one.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from motor import _engine
from test.support import DB_NAME, Flavor, fail_command


async def median_find_one(coll: Any, times: int = 7) -> float:
    elapsed = []
    for _ in range(times):
        start = time.monotonic()
        await coll.find_one({"_id": 1})
        elapsed.append(time.monotonic() - start)
    return sorted(elapsed)[len(elapsed) // 2]


async def test_slow_operations_do_not_delay_a_fast_one(
    flavor: Flavor, mongodb_uri: str, fail_points: Any
) -> None:
    app_name = f"slow-ops-{flavor}"
    client = flavor.Client(mongodb_uri, appName=app_name)
    coll = client[DB_NAME].slow_and_fast
    try:
        await coll.drop()
        await coll.insert_one({"_id": 1})
        alone = await median_find_one(coll)
        with fail_command(
            fail_points, app_name, ["aggregate"], blockConnection=True, blockTimeMS=1500, times=20
        ):
            slow = [asyncio.ensure_future(coll.count_documents({})) for _ in range(20)]
            await asyncio.sleep(0.2)  # All twenty are running or queued.
            assert not any(task.done() for task in slow)
            beside_slow = await median_find_one(coll, times=3)
            await asyncio.gather(*slow)
        # A few milliseconds: the pool notices that its workers are blocked and adds one.
        assert beside_slow < alone + 0.025, (alone, beside_slow)
    finally:
        await client.aclose()


async def test_a_burst_of_blocking_calls_grows_the_pool(flavor: Flavor, mongodb_uri: str) -> None:
    client = flavor.Client(mongodb_uri, max_workers=40)
    engine = client._engine
    try:
        start = time.monotonic()
        await asyncio.gather(*(engine.run(time.sleep, 0.3) for _ in range(40)))
        elapsed = time.monotonic() - start
        # Forty blocking calls ran side by side, not four at a time (which would take 3 s).
        assert elapsed < 1.2, elapsed
        assert engine.executor().threads == 40
    finally:
        await client.aclose()


def test_short_calls_keep_few_threads_busy() -> None:
    pool = _engine.WorkerPool(100, "motor-worker-short-test", target=4)
    done = threading.Semaphore(0)
    calls = 20_000
    try:
        for _ in range(calls):
            pool.submit(done.release)
        for _ in range(calls):
            assert done.acquire(timeout=10)
        assert pool.threads <= 16, pool.threads  # Of the 100 allowed.
    finally:
        pool.shutdown()


def test_the_most_recently_parked_worker_is_woken() -> None:
    pool = _engine.WorkerPool(8, "motor-worker-lifo-test", target=8)
    barrier = threading.Barrier(5)
    try:
        for _ in range(4):
            pool.submit(barrier.wait, 5)
        barrier.wait(5)  # Four threads exist; let them all park.
        deadline = time.monotonic() + 5
        while len(pool._parked) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        names = []
        for _ in range(20):
            ran = threading.Event()
            pool.submit(lambda ran=ran: (names.append(threading.current_thread().name), ran.set()))
            assert ran.wait(5)
            time.sleep(0.002)
        # One hot thread ran every call; a FIFO of parked workers would have rotated through four.
        assert len(set(names)) == 1, names
        assert pool.threads == 4
    finally:
        pool.shutdown()


def test_submit_after_shutdown_raises() -> None:
    pool = _engine.WorkerPool(2, "motor-worker-shutdown-test")
    pool.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(print)


def test_growth_behind_blocked_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every worker blocked: the pool doubles; waiting for the GIL: it does not grow."""
    # The test makes the supervisor's decisions itself, with chosen conditions.
    monkeypatch.setattr(_engine._supervisor, "watch", lambda pool: None)
    pool = _engine.WorkerPool(100, "motor-worker-growth-test", target=2)
    release = threading.Event()

    def settle() -> None:
        # Until every started thread runs a call, then until every call counts as blocked.
        deadline = time.monotonic() + 5
        while pool._starting + pool._waking and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(_engine.BLOCKED_AFTER * 2)

    try:
        for _ in range(30):
            pool.submit(release.wait, 10)
        settle()
        assert pool.threads == 2
        assert pool.supervise(time.monotonic(), saturated=True)
        assert pool.threads == 2  # Waiting for the GIL: no growth.
        pool.supervise(time.monotonic(), saturated=False)
        assert pool.threads == 4
        settle()
        pool.supervise(time.monotonic(), saturated=False)
        assert pool.threads == 8
        settle()
        pool.supervise(time.monotonic(), saturated=False)
        assert pool.threads == 16
    finally:
        release.set()
        pool.shutdown()
