"""Tables from a run's results: the console report of ``python -m benchmarks``, and the RST tables of
``doc/performance.rst``.

``python -m benchmarks.report RUN.json [--before BEFORE.json]`` prints, from a run saved with
``python -m benchmarks --json RUN.json``, the page's tables as ``.. code-block:: text`` blocks ready
to paste: the hop micro-benchmark, the serial workloads, the task-count curve, FindMany with the
loop's largest stall, the other workloads, the targets, and, given ``--before``, Motor's ratios in
both runs side by side. Absolute figures of two runs are not compared: on a shared machine they move
by tens of percent from run to run, while ratios within one run move much less.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.stats import PERCENTILES, score
from benchmarks.workloads import DRIVERS, HOP_VARIANTS, Workload, get_workload, label

__all__ = ["Run", "load", "main", "print_console", "rst_table"]

#: Issue 14's targets for Motor on the canned server.
SERIAL_TARGETS = ("RunCommand", "FindOneByID", "SmallDocInsertOne")
MIN_SERIAL_VS_ASYNC = 1.0
MIN_SERIAL_VS_SYNC = 0.80
CURVE_BASES = ("RunCommand", "FindOneByID")
MIN_CONCURRENT_VS_ASYNC = 1.2
MAX_CONCURRENT_CPU_VS_SYNC = 1.5
MAX_ENGINE_VS_FLOOR = 1.3

Results = dict[tuple[str, str], dict[str, Any]]


class Run:
    """A run's metadata, scored results and workloads, as saved by ``--json``."""

    def __init__(
        self, meta: dict[str, Any], results: Results, workloads: Sequence[Workload], name: str = "this run"
    ) -> None:
        self.meta = meta
        self.results = results
        self.workloads = list(workloads)
        #: The run's name in tables: its file's name without ``.json``.
        self.name = name

    def get(self, workload: str, driver: str, key: str) -> Any:
        result = self.results.get((workload, driver))
        return None if result is None else result.get(key)

    def ratio(self, workload: str, top: str, bottom: str, key: str = "ops_per_s") -> float | None:
        high, low = self.get(workload, top, key), self.get(workload, bottom, key)
        return high / low if high is not None and low else None

    @property
    def driver_workloads(self) -> list[Workload]:
        return [w for w in self.workloads if not w.hop]

    @property
    def hop_workloads(self) -> list[Workload]:
        return [w for w in self.workloads if w.hop]


def load(path: Path) -> Run:
    """Read a run saved with ``python -m benchmarks --json``."""
    payload = json.loads(path.read_text())
    results: Results = {}
    for result in payload["results"]:
        if result.get("times"):
            score(result)  # Percentiles again, keyed by int (JSON made the keys strings).
        results[(result["workload"], result["driver"])] = result
    meta = payload.get("meta") or {"settings": payload.get("settings", "")}
    workloads = [get_workload(name) for name in payload.get("workloads", [])]
    return Run(meta, results, workloads, path.stem)


# ---------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------


def rst_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An reStructuredText simple table (readable as plain text too); first column left-aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    rule = "  ".join("=" * width for width in widths)

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(cell).ljust(width) if index == 0 else str(cell).rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([rule, line(headers), rule, *(line(row) for row in rows), rule])


def _ops(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.3g}"


def _num(value: float | None, fmt: str = ".2f", factor: float = 1.0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value * factor, fmt)


def _us(value: float | None) -> str:
    return _num(value, ",.1f", 1e6)


def _ms(value: float | None) -> str:
    return _num(value, ".1f", 1e3)


def _batch(workload: Workload) -> str:
    return "server" if workload.batch is None else str(workload.batch)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def throughput_table(run: Run, workloads: Iterable[Workload] | None = None) -> str:
    headers = [
        "Workload", "PyMongo", "PyMongoAsync", "Motor", "MotorTornado",
        "Motor/Async", "Motor/sync", "Tornado/Async", "Tornado/sync", "Motor/sync1",
    ]  # fmt: skip
    rows = []
    for workload in run.driver_workloads if workloads is None else workloads:
        name = workload.name
        ops = {key: run.get(name, key, "ops_per_s") for key in DRIVERS}
        serial_sync = run.get(workload.serial, "sync", "ops_per_s") if workload.serial else None
        rows.append(
            [
                name,
                *(_ops(ops[key]) for key in DRIVERS),
                _num(run.ratio(name, "motor", "async")),
                _num(run.ratio(name, "motor", "sync")),
                _num(run.ratio(name, "tornado", "async")),
                _num(run.ratio(name, "tornado", "sync")),
                _num(ops["motor"] / serial_sync if ops["motor"] and serial_sync else None)
                if workload.serial
                else "",
            ]
        )
    return rst_table(headers, rows)


def cost_table(run: Run, workloads: Iterable[Workload] | None = None) -> str:
    headers = [
        "Workload", "CPU/op PyMongo", "PyMongoAsync", "Motor", "MotorTornado", "Motor/sync",
        "Tick max Async", "Motor", "MotorTornado", "Tick p99 Async", "Motor", "MotorTornado",
    ]  # fmt: skip
    asyncs = ("async", "motor", "tornado")
    rows = []
    for workload in run.driver_workloads if workloads is None else workloads:
        name = workload.name
        rows.append(
            [
                name,
                *(_us(run.get(name, key, "cpu_per_op_s")) for key in DRIVERS),
                _num(run.ratio(name, "motor", "sync", "cpu_per_op_s")),
                *(_ms(run.get(name, key, "tick_max_s")) for key in asyncs),
                *(_ms(run.get(name, key, "tick_p99_s")) for key in asyncs),
            ]
        )
    return rst_table(headers, rows)


def detail_table(run: Run) -> str:
    headers = [
        "Workload", "Driver", "Iters", "Median ms", "ops/s", "MB/s",
        *(f"p{p}" for p in PERCENTILES), "CPU µs/op", "Tick ms",
    ]  # fmt: skip
    rows = []
    for workload in run.workloads:
        keys = HOP_VARIANTS if workload.hop else DRIVERS
        for key in keys:
            result = run.results.get((workload.name, key))
            if result is None:
                continue
            if not result.get("times"):
                status = "error" if "error" in result else "skipped"
                rows.append([workload.name, label(key), status, *([""] * (len(headers) - 3))])
                continue
            rows.append(
                [
                    workload.name,
                    label(key),
                    str(len(result["times"])),
                    f"{result['median_s'] * 1e3:.2f}",
                    _ops(result["ops_per_s"]),
                    f"{result['mb_per_s']:.2f}",
                    *(f"{result['percentiles_s'][p] * 1e3:.2f}" for p in PERCENTILES),
                    f"{result['cpu_per_op_s'] * 1e6:.1f}",
                    _ms(result.get("tick_max_s")),
                ]
            )
    return rst_table(headers, rows)


def hop_table(run: Run) -> str:
    """Per call: wall µs (from the median iteration), CPU µs, and both divided by the floor's."""
    headers = ["Variant", "Tasks", "µs/call", "CPU µs/call", "/floor", "CPU/floor"]
    rows = []
    for workload in run.hop_workloads:
        name = workload.name
        for key in HOP_VARIANTS:
            result = run.results.get((name, key))
            if result is None:
                continue
            wall = result.get("median_s")
            if wall is None:
                # A variant this machine cannot run (floor_eventfd off Linux) says why.
                status = result.get("skipped") or result.get("error", "")
                rows.append([label(key), str(workload.tasks), status[-60:], "", "", ""])
                continue
            ops = run.get(name, key, "ops_per_iteration")
            rows.append(
                [
                    label(key),
                    str(workload.tasks),
                    _us(wall / ops),
                    _us(run.get(name, key, "cpu_per_op_s")),
                    _num(run.ratio(name, key, "floor", "median_s")),
                    _num(run.ratio(name, key, "floor", "cpu_per_op_s")),
                ]
            )
    return rst_table(headers, rows)


def _by_name(run: Run, names: Iterable[str]) -> list[Workload]:
    wanted = set(names)
    return [w for w in run.driver_workloads if w.name in wanted]


def serial_table(run: Run) -> str:
    """The serial targets: throughput, Motor's ratios, CPU per op and its ratio to PyMongo's."""
    headers = [
        "Workload", "PyMongo", "PyMongoAsync", "Motor", "Motor/Async", "Motor/sync",
        "CPU µs/op PyMongo", "PyMongoAsync", "Motor", "Motor/sync",
    ]  # fmt: skip
    rows = []
    for workload in _by_name(run, SERIAL_TARGETS):
        name = workload.name
        rows.append(
            [
                name,
                *(_ops(run.get(name, key, "ops_per_s")) for key in ("sync", "async", "motor")),
                _num(run.ratio(name, "motor", "async")),
                _num(run.ratio(name, "motor", "sync")),
                *(_us(run.get(name, key, "cpu_per_op_s")) for key in ("sync", "async", "motor")),
                _num(run.ratio(name, "motor", "sync", "cpu_per_op_s")),
            ]
        )
    return rst_table(headers, rows)


def _curve_workloads(run: Run) -> list[Workload]:
    curve = [w for w in run.driver_workloads if w.tasks > 1 and w.serial in CURVE_BASES]
    return sorted(curve, key=lambda w: (CURVE_BASES.index(w.serial or ""), w.tasks))


def curve_table(run: Run) -> str:
    """Concurrent command and find_one: one row per task count (threads for PyMongo)."""
    headers = [
        "Operation", "Tasks", "PyMongo", "PyMongoAsync", "Motor", "Motor/Async", "Motor/sync",
        "CPU µs/op PyMongo", "PyMongoAsync", "Motor", "Motor/sync",
    ]  # fmt: skip
    rows = []
    for workload in _curve_workloads(run):
        name = workload.name
        rows.append(
            [
                workload.serial or name,
                str(workload.tasks),
                *(_ops(run.get(name, key, "ops_per_s")) for key in ("sync", "async", "motor")),
                _num(run.ratio(name, "motor", "async")),
                _num(run.ratio(name, "motor", "sync")),
                *(_us(run.get(name, key, "cpu_per_op_s")) for key in ("sync", "async", "motor")),
                _num(run.ratio(name, "motor", "sync", "cpu_per_op_s")),
            ]
        )
    return rst_table(headers, rows)


def _find_many_workloads(run: Run) -> list[Workload]:
    return [w for w in run.driver_workloads if w.body.startswith("find_many") and w.tasks == 1]


def find_many_table(run: Run) -> str:
    """FindMany at each batch size: throughput, ratios, and each loop's largest and p99 stall."""
    headers = [
        "Workload", "Batch", "PyMongo", "PyMongoAsync", "Motor", "Motor/Async", "Motor/sync",
        "Stall max ms Async", "Motor", "MotorTornado", "Stall p99 ms Async", "Motor", "MotorTornado",
    ]  # fmt: skip
    asyncs = ("async", "motor", "tornado")
    rows = []
    for workload in _find_many_workloads(run):
        name = workload.name
        base = name.removesuffix(f"Batch{workload.batch}") if workload.batch is not None else name
        rows.append(
            [
                base,
                _batch(workload),
                *(_ops(run.get(name, key, "ops_per_s")) for key in ("sync", "async", "motor")),
                _num(run.ratio(name, "motor", "async")),
                _num(run.ratio(name, "motor", "sync")),
                *(_ms(run.get(name, key, "tick_max_s")) for key in asyncs),
                *(_ms(run.get(name, key, "tick_p99_s")) for key in asyncs),
            ]
        )
    return rst_table(headers, rows)


_FIND_MANY_BASES = ("FindManyAndEmptyCursor", "FindManyAndEmptyCursorAsyncFor")


def _motor_default_batch(run: Run) -> int | None:
    batch = run.meta.get("motor_default_batch_size")
    return batch or None


def default_stall_rows(run: Run) -> list[list[str]]:
    """Issue 10's figure: each driver's largest stall at its own default batch size."""
    batch = _motor_default_batch(run)
    rows = []
    for base in _FIND_MANY_BASES:
        motor_row = base if batch is None else f"{base}Batch{batch}"
        if (base, "async") not in run.results and (motor_row, "motor") not in run.results:
            continue
        rows.append(
            [
                f"{base} ({run.name})",
                "server" if batch is None else str(batch),
                _ms(run.get(motor_row, "motor", "tick_max_s")),
                _ms(run.get(motor_row, "motor", "tick_p99_s")),
                _ms(run.get(base, "async", "tick_max_s")),
                _ms(run.get(base, "async", "tick_p99_s")),
                _ms(run.get(motor_row, "async", "tick_max_s")) if batch is not None else "",
            ]
        )
    return rows


def default_stall_table(run: Run, before: Run | None = None) -> str:
    """The loop's largest and p99 stall during FindMany, Motor at its default batch and
    PyMongoAsync at the server's (its default), for this run and the one before."""
    headers = [
        "Workload (run)", "Motor's batch", "Motor max ms", "Motor p99",
        "PyMongoAsync max ms", "PyMongoAsync p99", "PyMongoAsync at Motor's batch, max",
    ]  # fmt: skip
    rows = default_stall_rows(before) if before is not None else []
    rows += default_stall_rows(run)
    return rst_table(headers, rows)


def other_workloads(run: Run) -> list[Workload]:
    """The workloads outside the serial targets, the curve and serial FindMany."""
    shown = {
        w.name for w in (*_by_name(run, SERIAL_TARGETS), *_curve_workloads(run), *_find_many_workloads(run))
    }
    return [w for w in run.driver_workloads if w.name not in shown]


def compare_table(before: Run, after: Run) -> str:
    """Motor's ratios within each of two runs, for every workload both ran."""
    headers = [
        "Workload", "Motor/Async before", "after", "Motor/sync before", "after",
        "CPU Motor/sync before", "after", "Motor stall max ms before", "after",
    ]  # fmt: skip
    names = {w.name for w in before.driver_workloads}
    rows = []
    for workload in after.driver_workloads:
        name = workload.name
        if name not in names:
            continue
        rows.append(
            [
                name,
                _num(before.ratio(name, "motor", "async")),
                _num(after.ratio(name, "motor", "async")),
                _num(before.ratio(name, "motor", "sync")),
                _num(after.ratio(name, "motor", "sync")),
                _num(before.ratio(name, "motor", "sync", "cpu_per_op_s")),
                _num(after.ratio(name, "motor", "sync", "cpu_per_op_s")),
                _ms(before.get(name, "motor", "tick_max_s")),
                _ms(after.get(name, "motor", "tick_max_s")),
            ]
        )
    return rst_table(headers, rows)


def compare_hop_table(before: Run, after: Run) -> str:
    """Each hop variant's distance to the floor in two runs."""
    headers = ["Variant", "Tasks", "/floor before", "after", "CPU/floor before", "after"]
    names = {w.name for w in before.hop_workloads}
    rows = []
    for workload in after.hop_workloads:
        if workload.name not in names:
            continue
        for key in HOP_VARIANTS:
            if key == "floor" or (workload.name, key) not in after.results:
                continue
            rows.append(
                [
                    label(key),
                    str(workload.tasks),
                    *(
                        _num(run.ratio(workload.name, key, "floor", figure))
                        for figure in ("median_s", "cpu_per_op_s")
                        for run in (before, after)
                    ),
                ]
            )
    return rst_table(headers, rows)


def target_lines(run: Run) -> list[str]:
    """Motor's figures against issue 14's targets (meant for the canned server)."""
    lines = []

    def check(name: str, value: float | None, bound: float, at_least: bool) -> None:
        if value is None:
            return
        met = value >= bound if at_least else value <= bound
        sign = ">=" if at_least else "<="
        lines.append(f"{'met    ' if met else 'NOT MET'}  {name}: {value:.2f} (target {sign} {bound:g})")

    for workload in _by_name(run, SERIAL_TARGETS):
        check(
            f"{workload.name} Motor/Async",
            run.ratio(workload.name, "motor", "async"),
            MIN_SERIAL_VS_ASYNC,
            True,
        )
        check(
            f"{workload.name} Motor/sync", run.ratio(workload.name, "motor", "sync"), MIN_SERIAL_VS_SYNC, True
        )
    for workload in _curve_workloads(run):
        name = workload.name
        check(f"{name} Motor/Async", run.ratio(name, "motor", "async"), MIN_CONCURRENT_VS_ASYNC, True)
        check(
            f"{name} Motor CPU/op ÷ PyMongo's",
            run.ratio(name, "motor", "sync", "cpu_per_op_s"),
            MAX_CONCURRENT_CPU_VS_SYNC,
            False,
        )
    for workload in run.hop_workloads:
        check(
            f"{workload.name} Engine/floor (wall)",
            run.ratio(workload.name, "engine", "floor", "median_s"),
            MAX_ENGINE_VS_FLOOR,
            False,
        )
    return lines


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def print_console(run: Run) -> None:
    """The report ``python -m benchmarks`` prints after a run (or ``--report`` from a saved one)."""
    print(f"\nBenchmarks: {run.meta.get('settings', '')}\n")
    if run.hop_workloads:
        print("Hop: a no-op round trip to a worker thread and back (no server)\n")
        print(hop_table(run))
    if run.driver_workloads:
        print(
            "\nThroughput, ops/s from the median iteration (Motor/sync1: against PyMongo's serial figure)\n"
        )
        print(throughput_table(run))
        print("\nCost: client CPU µs per op; the 1 ms ticker's largest and 99th-percentile delays, ms\n")
        print(cost_table(run))
    if _curve_workloads(run):
        print("\nConcurrency curve: ops/s and CPU µs/op by task count (PyMongo: threads)\n")
        print(curve_table(run))
    if _find_many_workloads(run):
        print("\nFindMany by batch size, with the event loop's largest and p99 stall\n")
        print(find_many_table(run))
    print("\nDetail: iteration times in ms (nearest-rank percentiles)\n")
    print(detail_table(run))
    print()
    for reason in sorted({r["skipped"] for r in run.results.values() if "skipped" in r}):
        print(f"skipped: {reason}")
    for result in run.results.values():
        if "error" in result:
            print(f"error: {result['workload']} on {label(result['driver'])}: {result['error']}")
    lines = target_lines(run)
    if lines:
        print("\nTargets of issue 14 (for Motor on the canned server):\n")
        print("\n".join(lines))


def _block(caption: str, table: str) -> str:
    body = "\n".join(f"    {line}" if line else "" for line in table.splitlines())
    return f"{caption}\n\n.. code-block:: text\n\n{body}\n"


def rst_sections(run: Run, before: Run | None = None) -> list[str]:
    """The page's tables, each a caption and a code block."""
    blocks = []
    if run.hop_workloads:
        blocks.append(_block("Hop micro-benchmark, per call:", hop_table(run)))
    if _by_name(run, SERIAL_TARGETS):
        blocks.append(_block("Serial workloads, ops/s and client CPU µs per op:", serial_table(run)))
    if _curve_workloads(run):
        blocks.append(_block("Concurrency curve, ops/s and client CPU µs per op:", curve_table(run)))
    if _find_many_workloads(run):
        blocks.append(_block("FindMany, ops/s and the event loop's stalls in ms:", find_many_table(run)))
        caption = "The loop's stalls during FindMany, each driver at its default batch size:"
        blocks.append(_block(caption, default_stall_table(run, before)))
    others = other_workloads(run)
    if others:
        blocks.append(_block("Other workloads, ops/s:", throughput_table(run, others)))
        blocks.append(
            _block("Other workloads, client CPU µs per op and stalls in ms:", cost_table(run, others))
        )
    lines = target_lines(run)
    if lines:
        blocks.append(_block("Against issue 14's targets:", "\n".join(lines)))
    if before is not None:
        blocks.append(_block("Motor's ratios in the run before and this one:", compare_table(before, run)))
        if before.hop_workloads and run.hop_workloads:
            caption = "The hop variants' distance to the floor in the run before and this one:"
            blocks.append(_block(caption, compare_hop_table(before, run)))
    return blocks


def describe(run: Run) -> str:
    """One paragraph on where and how a run was made."""
    meta = run.meta
    parts = [meta.get("settings", "")]
    for key in ("commit", "engine_sha256", "command", "started"):
        if meta.get(key):
            parts.append(f"{key}: {meta[key]}")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__)
    parser.add_argument("run", type=Path, help="a run saved with python -m benchmarks --json")
    parser.add_argument("--before", type=Path, help="an earlier run, to compare Motor's ratios with")
    parser.add_argument("--console", action="store_true", help="print the full console report instead")
    args = parser.parse_args(argv)
    run = load(args.run)
    if args.console:
        print_console(run)
        return
    before = load(args.before) if args.before else None
    print(f".. Generated by: python -m benchmarks.report {' '.join(argv or [])}".rstrip())
    print(f".. Run: {describe(run)}\n")
    print("\n".join(rst_sections(run, before)))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
