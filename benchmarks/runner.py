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

from benchmarks import data, report
from benchmarks.stats import score
from benchmarks.workloads import (
    CORPUS,
    DATABASE,
    DEFAULT_HOP_TASKS,
    DEFAULT_TASKS,
    DRIVERS,
    HOP_VARIANTS,
    WORKLOADS,
    Workload,
    file_size,
    groups,
    label,
    select_workloads,
)

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent

#: (scale, min iterations, min seconds, max seconds) of a full run and of ``--quick``.
FULL = (1.0, 10, 10.0, 60.0)
QUICK = (0.1, 3, 1.0, 5.0)

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
    head = f"{result['workload']:<38} {label(result['driver']):<13}"
    if "error" in result:
        return f"{head} ERROR {result['error']}"
    if "skipped" in result:
        return f"{head} skipped: {result['skipped']}"
    return (
        f"{head} {result['ops_per_s']:>11,.0f} ops/s  median {result['median_s'] * 1e3:9.2f} ms"
        f"  ({len(result['times'])} iterations)"
    )


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def _counts(text: str) -> tuple[int, ...]:
    counts = tuple(int(part) for part in text.split(",") if part.strip())
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive counts, not {text!r}")
    return counts


def _parser() -> argparse.ArgumentParser:
    import benchmarks

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=benchmarks.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            f"Workload groups: {', '.join(groups())}. A full run uses scale {FULL[0]}, at least {FULL[1]} "
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
        "--workloads",
        "--only",
        nargs="+",
        default=["all"],
        metavar="NAME",
        help="workloads or groups (default: all); a name may carry a task count or a batch size, "
        "as in FindOneByID1000Tasks or FindManyAndEmptyCursorBatch300",
    )
    parser.add_argument(
        "--drivers",
        default=",".join(DRIVERS),
        help=f"comma-separated, of {', '.join(DRIVERS)} (default: all; the hop workloads run "
        f"{', '.join(HOP_VARIANTS)} instead)",
    )
    parser.add_argument(
        "--tasks",
        type=_counts,
        default=DEFAULT_TASKS,
        metavar="N,N",
        help=f"task counts of the concurrent group (default: {','.join(map(str, DEFAULT_TASKS))})",
    )
    parser.add_argument(
        "--hop-tasks",
        type=_counts,
        default=DEFAULT_HOP_TASKS,
        metavar="N,N",
        help="task counts of the hop group besides serial "
        f"(default: {','.join(map(str, DEFAULT_HOP_TASKS))})",
    )
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="the event loop of the async drivers and the hop variants (default: asyncio)",
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run (see below)")
    parser.add_argument("--scale", type=float, help="multiply every iteration's ops (and the GridFS file)")
    parser.add_argument("--min-iterations", type=int, help="iterations each measurement runs at least")
    parser.add_argument("--min-time", type=float, help="seconds of iterations each measurement runs at least")
    parser.add_argument("--max-time", type=float, help="seconds after which a measurement stops regardless")
    parser.add_argument("--no-ticker", action="store_true", help="do not run the 1 ms ticker task")
    parser.add_argument("--json", type=Path, help="also write the raw and scored results to this file")
    parser.add_argument("--note", default="", help="free text kept in --json's metadata (what was measured)")
    parser.add_argument("--list", action="store_true", help="list the workloads and groups, and exit")
    parser.add_argument(
        "--report", type=Path, metavar="JSON", help="print the tables of a run saved with --json, and exit"
    )
    return parser


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args],  # noqa: S607 - git from PATH, as a developer runs it
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return ""
    return done.stdout.rstrip()


def _motor_facts() -> dict[str, Any]:
    """What identifies the Motor code measured: its commit, local changes, engine and defaults."""
    import hashlib

    import motor
    from motor.motor_asyncio import AsyncIOMotorClient

    engine = Path(motor.__file__).with_name("_engine.py")
    # The batch size a cursor gets when its caller sets none, read off a cursor rather than a
    # constant: 0 is the server's default.
    client: Any = AsyncIOMotorClient(connect=False)
    try:
        default_batch = client[DATABASE][CORPUS].find().delegate._batch_size
    finally:
        client.close()
    return {
        "commit": _git("rev-parse", "--short", "HEAD"),
        "changed_files": _git("status", "--porcelain", "--untracked-files=no").splitlines(),
        "motor_path": str(Path(motor.__file__).parent),
        "engine_sha256": hashlib.sha256(engine.read_bytes()).hexdigest()[:12],
        "motor_default_batch_size": default_batch,
    }


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.list:
        for workload in WORKLOADS.values():
            print(workload.describe())
        for group, names in groups(args.tasks, args.hop_tasks).items():
            print(f"group {group}: {', '.join(names)}")
        return
    if args.report:
        report.print_console(report.load(args.report))
        return
    try:
        selected = select_workloads(args.workloads, args.tasks, args.hop_tasks)
    except KeyError as exc:
        sys.exit(f"unknown workload or group {exc}; see --list")
    drivers = [key.strip() for key in args.drivers.split(",") if key.strip()]
    unknown = [key for key in drivers if key not in DRIVERS]
    if unknown:
        sys.exit(f"unknown driver(s) {unknown}; choose among {list(DRIVERS)}")
    if args.loop == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            sys.exit("--loop uvloop needs uvloop: pip install -e '.[test]'")
    scale, min_iterations, min_time, max_time = QUICK if args.quick else FULL
    scale = args.scale if args.scale is not None else scale
    min_iterations = args.min_iterations if args.min_iterations is not None else min_iterations
    min_time = args.min_time if args.min_time is not None else min_time
    max_time = args.max_time if args.max_time is not None else max_time

    needs_server = any(not w.hop for w in selected)
    if not needs_server:
        server: contextlib.AbstractContextManager[str | None] = contextlib.nullcontext(None)
    elif args.server == "canned":
        pool_size = max([w.ops(scale) for w in selected if w.corpus] or [1])
        server = canned_server(pool_size, file_size(scale))
    elif args.server == "secantus":
        server = secantus_server()
    else:
        if not args.uri:
            sys.exit("--server uri needs --uri or MONGODB_URI")
        server = contextlib.nullcontext(args.uri)

    settings = (
        f"server={args.server} loop={args.loop} scale={scale:g} min_iterations={min_iterations} "
        f"min_time={min_time:g}s max_time={max_time:g}s ticker={'off' if args.no_ticker else '1ms'}"
    )
    print(f"# {settings}", file=sys.stderr)
    meta: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "note": args.note,
        "loadavg_start": os.getloadavg(),
        **_motor_facts(),
    }
    results: dict[tuple[str, str], dict[str, Any]] = {}
    started = time.monotonic()
    with server as uri:
        file_id = prepare_server(uri, selected, scale) if uri is not None else None
        for index, workload in enumerate(selected):
            keys = list(HOP_VARIANTS) if workload.hop else drivers
            # Interleave the drivers, rotating who goes first, so that they share the noise.
            order = keys[index % len(keys) :] + keys[: index % len(keys)]
            for key in order:
                params = {
                    "driver": key,
                    "workload": workload.name,
                    "uri": uri,
                    "loop": args.loop,
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

    import pymongo

    machine = f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs"
    meta.update(
        settings=f"{settings}; {machine}; PyMongo {pymongo.version}; {elapsed:.0f}s",
        elapsed_s=round(elapsed, 1),
        loadavg_end=os.getloadavg(),
        python=platform.python_version(),
        pymongo=pymongo.version,
        cpus=os.cpu_count(),
        loop=args.loop,
    )
    if args.json:
        payload = {
            "meta": meta,
            "settings": meta["settings"],
            "workloads": [w.name for w in selected],
            "results": list(results.values()),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    report.print_console(report.Run(meta, results, selected))
