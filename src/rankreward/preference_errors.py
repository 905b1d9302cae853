"""The errors raised for bad preference data, and how values appear in them."""

from __future__ import annotations

from rankreward.utilities import UtilitySpecError

# Values longer than this are cut in messages, so that an error stays one
# readable line even when the value is a long response or a conversation.
MAX_SHOWN_CHARS = 80


class DataError(ValueError):
    """Bad preference data, as one line naming the file, the record and the field."""


class DataUtilityError(DataError, UtilitySpecError):
    """An invalid utility spec in a data file, or in a group-to-utility mapping."""


def show_value(value) -> str:
    """Return ``repr(value)`` cut to ``MAX_SHOWN_CHARS``; repr escapes line breaks."""
    text = repr(value)
    if len(text) > MAX_SHOWN_CHARS:
        text = text[: MAX_SHOWN_CHARS - 3] + "..."
    return text


def printable_path(path: str) -> str:
    """Return the path as given, or its repr if it contains line breaks or controls."""
    return path if path.isprintable() else repr(path)
