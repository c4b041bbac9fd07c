"""Refuse request bodies the site never asks for, before anything reads them."""

from django.http import HttpResponse

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def has_body(request) -> bool:
    content_length = request.META.get("CONTENT_LENGTH") or "0"
    return content_length != "0" or "HTTP_TRANSFER_ENCODING" in request.META


def form_bodies_only(get_response):
    """Answer 415 to a body that is not an urlencoded form: a multipart file part never reaches the disk.

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
        return get_response(request)

    return middleware
