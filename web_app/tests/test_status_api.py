"""The submission status endpoint that a pending submission's page polls."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from submissions.models import Submission
from submissions.views import submission_status_payload
from web_app.celery import app

from .conftest import VISITOR


@pytest.fixture
def results_file(settings, tmp_path):
    settings.RESULTS_FILE = tmp_path / "results" / "results.txt"
    return settings.RESULTS_FILE


@pytest.fixture
def submission(db):
    return Submission.objects.create(first="cats", second="dogs", task_id=uuid.uuid4(), visitor=VISITOR)


def status_of(client, submission):
    response = client.get(f"/submissions/{submission.task_id}/status.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    return response.json()


def test_a_pending_submission_says_so_and_how_long_it_has_waited(client, submission, results_file):
    status = status_of(client, submission)

    assert status["status"] == "pending"
    assert status["status_display"] == "Pending"
    assert status["result"] is None
    assert status["duration_seconds"] is None
    assert status["waiting_seconds"] >= 0
    assert not results_file.exists()


def test_a_late_result_is_recorded_by_the_endpoint_exactly_once(client, submission, results_file):
    app.backend.store_result(str(submission.task_id), "cats es dogs", "SUCCESS")

    first = status_of(client, submission)
    second = status_of(client, submission)

    assert first["status"] == second["status"] == "done"
    assert first["result"] == "cats es dogs"
    assert first["waiting_seconds"] is None
    assert first["duration_seconds"] >= 0
    assert results_file.read_text() == "cats es dogs\n"
    submission.refresh_from_db()
    assert submission.status == Submission.Status.DONE


def test_a_failed_task_reports_its_error_and_writes_nothing(client, submission, results_file):
    app.backend.store_result(str(submission.task_id), ValueError("boom"), "FAILURE")

    status = status_of(client, submission)

    assert status["status"] == "failed"
    assert status["error"] == "ValueError: boom"
    assert status["result"] is None
    assert not results_file.exists()


def test_the_inputs_are_returned_as_json_strings_not_markup(client, db, results_file):
    submission = Submission.objects.create(first="<b>x</b>", second='"y"', task_id=uuid.uuid4(), visitor=VISITOR)

    status = status_of(client, submission)

    assert (status["first"], status["second"]) == ("<b>x</b>", '"y"')


def test_an_unknown_submission_is_a_404(client, db):
    assert client.get(f"/submissions/{uuid.uuid4()}/status.json").status_code == 404


def test_only_get_is_allowed(client, submission):
    assert client.post(f"/submissions/{submission.task_id}/status.json").status_code == 405


def test_the_pending_page_polls_with_javascript_and_refreshes_without_it(client, submission, results_file):
    page = client.get(submission.get_absolute_url()).content.decode()

    assert f'data-status-url="/submissions/{submission.task_id}/status.json"' in page
    assert 'src="/static/submissions/status.js"' in page
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
    assert 'id="waited"' in page


def test_a_done_page_neither_polls_nor_refreshes(client, submission, results_file):
    app.backend.store_result(str(submission.task_id), "cats es dogs", "SUCCESS")

    page = client.get(submission.get_absolute_url()).content.decode()

    assert "submissions/status.js" not in page
    assert "http-equiv" not in page
    assert "cats es dogs" in page
    assert "Written to the results file." in page


@pytest.mark.django_db
def test_a_finished_submission_reports_how_long_it_took():
    submission = Submission.objects.create(
        first="a", second="b", task_id=uuid.uuid4(), status=Submission.Status.DONE, result="a es b"
    )
    submission.finished_at = submission.created_at + timedelta(seconds=1.5)
    submission.save()

    status = submission_status_payload(submission)

    assert status["duration_seconds"] == 1.5
    assert status["finished_at"] == submission.finished_at.isoformat()
    assert status["result"] == "a es b"
    assert status["took"] == "1.50 s"
    assert status["waiting_seconds"] is None


@pytest.mark.django_db
def test_a_pending_submission_reports_how_long_it_has_waited():
    submission = Submission.objects.create(first="a", second="b", task_id=uuid.uuid4())
    Submission.objects.filter(pk=submission.pk).update(created_at=timezone.now() - timedelta(seconds=30))
    submission.refresh_from_db()

    status = submission_status_payload(submission)

    assert 30 <= status["waiting_seconds"] < 60
    assert status["waited"].endswith(" s")
    assert status["duration_seconds"] is None
