"""The results file's line format: one line a result, read back exactly by result_from_line()."""

import uuid

import pytest

from submissions import services
from submissions.models import Submission
from submissions.results_file import result_from_line, results_line


def test_results_line_is_the_result_and_one_line_break():
    assert results_line("cats es dogs") == b"cats es dogs\n"


def test_plain_text_of_any_script_is_written_as_it_is():
    result = "ü 中文 es 👩\u200d💻 ' \" % {} \u00a0"
    assert results_line(result) == (result + "\n").encode("utf-8")


@pytest.mark.parametrize("breaker", ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"])
def test_results_line_escapes_every_line_break(breaker):
    line = results_line(f"one{breaker}two").decode("utf-8")
    assert line.endswith("\n")
    assert len(line.splitlines()) == 1
    assert line.startswith("one\\") and line.rstrip("\n").endswith("two")


@pytest.mark.parametrize(
    "result, line",
    [
        ("a\\b", "a\\\\b"),
        ("a\\nb", "a\\\\nb"),
        ("a\nb", "a\\nb"),
        ("\x1b[2J\x07", "\\x1b[2J\\x07"),
        ("\u202eevil", "\\u202eevil"),
    ],
)
def test_backslashes_are_doubled_and_control_characters_escaped(result, line):
    assert results_line(result) == (line + "\n").encode("utf-8")


# Each string the decoder must give back exactly: backslashes before and after escapes, every
# line break, control characters of C0 and C1, DEL, and text direction controls.
TRICKY = [
    "cats es dogs",
    "a\\nb es c",
    "a\nb es c",
    "\\ es \\\\",
    "\\\\n\\x1b\\u2028 es \\",
    # From 1: PostgreSQL's text refuses NUL, so no submission holds one (the line format does: below).
    "".join(chr(code) for code in range(1, 0x20)) + " es \x7f" + "".join(chr(code) for code in range(0x80, 0xA0)),
    "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029 es \t",
    "\u061c\u200e\u200f\u202a\u202e\u2066\u2069 es \u200c\u200d",
    "ends with a backslash\\ es \\",
]


@pytest.mark.parametrize("result", [*TRICKY, "\x00 es \\x00"])
def test_a_line_reads_back_as_the_result_it_was_made_of(result):
    assert result_from_line(results_line(result).decode("utf-8")) == result


@pytest.mark.django_db
def test_every_line_written_reads_back_as_its_exact_result(settings, tmp_path):
    settings.RESULTS_FILE = tmp_path / "results.txt"
    results = []
    for result in TRICKY:
        first, second = result.split(" es ", 1)
        submission = Submission.objects.create(first=first, second=second, task_id=uuid.uuid4())
        services.outcome_record(submission, services.Outcome(Submission.Status.DONE, result=result))
        assert submission.status == Submission.Status.DONE
        results.append(result)

    lines = settings.RESULTS_FILE.read_text(encoding="utf-8").splitlines()

    assert [result_from_line(line) for line in lines] == results
    assert lines[0] == "cats es dogs"
