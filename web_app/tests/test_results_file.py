"""The results file's line format."""

import pytest

from submissions.results_file import results_line


def test_results_line_is_the_result_and_one_line_break():
    assert results_line("cats es dogs") == b"cats es dogs\n"


@pytest.mark.parametrize("breaker", ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"])
def test_results_line_escapes_every_line_break(breaker):
    line = results_line(f"one{breaker}two").decode("utf-8")
    assert line.endswith("\n")
    assert len(line.splitlines()) == 1
    assert line.startswith("one\\") and line.rstrip("\n").endswith("two")
