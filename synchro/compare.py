"""Compare two ``--report`` files of :mod:`synchro.synchrotest`: real PyMongo's and Synchro's.

``python -m synchro.compare REAL.json SYNCHRO.json [--list]`` prints each run's counts and how many
of the tests that pass on real PyMongo also pass through Synchro (excluded tests count as not
passing); ``--list`` names the others.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

__all__ = ["compare", "main"]


def _load(path: str) -> dict[str, str]:
    return dict(json.loads(Path(path).read_text()))


def compare(real: dict[str, str], synchro: dict[str, str]) -> dict[str, object]:
    """Counts of both runs and the tests that pass on real PyMongo but not through Synchro."""
    passed_real = {k for k, v in real.items() if v == "passed"}
    passed_both = {k for k in passed_real if synchro.get(k) == "passed"}
    return {
        "real": dict(Counter(real.values())),
        "synchro": dict(Counter(synchro.values())),
        "passed_real": len(passed_real),
        "passed_both": len(passed_both),
        "ratio": len(passed_both) / len(passed_real) if passed_real else 1.0,
        "regressions": sorted((k, synchro.get(k, "not run (excluded)")) for k in passed_real - passed_both),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synchro.compare", description=__doc__)
    parser.add_argument("real")
    parser.add_argument("synchro")
    parser.add_argument("--list", action="store_true", help="name the tests that regress")
    options = parser.parse_args(argv)
    result = compare(_load(options.real), _load(options.synchro))
    print("real PyMongo:", result["real"])
    print("Synchro:     ", result["synchro"])
    print(
        f"passing on real PyMongo: {result['passed_real']}; also through Synchro: "
        f"{result['passed_both']} ({100 * float(result['ratio']):.1f}%)"  # type: ignore[arg-type]
    )
    if options.list:
        for nodeid, outcome in result["regressions"]:  # type: ignore[attr-defined]
            print(f"  {outcome:20} {nodeid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
