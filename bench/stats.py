"""Percentiles and the one machine-readable line every benchmark ends with (stdlib only: the peers'
venv imports it too)."""

from __future__ import annotations

import json
import math
import time

MARKER = "BENCH-JSON "


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.5, 0.95, 0.99) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def summary(milliseconds: list[float]) -> dict:
    return {
        "n": len(milliseconds),
        "median_ms": round(percentile(milliseconds, 0.5), 2),
        "p95_ms": round(percentile(milliseconds, 0.95), 2),
        "p99_ms": round(percentile(milliseconds, 0.99), 2),
    }


def repeat(call, *, times: int, budget_seconds: float, at_least: int = 3) -> list[float]:
    """Run ``call`` up to ``times`` times (at least ``at_least``) within about ``budget_seconds``;
    milliseconds per call."""
    spent, results = 0.0, []
    while len(results) < times and (len(results) < at_least or spent < budget_seconds):
        started = time.perf_counter()
        call()
        elapsed = time.perf_counter() - started
        spent += elapsed
        results.append(elapsed * 1000)
    return results


def emit(figures: dict) -> None:
    """The last line of a benchmark's output, read by ``bench.run``."""
    print(MARKER + json.dumps(figures, default=str), flush=True)


def parse(output: str) -> dict | None:
    """The figures of the last BENCH-JSON line in ``output``, or None when there is none."""
    for line in reversed(output.splitlines()):
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER):])
    return None
