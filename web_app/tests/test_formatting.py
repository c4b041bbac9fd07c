from datetime import timedelta

import pytest

from submissions.formatting import seconds


@pytest.mark.parametrize(
    "value, shown",
    [
        (None, ""),
        (timedelta(milliseconds=42), "42 ms"),
        (timedelta(0), "0 ms"),
        (3.456, "3.46 s"),
        (12.4, "12 s"),
        (timedelta(minutes=3, seconds=5), "3 min 5 s"),
    ],
)
def test_seconds_are_shown_briefly(value, shown):
    assert seconds(value) == shown
