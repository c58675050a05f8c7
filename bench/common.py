"""Benchmark helpers: time commands or functions, repeat, report median and spread (airbench style)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def timed_runs(work, repeat: int = 5, warmup: int = 1) -> list[float]:
    """Seconds per call of `work()`, after `warmup` untimed calls."""
    for _ in range(warmup):
        work()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return times


def run_python(code: str, *args: str) -> str:
    """Run `code` in a fresh interpreter (a cold process); return its stdout."""
    return subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True).stdout


def summary(times: list[float]) -> str:
    median = statistics.median(times)
    return f"{median * 1000:9.1f} ms  (min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}, n={len(times)})"


def report(rows: list[tuple[str, list[float]]], baseline: str) -> None:
    """Print each row's median and its ratio against the named baseline row."""
    base = statistics.median(dict(rows)[baseline])
    width = max(len(name) for name, _ in rows)
    for name, times in rows:
        ratio = base / statistics.median(times)
        print(f"{name:<{width}}  {summary(times)}   {ratio:7.1f}x vs {baseline}")
