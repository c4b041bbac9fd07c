"""The results file: one result a line, escaped so that it reads back exactly, appended under a lock, synced,
never half written."""

import os
import re
import unicodedata
from pathlib import Path

from django.conf import settings

from .forms import BIDI_CONTROLS, LINE_BREAKING_CATEGORIES
from .locks import queued_file_lock


def results_line(result: str) -> bytes:
    """A result as exactly one line of the results file, UTF-8; result_from_line() reads it back.

    A backslash is written as two, and every character the form refuses (line
    breaks, control characters, text direction controls) as its backslash escape
    (\\n, \\r, \\t, \\x1b, \\u2028, ...): one result is one line, `cat` shows no terminal
    escape from it, and the line reads back to the exact result. A result of plain
    text is its line as it is.
    """
    if result.isprintable() and "\\" not in result:
        escaped = result
    else:
        escaped = "".join(escape_character(char) for char in result)
    return (escaped + "\n").encode("utf-8")


def escape_character(char: str) -> str:
    if char == "\\":
        return "\\\\"
    if unicodedata.category(char) in LINE_BREAKING_CATEGORIES or char in BIDI_CONTROLS:
        return char.encode("unicode_escape").decode("ascii")
    return char


# Every backslash in a line starts one of the escapes escape_character() writes.
ESCAPE = re.compile(r"\\(?:([\\nrt])|x([0-9a-f]{2})|u([0-9a-f]{4}))")
SINGLE_ESCAPES = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def result_from_line(line: str) -> str:
    """The result a line of the results file holds: the inverse of results_line().

    `line` is one line of the file read as UTF-8, with or without its line break.
    """
    return ESCAPE.sub(unescaped, line.removesuffix("\n"))


def unescaped(match: re.Match) -> str:
    single, code = match.group(1), match.group(2) or match.group(3)
    return SINGLE_ESCAPES[single] if single else chr(int(code, 16))


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
