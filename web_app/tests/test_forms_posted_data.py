from django.test import RequestFactory

from submissions.forms import fields_not_utf8, posted_form

factory = RequestFactory()
FORM = "application/x-www-form-urlencoded"


def test_a_get_gives_an_unbound_form():
    assert not posted_form(factory.get("/", {"first": "cats", "second": "dogs"})).is_bound


def test_an_empty_post_binds_the_form_and_says_what_is_missing():
    form = posted_form(factory.post("/", b"", content_type=FORM))

    assert form.is_bound
    assert not form.is_valid()
    assert form.errors["first"] == ["Enter some text, not only spaces."]


def test_raw_bytes_that_are_not_utf8_are_refused_not_read_as_latin1():
    form = posted_form(factory.post("/", b"first=\xff\xfecats&second=dogs", content_type=FORM))

    assert not form.is_valid()
    assert form.errors == {"first": ["The text is not valid UTF-8."]}


def test_percent_encoded_bytes_that_are_not_utf8_are_refused_in_their_field():
    form = posted_form(factory.post("/", b"first=cats&second=%C3%28dogs", content_type=FORM))

    assert form.errors == {"second": ["The text is not valid UTF-8."]}


def test_a_typed_replacement_character_is_text_like_any_other():
    form = posted_form(factory.post("/", "first=bad+\ufffd+bytes&second=dogs".encode(), content_type=FORM))

    assert form.is_valid()
    assert form.cleaned_data["first"] == "bad \ufffd bytes"


def test_a_utf8_body_is_read_as_posted():
    form = posted_form(factory.post("/", "first=gatos+ñ&second=perros".encode(), content_type=FORM))

    assert form.is_valid()
    assert form.cleaned_data == {"first": "gatos ñ", "second": "perros"}


def test_fields_not_utf8_names_only_the_wrong_fields():
    assert fields_not_utf8(b"a=ok&b=%FF&c=\xe9t\xe9&d=%C3%A9") == {"b", "c"}
