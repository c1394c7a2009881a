"""One measurement, in a fresh process: one workload on one driver.

The parent runs ``python -m benchmarks.child '<json parameters>'`` and reads one JSON line from its
standard output: the iteration times, the CPU seconds spent in them, the ticker's delays, or
``{"skipped": reason}``. Iterations repeat until both ``min_iterations`` have run and
``min_time`` seconds have been spent in them, or ``max_time`` seconds have passed since the first.
One untimed warm-up iteration comes first (it connects, and checks the results). The async drivers
and the hop variants run on the event loop of ``params["loop"]``: ``asyncio`` (the default) or
``uvloop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from typing import Any

from bson import ObjectId

from benchmarks import hop, workloads
from benchmarks.workloads import DRIVERS, Context, get_workload

__all__ = ["main", "measure"]

#: The ticker's period: a task that sleeps this long, over and over, on the loop under test.
TICK_S = 0.001


class _Clock:
    """Decides when to stop, and records iteration times and CPU."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.min_iterations = params["min_iterations"]
        self.min_time = params["min_time"]
        self.max_time = params["max_time"]
        self.times: list[float] = []
        self.cpu = 0.0
        self.spent = 0.0
        self.started = 0.0

    def start(self) -> None:
        self.started = time.perf_counter()

    def done(self) -> bool:
        if time.perf_counter() - self.started >= self.max_time and self.times:
            return True
        return len(self.times) >= self.min_iterations and self.spent >= self.min_time

    def record(self, elapsed: float, cpu: float) -> None:
        self.times.append(elapsed)
        self.spent += elapsed
        self.cpu += cpu


class _Ticker:
    """A 1 ms ticker task: the largest delay past its due time shows how long the loop was blocked."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        clock = time.perf_counter
        sleep = asyncio.sleep
        delays = self.delays
        while True:
            due = clock() + TICK_S
            await sleep(TICK_S)
            delays.append(clock() - due)

    def start(self) -> None:
        self.task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def summary(self) -> dict[str, Any]:
        if not self.delays:
            return {"ticks": 0}
        ordered = sorted(self.delays)
        return {
            "ticks": len(ordered),
            "tick_max_s": ordered[-1],
            "tick_p99_s": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        }


def _result(params: dict[str, Any], clock: _Clock) -> dict[str, Any]:
    workload = get_workload(params["workload"])
    return {
        "workload": workload.name,
        "driver": params["driver"],
        "loop": params.get("loop", "asyncio"),
        "tasks": workload.tasks,
        "batch_size": workload.batch,
        "ops_per_iteration": workload.ops(params["scale"]),
        "bytes_per_iteration": workload.iteration_bytes(params["scale"]),
        "times": clock.times,
        "cpu_s": clock.cpu,
    }


def _file_id(params: dict[str, Any]) -> Any:
    value = params.get("file_id")
    return ObjectId(value) if value else ObjectId()


def _run_sync(params: dict[str, Any], bucket_class: Any) -> dict[str, Any]:
    driver = DRIVERS[params["driver"]]
    client = driver.client_factory()(params["uri"])
    ctx = Context(get_workload(params["workload"]), client, params["scale"], bucket_class, _file_id(params))
    clock = _Clock(params)
    process_time, perf_counter = time.process_time, time.perf_counter
    try:
        workloads.sync_prepare(ctx)
        workloads.sync_iteration(ctx)  # Warm-up.
        clock.start()
        while not clock.done():
            workloads.sync_prepare(ctx)
            cpu, start = process_time(), perf_counter()
            workloads.sync_iteration(ctx)
            elapsed, cpu = perf_counter() - start, process_time() - cpu
            clock.record(elapsed, cpu)
    finally:
        if ctx.pool is not None:
            ctx.pool.shutdown()
        client.close()
    return _result(params, clock)


async def _run_async(params: dict[str, Any], bucket_class: Any) -> dict[str, Any]:
    driver = DRIVERS[params["driver"]]
    client = driver.client_factory()(params["uri"])
    ctx = Context(get_workload(params["workload"]), client, params["scale"], bucket_class, _file_id(params))
    clock = _Clock(params)
    ticker = _Ticker()
    process_time, perf_counter = time.process_time, time.perf_counter
    try:
        await workloads.async_prepare(ctx)
        await workloads.async_iteration(ctx)  # Warm-up.
        if params["ticker"]:
            ticker.start()
        clock.start()
        while not clock.done():
            await workloads.async_prepare(ctx)
            cpu, start = process_time(), perf_counter()
            await workloads.async_iteration(ctx)
            elapsed, cpu = perf_counter() - start, process_time() - cpu
            clock.record(elapsed, cpu)
    finally:
        await ticker.stop()
        closing = client.close()
        if closing is not None and hasattr(closing, "__await__"):
            await closing
    result = _result(params, clock)
    result.update(ticker.summary())
    return result


async def _run_hop(params: dict[str, Any]) -> dict[str, Any]:
    workload = get_workload(params["workload"])
    parts = workloads.split(workload.ops(params["scale"]), workload.tasks)
    call = hop.make_hop(params["driver"])
    clock = _Clock(params)
    process_time, perf_counter = time.process_time, time.perf_counter

    async def iteration() -> None:
        if len(parts) == 1:
            await hop.run_part(call, parts[0])
        else:
            await asyncio.gather(*(hop.run_part(call, part) for part in parts))

    try:
        await iteration()  # Warm-up: starts the threads.
        clock.start()
        while not clock.done():
            cpu, start = process_time(), perf_counter()
            await iteration()
            elapsed, cpu = perf_counter() - start, process_time() - cpu
            clock.record(elapsed, cpu)
    finally:
        closing = call.close()
        if closing is not None and hasattr(closing, "__await__"):
            await closing
    return _result(params, clock)


def _run_on_loop(params: dict[str, Any], main: Any) -> dict[str, Any]:
    if params.get("loop", "asyncio") == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main)  # type: ignore[no-any-return]
    return asyncio.run(main)  # type: ignore[no-any-return]


def measure(params: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in this process; return its raw result."""
    workload = get_workload(params["workload"])
    if workload.hop:
        return _run_on_loop(params, _run_hop(params))
    driver = DRIVERS[params["driver"]]
    bucket_class = None
    if workload.body.startswith("gridfs"):
        bucket_class = driver.bucket_factory()
        if bucket_class is None:
            return {
                "workload": workload.name,
                "driver": driver.key,
                "skipped": f"{driver.gridfs_module}.{driver.gridfs_class} is not importable yet",
            }
    if driver.is_async:
        return _run_on_loop(params, _run_async(params, bucket_class))
    return _run_sync(params, bucket_class)


def main() -> None:
    params = json.loads(sys.argv[1])
    result = measure(params)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
