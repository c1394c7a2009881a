"""The parent process: start a server, run every (workload, driver) measurement in a fresh child, print.

See :mod:`benchmarks` for usage, and ``python -m benchmarks --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks import data
from benchmarks.stats import PERCENTILES, score
from benchmarks.workloads import (
    CORPUS,
    DATABASE,
    DRIVERS,
    GROUPS,
    WORKLOADS,
    Workload,
    file_size,
    select_workloads,
)

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent

#: (scale, min iterations, min seconds, max seconds) of a full run and of ``--quick``.
FULL = (1.0, 10, 10.0, 60.0)
QUICK = (0.1, 3, 1.0, 5.0)

#: Targets for Motor on the canned server (see doc/performance.rst).
SERIAL_TARGETS = ("RunCommand", "FindOneByID", "SmallDocInsertOne")
MIN_VS_SYNC = 0.85
MIN_VS_ASYNC = 1.2
MIN_CONCURRENT_VS_SYNC_SERIAL = 0.9
MIN_FIND_MANY_VS_ASYNC = 1.0
MAX_CPU_VS_SYNC = 1.25
MAX_TICK_S = 0.005


# ---------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def canned_server(pool_size: int, gridfs_size: int) -> Iterator[str]:
    """Run :mod:`benchmarks.canned_server` in a subprocess; yield its URI."""
    command = [
        sys.executable, "-m", "benchmarks.canned_server",
        "--pool-size", str(pool_size),
        "--gridfs-size", str(gridfs_size),
        "--stdin-watch",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the canned server did not start: {line!r}")
        yield f"mongodb://127.0.0.1:{int(line.split()[1])}/"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def secantus_server() -> Iterator[str]:
    """Run SecantusDB (see :mod:`motor.testing`); yield its URI."""
    from motor.testing import SecantusServer

    with SecantusServer() as server:
        yield server.uri


def prepare_server(uri: str, selected: Sequence[Workload], scale: float) -> Any:
    """Load what the reading workloads read, with sync PyMongo, once for every driver.

    Returns the id of the GridFS file that GridFsDownload reads (``None`` if not selected).
    """
    import gridfs
    from pymongo import MongoClient

    file_id = None
    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    try:
        db = client[DATABASE]
        corpus = [w for w in selected if w.corpus]
        if corpus:
            count = max(w.ops(scale) for w in corpus)
            db.drop_collection(CORPUS)
            documents = [{"_id": i, **data.TWEET} for i in range(1, count + 1)]
            for start in range(0, count, 1000):
                db[CORPUS].insert_many(documents[start : start + 1000])
        if any(w.body == "gridfs_download" for w in selected):
            db.drop_collection("fs.files")
            db.drop_collection("fs.chunks")
            file_id = gridfs.GridFSBucket(db).upload_from_stream(
                "gridfstest", data.gridfs_data(file_size(scale))
            )
    finally:
        client.close()
    return file_id


# ---------------------------------------------------------------------------------------------
# Children
# ---------------------------------------------------------------------------------------------


def run_child(params: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; return its scored result, or an ``error``."""
    command = [sys.executable, "-m", "benchmarks.child", json.dumps(params)]
    base = {"workload": params["workload"], "driver": params["driver"]}
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {**base, "error": f"timed out after {timeout:.0f}s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-3:]
        return {**base, "error": f"exit {done.returncode}: " + " | ".join(tail)}
    result: dict[str, Any] = json.loads(lines[-1])
    if result.get("times"):
        score(result)
    return result


def _progress(result: dict[str, Any]) -> str:
    head = f"{result['workload']:<34} {DRIVERS[result['driver']].label:<13}"
    if "error" in result:
        return f"{head} ERROR {result['error']}"
    if "skipped" in result:
        return f"{head} skipped: {result['skipped']}"
    return (
        f"{head} {result['ops_per_s']:>11,.0f} ops/s  median {result['median_s'] * 1e3:9.2f} ms"
        f"  ({len(result['times'])} iterations)"
    )


# ---------------------------------------------------------------------------------------------
# Tables
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


def _ratio(top: float | None, bottom: float | None) -> str:
    if top is None or not bottom:
        return "-"
    return f"{top / bottom:.2f}"


def _get(results: dict[tuple[str, str], dict[str, Any]], workload: str, driver: str, key: str) -> Any:
    result = results.get((workload, driver))
    if result is None:
        return None
    return result.get(key)


def throughput_table(results: dict[tuple[str, str], dict[str, Any]], selected: Sequence[Workload]) -> str:
    headers = [
        "Workload", "PyMongo", "PyMongoAsync", "Motor", "MotorTornado",
        "Motor/Async", "Motor/sync", "Tornado/Async", "Tornado/sync", "Motor/sync1",
    ]  # fmt: skip
    rows = []
    for workload in selected:
        name = workload.name
        ops = {key: _get(results, name, key, "ops_per_s") for key in DRIVERS}
        serial_sync = _get(results, workload.serial, "sync", "ops_per_s") if workload.serial else None
        rows.append(
            [
                name,
                *(_ops(ops[key]) for key in DRIVERS),
                _ratio(ops["motor"], ops["async"]),
                _ratio(ops["motor"], ops["sync"]),
                _ratio(ops["tornado"], ops["async"]),
                _ratio(ops["tornado"], ops["sync"]),
                _ratio(ops["motor"], serial_sync) if workload.serial else "",
            ]
        )
    return rst_table(headers, rows)


def cost_table(results: dict[tuple[str, str], dict[str, Any]], selected: Sequence[Workload]) -> str:
    headers = [
        "Workload", "CPU/op PyMongo", "PyMongoAsync", "Motor", "MotorTornado", "Motor/sync",
        "Tick max Async", "Motor", "MotorTornado", "Tick p99 Async", "Motor", "MotorTornado",
    ]  # fmt: skip
    rows = []
    for workload in selected:
        name = workload.name
        cpu = {key: _get(results, name, key, "cpu_per_op_s") for key in DRIVERS}
        ticks = {key: _get(results, name, key, "tick_max_s") for key in ("async", "motor", "tornado")}
        p99 = {key: _get(results, name, key, "tick_p99_s") for key in ("async", "motor", "tornado")}
        rows.append(
            [
                name,
                *(f"{cpu[key] * 1e6:,.1f}" if cpu[key] is not None else "-" for key in DRIVERS),
                _ratio(cpu["motor"], cpu["sync"]),
                *(f"{ticks[key] * 1e3:.1f}" if ticks[key] is not None else "-" for key in ticks),
                *(f"{p99[key] * 1e3:.1f}" if p99[key] is not None else "-" for key in p99),
            ]
        )
    return rst_table(headers, rows)


def detail_table(results: dict[tuple[str, str], dict[str, Any]], selected: Sequence[Workload]) -> str:
    headers = [
        "Workload", "Driver", "Iters", "Median ms", "ops/s", "MB/s",
        *(f"p{p}" for p in PERCENTILES), "CPU µs/op", "Tick ms",
    ]  # fmt: skip
    rows = []
    for workload in selected:
        for key, driver in DRIVERS.items():
            result = results.get((workload.name, key))
            if result is None:
                continue
            if not result.get("times"):
                status = "error" if "error" in result else "skipped"
                rows.append([workload.name, driver.label, status, *([""] * (len(headers) - 3))])
                continue
            tick = result.get("tick_max_s")
            rows.append(
                [
                    workload.name,
                    driver.label,
                    str(len(result["times"])),
                    f"{result['median_s'] * 1e3:.2f}",
                    _ops(result["ops_per_s"]),
                    f"{result['mb_per_s']:.2f}",
                    *(f"{result['percentiles_s'][p] * 1e3:.2f}" for p in PERCENTILES),
                    f"{result['cpu_per_op_s'] * 1e6:.1f}",
                    f"{tick * 1e3:.1f}" if tick is not None else "-",
                ]
            )
    return rst_table(headers, rows)


def target_lines(results: dict[tuple[str, str], dict[str, Any]], selected: Sequence[Workload]) -> list[str]:
    """Motor's figures against the project's targets (meant for the canned server)."""
    lines = []

    def check(label: str, value: float | None, bound: float, at_least: bool) -> None:
        if value is None:
            return
        met = value >= bound if at_least else value <= bound
        sign = ">=" if at_least else "<="
        lines.append(f"{'met    ' if met else 'NOT MET'}  {label}: {value:.2f} (target {sign} {bound:g})")

    for workload in selected:
        name = workload.name
        motor = _get(results, name, "motor", "ops_per_s")
        if motor is None:
            continue
        sync = _get(results, name, "sync", "ops_per_s")
        async_ = _get(results, name, "async", "ops_per_s")
        if name in SERIAL_TARGETS:
            check(f"{name} Motor/sync", motor / sync if sync else None, MIN_VS_SYNC, True)
            check(f"{name} Motor/Async", motor / async_ if async_ else None, MIN_VS_ASYNC, True)
        if workload.tasks == 80 and workload.serial:
            serial = _get(results, workload.serial, "sync", "ops_per_s")
            check(
                f"{name} Motor/sync serial",
                motor / serial if serial else None,
                MIN_CONCURRENT_VS_SYNC_SERIAL,
                True,
            )
        if workload.body.startswith("find_many") and workload.tasks == 1:
            check(f"{name} Motor/Async", motor / async_ if async_ else None, MIN_FIND_MANY_VS_ASYNC, True)
        cpu, sync_cpu = (
            _get(results, name, "motor", "cpu_per_op_s"),
            _get(results, name, "sync", "cpu_per_op_s"),
        )
        check(
            f"{name} Motor CPU/op ÷ sync",
            cpu / sync_cpu if cpu and sync_cpu else None,
            MAX_CPU_VS_SYNC,
            False,
        )
        tick = _get(results, name, "motor", "tick_max_s")
        check(
            f"{name} Motor tick max (ms)", tick * 1e3 if tick is not None else None, MAX_TICK_S * 1e3, False
        )
    return lines


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    import benchmarks

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=benchmarks.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            f"Workload groups: {', '.join(GROUPS)}. A full run uses scale {FULL[0]}, at least {FULL[1]} "
            f"iterations and {FULL[2]:g}s, at most {FULL[3]:g}s per measurement; --quick uses scale "
            f"{QUICK[0]}, {QUICK[1]} iterations, {QUICK[2]:g}s, {QUICK[3]:g}s. The workloads use (and drop) "
            f"collections of the database {DATABASE!r}."
        ),
    )
    parser.add_argument(
        "--server",
        choices=("canned", "secantus", "uri"),
        default="canned",
        help="canned: the canned-reply server (default; measures the driver); secantus: an embedded "
        "SecantusDB (end to end); uri: the server of --uri or MONGODB_URI",
    )
    parser.add_argument("--uri", default=os.environ.get("MONGODB_URI"), help="for --server uri")
    parser.add_argument(
        "--workloads", nargs="+", default=["all"], metavar="NAME", help="workloads or groups (default: all)"
    )
    parser.add_argument(
        "--drivers",
        default=",".join(DRIVERS),
        help=f"comma-separated, of {', '.join(DRIVERS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run (see below)")
    parser.add_argument("--scale", type=float, help="multiply every iteration's ops (and the GridFS file)")
    parser.add_argument("--min-iterations", type=int, help="iterations each measurement runs at least")
    parser.add_argument("--min-time", type=float, help="seconds of iterations each measurement runs at least")
    parser.add_argument("--max-time", type=float, help="seconds after which a measurement stops regardless")
    parser.add_argument("--no-ticker", action="store_true", help="do not run the 1 ms ticker task")
    parser.add_argument("--json", type=Path, help="also write the raw and scored results to this file")
    parser.add_argument("--list", action="store_true", help="list the workloads and groups, and exit")
    parser.add_argument(
        "--report", type=Path, metavar="JSON", help="print the tables of a run saved with --json, and exit"
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.list:
        for workload in WORKLOADS.values():
            print(workload.describe())
        for group, names in GROUPS.items():
            print(f"group {group}: {', '.join(names)}")
        return
    if args.report:
        _report_saved(args.report)
        return
    try:
        selected = select_workloads(args.workloads)
    except KeyError as exc:
        sys.exit(f"unknown workload or group {exc}; see --list")
    drivers = [key.strip() for key in args.drivers.split(",") if key.strip()]
    unknown = [key for key in drivers if key not in DRIVERS]
    if unknown:
        sys.exit(f"unknown driver(s) {unknown}; choose among {list(DRIVERS)}")
    scale, min_iterations, min_time, max_time = QUICK if args.quick else FULL
    scale = args.scale if args.scale is not None else scale
    min_iterations = args.min_iterations if args.min_iterations is not None else min_iterations
    min_time = args.min_time if args.min_time is not None else min_time
    max_time = args.max_time if args.max_time is not None else max_time

    if args.server == "canned":
        pool_size = max([w.ops(scale) for w in selected if w.corpus] or [1])
        server = canned_server(pool_size, file_size(scale))
    elif args.server == "secantus":
        server = secantus_server()
    else:
        if not args.uri:
            sys.exit("--server uri needs --uri or MONGODB_URI")
        server = contextlib.nullcontext(args.uri)

    settings = (
        f"server={args.server} scale={scale:g} min_iterations={min_iterations} min_time={min_time:g}s "
        f"max_time={max_time:g}s ticker={'off' if args.no_ticker else '1ms'}"
    )
    print(f"# {settings}", file=sys.stderr)
    results: dict[tuple[str, str], dict[str, Any]] = {}
    started = time.monotonic()
    with server as uri:
        file_id = prepare_server(uri, selected, scale)
        for index, workload in enumerate(selected):
            # Interleave the drivers, rotating who goes first, so that they share the noise.
            order = drivers[index % len(drivers) :] + drivers[: index % len(drivers)]
            for key in order:
                params = {
                    "driver": key,
                    "workload": workload.name,
                    "uri": uri,
                    "scale": scale,
                    "min_iterations": min_iterations,
                    "min_time": min_time,
                    "max_time": max_time,
                    "ticker": not args.no_ticker,
                    "file_id": str(file_id) if file_id is not None else None,
                }
                result = run_child(params, timeout=max_time * 3 + 120)
                results[(workload.name, key)] = result
                print(_progress(result), file=sys.stderr, flush=True)
    elapsed = time.monotonic() - started

    machine = f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs"
    header = f"{settings}; {machine}; {elapsed:.0f}s"
    report(header, results, selected)
    if args.json:
        payload = {
            "settings": header,
            "workloads": [w.name for w in selected],
            "results": list(results.values()),
        }
        args.json.write_text(json.dumps(payload, indent=1, default=str))


def report(header: str, results: dict[tuple[str, str], dict[str, Any]], selected: Sequence[Workload]) -> None:
    """Print the tables, the skipped and failed measurements, and the targets."""
    print(f"\nBenchmarks: {header}\n")
    print("Throughput, ops/s from the median iteration (Motor/sync1: against PyMongo's serial figure)\n")
    print(throughput_table(results, selected))
    print("\nCost: client CPU µs per op; the 1 ms ticker's largest and 99th-percentile delays, ms\n")
    print(cost_table(results, selected))
    print("\nDetail: iteration times in ms (nearest-rank percentiles)\n")
    print(detail_table(results, selected))
    print()
    for reason in sorted({r["skipped"] for r in results.values() if "skipped" in r}):
        print(f"skipped: {reason}")
    for result in results.values():
        if "error" in result:
            print(f"error: {result['workload']} on {DRIVERS[result['driver']].label}: {result['error']}")
    lines = target_lines(results, selected)
    if lines:
        print("\nTargets (for Motor on the canned server):\n")
        print("\n".join(lines))


def _report_saved(path: Path) -> None:
    payload = json.loads(path.read_text())
    results = {}
    for result in payload["results"]:
        if result.get("times"):
            score(result)  # Percentiles again, keyed by int (JSON made the keys strings).
        results[(result["workload"], result["driver"])] = result
    selected = [WORKLOADS[name] for name in payload.get("workloads", WORKLOADS) if name in WORKLOADS]
    report(payload["settings"], results, selected)
