from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.db import DatabaseError
from django.utils import timezone

from submissions.locks import WriteLockTimeout
from submissions.models import StaffLogin
from submissions.staff_logins import key_digest

from .conftest import FormClient

LOGIN_URL = "/admin/login/?next=/admin/"


@pytest.fixture
def staff(admin_user):
    """A browser logged in to the admin through the login form (pytest-django's admin_user: "password")."""
    browser = FormClient()
    assert browser.post(LOGIN_URL, {"username": "admin", "password": "password"}).status_code == 302
    return browser


def copy_of(browser: FormClient) -> FormClient:
    """Another browser holding the same session cookie, as one copied from a shared machine or a log."""
    thief = FormClient()
    thief.cookies[django_settings.SESSION_COOKIE_NAME] = browser.cookies[django_settings.SESSION_COOKIE_NAME].value
    return thief


def reaches_the_admin(browser: FormClient) -> bool:
    return browser.get("/admin/").status_code == 200


def test_a_login_keeps_a_row_and_its_session_reaches_the_admin(staff, admin_user):
    assert reaches_the_admin(staff)
    login = StaffLogin.objects.get()
    assert login.user == admin_user
    assert login.ends_at - login.started_at == timedelta(seconds=django_settings.ADMIN_SESSION_SECONDS)


def test_the_session_key_is_stored_as_its_digest_alone(staff):
    key = staff.session["staff_login"]
    digests = list(StaffLogin.objects.values_list("key_digest", flat=True))

    assert digests == [key_digest(key)]
    assert key not in digests


def test_after_a_logout_a_copy_of_the_cookie_no_longer_reaches_the_admin(staff):
    thief = copy_of(staff)
    assert reaches_the_admin(thief)

    assert staff.post("/admin/logout/").status_code == 200

    assert not StaffLogin.objects.exists()
    answer = thief.get("/admin/")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/admin/login/")


def test_an_operator_deleting_the_row_logs_that_session_out_and_no_other(staff, admin_user):
    other = FormClient()
    other.force_login(admin_user)

    StaffLogin.objects.exclude(pk=StaffLogin.objects.latest("pk").pk).delete()

    assert not reaches_the_admin(staff)
    assert reaches_the_admin(other)


def test_a_login_past_its_end_is_logged_out(staff):
    StaffLogin.objects.update(ends_at=timezone.now() - timedelta(seconds=1))

    assert not reaches_the_admin(staff)


def test_a_new_login_removes_the_rows_of_ended_ones(staff, admin_user):
    StaffLogin.objects.update(ends_at=timezone.now() - timedelta(seconds=1))

    FormClient().force_login(admin_user)

    assert StaffLogin.objects.count() == 1
    assert StaffLogin.objects.get().ends_at > timezone.now()


def test_a_login_the_database_cannot_check_is_answered_as_a_visitor_and_kept(staff):
    with mock.patch("submissions.staff_logins.staff_login_is_current", side_effect=DatabaseError("down")):
        answer = staff.get("/admin/")

    assert answer.status_code == 302
    assert reaches_the_admin(staff)


def test_the_admin_lists_running_logins_and_deleting_one_ends_it(staff, admin_user):
    operator = FormClient()
    operator.force_login(admin_user)
    staffs_login = StaffLogin.objects.earliest("pk")

    listing = operator.get("/admin/submissions/stafflogin/")
    deleted = operator.post(f"/admin/submissions/stafflogin/{staffs_login.pk}/delete/", {"post": "yes"})

    assert listing.status_code == 200
    assert len(listing.context["cl"].result_list) == 2
    assert deleted.status_code == 302
    assert not reaches_the_admin(staff)
    assert reaches_the_admin(operator)


def test_a_second_login_in_the_same_browser_ends_the_first(staff):
    first_login = copy_of(staff)

    assert staff.post(LOGIN_URL, {"username": "admin", "password": "password"}).status_code == 302
    staff.post("/admin/logout/")

    assert not StaffLogin.objects.exists()
    assert not reaches_the_admin(first_login)


@pytest.mark.parametrize("fault", [DatabaseError("down"), WriteLockTimeout("busy")])
def test_a_logout_the_database_cannot_record_still_logs_this_browser_out(staff, fault):
    with mock.patch("submissions.staff_logins.queued_writer", side_effect=fault):
        answer = staff.post("/admin/logout/")

    assert answer.status_code == 200
    assert not reaches_the_admin(staff)


@pytest.mark.parametrize("fault", [DatabaseError("down"), WriteLockTimeout("busy")])
def test_a_login_the_database_cannot_record_is_refused_with_the_reason(admin_user, fault):
    browser = FormClient()
    with mock.patch("submissions.staff_logins.queued_writer", side_effect=fault):
        logged_in = browser.post(LOGIN_URL, {"username": "admin", "password": "password"}, follow=True)

    assert logged_in.status_code == 200
    assert logged_in.request["PATH_INFO"] == "/admin/login/"
    assert "The login could not be recorded" in logged_in.content.decode()
    assert not StaffLogin.objects.exists()
