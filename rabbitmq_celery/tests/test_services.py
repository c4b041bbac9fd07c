import re

import pytest

from adding.services import join_strings


@pytest.mark.parametrize(
    ("first", "second", "joined"),
    [("cats", "dogs", "cats es dogs"), ("", "", " es "), ("<b>", "ü", "<b> es ü")],
)
def test_join_strings(first, second, joined):
    assert join_strings(first, second) == joined


@pytest.mark.parametrize(
    ("first", "second", "error", "message"),
    [
        (42, "dogs", TypeError, "first must be text, not int"),
        ("cats", ["dogs"], TypeError, "second must be text, not list"),
        ("cats", None, TypeError, "second must be text, not NoneType"),
        ("x" * 201, "dogs", ValueError, "first has 201 characters, more than 200"),
        ("cats", "a\nb", ValueError, "second holds a line break or control character (U+000A)"),
        ("\x1b[2J", "dogs", ValueError, "first holds a line break or control character (U+001B)"),
        ("cats", "\u2028", ValueError, "(U+2028)"),
        ("\u202e", "dogs", ValueError, "(U+202E)"),
    ],
)
def test_join_strings_refuses_what_the_form_refuses(first, second, error, message):
    with pytest.raises(error, match=re.escape(message)):
        join_strings(first, second)


def test_join_strings_takes_the_longest_text_the_form_takes_and_joiners():
    longest = "x" * 200
    assert join_strings(longest, "\u200d") == f"{longest} es \u200d"
