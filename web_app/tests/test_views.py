"""The views over the embedded broker: the real filesystem transport and result backend, no worker."""

import re
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from submissions import health, locks, services
from submissions.forms import SubmissionForm
from submissions.models import Submission
from submissions.services import recording, sending, waiting
from web_app.celery import app

from .conftest import VISITOR, FormClient, visitor_client

pytestmark = pytest.mark.django_db

FORM_URL = reverse("submission-form")


def queued_messages() -> int:
    return len(list((django_settings.EMBEDDED_BROKER_DIR / "queue").glob("*.msg")))


@pytest.fixture
def results_file(settings, tmp_path):
    settings.RESULTS_FILE = tmp_path / "results.txt"
    settings.RESULT_TIMEOUT = 0.2
    return settings.RESULTS_FILE


def test_the_form_page_has_two_labelled_fields_and_a_csrf_token(client):
    page = client.get(FORM_URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<label for="id_first">First text:</label>' in html
    assert '<label for="id_second">Second text:</label>' in html
    assert 'type="submit"' in html


def test_the_form_page_and_a_submissions_page_each_read_one_row_set(client, results_file):
    for number in range(11):
        Submission.objects.create(
            first=f"first{number}",
            second="x",
            task_id=uuid.uuid4(),
            visitor=VISITOR,
            status="done",
            finished_at=timezone.now(),
        )
    done = Submission.objects.first()
    assert done is not None

    with CaptureQueriesContext(connection) as form_page:
        client.get(FORM_URL)
    with CaptureQueriesContext(connection) as submission_page:
        client.get(done.get_absolute_url())

    assert len(form_page) == 1 and "LIMIT 11" in form_page[0]["sql"]
    assert len(submission_page) == 1


def test_the_history_links_to_older_and_newer_pages(client):
    for number in range(11):
        Submission.objects.create(first=f"first{number}", second="x", task_id=uuid.uuid4(), visitor=VISITOR)

    newest = client.get(FORM_URL).content.decode()
    oldest = client.get(FORM_URL, {"page": "2"}).content.decode()

    assert '<a href="?page=2" rel="next">Older</a>' in newest and 'rel="prev"' not in newest
    assert "<span>Page 1</span>" in newest and "first10" in newest and ">first0<" not in newest
    assert '<a href="?page=1" rel="prev">Newer</a>' in oldest and 'rel="next"' not in oldest
    assert "<span>Page 2</span>" in oldest and ">first0<" in oldest


def test_a_valid_post_queues_the_task_and_redirects_to_the_pending_submission(client, results_file):
    before = queued_messages()

    response = client.post(FORM_URL, {"first": "cats", "second": "dogs"})

    submission = Submission.objects.get()
    assert response.status_code == 302
    assert response["Location"] == submission.get_absolute_url()
    assert queued_messages() == before + 1
    assert submission.status == Submission.Status.PENDING
    page = client.get(response["Location"])
    assert "Pending" in page.content.decode()
    assert not results_file.exists()


def test_the_submission_page_records_the_result_once_it_comes(client, results_file):
    client.post(FORM_URL, {"first": "cats", "second": "dogs"})
    submission = Submission.objects.get()
    app.backend.store_result(str(submission.task_id), "cats es dogs", "SUCCESS")

    first_view = client.get(submission.get_absolute_url()).content.decode()
    client.get(submission.get_absolute_url())

    assert "cats es dogs" in first_view
    assert "Written to the results file" in first_view
    assert results_file.read_text() == "cats es dogs\n"


@pytest.fixture
def writers_busy(monkeypatch, settings, lock_held_by_another_process):
    """The database's writer lock held by another process, as a file-backed database's would be."""
    path, let_go = lock_held_by_another_process
    settings.WRITE_LOCK_TIMEOUT = 0.2
    for module in (sending, recording):
        monkeypatch.setattr(module, "queued_writer", lambda: locks.writer_lock(path))
    return let_go


def test_a_post_while_the_writers_are_busy_gets_a_clear_503_and_saves_nothing(client, results_file, writers_busy):
    before = queued_messages()

    response = client.post(FORM_URL, {"first": "cats", "second": "dogs"})

    assert response.status_code == 503
    assert "The database is too busy right now, so nothing was sent." in response.content.decode()
    assert queued_messages() == before
    assert not Submission.objects.exists()


def test_a_post_with_every_submission_slot_taken_gets_a_clear_503_and_saves_nothing(
    client, results_file, settings, monkeypatch
):
    settings.SUBMISSION_SLOTS = 1
    settings.SUBMISSION_SLOT_TIMEOUT = 0.2
    monkeypatch.setattr(locks, "submission_slots", None)
    before = queued_messages()

    with locks.submission_slot():
        response = client.post(FORM_URL, {"first": "cats", "second": "dogs"})

    assert response.status_code == 503
    assert "Too many submissions are being sent right now, so nothing was sent." in response.content.decode()
    assert queued_messages() == before
    assert not Submission.objects.exists()


def test_a_post_past_the_queue_bound_gets_a_clear_503_with_retry_after_and_saves_nothing(
    client, results_file, settings, monkeypatch
):
    settings.SUBMISSIONS_MAX_QUEUED = queued_messages() + 2
    monkeypatch.setattr(sending, "queue_count", sending.QueueCount())

    accepted = [client.post(FORM_URL, {"first": f"cats{number}", "second": "dogs"}) for number in range(2)]
    refused = client.post(FORM_URL, {"first": "cats", "second": "dogs"})

    assert [response.status_code for response in accepted] == [302, 302]
    assert refused.status_code == 503
    assert int(refused["Retry-After"]) > 0
    assert "Too many submissions are waiting for a worker, so nothing was sent." in refused.content.decode()
    assert queued_messages() == settings.SUBMISSIONS_MAX_QUEUED
    assert Submission.objects.count() == 2


def test_a_client_over_the_rate_gets_a_429_with_retry_after_and_nothing_is_saved_or_sent(
    client, results_file, settings
):
    cache.clear()
    settings.SUBMISSIONS_RATE = "2/m"
    before = queued_messages()

    answers = [client.post(FORM_URL, {"first": f"cats{number}", "second": "dogs"}) for number in range(4)]
    another_client = FormClient(REMOTE_ADDR="203.0.113.9").post(FORM_URL, {"first": "other", "second": "dogs"})
    cache.clear()

    assert [answer.status_code for answer in answers] == [302, 302, 429, 429]
    page = answers[-1].content.decode()
    retry_after = int(answers[-1]["Retry-After"])
    assert 1 <= retry_after <= 60
    assert f"Please try again in {retry_after} seconds." in page
    assert another_client.status_code == 302
    assert queued_messages() == before + 3
    assert sorted(Submission.objects.values_list("first", flat=True)) == ["cats0", "cats1", "other"]


def test_a_result_that_comes_while_the_writers_are_busy_is_recorded_once_they_are_free(
    client, results_file, writers_busy
):
    submission = Submission.objects.create(first="cats", second="dogs", task_id=uuid.uuid4(), visitor=VISITOR)
    app.backend.store_result(str(submission.task_id), "cats es dogs", "SUCCESS")

    while_busy = client.get(submission.get_absolute_url())
    writers_busy()
    once_free = client.get(submission.get_absolute_url())

    assert while_busy.status_code == 200 and "Pending" in while_busy.content.decode()
    assert "cats es dogs" in once_free.content.decode()
    assert results_file.read_text() == "cats es dogs\n"


@pytest.mark.parametrize(
    "data",
    [
        {"first": "", "second": "dogs"},
        {"first": "   ", "second": "dogs"},
        {"first": "x" * 201, "second": "dogs"},
        {"first": "two\nlines", "second": "dogs"},
        {"second": "dogs"},
    ],
)
def test_bad_input_is_refused_and_changes_nothing(client, results_file, data):
    before = queued_messages()

    response = client.post(FORM_URL, data)

    assert response.status_code == 400
    assert 'class="errorlist"' in response.content.decode()
    assert queued_messages() == before
    assert not Submission.objects.exists()
    assert not results_file.exists()


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"first": 'a <b> & "c"', "second": ""},
        {"first": "x" * 201, "second": "two\nlines"},
    ],
)
def test_the_page_shows_djangos_widgets_and_errors(client, results_file, data):
    page = client.post(FORM_URL, data) if data else client.get(FORM_URL)
    form = SubmissionForm(data)
    form.is_valid()

    html = page.content.decode()
    for field in form:
        assert str(field) in html
        assert field.label_tag() in html
        assert str(field.errors) in html


def test_a_post_without_a_csrf_token_is_forbidden(results_file):
    before = queued_messages()
    response = FormClient(enforce_csrf_checks=True).post(FORM_URL, {"first": "cats", "second": "dogs"})
    assert response.status_code == 403
    assert queued_messages() == before
    assert not Submission.objects.exists()


def test_input_is_shown_escaped(client, results_file):
    client.post(FORM_URL, {"first": "<script>alert(1)</script>", "second": "dogs"})
    submission = Submission.objects.get()
    html = client.get(submission.get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_an_unknown_submission_is_a_404(client):
    assert client.get(reverse("submission-detail", args=[uuid.uuid4()])).status_code == 404


@pytest.mark.parametrize("path", ["/submissions/1/", "/submissions/1/status.json", "/submissions/not-a-uuid/"])
def test_a_url_that_is_no_task_id_is_a_404(client, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("route", ["submission-detail", "submission-status"])
def test_another_visitors_submission_is_a_404_with_nothing_of_it(route, results_file):
    submission = Submission.objects.create(
        first="secret-first", second="secret-second", task_id=uuid.uuid4(), visitor=VISITOR, result="r"
    )
    url = reverse(route, args=[submission.task_id])

    for stranger in (FormClient(), visitor_client("f" * 32)):
        response = stranger.get(url)
        assert response.status_code == 404
        assert "secret" not in response.content.decode()
    assert client_of_visitor_sees(url)


def client_of_visitor_sees(url) -> bool:
    return visitor_client(VISITOR).get(url).status_code == 200


def test_the_form_page_lists_only_the_visitors_own_submissions(client):
    Submission.objects.create(first="mine", second="x", task_id=uuid.uuid4(), visitor=VISITOR)
    Submission.objects.create(first="theirs", second="x", task_id=uuid.uuid4(), visitor="f" * 32)

    own_page = client.get(FORM_URL).content.decode()
    new_visitor_page = FormClient().get(FORM_URL).content.decode()

    assert "mine" in own_page and "theirs" not in own_page
    assert "mine" not in new_visitor_page and "theirs" not in new_visitor_page


def test_a_first_submission_the_database_refuses_stores_no_session(results_file, monkeypatch):
    def refuse(**fields):
        raise services.DatabaseUnwritable("disk full")

    monkeypatch.setattr(services, "submission_create", refuse)

    response = FormClient().post(FORM_URL, {"first": "cats", "second": "dogs"})

    assert response.status_code == 503
    assert django_settings.SESSION_COOKIE_NAME not in response.cookies


def test_a_result_the_database_refuses_gets_a_generic_503_and_the_error_goes_to_the_log(
    client, results_file, monkeypatch, workers_state, caplog
):
    workers_state(True)
    database_error = 'connection to server at "db.internal" (10.1.2.3), port 5432 failed: FATAL: role "django"'

    def refuse(submission, timeout=None, result=None):
        try:
            raise OperationalError(database_error)
        except OperationalError as exc:
            raise services.NotRecorded(str(exc)) from exc

    monkeypatch.setattr(services, "result_record", refuse)

    response = client.post(FORM_URL, {"first": "cats", "second": "dogs"})

    page = response.content.decode()
    assert response.status_code == 503
    assert "it could not be saved yet: the database is unavailable right now" in page
    assert Submission.objects.get().get_absolute_url() in page
    for secret in ("db.internal", "10.1.2.3", "5432", "FATAL", 'role "django"'):
        assert secret not in page
    assert database_error in caplog.text


def test_other_methods_are_not_allowed(client):
    assert client.put(FORM_URL).status_code == 405


@pytest.fixture
def workers_state(monkeypatch):
    """Set what the pages believe of the workers: up, down, or not yet known (None)."""

    def believe(up):
        state = None if up is None else SimpleNamespace(up=up, detail="", workers=[])
        monkeypatch.setattr(health, "cached_worker_state", lambda wait=0: state)
        # No result came to this process before the test: only the state speaks of the workers.
        monkeypatch.setattr(waiting, "last_result_came_at", None)

    return believe


def test_with_no_worker_answering_a_post_shows_the_pending_page_without_waiting(
    client, results_file, settings, monkeypatch, workers_state
):
    workers_state(False)
    settings.RESULT_TIMEOUT = 600

    def must_not_wait(result, timeout):
        raise AssertionError(f"waited {timeout} s for a result no worker will give")

    monkeypatch.setattr(waiting, "wait_for_result", must_not_wait)

    response = client.post(FORM_URL, {"first": "cats", "second": "dogs"}, follow=True)

    page = response.content.decode()
    assert response.redirect_chain == [(Submission.objects.get().get_absolute_url(), 302)]
    assert "Pending" in page
    assert "No worker is answering right now; this submission waits until one starts." in page
    assert queued_messages() >= 1


def test_a_result_that_came_since_the_worker_state_outweighs_a_state_of_no_worker(
    client, results_file, settings, monkeypatch, workers_state
):
    workers_state(False)
    # Under load a worker's answer to the check came too late, while its results kept coming.
    monkeypatch.setattr(waiting, "last_result_came_at", timezone.now())
    waits = []

    def wait_for_result(result, timeout):
        waits.append(timeout)
        return False

    monkeypatch.setattr(waiting, "wait_for_result", wait_for_result)

    page = client.post(FORM_URL, {"first": "cats", "second": "dogs"}, follow=True).content.decode()

    assert waits == [settings.RESULT_TIMEOUT]
    assert "No worker is answering" not in page


@pytest.mark.parametrize("up", [True, None])
def test_with_a_worker_answering_or_not_yet_known_a_post_waits_for_its_result(
    client, results_file, settings, monkeypatch, workers_state, up
):
    workers_state(up)
    waits = []

    def wait_for_result(result, timeout):
        waits.append(timeout)
        return False

    monkeypatch.setattr(waiting, "wait_for_result", wait_for_result)

    client.post(FORM_URL, {"first": "cats", "second": "dogs"})

    assert waits == [settings.RESULT_TIMEOUT]


def test_the_form_shows_the_no_worker_banner_only_when_no_worker_answers(client, workers_state):
    workers_state(False)
    down = client.get(FORM_URL).content.decode()
    workers_state(True)
    up = client.get(FORM_URL).content.decode()

    assert 'id="no-worker-banner"' in down
    assert 'id="no-worker-banner"' not in up


def test_a_submission_finished_since_the_worker_state_was_asked_hides_the_banner(client, workers_state):
    workers_state(False)
    created = timezone.now() - timedelta(seconds=30)
    submission = Submission.objects.create(first="late", second="cats", task_id=uuid.uuid4(), visitor=VISITOR)
    Submission.objects.filter(pk=submission.pk).update(
        status=Submission.Status.DONE, result="late es cats", created_at=created, finished_at=timezone.now()
    )

    just_finished = client.get(FORM_URL).content.decode()
    Submission.objects.filter(pk=submission.pk).update(finished_at=created + timedelta(seconds=1))
    finished_long_ago = client.get(FORM_URL).content.decode()

    assert 'id="no-worker-banner"' not in just_finished
    assert 'id="no-worker-banner"' in finished_long_ago


@pytest.mark.parametrize(
    "fault, message",
    [
        (services.BrokerUnavailable, "The message broker is unavailable, so nothing was sent."),
        (services.BackendUnavailable, "The result store is unavailable, so nothing was sent."),
    ],
)
def test_a_refused_submission_shows_one_message_not_the_no_worker_banner(
    client, monkeypatch, workers_state, fault, message
):
    workers_state(False)

    def refuse(**fields):
        raise fault("down")

    monkeypatch.setattr(services, "submission_create", refuse)

    response = client.post(FORM_URL, {"first": "cats", "second": "dogs"})

    page = response.content.decode()
    assert response.status_code == 503
    assert message in page
    assert "No worker is answering" not in page
    assert "wait until one starts" not in page


def test_a_done_submission_shows_no_no_worker_banner(client, results_file, workers_state):
    workers_state(False)
    submission = Submission.objects.create(
        first="cats",
        second="dogs",
        task_id=uuid.uuid4(),
        visitor=VISITOR,
        status=Submission.Status.DONE,
        result="cats es dogs",
    )

    page = client.get(submission.get_absolute_url()).content.decode()

    assert "cats es dogs" in page
    assert 'id="no-worker-banner"' not in page


def test_the_history_gives_the_time_zone_of_the_sent_time(client):
    Submission.objects.create(first="cats", second="dogs", task_id=uuid.uuid4(), visitor=VISITOR)

    page = client.get(FORM_URL).content.decode()

    assert re.search(r'<td data-label="Sent"><time [^>]*>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</time>', page)


def test_the_favicon_is_a_real_icon_linked_from_the_pages(client):
    icon = client.get("/favicon.ico")
    page = client.get(FORM_URL).content.decode()

    assert icon.status_code == 200
    assert icon["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert b"".join(icon.streaming_content).startswith(b"\x00\x00\x01\x00")
    assert '<link rel="icon" href="/favicon.ico"' in page
