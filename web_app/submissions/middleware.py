"""Refuse request bodies the site never asks for, or that do not arrive in time, before anything parses them."""

import gevent
from django.conf import settings
from django.http import HttpResponse
from gevent import monkey

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def has_body(request) -> bool:
    content_length = request.META.get("CONTENT_LENGTH") or "0"
    return content_length != "0" or "HTTP_TRANSFER_ENCODING" in request.META


def form_bodies_only(get_response):
    """Answer 415 to a body that is not an urlencoded form: a multipart file part never reaches the disk;
    408 to a form body that does not arrive within REQUEST_BODY_TIMEOUT.

    Every form of the site, the admin's included, posts urlencoded fields, whose size
    DATA_UPLOAD_MAX_MEMORY_SIZE bounds; Django spools the file parts of a multipart body
    to a temporary file as soon as request.POST is read (by CsrfViewMiddleware, before any
    view), whatever their size. So this runs before CsrfViewMiddleware.
    """

    def middleware(request):
        if has_body(request) and request.content_type != FORM_CONTENT_TYPE:
            return HttpResponse(
                f"Unsupported content type {request.content_type or '(none)'!r}: "
                f"this site accepts only form posts ({FORM_CONTENT_TYPE}), and no file uploads.\n",
                status=415,
                content_type="text/plain; charset=utf-8",
            )
        if has_body(request) and not body_read_in_time(request):
            return HttpResponse(
                f"The request's body did not arrive within {settings.REQUEST_BODY_TIMEOUT:g} seconds.\n",
                status=408,
                content_type="text/plain; charset=utf-8",
            )
        return get_response(request)

    return middleware


def body_read_in_time(request) -> bool:
    """Read the body (at most DATA_UPLOAD_MAX_MEMORY_SIZE) within REQUEST_BODY_TIMEOUT; False when it did not come.

    gunicorn's gevent worker gives a client `keepalive` seconds for a request's headers and no
    bound for its body, so one that announces a Content-Length and never sends it would hold its
    connection as long as it stays. The timeout works where reads yield to gevent's loop: under
    gunicorn's other workers (gthread, meant behind a buffering proxy, which bounds the body
    itself) and in Django's test client the body is left to be read as before.
    """
    if not monkey.is_module_patched("socket"):
        return True
    with gevent.Timeout(settings.REQUEST_BODY_TIMEOUT) as timeout:
        try:
            request.body  # noqa: B018  (read once here; Django keeps it for request.POST)
        except gevent.Timeout as exc:
            if exc is not timeout:
                raise
            return False
    return True
