import fcntl
import multiprocessing
import threading
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import Client

from submissions.visitors import VISITOR_SESSION_KEY

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# The visitor of the `client` fixture's session: the submissions a test makes for it carry this.
VISITOR = "0" * 31 + "1"


class FormClient(Client):
    """Django's test client, posting fields urlencoded as a browser posts the site's forms, not multipart."""

    # django-stubs types RequestFactory.post apart from Client.post (which adds follow); this matches Client's.
    def post(  # type: ignore[override]
        self,
        path,
        data=None,
        content_type=FORM_CONTENT_TYPE,
        follow=False,
        secure=False,
        *,
        headers=None,
        query_params=None,
        **extra,
    ):
        if content_type == FORM_CONTENT_TYPE and isinstance(data, dict):
            data = urlencode(data, doseq=True)
        return super().post(
            path,
            data or "",
            content_type=content_type,
            follow=follow,
            secure=secure,
            headers=headers,
            query_params=query_params,
            **extra,
        )


@pytest.fixture(autouse=True)
def background_checks_end_with_their_test():
    """A page view's background health check must not outlive its test into the next one's patches."""
    yield
    for thread in threading.enumerate():
        if thread.name == "health-check":
            thread.join(10)


def visitor_client(visitor: str) -> FormClient:
    """A browser whose session cookie carries that visitor id, as the form's first submission sets it."""
    client = FormClient()
    session = SessionStore()
    session[VISITOR_SESSION_KEY] = visitor
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = str(session.session_key)
    return client


@pytest.fixture
def client(db):
    """A browser that is the visitor VISITOR (its session stored as a first submission stores it)."""
    return visitor_client(VISITOR)


@pytest.fixture
def admin_client(db, admin_user):
    """pytest-django's logged-in admin client, posting as a browser does."""
    client = FormClient()
    client.force_login(admin_user)
    return client


def hold_flock(path, held, release):
    with open(path, "a") as locked_file:
        fcntl.flock(locked_file, fcntl.LOCK_EX)
        held.set()
        release.wait(30)


@pytest.fixture
def lock_held_by_another_process(tmp_path):
    """A lock file that another process holds a flock on, and a function that makes it let go."""
    path = tmp_path / "writer-lock"
    held, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=hold_flock, args=(path, held, release))
    holder.start()
    assert held.wait(10), "the other process took the lock"

    def let_go():
        release.set()
        holder.join(10)

    yield path, let_go
    let_go()
