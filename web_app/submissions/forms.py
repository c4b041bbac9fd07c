import unicodedata
from urllib.parse import parse_qsl

from django import forms
from django.core.exceptions import ValidationError
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


def text_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=MAX_LENGTH,
        validators=[no_control_characters],
        error_messages={"required": "Enter some text, not only spaces."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": label.lower()}),
    )


class SubmissionForm(forms.Form):
    # Widgets from Django's own Jinja2 templates, like the pages around them (the admin keeps its renderer).
    default_renderer = Jinja2()

    first = text_field("First text")
    second = text_field("Second text")

    def __init__(self, *args, not_utf8: frozenset[str] = frozenset(), **kwargs):
        """`not_utf8`: the fields whose posted bytes were not UTF-8, as posted_form found them."""
        super().__init__(*args, **kwargs)
        self.not_utf8 = not_utf8

    def clean(self):
        for name in sorted(self.not_utf8 & self.fields.keys()):
            self.add_error(name, ValidationError("The text is not valid UTF-8.", code="not_utf8"))
        return self.cleaned_data


def posted_form(request) -> SubmissionForm:
    """The form, bound to the posted fields on a POST; fields whose bytes are not UTF-8 are told to it.

    Django would decode such a body as Latin-1 and accept the bytes as other
    text; here each field is decoded on its own, so the form can say which one
    is wrong, while a user who types U+FFFD is not mistaken for an encoding error.
    """
    if request.method != "POST":
        return SubmissionForm()
    if request.content_type == "application/x-www-form-urlencoded":
        not_utf8 = fields_not_utf8(request.body)
        if not_utf8:
            data = QueryDict(request.body.decode("utf-8", errors="replace"))
            return SubmissionForm(data, not_utf8=not_utf8)
    return SubmissionForm(request.POST)


def fields_not_utf8(body: bytes) -> frozenset[str]:
    """Names of the urlencoded fields whose percent-decoded value is not UTF-8."""
    fields = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    wrong = set()
    for name, value in fields:
        try:
            value.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            wrong.add(name.encode("latin-1").decode("utf-8", errors="replace"))
    return frozenset(wrong)
