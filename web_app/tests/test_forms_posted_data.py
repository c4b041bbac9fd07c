from django.test import RequestFactory

from submissions.forms import SubmissionForm, posted_data

factory = RequestFactory()
FORM = "application/x-www-form-urlencoded"


def test_a_get_gives_no_data_so_the_form_is_unbound():
    assert posted_data(factory.get("/", {"first": "cats", "second": "dogs"})) is None


def test_an_empty_post_binds_the_form_and_says_what_is_missing():
    form = SubmissionForm(posted_data(factory.post("/", b"", content_type=FORM)))

    assert form.is_bound
    assert not form.is_valid()
    assert form.errors["first"] == ["Enter some text, not only spaces."]


def test_raw_bytes_that_are_not_utf8_are_refused_not_read_as_latin1():
    request = factory.post("/", b"first=\xff\xfecats&second=dogs", content_type=FORM)

    form = SubmissionForm(posted_data(request))

    assert not form.is_valid()
    assert form.errors["first"] == ["The text is not valid UTF-8."]


def test_a_utf8_body_is_read_as_posted():
    request = factory.post("/", "first=gatos+ñ&second=perros".encode(), content_type=FORM)

    form = SubmissionForm(posted_data(request))

    assert form.is_valid()
    assert form.cleaned_data == {"first": "gatos ñ", "second": "perros"}
