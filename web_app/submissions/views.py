import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from . import clients, formatting, health, selectors, services
from .forms import posted_form
from .models import Submission
from .visitors import visitor_id, visitor_id_or_new, visitor_remember

logger = logging.getLogger(__name__)

# Seconds a client refused because the task queue is full is told to wait before trying again.
QUEUE_FULL_RETRY_AFTER = 60


@require_http_methods(["GET", "HEAD", "POST"])
def submission_form(request):
    """The form; a valid post sends the task, waits for it, and redirects to its page."""
    form = posted_form(request)
    if request.method == "POST":
        retry_after = clients.submission_retry_after(request)
        if retry_after is not None:
            return render_form(request, form, status=429, unavailable="rate", retry_after=retry_after)
        if not form.is_valid():
            return render_form(request, form, status=400)
        visitor = visitor_id_or_new(request)
        try:
            submission, result = services.submission_create(**form.cleaned_data, visitor=visitor)
        except services.QueueFull:
            return render_form(request, form, status=503, unavailable="queue-full", retry_after=QUEUE_FULL_RETRY_AFTER)
        except services.BrokerUnavailable:
            return render_form(request, form, status=503, unavailable="broker")
        except services.BackendUnavailable:
            return render_form(request, form, status=503, unavailable="backend")
        except services.SubmissionsBusy:
            return render_form(request, form, status=503, unavailable="busy")
        except services.WriteLockTimeout:
            return render_form(request, form, status=503, unavailable="database")
        except services.DatabaseUnwritable:
            return render_form(request, form, status=503, unavailable="database-unwritable")
        visitor_remember(request, visitor)
        # With no worker answering, the wait could only end in the pending page: show it at once.
        # What another web process learnt of the workers a moment ago is worth a short wait.
        if health.no_worker_answering(wait=settings.HEALTH_TIMEOUT) is not True:
            try:
                services.result_record(submission, timeout=settings.RESULT_TIMEOUT, result=result)
            except services.NotRecorded as exc:
                return render_not_recorded(request, submission, exc)
        return redirect(submission)
    return render_form(request, form)


def render_form(request, form, status=200, unavailable=None, retry_after=None):
    """The form page with the visitor's own history; a refusal says why, and when to try again."""
    page = selectors.history_page(visitor_id(request), request.GET.get("page"))
    context = {
        "form": form,
        "unavailable": unavailable,
        "retry_after": retry_after,
        "page": page,
        "recent": page.submissions,
        "no_worker_answering": health.no_worker_answering(page.submissions),
    }
    response = render(request, "submissions/form.html", context, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def render_not_recorded(request, submission, exc):
    """503: the result came, but the results file or the database would not take it.

    The page says which in general terms; the error itself, which can name tables, hosts
    or paths, goes to the log.
    """
    logger.warning("Result of %s not recorded yet: %s", submission.task_id, exc)
    context = {"submission": submission, "database": isinstance(exc.__cause__, DatabaseError)}
    return render(request, "submissions/not_recorded.html", context, status=503)


def submission_with_late_result(request, task_id) -> Submission:
    """The visitor's submission, its result recorded if it has come; a write that fails leaves it
    pending for the collector, and the page shows it pending. Another visitor's is a 404."""
    submission = selectors.visitor_submission(visitor_id(request), task_id)
    if submission is None:
        raise Http404("No such submission.")
    try:
        return services.result_record(submission)
    except services.NotRecorded:
        return submission


@require_safe
def submission_detail(request, task_id):
    """A submission's page; while pending, each view checks once whether its result has come."""
    submission = submission_with_late_result(request, task_id)
    context = {
        "submission": submission,
        "status": submission_status_payload(submission),
        "no_worker_answering": submission.is_pending and health.no_worker_answering(),
    }
    return render(request, "submissions/detail.html", context)


@never_cache
@require_safe
def submission_status(request, task_id):
    """A submission's status as JSON, for its page's polling; records a late result like the page."""
    return JsonResponse(submission_status_payload(submission_with_late_result(request, task_id)))


@never_cache
@require_safe
def healthz(request):
    """The broker's, the result backend's and the workers' state: 200 when all are up, else 503.

    Each part says up or down; why (which may name hosts, paths and workers) is in the log,
    and shown to a logged-in staff user. A caller without a session cookie costs no lookup.
    """
    healthy, parts = health.check_all(with_details=is_staff(request))
    return JsonResponse({"status": "ok" if healthy else "unavailable", **parts}, status=200 if healthy else 503)


def is_staff(request) -> bool:
    """Whether a logged-in staff user asks; not when the database that would say cannot be read."""
    try:
        return request.user.is_staff
    except DatabaseError:
        return False


def submission_status_payload(submission: Submission) -> dict:
    """What a submission's page shows, as JSON for its status endpoint; durations come formatted."""
    duration = submission.duration
    waiting = timezone.now() - submission.created_at if submission.is_pending else None
    return {
        "id": str(submission.task_id),
        "status": submission.status,
        "status_display": submission.status_label,
        "first": submission.first,
        "second": submission.second,
        # The result line is in the results file exactly when the submission is done.
        "result": submission.result if submission.status == Submission.Status.DONE else None,
        "error": submission.error if submission.status == Submission.Status.FAILED else None,
        "created_at": submission.created_at.isoformat(),
        "finished_at": submission.finished_at.isoformat() if submission.finished_at else None,
        "duration_seconds": duration.total_seconds() if duration is not None else None,
        "took": formatting.seconds(duration),
        "waiting_seconds": waiting.total_seconds() if waiting is not None else None,
        "waited": formatting.seconds(waiting),
    }
