"""Submissions in the Django admin: listed, searched and filtered; never added, altered or deleted."""

import io
import uuid

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from submissions.models import Submission

from .conftest import FormClient


@pytest.fixture
def submissions(db):
    return [
        Submission.objects.create(first="cats", second="dogs", task_id=uuid.uuid4()),
        Submission.objects.create(
            first="birds", second="fish", task_id=uuid.uuid4(), status=Submission.Status.DONE, result="birds es fish"
        ),
    ]


def changelist(admin_client, query=""):
    response = admin_client.get("/admin/submissions/submission/", {"q": query} if query else {})
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_the_list_shows_every_submission_with_its_task_id(admin_client, submissions):
    response = admin_client.get("/admin/submissions/submission/")

    page = response.content.decode()
    for submission in submissions:
        assert str(submission.task_id) in page


@pytest.mark.parametrize("which", [0, 1])
def test_a_whole_task_id_finds_its_submission(admin_client, submissions, which):
    assert changelist(admin_client, str(submissions[which].task_id)) == [submissions[which]]


def test_part_of_a_task_id_finds_its_submission(admin_client, submissions):
    part = str(submissions[1].task_id).split("-")[-1]
    assert changelist(admin_client, part) == [submissions[1]]


@pytest.mark.parametrize("query, which", [("cats", 0), ("fish", 1), ("birds es", 1)])
def test_inputs_and_results_are_searchable(admin_client, submissions, query, which):
    assert changelist(admin_client, query) == [submissions[which]]


def test_a_search_that_matches_nothing_lists_nothing(admin_client, submissions):
    assert changelist(admin_client, str(uuid.uuid4())) == []


def test_the_change_page_shows_the_task_id_read_only(admin_client, submissions):
    submission = submissions[1]

    page = admin_client.get(f"/admin/submissions/submission/{submission.pk}/change/").content.decode()

    assert str(submission.task_id) in page
    assert 'name="task_id"' not in page
    assert 'name="result"' not in page


def test_the_status_filter_lists_only_that_status(admin_client, submissions):
    response = admin_client.get("/admin/submissions/submission/", {"status__exact": "done"})

    assert list(response.context["cl"].result_list) == [submissions[1]]


def test_the_list_has_no_add_button(admin_client, submissions):
    page = admin_client.get("/admin/submissions/submission/").content.decode()

    assert "/admin/submissions/submission/add/" not in page
    assert "Add submission" not in page


def test_the_add_url_is_forbidden_and_adds_nothing(admin_client, submissions):
    assert admin_client.get("/admin/submissions/submission/add/").status_code == 403
    response = admin_client.post(
        "/admin/submissions/submission/add/", {"first": "horses", "second": "dogs", "status": "done"}
    )

    assert response.status_code == 403
    assert Submission.objects.count() == len(submissions)


def test_the_change_page_shows_every_field_read_only_with_no_save_button(admin_client, submissions):
    page = admin_client.get(f"/admin/submissions/submission/{submissions[1].pk}/change/").content.decode()

    assert "birds es fish" in page and "birds" in page
    for name in ("first", "second", "status", "result", "error", "created_at", "finished_at"):
        assert f'name="{name}"' not in page
    assert 'name="_save"' not in page
    assert 'name="_continue"' not in page


def test_posting_to_the_change_page_alters_nothing(admin_client, submissions):
    done = submissions[1]

    response = admin_client.post(
        f"/admin/submissions/submission/{done.pk}/change/",
        {"first": "horses", "second": "dogs", "result": "horses es dogs", "status": "pending"},
    )

    assert response.status_code == 403
    done.refresh_from_db()
    assert (done.first, done.second, done.result, done.status) == ("birds", "fish", "birds es fish", "done")


def test_submissions_cannot_be_deleted(admin_client, submissions):
    done = submissions[1]

    page = admin_client.get(f"/admin/submissions/submission/{done.pk}/change/").content.decode()
    response = admin_client.post(f"/admin/submissions/submission/{done.pk}/delete/", {"post": "yes"})
    bulk = admin_client.post(
        "/admin/submissions/submission/",
        {"action": "delete_selected", "_selected_action": [s.pk for s in submissions], "post": "yes"},
    )

    assert "/delete/" not in page
    assert response.status_code == 403
    assert bulk.status_code in (200, 302)
    assert Submission.objects.count() == len(submissions)


def test_the_admin_needs_a_login(client, submissions):
    response = client.get("/admin/submissions/submission/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


LOGIN_URL = "/admin/login/?next=/admin/"


def log_in(browser, password, username="admin"):
    return browser.post(LOGIN_URL, {"username": username, "password": password})


def test_a_guesser_is_refused_after_the_failure_limit_even_with_the_right_password(client, admin_user, settings):
    """pytest-django's admin_user has the password "password"."""
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "wrong").status_code == 200

    locked = log_in(client, "wrong")
    right_password = log_in(client, "password")

    assert locked.status_code == 429
    assert "Too many failed logins (5 in a row) came from your address or named this account" in locked.content.decode()
    assert right_password.status_code == 429
    assert "_auth_user_id" not in client.session


def test_an_operator_unlocks_a_locked_out_address_with_axes_reset(client, admin_user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong")
    assert log_in(client, "password").status_code == 429

    call_command("axes_reset_ip", "127.0.0.1", stdout=io.StringIO())

    assert log_in(client, "password").status_code == 302


def test_another_address_still_logs_in_while_one_is_locked_out(client, admin_user, django_user_model, settings):
    django_user_model.objects.create_superuser("operator", password="operator's password")
    for number in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong", username=f"guess{number}")

    other = FormClient(REMOTE_ADDR="203.0.113.9")

    assert log_in(client, "operator's password", username="operator").status_code == 429
    assert log_in(other, "operator's password", username="operator").status_code == 302


def test_failures_for_one_account_from_many_addresses_lock_that_account(admin_user, django_user_model, settings):
    django_user_model.objects.create_superuser("operator", password="operator's password")
    guessers = [FormClient(REMOTE_ADDR=f"203.0.113.{number}") for number in range(settings.AXES_FAILURE_LIMIT)]

    answers = [log_in(guesser, "wrong").status_code for guesser in guessers]
    right_password = log_in(FormClient(REMOTE_ADDR="198.51.100.7"), "password")

    assert answers == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    assert right_password.status_code == 429
    assert "named this account" in right_password.content.decode()
    assert log_in(FormClient(REMOTE_ADDR="198.51.100.7"), "operator's password", username="operator").status_code == 302


def test_an_operator_unlocks_a_locked_out_account_with_axes_reset_username(admin_user, settings):
    for number in range(settings.AXES_FAILURE_LIMIT):
        log_in(FormClient(REMOTE_ADDR=f"203.0.113.{number}"), "wrong")

    call_command("axes_reset_username", "admin", stdout=io.StringIO())

    assert log_in(FormClient(REMOTE_ADDR="198.51.100.7"), "password").status_code == 302


def test_a_staff_login_lasts_admin_session_seconds(admin_user, settings):
    settings.ADMIN_SESSION_SECONDS = 600
    staff = FormClient()

    response = log_in(staff, "password")
    expires_at = staff.session.get_expiry_date()
    staff.get("/admin/")

    # Counted from the login, whatever the seconds the requests took: a fixed end, not a sliding one.
    assert 590 <= response.cookies[django_settings.SESSION_COOKIE_NAME]["max-age"] <= 600
    assert staff.session.get_expiry_date() == expires_at
