import pytest

from submissions.forms import MAX_LENGTH, SubmissionForm


def form_errors(first, second):
    form = SubmissionForm(data={"first": first, "second": second})
    form.is_valid()
    return form


def test_two_texts_are_valid_and_trimmed():
    form = SubmissionForm(data={"first": "  cats ", "second": "dogs"})
    assert form.is_valid()
    assert form.cleaned_data == {"first": "cats", "second": "dogs"}


def test_unicode_and_markup_are_plain_text_and_valid():
    form = SubmissionForm(data={"first": "gatos ñ 猫", "second": "<script>alert(1)</script>"})
    assert form.is_valid()


def test_the_longest_text_allowed_is_valid():
    assert SubmissionForm(data={"first": "a" * MAX_LENGTH, "second": "b"}).is_valid()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Enter some text, not only spaces."),
        ("   \t ", "Enter some text, not only spaces."),
        ("a" * (MAX_LENGTH + 1), f"Ensure this value has at most {MAX_LENGTH} characters (it has 201)."),
        ("two\nlines", "Line breaks and control characters are not allowed."),
        ("carriage\rreturn", "Line breaks and control characters are not allowed."),
        ("bell\x07", "Line breaks and control characters are not allowed."),
        ("c1\x85control", "Line breaks and control characters are not allowed."),
        ("line\u2028separator", "Line breaks and control characters are not allowed."),
        ("paragraph\u2029separator", "Line breaks and control characters are not allowed."),
    ],
)
def test_bad_text_is_refused_with_a_clear_message(value, message):
    form = form_errors(value, "dogs")
    assert not form.is_valid()
    assert form.errors["first"] == [message]
    assert "second" not in form.errors


def test_both_fields_are_required():
    form = SubmissionForm(data={})
    assert not form.is_valid()
    assert set(form.errors) == {"first", "second"}


@pytest.mark.parametrize(
    "control",
    [
        "\u061c",
        "\u200e",
        "\u200f",
        "\u202a",
        "\u202b",
        "\u202c",
        "\u202d",
        "\u202e",
        "\u2066",
        "\u2067",
        "\u2068",
        "\u2069",
    ],
)
def test_text_direction_controls_are_refused_with_their_code_point(control):
    form = form_errors(f"txt.exe{control}gpj", "dogs")

    assert form.errors["first"] == [f"Text direction controls (such as U+{ord(control):04X}) are not allowed."]


@pytest.mark.parametrize(
    "text",
    [
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0645",
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",
        "\u05e9\u05dc\u05d5\u05dd",
    ],
    ids=["persian-zwnj", "emoji-zwj", "hebrew"],
)
def test_joiners_and_right_to_left_text_are_valid(text):
    assert SubmissionForm(data={"first": text, "second": "dogs"}).is_valid()
