"""Motor's Twisted classes, on the default reactor and on the asyncio reactor.

A process can run one reactor once, so the scenarios run in a subprocess per reactor
(``test/twisted_scenarios.py``), which prints what each observed; the tests assert it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from motor.frameworks import twisted as twisted_framework
from motor.frameworks.interface import Framework

SCRIPT = Path(__file__).resolve().parent / "twisted_scenarios.py"
REACTOR_CLASSES = {"default": "EPollReactor", "asyncio": "AsyncioSelectorReactor"}


@dataclass
class Run:
    """One run of the scenarios script on one reactor."""

    reactor: str
    lines: dict[str, dict[str, Any]]
    stderr: str
    returncode: int

    def result(self, scenario: str) -> dict[str, Any]:
        """What ``scenario`` observed; fails the test if it raised or did not report."""
        line = self.lines.get(scenario)
        assert line is not None, f"{scenario} did not report; stderr:\n{self.stderr[-3000:]}"
        assert line["reactor"] == REACTOR_CLASSES[self.reactor]
        assert "error" not in line, line["error"]
        return line["result"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module", params=sorted(REACTOR_CLASSES), ids=str)
def run(request: pytest.FixtureRequest, mongodb_uri: str) -> Run:
    """The scenarios' observations on one reactor (one subprocess for all of them)."""
    reactor = request.param
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), mongodb_uri, reactor],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = {}
    for text in completed.stdout.splitlines():
        line = json.loads(text)
        lines[line["scenario"]] = line
    return Run(reactor, lines, completed.stderr, completed.returncode)


def test_framework_module_satisfies_the_interface() -> None:
    assert isinstance(twisted_framework, Framework)
    assert twisted_framework.CLASS_PREFIX == "Twisted"
    with pytest.raises(TypeError, match="io_loop must be a Twisted reactor"):
        twisted_framework.check_event_loop(object())


def test_classes_are_generated() -> None:
    from motor import motor_twisted

    assert "TwistedMotorClient" in motor_twisted.__all__
    assert "TwistedMotorGridFSBucket" in motor_twisted.__all__
    assert motor_twisted.TwistedMotorClient._framework is twisted_framework


def test_process_ends_cleanly(run: Run) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    # Every failure a Deferred ends with is handled: Twisted logs the others when collected.
    assert "Unhandled error" not in run.stderr, run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]


def test_crud_with_inline_callbacks(run: Run) -> None:
    assert run.result("crud_inline_callbacks") == {
        "is_deferred": True,
        "found": {"name": "apple", "qty": 3},
        "deleted": 1,
        "count": 0,
    }


def test_crud_with_await(run: Run) -> None:
    assert run.result("crud_await") == {"inserted": 3, "found": {"i": 10}, "deleted": 2, "remaining": 1}


def test_find_with_async_for_and_to_list(run: Run) -> None:
    assert run.result("find_async_for_and_to_list") == {
        "iterated": list(range(7)),
        "listed": [6, 5, 4, 3],
        "limited": [0, 1],
    }


def test_change_stream_sees_an_insert(run: Run) -> None:
    assert run.result("change_stream") == {
        "operation": "insert",
        "document": {"x": "seen"},
        "alive_after": False,
    }


def test_transaction_commits_and_aborts(run: Run) -> None:
    assert run.result("transaction") == {
        "outcome": "committed",
        "failure": "Refused: no",
        "legs": ["credit", "debit"],
    }


def test_gridfs_upload_then_download(run: Run) -> None:
    assert run.result("gridfs") == {"filename": "blob.bin", "length": 256_000, "same": True}


def test_bad_input_fails_the_deferred_with_type_error(run: Run) -> None:
    result = run.result("bad_input")
    assert result["is_deferred"] is True, result
    assert result["error"] is not None and result["error"].startswith("TypeError: document must be")


def test_cancelled_queued_call_never_runs(run: Run) -> None:
    assert run.result("cancel_queued") == {
        # d.cancel(), the cancelled Deferred of a coroutine awaiting the call, d.addTimeout().
        "failures": ["CancelledError", "CancelledError", "TimeoutError"],
        "marked_cancelled": True,
        # "kept" was queued among the cancelled calls and not cancelled.
        "ids": ["kept"],
    }


def test_cancelled_commit_aborts_the_transaction(run: Run) -> None:
    assert run.result("cancel_commit") == {"failure": "CancelledError", "in_transaction": False, "ids": []}


def test_reactor_stays_responsive_during_server_selection(run: Run) -> None:
    result = run.result("responsive_during_server_selection")
    assert result["error"] == "ServerSelectionTimeoutError"
    assert result["elapsed"] >= 0.45
    # A tick every 10 ms for about 500 ms: a blocked reactor would tick once or twice.
    assert result["ticks"] >= 20, result


def test_retrieved_failure_is_not_logged_as_unhandled(run: Run) -> None:
    assert run.result("retrieved_failure_is_handled") == {
        "value": "ValueError: retrieved after it failed",
        "logged": [],
    }


def test_framework_loop_identity_and_pinned_client(run: Run) -> None:
    result = run.result("framework")
    assert result["running_loop_is_engine_loop"] is True
    assert result["get_event_loop_is_reactor"] is True
    assert result["off_thread_running_loop"] == "None"
    assert result["wrong_loop"].startswith("io_loop must be a Twisted reactor")
    assert result["pinned_ping"] == 1.0
    assert result["platform"].endswith(f"|{twisted_framework.platform_info()}")
