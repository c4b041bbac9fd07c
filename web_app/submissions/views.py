from django.conf import settings
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from . import services
from .forms import SubmissionForm
from .models import Submission

RECENT_SUBMISSIONS = 10


@require_http_methods(["GET", "POST"])
def submission_form(request):
    """The form; a valid post sends the task, waits for it, and redirects to its page."""
    form = SubmissionForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            return render_form(request, form, status=400)
        try:
            submission, result = services.submit(**form.cleaned_data)
        except services.BrokerUnavailable:
            return render_form(request, form, status=503, unavailable="broker")
        except services.BackendUnavailable:
            return render_form(request, form, status=503, unavailable="backend")
        services.refresh(submission, timeout=settings.RESULT_TIMEOUT, result=result)
        return redirect(submission)
    return render_form(request, form)


def render_form(request, form, status=200, unavailable=None):
    context = {
        "form": form,
        "unavailable": unavailable,
        "recent": Submission.objects.all()[:RECENT_SUBMISSIONS],
    }
    return render(request, "submissions/form.html", context, status=status)


@require_http_methods(["GET"])
def submission_detail(request, pk):
    """A submission's page; while pending, each view checks once whether its result has come."""
    submission = services.refresh(get_object_or_404(Submission, pk=pk))
    return render(request, "submissions/detail.html", {"submission": submission})
