"""Scoring: percentiles of iteration times, and the figures derived from them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["PERCENTILES", "nearest_rank", "score"]

#: The percentiles reported for every measurement.
PERCENTILES = (10, 25, 50, 75, 90, 95, 99)


def nearest_rank(sorted_values: Sequence[float], percentile: float) -> float:
    """The nearest-rank percentile of ``sorted_values`` (ascending): the smallest value with at least
    ``percentile`` percent of the values at or below it."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(percentile / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def score(result: dict[str, Any]) -> dict[str, Any]:
    """Add the derived figures to a child's raw result (its iteration times, ops and bytes per
    iteration, CPU seconds): median, ops/s, MB/s, percentiles, CPU per op."""
    times = sorted(result["times"])
    median = nearest_rank(times, 50)
    ops = result["ops_per_iteration"]
    result["median_s"] = median
    result["ops_per_s"] = ops / median if median else math.inf
    result["mb_per_s"] = result["bytes_per_iteration"] / median / 1e6 if median else math.inf
    result["percentiles_s"] = {p: nearest_rank(times, p) for p in PERCENTILES}
    result["cpu_per_op_s"] = result["cpu_s"] / (ops * len(times))
    return result
