import re
import unicodedata

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.forms.renderers import Jinja2
from django.http import QueryDict

MAX_LENGTH = 200

# Control characters (Cc) and the line and paragraph separators (Zl, Zp): each would split
# one result into several lines for splitlines() or a log reader.
LINE_BREAKING_CATEGORIES = {"Cc", "Zl", "Zp"}
# Unicode's Bidi_Control characters (PropList.txt), which reorder the text shown around them.
# The rest of category Cf stays allowed: the zero-width joiners (U+200C, U+200D) and tag
# characters are parts of Persian and Indic words and of emoji sequences.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def no_control_characters(value: str) -> None:
    """Refuse line breaks, control characters and text direction controls (naming the first of those)."""
    for character in value:
        if unicodedata.category(character) in LINE_BREAKING_CATEGORIES:
            raise ValidationError("Line breaks and control characters are not allowed.", code="control")
        if character in BIDI_CONTROLS:
            raise ValidationError(
                "Text direction controls (such as U+%(code)s) are not allowed.",
                code="bidi_control",
                params={"code": f"{ord(character):04X}"},
            )


# Django decodes a form body with errors="replace": U+FFFD marks bytes that were not UTF-8.
valid_utf8 = RegexValidator(
    re.escape("\ufffd"), inverse_match=True, message="The text is not valid UTF-8."
)


def text_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=MAX_LENGTH,
        validators=[no_control_characters, valid_utf8],
        error_messages={"required": "Enter some text, not only spaces."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": label.lower()}),
    )


class SubmissionForm(forms.Form):
    # Widgets from Django's own Jinja2 templates, like the pages around them (the admin keeps its renderer).
    default_renderer = Jinja2()

    first = text_field("First text")
    second = text_field("Second text")


def posted_data(request) -> QueryDict | None:
    """The posted fields, or None on a GET; a body that is not UTF-8 keeps U+FFFD for valid_utf8."""
    if request.method != "POST":
        return None
    if request.content_type == "application/x-www-form-urlencoded":
        try:
            request.body.decode("utf-8")
        except UnicodeDecodeError:
            # Django would fall back to Latin-1 and accept the bytes as other text.
            return QueryDict(request.body.decode("utf-8", errors="replace"))
    return request.POST
