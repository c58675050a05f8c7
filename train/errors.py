"""Errors a user can cause in training. Each carries one sentence; `python -m train` prints it and exits 1."""

from curate.errors import CurateError


class TrainError(CurateError):
    """Bad training input: a table whose images are missing, a foreign checkpoint, an unknown model..."""
