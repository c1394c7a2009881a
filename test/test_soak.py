"""A short run of the soak program (``test/soak.py``) in the suite; long runs are on demand.

Each run starts a SecantusDB of its own and runs in a process of its own, so that its count of
threads and its memory are the soak's alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "options",
    [
        pytest.param([], id="faults"),
        # Without faults no server cursor may outlive the clients (--check checks it then).
        pytest.param(["--no-fail-points"], id="no-faults"),
    ],
)
def test_short_soak_leaves_nothing_behind(options: list[str]) -> None:
    env = {key: value for key, value in os.environ.items() if key != "MONGODB_URI"}
    command = [
        sys.executable, "-m", "test.soak",
        "--seconds", "6", "--tasks", "16", "--check",
        # A stall this long means a call blocked the loop; shorter ones come from a busy machine.
        "--max-stall-ms", "1000",
        *options,
    ]  # fmt: skip
    result = subprocess.run(
        command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=110
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "other errors     none" in report
    assert "left by the run: none" in report
    if not options:
        assert "faults injected  0" not in report
    for line in ("server cursors", "RSS growth", "loop stall", "clients dropped", "watch close"):
        assert line in report, report
