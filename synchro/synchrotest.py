"""Run PyMongo's own test suite through Synchro, that is, through Motor.

Usage::

    python -m synchro.synchrotest PYMONGO_SOURCE_DIR [options] [pytest arguments...]
    python -m synchro.synchrotest --fetch [options] [pytest arguments...]
    python -m synchro.synchrotest --subset ci          # fetches, then runs the CI subset

Options (everything else goes to pytest):

``--fetch``
    use the source distribution of the installed PyMongo, downloading it first if needed
    (:mod:`synchro.fetch`); implied when no source directory is given.
``--subset NAME``
    run the modules of a named subset (:data:`SUBSETS`) instead of the whole suite.
``--real``
    run PyMongo's suite on the real PyMongo (no import hook, no exclusions), in the same harness:
    the baseline that Synchro is compared with.
``--check-exclusions``
    fail the run if an entry of :data:`synchro.exclusions.EXCLUSIONS` is stale (its module does
    not exist, or a test it names was not collected although its module was).
``--report FILE``
    write each test's outcome to FILE as JSON (for comparing runs, see :mod:`synchro.compare`).
``--compare``
    judge the run against real PyMongo: the tests that fail through Synchro are run again on real
    PyMongo, against the same server, and those that pass there are run through Synchro once more;
    the exit code is 0 unless a test passes on real PyMongo and fails through Synchro (a test that
    fails on both is the server's limit, not Motor's). A test that fails and then passes when run
    again fails the run too, unless :data:`synchro.exclusions.FLAKY` names it with a reason. With
    ``--check-exclusions``, a stale exclusion fails the run whatever the comparison says. This is
    what CI runs.

The server is ``MONGODB_URI`` if set, else ``DB_IP``/``DB_PORT`` if set (PyMongo's suite reads
those), else a SecantusDB started for the run with :class:`motor.testing.SecantusServer`.

Inside PyMongo's ``test`` package, ``import pymongo`` (and ``gridfs``, ``pymongo.synchronous...``)
gives Synchro's facade modules (:mod:`synchro.importer`); PyMongo itself and Motor keep the real
PyMongo. ``test/asynchronous`` is ignored: it tests PyMongo's own async API.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["SUBSETS", "SynchroPlugin", "main"]

#: Named subsets of PyMongo's test modules.
SUBSETS: dict[str, list[str]] = {
    # Core modules, in about five minutes on a two-core machine.
    "ci": [
        "test/test_client.py",
        "test/test_database.py",
        "test/test_collection.py",
        "test/test_cursor.py",
        "test/test_bulk.py",
        "test/test_change_stream.py",
        "test/test_session.py",
        "test/test_transactions.py",
        "test/test_gridfs_bucket.py",
        "test/test_crud_unified.py",
    ],
}


#: Seconds a test may take (with pytest-timeout installed) unless ``--timeout`` says otherwise.
DEFAULT_TIMEOUT = 300


def _has_pytest_timeout() -> bool:
    import importlib.util

    return importlib.util.find_spec("pytest_timeout") is not None


def _node_module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


class SynchroPlugin:
    """The pytest plugin: applies the exclusion table, checks it, and records outcomes."""

    def __init__(
        self,
        finder: Any,
        exclusions: dict[str, str],
        source: Path,
        check: bool,
        report: str | None,
        mode: str,
    ) -> None:
        self.finder = finder
        self.exclusions = exclusions
        self.source = source
        self.check = check
        self.report_path = report
        self.mode = mode
        self.used: set[str] = set()
        self.collected_modules: set[str] = set()
        self.outcomes: dict[str, str] = {}
        self.stale: list[str] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_load_initial_conftests(self, early_config: Any, parser: Any, args: Any) -> None:
        # pytest put its assertion-rewriting finder first; ours must see PyMongo's tests first.
        if self.finder is not None:
            self.finder.move_to_front()

    def _exclusion_for(self, nodeid: str) -> str | None:
        for key in self.exclusions:
            if nodeid == key or nodeid.startswith((key + "::", key + "[")):
                return key
            if "*" in key and fnmatch.fnmatchcase(nodeid.split("[", maxsplit=1)[0], key):
                return key
        return None

    def pytest_collection_modifyitems(self, session: Any, config: Any, items: list[Any]) -> None:
        from synchro.exclusions import MOTOR_GAP

        kept, dropped = [], []
        for item in items:
            self.collected_modules.add(_node_module(item.nodeid))
            key = self._exclusion_for(item.nodeid)
            if key is None:
                kept.append(item)
                continue
            self.used.add(key)
            reason = self.exclusions[key]
            if reason.startswith(MOTOR_GAP):
                item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
                kept.append(item)
            else:
                dropped.append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    def pytest_collection_finish(self, session: Any) -> None:
        for key in self.exclusions:
            module = _node_module(key)
            if not (self.source / module).exists():
                self.stale.append(f"{key}: no such module")
            elif "::" in key and module in self.collected_modules and key not in self.used:
                self.stale.append(f"{key}: collected no test")

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" or report.outcome != "passed":
            previous = self.outcomes.get(report.nodeid)
            if previous in (None, "passed") or report.outcome == "failed":
                outcome = report.outcome
                if report.when != "call" and report.outcome == "failed":
                    outcome = "error"
                self.outcomes[report.nodeid] = outcome

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        counts: dict[str, int] = {}
        for outcome in self.outcomes.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        line = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        terminalreporter.write_line(f"synchro ({self.mode}): {line}; {len(self.used)} exclusions applied")
        if self.stale and self.check:
            terminalreporter.write_line("synchro: stale exclusions:", red=True)
            for entry in self.stale:
                terminalreporter.write_line(f"  {entry}", red=True)

    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        if self.report_path:
            Path(self.report_path).write_text(json.dumps(self.outcomes, indent=0, sort_keys=True))
        if self.check and self.stale:
            session.exitstatus = 1


@contextlib.contextmanager
def _server() -> Iterator[None]:
    """Point PyMongo's suite (DB_IP / DB_PORT) at the server under test."""
    uri = os.environ.get("MONGODB_URI")
    if uri:
        from pymongo.uri_parser import parse_uri

        host, port = parse_uri(uri)["nodelist"][0]
        os.environ["DB_IP"], os.environ["DB_PORT"] = host, str(port)
        yield
        return
    if os.environ.get("DB_IP") or os.environ.get("DB_PORT"):
        yield
        return
    from motor.testing import SecantusServer

    with SecantusServer() as server:
        os.environ["DB_IP"], os.environ["DB_PORT"] = "127.0.0.1", str(server.port)
        print(f"synchro: SecantusDB on 127.0.0.1:{server.port}", flush=True)
        yield


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m synchro.synchrotest",
        usage="%(prog)s [PYMONGO_SOURCE_DIR] [options] [pytest arguments...]",
        description="Run PyMongo's test suite through Synchro (Motor); other arguments go to pytest.",
    )
    parser.add_argument("--fetch", action="store_true", help="use the installed PyMongo's sdist")
    parser.add_argument("--subset", choices=sorted(SUBSETS), help="run a named subset of modules")
    parser.add_argument("--real", action="store_true", help="run on the real PyMongo (baseline)")
    parser.add_argument("--check-exclusions", action="store_true", help="fail on stale exclusions")
    parser.add_argument("--report", help="write each test's outcome to this JSON file")
    parser.add_argument("--compare", action="store_true", help="fail only on regressions from real PyMongo")
    options, rest = parser.parse_known_args(argv)
    # PyMongo's source directory is the first argument that is one; the rest go to pytest.
    options.source = None
    for i, arg in enumerate(rest):
        if not arg.startswith("-") and (Path(arg) / "test" / "__init__.py").exists():
            options.source = rest.pop(i)
            break
    return options, rest


def main(argv: list[str] | None = None) -> int:
    """Run PyMongo's suite; return pytest's exit code."""
    options, pytest_args = _parse(list(sys.argv[1:] if argv is None else argv))

    # The real PyMongo, Motor and Synchro are imported before PyMongo's source directory goes on
    # sys.path, so that they are the installed ones and not the sdist's copy.
    repo = str(Path(__file__).resolve().parent.parent)
    if repo not in sys.path:
        sys.path.insert(0, repo)
    import bson  # noqa: F401
    import gridfs  # noqa: F401
    import pymongo

    import synchro
    from synchro import exclusions, importer

    if options.source is None:
        from synchro.fetch import fetch

        source = fetch()
    else:
        source = Path(options.source)
    source = source.resolve()
    if not (source / "test" / "__init__.py").exists():
        print(f"synchro: {source} is not PyMongo's source directory (no test/__init__.py)", file=sys.stderr)
        return 4

    mode = "real PyMongo" if options.real else "Synchro"
    finder = None
    table: dict[str, str] = {}
    args = ["-p", "no:cacheprovider", "--ignore=test/asynchronous", "-o", "junit_logging=no"]
    # Motor's pytest plugin (fixtures for applications) has no use here. Motor is imported above,
    # before pytest marks the plugin's package for assertion rewriting, which pytest warns about;
    # PyMongo's configuration would make that warning an error.
    args += ["-p", "no:motor", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    args += [f"--junitxml={source / 'xunit-results' / 'synchro.xml'}"]
    if not options.real:
        table = dict(exclusions.EXCLUSIONS)
        finder = importer.install("test", str(source / "test"))
        args += [f"--ignore={module}" for module in exclusions.excluded_modules()]
    if options.subset:
        args += SUBSETS[options.subset]
    if not any(a.startswith("--timeout") for a in pytest_args) and _has_pytest_timeout():
        # A test that hangs (waiting for a change that never comes) must not stall the run.
        args.append(f"--timeout={DEFAULT_TIMEOUT}")
    args += pytest_args
    if not any(a == "test" or a.startswith("test/") for a in pytest_args) and not options.subset:
        args.append("test")

    plugin = SynchroPlugin(
        finder, table, source, options.check_exclusions and not options.real, options.report, mode
    )
    os.chdir(source)
    sys.path.insert(0, str(source))
    start = time.monotonic()
    print(f"synchro: {mode}, PyMongo {pymongo.version}, Synchro at {synchro.__file__}", flush=True)
    with _server():
        code = int(pytest.main(args, plugins=[plugin]))
        print(
            f"synchro: {mode} finished in {time.monotonic() - start:.0f}s with exit code {code}", flush=True
        )
        if options.compare and not options.real and code in (0, 1):
            code = _compare(source, plugin, pytest_args)
            if plugin.check and plugin.stale:
                # The comparison judges the tests only: a stale exclusion fails the run all the same.
                print(f"synchro: {len(plugin.stale)} stale exclusions (listed above)", flush=True)
                code = code or 1
    return code


def _rerun(source: Path, nodeids: list[str], real: bool, pytest_args: list[str]) -> dict[str, str]:
    """Run some tests again in a new process (real PyMongo or Synchro); return their outcomes."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        options: list[str] = []
        for i, arg in enumerate(pytest_args):
            if arg.startswith("--timeout="):
                options.append(arg)
            elif arg == "--timeout" and i + 1 < len(pytest_args):
                options += [arg, pytest_args[i + 1]]
        command = [sys.executable, "-m", "synchro.synchrotest", str(source), "-q", "--tb=no", "--report"]
        command += [str(report), *(["--real"] if real else []), *options, *nodeids]
        repo = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])))
        subprocess.run(command, cwd=repo, env=env, check=False, stdout=subprocess.DEVNULL)
        return dict(json.loads(report.read_text())) if report.exists() else {}


def _compare(source: Path, plugin: SynchroPlugin, pytest_args: list[str]) -> int:
    failing = sorted(k for k, v in plugin.outcomes.items() if v in ("failed", "error"))
    passed = sum(1 for v in plugin.outcomes.values() if v == "passed")
    if not failing:
        print(f"synchro: compare: all {passed} tests that ran passed through Synchro", flush=True)
        return 0
    print(f"synchro: compare: running the {len(failing)} failing tests on real PyMongo", flush=True)
    real = _rerun(source, failing, True, pytest_args)
    if not real:
        print("synchro: compare: the run on real PyMongo reported nothing", file=sys.stderr)
        return 3
    suspects = [k for k in failing if real.get(k) == "passed"]
    again: dict[str, str] = {}
    if suspects:
        print(f"synchro: compare: running {len(suspects)} tests through Synchro again", flush=True)
        again = _rerun(source, suspects, False, pytest_args)
    # A test that passes only when run again is a regression too, unless the allow-list names it
    # (with the reason it is flaky): otherwise a real regression that fails now and then would pass.
    flaky = [k for k in suspects if again.get(k) == "passed" and _flaky_reason(k) is not None]
    regressions = [k for k in suspects if k not in flaky]
    both = len(failing) - len(suspects)
    print(
        f"synchro: compare: {passed} passed through Synchro; {both} fail on real PyMongo too "
        f"(the server's limits); {len(flaky)} allowed flaky tests passed when run again; "
        f"{len(regressions)} regressions",
        flush=True,
    )
    for nodeid in suspects:
        if nodeid in flaky:
            print(f"  flaky (allowed: {_flaky_reason(nodeid)}) {nodeid}", flush=True)
        elif again.get(nodeid) == "passed":
            print(f"  REGRESSION (passed when run again, not on the flaky allow-list) {nodeid}", flush=True)
        else:
            print(f"  REGRESSION {nodeid}", flush=True)
    return 1 if regressions else 0


def _flaky_reason(nodeid: str) -> str | None:
    """The allow-list's reason why ``nodeid`` may fail and then pass when run again, if any."""
    from synchro.exclusions import FLAKY

    for pattern, reason in FLAKY.items():
        if fnmatch.fnmatchcase(nodeid, pattern):
            return reason
    return None


if __name__ == "__main__":
    sys.exit(main())
