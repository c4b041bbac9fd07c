from datetime import timedelta

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from . import health, selectors, services
from .forms import SubmissionForm, posted_data
from .models import Submission


@require_http_methods(["GET", "POST"])
def submission_form(request):
    """The form; a valid post sends the task, waits for it, and redirects to its page."""
    form = SubmissionForm(posted_data(request))
    if request.method == "POST":
        if not form.is_valid():
            return render_form(request, form, status=400)
        try:
            submission, result = services.submit(**form.cleaned_data)
        except services.BrokerUnavailable:
            return render_form(request, form, status=503, unavailable="broker")
        except services.BackendUnavailable:
            return render_form(request, form, status=503, unavailable="backend")
        except services.WriteLockTimeout:
            return render_form(request, form, status=503, unavailable="database")
        # With no worker answering, the wait could only end in the pending page: show it at once.
        if no_worker_answering() is not True:
            services.refresh(submission, timeout=settings.RESULT_TIMEOUT, result=result)
        return redirect(submission)
    return render_form(request, form)


def no_worker_answering(recent=()) -> bool | None:
    """True when the last worker state says no worker answers, None before the first answer.

    A submission among `recent` finished since that state could have been asked
    is newer news of a worker than the state itself.
    """
    workers = health.cached_worker_state()
    if workers is None:
        return None
    since = timezone.now() - timedelta(seconds=settings.HEALTH_CACHE_SECONDS + settings.HEALTH_TIMEOUT)
    if any(submission.finished_at and submission.finished_at > since for submission in recent):
        return False
    return not workers.up


def render_form(request, form, status=200, unavailable=None):
    page = selectors.history_page(request.GET.get("page"))
    context = {
        "form": form,
        "unavailable": unavailable,
        "page": page,
        "recent": page.submissions,
        "no_worker_answering": no_worker_answering(page.submissions),
    }
    return render(request, "submissions/form.html", context, status=status)


@require_http_methods(["GET"])
def submission_detail(request, pk):
    """A submission's page; while pending, each view checks once whether its result has come."""
    submission = services.refresh(get_object_or_404(Submission, pk=pk))
    context = {
        "submission": submission,
        "status": selectors.submission_status(submission),
        "no_worker_answering": submission.is_pending and no_worker_answering(),
    }
    return render(request, "submissions/detail.html", context)


@never_cache
@require_http_methods(["GET"])
def submission_status(request, pk):
    """A submission's status as JSON, for its page's polling; records a late result like the page."""
    submission = services.refresh(get_object_or_404(Submission, pk=pk))
    return JsonResponse(selectors.submission_status(submission))


@never_cache
@require_http_methods(["GET"])
def healthz(request):
    """The broker's, the result backend's and the workers' state: 200 when all are up, else 503."""
    healthy, parts = health.check_all()
    return JsonResponse({"status": "ok" if healthy else "unavailable", **parts}, status=200 if healthy else 503)
