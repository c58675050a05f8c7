"""ImageNet class ids: `n` followed by the 8-digit WordNet 3.0 noun offset (`n01440764` = tench)."""

from __future__ import annotations

import re

from curate.errors import BadWnid

WNID_PATTERN = re.compile(r"n\d{8}")


def is_wnid(text: str) -> bool:
    """Whether `text` is shaped like a wnid (not whether WordNet 3.0 has it)."""
    return WNID_PATTERN.fullmatch(text) is not None


def not_a_wnid(text: str, where: str = "") -> str:
    """The sentence for a string that is not shaped like a wnid; `where` says where it was found."""
    return f"{text!r}{' ' + where if where else ''} is not a WordNet 3.0 noun id: ids look like n01440764."


def check_wnid(text: str) -> str:
    """`text`, or BadWnid when it is not shaped like a wnid."""
    if not is_wnid(text):
        raise BadWnid(not_a_wnid(text))
    return text


def wnid(offset: int) -> str:
    """The ImageNet id of a noun offset."""
    return f"n{offset:08d}"
