"""Benchmark helpers: time commands or functions, repeat, report median and spread (airbench style)."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time


def timed_runs(work, repeat: int = 5, warmup: int = 1, clock=time.perf_counter) -> list[float]:
    """Seconds per call of `work()` by `clock` (time.process_time: this process's CPU seconds), after
    `warmup` untimed calls."""
    for _ in range(warmup):
        work()
    times = []
    for _ in range(repeat):
        start = clock()
        work()
        times.append(clock() - start)
    return times


def interleaved_runs(works: dict[str, object], repeat: int = 5, warmup: int = 1,
                     cpu: bool = False) -> list[tuple[str, list[float]]]:
    """Seconds per call of each `work()` (wall, or with `cpu` the CPU-seconds of this process), taking turns
    (one call of each per round), so that a noisy moment of the machine falls on every variant alike rather
    than on whichever ran then."""
    return [(name, clocks[cpu]) for name, clocks in interleaved_clocks(works, repeat, warmup).items()]


def interleaved_clocks(works: dict[str, object], repeat: int = 5, warmup: int = 1) -> dict[str, tuple[list[float], list[float]]]:
    """`interleaved_runs`, with the CPU-seconds of this process (all its threads) per call beside the wall seconds."""
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in works}
    for round in range(warmup + repeat):
        for name, work in works.items():
            start, cpu = time.perf_counter(), time.process_time()
            work()
            if round >= warmup:
                times[name][0].append(time.perf_counter() - start)
                times[name][1].append(time.process_time() - cpu)
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


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and all its descendants, those still running included
    (RUSAGE_CHILDREN alone counts only children that have exited and been waited for: not persistent
    DataLoader workers, nor a multiprocessing pool's processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime + running_descendants_cpu()


def running_descendants_cpu() -> float:
    """CPU seconds of the processes below this one that are still running (from /proc)."""
    parent, ticks = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        ticks[int(entry)] = int(fields[11]) + int(fields[12])  # utime, stime
    below, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, up in parent.items() if up in frontier} - below
        below |= frontier
    return sum(ticks[pid] for pid in below) / os.sysconf("SC_CLK_TCK")


def images_per_second(loader, prepare) -> tuple[float, float]:
    """One pass: images per wall-clock second, and images per CPU-second summed over all processes (the
    figure that other jobs on a shared machine disturb least)."""
    cpu, start = cpu_seconds(), time.perf_counter()
    seen = 0
    for images, targets in loader:
        images = prepare(images)
        seen += len(images)
    wall = time.perf_counter() - start
    return seen / wall, seen / (cpu_seconds() - cpu)


def interleaved_passes(runs: dict, repeats: int, set_epoch) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """For each name -> (loader, prepare): one warm-up pass (page cache, worker start-up), then `repeats`
    passes interleaved across the runs, so drift hits all alike; images per wall second and per CPU-second."""
    wall: dict[str, list[float]] = {name: [] for name in runs}
    per_cpu: dict[str, list[float]] = {name: [] for name in runs}
    for loader, prepare in runs.values():
        images_per_second(loader, prepare)
    for epoch in range(repeats):
        for name, (loader, prepare) in runs.items():
            set_epoch(loader, epoch)
            rate, cpu = images_per_second(loader, prepare)
            wall[name].append(rate)
            per_cpu[name].append(cpu)
    return wall, per_cpu
