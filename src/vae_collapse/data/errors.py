"""Errors the data layer reports to users."""

from __future__ import annotations

import re

_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


def one_line(text: str) -> str:
    # Only line breaks are folded, so paths with odd spacing survive intact.
    return _LINE_BREAKS.sub(" ", text).strip()


class DataError(Exception):
    """A data set could not be found, fetched or trusted.

    The CLI prints ``str(error)`` as a single line, so the message is flattened
    here: whatever a caller passes (e.g. a subprocess's multi-line stderr), the
    user still gets one line naming the file or folder, what went wrong and how
    to fix it.
    """

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class FetchError(RuntimeError):
    """A short reason why one fetch route failed.

    Fetchers raise it; the caller that knows the cache folder turns it into a
    DataError that also says how to place the files by hand.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(one_line(reason))
