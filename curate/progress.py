"""The progress callback long library calls take: progress(description, total) -> advance(n).

The CLI passes a rich progress bar on stderr; the library defaults to none."""

from collections.abc import Callable

Progress = Callable[[str, "int | None"], Callable[[int], None]]


def no_progress(description: str, total: int | None) -> Callable[[int], None]:
    return lambda n=1: None
