"""Errors a user can cause in training. Each carries one sentence; `python -m train` prints it and exits 1."""

from curate.errors import CurateError


class TrainError(CurateError):
    """Bad training input: a table whose images are missing, a foreign checkpoint, an unknown model..."""


def sentence(error: Exception) -> str:
    """The error's sentence; a DataLoader worker wraps it in its traceback text, whose last line holds it."""
    text = str(error).strip()
    if "Original Traceback" in text:
        text = text.splitlines()[-1].split(": ", 1)[-1]
    return text
