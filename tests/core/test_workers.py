"""Work on worker processes: every result once, a worker's exception or death ends the work with one
sentence (never a hang), and an interrupt at any moment stops it cleanly (the `Pool.terminate` deadlock that
once hung a SIGTERM'd pack for ever)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from curate.workers import WorkerDied, in_processes

REPO = Path(__file__).resolve().parents[2]


def double(job: int) -> int:
    return 2 * job


def killed_on_three(job: int) -> int:
    if job == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return job


def refuses_five(job: int) -> int:
    if job == 5:
        raise ValueError("five is refused")
    return job


def test_every_job_gives_its_result_once():
    assert sorted(in_processes(double, range(20), 3)) == [(n, 2 * n) for n in range(20)]


def test_an_exception_in_a_worker_is_raised_as_it_was():
    with pytest.raises(ValueError, match="five is refused"):
        list(in_processes(refuses_five, range(8), 2))


def test_a_killed_worker_ends_the_work_with_how_it_died():
    with pytest.raises(WorkerDied) as died:
        list(in_processes(killed_on_three, range(8), 2))
    assert str(died.value) == ("A worker process was killed by SIGKILL (SIGKILL is what the system sends when memory "
                               "runs out).")


# A pack of 40 one-image parts on one worker, its first part reported on stdout, then slow parts.
PACKING = """
import sys, time
from curate.workers import in_processes
from curate.interrupts import raise_on_sigterm, Terminated
raise_on_sigterm()
try:
    for n, (job, result) in enumerate(in_processes(time.sleep, [0.005] * 40, 1)):
        if n == 0:
            print("started", flush=True)
except Terminated:
    sys.exit(143)
"""


@pytest.mark.slow
def test_sigterm_at_any_moment_ends_the_work_promptly():
    outcomes = []
    for trial in range(30):
        process = subprocess.Popen([sys.executable, "-c", PACKING], cwd=REPO, stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline() == "started\n"
        time.sleep(0.01 * trial)  # 0 to 0.29 s: before, during and after the remaining 0.2 s of work
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)  # a hang fails here
        outcomes.append(process.returncode)
    # 143: stopped mid-work; 0 or -15: the work was done (-15: the signal came as the interpreter shut down)
    assert set(outcomes) <= {0, 143, -signal.SIGTERM} and 143 in outcomes, outcomes
