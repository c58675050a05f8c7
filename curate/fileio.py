"""Outputs that appear whole or not at all, and never replace what was not curate's to replace.

Every output goes through `atomic_path`: checked before any work (`check_writable`), written to a hidden
temporary file beside its target, renamed into place only when complete. An output path that is a symlink
is written through to its target (as a shell's `>` does): the target is replaced, the link stays. Paths
that are folders, devices, pipes or sockets are refused, and so is `-`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from pathlib import Path

from curate.errors import BadOutput

SPECIAL = {stat.S_ISDIR: "a folder", stat.S_ISCHR: "a device", stat.S_ISBLK: "a device", stat.S_ISFIFO: "a named pipe",
           stat.S_ISSOCK: "a socket"}


def special_file(path: Path | str) -> str | None:
    """What `path` is when it is a device, a named pipe or a socket ("a named pipe"), else None. Checked
    before an input is opened: opening a named pipe waits for a writer, for ever."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return next((name for test, name in SPECIAL.items() if test(mode)), "a special file")


def not_regular(path: Path | str) -> str | None:
    """The sentence refusing `path` as an input when it is a device, a named pipe or a socket, else None."""
    what = special_file(path)
    return f"{path} is not a regular file ({what}): give a file." if what else None


def check_writable(path: Path) -> Path:
    """The file an output to `path` replaces (a symlink's target), or one sentence saying why it cannot be
    written. Proves the folder writable by creating (and removing) a file in it, before any work."""
    if str(path) == "-":
        raise BadOutput("Cannot write to '-': give a file name (curate writes each output whole, to a file).")
    try:
        target = Path(path).resolve() if Path(path).is_symlink() else Path(path)
    except (RuntimeError, OSError):  # a loop of symlinks: RuntimeError before Python 3.13, OSError (ELOOP) since
        raise BadOutput(f"Cannot write {path}: it is a loop of symlinks that leads to no file.") from None
    if target.exists() and not target.is_file():
        mode = target.stat().st_mode
        what = next((name for test, name in SPECIAL.items() if test(mode)), "a special file")
        raise BadOutput(f"Cannot write {path}: it is {what}, not a regular file.")
    parent = target.parent
    if not parent.exists():
        raise BadOutput(f"Cannot write {path}: the folder {parent} does not exist.")
    if not parent.is_dir():
        raise BadOutput(f"Cannot write {path}: {parent} is a file, not a folder.")
    try:
        probe(parent, f".{target.name}.")
    except OSError as error:
        raise BadOutput(f"Cannot write {path}: the folder {parent} takes no new files ({error.strerror or error}).") from None
    return target


def check_absent(path: Path) -> None:
    """Refuse an output that exists already (a dangling link included): an export replaces nothing."""
    if Path(path).exists() or Path(path).is_symlink():
        raise BadOutput(f"{path} exists already: an export never replaces anything, so remove it or name another.")


def check_not_input(output: Path, inputs: list[Path | str | None]) -> None:
    """Refuse an output that is also one of the command's input files: writing it would destroy the input."""
    for given in inputs:
        if given is not None and Path(given).is_file() and same_file(output, given):
            raise BadOutput(f"{output} is also an input of this command ({given}): write to another file.")


def same_file(first: Path | str, second: Path | str) -> bool:
    """Whether two paths name one file, however spelt: the same path once symlinks and `..` are resolved, or
    (where both exist) one file by the filesystem's word, as hard links are."""
    try:
        return Path(first).resolve() == Path(second).resolve() or os.path.samefile(first, second)
    except (OSError, RuntimeError):  # one of them does not exist, or is a loop of symlinks
        return False


def check_folder_writable(folder: Path, what: str = "manifests") -> None:
    """Fail with one sentence when `folder` is `-`, is or would have to be made inside a file, or cannot be
    made (the folder it would be made in is probed by creating a file there)."""
    if str(folder) == "-":  # stdout, to a file option; a folder cannot go there
        raise BadOutput(f"Cannot write {what} into '-': give a folder's name (a folder cannot go to stdout).")
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if not existing.is_dir():
        where = "it is" if existing == folder else f"{existing} is"
        raise BadOutput(f"Cannot write {what} into {folder}: {where} a file, not a folder.")
    try:
        probe(existing, ".curate.")
    except OSError as error:
        raise BadOutput(f"Cannot write {what} into {folder}: the folder {existing} takes no new files "
                        f"({error.strerror or error}).") from None


def probe(folder: Path, prefix: str) -> None:
    """Create a file in `folder`, and remove it: raises OSError where the folder takes no new files."""
    with new_file(folder / f"{prefix}{secrets.token_hex(8)}.probe"):
        pass


@contextmanager
def new_file(path: Path):
    """Create the empty file `path` (it must not exist: its name is random) and remove it on the way out, whatever
    comes. Its name is known before it exists, so an interrupt at any step leaves nothing behind: blocking
    signals in this thread would not do, since another thread of the process (pyarrow's, a loader's) may take a
    signal, and Python then raises it in the main thread at the next step, blocked or not."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # 0o666 less the umask, as open() gives
        yield path
    finally:
        path.unlink(missing_ok=True)


def make_folder(folder: Path) -> None:
    """Create `folder` (and its parents), or say in one sentence why it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BadOutput(f"Cannot create the folder {folder}: {error.strerror or error}.") from None


@contextmanager
def new_folders(folder: Path):
    """Create `folder` and its missing parents for the block; should the block fail, remove the folders it
    created, with what the block wrote into them, so a failed command leaves no folder behind."""
    created = [path for path in (folder, *folder.parents) if not path.exists()]
    make_folder(folder)
    try:
        yield folder
    except BaseException:
        if created:
            shutil.rmtree(created[-1], ignore_errors=True)
        raise


def remove_stale_temporaries(target: Path) -> None:
    """Remove the temporary files that writers of `target` killed before they could clean up left behind
    (a temporary file's name carries its writer's process id)."""
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        pid = leftover.name[len(target.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            leftover.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


TOGETHER: ContextVar[ExitStack | None] = ContextVar("outputs_together", default=None)


@contextmanager
def together():
    """Outputs that `atomic_path` writes within the block are renamed into place together when it ends, once
    every one is whole: a command whose second output fails (the disk full) leaves its first as it was."""
    with ExitStack() as pending:
        token = TOGETHER.set(pending)
        try:
            yield
        finally:
            TOGETHER.reset(token)


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside the output; rename it into place only if the block succeeds (and, within
    `together`, the blocks of the other outputs). On any exception, including an interrupt (SIGINT, or
    SIGTERM as `signals` turns it into one), the temporary file is removed and the output is left as it was."""
    pending = TOGETHER.get()
    if pending is None:
        with written_whole(path) as tmp:
            yield tmp
    else:
        yield pending.enter_context(written_whole(path))


@contextmanager
def written_whole(path: Path):
    target = check_writable(Path(path))
    remove_stale_temporaries(target)
    name = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp"
    try:
        with new_file(name) as tmp:
            yield tmp
            os.replace(tmp, target)
    except OSError as error:
        raise BadOutput(f"Cannot write {path}: {error.strerror or error}.") from None
