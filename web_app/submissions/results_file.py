"""The results file: one result a line, appended under a lock, synced, never half written."""

import os
from pathlib import Path

from django.conf import settings

from .locks import queued_file_lock


def results_line(result: str) -> bytes:
    """A result as exactly one line of the results file.

    A line break inside a result would make it several lines, so every character
    that str.splitlines() breaks at is written as a backslash escape (\\n, \\r,
    \\x0b, \\u2028, ...); results of the form never hold one, since the form
    refuses them.
    """
    escaped = "".join(escape_line_break(char) for char in result)
    return (escaped + "\n").encode("utf-8")


# The characters str.splitlines() breaks a line at.
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def escape_line_break(char: str) -> str:
    if char not in LINE_BREAKS:
        return char
    return char.encode("unicode_escape").decode("ascii")


def results_file_lock():
    path: Path = settings.RESULTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    return queued_file_lock(path, timeout=settings.WRITE_LOCK_TIMEOUT, mode="a+b")


def append_line(results_file, line: bytes, offset: int) -> None:
    """Append `line` at `offset`, the file's end, in one write, and sync it to disk; on any
    error cut the file back to `offset`, so that no part of a line stays behind."""
    try:
        written = os.write(results_file.fileno(), line)
        if written != len(line):
            raise OSError(f"only {written} of {len(line)} bytes written")
        os.fsync(results_file.fileno())
    except OSError:
        os.ftruncate(results_file.fileno(), offset)
        raise
