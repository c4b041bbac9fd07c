"""Visitors: each browser session gets a random id, and sees only the submissions made with it.

The id is put in the session (its signed cookie) only once its first submission is saved:
a submission refused for a fault of the database gives no cookie.
"""

import uuid

VISITOR_SESSION_KEY = "visitor"


def visitor_id(request) -> str | None:
    """The id of the request's visitor; None for a session that has submitted nothing yet."""
    visitor = request.session.get(VISITOR_SESSION_KEY)
    return visitor if isinstance(visitor, str) and visitor else None


def visitor_id_or_new(request) -> str:
    """The request's visitor id, or a new one that visitor_remember keeps once it has a submission."""
    return visitor_id(request) or uuid.uuid4().hex


def visitor_remember(request, visitor: str) -> None:
    """Keep the visitor id in the request's session, which saves it only when it is new."""
    if visitor_id(request) != visitor:
        request.session[VISITOR_SESSION_KEY] = visitor
