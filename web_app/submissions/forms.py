import re

from django import forms
from django.core.validators import RegexValidator
from django.forms.renderers import Jinja2
from django.http import QueryDict

MAX_LENGTH = 200

no_control_characters = RegexValidator(
    r"[\x00-\x1f\x7f-\x9f]",
    inverse_match=True,
    message="Line breaks and control characters are not allowed.",
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
