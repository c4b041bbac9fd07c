"""Admin logins the site keeps, so that a logout ends one at once.

Sessions are signed cookies, which the site cannot end: a copied cookie would stay as good as
the original until it expires. A login's session therefore holds a random key whose digest is a
StaffLogin row; a session whose row is gone (logged out, deleted by an operator, past its end)
is logged out on its next request. Visitors, who never log in, are not looked up.
"""

import hashlib
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from .locks import WriteLockTimeout, queued_writer
from .models import StaffLogin

logger = logging.getLogger(__name__)

STAFF_LOGIN_SESSION_KEY = "staff_login"


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def staff_login_start(sender, request, user, **kwargs) -> None:
    """On login (Django's user_logged_in): a row for this login, its key in the session, both ending
    ADMIN_SESSION_SECONDS from now. The row of a login this session held before (a second login in
    the same browser keeps the session) is removed, and so are those of logins already ended.

    When the row cannot be written the session gets no key: the next request logs it out, and
    the login page says why.
    """
    key = secrets.token_urlsafe(32)
    now = timezone.now()
    replaced = Q(ends_at__lte=now)
    if earlier := request.session.pop(STAFF_LOGIN_SESSION_KEY, None):
        replaced |= Q(key_digest=key_digest(earlier))
    try:
        with queued_writer(), transaction.atomic():
            StaffLogin.objects.filter(replaced).delete()
            StaffLogin.objects.create(
                key_digest=key_digest(key),
                user=user,
                started_at=now,
                ends_at=now + timedelta(seconds=settings.ADMIN_SESSION_SECONDS),
            )
    except (DatabaseError, WriteLockTimeout) as exc:
        logger.warning("Could not record a login of %s: %s", user, exc)
        messages.error(request, "The login could not be recorded, as the database is busy or down. Try again.")
        return
    request.session[STAFF_LOGIN_SESSION_KEY] = key
    # A timedelta, not seconds: an end fixed at the login, which later requests do not push back.
    request.session.set_expiry(timedelta(seconds=settings.ADMIN_SESSION_SECONDS))


def staff_login_end(sender, request, user, **kwargs) -> None:
    """On logout (Django's user_logged_out): the login's row removed, so no copy of the cookie works.

    When the database cannot remove it, this browser is logged out all the same, and a copy of
    its cookie works until the login's end (ADMIN_SESSION_SECONDS after it), as logged.
    """
    key = request.session.get(STAFF_LOGIN_SESSION_KEY) if request is not None else None
    if not key:
        return
    try:
        with queued_writer(), transaction.atomic():
            StaffLogin.objects.filter(key_digest=key_digest(key)).delete()
    except (DatabaseError, WriteLockTimeout) as exc:
        logger.error("Could not end a login of %s at logout; a copy of its cookie works until its end: %s", user, exc)


def staff_login_is_current(request) -> bool:
    """Whether the logged-in session's login still has its row, for its user, before its end."""
    key = request.session.get(STAFF_LOGIN_SESSION_KEY)
    return (
        bool(key)
        and StaffLogin.objects.filter(
            key_digest=key_digest(key), user_id=request.user.pk, ends_at__gt=timezone.now()
        ).exists()
    )


def current_staff_logins_only(get_response):
    """Log out a session whose login has ended; one that cannot be checked (the database down) is
    treated as anonymous for this request, and kept."""

    def middleware(request):
        try:
            if request.user.is_authenticated and not staff_login_is_current(request):
                # Its row is gone already: nothing for the logout to remove.
                request.session.pop(STAFF_LOGIN_SESSION_KEY, None)
                logout(request)
        except DatabaseError as exc:
            logger.warning("Could not check a login, answering as to a visitor: %s", exc)
            request.user = AnonymousUser()
        return get_response(request)

    return middleware
