"""Errors a user can cause. Each carries one sentence the user can act on; the CLI prints it and exits 1."""

import re
from collections.abc import Mapping

PARAMETER = re.compile(r"`([a-z][a-z0-9_]*)`")


class CurateError(Exception):
    """Base class: the message is shown to the user as is. A parameter it names is written in backquotes by the
    library's name for it (`lift`); the layer that knows the user's words for it says them (`worded`)."""

    def worded(self, words: Mapping[str, str]) -> str:
        """The sentence with each parameter named in `words` as `words` names it (`lift` -> --lift)."""
        return PARAMETER.sub(lambda match: words.get(match[1], match[0]), str(self))


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
