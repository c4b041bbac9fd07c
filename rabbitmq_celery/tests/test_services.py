import pytest

from adding.services import join_strings


@pytest.mark.parametrize(
    ("first", "second", "joined"),
    [("cats", "dogs", "cats es dogs"), ("", "", " es "), ("<b>", "ü", "<b> es ü")],
)
def test_join_strings(first, second, joined):
    assert join_strings(first, second) == joined
