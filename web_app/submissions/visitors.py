"""Visitors: each browser session gets a random id, and sees only the submissions made with it."""

import uuid

VISITOR_SESSION_KEY = "visitor"


def visitor_id(request) -> str | None:
    """The id of the request's visitor; None for a session that has submitted nothing yet."""
    visitor = request.session.get(VISITOR_SESSION_KEY)
    return visitor if isinstance(visitor, str) and visitor else None


def visitor_id_ensure(request) -> str:
    """The request's visitor id, made now (and set in its session cookie) if it has none."""
    visitor = visitor_id(request)
    if visitor is None:
        visitor = uuid.uuid4().hex
        request.session[VISITOR_SESSION_KEY] = visitor
    return visitor
