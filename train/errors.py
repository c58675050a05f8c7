"""Errors a user can cause in training. Each carries one sentence; `python -m train` prints it and exits 1."""

from collections.abc import Mapping

from curate.errors import CurateError


class TrainError(CurateError):
    """Bad training input: a table whose images are missing, a foreign checkpoint, an unknown model..."""


def sentence(error: Exception, words: Mapping[str, str] = {}) -> str:
    """The error's sentence, its settings as `words` names them; a DataLoader worker wraps it in its traceback
    text, whose last line holds it."""
    text = error.worded(words) if isinstance(error, CurateError) else str(error)
    text = text.strip()
    if "Original Traceback" in text:
        text = text.splitlines()[-1].split(": ", 1)[-1]
    return text
