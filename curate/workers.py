"""Work spread over processes that neither an interrupt nor a dying worker can hang.

`multiprocessing.Pool` hangs for ever when a worker is killed (its task is never answered), and its
`terminate()` can deadlock when SIGTERM arrives while its threads hold a queue's lock. Here an interrupt
(SIGINT, SIGTERM) is held while the pool's machinery runs and raised at the next safe point, ~0.1 s
later, after the workers have been stopped (each runs its `finally`s: no half-written file stays); a worker
that dies ends the work with one sentence that says how it died."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from curate.errors import CurateError
from curate.interrupts import EXIT_CODES, Terminated, raise_on_sigterm

STOP_WAIT = 10  # seconds a stopped worker has to clean up before it is killed


class WorkerDied(CurateError):
    """A worker process ended before finishing its job."""


def in_processes(function: Callable, jobs: Iterable, processes: int, *, start: str = "forkserver",
                 preload: tuple[str, ...] = ()) -> Iterator:
    """Yield `(job, function(job))` for each of `jobs` as it finishes, computed on `processes` worker
    processes (started by `start`). `function` must be picklable; an exception it raises ends the work.
    A forkserver, started here, imports `function`'s module and the modules `preload` names once, and every
    worker forked from it starts with them (not one import per worker: ~0.5 CPU-s each for curate.images.pack)."""
    held: list[BaseException] = []
    with holding_interrupts(held):
        others = set(multiprocessing.active_children())
        context = multiprocessing.get_context(start)
        if start == "forkserver":
            context.set_forkserver_preload(["__main__", function.__module__, *preload])  # no effect on a running one
        executor = ProcessPoolExecutor(processes, mp_context=context, initializer=raise_on_sigterm)
        workers = set()
        try:
            running = {executor.submit(stoppable, function, job): job for job in jobs}
            workers = set(multiprocessing.active_children()) - others  # all started by now, none ended
            while running:
                done, _ = wait(running, timeout=0.1, return_when=FIRST_COMPLETED)
                if held:
                    raise held[0]
                for future in done:
                    yield running.pop(future), future.result()
            executor.shutdown(wait=True)
            if held:
                raise held[0]
        except BaseException as error:
            # A broken pool's own thread is stopping its workers: wait for it, so that only one thread reads
            # each worker's exit status (forkserver hands it out once; a second reader would see 255).
            executor.shutdown(wait=isinstance(error, BrokenProcessPool), cancel_futures=True)
            workers = workers or set(multiprocessing.active_children()) - others
            stop(workers)
            if isinstance(error, BrokenProcessPool):
                raise WorkerDied(died(workers)) from None
            raise


def stoppable(function: Callable, job):
    """`function(job)` in a worker; an interrupt there (its cleanup done) ends the worker, not just the job."""
    try:
        return function(job)
    except KeyboardInterrupt:
        os._exit(EXIT_CODES["Interrupted."])
    except Terminated:
        os._exit(EXIT_CODES["Terminated."])


@contextlib.contextmanager
def holding_interrupts(held: list[BaseException]):
    """While inside, SIGINT and SIGTERM are appended to `held` (as the exception each would raise) instead
    of being raised wherever the main thread happens to be. Outside the main thread, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def hold(signum, frame):
        held.append(Terminated() if signum == signal.SIGTERM else KeyboardInterrupt())

    previous = {number: signal.signal(number, hold) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def stop(workers: set) -> None:
    """SIGTERM to each worker, which cleans up and exits; SIGKILL to any still running after STOP_WAIT s."""
    for worker in workers:
        if worker.exitcode is None:
            worker.terminate()
    for worker in workers:
        worker.join(STOP_WAIT)
        if worker.exitcode is None:
            worker.kill()
            worker.join()


def died(workers: set) -> str:
    """How the worker processes that ended early ended, in one sentence."""
    ended = {w.exitcode for w in workers if w.exitcode is not None and w.exitcode < 0}
    signals = sorted(signal.Signals(-code).name for code in ended - {-signal.SIGTERM})  # SIGTERM: the others, stopped
    how = f"was killed by {' and '.join(signals)}" if signals else "ended without finishing its job"
    hint = " (SIGKILL is what the system sends when memory runs out)" if "SIGKILL" in signals else ""
    return f"A worker process {how}{hint}."
