"""Errors a user can cause. Each carries one sentence the user can act on; the CLI prints it and exits 1.

A sentence names a parameter by the library's name for it, in backticks: "`lift` must be 1 or more, not 0."
The layer that knows the user's words puts them in, once: the CLI its options (`--lift`), an experiment file
its keys, a Python caller reads the library's own names (`str(error)`). See `CurateError.worded`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

NAMED = re.compile(r"`([a-z][a-z0-9_]*)`")  # a parameter named in a sentence


def worded(sentence: str, words: Mapping[str, str]) -> str:
    """`sentence` with each backticked parameter name that `words` knows replaced by `words[name]` (the
    backticks go with it); the names it does not know keep their backticks."""
    return NAMED.sub(lambda match: words.get(match[1], match[0]), sentence)


class CurateError(Exception):
    """Base class: the message is one sentence, parameters named in backticks (the template)."""

    def worded(self, words: Mapping[str, str]) -> str:
        """The sentence in the caller's words: `lift` -> words["lift"], e.g. --lift."""
        return worded(str(self), words)


class SystemRefused(CurateError):
    """An operating-system error no check foresaw (a name too long, a disk gone), in one sentence."""

    def __init__(self, error: OSError):
        where = f"Cannot use {error.filename}: " if error.filename else ""
        super().__init__(f"{where}{error.strerror or error}.")


class BadWnid(CurateError):
    """A string that is not a WordNet 3.0 noun id, or an id WordNet 3.0 does not have."""


class BadClassList(CurateError):
    """A base class list that is empty, malformed or unreadable."""


class BadRecipe(CurateError):
    """Recipe parameters that cannot produce a label set."""


class BadManifest(CurateError):
    """A file that is not a readable curate manifest."""


class WordNetMissing(CurateError):
    """NLTK's WordNet 3.0 data is not installed where NLTK looks."""


class BadOutput(CurateError):
    """An output path that cannot be written."""


class BadImages(CurateError):
    """An image folder, list, archive or index that cannot be used."""


class SnapshotMismatch(CurateError):
    """The embedded WordNet snapshot differs from what NLTK reports."""


class StaleManifests(CurateError):
    """Committed manifests that differ from what `curate build` writes."""


class NotFound(CurateError):
    """A search of the hierarchy that finds nothing."""
