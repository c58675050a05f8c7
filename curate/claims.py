"""Claim files: a folder one process at a time works in (a store being packed, a training run, a grid).

A claim file is locked by its holder (an exclusive lock the system drops when the holder dies, however it
dies, so a crashed holder's claim is taken over) and holds the holder's process id, for the sentence that
refuses another process.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class Held(Exception):
    """The claim file is locked by a live process: `holder` is its process id as written there, or ''."""

    def __init__(self, holder: str):
        super().__init__(holder)
        self.holder = holder


def take(path: Path) -> int:
    """The open descriptor of the claim file `path`, locked by this process and holding its process id; `Held`
    when another live process holds it. Close the descriptor (after removing the file) to give it up."""
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(descriptor, 32).decode(errors="replace").strip()
            os.close(descriptor)
            raise Held(holder if holder.isdigit() else "") from None
        if still_there(path, descriptor):
            break
        os.close(descriptor)  # its holder removed it as we opened it: claim the file now there
    os.ftruncate(descriptor, 0)
    os.write(descriptor, str(os.getpid()).encode())
    return descriptor


def still_there(path: Path, descriptor: int) -> bool:
    """Whether the open file `descriptor` is still the file at `path`."""
    try:
        return os.path.samestat(os.fstat(descriptor), os.stat(path))
    except FileNotFoundError:
        return False
